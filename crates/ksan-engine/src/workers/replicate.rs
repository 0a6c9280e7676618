//! The replicator: carries out the items the outbox (`crate::replication::outbox`) queued in
//! `Q|replicate`: items of different keys at once, a key's items in order.
//!
//! To a registered target (another endpoint) a version goes through `targets::RemoteSink`:
//! a streamed PUT, or a multipart upload above 64 MiB, a DeleteObject for a delete marker,
//! the tagging (and, to another ksan, retention and legal hold) for a metadata change; to
//! another ksan with the version's identity, so it keeps its version id there. Then the
//! source is settled as below.
//!
//! A version item to a bucket on this server brings one version (or its new metadata) there,
//! keeping its uid, version id, modification time, ETag and checksums, and
//! marks it REPLICA there; the same transaction takes the rule off the source version's
//! pending list (COMPLETED once none is left). Bytes are shared with the source (blob
//! references, as CopyObject shares them) when the replica is sealed under the same key, and
//! re-sealed while streaming otherwise (ReplicaKmsKeyID). A replica already there (an item
//! carried out twice) gets the source's metadata again and nothing else, so an item is
//! idempotent. A destination that refuses (no such bucket, versioning not enabled, a key that
//! cannot be used) marks the source version FAILED and the item is tried again with backoff
//! and jitter (1 s doubling to 5 min), until it goes through; later items for the same key
//! wait behind it, so a key's changes arrive in order.
//!
//! An existing-objects item walks the bucket's versions after its cursor, one bounded batch,
//! queues those that a rule with ExistingObjectReplication covers and were never replicated,
//! and queues the next batch's item in the same transaction.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ksan_types::{ChecksumAlgorithm, ErrorCode, S3Error, S3Result};
use serde::Serialize;

use super::{Claimed, QueueJob};
use crate::keys::{self, ConfigKind, Queue};
use crate::objects::{BodyChecks, handle_for};
use crate::records::{BucketRecord, DataLocation, ObjectVersion, SseMode, Versioning, decode};
use crate::replication::{
    Change, Job, ReplicationConfig, ReplicationRule, ReplicationState, ReplicationStatus, WorkItem, enqueue,
    targets_for,
};
use crate::sse::SseRequest;
use crate::targets::{RemotePut, RemoteSse, ReplicaIdentity};
use crate::versions::{NewData, rewrite_version};
use crate::{Engine, now_ms, store};

/// Carries out replication items.
pub struct ReplicationWorker;

/// Versions larger than this go to other endpoints by multipart upload (a single PUT takes
/// at most 5 GiB).
const MULTIPART_ABOVE: u64 = 64 * 1024 * 1024;

/// The part size of those uploads (larger when 10,000 parts would not hold the version).
const MULTIPART_PART: u64 = 16 * 1024 * 1024;

/// Version rows an existing-objects item walks at most.
const EXISTING_BATCH: usize = 1000;

/// What replication did per destination, for `/metrics`.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct TargetStats {
    /// Versions (and metadata changes) carried to it.
    pub objects: u64,
    /// Bytes written there (0 for shared blobs: nothing is copied).
    pub bytes: u64,
    /// Tries it refused.
    pub failures: u64,
    /// How long the last versions carried waited, from their write to their replica (ms).
    pub latencies_ms: std::collections::VecDeque<u32>,
}

/// Latencies kept per destination for the quantiles.
const LATENCY_SAMPLES: usize = 10_000;

impl TargetStats {
    /// The `q` quantile (0..=1) of the latencies kept, in ms (None without samples).
    pub fn latency_quantile(&self, q: f64) -> Option<u32> {
        let mut all: Vec<u32> = self.latencies_ms.iter().copied().collect();
        if all.is_empty() {
            return None;
        }
        all.sort_unstable();
        let i = ((all.len() - 1) as f64 * q.clamp(0.0, 1.0)).round() as usize;
        all.get(i).copied()
    }
}

/// Replication totals by destination (`arn`).
#[derive(Debug, Default)]
pub struct ReplicationStats {
    targets: Mutex<BTreeMap<String, TargetStats>>,
}

impl ReplicationStats {
    fn update(&self, target: &str, f: impl FnOnce(&mut TargetStats)) {
        if let Ok(mut all) = self.targets.lock() {
            f(all.entry(target.to_owned()).or_default());
        }
    }

    /// Totals by destination.
    pub fn snapshot(&self) -> BTreeMap<String, TargetStats> {
        self.targets.lock().map(|t| t.clone()).unwrap_or_default()
    }
}

/// A destination's backlog: items waiting and how long the oldest has waited.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Backlog {
    /// Items waiting.
    pub items: u64,
    /// When the oldest was due (ms since the epoch).
    pub oldest_due_ms: i64,
}

#[async_trait::async_trait]
impl QueueJob for ReplicationWorker {
    const NAME: &'static str = "replication";
    const QUEUE: Queue = Queue::Replicate;

    /// Items of different keys go at once (up to [`CONCURRENCY`]); a key's items go one
    /// after the other, in the order they were queued.
    async fn carry_out(&self, engine: &Engine, items: Vec<Claimed>) -> S3Result<Vec<Vec<u8>>> {
        use futures_util::StreamExt;
        let mut done = Vec::with_capacity(items.len());
        let mut groups: Vec<Vec<(Claimed, WorkItem)>> = Vec::new();
        let mut by_key: HashMap<(String, String), usize> = HashMap::new();
        for claimed in items {
            let Ok(item) = decode::<WorkItem>(&claimed.payload) else {
                tracing::warn!("replication: dropping an item that does not decode");
                done.push(claimed.row);
                continue;
            };
            let key = match &item.job {
                Job::Version { key, .. } => Some((item.bucket.clone(), key.clone())),
                Job::Existing { .. } => None,
            };
            match key.as_ref().and_then(|k| by_key.get(k)) {
                Some(&i) => groups[i].push((claimed, item)),
                None => {
                    if let Some(k) = key {
                        by_key.insert(k, groups.len());
                    }
                    groups.push(vec![(claimed, item)]);
                }
            }
        }
        let results: Vec<S3Result<Vec<Vec<u8>>>> = futures_util::stream::iter(groups)
            .map(|group| engine.carry_out_key(group))
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        for r in results {
            done.extend(r?);
        }
        Ok(done)
    }
}

/// Keys replicated at once.
const CONCURRENCY: usize = 16;

impl Engine {
    /// One key's items, in order; once one fails, the rest wait behind it. The rows done.
    async fn carry_out_key(&self, group: Vec<(Claimed, WorkItem)>) -> S3Result<Vec<Vec<u8>>> {
        let mut done = Vec::with_capacity(group.len());
        let mut waiting: Option<i64> = None;
        for (claimed, item) in group {
            if let Some(due) = waiting {
                self.requeue(claimed.row, item, due + 1, false).await?;
                continue;
            }
            match self.replicate(&item).await {
                Ok(()) => done.push(claimed.row),
                Err(e) => {
                    let due = now_ms() + backoff(item.attempts);
                    tracing::debug!(bucket = item.bucket, error = %e, attempts = item.attempts + 1, "replication failed; will retry");
                    // An existing-objects walk has no key to hold up.
                    if matches!(item.job, Job::Version { .. }) {
                        waiting = Some(due);
                    }
                    self.requeue(claimed.row, item, due, true).await?;
                }
            }
        }
        Ok(done)
    }
}

/// 1 s doubling to 5 minutes, ±20 % jitter.
fn backoff(attempts: u32) -> i64 {
    let base = Duration::from_secs(1u64 << attempts.min(9)).min(Duration::from_secs(300));
    let ms = base.as_millis() as i64;
    ms + (rand::random::<u32>() as i64 % (ms / 5 + 1)) * if rand::random::<bool>() { 1 } else { -1 }
}

/// The replica of `src` at `rule`'s destination, with its bytes as prepared (`data`).
fn replica_of(src: &ObjectVersion, rule: &ReplicationRule, dest: &BucketRecord, data: &Prepared) -> ObjectVersion {
    let mut r = src.clone();
    r.replication = Some(ReplicationState {
        status: ReplicationStatus::Replica,
        pending: Vec::new(),
        failed: Vec::new(),
    });
    if let Some(class) = rule.destination.storage_class {
        r.storage_class = Some(class);
    }
    if rule.destination.owner_translation.is_some() {
        r.owner = dest.owner.clone();
        r.owner_display_name = dest.owner_display_name.clone();
        r.acl = None;
    }
    if let Prepared::Rewritten { data, sealed, sse, .. } = data {
        r.data = data.clone();
        r.sealed = sealed.clone();
        r.sse = sse.clone();
    }
    r
}

/// How a replica's bytes are had.
enum Prepared {
    /// None to bring: a delete marker, or a replica that is there already (its metadata
    /// changes).
    NoBytes,
    /// The source's one blob, shared (a reference more).
    SharedBlob,
    /// Written anew as one blob (sealed under the destination's key, if any).
    Rewritten {
        data: DataLocation,
        sealed: Option<crate::records::SealedKey>,
        sse: Option<SseMode>,
        size: u64,
    },
}

impl Engine {
    /// Replication totals by destination.
    pub fn replication_stats(&self) -> BTreeMap<String, TargetStats> {
        self.replication.snapshot()
    }

    /// Items waiting by destination (`arn`), counted up to `cap` items.
    pub async fn replication_backlog(&self, cap: usize) -> S3Result<BTreeMap<String, Backlog>> {
        let snap = self.snapshot().await?;
        let prefix = keys::queue_prefix(Queue::Replicate);
        let mut out: BTreeMap<String, Backlog> = BTreeMap::new();
        let mut configs: HashMap<String, Option<ReplicationConfig>> = HashMap::new();
        for (row, value) in store::scan(&*snap, &prefix, cap).await? {
            let Ok(item) = decode::<WorkItem>(&value) else { continue };
            let Job::Version { rule, .. } = &item.job else { continue };
            if !configs.contains_key(&item.bucket) {
                let c = store::get(&*snap, &keys::config(&item.bucket, ConfigKind::Replication)).await?;
                configs.insert(item.bucket.clone(), c);
            }
            let Some(Some(config)) = configs.get(&item.bucket) else {
                continue;
            };
            let Some(rule) = config.rule(rule) else { continue };
            let due = row
                .get(prefix.len()..prefix.len() + 8)
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map(|b| u64::from_be_bytes(b) as i64)
                .unwrap_or(0);
            let b = out.entry(rule.destination.arn.clone()).or_default();
            b.items += 1;
            if b.oldest_due_ms == 0 || due < b.oldest_due_ms {
                b.oldest_due_ms = due;
            }
        }
        Ok(out)
    }

    /// Count a version carried to `arn`: `written` bytes, made at `created_ms`.
    fn carried(&self, arn: &str, written: u64, created_ms: i64) {
        let waited = (now_ms() - created_ms).clamp(0, u32::MAX as i64) as u32;
        self.replication.update(arn, |t| {
            t.objects += 1;
            t.bytes += written;
            if t.latencies_ms.len() >= LATENCY_SAMPLES {
                t.latencies_ms.pop_front();
            }
            t.latencies_ms.push_back(waited);
        });
    }

    /// Put an item back, due at `due_ms`; `failed`: it failed (the source version is marked
    /// FAILED for its rule, the destination's failures counted, its tries counted).
    async fn requeue(&self, row: Vec<u8>, mut item: WorkItem, due_ms: i64, failed: bool) -> S3Result<()> {
        if failed {
            item.attempts = item.attempts.saturating_add(1);
            if let Job::Version { rule, .. } = &item.job
                && let Ok(state) = self.bucket_state(&item.bucket).await
                && let Some(r) = state.get::<ReplicationConfig>().and_then(|c| c.rule(rule))
            {
                self.replication.update(&r.destination.arn, |t| t.failures += 1);
            }
        }
        let item = Arc::new(item);
        self.write(move |txn| {
            let (row, item) = (row.clone(), item.clone());
            Box::pin(async move {
                store::delete(txn, &row)?;
                enqueue(txn, &item, due_ms)?;
                if failed && let Job::Version { key, uid, rule, .. } = &item.job {
                    let at = keys::version(&item.bucket, key, uid);
                    if let Some(mut v) = store::get_for_update::<ObjectVersion>(&*txn, &at).await?
                        && let Some(state) = v.replication.as_mut()
                        && state.status != ReplicationStatus::Replica
                    {
                        if !state.failed.contains(rule) {
                            state.failed.push(rule.clone());
                        }
                        state.status = ReplicationStatus::Failed;
                        rewrite_version(txn, &item.bucket, &v).await?;
                    }
                }
                Ok(())
            })
        })
        .await
    }

    /// Carry out one item (see the module doc).
    async fn replicate(&self, item: &WorkItem) -> S3Result<()> {
        match &item.job {
            Job::Existing { after } => self.queue_existing(&item.bucket, after.clone()).await,
            Job::Version { key, uid, rule, change } => {
                self.replicate_version(&item.bucket, key, uid, rule, change.unwrap_or(Change::New))
                    .await
            }
        }
    }

    async fn replicate_version(
        &self,
        bucket: &str,
        key: &str,
        uid: &[u8; 16],
        rule_id: &str,
        change: Change,
    ) -> S3Result<()> {
        let snap = self.snapshot().await?;
        let Some(src) = store::get::<ObjectVersion>(&*snap, &keys::version(bucket, key, uid)).await? else {
            return Ok(()); // removed since: nothing to carry
        };
        let config: Option<ReplicationConfig> =
            store::get(&*snap, &keys::config(bucket, ConfigKind::Replication)).await?;
        let Some(rule) = config
            .as_ref()
            .and_then(|c| c.rule(rule_id))
            .filter(|r| r.enabled)
            .cloned()
        else {
            return Ok(()); // the rule is gone or disabled: the item goes with it
        };
        if let Some(target) = rule.destination.target.clone() {
            // Bytes to read only for a new version (a marker has none).
            let handle = match !src.delete_marker && change == Change::New {
                true => Some(handle_for(&*snap, src.clone()).await?),
                false => None,
            };
            drop(snap);
            return self.replicate_remote(bucket, &src, handle, &rule, &target).await;
        }
        let dest = self.bucket_state(&rule.destination.bucket).await?;
        if dest.record.versioning != Versioning::Enabled {
            return Err(
                S3Error::new(ErrorCode::InvalidRequest).msg("the destination bucket does not have versioning enabled")
            );
        }
        let replica_exists = store::get_raw(&*snap, &keys::version(dest.name(), key, uid))
            .await?
            .is_some();
        let prepared = if src.delete_marker {
            Prepared::NoBytes
        } else if replica_exists {
            // Only its metadata changes: no bytes to bring.
            Prepared::NoBytes
        } else {
            let handle = handle_for(&*snap, src.clone()).await?;
            drop(snap);
            self.prepare(handle, &rule, &dest).await?
        };
        let written = match &prepared {
            Prepared::Rewritten { size, .. } => *size,
            _ => 0,
        };
        let (bucket_s, dest_name, rule_id_s) = (bucket.to_owned(), dest.name().to_owned(), rule_id.to_owned());
        let (key_s, uid) = (key.to_owned(), *uid);
        let new_blob = match &prepared {
            Prepared::Rewritten {
                data: DataLocation::Blob(id),
                ..
            } => Some(*id),
            _ => None,
        };
        let (arn, created_ms) = (rule.destination.arn.clone(), src.last_modified_ms);
        let prepared = Arc::new(prepared);
        let rule = Arc::new(rule);
        let result = self
            .write(move |txn| {
                let (bucket, dest_name, rule_id, key) =
                    (bucket_s.clone(), dest_name.clone(), rule_id_s.clone(), key_s.clone());
                let (prepared, rule) = (prepared.clone(), rule.clone());
                Box::pin(async move {
                    let dest: BucketRecord = store::get_for_update(&*txn, &keys::bucket(&dest_name))
                        .await?
                        .ok_or_else(|| S3Error::new(ErrorCode::NoSuchBucket).bucket(dest_name.clone()))?;
                    let at = keys::version(&bucket, &key, &uid);
                    let Some(mut src) = store::get_for_update::<ObjectVersion>(&*txn, &at).await? else {
                        return Ok(false);
                    };
                    let replica_at = keys::version(&dest_name, &key, &uid);
                    match store::get_for_update::<ObjectVersion>(&*txn, &replica_at).await? {
                        Some(existing) => {
                            // Carried before: bring the metadata, keep its bytes.
                            let mut r = replica_of(&src, &rule, &dest, &Prepared::NoBytes);
                            r.data = existing.data.clone();
                            r.sealed = existing.sealed.clone();
                            r.sse = existing.sse.clone();
                            rewrite_version(txn, &dest_name, &r).await?;
                        }
                        None => {
                            let r = replica_of(&src, &rule, &dest, &prepared);
                            match &*prepared {
                                Prepared::NoBytes if r.delete_marker => {}
                                Prepared::NoBytes => return Err(S3Error::internal("replica prepared without bytes")),
                                Prepared::SharedBlob => {
                                    let data = NewData::Shared {
                                        inline: None,
                                        manifest: None,
                                    };
                                    crate::versions::reference_data(txn, &r, data).await?;
                                }
                                Prepared::Rewritten { .. } => {
                                    crate::versions::reference_data(txn, &r, NewData::NewBlob).await?;
                                }
                            }
                            crate::versions::place_version(txn, &dest_name, &r).await?;
                        }
                    }
                    settle(txn, &bucket, &mut src, &rule_id).await?;
                    Ok(true)
                })
            })
            .await;
        if result.is_err()
            && let Some(id) = new_blob
        {
            // The replica's new blob is nobody's.
            let data = self.data.clone();
            tokio::spawn(async move { data.delete(ksan_data::BlobId(id)).await });
        }
        if result? {
            self.carried(&arn, written, created_ms);
        }
        Ok(())
    }

    /// Carry a version to a registered target with ordinary S3 requests: its bytes by
    /// PutObject (decrypted here, encrypted there as the rule says), a delete marker by
    /// DeleteObject, a metadata change by PutObjectTagging; then settle the source.
    async fn replicate_remote(
        &self,
        bucket: &str,
        src: &ObjectVersion,
        handle: Option<crate::objects::ObjectHandle>,
        rule: &ReplicationRule,
        target: &str,
    ) -> S3Result<()> {
        let target = self.target(target).await?;
        let sink = self.remote_sink()?.clone();
        let dest_bucket = rule.destination.bucket.as_str();
        let Some(handle) = handle else {
            let identity = target.ksan.then(|| ReplicaIdentity::of(src));
            if src.delete_marker {
                sink.delete_object(&target, dest_bucket, &src.key, identity.as_ref())
                    .await?;
            } else {
                let vid = if target.ksan { Some(src.version_id_str()) } else { None };
                sink.put_metadata(&target, dest_bucket, src, vid).await?;
            }
            return self.settle_remote(bucket, src, rule, 0).await;
        };
        let sse = match &src.sse {
            None => None,
            Some(SseMode::S3) => Some(RemoteSse::S3),
            Some(SseMode::Kms { key_id, .. }) => Some(RemoteSse::Kms(
                rule.destination
                    .replica_kms_key_id
                    .clone()
                    .unwrap_or_else(|| key_id.clone()),
            )),
            Some(SseMode::Customer { .. }) => {
                return Err(S3Error::new(ErrorCode::InvalidRequest).msg("SSE-C objects are not replicated"));
            }
        };
        // A version the target already has (its PUT went through, then this server died
        // before it could record that) is not written twice: another ksan keeps one copy
        // per uid; of a foreign endpoint we ask whether its current version has this ETag and
        // was written after this version.
        if !target.ksan {
            let there = sink.head_object(&target, dest_bucket, &src.key).await?;
            if there.is_some_and(|(etag, modified)| etag == src.etag && modified / 1000 >= src.last_modified_ms / 1000)
            {
                return self.settle_remote(bucket, src, rule, 0).await;
            }
        }
        let put = RemotePut {
            bucket: dest_bucket,
            version: src,
            storage_class: rule.destination.storage_class,
            sse,
            replica: target.ksan.then(|| ReplicaIdentity::of(src)),
        };
        if src.size > MULTIPART_ABOVE {
            self.put_multipart(sink.as_ref(), &target, put, &handle).await?;
        } else {
            let body = self.read(&handle, 0, src.size).await?;
            sink.put_object(&target, put, body).await?;
        }
        self.settle_remote(bucket, src, rule, src.size).await
    }

    /// A large version to a target by multipart upload, each part read as it is sent
    /// (aborted there if a part fails).
    async fn put_multipart(
        &self,
        sink: &dyn crate::targets::RemoteSink,
        target: &crate::targets::Target,
        put: RemotePut<'_>,
        handle: &crate::objects::ObjectHandle,
    ) -> S3Result<()> {
        let size = put.version.size;
        let part_size = MULTIPART_PART.max(size.div_ceil(10_000));
        let upload_id = sink.create_multipart(target, put.clone()).await?;
        let upload = crate::targets::RemoteUpload {
            bucket: put.bucket,
            key: &put.version.key,
            upload_id: &upload_id,
        };
        let mut parts = Vec::new();
        let mut offset = 0;
        while offset < size {
            let len = part_size.min(size - offset);
            let n = parts.len() as u32 + 1;
            let sent = match self.read(handle, offset, len).await {
                Ok(body) => sink.upload_part(target, &upload, n, body, len).await,
                Err(e) => Err(e),
            };
            match sent {
                Ok(etag) => parts.push((n, etag)),
                Err(e) => {
                    let _ = sink.abort_multipart(target, &upload).await;
                    return Err(e);
                }
            }
            offset += len;
        }
        if let Err(e) = sink.complete_multipart(target, &upload, &parts).await {
            let _ = sink.abort_multipart(target, &upload).await;
            return Err(e);
        }
        Ok(())
    }

    /// After a remote write: settle the source version and count it.
    async fn settle_remote(
        &self,
        bucket: &str,
        src: &ObjectVersion,
        rule: &ReplicationRule,
        written: u64,
    ) -> S3Result<()> {
        let (bucket_s, key, uid, rule_id) = (bucket.to_owned(), src.key.clone(), src.uid, rule.id.clone());
        self.write(move |txn| {
            let (bucket, key, rule_id) = (bucket_s.clone(), key.clone(), rule_id.clone());
            Box::pin(async move {
                if let Some(mut src) =
                    store::get_for_update::<ObjectVersion>(&*txn, &keys::version(&bucket, &key, &uid)).await?
                {
                    settle(txn, &bucket, &mut src, &rule_id).await?;
                }
                Ok(())
            })
        })
        .await?;
        self.carried(&rule.destination.arn, written, src.last_modified_ms);
        Ok(())
    }

    /// The replica's bytes. Inline bytes and manifests are rows keyed by the version's uid,
    /// which the replica shares, so those are written anew as one blob; a single blob is
    /// shared (a reference more, as CopyObject shares it) when the destination seals it under
    /// the same key or neither seals it, and re-sealed while streaming otherwise
    /// (ReplicaKmsKeyID).
    async fn prepare(
        &self,
        handle: crate::objects::ObjectHandle,
        rule: &ReplicationRule,
        dest: &crate::BucketState,
    ) -> S3Result<Prepared> {
        let src = &handle.version;
        let request = match &src.sse {
            None => None,
            Some(SseMode::S3) => Some(SseRequest::S3),
            Some(SseMode::Kms {
                key_id,
                context,
                bucket_key,
            }) => Some(SseRequest::Kms {
                key_id: Some(
                    rule.destination
                        .replica_kms_key_id
                        .clone()
                        .unwrap_or_else(|| key_id.clone()),
                ),
                context: context.clone(),
                bucket_key: *bucket_key,
            }),
            Some(SseMode::Customer { .. }) => {
                return Err(S3Error::new(ErrorCode::InvalidRequest).msg("SSE-C objects are not replicated"));
            }
        };
        let sealing = match &request {
            Some(r) => Some(
                self.keyring
                    .sealing(dest, Some(r))
                    .await?
                    .ok_or_else(|| S3Error::internal("no sealing for an encrypted replica"))?,
            ),
            None => None,
        };
        let same_key = match (&sealing, &src.sse) {
            (None, None) => true,
            (Some(s), Some(mode)) => s.same_kek_as(mode),
            _ => false,
        };
        if same_key && matches!(src.data, DataLocation::Blob(_)) {
            return Ok(Prepared::SharedBlob);
        }
        let stream = self.read(&handle, 0, src.size).await?;
        let checks = BodyChecks {
            content_length: Some(src.size),
            ..BodyChecks::default()
        };
        let algorithm = src
            .checksum
            .as_ref()
            .map_or(ChecksumAlgorithm::Crc64Nvme, |c| c.algorithm);
        let received = self
            .receive_up_to(stream, &checks, &[algorithm], false, sealing.as_ref(), u64::MAX)
            .await?;
        let crate::objects::Received::Blob { id, size, sealed, .. } = received else {
            return Err(S3Error::internal("a replica's bytes came back inline"));
        };
        Ok(Prepared::Rewritten {
            data: DataLocation::Blob(id),
            sealed,
            sse: sealing.map(|s| s.mode),
            size,
        })
    }

    /// One batch of an existing-objects walk (see the module doc).
    async fn queue_existing(&self, bucket: &str, after: Option<Vec<u8>>) -> S3Result<()> {
        let (bucket, after) = (bucket.to_owned(), Arc::new(after));
        self.write(move |txn| {
            let (bucket, after) = (bucket.clone(), after.clone());
            Box::pin(async move {
                let Some(config) =
                    store::get::<ReplicationConfig>(&*txn, &keys::config(&bucket, ConfigKind::Replication)).await?
                else {
                    return Ok(());
                };
                let prefix = keys::version_prefix(&bucket);
                let start = match after.as_ref() {
                    Some(last) => {
                        let mut k = last.clone();
                        k.push(0);
                        k
                    }
                    None => prefix.clone(),
                };
                let rows = store::range(&*txn, &start, &ksan_meta::prefix_end(&prefix), EXISTING_BATCH).await?;
                let now = now_ms();
                for (_, value) in &rows {
                    let mut v: ObjectVersion = decode(value)?;
                    if v.replication.is_some() {
                        continue; // replicated, pending, or a replica
                    }
                    let rules: Vec<String> = targets_for(&config, &v, Change::New)
                        .into_iter()
                        .filter(|r| r.existing_objects == Some(true))
                        .map(|r| r.id.clone())
                        .collect();
                    if rules.is_empty() {
                        continue;
                    }
                    crate::replication::queue_version(txn, &bucket, &v, &rules, Change::New, now)?;
                    v.replication = Some(ReplicationState {
                        status: ReplicationStatus::Pending,
                        pending: rules,
                        failed: Vec::new(),
                    });
                    rewrite_version(txn, &bucket, &v).await?;
                }
                if rows.len() == EXISTING_BATCH
                    && let Some((last, _)) = rows.last()
                {
                    let next = WorkItem {
                        bucket: bucket.clone(),
                        job: Job::Existing {
                            after: Some(last.clone()),
                        },
                        attempts: 0,
                    };
                    enqueue(txn, &next, now)?;
                }
                Ok(())
            })
        })
        .await
    }
}

/// Take `rule` off the source version's pending (and failed) list: COMPLETED once none is
/// left.
async fn settle(txn: &mut dyn ksan_meta::WriteOps, bucket: &str, src: &mut ObjectVersion, rule: &str) -> S3Result<()> {
    if let Some(state) = src.replication.as_mut()
        && state.status != ReplicationStatus::Replica
    {
        state.pending.retain(|p| p != rule);
        state.failed.retain(|p| p != rule);
        state.status = match (state.pending.is_empty(), state.failed.is_empty()) {
            (true, true) => ReplicationStatus::Completed,
            (_, false) => ReplicationStatus::Failed,
            (false, true) => ReplicationStatus::Pending,
        };
        rewrite_version(txn, bucket, src).await?;
    }
    Ok(())
}
