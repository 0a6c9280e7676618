//! Stored bytes are never served corrupt without notice. Every version knows what its bytes
//! must hash to ([`expectations`]): its whole-object checksum, or for a composite multipart
//! object each part's own checksum, or for a single-part object stored without a flexible
//! checksum the MD5 its ETag is. [`Verified`] checks a whole-object read against them while it
//! streams and holds the last chunk back until every check has passed, so a mismatch cuts the
//! response short (the client sees a broken body, never a complete 200 of wrong bytes).
//! The same check runs in the integrity scrubber (`workers::verify`) and `ksan check`.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use ksan_data::ChecksumHasher;
use ksan_types::{BodyStream, ChecksumAlgorithm, ChecksumType, S3Error, S3Result};

use crate::Engine;
use crate::multipart::parts_of;
use crate::objects::ObjectHandle;

/// A byte range of an object and the digest it must have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    /// Where the range starts in the object.
    pub offset: u64,
    /// Its length.
    pub len: u64,
    /// The algorithm.
    pub algorithm: ChecksumAlgorithm,
    /// The raw digest.
    pub digest: Vec<u8>,
}

fn b64(s: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s).ok()
}

/// What a version's bytes must hash to, range by range (covering the object in order), or
/// nothing when no digest of its bytes is known (a composite multipart object whose parts had
/// no checksum, a multipart ETag).
pub fn expectations(handle: &ObjectHandle) -> Vec<Expected> {
    let v = &handle.version;
    if let Some(c) = &v.checksum
        && v.checksum_type != Some(ChecksumType::Composite)
        && let Some(digest) = b64(&c.value)
    {
        return vec![Expected {
            offset: 0,
            len: v.size,
            algorithm: c.algorithm,
            digest,
        }];
    }
    if let Some(manifest) = handle.manifest() {
        let mut out = Vec::new();
        let mut offset = 0;
        for (_, len, checksum) in parts_of(manifest) {
            let Some(c) = checksum else {
                return Vec::new();
            };
            let Some(digest) = b64(&c.value) else {
                return Vec::new();
            };
            out.push(Expected {
                offset,
                len,
                algorithm: c.algorithm,
                digest,
            });
            offset += len;
        }
        return out;
    }
    match hex::decode(&v.etag) {
        Ok(md5) if md5.len() == 16 => vec![Expected {
            offset: 0,
            len: v.size,
            algorithm: ChecksumAlgorithm::Md5,
            digest: md5,
        }],
        _ => Vec::new(),
    }
}

/// Counters of corruption found, for /metrics.
#[derive(Debug, Default)]
pub struct IntegrityCounters {
    /// Reads cut short because the bytes did not match.
    pub corrupt_reads: AtomicU64,
    /// Versions the scrubber found corrupt.
    pub corrupt_found: AtomicU64,
    /// Bytes the scrubber has verified.
    pub verified_bytes: AtomicU64,
}

/// Told about the first range whose bytes do not match.
pub type OnCorrupt = Box<dyn FnOnce(&Expected) + Send>;

/// A whole-object stream checked against its [`Expected`] ranges (see the module doc).
pub struct Verified {
    inner: BodyStream,
    expected: std::vec::IntoIter<Expected>,
    current: Option<(Expected, ChecksumHasher, u64)>,
    held: Option<Bytes>,
    done: bool,
    on_corrupt: Option<OnCorrupt>,
}

impl Verified {
    /// Check `inner` (the object's bytes from offset 0) against `expected`; `on_corrupt` is
    /// told about the first range that does not match.
    pub fn new(inner: BodyStream, expected: Vec<Expected>, on_corrupt: OnCorrupt) -> Self {
        let mut v = Verified {
            inner,
            expected: expected.into_iter(),
            current: None,
            held: None,
            done: false,
            on_corrupt: Some(on_corrupt),
        };
        v.next_range();
        v
    }

    fn next_range(&mut self) {
        self.current = self.expected.next().map(|e| {
            let h = ChecksumHasher::new(e.algorithm);
            (e, h, 0)
        });
    }

    fn corrupt(&mut self, e: &Expected) -> S3Error {
        if let Some(f) = self.on_corrupt.take() {
            f(e);
        }
        self.done = true;
        S3Error::internal("stored bytes do not match their checksum")
    }

    /// Hash a chunk, finishing ranges as their ends pass.
    fn hash(&mut self, mut chunk: &[u8]) -> Result<(), S3Error> {
        while !chunk.is_empty() {
            let Some((e, h, seen)) = &mut self.current else {
                // More bytes than the expectations cover: the size is wrong.
                let e = Expected {
                    offset: 0,
                    len: 0,
                    algorithm: ChecksumAlgorithm::Md5,
                    digest: Vec::new(),
                };
                return Err(self.corrupt(&e));
            };
            let take = ((e.len - *seen) as usize).min(chunk.len());
            h.update(&chunk[..take]);
            *seen += take as u64;
            chunk = &chunk[take..];
            if *seen == e.len {
                self.finish_range()?;
            }
        }
        Ok(())
    }

    fn finish_range(&mut self) -> Result<(), S3Error> {
        if let Some((e, h, _)) = self.current.take() {
            if h.finish() != e.digest {
                return Err(self.corrupt(&e));
            }
            self.next_range();
            // Zero-length ranges (an empty object) end at once.
            while let Some((e, _, _)) = &self.current {
                if e.len > 0 {
                    break;
                }
                self.finish_range()?;
            }
        }
        Ok(())
    }
}

impl Stream for Verified {
    type Item = Result<Bytes, S3Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if this.done {
                return Poll::Ready(None);
            }
            match this.inner.poll_next_unpin(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Err(e))) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(e)));
                }
                Poll::Ready(Some(Ok(chunk))) => {
                    if let Err(e) = this.hash(&chunk) {
                        return Poll::Ready(Some(Err(e)));
                    }
                    // Send the chunk before this one; keep this one until the next arrives.
                    if let Some(prev) = this.held.replace(chunk) {
                        return Poll::Ready(Some(Ok(prev)));
                    }
                }
                Poll::Ready(None) => {
                    // The end: every range must have been seen whole.
                    if let Err(e) = this.finish_range_at_end() {
                        return Poll::Ready(Some(Err(e)));
                    }
                    this.done = true;
                    return Poll::Ready(this.held.take().map(Ok));
                }
            }
        }
    }
}

impl Verified {
    fn finish_range_at_end(&mut self) -> Result<(), S3Error> {
        while let Some((e, _, seen)) = &self.current {
            if e.len == 0 && *seen == 0 {
                self.finish_range()?;
                continue;
            }
            // Fewer bytes than expected.
            let e = e.clone();
            return Err(self.corrupt(&e));
        }
        Ok(())
    }
}

impl Engine {
    /// Corruption counters.
    pub fn integrity(&self) -> &IntegrityCounters {
        &self.integrity
    }

    /// The whole of a looked-up version, checked against its digests while it streams (see
    /// the module doc); a mismatch is logged and counted, and cuts the stream short.
    pub async fn read_verified(&self, bucket: &str, handle: &ObjectHandle) -> S3Result<BodyStream> {
        let stream = self.read(handle, 0, handle.version.size).await?;
        // An encrypted version's every chunk is authenticated as it is opened (AES-GCM), a
        // stronger check than its checksums, which would only cost a second pass.
        if handle.version.sse.is_some() {
            return Ok(stream);
        }
        let expected = expectations(handle);
        if expected.is_empty() {
            return Ok(stream);
        }
        let (bucket, key, version) = (
            bucket.to_owned(),
            handle.version.key.clone(),
            handle.version.version_id_str().to_owned(),
        );
        let counters = self.integrity.clone();
        let on_corrupt = Box::new(move |e: &Expected| {
            counters.corrupt_reads.fetch_add(1, Ordering::Relaxed);
            tracing::error!(
                bucket, key, version, offset = e.offset, len = e.len, algorithm = %e.algorithm,
                "stored bytes do not match their checksum: the read was cut short"
            );
        });
        Ok(Box::pin(Verified::new(stream, expected, on_corrupt)))
    }

    /// Read a version whole and say whether its bytes match its digests (None: nothing to
    /// check them against, or an SSE-C version that cannot be opened without its key). Used by the
    /// scrubber and `ksan check`.
    pub async fn verify_version(&self, handle: &ObjectHandle) -> S3Result<Option<bool>> {
        // An SSE-C version opens only with its customer's key, which ksan does not keep.
        if matches!(handle.version.sse, Some(crate::records::SseMode::Customer { .. })) {
            return Ok(None);
        }
        let expected = expectations(handle);
        if expected.is_empty() {
            return Ok(None);
        }
        let stream = self.read(handle, 0, handle.version.size).await?;
        let bad = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = bad.clone();
        let mut verified = Verified::new(stream, expected, Box::new(move |_| flag.store(true, Ordering::Relaxed)));
        while let Some(item) = verified.next().await {
            match item {
                Ok(chunk) => {
                    self.integrity
                        .verified_bytes
                        .fetch_add(chunk.len() as u64, Ordering::Relaxed);
                }
                Err(e) if !bad.load(Ordering::Relaxed) => return Err(e),
                Err(_) => break,
            }
        }
        Ok(Some(!bad.load(Ordering::Relaxed)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream_of(chunks: Vec<&'static [u8]>) -> BodyStream {
        Box::pin(futures_util::stream::iter(
            chunks.into_iter().map(|c| Ok(Bytes::from_static(c))),
        ))
    }

    fn expect(algorithm: ChecksumAlgorithm, offset: u64, data: &[u8]) -> Expected {
        Expected {
            offset,
            len: data.len() as u64,
            algorithm,
            digest: ksan_data::checksum_of(algorithm, data),
        }
    }

    async fn run(v: Verified) -> (Vec<u8>, bool) {
        let mut out = Vec::new();
        let mut v = v;
        while let Some(item) = v.next().await {
            match item {
                Ok(b) => out.extend_from_slice(&b),
                Err(_) => return (out, false),
            }
        }
        (out, true)
    }

    #[tokio::test]
    async fn good_bytes_pass_whole() {
        let e = vec![expect(ChecksumAlgorithm::Crc64Nvme, 0, b"hello world")];
        let v = Verified::new(
            stream_of(vec![b"hello ", b"wor", b"ld"]),
            e,
            Box::new(|_| panic!("corrupt")),
        );
        assert_eq!(run(v).await, (b"hello world".to_vec(), true));
        // ranges of parts, split across chunks
        let e = vec![
            expect(ChecksumAlgorithm::Sha256, 0, b"hel"),
            expect(ChecksumAlgorithm::Crc32, 3, b"lo wo"),
            expect(ChecksumAlgorithm::Md5, 8, b"rld"),
        ];
        let v = Verified::new(
            stream_of(vec![b"hello ", b"wor", b"ld"]),
            e,
            Box::new(|_| panic!("corrupt")),
        );
        assert_eq!(run(v).await, (b"hello world".to_vec(), true));
        // an empty object
        let e = vec![expect(ChecksumAlgorithm::Crc32, 0, b"")];
        let v = Verified::new(stream_of(vec![]), e, Box::new(|_| panic!("corrupt")));
        assert_eq!(run(v).await, (Vec::new(), true));
    }

    #[tokio::test]
    async fn a_mismatch_stops_before_the_last_byte() {
        let hit = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = hit.clone();
        let e = vec![expect(ChecksumAlgorithm::Crc64Nvme, 0, b"hello world")];
        let v = Verified::new(
            stream_of(vec![b"hello ", b"wor", b"lD"]),
            e,
            Box::new(move |_| flag.store(true, Ordering::Relaxed)),
        );
        let (out, ok) = run(v).await;
        assert!(!ok);
        assert!(out.len() < 11, "the last chunk is never sent: {out:?}");
        assert!(hit.load(Ordering::Relaxed));
        // too short and too long are mismatches too
        let e = vec![expect(ChecksumAlgorithm::Crc32, 0, b"hello")];
        let v = Verified::new(stream_of(vec![b"hell"]), e.clone(), Box::new(|_| {}));
        assert_eq!(run(v).await, (Vec::new(), false));
        let v = Verified::new(stream_of(vec![b"hello", b"!"]), e, Box::new(|_| {}));
        assert!(!run(v).await.1);
    }
}
