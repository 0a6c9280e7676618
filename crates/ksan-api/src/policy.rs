//! Bucket policy (Put/Get/DeleteBucketPolicy, GetBucketPolicyStatus), public access block
//! (Put/Get/DeletePublicAccessBlock) and Object Ownership controls. Each is a bucket
//! configuration of the engine: put, get and delete are one engine call each, and S3's checks
//! (BlockPublicPolicy, ACLs under BucketOwnerEnforced) run in the engine's transaction.

use http::{Response, StatusCode};
use ksan_engine::BucketConfig;
use ksan_engine::access::acl::{Grant, PublicAccessBlock};
use ksan_engine::access::config::{OwnershipConfig, PolicyConfig, bucket_grants, ownership, public_access_block};
use ksan_proto::ResponseBody;
use ksan_proto::documents::{OwnershipControls, PublicAccessBlockConfiguration};
use ksan_proto::xml::XmlWriter;
use ksan_types::{ErrorCode, ObjectOwnership, S3Error};

use crate::{
    CONFIG_BODY_LIMIT, Ctx, HandlerResult, S3Api, document_response, empty_response, read_document, read_small_body,
    xml_response,
};

/// S3's limit on a bucket policy's size.
const MAX_POLICY_BYTES: usize = 20 * 1024;

fn malformed_policy(msg: impl Into<String>) -> S3Error {
    S3Error::new(ErrorCode::MalformedPolicy).msg(msg.into())
}

impl S3Api {
    pub(crate) async fn put_bucket_policy(&self, ctx: &Ctx) -> HandlerResult {
        let bucket = self.authorized_bucket(ctx).await?;
        let too_large = || malformed_policy("Policies must be less than 20 KB");
        let body = read_small_body(ctx, MAX_POLICY_BYTES + 1)
            .await
            .map_err(|e| match e.code {
                ErrorCode::MaxMessageLengthExceeded => too_large(),
                _ => e,
            })?;
        if body.len() > MAX_POLICY_BYTES {
            return Err(too_large());
        }
        let text = std::str::from_utf8(&body)
            .map_err(|_| malformed_policy("Policies must be valid JSON and the first byte must be '{'"))?
            .to_owned();
        let policy = PolicyConfig::parse(text, bucket.name())?;
        self.engine.put_config(bucket.name(), policy, false).await?;
        empty_response(StatusCode::NO_CONTENT)
    }

    pub(crate) async fn get_bucket_policy(&self, ctx: &Ctx) -> HandlerResult {
        let bucket = self.authorized_bucket(ctx).await?;
        let policy = bucket.require::<PolicyConfig>()?;
        Response::builder()
            .status(StatusCode::OK)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(ResponseBody::full(policy.text.clone()))
            .map_err(S3Error::internal)
    }

    /// DeleteBucketPolicy, DeletePublicAccessBlock, DeleteBucketOwnershipControls, ...: one
    /// engine call for every kind of configuration.
    pub(crate) async fn delete_configuration<T: BucketConfig>(&self, ctx: &Ctx) -> HandlerResult {
        let bucket = self.authorized_bucket(ctx).await?;
        self.engine.delete_config::<T>(bucket.name()).await?;
        empty_response(StatusCode::NO_CONTENT)
    }

    /// IsPublic: the policy is public by AWS's definition, or the bucket ACL grants to everyone
    /// or to every authenticated user (unless IgnorePublicAcls).
    pub(crate) async fn get_bucket_policy_status(&self, ctx: &Ctx) -> HandlerResult {
        let bucket = self.authorized_bucket(ctx).await?;
        let block = public_access_block(&bucket);
        let policy_public = crate::conditions::policy_of(&bucket).is_some_and(|p| p.is_public());
        let acl_public = !block.ignore_public_acls
            && ownership(&bucket) != Some(ObjectOwnership::BucketOwnerEnforced)
            && bucket_grants(&bucket).iter().any(Grant::is_public);
        let mut w = XmlWriter::new();
        w.root("PolicyStatus")
            .elem("IsPublic", if policy_public || acl_public { "true" } else { "false" })
            .close("PolicyStatus");
        xml_response(w.finish())
    }

    pub(crate) async fn put_public_access_block(&self, ctx: &Ctx) -> HandlerResult {
        let bucket = self.authorized_bucket(ctx).await?;
        let doc: PublicAccessBlockConfiguration = read_document(ctx, CONFIG_BODY_LIMIT).await?;
        let config = PublicAccessBlock {
            block_public_acls: doc.block_public_acls,
            ignore_public_acls: doc.ignore_public_acls,
            block_public_policy: doc.block_public_policy,
            restrict_public_buckets: doc.restrict_public_buckets,
        };
        self.engine.put_config(bucket.name(), config, false).await?;
        empty_response(StatusCode::OK)
    }

    pub(crate) async fn get_public_access_block(&self, ctx: &Ctx) -> HandlerResult {
        let bucket = self.authorized_bucket(ctx).await?;
        let c = bucket.require::<PublicAccessBlock>()?;
        document_response(&PublicAccessBlockConfiguration {
            block_public_acls: c.block_public_acls,
            ignore_public_acls: c.ignore_public_acls,
            block_public_policy: c.block_public_policy,
            restrict_public_buckets: c.restrict_public_buckets,
        })
    }

    pub(crate) async fn put_bucket_ownership_controls(&self, ctx: &Ctx) -> HandlerResult {
        let bucket = self.authorized_bucket(ctx).await?;
        let doc: OwnershipControls = read_document(ctx, CONFIG_BODY_LIMIT).await?;
        self.engine
            .put_config(bucket.name(), OwnershipConfig(doc.object_ownership), false)
            .await?;
        empty_response(StatusCode::OK)
    }

    pub(crate) async fn get_bucket_ownership_controls(&self, ctx: &Ctx) -> HandlerResult {
        let bucket = self.authorized_bucket(ctx).await?;
        let o = bucket.require::<OwnershipConfig>()?;
        document_response(&OwnershipControls { object_ownership: o.0 })
    }
}
