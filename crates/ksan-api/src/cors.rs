//! CORS: Put/Get/DeleteBucketCors, the `OPTIONS` preflight (answered before authentication,
//! as S3 does) and the CORS headers of actual responses. The rules are judged by one engine
//! function, [`ksan_engine::cors::evaluate`], for all three.

use http::{HeaderMap, HeaderValue, Method, Response, StatusCode};
use ksan_engine::cors::{CorsConfig, CorsHeaders, CorsKind, CorsRequest, CorsRule, VARY, evaluate};
use ksan_proto::ResponseBody;
use ksan_proto::documents::{CorsConfiguration, CorsRuleDoc};
use ksan_types::{ErrorCode, S3Error, S3Result};

use crate::{CONFIG_BODY_LIMIT, Ctx, HandlerResult, S3Api, document_response, empty_response, read_digested_document};

fn to_model(doc: CorsConfiguration) -> CorsConfig {
    CorsConfig(
        doc.rules
            .into_iter()
            .map(|r| CorsRule {
                id: r.id,
                allowed_methods: r.allowed_methods,
                allowed_origins: r.allowed_origins,
                allowed_headers: r.allowed_headers,
                expose_headers: r.expose_headers,
                max_age_seconds: r.max_age_seconds,
            })
            .collect(),
    )
}

fn to_doc(config: &CorsConfig) -> CorsConfiguration {
    CorsConfiguration {
        rules: config
            .0
            .iter()
            .map(|r| CorsRuleDoc {
                id: r.id.clone(),
                allowed_methods: r.allowed_methods.clone(),
                allowed_origins: r.allowed_origins.clone(),
                allowed_headers: r.allowed_headers.clone(),
                expose_headers: r.expose_headers.clone(),
                max_age_seconds: r.max_age_seconds,
            })
            .collect(),
    }
}

/// The CORS parts of a request's headers.
pub(crate) fn request<'a>(kind: CorsKind, method: &'a Method, h: &'a HeaderMap) -> CorsRequest<'a> {
    let get = |n: &str| h.get(n).and_then(|v| v.to_str().ok());
    CorsRequest {
        kind,
        origin: get("origin"),
        method: method.as_str(),
        request_method: get("access-control-request-method"),
        request_headers: get("access-control-request-headers"),
    }
}

/// Add the decided headers to a response.
pub(crate) fn apply(resp: &mut Response<ResponseBody>, found: &CorsHeaders) {
    let h = resp.headers_mut();
    for (name, value) in &found.0 {
        if let Ok(v) = HeaderValue::from_str(value) {
            h.insert(*name, v);
        }
    }
    h.insert(http::header::VARY, HeaderValue::from_static(VARY));
}

impl S3Api {
    pub(crate) async fn put_bucket_cors(&self, ctx: &Ctx) -> HandlerResult {
        let bucket = self.authorized_bucket(ctx).await?;
        let (doc, digest_sent) = read_digested_document::<CorsConfiguration>(ctx, CONFIG_BODY_LIMIT).await?;
        self.engine
            .put_config(bucket.name(), to_model(doc), digest_sent)
            .await?;
        empty_response(StatusCode::OK)
    }

    pub(crate) async fn get_bucket_cors(&self, ctx: &Ctx) -> HandlerResult {
        let bucket = self.authorized_bucket(ctx).await?;
        document_response(&to_doc(bucket.require::<CorsConfig>()?))
    }

    /// A preflight for `bucket`: 200 with the matching rule's headers, or S3's refusal.
    pub(crate) async fn preflight(&self, bucket: Option<&str>, method: &Method, h: &HeaderMap) -> HandlerResult {
        let req = request(CorsKind::Preflight, method, h);
        // Origin and method are checked before the bucket, as S3 does.
        evaluate(None, &req).or_else(|e| match e.code {
            ErrorCode::AccessForbidden => Ok(None),
            _ => Err(e),
        })?;
        let Some(name) = bucket else {
            return Err(S3Error::new(ErrorCode::AccessForbidden).msg("CORSResponse: Bucket not found"));
        };
        let state = self.engine.bucket_state(name).await?;
        let found =
            evaluate(state.get::<CorsConfig>(), &req)?.ok_or_else(|| S3Error::new(ErrorCode::AccessForbidden))?;
        let mut resp = empty_response(StatusCode::OK)?;
        apply(&mut resp, &found);
        Ok(resp)
    }

    /// The CORS headers an actual response to a request with `Origin` gets, if a rule of its
    /// bucket allows it. Failures to find the bucket add nothing.
    pub(crate) async fn actual_cors(
        &self,
        bucket: &str,
        method: &Method,
        h: &HeaderMap,
    ) -> S3Result<Option<CorsHeaders>> {
        let state = self.engine.bucket_state(bucket).await?;
        evaluate(state.get::<CorsConfig>(), &request(CorsKind::Actual, method, h))
    }
}
