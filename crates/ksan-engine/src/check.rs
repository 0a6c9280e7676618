//! `ksan check`: a read-only report of how the metadata store and the blob store agree.
//! Nothing is changed; it runs on stores opened read-only while no server holds them.
//!
//! 1. Every version row: its bytes must exist — the inline row, the blob file at least as
//!    long as the version, every manifest segment inside its blob.
//! 2. Every part of an upload in progress: its segments must exist likewise.
//! 3. Every blob file: a reference count row must name it (else it is an orphan, which the
//!    orphan scrubber removes once it is a day old).
//! 4. Unless `quick`, every version whose bytes are all there is read whole and checked
//!    against its digests (`integrity::expectations`).

use ksan_data::BlobId;
use ksan_types::S3Result;

use crate::objects::handle_for;
use crate::records::{DataLocation, ObjectVersion, PartRecord, Segment, decode};
use crate::versions::load_manifest;
use crate::{Engine, keys, store};

/// Problems of one kind are listed up to this many (all are counted).
const SHOWN: usize = 20;

/// What `ksan check` found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CheckReport {
    /// Version rows looked at (delete markers included).
    pub versions: u64,
    /// Upload parts looked at.
    pub parts: u64,
    /// Blob files looked at.
    pub blobs: u64,
    /// Versions whose bytes were read and checked.
    pub verified: u64,
    /// Versions or parts whose bytes are missing or cut short: (what, why).
    pub missing: Vec<(String, String)>,
    /// How many there are.
    pub missing_count: u64,
    /// Blob files no row references.
    pub unreferenced: Vec<String>,
    /// How many there are.
    pub unreferenced_count: u64,
    /// Versions whose bytes do not match their digests.
    pub corrupt: Vec<String>,
    /// How many there are.
    pub corrupt_count: u64,
}

impl CheckReport {
    /// Nothing wrong (orphan blobs are not wrong: a crash leaves them, the scrubber takes them).
    pub fn consistent(&self) -> bool {
        self.missing_count == 0 && self.corrupt_count == 0
    }

    fn missing(&mut self, what: String, why: String) {
        self.missing_count += 1;
        if self.missing.len() < SHOWN {
            self.missing.push((what, why));
        }
    }
}

fn describe(bucket_row: &[u8], v: &ObjectVersion) -> String {
    let rest = &bucket_row[2.min(bucket_row.len())..];
    let end = rest.iter().position(|b| *b == b'|').unwrap_or(rest.len());
    format!(
        "{}/{} (version {})",
        String::from_utf8_lossy(&rest[..end]),
        v.key,
        v.version_id_str()
    )
}

impl Engine {
    /// Does the blob hold [offset, offset + len)? Some(reason) if not.
    async fn segment_problem(&self, s: &Segment) -> S3Result<Option<String>> {
        let id = BlobId(s.blob);
        Ok(match self.data.size(id).await? {
            None => Some(format!("blob {id} is missing")),
            Some(size) if size < s.offset + s.len => Some(format!(
                "blob {id} has {size} bytes, the data needs {}",
                s.offset + s.len
            )),
            Some(_) => None,
        })
    }

    /// Run the check (see the module doc).
    pub async fn check(&self, quick: bool) -> S3Result<CheckReport> {
        let mut report = CheckReport::default();
        let snap = self.snapshot().await?;
        // 1. versions
        for (row, value) in store::scan(&*snap, keys::version_prefix_all(), usize::MAX).await? {
            report.versions += 1;
            let v: ObjectVersion = decode(&value)?;
            if v.delete_marker {
                continue;
            }
            let what = describe(&row, &v);
            let mut problem = None;
            match &v.data {
                DataLocation::Inline => {
                    if store::get_raw(&*snap, &keys::inline(&v.uid)).await?.is_none() {
                        problem = Some("its inline bytes are missing".to_owned());
                    }
                }
                DataLocation::Blob(id) => {
                    let s = Segment {
                        blob: *id,
                        offset: 0,
                        len: v.size,
                    };
                    problem = self.segment_problem(&s).await?;
                }
                DataLocation::Manifest { .. } => {
                    for (_, entry) in load_manifest(&*snap, &v.uid).await? {
                        if let Some(p) = self.segment_problem(&entry.segment).await? {
                            problem = Some(format!("part {}: {p}", entry.part_number));
                            break;
                        }
                    }
                }
            }
            if let Some(why) = problem {
                report.missing(what, why);
                continue;
            }
            if !quick {
                let handle = handle_for(&*snap, v).await?;
                if let Some(ok) = self.verify_version(&handle).await? {
                    report.verified += 1;
                    if !ok {
                        report.corrupt_count += 1;
                        if report.corrupt.len() < SHOWN {
                            report.corrupt.push(what);
                        }
                    }
                }
            }
        }
        // 2. parts of uploads in progress
        for (row, value) in store::scan(&*snap, b"P|", usize::MAX).await? {
            report.parts += 1;
            let part: PartRecord = decode(&value)?;
            for s in &part.segments {
                if let Some(why) = self.segment_problem(s).await? {
                    report.missing(format!("upload part {}", String::from_utf8_lossy(&row[2..])), why);
                    break;
                }
            }
        }
        // 3. blob files
        let mut after = None;
        loop {
            let ids = self
                .data
                .list_older_than(std::time::Duration::ZERO, after, 10_000)
                .await?;
            for id in &ids {
                report.blobs += 1;
                if store::get_raw(&*snap, &keys::blob_ref(&id.0)).await?.is_none() {
                    report.unreferenced_count += 1;
                    if report.unreferenced.len() < SHOWN {
                        report.unreferenced.push(id.to_string());
                    }
                }
            }
            if ids.len() < 10_000 {
                break;
            }
            after = ids.last().copied();
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use ksan_data::{DataStore, FsDataStore, Hashers};

    use crate::{Engine, EngineConfig};

    #[tokio::test]
    async fn the_check_finds_missing_corrupt_and_orphan_blobs() {
        let dir = tempfile::tempdir().unwrap();
        let data = Arc::new(FsDataStore::open(dir.path()).unwrap());
        let config = EngineConfig {
            inline_threshold: 0,
            ..EngineConfig::default()
        };
        let e = Engine::new(Arc::new(ksan_meta::MemKv::new()), data.clone(), config);
        let u = e.create_user("u", "AKU", "secretsecret", false).await.unwrap();
        e.create_bucket(&u, "bkt", None).await.unwrap();
        let mut paths = Vec::new();
        for i in 0..4 {
            let id = crate::testutil::put_blob(&e, "bkt", &format!("k{i}"), vec![7u8; 5000])
                .await
                .to_string();
            paths.push(dir.path().join("blobs").join(&id[..2]).join(&id[2..4]).join(&id));
        }
        let clean = e.check(false).await.unwrap();
        assert!(clean.consistent(), "{clean:?}");
        assert_eq!((clean.versions, clean.blobs, clean.verified), (4, 4, 4));
        // k1 loses its file, k2 a byte's worth of truth, k3 its tail; an orphan appears.
        std::fs::remove_file(&paths[1]).unwrap();
        let mut b = std::fs::read(&paths[2]).unwrap();
        b[10] ^= 0xff;
        std::fs::write(&paths[2], b).unwrap();
        std::fs::write(&paths[3], vec![7u8; 100]).unwrap();
        let w = data.create(Hashers::new(&[])).await.unwrap();
        let orphan = w.id().to_string();
        w.finish().await.unwrap();
        let r = e.check(false).await.unwrap();
        assert!(!r.consistent());
        assert_eq!(r.missing_count, 2, "{r:?}");
        assert!(
            r.missing
                .iter()
                .any(|(w, why)| w.starts_with("bkt/k1") && why.contains("missing"))
        );
        assert!(
            r.missing
                .iter()
                .any(|(w, why)| w.starts_with("bkt/k3") && why.contains("100 bytes"))
        );
        assert_eq!(r.corrupt, vec!["bkt/k2 (version null)".to_owned()]);
        assert_eq!(r.unreferenced, vec![orphan]);
        // quick: no reading of bytes, so no corruption found
        let q = e.check(true).await.unwrap();
        assert_eq!((q.corrupt_count, q.verified, q.missing_count), (0, 0, 2));
    }
}
