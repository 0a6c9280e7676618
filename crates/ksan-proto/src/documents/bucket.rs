//! Bucket documents: CreateBucketConfiguration, VersioningConfiguration,
//! PublicAccessBlockConfiguration, OwnershipControls, and DeleteObjects' `Delete`.

use ksan_types::{ObjectOwnership, S3Result};

use super::{XmlDocument, bool_text};
use crate::xml::{Element, XmlWriter};

/// CreateBucket's body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CreateBucketConfiguration {
    /// `LocationConstraint`.
    pub location_constraint: Option<String>,
}

impl XmlDocument for CreateBucketConfiguration {
    const ROOT: &'static str = "CreateBucketConfiguration";

    fn read(root: &Element) -> S3Result<Self> {
        Ok(CreateBucketConfiguration {
            location_constraint: root.child_text("LocationConstraint").map(str::to_owned),
        })
    }

    fn write_body(&self, w: &mut XmlWriter) {
        w.elem_opt("LocationConstraint", self.location_constraint.as_deref());
    }
}

/// `Status` of a versioning configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersioningStatus {
    /// `Enabled`
    Enabled,
    /// `Suspended`
    Suspended,
}

/// `MfaDelete` of a versioning configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MfaDelete {
    /// `Enabled`
    Enabled,
    /// `Disabled`
    Disabled,
}

/// PutBucketVersioning's body and GetBucketVersioning's answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VersioningConfiguration {
    /// `Status`; none leaves the bucket as it is (and a bucket never versioned shows none).
    pub status: Option<VersioningStatus>,
    /// `MfaDelete`.
    pub mfa_delete: Option<MfaDelete>,
}

impl XmlDocument for VersioningConfiguration {
    const ROOT: &'static str = "VersioningConfiguration";

    fn read(root: &Element) -> S3Result<Self> {
        let status = match root.child_text("Status") {
            None => None,
            Some("Enabled") => Some(VersioningStatus::Enabled),
            Some("Suspended") => Some(VersioningStatus::Suspended),
            Some(_) => return Err(Self::malformed()),
        };
        let mfa_delete = match root.child_text("MfaDelete") {
            None => None,
            Some("Enabled") => Some(MfaDelete::Enabled),
            Some("Disabled") => Some(MfaDelete::Disabled),
            Some(_) => return Err(Self::malformed()),
        };
        Ok(VersioningConfiguration { status, mfa_delete })
    }

    fn write_body(&self, w: &mut XmlWriter) {
        match self.status {
            Some(VersioningStatus::Enabled) => w.elem("Status", "Enabled"),
            Some(VersioningStatus::Suspended) => w.elem("Status", "Suspended"),
            None => w,
        };
        match self.mfa_delete {
            Some(MfaDelete::Enabled) => w.elem("MfaDelete", "Enabled"),
            Some(MfaDelete::Disabled) => w.elem("MfaDelete", "Disabled"),
            None => w,
        };
    }
}

/// PutPublicAccessBlock's body and GetPublicAccessBlock's answer; a switch left out is off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PublicAccessBlockConfiguration {
    /// `BlockPublicAcls`
    pub block_public_acls: bool,
    /// `IgnorePublicAcls`
    pub ignore_public_acls: bool,
    /// `BlockPublicPolicy`
    pub block_public_policy: bool,
    /// `RestrictPublicBuckets`
    pub restrict_public_buckets: bool,
}

const PAB_FIELDS: [&str; 4] = [
    "BlockPublicAcls",
    "IgnorePublicAcls",
    "BlockPublicPolicy",
    "RestrictPublicBuckets",
];

impl XmlDocument for PublicAccessBlockConfiguration {
    const ROOT: &'static str = "PublicAccessBlockConfiguration";

    fn read(root: &Element) -> S3Result<Self> {
        let mut flags = [false; 4];
        for (flag, name) in flags.iter_mut().zip(PAB_FIELDS) {
            if let Some(text) = root.child_text(name) {
                *flag = bool_text(text).ok_or_else(Self::malformed)?;
            }
        }
        let [
            block_public_acls,
            ignore_public_acls,
            block_public_policy,
            restrict_public_buckets,
        ] = flags;
        Ok(PublicAccessBlockConfiguration {
            block_public_acls,
            ignore_public_acls,
            block_public_policy,
            restrict_public_buckets,
        })
    }

    fn write_body(&self, w: &mut XmlWriter) {
        let flags = [
            self.block_public_acls,
            self.ignore_public_acls,
            self.block_public_policy,
            self.restrict_public_buckets,
        ];
        for (flag, name) in flags.into_iter().zip(PAB_FIELDS) {
            w.elem_display(name, flag);
        }
    }
}

/// PutBucketOwnershipControls' body and GetBucketOwnershipControls' answer: one rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OwnershipControls {
    /// `Rule/ObjectOwnership`.
    pub object_ownership: ObjectOwnership,
}

impl XmlDocument for OwnershipControls {
    const ROOT: &'static str = "OwnershipControls";

    fn read(root: &Element) -> S3Result<Self> {
        let rules: Vec<&Element> = root.children_named("Rule").collect();
        let [rule] = rules.as_slice() else {
            return Err(Self::malformed());
        };
        let object_ownership = rule
            .child_text("ObjectOwnership")
            .and_then(ObjectOwnership::from_name)
            .ok_or_else(Self::malformed)?;
        Ok(OwnershipControls { object_ownership })
    }

    fn write_body(&self, w: &mut XmlWriter) {
        w.open("Rule")
            .elem("ObjectOwnership", self.object_ownership.as_str())
            .close("Rule");
    }
}

/// Most keys one DeleteObjects may name.
pub const MAX_DELETE_KEYS: usize = 1000;

/// One `Object` of a DeleteObjects request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectToDelete {
    /// `Key`.
    pub key: String,
    /// `VersionId` (an empty one counts as none).
    pub version_id: Option<String>,
}

/// DeleteObjects' body: 1 to 1000 objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteRequest {
    /// `Quiet`: report errors only.
    pub quiet: bool,
    /// `Object`, in order.
    pub objects: Vec<ObjectToDelete>,
}

impl XmlDocument for DeleteRequest {
    const ROOT: &'static str = "Delete";

    fn read(root: &Element) -> S3Result<Self> {
        let quiet = root.child_text("Quiet").is_some_and(|q| bool_text(q) == Some(true));
        let objects = root
            .children_named("Object")
            .map(|o| {
                Ok(ObjectToDelete {
                    key: o.child_raw("Key").ok_or_else(Self::malformed)?.to_owned(),
                    version_id: o.child_text("VersionId").filter(|v| !v.is_empty()).map(str::to_owned),
                })
            })
            .collect::<S3Result<Vec<_>>>()?;
        if objects.is_empty() || objects.len() > MAX_DELETE_KEYS {
            return Err(Self::malformed());
        }
        Ok(DeleteRequest { quiet, objects })
    }

    fn write_body(&self, w: &mut XmlWriter) {
        if self.quiet {
            w.elem("Quiet", "true");
        }
        for o in &self.objects {
            w.open("Object").elem("Key", &o.key);
            w.elem_opt("VersionId", o.version_id.as_deref());
            w.close("Object");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::round_trip;
    use super::*;
    use ksan_types::ErrorCode;

    #[test]
    fn bucket_documents_round_trip() {
        round_trip(&CreateBucketConfiguration {
            location_constraint: Some("eu-1".into()),
        });
        round_trip(&VersioningConfiguration {
            status: Some(VersioningStatus::Suspended),
            mfa_delete: Some(MfaDelete::Disabled),
        });
        round_trip(&VersioningConfiguration::default());
        round_trip(&PublicAccessBlockConfiguration {
            block_public_acls: true,
            restrict_public_buckets: true,
            ..Default::default()
        });
        round_trip(&OwnershipControls {
            object_ownership: ObjectOwnership::BucketOwnerPreferred,
        });
        round_trip(&DeleteRequest {
            quiet: true,
            objects: vec![
                ObjectToDelete {
                    key: "a&b".into(),
                    version_id: None,
                },
                ObjectToDelete {
                    key: "c".into(),
                    version_id: Some("null".into()),
                },
            ],
        });
    }

    #[test]
    fn bad_bucket_documents_are_malformed() {
        let malformed = |r: S3Result<()>| assert_eq!(r.unwrap_err().code, ErrorCode::MalformedXML);
        malformed(
            VersioningConfiguration::from_xml(
                b"<VersioningConfiguration><Status>On</Status></VersioningConfiguration>",
            )
            .map(drop),
        );
        malformed(VersioningConfiguration::from_xml(b"<Versioning/>").map(drop));
        malformed(
            PublicAccessBlockConfiguration::from_xml(
                b"<PublicAccessBlockConfiguration><BlockPublicAcls>yes</BlockPublicAcls></PublicAccessBlockConfiguration>",
            )
            .map(drop),
        );
        malformed(OwnershipControls::from_xml(b"<OwnershipControls/>").map(drop));
        malformed(
            OwnershipControls::from_xml(
                b"<OwnershipControls><Rule><ObjectOwnership>Mine</ObjectOwnership></Rule></OwnershipControls>",
            )
            .map(drop),
        );
        malformed(DeleteRequest::from_xml(b"<Delete><Quiet>true</Quiet></Delete>").map(drop));
        malformed(DeleteRequest::from_xml(b"<Delete><Object><VersionId>v</VersionId></Object></Delete>").map(drop));
        let many = format!("<Delete>{}</Delete>", "<Object><Key>k</Key></Object>".repeat(1001));
        malformed(DeleteRequest::from_xml(many.as_bytes()).map(drop));
        let pab = PublicAccessBlockConfiguration::from_xml(b"<PublicAccessBlockConfiguration><IgnorePublicAcls>TRUE</IgnorePublicAcls></PublicAccessBlockConfiguration>").unwrap();
        assert!(pab.ignore_public_acls && !pab.block_public_acls);
    }
}
