//! Multipart uploads. Each part is a list of blob segments (a new blob for UploadPart; ranges
//! of existing blobs for UploadPartCopy). Completion copies no bytes: it turns the chosen
//! parts' segments into manifest rows of the new version, in one metadata transaction.

use std::sync::Arc;

use futures_util::StreamExt;
use ksan_data::{BlobId, Hashers};
use ksan_meta::{ReadOps, WriteOps};
use ksan_types::{BodyStream, ChecksumAlgorithm, ErrorCode, S3Error, S3Result};
use md5::{Digest as _, Md5};

use crate::keys::{self, Queue};
use crate::objects::{BodyChecks, ObjectHandle, Received, WriteConditions, check_write_conditions};
use crate::records::{
    ChecksumType, Content, DataLocation, ManifestEntry, NewObject, ObjectVersion, PartRecord, SealedKey, Segment,
    StoredChecksum, UploadRecord, decode,
};
use crate::sse::{CustomerKey, Sealing, SseRequest, Unsealing};
use crate::versions::{add_blob_ref, insert_version, load_bucket, release_segments};
use crate::{Engine, now_ms, store};

/// Smallest size of every part but the last.
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;

/// UploadPart.
pub struct UploadPartRequest {
    /// The bucket.
    pub bucket: String,
    /// The key.
    pub key: String,
    /// The upload.
    pub upload_id: String,
    /// 1..=10000.
    pub part_number: u32,
    /// The body's declared length and digests.
    pub body: BodyChecks,
    /// The SSE-C key an upload encrypted with the customer's key needs with every part.
    pub customer: Option<CustomerKey>,
}

/// A part named in CompleteMultipartUpload.
#[derive(Debug, Clone)]
pub struct CompletedPart {
    /// Its number.
    pub part_number: u32,
    /// The ETag the client names (quotes allowed).
    pub etag: String,
    /// (algorithm, base64 value) if the client sent one.
    pub checksum: Option<(ChecksumAlgorithm, String)>,
}

/// ListMultipartUploads.
#[derive(Debug, Clone, Default)]
pub struct UploadsQuery {
    /// Keys start with this.
    pub prefix: String,
    /// Fold keys into common prefixes at this.
    pub delimiter: Option<String>,
    /// Start after this key...
    pub key_marker: Option<String>,
    /// ...and this upload of it.
    pub upload_id_marker: Option<String>,
    /// Page size.
    pub max_uploads: usize,
}

/// A page of uploads.
#[derive(Debug, Clone, Default)]
pub struct UploadsPage {
    /// The uploads.
    pub uploads: Vec<UploadRecord>,
    /// Common prefixes.
    pub common_prefixes: Vec<String>,
    /// More remain.
    pub truncated: bool,
    /// Where the next page starts.
    pub next_key_marker: Option<String>,
    /// Where the next page starts, within its key.
    pub next_upload_id_marker: Option<String>,
}

/// A page of parts.
#[derive(Debug, Clone)]
pub struct PartsPage {
    /// The upload.
    pub upload: UploadRecord,
    /// The parts.
    pub parts: Vec<PartRecord>,
    /// More remain.
    pub truncated: bool,
    /// Where the next page starts.
    pub next_part_number_marker: Option<u32>,
}

fn no_such_upload(upload_id: &str) -> S3Error {
    S3Error::new(ErrorCode::NoSuchUpload).with("UploadId", upload_id.to_owned())
}

fn new_upload_id() -> String {
    let micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_micros() as u64;
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&micros.to_be_bytes());
    id[8..].copy_from_slice(&rand::random::<[u8; 8]>());
    hex::encode(id)
}

async fn load_upload(ops: &dyn ReadOps, bucket: &str, key: &str, upload_id: &str) -> S3Result<UploadRecord> {
    store::get(ops, &keys::upload(bucket, key, upload_id))
        .await?
        .ok_or_else(|| no_such_upload(upload_id))
}

async fn load_parts(ops: &dyn ReadOps, upload_id: &str, after: u32, limit: usize) -> S3Result<Vec<PartRecord>> {
    let start = keys::part(upload_id, after.saturating_add(1));
    let end = ksan_meta::prefix_end(&keys::part_prefix(upload_id));
    store::range(ops, &start, &end, limit)
        .await?
        .iter()
        .map(|(_, v)| decode(v))
        .collect()
}

/// Remove an upload in progress and its parts, releasing the parts' blobs.
pub(crate) async fn remove_upload(txn: &mut dyn WriteOps, bucket: &str, key: &str, upload_id: &str) -> S3Result<()> {
    for p in load_parts(&*txn, upload_id, 0, usize::MAX).await? {
        release_segments(txn, &p.segments).await?;
        store::delete(txn, &keys::part(upload_id, p.part_number))?;
    }
    store::delete(txn, &keys::upload(bucket, key, upload_id))
}

/// The multipart ETag: MD5 of the parts' binary MD5s, then `-N`.
pub fn multipart_etag(part_md5_hex: &[&str]) -> String {
    let mut h = Md5::new();
    for e in part_md5_hex {
        let mut raw = [0u8; 16];
        if hex::decode_to_slice(e, &mut raw).is_ok() {
            h.update(raw);
        }
    }
    format!("{}-{}", hex::encode(h.finalize()), part_md5_hex.len())
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s).ok()
}

/// The whole-object checksum of a completed upload from its parts' checksums.
fn combined_checksum(
    algorithm: ChecksumAlgorithm,
    kind: ChecksumType,
    parts: &[&PartRecord],
) -> S3Result<Option<StoredChecksum>> {
    let mut raws = Vec::with_capacity(parts.len());
    for p in parts {
        let Some(c) = p.checksum.as_ref().filter(|c| c.algorithm == algorithm) else {
            return Ok(None);
        };
        raws.push((
            base64_decode(&c.value).ok_or_else(|| S3Error::internal("bad stored checksum"))?,
            p.size,
        ));
    }
    let value = match kind {
        ChecksumType::Composite => {
            let concat: Vec<u8> = raws.iter().flat_map(|(r, _)| r.iter().copied()).collect();
            format!(
                "{}-{}",
                ksan_data::base64(&ksan_data::checksum_of(algorithm, &concat)),
                parts.len()
            )
        }
        ChecksumType::FullObject => {
            let mut iter = raws.into_iter();
            let Some((mut acc, _)) = iter.next() else {
                return Ok(None);
            };
            for (raw, len) in iter {
                acc = ksan_data::crc_combine(algorithm, &acc, &raw, len)
                    .ok_or_else(|| S3Error::internal("full-object checksum of a non-CRC algorithm"))?;
            }
            ksan_data::base64(&acc)
        }
    };
    Ok(Some(StoredChecksum { algorithm, value }))
}

/// The stored parts a completion names, in its order: each must exist with the ETag (and
/// checksum) given, and every part but the last must be at least 5 MiB.
fn choose_parts<'a>(
    stored: &'a [PartRecord],
    completed: &[CompletedPart],
    upload_id: &str,
) -> S3Result<Vec<&'a PartRecord>> {
    let by_number: std::collections::HashMap<u32, &PartRecord> = stored.iter().map(|p| (p.part_number, p)).collect();
    let invalid = |n: u32| {
        S3Error::new(ErrorCode::InvalidPart)
            .with("UploadId", upload_id.to_owned())
            .with("PartNumber", n.to_string())
    };
    let mut chosen = Vec::with_capacity(completed.len());
    for (i, c) in completed.iter().enumerate() {
        let Some(part) = by_number.get(&c.part_number) else {
            return Err(invalid(c.part_number));
        };
        if c.etag.trim().trim_matches('"') != part.etag {
            return Err(invalid(c.part_number).with("ETag", c.etag.clone()));
        }
        if let Some((algo, value)) = &c.checksum
            && part
                .checksum
                .as_ref()
                .is_some_and(|pc| pc.algorithm == *algo && pc.value != *value)
        {
            return Err(S3Error::new(ErrorCode::InvalidPart).msg(format!(
                "The {} you specified for part {} did not match what we received.",
                algo.as_str(),
                c.part_number
            )));
        }
        if i + 1 < completed.len() && part.size < MIN_PART_SIZE {
            return Err(S3Error::new(ErrorCode::EntityTooSmall)
                .with("ProposedSize", part.size.to_string())
                .with("MinSizeAllowed", MIN_PART_SIZE.to_string())
                .with("PartNumber", c.part_number.to_string())
                .with("ETag", part.etag.clone()));
        }
        chosen.push(*part);
    }
    Ok(chosen)
}

impl Engine {
    /// CreateMultipartUpload. A checksum type needs an algorithm, and not every pair goes
    /// together (S3's rules: FULL_OBJECT only for the CRCs, COMPOSITE not for CRC64NVME).
    pub async fn create_upload(
        &self,
        bucket: &str,
        key: &str,
        object: NewObject,
        checksum_algorithm: Option<ChecksumAlgorithm>,
        checksum_type: Option<ChecksumType>,
        sse: Option<&SseRequest>,
    ) -> S3Result<UploadRecord> {
        self.create_upload_as(bucket, key, object, (checksum_algorithm, checksum_type), sse, None)
            .await
    }

    /// CreateMultipartUpload of a replica from another ksan: the completed object takes the
    /// source version's identity, as `put_replica` does.
    pub async fn create_replica_upload(
        &self,
        bucket: &str,
        key: &str,
        object: NewObject,
        sse: Option<&SseRequest>,
        identity: crate::targets::ReplicaIdentity,
    ) -> S3Result<UploadRecord> {
        self.create_upload_as(bucket, key, object, (None, None), sse, Some(identity))
            .await
    }

    async fn create_upload_as(
        &self,
        bucket: &str,
        key: &str,
        mut object: NewObject,
        (checksum_algorithm, checksum_type): (Option<ChecksumAlgorithm>, Option<ChecksumType>),
        sse: Option<&SseRequest>,
        replica: Option<crate::targets::ReplicaIdentity>,
    ) -> S3Result<UploadRecord> {
        // The upload's parts are sealed as its request (or the bucket's default) says.
        let state = self.bucket_state(bucket).await?;
        object.sse = self.keyring.sealing(&state, sse).await?.map(|s| s.mode);
        object.lock = crate::lock::new_version_lock(&state, object.lock, now_ms())?;
        let checksum_type = match (checksum_algorithm, checksum_type) {
            (None, Some(_)) => {
                return Err(S3Error::new(ErrorCode::InvalidRequest)
                    .msg("The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header."));
            }
            (Some(a), Some(t)) if !a.allows(t) => {
                return Err(S3Error::new(ErrorCode::InvalidRequest).msg(format!(
                    "The {} checksum type cannot be used with the {} checksum algorithm.",
                    t.as_str(),
                    a.as_str().to_ascii_lowercase()
                )));
            }
            (Some(a), None) => Some(a.default_type()),
            (_, t) => t,
        };
        let upload = UploadRecord {
            upload_id: new_upload_id(),
            key: key.to_owned(),
            initiated_ms: now_ms(),
            object,
            checksum_algorithm,
            checksum_type,
            replica,
        };
        let bytes = Arc::new(crate::records::encode(&upload)?);
        let (bucket, row) = (bucket.to_owned(), keys::upload(bucket, key, &upload.upload_id));
        self.write(move |txn| {
            let (bucket, row, bytes) = (bucket.clone(), row.clone(), bytes.clone());
            Box::pin(async move {
                load_bucket(txn, &bucket).await?;
                store::put_raw(txn, &row, &bytes)
            })
        })
        .await?;
        Ok(upload)
    }

    /// Ok if the upload is in progress or was completed (a repeated completion succeeds).
    pub async fn check_upload_or_completed(&self, bucket: &str, key: &str, upload_id: &str) -> S3Result<()> {
        let snap = self.snapshot().await?;
        match load_upload(&*snap, bucket, key, upload_id).await {
            Ok(_) => Ok(()),
            Err(e) => match store::get_raw(&*snap, &keys::completed_upload(bucket, key, upload_id)).await? {
                Some(_) => Ok(()),
                None => Err(e),
            },
        }
    }

    /// An upload in progress; NoSuchUpload if there is none.
    pub async fn get_upload(&self, bucket: &str, key: &str, upload_id: &str) -> S3Result<UploadRecord> {
        load_upload(&*self.snapshot().await?, bucket, key, upload_id).await
    }

    /// Store a part (replacing an earlier upload of the same number).
    pub async fn upload_part(&self, req: UploadPartRequest, body: BodyStream) -> S3Result<PartRecord> {
        let upload = self.get_upload(&req.bucket, &req.key, &req.upload_id).await?;
        if let (Some(want), Some(got)) = (upload.checksum_algorithm, req.body.checksum.as_ref())
            && want != got.algorithm
        {
            return Err(S3Error::new(ErrorCode::InvalidRequest).msg(format!(
                "Checksum Type mismatch occurred, expected checksum Type: {}, actual checksum Type: {}",
                want.as_str().to_ascii_lowercase(),
                got.algorithm.as_str().to_ascii_lowercase()
            )));
        }
        let algorithm = req
            .body
            .checksum
            .as_ref()
            .map(|c| c.algorithm)
            .or(upload.checksum_algorithm);
        let algorithms: Vec<ChecksumAlgorithm> = algorithm.into_iter().collect();
        let sealing = self.part_sealing(&upload, req.customer.as_ref()).await?;
        let received = self
            .receive(body, &req.body, &algorithms, false, sealing.as_ref())
            .await?;
        let part = part_of(req.part_number, &received)?;
        let result = self.store_part(&req.bucket, &req.key, &req.upload_id, part, true).await;
        if result.is_err() {
            self.discard(&received);
        }
        result
    }

    /// How an upload's parts are sealed: as the upload says (an SSE-C upload only with its
    /// key); a key sent for an upload that is not SSE-C is refused.
    async fn part_sealing(&self, upload: &UploadRecord, customer: Option<&CustomerKey>) -> S3Result<Option<Sealing>> {
        crate::sse::check_customer_key(upload.object.sse.as_ref(), customer)?;
        match &upload.object.sse {
            None => Ok(None),
            Some(mode) => Ok(Some(self.keyring.sealing_of(mode, customer).await?)),
        }
    }

    /// Commit a part record; `new_blob`: its one segment is a fresh blob (first reference),
    /// else its segments reference existing blobs (which must still exist).
    async fn store_part(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part: PartRecord,
        new_blob: bool,
    ) -> S3Result<PartRecord> {
        let (bucket, key, upload_id) = (bucket.to_owned(), key.to_owned(), upload_id.to_owned());
        self.write(move |txn| {
            let (bucket, key, upload_id, part) = (bucket.clone(), key.clone(), upload_id.clone(), part.clone());
            Box::pin(async move {
                load_upload(&*txn, &bucket, &key, &upload_id).await?;
                let row = keys::part(&upload_id, part.part_number);
                if let Some(old) = store::get_for_update::<PartRecord>(txn, &row).await? {
                    release_segments(txn, &old.segments).await?;
                }
                for s in &part.segments {
                    if !add_blob_ref(txn, &s.blob, new_blob).await? {
                        return Err(S3Error::new(ErrorCode::NoSuchKey).msg("The copy source was deleted"));
                    }
                }
                store::put(txn, &row, &part)?;
                Ok(part)
            })
        })
        .await
    }

    /// UploadPartCopy: the part references the source's bytes in [offset, offset + len); the
    /// bytes are read once to compute the part's MD5 (and checksum), never written again.
    #[allow(clippy::too_many_arguments)]
    pub async fn upload_part_copy(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part_number: u32,
        source: &ObjectHandle,
        range: (u64, u64),
        customer: Option<&CustomerKey>,
    ) -> S3Result<PartRecord> {
        let upload = self.get_upload(bucket, key, upload_id).await?;
        let (offset, len) = range;
        let algorithms: Vec<ChecksumAlgorithm> = upload.checksum_algorithm.into_iter().collect();
        let src = &source.version;
        let sealing = self.part_sealing(&upload, customer).await?;
        if sealing.is_some() || src.sse.is_some() {
            // Encrypted on either side: the range is read (opened) and written anew (sealed
            // with the part's own data key, or in the clear).
            let stream = self.read(source, offset, len).await?;
            let checks = BodyChecks {
                content_length: Some(len),
                ..BodyChecks::default()
            };
            let received = self
                .receive(stream, &checks, &algorithms, false, sealing.as_ref())
                .await?;
            let part = part_of(part_number, &received)?;
            let result = self.store_part(bucket, key, upload_id, part, true).await;
            if result.is_err() {
                self.discard(&received);
            }
            return result;
        }
        let segments: Vec<Segment> = match &src.data {
            DataLocation::Blob(id) => vec![Segment { blob: *id, offset, len }],
            DataLocation::Manifest { .. } => segments_in(source.manifest().unwrap_or(&[]), offset, len)
                .into_iter()
                .map(|(s, _, _)| s)
                .collect(),
            DataLocation::Inline => Vec::new(),
        };
        // Hash the range; an inline source is small and gets a blob of its own.
        let whole_simple = offset == 0 && len == src.size && matches!(src.data, DataLocation::Blob(_));
        let mut stream = self.read(source, offset, len).await?;
        let (part_segments, etag, checksum, new_blob) = if matches!(src.data, DataLocation::Inline) {
            let mut w = self.data.create(Hashers::new(&algorithms)).await?;
            while let Some(chunk) = stream.next().await {
                w.write(chunk?).await?;
            }
            let id = w.id();
            let (size, d) = w.finish().await?;
            let seg = Segment {
                blob: id.0,
                offset: 0,
                len: size,
            };
            (vec![seg], hex::encode(d.md5), d.checksums.into_iter().next(), true)
        } else if whole_simple && algorithms.is_empty() {
            (segments, src.etag.clone(), None, false)
        } else {
            let mut h = Hashers::new(&algorithms);
            while let Some(chunk) = stream.next().await {
                h.update(&chunk?);
            }
            let d = h.finish();
            (segments, hex::encode(d.md5), d.checksums.into_iter().next(), false)
        };
        let part = PartRecord {
            part_number,
            size: len,
            etag,
            last_modified_ms: now_ms(),
            checksum: checksum.map(|(a, v)| StoredChecksum {
                algorithm: a,
                value: ksan_data::base64(&v),
            }),
            segments: part_segments.clone(),
            sealed: None,
        };
        let result = self.store_part(bucket, key, upload_id, part, new_blob).await;
        if result.is_err() && new_blob {
            for s in &part_segments {
                let _ = self.data.delete(BlobId(s.blob)).await;
            }
        }
        result
    }

    /// CompleteMultipartUpload.
    pub async fn complete_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        completed: Vec<CompletedPart>,
        conditions: WriteConditions,
    ) -> S3Result<ObjectVersion> {
        self.complete_upload_checked(bucket, key, upload_id, completed, conditions, None, None)
            .await
    }

    /// CompleteMultipartUpload, with the whole-object checksum the client sent (if any), which
    /// must equal the one computed from the parts (BadDigest otherwise; nothing is created).
    #[allow(clippy::too_many_arguments)]
    pub async fn complete_upload_checked(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        completed: Vec<CompletedPart>,
        conditions: WriteConditions,
        expected_checksum: Option<(ChecksumAlgorithm, String)>,
        customer: Option<&CustomerKey>,
    ) -> S3Result<ObjectVersion> {
        let customer = customer.cloned();
        if completed.is_empty() {
            return Err(S3Error::new(ErrorCode::MalformedXML)
                .msg("The XML you provided was not well-formed or did not validate against our published schema"));
        }
        for w in completed.windows(2) {
            if w[1].part_number < w[0].part_number {
                return Err(S3Error::new(ErrorCode::InvalidPartOrder));
            }
        }
        // A part named twice (re-sent while the first send was in flight): the last one counts.
        let mut completed = completed;
        completed.reverse();
        completed.dedup_by_key(|c| c.part_number);
        completed.reverse();
        let completed = Arc::new(completed);
        let expected_checksum = Arc::new(expected_checksum);
        let memory = self.config.completed_upload_memory;
        let (bucket, key, upload_id) = (bucket.to_owned(), key.to_owned(), upload_id.to_owned());
        self.write(move |txn| {
            let (bucket, key, upload_id) = (bucket.clone(), key.clone(), upload_id.clone());
            let (completed, conditions, expected) = (completed.clone(), conditions.clone(), expected_checksum.clone());
            let customer = customer.clone();
            Box::pin(async move {
                let bucket_record = load_bucket(txn, &bucket).await?;
                let done_key = keys::completed_upload(&bucket, &key, &upload_id);
                let upload = match load_upload(&*txn, &bucket, &key, &upload_id).await {
                    Ok(u) => u,
                    Err(e) => {
                        // Completed already: answer as the first completion did.
                        return store::get::<ObjectVersion>(&*txn, &done_key).await?.ok_or(e);
                    }
                };
                // An SSE-C upload is completed with its key, as S3 requires.
                crate::sse::check_customer_key(upload.object.sse.as_ref(), customer.as_ref())?;
                check_write_conditions(txn, &bucket, &key, &conditions).await?;
                let stored = load_parts(&*txn, &upload_id, 0, usize::MAX).await?;
                let chosen = choose_parts(&stored, &completed, &upload_id)?;
                let checksum = match (upload.checksum_algorithm, upload.checksum_type) {
                    (Some(a), Some(t)) => combined_checksum(a, t, &chosen)?,
                    _ => None,
                };
                if let Some((algo, value)) = expected.as_ref() {
                    // Composite values may be sent with or without their "-N" suffix.
                    let bare = |v: &str| v.split('-').next().unwrap_or_default().to_owned();
                    let matches = checksum
                        .as_ref()
                        .is_some_and(|c| c.algorithm == *algo && bare(&c.value) == bare(value));
                    if !matches {
                        return Err(S3Error::new(ErrorCode::BadDigest).msg(format!(
                            "The {} you specified did not match the calculated checksum.",
                            algo.as_str()
                        )));
                    }
                }
                let etags: Vec<&str> = chosen.iter().map(|p| p.etag.as_str()).collect();
                let content = Content {
                    size: chosen.iter().map(|p| p.size).sum(),
                    etag: multipart_etag(&etags),
                    checksum,
                    checksum_type: upload.checksum_type.filter(|t| *t == ChecksumType::Composite),
                    data: DataLocation::Manifest {
                        parts: chosen.len() as u32,
                    },
                    sealed: None,
                };
                let mut version = ObjectVersion::new(key.clone(), upload.object.clone(), content);
                if let Some(identity) = &upload.replica {
                    if bucket_record.versioning != crate::Versioning::Enabled {
                        return Err(S3Error::new(ErrorCode::InvalidRequest)
                            .msg("replicas go only to buckets with versioning enabled"));
                    }
                    let at = keys::version(&bucket, &key, &identity.uid);
                    if let Some(there) = store::get::<ObjectVersion>(&*txn, &at).await? {
                        // Carried before: this copy's parts go.
                        for p in &stored {
                            release_segments(txn, &p.segments).await?;
                            store::delete(txn, &keys::part(&upload_id, p.part_number))?;
                        }
                        store::delete(txn, &keys::upload(&bucket, &key, &upload_id))?;
                        return Ok(there);
                    }
                    identity.stamp(&mut version);
                }
                // The chosen parts' segment references move to the manifest; the rest are released.
                let mut offset = 0u64;
                for p in &chosen {
                    for (i, s) in p.segments.iter().enumerate() {
                        let entry = ManifestEntry {
                            part_number: p.part_number,
                            segment: *s,
                            part_checksum: if i == 0 { p.checksum.clone() } else { None },
                            sealed: p.sealed.clone(),
                        };
                        store::put(txn, &keys::manifest(&version.uid, offset), &entry)?;
                        offset += s.len;
                    }
                }
                let used: std::collections::HashSet<u32> = completed.iter().map(|c| c.part_number).collect();
                for p in &stored {
                    if !used.contains(&p.part_number) {
                        release_segments(txn, &p.segments).await?;
                    }
                    store::delete(txn, &keys::part(&upload_id, p.part_number))?;
                }
                store::delete(txn, &keys::upload(&bucket, &key, &upload_id))?;
                match upload.replica {
                    Some(_) => crate::versions::place_version(txn, &bucket, &version).await?,
                    None => insert_version(txn, &bucket_record, &mut version).await?,
                }
                // Kept to answer a repeated completion, and forgotten by a worker once due.
                store::put(txn, &done_key, &version)?;
                let due = now_ms() + memory.as_millis() as i64;
                crate::workers::enqueue(txn, Queue::CompletedUploads, due, &done_key)?;
                Ok(version)
            })
        })
        .await
    }

    /// AbortMultipartUpload: the upload and its parts go away.
    pub async fn abort_upload(&self, bucket: &str, key: &str, upload_id: &str) -> S3Result<()> {
        let (bucket, key, upload_id) = (bucket.to_owned(), key.to_owned(), upload_id.to_owned());
        self.write(move |txn| {
            let (bucket, key, upload_id) = (bucket.clone(), key.clone(), upload_id.clone());
            Box::pin(async move {
                load_bucket(txn, &bucket).await?;
                load_upload(&*txn, &bucket, &key, &upload_id).await?;
                remove_upload(txn, &bucket, &key, &upload_id).await
            })
        })
        .await
    }

    /// ListParts: parts after `after`, at most `max_parts`.
    pub async fn list_parts(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        after: u32,
        max_parts: usize,
    ) -> S3Result<PartsPage> {
        let snap = self.snapshot().await?;
        let upload = load_upload(&*snap, bucket, key, upload_id).await?;
        let mut parts = load_parts(&*snap, upload_id, after, max_parts.saturating_add(1)).await?;
        let truncated = parts.len() > max_parts;
        parts.truncate(max_parts);
        let next_part_number_marker = parts.last().map(|p| p.part_number);
        Ok(PartsPage {
            upload,
            parts,
            truncated,
            next_part_number_marker,
        })
    }

    /// ListMultipartUploads.
    pub async fn list_uploads(&self, bucket: &str, q: &UploadsQuery) -> S3Result<UploadsPage> {
        self.bucket(bucket).await?;
        let snap = self.snapshot().await?;
        let base = keys::upload_prefix(bucket);
        let mut start = base.clone();
        start.extend_from_slice(q.prefix.as_bytes());
        if let Some(km) = q.key_marker.as_deref().filter(|k| !k.is_empty()) {
            let mut from = base.clone();
            from.extend_from_slice(km.as_bytes());
            match q.upload_id_marker.as_deref().filter(|u| !u.is_empty()) {
                Some(uid) => {
                    from.push(0);
                    from.extend_from_slice(uid.as_bytes());
                    from.push(0);
                }
                None => from.push(1), // past every upload of the marker key
            }
            if from > start {
                start = from;
            }
        }
        let mut page = UploadsPage::default();
        page.truncated = crate::list::scan(
            &*snap,
            &base,
            &q.prefix,
            start,
            q.delimiter.as_deref(),
            q.key_marker.as_deref(),
            q.max_uploads,
            |item| {
                match item {
                    crate::list::Item::Prefix(cp) => {
                        page.next_key_marker = Some(cp.to_owned());
                        page.next_upload_id_marker = None;
                        page.common_prefixes.push(cp.to_owned());
                    }
                    crate::list::Item::Row(_, v) => {
                        let upload: UploadRecord = decode(v)?;
                        page.next_key_marker = Some(upload.key.clone());
                        page.next_upload_id_marker = Some(upload.upload_id.clone());
                        page.uploads.push(upload);
                    }
                }
                Ok(())
            },
        )
        .await?;
        Ok(page)
    }

    /// Stream [offset, offset + len) of a multipart object, opening each segment's blob as the
    /// previous one is used up.
    pub(crate) async fn read_segments(
        &self,
        manifest: &Arc<Vec<(u64, ManifestEntry)>>,
        offset: u64,
        len: u64,
        unsealing: Option<Unsealing>,
    ) -> S3Result<BodyStream> {
        let pieces = segments_in(manifest, offset, len);
        let data = self.data.clone();
        let stream = futures_util::stream::iter(pieces).then(move |(s, _, sealed)| {
            let (data, unsealing) = (data.clone(), unsealing.clone());
            async move {
                match open_segment(&*data, &s, sealed.as_ref(), unsealing.as_ref()).await {
                    Ok(stream) => stream,
                    Err(err) => Box::pin(futures_util::stream::once(async move { Err(err) })) as BodyStream,
                }
            }
        });
        Ok(Box::pin(stream.flatten()))
    }
}

/// The record of a part whose bytes were just received as one new blob.
fn part_of(part_number: u32, received: &Received) -> S3Result<PartRecord> {
    let Received::Blob { id, size, sealed, .. } = received else {
        return Err(S3Error::internal("a part was not stored as a blob"));
    };
    Ok(PartRecord {
        part_number,
        size: *size,
        etag: hex::encode(received.digests().md5),
        last_modified_ms: now_ms(),
        checksum: received.checksum(),
        segments: vec![Segment {
            blob: *id,
            offset: 0,
            len: *size,
        }],
        sealed: sealed.clone(),
    })
}

/// The bytes of one segment: read as stored, or opened with its data key.
pub(crate) async fn open_segment(
    data: &dyn ksan_data::DataStore,
    s: &Segment,
    sealed: Option<&SealedKey>,
    unsealing: Option<&Unsealing>,
) -> S3Result<BodyStream> {
    match (sealed, unsealing) {
        (None, _) => Ok(data.read(BlobId(s.blob), s.offset, s.len).await?),
        (Some(sealed), Some(u)) => {
            let key = u.key(sealed).await?;
            Ok(ksan_data::crypt::open_range(data, BlobId(s.blob), &key, sealed.plain_size, s.offset, s.len).await?)
        }
        (Some(_), None) => Err(S3Error::internal("an encrypted blob without its version's encryption")),
    }
}

/// The parts of the segments that cover [offset, offset + len), with their part numbers.
pub fn segments_in(manifest: &[(u64, ManifestEntry)], offset: u64, len: u64) -> Vec<(Segment, u32, Option<SealedKey>)> {
    let end = offset + len;
    let first = manifest
        .partition_point(|(start, _)| *start <= offset)
        .saturating_sub(1);
    let mut out = Vec::new();
    for (start, entry) in &manifest[first..] {
        let seg = entry.segment;
        let seg_end = start + seg.len;
        if *start >= end {
            break;
        }
        if seg_end <= offset {
            continue;
        }
        let from = offset.max(*start);
        let to = end.min(seg_end);
        out.push((
            Segment {
                blob: seg.blob,
                offset: seg.offset + (from - start),
                len: to - from,
            },
            entry.part_number,
            entry.sealed.clone(),
        ));
    }
    out
}

/// The parts of a multipart object in order: (part number, size, the part's checksum).
pub fn parts_of(manifest: &[(u64, ManifestEntry)]) -> Vec<(u32, u64, Option<StoredChecksum>)> {
    let mut parts: Vec<(u32, u64, Option<StoredChecksum>)> = Vec::new();
    for (_, e) in manifest {
        match parts.last_mut() {
            Some(last) if last.0 == e.part_number => last.1 += e.segment.len,
            _ => parts.push((e.part_number, e.segment.len, e.part_checksum.clone())),
        }
    }
    parts
}

/// Object byte range of part `n` of a multipart object: (offset, len).
pub fn part_range(manifest: &[(u64, ManifestEntry)], part_number: u32) -> Option<(u64, u64)> {
    let mut range: Option<(u64, u64)> = None;
    for (start, e) in manifest {
        if e.part_number == part_number {
            range = Some(match range {
                None => (*start, e.segment.len),
                Some((s, l)) => (s, l + e.segment.len),
            });
        }
    }
    range
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn body(data: Vec<u8>) -> BodyStream {
        Box::pin(futures_util::stream::once(async move { Ok(Bytes::from(data)) }))
    }

    async fn read_all(e: &Engine, h: &ObjectHandle, off: u64, len: u64) -> Vec<u8> {
        let mut s = e.read(h, off, len).await.unwrap();
        let mut out = Vec::new();
        while let Some(c) = s.next().await {
            out.extend_from_slice(&c.unwrap());
        }
        out
    }

    /// The parts a completion names: (number, ETag).
    fn named(parts: &[(u32, &str)]) -> Vec<CompletedPart> {
        parts
            .iter()
            .map(|(n, etag)| CompletedPart {
                part_number: *n,
                etag: (*etag).to_owned(),
                checksum: None,
            })
            .collect()
    }

    fn part_req(upload_id: &str, n: u32) -> UploadPartRequest {
        UploadPartRequest {
            customer: None,
            bucket: "bkt".into(),
            key: "obj".into(),
            upload_id: upload_id.into(),
            part_number: n,
            body: BodyChecks::default(),
        }
    }

    #[tokio::test]
    async fn upload_complete_read_and_abort() {
        let (e, _d) = crate::testutil::engine();
        let u = e.create_user("u", "AKU", "secretsecret", false).await.unwrap();
        e.create_bucket(&u, "bkt", None).await.unwrap();
        let up = e
            .create_upload(
                "bkt",
                "obj",
                NewObject::default(),
                Some(ChecksumAlgorithm::Crc32),
                None,
                None,
            )
            .await
            .unwrap();
        let p1: Vec<u8> = (0..MIN_PART_SIZE).map(|i| (i % 253) as u8).collect();
        let p2 = b"tail part".to_vec();
        // a part uploaded twice: the last one wins
        e.upload_part(part_req(&up.upload_id, 2), body(b"first try".to_vec()))
            .await
            .unwrap();
        let r2 = e
            .upload_part(part_req(&up.upload_id, 2), body(p2.clone()))
            .await
            .unwrap();
        let r1 = e
            .upload_part(part_req(&up.upload_id, 1), body(p1.clone()))
            .await
            .unwrap();
        e.upload_part(part_req(&up.upload_id, 3), body(b"unused".to_vec()))
            .await
            .unwrap();
        let listed = e.list_parts("bkt", "obj", &up.upload_id, 0, 2).await.unwrap();
        assert_eq!(listed.parts.len(), 2);
        assert!(listed.truncated);
        assert_eq!(listed.next_part_number_marker, Some(2));

        let bad_order = named(&[(2, &r2.etag), (1, &r1.etag)]);
        let err = e
            .complete_upload("bkt", "obj", &up.upload_id, bad_order, WriteConditions::default())
            .await
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidPartOrder);
        let unused = hex::encode(Md5::digest(b"unused"));
        let too_small = named(&[(2, &r2.etag), (3, &unused)]);
        let err = e
            .complete_upload("bkt", "obj", &up.upload_id, too_small, WriteConditions::default())
            .await
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::EntityTooSmall);

        let quoted = format!("\"{}\"", r1.etag);
        let parts = named(&[(1, &quoted), (2, &r2.etag)]);
        let v = e
            .complete_upload("bkt", "obj", &up.upload_id, parts, WriteConditions::default())
            .await
            .unwrap();
        assert_eq!(v.size, MIN_PART_SIZE + 9);
        assert!(v.etag.ends_with("-2"));
        assert!(v.checksum.as_ref().unwrap().value.ends_with("-2"));
        // the unused part 3 and the replaced first try of part 2 are queued for GC
        assert_eq!(e.pending_gc().await.unwrap(), 2);
        assert_eq!(
            e.get_upload("bkt", "obj", &up.upload_id).await.unwrap_err().code,
            ErrorCode::NoSuchUpload
        );

        let h = e.lookup("bkt", "obj", None).await.unwrap();
        let mut whole = p1.clone();
        whole.extend_from_slice(&p2);
        assert!(read_all(&e, &h, 0, v.size).await == whole);
        let (off, len) = (MIN_PART_SIZE - 3, 7);
        assert_eq!(
            read_all(&e, &h, off, len).await,
            &whole[off as usize..(off + len) as usize]
        );
        assert_eq!(part_range(h.manifest().unwrap(), 2), Some((MIN_PART_SIZE, 9)));

        // deleting the object releases both parts' blobs
        e.delete_object("bkt", "obj", None, ("", ""), false).await.unwrap();
        assert_eq!(e.pending_gc().await.unwrap(), 4);

        let up2 = e
            .create_upload("bkt", "x", NewObject::default(), None, None, None)
            .await
            .unwrap();
        assert_eq!(
            crate::testutil::uploads_in(&e, "bkt").await,
            std::slice::from_ref(&up2.upload_id)
        );
        e.abort_upload("bkt", "x", &up2.upload_id).await.unwrap();
        assert_eq!(
            e.abort_upload("bkt", "x", &up2.upload_id).await.unwrap_err().code,
            ErrorCode::NoSuchUpload
        );
    }

    #[tokio::test]
    async fn repeated_completion_answers_the_same_object() {
        let (e, _d) = crate::testutil::engine();
        let u = e.create_user("u", "AKU", "secretsecret", false).await.unwrap();
        e.create_bucket(&u, "bkt", None).await.unwrap();
        let up = e
            .create_upload("bkt", "obj", NewObject::default(), None, None, None)
            .await
            .unwrap();
        let p = e
            .upload_part(part_req(&up.upload_id, 1), body(b"only part".to_vec()))
            .await
            .unwrap();
        let parts = || named(&[(1, &p.etag)]);
        let first = e
            .complete_upload("bkt", "obj", &up.upload_id, parts(), WriteConditions::default())
            .await
            .unwrap();
        e.check_upload_or_completed("bkt", "obj", &up.upload_id).await.unwrap();
        let again = e
            .complete_upload("bkt", "obj", &up.upload_id, parts(), WriteConditions::default())
            .await
            .unwrap();
        assert_eq!((again.etag, again.uid), (first.etag, first.uid));
        // once forgotten (a day later), a repeat finds no upload
        assert_eq!(e.forget_completed_uploads(now_ms(), 10).await.unwrap(), 0);
        let tomorrow = now_ms() + 24 * 3600 * 1000 + 1;
        assert_eq!(e.forget_completed_uploads(tomorrow, 10).await.unwrap(), 1);
        assert_eq!(
            e.check_upload_or_completed("bkt", "obj", &up.upload_id)
                .await
                .unwrap_err()
                .code,
            ErrorCode::NoSuchUpload
        );
        // a part named twice: the last mention counts
        let up = e
            .create_upload("bkt", "obj", NewObject::default(), None, None, None)
            .await
            .unwrap();
        let p = e
            .upload_part(part_req(&up.upload_id, 1), body(b"x".to_vec()))
            .await
            .unwrap();
        let dup = named(&[(1, "stale"), (1, &p.etag)]);
        e.complete_upload("bkt", "obj", &up.upload_id, dup, WriteConditions::default())
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_wrong_whole_object_checksum_creates_nothing() {
        let (e, _d) = crate::testutil::engine();
        let u = e.create_user("u", "AKU", "secretsecret", false).await.unwrap();
        e.create_bucket(&u, "bkt", None).await.unwrap();
        let up = e
            .create_upload(
                "bkt",
                "obj",
                NewObject::default(),
                Some(ChecksumAlgorithm::Sha256),
                None,
                None,
            )
            .await
            .unwrap();
        let p = e
            .upload_part(part_req(&up.upload_id, 1), body(b"data".to_vec()))
            .await
            .unwrap();
        let parts = || named(&[(1, &p.etag)]);
        let bad = Some((ChecksumAlgorithm::Sha256, "bad".to_owned()));
        let err = e
            .complete_upload_checked(
                "bkt",
                "obj",
                &up.upload_id,
                parts(),
                WriteConditions::default(),
                bad,
                None,
            )
            .await
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::BadDigest);
        assert_eq!(
            e.lookup("bkt", "obj", None).await.unwrap_err().code,
            ErrorCode::NoSuchKey
        );
        let v = e
            .complete_upload("bkt", "obj", &up.upload_id, parts(), WriteConditions::default())
            .await
            .unwrap();
        let good = Some((ChecksumAlgorithm::Sha256, v.checksum.unwrap().value));
        let up2 = e
            .create_upload(
                "bkt",
                "obj",
                NewObject::default(),
                Some(ChecksumAlgorithm::Sha256),
                None,
                None,
            )
            .await
            .unwrap();
        let p2 = e
            .upload_part(part_req(&up2.upload_id, 1), body(b"data".to_vec()))
            .await
            .unwrap();
        let parts2 = named(&[(1, &p2.etag)]);
        e.complete_upload_checked(
            "bkt",
            "obj",
            &up2.upload_id,
            parts2,
            WriteConditions::default(),
            good,
            None,
        )
        .await
        .unwrap();
    }

    #[test]
    fn etags_of_multipart_objects() {
        // two parts whose MD5s are of "a" and "b"
        let a = hex::encode(Md5::digest(b"a"));
        let b = hex::encode(Md5::digest(b"b"));
        let mut cat = Vec::new();
        cat.extend_from_slice(&Md5::digest(b"a"));
        cat.extend_from_slice(&Md5::digest(b"b"));
        assert_eq!(
            multipart_etag(&[&a, &b]),
            format!("{}-2", hex::encode(Md5::digest(&cat)))
        );
    }
}
