//! Records stored in the metadata store, encoded as MessagePack with field names so that
//! fields can be added later (`#[serde(default)]`) without rewriting old records.

use ksan_types::{ChecksumAlgorithm, S3Error, S3Result, StorageClass};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub use ksan_types::ChecksumType;

use crate::access::acl::Grant;

/// Encode a record.
pub fn encode<T: Serialize>(value: &T) -> S3Result<Vec<u8>> {
    rmp_serde::to_vec_named(value).map_err(S3Error::internal)
}

/// Decode a record.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> S3Result<T> {
    rmp_serde::from_slice(bytes).map_err(S3Error::internal)
}

/// `W|name`: a user (an account of its own).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct UserRecord {
    /// The user (and account) name.
    pub name: String,
    /// 64 hex characters, as S3's canonical user ids.
    pub canonical_id: String,
    /// The name ACLs show.
    pub display_name: String,
    /// The user's access keys.
    pub access_keys: Vec<String>,
    /// The root user administers the server.
    #[serde(default)]
    pub root: bool,
    /// When the user was made.
    pub created_ms: i64,
    /// For ACL grants by e-mail address.
    #[serde(default)]
    pub email: Option<String>,
}

/// `A|access-key`: an access key and its secret.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessKeyRecord {
    /// The access key id.
    pub access_key: String,
    /// The secret in the clear: only in records written before secrets were sealed (empty
    /// otherwise; such records are sealed at start).
    #[serde(default)]
    pub secret_key: String,
    /// The secret, sealed by a key derived from the master key (`sse::Keyring`).
    #[serde(default)]
    pub sealed_secret: Option<Vec<u8>>,
    /// The user it belongs to.
    pub user: String,
}

/// A bucket's versioning state.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
pub enum Versioning {
    /// Never enabled: no `<Status>` in GetBucketVersioning.
    #[default]
    Unversioned,
    /// Every write makes a new version.
    Enabled,
    /// Writes replace the `null` version.
    Suspended,
}

/// `B|bucket`: what every request to a bucket needs. Configurations (ACL, policy, ...) are rows
/// of their own (`C|bucket|kind`, see `crate::config`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct BucketRecord {
    /// The bucket name.
    pub name: String,
    /// The owner's canonical id.
    pub owner: String,
    /// The owner's display name.
    pub owner_display_name: String,
    /// When the bucket was made.
    pub created_ms: i64,
    /// The LocationConstraint given at creation (None = us-east-1 default).
    pub location: Option<String>,
    /// Versioning state; version transactions read it in their own transaction.
    #[serde(default)]
    pub versioning: Versioning,
}

/// The content headers an object is stored with and returned with.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ContentHeaders {
    /// `Content-Type`.
    pub content_type: Option<String>,
    /// `Content-Encoding` (without aws-chunked).
    pub content_encoding: Option<String>,
    /// `Content-Disposition`.
    pub content_disposition: Option<String>,
    /// `Content-Language`.
    pub content_language: Option<String>,
    /// `Cache-Control`.
    pub cache_control: Option<String>,
    /// `Expires`, as given.
    pub expires: Option<String>,
    /// `x-amz-website-redirect-location`: the website endpoint answers 301 to it.
    #[serde(default)]
    pub website_redirect: Option<String>,
}

/// A flexible checksum as stored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StoredChecksum {
    /// The algorithm.
    pub algorithm: ChecksumAlgorithm,
    /// base64 of the digest, as S3 shows it
    pub value: String,
}

/// Where a version's bytes are.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum DataLocation {
    /// Bytes in `I|uid`.
    Inline,
    /// One blob file.
    Blob([u8; 16]),
    /// A completed multipart upload: `M|uid|offset` rows name the segments, in order.
    Manifest {
        /// How many parts.
        parts: u32,
    },
}

/// A byte range of a blob: how parts (and UploadPartCopy ranges) reference stored bytes
/// without copying them.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct Segment {
    /// The blob.
    pub blob: [u8; 16],
    /// Where in the blob the range starts.
    pub offset: u64,
    /// How long it is.
    pub len: u64,
}

/// `M|uid|object offset` -> the segment stored there and the part it came from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ManifestEntry {
    /// The part the segment belongs to.
    pub part_number: u32,
    /// The bytes.
    pub segment: Segment,
    /// The part's own checksum, on the part's first segment (GetObjectAttributes lists it).
    #[serde(default)]
    pub part_checksum: Option<StoredChecksum>,
    /// The segment's blob's data key, if the part is encrypted.
    #[serde(default)]
    pub sealed: Option<SealedKey>,
}

/// What a new object version is made of besides its bytes: who owns it and what it carries.
/// Every way of making a version (PUT, copy, multipart completion) starts from one of these, so
/// a field added here reaches all of them.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct NewObject {
    /// Canonical id of the owner (empty for anonymous writers).
    pub owner: String,
    /// Display name of the owner.
    pub owner_display_name: String,
    /// Content headers to return on GET.
    pub headers: ContentHeaders,
    /// `x-amz-meta-*`, names lower-cased without the prefix, in request order.
    pub user_meta: Vec<(String, String)>,
    /// None = STANDARD.
    pub storage_class: Option<StorageClass>,
    /// None = private.
    #[serde(default)]
    pub acl: Option<Vec<Grant>>,
    /// Object tags.
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    /// How its bytes are encrypted at rest (None: they are not).
    #[serde(default)]
    pub sse: Option<SseMode>,
    /// Retention and legal hold (the bucket's default retention applied by the engine).
    #[serde(default)]
    pub lock: crate::lock::ObjectLock,
}

/// Server-side encryption of a version (or of an upload's parts), as stored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum SseMode {
    /// SSE-S3: data keys wrapped by a key derived from the master key.
    S3,
    /// SSE-KMS: data keys wrapped by a key of the key service.
    Kms {
        /// The key's id, as the request named it.
        key_id: String,
        /// `x-amz-server-side-encryption-context` (base64 JSON), bound to the wrapped keys.
        context: Option<String>,
        /// `x-amz-server-side-encryption-bucket-key-enabled`.
        bucket_key: bool,
    },
    /// SSE-C: data keys wrapped by the customer's key, which is never stored; only its MD5
    /// (which S3 shows) and a salted HMAC to check later requests.
    Customer {
        /// base64 MD5 of the key, as the client sent it.
        key_md5: String,
        /// The HMAC's salt.
        salt: [u8; 16],
        /// HMAC-SHA256(salt, key).
        hmac: [u8; 32],
    },
}

/// A blob's data key, wrapped, and the blob's plaintext size (to find its last chunk).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SealedKey {
    /// The wrapped data key.
    pub wrapped: Vec<u8>,
    /// Plaintext bytes in the blob.
    pub plain_size: u64,
}

/// `U|bucket|key\0upload-id` -> an upload in progress.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct UploadRecord {
    /// The upload id.
    pub upload_id: String,
    /// The object key.
    pub key: String,
    /// When the upload was created.
    pub initiated_ms: i64,
    /// What the object gets on completion.
    #[serde(flatten)]
    pub object: NewObject,
    /// The checksum algorithm parts must carry.
    pub checksum_algorithm: Option<ChecksumAlgorithm>,
    /// How the object's checksum is made from the parts'.
    pub checksum_type: Option<ChecksumType>,
    /// The identity of a replica from another ksan, which the completed object takes.
    #[serde(default)]
    pub replica: Option<crate::targets::ReplicaIdentity>,
}

/// `P|upload-id|part number` -> an uploaded part.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PartRecord {
    /// 1..=10000.
    pub part_number: u32,
    /// Size in bytes.
    pub size: u64,
    /// Hex MD5 of the part's bytes.
    pub etag: String,
    /// When it was uploaded.
    pub last_modified_ms: i64,
    /// Its flexible checksum.
    pub checksum: Option<StoredChecksum>,
    /// Its bytes: one new blob, or ranges of other objects' blobs.
    pub segments: Vec<Segment>,
    /// The data key of an encrypted part (whose one segment is its own new blob).
    #[serde(default)]
    pub sealed: Option<SealedKey>,
}

/// A version of an object (or a delete marker).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ObjectVersion {
    /// The object key.
    pub key: String,
    /// Internal unique id: inverted time || random. Orders versions newest first.
    pub uid: [u8; 16],
    /// None is the `null` version.
    pub version_id: Option<String>,
    /// A delete marker has no bytes.
    #[serde(default)]
    pub delete_marker: bool,
    /// Size in bytes.
    pub size: u64,
    /// Hex MD5 (or multipart form), without quotes.
    pub etag: String,
    /// When the version was made.
    pub last_modified_ms: i64,
    /// Canonical id of the owner.
    pub owner: String,
    /// Display name of the owner.
    #[serde(default)]
    pub owner_display_name: String,
    /// Content headers.
    #[serde(default)]
    pub headers: ContentHeaders,
    /// User metadata.
    #[serde(default)]
    pub user_meta: Vec<(String, String)>,
    /// The whole object's checksum.
    #[serde(default)]
    pub checksum: Option<StoredChecksum>,
    /// None = STANDARD.
    #[serde(default)]
    pub storage_class: Option<StorageClass>,
    /// Where the bytes are.
    pub data: DataLocation,
    /// COMPOSITE for multipart checksums of parts' checksums; None means FULL_OBJECT.
    #[serde(default)]
    pub checksum_type: Option<ChecksumType>,
    /// None = private (the owner has FULL_CONTROL).
    #[serde(default)]
    pub acl: Option<Vec<Grant>>,
    /// Object tags, in the order they were given.
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    /// Encryption at rest (None: none).
    #[serde(default)]
    pub sse: Option<SseMode>,
    /// The data key of a single encrypted blob (`DataLocation::Blob`); a multipart object's
    /// are in its manifest entries.
    #[serde(default)]
    pub sealed: Option<SealedKey>,
    /// Retention and legal hold (object lock).
    #[serde(default)]
    pub lock: crate::lock::ObjectLock,
    /// A delete marker the lifecycle made when the version below it expired (replication
    /// leaves these alone, as S3 does).
    #[serde(default)]
    pub by_lifecycle: bool,
    /// Replication status and the destinations still to reach (None: not replicated).
    #[serde(default)]
    pub replication: Option<crate::replication::ReplicationState>,
}

/// What a version's bytes are: their size, digests and place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Content {
    /// Size in bytes.
    pub size: u64,
    /// Hex MD5 (or multipart form).
    pub etag: String,
    /// The whole object's checksum.
    pub checksum: Option<StoredChecksum>,
    /// COMPOSITE for a multipart checksum of the parts' checksums.
    pub checksum_type: Option<ChecksumType>,
    /// Where the bytes are.
    pub data: DataLocation,
    /// The data key of an encrypted single blob.
    pub sealed: Option<SealedKey>,
}

impl ObjectVersion {
    /// A new version of `key` (its version id is assigned when it is inserted).
    pub fn new(key: String, object: NewObject, content: Content) -> ObjectVersion {
        let NewObject {
            owner,
            owner_display_name,
            headers,
            user_meta,
            storage_class,
            acl,
            tags,
            sse,
            lock,
        } = object;
        ObjectVersion {
            key,
            uid: crate::new_uid(),
            version_id: None,
            delete_marker: false,
            size: content.size,
            etag: content.etag,
            last_modified_ms: crate::now_ms(),
            owner,
            owner_display_name,
            headers,
            user_meta,
            checksum: content.checksum,
            storage_class,
            data: content.data,
            checksum_type: content.checksum_type,
            acl,
            tags,
            sse,
            sealed: content.sealed,
            lock,
            by_lifecycle: false,
            replication: None,
        }
    }

    /// A delete marker for `key`, owned by who deleted it.
    pub fn delete_marker(key: String, owner: String, owner_display_name: String) -> ObjectVersion {
        let object = NewObject {
            owner,
            owner_display_name,
            ..NewObject::default()
        };
        let content = Content {
            size: 0,
            etag: String::new(),
            checksum: None,
            checksum_type: None,
            data: DataLocation::Inline,
            sealed: None,
        };
        ObjectVersion {
            delete_marker: true,
            ..ObjectVersion::new(key, object, content)
        }
    }

    /// The ETag in quotes, as headers and XML show it.
    pub fn quoted_etag(&self) -> String {
        format!("\"{}\"", self.etag)
    }
    /// The version id, `null` for the null version.
    pub fn version_id_str(&self) -> &str {
        self.version_id.as_deref().unwrap_or("null")
    }
    /// The storage class's name.
    pub fn storage_class_str(&self) -> &'static str {
        self.storage_class.unwrap_or(StorageClass::Standard).as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let object = NewObject {
            owner: "o".into(),
            owner_display_name: "d".into(),
            user_meta: vec![("a".into(), "b".into())],
            storage_class: Some(StorageClass::Glacier),
            ..NewObject::default()
        };
        let content = Content {
            size: 3,
            etag: "abc".into(),
            checksum: Some(StoredChecksum {
                algorithm: ChecksumAlgorithm::Crc32,
                value: "AAAAAA==".into(),
            }),
            checksum_type: None,
            data: DataLocation::Blob([1; 16]),
            sealed: None,
        };
        let v = ObjectVersion::new("k".into(), object.clone(), content);
        let bytes = encode(&v).unwrap();
        assert_eq!(decode::<ObjectVersion>(&bytes).unwrap(), v);
        let upload = UploadRecord {
            upload_id: "u".into(),
            key: "k".into(),
            initiated_ms: 5,
            object,
            checksum_algorithm: None,
            checksum_type: Some(ChecksumType::Composite),
            replica: None,
        };
        assert_eq!(decode::<UploadRecord>(&encode(&upload).unwrap()).unwrap(), upload);
    }

    /// Records written before the storage class and checksum type became enums, and before
    /// uploads kept their object attributes together, still read.
    #[test]
    fn older_records_read() {
        #[derive(Serialize)]
        struct OldUpload<'a> {
            upload_id: &'a str,
            key: &'a str,
            initiated_ms: i64,
            owner: &'a str,
            owner_display_name: &'a str,
            headers: ContentHeaders,
            user_meta: Vec<(String, String)>,
            storage_class: Option<&'a str>,
            checksum_algorithm: Option<ChecksumAlgorithm>,
            checksum_type: Option<&'a str>,
        }
        let old = OldUpload {
            upload_id: "u",
            key: "k",
            initiated_ms: 1,
            owner: "o",
            owner_display_name: "d",
            headers: ContentHeaders::default(),
            user_meta: vec![],
            storage_class: Some("STANDARD_IA"),
            checksum_algorithm: Some(ChecksumAlgorithm::Sha256),
            checksum_type: Some("FullObject"),
        };
        let u: UploadRecord = decode(&encode(&old).unwrap()).unwrap();
        assert_eq!(u.object.owner, "o");
        assert_eq!(u.object.storage_class, Some(StorageClass::StandardIa));
        assert_eq!(u.checksum_type, Some(ChecksumType::FullObject));
        assert!(u.object.tags.is_empty() && u.object.acl.is_none());
    }
}
