//! The version-transaction core shared by every change to an object: put, copy, multipart
//! completion, delete. Inside one metadata transaction it inserts a version as the key's
//! newest (assigning its version id by the bucket's versioning state and replacing the `null`
//! version), removes versions and releases what they reference, keeps the `L` row (what
//! listings scan) in step, and counts blob references; the last release of a blob queues it for
//! the garbage collector in the same transaction.

use bytes::Bytes;
use ksan_meta::{ReadOps, WriteOps};
use ksan_types::{ErrorCode, S3Error, S3Result};

use crate::keys::{self, Queue};
use crate::records::{BucketRecord, DataLocation, ManifestEntry, ObjectVersion, Versioning, decode, encode};
use crate::store;

/// The bucket record, read to be written against (NoSuchBucket if it is gone).
pub(crate) async fn load_bucket(txn: &dyn WriteOps, bucket: &str) -> S3Result<BucketRecord> {
    store::get_for_update(txn, &keys::bucket(bucket))
        .await?
        .ok_or_else(|| S3Error::new(ErrorCode::NoSuchBucket).bucket(bucket))
}

/// The uid of a key's `null` version.
pub(crate) async fn null_uid(ops: &dyn ReadOps, bucket: &str, key: &str) -> S3Result<Option<[u8; 16]>> {
    store::get_id(ops, &keys::null_version(bucket, key)).await
}

/// The newest version of a key (a delete marker too).
pub(crate) async fn newest_version(ops: &dyn ReadOps, bucket: &str, key: &str) -> S3Result<Option<ObjectVersion>> {
    let rows = store::scan(ops, &keys::version_key_prefix(bucket, key), 1).await?;
    rows.first().map(|(_, v)| decode(v)).transpose()
}

/// What a new version's bytes are, as the transaction that inserts it must reference them.
pub(crate) enum NewData<'a> {
    /// Bytes small enough to live in the metadata store.
    Inline(&'a Bytes),
    /// A blob written for this version (its first reference).
    NewBlob,
    /// Another version's bytes, shared (CopyObject): its inline bytes or manifest.
    Shared {
        inline: Option<&'a Bytes>,
        manifest: Option<&'a [(u64, ManifestEntry)]>,
    },
}

/// Reference a new version's bytes: store inline bytes, count blob references, copy a shared
/// manifest. NoSuchKey if a shared source's blob went away since it was looked up.
pub(crate) async fn reference_data(txn: &mut dyn WriteOps, version: &ObjectVersion, data: NewData<'_>) -> S3Result<()> {
    let gone = || S3Error::new(ErrorCode::NoSuchKey).key(version.key.clone());
    match (&version.data, data) {
        (DataLocation::Inline, NewData::Inline(bytes))
        | (
            DataLocation::Inline,
            NewData::Shared {
                inline: Some(bytes), ..
            },
        ) => store::put_raw(txn, &keys::inline(&version.uid), bytes),
        (DataLocation::Blob(id), NewData::NewBlob) => add_blob_ref(txn, id, true).await.map(drop),
        (DataLocation::Blob(id), NewData::Shared { .. }) => {
            if add_blob_ref(txn, id, false).await? {
                Ok(())
            } else {
                Err(gone())
            }
        }
        (
            DataLocation::Manifest { .. },
            NewData::Shared {
                manifest: Some(entries),
                ..
            },
        ) => {
            for (offset, entry) in entries {
                if !add_blob_ref(txn, &entry.segment.blob, false).await? {
                    return Err(gone());
                }
                store::put(txn, &keys::manifest(&version.uid, *offset), entry)?;
            }
            Ok(())
        }
        _ => Err(S3Error::internal("a version's data does not match its source")),
    }
}

/// Write a new version as the key's newest: assigns its version id by the bucket's versioning
/// state, replaces the null version when it is one, queues its replication (the outbox), and
/// updates the latest row.
pub(crate) async fn insert_version(
    txn: &mut dyn WriteOps,
    bucket: &BucketRecord,
    version: &mut ObjectVersion,
) -> S3Result<()> {
    let (b, k) = (bucket.name.as_str(), version.key.clone());
    match bucket.versioning {
        Versioning::Enabled => version.version_id = Some(hex::encode(version.uid)),
        Versioning::Unversioned | Versioning::Suspended => {
            version.version_id = None;
            take_null_slot(txn, b, &k, &version.uid).await?;
        }
    }
    crate::replication::outbox(txn, b, version, crate::replication::Change::New).await?;
    let bytes = encode(&*version)?;
    store::put_raw(txn, &keys::version(b, &k, &version.uid), &bytes)?;
    if version.delete_marker {
        store::delete(txn, &keys::latest(b, &k))
    } else {
        store::put_raw(txn, &keys::latest(b, &k), &bytes)
    }
}

/// Write a replica version row at its uid (it need not be the key's newest), replacing the
/// key's `null` replica if it is one, and keep the latest row in step.
pub(crate) async fn place_version(txn: &mut dyn WriteOps, bucket: &str, r: &ObjectVersion) -> S3Result<()> {
    if r.version_id.is_none() {
        take_null_slot(txn, bucket, &r.key, &r.uid).await?;
    }
    store::put(txn, &keys::version(bucket, &r.key, &r.uid), r)?;
    refresh_latest(txn, bucket, &r.key).await
}

/// Make `uid` the key's `null` version: the one it replaces (if another) is removed.
async fn take_null_slot(txn: &mut dyn WriteOps, bucket: &str, key: &str, uid: &[u8; 16]) -> S3Result<()> {
    if let Some(old_uid) = null_uid(&*txn, bucket, key).await?
        && old_uid != *uid
        && let Some(old) = store::get::<ObjectVersion>(&*txn, &keys::version(bucket, key, &old_uid)).await?
    {
        remove_version(txn, bucket, &old).await?;
    }
    store::put_raw(txn, &keys::null_version(bucket, key), uid)
}

/// Remove one version row and release what it references. The caller refreshes the latest row.
pub(crate) async fn remove_version(txn: &mut dyn WriteOps, bucket: &str, v: &ObjectVersion) -> S3Result<()> {
    store::delete(txn, &keys::version(bucket, &v.key, &v.uid))?;
    if v.version_id.is_none() {
        store::delete(txn, &keys::null_version(bucket, &v.key))?;
    }
    match &v.data {
        DataLocation::Inline => store::delete(txn, &keys::inline(&v.uid)),
        DataLocation::Blob(id) => release_blob(txn, id).await,
        DataLocation::Manifest { .. } => {
            for (offset, entry) in load_manifest(&*txn, &v.uid).await? {
                release_blob(txn, &entry.segment.blob).await?;
                store::delete(txn, &keys::manifest(&v.uid, offset))?;
            }
            Ok(())
        }
    }
}

/// Make the latest row agree with the newest version row.
pub(crate) async fn refresh_latest(txn: &mut dyn WriteOps, bucket: &str, key: &str) -> S3Result<()> {
    let newest = store::scan(&*txn, &keys::version_key_prefix(bucket, key), 1).await?;
    match newest.into_iter().next() {
        Some((_, bytes)) if !decode::<ObjectVersion>(&bytes)?.delete_marker => {
            store::put_raw(txn, &keys::latest(bucket, key), &bytes)
        }
        _ => store::delete(txn, &keys::latest(bucket, key)),
    }
}

/// Replace a version's record in place (its ACL, tags, ...), keeping the latest row in step.
pub(crate) async fn rewrite_version(txn: &mut dyn WriteOps, bucket: &str, v: &ObjectVersion) -> S3Result<()> {
    let bytes = encode(v)?;
    store::put_raw(txn, &keys::version(bucket, &v.key, &v.uid), &bytes)?;
    let latest = keys::latest(bucket, &v.key);
    if let Some(current) = store::get::<ObjectVersion>(&*txn, &latest).await?
        && current.uid == v.uid
    {
        store::put_raw(txn, &latest, &bytes)?;
    }
    Ok(())
}

/// All manifest rows of a multipart object, by object offset.
pub(crate) async fn load_manifest(ops: &dyn ReadOps, uid: &[u8; 16]) -> S3Result<Vec<(u64, ManifestEntry)>> {
    let prefix = keys::manifest_prefix(uid);
    store::scan(ops, &prefix, usize::MAX)
        .await?
        .into_iter()
        .map(|(k, v)| {
            let off = k
                .get(prefix.len()..)
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map(u64::from_be_bytes)
                .ok_or_else(|| S3Error::internal("bad manifest key"))?;
            Ok((off, decode(&v)?))
        })
        .collect()
}

/// Count one more reference to a blob. A new blob gets its first reference; an existing one
/// must still be referenced (returns false if it is gone).
pub(crate) async fn add_blob_ref(txn: &mut dyn WriteOps, id: &[u8; 16], new: bool) -> S3Result<bool> {
    let key = keys::blob_ref(id);
    let count = match store::get_count(&*txn, &key).await? {
        Some(n) => n,
        None if new => 0,
        None => return Ok(false),
    };
    store::put_raw(txn, &key, &(count + 1).to_be_bytes())?;
    Ok(true)
}

/// Drop one reference to a blob; the last one queues the blob for deletion (the collector
/// applies the grace period; the item is due now).
pub(crate) async fn release_blob(txn: &mut dyn WriteOps, id: &[u8; 16]) -> S3Result<()> {
    let key = keys::blob_ref(id);
    let Some(count) = store::get_count(&*txn, &key).await? else {
        return Ok(());
    };
    if count > 1 {
        return store::put_raw(txn, &key, &(count - 1).to_be_bytes());
    }
    store::delete(txn, &key)?;
    crate::workers::enqueue(txn, Queue::Gc, crate::now_ms(), id)
}

/// Release every blob of a list of segments (a part's, an upload's).
pub(crate) async fn release_segments(txn: &mut dyn WriteOps, segments: &[crate::records::Segment]) -> S3Result<()> {
    for s in segments {
        release_blob(txn, &s.blob).await?;
    }
    Ok(())
}
