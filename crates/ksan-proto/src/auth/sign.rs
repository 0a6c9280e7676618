//! Client-side signing: used by the CLI (admin API calls), tests, and presigned URL
//! generation. The same canonicalization as verification, so the two cannot drift apart.

use http::{HeaderMap, HeaderValue, Method, Uri};
use time::OffsetDateTime;

use super::canonical::{self, canonical_headers, canonical_query, canonical_request, hmac, string_to_sign};
use super::format_amz_date;

fn date_of(amz_date: &str) -> &str {
    &amz_date[..8.min(amz_date.len())]
}

/// Add x-amz-date, x-amz-content-sha256, Host (from the URI, if absent) and a SigV4
/// Authorization header. Every header present is signed.
#[allow(clippy::too_many_arguments)]
pub fn sign_v4(
    method: &Method,
    uri: &Uri,
    headers: &mut HeaderMap,
    payload_sha256_hex: &str,
    access_key: &str,
    secret: &str,
    region: &str,
    now: OffsetDateTime,
) {
    let amz_date = format_amz_date(now);
    if !headers.contains_key(http::header::HOST)
        && let Some(a) = uri.authority()
        && let Ok(v) = HeaderValue::from_str(a.as_str())
    {
        headers.insert(http::header::HOST, v);
    }
    if let Ok(v) = HeaderValue::from_str(&amz_date) {
        headers.insert("x-amz-date", v);
    }
    if let Ok(v) = HeaderValue::from_str(payload_sha256_hex) {
        headers.insert("x-amz-content-sha256", v);
    }
    let signature = signature_v4(method, uri, headers, payload_sha256_hex, secret, region, &amz_date);
    let names = signed_header_names(headers);
    let scope = format!("{}/{region}/s3/aws4_request", date_of(&amz_date));
    let value = format!(
        "AWS4-HMAC-SHA256 Credential={access_key}/{scope}, SignedHeaders={}, Signature={signature}",
        names.join(";")
    );
    if let Ok(v) = HeaderValue::from_str(&value) {
        headers.insert(http::header::AUTHORIZATION, v);
    }
}

/// Every header but Authorization, sorted: what this signer signs.
fn signed_header_names(headers: &HeaderMap) -> Vec<&str> {
    let mut names: Vec<&str> = headers
        .keys()
        .map(|k| k.as_str())
        .filter(|n| *n != "authorization")
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The SigV4 signature of a request over all its headers (but Authorization).
pub fn signature_v4(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    payload_sha256_hex: &str,
    secret: &str,
    region: &str,
    amz_date: &str,
) -> String {
    let names = signed_header_names(headers);
    let canonical_h = canonical_headers(headers, &names).unwrap_or_default();
    let date = date_of(amz_date);
    let scope = format!("{date}/{region}/s3/aws4_request");
    let creq = canonical_request(
        method.as_str(),
        uri.path(),
        &canonical_query(uri.query().unwrap_or(""), None),
        &canonical_h,
        &names.join(";"),
        payload_sha256_hex,
    );
    let key = canonical::signing_key(secret, date, region, "s3");
    hex::encode(hmac(&key, string_to_sign(amz_date, &scope, &creq).as_bytes()))
}

/// A presigned URL (path and query) for `uri`, signing only the Host header.
#[allow(clippy::too_many_arguments)]
pub fn presign_v4(
    method: &Method,
    uri: &Uri,
    host: &str,
    access_key: &str,
    secret: &str,
    region: &str,
    now: OffsetDateTime,
    expires_secs: u64,
) -> String {
    let amz_date = format_amz_date(now);
    let date = date_of(&amz_date);
    let scope = format!("{date}/{region}/s3/aws4_request");
    let mut query = uri.query().map(|q| format!("{q}&")).unwrap_or_default();
    query.push_str(&format!(
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={}&X-Amz-Date={amz_date}&X-Amz-Expires={expires_secs}&X-Amz-SignedHeaders=host",
        canonical::uri_encode(&format!("{access_key}/{scope}"), true)
    ));
    let creq = canonical_request(
        method.as_str(),
        uri.path(),
        &canonical_query(&query, None),
        &format!("host:{host}\n"),
        "host",
        "UNSIGNED-PAYLOAD",
    );
    let key = canonical::signing_key(secret, date, region, "s3");
    let signature = hex::encode(hmac(&key, string_to_sign(&amz_date, &scope, &creq).as_bytes()));
    format!("{}?{query}&X-Amz-Signature={signature}", uri.path())
}

/// The value of a SigV2 Authorization header (`AWS AK:signature`). Uses the Date header (or
/// x-amz-date) already in `headers`.
pub fn sign_v2(method: &Method, uri: &Uri, headers: &HeaderMap, access_key: &str, secret: &str) -> String {
    let date = if headers.contains_key("x-amz-date") {
        String::new()
    } else {
        super::header_str(headers, "date").unwrap_or("").to_owned()
    };
    let sts = super::v2::string_to_sign(
        method.as_str(),
        uri.path(),
        uri.query().unwrap_or(""),
        headers,
        &date,
        None,
    );
    format!("AWS {access_key}:{}", super::v2::hmac_sha1_b64(secret, &sts))
}

/// A SigV2 presigned URL (path and query) valid until `expires` (epoch seconds).
pub fn presign_v2(method: &Method, uri: &Uri, access_key: &str, secret: &str, expires: i64) -> String {
    let sts = super::v2::string_to_sign(
        method.as_str(),
        uri.path(),
        uri.query().unwrap_or(""),
        &HeaderMap::new(),
        &expires.to_string(),
        None,
    );
    let sig = super::v2::hmac_sha1_b64(secret, &sts);
    let sep = if uri.query().is_some() { "&" } else { "?" };
    format!(
        "{}{sep}AWSAccessKeyId={access_key}&Expires={expires}&Signature={}",
        uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"),
        canonical::uri_encode(&sig, true)
    )
}

/// Encode `data` as a signed aws-chunked body (STREAMING-AWS4-HMAC-SHA256-PAYLOAD), chunks of
/// `chunk_size`, chained from `seed_signature` (the request's own signature).
pub fn chunked_signed_body(
    data: &[u8],
    chunk_size: usize,
    seed_signature: &str,
    secret: &str,
    region: &str,
    amz_date: &str,
) -> Vec<u8> {
    let date = date_of(amz_date);
    let scope = format!("{date}/{region}/s3/aws4_request");
    let key = canonical::signing_key(secret, date, region, "s3");
    let mut previous = seed_signature.to_owned();
    let mut out = Vec::with_capacity(data.len() + 256);
    let mut chunks: Vec<&[u8]> = data.chunks(chunk_size.max(1)).collect();
    chunks.push(&[]);
    for chunk in chunks {
        let sts = format!(
            "AWS4-HMAC-SHA256-PAYLOAD\n{amz_date}\n{scope}\n{previous}\n{}\n{}",
            canonical::sha256_hex(b""),
            canonical::sha256_hex(chunk)
        );
        let sig = hex::encode(hmac(&key, sts.as_bytes()));
        out.extend_from_slice(format!("{:x};chunk-signature={sig}\r\n", chunk.len()).as_bytes());
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
        previous = sig;
    }
    out
}

/// Encode `data` as an unsigned aws-chunked body with trailers
/// (STREAMING-UNSIGNED-PAYLOAD-TRAILER).
pub fn chunked_unsigned_body(data: &[u8], chunk_size: usize, trailers: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 256);
    for chunk in data.chunks(chunk_size.max(1)) {
        out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n");
    for (n, v) in trailers {
        out.extend_from_slice(format!("{n}:{v}\r\n").as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out
}
