//! `Tagging`: the tag set of an object (Get/PutObjectTagging) or a bucket.

use ksan_types::S3Result;

use super::XmlDocument;
use crate::xml::{Element, XmlWriter};

/// The document: `TagSet/Tag/{Key,Value}`, in order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tagging {
    /// (key, value) pairs as given.
    pub tags: Vec<(String, String)>,
}

impl XmlDocument for Tagging {
    const ROOT: &'static str = "Tagging";

    fn read(root: &Element) -> S3Result<Self> {
        let set = root.child("TagSet").ok_or_else(Self::malformed)?;
        let tags = set
            .children_named("Tag")
            .map(|t| match (t.child_raw("Key"), t.child("Value")) {
                (Some(k), Some(v)) => Ok((k.to_owned(), v.text.clone())),
                _ => Err(Self::malformed()),
            })
            .collect::<S3Result<Vec<_>>>()?;
        Ok(Tagging { tags })
    }

    fn write_body(&self, w: &mut XmlWriter) {
        w.open("TagSet");
        for (k, v) in &self.tags {
            w.open("Tag").elem("Key", k).elem("Value", v).close("Tag");
        }
        w.close("TagSet");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ksan_types::ErrorCode;

    #[test]
    fn round_trips_and_rejects() {
        super::super::round_trip(&Tagging {
            tags: vec![("a".into(), "1".into()), ("b<".into(), String::new())],
        });
        super::super::round_trip(&Tagging::default());
        let empty_value =
            Tagging::from_xml(b"<Tagging><TagSet><Tag><Key>k</Key><Value/></Tag></TagSet></Tagging>").unwrap();
        assert_eq!(empty_value.tags, vec![("k".to_owned(), String::new())]);
        for bad in [
            "<Tagging/>",
            "<Tagging><TagSet><Tag><Key>k</Key></Tag></TagSet></Tagging>",
            "<Tags><TagSet/></Tags>",
        ] {
            assert_eq!(
                Tagging::from_xml(bad.as_bytes()).unwrap_err().code,
                ErrorCode::MalformedXML,
                "{bad}"
            );
        }
    }
}
