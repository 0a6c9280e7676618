//! Property tests of every parser that reads what a client sends (the same parsers the fuzz
//! targets in `fuzz/` drive): the XML reader and the typed documents, SigV4 (Authorization
//! header and presigned query), the aws-chunked decoder, the Range header, RFC 2047 header
//! text. Each must never panic, whatever the input, and must read back what the matching
//! writer wrote.

use bytes::Bytes;
use futures_util::StreamExt;
use http::{HeaderMap, HeaderValue, Method, Uri};
use ksan_proto::auth::{self, AuthRequest, PayloadCheck, SecretLookup, SigningKeyCache, sign};
use ksan_proto::documents::{self, XmlDocument};
use ksan_proto::{header_text, range, xml};
use ksan_types::{BodyStream, S3Error, TrailerSlot};
use proptest::prelude::*;

const AK: &str = "AKIAPROPTEST00000001";
const SK: &str = "proptest-secret-key-000000000000000000001";

struct Keys;
#[async_trait::async_trait]
impl SecretLookup for Keys {
    async fn secret(&self, ak: &str) -> Result<Option<String>, S3Error> {
        Ok((ak == AK).then(|| SK.to_owned()))
    }
}

fn now() -> time::OffsetDateTime {
    time::macros::datetime!(2026-06-01 12:00 UTC)
}

fn authenticate(method: &Method, uri: &Uri, headers: &HeaderMap) -> Result<auth::Authenticated, S3Error> {
    use futures_util::FutureExt;
    let req = AuthRequest {
        method,
        uri,
        headers,
        now: now(),
        region: "us-east-1",
        v2_resource_prefix: None,
    };
    auth::authenticate(&req, &Keys, &SigningKeyCache::new())
        .now_or_never()
        .expect("lookups are immediate")
}

fn collect(body: BodyStream) -> (Vec<u8>, Option<S3Error>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    rt.block_on(async move {
        let mut body = body;
        let mut out = Vec::new();
        while let Some(item) = body.next().await {
            match item {
                Ok(b) => out.extend_from_slice(&b),
                Err(e) => return (out, Some(e)),
            }
        }
        (out, None)
    })
}

/// Split `data` into chunks at arbitrary points, as a network delivers a body.
fn pieces(data: Vec<u8>, cuts: &[usize]) -> BodyStream {
    let mut out = Vec::new();
    let mut rest = Bytes::from(data);
    for c in cuts {
        if rest.is_empty() {
            break;
        }
        let at = c % rest.len().max(1);
        out.push(Ok(rest.split_to(at.max(1).min(rest.len()))));
    }
    if !rest.is_empty() {
        out.push(Ok(rest));
    }
    Box::pin(futures_util::stream::iter(out))
}

fn name() -> impl Strategy<Value = String> {
    "[A-Za-z][A-Za-z0-9]{0,12}"
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

    #[test]
    fn xml_never_panics(doc in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = xml::parse(&doc);
        let _ = documents::CompleteMultipartUpload::from_xml(&doc);
        let _ = documents::Tagging::from_xml(&doc);
        let _ = documents::DeleteRequest::from_xml(&doc);
        let _ = documents::AccessControlPolicy::from_xml(&doc);
        let _ = documents::VersioningConfiguration::from_xml(&doc);
        let _ = documents::CreateBucketConfiguration::from_xml(&doc);
        let _ = documents::OwnershipControls::from_xml(&doc);
        let _ = documents::PublicAccessBlockConfiguration::from_xml(&doc);
    }

    #[test]
    fn xml_shaped_input_never_panics(parts in proptest::collection::vec(
        prop_oneof![
            Just("<a>".to_owned()), Just("</a>".to_owned()), Just("<Tagging>".to_owned()),
            Just("</Tagging>".to_owned()), Just("<?xml version=\"1.0\"?>".to_owned()),
            Just("<!DOCTYPE x [<!ENTITY e \"x\">]>".to_owned()), Just("&e;".to_owned()),
            Just("&amp;".to_owned()), Just("<![CDATA[".to_owned()), Just("]]>".to_owned()),
            Just("<b x='1'/>".to_owned()), "[^<>&]{0,8}",
        ], 0..200)) {
        let doc = parts.concat();
        let _ = xml::parse(doc.as_bytes());
        let _ = documents::Tagging::from_xml(doc.as_bytes());
    }

    #[test]
    fn xml_reads_back_what_the_writer_wrote(
        root in name(),
        children in proptest::collection::vec((name(), "\\PC{0,40}"), 0..20),
    ) {
        let mut w = xml::XmlWriter::new();
        w.root(&root);
        for (n, t) in &children {
            w.elem(n, t);
        }
        w.close(&root);
        let doc = xml::parse(w.finish().as_bytes()).expect("the writer's output parses");
        for (n, t) in &children {
            let first = doc.child_text(n);
            let want = children.iter().find(|(m, _)| m == n).map(|(_, t)| t.as_str());
            prop_assert_eq!(first.map(str::trim), want.map(str::trim), "{} / {}", n, t);
        }
    }

    #[test]
    fn tagging_round_trips(tags in proptest::collection::btree_map("[A-Za-z0-9 _.:/=+@-]{1,20}", "\\PC{0,30}", 0..10)) {
        let tagging = documents::Tagging { tags: tags.clone().into_iter().collect() };
        let back = documents::Tagging::from_xml(tagging.to_xml().as_bytes()).expect("parses");
        prop_assert_eq!(back.tags, tags.into_iter().collect::<Vec<_>>());
    }

    #[test]
    fn ranges_are_inside_the_object(spec in "\\PC{0,30}", size in 0u64..1_000_000) {
        let header = format!("bytes={spec}");
        for h in [spec.as_str(), header.as_str()] {
            if let Ok(Some((start, len))) = range::parse_range(Some(h), size) {
                prop_assert!(len > 0 && start + len <= size, "{} of {}: {}+{}", h, size, start, len);
            }
        }
    }

    #[test]
    fn valid_ranges_parse(size in 1u64..1_000_000, a in 0u64..1_000_000, b in 0u64..1_000_000) {
        let (start, end) = (a.min(b), a.max(b));
        let got = range::parse_range(Some(&format!("bytes={start}-{end}")), size);
        if start < size {
            prop_assert_eq!(got.unwrap(), Some((start, end.min(size - 1) - start + 1)));
        } else {
            prop_assert!(got.is_err());
        }
    }

    #[test]
    fn authorization_headers_never_panic(
        value in "\\PC{0,300}",
        date in "[0-9TZ]{0,20}",
        sha in "\\PC{0,70}",
        query in "[A-Za-z0-9%=&_.-]{0,200}",
    ) {
        let mut h = HeaderMap::new();
        h.insert("host", HeaderValue::from_static("localhost"));
        if let Ok(v) = HeaderValue::from_str(&value) { h.insert("authorization", v); }
        if let Ok(v) = HeaderValue::from_str(&date) { h.insert("x-amz-date", v); }
        if let Ok(v) = HeaderValue::from_str(&sha) { h.insert("x-amz-content-sha256", v); }
        let uri: Uri = format!("/b/k?{query}").parse().unwrap_or_else(|_| Uri::from_static("/b/k"));
        let _ = authenticate(&Method::PUT, &uri, &h);
        // The same text as an AWS4 header with a real access key gets as far as the signature.
        let v = format!("AWS4-HMAC-SHA256 Credential={AK}/20260601/us-east-1/s3/aws4_request, {value}");
        if let Ok(v) = HeaderValue::from_str(&v) { h.insert("authorization", v); }
        let _ = authenticate(&Method::PUT, &uri, &h);
    }

    #[test]
    fn presigned_queries_never_panic(params in proptest::collection::vec(
        (prop_oneof![
            Just("X-Amz-Algorithm"), Just("X-Amz-Credential"), Just("X-Amz-Date"),
            Just("X-Amz-Expires"), Just("X-Amz-SignedHeaders"), Just("X-Amz-Signature"),
            Just("AWSAccessKeyId"), Just("Signature"), Just("Expires"),
        ], "[A-Za-z0-9%/_.;-]{0,40}"), 0..12)) {
        let q: Vec<String> = params.iter().map(|(n, v)| format!("{n}={v}")).collect();
        let uri: Uri = format!("/b/k?{}", q.join("&")).parse().unwrap_or_else(|_| Uri::from_static("/b/k"));
        let mut h = HeaderMap::new();
        h.insert("host", HeaderValue::from_static("localhost"));
        let _ = authenticate(&Method::GET, &uri, &h);
    }

    #[test]
    fn signed_requests_verify_and_any_changed_header_breaks_them(
        metas in proptest::collection::btree_map("[a-z]{1,8}", "[!-~]{1,20}", 1..6),
        which in any::<prop::sample::Index>(),
    ) {
        let uri: Uri = "/bucket/key".parse().unwrap();
        let mut h = HeaderMap::new();
        h.insert("host", HeaderValue::from_static("localhost"));
        for (k, v) in &metas {
            h.insert(http::HeaderName::from_bytes(format!("x-amz-meta-{k}").as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap());
        }
        sign::sign_v4(&Method::PUT, &uri, &mut h, "UNSIGNED-PAYLOAD", AK, SK, "us-east-1", now());
        prop_assert!(authenticate(&Method::PUT, &uri, &h).is_ok());
        let keys: Vec<&String> = metas.keys().collect();
        let k = keys[which.index(keys.len())];
        let mut tampered = h.clone();
        tampered.insert(http::HeaderName::from_bytes(format!("x-amz-meta-{k}").as_bytes()).unwrap(), HeaderValue::from_static("changed value"));
        prop_assert!(authenticate(&Method::PUT, &uri, &tampered).is_err());
    }

    #[test]
    fn chunked_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..1024), cuts in proptest::collection::vec(any::<usize>(), 0..8)) {
        let n = body.len();
        for check in [PayloadCheck::UnsignedTrailer, PayloadCheck::Sha256([0; 32]), PayloadCheck::None] {
            let out = auth::decode_body(pieces(body.clone(), &cuts), check, TrailerSlot::new(), None);
            let (got, _) = collect(out);
            prop_assert!(got.len() <= n);
        }
    }

    #[test]
    fn unsigned_chunked_round_trips(
        data in proptest::collection::vec(any::<u8>(), 0..4096),
        chunk in 1usize..700,
        cuts in proptest::collection::vec(any::<usize>(), 0..16),
    ) {
        let crc = "AAAAAA==";
        let body = sign::chunked_unsigned_body(&data, chunk, &[("x-amz-checksum-crc32", crc)]);
        let slot = TrailerSlot::new();
        let out = auth::decode_body(pieces(body, &cuts), PayloadCheck::UnsignedTrailer, slot.clone(), Some(data.len() as u64));
        let (got, err) = collect(out);
        prop_assert!(err.is_none(), "{:?}", err);
        prop_assert_eq!(got, data);
        prop_assert_eq!(slot.get("x-amz-checksum-crc32"), Some(crc));
    }

    #[test]
    fn signed_chunked_round_trips_and_a_flipped_byte_fails(
        data in proptest::collection::vec(any::<u8>(), 1..4096),
        chunk in 1usize..700,
        cuts in proptest::collection::vec(any::<usize>(), 0..16),
        flip in any::<prop::sample::Index>(),
    ) {
        let uri: Uri = "/bucket/key".parse().unwrap();
        let mut h = HeaderMap::new();
        h.insert("host", HeaderValue::from_static("localhost"));
        h.insert("x-amz-decoded-content-length", HeaderValue::from(data.len()));
        h.insert("content-encoding", HeaderValue::from_static("aws-chunked"));
        sign::sign_v4(&Method::PUT, &uri, &mut h, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", AK, SK, "us-east-1", now());
        let a = authenticate(&Method::PUT, &uri, &h).expect("signed");
        let seed = h.get("authorization").unwrap().to_str().unwrap().rsplit("Signature=").next().unwrap().to_owned();
        let amz_date = h.get("x-amz-date").unwrap().to_str().unwrap().to_owned();
        let body = sign::chunked_signed_body(&data, chunk, &seed, SK, "us-east-1", &amz_date);
        let out = auth::decode_body(pieces(body.clone(), &cuts), a.payload.clone(), TrailerSlot::new(), Some(data.len() as u64));
        let (got, err) = collect(out);
        prop_assert!(err.is_none(), "{:?}", err);
        prop_assert_eq!(&got, &data);
        // Any byte changed: an error, and never a byte of a bad chunk passed on as good.
        let mut bad = body;
        let i = flip.index(bad.len());
        bad[i] ^= 0x01;
        let out = auth::decode_body(pieces(bad, &cuts), a.payload, TrailerSlot::new(), Some(data.len() as u64));
        let (got, err) = collect(out);
        prop_assert!(err.is_some(), "a flipped byte at {} went through", i);
        prop_assert!(data.starts_with(&got), "bytes of a bad chunk were passed on");
    }

    #[test]
    fn header_text_never_panics_and_round_trips(raw in proptest::collection::vec(any::<u8>(), 0..200), text in "\\PC{0,80}") {
        let _ = header_text::decode(&raw);
        let wire = header_text::encode(&text);
        prop_assert!(wire.bytes().all(|b| (0x20..0x7f).contains(&b) || b == b'\t'));
        prop_assert_eq!(header_text::decode(wire.as_bytes()), text);
    }
}
