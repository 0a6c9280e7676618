use super::*;
use bytes::Bytes;
use futures_util::StreamExt;
use http::{HeaderValue, Method, Uri};
use ksan_types::{BodyStream, TrailerSlot};

const AK: &str = "AKIAIOSFODNN7EXAMPLE";
const SK: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

struct Keys;
#[async_trait::async_trait]
impl SecretLookup for Keys {
    async fn secret(&self, ak: &str) -> Result<Option<String>, S3Error> {
        Ok((ak == AK).then(|| SK.to_owned()))
    }
}

fn at(s: &str) -> OffsetDateTime {
    parse_amz_date(s).unwrap()
}

fn req<'a>(method: &'a Method, uri: &'a Uri, headers: &'a HeaderMap, now: OffsetDateTime) -> AuthRequest<'a> {
    AuthRequest {
        method,
        uri,
        headers,
        now,
        region: "us-east-1",
        v2_resource_prefix: None,
    }
}

fn auth(method: &Method, uri: &Uri, headers: &HeaderMap, now: OffsetDateTime) -> Result<Authenticated, S3Error> {
    use futures_util::FutureExt;
    authenticate(&req(method, uri, headers, now), &Keys, &SigningKeyCache::new())
        .now_or_never()
        .expect("lookups are immediate")
}

fn body_of(parts: Vec<Vec<u8>>) -> BodyStream {
    Box::pin(futures_util::stream::iter(
        parts.into_iter().map(|p| Ok(Bytes::from(p))),
    ))
}

async fn collect(mut s: BodyStream) -> (Vec<u8>, Option<S3Error>) {
    let mut out = Vec::new();
    while let Some(item) = s.next().await {
        match item {
            Ok(b) => out.extend_from_slice(&b),
            Err(e) => return (out, Some(e)),
        }
    }
    (out, None)
}

/// The GET Object example of the AWS SigV4 documentation.
#[test]
fn aws_documented_get_example() {
    let mut h = HeaderMap::new();
    h.insert("host", HeaderValue::from_static("examplebucket.s3.amazonaws.com"));
    h.insert("range", HeaderValue::from_static("bytes=0-9"));
    h.insert(
        "x-amz-content-sha256",
        HeaderValue::from_static("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    );
    h.insert("x-amz-date", HeaderValue::from_static("20130524T000000Z"));
    let uri: Uri = "/test.txt".parse().unwrap();
    let sig = sign::signature_v4(
        &Method::GET,
        &uri,
        &h,
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        SK,
        "us-east-1",
        "20130524T000000Z",
    );
    assert_eq!(sig, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    h.insert(
        "authorization",
        HeaderValue::from_str(&format!("AWS4-HMAC-SHA256 Credential={AK}/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature={sig}")).unwrap(),
    );
    let a = auth(&Method::GET, &uri, &h, at("20130524T000100Z")).unwrap();
    assert_eq!(a.access_key.as_deref(), Some(AK));
    assert_eq!(a.kind, SignatureKind::V4Header);
}

fn signed(method: &Method, uri: &Uri, extra: &[(&str, &str)], payload: &str, now: OffsetDateTime) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("host", HeaderValue::from_static("localhost:8080"));
    for (n, v) in extra {
        h.insert(
            http::HeaderName::from_bytes(n.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    sign::sign_v4(method, uri, &mut h, payload, AK, SK, "us-east-1", now);
    h
}

#[test]
fn v4_round_trip_and_failures() {
    let now = at("20260101T120000Z");
    let uri: Uri = "/bucket/a%20key?prefix=x%2Fy&list-type=2".parse().unwrap();
    let h = signed(&Method::GET, &uri, &[("x-amz-meta-a", "b")], "UNSIGNED-PAYLOAD", now);
    assert!(auth(&Method::GET, &uri, &h, now).is_ok());

    let mut tampered = h.clone();
    tampered.insert("x-amz-meta-a", HeaderValue::from_static("c"));
    assert_eq!(
        auth(&Method::GET, &uri, &tampered, now).unwrap_err().code,
        ErrorCode::SignatureDoesNotMatch
    );
    assert_eq!(
        auth(&Method::PUT, &uri, &h, now).unwrap_err().code,
        ErrorCode::SignatureDoesNotMatch
    );
    assert_eq!(
        auth(&Method::GET, &uri, &h, now + time::Duration::minutes(20))
            .unwrap_err()
            .code,
        ErrorCode::RequestTimeTooSkewed
    );
    let mut bad_key = h.clone();
    let a = h
        .get("authorization")
        .unwrap()
        .to_str()
        .unwrap()
        .replace(AK, "NOSUCHKEY");
    bad_key.insert("authorization", HeaderValue::from_str(&a).unwrap());
    assert_eq!(
        auth(&Method::GET, &uri, &bad_key, now).unwrap_err().code,
        ErrorCode::InvalidAccessKeyId
    );
    let wrong_region = h
        .get("authorization")
        .unwrap()
        .to_str()
        .unwrap()
        .replace("us-east-1", "eu-west-1");
    let mut wr = h.clone();
    wr.insert("authorization", HeaderValue::from_str(&wrong_region).unwrap());
    assert_eq!(
        auth(&Method::GET, &uri, &wr, now).unwrap_err().code,
        ErrorCode::AuthorizationHeaderMalformed
    );
}

/// A store that cannot be read: its failure is the request's (500), not "no such key" (403).
#[test]
fn a_failed_secret_lookup_is_an_internal_error() {
    use futures_util::FutureExt;
    struct Broken;
    #[async_trait::async_trait]
    impl SecretLookup for Broken {
        async fn secret(&self, _: &str) -> Result<Option<String>, S3Error> {
            Err(S3Error::new(ErrorCode::InternalError))
        }
    }
    let now = at("20260101T120000Z");
    let uri: Uri = "/bucket/key".parse().unwrap();
    let h = signed(&Method::GET, &uri, &[], "UNSIGNED-PAYLOAD", now);
    let err = authenticate(&req(&Method::GET, &uri, &h, now), &Broken, &SigningKeyCache::new())
        .now_or_never()
        .expect("immediate")
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::InternalError);
    let presigned: Uri = sign::presign_v4(&Method::GET, &uri, "localhost:8080", AK, SK, "us-east-1", now, 60)
        .parse()
        .unwrap();
    let mut host = HeaderMap::new();
    host.insert("host", HeaderValue::from_static("localhost:8080"));
    let err = authenticate(
        &req(&Method::GET, &presigned, &host, now),
        &Broken,
        &SigningKeyCache::new(),
    )
    .now_or_never()
    .expect("immediate")
    .unwrap_err();
    assert_eq!(err.code, ErrorCode::InternalError);
}

#[test]
fn anonymous_and_garbage() {
    let uri: Uri = "/b/k".parse().unwrap();
    let now = at("20260101T120000Z");
    let a = auth(&Method::GET, &uri, &HeaderMap::new(), now).unwrap();
    assert_eq!(a.kind, SignatureKind::Anonymous);
    let mut h = HeaderMap::new();
    h.insert("authorization", HeaderValue::from_static("Bearer x"));
    assert_eq!(
        auth(&Method::GET, &uri, &h, now).unwrap_err().code,
        ErrorCode::InvalidArgument
    );
    h.insert("authorization", HeaderValue::from_static("AWS HAHAHA"));
    assert_eq!(
        auth(&Method::GET, &uri, &h, now).unwrap_err().code,
        ErrorCode::InvalidArgument
    );
}

#[test]
fn presigned_v4() {
    let now = at("20260101T120000Z");
    let uri: Uri = "/bucket/key".parse().unwrap();
    let url = sign::presign_v4(&Method::GET, &uri, "localhost:8080", AK, SK, "us-east-1", now, 60);
    let presigned: Uri = url.parse().unwrap();
    let mut h = HeaderMap::new();
    h.insert("host", HeaderValue::from_static("localhost:8080"));
    let a = auth(&Method::GET, &presigned, &h, now + time::Duration::seconds(30)).unwrap();
    assert_eq!(a.kind, SignatureKind::V4Query);
    let e = auth(&Method::GET, &presigned, &h, now + time::Duration::seconds(61)).unwrap_err();
    assert_eq!(e.code, ErrorCode::AccessDenied);
    assert_eq!(e.message, "Request has expired");
    let tampered: Uri = url.replace("/key?", "/other?").parse().unwrap();
    assert_eq!(
        auth(&Method::GET, &tampered, &h, now).unwrap_err().code,
        ErrorCode::SignatureDoesNotMatch
    );
}

/// S3 takes X-Amz-Expires from 0 to 604800 (seven days); anything else is a malformed
/// query (400 AuthorizationQueryParametersError), checked before the signature.
#[test]
fn presigned_v4_expiry_range() {
    let now = at("20260101T120000Z");
    let uri: Uri = "/bucket/key".parse().unwrap();
    let mut h = HeaderMap::new();
    h.insert("host", HeaderValue::from_static("localhost:8080"));
    let week: Uri = sign::presign_v4(&Method::GET, &uri, "localhost:8080", AK, SK, "us-east-1", now, 604_800)
        .parse()
        .unwrap();
    assert!(auth(&Method::GET, &week, &h, now + time::Duration::days(6)).is_ok());
    let url = sign::presign_v4(&Method::GET, &uri, "localhost:8080", AK, SK, "us-east-1", now, 60);
    for (bad, message) in [
        (
            "604801",
            "X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than 604800 seconds",
        ),
        ("99999999999999999999", "X-Amz-Expires should be a number"),
        ("-7", "X-Amz-Expires must be non-negative"),
        ("ten", "X-Amz-Expires should be a number"),
        ("", "X-Amz-Expires should be a number"),
        ("1.5", "X-Amz-Expires should be a number"),
    ] {
        let u: Uri = url
            .replace("X-Amz-Expires=60", &format!("X-Amz-Expires={bad}"))
            .parse()
            .unwrap();
        let e = auth(&Method::GET, &u, &h, now).unwrap_err();
        assert_eq!(e.code, ErrorCode::AuthorizationQueryParametersError, "{bad}");
        assert_eq!(e.code.status(), 400, "{bad}");
        assert_eq!(e.message, message, "{bad}");
    }
    // Zero is in range, and expired as soon as the signing second has passed.
    let zero: Uri = sign::presign_v4(&Method::GET, &uri, "localhost:8080", AK, SK, "us-east-1", now, 0)
        .parse()
        .unwrap();
    let e = auth(&Method::GET, &zero, &h, now + time::Duration::seconds(1)).unwrap_err();
    assert_eq!(e.code, ErrorCode::AccessDenied);
}

#[test]
fn v2_header_and_query() {
    let now = OffsetDateTime::now_utc();
    let uri: Uri = "/bucket/key?acl".parse().unwrap();
    let mut h = HeaderMap::new();
    h.insert(
        "date",
        HeaderValue::from_str(&httpdate::fmt_http_date(now.into())).unwrap(),
    );
    h.insert("content-type", HeaderValue::from_static("text/plain"));
    let v = sign::sign_v2(&Method::PUT, &uri, &h, AK, SK);
    h.insert("authorization", HeaderValue::from_str(&v).unwrap());
    assert_eq!(auth(&Method::PUT, &uri, &h, now).unwrap().kind, SignatureKind::V2Header);
    assert_eq!(
        auth(&Method::GET, &uri, &h, now).unwrap_err().code,
        ErrorCode::SignatureDoesNotMatch
    );
    // a date far off
    assert_eq!(
        auth(&Method::PUT, &uri, &h, now + time::Duration::hours(1))
            .unwrap_err()
            .code,
        ErrorCode::RequestTimeTooSkewed
    );
    let q: Uri = sign::presign_v2(
        &Method::GET,
        &"/bucket/key".parse().unwrap(),
        AK,
        SK,
        now.unix_timestamp() + 60,
    )
    .parse()
    .unwrap();
    assert_eq!(
        auth(&Method::GET, &q, &HeaderMap::new(), now).unwrap().kind,
        SignatureKind::V2Query
    );
    assert_eq!(
        auth(&Method::GET, &q, &HeaderMap::new(), now + time::Duration::seconds(120))
            .unwrap_err()
            .code,
        ErrorCode::AccessDenied
    );
}

fn streaming_ctx(seed: &str, amz_date: &str, trailer: bool) -> PayloadCheck {
    PayloadCheck::Streaming(StreamingContext {
        seed_signature: seed.to_owned(),
        signing_key: canonical::signing_key(SK, &amz_date[..8], "us-east-1", "s3"),
        amz_date: amz_date.to_owned(),
        scope: format!("{}/us-east-1/s3/aws4_request", &amz_date[..8]),
        trailer,
    })
}

/// The chunked upload example of the AWS documentation (66,560 bytes of 'a', 64 KiB chunks).
#[test]
fn aws_documented_chunk_signatures() {
    let data = vec![b'a'; 66560];
    let body = sign::chunked_signed_body(
        &data,
        65536,
        "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
        SK,
        "us-east-1",
        "20130524T000000Z",
    );
    let text = String::from_utf8_lossy(&body);
    assert!(
        text.starts_with("10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n")
    );
    assert!(text.contains("400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497\r\n"));
    assert!(
        text.ends_with("0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n\r\n")
    );
}

#[tokio::test]
async fn chunked_bodies_decode_byte_by_byte_and_reject_bad_chunks() {
    let seed = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";
    let data: Vec<u8> = (0..3000u32).map(|i| i as u8).collect();
    let body = sign::chunked_signed_body(&data, 1024, seed, SK, "us-east-1", "20130524T000000Z");
    let one_byte_each: Vec<Vec<u8>> = body.iter().map(|b| vec![*b]).collect();
    let decoded = decode_body(
        body_of(one_byte_each),
        streaming_ctx(seed, "20130524T000000Z", false),
        TrailerSlot::new(),
        Some(3000),
    );
    let (out, err) = collect(decoded).await;
    assert!(err.is_none(), "{err:?}");
    assert!(out == data);

    // flip one byte of the second chunk's data: the first chunk arrives, the second never does
    let mut bad = body.clone();
    let second = bad
        .windows(2)
        .enumerate()
        .filter(|(_, w)| *w == b"\r\n")
        .nth(2)
        .unwrap()
        .0
        + 2;
    bad[second + 10] ^= 1;
    let (out, err) = collect(decode_body(
        body_of(vec![bad]),
        streaming_ctx(seed, "20130524T000000Z", false),
        TrailerSlot::new(),
        None,
    ))
    .await;
    assert_eq!(err.unwrap().code, ErrorCode::SignatureDoesNotMatch);
    assert_eq!(out.len(), 1024);
    assert!(out == data[..1024]);

    // wrong decoded length
    let (_, err) = collect(decode_body(
        body_of(vec![body.clone()]),
        streaming_ctx(seed, "20130524T000000Z", false),
        TrailerSlot::new(),
        Some(5),
    ))
    .await;
    assert_eq!(err.unwrap().code, ErrorCode::IncompleteBody);
    // truncated
    let (_, err) = collect(decode_body(
        body_of(vec![body[..body.len() - 20].to_vec()]),
        streaming_ctx(seed, "20130524T000000Z", false),
        TrailerSlot::new(),
        None,
    ))
    .await;
    assert!(err.is_some());
}

#[tokio::test]
async fn unsigned_trailers_are_collected() {
    let body = sign::chunked_unsigned_body(b"hello world", 4, &[("x-amz-checksum-crc32", "DUoRhQ==")]);
    let slot = TrailerSlot::new();
    let (out, err) = collect(decode_body(
        body_of(vec![body]),
        PayloadCheck::UnsignedTrailer,
        slot.clone(),
        Some(11),
    ))
    .await;
    assert!(err.is_none());
    assert_eq!(out, b"hello world");
    assert_eq!(slot.get("x-amz-checksum-crc32"), Some("DUoRhQ=="));
}

#[tokio::test]
async fn sha256_payload_is_checked() {
    use sha2::Digest;
    let good: [u8; 32] = sha2::Sha256::digest(b"abc").into();
    let (out, err) = collect(decode_body(
        body_of(vec![b"ab".to_vec(), b"c".to_vec()]),
        PayloadCheck::Sha256(good),
        TrailerSlot::new(),
        None,
    ))
    .await;
    assert!(err.is_none());
    assert_eq!(out, b"abc");
    let (_, err) = collect(decode_body(
        body_of(vec![b"abd".to_vec()]),
        PayloadCheck::Sha256(good),
        TrailerSlot::new(),
        None,
    ))
    .await;
    assert_eq!(err.unwrap().code, ErrorCode::XAmzContentSHA256Mismatch);
}

#[test]
fn logged_uris_hide_secrets() {
    let uri: Uri = "/b/k?X-Amz-Credential=AK%2F20260101&X-Amz-Signature=abcdef&x-id=GetObject&Signature=zz%3D&X-Amz-Security-Token=tok&x-amz-server-side-encryption-customer-key=a2V5&flag"
        .parse()
        .unwrap();
    let logged = redacted_uri(&uri);
    assert_eq!(
        logged,
        "/b/k?X-Amz-Credential=AK%2F20260101&X-Amz-Signature=REDACTED&x-id=GetObject&Signature=REDACTED&X-Amz-Security-Token=REDACTED&x-amz-server-side-encryption-customer-key=REDACTED&flag"
    );
    let plain: Uri = "/b/k".parse().unwrap();
    assert_eq!(redacted_uri(&plain), "/b/k");
}
