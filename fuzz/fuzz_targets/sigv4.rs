//! SigV4 and SigV2 authentication of a request whose Authorization header, x-amz-date,
//! x-amz-content-sha256 and query come from the input (lines separated by `\n`). With the
//! access key the lookup knows, inputs reach the canonical request and the signature check.
#![no_main]

use http::{HeaderMap, HeaderValue, Method, Uri};
use ksan_proto::auth::{self, AuthRequest, SecretLookup, SigningKeyCache};
use ksan_types::S3Error;
use libfuzzer_sys::fuzz_target;

struct Keys;
#[async_trait::async_trait]
impl SecretLookup for Keys {
    async fn secret(&self, ak: &str) -> Result<Option<String>, S3Error> {
        Ok((ak == "AKIAFUZZ").then(|| "fuzz-secret-key".to_owned()))
    }
}

fuzz_target!(|data: &[u8]| {
    use futures_util::FutureExt;
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(5, '\n');
    let (auth_v, date, sha, query, method) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or("GET"),
    );
    let mut h = HeaderMap::new();
    h.insert("host", HeaderValue::from_static("localhost"));
    for (name, value) in [
        ("authorization", auth_v),
        ("x-amz-date", date),
        ("x-amz-content-sha256", sha),
    ] {
        if let Ok(v) = HeaderValue::from_str(value) {
            h.insert(name, v);
        }
    }
    let uri: Uri = format!("/bucket/key?{query}")
        .parse()
        .unwrap_or_else(|_| Uri::from_static("/bucket/key"));
    let method = Method::from_bytes(method.as_bytes()).unwrap_or(Method::GET);
    let req = AuthRequest {
        method: &method,
        uri: &uri,
        headers: &h,
        now: time::OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000),
        region: "us-east-1",
        v2_resource_prefix: None,
    };
    let _ = auth::authenticate(&req, &Keys, &SigningKeyCache::new()).now_or_never();
    let _ = auth::presigned_query_headers(&uri);
    let _ = auth::redacted_uri(&uri);
});
