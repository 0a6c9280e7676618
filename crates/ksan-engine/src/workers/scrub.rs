//! The orphan scrubber: blob files that no reference names and that are older than a day were
//! left by a crash between a blob's fsync and its metadata commit. The scrubber walks the blob
//! store in id order from a cursor kept in the metadata store (`G|scrub-cursor`), so a walk
//! survives restarts and each pass costs a bounded amount.

use ksan_data::BlobId;
use ksan_types::S3Result;

use super::{Pass, Worker};
use crate::{Engine, keys, store};

/// Blob files looked at per pass.
const BATCH: usize = 10_000;

/// Removes blob files no record names.
pub struct ScrubWorker;

#[async_trait::async_trait]
impl Worker for ScrubWorker {
    fn name(&self) -> &'static str {
        "orphan-scrub"
    }

    async fn work(&self, engine: &Engine) -> S3Result<Pass> {
        let (removed, more) = engine.scrub_orphans(BATCH).await?;
        if removed > 0 {
            tracing::info!(removed, "scrubber removed orphan blobs");
        }
        Ok(Pass {
            done: removed as u64,
            more,
        })
    }
}

impl Engine {
    /// Look at up to `limit` old blob files after the cursor; remove those no reference names.
    /// Returns how many were removed and whether the walk has more to go before it starts over.
    pub async fn scrub_orphans(&self, limit: usize) -> S3Result<(usize, bool)> {
        let cursor_key = keys::global("scrub-cursor");
        let snap = self.snapshot().await?;
        let after = store::get_id(&*snap, &cursor_key).await?.map(BlobId);
        drop(snap);
        let candidates = self.data.list_older_than(self.config.orphan_age, after, limit).await?;
        let mut removed = 0;
        for id in &candidates {
            let snap = self.snapshot().await?;
            let referenced = store::get_raw(&*snap, &keys::blob_ref(&id.0)).await?.is_some();
            drop(snap);
            if !referenced {
                self.data.delete(*id).await?;
                removed += 1;
            }
        }
        let more = candidates.len() == limit;
        // At the end of a walk the cursor goes back to the start.
        let next = if more { candidates.last().copied() } else { None };
        self.write(move |txn| {
            let cursor_key = cursor_key.clone();
            Box::pin(async move {
                match next {
                    Some(id) => store::put_raw(txn, &cursor_key, &id.0),
                    None => store::delete(txn, &cursor_key),
                }
            })
        })
        .await?;
        Ok((removed, more))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use ksan_data::{DataStore, FsDataStore, Hashers};

    use crate::{Engine, EngineConfig};

    #[tokio::test]
    async fn orphans_go_and_referenced_blobs_stay_over_a_resumable_walk() {
        let dir = tempfile::tempdir().unwrap();
        let data = Arc::new(FsDataStore::open(dir.path()).unwrap());
        let config = EngineConfig {
            inline_threshold: 0,
            orphan_age: std::time::Duration::ZERO,
            ..EngineConfig::default()
        };
        let e = Engine::new(Arc::new(ksan_meta::MemKv::new()), data.clone(), config);
        let u = e.create_user("u", "AKU", "secretsecret", false).await.unwrap();
        e.create_bucket(&u, "bkt", None).await.unwrap();
        let mut kept = Vec::new();
        for i in 0..3 {
            kept.push(crate::testutil::put_blob(&e, "bkt", &format!("k{i}"), b"kept bytes".to_vec()).await);
        }
        // Blobs a crash left behind: written and made durable, never committed.
        let mut orphans = Vec::new();
        for _ in 0..4 {
            let w = data.create(Hashers::new(&[])).await.unwrap();
            orphans.push(w.id());
            w.finish().await.unwrap();
        }
        // Two blobs a pass: the walk goes on where it stopped until it has seen all seven.
        let mut removed = 0;
        let mut passes = 0;
        loop {
            let (n, more) = e.scrub_orphans(2).await.unwrap();
            removed += n;
            passes += 1;
            if !more {
                break;
            }
        }
        assert_eq!(removed, 4);
        assert!(passes >= 4);
        let left = data
            .list_older_than(std::time::Duration::ZERO, None, 100)
            .await
            .unwrap();
        let mut kept_sorted = kept.clone();
        kept_sorted.sort();
        assert_eq!(left, kept_sorted);
        // The next walk starts over, and finds nothing more to remove.
        assert_eq!(e.scrub_orphans(100).await.unwrap(), (0, false));
    }
}
