//! `CompleteMultipartUpload`: the parts that make the object.

use ksan_types::{ChecksumAlgorithm, S3Result};

use super::XmlDocument;
use crate::xml::{Element, XmlWriter};

/// One `Part`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompletedPartEntry {
    /// `PartNumber`.
    pub part_number: u32,
    /// `ETag` as given (quotes and all).
    pub etag: String,
    /// A `Checksum*` element, if the client sent one.
    pub checksum: Option<(ChecksumAlgorithm, String)>,
}

/// The document (an empty list is refused by the engine, not here).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CompleteMultipartUpload {
    /// `Part`, in the order given.
    pub parts: Vec<CompletedPartEntry>,
}

impl XmlDocument for CompleteMultipartUpload {
    const ROOT: &'static str = "CompleteMultipartUpload";

    fn read(root: &Element) -> S3Result<Self> {
        let parts = root
            .children_named("Part")
            .map(|p| {
                let part_number = p
                    .child_text("PartNumber")
                    .and_then(|n| n.trim().parse::<u32>().ok())
                    .ok_or_else(Self::malformed)?;
                let checksum = ChecksumAlgorithm::ALL
                    .into_iter()
                    .find_map(|a| p.child_text(a.xml_element()).map(|v| (a, v.trim().to_owned())));
                Ok(CompletedPartEntry {
                    part_number,
                    etag: p.child_text("ETag").unwrap_or_default().to_owned(),
                    checksum,
                })
            })
            .collect::<S3Result<Vec<_>>>()?;
        Ok(CompleteMultipartUpload { parts })
    }

    fn write_body(&self, w: &mut XmlWriter) {
        for p in &self.parts {
            w.open("Part")
                .elem_display("PartNumber", p.part_number)
                .elem("ETag", &p.etag);
            if let Some((a, v)) = &p.checksum {
                w.elem(a.xml_element(), v);
            }
            w.close("Part");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ksan_types::ErrorCode;

    #[test]
    fn round_trips_and_rejects() {
        super::super::round_trip(&CompleteMultipartUpload {
            parts: vec![
                CompletedPartEntry {
                    part_number: 1,
                    etag: "\"abc\"".into(),
                    checksum: Some((ChecksumAlgorithm::Crc32, "AAAAAA==".into())),
                },
                CompletedPartEntry {
                    part_number: 2,
                    etag: "def".into(),
                    checksum: None,
                },
            ],
        });
        let bad = b"<CompleteMultipartUpload><Part><PartNumber>x</PartNumber></Part></CompleteMultipartUpload>";
        assert_eq!(
            CompleteMultipartUpload::from_xml(bad).unwrap_err().code,
            ErrorCode::MalformedXML
        );
    }
}
