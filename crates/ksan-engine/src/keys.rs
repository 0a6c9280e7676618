//! The metadata key layout (docs/ARCHITECTURE.md, "Metadata model"). Every key starts with a
//! one-letter table tag and a `|`; the parts sort correctly as bytes. Bucket names never contain
//! `|`, and object keys never contain NUL (rejected at the protocol layer), so `key\0` ends a key.

/// `B|bucket` -> BucketRecord
pub fn bucket(name: &str) -> Vec<u8> {
    cat(&[b"B|", name.as_bytes()])
}
/// Every bucket record.
pub const BUCKET_PREFIX: &[u8] = b"B|";

/// The kinds of bucket configuration, each a `C|bucket|kind` row (see `crate::config`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConfigKind {
    /// The bucket ACL.
    Acl,
    /// Object Ownership controls.
    Ownership,
    /// The bucket policy.
    Policy,
    /// The public access block.
    PublicAccessBlock,
    /// The CORS rules.
    Cors,
    /// The static website configuration.
    Website,
    /// The bucket's tags.
    Tagging,
    /// The default encryption.
    Encryption,
    /// Object lock (and its default retention).
    ObjectLock,
    /// The lifecycle rules.
    Lifecycle,
    /// The replication rules.
    Replication,
}

impl ConfigKind {
    /// Every kind.
    pub const ALL: [ConfigKind; 11] = [
        ConfigKind::Acl,
        ConfigKind::Ownership,
        ConfigKind::Policy,
        ConfigKind::PublicAccessBlock,
        ConfigKind::Cors,
        ConfigKind::Website,
        ConfigKind::Tagging,
        ConfigKind::Encryption,
        ConfigKind::ObjectLock,
        ConfigKind::Lifecycle,
        ConfigKind::Replication,
    ];

    /// The kind's name in its row key.
    pub fn as_str(self) -> &'static str {
        match self {
            ConfigKind::Acl => "acl",
            ConfigKind::Ownership => "ownership",
            ConfigKind::Policy => "policy",
            ConfigKind::PublicAccessBlock => "public-access-block",
            ConfigKind::Cors => "cors",
            ConfigKind::Website => "website",
            ConfigKind::Tagging => "tagging",
            ConfigKind::Encryption => "encryption",
            ConfigKind::ObjectLock => "object-lock",
            ConfigKind::Lifecycle => "lifecycle",
            ConfigKind::Replication => "replication",
        }
    }

    /// The kind named in a row key.
    pub fn from_name(name: &str) -> Option<ConfigKind> {
        ConfigKind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

/// `C|bucket|kind` -> a bucket configuration
pub fn config(bucket: &str, kind: ConfigKind) -> Vec<u8> {
    cat(&[&config_prefix(bucket), kind.as_str().as_bytes()])
}
/// Every configuration of a bucket.
pub fn config_prefix(bucket: &str) -> Vec<u8> {
    cat(&[b"C|", bucket.as_bytes(), b"|"])
}

/// `L|bucket|key` -> the latest visible version (what ListObjects scans)
pub fn latest(bucket: &str, key: &str) -> Vec<u8> {
    cat(&[&latest_prefix(bucket), key.as_bytes()])
}
/// Every latest-version row of a bucket.
pub fn latest_prefix(bucket: &str) -> Vec<u8> {
    cat(&[b"L|", bucket.as_bytes(), b"|"])
}

/// `V|bucket|key\0uid` -> a version record; uid starts with the inverted time, so the newest
/// version of a key sorts first.
pub fn version(bucket: &str, key: &str, uid: &[u8; 16]) -> Vec<u8> {
    cat(&[&version_key_prefix(bucket, key), uid])
}
/// All versions of one key.
pub fn version_key_prefix(bucket: &str, key: &str) -> Vec<u8> {
    cat(&[&version_prefix(bucket), key.as_bytes(), b"\0"])
}
/// Every version row of every bucket (the integrity scrubber's walk).
pub fn version_prefix_all() -> &'static [u8] {
    b"V|"
}
/// All versions of one bucket.
pub fn version_prefix(bucket: &str) -> Vec<u8> {
    cat(&[b"V|", bucket.as_bytes(), b"|"])
}

/// `N|bucket|key` -> uid of the key's `null` version
pub fn null_version(bucket: &str, key: &str) -> Vec<u8> {
    cat(&[b"N|", bucket.as_bytes(), b"|", key.as_bytes()])
}

/// `I|uid` -> inline bytes of a small object
pub fn inline(uid: &[u8; 16]) -> Vec<u8> {
    cat(&[b"I|", uid])
}

/// `K|blob` -> reference count of a blob
pub fn blob_ref(blob: &[u8; 16]) -> Vec<u8> {
    cat(&[b"K|", blob])
}

/// The work queues, each a run of `Q|queue|due|seq` rows written in the transaction of the
/// change that causes the work (outbox) and claimed by a worker (see `crate::workers`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Queue {
    /// Blobs whose last reference is gone (value: the blob id).
    Gc,
    /// Answers kept for repeated CompleteMultipartUpload calls, to forget once due (value: the
    /// `X|` row's key).
    CompletedUploads,
    /// Versions to replicate, and walks of existing objects to queue
    /// (value: `replication::WorkItem`).
    Replicate,
}

impl Queue {
    /// The queue's name in its row keys.
    pub fn as_str(self) -> &'static str {
        match self {
            Queue::Gc => "gc",
            Queue::CompletedUploads => "completed",
            Queue::Replicate => "replicate",
        }
    }
}

/// `Q|queue|due|seq` -> a work item, due at `due_ms`
pub fn queue(queue: Queue, due_ms: u64, seq: &[u8; 8]) -> Vec<u8> {
    cat(&[&queue_prefix(queue), &due_ms.to_be_bytes(), seq])
}
/// Every item of a queue, in due order.
pub fn queue_prefix(queue: Queue) -> Vec<u8> {
    cat(&[b"Q|", queue.as_str().as_bytes(), b"|"])
}

/// `U|bucket|key\0upload-id` -> UploadRecord
pub fn upload(bucket: &str, key: &str, upload_id: &str) -> Vec<u8> {
    cat(&[&upload_prefix(bucket), key.as_bytes(), b"\0", upload_id.as_bytes()])
}
/// Every upload in progress in a bucket.
pub fn upload_prefix(bucket: &str) -> Vec<u8> {
    cat(&[b"U|", bucket.as_bytes(), b"|"])
}

/// `X|bucket|key\0upload-id` -> the version a completed upload created (a repeated
/// CompleteMultipartUpload answers with it, as S3 does)
pub fn completed_upload(bucket: &str, key: &str, upload_id: &str) -> Vec<u8> {
    cat(&[
        COMPLETED_PREFIX,
        bucket.as_bytes(),
        b"|",
        key.as_bytes(),
        b"\0",
        upload_id.as_bytes(),
    ])
}
/// Every completed-upload answer.
pub const COMPLETED_PREFIX: &[u8] = b"X|";
/// The completed-upload answers of a bucket.
pub fn completed_prefix(bucket: &str) -> Vec<u8> {
    cat(&[COMPLETED_PREFIX, bucket.as_bytes(), b"|"])
}

/// `P|upload-id|part number` -> PartRecord
pub fn part(upload_id: &str, part_number: u32) -> Vec<u8> {
    cat(&[&part_prefix(upload_id), &part_number.to_be_bytes()])
}
/// Every part of an upload.
pub fn part_prefix(upload_id: &str) -> Vec<u8> {
    cat(&[b"P|", upload_id.as_bytes(), b"|"])
}

/// `M|uid|offset` -> ManifestEntry of a completed multipart object
pub fn manifest(uid: &[u8; 16], offset: u64) -> Vec<u8> {
    cat(&[&manifest_prefix(uid), &offset.to_be_bytes()])
}
/// Every manifest row of a multipart object.
pub fn manifest_prefix(uid: &[u8; 16]) -> Vec<u8> {
    cat(&[b"M|", uid, b"|"])
}

/// `Z|kms|key id` -> KmsKeyRecord: a key of the built-in key service
pub fn kms_key(id: &str) -> Vec<u8> {
    cat(&[KMS_PREFIX, id.as_bytes()])
}
/// Every key of the built-in key service.
pub const KMS_PREFIX: &[u8] = b"Z|kms|";

/// `A|access-key` -> AccessKeyRecord (its secret sealed by the master key)
pub fn access_key(ak: &str) -> Vec<u8> {
    cat(&[ACCESS_KEY_PREFIX, ak.as_bytes()])
}
/// Every access key record.
pub const ACCESS_KEY_PREFIX: &[u8] = b"A|";

/// `W|user-name` -> UserRecord
pub fn user(name: &str) -> Vec<u8> {
    cat(&[USER_PREFIX, name.as_bytes()])
}
/// Every user record.
pub const USER_PREFIX: &[u8] = b"W|";

/// `O|canonical-id` -> the name of the user with that canonical id
pub fn user_by_canonical_id(id: &str) -> Vec<u8> {
    cat(&[b"O|", id.as_bytes()])
}

/// `Y|user name, lower-cased` -> the name of the user that holds it: names are unique
/// without regard to case, as account names are
pub fn user_by_folded_name(name: &str) -> Vec<u8> {
    cat(&[b"Y|", name.to_ascii_lowercase().as_bytes()])
}

/// `E|e-mail address, lower-cased` -> the name of the user with that address
pub fn user_by_email(email: &str) -> Vec<u8> {
    cat(&[b"E|", email.to_ascii_lowercase().as_bytes()])
}

/// `T|name` -> a replication target (`targets::TargetRecord`)
pub fn replication_target(name: &str) -> Vec<u8> {
    cat(&[REPLICATION_TARGET_PREFIX, name.as_bytes()])
}
/// Every replication target.
pub const REPLICATION_TARGET_PREFIX: &[u8] = b"T|";

/// `G|lifecycle-cursor` -> where the lifecycle executor's pass stands (`workers::lifecycle`):
/// the bucket, the phase and the last key done, so that a pass resumes after a restart.
pub fn lifecycle_cursor() -> Vec<u8> {
    global("lifecycle-cursor")
}

/// `G|lifecycle-last-pass` -> the outcome of the last finished lifecycle pass.
pub fn lifecycle_last_pass() -> Vec<u8> {
    global("lifecycle-last-pass")
}

/// `G|name` -> a server-wide setting (root user name, ...)
pub fn global(name: &str) -> Vec<u8> {
    cat(&[b"G|", name.as_bytes()])
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    let mut v = Vec::with_capacity(parts.iter().map(|p| p.len()).sum());
    for p in parts {
        v.extend_from_slice(p);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_of_a_key_sort_before_longer_keys() {
        let uid = [0xFF; 16];
        // "a" < "a/" < "ab" must hold for the version rows too.
        assert!(version("b", "a", &uid) < version("b", "a/", &[0; 16]));
        assert!(version("b", "a/", &uid) < version("b", "ab", &[0; 16]));
        assert!(latest("b", "a") < latest("b", "a/"));
        assert!(latest("b", "zzz") < latest_prefix("c"));
    }
}
