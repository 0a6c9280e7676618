//! Reading request headers into engine types, and writing object headers into responses.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use http::response::Builder;
use http::{HeaderMap, HeaderValue};
use ksan_engine::ObjectVersion;
use ksan_engine::objects::{BodyChecks, ChecksumRequest, MAX_PUT_SIZE, WriteConditions};
use ksan_engine::records::ContentHeaders;
use ksan_types::{ChecksumAlgorithm, ErrorCode, S3Error, S3Result, StorageClass, TrailerSlot};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Longest key S3 accepts, in UTF-8 bytes.
pub const MAX_KEY_LEN: usize = 1024;
/// Total size of user metadata (names and values) S3 accepts.
pub const MAX_USER_META: usize = 2048;

pub fn get<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

pub fn check_key(key: &str) -> S3Result<()> {
    if key.len() > MAX_KEY_LEN {
        return Err(S3Error::new(ErrorCode::KeyTooLongError)
            .with("MaxSizeAllowed", MAX_KEY_LEN.to_string())
            .with("Size", key.len().to_string()));
    }
    if key.contains('\0') {
        return Err(S3Error::invalid_argument("Object keys may not contain NUL", "key", ""));
    }
    // S3 cannot parse URIs carrying C1 control characters.
    if key.chars().any(|c| ('\u{80}'..='\u{9f}').contains(&c)) {
        return Err(S3Error::new(ErrorCode::InvalidURI));
    }
    Ok(())
}

pub fn header_u64(h: &HeaderMap, name: &str) -> S3Result<Option<u64>> {
    match get(h, name) {
        None => Ok(None),
        Some(v) => v
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| S3Error::invalid_argument(format!("Invalid {name}"), "header", v.to_owned())),
    }
}

pub fn content_headers(h: &HeaderMap) -> ContentHeaders {
    let s = |n: &str| get(h, n).map(str::to_owned);
    ContentHeaders {
        content_type: s("content-type"),
        content_encoding: s("content-encoding").filter(|v| v != "aws-chunked").map(|v| {
            // aws-chunked is transfer framing, not the object's encoding.
            v.split(',')
                .map(str::trim)
                .filter(|p| *p != "aws-chunked")
                .collect::<Vec<_>>()
                .join(", ")
        }),
        content_disposition: s("content-disposition"),
        content_language: s("content-language"),
        cache_control: s("cache-control"),
        expires: s("expires"),
        website_redirect: s("x-amz-website-redirect-location"),
    }
}

/// `x-amz-website-redirect-location`: a path on the same site (`/...`) or an absolute
/// http(s) URL, at most 2 KB, as S3 accepts it.
pub fn check_website_redirect(h: &HeaderMap) -> S3Result<()> {
    let Some(v) = get(h, "x-amz-website-redirect-location") else {
        return Ok(());
    };
    let ok = v.len() <= 2048 && (v.starts_with('/') || v.starts_with("http://") || v.starts_with("https://"));
    if ok {
        Ok(())
    } else {
        Err(S3Error::new(ErrorCode::InvalidRedirectLocation)
            .msg("The website redirect location must have a prefix of 'http://' or 'https://' or '/'."))
    }
}

/// `x-amz-meta-*` headers: names lower-cased without the prefix, in request order.
pub fn user_metadata(h: &HeaderMap) -> S3Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut size = 0;
    for (name, value) in h {
        if let Some(n) = name.as_str().strip_prefix("x-amz-meta-") {
            // Stored as text, decoded from RFC 2047 encoded-words; the limit counts its UTF-8.
            let v = ksan_proto::header_text::decode(value.as_bytes());
            size += n.len() + v.len();
            out.push((n.to_owned(), v));
        }
    }
    if size > MAX_USER_META {
        return Err(S3Error::new(ErrorCode::MetadataTooLarge)
            .with("Size", size.to_string())
            .with("MaxSizeAllowed", MAX_USER_META.to_string()));
    }
    Ok(out)
}

/// `x-amz-storage-class` (STANDARD, the default, is None).
pub fn storage_class(h: &HeaderMap) -> S3Result<Option<StorageClass>> {
    match get(h, "x-amz-storage-class").map(StorageClass::parse).transpose()? {
        Some(StorageClass::Standard) | None => Ok(None),
        Some(class) => Ok(Some(class)),
    }
}

/// What an upload's headers say of its body: the decoded length (aws-chunked bodies declare
/// it apart), Content-MD5 and a flexible checksum. EntityTooLarge for a declared size over the
/// single-PUT limit; MissingContentLength if neither a length nor chunked framing is given.
pub fn body_checks(h: &HeaderMap, trailers: &TrailerSlot) -> S3Result<BodyChecks> {
    let content_length = match header_u64(h, "x-amz-decoded-content-length")? {
        Some(len) => Some(len),
        None => header_u64(h, "content-length")?,
    };
    if let Some(len) = content_length.filter(|l| *l > MAX_PUT_SIZE) {
        return Err(S3Error::new(ErrorCode::EntityTooLarge)
            .with("ProposedSize", len.to_string())
            .with("MaxSizeAllowed", MAX_PUT_SIZE.to_string()));
    }
    if content_length.is_none() && get(h, "transfer-encoding").is_none() {
        return Err(S3Error::new(ErrorCode::MissingContentLength));
    }
    Ok(BodyChecks {
        content_length,
        content_md5: content_md5(h)?,
        checksum: checksum_request(h)?,
        trailers: trailers.clone(),
    })
}

pub fn content_md5(h: &HeaderMap) -> S3Result<Option<[u8; 16]>> {
    let Some(v) = get(h, "content-md5") else {
        return Ok(None);
    };
    let bytes = B64
        .decode(v.trim())
        .map_err(|_| S3Error::new(ErrorCode::InvalidDigest))?;
    <[u8; 16]>::try_from(bytes.as_slice())
        .map(Some)
        .map_err(|_| S3Error::new(ErrorCode::InvalidDigest))
}

/// The flexible checksum a PUT carries: a `x-amz-checksum-*` header with its value, or an
/// algorithm announced for an aws-chunked trailer. A value of the wrong form is BadDigest.
pub fn checksum_request(h: &HeaderMap) -> S3Result<Option<ChecksumRequest>> {
    let mut found: Option<ChecksumRequest> = None;
    for algorithm in ChecksumAlgorithm::ALL {
        if let Some(v) = get(h, algorithm.header_name()) {
            if found.is_some() {
                return Err(S3Error::new(ErrorCode::InvalidRequest)
                    .msg("Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed."));
            }
            // A value that is no digest of this algorithm matches no body: S3 answers as
            // for any other mismatch, and nothing needs reading to know it.
            let decoded = B64.decode(v.trim()).ok();
            if decoded.as_ref().map(Vec::len) != Some(algorithm.digest_len()) {
                return Err(S3Error::new(ErrorCode::BadDigest).msg(format!(
                    "The {} you specified did not match the calculated checksum.",
                    algorithm.as_str()
                )));
            }
            found = Some(ChecksumRequest {
                algorithm,
                value: Some(v.trim().to_owned()),
            });
        }
    }
    if found.is_some() {
        return Ok(found);
    }
    if let Some(trailer) = get(h, "x-amz-trailer") {
        for name in trailer.split(',').map(str::trim) {
            if let Some(algorithm) = ChecksumAlgorithm::from_header_name(name) {
                return Ok(Some(ChecksumRequest { algorithm, value: None }));
            }
        }
    }
    if let Some(a) = get(h, "x-amz-sdk-checksum-algorithm").or(get(h, "x-amz-checksum-algorithm")) {
        let algorithm: ChecksumAlgorithm = a.parse().map_err(|_| {
            S3Error::new(ErrorCode::InvalidRequest).msg("Value for x-amz-sdk-checksum-algorithm header is invalid.")
        })?;
        // Announced but not sent as a header: it must come as a trailer.
        if get(h, "x-amz-trailer").is_some() {
            return Ok(Some(ChecksumRequest { algorithm, value: None }));
        }
    }
    Ok(None)
}

/// `x-amz-checksum-algorithm` of CreateMultipartUpload and CopyObject: the algorithm the new
/// object's checksum is to have.
pub fn checksum_algorithm(h: &HeaderMap) -> S3Result<Option<ChecksumAlgorithm>> {
    get(h, "x-amz-checksum-algorithm")
        .map(|a| {
            a.parse::<ChecksumAlgorithm>()
                .map_err(|_| S3Error::new(ErrorCode::InvalidRequest).msg("Checksum algorithm provided is unsupported."))
        })
        .transpose()
}

pub fn write_conditions(h: &HeaderMap) -> WriteConditions {
    WriteConditions {
        if_match: get(h, "if-match").map(str::to_owned),
        if_none_match: get(h, "if-none-match").map(str::to_owned),
    }
}

/// An HTTP date (`Last-Modified`, `If-Modified-Since`) in ms since the epoch.
pub fn parse_http_date(s: &str) -> Option<i64> {
    httpdate::parse_http_date(s.trim())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs() as i64)
}

/// An HTTP date (`Last-Modified`) of a time in ms since the epoch.
pub fn format_http_date(ms: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64);
    httpdate::fmt_http_date(t)
}

/// `2009-10-12T17:50:30.000Z`, as S3 writes times in XML.
pub fn format_iso8601(ms: i64) -> String {
    let t = OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let mut s = t.format(&Rfc3339).unwrap_or_default();
    // Rfc3339 drops or varies the fraction; S3 always writes milliseconds.
    if let Some(dot) = s.find('.') {
        s.truncate(dot);
    } else if let Some(z) = s.find('Z') {
        s.truncate(z);
    }
    format!("{s}.{:03}Z", ms.rem_euclid(1000))
}

/// The outcome of GET/HEAD preconditions.
pub enum Precondition {
    Proceed,
    NotModified,
}

/// If-Match / If-Unmodified-Since / If-None-Match / If-Modified-Since, in S3's precedence.
pub fn read_conditions(h: &HeaderMap, v: &ObjectVersion, prefix: &str) -> S3Result<Precondition> {
    let name = |n: &str| format!("{prefix}{n}");
    let last_modified = v.last_modified_ms / 1000;
    let if_match = get(h, &name("if-match"));
    let if_none_match = get(h, &name("if-none-match"));
    let failed = |cond: &'static str| S3Error::new(ErrorCode::PreconditionFailed).with("Condition", cond);
    if let Some(m) = if_match {
        if !ksan_engine::objects::etag_matches(m, &v.etag) {
            return Err(failed("If-Match"));
        }
    } else if let Some(t) = get(h, &name("if-unmodified-since")).and_then(parse_http_date)
        && last_modified > t
    {
        return Err(failed("If-Unmodified-Since"));
    }
    if let Some(m) = if_none_match {
        if ksan_engine::objects::etag_matches(m, &v.etag) {
            return Ok(Precondition::NotModified);
        }
    } else if let Some(t) = get(h, &name("if-modified-since")).and_then(parse_http_date)
        && last_modified <= t
    {
        return Ok(Precondition::NotModified);
    }
    Ok(Precondition::Proceed)
}

/// Headers describing a stored object, for GET/HEAD (and some of them for PUT/COPY).
pub fn object_headers(mut b: Builder, v: &ObjectVersion, versioned: bool) -> Builder {
    b = b
        .header(http::header::ETAG, v.quoted_etag())
        .header(http::header::LAST_MODIFIED, format_http_date(v.last_modified_ms));
    if let Some(r) = &v.replication {
        b = b.header("x-amz-replication-status", r.status.as_str());
    }
    let c = &v.headers;
    b = b.header(
        http::header::CONTENT_TYPE,
        c.content_type.as_deref().unwrap_or("binary/octet-stream"),
    );
    for (name, value) in [
        (http::header::CONTENT_ENCODING, &c.content_encoding),
        (http::header::CONTENT_DISPOSITION, &c.content_disposition),
        (http::header::CONTENT_LANGUAGE, &c.content_language),
        (http::header::CACHE_CONTROL, &c.cache_control),
        (http::header::EXPIRES, &c.expires),
    ] {
        if let Some(value) = value.as_deref().filter(|v| !v.is_empty()) {
            b = b.header(name, value);
        }
    }
    // Text beyond printable ASCII goes out as an RFC 2047 encoded-word. A name that cannot
    // be a header name (only a browser form could have given one) is left out and counted
    // in x-amz-missing-meta, as S3 does.
    let mut missing = 0;
    for (k, val) in &v.user_meta {
        let name = http::HeaderName::from_bytes(format!("x-amz-meta-{k}").as_bytes());
        let value = HeaderValue::from_str(&ksan_proto::header_text::encode(val));
        match (name, value) {
            (Ok(name), Ok(value)) => b = b.header(name, value),
            _ => missing += 1,
        }
    }
    if missing > 0 {
        b = b.header("x-amz-missing-meta", missing);
    }
    if let Some(class) = v.storage_class {
        b = b.header("x-amz-storage-class", class.as_str());
    }
    b = crate::sse::response_headers(b, v.sse.as_ref());
    b = crate::lock::response_headers(b, &v.lock);
    if let Some(location) = c.website_redirect.as_deref() {
        b = b.header("x-amz-website-redirect-location", location);
    }
    if versioned || v.version_id.is_some() {
        b = b.header("x-amz-version-id", v.version_id_str());
    }
    if !v.tags.is_empty() {
        b = b.header("x-amz-tagging-count", v.tags.len());
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use ksan_engine::records::{Content, DataLocation, NewObject};

    #[test]
    fn user_metadata_out_as_headers() {
        let object = NewObject {
            user_meta: vec![
                ("plain".into(), "ascii".into()),
                ("utf8".into(), "café".into()),
                ("bad name".into(), "x".into()),
                ("ключ".into(), "y".into()),
            ],
            ..NewObject::default()
        };
        let content = Content {
            size: 0,
            etag: String::new(),
            checksum: None,
            checksum_type: None,
            data: DataLocation::Inline,
            sealed: None,
        };
        let v = ObjectVersion::new("k".into(), object, content);
        let resp = object_headers(http::Response::builder(), &v, false)
            .body(())
            .expect("a valid response");
        let h = resp.headers();
        assert_eq!(h.get("x-amz-meta-plain").unwrap(), "ascii");
        assert_eq!(h.get("x-amz-meta-utf8").unwrap(), "=?UTF-8?B?Y2Fmw6k=?=");
        assert_eq!(h.get("x-amz-missing-meta").unwrap(), "2");
    }

    #[test]
    fn iso_dates() {
        assert_eq!(format_iso8601(1_255_369_830_123), "2009-10-12T17:50:30.123Z");
        assert_eq!(format_iso8601(1_255_369_830_000), "2009-10-12T17:50:30.000Z");
        assert_eq!(format_http_date(1_255_369_830_000), "Mon, 12 Oct 2009 17:50:30 GMT");
    }

    #[test]
    fn key_limits() {
        assert!(check_key(&"a".repeat(1024)).is_ok());
        assert_eq!(
            check_key(&"a".repeat(1025)).unwrap_err().code,
            ErrorCode::KeyTooLongError
        );
        assert_eq!(check_key("\u{ae}\u{8a}-").unwrap_err().code, ErrorCode::InvalidURI);
        assert!(check_key("caf\u{e9}/\u{1F600}").is_ok());
    }
}
