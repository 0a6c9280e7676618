//! Server-side encryption on the wire: the request headers that ask for it (read once here,
//! with S3's errors), the headers that answer it, and Put/Get/DeleteBucketEncryption. What the
//! modes mean is the engine's (`ksan_engine::sse`).

use http::StatusCode;
use http::response::Builder;
use ksan_engine::records::SseMode;
use ksan_engine::sse::{CustomerKey, EncryptionConfig, SseRequest};
use ksan_proto::documents::{EncryptionRule, ServerSideEncryptionConfiguration};
use ksan_types::{ErrorCode, S3Error, S3Result};

use crate::headers::get;
use crate::{CONFIG_BODY_LIMIT, Ctx, HandlerResult, S3Api, document_response, empty_response, read_digested_document};

fn invalid(msg: &'static str, name: &'static str, value: Option<&str>) -> S3Error {
    let e = S3Error::new(ErrorCode::InvalidArgument)
        .msg(msg)
        .with("ArgumentName", name);
    match value {
        Some(v) => e.with("ArgumentValue", v.to_owned()),
        None => e,
    }
}

impl S3Api {
    /// SSE-C keys travel in the clear over plain HTTP: S3 refuses them there; ksan too,
    /// unless started with --allow-insecure-sse-c.
    fn customer_key_from(&self, ctx: &Ctx, prefix: &str) -> S3Result<Option<CustomerKey>> {
        let h = |n: &str| get(&ctx.headers, &format!("{prefix}{n}"));
        let key = CustomerKey::parse(
            h("server-side-encryption-customer-algorithm"),
            h("server-side-encryption-customer-key"),
            h("server-side-encryption-customer-key-md5"),
        )?;
        if key.is_some() && !ctx.conn.tls && !self.config.allow_insecure_sse_c {
            return Err(S3Error::new(ErrorCode::InvalidRequest).msg(
                "Requests specifying Server Side Encryption with Customer provided keys must be made over a secure connection.",
            ));
        }
        Ok(key)
    }

    /// The SSE-C key of a read (GET, HEAD, GetObjectAttributes) or of an upload's part.
    /// A read that names another kind of encryption is refused, as S3 refuses it.
    pub(crate) fn read_key(&self, ctx: &Ctx, is_read: bool) -> S3Result<Option<CustomerKey>> {
        if is_read && let Some(v) = get(&ctx.headers, "x-amz-server-side-encryption") {
            return Err(invalid(
                "x-amz-server-side-encryption header is not supported for this operation.",
                "x-amz-server-side-encryption",
                Some(v),
            ));
        }
        self.customer_key_from(ctx, "x-amz-")
    }

    /// The SSE-C key of a copy's source (`x-amz-copy-source-server-side-encryption-customer-*`).
    pub(crate) fn copy_source_key(&self, ctx: &Ctx) -> S3Result<Option<CustomerKey>> {
        self.customer_key_from(ctx, "x-amz-copy-source-")
    }

    /// The encryption a write (PutObject, CopyObject, CreateMultipartUpload) asks for.
    pub(crate) fn write_request(&self, ctx: &Ctx) -> S3Result<Option<SseRequest>> {
        let h = &ctx.headers;
        let sse = get(h, "x-amz-server-side-encryption");
        let key_id = get(h, "x-amz-server-side-encryption-aws-kms-key-id");
        let context = get(h, "x-amz-server-side-encryption-context");
        let bucket_key = match get(h, "x-amz-server-side-encryption-bucket-key-enabled") {
            None => false,
            Some(v) if v.eq_ignore_ascii_case("true") => true,
            Some(v) if v.eq_ignore_ascii_case("false") => false,
            Some(v) => {
                return Err(invalid(
                    "The header x-amz-server-side-encryption-bucket-key-enabled must be true or false.",
                    "x-amz-server-side-encryption-bucket-key-enabled",
                    Some(v),
                ));
            }
        };
        let customer = self.customer_key_from(ctx, "x-amz-")?;
        if customer.is_some() && sse.is_some() {
            return Err(invalid(
                "Server Side Encryption with Customer provided key is incompatible with the encryption method specified",
                "x-amz-server-side-encryption",
                sse,
            ));
        }
        if sse != Some("aws:kms") && (key_id.is_some() || context.is_some()) {
            return Err(invalid(
                "Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms",
                "x-amz-server-side-encryption-aws-kms-key-id",
                key_id,
            ));
        }
        if let Some(c) = context {
            use base64::Engine as _;
            let json = base64::engine::general_purpose::STANDARD
                .decode(c.trim())
                .ok()
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok());
            if !json.is_some_and(|j| j.is_object()) {
                return Err(invalid(
                    "The encryption context must be base64-encoded UTF-8 JSON.",
                    "x-amz-server-side-encryption-context",
                    None,
                ));
            }
        }
        Ok(match (sse, customer) {
            (None, None) => None,
            (None, Some(c)) => Some(SseRequest::Customer(c)),
            (Some("AES256"), _) => Some(SseRequest::S3),
            (Some("aws:kms"), _) => Some(SseRequest::Kms {
                key_id: key_id.map(str::to_owned),
                context: context.map(str::to_owned),
                bucket_key,
            }),
            (Some(other), _) => {
                return Err(invalid(
                    "The encryption method specified is not supported",
                    "x-amz-server-side-encryption",
                    Some(other),
                ));
            }
        })
    }

    pub(crate) async fn put_bucket_encryption(&self, ctx: &Ctx) -> HandlerResult {
        let bucket = self.authorized_bucket(ctx).await?;
        let (doc, digest_sent) =
            read_digested_document::<ServerSideEncryptionConfiguration>(ctx, CONFIG_BODY_LIMIT).await?;
        let [rule] = doc.rules.as_slice() else {
            return Err(S3Error::new(ErrorCode::MalformedXML));
        };
        let kms = match rule.algorithm.as_str() {
            "AES256" => false,
            "aws:kms" => true,
            _ => return Err(S3Error::new(ErrorCode::MalformedXML)),
        };
        let config = EncryptionConfig {
            kms,
            kms_key_id: rule.kms_master_key_id.clone(),
            bucket_key: rule.bucket_key_enabled.unwrap_or(false),
        };
        if let Some(id) = &config.kms_key_id {
            self.engine.keyring().kms().resolve(id).await?;
        }
        self.engine.put_config(bucket.name(), config, digest_sent).await?;
        empty_response(StatusCode::OK)
    }

    pub(crate) async fn get_bucket_encryption(&self, ctx: &Ctx) -> HandlerResult {
        let bucket = self.authorized_bucket(ctx).await?;
        let c = bucket.require::<EncryptionConfig>()?;
        document_response(&ServerSideEncryptionConfiguration {
            rules: vec![EncryptionRule {
                algorithm: if c.kms { "aws:kms" } else { "AES256" }.to_owned(),
                kms_master_key_id: c.kms_key_id.clone(),
                bucket_key_enabled: Some(c.bucket_key),
            }],
        })
    }
}

/// The headers that say how a version (or upload, or part) is encrypted, as S3 answers them.
pub(crate) fn response_headers(mut b: Builder, mode: Option<&SseMode>) -> Builder {
    match mode {
        None => {}
        Some(SseMode::S3) => b = b.header("x-amz-server-side-encryption", "AES256"),
        Some(SseMode::Kms {
            key_id,
            context,
            bucket_key,
        }) => {
            b = b
                .header("x-amz-server-side-encryption", "aws:kms")
                .header("x-amz-server-side-encryption-aws-kms-key-id", key_id.as_str());
            if let Some(c) = context {
                b = b.header("x-amz-server-side-encryption-context", c.as_str());
            }
            if *bucket_key {
                b = b.header("x-amz-server-side-encryption-bucket-key-enabled", "true");
            }
        }
        Some(SseMode::Customer { key_md5, .. }) => {
            b = b
                .header("x-amz-server-side-encryption-customer-algorithm", "AES256")
                .header("x-amz-server-side-encryption-customer-key-md5", key_md5.as_str());
        }
    }
    b
}

/// The same headers, added to a response already built.
pub(crate) fn add_response_headers(resp: &mut http::Response<ksan_proto::ResponseBody>, mode: Option<&SseMode>) {
    let built = response_headers(http::Response::builder(), mode);
    if let Some(h) = built.headers_ref() {
        for (name, value) in h {
            resp.headers_mut().insert(name.clone(), value.clone());
        }
    }
}
