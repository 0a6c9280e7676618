//! The XML documents S3 requests and responses carry for configuration and for lists of
//! things to act on (ACLs, versioning, tags, public access block, ownership controls, bucket
//! creation, CORS, website, default encryption, object lock, lifecycle, replication, DeleteObjects,
//! CompleteMultipartUpload). Each is a Rust type read by one small
//! typed reader over the parsed element tree ([`crate::xml::parse`], which refuses deep
//! nesting) and written with [`XmlWriter`], so that every field gets S3's own error when it is
//! wrong. Listings, whose results can be large, are written with the streaming writer instead.
//!
//! The types here are wire-shaped; conversions to the engine's model live in the api layer.

use ksan_types::{ErrorCode, S3Error, S3Result};

use crate::xml::{self, Element, XmlWriter};

mod acl;
mod bucket;
mod cors;
mod encryption;
mod lifecycle;
mod lock;
mod multipart;
mod replication;
mod tagging;
mod website;

pub use acl::{AccessControlPolicy, AclGrant, AclGrantee};
pub use bucket::{
    CreateBucketConfiguration, DeleteRequest, MfaDelete, ObjectToDelete, OwnershipControls,
    PublicAccessBlockConfiguration, VersioningConfiguration, VersioningStatus,
};
pub use cors::{CorsConfiguration, CorsRuleDoc};
pub use encryption::{EncryptionRule, ServerSideEncryptionConfiguration};
pub use lifecycle::{
    ExpirationDoc, LifecycleConfiguration, LifecycleFilterDoc, LifecycleRuleDoc, NoncurrentDoc, TransitionDoc,
};
pub use lock::{LegalHoldDoc, ObjectLockConfiguration, RetentionDoc};
pub use multipart::{CompleteMultipartUpload, CompletedPartEntry};
pub use replication::{DestinationDoc, ReplicationConfiguration, ReplicationRuleDoc};
pub use tagging::Tagging;
pub use website::{RedirectAllDoc, RoutingRuleDoc, WebsiteConfiguration};

/// A document with a fixed root element.
pub trait XmlDocument: Sized {
    /// The root element's name.
    const ROOT: &'static str;

    /// The error for a document that does not parse or does not fit the schema.
    fn malformed() -> S3Error {
        S3Error::new(ErrorCode::MalformedXML)
    }

    /// Read the document from its root element.
    fn read(root: &Element) -> S3Result<Self>;

    /// Write the root element's content.
    fn write_body(&self, w: &mut XmlWriter);

    /// Parse a whole document.
    fn from_xml(doc: &[u8]) -> S3Result<Self> {
        let root = xml::parse(doc).map_err(|_| Self::malformed())?;
        if root.name != Self::ROOT {
            return Err(Self::malformed());
        }
        Self::read(&root)
    }

    /// The whole document, with the XML declaration and S3's namespace.
    fn to_xml(&self) -> String {
        let mut w = XmlWriter::new();
        w.root(Self::ROOT);
        self.write_body(&mut w);
        w.close(Self::ROOT);
        w.finish()
    }
}

/// `true` / `false` (case-insensitive), as S3 reads booleans.
fn bool_text(text: &str) -> Option<bool> {
    match text.trim() {
        t if t.eq_ignore_ascii_case("true") => Some(true),
        t if t.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

#[cfg(test)]
pub(crate) fn round_trip<T: XmlDocument + PartialEq + std::fmt::Debug>(doc: &T) {
    let text = doc.to_xml();
    let back = T::from_xml(text.as_bytes()).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(&back, doc, "{text}");
}
