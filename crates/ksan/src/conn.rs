//! What keeps connections from exhausting the server, and how they end: a budget of
//! connections per listener, an idle timeout, a header timeout (hyper's), a minimum body
//! pace, and graceful shutdown.
//!
//! Every connection task holds a permit of its listener's semaphore: when none is left, the
//! listener answers `503 SlowDown` and closes, so a flood of idle sockets on the S3 port can
//! never starve the admin port, which has a budget of its own. A connection is closed when no
//! byte has moved either way for the idle timeout while no request is being handled.
//! On shutdown every connection is asked to finish its request in flight and close; those
//! still open after the drain timeout are dropped, which drops their handlers (an unfinished
//! upload's blob is removed as its writer is dropped).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::Stream;
use ksan_types::{ErrorCode, S3Error};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio_util::task::TaskTracker;

/// The limits of one listener's connections.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections served at once; more are answered 503 and closed.
    pub max_connections: usize,
    /// Longest time to receive a request's headers (hyper's header read timeout).
    pub header_timeout: Duration,
    /// A connection with no request in flight and no byte moved for this long is closed.
    pub idle_timeout: Duration,
    /// Window of the body pace check: each window must bring at least `body_min_bytes`.
    pub body_timeout: Duration,
    /// Bytes a request body must bring per `body_timeout`.
    pub body_min_bytes: u64,
}

/// Shared by a server's listeners: the shutdown signals and the live connection tasks.
#[derive(Clone)]
pub struct Lifecycle {
    /// Set to true to stop accepting and ask connections to finish.
    drain: watch::Sender<bool>,
    /// Set to true to drop the connections still open.
    force: watch::Sender<bool>,
    tasks: TaskTracker,
}

impl Default for Lifecycle {
    fn default() -> Self {
        Lifecycle {
            drain: watch::channel(false).0,
            force: watch::channel(false).0,
            tasks: TaskTracker::new(),
        }
    }
}

impl Lifecycle {
    /// A receiver that turns true when the server starts draining.
    pub fn draining(&self) -> watch::Receiver<bool> {
        self.drain.subscribe()
    }

    /// Run a connection task under the tracker.
    pub fn spawn<F: Future<Output = ()> + Send + 'static>(&self, f: F) {
        self.tasks.spawn(f);
    }

    /// Stop accepting, let requests in flight finish for up to `timeout`, then drop the
    /// connections still open. Returns how many were dropped.
    pub async fn shutdown(&self, timeout: Duration) -> usize {
        let _ = self.drain.send(true);
        self.tasks.close();
        if tokio::time::timeout(timeout, self.tasks.wait()).await.is_ok() {
            return 0;
        }
        let cut = self.tasks.len();
        let _ = self.force.send(true);
        let _ = tokio::time::timeout(Duration::from_secs(5), self.tasks.wait()).await;
        cut
    }
}

/// A listener's connection budget.
#[derive(Clone)]
pub struct Budget(Arc<Semaphore>);

impl Budget {
    /// A budget of `max` connections.
    pub fn new(max: usize) -> Self {
        Budget(Arc::new(Semaphore::new(max.max(1))))
    }

    /// A permit, or None when the budget is spent.
    pub fn try_take(&self) -> Option<OwnedSemaphorePermit> {
        self.0.clone().try_acquire_owned().ok()
    }
}

/// Answer a connection over budget with 503 SlowDown and close it.
pub async fn refuse(mut stream: tokio::net::TcpStream) {
    let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code><Message>Too many connections; reduce your request rate.</Message></Error>";
    let resp = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/xml\r\ncontent-length: {}\r\nconnection: close\r\nretry-after: 1\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(resp.as_bytes())).await;
    let _ = stream.shutdown().await;
}

/// Per-connection activity: when a byte last moved, and how many requests are in flight.
#[derive(Default)]
pub struct Activity {
    start: Option<Instant>,
    last_ms: AtomicU64,
    in_flight: AtomicUsize,
}

impl Activity {
    /// Activity of a connection starting now.
    pub fn new() -> Arc<Self> {
        Arc::new(Activity {
            start: Some(Instant::now()),
            ..Activity::default()
        })
    }

    fn now_ms(&self) -> u64 {
        self.start.map_or(0, |s| s.elapsed().as_millis() as u64)
    }

    fn touch(&self) {
        self.last_ms.store(self.now_ms(), Ordering::Relaxed);
    }

    /// A request starts being handled; the guard ends it.
    pub fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.touch();
        InFlight(self.clone())
    }

    /// No request in flight and nothing moved for `timeout`.
    pub fn idle_for(&self, timeout: Duration) -> bool {
        self.in_flight.load(Ordering::Relaxed) == 0
            && self.now_ms().saturating_sub(self.last_ms.load(Ordering::Relaxed)) >= timeout.as_millis() as u64
    }
}

/// A request being handled (see [`Activity::begin`]).
pub struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// An I/O stream that records its activity.
pub struct Tracked<T> {
    inner: T,
    activity: Arc<Activity>,
}

impl<T> Tracked<T> {
    /// Wrap `inner`.
    pub fn new(inner: T, activity: Arc<Activity>) -> Self {
        activity.touch();
        Tracked { inner, activity }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Tracked<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        r
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Tracked<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        r
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        r
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Drive a connection until it ends, it idles out, the server drains (then `graceful` asks
/// it to finish) or the server drops it.
pub async fn drive<C: Future>(
    mut conn: Pin<&mut C>,
    mut graceful: impl FnMut(Pin<&mut C>),
    activity: &Activity,
    limits: &Limits,
    life: &Lifecycle,
) {
    let mut drain = life.drain.subscribe();
    let mut force = life.force.subscribe();
    let mut draining = *drain.borrow();
    if draining {
        graceful(conn.as_mut());
    }
    let tick = (limits.idle_timeout / 4).clamp(Duration::from_millis(50), Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = conn.as_mut() => return,
            changed = drain.changed(), if !draining => {
                draining = true;
                if changed.is_ok() {
                    graceful(conn.as_mut());
                }
            }
            _ = force.changed() => return,
            _ = tokio::time::sleep(tick) => {
                if activity.idle_for(limits.idle_timeout) {
                    return;
                }
            }
        }
    }
}

/// A request body that must keep a pace: each `window` must bring at least `min_bytes`, or
/// the body fails with RequestTimeout (a body trickling a byte a second cannot hold a
/// connection and an upload open for ever).
pub struct Paced<S> {
    inner: S,
    window: Duration,
    min_bytes: u64,
    in_window: u64,
    timer: Pin<Box<tokio::time::Sleep>>,
}

impl<S> Paced<S> {
    /// Pace `inner`.
    pub fn new(inner: S, window: Duration, min_bytes: u64) -> Self {
        Paced {
            inner,
            window,
            min_bytes,
            in_window: 0,
            timer: Box::pin(tokio::time::sleep(window)),
        }
    }

    /// The window ended: too slow, or a new window.
    fn window_end(&mut self) -> Result<(), S3Error> {
        if self.in_window < self.min_bytes {
            return Err(S3Error::new(ErrorCode::RequestTimeout));
        }
        self.in_window = 0;
        let next = tokio::time::Instant::now() + self.window;
        self.timer.as_mut().reset(next);
        Ok(())
    }
}

impl<S> Stream for Paced<S>
where
    S: Stream<Item = Result<Bytes, S3Error>> + Unpin,
{
    type Item = Result<Bytes, S3Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                this.in_window += chunk.len() as u64;
                if this.timer.as_mut().poll(cx).is_ready()
                    && let Err(e) = this.window_end()
                {
                    return Poll::Ready(Some(Err(e)));
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Pending => {
                while this.timer.as_mut().poll(cx).is_ready() {
                    if let Err(e) = this.window_end() {
                        return Poll::Ready(Some(Err(e)));
                    }
                }
                Poll::Pending
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    fn trickle(n: usize, every: Duration) -> impl Stream<Item = Result<Bytes, S3Error>> + Unpin {
        Box::pin(futures_util::stream::unfold(0, move |i| async move {
            if i == n {
                return None;
            }
            tokio::time::sleep(every).await;
            Some((Ok(Bytes::from_static(b"x")), i + 1))
        }))
    }

    #[tokio::test(start_paused = true)]
    async fn a_trickling_body_times_out() {
        let mut s = Paced::new(trickle(1000, Duration::from_secs(1)), Duration::from_secs(10), 100);
        let mut got = 0;
        let err = loop {
            match s.next().await {
                Some(Ok(b)) => got += b.len(),
                Some(Err(e)) => break e,
                None => panic!("ended"),
            }
        };
        assert_eq!(err.code, ErrorCode::RequestTimeout);
        assert!((9..=11).contains(&got), "{got}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_steady_body_and_a_short_one_pass() {
        let s = Paced::new(trickle(50, Duration::from_millis(10)), Duration::from_millis(100), 5);
        assert_eq!(s.filter_map(|r| async move { r.ok() }).count().await, 50);
        // A whole body inside the first window never meets the check.
        let s = Paced::new(trickle(3, Duration::from_millis(1)), Duration::from_secs(10), 1_000_000);
        assert_eq!(s.filter_map(|r| async move { r.ok() }).count().await, 3);
    }

    #[test]
    fn idle_needs_no_request_in_flight() {
        let a = Activity::new();
        assert!(a.idle_for(Duration::ZERO));
        let guard = a.begin();
        assert!(!a.idle_for(Duration::ZERO));
        drop(guard);
        assert!(a.idle_for(Duration::ZERO));
        assert!(!a.idle_for(Duration::from_secs(60)));
    }
}
