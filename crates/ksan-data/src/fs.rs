//! Blob files on a local filesystem: `<root>/blobs/ab/cd/<32 hex>`.

use std::collections::HashSet;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::{Bytes, BytesMut};
use ksan_types::{BodyStream, S3Error};
use tokio::task::JoinHandle;

use crate::{BlobId, BlobWriter, DataError, DataStore, Digests, Hashers};

/// Bytes gathered before one write on the blocking pool.
const WRITE_BATCH: usize = 1024 * 1024;
/// Read buffer sizes: the first read is small (fast first byte), later ones larger.
const FIRST_READ: usize = 256 * 1024;
const READ_BUF: usize = 1024 * 1024;
/// Blobs larger than this are dropped from the page cache after their fsync.
const FADVISE_OVER: u64 = 8 * 1024 * 1024;

/// Blob files under a root directory, in 65,536 fan-out folders.
pub struct FsDataStore {
    inner: Arc<Inner>,
}

struct Inner {
    root: PathBuf,
    /// Second-level fan-out folders known to exist (ab*256 + cd).
    made_dirs: Mutex<HashSet<u16>>,
}

impl FsDataStore {
    /// Where a blob's file is (tests that alter stored bytes).
    #[cfg(test)]
    pub(crate) fn path_of(&self, id: BlobId) -> PathBuf {
        self.inner.blob_path(&id)
    }
}

fn join_err(e: tokio::task::JoinError) -> DataError {
    DataError::Task(e.to_string())
}

fn sync_dir(path: &Path) -> std::io::Result<()> {
    File::open(path)?.sync_all()
}

impl Inner {
    fn blob_dir(&self, id: &BlobId) -> PathBuf {
        self.root
            .join(format!("{:02x}", id.0[0]))
            .join(format!("{:02x}", id.0[1]))
    }

    fn blob_path(&self, id: &BlobId) -> PathBuf {
        self.blob_dir(id).join(id.to_string())
    }

    /// Make sure the blob's folder exists (and is durable) before a file is created in it.
    fn ensure_dir(&self, id: &BlobId) -> std::io::Result<PathBuf> {
        let dir = self.blob_dir(id);
        let slot = u16::from_be_bytes([id.0[0], id.0[1]]);
        let known = self.made_dirs.lock().map(|s| s.contains(&slot)).unwrap_or(false);
        if !known {
            if !dir.is_dir() {
                std::fs::create_dir_all(&dir)?;
                if let Some(parent) = dir.parent() {
                    sync_dir(parent)?;
                }
            }
            if let Ok(mut s) = self.made_dirs.lock() {
                s.insert(slot);
            }
        }
        Ok(dir)
    }
}

impl FsDataStore {
    /// Open an existing blob store under `root` without creating or changing anything (for
    /// read-only checks).
    pub fn open_existing(root: &Path) -> Result<Self, DataError> {
        let root = root.join("blobs");
        if !root.is_dir() {
            return Err(DataError::Io(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("{} is not a ksan blob store", root.display()),
            )));
        }
        Ok(FsDataStore {
            inner: Arc::new(Inner {
                root,
                made_dirs: Mutex::new(HashSet::new()),
            }),
        })
    }

    /// Open (or create) a blob store under `root` (blobs go to `root/blobs`).
    pub fn open(root: &Path) -> Result<Self, DataError> {
        let root = root.join("blobs");
        for top in 0..=255u8 {
            std::fs::create_dir_all(root.join(format!("{top:02x}")))?;
        }
        sync_dir(&root)?;
        Ok(FsDataStore {
            inner: Arc::new(Inner {
                root,
                made_dirs: Mutex::new(HashSet::new()),
            }),
        })
    }
}

/// The file and the hashers travel together to the blocking pool and back.
struct WriteState {
    file: File,
    hashers: Hashers,
}

struct FsBlobWriter {
    id: BlobId,
    path: PathBuf,
    dir: PathBuf,
    state: Option<WriteState>,
    in_flight: Option<JoinHandle<std::io::Result<WriteState>>>,
    pending: Vec<Bytes>,
    pending_len: usize,
    size: u64,
    done: bool,
}

impl FsBlobWriter {
    /// Get the file back from the previous blocking write.
    async fn settle(&mut self) -> Result<(), DataError> {
        if let Some(task) = self.in_flight.take() {
            self.state = Some(task.await.map_err(join_err)??);
        }
        Ok(())
    }

    /// Hand the pending chunks to the blocking pool; do not wait for them.
    async fn launch(&mut self) -> Result<(), DataError> {
        self.settle().await?;
        let Some(mut state) = self.state.take() else {
            return Err(DataError::Task("writer lost its file".into()));
        };
        let batch = std::mem::take(&mut self.pending);
        self.pending_len = 0;
        self.in_flight = Some(tokio::task::spawn_blocking(move || {
            for chunk in &batch {
                state.hashers.update(chunk);
                state.file.write_all(chunk)?;
            }
            Ok(state)
        }));
        Ok(())
    }
}

#[async_trait::async_trait]
impl BlobWriter for FsBlobWriter {
    fn id(&self) -> BlobId {
        self.id
    }

    async fn write(&mut self, chunk: Bytes) -> Result<(), DataError> {
        if chunk.is_empty() {
            return Ok(());
        }
        self.size += chunk.len() as u64;
        self.pending_len += chunk.len();
        self.pending.push(chunk);
        if self.pending_len >= WRITE_BATCH {
            self.launch().await?;
        }
        Ok(())
    }

    async fn finish(mut self: Box<Self>) -> Result<(u64, Digests), DataError> {
        if !self.pending.is_empty() {
            self.launch().await?;
        }
        self.settle().await?;
        let Some(state) = self.state.take() else {
            return Err(DataError::Task("writer lost its file".into()));
        };
        let (dir, size) = (self.dir.clone(), self.size);
        let digests = tokio::task::spawn_blocking(move || -> std::io::Result<Digests> {
            state.file.sync_data()?;
            sync_dir(&dir)?;
            if size > FADVISE_OVER {
                drop_from_cache(&state.file);
            }
            Ok(state.hashers.finish())
        })
        .await
        .map_err(join_err)??;
        self.done = true;
        Ok((size, digests))
    }
}

impl Drop for FsBlobWriter {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        // An unfinished blob is never referenced: unlink it now (a write still in flight on
        // the blocking pool goes to the unlinked file). Done here rather than in a task, so
        // that a writer dropped as the process stops leaves nothing behind.
        if let Err(e) = std::fs::remove_file(&self.path)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %self.path.display(), error = %e, "could not remove an unfinished blob");
        }
    }
}

/// Tell the kernel the blob's pages need not stay cached (large uploads would evict hotter data).
fn drop_from_cache(file: &File) {
    use std::os::unix::io::AsRawFd;
    // SAFETY: posix_fadvise only reads the descriptor, which `file` keeps open for the call.
    let rc = unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
    if rc != 0 {
        tracing::debug!(rc, "posix_fadvise failed");
    }
}

fn read_stream(file: File, mut offset: u64, len: u64, id: BlobId) -> BodyStream {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, S3Error>>(2);
    tokio::task::spawn_blocking(move || {
        let end = offset + len;
        let mut size = FIRST_READ;
        while offset < end {
            let n = ((end - offset) as usize).min(size);
            let mut buf = BytesMut::zeroed(n);
            let result = file.read_exact_at(&mut buf, offset).map_err(|e| {
                tracing::error!(blob = %id, error = %e, "blob read failed");
                S3Error::internal(e)
            });
            let failed = result.is_err();
            let item = result.map(|()| buf.freeze());
            if tx.blocking_send(item).is_err() || failed {
                return; // the client went away, or the read failed and was reported
            }
            offset += n as u64;
            size = READ_BUF;
        }
    });
    Box::pin(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    }))
}

#[async_trait::async_trait]
impl DataStore for FsDataStore {
    async fn create(&self, hashers: Hashers) -> Result<Box<dyn BlobWriter>, DataError> {
        let inner = self.inner.clone();
        let (id, path, dir, file) = tokio::task::spawn_blocking(move || -> std::io::Result<_> {
            loop {
                let id = BlobId::random();
                let dir = inner.ensure_dir(&id)?;
                let path = dir.join(id.to_string());
                match std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&path)
                {
                    Ok(file) => return Ok((id, path, dir, file)),
                    // 128 random bits do not collide; but never overwrite a blob if they do.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                    Err(e) => return Err(e),
                }
            }
        })
        .await
        .map_err(join_err)??;
        Ok(Box::new(FsBlobWriter {
            id,
            path,
            dir,
            state: Some(WriteState { file, hashers }),
            in_flight: None,
            pending: Vec::new(),
            pending_len: 0,
            size: 0,
            done: false,
        }))
    }

    async fn read(&self, id: BlobId, offset: u64, len: u64) -> Result<BodyStream, DataError> {
        let path = self.inner.blob_path(&id);
        let file = tokio::task::spawn_blocking(move || -> Result<File, DataError> {
            let file = File::open(&path).map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => DataError::NotFound(id),
                _ => DataError::Io(e),
            })?;
            if file.metadata()?.len() < offset + len {
                return Err(DataError::Short(id));
            }
            Ok(file)
        })
        .await
        .map_err(join_err)??;
        Ok(read_stream(file, offset, len, id))
    }

    async fn delete(&self, id: BlobId) -> Result<(), DataError> {
        let path = self.inner.blob_path(&id);
        tokio::task::spawn_blocking(move || match std::fs::remove_file(path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(DataError::Io(e)),
        })
        .await
        .map_err(join_err)?
    }

    async fn size(&self, id: BlobId) -> Result<Option<u64>, DataError> {
        let path = self.inner.blob_path(&id);
        tokio::task::spawn_blocking(move || match std::fs::metadata(path) {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(DataError::Io(e)),
        })
        .await
        .map_err(join_err)?
    }

    async fn list_older_than(
        &self,
        min_age: Duration,
        after: Option<BlobId>,
        limit: usize,
    ) -> Result<Vec<BlobId>, DataError> {
        let root = self.inner.root.clone();
        tokio::task::spawn_blocking(move || -> Result<Vec<BlobId>, DataError> {
            let cutoff = SystemTime::now().checked_sub(min_age).unwrap_or(SystemTime::UNIX_EPOCH);
            let mut out = Vec::new();
            // Blob ids sort as their folders do (`ab/cd/abcd...`): walk from `after` on.
            let start = after.map_or(0u16, |a| u16::from_be_bytes([a.0[0], a.0[1]]));
            for slot in start..=u16::MAX {
                let [top, second] = slot.to_be_bytes();
                let dir = root.join(format!("{top:02x}")).join(format!("{second:02x}"));
                let entries = match std::fs::read_dir(&dir) {
                    Ok(e) => e,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e.into()),
                };
                let mut found: Vec<(BlobId, SystemTime)> = Vec::new();
                for entry in entries {
                    let entry = entry?;
                    let Ok(id) = entry.file_name().to_string_lossy().parse::<BlobId>() else {
                        continue;
                    };
                    if after.is_some_and(|a| id <= a) {
                        continue;
                    }
                    found.push((id, entry.metadata()?.modified()?));
                }
                found.sort();
                for (id, modified) in found {
                    if modified <= cutoff {
                        out.push(id);
                        if out.len() >= limit {
                            return Ok(out);
                        }
                    }
                }
            }
            Ok(out)
        })
        .await
        .map_err(join_err)?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;
    use ksan_types::ChecksumAlgorithm;

    fn pattern(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i % 251) as u8).collect()
    }

    async fn read_all(store: &FsDataStore, id: BlobId, off: u64, len: u64) -> Vec<u8> {
        let mut s = store.read(id, off, len).await.unwrap();
        let mut out = Vec::new();
        while let Some(c) = s.next().await {
            let c = c.unwrap();
            assert!(c.len() <= READ_BUF);
            out.extend_from_slice(&c);
        }
        out
    }

    #[tokio::test]
    async fn round_trips_with_any_chunking() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsDataStore::open(dir.path()).unwrap();
        for (size, chunk) in [
            (0, 1),
            (5, 1),
            (1 << 20, 4096),
            (5 * (1 << 20) + 3, 3 << 20),
            (3_000_001, 65_536),
        ] {
            let data = pattern(size);
            let mut w = store.create(Hashers::new(&[ChecksumAlgorithm::Crc32c])).await.unwrap();
            let id = w.id();
            for c in data.chunks(chunk) {
                w.write(Bytes::copy_from_slice(c)).await.unwrap();
            }
            let (n, digests) = w.finish().await.unwrap();
            assert_eq!(n, size as u64);
            let mut h = Hashers::new(&[ChecksumAlgorithm::Crc32c]);
            h.update(&data);
            assert_eq!(digests, h.finish());
            assert_eq!(read_all(&store, id, 0, size as u64).await, data);
            if size > 10 {
                let (off, len) = (size as u64 / 3, size as u64 / 2);
                assert_eq!(
                    read_all(&store, id, off, len).await,
                    &data[off as usize..(off + len) as usize]
                );
                assert_eq!(read_all(&store, id, size as u64 - 1, 1).await, &data[size - 1..]);
            }
        }
    }

    #[tokio::test]
    async fn missing_short_and_deleted_blobs() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsDataStore::open(dir.path()).unwrap();
        let mut w = store.create(Hashers::new(&[])).await.unwrap();
        let id = w.id();
        w.write(Bytes::from_static(b"abc")).await.unwrap();
        w.finish().await.unwrap();
        assert!(matches!(store.read(id, 2, 5).await, Err(DataError::Short(_))));
        store.delete(id).await.unwrap();
        store.delete(id).await.unwrap();
        assert!(matches!(store.read(id, 0, 1).await, Err(DataError::NotFound(_))));
    }

    #[tokio::test]
    async fn dropped_writer_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsDataStore::open(dir.path()).unwrap();
        let mut w = store.create(Hashers::new(&[])).await.unwrap();
        let id = w.id();
        w.write(Bytes::from(pattern(3 << 20))).await.unwrap();
        let path = store.inner.blob_path(&id);
        assert!(path.exists());
        drop(w);
        for _ in 0..100 {
            if !path.exists() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(!path.exists());
    }

    #[tokio::test]
    async fn lists_old_blobs() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsDataStore::open(dir.path()).unwrap();
        let mut ids = Vec::new();
        for _ in 0..5 {
            let w = store.create(Hashers::new(&[])).await.unwrap();
            ids.push(w.id());
            w.finish().await.unwrap();
        }
        ids.sort();
        assert_eq!(store.list_older_than(Duration::ZERO, None, 10).await.unwrap(), ids);
        // A walk resumes after the last id it returned.
        let first = store.list_older_than(Duration::ZERO, None, 2).await.unwrap();
        assert_eq!(first, ids[..2]);
        let rest = store.list_older_than(Duration::ZERO, Some(ids[1]), 10).await.unwrap();
        assert_eq!(rest, ids[2..]);
        assert!(
            store
                .list_older_than(Duration::from_secs(3600), None, 10)
                .await
                .unwrap()
                .is_empty()
        );
    }

    /// Write+hash throughput (release: `cargo test --release -p ksan-data -- --ignored`).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "throughput figure, not a check"]
    async fn write_throughput() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsDataStore::open(dir.path()).unwrap();
        let chunk = Bytes::from(pattern(64 * 1024));
        let total = 256u64 << 20;
        let started = std::time::Instant::now();
        let mut w = store
            .create(Hashers::new(&[ChecksumAlgorithm::Crc64Nvme]))
            .await
            .unwrap();
        for _ in 0..total / chunk.len() as u64 {
            w.write(chunk.clone()).await.unwrap();
        }
        w.finish().await.unwrap();
        let secs = started.elapsed().as_secs_f64();
        println!("write+md5+crc64nvme+fsync: {:.0} MiB/s", (total >> 20) as f64 / secs);
    }
}
