//! Blob garbage collection. A blob's last reference is removed in the same transaction that
//! queues it for deletion (`Q|gc|due|seq`); the collector unlinks it only after that commit,
//! and after a grace period so that readers that looked the version up just before can still
//! open it. A scrubber removes blob files no record names (left by a crash between the blob's
//! fsync and its metadata commit).

use std::sync::Arc;
use std::time::Duration;

use ksan_meta::WriteOps;
use ksan_types::{S3Error, S3Result};

use crate::{Engine, keys, meta_err};

const GC_QUEUE: &str = "gc";
/// How long a completed upload still answers a repeated CompleteMultipartUpload.
const COMPLETED_UPLOAD_MEMORY: Duration = Duration::from_secs(24 * 3600);

/// Drop one reference to a blob; the last one queues the blob for deletion.
pub(crate) fn release_blob(txn: &mut dyn WriteOps, id: &[u8; 16]) -> S3Result<()> {
    let key = keys::blob_ref(id);
    let count = match txn.get(&key).map_err(meta_err)? {
        Some(b) => u64::from_be_bytes(<[u8; 8]>::try_from(b.as_slice()).map_err(S3Error::internal)?),
        None => return Ok(()),
    };
    if count > 1 {
        return txn.put(&key, &(count - 1).to_be_bytes()).map_err(meta_err);
    }
    txn.delete(&key).map_err(meta_err)?;
    // The grace period is applied by the collector; the due time here is "now".
    let due = crate::now_ms().max(0) as u64;
    txn.put(&keys::queue(GC_QUEUE, due, &rand::random::<[u8; 8]>()), id)
        .map_err(meta_err)
}

impl Engine {
    /// Number of blobs waiting to be unlinked.
    pub fn pending_gc(&self) -> S3Result<usize> {
        let snap = self.snapshot()?;
        let prefix = keys::queue_prefix(GC_QUEUE);
        let end = ksan_meta::prefix_end(&prefix);
        Ok(snap.range(&prefix, &end, usize::MAX, false).map_err(meta_err)?.len())
    }

    /// Unlink queued blobs whose grace period has passed. Returns how many were removed.
    pub async fn collect_garbage(&self, limit: usize) -> S3Result<usize> {
        let snap = self.snapshot()?;
        let prefix = keys::queue_prefix(GC_QUEUE);
        let cutoff = (crate::now_ms().max(0) as u64).saturating_sub(self.config.gc_grace.as_millis() as u64);
        let mut end = prefix.clone();
        end.extend_from_slice(&(cutoff + 1).to_be_bytes());
        let due = snap.range(&prefix, &end, limit, false).map_err(meta_err)?;
        drop(snap);
        if due.is_empty() {
            return Ok(0);
        }
        let mut done = Vec::with_capacity(due.len());
        for (qkey, blob) in due {
            let Ok(id) = <[u8; 16]>::try_from(blob.as_slice()) else {
                done.push(qkey);
                continue;
            };
            match self.data.delete(ksan_data::BlobId(id)).await {
                Ok(()) => done.push(qkey),
                Err(e) => tracing::warn!(error = %e, "gc: could not delete blob"),
            }
        }
        let n = done.len();
        self.write(move |txn| {
            for k in &done {
                txn.delete(k).map_err(meta_err)?;
            }
            Ok(())
        })
        .await?;
        Ok(n)
    }

    /// Forget the answers kept for repeated CompleteMultipartUpload calls once they are older
    /// than `age`. Returns how many were dropped.
    pub async fn forget_completed_uploads(&self, age: Duration, limit: usize) -> S3Result<usize> {
        let snap = self.snapshot()?;
        let end = ksan_meta::prefix_end(keys::COMPLETED_PREFIX);
        let cutoff = crate::now_ms() - age.as_millis() as i64;
        let mut old = Vec::new();
        for (k, v) in snap
            .range(keys::COMPLETED_PREFIX, &end, limit, false)
            .map_err(meta_err)?
        {
            let done: crate::ObjectVersion = crate::records::decode(&v)?;
            if done.last_modified_ms <= cutoff {
                old.push(k);
            }
        }
        drop(snap);
        let n = old.len();
        if n > 0 {
            self.write(move |txn| {
                for k in &old {
                    txn.delete(k).map_err(meta_err)?;
                }
                Ok(())
            })
            .await?;
        }
        Ok(n)
    }

    /// Remove blob files that are old and that no reference names.
    pub async fn scrub_orphans(&self, limit: usize) -> S3Result<usize> {
        let candidates = self.data.list_older_than(self.config.orphan_age, limit).await?;
        let mut removed = 0;
        for id in candidates {
            let referenced = self
                .snapshot()?
                .get(&keys::blob_ref(&id.0))
                .map_err(meta_err)?
                .is_some();
            if !referenced {
                self.data.delete(id).await?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Run the collector every `period` and the scrubber every `scrub_period` until the engine
    /// is dropped by everyone else.
    pub fn spawn_workers(self: &Arc<Self>, period: Duration, scrub_period: Duration) {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut last_scrub = tokio::time::Instant::now();
            loop {
                tokio::time::sleep(period).await;
                let Some(engine) = weak.upgrade() else { break };
                loop {
                    match engine.collect_garbage(1000).await {
                        Ok(1000) => continue,
                        Ok(_) => break,
                        Err(e) => {
                            tracing::warn!(error = %e, "gc pass failed");
                            break;
                        }
                    }
                }
                if last_scrub.elapsed() >= scrub_period {
                    last_scrub = tokio::time::Instant::now();
                    if let Err(e) = engine.forget_completed_uploads(COMPLETED_UPLOAD_MEMORY, 10_000).await {
                        tracing::warn!(error = %e, "forgetting completed uploads failed");
                    }
                    match engine.scrub_orphans(10_000).await {
                        Ok(0) => {}
                        Ok(n) => tracing::info!(removed = n, "scrubber removed orphan blobs"),
                        Err(e) => tracing::warn!(error = %e, "scrub pass failed"),
                    }
                }
            }
        });
    }
}
