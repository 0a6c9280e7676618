//! Encryption at rest: a blob sealed with AES-256-GCM in fixed chunks.
//!
//! The contract, on top of [`DataStore`]'s:
//!
//! 1. Each sealed blob has its own random 256-bit data key ([`BlobKey`]) and a random 4-byte
//!    nonce prefix. Chunk `i` (64 KiB of plaintext; the last one shorter, and present even for
//!    an empty blob) is sealed with nonce `prefix ‖ i` (big-endian u64) and associated data
//!    `blob id ‖ i ‖ last-chunk flag`, and stored as its ciphertext followed by the 16-byte tag.
//!    So a chunk moved to another index or blob, a reordered pair, a dropped last chunk or a
//!    flipped bit all fail to open.
//! 2. The writer ([`SealingWriter`]) hashes the plaintext (MD5 for the ETag, flexible
//!    checksums) and hands only ciphertext to the store, whose own writer hashes nothing.
//! 3. A range read ([`open_range`]) reads and opens only the chunks the range covers, and needs
//!    the blob's plaintext size to know which chunk is the last.
//! 4. The data key leaves this module only wrapped ([`wrap_key`]): sealed under a key-
//!    encryption key (the master key, a KMS key, an SSE-C customer key) with AES-256-GCM.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use futures_util::Stream;
use ksan_types::{BodyStream, ErrorCode, S3Error};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

use crate::{BlobId, BlobWriter, DataError, DataStore, Digests, Hashers};

/// Plaintext bytes per chunk.
pub const CHUNK: usize = 64 * 1024;
/// The GCM tag after each chunk.
pub const TAG: usize = 16;
const SEALED_CHUNK: u64 = (CHUNK + TAG) as u64;
/// Plaintext sealed per trip to the blocking pool.
const BATCH: usize = 16 * CHUNK;

/// Random bytes from the system's CSPRNG.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], DataError> {
    let mut out = [0u8; N];
    SystemRandom::new()
        .fill(&mut out)
        .map_err(|_| DataError::Crypto("the system random generator failed"))?;
    Ok(out)
}

/// A blob's data key and nonce prefix. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct BlobKey {
    key: [u8; 32],
    nonce_prefix: [u8; 4],
}

impl fmt::Debug for BlobKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BlobKey(..)")
    }
}

impl BlobKey {
    /// A new random key.
    pub fn random() -> Result<Self, DataError> {
        Ok(BlobKey {
            key: random_bytes()?,
            nonce_prefix: random_bytes()?,
        })
    }

    fn aead(&self) -> Result<LessSafeKey, DataError> {
        aead_key(&self.key)
    }
}

fn aead_key(key: &[u8; 32]) -> Result<LessSafeKey, DataError> {
    UnboundKey::new(&AES_256_GCM, key)
        .map(LessSafeKey::new)
        .map_err(|_| DataError::Crypto("bad key length"))
}

/// How many sealed chunks `plain` bytes make (at least one).
fn chunk_count(plain: u64) -> u64 {
    plain.div_ceil(CHUNK as u64).max(1)
}

/// The stored size of a blob of `plain` plaintext bytes.
pub fn sealed_len(plain: u64) -> u64 {
    plain + chunk_count(plain) * TAG as u64
}

fn nonce(prefix: [u8; 4], index: u64) -> Nonce {
    let mut n = [0u8; NONCE_LEN];
    n[..4].copy_from_slice(&prefix);
    n[4..].copy_from_slice(&index.to_be_bytes());
    Nonce::assume_unique_for_key(n)
}

fn aad(blob: BlobId, index: u64, last: bool) -> [u8; 25] {
    let mut a = [0u8; 25];
    a[..16].copy_from_slice(blob.as_bytes());
    a[16..24].copy_from_slice(&index.to_be_bytes());
    a[24] = last as u8;
    a
}

struct Sealer {
    key: LessSafeKey,
    prefix: [u8; 4],
    blob: BlobId,
    index: u64,
}

impl Sealer {
    /// Seal one chunk onto `out`.
    fn seal(&mut self, chunk: &[u8], last: bool, out: &mut BytesMut) -> Result<(), DataError> {
        let start = out.len();
        out.extend_from_slice(chunk);
        let mut body = out.split_off(start);
        let tag = self
            .key
            .seal_in_place_separate_tag(
                nonce(self.prefix, self.index),
                Aad::from(aad(self.blob, self.index, last)),
                &mut body,
            )
            .map_err(|_| DataError::Crypto("sealing failed"))?;
        out.unsplit(body);
        out.extend_from_slice(tag.as_ref());
        self.index += 1;
        Ok(())
    }
}

/// What travels to the blocking pool and back: the hashers and the sealer.
struct SealState {
    hashers: Hashers,
    sealer: Sealer,
}

/// A blob writer that hashes the plaintext and writes it sealed (see the module doc). The
/// inner writer should hash nothing (`Hashers::none()`).
pub struct SealingWriter {
    inner: Box<dyn BlobWriter>,
    state: Option<SealState>,
    buf: BytesMut,
    plain: u64,
}

impl SealingWriter {
    /// Seal into `inner` with `key`, hashing the plaintext with `hashers`.
    pub fn new(inner: Box<dyn BlobWriter>, key: &BlobKey, hashers: Hashers) -> Result<Self, DataError> {
        let sealer = Sealer {
            key: key.aead()?,
            prefix: key.nonce_prefix,
            blob: inner.id(),
            index: 0,
        };
        Ok(SealingWriter {
            inner,
            state: Some(SealState { hashers, sealer }),
            buf: BytesMut::new(),
            plain: 0,
        })
    }

    /// Hash and seal the first `len` buffered bytes (whole chunks, the last one marked if
    /// `last`) on the blocking pool, then write them.
    async fn flush(&mut self, len: usize, last: bool) -> Result<(), DataError> {
        let plain = self.buf.split_to(len).freeze();
        let Some(mut state) = self.state.take() else {
            return Err(DataError::Task("sealing writer lost its state".into()));
        };
        let (state, sealed) = tokio::task::spawn_blocking(move || -> Result<(SealState, Bytes), DataError> {
            state.hashers.update(&plain);
            let mut out = BytesMut::with_capacity(plain.len() + (plain.len() / CHUNK + 1) * TAG);
            let mut chunks = plain.chunks(CHUNK).peekable();
            if chunks.peek().is_none() {
                state.sealer.seal(&[], last, &mut out)?;
            }
            while let Some(chunk) = chunks.next() {
                let is_last = last && chunks.peek().is_none();
                state.sealer.seal(chunk, is_last, &mut out)?;
            }
            Ok((state, out.freeze()))
        })
        .await
        .map_err(|e| DataError::Task(e.to_string()))??;
        self.state = Some(state);
        self.inner.write(sealed).await
    }
}

#[async_trait::async_trait]
impl BlobWriter for SealingWriter {
    fn id(&self) -> BlobId {
        self.inner.id()
    }

    async fn write(&mut self, chunk: Bytes) -> Result<(), DataError> {
        self.plain += chunk.len() as u64;
        self.buf.extend_from_slice(&chunk);
        // Whole chunks are sealed once more bytes follow them: only then is it known that
        // none of them is the last.
        if self.buf.len() > BATCH {
            let whole = (self.buf.len() - 1) / CHUNK * CHUNK;
            self.flush(whole, false).await?;
        }
        Ok(())
    }

    /// Returns the plaintext size and the plaintext's digests.
    async fn finish(mut self: Box<Self>) -> Result<(u64, Digests), DataError> {
        let rest = self.buf.len();
        self.flush(rest, true).await?;
        let plain = self.plain;
        let Some(state) = self.state.take() else {
            return Err(DataError::Task("sealing writer lost its state".into()));
        };
        let (stored, _) = self.inner.finish().await?;
        if stored != sealed_len(plain) {
            return Err(DataError::Task(format!(
                "sealed blob is {stored} bytes, expected {}",
                sealed_len(plain)
            )));
        }
        Ok((plain, state.hashers.finish()))
    }
}

/// Where a sealed blob's plaintext range lies: the chunks to read and how to trim them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ChunkRange {
    first: u64,
    /// One past the last chunk read.
    end: u64,
    /// Bytes to drop from the first opened chunk.
    skip: usize,
}

fn chunk_range(plain_size: u64, offset: u64, len: u64) -> ChunkRange {
    let first = offset / CHUNK as u64;
    let end = if len == 0 {
        first + 1
    } else {
        (offset + len - 1) / CHUNK as u64 + 1
    };
    ChunkRange {
        first,
        end: end.min(chunk_count(plain_size)),
        skip: (offset % CHUNK as u64) as usize,
    }
}

/// The plaintext bytes [offset, offset + len) of a sealed blob whose plaintext is
/// `plain_size` bytes. A chunk that fails to open ends the stream with an InternalError
/// (the bytes before it were genuine); nothing altered is ever returned.
pub async fn open_range(
    store: &dyn DataStore,
    blob: BlobId,
    key: &BlobKey,
    plain_size: u64,
    offset: u64,
    len: u64,
) -> Result<BodyStream, DataError> {
    if len == 0 || offset >= plain_size {
        return Ok(Box::pin(futures_util::stream::empty()));
    }
    let len = len.min(plain_size - offset);
    let r = chunk_range(plain_size, offset, len);
    let from = r.first * SEALED_CHUNK;
    let to = (r.end * SEALED_CHUNK).min(sealed_len(plain_size));
    let inner = store.read(blob, from, to - from).await?;
    Ok(Box::pin(Opening {
        inner,
        key: Arc::new(key.aead()?),
        prefix: key.nonce_prefix,
        blob,
        index: r.first,
        last_index: chunk_count(plain_size) - 1,
        skip: r.skip,
        left: len,
        buf: BytesMut::new(),
        failed: false,
    }))
}

struct Opening {
    inner: BodyStream,
    key: Arc<LessSafeKey>,
    prefix: [u8; 4],
    blob: BlobId,
    index: u64,
    last_index: u64,
    skip: usize,
    left: u64,
    buf: BytesMut,
    failed: bool,
}

impl Opening {
    /// Open the chunk at the front of `buf` (all of it, if `whole` is false: the stream ended).
    fn open_one(&mut self, take: usize) -> Result<Bytes, S3Error> {
        let mut sealed = self.buf.split_to(take);
        let last = self.index == self.last_index;
        let opened = self
            .key
            .open_in_place(
                nonce(self.prefix, self.index),
                Aad::from(aad(self.blob, self.index, last)),
                &mut sealed,
            )
            .map(|p| p.len())
            .map_err(|_| {
                tracing::error!(blob = %self.blob, chunk = self.index, "a sealed chunk failed to open: the blob was altered");
                S3Error::new(ErrorCode::InternalError)
            })?;
        sealed.truncate(opened);
        self.index += 1;
        let mut plain = sealed.freeze();
        if self.skip > 0 {
            let s = self.skip.min(plain.len());
            plain = plain.slice(s..);
            self.skip = 0;
        }
        if plain.len() as u64 > self.left {
            plain = plain.slice(..self.left as usize);
        }
        self.left -= plain.len() as u64;
        Ok(plain)
    }
}

impl Stream for Opening {
    type Item = Result<Bytes, S3Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if this.failed || this.left == 0 {
                return Poll::Ready(None);
            }
            if this.buf.len() >= SEALED_CHUNK as usize {
                let out = this.open_one(SEALED_CHUNK as usize);
                this.failed = out.is_err();
                return Poll::Ready(Some(out));
            }
            match this.inner.as_mut().poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(chunk))) => this.buf.extend_from_slice(&chunk),
                Poll::Ready(Some(Err(e))) => {
                    this.failed = true;
                    return Poll::Ready(Some(Err(e)));
                }
                Poll::Ready(None) => {
                    // The blob's last chunk is shorter than the others.
                    this.failed = true;
                    if this.buf.len() > TAG {
                        let n = this.buf.len();
                        return Poll::Ready(Some(this.open_one(n)));
                    }
                    tracing::error!(blob = %this.blob, "a sealed blob ends early: it was truncated");
                    return Poll::Ready(Some(Err(S3Error::new(ErrorCode::InternalError))));
                }
            }
        }
    }
}

/// Seal a small secret (a data key, a key-service key's material) under a key-encryption
/// key: `nonce ‖ ciphertext ‖ tag`, with `context` bound as associated data (what the secret
/// is for, so that it cannot be moved to another use).
pub fn seal_secret(kek: &[u8; 32], secret: &[u8], context: &[u8]) -> Result<Vec<u8>, DataError> {
    let n: [u8; NONCE_LEN] = random_bytes()?;
    let mut body = secret.to_vec();
    aead_key(kek)?
        .seal_in_place_append_tag(Nonce::assume_unique_for_key(n), Aad::from(context), &mut body)
        .map_err(|_| DataError::Crypto("wrapping failed"))?;
    let mut out = n.to_vec();
    out.extend_from_slice(&body);
    Ok(out)
}

/// Open what [`seal_secret`] made. None if the key-encryption key or the context is not the
/// one it was sealed with, or the bytes were altered.
pub fn open_secret(kek: &[u8; 32], sealed: &[u8], context: &[u8]) -> Option<Vec<u8>> {
    if sealed.len() < NONCE_LEN + TAG {
        return None;
    }
    let (n, body) = sealed.split_at(NONCE_LEN);
    let n: [u8; NONCE_LEN] = n.try_into().ok()?;
    let mut body = body.to_vec();
    let len = aead_key(kek)
        .ok()?
        .open_in_place(Nonce::assume_unique_for_key(n), Aad::from(context), &mut body)
        .ok()?
        .len();
    body.truncate(len);
    Some(body)
}

/// Wrap a data key under a key-encryption key (see [`seal_secret`]).
pub fn wrap_key(kek: &[u8; 32], key: &BlobKey, context: &[u8]) -> Result<Vec<u8>, DataError> {
    let mut secret = key.key.to_vec();
    secret.extend_from_slice(&key.nonce_prefix);
    seal_secret(kek, &secret, context)
}

/// Unwrap what [`wrap_key`] made; None for another key-encryption key or context.
pub fn unwrap_key(kek: &[u8; 32], wrapped: &[u8], context: &[u8]) -> Option<BlobKey> {
    let plain = open_secret(kek, wrapped, context)?;
    if plain.len() != 36 {
        return None;
    }
    Some(BlobKey {
        key: plain[..32].try_into().ok()?,
        nonce_prefix: plain[32..36].try_into().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FsDataStore;
    use futures_util::StreamExt;

    async fn collect(mut s: BodyStream) -> Result<Vec<u8>, S3Error> {
        let mut out = Vec::new();
        while let Some(c) = s.next().await {
            out.extend_from_slice(&c?);
        }
        Ok(out)
    }

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
    }

    async fn sealed(store: &FsDataStore, data: &[u8], piece: usize) -> (BlobId, BlobKey, Digests) {
        let key = BlobKey::random().unwrap();
        let inner = store.create(Hashers::none()).await.unwrap();
        let mut w = Box::new(SealingWriter::new(inner, &key, Hashers::new(&[])).unwrap());
        for c in data.chunks(piece.max(1)) {
            w.write(Bytes::copy_from_slice(c)).await.unwrap();
        }
        let id = w.id();
        let (size, digests) = w.finish().await.unwrap();
        assert_eq!(size, data.len() as u64);
        (id, key, digests)
    }

    #[tokio::test]
    async fn sealed_blobs_read_back_by_any_range() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsDataStore::open(dir.path()).unwrap();
        for size in [
            0,
            1,
            CHUNK - 1,
            CHUNK,
            CHUNK + 1,
            3 * CHUNK,
            BATCH + 5,
            2 * BATCH + CHUNK,
        ] {
            let data = pattern(size);
            let (id, key, digests) = sealed(&store, &data, 10_000).await;
            assert_eq!(store.size(id).await.unwrap(), Some(sealed_len(size as u64)), "{size}");
            use md5::Digest;
            assert_eq!(digests.md5, <[u8; 16]>::from(md5::Md5::digest(&data)), "plaintext MD5");
            let whole = collect(open_range(&store, id, &key, size as u64, 0, size as u64).await.unwrap()).await;
            assert_eq!(whole.unwrap(), data, "{size}");
            for (off, len) in [
                (0, 1),
                (CHUNK - 3, 7),
                (CHUNK, CHUNK),
                (5, 3 * CHUNK),
                (size.saturating_sub(2), 9),
            ] {
                let (off, len) = (off.min(size), len.min(size.saturating_sub(off.min(size))));
                let got = collect(
                    open_range(&store, id, &key, size as u64, off as u64, len as u64)
                        .await
                        .unwrap(),
                )
                .await
                .unwrap();
                assert_eq!(got, &data[off..off + len], "{size} {off} {len}");
            }
        }
    }

    #[tokio::test]
    async fn no_plaintext_on_disk_and_tampering_fails() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsDataStore::open(dir.path()).unwrap();
        let data = b"PLAINTEXT-MARKER ".repeat(20_000);
        let (id, key, _) = sealed(&store, &data, 4096).await;
        let path = store.path_of(id);
        let mut bytes = std::fs::read(&path).unwrap();
        assert!(!bytes.windows(16).any(|w| w == b"PLAINTEXT-MARKER"));
        // A flipped bit in the second chunk: the first chunk still opens, then an error.
        bytes[CHUNK + TAG + 10] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        let mut s = open_range(&store, id, &key, data.len() as u64, 0, data.len() as u64)
            .await
            .unwrap();
        assert_eq!(s.next().await.unwrap().unwrap().len(), CHUNK);
        assert!(s.next().await.unwrap().is_err());
        assert!(s.next().await.is_none());
        // Two chunks swapped, or the last chunk cut off: refused too.
        let (id, key, _) = sealed(&store, &data, 4096).await;
        let path = store.path_of(id);
        let mut bytes = std::fs::read(&path).unwrap();
        let (a, b) = bytes.split_at_mut(SEALED_CHUNK as usize);
        a.swap_with_slice(&mut b[..SEALED_CHUNK as usize]);
        std::fs::write(&path, &bytes).unwrap();
        let got = collect(open_range(&store, id, &key, data.len() as u64, 0, 10).await.unwrap()).await;
        assert!(got.is_err());
        let (id, key, _) = sealed(&store, &data, 4096).await;
        let path = store.path_of(id);
        let bytes = std::fs::read(&path).unwrap();
        let cut = bytes.len() - (bytes.len() % SEALED_CHUNK as usize);
        std::fs::write(&path, &bytes[..cut]).unwrap();
        let short = (cut as u64 / SEALED_CHUNK) * CHUNK as u64;
        // Read as if the blob had ended at a chunk boundary: the last flag does not match.
        let got = collect(open_range(&store, id, &key, short, 0, short).await.unwrap()).await;
        assert!(got.is_err());
        // Another key opens nothing.
        let other = BlobKey::random().unwrap();
        let got = collect(open_range(&store, id, &other, data.len() as u64, 0, 10).await.unwrap()).await;
        assert!(got.is_err());
    }

    #[test]
    fn wrapped_keys_open_only_with_their_kek_and_context() {
        let key = BlobKey::random().unwrap();
        let kek = [7u8; 32];
        let w = wrap_key(&kek, &key, b"sse-s3").unwrap();
        assert_eq!(unwrap_key(&kek, &w, b"sse-s3"), Some(key.clone()));
        assert_eq!(unwrap_key(&[8u8; 32], &w, b"sse-s3"), None);
        assert_eq!(unwrap_key(&kek, &w, b"sse-c"), None);
        let mut bad = w.clone();
        bad[20] ^= 1;
        assert_eq!(unwrap_key(&kek, &bad, b"sse-s3"), None);
        assert_eq!(format!("{key:?}"), "BlobKey(..)");
    }

    #[test]
    fn chunk_ranges() {
        let c = CHUNK as u64;
        assert_eq!(
            chunk_range(3 * c, 0, 1),
            ChunkRange {
                first: 0,
                end: 1,
                skip: 0
            }
        );
        assert_eq!(
            chunk_range(3 * c, c - 1, 2),
            ChunkRange {
                first: 0,
                end: 2,
                skip: CHUNK - 1
            }
        );
        assert_eq!(
            chunk_range(3 * c, 2 * c, c),
            ChunkRange {
                first: 2,
                end: 3,
                skip: 0
            }
        );
        assert_eq!(sealed_len(0), TAG as u64);
        assert_eq!(sealed_len(c), c + TAG as u64);
        assert_eq!(sealed_len(c + 1), c + 1 + 2 * TAG as u64);
    }
}
