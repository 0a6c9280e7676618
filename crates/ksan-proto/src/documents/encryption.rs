//! `ServerSideEncryptionConfiguration`: a bucket's default encryption (Put/GetBucketEncryption).

use ksan_types::S3Result;

use super::{XmlDocument, bool_text};
use crate::xml::{Element, XmlWriter};

/// One `Rule`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EncryptionRule {
    /// `ApplyServerSideEncryptionByDefault/SSEAlgorithm`: `AES256` or `aws:kms`.
    pub algorithm: String,
    /// `ApplyServerSideEncryptionByDefault/KMSMasterKeyID`.
    pub kms_master_key_id: Option<String>,
    /// `BucketKeyEnabled`.
    pub bucket_key_enabled: Option<bool>,
}

/// The document.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServerSideEncryptionConfiguration {
    /// The rules (S3 takes exactly one).
    pub rules: Vec<EncryptionRule>,
}

impl XmlDocument for ServerSideEncryptionConfiguration {
    const ROOT: &'static str = "ServerSideEncryptionConfiguration";

    fn read(root: &Element) -> S3Result<Self> {
        let rules = root
            .children_named("Rule")
            .map(|r| {
                let apply = r
                    .child("ApplyServerSideEncryptionByDefault")
                    .ok_or_else(Self::malformed)?;
                let bucket_key_enabled = r
                    .child_text("BucketKeyEnabled")
                    .map(|t| bool_text(t).ok_or_else(Self::malformed))
                    .transpose()?;
                Ok(EncryptionRule {
                    algorithm: apply.child_text("SSEAlgorithm").ok_or_else(Self::malformed)?.to_owned(),
                    kms_master_key_id: apply.child_text("KMSMasterKeyID").map(str::to_owned),
                    bucket_key_enabled,
                })
            })
            .collect::<S3Result<Vec<_>>>()?;
        Ok(ServerSideEncryptionConfiguration { rules })
    }

    fn write_body(&self, w: &mut XmlWriter) {
        for r in &self.rules {
            w.open("Rule").open("ApplyServerSideEncryptionByDefault");
            w.elem("SSEAlgorithm", &r.algorithm);
            w.elem_opt("KMSMasterKeyID", r.kms_master_key_id.as_deref());
            w.close("ApplyServerSideEncryptionByDefault");
            if let Some(b) = r.bucket_key_enabled {
                w.elem("BucketKeyEnabled", if b { "true" } else { "false" });
            }
            w.close("Rule");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ksan_types::ErrorCode;

    #[test]
    fn round_trips_and_rejects() {
        super::super::round_trip(&ServerSideEncryptionConfiguration {
            rules: vec![EncryptionRule {
                algorithm: "aws:kms".into(),
                kms_master_key_id: Some("testkey-1".into()),
                bucket_key_enabled: Some(true),
            }],
        });
        super::super::round_trip(&ServerSideEncryptionConfiguration {
            rules: vec![EncryptionRule {
                algorithm: "AES256".into(),
                ..Default::default()
            }],
        });
        for bad in [
            "<ServerSideEncryptionConfiguration><Rule/></ServerSideEncryptionConfiguration>",
            "<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault/></Rule></ServerSideEncryptionConfiguration>",
            "<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault><BucketKeyEnabled>maybe</BucketKeyEnabled></Rule></ServerSideEncryptionConfiguration>",
        ] {
            assert_eq!(
                ServerSideEncryptionConfiguration::from_xml(bad.as_bytes())
                    .unwrap_err()
                    .code,
                ErrorCode::MalformedXML,
                "{bad}"
            );
        }
    }
}
