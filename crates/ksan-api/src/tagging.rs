//! Object tags: GetObjectTagging, PutObjectTagging, DeleteObjectTagging, and `x-amz-tagging`
//! on the writes that create objects. Bucket policies read them as `s3:ExistingObjectTag/<k>`.

use http::StatusCode;
use ksan_proto::documents::Tagging;
use ksan_types::S3Result;

use crate::{CONFIG_BODY_LIMIT, Ctx, HandlerResult, S3Api, document_response, empty_response, read_document};

pub(crate) use ksan_engine::tags::Tags;
use ksan_engine::tags::validate_object_tags as validate;

/// `x-amz-tagging: k1=v1&k2=v2` (URL-encoded), validated.
pub(crate) fn from_header(ctx: &Ctx) -> S3Result<Tags> {
    let Some(raw) = ctx.header("x-amz-tagging") else {
        return Ok(Vec::new());
    };
    let mut tags = crate::conditions::url_pairs(raw);
    validate(&mut tags)?;
    Ok(tags)
}

impl S3Api {
    pub(crate) async fn get_object_tagging(&self, ctx: &Ctx) -> HandlerResult {
        let (_, handle) = self.authorized_object(ctx).await?;
        let v = &handle.version;
        let mut resp = document_response(&Tagging { tags: v.tags.clone() })?;
        crate::set_version_header(&mut resp, v.version_id.as_deref());
        Ok(resp)
    }

    pub(crate) async fn put_object_tagging(&self, ctx: &Ctx) -> HandlerResult {
        let (bucket, handle) = self.authorized_object(ctx).await?;
        let v = &handle.version;
        let mut tags = read_document::<Tagging>(ctx, CONFIG_BODY_LIMIT).await?.tags;
        validate(&mut tags)?;
        self.engine.set_object_tags(bucket.name(), v, tags).await?;
        version_response(StatusCode::OK, v.version_id.as_deref())
    }

    pub(crate) async fn delete_object_tagging(&self, ctx: &Ctx) -> HandlerResult {
        let (bucket, handle) = self.authorized_object(ctx).await?;
        let v = &handle.version;
        self.engine.set_object_tags(bucket.name(), v, Vec::new()).await?;
        version_response(StatusCode::NO_CONTENT, v.version_id.as_deref())
    }
}

fn version_response(status: StatusCode, version_id: Option<&str>) -> HandlerResult {
    let mut resp = empty_response(status)?;
    crate::set_version_header(&mut resp, version_id);
    Ok(resp)
}

impl S3Api {
    pub(crate) async fn put_bucket_tagging(&self, ctx: &Ctx) -> HandlerResult {
        let bucket = self.authorized_bucket(ctx).await?;
        let (doc, digest_sent) = crate::read_digested_document::<Tagging>(ctx, CONFIG_BODY_LIMIT).await?;
        let tags = ksan_engine::tags::BucketTags::new(doc.tags)?;
        self.engine.put_config(bucket.name(), tags, digest_sent).await?;
        empty_response(StatusCode::NO_CONTENT)
    }

    pub(crate) async fn get_bucket_tagging(&self, ctx: &Ctx) -> HandlerResult {
        let bucket = self.authorized_bucket(ctx).await?;
        let tags = bucket.require::<ksan_engine::tags::BucketTags>()?;
        document_response(&Tagging { tags: tags.0.clone() })
    }
}
