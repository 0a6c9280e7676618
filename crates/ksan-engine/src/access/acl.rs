//! Access control lists: grants, canned ACLs, object ownership, public access block settings.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
pub enum Permission {
    Read,
    Write,
    ReadAcp,
    WriteAcp,
    FullControl,
}

impl Permission {
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Read => "READ",
            Permission::Write => "WRITE",
            Permission::ReadAcp => "READ_ACP",
            Permission::WriteAcp => "WRITE_ACP",
            Permission::FullControl => "FULL_CONTROL",
        }
    }
    pub fn parse(s: &str) -> Option<Permission> {
        Some(match s {
            "READ" => Permission::Read,
            "WRITE" => Permission::Write,
            "READ_ACP" => Permission::ReadAcp,
            "WRITE_ACP" => Permission::WriteAcp,
            "FULL_CONTROL" => Permission::FullControl,
            _ => return None,
        })
    }
    /// Does a grant of `self` give `wanted`?
    fn covers(self, wanted: Permission) -> bool {
        self == wanted || self == Permission::FullControl
    }
}

/// The predefined groups S3 ACLs can name.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
pub enum Group {
    AllUsers,
    AuthenticatedUsers,
    LogDelivery,
}

impl Group {
    pub fn uri(self) -> &'static str {
        match self {
            Group::AllUsers => "http://acs.amazonaws.com/groups/global/AllUsers",
            Group::AuthenticatedUsers => "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
            Group::LogDelivery => "http://acs.amazonaws.com/groups/s3/LogDelivery",
        }
    }
    pub fn from_uri(uri: &str) -> Option<Group> {
        [Group::AllUsers, Group::AuthenticatedUsers, Group::LogDelivery]
            .into_iter()
            .find(|g| g.uri() == uri)
    }
}

/// Who a grant is for. Grants by e-mail address are resolved to the user when they are set, as
/// S3 does (GetAcl shows them as canonical users).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Hash)]
pub enum Grantee {
    User { id: String, display_name: String },
    Group(Group),
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Hash)]
pub struct Grant {
    pub grantee: Grantee,
    pub permission: Permission,
}

impl Grant {
    pub fn user(id: &str, display_name: &str, permission: Permission) -> Grant {
        Grant {
            grantee: Grantee::User {
                id: id.to_owned(),
                display_name: display_name.to_owned(),
            },
            permission,
        }
    }
    pub fn group(group: Group, permission: Permission) -> Grant {
        Grant {
            grantee: Grantee::Group(group),
            permission,
        }
    }
    /// Grants to everyone or to every authenticated user make a resource public.
    pub fn is_public(&self) -> bool {
        matches!(
            self.grantee,
            Grantee::Group(Group::AllUsers) | Grantee::Group(Group::AuthenticatedUsers)
        )
    }
}

/// A user's identity for ACL purposes: (canonical id, display name).
pub type Identity<'a> = (&'a str, &'a str);

/// The ACL a resource has when none was set: its owner has FULL_CONTROL.
pub fn private(owner: Identity<'_>) -> Vec<Grant> {
    vec![Grant::user(owner.0, owner.1, Permission::FullControl)]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CannedAcl {
    Private,
    PublicRead,
    PublicReadWrite,
    AuthenticatedRead,
    AwsExecRead,
    BucketOwnerRead,
    BucketOwnerFullControl,
    LogDeliveryWrite,
}

impl CannedAcl {
    pub fn parse(s: &str) -> Option<CannedAcl> {
        Some(match s {
            "private" => CannedAcl::Private,
            "public-read" => CannedAcl::PublicRead,
            "public-read-write" => CannedAcl::PublicReadWrite,
            "authenticated-read" => CannedAcl::AuthenticatedRead,
            "aws-exec-read" => CannedAcl::AwsExecRead,
            "bucket-owner-read" => CannedAcl::BucketOwnerRead,
            "bucket-owner-full-control" => CannedAcl::BucketOwnerFullControl,
            "log-delivery-write" => CannedAcl::LogDeliveryWrite,
            _ => return None,
        })
    }

    /// The grants this canned ACL stands for on a resource owned by `owner` in a bucket owned by
    /// `bucket_owner` (the same for a bucket itself). Group grants come before the owner's, in
    /// the order Ceph RGW lists them (clients such as s3-tests index into the list).
    pub fn grants(self, owner: Identity<'_>, bucket_owner: Identity<'_>) -> Vec<Grant> {
        let mut grants = Vec::with_capacity(3);
        match self {
            CannedAcl::Private | CannedAcl::AwsExecRead => {}
            CannedAcl::PublicRead => grants.push(Grant::group(Group::AllUsers, Permission::Read)),
            CannedAcl::PublicReadWrite => {
                grants.push(Grant::group(Group::AllUsers, Permission::Read));
                grants.push(Grant::group(Group::AllUsers, Permission::Write));
            }
            CannedAcl::AuthenticatedRead => grants.push(Grant::group(Group::AuthenticatedUsers, Permission::Read)),
            CannedAcl::BucketOwnerRead | CannedAcl::BucketOwnerFullControl => {}
            CannedAcl::LogDeliveryWrite => {
                grants.push(Grant::group(Group::LogDelivery, Permission::Write));
                grants.push(Grant::group(Group::LogDelivery, Permission::ReadAcp));
            }
        }
        grants.push(Grant::user(owner.0, owner.1, Permission::FullControl));
        match self {
            CannedAcl::BucketOwnerRead if bucket_owner.0 != owner.0 => {
                grants.push(Grant::user(bucket_owner.0, bucket_owner.1, Permission::Read))
            }
            CannedAcl::BucketOwnerFullControl if bucket_owner.0 != owner.0 => {
                grants.push(Grant::user(bucket_owner.0, bucket_owner.1, Permission::FullControl))
            }
            _ => {}
        }
        grants
    }
}

/// Does this ACL give `caller` (None = anonymous) the permission? With `ignore_public`
/// (IgnorePublicAcls), grants to AllUsers and AuthenticatedUsers count for nothing.
pub fn allows(grants: &[Grant], caller: Option<&str>, wanted: Permission, ignore_public: bool) -> bool {
    grants.iter().any(|g| {
        if !g.permission.covers(wanted) || (ignore_public && g.is_public()) {
            return false;
        }
        match &g.grantee {
            Grantee::Group(Group::AllUsers) => true,
            Grantee::Group(Group::AuthenticatedUsers) => caller.is_some(),
            Grantee::Group(Group::LogDelivery) => false,
            Grantee::User { id, .. } => caller == Some(id.as_str()),
        }
    })
}

/// Object Ownership, as set on a bucket.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum ObjectOwnership {
    /// ACLs are disabled; the bucket owner owns every object.
    BucketOwnerEnforced,
    /// Objects written with `bucket-owner-full-control` belong to the bucket owner.
    BucketOwnerPreferred,
    /// The writer owns what it writes.
    ObjectWriter,
}

impl ObjectOwnership {
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectOwnership::BucketOwnerEnforced => "BucketOwnerEnforced",
            ObjectOwnership::BucketOwnerPreferred => "BucketOwnerPreferred",
            ObjectOwnership::ObjectWriter => "ObjectWriter",
        }
    }
    pub fn parse(s: &str) -> Option<ObjectOwnership> {
        Some(match s {
            "BucketOwnerEnforced" => ObjectOwnership::BucketOwnerEnforced,
            "BucketOwnerPreferred" => ObjectOwnership::BucketOwnerPreferred,
            "ObjectWriter" => ObjectOwnership::ObjectWriter,
            _ => return None,
        })
    }
}

/// PutPublicAccessBlock's four switches.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct PublicAccessBlock {
    pub block_public_acls: bool,
    pub ignore_public_acls: bool,
    pub block_public_policy: bool,
    pub restrict_public_buckets: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALICE: Identity<'static> = ("a1", "alice");
    const BOB: Identity<'static> = ("b2", "bob");

    #[test]
    fn canned_acls() {
        let g = CannedAcl::PublicRead.grants(ALICE, ALICE);
        assert!(allows(&g, None, Permission::Read, false));
        assert!(!allows(&g, None, Permission::Write, false));
        assert!(!allows(&g, None, Permission::Read, true), "IgnorePublicAcls");
        assert!(
            allows(&g, Some("a1"), Permission::WriteAcp, true),
            "owner keeps FULL_CONTROL"
        );

        let g = CannedAcl::AuthenticatedRead.grants(ALICE, ALICE);
        assert!(
            !allows(&g, None, Permission::Read, false),
            "anonymous is not authenticated"
        );
        assert!(allows(&g, Some("zz"), Permission::Read, false));

        let g = CannedAcl::BucketOwnerFullControl.grants(BOB, ALICE);
        assert_eq!(g.len(), 2);
        assert!(allows(&g, Some("a1"), Permission::ReadAcp, false));
        assert_eq!(CannedAcl::BucketOwnerFullControl.grants(ALICE, ALICE).len(), 1);
        let g = CannedAcl::BucketOwnerRead.grants(BOB, ALICE);
        assert!(allows(&g, Some("a1"), Permission::Read, false));
        assert!(!allows(&g, Some("a1"), Permission::Write, false));

        let g = CannedAcl::Private.grants(ALICE, ALICE);
        assert!(!allows(&g, Some("b2"), Permission::Read, false));
        assert!(!g.iter().any(Grant::is_public));
        assert!(
            CannedAcl::PublicReadWrite
                .grants(ALICE, ALICE)
                .iter()
                .any(Grant::is_public)
        );
        assert_eq!(CannedAcl::parse("nope"), None);
    }

    #[test]
    fn log_delivery_is_not_a_person() {
        let g = CannedAcl::LogDeliveryWrite.grants(ALICE, ALICE);
        assert!(!allows(&g, None, Permission::Write, false));
        assert!(!allows(&g, Some("b2"), Permission::Write, false));
    }
}
