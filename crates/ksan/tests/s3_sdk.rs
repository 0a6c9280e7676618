//! End-to-end with aws-sdk-s3 at its default settings (CRC checksums, aws-chunked uploads).

mod common;

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketVersioningStatus, ChecksumAlgorithm, ChecksumMode, CompletedMultipartUpload, CompletedPart, Delete,
    ObjectIdentifier, VersioningConfiguration,
};
use common::{TestServer, pattern};

fn code<E: ProvideErrorMetadata>(e: &E) -> String {
    e.code().unwrap_or_default().to_owned()
}

async fn body_of(out: aws_sdk_s3::operation::get_object::GetObjectOutput) -> Vec<u8> {
    out.body.collect().await.expect("body").into_bytes().to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buckets() {
    let server = TestServer::start();
    let s3 = server.client();
    s3.create_bucket().bucket("alpha").send().await.unwrap();
    s3.create_bucket().bucket("beta").send().await.unwrap();
    let e = s3
        .create_bucket()
        .bucket("alpha")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(code(&e), "BucketAlreadyOwnedByYou");
    for bad in ["ab", "UPPER", "-x-y", "a..b", "192.168.1.1"] {
        let e = s3.create_bucket().bucket(bad).send().await.unwrap_err();
        assert_eq!(code(&e.into_service_error()), "InvalidBucketName", "{bad}");
    }
    s3.head_bucket().bucket("alpha").send().await.unwrap();
    let list = s3.list_buckets().send().await.unwrap();
    let names: Vec<_> = list.buckets().iter().filter_map(|b| b.name()).collect();
    assert_eq!(names, ["alpha", "beta"]);
    assert!(list.owner().and_then(|o| o.id()).is_some());

    s3.put_object()
        .bucket("alpha")
        .key("k")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    let e = s3.delete_bucket().bucket("alpha").send().await.unwrap_err();
    assert_eq!(code(&e.into_service_error()), "BucketNotEmpty");
    s3.delete_object().bucket("alpha").key("k").send().await.unwrap();
    s3.delete_bucket().bucket("alpha").send().await.unwrap();
    assert!(s3.head_bucket().bucket("alpha").send().await.is_err());

    // another user: separate buckets, shared namespace, no access to ours
    server.create_user("bob", "BOBACCESSKEY00000001", "bob-secret-key-00000000000000000000001");
    let bob = server.client_for("BOBACCESSKEY00000001", "bob-secret-key-00000000000000000000001");
    let e = bob.create_bucket().bucket("beta").send().await.unwrap_err();
    assert_eq!(code(&e.into_service_error()), "BucketAlreadyExists");
    assert!(bob.list_buckets().send().await.unwrap().buckets().is_empty());
    let e = bob.list_objects_v2().bucket("beta").send().await.unwrap_err();
    assert_eq!(code(&e.into_service_error()), "AccessDenied");
    let loc = s3.get_bucket_location().bucket("beta").send().await.unwrap();
    assert!(loc.location_constraint().is_none() || loc.location_constraint().map(|l| l.as_str()) == Some(""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_round_trip_with_metadata_ranges_and_checksums() {
    let server = TestServer::start();
    let s3 = server.client();
    s3.create_bucket().bucket("bkt").send().await.unwrap();
    for (key, len) in [
        ("empty", 0usize),
        ("small", 100),
        ("edge", 16 * 1024),
        ("mid", 1 << 20),
        ("big", 20 << 20),
    ] {
        let data = pattern(len as u64, len);
        s3.put_object()
            .bucket("bkt")
            .key(key)
            .body(ByteStream::from(data.clone()))
            .content_type("text/x-test")
            .cache_control("max-age=60")
            .metadata("color", "blue")
            .send()
            .await
            .unwrap();
        let got = s3.get_object().bucket("bkt").key(key).send().await.unwrap();
        assert_eq!(got.content_length(), Some(len as i64));
        assert_eq!(got.content_type(), Some("text/x-test"));
        assert_eq!(got.cache_control(), Some("max-age=60"));
        assert_eq!(
            got.metadata().and_then(|m| m.get("color")).map(String::as_str),
            Some("blue")
        );
        assert!(body_of(got).await == data, "{key}");
    }
    let data = pattern(1 << 20, 1 << 20);
    let r = s3
        .get_object()
        .bucket("bkt")
        .key("mid")
        .range("bytes=10-19")
        .send()
        .await
        .unwrap();
    assert_eq!(r.content_range(), Some("bytes 10-19/1048576"));
    assert_eq!(body_of(r).await, &data[10..20]);
    let r = s3
        .get_object()
        .bucket("bkt")
        .key("mid")
        .range("bytes=-5")
        .send()
        .await
        .unwrap();
    assert_eq!(body_of(r).await, &data[data.len() - 5..]);
    let r = s3
        .get_object()
        .bucket("bkt")
        .key("mid")
        .range("bytes=1048570-")
        .send()
        .await
        .unwrap();
    assert_eq!(body_of(r).await, &data[1048570..]);
    let e = s3
        .get_object()
        .bucket("bkt")
        .key("mid")
        .range("bytes=2000000-")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e.into_service_error()), "InvalidRange");
    let e = s3.get_object().bucket("bkt").key("nope").send().await.unwrap_err();
    assert_eq!(code(&e.into_service_error()), "NoSuchKey");

    for algo in [
        ChecksumAlgorithm::Crc32,
        ChecksumAlgorithm::Crc32C,
        ChecksumAlgorithm::Crc64Nvme,
        ChecksumAlgorithm::Sha1,
        ChecksumAlgorithm::Sha256,
    ] {
        let key = format!("ck-{}", algo.as_str());
        let put = s3
            .put_object()
            .bucket("bkt")
            .key(&key)
            .checksum_algorithm(algo.clone())
            .body(ByteStream::from(pattern(7, 70_000)))
            .send()
            .await
            .unwrap();
        let sent = [
            put.checksum_crc32(),
            put.checksum_crc32_c(),
            put.checksum_crc64_nvme(),
            put.checksum_sha1(),
            put.checksum_sha256(),
        ]
        .into_iter()
        .flatten()
        .next()
        .map(str::to_owned)
        .expect("checksum echoed");
        let got = s3
            .head_object()
            .bucket("bkt")
            .key(&key)
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
            .unwrap();
        let stored = [
            got.checksum_crc32(),
            got.checksum_crc32_c(),
            got.checksum_crc64_nvme(),
            got.checksum_sha1(),
            got.checksum_sha256(),
        ]
        .into_iter()
        .flatten()
        .next()
        .map(str::to_owned);
        assert_eq!(stored, Some(sent), "{key}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conditionals_copies_and_deletes() {
    let server = TestServer::start();
    let s3 = server.client();
    s3.create_bucket().bucket("bkt").send().await.unwrap();
    let put = s3
        .put_object()
        .bucket("bkt")
        .key("k")
        .body(ByteStream::from_static(b"v1"))
        .send()
        .await
        .unwrap();
    let etag = put.e_tag().unwrap().to_owned();
    let e = s3
        .get_object()
        .bucket("bkt")
        .key("k")
        .if_match("\"nope\"")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(412));
    let e = s3
        .get_object()
        .bucket("bkt")
        .key("k")
        .if_none_match(&etag)
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(304));
    s3.get_object()
        .bucket("bkt")
        .key("k")
        .if_match(&etag)
        .send()
        .await
        .unwrap();
    let e = s3
        .put_object()
        .bucket("bkt")
        .key("k")
        .if_none_match("*")
        .body(ByteStream::from_static(b"v2"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e.into_service_error()), "PreconditionFailed");

    // copies: COPY keeps metadata, REPLACE replaces it; onto itself only with REPLACE
    s3.put_object()
        .bucket("bkt")
        .key("src")
        .metadata("a", "1")
        .body(ByteStream::from(pattern(1, 40_000)))
        .send()
        .await
        .unwrap();
    s3.copy_object()
        .bucket("bkt")
        .key("dst")
        .copy_source("bkt/src")
        .send()
        .await
        .unwrap();
    let got = s3.get_object().bucket("bkt").key("dst").send().await.unwrap();
    assert_eq!(got.metadata().and_then(|m| m.get("a")).map(String::as_str), Some("1"));
    assert!(body_of(got).await == pattern(1, 40_000));
    s3.copy_object()
        .bucket("bkt")
        .key("dst")
        .copy_source("bkt/src")
        .metadata_directive(aws_sdk_s3::types::MetadataDirective::Replace)
        .metadata("a", "2")
        .send()
        .await
        .unwrap();
    let got = s3.head_object().bucket("bkt").key("dst").send().await.unwrap();
    assert_eq!(got.metadata().and_then(|m| m.get("a")).map(String::as_str), Some("2"));
    let e = s3
        .copy_object()
        .bucket("bkt")
        .key("src")
        .copy_source("bkt/src")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e.into_service_error()), "InvalidRequest");
    // deleting the source leaves the copy whole (it shares the blob)
    s3.delete_object().bucket("bkt").key("src").send().await.unwrap();
    let got = s3.get_object().bucket("bkt").key("dst").send().await.unwrap();
    assert!(body_of(got).await == pattern(1, 40_000));

    // DeleteObjects, verbose and quiet
    for i in 0..5 {
        s3.put_object()
            .bucket("bkt")
            .key(format!("d{i}"))
            .body(ByteStream::from_static(b"x"))
            .send()
            .await
            .unwrap();
    }
    let ids = |keys: &[&str]| {
        Delete::builder()
            .set_objects(Some(
                keys.iter()
                    .map(|k| ObjectIdentifier::builder().key(*k).build().unwrap())
                    .collect(),
            ))
            .build()
            .unwrap()
    };
    let out = s3
        .delete_objects()
        .bucket("bkt")
        .delete(ids(&["d0", "d1", "missing"]))
        .send()
        .await
        .unwrap();
    assert_eq!(out.deleted().len(), 3);
    let mut quiet = ids(&["d2", "d3"]);
    quiet.quiet = Some(true);
    let out = s3.delete_objects().bucket("bkt").delete(quiet).send().await.unwrap();
    assert!(out.deleted().is_empty() && out.errors().is_empty());
    let keys: Vec<String> = (0..1001).map(|i| format!("x{i}")).collect();
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    let e = s3
        .delete_objects()
        .bucket("bkt")
        .delete(ids(&refs))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e.into_service_error()), "MalformedXML");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_pages_prefixes_and_encoding() {
    let server = TestServer::start();
    let s3 = server.client();
    s3.create_bucket().bucket("bkt").send().await.unwrap();
    let mut keys: Vec<String> = (0..2500).map(|i| format!("many/{i:05}")).collect();
    keys.extend(["a b", "ünï/cødé", "top/x", "top/y/z"].map(String::from));
    let mut tasks = Vec::new();
    for chunk in keys.chunks(250) {
        let (s3, chunk) = (s3.clone(), chunk.to_vec());
        tasks.push(tokio::spawn(async move {
            for k in chunk {
                s3.put_object()
                    .bucket("bkt")
                    .key(k)
                    .body(ByteStream::from_static(b""))
                    .send()
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut pages = s3
        .list_objects_v2()
        .bucket("bkt")
        .prefix("many/")
        .max_keys(700)
        .into_paginator()
        .send();
    let mut seen = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.unwrap();
        seen.extend(page.contents().iter().filter_map(|o| o.key().map(str::to_owned)));
    }
    assert_eq!(seen.len(), 2500);
    assert!(seen.windows(2).all(|w| w[0] < w[1]));

    let top = s3.list_objects_v2().bucket("bkt").delimiter("/").send().await.unwrap();
    let prefixes: Vec<_> = top.common_prefixes().iter().filter_map(|p| p.prefix()).collect();
    assert_eq!(prefixes, ["many/", "top/", "ünï/"]);
    let objects: Vec<_> = top.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(objects, ["a b"]);

    let after = s3
        .list_objects_v2()
        .bucket("bkt")
        .start_after("many/02498")
        .send()
        .await
        .unwrap();
    assert_eq!(after.contents().first().and_then(|o| o.key()), Some("many/02499"));
    let zero = s3.list_objects_v2().bucket("bkt").max_keys(0).send().await.unwrap();
    assert!(zero.contents().is_empty());
    assert_eq!(zero.is_truncated(), Some(false));

    // v1 with markers
    let v1 = s3
        .list_objects()
        .bucket("bkt")
        .prefix("top/")
        .delimiter("/")
        .send()
        .await
        .unwrap();
    assert_eq!(
        v1.contents().iter().filter_map(|o| o.key()).collect::<Vec<_>>(),
        ["top/x"]
    );
    assert_eq!(
        v1.common_prefixes()
            .iter()
            .filter_map(|p| p.prefix())
            .collect::<Vec<_>>(),
        ["top/y/"]
    );
    let v1 = s3.list_objects().bucket("bkt").marker("top/x").send().await.unwrap();
    assert_eq!(
        v1.contents().iter().filter_map(|o| o.key()).collect::<Vec<_>>(),
        ["top/y/z", "ünï/cødé"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multipart_and_versioning() {
    let server = TestServer::start();
    let s3 = server.client();
    s3.create_bucket().bucket("bkt").send().await.unwrap();
    let up = s3
        .create_multipart_upload()
        .bucket("bkt")
        .key("mp")
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap().to_owned();
    let part_size = 5 << 20;
    let mut parts = Vec::new();
    let mut whole = Vec::new();
    for n in 1..=3i32 {
        let data = pattern(n as u64, if n == 3 { 1234 } else { part_size });
        whole.extend_from_slice(&data);
        let out = s3
            .upload_part()
            .bucket("bkt")
            .key("mp")
            .upload_id(&id)
            .part_number(n)
            .body(ByteStream::from(data))
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
    let listed = s3
        .list_parts()
        .bucket("bkt")
        .key("mp")
        .upload_id(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.parts().len(), 3);
    let done = s3
        .complete_multipart_upload()
        .bucket("bkt")
        .key("mp")
        .upload_id(&id)
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
        .send()
        .await
        .unwrap();
    assert!(done.e_tag().unwrap().ends_with("-3\""));
    let got = s3.get_object().bucket("bkt").key("mp").send().await.unwrap();
    assert!(body_of(got).await == whole);
    let p2 = s3
        .get_object()
        .bucket("bkt")
        .key("mp")
        .part_number(2)
        .send()
        .await
        .unwrap();
    assert_eq!(p2.parts_count(), Some(3));
    assert!(body_of(p2).await == whole[part_size..2 * part_size]);
    let e = s3
        .list_parts()
        .bucket("bkt")
        .key("mp")
        .upload_id(&id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e.into_service_error()), "NoSuchUpload");

    // versioning
    s3.put_bucket_versioning()
        .bucket("bkt")
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let v1 = s3
        .put_object()
        .bucket("bkt")
        .key("v")
        .body(ByteStream::from_static(b"one"))
        .send()
        .await
        .unwrap();
    let v2 = s3
        .put_object()
        .bucket("bkt")
        .key("v")
        .body(ByteStream::from_static(b"two"))
        .send()
        .await
        .unwrap();
    assert_ne!(v1.version_id(), v2.version_id());
    let del = s3.delete_object().bucket("bkt").key("v").send().await.unwrap();
    assert_eq!(del.delete_marker(), Some(true));
    assert!(s3.get_object().bucket("bkt").key("v").send().await.is_err());
    let old = s3
        .get_object()
        .bucket("bkt")
        .key("v")
        .version_id(v1.version_id().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(body_of(old).await, b"one");
    let versions = s3
        .list_object_versions()
        .bucket("bkt")
        .prefix("v")
        .send()
        .await
        .unwrap();
    assert_eq!(versions.versions().len(), 2);
    assert_eq!(versions.delete_markers().len(), 1);
    s3.delete_object()
        .bucket("bkt")
        .key("v")
        .version_id(del.version_id().unwrap())
        .send()
        .await
        .unwrap();
    let now = s3.get_object().bucket("bkt").key("v").send().await.unwrap();
    assert_eq!(body_of(now).await, b"two");
}
