//! Versioning: PutBucketVersioning, GetBucketVersioning, ListObjectVersions.

use ksan_engine::list::VersionsQuery;
use ksan_engine::records::Versioning;
use ksan_proto::xml::{self, XmlWriter};
use ksan_types::{ErrorCode, S3Error};

use crate::headers::format_iso8601;
use crate::list::{Encoder, max_keys};
use crate::{Ctx, HandlerResult, S3Api, empty_response, read_small_body, xml_response};

impl S3Api {
    pub(crate) fn get_bucket_versioning(&self, ctx: &Ctx) -> HandlerResult {
        let bucket = self.authorized_bucket(ctx)?;
        let mut w = XmlWriter::new();
        w.root("VersioningConfiguration");
        match bucket.versioning {
            Versioning::Unversioned => {}
            Versioning::Enabled => {
                w.elem("Status", "Enabled");
            }
            Versioning::Suspended => {
                w.elem("Status", "Suspended");
            }
        }
        w.close("VersioningConfiguration");
        xml_response(w.finish())
    }

    pub(crate) async fn put_bucket_versioning(&self, ctx: &Ctx) -> HandlerResult {
        let bucket = self.authorized_bucket(ctx)?;
        let body = read_small_body(ctx, 64 * 1024).await?;
        let doc = xml::parse(&body)?;
        if doc.name != "VersioningConfiguration" {
            return Err(S3Error::new(ErrorCode::MalformedXML));
        }
        match doc.child_text("MfaDelete") {
            None | Some("Disabled") => {}
            Some("Enabled") => {
                // Without an x-amz-mfa device this cannot be turned on, as in S3.
                return Err(
                    S3Error::new(ErrorCode::AccessDenied).msg("Mfa Authentication must be used for this request")
                );
            }
            Some(_) => return Err(S3Error::new(ErrorCode::MalformedXML)),
        }
        let state = match doc.child_text("Status") {
            Some("Enabled") => Versioning::Enabled,
            Some("Suspended") => Versioning::Suspended,
            // No status leaves the state as it is.
            None => return empty_response(http::StatusCode::OK),
            Some(_) => return Err(S3Error::new(ErrorCode::MalformedXML)),
        };
        self.engine.set_versioning(&bucket.name, state).await?;
        empty_response(http::StatusCode::OK)
    }

    pub(crate) fn list_object_versions(&self, ctx: &Ctx) -> HandlerResult {
        let bucket = self.authorized_bucket(ctx)?;
        let q = &ctx.route.query;
        let enc = Encoder::from_query(q)?;
        let key_marker = q.get("key-marker").unwrap_or_default();
        let version_id_marker = q.get("version-id-marker").unwrap_or_default();
        if !version_id_marker.is_empty() && key_marker.is_empty() {
            return Err(S3Error::invalid_argument(
                "A version-id marker cannot be specified without a key marker.",
                "version-id-marker",
                version_id_marker,
            ));
        }
        let query = VersionsQuery {
            prefix: q.get("prefix").unwrap_or_default().to_owned(),
            delimiter: q.get("delimiter").filter(|d| !d.is_empty()).map(str::to_owned),
            key_marker: Some(key_marker.to_owned()).filter(|k| !k.is_empty()),
            version_id_marker: Some(version_id_marker.to_owned()).filter(|v| !v.is_empty()),
            max_keys: max_keys(q, "max-keys")?,
        };
        let page = self.engine.list_versions(&bucket.name, &query)?;
        let mut w = XmlWriter::new();
        w.root("ListVersionsResult")
            .elem("Name", &bucket.name)
            .elem("Prefix", &enc.enc(&query.prefix))
            .elem("KeyMarker", &enc.enc(key_marker))
            .elem("VersionIdMarker", version_id_marker);
        if let Some(k) = &page.next_key_marker {
            w.elem("NextKeyMarker", &enc.enc(k));
        }
        if let Some(v) = &page.next_version_id_marker {
            w.elem("NextVersionIdMarker", v);
        }
        w.elem_display("MaxKeys", query.max_keys);
        if let Some(d) = &query.delimiter {
            w.elem("Delimiter", &enc.enc(d));
        }
        w.elem("IsTruncated", if page.truncated { "true" } else { "false" });
        enc.write_type(&mut w);
        for e in &page.versions {
            let v = &e.version;
            let tag = if v.delete_marker { "DeleteMarker" } else { "Version" };
            w.open(tag)
                .elem("Key", &enc.enc(&v.key))
                .elem("VersionId", v.version_id_str())
                .elem("IsLatest", if e.is_latest { "true" } else { "false" })
                .elem("LastModified", &format_iso8601(v.last_modified_ms));
            if !v.delete_marker {
                w.elem("ETag", &v.quoted_etag()).elem_display("Size", v.size);
                if let Some(c) = &v.checksum {
                    w.elem("ChecksumAlgorithm", c.algorithm.as_str());
                }
                w.elem("StorageClass", v.storage_class_str());
            }
            w.open("Owner")
                .elem("ID", &v.owner)
                .elem("DisplayName", &v.owner_display_name)
                .close("Owner");
            w.close(tag);
        }
        for p in &page.common_prefixes {
            w.open("CommonPrefixes")
                .elem("Prefix", &enc.enc(p))
                .close("CommonPrefixes");
        }
        w.close("ListVersionsResult");
        xml_response(w.finish())
    }
}
