//! The key service behind SSE-KMS: named keys that wrap and unwrap data keys.
//!
//! [`Kms`] is what the object paths use; [`BuiltinKms`] keeps its keys in the metadata store
//! (`Z|kms|id`), each key's 256-bit material sealed by a key derived from the master key, so
//! that the store alone opens nothing. An external service (HashiCorp Vault's transit engine,
//! a cloud KMS) can implement the same trait without touching the object paths.
//!
//! Requests name a key by id (`testkey-1`) or by ARN (`arn:aws:kms:REGION:ACCOUNT:key/ID`,
//! as SDKs send it). An unknown key is 400 KMS.NotFoundException; a disabled one is 400
//! KMS.DisabledException, for new encryption and for decryption alike, as S3 answers.

use std::sync::Arc;

use ksan_data::crypt::{self, BlobKey};
use ksan_meta::MetaKv;
use ksan_types::{ErrorCode, S3Error, S3Result};
use serde::{Deserialize, Serialize};

use crate::sse::MasterKey;
use crate::{keys, store};

/// A key service.
#[async_trait::async_trait]
pub trait Kms: Send + Sync {
    /// The id of the key a request names (by id or ARN), if it exists and is enabled.
    async fn resolve(&self, name: &str) -> S3Result<String>;
    /// Wrap a data key under key `key_id`, bound to `context`.
    async fn wrap(&self, key_id: &str, context: &[u8], data_key: &BlobKey) -> S3Result<Vec<u8>>;
    /// Unwrap what `wrap` made under the same key and context.
    async fn unwrap(&self, key_id: &str, context: &[u8], wrapped: &[u8]) -> S3Result<BlobKey>;
}

/// The key id in a request's form of it: the id itself, or the last part of an ARN.
pub fn key_id_of(name: &str) -> &str {
    match name.strip_prefix("arn:") {
        Some(_) => name.rsplit_once(":key/").map_or(name, |(_, id)| id),
        None => name,
    }
}

/// A key of the built-in service, as stored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct KmsKeyRecord {
    /// Its id (the name it was created with).
    pub id: String,
    /// The 256-bit material, sealed by the master key's KMS key-encryption key.
    pub material: Vec<u8>,
    /// New encryption and decryption are refused while false.
    pub enabled: bool,
    /// When it was made.
    pub created_ms: i64,
}

/// A key's public facts, for listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KmsKeyInfo {
    /// Its id.
    pub id: String,
    /// Enabled or not.
    pub enabled: bool,
    /// When it was made.
    pub created_ms: i64,
}

/// The built-in key service over the metadata store.
pub struct BuiltinKms {
    meta: Arc<dyn MetaKv>,
    kek: [u8; 32],
}

fn not_found(name: &str) -> S3Error {
    S3Error::new(ErrorCode::KmsNotFound).msg(format!("Invalid keyId {name}"))
}

fn material_context(id: &str) -> Vec<u8> {
    let mut c = b"ksan kms key\0".to_vec();
    c.extend_from_slice(id.as_bytes());
    c
}

/// Key ids: 1 to 64 letters, digits, `-`, `_`, `/`, as KMS aliases are.
fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'/'))
}

impl BuiltinKms {
    /// The service over `meta`, its keys sealed by a key derived from `master`.
    pub fn new(meta: Arc<dyn MetaKv>, master: &MasterKey) -> Self {
        BuiltinKms {
            meta,
            kek: master.derive(b"ksan kms key-encryption key v1"),
        }
    }

    async fn record(&self, name: &str) -> S3Result<KmsKeyRecord> {
        let id = key_id_of(name);
        let snap = self.meta.read().await.map_err(S3Error::internal)?;
        store::get::<KmsKeyRecord>(&*snap, &keys::kms_key(id))
            .await?
            .ok_or_else(|| not_found(name))
    }

    async fn material(&self, key_id: &str) -> S3Result<[u8; 32]> {
        let r = self.record(key_id).await?;
        if !r.enabled {
            return Err(S3Error::new(ErrorCode::KmsDisabled).msg(format!("{} is disabled.", r.id)));
        }
        crypt::open_secret(&self.kek, &r.material, &material_context(&r.id))
            .and_then(|m| m.try_into().ok())
            .ok_or_else(|| S3Error::internal(format!("KMS key {} does not open with this master key", r.id)))
    }

    /// Make a key. InvalidArgument for a bad id, KMS.AlreadyExistsException for a taken one.
    pub async fn create(&self, id: &str) -> S3Result<KmsKeyInfo> {
        if !valid_id(id) {
            return Err(S3Error::invalid_argument(
                "A key id is 1 to 64 letters, digits, '-', '_' or '/'",
                "KeyId",
                id.to_owned(),
            ));
        }
        let material: [u8; 32] = crypt::random_bytes().map_err(S3Error::internal)?;
        let record = KmsKeyRecord {
            id: id.to_owned(),
            material: crypt::seal_secret(&self.kek, &material, &material_context(id)).map_err(S3Error::internal)?,
            enabled: true,
            created_ms: crate::now_ms(),
        };
        let info = KmsKeyInfo {
            id: id.to_owned(),
            enabled: true,
            created_ms: record.created_ms,
        };
        let record = Arc::new(record);
        crate::write_txn(&*self.meta, move |txn| {
            let record = record.clone();
            Box::pin(async move {
                let row = keys::kms_key(&record.id);
                if store::get_for_update::<KmsKeyRecord>(txn, &row).await?.is_some() {
                    return Err(
                        S3Error::new(ErrorCode::KmsAlreadyExists).msg(format!("a key {} already exists", record.id))
                    );
                }
                store::put(txn, &row, &*record)?;
                Ok(())
            })
        })
        .await?;
        Ok(info)
    }

    /// Every key.
    pub async fn list(&self) -> S3Result<Vec<KmsKeyInfo>> {
        let snap = self.meta.read().await.map_err(S3Error::internal)?;
        let rows = store::scan(&*snap, keys::KMS_PREFIX, usize::MAX).await?;
        rows.into_iter()
            .map(|(_, v)| {
                let r: KmsKeyRecord = crate::records::decode(&v)?;
                Ok(KmsKeyInfo {
                    id: r.id,
                    enabled: r.enabled,
                    created_ms: r.created_ms,
                })
            })
            .collect()
    }

    /// Enable or disable a key.
    pub async fn set_enabled(&self, id: &str, enabled: bool) -> S3Result<()> {
        let id = id.to_owned();
        crate::write_txn(&*self.meta, move |txn| {
            let id = id.clone();
            Box::pin(async move {
                let row = keys::kms_key(&id);
                let Some(mut r) = store::get_for_update::<KmsKeyRecord>(txn, &row).await? else {
                    return Err(not_found(&id));
                };
                r.enabled = enabled;
                store::put(txn, &row, &r)?;
                Ok(())
            })
        })
        .await
    }
}

#[async_trait::async_trait]
impl Kms for BuiltinKms {
    async fn resolve(&self, name: &str) -> S3Result<String> {
        let r = self.record(name).await?;
        if !r.enabled {
            return Err(S3Error::new(ErrorCode::KmsDisabled).msg(format!("{} is disabled.", r.id)));
        }
        Ok(r.id)
    }

    async fn wrap(&self, key_id: &str, context: &[u8], data_key: &BlobKey) -> S3Result<Vec<u8>> {
        let m = self.material(key_id).await?;
        crypt::wrap_key(&m, data_key, context).map_err(S3Error::internal)
    }

    async fn unwrap(&self, key_id: &str, context: &[u8], wrapped: &[u8]) -> S3Result<BlobKey> {
        let m = self.material(key_id).await?;
        crypt::unwrap_key(&m, wrapped, context)
            .ok_or_else(|| S3Error::internal(format!("a data key does not open with KMS key {key_id}")))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A key service in memory with one key, `k1`, for other modules' tests.
    #[derive(Default)]
    pub(crate) struct MemKms;

    #[async_trait::async_trait]
    impl Kms for MemKms {
        async fn resolve(&self, name: &str) -> S3Result<String> {
            match key_id_of(name) {
                "k1" => Ok("k1".into()),
                _ => Err(not_found(name)),
            }
        }
        async fn wrap(&self, _: &str, context: &[u8], k: &BlobKey) -> S3Result<Vec<u8>> {
            crypt::wrap_key(&[9; 32], k, context).map_err(S3Error::internal)
        }
        async fn unwrap(&self, _: &str, context: &[u8], w: &[u8]) -> S3Result<BlobKey> {
            crypt::unwrap_key(&[9; 32], w, context).ok_or_else(|| S3Error::internal("no"))
        }
    }

    #[test]
    fn key_ids_from_arns() {
        assert_eq!(key_id_of("testkey-1"), "testkey-1");
        assert_eq!(key_id_of("arn:aws:kms:us-east-1:123:key/testkey-1"), "testkey-1");
        assert!(valid_id("testkey-1") && !valid_id("") && !valid_id("a b"));
    }

    #[tokio::test]
    async fn keys_are_made_listed_disabled_and_sealed() {
        let meta: Arc<dyn MetaKv> = Arc::new(ksan_meta::MemKv::new());
        let master = MasterKey::random().unwrap();
        let kms = BuiltinKms::new(meta.clone(), &master);
        kms.create("k1").await.unwrap();
        assert_eq!(kms.create("k1").await.unwrap_err().code, ErrorCode::KmsAlreadyExists);
        assert_eq!(kms.resolve("arn:aws:kms:r:a:key/k1").await.unwrap(), "k1");
        assert_eq!(kms.resolve("nope").await.unwrap_err().code, ErrorCode::KmsNotFound);
        let dk = BlobKey::random().unwrap();
        let w = kms.wrap("k1", b"ctx", &dk).await.unwrap();
        assert_eq!(kms.unwrap("k1", b"ctx", &w).await.unwrap(), dk);
        assert!(kms.unwrap("k1", b"other", &w).await.is_err());
        kms.set_enabled("k1", false).await.unwrap();
        assert_eq!(kms.resolve("k1").await.unwrap_err().code, ErrorCode::KmsDisabled);
        assert_eq!(
            kms.unwrap("k1", b"ctx", &w).await.unwrap_err().code,
            ErrorCode::KmsDisabled
        );
        kms.set_enabled("k1", true).await.unwrap();
        let list = kms.list().await.unwrap();
        assert_eq!((list.len(), list[0].id.as_str(), list[0].enabled), (1, "k1", true));
        // Another master key opens nothing.
        let other = BuiltinKms::new(meta, &MasterKey::random().unwrap());
        assert!(other.unwrap("k1", b"ctx", &w).await.is_err());
    }
}
