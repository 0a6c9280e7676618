//! Forgetting completed uploads: CompleteMultipartUpload keeps the version it made (`X|` row)
//! so that a repeated call answers as the first did, and queues an item (`Q|completed`) due
//! when the answer is to be forgotten (a day later by default).

use std::sync::Arc;

use ksan_types::S3Result;

use super::{Claimed, QueueJob};
use crate::keys::Queue;
use crate::{Engine, store};

/// Drops the answers kept for repeated completions once they are due.
pub struct CompletedUploadsWorker;

#[async_trait::async_trait]
impl QueueJob for CompletedUploadsWorker {
    const NAME: &'static str = "completed-uploads";
    const QUEUE: Queue = Queue::CompletedUploads;

    async fn carry_out(&self, engine: &Engine, items: Vec<Claimed>) -> S3Result<Vec<Vec<u8>>> {
        let items = Arc::new(items);
        let answers = items.clone();
        engine
            .write(move |txn| {
                let answers = answers.clone();
                Box::pin(async move {
                    for item in answers.iter() {
                        store::delete(txn, &item.payload)?;
                    }
                    Ok(())
                })
            })
            .await?;
        Ok(items.iter().map(|i| i.row.clone()).collect())
    }
}

#[cfg(test)]
impl Engine {
    /// Forget the completed-upload answers due at `now_ms`. Returns how many were dropped.
    pub(crate) async fn forget_completed_uploads(&self, now_ms: i64, limit: usize) -> S3Result<usize> {
        self.run_queue(&CompletedUploadsWorker, now_ms, limit).await
    }
}
