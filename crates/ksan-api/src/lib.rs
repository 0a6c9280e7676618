//! One handler per S3 operation: a routed, authenticated request is parsed into the engine's
//! terms, goes to the engine, and the engine's answer becomes an S3 response. No storage
//! details and no S3 rules here: the rules are the engine's, the wire the protocol crate's.
//!
//! Files: `lib.rs` dispatches; `access.rs` brings requests to the engine's access decision
//! (`conditions.rs` builds their condition keys, `client_addr.rs` finds the client's address);
//! `headers.rs` reads request headers and writes object headers; one file per operation group
//! (buckets, objects, listings, multipart, versioning, ACLs, policy, tagging, ...).

#![warn(missing_docs)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use ksan_engine::access::acl::PublicAccessBlock;
use ksan_engine::access::config::{OwnershipConfig, PolicyConfig};
use ksan_engine::{Engine, Principal, UserRecord};
use ksan_proto::auth::{self, AuthRequest, SecretLookup, SignatureKind, SigningKeyCache};
use ksan_proto::documents::XmlDocument;
use ksan_proto::router::{self, Endpoint, Route};
use ksan_proto::{ResponseBody, error::error_xml};
use ksan_types::{BodyStream, CannedAcl, ErrorCode, S3Error, S3Result, TrailerSlot};

mod access;
mod acl;
mod attributes;
mod bucket;
mod client_addr;
mod conditions;
mod cors;
mod delete_objects;
mod headers;
mod lifecycle;
mod list;
mod lock;
mod multipart;
mod object;
mod policy;
mod post_object;
mod replication;
mod sse;
mod tagging;
mod versioning;
mod website;

pub use client_addr::parse_network;
pub use headers::{format_http_date, format_iso8601, parse_http_date};

/// S3 limits the request header section to 8 KiB.
const MAX_HEADER_BYTES: usize = 8 * 1024;

/// The api layer's settings.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// The region signatures are scoped to.
    pub region: String,
    /// Virtual-host base domains.
    pub domains: Vec<String>,
    /// Proxies whose X-Forwarded-For is believed (address, prefix length).
    pub trusted_proxies: Vec<(std::net::IpAddr, u8)>,
    /// Website endpoint base domains (`bucket.DOMAIN` serves the bucket as a site).
    pub website_domains: Vec<String>,
    /// Take SSE-C keys over plain HTTP (test setups only; S3 refuses them there).
    pub allow_insecure_sse_c: bool,
}

/// Facts about the connection a request came on.
#[derive(Debug, Clone, Copy)]
pub struct ConnInfo {
    /// The peer's address.
    pub remote: SocketAddr,
    /// The connection is TLS.
    pub tls: bool,
    /// The connection came to a website-only listener.
    pub website: bool,
}

/// The S3 API over an engine.
pub struct S3Api {
    engine: Arc<Engine>,
    config: ApiConfig,
    signing_keys: SigningKeyCache,
    request_seq: AtomicU64,
    host_id: String,
}

/// Everything a handler needs to know about its request.
pub(crate) struct Ctx {
    pub route: Route,
    pub headers: HeaderMap,
    pub principal: Principal,
    pub signature: SignatureKind,
    pub conn: ConnInfo,
    /// The client's address for `aws:SourceIp` (see `client_addr::client_ip`).
    pub client_ip: std::net::IpAddr,
    /// `x-amz-acl`, parsed.
    pub canned_acl: Option<CannedAcl>,
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
    pub fn endpoint(&self) -> &Endpoint {
        &self.route.endpoint
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

/// Secret keys for authentication; the user of the key found is kept for the principal, so
/// one metadata read serves both.
struct EngineSecrets<'a> {
    engine: &'a Engine,
    user: std::sync::Mutex<Option<Arc<UserRecord>>>,
}

#[async_trait::async_trait]
impl SecretLookup for EngineSecrets<'_> {
    async fn secret(&self, access_key: &str) -> Result<Option<String>, S3Error> {
        let Some((secret, user)) = self.engine.credentials(access_key).await? else {
            return Ok(None);
        };
        if let Ok(mut slot) = self.user.lock() {
            *slot = Some(user);
        }
        Ok(Some(secret))
    }
}

pub(crate) type HandlerResult = S3Result<Response<ResponseBody>>;

impl S3Api {
    /// The API over `engine`.
    pub fn new(engine: Arc<Engine>, config: ApiConfig) -> Self {
        S3Api {
            engine,
            config,
            signing_keys: SigningKeyCache::new(),
            request_seq: AtomicU64::new(rand::random::<u32>() as u64),
            host_id: base64_host_id(),
        }
    }

    /// The engine.
    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    fn next_request_id(&self) -> String {
        format!("{:016X}", self.request_seq.fetch_add(1, Ordering::Relaxed))
    }

    /// Serve one request; never fails: errors become S3 error responses.
    pub async fn handle(&self, req: Request<BodyStream>, conn: ConnInfo) -> Response<ResponseBody> {
        let request_id = self.next_request_id();
        let method = req.method().clone();
        let path = req.uri().path().to_owned();
        let website = self.website_bucket(req.headers(), req.uri(), conn).await;
        // A request with Origin gets the CORS headers of its bucket's matching rule on any
        // answer, errors included; a preflight has its own.
        let cors = (req.headers().contains_key(http::header::ORIGIN) && method != Method::OPTIONS).then(|| {
            let bucket = website.clone().or_else(|| {
                router::locate(host_of_headers(req.headers(), req.uri()), &path, &self.config.domains)
                    .ok()
                    .and_then(|l| l.bucket)
            });
            (bucket, req.headers().clone())
        });
        let mut resp = match website {
            Some(bucket) => self.serve_website(req, &bucket, conn, &request_id).await,
            None => self.api_response(req, conn, &request_id).await,
        };
        if let Some((Some(bucket), headers)) = cors
            && let Ok(Some(found)) = self.actual_cors(&bucket, &method, &headers).await
        {
            cors::apply(&mut resp, &found);
        }
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

    /// The bucket a website request is for, if this request is one: its Host is
    /// `bucket.WEBSITE-DOMAIN`, or it came to the website listener, or (for CNAMEs) its Host
    /// is the name of a bucket with a website configuration and no S3 domain.
    async fn website_bucket(&self, headers: &HeaderMap, uri: &http::Uri, conn: ConnInfo) -> Option<String> {
        if self.config.website_domains.is_empty() && !conn.website {
            return None;
        }
        let host = host_of_headers(headers, uri);
        match router::website_host(host, &self.config.website_domains, &self.config.domains) {
            // The website listener serves nothing else: an unknown host is a missing bucket.
            None if conn.website => Some(host.unwrap_or_default().to_owned()),
            None => None,
            Some(router::WebsiteHost::Subdomain(bucket)) => Some(bucket),
            Some(router::WebsiteHost::Cname(host)) if conn.website => Some(host),
            Some(router::WebsiteHost::Cname(host)) => {
                let state = self.engine.bucket_state(&host).await.ok()?;
                state
                    .get::<ksan_engine::website::WebsiteConfig>()
                    .is_some()
                    .then_some(host)
            }
        }
    }

    async fn api_response(&self, req: Request<BodyStream>, conn: ConnInfo, request_id: &str) -> Response<ResponseBody> {
        let is_head = req.method() == Method::HEAD;
        let method = req.method().clone();
        let path = req.uri().path().to_owned();
        let result = self.dispatch(req, conn).await;
        match result {
            Ok(resp) => resp,
            Err(err) => {
                if err.code == ErrorCode::InternalError {
                    tracing::error!(request_id, %method, path, "internal error");
                } else {
                    tracing::debug!(request_id, %method, path, code = %err.code, "request failed");
                }
                error_response(&err, is_head, request_id, &self.host_id)
            }
        }
    }

    async fn dispatch(&self, req: Request<BodyStream>, conn: ConnInfo) -> HandlerResult {
        let (mut parts, body) = req.into_parts();
        let header_bytes: usize = parts.headers.iter().map(|(n, v)| n.as_str().len() + v.len() + 4).sum();
        if header_bytes > MAX_HEADER_BYTES {
            return Err(S3Error::new(ErrorCode::RequestHeaderSectionTooLarge)
                .with("MaxSizeAllowed", MAX_HEADER_BYTES.to_string()));
        }
        // RFC 9112 §3.2: an HTTP/1.1 request without Host is a bad request.
        if parts.version == http::Version::HTTP_11 && !parts.headers.contains_key(http::header::HOST) {
            return Err(S3Error::new(ErrorCode::InvalidRequest).msg("Missing required header for this request: Host"));
        }
        let location = router::locate(host_of(&parts), parts.uri.path(), &self.config.domains)?;
        // A preflight is answered before authentication: browsers send it without credentials.
        if parts.method == Method::OPTIONS {
            return self
                .preflight(location.bucket.as_deref(), &parts.method, &parts.headers)
                .await;
        }
        let v2_prefix = location
            .virtual_host
            .then(|| format!("/{}", location.bucket.as_deref().unwrap_or_default()));
        let secrets = EngineSecrets {
            engine: &self.engine,
            user: std::sync::Mutex::new(None),
        };
        let authenticated = auth::authenticate(
            &AuthRequest {
                method: &parts.method,
                uri: &parts.uri,
                headers: &parts.headers,
                now: time::OffsetDateTime::now_utc(),
                region: &self.config.region,
                v2_resource_prefix: v2_prefix.as_deref(),
            },
            &secrets,
            &self.signing_keys,
        )
        .await?;
        let principal = match (&authenticated.access_key, secrets.user.into_inner()) {
            (None, _) => Principal::Anonymous,
            (Some(_), Ok(Some(user))) => Principal::User(user),
            (Some(_), _) => return Err(S3Error::new(ErrorCode::InvalidAccessKeyId)),
        };
        if authenticated.kind == SignatureKind::V4Query {
            // x-amz-* parameters of a presigned URL are signed request headers.
            for (name, value) in auth::presigned_query_headers(&parts.uri) {
                parts.headers.entry(name).or_insert(value);
            }
        }
        let route = router::route(&parts.method, location, parts.uri.query(), &parts.headers)?;
        tracing::trace!(method = %parts.method, path = %parts.uri.path(), operation = route.endpoint.name(), "request");
        let trailers = TrailerSlot::new();
        let decoded_length = headers::header_u64(&parts.headers, "x-amz-decoded-content-length")?;
        let body = auth::decode_body(body, authenticated.payload, trailers.clone(), decoded_length);
        if let Some(key) = &route.key {
            headers::check_key(key)?;
        }
        let canned_acl = headers::get(&parts.headers, "x-amz-acl")
            .map(CannedAcl::parse)
            .transpose()?;
        let client_ip = client_addr::client_ip(
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
            canned_acl,
            body: std::sync::Mutex::new(Some(body)),
            trailers,
        };
        self.run(&ctx).await
    }

    async fn run(&self, ctx: &Ctx) -> HandlerResult {
        use Endpoint::*;
        match ctx.endpoint() {
            ListBuckets {
                prefix,
                max_buckets,
                continuation_token,
            } => {
                self.list_buckets(ctx, prefix.as_deref(), *max_buckets, continuation_token.as_deref())
                    .await
            }
            CreateBucket => self.create_bucket(ctx).await,
            DeleteBucket => self.delete_bucket(ctx).await,
            HeadBucket => self.head_bucket(ctx).await,
            GetBucketLocation => self.get_bucket_location(ctx).await,
            ListObjects { list, marker } => self.list_objects_v1(ctx, list, marker.as_deref()).await,
            ListObjectsV2 {
                list,
                continuation_token,
                start_after,
                fetch_owner,
            } => {
                let resume = crate::list::Resume {
                    token: continuation_token.as_deref(),
                    start_after: start_after.as_deref(),
                };
                self.list_objects_v2(ctx, list, resume, *fetch_owner).await
            }
            PutObject => self.put_object(ctx).await,
            GetObject(read) => self.get_object(ctx, read, false).await,
            HeadObject(read) => self.get_object(ctx, read, true).await,
            DeleteObject { version } => self.delete_object(ctx, *version).await,
            DeleteObjects => self.delete_objects(ctx).await,
            CopyObject => self.copy_object(ctx).await,
            GetBucketVersioning => self.get_bucket_versioning(ctx).await,
            PutBucketVersioning => self.put_bucket_versioning(ctx).await,
            ListObjectVersions {
                list,
                key_marker,
                version_id_marker,
            } => {
                self.list_object_versions(ctx, list, key_marker.as_deref(), version_id_marker.as_deref())
                    .await
            }
            CreateMultipartUpload => self.create_multipart_upload(ctx).await,
            UploadPart(part) => self.upload_part(ctx, part).await,
            UploadPartCopy(part) => self.upload_part_copy(ctx, part).await,
            CompleteMultipartUpload { upload_id } => self.complete_multipart_upload(ctx, upload_id).await,
            AbortMultipartUpload { upload_id } => self.abort_multipart_upload(ctx, upload_id).await,
            ListParts {
                upload_id,
                part_number_marker,
                max_parts,
            } => self.list_parts(ctx, upload_id, *part_number_marker, *max_parts).await,
            ListMultipartUploads {
                list,
                key_marker,
                upload_id_marker,
            } => {
                self.list_multipart_uploads(ctx, list, key_marker.as_deref(), upload_id_marker.as_deref())
                    .await
            }
            GetObjectAttributes {
                part_number_marker,
                max_parts,
                ..
            } => self.get_object_attributes(ctx, *part_number_marker, *max_parts).await,
            GetBucketAcl => self.get_bucket_acl(ctx).await,
            PutBucketAcl => self.put_bucket_acl(ctx).await,
            GetObjectAcl { .. } => self.get_object_acl(ctx).await,
            PutObjectAcl { .. } => self.put_object_acl(ctx).await,
            PutBucketPolicy => self.put_bucket_policy(ctx).await,
            GetBucketPolicy => self.get_bucket_policy(ctx).await,
            DeleteBucketPolicy => self.delete_configuration::<PolicyConfig>(ctx).await,
            GetBucketPolicyStatus => self.get_bucket_policy_status(ctx).await,
            PutPublicAccessBlock => self.put_public_access_block(ctx).await,
            GetPublicAccessBlock => self.get_public_access_block(ctx).await,
            DeletePublicAccessBlock => self.delete_configuration::<PublicAccessBlock>(ctx).await,
            PutBucketOwnershipControls => self.put_bucket_ownership_controls(ctx).await,
            GetBucketOwnershipControls => self.get_bucket_ownership_controls(ctx).await,
            DeleteBucketOwnershipControls => self.delete_configuration::<OwnershipConfig>(ctx).await,
            GetObjectTagging { .. } => self.get_object_tagging(ctx).await,
            PutObjectTagging { .. } => self.put_object_tagging(ctx).await,
            DeleteObjectTagging { .. } => self.delete_object_tagging(ctx).await,
            PutBucketCors => self.put_bucket_cors(ctx).await,
            GetBucketCors => self.get_bucket_cors(ctx).await,
            DeleteBucketCors => self.delete_configuration::<ksan_engine::cors::CorsConfig>(ctx).await,
            PutBucketWebsite => self.put_bucket_website(ctx).await,
            GetBucketWebsite => self.get_bucket_website(ctx).await,
            DeleteBucketWebsite => {
                self.delete_configuration::<ksan_engine::website::WebsiteConfig>(ctx)
                    .await
            }
            PostObject => self.post_object(ctx).await,
            PutObjectLockConfiguration => self.put_object_lock_configuration(ctx).await,
            GetObjectLockConfiguration => self.get_object_lock_configuration(ctx).await,
            PutObjectRetention { .. } => self.put_object_retention(ctx).await,
            GetObjectRetention { .. } => self.get_object_retention(ctx).await,
            PutObjectLegalHold { .. } => self.put_object_legal_hold(ctx).await,
            GetObjectLegalHold { .. } => self.get_object_legal_hold(ctx).await,
            PutBucketEncryption => self.put_bucket_encryption(ctx).await,
            GetBucketEncryption => self.get_bucket_encryption(ctx).await,
            DeleteBucketEncryption => {
                self.delete_configuration::<ksan_engine::sse::EncryptionConfig>(ctx)
                    .await
            }
            PutBucketLifecycleConfiguration => self.put_bucket_lifecycle(ctx).await,
            GetBucketLifecycleConfiguration => self.get_bucket_lifecycle(ctx).await,
            DeleteBucketLifecycle => {
                self.delete_configuration::<ksan_engine::lifecycle::LifecycleConfig>(ctx)
                    .await
            }
            PutBucketReplication => self.put_bucket_replication(ctx).await,
            GetBucketReplication => self.get_bucket_replication(ctx).await,
            DeleteBucketReplication => {
                self.delete_configuration::<ksan_engine::replication::ReplicationConfig>(ctx)
                    .await
            }
            PutBucketTagging => self.put_bucket_tagging(ctx).await,
            GetBucketTagging => self.get_bucket_tagging(ctx).await,
            DeleteBucketTagging => self.delete_configuration::<ksan_engine::tags::BucketTags>(ctx).await,
            Unsupported {
                sub_resource: "torrent",
            } if ctx.route.key.is_some() => {
                // Torrents are not served: as S3 does for objects it cannot seed.
                self.authorized_bucket(ctx).await?;
                Err(S3Error::new(ErrorCode::NoSuchKey).key(ctx.key()))
            }
            other => {
                // Routed but not built yet: the bucket must still exist and be the caller's,
                // so that a client learns "not implemented" only where it could have acted.
                if ctx.route.bucket.is_some() {
                    self.authorized_bucket(ctx).await?;
                }
                Err(S3Error::new(ErrorCode::NotImplemented).msg(format!("{} is not implemented yet", other.name())))
            }
        }
    }

    /// An authenticated principal, for operations with no bucket to decide by.
    pub(crate) fn require_user<'a>(&self, ctx: &'a Ctx) -> S3Result<&'a UserRecord> {
        ctx.principal
            .user()
            .ok_or_else(|| S3Error::new(ErrorCode::AccessDenied))
    }
}

fn host_of(parts: &http::request::Parts) -> Option<&str> {
    host_of_headers(&parts.headers, &parts.uri)
}

fn host_of_headers<'a>(headers: &'a HeaderMap, uri: &'a http::Uri) -> Option<&'a str> {
    headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .or(uri.host())
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

/// A 200 with a typed document.
pub(crate) fn document_response<D: XmlDocument>(doc: &D) -> HandlerResult {
    xml_response(doc.to_xml())
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

/// Read a small request body (XML configurations, DeleteObjects) whole, up to `limit` bytes
/// (MaxMessageLengthExceeded past it, before any more is read).
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

/// The size cap of configuration documents.
pub(crate) const CONFIG_BODY_LIMIT: usize = 64 * 1024;

/// Read a configuration body, checked against its Content-MD5 or `x-amz-checksum-*` header
/// (BadDigest if it does not match); `true` if it carried one, which some configurations
/// require.
pub(crate) async fn read_digested_body(ctx: &Ctx, limit: usize) -> S3Result<(bytes::Bytes, bool)> {
    use md5::{Digest, Md5};
    let md5 = headers::content_md5(&ctx.headers)?;
    let checksum = headers::checksum_request(&ctx.headers)?;
    let body = read_small_body(ctx, limit).await?;
    if let Some(expected) = md5
        && <[u8; 16]>::from(Md5::digest(&body)) != expected
    {
        return Err(S3Error::new(ErrorCode::BadDigest));
    }
    let mut checksum_sent = false;
    if let Some(ksan_engine::objects::ChecksumRequest {
        algorithm,
        value: Some(value),
    }) = &checksum
    {
        if ksan_engine::checksum_base64(*algorithm, &body) != *value {
            return Err(S3Error::new(ErrorCode::BadDigest).msg(format!(
                "The {} you specified did not match the calculated checksum.",
                algorithm.as_str()
            )));
        }
        checksum_sent = true;
    }
    Ok((body, md5.is_some() || checksum_sent))
}

/// A typed document read with [`read_digested_body`].
pub(crate) async fn read_digested_document<D: XmlDocument>(ctx: &Ctx, limit: usize) -> S3Result<(D, bool)> {
    let (body, digest_sent) = read_digested_body(ctx, limit).await?;
    Ok((D::from_xml(&body)?, digest_sent))
}

/// Read a typed document from the request body (up to `limit` bytes).
pub(crate) async fn read_document<D: XmlDocument>(ctx: &Ctx, limit: usize) -> S3Result<D> {
    D::from_xml(&read_small_body(ctx, limit).await?)
}
