//! Attacks and traps found on earlier versions, each tried against the real server: documents
//! that nest deep enough to overflow a stack, headers added to a signed or presigned request,
//! encryption or object lock asked for and silently not done (now done, or refused).

mod common;

use common::{REGION, ROOT_AK, ROOT_SK, TestServer, error_code};
use http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};

type Resp = (StatusCode, HeaderMap, bytes::Bytes);

fn expect(resp: &Resp, status: u16, code: &str, what: &str) {
    assert_eq!(
        (resp.0.as_u16(), error_code(&resp.2).as_str()),
        (status, code),
        "{what}: {}",
        String::from_utf8_lossy(&resp.2)
    );
}

fn ok(resp: &Resp, what: &str) {
    assert!(
        resp.0.is_success(),
        "{what}: {} {}",
        resp.0,
        String::from_utf8_lossy(&resp.2)
    );
}

async fn anon(server: &TestServer, method: &str, path: &str, body: Vec<u8>) -> Resp {
    let mut h = HeaderMap::new();
    h.insert("content-length", HeaderValue::from(body.len()));
    server.raw(method, path, &h, body).await
}

fn nested(depth: usize, inner: &str) -> Vec<u8> {
    let mut doc = String::with_capacity(depth * 7 + inner.len());
    for _ in 0..depth {
        doc.push_str("<a>");
    }
    doc.push_str(inner);
    for _ in 0..depth {
        doc.push_str("</a>");
    }
    doc.into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deeply_nested_documents_cannot_crash_the_server() {
    let mut server = TestServer::start();
    ok(&server.signed("PUT", "/deep", &[], vec![], None).await, "create bucket");
    // 40,000 levels fit the 2 MiB and 4 MiB caps of DeleteObjects and CompleteMultipartUpload;
    // configuration documents are capped at 64 KiB (a larger one is MaxMessageLengthExceeded).
    let bomb_of = |root: &str, depth: usize| {
        let mut doc = format!("<{root}>").into_bytes();
        doc.extend(nested(depth, ""));
        doc.extend(format!("</{root}>").into_bytes());
        doc
    };
    let bomb = |root: &str| bomb_of(root, 40_000);
    // Anonymous: refused before the document is read.
    let r = anon(&server, "POST", "/deep?delete", bomb("Delete")).await;
    expect(&r, 403, "AccessDenied", "anonymous DeleteObjects");
    // The owner: the document is read, and refused as malformed.
    let r = server.signed("POST", "/deep?delete", &[], bomb("Delete"), None).await;
    expect(&r, 400, "MalformedXML", "owner DeleteObjects");
    let r = server
        .signed(
            "PUT",
            "/deep?versioning",
            &[],
            bomb_of("VersioningConfiguration", 9_000),
            None,
        )
        .await;
    expect(&r, 400, "MalformedXML", "PutBucketVersioning");
    let r = server
        .signed("PUT", "/deep?acl", &[], bomb_of("AccessControlPolicy", 9_000), None)
        .await;
    expect(&r, 400, "MalformedACLError", "PutBucketAcl");
    let (status, _, body) = server.signed("POST", "/deep/mp?uploads", &[], vec![], None).await;
    assert_eq!(status, 200);
    let upload_id = String::from_utf8_lossy(&body)
        .split("<UploadId>")
        .nth(1)
        .and_then(|r| r.split("</UploadId>").next())
        .unwrap_or_default()
        .to_owned();
    let r = server
        .signed(
            "POST",
            &format!("/deep/mp?uploadId={upload_id}"),
            &[],
            bomb("CompleteMultipartUpload"),
            None,
        )
        .await;
    expect(&r, 400, "MalformedXML", "CompleteMultipartUpload");
    assert!(server.is_running(), "the server died");
    ok(&server.signed("GET", "/deep", &[], vec![], None).await, "still serving");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_outside_the_signature_are_refused() {
    let server = TestServer::start();
    ok(&server.signed("PUT", "/own", &[], vec![], None).await, "create bucket");
    ok(
        &server.signed("PUT", "/other", &[], vec![], None).await,
        "create bucket",
    );
    ok(
        &server
            .signed("PUT", "/other/secret", &[], b"top secret".to_vec(), None)
            .await,
        "put secret",
    );
    let now = time::OffsetDateTime::now_utc();
    let presigned_put = |path: &str| {
        let uri: Uri = path.parse().unwrap();
        ksan_proto::auth::sign::presign_v4(&Method::PUT, &uri, &server.s3, ROOT_AK, ROOT_SK, REGION, now, 300)
    };
    let with = |pairs: &[(&'static str, &str)]| {
        let mut h = HeaderMap::new();
        for (n, v) in pairs {
            h.insert(*n, HeaderValue::from_str(v).unwrap());
        }
        h
    };
    let not_signed = |r: &Resp, header: &str, what: &str| {
        expect(r, 403, "AccessDenied", what);
        let body = String::from_utf8_lossy(&r.2);
        assert!(
            body.contains("There were headers present in the request which were not signed"),
            "{what}: {body}"
        );
        assert!(
            body.contains(&format!("<HeadersNotSigned>{header}</HeadersNotSigned>")),
            "{what}: {body}"
        );
    };
    // An upload slot turned into copy-and-publish of another bucket's object.
    let url = presigned_put("/own/slot");
    let h = with(&[("x-amz-copy-source", "/other/secret"), ("content-length", "0")]);
    not_signed(
        &server.raw("PUT", &url, &h, vec![]).await,
        "x-amz-copy-source",
        "presigned + copy source",
    );
    let h = with(&[("x-amz-acl", "public-read"), ("content-length", "4")]);
    not_signed(
        &server.raw("PUT", &url, &h, b"data".to_vec()).await,
        "x-amz-acl",
        "presigned + acl",
    );
    let h = with(&[
        ("x-amz-acl", "public-read"),
        ("x-amz-meta-a", "b"),
        ("content-length", "4"),
    ]);
    not_signed(
        &server.raw("PUT", &url, &h, b"data".to_vec()).await,
        "x-amz-acl, x-amz-meta-a",
        "presigned + two headers",
    );
    // Nothing was stored by any of them.
    expect(
        &server.signed("GET", "/own/slot", &[], vec![], None).await,
        404,
        "NoSuchKey",
        "slot stayed empty",
    );
    // The same URL as meant: works.
    ok(
        &server
            .raw("PUT", &url, &with(&[("content-length", "4")]), b"data".to_vec())
            .await,
        "presigned PUT",
    );
    // Headers given in the presigned query are signed, and act.
    let url = presigned_put("/own/public?x-amz-acl=public-read");
    ok(
        &server
            .raw("PUT", &url, &with(&[("content-length", "3")]), b"pub".to_vec())
            .await,
        "presigned PUT with a signed ACL",
    );
    ok(
        &anon(&server, "GET", "/own/public", vec![]).await,
        "public-read from the query",
    );
    // Header-signed requests: an x-amz-* header added after signing.
    let mut h = server.sign_headers("PUT", "/own/late", &[], b"late", None, now);
    h.insert("x-amz-acl", HeaderValue::from_static("public-read"));
    h.insert("content-length", HeaderValue::from(4));
    not_signed(
        &server.raw("PUT", "/own/late", &h, b"late".to_vec()).await,
        "x-amz-acl",
        "header-signed + acl",
    );
    let mut h = server.sign_headers("PUT", "/own/copied", &[], b"", None, now);
    h.insert("x-amz-copy-source", HeaderValue::from_static("/other/secret"));
    h.insert("content-length", HeaderValue::from(0));
    not_signed(
        &server.raw("PUT", "/own/copied", &h, vec![]).await,
        "x-amz-copy-source",
        "header-signed + copy source",
    );
    let mut h = server.sign_headers("PUT", "/own/granted", &[], b"", None, now);
    h.insert(
        "x-amz-grant-read",
        HeaderValue::from_static("uri=http://acs.amazonaws.com/groups/global/AllUsers"),
    );
    h.insert("content-length", HeaderValue::from(0));
    not_signed(
        &server.raw("PUT", "/own/granted", &h, vec![]).await,
        "x-amz-grant-read",
        "header-signed + grant",
    );
    // Signed, they are fine.
    ok(
        &server
            .signed(
                "PUT",
                "/own/copied",
                &[("x-amz-copy-source", "/other/secret")],
                vec![],
                None,
            )
            .await,
        "signed copy",
    );
    // SigV2 signs every x-amz-* header by construction: adding one breaks the signature.
    let mut h = HeaderMap::new();
    h.insert(
        "date",
        HeaderValue::from_str(&httpdate::fmt_http_date(std::time::SystemTime::now())).unwrap(),
    );
    let uri: Uri = "/own/v2".parse().unwrap();
    let auth = ksan_proto::auth::sign::sign_v2(&Method::PUT, &uri, &h, ROOT_AK, ROOT_SK);
    h.insert("authorization", HeaderValue::from_str(&auth).unwrap());
    h.insert("x-amz-acl", HeaderValue::from_static("public-read"));
    h.insert("content-length", HeaderValue::from(2));
    expect(
        &server.raw("PUT", "/own/v2", &h, b"v2".to_vec()).await,
        403,
        "SignatureDoesNotMatch",
        "v2 + acl",
    );
    let q = ksan_proto::auth::sign::presign_v2(&Method::PUT, &uri, ROOT_AK, ROOT_SK, now.unix_timestamp() + 60);
    let h = with(&[("x-amz-acl", "public-read"), ("content-length", "2")]);
    expect(
        &server.raw("PUT", &q, &h, b"v2".to_vec()).await,
        403,
        "SignatureDoesNotMatch",
        "v2 presigned + acl",
    );
    expect(
        &anon(&server, "GET", "/own/v2", vec![]).await,
        403,
        "AccessDenied",
        "nothing public was made",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encryption_and_lock_requests_are_acted_on_or_refused_never_ignored() {
    let server = TestServer::start();
    ok(&server.signed("PUT", "/enc", &[], vec![], None).await, "create bucket");
    ok(
        &server.signed("PUT", "/enc/plain", &[], b"plain".to_vec(), None).await,
        "put",
    );
    let key = common::b64(&[7u8; 32]);
    let key_md5 = {
        use md5::Digest;
        common::b64(&md5::Md5::digest([7u8; 32]))
    };
    let sse_c = [
        ("x-amz-server-side-encryption-customer-algorithm", "AES256"),
        ("x-amz-server-side-encryption-customer-key", key.as_str()),
        ("x-amz-server-side-encryption-customer-key-md5", key_md5.as_str()),
    ];
    // Encryption asked for is done (and said so), or refused: SSE-C over plain HTTP, an
    // unknown KMS key. Never a 200 with plaintext stored.
    let r = server
        .signed(
            "PUT",
            "/enc/s3",
            &[("x-amz-server-side-encryption", "AES256")],
            b"secret".to_vec(),
            None,
        )
        .await;
    assert_eq!(r.0.as_u16(), 200);
    assert_eq!(
        r.1.get("x-amz-server-side-encryption").map(|v| v.as_bytes()),
        Some(&b"AES256"[..])
    );
    let r = server.signed("GET", "/enc/s3", &[], vec![], None).await;
    assert_eq!(
        r.1.get("x-amz-server-side-encryption").map(|v| v.as_bytes()),
        Some(&b"AES256"[..])
    );
    expect(
        &server.signed("PUT", "/enc/c", &sse_c, b"secret".to_vec(), None).await,
        400,
        "InvalidRequest",
        "SSE-C over plain HTTP",
    );
    expect(
        &server
            .signed(
                "PUT",
                "/enc/kms",
                &[
                    ("x-amz-server-side-encryption", "aws:kms"),
                    ("x-amz-server-side-encryption-aws-kms-key-id", "no-such-key"),
                ],
                b"secret".to_vec(),
                None,
            )
            .await,
        400,
        "KMS.NotFoundException",
        "unknown KMS key",
    );
    // Object lock asked for in a bucket without it is refused, never ignored.
    let refused = |r: &Resp, what: &str| expect(r, 400, "InvalidRequest", what);
    let md5 = {
        use md5::Digest;
        common::b64(&md5::Md5::digest(b"secret"))
    };
    for (what, mut headers) in [
        (
            "object lock",
            vec![
                ("x-amz-object-lock-mode", "GOVERNANCE"),
                ("x-amz-object-lock-retain-until-date", "2099-01-01T00:00:00Z"),
            ],
        ),
        ("legal hold", vec![("x-amz-object-lock-legal-hold", "ON")]),
    ] {
        refused(
            &server.signed("POST", "/enc/mp?uploads", &headers, vec![], None).await,
            &format!("CreateMultipartUpload {what}"),
        );
        let mut copy = headers.clone();
        copy.push(("x-amz-copy-source", "/enc/plain"));
        refused(
            &server.signed("PUT", "/enc/copy", &copy, vec![], None).await,
            &format!("CopyObject {what}"),
        );
        headers.push(("content-md5", md5.as_str()));
        refused(
            &server
                .signed("PUT", "/enc/obj", &headers, b"secret".to_vec(), None)
                .await,
            &format!("PutObject {what}"),
        );
    }
    // Nothing was stored by the refused requests.
    for key in ["obj", "copy", "c", "kms"] {
        expect(
            &server.signed("GET", &format!("/enc/{key}"), &[], vec![], None).await,
            404,
            "NoSuchKey",
            key,
        );
    }
    let uploads = server.signed("GET", "/enc?uploads", &[], vec![], None).await;
    assert!(
        !String::from_utf8_lossy(&uploads.2).contains("<Upload>"),
        "an upload was created"
    );
    // A bucket with object lock is made with versioning on.
    ok(
        &server
            .signed(
                "PUT",
                "/locked",
                &[("x-amz-bucket-object-lock-enabled", "true")],
                vec![],
                None,
            )
            .await,
        "CreateBucket with object lock",
    );
    let v = server.signed("GET", "/locked?versioning", &[], vec![], None).await;
    assert!(String::from_utf8_lossy(&v.2).contains("<Status>Enabled</Status>"));
    // Default bucket encryption is set, and acts.
    let doc = br#"<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>"#;
    let md5 = {
        use md5::Digest;
        common::b64(&md5::Md5::digest(doc))
    };
    ok(
        &server
            .signed(
                "PUT",
                "/enc?encryption",
                &[("content-md5", md5.as_str())],
                doc.to_vec(),
                None,
            )
            .await,
        "PutBucketEncryption",
    );
    let r = server.signed("PUT", "/enc/d", &[], b"by default".to_vec(), None).await;
    assert_eq!(
        r.1.get("x-amz-server-side-encryption").map(|v| v.as_bytes()),
        Some(&b"AES256"[..])
    );
}
