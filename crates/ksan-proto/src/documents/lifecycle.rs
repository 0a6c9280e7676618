//! `LifecycleConfiguration` (Put/GetBucketLifecycleConfiguration): rules with a filter (or the
//! older rule-level `Prefix`), a status and their actions. The reader enforces the schema
//! (MalformedXML): a known status, at most one predicate directly in `Filter` (more go in
//! `And`), not both `Filter` and `Prefix`, numbers that are numbers. The rules S3 checks
//! beyond the schema are the engine's (`ksan_engine::lifecycle`).

use ksan_types::{ErrorCode, S3Error, S3Result};

use super::{XmlDocument, bool_text};
use crate::xml::{Element, XmlWriter};

/// The document.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LifecycleConfiguration {
    /// The rules, in order.
    pub rules: Vec<LifecycleRuleDoc>,
}

/// `Filter`, by the one predicate it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LifecycleFilterDoc {
    /// `<Filter/>`.
    Empty,
    /// `Prefix`.
    Prefix(String),
    /// `Tag`: (key, value).
    Tag((String, String)),
    /// `ObjectSizeGreaterThan`.
    SizeGreaterThan(u64),
    /// `ObjectSizeLessThan`.
    SizeLessThan(u64),
    /// `And`.
    And {
        /// `Prefix`.
        prefix: Option<String>,
        /// `Tag`s.
        tags: Vec<(String, String)>,
        /// `ObjectSizeGreaterThan`.
        size_gt: Option<u64>,
        /// `ObjectSizeLessThan`.
        size_lt: Option<u64>,
    },
}

/// `Expiration`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExpirationDoc {
    /// `Days`.
    pub days: Option<i64>,
    /// `Date`, as written (ISO 8601).
    pub date: Option<String>,
    /// `ExpiredObjectDeleteMarker`.
    pub expired_object_delete_marker: Option<bool>,
}

/// `NoncurrentVersionExpiration`, or the timing of a `NoncurrentVersionTransition`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NoncurrentDoc {
    /// `NoncurrentDays`.
    pub days: Option<i64>,
    /// `NewerNoncurrentVersions`.
    pub newer_versions: Option<i64>,
}

/// `Transition` (current versions: Days or Date) or `NoncurrentVersionTransition`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TransitionDoc {
    /// `Days`.
    pub days: Option<i64>,
    /// `Date`, as written.
    pub date: Option<String>,
    /// `StorageClass`.
    pub storage_class: String,
}

/// One `Rule`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LifecycleRuleDoc {
    /// `ID`.
    pub id: Option<String>,
    /// `Status` is `Enabled` (else `Disabled`).
    pub enabled: bool,
    /// The rule-level `Prefix` (the older form).
    pub prefix: Option<String>,
    /// `Filter`.
    pub filter: Option<LifecycleFilterDoc>,
    /// `Expiration`.
    pub expiration: Option<ExpirationDoc>,
    /// `NoncurrentVersionExpiration`.
    pub noncurrent_expiration: Option<NoncurrentDoc>,
    /// `AbortIncompleteMultipartUpload/DaysAfterInitiation`.
    pub abort_after_days: Option<i64>,
    /// `Transition`s.
    pub transitions: Vec<TransitionDoc>,
    /// `NoncurrentVersionTransition`s: their timing and class.
    pub noncurrent_transitions: Vec<(NoncurrentDoc, String)>,
}

fn malformed() -> S3Error {
    S3Error::new(ErrorCode::MalformedXML)
}

fn int(e: &Element, name: &str) -> S3Result<Option<i64>> {
    e.child_text(name)
        .map(|t| t.parse::<i64>().map_err(|_| malformed()))
        .transpose()
}

fn size(e: &Element, name: &str) -> S3Result<Option<u64>> {
    e.child_text(name)
        .map(|t| t.parse::<u64>().map_err(|_| malformed()))
        .transpose()
}

fn tag(e: &Element) -> S3Result<(String, String)> {
    match (e.child_raw("Key"), e.child("Value")) {
        (Some(k), Some(v)) => Ok((k.to_owned(), v.text.clone())),
        _ => Err(malformed()),
    }
}

/// Read a `Filter` (lifecycle and replication rules share its forms).
pub(super) fn read_filter(f: &Element) -> S3Result<LifecycleFilterDoc> {
    let [predicate] = f.children.as_slice() else {
        return if f.children.is_empty() {
            Ok(LifecycleFilterDoc::Empty)
        } else {
            // More than one predicate must go in And.
            Err(malformed())
        };
    };
    Ok(match predicate.name.as_str() {
        "Prefix" => LifecycleFilterDoc::Prefix(predicate.text.clone()),
        "Tag" => LifecycleFilterDoc::Tag(tag(predicate)?),
        "ObjectSizeGreaterThan" => LifecycleFilterDoc::SizeGreaterThan(size(f, "ObjectSizeGreaterThan")?.unwrap_or(0)),
        "ObjectSizeLessThan" => LifecycleFilterDoc::SizeLessThan(size(f, "ObjectSizeLessThan")?.unwrap_or(0)),
        "And" => {
            if predicate.children_named("Prefix").count() > 1 {
                return Err(malformed());
            }
            LifecycleFilterDoc::And {
                prefix: predicate.child_raw("Prefix").map(str::to_owned),
                tags: predicate.children_named("Tag").map(tag).collect::<S3Result<_>>()?,
                size_gt: size(predicate, "ObjectSizeGreaterThan")?,
                size_lt: size(predicate, "ObjectSizeLessThan")?,
            }
        }
        _ => return Err(malformed()),
    })
}

fn read_noncurrent(e: &Element) -> S3Result<NoncurrentDoc> {
    Ok(NoncurrentDoc {
        days: int(e, "NoncurrentDays")?,
        newer_versions: int(e, "NewerNoncurrentVersions")?,
    })
}

fn read_rule(r: &Element) -> S3Result<LifecycleRuleDoc> {
    let enabled = match r.child_text("Status") {
        Some("Enabled") => true,
        Some("Disabled") => false,
        _ => return Err(malformed()),
    };
    let filter = r.child("Filter").map(read_filter).transpose()?;
    let prefix = r.child_raw("Prefix").map(str::to_owned);
    if filter.is_some() && prefix.is_some() {
        return Err(malformed());
    }
    let expiration = match r.child("Expiration") {
        None => None,
        Some(e) => {
            let dm = match e.child_text("ExpiredObjectDeleteMarker") {
                None => None,
                Some(t) => Some(bool_text(t).ok_or_else(malformed)?),
            };
            let doc = ExpirationDoc {
                days: int(e, "Days")?,
                date: e.child_text("Date").map(str::to_owned),
                expired_object_delete_marker: dm,
            };
            if doc == ExpirationDoc::default() {
                return Err(malformed());
            }
            Some(doc)
        }
    };
    let noncurrent_expiration = r
        .child("NoncurrentVersionExpiration")
        .map(read_noncurrent)
        .transpose()?;
    if noncurrent_expiration.as_ref().is_some_and(|n| n.days.is_none()) {
        return Err(malformed());
    }
    let abort_after_days = match r.child("AbortIncompleteMultipartUpload") {
        None => None,
        Some(a) => Some(int(a, "DaysAfterInitiation")?.ok_or_else(malformed)?),
    };
    let transitions = r
        .children_named("Transition")
        .map(|t| {
            let doc = TransitionDoc {
                days: int(t, "Days")?,
                date: t.child_text("Date").map(str::to_owned),
                storage_class: t.child_text("StorageClass").ok_or_else(malformed)?.to_owned(),
            };
            if doc.days.is_some() == doc.date.is_some() {
                return Err(malformed());
            }
            Ok(doc)
        })
        .collect::<S3Result<Vec<_>>>()?;
    let noncurrent_transitions = r
        .children_named("NoncurrentVersionTransition")
        .map(|t| {
            let timing = read_noncurrent(t)?;
            let class = t.child_text("StorageClass").ok_or_else(malformed)?.to_owned();
            if timing.days.is_none() {
                return Err(malformed());
            }
            Ok((timing, class))
        })
        .collect::<S3Result<Vec<_>>>()?;
    Ok(LifecycleRuleDoc {
        id: r.child_raw("ID").map(str::to_owned),
        enabled,
        prefix,
        filter,
        expiration,
        noncurrent_expiration,
        abort_after_days,
        transitions,
        noncurrent_transitions,
    })
}

fn write_size(w: &mut XmlWriter, name: &str, value: Option<u64>) {
    if let Some(v) = value {
        w.elem_display(name, v);
    }
}

fn write_tag(w: &mut XmlWriter, (k, v): &(String, String)) {
    w.open("Tag").elem("Key", k).elem("Value", v).close("Tag");
}

fn write_noncurrent(w: &mut XmlWriter, n: &NoncurrentDoc) {
    if let Some(d) = n.days {
        w.elem_display("NoncurrentDays", d);
    }
    if let Some(k) = n.newer_versions {
        w.elem_display("NewerNoncurrentVersions", k);
    }
}

/// Write a `Filter`.
pub(super) fn write_filter(w: &mut XmlWriter, f: &LifecycleFilterDoc) {
    if *f == LifecycleFilterDoc::Empty {
        w.open("Filter").close("Filter");
        return;
    }
    w.open("Filter");
    match f {
        LifecycleFilterDoc::Prefix(p) => {
            w.elem("Prefix", p);
        }
        LifecycleFilterDoc::Tag(t) => write_tag(w, t),
        LifecycleFilterDoc::SizeGreaterThan(n) => write_size(w, "ObjectSizeGreaterThan", Some(*n)),
        LifecycleFilterDoc::SizeLessThan(n) => write_size(w, "ObjectSizeLessThan", Some(*n)),
        LifecycleFilterDoc::And {
            prefix,
            tags,
            size_gt,
            size_lt,
        } => {
            w.open("And");
            w.elem_opt("Prefix", prefix.as_deref());
            for t in tags {
                write_tag(w, t);
            }
            write_size(w, "ObjectSizeGreaterThan", *size_gt);
            write_size(w, "ObjectSizeLessThan", *size_lt);
            w.close("And");
        }
        LifecycleFilterDoc::Empty => {}
    }
    w.close("Filter");
}

fn write_rule(w: &mut XmlWriter, r: &LifecycleRuleDoc) {
    w.open("Rule");
    w.elem_opt("ID", r.id.as_deref());
    if let Some(p) = &r.prefix {
        w.elem("Prefix", p);
    }
    if let Some(f) = &r.filter {
        write_filter(w, f);
    }
    w.elem("Status", if r.enabled { "Enabled" } else { "Disabled" });
    for t in &r.transitions {
        w.open("Transition");
        if let Some(d) = t.days {
            w.elem_display("Days", d);
        }
        w.elem_opt("Date", t.date.as_deref());
        w.elem("StorageClass", &t.storage_class).close("Transition");
    }
    for (n, class) in &r.noncurrent_transitions {
        w.open("NoncurrentVersionTransition");
        write_noncurrent(w, n);
        w.elem("StorageClass", class).close("NoncurrentVersionTransition");
    }
    if let Some(n) = &r.noncurrent_expiration {
        w.open("NoncurrentVersionExpiration");
        write_noncurrent(w, n);
        w.close("NoncurrentVersionExpiration");
    }
    if let Some(d) = r.abort_after_days {
        w.open("AbortIncompleteMultipartUpload")
            .elem_display("DaysAfterInitiation", d)
            .close("AbortIncompleteMultipartUpload");
    }
    if let Some(e) = &r.expiration {
        w.open("Expiration");
        if let Some(d) = e.days {
            w.elem_display("Days", d);
        }
        w.elem_opt("Date", e.date.as_deref());
        if let Some(dm) = e.expired_object_delete_marker {
            w.elem("ExpiredObjectDeleteMarker", if dm { "true" } else { "false" });
        }
        w.close("Expiration");
    }
    w.close("Rule");
}

impl XmlDocument for LifecycleConfiguration {
    const ROOT: &'static str = "LifecycleConfiguration";

    fn read(root: &Element) -> S3Result<Self> {
        let rules = root
            .children_named("Rule")
            .map(read_rule)
            .collect::<S3Result<Vec<_>>>()?;
        Ok(LifecycleConfiguration { rules })
    }

    fn write_body(&self, w: &mut XmlWriter) {
        for r in &self.rules {
            write_rule(w, r);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(inner: &str) -> String {
        format!("<LifecycleConfiguration><Rule>{inner}</Rule></LifecycleConfiguration>")
    }

    #[test]
    fn round_trips() {
        let full = LifecycleConfiguration {
            rules: vec![
                LifecycleRuleDoc {
                    id: Some("legacy".into()),
                    enabled: true,
                    prefix: Some("logs/".into()),
                    expiration: Some(ExpirationDoc {
                        days: Some(3),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                LifecycleRuleDoc {
                    id: Some("and".into()),
                    enabled: false,
                    filter: Some(LifecycleFilterDoc::And {
                        prefix: Some("p".into()),
                        tags: vec![("a".into(), "1".into()), ("b".into(), String::new())],
                        size_gt: Some(10),
                        size_lt: Some(20),
                    }),
                    noncurrent_expiration: Some(NoncurrentDoc {
                        days: Some(2),
                        newer_versions: Some(5),
                    }),
                    transitions: vec![TransitionDoc {
                        days: None,
                        date: Some("2030-01-01T00:00:00.000Z".into()),
                        storage_class: "STANDARD".into(),
                    }],
                    noncurrent_transitions: vec![(
                        NoncurrentDoc {
                            days: Some(1),
                            newer_versions: None,
                        },
                        "STANDARD".into(),
                    )],
                    ..Default::default()
                },
                LifecycleRuleDoc {
                    id: Some("dm".into()),
                    enabled: true,
                    filter: Some(LifecycleFilterDoc::Empty),
                    expiration: Some(ExpirationDoc {
                        expired_object_delete_marker: Some(true),
                        ..Default::default()
                    }),
                    abort_after_days: Some(7),
                    ..Default::default()
                },
            ],
        };
        super::super::round_trip(&full);
        for f in [
            LifecycleFilterDoc::Prefix("x/".into()),
            LifecycleFilterDoc::Tag(("k".into(), "v".into())),
            LifecycleFilterDoc::SizeGreaterThan(5),
            LifecycleFilterDoc::SizeLessThan(6),
        ] {
            super::super::round_trip(&LifecycleConfiguration {
                rules: vec![LifecycleRuleDoc {
                    enabled: true,
                    filter: Some(f),
                    abort_after_days: Some(1),
                    ..Default::default()
                }],
            });
        }
    }

    #[test]
    fn schema_errors_are_malformed() {
        for bad in [
            rule("<Status>enabled</Status><Prefix/><Expiration><Days>1</Days></Expiration>"),
            rule("<Prefix/><Expiration><Days>1</Days></Expiration>"),
            rule("<Status>Enabled</Status><Prefix/><Filter/><Expiration><Days>1</Days></Expiration>"),
            rule(
                "<Status>Enabled</Status><Filter><Prefix>a</Prefix><Tag><Key>k</Key><Value>v</Value></Tag></Filter><Expiration><Days>1</Days></Expiration>",
            ),
            rule("<Status>Enabled</Status><Prefix/><Expiration><Days>x</Days></Expiration>"),
            rule("<Status>Enabled</Status><Prefix/><Expiration/>"),
            rule(
                "<Status>Enabled</Status><Prefix/><Expiration><ExpiredObjectDeleteMarker>yes</ExpiredObjectDeleteMarker></Expiration>",
            ),
            rule("<Status>Enabled</Status><Prefix/><Transition><StorageClass>GLACIER</StorageClass></Transition>"),
            rule("<Status>Enabled</Status><Prefix/><AbortIncompleteMultipartUpload/>"),
            rule(
                "<Status>Enabled</Status><Filter><ObjectSizeLessThan>-1</ObjectSizeLessThan></Filter><Expiration><Days>1</Days></Expiration>",
            ),
            "<Lifecycle/>".into(),
        ] {
            assert_eq!(
                LifecycleConfiguration::from_xml(bad.as_bytes()).unwrap_err().code,
                ErrorCode::MalformedXML,
                "{bad}"
            );
        }
    }
}
