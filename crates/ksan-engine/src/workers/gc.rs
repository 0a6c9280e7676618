//! Blob garbage collection. A blob's last reference is removed in the same transaction that
//! queues it (`Q|gc`); the collector unlinks it only after that commit, and only once the grace
//! period has passed, so that a GET that looked the version up just before can still open it.

use ksan_types::S3Result;

use super::{Pass, Worker};
use crate::Engine;
use crate::keys::Queue;

/// Items one pass takes.
const BATCH: usize = 1000;

/// Unlinks blobs whose last reference went away.
pub struct GcWorker;

#[async_trait::async_trait]
impl Worker for GcWorker {
    fn name(&self) -> &'static str {
        "gc"
    }

    async fn work(&self, engine: &Engine) -> S3Result<Pass> {
        let done = engine.collect_garbage(crate::now_ms(), BATCH).await?;
        Ok(Pass {
            done: done as u64,
            more: done == BATCH,
        })
    }

    async fn backlog(&self, engine: &Engine) -> S3Result<u64> {
        engine.queue_len(Queue::Gc, 100_000).await
    }
}

impl Engine {
    /// Blobs waiting to be unlinked.
    pub async fn pending_gc(&self) -> S3Result<usize> {
        Ok(self.queue_len(Queue::Gc, usize::MAX).await? as usize)
    }

    /// Unlink queued blobs whose grace period is over at `now_ms`. Returns how many were
    /// removed.
    pub async fn collect_garbage(&self, now_ms: i64, limit: usize) -> S3Result<usize> {
        let cutoff = now_ms - self.config.gc_grace.as_millis() as i64;
        let claimed = self.claim(Queue::Gc, cutoff, limit).await?;
        let mut done = Vec::with_capacity(claimed.len());
        for item in claimed {
            match <[u8; 16]>::try_from(item.payload.as_slice()) {
                Ok(id) => match self.data.delete(ksan_data::BlobId(id)).await {
                    Ok(()) => done.push(item.row),
                    // Left claimed: it comes due again after the lease.
                    Err(e) => tracing::warn!(error = %e, "gc: could not delete blob"),
                },
                Err(_) => done.push(item.row),
            }
        }
        let n = done.len();
        self.finish(done).await?;
        Ok(n)
    }
}
