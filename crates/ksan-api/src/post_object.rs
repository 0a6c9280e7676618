//! PostObject: browser form uploads (`POST /bucket` with `multipart/form-data`).
//!
//! The form is read as a stream (multer): the fields before `file` are collected (64 KiB at
//! most), the file's bytes go straight to the engine, and fields after the file are ignored,
//! as S3 ignores them. The form is signed (SigV4 `x-amz-*` fields or SigV2 `AWSAccessKeyId` +
//! `signature`, over the base64 policy) or anonymous; its policy is decided by
//! `ksan_engine::post_policy`. The upload then is a PutObject: the form's fields become the
//! request headers PutObject reads (acl, content headers, metadata, tagging, encryption,
//! checksums, storage class, object lock), and the access decision is PutObject's.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::{Stream, TryStreamExt};
use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode};
use ksan_engine::Principal;
use ksan_engine::objects::{BodyChecks, PutObjectRequest};
use ksan_engine::post_policy::PostPolicy;
use ksan_proto::ResponseBody;
use ksan_proto::auth::{self, SignatureKind};
use ksan_proto::documents::{Tagging, XmlDocument};
use ksan_proto::router::{Endpoint, Route};
use ksan_proto::xml::XmlWriter;
use ksan_types::{BodyStream, CannedAcl, ErrorCode, S3Error, S3Result, TrailerSlot};

use crate::{Ctx, HandlerResult, S3Api, headers};

/// Most bytes of form fields before the file.
const FIELDS_LIMIT: usize = 64 * 1024;

fn malformed(msg: &'static str) -> S3Error {
    S3Error::new(ErrorCode::MalformedPOSTRequest).msg(msg)
}

fn invalid(msg: &'static str) -> S3Error {
    S3Error::new(ErrorCode::InvalidArgument).msg(msg)
}

/// The file's bytes, held to the policy's content-length-range.
struct Limited {
    inner: BodyStream,
    seen: u64,
    range: Option<(u64, u64)>,
    done: bool,
}

impl Stream for Limited {
    type Item = Result<Bytes, S3Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        match self.inner.as_mut().poll_next(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Ok(chunk))) => {
                self.seen += chunk.len() as u64;
                if let Some((_, max)) = self.range
                    && self.seen > max
                {
                    self.done = true;
                    return Poll::Ready(Some(Err(S3Error::new(ErrorCode::EntityTooLarge)
                        .msg("Your proposed upload exceeds the maximum allowed size"))));
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(e))) => {
                self.done = true;
                Poll::Ready(Some(Err(e)))
            }
            Poll::Ready(None) => {
                self.done = true;
                match self.range {
                    Some((min, _)) if self.seen < min => {
                        Poll::Ready(Some(Err(S3Error::new(ErrorCode::EntityTooSmall)
                            .msg("Your proposed upload is smaller than the minimum allowed size"))))
                    }
                    _ => Poll::Ready(None),
                }
            }
        }
    }
}

/// A form field's value (names are case-insensitive).
fn field_of<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// The request headers PutObject reads, from the form's fields.
fn headers_of(fields: &[(String, String)]) -> S3Result<HeaderMap> {
    let mut h = HeaderMap::new();
    for (name, value) in fields {
        let name = name.to_ascii_lowercase();
        let header = match name.as_str() {
            "acl" => "x-amz-acl".to_owned(),
            "content-type"
            | "cache-control"
            | "content-disposition"
            | "content-encoding"
            | "content-language"
            | "expires"
            | "content-md5" => name.clone(),
            "tagging" => {
                let tags = Tagging::from_xml(value.as_bytes())?;
                let encode =
                    |s: &str| percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string();
                let query: Vec<String> = tags
                    .tags
                    .iter()
                    .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
                    .collect();
                h.insert(
                    "x-amz-tagging",
                    HeaderValue::from_str(&query.join("&")).map_err(|_| invalid("bad tagging"))?,
                );
                continue;
            }
            n if n.starts_with("x-amz-")
                && !matches!(
                    n,
                    "x-amz-signature" | "x-amz-credential" | "x-amz-algorithm" | "x-amz-date"
                ) =>
            {
                name.clone()
            }
            _ => continue,
        };
        let (Ok(n), Ok(v)) = (HeaderName::from_bytes(header.as_bytes()), HeaderValue::from_str(value)) else {
            return Err(invalid("A form field cannot be a request header"));
        };
        h.append(n, v);
    }
    Ok(h)
}

impl S3Api {
    pub(crate) async fn post_object(&self, ctx: &Ctx) -> HandlerResult {
        let content_type = ctx.header("content-type").unwrap_or_default();
        let boundary = multer::parse_boundary(content_type).map_err(|_| {
            S3Error::new(ErrorCode::PreconditionFailed)
                .msg("Bucket POST must be of the enclosure-type multipart/form-data")
        })?;
        let body = ctx
            .take_body()
            .map_err(|e| std::io::Error::other(e.message.to_string()));
        let mut form = multer::Multipart::new(body, boundary);
        let mut fields: Vec<(String, String)> = Vec::new();
        let mut size = 0;
        let file = loop {
            let Some(field) = form
                .next_field()
                .await
                .map_err(|_| malformed("The body of your POST request is not well-formed multipart/form-data."))?
            else {
                return Err(invalid("POST requires exactly one file upload per request."));
            };
            let name = field.name().unwrap_or_default().to_owned();
            if name.eq_ignore_ascii_case("file") {
                break field;
            }
            let value = field
                .text()
                .await
                .map_err(|_| malformed("The body of your POST request is not well-formed multipart/form-data."))?;
            size += name.len() + value.len();
            if size > FIELDS_LIMIT {
                return Err(S3Error::new(ErrorCode::MaxMessageLengthExceeded)
                    .msg("Your POST request fields preceding the upload file were too large."));
            }
            fields.push((name, value));
        };
        let field = |n: &str| field_of(&fields, n);
        let bucket_name = ctx.bucket_name().to_owned();
        let Some(key) = field("key") else {
            return Err(invalid(
                "Bucket POST must contain a field named 'key'.  If it is specified, please check the order of the fields.",
            ));
        };
        // `${filename}` is replaced before the policy sees the key, as S3 does.
        let key = key.replace("${filename}", file.file_name().unwrap_or_default());
        for f in fields.iter_mut().filter(|(k, _)| k.eq_ignore_ascii_case("key")) {
            f.1 = key.clone();
        }
        let field = |n: &str| field_of(&fields, n);
        let (principal, signature) = self.post_principal(&fields).await?;
        let range = match field("policy") {
            Some(p) => {
                use base64::Engine as _;
                let json = base64::engine::general_purpose::STANDARD
                    .decode(p.trim())
                    .map_err(|_| S3Error::new(ErrorCode::InvalidPolicyDocument).msg("Invalid Policy: Invalid JSON."))?;
                let now = (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
                PostPolicy::parse(&json)?.check(&fields, &bucket_name, now)?
            }
            None => None,
        };
        if key.is_empty() {
            return Err(invalid("User key must have a length greater than 0."));
        }
        headers::check_key(&key)?;
        let headers = headers_of(&fields)?;
        let canned_acl = headers::get(&headers, "x-amz-acl").map(CannedAcl::parse).transpose()?;
        let file: BodyStream = Box::pin(file.map_err(|_| S3Error::new(ErrorCode::IncompleteBody)));
        let body: BodyStream = Box::pin(Limited {
            inner: file,
            seen: 0,
            range,
            done: false,
        });
        let upload = Ctx {
            route: Route {
                endpoint: Endpoint::PutObject,
                bucket: Some(bucket_name.clone()),
                key: Some(key.clone()),
                virtual_host: ctx.route.virtual_host,
            },
            headers,
            principal,
            signature,
            conn: ctx.conn,
            client_ip: ctx.client_ip,
            canned_acl,
            body: std::sync::Mutex::new(Some(body)),
            trailers: TrailerSlot::new(),
        };
        let bucket = self.authorized_bucket(&upload).await?;
        let object = self.new_object(&upload, &bucket).await?;
        let req = PutObjectRequest {
            bucket: bucket.name().to_owned(),
            key: key.clone(),
            object,
            body: BodyChecks {
                content_length: None,
                content_md5: headers::content_md5(&upload.headers)?,
                checksum: headers::checksum_request(&upload.headers)?,
                trailers: upload.trailers.clone(),
            },
            conditions: Default::default(),
            sse: self.write_request(&upload)?,
        };
        let v = self.engine.put_object(req, upload.take_body()).await?;
        let etag = v.quoted_etag();
        if let Some(target) = field("success_action_redirect").or(field("redirect")) {
            let enc =
                |s: &str| percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string();
            let sep = if target.contains('?') { '&' } else { '?' };
            let location = format!(
                "{target}{sep}bucket={}&key={}&etag={}",
                enc(&bucket_name),
                enc(&key),
                enc(&etag)
            );
            return Response::builder()
                .status(StatusCode::SEE_OTHER)
                .header(http::header::LOCATION, location)
                .header(http::header::ETAG, etag)
                .body(ResponseBody::empty())
                .map_err(S3Error::internal);
        }
        let mut b = Response::builder().header(http::header::ETAG, etag.as_str());
        if let Some(vid) = &v.version_id {
            b = b.header("x-amz-version-id", vid.as_str());
        }
        b = crate::sse::response_headers(b, v.sse.as_ref());
        match field("success_action_status") {
            Some("200") => b.status(StatusCode::OK).body(ResponseBody::empty()),
            Some("201") => {
                // S3's PostResponse carries no namespace.
                let mut w = XmlWriter::new();
                w.open("PostResponse")
                    .elem("Location", &format!("/{bucket_name}/{key}"))
                    .elem("Bucket", &bucket_name)
                    .elem("Key", &key)
                    .elem("ETag", &etag)
                    .close("PostResponse");
                b.status(StatusCode::CREATED)
                    .header(http::header::CONTENT_TYPE, "application/xml")
                    .body(ResponseBody::full(w.finish()))
            }
            _ => b.status(StatusCode::NO_CONTENT).body(ResponseBody::empty()),
        }
        .map_err(S3Error::internal)
    }

    /// Who signed the form: SigV4 (`x-amz-credential`, `x-amz-date`, `x-amz-signature`) or SigV2
    /// (`AWSAccessKeyId`, `signature`) over the base64 policy, or nobody.
    async fn post_principal(&self, fields: &[(String, String)]) -> S3Result<(Principal, SignatureKind)> {
        let field = |n: &str| field_of(fields, n);
        let policy = field("policy");
        let v4 = field("x-amz-signature");
        let v2 = field("signature");
        let access_key = field("awsaccesskeyid");
        if policy.is_none() {
            if v4.is_some() || v2.is_some() || access_key.is_some() || field("x-amz-credential").is_some() {
                return Err(invalid("Bucket POST must contain a field named 'policy'."));
            }
            return Ok((Principal::Anonymous, SignatureKind::Anonymous));
        }
        let policy = policy.unwrap_or_default();
        let (access_key, expected, given, kind) = if let Some(sig) = v4 {
            if field("x-amz-algorithm") != Some("AWS4-HMAC-SHA256") {
                return Err(invalid("Invalid x-amz-algorithm: only AWS4-HMAC-SHA256 is supported"));
            }
            let credential = field("x-amz-credential")
                .ok_or_else(|| invalid("Bucket POST must contain a field named 'x-amz-credential'."))?;
            let parts: Vec<&str> = credential.split('/').collect();
            let [ak, date, region, "s3", "aws4_request"] = parts.as_slice() else {
                return Err(invalid("Invalid x-amz-credential"));
            };
            let (user, secret) = self.post_secret(ak).await?;
            let expected = auth::post_signature_v4(&secret, date, region, policy);
            (user, expected, sig.to_owned(), SignatureKind::V4Query)
        } else if let (Some(sig), Some(ak)) = (v2, access_key) {
            let (user, secret) = self.post_secret(ak).await?;
            (
                user,
                auth::post_signature_v2(&secret, policy),
                sig.to_owned(),
                SignatureKind::V2Query,
            )
        } else {
            return Err(invalid(
                "Bucket POST must contain a field named 'signature' (or 'x-amz-signature') and 'AWSAccessKeyId'.",
            ));
        };
        if !auth::signatures_equal(&expected, given.trim()) {
            return Err(S3Error::new(ErrorCode::SignatureDoesNotMatch));
        }
        Ok((Principal::User(access_key), kind))
    }

    async fn post_secret(&self, access_key: &str) -> S3Result<(std::sync::Arc<ksan_engine::UserRecord>, String)> {
        match self.engine.credentials(access_key).await? {
            Some((secret, user)) => Ok((user, secret)),
            None => Err(S3Error::new(ErrorCode::InvalidAccessKeyId)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_become_headers() {
        let f = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<Vec<_>>()
        };
        let h = headers_of(&f(&[
            ("acl", "public-read"),
            ("Content-Type", "text/plain"),
            ("x-amz-meta-a", "1"),
            ("x-amz-signature", "s"),
            ("success_action_status", "201"),
            (
                "tagging",
                "<Tagging><TagSet><Tag><Key>k 1</Key><Value>v</Value></Tag></TagSet></Tagging>",
            ),
        ]))
        .unwrap();
        assert_eq!(h.get("x-amz-acl").unwrap(), "public-read");
        assert_eq!(h.get("content-type").unwrap(), "text/plain");
        assert_eq!(h.get("x-amz-meta-a").unwrap(), "1");
        assert_eq!(h.get("x-amz-tagging").unwrap(), "k%201=v");
        assert!(h.get("x-amz-signature").is_none() && h.get("success_action_status").is_none());
    }
}
