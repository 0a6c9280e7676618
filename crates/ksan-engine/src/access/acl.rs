//! Access control lists: grants, canned ACLs, object ownership, public access block settings.

use serde::{Deserialize, Serialize};

pub use ksan_types::{CannedAcl, ObjectOwnership, Permission};

/// Does a grant of `granted` give `wanted`?
fn covers(granted: Permission, wanted: Permission) -> bool {
    granted == wanted || granted == Permission::FullControl
}

/// The predefined groups S3 ACLs can name.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
pub enum Group {
    /// Everyone, anonymous callers included.
    AllUsers,
    /// Every signed-in user.
    AuthenticatedUsers,
    /// The log delivery service (ksan delivers no logs: such grants give nobody anything).
    LogDelivery,
}

impl Group {
    /// The group's URI in ACL documents and grant headers.
    pub fn uri(self) -> &'static str {
        match self {
            Group::AllUsers => "http://acs.amazonaws.com/groups/global/AllUsers",
            Group::AuthenticatedUsers => "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
            Group::LogDelivery => "http://acs.amazonaws.com/groups/s3/LogDelivery",
        }
    }
    /// The group a URI names.
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
    /// A user, by canonical id.
    User {
        /// The canonical id.
        id: String,
        /// The display name shown in ACLs.
        display_name: String,
    },
    /// A group.
    Group(Group),
}

/// One grant of an ACL.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Hash)]
pub struct Grant {
    /// Who it is for.
    pub grantee: Grantee,
    /// What it gives.
    pub permission: Permission,
}

impl Grant {
    /// A grant to a user.
    pub fn user(id: &str, display_name: &str, permission: Permission) -> Grant {
        Grant {
            grantee: Grantee::User {
                id: id.to_owned(),
                display_name: display_name.to_owned(),
            },
            permission,
        }
    }
    /// A grant to a group.
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

/// The grants a canned ACL stands for.
pub trait CannedGrants {
    /// The grants this canned ACL stands for on a resource owned by `owner` in a bucket owned by
    /// `bucket_owner` (the same for a bucket itself). Group grants come before the owner's, in
    /// the order Ceph RGW lists them (clients such as s3-tests index into the list).
    fn grants(self, owner: Identity<'_>, bucket_owner: Identity<'_>) -> Vec<Grant>;
}

impl CannedGrants for CannedAcl {
    fn grants(self, owner: Identity<'_>, bucket_owner: Identity<'_>) -> Vec<Grant> {
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
        if !covers(g.permission, wanted) || (ignore_public && g.is_public()) {
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

/// PutPublicAccessBlock's four switches.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct PublicAccessBlock {
    /// Refuse requests that would set a public ACL.
    pub block_public_acls: bool,
    /// Public ACL grants count for nothing.
    pub ignore_public_acls: bool,
    /// Refuse a public bucket policy.
    pub block_public_policy: bool,
    /// With a public policy, only the owner gets in.
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
        assert!(CannedAcl::parse("nope").is_err());
    }

    #[test]
    fn log_delivery_is_not_a_person() {
        let g = CannedAcl::LogDeliveryWrite.grants(ALICE, ALICE);
        assert!(!allows(&g, None, Permission::Write, false));
        assert!(!allows(&g, Some("b2"), Permission::Write, false));
    }
}
