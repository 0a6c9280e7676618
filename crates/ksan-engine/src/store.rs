//! Typed reads and writes of metadata rows: what every engine module would otherwise repeat
//! (await the store, map its error, decode the record).

use ksan_meta::{Entries, ReadOps, WriteOps};
use ksan_types::{S3Error, S3Result};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::meta_err;
use crate::records::{decode, encode};

/// The record stored under `key`.
pub(crate) async fn get<T: DeserializeOwned>(ops: &dyn ReadOps, key: &[u8]) -> S3Result<Option<T>> {
    match ops.get(key).await.map_err(meta_err)? {
        Some(bytes) => Ok(Some(decode(&bytes)?)),
        None => Ok(None),
    }
}

/// The record stored under `key`, read to be changed by this transaction.
pub(crate) async fn get_for_update<T: DeserializeOwned>(txn: &dyn WriteOps, key: &[u8]) -> S3Result<Option<T>> {
    match txn.get_for_update(key).await.map_err(meta_err)? {
        Some(bytes) => Ok(Some(decode(&bytes)?)),
        None => Ok(None),
    }
}

/// The raw bytes under `key`.
pub(crate) async fn get_raw(ops: &dyn ReadOps, key: &[u8]) -> S3Result<Option<Vec<u8>>> {
    ops.get(key).await.map_err(meta_err)
}

/// A 16-byte id stored under `key` (a uid or blob id).
pub(crate) async fn get_id(ops: &dyn ReadOps, key: &[u8]) -> S3Result<Option<[u8; 16]>> {
    Ok(get_raw(ops, key)
        .await?
        .and_then(|b| <[u8; 16]>::try_from(b.as_slice()).ok()))
}

/// A counter stored as 8 big-endian bytes.
pub(crate) async fn get_count(txn: &dyn WriteOps, key: &[u8]) -> S3Result<Option<u64>> {
    match txn.get_for_update(key).await.map_err(meta_err)? {
        Some(b) => Ok(Some(u64::from_be_bytes(
            <[u8; 8]>::try_from(b.as_slice()).map_err(S3Error::internal)?,
        ))),
        None => Ok(None),
    }
}

/// Store a record.
pub(crate) fn put<T: Serialize>(txn: &mut dyn WriteOps, key: &[u8], value: &T) -> S3Result<()> {
    txn.put(key, &encode(value)?).map_err(meta_err)
}

/// Store raw bytes.
pub(crate) fn put_raw(txn: &mut dyn WriteOps, key: &[u8], value: &[u8]) -> S3Result<()> {
    txn.put(key, value).map_err(meta_err)
}

/// Remove a row.
pub(crate) fn delete(txn: &mut dyn WriteOps, key: &[u8]) -> S3Result<()> {
    txn.delete(key).map_err(meta_err)
}

/// Rows whose key starts with `prefix`, ascending, at most `limit`.
pub(crate) async fn scan(ops: &dyn ReadOps, prefix: &[u8], limit: usize) -> S3Result<Entries> {
    let end = ksan_meta::prefix_end(prefix);
    ops.range(prefix, &end, limit, false).await.map_err(meta_err)
}

/// Rows with start <= key < end, ascending, at most `limit`.
pub(crate) async fn range(ops: &dyn ReadOps, start: &[u8], end: &[u8], limit: usize) -> S3Result<Entries> {
    ops.range(start, end, limit, false).await.map_err(meta_err)
}

/// Remove every row whose key starts with `prefix`.
pub(crate) async fn delete_prefix(txn: &mut dyn WriteOps, prefix: &[u8]) -> S3Result<()> {
    for (k, _) in scan(&*txn, prefix, usize::MAX).await? {
        delete(txn, &k)?;
    }
    Ok(())
}
