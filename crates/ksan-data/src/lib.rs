//! The blob layer: immutable blob files written as streams and made durable before anyone
//! references them, read back by byte range; plus the hashers that run over the bytes on the
//! way in.

#![warn(missing_docs)]

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use bytes::Bytes;
use ksan_types::{BodyStream, S3Error};

mod checksum;
pub mod crypt;
mod fs;

pub use checksum::{ChecksumHasher, Digests, Hashers, base64, checksum_of, crc_combine, md5_hex};
pub use fs::FsDataStore;

/// A blob's name: 128 random bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobId(pub [u8; 16]);

impl BlobId {
    /// A new random id.
    pub fn random() -> Self {
        BlobId(rand::random())
    }
    /// The id's bytes.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl fmt::Display for BlobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl FromStr for BlobId {
    type Err = DataError;
    fn from_str(s: &str) -> Result<Self, DataError> {
        let mut id = [0u8; 16];
        hex::decode_to_slice(s, &mut id).map_err(|_| DataError::BadId(s.to_owned()))?;
        Ok(BlobId(id))
    }
}

#[derive(Debug, thiserror::Error)]
/// Why a blob operation failed.
pub enum DataError {
    #[error("I/O: {0}")]
    /// A file-system error.
    Io(#[from] std::io::Error),
    #[error("blob {0} not found")]
    /// No blob has this id.
    NotFound(BlobId),
    #[error("blob {0} is shorter than the range asked for")]
    /// The blob ends before the range asked for.
    Short(BlobId),
    #[error("not a blob id: {0}")]
    /// Not the text form of a blob id.
    BadId(String),
    #[error("encryption: {0}")]
    /// An encryption primitive failed.
    Crypto(&'static str),
    #[error("blocking task failed: {0}")]
    /// A blocking task failed.
    Task(String),
}

impl From<DataError> for S3Error {
    fn from(e: DataError) -> Self {
        S3Error::internal(e)
    }
}

#[async_trait::async_trait]
/// The blob store: write a stream durably, read a byte range, delete.
pub trait DataStore: Send + Sync + 'static {
    /// Start a new blob; hashing happens inside the writer, together with the writes.
    async fn create(&self, hashers: Hashers) -> Result<Box<dyn BlobWriter>, DataError>;
    /// Bytes [offset, offset + len) of a blob as a stream of chunks (at most 1 MiB each).
    /// A missing or short blob is an error here, before any byte is streamed.
    async fn read(&self, id: BlobId, offset: u64, len: u64) -> Result<BodyStream, DataError>;
    /// Remove a blob; a missing one is fine.
    async fn delete(&self, id: BlobId) -> Result<(), DataError>;
    /// A blob's size, or None if there is no such blob.
    async fn size(&self, id: BlobId) -> Result<Option<u64>, DataError>;
    /// Blobs whose files are older than `min_age` (orphan candidates), in id order, starting
    /// after `after` (a walk resumes where it left off), at most `limit`.
    async fn list_older_than(
        &self,
        min_age: Duration,
        after: Option<BlobId>,
        limit: usize,
    ) -> Result<Vec<BlobId>, DataError>;
}

#[async_trait::async_trait]
/// A blob being written; it is referenced by nothing until `finish` says it is durable.
pub trait BlobWriter: Send {
    /// The new blob's id.
    fn id(&self) -> BlobId;
    /// Append a chunk. Returns once the chunk is queued; at most ~2 MiB are held.
    async fn write(&mut self, chunk: Bytes) -> Result<(), DataError>;
    /// Write the rest, fdatasync the file, fsync its directory: durable when this returns Ok.
    async fn finish(self: Box<Self>) -> Result<(u64, Digests), DataError>;
}
