//! Defects real clients found in operations ksan calls done: GetObjectAttributes paging,
//! non-ASCII user metadata, the error for too many object tags. Raw HTTP where the bytes on
//! the wire are the point, aws-sdk-s3 for what a client reads back.

mod common;

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, ObjectAttributes, Tag, Tagging};
use base64::Engine as _;
use common::{TestServer, error_code, pattern};
use http::{HeaderMap, HeaderValue, StatusCode};

fn code<E: ProvideErrorMetadata>(e: &E) -> String {
    e.code().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_attributes_page_through_parts() {
    let server = TestServer::start();
    let s3 = server.client();
    s3.create_bucket().bucket("pages").send().await.unwrap();
    let up = s3
        .create_multipart_upload()
        .bucket("pages")
        .key("mp")
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap();
    let sizes = [5 * 1024 * 1024, 5 * 1024 * 1024, 5 * 1024 * 1024, 1000];
    let mut parts = Vec::new();
    for (i, size) in sizes.iter().enumerate() {
        let n = i as i32 + 1;
        let out = s3
            .upload_part()
            .bucket("pages")
            .key("mp")
            .upload_id(id)
            .part_number(n)
            .body(ByteStream::from(pattern(n as u64, *size)))
            .send()
            .await
            .unwrap();
        parts.push(
            CompletedPart::builder()
                .part_number(n)
                .e_tag(out.e_tag().unwrap())
                .build(),
        );
    }
    s3.complete_multipart_upload()
        .bucket("pages")
        .key("mp")
        .upload_id(id)
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
        .send()
        .await
        .unwrap();
    let page = |marker: Option<&str>, max: Option<i32>| {
        s3.get_object_attributes()
            .bucket("pages")
            .key("mp")
            .object_attributes(ObjectAttributes::ObjectParts)
            .set_part_number_marker(marker.map(str::to_owned))
            .set_max_parts(max)
            .send()
    };
    // Walk the parts one page of two at a time, as a client does.
    let mut marker: Option<String> = None;
    let mut seen = Vec::new();
    for _ in 0..10 {
        let out = page(marker.as_deref(), Some(2)).await.unwrap();
        let p = out.object_parts().expect("ObjectParts");
        assert_eq!(p.total_parts_count(), Some(4));
        assert_eq!(p.max_parts(), Some(2));
        assert_eq!(p.part_number_marker().unwrap_or("0"), marker.as_deref().unwrap_or("0"));
        for part in p.parts() {
            seen.push((part.part_number().unwrap(), part.size().unwrap()));
        }
        if p.is_truncated() != Some(true) {
            marker = None;
            break;
        }
        marker = p.next_part_number_marker().map(str::to_owned);
        assert!(marker.is_some(), "a truncated page names where the next starts");
    }
    assert_eq!(marker, None, "the pages end");
    let want: Vec<(i32, i64)> = sizes
        .iter()
        .enumerate()
        .map(|(i, s)| (i as i32 + 1, *s as i64))
        .collect();
    assert_eq!(seen, want);
    // The page after part 3, as ceph's s3-tests ask for it.
    let out = page(Some("3"), Some(1)).await.unwrap();
    let p = out.object_parts().unwrap();
    assert_eq!(p.is_truncated(), Some(false));
    assert_eq!(p.parts().len(), 1);
    assert_eq!(p.parts()[0].part_number(), Some(4));
    assert_eq!(p.next_part_number_marker(), Some("4"));
    // A marker that is no number is refused, not taken as zero.
    let mut h = server.sign_headers(
        "GET",
        "/pages/mp?attributes",
        &[
            ("x-amz-object-attributes", "ObjectParts"),
            ("x-amz-part-number-marker", "three"),
        ],
        b"",
        None,
        time::OffsetDateTime::now_utc(),
    );
    h.insert("content-length", HeaderValue::from(0));
    let (status, _, body) = server.raw("GET", "/pages/mp?attributes", &h, Vec::new()).await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (StatusCode::BAD_REQUEST, "InvalidArgument")
    );
}

/// What RFC 2047 `=?UTF-8?B?...?=` carries, for a test to read what a client would decode.
fn decode_b_word(v: &str) -> Option<String> {
    let inner = v.strip_prefix("=?UTF-8?B?")?.strip_suffix("?=")?;
    let bytes = base64::engine::general_purpose::STANDARD.decode(inner).ok()?;
    String::from_utf8(bytes).ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_ascii_metadata_comes_back_as_encoded_words() {
    let server = TestServer::start();
    let s3 = server.client();
    s3.create_bucket().bucket("meta").send().await.unwrap();
    // What clients put on the wire: UTF-8 bytes (aws-sdk-s3, botocore), a Latin-1 byte
    // (HTTP's historical charset), an encoded-word of their own (B and Q), plain ASCII.
    let cases: [(&str, &[u8], &str); 6] = [
        ("utf8", "café ünïcødé 한국어".as_bytes(), "café ünïcødé 한국어"),
        ("latin1", b"caf\xe9", "café"),
        ("bword", b"=?UTF-8?B?Y2Fmw6k=?=", "café"),
        ("qword", b"=?utf-8?Q?caf=C3=A9_au_lait?=", "café au lait"),
        ("twowords", b"=?UTF-8?Q?a=C3=A9?= =?UTF-8?Q?b?= c", "aéb c"),
        ("ascii", b"plain value, with = and ?", "plain value, with = and ?"),
    ];
    // Sent anonymously to a public-read-write bucket: a Latin-1 byte cannot go through the
    // signing helper, which takes header values as text.
    let r = server
        .signed("PUT", "/meta?acl", &[("x-amz-acl", "public-read-write")], vec![], None)
        .await;
    assert!(r.0.is_success(), "{}", String::from_utf8_lossy(&r.2));
    for (name, wire, _) in cases {
        let mut h = HeaderMap::new();
        h.insert("content-length", HeaderValue::from(1));
        h.insert("x-amz-acl", HeaderValue::from_static("bucket-owner-full-control"));
        h.insert(
            http::HeaderName::from_bytes(format!("x-amz-meta-{name}").as_bytes()).unwrap(),
            HeaderValue::from_bytes(wire).unwrap(),
        );
        let (status, _, body) = server.raw("PUT", &format!("/meta/{name}"), &h, b"x".to_vec()).await;
        assert_eq!(status, StatusCode::OK, "{name}: {}", String::from_utf8_lossy(&body));
    }
    for (name, _, text) in cases {
        let (status, h, _) = server.signed("GET", &format!("/meta/{name}"), &[], vec![], None).await;
        assert_eq!(status, StatusCode::OK);
        let got = h
            .get(format!("x-amz-meta-{name}"))
            .expect(name)
            .to_str()
            .expect("ASCII on the wire");
        if text.is_ascii() {
            assert_eq!(got, text, "{name}: ASCII comes back as it was");
        } else {
            assert_eq!(decode_b_word(got).as_deref(), Some(text), "{name}: {got}");
        }
    }
    // aws-sdk-s3 sends UTF-8 and reads the encoded-word back, which decodes to what it sent.
    s3.put_object()
        .bucket("meta")
        .key("sdk")
        .metadata("note", "naïve résumé")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    let head = s3.head_object().bucket("meta").key("sdk").send().await.unwrap();
    let v = head.metadata().and_then(|m| m.get("note")).expect("note");
    assert_eq!(decode_b_word(v).as_deref(), Some("naïve résumé"));
    // The 2 KB limit counts the decoded UTF-8 bytes: 1000 two-byte characters fit, 1100
    // do not (their encoded-word would be longer still).
    s3.put_object()
        .bucket("meta")
        .key("fits")
        .metadata("k", "é".repeat(1000))
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    let big = "é".repeat(1100);
    let e = s3
        .put_object()
        .bucket("meta")
        .key("big")
        .metadata("k", &big)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e.into_service_error()), "MetadataTooLarge");
    // A copy keeps the stored (decoded) value and encodes it again.
    s3.copy_object()
        .bucket("meta")
        .key("copied")
        .copy_source("meta/utf8")
        .send()
        .await
        .unwrap();
    let (_, h, _) = server.signed("GET", "/meta/copied", &[], vec![], None).await;
    let got = h.get("x-amz-meta-utf8").unwrap().to_str().unwrap();
    assert_eq!(decode_b_word(got).as_deref(), Some("café ünïcødé 한국어"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_than_ten_object_tags_is_bad_request() {
    let server = TestServer::start();
    let s3 = server.client();
    s3.create_bucket().bucket("tags").send().await.unwrap();
    s3.put_object()
        .bucket("tags")
        .key("k")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    let tags = |n: usize| {
        let set: Vec<Tag> = (0..n)
            .map(|i| Tag::builder().key(format!("k{i}")).value("v").build().unwrap())
            .collect();
        Tagging::builder().set_tag_set(Some(set)).build().unwrap()
    };
    s3.put_object_tagging()
        .bucket("tags")
        .key("k")
        .tagging(tags(10))
        .send()
        .await
        .unwrap();
    let e = s3
        .put_object_tagging()
        .bucket("tags")
        .key("k")
        .tagging(tags(11))
        .send()
        .await
        .unwrap_err();
    let status = e.raw_response().map(|r| r.status().as_u16());
    let e = e.into_service_error();
    assert_eq!((status, code(&e)), (Some(400), "BadRequest".to_owned()));
    assert_eq!(e.message(), Some("Object tags cannot be greater than 10"));
    let got = s3.get_object_tagging().bucket("tags").key("k").send().await.unwrap();
    assert_eq!(got.tag_set().len(), 10, "the refused set changed nothing");
    // The same limit on the x-amz-tagging header of a PUT.
    let header: Vec<String> = (0..11).map(|i| format!("k{i}=v")).collect();
    let e = s3
        .put_object()
        .bucket("tags")
        .key("new")
        .tagging(header.join("&"))
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e.into_service_error()), "BadRequest");
    // Other bad tags stay InvalidTag.
    let bad = Tagging::builder()
        .tag_set(Tag::builder().key("k".repeat(129)).value("v").build().unwrap())
        .build()
        .unwrap();
    let e = s3
        .put_object_tagging()
        .bucket("tags")
        .key("k")
        .tagging(bad)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e.into_service_error()), "InvalidTag");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xml_text_keeps_its_spaces() {
    use aws_sdk_s3::types::{Delete, ObjectIdentifier};
    let server = TestServer::start();
    let s3 = server.client();
    s3.create_bucket().bucket("spaces").send().await.unwrap();
    for key in [" lead", "trail ", "mid dle"] {
        s3.put_object()
            .bucket("spaces")
            .key(key)
            .body(ByteStream::from_static(b"x"))
            .send()
            .await
            .unwrap();
    }
    // Tag values with entities and spaces around them come back as sent.
    let tagging = Tagging::builder()
        .tag_set(Tag::builder().key(" k ").value("Tom & Jerry <3 ").build().unwrap())
        .build()
        .unwrap();
    s3.put_object_tagging()
        .bucket("spaces")
        .key("mid dle")
        .tagging(tagging)
        .send()
        .await
        .unwrap();
    let got = s3
        .get_object_tagging()
        .bucket("spaces")
        .key("mid dle")
        .send()
        .await
        .unwrap();
    let t = &got.tag_set()[0];
    assert_eq!((t.key(), t.value()), (" k ", "Tom & Jerry <3 "));
    // DeleteObjects deletes the keys named, spaces and all.
    let ids: Vec<ObjectIdentifier> = [" lead", "trail "]
        .into_iter()
        .map(|k| ObjectIdentifier::builder().key(k).build().unwrap())
        .collect();
    let out = s3
        .delete_objects()
        .bucket("spaces")
        .delete(Delete::builder().set_objects(Some(ids)).build().unwrap())
        .send()
        .await
        .unwrap();
    assert!(out.errors().is_empty());
    let left: Vec<String> = s3
        .list_objects_v2()
        .bucket("spaces")
        .send()
        .await
        .unwrap()
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect();
    assert_eq!(left, ["mid dle"]);
}
