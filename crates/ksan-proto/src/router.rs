//! Which operation a request names: Host/path -> (bucket, key); method + sub-resource query +
//! headers -> [`Endpoint`].

use http::{HeaderMap, Method};
use ksan_types::{ErrorCode, S3Error};
use percent_encoding::percent_decode_str;

use crate::query::Query;

macro_rules! endpoints {
    ($($name:ident),* $(,)?) => {
        /// One variant per S3 operation we route.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Endpoint { $($name,)* }

        impl Endpoint {
            /// The operation's name as in the S3 API reference.
            pub fn name(self) -> &'static str {
                match self { $(Endpoint::$name => stringify!($name),)* }
            }
        }
    };
}

endpoints! {
    ListBuckets,
    // bucket
    CreateBucket, DeleteBucket, HeadBucket, GetBucketLocation,
    ListObjects, ListObjectsV2, ListObjectVersions, ListMultipartUploads,
    GetBucketAcl, PutBucketAcl,
    GetBucketCors, PutBucketCors, DeleteBucketCors,
    GetBucketEncryption, PutBucketEncryption, DeleteBucketEncryption,
    GetBucketLifecycleConfiguration, PutBucketLifecycleConfiguration, DeleteBucketLifecycle,
    GetBucketPolicy, PutBucketPolicy, DeleteBucketPolicy, GetBucketPolicyStatus,
    GetBucketReplication, PutBucketReplication, DeleteBucketReplication,
    GetBucketTagging, PutBucketTagging, DeleteBucketTagging,
    GetBucketVersioning, PutBucketVersioning,
    GetBucketWebsite, PutBucketWebsite, DeleteBucketWebsite,
    GetObjectLockConfiguration, PutObjectLockConfiguration,
    GetPublicAccessBlock, PutPublicAccessBlock, DeletePublicAccessBlock,
    GetBucketOwnershipControls, PutBucketOwnershipControls, DeleteBucketOwnershipControls,
    DeleteObjects, PostObject,
    // object
    GetObject, HeadObject, PutObject, CopyObject, DeleteObject,
    GetObjectAcl, PutObjectAcl,
    GetObjectTagging, PutObjectTagging, DeleteObjectTagging,
    GetObjectRetention, PutObjectRetention, GetObjectLegalHold, PutObjectLegalHold,
    GetObjectAttributes,
    CreateMultipartUpload, UploadPart, UploadPartCopy, CompleteMultipartUpload,
    AbortMultipartUpload, ListParts,
    // either
    Options,
    // a sub-resource S3 has but ksan does not serve (logging, notification, ...)
    Unsupported,
}

/// A routed request.
#[derive(Debug, Clone)]
pub struct Route {
    pub endpoint: Endpoint,
    pub bucket: Option<String>,
    pub key: Option<String>,
    /// The bucket came from the Host header (virtual-host style).
    pub virtual_host: bool,
    pub query: Query,
}

/// Split Host and path into bucket and key. `domains` are the configured virtual-host base
/// domains (e.g. `s3.example.com`): `b.s3.example.com` names bucket `b`.
pub fn locate(
    host: Option<&str>,
    raw_path: &str,
    domains: &[String],
) -> Result<(Option<String>, Option<String>, bool), S3Error> {
    let host = host.map(strip_port).unwrap_or("");
    let vhost_bucket = domains.iter().find_map(|d| {
        let d = d.trim_start_matches('.');
        host.strip_suffix(d)
            .and_then(|rest| rest.strip_suffix('.'))
            .filter(|b| !b.is_empty())
    });
    let path = percent_decode_str(raw_path)
        .decode_utf8()
        .map_err(|_| S3Error::new(ErrorCode::InvalidURI))?;
    let path = path.strip_prefix('/').unwrap_or(&path);
    if let Some(bucket) = vhost_bucket {
        let key = (!path.is_empty()).then(|| path.to_owned());
        return Ok((Some(bucket.to_ascii_lowercase()), key, true));
    }
    if path.is_empty() {
        return Ok((None, None, false));
    }
    match path.split_once('/') {
        Some((bucket, key)) => {
            let key = (!key.is_empty()).then(|| key.to_owned());
            Ok((Some(bucket.to_owned()), key, false))
        }
        None => Ok((Some(path.to_owned()), None, false)),
    }
}

fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        // IPv6 literal: [::1]:8080
        return host.split_once(']').map(|(h, _)| &h[1..]).unwrap_or(host);
    }
    host.rsplit_once(':')
        .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
        .map(|(h, _)| h)
        .unwrap_or(host)
}

/// Route a request.
pub fn route(
    method: &Method,
    host: Option<&str>,
    raw_path: &str,
    raw_query: Option<&str>,
    headers: &HeaderMap,
    domains: &[String],
) -> Result<Route, S3Error> {
    let (bucket, key, virtual_host) = locate(host, raw_path, domains)?;
    let query = Query::parse(raw_query);
    let endpoint = match (&bucket, &key) {
        (None, _) => service_endpoint(method)?,
        (Some(_), None) => bucket_endpoint(method, &query)?,
        (Some(_), Some(_)) => object_endpoint(method, &query, headers)?,
    };
    Ok(Route {
        endpoint,
        bucket,
        key,
        virtual_host,
        query,
    })
}

fn method_not_allowed() -> S3Error {
    S3Error::new(ErrorCode::MethodNotAllowed)
}

fn service_endpoint(method: &Method) -> Result<Endpoint, S3Error> {
    match *method {
        Method::GET => Ok(Endpoint::ListBuckets),
        Method::OPTIONS => Ok(Endpoint::Options),
        _ => Err(method_not_allowed()),
    }
}

/// Sub-resources S3 defines that we do not serve; they must not fall through to a plain
/// bucket or object operation (a GET ?logging is not a ListObjects).
const UNSUPPORTED_SUBRESOURCES: &[&str] = &[
    "logging",
    "notification",
    "requestPayment",
    "accelerate",
    "analytics",
    "inventory",
    "metrics",
    "intelligent-tiering",
    "torrent",
    "restore",
    "select",
    "metadataTable",
];

fn unsupported(query: &Query) -> bool {
    UNSUPPORTED_SUBRESOURCES.iter().any(|s| query.has(s))
}

fn bucket_endpoint(method: &Method, q: &Query) -> Result<Endpoint, S3Error> {
    use Endpoint::*;
    let has = |s: &str| q.has(s);
    let e = match *method {
        Method::GET => {
            if has("acl") {
                GetBucketAcl
            } else if has("cors") {
                GetBucketCors
            } else if has("encryption") {
                GetBucketEncryption
            } else if has("lifecycle") {
                GetBucketLifecycleConfiguration
            } else if has("location") {
                GetBucketLocation
            } else if has("policyStatus") {
                GetBucketPolicyStatus
            } else if has("policy") {
                GetBucketPolicy
            } else if has("replication") {
                GetBucketReplication
            } else if has("tagging") {
                GetBucketTagging
            } else if has("versioning") {
                GetBucketVersioning
            } else if has("website") {
                GetBucketWebsite
            } else if has("object-lock") {
                GetObjectLockConfiguration
            } else if has("publicAccessBlock") {
                GetPublicAccessBlock
            } else if has("ownershipControls") {
                GetBucketOwnershipControls
            } else if has("uploads") {
                ListMultipartUploads
            } else if has("versions") {
                ListObjectVersions
            } else if unsupported(q) {
                Unsupported
            } else if q.get("list-type") == Some("2") {
                ListObjectsV2
            } else {
                ListObjects
            }
        }
        Method::HEAD => HeadBucket,
        Method::PUT => {
            if has("acl") {
                PutBucketAcl
            } else if has("cors") {
                PutBucketCors
            } else if has("encryption") {
                PutBucketEncryption
            } else if has("lifecycle") {
                PutBucketLifecycleConfiguration
            } else if has("policy") {
                PutBucketPolicy
            } else if has("replication") {
                PutBucketReplication
            } else if has("tagging") {
                PutBucketTagging
            } else if has("versioning") {
                PutBucketVersioning
            } else if has("website") {
                PutBucketWebsite
            } else if has("object-lock") {
                PutObjectLockConfiguration
            } else if has("publicAccessBlock") {
                PutPublicAccessBlock
            } else if has("ownershipControls") {
                PutBucketOwnershipControls
            } else if unsupported(q) {
                Unsupported
            } else {
                CreateBucket
            }
        }
        Method::DELETE => {
            if has("cors") {
                DeleteBucketCors
            } else if has("encryption") {
                DeleteBucketEncryption
            } else if has("lifecycle") {
                DeleteBucketLifecycle
            } else if has("policy") {
                DeleteBucketPolicy
            } else if has("replication") {
                DeleteBucketReplication
            } else if has("tagging") {
                DeleteBucketTagging
            } else if has("website") {
                DeleteBucketWebsite
            } else if has("publicAccessBlock") {
                DeletePublicAccessBlock
            } else if has("ownershipControls") {
                DeleteBucketOwnershipControls
            } else if unsupported(q) {
                Unsupported
            } else {
                DeleteBucket
            }
        }
        Method::POST => {
            if has("delete") {
                DeleteObjects
            } else if unsupported(q) {
                Unsupported
            } else {
                PostObject
            }
        }
        Method::OPTIONS => Options,
        _ => return Err(method_not_allowed()),
    };
    Ok(e)
}

fn object_endpoint(method: &Method, q: &Query, headers: &HeaderMap) -> Result<Endpoint, S3Error> {
    use Endpoint::*;
    let has = |s: &str| q.has(s);
    let copy = headers.contains_key("x-amz-copy-source");
    let e = match *method {
        Method::GET => {
            if has("acl") {
                GetObjectAcl
            } else if has("tagging") {
                GetObjectTagging
            } else if has("retention") {
                GetObjectRetention
            } else if has("legal-hold") {
                GetObjectLegalHold
            } else if has("attributes") {
                GetObjectAttributes
            } else if has("uploadId") {
                ListParts
            } else if unsupported(q) {
                Unsupported
            } else {
                GetObject
            }
        }
        Method::HEAD => HeadObject,
        Method::PUT => {
            if has("acl") {
                PutObjectAcl
            } else if has("tagging") {
                PutObjectTagging
            } else if has("retention") {
                PutObjectRetention
            } else if has("legal-hold") {
                PutObjectLegalHold
            } else if has("uploadId") || has("partNumber") {
                if copy { UploadPartCopy } else { UploadPart }
            } else if unsupported(q) {
                Unsupported
            } else if copy {
                CopyObject
            } else {
                PutObject
            }
        }
        Method::DELETE => {
            if has("tagging") {
                DeleteObjectTagging
            } else if has("uploadId") {
                AbortMultipartUpload
            } else {
                DeleteObject
            }
        }
        Method::POST => {
            if has("uploads") {
                CreateMultipartUpload
            } else if has("uploadId") {
                CompleteMultipartUpload
            } else {
                Unsupported
            }
        }
        Method::OPTIONS => Options,
        _ => return Err(method_not_allowed()),
    };
    Ok(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(method: Method, host: &str, path_and_query: &str, headers: &[(&str, &str)]) -> Route {
        let (path, query) = match path_and_query.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (path_and_query, None),
        };
        let mut h = HeaderMap::new();
        for (n, v) in headers {
            h.insert(http::HeaderName::from_bytes(n.as_bytes()).unwrap(), v.parse().unwrap());
        }
        route(&method, Some(host), path, query, &h, &["s3.local".to_owned()]).unwrap()
    }

    #[test]
    fn path_style() {
        let x = r(Method::GET, "localhost:8080", "/", &[]);
        assert_eq!(x.endpoint, Endpoint::ListBuckets);
        let x = r(Method::PUT, "localhost:8080", "/b", &[]);
        assert_eq!(x.endpoint, Endpoint::CreateBucket);
        assert_eq!(x.bucket.as_deref(), Some("b"));
        let x = r(Method::GET, "localhost", "/b/a%20b/c/", &[]);
        assert_eq!(x.endpoint, Endpoint::GetObject);
        assert_eq!(x.key.as_deref(), Some("a b/c/"));
        let x = r(Method::GET, "localhost", "/b/?list-type=2", &[]);
        assert_eq!(x.endpoint, Endpoint::ListObjectsV2);
        assert_eq!(x.key, None);
    }

    #[test]
    fn virtual_host_style() {
        let x = r(Method::GET, "bkt.s3.local:9000", "/k", &[]);
        assert_eq!(x.bucket.as_deref(), Some("bkt"));
        assert_eq!(x.key.as_deref(), Some("k"));
        assert!(x.virtual_host);
        let x = r(Method::GET, "s3.local", "/bkt", &[]);
        assert_eq!(x.bucket.as_deref(), Some("bkt"));
        assert!(!x.virtual_host);
        let x = r(Method::GET, "bkt.s3.local", "/", &[]);
        assert_eq!(x.endpoint, Endpoint::ListObjects);
    }

    #[test]
    fn sub_resources() {
        assert_eq!(
            r(Method::PUT, "h", "/b/k", &[("x-amz-copy-source", "/a/b")]).endpoint,
            Endpoint::CopyObject
        );
        assert_eq!(
            r(
                Method::PUT,
                "h",
                "/b/k?partNumber=1&uploadId=x",
                &[("x-amz-copy-source", "/a/b")]
            )
            .endpoint,
            Endpoint::UploadPartCopy
        );
        assert_eq!(r(Method::POST, "h", "/b?delete", &[]).endpoint, Endpoint::DeleteObjects);
        assert_eq!(
            r(Method::GET, "h", "/b?policyStatus", &[]).endpoint,
            Endpoint::GetBucketPolicyStatus
        );
        assert_eq!(r(Method::GET, "h", "/b?logging", &[]).endpoint, Endpoint::Unsupported);
        assert_eq!(
            r(Method::DELETE, "h", "/b/k?uploadId=1", &[]).endpoint,
            Endpoint::AbortMultipartUpload
        );
    }

    #[test]
    fn ports_are_stripped() {
        assert_eq!(strip_port("a.b:80"), "a.b");
        assert_eq!(strip_port("[::1]:80"), "::1");
        assert_eq!(strip_port("a.b"), "a.b");
    }
}
