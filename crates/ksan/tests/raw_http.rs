//! End-to-end where exact bytes matter: signatures, error XML, headers.

mod common;

use common::{REGION, ROOT_AK, ROOT_SK, TestServer, error_code};
use http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};

async fn bucket(server: &TestServer, name: &str) {
    let (status, _, body) = server.signed("PUT", &format!("/{name}"), &[], Vec::new(), None).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_have_s3_shape_and_common_headers() {
    let server = TestServer::start();
    bucket(&server, "bkt").await;
    let (status, headers, body) = server.signed("GET", "/bkt/missing", &[], Vec::new(), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let text = String::from_utf8_lossy(&body);
    assert!(
        text.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code><Message>"),
        "{text}"
    );
    assert!(text.contains("<Key>missing</Key>") && text.contains("<RequestId>") && text.contains("<HostId>"));
    assert_eq!(headers.get("server").unwrap(), "KSAN-GW");
    assert!(headers.contains_key("x-amz-request-id") && headers.contains_key("x-amz-id-2"));
    assert_eq!(headers.get("content-type").unwrap(), "application/xml");

    let (status, headers, body) = server.signed("HEAD", "/bkt/missing", &[], Vec::new(), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.is_empty());
    assert!(headers.contains_key("x-amz-request-id"));

    let (status, _, body) = server.signed("GET", "/nosuchbucket/k", &[], Vec::new(), None).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::NOT_FOUND, "NoSuchBucket".to_owned())
    );
    assert!(String::from_utf8_lossy(&body).contains("<BucketName>nosuchbucket</BucketName>"));

    // an operation that is routed but not built yet answers 501 in XML
    let (status, _, body) = server.signed("GET", "/bkt?lifecycle", &[], Vec::new(), None).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::NOT_IMPLEMENTED, "NotImplemented".to_owned())
    );

    // anonymous requests reach the access check and are denied
    let (status, _, body) = server.raw("GET", "/bkt/missing", &HeaderMap::new(), Vec::new()).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::FORBIDDEN, "AccessDenied".to_owned())
    );
    let (status, _, _) = server.raw("PUT", "/anon-bucket", &HeaderMap::new(), Vec::new()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_the_right_error_and_stores_nothing() {
    let server = TestServer::start();
    bucket(&server, "bkt").await;
    // wrong and malformed Content-MD5
    let (status, _, body) = server
        .signed(
            "PUT",
            "/bkt/k",
            &[("content-md5", "rL0Y20xC+Fzt72VPzMSk2A==")],
            b"abc".to_vec(),
            None,
        )
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_REQUEST, "BadDigest".to_owned())
    );
    let (_, _, body) = server
        .signed(
            "PUT",
            "/bkt/k",
            &[("content-md5", "YWJyYWNhZGFicmE=")],
            b"abc".to_vec(),
            None,
        )
        .await;
    assert_eq!(error_code(&body), "InvalidDigest");
    // a signed payload hash that does not match the body
    let wrong = "0000000000000000000000000000000000000000000000000000000000000000";
    let (status, _, body) = server.signed("PUT", "/bkt/k", &[], b"abc".to_vec(), Some(wrong)).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_REQUEST, "XAmzContentSHA256Mismatch".to_owned())
    );
    let (status, _, _) = server.signed("GET", "/bkt/k", &[], Vec::new(), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing may be stored by failed PUTs");
    // keys longer than 1024 bytes
    let long = "k".repeat(1025);
    let (_, _, body) = server
        .signed("PUT", &format!("/bkt/{long}"), &[], b"x".to_vec(), None)
        .await;
    assert_eq!(error_code(&body), "KeyTooLongError");
    // unsatisfiable range
    server.signed("PUT", "/bkt/r", &[], b"0123456789".to_vec(), None).await;
    let (status, _, body) = server
        .signed("GET", "/bkt/r", &[("range", "bytes=20-30")], Vec::new(), None)
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::RANGE_NOT_SATISFIABLE, "InvalidRange".to_owned())
    );
    let (status, headers, body) = server
        .signed("GET", "/bkt/r", &[("range", "bytes=2-4")], Vec::new(), None)
        .await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(&body[..], b"234");
    assert_eq!(headers.get("content-range").unwrap(), "bytes 2-4/10");
    // malformed XML
    let (_, _, body) = server
        .signed("POST", "/bkt?delete", &[], b"<Delete><Object>".to_vec(), None)
        .await;
    assert_eq!(error_code(&body), "MalformedXML");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signatures_v4_v2_presigned_and_skew() {
    let server = TestServer::start();
    bucket(&server, "bkt").await;
    server.signed("PUT", "/bkt/obj", &[], b"hello".to_vec(), None).await;

    // tampered signature
    let mut h = server.sign_headers("GET", "/bkt/obj", &[], b"", None, time::OffsetDateTime::now_utc());
    let auth = h.get("authorization").unwrap().to_str().unwrap().to_owned();
    let tampered = format!("{}0", &auth[..auth.len() - 1]);
    h.insert("authorization", HeaderValue::from_str(&tampered).unwrap());
    let (status, _, body) = server.raw("GET", "/bkt/obj", &h, Vec::new()).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::FORBIDDEN, "SignatureDoesNotMatch".to_owned())
    );

    // 20 minutes off
    let then = time::OffsetDateTime::now_utc() - time::Duration::minutes(20);
    let h = server.sign_headers("GET", "/bkt/obj", &[], b"", None, then);
    let (status, _, body) = server.raw("GET", "/bkt/obj", &h, Vec::new()).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::FORBIDDEN, "RequestTimeTooSkewed".to_owned())
    );

    // presigned: valid, expired, tampered
    let uri: Uri = "/bkt/obj".parse().unwrap();
    let now = time::OffsetDateTime::now_utc();
    let url = ksan_proto::auth::sign::presign_v4(&Method::GET, &uri, &server.s3, ROOT_AK, ROOT_SK, REGION, now, 300);
    let (status, _, body) = server.raw("GET", &url, &HeaderMap::new(), Vec::new()).await;
    assert_eq!((status, &body[..]), (StatusCode::OK, &b"hello"[..]));
    let old = ksan_proto::auth::sign::presign_v4(
        &Method::GET,
        &uri,
        &server.s3,
        ROOT_AK,
        ROOT_SK,
        REGION,
        now - time::Duration::hours(2),
        60,
    );
    let (status, _, body) = server.raw("GET", &old, &HeaderMap::new(), Vec::new()).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::FORBIDDEN, "AccessDenied".to_owned())
    );
    let (status, _, _) = server
        .raw(
            "GET",
            &url.replace("/bkt/obj", "/bkt/other"),
            &HeaderMap::new(),
            Vec::new(),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // SigV2 header and query
    let mut h = HeaderMap::new();
    h.insert(
        "date",
        HeaderValue::from_str(&httpdate::fmt_http_date(std::time::SystemTime::now())).unwrap(),
    );
    h.insert("host", HeaderValue::from_str(&server.s3).unwrap());
    let v2 = ksan_proto::auth::sign::sign_v2(&Method::GET, &uri, &h, ROOT_AK, ROOT_SK);
    h.insert("authorization", HeaderValue::from_str(&v2).unwrap());
    let (status, _, body) = server.raw("GET", "/bkt/obj", &h, Vec::new()).await;
    assert_eq!((status, &body[..]), (StatusCode::OK, &b"hello"[..]));
    let q = ksan_proto::auth::sign::presign_v2(&Method::GET, &uri, ROOT_AK, ROOT_SK, now.unix_timestamp() + 60);
    let (status, _, _) = server.raw("GET", &q, &HeaderMap::new(), Vec::new()).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_chunk_signatures_are_all_verified() {
    let server = TestServer::start();
    bucket(&server, "bkt").await;
    let data: Vec<u8> = common::pattern(3, 200_000);
    let now = time::OffsetDateTime::now_utc();
    let send = |body: Vec<u8>, headers: HeaderMap| {
        let server = &server;
        async move { server.raw("PUT", "/bkt/streamed", &headers, body).await }
    };
    let headers_for = |decoded: usize| {
        let mut h = server.sign_headers(
            "PUT",
            "/bkt/streamed",
            &[
                ("content-encoding", "aws-chunked"),
                ("x-amz-decoded-content-length", &decoded.to_string()),
            ],
            b"",
            Some("STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
            now,
        );
        let auth = h.get("authorization").unwrap().to_str().unwrap().to_owned();
        let seed = auth.rsplit("Signature=").next().unwrap().to_owned();
        h.remove("content-length");
        (h, seed)
    };
    let amz_date = {
        let f = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
        now.format(&f).unwrap()
    };
    let (h, seed) = headers_for(data.len());
    let body = ksan_proto::auth::sign::chunked_signed_body(&data, 65536, &seed, ROOT_SK, REGION, &amz_date);
    let mut h2 = h.clone();
    h2.insert("content-length", HeaderValue::from(body.len()));
    let (status, _, text) = send(body.clone(), h2).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&text));
    let (_, _, got) = server.signed("GET", "/bkt/streamed", &[], Vec::new(), None).await;
    assert!(got[..] == data[..]);

    // one bad byte in the second chunk's signature: rejected, nothing stored
    server.signed("DELETE", "/bkt/streamed", &[], Vec::new(), None).await;
    let mut bad = body.clone();
    let marker = b"chunk-signature=";
    let pos = bad
        .windows(marker.len())
        .enumerate()
        .filter(|(_, w)| *w == marker)
        .nth(1)
        .map(|(i, _)| i + marker.len())
        .unwrap();
    bad[pos] = if bad[pos] == b'0' { b'1' } else { b'0' };
    let mut h3 = h.clone();
    h3.insert("content-length", HeaderValue::from(bad.len()));
    let (status, _, text) = send(bad, h3).await;
    assert_eq!(
        (status, error_code(&text)),
        (StatusCode::FORBIDDEN, "SignatureDoesNotMatch".to_owned())
    );
    let (status, _, _) = server.signed("GET", "/bkt/streamed", &[], Vec::new(), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn virtual_host_addressing() {
    let server = TestServer::start_with(&["--domain", "s3.test"]);
    bucket(&server, "vhost").await;
    let port = server.s3.rsplit(':').next().unwrap().to_owned();
    let host = format!("vhost.s3.test:{port}");
    let now = time::OffsetDateTime::now_utc();
    // a client that addresses the bucket by Host
    let mut h = server.sign_headers("PUT", "/dir/key", &[("host", host.as_str())], b"via host", None, now);
    h.insert("content-length", HeaderValue::from(8));
    let (status, _, text) = server.raw("PUT", "/dir/key", &h, b"via host".to_vec()).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&text));
    // the same object, path-style
    let (status, _, body) = server.signed("GET", "/vhost/dir/key", &[], Vec::new(), None).await;
    assert_eq!((status, &body[..]), (StatusCode::OK, &b"via host"[..]));
    // listing by Host
    let h = server.sign_headers("GET", "/?list-type=2", &[("host", host.as_str())], b"", None, now);
    let (status, _, body) = server.raw("GET", "/?list-type=2", &h, Vec::new()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&body).contains("<Key>dir/key</Key>"));
}
