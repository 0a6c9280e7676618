//! Bucket configurations: one abstraction for every kind (ACL, Object Ownership, policy, public
//! access block, and the ones to come), stored as `C|bucket|kind` rows and read through a
//! per-bucket cache.
//!
//! A kind is a type implementing [`BucketConfig`]: its row kind, S3's "not found" error, the
//! checks S3 makes when it is put (run inside the transaction that writes it, against the
//! bucket as it stands there), and what it needs once read (a policy is parsed once). Get, put
//! and delete are one generic engine call each; the api layer never edits a bucket directly.
//!
//! Every request reads its bucket's [`BucketState`] (record and configurations) from the cache,
//! so configurations cost no metadata read on the request path. A write invalidates the
//! bucket's entry after its commit; a fill that raced with a write is not kept (the cache's
//! generation changed while it read), so a request never sees a configuration older than the
//! last acknowledged write. A network backend shared by several servers would invalidate
//! entries on the notifications of the others' writes (see docs/ARCHITECTURE.md).

use std::any::Any;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use ksan_meta::{ReadOps, WriteOps};
use ksan_types::{ErrorCode, S3Error, S3Result};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::keys::{self, ConfigKind};
use crate::records::{BucketRecord, decode, encode};
use crate::{Engine, meta_err};

/// A kind of bucket configuration.
pub trait BucketConfig: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// Its row kind (`C|bucket|kind`).
    const KIND: ConfigKind;
    /// S3's error for a bucket without one (None: a bucket always has one, by default).
    const NOT_FOUND: Option<ErrorCode>;
    /// S3 requires a Content-MD5 (or flexible checksum) header on the request that puts it.
    const DIGEST_REQUIRED: bool = false;

    /// The checks S3 makes when it is put, against the bucket as it stands in the writing
    /// transaction.
    fn validate(&self, _bucket: &BucketState) -> S3Result<()> {
        Ok(())
    }

    /// Prepare a configuration just read for use (parse a policy, ...).
    fn loaded(self, _bucket: &str) -> S3Result<Self> {
        Ok(self)
    }
}

/// A decoded configuration of some kind.
type AnyConfig = Arc<dyn Any + Send + Sync>;

/// Decode a row of kind `T`.
fn decode_config<T: BucketConfig>(bytes: &[u8], bucket: &str) -> S3Result<AnyConfig> {
    Ok(Arc::new(decode::<T>(bytes)?.loaded(bucket)?))
}

/// How each kind's rows are read: one line per kind.
fn decoder(kind: ConfigKind) -> fn(&[u8], &str) -> S3Result<AnyConfig> {
    use crate::access::config as a;
    match kind {
        ConfigKind::Acl => decode_config::<a::BucketAcl>,
        ConfigKind::Ownership => decode_config::<a::OwnershipConfig>,
        ConfigKind::Policy => decode_config::<a::PolicyConfig>,
        ConfigKind::PublicAccessBlock => decode_config::<crate::access::acl::PublicAccessBlock>,
        ConfigKind::Cors => decode_config::<crate::cors::CorsConfig>,
        ConfigKind::Website => decode_config::<crate::website::WebsiteConfig>,
        ConfigKind::Tagging => decode_config::<crate::tags::BucketTags>,
        ConfigKind::Encryption => decode_config::<crate::sse::EncryptionConfig>,
        ConfigKind::ObjectLock => decode_config::<crate::lock::ObjectLockConfig>,
        ConfigKind::Lifecycle => decode_config::<crate::lifecycle::LifecycleConfig>,
        ConfigKind::Replication => decode_config::<crate::replication::ReplicationConfig>,
    }
}

/// A bucket as requests see it: its record and its configurations.
#[derive(Clone)]
pub struct BucketState {
    /// The bucket record.
    pub record: BucketRecord,
    configs: HashMap<ConfigKind, AnyConfig>,
}

impl std::fmt::Debug for BucketState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut kinds: Vec<&ConfigKind> = self.configs.keys().collect();
        kinds.sort();
        f.debug_struct("BucketState")
            .field("record", &self.record)
            .field("configs", &kinds)
            .finish()
    }
}

/// A bucket `b` of owner `o` with no configuration (unit tests of configuration kinds).
#[cfg(test)]
pub(crate) fn test_bucket() -> BucketState {
    BucketState::new(crate::records::BucketRecord {
        name: "b".into(),
        owner: "o".into(),
        owner_display_name: "o".into(),
        created_ms: 0,
        location: None,
        versioning: Default::default(),
    })
}

impl BucketState {
    /// A bucket with no configuration.
    pub fn new(record: BucketRecord) -> Self {
        BucketState {
            record,
            configs: HashMap::new(),
        }
    }

    /// The same bucket with `value` set (tests and the writing transaction).
    pub fn with<T: BucketConfig>(mut self, value: T) -> Self {
        self.configs.insert(T::KIND, Arc::new(value));
        self
    }

    /// The bucket's configuration of kind `T`, if it has one.
    pub fn get<T: BucketConfig>(&self) -> Option<&T> {
        self.configs.get(&T::KIND)?.downcast_ref::<T>()
    }

    /// The bucket's configuration of kind `T`, or S3's "not found" error for the kind.
    pub fn require<T: BucketConfig>(&self) -> S3Result<&T> {
        self.get::<T>().ok_or_else(|| match T::NOT_FOUND {
            Some(code) => S3Error::new(code).bucket(self.name()),
            None => S3Error::internal(format!("{:?} has no not-found error", T::KIND)),
        })
    }

    /// The bucket name.
    pub fn name(&self) -> &str {
        &self.record.name
    }

    /// The owner's canonical id.
    pub fn owner(&self) -> &str {
        &self.record.owner
    }

    /// Read a bucket's record and configurations (None if there is no such bucket).
    async fn load(ops: &dyn ReadOps, name: &str) -> S3Result<Option<BucketState>> {
        let Some(bytes) = ops.get(&keys::bucket(name)).await.map_err(meta_err)? else {
            return Ok(None);
        };
        let mut state = BucketState::new(decode(&bytes)?);
        let prefix = keys::config_prefix(name);
        let end = ksan_meta::prefix_end(&prefix);
        for (k, v) in ops.range(&prefix, &end, usize::MAX, false).await.map_err(meta_err)? {
            let kind = std::str::from_utf8(&k[prefix.len()..])
                .ok()
                .and_then(ConfigKind::from_name);
            match kind {
                Some(kind) => {
                    state.configs.insert(kind, decoder(kind)(&v, name)?);
                }
                None => tracing::warn!(bucket = name, "unknown bucket configuration row"),
            }
        }
        Ok(Some(state))
    }

    /// As `load`, inside a write transaction: NoSuchBucket if there is none.
    pub(crate) async fn load_for_update(txn: &dyn WriteOps, name: &str) -> S3Result<BucketState> {
        // The bucket row is the one every configuration change conflicts on.
        if txn
            .get_for_update(&keys::bucket(name))
            .await
            .map_err(meta_err)?
            .is_none()
        {
            return Err(S3Error::new(ErrorCode::NoSuchBucket).bucket(name));
        }
        BucketState::load(txn, name)
            .await?
            .ok_or_else(|| S3Error::new(ErrorCode::NoSuchBucket).bucket(name))
    }
}

/// The per-bucket cache of [`BucketState`]s.
#[derive(Default)]
pub(crate) struct BucketCache {
    entries: RwLock<HashMap<String, Arc<BucketState>>>,
    /// Bumped by every invalidation: a fill that started before one is not kept.
    generation: AtomicU64,
}

/// Entries kept before the cache starts over.
const CACHE_LIMIT: usize = 100_000;

impl BucketCache {
    fn get(&self, name: &str) -> Option<Arc<BucketState>> {
        self.entries.read().ok()?.get(name).cloned()
    }

    fn fill(&self, generation: u64, state: Arc<BucketState>) {
        let Ok(mut entries) = self.entries.write() else { return };
        if self.generation.load(Ordering::SeqCst) != generation {
            return;
        }
        if entries.len() >= CACHE_LIMIT {
            entries.clear();
        }
        entries.insert(state.record.name.clone(), state);
    }

    /// Forget a bucket (after a write to it commits).
    pub(crate) fn invalidate(&self, name: &str) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut entries) = self.entries.write() {
            entries.remove(name);
        }
    }
}

impl Engine {
    /// A bucket's record and configurations; NoSuchBucket if it does not exist.
    pub async fn bucket_state(&self, name: &str) -> S3Result<Arc<BucketState>> {
        if let Some(state) = self.buckets.get(name) {
            return Ok(state);
        }
        // Read the generation before the snapshot: a write that commits after the snapshot
        // was taken invalidates after this load, and the fill below is then dropped.
        let generation = self.buckets.generation.load(Ordering::SeqCst);
        let snap = self.snapshot().await?;
        let state = BucketState::load(&*snap, name)
            .await?
            .ok_or_else(|| S3Error::new(ErrorCode::NoSuchBucket).bucket(name))?;
        let state = Arc::new(state);
        self.buckets.fill(generation, state.clone());
        Ok(state)
    }

    /// A bucket's record; NoSuchBucket if it does not exist.
    pub async fn bucket(&self, name: &str) -> S3Result<BucketRecord> {
        Ok(self.bucket_state(name).await?.record.clone())
    }

    /// Put a configuration: S3's checks for the kind run in the writing transaction, against
    /// the bucket as it is there. `digest_sent`: the request carried Content-MD5 or a flexible
    /// checksum (checked against the body by the caller), which some kinds require.
    pub async fn put_config<T: BucketConfig + Clone>(&self, bucket: &str, value: T, digest_sent: bool) -> S3Result<()> {
        if T::DIGEST_REQUIRED && !digest_sent {
            return Err(
                S3Error::new(ErrorCode::InvalidRequest).msg("Missing required header for this request: Content-MD5")
            );
        }
        let bytes = encode(&value)?;
        let value = Arc::new(value);
        let name = bucket.to_owned();
        self.write(move |txn| {
            let (bytes, value, name) = (bytes.clone(), value.clone(), name.clone());
            Box::pin(async move {
                let state = BucketState::load_for_update(txn, &name).await?;
                value.validate(&state)?;
                txn.put(&keys::config(&name, T::KIND), &bytes).map_err(meta_err)
            })
        })
        .await?;
        self.buckets.invalidate(bucket);
        Ok(())
    }

    /// Remove a configuration (fine if there is none).
    pub async fn delete_config<T: BucketConfig>(&self, bucket: &str) -> S3Result<()> {
        let name = bucket.to_owned();
        self.write(move |txn| {
            let name = name.clone();
            Box::pin(async move {
                BucketState::load_for_update(txn, &name).await?;
                txn.delete(&keys::config(&name, T::KIND)).map_err(meta_err)
            })
        })
        .await?;
        self.buckets.invalidate(bucket);
        Ok(())
    }
}
