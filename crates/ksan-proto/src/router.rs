//! Which operation a request names: Host/path -> (bucket, key) ([`locate`]); method +
//! sub-resource query + headers -> [`Endpoint`] ([`route`]), with the operation's query
//! parameters parsed and validated once, here, with S3's errors for bad values.

use http::{HeaderMap, Method};
use ksan_types::{ErrorCode, S3Action, S3Error, S3Result, VersionId};
use percent_encoding::percent_decode_str;

use crate::query::Query;

/// Most entries a listing page holds, whatever `max-keys` asks for.
pub const MAX_LIST_KEYS: usize = 1000;
/// Highest part number of a multipart upload.
pub const MAX_PART_NUMBER: u32 = 10_000;

/// Parameters the four listings share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListParams {
    /// `prefix`, as given (None when absent).
    pub prefix: Option<String>,
    /// `delimiter` (None when absent or empty).
    pub delimiter: Option<String>,
    /// `max-keys` / `max-uploads` / `max-parts`, capped at [`MAX_LIST_KEYS`].
    pub max: usize,
    /// The raw value of the max parameter (the `s3:max-keys` condition key compares it).
    pub max_raw: Option<String>,
    /// `encoding-type=url`.
    pub url_encoding: bool,
}

impl ListParams {
    /// The prefix, empty when none was given.
    pub fn prefix(&self) -> &str {
        self.prefix.as_deref().unwrap_or_default()
    }
}

/// What GetObject and HeadObject read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObjectRead {
    /// `versionId`.
    pub version: Option<VersionId>,
    /// `partNumber` (1..=10000).
    pub part_number: Option<u32>,
    /// `response-*` parameters: (header to set, value).
    pub overrides: Vec<(http::HeaderName, String)>,
}

/// An upload and one of its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartRef {
    /// `uploadId`.
    pub upload_id: String,
    /// `partNumber` (1..=10000).
    pub part_number: u32,
}

macro_rules! endpoints {
    ($($name:ident $({ $($field:ident : $fty:ty),* $(,)? })? $(($tuple:ty))?),* $(,)?) => {
        /// One variant per S3 operation, with its parsed query parameters.
        #[derive(Debug, Clone, PartialEq, Eq)]
        #[allow(missing_docs)]
        pub enum Endpoint { $($name $({ $($field: $fty),* })? $(($tuple))?,)* }

        impl Endpoint {
            /// The operation's name as in the S3 API reference.
            pub fn name(&self) -> &'static str {
                match self { $(Endpoint::$name { .. } => stringify!($name),)* }
            }
        }
    };
}

endpoints! {
    ListBuckets { prefix: Option<String>, max_buckets: Option<usize>, continuation_token: Option<String> },
    // bucket
    CreateBucket, DeleteBucket, HeadBucket, GetBucketLocation,
    ListObjects { list: ListParams, marker: Option<String> },
    ListObjectsV2 { list: ListParams, continuation_token: Option<String>, start_after: Option<String>, fetch_owner: bool },
    ListObjectVersions { list: ListParams, key_marker: Option<String>, version_id_marker: Option<String> },
    ListMultipartUploads { list: ListParams, key_marker: Option<String>, upload_id_marker: Option<String> },
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
    GetObject(ObjectRead), HeadObject(ObjectRead),
    PutObject, CopyObject,
    DeleteObject { version: Option<VersionId> },
    GetObjectAcl { version: Option<VersionId> }, PutObjectAcl { version: Option<VersionId> },
    GetObjectTagging { version: Option<VersionId> }, PutObjectTagging { version: Option<VersionId> },
    DeleteObjectTagging { version: Option<VersionId> },
    GetObjectRetention { version: Option<VersionId> }, PutObjectRetention { version: Option<VersionId> },
    GetObjectLegalHold { version: Option<VersionId> }, PutObjectLegalHold { version: Option<VersionId> },
    GetObjectAttributes { version: Option<VersionId>, part_number_marker: u32, max_parts: usize },
    CreateMultipartUpload,
    UploadPart(PartRef), UploadPartCopy(PartRef),
    CompleteMultipartUpload { upload_id: String },
    AbortMultipartUpload { upload_id: String },
    ListParts { upload_id: String, part_number_marker: u32, max_parts: usize },
    // either
    Options,
    // a sub-resource S3 has but ksan does not serve (logging, notification, ...)
    Unsupported { sub_resource: &'static str },
}

impl Endpoint {
    /// The version the request names (`versionId`), for the operations that take one.
    pub fn version(&self) -> Option<VersionId> {
        use Endpoint::*;
        match self {
            GetObject(r) | HeadObject(r) => r.version,
            DeleteObject { version }
            | GetObjectAcl { version }
            | PutObjectAcl { version }
            | GetObjectTagging { version }
            | PutObjectTagging { version }
            | DeleteObjectTagging { version }
            | GetObjectRetention { version }
            | PutObjectRetention { version }
            | GetObjectLegalHold { version }
            | PutObjectLegalHold { version }
            | GetObjectAttributes { version, .. } => *version,
            _ => None,
        }
    }

    /// The listing parameters, for the listings.
    pub fn list_params(&self) -> Option<&ListParams> {
        use Endpoint::*;
        match self {
            ListObjects { list, .. }
            | ListObjectsV2 { list, .. }
            | ListObjectVersions { list, .. }
            | ListMultipartUploads { list, .. } => Some(list),
            _ => None,
        }
    }

    /// The S3 action the request performs, as bucket policies name it. A request naming a
    /// version is authorized as the `...Version...` action, as S3 does.
    pub fn action(&self) -> S3Action {
        use Endpoint::*;
        use S3Action as A;
        let versioned = self.version().is_some();
        match self {
            ListBuckets { .. } => A::ListAllMyBuckets,
            CreateBucket => A::CreateBucket,
            DeleteBucket => A::DeleteBucket,
            HeadBucket | ListObjects { .. } | ListObjectsV2 { .. } => A::ListBucket,
            ListObjectVersions { .. } => A::ListBucketVersions,
            ListMultipartUploads { .. } => A::ListBucketMultipartUploads,
            GetBucketLocation => A::GetBucketLocation,
            GetBucketAcl => A::GetBucketAcl,
            PutBucketAcl => A::PutBucketAcl,
            GetBucketCors => A::GetBucketCORS,
            PutBucketCors | DeleteBucketCors => A::PutBucketCORS,
            GetBucketEncryption => A::GetEncryptionConfiguration,
            PutBucketEncryption | DeleteBucketEncryption => A::PutEncryptionConfiguration,
            GetBucketLifecycleConfiguration => A::GetLifecycleConfiguration,
            PutBucketLifecycleConfiguration | DeleteBucketLifecycle => A::PutLifecycleConfiguration,
            GetBucketPolicy => A::GetBucketPolicy,
            PutBucketPolicy => A::PutBucketPolicy,
            DeleteBucketPolicy => A::DeleteBucketPolicy,
            GetBucketPolicyStatus => A::GetBucketPolicyStatus,
            GetBucketReplication => A::GetReplicationConfiguration,
            PutBucketReplication | DeleteBucketReplication => A::PutReplicationConfiguration,
            GetBucketTagging => A::GetBucketTagging,
            PutBucketTagging | DeleteBucketTagging => A::PutBucketTagging,
            GetBucketVersioning => A::GetBucketVersioning,
            PutBucketVersioning => A::PutBucketVersioning,
            GetBucketWebsite => A::GetBucketWebsite,
            PutBucketWebsite => A::PutBucketWebsite,
            DeleteBucketWebsite => A::DeleteBucketWebsite,
            GetObjectLockConfiguration => A::GetBucketObjectLockConfiguration,
            PutObjectLockConfiguration => A::PutBucketObjectLockConfiguration,
            GetPublicAccessBlock => A::GetBucketPublicAccessBlock,
            PutPublicAccessBlock | DeletePublicAccessBlock => A::PutBucketPublicAccessBlock,
            GetBucketOwnershipControls => A::GetBucketOwnershipControls,
            PutBucketOwnershipControls | DeleteBucketOwnershipControls => A::PutBucketOwnershipControls,
            DeleteObject { .. } if versioned => A::DeleteObjectVersion,
            DeleteObjects | DeleteObject { .. } => A::DeleteObject,
            PostObject
            | PutObject
            | CopyObject
            | CreateMultipartUpload
            | UploadPart(_)
            | UploadPartCopy(_)
            | CompleteMultipartUpload { .. } => A::PutObject,
            AbortMultipartUpload { .. } => A::AbortMultipartUpload,
            ListParts { .. } => A::ListMultipartUploadParts,
            GetObject(_) | HeadObject(_) if versioned => A::GetObjectVersion,
            GetObject(_) | HeadObject(_) => A::GetObject,
            GetObjectAttributes { .. } if versioned => A::GetObjectVersionAttributes,
            GetObjectAttributes { .. } => A::GetObjectAttributes,
            GetObjectAcl { .. } if versioned => A::GetObjectVersionAcl,
            GetObjectAcl { .. } => A::GetObjectAcl,
            PutObjectAcl { .. } if versioned => A::PutObjectVersionAcl,
            PutObjectAcl { .. } => A::PutObjectAcl,
            GetObjectTagging { .. } if versioned => A::GetObjectVersionTagging,
            GetObjectTagging { .. } => A::GetObjectTagging,
            PutObjectTagging { .. } if versioned => A::PutObjectVersionTagging,
            PutObjectTagging { .. } => A::PutObjectTagging,
            DeleteObjectTagging { .. } if versioned => A::DeleteObjectVersionTagging,
            DeleteObjectTagging { .. } => A::DeleteObjectTagging,
            GetObjectRetention { .. } => A::GetObjectRetention,
            PutObjectRetention { .. } => A::PutObjectRetention,
            GetObjectLegalHold { .. } => A::GetObjectLegalHold,
            PutObjectLegalHold { .. } => A::PutObjectLegalHold,
            // Not served: these actions gate only the NotImplemented answer.
            Options => A::GetBucketCORS,
            Unsupported { sub_resource } => match *sub_resource {
                "torrent" => A::GetObjectTorrent,
                "restore" => A::RestoreObject,
                "select" => A::RestoreObject,
                "notification" => A::GetBucketNotification,
                "requestPayment" => A::GetBucketRequestPayment,
                "accelerate" => A::GetAccelerateConfiguration,
                "analytics" => A::GetAnalyticsConfiguration,
                "inventory" => A::GetInventoryConfiguration,
                "metrics" => A::GetMetricsConfiguration,
                "intelligent-tiering" => A::GetIntelligentTieringConfiguration,
                "metadataTable" => A::GetBucketMetadataTableConfiguration,
                _ => A::GetBucketLogging,
            },
        }
    }
}

/// A routed request.
#[derive(Debug, Clone)]
pub struct Route {
    /// The operation and its parameters.
    pub endpoint: Endpoint,
    /// The bucket, if the request names one.
    pub bucket: Option<String>,
    /// The object key, if the request names one.
    pub key: Option<String>,
    /// The bucket came from the Host header (virtual-host style).
    pub virtual_host: bool,
}

/// Where a request points: bucket and key, and whether the bucket came from the Host header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The bucket, if any.
    pub bucket: Option<String>,
    /// The key, if any.
    pub key: Option<String>,
    /// Virtual-host style (`bucket.domain`).
    pub virtual_host: bool,
}

/// Split Host and path into bucket and key. `domains` are the configured virtual-host base
/// domains (e.g. `s3.example.com`): `b.s3.example.com` names bucket `b`.
pub fn locate(host: Option<&str>, raw_path: &str, domains: &[String]) -> Result<Location, S3Error> {
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
        return Ok(Location {
            bucket: Some(bucket.to_ascii_lowercase()),
            key,
            virtual_host: true,
        });
    }
    if path.is_empty() {
        return Ok(Location {
            bucket: None,
            key: None,
            virtual_host: false,
        });
    }
    let (bucket, key) = match path.split_once('/') {
        Some((bucket, key)) => (bucket.to_owned(), (!key.is_empty()).then(|| key.to_owned())),
        None => (path.to_owned(), None),
    };
    Ok(Location {
        bucket: Some(bucket),
        key,
        virtual_host: false,
    })
}

/// A request's Host as the website endpoint reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebsiteHost {
    /// `bucket.WEBSITE-DOMAIN`.
    Subdomain(String),
    /// Some other name that is no S3 endpoint (a CNAME to a bucket of that name), or any host
    /// on a website-only listener.
    Cname(String),
}

/// Which bucket a Host names on the website endpoint: `b.DOMAIN` for one of `website_domains`
/// names `b`; a host that is neither an IP address, nor a bare name, nor one of the S3
/// `domains` (or below one), nor a website domain itself may be a CNAME.
pub fn website_host(host: Option<&str>, website_domains: &[String], domains: &[String]) -> Option<WebsiteHost> {
    let host = strip_port(host?).trim_end_matches('.').to_ascii_lowercase();
    let below = |d: &String| {
        let d = d.trim_start_matches('.');
        host.strip_suffix(d)
            .and_then(|rest| rest.strip_suffix('.'))
            .filter(|b| !b.is_empty())
            .map(str::to_owned)
    };
    if let Some(bucket) = website_domains.iter().find_map(below) {
        return Some(WebsiteHost::Subdomain(bucket));
    }
    let is_endpoint = website_domains
        .iter()
        .chain(domains)
        .any(|d| d.trim_start_matches('.') == host)
        || domains.iter().any(|d| below(d).is_some());
    if is_endpoint || host.parse::<std::net::IpAddr>().is_ok() || !host.contains('.') {
        return None;
    }
    Some(WebsiteHost::Cname(host))
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

/// Route a located request: its operation and parameters.
pub fn route(
    method: &Method,
    location: Location,
    raw_query: Option<&str>,
    headers: &HeaderMap,
) -> Result<Route, S3Error> {
    let q = Query::parse(raw_query);
    let endpoint = match (&location.bucket, &location.key) {
        (None, _) => service_endpoint(method, &q)?,
        (Some(_), None) => bucket_endpoint(method, &q)?,
        (Some(_), Some(_)) => object_endpoint(method, &q, headers)?,
    };
    Ok(Route {
        endpoint,
        bucket: location.bucket,
        key: location.key,
        virtual_host: location.virtual_host,
    })
}

fn method_not_allowed() -> S3Error {
    S3Error::new(ErrorCode::MethodNotAllowed)
}

fn service_endpoint(method: &Method, q: &Query) -> S3Result<Endpoint> {
    match *method {
        Method::GET => {
            let max_buckets = match q.get("max-buckets") {
                None => None,
                Some(m) => match m.parse::<usize>() {
                    Ok(n) if (1..=10_000).contains(&n) => Some(n),
                    _ => return Err(S3Error::invalid_argument("Invalid max-buckets", "max-buckets", m)),
                },
            };
            Ok(Endpoint::ListBuckets {
                prefix: q.get("prefix").map(str::to_owned),
                max_buckets,
                continuation_token: non_empty(q, "continuation-token"),
            })
        }
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

fn unsupported(q: &Query) -> Option<Endpoint> {
    UNSUPPORTED_SUBRESOURCES
        .iter()
        .find(|s| q.has(s))
        .map(|s| Endpoint::Unsupported { sub_resource: s })
}

/// A parameter's value, None when absent or empty.
fn non_empty(q: &Query, name: &str) -> Option<String> {
    q.get(name).filter(|v| !v.is_empty()).map(str::to_owned)
}

/// `max-keys` and its kin: a non-negative integer, capped at [`MAX_LIST_KEYS`].
fn max_keys(q: &Query, name: &'static str) -> S3Result<usize> {
    match q.get(name) {
        None => Ok(MAX_LIST_KEYS),
        Some(v) => {
            let n: i64 = v.trim().parse().map_err(|_| {
                S3Error::invalid_argument("Provided max-keys not an integer or within integer range", name, v)
            })?;
            if n < 0 {
                return Err(S3Error::invalid_argument(
                    "Argument max-keys must be an integer between 0 and 2147483647",
                    name,
                    v,
                ));
            }
            Ok((n as usize).min(MAX_LIST_KEYS))
        }
    }
}

fn list_params(q: &Query, max_name: &'static str) -> S3Result<ListParams> {
    let url_encoding = match q.get("encoding-type") {
        None => false,
        Some(t) if t.eq_ignore_ascii_case("url") => true,
        Some(t) => {
            return Err(S3Error::invalid_argument(
                "Invalid Encoding Method specified in Request",
                "encoding-type",
                t,
            ));
        }
    };
    Ok(ListParams {
        prefix: q.get("prefix").map(str::to_owned),
        delimiter: non_empty(q, "delimiter"),
        max: max_keys(q, max_name)?,
        max_raw: q.get(max_name).map(str::to_owned),
        url_encoding,
    })
}

fn version(q: &Query) -> S3Result<Option<VersionId>> {
    q.get("versionId").map(VersionId::parse).transpose()
}

fn upload_id(q: &Query) -> S3Result<String> {
    non_empty(q, "uploadId")
        .ok_or_else(|| S3Error::invalid_argument("This operation needs an upload id", "uploadId", ""))
}

fn part_number(raw: &str) -> S3Result<u32> {
    match raw.parse::<u32>() {
        Ok(n) if (1..=MAX_PART_NUMBER).contains(&n) => Ok(n),
        _ => Err(S3Error::invalid_argument(
            "Part number must be an integer between 1 and 10000, inclusive",
            "partNumber",
            raw,
        )),
    }
}

fn part_number_marker(q: &Query) -> S3Result<u32> {
    match q.get("part-number-marker").filter(|m| !m.is_empty()) {
        None => Ok(0),
        Some(m) => m
            .parse::<u32>()
            .map_err(|_| S3Error::invalid_argument("Invalid part number marker", "part-number-marker", m)),
    }
}

/// A header holding a non-negative integer (InvalidArgument otherwise).
fn header_number(headers: &HeaderMap, name: &'static str) -> S3Result<Option<u32>> {
    let Some(v) = headers.get(name) else {
        return Ok(None);
    };
    let text = v.to_str().unwrap_or("");
    text.trim()
        .parse::<u32>()
        .map(Some)
        .map_err(|_| S3Error::invalid_argument(format!("Invalid {name} header"), name, text))
}

/// `response-*` parameters that override headers of a GET.
const RESPONSE_OVERRIDES: [(&str, http::HeaderName); 6] = [
    ("response-content-type", http::header::CONTENT_TYPE),
    ("response-content-language", http::header::CONTENT_LANGUAGE),
    ("response-expires", http::header::EXPIRES),
    ("response-cache-control", http::header::CACHE_CONTROL),
    ("response-content-disposition", http::header::CONTENT_DISPOSITION),
    ("response-content-encoding", http::header::CONTENT_ENCODING),
];

fn object_read(q: &Query) -> S3Result<ObjectRead> {
    Ok(ObjectRead {
        version: version(q)?,
        part_number: q.get("partNumber").map(part_number).transpose()?,
        overrides: RESPONSE_OVERRIDES
            .iter()
            .filter_map(|(param, header)| q.get(param).map(|v| (header.clone(), v.to_owned())))
            .collect(),
    })
}

fn bucket_endpoint(method: &Method, q: &Query) -> S3Result<Endpoint> {
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
                ListMultipartUploads {
                    list: list_params(q, "max-uploads")?,
                    key_marker: non_empty(q, "key-marker"),
                    upload_id_marker: non_empty(q, "upload-id-marker"),
                }
            } else if has("versions") {
                let key_marker = non_empty(q, "key-marker");
                let version_id_marker = non_empty(q, "version-id-marker");
                if version_id_marker.is_some() && key_marker.is_none() {
                    return Err(S3Error::invalid_argument(
                        "A version-id marker cannot be specified without a key marker.",
                        "version-id-marker",
                        version_id_marker.unwrap_or_default(),
                    ));
                }
                ListObjectVersions {
                    list: list_params(q, "max-keys")?,
                    key_marker,
                    version_id_marker,
                }
            } else if let Some(u) = unsupported(q) {
                u
            } else if q.get("list-type") == Some("2") {
                ListObjectsV2 {
                    list: list_params(q, "max-keys")?,
                    continuation_token: q.get("continuation-token").map(str::to_owned),
                    start_after: q.get("start-after").map(str::to_owned),
                    fetch_owner: q.get("fetch-owner") == Some("true"),
                }
            } else {
                ListObjects {
                    list: list_params(q, "max-keys")?,
                    marker: q.get("marker").map(str::to_owned),
                }
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
            } else if let Some(u) = unsupported(q) {
                u
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
            } else if let Some(u) = unsupported(q) {
                u
            } else {
                DeleteBucket
            }
        }
        Method::POST => {
            if has("delete") {
                DeleteObjects
            } else if let Some(u) = unsupported(q) {
                u
            } else {
                PostObject
            }
        }
        Method::OPTIONS => Options,
        _ => return Err(method_not_allowed()),
    };
    Ok(e)
}

fn object_endpoint(method: &Method, q: &Query, headers: &HeaderMap) -> S3Result<Endpoint> {
    use Endpoint::*;
    let has = |s: &str| q.has(s);
    let copy = headers.contains_key("x-amz-copy-source");
    let e = match *method {
        Method::GET => {
            if has("acl") {
                GetObjectAcl { version: version(q)? }
            } else if has("tagging") {
                GetObjectTagging { version: version(q)? }
            } else if has("retention") {
                GetObjectRetention { version: version(q)? }
            } else if has("legal-hold") {
                GetObjectLegalHold { version: version(q)? }
            } else if has("attributes") {
                // GetObjectAttributes pages by headers, not by query parameters.
                GetObjectAttributes {
                    version: version(q)?,
                    part_number_marker: header_number(headers, "x-amz-part-number-marker")?.unwrap_or(0) as u32,
                    max_parts: header_number(headers, "x-amz-max-parts")?
                        .map_or(MAX_LIST_KEYS, |n| (n as usize).min(MAX_LIST_KEYS)),
                }
            } else if has("uploadId") {
                ListParts {
                    upload_id: upload_id(q)?,
                    part_number_marker: part_number_marker(q)?,
                    max_parts: max_keys(q, "max-parts")?,
                }
            } else if let Some(u) = unsupported(q) {
                u
            } else {
                GetObject(object_read(q)?)
            }
        }
        Method::HEAD => HeadObject(object_read(q)?),
        Method::PUT => {
            if has("acl") {
                PutObjectAcl { version: version(q)? }
            } else if has("tagging") {
                PutObjectTagging { version: version(q)? }
            } else if has("retention") {
                PutObjectRetention { version: version(q)? }
            } else if has("legal-hold") {
                PutObjectLegalHold { version: version(q)? }
            } else if has("uploadId") || has("partNumber") {
                let part = PartRef {
                    upload_id: upload_id(q)?,
                    part_number: part_number(q.get("partNumber").unwrap_or_default())?,
                };
                if copy { UploadPartCopy(part) } else { UploadPart(part) }
            } else if let Some(u) = unsupported(q) {
                u
            } else if copy {
                CopyObject
            } else {
                PutObject
            }
        }
        Method::DELETE => {
            if has("tagging") {
                DeleteObjectTagging { version: version(q)? }
            } else if has("uploadId") {
                AbortMultipartUpload {
                    upload_id: upload_id(q)?,
                }
            } else {
                DeleteObject { version: version(q)? }
            }
        }
        Method::POST => {
            if has("uploads") {
                CreateMultipartUpload
            } else if has("uploadId") {
                CompleteMultipartUpload {
                    upload_id: upload_id(q)?,
                }
            } else {
                Unsupported { sub_resource: "" }
            }
        }
        Method::OPTIONS => Options,
        _ => return Err(method_not_allowed()),
    };
    Ok(e)
}

#[cfg(test)]
mod tests {
    #[test]
    fn website_hosts() {
        use super::{WebsiteHost, website_host};
        let web = vec!["web.example".to_owned()];
        let s3 = vec!["s3.example".to_owned()];
        let at = |h| website_host(Some(h), &web, &s3);
        assert_eq!(at("site.web.example:8080"), Some(WebsiteHost::Subdomain("site".into())));
        assert_eq!(at("A.b.Web.Example"), Some(WebsiteHost::Subdomain("a.b".into())));
        assert_eq!(at("www.shop.test"), Some(WebsiteHost::Cname("www.shop.test".into())));
        for not_website in [
            "web.example",
            "s3.example",
            "b.s3.example",
            "127.0.0.1:9000",
            "[::1]:80",
            "localhost",
        ] {
            assert_eq!(at(not_website), None, "{not_website}");
        }
        assert_eq!(website_host(None, &web, &s3), None);
    }

    use super::*;

    fn try_r(method: Method, host: &str, path_and_query: &str, headers: &[(&str, &str)]) -> S3Result<Route> {
        let (path, query) = match path_and_query.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (path_and_query, None),
        };
        let mut h = HeaderMap::new();
        for (n, v) in headers {
            h.insert(http::HeaderName::from_bytes(n.as_bytes()).unwrap(), v.parse().unwrap());
        }
        let location = locate(Some(host), path, &["s3.local".to_owned()])?;
        route(&method, location, query, &h)
    }

    fn r(method: Method, host: &str, path_and_query: &str, headers: &[(&str, &str)]) -> Route {
        try_r(method, host, path_and_query, headers).unwrap()
    }

    #[test]
    fn path_style() {
        let x = r(Method::GET, "localhost:8080", "/", &[]);
        assert!(matches!(x.endpoint, Endpoint::ListBuckets { .. }));
        let x = r(Method::PUT, "localhost:8080", "/b", &[]);
        assert_eq!(x.endpoint, Endpoint::CreateBucket);
        assert_eq!(x.bucket.as_deref(), Some("b"));
        let x = r(Method::GET, "localhost", "/b/a%20b/c/", &[]);
        assert_eq!(x.endpoint, Endpoint::GetObject(ObjectRead::default()));
        assert_eq!(x.key.as_deref(), Some("a b/c/"));
        let x = r(Method::GET, "localhost", "/b/?list-type=2", &[]);
        assert_eq!(x.endpoint.name(), "ListObjectsV2");
        assert_eq!(x.key, None);
    }

    #[test]
    fn object_attributes_page_by_headers() {
        let attrs = |h: &[(&str, &str)]| try_r(Method::GET, "h", "/b/k?attributes", h).map(|r| r.endpoint);
        let page = |marker, max| Endpoint::GetObjectAttributes {
            version: None,
            part_number_marker: marker,
            max_parts: max,
        };
        assert_eq!(attrs(&[]).unwrap(), page(0, 1000));
        assert_eq!(
            attrs(&[("x-amz-max-parts", "1"), ("x-amz-part-number-marker", "3")]).unwrap(),
            page(3, 1)
        );
        assert_eq!(attrs(&[("x-amz-max-parts", "5000")]).unwrap(), page(0, 1000));
        for bad in [
            ("x-amz-max-parts", "-1"),
            ("x-amz-max-parts", "x"),
            ("x-amz-part-number-marker", "y"),
        ] {
            assert_eq!(attrs(&[bad]).unwrap_err().code, ErrorCode::InvalidArgument, "{bad:?}");
        }
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
        assert_eq!(x.endpoint.name(), "ListObjects");
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
            Endpoint::UploadPartCopy(PartRef {
                upload_id: "x".into(),
                part_number: 1
            })
        );
        assert_eq!(r(Method::POST, "h", "/b?delete", &[]).endpoint, Endpoint::DeleteObjects);
        assert_eq!(
            r(Method::GET, "h", "/b?policyStatus", &[]).endpoint,
            Endpoint::GetBucketPolicyStatus
        );
        assert_eq!(
            r(Method::GET, "h", "/b?logging", &[]).endpoint,
            Endpoint::Unsupported {
                sub_resource: "logging"
            }
        );
        assert_eq!(
            r(Method::DELETE, "h", "/b/k?uploadId=1", &[]).endpoint,
            Endpoint::AbortMultipartUpload { upload_id: "1".into() }
        );
    }

    #[test]
    fn parameters_are_parsed_once_with_s3_errors() {
        let x = r(
            Method::GET,
            "h",
            "/b?prefix=a%2F&delimiter=/&max-keys=5000&encoding-type=url&marker=m",
            &[],
        );
        let Endpoint::ListObjects { list, marker } = &x.endpoint else {
            panic!("{:?}", x.endpoint)
        };
        assert_eq!(list.prefix(), "a/");
        assert_eq!(list.delimiter.as_deref(), Some("/"));
        assert_eq!((list.max, list.max_raw.as_deref()), (1000, Some("5000")));
        assert!(list.url_encoding);
        assert_eq!(marker.as_deref(), Some("m"));
        let code = |p: &str| try_r(Method::GET, "h", p, &[]).unwrap_err().code;
        assert_eq!(code("/b?max-keys=-1"), ErrorCode::InvalidArgument);
        assert_eq!(code("/b?max-keys=x"), ErrorCode::InvalidArgument);
        assert_eq!(code("/b?encoding-type=xml"), ErrorCode::InvalidArgument);
        assert_eq!(code("/b/k?versionId=v1"), ErrorCode::InvalidArgument);
        assert_eq!(code("/b/k?partNumber=0"), ErrorCode::InvalidArgument);
        assert_eq!(code("/b/k?uploadId=u&part-number-marker=x"), ErrorCode::InvalidArgument);
        assert_eq!(code("/b?versions&version-id-marker=v"), ErrorCode::InvalidArgument);
        assert_eq!(code("/?max-buckets=0"), ErrorCode::InvalidArgument);
        let put = |p: &str| try_r(Method::PUT, "h", p, &[]).unwrap_err().code;
        assert_eq!(put("/b/k?uploadId=u&partNumber=10001"), ErrorCode::InvalidArgument);
        assert_eq!(put("/b/k?partNumber=1"), ErrorCode::InvalidArgument);
        let x = r(
            Method::GET,
            "h",
            "/b/k?versionId=null&response-content-type=text/x",
            &[],
        );
        let Endpoint::GetObject(read) = &x.endpoint else {
            panic!()
        };
        assert_eq!(read.version, Some(VersionId::Null));
        assert_eq!(read.overrides, vec![(http::header::CONTENT_TYPE, "text/x".to_owned())]);
        assert_eq!(x.endpoint.action(), S3Action::GetObjectVersion);
    }

    #[test]
    fn actions_follow_versions() {
        let a = |m: Method, p: &str| r(m, "h", p, &[]).endpoint.action();
        assert_eq!(a(Method::GET, "/b/k"), S3Action::GetObject);
        assert_eq!(a(Method::DELETE, "/b/k?versionId=null"), S3Action::DeleteObjectVersion);
        assert_eq!(a(Method::DELETE, "/b/k"), S3Action::DeleteObject);
        assert_eq!(a(Method::PUT, "/b?policy"), S3Action::PutBucketPolicy);
        assert_eq!(a(Method::GET, "/b?cors"), S3Action::GetBucketCORS);
        assert_eq!(
            a(Method::PUT, "/b/k?tagging&versionId=null"),
            S3Action::PutObjectVersionTagging
        );
    }

    #[test]
    fn ports_are_stripped() {
        assert_eq!(strip_port("a.b:80"), "a.b");
        assert_eq!(strip_port("[::1]:80"), "::1");
        assert_eq!(strip_port("a.b"), "a.b");
    }
}
