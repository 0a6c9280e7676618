//! The ten flexible checksum algorithms with aws-sdk-s3: as a header on PutObject, as an
//! aws-chunked trailer, per part and for the whole object of a multipart upload, and as
//! GetObjectAttributes reports them. The expected values are computed here, with crates ksan
//! does not share the code path of (the SDK itself computes only five of the ten).

mod common;

use aws_sdk_s3::config::RequestChecksumCalculation;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    ChecksumAlgorithm as Algo, ChecksumMode, ChecksumType, CompletedMultipartUpload, CompletedPart, ObjectAttributes,
};
use common::{TestServer, error_code, pattern};
use http::{HeaderValue, StatusCode};

const ALL: [Algo; 10] = [
    Algo::Crc32,
    Algo::Crc32C,
    Algo::Crc64Nvme,
    Algo::Sha1,
    Algo::Sha256,
    Algo::Md5,
    Algo::Sha512,
    Algo::Xxhash64,
    Algo::Xxhash3,
    Algo::Xxhash128,
];

fn is_crc(a: &Algo) -> bool {
    matches!(a, Algo::Crc32 | Algo::Crc32C | Algo::Crc64Nvme)
}

/// The raw digest, as S3 defines each algorithm (big-endian for CRCs and xxHashes).
fn digest(a: &Algo, data: &[u8]) -> Vec<u8> {
    use md5::Digest as _;
    let crc = |algo| crc_fast::checksum(algo, data);
    match a {
        Algo::Crc32 => (crc(crc_fast::CrcAlgorithm::Crc32IsoHdlc) as u32)
            .to_be_bytes()
            .to_vec(),
        Algo::Crc32C => (crc(crc_fast::CrcAlgorithm::Crc32Iscsi) as u32).to_be_bytes().to_vec(),
        Algo::Crc64Nvme => crc(crc_fast::CrcAlgorithm::Crc64Nvme).to_be_bytes().to_vec(),
        Algo::Sha1 => sha1::Sha1::digest(data).to_vec(),
        Algo::Sha256 => sha2::Sha256::digest(data).to_vec(),
        Algo::Md5 => md5::Md5::digest(data).to_vec(),
        Algo::Sha512 => sha2::Sha512::digest(data).to_vec(),
        Algo::Xxhash64 => xxhash_rust::xxh64::xxh64(data, 0).to_be_bytes().to_vec(),
        Algo::Xxhash3 => xxhash_rust::xxh3::xxh3_64(data).to_be_bytes().to_vec(),
        Algo::Xxhash128 => xxhash_rust::xxh3::xxh3_128(data).to_be_bytes().to_vec(),
        other => panic!("no such algorithm {other:?}"),
    }
}

fn value(a: &Algo, data: &[u8]) -> String {
    common::b64(&digest(a, data))
}

fn header_name(a: &Algo) -> String {
    format!("x-amz-checksum-{}", a.as_str().to_ascii_lowercase())
}

/// The one checksum an output carries, whichever algorithm it is.
macro_rules! checksum_of {
    ($o:expr) => {{
        let o = &$o;
        [
            o.checksum_crc32(),
            o.checksum_crc32_c(),
            o.checksum_crc64_nvme(),
            o.checksum_sha1(),
            o.checksum_sha256(),
            o.checksum_md5(),
            o.checksum_sha512(),
            o.checksum_xxhash64(),
            o.checksum_xxhash3(),
            o.checksum_xxhash128(),
        ]
        .into_iter()
        .flatten()
        .map(str::to_owned)
        .collect::<Vec<String>>()
    }};
}

/// Set the checksum of algorithm `a` on a request or part builder.
macro_rules! with_checksum {
    ($b:expr, $a:expr, $v:expr) => {{
        let (b, v) = ($b, $v);
        match $a {
            Algo::Crc32 => b.checksum_crc32(v),
            Algo::Crc32C => b.checksum_crc32_c(v),
            Algo::Crc64Nvme => b.checksum_crc64_nvme(v),
            Algo::Sha1 => b.checksum_sha1(v),
            Algo::Sha256 => b.checksum_sha256(v),
            Algo::Md5 => b.checksum_md5(v),
            Algo::Sha512 => b.checksum_sha512(v),
            Algo::Xxhash64 => b.checksum_xxhash64(v),
            Algo::Xxhash3 => b.checksum_xxhash3(v),
            Algo::Xxhash128 => b.checksum_xxhash128(v),
            other => panic!("no such algorithm {other:?}"),
        }
    }};
}

fn code<E: ProvideErrorMetadata>(e: &E) -> String {
    e.code().unwrap_or_default().to_owned()
}

/// A client that sends only the checksums it is given (the SDK cannot compute the newer five).
fn client(server: &TestServer) -> aws_sdk_s3::Client {
    let config = server
        .client()
        .config()
        .to_builder()
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_algorithm_on_a_single_put() {
    let server = TestServer::start();
    let s3 = client(&server);
    s3.create_bucket().bucket("cks").send().await.unwrap();
    let data = pattern(3, 200_000);
    for a in ALL {
        let key = format!("one-{}", a.as_str());
        let v = value(&a, &data);
        let put = with_checksum!(s3.put_object().bucket("cks").key(&key), &a, &v)
            .body(ByteStream::from(data.clone()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{key}: {:?}", e.into_service_error()));
        assert_eq!(checksum_of!(put), [v.as_str()], "{key}: PUT echoes the checksum");
        assert_eq!(put.checksum_type(), Some(&ChecksumType::FullObject), "{key}");

        let head = s3.head_object().bucket("cks").key(&key).send().await.unwrap();
        assert!(checksum_of!(head).is_empty(), "{key}: only asked for");
        let head = s3
            .head_object()
            .bucket("cks")
            .key(&key)
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
            .unwrap();
        assert_eq!(checksum_of!(head), [v.as_str()], "{key}: HEAD");
        let get = s3
            .get_object()
            .bucket("cks")
            .key(&key)
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
            .unwrap();
        assert_eq!(checksum_of!(get), [v.as_str()], "{key}: GET");
        assert!(get.body.collect().await.unwrap().into_bytes() == data[..], "{key}");
        let attrs = s3
            .get_object_attributes()
            .bucket("cks")
            .key(&key)
            .object_attributes(ObjectAttributes::Checksum)
            .send()
            .await
            .unwrap();
        let c = attrs.checksum().expect("Checksum");
        assert_eq!(checksum_of!(c), [v.as_str()], "{key}: GetObjectAttributes");
        assert_eq!(c.checksum_type(), Some(&ChecksumType::FullObject), "{key}");

        // CopyObject keeps the checksum, or computes the one asked for from the bytes.
        let next = &ALL[(ALL.iter().position(|x| *x == a).unwrap() + 1) % ALL.len()];
        for (to, algorithm) in [
            (format!("kept-{}", a.as_str()), None),
            (format!("redone-{}", a.as_str()), Some(next)),
        ] {
            let copy = s3
                .copy_object()
                .bucket("cks")
                .key(&to)
                .copy_source(format!("cks/{key}"))
                .set_checksum_algorithm(algorithm.cloned())
                .send()
                .await
                .unwrap_or_else(|e| panic!("{to}: {:?}", e.into_service_error()));
            let r = copy.copy_object_result().expect("CopyObjectResult");
            let want = value(algorithm.unwrap_or(&a), &data);
            assert_eq!(checksum_of!(r), [want.as_str()], "{to}");
            assert_eq!(r.checksum_type(), Some(&ChecksumType::FullObject), "{to}");
            let head = s3
                .head_object()
                .bucket("cks")
                .key(&to)
                .checksum_mode(ChecksumMode::Enabled)
                .send()
                .await
                .unwrap();
            assert_eq!(checksum_of!(head), [want], "{to}: HEAD");
        }

        // A value of another body, and a value that is no digest at all: BadDigest, and
        // nothing is stored.
        let bad_key = format!("bad-{}", a.as_str());
        for wrong in [value(&a, b"other"), "bad".to_owned()] {
            let e = with_checksum!(s3.put_object().bucket("cks").key(&bad_key), &a, &wrong)
                .body(ByteStream::from(data.clone()))
                .send()
                .await
                .unwrap_err();
            let status = e.raw_response().map(|r| r.status().as_u16());
            assert_eq!(
                (status, code(&e.into_service_error())),
                (Some(400), "BadDigest".to_owned()),
                "{bad_key}: {wrong}"
            );
        }
        let e = s3.head_object().bucket("cks").key(&bad_key).send().await.unwrap_err();
        assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(404), "{bad_key}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_algorithm_as_a_trailer() {
    let server = TestServer::start();
    server.client().create_bucket().bucket("cks").send().await.unwrap();
    let data = pattern(5, 150_000);
    let now = time::OffsetDateTime::now_utc();
    for a in ALL {
        let name = header_name(&a);
        for (key, sent, expect) in [
            (format!("good-{}", a.as_str()), value(&a, &data), StatusCode::OK),
            (format!("bad-{}", a.as_str()), value(&a, b"x"), StatusCode::BAD_REQUEST),
        ] {
            let path = format!("/cks/{key}");
            let body = ksan_proto::auth::sign::chunked_unsigned_body(&data, 65536, &[(name.as_str(), &sent)]);
            let mut h = server.sign_headers(
                "PUT",
                &path,
                &[
                    ("content-encoding", "aws-chunked"),
                    ("x-amz-decoded-content-length", &data.len().to_string()),
                    ("x-amz-sdk-checksum-algorithm", a.as_str()),
                    ("x-amz-trailer", &name),
                ],
                b"",
                Some("STREAMING-UNSIGNED-PAYLOAD-TRAILER"),
                now,
            );
            h.insert("content-length", HeaderValue::from(body.len()));
            let (status, resp, text) = server.raw("PUT", &path, &h, body).await;
            assert_eq!(status, expect, "{key}: {}", String::from_utf8_lossy(&text));
            if status == StatusCode::OK {
                assert_eq!(
                    resp.get(&name).and_then(|v| v.to_str().ok()),
                    Some(sent.as_str()),
                    "{key}"
                );
            } else {
                assert_eq!(error_code(&text), "BadDigest", "{key}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_algorithm_on_multipart_uploads() {
    let server = TestServer::start();
    let s3 = client(&server);
    s3.create_bucket().bucket("cks").send().await.unwrap();
    let parts_data = [pattern(7, 5 * 1024 * 1024), pattern(8, 300_000)];
    let whole: Vec<u8> = parts_data.concat();
    for a in ALL {
        // S3's rules: FULL_OBJECT only for the CRCs, COMPOSITE for all but CRC64NVME.
        let allowed = |t: &ChecksumType| match t {
            ChecksumType::FullObject => is_crc(&a),
            _ => a != Algo::Crc64Nvme,
        };
        let types: Vec<ChecksumType> = [ChecksumType::Composite, ChecksumType::FullObject]
            .into_iter()
            .filter(allowed)
            .collect();
        let refused: Vec<ChecksumType> = [ChecksumType::Composite, ChecksumType::FullObject]
            .into_iter()
            .filter(|t| !types.contains(t))
            .collect();
        for t in refused {
            let e = s3
                .create_multipart_upload()
                .bucket("cks")
                .key("refused")
                .checksum_algorithm(a.clone())
                .checksum_type(t.clone())
                .send()
                .await
                .unwrap_err();
            assert_eq!(code(&e.into_service_error()), "InvalidRequest", "{a:?} with {t:?}");
        }
        for t in types {
            let key = format!("mp-{}-{}", a.as_str(), t.as_str());
            let up = s3
                .create_multipart_upload()
                .bucket("cks")
                .key(&key)
                .checksum_algorithm(a.clone())
                .checksum_type(t.clone())
                .send()
                .await
                .unwrap_or_else(|e| panic!("{key}: {:?}", e.into_service_error()));
            assert_eq!(up.checksum_algorithm(), Some(&a), "{key}");
            assert_eq!(up.checksum_type(), Some(&t), "{key}");
            let upload_id = up.upload_id().unwrap();
            let mut completed = Vec::new();
            for (i, part) in parts_data.iter().enumerate() {
                let n = i as i32 + 1;
                let v = value(&a, part);
                let out = with_checksum!(
                    s3.upload_part()
                        .bucket("cks")
                        .key(&key)
                        .upload_id(upload_id)
                        .part_number(n),
                    &a,
                    &v
                )
                .body(ByteStream::from(part.clone()))
                .send()
                .await
                .unwrap_or_else(|e| panic!("{key} part {n}: {:?}", e.into_service_error()));
                assert_eq!(checksum_of!(out), [v.as_str()], "{key} part {n}");
                let p = CompletedPart::builder().part_number(n).e_tag(out.e_tag().unwrap());
                completed.push(with_checksum!(p, &a, &v).build());
            }
            let listed = s3
                .list_parts()
                .bucket("cks")
                .key(&key)
                .upload_id(upload_id)
                .send()
                .await
                .unwrap();
            for (p, data) in listed.parts().iter().zip(&parts_data) {
                assert_eq!(checksum_of!(p), [value(&a, data)], "{key}: ListParts");
            }
            let expected = if t == ChecksumType::FullObject {
                value(&a, &whole)
            } else {
                let raw: Vec<u8> = parts_data.iter().flat_map(|p| digest(&a, p)).collect();
                format!("{}-{}", value(&a, &raw), parts_data.len())
            };
            let done = s3
                .complete_multipart_upload()
                .bucket("cks")
                .key(&key)
                .upload_id(upload_id)
                .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(completed)).build())
                .send()
                .await
                .unwrap_or_else(|e| panic!("{key}: {:?}", e.into_service_error()));
            assert_eq!(
                checksum_of!(done),
                [expected.as_str()],
                "{key}: CompleteMultipartUpload"
            );
            assert_eq!(done.checksum_type(), Some(&t), "{key}");

            let head = s3
                .head_object()
                .bucket("cks")
                .key(&key)
                .checksum_mode(ChecksumMode::Enabled)
                .send()
                .await
                .unwrap();
            assert_eq!(checksum_of!(head), [expected.as_str()], "{key}: HEAD");
            assert_eq!(head.checksum_type(), Some(&t), "{key}");
            let attrs = s3
                .get_object_attributes()
                .bucket("cks")
                .key(&key)
                .object_attributes(ObjectAttributes::Checksum)
                .object_attributes(ObjectAttributes::ObjectParts)
                .object_attributes(ObjectAttributes::ObjectSize)
                .send()
                .await
                .unwrap();
            let c = attrs.checksum().expect("Checksum");
            assert_eq!(checksum_of!(c), [expected.as_str()], "{key}: GetObjectAttributes");
            assert_eq!(c.checksum_type(), Some(&t), "{key}");
            assert_eq!(attrs.object_size(), Some(whole.len() as i64));
            let parts = attrs.object_parts().expect("ObjectParts");
            assert_eq!(parts.total_parts_count(), Some(2), "{key}");
            let listed: Vec<Vec<String>> = parts.parts().iter().map(|p| checksum_of!(p)).collect();
            let want: Vec<Vec<String>> = parts_data.iter().map(|d| vec![value(&a, d)]).collect();
            assert_eq!(listed, want, "{key}: part checksums");

            // Copied with its algorithm named, a composite checksum becomes a whole-object one.
            let copy = s3
                .copy_object()
                .bucket("cks")
                .key(format!("{key}-copy"))
                .copy_source(format!("cks/{key}"))
                .checksum_algorithm(a.clone())
                .send()
                .await
                .unwrap_or_else(|e| panic!("{key} copy: {:?}", e.into_service_error()));
            let r = copy.copy_object_result().expect("CopyObjectResult");
            assert_eq!(checksum_of!(r), [value(&a, &whole)], "{key}: copy");
            assert_eq!(r.checksum_type(), Some(&ChecksumType::FullObject), "{key}: copy");
        }
    }
}
