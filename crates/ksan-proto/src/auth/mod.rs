//! Who sent a request: SigV4 (Authorization header, presigned query, aws-chunked streaming
//! with per-chunk signatures and trailers), SigV2 (header and query), or nobody (anonymous).
//!
//! `authenticate` checks the signature over the request line and headers; `decode_body` wraps
//! the body so that whatever the signature promised about it (a SHA-256, chunk signatures) is
//! verified while it streams, before any byte of a bad chunk reaches the caller.

use std::collections::HashMap;
use std::sync::Mutex;

use http::HeaderMap;
use ksan_types::{ErrorCode, S3Error};
use time::OffsetDateTime;

mod canonical;
mod chunked;
pub mod sign;
mod v2;
mod v4;

pub use chunked::decode_body;

/// The SigV4 signature of a browser POST's policy: hex HMAC-SHA256 of the base64 policy under
/// the key derived for (date, region, `s3`).
pub fn post_signature_v4(secret: &str, date: &str, region: &str, policy_b64: &str) -> String {
    hex::encode(canonical::hmac(
        &canonical::signing_key(secret, date, region, "s3"),
        policy_b64.as_bytes(),
    ))
}

/// The SigV2 signature of a browser POST's policy: base64 HMAC-SHA1 of the base64 policy.
pub fn post_signature_v2(secret: &str, policy_b64: &str) -> String {
    v2::hmac_sha1_b64(secret, policy_b64)
}

/// Compare two signatures in constant time.
pub fn signatures_equal(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Largest clock difference accepted between client and server.
pub const MAX_SKEW_SECS: i64 = 15 * 60;
/// Longest validity of a presigned URL (7 days).
pub const MAX_PRESIGN_EXPIRES: i64 = 7 * 24 * 3600;

/// What authentication looks at.
pub struct AuthRequest<'a> {
    /// The method.
    pub method: &'a http::Method,
    /// The request URI as received: path percent-encoded as sent, raw query.
    pub uri: &'a http::Uri,
    /// The headers.
    pub headers: &'a HeaderMap,
    /// The server's clock.
    pub now: OffsetDateTime,
    /// The region signatures must be scoped to.
    pub region: &'a str,
    /// `/bucket` when the bucket came from the Host header (SigV2 signs it in the resource).
    pub v2_resource_prefix: Option<&'a str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
/// How a request was signed.
pub enum SignatureKind {
    /// Not at all.
    Anonymous,
    /// SigV2, Authorization header.
    V2Header,
    /// SigV2, presigned query.
    V2Query,
    /// SigV4, Authorization header.
    V4Header,
    /// SigV4, presigned query.
    V4Query,
}

#[derive(Debug)]
/// A request whose signature checked out.
pub struct Authenticated {
    /// None = anonymous.
    pub access_key: Option<String>,
    /// How it was signed.
    pub kind: SignatureKind,
    /// What its body must satisfy.
    pub payload: PayloadCheck,
}

/// What the body must satisfy, as promised by the signature.
#[derive(Debug, Clone)]
pub enum PayloadCheck {
    /// Taken as is (SigV2, presigned, UNSIGNED-PAYLOAD, anonymous).
    None,
    /// Must hash to this SHA-256.
    Sha256([u8; 32]),
    /// aws-chunked with a signature per chunk (and, with `trailer`, signed trailers).
    Streaming(StreamingContext),
    /// aws-chunked without signatures, trailers at the end.
    UnsignedTrailer,
}

/// What chunk signatures chain from.
#[derive(Debug, Clone)]
pub struct StreamingContext {
    /// The signature the first chunk's chains from (the request's).
    pub seed_signature: String,
    /// The derived signing key.
    pub signing_key: [u8; 32],
    /// The request's x-amz-date.
    pub amz_date: String,
    /// The credential scope.
    pub scope: String,
    /// Signed trailers follow the last chunk.
    pub trailer: bool,
}

/// Where authentication finds secret keys.
#[async_trait::async_trait]
pub trait SecretLookup: Sync {
    /// The secret key of an access key; None if there is no such key. An error (the store could
    /// not be read) is the request's error, never "no such key".
    async fn secret(&self, access_key: &str) -> Result<Option<String>, S3Error>;
}

/// Derived SigV4 signing keys, per (access key, secret, date, region). Deriving one costs four
/// HMACs; a client signs every request with the same one all day.
#[derive(Default)]
pub struct SigningKeyCache {
    keys: Mutex<HashMap<KeyId, [u8; 32]>>,
}

/// (access key, secret, date, region)
type KeyId = (String, String, String, String);

/// Entries kept before the cache starts over (days roll over; keys get deleted).
const CACHE_LIMIT: usize = 4096;

impl SigningKeyCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    pub(crate) fn get(&self, secret: &str, access_key: &str, date: &str, region: &str) -> [u8; 32] {
        let id = (
            access_key.to_owned(),
            secret.to_owned(),
            date.to_owned(),
            region.to_owned(),
        );
        if let Ok(keys) = self.keys.lock()
            && let Some(k) = keys.get(&id)
        {
            return *k;
        }
        let key = canonical::signing_key(secret, date, region, "s3");
        if let Ok(mut keys) = self.keys.lock() {
            if keys.len() >= CACHE_LIMIT {
                keys.clear();
            }
            keys.insert(id, key);
        }
        key
    }
}

/// Check a request's signature (or that it has none): who sent it, and what its body must satisfy.
pub async fn authenticate(
    req: &AuthRequest<'_>,
    secrets: &dyn SecretLookup,
    cache: &SigningKeyCache,
) -> Result<Authenticated, S3Error> {
    let query = req.uri.query().unwrap_or("");
    let authorization = req
        .headers
        .get(http::header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or("\u{0}"))
        .filter(|v| !v.is_empty());
    match authorization {
        Some(a) if a.starts_with("AWS4-HMAC-SHA256") => v4::header(req, a, secrets, cache).await,
        Some(a) if a.starts_with("AWS ") => v2::header(req, a, secrets).await,
        Some(_) => Err(S3Error::new(ErrorCode::InvalidArgument)
            .msg("Unsupported Authorization Type")
            .with("ArgumentName", "Authorization")),
        None => {
            let has = |name: &str| query.split('&').any(|p| p.split('=').next() == Some(name));
            if has("X-Amz-Algorithm") || has("X-Amz-Signature") || has("X-Amz-Credential") {
                v4::presigned(req, secrets, cache).await
            } else if has("AWSAccessKeyId") || has("Signature") {
                v2::presigned(req, secrets).await
            } else {
                Ok(Authenticated {
                    access_key: None,
                    kind: SignatureKind::Anonymous,
                    payload: PayloadCheck::None,
                })
            }
        }
    }
}

/// Query parameters whose values are secrets or proofs: signatures, session tokens, SSE-C
/// keys. Logs show them as `REDACTED`.
const SECRET_PARAMS: [&str; 5] = [
    "x-amz-signature",
    "signature",
    "x-amz-security-token",
    "x-amz-server-side-encryption-customer-key",
    "x-amz-copy-source-server-side-encryption-customer-key",
];

/// A request URI fit for a log: the path and query as received, with the value of every
/// secret parameter replaced by `REDACTED`.
pub fn redacted_uri(uri: &http::Uri) -> String {
    let Some(query) = uri.query() else {
        return uri.to_string();
    };
    let mut out = String::with_capacity(uri.path().len() + query.len() + 1);
    out.push_str(uri.path());
    out.push('?');
    for (i, pair) in query.split('&').enumerate() {
        if i > 0 {
            out.push('&');
        }
        let name = pair.split_once('=').map_or(pair, |(n, _)| n);
        let decoded = percent_encoding::percent_decode_str(name).decode_utf8_lossy();
        if SECRET_PARAMS.iter().any(|s| decoded.eq_ignore_ascii_case(s)) {
            out.push_str(name);
            out.push_str("=REDACTED");
        } else {
            out.push_str(pair);
        }
    }
    out
}

/// Query parameters of a SigV4 presigned URL that stand for request headers (`x-amz-acl=...`,
/// `x-amz-storage-class=...`, ...): the canonical query string covers them, so S3 honours them
/// as if they had been sent as signed headers. The authentication parameters are not among them.
pub fn presigned_query_headers(uri: &http::Uri) -> Vec<(http::HeaderName, http::HeaderValue)> {
    const AUTH_PARAMS: [&str; 7] = [
        "x-amz-algorithm",
        "x-amz-credential",
        "x-amz-date",
        "x-amz-expires",
        "x-amz-signedheaders",
        "x-amz-signature",
        "x-amz-security-token",
    ];
    let Some(query) = uri.query() else {
        return Vec::new();
    };
    query
        .split('&')
        .filter_map(|p| {
            let (n, v) = p.split_once('=').unwrap_or((p, ""));
            let name = percent_encoding::percent_decode_str(n)
                .decode_utf8()
                .ok()?
                .to_ascii_lowercase();
            if !name.starts_with("x-amz-") || AUTH_PARAMS.contains(&name.as_str()) {
                return None;
            }
            let value = percent_encoding::percent_decode_str(&v.replace('+', " "))
                .decode_utf8()
                .ok()?
                .into_owned();
            Some((
                http::HeaderName::from_bytes(name.as_bytes()).ok()?,
                http::HeaderValue::from_str(&value).ok()?,
            ))
        })
        .collect()
}

pub(crate) fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

pub(crate) fn access_denied(msg: &'static str) -> S3Error {
    S3Error::new(ErrorCode::AccessDenied).msg(msg)
}

pub(crate) fn signature_mismatch(string_to_sign: &str, access_key: &str) -> S3Error {
    S3Error::new(ErrorCode::SignatureDoesNotMatch)
        .with("AWSAccessKeyId", access_key.to_owned())
        .with("StringToSign", string_to_sign.to_owned())
}

/// Check the request time against the server clock.
pub(crate) fn check_skew(t: OffsetDateTime, now: OffsetDateTime) -> Result<(), S3Error> {
    if (t - now).whole_seconds().abs() > MAX_SKEW_SECS {
        return Err(S3Error::new(ErrorCode::RequestTimeTooSkewed)
            .with("RequestTime", t.unix_timestamp().to_string())
            .with("ServerTime", now.unix_timestamp().to_string())
            .with("MaxAllowedSkewMilliseconds", (MAX_SKEW_SECS * 1000).to_string()));
    }
    Ok(())
}

pub(crate) fn constant_time_eq(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// `20130524T000000Z`
pub(crate) fn parse_amz_date(s: &str) -> Option<OffsetDateTime> {
    let f = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    time::PrimitiveDateTime::parse(s.trim(), &f)
        .ok()
        .map(|p| p.assume_utc())
}

/// An HTTP date (RFC 1123, RFC 850 or asctime). Like S3, the weekday is not checked
/// against the date, and years up to 9999 parse (so far-off dates are "skewed", not invalid).
pub(crate) fn parse_http_date(s: &str) -> Option<OffsetDateTime> {
    if let Ok(t) = httpdate::parse_http_date(s.trim()) {
        return Some(OffsetDateTime::from(t));
    }
    // "Www, DD Mon YYYY HH:MM:SS GMT"
    let mut parts = s.split_whitespace();
    let _weekday = parts.next()?;
    let day: u8 = parts.next()?.parse().ok()?;
    let month = match parts.next()? {
        "Jan" => time::Month::January,
        "Feb" => time::Month::February,
        "Mar" => time::Month::March,
        "Apr" => time::Month::April,
        "May" => time::Month::May,
        "Jun" => time::Month::June,
        "Jul" => time::Month::July,
        "Aug" => time::Month::August,
        "Sep" => time::Month::September,
        "Oct" => time::Month::October,
        "Nov" => time::Month::November,
        "Dec" => time::Month::December,
        _ => return None,
    };
    let year: i32 = parts.next()?.parse().ok()?;
    let mut hms = parts.next()?.split(':').map(|p| p.parse::<u8>().ok());
    let (h, m, sec) = (hms.next()??, hms.next()??, hms.next()??);
    if !matches!(parts.next()?, "GMT" | "UTC" | "-0000" | "+0000") {
        return None;
    }
    let date = time::Date::from_calendar_date(year, month, day).ok()?;
    let t = time::Time::from_hms(h, m, sec).ok()?;
    Some(time::PrimitiveDateTime::new(date, t).assume_utc())
}

pub(crate) fn format_amz_date(t: OffsetDateTime) -> String {
    let f = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    t.format(&f).unwrap_or_default()
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod date_tests {
    use super::*;

    #[test]
    fn lenient_http_dates() {
        // 2010-07-07 was a Wednesday: the weekday is ignored
        assert_eq!(
            parse_http_date("Tue, 07 Jul 2010 21:53:04 GMT")
                .unwrap()
                .unix_timestamp(),
            1278539584
        );
        assert_eq!(parse_http_date("Tue, 07 Jul 9999 21:53:04 GMT").unwrap().year(), 9999);
        assert!(parse_http_date("Tue, 24 Nov 2026 00:33:47 -0000").is_some());
        assert!(parse_http_date("Bad Date").is_none());
        assert!(parse_http_date("").is_none());
    }
}
