//! The aws-chunked decoder (unsigned, with trailers): any body, cut at any points, never
//! panics and never yields more bytes than it was given.
#![no_main]

use bytes::Bytes;
use futures_util::StreamExt;
use ksan_proto::auth::{self, PayloadCheck};
use ksan_types::{BodyStream, TrailerSlot};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&cut, body)) = data.split_first() else { return };
    let cut = (cut as usize).max(1);
    let chunks: Vec<Result<Bytes, ksan_types::S3Error>> =
        body.chunks(cut).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
    let stream: BodyStream = Box::pin(futures_util::stream::iter(chunks));
    let decoded = auth::decode_body(stream, PayloadCheck::UnsignedTrailer, TrailerSlot::new(), None);
    let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    let total = rt.block_on(async move {
        let mut decoded = decoded;
        let mut n = 0;
        while let Some(Ok(b)) = decoded.next().await {
            n += b.len();
        }
        n
    });
    assert!(total <= body.len());
});
