//! Object lock end to end with aws-sdk-s3: every path that can remove a version or shorten its
//! lock, tried against a COMPLIANCE- and a GOVERNANCE-locked version, as the bucket owner, as a
//! user without and one with `s3:BypassGovernanceRetention`, with and without the bypass
//! header, and under a legal hold; deletes racing a retention change; and a locked version
//! that survives a SIGKILL and a restart.

mod common;

use aws_sdk_s3::primitives::{ByteStream, DateTime};
use aws_sdk_s3::types::{
    Delete, ObjectIdentifier, ObjectLockLegalHold, ObjectLockLegalHoldStatus, ObjectLockMode, ObjectLockRetention,
    ObjectLockRetentionMode,
};
use common::*;

const BUCKET: &str = "worm";

fn in_days(days: i64) -> DateTime {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    DateTime::from_secs(now + days * 86_400)
}

fn code<E: aws_sdk_s3::error::ProvideErrorMetadata, R, H>(r: Result<R, aws_sdk_s3::error::SdkError<E, H>>) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(e) => e.as_service_error().and_then(|s| s.code()).unwrap_or("?").to_owned(),
    }
}

/// A locked version of `key` (written by the owner); its version id.
async fn locked(c: &aws_sdk_s3::Client, key: &str, mode: ObjectLockMode, hold: bool) -> String {
    let mut r = c
        .put_object()
        .bucket(BUCKET)
        .key(key)
        .object_lock_mode(mode)
        .object_lock_retain_until_date(in_days(1))
        .body(ByteStream::from(b"precious".to_vec()));
    if hold {
        r = r.object_lock_legal_hold_status(ObjectLockLegalHoldStatus::On);
    }
    r.send().await.unwrap().version_id().unwrap().to_owned()
}

async fn exists(c: &aws_sdk_s3::Client, key: &str, vid: &str) -> bool {
    c.head_object()
        .bucket(BUCKET)
        .key(key)
        .version_id(vid)
        .send()
        .await
        .is_ok()
}

async fn setup(server: &TestServer) -> (aws_sdk_s3::Client, aws_sdk_s3::Client, aws_sdk_s3::Client) {
    let root = server.client();
    root.create_bucket()
        .bucket(BUCKET)
        .object_lock_enabled_for_bucket(true)
        .send()
        .await
        .unwrap();
    server.create_user("bob", "BOBKEY0000000001", "bob-secret-0001");
    server.create_user("carol", "CAROLKEY00000001", "carol-secret-001");
    let everything = [
        "s3:GetObject",
        "s3:GetObjectVersion",
        "s3:PutObject",
        "s3:DeleteObject",
        "s3:DeleteObjectVersion",
        "s3:PutObjectRetention",
        "s3:GetObjectRetention",
        "s3:PutObjectLegalHold",
        "s3:ListBucket",
        "s3:ListBucketVersions",
    ];
    let actions = |extra: &[&str]| {
        everything
            .iter()
            .chain(extra)
            .map(|a| format!("\"{a}\""))
            .collect::<Vec<_>>()
            .join(",")
    };
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[
            {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::bob:root"}},"Action":[{}],"Resource":["arn:aws:s3:::{BUCKET}","arn:aws:s3:::{BUCKET}/*"]}},
            {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::carol:root"}},"Action":[{}],"Resource":["arn:aws:s3:::{BUCKET}","arn:aws:s3:::{BUCKET}/*"]}}]}}"#,
        actions(&[]),
        actions(&["s3:BypassGovernanceRetention"])
    );
    root.put_bucket_policy()
        .bucket(BUCKET)
        .policy(policy)
        .send()
        .await
        .unwrap();
    let bob = server.client_for("BOBKEY0000000001", "bob-secret-0001");
    let carol = server.client_for("CAROLKEY00000001", "carol-secret-001");
    (root, bob, carol)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_removal_path_respects_the_lock() {
    let server = TestServer::start();
    let (root, bob, carol) = setup(&server).await;
    let callers = [("owner", &root, true), ("bob", &bob, false), ("carol", &carol, true)];
    let mut n = 0;
    for mode in [ObjectLockMode::Governance, ObjectLockMode::Compliance] {
        for (who, c, may_bypass) in callers {
            for bypass in [false, true] {
                let allowed = mode == ObjectLockMode::Governance && bypass && may_bypass;
                let what = format!("{mode:?} as {who}, bypass header {bypass}");
                // DeleteObject with a version id.
                n += 1;
                let key = format!("k{n}");
                let vid = locked(&root, &key, mode.clone(), false).await;
                let r = c
                    .delete_object()
                    .bucket(BUCKET)
                    .key(&key)
                    .version_id(&vid)
                    .bypass_governance_retention(bypass)
                    .send()
                    .await;
                assert_eq!(code(r) == "ok", allowed, "DeleteObject {what}");
                assert_eq!(exists(&root, &key, &vid).await, !allowed, "{what}");
                // DeleteObjects: a per-key error, the others deleted.
                n += 1;
                let key = format!("k{n}");
                let vid = locked(&root, &key, mode.clone(), false).await;
                let free = root
                    .put_object()
                    .bucket(BUCKET)
                    .key(format!("{key}-free"))
                    .body(ByteStream::from(b"x".to_vec()))
                    .send()
                    .await
                    .unwrap();
                // (The bucket has no default retention: a version put without lock headers
                // is not protected.)
                let out = c
                    .delete_objects()
                    .bucket(BUCKET)
                    .bypass_governance_retention(bypass)
                    .delete(
                        Delete::builder()
                            .objects(ObjectIdentifier::builder().key(&key).version_id(&vid).build().unwrap())
                            .objects(
                                ObjectIdentifier::builder()
                                    .key(format!("{key}-free"))
                                    .version_id(free.version_id().unwrap())
                                    .build()
                                    .unwrap(),
                            )
                            .build()
                            .unwrap(),
                    )
                    .send()
                    .await
                    .unwrap();
                let denied: Vec<_> = out.errors().iter().map(|e| (e.key().unwrap_or(""), e.code())).collect();
                if allowed {
                    assert!(denied.is_empty(), "DeleteObjects {what}: {denied:?}");
                } else {
                    assert_eq!(denied, [(key.as_str(), Some("AccessDenied"))], "DeleteObjects {what}");
                }
                assert_eq!(out.deleted().len(), if allowed { 2 } else { 1 }, "{what}");
                assert_eq!(exists(&root, &key, &vid).await, !allowed, "{what}");
                // Shortening the retention.
                n += 1;
                let key = format!("k{n}");
                let vid = locked(&root, &key, mode.clone(), false).await;
                let r = c
                    .put_object_retention()
                    .bucket(BUCKET)
                    .key(&key)
                    .version_id(&vid)
                    .bypass_governance_retention(bypass)
                    .retention(
                        ObjectLockRetention::builder()
                            .mode(ObjectLockRetentionMode::Governance)
                            .retain_until_date(DateTime::from_secs(
                                time::OffsetDateTime::now_utc().unix_timestamp() + 60,
                            ))
                            .build(),
                    )
                    .send()
                    .await;
                assert_eq!(code(r) == "ok", allowed, "shorten {what}");
                // Extending in the same mode is always allowed.
                let same = ObjectLockRetentionMode::from(mode.as_str());
                let r = c
                    .put_object_retention()
                    .bucket(BUCKET)
                    .key(&key)
                    .version_id(&vid)
                    .retention(
                        ObjectLockRetention::builder()
                            .mode(same)
                            .retain_until_date(in_days(3))
                            .build(),
                    )
                    .send()
                    .await;
                assert_eq!(code(r), "ok", "extend {what}");
            }
        }
        // An overwrite and a delete without a version id make new versions; the locked one stays.
        let vid = locked(&root, "over", mode.clone(), false).await;
        root.put_object()
            .bucket(BUCKET)
            .key("over")
            .body(ByteStream::from(b"new".to_vec()))
            .send()
            .await
            .unwrap();
        let marker = root.delete_object().bucket(BUCKET).key("over").send().await.unwrap();
        assert_eq!(marker.delete_marker(), Some(true));
        assert!(exists(&root, "over", &vid).await);
        // A legal hold blocks even a permitted bypass; released, the bypass works again.
        let vid = locked(&root, "held", ObjectLockMode::Governance, true).await;
        let del = |c: &aws_sdk_s3::Client, vid: &str| {
            c.delete_object()
                .bucket(BUCKET)
                .key("held")
                .version_id(vid)
                .bypass_governance_retention(true)
                .send()
        };
        assert_eq!(code(del(&root, &vid).await), "AccessDenied");
        assert_eq!(code(del(&carol, &vid).await), "AccessDenied");
        let off = ObjectLockLegalHold::builder()
            .status(ObjectLockLegalHoldStatus::Off)
            .build();
        root.put_object_legal_hold()
            .bucket(BUCKET)
            .key("held")
            .version_id(&vid)
            .legal_hold(off)
            .send()
            .await
            .unwrap();
        assert_eq!(code(del(&carol, &vid).await), "ok");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletes_racing_a_retention_change_and_a_crash() {
    let mut server = TestServer::start();
    let (root, _, _) = setup(&server).await;
    for round in 0..5 {
        let key = format!("race{round}");
        let vid = locked(&root, &key, ObjectLockMode::Governance, false).await;
        // One client turns the lock into COMPLIANCE (which GOVERNANCE allows only with the
        // bypass) while others delete with the bypass.
        let to_compliance = {
            let (c, key, vid) = (root.clone(), key.clone(), vid.clone());
            tokio::spawn(async move {
                c.put_object_retention()
                    .bucket(BUCKET)
                    .key(&key)
                    .version_id(&vid)
                    .bypass_governance_retention(true)
                    .retention(
                        ObjectLockRetention::builder()
                            .mode(ObjectLockRetentionMode::Compliance)
                            .retain_until_date(in_days(2))
                            .build(),
                    )
                    .send()
                    .await
                    .is_ok()
            })
        };
        let deletes: Vec<_> = (0..8)
            .map(|_| {
                let (c, key, vid) = (root.clone(), key.clone(), vid.clone());
                tokio::spawn(async move {
                    c.delete_object()
                        .bucket(BUCKET)
                        .key(&key)
                        .version_id(&vid)
                        .bypass_governance_retention(true)
                        .send()
                        .await
                        .is_ok()
                })
            })
            .collect();
        let changed = to_compliance.await.unwrap();
        let mut deleted = false;
        for d in deletes {
            deleted |= d.await.unwrap();
        }
        let alive = exists(&root, &key, &vid).await;
        // Either the change came first (the version is COMPLIANCE and alive), or a delete did
        // (the version is gone, and the change found nothing to change).
        assert!(
            (changed && alive) || (deleted && !alive),
            "round {round}: changed={changed} deleted={deleted} alive={alive}"
        );
        if alive {
            let r = root
                .get_object_retention()
                .bucket(BUCKET)
                .key(&key)
                .version_id(&vid)
                .send()
                .await;
            assert_eq!(
                r.unwrap().retention().and_then(|r| r.mode()),
                Some(&ObjectLockRetentionMode::Compliance)
            );
        }
    }

    // SIGKILL, restart: the lock is still there and still holds.
    let vid = locked(&root, "durable", ObjectLockMode::Compliance, false).await;
    server.kill9();
    server.restart();
    let root = server.client();
    let head = root
        .head_object()
        .bucket(BUCKET)
        .key("durable")
        .version_id(&vid)
        .send()
        .await
        .unwrap();
    assert_eq!(head.object_lock_mode(), Some(&ObjectLockMode::Compliance));
    let r = root
        .delete_object()
        .bucket(BUCKET)
        .key("durable")
        .version_id(&vid)
        .bypass_governance_retention(true)
        .send()
        .await;
    assert_eq!(code(r), "AccessDenied");
    // Versioning cannot be suspended under object lock.
    let r = root
        .put_bucket_versioning()
        .bucket(BUCKET)
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Suspended)
                .build(),
        )
        .send()
        .await;
    assert_eq!(code(r), "InvalidBucketState");
}
