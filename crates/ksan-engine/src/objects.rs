//! Objects: put, look up, read, delete (one or many), copy. Every change is one metadata
//! transaction that commits only after the object's bytes are durable (docs/ARCHITECTURE.md,
//! "Durability"); the transaction itself is the version core's (`crate::versions`).

use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
use ksan_data::{BlobWriter, Digests, Hashers};
use ksan_meta::{ReadOps, WriteOps};
use ksan_types::{BodyStream, ChecksumAlgorithm, ErrorCode, S3Error, S3Result, TrailerSlot, VersionId};

use crate::keys;
use crate::lock;
use crate::records::{
    BucketRecord, Content, DataLocation, ManifestEntry, NewObject, ObjectVersion, SealedKey, StoredChecksum, Versioning,
};
use crate::sse::{CustomerKey, Sealing, SseRequest, Unsealing};
use crate::versions::{
    NewData, insert_version, load_bucket, load_manifest, newest_version, null_uid, reference_data, refresh_latest,
    remove_version, rewrite_version,
};
use crate::{Engine, store};

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
    /// The algorithm.
    pub algorithm: ChecksumAlgorithm,
    /// The base64 value sent as a header (None: it comes as a trailer).
    pub value: Option<String>,
}

/// What the client said about a body it sends: its length and digests to check.
#[derive(Debug, Clone, Default)]
pub struct BodyChecks {
    /// The decoded length, if declared.
    pub content_length: Option<u64>,
    /// `Content-MD5`.
    pub content_md5: Option<[u8; 16]>,
    /// A flexible checksum, as header or trailer.
    pub checksum: Option<ChecksumRequest>,
    /// Where an aws-chunked body's trailers arrive.
    pub trailers: TrailerSlot,
}

/// PutObject.
pub struct PutObjectRequest {
    /// The bucket.
    pub bucket: String,
    /// The key.
    pub key: String,
    /// What the version carries.
    pub object: NewObject,
    /// The body's declared length and digests.
    pub body: BodyChecks,
    /// If-Match / If-None-Match.
    pub conditions: WriteConditions,
    /// The encryption asked for (None: the bucket's default, if any).
    pub sse: Option<SseRequest>,
}

/// A version looked up for reading, with its bytes if they are inline (read from the same
/// snapshot, so a concurrent overwrite cannot take them away).
#[derive(Debug, Clone)]
pub struct ObjectHandle {
    /// The version.
    pub version: ObjectVersion,
    inline: Option<Bytes>,
    /// Segments of a multipart object by object offset, read with the version.
    manifest: Option<Arc<Vec<(u64, ManifestEntry)>>>,
    /// The SSE-C key of an SSE-C version, checked (`with_customer_key`).
    customer: Option<CustomerKey>,
}

impl ObjectHandle {
    /// The SSE-C key a read brings: required for an SSE-C version and checked against it,
    /// refused for any other (S3's errors, see `sse::check_customer_key`).
    pub fn with_customer_key(mut self, customer: Option<&CustomerKey>) -> S3Result<Self> {
        self.customer = crate::sse::check_customer_key(self.version.sse.as_ref(), customer)?.cloned();
        Ok(self)
    }

    /// The size of inline bytes, if the object is stored inline.
    pub fn inline_len(&self) -> Option<usize> {
        self.inline.as_ref().map(|b| b.len())
    }

    /// The manifest of a multipart object: (object offset, entry) in order.
    pub fn manifest(&self) -> Option<&[(u64, ManifestEntry)]> {
        self.manifest.as_deref().map(|m| m.as_slice())
    }
}

/// The outcome of a DeleteObject.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeleteOutcome {
    /// The version that was removed or created (a delete marker), if versioning named one.
    pub version_id: Option<String>,
    /// A delete marker was made or removed.
    pub delete_marker: bool,
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

/// A version's `Content` for bytes just received, and the bytes if they are to live inline.
fn content_of(received: &Received) -> (Content, Option<Bytes>) {
    let (data, inline) = match received {
        Received::Inline { bytes, .. } => (DataLocation::Inline, Some(bytes.clone())),
        Received::Blob { id, .. } => (DataLocation::Blob(*id), None),
    };
    let content = Content {
        size: received.size(),
        etag: hex::encode(received.digests().md5),
        checksum: received.checksum(),
        checksum_type: None,
        data,
        sealed: received.sealed(),
    };
    (content, inline)
}

/// The bytes of a PUT as received: either small enough to live inline, or a finished blob.
pub(crate) enum Received {
    Inline {
        bytes: Bytes,
        digests: Digests,
    },
    Blob {
        id: [u8; 16],
        size: u64,
        digests: Digests,
        /// The data key of a sealed blob.
        sealed: Option<SealedKey>,
    },
}

impl Received {
    pub(crate) fn digests(&self) -> &Digests {
        match self {
            Received::Inline { digests, .. } | Received::Blob { digests, .. } => digests,
        }
    }
    pub(crate) fn sealed(&self) -> Option<SealedKey> {
        match self {
            Received::Inline { .. } => None,
            Received::Blob { sealed, .. } => sealed.clone(),
        }
    }
    pub(crate) fn size(&self) -> u64 {
        match self {
            Received::Inline { bytes, .. } => bytes.len() as u64,
            Received::Blob { size, .. } => *size,
        }
    }
    /// The first flexible checksum computed, as stored.
    pub(crate) fn checksum(&self) -> Option<StoredChecksum> {
        self.digests().checksums.first().map(|(a, v)| StoredChecksum {
            algorithm: *a,
            value: ksan_data::base64(v),
        })
    }
}

impl Engine {
    /// Stream a body to storage: small bodies stay in memory (to be stored inline), larger ones
    /// go to a new durable blob. Verifies the size limit, the declared length and the digests;
    /// on any failure nothing is kept.
    pub(crate) async fn receive(
        &self,
        body: BodyStream,
        checks: &BodyChecks,
        algorithms: &[ChecksumAlgorithm],
        inline: bool,
        seal: Option<&Sealing>,
    ) -> S3Result<Received> {
        self.receive_up_to(body, checks, algorithms, inline, seal, MAX_PUT_SIZE)
            .await
    }

    /// As `receive`, with another size limit (a replica of a multipart object may be larger
    /// than a single PUT).
    pub(crate) async fn receive_up_to(
        &self,
        mut body: BodyStream,
        checks: &BodyChecks,
        algorithms: &[ChecksumAlgorithm],
        inline: bool,
        seal: Option<&Sealing>,
        max_size: u64,
    ) -> S3Result<Received> {
        // Encrypted bytes never live inline: the metadata store would hold them in the clear.
        let threshold = if inline && seal.is_none() {
            self.config.inline_threshold as u64
        } else {
            0
        };
        let mut pending: Vec<Bytes> = Vec::new();
        let mut total: u64 = 0;
        let mut writer: Option<Box<dyn BlobWriter>> = None;
        let mut wrapped: Option<Vec<u8>> = None;
        if seal.is_some() || checks.content_length.is_some_and(|l| l > threshold) {
            writer = Some(self.new_writer(algorithms, seal, &mut wrapped).await?);
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
                        let mut w = self.new_writer(algorithms, seal, &mut wrapped).await?;
                        for c in pending.drain(..) {
                            w.write(c).await?;
                        }
                        writer = Some(w);
                    }
                }
            }
        }
        if let Some(len) = checks.content_length
            && len != total
        {
            return Err(S3Error::new(ErrorCode::IncompleteBody));
        }
        let received = match writer {
            Some(w) => {
                let id = w.id();
                let (size, digests) = w.finish().await?;
                Received::Blob {
                    id: id.0,
                    size,
                    digests,
                    sealed: wrapped.map(|wrapped| SealedKey {
                        wrapped,
                        plain_size: size,
                    }),
                }
            }
            None => {
                let bytes = match pending.len() {
                    0 => Bytes::new(),
                    1 => pending.pop().unwrap_or_default(),
                    _ => Bytes::from(pending.concat()),
                };
                let mut hashers = Hashers::new(algorithms);
                hashers.update(&bytes);
                Received::Inline {
                    bytes,
                    digests: hashers.finish(),
                }
            }
        };
        if let Err(e) = verify_digests(received.digests(), checks) {
            self.discard(&received);
            return Err(e);
        }
        Ok(received)
    }

    /// A new blob writer hashing with `algorithms`; sealed with a fresh data key (whose wrapped
    /// form goes to `wrapped`) if `seal` says so.
    async fn new_writer(
        &self,
        algorithms: &[ChecksumAlgorithm],
        seal: Option<&Sealing>,
        wrapped: &mut Option<Vec<u8>>,
    ) -> S3Result<Box<dyn BlobWriter>> {
        let Some(seal) = seal else {
            return Ok(self.data.create(Hashers::new(algorithms)).await?);
        };
        let (key, w) = seal.new_key().await?;
        *wrapped = Some(w);
        let inner = self.data.create(Hashers::none()).await?;
        Ok(Box::new(
            ksan_data::crypt::SealingWriter::new(inner, &key, Hashers::new(algorithms)).map_err(S3Error::internal)?,
        ))
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

    /// PutObject.
    pub async fn put_object(&self, mut req: PutObjectRequest, body: BodyStream) -> S3Result<ObjectVersion> {
        let received = self.receive_put(&mut req, body).await?;
        self.commit_received(&req.bucket, req.key, req.object, req.conditions, received)
            .await
    }

    /// A PutObject's bytes, received and checked: the bucket's encryption and object lock
    /// defaults applied to `req.object`.
    async fn receive_put(&self, req: &mut PutObjectRequest, body: BodyStream) -> S3Result<Received> {
        let state = self.bucket_state(&req.bucket).await?;
        let sealing = self.keyring.sealing(&state, req.sse.as_ref()).await?;
        req.object.sse = sealing.as_ref().map(|s| s.mode.clone());
        req.object.lock = crate::lock::new_version_lock(&state, req.object.lock, crate::now_ms())?;
        // S3 stores a CRC64NVME checksum for objects uploaded without one.
        let algorithm = req
            .body
            .checksum
            .as_ref()
            .map_or(ChecksumAlgorithm::Crc64Nvme, |c| c.algorithm);
        self.receive(body, &req.body, &[algorithm], true, sealing.as_ref())
            .await
    }

    /// A replica from another ksan (`targets::ReplicaIdentity`): PutObject's checks and
    /// storage, then the version is written at the source's uid, with its version id, time
    /// and ETag, marked REPLICA, and without going out again. Carried twice, it is there
    /// once: the second copy's bytes are dropped. The bucket must have versioning enabled.
    pub async fn put_replica(
        &self,
        mut req: PutObjectRequest,
        identity: crate::targets::ReplicaIdentity,
        body: BodyStream,
    ) -> S3Result<ObjectVersion> {
        let received = self.receive_put(&mut req, body).await?;
        let (content, inline) = content_of(&received);
        let mut version = ObjectVersion::new(req.key, req.object, content);
        identity.stamp(&mut version);
        let result = self.commit_replica(&req.bucket, version, inline).await;
        match &result {
            Ok((_, true)) => {}
            _ => self.discard(&received),
        }
        result.map(|(v, _)| v)
    }

    /// A delete marker from another ksan, at the source marker's uid (see `put_replica`).
    pub async fn put_replica_marker(
        &self,
        bucket: &str,
        key: &str,
        identity: crate::targets::ReplicaIdentity,
        owner: (&str, &str),
    ) -> S3Result<ObjectVersion> {
        let mut marker = ObjectVersion::delete_marker(key.to_owned(), owner.0.to_owned(), owner.1.to_owned());
        identity.stamp(&mut marker);
        marker.etag = String::new();
        Ok(self.commit_replica(bucket, marker, None).await?.0)
    }

    /// Write a replica version (see `put_replica`); (the version there, whether this one was
    /// written).
    async fn commit_replica(
        &self,
        bucket: &str,
        version: ObjectVersion,
        inline: Option<Bytes>,
    ) -> S3Result<(ObjectVersion, bool)> {
        let bucket = bucket.to_owned();
        self.write(move |txn| {
            let (bucket, version, inline) = (bucket.clone(), version.clone(), inline.clone());
            Box::pin(async move {
                let record = load_bucket(txn, &bucket).await?;
                if record.versioning != Versioning::Enabled {
                    return Err(S3Error::new(ErrorCode::InvalidRequest)
                        .msg("replicas go only to buckets with versioning enabled"));
                }
                let at = keys::version(&bucket, &version.key, &version.uid);
                if let Some(there) = store::get_for_update::<ObjectVersion>(&*txn, &at).await? {
                    return Ok((there, false));
                }
                if !version.delete_marker {
                    let data = match &inline {
                        Some(bytes) => NewData::Inline(bytes),
                        None => NewData::NewBlob,
                    };
                    reference_data(txn, &version, data).await?;
                }
                crate::versions::place_version(txn, &bucket, &version).await?;
                Ok((version, true))
            })
        })
        .await
    }

    /// The version for bytes just received (inline or a new blob), committed as a new version
    /// of `key`; on failure the new blob is removed.
    async fn commit_received(
        &self,
        bucket: &str,
        key: String,
        object: NewObject,
        conditions: WriteConditions,
        received: Received,
    ) -> S3Result<ObjectVersion> {
        let (content, inline) = content_of(&received);
        let version = ObjectVersion::new(key, object, content);
        let bucket = bucket.to_owned();
        let result = self
            .write(move |txn| {
                let (bucket, conditions, mut version, inline) =
                    (bucket.clone(), conditions.clone(), version.clone(), inline.clone());
                Box::pin(async move {
                    let bucket_record = load_bucket(txn, &bucket).await?;
                    check_write_conditions(txn, &bucket, &version.key, &conditions).await?;
                    let data = match &inline {
                        Some(bytes) => NewData::Inline(bytes),
                        None => NewData::NewBlob,
                    };
                    reference_data(txn, &version, data).await?;
                    insert_version(txn, &bucket_record, &mut version).await?;
                    Ok(version)
                })
            })
            .await;
        if result.is_err() {
            self.discard(&received);
        }
        result
    }

    /// PutObjectAcl: replace the ACL of one version (found earlier by `lookup`).
    pub async fn set_object_acl(
        &self,
        bucket: &str,
        version: &ObjectVersion,
        acl: Vec<crate::access::acl::Grant>,
    ) -> S3Result<()> {
        self.update_version(bucket, version, move |v| {
            v.acl = Some(acl.clone());
            Ok(())
        })
        .await
    }

    /// Put/DeleteObjectTagging: replace the tags of one version (found earlier by `lookup`).
    pub async fn set_object_tags(
        &self,
        bucket: &str,
        version: &ObjectVersion,
        tags: Vec<(String, String)>,
    ) -> S3Result<()> {
        self.update_version(bucket, version, move |v| {
            v.tags = tags.clone();
            Ok(())
        })
        .await
    }

    /// PutObjectRetention: replace a version's retention, as `lock::decide` allows it (in the
    /// writing transaction, against the retention stored there). InvalidRequest in a bucket
    /// without object lock.
    pub async fn set_retention(
        &self,
        bucket: &crate::BucketState,
        version: &ObjectVersion,
        retention: Option<lock::Retention>,
        bypass_governance: bool,
    ) -> S3Result<()> {
        require_lock(bucket)?;
        self.update_version(bucket.name(), version, move |v| {
            lock::decide(
                &v.lock,
                lock::Change::SetRetention(retention),
                crate::now_ms(),
                bypass_governance,
            )?;
            v.lock.retention = retention;
            Ok(())
        })
        .await
    }

    /// PutObjectLegalHold: set or clear a version's legal hold.
    pub async fn set_legal_hold(&self, bucket: &crate::BucketState, version: &ObjectVersion, on: bool) -> S3Result<()> {
        require_lock(bucket)?;
        self.update_version(bucket.name(), version, move |v| {
            v.lock.legal_hold = on;
            Ok(())
        })
        .await
    }

    /// Change a version's record in place (sub-resources: ACL, tags, retention, legal hold),
    /// queueing the change's replication. NoSuchKey if the version went away since it was
    /// looked up.
    async fn update_version<F>(&self, bucket: &str, version: &ObjectVersion, change: F) -> S3Result<()>
    where
        F: Fn(&mut ObjectVersion) -> S3Result<()> + Send + Sync + 'static,
    {
        let (bucket, key, uid) = (bucket.to_owned(), version.key.clone(), version.uid);
        let change = Arc::new(change);
        self.write(move |txn| {
            let (bucket, key, change) = (bucket.clone(), key.clone(), change.clone());
            Box::pin(async move {
                let row = keys::version(&bucket, &key, &uid);
                let Some(mut v) = store::get_for_update::<ObjectVersion>(txn, &row).await? else {
                    return Err(no_such_key(&bucket, &key));
                };
                change(&mut v)?;
                crate::replication::outbox(txn, &bucket, &mut v, crate::replication::Change::Metadata).await?;
                rewrite_version(txn, &bucket, &v).await
            })
        })
        .await
    }

    /// Find a version (the latest when `version` is None).
    pub async fn lookup(&self, bucket: &str, key: &str, version: Option<VersionId>) -> S3Result<ObjectHandle> {
        let snap = self.snapshot().await?;
        let snap: &dyn ReadOps = &*snap;
        let no_bucket = || S3Error::new(ErrorCode::NoSuchBucket).bucket(bucket);
        let version: ObjectVersion = match version {
            None => match store::get::<ObjectVersion>(snap, &keys::latest(bucket, key)).await? {
                Some(v) => v,
                None => {
                    if store::get_raw(snap, &keys::bucket(bucket)).await?.is_none() {
                        return Err(no_bucket());
                    }
                    // A current delete marker is announced on the 404.
                    let mut err = no_such_key(bucket, key);
                    match newest_version(snap, bucket, key).await? {
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
                let uid = match vid {
                    VersionId::Id(uid) => Some(uid),
                    VersionId::Null => null_uid(snap, bucket, key).await?,
                };
                let found = match uid {
                    Some(uid) => store::get::<ObjectVersion>(snap, &keys::version(bucket, key, &uid)).await?,
                    None => None,
                };
                let Some(v) = found else {
                    if store::get_raw(snap, &keys::bucket(bucket)).await?.is_none() {
                        return Err(no_bucket());
                    }
                    return Err(S3Error::new(ErrorCode::NoSuchVersion)
                        .key(key)
                        .with("VersionId", vid.to_string()));
                };
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
        handle_for(snap, version).await
    }

    /// The bytes [offset, offset + len) of a looked-up version.
    pub async fn read(&self, handle: &ObjectHandle, offset: u64, len: u64) -> S3Result<BodyStream> {
        let unsealing = self.unsealing(handle).await?;
        if let Some(manifest) = &handle.manifest {
            return self.read_segments(manifest, offset, len, unsealing).await;
        }
        match (&handle.version.data, &handle.inline) {
            (DataLocation::Inline, Some(bytes)) => {
                let start = offset.min(bytes.len() as u64) as usize;
                let end = (offset + len).min(bytes.len() as u64) as usize;
                let part = bytes.slice(start..end);
                Ok(Box::pin(futures_util::stream::once(async move { Ok(part) })))
            }
            (DataLocation::Blob(id), _) => {
                let segment = crate::records::Segment { blob: *id, offset, len };
                let sealed = handle.version.sealed.as_ref();
                crate::multipart::open_segment(&*self.data, &segment, sealed, unsealing.as_ref()).await
            }
            (DataLocation::Inline, None) | (DataLocation::Manifest { .. }, _) => {
                Err(S3Error::internal("object read without its bytes or manifest"))
            }
        }
    }

    /// What opens a looked-up version's blobs (None: it is not encrypted).
    pub(crate) async fn unsealing(&self, handle: &ObjectHandle) -> S3Result<Option<Unsealing>> {
        match &handle.version.sse {
            None => Ok(None),
            Some(mode) => Ok(Some(self.keyring.unsealing(mode, handle.customer.as_ref()).await?)),
        }
    }

    /// The whole-object checksum of a looked-up version, computed from its bytes.
    async fn checksum_of_object(
        &self,
        handle: &ObjectHandle,
        algorithm: ChecksumAlgorithm,
    ) -> S3Result<StoredChecksum> {
        let mut body = self.read(handle, 0, handle.version.size).await?;
        let mut hashers = Hashers::new(&[algorithm]);
        while let Some(chunk) = body.next().await {
            hashers.update(&chunk?);
        }
        let digests = hashers.finish();
        let value = digests.checksums.first().map(|(_, v)| ksan_data::base64(v));
        Ok(StoredChecksum {
            algorithm,
            value: value.ok_or_else(|| S3Error::internal("no checksum computed"))?,
        })
    }

    /// DeleteObject: with a version id, remove that version; without, remove the null version
    /// (unversioned bucket) or add a delete marker (versioning enabled or suspended).
    pub async fn delete_object(
        &self,
        bucket: &str,
        key: &str,
        version: Option<VersionId>,
        owner: (&str, &str),
        bypass_governance: bool,
    ) -> S3Result<DeleteOutcome> {
        let mut out = self
            .delete_objects(bucket, vec![(key.to_owned(), version)], owner, bypass_governance)
            .await?;
        out.pop().ok_or_else(|| S3Error::internal("a delete gave no outcome"))?
    }

    /// DeleteObjects: each (key, version) deleted as `delete_object` does, all in one
    /// transaction (one commit for the whole request). A version object lock protects is not
    /// removed and gets its own error (`lock::decide`, in this transaction).
    pub async fn delete_objects(
        &self,
        bucket: &str,
        targets: Vec<(String, Option<VersionId>)>,
        owner: (&str, &str),
        bypass_governance: bool,
    ) -> S3Result<Vec<S3Result<DeleteOutcome>>> {
        let bucket = bucket.to_owned();
        let owner = (owner.0.to_owned(), owner.1.to_owned());
        let targets = Arc::new(targets);
        self.write(move |txn| {
            let (bucket, owner, targets) = (bucket.clone(), owner.clone(), targets.clone());
            Box::pin(async move {
                let bucket_record = load_bucket(txn, &bucket).await?;
                let mut out = Vec::with_capacity(targets.len());
                for (key, version) in targets.iter() {
                    match delete_in(txn, &bucket_record, key, *version, &owner, bypass_governance).await {
                        Ok(o) => out.push(Ok(o)),
                        Err(e) if e.code == ErrorCode::AccessDenied => out.push(Err(e)),
                        Err(e) => return Err(e),
                    }
                }
                Ok(out)
            })
        })
        .await
    }

    /// CopyObject: a new version at (bucket, key) with the source's bytes. Blob bytes are not
    /// copied: the new version references the same blob. The copy keeps the source's checksum
    /// unless `checksum_algorithm` asks for another (or for a whole-object value where the
    /// source has a composite one): then the source's bytes are read once to compute it.
    #[allow(clippy::too_many_arguments)]
    pub async fn copy_object(
        &self,
        source: &ObjectHandle,
        bucket: &str,
        key: &str,
        mut object: NewObject,
        conditions: WriteConditions,
        checksum_algorithm: Option<ChecksumAlgorithm>,
        sse: Option<&SseRequest>,
    ) -> S3Result<ObjectVersion> {
        let src = &source.version;
        let state = self.bucket_state(bucket).await?;
        let sealing = self.keyring.sealing(&state, sse).await?;
        object.sse = sealing.as_ref().map(|s| s.mode.clone());
        object.lock = crate::lock::new_version_lock(&state, object.lock, crate::now_ms())?;
        let shares = match (&sealing, &src.sse) {
            (None, None) => true,
            (Some(s), Some(mode)) => s.same_kek_as(mode),
            _ => false,
        };
        if !shares {
            return self
                .copy_rewritten(source, bucket, key, object, conditions, checksum_algorithm, sealing)
                .await;
        }
        let keeps = |a: ChecksumAlgorithm| {
            src.checksum.as_ref().is_some_and(|c| c.algorithm == a)
                && src.checksum_type != Some(ksan_types::ChecksumType::Composite)
        };
        let (checksum, checksum_type) = match checksum_algorithm {
            Some(a) if !keeps(a) => (Some(self.checksum_of_object(source, a).await?), None),
            _ => (src.checksum.clone(), src.checksum_type),
        };
        let content = Content {
            size: src.size,
            etag: src.etag.clone(),
            checksum,
            checksum_type,
            data: src.data.clone(),
            sealed: src.sealed.clone(),
        };
        let version = ObjectVersion::new(key.to_owned(), object, content);
        let (inline, manifest) = (source.inline.clone(), source.manifest.clone());
        let bucket = bucket.to_owned();
        self.write(move |txn| {
            let (bucket, conditions, mut version) = (bucket.clone(), conditions.clone(), version.clone());
            let (inline, manifest) = (inline.clone(), manifest.clone());
            Box::pin(async move {
                let bucket_record = load_bucket(txn, &bucket).await?;
                check_write_conditions(txn, &bucket, &version.key, &conditions).await?;
                let data = NewData::Shared {
                    inline: inline.as_ref(),
                    manifest: manifest.as_deref().map(|m| m.as_slice()),
                };
                reference_data(txn, &version, data).await?;
                insert_version(txn, &bucket_record, &mut version).await?;
                Ok(version)
            })
        })
        .await
    }
}

impl Engine {
    /// A copy whose encryption differs from its source's: the bytes are read (opened) and
    /// written as a new blob (sealed under the destination's key, or in the clear).
    #[allow(clippy::too_many_arguments)]
    async fn copy_rewritten(
        &self,
        source: &ObjectHandle,
        bucket: &str,
        key: &str,
        object: NewObject,
        conditions: WriteConditions,
        checksum_algorithm: Option<ChecksumAlgorithm>,
        sealing: Option<Sealing>,
    ) -> S3Result<ObjectVersion> {
        let src = &source.version;
        let algorithm = checksum_algorithm
            .or(src.checksum.as_ref().map(|c| c.algorithm))
            .unwrap_or(ChecksumAlgorithm::Crc64Nvme);
        let stream = self.read(source, 0, src.size).await?;
        let checks = BodyChecks {
            content_length: Some(src.size),
            ..BodyChecks::default()
        };
        let received = self
            .receive(stream, &checks, &[algorithm], true, sealing.as_ref())
            .await?;
        // A multipart source's copy is one new object, with the MD5 of its bytes as ETag.
        self.commit_received(bucket, key.to_owned(), object, conditions, received)
            .await
    }
}

/// Retention and legal hold exist only in buckets with object lock (InvalidRequest).
pub fn require_lock(bucket: &crate::BucketState) -> S3Result<()> {
    match bucket.get::<lock::ObjectLockConfig>() {
        Some(_) => Ok(()),
        None => Err(S3Error::new(ErrorCode::InvalidRequest).msg("Bucket is missing Object Lock Configuration")),
    }
}

/// One key's deletion inside a transaction (see `Engine::delete_object`).
async fn delete_in(
    txn: &mut dyn WriteOps,
    bucket: &BucketRecord,
    key: &str,
    version: Option<VersionId>,
    (owner, owner_display_name): &(String, String),
    bypass_governance: bool,
) -> S3Result<DeleteOutcome> {
    let b = bucket.name.as_str();
    let Some(target) = version else {
        return match bucket.versioning {
            Versioning::Unversioned => {
                if let Some(uid) = null_uid(&*txn, b, key).await?
                    && let Some(v) = store::get::<ObjectVersion>(&*txn, &keys::version(b, key, &uid)).await?
                {
                    lock::decide(&v.lock, lock::Change::Remove, crate::now_ms(), bypass_governance)?;
                    remove_version(txn, b, &v).await?;
                    refresh_latest(txn, b, key).await?;
                }
                Ok(DeleteOutcome::default())
            }
            Versioning::Enabled | Versioning::Suspended => {
                let mut marker =
                    ObjectVersion::delete_marker(key.to_owned(), owner.clone(), owner_display_name.clone());
                insert_version(txn, bucket, &mut marker).await?;
                Ok(DeleteOutcome {
                    version_id: Some(marker.version_id_str().to_owned()),
                    delete_marker: true,
                })
            }
        };
    };
    let uid = match target {
        VersionId::Id(uid) => Some(uid),
        VersionId::Null => null_uid(&*txn, b, key).await?,
    };
    // Deleting a version that does not exist succeeds.
    let absent = DeleteOutcome {
        version_id: Some(target.to_string()),
        delete_marker: false,
    };
    let Some(uid) = uid else { return Ok(absent) };
    let Some(v) = store::get_for_update::<ObjectVersion>(&*txn, &keys::version(b, key, &uid)).await? else {
        return Ok(absent);
    };
    lock::decide(&v.lock, lock::Change::Remove, crate::now_ms(), bypass_governance)?;
    remove_version(txn, b, &v).await?;
    refresh_latest(txn, b, key).await?;
    Ok(DeleteOutcome {
        version_id: Some(v.version_id_str().to_owned()),
        delete_marker: v.delete_marker,
    })
}

/// A version with what reading it needs: its inline bytes or its manifest.
pub(crate) async fn handle_for(snap: &dyn ReadOps, version: ObjectVersion) -> S3Result<ObjectHandle> {
    let (inline, manifest) = match version.data {
        DataLocation::Inline => {
            let bytes = store::get_raw(snap, &keys::inline(&version.uid))
                .await?
                .ok_or_else(|| S3Error::internal("inline bytes missing"))?;
            (Some(Bytes::from(bytes)), None)
        }
        DataLocation::Blob(_) => (None, None),
        DataLocation::Manifest { .. } => (None, Some(Arc::new(load_manifest(snap, &version.uid).await?))),
    };
    Ok(ObjectHandle {
        version,
        inline,
        manifest,
        customer: None,
    })
}

/// Check what was received against Content-MD5 and the flexible checksum (header or trailer).
pub(crate) fn verify_digests(digests: &Digests, checks: &BodyChecks) -> S3Result<()> {
    if let Some(md5) = checks.content_md5
        && md5 != digests.md5
    {
        return Err(S3Error::new(ErrorCode::BadDigest).with("CalculatedDigest", ksan_data::base64(&digests.md5)));
    }
    if let Some(cr) = &checks.checksum {
        let expected = match &cr.value {
            Some(v) => Some(v.as_str()),
            None => checks.trailers.get(cr.algorithm.header_name()),
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

/// If-Match / If-None-Match against the key's current version, in the writing transaction.
pub(crate) async fn check_write_conditions(
    txn: &dyn WriteOps,
    bucket: &str,
    key: &str,
    c: &WriteConditions,
) -> S3Result<()> {
    if c.if_match.is_none() && c.if_none_match.is_none() {
        return Ok(());
    }
    let current: Option<ObjectVersion> = store::get_for_update(txn, &keys::latest(bucket, key)).await?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{engine, engine_with_meta};

    fn body(parts: &[&'static [u8]]) -> BodyStream {
        let items: Vec<S3Result<Bytes>> = parts.iter().map(|p| Ok(Bytes::from_static(p))).collect();
        Box::pin(futures_util::stream::iter(items))
    }

    fn put_req(bucket: &str, key: &str) -> PutObjectRequest {
        PutObjectRequest {
            sse: None,
            bucket: bucket.into(),
            key: key.into(),
            object: NewObject {
                owner: "o".into(),
                ..NewObject::default()
            },
            body: BodyChecks::default(),
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
        let h = e.lookup("bkt", "small", None).await.unwrap();
        assert_eq!(read_all(&e, &h).await, b"hello");
        assert_eq!(h.version.etag, "5d41402abc4b2a76b9719d911017c592");
        let h = e.lookup("bkt", "big", None).await.unwrap();
        assert_eq!(read_all(&e, &h).await, b"01234567890123456789abc");
        assert!(matches!(h.version.data, DataLocation::Blob(_)));
        let mut s = e.read(&h, 5, 10).await.unwrap();
        assert_eq!(&s.next().await.unwrap().unwrap()[..], b"5678901234");
        e.put_object(put_req("bkt", "big"), body(&[b"new"])).await.unwrap();
        let h2 = e.lookup("bkt", "big", None).await.unwrap();
        assert_eq!(read_all(&e, &h2).await, b"new");
        // the old blob is queued for collection
        assert_eq!(e.pending_gc().await.unwrap(), 1);
    }

    #[tokio::test]
    async fn digests_are_checked() {
        let (e, _d) = setup().await;
        let mut r = put_req("bkt", "k");
        r.body.content_md5 = Some([0; 16]);
        assert_eq!(
            e.put_object(r, body(&[b"x"])).await.unwrap_err().code,
            ErrorCode::BadDigest
        );
        let mut r = put_req("bkt", "k");
        r.body.checksum = Some(ChecksumRequest {
            algorithm: ChecksumAlgorithm::Crc32,
            value: Some("AAAAAA==".into()),
        });
        assert_eq!(
            e.put_object(r, body(&[b"x"])).await.unwrap_err().code,
            ErrorCode::BadDigest
        );
        assert_eq!(e.lookup("bkt", "k", None).await.unwrap_err().code, ErrorCode::NoSuchKey);
        let mut r = put_req("bkt", "k");
        // CRC32 of "123456789" is 0xCBF43926
        r.body.checksum = Some(ChecksumRequest {
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
        let src = e.lookup("bkt", "src", None).await.unwrap();
        let obj = NewObject {
            owner: "o".into(),
            ..NewObject::default()
        };
        e.copy_object(&src, "bkt", "dst", obj, WriteConditions::default(), None, None)
            .await
            .unwrap();
        e.delete_object("bkt", "src", None, ("o", "o"), false).await.unwrap();
        assert_eq!(e.pending_gc().await.unwrap(), 0, "blob still referenced by the copy");
        let dst = e.lookup("bkt", "dst", None).await.unwrap();
        assert_eq!(read_all(&e, &dst).await, b"0123456789abcdefghij");
        e.delete_object("bkt", "dst", None, ("o", "o"), false).await.unwrap();
        assert_eq!(e.pending_gc().await.unwrap(), 1);
        // idempotent
        e.delete_object("bkt", "dst", None, ("o", "o"), false).await.unwrap();
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

    #[tokio::test]
    async fn a_thousand_deletions_commit_once() {
        let (e, meta, _d) = engine_with_meta();
        let u = e.create_user("u", "AKU", "secretsecret", false).await.unwrap();
        e.create_bucket(&u, "bkt", None).await.unwrap();
        for i in 0..1000 {
            e.put_object(put_req("bkt", &format!("k{i:04}")), body(&[b"x"]))
                .await
                .unwrap();
        }
        let targets: Vec<(String, Option<VersionId>)> = (0..1000).map(|i| (format!("k{i:04}"), None)).collect();
        let before = meta.commit_count();
        let out = e.delete_objects("bkt", targets, ("o", "o"), false).await.unwrap();
        assert_eq!(meta.commit_count() - before, 1);
        assert_eq!(out.len(), 1000);
        assert!(crate::testutil::keys_in(&e, "bkt").await.is_empty());
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
