//! Multipart operations: CreateMultipartUpload, UploadPart, UploadPartCopy,
//! CompleteMultipartUpload, AbortMultipartUpload, ListMultipartUploads, ListParts.

use http::{Response, StatusCode};
use ksan_engine::multipart::{CompletedPart, UploadPartRequest, UploadsQuery};
use ksan_proto::ResponseBody;
use ksan_proto::documents::CompleteMultipartUpload;
use ksan_proto::router::{ListParams, PartRef};
use ksan_proto::xml::XmlWriter;
use ksan_types::{ChecksumAlgorithm, ChecksumType, ErrorCode, S3Error, S3Result};

use crate::headers::{self, format_iso8601};
use crate::list::Encoder;
use crate::{Ctx, HandlerResult, S3Api, empty_response, xml_response};

/// Largest CompleteMultipartUpload document (10,000 parts with checksums fit).
const COMPLETE_BODY_LIMIT: usize = 4 * 1024 * 1024;

impl S3Api {
    pub(crate) async fn create_multipart_upload(&self, ctx: &Ctx) -> HandlerResult {
        let bucket = self.authorized_bucket(ctx).await?;
        let h = &ctx.headers;
        let algorithm = headers::checksum_algorithm(h)?;
        let checksum_type = headers::get(h, "x-amz-checksum-type")
            .map(ChecksumType::parse)
            .transpose()?;
        let object = self.new_object(ctx, &bucket).await?;
        let sse = self.write_request(ctx)?;
        let upload = match self.replica_identity(ctx)? {
            Some(identity) => {
                self.engine
                    .create_replica_upload(bucket.name(), ctx.key(), object, sse.as_ref(), identity)
                    .await?
            }
            None => {
                self.engine
                    .create_upload(bucket.name(), ctx.key(), object, algorithm, checksum_type, sse.as_ref())
                    .await?
            }
        };
        let mut w = XmlWriter::new();
        w.root("InitiateMultipartUploadResult")
            .elem("Bucket", bucket.name())
            .elem("Key", ctx.key())
            .elem("UploadId", &upload.upload_id)
            .close("InitiateMultipartUploadResult");
        let mut resp = xml_response(w.finish())?;
        crate::sse::add_response_headers(&mut resp, upload.object.sse.as_ref());
        crate::lifecycle::set_abort_headers(&mut resp, &self.engine, &bucket, ctx.key(), upload.initiated_ms);
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

    pub(crate) async fn upload_part(&self, ctx: &Ctx, part: &PartRef) -> HandlerResult {
        let bucket = self.authorized_bucket(ctx).await?;
        let req = UploadPartRequest {
            bucket: bucket.name().to_owned(),
            key: ctx.key().to_owned(),
            upload_id: part.upload_id.clone(),
            part_number: part.part_number,
            body: headers::body_checks(&ctx.headers, &ctx.trailers)?,
            customer: self.read_key(ctx, false)?,
        };
        let echo = req.body.checksum.is_some();
        let upload = self
            .engine
            .get_upload(bucket.name(), ctx.key(), &part.upload_id)
            .await?;
        let part = self.engine.upload_part(req, ctx.take_body()).await?;
        let mut b = Response::builder()
            .status(StatusCode::OK)
            .header(http::header::ETAG, format!("\"{}\"", part.etag));
        b = crate::sse::response_headers(b, upload.object.sse.as_ref());
        if echo && let Some(c) = &part.checksum {
            b = b.header(c.algorithm.header_name(), c.value.as_str());
        }
        b.body(ResponseBody::empty()).map_err(S3Error::internal)
    }

    pub(crate) async fn upload_part_copy(&self, ctx: &Ctx, part: &PartRef) -> HandlerResult {
        let bucket = self.authorized_bucket(ctx).await?;
        // The upload must exist before the source is looked at.
        let upload = self
            .engine
            .get_upload(bucket.name(), ctx.key(), &part.upload_id)
            .await?;
        let customer = self.read_key(ctx, false)?;
        let (src, source) = self.copy_source(ctx).await?;
        let size = source.version.size;
        let range = match ctx.header("x-amz-copy-source-range") {
            None => (0, size),
            Some(r) => parse_copy_range(r, size)?,
        };
        let part = self
            .engine
            .upload_part_copy(
                bucket.name(),
                ctx.key(),
                &part.upload_id,
                part.part_number,
                &source,
                range,
                customer.as_ref(),
            )
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
        crate::sse::add_response_headers(&mut resp, upload.object.sse.as_ref());
        if src.version.is_some()
            && let Ok(v) = source.version.version_id_str().parse()
        {
            resp.headers_mut().insert("x-amz-copy-source-version-id", v);
        }
        Ok(resp)
    }

    pub(crate) async fn complete_multipart_upload(&self, ctx: &Ctx, upload_id: &str) -> HandlerResult {
        let bucket = self.authorized_bucket(ctx).await?;
        let body = crate::read_small_body(ctx, COMPLETE_BODY_LIMIT).await?;
        // The upload must exist (or have been completed already); an empty or broken document
        // is MalformedXML after that.
        self.engine
            .check_upload_or_completed(bucket.name(), ctx.key(), upload_id)
            .await?;
        let doc = <CompleteMultipartUpload as ksan_proto::documents::XmlDocument>::from_xml(&body)?;
        // A whole-object checksum header must match what the parts add up to.
        let expected = ChecksumAlgorithm::ALL
            .into_iter()
            .find_map(|a| ctx.header(a.header_name()).map(|v| (a, v.trim().to_owned())));
        let parts = doc
            .parts
            .into_iter()
            .map(|p| CompletedPart {
                part_number: p.part_number,
                etag: p.etag,
                checksum: p.checksum,
            })
            .collect();
        let v = self
            .engine
            .complete_upload_checked(
                bucket.name(),
                ctx.key(),
                upload_id,
                parts,
                headers::write_conditions(&ctx.headers),
                expected,
                self.read_key(ctx, false)?.as_ref(),
            )
            .await?;
        let mut w = XmlWriter::new();
        w.root("CompleteMultipartUploadResult")
            .elem("Location", &format!("/{}/{}", bucket.name(), ctx.key()))
            .elem("Bucket", bucket.name())
            .elem("Key", ctx.key())
            .elem("ETag", &v.quoted_etag());
        if let Some(c) = &v.checksum {
            w.elem(c.algorithm.xml_element(), &c.value);
            w.elem("ChecksumType", v.checksum_type.map_or("FULL_OBJECT", |t| t.as_str()));
        }
        w.close("CompleteMultipartUploadResult");
        let mut resp = xml_response(w.finish())?;
        crate::set_version_header(&mut resp, v.version_id.as_deref());
        crate::sse::add_response_headers(&mut resp, v.sse.as_ref());
        crate::lifecycle::set_expiration_header(&mut resp, &self.engine, &bucket, &v);
        Ok(resp)
    }

    pub(crate) async fn abort_multipart_upload(&self, ctx: &Ctx, upload_id: &str) -> HandlerResult {
        let bucket = self.authorized_bucket(ctx).await?;
        self.engine.abort_upload(bucket.name(), ctx.key(), upload_id).await?;
        empty_response(StatusCode::NO_CONTENT)
    }

    pub(crate) async fn list_parts(&self, ctx: &Ctx, upload_id: &str, marker: u32, max_parts: usize) -> HandlerResult {
        let bucket = self.authorized_bucket(ctx).await?;
        let page = self
            .engine
            .list_parts(bucket.name(), ctx.key(), upload_id, marker, max_parts)
            .await?;
        let up = &page.upload;
        let mut w = XmlWriter::new();
        w.root("ListPartsResult")
            .elem("Bucket", bucket.name())
            .elem("Key", ctx.key())
            .elem("UploadId", &up.upload_id);
        write_initiator_and_owner(&mut w, up);
        w.elem("StorageClass", storage_class(up))
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
        let mut resp = xml_response(w.finish())?;
        crate::lifecycle::set_abort_headers(&mut resp, &self.engine, &bucket, ctx.key(), up.initiated_ms);
        Ok(resp)
    }

    pub(crate) async fn list_multipart_uploads(
        &self,
        ctx: &Ctx,
        list: &ListParams,
        key_marker: Option<&str>,
        upload_id_marker: Option<&str>,
    ) -> HandlerResult {
        let bucket = self.authorized_bucket(ctx).await?;
        let enc = Encoder::new(list.url_encoding);
        let query = UploadsQuery {
            prefix: list.prefix().to_owned(),
            delimiter: list.delimiter.clone(),
            key_marker: key_marker.map(str::to_owned),
            upload_id_marker: upload_id_marker.map(str::to_owned),
            max_uploads: list.max,
        };
        let page = self.engine.list_uploads(bucket.name(), &query).await?;
        let mut w = XmlWriter::new();
        w.root("ListMultipartUploadsResult")
            .elem("Bucket", bucket.name())
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
            write_initiator_and_owner(&mut w, u);
            w.elem("StorageClass", storage_class(u))
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

/// An upload's initiator and owner (the same: ksan users are accounts).
fn write_initiator_and_owner(w: &mut XmlWriter, u: &ksan_engine::records::UploadRecord) {
    for element in ["Initiator", "Owner"] {
        w.open(element)
            .elem("ID", &u.object.owner)
            .elem("DisplayName", &u.object.owner_display_name)
            .close(element);
    }
}

fn storage_class(u: &ksan_engine::records::UploadRecord) -> &'static str {
    u.object.storage_class.map_or("STANDARD", |c| c.as_str())
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
