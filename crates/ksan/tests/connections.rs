//! Connections cannot exhaust the server: idle and slow clients are cut off, the S3 port has
//! a budget the admin port does not share, the open-file limit is raised at start; a client
//! that half-closes after its request still gets the answer.

mod common;

use std::os::unix::process::CommandExt;
use std::time::{Duration, Instant};

use common::{Proc, REGION, ROOT_AK, ROOT_SK, error_code};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const ENV_KEYS: [(&str, &str); 2] = [("KSAN_ROOT_ACCESS_KEY", ROOT_AK), ("KSAN_ROOT_SECRET_KEY", ROOT_SK)];

fn start(args: &[&str]) -> (Proc, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut all = vec!["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"];
    all.extend_from_slice(args);
    let p = Proc::spawn(&dir.path().join("data"), &all, &ENV_KEYS);
    (p, dir)
}

/// Signed request head (no body bytes), as raw HTTP/1.1 text.
fn signed_head(s3: &str, method: &str, path: &str, extra: &[(&str, &str)], payload_hash: &str) -> String {
    let mut h = HeaderMap::new();
    h.insert(http::header::HOST, HeaderValue::from_str(s3).unwrap());
    for (n, v) in extra {
        h.insert(
            http::HeaderName::from_bytes(n.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    let uri: http::Uri = path.parse().unwrap();
    let m: Method = method.parse().unwrap();
    ksan_proto::auth::sign::sign_v4(
        &m,
        &uri,
        &mut h,
        payload_hash,
        ROOT_AK,
        ROOT_SK,
        REGION,
        time::OffsetDateTime::now_utc(),
    );
    let mut out = format!("{method} {path} HTTP/1.1\r\n");
    for (n, v) in &h {
        out.push_str(&format!("{}: {}\r\n", n, v.to_str().unwrap()));
    }
    out.push_str("\r\n");
    out
}

/// Read until the peer closes (or `within` passes); what was read, and whether it closed.
async fn read_until_closed(c: &mut TcpStream, within: Duration) -> (String, bool) {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, c.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&out).into_owned(), true),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => return (String::from_utf8_lossy(&out).into_owned(), false),
        }
    }
}

async fn create_bucket(s3: &str, name: &str) {
    let empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    let mut c = TcpStream::connect(s3).await.unwrap();
    let head = signed_head(s3, "PUT", &format!("/{name}"), &[("content-length", "0")], empty);
    c.write_all(head.as_bytes()).await.unwrap();
    let mut buf = [0u8; 1024];
    let n = c.read(&mut buf).await.unwrap();
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&buf[..n])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_slow_connections_are_closed() {
    let (p, _dir) = start(&["--idle-timeout", "1", "--header-timeout", "2"]);
    let s3 = p.s3();
    // Never a byte: closed after the idle timeout.
    let started = Instant::now();
    let mut c = TcpStream::connect(&s3).await.unwrap();
    let (_, closed) = read_until_closed(&mut c, Duration::from_secs(5)).await;
    assert!(closed, "a silent connection stays open");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    // Idle after a request (keep-alive): closed too.
    let mut c = TcpStream::connect(&s3).await.unwrap();
    c.write_all(format!("GET /health HTTP/1.1\r\nHost: {s3}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let (text, closed) = read_until_closed(&mut c, Duration::from_secs(5)).await;
    assert!(text.starts_with("HTTP/1.1 "), "{text}");
    assert!(closed, "an idle keep-alive connection stays open");
    // Headers trickling a byte every 200 ms (never idle): closed by the header timeout.
    let started = Instant::now();
    let mut c = TcpStream::connect(&s3).await.unwrap();
    c.write_all(format!("GET / HTTP/1.1\r\nHost: {s3}\r\nx-slow: ").as_bytes())
        .await
        .unwrap();
    let mut closed = false;
    for _ in 0..40 {
        if c.write_all(b"a").await.is_err() {
            closed = true;
            break;
        }
        let mut buf = [0u8; 512];
        match tokio::time::timeout(Duration::from_millis(200), c.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                closed = true;
                break;
            }
            Ok(Ok(_)) => {
                closed = true; // an error answer, then the close
                break;
            }
            Err(_) => {}
        }
    }
    assert!(closed, "trickled headers hold the connection");
    assert!(started.elapsed() < Duration::from_secs(6), "{:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickling_body_is_dropped_and_nothing_is_stored() {
    let (p, dir) = start(&["--body-timeout", "1", "--body-min-bytes", "100", "--idle-timeout", "30"]);
    let s3 = p.s3();
    create_bucket(&s3, "slow").await;
    let mut c = TcpStream::connect(&s3).await.unwrap();
    let head = signed_head(&s3, "PUT", "/slow/k", &[("content-length", "1000")], "UNSIGNED-PAYLOAD");
    c.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    let mut answer = String::new();
    for _ in 0..50 {
        if c.write_all(b"z").await.is_err() {
            break;
        }
        let mut buf = [0u8; 2048];
        match tokio::time::timeout(Duration::from_millis(200), c.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => {
                answer = String::from_utf8_lossy(&buf[..n]).into_owned();
                break;
            }
            Err(_) => {}
        }
    }
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert_eq!(error_code(answer.as_bytes()), "RequestTimeout", "{answer}");
    // Nothing stored, no blob left (the body had not reached the inline threshold's end).
    let head = signed_head(
        &s3,
        "HEAD",
        "/slow/k",
        &[],
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    );
    let mut c = TcpStream::connect(&s3).await.unwrap();
    c.write_all(head.as_bytes()).await.unwrap();
    let mut buf = [0u8; 1024];
    let n = c.read(&mut buf).await.unwrap();
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 404"),
        "{}",
        String::from_utf8_lossy(&buf[..n])
    );
    let _ = dir;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_s3_port_has_a_budget_the_admin_port_does_not_share() {
    let (p, _dir) = start(&["--max-connections", "3", "--idle-timeout", "60"]);
    let s3 = p.s3();
    let admin = p.wait_for("ksan admin on http://");
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(TcpStream::connect(&s3).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    // The fourth is told to slow down.
    let mut c = TcpStream::connect(&s3).await.unwrap();
    let (text, closed) = read_until_closed(&mut c, Duration::from_secs(5)).await;
    assert!(closed && text.starts_with("HTTP/1.1 503"), "{text}");
    assert_eq!(error_code(text.as_bytes()), "SlowDown");
    // The admin port still answers.
    let (status, _, body) = common::raw_to(&admin, "GET", "/health", &HeaderMap::new(), vec![]).await;
    assert_eq!((status, &body[..]), (StatusCode::OK, &b"ok\n"[..]));
    // A connection closed frees its place.
    drop(held.pop());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, _, _) = common::raw_to(&s3, "GET", "/", &HeaderMap::new(), vec![]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "anonymous ListBuckets is served again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_open_file_limit_is_raised_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"];
    let p = Proc::spawn_with(&dir.path().join("data"), &args, &ENV_KEYS, |cmd| {
        // SAFETY: setrlimit is async-signal-safe; the closure touches nothing else.
        unsafe {
            cmd.pre_exec(|| {
                let mut lim = libc::rlimit {
                    rlim_cur: 0,
                    rlim_max: 0,
                };
                libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
                lim.rlim_cur = 256.min(lim.rlim_max);
                libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
                Ok(())
            });
        }
    });
    let s3 = p.s3();
    let admin = p.wait_for("ksan admin on http://");
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", p.child.id())).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap()
        .to_owned();
    let fields: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(fields[3], fields[4], "soft limit raised to the hard one: {line}");
    // 300 idle connections, more than the 256 the process was started with: both ports answer.
    let mut held = Vec::new();
    for _ in 0..300 {
        held.push(TcpStream::connect(&s3).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, _, _) = common::raw_to(&admin, "GET", "/health", &HeaderMap::new(), vec![]).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = common::raw_to(&s3, "GET", "/", &HeaderMap::new(), vec![]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_closed_request_is_answered_and_stored() {
    let (p, _dir) = start(&[]);
    let s3 = p.s3();
    create_bucket(&s3, "half").await;
    let body = b"all of the body, then the client shuts its side";
    use sha2::Digest as _;
    let hash = hex::encode(sha2::Sha256::digest(body));
    let len = body.len().to_string();
    let head = signed_head(&s3, "PUT", "/half/k", &[("content-length", &len)], &hash);
    let mut c = TcpStream::connect(&s3).await.unwrap();
    c.write_all(head.as_bytes()).await.unwrap();
    c.write_all(body).await.unwrap();
    c.shutdown().await.unwrap();
    let (text, _) = read_until_closed(&mut c, Duration::from_secs(5)).await;
    assert!(text.starts_with("HTTP/1.1 200"), "{text:?}");
    let (status, _, got) = common::raw_to(
        &s3,
        "GET",
        "/half/k",
        &{
            let mut h = HeaderMap::new();
            let raw = signed_head(
                &s3,
                "GET",
                "/half/k",
                &[],
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            );
            for line in raw.lines().skip(1).filter(|l| !l.is_empty()) {
                let (n, v) = line.split_once(": ").unwrap();
                h.insert(
                    http::HeaderName::from_bytes(n.as_bytes()).unwrap(),
                    HeaderValue::from_str(v).unwrap(),
                );
            }
            h
        },
        vec![],
    )
    .await;
    assert_eq!((status, &got[..]), (StatusCode::OK, &body[..]));
}

/// Blob files under a data dir.
fn blob_count(data: &std::path::Path) -> usize {
    let mut n = 0;
    let mut stack = vec![data.join("blobs")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else {
                n += 1;
            }
        }
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_uploads_finish_and_leaves_no_blob_of_those_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let args = [
        "--listen",
        "127.0.0.1:0",
        "--admin-listen",
        "127.0.0.1:0",
        "--shutdown-timeout",
        "2",
    ];
    let mut p = Proc::spawn(&data, &args, &ENV_KEYS);
    let s3 = p.s3();
    create_bucket(&s3, "drain").await;
    const SIZE: usize = 640 * 1024;
    // 20 uploads streaming 64 KiB at a time: half finish in about a second, half would take
    // six, longer than the drain allows.
    let mut uploads = Vec::new();
    for i in 0..20 {
        let s3 = s3.clone();
        let pause = if i % 2 == 0 { 100 } else { 600 };
        uploads.push(tokio::spawn(async move {
            let key = format!("/drain/k{i}");
            let head = signed_head(
                &s3,
                "PUT",
                &key,
                &[("content-length", &SIZE.to_string())],
                "UNSIGNED-PAYLOAD",
            );
            let mut c = TcpStream::connect(&s3).await.unwrap();
            c.write_all(head.as_bytes()).await.unwrap();
            for _ in 0..SIZE / 65536 {
                if c.write_all(&[b'd'; 65536]).await.is_err() {
                    return (i, false);
                }
                tokio::time::sleep(Duration::from_millis(pause)).await;
            }
            let (text, _) = read_until_closed(&mut c, Duration::from_secs(10)).await;
            (i, text.starts_with("HTTP/1.1 200"))
        }));
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    let stopped_at = Instant::now();
    // SAFETY: kill only sends a signal to the child we started.
    unsafe {
        libc::kill(p.child.id() as i32, libc::SIGTERM);
    }
    // No new connection is served once draining began.
    tokio::time::sleep(Duration::from_millis(100)).await;
    if let Ok(mut c) = TcpStream::connect(&s3).await {
        let _ = c
            .write_all(format!("GET / HTTP/1.1\r\nHost: {s3}\r\n\r\n").as_bytes())
            .await;
        let (text, closed) = read_until_closed(&mut c, Duration::from_secs(3)).await;
        assert!(closed && text.is_empty(), "served after SIGTERM: {text}");
    }
    let mut ok = Vec::new();
    for u in uploads {
        let (i, done) = u.await.unwrap();
        if done {
            ok.push(i);
        }
    }
    let status = p.exit();
    assert!(status.success(), "{status:?}: {}", p.stderr());
    assert!(
        stopped_at.elapsed() < Duration::from_secs(8),
        "{:?}",
        stopped_at.elapsed()
    );
    let fast: Vec<usize> = (0..20).filter(|i| i % 2 == 0).collect();
    assert_eq!(
        ok, fast,
        "the uploads that fit in the drain finished with 200, the others not"
    );
    assert_eq!(
        blob_count(&data),
        ok.len(),
        "a blob for each stored object, none for the cut-off ones"
    );
    // Everything acknowledged is there after a restart.
    let p = Proc::spawn(&data, &args[..4], &ENV_KEYS);
    let s3 = p.s3();
    for i in ok {
        let raw = signed_head(
            &s3,
            "HEAD",
            &format!("/drain/k{i}"),
            &[],
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        );
        let mut c = TcpStream::connect(&s3).await.unwrap();
        c.write_all(raw.as_bytes()).await.unwrap();
        let mut buf = [0u8; 1024];
        let n = c.read(&mut buf).await.unwrap();
        let text = String::from_utf8_lossy(&buf[..n]);
        assert!(
            text.starts_with("HTTP/1.1 200") && text.contains(&format!("content-length: {SIZE}")),
            "k{i}: {text}"
        );
    }
}
