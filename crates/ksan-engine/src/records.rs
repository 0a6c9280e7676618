//! Records stored in the metadata store, encoded as MessagePack with field names so that
//! fields can be added later (`#[serde(default)]`) without rewriting old records.

use ksan_types::{ChecksumAlgorithm, S3Error, S3Result};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::access::acl::{Grant, ObjectOwnership, PublicAccessBlock};

pub fn encode<T: Serialize>(value: &T) -> S3Result<Vec<u8>> {
    rmp_serde::to_vec_named(value).map_err(S3Error::internal)
}

pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> S3Result<T> {
    rmp_serde::from_slice(bytes).map_err(S3Error::internal)
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct UserRecord {
    pub name: String,
    /// 64 hex characters, as S3's canonical user ids.
    pub canonical_id: String,
    pub display_name: String,
    pub access_keys: Vec<String>,
    #[serde(default)]
    pub root: bool,
    pub created_ms: i64,
    /// For ACL grants by e-mail address.
    #[serde(default)]
    pub email: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessKeyRecord {
    pub access_key: String,
    pub secret_key: String,
    pub user: String,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
pub enum Versioning {
    /// Never enabled: no `<Status>` in GetBucketVersioning.
    #[default]
    Unversioned,
    Enabled,
    Suspended,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct BucketRecord {
    pub name: String,
    pub owner: String,
    pub owner_display_name: String,
    pub created_ms: i64,
    /// The LocationConstraint given at creation (None = us-east-1 default).
    pub location: Option<String>,
    #[serde(default)]
    pub versioning: Versioning,
    /// None = private (the owner has FULL_CONTROL).
    #[serde(default)]
    pub acl: Option<Vec<Grant>>,
    /// None = no ownership controls (objects belong to their writer).
    #[serde(default)]
    pub ownership: Option<ObjectOwnership>,
    /// The bucket policy, exactly as it was put.
    #[serde(default)]
    pub policy: Option<String>,
    #[serde(default)]
    pub public_access_block: Option<PublicAccessBlock>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ContentHeaders {
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    pub content_disposition: Option<String>,
    pub content_language: Option<String>,
    pub cache_control: Option<String>,
    pub expires: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StoredChecksum {
    pub algorithm: ChecksumAlgorithm,
    /// base64 of the digest, as S3 shows it
    pub value: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum DataLocation {
    /// Bytes in `I|uid`.
    Inline,
    /// One blob file.
    Blob([u8; 16]),
    /// A completed multipart upload: `M|uid|offset` rows name the segments, in order.
    Manifest { parts: u32 },
}

/// A byte range of a blob: how parts (and UploadPartCopy ranges) reference stored bytes
/// without copying them.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct Segment {
    pub blob: [u8; 16],
    pub offset: u64,
    pub len: u64,
}

/// `M|uid|object offset` -> the segment stored there and the part it came from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ManifestEntry {
    pub part_number: u32,
    pub segment: Segment,
    /// The part's own checksum, on the part's first segment (GetObjectAttributes lists it).
    #[serde(default)]
    pub part_checksum: Option<StoredChecksum>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum ChecksumType {
    Composite,
    FullObject,
}

impl ChecksumType {
    pub fn as_str(self) -> &'static str {
        match self {
            ChecksumType::Composite => "COMPOSITE",
            ChecksumType::FullObject => "FULL_OBJECT",
        }
    }
}

/// `U|bucket|key\0upload-id` -> an upload in progress.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct UploadRecord {
    pub upload_id: String,
    pub key: String,
    pub initiated_ms: i64,
    pub owner: String,
    pub owner_display_name: String,
    pub headers: ContentHeaders,
    pub user_meta: Vec<(String, String)>,
    pub storage_class: Option<String>,
    pub checksum_algorithm: Option<ChecksumAlgorithm>,
    pub checksum_type: Option<ChecksumType>,
    /// The ACL the object gets on completion (None = private).
    #[serde(default)]
    pub acl: Option<Vec<Grant>>,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
}

/// `P|upload-id|part number` -> an uploaded part.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PartRecord {
    pub part_number: u32,
    pub size: u64,
    /// Hex MD5 of the part's bytes.
    pub etag: String,
    pub last_modified_ms: i64,
    pub checksum: Option<StoredChecksum>,
    pub segments: Vec<Segment>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ObjectVersion {
    pub key: String,
    /// Internal unique id: inverted time || random. Orders versions newest first.
    pub uid: [u8; 16],
    /// None is the `null` version.
    pub version_id: Option<String>,
    #[serde(default)]
    pub delete_marker: bool,
    pub size: u64,
    /// Hex MD5 (or multipart form), without quotes.
    pub etag: String,
    pub last_modified_ms: i64,
    pub owner: String,
    #[serde(default)]
    pub owner_display_name: String,
    #[serde(default)]
    pub headers: ContentHeaders,
    #[serde(default)]
    pub user_meta: Vec<(String, String)>,
    #[serde(default)]
    pub checksum: Option<StoredChecksum>,
    #[serde(default)]
    pub storage_class: Option<String>,
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
}

impl ObjectVersion {
    pub fn quoted_etag(&self) -> String {
        format!("\"{}\"", self.etag)
    }
    pub fn version_id_str(&self) -> &str {
        self.version_id.as_deref().unwrap_or("null")
    }
    pub fn storage_class_str(&self) -> &str {
        self.storage_class.as_deref().unwrap_or("STANDARD")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let v = ObjectVersion {
            key: "k".into(),
            uid: [7; 16],
            version_id: None,
            delete_marker: false,
            size: 3,
            etag: "abc".into(),
            last_modified_ms: 1,
            owner: "o".into(),
            owner_display_name: "d".into(),
            headers: ContentHeaders::default(),
            user_meta: vec![("a".into(), "b".into())],
            checksum: Some(StoredChecksum {
                algorithm: ChecksumAlgorithm::Crc32,
                value: "AAAAAA==".into(),
            }),
            storage_class: None,
            data: DataLocation::Blob([1; 16]),
            checksum_type: None,
            acl: None,
            tags: Vec::new(),
        };
        let bytes = encode(&v).unwrap();
        assert_eq!(decode::<ObjectVersion>(&bytes).unwrap(), v);
    }
}
