//! Digests computed while streaming: MD5 for the ETag, and the flexible checksums.

use base64::Engine as _;
use crc_fast::CrcAlgorithm;
use ksan_types::ChecksumAlgorithm;
use md5::{Digest as _, Md5};

enum Checksummer {
    Crc(crc_fast::Digest, usize),
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
    Sha512(Box<sha2::Sha512>),
    /// The MD5 checksum is the ETag's MD5: [`Hashers`] computes it once for both.
    Md5,
    Xxh64(Box<xxhash_rust::xxh64::Xxh64>),
    Xxh3(Box<xxhash_rust::xxh3::Xxh3>),
    Xxh128(Box<xxhash_rust::xxh3::Xxh3>),
}

fn crc_algorithm(algo: ChecksumAlgorithm) -> Option<(CrcAlgorithm, usize)> {
    match algo {
        ChecksumAlgorithm::Crc32 => Some((CrcAlgorithm::Crc32IsoHdlc, 4)),
        ChecksumAlgorithm::Crc32c => Some((CrcAlgorithm::Crc32Iscsi, 4)),
        ChecksumAlgorithm::Crc64Nvme => Some((CrcAlgorithm::Crc64Nvme, 8)),
        _ => None,
    }
}

impl Checksummer {
    fn new(algo: ChecksumAlgorithm) -> Self {
        if let Some((crc, width)) = crc_algorithm(algo) {
            return Checksummer::Crc(crc_fast::Digest::new(crc), width);
        }
        match algo {
            ChecksumAlgorithm::Sha1 => Checksummer::Sha1(sha1::Sha1::new()),
            ChecksumAlgorithm::Sha512 => Checksummer::Sha512(Box::default()),
            ChecksumAlgorithm::Md5 => Checksummer::Md5,
            ChecksumAlgorithm::Xxhash64 => Checksummer::Xxh64(Box::new(xxhash_rust::xxh64::Xxh64::new(0))),
            ChecksumAlgorithm::Xxhash3 => Checksummer::Xxh3(Box::default()),
            ChecksumAlgorithm::Xxhash128 => Checksummer::Xxh128(Box::default()),
            _ => Checksummer::Sha256(sha2::Sha256::new()),
        }
    }
    fn update(&mut self, data: &[u8]) {
        match self {
            Checksummer::Crc(d, _) => d.update(data),
            Checksummer::Sha1(d) => d.update(data),
            Checksummer::Sha256(d) => d.update(data),
            Checksummer::Sha512(d) => d.update(data),
            Checksummer::Md5 => {}
            Checksummer::Xxh64(d) => d.update(data),
            Checksummer::Xxh3(d) | Checksummer::Xxh128(d) => d.update(data),
        }
    }
    /// The digest; `md5` is the MD5 of the same bytes.
    fn finish(self, md5: &[u8; 16]) -> Vec<u8> {
        match self {
            Checksummer::Crc(d, width) => crc_bytes(d.finalize(), width),
            Checksummer::Sha1(d) => d.finalize().to_vec(),
            Checksummer::Sha256(d) => d.finalize().to_vec(),
            Checksummer::Sha512(d) => d.finalize().to_vec(),
            Checksummer::Md5 => md5.to_vec(),
            Checksummer::Xxh64(d) => d.digest().to_be_bytes().to_vec(),
            Checksummer::Xxh3(d) => d.digest().to_be_bytes().to_vec(),
            Checksummer::Xxh128(d) => d.digest128().to_be_bytes().to_vec(),
        }
    }
}

/// A CRC value as S3 shows it: big-endian bytes of its width.
fn crc_bytes(value: u64, width: usize) -> Vec<u8> {
    value.to_be_bytes()[8 - width..].to_vec()
}

/// MD5 plus any flexible checksums, updated together in one pass over the data.
pub struct Hashers {
    md5: Option<Md5>,
    checksums: Vec<(ChecksumAlgorithm, Checksummer)>,
}

/// The finished digests: raw bytes (base64 them for headers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digests {
    /// The MD5 (the ETag).
    pub md5: [u8; 16],
    /// The flexible checksums asked for, raw.
    pub checksums: Vec<(ChecksumAlgorithm, Vec<u8>)>,
}

impl Hashers {
    /// Hashers for MD5 and these checksums.
    pub fn new(checksums: &[ChecksumAlgorithm]) -> Self {
        Hashers {
            md5: Some(Md5::new()),
            checksums: checksums.iter().map(|a| (*a, Checksummer::new(*a))).collect(),
        }
    }

    /// No hashing at all (a sealed blob's store writer: its plaintext is hashed before it is
    /// sealed); its digests are zeros.
    pub fn none() -> Self {
        Hashers {
            md5: None,
            checksums: Vec::new(),
        }
    }

    /// Hash more bytes.
    pub fn update(&mut self, data: &[u8]) {
        if let Some(m) = &mut self.md5 {
            m.update(data);
        }
        for (_, c) in &mut self.checksums {
            c.update(data);
        }
    }

    /// The digests of everything hashed.
    pub fn finish(self) -> Digests {
        let md5: [u8; 16] = self.md5.map(|m| m.finalize().into()).unwrap_or_default();
        Digests {
            checksums: self.checksums.into_iter().map(|(a, c)| (a, c.finish(&md5))).collect(),
            md5,
        }
    }
}

/// One flexible checksum over a stream, without the MD5 an upload computes beside it: what
/// re-reading stored bytes to verify them needs (for the CRCs it costs next to nothing).
pub struct ChecksumHasher {
    checksum: Checksummer,
    md5: Option<Md5>,
}

impl ChecksumHasher {
    /// A hasher for `algo`.
    pub fn new(algo: ChecksumAlgorithm) -> Self {
        ChecksumHasher {
            checksum: Checksummer::new(algo),
            md5: (algo == ChecksumAlgorithm::Md5).then(Md5::new),
        }
    }

    /// Hash more bytes.
    pub fn update(&mut self, data: &[u8]) {
        match &mut self.md5 {
            Some(md5) => md5.update(data),
            None => self.checksum.update(data),
        }
    }

    /// The raw digest.
    pub fn finish(self) -> Vec<u8> {
        let md5: [u8; 16] = self.md5.map(|m| m.finalize().into()).unwrap_or_default();
        self.checksum.finish(&md5)
    }
}

/// One-shot checksum of a buffer.
pub fn checksum_of(algo: ChecksumAlgorithm, data: &[u8]) -> Vec<u8> {
    let mut h = Hashers::new(&[algo]);
    h.update(data);
    h.finish().checksums.pop().map(|(_, v)| v).unwrap_or_default()
}

/// The CRC of A‖B from CRC(A), CRC(B) and len(B) (full-object checksums of multipart
/// uploads). None for the algorithms that are not CRCs, which cannot be combined.
pub fn crc_combine(algo: ChecksumAlgorithm, crc1: &[u8], crc2: &[u8], len2: u64) -> Option<Vec<u8>> {
    let (crc, width) = crc_algorithm(algo)?;
    let value = |b: &[u8]| -> Option<u64> {
        if b.len() != width {
            return None;
        }
        let mut buf = [0u8; 8];
        buf[8 - width..].copy_from_slice(b);
        Some(u64::from_be_bytes(buf))
    };
    let combined = crc_fast::checksum_combine(crc, value(crc1)?, value(crc2)?, len2);
    Some(crc_bytes(combined, width))
}

/// Standard base64, as S3 writes digests.
pub fn base64(digest: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(digest)
}

/// Hex MD5, as an ETag holds it.
pub fn md5_hex(md5: &[u8; 16]) -> String {
    hex::encode(md5)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        let data = b"123456789";
        assert_eq!(checksum_of(ChecksumAlgorithm::Crc32, data), 0xCBF43926u32.to_be_bytes());
        assert_eq!(
            checksum_of(ChecksumAlgorithm::Crc32c, data),
            0xE3069283u32.to_be_bytes()
        );
        assert_eq!(
            checksum_of(ChecksumAlgorithm::Crc64Nvme, data),
            0xAE8B14860A799888u64.to_be_bytes()
        );
        assert_eq!(
            hex::encode(checksum_of(ChecksumAlgorithm::Sha256, b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            hex::encode(checksum_of(ChecksumAlgorithm::Sha1, b"abc")),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(
            hex::encode(checksum_of(ChecksumAlgorithm::Sha512, b"abc")),
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a\
             2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
        );
        assert_eq!(
            hex::encode(checksum_of(ChecksumAlgorithm::Md5, b"abc")),
            "900150983cd24fb0d6963f7d28e17f72"
        );
        // xxHash reference values (xxhsum), written big-endian as S3 does.
        assert_eq!(
            hex::encode(checksum_of(ChecksumAlgorithm::Xxhash64, data)),
            "8cb841db40e6ae83"
        );
        assert_eq!(
            hex::encode(checksum_of(ChecksumAlgorithm::Xxhash3, data)),
            "72dcb18b67a17dff"
        );
        assert_eq!(
            hex::encode(checksum_of(ChecksumAlgorithm::Xxhash128, data)),
            "33119477ede5dcd5e9716427681d5860"
        );
        for a in ChecksumAlgorithm::ALL {
            assert_eq!(checksum_of(a, data).len(), a.digest_len(), "{a}");
        }
    }

    #[test]
    fn streaming_equals_one_shot_and_md5() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7) as u8).collect();
        let mut h = Hashers::new(&ChecksumAlgorithm::ALL);
        for chunk in data.chunks(777) {
            h.update(chunk);
        }
        let d = h.finish();
        for (a, v) in &d.checksums {
            assert_eq!(v, &checksum_of(*a, &data), "{a}");
            let mut one = ChecksumHasher::new(*a);
            for chunk in data.chunks(1000) {
                one.update(chunk);
            }
            assert_eq!(v, &one.finish(), "{a} alone");
        }
        assert_eq!(md5_hex(&d.md5), hex::encode(Md5::digest(&data)));
        assert_eq!(
            md5_hex(&Hashers::new(&[]).finish().md5),
            "d41d8cd98f00b204e9800998ecf8427e"
        );
    }

    #[test]
    fn crcs_combine() {
        let (a, b) = (b"hello ".as_slice(), b"world, and more".as_slice());
        for algo in [
            ChecksumAlgorithm::Crc32,
            ChecksumAlgorithm::Crc32c,
            ChecksumAlgorithm::Crc64Nvme,
        ] {
            let whole = checksum_of(algo, b"hello world, and more");
            let combined = crc_combine(algo, &checksum_of(algo, a), &checksum_of(algo, b), b.len() as u64);
            assert_eq!(combined, Some(whole), "{algo}");
        }
        assert_eq!(crc_combine(ChecksumAlgorithm::Sha1, b"", b"", 0), None);
    }
}
