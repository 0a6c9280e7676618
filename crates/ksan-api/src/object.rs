//! Object operations: PutObject, GetObject, HeadObject, DeleteObject, CopyObject.

use http::{Response, StatusCode};
use ksan_engine::ObjectVersion;
use ksan_engine::multipart::{part_range, parts_of};
use ksan_engine::objects::PutObjectRequest;
use ksan_engine::records::{DataLocation, NewObject, Versioning};
use ksan_proto::ResponseBody;
use ksan_proto::router::ObjectRead;
use ksan_proto::xml::XmlWriter;
use ksan_types::{Directive, ErrorCode, S3Error, S3Result, VersionId};
use percent_encoding::percent_decode_str;

use crate::headers::{self, Precondition, format_iso8601, object_headers};
use crate::{Ctx, HandlerResult, S3Api, xml_response};

/// `x-amz-copy-source`: `[/]bucket/key[?versionId=v]`, URL-encoded.
pub(crate) struct CopySource {
    pub bucket: String,
    pub key: String,
    pub version: Option<VersionId>,
}

impl S3Api {
    pub(crate) async fn put_object(&self, ctx: &Ctx) -> HandlerResult {
        let bucket = self.authorized_bucket(ctx).await?;
        let body = headers::body_checks(&ctx.headers, &ctx.trailers)?;
        let object = self.new_object(ctx, &bucket).await?;
        if !object.lock.is_empty() && body.content_md5.is_none() && body.checksum.is_none() {
            return Err(S3Error::new(ErrorCode::InvalidRequest).msg(
                "Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object requests with Object Lock parameters",
            ));
        }
        let req = PutObjectRequest {
            bucket: bucket.name().to_owned(),
            key: ctx.key().to_owned(),
            object,
            body,
            conditions: headers::write_conditions(&ctx.headers),
            sse: self.write_request(ctx)?,
        };
        let echo_checksum = req.body.checksum.is_some();
        let v = match self.replica_identity(ctx)? {
            Some(identity) => self.engine.put_replica(req, identity, ctx.take_body()).await?,
            None => self.engine.put_object(req, ctx.take_body()).await?,
        };
        let mut b = Response::builder()
            .status(StatusCode::OK)
            .header(http::header::ETAG, v.quoted_etag());
        b = crate::sse::response_headers(b, v.sse.as_ref());
        if let Some(vid) = &v.version_id {
            b = b.header("x-amz-version-id", vid.as_str());
        }
        if echo_checksum && let Some(c) = &v.checksum {
            // A single PUT's checksum is always of the whole object.
            b = b
                .header(c.algorithm.header_name(), c.value.as_str())
                .header("x-amz-checksum-type", "FULL_OBJECT");
        }
        let mut resp = b.body(ResponseBody::empty()).map_err(S3Error::internal)?;
        crate::lifecycle::set_expiration_header(&mut resp, &self.engine, &bucket, &v);
        Ok(resp)
    }

    /// What a new object gets from the request: owner and ACL (by the bucket's Object
    /// Ownership), content headers, user metadata, storage class, tags.
    pub(crate) async fn new_object(&self, ctx: &Ctx, bucket: &ksan_engine::BucketState) -> S3Result<NewObject> {
        let h = &ctx.headers;
        headers::check_website_redirect(h)?;
        let ownership = self.new_object_ownership(ctx, bucket).await?;
        Ok(NewObject {
            owner: ownership.owner,
            owner_display_name: ownership.owner_display_name,
            headers: headers::content_headers(h),
            user_meta: headers::user_metadata(h)?,
            storage_class: headers::storage_class(h)?,
            acl: ownership.acl,
            tags: crate::tagging::from_header(ctx)?,
            // Set by the engine from the request's encryption (or the bucket's default).
            sse: None,
            lock: crate::lock::from_headers(ctx)?,
        })
    }

    pub(crate) async fn get_object(&self, ctx: &Ctx, read: &ObjectRead, head: bool) -> HandlerResult {
        let (bucket, handle) = self.authorized_object(ctx).await?;
        let customer = self.read_key(ctx, true)?;
        let v = &handle.version;
        let versioned = bucket.record.versioning != Versioning::Unversioned;
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
        let range = match read.part_number {
            Some(n) => match handle.manifest() {
                Some(m) => {
                    part_checksum = parts_of(m).into_iter().find(|p| p.0 == n).and_then(|p| p.2);
                    Some(part_range(m, n).ok_or_else(|| S3Error::new(ErrorCode::InvalidPart))?)
                }
                // A simple upload is its own single part.
                None if n == 1 => None,
                None => return Err(S3Error::new(ErrorCode::InvalidPart)),
            },
            None => ksan_proto::range::parse_range(ctx.header("range"), v.size)?,
        };
        // The SSE-C key is checked once the request is known to be well-formed (a part number
        // out of range is InvalidPart first, as S3 answers).
        let handle = handle.with_customer_key(customer.as_ref())?;
        let v = &handle.version;
        let (offset, len) = range.unwrap_or((0, v.size));
        let mut b = object_headers(Response::builder(), v, versioned)
            .header(http::header::ACCEPT_RANGES, "bytes")
            .header(http::header::CONTENT_LENGTH, len);
        let kind = v.checksum_type.map_or("FULL_OBJECT", |t| t.as_str());
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
                b = b
                    .header(c.algorithm.header_name(), c.value.as_str())
                    .header("x-amz-checksum-type", kind);
            }
        }
        if read.part_number.is_some() {
            b = b.header("x-amz-mp-parts-count", parts_count);
            // A part read answers with that part's own checksum.
            if let Some(c) = &part_checksum {
                b = b
                    .header(c.algorithm.header_name(), c.value.as_str())
                    .header("x-amz-checksum-type", kind);
            }
        }
        let body = if head || len == 0 {
            ResponseBody::empty()
        } else if range.is_none() {
            // A whole object is checked against its digests as it streams.
            ResponseBody::stream(self.engine.read_verified(bucket.name(), &handle).await?, Some(len))
        } else {
            ResponseBody::stream(self.engine.read(&handle, offset, len).await?, Some(len))
        };
        let mut resp = b.body(body).map_err(S3Error::internal)?;
        // response-* parameters replace the stored headers.
        for (header, value) in &read.overrides {
            if let Ok(v) = http::HeaderValue::from_str(value) {
                resp.headers_mut().insert(header, v);
            }
        }
        if read.version.is_none() {
            // The current version: what the rules will do to it.
            crate::lifecycle::set_expiration_header(&mut resp, &self.engine, &bucket, &handle.version);
        }
        Ok(resp)
    }

    /// The identity a replica from another ksan carries (`x-ksan-replica`): only the root
    /// user may send it (403 AccessDenied for anyone else).
    pub(crate) fn replica_identity(&self, ctx: &Ctx) -> S3Result<Option<ksan_engine::targets::ReplicaIdentity>> {
        let Some(header) = ctx.header("x-ksan-replica") else {
            return Ok(None);
        };
        if !ctx.principal.user().is_some_and(|u| u.root) {
            return Err(S3Error::new(ErrorCode::AccessDenied)
                .msg("x-ksan-replica is for replication from another ksan, with this server's root credentials"));
        }
        ksan_engine::targets::ReplicaIdentity::parse(header, ctx.header("x-ksan-replica-etag")).map(Some)
    }

    pub(crate) async fn delete_object(&self, ctx: &Ctx, version: Option<VersionId>) -> HandlerResult {
        let bucket = self.authorized_bucket(ctx).await?;
        let (owner, display) = ctx.owner();
        let out = match self.replica_identity(ctx)? {
            Some(_) if version.is_some() => {
                return Err(S3Error::new(ErrorCode::InvalidRequest).msg("a replica's delete marker has no versionId"));
            }
            Some(identity) => {
                let marker = self
                    .engine
                    .put_replica_marker(bucket.name(), ctx.key(), identity, (&owner, &display))
                    .await?;
                ksan_engine::objects::DeleteOutcome {
                    version_id: Some(marker.version_id_str().to_owned()),
                    delete_marker: true,
                }
            }
            None => {
                let bypass = self.bypasses_governance(ctx, &bucket);
                self.engine
                    .delete_object(bucket.name(), ctx.key(), version, (&owner, &display), bypass)
                    .await?
            }
        };
        let mut b = Response::builder().status(StatusCode::NO_CONTENT);
        if out.delete_marker {
            b = b.header("x-amz-delete-marker", "true");
        }
        if let Some(vid) = &out.version_id {
            b = b.header("x-amz-version-id", vid.as_str());
        }
        b.body(ResponseBody::empty()).map_err(S3Error::internal)
    }

    /// The copy source of CopyObject / UploadPartCopy, looked up and checked: the caller must
    /// be allowed to read it, and its copy-source conditions must hold.
    pub(crate) async fn copy_source(&self, ctx: &Ctx) -> S3Result<(CopySource, ksan_engine::objects::ObjectHandle)> {
        let src = parse_copy_source(ctx.header("x-amz-copy-source").unwrap_or_default())?;
        headers::check_key(&src.key)?;
        let src_bucket = self.source_bucket(ctx, &src.bucket).await?;
        let source = match self.engine.lookup(&src.bucket, &src.key, src.version).await {
            Ok(s) => s,
            Err(e) => return Err(self.missing_key(ctx, &src_bucket, &src.key, e)),
        };
        self.check_source(ctx, &src_bucket, &source.version, src.version.is_some())?;
        let source = source.with_customer_key(self.copy_source_key(ctx)?.as_ref())?;
        if let Precondition::NotModified =
            headers::read_conditions(&ctx.headers, &source.version, "x-amz-copy-source-")?
        {
            // A copy whose source "was not modified" fails rather than answering 304.
            return Err(S3Error::new(ErrorCode::PreconditionFailed));
        }
        Ok((src, source))
    }

    pub(crate) async fn copy_object(&self, ctx: &Ctx) -> HandlerResult {
        let bucket = self.authorized_bucket(ctx).await?;
        let (src, source) = self.copy_source(ctx).await?;
        let sv = &source.version;
        let h = &ctx.headers;
        let directive = |name: &'static str| headers::get(h, name).map(|d| Directive::parse(name, d)).transpose();
        let replace = directive("x-amz-metadata-directive")? == Some(Directive::Replace);
        let storage_class = headers::storage_class(h)?;
        let same_object = src.bucket == bucket.name() && src.key == ctx.key() && src.version.is_none();
        headers::check_website_redirect(h)?;
        let new_redirect = headers::get(h, "x-amz-website-redirect-location").is_some();
        let sse = self.write_request(ctx)?;
        if same_object && !replace && storage_class.is_none() && !new_redirect && sse.is_none() {
            return Err(S3Error::new(ErrorCode::InvalidRequest).msg(
                "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
            ));
        }
        let ownership = self.new_object_ownership(ctx, &bucket).await?;
        let tags = match directive("x-amz-tagging-directive")? {
            Some(Directive::Replace) => crate::tagging::from_header(ctx)?,
            _ => sv.tags.clone(),
        };
        let object = NewObject {
            owner: ownership.owner,
            owner_display_name: ownership.owner_display_name,
            headers: if replace {
                headers::content_headers(h)
            } else {
                // The redirect location is the object's own: never copied, set by the
                // request's header, as S3 does.
                ksan_engine::records::ContentHeaders {
                    website_redirect: headers::get(h, "x-amz-website-redirect-location").map(str::to_owned),
                    ..sv.headers.clone()
                }
            },
            user_meta: if replace {
                headers::user_metadata(h)?
            } else {
                sv.user_meta.clone()
            },
            storage_class: if replace {
                storage_class
            } else {
                storage_class.or(sv.storage_class)
            },
            acl: ownership.acl,
            tags,
            sse: None,
            lock: crate::lock::from_headers(ctx)?,
        };
        let v = self
            .engine
            .copy_object(
                &source,
                bucket.name(),
                ctx.key(),
                object,
                headers::write_conditions(h),
                headers::checksum_algorithm(h)?,
                sse.as_ref(),
            )
            .await?;
        let mut resp = copy_result(&v, src.version.map(|_| sv))?;
        crate::sse::add_response_headers(&mut resp, v.sse.as_ref());
        crate::lifecycle::set_expiration_header(&mut resp, &self.engine, &bucket, &v);
        Ok(resp)
    }
}

fn copy_result(v: &ObjectVersion, source_version: Option<&ObjectVersion>) -> HandlerResult {
    let mut w = XmlWriter::new();
    w.root("CopyObjectResult")
        .elem("LastModified", &format_iso8601(v.last_modified_ms))
        .elem("ETag", &v.quoted_etag());
    if let Some(c) = &v.checksum {
        w.elem(c.algorithm.xml_element(), &c.value)
            .elem("ChecksumType", v.checksum_type.map_or("FULL_OBJECT", |t| t.as_str()));
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
pub(crate) fn parse_copy_source(raw: &str) -> S3Result<CopySource> {
    let invalid = || S3Error::invalid_argument("Invalid copy source", "x-amz-copy-source", raw.to_owned());
    let (path, version) = match raw.split_once("?versionId=") {
        Some((p, v)) => (p, Some(VersionId::parse(v)?)),
        None => (raw, None),
    };
    let decoded = percent_decode_str(path).decode_utf8().map_err(|_| invalid())?;
    let decoded = decoded.strip_prefix('/').unwrap_or(&decoded);
    let (bucket, key) = decoded.split_once('/').ok_or_else(invalid)?;
    if bucket.is_empty() || key.is_empty() {
        return Err(invalid());
    }
    Ok(CopySource {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        version,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_sources() {
        let s = parse_copy_source("/b/a%20b/c").unwrap();
        assert_eq!((s.bucket.as_str(), s.key.as_str(), s.version), ("b", "a b/c", None));
        let s = parse_copy_source("b/k?versionId=null").unwrap();
        assert_eq!(
            (s.bucket.as_str(), s.key.as_str(), s.version),
            ("b", "k", Some(VersionId::Null))
        );
        assert!(parse_copy_source("b").is_err());
        assert!(parse_copy_source("/b/").is_err());
        assert!(parse_copy_source("b/k?versionId=bogus").is_err());
    }
}
