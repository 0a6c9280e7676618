//! Request bodies as the signature describes them: plain, SHA-256 checked, or aws-chunked
//! (with or without chunk signatures, with or without trailers).

use bytes::{Buf, Bytes, BytesMut};
use futures_util::StreamExt;
use ksan_types::{BodyStream, ErrorCode, S3Error, TrailerSlot};
use sha2::{Digest, Sha256};

use super::canonical::{hmac, sha256_hex};
use super::{PayloadCheck, StreamingContext, constant_time_eq};

/// Largest chunk accepted: a chunk is held whole until its signature is checked.
const MAX_CHUNK: usize = 16 * 1024 * 1024;
/// Longest chunk header or trailer line.
const MAX_LINE: usize = 4096;
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Wrap a body so that what its signature promised is checked while it streams: its SHA-256, or the aws-chunked framing with chunk signatures and trailers.
pub fn decode_body(
    body: BodyStream,
    check: PayloadCheck,
    trailers: TrailerSlot,
    decoded_length: Option<u64>,
) -> BodyStream {
    match check {
        PayloadCheck::None => body,
        PayloadCheck::Sha256(expected) => sha256_checked(body, expected),
        PayloadCheck::Streaming(ctx) => chunked(body, Some(ctx), trailers, decoded_length),
        PayloadCheck::UnsignedTrailer => chunked(body, None, trailers, decoded_length),
    }
}

fn sha256_checked(body: BodyStream, expected: [u8; 32]) -> BodyStream {
    struct State {
        body: BodyStream,
        hasher: Option<Sha256>,
    }
    let state = State {
        body,
        hasher: Some(Sha256::new()),
    };
    Box::pin(futures_util::stream::unfold(state, move |mut s| async move {
        let hasher = s.hasher.as_mut()?;
        match s.body.next().await {
            Some(Ok(chunk)) => {
                hasher.update(&chunk);
                Some((Ok(chunk), s))
            }
            Some(Err(e)) => {
                s.hasher = None;
                Some((Err(e), s))
            }
            None => {
                let digest: [u8; 32] = s.hasher.take()?.finalize().into();
                if digest == expected {
                    None
                } else {
                    Some((
                        Err(S3Error::new(ErrorCode::XAmzContentSHA256Mismatch)
                            .with("ClientComputedContentSHA256", hex::encode(expected))
                            .with("S3ComputedContentSHA256", hex::encode(digest))),
                        s,
                    ))
                }
            }
        }
    }))
}

fn incomplete() -> S3Error {
    S3Error::new(ErrorCode::IncompleteBody)
}

fn bad_signature() -> S3Error {
    S3Error::new(ErrorCode::SignatureDoesNotMatch)
}

struct Decoder {
    body: BodyStream,
    buf: BytesMut,
    input_done: bool,
    ctx: Option<StreamingContext>,
    previous_signature: String,
    trailers: TrailerSlot,
    decoded_length: Option<u64>,
    decoded: u64,
    finished: bool,
}

impl Decoder {
    /// Read more input into the buffer; false at the end of the input.
    async fn fill(&mut self) -> Result<bool, S3Error> {
        if self.input_done {
            return Ok(false);
        }
        match self.body.next().await {
            Some(Ok(chunk)) => {
                self.buf.extend_from_slice(&chunk);
                Ok(true)
            }
            Some(Err(e)) => Err(e),
            None => {
                self.input_done = true;
                Ok(false)
            }
        }
    }

    /// One CRLF-terminated line (without the CRLF).
    async fn line(&mut self) -> Result<String, S3Error> {
        loop {
            if let Some(pos) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = self.buf.split_to(pos);
                self.buf.advance(2);
                return String::from_utf8(line.to_vec()).map_err(|_| incomplete());
            }
            if self.buf.len() > MAX_LINE {
                return Err(incomplete());
            }
            if !self.fill().await? {
                return Err(incomplete());
            }
        }
    }

    async fn exact(&mut self, n: usize) -> Result<Bytes, S3Error> {
        while self.buf.len() < n {
            if !self.fill().await? {
                return Err(incomplete());
            }
        }
        Ok(self.buf.split_to(n).freeze())
    }

    fn chunk_string_to_sign(&self, ctx: &StreamingContext, data: &[u8]) -> String {
        format!(
            "AWS4-HMAC-SHA256-PAYLOAD\n{}\n{}\n{}\n{EMPTY_SHA256}\n{}",
            ctx.amz_date,
            ctx.scope,
            self.previous_signature,
            sha256_hex(data)
        )
    }

    /// The next piece of decoded data; None at the end.
    async fn next_data(&mut self) -> Result<Option<Bytes>, S3Error> {
        if self.finished {
            return Ok(None);
        }
        let header = self.line().await?;
        let (size_hex, ext) = match header.split_once(';') {
            Some((s, e)) => (s, Some(e)),
            None => (header.as_str(), None),
        };
        // Exact framing: hex digits, then `;chunk-signature=<hex>` for signed bodies; no
        // stray whitespace or control bytes are taken for part of it.
        if size_hex.is_empty() || !size_hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(incomplete());
        }
        let size = usize::from_str_radix(size_hex, 16).map_err(|_| incomplete())?;
        if size > MAX_CHUNK {
            return Err(S3Error::new(ErrorCode::InvalidRequest).msg("Chunk too large"));
        }
        let data = self.exact(size).await?;
        if let Some(ctx) = self.ctx.clone() {
            let sig = ext
                .and_then(|e| e.strip_prefix("chunk-signature="))
                .ok_or_else(bad_signature)?;
            let sts = self.chunk_string_to_sign(&ctx, &data);
            let expected = hex::encode(hmac(&ctx.signing_key, sts.as_bytes()));
            if !constant_time_eq(&expected, sig) {
                return Err(bad_signature());
            }
            self.previous_signature = expected;
        }
        if size > 0 {
            if self.exact(2).await?.as_ref() != b"\r\n" {
                return Err(incomplete());
            }
            self.decoded += size as u64;
            return Ok(Some(data));
        }
        self.read_trailers().await?;
        self.finished = true;
        if let Some(expected) = self.decoded_length
            && expected != self.decoded
        {
            return Err(incomplete());
        }
        Ok(None)
    }

    /// After the last chunk: trailer lines (signed or not), then an empty line. A body that
    /// simply ends after the last chunk is accepted too.
    async fn read_trailers(&mut self) -> Result<(), S3Error> {
        let mut trailers = Vec::new();
        let mut signature = None;
        loop {
            if self.buf.is_empty() && !self.fill().await? {
                break;
            }
            let line = self.line().await?;
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(':').ok_or_else(incomplete)?;
            let (name, value) = (name.trim().to_ascii_lowercase(), value.trim().to_owned());
            if name == "x-amz-trailer-signature" {
                signature = Some(value);
            } else {
                trailers.push((name, value));
            }
        }
        if let Some(ctx) = self.ctx.clone()
            && ctx.trailer
        {
            let canonical: String = trailers.iter().map(|(n, v)| format!("{n}:{v}\n")).collect();
            let sts = format!(
                "AWS4-HMAC-SHA256-TRAILER\n{}\n{}\n{}\n{}",
                ctx.amz_date,
                ctx.scope,
                self.previous_signature,
                sha256_hex(canonical.as_bytes())
            );
            let expected = hex::encode(hmac(&ctx.signing_key, sts.as_bytes()));
            match signature {
                Some(sig) if constant_time_eq(&expected, &sig) => {}
                _ => return Err(bad_signature()),
            }
        }
        self.trailers.set(trailers);
        Ok(())
    }
}

fn chunked(
    body: BodyStream,
    ctx: Option<StreamingContext>,
    trailers: TrailerSlot,
    decoded_length: Option<u64>,
) -> BodyStream {
    let previous_signature = ctx.as_ref().map(|c| c.seed_signature.clone()).unwrap_or_default();
    let decoder = Decoder {
        body,
        buf: BytesMut::new(),
        input_done: false,
        ctx,
        previous_signature,
        trailers,
        decoded_length,
        decoded: 0,
        finished: false,
    };
    Box::pin(futures_util::stream::unfold(Some(decoder), |state| async move {
        let mut d = state?;
        match d.next_data().await {
            Ok(Some(data)) => Some((Ok(data), Some(d))),
            Ok(None) => None,
            Err(e) => Some((Err(e), None)),
        }
    }))
}
