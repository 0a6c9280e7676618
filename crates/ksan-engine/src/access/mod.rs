//! Access decisions: one function, `decide`, combines identity, bucket policy, public access
//! block, object ownership and ACLs as Amazon S3 evaluates them (docs/ARCHITECTURE.md, "Access
//! control"). Every ksan user is its own account, so "another account" means "another user".

pub mod acl;
pub mod policy;

use crate::Principal;
use crate::records::BucketRecord;
use acl::{Grant, ObjectOwnership, Permission};
use policy::{BucketPolicy, ConditionContext, PolicyDecision, PolicyPrincipal, PolicyRequest};

/// What an operation needs from the ACLs, besides its policy action name.
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

/// One S3 action as the access decision sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Action {
    /// The policy language's name, e.g. `s3:GetObject`.
    pub name: &'static str,
    pub acl: AclCheck,
}

impl Action {
    pub const fn new(name: &'static str, acl: AclCheck) -> Action {
        Action { name, acl }
    }
}

/// The object an object-level action acts on.
#[derive(Debug, Clone, Copy)]
pub struct ObjectFacts<'a> {
    pub owner: &'a str,
    pub owner_display_name: &'a str,
    /// None = the default private ACL.
    pub grants: Option<&'a [Grant]>,
}

pub struct AccessRequest<'a> {
    pub principal: &'a Principal,
    pub bucket: &'a BucketRecord,
    /// The bucket's parsed policy, if it has one.
    pub policy: Option<&'a BucketPolicy>,
    pub action: Action,
    /// `arn:aws:s3:::bucket` or `arn:aws:s3:::bucket/key`.
    pub resource: &'a str,
    /// For `AclCheck::Object`: the object, when it exists.
    pub object: Option<ObjectFacts<'a>>,
    pub context: &'a ConditionContext,
}

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
    let is_bucket_owner = caller == Some(req.bucket.owner.as_str());
    if req.action.acl == AclCheck::PolicyAdmin {
        return is_bucket_owner;
    }
    let block = req.bucket.public_access_block.unwrap_or_default();
    if let Some(policy) = req.policy {
        let principal = policy_principal(req.principal);
        let decision = policy.evaluate(&PolicyRequest {
            principal: &principal,
            action: req.action.name,
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
    let enforced = req.bucket.ownership == Some(ObjectOwnership::BucketOwnerEnforced);
    match req.action.acl {
        AclCheck::PolicyAdmin | AclCheck::OwnerOnly => is_bucket_owner,
        AclCheck::Bucket(permission) => {
            is_bucket_owner
                || (!enforced
                    && match &req.bucket.acl {
                        Some(grants) => acl::allows(grants, caller, permission, block.ignore_public_acls),
                        None => false,
                    })
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
    use crate::records::UserRecord;
    use acl::{CannedAcl, PublicAccessBlock};
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

    fn bucket() -> BucketRecord {
        BucketRecord {
            name: "bkt".into(),
            owner: "o1".into(),
            owner_display_name: "owner".into(),
            created_ms: 0,
            location: None,
            versioning: Default::default(),
            acl: None,
            ownership: None,
            policy: None,
            public_access_block: None,
        }
    }

    fn check(
        p: &Principal,
        b: &BucketRecord,
        policy: Option<&BucketPolicy>,
        action: Action,
        obj: Option<ObjectFacts>,
    ) -> bool {
        let ctx = ConditionContext::new();
        decide(&AccessRequest {
            principal: p,
            bucket: b,
            policy,
            action,
            resource: "arn:aws:s3:::bkt/k",
            object: obj,
            context: &ctx,
        })
    }

    const LIST: Action = Action::new("s3:ListBucket", AclCheck::Bucket(Permission::Read));
    const GET: Action = Action::new("s3:GetObject", AclCheck::Object(Permission::Read));
    const PUT: Action = Action::new("s3:PutObject", AclCheck::Bucket(Permission::Write));

    #[test]
    fn owner_acl_and_anonymous() {
        let owner = user("owner", "o1");
        let other = user("other", "x9");
        let anon = Principal::Anonymous;
        let mut b = bucket();
        assert!(check(&owner, &b, None, LIST, None));
        assert!(!check(&other, &b, None, LIST, None));
        assert!(!check(&anon, &b, None, PUT, None));
        b.acl = Some(CannedAcl::PublicReadWrite.grants(("o1", "owner"), ("o1", "owner")));
        assert!(check(&anon, &b, None, PUT, None));
        b.public_access_block = Some(PublicAccessBlock {
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
        let mut b = bucket();
        b.acl = Some(CannedAcl::PublicReadWrite.grants(("o1", "owner"), ("o1", "owner")));
        let deny = BucketPolicy::parse(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::bkt","arn:aws:s3:::bkt/*"]}]}"#,
            "bkt",
        )
        .unwrap();
        assert!(!check(&other, &b, Some(&deny), PUT, None), "deny beats the ACL grant");
        assert!(!check(&owner, &b, Some(&deny), LIST, None), "deny applies to the owner");
        let admin = Action::new("s3:PutBucketPolicy", AclCheck::PolicyAdmin);
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
        b.public_access_block = Some(PublicAccessBlock {
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
        let mut b = bucket();
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
        b.ownership = Some(ObjectOwnership::BucketOwnerEnforced);
        assert!(check(&owner, &b, None, GET, Some(obj)));
        assert!(!check(&writer, &b, None, GET, Some(obj)));
    }
}
