//! ACLs: GetBucketAcl, PutBucketAcl, GetObjectAcl, PutObjectAcl, and the ACL (and owner) a new
//! bucket or object gets from `x-amz-acl` / `x-amz-grant-*` under the bucket's Object Ownership.

use http::{Response, StatusCode};
use ksan_engine::BucketRecord;
use ksan_engine::access::acl::{self, CannedAcl, Grant, Grantee, Group, Identity, ObjectOwnership, Permission};
use ksan_proto::ResponseBody;
use ksan_proto::xml::{self, Element, XmlWriter};
use ksan_types::{ErrorCode, S3Error, S3Result};

use crate::{Ctx, HandlerResult, S3Api, empty_response, read_small_body, xml_response};

const GRANT_HEADERS: [(&str, Permission); 5] = [
    ("x-amz-grant-read", Permission::Read),
    ("x-amz-grant-write", Permission::Write),
    ("x-amz-grant-read-acp", Permission::ReadAcp),
    ("x-amz-grant-write-acp", Permission::WriteAcp),
    ("x-amz-grant-full-control", Permission::FullControl),
];

const XSI: &str = "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"";

/// Who owns a new object and which ACL it gets.
pub(crate) struct NewOwnership {
    pub owner: String,
    pub owner_display_name: String,
    pub acl: Option<Vec<Grant>>,
}

fn not_supported() -> S3Error {
    S3Error::new(ErrorCode::AccessControlListNotSupported)
}

fn has_grant_headers(ctx: &Ctx) -> bool {
    GRANT_HEADERS.iter().any(|(h, _)| ctx.headers.contains_key(*h))
}

impl S3Api {
    /// The ACL a request asks for with `x-amz-acl` or `x-amz-grant-*` (None: neither), for a
    /// resource owned by `owner` in a bucket owned by `bucket_owner`.
    pub(crate) fn requested_acl(
        &self,
        ctx: &Ctx,
        owner: Identity<'_>,
        bucket_owner: Identity<'_>,
    ) -> S3Result<Option<Vec<Grant>>> {
        let canned = ctx.header("x-amz-acl");
        let grants = has_grant_headers(ctx);
        match (canned, grants) {
            (Some(_), true) => Err(S3Error::new(ErrorCode::InvalidRequest)
                .msg("Specifying both Canned ACLs and Header Grants is not allowed")),
            (Some(name), false) => {
                let canned = CannedAcl::parse(name).ok_or_else(|| S3Error::invalid_argument("", "x-amz-acl", name))?;
                Ok(Some(canned.grants(owner, bucket_owner)))
            }
            (None, true) => {
                let mut out = Vec::new();
                for (header, permission) in GRANT_HEADERS {
                    for value in ctx.headers.get_all(header) {
                        let value = value
                            .to_str()
                            .map_err(|_| S3Error::invalid_argument("Invalid grant header", header, ""))?;
                        for grantee in parse_grantee_list(value, header)? {
                            out.push(Grant {
                                grantee: self.resolve_grantee(grantee)?,
                                permission,
                            });
                        }
                    }
                }
                Ok(Some(out))
            }
            (None, false) => Ok(None),
        }
    }

    /// A grantee named by id, e-mail address or group URI, as stored.
    fn resolve_grantee(&self, g: GranteeSpec) -> S3Result<Grantee> {
        match g {
            GranteeSpec::Id(id) => match self.engine.user_by_canonical_id(&id)? {
                Some(u) => Ok(Grantee::User {
                    id: u.canonical_id,
                    display_name: u.display_name,
                }),
                None => Err(S3Error::invalid_argument("Invalid id", "CanonicalUser/ID", id)),
            },
            GranteeSpec::Email(email) => match self.engine.user_by_email(&email)? {
                Some(u) => Ok(Grantee::User {
                    id: u.canonical_id,
                    display_name: u.display_name,
                }),
                None => Err(S3Error::new(ErrorCode::UnresolvableGrantByEmailAddress).with("EmailAddress", email)),
            },
            GranteeSpec::Uri(uri) => match Group::from_uri(&uri) {
                Some(group) => Ok(Grantee::Group(group)),
                None => Err(S3Error::invalid_argument("Invalid group uri", "Group/URI", uri)),
            },
        }
    }

    fn check_block_public_acls(bucket: &BucketRecord, grants: Option<&[Grant]>) -> S3Result<()> {
        let block = bucket.public_access_block.is_some_and(|b| b.block_public_acls);
        if block && grants.is_some_and(|g| g.iter().any(Grant::is_public)) {
            return Err(S3Error::new(ErrorCode::AccessDenied));
        }
        Ok(())
    }

    /// Owner and ACL of an object the caller writes into `bucket` (PutObject, CopyObject,
    /// CreateMultipartUpload), by the bucket's Object Ownership.
    pub(crate) fn new_object_ownership(&self, ctx: &Ctx, bucket: &BucketRecord) -> S3Result<NewOwnership> {
        let (writer, writer_name) = ctx.owner();
        let bucket_owner = (bucket.owner.as_str(), bucket.owner_display_name.as_str());
        let canned = ctx.header("x-amz-acl");
        let to_bucket_owner = |acl| NewOwnership {
            owner: bucket.owner.clone(),
            owner_display_name: bucket.owner_display_name.clone(),
            acl,
        };
        match bucket.ownership {
            Some(ObjectOwnership::BucketOwnerEnforced) => {
                // ACLs are off: only "the bucket owner has full control" may be asked for.
                if has_grant_headers(ctx) || canned.is_some_and(|c| c != "bucket-owner-full-control") {
                    return Err(not_supported());
                }
                Ok(to_bucket_owner(None))
            }
            Some(ObjectOwnership::BucketOwnerPreferred) if canned == Some("bucket-owner-full-control") => {
                Ok(to_bucket_owner(None))
            }
            _ => {
                let acl = self.requested_acl(ctx, (&writer, &writer_name), bucket_owner)?;
                Self::check_block_public_acls(bucket, acl.as_deref())?;
                Ok(NewOwnership {
                    owner: writer,
                    owner_display_name: writer_name,
                    acl,
                })
            }
        }
    }

    /// CreateBucket's ACL and Object Ownership.
    pub(crate) fn new_bucket_acl(
        &self,
        ctx: &Ctx,
        owner: Identity<'_>,
    ) -> S3Result<(Option<Vec<Grant>>, Option<ObjectOwnership>)> {
        let ownership = match ctx.header("x-amz-object-ownership") {
            None => None,
            Some(v) => Some(ObjectOwnership::parse(v).ok_or_else(|| {
                S3Error::invalid_argument("Invalid x-amz-object-ownership header", "x-amz-object-ownership", v)
            })?),
        };
        let acl = self.requested_acl(ctx, owner, owner)?;
        if ownership == Some(ObjectOwnership::BucketOwnerEnforced)
            && acl.as_ref().is_some_and(|g| *g != acl::private(owner))
        {
            return Err(S3Error::new(ErrorCode::InvalidBucketAclWithObjectOwnership));
        }
        Ok((acl, ownership))
    }

    pub(crate) fn get_bucket_acl(&self, ctx: &Ctx) -> HandlerResult {
        let bucket = self.authorized_bucket(ctx)?;
        let owner = (bucket.owner.as_str(), bucket.owner_display_name.as_str());
        let grants = match (&bucket.acl, bucket.ownership) {
            // With ACLs off, the ACL S3 shows is the owner's full control.
            (_, Some(ObjectOwnership::BucketOwnerEnforced)) | (None, _) => acl::private(owner),
            (Some(g), _) => g.clone(),
        };
        xml_response(acl_xml(owner, &grants))
    }

    pub(crate) async fn put_bucket_acl(&self, ctx: &Ctx) -> HandlerResult {
        let bucket = self.authorized_bucket(ctx)?;
        if bucket.ownership == Some(ObjectOwnership::BucketOwnerEnforced) {
            return Err(not_supported());
        }
        let owner = (bucket.owner.as_str(), bucket.owner_display_name.as_str());
        let grants = self.acl_from_request(ctx, owner, owner).await?;
        Self::check_block_public_acls(&bucket, Some(&grants))?;
        self.engine
            .update_bucket(&bucket.name, move |b| {
                b.acl = Some(grants);
                Ok(())
            })
            .await?;
        Response::builder()
            .status(StatusCode::OK)
            .body(ResponseBody::empty())
            .map_err(S3Error::internal)
    }

    pub(crate) fn get_object_acl(&self, ctx: &Ctx) -> HandlerResult {
        let (bucket, handle) = self.authorized_object(ctx)?;
        let v = &handle.version;
        let owner = (v.owner.as_str(), v.owner_display_name.as_str());
        let grants = match (&v.acl, bucket.ownership) {
            (_, Some(ObjectOwnership::BucketOwnerEnforced)) => {
                acl::private((bucket.owner.as_str(), bucket.owner_display_name.as_str()))
            }
            (None, _) => acl::private(owner),
            (Some(g), _) => g.clone(),
        };
        let owner = match bucket.ownership {
            Some(ObjectOwnership::BucketOwnerEnforced) => (bucket.owner.as_str(), bucket.owner_display_name.as_str()),
            _ => owner,
        };
        let mut resp = xml_response(acl_xml(owner, &grants))?;
        crate::set_version_header(&mut resp, v.version_id.as_deref());
        Ok(resp)
    }

    pub(crate) async fn put_object_acl(&self, ctx: &Ctx) -> HandlerResult {
        let (bucket, handle) = self.authorized_object(ctx)?;
        let v = &handle.version;
        if bucket.ownership == Some(ObjectOwnership::BucketOwnerEnforced) {
            return Err(not_supported());
        }
        let owner = (v.owner.as_str(), v.owner_display_name.as_str());
        let bucket_owner = (bucket.owner.as_str(), bucket.owner_display_name.as_str());
        let grants = self.acl_from_request(ctx, owner, bucket_owner).await?;
        Self::check_block_public_acls(&bucket, Some(&grants))?;
        self.engine.set_object_acl(&bucket.name, v, grants).await?;
        let mut resp = empty_response(StatusCode::OK)?;
        crate::set_version_header(&mut resp, v.version_id.as_deref());
        Ok(resp)
    }

    /// PutBucketAcl/PutObjectAcl: the new ACL from the headers or from an AccessControlPolicy
    /// document (not both).
    async fn acl_from_request(
        &self,
        ctx: &Ctx,
        owner: Identity<'_>,
        bucket_owner: Identity<'_>,
    ) -> S3Result<Vec<Grant>> {
        let from_headers = self.requested_acl(ctx, owner, bucket_owner)?;
        let body = read_small_body(ctx, 64 * 1024).await?;
        let has_body = !body.iter().all(u8::is_ascii_whitespace);
        match (from_headers, has_body) {
            (Some(_), true) => Err(S3Error::new(ErrorCode::UnexpectedContent)),
            (Some(grants), false) => Ok(grants),
            (None, false) => Err(S3Error::new(ErrorCode::MissingSecurityHeader)
                .msg("Your request was missing a required header")
                .with("MissingHeaderName", "x-amz-acl")),
            (None, true) => {
                let doc = xml::parse(&body).map_err(|_| S3Error::new(ErrorCode::MalformedACLError))?;
                self.parse_acl_document(&doc, owner)
            }
        }
    }

    fn parse_acl_document(&self, doc: &Element, owner: Identity<'_>) -> S3Result<Vec<Grant>> {
        let malformed = || S3Error::new(ErrorCode::MalformedACLError);
        if doc.name != "AccessControlPolicy" {
            return Err(malformed());
        }
        let owner_id = doc
            .child("Owner")
            .and_then(|o| o.child_text("ID"))
            .ok_or_else(malformed)?;
        if owner_id != owner.0 {
            // The owner cannot be changed through the ACL.
            return Err(S3Error::new(ErrorCode::AccessDenied));
        }
        let list = doc.child("AccessControlList").ok_or_else(malformed)?;
        let mut grants = Vec::new();
        for g in list.children_named("Grant") {
            let grantee = g.child("Grantee").ok_or_else(malformed)?;
            let permission = g
                .child_text("Permission")
                .and_then(Permission::parse)
                .ok_or_else(malformed)?;
            let kind = grantee
                .attrs
                .iter()
                .find(|(k, _)| k == "xsi:type" || k.ends_with(":type") || k == "type")
                .map(|(_, v)| v.as_str());
            let spec = match kind {
                Some("CanonicalUser") => GranteeSpec::Id(grantee.child_text("ID").ok_or_else(malformed)?.to_owned()),
                Some("AmazonCustomerByEmail") => {
                    GranteeSpec::Email(grantee.child_text("EmailAddress").ok_or_else(malformed)?.to_owned())
                }
                Some("Group") => GranteeSpec::Uri(grantee.child_text("URI").ok_or_else(malformed)?.to_owned()),
                _ => return Err(malformed()),
            };
            grants.push(Grant {
                grantee: self.resolve_grantee(spec)?,
                permission,
            });
        }
        Ok(grants)
    }
}

/// An AccessControlPolicy document.
pub(crate) fn acl_xml(owner: Identity<'_>, grants: &[Grant]) -> String {
    let mut w = XmlWriter::new();
    w.root("AccessControlPolicy")
        .open("Owner")
        .elem("ID", owner.0)
        .elem("DisplayName", owner.1)
        .close("Owner")
        .open("AccessControlList");
    // Group grants first, then users, each in stored order (as Ceph RGW lists them).
    let groups = grants.iter().filter(|g| matches!(g.grantee, Grantee::Group(_)));
    let users = grants.iter().filter(|g| matches!(g.grantee, Grantee::User { .. }));
    for g in groups.chain(users) {
        w.open("Grant");
        match &g.grantee {
            Grantee::User { id, display_name } => {
                w.open_with("Grantee", &format!("{XSI} xsi:type=\"CanonicalUser\""))
                    .elem("ID", id)
                    .elem("DisplayName", display_name);
            }
            Grantee::Group(group) => {
                w.open_with("Grantee", &format!("{XSI} xsi:type=\"Group\""))
                    .elem("URI", group.uri());
            }
        }
        w.close("Grantee")
            .elem("Permission", g.permission.as_str())
            .close("Grant");
    }
    w.close("AccessControlList").close("AccessControlPolicy");
    w.finish()
}

#[derive(Debug, PartialEq, Eq)]
enum GranteeSpec {
    Id(String),
    Email(String),
    Uri(String),
}

/// `id="a", emailAddress="b@c", uri="http://..."`: one grant header's grantees.
fn parse_grantee_list(value: &str, header: &'static str) -> S3Result<Vec<GranteeSpec>> {
    let bad = || S3Error::invalid_argument("Invalid grant header value", header, value.to_owned());
    let mut out = Vec::new();
    for item in value.split(',') {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let (kind, v) = item.split_once('=').ok_or_else(bad)?;
        let v = v.trim();
        let v = v
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(v)
            .to_owned();
        out.push(match kind.trim().to_ascii_lowercase().as_str() {
            "id" => GranteeSpec::Id(v),
            "emailaddress" => GranteeSpec::Email(v),
            "uri" => GranteeSpec::Uri(v),
            _ => return Err(bad()),
        });
    }
    if out.is_empty() {
        return Err(bad());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grant_headers() {
        let g = parse_grantee_list(
            r#"id="abc", uri="http://acs.amazonaws.com/groups/global/AllUsers",emailAddress=x@y.z"#,
            "x-amz-grant-read",
        )
        .unwrap();
        assert_eq!(
            g,
            vec![
                GranteeSpec::Id("abc".into()),
                GranteeSpec::Uri("http://acs.amazonaws.com/groups/global/AllUsers".into()),
                GranteeSpec::Email("x@y.z".into()),
            ]
        );
        assert!(parse_grantee_list("nobody", "x-amz-grant-read").is_err());
        assert!(parse_grantee_list("", "x-amz-grant-read").is_err());
        assert!(parse_grantee_list("foo=bar", "x-amz-grant-read").is_err());
    }

    #[test]
    fn acl_document_shape() {
        let grants = vec![
            Grant::user("id1", "alice", Permission::FullControl),
            Grant::group(Group::AllUsers, Permission::Read),
        ];
        let doc = acl_xml(("id1", "alice"), &grants);
        assert!(doc.contains(
            "<Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"CanonicalUser\"><ID>id1</ID>"
        ));
        assert!(doc.contains(
            "<URI>http://acs.amazonaws.com/groups/global/AllUsers</URI></Grantee><Permission>READ</Permission>"
        ));
        let parsed = xml::parse(doc.as_bytes()).unwrap();
        assert_eq!(
            parsed
                .child("AccessControlList")
                .unwrap()
                .children_named("Grant")
                .count(),
            2
        );
    }
}
