//! Objects: put, look up, read, delete, copy. Every change is one metadata transaction that
//! commits only after the object's bytes are durable (docs/ARCHITECTURE.md, "Durability").

use bytes::Bytes;
use futures_util::StreamExt;
use ksan_data::{BlobWriter, Digests, Hashers};
use ksan_meta::WriteOps;
use ksan_types::{BodyStream, ChecksumAlgorithm, ErrorCode, S3Error, S3Result, TrailerSlot};

use std::sync::Arc;

use crate::access::acl::Grant;
use crate::records::{
    BucketRecord, ContentHeaders, DataLocation, ManifestEntry, ObjectVersion, StoredChecksum, Versioning, decode,
    encode,
};
use crate::{Engine, keys, meta_err, new_uid, now_ms};

/// The largest object a single PUT may create.
pub const MAX_PUT_SIZE: u64 = 5 * 1024 * 1024 * 1024;

/// Preconditions of a conditional write.
#[derive(Debug, Clone, Default)]
pub struct WriteConditions {
    /// `If-Match`: the current object's ETag must match (`*` = any object must exist).
    pub if_match: Option<String>,
    /// `If-None-Match: *`: no current object may exist.
    pub if_none_match: Option<String>,
}

/// A checksum the client asked for: the algorithm, and the value if it came as a header (else
/// it comes as a trailer of an aws-chunked body).
#[derive(Debug, Clone)]
pub struct ChecksumRequest {
    pub algorithm: ChecksumAlgorithm,
    pub value: Option<String>,
}

/// What a new object version is made of, besides its bytes.
#[derive(Debug, Clone, Default)]
pub struct NewObject {
    pub owner: String,
    pub owner_display_name: String,
    pub headers: ContentHeaders,
    pub user_meta: Vec<(String, String)>,
    pub storage_class: Option<String>,
    /// None = private.
    pub acl: Option<Vec<Grant>>,
    pub tags: Vec<(String, String)>,
}

pub struct PutObjectRequest {
    pub bucket: String,
    pub key: String,
    pub object: NewObject,
    pub content_length: Option<u64>,
    pub content_md5: Option<[u8; 16]>,
    pub checksum: Option<ChecksumRequest>,
    pub trailers: TrailerSlot,
    pub conditions: WriteConditions,
}

/// A version looked up for reading, with its bytes if they are inline (read from the same
/// snapshot, so a concurrent overwrite cannot take them away).
#[derive(Debug, Clone)]
pub struct ObjectHandle {
    pub version: ObjectVersion,
    inline: Option<Bytes>,
    /// Segments of a multipart object by object offset, read with the version.
    manifest: Option<Arc<Vec<(u64, ManifestEntry)>>>,
}

/// The outcome of a DeleteObject.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeleteOutcome {
    /// The version that was removed or created (a delete marker), if versioning named one.
    pub version_id: Option<String>,
    pub delete_marker: bool,
}

/// Parse a client's version id: `null` or our 32-hex form.
pub fn parse_version_id(vid: &str) -> S3Result<Option<[u8; 16]>> {
    if vid == "null" {
        return Ok(None);
    }
    let mut uid = [0u8; 16];
    hex::decode_to_slice(vid, &mut uid)
        .map_err(|_| S3Error::invalid_argument("Invalid version id specified", "versionId", vid))?;
    Ok(Some(uid))
}

fn no_such_key(bucket: &str, key: &str) -> S3Error {
    S3Error::new(ErrorCode::NoSuchKey).key(key).bucket(bucket)
}

fn bad_checksum(algorithm: ChecksumAlgorithm) -> S3Error {
    S3Error::new(ErrorCode::BadDigest).msg(format!(
        "The {} you specified did not match the calculated checksum.",
        algorithm.as_str()
    ))
}

/// The bytes of a PUT as received: either small enough to live inline, or a finished blob.
pub(crate) enum Received {
    Inline { bytes: Bytes, digests: Digests },
    Blob { id: [u8; 16], size: u64, digests: Digests },
}

impl Received {
    pub(crate) fn digests(&self) -> &Digests {
        match self {
            Received::Inline { digests, .. } | Received::Blob { digests, .. } => digests,
        }
    }
    pub(crate) fn size(&self) -> u64 {
        match self {
            Received::Inline { bytes, .. } => bytes.len() as u64,
            Received::Blob { size, .. } => *size,
        }
    }
}

impl Engine {
    /// Stream a body to storage: small bodies stay in memory (to be stored inline), larger ones
    /// go to a new durable blob. Verifies size limits and digests.
    pub(crate) async fn receive(
        &self,
        mut body: BodyStream,
        content_length: Option<u64>,
        algorithms: &[ChecksumAlgorithm],
        max_size: u64,
        inline: bool,
    ) -> S3Result<Received> {
        let threshold = if inline { self.config.inline_threshold as u64 } else { 0 };
        let mut pending: Vec<Bytes> = Vec::new();
        let mut total: u64 = 0;
        let mut writer: Option<Box<dyn BlobWriter>> = None;
        if content_length.is_some_and(|l| l > threshold) {
            writer = Some(self.data.create(Hashers::new(algorithms)).await?);
        }
        while let Some(chunk) = body.next().await {
            let chunk = chunk?;
            total += chunk.len() as u64;
            if total > max_size {
                return Err(S3Error::new(ErrorCode::EntityTooLarge)
                    .with("ProposedSize", total.to_string())
                    .with("MaxSizeAllowed", max_size.to_string()));
            }
            match writer.as_mut() {
                Some(w) => w.write(chunk).await?,
                None => {
                    pending.push(chunk);
                    if total > threshold {
                        let mut w = self.data.create(Hashers::new(algorithms)).await?;
                        for c in pending.drain(..) {
                            w.write(c).await?;
                        }
                        writer = Some(w);
                    }
                }
            }
        }
        if let Some(len) = content_length
            && len != total
        {
            return Err(S3Error::new(ErrorCode::IncompleteBody));
        }
        match writer {
            Some(w) => {
                let id = w.id();
                let (size, digests) = w.finish().await?;
                Ok(Received::Blob {
                    id: id.0,
                    size,
                    digests,
                })
            }
            None => {
                let bytes = match pending.len() {
                    0 => Bytes::new(),
                    1 => pending.pop().unwrap_or_default(),
                    _ => Bytes::from(pending.concat()),
                };
                let mut hashers = Hashers::new(algorithms);
                hashers.update(&bytes);
                Ok(Received::Inline {
                    bytes,
                    digests: hashers.finish(),
                })
            }
        }
    }

    /// Remove a blob nobody references any more (a failed PUT's), in the background.
    pub(crate) fn discard(&self, received: &Received) {
        if let Received::Blob { id, .. } = received {
            let data = self.data.clone();
            let id = ksan_data::BlobId(*id);
            tokio::spawn(async move {
                if let Err(e) = data.delete(id).await {
                    tracing::warn!(blob = %id, error = %e, "could not remove unreferenced blob");
                }
            });
        }
    }

    pub async fn put_object(&self, req: PutObjectRequest, body: BodyStream) -> S3Result<ObjectVersion> {
        // S3 stores a CRC64NVME checksum for objects uploaded without one.
        let algorithm = req
            .checksum
            .as_ref()
            .map_or(ChecksumAlgorithm::Crc64Nvme, |c| c.algorithm);
        let received = self
            .receive(body, req.content_length, &[algorithm], MAX_PUT_SIZE, true)
            .await?;
        if let Err(e) = verify_digests(
            received.digests(),
            req.content_md5,
            req.checksum.as_ref(),
            &req.trailers,
        ) {
            self.discard(&received);
            return Err(e);
        }
        let digests = received.digests();
        let checksum = digests.checksums.first().map(|(a, v)| StoredChecksum {
            algorithm: *a,
            value: ksan_data::base64(v),
        });
        let uid = new_uid();
        let (data, inline) = match &received {
            Received::Inline { bytes, .. } => (DataLocation::Inline, Some(bytes.clone())),
            Received::Blob { id, .. } => (DataLocation::Blob(*id), None),
        };
        let version = ObjectVersion {
            key: req.key.clone(),
            uid,
            version_id: None,
            delete_marker: false,
            size: received.size(),
            etag: hex::encode(digests.md5),
            last_modified_ms: now_ms(),
            owner: req.object.owner,
            owner_display_name: req.object.owner_display_name,
            headers: req.object.headers,
            user_meta: req.object.user_meta,
            checksum,
            storage_class: req.object.storage_class,
            data,
            checksum_type: None,
            acl: req.object.acl,
            tags: req.object.tags,
        };
        let (bucket, conditions) = (req.bucket, req.conditions);
        let result = self
            .write(move |txn| {
                let bucket_record = load_bucket(txn, &bucket)?;
                check_write_conditions(txn, &bucket, &version.key, &conditions)?;
                let mut version = version;
                if let Some(bytes) = &inline {
                    txn.put(&keys::inline(&version.uid), bytes).map_err(meta_err)?;
                }
                if let DataLocation::Blob(id) = &version.data {
                    add_blob_ref(txn, id, true)?;
                }
                insert_version(txn, &bucket_record, &mut version)?;
                Ok(version)
            })
            .await;
        if result.is_err() {
            self.discard(&received);
        }
        result
    }

    /// PutObjectAcl: replace the ACL of one version (found earlier by `lookup`).
    pub async fn set_object_acl(&self, bucket: &str, version: &ObjectVersion, acl: Vec<Grant>) -> S3Result<()> {
        self.update_version(bucket, version, move |v| v.acl = Some(acl)).await
    }

    /// Put/DeleteObjectTagging: replace the tags of one version (found earlier by `lookup`).
    pub async fn set_object_tags(
        &self,
        bucket: &str,
        version: &ObjectVersion,
        tags: Vec<(String, String)>,
    ) -> S3Result<()> {
        self.update_version(bucket, version, move |v| v.tags = tags).await
    }

    /// Change a version's record in place (sub-resources: ACL, tags). NoSuchKey if the version
    /// went away since it was looked up.
    async fn update_version<F>(&self, bucket: &str, version: &ObjectVersion, change: F) -> S3Result<()>
    where
        F: FnOnce(&mut ObjectVersion) + Send + 'static,
    {
        let (bucket, key, uid) = (bucket.to_owned(), version.key.clone(), version.uid);
        self.write(move |txn| {
            let row = keys::version(&bucket, &key, &uid);
            let Some(bytes) = txn.get(&row).map_err(meta_err)? else {
                return Err(no_such_key(&bucket, &key));
            };
            let mut v: ObjectVersion = decode(&bytes)?;
            change(&mut v);
            let bytes = encode(&v)?;
            txn.put(&row, &bytes).map_err(meta_err)?;
            // The latest-version row is a copy; keep it in step.
            let latest = keys::latest(&bucket, &key);
            if let Some(current) = txn.get(&latest).map_err(meta_err)?
                && decode::<ObjectVersion>(&current)?.uid == uid
            {
                txn.put(&latest, &bytes).map_err(meta_err)?;
            }
            Ok(())
        })
        .await
    }

    /// Find a version (the latest when `version_id` is None).
    pub fn lookup(&self, bucket: &str, key: &str, version_id: Option<&str>) -> S3Result<ObjectHandle> {
        let snap = self.snapshot()?;
        let version: ObjectVersion = match version_id {
            None => match snap.get(&keys::latest(bucket, key)).map_err(meta_err)? {
                Some(bytes) => decode(&bytes)?,
                None => {
                    if snap.get(&keys::bucket(bucket)).map_err(meta_err)?.is_none() {
                        return Err(S3Error::new(ErrorCode::NoSuchBucket).bucket(bucket));
                    }
                    // A current delete marker is announced on the 404.
                    let mut err = no_such_key(bucket, key);
                    match newest_version(&*snap, bucket, key)? {
                        Some(newest) if newest.delete_marker => {
                            err = err
                                .header("x-amz-delete-marker", "true")
                                .header("x-amz-version-id", newest.version_id_str().to_owned());
                        }
                        _ => err = err.header("x-amz-delete-marker", "false"),
                    }
                    return Err(err);
                }
            },
            Some(vid) => {
                let uid = match parse_version_id(vid)? {
                    Some(uid) => Some(uid),
                    None => snap
                        .get(&keys::null_version(bucket, key))
                        .map_err(meta_err)?
                        .and_then(|b| <[u8; 16]>::try_from(b.as_slice()).ok()),
                };
                let found = match uid {
                    Some(uid) => snap.get(&keys::version(bucket, key, &uid)).map_err(meta_err)?,
                    None => None,
                };
                let Some(bytes) = found else {
                    if snap.get(&keys::bucket(bucket)).map_err(meta_err)?.is_none() {
                        return Err(S3Error::new(ErrorCode::NoSuchBucket).bucket(bucket));
                    }
                    return Err(S3Error::new(ErrorCode::NoSuchVersion)
                        .key(key)
                        .with("VersionId", vid.to_owned()));
                };
                let v: ObjectVersion = decode(&bytes)?;
                if v.delete_marker {
                    return Err(S3Error::new(ErrorCode::MethodNotAllowed)
                        .msg("The specified method is not allowed against this resource.")
                        .with("Method", "GET")
                        .with("ResourceType", "DeleteMarker")
                        .header("x-amz-delete-marker", "true")
                        .header("x-amz-version-id", v.version_id_str().to_owned())
                        .header("Allow", "DELETE"));
                }
                v
            }
        };
        let (inline, manifest) = match version.data {
            DataLocation::Inline => (
                Some(Bytes::from(
                    snap.get(&keys::inline(&version.uid))
                        .map_err(meta_err)?
                        .ok_or_else(|| S3Error::internal("inline bytes missing"))?,
                )),
                None,
            ),
            DataLocation::Blob(_) => (None, None),
            DataLocation::Manifest { .. } => (None, Some(Arc::new(load_manifest(&*snap, &version.uid)?))),
        };
        Ok(ObjectHandle {
            version,
            inline,
            manifest,
        })
    }

    /// The bytes [offset, offset + len) of a looked-up version.
    pub async fn read(&self, handle: &ObjectHandle, offset: u64, len: u64) -> S3Result<BodyStream> {
        if let Some(manifest) = &handle.manifest {
            return self.read_segments(manifest, offset, len).await;
        }
        match (&handle.version.data, &handle.inline) {
            (DataLocation::Inline, Some(bytes)) => {
                let start = offset.min(bytes.len() as u64) as usize;
                let end = (offset + len).min(bytes.len() as u64) as usize;
                let part = bytes.slice(start..end);
                Ok(Box::pin(futures_util::stream::once(async move { Ok(part) })))
            }
            (DataLocation::Blob(id), _) => Ok(self.data.read(ksan_data::BlobId(*id), offset, len).await?),
            (DataLocation::Inline, None) | (DataLocation::Manifest { .. }, _) => {
                Err(S3Error::internal("object read without its bytes or manifest"))
            }
        }
    }

    /// DeleteObject: with a version id, remove that version; without, remove the null version
    /// (unversioned bucket) or add a delete marker (versioning enabled or suspended).
    pub async fn delete_object(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        owner: (&str, &str),
    ) -> S3Result<DeleteOutcome> {
        let target = match version_id {
            Some(vid) => Some(parse_version_id(vid)?),
            None => None,
        };
        let (bucket, key) = (bucket.to_owned(), key.to_owned());
        let (owner, owner_display_name) = (owner.0.to_owned(), owner.1.to_owned());
        self.write(move |txn| {
            let bucket_record = load_bucket(txn, &bucket)?;
            match target {
                Some(uid) => {
                    let uid = match uid {
                        Some(uid) => Some(uid),
                        None => null_uid(txn, &bucket, &key)?,
                    };
                    let Some(uid) = uid else {
                        // Deleting a version that does not exist succeeds.
                        return Ok(DeleteOutcome {
                            version_id: version_id_of(target),
                            delete_marker: false,
                        });
                    };
                    let Some(bytes) = txn.get(&keys::version(&bucket, &key, &uid)).map_err(meta_err)? else {
                        return Ok(DeleteOutcome {
                            version_id: version_id_of(target),
                            delete_marker: false,
                        });
                    };
                    let v: ObjectVersion = decode(&bytes)?;
                    remove_version(txn, &bucket, &v)?;
                    refresh_latest(txn, &bucket, &key)?;
                    Ok(DeleteOutcome {
                        version_id: Some(v.version_id_str().to_owned()),
                        delete_marker: v.delete_marker,
                    })
                }
                None => match bucket_record.versioning {
                    Versioning::Unversioned => {
                        if let Some(uid) = null_uid(txn, &bucket, &key)?
                            && let Some(bytes) = txn.get(&keys::version(&bucket, &key, &uid)).map_err(meta_err)?
                        {
                            let v: ObjectVersion = decode(&bytes)?;
                            remove_version(txn, &bucket, &v)?;
                            refresh_latest(txn, &bucket, &key)?;
                        }
                        Ok(DeleteOutcome::default())
                    }
                    Versioning::Enabled | Versioning::Suspended => {
                        let mut marker = ObjectVersion {
                            key: key.clone(),
                            uid: new_uid(),
                            version_id: None,
                            delete_marker: true,
                            size: 0,
                            etag: String::new(),
                            last_modified_ms: now_ms(),
                            owner,
                            owner_display_name,
                            headers: ContentHeaders::default(),
                            user_meta: Vec::new(),
                            checksum: None,
                            storage_class: None,
                            data: DataLocation::Inline,
                            checksum_type: None,
                            acl: None,
                            tags: Vec::new(),
                        };
                        insert_version(txn, &bucket_record, &mut marker)?;
                        Ok(DeleteOutcome {
                            version_id: Some(marker.version_id_str().to_owned()),
                            delete_marker: true,
                        })
                    }
                },
            }
        })
        .await
    }

    /// CopyObject: a new version at (bucket, key) with the source's bytes. Blob bytes are not
    /// copied: the new version references the same blob.
    pub async fn copy_object(
        &self,
        source: &ObjectHandle,
        bucket: &str,
        key: &str,
        object: NewObject,
        conditions: WriteConditions,
    ) -> S3Result<ObjectVersion> {
        let src = &source.version;
        let mut version = ObjectVersion {
            key: key.to_owned(),
            uid: new_uid(),
            version_id: None,
            delete_marker: false,
            size: src.size,
            etag: src.etag.clone(),
            last_modified_ms: now_ms(),
            owner: object.owner,
            owner_display_name: object.owner_display_name,
            headers: object.headers,
            user_meta: object.user_meta,
            checksum: src.checksum.clone(),
            storage_class: object.storage_class,
            data: src.data.clone(),
            checksum_type: src.checksum_type,
            acl: object.acl,
            tags: object.tags,
        };
        let inline = source.inline.clone();
        let manifest = source.manifest.clone();
        let (bucket, src_key) = (bucket.to_owned(), src.key.clone());
        self.write(move |txn| {
            let bucket_record = load_bucket(txn, &bucket)?;
            check_write_conditions(txn, &bucket, &version.key, &conditions)?;
            match &version.data {
                DataLocation::Inline => {
                    let bytes = inline
                        .as_ref()
                        .ok_or_else(|| S3Error::internal("inline source without bytes"))?;
                    txn.put(&keys::inline(&version.uid), bytes).map_err(meta_err)?;
                }
                DataLocation::Blob(id) => {
                    // The source may have been deleted since it was looked up.
                    if !add_blob_ref(txn, id, false)? {
                        return Err(S3Error::new(ErrorCode::NoSuchKey).key(src_key));
                    }
                }
                DataLocation::Manifest { .. } => {
                    let entries = manifest
                        .as_ref()
                        .ok_or_else(|| S3Error::internal("manifest source without manifest"))?;
                    for (offset, entry) in entries.iter() {
                        if !add_blob_ref(txn, &entry.segment.blob, false)? {
                            return Err(S3Error::new(ErrorCode::NoSuchKey).key(src_key));
                        }
                        txn.put(&keys::manifest(&version.uid, *offset), &encode(entry)?)
                            .map_err(meta_err)?;
                    }
                }
            }
            insert_version(txn, &bucket_record, &mut version)?;
            Ok(version)
        })
        .await
    }
}

impl ObjectHandle {
    pub fn inline_len(&self) -> Option<usize> {
        self.inline.as_ref().map(|b| b.len())
    }
}

/// Check what was received against Content-MD5 and the flexible checksum (header or trailer).
pub(crate) fn verify_digests(
    digests: &Digests,
    content_md5: Option<[u8; 16]>,
    checksum: Option<&ChecksumRequest>,
    trailers: &TrailerSlot,
) -> S3Result<()> {
    if let Some(md5) = content_md5
        && md5 != digests.md5
    {
        return Err(S3Error::new(ErrorCode::BadDigest).with("CalculatedDigest", ksan_data::base64(&digests.md5)));
    }
    if let Some(cr) = checksum {
        let expected = match &cr.value {
            Some(v) => Some(v.as_str()),
            None => trailers.get(cr.algorithm.header_name()),
        };
        let Some(expected) = expected else {
            return Err(S3Error::new(ErrorCode::InvalidRequest).msg(format!(
                "x-amz-checksum-{} is required for this request",
                cr.algorithm.as_str().to_ascii_lowercase()
            )));
        };
        let computed = digests
            .checksums
            .iter()
            .find(|(a, _)| *a == cr.algorithm)
            .map(|(_, v)| ksan_data::base64(v));
        if computed.as_deref() != Some(expected) {
            return Err(bad_checksum(cr.algorithm));
        }
    }
    Ok(())
}

impl ObjectHandle {
    /// The manifest of a multipart object: (object offset, entry) in order.
    pub fn manifest(&self) -> Option<&[(u64, ManifestEntry)]> {
        self.manifest.as_deref().map(|m| m.as_slice())
    }
}

pub(crate) fn load_bucket(txn: &dyn WriteOps, bucket: &str) -> S3Result<BucketRecord> {
    match txn.get(&keys::bucket(bucket)).map_err(meta_err)? {
        Some(bytes) => decode(&bytes),
        None => Err(S3Error::new(ErrorCode::NoSuchBucket).bucket(bucket)),
    }
}

fn version_id_of(target: Option<Option<[u8; 16]>>) -> Option<String> {
    target.map(|uid| uid.map_or_else(|| "null".to_owned(), hex::encode))
}

fn null_uid(txn: &dyn WriteOps, bucket: &str, key: &str) -> S3Result<Option<[u8; 16]>> {
    Ok(txn
        .get(&keys::null_version(bucket, key))
        .map_err(meta_err)?
        .and_then(|b| <[u8; 16]>::try_from(b.as_slice()).ok()))
}

fn newest_version(ops: &dyn ksan_meta::ReadOps, bucket: &str, key: &str) -> S3Result<Option<ObjectVersion>> {
    let prefix = keys::version_key_prefix(bucket, key);
    let end = ksan_meta::prefix_end(&prefix);
    match ops.range(&prefix, &end, 1, false).map_err(meta_err)?.first() {
        Some((_, v)) => Ok(Some(decode(v)?)),
        None => Ok(None),
    }
}

pub(crate) fn check_write_conditions(txn: &dyn WriteOps, bucket: &str, key: &str, c: &WriteConditions) -> S3Result<()> {
    if c.if_match.is_none() && c.if_none_match.is_none() {
        return Ok(());
    }
    let current: Option<ObjectVersion> = match txn.get(&keys::latest(bucket, key)).map_err(meta_err)? {
        Some(bytes) => Some(decode(&bytes)?),
        None => None,
    };
    if let Some(if_match) = &c.if_match {
        let Some(cur) = &current else {
            return Err(no_such_key(bucket, key));
        };
        if !etag_matches(if_match, &cur.etag) {
            return Err(S3Error::new(ErrorCode::PreconditionFailed).with("Condition", "If-Match"));
        }
    }
    if let Some(if_none_match) = &c.if_none_match
        && let Some(cur) = &current
        && etag_matches(if_none_match, &cur.etag)
    {
        return Err(S3Error::new(ErrorCode::PreconditionFailed).with("Condition", "If-None-Match"));
    }
    Ok(())
}

/// Does an If-Match / If-None-Match list name this ETag (`*` names any)?
pub fn etag_matches(header: &str, etag: &str) -> bool {
    header.split(',').map(str::trim).any(|t| {
        let t = t.strip_prefix("W/").unwrap_or(t);
        t == "*" || t.trim_matches('"') == etag
    })
}

/// Write a new version as the key's newest: assigns its version id by the bucket's versioning
/// state, replaces the null version when it is one, and updates the latest row.
pub(crate) fn insert_version(
    txn: &mut dyn WriteOps,
    bucket: &BucketRecord,
    version: &mut ObjectVersion,
) -> S3Result<()> {
    let (b, k) = (bucket.name.as_str(), version.key.clone());
    match bucket.versioning {
        Versioning::Enabled => version.version_id = Some(hex::encode(version.uid)),
        Versioning::Unversioned | Versioning::Suspended => {
            version.version_id = None;
            if let Some(old_uid) = null_uid(txn, b, &k)?
                && let Some(bytes) = txn.get(&keys::version(b, &k, &old_uid)).map_err(meta_err)?
            {
                let old: ObjectVersion = decode(&bytes)?;
                remove_version(txn, b, &old)?;
            }
            txn.put(&keys::null_version(b, &k), &version.uid).map_err(meta_err)?;
        }
    }
    let bytes = encode(&*version)?;
    txn.put(&keys::version(b, &k, &version.uid), &bytes).map_err(meta_err)?;
    if version.delete_marker {
        txn.delete(&keys::latest(b, &k)).map_err(meta_err)?;
    } else {
        txn.put(&keys::latest(b, &k), &bytes).map_err(meta_err)?;
    }
    Ok(())
}

/// Remove one version row and release what it references. The caller refreshes the latest row.
fn remove_version(txn: &mut dyn WriteOps, bucket: &str, v: &ObjectVersion) -> S3Result<()> {
    txn.delete(&keys::version(bucket, &v.key, &v.uid)).map_err(meta_err)?;
    if v.version_id.is_none() {
        txn.delete(&keys::null_version(bucket, &v.key)).map_err(meta_err)?;
    }
    match &v.data {
        DataLocation::Inline => txn.delete(&keys::inline(&v.uid)).map_err(meta_err)?,
        DataLocation::Blob(id) => crate::gc::release_blob(txn, id)?,
        DataLocation::Manifest { .. } => {
            for (offset, entry) in load_manifest(&*txn, &v.uid)? {
                crate::gc::release_blob(txn, &entry.segment.blob)?;
                txn.delete(&keys::manifest(&v.uid, offset)).map_err(meta_err)?;
            }
        }
    }
    Ok(())
}

/// All manifest rows of a multipart object, by object offset.
pub(crate) fn load_manifest(ops: &dyn ksan_meta::ReadOps, uid: &[u8; 16]) -> S3Result<Vec<(u64, ManifestEntry)>> {
    let prefix = keys::manifest_prefix(uid);
    let end = ksan_meta::prefix_end(&prefix);
    ops.range(&prefix, &end, usize::MAX, false)
        .map_err(meta_err)?
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

/// Make the latest row agree with the newest version row.
pub(crate) fn refresh_latest(txn: &mut dyn WriteOps, bucket: &str, key: &str) -> S3Result<()> {
    let newest = {
        let prefix = keys::version_key_prefix(bucket, key);
        let end = ksan_meta::prefix_end(&prefix);
        txn.range(&prefix, &end, 1, false).map_err(meta_err)?.into_iter().next()
    };
    match newest {
        Some((_, bytes)) if !decode::<ObjectVersion>(&bytes)?.delete_marker => {
            txn.put(&keys::latest(bucket, key), &bytes).map_err(meta_err)
        }
        _ => txn.delete(&keys::latest(bucket, key)).map_err(meta_err),
    }
}

/// Count one more reference to a blob. A new blob gets its first reference; an existing one
/// must still be referenced (returns false if it is gone).
pub(crate) fn add_blob_ref(txn: &mut dyn WriteOps, id: &[u8; 16], new: bool) -> S3Result<bool> {
    let key = keys::blob_ref(id);
    let count = match txn.get(&key).map_err(meta_err)? {
        Some(b) => u64::from_be_bytes(<[u8; 8]>::try_from(b.as_slice()).map_err(S3Error::internal)?),
        None if new => 0,
        None => return Ok(false),
    };
    txn.put(&key, &(count + 1).to_be_bytes()).map_err(meta_err)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::engine;

    fn body(parts: &[&'static [u8]]) -> BodyStream {
        let items: Vec<S3Result<Bytes>> = parts.iter().map(|p| Ok(Bytes::from_static(p))).collect();
        Box::pin(futures_util::stream::iter(items))
    }

    fn put_req(bucket: &str, key: &str) -> PutObjectRequest {
        PutObjectRequest {
            bucket: bucket.into(),
            key: key.into(),
            object: NewObject {
                owner: "o".into(),
                ..NewObject::default()
            },
            content_length: None,
            content_md5: None,
            checksum: None,
            trailers: TrailerSlot::new(),
            conditions: WriteConditions::default(),
        }
    }

    async fn read_all(e: &Engine, h: &ObjectHandle) -> Vec<u8> {
        let mut s = e.read(h, 0, h.version.size).await.unwrap();
        let mut out = Vec::new();
        while let Some(c) = s.next().await {
            out.extend_from_slice(&c.unwrap());
        }
        out
    }

    async fn setup() -> (Arc<Engine>, tempfile::TempDir) {
        let (e, d) = engine();
        let u = e.create_user("u", "AKU", "secretsecret", false).await.unwrap();
        e.create_bucket(&u, "bkt", None).await.unwrap();
        (e, d)
    }

    #[tokio::test]
    async fn inline_and_blob_round_trip_and_overwrite() {
        let (e, _d) = setup().await;
        // threshold is 16 bytes in tests
        e.put_object(put_req("bkt", "small"), body(&[b"hello"])).await.unwrap();
        e.put_object(put_req("bkt", "big"), body(&[b"0123456789", b"0123456789", b"abc"]))
            .await
            .unwrap();
        let h = e.lookup("bkt", "small", None).unwrap();
        assert_eq!(read_all(&e, &h).await, b"hello");
        assert_eq!(h.version.etag, "5d41402abc4b2a76b9719d911017c592");
        let h = e.lookup("bkt", "big", None).unwrap();
        assert_eq!(read_all(&e, &h).await, b"01234567890123456789abc");
        assert!(matches!(h.version.data, DataLocation::Blob(_)));
        let mut s = e.read(&h, 5, 10).await.unwrap();
        assert_eq!(&s.next().await.unwrap().unwrap()[..], b"5678901234");
        e.put_object(put_req("bkt", "big"), body(&[b"new"])).await.unwrap();
        let h2 = e.lookup("bkt", "big", None).unwrap();
        assert_eq!(read_all(&e, &h2).await, b"new");
        // the old blob is queued for collection
        assert_eq!(e.pending_gc().unwrap(), 1);
    }

    #[tokio::test]
    async fn digests_are_checked() {
        let (e, _d) = setup().await;
        let mut r = put_req("bkt", "k");
        r.content_md5 = Some([0; 16]);
        assert_eq!(
            e.put_object(r, body(&[b"x"])).await.unwrap_err().code,
            ErrorCode::BadDigest
        );
        let mut r = put_req("bkt", "k");
        r.checksum = Some(ChecksumRequest {
            algorithm: ChecksumAlgorithm::Crc32,
            value: Some("AAAAAA==".into()),
        });
        assert_eq!(
            e.put_object(r, body(&[b"x"])).await.unwrap_err().code,
            ErrorCode::BadDigest
        );
        assert_eq!(e.lookup("bkt", "k", None).unwrap_err().code, ErrorCode::NoSuchKey);
        let mut r = put_req("bkt", "k");
        // CRC32 of "123456789" is 0xCBF43926
        r.checksum = Some(ChecksumRequest {
            algorithm: ChecksumAlgorithm::Crc32,
            value: Some("y/Q5Jg==".into()),
        });
        let v = e.put_object(r, body(&[b"123456789"])).await.unwrap();
        assert_eq!(v.checksum.unwrap().value, "y/Q5Jg==");
    }

    #[tokio::test]
    async fn conditional_writes() {
        let (e, _d) = setup().await;
        let mut r = put_req("bkt", "k");
        r.conditions.if_match = Some("*".into());
        assert_eq!(
            e.put_object(r, body(&[b"a"])).await.unwrap_err().code,
            ErrorCode::NoSuchKey
        );
        let v = e.put_object(put_req("bkt", "k"), body(&[b"a"])).await.unwrap();
        let mut r = put_req("bkt", "k");
        r.conditions.if_none_match = Some("*".into());
        assert_eq!(
            e.put_object(r, body(&[b"b"])).await.unwrap_err().code,
            ErrorCode::PreconditionFailed
        );
        let mut r = put_req("bkt", "k");
        r.conditions.if_match = Some(v.quoted_etag());
        e.put_object(r, body(&[b"b"])).await.unwrap();
    }

    #[tokio::test]
    async fn delete_and_copy_share_blobs() {
        let (e, _d) = setup().await;
        e.put_object(put_req("bkt", "src"), body(&[b"0123456789abcdefghij"]))
            .await
            .unwrap();
        let src = e.lookup("bkt", "src", None).unwrap();
        let obj = NewObject {
            owner: "o".into(),
            ..NewObject::default()
        };
        e.copy_object(&src, "bkt", "dst", obj, WriteConditions::default())
            .await
            .unwrap();
        e.delete_object("bkt", "src", None, ("o", "o")).await.unwrap();
        assert_eq!(e.pending_gc().unwrap(), 0, "blob still referenced by the copy");
        let dst = e.lookup("bkt", "dst", None).unwrap();
        assert_eq!(read_all(&e, &dst).await, b"0123456789abcdefghij");
        e.delete_object("bkt", "dst", None, ("o", "o")).await.unwrap();
        assert_eq!(e.pending_gc().unwrap(), 1);
        // idempotent
        e.delete_object("bkt", "dst", None, ("o", "o")).await.unwrap();
        e.delete_bucket("bkt").await.unwrap();
    }

    #[tokio::test]
    async fn bucket_with_objects_is_not_empty() {
        let (e, _d) = setup().await;
        e.put_object(put_req("bkt", "k"), body(&[b"a"])).await.unwrap();
        assert_eq!(
            e.delete_bucket("bkt").await.unwrap_err().code,
            ErrorCode::BucketNotEmpty
        );
    }

    #[test]
    fn etag_lists() {
        assert!(etag_matches("\"abc\"", "abc"));
        assert!(etag_matches("\"x\", \"abc\"", "abc"));
        assert!(etag_matches("*", "abc"));
        assert!(etag_matches("W/\"abc\"", "abc"));
        assert!(!etag_matches("\"abd\"", "abc"));
    }
}
