//! The replicator's way to other S3 endpoints (`ksan_engine::targets::RemoteSink`): ordinary
//! path-style S3 requests over HTTP/1.1, plain or TLS (the system's root certificates),
//! signed with ksan's own SigV4 code, bodies streamed as they are read (UNSIGNED-PAYLOAD,
//! with Content-MD5 or the flexible checksum the version has, so the target checks the bytes
//! it stores).

use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use futures_util::StreamExt;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Uri};
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use hyper_util::rt::TokioIo;
use ksan_engine::targets::{RemotePut, RemoteSink, RemoteSse, RemoteUpload, ReplicaIdentity, Target};
use ksan_proto::documents::{
    CompleteMultipartUpload, CompletedPartEntry, LegalHoldDoc, RetentionDoc, Tagging, XmlDocument,
};
use ksan_types::{BodyStream, ChecksumType, ErrorCode, S3Error, S3Result};
use sha2::{Digest, Sha256};

/// Bytes of an object key that go into a path unescaped (S3's unreserved set and `/`).
const PATH: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

/// Query values (tags in `x-amz-tagging`).
const QUERY: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// The S3 client the replicator uses.
pub struct HttpSink {
    tls: tokio_rustls::TlsConnector,
    /// Connectors of targets with certificates of their own, by target name (with the PEM
    /// they were made from, so a re-registered target gets a new one).
    own_ca: std::sync::Mutex<std::collections::HashMap<String, (String, tokio_rustls::TlsConnector)>>,
}

fn connector(roots: rustls::RootCertStore) -> Result<tokio_rustls::TlsConnector, rustls::Error> {
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

fn failed(target: &Target, what: impl std::fmt::Display) -> S3Error {
    S3Error::new(ErrorCode::ServiceUnavailable).msg(format!("replication target {}: {what}", target.name))
}

impl HttpSink {
    /// PUT a small XML document (a sub-resource), with its Content-MD5.
    async fn put_document(&self, target: &Target, path: &str, doc: String, extra: &[(&str, &str)]) -> S3Result<()> {
        let mut headers = HeaderMap::new();
        let md5 = base64::engine::general_purpose::STANDARD.encode(<md5::Md5 as md5::Digest>::digest(doc.as_bytes()));
        insert(&mut headers, "content-md5", &md5);
        for (name, value) in extra {
            insert(&mut headers, name, value);
        }
        headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(doc.len()));
        let payload = hex::encode(Sha256::digest(doc.as_bytes()));
        self.send(
            target,
            Method::PUT,
            path,
            headers,
            &payload,
            Full::new(Bytes::from(doc)),
        )
        .await
        .and_then(success)
    }

    /// A client trusting the system's root certificates (and, for a target registered with
    /// its own, those).
    pub fn new() -> Result<Self, rustls::Error> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_native_certs::load_native_certs().certs {
            let _ = roots.add(cert);
        }
        Ok(HttpSink {
            tls: connector(roots)?,
            own_ca: Default::default(),
        })
    }

    /// The TLS connector for a target.
    fn tls_for(&self, target: &Target) -> S3Result<tokio_rustls::TlsConnector> {
        let Some(pem) = &target.ca_pem else {
            return Ok(self.tls.clone());
        };
        let mut cache = self.own_ca.lock().map_err(|_| failed(target, "TLS cache poisoned"))?;
        if let Some((cached, c)) = cache.get(&target.name)
            && cached == pem
        {
            return Ok(c.clone());
        }
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_pemfile::certs(&mut pem.as_bytes()) {
            let cert = cert.map_err(|e| failed(target, format!("its CA file: {e}")))?;
            roots
                .add(cert)
                .map_err(|e| failed(target, format!("its CA file: {e}")))?;
        }
        let c = connector(roots).map_err(|e| failed(target, e))?;
        cache.insert(target.name.clone(), (pem.clone(), c.clone()));
        Ok(c)
    }

    /// Send one signed request; the response body if it is a success.
    async fn send<B>(
        &self,
        target: &Target,
        method: Method,
        path_and_query: &str,
        mut headers: HeaderMap,
        payload_hash: &str,
        body: B,
    ) -> S3Result<(http::StatusCode, HeaderMap, Bytes)>
    where
        B: hyper::body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let uri: Uri = format!("{}{}", target.endpoint, path_and_query)
            .parse()
            .map_err(|_| failed(target, "bad endpoint or key"))?;
        let tls = uri.scheme_str() == Some("https");
        let host = uri.host().ok_or_else(|| failed(target, "no host"))?.to_owned();
        let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
        ksan_proto::auth::sign::sign_v4(
            &method,
            &uri,
            &mut headers,
            payload_hash,
            &target.access_key,
            &target.secret_key,
            &target.region,
            time::OffsetDateTime::now_utc(),
        );
        let mut req = Request::builder()
            .method(method)
            .uri(uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"))
            .body(body)
            .map_err(|e| failed(target, e))?;
        *req.headers_mut() = headers;
        let stream = tokio::net::TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| failed(target, format!("cannot connect: {e}")))?;
        let resp = if tls {
            let name = rustls::pki_types::ServerName::try_from(host.clone()).map_err(|e| failed(target, e))?;
            let stream = self
                .tls_for(target)?
                .connect(name, stream)
                .await
                .map_err(|e| failed(target, format!("TLS: {e}")))?;
            send_on(TokioIo::new(stream), req).await
        } else {
            send_on(TokioIo::new(stream), req).await
        }
        .map_err(|e| failed(target, e))?;
        let status = resp.status();
        let resp_headers = resp.headers().clone();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| failed(target, e))?
            .to_bytes();
        if !status.is_success() && status != http::StatusCode::NOT_FOUND {
            let text = String::from_utf8_lossy(&body);
            let code = text
                .split("<Code>")
                .nth(1)
                .and_then(|t| t.split("</Code>").next())
                .unwrap_or("");
            return Err(failed(target, format!("answered {} {code}", status.as_u16())));
        }
        Ok((status, resp_headers, body))
    }
}

async fn send_on<I, B>(io: I, req: Request<B>) -> Result<http::Response<hyper::body::Incoming>, hyper::Error>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await?;
    tokio::spawn(conn);
    sender.send_request(req).await
}

/// A 404 is an answer only HEAD takes as one.
fn success((status, _, _): (http::StatusCode, HeaderMap, Bytes)) -> S3Result<()> {
    if status == http::StatusCode::NOT_FOUND {
        return Err(S3Error::new(ErrorCode::ServiceUnavailable).msg("replication target answered 404"));
    }
    Ok(())
}

fn object_path(bucket: &str, key: &str) -> String {
    format!("/{bucket}/{}", percent_encoding::utf8_percent_encode(key, PATH))
}

fn insert(h: &mut HeaderMap, name: &str, value: &str) {
    if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value)) {
        h.insert(n, v);
    }
}

/// The request headers that carry a version's content headers, metadata, tags, class,
/// encryption, lock and digests.
fn put_headers(put: &RemotePut<'_>) -> HeaderMap {
    let v = put.version;
    let mut h = HeaderMap::new();
    let c = &v.headers;
    for (name, value) in [
        ("content-type", &c.content_type),
        ("content-encoding", &c.content_encoding),
        ("content-disposition", &c.content_disposition),
        ("content-language", &c.content_language),
        ("cache-control", &c.cache_control),
        ("expires", &c.expires),
        ("x-amz-website-redirect-location", &c.website_redirect),
    ] {
        if let Some(value) = value {
            insert(&mut h, name, value);
        }
    }
    for (k, val) in &v.user_meta {
        insert(
            &mut h,
            &format!("x-amz-meta-{k}"),
            &ksan_proto::header_text::encode(val),
        );
    }
    if !v.tags.is_empty() {
        let tags: Vec<String> = v
            .tags
            .iter()
            .map(|(k, val)| {
                format!(
                    "{}={}",
                    percent_encoding::utf8_percent_encode(k, QUERY),
                    percent_encoding::utf8_percent_encode(val, QUERY)
                )
            })
            .collect();
        insert(&mut h, "x-amz-tagging", &tags.join("&"));
    }
    if let Some(class) = put.storage_class.or(v.storage_class) {
        insert(&mut h, "x-amz-storage-class", class.as_str());
    }
    match &put.sse {
        None => {}
        Some(RemoteSse::S3) => insert(&mut h, "x-amz-server-side-encryption", "AES256"),
        Some(RemoteSse::Kms(key)) => {
            insert(&mut h, "x-amz-server-side-encryption", "aws:kms");
            insert(&mut h, "x-amz-server-side-encryption-aws-kms-key-id", key);
        }
    }
    if let Some(r) = &v.lock.retention {
        insert(&mut h, "x-amz-object-lock-mode", r.mode.as_str());
        insert(
            &mut h,
            "x-amz-object-lock-retain-until-date",
            &ksan_api::format_iso8601(r.until_ms),
        );
    }
    if v.lock.legal_hold {
        insert(&mut h, "x-amz-object-lock-legal-hold", "ON");
    }
    // Digests the target checks: the ETag when it is the MD5, the whole-object checksum.
    if let Ok(md5) = hex::decode(&v.etag)
        && md5.len() == 16
    {
        insert(
            &mut h,
            "content-md5",
            &base64::engine::general_purpose::STANDARD.encode(md5),
        );
    }
    if let Some(cs) = &v.checksum
        && v.checksum_type != Some(ChecksumType::Composite)
    {
        insert(&mut h, cs.algorithm.header_name(), &cs.value);
    }
    if let Some(id) = &put.replica {
        insert(&mut h, "x-ksan-replica", &id.header());
        insert(&mut h, "x-ksan-replica-etag", &v.etag);
    }
    h
}

#[async_trait::async_trait]
impl RemoteSink for HttpSink {
    async fn put_object(&self, target: &Target, put: RemotePut<'_>, body: BodyStream) -> S3Result<()> {
        let mut headers = put_headers(&put);
        headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(put.version.size));
        let stream = body.map(|chunk| chunk.map(Frame::data));
        let body = StreamBody::new(stream);
        self.send(
            target,
            Method::PUT,
            &object_path(put.bucket, &put.version.key),
            headers,
            "UNSIGNED-PAYLOAD",
            body,
        )
        .await
        .and_then(success)
    }

    async fn head_object(&self, target: &Target, bucket: &str, key: &str) -> S3Result<Option<(String, i64)>> {
        let payload = hex::encode(Sha256::digest(b""));
        let (status, headers, _) = self
            .send(
                target,
                Method::HEAD,
                &object_path(bucket, key),
                HeaderMap::new(),
                &payload,
                Full::new(Bytes::new()),
            )
            .await?;
        if status == http::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let text = |name: http::header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
        let etag = text(http::header::ETAG)
            .unwrap_or_default()
            .trim_matches('"')
            .to_owned();
        let modified = text(http::header::LAST_MODIFIED)
            .and_then(ksan_api::parse_http_date)
            .unwrap_or(0);
        Ok(Some((etag, modified)))
    }

    async fn create_multipart(&self, target: &Target, put: RemotePut<'_>) -> S3Result<String> {
        let mut headers = put_headers(&put);
        // The digests are of the whole object: each part carries its own.
        for name in [
            "content-md5",
            put.version.checksum.as_ref().map_or("", |c| c.algorithm.header_name()),
        ] {
            if !name.is_empty() {
                headers.remove(name);
            }
        }
        let payload = hex::encode(Sha256::digest(b""));
        let path = format!("{}?uploads", object_path(put.bucket, &put.version.key));
        let (_, _, body) = self
            .send(target, Method::POST, &path, headers, &payload, Full::new(Bytes::new()))
            .await?;
        let text = String::from_utf8_lossy(&body);
        text.split("<UploadId>")
            .nth(1)
            .and_then(|t| t.split("</UploadId>").next())
            .map(str::to_owned)
            .ok_or_else(|| failed(target, "no UploadId in the CreateMultipartUpload answer"))
    }

    async fn upload_part(
        &self,
        target: &Target,
        upload: &RemoteUpload<'_>,
        part_number: u32,
        body: BodyStream,
        len: u64,
    ) -> S3Result<String> {
        let mut headers = HeaderMap::new();
        headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(len));
        let path = format!(
            "{}?partNumber={part_number}&uploadId={}",
            object_path(upload.bucket, upload.key),
            percent_encoding::utf8_percent_encode(upload.upload_id, QUERY)
        );
        let body = StreamBody::new(body.map(|chunk| chunk.map(Frame::data)));
        let (status, headers, _) = self
            .send(target, Method::PUT, &path, headers, "UNSIGNED-PAYLOAD", body)
            .await?;
        success((status, HeaderMap::new(), Bytes::new()))?;
        headers
            .get(http::header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(|e| e.trim_matches('"').to_owned())
            .ok_or_else(|| failed(target, "no ETag for an uploaded part"))
    }

    async fn complete_multipart(
        &self,
        target: &Target,
        upload: &RemoteUpload<'_>,
        parts: &[(u32, String)],
    ) -> S3Result<()> {
        let doc = CompleteMultipartUpload {
            parts: parts
                .iter()
                .map(|(n, etag)| CompletedPartEntry {
                    part_number: *n,
                    etag: format!("\"{etag}\""),
                    checksum: None,
                })
                .collect(),
        }
        .to_xml();
        let mut headers = HeaderMap::new();
        headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(doc.len()));
        let payload = hex::encode(Sha256::digest(doc.as_bytes()));
        let path = format!(
            "{}?uploadId={}",
            object_path(upload.bucket, upload.key),
            percent_encoding::utf8_percent_encode(upload.upload_id, QUERY)
        );
        let (status, h, body) = self
            .send(
                target,
                Method::POST,
                &path,
                headers,
                &payload,
                Full::new(Bytes::from(doc)),
            )
            .await?;
        // S3 may answer 200 with an error document.
        if String::from_utf8_lossy(&body).contains("<Error>") {
            return Err(failed(target, "CompleteMultipartUpload answered an error"));
        }
        success((status, h, body))
    }

    async fn abort_multipart(&self, target: &Target, upload: &RemoteUpload<'_>) -> S3Result<()> {
        let payload = hex::encode(Sha256::digest(b""));
        let path = format!(
            "{}?uploadId={}",
            object_path(upload.bucket, upload.key),
            percent_encoding::utf8_percent_encode(upload.upload_id, QUERY)
        );
        self.send(
            target,
            Method::DELETE,
            &path,
            HeaderMap::new(),
            &payload,
            Full::new(Bytes::new()),
        )
        .await
        .and_then(success)
    }

    async fn delete_object(
        &self,
        target: &Target,
        bucket: &str,
        key: &str,
        replica: Option<&ReplicaIdentity>,
    ) -> S3Result<()> {
        let payload = hex::encode(Sha256::digest(b""));
        let mut headers = HeaderMap::new();
        if let Some(id) = replica {
            insert(&mut headers, "x-ksan-replica", &id.header());
        }
        self.send(
            target,
            Method::DELETE,
            &object_path(bucket, key),
            headers,
            &payload,
            Full::new(Bytes::new()),
        )
        .await
        .and_then(success)
    }

    async fn put_metadata(
        &self,
        target: &Target,
        bucket: &str,
        version: &ksan_engine::ObjectVersion,
        version_id: Option<&str>,
    ) -> S3Result<()> {
        let path = object_path(bucket, &version.key);
        let on = |sub: &str| match version_id {
            Some(v) => format!("{path}?{sub}&versionId={v}"),
            None => format!("{path}?{sub}"),
        };
        self.put_document(
            target,
            &on("tagging"),
            Tagging {
                tags: version.tags.clone(),
            }
            .to_xml(),
            &[],
        )
        .await?;
        if version_id.is_none() || version.lock.is_empty() {
            return Ok(());
        }
        let retention = RetentionDoc {
            mode: version.lock.retention.map(|r| r.mode.as_str().to_owned()),
            retain_until: version.lock.retention.map(|r| ksan_api::format_iso8601(r.until_ms)),
        };
        // The source already decided the change was allowed; the target's root may bypass
        // governance to follow it.
        let bypass = [("x-amz-bypass-governance-retention", "true")];
        self.put_document(target, &on("retention"), retention.to_xml(), &bypass)
            .await?;
        let hold = LegalHoldDoc {
            on: version.lock.legal_hold,
        };
        self.put_document(target, &on("legal-hold"), hold.to_xml(), &[]).await
    }
}
