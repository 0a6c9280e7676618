//! S3 semantics, independent of HTTP: users, buckets and their configurations, objects,
//! versions, multipart uploads, listing, access decisions, and the background workers that
//! keep the blob store tidy. Generic over the two storage traits (`ksan_meta::MetaKv`,
//! `ksan_data::DataStore`), which are chosen by the binary.
//!
//! Layout: `versions` is the version-transaction core every write shares (insert and remove
//! versions, keep the latest row, count blob references, read manifests); `objects` and
//! `multipart` build on it; `config` holds bucket configurations and their cache; `workers`
//! runs the background work queued by the writes (see docs/ARCHITECTURE.md).

#![warn(missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use ksan_data::DataStore;
use ksan_meta::{BoxFuture, MetaKv, Snapshot, WriteOps};
use ksan_types::{ErrorCode, S3Error, S3Result};

pub mod access;
pub mod buckets;
pub mod check;
pub mod config;
pub mod cors;
pub mod integrity;
pub mod keys;
pub mod kms;
pub mod lifecycle;
pub mod list;
pub mod lock;
pub mod multipart;
pub mod objects;
pub mod post_policy;
pub mod records;
pub mod replication;
pub mod sse;
mod store;
pub mod tags;
pub mod targets;
pub mod users;
mod versions;
pub mod website;
pub mod workers;

pub use config::{BucketConfig, BucketState};
pub use records::{BucketRecord, NewObject, ObjectVersion, UserRecord, Versioning};

/// The base64 `x-amz-checksum-*` value of a small buffer (a configuration document).
pub fn checksum_base64(algorithm: ksan_types::ChecksumAlgorithm, data: &[u8]) -> String {
    ksan_data::base64(&ksan_data::checksum_of(algorithm, data))
}

/// The engine's settings.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Objects up to this size live in the metadata store, not in a blob file.
    pub inline_threshold: usize,
    /// How long a blob whose last reference went away is kept before it is unlinked, so that a
    /// GET that looked the version up just before can still open it.
    pub gc_grace: Duration,
    /// Blob files older than this that no record names are orphans of a crash; removed.
    pub orphan_age: Duration,
    /// How long a completed upload still answers a repeated CompleteMultipartUpload.
    pub completed_upload_memory: Duration,
    /// The region buckets are created in by default.
    pub region: String,
    /// The master key (SSE-S3 and the key service's keys).
    pub master_key: sse::MasterKey,
    /// The length of a lifecycle day (a real day; shorter in tests, see `lifecycle`).
    pub lifecycle_day: Duration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            inline_threshold: 16 * 1024,
            gc_grace: Duration::from_secs(60),
            orphan_age: Duration::from_secs(24 * 3600),
            completed_upload_memory: Duration::from_secs(24 * 3600),
            region: "us-east-1".to_owned(),
            master_key: sse::MasterKey::default(),
            lifecycle_day: Duration::from_secs(24 * 3600),
        }
    }
}

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// An unsigned request.
    Anonymous,
    /// A user, by its access key.
    User(Arc<UserRecord>),
}

impl Principal {
    /// The caller's canonical id (None for anonymous).
    pub fn canonical_id(&self) -> Option<&str> {
        match self {
            Principal::Anonymous => None,
            Principal::User(u) => Some(&u.canonical_id),
        }
    }
    /// The caller's user record (None for anonymous).
    pub fn user(&self) -> Option<&UserRecord> {
        match self {
            Principal::Anonymous => None,
            Principal::User(u) => Some(u),
        }
    }
}

/// The S3 engine over a metadata store and a blob store.
pub struct Engine {
    pub(crate) meta: Arc<dyn MetaKv>,
    pub(crate) data: Arc<dyn DataStore>,
    pub(crate) config: EngineConfig,
    pub(crate) buckets: config::BucketCache,
    pub(crate) workers: workers::Registry,
    pub(crate) integrity: Arc<integrity::IntegrityCounters>,
    pub(crate) keyring: sse::Keyring,
    pub(crate) lifecycle: workers::LifecycleStats,
    pub(crate) replication: workers::ReplicationStats,
    pub(crate) remote: std::sync::OnceLock<Arc<dyn targets::RemoteSink>>,
    kms: Arc<kms::BuiltinKms>,
}

impl Engine {
    /// An engine over these stores.
    pub fn new(meta: Arc<dyn MetaKv>, data: Arc<dyn DataStore>, config: EngineConfig) -> Arc<Self> {
        let kms = Arc::new(kms::BuiltinKms::new(meta.clone(), &config.master_key));
        let keyring = sse::Keyring::new(&config.master_key, kms.clone());
        Arc::new(Engine {
            meta,
            data,
            keyring,
            kms,
            config,
            buckets: config::BucketCache::default(),
            workers: workers::Registry::default(),
            integrity: Arc::default(),
            lifecycle: workers::LifecycleStats::default(),
            replication: workers::ReplicationStats::default(),
            remote: std::sync::OnceLock::new(),
        })
    }

    /// The engine's settings.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// The server's keys: the master key's derived keys and the key service.
    pub fn keyring(&self) -> &sse::Keyring {
        &self.keyring
    }

    /// The built-in key service (its keys are managed through the admin API).
    pub fn kms(&self) -> &kms::BuiltinKms {
        &self.kms
    }

    pub(crate) async fn snapshot(&self) -> S3Result<Snapshot> {
        self.meta.read().await.map_err(S3Error::internal)
    }

    /// Run the job `f` in a metadata write transaction; returns once it is durable. `f` may run
    /// more than once (see `ksan_meta::write`): it takes its inputs afresh on each run.
    pub(crate) async fn write<T, F>(&self, f: F) -> S3Result<T>
    where
        F: for<'a> Fn(&'a mut dyn WriteOps) -> BoxFuture<'a, S3Result<T>> + Send + Sync + 'static,
        T: Send + 'static,
    {
        write_txn(&*self.meta, f).await
    }
}

/// Run the job `f` in a write transaction of `meta` (see `Engine::write`).
pub(crate) async fn write_txn<T, F>(meta: &dyn MetaKv, f: F) -> S3Result<T>
where
    F: for<'a> Fn(&'a mut dyn WriteOps) -> BoxFuture<'a, S3Result<T>> + Send + Sync + 'static,
    T: Send + 'static,
{
    ksan_meta::write::<T, TxnError, _>(meta, move |txn| {
        let run = f(txn);
        Box::pin(async move { run.await.map_err(TxnError) })
    })
    .await
    .map_err(|e| e.0)
}

/// S3Error carried through a metadata transaction (the meta layer knows nothing of S3).
pub(crate) struct TxnError(pub S3Error);

impl From<ksan_meta::MetaError> for TxnError {
    fn from(e: ksan_meta::MetaError) -> Self {
        TxnError(meta_err(e))
    }
}

/// A metadata error as an S3 error: a transaction that kept conflicting asks the client to
/// slow down; anything else is an internal error (logged, never shown).
pub(crate) fn meta_err(e: ksan_meta::MetaError) -> S3Error {
    match e {
        ksan_meta::MetaError::Conflict => S3Error::new(ErrorCode::SlowDown),
        e => S3Error::internal(e),
    }
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
        let (e, _, d) = engine_with_meta();
        (e, d)
    }

    /// As `engine`, with the metadata store at hand (to count commits).
    pub fn engine_with_meta() -> (Arc<Engine>, Arc<ksan_meta::MemKv>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let data = ksan_data::FsDataStore::open(dir.path()).unwrap();
        let config = EngineConfig {
            inline_threshold: 16,
            ..EngineConfig::default()
        };
        let meta = Arc::new(ksan_meta::MemKv::new());
        (Engine::new(meta.clone(), Arc::new(data), config), meta, dir)
    }

    /// PutObject of `bytes` with nothing else asked for; the blob it was stored in (engines
    /// made with `inline_threshold: 0`).
    pub async fn put_blob(e: &Engine, bucket: &str, key: &str, bytes: Vec<u8>) -> ksan_data::BlobId {
        let req = crate::objects::PutObjectRequest {
            sse: None,
            bucket: bucket.into(),
            key: key.into(),
            object: crate::records::NewObject::default(),
            body: crate::objects::BodyChecks::default(),
            conditions: crate::objects::WriteConditions::default(),
        };
        let body: ksan_types::BodyStream =
            Box::pin(futures_util::stream::once(async move { Ok(bytes::Bytes::from(bytes)) }));
        let v = e.put_object(req, body).await.unwrap();
        let crate::records::DataLocation::Blob(id) = v.data else {
            panic!("not a blob")
        };
        ksan_data::BlobId(id)
    }

    /// The keys a listing of the bucket shows.
    pub async fn keys_in(e: &Engine, bucket: &str) -> Vec<String> {
        let q = crate::list::ListQuery {
            max_keys: 1000,
            ..Default::default()
        };
        let page = e.list_objects(bucket, &q).await.unwrap();
        page.objects.into_iter().map(|o| o.key).collect()
    }

    /// The upload ids a listing of the bucket's uploads shows.
    pub async fn uploads_in(e: &Engine, bucket: &str) -> Vec<String> {
        let q = crate::multipart::UploadsQuery {
            max_uploads: 1000,
            ..Default::default()
        };
        let page = e.list_uploads(bucket, &q).await.unwrap();
        page.uploads.into_iter().map(|u| u.upload_id).collect()
    }
}
