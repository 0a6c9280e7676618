//! S3 semantics, independent of HTTP: users, buckets, objects, versions, listing, and the
//! background workers that keep the blob store tidy. Generic over the two storage traits
//! (`ksan_meta::MetaKv`, `ksan_data::DataStore`), which are chosen by the binary.

use std::sync::Arc;
use std::time::Duration;

use ksan_data::DataStore;
use ksan_meta::{MetaKv, Snapshot};
use ksan_types::{S3Error, S3Result};

pub mod access;
pub mod buckets;
pub mod gc;
pub mod keys;
pub mod list;
pub mod multipart;
pub mod objects;
pub mod records;
pub mod users;

pub use records::{BucketRecord, ObjectVersion, UserRecord, Versioning};

#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Objects up to this size live in the metadata store, not in a blob file.
    pub inline_threshold: usize,
    /// How long a blob whose last reference went away is kept before it is unlinked, so that a
    /// GET that looked the version up just before can still open it.
    pub gc_grace: Duration,
    /// Blob files older than this that no record names are orphans of a crash; removed.
    pub orphan_age: Duration,
    /// The region buckets are created in by default.
    pub region: String,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            inline_threshold: 16 * 1024,
            gc_grace: Duration::from_secs(60),
            orphan_age: Duration::from_secs(24 * 3600),
            region: "us-east-1".to_owned(),
        }
    }
}

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    Anonymous,
    User(Arc<UserRecord>),
}

impl Principal {
    pub fn canonical_id(&self) -> Option<&str> {
        match self {
            Principal::Anonymous => None,
            Principal::User(u) => Some(&u.canonical_id),
        }
    }
    pub fn user(&self) -> Option<&UserRecord> {
        match self {
            Principal::Anonymous => None,
            Principal::User(u) => Some(u),
        }
    }
}

pub struct Engine {
    pub(crate) meta: Arc<dyn MetaKv>,
    pub(crate) data: Arc<dyn DataStore>,
    pub(crate) config: EngineConfig,
}

impl Engine {
    pub fn new(meta: Arc<dyn MetaKv>, data: Arc<dyn DataStore>, config: EngineConfig) -> Arc<Self> {
        Arc::new(Engine { meta, data, config })
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    pub(crate) fn snapshot(&self) -> S3Result<Snapshot> {
        self.meta.read().map_err(S3Error::internal)
    }

    /// Run `f` in a metadata write transaction; returns once it is durable.
    pub(crate) async fn write<T, F>(&self, f: F) -> S3Result<T>
    where
        F: FnOnce(&mut dyn ksan_meta::WriteOps) -> S3Result<T> + Send + 'static,
        T: Send + 'static,
    {
        ksan_meta::write::<T, TxnError, _>(&*self.meta, move |txn| f(txn).map_err(TxnError))
            .await
            .map_err(|e| e.0)
    }
}

/// S3Error carried through a metadata transaction (the meta layer knows nothing of S3).
pub(crate) struct TxnError(pub S3Error);

impl From<ksan_meta::MetaError> for TxnError {
    fn from(e: ksan_meta::MetaError) -> Self {
        TxnError(S3Error::internal(e))
    }
}

/// Convert a metadata error inside engine code.
pub(crate) fn meta_err(e: ksan_meta::MetaError) -> S3Error {
    S3Error::internal(e)
}

pub(crate) fn now_ms() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    now.as_millis() as i64
}

/// A new internal version uid: inverted microseconds since the epoch, then random bytes, so
/// that the newest version of a key sorts first.
pub(crate) fn new_uid() -> [u8; 16] {
    let micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_micros() as u64;
    let mut uid = [0u8; 16];
    uid[..8].copy_from_slice(&(u64::MAX - micros).to_be_bytes());
    uid[8..].copy_from_slice(&rand::random::<[u8; 8]>());
    uid
}

#[cfg(test)]
pub(crate) mod testutil {
    use super::*;

    /// An engine over the in-memory metadata store and a temp-dir blob store.
    pub fn engine() -> (Arc<Engine>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let data = ksan_data::FsDataStore::open(dir.path()).unwrap();
        let config = EngineConfig {
            inline_threshold: 16,
            ..EngineConfig::default()
        };
        (
            Engine::new(Arc::new(ksan_meta::MemKv::new()), Arc::new(data), config),
            dir,
        )
    }
}
