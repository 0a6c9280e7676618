//! The access-control configurations of a bucket (ACL, Object Ownership, bucket policy, public
//! access block) as [`BucketConfig`] kinds, with the checks S3 makes when each is put.

use std::sync::Arc;

use ksan_types::{ErrorCode, S3Error, S3Result};
use serde::{Deserialize, Serialize};

use super::acl::{Grant, ObjectOwnership, PublicAccessBlock, private};
use super::policy::BucketPolicy;
use crate::config::{BucketConfig, BucketState};
use crate::keys::ConfigKind;

/// The bucket ACL. A bucket without one is private (its owner has FULL_CONTROL).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct BucketAcl(pub Vec<Grant>);

impl BucketConfig for BucketAcl {
    const KIND: ConfigKind = ConfigKind::Acl;
    const NOT_FOUND: Option<ErrorCode> = None;

    /// No ACL under BucketOwnerEnforced; no public grant under BlockPublicAcls.
    fn validate(&self, bucket: &BucketState) -> S3Result<()> {
        if ownership(bucket) == Some(ObjectOwnership::BucketOwnerEnforced) {
            return Err(S3Error::new(ErrorCode::AccessControlListNotSupported));
        }
        check_block_public_acls(bucket, Some(&self.0))
    }
}

/// Object Ownership controls.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct OwnershipConfig(pub ObjectOwnership);

impl BucketConfig for OwnershipConfig {
    const KIND: ConfigKind = ConfigKind::Ownership;
    const NOT_FOUND: Option<ErrorCode> = Some(ErrorCode::OwnershipControlsNotFoundError);

    /// ACLs cannot be switched off while the bucket ACL grants anyone but the owner.
    fn validate(&self, bucket: &BucketState) -> S3Result<()> {
        let owner_only = private((bucket.owner(), &bucket.record.owner_display_name));
        let acl_grants_others = bucket.get::<BucketAcl>().is_some_and(|a| a.0 != owner_only);
        if self.0 == ObjectOwnership::BucketOwnerEnforced && acl_grants_others {
            return Err(S3Error::new(ErrorCode::InvalidBucketAclWithObjectOwnership));
        }
        Ok(())
    }
}

/// The bucket policy: the text exactly as it was put, and (once read) its parsed form.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PolicyConfig {
    /// The document as given (GetBucketPolicy answers it byte for byte).
    pub text: String,
    /// Parsed when the configuration is read or made.
    #[serde(skip)]
    pub parsed: Option<Arc<BucketPolicy>>,
}

impl PolicyConfig {
    /// Parse and validate a policy for `bucket` (MalformedPolicy with S3's message).
    pub fn parse(text: String, bucket: &str) -> S3Result<PolicyConfig> {
        let parsed =
            BucketPolicy::parse(&text, bucket).map_err(|e| S3Error::new(ErrorCode::MalformedPolicy).msg(e.0))?;
        Ok(PolicyConfig {
            text,
            parsed: Some(Arc::new(parsed)),
        })
    }

    /// The parsed policy.
    pub fn policy(&self) -> Option<&BucketPolicy> {
        self.parsed.as_deref()
    }
}

impl BucketConfig for PolicyConfig {
    const KIND: ConfigKind = ConfigKind::Policy;
    const NOT_FOUND: Option<ErrorCode> = Some(ErrorCode::NoSuchBucketPolicy);

    /// BlockPublicPolicy refuses a public policy.
    fn validate(&self, bucket: &BucketState) -> S3Result<()> {
        let block = bucket.get::<PublicAccessBlock>().copied().unwrap_or_default();
        if block.block_public_policy && self.policy().is_some_and(BucketPolicy::is_public) {
            return Err(S3Error::new(ErrorCode::AccessDenied));
        }
        Ok(())
    }

    fn loaded(self, bucket: &str) -> S3Result<Self> {
        let parsed = BucketPolicy::parse(&self.text, bucket)
            .map_err(|e| S3Error::internal(format!("stored policy of {bucket} no longer parses: {e}")))?;
        Ok(PolicyConfig {
            text: self.text,
            parsed: Some(Arc::new(parsed)),
        })
    }
}

impl BucketConfig for PublicAccessBlock {
    const KIND: ConfigKind = ConfigKind::PublicAccessBlock;
    const NOT_FOUND: Option<ErrorCode> = Some(ErrorCode::NoSuchPublicAccessBlockConfiguration);
}

/// The bucket's Object Ownership, if set.
pub fn ownership(bucket: &BucketState) -> Option<ObjectOwnership> {
    bucket.get::<OwnershipConfig>().map(|o| o.0)
}

/// The bucket's public access block (all off when none is set).
pub fn public_access_block(bucket: &BucketState) -> PublicAccessBlock {
    bucket.get::<PublicAccessBlock>().copied().unwrap_or_default()
}

/// The bucket's ACL grants (the owner's FULL_CONTROL when none is set).
pub fn bucket_grants(bucket: &BucketState) -> Vec<Grant> {
    match bucket.get::<BucketAcl>() {
        Some(acl) => acl.0.clone(),
        None => private((bucket.owner(), &bucket.record.owner_display_name)),
    }
}

/// BlockPublicAcls: no grant to everyone or to every authenticated user may be set.
pub fn check_block_public_acls(bucket: &BucketState, grants: Option<&[Grant]>) -> S3Result<()> {
    if public_access_block(bucket).block_public_acls && grants.is_some_and(|g| g.iter().any(Grant::is_public)) {
        return Err(S3Error::new(ErrorCode::AccessDenied));
    }
    Ok(())
}
