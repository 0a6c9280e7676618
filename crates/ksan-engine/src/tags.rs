//! Tags: S3's rules for an object's tags (at most 10) and a bucket's (at most 50, its
//! `Tagging` configuration). Both are kept sorted by key, the order S3 lists them in.

use ksan_types::{ErrorCode, S3Error, S3Result};
use serde::{Deserialize, Serialize};

use crate::config::{BucketConfig, BucketState};
use crate::keys::ConfigKind;

/// (key, value) pairs.
pub type Tags = Vec<(String, String)>;

/// Most tags an object carries.
pub const MAX_OBJECT_TAGS: usize = 10;
/// Most tags a bucket carries.
pub const MAX_BUCKET_TAGS: usize = 50;
const MAX_KEY: usize = 128;
const MAX_VALUE: usize = 256;

fn invalid_tag(msg: &'static str) -> S3Error {
    S3Error::new(ErrorCode::InvalidTag).msg(msg)
}

/// Keys 1..=128 and values up to 256 characters, keys unique; sorted on success.
fn check_pairs(tags: &mut Tags) -> S3Result<()> {
    for (i, (k, v)) in tags.iter().enumerate() {
        if k.is_empty() || k.chars().count() > MAX_KEY {
            return Err(invalid_tag("The TagKey you have provided is invalid"));
        }
        if v.chars().count() > MAX_VALUE {
            return Err(invalid_tag("The TagValue you have provided is invalid"));
        }
        if tags[..i].iter().any(|(other, _)| other == k) {
            return Err(invalid_tag("Cannot provide multiple Tags with the same key"));
        }
    }
    tags.sort();
    Ok(())
}

/// An object's tags: at most 10 (400 BadRequest beyond, as S3 answers), then the pair rules.
pub fn validate_object_tags(tags: &mut Tags) -> S3Result<()> {
    if tags.len() > MAX_OBJECT_TAGS {
        // S3 answers this one BadRequest, not InvalidTag (ceph's s3-tests expect InvalidTag).
        return Err(S3Error::new(ErrorCode::BadRequest).msg("Object tags cannot be greater than 10"));
    }
    check_pairs(tags)
}

/// A bucket's tags (`PutBucketTagging`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct BucketTags(pub Tags);

impl BucketTags {
    /// Check S3's rules (at most 50, no `aws:` keys, the pair rules) and sort.
    pub fn new(mut tags: Tags) -> S3Result<BucketTags> {
        if tags.len() > MAX_BUCKET_TAGS {
            return Err(invalid_tag("Bucket tag count cannot be greater than 50"));
        }
        if tags.iter().any(|(k, _)| k.to_ascii_lowercase().starts_with("aws:")) {
            return Err(invalid_tag("System tags cannot be added/updated by requester"));
        }
        check_pairs(&mut tags)?;
        Ok(BucketTags(tags))
    }
}

impl BucketConfig for BucketTags {
    const KIND: ConfigKind = ConfigKind::Tagging;
    const NOT_FOUND: Option<ErrorCode> = Some(ErrorCode::NoSuchTagSet);
    const DIGEST_REQUIRED: bool = true;

    fn validate(&self, _bucket: &BucketState) -> S3Result<()> {
        BucketTags::new(self.0.clone()).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(n: usize) -> Tags {
        (0..n).map(|i| (format!("k{i:02}"), i.to_string())).collect()
    }

    #[test]
    fn object_limits() {
        assert!(validate_object_tags(&mut tags(10)).is_ok());
        assert_eq!(
            validate_object_tags(&mut tags(11)).unwrap_err().code,
            ErrorCode::BadRequest
        );
        assert!(validate_object_tags(&mut vec![("k".repeat(128), "v".repeat(256))]).is_ok());
        assert!(validate_object_tags(&mut vec![("k".repeat(129), String::new())]).is_err());
        assert!(validate_object_tags(&mut vec![("k".into(), "v".repeat(257))]).is_err());
        assert!(validate_object_tags(&mut vec![(String::new(), "v".into())]).is_err());
        assert!(validate_object_tags(&mut vec![("a".into(), "1".into()), ("a".into(), "2".into())]).is_err());
        let mut t = vec![("foo".into(), "bar".into()), ("bar".into(), String::new())];
        validate_object_tags(&mut t).unwrap();
        assert_eq!(t[0].0, "bar");
    }

    #[test]
    fn bucket_limits() {
        assert_eq!(BucketTags::new(tags(50)).unwrap().0.len(), 50);
        assert_eq!(BucketTags::new(tags(51)).unwrap_err().code, ErrorCode::InvalidTag);
        assert_eq!(
            BucketTags::new(vec![("AWS:cloudformation".into(), "x".into())])
                .unwrap_err()
                .code,
            ErrorCode::InvalidTag
        );
        assert_eq!(
            BucketTags::new(vec![("a".into(), "1".into()), ("a".into(), "2".into())])
                .unwrap_err()
                .code,
            ErrorCode::InvalidTag
        );
        // Unicode characters count one each
        assert!(BucketTags::new(vec![("한".repeat(128), "é".repeat(256))]).is_ok());
    }
}
