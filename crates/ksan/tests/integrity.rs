//! Stored bytes are never served corrupt without notice: GET verifies while it streams, the
//! integrity scrubber finds corruption on its own, `ksan check` reports it offline, and a
//! start says whether the previous run stopped cleanly.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{Proc, ROOT_AK, ROOT_SK};
use http::HeaderMap;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ENV: [(&str, &str); 3] = [
    ("KSAN_ROOT_ACCESS_KEY", ROOT_AK),
    ("KSAN_ROOT_SECRET_KEY", ROOT_SK),
    ("KSAN_LOG", "info,ksan::access=warn"),
];

fn blob_files(data: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![data.join("blobs")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.path());
            }
        }
    }
    out
}

fn flip_byte(path: &Path, at: usize) {
    let mut b = std::fs::read(path).unwrap();
    b[at] ^= 0x20;
    std::fs::write(path, b).unwrap();
}

async fn metric(admin: &str, name: &str) -> u64 {
    let (_, _, body) = common::raw_to(admin, "GET", "/metrics", &HeaderMap::new(), vec![]).await;
    String::from_utf8_lossy(&body)
        .lines()
        .find_map(|l| {
            l.strip_prefix(&format!("{name} "))
                .map(|v| v.trim().parse().unwrap_or(0))
        })
        .unwrap_or(0)
}

/// A signed GET on a raw connection: (status line, declared length, body bytes received).
async fn raw_get(server: &common::TestServer, path: &str) -> (String, usize, usize) {
    let mut h = server.sign_headers("GET", path, &[], b"", None, time::OffsetDateTime::now_utc());
    h.insert("content-length", http::HeaderValue::from(0));
    let mut req = format!("GET {path} HTTP/1.1\r\n");
    for (n, v) in &h {
        req.push_str(&format!("{n}: {}\r\n", v.to_str().unwrap()));
    }
    req.push_str("\r\n");
    let mut c = tokio::net::TcpStream::connect(&server.s3).await.unwrap();
    c.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), c.read_to_end(&mut out)).await;
    let text = String::from_utf8_lossy(&out);
    let head_end = text.find("\r\n\r\n").map_or(out.len(), |i| i + 4);
    let status = text.lines().next().unwrap_or("").to_owned();
    let declared = text
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    (status, declared, out.len() - head_end)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_get_of_corrupt_bytes_is_cut_short_logged_and_counted() {
    let server = common::TestServer::start_with(&["--verify-rate", "0"]);
    let s3 = server.client();
    s3.create_bucket().bucket("bits").send().await.unwrap();
    let data = common::pattern(5, 3 * 1024 * 1024);
    s3.put_object()
        .bucket("bits")
        .key("k")
        .body(data.clone().into())
        .send()
        .await
        .unwrap();
    // Whole and intact: every byte.
    let (status, declared, got) = raw_get(&server, "/bits/k").await;
    assert!(status.contains("200"), "{status}");
    assert_eq!((declared, got), (data.len(), data.len()));
    // A byte flips on disk.
    let files = blob_files(&server.data);
    assert_eq!(files.len(), 1);
    flip_byte(&files[0], 2 * 1024 * 1024);
    let (status, declared, got) = raw_get(&server, "/bits/k").await;
    assert!(status.contains("200"), "{status}");
    assert_eq!(declared, data.len());
    assert!(got < data.len(), "the corrupt object was served whole");
    // aws-sdk-s3 sees an error, not a success.
    let out = s3.get_object().bucket("bits").key("k").send().await.unwrap();
    assert!(out.body.collect().await.is_err(), "the SDK got the whole body");
    let admin = server.admin.clone();
    assert_eq!(metric(&admin, "ksan_corrupt_reads_total").await, 2);
    // A range is served as stored (nothing to check it against).
    let part = s3
        .get_object()
        .bucket("bits")
        .key("k")
        .range("bytes=0-99")
        .send()
        .await
        .unwrap();
    assert_eq!(part.body.collect().await.unwrap().into_bytes(), &data[..100]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scrubber_finds_corruption_and_check_reports_it() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let args = [
        "--listen",
        "127.0.0.1:0",
        "--admin-listen",
        "127.0.0.1:0",
        "--verify-rate",
        "64",
        "--verify-interval",
        "1",
    ];
    let p = Proc::spawn(&data_dir, &args, &ENV);
    let endpoint = p.s3();
    let admin = p.wait_for("ksan admin on http://");
    let s3 = common::sdk_client(&format!("http://{endpoint}"), "us-east-1", ROOT_AK, ROOT_SK);
    s3.create_bucket().bucket("scrub").send().await.unwrap();
    for key in ["good", "bad"] {
        s3.put_object()
            .bucket("scrub")
            .key(key)
            .body(common::pattern(9, 100_000).into())
            .send()
            .await
            .unwrap();
    }
    // A byte flips in one of the two files.
    let files = blob_files(&data_dir);
    assert_eq!(files.len(), 2);
    flip_byte(&files[0], 50_000);
    let deadline = Instant::now() + Duration::from_secs(20);
    while metric(&admin, "ksan_corrupt_objects_found_total").await == 0 {
        assert!(Instant::now() < deadline, "the scrubber found nothing: {}", p.stderr());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        p.stderr()
            .contains("integrity scrub: stored bytes do not match their checksum"),
        "{}",
        p.stderr()
    );
    // `ksan check` refuses while the server holds the store...
    let check = |quick: bool| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_ksan"));
        cmd.arg("check").arg("--data").arg(&data_dir);
        if quick {
            cmd.arg("--quick");
        }
        cmd.output().unwrap()
    };
    let out = check(true);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("stop the server first"),
        "{out:?}"
    );
    // ...says how to recover a store a killed server left...
    drop(p);
    let out = check(true);
    assert!(String::from_utf8_lossy(&out.stderr).contains("recovers it"), "{out:?}");
    // ...and reports once a server has opened and stopped it.
    let mut p = Proc::spawn(&data_dir, &args[..4], &ENV);
    let _ = p.s3();
    // SAFETY: a signal to our own child.
    unsafe {
        libc::kill(p.child.id() as i32, libc::SIGTERM);
    }
    assert!(p.exit().success());
    let out = check(false);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("bytes that do not match their checksum: 1"),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("scrub/"), "{text}");
    assert!(text.contains("NOT consistent"), "{text}");
    // The corrupt file goes: now its bytes are missing.
    std::fs::remove_file(&files[0]).unwrap();
    let out = check(true);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("bytes missing or cut short: 1") && text.contains("is missing"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_says_how_the_last_run_ended_and_what_to_do_with_a_broken_store() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let args = ["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"];
    let mut p = Proc::spawn(&data, &args, &ENV);
    let _ = p.s3();
    assert!(p.stderr().contains("new data directory"), "{}", p.stderr());
    // SAFETY: a signal to our own child.
    unsafe {
        libc::kill(p.child.id() as i32, libc::SIGTERM);
    }
    assert!(p.exit().success());
    let p = Proc::spawn(&data, &args, &ENV);
    let _ = p.s3();
    std::thread::sleep(Duration::from_millis(200));
    assert!(p.stderr().contains("shut down cleanly"), "{}", p.stderr());
    drop(p); // SIGKILL
    let p = Proc::spawn(&data, &args, &ENV);
    let _ = p.s3();
    std::thread::sleep(Duration::from_millis(200));
    assert!(p.stderr().contains("did not shut down cleanly"), "{}", p.stderr());
    drop(p);
    // A metadata file that is not one: the error says what to do.
    std::fs::write(data.join("meta.redb"), vec![0x5a; 8192]).unwrap();
    let mut p = Proc::spawn(&data, &args, &ENV);
    assert!(!p.exit().success());
    let err = p.stderr();
    assert!(
        err.contains("cannot open the metadata store") && err.contains("backup") && err.contains("ksan check"),
        "{err}"
    );
}
