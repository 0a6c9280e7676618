//! Versioning: PutBucketVersioning, GetBucketVersioning, ListObjectVersions.

use ksan_engine::list::VersionsQuery;
use ksan_engine::records::Versioning;
use ksan_proto::documents::{MfaDelete, VersioningConfiguration, VersioningStatus};
use ksan_proto::router::ListParams;
use ksan_proto::xml::XmlWriter;
use ksan_types::{ErrorCode, S3Error};

use crate::headers::format_iso8601;
use crate::list::Encoder;
use crate::{
    CONFIG_BODY_LIMIT, Ctx, HandlerResult, S3Api, document_response, empty_response, read_document, xml_response,
};

impl S3Api {
    pub(crate) async fn get_bucket_versioning(&self, ctx: &Ctx) -> HandlerResult {
        let bucket = self.authorized_bucket(ctx).await?;
        let status = match bucket.record.versioning {
            Versioning::Unversioned => None,
            Versioning::Enabled => Some(VersioningStatus::Enabled),
            Versioning::Suspended => Some(VersioningStatus::Suspended),
        };
        document_response(&VersioningConfiguration {
            status,
            mfa_delete: None,
        })
    }

    pub(crate) async fn put_bucket_versioning(&self, ctx: &Ctx) -> HandlerResult {
        let bucket = self.authorized_bucket(ctx).await?;
        let doc: VersioningConfiguration = read_document(ctx, CONFIG_BODY_LIMIT).await?;
        if doc.mfa_delete == Some(MfaDelete::Enabled) {
            // Without an x-amz-mfa device this cannot be turned on, as in S3.
            return Err(S3Error::new(ErrorCode::AccessDenied).msg("Mfa Authentication must be used for this request"));
        }
        let state = match doc.status {
            Some(VersioningStatus::Enabled) => Versioning::Enabled,
            Some(VersioningStatus::Suspended) => Versioning::Suspended,
            // No status leaves the state as it is.
            None => return empty_response(http::StatusCode::OK),
        };
        self.engine.set_versioning(bucket.name(), state).await?;
        empty_response(http::StatusCode::OK)
    }

    pub(crate) async fn list_object_versions(
        &self,
        ctx: &Ctx,
        list: &ListParams,
        key_marker: Option<&str>,
        version_id_marker: Option<&str>,
    ) -> HandlerResult {
        let bucket = self.authorized_bucket(ctx).await?;
        let enc = Encoder::new(list.url_encoding);
        let key_marker = key_marker.unwrap_or_default();
        let version_id_marker = version_id_marker.unwrap_or_default();
        let query = VersionsQuery {
            prefix: list.prefix().to_owned(),
            delimiter: list.delimiter.clone(),
            key_marker: Some(key_marker.to_owned()).filter(|k| !k.is_empty()),
            version_id_marker: Some(version_id_marker.to_owned()).filter(|v| !v.is_empty()),
            max_keys: list.max,
        };
        let page = self.engine.list_versions(bucket.name(), &query).await?;
        let mut w = XmlWriter::new();
        w.root("ListVersionsResult")
            .elem("Name", bucket.name())
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
