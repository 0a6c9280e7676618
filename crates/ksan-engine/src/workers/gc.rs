//! Blob garbage collection. A blob's last reference is removed in the same transaction that
//! queues it (`Q|gc`); the collector unlinks it only after that commit, and only once the grace
//! period has passed, so that a GET that looked the version up just before can still open it.

use ksan_types::S3Result;

use super::{Claimed, QueueJob};
use crate::Engine;
use crate::keys::Queue;

/// Unlinks blobs whose last reference went away.
pub struct GcWorker;

#[async_trait::async_trait]
impl QueueJob for GcWorker {
    const NAME: &'static str = "gc";
    const QUEUE: Queue = Queue::Gc;

    fn cutoff(&self, engine: &Engine, now_ms: i64) -> i64 {
        now_ms - engine.config.gc_grace.as_millis() as i64
    }

    async fn carry_out(&self, engine: &Engine, items: Vec<Claimed>) -> S3Result<Vec<Vec<u8>>> {
        let mut done = Vec::with_capacity(items.len());
        for item in items {
            match <[u8; 16]>::try_from(item.payload.as_slice()) {
                Ok(id) => match engine.data.delete(ksan_data::BlobId(id)).await {
                    Ok(()) => done.push(item.row),
                    // Left claimed: it comes due again after the lease.
                    Err(e) => tracing::warn!(error = %e, "gc: could not delete blob"),
                },
                Err(_) => done.push(item.row),
            }
        }
        Ok(done)
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
        self.run_queue(&GcWorker, now_ms, limit).await
    }
}
