//! A real browser as the client: headless Chromium (Debian `chromium` + `chromium-driver`),
//! driven over WebDriver, loads a page from one origin whose script uploads to and downloads
//! from ksan (another origin) with `fetch()` and presigned URLs. Under a CORS rule for the
//! page's origin both work and the exposed ETag is readable; without one the browser refuses.
//! A second page posts a form (FormData with a file) to a presigned POST and the object reads
//! back byte-identical. Skipped, saying why, where Chromium or ChromeDriver is not installed
//! (`.ci/run` installs them).

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_s3::types::{CorsConfiguration, CorsRule};
use common::*;
use http::{Method, Uri};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// The page: it runs `run(putUrl, getUrl)` when asked and reports what the browser saw.
const PAGE: &str = r#"<!doctype html>
<html><head><title>uploader</title></head><body>
<script>
async function postForm(url, fields) {
  try {
    const fd = new FormData();
    for (const [k, v] of fields) fd.append(k, v);
    const bytes = new Uint8Array(300000);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7) % 251;
    fd.append("file", new Blob([bytes]), "photo.bin");
    const r = await fetch(url, { method: "POST", body: fd });
    return { status: r.status, text: await r.text() };
  } catch (e) {
    return { error: String(e) };
  }
}
async function run(putUrl, getUrl) {
  try {
    const put = await fetch(putUrl, { method: "PUT", body: "hello from the browser",
                                      headers: { "Content-Type": "text/plain" } });
    const get = await fetch(getUrl);
    return { put: put.status, etag: put.headers.get("ETag"), get: get.status, text: await get.text() };
  } catch (e) {
    return { error: String(e) };
  }
}
</script>
</body></html>"#;

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A one-page web server for the page's origin.
async fn serve_page() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let mut got = Vec::new();
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                let resp = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{PAGE}",
                    PAGE.len()
                );
                let _ = s.write_all(resp.as_bytes()).await;
            });
        }
    });
    format!("http://{addr}")
}

async fn start_browser(profile: &Path) -> (Driver, fantoccini::Client) {
    let port = free_port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let driver = Driver(child);
    let url = format!("http://127.0.0.1:{port}");
    let args = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([format!("--user-data-dir={}", profile.display())])
    .collect::<Vec<_>>();
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({ "binary": CHROMIUM, "args": args }),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match fantoccini::ClientBuilder::new(connector)
            .capabilities(caps.clone())
            .connect(&url)
            .await
        {
            Ok(client) => return (driver, client),
            Err(e) if Instant::now() > deadline => panic!("no WebDriver session: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// The bucket's one CORS rule: GET and PUT from `origin`, any header, ETag exposed.
async fn allow_origin(c: &aws_sdk_s3::Client, origin: &str) {
    let rule = CorsRule::builder()
        .allowed_origins(origin)
        .allowed_methods("GET")
        .allowed_methods("PUT")
        .allowed_headers("*")
        .expose_headers("ETag")
        .build()
        .unwrap();
    c.put_bucket_cors()
        .bucket("uploads")
        .cors_configuration(CorsConfiguration::builder().cors_rules(rule).build().unwrap())
        .send()
        .await
        .unwrap();
}

async fn upload_and_download(browser: &fantoccini::Client, put: &str, get: &str) -> serde_json::Value {
    browser
        .execute_async(
            "const done = arguments[arguments.length - 1]; run(arguments[0], arguments[1]).then(done);",
            vec![put.into(), get.into()],
        )
        .await
        .expect("script")
}

#[tokio::test]
async fn a_page_from_another_origin_uploads_and_downloads() {
    if !Path::new(CHROMIUM).exists() || !Path::new(CHROMEDRIVER).exists() {
        eprintln!(
            "SKIPPED: {CHROMIUM} or {CHROMEDRIVER} is not installed (Debian: apt-get install chromium chromium-driver)"
        );
        return;
    }
    let server = TestServer::start();
    let c = server.client();
    c.create_bucket().bucket("uploads").send().await.unwrap();
    let page = serve_page().await;
    let profile = tempfile::tempdir().unwrap();
    let (_driver, browser) = start_browser(profile.path()).await;
    browser.goto(&format!("{page}/")).await.expect("open page");

    let presign = |method: Method, key: &str| {
        let uri: Uri = format!("/uploads/{key}").parse().unwrap();
        let now = time::OffsetDateTime::now_utc();
        let path = ksan_proto::auth::sign::presign_v4(&method, &uri, &server.s3, ROOT_AK, ROOT_SK, REGION, now, 600);
        format!("http://{}{path}", server.s3)
    };

    // Without a CORS rule the browser refuses to send the upload (its preflight is 403).
    let seen = upload_and_download(&browser, &presign(Method::PUT, "a.txt"), &presign(Method::GET, "a.txt")).await;
    assert!(
        seen["error"].as_str().is_some_and(|e| e.contains("Failed to fetch")),
        "without CORS: {seen}"
    );
    assert!(c.head_object().bucket("uploads").key("a.txt").send().await.is_err());

    // A rule for the page's origin (and no other).
    allow_origin(&c, page.as_str()).await;
    let seen = upload_and_download(&browser, &presign(Method::PUT, "b.txt"), &presign(Method::GET, "b.txt")).await;
    assert_eq!(seen["put"], 200, "{seen}");
    assert_eq!(seen["get"], 200, "{seen}");
    assert_eq!(seen["text"], "hello from the browser", "{seen}");
    let stored = c.get_object().bucket("uploads").key("b.txt").send().await.unwrap();
    let etag = stored.e_tag().unwrap().to_owned();
    assert_eq!(seen["etag"], etag.as_str(), "the exposed ETag is readable: {seen}");
    let body = stored.body.collect().await.unwrap().into_bytes();
    assert_eq!(&body[..], b"hello from the browser");

    // A rule for some other origin only: refused again.
    allow_origin(&c, "https://elsewhere.example").await;
    let seen = upload_and_download(&browser, &presign(Method::PUT, "c.txt"), &presign(Method::GET, "b.txt")).await;
    assert!(
        seen["error"].as_str().is_some_and(|e| e.contains("Failed to fetch")),
        "other origin's rule: {seen}"
    );
    assert!(c.head_object().bucket("uploads").key("c.txt").send().await.is_err());
    browser.close().await.expect("close browser");
}

#[tokio::test]
async fn a_page_posts_a_form_upload() {
    if !Path::new(CHROMIUM).exists() || !Path::new(CHROMEDRIVER).exists() {
        eprintln!(
            "SKIPPED: {CHROMIUM} or {CHROMEDRIVER} is not installed (Debian: apt-get install chromium chromium-driver)"
        );
        return;
    }
    let server = TestServer::start();
    let c = server.client();
    c.create_bucket().bucket("uploads").send().await.unwrap();
    let page = serve_page().await;
    // The page's origin may POST and read the answer.
    let rule = CorsRule::builder()
        .allowed_origins(page.as_str())
        .allowed_methods("POST")
        .build()
        .unwrap();
    c.put_bucket_cors()
        .bucket("uploads")
        .cors_configuration(CorsConfiguration::builder().cors_rules(rule).build().unwrap())
        .send()
        .await
        .unwrap();
    let profile = tempfile::tempdir().unwrap();
    let (_driver, browser) = start_browser(profile.path()).await;
    browser.goto(&format!("{page}/")).await.expect("open page");
    let mut fields = presigned_post(
        r#"{"bucket": "uploads"}, ["starts-with", "$key", "forms/"], {"success_action_status": "201"}"#,
        "2099-01-01T00:00:00Z",
        ROOT_SK,
    );
    fields.insert(0, ("key".into(), "forms/${filename}".into()));
    fields.push(("success_action_status".into(), "201".into()));
    let pairs: Vec<serde_json::Value> = fields.iter().map(|(k, v)| serde_json::json!([k, v])).collect();
    let seen = browser
        .execute_async(
            "const done = arguments[arguments.length - 1]; postForm(arguments[0], arguments[1]).then(done);",
            vec![
                format!("http://{}/uploads", server.s3).into(),
                serde_json::Value::Array(pairs),
            ],
        )
        .await
        .expect("script");
    assert_eq!(seen["status"], 201, "{seen}");
    assert!(
        seen["text"]
            .as_str()
            .is_some_and(|t| t.contains("<Key>forms/photo.bin</Key>")),
        "{seen}"
    );
    let got = c
        .get_object()
        .bucket("uploads")
        .key("forms/photo.bin")
        .send()
        .await
        .unwrap();
    let body = got.body.collect().await.unwrap().into_bytes();
    let expected: Vec<u8> = (0..300_000u32).map(|i| ((i * 7) % 251) as u8).collect();
    assert!(body[..] == expected[..], "the object differs from what the page sent");
    browser.close().await.expect("close browser");
}
