//! Server-side encryption end to end with aws-sdk-s3: SSE-S3, SSE-KMS (the built-in key
//! service, keys made with `ksan kms`), SSE-C; single PUTs, multipart uploads, copies between
//! modes, ranges across a chunk and a part boundary; bucket default encryption; no plaintext
//! and no customer key on disk or in the log; a flipped byte fails the GET; memory stays flat.

mod common;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    CompletedMultipartUpload, CompletedPart, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
};
use common::*;
use http::StatusCode;

const CHUNK: usize = 64 * 1024;
const MARKER: &[u8] = b"PLAINTEXT-MARKER-0123456789";

/// A body that is the marker over and over, with a counter so that ranges are checkable.
fn marked(len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 64);
    let mut i = 0u64;
    while out.len() < len {
        out.extend_from_slice(MARKER);
        out.extend_from_slice(format!("{i:08}|").as_bytes());
        i += 1;
    }
    out.truncate(len);
    out
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    Plain,
    S3,
    Kms,
    C(u8),
}

struct Key {
    b64: String,
    md5: String,
}

fn customer(seed: u8) -> Key {
    use md5::Digest;
    let key = [seed; 32];
    Key {
        b64: b64(&key),
        md5: b64(&md5::Md5::digest(key)),
    }
}

macro_rules! with_mode {
    ($req:expr, $mode:expr) => {{
        let r = $req;
        match $mode {
            Mode::Plain => r,
            Mode::S3 => r.server_side_encryption(ServerSideEncryption::Aes256),
            Mode::Kms => r
                .server_side_encryption(ServerSideEncryption::AwsKms)
                .ssekms_key_id("testkey-1"),
            Mode::C(seed) => {
                let k = customer(seed);
                r.sse_customer_algorithm("AES256")
                    .sse_customer_key(k.b64)
                    .sse_customer_key_md5(k.md5)
            }
        }
    }};
}

/// The SSE-C headers of a read (only SSE-C reads carry any).
macro_rules! with_read_key {
    ($req:expr, $mode:expr) => {{
        let r = $req;
        match $mode {
            Mode::C(seed) => {
                let k = customer(seed);
                r.sse_customer_algorithm("AES256")
                    .sse_customer_key(k.b64)
                    .sse_customer_key_md5(k.md5)
            }
            _ => r,
        }
    }};
}

fn kms(server: &TestServer, args: &[&str]) -> String {
    let endpoint = format!("http://{}", server.admin);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ksan"))
        .arg("kms")
        .args(args)
        .args(["--endpoint", &endpoint])
        .env("KSAN_ROOT_ACCESS_KEY", ROOT_AK)
        .env("KSAN_ROOT_SECRET_KEY", ROOT_SK)
        .output()
        .expect("ksan kms");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn get_range(c: &aws_sdk_s3::Client, key: &str, mode: Mode, range: Option<(usize, usize)>) -> Vec<u8> {
    let mut r = c.get_object().bucket("enc").key(key);
    if let Some((a, b)) = range {
        r = r.range(format!("bytes={a}-{b}"));
    }
    let out = with_read_key!(r, mode)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {key}: {e:?}"));
    out.body.collect().await.unwrap().into_bytes().to_vec()
}

fn assert_mode_headers(
    what: &str,
    mode: Mode,
    sse: Option<&ServerSideEncryption>,
    kms_key: Option<&str>,
    c_md5: Option<&str>,
) {
    match mode {
        Mode::Plain => assert_eq!((sse, c_md5), (None, None), "{what}"),
        Mode::S3 => assert_eq!(sse, Some(&ServerSideEncryption::Aes256), "{what}"),
        Mode::Kms => {
            assert_eq!(sse, Some(&ServerSideEncryption::AwsKms), "{what}");
            assert_eq!(kms_key, Some("testkey-1"), "{what}");
        }
        Mode::C(seed) => assert_eq!(c_md5, Some(customer(seed).md5.as_str()), "{what}"),
    }
}

/// Every blob file under the data directory.
fn blob_files(data: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![data.join("blobs")];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn every_mode_single_multipart_and_copies() {
    let server = TestServer::start_with(&["--allow-insecure-sse-c"]);
    make_key(&server, "testkey-1");
    let c = server.client();
    c.create_bucket().bucket("enc").send().await.unwrap();
    let modes = [Mode::Plain, Mode::S3, Mode::Kms, Mode::C(1)];
    let data = marked(3 * CHUNK + 1234);
    for mode in modes {
        let name = format!("single-{mode:?}");
        // Single PUT (and an empty one), HEAD, whole GET and a range across a chunk boundary.
        let put = with_mode!(c.put_object().bucket("enc").key(&name), mode)
            .body(ByteStream::from(data.clone()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("PUT {mode:?}: {e:?}"));
        assert_mode_headers(
            "PUT",
            mode,
            put.server_side_encryption(),
            put.ssekms_key_id(),
            put.sse_customer_key_md5(),
        );
        let head = with_read_key!(c.head_object().bucket("enc").key(&name), mode)
            .send()
            .await
            .unwrap();
        assert_mode_headers(
            "HEAD",
            mode,
            head.server_side_encryption(),
            head.ssekms_key_id(),
            head.sse_customer_key_md5(),
        );
        assert_eq!(head.content_length(), Some(data.len() as i64));
        assert_eq!(get_range(&c, &name, mode, None).await, data, "{mode:?}");
        let (a, b) = (CHUNK - 10, 2 * CHUNK + 5);
        assert_eq!(get_range(&c, &name, mode, Some((a, b))).await, &data[a..=b], "{mode:?}");
        let empty = format!("empty-{mode:?}");
        with_mode!(c.put_object().bucket("enc").key(&empty), mode)
            .body(ByteStream::from(Vec::new()))
            .send()
            .await
            .unwrap();
        assert!(get_range(&c, &empty, mode, None).await.is_empty());

        // Multipart: two 5 MiB parts and a small one; a range across the part boundary.
        let mp = format!("multi-{mode:?}");
        let part_len = 5 * 1024 * 1024;
        let body = marked(2 * part_len + 777);
        let up = with_mode!(c.create_multipart_upload().bucket("enc").key(&mp), mode)
            .send()
            .await
            .unwrap();
        assert_mode_headers(
            "CreateMultipartUpload",
            mode,
            up.server_side_encryption(),
            up.ssekms_key_id(),
            up.sse_customer_key_md5(),
        );
        let id = up.upload_id().unwrap();
        let mut parts = Vec::new();
        for (i, chunk) in body.chunks(part_len).enumerate() {
            let n = i as i32 + 1;
            let r = c.upload_part().bucket("enc").key(&mp).upload_id(id).part_number(n);
            let p = with_read_key!(r, mode)
                .body(ByteStream::from(chunk.to_vec()))
                .send()
                .await
                .unwrap_or_else(|e| panic!("UploadPart {mode:?}: {e:?}"));
            parts.push(
                CompletedPart::builder()
                    .part_number(n)
                    .e_tag(p.e_tag().unwrap())
                    .build(),
            );
        }
        if let Mode::C(_) = mode {
            // Every part needs the upload's key.
            let err = c
                .upload_part()
                .bucket("enc")
                .key(&mp)
                .upload_id(id)
                .part_number(9)
                .body(ByteStream::from(b"x".to_vec()))
                .send()
                .await
                .unwrap_err();
            assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(400));
        }
        // An SSE-C upload is completed with its key.
        let r = c.complete_multipart_upload().bucket("enc").key(&mp).upload_id(id);
        let done = CompletedMultipartUpload::builder().set_parts(Some(parts)).build();
        if let Mode::C(_) = mode {
            let err = r.clone().multipart_upload(done.clone()).send().await.unwrap_err();
            assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(400));
        }
        with_read_key!(r, mode).multipart_upload(done).send().await.unwrap();
        assert_eq!(get_range(&c, &mp, mode, None).await, body, "{mode:?}");
        let (a, b) = (part_len - 100, part_len + CHUNK + 3);
        assert_eq!(get_range(&c, &mp, mode, Some((a, b))).await, &body[a..=b], "{mode:?}");
    }

    // Copies between every pair of modes (shared blobs where the key is the same, sealed anew
    // otherwise), and UploadPartCopy from each.
    for from in modes {
        for to in [Mode::Plain, Mode::S3, Mode::Kms, Mode::C(2), Mode::C(1)] {
            let dst = format!("copy-{from:?}-{to:?}");
            let mut r = c
                .copy_object()
                .bucket("enc")
                .key(&dst)
                .copy_source(format!("enc/single-{from:?}"));
            if let Mode::C(seed) = from {
                let k = customer(seed);
                r = r
                    .copy_source_sse_customer_algorithm("AES256")
                    .copy_source_sse_customer_key(k.b64)
                    .copy_source_sse_customer_key_md5(k.md5);
            }
            let out = with_mode!(r, to)
                .send()
                .await
                .unwrap_or_else(|e| panic!("copy {from:?} -> {to:?}: {e:?}"));
            assert_mode_headers(
                "CopyObject",
                to,
                out.server_side_encryption(),
                out.ssekms_key_id(),
                out.sse_customer_key_md5(),
            );
            assert_eq!(get_range(&c, &dst, to, None).await, data, "{from:?} -> {to:?}");
        }
        let mp = format!("partcopy-{from:?}");
        let up = with_mode!(c.create_multipart_upload().bucket("enc").key(&mp), Mode::S3)
            .send()
            .await
            .unwrap();
        let mut r = c
            .upload_part_copy()
            .bucket("enc")
            .key(&mp)
            .upload_id(up.upload_id().unwrap())
            .part_number(1)
            .copy_source(format!("enc/single-{from:?}"))
            .copy_source_range(format!("bytes=100-{}", 2 * CHUNK));
        if let Mode::C(seed) = from {
            let k = customer(seed);
            r = r
                .copy_source_sse_customer_algorithm("AES256")
                .copy_source_sse_customer_key(k.b64)
                .copy_source_sse_customer_key_md5(k.md5);
        }
        let p = r.send().await.unwrap_or_else(|e| panic!("part copy {from:?}: {e:?}"));
        c.complete_multipart_upload()
            .bucket("enc")
            .key(&mp)
            .upload_id(up.upload_id().unwrap())
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .parts(
                        CompletedPart::builder()
                            .part_number(1)
                            .e_tag(p.copy_part_result().and_then(|r| r.e_tag()).unwrap())
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(
            get_range(&c, &mp, Mode::S3, None).await,
            &data[100..=2 * CHUNK],
            "{from:?}"
        );
    }

    // Nothing encrypted lies on disk in the clear: only the plain objects' blobs show the
    // marker (every encrypted object is at least as large as a plain one that does).
    let mut clear = 0;
    for f in blob_files(&server.data) {
        if contains(&std::fs::read(&f).unwrap(), MARKER) {
            clear += 1;
        }
    }
    // The plain objects' blobs: single-Plain (which copy-Plain-Plain shares), the three parts
    // of multi-Plain, and the three copies from encrypted sources into the clear. The empty
    // object is inline; the part copies are SSE-S3.
    assert_eq!(clear, 1 + 3 + 3, "blob files holding plaintext");
}

#[tokio::test]
async fn customer_keys_rules_and_secrecy() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let proc = Proc::spawn(
        &data,
        &[
            "--listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
            "--allow-insecure-sse-c",
        ],
        &[
            ("KSAN_ROOT_ACCESS_KEY", ROOT_AK),
            ("KSAN_ROOT_SECRET_KEY", ROOT_SK),
            ("KSAN_LOG", "trace"),
        ],
    );
    let s3 = proc.s3();
    let c = sdk_client(&format!("http://{s3}"), REGION, ROOT_AK, ROOT_SK);
    c.create_bucket().bucket("enc").send().await.unwrap();
    let secret = [0x5au8; 32];
    let key = customer(0x5a);
    let body = marked(100_000);
    c.put_object()
        .bucket("enc")
        .key("c")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&key.b64)
        .sse_customer_key_md5(&key.md5)
        .body(ByteStream::from(body.clone()))
        .send()
        .await
        .unwrap();
    let status = |e: &aws_sdk_s3::error::SdkError<aws_sdk_s3::operation::get_object::GetObjectError>| {
        e.raw_response().map(|r| r.status().as_u16())
    };
    // Without the key, with another: 400.
    let err = c.get_object().bucket("enc").key("c").send().await.unwrap_err();
    assert_eq!(status(&err), Some(400));
    let other = customer(1);
    let err = c
        .get_object()
        .bucket("enc")
        .key("c")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&other.b64)
        .sse_customer_key_md5(&other.md5)
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&err), Some(400));
    // A wrong MD5, a short key, a missing algorithm: 400 on PUT.
    for (alg, k, md5) in [
        (Some("AES256"), key.b64.clone(), other.md5.clone()),
        (Some("AES256"), b64(b"short"), key.md5.clone()),
        (None, key.b64.clone(), key.md5.clone()),
    ] {
        let mut r = c
            .put_object()
            .bucket("enc")
            .key("bad")
            .sse_customer_key(k)
            .sse_customer_key_md5(md5);
        if let Some(a) = alg {
            r = r.sse_customer_algorithm(a);
        }
        let err = r.body(ByteStream::from(b"x".to_vec())).send().await.unwrap_err();
        assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(400));
    }
    // SSE-C and SSE-S3 together: 400 InvalidArgument.
    let err = c
        .put_object()
        .bucket("enc")
        .key("both")
        .server_side_encryption(ServerSideEncryption::Aes256)
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&key.b64)
        .sse_customer_key_md5(&key.md5)
        .body(ByteStream::from(b"x".to_vec()))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.into_service_error().meta().code(), Some("InvalidArgument"));
    // A read that names SSE-S3: 400.
    let (status, _, _) = raw_to(
        &s3,
        "GET",
        "/enc/c",
        &{
            let mut h = http::HeaderMap::new();
            h.insert("x-amz-server-side-encryption", "AES256".parse().unwrap());
            h
        },
        vec![],
    )
    .await;
    assert!(status == StatusCode::BAD_REQUEST || status == StatusCode::FORBIDDEN);
    let got = c
        .get_object()
        .bucket("enc")
        .key("c")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&key.b64)
        .sse_customer_key_md5(&key.md5)
        .send()
        .await
        .unwrap();
    assert_eq!(got.body.collect().await.unwrap().into_bytes().to_vec(), body);

    // The key is nowhere: not in the log (at trace), not in any file of the data directory,
    // in raw, base64 or hex form.
    let log = proc.stderr() + &proc.stdout();
    assert!(log.len() > 1000, "the trace log is there");
    let forms: [Vec<u8>; 4] = [
        secret.to_vec(),
        key.b64.clone().into_bytes(),
        hex::encode(secret).into_bytes(),
        hex::encode_upper(secret).into_bytes(),
    ];
    for form in &forms[1..] {
        assert!(!contains(log.as_bytes(), form), "the key is in the log");
    }
    let mut files = vec![data.join("meta.redb"), data.join("master.key")];
    files.extend(blob_files(&data));
    for f in files {
        let bytes = std::fs::read(&f).unwrap();
        for form in &forms {
            assert!(!contains(&bytes, form), "the key is in {}", f.display());
        }
        assert!(!contains(&bytes, MARKER), "plaintext in {}", f.display());
    }
}

#[tokio::test]
async fn plain_http_refuses_customer_keys() {
    let server = TestServer::start();
    let c = server.client();
    c.create_bucket().bucket("enc").send().await.unwrap();
    let key = customer(3);
    let err = c
        .put_object()
        .bucket("enc")
        .key("c")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&key.b64)
        .sse_customer_key_md5(&key.md5)
        .body(ByteStream::from(b"x".to_vec()))
        .send()
        .await
        .unwrap_err();
    let e = err.into_service_error();
    assert_eq!(e.meta().code(), Some("InvalidRequest"));
    assert!(e.meta().message().unwrap_or_default().contains("secure connection"));
}

#[tokio::test]
async fn bucket_default_encryption_and_key_service() {
    let server = TestServer::start();
    make_key(&server, "testkey-1");
    let c = server.client();
    c.create_bucket().bucket("enc").send().await.unwrap();
    let err = c.get_bucket_encryption().bucket("enc").send().await.unwrap_err();
    assert_eq!(
        err.into_service_error().meta().code(),
        Some("ServerSideEncryptionConfigurationNotFoundError")
    );
    let config = |algo: ServerSideEncryption, key: Option<&str>| {
        ServerSideEncryptionConfiguration::builder()
            .rules(
                ServerSideEncryptionRule::builder()
                    .apply_server_side_encryption_by_default(
                        ServerSideEncryptionByDefault::builder()
                            .sse_algorithm(algo)
                            .set_kms_master_key_id(key.map(str::to_owned))
                            .build()
                            .unwrap(),
                    )
                    .build(),
            )
            .build()
            .unwrap()
    };
    c.put_bucket_encryption()
        .bucket("enc")
        .server_side_encryption_configuration(config(ServerSideEncryption::Aes256, None))
        .send()
        .await
        .unwrap();
    let got = c.get_bucket_encryption().bucket("enc").send().await.unwrap();
    let rule = &got.server_side_encryption_configuration().unwrap().rules()[0];
    assert_eq!(
        rule.apply_server_side_encryption_by_default()
            .map(|d| d.sse_algorithm()),
        Some(&ServerSideEncryption::Aes256)
    );
    // Objects written without SSE headers are encrypted by the default.
    let put = c
        .put_object()
        .bucket("enc")
        .key("d")
        .body(ByteStream::from(marked(70_000)))
        .send()
        .await
        .unwrap();
    assert_eq!(put.server_side_encryption(), Some(&ServerSideEncryption::Aes256));
    let up = c.create_multipart_upload().bucket("enc").key("m").send().await.unwrap();
    assert_eq!(up.server_side_encryption(), Some(&ServerSideEncryption::Aes256));
    // An unknown key is refused at once.
    let err = c
        .put_bucket_encryption()
        .bucket("enc")
        .server_side_encryption_configuration(config(ServerSideEncryption::AwsKms, Some("nope")))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.into_service_error().meta().code(), Some("KMS.NotFoundException"));
    c.put_bucket_encryption()
        .bucket("enc")
        .server_side_encryption_configuration(config(
            ServerSideEncryption::AwsKms,
            Some("arn:aws:kms:us-east-1:123456789012:key/testkey-1"),
        ))
        .send()
        .await
        .unwrap();
    let put = c
        .put_object()
        .bucket("enc")
        .key("k")
        .body(ByteStream::from(marked(1000)))
        .send()
        .await
        .unwrap();
    assert_eq!(put.server_side_encryption(), Some(&ServerSideEncryption::AwsKms));
    // A disabled key refuses decryption (and new encryption); enabled again, it reads.
    assert!(kms(&server, &["list"]).contains("testkey-1\tenabled"));
    kms(&server, &["disable-key", "testkey-1"]);
    let err = c.get_object().bucket("enc").key("k").send().await.unwrap_err();
    assert_eq!(err.into_service_error().meta().code(), Some("KMS.DisabledException"));
    let err = c
        .put_object()
        .bucket("enc")
        .key("k2")
        .body(ByteStream::from(b"x".to_vec()))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.into_service_error().meta().code(), Some("KMS.DisabledException"));
    kms(&server, &["enable-key", "testkey-1"]);
    let got = c.get_object().bucket("enc").key("k").send().await.unwrap();
    assert_eq!(got.body.collect().await.unwrap().into_bytes().to_vec(), marked(1000));
    c.delete_bucket_encryption().bucket("enc").send().await.unwrap();
    let put = c
        .put_object()
        .bucket("enc")
        .key("p")
        .body(ByteStream::from(b"plain".to_vec()))
        .send()
        .await
        .unwrap();
    assert_eq!(put.server_side_encryption(), None);
    // aws:kms without a key id: ksan has no default key.
    let err = c
        .put_object()
        .bucket("enc")
        .key("nokey")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .body(ByteStream::from(b"x".to_vec()))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.into_service_error().meta().code(), Some("InvalidArgument"));
}

#[tokio::test]
async fn tampered_blobs_fail_and_memory_stays_flat() {
    let mut server = TestServer::start();
    let c = server.client();
    c.create_bucket().bucket("enc").send().await.unwrap();
    let body = marked(4 * CHUNK);
    c.put_object()
        .bucket("enc")
        .key("t")
        .server_side_encryption(ServerSideEncryption::Aes256)
        .body(ByteStream::from(body.clone()))
        .send()
        .await
        .unwrap();
    let files = blob_files(&server.data);
    assert_eq!(files.len(), 1);
    let mut bytes = std::fs::read(&files[0]).unwrap();
    bytes[2 * CHUNK + 100] ^= 0x01;
    std::fs::write(&files[0], &bytes).unwrap();
    // The GET fails (cut off after the genuine chunks, or before its headers when the bad
    // chunk is reached that early): never altered bytes.
    if let Ok(out) = c.get_object().bucket("enc").key("t").send().await {
        assert!(out.body.collect().await.is_err(), "a tampered blob must not read back");
    }
    // A range inside the untouched first chunk still reads.
    let out = c
        .get_object()
        .bucket("enc")
        .key("t")
        .range("bytes=0-99")
        .send()
        .await
        .unwrap();
    assert_eq!(out.body.collect().await.unwrap().into_bytes().to_vec(), &body[..100]);

    // 256 MiB in and out with SSE-S3: the server's peak memory grows by far less than that.
    let pid = server.pid().unwrap();
    let peak = || peak_rss_kib(pid);
    let before = peak();
    let size: u64 = 256 * 1024 * 1024;
    let stream = futures_util::stream::iter(
        (0..size / (1024 * 1024))
            .map(|i| Ok::<_, std::io::Error>(bytes::Bytes::from(vec![(i % 251) as u8; 1024 * 1024]))),
    );
    let body = reqwest_like_body(stream, size);
    c.put_object()
        .bucket("enc")
        .key("big")
        .server_side_encryption(ServerSideEncryption::Aes256)
        .content_length(size as i64)
        .body(body)
        .send()
        .await
        .unwrap();
    let out = c.get_object().bucket("enc").key("big").send().await.unwrap();
    let mut got = 0u64;
    let mut reader = out.body;
    while let Some(chunk) = reader.next().await {
        let chunk = chunk.unwrap();
        for b in chunk.iter() {
            assert_eq!(*b, ((got / (1024 * 1024)) % 251) as u8, "byte {got}");
            got += 1;
        }
    }
    assert_eq!(got, size);
    let grown_mib = (peak().saturating_sub(before)) / 1024;
    println!("peak RSS grew by {grown_mib} MiB for a 256 MiB SSE-S3 PUT + GET");
    assert!(grown_mib < 96, "peak RSS grew by {grown_mib} MiB");
    server.kill9();
}

/// A streaming request body of known length for aws-sdk-s3.
fn reqwest_like_body(
    stream: impl futures_util::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send + Sync + 'static,
    len: u64,
) -> ByteStream {
    use http_body_util::StreamBody;
    let body = StreamBody::new(futures_util::StreamExt::map(stream, |r| {
        r.map(hyper::body::Frame::data)
    }));
    let _ = len;
    ByteStream::from_body_1_x(body)
}
