//! `AccessControlPolicy`: an ACL (GetBucketAcl/GetObjectAcl answers, PutBucketAcl/PutObjectAcl
//! bodies).

use ksan_types::{ErrorCode, Permission, S3Error, S3Result};

use super::XmlDocument;
use crate::xml::{Element, XmlWriter};

const XSI: &str = "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"";

/// Who a grant is for, as the document names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AclGrantee {
    /// `xsi:type="CanonicalUser"`.
    CanonicalUser {
        /// `ID`.
        id: String,
        /// `DisplayName`.
        display_name: Option<String>,
    },
    /// `xsi:type="AmazonCustomerByEmail"` (only in requests: S3 answers with the user).
    Email(String),
    /// `xsi:type="Group"`: the group's URI.
    Group(String),
}

/// One `Grant`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclGrant {
    /// `Grantee`.
    pub grantee: AclGrantee,
    /// `Permission`.
    pub permission: Permission,
}

/// The document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessControlPolicy {
    /// `Owner/ID`.
    pub owner_id: String,
    /// `Owner/DisplayName`.
    pub owner_display_name: Option<String>,
    /// `AccessControlList/Grant`, in order.
    pub grants: Vec<AclGrant>,
}

impl XmlDocument for AccessControlPolicy {
    const ROOT: &'static str = "AccessControlPolicy";

    fn malformed() -> S3Error {
        S3Error::new(ErrorCode::MalformedACLError)
    }

    fn read(root: &Element) -> S3Result<Self> {
        let malformed = Self::malformed;
        let owner = root.child("Owner").ok_or_else(malformed)?;
        let owner_id = owner.child_text("ID").ok_or_else(malformed)?.to_owned();
        let list = root.child("AccessControlList").ok_or_else(malformed)?;
        let mut grants = Vec::new();
        for g in list.children_named("Grant") {
            let grantee = g.child("Grantee").ok_or_else(malformed)?;
            let permission = g
                .child_text("Permission")
                .and_then(Permission::from_name)
                .ok_or_else(malformed)?;
            let text = |name: &str| grantee.child_text(name).map(str::to_owned).ok_or_else(malformed);
            let grantee = match grantee.attr_local("type") {
                Some("CanonicalUser") => AclGrantee::CanonicalUser {
                    id: text("ID")?,
                    display_name: grantee.child_text("DisplayName").map(str::to_owned),
                },
                Some("AmazonCustomerByEmail") => AclGrantee::Email(text("EmailAddress")?),
                Some("Group") => AclGrantee::Group(text("URI")?),
                _ => return Err(malformed()),
            };
            grants.push(AclGrant { grantee, permission });
        }
        Ok(AccessControlPolicy {
            owner_id,
            owner_display_name: owner.child_text("DisplayName").map(str::to_owned),
            grants,
        })
    }

    /// Group grants first, then the rest, each in stored order (as Ceph RGW lists them;
    /// clients such as s3-tests index into the list).
    fn write_body(&self, w: &mut XmlWriter) {
        w.open("Owner").elem("ID", &self.owner_id);
        w.elem_opt("DisplayName", self.owner_display_name.as_deref());
        w.close("Owner").open("AccessControlList");
        let groups = self.grants.iter().filter(|g| matches!(g.grantee, AclGrantee::Group(_)));
        let others = self
            .grants
            .iter()
            .filter(|g| !matches!(g.grantee, AclGrantee::Group(_)));
        for g in groups.chain(others) {
            w.open("Grant");
            match &g.grantee {
                AclGrantee::CanonicalUser { id, display_name } => {
                    w.open_with("Grantee", &format!("{XSI} xsi:type=\"CanonicalUser\""))
                        .elem("ID", id)
                        .elem_opt("DisplayName", display_name.as_deref());
                }
                AclGrantee::Email(email) => {
                    w.open_with("Grantee", &format!("{XSI} xsi:type=\"AmazonCustomerByEmail\""))
                        .elem("EmailAddress", email);
                }
                AclGrantee::Group(uri) => {
                    w.open_with("Grantee", &format!("{XSI} xsi:type=\"Group\""))
                        .elem("URI", uri);
                }
            }
            w.close("Grantee")
                .elem("Permission", g.permission.as_str())
                .close("Grant");
        }
        w.close("AccessControlList");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_bad_documents() {
        let doc = AccessControlPolicy {
            owner_id: "id1".into(),
            owner_display_name: Some("alice".into()),
            grants: vec![
                AclGrant {
                    grantee: AclGrantee::Group("http://acs.amazonaws.com/groups/global/AllUsers".into()),
                    permission: Permission::Read,
                },
                AclGrant {
                    grantee: AclGrantee::CanonicalUser {
                        id: "id1".into(),
                        display_name: Some("alice".into()),
                    },
                    permission: Permission::FullControl,
                },
                AclGrant {
                    grantee: AclGrantee::Email("b@c.d".into()),
                    permission: Permission::WriteAcp,
                },
            ],
        };
        super::super::round_trip(&doc);
        let text = doc.to_xml();
        assert!(text.contains(
            "<Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"CanonicalUser\"><ID>id1</ID>"
        ));
        // Any prefix may name the schema-instance namespace.
        let other_prefix = text.replace("xsi:", "ns0:").replace("xmlns:xsi", "xmlns:ns0");
        assert_eq!(AccessControlPolicy::from_xml(other_prefix.as_bytes()).unwrap(), doc);
        for bad in [
            "<AccessControlPolicy/>",
            "<AccessControlPolicy><Owner><ID>x</ID></Owner></AccessControlPolicy>",
            "<AccessControlPolicy><Owner><ID>x</ID></Owner><AccessControlList><Grant><Grantee><ID>y</ID></Grantee><Permission>READ</Permission></Grant></AccessControlList></AccessControlPolicy>",
            "<AccessControlPolicy><Owner><ID>x</ID></Owner><AccessControlList><Grant><Grantee xsi:type=\"Group\"><URI>u</URI></Grantee><Permission>EAT</Permission></Grant></AccessControlList></AccessControlPolicy>",
            "<Acl/>",
            "not xml",
        ] {
            assert_eq!(
                AccessControlPolicy::from_xml(bad.as_bytes()).unwrap_err().code,
                ErrorCode::MalformedACLError,
                "{bad}"
            );
        }
    }
}
