//! GetObjectAttributes: what HEAD tells, plus the parts of a multipart object, as XML.

use http::Response;
use ksan_engine::multipart::parts_of;
use ksan_engine::records::Versioning;
use ksan_proto::ResponseBody;
use ksan_proto::xml::XmlWriter;
use ksan_types::{ErrorCode, S3Error};

use crate::headers::format_http_date;
use crate::{Ctx, HandlerResult, S3Api};

const ATTRIBUTES: [&str; 5] = ["ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"];

impl S3Api {
    pub(crate) async fn get_object_attributes(&self, ctx: &Ctx, marker: u32, max_parts: usize) -> HandlerResult {
        // Clients send the list as one comma-separated header or as repeated headers.
        let wanted: Vec<&str> = ctx
            .headers
            .get_all("x-amz-object-attributes")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .collect();
        if wanted.is_empty() || wanted.iter().any(|a| !ATTRIBUTES.contains(a)) {
            return Err(S3Error::new(ErrorCode::InvalidArgument).msg("Invalid attribute name specified."));
        }
        let (bucket, handle) = self.authorized_object(ctx).await?;
        let handle = handle.with_customer_key(self.read_key(ctx, true)?.as_ref())?;
        let v = &handle.version;
        let has = |a: &str| wanted.contains(&a);
        let mut w = XmlWriter::new();
        w.root("GetObjectAttributesResponse");
        if has("ETag") {
            w.elem("ETag", &v.etag);
        }
        if has("Checksum")
            && let Some(c) = &v.checksum
        {
            w.open("Checksum")
                .elem(c.algorithm.xml_element(), &c.value)
                .elem("ChecksumType", v.checksum_type.map_or("FULL_OBJECT", |t| t.as_str()))
                .close("Checksum");
        }
        if has("ObjectParts")
            && let Some(manifest) = handle.manifest()
        {
            let parts = parts_of(manifest);
            let max = max_parts;
            let after: Vec<_> = parts.iter().filter(|p| p.0 > marker).collect();
            let page = &after[..after.len().min(max)];
            let truncated = after.len() > page.len();
            w.open("ObjectParts")
                .elem_display("PartsCount", parts.len())
                .elem_display("PartNumberMarker", marker);
            if let Some(last) = page.last() {
                w.elem_display("NextPartNumberMarker", last.0);
            }
            w.elem_display("MaxParts", max)
                .elem("IsTruncated", if truncated { "true" } else { "false" });
            for (number, size, checksum) in page {
                w.open("Part");
                if let Some(c) = checksum {
                    w.elem(c.algorithm.xml_element(), &c.value);
                }
                w.elem_display("PartNumber", number)
                    .elem_display("Size", size)
                    .close("Part");
            }
            w.close("ObjectParts");
        }
        if has("StorageClass") {
            w.elem("StorageClass", v.storage_class_str());
        }
        if has("ObjectSize") {
            w.elem_display("ObjectSize", v.size);
        }
        w.close("GetObjectAttributesResponse");
        let mut b = Response::builder()
            .header(http::header::CONTENT_TYPE, "application/xml")
            .header(http::header::LAST_MODIFIED, format_http_date(v.last_modified_ms));
        if bucket.record.versioning != Versioning::Unversioned || v.version_id.is_some() {
            b = b.header("x-amz-version-id", v.version_id_str());
        }
        b.body(ResponseBody::full(w.finish())).map_err(S3Error::internal)
    }
}
