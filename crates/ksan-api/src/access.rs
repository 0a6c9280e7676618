//! Where requests meet the access decision (`ksan_engine::access::decide`): which S3 action an
//! endpoint is, the request's condition keys, the bucket-owner expectation headers, and the
//! object-level checks that need the object first.

use std::net::IpAddr;
use std::sync::Arc;

use ksan_engine::access::acl::Permission;
pub use ksan_engine::access::policy::parse_network;
use ksan_engine::access::policy::{BucketPolicy, ConditionContext, in_network};
use ksan_engine::access::{AccessRequest, AclCheck, Action, ObjectFacts, decide};
use ksan_engine::objects::ObjectHandle;
use ksan_engine::{BucketRecord, ObjectVersion};
use ksan_proto::auth::SignatureKind;
use ksan_proto::router::Endpoint;
use ksan_types::{ErrorCode, S3Error, S3Result};

use crate::{Ctx, S3Api};

use AclCheck::{Bucket, Object, OwnerOnly, PolicyAdmin};
use Permission::{Read, ReadAcp, Write, WriteAcp};

/// The S3 action an endpoint performs, and what it needs from the ACLs. `versioned` = the request
/// names a version (`versionId`), which S3 authorizes as the `...Version...` actions.
pub(crate) fn action_of(endpoint: Endpoint, versioned: bool) -> Action {
    use Endpoint::*;
    let (name, acl) = match endpoint {
        ListBuckets => ("s3:ListAllMyBuckets", OwnerOnly),
        CreateBucket => ("s3:CreateBucket", OwnerOnly),
        DeleteBucket => ("s3:DeleteBucket", OwnerOnly),
        HeadBucket | ListObjects | ListObjectsV2 => ("s3:ListBucket", Bucket(Read)),
        ListObjectVersions => ("s3:ListBucketVersions", Bucket(Read)),
        ListMultipartUploads => ("s3:ListBucketMultipartUploads", Bucket(Read)),
        GetBucketLocation => ("s3:GetBucketLocation", OwnerOnly),
        GetBucketAcl => ("s3:GetBucketAcl", Bucket(ReadAcp)),
        PutBucketAcl => ("s3:PutBucketAcl", Bucket(WriteAcp)),
        GetBucketCors => ("s3:GetBucketCORS", OwnerOnly),
        PutBucketCors | DeleteBucketCors => ("s3:PutBucketCORS", OwnerOnly),
        GetBucketEncryption => ("s3:GetEncryptionConfiguration", OwnerOnly),
        PutBucketEncryption | DeleteBucketEncryption => ("s3:PutEncryptionConfiguration", OwnerOnly),
        GetBucketLifecycleConfiguration => ("s3:GetLifecycleConfiguration", OwnerOnly),
        PutBucketLifecycleConfiguration | DeleteBucketLifecycle => ("s3:PutLifecycleConfiguration", OwnerOnly),
        GetBucketPolicy => ("s3:GetBucketPolicy", PolicyAdmin),
        PutBucketPolicy => ("s3:PutBucketPolicy", PolicyAdmin),
        DeleteBucketPolicy => ("s3:DeleteBucketPolicy", PolicyAdmin),
        GetBucketPolicyStatus => ("s3:GetBucketPolicyStatus", OwnerOnly),
        GetBucketReplication => ("s3:GetReplicationConfiguration", OwnerOnly),
        PutBucketReplication | DeleteBucketReplication => ("s3:PutReplicationConfiguration", OwnerOnly),
        GetBucketTagging => ("s3:GetBucketTagging", OwnerOnly),
        PutBucketTagging | DeleteBucketTagging => ("s3:PutBucketTagging", OwnerOnly),
        GetBucketVersioning => ("s3:GetBucketVersioning", OwnerOnly),
        PutBucketVersioning => ("s3:PutBucketVersioning", OwnerOnly),
        GetBucketWebsite => ("s3:GetBucketWebsite", OwnerOnly),
        PutBucketWebsite => ("s3:PutBucketWebsite", OwnerOnly),
        DeleteBucketWebsite => ("s3:DeleteBucketWebsite", OwnerOnly),
        GetObjectLockConfiguration => ("s3:GetBucketObjectLockConfiguration", OwnerOnly),
        PutObjectLockConfiguration => ("s3:PutBucketObjectLockConfiguration", OwnerOnly),
        GetPublicAccessBlock => ("s3:GetBucketPublicAccessBlock", OwnerOnly),
        PutPublicAccessBlock | DeletePublicAccessBlock => ("s3:PutBucketPublicAccessBlock", OwnerOnly),
        GetBucketOwnershipControls => ("s3:GetBucketOwnershipControls", OwnerOnly),
        PutBucketOwnershipControls | DeleteBucketOwnershipControls => ("s3:PutBucketOwnershipControls", OwnerOnly),
        DeleteObjects | DeleteObject if versioned => ("s3:DeleteObjectVersion", Bucket(Write)),
        DeleteObjects | DeleteObject => ("s3:DeleteObject", Bucket(Write)),
        PostObject
        | PutObject
        | CopyObject
        | CreateMultipartUpload
        | UploadPart
        | UploadPartCopy
        | CompleteMultipartUpload => ("s3:PutObject", Bucket(Write)),
        AbortMultipartUpload => ("s3:AbortMultipartUpload", Bucket(Write)),
        ListParts => ("s3:ListMultipartUploadParts", Bucket(Read)),
        GetObject | HeadObject if versioned => ("s3:GetObjectVersion", Object(Read)),
        GetObject | HeadObject => ("s3:GetObject", Object(Read)),
        GetObjectAttributes if versioned => ("s3:GetObjectVersionAttributes", Object(Read)),
        GetObjectAttributes => ("s3:GetObjectAttributes", Object(Read)),
        GetObjectAcl if versioned => ("s3:GetObjectVersionAcl", Object(ReadAcp)),
        GetObjectAcl => ("s3:GetObjectAcl", Object(ReadAcp)),
        PutObjectAcl if versioned => ("s3:PutObjectVersionAcl", Object(WriteAcp)),
        PutObjectAcl => ("s3:PutObjectAcl", Object(WriteAcp)),
        GetObjectTagging if versioned => ("s3:GetObjectVersionTagging", Object(Read)),
        GetObjectTagging => ("s3:GetObjectTagging", Object(Read)),
        // Tags are the object owner's to set (or whom a policy allows), like its ACL.
        PutObjectTagging if versioned => ("s3:PutObjectVersionTagging", Object(WriteAcp)),
        PutObjectTagging => ("s3:PutObjectTagging", Object(WriteAcp)),
        DeleteObjectTagging if versioned => ("s3:DeleteObjectVersionTagging", Object(WriteAcp)),
        DeleteObjectTagging => ("s3:DeleteObjectTagging", Object(WriteAcp)),
        GetObjectRetention => ("s3:GetObjectRetention", OwnerOnly),
        PutObjectRetention => ("s3:PutObjectRetention", OwnerOnly),
        GetObjectLegalHold => ("s3:GetObjectLegalHold", OwnerOnly),
        PutObjectLegalHold => ("s3:PutObjectLegalHold", OwnerOnly),
        Options | Unsupported => ("s3:ListBucket", OwnerOnly),
    };
    Action::new(name, acl)
}

/// The resource ARN of a bucket or an object.
pub(crate) fn resource_arn(bucket: &str, key: Option<&str>) -> String {
    match key {
        Some(k) => format!("arn:aws:s3:::{bucket}/{k}"),
        None => format!("arn:aws:s3:::{bucket}"),
    }
}

/// The client's address: the peer's, or with a trusted proxy in front, the nearest address in
/// X-Forwarded-For that is not itself a trusted proxy. Anyone else's X-Forwarded-For is ignored,
/// so that it cannot be used to pass an `aws:SourceIp` condition.
pub(crate) fn client_ip(peer: IpAddr, forwarded_for: Option<&str>, trusted: &[(IpAddr, u8)]) -> IpAddr {
    if !trusted.iter().any(|net| in_network(peer, *net)) {
        return peer;
    }
    let Some(chain) = forwarded_for else {
        return peer;
    };
    let mut nearest = peer;
    for hop in chain.rsplit(',') {
        let Ok(ip) = hop.trim().parse::<IpAddr>() else {
            return nearest;
        };
        nearest = ip;
        if !trusted.iter().any(|net| in_network(ip, *net)) {
            break;
        }
    }
    nearest
}

impl S3Api {
    /// The parsed policy of a bucket, parsed once per policy text.
    pub(crate) fn policy_of(&self, bucket: &BucketRecord) -> S3Result<Option<Arc<BucketPolicy>>> {
        let Some(text) = &bucket.policy else {
            return Ok(None);
        };
        let mut cache = self.policies.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((cached_text, parsed)) = cache.get(&bucket.name)
            && cached_text == text
        {
            return Ok(Some(parsed.clone()));
        }
        let parsed = Arc::new(
            BucketPolicy::parse(text, &bucket.name)
                .map_err(|e| S3Error::internal(format!("stored policy no longer parses: {e}")))?,
        );
        if cache.len() > 10_000 {
            cache.clear();
        }
        cache.insert(bucket.name.clone(), (text.clone(), parsed.clone()));
        Ok(Some(parsed))
    }

    /// The request's values of the condition keys `policy` reads (only those: most policies
    /// read few or none, and this runs on every request to a bucket with a policy).
    pub(crate) fn condition_context(
        &self,
        ctx: &Ctx,
        object: Option<&ObjectVersion>,
        policy: &BucketPolicy,
    ) -> ConditionContext {
        let mut c = ConditionContext::new();
        for key in policy.condition_keys() {
            if let Some(values) = condition_value(ctx, object, key) {
                c.set_all(key, values);
            }
        }
        c
    }

    /// `x-amz-expected-bucket-owner` (or the copy source's) must name the bucket's owner, by
    /// canonical id or by account (user) name.
    fn check_expected_owner(&self, ctx: &Ctx, header: &str, bucket: &BucketRecord) -> S3Result<()> {
        let Some(expected) = ctx.header(header) else {
            return Ok(());
        };
        if expected == bucket.owner {
            return Ok(());
        }
        match self.engine.user_by_canonical_id(&bucket.owner)? {
            Some(owner) if owner.name == expected => Ok(()),
            _ => Err(S3Error::new(ErrorCode::AccessDenied)),
        }
    }

    fn decide_for(
        &self,
        ctx: &Ctx,
        bucket: &BucketRecord,
        action: Action,
        key: Option<&str>,
        object: Option<&ObjectVersion>,
    ) -> S3Result<bool> {
        let policy = self.policy_of(bucket)?;
        // Condition keys and the resource ARN matter only to a policy.
        let (context, resource) = match &policy {
            Some(p) => (self.condition_context(ctx, object, p), resource_arn(&bucket.name, key)),
            None => (ConditionContext::new(), String::new()),
        };
        let facts = object.map(|v| ObjectFacts {
            owner: &v.owner,
            owner_display_name: &v.owner_display_name,
            grants: v.acl.as_deref(),
        });
        Ok(decide(&AccessRequest {
            principal: &ctx.principal,
            bucket,
            policy: policy.as_deref(),
            action,
            resource: &resource,
            object: facts,
            context: &context,
        }))
    }

    fn request_action(&self, ctx: &Ctx) -> Action {
        action_of(ctx.route.endpoint, ctx.route.query.has("versionId"))
    }

    /// The request's bucket, if the caller may perform the request's action on it. For
    /// operations on an existing object's data or ACL use `object_access` instead: their
    /// decision needs the object.
    pub(crate) fn authorized_bucket(&self, ctx: &Ctx) -> S3Result<BucketRecord> {
        let bucket = self.engine.bucket(ctx.bucket_name())?;
        self.check_expected_owner(ctx, "x-amz-expected-bucket-owner", &bucket)?;
        let action = self.request_action(ctx);
        if matches!(action.acl, AclCheck::Object(_)) {
            return Err(S3Error::internal(format!(
                "{} needs the object for its access decision",
                ctx.route.endpoint.name()
            )));
        }
        if !self.decide_for(ctx, &bucket, action, ctx.route.key.as_deref(), None)? {
            return Err(S3Error::new(ErrorCode::AccessDenied));
        }
        Ok(bucket)
    }

    /// For reads of an object (data, attributes, ACL): the bucket, after the checks that need no
    /// object. The caller then looks the object up and calls `check_object` or `missing_object`.
    pub(crate) fn object_access(&self, ctx: &Ctx) -> S3Result<BucketRecord> {
        let bucket = self.engine.bucket(ctx.bucket_name())?;
        self.check_expected_owner(ctx, "x-amz-expected-bucket-owner", &bucket)?;
        Ok(bucket)
    }

    /// The request's object version (`versionId` or the latest) and its bucket, if the caller
    /// may perform the request's object action on it; a missing object as `missing_object` says.
    pub(crate) fn authorized_object(&self, ctx: &Ctx) -> S3Result<(BucketRecord, ObjectHandle)> {
        let bucket = self.object_access(ctx)?;
        let handle = self
            .engine
            .lookup(&bucket.name, ctx.key(), ctx.route.query.get("versionId"))
            .map_err(|e| self.missing_object(ctx, &bucket, e))?;
        self.check_object(ctx, &bucket, &handle.version)?;
        Ok((bucket, handle))
    }

    /// May the caller perform the request's object action on this version?
    pub(crate) fn check_object(&self, ctx: &Ctx, bucket: &BucketRecord, version: &ObjectVersion) -> S3Result<()> {
        let action = self.request_action(ctx);
        if self.decide_for(ctx, bucket, action, Some(ctx.key()), Some(version))? {
            Ok(())
        } else {
            Err(S3Error::new(ErrorCode::AccessDenied))
        }
    }

    /// A lookup failed: S3 tells a caller that the object does not exist only if the caller
    /// could have listed it (s3:ListBucket with `s3:prefix` = the key); anyone else learns
    /// nothing but AccessDenied.
    pub(crate) fn missing_object(&self, ctx: &Ctx, bucket: &BucketRecord, err: S3Error) -> S3Error {
        self.missing_key(ctx, bucket, ctx.key(), err)
    }

    /// As `missing_object`, for any key (a copy's source).
    pub(crate) fn missing_key(&self, ctx: &Ctx, bucket: &BucketRecord, key: &str, err: S3Error) -> S3Error {
        if !matches!(
            err.code,
            ErrorCode::NoSuchKey | ErrorCode::NoSuchVersion | ErrorCode::MethodNotAllowed
        ) {
            return err;
        }
        let list = action_of(Endpoint::ListObjects, false);
        let may_list = match self.policy_of(bucket) {
            Ok(policy) => {
                let mut context = match &policy {
                    Some(p) => self.condition_context(ctx, None, p),
                    None => ConditionContext::new(),
                };
                context.set("s3:prefix", key);
                let resource = resource_arn(&bucket.name, None);
                decide(&AccessRequest {
                    principal: &ctx.principal,
                    bucket,
                    policy: policy.as_deref(),
                    action: list,
                    resource: &resource,
                    object: None,
                    context: &context,
                })
            }
            Err(e) => return e,
        };
        if may_list {
            err
        } else {
            S3Error::new(ErrorCode::AccessDenied)
        }
    }

    /// CopyObject and UploadPartCopy read their source: s3:GetObject(Version) on it, decided by
    /// the source bucket's policy and ACLs.
    pub(crate) fn source_bucket(&self, ctx: &Ctx, name: &str) -> S3Result<BucketRecord> {
        let bucket = self.engine.bucket(name)?;
        self.check_expected_owner(ctx, "x-amz-source-expected-bucket-owner", &bucket)?;
        Ok(bucket)
    }

    pub(crate) fn check_source(
        &self,
        ctx: &Ctx,
        bucket: &BucketRecord,
        version: &ObjectVersion,
        versioned: bool,
    ) -> S3Result<()> {
        let action = action_of(Endpoint::GetObject, versioned);
        if self.decide_for(ctx, bucket, action, Some(&version.key), Some(version))? {
            Ok(())
        } else {
            Err(S3Error::new(ErrorCode::AccessDenied))
        }
    }

    /// DeleteObjects decides key by key.
    pub(crate) fn may_delete(&self, ctx: &Ctx, bucket: &BucketRecord, key: &str, versioned: bool) -> S3Result<bool> {
        self.decide_for(
            ctx,
            bucket,
            action_of(Endpoint::DeleteObject, versioned),
            Some(key),
            None,
        )
    }
}

/// The request's value(s) of one condition key (lower-cased), if it has any.
fn condition_value(ctx: &Ctx, object: Option<&ObjectVersion>, key: &str) -> Option<Vec<String>> {
    let user = ctx.principal.user();
    let q = &ctx.route.query;
    let one = |v: &str| Some(vec![v.to_owned()]);
    match key {
        "aws:sourceip" => one(&ctx.client_ip.to_string()),
        "aws:securetransport" => one(if ctx.conn.tls { "true" } else { "false" }),
        "aws:currenttime" => {
            let now = time::OffsetDateTime::now_utc();
            one(&crate::format_iso8601((now.unix_timestamp_nanos() / 1_000_000) as i64))
        }
        "aws:epochtime" => one(&time::OffsetDateTime::now_utc().unix_timestamp().to_string()),
        "aws:useragent" => one(ctx.header("user-agent")?),
        "aws:referer" => one(ctx.header("referer")?),
        "aws:username" => one(&user?.name),
        // Every ksan user is an account of its own.
        "aws:principalaccount" => one(&user?.name),
        "aws:userid" => one(user.map_or("anonymous", |u| u.canonical_id.as_str())),
        "aws:principaltype" => one(if user.is_some() { "Account" } else { "Anonymous" }),
        "s3:signatureversion" => match ctx.signature {
            SignatureKind::Anonymous => None,
            SignatureKind::V2Header | SignatureKind::V2Query => one("AWS"),
            SignatureKind::V4Header | SignatureKind::V4Query => one("AWS4-HMAC-SHA256"),
        },
        "s3:authtype" => match ctx.signature {
            SignatureKind::Anonymous => None,
            SignatureKind::V2Header | SignatureKind::V4Header => one("REST-HEADER"),
            SignatureKind::V2Query | SignatureKind::V4Query => one("REST-QUERY-STRING"),
        },
        "s3:prefix" => one(q.get("prefix")?),
        "s3:delimiter" => one(q.get("delimiter")?),
        "s3:max-keys" => one(q.get("max-keys")?),
        "s3:versionid" => match (q.get("versionId"), object) {
            (Some(v), _) => one(v),
            (None, Some(v)) => one(v.version_id_str()),
            (None, None) => None,
        },
        "s3:requestobjecttagkeys" => Some(
            url_pairs(ctx.header("x-amz-tagging")?)
                .into_iter()
                .map(|(k, _)| k)
                .collect(),
        ),
        _ => {
            // Tag keys are compared without regard to case: condition keys are case-insensitive.
            if let Some(tag) = key.strip_prefix("s3:requestobjecttag/") {
                let pairs = url_pairs(ctx.header("x-amz-tagging")?);
                let (_, v) = pairs.into_iter().find(|(k, _)| k.eq_ignore_ascii_case(tag))?;
                return Some(vec![v]);
            }
            if let Some(tag) = key.strip_prefix("s3:existingobjecttag/") {
                let (_, v) = object?.tags.iter().find(|(k, _)| k.eq_ignore_ascii_case(tag))?;
                return one(v);
            }
            // s3:x-amz-acl, s3:x-amz-grant-*, s3:x-amz-copy-source, s3:x-amz-metadata-directive,
            // s3:x-amz-server-side-encryption, s3:x-amz-content-sha256, ...: the header's value.
            let header = key.strip_prefix("s3:").filter(|h| h.starts_with("x-amz-"))?;
            one(ctx.header(header)?)
        }
    }
}

/// `k1=v1&k2=v2`, URL-decoded (x-amz-tagging).
pub(crate) fn url_pairs(s: &str) -> Vec<(String, String)> {
    let decode = |p: &str| {
        percent_encoding::percent_decode_str(&p.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(p), String::new()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_for_only_from_trusted_proxies() {
        let proxy: IpAddr = "10.0.0.5".parse().unwrap();
        let stranger: IpAddr = "192.0.2.7".parse().unwrap();
        let trusted = vec![parse_network("10.0.0.0/8").unwrap()];
        // A client claiming an address in X-Forwarded-For gets its own address back.
        assert_eq!(client_ip(stranger, Some("10.1.1.1"), &trusted), stranger);
        assert_eq!(client_ip(stranger, Some("10.1.1.1"), &[]), stranger);
        // Behind a trusted proxy, the nearest untrusted hop counts, not what the client prepended.
        assert_eq!(
            client_ip(proxy, Some("1.2.3.4, 198.51.100.9, 10.0.0.6"), &trusted),
            "198.51.100.9".parse::<IpAddr>().unwrap()
        );
        assert_eq!(client_ip(proxy, None, &trusted), proxy);
    }

    #[test]
    fn networks() {
        assert!(in_network(
            "10.1.2.3".parse().unwrap(),
            parse_network("10.0.0.0/8").unwrap()
        ));
        assert!(!in_network(
            "11.1.2.3".parse().unwrap(),
            parse_network("10.0.0.0/8").unwrap()
        ));
        assert!(in_network("::1".parse().unwrap(), parse_network("::1").unwrap()));
        assert!(in_network(
            "2001:db8::1".parse().unwrap(),
            parse_network("2001:db8::/32").unwrap()
        ));
        assert!(in_network(
            "1.2.3.4".parse().unwrap(),
            parse_network("0.0.0.0/0").unwrap()
        ));
        assert!(parse_network("10.0.0.0/33").is_none());
        assert!(parse_network("bogus").is_none());
    }

    #[test]
    fn versioned_requests_are_version_actions() {
        assert_eq!(action_of(Endpoint::GetObject, true).name, "s3:GetObjectVersion");
        assert_eq!(action_of(Endpoint::GetObject, false).name, "s3:GetObject");
        assert_eq!(action_of(Endpoint::DeleteObject, true).name, "s3:DeleteObjectVersion");
        assert_eq!(action_of(Endpoint::PutBucketPolicy, false).acl, AclCheck::PolicyAdmin);
    }
}
