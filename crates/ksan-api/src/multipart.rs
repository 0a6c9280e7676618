//! Multipart operations: CreateMultipartUpload, UploadPart, UploadPartCopy,
//! CompleteMultipartUpload, AbortMultipartUpload, ListMultipartUploads, ListParts.

use http::{Response, StatusCode};
use ksan_engine::multipart::{CompletedPart, MAX_PART_NUMBER, UploadPartRequest, UploadsQuery};
use ksan_engine::objects::{MAX_PUT_SIZE, NewObject};
use ksan_engine::records::ChecksumType;
use ksan_proto::ResponseBody;
use ksan_proto::xml::{self, XmlWriter};
use ksan_types::{ChecksumAlgorithm, ErrorCode, S3Error, S3Result};

use crate::headers::{self, Precondition, format_iso8601};
use crate::list::{Encoder, max_keys};
use crate::object::parse_copy_source;
use crate::{Ctx, HandlerResult, S3Api, empty_response, read_small_body, xml_response};

fn upload_id(ctx: &Ctx) -> S3Result<&str> {
    ctx.route
        .query
        .get("uploadId")
        .filter(|u| !u.is_empty())
        .ok_or_else(|| S3Error::invalid_argument("This operation needs an upload id", "uploadId", ""))
}

fn part_number(ctx: &Ctx) -> S3Result<u32> {
    let raw = ctx.route.query.get("partNumber").unwrap_or_default();
    match raw.parse::<u32>() {
        Ok(n) if (1..=MAX_PART_NUMBER).contains(&n) => Ok(n),
        _ => Err(S3Error::invalid_argument(
            "Part number must be an integer between 1 and 10000, inclusive",
            "partNumber",
            raw,
        )),
    }
}

impl S3Api {
    pub(crate) async fn create_multipart_upload(&self, ctx: &Ctx) -> HandlerResult {
        let bucket = self.authorized_bucket(ctx)?;
        headers::refuse_unimplemented(&ctx.headers)?;
        let h = &ctx.headers;
        let ownership = self.new_object_ownership(ctx, &bucket)?;
        let algorithm = match headers::get(h, "x-amz-checksum-algorithm") {
            None => None,
            Some(a) => Some(a.parse::<ChecksumAlgorithm>().map_err(|_| {
                S3Error::new(ErrorCode::InvalidRequest).msg("Checksum algorithm provided is unsupported.")
            })?),
        };
        let checksum_type = match headers::get(h, "x-amz-checksum-type") {
            None => None,
            Some(t) if t.eq_ignore_ascii_case("COMPOSITE") => Some(ChecksumType::Composite),
            Some(t) if t.eq_ignore_ascii_case("FULL_OBJECT") => Some(ChecksumType::FullObject),
            Some(t) => {
                return Err(S3Error::invalid_argument(
                    "Invalid checksum type",
                    "x-amz-checksum-type",
                    t,
                ));
            }
        };
        let object = NewObject {
            owner: ownership.owner,
            owner_display_name: ownership.owner_display_name,
            headers: headers::content_headers(h),
            user_meta: headers::user_metadata(h)?,
            storage_class: headers::storage_class(h)?,
            acl: ownership.acl,
            tags: crate::tagging::from_header(ctx)?,
        };
        let upload = self
            .engine
            .create_upload(&bucket.name, ctx.key(), object, algorithm, checksum_type)
            .await?;
        let mut w = XmlWriter::new();
        w.root("InitiateMultipartUploadResult")
            .elem("Bucket", &bucket.name)
            .elem("Key", ctx.key())
            .elem("UploadId", &upload.upload_id)
            .close("InitiateMultipartUploadResult");
        let mut resp = xml_response(w.finish())?;
        if let Some(a) = upload.checksum_algorithm
            && let Ok(v) = a.as_str().parse()
        {
            resp.headers_mut().insert("x-amz-checksum-algorithm", v);
        }
        if let Some(t) = upload.checksum_type
            && let Ok(v) = t.as_str().parse()
        {
            resp.headers_mut().insert("x-amz-checksum-type", v);
        }
        Ok(resp)
    }

    pub(crate) async fn upload_part(&self, ctx: &Ctx) -> HandlerResult {
        let bucket = self.authorized_bucket(ctx)?;
        headers::refuse_unimplemented(&ctx.headers)?;
        let number = part_number(ctx)?;
        let upload_id = upload_id(ctx)?.to_owned();
        let h = &ctx.headers;
        let declared_len = match headers::header_u64(h, "x-amz-decoded-content-length")? {
            Some(len) => Some(len),
            None => headers::header_u64(h, "content-length")?,
        };
        if declared_len.is_some_and(|l| l > MAX_PUT_SIZE) {
            return Err(S3Error::new(ErrorCode::EntityTooLarge));
        }
        let req = UploadPartRequest {
            bucket: bucket.name.clone(),
            key: ctx.key().to_owned(),
            upload_id,
            part_number: number,
            content_length: declared_len,
            content_md5: headers::content_md5(h)?,
            checksum: headers::checksum_request(h)?,
            trailers: ctx.trailers.clone(),
        };
        let echo = req.checksum.is_some();
        let part = self.engine.upload_part(req, ctx.take_body()).await?;
        let mut b = Response::builder()
            .status(StatusCode::OK)
            .header(http::header::ETAG, format!("\"{}\"", part.etag));
        if echo && let Some(c) = &part.checksum {
            b = b.header(c.algorithm.header_name(), c.value.as_str());
        }
        b.body(ResponseBody::empty()).map_err(S3Error::internal)
    }

    pub(crate) async fn upload_part_copy(&self, ctx: &Ctx) -> HandlerResult {
        let bucket = self.authorized_bucket(ctx)?;
        headers::refuse_unimplemented(&ctx.headers)?;
        let number = part_number(ctx)?;
        let upload_id = upload_id(ctx)?;
        let (src_bucket, src_key, src_version) =
            parse_copy_source(ctx.header("x-amz-copy-source").unwrap_or_default())?;
        let src_bucket_record = self.source_bucket(ctx, &src_bucket)?;
        // The upload must exist before the source is looked at.
        self.engine.get_upload(&bucket.name, ctx.key(), upload_id)?;
        let source = self
            .engine
            .lookup(&src_bucket, &src_key, src_version.as_deref())
            .map_err(|e| self.missing_key(ctx, &src_bucket_record, &src_key, e))?;
        self.check_source(ctx, &src_bucket_record, &source.version, src_version.is_some())?;
        if let Precondition::NotModified =
            headers::read_conditions(&ctx.headers, &source.version, "x-amz-copy-source-")?
        {
            return Err(S3Error::new(ErrorCode::PreconditionFailed));
        }
        let size = source.version.size;
        let range = match ctx.header("x-amz-copy-source-range") {
            None => (0, size),
            Some(r) => parse_copy_range(r, size)?,
        };
        let part = self
            .engine
            .upload_part_copy(&bucket.name, ctx.key(), upload_id, number, &source, range)
            .await?;
        let mut w = XmlWriter::new();
        w.root("CopyPartResult")
            .elem("LastModified", &format_iso8601(part.last_modified_ms))
            .elem("ETag", &format!("\"{}\"", part.etag));
        if let Some(c) = &part.checksum {
            w.elem(c.algorithm.xml_element(), &c.value);
        }
        w.close("CopyPartResult");
        let mut resp = xml_response(w.finish())?;
        if src_version.is_some()
            && let Ok(v) = source.version.version_id_str().parse()
        {
            resp.headers_mut().insert("x-amz-copy-source-version-id", v);
        }
        Ok(resp)
    }

    pub(crate) async fn complete_multipart_upload(&self, ctx: &Ctx) -> HandlerResult {
        let bucket = self.authorized_bucket(ctx)?;
        let upload_id = upload_id(ctx)?.to_owned();
        let body = read_small_body(ctx, 4 * 1024 * 1024).await?;
        // The upload must exist (or have been completed already); an empty or broken document
        // is MalformedXML after that.
        self.engine
            .check_upload_or_completed(&bucket.name, ctx.key(), &upload_id)?;
        let doc = xml::parse(&body)?;
        if doc.name != "CompleteMultipartUpload" {
            return Err(S3Error::new(ErrorCode::MalformedXML));
        }
        // A whole-object checksum header must match what the parts add up to.
        let expected = ChecksumAlgorithm::ALL
            .into_iter()
            .find_map(|a| ctx.header(a.header_name()).map(|v| (a, v.trim().to_owned())));
        let mut parts = Vec::new();
        for p in doc.children_named("Part") {
            let number = p
                .child_text("PartNumber")
                .and_then(|n| n.trim().parse::<u32>().ok())
                .ok_or_else(|| S3Error::new(ErrorCode::MalformedXML))?;
            let etag = p.child_text("ETag").unwrap_or_default().to_owned();
            let checksum = ChecksumAlgorithm::ALL
                .into_iter()
                .find_map(|a| p.child_text(a.xml_element()).map(|v| (a, v.trim().to_owned())));
            parts.push(CompletedPart {
                part_number: number,
                etag,
                checksum,
            });
        }
        let v = self
            .engine
            .complete_upload_checked(
                &bucket.name,
                ctx.key(),
                &upload_id,
                parts,
                headers::write_conditions(&ctx.headers),
                expected,
            )
            .await?;
        let mut w = XmlWriter::new();
        w.root("CompleteMultipartUploadResult")
            .elem("Location", &format!("/{}/{}", bucket.name, ctx.key()))
            .elem("Bucket", &bucket.name)
            .elem("Key", ctx.key())
            .elem("ETag", &v.quoted_etag());
        if let Some(c) = &v.checksum {
            w.elem(c.algorithm.xml_element(), &c.value);
            w.elem("ChecksumType", v.checksum_type.map_or("FULL_OBJECT", |t| t.as_str()));
        }
        w.close("CompleteMultipartUploadResult");
        let mut resp = xml_response(w.finish())?;
        crate::set_version_header(&mut resp, v.version_id.as_deref());
        Ok(resp)
    }

    pub(crate) async fn abort_multipart_upload(&self, ctx: &Ctx) -> HandlerResult {
        let bucket = self.authorized_bucket(ctx)?;
        self.engine
            .abort_upload(&bucket.name, ctx.key(), upload_id(ctx)?)
            .await?;
        empty_response(StatusCode::NO_CONTENT)
    }

    pub(crate) fn list_parts(&self, ctx: &Ctx) -> HandlerResult {
        let bucket = self.authorized_bucket(ctx)?;
        let q = &ctx.route.query;
        let marker = match q.get("part-number-marker").filter(|m| !m.is_empty()) {
            None => 0,
            Some(m) => m
                .parse::<u32>()
                .map_err(|_| S3Error::invalid_argument("Invalid part number marker", "part-number-marker", m))?,
        };
        let max_parts = max_keys(q, "max-parts")?;
        let page = self
            .engine
            .list_parts(&bucket.name, ctx.key(), upload_id(ctx)?, marker, max_parts)?;
        let up = &page.upload;
        let mut w = XmlWriter::new();
        w.root("ListPartsResult")
            .elem("Bucket", &bucket.name)
            .elem("Key", ctx.key())
            .elem("UploadId", &up.upload_id);
        w.open("Initiator")
            .elem("ID", &up.owner)
            .elem("DisplayName", &up.owner_display_name)
            .close("Initiator");
        w.open("Owner")
            .elem("ID", &up.owner)
            .elem("DisplayName", &up.owner_display_name)
            .close("Owner");
        w.elem("StorageClass", up.storage_class.as_deref().unwrap_or("STANDARD"))
            .elem_display("PartNumberMarker", marker);
        if let Some(n) = page.next_part_number_marker {
            w.elem_display("NextPartNumberMarker", n);
        }
        w.elem_display("MaxParts", max_parts)
            .elem("IsTruncated", if page.truncated { "true" } else { "false" });
        if let Some(a) = up.checksum_algorithm {
            w.elem("ChecksumAlgorithm", a.as_str());
        }
        if let Some(t) = up.checksum_type {
            w.elem("ChecksumType", t.as_str());
        }
        for p in &page.parts {
            w.open("Part")
                .elem_display("PartNumber", p.part_number)
                .elem("LastModified", &format_iso8601(p.last_modified_ms))
                .elem("ETag", &format!("\"{}\"", p.etag))
                .elem_display("Size", p.size);
            if let Some(c) = &p.checksum {
                w.elem(c.algorithm.xml_element(), &c.value);
            }
            w.close("Part");
        }
        w.close("ListPartsResult");
        xml_response(w.finish())
    }

    pub(crate) fn list_multipart_uploads(&self, ctx: &Ctx) -> HandlerResult {
        let bucket = self.authorized_bucket(ctx)?;
        let q = &ctx.route.query;
        let enc = Encoder::from_query(q)?;
        let query = UploadsQuery {
            prefix: q.get("prefix").unwrap_or_default().to_owned(),
            delimiter: q.get("delimiter").filter(|d| !d.is_empty()).map(str::to_owned),
            key_marker: q.get("key-marker").filter(|k| !k.is_empty()).map(str::to_owned),
            upload_id_marker: q.get("upload-id-marker").filter(|k| !k.is_empty()).map(str::to_owned),
            max_uploads: max_keys(q, "max-uploads")?,
        };
        let page = self.engine.list_uploads(&bucket.name, &query)?;
        let mut w = XmlWriter::new();
        w.root("ListMultipartUploadsResult")
            .elem("Bucket", &bucket.name)
            .elem("KeyMarker", &enc.enc(query.key_marker.as_deref().unwrap_or_default()))
            .elem("UploadIdMarker", query.upload_id_marker.as_deref().unwrap_or_default());
        if page.truncated {
            w.elem(
                "NextKeyMarker",
                &enc.enc(page.next_key_marker.as_deref().unwrap_or_default()),
            )
            .elem(
                "NextUploadIdMarker",
                page.next_upload_id_marker.as_deref().unwrap_or_default(),
            );
        }
        w.elem("Prefix", &enc.enc(&query.prefix));
        if let Some(d) = &query.delimiter {
            w.elem("Delimiter", &enc.enc(d));
        }
        w.elem_display("MaxUploads", query.max_uploads)
            .elem("IsTruncated", if page.truncated { "true" } else { "false" });
        enc.write_type(&mut w);
        for u in &page.uploads {
            w.open("Upload")
                .elem("Key", &enc.enc(&u.key))
                .elem("UploadId", &u.upload_id);
            w.open("Initiator")
                .elem("ID", &u.owner)
                .elem("DisplayName", &u.owner_display_name)
                .close("Initiator");
            w.open("Owner")
                .elem("ID", &u.owner)
                .elem("DisplayName", &u.owner_display_name)
                .close("Owner");
            w.elem("StorageClass", u.storage_class.as_deref().unwrap_or("STANDARD"))
                .elem("Initiated", &format_iso8601(u.initiated_ms));
            if let Some(a) = u.checksum_algorithm {
                w.elem("ChecksumAlgorithm", a.as_str());
            }
            w.close("Upload");
        }
        for p in &page.common_prefixes {
            w.open("CommonPrefixes")
                .elem("Prefix", &enc.enc(p))
                .close("CommonPrefixes");
        }
        w.close("ListMultipartUploadsResult");
        xml_response(w.finish())
    }
}

/// `x-amz-copy-source-range: bytes=first-last` (both required, within the source).
fn parse_copy_range(r: &str, size: u64) -> S3Result<(u64, u64)> {
    let invalid = || {
        S3Error::invalid_argument(
            "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy",
            "x-amz-copy-source-range",
            r,
        )
    };
    let spec = r.trim().strip_prefix("bytes=").ok_or_else(invalid)?;
    let (a, b) = spec.split_once('-').ok_or_else(invalid)?;
    let first: u64 = a.trim().parse().map_err(|_| invalid())?;
    let last: u64 = b.trim().parse().map_err(|_| invalid())?;
    if last < first {
        return Err(invalid());
    }
    if last >= size {
        return Err(S3Error::new(ErrorCode::InvalidRange)
            .msg("The requested range is not satisfiable")
            .with("RangeRequested", r.to_owned())
            .with("ActualObjectSize", size.to_string()));
    }
    Ok((first, last - first + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_ranges() {
        assert_eq!(parse_copy_range("bytes=0-9", 100).unwrap(), (0, 10));
        assert_eq!(parse_copy_range("bytes=5-5", 100).unwrap(), (5, 1));
        assert_eq!(
            parse_copy_range("bytes=0-100", 100).unwrap_err().code,
            ErrorCode::InvalidRange
        );
        assert_eq!(
            parse_copy_range("bytes=9-1", 100).unwrap_err().code,
            ErrorCode::InvalidArgument
        );
        assert_eq!(
            parse_copy_range("0-1", 100).unwrap_err().code,
            ErrorCode::InvalidArgument
        );
    }
}
