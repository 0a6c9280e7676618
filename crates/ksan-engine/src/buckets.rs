//! Buckets: create, delete, look up, list, versioning state.

use std::sync::Arc;

use ksan_meta::{ReadOps, WriteOps};
use ksan_types::{ErrorCode, S3Error, S3Result};
use serde::Deserialize;

use crate::access::acl::{Grant, Grantee, ObjectOwnership, PublicAccessBlock, private};
use crate::access::config::{BucketAcl, OwnershipConfig, PolicyConfig};
use crate::keys::{self, ConfigKind};
use crate::multipart::remove_upload;
use crate::records::{BucketRecord, UploadRecord, UserRecord, Versioning, decode, encode};
use crate::versions::load_bucket;
use crate::{Engine, now_ms, store};

/// S3's bucket naming rules (general purpose buckets).
pub fn valid_bucket_name(name: &str) -> bool {
    let b = name.as_bytes();
    if b.len() < 3 || b.len() > 63 {
        return false;
    }
    if !b
        .iter()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'.' || *c == b'-')
    {
        return false;
    }
    let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    if !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    if name.contains("..") || name.contains(".-") || name.contains("-.") {
        return false;
    }
    if name.parse::<std::net::Ipv4Addr>().is_ok() {
        return false;
    }
    const BAD_PREFIXES: [&str; 3] = ["xn--", "sthree-", "amzn-s3-demo-"];
    const BAD_SUFFIXES: [&str; 3] = ["-s3alias", "--ol-s3", "--x-s3"];
    !BAD_PREFIXES.iter().any(|p| name.starts_with(p)) && !BAD_SUFFIXES.iter().any(|s| name.ends_with(s))
}

/// What CreateBucket may set besides the name.
#[derive(Debug, Clone, Default)]
pub struct NewBucket {
    /// The LocationConstraint (None = the default region).
    pub location: Option<String>,
    /// None = private.
    pub acl: Option<Vec<Grant>>,
    /// Object Ownership controls, if asked for.
    pub ownership: Option<ObjectOwnership>,
    /// `x-amz-bucket-object-lock-enabled: true`: versioning on and lock enabled.
    pub object_lock: bool,
}

impl Engine {
    /// CreateBucket with only a location.
    pub async fn create_bucket(
        &self,
        owner: &UserRecord,
        name: &str,
        location: Option<String>,
    ) -> S3Result<BucketRecord> {
        let options = NewBucket {
            location,
            ..NewBucket::default()
        };
        self.create_bucket_with(owner, name, options).await
    }

    /// CreateBucket. In us-east-1 S3 answers a repeated CreateBucket by the owner with 200 and
    /// leaves the bucket as it is; every other region answers BucketAlreadyOwnedByYou. A repeat
    /// that would change the bucket's ACL is refused (as Ceph RGW does, and s3-tests expect)
    /// rather than silently resetting it.
    pub async fn create_bucket_with(
        &self,
        owner: &UserRecord,
        name: &str,
        options: NewBucket,
    ) -> S3Result<BucketRecord> {
        if !valid_bucket_name(name) {
            return Err(S3Error::new(ErrorCode::InvalidBucketName).bucket(name));
        }
        let record = BucketRecord {
            name: name.to_owned(),
            owner: owner.canonical_id.clone(),
            owner_display_name: owner.display_name.clone(),
            created_ms: now_ms(),
            location: options.location,
            versioning: if options.object_lock {
                Versioning::Enabled
            } else {
                Versioning::Unversioned
            },
        };
        let (acl, ownership, object_lock) = (options.acl, options.ownership, options.object_lock);
        let legacy_region = self.config.region == "us-east-1";
        let created = self
            .write(move |txn| {
                let (record, acl) = (record.clone(), acl.clone());
                Box::pin(async move {
                    let name = record.name.clone();
                    let key = keys::bucket(&name);
                    if let Some(existing) = store::get_for_update::<BucketRecord>(txn, &key).await? {
                        if existing.owner != record.owner {
                            return Err(S3Error::new(ErrorCode::BucketAlreadyExists).bucket(name));
                        }
                        let private = || private((&existing.owner, &existing.owner_display_name));
                        let stored: Option<BucketAcl> =
                            store::get(&*txn, &keys::config(&name, ConfigKind::Acl)).await?;
                        let stored = stored.map_or_else(private, |a| a.0);
                        if stored != acl.clone().unwrap_or_else(private) {
                            return Err(S3Error::new(ErrorCode::BucketAlreadyExists).bucket(name));
                        }
                        if legacy_region {
                            return Ok((existing, false));
                        }
                        return Err(S3Error::new(ErrorCode::BucketAlreadyOwnedByYou).bucket(name));
                    }
                    store::put(txn, &key, &record)?;
                    if let Some(grants) = acl {
                        store::put(txn, &keys::config(&name, ConfigKind::Acl), &BucketAcl(grants))?;
                    }
                    if let Some(o) = ownership {
                        store::put(txn, &keys::config(&name, ConfigKind::Ownership), &OwnershipConfig(o))?;
                    }
                    if object_lock {
                        let lock = crate::lock::ObjectLockConfig::default();
                        store::put(txn, &keys::config(&name, ConfigKind::ObjectLock), &lock)?;
                    }
                    Ok((record, true))
                })
            })
            .await?;
        if created.1 {
            self.buckets.invalidate(name);
        }
        Ok(created.0)
    }

    /// DeleteBucket: the bucket must hold no version (a delete marker counts); uploads in
    /// progress are aborted with it, as S3 does, and its configurations go too. Nothing of the
    /// bucket is left for a new bucket of the same name to inherit.
    pub async fn delete_bucket(&self, name: &str) -> S3Result<()> {
        let bucket = name.to_owned();
        self.write(move |txn| {
            let name = bucket.clone();
            Box::pin(async move {
                load_bucket(txn, &name).await?;
                for prefix in [keys::version_prefix(&name), keys::latest_prefix(&name)] {
                    if !store::scan(&*txn, &prefix, 1).await?.is_empty() {
                        return Err(S3Error::new(ErrorCode::BucketNotEmpty).bucket(name));
                    }
                }
                for (_, v) in store::scan(&*txn, &keys::upload_prefix(&name), usize::MAX).await? {
                    let upload: UploadRecord = decode(&v)?;
                    remove_upload(txn, &name, &upload.key, &upload.upload_id).await?;
                }
                // Answers kept for repeated completions (their queue items find nothing later).
                store::delete_prefix(txn, &keys::completed_prefix(&name)).await?;
                store::delete_prefix(txn, &keys::config_prefix(&name)).await?;
                store::delete(txn, &keys::bucket(&name))
            })
        })
        .await?;
        self.buckets.invalidate(name);
        Ok(())
    }

    /// Buckets owned by a canonical id, by name.
    pub async fn list_buckets(&self, owner: &str) -> S3Result<Vec<BucketRecord>> {
        owned_by(&*self.snapshot().await?, owner).await
    }

    /// Every bucket, by name (what the admin API shows the root user).
    pub async fn all_buckets(&self) -> S3Result<Vec<BucketRecord>> {
        let snap = self.snapshot().await?;
        store::scan(&*snap, keys::BUCKET_PREFIX, usize::MAX)
            .await?
            .iter()
            .map(|(_, v)| decode(v))
            .collect()
    }

    /// Give a bucket to another user (the admin API's): see [`transfer_in`].
    pub async fn transfer_bucket(&self, bucket: &str, to: &UserRecord) -> S3Result<()> {
        let (name, to) = (bucket.to_owned(), Arc::new(to.clone()));
        self.write(move |txn| {
            let (name, to) = (name.clone(), to.clone());
            Box::pin(async move { transfer_in(txn, &name, &to).await })
        })
        .await?;
        self.buckets.invalidate(bucket);
        Ok(())
    }

    /// PutBucketVersioning: Enabled or Suspended (a bucket never returns to unversioned).
    pub async fn set_versioning(&self, bucket: &str, state: Versioning) -> S3Result<()> {
        let name = bucket.to_owned();
        self.write(move |txn| {
            let name = name.clone();
            Box::pin(async move {
                let mut record = load_bucket(txn, &name).await?;
                let locked = store::get_raw(&*txn, &keys::config(&name, ConfigKind::ObjectLock))
                    .await?
                    .is_some();
                if locked && state != Versioning::Enabled {
                    return Err(S3Error::new(ErrorCode::InvalidBucketState).msg(
                        "An Object Lock configuration is present on this bucket, so the versioning state cannot be changed.",
                    ));
                }
                record.versioning = state;
                store::put(txn, &keys::bucket(&name), &record)
            })
        })
        .await?;
        self.buckets.invalidate(bucket);
        Ok(())
    }

    /// Move the configurations of buckets written by earlier versions (ACL, ownership, policy
    /// and public access block were fields of the bucket record) to their own rows. Runs at
    /// start; returns how many buckets were migrated.
    pub async fn migrate_bucket_configs(&self) -> S3Result<usize> {
        /// The fields bucket records used to carry.
        #[derive(Deserialize)]
        struct Legacy {
            #[serde(default)]
            acl: Option<Vec<Grant>>,
            #[serde(default)]
            ownership: Option<ObjectOwnership>,
            #[serde(default)]
            policy: Option<String>,
            #[serde(default)]
            public_access_block: Option<PublicAccessBlock>,
        }
        let snap = self.snapshot().await?;
        let mut legacy = Vec::new();
        for (k, v) in store::scan(&*snap, keys::BUCKET_PREFIX, usize::MAX).await? {
            let old: Legacy = decode(&v)?;
            if old.acl.is_some() || old.ownership.is_some() || old.policy.is_some() || old.public_access_block.is_some()
            {
                let record: BucketRecord = decode(&v)?;
                legacy.push((k, record, old));
            }
        }
        drop(snap);
        let n = legacy.len();
        for (key, record, old) in legacy {
            let record = Arc::new(record);
            let rows = Arc::new({
                let name = record.name.as_str();
                let mut rows = Vec::new();
                if let Some(acl) = old.acl {
                    rows.push((keys::config(name, ConfigKind::Acl), encode(&BucketAcl(acl))?));
                }
                if let Some(o) = old.ownership {
                    rows.push((keys::config(name, ConfigKind::Ownership), encode(&OwnershipConfig(o))?));
                }
                if let Some(text) = old.policy {
                    let policy = PolicyConfig { text, parsed: None };
                    rows.push((keys::config(name, ConfigKind::Policy), encode(&policy)?));
                }
                if let Some(pab) = old.public_access_block {
                    rows.push((keys::config(name, ConfigKind::PublicAccessBlock), encode(&pab)?));
                }
                rows
            });
            let key = Arc::new(key);
            let name = record.name.clone();
            self.write(move |txn| {
                let (key, record, rows) = (key.clone(), record.clone(), rows.clone());
                Box::pin(async move {
                    for (k, v) in rows.iter() {
                        store::put_raw(txn, k, v)?;
                    }
                    // Re-encoded without the old fields.
                    store::put(txn, &key, &*record)
                })
            })
            .await?;
            self.buckets.invalidate(&name);
            tracing::info!(bucket = %name, "moved the bucket's configurations to their own rows");
        }
        Ok(n)
    }

    /// The bucket as the writing transaction sees it (tests of configurations).
    #[cfg(test)]
    pub(crate) async fn bucket_state_fresh(&self, name: &str) -> S3Result<crate::config::BucketState> {
        let name = name.to_owned();
        self.write(move |txn| {
            let name = name.clone();
            Box::pin(async move { crate::config::BucketState::load_for_update(txn, &name).await })
        })
        .await
    }
}

/// Buckets owned by a canonical id, by name, as a transaction or snapshot sees them.
pub(crate) async fn owned_by(r: &dyn ReadOps, owner: &str) -> S3Result<Vec<BucketRecord>> {
    let mut out = Vec::new();
    for (_, v) in store::scan(r, keys::BUCKET_PREFIX, usize::MAX).await? {
        let b: BucketRecord = decode(&v)?;
        if b.owner == owner {
            out.push(b);
        }
    }
    Ok(out)
}

/// Make `to` the owner of a bucket: the record's owner, and in its ACL the grants to the old
/// owner go to the new one. Objects keep their owners, as S3's do (under BucketOwnerEnforced,
/// the default, the bucket owner owns them all).
pub(crate) async fn transfer_in(txn: &mut dyn WriteOps, bucket: &str, to: &UserRecord) -> S3Result<()> {
    let mut record = load_bucket(txn, bucket).await?;
    let old = std::mem::replace(&mut record.owner, to.canonical_id.clone());
    record.owner_display_name = to.display_name.clone();
    store::put(txn, &keys::bucket(bucket), &record)?;
    let acl_key = keys::config(bucket, ConfigKind::Acl);
    if let Some(mut acl) = store::get_for_update::<BucketAcl>(txn, &acl_key).await? {
        for grant in &mut acl.0 {
            if let Grantee::User { id, display_name } = &mut grant.grantee
                && *id == old
            {
                id.clone_from(&to.canonical_id);
                display_name.clone_from(&to.display_name);
            }
        }
        store::put(txn, &acl_key, &acl)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::engine;

    #[test]
    fn naming_rules() {
        for ok in ["abc", "a.b-c", "123", "my-bucket.example", &"a".repeat(63)] {
            assert!(valid_bucket_name(ok), "{ok}");
        }
        for bad in [
            "ab",
            "ABC",
            "-ab",
            "ab-",
            ".ab",
            "a..b",
            "a.-b",
            "192.168.5.4",
            "a_b",
            "xn--ab",
            &"a".repeat(64),
            "ab-s3alias",
        ] {
            assert!(!valid_bucket_name(bad), "{bad}");
        }
    }

    #[tokio::test]
    async fn create_twice_and_by_another() {
        let (e, _d) = engine();
        let alice = e.create_user("alice", "AK1", "secretsecret", false).await.unwrap();
        let bob = e.create_user("bob", "AK2", "secretsecret", false).await.unwrap();
        e.create_bucket(&alice, "bkt", None).await.unwrap();
        // us-east-1 (the default): the owner's repeat succeeds and changes nothing
        let again = e.create_bucket(&alice, "bkt", Some("x".into())).await.unwrap();
        assert_eq!(again.location, None);
        assert_eq!(
            e.create_bucket(&bob, "bkt", None).await.unwrap_err().code,
            ErrorCode::BucketAlreadyExists
        );
        assert_eq!(e.list_buckets(&alice.canonical_id).await.unwrap().len(), 1);
        assert!(e.list_buckets(&bob.canonical_id).await.unwrap().is_empty());
        e.delete_bucket("bkt").await.unwrap();
        assert_eq!(e.bucket("bkt").await.unwrap_err().code, ErrorCode::NoSuchBucket);
        assert_eq!(e.delete_bucket("bkt").await.unwrap_err().code, ErrorCode::NoSuchBucket);
    }

    #[tokio::test]
    async fn deleting_a_bucket_with_uploads_in_progress_leaves_nothing() {
        use crate::multipart::UploadPartRequest;
        use crate::objects::BodyChecks;
        use crate::records::NewObject;
        let (e, _d) = engine();
        let alice = e.create_user("alice", "AK1", "secretsecret", false).await.unwrap();
        e.create_bucket(&alice, "bkt", None).await.unwrap();
        e.put_config("bkt", crate::access::acl::PublicAccessBlock::default(), false)
            .await
            .unwrap();
        let up = e
            .create_upload("bkt", "obj", NewObject::default(), None, None, None)
            .await
            .unwrap();
        let body: ksan_types::BodyStream = Box::pin(futures_util::stream::once(async {
            Ok(bytes::Bytes::from_static(b"a part of an upload that never completes"))
        }));
        let req = UploadPartRequest {
            customer: None,
            bucket: "bkt".into(),
            key: "obj".into(),
            upload_id: up.upload_id.clone(),
            part_number: 1,
            body: BodyChecks::default(),
        };
        e.upload_part(req, body).await.unwrap();
        assert_eq!(e.pending_gc().await.unwrap(), 0);
        e.delete_bucket("bkt").await.unwrap();
        // The part's blob is queued for collection; no row of the bucket is left.
        assert_eq!(e.pending_gc().await.unwrap(), 1);
        let snap = e.snapshot().await.unwrap();
        for prefix in [
            keys::upload_prefix("bkt"),
            keys::part_prefix(&up.upload_id),
            keys::config_prefix("bkt"),
            keys::bucket("bkt"),
            b"K|".to_vec(),
        ] {
            assert!(store::scan(&*snap, &prefix, 10).await.unwrap().is_empty(), "{prefix:?}");
        }
        // A new bucket of the same name inherits nothing.
        e.create_bucket(&alice, "bkt", None).await.unwrap();
        assert!(crate::testutil::uploads_in(&e, "bkt").await.is_empty());
        assert!(
            e.bucket_state_fresh("bkt")
                .await
                .unwrap()
                .get::<PublicAccessBlock>()
                .is_none()
        );
    }

    #[tokio::test]
    async fn legacy_bucket_records_move_their_configurations() {
        #[derive(serde::Serialize)]
        struct Old<'a> {
            name: &'a str,
            owner: &'a str,
            owner_display_name: &'a str,
            created_ms: i64,
            location: Option<String>,
            versioning: Versioning,
            acl: Option<Vec<Grant>>,
            policy: Option<&'a str>,
            public_access_block: Option<PublicAccessBlock>,
        }
        let (e, _d) = engine();
        let old = Old {
            name: "old",
            owner: "o1",
            owner_display_name: "owner",
            created_ms: 1,
            location: None,
            versioning: Versioning::Enabled,
            acl: Some(vec![Grant::group(
                crate::access::acl::Group::AllUsers,
                crate::access::acl::Permission::Read,
            )]),
            policy: Some(
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::old/*"}]}"#,
            ),
            public_access_block: Some(PublicAccessBlock {
                ignore_public_acls: true,
                ..Default::default()
            }),
        };
        let bytes = encode(&old).unwrap();
        e.write(move |txn| {
            let bytes = bytes.clone();
            Box::pin(async move { store::put_raw(txn, &keys::bucket("old"), &bytes) })
        })
        .await
        .unwrap();
        assert_eq!(e.migrate_bucket_configs().await.unwrap(), 1);
        assert_eq!(e.migrate_bucket_configs().await.unwrap(), 0, "once is enough");
        let state = e.bucket_state("old").await.unwrap();
        assert_eq!(state.record.versioning, Versioning::Enabled);
        assert_eq!(state.get::<BucketAcl>().unwrap().0.len(), 1);
        assert!(state.get::<PublicAccessBlock>().unwrap().ignore_public_acls);
        assert!(state.get::<PolicyConfig>().unwrap().policy().unwrap().is_public());
    }
}
