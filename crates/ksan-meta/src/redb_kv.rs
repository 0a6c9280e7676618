//! The embedded default backend: one redb table of bytes -> bytes, durable commits, MVCC
//! reads, and a dedicated committer thread that groups concurrent writes into one commit.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use crate::{BatchBackend, Entries, MetaError, MetaKv, Snapshot, SyncOps, SyncRead, WriteJob, committer_loop, run_job};

const TABLE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("kv");
/// redb's page cache (its default is 1 GiB); hot metadata fits, the OS page cache does the rest.
const CACHE_BYTES: usize = 256 * 1024 * 1024;
/// Most jobs one commit carries.
const MAX_BATCH: usize = 512;

fn backend<E: std::fmt::Display>(e: E) -> MetaError {
    MetaError::Backend(e.to_string())
}

/// The embedded backend: one redb file, one committer thread.
pub struct RedbKv {
    db: Arc<Database>,
    jobs: mpsc::Sender<WriteJob>,
    commits: Arc<AtomicU64>,
    repaired: bool,
}

/// A redb database opened for reads only (see [`RedbKv::open_read_only`]).
pub struct ReadOnlyRedb {
    db: redb::ReadOnlyDatabase,
}

#[async_trait::async_trait]
impl MetaKv for ReadOnlyRedb {
    async fn read(&self) -> Result<Snapshot, MetaError> {
        let txn = self.db.begin_read().map_err(backend)?;
        let table = txn.open_table(TABLE).map_err(backend)?;
        Ok(Box::new(RedbSnapshot { table }))
    }

    async fn submit(&self, _job: WriteJob) -> Result<(), MetaError> {
        Err(MetaError::ReadOnly)
    }
}

impl RedbKv {
    /// Open (or create) the database file at `path`.
    pub fn open(path: &Path) -> Result<Self, MetaError> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let repaired = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = repaired.clone();
        let db = Arc::new(
            Database::builder()
                .set_cache_size(CACHE_BYTES)
                .set_repair_callback(move |_| flag.store(true, Ordering::Relaxed))
                .create(path)
                .map_err(|e| match e {
                    redb::DatabaseError::DatabaseAlreadyOpen => MetaError::InUse(path.to_path_buf()),
                    other => MetaError::Backend(format!("{}: {other}", path.display())),
                })?,
        );
        let txn = db.begin_write().map_err(backend)?;
        txn.open_table(TABLE).map_err(backend)?;
        txn.commit().map_err(backend)?;
        let (tx, rx) = mpsc::channel();
        let commits = Arc::new(AtomicU64::new(0));
        let worker = Committer { db: db.clone() };
        let counter = commits.clone();
        std::thread::Builder::new()
            .name("ksan-meta-commit".into())
            .spawn(move || committer_loop(worker, rx, MAX_BATCH, counter))?;
        Ok(RedbKv {
            db,
            jobs: tx,
            commits,
            repaired: repaired.load(Ordering::Relaxed),
        })
    }

    /// Open an existing database for reads only (`ksan check`): nothing is created or
    /// changed, and writes fail.
    pub fn open_read_only(path: &Path) -> Result<ReadOnlyRedb, MetaError> {
        if !path.is_file() {
            return Err(MetaError::Io(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("{} does not exist", path.display()),
            )));
        }
        let db = redb::ReadOnlyDatabase::open(path).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => MetaError::InUse(path.to_path_buf()),
            redb::DatabaseError::RepairAborted => MetaError::NeedsRecovery(path.to_path_buf()),
            other => MetaError::Backend(format!("{}: {other}", path.display())),
        })?;
        Ok(ReadOnlyRedb { db })
    }

    /// Whether opening had to repair the file (the last run did not close it cleanly).
    pub fn was_repaired(&self) -> bool {
        self.repaired
    }

    /// Commits made so far (each carrying one or more jobs).
    pub fn commit_count(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }
}

struct Committer {
    db: Arc<Database>,
}

impl BatchBackend for Committer {
    fn run_batch(&self, jobs: Vec<WriteJob>) -> (Vec<crate::CommitCallback>, Result<(), MetaError>) {
        let txn = match self.db.begin_write() {
            Ok(t) => t,
            Err(e) => {
                let err = backend(e);
                // Nothing ran: every job is told the commit failed.
                let callbacks = jobs
                    .into_iter()
                    .map(|_| Box::new(|_| {}) as crate::CommitCallback)
                    .collect();
                return (callbacks, Err(err));
            }
        };
        let mut callbacks = Vec::with_capacity(jobs.len());
        {
            let mut table = match txn.open_table(TABLE) {
                Ok(t) => t,
                Err(e) => return (Vec::new(), Err(backend(e))),
            };
            let mut ops = TableOps { table: &mut table };
            for job in jobs {
                callbacks.push(run_job(&mut ops, job));
            }
        }
        let committed = txn.commit().map_err(backend);
        (callbacks, committed)
    }
}

/// The batch transaction's table as WriteOps.
struct TableOps<'a, 'txn> {
    table: &'a mut redb::Table<'txn, &'static [u8], &'static [u8]>,
}

fn collect_range<T: ReadableTable<&'static [u8], &'static [u8]>>(
    table: &T,
    start: &[u8],
    end: &[u8],
    limit: usize,
    rev: bool,
) -> Result<Entries, MetaError> {
    if start >= end || limit == 0 {
        return Ok(Vec::new());
    }
    let range = table.range::<&[u8]>(start..end).map_err(backend)?;
    let iter: Box<dyn Iterator<Item = _>> = if rev { Box::new(range.rev()) } else { Box::new(range) };
    let mut out = Vec::new();
    for item in iter.take(limit) {
        let (k, v) = item.map_err(backend)?;
        out.push((k.value().to_vec(), v.value().to_vec()));
    }
    Ok(out)
}

impl SyncRead for TableOps<'_, '_> {
    fn get_now(&self, key: &[u8]) -> Result<Option<Vec<u8>>, MetaError> {
        Ok(self.table.get(key).map_err(backend)?.map(|v| v.value().to_vec()))
    }
    fn range_now(&self, start: &[u8], end: &[u8], limit: usize, rev: bool) -> Result<Entries, MetaError> {
        collect_range(&*self.table, start, end, limit, rev)
    }
}

impl SyncOps for TableOps<'_, '_> {
    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), MetaError> {
        self.table.insert(key, value).map_err(backend)?;
        Ok(())
    }
    fn delete(&mut self, key: &[u8]) -> Result<(), MetaError> {
        self.table.remove(key).map_err(backend)?;
        Ok(())
    }
}

struct RedbSnapshot {
    table: redb::ReadOnlyTable<&'static [u8], &'static [u8]>,
}

/// Reads run inline: redb answers from its page cache or the OS's, without a network hop.
impl SyncRead for RedbSnapshot {
    fn get_now(&self, key: &[u8]) -> Result<Option<Vec<u8>>, MetaError> {
        Ok(self.table.get(key).map_err(backend)?.map(|v| v.value().to_vec()))
    }
    fn range_now(&self, start: &[u8], end: &[u8], limit: usize, rev: bool) -> Result<Entries, MetaError> {
        collect_range(&self.table, start, end, limit, rev)
    }
}

#[async_trait::async_trait]
impl MetaKv for RedbKv {
    async fn read(&self) -> Result<Snapshot, MetaError> {
        let txn = self.db.begin_read().map_err(backend)?;
        let table = txn.open_table(TABLE).map_err(backend)?;
        Ok(Box::new(RedbSnapshot { table }))
    }

    async fn submit(&self, job: WriteJob) -> Result<(), MetaError> {
        self.jobs.send(job).map_err(|_| MetaError::Closed)
    }
}
