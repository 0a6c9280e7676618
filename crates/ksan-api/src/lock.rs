//! Object lock on the wire: Put/GetObjectLockConfiguration, Put/GetObjectRetention,
//! Put/GetObjectLegalHold, the `x-amz-object-lock-*` headers of writes and reads, and the
//! governance bypass (`x-amz-bypass-governance-retention` with `s3:BypassGovernanceRetention`).
//! The rules are `ksan_engine::lock`'s.

use http::StatusCode;
use http::response::Builder;
use ksan_engine::lock::{LockMode, ObjectLock, ObjectLockConfig, Period, Retention};
use ksan_engine::objects::require_lock;
use ksan_proto::documents::{LegalHoldDoc, ObjectLockConfiguration, RetentionDoc};
use ksan_types::{ErrorCode, S3Action, S3Error, S3Result};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::headers::{format_iso8601, get};
use crate::{CONFIG_BODY_LIMIT, Ctx, HandlerResult, S3Api, document_response, empty_response, read_digested_document};

fn invalid(msg: &'static str) -> S3Error {
    S3Error::new(ErrorCode::InvalidArgument).msg(msg)
}

/// An ISO 8601 date (`2030-01-01T00:00:00Z`, fractions allowed) in ms.
fn parse_date(s: &str) -> Option<i64> {
    let t = OffsetDateTime::parse(s.trim(), &Rfc3339).ok()?;
    Some((t.unix_timestamp_nanos() / 1_000_000) as i64)
}

/// The lock a write's headers ask for, checked as S3 checks them.
pub(crate) fn from_headers(ctx: &Ctx) -> S3Result<ObjectLock> {
    let h = &ctx.headers;
    let mode = get(h, "x-amz-object-lock-mode");
    let until = get(h, "x-amz-object-lock-retain-until-date");
    let retention = match (mode, until) {
        (None, None) => None,
        (Some(_), None) | (None, Some(_)) => {
            return Err(invalid(
                "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied",
            ));
        }
        (Some(m), Some(u)) => {
            let mode = LockMode::parse(m).ok_or_else(|| invalid("Unknown wormMode directive."))?;
            let until_ms =
                parse_date(u).ok_or_else(|| invalid("The retain until date must be provided in ISO 8601 format"))?;
            if until_ms <= now_ms() {
                return Err(invalid("The retain until date must be in the future!"));
            }
            Some(Retention { mode, until_ms })
        }
    };
    let legal_hold = match get(h, "x-amz-object-lock-legal-hold") {
        None | Some("OFF") => false,
        Some("ON") => true,
        Some(_) => return Err(invalid("Legal Hold must be either of 'ON' or 'OFF'")),
    };
    Ok(ObjectLock { retention, legal_hold })
}

fn now_ms() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// The lock headers of a version, for GET and HEAD.
pub(crate) fn response_headers(mut b: Builder, lock: &ObjectLock) -> Builder {
    if let Some(r) = &lock.retention {
        b = b
            .header("x-amz-object-lock-mode", r.mode.as_str())
            .header("x-amz-object-lock-retain-until-date", format_iso8601(r.until_ms));
    }
    if lock.legal_hold {
        b = b.header("x-amz-object-lock-legal-hold", "ON");
    }
    b
}

impl S3Api {
    /// Does the request bypass governance retention: it says so, and may?
    pub(crate) fn bypasses_governance(&self, ctx: &Ctx, bucket: &ksan_engine::BucketState) -> bool {
        ctx.header("x-amz-bypass-governance-retention")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
            && self.may(ctx, bucket, S3Action::BypassGovernanceRetention)
    }

    pub(crate) async fn put_object_lock_configuration(&self, ctx: &Ctx) -> HandlerResult {
        let bucket = self.authorized_bucket(ctx).await?;
        let (doc, digest_sent) = read_digested_document::<ObjectLockConfiguration>(ctx, CONFIG_BODY_LIMIT).await?;
        if !doc.enabled {
            return Err(S3Error::new(ErrorCode::MalformedXML));
        }
        let default = match (doc.mode.as_deref().and_then(LockMode::parse), doc.days, doc.years) {
            (None, _, _) => None,
            (Some(m), Some(d), None) => Some((m, Period::Days(d))),
            (Some(m), None, Some(y)) => Some((m, Period::Years(y))),
            _ => return Err(S3Error::new(ErrorCode::MalformedXML)),
        };
        self.engine
            .put_config(bucket.name(), ObjectLockConfig { default }, digest_sent)
            .await?;
        empty_response(StatusCode::OK)
    }

    pub(crate) async fn get_object_lock_configuration(&self, ctx: &Ctx) -> HandlerResult {
        let bucket = self.authorized_bucket(ctx).await?;
        let c = bucket.require::<ObjectLockConfig>()?;
        let (mode, days, years) = match c.default {
            None => (None, None, None),
            Some((m, Period::Days(d))) => (Some(m.as_str().to_owned()), Some(d), None),
            Some((m, Period::Years(y))) => (Some(m.as_str().to_owned()), None, Some(y)),
        };
        document_response(&ObjectLockConfiguration {
            enabled: true,
            mode,
            days,
            years,
        })
    }

    pub(crate) async fn put_object_retention(&self, ctx: &Ctx) -> HandlerResult {
        let (bucket, handle) = self.authorized_object(ctx).await?;
        require_lock(&bucket)?;
        let (doc, digest_sent) = read_digested_document::<RetentionDoc>(ctx, CONFIG_BODY_LIMIT).await?;
        if !digest_sent {
            return Err(missing_digest());
        }
        let retention = match (doc.mode.as_deref().and_then(LockMode::parse), doc.retain_until) {
            (Some(mode), Some(u)) => Some(Retention {
                mode,
                until_ms: parse_date(&u).ok_or_else(|| S3Error::new(ErrorCode::MalformedXML))?,
            }),
            _ => None,
        };
        let bypass = self.bypasses_governance(ctx, &bucket);
        self.engine
            .set_retention(&bucket, &handle.version, retention, bypass)
            .await?;
        empty_response(StatusCode::OK)
    }

    pub(crate) async fn get_object_retention(&self, ctx: &Ctx) -> HandlerResult {
        let (bucket, handle) = self.authorized_object(ctx).await?;
        require_lock(&bucket)?;
        let Some(r) = handle.version.lock.retention else {
            return Err(S3Error::new(ErrorCode::NoSuchObjectLockConfiguration));
        };
        document_response(&RetentionDoc {
            mode: Some(r.mode.as_str().to_owned()),
            retain_until: Some(format_iso8601(r.until_ms)),
        })
    }

    pub(crate) async fn put_object_legal_hold(&self, ctx: &Ctx) -> HandlerResult {
        let (bucket, handle) = self.authorized_object(ctx).await?;
        require_lock(&bucket)?;
        let (doc, digest_sent) = read_digested_document::<LegalHoldDoc>(ctx, CONFIG_BODY_LIMIT).await?;
        if !digest_sent {
            return Err(missing_digest());
        }
        self.engine.set_legal_hold(&bucket, &handle.version, doc.on).await?;
        empty_response(StatusCode::OK)
    }

    pub(crate) async fn get_object_legal_hold(&self, ctx: &Ctx) -> HandlerResult {
        let (bucket, handle) = self.authorized_object(ctx).await?;
        require_lock(&bucket)?;
        document_response(&LegalHoldDoc {
            on: handle.version.lock.legal_hold,
        })
    }
}

fn missing_digest() -> S3Error {
    S3Error::new(ErrorCode::InvalidRequest).msg("Missing required header for this request: Content-MD5")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(parse_date("1970-01-01T00:00:01Z"), Some(1000));
        assert_eq!(parse_date("1970-01-01T00:00:01.500Z"), Some(1500));
        assert_eq!(parse_date("2030-01-01T00:00:00+00:00"), Some(1_893_456_000_000));
        assert_eq!(parse_date("tomorrow"), None);
    }
}
