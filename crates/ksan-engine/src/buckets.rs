//! Buckets: create, delete, look up, list.

use ksan_types::{ErrorCode, S3Error, S3Result};

use crate::access::acl::{Grant, ObjectOwnership, private};
use crate::records::{BucketRecord, UserRecord, Versioning, decode, encode};
use crate::{Engine, keys, meta_err, now_ms};

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
    pub ownership: Option<ObjectOwnership>,
}

impl Engine {
    /// Look a bucket up; NoSuchBucket if it does not exist.
    pub fn bucket(&self, name: &str) -> S3Result<BucketRecord> {
        let snap = self.snapshot()?;
        match snap.get(&keys::bucket(name)).map_err(meta_err)? {
            Some(bytes) => decode(&bytes),
            None => Err(S3Error::new(ErrorCode::NoSuchBucket).bucket(name)),
        }
    }

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

    pub async fn create_bucket_with(
        &self,
        owner: &UserRecord,
        name: &str,
        options: NewBucket,
    ) -> S3Result<BucketRecord> {
        let NewBucket {
            location,
            acl,
            ownership,
        } = options;
        if !valid_bucket_name(name) {
            return Err(S3Error::new(ErrorCode::InvalidBucketName).bucket(name));
        }
        let record = BucketRecord {
            name: name.to_owned(),
            owner: owner.canonical_id.clone(),
            owner_display_name: owner.display_name.clone(),
            created_ms: now_ms(),
            location,
            versioning: Versioning::Unversioned,
            acl,
            ownership,
            policy: None,
            public_access_block: None,
        };
        let bytes = encode(&record)?;
        let key = keys::bucket(name);
        let (name, owner_id) = (name.to_owned(), owner.canonical_id.clone());
        // In us-east-1 S3 answers a repeated CreateBucket by the owner with 200 and leaves the
        // bucket as it is; every other region answers BucketAlreadyOwnedByYou.
        let legacy_region = self.config.region == "us-east-1";
        self.write(move |txn| {
            if let Some(existing) = txn.get(&key).map_err(meta_err)? {
                let existing: BucketRecord = decode(&existing)?;
                if existing.owner != owner_id {
                    return Err(S3Error::new(ErrorCode::BucketAlreadyExists).bucket(name));
                }
                // A repeat that would change the bucket's ACL is refused (as Ceph RGW does, and
                // s3-tests expect) rather than silently resetting it.
                let as_stored = |g: &Option<Vec<Grant>>| {
                    g.clone()
                        .unwrap_or_else(|| private((&existing.owner, &existing.owner_display_name)))
                };
                if as_stored(&existing.acl) != as_stored(&record.acl) {
                    return Err(S3Error::new(ErrorCode::BucketAlreadyExists).bucket(name));
                }
                if legacy_region {
                    return Ok(existing);
                }
                return Err(S3Error::new(ErrorCode::BucketAlreadyOwnedByYou).bucket(name));
            }
            txn.put(&key, &bytes).map_err(meta_err)?;
            Ok(record)
        })
        .await
    }

    /// Delete an empty bucket and its configurations.
    pub async fn delete_bucket(&self, name: &str) -> S3Result<()> {
        let name = name.to_owned();
        self.write(move |txn| {
            if txn.get(&keys::bucket(&name)).map_err(meta_err)?.is_none() {
                return Err(S3Error::new(ErrorCode::NoSuchBucket).bucket(name));
            }
            // Any version (a delete marker too) or upload keeps the bucket.
            for prefix in [keys::version_prefix(&name), keys::latest_prefix(&name)] {
                let end = ksan_meta::prefix_end(&prefix);
                if !txn.range(&prefix, &end, 1, false).map_err(meta_err)?.is_empty() {
                    return Err(S3Error::new(ErrorCode::BucketNotEmpty).bucket(name));
                }
            }
            let configs = keys::config(&name, "");
            let end = ksan_meta::prefix_end(&configs);
            for (k, _) in txn.range(&configs, &end, usize::MAX, false).map_err(meta_err)? {
                txn.delete(&k).map_err(meta_err)?;
            }
            txn.delete(&keys::bucket(&name)).map_err(meta_err)
        })
        .await
    }

    /// Buckets owned by a canonical id, by name.
    pub fn list_buckets(&self, owner: &str) -> S3Result<Vec<BucketRecord>> {
        let snap = self.snapshot()?;
        let end = ksan_meta::prefix_end(keys::BUCKET_PREFIX);
        let mut out = Vec::new();
        for (_, v) in snap
            .range(keys::BUCKET_PREFIX, &end, usize::MAX, false)
            .map_err(meta_err)?
        {
            let b: BucketRecord = decode(&v)?;
            if b.owner == owner {
                out.push(b);
            }
        }
        Ok(out)
    }
}

impl Engine {
    /// Change a bucket's record in one transaction (ACL, policy, ownership, access block...).
    /// `change` sees the current record, so checks against it are atomic with the write.
    pub async fn update_bucket<F>(&self, bucket: &str, change: F) -> S3Result<BucketRecord>
    where
        F: FnOnce(&mut BucketRecord) -> S3Result<()> + Send + 'static,
    {
        let bucket = bucket.to_owned();
        self.write(move |txn| {
            let mut record = crate::objects::load_bucket(txn, &bucket)?;
            change(&mut record)?;
            txn.put(&keys::bucket(&bucket), &encode(&record)?).map_err(meta_err)?;
            Ok(record)
        })
        .await
    }

    /// PutBucketVersioning: Enabled or Suspended (a bucket never returns to unversioned).
    pub async fn set_versioning(&self, bucket: &str, state: Versioning) -> S3Result<()> {
        let bucket = bucket.to_owned();
        self.write(move |txn| {
            let mut record = crate::objects::load_bucket(txn, &bucket)?;
            record.versioning = state;
            txn.put(&keys::bucket(&bucket), &encode(&record)?).map_err(meta_err)
        })
        .await
    }
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
        assert_eq!(e.list_buckets(&alice.canonical_id).unwrap().len(), 1);
        assert!(e.list_buckets(&bob.canonical_id).unwrap().is_empty());
        e.delete_bucket("bkt").await.unwrap();
        assert_eq!(e.bucket("bkt").unwrap_err().code, ErrorCode::NoSuchBucket);
        assert_eq!(e.delete_bucket("bkt").await.unwrap_err().code, ErrorCode::NoSuchBucket);
    }
}
