//! CORS as browsers use it (raw HTTP, exact headers): the rules' operations, preflights
//! answered before authentication, CORS headers on actual answers (errors and presigned
//! requests included); and bucket tagging with `aws:ResourceTag` in a policy.

mod common;

use aws_sdk_s3::types::{CorsConfiguration, CorsRule, Tag, Tagging};
use common::*;
use http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};

const APP: &str = "https://app.example";

fn with(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (n, v) in pairs {
        h.insert(*n, HeaderValue::from_str(v).unwrap());
    }
    h
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

async fn put_rules(server: &TestServer, bucket: &str) {
    let rules = CorsConfiguration::builder()
        .cors_rules(
            CorsRule::builder()
                .id("app")
                .allowed_origins(APP)
                .allowed_origins("http://*.app.example")
                .allowed_methods("GET")
                .allowed_methods("PUT")
                .allowed_headers("Content-Type")
                .allowed_headers("x-amz-*")
                .expose_headers("ETag")
                .max_age_seconds(600)
                .build()
                .unwrap(),
        )
        .cors_rules(
            CorsRule::builder()
                .allowed_origins("*")
                .allowed_methods("GET")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    server
        .client()
        .put_bucket_cors()
        .bucket(bucket)
        .cors_configuration(rules)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn cors_rules_are_stored_validated_and_removed() {
    let server = TestServer::start();
    let c = server.client();
    c.create_bucket().bucket("rules").send().await.unwrap();
    let err = c.get_bucket_cors().bucket("rules").send().await.unwrap_err();
    assert_eq!(err.into_service_error().meta().code(), Some("NoSuchCORSConfiguration"));
    put_rules(&server, "rules").await;
    let got = c.get_bucket_cors().bucket("rules").send().await.unwrap();
    let rules = got.cors_rules();
    assert_eq!(rules.len(), 2);
    assert_eq!(rules[0].id(), Some("app"));
    assert_eq!(rules[0].allowed_methods(), ["GET", "PUT"]);
    assert_eq!(rules[0].allowed_origins(), [APP, "http://*.app.example"]);
    assert_eq!(rules[0].allowed_headers(), ["Content-Type", "x-amz-*"]);
    assert_eq!(rules[0].expose_headers(), ["ETag"]);
    assert_eq!(rules[0].max_age_seconds(), Some(600));
    assert_eq!(rules[1].allowed_origins(), ["*"]);

    // S3's validation, on raw documents.
    let put = |doc: String, md5: bool| {
        let server = &server;
        async move {
            use md5::Digest;
            let body = doc.into_bytes();
            let digest = b64(&md5::Md5::digest(&body));
            let extra: Vec<(&str, &str)> = if md5 {
                vec![("content-md5", digest.as_str())]
            } else {
                vec![]
            };
            server.signed("PUT", "/rules?cors", &extra, body, None).await
        }
    };
    let rule = |inner: &str| format!("<CORSConfiguration><CORSRule>{inner}</CORSRule></CORSConfiguration>");
    for (doc, code) in [
        (
            rule("<AllowedMethod>PATCH</AllowedMethod><AllowedOrigin>*</AllowedOrigin>"),
            "InvalidRequest",
        ),
        (
            rule("<AllowedMethod>GET</AllowedMethod><AllowedOrigin>*.*</AllowedOrigin>"),
            "InvalidRequest",
        ),
        (rule("<AllowedMethod>GET</AllowedMethod>"), "MalformedXML"),
        (
            rule("<AllowedMethod>GET</AllowedMethod><AllowedOrigin>*</AllowedOrigin><ExposeHeader>*</ExposeHeader>"),
            "InvalidRequest",
        ),
        ("<CORSConfiguration/>".to_owned(), "MalformedXML"),
    ] {
        let (status, _, body) = put(doc.clone(), true).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{doc}");
        assert_eq!(error_code(&body), code, "{doc}");
    }
    let many: String = (0..101)
        .map(|_| "<CORSRule><AllowedMethod>GET</AllowedMethod><AllowedOrigin>*</AllowedOrigin></CORSRule>")
        .collect();
    let doc = format!("<CORSConfiguration>{many}</CORSConfiguration>");
    assert_eq!(error_code(&put(doc, true).await.2), "InvalidRequest");
    // Content-MD5 is required, and must match.
    let ok = "<CORSConfiguration><CORSRule><AllowedMethod>GET</AllowedMethod><AllowedOrigin>*</AllowedOrigin></CORSRule></CORSConfiguration>";
    let (status, _, body) = put(ok.to_owned(), false).await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (StatusCode::BAD_REQUEST, "InvalidRequest")
    );
    let (status, _, body) = server
        .signed(
            "PUT",
            "/rules?cors",
            &[("content-md5", "1B2M2Y8AsgTpgAmY7PhCfg==")],
            ok.as_bytes().to_vec(),
            None,
        )
        .await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (StatusCode::BAD_REQUEST, "BadDigest")
    );
    // The rules above are still in force.
    assert_eq!(
        c.get_bucket_cors()
            .bucket("rules")
            .send()
            .await
            .unwrap()
            .cors_rules()
            .len(),
        2
    );

    c.delete_bucket_cors().bucket("rules").send().await.unwrap();
    let err = c.get_bucket_cors().bucket("rules").send().await.unwrap_err();
    assert_eq!(err.into_service_error().meta().code(), Some("NoSuchCORSConfiguration"));
}

#[tokio::test]
async fn preflights_are_answered_as_s3_does() {
    let server = TestServer::start();
    let c = server.client();
    c.create_bucket().bucket("web").send().await.unwrap();
    c.create_bucket().bucket("plain").send().await.unwrap();
    put_rules(&server, "web").await;

    // Allowed: the request's origin, the rule's methods, the requested headers, max age.
    let h = with(&[
        ("origin", APP),
        ("access-control-request-method", "PUT"),
        (
            "access-control-request-headers",
            "content-type, x-amz-date, X-Amz-Content-Sha256",
        ),
    ]);
    let (status, rh, body) = server.raw("OPTIONS", "/web/some/key.txt", &h, vec![]).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    assert_eq!(header(&rh, "access-control-allow-origin"), Some(APP));
    assert_eq!(header(&rh, "access-control-allow-methods"), Some("GET, PUT"));
    assert_eq!(
        header(&rh, "access-control-allow-headers"),
        Some("content-type, x-amz-date, x-amz-content-sha256")
    );
    assert_eq!(header(&rh, "access-control-max-age"), Some("600"));
    assert_eq!(header(&rh, "access-control-expose-headers"), Some("ETag"));
    assert_eq!(header(&rh, "access-control-allow-credentials"), Some("true"));
    assert_eq!(
        header(&rh, "vary"),
        Some("Origin, Access-Control-Request-Headers, Access-Control-Request-Method")
    );
    assert!(rh.contains_key("x-amz-request-id"));
    // A wildcard origin of the first rule; the bucket path too.
    let h = with(&[
        ("origin", "http://eu.app.example"),
        ("access-control-request-method", "GET"),
    ]);
    let (status, rh, _) = server.raw("OPTIONS", "/web", &h, vec![]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        header(&rh, "access-control-allow-origin"),
        Some("http://eu.app.example")
    );
    // Any origin may GET by the second rule: `*` is answered as `*`, without credentials.
    let h = with(&[
        ("origin", "https://evil.example"),
        ("access-control-request-method", "GET"),
    ]);
    let (status, rh, _) = server.raw("OPTIONS", "/web/k", &h, vec![]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(header(&rh, "access-control-allow-origin"), Some("*"));
    assert_eq!(header(&rh, "access-control-allow-methods"), Some("GET"));
    assert_eq!(header(&rh, "access-control-allow-credentials"), None);

    // Refused: a denied origin (for PUT), a denied header, no origin, no method, no rules.
    let refused = |h: HeaderMap, path: &'static str| {
        let server = &server;
        async move { server.raw("OPTIONS", path, &h, vec![]).await }
    };
    let (status, rh, body) = refused(
        with(&[
            ("origin", "https://evil.example"),
            ("access-control-request-method", "PUT"),
        ]),
        "/web/k",
    )
    .await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (StatusCode::FORBIDDEN, "AccessForbidden")
    );
    assert_eq!(header(&rh, "access-control-allow-origin"), None);
    let (status, _, body) = refused(
        with(&[
            ("origin", APP),
            ("access-control-request-method", "PUT"),
            ("access-control-request-headers", "content-type, x-custom-header"),
        ]),
        "/web/k",
    )
    .await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (StatusCode::FORBIDDEN, "AccessForbidden")
    );
    let (status, _, body) = refused(with(&[("access-control-request-method", "GET")]), "/web/k").await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (StatusCode::BAD_REQUEST, "BadRequest")
    );
    let (status, _, body) = refused(with(&[("origin", APP)]), "/web/k").await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (StatusCode::BAD_REQUEST, "BadRequest")
    );
    let (status, _, body) = refused(
        with(&[("origin", APP), ("access-control-request-method", "GET")]),
        "/plain/k",
    )
    .await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (StatusCode::FORBIDDEN, "AccessForbidden")
    );
    assert!(String::from_utf8_lossy(&body).contains("CORS is not enabled for this bucket"));
    let (status, _, body) = refused(
        with(&[("origin", APP), ("access-control-request-method", "GET")]),
        "/nope/k",
    )
    .await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (StatusCode::NOT_FOUND, "NoSuchBucket")
    );
    // A preflight needs no signature, and a bad one is not looked at.
    let h = with(&[
        ("origin", APP),
        ("access-control-request-method", "GET"),
        (
            "authorization",
            "AWS4-HMAC-SHA256 Credential=nobody/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00",
        ),
    ]);
    assert_eq!(server.raw("OPTIONS", "/web/k", &h, vec![]).await.0, StatusCode::OK);
}

#[tokio::test]
async fn actual_responses_carry_cors_headers() {
    let server = TestServer::start();
    let c = server.client();
    c.create_bucket().bucket("web").send().await.unwrap();
    put_rules(&server, "web").await;

    // A signed cross-origin PUT and GET, as a browser app with credentials sends them.
    let (status, rh, _) = server
        .signed("PUT", "/web/doc.txt", &[("origin", APP)], b"hello".to_vec(), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(header(&rh, "access-control-allow-origin"), Some(APP));
    assert_eq!(header(&rh, "access-control-allow-methods"), Some("GET, PUT"));
    assert_eq!(header(&rh, "access-control-expose-headers"), Some("ETag"));
    assert_eq!(header(&rh, "access-control-allow-credentials"), Some("true"));
    assert_eq!(
        header(&rh, "vary"),
        Some("Origin, Access-Control-Request-Headers, Access-Control-Request-Method")
    );
    // No max age and no allowed headers on an actual answer.
    assert_eq!(header(&rh, "access-control-max-age"), None);
    assert_eq!(header(&rh, "access-control-allow-headers"), None);
    let (status, rh, body) = server
        .signed("GET", "/web/doc.txt", &[("origin", APP)], vec![], None)
        .await;
    assert_eq!((status, &body[..]), (StatusCode::OK, &b"hello"[..]));
    assert_eq!(header(&rh, "access-control-allow-origin"), Some(APP));

    // Errors carry them too: an anonymous GET of a private object from any origin.
    let (status, rh, body) = server
        .raw(
            "GET",
            "/web/doc.txt",
            &with(&[("origin", "https://evil.example")]),
            vec![],
        )
        .await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (StatusCode::FORBIDDEN, "AccessDenied")
    );
    assert_eq!(header(&rh, "access-control-allow-origin"), Some("*"));
    // A method no rule allows for that origin: no CORS headers (the request itself is
    // answered as it would be without Origin).
    let (status, rh, _) = server
        .signed(
            "PUT",
            "/web/other.txt",
            &[("origin", "https://evil.example")],
            b"x".to_vec(),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(header(&rh, "access-control-allow-origin"), None);
    // Without Origin: nothing.
    let (_, rh, _) = server.signed("GET", "/web/doc.txt", &[], vec![], None).await;
    assert_eq!(header(&rh, "access-control-allow-origin"), None);
    assert_eq!(header(&rh, "vary"), None);

    // A presigned GET from the app's page.
    let uri: Uri = "/web/doc.txt".parse().unwrap();
    let now = time::OffsetDateTime::now_utc();
    let url = ksan_proto::auth::sign::presign_v4(&Method::GET, &uri, &server.s3, ROOT_AK, ROOT_SK, REGION, now, 300);
    let (status, rh, body) = server.raw("GET", &url, &with(&[("origin", APP)]), vec![]).await;
    assert_eq!((status, &body[..]), (StatusCode::OK, &b"hello"[..]));
    assert_eq!(header(&rh, "access-control-allow-origin"), Some(APP));
    // ... and a presigned OPTIONS without Origin is a bad request, as S3 answers it.
    let (status, _, body) = server.raw("OPTIONS", &url, &HeaderMap::new(), vec![]).await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (StatusCode::BAD_REQUEST, "BadRequest")
    );
}

#[tokio::test]
async fn bucket_tags_and_resource_tag_policies() {
    let server = TestServer::start();
    let c = server.client();
    c.create_bucket().bucket("tagged").send().await.unwrap();
    let err = c.get_bucket_tagging().bucket("tagged").send().await.unwrap_err();
    assert_eq!(err.into_service_error().meta().code(), Some("NoSuchTagSet"));
    let tagging = |pairs: &[(&str, &str)]| {
        let mut t = Tagging::builder();
        for (k, v) in pairs {
            t = t.tag_set(Tag::builder().key(*k).value(*v).build().unwrap());
        }
        t.build().unwrap()
    };
    c.put_bucket_tagging()
        .bucket("tagged")
        .tagging(tagging(&[("team", "web"), ("env", "prod"), ("note", "")]))
        .send()
        .await
        .unwrap();
    let got = c.get_bucket_tagging().bucket("tagged").send().await.unwrap();
    let pairs: Vec<(&str, &str)> = got.tag_set().iter().map(|t| (t.key(), t.value())).collect();
    assert_eq!(pairs, [("env", "prod"), ("note", ""), ("team", "web")]);

    // S3's rules: 50 at most, no aws: keys, no duplicates, key ≤ 128 and value ≤ 256 characters.
    let fifty_one: Vec<(String, String)> = (0..51).map(|i| (format!("k{i}"), "v".to_owned())).collect();
    let refs: Vec<(&str, &str)> = fifty_one.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let long_key = "k".repeat(129);
    let long_value = "é".repeat(257);
    for bad in [
        refs.clone(),
        vec![("aws:cloudformation", "x")],
        vec![("a", "1"), ("a", "2")],
        vec![(long_key.as_str(), "v")],
        vec![("k", long_value.as_str())],
    ] {
        let err = c
            .put_bucket_tagging()
            .bucket("tagged")
            .tagging(tagging(&bad))
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            err.into_service_error().meta().code(),
            Some("InvalidTag"),
            "{:?}",
            &bad[..1]
        );
    }
    let ok: Vec<(&str, &str)> = refs[..50].to_vec();
    c.put_bucket_tagging()
        .bucket("tagged")
        .tagging(tagging(&ok))
        .send()
        .await
        .unwrap();
    assert_eq!(
        c.get_bucket_tagging()
            .bucket("tagged")
            .send()
            .await
            .unwrap()
            .tag_set()
            .len(),
        50
    );
    // Without Content-MD5 (or a checksum): refused.
    let doc = b"<Tagging><TagSet><Tag><Key>a</Key><Value>b</Value></Tag></TagSet></Tagging>".to_vec();
    let (status, _, body) = server.signed("PUT", "/tagged?tagging", &[], doc, None).await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (StatusCode::BAD_REQUEST, "InvalidRequest")
    );

    // A policy that lets anyone read buckets tagged public=yes.
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject",
        "Resource":"arn:aws:s3:::tagged/*","Condition":{"StringEquals":{"aws:ResourceTag/public":"yes"}}}]}"#;
    c.put_bucket_policy()
        .bucket("tagged")
        .policy(policy)
        .send()
        .await
        .unwrap();
    c.put_object()
        .bucket("tagged")
        .key("o")
        .body(b"data".to_vec().into())
        .send()
        .await
        .unwrap();
    assert_eq!(
        server.raw("GET", "/tagged/o", &HeaderMap::new(), vec![]).await.0,
        StatusCode::FORBIDDEN
    );
    c.put_bucket_tagging()
        .bucket("tagged")
        .tagging(tagging(&[("public", "yes")]))
        .send()
        .await
        .unwrap();
    let (status, _, body) = server.raw("GET", "/tagged/o", &HeaderMap::new(), vec![]).await;
    assert_eq!((status, &body[..]), (StatusCode::OK, &b"data"[..]));
    c.delete_bucket_tagging().bucket("tagged").send().await.unwrap();
    assert_eq!(
        server.raw("GET", "/tagged/o", &HeaderMap::new(), vec![]).await.0,
        StatusCode::FORBIDDEN
    );
    let err = c.get_bucket_tagging().bucket("tagged").send().await.unwrap_err();
    assert_eq!(err.into_service_error().meta().code(), Some("NoSuchTagSet"));
}
