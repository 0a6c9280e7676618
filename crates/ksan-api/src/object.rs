//! Object operations: PutObject, GetObject, HeadObject, DeleteObject, CopyObject.

use http::{Response, StatusCode};
use ksan_engine::ObjectVersion;
use ksan_engine::multipart::part_range;
use ksan_engine::objects::{MAX_PUT_SIZE, NewObject, PutObjectRequest, WriteConditions};
use ksan_engine::records::{DataLocation, Versioning};
use ksan_proto::ResponseBody;
use ksan_proto::xml::XmlWriter;
use ksan_types::{ErrorCode, S3Error, S3Result};
use percent_encoding::percent_decode_str;

use crate::headers::{self, Precondition, format_iso8601, object_headers};
use crate::{Ctx, HandlerResult, S3Api, xml_response};

/// `response-*` query parameters that override headers of a GET.
const RESPONSE_OVERRIDES: [(&str, http::HeaderName); 6] = [
    ("response-content-type", http::header::CONTENT_TYPE),
    ("response-content-language", http::header::CONTENT_LANGUAGE),
    ("response-expires", http::header::EXPIRES),
    ("response-cache-control", http::header::CACHE_CONTROL),
    ("response-content-disposition", http::header::CONTENT_DISPOSITION),
    ("response-content-encoding", http::header::CONTENT_ENCODING),
];

impl S3Api {
    pub(crate) async fn put_object(&self, ctx: &Ctx) -> HandlerResult {
        let bucket = self.authorized_bucket(ctx)?;
        headers::refuse_unimplemented(&ctx.headers)?;
        let h = &ctx.headers;
        let declared_len = match headers::header_u64(h, "x-amz-decoded-content-length")? {
            Some(len) => Some(len),
            None => headers::header_u64(h, "content-length")?,
        };
        if declared_len.is_some_and(|l| l > MAX_PUT_SIZE) {
            return Err(S3Error::new(ErrorCode::EntityTooLarge)
                .with("ProposedSize", declared_len.unwrap_or_default().to_string())
                .with("MaxSizeAllowed", MAX_PUT_SIZE.to_string()));
        }
        if declared_len.is_none() && headers::get(h, "transfer-encoding").is_none() {
            return Err(S3Error::new(ErrorCode::MissingContentLength));
        }
        let ownership = self.new_object_ownership(ctx, &bucket)?;
        let req = PutObjectRequest {
            bucket: bucket.name.clone(),
            key: ctx.key().to_owned(),
            object: NewObject {
                owner: ownership.owner,
                owner_display_name: ownership.owner_display_name,
                headers: headers::content_headers(h),
                user_meta: headers::user_metadata(h)?,
                storage_class: headers::storage_class(h)?,
                acl: ownership.acl,
                tags: crate::tagging::from_header(ctx)?,
            },
            content_length: declared_len,
            content_md5: headers::content_md5(h)?,
            checksum: headers::checksum_request(h)?,
            trailers: ctx.trailers.clone(),
            conditions: headers::write_conditions(h),
        };
        let echo_checksum = req.checksum.is_some();
        let body = ctx.take_body();
        let v = self.engine.put_object(req, body).await?;
        let mut b = Response::builder()
            .status(StatusCode::OK)
            .header(http::header::ETAG, v.quoted_etag());
        if let Some(vid) = &v.version_id {
            b = b.header("x-amz-version-id", vid.as_str());
        }
        if echo_checksum && let Some(c) = &v.checksum {
            b = b.header(c.algorithm.header_name(), c.value.as_str());
        }
        b.body(ResponseBody::empty()).map_err(S3Error::internal)
    }

    pub(crate) async fn get_object(&self, ctx: &Ctx, head: bool) -> HandlerResult {
        let (bucket, handle) = self.authorized_object(ctx)?;
        headers::refuse_unimplemented(&ctx.headers)?;
        let q = &ctx.route.query;
        let v = &handle.version;
        let versioned = bucket.versioning != Versioning::Unversioned;
        if let Precondition::NotModified = headers::read_conditions(&ctx.headers, v, "")? {
            let b = Response::builder()
                .status(StatusCode::NOT_MODIFIED)
                .header(http::header::ETAG, v.quoted_etag())
                .header(
                    http::header::LAST_MODIFIED,
                    headers::format_http_date(v.last_modified_ms),
                );
            return b.body(ResponseBody::empty()).map_err(S3Error::internal);
        }
        let parts_count = match v.data {
            DataLocation::Manifest { parts } => parts,
            _ => 1,
        };
        let mut part_checksum = None;
        let range = match q.get("partNumber") {
            Some(pn) => {
                let n: u32 = pn.parse().ok().filter(|n| (1..=10000).contains(n)).ok_or_else(|| {
                    S3Error::invalid_argument(
                        "Part number must be an integer between 1 and 10000, inclusive",
                        "partNumber",
                        pn,
                    )
                })?;
                match handle.manifest() {
                    Some(m) => {
                        part_checksum = ksan_engine::multipart::parts_of(m)
                            .into_iter()
                            .find(|p| p.0 == n)
                            .and_then(|p| p.2);
                        Some(part_range(m, n).ok_or_else(|| S3Error::new(ErrorCode::InvalidPart))?)
                    }
                    // A simple upload is its own single part.
                    None if n == 1 => None,
                    None => return Err(S3Error::new(ErrorCode::InvalidPart)),
                }
            }
            None => headers::parse_range(ctx.header("range"), v.size)?,
        };
        let (offset, len) = range.unwrap_or((0, v.size));
        let mut b = object_headers(Response::builder(), v, versioned)
            .header(http::header::ACCEPT_RANGES, "bytes")
            .header(http::header::CONTENT_LENGTH, len);
        if let Some((start, l)) = range {
            b = b.status(StatusCode::PARTIAL_CONTENT).header(
                http::header::CONTENT_RANGE,
                format!("bytes {}-{}/{}", start, start + l - 1, v.size),
            );
        } else {
            b = b.status(StatusCode::OK);
            if ctx
                .header("x-amz-checksum-mode")
                .is_some_and(|m| m.eq_ignore_ascii_case("ENABLED"))
                && let Some(c) = &v.checksum
            {
                let kind = v.checksum_type.map_or("FULL_OBJECT", |t| t.as_str());
                b = b
                    .header(c.algorithm.header_name(), c.value.as_str())
                    .header("x-amz-checksum-type", kind);
            }
        }
        if q.has("partNumber") {
            b = b.header("x-amz-mp-parts-count", parts_count);
            // A part read answers with that part's own checksum.
            if let Some(c) = &part_checksum {
                let kind = v.checksum_type.map_or("FULL_OBJECT", |t| t.as_str());
                b = b
                    .header(c.algorithm.header_name(), c.value.as_str())
                    .header("x-amz-checksum-type", kind);
            }
        }
        let body = if head || len == 0 {
            ResponseBody::empty()
        } else {
            ResponseBody::stream(self.engine.read(&handle, offset, len).await?, Some(len))
        };
        let mut resp = b.body(body).map_err(S3Error::internal)?;
        // response-* parameters replace the stored headers.
        for (param, header) in &RESPONSE_OVERRIDES {
            if let Some(value) = q.get(param)
                && let Ok(v) = http::HeaderValue::from_str(value)
            {
                resp.headers_mut().insert(header, v);
            }
        }
        Ok(resp)
    }

    pub(crate) async fn delete_object(&self, ctx: &Ctx) -> HandlerResult {
        let bucket = self.authorized_bucket(ctx)?;
        let (owner, display) = ctx.owner();
        let out = self
            .engine
            .delete_object(
                &bucket.name,
                ctx.key(),
                ctx.route.query.get("versionId"),
                (&owner, &display),
            )
            .await?;
        let mut b = Response::builder().status(StatusCode::NO_CONTENT);
        if out.delete_marker {
            b = b.header("x-amz-delete-marker", "true");
        }
        if let Some(vid) = &out.version_id {
            b = b.header("x-amz-version-id", vid.as_str());
        }
        b.body(ResponseBody::empty()).map_err(S3Error::internal)
    }

    pub(crate) async fn copy_object(&self, ctx: &Ctx) -> HandlerResult {
        let bucket = self.authorized_bucket(ctx)?;
        headers::refuse_unimplemented(&ctx.headers)?;
        let (src_bucket, src_key, src_version) =
            parse_copy_source(ctx.header("x-amz-copy-source").unwrap_or_default())?;
        headers::check_key(&src_key)?;
        let src_bucket_record = self.source_bucket(ctx, &src_bucket)?;
        let source = self
            .engine
            .lookup(&src_bucket, &src_key, src_version.as_deref())
            .map_err(|e| self.missing_key(ctx, &src_bucket_record, &src_key, e))?;
        let sv = &source.version;
        self.check_source(ctx, &src_bucket_record, sv, src_version.is_some())?;
        if let Precondition::NotModified = headers::read_conditions(&ctx.headers, sv, "x-amz-copy-source-")? {
            // A copy whose source "was not modified" fails rather than answering 304.
            return Err(S3Error::new(ErrorCode::PreconditionFailed));
        }
        let h = &ctx.headers;
        let replace = match headers::get(h, "x-amz-metadata-directive") {
            None | Some("COPY") => false,
            Some("REPLACE") => true,
            Some(_) => {
                return Err(S3Error::invalid_argument(
                    "Unknown metadata directive.",
                    "x-amz-metadata-directive",
                    headers::get(h, "x-amz-metadata-directive").unwrap_or_default(),
                ));
            }
        };
        let storage_class = headers::storage_class(h)?;
        let same_object = src_bucket == bucket.name && src_key == ctx.key() && src_version.is_none();
        if same_object && !replace && storage_class.is_none() {
            return Err(S3Error::new(ErrorCode::InvalidRequest).msg(
                "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
            ));
        }
        let (headers_, user_meta) = if replace {
            (headers::content_headers(h), headers::user_metadata(h)?)
        } else {
            (sv.headers.clone(), sv.user_meta.clone())
        };
        let ownership = self.new_object_ownership(ctx, &bucket)?;
        let object = NewObject {
            owner: ownership.owner,
            owner_display_name: ownership.owner_display_name,
            headers: headers_,
            user_meta,
            storage_class: storage_class.or_else(|| if replace { None } else { sv.storage_class.clone() }),
            acl: ownership.acl,
            tags: match headers::get(h, "x-amz-tagging-directive") {
                None | Some("COPY") => sv.tags.clone(),
                Some("REPLACE") => crate::tagging::from_header(ctx)?,
                Some(other) => {
                    return Err(S3Error::invalid_argument(
                        "Unknown tagging directive.",
                        "x-amz-tagging-directive",
                        other,
                    ));
                }
            },
        };
        let conditions: WriteConditions = headers::write_conditions(h);
        let v = self
            .engine
            .copy_object(&source, &bucket.name, ctx.key(), object, conditions)
            .await?;
        copy_result(&v, src_version.as_deref().map(|_| sv))
    }
}

fn copy_result(v: &ObjectVersion, source_version: Option<&ObjectVersion>) -> HandlerResult {
    let mut w = XmlWriter::new();
    w.root("CopyObjectResult")
        .elem("LastModified", &format_iso8601(v.last_modified_ms))
        .elem("ETag", &v.quoted_etag());
    if let Some(c) = &v.checksum {
        w.elem(c.algorithm.xml_element(), &c.value);
    }
    w.close("CopyObjectResult");
    let mut resp = xml_response(w.finish())?;
    crate::set_version_header(&mut resp, v.version_id.as_deref());
    if let Some(src) = source_version
        && let Ok(val) = src.version_id_str().parse()
    {
        resp.headers_mut().insert("x-amz-copy-source-version-id", val);
    }
    Ok(resp)
}

/// `x-amz-copy-source`: `[/]bucket/key[?versionId=v]`, URL-encoded.
pub(crate) fn parse_copy_source(raw: &str) -> S3Result<(String, String, Option<String>)> {
    let invalid = || S3Error::invalid_argument("Invalid copy source", "x-amz-copy-source", raw.to_owned());
    let (path, version) = match raw.split_once("?versionId=") {
        Some((p, v)) => (p, Some(v.to_owned())),
        None => (raw, None),
    };
    let decoded = percent_decode_str(path).decode_utf8().map_err(|_| invalid())?;
    let decoded = decoded.strip_prefix('/').unwrap_or(&decoded);
    let (bucket, key) = decoded.split_once('/').ok_or_else(invalid)?;
    if bucket.is_empty() || key.is_empty() {
        return Err(invalid());
    }
    Ok((bucket.to_owned(), key.to_owned(), version))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_sources() {
        assert_eq!(
            parse_copy_source("/b/a%20b/c").unwrap(),
            ("b".into(), "a b/c".into(), None)
        );
        assert_eq!(
            parse_copy_source("b/k?versionId=123").unwrap(),
            ("b".into(), "k".into(), Some("123".into()))
        );
        assert!(parse_copy_source("b").is_err());
        assert!(parse_copy_source("/b/").is_err());
    }
}
