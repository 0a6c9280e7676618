//! Durability: SIGKILL the server while PUTs are in flight; after a restart every
//! acknowledged object reads back byte-identical and no object is torn.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use common::{TestServer, pattern};

fn size_of(i: u64) -> usize {
    // mixed sizes: inline (≤ 16 KiB), single blobs up to 2 MiB
    match i % 4 {
        0 => 1024,
        1 => 16 * 1024,
        2 => 300 * 1024,
        _ => 2 * 1024 * 1024,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_puts_survive_sigkill() {
    let mut server = TestServer::start();
    let s3 = server.client();
    s3.create_bucket().bucket("crash").send().await.unwrap();
    let acked = Arc::new(Mutex::new(Vec::<u64>::new()));
    let total = 200u64;
    let mut tasks = Vec::new();
    for worker in 0..8u64 {
        let (s3, acked) = (s3.clone(), acked.clone());
        tasks.push(tokio::spawn(async move {
            for i in (worker..total).step_by(8) {
                // every object is written twice: a torn overwrite would mix the two versions
                for round in 0..2u64 {
                    let body = pattern(i * 10 + round, size_of(i));
                    let r = s3
                        .put_object()
                        .bucket("crash")
                        .key(format!("obj-{i}"))
                        .body(ByteStream::from(body))
                        .send()
                        .await;
                    match r {
                        Ok(_) if round == 1 => acked.lock().unwrap().push(i),
                        Ok(_) => {}
                        Err(_) => return,
                    }
                }
            }
        }));
    }
    // kill once about half the objects are acknowledged
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while acked.lock().unwrap().len() < (total / 2) as usize && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.kill9();
    for t in tasks {
        let _ = t.await;
    }
    let acked: Vec<u64> = acked.lock().unwrap().clone();
    assert!(!acked.is_empty());

    server.restart();
    let s3 = server.client();
    for i in 0..total {
        let got = s3.get_object().bucket("crash").key(format!("obj-{i}")).send().await;
        match got {
            Ok(out) => {
                let body = out.body.collect().await.unwrap().into_bytes();
                let first = pattern(i * 10, size_of(i));
                let second = pattern(i * 10 + 1, size_of(i));
                if acked.contains(&i) {
                    assert!(body[..] == second[..], "acknowledged object {i} lost or changed");
                } else {
                    assert!(body[..] == first[..] || body[..] == second[..], "object {i} is torn");
                }
            }
            Err(e) => {
                assert!(!acked.contains(&i), "acknowledged object {i} missing: {e:?}");
            }
        }
    }
}

/// What a key's last write was meant to be.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Intent {
    /// put `pattern(seed, len)`
    Put(u64, usize),
    Delete,
}

/// A key, what it held before the storm (seed, length), and what the storm wrote.
type Op = (String, Option<(u64, usize)>, Intent);

fn mixed_size(i: u64) -> usize {
    // 1 KiB .. 2 MiB, spread over inline and blob sizes
    const SIZES: [usize; 7] = [1024, 5000, 16 * 1024, 16 * 1024 + 1, 200 * 1024, 1 << 20, 2 << 20];
    SIZES[(i as usize * 7 + 3) % SIZES.len()]
}

async fn read(s3: &aws_sdk_s3::Client, key: &str) -> Option<Vec<u8>> {
    match s3.get_object().bucket("crash2").key(key).send().await {
        Ok(out) => Some(out.body.collect().await.expect("body").into_bytes().to_vec()),
        Err(e) => {
            let status = e.raw_response().map(|r| r.status().as_u16());
            assert_eq!(status, Some(404), "GET {key}: {e:?}");
            None
        }
    }
}

/// Every key reads back as one of the states it was allowed to end in.
async fn verify(s3: &aws_sdk_s3::Client, stable: &[(String, u64, usize)], ops: &[Op], acked: &[usize]) {
    for (key, seed, len) in stable {
        let got = read(s3, key)
            .await
            .unwrap_or_else(|| panic!("{key}: untouched object lost"));
        assert!(got == pattern(*seed, *len), "{key}: untouched object changed");
    }
    for (i, (key, before, intent)) in ops.iter().enumerate() {
        let got = read(s3, key).await;
        let old = before.map(|(s, l)| pattern(s, l));
        let new = match intent {
            Intent::Put(s, l) => Some(pattern(*s, *l)),
            Intent::Delete => None,
        };
        if acked.contains(&i) {
            assert!(got == new, "{key}: acknowledged {intent:?} not durable");
        } else {
            assert!(got == new || got == old, "{key}: neither old nor new (torn?)");
        }
    }
    // the listing agrees with what GET sees
    let mut listed = std::collections::BTreeSet::new();
    let mut pages = s3.list_objects_v2().bucket("crash2").into_paginator().send();
    while let Some(page) = pages.next().await {
        for o in page.expect("list").contents() {
            listed.insert(o.key().unwrap().to_owned());
        }
    }
    for (key, ..) in stable {
        assert!(listed.contains(key), "{key} readable but not listed");
    }
    for (key, ..) in ops {
        let readable = read(s3, key).await.is_some();
        assert_eq!(listed.contains(key), readable, "{key}: listing and GET disagree");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_writes_then_sigkill() {
    let started = std::time::Instant::now();
    let mut server = TestServer::start();
    let s3 = server.client();
    s3.create_bucket().bucket("crash2").send().await.unwrap();

    // 60 objects written and acknowledged before the storm
    let stable_count = 60u64;
    let mut before = Vec::new();
    for i in 0..stable_count {
        let (key, seed, len) = (format!("pre/{i:03}"), 50_000 + i, mixed_size(i));
        s3.put_object()
            .bucket("crash2")
            .key(&key)
            .body(ByteStream::from(pattern(seed, len)))
            .send()
            .await
            .unwrap();
        before.push((key, seed, len));
    }
    // the storm: 200 new keys, 20 overwrites and 20 deletes of existing ones, all at once
    let mut ops: Vec<Op> = Vec::new();
    for i in 0..200u64 {
        ops.push((format!("new/{i:03}"), None, Intent::Put(i, mixed_size(i))));
    }
    for (j, (key, seed, len)) in before.iter().enumerate().take(40) {
        let intent = if j % 2 == 0 {
            Intent::Put(90_000 + j as u64, mixed_size(j as u64 + 1))
        } else {
            Intent::Delete
        };
        ops.push((key.clone(), Some((*seed, *len)), intent));
    }
    let stable: Vec<(String, u64, usize)> = before[40..].to_vec();

    let acked = Arc::new(Mutex::new(Vec::<usize>::new()));
    let acked_count = Arc::new(AtomicUsize::new(0));
    // the killer runs on its own OS thread so a busy runtime cannot delay it
    let pid = server.pid().expect("running") as libc::pid_t;
    let half = ops.len() / 2;
    let killer = {
        let acked_count = acked_count.clone();
        std::thread::spawn(move || {
            let deadline = std::time::Instant::now() + Duration::from_secs(40);
            while acked_count.load(Ordering::SeqCst) < half && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_micros(200));
            }
            // SAFETY: plain kill(2) on our own child, which has not been reaped yet
            unsafe { libc::kill(pid, libc::SIGKILL) };
            acked_count.load(Ordering::SeqCst)
        })
    };
    let mut tasks = Vec::new();
    for (i, (key, _, intent)) in ops.iter().cloned().enumerate() {
        let (s3, acked, acked_count) = (s3.clone(), acked.clone(), acked_count.clone());
        tasks.push(tokio::spawn(async move {
            let r = match intent {
                Intent::Put(seed, len) => s3
                    .put_object()
                    .bucket("crash2")
                    .key(&key)
                    .body(ByteStream::from(pattern(seed, len)))
                    .send()
                    .await
                    .is_ok(),
                Intent::Delete => s3.delete_object().bucket("crash2").key(&key).send().await.is_ok(),
            };
            if r {
                acked.lock().unwrap().push(i);
                acked_count.fetch_add(1, Ordering::SeqCst);
            }
        }));
    }
    let at_kill = tokio::task::spawn_blocking(move || killer.join().expect("killer"))
        .await
        .unwrap();
    server.kill9();
    // in-flight requests fail (their retries find no server); give them a bounded time
    let _ = tokio::time::timeout(Duration::from_secs(30), async {
        for t in tasks.iter_mut() {
            let _ = t.await;
        }
    })
    .await;
    for t in &tasks {
        t.abort();
    }
    let acked: Vec<usize> = acked.lock().unwrap().clone();
    eprintln!(
        "SIGKILL with {at_kill} of {} writes acknowledged ({} in the end)",
        ops.len(),
        acked.len()
    );
    assert!(
        at_kill > 0 && at_kill < ops.len(),
        "kill landed outside the storm: {at_kill} acked"
    );

    server.restart();
    let s3 = server.client();
    verify(&s3, &stable, &ops, &acked).await;

    // recovery is repeatable: crash again right away, nothing changes
    server.restart();
    let s3 = server.client();
    verify(&s3, &stable, &ops, &acked).await;

    // and the server takes writes again
    s3.put_object()
        .bucket("crash2")
        .key("after")
        .body(ByteStream::from(pattern(7, 3000)))
        .send()
        .await
        .unwrap();
    assert_eq!(read(&s3, "after").await, Some(pattern(7, 3000)));
    assert!(
        started.elapsed() < Duration::from_secs(90),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_buckets_and_settings_survive_restart() {
    use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
    let mut server = TestServer::start();
    let s3 = server.client();
    server.create_user("dave", "DAVEACCESSKEY0000001", "dave-secret-key-0000000000000000000001");
    let dave = server.client_for("DAVEACCESSKEY0000001", "dave-secret-key-0000000000000000000001");
    dave.create_bucket().bucket("daves").send().await.unwrap();
    s3.create_bucket().bucket("vers").send().await.unwrap();
    s3.put_bucket_versioning()
        .bucket("vers")
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
        .bucket("vers")
        .key("doc")
        .content_type("text/markdown")
        .metadata("rev", "1")
        .body(ByteStream::from(pattern(1, 20_000)))
        .send()
        .await
        .unwrap();
    s3.put_object()
        .bucket("vers")
        .key("doc")
        .body(ByteStream::from(pattern(2, 300_000)))
        .send()
        .await
        .unwrap();
    dave.put_object()
        .bucket("daves")
        .key("mine")
        .body(ByteStream::from_static(b"dave's"))
        .send()
        .await
        .unwrap();

    server.restart();
    let s3 = server.client();
    let dave = server.client_for("DAVEACCESSKEY0000001", "dave-secret-key-0000000000000000000001");
    // the user still signs in, and still owns only his bucket
    let names: Vec<String> = dave
        .list_buckets()
        .send()
        .await
        .unwrap()
        .buckets()
        .iter()
        .filter_map(|b| b.name().map(str::to_owned))
        .collect();
    assert_eq!(names, ["daves"]);
    let got = dave.get_object().bucket("daves").key("mine").send().await.unwrap();
    assert_eq!(&got.body.collect().await.unwrap().into_bytes()[..], b"dave's");
    let e = dave.get_object().bucket("vers").key("doc").send().await.unwrap_err();
    assert_eq!(
        aws_sdk_s3::error::ProvideErrorMetadata::code(&e.into_service_error()),
        Some("AccessDenied")
    );
    // versioning is still on, both versions are there with their metadata
    let status = s3.get_bucket_versioning().bucket("vers").send().await.unwrap();
    assert_eq!(status.status(), Some(&BucketVersioningStatus::Enabled));
    let old = s3
        .get_object()
        .bucket("vers")
        .key("doc")
        .version_id(v1.version_id().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(old.content_type(), Some("text/markdown"));
    assert_eq!(old.metadata().and_then(|m| m.get("rev")).map(String::as_str), Some("1"));
    assert!(old.body.collect().await.unwrap().into_bytes()[..] == pattern(1, 20_000)[..]);
    let cur = s3.get_object().bucket("vers").key("doc").send().await.unwrap();
    assert!(cur.body.collect().await.unwrap().into_bytes()[..] == pattern(2, 300_000)[..]);
    let versions = s3.list_object_versions().bucket("vers").send().await.unwrap();
    assert_eq!(versions.versions().len(), 2);
}
