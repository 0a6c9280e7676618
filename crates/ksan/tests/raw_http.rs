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
    let (status, _, body) = server.signed("GET", "/bkt?logging", &[], Vec::new(), None).await;
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
    // A different last hex digit (replacing it with a fixed one left it unchanged 1 time in 16).
    let last = if auth.ends_with('0') { '1' } else { '0' };
    let tampered = format!("{}{last}", &auth[..auth.len() - 1]);
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

fn assert_common_headers(what: &str, headers: &HeaderMap) -> String {
    assert_eq!(
        headers.get("server").map(|v| v.as_bytes()),
        Some(&b"KSAN-GW"[..]),
        "{what}: Server header"
    );
    let id = headers
        .get("x-amz-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    assert!(!id.is_empty(), "{what}: x-amz-request-id");
    assert!(
        headers.get("x-amz-id-2").is_some_and(|v| !v.is_empty()),
        "{what}: x-amz-id-2"
    );
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_carries_the_common_headers() {
    let server = TestServer::start();
    let mut ids = Vec::new();
    let mut check = |what: &str, got: (StatusCode, HeaderMap, bytes::Bytes), want: u16| {
        assert_eq!(got.0.as_u16(), want, "{what}: {}", String::from_utf8_lossy(&got.2));
        ids.push(assert_common_headers(what, &got.1));
        got
    };
    check(
        "create bucket",
        server.signed("PUT", "/bkt", &[], Vec::new(), None).await,
        200,
    );
    let (_, h, _) = check(
        "put object",
        server.signed("PUT", "/bkt/k", &[], b"0123456789".to_vec(), None).await,
        200,
    );
    let etag = h.get("etag").unwrap().to_str().unwrap().to_owned();
    assert_eq!(etag, format!("\"{}\"", common::md5_hex(b"0123456789")));
    check("get", server.signed("GET", "/bkt/k", &[], Vec::new(), None).await, 200);
    check(
        "ranged get",
        server
            .signed("GET", "/bkt/k", &[("range", "bytes=1-2")], Vec::new(), None)
            .await,
        206,
    );
    let (_, h, body) = check(
        "head",
        server.signed("HEAD", "/bkt/k", &[], Vec::new(), None).await,
        200,
    );
    assert!(body.is_empty());
    assert_eq!(h.get("content-length").unwrap(), "10");
    assert_eq!(h.get("accept-ranges").unwrap(), "bytes");
    assert!(h.get("last-modified").is_some());
    let (_, _, body) = check(
        "not modified",
        server
            .signed("GET", "/bkt/k", &[("if-none-match", etag.as_str())], Vec::new(), None)
            .await,
        304,
    );
    assert!(body.is_empty());
    let (_, _, body) = check(
        "precondition failed",
        server
            .signed("GET", "/bkt/k", &[("if-match", "\"x\"")], Vec::new(), None)
            .await,
        412,
    );
    assert_eq!(error_code(&body), "PreconditionFailed");
    check(
        "list buckets",
        server.signed("GET", "/", &[], Vec::new(), None).await,
        200,
    );
    check(
        "list v2",
        server.signed("GET", "/bkt?list-type=2", &[], Vec::new(), None).await,
        200,
    );
    check(
        "head bucket",
        server.signed("HEAD", "/bkt", &[], Vec::new(), None).await,
        200,
    );
    let (_, _, body) = check(
        "head missing bucket",
        server.signed("HEAD", "/nobkt", &[], Vec::new(), None).await,
        404,
    );
    assert!(body.is_empty());
    check(
        "delete",
        server.signed("DELETE", "/bkt/k", &[], Vec::new(), None).await,
        204,
    );
    check(
        "delete again",
        server.signed("DELETE", "/bkt/k", &[], Vec::new(), None).await,
        204,
    );
    check(
        "missing",
        server.signed("GET", "/bkt/k", &[], Vec::new(), None).await,
        404,
    );
    check(
        "not implemented",
        server.signed("GET", "/bkt?logging", &[], Vec::new(), None).await,
        501,
    );
    check(
        "anonymous",
        server.raw("GET", "/", &HeaderMap::new(), Vec::new()).await,
        403,
    );
    let mut bad = HeaderMap::new();
    bad.insert("authorization", HeaderValue::from_static("AWS4-HMAC-SHA256 garbage"));
    check(
        "malformed authorization",
        server.raw("GET", "/bkt", &bad, Vec::new()).await,
        400,
    );
    check(
        "delete bucket",
        server.signed("DELETE", "/bkt", &[], Vec::new(), None).await,
        204,
    );
    // request ids are unique
    let mut sorted = ids.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), ids.len(), "request ids repeat: {ids:?}");

    // the admin listener answers health checks
    let (status, _, _) = server.admin_raw("GET", "/health").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_auth_cases() {
    let server = TestServer::start();
    bucket(&server, "bkt").await;
    let now = time::OffsetDateTime::now_utc();

    // UNSIGNED-PAYLOAD in a header-signed request
    let (status, _, body) = server
        .signed(
            "PUT",
            "/bkt/unsigned",
            &[],
            b"no hash".to_vec(),
            Some("UNSIGNED-PAYLOAD"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let (_, _, body) = server.signed("GET", "/bkt/unsigned", &[], Vec::new(), None).await;
    assert_eq!(&body[..], b"no hash");

    // a header-signed request with no x-amz-content-sha256 at all
    let mut h = server.sign_headers("GET", "/bkt/unsigned", &[], b"", None, now);
    h.remove("x-amz-content-sha256");
    let (status, _, _) = server.raw("GET", "/bkt/unsigned", &h, Vec::new()).await;
    assert!(status.is_client_error(), "{status}");

    // presigned PUT, then presigned GET of what it stored
    let uri: Uri = "/bkt/presigned-put".parse().unwrap();
    let url = ksan_proto::auth::sign::presign_v4(&Method::PUT, &uri, &server.s3, ROOT_AK, ROOT_SK, REGION, now, 300);
    let mut h = HeaderMap::new();
    h.insert("content-length", HeaderValue::from(6));
    let (status, _, body) = server.raw("PUT", &url, &h, b"by url".to_vec()).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let url = ksan_proto::auth::sign::presign_v4(&Method::GET, &uri, &server.s3, ROOT_AK, ROOT_SK, REGION, now, 300);
    let (status, _, body) = server.raw("GET", &url, &HeaderMap::new(), Vec::new()).await;
    assert_eq!((status, &body[..]), (StatusCode::OK, &b"by url"[..]));
    // a presigned GET URL does not authorize a PUT
    let (status, _, _) = server.raw("PUT", &url, &h, b"evil!!".to_vec()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // an expiry beyond a week is refused
    let long =
        ksan_proto::auth::sign::presign_v4(&Method::GET, &uri, &server.s3, ROOT_AK, ROOT_SK, REGION, now, 609_901);
    // as a malformed query (400), as S3 answers; ceph's s3-tests expect 403 here
    let (status, _, body) = server.raw("GET", &long, &HeaderMap::new(), Vec::new()).await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (StatusCode::BAD_REQUEST, "AuthorizationQueryParametersError")
    );
    for bad in ["-7", "a-week", "1e3"] {
        let url = url.replace("X-Amz-Expires=300", &format!("X-Amz-Expires={bad}"));
        let (status, _, body) = server.raw("GET", &url, &HeaderMap::new(), Vec::new()).await;
        assert_eq!(
            (status, error_code(&body).as_str()),
            (StatusCode::BAD_REQUEST, "AuthorizationQueryParametersError"),
            "{bad}"
        );
    }
    // a tampered signature in the query
    let sig_at = url.find("X-Amz-Signature=").unwrap() + "X-Amz-Signature=".len();
    let mut tampered = url.clone().into_bytes();
    tampered[sig_at] = if tampered[sig_at] == b'a' { b'b' } else { b'a' };
    let tampered = String::from_utf8(tampered).unwrap();
    let (status, _, body) = server.raw("GET", &tampered, &HeaderMap::new(), Vec::new()).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::FORBIDDEN, "SignatureDoesNotMatch".to_owned())
    );

    // unknown access key
    let mut h = server.sign_headers("GET", "/bkt/unsigned", &[], b"", None, now);
    let auth = h
        .get("authorization")
        .unwrap()
        .to_str()
        .unwrap()
        .replace(ROOT_AK, "AKNOBODY000000000000");
    h.insert("authorization", HeaderValue::from_str(&auth).unwrap());
    let (status, _, body) = server.raw("GET", "/bkt/unsigned", &h, Vec::new()).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::FORBIDDEN, "InvalidAccessKeyId".to_owned())
    );
    // a signed header changed after signing
    let mut h = server.sign_headers("GET", "/bkt/unsigned", &[("range", "bytes=0-1")], b"", None, now);
    h.insert("range", HeaderValue::from_static("bytes=0-2"));
    let (status, _, body) = server.raw("GET", "/bkt/unsigned", &h, Vec::new()).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::FORBIDDEN, "SignatureDoesNotMatch".to_owned())
    );

    // SigV2: wrong secret, and an expired query signature
    let get_uri: Uri = "/bkt/unsigned".parse().unwrap();
    let mut h = HeaderMap::new();
    h.insert(
        "date",
        HeaderValue::from_str(&httpdate::fmt_http_date(std::time::SystemTime::now())).unwrap(),
    );
    h.insert("host", HeaderValue::from_str(&server.s3).unwrap());
    let v2 = ksan_proto::auth::sign::sign_v2(&Method::GET, &get_uri, &h, ROOT_AK, "not-the-secret");
    h.insert("authorization", HeaderValue::from_str(&v2).unwrap());
    let (status, _, body) = server.raw("GET", "/bkt/unsigned", &h, Vec::new()).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::FORBIDDEN, "SignatureDoesNotMatch".to_owned())
    );
    let q = ksan_proto::auth::sign::presign_v2(&Method::GET, &get_uri, ROOT_AK, ROOT_SK, now.unix_timestamp() - 60);
    let (status, _, body) = server.raw("GET", &q, &HeaderMap::new(), Vec::new()).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::FORBIDDEN, "AccessDenied".to_owned())
    );
    // SigV2 PUT with Content-MD5 and Content-Type in the string to sign
    let put_uri: Uri = "/bkt/v2put".parse().unwrap();
    let payload = b"signed the old way".to_vec();
    let mut h = HeaderMap::new();
    h.insert(
        "date",
        HeaderValue::from_str(&httpdate::fmt_http_date(std::time::SystemTime::now())).unwrap(),
    );
    h.insert("host", HeaderValue::from_str(&server.s3).unwrap());
    h.insert("content-type", HeaderValue::from_static("text/plain"));
    {
        use md5::Digest;
        let md5 = common::b64(&md5::Md5::digest(&payload));
        h.insert("content-md5", HeaderValue::from_str(&md5).unwrap());
    }
    h.insert("x-amz-meta-via", HeaderValue::from_static("v2"));
    let v2 = ksan_proto::auth::sign::sign_v2(&Method::PUT, &put_uri, &h, ROOT_AK, ROOT_SK);
    h.insert("authorization", HeaderValue::from_str(&v2).unwrap());
    h.insert("content-length", HeaderValue::from(payload.len()));
    let (status, _, body) = server.raw("PUT", "/bkt/v2put", &h, payload.clone()).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let (_, h, body) = server.signed("GET", "/bkt/v2put", &[], Vec::new(), None).await;
    assert_eq!(&body[..], &payload[..]);
    assert_eq!(h.get("x-amz-meta-via").unwrap(), "v2");
    assert_eq!(h.get("content-type").unwrap(), "text/plain");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trailing_checksums_and_broken_streams_store_nothing() {
    let server = TestServer::start();
    bucket(&server, "bkt").await;
    let data = common::pattern(11, 150_000);
    let crc = common::b64(&common::crc32(&data).to_be_bytes());
    let now = time::OffsetDateTime::now_utc();
    let unsigned_trailer = |body_len: usize, decoded: usize, key: &str| {
        let mut h = server.sign_headers(
            "PUT",
            &format!("/bkt/{key}"),
            &[
                ("content-encoding", "aws-chunked"),
                ("x-amz-decoded-content-length", &decoded.to_string()),
                ("x-amz-trailer", "x-amz-checksum-crc32"),
            ],
            b"",
            Some("STREAMING-UNSIGNED-PAYLOAD-TRAILER"),
            now,
        );
        h.insert("content-length", HeaderValue::from(body_len));
        h
    };

    // a good trailer: stored, and the checksum is kept
    let body = ksan_proto::auth::sign::chunked_unsigned_body(&data, 65536, &[("x-amz-checksum-crc32", &crc)]);
    let h = unsigned_trailer(body.len(), data.len(), "trailer-ok");
    let (status, h_resp, text) = server.raw("PUT", "/bkt/trailer-ok", &h, body).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&text));
    assert_eq!(
        h_resp
            .get("x-amz-checksum-crc32")
            .map(|v| v.to_str().unwrap().to_owned()),
        Some(crc.clone())
    );
    let (_, h_get, got) = server
        .signed(
            "GET",
            "/bkt/trailer-ok",
            &[("x-amz-checksum-mode", "ENABLED")],
            Vec::new(),
            None,
        )
        .await;
    assert!(got[..] == data[..]);
    assert_eq!(h_get.get("x-amz-checksum-crc32").unwrap().to_str().unwrap(), crc);
    // aws-chunked is not stored as the object's Content-Encoding
    assert!(
        h_get.get("content-encoding").is_none(),
        "{:?}",
        h_get.get("content-encoding")
    );

    // a wrong trailer: BadDigest, nothing stored
    let body = ksan_proto::auth::sign::chunked_unsigned_body(&data, 65536, &[("x-amz-checksum-crc32", "AAAAAA==")]);
    let h = unsigned_trailer(body.len(), data.len(), "trailer-bad");
    let (status, _, text) = server.raw("PUT", "/bkt/trailer-bad", &h, body).await;
    assert_eq!(
        (status, error_code(&text)),
        (StatusCode::BAD_REQUEST, "BadDigest".to_owned())
    );
    let (status, _, _) = server.signed("GET", "/bkt/trailer-bad", &[], Vec::new(), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // a stream that carries fewer bytes than x-amz-decoded-content-length: rejected, nothing stored
    let body = ksan_proto::auth::sign::chunked_unsigned_body(&data, 65536, &[("x-amz-checksum-crc32", &crc)]);
    let h = unsigned_trailer(body.len(), data.len() + 10, "short");
    let (status, _, text) = server.raw("PUT", "/bkt/short", &h, body).await;
    assert!(status.is_client_error(), "{status}: {}", String::from_utf8_lossy(&text));
    let (status, _, _) = server.signed("GET", "/bkt/short", &[], Vec::new(), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // a checksum header on a plain PUT that does not match: BadDigest, nothing stored
    let (status, _, text) = server
        .signed(
            "PUT",
            "/bkt/plain-bad",
            &[("x-amz-checksum-crc32", "AAAAAA==")],
            data.clone(),
            None,
        )
        .await;
    assert_eq!(
        (status, error_code(&text)),
        (StatusCode::BAD_REQUEST, "BadDigest".to_owned())
    );
    let (status, _, _) = server.signed("GET", "/bkt/plain-bad", &[], Vec::new(), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // and one that matches is stored
    let (status, _, text) = server
        .signed(
            "PUT",
            "/bkt/plain-ok",
            &[("x-amz-checksum-crc32", &crc)],
            data.clone(),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&text));

    // the right Content-MD5 is accepted
    let md5 = {
        use md5::Digest;
        common::b64(&md5::Md5::digest(&data))
    };
    let (status, _, _) = server
        .signed("PUT", "/bkt/md5-ok", &[("content-md5", &md5)], data.clone(), None)
        .await;
    assert_eq!(status, StatusCode::OK);

    // a signed stream whose last (empty) chunk is missing: rejected, nothing stored
    let mut h = server.sign_headers(
        "PUT",
        "/bkt/truncated",
        &[
            ("content-encoding", "aws-chunked"),
            ("x-amz-decoded-content-length", &data.len().to_string()),
        ],
        b"",
        Some("STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
        now,
    );
    let auth = h.get("authorization").unwrap().to_str().unwrap().to_owned();
    let seed = auth.rsplit("Signature=").next().unwrap().to_owned();
    let amz_date = h.get("x-amz-date").unwrap().to_str().unwrap().to_owned();
    let full = ksan_proto::auth::sign::chunked_signed_body(&data, 65536, &seed, ROOT_SK, REGION, &amz_date);
    let marker = b"\r\n0;chunk-signature=";
    let last = full.windows(marker.len()).rposition(|w| w == marker).unwrap();
    let cut = full[..last + 2].to_vec();
    assert!(cut.ends_with(b"\r\n") && full.len() - cut.len() == 18 + 64 + 4);
    h.insert("content-length", HeaderValue::from(cut.len()));
    let (status, _, text) = server.raw("PUT", "/bkt/truncated", &h, cut).await;
    assert!(status.is_client_error(), "{status}: {}", String::from_utf8_lossy(&text));
    let (status, _, _) = server.signed("GET", "/bkt/truncated", &[], Vec::new(), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn range_edges_and_key_lengths() {
    let server = TestServer::start();
    bucket(&server, "bkt").await;
    server.signed("PUT", "/bkt/r", &[], b"0123456789".to_vec(), None).await;
    for (range, status, body, content_range) in [
        ("bytes=0-0", 206, &b"0"[..], Some("bytes 0-0/10")),
        ("bytes=9-9", 206, b"9", Some("bytes 9-9/10")),
        ("bytes=5-100", 206, b"56789", Some("bytes 5-9/10")),
        ("bytes=-3", 206, b"789", Some("bytes 7-9/10")),
        ("bytes=-100", 206, b"0123456789", Some("bytes 0-9/10")),
        ("bytes=7-", 206, b"789", Some("bytes 7-9/10")),
        // a Range header that is not a byte range is ignored
        ("pages=1-2", 200, b"0123456789", None),
        ("bytes=10-", 416, b"", None),
    ] {
        let (st, h, got) = server
            .signed("GET", "/bkt/r", &[("range", range)], Vec::new(), None)
            .await;
        assert_eq!(st.as_u16(), status, "{range}: {}", String::from_utf8_lossy(&got));
        if status == 416 {
            assert_eq!(error_code(&got), "InvalidRange", "{range}");
            continue;
        }
        assert_eq!(&got[..], body, "{range}");
        assert_eq!(
            h.get("content-range").map(|v| v.to_str().unwrap()),
            content_range,
            "{range}"
        );
        assert_eq!(
            h.get("content-length").unwrap().to_str().unwrap(),
            body.len().to_string(),
            "{range}"
        );
    }
    // HEAD honours Range too, with no body
    let (st, h, got) = server
        .signed("HEAD", "/bkt/r", &[("range", "bytes=2-4")], Vec::new(), None)
        .await;
    assert_eq!(st, StatusCode::PARTIAL_CONTENT);
    assert!(got.is_empty());
    assert_eq!(h.get("content-length").unwrap(), "3");

    // 1024 bytes of key is the limit; multi-byte characters count as bytes
    let max = "k".repeat(1024);
    let (st, _, got) = server
        .signed("PUT", &format!("/bkt/{max}"), &[], b"x".to_vec(), None)
        .await;
    assert_eq!(st, StatusCode::OK, "{}", String::from_utf8_lossy(&got));
    let (st, _, got) = server
        .signed("GET", &format!("/bkt/{max}"), &[], Vec::new(), None)
        .await;
    assert_eq!((st, &got[..]), (StatusCode::OK, &b"x"[..]));
    // 512 two-byte characters = 1024 bytes: fine; one more byte is too long
    let wide: String = "é".repeat(512);
    let enc = |s: &str| -> String { s.bytes().map(|b| format!("%{b:02X}")).collect() };
    let (st, _, got) = server
        .signed("PUT", &format!("/bkt/{}", enc(&wide)), &[], b"x".to_vec(), None)
        .await;
    assert_eq!(st, StatusCode::OK, "{}", String::from_utf8_lossy(&got));
    let (st, _, got) = server
        .signed(
            "PUT",
            &format!("/bkt/{}", enc(&format!("{wide}a"))),
            &[],
            b"x".to_vec(),
            None,
        )
        .await;
    assert_eq!(
        (st, error_code(&got)),
        (StatusCode::BAD_REQUEST, "KeyTooLongError".to_owned())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acl_and_policy_errors_are_exact() {
    let server = TestServer::start();
    server.create_user_with(
        "erin",
        "ERINACCESSKEY0000001",
        "erin-secret-key-0000000000000000000001",
        &["--email", "erin@example.com"],
    );
    bucket(&server, "bkt").await;
    let expect = |resp: (StatusCode, HeaderMap, bytes::Bytes), status: StatusCode, code: &str| {
        assert_eq!(
            (resp.0, error_code(&resp.2)),
            (status, code.to_owned()),
            "{}",
            String::from_utf8_lossy(&resp.2)
        );
    };
    let bad = StatusCode::BAD_REQUEST;
    // ACL bodies and headers
    let r = server
        .signed("PUT", "/bkt?acl", &[], b"<AccessControlPolicy><Owner>".to_vec(), None)
        .await;
    expect(r, bad, "MalformedACLError");
    for (grantee, code) in [
        ("id=\"no-such-user\"", "InvalidArgument"),
        ("emailAddress=\"nobody@example.com\"", "UnresolvableGrantByEmailAddress"),
        ("uri=\"http://example.com/group\"", "InvalidArgument"),
        ("somebody", "InvalidArgument"),
    ] {
        let r = server
            .signed("PUT", "/bkt?acl", &[("x-amz-grant-read", grantee)], vec![], None)
            .await;
        expect(r, bad, code);
    }
    let r = server
        .signed(
            "PUT",
            "/bkt?acl",
            &[
                ("x-amz-acl", "private"),
                ("x-amz-grant-read", "emailAddress=\"erin@example.com\""),
            ],
            vec![],
            None,
        )
        .await;
    expect(r, bad, "InvalidRequest");
    let r = server
        .signed("PUT", "/bkt?acl", &[("x-amz-acl", "world-writable")], vec![], None)
        .await;
    expect(r, bad, "InvalidArgument");
    // A grant by e-mail is stored, and shown, as the user's canonical id.
    let (status, _, body) = server
        .signed(
            "PUT",
            "/bkt?acl",
            &[("x-amz-grant-read", "emailAddress=\"erin@example.com\"")],
            vec![],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let (_, _, body) = server.signed("GET", "/bkt?acl", &[], vec![], None).await;
    let text = String::from_utf8_lossy(&body);
    assert!(
        text.contains(
            "<Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"CanonicalUser\"><ID>"
        ) && text.contains("<DisplayName>erin</DisplayName></Grantee><Permission>READ</Permission>"),
        "{text}"
    );
    // An AccessControlPolicy document must keep the owner.
    let doc = "<AccessControlPolicy><Owner><ID>someone-else</ID></Owner><AccessControlList/></AccessControlPolicy>";
    let r = server
        .signed("PUT", "/bkt?acl", &[], doc.as_bytes().to_vec(), None)
        .await;
    expect(r, StatusCode::FORBIDDEN, "AccessDenied");
    // Object Ownership
    let r = server
        .signed(
            "PUT",
            "/enf",
            &[
                ("x-amz-object-ownership", "BucketOwnerEnforced"),
                ("x-amz-acl", "public-read"),
            ],
            vec![],
            None,
        )
        .await;
    expect(r, bad, "InvalidBucketAclWithObjectOwnership");
    let r = server.signed("GET", "/bkt?ownershipControls", &[], vec![], None).await;
    expect(r, StatusCode::NOT_FOUND, "OwnershipControlsNotFoundError");
    // Policies: S3's messages
    let r = server.signed("GET", "/bkt?policy", &[], vec![], None).await;
    expect(r, StatusCode::NOT_FOUND, "NoSuchBucketPolicy");
    for (doc, message) in [
        ("nonsense", "Policies must be valid JSON and the first byte must be '{'"),
        (
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:Nope","Resource":"arn:aws:s3:::bkt/*"}]}"#,
            "Policy has invalid action",
        ),
        (
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::elsewhere/*"}]}"#,
            "Policy has invalid resource",
        ),
        (
            r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::*:root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::bkt/*"}]}"#,
            "Invalid principal in policy",
        ),
    ] {
        let (status, _, body) = server
            .signed("PUT", "/bkt?policy", &[], doc.as_bytes().to_vec(), None)
            .await;
        let text = String::from_utf8_lossy(&body);
        assert_eq!((status, error_code(&body).as_str()), (bad, "MalformedPolicy"), "{doc}");
        assert!(
            text.contains(&format!("<Message>{}</Message>", message.replace('\'', "&apos;")))
                || text.contains(&format!("<Message>{message}</Message>")),
            "{text}"
        );
    }
    let r = server.signed("GET", "/bkt?publicAccessBlock", &[], vec![], None).await;
    expect(r, StatusCode::NOT_FOUND, "NoSuchPublicAccessBlockConfiguration");
    let r = server
        .signed("PUT", "/bkt?publicAccessBlock", &[], b"<Nope/>".to_vec(), None)
        .await;
    expect(r, bad, "MalformedXML");
}
