//! ListObjects and ListObjectsV2.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ksan_engine::list::{ListPage, ListQuery};
use ksan_proto::query::Query;
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

pub(crate) struct Encoder {
    url: bool,
}

impl Encoder {
    pub fn plain() -> Self {
        Encoder { url: false }
    }
    pub fn from_query(q: &Query) -> S3Result<Self> {
        match q.get("encoding-type") {
            None => Ok(Encoder { url: false }),
            Some(t) if t.eq_ignore_ascii_case("url") => Ok(Encoder { url: true }),
            Some(t) => Err(S3Error::invalid_argument(
                "Invalid Encoding Method specified in Request",
                "encoding-type",
                t,
            )),
        }
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

pub(crate) fn max_keys(q: &Query, name: &'static str) -> S3Result<usize> {
    match q.get(name) {
        None => Ok(1000),
        Some(v) => {
            let n: i64 = v.trim().parse().map_err(|_| {
                S3Error::invalid_argument("Provided max-keys not an integer or within integer range", name, v)
            })?;
            if n < 0 {
                return Err(S3Error::invalid_argument(
                    "Argument max-keys must be an integer between 0 and 2147483647",
                    name,
                    v,
                ));
            }
            Ok((n as usize).min(1000))
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
    pub(crate) fn list_objects_v1(&self, ctx: &Ctx) -> HandlerResult {
        let bucket = self.authorized_bucket(ctx)?;
        let q = &ctx.route.query;
        let enc = Encoder::from_query(q)?;
        let query = ListQuery {
            prefix: q.get("prefix").unwrap_or_default().to_owned(),
            delimiter: q.get("delimiter").filter(|d| !d.is_empty()).map(str::to_owned),
            after: q.get("marker").filter(|m| !m.is_empty()).map(str::to_owned),
            max_keys: max_keys(q, "max-keys")?,
        };
        let page = self.engine.list_objects(&bucket.name, &query)?;
        let mut w = XmlWriter::new();
        w.root("ListBucketResult")
            .elem("Name", &bucket.name)
            // botocore decodes every encoded field of a v1 listing but its Prefix: S3 sends
            // that one as given.
            .elem("Prefix", &query.prefix)
            .elem("Marker", &enc.enc(q.get("marker").unwrap_or_default()))
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

    pub(crate) fn list_objects_v2(&self, ctx: &Ctx) -> HandlerResult {
        let bucket = self.authorized_bucket(ctx)?;
        let q = &ctx.route.query;
        let enc = Encoder::from_query(q)?;
        let token = q.get("continuation-token");
        let after = match token {
            Some(t) => Some(decode_token(t)?),
            None => q.get("start-after").filter(|s| !s.is_empty()).map(str::to_owned),
        };
        let query = ListQuery {
            prefix: q.get("prefix").unwrap_or_default().to_owned(),
            delimiter: q.get("delimiter").filter(|d| !d.is_empty()).map(str::to_owned),
            after,
            max_keys: max_keys(q, "max-keys")?,
        };
        let fetch_owner = q.get("fetch-owner") == Some("true");
        let page = self.engine.list_objects(&bucket.name, &query)?;
        let mut w = XmlWriter::new();
        w.root("ListBucketResult")
            .elem("Name", &bucket.name)
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
        if let Some(sa) = q.get("start-after") {
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
