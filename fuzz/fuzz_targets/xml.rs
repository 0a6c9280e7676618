//! The XML reader and every typed request document: any bytes, no panic, bounded depth.
#![no_main]

use ksan_proto::documents::{self, XmlDocument};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|doc: &[u8]| {
    let _ = ksan_proto::xml::parse(doc);
    let _ = documents::CompleteMultipartUpload::from_xml(doc);
    let _ = documents::Tagging::from_xml(doc);
    let _ = documents::DeleteRequest::from_xml(doc);
    let _ = documents::AccessControlPolicy::from_xml(doc);
    let _ = documents::VersioningConfiguration::from_xml(doc);
    let _ = documents::CreateBucketConfiguration::from_xml(doc);
    let _ = documents::OwnershipControls::from_xml(doc);
    let _ = documents::PublicAccessBlockConfiguration::from_xml(doc);
});
