//! SigV4: the Authorization header and presigned query parameters.

use ksan_types::{ErrorCode, S3Error};
use percent_encoding::percent_decode_str;
use time::OffsetDateTime;

use super::canonical::{self, canonical_headers, canonical_query, canonical_request, hmac, string_to_sign};
use super::{
    AuthRequest, Authenticated, MAX_PRESIGN_EXPIRES, PayloadCheck, SecretLookup, SignatureKind, SigningKeyCache,
    StreamingContext, access_denied, check_skew, constant_time_eq, header_str, parse_amz_date, parse_http_date,
    signature_mismatch,
};

/// `AK/20130524/us-east-1/s3/aws4_request`
struct Credential<'a> {
    access_key: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
}

fn parse_credential(c: &str) -> Option<Credential<'_>> {
    let mut parts = c.rsplitn(5, '/');
    let terminal = parts.next()?;
    let service = parts.next()?;
    let region = parts.next()?;
    let date = parts.next()?;
    let access_key = parts.next()?;
    if terminal != "aws4_request" || date.len() != 8 || access_key.is_empty() {
        return None;
    }
    Some(Credential {
        access_key,
        date,
        region,
        service,
    })
}

fn malformed(msg: &'static str) -> S3Error {
    S3Error::new(ErrorCode::AuthorizationHeaderMalformed).msg(msg)
}

fn check_scope(
    cred: &Credential,
    amz_date: &str,
    region: &str,
    malformed_err: fn(&'static str) -> S3Error,
) -> Result<(), S3Error> {
    if cred.region != region {
        return Err(
            malformed_err("The authorization header is malformed; the region is wrong")
                .with("Region", region.to_owned()),
        );
    }
    if cred.service != "s3" {
        return Err(malformed_err(
            "The authorization header is malformed; incorrect service",
        ));
    }
    if !amz_date.starts_with(cred.date) {
        return Err(malformed_err(
            "The authorization header is malformed; the credential date does not match the request date",
        ));
    }
    Ok(())
}

/// Canonical path candidates: the path as sent, and the path re-encoded the AWS way (clients
/// differ in which characters they leave unencoded).
fn canonical_paths(raw: &str) -> Vec<String> {
    let decoded = percent_decode_str(raw).decode_utf8_lossy();
    let normalized = canonical::uri_encode(&decoded, false);
    if normalized == raw {
        vec![normalized]
    } else {
        vec![raw.to_owned(), normalized]
    }
}

/// Every `x-amz-*` header a request carries must be covered by its signature, as S3 requires:
/// otherwise whoever holds a presigned URL (or relays a signed request) could add
/// `x-amz-copy-source`, `x-amz-acl`, ... and have them acted on under the signer's authority.
/// `x-amz-content-sha256` is exempt (S3 does not require it signed; its value is the payload
/// hash the signature covers anyway).
fn check_all_amz_signed(headers: &http::HeaderMap, signed_headers: &str) -> Result<(), S3Error> {
    let mut unsigned: Vec<&str> = headers
        .keys()
        .map(|n| n.as_str())
        .filter(|n| n.starts_with("x-amz-") && *n != "x-amz-content-sha256")
        .filter(|n| !signed_headers.split(';').any(|s| s.eq_ignore_ascii_case(n)))
        .collect();
    if unsigned.is_empty() {
        return Ok(());
    }
    unsigned.sort_unstable();
    unsigned.dedup();
    Err(
        access_denied("There were headers present in the request which were not signed")
            .with("HeadersNotSigned", unsigned.join(", ")),
    )
}

/// Verify a signature against each canonical path candidate.
#[allow(clippy::too_many_arguments)]
fn verify(
    req: &AuthRequest<'_>,
    query: &str,
    signed_headers: &str,
    payload_hash: &str,
    amz_date: &str,
    scope: &str,
    key: &[u8; 32],
    signature: &str,
    access_key: &str,
) -> Result<(), S3Error> {
    let names: Vec<&str> = signed_headers.split(';').collect();
    let headers = canonical_headers(req.headers, &names)
        .ok_or_else(|| S3Error::new(ErrorCode::AccessDenied).msg("A signed header is missing from the request"))?;
    let mut last_sts = String::new();
    for path in canonical_paths(req.uri.path()) {
        let creq = canonical_request(
            req.method.as_str(),
            &path,
            query,
            &headers,
            signed_headers,
            payload_hash,
        );
        let sts = string_to_sign(amz_date, scope, &creq);
        let computed = hex::encode(hmac(key, sts.as_bytes()));
        if constant_time_eq(&computed, signature) {
            return Ok(());
        }
        last_sts = sts;
    }
    Err(signature_mismatch(&last_sts, access_key))
}

/// What x-amz-content-sha256 promises about the body.
fn payload_check(value: &str) -> Result<Option<PayloadCheck>, S3Error> {
    Ok(Some(match value {
        "UNSIGNED-PAYLOAD" => PayloadCheck::None,
        "STREAMING-UNSIGNED-PAYLOAD-TRAILER" => PayloadCheck::UnsignedTrailer,
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" | "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER" => return Ok(None),
        hex_digest => {
            let mut digest = [0u8; 32];
            hex::decode_to_slice(hex_digest, &mut digest).map_err(|_| {
                S3Error::new(ErrorCode::InvalidArgument)
                    .msg("x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid sha256 value.")
                    .with("ArgumentName", "x-amz-content-sha256")
                    .with("ArgumentValue", hex_digest.to_owned())
            })?;
            PayloadCheck::Sha256(digest)
        }
    }))
}

pub async fn header(
    req: &AuthRequest<'_>,
    authorization: &str,
    secrets: &dyn SecretLookup,
    cache: &SigningKeyCache,
) -> Result<Authenticated, S3Error> {
    let rest = authorization["AWS4-HMAC-SHA256".len()..].trim_start();
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let part = part.trim();
        match part.split_once('=') {
            Some(("Credential", v)) => credential = Some(v),
            Some(("SignedHeaders", v)) => signed_headers = Some(v),
            Some(("Signature", v)) => signature = Some(v),
            _ => {}
        }
    }
    let (Some(credential), Some(signed_headers), Some(signature)) = (credential, signed_headers, signature) else {
        return Err(malformed("The authorization header is malformed"));
    };
    let cred = parse_credential(credential)
        .ok_or_else(|| malformed("The authorization header is malformed; the Credential is mal-formed"))?;
    let amz_date = match header_str(req.headers, "x-amz-date") {
        Some(d) => d.to_owned(),
        None => match header_str(req.headers, "date").and_then(parse_http_date) {
            Some(t) => super::format_amz_date(t),
            None => {
                return Err(access_denied(
                    "AWS authentication requires a valid Date or x-amz-date header",
                ));
            }
        },
    };
    let t = parse_amz_date(&amz_date)
        .ok_or_else(|| access_denied("AWS authentication requires a valid Date or x-amz-date header"))?;
    check_scope(&cred, &amz_date, req.region, malformed)?;
    if !signed_headers.split(';').any(|h| h == "host") {
        return Err(access_denied("The host header must be signed"));
    }
    let Some(payload_hash) = header_str(req.headers, "x-amz-content-sha256") else {
        return Err(S3Error::new(ErrorCode::InvalidRequest)
            .msg("Missing required header for this request: x-amz-content-sha256"));
    };
    let check = payload_check(payload_hash)?;
    let secret = secrets.secret(cred.access_key).await?.ok_or_else(|| {
        S3Error::new(ErrorCode::InvalidAccessKeyId).with("AWSAccessKeyId", cred.access_key.to_owned())
    })?;
    let scope = format!("{}/{}/{}/aws4_request", cred.date, cred.region, cred.service);
    let key = cache.get(&secret, cred.access_key, cred.date, cred.region);
    let query = canonical_query(req.uri.query().unwrap_or(""), None);
    verify(
        req,
        &query,
        signed_headers,
        payload_hash,
        &amz_date,
        &scope,
        &key,
        signature,
        cred.access_key,
    )?;
    check_skew(t, req.now)?;
    check_all_amz_signed(req.headers, signed_headers)?;
    let payload = match check {
        Some(p) => p,
        None => PayloadCheck::Streaming(StreamingContext {
            seed_signature: signature.to_owned(),
            signing_key: key,
            amz_date: amz_date.clone(),
            scope,
            trailer: payload_hash.ends_with("-TRAILER"),
        }),
    };
    Ok(Authenticated {
        access_key: Some(cred.access_key.to_owned()),
        kind: SignatureKind::V4Header,
        payload,
    })
}

fn query_error(msg: &'static str) -> S3Error {
    S3Error::new(ErrorCode::AuthorizationQueryParametersError).msg(msg)
}

pub async fn presigned(
    req: &AuthRequest<'_>,
    secrets: &dyn SecretLookup,
    cache: &SigningKeyCache,
) -> Result<Authenticated, S3Error> {
    let raw = req.uri.query().unwrap_or("");
    let get = |name: &str| -> Option<String> {
        raw.split('&').find_map(|p| {
            let (n, v) = p.split_once('=').unwrap_or((p, ""));
            (n == name).then(|| percent_decode_str(v).decode_utf8_lossy().into_owned())
        })
    };
    let algorithm = get("X-Amz-Algorithm");
    if algorithm.as_deref() != Some("AWS4-HMAC-SHA256") {
        return Err(query_error("X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\""));
    }
    let (Some(credential), Some(amz_date), Some(expires), Some(signed_headers), Some(signature)) = (
        get("X-Amz-Credential"),
        get("X-Amz-Date"),
        get("X-Amz-Expires"),
        get("X-Amz-SignedHeaders"),
        get("X-Amz-Signature"),
    ) else {
        return Err(query_error(
            "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.",
        ));
    };
    let cred = parse_credential(&credential)
        .ok_or_else(|| query_error("Error parsing the X-Amz-Credential parameter; the Credential is mal-formed"))?;
    let t = parse_amz_date(&amz_date)
        .ok_or_else(|| query_error("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\""))?;
    let expires: i64 = expires
        .parse()
        .map_err(|_| query_error("X-Amz-Expires should be a number"))?;
    // Out of range is a malformed query to S3 (400), unlike an expired URL (403).
    if expires < 0 {
        return Err(query_error("X-Amz-Expires must be non-negative"));
    }
    if expires > MAX_PRESIGN_EXPIRES {
        return Err(query_error(
            "X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than 604800 seconds",
        ));
    }
    check_scope(&cred, &amz_date, req.region, query_error)?;
    let secret = secrets.secret(cred.access_key).await?.ok_or_else(|| {
        S3Error::new(ErrorCode::InvalidAccessKeyId).with("AWSAccessKeyId", cred.access_key.to_owned())
    })?;
    let scope = format!("{}/{}/{}/aws4_request", cred.date, cred.region, cred.service);
    let key = cache.get(&secret, cred.access_key, cred.date, cred.region);
    let query = canonical_query(raw, Some("X-Amz-Signature"));
    let payload_hash = header_str(req.headers, "x-amz-content-sha256").unwrap_or("UNSIGNED-PAYLOAD");
    verify(
        req,
        &query,
        &signed_headers,
        payload_hash,
        &amz_date,
        &scope,
        &key,
        &signature,
        cred.access_key,
    )?;
    check_all_amz_signed(req.headers, &signed_headers)?;
    if t > req.now + time::Duration::seconds(super::MAX_SKEW_SECS) {
        return Err(access_denied("Request is not valid yet"));
    }
    let expiry = t + time::Duration::seconds(expires);
    if req.now > expiry {
        return Err(access_denied("Request has expired")
            .with("X-Amz-Expires", expires.to_string())
            .with("Expires", format_iso(expiry))
            .with("ServerTime", format_iso(req.now)));
    }
    let payload = match header_str(req.headers, "x-amz-content-sha256") {
        Some(v) => payload_check(v)?.unwrap_or(PayloadCheck::None),
        None => PayloadCheck::None,
    };
    Ok(Authenticated {
        access_key: Some(cred.access_key.to_owned()),
        kind: SignatureKind::V4Query,
        payload,
    })
}

fn format_iso(t: OffsetDateTime) -> String {
    let f = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    t.format(&f).unwrap_or_default()
}
