//! Static website hosting: Put/Get/DeleteBucketWebsite, and the website endpoint that serves a
//! bucket's objects as a site (`bucket.WEBSITE-DOMAIN`, a CNAME equal to a bucket name, or a
//! listener of its own). The endpoint serves GET and HEAD anonymously, through the same object
//! read (and access decision) as the REST API, with HTML error pages; the engine's
//! `website` module decides redirects, index and error documents.

use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use ksan_engine::website::{
    Origin, Plan, Redirect, RedirectAll, RoutingCondition, RoutingRedirect, RoutingRule, WebsiteConfig,
};
use ksan_engine::{BucketState, Principal};
use ksan_proto::ResponseBody;
use ksan_proto::documents::{RedirectAllDoc, RoutingRuleDoc, WebsiteConfiguration};
use ksan_proto::router::{Endpoint, ObjectRead, Route};
use ksan_types::{BodyStream, ErrorCode, S3Error, TrailerSlot};

use crate::{
    CONFIG_BODY_LIMIT, ConnInfo, Ctx, HandlerResult, S3Api, document_response, empty_response, read_digested_document,
};

fn to_model(doc: WebsiteConfiguration) -> WebsiteConfig {
    WebsiteConfig {
        index_suffix: doc.index_suffix,
        error_key: doc.error_key,
        redirect_all: doc.redirect_all.map(|r| RedirectAll {
            host_name: r.host_name,
            protocol: r.protocol,
        }),
        routing_rules: doc
            .routing_rules
            .into_iter()
            .map(|r| RoutingRule {
                condition: r.has_condition.then_some(RoutingCondition {
                    key_prefix_equals: r.key_prefix_equals,
                    http_error_code_returned_equals: r.http_error_code_returned_equals,
                }),
                redirect: RoutingRedirect {
                    host_name: r.host_name,
                    protocol: r.protocol,
                    replace_key_prefix_with: r.replace_key_prefix_with,
                    replace_key_with: r.replace_key_with,
                    http_redirect_code: r.http_redirect_code,
                },
            })
            .collect(),
    }
}

fn to_doc(c: &WebsiteConfig) -> WebsiteConfiguration {
    WebsiteConfiguration {
        index_suffix: c.index_suffix.clone(),
        error_key: c.error_key.clone(),
        redirect_all: c.redirect_all.as_ref().map(|r| RedirectAllDoc {
            host_name: r.host_name.clone(),
            protocol: r.protocol.clone(),
        }),
        routing_rules: c
            .routing_rules
            .iter()
            .map(|r| RoutingRuleDoc {
                key_prefix_equals: r.condition.as_ref().and_then(|c| c.key_prefix_equals.clone()),
                http_error_code_returned_equals: r.condition.as_ref().and_then(|c| c.http_error_code_returned_equals),
                has_condition: r.condition.is_some(),
                host_name: r.redirect.host_name.clone(),
                protocol: r.redirect.protocol.clone(),
                replace_key_prefix_with: r.redirect.replace_key_prefix_with.clone(),
                replace_key_with: r.redirect.replace_key_with.clone(),
                http_redirect_code: r.redirect.http_redirect_code,
            })
            .collect(),
    }
}

/// The request headers a website read passes on: ranges and conditions, nothing that asks
/// for more than an anonymous GET.
const PASSED_HEADERS: [http::HeaderName; 6] = [
    http::header::RANGE,
    http::header::IF_MATCH,
    http::header::IF_NONE_MATCH,
    http::header::IF_MODIFIED_SINCE,
    http::header::IF_UNMODIFIED_SINCE,
    http::header::HOST,
];

impl S3Api {
    pub(crate) async fn put_bucket_website(&self, ctx: &Ctx) -> HandlerResult {
        let bucket = self.authorized_bucket(ctx).await?;
        let (doc, digest_sent) = read_digested_document::<WebsiteConfiguration>(ctx, CONFIG_BODY_LIMIT).await?;
        self.engine
            .put_config(bucket.name(), to_model(doc), digest_sent)
            .await?;
        empty_response(StatusCode::OK)
    }

    pub(crate) async fn get_bucket_website(&self, ctx: &Ctx) -> HandlerResult {
        let bucket = self.authorized_bucket(ctx).await?;
        document_response(&to_doc(bucket.require::<WebsiteConfig>()?))
    }

    /// Serve one website request for `bucket`. Never fails: errors are HTML pages.
    pub(crate) async fn serve_website(
        &self,
        req: Request<BodyStream>,
        bucket: &str,
        conn: ConnInfo,
        request_id: &str,
    ) -> Response<ResponseBody> {
        let head = req.method() == Method::HEAD;
        let (parts, _body) = req.into_parts();
        match self.website(&parts, bucket, conn, head).await {
            Ok(resp) => resp,
            Err(err) => self.html_error(&err, head, request_id),
        }
    }

    async fn website(&self, parts: &http::request::Parts, bucket: &str, conn: ConnInfo, head: bool) -> HandlerResult {
        if parts.method == Method::OPTIONS {
            return self.preflight(Some(bucket), &parts.method, &parts.headers).await;
        }
        if !matches!(parts.method, Method::GET | Method::HEAD) {
            return Err(S3Error::new(ErrorCode::MethodNotAllowed).msg(format!(
                "The specified method is not allowed against this resource: {}",
                parts.method
            )));
        }
        let state = self.engine.bucket_state(bucket).await?;
        let config = state.require::<WebsiteConfig>()?;
        let key = percent_encoding::percent_decode_str(parts.uri.path())
            .decode_utf8()
            .map_err(|_| S3Error::new(ErrorCode::InvalidURI))?;
        let key = key.strip_prefix('/').unwrap_or(&key).to_owned();
        let host = parts
            .headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or(bucket);
        let at = Origin {
            host,
            protocol: if conn.tls { "https" } else { "http" },
        };
        let (object, requested) = match config.plan(&key, at) {
            Plan::Redirect(r) => return redirect_response(&r),
            Plan::Serve { key, requested } => (key, requested),
        };
        let mut passed = HeaderMap::new();
        for name in &PASSED_HEADERS {
            if let Some(v) = parts.headers.get(name) {
                passed.insert(name.clone(), v.clone());
            }
        }
        let err = match self.anonymous_read(&state, &object, passed, conn, head).await {
            Ok(resp) => return Ok(object_redirect(resp)),
            Err(e) => e,
        };
        // 5: `dir` without its slash, where `dir/` has an index document. A caller who may
        // not list the bucket was told 403 for the missing key; the redirect is still due.
        let missing = match err.code {
            ErrorCode::NoSuchKey => true,
            ErrorCode::AccessDenied => self
                .engine
                .lookup(state.name(), &object, None)
                .await
                .is_err_and(|e| e.code == ErrorCode::NoSuchKey),
            _ => false,
        };
        if missing
            && let Some(index) = config.directory_index(&requested)
            && self
                .anonymous_read(&state, &index, HeaderMap::new(), conn, true)
                .await
                .is_ok()
        {
            return redirect_response(&Redirect {
                status: 302,
                location: format!("/{requested}/"),
            });
        }
        // 6: a routing rule for the error, the error document, or the error itself.
        if let Some(r) = config.on_error(&requested, err.status(), at) {
            return redirect_response(&r);
        }
        if let Some(error_key) = &config.error_key
            && matches!(err.status(), 403 | 404)
            && let Ok(mut resp) = self
                .anonymous_read(&state, error_key, HeaderMap::new(), conn, head)
                .await
        {
            *resp.status_mut() = StatusCode::from_u16(err.status()).unwrap_or(StatusCode::NOT_FOUND);
            return Ok(resp);
        }
        Err(err)
    }

    /// GET (or HEAD) of `key` as an anonymous caller, through the REST read path.
    async fn anonymous_read(
        &self,
        bucket: &BucketState,
        key: &str,
        headers: HeaderMap,
        conn: ConnInfo,
        head: bool,
    ) -> HandlerResult {
        let read = ObjectRead {
            version: None,
            part_number: None,
            overrides: Vec::new(),
        };
        let endpoint = if head {
            Endpoint::HeadObject(read.clone())
        } else {
            Endpoint::GetObject(read.clone())
        };
        let ctx = Ctx {
            route: Route {
                endpoint,
                bucket: Some(bucket.name().to_owned()),
                key: Some(key.to_owned()),
                virtual_host: true,
            },
            headers,
            principal: Principal::Anonymous,
            signature: ksan_proto::auth::SignatureKind::Anonymous,
            conn,
            client_ip: conn.remote.ip(),
            canned_acl: None,
            body: std::sync::Mutex::new(None),
            trailers: TrailerSlot::new(),
        };
        self.get_object(&ctx, &read, head).await
    }

    /// An HTML error page, as the website endpoint answers errors.
    fn html_error(&self, err: &S3Error, head: bool, request_id: &str) -> Response<ResponseBody> {
        let status = StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let title = format!("{} {}", status.as_u16(), status.canonical_reason().unwrap_or(""));
        let mut items = vec![
            ("Code", err.code.as_str().to_owned()),
            ("Message", err.message.to_string()),
        ];
        if let Some(b) = err.bucket_name() {
            items.push(("BucketName", b.to_owned()));
        }
        if let Some(k) = err.key_name() {
            items.push(("Key", k.to_owned()));
        }
        items.push(("RequestId", request_id.to_owned()));
        items.push(("HostId", self.host_id.clone()));
        let mut page = format!(
            "<html>\n<head><title>{}</title></head>\n<body>\n<h1>{}</h1>\n<ul>\n",
            html(&title),
            html(&title)
        );
        for (name, value) in items {
            page.push_str(&format!("<li>{}: {}</li>\n", name, html(&value)));
        }
        page.push_str("</ul>\n<hr/>\n</body>\n</html>\n");
        let body = if head {
            ResponseBody::empty()
        } else {
            ResponseBody::full(page)
        };
        let mut resp = Response::new(body);
        *resp.status_mut() = status;
        resp.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        resp
    }
}

/// An object with `x-amz-website-redirect-location` is a 301 to it.
fn object_redirect(resp: Response<ResponseBody>) -> Response<ResponseBody> {
    let Some(location) = resp.headers().get("x-amz-website-redirect-location").cloned() else {
        return resp;
    };
    let mut r = Response::new(ResponseBody::empty());
    *r.status_mut() = StatusCode::MOVED_PERMANENTLY;
    r.headers_mut().insert(http::header::LOCATION, location);
    r
}

fn redirect_response(r: &Redirect) -> HandlerResult {
    let status = StatusCode::from_u16(r.status).map_err(S3Error::internal)?;
    Response::builder()
        .status(status)
        .header(http::header::LOCATION, r.location.as_str())
        .body(ResponseBody::empty())
        .map_err(S3Error::internal)
}

fn html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
