//! Object lock (WORM): a bucket's lock configuration and default retention, each version's
//! retention and legal hold, and the one decision every path that would remove a version or
//! change its lock asks ([`decide`]).
//!
//! [`decide`], for a version's lock, a change, the time and whether the request may bypass
//! governance (it sent `x-amz-bypass-governance-retention: true` and is allowed
//! `s3:BypassGovernanceRetention`):
//!
//! 1. Removing the version: a legal hold refuses it, whatever the retention and the bypass.
//! 2. Removing it while its retention runs: COMPLIANCE refuses it, for everyone; GOVERNANCE
//!    refuses it unless the request may bypass governance.
//! 3. Setting a new retention while one runs: keeping or extending the date in the same mode is
//!    always allowed; anything else (an earlier date, no retention, another mode) is refused
//!    under COMPLIANCE and needs the bypass under GOVERNANCE (GOVERNANCE to COMPLIANCE too:
//!    what S3 answers, found by Ceph against AWS, ceph/ceph#42505).
//! 4. A retention that has run out protects nothing; neither does none at all.
//!
//! Refusals are 403 AccessDenied, as S3 answers them. Callers ask inside the metadata
//! transaction that makes the change, so that no retention set meanwhile can be slipped past.

use ksan_types::{ErrorCode, S3Error, S3Result};
use serde::{Deserialize, Serialize};

use crate::config::{BucketConfig, BucketState};
use crate::keys::ConfigKind;
use crate::records::Versioning;

/// A retention mode.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum LockMode {
    /// Removable early by callers allowed to bypass governance.
    Governance,
    /// Removable by no one before its date.
    Compliance,
}

impl LockMode {
    /// `GOVERNANCE` / `COMPLIANCE`.
    pub fn parse(s: &str) -> Option<LockMode> {
        match s {
            "GOVERNANCE" => Some(LockMode::Governance),
            "COMPLIANCE" => Some(LockMode::Compliance),
            _ => None,
        }
    }
    /// The wire form.
    pub fn as_str(self) -> &'static str {
        match self {
            LockMode::Governance => "GOVERNANCE",
            LockMode::Compliance => "COMPLIANCE",
        }
    }
}

/// A version's retention.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct Retention {
    /// The mode.
    pub mode: LockMode,
    /// Until when (ms since the epoch).
    pub until_ms: i64,
}

/// A version's lock.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ObjectLock {
    /// Its retention, if any.
    pub retention: Option<Retention>,
    /// Its legal hold.
    pub legal_hold: bool,
}

impl ObjectLock {
    /// Nothing set.
    pub fn is_empty(&self) -> bool {
        self.retention.is_none() && !self.legal_hold
    }
}

/// A default retention period.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum Period {
    /// So many days.
    Days(i64),
    /// So many years.
    Years(i64),
}

/// A bucket's object lock configuration (`PutObjectLockConfiguration`, or lock enabled at
/// CreateBucket).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ObjectLockConfig {
    /// The default retention of new versions, if any.
    pub default: Option<(LockMode, Period)>,
}

const DAY_MS: i64 = 24 * 3600 * 1000;

impl ObjectLockConfig {
    /// The retention a new version gets without one of its own.
    pub fn default_retention(&self, now_ms: i64) -> Option<Retention> {
        let (mode, period) = self.default?;
        let days = match period {
            Period::Days(d) => d,
            Period::Years(y) => y * 365,
        };
        Some(Retention {
            mode,
            until_ms: now_ms + days * DAY_MS,
        })
    }
}

impl BucketConfig for ObjectLockConfig {
    const KIND: ConfigKind = ConfigKind::ObjectLock;
    const NOT_FOUND: Option<ErrorCode> = Some(ErrorCode::ObjectLockConfigurationNotFoundError);
    const DIGEST_REQUIRED: bool = true;

    /// Lock needs versioning enabled (409 InvalidBucketState); periods are positive
    /// (InvalidRetentionPeriod).
    fn validate(&self, bucket: &BucketState) -> S3Result<()> {
        if bucket.record.versioning != Versioning::Enabled {
            return Err(S3Error::new(ErrorCode::InvalidBucketState)
                .msg("Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration"));
        }
        if let Some((_, Period::Days(n) | Period::Years(n))) = self.default
            && n <= 0
        {
            return Err(S3Error::new(ErrorCode::InvalidRetentionPeriod)
                .msg("Default retention period must be a positive integer value."));
        }
        Ok(())
    }
}

/// The lock of a new version in `bucket`: what the request asked for, with the bucket's
/// default retention where it asked for none. A lock asked for in a bucket without object lock
/// is InvalidRequest.
pub fn new_version_lock(bucket: &BucketState, requested: ObjectLock, now_ms: i64) -> S3Result<ObjectLock> {
    let Some(config) = bucket.get::<ObjectLockConfig>() else {
        if requested.is_empty() {
            return Ok(requested);
        }
        return Err(S3Error::new(ErrorCode::InvalidRequest).msg("Bucket is missing Object Lock Configuration"));
    };
    Ok(ObjectLock {
        retention: requested.retention.or_else(|| config.default_retention(now_ms)),
        legal_hold: requested.legal_hold,
    })
}

/// What a request would do to a locked version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Remove it (DeleteObject with a version id, DeleteObjects, expiration).
    Remove,
    /// Replace its retention.
    SetRetention(Option<Retention>),
}

fn denied(msg: &'static str) -> S3Error {
    S3Error::new(ErrorCode::AccessDenied).msg(msg)
}

/// The decision (see the module doc).
pub fn decide(lock: &ObjectLock, change: Change, now_ms: i64, bypass: bool) -> S3Result<()> {
    let running = lock.retention.filter(|r| r.until_ms > now_ms);
    match change {
        Change::Remove => {
            // 1.
            if lock.legal_hold {
                return Err(denied("Object is WORM protected and cannot be overwritten"));
            }
            // 2., 4.
            match running {
                Some(Retention {
                    mode: LockMode::Compliance,
                    ..
                }) => Err(denied("Object is WORM protected and cannot be overwritten")),
                Some(_) if !bypass => Err(denied("Object is WORM protected and cannot be overwritten")),
                _ => Ok(()),
            }
        }
        Change::SetRetention(new) => {
            // 4.
            let Some(old) = running else {
                return Ok(());
            };
            // 3.
            let keeps = new.is_some_and(|n| n.until_ms >= old.until_ms && n.mode == old.mode);
            match (keeps, old.mode) {
                (true, _) => Ok(()),
                (false, LockMode::Compliance) => Err(denied(
                    "The retention of an object in COMPLIANCE mode cannot be shortened or changed",
                )),
                (false, LockMode::Governance) if bypass => Ok(()),
                (false, LockMode::Governance) => Err(denied(
                    "Shortening or removing a GOVERNANCE retention needs x-amz-bypass-governance-retention and s3:BypassGovernanceRetention",
                )),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_000_000_000_000;

    fn lock(mode: LockMode, until: i64, hold: bool) -> ObjectLock {
        ObjectLock {
            retention: Some(Retention { mode, until_ms: until }),
            legal_hold: hold,
        }
    }

    fn ret(mode: LockMode, until: i64) -> Option<Retention> {
        Some(Retention { mode, until_ms: until })
    }

    #[test]
    fn removal_by_mode_bypass_and_hold() {
        use LockMode::*;
        let later = NOW + DAY_MS;
        for (l, bypass, ok) in [
            (ObjectLock::default(), false, true),
            (lock(Governance, later, false), false, false),
            (lock(Governance, later, false), true, true),
            (lock(Compliance, later, false), true, false),
            (lock(Compliance, NOW - 1, false), false, true),
            (lock(Governance, NOW - 1, true), true, false),
            (
                ObjectLock {
                    retention: None,
                    legal_hold: true,
                },
                true,
                false,
            ),
        ] {
            let r = decide(&l, Change::Remove, NOW, bypass);
            assert_eq!(r.is_ok(), ok, "{l:?} bypass={bypass}");
            if let Err(e) = r {
                assert_eq!(e.code, ErrorCode::AccessDenied);
            }
        }
    }

    #[test]
    fn retention_changes() {
        use LockMode::*;
        let (t1, t2) = (NOW + DAY_MS, NOW + 2 * DAY_MS);
        let c = lock(Compliance, t1, false);
        let g = lock(Governance, t1, false);
        for (l, new, bypass, ok) in [
            (c, ret(Compliance, t2), false, true),
            (c, ret(Compliance, t1), false, true),
            (c, ret(Compliance, NOW + 1), true, false),
            (c, ret(Governance, t2), true, false),
            (c, None, true, false),
            (g, ret(Governance, t2), false, true),
            (g, ret(Compliance, t1), false, false),
            (g, ret(Compliance, t2), true, true),
            (g, ret(Governance, NOW + 1), false, false),
            (g, ret(Governance, NOW + 1), true, true),
            (g, None, false, false),
            (g, None, true, true),
            (lock(Compliance, NOW - 1, false), None, false, true),
            (ObjectLock::default(), ret(Governance, t1), false, true),
        ] {
            assert_eq!(
                decide(&l, Change::SetRetention(new), NOW, bypass).is_ok(),
                ok,
                "{l:?} -> {new:?} bypass={bypass}"
            );
        }
    }

    #[test]
    fn configuration_rules() {
        let bucket = crate::config::test_bucket();
        let cfg = ObjectLockConfig {
            default: Some((LockMode::Governance, Period::Days(1))),
        };
        assert_eq!(cfg.validate(&bucket).unwrap_err().code, ErrorCode::InvalidBucketState);
        let mut record = bucket.record.clone();
        record.versioning = Versioning::Enabled;
        let versioned = BucketState::new(record);
        assert!(cfg.validate(&versioned).is_ok());
        let bad = ObjectLockConfig {
            default: Some((LockMode::Compliance, Period::Years(0))),
        };
        assert_eq!(
            bad.validate(&versioned).unwrap_err().code,
            ErrorCode::InvalidRetentionPeriod
        );
        assert_eq!(
            cfg.default_retention(NOW),
            Some(Retention {
                mode: LockMode::Governance,
                until_ms: NOW + DAY_MS
            })
        );
    }
}
