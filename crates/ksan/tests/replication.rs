//! Replication between buckets of one server, end to end with aws-sdk-s3: the configuration's
//! checks, PUT / multipart / copy / tags / delete markers carried with their version ids,
//! prefix and tag filters with priorities, replica and source statuses, existing objects, a
//! destination that refuses (FAILED) and then takes the version, and a SIGKILL while items
//! wait.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketVersioningStatus, CompletedMultipartUpload, CompletedPart, DeleteMarkerReplication,
    DeleteMarkerReplicationStatus, Destination, ExistingObjectReplication, ExistingObjectReplicationStatus,
    ReplicationConfiguration, ReplicationRule, ReplicationRuleFilter, ReplicationRuleStatus, Tag, Tagging,
    VersioningConfiguration,
};
use common::*;

fn code<E: aws_sdk_s3::error::ProvideErrorMetadata, R, H>(r: Result<R, aws_sdk_s3::error::SdkError<E, H>>) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(e) => e.as_service_error().and_then(|s| s.code()).unwrap_or("?").to_owned(),
    }
}

async fn versioning(c: &aws_sdk_s3::Client, bucket: &str, status: BucketVersioningStatus) {
    c.put_bucket_versioning()
        .bucket(bucket)
        .versioning_configuration(VersioningConfiguration::builder().status(status).build())
        .send()
        .await
        .unwrap();
}

/// A destination's ARN: a bucket here, unless `dest` is an ARN already.
fn arn(dest: &str) -> String {
    match dest.starts_with("arn:") {
        true => dest.to_owned(),
        false => format!("arn:aws:s3:::{dest}"),
    }
}

fn rule(id: &str, priority: i32, filter: ReplicationRuleFilter, dest: &str, markers: bool) -> ReplicationRule {
    let status = if markers {
        DeleteMarkerReplicationStatus::Enabled
    } else {
        DeleteMarkerReplicationStatus::Disabled
    };
    ReplicationRule::builder()
        .id(id)
        .priority(priority)
        .status(ReplicationRuleStatus::Enabled)
        .filter(filter)
        .delete_marker_replication(DeleteMarkerReplication::builder().status(status).build())
        .destination(Destination::builder().bucket(arn(dest)).build().unwrap())
        .build()
        .unwrap()
}

fn prefix(p: &str) -> ReplicationRuleFilter {
    ReplicationRuleFilter::builder().prefix(p).build()
}

async fn put_config(c: &aws_sdk_s3::Client, bucket: &str, rules: Vec<ReplicationRule>) -> String {
    let config = ReplicationConfiguration::builder()
        .role("arn:aws:iam::1:role/replication")
        .set_rules(Some(rules))
        .build()
        .unwrap();
    code(
        c.put_bucket_replication()
            .bucket(bucket)
            .replication_configuration(config)
            .send()
            .await,
    )
}

/// A multipart upload of `body` in 5 MiB parts; its version id.
async fn multipart_put(c: &aws_sdk_s3::Client, bucket: &str, key: &str, body: &[u8]) -> String {
    let up = c
        .create_multipart_upload()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap();
    let mut parts = Vec::new();
    for (n, chunk) in body.chunks(5 * 1024 * 1024).enumerate() {
        let n = n as i32 + 1;
        let p = c
            .upload_part()
            .bucket(bucket)
            .key(key)
            .upload_id(id)
            .part_number(n)
            .body(ByteStream::from(chunk.to_vec()))
            .send()
            .await
            .unwrap();
        parts.push(
            CompletedPart::builder()
                .part_number(n)
                .e_tag(p.e_tag().unwrap())
                .build(),
        );
    }
    c.complete_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(id)
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
        .send()
        .await
        .unwrap()
        .version_id()
        .unwrap()
        .to_owned()
}

async fn put(c: &aws_sdk_s3::Client, bucket: &str, key: &str, body: Vec<u8>) -> String {
    c.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body))
        .send()
        .await
        .unwrap()
        .version_id()
        .unwrap()
        .to_owned()
}

/// The replication status of a version (None: no header).
async fn status(c: &aws_sdk_s3::Client, bucket: &str, key: &str, vid: &str) -> Option<String> {
    let h = c
        .head_object()
        .bucket(bucket)
        .key(key)
        .version_id(vid)
        .send()
        .await
        .ok()?;
    h.replication_status().map(|s| s.as_str().to_owned())
}

async fn body(c: &aws_sdk_s3::Client, bucket: &str, key: &str, vid: &str) -> Option<Vec<u8>> {
    let out = c
        .get_object()
        .bucket(bucket)
        .key(key)
        .version_id(vid)
        .send()
        .await
        .ok()?;
    Some(out.body.collect().await.ok()?.into_bytes().to_vec())
}

/// (version id -> is a delete marker) of a key in a bucket.
async fn versions_of(c: &aws_sdk_s3::Client, bucket: &str, key: &str) -> HashMap<String, bool> {
    let out = c
        .list_object_versions()
        .bucket(bucket)
        .prefix(key)
        .send()
        .await
        .unwrap();
    let mut all = HashMap::new();
    for v in out.versions().iter().filter(|v| v.key() == Some(key)) {
        all.insert(v.version_id().unwrap_or_default().to_owned(), false);
    }
    for m in out.delete_markers().iter().filter(|m| m.key() == Some(key)) {
        all.insert(m.version_id().unwrap_or_default().to_owned(), true);
    }
    all
}

#[tokio::test]
async fn configuration_is_checked() {
    let server = TestServer::start();
    let c = server.client();
    for b in ["src", "dst", "plain"] {
        c.create_bucket().bucket(b).send().await.unwrap();
    }
    let r = || vec![rule("r", 1, prefix(""), "dst", false)];
    assert_eq!(
        put_config(&c, "src", r()).await,
        "InvalidRequest",
        "source not versioned"
    );
    versioning(&c, "src", BucketVersioningStatus::Enabled).await;
    assert_eq!(
        put_config(&c, "src", r()).await,
        "InvalidRequest",
        "destination not versioned"
    );
    versioning(&c, "dst", BucketVersioningStatus::Enabled).await;
    assert_eq!(
        put_config(&c, "src", vec![rule("r", 1, prefix(""), "nosuchbucket", false)]).await,
        "InvalidRequest"
    );
    let remote = ReplicationRule::builder()
        .id("remote")
        .priority(1)
        .status(ReplicationRuleStatus::Enabled)
        .filter(prefix(""))
        .delete_marker_replication(
            DeleteMarkerReplication::builder()
                .status(DeleteMarkerReplicationStatus::Disabled)
                .build(),
        )
        .destination(
            Destination::builder()
                .bucket("arn:ksan:replication::other:dst")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    assert_eq!(
        put_config(&c, "src", vec![remote]).await,
        "InvalidRequest",
        "no target registry yet"
    );
    let bad_arn = ReplicationRule::builder()
        .priority(1)
        .status(ReplicationRuleStatus::Enabled)
        .filter(prefix(""))
        .delete_marker_replication(
            DeleteMarkerReplication::builder()
                .status(DeleteMarkerReplicationStatus::Disabled)
                .build(),
        )
        .destination(Destination::builder().bucket("dst").build().unwrap())
        .build()
        .unwrap();
    assert_eq!(put_config(&c, "src", vec![bad_arn]).await, "InvalidArgument");
    assert_eq!(
        put_config(
            &c,
            "src",
            vec![
                rule("a", 1, prefix("a"), "dst", false),
                rule("b", 1, prefix("b"), "dst", false)
            ]
        )
        .await,
        "InvalidArgument",
        "duplicate priority"
    );
    let tagged_markers = rule(
        "t",
        1,
        ReplicationRuleFilter::builder()
            .tag(Tag::builder().key("k").value("v").build().unwrap())
            .build(),
        "dst",
        true,
    );
    assert_eq!(put_config(&c, "src", vec![tagged_markers]).await, "InvalidRequest");
    assert_eq!(
        code(c.get_bucket_replication().bucket("src").send().await),
        "ReplicationConfigurationNotFoundError"
    );
    assert_eq!(put_config(&c, "src", r()).await, "ok");
    let got = c.get_bucket_replication().bucket("src").send().await.unwrap();
    let got = got.replication_configuration().unwrap();
    assert_eq!(got.role(), "arn:aws:iam::1:role/replication");
    assert_eq!(got.rules(), r().as_slice());
    c.delete_bucket_replication().bucket("src").send().await.unwrap();
    assert_eq!(
        code(c.get_bucket_replication().bucket("src").send().await),
        "ReplicationConfigurationNotFoundError"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_reach_their_destinations() {
    let server = TestServer::start();
    let c = server.client();
    for b in ["src", "docs-dst", "tag-dst"] {
        c.create_bucket().bucket(b).send().await.unwrap();
        versioning(&c, b, BucketVersioningStatus::Enabled).await;
    }
    // An object written before the rules, which ExistingObjectReplication brings.
    let old = put(&c, "src", "docs/old", b"old".to_vec()).await;
    let tagged = ReplicationRuleFilter::builder()
        .tag(Tag::builder().key("copy").value("yes").build().unwrap())
        .build();
    let mut docs = rule("docs", 2, prefix("docs/"), "docs-dst", true);
    docs.existing_object_replication = Some(
        ExistingObjectReplication::builder()
            .status(ExistingObjectReplicationStatus::Enabled)
            .build()
            .unwrap(),
    );
    // A lower-priority rule to the same destination covering everything: "docs" wins there.
    let all_low = rule("all-low", 1, prefix(""), "docs-dst", false);
    let by_tag = rule("by-tag", 3, tagged, "tag-dst", false);
    assert_eq!(put_config(&c, "src", vec![docs, all_low, by_tag]).await, "ok");

    // PUT: the replica has the same version id and bytes; statuses on both sides.
    let v1 = put(&c, "src", "docs/a", b"first".to_vec()).await;
    eventually("docs/a replicated", || async {
        status(&c, "src", "docs/a", &v1).await.as_deref() == Some("COMPLETED")
    })
    .await;
    assert_eq!(status(&c, "docs-dst", "docs/a", &v1).await.as_deref(), Some("REPLICA"));
    assert_eq!(body(&c, "docs-dst", "docs/a", &v1).await.unwrap(), b"first");
    let (src_head, dst_head) = (
        c.head_object().bucket("src").key("docs/a").send().await.unwrap(),
        c.head_object().bucket("docs-dst").key("docs/a").send().await.unwrap(),
    );
    assert_eq!(src_head.e_tag(), dst_head.e_tag());
    assert_eq!(src_head.last_modified(), dst_head.last_modified());
    eventually("existing object replicated", || async {
        body(&c, "docs-dst", "docs/old", &old).await.as_deref() == Some(b"old".as_slice())
    })
    .await;

    // Multipart and copy.
    let mut expected = pattern(7, 5 * 1024 * 1024);
    expected.extend_from_slice(b"tail");
    let big = multipart_put(&c, "src", "docs/big", &expected).await;
    let copied = c
        .copy_object()
        .bucket("src")
        .key("docs/copy")
        .copy_source("src/docs/a")
        .send()
        .await
        .unwrap()
        .version_id()
        .unwrap()
        .to_owned();
    eventually("multipart and copy replicated", || async {
        status(&c, "docs-dst", "docs/big", &big).await.as_deref() == Some("REPLICA")
            && status(&c, "docs-dst", "docs/copy", &copied).await.as_deref() == Some("REPLICA")
    })
    .await;
    assert_eq!(body(&c, "docs-dst", "docs/big", &big).await.unwrap(), expected);

    // Tags set afterwards reach the replica; the tag rule now covers docs/a too.
    c.put_object_tagging()
        .bucket("src")
        .key("docs/a")
        .version_id(&v1)
        .tagging(
            Tagging::builder()
                .tag_set(Tag::builder().key("copy").value("yes").build().unwrap())
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    eventually("tags replicated", || async {
        c.get_object_tagging()
            .bucket("docs-dst")
            .key("docs/a")
            .version_id(&v1)
            .send()
            .await
            .is_ok_and(|t| t.tag_set().len() == 1)
            && status(&c, "tag-dst", "docs/a", &v1).await.as_deref() == Some("REPLICA")
    })
    .await;

    // Only the catch-all rule: docs-dst gets it, tag-dst does not.
    let other = put(&c, "src", "misc/x", b"x".to_vec()).await;
    eventually("catch-all replicated", || async {
        status(&c, "src", "misc/x", &other).await.as_deref() == Some("COMPLETED")
    })
    .await;
    assert_eq!(
        status(&c, "docs-dst", "misc/x", &other).await.as_deref(),
        Some("REPLICA")
    );
    assert_eq!(status(&c, "tag-dst", "misc/x", &other).await, None);
    // Only the tag rule: tag-dst gets it, docs-dst takes it by the low-priority catch-all.
    let t = c
        .put_object()
        .bucket("src")
        .key("misc/tagged")
        .tagging("copy=yes")
        .body(ByteStream::from_static(b"t"))
        .send()
        .await
        .unwrap()
        .version_id()
        .unwrap()
        .to_owned();
    eventually("tagged object replicated to both", || async {
        status(&c, "tag-dst", "misc/tagged", &t).await.as_deref() == Some("REPLICA")
            && status(&c, "docs-dst", "misc/tagged", &t).await.as_deref() == Some("REPLICA")
    })
    .await;

    // A delete marker goes where DeleteMarkerReplication is enabled (docs); a delete of a
    // version never goes.
    let marker = c
        .delete_object()
        .bucket("src")
        .key("docs/a")
        .send()
        .await
        .unwrap()
        .version_id()
        .unwrap()
        .to_owned();
    eventually("marker replicated", || async {
        versions_of(&c, "docs-dst", "docs/a").await.get(&marker) == Some(&true)
    })
    .await;
    assert!(
        versions_of(&c, "tag-dst", "docs/a").await.values().all(|m| !m),
        "tag-dst has no markers"
    );
    c.delete_object()
        .bucket("src")
        .key("docs/copy")
        .version_id(&copied)
        .send()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        body(&c, "docs-dst", "docs/copy", &copied).await.is_some(),
        "deleting a version is not replicated"
    );
    let (_, _, metrics) = server.admin_raw("GET", "/metrics").await;
    let metrics = String::from_utf8_lossy(&metrics).into_owned();
    assert!(
        metrics.contains("ksan_replication_objects_total{target=\"arn:aws:s3:::docs-dst\"}"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusing_destination_fails_then_takes_everything_once() {
    let mut server = TestServer::start();
    let c = server.client();
    for b in ["src", "dst"] {
        c.create_bucket().bucket(b).send().await.unwrap();
        versioning(&c, b, BucketVersioningStatus::Enabled).await;
    }
    assert_eq!(
        put_config(&c, "src", vec![rule("r", 1, prefix(""), "dst", true)]).await,
        "ok"
    );
    // The destination stops taking versions: everything is FAILED, and stays queued.
    versioning(&c, "dst", BucketVersioningStatus::Suspended).await;
    let first = put(&c, "src", "k0", b"v0".to_vec()).await;
    eventually("FAILED", || async {
        status(&c, "src", "k0", &first).await.as_deref() == Some("FAILED")
    })
    .await;
    let mut written = vec![("k0".to_owned(), first)];
    for i in 1..200 {
        let key = format!("k{}", i % 50);
        let vid = put(&c, "src", &key, format!("v{i}").into_bytes()).await;
        written.push((key, vid));
    }
    // The source dies with items waiting; after the restart the destination takes them.
    server.kill9();
    server.restart();
    let c = server.client();
    versioning(&c, "dst", BucketVersioningStatus::Enabled).await;
    eventually("every version replicated", || async {
        let mut all = 0;
        for k in 0..50 {
            all += versions_of(&c, "dst", &format!("k{k}")).await.len();
        }
        all == written.len()
    })
    .await;
    for (key, vid) in &written {
        assert_eq!(
            status(&c, "src", key, vid).await.as_deref(),
            Some("COMPLETED"),
            "{key} {vid}"
        );
        assert_eq!(body(&c, "src", key, vid).await, body(&c, "dst", key, vid).await);
    }
    let (_, _, metrics) = server.admin_raw("GET", "/metrics").await;
    assert!(String::from_utf8_lossy(&metrics).contains("ksan_replication_backlog{target=\"arn:aws:s3:::dst\"} 0"));
}

/// SSE-S3 replicas share the source's blob; SSE-KMS ones go only by a rule that takes them,
/// re-sealed under ReplicaKmsKeyID; SSE-C ones never go; retention and legal hold go along.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypted_and_locked_versions() {
    use aws_sdk_s3::types::{
        EncryptionConfiguration, ObjectLockLegalHold, ObjectLockLegalHoldStatus, ServerSideEncryption,
        SourceSelectionCriteria, SseKmsEncryptedObjects, SseKmsEncryptedObjectsStatus,
    };
    let server = TestServer::start_with(&["--allow-insecure-sse-c"]);
    make_key(&server, "src-key");
    make_key(&server, "replica-key");
    let c = server.client();
    for b in ["src", "dst"] {
        c.create_bucket()
            .bucket(b)
            .object_lock_enabled_for_bucket(true)
            .send()
            .await
            .unwrap();
    }
    let mut r = rule("enc", 1, prefix(""), "dst", false);
    r.source_selection_criteria = Some(
        SourceSelectionCriteria::builder()
            .sse_kms_encrypted_objects(
                SseKmsEncryptedObjects::builder()
                    .status(SseKmsEncryptedObjectsStatus::Enabled)
                    .build()
                    .unwrap(),
            )
            .build(),
    );
    r.destination = Some(
        Destination::builder()
            .bucket("arn:aws:s3:::dst")
            .encryption_configuration(
                EncryptionConfiguration::builder()
                    .replica_kms_key_id("replica-key")
                    .build(),
            )
            .build()
            .unwrap(),
    );
    assert_eq!(put_config(&c, "src", vec![r]).await, "ok");
    let body_of = pattern(3, 300 * 1024);
    let s3 = c
        .put_object()
        .bucket("src")
        .key("s3")
        .server_side_encryption(ServerSideEncryption::Aes256)
        .body(ByteStream::from(body_of.clone()))
        .send()
        .await
        .unwrap()
        .version_id()
        .unwrap()
        .to_owned();
    let kms = c
        .put_object()
        .bucket("src")
        .key("kms")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id("src-key")
        .body(ByteStream::from(body_of.clone()))
        .send()
        .await
        .unwrap()
        .version_id()
        .unwrap()
        .to_owned();
    let key = [7u8; 32];
    let ssec = c
        .put_object()
        .bucket("src")
        .key("ssec")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(b64(&key))
        .sse_customer_key_md5(b64(&md5_raw(&key)))
        .body(ByteStream::from_static(b"secret"))
        .send()
        .await
        .unwrap()
        .version_id()
        .unwrap()
        .to_owned();
    eventually("encrypted versions replicated", || async {
        status(&c, "dst", "s3", &s3).await.as_deref() == Some("REPLICA")
            && status(&c, "dst", "kms", &kms).await.as_deref() == Some("REPLICA")
    })
    .await;
    assert_eq!(body(&c, "dst", "s3", &s3).await.unwrap(), body_of);
    assert_eq!(body(&c, "dst", "kms", &kms).await.unwrap(), body_of);
    let head = c.head_object().bucket("dst").key("kms").send().await.unwrap();
    assert_eq!(head.ssekms_key_id(), Some("replica-key"));
    let head = c.head_object().bucket("dst").key("s3").send().await.unwrap();
    assert_eq!(head.server_side_encryption(), Some(&ServerSideEncryption::Aes256));
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        versions_of(&c, "dst", "ssec").await.is_empty(),
        "SSE-C objects are not replicated"
    );
    let _ = ssec;

    // A legal hold set on the source reaches the replica.
    c.put_object_legal_hold()
        .bucket("src")
        .key("s3")
        .version_id(&s3)
        .legal_hold(
            ObjectLockLegalHold::builder()
                .status(ObjectLockLegalHoldStatus::On)
                .build(),
        )
        .send()
        .await
        .unwrap();
    eventually("legal hold replicated", || async {
        c.get_object_legal_hold()
            .bucket("dst")
            .key("s3")
            .version_id(&s3)
            .send()
            .await
            .is_ok_and(|h| h.legal_hold().and_then(|l| l.status()) == Some(&ObjectLockLegalHoldStatus::On))
    })
    .await;
}

fn md5_raw(data: &[u8]) -> [u8; 16] {
    use md5::Digest;
    md5::Md5::digest(data).into()
}

/// `ksan replication-target ARGS` against `server`'s admin port; its output.
fn targets_cli(server: &TestServer, args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ksan"))
        .arg("replication-target")
        .args(args)
        .args(["--endpoint", &format!("http://{}", server.admin)])
        .env("KSAN_ROOT_ACCESS_KEY", ROOT_AK)
        .env("KSAN_ROOT_SECRET_KEY", ROOT_SK)
        .output()
        .expect("ksan replication-target");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Register `name` on `server` as another ksan at `endpoint`, with the root access key and
/// `secret`.
fn add_target(server: &TestServer, name: &str, endpoint: &str, secret: &str) {
    targets_cli(
        server,
        &[
            "add",
            name,
            "--ksan",
            "--target-endpoint",
            endpoint,
            "--access-key",
            ROOT_AK,
            "--secret-key",
            secret,
        ],
    );
}

async fn metric(server: &TestServer, line_prefix: &str) -> f64 {
    let (_, _, body) = server.admin_raw("GET", "/metrics").await;
    String::from_utf8_lossy(&body)
        .lines()
        .find_map(|l| l.strip_prefix(line_prefix).map(|v| v.trim().parse().unwrap_or(0.0)))
        .unwrap_or(0.0)
}

/// Two ksan processes: versions, multipart, tags and delete markers reach the other server as
/// ordinary S3 writes; while it is down everything waits and then arrives once; refused
/// credentials show as FAILED and in the metrics until the target is fixed; the secret never
/// shows in the target list.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_server_takes_the_versions() {
    let mut src = TestServer::start();
    let mut dst = TestServer::start();
    let (c, d) = (src.client(), dst.client());
    c.create_bucket().bucket("local").send().await.unwrap();
    versioning(&c, "local", BucketVersioningStatus::Enabled).await;
    d.create_bucket().bucket("remote").send().await.unwrap();
    versioning(&d, "remote", BucketVersioningStatus::Enabled).await;
    add_target(&src, "site2", &dst.endpoint(), ROOT_SK);
    let listed = targets_cli(&src, &["list"]);
    assert!(listed.contains("site2") && !listed.contains(ROOT_SK), "{listed}");
    let r = rule("remote", 1, prefix(""), "arn:ksan:replication::site2:remote", true);
    assert_eq!(put_config(&c, "local", vec![r]).await, "ok");

    // A PUT, a multipart upload, tags, a delete marker.
    let small = put(&c, "local", "a", b"alpha".to_vec()).await;
    let big_body = pattern(11, 6 * 1024 * 1024);
    let big = multipart_put(&c, "local", "big", &big_body).await;
    eventually("both replicated", || async {
        status(&c, "local", "a", &small).await.as_deref() == Some("COMPLETED")
            && status(&c, "local", "big", &big).await.as_deref() == Some("COMPLETED")
    })
    .await;
    // A version over 64 MiB goes by multipart upload, and keeps its identity all the same.
    let huge_body = pattern(13, 70 * 1024 * 1024 + 3);
    let huge = put(&c, "local", "huge", huge_body.clone()).await;
    eventually("the large version replicated", || async {
        status(&c, "local", "huge", &huge).await.as_deref() == Some("COMPLETED")
    })
    .await;
    let there = d
        .head_object()
        .bucket("remote")
        .key("huge")
        .version_id(&huge)
        .send()
        .await
        .unwrap();
    let here = c
        .head_object()
        .bucket("local")
        .key("huge")
        .version_id(&huge)
        .send()
        .await
        .unwrap();
    assert_eq!(there.e_tag(), here.e_tag());
    assert_eq!(body(&d, "remote", "huge", &huge).await, Some(huge_body));
    let uploads = d.list_multipart_uploads().bucket("remote").send().await.unwrap();
    assert!(uploads.uploads().is_empty(), "no upload left behind");

    // Between two ksan servers a replica keeps its version id, time, ETag and checksum.
    for (key, vid) in [("big", &big), ("a", &small)] {
        let there = d
            .get_object()
            .bucket("remote")
            .key(key)
            .version_id(vid)
            .send()
            .await
            .unwrap();
        let here = c
            .head_object()
            .bucket("local")
            .key(key)
            .version_id(vid)
            .send()
            .await
            .unwrap();
        assert_eq!(there.e_tag(), here.e_tag(), "{key}");
        assert_eq!(there.last_modified(), here.last_modified(), "{key}");
        assert_eq!(there.replication_status().map(|s| s.as_str()), Some("REPLICA"));
        let bytes = there.body.collect().await.unwrap().into_bytes().to_vec();
        assert_eq!(
            bytes,
            if key == "a" {
                b"alpha".to_vec()
            } else {
                big_body.clone()
            }
        );
    }
    c.put_object_tagging()
        .bucket("local")
        .key("a")
        .tagging(
            Tagging::builder()
                .tag_set(Tag::builder().key("team").value("x").build().unwrap())
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    eventually("tags replicated", || async {
        d.get_object_tagging()
            .bucket("remote")
            .key("a")
            .send()
            .await
            .is_ok_and(|t| t.tag_set().len() == 1)
    })
    .await;
    let marker = c
        .delete_object()
        .bucket("local")
        .key("a")
        .send()
        .await
        .unwrap()
        .version_id()
        .unwrap()
        .to_owned();
    eventually("marker replicated with its version id", || async {
        versions_of(&d, "remote", "a").await.get(&marker) == Some(&true)
    })
    .await;
    // Only the root user may send a replica's identity: a user allowed to write the bucket
    // is refused with it, and served without it.
    let mallory = ("MALLORYACCESSKEY0001", "mallory-secret-key-00000000000000000001");
    dst.create_user("mallory", mallory.0, mallory.1);
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::mallory:root"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::remote/*"}]}"#;
    d.put_bucket_policy()
        .bucket("remote")
        .policy(policy)
        .send()
        .await
        .unwrap();
    let forged = [("x-ksan-replica", "00000000000000000000000000000001;1;id")];
    let (code, _, refusal) = dst
        .signed_as(mallory, "PUT", "/remote/forged", &forged, b"x".to_vec(), None)
        .await;
    assert_eq!(code.as_u16(), 403, "{}", String::from_utf8_lossy(&refusal));
    let (code, _, _) = dst
        .signed_as(mallory, "PUT", "/remote/plain", &[], b"x".to_vec(), None)
        .await;
    assert_eq!(code.as_u16(), 200);

    // The destination is down while 500 objects are written: all wait, then arrive once.
    dst.kill9();
    let mut written = Vec::new();
    for i in 0..500 {
        let key = format!("down/{i:03}");
        written.push((
            key.clone(),
            put(&c, "local", &key, format!("body {i}").into_bytes()).await,
        ));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    for (key, vid) in written.iter().step_by(50) {
        let s = status(&c, "local", key, vid).await;
        assert!(matches!(s.as_deref(), Some("PENDING") | Some("FAILED")), "{key}: {s:?}");
    }
    dst.restart();
    let d = dst.client();
    add_target(&src, "site2", &dst.endpoint(), ROOT_SK);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let out = d
            .list_object_versions()
            .bucket("remote")
            .prefix("down/")
            .send()
            .await
            .unwrap();
        if out.versions().len() >= 500 || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let out = d
        .list_object_versions()
        .bucket("remote")
        .prefix("down/")
        .send()
        .await
        .unwrap();
    let mut per_key: HashMap<String, usize> = HashMap::new();
    for v in out.versions() {
        *per_key.entry(v.key().unwrap_or_default().to_owned()).or_default() += 1;
    }
    assert_eq!(per_key.len(), 500, "every object arrived");
    assert!(per_key.values().all(|n| *n == 1), "and once");
    for v in out.versions() {
        let key = v.key().unwrap_or_default();
        let (_, vid) = written.iter().find(|(k, _)| k == key).unwrap();
        assert_eq!(v.version_id(), Some(vid.as_str()), "{key} keeps its version id");
    }
    eventually("all COMPLETED", || async {
        for (key, vid) in written.iter().step_by(25) {
            if status(&c, "local", key, vid).await.as_deref() != Some("COMPLETED") {
                return false;
            }
        }
        true
    })
    .await;

    // Refused credentials: FAILED and counted, until the target is fixed.
    add_target(&src, "site2", &dst.endpoint(), "not-the-secret");
    let refused = put(&c, "local", "refused", b"r".to_vec()).await;
    eventually("FAILED", || async {
        status(&c, "local", "refused", &refused).await.as_deref() == Some("FAILED")
    })
    .await;
    assert!(
        metric(
            &src,
            "ksan_replication_failures_total{target=\"arn:ksan:replication::site2:remote\"} "
        )
        .await
            >= 1.0
    );
    add_target(&src, "site2", &dst.endpoint(), ROOT_SK);
    let deadline = Instant::now() + Duration::from_secs(60);
    while status(&c, "local", "refused", &refused).await.as_deref() != Some("COMPLETED") {
        assert!(Instant::now() < deadline, "the fixed target did not take the version");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(d.head_object().bucket("remote").key("refused").send().await.is_ok());

    // The source is killed while it replicates; after its restart every object arrives
    // once, byte-identical, with its version id.
    let mut crashed = Vec::new();
    for i in 0..200 {
        let key = format!("crash/{i:03}");
        let body = pattern(i, 1000 + i as usize);
        crashed.push((key.clone(), put(&c, "local", &key, body).await));
    }
    src.kill9();
    src.restart();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = d
            .list_object_versions()
            .bucket("remote")
            .prefix("crash/")
            .send()
            .await
            .unwrap();
        if out.versions().len() >= 200 {
            break;
        }
        assert!(Instant::now() < deadline, "only {} arrived", out.versions().len());
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let out = d
        .list_object_versions()
        .bucket("remote")
        .prefix("crash/")
        .send()
        .await
        .unwrap();
    assert_eq!(out.versions().len(), 200, "each once");
    for (i, (key, vid)) in crashed.iter().enumerate() {
        assert_eq!(
            body(&d, "remote", key, vid).await,
            Some(pattern(i as u64, 1000 + i)),
            "{key}"
        );
    }
}

/// A moto server (PyPI `moto[server]`) on a free loopback port, killed when dropped.
struct Moto(std::process::Child, String);

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_moto() -> Result<Moto, String> {
    let probe = std::process::Command::new("python3")
        .args(["-c", "import moto.server"])
        .output()
        .map_err(|e| format!("no python3: {e}"))?;
    if !probe.status.success() {
        return Err("python3 cannot import moto.server (pip install 'moto[server]')".into());
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    let child = std::process::Command::new("python3")
        .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let moto = Moto(child, format!("http://127.0.0.1:{port}"));
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            return Err("moto did not start listening in 30 s".into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(moto)
}

/// Another S3 implementation as the destination: ksan speaks plain S3 to it (signed PUTs with
/// metadata, tags and digests, DeleteObject for markers).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_s3_server_takes_plain_writes() {
    let moto = match start_moto() {
        Ok(m) => m,
        Err(why) => {
            println!("skipped: {why}");
            return;
        }
    };
    let foreign = sdk_client(&moto.1, "us-east-1", "testing", "testing");
    foreign.create_bucket().bucket("foreign").send().await.unwrap();
    let src = TestServer::start();
    let c = src.client();
    c.create_bucket().bucket("local").send().await.unwrap();
    versioning(&c, "local", BucketVersioningStatus::Enabled).await;
    targets_cli(
        &src,
        &[
            "add",
            "moto",
            "--target-endpoint",
            &moto.1,
            "--access-key",
            "testing",
            "--secret-key",
            "testing",
        ],
    );
    let r = rule("to-moto", 1, prefix(""), "arn:ksan:replication::moto:foreign", true);
    assert_eq!(put_config(&c, "local", vec![r]).await, "ok");
    let big = pattern(5, 1024 * 1024 + 7);
    let v1 = c
        .put_object()
        .bucket("local")
        .key("dir/big")
        .content_type("application/x-test")
        .metadata("origin", "ksan")
        .tagging("kind=big")
        .body(ByteStream::from(big.clone()))
        .send()
        .await
        .unwrap()
        .version_id()
        .unwrap()
        .to_owned();
    eventually("replicated to moto", || async {
        status(&c, "local", "dir/big", &v1).await.as_deref() == Some("COMPLETED")
    })
    .await;
    let got = foreign
        .get_object()
        .bucket("foreign")
        .key("dir/big")
        .send()
        .await
        .unwrap();
    assert_eq!(got.content_type(), Some("application/x-test"));
    assert_eq!(
        got.metadata().and_then(|m| m.get("origin")).map(String::as_str),
        Some("ksan")
    );
    assert_eq!(got.body.collect().await.unwrap().into_bytes().to_vec(), big);
    let tags = foreign
        .get_object_tagging()
        .bucket("foreign")
        .key("dir/big")
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tag_set().len(), 1);
    // Over 64 MiB: a plain multipart upload there.
    let huge_body = pattern(17, 65 * 1024 * 1024);
    let huge = put(&c, "local", "huge", huge_body.clone()).await;
    eventually("the large version reached moto", || async {
        status(&c, "local", "huge", &huge).await.as_deref() == Some("COMPLETED")
    })
    .await;
    let got = foreign.get_object().bucket("foreign").key("huge").send().await.unwrap();
    assert_eq!(got.body.collect().await.unwrap().into_bytes().to_vec(), huge_body);
    c.delete_object().bucket("local").key("dir/big").send().await.unwrap();
    eventually("the delete reached moto", || async {
        foreign
            .head_object()
            .bucket("foreign")
            .key("dir/big")
            .send()
            .await
            .is_err()
    })
    .await;
}

/// Between two ksan servers, retention and legal hold set after the write follow the version
/// (same version id on both sides).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lock_changes_reach_another_server() {
    use aws_sdk_s3::primitives::DateTime;
    use aws_sdk_s3::types::{
        ObjectLockLegalHold, ObjectLockLegalHoldStatus, ObjectLockRetention, ObjectLockRetentionMode,
    };
    let src = TestServer::start();
    let dst = TestServer::start();
    let (c, d) = (src.client(), dst.client());
    c.create_bucket()
        .bucket("locked")
        .object_lock_enabled_for_bucket(true)
        .send()
        .await
        .unwrap();
    d.create_bucket()
        .bucket("locked-copy")
        .object_lock_enabled_for_bucket(true)
        .send()
        .await
        .unwrap();
    add_target(&src, "site2", &dst.endpoint(), ROOT_SK);
    let r = rule("lock", 1, prefix(""), "arn:ksan:replication::site2:locked-copy", false);
    assert_eq!(put_config(&c, "locked", vec![r]).await, "ok");
    let vid = put(&c, "locked", "k", b"keep me".to_vec()).await;
    eventually("replicated", || async {
        status(&c, "locked", "k", &vid).await.as_deref() == Some("COMPLETED")
    })
    .await;
    let until = DateTime::from_secs(time::OffsetDateTime::now_utc().unix_timestamp() + 86_400);
    c.put_object_retention()
        .bucket("locked")
        .key("k")
        .version_id(&vid)
        .retention(
            ObjectLockRetention::builder()
                .mode(ObjectLockRetentionMode::Governance)
                .retain_until_date(until)
                .build(),
        )
        .send()
        .await
        .unwrap();
    c.put_object_legal_hold()
        .bucket("locked")
        .key("k")
        .version_id(&vid)
        .legal_hold(
            ObjectLockLegalHold::builder()
                .status(ObjectLockLegalHoldStatus::On)
                .build(),
        )
        .send()
        .await
        .unwrap();
    eventually("retention and hold replicated", || async {
        let hold = d
            .get_object_legal_hold()
            .bucket("locked-copy")
            .key("k")
            .version_id(&vid)
            .send()
            .await
            .ok()
            .and_then(|h| h.legal_hold().and_then(|l| l.status().cloned()));
        let retention = d
            .get_object_retention()
            .bucket("locked-copy")
            .key("k")
            .version_id(&vid)
            .send()
            .await
            .ok()
            .and_then(|r| r.retention().and_then(|r| r.mode().cloned()));
        hold == Some(ObjectLockLegalHoldStatus::On) && retention == Some(ObjectLockRetentionMode::Governance)
    })
    .await;
}

/// A free loopback port (bound and let go).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// An https target with a certificate of its own: refused (FAILED) while only the system's
/// roots are trusted, replicated once the target is registered with its CA file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_target_with_its_own_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_string_lossy().into_owned();
    let (ca, ca_key, cert, key, csr, ext) = (
        path("ca.pem"),
        path("ca.key"),
        path("cert.pem"),
        path("key.pem"),
        path("leaf.csr"),
        path("leaf.ext"),
    );
    std::fs::write(&ext, "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n").unwrap();
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    let steps: [Vec<&str>; 3] = [
        [
            &["req", "-x509"][..],
            &ec,
            &[
                "-keyout",
                &ca_key,
                "-out",
                &ca,
                "-days",
                "1",
                "-subj",
                "/CN=ksan test CA",
            ],
        ]
        .concat(),
        [
            &["req"][..],
            &ec,
            &["-keyout", &key, "-out", &csr, "-subj", "/CN=127.0.0.1"],
        ]
        .concat(),
        vec![
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &ca,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-out",
            &cert,
            "-days",
            "1",
            "-extfile",
            &ext,
        ],
    ];
    for args in steps {
        let made = std::process::Command::new("openssl").args(&args).output();
        if !made.as_ref().is_ok_and(|o| o.status.success()) {
            println!("skipped: openssl cannot make test certificates here");
            return;
        }
    }
    let (ca, cert, key) = (
        std::path::PathBuf::from(ca),
        std::path::PathBuf::from(cert),
        std::path::PathBuf::from(key),
    );
    let port = free_port();
    let tls_listen = format!("127.0.0.1:{port}");
    let dst = TestServer::start_with(&[
        "--tls-listen",
        &tls_listen,
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ]);
    let src = TestServer::start();
    let (c, d) = (src.client(), dst.client());
    c.create_bucket().bucket("local").send().await.unwrap();
    versioning(&c, "local", BucketVersioningStatus::Enabled).await;
    d.create_bucket().bucket("secure").send().await.unwrap();
    versioning(&d, "secure", BucketVersioningStatus::Enabled).await;
    let endpoint = format!("https://127.0.0.1:{port}");
    let register = |ca: Option<&std::path::Path>| {
        let mut args = vec![
            "add".to_owned(),
            "tls".into(),
            "--ksan".into(),
            "--target-endpoint".into(),
            endpoint.clone(),
            "--access-key".into(),
            ROOT_AK.into(),
            "--secret-key".into(),
            ROOT_SK.into(),
        ];
        if let Some(ca) = ca {
            args.push("--ca-file".into());
            args.push(ca.to_string_lossy().into_owned());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        targets_cli(&src, &args);
    };
    register(None);
    let r = rule("tls", 1, prefix(""), "arn:ksan:replication::tls:secure", false);
    assert_eq!(put_config(&c, "local", vec![r]).await, "ok");
    let vid = put(&c, "local", "k", b"over TLS".to_vec()).await;
    eventually("refused: the certificate is unknown", || async {
        status(&c, "local", "k", &vid).await.as_deref() == Some("FAILED")
    })
    .await;
    register(Some(&ca));
    assert!(targets_cli(&src, &["list"]).contains("own CA"));
    let deadline = Instant::now() + Duration::from_secs(60);
    while status(&c, "local", "k", &vid).await.as_deref() != Some("COMPLETED") {
        assert!(Instant::now() < deadline, "not replicated over TLS");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(
        body(&d, "secure", "k", &vid).await.as_deref(),
        Some(b"over TLS".as_slice())
    );
}
