//! Bucket policy (Put/Get/DeleteBucketPolicy, GetBucketPolicyStatus), public access block
//! (Put/Get/DeletePublicAccessBlock) and Object Ownership controls.

use http::{Response, StatusCode};
use ksan_engine::access::acl::{Grant, ObjectOwnership, PublicAccessBlock, private};
use ksan_engine::access::policy::BucketPolicy;
use ksan_proto::ResponseBody;
use ksan_proto::xml::{self, XmlWriter};
use ksan_types::{ErrorCode, S3Error};

use crate::{Ctx, HandlerResult, S3Api, empty_response, read_small_body, xml_response};

/// S3's limit on a bucket policy's size.
const MAX_POLICY_BYTES: usize = 20 * 1024;

fn malformed_policy(msg: impl Into<String>) -> S3Error {
    S3Error::new(ErrorCode::MalformedPolicy).msg(msg.into())
}

impl S3Api {
    pub(crate) async fn put_bucket_policy(&self, ctx: &Ctx) -> HandlerResult {
        let bucket = self.authorized_bucket(ctx)?;
        let body = read_small_body(ctx, MAX_POLICY_BYTES + 1)
            .await
            .map_err(|e| match e.code {
                ErrorCode::MaxMessageLengthExceeded => malformed_policy("Policies must be less than 20 KB"),
                _ => e,
            })?;
        if body.len() > MAX_POLICY_BYTES {
            return Err(malformed_policy("Policies must be less than 20 KB"));
        }
        let text = std::str::from_utf8(&body)
            .map_err(|_| malformed_policy("Policies must be valid JSON and the first byte must be '{'"))?
            .to_owned();
        let parsed = BucketPolicy::parse(&text, &bucket.name).map_err(|e| malformed_policy(e.0))?;
        let block = bucket.public_access_block.unwrap_or_default();
        if block.block_public_policy && parsed.is_public() {
            return Err(S3Error::new(ErrorCode::AccessDenied));
        }
        self.engine
            .update_bucket(&bucket.name, move |b| {
                b.policy = Some(text);
                Ok(())
            })
            .await?;
        empty_response(StatusCode::NO_CONTENT)
    }

    pub(crate) fn get_bucket_policy(&self, ctx: &Ctx) -> HandlerResult {
        let bucket = self.authorized_bucket(ctx)?;
        let Some(policy) = bucket.policy else {
            return Err(S3Error::new(ErrorCode::NoSuchBucketPolicy).bucket(&bucket.name));
        };
        Response::builder()
            .status(StatusCode::OK)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(ResponseBody::full(policy))
            .map_err(S3Error::internal)
    }

    pub(crate) async fn delete_bucket_policy(&self, ctx: &Ctx) -> HandlerResult {
        let bucket = self.authorized_bucket(ctx)?;
        self.engine
            .update_bucket(&bucket.name, |b| {
                b.policy = None;
                Ok(())
            })
            .await?;
        empty_response(StatusCode::NO_CONTENT)
    }

    /// IsPublic: the policy is public by AWS's definition, or the bucket ACL grants to everyone
    /// or to every authenticated user (unless IgnorePublicAcls).
    pub(crate) fn get_bucket_policy_status(&self, ctx: &Ctx) -> HandlerResult {
        let bucket = self.authorized_bucket(ctx)?;
        let block = bucket.public_access_block.unwrap_or_default();
        let policy_public = self.policy_of(&bucket)?.is_some_and(|p| p.is_public());
        let acl_public = !block.ignore_public_acls
            && bucket.ownership != Some(ObjectOwnership::BucketOwnerEnforced)
            && bucket.acl.as_ref().is_some_and(|g| g.iter().any(Grant::is_public));
        let mut w = XmlWriter::new();
        w.root("PolicyStatus")
            .elem("IsPublic", if policy_public || acl_public { "true" } else { "false" })
            .close("PolicyStatus");
        xml_response(w.finish())
    }

    pub(crate) async fn put_public_access_block(&self, ctx: &Ctx) -> HandlerResult {
        let bucket = self.authorized_bucket(ctx)?;
        let body = read_small_body(ctx, 64 * 1024).await?;
        let doc = xml::parse(&body)?;
        if doc.name != "PublicAccessBlockConfiguration" {
            return Err(S3Error::new(ErrorCode::MalformedXML));
        }
        let flag = |name: &str| -> Result<bool, S3Error> {
            match doc.child_text(name) {
                None => Ok(false),
                Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
                Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
                Some(_) => Err(S3Error::new(ErrorCode::MalformedXML)),
            }
        };
        let config = PublicAccessBlock {
            block_public_acls: flag("BlockPublicAcls")?,
            ignore_public_acls: flag("IgnorePublicAcls")?,
            block_public_policy: flag("BlockPublicPolicy")?,
            restrict_public_buckets: flag("RestrictPublicBuckets")?,
        };
        self.engine
            .update_bucket(&bucket.name, move |b| {
                b.public_access_block = Some(config);
                Ok(())
            })
            .await?;
        empty_response(StatusCode::OK)
    }

    pub(crate) fn get_public_access_block(&self, ctx: &Ctx) -> HandlerResult {
        let bucket = self.authorized_bucket(ctx)?;
        let Some(c) = bucket.public_access_block else {
            return Err(S3Error::new(ErrorCode::NoSuchPublicAccessBlockConfiguration).bucket(&bucket.name));
        };
        let mut w = XmlWriter::new();
        w.root("PublicAccessBlockConfiguration")
            .elem_display("BlockPublicAcls", c.block_public_acls)
            .elem_display("IgnorePublicAcls", c.ignore_public_acls)
            .elem_display("BlockPublicPolicy", c.block_public_policy)
            .elem_display("RestrictPublicBuckets", c.restrict_public_buckets)
            .close("PublicAccessBlockConfiguration");
        xml_response(w.finish())
    }

    pub(crate) async fn delete_public_access_block(&self, ctx: &Ctx) -> HandlerResult {
        let bucket = self.authorized_bucket(ctx)?;
        self.engine
            .update_bucket(&bucket.name, |b| {
                b.public_access_block = None;
                Ok(())
            })
            .await?;
        empty_response(StatusCode::NO_CONTENT)
    }

    pub(crate) async fn put_bucket_ownership_controls(&self, ctx: &Ctx) -> HandlerResult {
        let bucket = self.authorized_bucket(ctx)?;
        let body = read_small_body(ctx, 64 * 1024).await?;
        let doc = xml::parse(&body)?;
        let rules: Vec<_> = doc.children_named("Rule").collect();
        if doc.name != "OwnershipControls" || rules.len() != 1 {
            return Err(S3Error::new(ErrorCode::MalformedXML));
        }
        let ownership = rules[0]
            .child_text("ObjectOwnership")
            .and_then(ObjectOwnership::parse)
            .ok_or_else(|| S3Error::new(ErrorCode::MalformedXML))?;
        self.engine
            .update_bucket(&bucket.name, move |b| {
                // ACLs cannot be switched off while the bucket ACL grants anyone but the owner.
                let owner_only = private((&b.owner, &b.owner_display_name));
                if ownership == ObjectOwnership::BucketOwnerEnforced && b.acl.as_ref().is_some_and(|g| *g != owner_only)
                {
                    return Err(S3Error::new(ErrorCode::InvalidBucketAclWithObjectOwnership));
                }
                b.ownership = Some(ownership);
                Ok(())
            })
            .await?;
        empty_response(StatusCode::OK)
    }

    pub(crate) fn get_bucket_ownership_controls(&self, ctx: &Ctx) -> HandlerResult {
        let bucket = self.authorized_bucket(ctx)?;
        let Some(ownership) = bucket.ownership else {
            return Err(S3Error::new(ErrorCode::OwnershipControlsNotFoundError).bucket(&bucket.name));
        };
        let mut w = XmlWriter::new();
        w.root("OwnershipControls")
            .open("Rule")
            .elem("ObjectOwnership", ownership.as_str())
            .close("Rule")
            .close("OwnershipControls");
        xml_response(w.finish())
    }

    pub(crate) async fn delete_bucket_ownership_controls(&self, ctx: &Ctx) -> HandlerResult {
        let bucket = self.authorized_bucket(ctx)?;
        self.engine
            .update_bucket(&bucket.name, |b| {
                b.ownership = None;
                Ok(())
            })
            .await?;
        empty_response(StatusCode::NO_CONTENT)
    }
}
