//! The metadata key layout (docs/ARCHITECTURE.md, "Metadata model"). Every key starts with a
//! one-letter table tag and a `|`; the parts sort correctly as bytes. Bucket names never contain
//! `|`, and object keys never contain NUL (rejected at the protocol layer), so `key\0` ends a key.

/// `B|bucket` -> BucketRecord
pub fn bucket(name: &str) -> Vec<u8> {
    cat(&[b"B|", name.as_bytes()])
}
pub const BUCKET_PREFIX: &[u8] = b"B|";

/// `C|bucket|kind` -> a bucket configuration document
pub fn config(bucket: &str, kind: &str) -> Vec<u8> {
    cat(&[b"C|", bucket.as_bytes(), b"|", kind.as_bytes()])
}

/// `L|bucket|key` -> the latest visible version (what ListObjects scans)
pub fn latest(bucket: &str, key: &str) -> Vec<u8> {
    cat(&[&latest_prefix(bucket), key.as_bytes()])
}
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
/// All versions in a bucket.
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

/// `Q|queue|due|seq` -> a work item, due at `due_ms`
pub fn queue(queue: &str, due_ms: u64, seq: &[u8; 8]) -> Vec<u8> {
    cat(&[b"Q|", queue.as_bytes(), b"|", &due_ms.to_be_bytes(), seq])
}
pub fn queue_prefix(queue: &str) -> Vec<u8> {
    cat(&[b"Q|", queue.as_bytes(), b"|"])
}

/// `U|bucket|key\0upload-id` -> UploadRecord
pub fn upload(bucket: &str, key: &str, upload_id: &str) -> Vec<u8> {
    cat(&[&upload_prefix(bucket), key.as_bytes(), b"\0", upload_id.as_bytes()])
}
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
pub const COMPLETED_PREFIX: &[u8] = b"X|";

/// `P|upload-id|part number` -> PartRecord
pub fn part(upload_id: &str, part_number: u32) -> Vec<u8> {
    cat(&[&part_prefix(upload_id), &part_number.to_be_bytes()])
}
pub fn part_prefix(upload_id: &str) -> Vec<u8> {
    cat(&[b"P|", upload_id.as_bytes(), b"|"])
}

/// `M|uid|offset` -> ManifestEntry of a completed multipart object
pub fn manifest(uid: &[u8; 16], offset: u64) -> Vec<u8> {
    cat(&[&manifest_prefix(uid), &offset.to_be_bytes()])
}
pub fn manifest_prefix(uid: &[u8; 16]) -> Vec<u8> {
    cat(&[b"M|", uid, b"|"])
}

/// `A|access-key` -> AccessKeyRecord
pub fn access_key(ak: &str) -> Vec<u8> {
    cat(&[b"A|", ak.as_bytes()])
}

/// `W|user-name` -> UserRecord
pub fn user(name: &str) -> Vec<u8> {
    cat(&[USER_PREFIX, name.as_bytes()])
}
pub const USER_PREFIX: &[u8] = b"W|";

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
