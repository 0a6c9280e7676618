//! ListObjects and ListObjectsV2.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ksan_engine::list::{ListPage, ListQuery};
use ksan_proto::router::ListParams;
use ksan_proto::xml::XmlWriter;
use ksan_types::{ErrorCode, S3Error, S3Result};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::headers::format_iso8601;
use crate::{Ctx, HandlerResult, S3Api, xml_response};

/// What `encoding-type=url` leaves as is: unreserved characters and `/`.
const URL_KEEP: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

/// Where a ListObjectsV2 page starts: after its continuation token, else after start-after.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Resume<'a> {
    pub token: Option<&'a str>,
    pub start_after: Option<&'a str>,
}

pub(crate) struct Encoder {
    url: bool,
}

impl Encoder {
    pub fn plain() -> Self {
        Encoder { url: false }
    }
    /// With `encoding-type=url`, keys and prefixes are URL-encoded.
    pub fn new(url: bool) -> Self {
        Encoder { url }
    }
    pub fn enc<'a>(&self, s: &'a str) -> std::borrow::Cow<'a, str> {
        if self.url {
            utf8_percent_encode(s, URL_KEEP).into()
        } else {
            s.into()
        }
    }
    pub fn write_type(&self, w: &mut XmlWriter) {
        if self.url {
            w.elem("EncodingType", "url");
        }
    }
}

fn write_contents(w: &mut XmlWriter, page: &ListPage, enc: &Encoder, with_owner: bool) {
    for o in &page.objects {
        w.open("Contents")
            .elem("Key", &enc.enc(&o.key))
            .elem("LastModified", &format_iso8601(o.last_modified_ms))
            .elem("ETag", &o.quoted_etag())
            .elem_display("Size", o.size);
        if let Some(c) = &o.checksum {
            w.elem("ChecksumAlgorithm", c.algorithm.as_str());
            w.elem("ChecksumType", "FULL_OBJECT");
        }
        w.elem("StorageClass", o.storage_class_str());
        if with_owner {
            w.open("Owner")
                .elem("ID", &o.owner)
                .elem("DisplayName", &o.owner_display_name)
                .close("Owner");
        }
        w.close("Contents");
    }
    for p in &page.common_prefixes {
        w.open("CommonPrefixes")
            .elem("Prefix", &enc.enc(p))
            .close("CommonPrefixes");
    }
}

impl S3Api {
    pub(crate) async fn list_objects_v1(&self, ctx: &Ctx, list: &ListParams, marker: Option<&str>) -> HandlerResult {
        let bucket = self.authorized_bucket(ctx).await?;
        let enc = Encoder::new(list.url_encoding);
        let query = ListQuery {
            prefix: list.prefix().to_owned(),
            delimiter: list.delimiter.clone(),
            after: marker.filter(|m| !m.is_empty()).map(str::to_owned),
            max_keys: list.max,
        };
        let page = self.engine.list_objects(bucket.name(), &query).await?;
        let mut w = XmlWriter::new();
        w.root("ListBucketResult")
            .elem("Name", bucket.name())
            // botocore decodes every encoded field of a v1 listing but its Prefix: S3 sends
            // that one as given.
            .elem("Prefix", &query.prefix)
            .elem("Marker", &enc.enc(marker.unwrap_or_default()))
            .elem_display("MaxKeys", query.max_keys);
        if let Some(d) = &query.delimiter {
            w.elem("Delimiter", &enc.enc(d));
        }
        w.elem("IsTruncated", if page.truncated { "true" } else { "false" });
        if page.truncated
            && query.delimiter.is_some()
            && let Some(last) = &page.last
        {
            w.elem("NextMarker", &enc.enc(last));
        }
        enc.write_type(&mut w);
        write_contents(&mut w, &page, &enc, true);
        w.close("ListBucketResult");
        xml_response(w.finish())
    }

    pub(crate) async fn list_objects_v2(
        &self,
        ctx: &Ctx,
        list: &ListParams,
        resume: Resume<'_>,
        fetch_owner: bool,
    ) -> HandlerResult {
        let bucket = self.authorized_bucket(ctx).await?;
        let enc = Encoder::new(list.url_encoding);
        let Resume { token, start_after } = resume;
        let after = match token {
            Some(t) => Some(decode_token(t)?),
            None => start_after.filter(|s| !s.is_empty()).map(str::to_owned),
        };
        let query = ListQuery {
            prefix: list.prefix().to_owned(),
            delimiter: list.delimiter.clone(),
            after,
            max_keys: list.max,
        };
        let page = self.engine.list_objects(bucket.name(), &query).await?;
        let mut w = XmlWriter::new();
        w.root("ListBucketResult")
            .elem("Name", bucket.name())
            .elem("Prefix", &enc.enc(&query.prefix));
        if let Some(t) = token {
            w.elem("ContinuationToken", t);
        }
        if page.truncated
            && let Some(last) = &page.last
        {
            w.elem("NextContinuationToken", &B64.encode(last));
        }
        w.elem_display("KeyCount", page.objects.len() + page.common_prefixes.len())
            .elem_display("MaxKeys", query.max_keys);
        if let Some(d) = &query.delimiter {
            w.elem("Delimiter", &enc.enc(d));
        }
        if let Some(sa) = start_after {
            w.elem("StartAfter", &enc.enc(sa));
        }
        w.elem("IsTruncated", if page.truncated { "true" } else { "false" });
        enc.write_type(&mut w);
        write_contents(&mut w, &page, &enc, fetch_owner);
        w.close("ListBucketResult");
        xml_response(w.finish())
    }
}

fn decode_token(t: &str) -> S3Result<String> {
    B64.decode(t)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| {
            S3Error::new(ErrorCode::InvalidArgument)
                .msg("The continuation token provided is incorrect")
                .with("ArgumentName", "continuation-token")
        })
}
