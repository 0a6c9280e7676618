//! The flexible checksum algorithms S3 accepts (`x-amz-checksum-*`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::ChecksumType;

/// A flexible checksum algorithm. Values are the raw digest bytes, big-endian for the CRCs
/// and xxHashes (their canonical form), base64 on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ChecksumAlgorithm {
    /// CRC-32 (ISO-HDLC).
    Crc32,
    /// CRC-32C (Castagnoli).
    Crc32c,
    /// CRC-64/NVME.
    Crc64Nvme,
    /// SHA-1.
    Sha1,
    /// SHA-256.
    Sha256,
    /// MD5 (the same digest as a single-part ETag, base64).
    Md5,
    /// SHA-512.
    Sha512,
    /// XXH64, seed 0.
    Xxhash64,
    /// XXH3, 64-bit, seed 0.
    Xxhash3,
    /// XXH3, 128-bit, seed 0.
    Xxhash128,
}

/// (algorithm, name, header, XML element, digest length): the one table of names.
static TABLE: [(ChecksumAlgorithm, &str, &str, &str, usize); 10] = [
    (
        ChecksumAlgorithm::Crc32,
        "CRC32",
        "x-amz-checksum-crc32",
        "ChecksumCRC32",
        4,
    ),
    (
        ChecksumAlgorithm::Crc32c,
        "CRC32C",
        "x-amz-checksum-crc32c",
        "ChecksumCRC32C",
        4,
    ),
    (
        ChecksumAlgorithm::Crc64Nvme,
        "CRC64NVME",
        "x-amz-checksum-crc64nvme",
        "ChecksumCRC64NVME",
        8,
    ),
    (
        ChecksumAlgorithm::Sha1,
        "SHA1",
        "x-amz-checksum-sha1",
        "ChecksumSHA1",
        20,
    ),
    (
        ChecksumAlgorithm::Sha256,
        "SHA256",
        "x-amz-checksum-sha256",
        "ChecksumSHA256",
        32,
    ),
    (ChecksumAlgorithm::Md5, "MD5", "x-amz-checksum-md5", "ChecksumMD5", 16),
    (
        ChecksumAlgorithm::Sha512,
        "SHA512",
        "x-amz-checksum-sha512",
        "ChecksumSHA512",
        64,
    ),
    (
        ChecksumAlgorithm::Xxhash64,
        "XXHASH64",
        "x-amz-checksum-xxhash64",
        "ChecksumXXHASH64",
        8,
    ),
    (
        ChecksumAlgorithm::Xxhash3,
        "XXHASH3",
        "x-amz-checksum-xxhash3",
        "ChecksumXXHASH3",
        8,
    ),
    (
        ChecksumAlgorithm::Xxhash128,
        "XXHASH128",
        "x-amz-checksum-xxhash128",
        "ChecksumXXHASH128",
        16,
    ),
];

impl ChecksumAlgorithm {
    /// Every algorithm.
    pub const ALL: [ChecksumAlgorithm; 10] = [
        ChecksumAlgorithm::Crc32,
        ChecksumAlgorithm::Crc32c,
        ChecksumAlgorithm::Crc64Nvme,
        ChecksumAlgorithm::Sha1,
        ChecksumAlgorithm::Sha256,
        ChecksumAlgorithm::Md5,
        ChecksumAlgorithm::Sha512,
        ChecksumAlgorithm::Xxhash64,
        ChecksumAlgorithm::Xxhash3,
        ChecksumAlgorithm::Xxhash128,
    ];

    fn row(self) -> &'static (ChecksumAlgorithm, &'static str, &'static str, &'static str, usize) {
        // TABLE is in declaration order.
        &TABLE[self as usize]
    }

    /// The name as in `x-amz-checksum-algorithm` / `x-amz-sdk-checksum-algorithm`.
    pub fn as_str(self) -> &'static str {
        self.row().1
    }

    /// The header carrying the base64 value, e.g. `x-amz-checksum-crc32`.
    pub fn header_name(self) -> &'static str {
        self.row().2
    }

    /// The element name in XML documents (`ChecksumCRC32`, ...).
    pub fn xml_element(self) -> &'static str {
        self.row().3
    }

    /// Length of the raw digest in bytes.
    pub fn digest_len(self) -> usize {
        self.row().4
    }

    /// A CRC: the only kind whose part values combine into a whole-object value.
    pub fn is_crc(self) -> bool {
        matches!(
            self,
            ChecksumAlgorithm::Crc32 | ChecksumAlgorithm::Crc32c | ChecksumAlgorithm::Crc64Nvme
        )
    }

    /// Whether a multipart upload may use this algorithm with this checksum type: FULL_OBJECT
    /// only for the CRCs, COMPOSITE for all but CRC64NVME.
    pub fn allows(self, kind: ChecksumType) -> bool {
        match kind {
            ChecksumType::FullObject => self.is_crc(),
            ChecksumType::Composite => self != ChecksumAlgorithm::Crc64Nvme,
        }
    }

    /// The checksum type of a multipart upload that names an algorithm but no type.
    pub fn default_type(self) -> ChecksumType {
        match self {
            ChecksumAlgorithm::Crc64Nvme => ChecksumType::FullObject,
            _ => ChecksumType::Composite,
        }
    }

    /// The algorithm of a `x-amz-checksum-*` header name.
    pub fn from_header_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|a| a.header_name().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for ChecksumAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ChecksumAlgorithm {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(s))
            .ok_or(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for (i, a) in ChecksumAlgorithm::ALL.into_iter().enumerate() {
            assert_eq!(TABLE[i].0, a, "TABLE follows the declaration order");
            assert_eq!(a.as_str().parse::<ChecksumAlgorithm>(), Ok(a));
            assert_eq!(ChecksumAlgorithm::from_header_name(a.header_name()), Some(a));
        }
        assert_eq!(
            "crc64nvme".parse::<ChecksumAlgorithm>(),
            Ok(ChecksumAlgorithm::Crc64Nvme)
        );
    }

    #[test]
    fn which_types_go_with_which_algorithms() {
        use ChecksumAlgorithm::*;
        for a in ChecksumAlgorithm::ALL {
            assert!(a.allows(a.default_type()), "{a}");
            assert_eq!(
                a.allows(ChecksumType::FullObject),
                matches!(a, Crc32 | Crc32c | Crc64Nvme),
                "{a}"
            );
            assert_eq!(a.allows(ChecksumType::Composite), a != Crc64Nvme, "{a}");
        }
        assert_eq!("xxhash128".parse::<ChecksumAlgorithm>(), Ok(Xxhash128));
        assert_eq!(
            ChecksumAlgorithm::from_header_name("X-Amz-Checksum-Sha512"),
            Some(Sha512)
        );
        assert_eq!(Md5.digest_len(), 16);
    }
}
