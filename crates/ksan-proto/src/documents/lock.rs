//! Object lock documents: `ObjectLockConfiguration` (Put/GetObjectLockConfiguration),
//! `Retention` (Put/GetObjectRetention) and `LegalHold` (Put/GetObjectLegalHold).

use ksan_types::{ErrorCode, S3Error, S3Result};

use super::XmlDocument;
use crate::xml::{Element, XmlWriter};

/// `ObjectLockConfiguration`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObjectLockConfiguration {
    /// `ObjectLockEnabled` (only `Enabled` exists).
    pub enabled: bool,
    /// `Rule/DefaultRetention/Mode`.
    pub mode: Option<String>,
    /// `Rule/DefaultRetention/Days`.
    pub days: Option<i64>,
    /// `Rule/DefaultRetention/Years`.
    pub years: Option<i64>,
}

fn number(e: &Element, name: &str) -> S3Result<Option<i64>> {
    e.child_text(name)
        .map(|t| t.parse::<i64>().map_err(|_| S3Error::new(ErrorCode::MalformedXML)))
        .transpose()
}

impl XmlDocument for ObjectLockConfiguration {
    const ROOT: &'static str = "ObjectLockConfiguration";

    /// Days and Years together, a rule without a mode or a period, an unknown status or mode:
    /// MalformedXML, as S3 answers them.
    fn read(root: &Element) -> S3Result<Self> {
        let enabled = match root.child_text("ObjectLockEnabled") {
            Some("Enabled") => true,
            None => false,
            Some(_) => return Err(Self::malformed()),
        };
        let mut doc = ObjectLockConfiguration {
            enabled,
            ..Default::default()
        };
        if let Some(rule) = root.child("Rule") {
            let d = rule.child("DefaultRetention").ok_or_else(Self::malformed)?;
            let mode = d.child_text("Mode").ok_or_else(Self::malformed)?;
            if mode != "GOVERNANCE" && mode != "COMPLIANCE" {
                return Err(Self::malformed());
            }
            doc.mode = Some(mode.to_owned());
            doc.days = number(d, "Days")?;
            doc.years = number(d, "Years")?;
            if doc.days.is_some() == doc.years.is_some() {
                return Err(Self::malformed());
            }
        }
        Ok(doc)
    }

    fn write_body(&self, w: &mut XmlWriter) {
        if self.enabled {
            w.elem("ObjectLockEnabled", "Enabled");
        }
        if let Some(mode) = &self.mode {
            w.open("Rule").open("DefaultRetention").elem("Mode", mode);
            if let Some(d) = self.days {
                w.elem_display("Days", d);
            }
            if let Some(y) = self.years {
                w.elem_display("Years", y);
            }
            w.close("DefaultRetention").close("Rule");
        }
    }
}

/// `Retention`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RetentionDoc {
    /// `Mode` (`GOVERNANCE` / `COMPLIANCE`).
    pub mode: Option<String>,
    /// `RetainUntilDate`, as written (ISO 8601).
    pub retain_until: Option<String>,
}

impl XmlDocument for RetentionDoc {
    const ROOT: &'static str = "Retention";

    fn read(root: &Element) -> S3Result<Self> {
        let mode = root.child_text("Mode").map(str::to_owned);
        if mode.as_deref().is_some_and(|m| m != "GOVERNANCE" && m != "COMPLIANCE") {
            return Err(Self::malformed());
        }
        let retain_until = root.child_text("RetainUntilDate").map(str::to_owned);
        if mode.is_some() != retain_until.is_some() {
            return Err(Self::malformed());
        }
        Ok(RetentionDoc { mode, retain_until })
    }

    fn write_body(&self, w: &mut XmlWriter) {
        w.elem_opt("Mode", self.mode.as_deref());
        w.elem_opt("RetainUntilDate", self.retain_until.as_deref());
    }
}

/// `LegalHold`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LegalHoldDoc {
    /// `Status`: ON (true) or OFF.
    pub on: bool,
}

impl XmlDocument for LegalHoldDoc {
    const ROOT: &'static str = "LegalHold";

    fn read(root: &Element) -> S3Result<Self> {
        match root.child_text("Status") {
            Some("ON") => Ok(LegalHoldDoc { on: true }),
            Some("OFF") => Ok(LegalHoldDoc { on: false }),
            _ => Err(Self::malformed()),
        }
    }

    fn write_body(&self, w: &mut XmlWriter) {
        w.elem("Status", if self.on { "ON" } else { "OFF" });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects() {
        super::super::round_trip(&ObjectLockConfiguration {
            enabled: true,
            mode: Some("GOVERNANCE".into()),
            days: Some(1),
            years: None,
        });
        super::super::round_trip(&ObjectLockConfiguration {
            enabled: true,
            ..Default::default()
        });
        super::super::round_trip(&RetentionDoc {
            mode: Some("COMPLIANCE".into()),
            retain_until: Some("2030-01-01T00:00:00.000Z".into()),
        });
        super::super::round_trip(&LegalHoldDoc { on: true });
        super::super::round_trip(&LegalHoldDoc { on: false });
        let rule = |inner: &str| {
            format!(
                "<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention>{inner}</DefaultRetention></Rule></ObjectLockConfiguration>"
            )
        };
        for bad in [
            rule("<Mode>GOVERNANCE</Mode><Days>1</Days><Years>1</Years>"),
            rule("<Mode>ABC</Mode><Days>1</Days>"),
            rule("<Days>1</Days>"),
            rule("<Mode>GOVERNANCE</Mode>"),
            "<ObjectLockConfiguration><ObjectLockEnabled>Disabled</ObjectLockEnabled></ObjectLockConfiguration>".into(),
        ] {
            assert_eq!(
                ObjectLockConfiguration::from_xml(bad.as_bytes()).unwrap_err().code,
                ErrorCode::MalformedXML,
                "{bad}"
            );
        }
        assert!(
            RetentionDoc::from_xml(b"<Retention><Mode>FOO</Mode><RetainUntilDate>x</RetainUntilDate></Retention>")
                .is_err()
        );
        assert!(LegalHoldDoc::from_xml(b"<LegalHold><Status>abc</Status></LegalHold>").is_err());
    }
}
