//! The response body: empty, one buffer (sent in one write with the headers), or a stream.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use ksan_types::{BodyStream, S3Error};

/// A response body.
pub enum ResponseBody {
    /// No body.
    Empty,
    /// One buffer, sent in one write with the headers.
    Full(Option<Bytes>),
    /// A stream, of known length or not.
    Stream {
        /// The chunks.
        stream: BodyStream,
        /// Bytes still to come, if known.
        remaining: Option<u64>,
    },
}

impl ResponseBody {
    /// No body.
    pub fn empty() -> Self {
        ResponseBody::Empty
    }
    /// One buffer.
    pub fn full(data: impl Into<Bytes>) -> Self {
        ResponseBody::Full(Some(data.into()))
    }
    /// A stream of known length (hyper then sends Content-Length, not chunked).
    pub fn stream(stream: BodyStream, len: Option<u64>) -> Self {
        ResponseBody::Stream { stream, remaining: len }
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = S3Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, S3Error>>> {
        match self.get_mut() {
            ResponseBody::Empty => Poll::Ready(None),
            ResponseBody::Full(data) => Poll::Ready(data.take().map(|d| Ok(Frame::data(d)))),
            ResponseBody::Stream { stream, remaining } => match stream.as_mut().poll_next(cx) {
                Poll::Ready(Some(Ok(chunk))) => {
                    if let Some(r) = remaining {
                        *r = r.saturating_sub(chunk.len() as u64);
                    }
                    Poll::Ready(Some(Ok(Frame::data(chunk))))
                }
                Poll::Ready(Some(Err(e))) => {
                    tracing::warn!(error = %e, "response body stream failed");
                    Poll::Ready(Some(Err(e)))
                }
                Poll::Ready(None) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ResponseBody::Empty => true,
            ResponseBody::Full(d) => d.is_none(),
            ResponseBody::Stream { remaining, .. } => *remaining == Some(0),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ResponseBody::Empty => SizeHint::with_exact(0),
            ResponseBody::Full(d) => SizeHint::with_exact(d.as_ref().map_or(0, |d| d.len() as u64)),
            ResponseBody::Stream { remaining: Some(r), .. } => SizeHint::with_exact(*r),
            ResponseBody::Stream { remaining: None, .. } => SizeHint::default(),
        }
    }
}
