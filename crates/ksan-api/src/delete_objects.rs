//! DeleteObjects: up to 1000 keys in one request, each answered on its own.

use ksan_proto::xml::{self, XmlWriter};
use ksan_types::{ErrorCode, S3Error};

use crate::headers;
use crate::list::Encoder;
use crate::{Ctx, HandlerResult, S3Api, read_small_body, xml_response};

/// Most keys one DeleteObjects may name.
const MAX_KEYS: usize = 1000;

impl S3Api {
    pub(crate) async fn delete_objects(&self, ctx: &Ctx) -> HandlerResult {
        // Decided key by key below (s3:DeleteObject on each), as S3 does.
        let bucket = self.object_access(ctx)?;
        // Without a bucket policy the decision does not depend on the key: a caller who may
        // delete nothing here is refused before its document is read.
        if bucket.policy.is_none() && !self.may_delete(ctx, &bucket, "", false)? {
            return Err(S3Error::new(ErrorCode::AccessDenied));
        }
        let md5 = headers::content_md5(&ctx.headers)?;
        let body = read_small_body(ctx, 2 * 1024 * 1024).await?;
        if let Some(expected) = md5
            && md5_check::digest(&body) != expected
        {
            return Err(S3Error::new(ErrorCode::BadDigest));
        }
        let doc = xml::parse(&body)?;
        if doc.name != "Delete" {
            return Err(S3Error::new(ErrorCode::MalformedXML));
        }
        let quiet = doc
            .child_text("Quiet")
            .is_some_and(|q| q.trim().eq_ignore_ascii_case("true"));
        let objects: Vec<_> = doc.children_named("Object").collect();
        if objects.is_empty() || objects.len() > MAX_KEYS {
            return Err(S3Error::new(ErrorCode::MalformedXML));
        }
        let enc = Encoder::plain();
        let (owner, display) = ctx.owner();
        let mut w = XmlWriter::new();
        w.root("DeleteResult");
        for o in objects {
            let Some(key) = o.child_text("Key") else {
                return Err(S3Error::new(ErrorCode::MalformedXML));
            };
            let version_id = o.child_text("VersionId").filter(|v| !v.is_empty());
            let result = match headers::check_key(key) {
                Ok(()) if !self.may_delete(ctx, &bucket, key, version_id.is_some())? => {
                    Err(S3Error::new(ErrorCode::AccessDenied))
                }
                Ok(()) => {
                    self.engine
                        .delete_object(&bucket.name, key, version_id, (&owner, &display))
                        .await
                }
                Err(e) => Err(e),
            };
            match result {
                Ok(out) => {
                    if quiet {
                        continue;
                    }
                    w.open("Deleted").elem("Key", &enc.enc(key));
                    if let Some(v) = version_id {
                        w.elem("VersionId", v);
                    }
                    if out.delete_marker {
                        w.elem("DeleteMarker", "true");
                        if let Some(v) = &out.version_id {
                            w.elem("DeleteMarkerVersionId", v);
                        }
                    }
                    w.close("Deleted");
                }
                Err(e) => {
                    w.open("Error").elem("Key", &enc.enc(key));
                    if let Some(v) = version_id {
                        w.elem("VersionId", v);
                    }
                    w.elem("Code", e.code.as_str())
                        .elem("Message", &e.message)
                        .close("Error");
                }
            }
        }
        w.close("DeleteResult");
        xml_response(w.finish())
    }
}

mod md5_check {
    use md5::{Digest, Md5};

    pub fn digest(data: &[u8]) -> [u8; 16] {
        Md5::digest(data).into()
    }
}
