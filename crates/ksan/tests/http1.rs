//! HTTP/1.1 connection handling with raw bytes on one TCP connection: `Expect: 100-continue`
//! answered with and without reading the body, errors answered before the body, empty PUTs,
//! pipelining. Each test speaks the protocol as real clients do (botocore waits for
//! `100 Continue`, and reuses a connection unless told `Connection: close`).

mod common;

use std::time::Duration;

use common::TestServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One response as read off the wire.
#[derive(Debug)]
struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn closes(&self) -> bool {
        self.header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"))
    }
}

/// A raw client connection with its own read buffer.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    async fn open(server: &TestServer) -> Conn {
        Conn {
            stream: TcpStream::connect(&server.s3).await.expect("connect"),
            buf: Vec::new(),
        }
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("write");
    }

    /// Read more bytes; false at EOF or when nothing comes within `wait`.
    async fn fill(&mut self, wait: Duration) -> bool {
        let mut chunk = [0u8; 16384];
        match tokio::time::timeout(wait, self.stream.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
            _ => false,
        }
    }

    /// The next response (an interim `100 Continue` counts as one), or None if none arrives
    /// within `wait`.
    async fn response(&mut self, wait: Duration) -> Option<Resp> {
        self.read_response(wait, false).await
    }

    /// The response to a HEAD: no body follows whatever Content-Length says.
    async fn head_response(&mut self, wait: Duration) -> Option<Resp> {
        self.read_response(wait, true).await
    }

    async fn read_response(&mut self, wait: Duration, to_head: bool) -> Option<Resp> {
        let head_end = loop {
            if let Some(p) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break p;
            }
            if !self.fill(wait).await {
                return None;
            }
        };
        let head = String::from_utf8(self.buf[..head_end].to_vec()).expect("ascii head");
        self.buf.drain(..head_end + 4);
        let mut lines = head.split("\r\n");
        let status_line = lines.next().expect("status line");
        let status: u16 = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("status code");
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
            .collect();
        let mut resp = Resp {
            status,
            headers,
            body: Vec::new(),
        };
        if status != 100 && !to_head {
            let len: usize = resp.header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
            while self.buf.len() < len {
                assert!(self.fill(wait).await, "body cut short");
            }
            resp.body = self.buf.drain(..len).collect();
        }
        Some(resp)
    }

    /// True if the server closed the connection (EOF) within `wait`.
    async fn closed(&mut self, wait: Duration) -> bool {
        let mut chunk = [0u8; 1024];
        matches!(
            tokio::time::timeout(wait, self.stream.read(&mut chunk)).await,
            Ok(Ok(0)) | Ok(Err(_))
        )
    }
}

const WAIT: Duration = Duration::from_secs(5);
/// How long botocore waits for `100 Continue` before sending the body anyway.
const CONTINUE_WAIT: Duration = Duration::from_secs(1);

/// The bytes of a SigV4-signed request head (the body is sent separately).
fn head(server: &TestServer, method: &str, path: &str, extra: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let h = server.sign_headers(method, path, extra, body, None, time::OffsetDateTime::now_utc());
    let mut out = format!("{method} {path} HTTP/1.1\r\n");
    for (n, v) in &h {
        out.push_str(&format!("{}: {}\r\n", n, v.to_str().expect("ascii header")));
    }
    if method != "GET" && method != "HEAD" {
        out.push_str(&format!("content-length: {}\r\n", body.len()));
    }
    out.push_str("\r\n");
    out.into_bytes()
}

/// Send a request the way botocore does with `Expect: 100-continue`: the head, then up to a
/// second's wait for `100 Continue`; the body after it (or after the wait); no body if a final
/// response came first. Returns the final response and whether `100 Continue` was seen.
async fn expect_continue(conn: &mut Conn, head_bytes: &[u8], body: &[u8]) -> (Resp, bool) {
    conn.send(head_bytes).await;
    match conn.response(CONTINUE_WAIT).await {
        Some(r) if r.status == 100 => {
            conn.send(body).await;
            (conn.response(WAIT).await.expect("final response"), true)
        }
        Some(r) => (r, false),
        None => {
            conn.send(body).await;
            (conn.response(WAIT).await.expect("final response"), false)
        }
    }
}

async fn make_bucket(server: &TestServer, name: &str) {
    let (status, _, body) = server.signed("PUT", &format!("/{name}"), &[], Vec::new(), None).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_put_with_expect_then_put_on_one_connection() {
    let server = TestServer::start();
    make_bucket(&server, "h1-empty").await;
    let expect = [("expect", "100-continue")];
    let mut conn = Conn::open(&server).await;
    // A zero-byte "folder" object, as boto3 sends it: Expect: 100-continue and an empty body.
    let (first, continued) = expect_continue(&mut conn, &head(&server, "PUT", "/h1-empty/a/", &expect, b""), b"").await;
    assert_eq!(first.status, 200);
    if !continued {
        // A final answer without `100 Continue` leaves an Expect client unable to tell what
        // comes next on this connection: the server must close it, and say so.
        assert!(first.closes(), "no 100 Continue and no Connection: close: {first:?}");
        assert!(conn.closed(WAIT).await, "the connection stayed open");
        conn = Conn::open(&server).await;
    }
    // The next upload goes through at once, with 100 Continue, and keeps the connection.
    let started = std::time::Instant::now();
    let (second, continued) = expect_continue(
        &mut conn,
        &head(&server, "PUT", "/h1-empty/a/x", &expect, b"hello"),
        b"hello",
    )
    .await;
    assert_eq!(second.status, 200);
    assert!(continued, "the server read the body without sending 100 Continue");
    assert!(!second.closes());
    assert!(
        started.elapsed() < CONTINUE_WAIT,
        "the upload waited for the client's timeout"
    );
    // ...and the same connection serves the next request.
    let (third, _) = expect_continue(
        &mut conn,
        &head(&server, "PUT", "/h1-empty/a/y", &expect, b"world"),
        b"world",
    )
    .await;
    assert_eq!(third.status, 200);
    conn.send(&head(&server, "GET", "/h1-empty/a/x", &[], b"")).await;
    let got = conn.response(WAIT).await.expect("GET answered");
    assert_eq!((got.status, got.body.as_slice()), (200, b"hello".as_slice()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_put_without_expect_keeps_the_connection() {
    let server = TestServer::start();
    make_bucket(&server, "h1-plain").await;
    let mut conn = Conn::open(&server).await;
    conn.send(&head(&server, "PUT", "/h1-plain/dir/", &[], b"")).await;
    let first = conn.response(WAIT).await.expect("answered");
    assert_eq!(first.status, 200);
    assert!(!first.closes());
    let mut req = head(&server, "PUT", "/h1-plain/dir/f", &[], b"data");
    req.extend_from_slice(b"data");
    conn.send(&req).await;
    let second = conn
        .response(WAIT)
        .await
        .expect("second request answered on the same connection");
    assert_eq!(second.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_answered_before_the_body() {
    let server = TestServer::start();
    make_bucket(&server, "h1-err").await;
    // With Expect: the server refuses (no such bucket) without asking for the body, so it
    // cannot know whether the client will send it: it closes the connection, saying so.
    let mut conn = Conn::open(&server).await;
    let expect = [("expect", "100-continue")];
    let (resp, continued) = expect_continue(
        &mut conn,
        &head(&server, "PUT", "/h1-missing/k", &expect, b"0123456789"),
        b"0123456789",
    )
    .await;
    assert!(!continued);
    assert_eq!(resp.status, 404);
    assert_eq!(common::error_code(&resp.body), "NoSuchBucket");
    assert!(resp.closes(), "{resp:?}");
    assert!(conn.closed(WAIT).await);
    // A new connection works.
    let mut conn = Conn::open(&server).await;
    let mut req = head(&server, "PUT", "/h1-err/k", &[], b"0123456789");
    req.extend_from_slice(b"0123456789");
    conn.send(&req).await;
    assert_eq!(conn.response(WAIT).await.expect("answered").status, 200);
    // Without Expect the body comes along; the error does not need it, the connection goes on.
    let mut req = head(&server, "PUT", "/h1-missing/k", &[], b"0123456789");
    req.extend_from_slice(b"0123456789");
    conn.send(&req).await;
    let resp = conn.response(WAIT).await.expect("answered");
    assert_eq!(resp.status, 404);
    conn.send(&head(&server, "GET", "/h1-err/k", &[], b"")).await;
    let got = conn.response(WAIT).await.expect("next request on the same connection");
    assert_eq!((got.status, got.body.as_slice()), (200, b"0123456789".as_slice()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expect_continue_with_the_body_read() {
    let server = TestServer::start();
    make_bucket(&server, "h1-cont").await;
    let mut conn = Conn::open(&server).await;
    let body = common::pattern(7, 300_000);
    let req = head(&server, "PUT", "/h1-cont/big", &[("expect", "100-continue")], &body);
    conn.send(&req).await;
    let interim = conn.response(WAIT).await.expect("100 Continue");
    assert_eq!(interim.status, 100);
    conn.send(&body).await;
    let done = conn.response(WAIT).await.expect("final response");
    assert_eq!(done.status, 200);
    assert!(!done.closes());
    assert_eq!(
        done.header("etag"),
        Some(format!("\"{}\"", common::md5_hex(&body)).as_str())
    );
    // An answer that comes before the body even though the client sent it at once (no wait
    // for 100 Continue): a bad signature. The server may close; if it does not, the next
    // request on the connection must be answered correctly.
    let mut bad = head(&server, "PUT", "/h1-cont/bad", &[("expect", "100-continue")], b"other");
    let text = String::from_utf8(bad.clone())
        .unwrap()
        .replace("/h1-cont/bad", "/h1-cont/bad2");
    bad = text.into_bytes();
    bad.extend_from_slice(b"12345");
    conn.send(&bad).await;
    let refused = conn.response(WAIT).await.expect("answered");
    assert_eq!(refused.status, 403);
    if !refused.closes() {
        conn.send(&head(&server, "GET", "/h1-cont/big", &[], b"")).await;
        let got = conn.response(WAIT).await.expect("answered");
        assert_eq!(got.status, 200);
        assert_eq!(got.body, body);
    } else {
        assert!(conn.closed(WAIT).await);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_requests_are_answered_in_order() {
    let server = TestServer::start();
    make_bucket(&server, "h1-pipe").await;
    let mut conn = Conn::open(&server).await;
    let mut burst = Vec::new();
    for i in 0..5 {
        let body = format!("object number {i}");
        burst.extend(head(&server, "PUT", &format!("/h1-pipe/k{i}"), &[], body.as_bytes()));
        burst.extend_from_slice(body.as_bytes());
    }
    for i in 0..5 {
        burst.extend(head(&server, "GET", &format!("/h1-pipe/k{i}"), &[], b""));
    }
    burst.extend(head(&server, "HEAD", "/h1-pipe/k0", &[], b""));
    burst.extend(head(&server, "GET", "/h1-pipe/missing", &[], b""));
    conn.send(&burst).await;
    for _ in 0..5 {
        assert_eq!(conn.response(WAIT).await.expect("PUT answered").status, 200);
    }
    for i in 0..5 {
        let got = conn.response(WAIT).await.expect("GET answered");
        assert_eq!(got.status, 200);
        assert_eq!(got.body, format!("object number {i}").into_bytes());
    }
    // HEAD: headers only, although Content-Length names the object's size.
    let head_resp = conn.head_response(WAIT).await.expect("HEAD answered");
    assert_eq!(head_resp.status, 200);
    assert_eq!(head_resp.header("content-length"), Some("15"));
    // The HEAD had no body on the wire: the next bytes are the next response's.
    let missing = conn.response(WAIT).await.expect("last GET answered");
    assert_eq!(missing.status, 404);
    assert_eq!(common::error_code(&missing.body), "NoSuchKey");
}
