//! CORS: a bucket's rules (`PutBucketCors`), and the one decision that answers browsers —
//! preflight `OPTIONS` requests, the CORS headers of actual responses (errors included), and
//! the website endpoint's.
//!
//! [`evaluate`] decides, for a request's `Origin`, method and requested headers:
//!
//! 1. No `Origin`: not a CORS request (a preflight without one is 400 BadRequest).
//! 2. A preflight needs `Access-Control-Request-Method` (400 BadRequest without it); an
//!    actual request is judged by that header when it carries one, else by its own method.
//! 3. A bucket without rules: a preflight is 403 AccessForbidden "CORS is not enabled for this
//!    bucket"; an actual response gets no CORS header.
//! 4. The first rule, in document order, that matches wins. A rule matches when one of its
//!    AllowedOrigins matches the origin (exactly, or around its one `*`: `*`,
//!    `*.example.com`, `http://*.example.com`, `start*end`), the method is one of its
//!    AllowedMethods, and every requested header (preflight) matches one of its
//!    AllowedHeaders (case-insensitive, with the same one-`*` wildcards).
//! 5. No rule matches: a preflight is 403 AccessForbidden; an actual response gets no CORS
//!    header.
//! 6. The answer: `Access-Control-Allow-Origin` is `*` for a rule whose origin is `*`, else the
//!    request's origin (then with `Access-Control-Allow-Credentials: true`); the rule's
//!    methods; for a preflight the requested headers and the rule's MaxAgeSeconds; the rule's
//!    ExposeHeaders; and `Vary: Origin, Access-Control-Request-Headers,
//!    Access-Control-Request-Method`.

use ksan_types::{ErrorCode, S3Error, S3Result};
use serde::{Deserialize, Serialize};

use crate::config::{BucketConfig, BucketState};
use crate::keys::ConfigKind;

/// The methods a rule may allow.
pub const METHODS: [&str; 5] = ["GET", "PUT", "HEAD", "POST", "DELETE"];
/// Most rules a configuration holds.
pub const MAX_RULES: usize = 100;

/// One CORS rule.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct CorsRule {
    /// Its ID, if it has one.
    pub id: Option<String>,
    /// `GET`, `PUT`, `HEAD`, `POST`, `DELETE`.
    pub allowed_methods: Vec<String>,
    /// Origins, each with at most one `*`.
    pub allowed_origins: Vec<String>,
    /// Headers a preflight may ask for, each with at most one `*`.
    pub allowed_headers: Vec<String>,
    /// Headers the browser may let scripts read.
    pub expose_headers: Vec<String>,
    /// How long a browser may cache the preflight answer.
    pub max_age_seconds: Option<i64>,
}

/// A bucket's CORS configuration: its rules, in order.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct CorsConfig(pub Vec<CorsRule>);

fn invalid(msg: String) -> S3Error {
    S3Error::new(ErrorCode::InvalidRequest).msg(msg)
}

impl BucketConfig for CorsConfig {
    const KIND: ConfigKind = ConfigKind::Cors;
    const NOT_FOUND: Option<ErrorCode> = Some(ErrorCode::NoSuchCORSConfiguration);
    const DIGEST_REQUIRED: bool = true;

    /// S3's checks: 1 to 100 rules; each with a method and an origin; known methods only;
    /// at most one `*` per origin and per allowed header; no `*` in expose headers.
    fn validate(&self, _bucket: &BucketState) -> S3Result<()> {
        if self.0.is_empty() {
            return Err(S3Error::new(ErrorCode::MalformedXML));
        }
        if self.0.len() > MAX_RULES {
            return Err(invalid(format!(
                "The number of CORS rules should not exceed allowed limit of {MAX_RULES} rules."
            )));
        }
        for rule in &self.0 {
            if rule.allowed_methods.is_empty() || rule.allowed_origins.is_empty() {
                return Err(S3Error::new(ErrorCode::MalformedXML));
            }
            if let Some(m) = rule.allowed_methods.iter().find(|m| !METHODS.contains(&m.as_str())) {
                return Err(invalid(format!(
                    "Found unsupported HTTP method in CORS config. Unsupported method is {m}"
                )));
            }
            if let Some(o) = rule.allowed_origins.iter().find(|o| o.matches('*').count() > 1) {
                return Err(invalid(format!(
                    "AllowedOrigin \"{o}\" can not have more than one wildcard."
                )));
            }
            if let Some(h) = rule.allowed_headers.iter().find(|h| h.matches('*').count() > 1) {
                return Err(invalid(format!(
                    "AllowedHeader \"{h}\" can not have more than one wildcard."
                )));
            }
            if let Some(h) = rule.expose_headers.iter().find(|h| h.contains('*')) {
                return Err(invalid(format!(
                    "ExposeHeader \"{h}\" contains wildcard. We currently do not support wildcard for ExposeHeader."
                )));
            }
            if rule.id.as_ref().is_some_and(|id| id.chars().count() > 255) {
                return Err(S3Error::invalid_argument(
                    "The ID of a rule is at most 255 characters",
                    "ID",
                    rule.id.clone().unwrap_or_default(),
                ));
            }
        }
        Ok(())
    }
}

/// `pattern` with at most one `*` against `value`.
fn wildcard_match(pattern: &str, value: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == value,
        Some((prefix, suffix)) => {
            value.len() >= prefix.len() + suffix.len() && value.starts_with(prefix) && value.ends_with(suffix)
        }
    }
}

/// What kind of request is being judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CorsKind {
    /// An `OPTIONS` preflight.
    Preflight,
    /// Any other request, whose response may carry CORS headers.
    Actual,
}

/// The CORS-relevant parts of a request.
#[derive(Debug, Clone, Copy)]
pub struct CorsRequest<'a> {
    /// Preflight or actual.
    pub kind: CorsKind,
    /// `Origin`.
    pub origin: Option<&'a str>,
    /// The request's own method.
    pub method: &'a str,
    /// `Access-Control-Request-Method`.
    pub request_method: Option<&'a str>,
    /// `Access-Control-Request-Headers`, as sent.
    pub request_headers: Option<&'a str>,
}

/// The CORS headers of an answer, as (name, value) pairs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorsHeaders(pub Vec<(&'static str, String)>);

impl CorsHeaders {
    /// The value of one header, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }
}

/// The `Vary` S3 sends with CORS answers.
pub const VARY: &str = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method";

/// The decision (see the module doc). `Ok(None)`: not a CORS request, or an actual request no
/// rule allows (no header is added). `Err`: a refused preflight.
pub fn evaluate(config: Option<&CorsConfig>, req: &CorsRequest<'_>) -> S3Result<Option<CorsHeaders>> {
    let preflight = req.kind == CorsKind::Preflight;
    // 1.
    let Some(origin) = req.origin else {
        return if preflight {
            Err(S3Error::new(ErrorCode::BadRequest).msg("Insufficient information. Origin request header needed."))
        } else {
            Ok(None)
        };
    };
    // 2.
    let method = match (req.kind, req.request_method) {
        (_, Some(m)) => m,
        (CorsKind::Preflight, None) => {
            return Err(S3Error::new(ErrorCode::BadRequest).msg("Invalid Access-Control-Request-Method: null"));
        }
        (CorsKind::Actual, None) => req.method,
    };
    let requested: Vec<String> = if preflight {
        req.request_headers
            .unwrap_or("")
            .split(',')
            .map(|h| h.trim().to_ascii_lowercase())
            .filter(|h| !h.is_empty())
            .collect()
    } else {
        Vec::new()
    };
    // 3.
    let Some(config) = config else {
        return if preflight {
            Err(S3Error::new(ErrorCode::AccessForbidden).msg("CORSResponse: CORS is not enabled for this bucket."))
        } else {
            Ok(None)
        };
    };
    // 4.
    let found = config.0.iter().find_map(|rule| {
        let matched_origin = rule.allowed_origins.iter().find(|o| wildcard_match(o, origin))?;
        if !rule.allowed_methods.iter().any(|m| m == method) {
            return None;
        }
        let headers_ok = requested.iter().all(|h| {
            rule.allowed_headers
                .iter()
                .any(|a| wildcard_match(&a.to_ascii_lowercase(), h))
        });
        headers_ok.then_some((rule, matched_origin))
    });
    // 5.
    let Some((rule, matched_origin)) = found else {
        return if preflight {
            Err(S3Error::new(ErrorCode::AccessForbidden).msg(
                "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.",
            ))
        } else {
            Ok(None)
        };
    };
    // 6.
    let mut h = Vec::new();
    if matched_origin == "*" {
        h.push(("access-control-allow-origin", "*".to_owned()));
    } else {
        h.push(("access-control-allow-origin", origin.to_owned()));
        h.push(("access-control-allow-credentials", "true".to_owned()));
    }
    h.push(("access-control-allow-methods", rule.allowed_methods.join(", ")));
    if preflight && !requested.is_empty() {
        h.push(("access-control-allow-headers", requested.join(", ")));
    }
    if !rule.expose_headers.is_empty() {
        h.push(("access-control-expose-headers", rule.expose_headers.join(", ")));
    }
    if preflight && let Some(age) = rule.max_age_seconds {
        h.push(("access-control-max-age", age.to_string()));
    }
    h.push(("vary", VARY.to_owned()));
    Ok(Some(CorsHeaders(h)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(methods: &[&str], origins: &[&str], headers: &[&str]) -> CorsRule {
        CorsRule {
            allowed_methods: methods.iter().map(|s| s.to_string()).collect(),
            allowed_origins: origins.iter().map(|s| s.to_string()).collect(),
            allowed_headers: headers.iter().map(|s| s.to_string()).collect(),
            ..CorsRule::default()
        }
    }

    fn pre<'a>(origin: Option<&'a str>, method: Option<&'a str>, headers: Option<&'a str>) -> CorsRequest<'a> {
        CorsRequest {
            kind: CorsKind::Preflight,
            origin,
            method: "OPTIONS",
            request_method: method,
            request_headers: headers,
        }
    }

    fn actual<'a>(origin: &'a str, method: &'a str) -> CorsRequest<'a> {
        CorsRequest {
            kind: CorsKind::Actual,
            origin: Some(origin),
            method,
            request_method: None,
            request_headers: None,
        }
    }

    fn bucket() -> BucketState {
        crate::config::test_bucket()
    }

    #[test]
    fn origins_match_around_one_wildcard() {
        for (pattern, value, yes) in [
            ("*", "anything", true),
            ("*.example.com", "a.example.com", true),
            ("*.example.com", "example.com", false),
            ("http://*.example.com", "http://x.y.example.com", true),
            ("http://*.example.com", "https://x.example.com", false),
            ("start*end", "startend", true),
            ("start*end", "start12end", true),
            ("start*end", "0start12end", false),
            ("prefix*", "prefix.suffix", true),
            ("https://app.example", "https://app.example", true),
            ("https://app.example", "https://app.example.evil", false),
            ("ab*ba", "aba", false),
        ] {
            assert_eq!(wildcard_match(pattern, value), yes, "{pattern} ~ {value}");
        }
    }

    #[test]
    fn preflights_as_s3_answers_them() {
        let config = CorsConfig(vec![
            rule(&["GET"], &["*suffix"], &[]),
            rule(&["PUT", "POST"], &["https://app.example"], &["content-type", "x-amz-*"]),
            rule(&["GET"], &["*"], &[]),
        ]);
        let c = Some(&config);
        assert_eq!(
            evaluate(c, &pre(None, Some("GET"), None)).unwrap_err().code,
            ErrorCode::BadRequest
        );
        assert_eq!(
            evaluate(c, &pre(Some("x"), None, None)).unwrap_err().code,
            ErrorCode::BadRequest
        );
        let e = evaluate(None, &pre(Some("x"), Some("GET"), None)).unwrap_err();
        assert_eq!(e.code, ErrorCode::AccessForbidden);
        assert!(e.message.contains("not enabled"));
        // first match wins: the *suffix rule, with credentials
        let h = evaluate(c, &pre(Some("a.suffix"), Some("GET"), None)).unwrap().unwrap();
        assert_eq!(h.get("access-control-allow-origin"), Some("a.suffix"));
        assert_eq!(h.get("access-control-allow-credentials"), Some("true"));
        assert_eq!(h.get("vary"), Some(VARY));
        // the * rule: "*", no credentials
        let h = evaluate(c, &pre(Some("other"), Some("GET"), None)).unwrap().unwrap();
        assert_eq!(h.get("access-control-allow-origin"), Some("*"));
        assert_eq!(h.get("access-control-allow-credentials"), None);
        // headers: every requested one must be allowed (case-insensitive, wildcards)
        let h = evaluate(
            c,
            &pre(
                Some("https://app.example"),
                Some("PUT"),
                Some("Content-Type, X-Amz-Meta-A"),
            ),
        )
        .unwrap()
        .unwrap();
        assert_eq!(h.get("access-control-allow-methods"), Some("PUT, POST"));
        assert_eq!(
            h.get("access-control-allow-headers"),
            Some("content-type, x-amz-meta-a")
        );
        let e = evaluate(c, &pre(Some("https://app.example"), Some("PUT"), Some("authorization"))).unwrap_err();
        assert_eq!(e.code, ErrorCode::AccessForbidden);
        // no rule for the method
        assert!(evaluate(c, &pre(Some("a.suffix"), Some("DELETE"), None)).is_err());
    }

    #[test]
    fn actual_requests_get_headers_only_when_a_rule_allows() {
        let mut r = rule(&["GET"], &["*.get"], &[]);
        r.expose_headers = vec!["x-amz-meta-a".into(), "etag".into()];
        r.max_age_seconds = Some(30);
        let config = CorsConfig(vec![r, rule(&["PUT"], &["*.put"], &[])]);
        let c = Some(&config);
        let h = evaluate(c, &actual("a.get", "GET")).unwrap().unwrap();
        assert_eq!(h.get("access-control-expose-headers"), Some("x-amz-meta-a, etag"));
        assert_eq!(h.get("access-control-max-age"), None, "max age is for preflights");
        assert_eq!(evaluate(c, &actual("a.get", "PUT")).unwrap(), None);
        assert_eq!(evaluate(None, &actual("a.get", "GET")).unwrap(), None);
        // judged by Access-Control-Request-Method when it is sent
        let req = CorsRequest {
            request_method: Some("GET"),
            ..actual("a.get", "PUT")
        };
        assert!(evaluate(c, &req).unwrap().is_some());
        let req = CorsRequest {
            origin: None,
            ..actual("a.get", "GET")
        };
        assert_eq!(evaluate(c, &req).unwrap(), None);
    }

    #[test]
    fn documents_are_checked_as_s3_checks_them() {
        let ok = CorsConfig(vec![rule(&["GET", "HEAD"], &["*"], &["*"])]);
        assert!(ok.validate(&bucket()).is_ok());
        let code = |c: CorsConfig| c.validate(&bucket()).unwrap_err().code;
        assert_eq!(code(CorsConfig(vec![])), ErrorCode::MalformedXML);
        assert_eq!(
            code(CorsConfig(vec![rule(&["PATCH"], &["*"], &[])])),
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            code(CorsConfig(vec![rule(&["GET"], &["*.*"], &[])])),
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            code(CorsConfig(vec![rule(&["GET"], &["*"], &["a*b*"])])),
            ErrorCode::InvalidRequest
        );
        assert_eq!(code(CorsConfig(vec![rule(&[], &["*"], &[])])), ErrorCode::MalformedXML);
        let mut expose = rule(&["GET"], &["*"], &[]);
        expose.expose_headers = vec!["*".into()];
        assert_eq!(code(CorsConfig(vec![expose])), ErrorCode::InvalidRequest);
        let many = CorsConfig(vec![rule(&["GET"], &["*"], &[]); MAX_RULES + 1]);
        assert_eq!(code(many), ErrorCode::InvalidRequest);
    }
}
