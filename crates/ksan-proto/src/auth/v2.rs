//! SigV2: `Authorization: AWS AK:signature` and `?AWSAccessKeyId=&Expires=&Signature=`.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use http::HeaderMap;
use ksan_types::{ErrorCode, S3Error};
use percent_encoding::percent_decode_str;
use sha1::Sha1;

use super::{
    AuthRequest, Authenticated, PayloadCheck, SecretLookup, SignatureKind, access_denied, check_skew, constant_time_eq,
    header_str, parse_http_date, signature_mismatch,
};

/// Sub-resources that are part of the signed resource, sorted.
const SUB_RESOURCES: &[&str] = &[
    "acl",
    "attributes",
    "cors",
    "delete",
    "encryption",
    "legal-hold",
    "lifecycle",
    "location",
    "logging",
    "notification",
    "object-lock",
    "ownershipControls",
    "partNumber",
    "policy",
    "policyStatus",
    "publicAccessBlock",
    "replication",
    "requestPayment",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
    "restore",
    "retention",
    "tagging",
    "torrent",
    "uploadId",
    "uploads",
    "versionId",
    "versioning",
    "versions",
    "website",
];

pub fn hmac_sha1_b64(secret: &str, data: &str) -> String {
    let mut mac = match Hmac::<Sha1>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(data.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// The SigV2 string to sign. `date` is the Date header (header auth) or Expires (query auth).
pub fn string_to_sign(
    method: &str,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    date: &str,
    resource_prefix: Option<&str>,
) -> String {
    let h = |n: &str| header_str(headers, n).unwrap_or("").trim().to_owned();
    let mut amz: Vec<(String, String)> = Vec::new();
    for (name, value) in headers {
        let n = name.as_str();
        if n.starts_with("x-amz-") {
            let v = value.to_str().unwrap_or("").trim().to_owned();
            match amz.iter_mut().find(|(k, _)| k == n) {
                Some((_, existing)) => {
                    existing.push(',');
                    existing.push_str(&v);
                }
                None => amz.push((n.to_owned(), v)),
            }
        }
    }
    amz.sort();
    let mut s = format!("{method}\n{}\n{}\n{date}\n", h("content-md5"), h("content-type"));
    for (k, v) in &amz {
        s.push_str(k);
        s.push(':');
        s.push_str(v);
        s.push('\n');
    }
    if let Some(prefix) = resource_prefix {
        s.push_str(prefix);
    }
    s.push_str(path);
    let mut subs: Vec<(String, Option<String>)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .filter_map(|p| {
            let (n, v) = match p.split_once('=') {
                Some((n, v)) => (n, Some(percent_decode_str(v).decode_utf8_lossy().into_owned())),
                None => (p, None),
            };
            SUB_RESOURCES.contains(&n).then(|| (n.to_owned(), v))
        })
        .collect();
    subs.sort();
    for (i, (n, v)) in subs.iter().enumerate() {
        s.push(if i == 0 { '?' } else { '&' });
        s.push_str(n);
        if let Some(v) = v {
            s.push('=');
            s.push_str(v);
        }
    }
    s
}

/// Check a SigV2 signature. Clients sign a bucket's resource as `/bucket` or `/bucket/`
/// (botocore does the latter), so a bare bucket path is tried both ways.
fn verify(
    req: &AuthRequest<'_>,
    query: &str,
    dates: &[&str],
    secret: &str,
    signature: &str,
    access_key: &str,
) -> Result<(), S3Error> {
    let path = req.uri.path();
    let bucket_only = req.v2_resource_prefix.is_none() && path.len() > 1 && !path[1..].contains('/');
    let with_slash = format!("{path}/");
    let candidates: &[&str] = if bucket_only { &[path, &with_slash] } else { &[path] };
    let mut last = String::new();
    for date in dates {
        for p in candidates {
            let sts = string_to_sign(req.method.as_str(), p, query, req.headers, date, req.v2_resource_prefix);
            if constant_time_eq(&hmac_sha1_b64(secret, &sts), signature) {
                return Ok(());
            }
            last = sts;
        }
    }
    Err(signature_mismatch(&last, access_key))
}

pub async fn header(
    req: &AuthRequest<'_>,
    authorization: &str,
    secrets: &dyn SecretLookup,
) -> Result<Authenticated, S3Error> {
    let invalid = || {
        S3Error::new(ErrorCode::InvalidArgument)
            .msg("AWS authorization header is invalid.  Expected AwsAccessKeyId:signature")
            .with("ArgumentName", "Authorization")
            .with("ArgumentValue", authorization.to_owned())
    };
    let (access_key, signature) = authorization[4..].trim().split_once(':').ok_or_else(invalid)?;
    if access_key.is_empty() || signature.is_empty() {
        return Err(invalid());
    }
    // x-amz-date replaces Date for the time check; the Date line of the string to sign is
    // then empty per the spec, but botocore signs the Date header there anyway: accept both.
    let date_header = header_str(req.headers, "date").unwrap_or("");
    let (t, date_lines) = match header_str(req.headers, "x-amz-date") {
        Some(d) => (parse_http_date(d), vec!["", date_header]),
        None => (parse_http_date(date_header), vec![date_header]),
    };
    let t = t.ok_or_else(|| access_denied("AWS authentication requires a valid Date or x-amz-date header"))?;
    if t.year() < 1970 {
        return Err(access_denied(
            "AWS authentication requires a valid Date or x-amz-date header",
        ));
    }
    let secret = secrets
        .secret(access_key)
        .await?
        .ok_or_else(|| S3Error::new(ErrorCode::InvalidAccessKeyId).with("AWSAccessKeyId", access_key.to_owned()))?;
    verify(
        req,
        req.uri.query().unwrap_or(""),
        &date_lines,
        &secret,
        signature,
        access_key,
    )?;
    check_skew(t, req.now)?;
    Ok(Authenticated {
        access_key: Some(access_key.to_owned()),
        kind: SignatureKind::V2Header,
        payload: PayloadCheck::None,
    })
}

pub async fn presigned(req: &AuthRequest<'_>, secrets: &dyn SecretLookup) -> Result<Authenticated, S3Error> {
    let raw = req.uri.query().unwrap_or("");
    let get = |name: &str| -> Option<String> {
        raw.split('&').find_map(|p| {
            let (n, v) = p.split_once('=').unwrap_or((p, ""));
            (n == name).then(|| {
                percent_decode_str(&v.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            })
        })
    };
    let (Some(access_key), Some(signature), Some(expires)) = (get("AWSAccessKeyId"), get("Signature"), get("Expires"))
    else {
        return Err(access_denied(
            "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters",
        ));
    };
    let expires_at: i64 = expires
        .parse()
        .map_err(|_| access_denied("Invalid date (should be seconds since epoch)"))?;
    if req.now.unix_timestamp() > expires_at {
        return Err(access_denied("Request has expired")
            .with("Expires", expires.clone())
            .with("ServerTime", req.now.unix_timestamp().to_string()));
    }
    let secret = secrets
        .secret(&access_key)
        .await?
        .ok_or_else(|| S3Error::new(ErrorCode::InvalidAccessKeyId).with("AWSAccessKeyId", access_key.clone()))?;
    verify(req, raw, &[expires.as_str()], &secret, &signature, &access_key)?;
    Ok(Authenticated {
        access_key: Some(access_key),
        kind: SignatureKind::V2Query,
        payload: PayloadCheck::None,
    })
}
