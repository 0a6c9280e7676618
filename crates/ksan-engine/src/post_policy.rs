//! The policy of a browser POST upload (PostObject): what the form may contain.
//!
//! [`PostPolicy::parse`] reads the base64-decoded JSON document; [`PostPolicy::check`] decides a
//! form against it:
//!
//! 1. The document is an object with exactly `expiration` (ISO 8601) and a non-empty
//!    `conditions` list, keys case-sensitive; anything else is 400 InvalidPolicyDocument.
//! 2. A condition is `{"field": "value"}` (exact match), `["eq", "$field", "value"]`,
//!    `["starts-with", "$field", "prefix"]` (operators and field names without regard to case;
//!    an empty prefix allows any value, or none) or `["content-length-range", min, max]`
//!    (non-negative integers).
//! 3. An expired policy is 403 AccessDenied "Invalid according to Policy: Policy expired."
//! 4. Every condition must hold; the bucket is the field `bucket`. A condition on a field the
//!    form does not have fails.
//! 5. Every form field but `file`, `policy`, the signature fields (`signature`,
//!    `x-amz-signature`, `awsaccesskeyid`), `x-amz-checksum-*` (checked against the file
//!    itself, as S3 accepts them) and `x-ignore-*` must be named by a condition (403 "Extra
//!    input fields").
//! 6. The answer is the allowed content length range, which the upload is then held to
//!    (EntityTooSmall / EntityTooLarge).

use ksan_types::{ErrorCode, S3Error, S3Result};
use serde_json::Value;

/// One condition.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Condition {
    Eq(String, String),
    StartsWith(String, String),
    Length(u64, u64),
}

/// A parsed POST policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostPolicy {
    /// When it expires (ms since the epoch).
    pub expiration_ms: i64,
    conditions: Vec<Condition>,
}

fn invalid(msg: impl Into<String>) -> S3Error {
    S3Error::new(ErrorCode::InvalidPolicyDocument).msg(format!("Invalid Policy: {}", msg.into()))
}

fn failed(what: String) -> S3Error {
    S3Error::new(ErrorCode::AccessDenied).msg(format!("Invalid according to Policy: {what}"))
}

/// `$field` → `field`, lower-cased (form field names are case-insensitive).
fn field_name(v: &Value) -> S3Result<String> {
    let s = v
        .as_str()
        .ok_or_else(|| invalid("Invalid Condition: the field must be a string."))?;
    Ok(s.strip_prefix('$').unwrap_or(s).to_ascii_lowercase())
}

fn text(v: &Value) -> S3Result<String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(invalid("Invalid Condition: the value must be a string.")),
    }
}

fn length_bound(v: &Value) -> S3Result<u64> {
    let n = match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    n.and_then(|n| u64::try_from(n).ok())
        .ok_or_else(|| invalid("Invalid content-length-range: the bounds must be non-negative integers."))
}

/// An ISO 8601 time in ms.
fn parse_time(s: &str) -> Option<i64> {
    if !(s.contains('T') && s.ends_with('Z')) {
        return None;
    }
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
    Some((t.unix_timestamp_nanos() / 1_000_000) as i64)
}

impl PostPolicy {
    /// Steps 1 and 2.
    pub fn parse(json: &[u8]) -> S3Result<PostPolicy> {
        let doc: Value = serde_json::from_slice(json).map_err(|_| invalid("Invalid JSON."))?;
        let obj = doc.as_object().ok_or_else(|| invalid("Invalid JSON."))?;
        if let Some(k) = obj.keys().find(|k| *k != "expiration" && *k != "conditions") {
            return Err(invalid(format!("Unexpected field in policy: {k}")));
        }
        let exp = obj
            .get("expiration")
            .ok_or_else(|| invalid("Policy missing expiration."))?;
        let exp = exp.as_str().ok_or_else(|| invalid("Invalid 'expiration' value."))?;
        let expiration_ms = parse_time(exp).ok_or_else(|| invalid(format!("Invalid 'expiration' value: '{exp}'")))?;
        let list = obj
            .get("conditions")
            .and_then(Value::as_array)
            .filter(|l| !l.is_empty())
            .ok_or_else(|| invalid("Policy missing conditions."))?;
        let mut conditions = Vec::with_capacity(list.len());
        for c in list {
            conditions.push(match c {
                Value::Object(m) if m.len() == 1 => {
                    let (k, v) = m.iter().next().ok_or_else(|| invalid("Invalid Condition."))?;
                    Condition::Eq(k.to_ascii_lowercase(), text(v)?)
                }
                Value::Array(a) => match (
                    a.first()
                        .and_then(Value::as_str)
                        .map(str::to_ascii_lowercase)
                        .as_deref(),
                    a.len(),
                ) {
                    (Some("eq"), 3) => Condition::Eq(field_name(&a[1])?, text(&a[2])?),
                    (Some("starts-with"), 3) => Condition::StartsWith(field_name(&a[1])?, text(&a[2])?),
                    (Some("content-length-range"), 3) => {
                        let (min, max) = (length_bound(&a[1])?, length_bound(&a[2])?);
                        if min > max {
                            return Err(invalid("Invalid content-length-range: min above max."));
                        }
                        Condition::Length(min, max)
                    }
                    (Some("content-length-range"), _) => {
                        return Err(invalid("Invalid content-length-range: two bounds expected."));
                    }
                    _ => return Err(invalid(format!("Invalid Condition: {c}"))),
                },
                _ => return Err(invalid(format!("Invalid Condition: {c}"))),
            });
        }
        Ok(PostPolicy {
            expiration_ms,
            conditions,
        })
    }

    /// Steps 3 to 6, for the form's `fields` (names as sent) posted to `bucket`.
    pub fn check(&self, fields: &[(String, String)], bucket: &str, now_ms: i64) -> S3Result<Option<(u64, u64)>> {
        if self.expiration_ms <= now_ms {
            return Err(failed("Policy expired.".into()));
        }
        let value = |name: &str| -> Option<&str> {
            if name == "bucket" {
                return Some(bucket);
            }
            fields
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        let mut range = None;
        for c in &self.conditions {
            match c {
                Condition::Eq(f, want) => {
                    if value(f) != Some(want.as_str()) {
                        return Err(failed(format!(
                            "Policy Condition failed: [\"eq\", \"${f}\", \"{want}\"]"
                        )));
                    }
                }
                Condition::StartsWith(f, prefix) => {
                    let holds = match value(f) {
                        Some(v) => v.starts_with(prefix.as_str()),
                        None => prefix.is_empty(),
                    };
                    if !holds {
                        return Err(failed(format!(
                            "Policy Condition failed: [\"starts-with\", \"${f}\", \"{prefix}\"]"
                        )));
                    }
                }
                Condition::Length(min, max) => range = Some((*min, *max)),
            }
        }
        let exempt = |k: &str| {
            matches!(
                k,
                "file" | "policy" | "signature" | "x-amz-signature" | "awsaccesskeyid"
            ) || k.starts_with("x-ignore-")
                || k.starts_with("x-amz-checksum-")
        };
        for (k, _) in fields {
            let k = k.to_ascii_lowercase();
            let named = self.conditions.iter().any(|c| match c {
                Condition::Eq(f, _) | Condition::StartsWith(f, _) => *f == k,
                Condition::Length(..) => false,
            });
            if !exempt(&k) && !named {
                return Err(failed(format!("Extra input fields: {k}")));
            }
        }
        Ok(range)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000_000;

    fn policy(conditions: &str) -> S3Result<PostPolicy> {
        PostPolicy::parse(format!(r#"{{"expiration": "2030-01-01T00:00:00Z", "conditions": {conditions}}}"#).as_bytes())
    }

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn documents_are_checked() {
        for bad in [
            "not json",
            r#"{"conditions": [{"bucket": "b"}]}"#,
            r#"{"Expiration": "2030-01-01T00:00:00Z", "conditions": [{"bucket": "b"}]}"#,
            r#"{"expiration": "2030-01-01T00:00:00Z"}"#,
            r#"{"expiration": "2030-01-01T00:00:00Z", "conditions": []}"#,
            r#"{"expiration": "next week", "conditions": [{"bucket": "b"}]}"#,
            r#"{"expiration": "2030-01-01 00:00:00+00:00", "conditions": [{"bucket": "b"}]}"#,
        ] {
            assert_eq!(
                PostPolicy::parse(bad.as_bytes()).unwrap_err().code,
                ErrorCode::InvalidPolicyDocument,
                "{bad}"
            );
        }
        for bad in [
            r#"[["begins-with", "$key", ""]]"#,
            r#"[["content-length-range", 0]]"#,
            r#"[["content-length-range", -1, 0]]"#,
            r#"[["content-length-range", 5, 1]]"#,
        ] {
            assert_eq!(policy(bad).unwrap_err().code, ErrorCode::InvalidPolicyDocument, "{bad}");
        }
    }

    #[test]
    fn forms_are_decided() {
        let p = policy(
            r#"[{"bucket": "b"}, ["starts-with", "$key", "foo"], {"acl": "private"},
                ["starts-with", "$Content-Type", ""], ["content-length-range", 0, 1024]]"#,
        )
        .unwrap();
        let ok = form(&[
            ("key", "foo.txt"),
            ("ACL", "private"),
            ("content-type", "x"),
            ("AWSAccessKeyId", "A"),
            ("x-ignore-me", "1"),
        ]);
        assert_eq!(p.check(&ok, "b", NOW).unwrap(), Some((0, 1024)));
        assert_eq!(p.check(&ok, "other", NOW).unwrap_err().code, ErrorCode::AccessDenied);
        let bad_key = form(&[("key", "bar.txt"), ("acl", "private"), ("content-type", "x")]);
        assert_eq!(p.check(&bad_key, "b", NOW).unwrap_err().code, ErrorCode::AccessDenied);
        let extra = form(&[
            ("key", "foo"),
            ("acl", "private"),
            ("content-type", "x"),
            ("x-amz-meta-a", "1"),
        ]);
        let e = p.check(&extra, "b", NOW).unwrap_err();
        assert!(e.message.contains("Extra input fields: x-amz-meta-a"), "{}", e.message);
        let missing = form(&[("key", "foo"), ("content-type", "x")]);
        assert_eq!(p.check(&missing, "b", NOW).unwrap_err().code, ErrorCode::AccessDenied);
        let e = p.check(&ok, "b", 1_900_000_000_000).unwrap_err();
        assert!(e.message.contains("Policy expired."));
        // Operators and field names are case-insensitive; an empty prefix allows a missing field.
        let p = policy(r#"[{"bUcKeT": "b"}, ["StArTs-With", "$KeY", "foo"], ["starts-with", "$x-amz-meta-x", ""]]"#)
            .unwrap();
        assert!(p.check(&form(&[("key", "foo1")]), "b", NOW).is_ok());
    }

    proptest::proptest! {
        /// Any bytes: a decision or S3's error, never a panic.
        #[test]
        fn any_document_parses_or_is_refused(doc in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
            let _ = PostPolicy::parse(&doc).map(|p| p.check(&[], "b", NOW));
        }

        /// A form whose fields are exactly what the policy's exact conditions name passes;
        /// changing any value fails with AccessDenied.
        #[test]
        fn matching_forms_pass_and_changed_ones_fail(
            pairs in proptest::collection::btree_map("[a-z][a-z0-9-]{0,12}", "[ -~]{0,20}", 1..6),
            flip in 0usize..6,
        ) {
            let pairs: Vec<(String, String)> = pairs
                .into_iter()
                .filter(|(k, _)| !matches!(k.as_str(), "file" | "policy" | "signature" | "bucket" | "x-amz-signature" | "awsaccesskeyid") && !k.starts_with("x-ignore-") && !k.starts_with("x-amz-checksum-"))
                .collect();
            proptest::prop_assume!(!pairs.is_empty());
            let conditions: Vec<String> = pairs
                .iter()
                .map(|(k, v)| serde_json::json!({ k: v }).to_string())
                .collect();
            let p = policy(&format!("[{}]", conditions.join(","))).unwrap();
            proptest::prop_assert!(p.check(&pairs, "b", NOW).is_ok());
            let mut changed = pairs.clone();
            let i = flip % changed.len();
            changed[i].1.push('!');
            proptest::prop_assert_eq!(p.check(&changed, "b", NOW).unwrap_err().code, ErrorCode::AccessDenied);
        }
    }
}
