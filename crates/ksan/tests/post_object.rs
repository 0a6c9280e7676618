//! PostObject as browsers and SDKs' presigned POSTs send it: a form signed with SigV4 by this
//! test (its own HMAC, not ksan's code), built by hand as multipart/form-data and sent raw;
//! success codes, redirects, `${filename}`, every policy violation refused with nothing
//! stored, anonymous posts, and a 100 MiB upload with the server's memory flat.

mod common;

use common::*;
use http::{HeaderMap, HeaderValue, StatusCode};

const BOUNDARY: &str = "----ksanformboundary7MA4YWxkTrZu0gW";

fn form(fields: &[(String, String)], filename: &str, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 4096);
    for (k, v) in fields {
        out.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n").as_bytes(),
        );
    }
    out.extend_from_slice(
        format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
    );
    out.extend_from_slice(data);
    out.extend_from_slice(
        format!(
            "\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"after\"\r\n\r\nignored\r\n--{BOUNDARY}--\r\n"
        )
        .as_bytes(),
    );
    out
}

async fn post(server: &TestServer, bucket: &str, body: Vec<u8>) -> (StatusCode, HeaderMap, bytes::Bytes) {
    let mut h = HeaderMap::new();
    h.insert(
        "content-type",
        HeaderValue::from_str(&format!("multipart/form-data; boundary={BOUNDARY}")).unwrap(),
    );
    h.insert("content-length", HeaderValue::from(body.len()));
    server.raw("POST", &format!("/{bucket}"), &h, body).await
}

fn with(mut fields: Vec<(String, String)>, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    for (k, v) in extra {
        fields.insert(0, (k.to_string(), v.to_string()));
    }
    fields
}

const LATER: &str = "2099-01-01T00:00:00Z";

/// What is tried, the form's fields, the file, and the status and code expected.
type Violation = (&'static str, Vec<(String, String)>, Vec<u8>, u16, &'static str);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presigned_posts_upload_and_violations_are_refused() {
    let server = TestServer::start();
    let c = server.client();
    c.create_bucket().bucket("forms").send().await.unwrap();
    let base = r#"{"bucket": "forms"}, ["starts-with", "$key", "uploads/"], ["starts-with", "$Content-Type", "text/"],
        ["content-length-range", 1, 1048576], ["starts-with", "$x-amz-meta-who", ""]"#;
    // 201 with the PostResponse document; ${filename}; fields after the file ignored.
    let conditions = format!(r#"{base}, {{"success_action_status": "201"}}"#);
    let fields = with(
        presigned_post(&conditions, LATER, ROOT_SK),
        &[
            ("key", "uploads/${filename}"),
            ("Content-Type", "text/plain"),
            ("x-amz-meta-who", "browser"),
            ("success_action_status", "201"),
        ],
    );
    let (status, h, body) = post(&server, "forms", form(&fields, "notes.txt", b"hello form")).await;
    assert_eq!(status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&body));
    let text = String::from_utf8_lossy(&body);
    assert!(
        text.contains("<Key>uploads/notes.txt</Key>") && text.contains("<Bucket>forms</Bucket>"),
        "{text}"
    );
    assert!(h.contains_key("etag"));
    let got = c
        .get_object()
        .bucket("forms")
        .key("uploads/notes.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(got.content_type(), Some("text/plain"));
    assert_eq!(
        got.metadata().and_then(|m| m.get("who")).map(String::as_str),
        Some("browser")
    );
    assert_eq!(&got.body.collect().await.unwrap().into_bytes()[..], b"hello form");

    // A redirect: 303 to the target with bucket, key and ETag.
    let conditions = format!(r#"{base}, ["starts-with", "$success_action_redirect", "https://app.example/"]"#);
    let fields = with(
        presigned_post(&conditions, LATER, ROOT_SK),
        &[
            ("key", "uploads/r.txt"),
            ("Content-Type", "text/plain"),
            ("x-amz-meta-who", "x"),
            ("success_action_redirect", "https://app.example/done"),
        ],
    );
    let (status, h, _) = post(&server, "forms", form(&fields, "r.txt", b"redirected")).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let location = h.get("location").unwrap().to_str().unwrap();
    assert!(
        location.starts_with("https://app.example/done?bucket=forms&key=uploads%2Fr%2Etxt&etag=%22"),
        "{location}"
    );
    // Default: 204.
    let fields = with(
        presigned_post(base, LATER, ROOT_SK),
        &[
            ("key", "uploads/plain.txt"),
            ("Content-Type", "text/plain"),
            ("x-amz-meta-who", "x"),
        ],
    );
    assert_eq!(
        post(&server, "forms", form(&fields, "p", b"x")).await.0,
        StatusCode::NO_CONTENT
    );

    // Every violation is refused, and nothing is stored.
    let good = [("Content-Type", "text/plain"), ("x-amz-meta-who", "x")];
    let cases: Vec<Violation> = vec![
        (
            "expired",
            with(
                presigned_post(base, "2001-01-01T00:00:00Z", ROOT_SK),
                &[("key", "uploads/a"), good[0], good[1]],
            ),
            b"x".to_vec(),
            403,
            "AccessDenied",
        ),
        (
            "key outside the prefix",
            with(
                presigned_post(base, LATER, ROOT_SK),
                &[("key", "other/a"), good[0], good[1]],
            ),
            b"x".to_vec(),
            403,
            "AccessDenied",
        ),
        (
            "a field no condition names",
            with(
                presigned_post(base, LATER, ROOT_SK),
                &[("key", "uploads/a"), good[0], good[1], ("x-amz-meta-extra", "1")],
            ),
            b"x".to_vec(),
            403,
            "AccessDenied",
        ),
        (
            "a condition's field missing",
            with(presigned_post(base, LATER, ROOT_SK), &[("key", "uploads/a"), good[1]]),
            b"x".to_vec(),
            403,
            "AccessDenied",
        ),
        (
            "too large",
            with(
                presigned_post(base, LATER, ROOT_SK),
                &[("key", "uploads/a"), good[0], good[1]],
            ),
            vec![7u8; 1048577],
            400,
            "EntityTooLarge",
        ),
        (
            "too small",
            with(
                presigned_post(base, LATER, ROOT_SK),
                &[("key", "uploads/a"), good[0], good[1]],
            ),
            Vec::new(),
            400,
            "EntityTooSmall",
        ),
        (
            "another secret",
            with(
                presigned_post(base, LATER, "not-the-secret"),
                &[("key", "uploads/a"), good[0], good[1]],
            ),
            b"x".to_vec(),
            403,
            "SignatureDoesNotMatch",
        ),
        (
            "no key",
            with(presigned_post(base, LATER, ROOT_SK), &[good[0], good[1]]),
            b"x".to_vec(),
            400,
            "InvalidArgument",
        ),
    ];
    for (what, fields, data, status, code) in cases {
        let (s, _, body) = post(&server, "forms", form(&fields, "a", &data)).await;
        assert_eq!((s.as_u16(), error_code(&body).as_str()), (status, code), "{what}");
    }
    let mut unknown = presigned_post(base, LATER, ROOT_SK);
    for (k, v) in unknown.iter_mut() {
        if k == "x-amz-credential" {
            *v = v.replace(ROOT_AK, "NOSUCHKEY00000000000");
        }
    }
    let (s, _, body) = post(
        &server,
        "forms",
        form(&with(unknown, &[("key", "uploads/a"), good[0], good[1]]), "a", b"x"),
    )
    .await;
    assert_eq!((s.as_u16(), error_code(&body).as_str()), (403, "InvalidAccessKeyId"));
    let listed = c.list_objects_v2().bucket("forms").send().await.unwrap();
    let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["uploads/notes.txt", "uploads/plain.txt", "uploads/r.txt"]);

    // Anonymous: into a public-write bucket only.
    let anon = vec![("key".to_owned(), "anon.txt".to_owned())];
    let (s, _, _) = post(&server, "forms", form(&anon, "a", b"x")).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    c.create_bucket()
        .bucket("dropbox")
        .acl(aws_sdk_s3::types::BucketCannedAcl::PublicReadWrite)
        .send()
        .await
        .unwrap();
    let (s, _, _) = post(&server, "dropbox", form(&anon, "a", b"anonymous")).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_100_mib_post_keeps_memory_flat() {
    let server = TestServer::start();
    let c = server.client();
    c.create_bucket().bucket("big").send().await.unwrap();
    let pid = server.pid().unwrap();
    let peak = || peak_rss_kib(pid);
    let before = peak();
    let data = pattern(7, 100 * 1024 * 1024);
    let fields = with(
        presigned_post(
            r#"{"bucket": "big"}, {"key": "blob"}, ["content-length-range", 0, 209715200]"#,
            LATER,
            ROOT_SK,
        ),
        &[("key", "blob")],
    );
    let (status, _, body) = post(&server, "big", form(&fields, "blob", &data)).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{}", String::from_utf8_lossy(&body));
    let grown = peak().saturating_sub(before) / 1024;
    println!("server peak RSS grew by {grown} MiB for a 100 MiB POST");
    assert!(grown < 64, "server peak RSS grew by {grown} MiB");
    let got = c.get_object().bucket("big").key("blob").send().await.unwrap();
    assert_eq!(got.content_length(), Some(data.len() as i64));
    let back = got.body.collect().await.unwrap().into_bytes();
    assert!(back == data, "the bytes read back differ");
}
