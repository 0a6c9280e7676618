//! Access decisions: one function, `decide`, combines identity, bucket policy, public access
//! block, object ownership and ACLs as Amazon S3 evaluates them (docs/ARCHITECTURE.md, "Access
//! control"). Every ksan user is its own account, so "another account" means "another user".

pub mod acl;
pub mod config;
pub mod policy;

use ksan_types::S3Action;

use crate::Principal;
use crate::config::BucketState;
use acl::{Grant, ObjectOwnership, Permission};
use config::{BucketAcl, PolicyConfig, ownership, public_access_block};
use policy::{ConditionContext, PolicyDecision, PolicyPrincipal, PolicyRequest};

/// What an action needs from the ACLs, besides the bucket policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AclCheck {
    /// A permission on the bucket's ACL (listing, writing and deleting objects, the bucket ACL).
    Bucket(Permission),
    /// A permission on the object's ACL (reading an object or its ACL).
    Object(Permission),
    /// Bucket configuration: the owner, or whom the bucket policy allows.
    OwnerOnly,
    /// Get/Put/DeleteBucketPolicy: the owner only, and a policy cannot deny the owner them
    /// (as S3 keeps the account root from locking itself out).
    PolicyAdmin,
}

/// What an action needs from the ACLs. Every action has one answer, so the router's choice of
/// action decides the ACL check too.
pub fn acl_check(action: S3Action) -> AclCheck {
    use AclCheck::{Bucket, Object, OwnerOnly, PolicyAdmin};
    use Permission::{Read, ReadAcp, Write, WriteAcp};
    use S3Action as A;
    match action {
        A::ListBucket | A::ListBucketVersions | A::ListBucketMultipartUploads | A::ListMultipartUploadParts => {
            Bucket(Read)
        }
        A::GetBucketAcl => Bucket(ReadAcp),
        A::PutBucketAcl => Bucket(WriteAcp),
        A::PutObject | A::DeleteObject | A::DeleteObjectVersion | A::AbortMultipartUpload => Bucket(Write),
        A::GetBucketPolicy | A::PutBucketPolicy | A::DeleteBucketPolicy => PolicyAdmin,
        A::GetObject
        | A::GetObjectVersion
        | A::GetObjectAttributes
        | A::GetObjectVersionAttributes
        | A::GetObjectTagging
        | A::GetObjectVersionTagging => Object(Read),
        A::GetObjectAcl | A::GetObjectVersionAcl => Object(ReadAcp),
        // Tags are the object owner's to set (or whom a policy allows), like its ACL.
        A::PutObjectAcl
        | A::PutObjectVersionAcl
        | A::PutObjectTagging
        | A::PutObjectVersionTagging
        | A::DeleteObjectTagging
        | A::DeleteObjectVersionTagging => Object(WriteAcp),
        _ => OwnerOnly,
    }
}

/// The object an object-level action acts on.
#[derive(Debug, Clone, Copy)]
pub struct ObjectFacts<'a> {
    /// The object owner's canonical id.
    pub owner: &'a str,
    /// The object owner's display name.
    pub owner_display_name: &'a str,
    /// None = the default private ACL.
    pub grants: Option<&'a [Grant]>,
}

/// Everything the decision looks at.
pub struct AccessRequest<'a> {
    /// Who asks.
    pub principal: &'a Principal,
    /// The bucket, with its ACL, ownership controls, public access block and policy.
    pub bucket: &'a BucketState,
    /// What is asked for.
    pub action: S3Action,
    /// `arn:aws:s3:::bucket` or `arn:aws:s3:::bucket/key`.
    pub resource: &'a str,
    /// For object-level actions: the object, when it exists.
    pub object: Option<ObjectFacts<'a>>,
    /// The request's condition keys (only those the bucket policy reads).
    pub context: &'a ConditionContext,
}

/// The principal as the policy language sees it.
pub fn policy_principal(principal: &Principal) -> PolicyPrincipal {
    match principal.user() {
        None => PolicyPrincipal::Anonymous,
        Some(u) => PolicyPrincipal::User {
            name: u.name.clone(),
            canonical_id: u.canonical_id.clone(),
        },
    }
}

/// May this request go ahead?
///
/// 1. Bucket-policy administration: the bucket owner only.
/// 2. An explicit Deny in the bucket policy refuses, whoever asks.
/// 3. RestrictPublicBuckets with a public policy: nobody but the owner gets in.
/// 4. An Allow in the bucket policy grants.
/// 5. The bucket owner may do anything to the bucket (and, with BucketOwnerEnforced, to every
///    object: it owns them all).
/// 6. Otherwise the ACLs decide (not with BucketOwnerEnforced: ACLs are off), public grants
///    ignored under IgnorePublicAcls. An object's owner can always read and write its ACL.
pub fn decide(req: &AccessRequest<'_>) -> bool {
    let caller = req.principal.canonical_id();
    let is_bucket_owner = caller == Some(req.bucket.owner());
    let check = acl_check(req.action);
    if check == AclCheck::PolicyAdmin {
        return is_bucket_owner;
    }
    let block = public_access_block(req.bucket);
    if let Some(policy) = req.bucket.get::<PolicyConfig>().and_then(PolicyConfig::policy) {
        let principal = policy_principal(req.principal);
        let decision = policy.evaluate(&PolicyRequest {
            principal: &principal,
            action: req.action,
            resource: req.resource,
            context: req.context,
        });
        if decision == PolicyDecision::Deny {
            return false;
        }
        if !is_bucket_owner && block.restrict_public_buckets && policy.is_public() {
            return false;
        }
        if decision == PolicyDecision::Allow {
            return true;
        }
    }
    let enforced = ownership(req.bucket) == Some(ObjectOwnership::BucketOwnerEnforced);
    match check {
        AclCheck::PolicyAdmin | AclCheck::OwnerOnly => is_bucket_owner,
        AclCheck::Bucket(permission) => {
            is_bucket_owner
                || (!enforced
                    && req
                        .bucket
                        .get::<BucketAcl>()
                        .is_some_and(|acl| acl::allows(&acl.0, caller, permission, block.ignore_public_acls)))
        }
        AclCheck::Object(permission) => {
            if enforced {
                return is_bucket_owner;
            }
            let Some(object) = req.object else {
                return is_bucket_owner;
            };
            let is_object_owner = caller == Some(object.owner);
            if is_object_owner && matches!(permission, Permission::ReadAcp | Permission::WriteAcp) {
                return true;
            }
            match object.grants {
                Some(grants) => acl::allows(grants, caller, permission, block.ignore_public_acls),
                None => is_object_owner,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::config::OwnershipConfig;
    use crate::records::{BucketRecord, UserRecord};
    use acl::{CannedAcl, CannedGrants, PublicAccessBlock};
    use policy::BucketPolicy;
    use std::sync::Arc;

    fn user(name: &str, id: &str) -> Principal {
        Principal::User(Arc::new(UserRecord {
            name: name.into(),
            canonical_id: id.into(),
            display_name: name.into(),
            access_keys: vec![],
            root: false,
            created_ms: 0,
            email: None,
        }))
    }

    fn bucket() -> BucketState {
        BucketState::new(BucketRecord {
            name: "bkt".into(),
            owner: "o1".into(),
            owner_display_name: "owner".into(),
            created_ms: 0,
            location: None,
            versioning: Default::default(),
        })
    }

    fn with_policy(b: &BucketState, policy: Option<&BucketPolicy>) -> BucketState {
        match policy {
            Some(p) => b.clone().with(PolicyConfig {
                text: String::new(),
                parsed: Some(Arc::new(p.clone())),
            }),
            None => b.clone(),
        }
    }

    fn check(
        p: &Principal,
        b: &BucketState,
        policy: Option<&BucketPolicy>,
        action: S3Action,
        obj: Option<ObjectFacts>,
    ) -> bool {
        let ctx = ConditionContext::new();
        decide(&AccessRequest {
            principal: p,
            bucket: &with_policy(b, policy),
            action,
            resource: "arn:aws:s3:::bkt/k",
            object: obj,
            context: &ctx,
        })
    }

    const LIST: S3Action = S3Action::ListBucket;
    const GET: S3Action = S3Action::GetObject;
    const PUT: S3Action = S3Action::PutObject;

    #[test]
    fn owner_acl_and_anonymous() {
        let owner = user("owner", "o1");
        let other = user("other", "x9");
        let anon = Principal::Anonymous;
        let mut b = bucket();
        assert!(check(&owner, &b, None, LIST, None));
        assert!(!check(&other, &b, None, LIST, None));
        assert!(!check(&anon, &b, None, PUT, None));
        b = b.with(BucketAcl(
            CannedAcl::PublicReadWrite.grants(("o1", "owner"), ("o1", "owner")),
        ));
        assert!(check(&anon, &b, None, PUT, None));
        b = b.with(PublicAccessBlock {
            ignore_public_acls: true,
            ..Default::default()
        });
        assert!(!check(&anon, &b, None, PUT, None));
        assert!(check(&owner, &b, None, PUT, None));
    }

    #[test]
    fn policy_deny_wins_and_the_owner_keeps_the_policy() {
        let owner = user("owner", "o1");
        let other = user("other", "x9");
        let b = bucket().with(BucketAcl(
            CannedAcl::PublicReadWrite.grants(("o1", "owner"), ("o1", "owner")),
        ));
        let deny = BucketPolicy::parse(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::bkt","arn:aws:s3:::bkt/*"]}]}"#,
            "bkt",
        )
        .unwrap();
        assert!(!check(&other, &b, Some(&deny), PUT, None), "deny beats the ACL grant");
        assert!(!check(&owner, &b, Some(&deny), LIST, None), "deny applies to the owner");
        let admin = S3Action::PutBucketPolicy;
        assert!(
            check(&owner, &b, Some(&deny), admin, None),
            "the owner can always fix its policy"
        );
        assert!(!check(&other, &b, None, admin, None));
    }

    #[test]
    fn restrict_public_buckets_shuts_out_everyone_but_the_owner() {
        let owner = user("owner", "o1");
        let other = user("other", "x9");
        let mut b = bucket();
        let public = BucketPolicy::parse(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:ListBucket","Resource":"arn:aws:s3:::bkt*"}]}"#,
            "bkt",
        )
        .unwrap();
        assert!(check(&Principal::Anonymous, &b, Some(&public), LIST, None));
        b = b.with(PublicAccessBlock {
            restrict_public_buckets: true,
            ..Default::default()
        });
        assert!(!check(&Principal::Anonymous, &b, Some(&public), LIST, None));
        assert!(!check(&other, &b, Some(&public), LIST, None));
        assert!(check(&owner, &b, Some(&public), LIST, None));
    }

    #[test]
    fn object_acls_and_enforced_ownership() {
        let owner = user("owner", "o1");
        let writer = user("w", "w2");
        let b = bucket();
        let grants = CannedAcl::Private.grants(("w2", "w"), ("o1", "owner"));
        let obj = ObjectFacts {
            owner: "w2",
            owner_display_name: "w",
            grants: Some(&grants),
        };
        // Another writer's private object: the bucket owner cannot read it (ObjectWriter)...
        assert!(!check(&owner, &b, None, GET, Some(obj)));
        assert!(check(&writer, &b, None, GET, Some(obj)));
        // ...unless the bucket enforces bucket-owner ownership (then ACLs are off).
        let b = b.with(OwnershipConfig(ObjectOwnership::BucketOwnerEnforced));
        assert!(check(&owner, &b, None, GET, Some(obj)));
        assert!(!check(&writer, &b, None, GET, Some(obj)));
    }
}
