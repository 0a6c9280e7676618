//! One handler per S3 operation: a routed, authenticated request goes to the engine, the
//! engine's answer becomes an S3 response. No storage details here.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use ksan_engine::{Engine, Principal};
use ksan_proto::auth::{self, AuthRequest, SecretLookup, SigningKeyCache};
use ksan_proto::router::{self, Endpoint, Route};
use ksan_proto::{ResponseBody, error::error_xml};
use ksan_types::{BodyStream, ErrorCode, S3Error, S3Result, TrailerSlot};

mod access;
mod acl;
mod attributes;
mod bucket;
mod delete_objects;
mod headers;
mod list;
mod multipart;
mod object;
mod policy;
mod tagging;
mod versioning;

pub use access::parse_network;
pub use headers::{format_http_date, format_iso8601};

/// S3 limits the request header section to 8 KiB.
const MAX_HEADER_BYTES: usize = 8 * 1024;

#[derive(Debug, Clone)]
pub struct ApiConfig {
    pub region: String,
    /// Virtual-host base domains.
    pub domains: Vec<String>,
    /// Proxies whose X-Forwarded-For is believed (address, prefix length).
    pub trusted_proxies: Vec<(std::net::IpAddr, u8)>,
}

/// Facts about the connection a request came on.
#[derive(Debug, Clone, Copy)]
pub struct ConnInfo {
    pub remote: SocketAddr,
    pub tls: bool,
}

pub struct S3Api {
    engine: Arc<Engine>,
    config: ApiConfig,
    signing_keys: SigningKeyCache,
    request_seq: AtomicU64,
    host_id: String,
    /// Parsed bucket policies by bucket name, with the text they were parsed from.
    policies:
        std::sync::Mutex<std::collections::HashMap<String, (String, Arc<ksan_engine::access::policy::BucketPolicy>)>>,
}

/// Everything a handler needs to know about its request.
pub(crate) struct Ctx {
    pub route: Route,
    pub headers: HeaderMap,
    pub principal: Principal,
    pub signature: ksan_proto::auth::SignatureKind,
    pub conn: ConnInfo,
    /// The client's address for `aws:SourceIp` (see `access::client_ip`).
    pub client_ip: std::net::IpAddr,
    /// Behind a mutex only so that `&Ctx` is Send across awaits (streams are not Sync).
    body: std::sync::Mutex<Option<BodyStream>>,
    pub trailers: TrailerSlot,
}

impl Ctx {
    pub fn bucket_name(&self) -> &str {
        self.route.bucket.as_deref().unwrap_or_default()
    }
    pub fn key(&self) -> &str {
        self.route.key.as_deref().unwrap_or_default()
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    pub fn take_body(&self) -> BodyStream {
        let taken = match self.body.lock() {
            Ok(mut slot) => slot.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        taken.unwrap_or_else(|| Box::pin(futures_util::stream::empty()))
    }
    /// The caller's (canonical id, display name); anonymous writers own nothing.
    pub fn owner(&self) -> (String, String) {
        match self.principal.user() {
            Some(u) => (u.canonical_id.clone(), u.display_name.clone()),
            None => (String::new(), String::new()),
        }
    }
}

struct EngineSecrets<'a>(&'a Engine);

impl SecretLookup for EngineSecrets<'_> {
    fn secret(&self, access_key: &str) -> Option<String> {
        self.0.secret_for(access_key).ok().flatten()
    }
}

pub(crate) type HandlerResult = S3Result<Response<ResponseBody>>;

impl S3Api {
    pub fn new(engine: Arc<Engine>, config: ApiConfig) -> Self {
        S3Api {
            engine,
            config,
            signing_keys: SigningKeyCache::new(),
            request_seq: AtomicU64::new(rand::random::<u32>() as u64),
            host_id: base64_host_id(),
            policies: Default::default(),
        }
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    fn next_request_id(&self) -> String {
        format!("{:016X}", self.request_seq.fetch_add(1, Ordering::Relaxed))
    }

    /// Serve one request; never fails: errors become S3 error responses.
    pub async fn handle(&self, req: Request<BodyStream>, conn: ConnInfo) -> Response<ResponseBody> {
        let request_id = self.next_request_id();
        let is_head = req.method() == Method::HEAD;
        let method = req.method().clone();
        let path = req.uri().path().to_owned();
        let result = self.dispatch(req, conn).await;
        let mut resp = match result {
            Ok(resp) => resp,
            Err(err) => {
                if err.code == ErrorCode::InternalError {
                    tracing::error!(request_id, %method, path, "internal error");
                } else {
                    tracing::debug!(request_id, %method, path, code = %err.code, "request failed");
                }
                error_response(&err, is_head, &request_id, &self.host_id)
            }
        };
        let h = resp.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&request_id) {
            h.insert("x-amz-request-id", v);
        }
        if let Ok(v) = HeaderValue::from_str(&self.host_id) {
            h.insert("x-amz-id-2", v);
        }
        h.insert(http::header::SERVER, HeaderValue::from_static("KSAN-GW"));
        resp
    }

    async fn dispatch(&self, req: Request<BodyStream>, conn: ConnInfo) -> HandlerResult {
        let (parts, body) = req.into_parts();
        tracing::trace!(method = %parts.method, uri = %parts.uri, headers = ?parts.headers, "request");
        let header_bytes: usize = parts.headers.iter().map(|(n, v)| n.as_str().len() + v.len() + 4).sum();
        if header_bytes > MAX_HEADER_BYTES {
            return Err(S3Error::new(ErrorCode::RequestHeaderSectionTooLarge)
                .with("MaxSizeAllowed", MAX_HEADER_BYTES.to_string()));
        }
        let route = router::route(
            &parts.method,
            host_of(&parts),
            parts.uri.path(),
            parts.uri.query(),
            &parts.headers,
            &self.config.domains,
        )?;
        let auth_req = AuthRequest {
            method: &parts.method,
            uri: &parts.uri,
            headers: &parts.headers,
            now: time::OffsetDateTime::now_utc(),
            region: &self.config.region,
            v2_resource_prefix: None,
        };
        let v2_prefix;
        let auth_req = if route.virtual_host {
            v2_prefix = format!("/{}", route.bucket.as_deref().unwrap_or_default());
            AuthRequest {
                v2_resource_prefix: Some(&v2_prefix),
                ..auth_req
            }
        } else {
            auth_req
        };
        let authenticated = auth::authenticate(&auth_req, &EngineSecrets(&self.engine), &self.signing_keys)?;
        let (mut parts, mut route) = (parts, route);
        if authenticated.kind == auth::SignatureKind::V4Query {
            // x-amz-* parameters of a presigned URL are signed request headers.
            let hoisted = auth::presigned_query_headers(&parts.uri);
            if !hoisted.is_empty() {
                for (name, value) in hoisted {
                    parts.headers.entry(name).or_insert(value);
                }
                route = router::route(
                    &parts.method,
                    host_of(&parts),
                    parts.uri.path(),
                    parts.uri.query(),
                    &parts.headers,
                    &self.config.domains,
                )?;
            }
        }
        let principal = match &authenticated.access_key {
            Some(ak) => match self.engine.user_for_key(ak)? {
                Some(user) => Principal::User(user),
                None => return Err(S3Error::new(ErrorCode::InvalidAccessKeyId)),
            },
            None => Principal::Anonymous,
        };
        let trailers = TrailerSlot::new();
        let decoded_length = headers::header_u64(&parts.headers, "x-amz-decoded-content-length")?;
        let body = auth::decode_body(body, authenticated.payload, trailers.clone(), decoded_length);
        if let Some(key) = &route.key {
            headers::check_key(key)?;
        }
        headers::check_canned_acl(&parts.headers)?;
        let client_ip = access::client_ip(
            conn.remote.ip(),
            parts.headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()),
            &self.config.trusted_proxies,
        );
        let ctx = Ctx {
            route,
            headers: parts.headers,
            principal,
            signature: authenticated.kind,
            conn,
            client_ip,
            body: std::sync::Mutex::new(Some(body)),
            trailers,
        };
        self.run(&ctx).await
    }

    async fn run(&self, ctx: &Ctx) -> HandlerResult {
        use Endpoint::*;
        match ctx.route.endpoint {
            ListBuckets => self.list_buckets(ctx),
            CreateBucket => self.create_bucket(ctx).await,
            DeleteBucket => self.delete_bucket(ctx).await,
            HeadBucket => self.head_bucket(ctx),
            GetBucketLocation => self.get_bucket_location(ctx),
            ListObjects => self.list_objects_v1(ctx),
            ListObjectsV2 => self.list_objects_v2(ctx),
            PutObject => self.put_object(ctx).await,
            GetObject => self.get_object(ctx, false).await,
            HeadObject => self.get_object(ctx, true).await,
            DeleteObject => self.delete_object(ctx).await,
            DeleteObjects => self.delete_objects(ctx).await,
            CopyObject => self.copy_object(ctx).await,
            GetBucketVersioning => self.get_bucket_versioning(ctx),
            PutBucketVersioning => self.put_bucket_versioning(ctx).await,
            ListObjectVersions => self.list_object_versions(ctx),
            CreateMultipartUpload => self.create_multipart_upload(ctx).await,
            UploadPart => self.upload_part(ctx).await,
            UploadPartCopy => self.upload_part_copy(ctx).await,
            CompleteMultipartUpload => self.complete_multipart_upload(ctx).await,
            AbortMultipartUpload => self.abort_multipart_upload(ctx).await,
            ListParts => self.list_parts(ctx),
            ListMultipartUploads => self.list_multipart_uploads(ctx),
            GetObjectAttributes => self.get_object_attributes(ctx),
            GetBucketAcl => self.get_bucket_acl(ctx),
            PutBucketAcl => self.put_bucket_acl(ctx).await,
            GetObjectAcl => self.get_object_acl(ctx),
            PutObjectAcl => self.put_object_acl(ctx).await,
            PutBucketPolicy => self.put_bucket_policy(ctx).await,
            GetBucketPolicy => self.get_bucket_policy(ctx),
            DeleteBucketPolicy => self.delete_bucket_policy(ctx).await,
            GetBucketPolicyStatus => self.get_bucket_policy_status(ctx),
            PutPublicAccessBlock => self.put_public_access_block(ctx).await,
            GetPublicAccessBlock => self.get_public_access_block(ctx),
            DeletePublicAccessBlock => self.delete_public_access_block(ctx).await,
            PutBucketOwnershipControls => self.put_bucket_ownership_controls(ctx).await,
            GetBucketOwnershipControls => self.get_bucket_ownership_controls(ctx),
            DeleteBucketOwnershipControls => self.delete_bucket_ownership_controls(ctx).await,
            GetObjectTagging => self.get_object_tagging(ctx),
            PutObjectTagging => self.put_object_tagging(ctx).await,
            DeleteObjectTagging => self.delete_object_tagging(ctx).await,
            Unsupported if ctx.route.key.is_some() && ctx.route.query.has("torrent") => {
                // Torrents are not served: as S3 does for objects it cannot seed.
                self.authorized_bucket(ctx)?;
                Err(S3Error::new(ErrorCode::NoSuchKey).key(ctx.key()))
            }
            other => {
                // Routed but not built yet: the bucket must still exist and be the caller's,
                // so that a client learns "not implemented" only where it could have acted.
                if ctx.route.bucket.is_some() {
                    self.authorized_bucket(ctx)?;
                }
                Err(S3Error::new(ErrorCode::NotImplemented).msg(format!("{} is not implemented yet", other.name())))
            }
        }
    }

    /// An authenticated principal, for operations with no bucket to decide by.
    pub(crate) fn require_user<'a>(&self, ctx: &'a Ctx) -> S3Result<&'a ksan_engine::UserRecord> {
        ctx.principal
            .user()
            .ok_or_else(|| S3Error::new(ErrorCode::AccessDenied))
    }
}

fn host_of(parts: &http::request::Parts) -> Option<&str> {
    parts
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .or(parts.uri.host())
}

fn base64_host_id() -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 24]>())
}

/// Build the response for an error: status, XML body (none for HEAD), the error's headers.
pub fn error_response(err: &S3Error, is_head: bool, request_id: &str, host_id: &str) -> Response<ResponseBody> {
    let status = StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut builder = Response::builder().status(status);
    for (name, value) in err.headers() {
        builder = builder.header(*name, value);
    }
    let body = if is_head || status == StatusCode::NOT_MODIFIED {
        ResponseBody::empty()
    } else {
        builder = builder.header(http::header::CONTENT_TYPE, "application/xml");
        ResponseBody::full(error_xml(err, None, request_id, host_id))
    };
    builder.body(body).unwrap_or_else(|_| {
        let mut r = Response::new(ResponseBody::empty());
        *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        r
    })
}

/// A 200 with an XML document.
pub(crate) fn xml_response(doc: String) -> HandlerResult {
    Response::builder()
        .status(StatusCode::OK)
        .header(http::header::CONTENT_TYPE, "application/xml")
        .body(ResponseBody::full(doc))
        .map_err(S3Error::internal)
}

/// `x-amz-version-id` on a response about a version that has one.
pub(crate) fn set_version_header(resp: &mut Response<ResponseBody>, version_id: Option<&str>) {
    if let Some(vid) = version_id
        && let Ok(val) = HeaderValue::from_str(vid)
    {
        resp.headers_mut().insert("x-amz-version-id", val);
    }
}

pub(crate) fn empty_response(status: StatusCode) -> HandlerResult {
    Response::builder()
        .status(status)
        .body(ResponseBody::empty())
        .map_err(S3Error::internal)
}

/// Read a small request document (XML configurations, DeleteObjects) whole, up to `limit`.
pub(crate) async fn read_small_body(ctx: &Ctx, limit: usize) -> S3Result<bytes::Bytes> {
    use futures_util::StreamExt;
    let mut body = ctx.take_body();
    let mut buf = bytes::BytesMut::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk?;
        if buf.len() + chunk.len() > limit {
            return Err(S3Error::new(ErrorCode::MaxMessageLengthExceeded));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}
