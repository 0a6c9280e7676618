//! The S3 actions of the policy language (`s3:GetObject`, ...): one list for the router (which
//! action a request performs), the bucket-policy parser (which names a policy may use) and the
//! access decision, so that the three cannot disagree.

use std::fmt;

macro_rules! actions {
    ($($name:ident),* $(,)?) => {
        /// An S3 action as bucket policies name it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum S3Action { $(
            #[doc = concat!("`s3:", stringify!($name), "`")]
            $name,
        )* }

        impl S3Action {
            /// Every action, in the order of the list.
            pub const ALL: &'static [S3Action] = &[$(S3Action::$name,)*];

            /// The name without its `s3:` prefix, as AWS spells it.
            pub fn name(self) -> &'static str {
                match self { $(S3Action::$name => stringify!($name),)* }
            }

            /// The full name, e.g. `s3:GetObject`.
            pub fn as_str(self) -> &'static str {
                match self { $(S3Action::$name => concat!("s3:", stringify!($name)),)* }
            }
        }
    };
}

actions! {
    AbortMultipartUpload,
    BypassGovernanceRetention,
    CreateBucket,
    DeleteBucket,
    DeleteBucketOwnershipControls,
    DeleteBucketPolicy,
    DeleteBucketWebsite,
    DeleteObject,
    DeleteObjectTagging,
    DeleteObjectVersion,
    DeleteObjectVersionTagging,
    GetAccelerateConfiguration,
    GetAnalyticsConfiguration,
    GetBucketAcl,
    GetBucketCORS,
    GetBucketLocation,
    GetBucketLogging,
    GetBucketMetadataTableConfiguration,
    GetBucketNotification,
    GetBucketObjectLockConfiguration,
    GetBucketOwnershipControls,
    GetBucketPolicy,
    GetBucketPolicyStatus,
    GetBucketPublicAccessBlock,
    GetBucketRequestPayment,
    GetBucketTagging,
    GetBucketVersioning,
    GetBucketWebsite,
    GetEncryptionConfiguration,
    GetIntelligentTieringConfiguration,
    GetInventoryConfiguration,
    GetLifecycleConfiguration,
    GetMetricsConfiguration,
    GetObject,
    GetObjectAcl,
    GetObjectAttributes,
    GetObjectLegalHold,
    GetObjectRetention,
    GetObjectTagging,
    GetObjectTorrent,
    GetObjectVersion,
    GetObjectVersionAcl,
    GetObjectVersionAttributes,
    GetObjectVersionTagging,
    GetObjectVersionTorrent,
    GetReplicationConfiguration,
    ListAllMyBuckets,
    ListBucket,
    ListBucketMultipartUploads,
    ListBucketVersions,
    ListMultipartUploadParts,
    PutAccelerateConfiguration,
    PutBucketAcl,
    PutBucketCORS,
    PutBucketLogging,
    PutBucketNotification,
    PutBucketObjectLockConfiguration,
    PutBucketOwnershipControls,
    PutBucketPolicy,
    PutBucketPublicAccessBlock,
    PutBucketRequestPayment,
    PutBucketTagging,
    PutBucketVersioning,
    PutBucketWebsite,
    PutEncryptionConfiguration,
    PutLifecycleConfiguration,
    PutObject,
    PutObjectAcl,
    PutObjectLegalHold,
    PutObjectRetention,
    PutObjectTagging,
    PutObjectVersionAcl,
    PutObjectVersionTagging,
    PutReplicationConfiguration,
    ReplicateDelete,
    ReplicateObject,
    ReplicateTags,
    RestoreObject,
}

impl S3Action {
    /// The action a policy names, e.g. `s3:getobject` (names are case-insensitive).
    pub fn parse(name: &str) -> Option<S3Action> {
        let bare = name
            .get(..3)
            .filter(|p| p.eq_ignore_ascii_case("s3:"))
            .map(|_| &name[3..])?;
        S3Action::ALL
            .iter()
            .copied()
            .find(|a| a.name().eq_ignore_ascii_case(bare))
    }
}

impl fmt::Display for S3Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_case_insensitively() {
        for a in S3Action::ALL {
            assert_eq!(S3Action::parse(a.as_str()), Some(*a));
            assert_eq!(S3Action::parse(&a.as_str().to_ascii_uppercase()), Some(*a));
        }
        assert_eq!(S3Action::GetBucketCORS.as_str(), "s3:GetBucketCORS");
        assert_eq!(S3Action::parse("s3:Steal"), None);
        assert_eq!(S3Action::parse("GetObject"), None);
        assert_eq!(S3Action::parse("iam:GetObject"), None);
    }
}
