//! Server-side encryption: which key-encryption key (KEK) seals the data keys of a write, and
//! the one place where data keys are made, wrapped and unwrapped. The chunked AES-256-GCM
//! format itself is `ksan_data::crypt`'s.
//!
//! 1. A write asks for SSE-S3, SSE-KMS or SSE-C ([`SseRequest`]) or for nothing; then the
//!    bucket's default encryption ([`EncryptionConfig`]) decides, and without one the object
//!    is stored in the clear.
//! 2. Each new blob of an encrypted object gets its own random data key, wrapped by the mode's
//!    KEK with the mode bound as associated data: SSE-S3, a key derived from the master key;
//!    SSE-KMS, the named key of the key service ([`Kms`]); SSE-C, the customer's key. Only
//!    wrapped keys are stored ([`SealedKey`]).
//! 3. SSE-C keys are never stored: the version keeps the key's MD5 (which S3 returns) and a
//!    salted HMAC-SHA256 of it, so that a wrong key is told from the right one before any byte
//!    is read.
//! 4. A read needs the same KEK: an SSE-C object only with its customer's key (400 without
//!    it and with another one), an SSE-KMS object only while its key is enabled.

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use ksan_data::crypt::{self, BlobKey};
use ksan_types::{ErrorCode, S3Error, S3Result};
use ring::hmac;
use serde::{Deserialize, Serialize};

use crate::config::{BucketConfig, BucketState};
use crate::keys::ConfigKind;
use crate::kms::Kms;
use crate::records::{SealedKey, SseMode};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// The master key: it wraps SSE-S3 data keys (through a derived key) and the key service's
/// keys. Never printed.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl MasterKey {
    /// A master key from its 32 bytes.
    pub fn new(bytes: [u8; 32]) -> Self {
        MasterKey(bytes)
    }
    /// A random one (tests, and the first start of a server without one).
    pub fn random() -> S3Result<Self> {
        Ok(MasterKey(crypt::random_bytes().map_err(S3Error::internal)?))
    }
    /// Its text form (base64), for the key file.
    pub fn to_base64(&self) -> String {
        B64.encode(self.0)
    }
    /// Read the text form (base64 of 32 bytes, surrounding whitespace ignored).
    pub fn from_base64(text: &str) -> Option<Self> {
        let bytes = B64.decode(text.trim()).ok()?;
        Some(MasterKey(bytes.try_into().ok()?))
    }
    /// A key for one purpose, derived with HMAC-SHA256 (so that no two uses share a key).
    pub(crate) fn derive(&self, purpose: &[u8]) -> [u8; 32] {
        let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &self.0), purpose);
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        out
    }
}

impl Default for MasterKey {
    /// A random key: only for engines that never reopen their data (tests).
    fn default() -> Self {
        MasterKey(rand::random())
    }
}

/// An SSE-C key as a request carries it. Never printed, never stored.
#[derive(Clone)]
pub struct CustomerKey {
    key: [u8; 32],
    md5: String,
}

impl fmt::Debug for CustomerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CustomerKey(..)")
    }
}

fn invalid_argument(msg: &'static str, name: &'static str) -> S3Error {
    S3Error::new(ErrorCode::InvalidArgument)
        .msg(msg)
        .with("ArgumentName", name)
}

impl CustomerKey {
    /// The three SSE-C headers (`...-customer-algorithm`, `-key`, `-key-MD5`, or their
    /// `x-amz-copy-source-` forms for a copy's source), checked as S3 checks them. None if
    /// none of them is present.
    pub fn parse(algorithm: Option<&str>, key: Option<&str>, md5: Option<&str>) -> S3Result<Option<CustomerKey>> {
        if algorithm.is_none() && key.is_none() && md5.is_none() {
            return Ok(None);
        }
        let Some(algorithm) = algorithm else {
            return Err(invalid_argument(
                "Requests specifying Server Side Encryption with Customer provided keys must provide a valid encryption algorithm.",
                "x-amz-server-side-encryption",
            ));
        };
        if algorithm != "AES256" {
            return Err(S3Error::new(ErrorCode::InvalidEncryptionAlgorithmError)
                .with("ArgumentName", "x-amz-server-side-encryption")
                .with("ArgumentValue", algorithm.to_owned()));
        }
        let Some(key) = key else {
            return Err(invalid_argument(
                "Requests specifying Server Side Encryption with Customer provided keys must provide an appropriate secret key.",
                "x-amz-server-side-encryption",
            ));
        };
        let bytes: [u8; 32] = B64
            .decode(key.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| {
                invalid_argument(
                    "The secret key was invalid for the specified algorithm.",
                    "x-amz-server-side-encryption",
                )
            })?;
        let Some(md5) = md5 else {
            return Err(invalid_argument(
                "Requests specifying Server Side Encryption with Customer provided keys must provide the client calculated MD5 of the secret key.",
                "x-amz-server-side-encryption",
            ));
        };
        use md5::Digest;
        let actual = B64.encode(md5::Md5::digest(bytes));
        if actual != md5.trim() {
            return Err(invalid_argument(
                "The calculated MD5 hash of the key did not match the hash that was provided.",
                "x-amz-server-side-encryption",
            ));
        }
        Ok(Some(CustomerKey {
            key: bytes,
            md5: actual,
        }))
    }

    /// The key's base64 MD5, as S3 echoes it.
    pub fn md5(&self) -> &str {
        &self.md5
    }

    fn hmac(&self, salt: &[u8; 16]) -> [u8; 32] {
        let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, salt), &self.key);
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        out
    }

    /// Is this the key an SSE-C version was written with?
    pub fn matches(&self, mode: &SseMode) -> bool {
        match mode {
            // ring's verify compares in constant time.
            SseMode::Customer { salt, hmac: stored, .. } => {
                hmac::verify(&hmac::Key::new(hmac::HMAC_SHA256, salt), &self.key, stored).is_ok()
            }
            _ => false,
        }
    }
}

/// What a write asks for.
#[derive(Debug, Clone)]
pub enum SseRequest {
    /// `x-amz-server-side-encryption: AES256`.
    S3,
    /// `aws:kms`, with the key named by id or ARN.
    Kms {
        /// `x-amz-server-side-encryption-aws-kms-key-id` (required: ksan has no default key).
        key_id: Option<String>,
        /// `x-amz-server-side-encryption-context`.
        context: Option<String>,
        /// `x-amz-server-side-encryption-bucket-key-enabled`.
        bucket_key: bool,
    },
    /// SSE-C.
    Customer(CustomerKey),
}

/// A bucket's default encryption (`PutBucketEncryption`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct EncryptionConfig {
    /// `AES256` (false) or `aws:kms` (true).
    pub kms: bool,
    /// `KMSMasterKeyID` (aws:kms only).
    pub kms_key_id: Option<String>,
    /// `BucketKeyEnabled`.
    pub bucket_key: bool,
}

impl BucketConfig for EncryptionConfig {
    const KIND: ConfigKind = ConfigKind::Encryption;
    const NOT_FOUND: Option<ErrorCode> = Some(ErrorCode::ServerSideEncryptionConfigurationNotFoundError);

    /// aws:kms needs a key (ksan has no default key), AES256 takes none.
    fn validate(&self, _bucket: &BucketState) -> S3Result<()> {
        match (self.kms, &self.kms_key_id) {
            (true, None) => Err(invalid_argument(
                "A KMSMasterKeyID is required: ksan has no default KMS key.",
                "KMSMasterKeyID",
            )),
            (false, Some(_)) => Err(invalid_argument(
                "KMSMasterKeyID is only allowed with SSEAlgorithm aws:kms.",
                "KMSMasterKeyID",
            )),
            _ => Ok(()),
        }
    }
}

/// How a write seals its new blobs: the mode to store and the KEK.
#[derive(Clone)]
pub struct Sealing {
    /// The mode the version (or upload) records.
    pub mode: SseMode,
    kek: Kek,
}

impl fmt::Debug for Sealing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealing")
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

/// A key-encryption key and the context its wrapped keys are bound to.
#[derive(Clone)]
pub(crate) enum Kek {
    /// Held here (SSE-S3's derived key, an SSE-C key).
    Local { key: [u8; 32], context: &'static [u8] },
    /// A key of the key service, which wraps and unwraps itself.
    Service {
        kms: Arc<dyn Kms>,
        key_id: String,
        context: Vec<u8>,
    },
}

impl Kek {
    async fn wrap(&self, key: &BlobKey) -> S3Result<Vec<u8>> {
        match self {
            Kek::Local { key: kek, context } => crypt::wrap_key(kek, key, context).map_err(S3Error::internal),
            Kek::Service { kms, key_id, context } => kms.wrap(key_id, context, key).await,
        }
    }

    async fn unwrap(&self, wrapped: &[u8]) -> S3Result<BlobKey> {
        match self {
            Kek::Local { key: kek, context } => crypt::unwrap_key(kek, wrapped, context).ok_or_else(|| {
                S3Error::new(ErrorCode::InvalidRequest)
                    .msg("The provided encryption parameters did not match the ones used originally.")
            }),
            Kek::Service { kms, key_id, context } => kms.unwrap(key_id, context, wrapped).await,
        }
    }
}

const S3_CONTEXT: &[u8] = b"ksan sse-s3";
const C_CONTEXT: &[u8] = b"ksan sse-c";

fn kms_context(key_id: &str, context: Option<&str>) -> Vec<u8> {
    let mut c = b"ksan sse-kms\0".to_vec();
    c.extend_from_slice(key_id.as_bytes());
    c.push(0);
    c.extend_from_slice(context.unwrap_or("").as_bytes());
    c
}

impl Sealing {
    /// A fresh data key for one new blob, and its wrapped form.
    pub async fn new_key(&self) -> S3Result<(BlobKey, Vec<u8>)> {
        let key = BlobKey::random().map_err(S3Error::internal)?;
        let wrapped = self.kek.wrap(&key).await?;
        Ok((key, wrapped))
    }

    /// May a blob sealed under `source` (the mode its version records) be shared by a
    /// version written with this sealing? Only under the very same KEK.
    pub fn same_kek_as(&self, source: &SseMode) -> bool {
        match (&self.mode, source) {
            (SseMode::S3, SseMode::S3) => true,
            (
                SseMode::Kms {
                    key_id: a, context: ca, ..
                },
                SseMode::Kms {
                    key_id: b, context: cb, ..
                },
            ) => a == b && ca == cb,
            (SseMode::Customer { .. }, SseMode::Customer { .. }) => match &self.kek {
                Kek::Local { key, .. } => {
                    let probe = CustomerKey {
                        key: *key,
                        md5: String::new(),
                    };
                    probe.matches(source)
                }
                Kek::Service { .. } => false,
            },
            _ => false,
        }
    }
}

/// Opens the blobs of one encrypted version (or upload).
#[derive(Clone)]
pub struct Unsealing {
    kek: Kek,
}

impl Unsealing {
    /// The data key of one sealed blob.
    pub async fn key(&self, sealed: &SealedKey) -> S3Result<BlobKey> {
        self.kek.unwrap(&sealed.wrapped).await
    }
}

/// The keys of the server: the master key, and the key service.
pub struct Keyring {
    s3_kek: [u8; 32],
    secrets_kek: [u8; 32],
    kms: Arc<dyn Kms>,
}

impl Keyring {
    /// Keys from the master key and a key service.
    pub fn new(master: &MasterKey, kms: Arc<dyn Kms>) -> Self {
        Keyring {
            s3_kek: master.derive(b"ksan sse-s3 key-encryption key v1"),
            secrets_kek: master.derive(b"ksan access-key secrets v1"),
            kms,
        }
    }

    /// Seal a user's secret key for storage, bound to its access key.
    pub(crate) fn seal_user_secret(&self, access_key: &str, secret: &str) -> S3Result<Vec<u8>> {
        crypt::seal_secret(&self.secrets_kek, secret.as_bytes(), access_key.as_bytes()).map_err(S3Error::internal)
    }

    /// Open a sealed secret key; an error (never a wrong secret) with another master key.
    pub(crate) fn open_user_secret(&self, access_key: &str, sealed: &[u8]) -> S3Result<String> {
        crypt::open_secret(&self.secrets_kek, sealed, access_key.as_bytes())
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| {
                S3Error::internal(format!(
                    "the secret of access key {access_key} does not open with this master key"
                ))
            })
    }

    /// Seal a replication target's secret key for storage, bound to the target's name.
    pub(crate) fn seal_target_secret(&self, name: &str, secret: &str) -> S3Result<Vec<u8>> {
        let aad = format!("replication-target {name}");
        crypt::seal_secret(&self.secrets_kek, secret.as_bytes(), aad.as_bytes()).map_err(S3Error::internal)
    }

    /// Open a sealed target secret.
    pub(crate) fn open_target_secret(&self, name: &str, sealed: &[u8]) -> S3Result<String> {
        let aad = format!("replication-target {name}");
        crypt::open_secret(&self.secrets_kek, sealed, aad.as_bytes())
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| {
                S3Error::internal(format!(
                    "the secret of target {name} does not open with this master key"
                ))
            })
    }

    /// The key service.
    pub fn kms(&self) -> &Arc<dyn Kms> {
        &self.kms
    }

    /// How a write to `bucket` is sealed: its own request, else the bucket's default, else
    /// not at all.
    pub async fn sealing(&self, bucket: &BucketState, request: Option<&SseRequest>) -> S3Result<Option<Sealing>> {
        let default;
        let request = match request {
            Some(r) => r,
            None => match bucket.get::<EncryptionConfig>() {
                None => return Ok(None),
                Some(c) if !c.kms => &SseRequest::S3,
                Some(c) => {
                    default = SseRequest::Kms {
                        key_id: c.kms_key_id.clone(),
                        context: None,
                        bucket_key: c.bucket_key,
                    };
                    &default
                }
            },
        };
        Ok(Some(match request {
            SseRequest::S3 => Sealing {
                mode: SseMode::S3,
                kek: Kek::Local {
                    key: self.s3_kek,
                    context: S3_CONTEXT,
                },
            },
            SseRequest::Kms {
                key_id,
                context,
                bucket_key,
            } => {
                let Some(key_id) = key_id else {
                    return Err(invalid_argument(
                        "Server Side Encryption with AWS KMS managed key requires a KMS key id: ksan has no default key.",
                        "x-amz-server-side-encryption-aws-kms-key-id",
                    ));
                };
                let id = self.kms.resolve(key_id).await?;
                Sealing {
                    mode: SseMode::Kms {
                        key_id: key_id.clone(),
                        context: context.clone(),
                        bucket_key: *bucket_key,
                    },
                    kek: Kek::Service {
                        kms: self.kms.clone(),
                        context: kms_context(&id, context.as_deref()),
                        key_id: id,
                    },
                }
            }
            SseRequest::Customer(c) => {
                let salt: [u8; 16] = crypt::random_bytes().map_err(S3Error::internal)?;
                Sealing {
                    mode: SseMode::Customer {
                        key_md5: c.md5.clone(),
                        salt,
                        hmac: c.hmac(&salt),
                    },
                    kek: Kek::Local {
                        key: c.key,
                        context: C_CONTEXT,
                    },
                }
            }
        }))
    }

    /// The sealing of an upload's parts: the upload's own mode (an SSE-C upload needs its
    /// key again with every part).
    pub async fn sealing_of(&self, mode: &SseMode, customer: Option<&CustomerKey>) -> S3Result<Sealing> {
        let kek = self.unsealing(mode, customer).await?.kek;
        Ok(Sealing {
            mode: mode.clone(),
            kek,
        })
    }

    /// What opens the blobs of a version stored with `mode`; SSE-C needs the customer's key.
    pub async fn unsealing(&self, mode: &SseMode, customer: Option<&CustomerKey>) -> S3Result<Unsealing> {
        let kek = match mode {
            SseMode::S3 => Kek::Local {
                key: self.s3_kek,
                context: S3_CONTEXT,
            },
            SseMode::Kms { key_id, context, .. } => {
                let id = self.kms.resolve(key_id).await?;
                Kek::Service {
                    kms: self.kms.clone(),
                    context: kms_context(&id, context.as_deref()),
                    key_id: id,
                }
            }
            SseMode::Customer { .. } => {
                let c = check_customer_key(Some(mode), customer)?
                    .ok_or_else(|| S3Error::internal("SSE-C object without its key"))?;
                Kek::Local {
                    key: c.key,
                    context: C_CONTEXT,
                }
            }
        };
        Ok(Unsealing { kek })
    }
}

/// A read of a version stored with `mode` that brings `customer`: an SSE-C version needs its
/// key (400 without it, 400 with another); other versions take none (400). Returns the key to
/// open an SSE-C version with.
pub fn check_customer_key<'a>(
    mode: Option<&SseMode>,
    customer: Option<&'a CustomerKey>,
) -> S3Result<Option<&'a CustomerKey>> {
    match (mode, customer) {
        (Some(m @ SseMode::Customer { .. }), Some(c)) => {
            if c.matches(m) {
                Ok(Some(c))
            } else {
                Err(S3Error::new(ErrorCode::InvalidRequest)
                    .msg("The provided encryption parameters did not match the ones used originally."))
            }
        }
        (Some(SseMode::Customer { .. }), None) => Err(S3Error::new(ErrorCode::InvalidRequest).msg(
            "The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.",
        )),
        (_, Some(_)) => Err(S3Error::new(ErrorCode::InvalidRequest)
            .msg("The encryption parameters are not applicable to this object.")),
        (_, None) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn customer(byte: u8) -> CustomerKey {
        use md5::Digest;
        let key = [byte; 32];
        let md5 = B64.encode(md5::Md5::digest(key));
        CustomerKey::parse(Some("AES256"), Some(&B64.encode(key)), Some(&md5))
            .unwrap()
            .unwrap()
    }

    #[test]
    fn customer_keys_are_checked_as_s3_does() {
        let k = B64.encode([1u8; 32]);
        let md5 = customer(1).md5().to_owned();
        assert!(CustomerKey::parse(None, None, None).unwrap().is_none());
        for (a, key, m, code) in [
            (None, Some(k.as_str()), Some(md5.as_str()), ErrorCode::InvalidArgument),
            (
                Some("AES128"),
                Some(k.as_str()),
                Some(md5.as_str()),
                ErrorCode::InvalidEncryptionAlgorithmError,
            ),
            (Some("AES256"), None, Some(md5.as_str()), ErrorCode::InvalidArgument),
            (Some("AES256"), Some(k.as_str()), None, ErrorCode::InvalidArgument),
            (
                Some("AES256"),
                Some("c2hvcnQ="),
                Some(md5.as_str()),
                ErrorCode::InvalidArgument,
            ),
            (
                Some("AES256"),
                Some(k.as_str()),
                Some("AAAAAAAAAAAAAAAAAAAAAA=="),
                ErrorCode::InvalidArgument,
            ),
        ] {
            assert_eq!(CustomerKey::parse(a, key, m).unwrap_err().code, code, "{a:?} {m:?}");
        }
        assert_eq!(format!("{:?}", customer(1)), "CustomerKey(..)");
    }

    #[tokio::test]
    async fn modes_seal_and_open_only_with_their_keys() {
        let kms: Arc<dyn Kms> = Arc::new(crate::kms::tests::MemKms);
        let ring = Keyring::new(&MasterKey::random().unwrap(), kms);
        let bucket = crate::config::test_bucket();
        assert!(ring.sealing(&bucket, None).await.unwrap().is_none());
        let s3 = ring.sealing(&bucket, Some(&SseRequest::S3)).await.unwrap().unwrap();
        let (key, wrapped) = s3.new_key().await.unwrap();
        let sealed = SealedKey { wrapped, plain_size: 0 };
        let opened = ring
            .unsealing(&SseMode::S3, None)
            .await
            .unwrap()
            .key(&sealed)
            .await
            .unwrap();
        assert_eq!(opened, key);
        // SSE-C: only the same customer key opens, and the mode keeps no key.
        let c = ring
            .sealing(&bucket, Some(&SseRequest::Customer(customer(1))))
            .await
            .unwrap()
            .unwrap();
        let (key, wrapped) = c.new_key().await.unwrap();
        let sealed = SealedKey { wrapped, plain_size: 0 };
        assert!(!format!("{:?}", c.mode).contains(&format!("{:?}", [1u8; 32])));
        let ok = ring.unsealing(&c.mode, Some(&customer(1))).await.unwrap();
        assert_eq!(ok.key(&sealed).await.unwrap(), key);
        assert_eq!(
            ring.unsealing(&c.mode, Some(&customer(2))).await.err().map(|e| e.code),
            Some(ErrorCode::InvalidRequest)
        );
        assert_eq!(
            ring.unsealing(&c.mode, None).await.err().map(|e| e.code),
            Some(ErrorCode::InvalidRequest)
        );
        assert!(c.same_kek_as(&c.mode));
        assert!(!c.same_kek_as(&SseMode::S3));
        // The SSE-S3 KEK does not open an SSE-C key.
        assert!(
            ring.unsealing(&SseMode::S3, None)
                .await
                .unwrap()
                .key(&sealed)
                .await
                .is_err()
        );
        // A bucket default applies without a request of its own.
        let with_default = crate::config::test_bucket().with(EncryptionConfig {
            kms: false,
            kms_key_id: None,
            bucket_key: false,
        });
        let s = ring.sealing(&with_default, None).await.unwrap().unwrap();
        assert_eq!(s.mode, SseMode::S3);
        assert_eq!(
            check_customer_key(Some(&SseMode::S3), Some(&customer(1)))
                .unwrap_err()
                .code,
            ErrorCode::InvalidRequest
        );
    }
}
