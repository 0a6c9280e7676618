//! Bucket operations: ListBuckets, CreateBucket, DeleteBucket, HeadBucket, GetBucketLocation.

use http::{Response, StatusCode};
use ksan_proto::ResponseBody;
use ksan_proto::documents::{CreateBucketConfiguration, XmlDocument};
use ksan_proto::xml::XmlWriter;
use ksan_types::{ErrorCode, S3Error};

use crate::headers::format_iso8601;
use crate::{CONFIG_BODY_LIMIT, Ctx, HandlerResult, S3Api, empty_response, read_small_body, xml_response};

impl S3Api {
    pub(crate) async fn list_buckets(
        &self,
        ctx: &Ctx,
        prefix: Option<&str>,
        max_buckets: Option<usize>,
        continuation_token: Option<&str>,
    ) -> HandlerResult {
        let user = self.require_user(ctx)?;
        let prefix_str = prefix.unwrap_or_default();
        let max = max_buckets.unwrap_or(usize::MAX);
        // The continuation token is the last name of the previous page.
        let after = continuation_token;
        let mut buckets: Vec<_> = self
            .engine
            .list_buckets(&user.canonical_id)
            .await?
            .into_iter()
            .filter(|b| b.name.starts_with(prefix_str) && after.is_none_or(|a| b.name.as_str() > a))
            .collect();
        let truncated = buckets.len() > max;
        buckets.truncate(max);
        let mut w = XmlWriter::new();
        w.root("ListAllMyBucketsResult");
        w.open("Owner")
            .elem("ID", &user.canonical_id)
            .elem("DisplayName", &user.display_name)
            .close("Owner");
        w.open("Buckets");
        for b in &buckets {
            w.open("Bucket")
                .elem("Name", &b.name)
                .elem("CreationDate", &format_iso8601(b.created_ms))
                .elem("BucketRegion", b.location.as_deref().unwrap_or(&self.config.region))
                .close("Bucket");
        }
        w.close("Buckets");
        if truncated && let Some(last) = buckets.last() {
            w.elem("ContinuationToken", &last.name);
        }
        if let Some(p) = prefix {
            w.elem("Prefix", p);
        }
        w.close("ListAllMyBucketsResult");
        xml_response(w.finish())
    }

    pub(crate) async fn create_bucket(&self, ctx: &Ctx) -> HandlerResult {
        let user = self.require_user(ctx)?.clone();
        let object_lock = ctx
            .header("x-amz-bucket-object-lock-enabled")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let body = read_small_body(ctx, CONFIG_BODY_LIMIT).await?;
        let mut location = None;
        if !body.iter().all(u8::is_ascii_whitespace) {
            location = CreateBucketConfiguration::from_xml(&body)?.location_constraint;
        }
        match location.as_deref() {
            None | Some("") => location = None,
            Some(lc) if lc == self.config.region => {}
            Some(lc) => {
                return Err(S3Error::new(ErrorCode::IllegalLocationConstraintException).msg(format!(
                    "The {lc} location constraint is incompatible for the region specific endpoint this request was sent to."
                )));
            }
        }
        let name = ctx.bucket_name().to_owned();
        let (acl, ownership) = self
            .new_bucket_acl(ctx, (&user.canonical_id, &user.display_name))
            .await?;
        let options = ksan_engine::buckets::NewBucket {
            location,
            acl,
            ownership,
            object_lock,
        };
        self.engine.create_bucket_with(&user, &name, options).await?;
        Response::builder()
            .status(StatusCode::OK)
            .header(http::header::LOCATION, format!("/{name}"))
            .body(ResponseBody::empty())
            .map_err(S3Error::internal)
    }

    pub(crate) async fn delete_bucket(&self, ctx: &Ctx) -> HandlerResult {
        let bucket = self.authorized_bucket(ctx).await?;
        self.engine.delete_bucket(bucket.name()).await?;
        empty_response(StatusCode::NO_CONTENT)
    }

    pub(crate) async fn head_bucket(&self, ctx: &Ctx) -> HandlerResult {
        let bucket = self.authorized_bucket(ctx).await?;
        Response::builder()
            .status(StatusCode::OK)
            .header(
                "x-amz-bucket-region",
                bucket.record.location.as_deref().unwrap_or(&self.config.region),
            )
            .body(ResponseBody::empty())
            .map_err(S3Error::internal)
    }

    pub(crate) async fn get_bucket_location(&self, ctx: &Ctx) -> HandlerResult {
        let bucket = self.authorized_bucket(ctx).await?;
        let mut w = XmlWriter::new();
        w.root("LocationConstraint");
        // us-east-1 buckets answer an empty constraint, as S3 does.
        if let Some(lc) = bucket.record.location.as_deref().filter(|l| *l != "us-east-1") {
            w.text(lc);
        }
        w.close("LocationConstraint");
        xml_response(w.finish())
    }
}
