//! The metadata layer: one transactional, ordered key-value interface over byte strings (keys
//! sorted bytewise). Everything above it (S3 semantics) is written once against [`MetaKv`].
//!
//! Backends: [`RedbKv`] (embedded, durable, the default) and [`MemKv`] (in memory, for tests of
//! upper layers). Both pass the same test suite.
//!
//! Writes go through a group committer: concurrent [`write`] calls are run one after another
//! inside one backend transaction and made durable by one commit (one fsync for redb), then
//! all of them are answered. Each job runs over its own overlay, so a job that fails leaves
//! nothing behind while the rest of its batch commits.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};

mod redb_kv;
pub use redb_kv::RedbKv;

#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    #[error("metadata backend: {0}")]
    Backend(String),
    #[error("metadata store is closed")]
    Closed,
    #[error("metadata job panicked")]
    Panicked,
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
}

/// Key-value pairs returned by a range read.
pub type Entries = Vec<(Vec<u8>, Vec<u8>)>;

pub trait ReadOps {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, MetaError>;
    /// Entries with start <= key < end, ascending (descending when `rev`), at most `limit`.
    fn range(&self, start: &[u8], end: &[u8], limit: usize, rev: bool) -> Result<Entries, MetaError>;
}

pub trait WriteOps: ReadOps {
    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), MetaError>;
    fn delete(&mut self, key: &[u8]) -> Result<(), MetaError>;
}

pub type Snapshot = Box<dyn ReadOps + Send + Sync>;

/// What a job reports back to the committer: keep its writes or not, and a callback that gets
/// the outcome of the commit.
pub struct JobOutcome {
    pub keep: bool,
    pub on_commit: CommitCallback,
}

/// A unit of work run by the committer.
pub type WriteJob = Box<dyn FnOnce(&mut dyn WriteOps) -> JobOutcome + Send>;

#[async_trait::async_trait]
pub trait MetaKv: Send + Sync + 'static {
    /// A consistent read snapshot (does not block writers).
    fn read(&self) -> Result<Snapshot, MetaError>;
    /// Queue a job for the group committer.
    async fn submit(&self, job: WriteJob) -> Result<(), MetaError>;
}

/// Run `f` in a write transaction; resolves once the commit containing its writes is durable.
/// If `f` fails, none of its writes persist.
pub async fn write<T, E, F>(kv: &dyn MetaKv, f: F) -> Result<T, E>
where
    F: FnOnce(&mut dyn WriteOps) -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: From<MetaError> + Send + 'static,
{
    let (tx, rx) = tokio::sync::oneshot::channel::<Result<T, E>>();
    let job: WriteJob = Box::new(move |ops| match f(ops) {
        Ok(value) => JobOutcome {
            keep: true,
            on_commit: Box::new(move |committed| {
                let _ = tx.send(committed.map(|()| value).map_err(E::from));
            }),
        },
        Err(e) => JobOutcome {
            keep: false,
            on_commit: Box::new(move |_| {
                let _ = tx.send(Err(e));
            }),
        },
    });
    kv.submit(job).await.map_err(E::from)?;
    match rx.await {
        Ok(result) => result,
        Err(_) => Err(E::from(MetaError::Closed)),
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

/// Writes of one job, in front of the batch's transaction.
type Overlay = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// A job's view: its own overlay over the transaction state.
struct OverlayOps<'a> {
    base: &'a mut dyn WriteOps,
    overlay: Overlay,
}

impl ReadOps for OverlayOps<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, MetaError> {
        match self.overlay.get(key) {
            Some(v) => Ok(v.clone()),
            None => self.base.get(key),
        }
    }

    fn range(&self, start: &[u8], end: &[u8], limit: usize, rev: bool) -> Result<Entries, MetaError> {
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
        let base = self.base.range(start, end, limit.saturating_add(pending.len()), rev)?;
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

/// Run one job over its own overlay; apply the overlay if the job keeps its writes.
/// A panicking job counts as a failed one.
fn run_job(base: &mut dyn WriteOps, job: WriteJob) -> CommitCallback {
    let mut ops = OverlayOps {
        base,
        overlay: Overlay::new(),
    };
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| job(&mut ops)));
    match outcome {
        Ok(JobOutcome { keep, on_commit }) => {
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
}

impl MemKv {
    pub fn new() -> Self {
        Self::default()
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

impl ReadOps for MemSnapshot {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, MetaError> {
        Ok(self.0.get(key).cloned())
    }
    fn range(&self, start: &[u8], end: &[u8], limit: usize, rev: bool) -> Result<Entries, MetaError> {
        Ok(map_range(&self.0, start, end, limit, rev))
    }
}

struct MemTxn<'a>(&'a mut BTreeMap<Vec<u8>, Vec<u8>>);

impl ReadOps for MemTxn<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, MetaError> {
        Ok(self.0.get(key).cloned())
    }
    fn range(&self, start: &[u8], end: &[u8], limit: usize, rev: bool) -> Result<Entries, MetaError> {
        Ok(map_range(self.0, start, end, limit, rev))
    }
}

impl WriteOps for MemTxn<'_> {
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
    fn read(&self) -> Result<Snapshot, MetaError> {
        let map = self.data.lock().map_err(|_| MetaError::Backend("poisoned".into()))?;
        Ok(Box::new(MemSnapshot(map.clone())))
    }

    async fn submit(&self, job: WriteJob) -> Result<(), MetaError> {
        let done = {
            let mut map = self.data.lock().map_err(|_| MetaError::Backend("poisoned".into()))?;
            run_job(&mut MemTxn(&mut map), job)
        };
        done(Ok(()));
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

/// Told the outcome of the commit that carried a job.
pub type CommitCallback = Box<dyn FnOnce(Result<(), MetaError>) + Send>;

#[cfg(test)]
mod tests;
