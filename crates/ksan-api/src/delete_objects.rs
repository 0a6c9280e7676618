//! DeleteObjects: up to 1000 keys in one request, each decided and answered on its own, all
//! deleted in one metadata transaction.

use ksan_proto::documents::{DeleteRequest, XmlDocument};
use ksan_proto::xml::XmlWriter;
use ksan_types::{ErrorCode, S3Error, VersionId};

use crate::headers;
use crate::list::Encoder;
use crate::{Ctx, HandlerResult, S3Api, read_small_body, xml_response};

/// Largest DeleteObjects document (1000 keys of 1024 bytes fit).
const DELETE_BODY_LIMIT: usize = 2 * 1024 * 1024;

impl S3Api {
    pub(crate) async fn delete_objects(&self, ctx: &Ctx) -> HandlerResult {
        // Decided key by key below (s3:DeleteObject on each), as S3 does.
        let bucket = self.object_access(ctx).await?;
        // Without a bucket policy the decision does not depend on the key: a caller who may
        // delete nothing here is refused before its document is read.
        if crate::conditions::policy_of(&bucket).is_none() && !self.may_delete(ctx, &bucket, "", false) {
            return Err(S3Error::new(ErrorCode::AccessDenied));
        }
        let md5 = headers::content_md5(&ctx.headers)?;
        let body = read_small_body(ctx, DELETE_BODY_LIMIT).await?;
        if let Some(expected) = md5
            && md5_check::digest(&body) != expected
        {
            return Err(S3Error::new(ErrorCode::BadDigest));
        }
        let doc = DeleteRequest::from_xml(&body)?;
        // Each key is checked and decided first; the allowed ones are deleted together.
        let checked: Vec<Result<Option<VersionId>, S3Error>> = doc
            .objects
            .iter()
            .map(|o| {
                headers::check_key(&o.key)?;
                let version = o.version_id.as_deref().map(VersionId::parse).transpose()?;
                if !self.may_delete(ctx, &bucket, &o.key, version.is_some()) {
                    return Err(S3Error::new(ErrorCode::AccessDenied));
                }
                Ok(version)
            })
            .collect();
        let targets: Vec<(String, Option<VersionId>)> = doc
            .objects
            .iter()
            .zip(&checked)
            .filter_map(|(o, c)| c.as_ref().ok().map(|v| (o.key.clone(), *v)))
            .collect();
        let (owner, display) = ctx.owner();
        let bypass = self.bypasses_governance(ctx, &bucket);
        let mut outcomes = if targets.is_empty() {
            Vec::new()
        } else {
            self.engine
                .delete_objects(bucket.name(), targets, (&owner, &display), bypass)
                .await?
        }
        .into_iter();
        let enc = Encoder::plain();
        let mut w = XmlWriter::new();
        w.root("DeleteResult");
        for (o, check) in doc.objects.iter().zip(checked) {
            let result = match check {
                Ok(_) => outcomes
                    .next()
                    .unwrap_or_else(|| Err(S3Error::internal("a deletion without its outcome"))),
                Err(e) => Err(e),
            };
            match result {
                Ok(out) => {
                    if doc.quiet {
                        continue;
                    }
                    w.open("Deleted").elem("Key", &enc.enc(&o.key));
                    w.elem_opt("VersionId", o.version_id.as_deref());
                    if out.delete_marker {
                        w.elem("DeleteMarker", "true");
                        w.elem_opt("DeleteMarkerVersionId", out.version_id.as_deref());
                    }
                    w.close("Deleted");
                }
                Err(e) => {
                    w.open("Error").elem("Key", &enc.enc(&o.key));
                    w.elem_opt("VersionId", o.version_id.as_deref());
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
