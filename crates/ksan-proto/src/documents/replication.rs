//! `ReplicationConfiguration` (Put/GetBucketReplication): a role and rules, each with a
//! filter (or the older rule-level `Prefix`), a priority, a status, a destination and the
//! switches for delete markers, existing objects and SSE-KMS objects. The reader enforces the
//! schema (MalformedXML); the rules S3 checks beyond it are the engine's
//! (`ksan_engine::replication`).

use ksan_types::{ErrorCode, S3Error, S3Result};

use super::lifecycle::{read_filter, write_filter};
use super::{LifecycleFilterDoc, XmlDocument};
use crate::xml::{Element, XmlWriter};

/// The document.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReplicationConfiguration {
    /// `Role`.
    pub role: String,
    /// The rules, in order.
    pub rules: Vec<ReplicationRuleDoc>,
}

/// `Destination`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DestinationDoc {
    /// `Bucket` (an ARN).
    pub bucket: String,
    /// `Account`.
    pub account: Option<String>,
    /// `StorageClass`.
    pub storage_class: Option<String>,
    /// `AccessControlTranslation/Owner`.
    pub owner_translation: Option<String>,
    /// `EncryptionConfiguration/ReplicaKmsKeyID`.
    pub replica_kms_key_id: Option<String>,
    /// `ReplicationTime`: status, minutes.
    pub replication_time: Option<(bool, Option<i64>)>,
    /// `Metrics`: status, event threshold minutes.
    pub metrics: Option<(bool, Option<i64>)>,
}

/// One `Rule`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReplicationRuleDoc {
    /// `ID`.
    pub id: Option<String>,
    /// `Priority`.
    pub priority: Option<i64>,
    /// `Status` is `Enabled`.
    pub enabled: bool,
    /// The rule-level `Prefix` (the older form).
    pub prefix: Option<String>,
    /// `Filter`.
    pub filter: Option<LifecycleFilterDoc>,
    /// `Destination`.
    pub destination: DestinationDoc,
    /// `DeleteMarkerReplication/Status`.
    pub delete_marker_replication: Option<bool>,
    /// `ExistingObjectReplication/Status`.
    pub existing_objects: Option<bool>,
    /// `SourceSelectionCriteria/SseKmsEncryptedObjects/Status`.
    pub sse_kms_objects: Option<bool>,
    /// `SourceSelectionCriteria/ReplicaModifications/Status`.
    pub replica_modifications: Option<bool>,
}

fn malformed() -> S3Error {
    S3Error::new(ErrorCode::MalformedXML)
}

fn int(e: &Element, name: &str) -> S3Result<Option<i64>> {
    e.child_text(name)
        .map(|t| t.parse::<i64>().map_err(|_| malformed()))
        .transpose()
}

/// `Enabled` / `Disabled`, as S3 spells them.
fn status(e: &Element) -> S3Result<bool> {
    match e.child_text("Status") {
        Some("Enabled") => Ok(true),
        Some("Disabled") => Ok(false),
        _ => Err(malformed()),
    }
}

/// The status of a `<Name><Status>..</Status></Name>` child, if it is there.
fn switch(parent: &Element, name: &str) -> S3Result<Option<bool>> {
    parent.child(name).map(status).transpose()
}

fn read_destination(d: &Element) -> S3Result<DestinationDoc> {
    let timed = |name: &str, inner: &str| -> S3Result<Option<(bool, Option<i64>)>> {
        let Some(e) = d.child(name) else { return Ok(None) };
        let minutes = match e.child(inner) {
            Some(t) => int(t, "Minutes")?,
            None => None,
        };
        Ok(Some((status(e)?, minutes)))
    };
    Ok(DestinationDoc {
        bucket: d.child_text("Bucket").ok_or_else(malformed)?.to_owned(),
        account: d.child_text("Account").map(str::to_owned),
        storage_class: d.child_text("StorageClass").map(str::to_owned),
        owner_translation: match d.child("AccessControlTranslation") {
            Some(a) => Some(a.child_text("Owner").ok_or_else(malformed)?.to_owned()),
            None => None,
        },
        replica_kms_key_id: d
            .child("EncryptionConfiguration")
            .and_then(|e| e.child_text("ReplicaKmsKeyID"))
            .map(str::to_owned),
        replication_time: timed("ReplicationTime", "Time")?,
        metrics: timed("Metrics", "EventThreshold")?,
    })
}

fn read_rule(r: &Element) -> S3Result<ReplicationRuleDoc> {
    let filter = r.child("Filter").map(read_filter).transpose()?;
    let prefix = r.child_raw("Prefix").map(str::to_owned);
    if filter.is_some() && prefix.is_some() {
        return Err(malformed());
    }
    let criteria = r.child("SourceSelectionCriteria");
    Ok(ReplicationRuleDoc {
        id: r.child_raw("ID").map(str::to_owned),
        priority: int(r, "Priority")?,
        enabled: status(r)?,
        prefix,
        filter,
        destination: read_destination(r.child("Destination").ok_or_else(malformed)?)?,
        delete_marker_replication: switch(r, "DeleteMarkerReplication")?,
        existing_objects: switch(r, "ExistingObjectReplication")?,
        sse_kms_objects: criteria
            .map(|c| switch(c, "SseKmsEncryptedObjects"))
            .transpose()?
            .flatten(),
        replica_modifications: criteria
            .map(|c| switch(c, "ReplicaModifications"))
            .transpose()?
            .flatten(),
    })
}

fn status_text(on: bool) -> &'static str {
    if on { "Enabled" } else { "Disabled" }
}

fn write_switch(w: &mut XmlWriter, name: &str, value: Option<bool>) {
    if let Some(on) = value {
        w.open(name).elem("Status", status_text(on)).close(name);
    }
}

fn write_destination(w: &mut XmlWriter, d: &DestinationDoc) {
    w.open("Destination").elem("Bucket", &d.bucket);
    w.elem_opt("Account", d.account.as_deref());
    w.elem_opt("StorageClass", d.storage_class.as_deref());
    if let Some(owner) = &d.owner_translation {
        w.open("AccessControlTranslation")
            .elem("Owner", owner)
            .close("AccessControlTranslation");
    }
    if let Some(key) = &d.replica_kms_key_id {
        w.open("EncryptionConfiguration")
            .elem("ReplicaKmsKeyID", key)
            .close("EncryptionConfiguration");
    }
    for (name, inner, value) in [
        ("ReplicationTime", "Time", d.replication_time),
        ("Metrics", "EventThreshold", d.metrics),
    ] {
        if let Some((on, minutes)) = value {
            w.open(name).elem("Status", status_text(on));
            if let Some(m) = minutes {
                w.open(inner).elem_display("Minutes", m).close(inner);
            }
            w.close(name);
        }
    }
    w.close("Destination");
}

impl XmlDocument for ReplicationConfiguration {
    const ROOT: &'static str = "ReplicationConfiguration";

    fn read(root: &Element) -> S3Result<Self> {
        let rules = root
            .children_named("Rule")
            .map(read_rule)
            .collect::<S3Result<Vec<_>>>()?;
        if rules.is_empty() {
            return Err(malformed());
        }
        Ok(ReplicationConfiguration {
            role: root.child_text("Role").unwrap_or_default().to_owned(),
            rules,
        })
    }

    fn write_body(&self, w: &mut XmlWriter) {
        w.elem("Role", &self.role);
        for r in &self.rules {
            w.open("Rule");
            w.elem_opt("ID", r.id.as_deref());
            if let Some(p) = r.priority {
                w.elem_display("Priority", p);
            }
            if let Some(p) = &r.prefix {
                w.elem("Prefix", p);
            }
            if let Some(f) = &r.filter {
                write_filter(w, f);
            }
            w.elem("Status", status_text(r.enabled));
            write_destination(w, &r.destination);
            write_switch(w, "DeleteMarkerReplication", r.delete_marker_replication);
            write_switch(w, "ExistingObjectReplication", r.existing_objects);
            if r.sse_kms_objects.is_some() || r.replica_modifications.is_some() {
                w.open("SourceSelectionCriteria");
                write_switch(w, "SseKmsEncryptedObjects", r.sse_kms_objects);
                write_switch(w, "ReplicaModifications", r.replica_modifications);
                w.close("SourceSelectionCriteria");
            }
            w.close("Rule");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects() {
        super::super::round_trip(&ReplicationConfiguration {
            role: "arn:aws:iam::1:role/r".into(),
            rules: vec![
                ReplicationRuleDoc {
                    id: Some("a".into()),
                    priority: Some(2),
                    enabled: true,
                    filter: Some(LifecycleFilterDoc::And {
                        prefix: Some("p/".into()),
                        tags: vec![("k".into(), "v".into())],
                        size_gt: None,
                        size_lt: None,
                    }),
                    destination: DestinationDoc {
                        bucket: "arn:aws:s3:::dst".into(),
                        account: Some("123".into()),
                        storage_class: Some("STANDARD".into()),
                        owner_translation: Some("Destination".into()),
                        replica_kms_key_id: Some("key".into()),
                        replication_time: Some((true, Some(15))),
                        metrics: Some((true, Some(15))),
                    },
                    delete_marker_replication: Some(false),
                    existing_objects: Some(true),
                    sse_kms_objects: Some(true),
                    replica_modifications: Some(false),
                    ..Default::default()
                },
                ReplicationRuleDoc {
                    enabled: false,
                    prefix: Some("old/".into()),
                    destination: DestinationDoc {
                        bucket: "arn:aws:s3:::dst".into(),
                        ..Default::default()
                    },
                    ..Default::default()
                },
            ],
        });
        for bad in [
            "<ReplicationConfiguration><Role/></ReplicationConfiguration>",
            "<ReplicationConfiguration><Rule><Status>Enabled</Status></Rule></ReplicationConfiguration>",
            "<ReplicationConfiguration><Rule><Status>enabled</Status><Destination><Bucket>b</Bucket></Destination></Rule></ReplicationConfiguration>",
            "<ReplicationConfiguration><Rule><Status>Enabled</Status><Priority>x</Priority><Destination><Bucket>b</Bucket></Destination></Rule></ReplicationConfiguration>",
            "<ReplicationConfiguration><Rule><Status>Enabled</Status><Prefix/><Filter/><Destination><Bucket>b</Bucket></Destination></Rule></ReplicationConfiguration>",
        ] {
            assert_eq!(
                ReplicationConfiguration::from_xml(bad.as_bytes()).unwrap_err().code,
                ErrorCode::MalformedXML,
                "{bad}"
            );
        }
    }
}
