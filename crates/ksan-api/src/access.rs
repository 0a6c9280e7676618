//! Where requests meet the access decision (`ksan_engine::access::decide`): which S3 action an
//! endpoint is, the request's condition keys, the bucket-owner expectation headers, and the
//! object-level checks that need the object first.

use std::net::IpAddr;
use std::sync::Arc;

use ksan_engine::access::acl::Permission;
use ksan_engine::access::policy::{BucketPolicy, ConditionContext};
use ksan_engine::access::{AccessRequest, AclCheck, Action, ObjectFacts, decide};
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

/// Parse `addr` or `addr/prefix` (IPv4 or IPv6).
pub fn parse_network(s: &str) -> Option<(IpAddr, u8)> {
    let (addr, prefix) = match s.split_once('/') {
        Some((a, p)) => (a.parse::<IpAddr>().ok()?, Some(p.parse::<u8>().ok()?)),
        None => (s.parse::<IpAddr>().ok()?, None),
    };
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = prefix.unwrap_or(max);
    (prefix <= max).then_some((addr, prefix))
}

fn in_network(ip: IpAddr, (net, prefix): (IpAddr, u8)) -> bool {
    let bits = |ip: IpAddr| -> (u128, u32) {
        match ip {
            IpAddr::V4(v4) => (u32::from(v4) as u128, 32),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => (u32::from(v4) as u128, 32),
                None => (u128::from(v6), 128),
            },
        }
    };
    let ((a, width_a), (b, width_b)) = (bits(ip), bits(net));
    if width_a != width_b {
        return false;
    }
    let shift = width_a - u32::from(prefix).min(width_a);
    shift >= width_a || (a >> shift) == (b >> shift)
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

    /// The request's condition keys, as the policy language names them.
    pub(crate) fn condition_context(&self, ctx: &Ctx, object: Option<&ObjectVersion>) -> ConditionContext {
        let mut c = ConditionContext::new();
        c.set("aws:SourceIp", ctx.client_ip.to_string());
        c.set("aws:SecureTransport", if ctx.conn.tls { "true" } else { "false" });
        let now = time::OffsetDateTime::now_utc();
        c.set(
            "aws:CurrentTime",
            crate::format_iso8601((now.unix_timestamp_nanos() / 1_000_000) as i64),
        );
        c.set("aws:EpochTime", now.unix_timestamp().to_string());
        if let Some(ua) = ctx.header("user-agent") {
            c.set("aws:UserAgent", ua);
        }
        if let Some(referer) = ctx.header("referer") {
            c.set("aws:Referer", referer);
        }
        match ctx.principal.user() {
            Some(u) => {
                c.set("aws:username", u.name.as_str());
                c.set("aws:userid", u.canonical_id.as_str());
                // Every ksan user is an account of its own.
                c.set("aws:PrincipalType", "Account");
                c.set("aws:PrincipalAccount", u.name.as_str());
            }
            None => {
                c.set("aws:userid", "anonymous");
                c.set("aws:PrincipalType", "Anonymous");
            }
        }
        let (sigver, auth_type) = match ctx.signature {
            SignatureKind::Anonymous => (None, None),
            SignatureKind::V2Header => (Some("AWS"), Some("REST-HEADER")),
            SignatureKind::V2Query => (Some("AWS"), Some("REST-QUERY-STRING")),
            SignatureKind::V4Header => (Some("AWS4-HMAC-SHA256"), Some("REST-HEADER")),
            SignatureKind::V4Query => (Some("AWS4-HMAC-SHA256"), Some("REST-QUERY-STRING")),
        };
        if let (Some(v), Some(t)) = (sigver, auth_type) {
            c.set("s3:signatureversion", v);
            c.set("s3:authType", t);
        }
        // Every x-amz-* header is a condition key of the same name (s3:x-amz-acl,
        // s3:x-amz-grant-read, s3:x-amz-copy-source, s3:x-amz-server-side-encryption, ...).
        for (name, value) in &ctx.headers {
            let name = name.as_str();
            if name.starts_with("x-amz-")
                && !name.starts_with("x-amz-meta-")
                && let Ok(v) = value.to_str()
            {
                c.set(&format!("s3:{name}"), v);
            }
        }
        let q = &ctx.route.query;
        for (param, key) in [
            ("prefix", "s3:prefix"),
            ("delimiter", "s3:delimiter"),
            ("max-keys", "s3:max-keys"),
            ("versionId", "s3:VersionId"),
        ] {
            if let Some(v) = q.get(param) {
                c.set(key, v);
            }
        }
        if let Some(tagging) = ctx.header("x-amz-tagging") {
            let mut keys = Vec::new();
            for (k, v) in url_pairs(tagging) {
                c.set(&format!("s3:RequestObjectTag/{k}"), v);
                keys.push(k);
            }
            c.set_all("s3:RequestObjectTagKeys", keys);
        }
        if let Some(v) = object {
            c.set("s3:VersionId", v.version_id_str());
            for (k, val) in &v.tags {
                c.set(&format!("s3:ExistingObjectTag/{k}"), val.as_str());
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
        let context = match policy {
            Some(_) => self.condition_context(ctx, object),
            None => ConditionContext::new(),
        };
        let resource = resource_arn(&bucket.name, key);
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
        if !matches!(
            err.code,
            ErrorCode::NoSuchKey | ErrorCode::NoSuchVersion | ErrorCode::MethodNotAllowed
        ) {
            return err;
        }
        let list = action_of(Endpoint::ListObjects, false);
        let may_list = match self.policy_of(bucket) {
            Ok(policy) => {
                let mut context = match policy {
                    Some(_) => self.condition_context(ctx, None),
                    None => ConditionContext::new(),
                };
                context.set("s3:prefix", ctx.key());
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
