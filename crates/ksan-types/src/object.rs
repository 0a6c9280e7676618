//! Request vocabulary parsed once where a request comes in: storage classes, version ids,
//! canned ACLs, copy directives, checksum types.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{ErrorCode, S3Error, S3Result};

macro_rules! named_enum {
    ($(#[$meta:meta])* $ty:ident { $($(#[$vmeta:meta])* $variant:ident => $name:literal),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $ty { $($(#[$vmeta])* $variant,)* }

        impl $ty {
            /// Every value.
            pub const ALL: &'static [$ty] = &[$($ty::$variant,)*];
            /// The name S3 uses on the wire.
            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $name,)* }
            }
            /// The value with this wire name (exactly as S3 spells it).
            pub fn from_name(s: &str) -> Option<$ty> {
                match s { $($name => Some($ty::$variant),)* _ => None }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

named_enum! {
    /// `x-amz-storage-class`. ksan keeps every object the same way; the class is recorded and
    /// shown as given.
    StorageClass {
        /// The default.
        Standard => "STANDARD",
        /// `REDUCED_REDUNDANCY`
        ReducedRedundancy => "REDUCED_REDUNDANCY",
        /// `STANDARD_IA`
        StandardIa => "STANDARD_IA",
        /// `ONEZONE_IA`
        OnezoneIa => "ONEZONE_IA",
        /// `INTELLIGENT_TIERING`
        IntelligentTiering => "INTELLIGENT_TIERING",
        /// `GLACIER`
        Glacier => "GLACIER",
        /// `DEEP_ARCHIVE`
        DeepArchive => "DEEP_ARCHIVE",
        /// `GLACIER_IR`
        GlacierIr => "GLACIER_IR",
        /// `EXPRESS_ONEZONE`
        ExpressOnezone => "EXPRESS_ONEZONE",
    }
}

/// Stored by its wire name (`GLACIER`, ...), as records have always held it.
impl Serialize for StorageClass {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for StorageClass {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        StorageClass::from_name(&name).ok_or_else(|| serde::de::Error::custom(format!("unknown storage class {name}")))
    }
}

impl StorageClass {
    /// Parse `x-amz-storage-class` (InvalidStorageClass for an unknown one).
    pub fn parse(s: &str) -> S3Result<StorageClass> {
        StorageClass::from_name(s).ok_or_else(|| S3Error::new(ErrorCode::InvalidStorageClass))
    }
}

named_enum! {
    /// `x-amz-acl`: the canned ACLs.
    CannedAcl {
        /// `private`
        Private => "private",
        /// `public-read`
        PublicRead => "public-read",
        /// `public-read-write`
        PublicReadWrite => "public-read-write",
        /// `authenticated-read`
        AuthenticatedRead => "authenticated-read",
        /// `aws-exec-read`
        AwsExecRead => "aws-exec-read",
        /// `bucket-owner-read`
        BucketOwnerRead => "bucket-owner-read",
        /// `bucket-owner-full-control`
        BucketOwnerFullControl => "bucket-owner-full-control",
        /// `log-delivery-write`
        LogDeliveryWrite => "log-delivery-write",
    }
}

impl CannedAcl {
    /// Parse `x-amz-acl` (InvalidArgument for an unknown one).
    pub fn parse(s: &str) -> S3Result<CannedAcl> {
        CannedAcl::from_name(s).ok_or_else(|| S3Error::invalid_argument("", "x-amz-acl", s))
    }
}

named_enum! {
    /// `x-amz-metadata-directive` / `x-amz-tagging-directive` of CopyObject.
    Directive {
        /// Take the source's.
        Copy => "COPY",
        /// Take the request's.
        Replace => "REPLACE",
    }
}

impl Directive {
    /// Parse a directive header (InvalidArgument naming the header for anything else).
    pub fn parse(header: &'static str, s: &str) -> S3Result<Directive> {
        Directive::from_name(s).ok_or_else(|| {
            let what = if header.contains("tagging") {
                "tagging"
            } else {
                "metadata"
            };
            S3Error::invalid_argument(format!("Unknown {what} directive."), header, s)
        })
    }
}

named_enum! {
    /// How a multipart object's checksum is made (`x-amz-checksum-type`).
    #[derive(Serialize, Deserialize)]
    ChecksumType {
        /// A checksum of the parts' checksums, `...-N`.
        Composite => "COMPOSITE",
        /// The checksum of the whole object's bytes.
        FullObject => "FULL_OBJECT",
    }
}

impl ChecksumType {
    /// Parse `x-amz-checksum-type` (names are case-insensitive).
    pub fn parse(s: &str) -> S3Result<ChecksumType> {
        ChecksumType::ALL
            .iter()
            .copied()
            .find(|t| t.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| S3Error::invalid_argument("Invalid checksum type", "x-amz-checksum-type", s))
    }
}

named_enum! {
    /// A permission an ACL grant gives.
    #[derive(Serialize, Deserialize)]
    Permission {
        /// `READ`
        Read => "READ",
        /// `WRITE`
        Write => "WRITE",
        /// `READ_ACP`: read the ACL.
        ReadAcp => "READ_ACP",
        /// `WRITE_ACP`: change the ACL.
        WriteAcp => "WRITE_ACP",
        /// `FULL_CONTROL`: all of them.
        FullControl => "FULL_CONTROL",
    }
}

named_enum! {
    /// Object Ownership, as set on a bucket.
    #[derive(Serialize, Deserialize)]
    ObjectOwnership {
        /// ACLs are disabled; the bucket owner owns every object.
        BucketOwnerEnforced => "BucketOwnerEnforced",
        /// Objects written with `bucket-owner-full-control` belong to the bucket owner.
        BucketOwnerPreferred => "BucketOwnerPreferred",
        /// The writer owns what it writes.
        ObjectWriter => "ObjectWriter",
    }
}

/// A `versionId` of a request: `null`, or one of ksan's version ids (32 hex digits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VersionId {
    /// The `null` version (written while versioning was off or suspended).
    Null,
    /// A version by its internal id.
    Id([u8; 16]),
}

impl VersionId {
    /// Parse a client's version id (InvalidArgument "Invalid version id specified").
    pub fn parse(s: &str) -> S3Result<VersionId> {
        if s == "null" {
            return Ok(VersionId::Null);
        }
        let mut uid = [0u8; 16];
        hex::decode_to_slice(s, &mut uid)
            .map_err(|_| S3Error::invalid_argument("Invalid version id specified", "versionId", s))?;
        Ok(VersionId::Id(uid))
    }
}

impl fmt::Display for VersionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VersionId::Null => f.write_str("null"),
            VersionId::Id(uid) => f.write_str(&hex::encode(uid)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabulary_parses_and_prints() {
        for c in StorageClass::ALL {
            assert_eq!(StorageClass::parse(c.as_str()).unwrap(), *c);
        }
        assert_eq!(
            StorageClass::parse("COLD").unwrap_err().code,
            ErrorCode::InvalidStorageClass
        );
        assert_eq!(CannedAcl::parse("public-read").unwrap(), CannedAcl::PublicRead);
        assert_eq!(CannedAcl::parse("public").unwrap_err().code, ErrorCode::InvalidArgument);
        assert_eq!(
            Directive::parse("x-amz-tagging-directive", "MOVE").unwrap_err().message,
            "Unknown tagging directive."
        );
        assert_eq!(ChecksumType::parse("full_object").unwrap(), ChecksumType::FullObject);
        let id = VersionId::parse("000102030405060708090a0b0c0d0e0f").unwrap();
        assert_eq!(id.to_string(), "000102030405060708090a0b0c0d0e0f");
        assert_eq!(VersionId::parse("null").unwrap(), VersionId::Null);
        assert_eq!(VersionId::parse("v1").unwrap_err().code, ErrorCode::InvalidArgument);
    }
}
