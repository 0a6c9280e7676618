//! The lifecycle executor: carries out every bucket's lifecycle rules (`crate::lifecycle`).
//!
//! A pass visits the buckets that have a configuration, in name order; in each it walks the
//! version rows key by key, then the uploads in progress. Each call of the worker does one
//! bounded batch (at most [`BATCH`] rows): it reads the rows from a snapshot, asks
//! [`crate::lifecycle::evaluate`] which keys have work, and then one metadata transaction
//! re-reads those keys, decides again against what it reads there (so a write or a
//! retention set meanwhile is respected), carries the actions out and moves the cursor
//! (`G|lifecycle-cursor`) past the batch. Actions and cursor commit together: a pass killed
//! at any point resumes after the last committed batch, and a batch carried out twice decides
//! nothing the second time (the expired version already has its delete marker), so every due
//! action happens exactly once. No transaction stays open across a bucket: a pass costs one
//! short transaction per batch, whatever the bucket's size.
//!
//! A pass starts when the worker runs with no pass under way (every `--lifecycle-interval`);
//! the runner calls it again at once while a pass goes on. Progress (the pass's bucket and
//! rows walked) and totals per action are on `/metrics` (`LifecycleStats`).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use ksan_meta::{ReadOps, WriteOps};
use ksan_types::S3Result;
use serde::{Deserialize, Serialize};

use super::{Pass, Worker};
use crate::keys::{self, ConfigKind};
use crate::lifecycle::{Action, LifecycleConfig, abort_of, evaluate};
use crate::records::{BucketRecord, ObjectVersion, UploadRecord, Versioning, decode};
use crate::versions::{insert_version, refresh_latest, remove_version, rewrite_version};
use crate::{Engine, now_ms, store};

/// Rows one batch reads at most.
pub const BATCH: usize = 1000;

/// Carries out lifecycle rules.
pub struct LifecycleWorker;

#[async_trait::async_trait]
impl Worker for LifecycleWorker {
    fn name(&self) -> &'static str {
        "lifecycle"
    }

    async fn work(&self, engine: &Engine) -> S3Result<Pass> {
        let step = engine.lifecycle_step(BATCH).await?;
        Ok(Pass {
            done: step.acted,
            more: step.more,
        })
    }

    /// Buckets with lifecycle rules the pass under way has yet to finish.
    async fn backlog(&self, engine: &Engine) -> S3Result<u64> {
        engine.lifecycle_buckets_left().await
    }
}

/// What the walk is doing in a bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum Phase {
    /// Walking object versions.
    Versions,
    /// Walking uploads in progress.
    Uploads,
}

/// Where a pass stands (`G|lifecycle-cursor`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Cursor {
    /// When the pass began.
    started_ms: i64,
    /// The bucket being walked.
    bucket: String,
    /// Its phase.
    phase: Phase,
    /// The last object key done (Versions), or `key\0upload-id` (Uploads).
    after: Option<String>,
    /// Rows walked in this pass so far.
    scanned: u64,
    /// Actions carried out in this pass so far.
    acted: u64,
}

impl Cursor {
    fn at(bucket: String, started_ms: i64, scanned: u64, acted: u64) -> Cursor {
        Cursor {
            started_ms,
            bucket,
            phase: Phase::Versions,
            after: None,
            scanned,
            acted,
        }
    }
}

/// The last finished pass (`G|lifecycle-last-pass`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastPass {
    /// When it began (ms since the epoch).
    pub started_ms: i64,
    /// When it ended.
    pub ended_ms: i64,
    /// Rows walked.
    pub scanned: u64,
    /// Actions carried out.
    pub acted: u64,
}

/// Totals of what the executor did since the server started, and where the pass under way
/// stands, for `/metrics`.
#[derive(Debug, Default)]
pub struct LifecycleStats {
    /// Current versions expired (removed, or given a delete marker).
    pub expired: AtomicU64,
    /// Noncurrent versions removed.
    pub noncurrent_removed: AtomicU64,
    /// Expired object delete markers removed.
    pub delete_markers_removed: AtomicU64,
    /// Versions whose storage class was changed.
    pub transitioned: AtomicU64,
    /// Incomplete multipart uploads aborted.
    pub uploads_aborted: AtomicU64,
    /// Removals object lock refused (counted each pass that finds them).
    pub held: AtomicU64,
    /// Rows walked.
    pub scanned: AtomicU64,
    /// Passes finished.
    pub passes: AtomicU64,
    /// When the pass under way began (ms; 0: none under way).
    pub pass_started_ms: AtomicI64,
    /// Rows the pass under way has walked.
    pub pass_scanned: AtomicU64,
    /// How long the last finished pass took (ms).
    pub last_pass_ms: AtomicI64,
}

/// What one batch did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Step {
    /// Actions carried out.
    pub acted: u64,
    /// Rows walked.
    pub scanned: u64,
    /// The pass goes on.
    pub more: bool,
}

/// Actions carried out in one transaction.
#[derive(Debug, Clone, Copy, Default)]
struct Tally {
    expired: u64,
    noncurrent: u64,
    markers: u64,
    transitioned: u64,
    aborted: u64,
}

impl Tally {
    fn total(&self) -> u64 {
        self.expired + self.noncurrent + self.markers + self.transitioned + self.aborted
    }
}

/// A bucket's lifecycle configuration as a read sees it.
async fn config_of(ops: &dyn ReadOps, bucket: &str) -> S3Result<Option<LifecycleConfig>> {
    store::get(ops, &keys::config(bucket, ConfigKind::Lifecycle)).await
}

/// The first bucket after `after` (by name) that has a lifecycle configuration.
async fn next_bucket(ops: &dyn ReadOps, after: Option<&str>) -> S3Result<Option<String>> {
    let end = ksan_meta::prefix_end(keys::BUCKET_PREFIX);
    let mut start = match after {
        Some(name) => {
            let mut k = keys::bucket(name);
            k.push(0);
            k
        }
        None => keys::BUCKET_PREFIX.to_vec(),
    };
    loop {
        let rows = store::range(ops, &start, &end, 1000).await?;
        for (row, _) in &rows {
            let name = String::from_utf8_lossy(&row[keys::BUCKET_PREFIX.len()..]).into_owned();
            if store::get_raw(ops, &keys::config(&name, ConfigKind::Lifecycle))
                .await?
                .is_some()
            {
                return Ok(Some(name));
            }
        }
        match rows.last() {
            Some((last, _)) if rows.len() == 1000 => {
                start = last.clone();
                start.push(0);
            }
            _ => return Ok(None),
        }
    }
}

/// All versions of a key, newest first.
async fn versions_of(ops: &dyn ReadOps, bucket: &str, key: &str) -> S3Result<Vec<ObjectVersion>> {
    store::scan(ops, &keys::version_key_prefix(bucket, key), usize::MAX)
        .await?
        .iter()
        .map(|(_, v)| decode(v))
        .collect()
}

/// Where the walk goes once the cursor's bucket (or phase) is done.
async fn advance(ops: &dyn ReadOps, cursor: &Cursor, config: Option<&LifecycleConfig>) -> S3Result<Option<Cursor>> {
    if cursor.phase == Phase::Versions && config.is_some_and(LifecycleConfig::acts_on_uploads) {
        return Ok(Some(Cursor {
            phase: Phase::Uploads,
            after: None,
            ..cursor.clone()
        }));
    }
    Ok(next_bucket(ops, Some(&cursor.bucket))
        .await?
        .map(|b| Cursor::at(b, cursor.started_ms, cursor.scanned, cursor.acted)))
}

impl Engine {
    /// The lifecycle executor's totals and progress.
    pub fn lifecycle_stats(&self) -> &LifecycleStats {
        &self.lifecycle
    }

    /// The last finished lifecycle pass, if any.
    pub async fn lifecycle_last_pass(&self) -> S3Result<Option<LastPass>> {
        let snap = self.snapshot().await?;
        store::get(&*snap, &keys::lifecycle_last_pass()).await
    }

    /// Buckets with lifecycle rules the pass under way has yet to finish (0: no pass).
    pub async fn lifecycle_buckets_left(&self) -> S3Result<u64> {
        let snap = self.snapshot().await?;
        let Some(cursor) = store::get::<Cursor>(&*snap, &keys::lifecycle_cursor()).await? else {
            return Ok(0);
        };
        let mut left = 1;
        let mut after = cursor.bucket;
        while let Some(next) = next_bucket(&*snap, Some(&after)).await? {
            left += 1;
            if left >= 100_000 {
                break;
            }
            after = next;
        }
        Ok(left)
    }

    /// One batch of the lifecycle pass (see the module doc): starts a pass if none is under
    /// way, walks at most `limit` rows, carries out what is due and moves the cursor.
    pub async fn lifecycle_step(&self, limit: usize) -> S3Result<Step> {
        let snap = self.snapshot().await?;
        let cursor = match store::get::<Cursor>(&*snap, &keys::lifecycle_cursor()).await? {
            Some(c) => c,
            None => match next_bucket(&*snap, None).await? {
                Some(bucket) => Cursor::at(bucket, now_ms(), 0, 0),
                None => return Ok(Step::default()),
            },
        };
        self.lifecycle
            .pass_started_ms
            .store(cursor.started_ms, Ordering::Relaxed);
        let config = config_of(&*snap, &cursor.bucket).await?;
        let bucket: Option<BucketRecord> = store::get(&*snap, &keys::bucket(&cursor.bucket)).await?;
        let plan = match (&config, &bucket, cursor.phase) {
            (Some(config), Some(record), Phase::Versions) if config.acts_on_versions() => {
                self.plan_versions(&*snap, &cursor, config, record.versioning, limit)
                    .await?
            }
            (Some(config), Some(_), Phase::Uploads) => self.plan_uploads(&*snap, &cursor, config, limit).await?,
            _ => Plan::default(),
        };
        let next = match plan.after.clone() {
            Some(after) => Some(Cursor {
                after: Some(after),
                scanned: cursor.scanned + plan.scanned,
                ..cursor.clone()
            }),
            None => {
                let done = Cursor {
                    scanned: cursor.scanned + plan.scanned,
                    ..cursor.clone()
                };
                advance(&*snap, &done, config.as_ref()).await?
            }
        };
        drop(snap);
        let tally = self.carry_out(&cursor, plan.clone(), next.clone()).await?;
        let stats = &self.lifecycle;
        stats.expired.fetch_add(tally.expired, Ordering::Relaxed);
        stats.noncurrent_removed.fetch_add(tally.noncurrent, Ordering::Relaxed);
        stats.delete_markers_removed.fetch_add(tally.markers, Ordering::Relaxed);
        stats.transitioned.fetch_add(tally.transitioned, Ordering::Relaxed);
        stats.uploads_aborted.fetch_add(tally.aborted, Ordering::Relaxed);
        stats.held.fetch_add(plan.held, Ordering::Relaxed);
        stats.scanned.fetch_add(plan.scanned, Ordering::Relaxed);
        stats
            .pass_scanned
            .store(cursor.scanned + plan.scanned, Ordering::Relaxed);
        if next.is_none() {
            stats.passes.fetch_add(1, Ordering::Relaxed);
            stats.pass_started_ms.store(0, Ordering::Relaxed);
            stats
                .last_pass_ms
                .store(now_ms() - cursor.started_ms, Ordering::Relaxed);
        }
        Ok(Step {
            acted: tally.total(),
            scanned: plan.scanned,
            more: next.is_some(),
        })
    }

    /// Read one batch of version rows after the cursor; the keys that have work.
    async fn plan_versions(
        &self,
        snap: &dyn ReadOps,
        cursor: &Cursor,
        config: &LifecycleConfig,
        versioning: Versioning,
        limit: usize,
    ) -> S3Result<Plan> {
        let b = &cursor.bucket;
        let prefix = keys::version_prefix(b);
        let start = match &cursor.after {
            Some(key) => ksan_meta::prefix_end(&keys::version_key_prefix(b, key)),
            None => prefix.clone(),
        };
        let rows = store::range(snap, &start, &ksan_meta::prefix_end(&prefix), limit.max(1)).await?;
        let full = rows.len() >= limit.max(1);
        let mut groups: Vec<Vec<ObjectVersion>> = Vec::new();
        for (_, value) in &rows {
            let v: ObjectVersion = decode(value)?;
            match groups.last_mut() {
                Some(g) if g[0].key == v.key => g.push(v),
                _ => groups.push(vec![v]),
            }
        }
        if full && groups.len() > 1 {
            // The last key may have versions past the batch: it is the next batch's.
            groups.pop();
        } else if full && let Some(g) = groups.first_mut() {
            // One key with more versions than a batch holds: read all of them.
            let key = g[0].key.clone();
            *g = versions_of(snap, b, &key).await?;
        }
        let now = now_ms();
        let day = self.lifecycle_day_ms();
        let mut plan = Plan {
            scanned: groups.iter().map(|g| g.len() as u64).sum(),
            after: if full {
                groups.last().map(|g| g[0].key.clone())
            } else {
                None
            },
            ..Plan::default()
        };
        for g in &groups {
            let d = evaluate(config, g, versioning, now, day);
            plan.held += u64::from(d.held);
            if !d.actions.is_empty() {
                plan.keys.push(g[0].key.clone());
            }
        }
        Ok(plan)
    }

    /// Read one batch of uploads after the cursor; the uploads due to be aborted.
    async fn plan_uploads(
        &self,
        snap: &dyn ReadOps,
        cursor: &Cursor,
        config: &LifecycleConfig,
        limit: usize,
    ) -> S3Result<Plan> {
        let prefix = keys::upload_prefix(&cursor.bucket);
        let start = match &cursor.after {
            Some(after) => {
                let mut k = prefix.clone();
                k.extend_from_slice(after.as_bytes());
                k.push(0);
                k
            }
            None => prefix.clone(),
        };
        let rows = store::range(snap, &start, &ksan_meta::prefix_end(&prefix), limit.max(1)).await?;
        let (now, day) = (now_ms(), self.lifecycle_day_ms());
        let mut plan = Plan {
            scanned: rows.len() as u64,
            ..Plan::default()
        };
        for (row, value) in &rows {
            let u: UploadRecord = decode(value)?;
            if abort_of(config, &u.key, u.initiated_ms, day).is_some_and(|(at, _)| at <= now) {
                plan.uploads.push((u.key, u.upload_id));
            }
            if rows.len() >= limit.max(1) {
                plan.after = Some(String::from_utf8_lossy(&row[prefix.len()..]).into_owned());
            }
        }
        Ok(plan)
    }

    /// One transaction: carry out the plan's actions as the rules decide them against what
    /// the transaction reads, and move the cursor to `next` (None: the pass is over).
    async fn carry_out(&self, cursor: &Cursor, plan: Plan, next: Option<Cursor>) -> S3Result<Tally> {
        let day = self.lifecycle_day_ms();
        let (cursor, plan) = (Arc::new(cursor.clone()), Arc::new(plan));
        self.write(move |txn| {
            let (cursor, plan, next) = (cursor.clone(), plan.clone(), next.clone());
            Box::pin(async move {
                let b = cursor.bucket.as_str();
                let mut tally = Tally::default();
                let record: Option<BucketRecord> = store::get_for_update(&*txn, &keys::bucket(b)).await?;
                let config = config_of(&*txn, b).await?;
                if let (Some(record), Some(config)) = (&record, &config) {
                    for key in &plan.keys {
                        expire_key(txn, record, config, key, day, &mut tally).await?;
                    }
                    for (key, upload_id) in &plan.uploads {
                        if store::get_raw(&*txn, &keys::upload(b, key, upload_id)).await?.is_some() {
                            crate::multipart::remove_upload(txn, b, key, upload_id).await?;
                            tally.aborted += 1;
                        }
                    }
                }
                match &next {
                    Some(next) => {
                        let next = Cursor {
                            acted: next.acted + tally.total(),
                            ..next.clone()
                        };
                        store::put(txn, &keys::lifecycle_cursor(), &next)?;
                    }
                    None => {
                        store::delete(txn, &keys::lifecycle_cursor())?;
                        let last = LastPass {
                            started_ms: cursor.started_ms,
                            ended_ms: now_ms(),
                            scanned: cursor.scanned + plan.scanned,
                            acted: cursor.acted + tally.total(),
                        };
                        store::put(txn, &keys::lifecycle_last_pass(), &last)?;
                    }
                }
                Ok(tally)
            })
        })
        .await
    }

    /// The length of a lifecycle day, in ms.
    pub(crate) fn lifecycle_day_ms(&self) -> i64 {
        (self.config.lifecycle_day.as_millis() as i64).max(1)
    }
}

/// A batch's reading: the keys and uploads with work, and where the batch ended.
#[derive(Debug, Clone, Default)]
struct Plan {
    /// Keys whose versions have due actions.
    keys: Vec<String>,
    /// Uploads due to be aborted: (key, upload id).
    uploads: Vec<(String, String)>,
    /// Rows walked.
    scanned: u64,
    /// Removals object lock refused.
    held: u64,
    /// The last key (or upload) done, if the bucket's phase goes on past this batch.
    after: Option<String>,
}

/// Decide a key's actions against its versions as this transaction reads them, and carry
/// them out.
async fn expire_key(
    txn: &mut dyn WriteOps,
    bucket: &BucketRecord,
    config: &LifecycleConfig,
    key: &str,
    day_ms: i64,
    tally: &mut Tally,
) -> S3Result<()> {
    let b = bucket.name.as_str();
    let versions = versions_of(&*txn, b, key).await?;
    let decision = evaluate(config, &versions, bucket.versioning, now_ms(), day_ms);
    if decision.actions.is_empty() {
        return Ok(());
    }
    let find = |uid: &[u8; 16]| versions.iter().find(|v| v.uid == *uid);
    for action in &decision.actions {
        match action {
            Action::ExpireCurrent { uid } => {
                let Some(v) = find(uid) else { continue };
                if bucket.versioning == Versioning::Unversioned {
                    remove_version(txn, b, v).await?;
                } else {
                    let mut marker = ObjectVersion::delete_marker(
                        key.to_owned(),
                        bucket.owner.clone(),
                        bucket.owner_display_name.clone(),
                    );
                    marker.by_lifecycle = true;
                    insert_version(txn, bucket, &mut marker).await?;
                }
                tally.expired += 1;
            }
            Action::RemoveNoncurrent { uid } | Action::RemoveDeleteMarker { uid } => {
                let Some(v) = find(uid) else { continue };
                remove_version(txn, b, v).await?;
                if matches!(action, Action::RemoveDeleteMarker { .. }) {
                    tally.markers += 1;
                } else {
                    tally.noncurrent += 1;
                }
            }
            Action::Transition { uid, storage_class } => {
                let Some(v) = find(uid) else { continue };
                let mut v = v.clone();
                v.storage_class = match storage_class {
                    ksan_types::StorageClass::Standard => None,
                    other => Some(*other),
                };
                rewrite_version(txn, b, &v).await?;
                tally.transitioned += 1;
            }
        }
    }
    refresh_latest(txn, b, key).await
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::lifecycle::{Filter, Rule};
    use crate::testutil::{keys_in, uploads_in};
    use crate::{EngineConfig, NewObject};

    /// An engine whose lifecycle day lasts 1 ms, over a metadata store a "restarted" engine
    /// can share.
    fn engine_on(meta: Arc<ksan_meta::MemKv>, dir: &std::path::Path) -> Arc<Engine> {
        let data = ksan_data::FsDataStore::open(dir).unwrap();
        let config = EngineConfig {
            inline_threshold: 1024,
            lifecycle_day: Duration::from_millis(1),
            ..EngineConfig::default()
        };
        Engine::new(meta, Arc::new(data), config)
    }

    async fn put(e: &Engine, bucket: &str, key: &str) {
        let req = crate::objects::PutObjectRequest {
            sse: None,
            bucket: bucket.into(),
            key: key.into(),
            object: NewObject::default(),
            body: crate::objects::BodyChecks::default(),
            conditions: crate::objects::WriteConditions::default(),
        };
        let body: ksan_types::BodyStream = Box::pin(futures_util::stream::once(async {
            Ok(bytes::Bytes::from_static(b"x"))
        }));
        e.put_object(req, body).await.unwrap();
    }

    fn rule(prefix: &str) -> Rule {
        Rule {
            id: prefix.into(),
            enabled: true,
            filter: Filter::Prefix(prefix.into()),
            expiration: Some(crate::lifecycle::When::Days(1)),
            expired_object_delete_marker: None,
            noncurrent_expiration: None,
            abort_after_days: None,
            transitions: vec![],
            noncurrent_transitions: vec![],
        }
    }

    async fn run_pass(e: &Engine, limit: usize) -> (u64, usize) {
        let (mut acted, mut steps) = (0, 0);
        loop {
            let step = e.lifecycle_step(limit).await.unwrap();
            acted += step.acted;
            steps += 1;
            if !step.more {
                return (acted, steps);
            }
        }
    }

    #[tokio::test]
    async fn a_pass_in_small_batches_survives_a_restart_and_acts_once() {
        let dir = tempfile::tempdir().unwrap();
        let meta = Arc::new(ksan_meta::MemKv::new());
        let e = engine_on(meta.clone(), dir.path());
        let u = e.create_user("u", "AKU", "secretsecret", false).await.unwrap();
        for b in ["bkt1", "bkt2", "plain"] {
            e.create_bucket(&u, b, None).await.unwrap();
        }
        for i in 0..10 {
            put(&e, "bkt1", &format!("a/{i}")).await;
            put(&e, "bkt1", &format!("keep/{i}")).await;
            put(&e, "bkt2", &format!("a/{i}")).await;
            put(&e, "plain", &format!("a/{i}")).await;
        }
        let abort = Rule {
            id: "abort".into(),
            expiration: None,
            abort_after_days: Some(1),
            ..rule("a/")
        };
        let config = LifecycleConfig::new(vec![rule("a/"), abort], None).unwrap();
        e.put_config("bkt1", config.clone(), true).await.unwrap();
        e.put_config("bkt2", config, true).await.unwrap();
        let up = e
            .create_upload("bkt2", "a/upload", NewObject::default(), None, None, None)
            .await
            .unwrap();
        e.create_upload("bkt2", "other", NewObject::default(), None, None, None)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
        // Three batches of 3 rows, then the server "restarts": a new engine on the same store
        // resumes from the cursor.
        let mut acted = 0;
        for _ in 0..3 {
            let step = e.lifecycle_step(3).await.unwrap();
            assert!(step.more);
            acted += step.acted;
        }
        drop(e);
        let e = engine_on(meta, dir.path());
        let (rest, steps) = run_pass(&e, 3).await;
        assert!(steps > 3, "the walk goes on in batches");
        // 10 + 10 expired, one upload aborted: each once.
        assert_eq!(acted + rest, 21);
        assert_eq!(keys_in(&e, "bkt1").await.len(), 10);
        assert!(keys_in(&e, "bkt1").await.iter().all(|k| k.starts_with("keep/")));
        assert!(keys_in(&e, "bkt2").await.is_empty());
        assert_eq!(
            keys_in(&e, "plain").await.len(),
            10,
            "a bucket without rules is left alone"
        );
        let uploads = uploads_in(&e, "bkt2").await;
        assert_eq!(uploads.len(), 1);
        assert_ne!(uploads[0], up.upload_id);
        let last = e.lifecycle_last_pass().await.unwrap().unwrap();
        assert_eq!(last.acted, 21);
        // The next pass finds nothing to do.
        assert_eq!(run_pass(&e, 1000).await.0, 0);
    }

    #[tokio::test]
    async fn versioned_expiration_adds_one_lifecycle_delete_marker() {
        let dir = tempfile::tempdir().unwrap();
        let e = engine_on(Arc::new(ksan_meta::MemKv::new()), dir.path());
        let u = e.create_user("u", "AKU", "secretsecret", false).await.unwrap();
        e.create_bucket(&u, "ver", None).await.unwrap();
        e.set_versioning("ver", Versioning::Enabled).await.unwrap();
        put(&e, "ver", "a/k").await;
        e.put_config("ver", LifecycleConfig::new(vec![rule("a/")], None).unwrap(), true)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert_eq!(run_pass(&e, 1000).await.0, 1);
        assert_eq!(run_pass(&e, 1000).await.0, 0, "the marker is current now: nothing more");
        let snap = e.snapshot().await.unwrap();
        let versions = versions_of(&*snap, "ver", "a/k").await.unwrap();
        assert_eq!(versions.len(), 2);
        assert!(versions[0].delete_marker && versions[0].by_lifecycle);
        assert!(!versions[1].delete_marker);
        assert!(keys_in(&e, "ver").await.is_empty());
        assert_eq!(e.lifecycle_stats().expired.load(Ordering::Relaxed), 1);
    }
}
