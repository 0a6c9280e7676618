//! Where requests meet the engine's access decision (`ksan_engine::access::decide`): the
//! bucket-owner expectation headers, and the object-level checks that need the object first.
//! Which action a request is comes from the router (`Endpoint::action`); what the action needs
//! from the ACLs, from the engine (`access::acl_check`).

use std::sync::Arc;

use ksan_engine::access::policy::ConditionContext;
use ksan_engine::access::{AccessRequest, AclCheck, ObjectFacts, acl_check, decide};
use ksan_engine::objects::ObjectHandle;
use ksan_engine::{BucketState, ObjectVersion};
use ksan_types::{ErrorCode, S3Action, S3Error, S3Result};

use crate::{Ctx, S3Api};

/// The resource ARN of a bucket or an object.
pub(crate) fn resource_arn(bucket: &str, key: Option<&str>) -> String {
    match key {
        Some(k) => format!("arn:aws:s3:::{bucket}/{k}"),
        None => format!("arn:aws:s3:::{bucket}"),
    }
}

fn denied() -> S3Error {
    S3Error::new(ErrorCode::AccessDenied)
}

impl S3Api {
    /// `x-amz-expected-bucket-owner` (or the copy source's) must name the bucket's owner, by
    /// canonical id or by account (user) name.
    async fn check_expected_owner(&self, ctx: &Ctx, header: &str, bucket: &BucketState) -> S3Result<()> {
        let Some(expected) = ctx.header(header) else {
            return Ok(());
        };
        if expected == bucket.owner() {
            return Ok(());
        }
        match self.engine.user_by_canonical_id(bucket.owner()).await? {
            Some(owner) if owner.name == expected => Ok(()),
            _ => Err(denied()),
        }
    }

    /// May the caller perform `action` (one that needs no object, such as
    /// `s3:BypassGovernanceRetention`) on the request's key?
    pub(crate) fn may(&self, ctx: &Ctx, bucket: &BucketState, action: S3Action) -> bool {
        self.decide_for(ctx, bucket, action, ctx.route.key.as_deref(), None, None)
    }

    /// The decision for `action` on `key` (or the bucket), with the object when it matters.
    /// `prefix`: a `s3:prefix` to decide with (the missing-object check).
    fn decide_for(
        &self,
        ctx: &Ctx,
        bucket: &BucketState,
        action: S3Action,
        key: Option<&str>,
        object: Option<&ObjectVersion>,
        prefix: Option<&str>,
    ) -> bool {
        // Condition keys and the resource ARN matter only to a policy.
        let (mut context, resource) = match crate::conditions::policy_of(bucket) {
            Some(p) => (
                crate::conditions::context(ctx, bucket, object, p),
                resource_arn(bucket.name(), key),
            ),
            None => (ConditionContext::new(), String::new()),
        };
        if let Some(prefix) = prefix {
            context.set("s3:prefix", prefix);
        }
        let facts = object.map(|v| ObjectFacts {
            owner: &v.owner,
            owner_display_name: &v.owner_display_name,
            grants: v.acl.as_deref(),
        });
        decide(&AccessRequest {
            principal: &ctx.principal,
            bucket,
            action,
            resource: &resource,
            object: facts,
            context: &context,
        })
    }

    /// The request's bucket, if the caller may perform the request's action on it. For
    /// operations on an existing object's data or ACL use `authorized_object` instead: their
    /// decision needs the object.
    pub(crate) async fn authorized_bucket(&self, ctx: &Ctx) -> S3Result<Arc<BucketState>> {
        let bucket = self.object_access(ctx).await?;
        let action = ctx.endpoint().action();
        if matches!(acl_check(action), AclCheck::Object(_)) {
            return Err(S3Error::internal(format!(
                "{} needs the object for its access decision",
                ctx.endpoint().name()
            )));
        }
        if !self.decide_for(ctx, &bucket, action, ctx.route.key.as_deref(), None, None) {
            return Err(denied());
        }
        Ok(bucket)
    }

    /// For reads of an object (data, attributes, ACL): the bucket, after the checks that need no
    /// object. The caller then looks the object up and calls `check_object` or `missing_object`.
    pub(crate) async fn object_access(&self, ctx: &Ctx) -> S3Result<Arc<BucketState>> {
        let bucket = self.engine.bucket_state(ctx.bucket_name()).await?;
        self.check_expected_owner(ctx, "x-amz-expected-bucket-owner", &bucket)
            .await?;
        Ok(bucket)
    }

    /// The request's object version (its `versionId`, or the latest) and its bucket, if the
    /// caller may perform the request's object action on it; a missing object as
    /// `missing_object` says.
    pub(crate) async fn authorized_object(&self, ctx: &Ctx) -> S3Result<(Arc<BucketState>, ObjectHandle)> {
        let bucket = self.object_access(ctx).await?;
        let handle = match self
            .engine
            .lookup(bucket.name(), ctx.key(), ctx.endpoint().version())
            .await
        {
            Ok(h) => h,
            Err(e) => return Err(self.missing_object(ctx, &bucket, e)),
        };
        self.check_object(ctx, &bucket, &handle.version)?;
        Ok((bucket, handle))
    }

    /// May the caller perform the request's object action on this version?
    pub(crate) fn check_object(&self, ctx: &Ctx, bucket: &BucketState, version: &ObjectVersion) -> S3Result<()> {
        let action = ctx.endpoint().action();
        if self.decide_for(ctx, bucket, action, Some(ctx.key()), Some(version), None) {
            Ok(())
        } else {
            Err(denied())
        }
    }

    /// A lookup failed: S3 tells a caller that the object does not exist only if the caller
    /// could have listed it (s3:ListBucket with `s3:prefix` = the key); anyone else learns
    /// nothing but AccessDenied.
    pub(crate) fn missing_object(&self, ctx: &Ctx, bucket: &BucketState, err: S3Error) -> S3Error {
        self.missing_key(ctx, bucket, ctx.key(), err)
    }

    /// As `missing_object`, for any key (a copy's source).
    pub(crate) fn missing_key(&self, ctx: &Ctx, bucket: &BucketState, key: &str, err: S3Error) -> S3Error {
        if !matches!(
            err.code,
            ErrorCode::NoSuchKey | ErrorCode::NoSuchVersion | ErrorCode::MethodNotAllowed
        ) {
            return err;
        }
        if self.decide_for(ctx, bucket, S3Action::ListBucket, None, None, Some(key)) {
            err
        } else {
            denied()
        }
    }

    /// CopyObject and UploadPartCopy read their source: s3:GetObject(Version) on it, decided by
    /// the source bucket's policy and ACLs.
    pub(crate) async fn source_bucket(&self, ctx: &Ctx, name: &str) -> S3Result<Arc<BucketState>> {
        let bucket = self.engine.bucket_state(name).await?;
        self.check_expected_owner(ctx, "x-amz-source-expected-bucket-owner", &bucket)
            .await?;
        Ok(bucket)
    }

    /// May the caller read this copy source?
    pub(crate) fn check_source(
        &self,
        ctx: &Ctx,
        bucket: &BucketState,
        version: &ObjectVersion,
        versioned: bool,
    ) -> S3Result<()> {
        let action = if versioned {
            S3Action::GetObjectVersion
        } else {
            S3Action::GetObject
        };
        if self.decide_for(ctx, bucket, action, Some(&version.key), Some(version), None) {
            Ok(())
        } else {
            Err(denied())
        }
    }

    /// DeleteObjects decides key by key.
    pub(crate) fn may_delete(&self, ctx: &Ctx, bucket: &BucketState, key: &str, versioned: bool) -> bool {
        let action = if versioned {
            S3Action::DeleteObjectVersion
        } else {
            S3Action::DeleteObject
        };
        self.decide_for(ctx, bucket, action, Some(key), None, None)
    }
}
