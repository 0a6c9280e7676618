//! The end-to-end harness: the real `ksan` binary on ephemeral loopback ports with a temp data
//! directory, driven by aws-sdk-s3 (default settings) and by raw signed HTTP.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;

pub const ROOT_AK: &str = "KSANTESTROOTKEY00001";
pub const ROOT_SK: &str = "ksan-test-root-secret-key-0000000000000001";
pub const REGION: &str = "us-east-1";

pub struct TestServer {
    child: Option<Child>,
    extra: Vec<String>,
    /// The region the server was started with (`--region`, default us-east-1).
    pub region: String,
    pub s3: String,
    pub admin: String,
    pub data: PathBuf,
    _dir: tempfile::TempDir,
}

fn spawn(data: &Path, extra: &[String]) -> (Child, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ksan"))
        .args([
            "server",
            "--listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
            "--gc-interval",
            "1",
        ])
        .args(extra)
        .arg("--data")
        .arg(data)
        .env("KSAN_ROOT_ACCESS_KEY", ROOT_AK)
        .env("KSAN_ROOT_SECRET_KEY", ROOT_SK)
        .env("KSAN_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start ksan");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let (mut s3, mut admin) = (None, None);
    while s3.is_none() || admin.is_none() {
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("ksan did not report its addresses");
        if let Some(a) = line.strip_prefix("ksan S3 endpoint on http://") {
            s3 = Some(a.trim().to_owned());
        }
        if let Some(a) = line.strip_prefix("ksan admin on http://") {
            admin = Some(a.trim().to_owned());
        }
    }
    (child, s3.unwrap_or_default(), admin.unwrap_or_default())
}

impl TestServer {
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Start with extra `ksan server` flags.
    pub fn start_with(extra: &[&str]) -> Self {
        let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        let (child, s3, admin) = spawn(&data, &extra);
        let region = extra
            .iter()
            .position(|a| a == "--region")
            .and_then(|i| extra.get(i + 1))
            .cloned()
            .unwrap_or_else(|| REGION.to_owned());
        TestServer {
            child: Some(child),
            extra,
            region,
            s3,
            admin,
            data,
            _dir: dir,
        }
    }

    /// SIGKILL the server: no chance to flush anything.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Start again on the same data directory (new ports).
    pub fn restart(&mut self) {
        self.kill9();
        let (child, s3, admin) = spawn(&self.data, &self.extra);
        self.child = Some(child);
        self.s3 = s3;
        self.admin = admin;
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.s3)
    }

    pub fn client(&self) -> aws_sdk_s3::Client {
        self.client_for(ROOT_AK, ROOT_SK)
    }

    pub fn client_for(&self, ak: &str, sk: &str) -> aws_sdk_s3::Client {
        sdk_client(&self.endpoint(), &self.region, ak, sk)
    }

    /// An aws-sdk-s3 client with no credentials at all: its requests go out unsigned.
    pub fn anonymous_client(&self) -> aws_sdk_s3::Client {
        let http = aws_smithy_http_client::Builder::new().build_http();
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new(self.region.clone()))
            .allow_no_auth()
            .endpoint_url(self.endpoint())
            .force_path_style(true)
            .http_client(http)
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }

    /// Create a user through the CLI and the admin API.
    pub fn create_user(&self, name: &str, ak: &str, sk: &str) {
        self.create_user_with(name, ak, sk, &[]);
    }

    /// As `create_user`, with more `ksan user create` arguments (e.g. `--email`).
    pub fn create_user_with(&self, name: &str, ak: &str, sk: &str, extra: &[&str]) {
        let out = Command::new(env!("CARGO_BIN_EXE_ksan"))
            .args(["user", "create", name, "--access-key", ak, "--secret-key", sk])
            .args(extra)
            .env("KSAN_ADMIN_ENDPOINT", format!("http://{}", self.admin))
            .env("KSAN_ROOT_ACCESS_KEY", ROOT_AK)
            .env("KSAN_ROOT_SECRET_KEY", ROOT_SK)
            .output()
            .expect("run ksan user create");
        assert!(
            out.status.success(),
            "user create failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The server process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Is the child process still running?
    pub fn is_running(&mut self) -> bool {
        self.child.as_mut().is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Send one raw HTTP/1.1 request; returns status, headers and the whole body.
    pub async fn raw(
        &self,
        method: &str,
        path_and_query: &str,
        headers: &HeaderMap,
        body: Vec<u8>,
    ) -> (StatusCode, HeaderMap, Bytes) {
        raw_to(&self.s3, method, path_and_query, headers, body).await
    }

    /// A raw request to the admin listener.
    pub async fn admin_raw(&self, method: &str, path_and_query: &str) -> (StatusCode, HeaderMap, Bytes) {
        raw_to(&self.admin, method, path_and_query, &HeaderMap::new(), Vec::new()).await
    }

    /// A SigV4-signed raw request (payload hash = SHA-256 of the body, or `payload_hash`).
    pub async fn signed(
        &self,
        method: &str,
        path_and_query: &str,
        extra: &[(&str, &str)],
        body: Vec<u8>,
        payload_hash: Option<&str>,
    ) -> (StatusCode, HeaderMap, Bytes) {
        self.signed_as((ROOT_AK, ROOT_SK), method, path_and_query, extra, body, payload_hash)
            .await
    }

    /// As `signed`, with another user's keys.
    pub async fn signed_as(
        &self,
        (ak, sk): (&str, &str),
        method: &str,
        path_and_query: &str,
        extra: &[(&str, &str)],
        body: Vec<u8>,
        payload_hash: Option<&str>,
    ) -> (StatusCode, HeaderMap, Bytes) {
        let mut h = self.sign_headers_as(
            (ak, sk),
            method,
            path_and_query,
            extra,
            &body,
            payload_hash,
            time::OffsetDateTime::now_utc(),
        );
        h.insert("content-length", HeaderValue::from(body.len()));
        self.raw(method, path_and_query, &h, body).await
    }

    pub fn sign_headers(
        &self,
        method: &str,
        path_and_query: &str,
        extra: &[(&str, &str)],
        body: &[u8],
        payload_hash: Option<&str>,
        now: time::OffsetDateTime,
    ) -> HeaderMap {
        self.sign_headers_as(
            (ROOT_AK, ROOT_SK),
            method,
            path_and_query,
            extra,
            body,
            payload_hash,
            now,
        )
    }

    #[allow(clippy::too_many_arguments)]
    pub fn sign_headers_as(
        &self,
        (ak, sk): (&str, &str),
        method: &str,
        path_and_query: &str,
        extra: &[(&str, &str)],
        body: &[u8],
        payload_hash: Option<&str>,
        now: time::OffsetDateTime,
    ) -> HeaderMap {
        use sha2::Digest;
        let mut h = HeaderMap::new();
        h.insert(http::header::HOST, HeaderValue::from_str(&self.s3).expect("host"));
        for (n, v) in extra {
            h.insert(
                http::HeaderName::from_bytes(n.as_bytes()).expect("name"),
                HeaderValue::from_str(v).expect("value"),
            );
        }
        let hash = payload_hash
            .map(str::to_owned)
            .unwrap_or_else(|| hex::encode(sha2::Sha256::digest(body)));
        let uri: Uri = path_and_query.parse().expect("uri");
        let method: Method = method.parse().expect("method");
        ksan_proto::auth::sign::sign_v4(&method, &uri, &mut h, &hash, ak, sk, REGION, now);
        h
    }
}

/// aws-sdk-s3 at its default settings, path-style, against `endpoint` (`http://host:port`).
pub fn sdk_client(endpoint: &str, region: &str, ak: &str, sk: &str) -> aws_sdk_s3::Client {
    let creds = aws_credential_types::Credentials::new(ak, sk, None, None, "test");
    let http = aws_smithy_http_client::Builder::new().build_http();
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new(region.to_owned()))
        .credentials_provider(creds)
        .endpoint_url(endpoint)
        .force_path_style(true)
        .http_client(http)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Send one raw HTTP/1.1 request to `addr` (ip:port) on a fresh connection; returns status,
/// headers and the whole body. Headers are sent exactly as given (plus Host if missing).
pub async fn raw_to(
    addr: &str,
    method: &str,
    path_and_query: &str,
    headers: &HeaderMap,
    body: Vec<u8>,
) -> (StatusCode, HeaderMap, Bytes) {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    let mut req = Request::builder()
        .method(method)
        .uri(path_and_query)
        .body(Full::new(Bytes::from(body)))
        .expect("request");
    *req.headers_mut() = headers.clone();
    if !req.headers().contains_key(http::header::HOST) {
        req.headers_mut()
            .insert(http::header::HOST, HeaderValue::from_str(addr).expect("host"));
    }
    let resp = sender.send_request(req).await.expect("send");
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    (status, headers, body)
}

/// `<Code>X</Code>` of an error body.
pub fn error_code(body: &[u8]) -> String {
    let s = String::from_utf8_lossy(body);
    s.split("<Code>")
        .nth(1)
        .and_then(|r| r.split("</Code>").next())
        .unwrap_or("")
        .to_owned()
}

/// Deterministic bytes for a test object.
pub fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Percent-decode a key from an `encoding-type=url` listing (`+` is a space, as in forms).
pub fn url_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).expect("ascii escape");
                out.push(u8::from_str_radix(hex, 16).expect("hex escape"));
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).expect("utf-8 key")
}

/// Hex MD5, what a single-part PUT's ETag holds.
pub fn md5_hex(data: &[u8]) -> String {
    use md5::Digest;
    hex::encode(md5::Md5::digest(data))
}

/// CRC-32 (ISO-HDLC, the one S3 calls CRC32), bitwise: test data only.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= byte as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

pub fn b64(data: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// A ksan process whose stdout and stderr are collected.
pub struct Proc {
    pub child: Child,
    out: Arc<Mutex<String>>,
    err: Arc<Mutex<String>>,
}

fn collect_lines(r: impl Read + Send + 'static, into: Arc<Mutex<String>>) {
    std::thread::spawn(move || {
        for line in BufReader::new(r).lines().map_while(Result::ok) {
            if let Ok(mut s) = into.lock() {
                s.push_str(&line);
                s.push('\n');
            }
        }
    });
}

impl Proc {
    /// `ksan server --data DATA ARGS` with ENV (and no root keys unless ENV has them).
    pub fn spawn(data: &Path, args: &[&str], env: &[(&str, &str)]) -> Proc {
        Self::spawn_with(data, args, env, |_| {})
    }

    /// As `spawn`, with the command adjusted before it starts.
    pub fn spawn_with(data: &Path, args: &[&str], env: &[(&str, &str)], adjust: impl FnOnce(&mut Command)) -> Proc {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ksan"));
        cmd.arg("server").arg("--data").arg(data);
        cmd.args(args);
        cmd.env_remove("KSAN_ROOT_ACCESS_KEY")
            .env_remove("KSAN_ROOT_SECRET_KEY");
        cmd.env("KSAN_LOG", "warn");
        for (k, v) in env {
            cmd.env(k, v);
        }
        adjust(&mut cmd);
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start ksan");
        let (out, err) = (Arc::default(), Arc::default());
        collect_lines(child.stdout.take().expect("stdout"), Arc::clone(&out));
        collect_lines(child.stderr.take().expect("stderr"), Arc::clone(&err));
        Proc { child, out, err }
    }

    pub fn stdout(&self) -> String {
        self.out.lock().map(|s| s.clone()).unwrap_or_default()
    }

    pub fn stderr(&self) -> String {
        self.err.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Wait for a line starting with `prefix` on stdout; the rest of it.
    pub fn wait_for(&self, prefix: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Some(rest) = self.stdout().lines().find_map(|l| l.strip_prefix(prefix)) {
                return rest.trim().to_owned();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "no {prefix:?} line; stdout:\n{}\nstderr:\n{}",
            self.stdout(),
            self.stderr()
        );
    }

    pub fn s3(&self) -> String {
        self.wait_for("ksan S3 endpoint on http://")
    }

    /// Wait for the process to end on its own; its exit status.
    pub fn exit(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                // let the reader threads drain what is left
                std::thread::sleep(Duration::from_millis(100));
                return status;
            }
            assert!(Instant::now() < deadline, "ksan did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    use hmac::Mac;
    let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

/// A presigned POST as SDKs make one, signed here with this file's own HMAC (not ksan's code):
/// the form fields (policy and SigV4 signature included) for `conditions` (JSON list items).
pub fn presigned_post(conditions: &str, expiration: &str, secret: &str) -> Vec<(String, String)> {
    let now = time::OffsetDateTime::now_utc();
    let date = format!("{:04}{:02}{:02}", now.year(), now.month() as u8, now.day());
    let amz_date = format!("{date}T{:02}{:02}{:02}Z", now.hour(), now.minute(), now.second());
    let credential = format!("{ROOT_AK}/{date}/{REGION}/s3/aws4_request");
    let policy = format!(
        r#"{{"expiration": "{expiration}", "conditions": [{conditions},
            {{"x-amz-algorithm": "AWS4-HMAC-SHA256"}}, {{"x-amz-credential": "{credential}"}}, {{"x-amz-date": "{amz_date}"}}]}}"#
    );
    let policy = b64(policy.as_bytes());
    let k = hmac_sha256(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k = hmac_sha256(&k, REGION.as_bytes());
    let k = hmac_sha256(&k, b"s3");
    let k = hmac_sha256(&k, b"aws4_request");
    let signature = hex::encode(hmac_sha256(&k, policy.as_bytes()));
    vec![
        ("x-amz-algorithm".into(), "AWS4-HMAC-SHA256".into()),
        ("x-amz-credential".into(), credential),
        ("x-amz-date".into(), amz_date),
        ("policy".into(), policy),
        ("x-amz-signature".into(), signature),
    ]
}

/// A process's peak resident memory (VmHWM) in KiB.
pub fn peak_rss_kib(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    s.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .expect("VmHWM")
}

/// Poll `check` until it holds; panic naming `what` after 30 s.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("not reached in 30 s: {what}");
}

/// `ksan kms create-key ID` against the server's admin port.
pub fn make_key(server: &TestServer, id: &str) {
    let out = Command::new(env!("CARGO_BIN_EXE_ksan"))
        .args([
            "kms",
            "create-key",
            id,
            "--endpoint",
            &format!("http://{}", server.admin),
        ])
        .env("KSAN_ROOT_ACCESS_KEY", ROOT_AK)
        .env("KSAN_ROOT_SECRET_KEY", ROOT_SK)
        .output()
        .expect("ksan kms");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}
