//! ACLs: GetBucketAcl, PutBucketAcl, GetObjectAcl, PutObjectAcl, and the ACL (and owner) a new
//! bucket or object gets from `x-amz-acl` / `x-amz-grant-*` under the bucket's Object Ownership.

use http::StatusCode;
use ksan_engine::BucketState;
use ksan_engine::access::acl::{self, CannedGrants, Grant, Grantee, Group, Identity, ObjectOwnership, Permission};
use ksan_engine::access::config::{BucketAcl, bucket_grants, check_block_public_acls, ownership};
use ksan_proto::documents::{AccessControlPolicy, AclGrant, AclGrantee, XmlDocument};
use ksan_types::{CannedAcl, ErrorCode, S3Error, S3Result};

use crate::{CONFIG_BODY_LIMIT, Ctx, HandlerResult, S3Api, document_response, empty_response, read_small_body};

const GRANT_HEADERS: [(&str, Permission); 5] = [
    ("x-amz-grant-read", Permission::Read),
    ("x-amz-grant-write", Permission::Write),
    ("x-amz-grant-read-acp", Permission::ReadAcp),
    ("x-amz-grant-write-acp", Permission::WriteAcp),
    ("x-amz-grant-full-control", Permission::FullControl),
];

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

/// A grantee as a grant header or ACL document names it.
#[derive(Debug, PartialEq, Eq)]
enum GranteeSpec {
    Id(String),
    Email(String),
    Uri(String),
}

impl S3Api {
    /// The ACL a request asks for with `x-amz-acl` or `x-amz-grant-*` (None: neither), for a
    /// resource owned by `owner` in a bucket owned by `bucket_owner`.
    pub(crate) async fn requested_acl(
        &self,
        ctx: &Ctx,
        owner: Identity<'_>,
        bucket_owner: Identity<'_>,
    ) -> S3Result<Option<Vec<Grant>>> {
        match (ctx.canned_acl, has_grant_headers(ctx)) {
            (Some(_), true) => Err(S3Error::new(ErrorCode::InvalidRequest)
                .msg("Specifying both Canned ACLs and Header Grants is not allowed")),
            (Some(canned), false) => Ok(Some(canned.grants(owner, bucket_owner))),
            (None, true) => {
                let mut out = Vec::new();
                for (header, permission) in GRANT_HEADERS {
                    for value in ctx.headers.get_all(header) {
                        let value = value
                            .to_str()
                            .map_err(|_| S3Error::invalid_argument("Invalid grant header", header, ""))?;
                        for grantee in parse_grantee_list(value, header)? {
                            out.push(Grant {
                                grantee: self.resolve_grantee(grantee).await?,
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
    async fn resolve_grantee(&self, g: GranteeSpec) -> S3Result<Grantee> {
        match g {
            GranteeSpec::Id(id) => match self.engine.user_by_canonical_id(&id).await? {
                Some(u) => Ok(Grantee::User {
                    id: u.canonical_id,
                    display_name: u.display_name,
                }),
                None => Err(S3Error::invalid_argument("Invalid id", "CanonicalUser/ID", id)),
            },
            GranteeSpec::Email(email) => match self.engine.user_by_email(&email).await? {
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

    /// Owner and ACL of an object the caller writes into `bucket` (PutObject, CopyObject,
    /// CreateMultipartUpload), by the bucket's Object Ownership.
    pub(crate) async fn new_object_ownership(&self, ctx: &Ctx, bucket: &BucketState) -> S3Result<NewOwnership> {
        let (writer, writer_name) = ctx.owner();
        let record = &bucket.record;
        let bucket_owner = (record.owner.as_str(), record.owner_display_name.as_str());
        let canned = ctx.canned_acl;
        let to_bucket_owner = |acl| NewOwnership {
            owner: record.owner.clone(),
            owner_display_name: record.owner_display_name.clone(),
            acl,
        };
        match ownership(bucket) {
            Some(ObjectOwnership::BucketOwnerEnforced) => {
                // ACLs are off: only "the bucket owner has full control" may be asked for.
                if has_grant_headers(ctx) || canned.is_some_and(|c| c != CannedAcl::BucketOwnerFullControl) {
                    return Err(not_supported());
                }
                Ok(to_bucket_owner(None))
            }
            Some(ObjectOwnership::BucketOwnerPreferred) if canned == Some(CannedAcl::BucketOwnerFullControl) => {
                Ok(to_bucket_owner(None))
            }
            _ => {
                let acl = self.requested_acl(ctx, (&writer, &writer_name), bucket_owner).await?;
                check_block_public_acls(bucket, acl.as_deref())?;
                Ok(NewOwnership {
                    owner: writer,
                    owner_display_name: writer_name,
                    acl,
                })
            }
        }
    }

    /// CreateBucket's ACL and Object Ownership.
    pub(crate) async fn new_bucket_acl(
        &self,
        ctx: &Ctx,
        owner: Identity<'_>,
    ) -> S3Result<(Option<Vec<Grant>>, Option<ObjectOwnership>)> {
        let ownership = match ctx.header("x-amz-object-ownership") {
            None => None,
            Some(v) => Some(ObjectOwnership::from_name(v).ok_or_else(|| {
                S3Error::invalid_argument("Invalid x-amz-object-ownership header", "x-amz-object-ownership", v)
            })?),
        };
        let acl = self.requested_acl(ctx, owner, owner).await?;
        if ownership == Some(ObjectOwnership::BucketOwnerEnforced)
            && acl.as_ref().is_some_and(|g| *g != acl::private(owner))
        {
            return Err(S3Error::new(ErrorCode::InvalidBucketAclWithObjectOwnership));
        }
        Ok((acl, ownership))
    }

    pub(crate) async fn get_bucket_acl(&self, ctx: &Ctx) -> HandlerResult {
        let bucket = self.authorized_bucket(ctx).await?;
        let owner = (bucket.owner(), bucket.record.owner_display_name.as_str());
        let grants = match ownership(&bucket) {
            // With ACLs off, the ACL S3 shows is the owner's full control.
            Some(ObjectOwnership::BucketOwnerEnforced) => acl::private(owner),
            _ => bucket_grants(&bucket),
        };
        document_response(&acl_document(owner, &grants))
    }

    pub(crate) async fn put_bucket_acl(&self, ctx: &Ctx) -> HandlerResult {
        let bucket = self.authorized_bucket(ctx).await?;
        // Refused before the body is read; the engine checks again in its transaction.
        if ownership(&bucket) == Some(ObjectOwnership::BucketOwnerEnforced) {
            return Err(not_supported());
        }
        let owner = (bucket.owner(), bucket.record.owner_display_name.as_str());
        let grants = self.acl_from_request(ctx, owner, owner).await?;
        self.engine.put_config(bucket.name(), BucketAcl(grants), false).await?;
        empty_response(StatusCode::OK)
    }

    pub(crate) async fn get_object_acl(&self, ctx: &Ctx) -> HandlerResult {
        let (bucket, handle) = self.authorized_object(ctx).await?;
        let v = &handle.version;
        let bucket_owner = (bucket.owner(), bucket.record.owner_display_name.as_str());
        let (owner, grants) = match (ownership(&bucket), &v.acl) {
            (Some(ObjectOwnership::BucketOwnerEnforced), _) => (bucket_owner, acl::private(bucket_owner)),
            (_, None) => {
                let owner = (v.owner.as_str(), v.owner_display_name.as_str());
                (owner, acl::private(owner))
            }
            (_, Some(g)) => ((v.owner.as_str(), v.owner_display_name.as_str()), g.clone()),
        };
        let mut resp = document_response(&acl_document(owner, &grants))?;
        crate::set_version_header(&mut resp, v.version_id.as_deref());
        Ok(resp)
    }

    pub(crate) async fn put_object_acl(&self, ctx: &Ctx) -> HandlerResult {
        let (bucket, handle) = self.authorized_object(ctx).await?;
        let v = &handle.version;
        if ownership(&bucket) == Some(ObjectOwnership::BucketOwnerEnforced) {
            return Err(not_supported());
        }
        let owner = (v.owner.as_str(), v.owner_display_name.as_str());
        let bucket_owner = (bucket.owner(), bucket.record.owner_display_name.as_str());
        let grants = self.acl_from_request(ctx, owner, bucket_owner).await?;
        check_block_public_acls(&bucket, Some(&grants))?;
        self.engine.set_object_acl(bucket.name(), v, grants).await?;
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
        let from_headers = self.requested_acl(ctx, owner, bucket_owner).await?;
        let body = read_small_body(ctx, CONFIG_BODY_LIMIT).await?;
        let has_body = !body.iter().all(u8::is_ascii_whitespace);
        match (from_headers, has_body) {
            (Some(_), true) => Err(S3Error::new(ErrorCode::UnexpectedContent)),
            (Some(grants), false) => Ok(grants),
            (None, false) => Err(S3Error::new(ErrorCode::MissingSecurityHeader)
                .msg("Your request was missing a required header")
                .with("MissingHeaderName", "x-amz-acl")),
            (None, true) => {
                let doc = AccessControlPolicy::from_xml(&body)?;
                if doc.owner_id != owner.0 {
                    // The owner cannot be changed through the ACL.
                    return Err(S3Error::new(ErrorCode::AccessDenied));
                }
                let mut grants = Vec::with_capacity(doc.grants.len());
                for g in doc.grants {
                    let spec = match g.grantee {
                        AclGrantee::CanonicalUser { id, .. } => GranteeSpec::Id(id),
                        AclGrantee::Email(email) => GranteeSpec::Email(email),
                        AclGrantee::Group(uri) => GranteeSpec::Uri(uri),
                    };
                    grants.push(Grant {
                        grantee: self.resolve_grantee(spec).await?,
                        permission: g.permission,
                    });
                }
                Ok(grants)
            }
        }
    }
}

/// The AccessControlPolicy document of an ACL.
pub(crate) fn acl_document(owner: Identity<'_>, grants: &[Grant]) -> AccessControlPolicy {
    AccessControlPolicy {
        owner_id: owner.0.to_owned(),
        owner_display_name: Some(owner.1.to_owned()),
        grants: grants
            .iter()
            .map(|g| AclGrant {
                grantee: match &g.grantee {
                    Grantee::User { id, display_name } => AclGrantee::CanonicalUser {
                        id: id.clone(),
                        display_name: Some(display_name.clone()),
                    },
                    Grantee::Group(group) => AclGrantee::Group(group.uri().to_owned()),
                },
                permission: g.permission,
            })
            .collect(),
    }
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
    fn acl_documents_of_grants() {
        let grants = vec![
            Grant::user("id1", "alice", Permission::FullControl),
            Grant::group(Group::AllUsers, Permission::Read),
        ];
        let doc = acl_document(("id1", "alice"), &grants).to_xml();
        assert!(doc.contains(
            "<Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"CanonicalUser\"><ID>id1</ID>"
        ));
        assert!(doc.contains(
            "<URI>http://acs.amazonaws.com/groups/global/AllUsers</URI></Grantee><Permission>READ</Permission>"
        ));
        // Groups come first.
        assert!(
            doc.find("AllUsers").unwrap()
                < doc
                    .find("<ID>id1</ID><DisplayName>alice</DisplayName></Grantee>")
                    .unwrap()
        );
    }
}
