//! What an operator meets: files on disk, logs, first start, errors at start, the Host header.
//! Each test runs the real binary with its own flags and environment and reads what it prints.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{Proc, REGION, ROOT_AK, ROOT_SK};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).expect("stat").permissions().mode() & 0o777
}

fn blob_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.join("blobs")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

const ENV_KEYS: [(&str, &str); 2] = [("KSAN_ROOT_ACCESS_KEY", ROOT_AK), ("KSAN_ROOT_SECRET_KEY", ROOT_SK)];

fn sign(s3: &str, method: &str, path: &str, extra: &[(&str, &str)], body: &[u8]) -> HeaderMap {
    use sha2::Digest;
    let mut h = HeaderMap::new();
    h.insert(http::header::HOST, HeaderValue::from_str(s3).unwrap());
    for (n, v) in extra {
        h.insert(
            http::HeaderName::from_bytes(n.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    let hash = hex::encode(sha2::Sha256::digest(body));
    let uri: http::Uri = path.parse().unwrap();
    let method: Method = method.parse().unwrap();
    ksan_proto::auth::sign::sign_v4(
        &method,
        &uri,
        &mut h,
        &hash,
        ROOT_AK,
        ROOT_SK,
        REGION,
        time::OffsetDateTime::now_utc(),
    );
    h.insert("content-length", HeaderValue::from(body.len()));
    h
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_files_are_private() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // An older installation left things world-readable: the start tightens them.
    std::fs::create_dir_all(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let p = Proc::spawn(
        &data,
        &["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"],
        &ENV_KEYS,
    );
    let s3 = p.s3();
    let body = vec![7u8; 100_000];
    let (status, _, _) = common::raw_to(&s3, "PUT", "/priv", &sign(&s3, "PUT", "/priv", &[], b""), vec![]).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = common::raw_to(&s3, "PUT", "/priv/k", &sign(&s3, "PUT", "/priv/k", &[], &body), body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(mode(&data), 0o700, "data dir");
    assert_eq!(mode(&data.join("meta.redb")), 0o600, "meta.redb holds the secret keys");
    // ... sealed by the master key: the root secret is not in the file in the clear.
    let meta = std::fs::read(data.join("meta.redb")).unwrap();
    assert!(
        !meta.windows(ROOT_SK.len()).any(|w| w == ROOT_SK.as_bytes()),
        "meta.redb holds a secret key in the clear"
    );
    assert_eq!(mode(&data.join("master.key")), 0o600, "master.key");
    let blobs = blob_files(&data);
    assert!(!blobs.is_empty());
    for b in blobs {
        assert_eq!(mode(&b), 0o600, "{}", b.display());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_never_hold_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let env = [ENV_KEYS[0], ENV_KEYS[1], ("KSAN_LOG", "trace")];
    let p = Proc::spawn(
        &data,
        &["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"],
        &env,
    );
    let s3 = p.s3();
    let h = sign(&s3, "PUT", "/logs", &[], b"");
    let auth = h.get(http::header::AUTHORIZATION).unwrap().to_str().unwrap().to_owned();
    let header_signature = auth.rsplit("Signature=").next().unwrap().to_owned();
    let (status, _, _) = common::raw_to(&s3, "PUT", "/logs", &h, vec![]).await;
    assert_eq!(status, StatusCode::OK);
    // A presigned URL: its signature must not reach the access log.
    let now = time::OffsetDateTime::now_utc();
    let uri: http::Uri = "/logs/k".parse().unwrap();
    let url = ksan_proto::auth::sign::presign_v4(&Method::GET, &uri, &s3, ROOT_AK, ROOT_SK, REGION, now, 60);
    let query_signature = url.rsplit("X-Amz-Signature=").next().unwrap().to_owned();
    let _ = common::raw_to(&s3, "GET", &url, &HeaderMap::new(), vec![]).await;
    // An SSE-C key, as a header and as a query parameter.
    let key = "c2VjcmV0LWtleS1ub2JvZHktbXVzdC1zZWUtMDAwMDA=";
    let sse = [
        ("x-amz-server-side-encryption-customer-algorithm", "AES256"),
        ("x-amz-server-side-encryption-customer-key", key),
        ("x-amz-server-side-encryption-customer-key-md5", "bm9wZQ=="),
    ];
    let _ = common::raw_to(
        &s3,
        "PUT",
        "/logs/c",
        &sign(&s3, "PUT", "/logs/c", &sse, b"x"),
        b"x".to_vec(),
    )
    .await;
    let _ = common::raw_to(
        &s3,
        "GET",
        &format!("/logs/c?x-amz-server-side-encryption-customer-key={key}"),
        &HeaderMap::new(),
        vec![],
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let log = p.stderr();
    assert!(log.contains("/logs"), "the trace log has the requests:\n{log}");
    for secret in [ROOT_SK, header_signature.as_str(), query_signature.as_str(), key] {
        assert!(!log.contains(secret), "{secret} in the log:\n{log}");
    }
    assert!(!log.contains("\u{1b}["), "no colours when stderr is not a terminal");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn root_keys_are_made_and_shown_once_the_server_listens() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // The first start fails: its port is taken. No keys may be made that nobody saw.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().to_string();
    let mut first = Proc::spawn(&data, &["--listen", &port, "--admin-listen", "127.0.0.1:0"], &[]);
    assert!(!first.exit().success());
    assert!(!first.stdout().contains("KSAN_ROOT_SECRET_KEY"), "{}", first.stdout());
    assert!(
        first.stderr().contains(&port),
        "the error names the address: {}",
        first.stderr()
    );
    drop(taken);
    // The next start makes them and prints them.
    let second = Proc::spawn(
        &data,
        &["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"],
        &[],
    );
    let ak = second.wait_for("  KSAN_ROOT_ACCESS_KEY=");
    let sk = second.wait_for("  KSAN_ROOT_SECRET_KEY=");
    let s3 = second.s3();
    assert!(ak.len() >= 16 && sk.len() >= 32);
    drop(second);
    // Later starts keep them and do not print the secret again.
    let third = Proc::spawn(
        &data,
        &["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"],
        &[],
    );
    let _ = third.s3();
    assert!(!third.stdout().contains(&sk));
    let _ = s3;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_errors_name_what_failed() {
    let dir = tempfile::tempdir().unwrap();
    // The data dir is a file.
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let mut p = Proc::spawn(
        &file,
        &["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"],
        &ENV_KEYS,
    );
    assert!(!p.exit().success());
    let err = p.stderr();
    assert!(
        err.contains(&file.display().to_string()) && err.contains("is a file"),
        "{err}"
    );
    // Another ksan already serves the data dir.
    let data = dir.path().join("data");
    let running = Proc::spawn(
        &data,
        &["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"],
        &ENV_KEYS,
    );
    let _ = running.s3();
    let mut second = Proc::spawn(
        &data,
        &["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"],
        &ENV_KEYS,
    );
    assert!(!second.exit().success());
    let err = second.stderr();
    assert!(
        err.contains("already in use by another ksan process") && err.contains(&data.display().to_string()),
        "{err}"
    );
    // TOML keys: the flag names and the plural field names both work.
    for (key, proxy_key) in [("domain", "trusted_proxy"), ("domains", "trusted_proxies")] {
        let cfg = dir.path().join(format!("{key}.toml"));
        std::fs::write(
            &cfg,
            format!("{key} = [\"s3.example\"]\n{proxy_key} = [\"10.0.0.0/8\"]\nlisten = \"127.0.0.1:0\"\nadmin_listen = \"127.0.0.1:0\"\n"),
        )
        .unwrap();
        let d = dir.path().join(format!("data-{key}"));
        let p = Proc::spawn(&d, &["--config", cfg.to_str().unwrap()], &ENV_KEYS);
        let s3 = p.s3();
        // the domain is in force: vhb.s3.example names bucket vhb
        let mut h = HeaderMap::new();
        h.insert(http::header::HOST, HeaderValue::from_static("vhb.s3.example"));
        ksan_proto::auth::sign::sign_v4(
            &Method::PUT,
            &"/".parse().unwrap(),
            &mut h,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            ROOT_AK,
            ROOT_SK,
            REGION,
            time::OffsetDateTime::now_utc(),
        );
        h.insert("content-length", HeaderValue::from(0));
        let (status, _, body) = common::raw_to(&s3, "PUT", "/", &h, vec![]).await;
        assert_eq!(status, StatusCode::OK, "{key}: {}", String::from_utf8_lossy(&body));
        let (status, _, _) = common::raw_to(&s3, "HEAD", "/vhb", &sign(&s3, "HEAD", "/vhb", &[], b""), vec![]).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "{key}: bucket vhb made through the virtual host"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_without_host_is_400() {
    let dir = tempfile::tempdir().unwrap();
    let p = Proc::spawn(
        &dir.path().join("data"),
        &["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"],
        &ENV_KEYS,
    );
    let s3 = p.s3();
    let mut c = tokio::net::TcpStream::connect(&s3).await.unwrap();
    c.write_all(b"GET / HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), c.read(&mut buf))
        .await
        .expect("an answer")
        .unwrap();
    let text = String::from_utf8_lossy(&buf[..n]);
    assert!(text.starts_with("HTTP/1.1 400"), "{text}");
    // HTTP/1.0 needs no Host: it gets the S3 answer (anonymous ListBuckets: 403).
    let mut c = tokio::net::TcpStream::connect(&s3).await.unwrap();
    c.write_all(b"GET / HTTP/1.0\r\n\r\n").await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), c.read_to_end(&mut out)).await;
    let text = String::from_utf8_lossy(&out);
    assert!(
        text.starts_with("HTTP/1.0 403") || text.starts_with("HTTP/1.1 403"),
        "{text}"
    );
}

/// Run `ksan ARGS` against a server's admin port with the root keys; (success, stdout, stderr).
fn cli(admin: &str, args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ksan"))
        .args(args)
        .env("KSAN_ADMIN_ENDPOINT", format!("http://{admin}"))
        .env("KSAN_ROOT_ACCESS_KEY", ROOT_AK)
        .env("KSAN_ROOT_SECRET_KEY", ROOT_SK)
        .output()
        .expect("run ksan");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_who_own_buckets_and_names_that_differ_by_case() {
    let server = common::TestServer::start();
    let admin = server.admin.clone();
    server.create_user_with(
        "bob",
        "BOBKEY0000000001",
        "bob-secret-0001",
        &["--email", "bob@example.com"],
    );
    let bob = server.client_for("BOBKEY0000000001", "bob-secret-0001");
    bob.create_bucket().bucket("bobs-photos").send().await.unwrap();
    // Names and e-mail addresses are unique without regard to case.
    let (ok, _, err) = cli(&admin, &["user", "create", "BOB"]);
    assert!(!ok && err.contains("already exists"), "{err}");
    let (ok, _, err) = cli(&admin, &["user", "create", "robert", "--email", "BOB@example.com"]);
    assert!(!ok && err.contains("e-mail"), "{err}");
    let (ok, _, err) = cli(&admin, &["user", "create", "ROOT"]);
    assert!(!ok && err.contains("already exists"), "{err}");
    // Root sees every bucket and its owner.
    let (ok, out, err) = cli(&admin, &["bucket", "list"]);
    assert!(ok, "{err}");
    assert!(out.lines().any(|l| l == "bobs-photos\tbob"), "{out}");
    // Deleting bob is refused while he owns a bucket, and says what to do.
    let (ok, _, err) = cli(&admin, &["user", "delete", "bob"]);
    assert!(!ok && err.contains("bobs-photos") && err.contains("--force"), "{err}");
    bob.head_bucket().bucket("bobs-photos").send().await.unwrap();
    // With --force the bucket goes to root, who can then use and delete it.
    let (ok, _, err) = cli(&admin, &["user", "delete", "bob", "--force"]);
    assert!(ok, "{err}");
    let (_, out, _) = cli(&admin, &["bucket", "list"]);
    assert!(out.lines().any(|l| l == "bobs-photos\troot"), "{out}");
    let root = server.client();
    let names: Vec<String> = root
        .list_buckets()
        .send()
        .await
        .unwrap()
        .buckets()
        .iter()
        .filter_map(|b| b.name().map(str::to_owned))
        .collect();
    assert!(names.contains(&"bobs-photos".to_owned()), "{names:?}");
    // Root hands it on; the new owner has it.
    server.create_user("carol", "CAROLKEY00000001", "carol-secret-001");
    let (ok, _, err) = cli(&admin, &["bucket", "chown", "bobs-photos", "carol"]);
    assert!(ok, "{err}");
    let carol = server.client_for("CAROLKEY00000001", "carol-secret-001");
    carol.delete_bucket().bucket("bobs-photos").send().await.unwrap();
    // The name is free again.
    root.create_bucket().bucket("bobs-photos").send().await.unwrap();
}
