//! Replication: a bucket's replication rules ([`ReplicationConfig`], checked as S3 checks them
//! when they are put), the one decision that says which rules a change goes out by
//! ([`targets_for`]), and the outbox: `outbox` runs inside the metadata transaction of every
//! change a rule covers, marks the version PENDING and queues one work item per destination,
//! so that no acknowledged write can miss replication. The replicator (`workers::replicate`)
//! carries the items out.
//!
//! [`targets_for`], for a change to one version:
//!
//! 1. A replica (a version another rule wrote here) goes nowhere, unless the change is to its
//!    metadata and the rule asks for ReplicaModifications.
//! 2. A delete marker the lifecycle made goes nowhere; one a request made goes only by rules
//!    with DeleteMarkerReplication Enabled and no tag filter (as S3).
//! 3. An SSE-C version goes nowhere (its key is not kept); an SSE-KMS version only by rules
//!    with SseKmsEncryptedObjects Enabled.
//! 4. Of the enabled rules whose filter matches the key and tags, each destination takes the
//!    one with the highest priority (the first, on a tie).
//!
//! Destinations: `arn:aws:s3:::BUCKET` is a bucket on this server. A bucket on another
//! endpoint is `arn:ksan:replication::TARGET:BUCKET`, TARGET a replication target the
//! administrator registered (`crate::targets`); an unknown target is refused when the rules
//! are put (InvalidRequest).

use ksan_meta::WriteOps;
use ksan_types::{ErrorCode, S3Error, S3Result, StorageClass};
use serde::{Deserialize, Serialize};

use crate::config::{BucketConfig, BucketState};
use crate::keys::{self, ConfigKind, Queue};
use crate::lifecycle::Filter;
use crate::records::{ObjectVersion, SseMode, Versioning};
use crate::store;

/// Where a rule's replicas go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Destination {
    /// `Bucket`, as given (an ARN).
    pub arn: String,
    /// The registered target the bucket is on (None: this server).
    #[serde(default)]
    pub target: Option<String>,
    /// The bucket (on this server, or on the target).
    pub bucket: String,
    /// `Account`.
    pub account: Option<String>,
    /// `StorageClass` of the replicas (None: the source's).
    pub storage_class: Option<StorageClass>,
    /// `AccessControlTranslation/Owner` (`Destination`): replicas belong to the destination
    /// bucket's owner.
    pub owner_translation: Option<String>,
    /// `EncryptionConfiguration/ReplicaKmsKeyID`.
    pub replica_kms_key_id: Option<String>,
    /// `ReplicationTime`: status and minutes (recorded and shown).
    pub replication_time: Option<(bool, Option<i64>)>,
    /// `Metrics`: status and minutes (recorded and shown).
    pub metrics: Option<(bool, Option<i64>)>,
}

/// One rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicationRule {
    /// Its id (made up when the document gave none).
    pub id: String,
    /// `Priority`.
    pub priority: Option<i64>,
    /// `Status`: Enabled.
    pub enabled: bool,
    /// Which objects (prefix and tags; the rule-level Prefix is `Filter::Legacy`).
    pub filter: Filter,
    /// Where to.
    pub destination: Destination,
    /// `DeleteMarkerReplication` Enabled (None: not given).
    pub delete_markers: Option<bool>,
    /// `ExistingObjectReplication` Enabled.
    pub existing_objects: Option<bool>,
    /// `SseKmsEncryptedObjects` Enabled.
    pub sse_kms_objects: Option<bool>,
    /// `ReplicaModifications` Enabled.
    pub replica_modifications: Option<bool>,
}

/// A bucket's replication configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicationConfig {
    /// `Role` (recorded; ksan has no roles).
    pub role: String,
    /// The rules.
    pub rules: Vec<ReplicationRule>,
}

fn invalid(msg: impl Into<std::borrow::Cow<'static, str>>) -> S3Error {
    S3Error::new(ErrorCode::InvalidArgument).msg(msg)
}

fn invalid_request(msg: impl Into<std::borrow::Cow<'static, str>>) -> S3Error {
    S3Error::new(ErrorCode::InvalidRequest).msg(msg)
}

/// The (target, bucket) a destination ARN names: `arn:aws:s3:::BUCKET` on this server,
/// `arn:ksan:replication::TARGET:BUCKET` on a registered target (InvalidArgument otherwise).
pub fn parse_destination(arn: &str) -> S3Result<(Option<String>, String)> {
    let valid = |b: &str| !b.is_empty() && !b.contains(['/', ':']);
    if let Some(rest) = arn.strip_prefix("arn:ksan:replication::") {
        return match rest.split_once(':') {
            Some((target, bucket)) if valid(target) && valid(bucket) => {
                Ok((Some(target.to_owned()), bucket.to_owned()))
            }
            _ => Err(invalid("Invalid bucket ARN")),
        };
    }
    match arn.strip_prefix("arn:aws:s3:::") {
        Some(bucket) if valid(bucket) => Ok((None, bucket.to_owned())),
        _ => Err(invalid("Invalid bucket ARN")),
    }
}

impl ReplicationConfig {
    /// The rules, checked as S3 checks the document: at most 1,000 rules; ids of at most 255
    /// characters, unique (InvalidArgument); rules with a `Filter` (the current schema) need a
    /// Priority, unique among them, and DeleteMarkerReplication (InvalidRequest); no delete
    /// marker replication with a tag filter (InvalidRequest); destination ARNs of this server
    /// (InvalidArgument, InvalidRequest for other endpoints); replica storage class STANDARD,
    /// the one ksan keeps (InvalidStorageClass); ReplicaKmsKeyID only with
    /// SseKmsEncryptedObjects Enabled (InvalidRequest).
    pub fn new(role: String, mut rules: Vec<ReplicationRule>) -> S3Result<Self> {
        if rules.is_empty() {
            return Err(S3Error::new(ErrorCode::MalformedXML));
        }
        if rules.len() > 1000 {
            return Err(invalid("Replication configuration cannot have more than 1000 rules"));
        }
        let mut ids = std::collections::HashSet::new();
        let mut priorities = std::collections::HashSet::new();
        for rule in &mut rules {
            if rule.id.is_empty() {
                rule.id = random_id();
            }
            if rule.id.chars().count() > 255 {
                return Err(invalid("ID length should not exceed allowed limit of 255"));
            }
            if !ids.insert(rule.id.clone()) {
                return Err(invalid("Rule Id must be unique"));
            }
            let current_schema = !matches!(rule.filter, Filter::Legacy(_));
            if current_schema {
                let Some(p) = rule.priority else {
                    return Err(invalid_request(
                        "Priority must be specified for this version of Cross Region Replication configuration schema.",
                    ));
                };
                if !priorities.insert(p) {
                    return Err(invalid("Found duplicate priority"));
                }
                if rule.delete_markers.is_none() {
                    return Err(invalid_request(
                        "DeleteMarkerReplication must be specified for this version of Cross Region Replication configuration schema.",
                    ));
                }
            }
            if rule.delete_markers == Some(true) && !rule.filter.tags().is_empty() {
                return Err(invalid_request(
                    "Delete marker replication is not supported if any Tag filter is specified.",
                ));
            }
            let (target, bucket) = parse_destination(&rule.destination.arn)?;
            rule.destination.target = target;
            rule.destination.bucket = bucket;
            if let Some(class) = rule.destination.storage_class
                && class != StorageClass::Standard
            {
                return Err(S3Error::new(ErrorCode::InvalidStorageClass)
                    .msg("The storage class you specified is not valid: this server keeps only STANDARD"));
            }
            if rule.destination.replica_kms_key_id.is_some() && rule.sse_kms_objects != Some(true) {
                return Err(invalid_request(
                    "ReplicaKmsKeyID must be specified only with SseKmsEncryptedObjects Enabled.",
                ));
            }
        }
        Ok(ReplicationConfig { role, rules })
    }

    /// The rule with this id.
    pub fn rule(&self, id: &str) -> Option<&ReplicationRule> {
        self.rules.iter().find(|r| r.id == id)
    }
}

fn random_id() -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(rand::random::<[u8; 24]>())
}

impl BucketConfig for ReplicationConfig {
    const KIND: ConfigKind = ConfigKind::Replication;
    const NOT_FOUND: Option<ErrorCode> = Some(ErrorCode::ReplicationConfigurationNotFoundError);
    const DIGEST_REQUIRED: bool = true;

    /// Replication needs versioning enabled on the source (InvalidRequest).
    fn validate(&self, bucket: &BucketState) -> S3Result<()> {
        if bucket.record.versioning != Versioning::Enabled {
            return Err(invalid_request(
                "Versioning must be 'Enabled' on the bucket to apply a replication configuration",
            ));
        }
        Ok(())
    }
}

/// A version's replication state, as `x-amz-replication-status` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReplicationStatus {
    /// Waiting for at least one destination.
    Pending,
    /// At every destination.
    Completed,
    /// A destination refused it (retried until it takes it).
    Failed,
    /// This version is a replica.
    Replica,
}

impl ReplicationStatus {
    /// The header's value.
    pub fn as_str(self) -> &'static str {
        match self {
            ReplicationStatus::Pending => "PENDING",
            ReplicationStatus::Completed => "COMPLETED",
            ReplicationStatus::Failed => "FAILED",
            ReplicationStatus::Replica => "REPLICA",
        }
    }
}

/// A version's replication: its status and the rules still to carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicationState {
    /// The status.
    pub status: ReplicationStatus,
    /// Ids of the rules (one per destination) not done yet.
    #[serde(default)]
    pub pending: Vec<String>,
    /// Rules whose destination refused the version.
    #[serde(default)]
    pub failed: Vec<String>,
}

/// What changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Change {
    /// A new version (PUT, copy, completed upload, POST) or delete marker.
    New,
    /// Its metadata: tags, ACL, retention, legal hold.
    Metadata,
}

/// The rules a change to `v` goes out by (see the module doc).
pub fn targets_for<'a>(config: &'a ReplicationConfig, v: &ObjectVersion, change: Change) -> Vec<&'a ReplicationRule> {
    let replica = v
        .replication
        .as_ref()
        .is_some_and(|r| r.status == ReplicationStatus::Replica);
    // 2.
    if v.delete_marker && v.by_lifecycle {
        return Vec::new();
    }
    let mut chosen: Vec<&ReplicationRule> = Vec::new();
    for rule in config.rules.iter().filter(|r| r.enabled) {
        // 1.
        if replica && !(change == Change::Metadata && rule.replica_modifications == Some(true)) {
            continue;
        }
        // 2.
        if v.delete_marker && (rule.delete_markers != Some(true) || !rule.filter.tags().is_empty()) {
            continue;
        }
        // 3.
        match &v.sse {
            Some(SseMode::Customer { .. }) => continue,
            Some(SseMode::Kms { .. }) if rule.sse_kms_objects != Some(true) => continue,
            _ => {}
        }
        // 4.
        if !rule.filter.matches(&v.key, v.size, &v.tags) {
            continue;
        }
        let same_place = |c: &&ReplicationRule| {
            c.destination.bucket == rule.destination.bucket && c.destination.target == rule.destination.target
        };
        match chosen.iter_mut().find(|c| same_place(c)) {
            Some(c) if rule.priority.unwrap_or(0) > c.priority.unwrap_or(0) => *c = rule,
            Some(_) => {}
            None => chosen.push(rule),
        }
    }
    chosen
}

/// A replicator work item (`Q|replicate|..`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkItem {
    /// The source bucket.
    pub bucket: String,
    /// What to do.
    pub job: Job,
    /// Tries so far.
    #[serde(default)]
    pub attempts: u32,
}

/// A replicator job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Job {
    /// Bring one version (or its metadata) to one rule's destination.
    Version {
        /// The key.
        key: String,
        /// The version's uid.
        uid: [u8; 16],
        /// The rule.
        rule: String,
        /// What changed (None in items queued before it was recorded: a new version).
        #[serde(default)]
        change: Option<Change>,
    },
    /// Queue the versions already in the bucket after `after` (ExistingObjectReplication):
    /// one bounded batch, then the next item.
    Existing {
        /// The last version row done.
        after: Option<Vec<u8>>,
    },
}

/// Queue a work item, due now.
pub(crate) fn enqueue(txn: &mut dyn WriteOps, item: &WorkItem, due_ms: i64) -> S3Result<()> {
    crate::workers::enqueue(txn, Queue::Replicate, due_ms, &crate::records::encode(item)?)
}

/// Queue one item per rule for a change to `v`.
pub(crate) fn queue_version(
    txn: &mut dyn WriteOps,
    bucket: &str,
    v: &ObjectVersion,
    rules: &[String],
    change: Change,
    due_ms: i64,
) -> S3Result<()> {
    for rule in rules {
        let item = WorkItem {
            bucket: bucket.to_owned(),
            job: Job::Version {
                key: v.key.clone(),
                uid: v.uid,
                rule: rule.clone(),
                change: Some(change),
            },
            attempts: 0,
        };
        enqueue(txn, &item, due_ms)?;
    }
    Ok(())
}

/// The outbox (see the module doc): inside the transaction that makes `change` to `v` (about
/// to be written), mark it PENDING for the rules it goes out by and queue their items.
pub(crate) async fn outbox(
    txn: &mut dyn WriteOps,
    bucket: &str,
    v: &mut ObjectVersion,
    change: Change,
) -> S3Result<()> {
    let Some(config) = store::get::<ReplicationConfig>(&*txn, &keys::config(bucket, ConfigKind::Replication)).await?
    else {
        return Ok(());
    };
    let rules: Vec<String> = targets_for(&config, v, change).iter().map(|r| r.id.clone()).collect();
    if rules.is_empty() {
        return Ok(());
    }
    let now = crate::now_ms();
    queue_version(txn, bucket, v, &rules, change, now)?;
    match &mut v.replication {
        // A replica keeps its status; its modifications go out all the same.
        Some(state) if state.status == ReplicationStatus::Replica => {}
        _ => {
            v.replication = Some(ReplicationState {
                status: ReplicationStatus::Pending,
                pending: rules,
                failed: Vec::new(),
            })
        }
    }
    Ok(())
}

impl crate::Engine {
    /// PutBucketReplication: the rules S3 checks against the buckets (versioning enabled on
    /// the source, checked in the writing transaction; each destination bucket exists here
    /// with versioning enabled: InvalidRequest), then the configuration, and, if a rule asks
    /// for ExistingObjectReplication, the first item of the walk that queues the objects
    /// already there, in the same transaction.
    pub async fn put_replication(&self, bucket: &str, config: ReplicationConfig, digest_sent: bool) -> S3Result<()> {
        if !digest_sent {
            return Err(invalid_request("Missing required header for this request: Content-MD5"));
        }
        for rule in &config.rules {
            if let Some(target) = &rule.destination.target {
                if !self.target_exists(target).await? {
                    return Err(invalid_request(format!(
                        "Replication target '{target}' is not registered"
                    )));
                }
                continue;
            }
            let dest = self
                .bucket_state(&rule.destination.bucket)
                .await
                .map_err(|_| invalid_request("Destination bucket must exist."))?;
            if dest.record.versioning != Versioning::Enabled {
                return Err(invalid_request("Destination bucket must have versioning enabled."));
            }
        }
        let existing = config
            .rules
            .iter()
            .any(|r| r.enabled && r.existing_objects == Some(true));
        let bytes = crate::records::encode(&config)?;
        let config = std::sync::Arc::new(config);
        let name = bucket.to_owned();
        self.write(move |txn| {
            let (bytes, config, name) = (bytes.clone(), config.clone(), name.clone());
            Box::pin(async move {
                let state = BucketState::load_for_update(txn, &name).await?;
                config.validate(&state)?;
                store::put_raw(txn, &keys::config(&name, ConfigKind::Replication), &bytes)?;
                if existing {
                    let item = WorkItem {
                        bucket: name.clone(),
                        job: Job::Existing { after: None },
                        attempts: 0,
                    };
                    enqueue(txn, &item, crate::now_ms())?;
                }
                Ok(())
            })
        })
        .await?;
        self.buckets.invalidate(bucket);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{Content, NewObject};

    fn rule(id: &str, priority: i64, filter: Filter, dest: &str) -> ReplicationRule {
        ReplicationRule {
            id: id.into(),
            priority: Some(priority),
            enabled: true,
            filter,
            destination: Destination {
                arn: format!("arn:aws:s3:::{dest}"),
                target: None,
                bucket: String::new(),
                account: None,
                storage_class: None,
                owner_translation: None,
                replica_kms_key_id: None,
                replication_time: None,
                metrics: None,
            },
            delete_markers: Some(false),
            existing_objects: None,
            sse_kms_objects: None,
            replica_modifications: None,
        }
    }

    fn version(key: &str, tags: &[(&str, &str)]) -> ObjectVersion {
        let object = NewObject {
            tags: tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            ..NewObject::default()
        };
        let content = Content {
            size: 1,
            etag: String::new(),
            checksum: None,
            checksum_type: None,
            data: crate::records::DataLocation::Inline,
            sealed: None,
        };
        ObjectVersion::new(key.into(), object, content)
    }

    fn ids(rules: Vec<&ReplicationRule>) -> Vec<&str> {
        rules.iter().map(|r| r.id.as_str()).collect()
    }

    #[test]
    fn rules_are_checked() {
        let code = |rules| ReplicationConfig::new(String::new(), rules).unwrap_err().code;
        let ok = rule("a", 1, Filter::Prefix("a".into()), "dst");
        assert_eq!(code(vec![]), ErrorCode::MalformedXML);
        assert_eq!(code(vec![ok.clone(), ok.clone()]), ErrorCode::InvalidArgument);
        assert_eq!(
            code(vec![ok.clone(), rule("b", 1, Filter::All, "dst")]),
            ErrorCode::InvalidArgument
        );
        let mut no_priority = ok.clone();
        no_priority.priority = None;
        assert_eq!(code(vec![no_priority.clone()]), ErrorCode::InvalidRequest);
        no_priority.filter = Filter::Legacy("a".into());
        no_priority.delete_markers = None;
        assert!(
            ReplicationConfig::new(String::new(), vec![no_priority]).is_ok(),
            "the older schema"
        );
        let mut markers_by_tag = rule("t", 1, Filter::Tag(("k".into(), "v".into())), "dst");
        markers_by_tag.delete_markers = Some(true);
        assert_eq!(code(vec![markers_by_tag]), ErrorCode::InvalidRequest);
        let mut remote = ok.clone();
        remote.destination.arn = "arn:ksan:replication::site2:dst".into();
        let c = ReplicationConfig::new(String::new(), vec![remote]).unwrap();
        assert_eq!(c.rules[0].destination.target.as_deref(), Some("site2"));
        let mut bad_remote = ok.clone();
        bad_remote.destination.arn = "arn:ksan:replication::site2".into();
        assert_eq!(code(vec![bad_remote]), ErrorCode::InvalidArgument);
        let mut bad = ok.clone();
        bad.destination.arn = "dst".into();
        assert_eq!(code(vec![bad]), ErrorCode::InvalidArgument);
        let mut glacier = ok.clone();
        glacier.destination.storage_class = Some(StorageClass::Glacier);
        assert_eq!(code(vec![glacier]), ErrorCode::InvalidStorageClass);
        let mut kms = ok.clone();
        kms.destination.replica_kms_key_id = Some("k".into());
        assert_eq!(code(vec![kms]), ErrorCode::InvalidRequest);
        let c = ReplicationConfig::new(String::new(), vec![ok]).unwrap();
        assert_eq!(c.rules[0].destination.bucket, "dst");
    }

    #[test]
    fn each_destination_takes_its_highest_priority_rule() {
        let config = ReplicationConfig::new(
            String::new(),
            vec![
                rule("low", 1, Filter::All, "one"),
                rule("high", 5, Filter::Prefix("docs/".into()), "one"),
                rule("tagged", 3, Filter::Tag(("t".into(), "1".into())), "two"),
                ReplicationRule {
                    enabled: false,
                    ..rule("off", 9, Filter::All, "three")
                },
            ],
        )
        .unwrap();
        assert_eq!(
            ids(targets_for(&config, &version("docs/a", &[]), Change::New)),
            ["high"]
        );
        assert_eq!(ids(targets_for(&config, &version("x", &[]), Change::New)), ["low"]);
        assert_eq!(
            ids(targets_for(&config, &version("docs/a", &[("t", "1")]), Change::New)),
            ["high", "tagged"]
        );
    }

    #[test]
    fn replicas_markers_and_encryption() {
        let mut markers = rule("m", 2, Filter::Prefix("".into()), "one");
        markers.delete_markers = Some(true);
        let mut kms = rule("kms", 1, Filter::All, "two");
        kms.sse_kms_objects = Some(true);
        let config = ReplicationConfig::new(String::new(), vec![markers, kms]).unwrap();
        // A replica goes nowhere, but for its metadata by a ReplicaModifications rule.
        let mut replica = version("k", &[]);
        replica.replication = Some(ReplicationState {
            status: ReplicationStatus::Replica,
            pending: vec![],
            failed: vec![],
        });
        assert!(targets_for(&config, &replica, Change::New).is_empty());
        assert!(targets_for(&config, &replica, Change::Metadata).is_empty());
        let mut modifying = config.clone();
        modifying.rules[0].replica_modifications = Some(true);
        assert_eq!(ids(targets_for(&modifying, &replica, Change::Metadata)), ["m"]);
        // Delete markers: by rules that replicate them; never a lifecycle one.
        let mut marker = version("k", &[]);
        marker.delete_marker = true;
        assert_eq!(ids(targets_for(&config, &marker, Change::New)), ["m"]);
        marker.by_lifecycle = true;
        assert!(targets_for(&config, &marker, Change::New).is_empty());
        // SSE-C never; SSE-KMS only by rules that take it.
        let mut sse_c = version("k", &[]);
        sse_c.sse = Some(SseMode::Customer {
            key_md5: String::new(),
            salt: [0; 16],
            hmac: [0; 32],
        });
        assert!(targets_for(&config, &sse_c, Change::New).is_empty());
        let mut sse_kms = version("k", &[]);
        sse_kms.sse = Some(SseMode::Kms {
            key_id: "k".into(),
            context: None,
            bucket_key: false,
        });
        assert_eq!(ids(targets_for(&config, &sse_kms, Change::New)), ["kms"]);
    }
}
