//! Every way around the access checks we could think of, tried with raw signed and unsigned
//! requests against the real server. Each must be denied.

mod common;

use common::{REGION, ROOT_AK, ROOT_SK, TestServer, error_code};
use http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};

const BOB: (&str, &str) = ("BOBACCESSKEY00000001", "bob-secret-key-000000000000000000000001");
const ROOT: (&str, &str) = (ROOT_AK, ROOT_SK);

/// 403 AccessDenied (HEAD answers carry no body to name the code).
fn denied(resp: &(StatusCode, HeaderMap, bytes::Bytes), what: &str) {
    let code = if resp.2.is_empty() {
        "AccessDenied".to_owned()
    } else {
        error_code(&resp.2)
    };
    assert_eq!(
        (resp.0, code.as_str()),
        (StatusCode::FORBIDDEN, "AccessDenied"),
        "{what}: {}",
        String::from_utf8_lossy(&resp.2)
    );
}

fn ok(resp: &(StatusCode, HeaderMap, bytes::Bytes), what: &str) {
    assert!(
        resp.0.is_success(),
        "{what}: {} {}",
        resp.0,
        String::from_utf8_lossy(&resp.2)
    );
}

/// A server with the root user, bob, and root's bucket `priv` holding `secret`.
async fn setup() -> TestServer {
    let server = TestServer::start();
    server.create_user("bob", BOB.0, BOB.1);
    ok(&server.signed("PUT", "/priv", &[], vec![], None).await, "create bucket");
    ok(
        &server
            .signed("PUT", "/priv/secret", &[], b"top secret".to_vec(), None)
            .await,
        "put object",
    );
    server
}

async fn anon(server: &TestServer, method: &str, path: &str, body: &[u8]) -> (StatusCode, HeaderMap, bytes::Bytes) {
    let mut h = HeaderMap::new();
    h.insert("content-length", HeaderValue::from(body.len()));
    server.raw(method, path, &h, body.to_vec()).await
}

async fn put_policy(server: &TestServer, bucket: &str, policy: &str) -> (StatusCode, HeaderMap, bytes::Bytes) {
    server
        .signed(
            "PUT",
            &format!("/{bucket}?policy"),
            &[],
            policy.as_bytes().to_vec(),
            None,
        )
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_users_keys_get_nothing_from_a_private_bucket() {
    let server = setup().await;
    let bob =
        |m: &'static str, p: &'static str, body: &'static [u8]| server.signed_as(BOB, m, p, &[], body.to_vec(), None);
    denied(&bob("GET", "/priv/secret", b"").await, "bob GET");
    denied(&bob("HEAD", "/priv/secret", b"").await, "bob HEAD");
    // A missing key tells bob nothing either: 403, not 404.
    denied(&bob("GET", "/priv/nothing-here", b"").await, "bob GET missing");
    denied(&bob("PUT", "/priv/secret", b"overwritten").await, "bob PUT");
    denied(&bob("DELETE", "/priv/secret", b"").await, "bob DELETE");
    denied(&bob("GET", "/priv", b"").await, "bob LIST");
    denied(&bob("GET", "/priv?versions", b"").await, "bob LIST versions");
    denied(&bob("GET", "/priv?uploads", b"").await, "bob LIST uploads");
    denied(
        &bob("POST", "/priv/secret?uploads", b"").await,
        "bob CreateMultipartUpload",
    );
    denied(&bob("GET", "/priv?acl", b"").await, "bob GetBucketAcl");
    denied(&bob("GET", "/priv/secret?acl", b"").await, "bob GetObjectAcl");
    denied(&bob("PUT", "/priv?policy", br#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::priv/*"}]}"#).await, "bob PutBucketPolicy");
    denied(&bob("GET", "/priv?policy", b"").await, "bob GetBucketPolicy");
    denied(&bob("DELETE", "/priv", b"").await, "bob DeleteBucket");
    denied(&bob("GET", "/priv?versioning", b"").await, "bob GetBucketVersioning");
    denied(
        &bob("DELETE", "/priv?publicAccessBlock", b"").await,
        "bob DeletePublicAccessBlock",
    );
    let r = server
        .signed_as(
            BOB,
            "PUT",
            "/priv?acl",
            &[("x-amz-acl", "public-read-write")],
            vec![],
            None,
        )
        .await;
    denied(&r, "bob PutBucketAcl");
    let r = server
        .signed_as(
            BOB,
            "PUT",
            "/priv/secret?acl",
            &[("x-amz-acl", "public-read")],
            vec![],
            None,
        )
        .await;
    denied(&r, "bob PutObjectAcl");

    // Copying the private object into bob's own bucket is reading it.
    ok(
        &server.signed_as(BOB, "PUT", "/bobs", &[], vec![], None).await,
        "bob's bucket",
    );
    let r = server
        .signed_as(
            BOB,
            "PUT",
            "/bobs/stolen",
            &[("x-amz-copy-source", "/priv/secret")],
            vec![],
            None,
        )
        .await;
    denied(&r, "bob CopyObject from priv");
    // ...and a missing source in root's bucket tells bob nothing either.
    let r = server
        .signed_as(
            BOB,
            "PUT",
            "/bobs/probe",
            &[("x-amz-copy-source", "/priv/no-such-key")],
            vec![],
            None,
        )
        .await;
    denied(&r, "bob CopyObject of a missing key");

    // DeleteObjects answers per key; nothing is deleted.
    let body = b"<Delete><Object><Key>secret</Key></Object></Delete>".to_vec();
    let md5 = common::b64(&md5_of(&body));
    let (status, _, resp) = server
        .signed_as(BOB, "POST", "/priv?delete", &[("content-md5", &md5)], body, None)
        .await;
    // The bucket-level check passes nothing to bob: every key is refused.
    let text = String::from_utf8_lossy(&resp);
    assert!(
        status == StatusCode::FORBIDDEN || text.contains("<Code>AccessDenied</Code>"),
        "{status} {text}"
    );
    let (status, _, body) = server.signed("GET", "/priv/secret", &[], vec![], None).await;
    assert_eq!((status, &body[..]), (StatusCode::OK, &b"top secret"[..]));

    // The owner's own bucket listing does not show bob's bucket, and vice versa.
    let (_, _, list) = server.signed_as(BOB, "GET", "/", &[], vec![], None).await;
    let list = String::from_utf8_lossy(&list);
    assert!(
        list.contains("<Name>bobs</Name>") && !list.contains("<Name>priv</Name>"),
        "{list}"
    );
}

fn md5_of(data: &[u8]) -> Vec<u8> {
    use md5::Digest;
    md5::Md5::digest(data).to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_requests_write_nothing() {
    let server = setup().await;
    denied(&anon(&server, "GET", "/priv/secret", b"").await, "anon GET");
    denied(&anon(&server, "PUT", "/priv/new", b"x").await, "anon PUT");
    denied(&anon(&server, "DELETE", "/priv/secret", b"").await, "anon DELETE");
    denied(&anon(&server, "PUT", "/priv?acl", b"").await, "anon PutBucketAcl");
    denied(
        &anon(&server, "DELETE", "/priv?policy", b"").await,
        "anon DeleteBucketPolicy",
    );
    denied(&anon(&server, "PUT", "/anonbucket", b"").await, "anon CreateBucket");
    denied(&anon(&server, "GET", "/", b"").await, "anon ListBuckets");

    // public-read lets anyone read, never write.
    ok(
        &server
            .signed("PUT", "/priv?acl", &[("x-amz-acl", "public-read")], vec![], None)
            .await,
        "public-read bucket",
    );
    ok(&anon(&server, "GET", "/priv", b"").await, "anon LIST public-read");
    denied(
        &anon(&server, "GET", "/priv/secret", b"").await,
        "object ACL is still private",
    );
    denied(
        &anon(&server, "PUT", "/priv/new", b"x").await,
        "anon PUT into public-read",
    );
    denied(&anon(&server, "GET", "/priv?acl", b"").await, "anon GetBucketAcl");
    // authenticated-read does not include anonymous callers.
    ok(
        &server
            .signed(
                "PUT",
                "/priv/secret?acl",
                &[("x-amz-acl", "authenticated-read")],
                vec![],
                None,
            )
            .await,
        "authenticated-read object",
    );
    denied(
        &anon(&server, "GET", "/priv/secret", b"").await,
        "anon GET authenticated-read",
    );
    ok(
        &server.signed_as(BOB, "GET", "/priv/secret", &[], vec![], None).await,
        "bob GET authenticated-read",
    );

    // Wrong x-amz-expected-bucket-owner is refused even where access would be granted.
    let r = server
        .signed(
            "GET",
            "/priv",
            &[("x-amz-expected-bucket-owner", "someone-else")],
            vec![],
            None,
        )
        .await;
    denied(&r, "expected bucket owner mismatch");
    ok(
        &server
            .signed("GET", "/priv", &[("x-amz-expected-bucket-owner", "root")], vec![], None)
            .await,
        "expected bucket owner by account name",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_expired_signatures_are_refused() {
    let server = setup().await;
    let now = time::OffsetDateTime::now_utc();
    // bob's access key id with the root's secret, and the root's key id with bob's secret.
    for (ak, sk) in [(BOB.0, ROOT_SK), (ROOT_AK, BOB.1)] {
        let (status, _, body) = server
            .signed_as((ak, sk), "GET", "/priv/secret", &[], vec![], None)
            .await;
        assert_eq!(
            (status, error_code(&body).as_str()),
            (StatusCode::FORBIDDEN, "SignatureDoesNotMatch")
        );
    }
    let (status, _, body) = server
        .signed_as(
            ("NOSUCHKEY00000000000", ROOT_SK),
            "GET",
            "/priv/secret",
            &[],
            vec![],
            None,
        )
        .await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (StatusCode::FORBIDDEN, "InvalidAccessKeyId")
    );
    // A correctly signed request whose headers are changed afterwards.
    let mut h = server.sign_headers_as(ROOT, "GET", "/priv/secret", &[("range", "bytes=0-1")], b"", None, now);
    h.insert("range", HeaderValue::from_static("bytes=0-9"));
    let (status, _, _) = server.raw("GET", "/priv/secret", &h, vec![]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // SigV2 with the wrong secret.
    let uri: Uri = "/priv/secret".parse().unwrap();
    let mut h = HeaderMap::new();
    h.insert(
        "date",
        HeaderValue::from_str(&httpdate::fmt_http_date(std::time::SystemTime::now())).unwrap(),
    );
    let v2 = ksan_proto::auth::sign::sign_v2(&Method::GET, &uri, &h, ROOT_AK, BOB.1);
    h.insert("authorization", HeaderValue::from_str(&v2).unwrap());
    let (status, _, body) = server.raw("GET", "/priv/secret", &h, vec![]).await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (StatusCode::FORBIDDEN, "SignatureDoesNotMatch")
    );

    // A presigned URL works until it expires, and not after.
    let url = ksan_proto::auth::sign::presign_v4(&Method::GET, &uri, &server.s3, ROOT_AK, ROOT_SK, REGION, now, 2);
    ok(
        &server.raw("GET", &url, &HeaderMap::new(), vec![]).await,
        "fresh presigned URL",
    );
    tokio::time::sleep(std::time::Duration::from_millis(3100)).await;
    denied(
        &server.raw("GET", &url, &HeaderMap::new(), vec![]).await,
        "presigned URL after expiry",
    );
    let v2url = ksan_proto::auth::sign::presign_v2(&Method::GET, &uri, ROOT_AK, ROOT_SK, now.unix_timestamp() - 1);
    denied(
        &server.raw("GET", &v2url, &HeaderMap::new(), vec![]).await,
        "expired SigV2 URL",
    );
    // bob's valid presigned URL for root's private object is still bob asking.
    let url = ksan_proto::auth::sign::presign_v4(&Method::GET, &uri, &server.s3, BOB.0, BOB.1, REGION, now, 300);
    denied(
        &server.raw("GET", &url, &HeaderMap::new(), vec![]).await,
        "bob's presigned URL",
    );
    // A presigned GET does not become a PUT.
    let url = ksan_proto::auth::sign::presign_v4(&Method::GET, &uri, &server.s3, ROOT_AK, ROOT_SK, REGION, now, 300);
    let (status, _, _) = server.raw("PUT", &url, &HeaderMap::new(), b"x".to_vec()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_deny_beats_acl_grants_and_the_owner() {
    let server = setup().await;
    ok(
        &server
            .signed("PUT", "/priv/secret?acl", &[("x-amz-acl", "public-read")], vec![], None)
            .await,
        "public-read object",
    );
    ok(&anon(&server, "GET", "/priv/secret", b"").await, "public-read works");
    let deny = r#"{"Version":"2012-10-17","Statement":[{"Sid":"NoReads","Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::priv/*"}]}"#;
    ok(&put_policy(&server, "priv", deny).await, "put deny policy");
    denied(&anon(&server, "GET", "/priv/secret", b"").await, "anon GET after deny");
    denied(
        &server.signed_as(BOB, "GET", "/priv/secret", &[], vec![], None).await,
        "bob GET after deny",
    );
    denied(
        &server.signed("GET", "/priv/secret", &[], vec![], None).await,
        "owner GET after deny",
    );
    // The policy names s3:GetObject only: versioned reads are s3:GetObjectVersion, but the
    // object ACL does not allow those to bob either.
    // The owner can always manage the policy itself, so it cannot lock itself out.
    let (status, _, body) = server.signed("GET", "/priv?policy", &[], vec![], None).await;
    assert_eq!((status, &body[..]), (StatusCode::OK, deny.as_bytes()));
    ok(
        &server.signed("DELETE", "/priv?policy", &[], vec![], None).await,
        "delete policy",
    );
    ok(&anon(&server, "GET", "/priv/secret", b"").await, "public-read again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_principal_and_not_action_do_not_open_doors() {
    let server = setup().await;
    ok(
        &server
            .signed("PUT", "/priv?acl", &[("x-amz-acl", "public-read-write")], vec![], None)
            .await,
        "public-read-write bucket",
    );
    // Deny everything to everyone except the root account: bob and anonymous lose the ACL's
    // grants; the owner keeps working.
    let p = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::root:root"},"Action":"s3:*","Resource":["arn:aws:s3:::priv","arn:aws:s3:::priv/*"]}]}"#;
    ok(&put_policy(&server, "priv", p).await, "NotPrincipal deny");
    denied(
        &server
            .signed_as(BOB, "PUT", "/priv/bobs", &[], b"x".to_vec(), None)
            .await,
        "bob PUT",
    );
    denied(&anon(&server, "PUT", "/priv/anon", b"x").await, "anon PUT");
    denied(&anon(&server, "GET", "/priv", b"").await, "anon LIST");
    ok(&server.signed("GET", "/priv", &[], vec![], None).await, "owner LIST");

    // Deny everything but GetObject (NotAction): bob can read the public object, never write.
    ok(
        &server
            .signed("PUT", "/priv/secret?acl", &[("x-amz-acl", "public-read")], vec![], None)
            .await,
        "public-read object",
    );
    let p = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":{"AWS":"*"},"NotAction":"s3:GetObject","Resource":"arn:aws:s3:::priv/*"}]}"#;
    ok(&put_policy(&server, "priv", p).await, "NotAction deny");
    ok(
        &server.signed_as(BOB, "GET", "/priv/secret", &[], vec![], None).await,
        "bob GET",
    );
    denied(
        &server
            .signed_as(BOB, "PUT", "/priv/bobs", &[], b"x".to_vec(), None)
            .await,
        "bob PUT",
    );
    denied(
        &server.signed_as(BOB, "DELETE", "/priv/secret", &[], vec![], None).await,
        "bob DELETE",
    );

    // Allow with NotPrincipal is not a valid policy (it would allow nearly everyone).
    let p = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::root:root"},"Action":"s3:*","Resource":"arn:aws:s3:::priv/*"}]}"#;
    let (status, _, body) = put_policy(&server, "priv", p).await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (StatusCode::BAD_REQUEST, "MalformedPolicy")
    );
    // Nor are policies naming another bucket, unknown actions, or broken JSON.
    for bad in [
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::other/*"}]}"#,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:StealEverything","Resource":"arn:aws:s3:::priv/*"}]}"#,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","#,
    ] {
        let (status, _, body) = put_policy(&server, "priv", bad).await;
        assert_eq!(
            (status, error_code(&body).as_str()),
            (StatusCode::BAD_REQUEST, "MalformedPolicy"),
            "{bad}"
        );
    }
}

const IP_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::priv/*","Condition":{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}}]}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_ip_conditions_ignore_spoofed_forwarded_for() {
    let server = setup().await;
    ok(&put_policy(&server, "priv", IP_POLICY).await, "ip policy");
    for header in ["x-forwarded-for", "x-real-ip", "forwarded"] {
        let value = if header == "forwarded" {
            "for=203.0.113.5"
        } else {
            "203.0.113.5"
        };
        let mut h = HeaderMap::new();
        h.insert(http::HeaderName::from_static(header), HeaderValue::from_static(value));
        denied(
            &server.raw("GET", "/priv/secret", &h, vec![]).await,
            &format!("spoofed {header}"),
        );
    }
    // The policy is not public (it names a network): GetBucketPolicyStatus says so.
    let (_, _, body) = server.signed("GET", "/priv?policyStatus", &[], vec![], None).await;
    assert!(String::from_utf8_lossy(&body).contains("<IsPublic>false</IsPublic>"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_for_counts_only_from_a_trusted_proxy() {
    let server = TestServer::start_with(&["--trusted-proxy", "127.0.0.1"]);
    ok(&server.signed("PUT", "/priv", &[], vec![], None).await, "bucket");
    ok(
        &server.signed("PUT", "/priv/secret", &[], b"s".to_vec(), None).await,
        "object",
    );
    ok(&put_policy(&server, "priv", IP_POLICY).await, "ip policy");
    let mut h = HeaderMap::new();
    h.insert("x-forwarded-for", HeaderValue::from_static("203.0.113.5"));
    ok(
        &server.raw("GET", "/priv/secret", &h, vec![]).await,
        "client behind the trusted proxy",
    );
    h.insert("x-forwarded-for", HeaderValue::from_static("198.51.100.1"));
    denied(
        &server.raw("GET", "/priv/secret", &h, vec![]).await,
        "other client behind the proxy",
    );
    // A client cannot prepend an allowed address: the proxy appends the real one.
    h.insert("x-forwarded-for", HeaderValue::from_static("203.0.113.5, 198.51.100.1"));
    denied(
        &server.raw("GET", "/priv/secret", &h, vec![]).await,
        "prepended address",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_access_block_holds() {
    let server = setup().await;
    let (status, _, body) = server.signed("GET", "/priv?publicAccessBlock", &[], vec![], None).await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (StatusCode::NOT_FOUND, "NoSuchPublicAccessBlockConfiguration")
    );
    let all = b"<PublicAccessBlockConfiguration><BlockPublicAcls>true</BlockPublicAcls><IgnorePublicAcls>false</IgnorePublicAcls><BlockPublicPolicy>true</BlockPublicPolicy><RestrictPublicBuckets>false</RestrictPublicBuckets></PublicAccessBlockConfiguration>";
    ok(
        &server
            .signed("PUT", "/priv?publicAccessBlock", &[], all.to_vec(), None)
            .await,
        "put block",
    );
    for (path, headers) in [
        ("/priv?acl", vec![("x-amz-acl", "public-read")]),
        ("/priv/secret?acl", vec![("x-amz-acl", "authenticated-read")]),
        ("/priv/new", vec![("x-amz-acl", "public-read-write")]),
        (
            "/priv/new2",
            vec![(
                "x-amz-grant-read",
                "uri=\"http://acs.amazonaws.com/groups/global/AllUsers\"",
            )],
        ),
    ] {
        denied(&server.signed("PUT", path, &headers, vec![], None).await, path);
    }
    let public = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::priv/*"}]}"#;
    denied(&put_policy(&server, "priv", public).await, "public policy blocked");
    ok(
        &put_policy(&server, "priv", IP_POLICY).await,
        "non-public policy allowed",
    );

    // IgnorePublicAcls: existing public grants stop counting.
    ok(
        &server
            .signed("DELETE", "/priv?publicAccessBlock", &[], vec![], None)
            .await,
        "delete block",
    );
    ok(
        &server
            .signed("PUT", "/priv/secret?acl", &[("x-amz-acl", "public-read")], vec![], None)
            .await,
        "public-read object",
    );
    ok(
        &anon(&server, "GET", "/priv/secret", b"").await,
        "public object readable",
    );
    let ignore =
        b"<PublicAccessBlockConfiguration><IgnorePublicAcls>true</IgnorePublicAcls></PublicAccessBlockConfiguration>";
    ok(
        &server
            .signed("PUT", "/priv?publicAccessBlock", &[], ignore.to_vec(), None)
            .await,
        "ignore public acls",
    );
    denied(&anon(&server, "GET", "/priv/secret", b"").await, "public grant ignored");

    // RestrictPublicBuckets: a public policy stops working for everyone but the owner.
    ok(
        &server
            .signed("DELETE", "/priv?publicAccessBlock", &[], vec![], None)
            .await,
        "delete block",
    );
    ok(&put_policy(&server, "priv", public).await, "public policy");
    ok(&anon(&server, "GET", "/priv/secret", b"").await, "public policy works");
    let restrict = b"<PublicAccessBlockConfiguration><RestrictPublicBuckets>true</RestrictPublicBuckets></PublicAccessBlockConfiguration>";
    ok(
        &server
            .signed("PUT", "/priv?publicAccessBlock", &[], restrict.to_vec(), None)
            .await,
        "restrict",
    );
    denied(&anon(&server, "GET", "/priv/secret", b"").await, "restricted anon");
    denied(
        &server.signed_as(BOB, "GET", "/priv/secret", &[], vec![], None).await,
        "restricted bob",
    );
    ok(
        &server.signed("GET", "/priv/secret", &[], vec![], None).await,
        "owner still reads",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bucket_owner_enforced_turns_acls_off() {
    let server = setup().await;
    ok(
        &server
            .signed(
                "PUT",
                "/enforced",
                &[("x-amz-object-ownership", "BucketOwnerEnforced")],
                vec![],
                None,
            )
            .await,
        "create enforced",
    );
    ok(
        &server.signed("PUT", "/enforced/a", &[], b"a".to_vec(), None).await,
        "put without acl",
    );
    let (status, _, body) = server
        .signed(
            "PUT",
            "/enforced/b",
            &[("x-amz-acl", "public-read")],
            b"b".to_vec(),
            None,
        )
        .await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (StatusCode::BAD_REQUEST, "AccessControlListNotSupported")
    );
    let (status, _, body) = server
        .signed("PUT", "/enforced?acl", &[("x-amz-acl", "public-read")], vec![], None)
        .await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (StatusCode::BAD_REQUEST, "AccessControlListNotSupported")
    );
    denied(&anon(&server, "GET", "/enforced/a", b"").await, "anon read of enforced");
    let (_, _, body) = server
        .signed("GET", "/enforced?ownershipControls", &[], vec![], None)
        .await;
    assert!(String::from_utf8_lossy(&body).contains("<ObjectOwnership>BucketOwnerEnforced</ObjectOwnership>"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conditions_read_the_request() {
    let server = setup().await;
    // Variables and s3:prefix: bob may list his own home, nothing else.
    let p = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::bob:root"},"Action":"s3:ListBucket","Resource":"arn:aws:s3:::priv","Condition":{"StringLike":{"s3:prefix":"home/${aws:username}/*"}}},
        {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::bob:user/bob"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::priv/home/${aws:username}/*","Condition":{"StringEquals":{"s3:x-amz-acl":"bucket-owner-full-control"}}},
        {"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::priv/*","Condition":{"StringEquals":{"s3:ExistingObjectTag/class":"public"}}}
    ]}"#;
    ok(&put_policy(&server, "priv", p).await, "policy");
    let bob = |path: &'static str| server.signed_as(BOB, "GET", path, &[], vec![], None);
    ok(&bob("/priv?prefix=home/bob/").await, "bob lists his home");
    denied(&bob("/priv?prefix=home/root/").await, "bob lists root's home");
    denied(&bob("/priv").await, "bob lists everything");
    // s3:x-amz-acl: only uploads that hand the object to the bucket owner, only in his home.
    let server_ref = &server;
    let put = |path: &'static str, acl: Option<&'static str>| {
        let headers: Vec<(&str, &str)> = acl.into_iter().map(|a| ("x-amz-acl", a)).collect();
        async move {
            server_ref
                .signed_as(BOB, "PUT", path, &headers, b"b".to_vec(), None)
                .await
        }
    };
    denied(&put("/priv/home/bob/a", None).await, "no acl header");
    denied(&put("/priv/home/bob/a", Some("private")).await, "another acl");
    ok(
        &put("/priv/home/bob/a", Some("bucket-owner-full-control")).await,
        "right acl",
    );
    denied(
        &put("/priv/home/root/a", Some("bucket-owner-full-control")).await,
        "outside his home",
    );
    // s3:ExistingObjectTag: objects tagged public are readable by anyone.
    denied(&anon(&server, "GET", "/priv/secret", b"").await, "untagged");
    let tagging = b"<Tagging><TagSet><Tag><Key>class</Key><Value>public</Value></Tag></TagSet></Tagging>".to_vec();
    ok(
        &server.signed("PUT", "/priv/secret?tagging", &[], tagging, None).await,
        "tag it",
    );
    ok(&anon(&server, "GET", "/priv/secret", b"").await, "tagged public");
    let (_, headers, _) = server.signed("HEAD", "/priv/secret", &[], vec![], None).await;
    assert_eq!(headers.get("x-amz-tagging-count").unwrap(), "1");

    // aws:SecureTransport: a bucket that refuses plain HTTP refuses its owner too.
    let p = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::priv","arn:aws:s3:::priv/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}"#;
    ok(&put_policy(&server, "priv", p).await, "https-only policy");
    denied(
        &server.signed("GET", "/priv/secret", &[], vec![], None).await,
        "owner over http",
    );
    ok(
        &server.signed("DELETE", "/priv?policy", &[], vec![], None).await,
        "owner removes it",
    );
}
