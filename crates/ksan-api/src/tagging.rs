//! Object tags: GetObjectTagging, PutObjectTagging, DeleteObjectTagging, and `x-amz-tagging`
//! on the writes that create objects. Bucket policies read them as `s3:ExistingObjectTag/<k>`.

use http::StatusCode;
use ksan_proto::documents::Tagging;
use ksan_types::{ErrorCode, S3Error, S3Result};

use crate::{CONFIG_BODY_LIMIT, Ctx, HandlerResult, S3Api, document_response, empty_response, read_document};

const MAX_TAGS: usize = 10;
const MAX_TAG_KEY: usize = 128;
const MAX_TAG_VALUE: usize = 256;

pub(crate) type Tags = Vec<(String, String)>;

fn invalid_tag(msg: &'static str) -> S3Error {
    S3Error::new(ErrorCode::InvalidTag).msg(msg)
}

/// S3's limits: at most 10 tags (BadRequest), keys 1..=128 and values up to 256 characters, keys unique.
/// Tags are kept sorted by key, the order S3 lists them in.
pub(crate) fn validate(tags: &mut Tags) -> S3Result<()> {
    if tags.len() > MAX_TAGS {
        // S3 answers this one BadRequest, not InvalidTag (ceph's s3-tests expect InvalidTag).
        return Err(S3Error::new(ErrorCode::BadRequest).msg("Object tags cannot be greater than 10"));
    }
    for (i, (k, v)) in tags.iter().enumerate() {
        if k.is_empty() || k.chars().count() > MAX_TAG_KEY {
            return Err(invalid_tag("The TagKey you have provided is invalid"));
        }
        if v.chars().count() > MAX_TAG_VALUE {
            return Err(invalid_tag("The TagValue you have provided is invalid"));
        }
        if tags[..i].iter().any(|(other, _)| other == k) {
            return Err(invalid_tag("Cannot provide multiple Tags with the same key"));
        }
    }
    tags.sort();
    Ok(())
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(n: usize) -> Tags {
        (0..n).map(|i| (i.to_string(), i.to_string())).collect()
    }

    #[test]
    fn limits() {
        assert!(validate(&mut tags(10)).is_ok());
        assert_eq!(validate(&mut tags(11)).unwrap_err().code, ErrorCode::BadRequest);
        assert!(validate(&mut vec![("k".repeat(128), "v".repeat(256))]).is_ok());
        assert!(validate(&mut vec![("k".repeat(129), String::new())]).is_err());
        assert!(validate(&mut vec![("k".into(), "v".repeat(257))]).is_err());
        assert!(validate(&mut vec![(String::new(), "v".into())]).is_err());
        assert!(validate(&mut vec![("a".into(), "1".into()), ("a".into(), "2".into())]).is_err());
        let mut t = vec![("foo".into(), "bar".into()), ("bar".into(), String::new())];
        validate(&mut t).unwrap();
        assert_eq!(t[0].0, "bar");
    }
}
