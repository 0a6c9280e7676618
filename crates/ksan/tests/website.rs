//! Static website hosting: the configuration's operations through aws-sdk-s3, and the
//! website endpoint driven with raw HTTP as a browser (or curl) reaches it: `bucket.DOMAIN`
//! on the S3 port, a CNAME, and a listener of its own.

mod common;

use aws_sdk_s3::types::{
    Condition, ErrorDocument, IndexDocument, Protocol, Redirect, RedirectAllRequestsTo, RoutingRule,
    WebsiteConfiguration,
};
use common::*;
use http::{HeaderMap, HeaderValue, StatusCode};

const DOMAIN: &str = "web.test";

fn host(h: &str) -> HeaderMap {
    let mut m = HeaderMap::new();
    m.insert(http::header::HOST, HeaderValue::from_str(h).unwrap());
    m
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

fn public_read(bucket: &str, list: bool) -> String {
    let list_stmt = if list {
        format!(r#",{{"Effect":"Allow","Principal":"*","Action":"s3:ListBucket","Resource":"arn:aws:s3:::{bucket}"}}"#)
    } else {
        String::new()
    };
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::{bucket}/*"}}{list_stmt}]}}"#
    )
}

async fn put(c: &aws_sdk_s3::Client, bucket: &str, key: &str, body: &str) {
    c.put_object()
        .bucket(bucket)
        .key(key)
        .content_type("text/html")
        .body(body.as_bytes().to_vec().into())
        .send()
        .await
        .unwrap();
}

/// A bucket made a public site: a public-read policy (with ListBucket if `list`), an index
/// page with `index` as its text, and a website configuration with only an index document.
async fn public_site(c: &aws_sdk_s3::Client, bucket: &str, list: bool, index: &str) {
    c.create_bucket().bucket(bucket).send().await.unwrap();
    c.put_bucket_policy()
        .bucket(bucket)
        .policy(public_read(bucket, list))
        .send()
        .await
        .unwrap();
    put(c, bucket, "index.html", index).await;
    c.put_bucket_website()
        .bucket(bucket)
        .website_configuration(index_only())
        .send()
        .await
        .unwrap();
}

fn index_only() -> WebsiteConfiguration {
    WebsiteConfiguration::builder()
        .index_document(IndexDocument::builder().suffix("index.html").build().unwrap())
        .build()
}

fn site_config() -> WebsiteConfiguration {
    WebsiteConfiguration::builder()
        .index_document(IndexDocument::builder().suffix("index.html").build().unwrap())
        .error_document(ErrorDocument::builder().key("error.html").build().unwrap())
        .routing_rules(
            RoutingRule::builder()
                .condition(Condition::builder().key_prefix_equals("old/").build())
                .redirect(Redirect::builder().replace_key_prefix_with("new/").build())
                .build(),
        )
        .routing_rules(
            RoutingRule::builder()
                .condition(
                    Condition::builder()
                        .key_prefix_equals("gone/")
                        .http_error_code_returned_equals("404")
                        .build(),
                )
                .redirect(
                    Redirect::builder()
                        .host_name("archive.example")
                        .protocol(Protocol::Https)
                        .http_redirect_code("302")
                        .build(),
                )
                .build(),
        )
        .build()
}

#[tokio::test]
async fn website_configuration_operations() {
    let server = TestServer::start();
    let c = server.client();
    c.create_bucket().bucket("cfg").send().await.unwrap();
    let err = c.get_bucket_website().bucket("cfg").send().await.unwrap_err();
    assert_eq!(
        err.into_service_error().meta().code(),
        Some("NoSuchWebsiteConfiguration")
    );
    c.put_bucket_website()
        .bucket("cfg")
        .website_configuration(site_config())
        .send()
        .await
        .unwrap();
    let got = c.get_bucket_website().bucket("cfg").send().await.unwrap();
    assert_eq!(got.index_document().map(|i| i.suffix()), Some("index.html"));
    assert_eq!(got.error_document().map(|e| e.key()), Some("error.html"));
    let rules = got.routing_rules();
    assert_eq!(rules.len(), 2);
    assert_eq!(rules[0].condition().and_then(|c| c.key_prefix_equals()), Some("old/"));
    assert_eq!(
        rules[0].redirect().and_then(|r| r.replace_key_prefix_with()),
        Some("new/")
    );
    assert_eq!(
        rules[1].condition().and_then(|c| c.http_error_code_returned_equals()),
        Some("404")
    );
    assert_eq!(rules[1].redirect().and_then(|r| r.http_redirect_code()), Some("302"));

    // S3's validation.
    let bad = [
        WebsiteConfiguration::builder().build(),
        WebsiteConfiguration::builder()
            .index_document(IndexDocument::builder().suffix("a/index.html").build().unwrap())
            .build(),
        WebsiteConfiguration::builder()
            .redirect_all_requests_to(RedirectAllRequestsTo::builder().host_name("x.example").build().unwrap())
            .index_document(IndexDocument::builder().suffix("index.html").build().unwrap())
            .build(),
        WebsiteConfiguration::builder()
            .index_document(IndexDocument::builder().suffix("index.html").build().unwrap())
            .routing_rules(
                RoutingRule::builder()
                    .redirect(
                        Redirect::builder()
                            .replace_key_with("a")
                            .replace_key_prefix_with("b")
                            .build(),
                    )
                    .build(),
            )
            .build(),
        WebsiteConfiguration::builder()
            .index_document(IndexDocument::builder().suffix("index.html").build().unwrap())
            .routing_rules(
                RoutingRule::builder()
                    .redirect(Redirect::builder().http_redirect_code("200").build())
                    .build(),
            )
            .build(),
    ];
    for config in bad {
        let err = c
            .put_bucket_website()
            .bucket("cfg")
            .website_configuration(config.clone())
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            err.into_service_error().meta().code(),
            Some("InvalidArgument"),
            "{config:?}"
        );
    }
    c.delete_bucket_website().bucket("cfg").send().await.unwrap();
    let err = c.get_bucket_website().bucket("cfg").send().await.unwrap_err();
    assert_eq!(
        err.into_service_error().meta().code(),
        Some("NoSuchWebsiteConfiguration")
    );

    // x-amz-website-redirect-location: stored, shown on HEAD, checked, not copied.
    c.put_object()
        .bucket("cfg")
        .key("moved")
        .website_redirect_location("/new.html")
        .body(Vec::new().into())
        .send()
        .await
        .unwrap();
    let head = c.head_object().bucket("cfg").key("moved").send().await.unwrap();
    assert_eq!(head.website_redirect_location(), Some("/new.html"));
    let err = c
        .put_object()
        .bucket("cfg")
        .key("bad")
        .website_redirect_location("ftp://x")
        .body(Vec::new().into())
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.into_service_error().meta().code(), Some("InvalidRedirectLocation"));
    c.copy_object()
        .bucket("cfg")
        .key("copy")
        .copy_source("cfg/moved")
        .send()
        .await
        .unwrap();
    let head = c.head_object().bucket("cfg").key("copy").send().await.unwrap();
    assert_eq!(head.website_redirect_location(), None);
    // Setting one on the object itself is a change that makes a self-copy legal.
    c.copy_object()
        .bucket("cfg")
        .key("copy")
        .copy_source("cfg/copy")
        .website_redirect_location("https://example.org/")
        .send()
        .await
        .unwrap();
    let head = c.head_object().bucket("cfg").key("copy").send().await.unwrap();
    assert_eq!(head.website_redirect_location(), Some("https://example.org/"));
    let upload = c
        .create_multipart_upload()
        .bucket("cfg")
        .key("mp")
        .website_redirect_location("/index.html")
        .send()
        .await
        .unwrap();
    let part = c
        .upload_part()
        .bucket("cfg")
        .key("mp")
        .upload_id(upload.upload_id().unwrap())
        .part_number(1)
        .body(b"part".to_vec().into())
        .send()
        .await
        .unwrap();
    c.complete_multipart_upload()
        .bucket("cfg")
        .key("mp")
        .upload_id(upload.upload_id().unwrap())
        .multipart_upload(
            aws_sdk_s3::types::CompletedMultipartUpload::builder()
                .parts(
                    aws_sdk_s3::types::CompletedPart::builder()
                        .part_number(1)
                        .e_tag(part.e_tag().unwrap())
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let head = c.head_object().bucket("cfg").key("mp").send().await.unwrap();
    assert_eq!(head.website_redirect_location(), Some("/index.html"));
}

#[tokio::test]
async fn website_endpoint_serves_a_site() {
    let server = TestServer::start_with(&["--website-domain", DOMAIN]);
    let c = server.client();
    c.create_bucket().bucket("site").send().await.unwrap();
    c.put_bucket_policy()
        .bucket("site")
        .policy(public_read("site", true))
        .send()
        .await
        .unwrap();
    put(&c, "site", "index.html", "<h1>home</h1>").await;
    put(&c, "site", "about/index.html", "<h1>about</h1>").await;
    put(&c, "site", "new/page.html", "<h1>new page</h1>").await;
    put(&c, "site", "error.html", "<h1>oops</h1>").await;
    c.put_object()
        .bucket("site")
        .key("moved.html")
        .website_redirect_location("/about/")
        .body(Vec::new().into())
        .send()
        .await
        .unwrap();
    c.put_bucket_website()
        .bucket("site")
        .website_configuration(site_config())
        .send()
        .await
        .unwrap();
    let site = format!("site.{DOMAIN}:8080");
    let get = |path: &'static str| {
        let (server, h) = (&server, host(&site));
        async move { server.raw("GET", path, &h, vec![]).await }
    };

    // Index documents, at the root and below.
    let (status, h, body) = get("/").await;
    assert_eq!((status, &body[..]), (StatusCode::OK, &b"<h1>home</h1>"[..]));
    assert_eq!(header(&h, "content-type"), Some("text/html"));
    let (status, _, body) = get("/about/").await;
    assert_eq!((status, &body[..]), (StatusCode::OK, &b"<h1>about</h1>"[..]));
    // A directory without its slash.
    let (status, h, _) = get("/about").await;
    assert_eq!(status, StatusCode::FOUND);
    assert_eq!(header(&h, "location"), Some("/about/"));
    // The error document, with the original status.
    let (status, h, body) = get("/missing.html").await;
    assert_eq!((status, &body[..]), (StatusCode::NOT_FOUND, &b"<h1>oops</h1>"[..]));
    assert_eq!(header(&h, "content-type"), Some("text/html"));
    // Routing rules: a prefix replaced before the lookup; an error code after it.
    let (status, h, _) = get("/old/page.html").await;
    assert_eq!(status, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(
        header(&h, "location"),
        Some(format!("http://{site}/new/page.html").as_str())
    );
    let (status, h, _) = get("/gone/thing.html").await;
    assert_eq!(status, StatusCode::FOUND);
    assert_eq!(header(&h, "location"), Some("https://archive.example/gone/thing.html"));
    // An object that redirects.
    let (status, h, _) = get("/moved.html").await;
    assert_eq!(status, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(header(&h, "location"), Some("/about/"));
    // HEAD, Range and conditional GETs as on the REST endpoint.
    let (status, h, body) = server.raw("HEAD", "/index.html", &host(&site), vec![]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(header(&h, "content-length"), Some("13"));
    assert!(body.is_empty());
    let etag = header(&h, "etag").unwrap().to_owned();
    let mut range = host(&site);
    range.insert(http::header::RANGE, HeaderValue::from_static("bytes=4-7"));
    let (status, h, body) = server.raw("GET", "/index.html", &range, vec![]).await;
    assert_eq!((status, &body[..]), (StatusCode::PARTIAL_CONTENT, &b"home"[..]));
    assert_eq!(header(&h, "content-range"), Some("bytes 4-7/13"));
    let mut cond = host(&site);
    cond.insert(http::header::IF_NONE_MATCH, HeaderValue::from_str(&etag).unwrap());
    assert_eq!(server.raw("GET", "/", &cond, vec![]).await.0, StatusCode::NOT_MODIFIED);
    // Only GET and HEAD; errors are HTML pages.
    let (status, h, body) = server.raw("PUT", "/x", &host(&site), b"no".to_vec()).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(header(&h, "content-type"), Some("text/html; charset=utf-8"));
    assert!(String::from_utf8_lossy(&body).contains("<li>Code: MethodNotAllowed</li>"));
    // CORS on the website endpoint: preflights and actual answers, by the bucket's rules.
    let mut pre = host(&site);
    pre.insert("origin", HeaderValue::from_static("https://other.example"));
    pre.insert("access-control-request-method", HeaderValue::from_static("GET"));
    let (status, _, body) = server.raw("OPTIONS", "/index.html", &pre, vec![]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(String::from_utf8_lossy(&body).contains("Code: AccessForbidden"));
    c.put_bucket_cors()
        .bucket("site")
        .cors_configuration(
            aws_sdk_s3::types::CorsConfiguration::builder()
                .cors_rules(
                    aws_sdk_s3::types::CorsRule::builder()
                        .allowed_origins("*")
                        .allowed_methods("GET")
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let (status, h, _) = server.raw("OPTIONS", "/index.html", &pre, vec![]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(header(&h, "access-control-allow-origin"), Some("*"));
    let mut actual = host(&site);
    actual.insert("origin", HeaderValue::from_static("https://other.example"));
    let (status, h, _) = server.raw("GET", "/", &actual, vec![]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(header(&h, "access-control-allow-origin"), Some("*"));
    // The same bucket through the S3 API, path-style, is still the API.
    let (status, _, body) = server.raw("GET", "/site/index.html", &HeaderMap::new(), vec![]).await;
    assert_eq!((status, &body[..]), (StatusCode::OK, &b"<h1>home</h1>"[..]));

    // Without ListBucket a missing page is 403, and the error document says so.
    c.put_bucket_policy()
        .bucket("site")
        .policy(public_read("site", false))
        .send()
        .await
        .unwrap();
    let (status, _, body) = get("/missing.html").await;
    assert_eq!((status, &body[..]), (StatusCode::FORBIDDEN, &b"<h1>oops</h1>"[..]));
    // ... and a directory without its slash is still found.
    let (status, h, _) = get("/about").await;
    assert_eq!(status, StatusCode::FOUND);
    assert_eq!(header(&h, "location"), Some("/about/"));

    // A private bucket: 403, as an HTML page.
    c.create_bucket().bucket("private").send().await.unwrap();
    put(&c, "private", "index.html", "secret").await;
    c.put_bucket_website()
        .bucket("private")
        .website_configuration(index_only())
        .send()
        .await
        .unwrap();
    let (status, h, body) = server
        .raw("GET", "/", &host(&format!("private.{DOMAIN}")), vec![])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(header(&h, "content-type"), Some("text/html; charset=utf-8"));
    let page = String::from_utf8_lossy(&body);
    assert!(
        page.contains("<h1>403 Forbidden</h1>") && page.contains("Code: AccessDenied"),
        "{page}"
    );
    assert!(!page.contains("secret"));

    // Redirect everything to another host.
    c.create_bucket().bucket("old-site").send().await.unwrap();
    c.put_bucket_website()
        .bucket("old-site")
        .website_configuration(
            WebsiteConfiguration::builder()
                .redirect_all_requests_to(
                    RedirectAllRequestsTo::builder()
                        .host_name("new.example")
                        .protocol(Protocol::Https)
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let (status, h, _) = server
        .raw("GET", "/a/b.html", &host(&format!("old-site.{DOMAIN}")), vec![])
        .await;
    assert_eq!(status, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(header(&h, "location"), Some("https://new.example/a/b.html"));

    // No website configuration; no bucket.
    c.create_bucket().bucket("nosite").send().await.unwrap();
    let (status, _, body) = server.raw("GET", "/", &host(&format!("nosite.{DOMAIN}")), vec![]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(String::from_utf8_lossy(&body).contains("Code: NoSuchWebsiteConfiguration"));
    let (status, _, body) = server.raw("GET", "/", &host(&format!("nobody.{DOMAIN}")), vec![]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(String::from_utf8_lossy(&body).contains("Code: NoSuchBucket"));

    // A CNAME: a Host that is a bucket's name.
    public_site(&c, "www.shop.test", false, "shop").await;
    let (status, _, body) = server.raw("GET", "/", &host("www.shop.test"), vec![]).await;
    assert_eq!((status, &body[..]), (StatusCode::OK, &b"shop"[..]));
}

#[tokio::test]
async fn website_listener_of_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let proc = Proc::spawn(
        &dir.path().join("data"),
        &[
            "--listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
            "--website-listen",
            "127.0.0.1:0",
        ],
        &[("KSAN_ROOT_ACCESS_KEY", ROOT_AK), ("KSAN_ROOT_SECRET_KEY", ROOT_SK)],
    );
    let s3 = proc.s3();
    let web = proc.wait_for("ksan website endpoint on http://");
    let c = sdk_client(&format!("http://{s3}"), REGION, ROOT_AK, ROOT_SK);
    public_site(&c, "docs.example.com", true, "docs home").await;
    let (status, _, body) = raw_to(&web, "GET", "/", &host("docs.example.com"), vec![]).await;
    assert_eq!((status, &body[..]), (StatusCode::OK, &b"docs home"[..]));
    // That listener serves websites only: the S3 API is not there.
    let (status, h, body) = raw_to(&web, "GET", "/docs.example.com/index.html", &HeaderMap::new(), vec![]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(header(&h, "content-type"), Some("text/html; charset=utf-8"));
    assert!(String::from_utf8_lossy(&body).contains("NoSuchBucket"));
}
