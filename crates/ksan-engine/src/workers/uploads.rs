//! Forgetting completed uploads: CompleteMultipartUpload keeps the version it made (`X|` row)
//! so that a repeated call answers as the first did, and queues an item (`Q|completed`) due
//! when the answer is to be forgotten (a day later by default).

use ksan_types::S3Result;

use super::{Pass, Worker};
use crate::keys::Queue;
use crate::{Engine, store};

const BATCH: usize = 1000;

/// Drops the answers kept for repeated completions once they are due.
pub struct CompletedUploadsWorker;

#[async_trait::async_trait]
impl Worker for CompletedUploadsWorker {
    fn name(&self) -> &'static str {
        "completed-uploads"
    }

    async fn work(&self, engine: &Engine) -> S3Result<Pass> {
        let done = engine.forget_completed_uploads(crate::now_ms(), BATCH).await?;
        Ok(Pass {
            done: done as u64,
            more: done == BATCH,
        })
    }

    async fn backlog(&self, engine: &Engine) -> S3Result<u64> {
        engine.queue_len(Queue::CompletedUploads, 100_000).await
    }
}

impl Engine {
    /// Forget the completed-upload answers due at `now_ms`. Returns how many were dropped.
    pub(crate) async fn forget_completed_uploads(&self, now_ms: i64, limit: usize) -> S3Result<usize> {
        let claimed = self.claim(Queue::CompletedUploads, now_ms, limit).await?;
        let n = claimed.len();
        if n == 0 {
            return Ok(0);
        }
        let claimed = std::sync::Arc::new(claimed);
        self.write(move |txn| {
            let claimed = claimed.clone();
            Box::pin(async move {
                for item in claimed.iter() {
                    store::delete(txn, &item.payload)?;
                    store::delete(txn, &item.row)?;
                }
                Ok(())
            })
        })
        .await?;
        Ok(n)
    }
}
