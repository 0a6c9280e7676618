//! The metadata layer: one transactional, ordered key-value interface over byte strings (keys
//! sorted bytewise). Everything above it (S3 semantics) is written once against [`MetaKv`].
//!
//! Backends: [`RedbKv`] (embedded, durable, the default) and [`MemKv`] (in memory, for tests of
//! upper layers). Both pass the same test suite.
//!
//! The contract, written for a network database as much as for the embedded one:
//! - Reads are asynchronous ([`ReadOps`] returns futures), so a backend that talks to a server
//!   serves them without blocking the caller's thread; the embedded backends answer them
//!   at once (their futures are ready when returned).
//! - A write is a *job*: a function from a transaction to a future of its result, run by
//!   [`write`]. A job may run more than once: a backend that detects a conflict with a
//!   concurrent transaction (a serialization failure) reports [`MetaError::Conflict`] and
//!   `write` runs the job again on a fresh transaction, up to [`MAX_ATTEMPTS`] times. So a job
//!   is `Fn`, takes what it needs afresh on each run and has no effects outside the
//!   transaction. It reads rows it will change with [`WriteOps::get_for_update`].
//! - A job that fails leaves nothing; `write` resolves only once the commit carrying a job's
//!   writes is durable.
//!
//! The embedded backends run jobs through a group committer: concurrent jobs run one after
//! another inside one backend transaction made durable by one commit (one fsync for redb).
//! Each job runs over its own overlay, so a job that fails leaves nothing behind while the rest
//! of its batch commits.

#![warn(missing_docs)]

use std::collections::BTreeMap;
use std::future::Future;
use std::ops::Bound;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use futures_util::FutureExt;

mod redb_kv;
pub use redb_kv::{ReadOnlyRedb, RedbKv};

/// Why a metadata operation failed.
#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    /// The backend reported an error.
    #[error("metadata backend: {0}")]
    Backend(String),
    /// The store was shut down.
    #[error("metadata store is closed")]
    Closed,
    /// A job panicked; its writes were discarded.
    #[error("metadata job panicked")]
    Panicked,
    /// The transaction conflicted with a concurrent one and may succeed if run again
    /// ([`write`] does so).
    #[error("transaction conflicted with a concurrent one")]
    Conflict,
    /// A job waited for something other than the store's own reads.
    #[error("metadata job did not complete")]
    Stalled,
    /// The store was opened for reads only.
    #[error("the metadata store is open for reads only")]
    ReadOnly,
    /// The store was not closed cleanly and must be recovered (by a read-write open) first.
    #[error("{0} was not closed cleanly and must be recovered before it can be read")]
    NeedsRecovery(std::path::PathBuf),
    /// Another process holds the store open.
    #[error("{0} is already in use by another ksan process (or another program)")]
    InUse(std::path::PathBuf),
    /// A file-system error.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
}

/// Key-value pairs returned by a range read.
pub type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// A boxed, sendable future: what the read calls of [`ReadOps`] and write jobs return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
/// What a point read gives.
pub type GetFuture<'a> = BoxFuture<'a, Result<Option<Vec<u8>>, MetaError>>;
/// What a range read gives.
pub type RangeFuture<'a> = BoxFuture<'a, Result<Entries, MetaError>>;

/// Reads, in a snapshot or in a write transaction.
pub trait ReadOps: Send + Sync {
    /// The value stored under `key`.
    fn get<'a>(&'a self, key: &'a [u8]) -> GetFuture<'a>;
    /// Entries with start <= key < end, ascending (descending when `rev`), at most `limit`.
    fn range<'a>(&'a self, start: &'a [u8], end: &'a [u8], limit: usize, rev: bool) -> RangeFuture<'a>;
}

/// A write transaction: reads see the transaction's own writes.
pub trait WriteOps: ReadOps {
    /// Read a row the transaction means to change. A network backend locks it (`SELECT ... FOR
    /// UPDATE`) so that a concurrent writer waits instead of both committing; the embedded
    /// backends, whose writers are serial already, read it as `get` does.
    fn get_for_update<'a>(&'a self, key: &'a [u8]) -> GetFuture<'a> {
        self.get(key)
    }
    /// Store `value` under `key`.
    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), MetaError>;
    /// Remove `key` (a missing key is fine).
    fn delete(&mut self, key: &[u8]) -> Result<(), MetaError>;
}

/// A consistent read snapshot.
pub type Snapshot = Box<dyn ReadOps>;

/// What a job reports back to the committer: keep its writes or not, and a callback that gets
/// the outcome of the commit.
pub struct JobOutcome {
    /// Apply the job's writes (false: it failed, drop them).
    pub keep: bool,
    /// Told whether the commit carrying the job's writes succeeded.
    pub on_commit: CommitCallback,
}

/// One run of a job, as a backend receives it.
pub type WriteJob = Box<dyn for<'a> FnOnce(&'a mut dyn WriteOps) -> BoxFuture<'a, JobOutcome> + Send>;

/// Told the outcome of the commit that carried a job.
pub type CommitCallback = Box<dyn FnOnce(Result<(), MetaError>) + Send>;

/// The metadata store.
#[async_trait::async_trait]
pub trait MetaKv: Send + Sync + 'static {
    /// A consistent read snapshot (does not block writers).
    async fn read(&self) -> Result<Snapshot, MetaError>;
    /// Run one attempt of a job in a transaction; its callback tells the outcome.
    async fn submit(&self, job: WriteJob) -> Result<(), MetaError>;
}

/// How many times [`write`] runs a job whose transaction conflicts before giving up.
pub const MAX_ATTEMPTS: u32 = 8;

/// What one run of a job came to.
enum Attempt<T, E> {
    Done(T),
    Failed(E),
    Meta(MetaError),
}

/// Run the job `f` in a write transaction; resolves once the commit containing its writes is
/// durable. If `f` fails, none of its writes persist. On a conflict `f` runs again (see the
/// crate documentation).
pub async fn write<T, E, F>(kv: &dyn MetaKv, f: F) -> Result<T, E>
where
    F: for<'a> Fn(&'a mut dyn WriteOps) -> BoxFuture<'a, Result<T, E>> + Send + Sync + 'static,
    T: Send + 'static,
    E: From<MetaError> + Send + 'static,
{
    let f = Arc::new(f);
    let mut attempt = 1;
    loop {
        let (tx, rx) = tokio::sync::oneshot::channel::<Attempt<T, E>>();
        let run = f.clone();
        let job: WriteJob = Box::new(move |ops| {
            Box::pin(async move {
                match run(ops).await {
                    Ok(value) => JobOutcome {
                        keep: true,
                        on_commit: Box::new(move |committed| {
                            let _ = tx.send(match committed {
                                Ok(()) => Attempt::Done(value),
                                Err(e) => Attempt::Meta(e),
                            });
                        }),
                    },
                    Err(e) => JobOutcome {
                        keep: false,
                        on_commit: Box::new(move |_| {
                            let _ = tx.send(Attempt::Failed(e));
                        }),
                    },
                }
            })
        });
        kv.submit(job).await.map_err(E::from)?;
        match rx.await {
            Ok(Attempt::Done(value)) => return Ok(value),
            Ok(Attempt::Failed(e)) => return Err(e),
            Ok(Attempt::Meta(MetaError::Conflict)) if attempt < MAX_ATTEMPTS => {
                tracing::debug!(attempt, "metadata transaction conflicted; running the job again");
                attempt += 1;
            }
            Ok(Attempt::Meta(e)) => return Err(E::from(e)),
            Err(_) => return Err(E::from(MetaError::Closed)),
        }
    }
}

/// The smallest key greater than every key that starts with `prefix`. For a prefix of only
/// 0xFF bytes (or an empty one) there is none: the returned `[0xFF; 64]` sorts after every key
/// this project writes (keys start with an ASCII table tag).
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xFF {
            end.push(last + 1);
            return end;
        }
    }
    vec![0xFF; 64]
}

/// Reads of an embedded backend, which complete at once: they answer [`ReadOps`] with
/// ready futures.
pub(crate) trait SyncRead: Send + Sync {
    fn get_now(&self, key: &[u8]) -> Result<Option<Vec<u8>>, MetaError>;
    fn range_now(&self, start: &[u8], end: &[u8], limit: usize, rev: bool) -> Result<Entries, MetaError>;
}

impl<T: SyncRead> ReadOps for T {
    fn get<'a>(&'a self, key: &'a [u8]) -> GetFuture<'a> {
        Box::pin(std::future::ready(self.get_now(key)))
    }

    fn range<'a>(&'a self, start: &'a [u8], end: &'a [u8], limit: usize, rev: bool) -> RangeFuture<'a> {
        Box::pin(std::future::ready(self.range_now(start, end, limit, rev)))
    }
}

/// The transaction of an embedded backend.
pub(crate) trait SyncOps: SyncRead {
    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), MetaError>;
    fn delete(&mut self, key: &[u8]) -> Result<(), MetaError>;
}

/// Writes of one job, in front of the batch's transaction.
type Overlay = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// A job's view: its own overlay over the transaction state.
struct OverlayOps<'a> {
    base: &'a mut dyn SyncOps,
    overlay: Overlay,
}

impl SyncRead for OverlayOps<'_> {
    fn get_now(&self, key: &[u8]) -> Result<Option<Vec<u8>>, MetaError> {
        match self.overlay.get(key) {
            Some(v) => Ok(v.clone()),
            None => self.base.get_now(key),
        }
    }

    fn range_now(&self, start: &[u8], end: &[u8], limit: usize, rev: bool) -> Result<Entries, MetaError> {
        if start >= end || limit == 0 {
            return Ok(Vec::new());
        }
        let bounds = (Bound::Included(start.to_vec()), Bound::Excluded(end.to_vec()));
        let pending: Vec<(&Vec<u8>, &Option<Vec<u8>>)> = if rev {
            self.overlay.range(bounds).rev().collect()
        } else {
            self.overlay.range(bounds).collect()
        };
        // Base rows hidden or replaced by the overlay may use up part of the limit: ask for
        // as many more as the overlay could hide.
        let base = self
            .base
            .range_now(start, end, limit.saturating_add(pending.len()), rev)?;
        let mut out = Vec::with_capacity(limit.min(base.len() + pending.len()));
        let (mut bi, mut pi) = (0, 0);
        while out.len() < limit && (bi < base.len() || pi < pending.len()) {
            let take_pending = match (base.get(bi), pending.get(pi)) {
                (Some((bk, _)), Some((pk, _))) => {
                    let ord = bk.as_slice().cmp(pk.as_slice());
                    let ord = if rev { ord.reverse() } else { ord };
                    match ord {
                        std::cmp::Ordering::Less => false,
                        std::cmp::Ordering::Greater => true,
                        std::cmp::Ordering::Equal => {
                            bi += 1; // the overlay replaces the base row
                            true
                        }
                    }
                }
                (None, Some(_)) => true,
                (Some(_), None) => false,
                (None, None) => break,
            };
            if take_pending {
                let (k, v) = pending[pi];
                pi += 1;
                if let Some(v) = v {
                    out.push((k.clone(), v.clone()));
                }
            } else {
                out.push(base[bi].clone());
                bi += 1;
            }
        }
        Ok(out)
    }
}

impl WriteOps for OverlayOps<'_> {
    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), MetaError> {
        self.overlay.insert(key.to_vec(), Some(value.to_vec()));
        Ok(())
    }
    fn delete(&mut self, key: &[u8]) -> Result<(), MetaError> {
        self.overlay.insert(key.to_vec(), None);
        Ok(())
    }
}

/// Run one job over its own overlay; apply the overlay if the job keeps its writes. A job
/// that panics, or that waits on anything but its (immediate) reads, counts as a failed one.
fn run_job(base: &mut dyn SyncOps, job: WriteJob) -> CommitCallback {
    let mut ops = OverlayOps {
        base,
        overlay: Overlay::new(),
    };
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| job(&mut ops).now_or_never()));
    match outcome {
        Ok(Some(JobOutcome { keep, on_commit })) => {
            if keep {
                let OverlayOps { base, overlay } = ops;
                for (k, v) in overlay {
                    let applied = match v {
                        Some(v) => base.put(&k, &v),
                        None => base.delete(&k),
                    };
                    if let Err(e) = applied {
                        tracing::error!(error = %e, "applying a job's writes failed");
                        return Box::new(move |_| on_commit(Err(e)));
                    }
                }
                on_commit
            } else {
                Box::new(move |_| on_commit(Ok(())))
            }
        }
        Ok(None) => {
            tracing::error!("a metadata job did not complete at once; its writes are discarded");
            Box::new(|_| {})
        }
        Err(_) => {
            tracing::error!("a metadata job panicked; its writes are discarded");
            Box::new(|_| {})
        }
    }
}

/// In-memory backend for tests: same semantics, no durability.
#[derive(Default)]
pub struct MemKv {
    data: Arc<Mutex<BTreeMap<Vec<u8>, Vec<u8>>>>,
    /// Commits still to be failed with [`MetaError::Conflict`] (tests of retries).
    conflicts: AtomicU32,
    commits: AtomicU64,
}

impl MemKv {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Make the next `n` commits fail with [`MetaError::Conflict`], as a network backend's do
    /// when a concurrent transaction got there first.
    pub fn inject_conflicts(&self, n: u32) {
        self.conflicts.store(n, Ordering::SeqCst);
    }

    /// Commits made so far (each carrying one job).
    pub fn commit_count(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }
}

struct MemSnapshot(BTreeMap<Vec<u8>, Vec<u8>>);

fn map_range(map: &BTreeMap<Vec<u8>, Vec<u8>>, start: &[u8], end: &[u8], limit: usize, rev: bool) -> Entries {
    if start >= end {
        return Vec::new();
    }
    let r = map.range::<[u8], _>((Bound::Included(start), Bound::Excluded(end)));
    let clone = |(k, v): (&Vec<u8>, &Vec<u8>)| (k.clone(), v.clone());
    if rev {
        r.rev().take(limit).map(clone).collect()
    } else {
        r.take(limit).map(clone).collect()
    }
}

impl SyncRead for MemSnapshot {
    fn get_now(&self, key: &[u8]) -> Result<Option<Vec<u8>>, MetaError> {
        Ok(self.0.get(key).cloned())
    }
    fn range_now(&self, start: &[u8], end: &[u8], limit: usize, rev: bool) -> Result<Entries, MetaError> {
        Ok(map_range(&self.0, start, end, limit, rev))
    }
}

struct MemTxn<'a>(&'a mut BTreeMap<Vec<u8>, Vec<u8>>);

impl SyncRead for MemTxn<'_> {
    fn get_now(&self, key: &[u8]) -> Result<Option<Vec<u8>>, MetaError> {
        Ok(self.0.get(key).cloned())
    }
    fn range_now(&self, start: &[u8], end: &[u8], limit: usize, rev: bool) -> Result<Entries, MetaError> {
        Ok(map_range(self.0, start, end, limit, rev))
    }
}

impl SyncOps for MemTxn<'_> {
    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), MetaError> {
        self.0.insert(key.to_vec(), value.to_vec());
        Ok(())
    }
    fn delete(&mut self, key: &[u8]) -> Result<(), MetaError> {
        self.0.remove(key);
        Ok(())
    }
}

#[async_trait::async_trait]
impl MetaKv for MemKv {
    async fn read(&self) -> Result<Snapshot, MetaError> {
        let map = self.data.lock().map_err(|_| MetaError::Backend("poisoned".into()))?;
        Ok(Box::new(MemSnapshot(map.clone())))
    }

    async fn submit(&self, job: WriteJob) -> Result<(), MetaError> {
        let conflict = self
            .conflicts
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        let done = {
            let mut map = self.data.lock().map_err(|_| MetaError::Backend("poisoned".into()))?;
            if conflict {
                // The job runs, but against a copy that is thrown away.
                let mut scratch = map.clone();
                run_job(&mut MemTxn(&mut scratch), job)
            } else {
                run_job(&mut MemTxn(&mut map), job)
            }
        };
        self.commits.fetch_add(1, Ordering::Relaxed);
        done(if conflict { Err(MetaError::Conflict) } else { Ok(()) });
        Ok(())
    }
}

/// The committer loop shared by durable backends: take the first job, drain what else is
/// queued (up to `max_batch`), run them all in one transaction, commit once, answer all.
pub(crate) fn committer_loop<B: BatchBackend>(
    backend: B,
    rx: mpsc::Receiver<WriteJob>,
    max_batch: usize,
    commits: Arc<AtomicU64>,
) {
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        while jobs.len() < max_batch {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        let result = backend.run_batch(jobs);
        commits.fetch_add(1, Ordering::Relaxed);
        let (callbacks, committed) = result;
        for cb in callbacks {
            let outcome = match &committed {
                Ok(()) => Ok(()),
                Err(e) => Err(MetaError::Backend(e.to_string())),
            };
            cb(outcome);
        }
    }
}

/// A backend that can run a batch of jobs in one transaction.
pub(crate) trait BatchBackend {
    /// Run the jobs in one transaction and commit it: the jobs' callbacks and the commit result.
    fn run_batch(&self, jobs: Vec<WriteJob>) -> (Vec<CommitCallback>, Result<(), MetaError>);
}

#[cfg(test)]
mod tests;
