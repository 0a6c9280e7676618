//! Lifecycle: a bucket's rules ([`LifecycleConfig`], checked as S3 checks them when they are
//! put) and the one decision that says what the rules do to a key's versions ([`evaluate`]),
//! asked by the executor (`workers::lifecycle`) inside the transaction that carries it out,
//! and the dates the headers announce ([`expiration_of`], [`abort_of`]).
//!
//! [`evaluate`], for the versions of one key (newest first), the bucket's versioning, the time
//! and the length of a lifecycle day:
//!
//! 1. Only enabled rules count, and a rule counts for a version only if its filter matches the
//!    key, the version's size and its tags (a delete marker has size 0 and no tags).
//! 2. The current version, if it is not a delete marker, expires at the earliest due time of
//!    the matching rules' `Expiration` (Days after its creation, or the Date). Expired, it is
//!    removed in an unversioned bucket and gets a delete marker on top (made by the lifecycle,
//!    marked so) in a versioned or suspended one.
//! 3. A noncurrent version became noncurrent when the next newer version was made. A matching
//!    `NoncurrentVersionExpiration` removes it once NoncurrentDays have passed since then,
//!    unless it is among the NewerNoncurrentVersions newest noncurrent versions, which are kept.
//! 4. A current delete marker with no other version left (once step 3's removals are counted)
//!    is an expired object delete marker: removed by a matching rule with
//!    `ExpiredObjectDeleteMarker`, or by one whose `Expiration` Days (counted from the marker's
//!    creation) or Date has come.
//! 5. Transitions (to STANDARD, the one storage class ksan has) set the class of a version
//!    whose transition is due, current (Days after creation, or Date) or noncurrent
//!    (NoncurrentDays after it became noncurrent, past NewerNoncurrentVersions).
//! 6. Nothing is removed that object lock protects: a removal `lock::decide` refuses (legal
//!    hold, a running retention; the lifecycle never bypasses governance) is left out and
//!    counted as held; a held noncurrent version also keeps its delete marker from being
//!    expired.
//!
//! Due times: Days after a time `t` is `t + Days` rounded up to the next midnight UTC, as S3
//! computes it. A compressed day (`--lifecycle-day-secs` other than 86400, for tests) has no
//! midnight: the due time is `t + Days × day`.

use ksan_types::{ErrorCode, S3Error, S3Result, StorageClass};
use serde::{Deserialize, Serialize};

use crate::config::BucketConfig;
use crate::keys::ConfigKind;
use crate::lock;
use crate::records::{ObjectVersion, Versioning};

/// The length of a real day, in ms.
pub const REAL_DAY_MS: i64 = 24 * 3600 * 1000;

/// Rules a configuration holds at most.
pub const MAX_RULES: usize = 1000;

/// Which objects a rule applies to. The forms are kept as they were given, so that
/// GetBucketLifecycleConfiguration answers with the document that was put.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Filter {
    /// The rule's own `Prefix` (the older form, without `Filter`).
    Legacy(String),
    /// `<Filter/>`, or no filter at all: every object.
    All,
    /// `Filter/Prefix`.
    Prefix(String),
    /// `Filter/Tag`: (key, value).
    Tag((String, String)),
    /// `Filter/ObjectSizeGreaterThan`.
    SizeGreaterThan(u64),
    /// `Filter/ObjectSizeLessThan`.
    SizeLessThan(u64),
    /// `Filter/And`: all of these.
    And {
        /// The prefix, if any.
        prefix: Option<String>,
        /// Tags that must all be on the object.
        tags: Vec<(String, String)>,
        /// Larger than this.
        size_gt: Option<u64>,
        /// Smaller than this.
        size_lt: Option<u64>,
    },
}

impl Filter {
    /// The key prefix the filter asks for ("" for any).
    pub fn prefix(&self) -> &str {
        match self {
            Filter::Legacy(p) | Filter::Prefix(p) => p,
            Filter::And { prefix: Some(p), .. } => p,
            _ => "",
        }
    }

    /// The tags the filter asks for.
    pub fn tags(&self) -> &[(String, String)] {
        match self {
            Filter::Tag(pair) => std::slice::from_ref(pair),
            Filter::And { tags, .. } => tags,
            _ => &[],
        }
    }

    fn has_tags(&self) -> bool {
        !self.tags().is_empty()
    }

    fn size_bounds(&self) -> (Option<u64>, Option<u64>) {
        match self {
            Filter::SizeGreaterThan(n) => (Some(*n), None),
            Filter::SizeLessThan(n) => (None, Some(*n)),
            Filter::And { size_gt, size_lt, .. } => (*size_gt, *size_lt),
            _ => (None, None),
        }
    }

    /// Does an object with this key, size and tags match?
    pub fn matches(&self, key: &str, size: u64, tags: &[(String, String)]) -> bool {
        if !key.starts_with(self.prefix()) {
            return false;
        }
        let (gt, lt) = self.size_bounds();
        if gt.is_some_and(|g| size <= g) || lt.is_some_and(|l| size >= l) {
            return false;
        }
        self.tags().iter().all(|wanted| tags.contains(wanted))
    }
}

/// When an action falls due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum When {
    /// So many days after a time (creation, or becoming noncurrent).
    Days(u32),
    /// On this date (midnight UTC, ms since the epoch).
    Date(i64),
}

/// A transition: a storage class and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    /// When.
    pub when: When,
    /// To which class.
    pub storage_class: StorageClass,
}

/// A noncurrent-version action's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Noncurrent {
    /// Days after the version became noncurrent.
    pub days: u32,
    /// The newest noncurrent versions kept whatever their age.
    pub newer_versions: Option<u32>,
}

/// A noncurrent-version transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoncurrentTransition {
    /// When.
    pub terms: Noncurrent,
    /// To which class.
    pub storage_class: StorageClass,
}

/// One rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    /// Its id (made up when the document gave none, as S3 does).
    pub id: String,
    /// `Status`: Enabled.
    pub enabled: bool,
    /// Which objects.
    pub filter: Filter,
    /// `Expiration` Days or Date.
    pub expiration: Option<When>,
    /// `Expiration/ExpiredObjectDeleteMarker` (None: not given).
    pub expired_object_delete_marker: Option<bool>,
    /// `NoncurrentVersionExpiration`.
    pub noncurrent_expiration: Option<Noncurrent>,
    /// `AbortIncompleteMultipartUpload/DaysAfterInitiation`.
    pub abort_after_days: Option<u32>,
    /// `Transition`s.
    pub transitions: Vec<Transition>,
    /// `NoncurrentVersionTransition`s.
    pub noncurrent_transitions: Vec<NoncurrentTransition>,
}

impl Rule {
    fn has_action(&self) -> bool {
        self.expiration.is_some()
            || self.expired_object_delete_marker.is_some()
            || self.noncurrent_expiration.is_some()
            || self.abort_after_days.is_some()
            || !self.transitions.is_empty()
            || !self.noncurrent_transitions.is_empty()
    }

    fn has_size_filter(&self) -> bool {
        self.filter.size_bounds() != (None, None)
    }
}

/// A bucket's lifecycle configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifecycleConfig {
    /// The rules, in the order given.
    pub rules: Vec<Rule>,
    /// `x-amz-transition-default-minimum-object-size`, as given (None: not given).
    #[serde(default)]
    pub transition_minimum_size: Option<String>,
}

fn invalid(msg: impl Into<std::borrow::Cow<'static, str>>) -> S3Error {
    S3Error::new(ErrorCode::InvalidArgument).msg(msg)
}

fn invalid_request(msg: &'static str) -> S3Error {
    S3Error::new(ErrorCode::InvalidRequest).msg(msg)
}

impl LifecycleConfig {
    /// The rules, checked as S3 checks them: 1 to 1000 rules; ids of at most 255 characters,
    /// unique (InvalidArgument), made up where missing; at least one action per rule
    /// (InvalidRequest); Expiration with exactly one of Days, Date, ExpiredObjectDeleteMarker
    /// (MalformedXML); positive day counts (InvalidArgument; a transition may take 0); dates
    /// at midnight UTC (InvalidArgument); NewerNoncurrentVersions 1 to 100; no tag or size
    /// filter with AbortIncompleteMultipartUpload (InvalidRequest) nor with
    /// ExpiredObjectDeleteMarker (InvalidRequest for tags, MalformedXML for sizes, as S3
    /// answers); sizes in order; transitions only to the storage classes ksan has (STANDARD:
    /// InvalidStorageClass otherwise); `x-amz-transition-default-minimum-object-size` one of
    /// S3's two values.
    pub fn new(mut rules: Vec<Rule>, transition_minimum_size: Option<String>) -> S3Result<Self> {
        if rules.is_empty() {
            return Err(S3Error::new(ErrorCode::MalformedXML));
        }
        if rules.len() > MAX_RULES {
            return Err(invalid("Lifecycle configuration cannot have more than 1000 rules"));
        }
        if let Some(v) = &transition_minimum_size
            && v != "varies_by_storage_class"
            && v != "all_storage_classes_128K"
        {
            return Err(invalid(
                "Invalid value for x-amz-transition-default-minimum-object-size",
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for rule in &mut rules {
            if rule.id.is_empty() {
                rule.id = random_id();
            }
            if rule.id.chars().count() > 255 {
                return Err(invalid("ID length should not exceed allowed limit of 255"));
            }
            if !seen.insert(rule.id.clone()) {
                return Err(invalid("Rule ID must be unique. Found same ID for more than one rule"));
            }
            check_rule(rule)?;
        }
        Ok(LifecycleConfig {
            rules,
            transition_minimum_size,
        })
    }

    fn enabled(&self) -> impl Iterator<Item = &Rule> {
        self.rules.iter().filter(|r| r.enabled)
    }

    /// Does any enabled rule act on object versions (as opposed to uploads only)?
    pub fn acts_on_versions(&self) -> bool {
        self.enabled().any(|r| {
            r.expiration.is_some()
                || r.expired_object_delete_marker == Some(true)
                || r.noncurrent_expiration.is_some()
                || !r.transitions.is_empty()
                || !r.noncurrent_transitions.is_empty()
        })
    }

    /// Does any enabled rule abort incomplete uploads?
    pub fn acts_on_uploads(&self) -> bool {
        self.enabled().any(|r| r.abort_after_days.is_some())
    }
}

fn check_rule(rule: &Rule) -> S3Result<()> {
    if !rule.has_action() {
        return Err(invalid_request("At least one action needs to be specified in a rule"));
    }
    let tags = rule.filter.has_tags();
    let sized = rule.has_size_filter();
    match (rule.expiration, rule.expired_object_delete_marker) {
        (Some(_), Some(_)) => return Err(S3Error::new(ErrorCode::MalformedXML)),
        (Some(When::Days(0)), None) => {
            return Err(invalid("'Days' for Expiration action must be a positive integer"));
        }
        (Some(When::Date(ms)), None) => check_midnight(ms)?,
        (None, Some(true)) if tags => {
            return Err(invalid_request(
                "ExpiredObjectDeleteMarker cannot be specified with Tags.",
            ));
        }
        (None, Some(true)) if sized => return Err(S3Error::new(ErrorCode::MalformedXML)),
        _ => {}
    }
    if let Some(n) = &rule.noncurrent_expiration {
        check_noncurrent(n, "NoncurrentVersionExpiration", false)?;
    }
    if let Some(days) = rule.abort_after_days {
        if days == 0 {
            return Err(invalid(
                "'DaysAfterInitiation' for AbortIncompleteMultipartUpload action must be a positive integer",
            ));
        }
        if tags {
            return Err(invalid_request(
                "AbortIncompleteMultipartUpload cannot be specified with Tags.",
            ));
        }
        if sized {
            return Err(invalid_request(
                "AbortIncompleteMultipartUpload cannot be specified with an object size based filter.",
            ));
        }
    }
    if let (Some(gt), Some(lt)) = rule.filter.size_bounds()
        && gt >= lt
    {
        return Err(invalid("ObjectSizeGreaterThan must be less than ObjectSizeLessThan"));
    }
    for t in &rule.transitions {
        if let When::Date(ms) = t.when {
            check_midnight(ms)?;
        }
        check_class(t.storage_class)?;
    }
    for t in &rule.noncurrent_transitions {
        check_noncurrent(&t.terms, "NoncurrentVersionTransition", true)?;
        check_class(t.storage_class)?;
    }
    Ok(())
}

fn check_noncurrent(n: &Noncurrent, action: &str, zero_ok: bool) -> S3Result<()> {
    if n.days == 0 && !zero_ok {
        return Err(invalid(format!(
            "'NoncurrentDays' for {action} action must be a positive integer"
        )));
    }
    if let Some(k) = n.newer_versions
        && !(1..=100).contains(&k)
    {
        return Err(invalid(format!(
            "'NewerNoncurrentVersions' for {action} action must be a positive integer up to 100"
        )));
    }
    Ok(())
}

fn check_midnight(ms: i64) -> S3Result<()> {
    if ms.rem_euclid(REAL_DAY_MS) != 0 {
        return Err(invalid("'Date' must be at midnight GMT"));
    }
    Ok(())
}

/// ksan keeps every object in one class: transitions can only go to STANDARD.
fn check_class(class: StorageClass) -> S3Result<()> {
    match class {
        StorageClass::Standard => Ok(()),
        _ => Err(S3Error::new(ErrorCode::InvalidStorageClass)
            .msg("The storage class you specified is not valid: this server keeps only STANDARD")),
    }
}

fn random_id() -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(rand::random::<[u8; 36]>())
}

impl BucketConfig for LifecycleConfig {
    const KIND: ConfigKind = ConfigKind::Lifecycle;
    const NOT_FOUND: Option<ErrorCode> = Some(ErrorCode::NoSuchLifecycleConfiguration);
    const DIGEST_REQUIRED: bool = true;
}

/// When `days` lifecycle days after `from_ms` come (see the module doc).
pub fn due_after(from_ms: i64, days: u32, day_ms: i64) -> i64 {
    let at = from_ms.saturating_add(i64::from(days).saturating_mul(day_ms));
    if day_ms == REAL_DAY_MS {
        // Rounded up to the next midnight UTC.
        let rem = at.rem_euclid(REAL_DAY_MS);
        if rem == 0 { at } else { at - rem + REAL_DAY_MS }
    } else {
        at
    }
}

fn due(when: When, from_ms: i64, day_ms: i64) -> i64 {
    match when {
        When::Days(d) => due_after(from_ms, d, day_ms),
        When::Date(ms) => ms,
    }
}

/// The expiration S3 announces for a current version (`x-amz-expiration`): the earliest due
/// time among the enabled rules that match it, with that rule's id. None for a delete marker.
pub fn expiration_of<'a>(config: &'a LifecycleConfig, v: &ObjectVersion, day_ms: i64) -> Option<(i64, &'a str)> {
    if v.delete_marker {
        return None;
    }
    config
        .enabled()
        .filter(|r| r.filter.matches(&v.key, v.size, &v.tags))
        .filter_map(|r| Some((due(r.expiration?, v.last_modified_ms, day_ms), r.id.as_str())))
        .min_by_key(|(at, _)| *at)
}

/// When an upload of `key` begun at `initiated_ms` is aborted, and by which rule
/// (`x-amz-abort-date`, `x-amz-abort-rule-id`).
pub fn abort_of<'a>(config: &'a LifecycleConfig, key: &str, initiated_ms: i64, day_ms: i64) -> Option<(i64, &'a str)> {
    config
        .enabled()
        .filter(|r| key.starts_with(r.filter.prefix()))
        .filter_map(|r| Some((due_after(initiated_ms, r.abort_after_days?, day_ms), r.id.as_str())))
        .min_by_key(|(at, _)| *at)
}

impl crate::Engine {
    /// When the bucket's rules expire `v`, a current version, and by which rule
    /// (`x-amz-expiration`).
    pub fn expiration_of<'a>(&self, bucket: &'a crate::BucketState, v: &ObjectVersion) -> Option<(i64, &'a str)> {
        expiration_of(bucket.get::<LifecycleConfig>()?, v, self.lifecycle_day_ms())
    }

    /// When the bucket's rules abort an upload of `key` begun at `initiated_ms`, and by which
    /// rule (`x-amz-abort-date`, `x-amz-abort-rule-id`).
    pub fn abort_of<'a>(&self, bucket: &'a crate::BucketState, key: &str, initiated_ms: i64) -> Option<(i64, &'a str)> {
        abort_of(
            bucket.get::<LifecycleConfig>()?,
            key,
            initiated_ms,
            self.lifecycle_day_ms(),
        )
    }
}

/// What the rules do to one version of a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Expire the current version: remove it (unversioned bucket) or put a delete marker on
    /// top (versioned or suspended).
    ExpireCurrent {
        /// The current version.
        uid: [u8; 16],
    },
    /// Remove a noncurrent version (or a noncurrent delete marker).
    RemoveNoncurrent {
        /// The version.
        uid: [u8; 16],
    },
    /// Remove an expired object delete marker.
    RemoveDeleteMarker {
        /// The marker.
        uid: [u8; 16],
    },
    /// Set a version's storage class.
    Transition {
        /// The version.
        uid: [u8; 16],
        /// The class.
        storage_class: StorageClass,
    },
}

/// The decision for one key (see the module doc).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decision {
    /// What to do, in this order.
    pub actions: Vec<Action>,
    /// Removals object lock refused.
    pub held: u32,
}

fn removable(v: &ObjectVersion, now_ms: i64) -> bool {
    lock::decide(&v.lock, lock::Change::Remove, now_ms, false).is_ok()
}

/// Decide what the rules do to `versions`, the versions of one key, newest first.
pub fn evaluate(
    config: &LifecycleConfig,
    versions: &[ObjectVersion],
    versioning: Versioning,
    now_ms: i64,
    day_ms: i64,
) -> Decision {
    let mut out = Decision::default();
    let Some(current) = versions.first() else {
        return out;
    };
    // 1.
    let matching = |v: &ObjectVersion| {
        config
            .enabled()
            .filter(move |r| r.filter.matches(&v.key, v.size, &v.tags))
            .collect::<Vec<&Rule>>()
    };
    // 2., 5. (current)
    let mut current_expires = false;
    if !current.delete_marker {
        let rules = matching(current);
        let expires = rules
            .iter()
            .filter_map(|r| r.expiration)
            .any(|w| due(w, current.last_modified_ms, day_ms) <= now_ms);
        if expires {
            let removes = versioning == Versioning::Unversioned
                || (versioning == Versioning::Suspended && current.version_id.is_none());
            if removes && !removable(current, now_ms) {
                // 6.
                out.held += 1;
            } else {
                current_expires = true;
                out.actions.push(Action::ExpireCurrent { uid: current.uid });
            }
        }
        if !current_expires
            && let Some(class) = due_class(
                rules.iter().flat_map(|r| r.transitions.iter()),
                current,
                |t| due(t.when, current.last_modified_ms, day_ms) <= now_ms,
                |t| t.storage_class,
            )
        {
            out.actions.push(Action::Transition {
                uid: current.uid,
                storage_class: class,
            });
        }
    }
    // 3., 5. (noncurrent)
    let mut remaining = versions.len();
    for (i, v) in versions.iter().enumerate().skip(1) {
        let since = versions[i - 1].last_modified_ms;
        let rank = (i - 1) as u32; // 0: the newest noncurrent version
        let past =
            |n: &Noncurrent| n.newer_versions.is_none_or(|k| rank >= k) && due_after(since, n.days, day_ms) <= now_ms;
        let rules = matching(v);
        if rules.iter().filter_map(|r| r.noncurrent_expiration.as_ref()).any(past) {
            if removable(v, now_ms) {
                out.actions.push(Action::RemoveNoncurrent { uid: v.uid });
                remaining -= 1;
            } else {
                out.held += 1;
            }
            continue;
        }
        if let Some(class) = due_class(
            rules.iter().flat_map(|r| r.noncurrent_transitions.iter()),
            v,
            |t| past(&t.terms),
            |t| t.storage_class,
        ) {
            out.actions.push(Action::Transition {
                uid: v.uid,
                storage_class: class,
            });
        }
    }
    // 4.
    if current.delete_marker && remaining == 1 {
        let expired = matching(current).iter().any(|r| {
            r.expired_object_delete_marker == Some(true)
                || r.expiration
                    .is_some_and(|w| due(w, current.last_modified_ms, day_ms) <= now_ms)
        });
        if expired {
            if removable(current, now_ms) {
                out.actions.push(Action::RemoveDeleteMarker { uid: current.uid });
            } else {
                out.held += 1;
            }
        }
    }
    out
}

/// The class of the latest due transition among `transitions`, if it differs from the
/// version's.
fn due_class<'a, T: 'a>(
    transitions: impl Iterator<Item = &'a T>,
    v: &ObjectVersion,
    is_due: impl Fn(&T) -> bool,
    class: impl Fn(&T) -> StorageClass,
) -> Option<StorageClass> {
    let target = transitions.filter(|t| is_due(t)).map(class).last()?;
    (v.storage_class.unwrap_or(StorageClass::Standard) != target).then_some(target)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lock::{LockMode, ObjectLock, Retention};
    use crate::records::{Content, DataLocation, NewObject};

    const DAY: i64 = 1000;

    fn version(key: &str, created: i64, size: u64, tags: &[(&str, &str)]) -> ObjectVersion {
        let object = NewObject {
            tags: tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            ..NewObject::default()
        };
        let content = Content {
            size,
            etag: String::new(),
            checksum: None,
            checksum_type: None,
            data: DataLocation::Inline,
            sealed: None,
        };
        let mut v = ObjectVersion::new(key.into(), object, content);
        v.last_modified_ms = created;
        v.uid = [created as u8; 16];
        v.version_id = Some(format!("v{created}"));
        v
    }

    fn marker(key: &str, created: i64) -> ObjectVersion {
        let mut m = version(key, created, 0, &[]);
        m.delete_marker = true;
        m
    }

    fn rule(filter: Filter) -> Rule {
        Rule {
            id: "r".into(),
            enabled: true,
            filter,
            expiration: None,
            expired_object_delete_marker: None,
            noncurrent_expiration: None,
            abort_after_days: None,
            transitions: vec![],
            noncurrent_transitions: vec![],
        }
    }

    fn config(rules: Vec<Rule>) -> LifecycleConfig {
        LifecycleConfig::new(rules, None).unwrap()
    }

    fn expire_days(filter: Filter, days: u32) -> Rule {
        Rule {
            expiration: Some(When::Days(days)),
            ..rule(filter)
        }
    }

    #[test]
    fn due_times_round_up_to_midnight_only_for_real_days() {
        let t = 10 * REAL_DAY_MS + 3_600_000; // 01:00 on day 10
        assert_eq!(due_after(t, 1, REAL_DAY_MS), 12 * REAL_DAY_MS);
        assert_eq!(due_after(10 * REAL_DAY_MS, 1, REAL_DAY_MS), 11 * REAL_DAY_MS);
        assert_eq!(due_after(12_345, 3, 10_000), 42_345);
    }

    #[test]
    fn filters_match_prefix_tags_and_sizes() {
        let tags = [("a".to_string(), "1".to_string()), ("b".to_string(), "2".to_string())];
        assert!(Filter::Legacy("x/".into()).matches("x/y", 0, &[]));
        assert!(!Filter::Prefix("x/".into()).matches("y", 0, &[]));
        assert!(Filter::All.matches("anything", 5, &[]));
        assert!(Filter::Tag(("a".into(), "1".into())).matches("k", 0, &tags));
        assert!(!Filter::Tag(("a".into(), "2".into())).matches("k", 0, &tags));
        assert!(Filter::SizeGreaterThan(10).matches("k", 11, &[]));
        assert!(!Filter::SizeGreaterThan(10).matches("k", 10, &[]));
        assert!(Filter::SizeLessThan(10).matches("k", 9, &[]));
        assert!(!Filter::SizeLessThan(10).matches("k", 10, &[]));
        let and = Filter::And {
            prefix: Some("k".into()),
            tags: vec![("a".into(), "1".into()), ("b".into(), "2".into())],
            size_gt: Some(1),
            size_lt: Some(100),
        };
        assert!(and.matches("key", 50, &tags));
        assert!(!and.matches("key", 50, &tags[..1]));
        assert!(!and.matches("other", 50, &tags));
        assert!(!and.matches("key", 100, &tags));
    }

    #[test]
    fn configurations_are_checked_as_s3_checks_them() {
        let code = |rules: Vec<Rule>| LifecycleConfig::new(rules, None).unwrap_err().code;
        let ok = expire_days(Filter::All, 1);
        assert_eq!(code(vec![]), ErrorCode::MalformedXML);
        assert_eq!(
            code(vec![Rule {
                id: "x".repeat(256),
                ..ok.clone()
            }]),
            ErrorCode::InvalidArgument
        );
        assert_eq!(code(vec![ok.clone(), ok.clone()]), ErrorCode::InvalidArgument);
        assert_eq!(code(vec![rule(Filter::All)]), ErrorCode::InvalidRequest);
        assert_eq!(code(vec![expire_days(Filter::All, 0)]), ErrorCode::InvalidArgument);
        let date = |ms| Rule {
            expiration: Some(When::Date(ms)),
            ..rule(Filter::All)
        };
        assert_eq!(code(vec![date(REAL_DAY_MS + 1)]), ErrorCode::InvalidArgument);
        assert!(LifecycleConfig::new(vec![date(REAL_DAY_MS)], None).is_ok());
        let dm = |filter| Rule {
            expired_object_delete_marker: Some(true),
            ..rule(filter)
        };
        assert_eq!(
            code(vec![Rule {
                expired_object_delete_marker: Some(true),
                ..ok.clone()
            }]),
            ErrorCode::MalformedXML
        );
        assert_eq!(
            code(vec![dm(Filter::Tag(("k".into(), "v".into())))]),
            ErrorCode::InvalidRequest
        );
        assert_eq!(code(vec![dm(Filter::SizeLessThan(5))]), ErrorCode::MalformedXML);
        let abort = |filter| Rule {
            abort_after_days: Some(1),
            ..rule(filter)
        };
        assert_eq!(
            code(vec![abort(Filter::Tag(("k".into(), "v".into())))]),
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            code(vec![Rule {
                abort_after_days: Some(0),
                ..rule(Filter::All)
            }]),
            ErrorCode::InvalidArgument
        );
        let transition = |class| Rule {
            transitions: vec![Transition {
                when: When::Days(0),
                storage_class: class,
            }],
            ..rule(Filter::All)
        };
        assert_eq!(
            code(vec![transition(StorageClass::Glacier)]),
            ErrorCode::InvalidStorageClass
        );
        assert!(LifecycleConfig::new(vec![transition(StorageClass::Standard)], None).is_ok());
        assert_eq!(
            code(vec![Rule {
                noncurrent_expiration: Some(Noncurrent {
                    days: 1,
                    newer_versions: Some(101),
                }),
                ..rule(Filter::All)
            }]),
            ErrorCode::InvalidArgument
        );
        assert_eq!(
            code(vec![expire_days(
                Filter::And {
                    prefix: None,
                    tags: vec![],
                    size_gt: Some(10),
                    size_lt: Some(10)
                },
                1
            )]),
            ErrorCode::InvalidArgument
        );
        let unnamed = LifecycleConfig::new(
            vec![Rule {
                id: String::new(),
                ..ok
            }],
            None,
        )
        .unwrap();
        assert!(!unnamed.rules[0].id.is_empty());
        assert_eq!(
            LifecycleConfig::new(vec![expire_days(Filter::All, 1)], Some("bogus".into()))
                .unwrap_err()
                .code,
            ErrorCode::InvalidArgument
        );
    }

    #[test]
    fn current_versions_expire_by_versioning_state() {
        let c = config(vec![expire_days(Filter::Prefix("a/".into()), 2)]);
        let v = version("a/1", 0, 1, &[]);
        assert!(
            evaluate(&c, std::slice::from_ref(&v), Versioning::Unversioned, 2 * DAY - 1, DAY)
                .actions
                .is_empty()
        );
        for state in [Versioning::Unversioned, Versioning::Enabled, Versioning::Suspended] {
            let d = evaluate(&c, std::slice::from_ref(&v), state, 2 * DAY, DAY);
            assert_eq!(d.actions, vec![Action::ExpireCurrent { uid: v.uid }], "{state:?}");
        }
        // Another prefix, a disabled rule, a current delete marker with versions below: nothing.
        assert!(
            evaluate(&c, &[version("b/1", 0, 1, &[])], Versioning::Unversioned, 9 * DAY, DAY)
                .actions
                .is_empty()
        );
        let mut off = c.clone();
        off.rules[0].enabled = false;
        assert!(
            evaluate(&off, std::slice::from_ref(&v), Versioning::Unversioned, 9 * DAY, DAY)
                .actions
                .is_empty()
        );
        let stack = [marker("a/1", 5), v.clone()];
        assert!(
            evaluate(&c, &stack, Versioning::Enabled, 3 * DAY, DAY)
                .actions
                .is_empty()
        );
    }

    #[test]
    fn noncurrent_versions_count_from_when_they_were_replaced_and_keep_the_newer_ones() {
        let c = config(vec![Rule {
            noncurrent_expiration: Some(Noncurrent {
                days: 1,
                newer_versions: Some(2),
            }),
            ..rule(Filter::All)
        }]);
        // Newest first: current at 50, then 40, 30, 20, 10.
        let versions: Vec<ObjectVersion> = [50, 40, 30, 20, 10].iter().map(|t| version("k", *t, 1, &[])).collect();
        // Version 20 became noncurrent at 30, version 10 at 20: both past a day at 31 + DAY,
        // but only the ones beyond the two newest noncurrent (40, 30) go.
        let d = evaluate(&c, &versions, Versioning::Enabled, 30 + DAY, DAY);
        assert_eq!(
            d.actions,
            vec![
                Action::RemoveNoncurrent { uid: versions[3].uid },
                Action::RemoveNoncurrent { uid: versions[4].uid }
            ]
        );
        // Before version 20's day is out (it became noncurrent at 30), only 10 goes.
        let d = evaluate(&c, &versions, Versioning::Enabled, 29 + DAY, DAY);
        assert_eq!(d.actions, vec![Action::RemoveNoncurrent { uid: versions[4].uid }]);
    }

    #[test]
    fn expired_delete_markers_go_once_alone() {
        let dm_rule = Rule {
            expired_object_delete_marker: Some(true),
            noncurrent_expiration: Some(Noncurrent {
                days: 1,
                newer_versions: None,
            }),
            ..rule(Filter::All)
        };
        let c = config(vec![dm_rule]);
        let stack = [marker("k", 10), version("k", 5, 1, &[])];
        // The version under the marker expires first, then the marker is alone: both go.
        let d = evaluate(&c, &stack, Versioning::Enabled, 10 + DAY, DAY);
        assert_eq!(
            d.actions,
            vec![
                Action::RemoveNoncurrent { uid: stack[1].uid },
                Action::RemoveDeleteMarker { uid: stack[0].uid }
            ]
        );
        // Not yet: the marker still has a version under it.
        assert!(evaluate(&c, &stack, Versioning::Enabled, 10, DAY).actions.is_empty());
        // Expiration Days removes a lone marker once it is old enough.
        let days = config(vec![expire_days(Filter::All, 5)]);
        let lone = [marker("k", 0)];
        assert!(
            evaluate(&days, &lone, Versioning::Enabled, 5 * DAY - 1, DAY)
                .actions
                .is_empty()
        );
        assert_eq!(
            evaluate(&days, &lone, Versioning::Enabled, 5 * DAY, DAY).actions,
            vec![Action::RemoveDeleteMarker { uid: lone[0].uid }]
        );
        // A tag filter never matches a delete marker.
        let tagged = config(vec![expire_days(Filter::Tag(("a".into(), "1".into())), 1)]);
        assert!(
            evaluate(&tagged, &lone, Versioning::Enabled, 9 * DAY, DAY)
                .actions
                .is_empty()
        );
    }

    #[test]
    fn object_lock_holds_what_it_protects() {
        let c = config(vec![Rule {
            expiration: Some(When::Days(1)),
            noncurrent_expiration: Some(Noncurrent {
                days: 1,
                newer_versions: None,
            }),
            ..rule(Filter::All)
        }]);
        let locked = |mut v: ObjectVersion| {
            v.lock = ObjectLock {
                retention: Some(Retention {
                    mode: LockMode::Governance,
                    until_ms: 100 * DAY,
                }),
                legal_hold: false,
            };
            v
        };
        let mut held = version("k", 0, 1, &[]);
        held.lock.legal_hold = true;
        // Unversioned: removing the current version is refused.
        let d = evaluate(&c, std::slice::from_ref(&held), Versioning::Unversioned, 9 * DAY, DAY);
        assert_eq!((d.actions.len(), d.held), (0, 1));
        // Versioned: a delete marker removes nothing, so it is made; the locked noncurrent
        // version stays.
        let stack = [version("k", 10, 1, &[]), locked(version("k", 5, 1, &[]))];
        let d = evaluate(&c, &stack, Versioning::Enabled, 9 * DAY, DAY);
        assert_eq!(d.actions, vec![Action::ExpireCurrent { uid: stack[0].uid }]);
        assert_eq!(d.held, 1);
        // Once the retention is over, it goes.
        let d = evaluate(&c, &stack, Versioning::Enabled, 101 * DAY, DAY);
        assert_eq!(d.actions.len(), 2);
    }

    #[test]
    fn transitions_set_the_class_once() {
        let c = config(vec![Rule {
            transitions: vec![Transition {
                when: When::Days(1),
                storage_class: StorageClass::Standard,
            }],
            ..rule(Filter::All)
        }]);
        let mut v = version("k", 0, 1, &[]);
        v.storage_class = Some(StorageClass::StandardIa);
        assert_eq!(
            evaluate(&c, std::slice::from_ref(&v), Versioning::Unversioned, DAY, DAY).actions,
            vec![Action::Transition {
                uid: v.uid,
                storage_class: StorageClass::Standard
            }]
        );
        v.storage_class = None;
        assert!(evaluate(&c, &[v], Versioning::Unversioned, DAY, DAY).actions.is_empty());
    }

    #[test]
    fn headers_name_the_earliest_rule() {
        let mut late = expire_days(Filter::All, 9);
        late.id = "late".into();
        let mut early = expire_days(Filter::Prefix("k".into()), 2);
        early.id = "early".into();
        let mut abort = rule(Filter::Prefix("k".into()));
        abort.id = "abort".into();
        abort.abort_after_days = Some(3);
        let c = config(vec![late, early, abort]);
        let v = version("k", 0, 1, &[]);
        assert_eq!(expiration_of(&c, &v, DAY), Some((2 * DAY, "early")));
        assert_eq!(expiration_of(&c, &marker("k", 0), DAY), None);
        assert_eq!(abort_of(&c, "k1", 0, DAY), Some((3 * DAY, "abort")));
        assert_eq!(abort_of(&c, "x", 0, DAY), None);
    }
}
