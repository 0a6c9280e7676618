//! The integrity scrubber: re-reads stored object versions and checks their bytes against
//! the digests they were stored with (`integrity::expectations`). It walks every version row
//! in key order from a cursor kept in the metadata store (`G|verify-cursor`), so a walk
//! survives restarts, and paces itself to a byte rate: each pass reads about one second's
//! worth and then waits out the rest of that second. A corrupt version is logged (bucket,
//! key, version) and counted (`ksan_corrupt_objects_found_total`); it is not changed.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use ksan_types::S3Result;

use super::{Pass, Worker};
use crate::objects::handle_for;
use crate::records::{ObjectVersion, decode};
use crate::{Engine, keys, store};

/// Version rows looked at per pass at most.
const BATCH: usize = 1000;

/// Re-reads stored versions at `bytes_per_sec`.
pub struct VerifyWorker {
    /// The pace.
    pub bytes_per_sec: u64,
}

#[async_trait::async_trait]
impl Worker for VerifyWorker {
    fn name(&self) -> &'static str {
        "integrity-scrub"
    }

    async fn work(&self, engine: &Engine) -> S3Result<Pass> {
        let started = Instant::now();
        let (checked, bytes, more) = engine.verify_pass(self.bytes_per_sec.max(1), BATCH).await?;
        // Keep to the pace: a pass stands for bytes / rate seconds.
        let due = Duration::from_secs_f64(bytes as f64 / self.bytes_per_sec.max(1) as f64);
        if let Some(rest) = due.checked_sub(started.elapsed()) {
            tokio::time::sleep(rest.min(Duration::from_secs(10))).await;
        }
        Ok(Pass {
            done: checked as u64,
            more,
        })
    }
}

/// The bucket of a version row (`V|bucket|key\0uid`).
fn bucket_of(row: &[u8]) -> String {
    let rest = &row[2.min(row.len())..];
    let end = rest.iter().position(|b| *b == b'|').unwrap_or(rest.len());
    String::from_utf8_lossy(&rest[..end]).into_owned()
}

impl Engine {
    /// Verify versions after the cursor until about `byte_budget` bytes were read or `limit`
    /// rows seen. Returns (versions checked, bytes read, whether the walk goes on).
    pub async fn verify_pass(&self, byte_budget: u64, limit: usize) -> S3Result<(usize, u64, bool)> {
        let cursor_key = keys::global("verify-cursor");
        let snap = self.snapshot().await?;
        let prefix = keys::version_prefix_all();
        let start = match store::get_raw(&*snap, &cursor_key).await? {
            // Just after the last row seen.
            Some(mut last) => {
                last.push(0);
                last
            }
            None => prefix.to_vec(),
        };
        let end = ksan_meta::prefix_end(prefix);
        let rows = store::range(&*snap, &start, &end, limit).await?;
        let (mut checked, mut bytes, mut last) = (0, 0u64, None);
        for (row, value) in &rows {
            last = Some(row.clone());
            let version: ObjectVersion = decode(value)?;
            if version.delete_marker {
                continue;
            }
            let size = version.size;
            let handle = match handle_for(&*snap, version).await {
                Ok(h) => h,
                Err(e) => {
                    tracing::warn!(bucket = bucket_of(row), error = %e, "integrity scrub could not load a version");
                    continue;
                }
            };
            match self.verify_version(&handle).await {
                Ok(Some(false)) => {
                    self.integrity.corrupt_found.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(
                        bucket = bucket_of(row),
                        key = handle.version.key,
                        version = handle.version.version_id_str(),
                        "integrity scrub: stored bytes do not match their checksum"
                    );
                }
                Ok(_) => {}
                // A version replaced while it was read loses its blob: not corruption.
                Err(e) => tracing::debug!(error = %e, "integrity scrub could not read a version"),
            }
            checked += 1;
            bytes += size;
            if bytes >= byte_budget {
                break;
            }
        }
        drop(snap);
        let more = last.is_some() && (rows.len() == limit || bytes >= byte_budget);
        let next = if more { last } else { None };
        self.write(move |txn| {
            let (cursor_key, next) = (cursor_key.clone(), next.clone());
            Box::pin(async move {
                match next {
                    Some(row) => store::put_raw(txn, &cursor_key, &row),
                    None => store::delete(txn, &cursor_key),
                }
            })
        })
        .await?;
        Ok((checked, bytes, more))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use ksan_data::FsDataStore;

    use crate::{Engine, EngineConfig};

    #[tokio::test]
    async fn the_scrubber_finds_a_flipped_byte_and_walks_on() {
        let dir = tempfile::tempdir().unwrap();
        let data = Arc::new(FsDataStore::open(dir.path()).unwrap());
        let config = EngineConfig {
            inline_threshold: 0,
            ..EngineConfig::default()
        };
        let e = Engine::new(Arc::new(ksan_meta::MemKv::new()), data, config);
        let u = e.create_user("u", "AKU", "secretsecret", false).await.unwrap();
        e.create_bucket(&u, "bkt", None).await.unwrap();
        let mut blobs = Vec::new();
        for i in 0..5 {
            blobs.push(crate::testutil::put_blob(&e, "bkt", &format!("k{i}"), vec![i as u8; 1000]).await);
        }
        // Flip a byte of k3's file.
        let id = blobs[3].to_string();
        let path = dir.path().join("blobs").join(&id[..2]).join(&id[2..4]).join(&id);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[500] ^= 1;
        std::fs::write(&path, bytes).unwrap();
        // 2,000 bytes a pass: three passes walk the five versions.
        let mut passes = 0;
        loop {
            let (_, _, more) = e.verify_pass(2000, 100).await.unwrap();
            passes += 1;
            if !more {
                break;
            }
        }
        assert_eq!(passes, 3);
        assert_eq!(
            e.integrity().corrupt_found.load(std::sync::atomic::Ordering::Relaxed),
            1
        );
        assert_eq!(
            e.integrity().verified_bytes.load(std::sync::atomic::Ordering::Relaxed),
            4000
        );
        // The next walk starts over.
        e.verify_pass(u64::MAX, 100).await.unwrap();
        assert_eq!(
            e.integrity().corrupt_found.load(std::sync::atomic::Ordering::Relaxed),
            2
        );
    }
}
