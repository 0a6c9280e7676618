//! Multipart at scale: 1 GiB in 100 parts uploaded 8 at a time, completion copies no bytes,
//! and a SIGKILL during uploads and completions never leaves a half-completed object.

mod common;

use std::path::Path;
use std::sync::Arc;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use common::{TestServer, pattern};
use md5::{Digest, Md5};

const PARTS: usize = 100;
const PART_SIZE: usize = 10 * 1024 * 1024 + 737 * 1024; // 100 parts ≈ 1 GiB
const BLOCK: usize = 1024 * 1024;

/// Part `n`'s bytes: a 1 MiB block of its own, repeated (cheap to make, distinct per part).
fn part_bytes(n: usize, len: usize) -> Vec<u8> {
    let block = pattern(n as u64 + 1000, BLOCK);
    block.iter().copied().cycle().take(len).collect()
}

/// Total bytes of blob files under the data directory.
fn blob_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.join("blobs")];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let Ok(meta) = e.metadata() else { continue };
            if meta.is_dir() {
                stack.push(e.path());
            } else {
                total += meta.len();
            }
        }
    }
    total
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_gib_in_100_parts_eight_at_a_time() {
    let server = TestServer::start();
    let s3 = server.client();
    s3.create_bucket().bucket("big").send().await.unwrap();
    let up = s3
        .create_multipart_upload()
        .bucket("big")
        .key("gib")
        .send()
        .await
        .unwrap();
    let id = Arc::new(up.upload_id().unwrap().to_owned());
    let sem = Arc::new(tokio::sync::Semaphore::new(8));
    let mut tasks = Vec::new();
    for n in 1..=PARTS {
        let (s3, id, sem) = (s3.clone(), id.clone(), sem.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = sem.acquire().await.unwrap();
            let out = s3
                .upload_part()
                .bucket("big")
                .key("gib")
                .upload_id(id.as_str())
                .part_number(n as i32)
                .body(ByteStream::from(part_bytes(n, PART_SIZE)))
                .send()
                .await
                .unwrap();
            CompletedPart::builder()
                .part_number(n as i32)
                .e_tag(out.e_tag().unwrap())
                .build()
        }));
    }
    let mut parts = Vec::new();
    for t in tasks {
        parts.push(t.await.unwrap());
    }
    let before = blob_bytes(&server.data);
    assert!(before >= (PARTS * PART_SIZE) as u64);
    s3.complete_multipart_upload()
        .bucket("big")
        .key("gib")
        .upload_id(id.as_str())
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
        .send()
        .await
        .unwrap();
    assert_eq!(blob_bytes(&server.data), before, "completion must not copy bytes");

    let mut expected = Md5::new();
    for n in 1..=PARTS {
        expected.update(part_bytes(n, PART_SIZE));
    }
    let got = s3.get_object().bucket("big").key("gib").send().await.unwrap();
    assert_eq!(got.content_length(), Some((PARTS * PART_SIZE) as i64));
    let mut body = got.body;
    let mut actual = Md5::new();
    while let Some(chunk) = body.try_next().await.unwrap() {
        actual.update(&chunk);
    }
    assert_eq!(actual.finalize(), expected.finalize(), "read back differs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_uploads_and_completions() {
    let mut server = TestServer::start();
    let s3 = server.client();
    s3.create_bucket().bucket("mpk").send().await.unwrap();
    let done = Arc::new(std::sync::Mutex::new(Vec::<usize>::new()));
    let mut tasks = Vec::new();
    for obj in 0..12usize {
        let (s3, done) = (s3.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            let key = format!("obj-{obj}");
            let Ok(up) = s3.create_multipart_upload().bucket("mpk").key(&key).send().await else {
                return;
            };
            let id = up.upload_id().unwrap_or_default().to_owned();
            let mut parts = Vec::new();
            for n in 1..=2usize {
                let len = if n == 1 { 5 * 1024 * 1024 } else { 1000 + obj };
                let body = part_bytes(obj * 10 + n, len);
                let Ok(out) = s3
                    .upload_part()
                    .bucket("mpk")
                    .key(&key)
                    .upload_id(&id)
                    .part_number(n as i32)
                    .body(ByteStream::from(body))
                    .send()
                    .await
                else {
                    return;
                };
                parts.push(
                    CompletedPart::builder()
                        .part_number(n as i32)
                        .e_tag(out.e_tag().unwrap_or_default())
                        .build(),
                );
            }
            let r = s3
                .complete_multipart_upload()
                .bucket("mpk")
                .key(&key)
                .upload_id(&id)
                .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
                .send()
                .await;
            if r.is_ok() {
                done.lock().unwrap().push(obj);
            }
        }));
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while done.lock().unwrap().len() < 4 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    server.kill9();
    for t in tasks {
        let _ = t.await;
    }
    let done = done.lock().unwrap().clone();
    server.restart();
    let s3 = server.client();
    for obj in 0..12usize {
        let mut whole = part_bytes(obj * 10 + 1, 5 * 1024 * 1024);
        whole.extend(part_bytes(obj * 10 + 2, 1000 + obj));
        match s3.get_object().bucket("mpk").key(format!("obj-{obj}")).send().await {
            Ok(out) => {
                let body = out.body.collect().await.unwrap().into_bytes();
                assert!(body[..] == whole[..], "object {obj} is not whole");
            }
            Err(_) => assert!(!done.contains(&obj), "completed object {obj} is missing"),
        }
    }
}
