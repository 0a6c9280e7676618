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
    // us-east-1 keeps S3's legacy answer: re-creating your own bucket is a 200 that changes
    // nothing (other regions answer BucketAlreadyOwnedByYou, see the test below)
    s3.create_bucket().bucket("alpha").send().await.unwrap();
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

    // v1 pages by marker: NextMarker when given, else the last key
    let mut marker: Option<String> = None;
    let mut v1_seen = Vec::new();
    for _ in 0..10 {
        let page = s3
            .list_objects()
            .bucket("bkt")
            .prefix("many/")
            .max_keys(1000)
            .set_marker(marker.clone())
            .send()
            .await
            .unwrap();
        v1_seen.extend(page.contents().iter().filter_map(|o| o.key().map(str::to_owned)));
        if page.is_truncated() != Some(true) {
            marker = None;
            break;
        }
        marker = page
            .next_marker()
            .map(str::to_owned)
            .or_else(|| v1_seen.last().cloned());
    }
    assert!(marker.is_none(), "v1 listing did not end");
    assert_eq!(v1_seen, seen);

    // with a delimiter, common prefixes count toward max-keys and pages roll past them
    let mut pages = s3
        .list_objects_v2()
        .bucket("bkt")
        .delimiter("/")
        .max_keys(1)
        .into_paginator()
        .send();
    let mut entries = Vec::new();
    let mut n = 0;
    while let Some(page) = pages.next().await {
        let page = page.unwrap();
        n += 1;
        assert!(n <= 10, "too many pages");
        assert!(page.key_count().unwrap_or(0) <= 1);
        entries.extend(page.contents().iter().filter_map(|o| o.key().map(str::to_owned)));
        entries.extend(
            page.common_prefixes()
                .iter()
                .filter_map(|p| p.prefix().map(str::to_owned)),
        );
    }
    assert_eq!(entries, ["a b", "many/", "top/", "ünï/"]);

    // encoding-type=url: keys and prefixes come back percent-encoded, and decode to the originals
    let enc = s3
        .list_objects_v2()
        .bucket("bkt")
        .delimiter("/")
        .encoding_type(aws_sdk_s3::types::EncodingType::Url)
        .send()
        .await
        .unwrap();
    let raw_keys: Vec<&str> = enc.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(raw_keys.len(), 1);
    assert!(!raw_keys[0].contains(' '), "space not encoded: {raw_keys:?}");
    assert_eq!(common::url_decode(raw_keys[0]), "a b");
    let raw_prefixes: Vec<&str> = enc.common_prefixes().iter().filter_map(|p| p.prefix()).collect();
    assert!(raw_prefixes.iter().all(|p| p.is_ascii()), "{raw_prefixes:?}");
    assert_eq!(
        raw_prefixes.iter().map(|p| common::url_decode(p)).collect::<Vec<_>>(),
        ["many/", "top/", "ünï/"]
    );
    let enc = s3
        .list_objects()
        .bucket("bkt")
        .prefix("ünï/")
        .encoding_type(aws_sdk_s3::types::EncodingType::Url)
        .send()
        .await
        .unwrap();
    let raw_keys: Vec<&str> = enc.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(raw_keys.len(), 1);
    assert!(raw_keys[0].is_ascii(), "{raw_keys:?}");
    assert_eq!(common::url_decode(raw_keys[0]), "ünï/cødé");
    // the encoded keys read back the object
    s3.head_object().bucket("bkt").key("ünï/cødé").send().await.unwrap();
    s3.head_object().bucket("bkt").key("a b").send().await.unwrap();
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

/// 200 for Ok, else the HTTP status of the failed response (0 when there was none).
fn status<T, E>(r: &Result<T, aws_sdk_s3::error::SdkError<E>>) -> u16 {
    match r {
        Ok(_) => 200,
        Err(e) => e.raw_response().map(|r| r.status().as_u16()).unwrap_or(0),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bucket_already_owned_by_you_outside_us_east_1() {
    use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
    let server = TestServer::start_with(&["--region", "eu-west-1"]);
    let s3 = server.client();
    let cfg = CreateBucketConfiguration::builder()
        .location_constraint(BucketLocationConstraint::EuWest1)
        .build();
    s3.create_bucket()
        .bucket("gamma")
        .create_bucket_configuration(cfg.clone())
        .send()
        .await
        .unwrap();
    let e = s3
        .create_bucket()
        .bucket("gamma")
        .create_bucket_configuration(cfg)
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(409));
    assert_eq!(code(&e.into_service_error()), "BucketAlreadyOwnedByYou");
    let loc = s3.get_bucket_location().bucket("gamma").send().await.unwrap();
    assert_eq!(loc.location_constraint().map(|l| l.as_str()), Some("eu-west-1"));
    // a constraint naming another region is refused by this region's endpoint
    let other = CreateBucketConfiguration::builder()
        .location_constraint(BucketLocationConstraint::UsWest2)
        .build();
    let e = s3
        .create_bucket()
        .bucket("delta")
        .create_bucket_configuration(other)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e.into_service_error()), "IllegalLocationConstraintException");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ownership_and_access_between_users() {
    let server = TestServer::start();
    let s3 = server.client();
    s3.create_bucket().bucket("roots").send().await.unwrap();
    s3.put_object()
        .bucket("roots")
        .key("secret")
        .body(ByteStream::from_static(b"root data"))
        .send()
        .await
        .unwrap();
    server.create_user(
        "carol",
        "CAROLACCESSKEY000001",
        "carol-secret-key-000000000000000000001",
    );
    let carol = server.client_for("CAROLACCESSKEY000001", "carol-secret-key-000000000000000000001");
    carol.create_bucket().bucket("carols").send().await.unwrap();

    // ListBuckets: each caller sees itself as the owner, and only its own buckets
    let root_list = s3.list_buckets().send().await.unwrap();
    let carol_list = carol.list_buckets().send().await.unwrap();
    let root_id = root_list.owner().and_then(|o| o.id()).unwrap().to_owned();
    let carol_id = carol_list.owner().and_then(|o| o.id()).unwrap().to_owned();
    assert_ne!(root_id, carol_id);
    assert_eq!(
        root_list.buckets().iter().filter_map(|b| b.name()).collect::<Vec<_>>(),
        ["roots"]
    );
    assert_eq!(
        carol_list.buckets().iter().filter_map(|b| b.name()).collect::<Vec<_>>(),
        ["carols"]
    );
    // the object owner in a listing is the same canonical id
    let listed = s3
        .list_objects_v2()
        .bucket("roots")
        .fetch_owner(true)
        .send()
        .await
        .unwrap();
    assert_eq!(
        listed.contents()[0].owner().and_then(|o| o.id()),
        Some(root_id.as_str())
    );

    // carol can do nothing with root's bucket or its objects
    let e = carol
        .get_object()
        .bucket("roots")
        .key("secret")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e.into_service_error()), "AccessDenied");
    let e = carol
        .put_object()
        .bucket("roots")
        .key("intruder")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e.into_service_error()), "AccessDenied");
    let r = carol.head_object().bucket("roots").key("secret").send().await;
    assert_eq!(status(&r), 403);
    let r = carol.head_bucket().bucket("roots").send().await;
    assert_eq!(status(&r), 403);
    let e = carol
        .delete_object()
        .bucket("roots")
        .key("secret")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e.into_service_error()), "AccessDenied");
    let e = carol.list_objects().bucket("roots").send().await.unwrap_err();
    assert_eq!(code(&e.into_service_error()), "AccessDenied");
    let e = carol.delete_bucket().bucket("roots").send().await.unwrap_err();
    assert_eq!(code(&e.into_service_error()), "AccessDenied");
    // copying root's object into her own bucket needs read access to the source
    let e = carol
        .copy_object()
        .bucket("carols")
        .key("stolen")
        .copy_source("roots/secret")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e.into_service_error()), "AccessDenied");
    // nothing changed
    let got = s3.get_object().bucket("roots").key("secret").send().await.unwrap();
    assert_eq!(body_of(got).await, b"root data");
    let r = s3.head_object().bucket("roots").key("intruder").send().await;
    assert_eq!(status(&r), 404);
    let r = carol.head_object().bucket("carols").key("stolen").send().await;
    assert_eq!(status(&r), 404);

    // no credentials at all: unsigned requests are denied, and change nothing
    let anon = server.anonymous_client();
    let e = anon
        .get_object()
        .bucket("roots")
        .key("secret")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(403));
    assert_eq!(code(&e.into_service_error()), "AccessDenied");
    let e = anon
        .put_object()
        .bucket("roots")
        .key("anon")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e.into_service_error()), "AccessDenied");
    let e = anon.list_buckets().send().await.unwrap_err();
    assert_eq!(code(&e.into_service_error()), "AccessDenied");
    let e = anon.create_bucket().bucket("anon-bucket").send().await.unwrap_err();
    assert_eq!(code(&e.into_service_error()), "AccessDenied");
    assert_eq!(status(&s3.head_object().bucket("roots").key("anon").send().await), 404);
    assert_eq!(status(&s3.head_bucket().bucket("anon-bucket").send().await), 404);

    // unknown credentials
    let mallory = server.client_for("MALLORYACCESSKEY0001", "not-a-real-secret-key-00000000000000000");
    let e = mallory.list_buckets().send().await.unwrap_err();
    assert_eq!(code(&e.into_service_error()), "InvalidAccessKeyId");
    // the right key with the wrong secret
    let wrong = server.client_for(common::ROOT_AK, "wrong-secret-key-00000000000000000000000");
    let e = wrong.list_buckets().send().await.unwrap_err();
    assert_eq!(code(&e.into_service_error()), "SignatureDoesNotMatch");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_headers_etags_and_streamed_upload() {
    let server = TestServer::start();
    let s3 = server.client();
    s3.create_bucket().bucket("bkt").send().await.unwrap();

    // ETag of a single PUT is the hex MD5 of the body, inline or blob
    for (key, len) in [("tiny", 100usize), ("inline-max", 16 * 1024), ("mib", 1 << 20)] {
        let data = pattern(len as u64 + 1, len);
        let put = s3
            .put_object()
            .bucket("bkt")
            .key(key)
            .body(ByteStream::from(data.clone()))
            .send()
            .await
            .unwrap();
        let want = format!("\"{}\"", common::md5_hex(&data));
        assert_eq!(put.e_tag(), Some(want.as_str()), "{key}");
        let head = s3.head_object().bucket("bkt").key(key).send().await.unwrap();
        assert_eq!(head.e_tag(), Some(want.as_str()), "{key}");
        assert_eq!(head.content_length(), Some(len as i64));
    }

    // 20 MiB from a file: the SDK streams it as aws-chunked with a CRC32 trailer
    let data = pattern(20, 20 << 20);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.bin");
    std::fs::write(&path, &data).unwrap();
    let put = s3
        .put_object()
        .bucket("bkt")
        .key("streamed/big.bin")
        .body(ByteStream::from_path(&path).await.unwrap())
        .content_type("application/x-ksan")
        .content_encoding("gzip")
        .content_disposition("attachment; filename=\"big.bin\"")
        .content_language("de-DE")
        .cache_control("no-store")
        .metadata("Mixed-Case", "Value with spaces")
        .metadata("empty", "")
        .send()
        .await
        .unwrap();
    let etag = format!("\"{}\"", common::md5_hex(&data));
    assert_eq!(put.e_tag(), Some(etag.as_str()));
    let crc = common::b64(&common::crc32(&data).to_be_bytes());
    assert_eq!(put.checksum_crc32(), Some(crc.as_str()));

    let head = s3
        .head_object()
        .bucket("bkt")
        .key("streamed/big.bin")
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_length(), Some(20 << 20));
    assert_eq!(head.e_tag(), Some(etag.as_str()));
    assert_eq!(head.content_type(), Some("application/x-ksan"));
    // aws-chunked is a transfer detail, never part of the stored Content-Encoding
    assert_eq!(head.content_encoding(), Some("gzip"));
    assert_eq!(head.content_disposition(), Some("attachment; filename=\"big.bin\""));
    assert_eq!(head.content_language(), Some("de-DE"));
    assert_eq!(head.cache_control(), Some("no-store"));
    assert_eq!(head.checksum_crc32(), Some(crc.as_str()));
    let meta = head.metadata().unwrap();
    assert_eq!(meta.get("mixed-case").map(String::as_str), Some("Value with spaces"));
    assert_eq!(meta.get("empty").map(String::as_str), Some(""));
    assert!(head.last_modified().is_some());

    let got = s3
        .get_object()
        .bucket("bkt")
        .key("streamed/big.bin")
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    assert_eq!(got.checksum_crc32(), Some(crc.as_str()));
    assert!(body_of(got).await == data);

    // response-* query parameters override what GET returns, not what is stored
    let got = s3
        .get_object()
        .bucket("bkt")
        .key("tiny")
        .response_content_type("text/plain")
        .response_cache_control("no-cache")
        .response_content_disposition("inline")
        .send()
        .await
        .unwrap();
    assert_eq!(got.content_type(), Some("text/plain"));
    assert_eq!(got.cache_control(), Some("no-cache"));
    assert_eq!(got.content_disposition(), Some("inline"));
    let head = s3.head_object().bucket("bkt").key("tiny").send().await.unwrap();
    assert_ne!(head.content_type(), Some("text/plain"));

    // an overwrite replaces body and metadata as a whole
    s3.put_object()
        .bucket("bkt")
        .key("streamed/big.bin")
        .body(ByteStream::from_static(b"short now"))
        .send()
        .await
        .unwrap();
    let got = s3
        .get_object()
        .bucket("bkt")
        .key("streamed/big.bin")
        .send()
        .await
        .unwrap();
    assert!(got.metadata().is_none_or(|m| m.is_empty()));
    assert_eq!(got.content_encoding(), None);
    assert_eq!(body_of(got).await, b"short now");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checksums_round_trip_through_get() {
    use sha2::Digest as _;
    let server = TestServer::start();
    let s3 = server.client();
    s3.create_bucket().bucket("bkt").send().await.unwrap();
    let data = pattern(99, 300_000);
    let sha256 = common::b64(&sha2::Sha256::digest(&data));
    let sha1 = common::b64(&<sha1::Sha1 as sha1::Digest>::digest(&data));
    let crc32 = common::b64(&common::crc32(&data).to_be_bytes());
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
            .body(ByteStream::from(data.clone()))
            .send()
            .await
            .unwrap();
        let got = s3
            .get_object()
            .bucket("bkt")
            .key(&key)
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
            .unwrap();
        let pick = |v: [Option<&str>; 5]| v.into_iter().flatten().next().map(str::to_owned);
        let sent = pick([
            put.checksum_crc32(),
            put.checksum_crc32_c(),
            put.checksum_crc64_nvme(),
            put.checksum_sha1(),
            put.checksum_sha256(),
        ]);
        let stored = pick([
            got.checksum_crc32(),
            got.checksum_crc32_c(),
            got.checksum_crc64_nvme(),
            got.checksum_sha1(),
            got.checksum_sha256(),
        ]);
        assert!(sent.is_some(), "{key}: no checksum echoed by PUT");
        assert_eq!(stored, sent, "{key}");
        match algo {
            ChecksumAlgorithm::Sha256 => assert_eq!(got.checksum_sha256(), Some(sha256.as_str())),
            ChecksumAlgorithm::Sha1 => assert_eq!(got.checksum_sha1(), Some(sha1.as_str())),
            ChecksumAlgorithm::Crc32 => assert_eq!(got.checksum_crc32(), Some(crc32.as_str())),
            _ => {}
        }
        // the SDK validates the body against the returned checksum while collecting it
        assert!(body_of(got).await == data, "{key}");
        // a ranged GET returns no whole-object checksum
        let part = s3
            .get_object()
            .bucket("bkt")
            .key(&key)
            .range("bytes=0-9")
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
            .unwrap();
        assert_eq!(body_of(part).await, &data[..10]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conditional_dates_and_conditional_writes() {
    use aws_sdk_s3::primitives::DateTime;
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
    let head = s3.head_object().bucket("bkt").key("k").send().await.unwrap();
    let lm = head.last_modified().unwrap().secs();
    let (before, after) = (DateTime::from_secs(lm - 3600), DateTime::from_secs(lm + 3600));
    let get = || s3.get_object().bucket("bkt").key("k");
    let head = || s3.head_object().bucket("bkt").key("k");

    assert_eq!(status(&get().if_modified_since(after).send().await), 304);
    assert_eq!(status(&get().if_modified_since(before).send().await), 200);
    assert_eq!(status(&get().if_unmodified_since(before).send().await), 412);
    assert_eq!(status(&get().if_unmodified_since(after).send().await), 200);
    // a matching If-Match wins over a failing If-Unmodified-Since
    assert_eq!(
        status(&get().if_match(&etag).if_unmodified_since(before).send().await),
        200
    );
    // a non-matching If-None-Match wins over If-Modified-Since
    assert_eq!(
        status(&get().if_none_match("\"other\"").if_modified_since(after).send().await),
        200
    );
    assert_eq!(status(&get().if_match("*").send().await), 200);
    assert_eq!(status(&head().if_none_match(&etag).send().await), 304);
    assert_eq!(status(&head().if_match("\"nope\"").send().await), 412);
    assert_eq!(status(&head().if_modified_since(after).send().await), 304);
    assert_eq!(status(&head().if_unmodified_since(before).send().await), 412);
    // a 304 still carries the ETag
    let e = get().if_none_match(&etag).send().await.unwrap_err();
    let raw = e.raw_response().unwrap();
    assert_eq!(raw.headers().get("etag"), Some(etag.as_str()));

    // conditional writes
    let e = s3
        .put_object()
        .bucket("bkt")
        .key("k")
        .if_match("\"0123456789abcdef0123456789abcdef\"")
        .body(ByteStream::from_static(b"v2"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e.into_service_error()), "PreconditionFailed");
    let e = s3
        .put_object()
        .bucket("bkt")
        .key("absent")
        .if_match(&etag)
        .body(ByteStream::from_static(b"v2"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e.into_service_error()), "NoSuchKey");
    s3.put_object()
        .bucket("bkt")
        .key("k")
        .if_match(&etag)
        .body(ByteStream::from_static(b"v2"))
        .send()
        .await
        .unwrap();
    s3.put_object()
        .bucket("bkt")
        .key("fresh")
        .if_none_match("*")
        .body(ByteStream::from_static(b"new"))
        .send()
        .await
        .unwrap();
    let got = s3.get_object().bucket("bkt").key("k").send().await.unwrap();
    assert_eq!(body_of(got).await, b"v2");
    // the old ETag no longer matches anything
    assert_eq!(status(&get().if_match(&etag).send().await), 412);
    // conditional copy: the source conditions apply
    let e = s3
        .copy_object()
        .bucket("bkt")
        .key("copy")
        .copy_source("bkt/k")
        .copy_source_if_match(&etag)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e.into_service_error()), "PreconditionFailed");
    assert_eq!(status(&s3.head_object().bucket("bkt").key("copy").send().await), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_overwrites_and_reads_see_whole_versions() {
    let server = TestServer::start();
    let s3 = server.client();
    s3.create_bucket().bucket("bkt").send().await.unwrap();
    // versions of different sizes, inline and blob
    let sizes = [3000usize, 16 * 1024, 700_000, 2 << 20, 100, 1 << 20, 50_000, 1_500_000];
    let versions: Vec<Vec<u8>> = sizes
        .iter()
        .enumerate()
        .map(|(i, &len)| pattern(1000 + i as u64, len))
        .collect();
    let etags: Vec<String> = versions.iter().map(|v| format!("\"{}\"", common::md5_hex(v))).collect();
    s3.put_object()
        .bucket("bkt")
        .key("hot")
        .body(ByteStream::from(versions[0].clone()))
        .send()
        .await
        .unwrap();

    let mut writers = Vec::new();
    for round in 0..3 {
        for (i, v) in versions.iter().enumerate().skip(1) {
            let (s3, v) = (s3.clone(), v.clone());
            writers.push(tokio::spawn(async move {
                tokio::time::sleep(std::time::Duration::from_millis((round * 7 + i as u64) % 13)).await;
                s3.put_object()
                    .bucket("bkt")
                    .key("hot")
                    .body(ByteStream::from(v))
                    .send()
                    .await
                    .unwrap();
            }));
        }
    }
    let mut readers = Vec::new();
    for _ in 0..4 {
        let (s3, versions, etags) = (s3.clone(), versions.clone(), etags.clone());
        readers.push(tokio::spawn(async move {
            for _ in 0..10 {
                let got = s3.get_object().bucket("bkt").key("hot").send().await.unwrap();
                let etag = got.e_tag().unwrap().to_owned();
                let len = got.content_length().unwrap();
                let body = body_of(got).await;
                let i = etags
                    .iter()
                    .position(|e| *e == etag)
                    .unwrap_or_else(|| panic!("unknown ETag {etag}"));
                assert_eq!(len as usize, body.len());
                assert!(body == versions[i], "GET mixed versions (ETag of {i})");
            }
        }));
    }
    for t in writers.into_iter().chain(readers) {
        t.await.unwrap();
    }
    // the end state is exactly one of the versions, and HEAD agrees with GET
    let head = s3.head_object().bucket("bkt").key("hot").send().await.unwrap();
    let got = s3.get_object().bucket("bkt").key("hot").send().await.unwrap();
    assert_eq!(head.e_tag(), got.e_tag());
    let i = etags.iter().position(|e| Some(e.as_str()) == got.e_tag()).unwrap();
    assert!(body_of(got).await == versions[i]);
    // one key, one listing entry
    let list = s3.list_objects_v2().bucket("bkt").send().await.unwrap();
    assert_eq!(list.key_count(), Some(1));
    assert_eq!(list.contents()[0].size(), Some(sizes[i] as i64));
    assert_eq!(list.contents()[0].e_tag(), Some(etags[i].as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_attributes_of_simple_and_multipart_objects() {
    use aws_sdk_s3::types::ObjectAttributes;
    let server = TestServer::start();
    let s3 = server.client();
    s3.create_bucket().bucket("attrs").send().await.unwrap();
    s3.put_object()
        .bucket("attrs")
        .key("one")
        .body(ByteStream::from_static(b"hello"))
        .send()
        .await
        .unwrap();
    let a = s3
        .get_object_attributes()
        .bucket("attrs")
        .key("one")
        .object_attributes(ObjectAttributes::Etag)
        .object_attributes(ObjectAttributes::ObjectSize)
        .object_attributes(ObjectAttributes::StorageClass)
        .send()
        .await
        .unwrap();
    assert_eq!(a.e_tag(), Some("5d41402abc4b2a76b9719d911017c592"));
    assert_eq!(a.object_size(), Some(5));
    assert!(a.object_parts().is_none());

    let up = s3
        .create_multipart_upload()
        .bucket("attrs")
        .key("mp")
        .checksum_algorithm(ChecksumAlgorithm::Crc32)
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap().to_owned();
    let mut parts = Vec::new();
    for n in 1..=3i32 {
        let len = if n == 3 { 100 } else { 5 << 20 };
        let out = s3
            .upload_part()
            .bucket("attrs")
            .key("mp")
            .upload_id(&id)
            .part_number(n)
            .checksum_algorithm(ChecksumAlgorithm::Crc32)
            .body(ByteStream::from(pattern(n as u64, len)))
            .send()
            .await
            .unwrap();
        parts.push(
            CompletedPart::builder()
                .part_number(n)
                .e_tag(out.e_tag().unwrap())
                .checksum_crc32(out.checksum_crc32().unwrap())
                .build(),
        );
    }
    s3.complete_multipart_upload()
        .bucket("attrs")
        .key("mp")
        .upload_id(&id)
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
        .send()
        .await
        .unwrap();
    let a = s3
        .get_object_attributes()
        .bucket("attrs")
        .key("mp")
        .object_attributes(ObjectAttributes::ObjectParts)
        .object_attributes(ObjectAttributes::Checksum)
        .max_parts(2)
        .send()
        .await
        .unwrap();
    let p = a.object_parts().unwrap();
    assert_eq!(p.total_parts_count(), Some(3));
    assert_eq!(p.is_truncated(), Some(true));
    assert_eq!(p.parts().len(), 2);
    assert_eq!(p.parts()[1].size(), Some(5 << 20));
    assert!(p.parts()[0].checksum_crc32().is_some());
    assert!(
        a.checksum()
            .and_then(|c| c.checksum_crc32())
            .is_some_and(|c| c.ends_with("-3"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn space_of_replaced_and_deleted_objects_is_reclaimed() {
    let server = TestServer::start_with(&["--gc-grace", "0"]);
    let s3 = server.client();
    s3.create_bucket().bucket("gcb").send().await.unwrap();
    let blob_bytes = || {
        let mut total = 0u64;
        let mut stack = vec![server.data.join("blobs")];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                let meta = e.metadata().unwrap();
                if meta.is_dir() {
                    stack.push(e.path());
                } else {
                    total += meta.len();
                }
            }
        }
        total
    };
    s3.put_object()
        .bucket("gcb")
        .key("k")
        .body(ByteStream::from(pattern(1, 1 << 20)))
        .send()
        .await
        .unwrap();
    s3.put_object()
        .bucket("gcb")
        .key("k")
        .body(ByteStream::from(pattern(2, 1 << 20)))
        .send()
        .await
        .unwrap();
    s3.delete_object().bucket("gcb").key("k").send().await.unwrap();
    // the collector runs every second (the harness sets --gc-interval 1)
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while blob_bytes() > 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(blob_bytes(), 0, "replaced and deleted blobs must be unlinked");
    // The collector's work shows on the admin port.
    let (status, _, body) = server.admin_raw("GET", "/metrics").await;
    assert_eq!(status, 200);
    let metrics = String::from_utf8_lossy(&body).into_owned();
    let items = metrics
        .lines()
        .find_map(|l| l.strip_prefix("ksan_worker_items_total{worker=\"gc\"} "))
        .and_then(|v| v.trim().parse::<u64>().ok());
    assert!(items.is_some_and(|n| n >= 2), "{metrics}");
    for worker in ["gc", "completed-uploads", "orphan-scrub"] {
        assert!(
            metrics.contains(&format!("ksan_worker_passes_total{{worker=\"{worker}\"}}")),
            "{worker}: {metrics}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acls_policies_access_blocks_and_ownership() {
    use aws_sdk_s3::types::{
        AccessControlPolicy, BucketCannedAcl, Grant, Grantee, ObjectCannedAcl, ObjectOwnership, Owner,
        OwnershipControls, OwnershipControlsRule, Permission, PublicAccessBlockConfiguration, Type,
    };
    let server = TestServer::start();
    let s3 = server.client();
    server.create_user("dave", "DAVEACCESSKEY0000001", "dave-secret-key-0000000000000000000001");
    let dave = server.client_for("DAVEACCESSKEY0000001", "dave-secret-key-0000000000000000000001");
    let dave_id = dave
        .list_buckets()
        .send()
        .await
        .unwrap()
        .owner()
        .and_then(|o| o.id())
        .unwrap()
        .to_owned();
    let root_id = s3
        .list_buckets()
        .send()
        .await
        .unwrap()
        .owner()
        .and_then(|o| o.id())
        .unwrap()
        .to_owned();

    // Default ACL: the owner's full control.
    s3.create_bucket().bucket("shared").send().await.unwrap();
    let acl = s3.get_bucket_acl().bucket("shared").send().await.unwrap();
    assert_eq!(acl.owner().and_then(|o| o.id()), Some(root_id.as_str()));
    assert_eq!(acl.grants().len(), 1);
    assert_eq!(acl.grants()[0].permission(), Some(&Permission::FullControl));
    assert_eq!(
        acl.grants()[0].grantee().map(|g| g.r#type()),
        Some(&Type::CanonicalUser)
    );

    // Grant dave WRITE and READ on the bucket with an AccessControlPolicy document.
    let grant = |perm: Permission| {
        Grant::builder()
            .grantee(
                Grantee::builder()
                    .r#type(Type::CanonicalUser)
                    .id(&dave_id)
                    .build()
                    .unwrap(),
            )
            .permission(perm)
            .build()
    };
    let owner_grant = Grant::builder()
        .grantee(
            Grantee::builder()
                .r#type(Type::CanonicalUser)
                .id(&root_id)
                .build()
                .unwrap(),
        )
        .permission(Permission::FullControl)
        .build();
    s3.put_bucket_acl()
        .bucket("shared")
        .access_control_policy(
            AccessControlPolicy::builder()
                .owner(Owner::builder().id(&root_id).build())
                .grants(owner_grant)
                .grants(grant(Permission::Write))
                .grants(grant(Permission::Read))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let acl = s3.get_bucket_acl().bucket("shared").send().await.unwrap();
    assert_eq!(acl.grants().len(), 3);
    assert!(
        acl.grants()
            .iter()
            .any(|g| g.grantee().and_then(|g| g.display_name()) == Some("dave"))
    );
    // dave writes an object he owns; root (the bucket owner) can list it but not read it.
    dave.put_object()
        .bucket("shared")
        .key("daves")
        .body(ByteStream::from_static(b"dave's"))
        .send()
        .await
        .unwrap();
    dave.list_objects_v2().bucket("shared").send().await.unwrap();
    let e = s3.get_object().bucket("shared").key("daves").send().await.unwrap_err();
    assert_eq!(code(&e.into_service_error()), "AccessDenied");
    let oacl = dave
        .get_object_acl()
        .bucket("shared")
        .key("daves")
        .send()
        .await
        .unwrap();
    assert_eq!(oacl.owner().and_then(|o| o.id()), Some(dave_id.as_str()));
    // ...until dave grants it with a canned ACL.
    dave.put_object_acl()
        .bucket("shared")
        .key("daves")
        .acl(ObjectCannedAcl::BucketOwnerRead)
        .send()
        .await
        .unwrap();
    let got = s3.get_object().bucket("shared").key("daves").send().await.unwrap();
    assert_eq!(body_of(got).await, b"dave's");
    // The bucket owner may delete any object in its bucket.
    s3.delete_object().bucket("shared").key("daves").send().await.unwrap();

    // Object ACLs are per version.
    s3.put_bucket_versioning()
        .bucket("shared")
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
        .bucket("shared")
        .key("v")
        .acl(ObjectCannedAcl::PublicRead)
        .body(ByteStream::from_static(b"one"))
        .send()
        .await
        .unwrap()
        .version_id()
        .unwrap()
        .to_owned();
    s3.put_object()
        .bucket("shared")
        .key("v")
        .body(ByteStream::from_static(b"two"))
        .send()
        .await
        .unwrap();
    let anon = server.anonymous_client();
    assert!(anon.get_object().bucket("shared").key("v").send().await.is_err());
    let old = s3
        .get_object_acl()
        .bucket("shared")
        .key("v")
        .version_id(&v1)
        .send()
        .await
        .unwrap();
    assert_eq!(old.grants().len(), 2);
    let current = s3.get_object_acl().bucket("shared").key("v").send().await.unwrap();
    assert_eq!(current.grants().len(), 1);

    // Policy: stored exactly as given; a public one reports IsPublic.
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Sid":"r","Effect":"Allow","Principal":{"AWS":"*"},"Action":["s3:GetObject"],"Resource":"arn:aws:s3:::shared/pub/*"}]}"#;
    let e = s3.get_bucket_policy().bucket("shared").send().await.unwrap_err();
    assert_eq!(code(&e.into_service_error()), "NoSuchBucketPolicy");
    s3.put_bucket_policy()
        .bucket("shared")
        .policy(policy)
        .send()
        .await
        .unwrap();
    let got = s3.get_bucket_policy().bucket("shared").send().await.unwrap();
    assert_eq!(got.policy(), Some(policy));
    let status = s3.get_bucket_policy_status().bucket("shared").send().await.unwrap();
    assert_eq!(status.policy_status().and_then(|s| s.is_public()), Some(true));
    s3.put_object()
        .bucket("shared")
        .key("pub/a")
        .body(ByteStream::from_static(b"public"))
        .send()
        .await
        .unwrap();
    let got = anon.get_object().bucket("shared").key("pub/a").send().await.unwrap();
    assert_eq!(body_of(got).await, b"public");
    s3.delete_bucket_policy().bucket("shared").send().await.unwrap();
    assert!(anon.get_object().bucket("shared").key("pub/a").send().await.is_err());

    // Public access block round trip.
    let e = s3.get_public_access_block().bucket("shared").send().await.unwrap_err();
    assert_eq!(code(&e.into_service_error()), "NoSuchPublicAccessBlockConfiguration");
    s3.put_public_access_block()
        .bucket("shared")
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .block_public_policy(true)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let got = s3.get_public_access_block().bucket("shared").send().await.unwrap();
    let c = got.public_access_block_configuration().unwrap();
    assert_eq!(
        (
            c.block_public_acls(),
            c.ignore_public_acls(),
            c.block_public_policy(),
            c.restrict_public_buckets()
        ),
        (Some(true), Some(false), Some(true), Some(false))
    );
    let e = s3
        .put_bucket_acl()
        .bucket("shared")
        .acl(BucketCannedAcl::PublicRead)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e.into_service_error()), "AccessDenied");
    let e = s3
        .put_bucket_policy()
        .bucket("shared")
        .policy(policy)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e.into_service_error()), "AccessDenied");
    s3.delete_public_access_block().bucket("shared").send().await.unwrap();

    // Ownership controls: BucketOwnerPreferred gives bucket-owner-full-control uploads to the
    // bucket owner.
    let e = s3
        .get_bucket_ownership_controls()
        .bucket("shared")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e.into_service_error()), "OwnershipControlsNotFoundError");
    s3.put_bucket_ownership_controls()
        .bucket("shared")
        .ownership_controls(
            OwnershipControls::builder()
                .rules(
                    OwnershipControlsRule::builder()
                        .object_ownership(ObjectOwnership::BucketOwnerPreferred)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    dave.put_object()
        .bucket("shared")
        .key("given")
        .acl(ObjectCannedAcl::BucketOwnerFullControl)
        .body(ByteStream::from_static(b"gift"))
        .send()
        .await
        .unwrap();
    let oacl = s3.get_object_acl().bucket("shared").key("given").send().await.unwrap();
    assert_eq!(oacl.owner().and_then(|o| o.id()), Some(root_id.as_str()));
    s3.delete_bucket_ownership_controls()
        .bucket("shared")
        .send()
        .await
        .unwrap();
}
