//! Lifecycle end to end with aws-sdk-s3 and raw HTTP: the configuration's round trip and S3's
//! errors, the headers that announce expiration and abort dates, and the executor with a
//! compressed day (`--lifecycle-day-secs`): expiration on unversioned, versioned and suspended
//! buckets, noncurrent versions, expired delete markers, aborted uploads, prefix / tag / size
//! filters, object lock respected, and a pass over 20,000 objects killed with SIGKILL that
//! resumes and expires every due object exactly once.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, BucketVersioningStatus, ExpirationStatus,
    LifecycleExpiration, LifecycleRule, LifecycleRuleAndOperator, LifecycleRuleFilter, NoncurrentVersionExpiration,
    ObjectLockLegalHoldStatus, Tag, Transition, TransitionStorageClass, VersioningConfiguration,
};
use common::*;

fn code<E: aws_sdk_s3::error::ProvideErrorMetadata, R, H>(r: Result<R, aws_sdk_s3::error::SdkError<E, H>>) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(e) => e.as_service_error().and_then(|s| s.code()).unwrap_or("?").to_owned(),
    }
}

fn prefix_filter(p: &str) -> LifecycleRuleFilter {
    LifecycleRuleFilter::builder().prefix(p).build()
}

fn rule(id: &str, filter: LifecycleRuleFilter) -> aws_sdk_s3::types::builders::LifecycleRuleBuilder {
    LifecycleRule::builder()
        .id(id)
        .status(ExpirationStatus::Enabled)
        .filter(filter)
}

fn expire_days(days: i32) -> LifecycleExpiration {
    LifecycleExpiration::builder().days(days).build()
}

fn noncurrent(days: i32, newer: Option<i32>) -> NoncurrentVersionExpiration {
    let mut b = NoncurrentVersionExpiration::builder().noncurrent_days(days);
    if let Some(n) = newer {
        b = b.newer_noncurrent_versions(n);
    }
    b.build()
}

async fn put_rules(c: &aws_sdk_s3::Client, bucket: &str, rules: Vec<LifecycleRule>) -> String {
    let config = BucketLifecycleConfiguration::builder()
        .set_rules(Some(rules))
        .build()
        .unwrap();
    code(
        c.put_bucket_lifecycle_configuration()
            .bucket(bucket)
            .lifecycle_configuration(config)
            .send()
            .await,
    )
}

async fn put(c: &aws_sdk_s3::Client, bucket: &str, key: &str, body: &[u8]) -> Option<String> {
    let out = c
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body.to_vec()))
        .send()
        .await
        .unwrap();
    out.version_id().map(str::to_owned)
}

async fn set_versioning(c: &aws_sdk_s3::Client, bucket: &str, status: BucketVersioningStatus) {
    c.put_bucket_versioning()
        .bucket(bucket)
        .versioning_configuration(VersioningConfiguration::builder().status(status).build())
        .send()
        .await
        .unwrap();
}

async fn keys(c: &aws_sdk_s3::Client, bucket: &str) -> Vec<String> {
    let out = c.list_objects_v2().bucket(bucket).send().await.unwrap();
    out.contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect()
}

/// (versions, delete markers) of a bucket, by key, all pages.
async fn versions(c: &aws_sdk_s3::Client, bucket: &str) -> (HashMap<String, usize>, HashMap<String, usize>) {
    let (mut versions, mut markers) = (HashMap::new(), HashMap::new());
    let (mut key_marker, mut vid_marker) = (None::<String>, None::<String>);
    loop {
        let out = c
            .list_object_versions()
            .bucket(bucket)
            .set_key_marker(key_marker.clone())
            .set_version_id_marker(vid_marker.clone())
            .send()
            .await
            .unwrap();
        for v in out.versions() {
            *versions.entry(v.key().unwrap_or_default().to_owned()).or_default() += 1;
        }
        for m in out.delete_markers() {
            *markers.entry(m.key().unwrap_or_default().to_owned()).or_default() += 1;
        }
        if out.is_truncated() != Some(true) {
            return (versions, markers);
        }
        key_marker = out.next_key_marker().map(str::to_owned);
        vid_marker = out.next_version_id_marker().map(str::to_owned);
    }
}

/// A metric's value on the admin port (0 when absent).
async fn metric(server: &TestServer, line_prefix: &str) -> f64 {
    let (_, _, body) = server.admin_raw("GET", "/metrics").await;
    String::from_utf8_lossy(&body)
        .lines()
        .find_map(|l| l.strip_prefix(line_prefix).map(|v| v.trim().parse().unwrap_or(0.0)))
        .unwrap_or(0.0)
}

#[tokio::test]
async fn configuration_round_trip_errors_and_headers() {
    let server = TestServer::start();
    let c = server.client();
    c.create_bucket().bucket("lcb").send().await.unwrap();
    assert_eq!(
        code(c.get_bucket_lifecycle_configuration().bucket("lcb").send().await),
        "NoSuchLifecycleConfiguration"
    );
    // Deleting none is fine.
    c.delete_bucket_lifecycle().bucket("lcb").send().await.unwrap();

    let rules = vec![
        rule("logs", prefix_filter("logs/"))
            .expiration(expire_days(1))
            .build()
            .unwrap(),
        rule(
            "tagged",
            LifecycleRuleFilter::builder()
                .and(
                    LifecycleRuleAndOperator::builder()
                        .prefix("t/")
                        .tags(Tag::builder().key("k").value("v").build().unwrap())
                        .object_size_greater_than(10)
                        .build(),
                )
                .build(),
        )
        .noncurrent_version_expiration(noncurrent(3, Some(2)))
        .build()
        .unwrap(),
        rule("uploads", prefix_filter("up/"))
            .abort_incomplete_multipart_upload(
                AbortIncompleteMultipartUpload::builder()
                    .days_after_initiation(2)
                    .build(),
            )
            .build()
            .unwrap(),
    ];
    assert_eq!(put_rules(&c, "lcb", rules.clone()).await, "ok");
    let got = c
        .get_bucket_lifecycle_configuration()
        .bucket("lcb")
        .send()
        .await
        .unwrap();
    assert_eq!(got.rules(), rules.as_slice());

    // x-amz-expiration on PUT, HEAD and GET: a day after creation, rounded up to midnight UTC.
    let now = time::OffsetDateTime::now_utc();
    let expected_day = (now + time::Duration::days(2)).date();
    let expected = format!(
        "expiry-date=\"{}, {:02} {} {} 00:00:00 GMT\", rule-id=\"logs\"",
        &format!("{}", expected_day.weekday())[..3],
        expected_day.day(),
        &format!("{}", expected_day.month())[..3],
        expected_day.year()
    );
    let out = c
        .put_object()
        .bucket("lcb")
        .key("logs/a")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    assert_eq!(out.expiration(), Some(expected.as_str()));
    let head = c.head_object().bucket("lcb").key("logs/a").send().await.unwrap();
    assert_eq!(head.expiration(), Some(expected.as_str()));
    let get = c.get_object().bucket("lcb").key("logs/a").send().await.unwrap();
    assert_eq!(get.expiration(), Some(expected.as_str()));
    let other = c
        .put_object()
        .bucket("lcb")
        .key("other")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    assert_eq!(other.expiration(), None);
    let copy = c
        .copy_object()
        .bucket("lcb")
        .key("logs/b")
        .copy_source("lcb/other")
        .send()
        .await
        .unwrap();
    assert_eq!(copy.expiration(), Some(expected.as_str()));
    // x-amz-abort-date / -rule-id on CreateMultipartUpload and ListParts.
    let up = c
        .create_multipart_upload()
        .bucket("lcb")
        .key("up/big")
        .send()
        .await
        .unwrap();
    assert_eq!(up.abort_rule_id(), Some("uploads"));
    let abort_date = up.abort_date().expect("abort date").secs();
    let initiated = now.unix_timestamp();
    assert!(abort_date > initiated + 2 * 86_400 - 60 && abort_date <= initiated + 3 * 86_400);
    assert_eq!(abort_date % 86_400, 0, "midnight UTC");
    let parts = c
        .list_parts()
        .bucket("lcb")
        .key("up/big")
        .upload_id(up.upload_id().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(parts.abort_rule_id(), Some("uploads"));

    // S3's refusals.
    let long = rule(&"x".repeat(256), prefix_filter(""))
        .expiration(expire_days(1))
        .build()
        .unwrap();
    assert_eq!(put_rules(&c, "lcb", vec![long]).await, "InvalidArgument");
    let same = rule("same", prefix_filter(""))
        .expiration(expire_days(1))
        .build()
        .unwrap();
    assert_eq!(put_rules(&c, "lcb", vec![same.clone(), same]).await, "InvalidArgument");
    let zero = rule("z", prefix_filter("")).expiration(expire_days(0)).build().unwrap();
    assert_eq!(put_rules(&c, "lcb", vec![zero]).await, "InvalidArgument");
    let glacier = rule("g", prefix_filter(""))
        .transitions(
            Transition::builder()
                .days(30)
                .storage_class(TransitionStorageClass::Glacier)
                .build(),
        )
        .build()
        .unwrap();
    assert_eq!(put_rules(&c, "lcb", vec![glacier]).await, "InvalidStorageClass");
    let lowercase = rule("l", prefix_filter(""))
        .status(ExpirationStatus::from("enabled"))
        .expiration(expire_days(1))
        .build()
        .unwrap();
    assert_eq!(put_rules(&c, "lcb", vec![lowercase]).await, "MalformedXML");
    let no_action = rule("n", prefix_filter("")).build().unwrap();
    assert_eq!(put_rules(&c, "lcb", vec![no_action]).await, "InvalidRequest");
    let tagged_abort = rule(
        "ta",
        LifecycleRuleFilter::builder()
            .tag(Tag::builder().key("k").value("v").build().unwrap())
            .build(),
    )
    .abort_incomplete_multipart_upload(
        AbortIncompleteMultipartUpload::builder()
            .days_after_initiation(1)
            .build(),
    )
    .build()
    .unwrap();
    assert_eq!(put_rules(&c, "lcb", vec![tagged_abort]).await, "InvalidRequest");
    // Two predicates outside And: the schema's MalformedXML, as S3 answers.
    let doc = "<LifecycleConfiguration><Rule><ID>r</ID><Filter><Prefix>a</Prefix><Tag><Key>k</Key>\
               <Value>v</Value></Tag></Filter><Status>Enabled</Status><Expiration><Days>1</Days>\
               </Expiration></Rule></LifecycleConfiguration>";
    let md5 = b64(&md5_raw(doc.as_bytes()));
    let (status, _, body) = server
        .signed(
            "PUT",
            "/lcb?lifecycle",
            &[("content-md5", &md5)],
            doc.as_bytes().to_vec(),
            None,
        )
        .await;
    assert_eq!((status.as_u16(), error_code(&body).as_str()), (400, "MalformedXML"));
    // Without Content-MD5 or a checksum.
    let good = doc.replace(
        "<Prefix>a</Prefix><Tag><Key>k</Key><Value>v</Value></Tag>",
        "<Prefix>a</Prefix>",
    );
    let (status, _, body) = server
        .signed("PUT", "/lcb?lifecycle", &[], good.as_bytes().to_vec(), None)
        .await;
    assert_eq!((status.as_u16(), error_code(&body).as_str()), (400, "InvalidRequest"));
    // The refusals left the configuration as it was.
    let got = c
        .get_bucket_lifecycle_configuration()
        .bucket("lcb")
        .send()
        .await
        .unwrap();
    assert_eq!(got.rules().len(), 3);

    c.delete_bucket_lifecycle().bucket("lcb").send().await.unwrap();
    assert_eq!(
        code(c.get_bucket_lifecycle_configuration().bucket("lcb").send().await),
        "NoSuchLifecycleConfiguration"
    );
    let head = c.head_object().bucket("lcb").key("logs/a").send().await.unwrap();
    assert_eq!(head.expiration(), None, "no rules, no expiration");
}

fn md5_raw(data: &[u8]) -> [u8; 16] {
    use md5::Digest;
    md5::Md5::digest(data).into()
}

/// Every action with a lifecycle day of one second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_act_with_a_compressed_day() {
    let server = TestServer::start_with(&["--lifecycle-day-secs", "1", "--lifecycle-interval", "1"]);
    let c = server.client();
    for b in ["plain", "versioned", "suspended"] {
        c.create_bucket().bucket(b).send().await.unwrap();
    }
    for b in ["versioned", "suspended"] {
        set_versioning(&c, b, BucketVersioningStatus::Enabled).await;
    }

    // Unversioned: prefix, tag and size filters; an upload to abort and one to keep.
    for k in ["exp/1", "exp/2", "keep/1", "small", "big", "tagged", "untagged"] {
        let body = if k == "big" { vec![b'b'; 3000] } else { vec![b's'; 100] };
        put(&c, "plain", k, &body).await;
    }
    c.put_object_tagging()
        .bucket("plain")
        .key("tagged")
        .tagging(
            aws_sdk_s3::types::Tagging::builder()
                .tag_set(Tag::builder().key("tmp").value("yes").build().unwrap())
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let stale = c
        .create_multipart_upload()
        .bucket("plain")
        .key("up/1")
        .send()
        .await
        .unwrap();
    let rules = vec![
        rule("exp", prefix_filter("exp/"))
            .expiration(expire_days(2))
            .build()
            .unwrap(),
        rule(
            "tag",
            LifecycleRuleFilter::builder()
                .tag(Tag::builder().key("tmp").value("yes").build().unwrap())
                .build(),
        )
        .expiration(expire_days(2))
        .build()
        .unwrap(),
        rule(
            "size",
            LifecycleRuleFilter::builder()
                .and(
                    LifecycleRuleAndOperator::builder()
                        .object_size_greater_than(1000)
                        .object_size_less_than(5000)
                        .build(),
                )
                .build(),
        )
        .expiration(expire_days(2))
        .build()
        .unwrap(),
        rule("up", prefix_filter("up/"))
            .abort_incomplete_multipart_upload(
                AbortIncompleteMultipartUpload::builder()
                    .days_after_initiation(2)
                    .build(),
            )
            .build()
            .unwrap(),
    ];
    assert_eq!(put_rules(&c, "plain", rules).await, "ok");
    let fresh = c
        .create_multipart_upload()
        .bucket("plain")
        .key("other/1")
        .send()
        .await
        .unwrap();

    // Versioned: 4 versions of "v/k" (3 noncurrent; keep 1 newer noncurrent), a deleted object
    // whose marker is expired once the version under it is gone, and a current version to
    // expire.
    for i in 0..4 {
        put(&c, "versioned", "v/k", format!("{i}").as_bytes()).await;
    }
    put(&c, "versioned", "m/gone", b"x").await;
    c.delete_object()
        .bucket("versioned")
        .key("m/gone")
        .send()
        .await
        .unwrap();
    put(&c, "versioned", "cur/k", b"x").await;
    let rules = vec![
        rule("noncurrent", prefix_filter("v/"))
            .noncurrent_version_expiration(noncurrent(2, Some(1)))
            .build()
            .unwrap(),
        rule("markers", prefix_filter("m/"))
            .expiration(
                LifecycleExpiration::builder()
                    .expired_object_delete_marker(true)
                    .build(),
            )
            .noncurrent_version_expiration(noncurrent(1, None))
            .build()
            .unwrap(),
        rule("current", prefix_filter("cur/"))
            .expiration(expire_days(2))
            .build()
            .unwrap(),
    ];
    assert_eq!(put_rules(&c, "versioned", rules).await, "ok");

    // Suspended: the null version expires into a null delete marker.
    set_versioning(&c, "suspended", BucketVersioningStatus::Suspended).await;
    put(&c, "suspended", "s", b"x").await;
    let rules = vec![
        rule("all", prefix_filter(""))
            .expiration(expire_days(2))
            .build()
            .unwrap(),
    ];
    assert_eq!(put_rules(&c, "suspended", rules).await, "ok");

    // Object lock: a held version under a noncurrent-expiration rule stays.
    c.create_bucket()
        .bucket("locked")
        .object_lock_enabled_for_bucket(true)
        .send()
        .await
        .unwrap();
    let held = c
        .put_object()
        .bucket("locked")
        .key("k")
        .object_lock_legal_hold_status(ObjectLockLegalHoldStatus::On)
        .content_md5(b64(&md5_raw(b"held")))
        .body(ByteStream::from_static(b"held"))
        .send()
        .await
        .unwrap()
        .version_id()
        .unwrap()
        .to_owned();
    let free = put(&c, "locked", "k", b"free").await.unwrap();
    put(&c, "locked", "k", b"current").await;
    let rules = vec![
        rule("all", prefix_filter(""))
            .noncurrent_version_expiration(noncurrent(1, None))
            .build()
            .unwrap(),
    ];
    assert_eq!(put_rules(&c, "locked", rules).await, "ok");

    eventually("plain bucket expired", || async {
        keys(&c, "plain").await == ["keep/1", "small", "untagged"]
    })
    .await;
    eventually("stale upload aborted", || async {
        let out = c.list_multipart_uploads().bucket("plain").send().await.unwrap();
        out.uploads().len() == 1
    })
    .await;
    let out = c.list_multipart_uploads().bucket("plain").send().await.unwrap();
    assert_eq!(out.uploads()[0].upload_id(), fresh.upload_id());
    assert_ne!(out.uploads()[0].upload_id(), stale.upload_id());

    eventually("versioned bucket cleaned", || async {
        let (v, m) = versions(&c, "versioned").await;
        v.get("v/k") == Some(&2) && !m.contains_key("m/gone") && !v.contains_key("m/gone") && m.get("cur/k") == Some(&1)
    })
    .await;
    let (v, _) = versions(&c, "versioned").await;
    assert_eq!(v.get("cur/k"), Some(&1), "the expired version stays under its marker");
    assert!(keys(&c, "versioned").await.iter().all(|k| k == "v/k"));

    eventually("suspended bucket expired", || async {
        keys(&c, "suspended").await.is_empty()
    })
    .await;
    let out = c.list_object_versions().bucket("suspended").send().await.unwrap();
    assert!(out.versions().is_empty(), "the null version was replaced");
    assert_eq!(out.delete_markers().len(), 1);
    assert_eq!(out.delete_markers()[0].version_id(), Some("null"));

    eventually("unlocked noncurrent version removed", || async {
        c.head_object()
            .bucket("locked")
            .key("k")
            .version_id(&free)
            .send()
            .await
            .is_err()
    })
    .await;
    c.head_object()
        .bucket("locked")
        .key("k")
        .version_id(&held)
        .send()
        .await
        .expect("the held version stays");
    assert!(metric(&server, "ksan_lifecycle_held_total ").await >= 1.0);
    assert!(metric(&server, "ksan_lifecycle_actions_total{action=\"abort_upload\"} ").await >= 1.0);
    assert!(metric(&server, "ksan_lifecycle_actions_total{action=\"expire_current\"} ").await >= 6.0);
    assert!(metric(&server, "ksan_lifecycle_passes_total ").await >= 1.0);
}

/// A pass over 20,000 objects is killed mid-way; after the restart it resumes from its cursor
/// and every due object gets exactly one delete marker (a versioned bucket makes a second
/// expiration visible), and nothing else is touched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_pass_resumes_and_expires_each_object_once() {
    const N: usize = 20_000;
    // A long interval: passes start only when the server starts.
    let mut server = TestServer::start_with(&["--lifecycle-day-secs", "1", "--lifecycle-interval", "3600"]);
    let c = server.client();
    c.create_bucket().bucket("many").send().await.unwrap();
    set_versioning(&c, "many", BucketVersioningStatus::Enabled).await;
    let mut tasks = Vec::new();
    for w in 0..32 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            for i in (w..N).step_by(32) {
                // Every other key is due ("d/"), the others are not ("k/").
                let key = if i % 2 == 0 {
                    format!("d/{i:05}")
                } else {
                    format!("k/{i:05}")
                };
                put(&c, "many", &key, b"x").await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let rules = vec![
        rule("due", prefix_filter("d/"))
            .expiration(expire_days(1))
            .build()
            .unwrap(),
    ];
    assert_eq!(put_rules(&c, "many", rules).await, "ok");
    tokio::time::sleep(Duration::from_secs(2)).await;

    // Start a pass and kill the server once it is under way.
    server.restart();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(Instant::now() < deadline, "the pass never got under way");
        let scanned = metric(&server, "ksan_lifecycle_pass_scanned ").await;
        if scanned >= 1000.0 && metric(&server, "ksan_lifecycle_pass_running ").await == 1.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    server.kill9();
    server.restart();
    let c = server.client();
    eventually("the resumed pass finished", || async {
        metric(&server, "ksan_lifecycle_passes_total ").await >= 1.0
    })
    .await;
    // It resumed from the cursor rather than walking the bucket again.
    let walked = metric(&server, "ksan_lifecycle_scanned_total ").await;
    assert!(
        walked < N as f64,
        "the restarted pass walked {walked} rows: it did not resume"
    );
    let (versions, markers) = versions(&c, "many").await;
    assert_eq!(versions.len(), N);
    assert!(versions.values().all(|n| *n == 1), "no version was removed");
    assert_eq!(markers.len(), N / 2, "every due key got a marker");
    assert!(markers.values().all(|n| *n == 1), "and exactly one");
    assert!(markers.keys().all(|k| k.starts_with("d/")), "nothing else was touched");
}
