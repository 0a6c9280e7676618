//! A minimal signed HTTP/1 client for the admin API (used by `ksan user ...`).

use bytes::Bytes;
use clap::Args;
use http::{HeaderMap, HeaderValue, Method, Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use sha2::{Digest, Sha256};

#[derive(Debug, Args)]
pub struct AdminArgs {
    /// Admin endpoint of the running server
    #[arg(
        long,
        env = "KSAN_ADMIN_ENDPOINT",
        default_value = "http://127.0.0.1:8081",
        global = true
    )]
    pub endpoint: String,
    /// Root access key
    #[arg(long, env = "KSAN_ROOT_ACCESS_KEY", hide_env_values = true, global = true)]
    pub root_access_key: Option<String>,
    /// Root secret key
    #[arg(long, env = "KSAN_ROOT_SECRET_KEY", hide_env_values = true, global = true)]
    pub root_secret_key: Option<String>,
    /// Region the server runs in (signatures are scoped to it)
    #[arg(long, env = "KSAN_REGION", default_value = "us-east-1", global = true)]
    pub region: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("root credentials are needed: set KSAN_ROOT_ACCESS_KEY and KSAN_ROOT_SECRET_KEY")]
    NoCredentials,
    #[error("bad endpoint {0}")]
    Endpoint(String),
    #[error("cannot reach {0}: {1}")]
    Connect(String, std::io::Error),
    #[error("HTTP: {0}")]
    Http(String),
    #[error("the server answered {0}: {1}")]
    Status(u16, String),
}

pub struct AdminClient {
    authority: String,
    access_key: String,
    secret_key: String,
    region: String,
}

impl AdminClient {
    pub fn new(args: AdminArgs) -> Result<Self, ClientError> {
        let (Some(access_key), Some(secret_key)) = (args.root_access_key, args.root_secret_key) else {
            return Err(ClientError::NoCredentials);
        };
        let uri: Uri = args
            .endpoint
            .parse()
            .map_err(|_| ClientError::Endpoint(args.endpoint.clone()))?;
        if uri.scheme_str() != Some("http") {
            return Err(ClientError::Endpoint(format!(
                "{} (only http:// is supported)",
                args.endpoint
            )));
        }
        let authority = uri
            .authority()
            .map(|a| a.to_string())
            .ok_or_else(|| ClientError::Endpoint(args.endpoint.clone()))?;
        Ok(AdminClient {
            authority,
            access_key,
            secret_key,
            region: args.region,
        })
    }

    pub async fn call(&self, method: &str, path: &str, body: Vec<u8>) -> Result<Bytes, ClientError> {
        let method: Method = method.parse().map_err(|_| ClientError::Http("bad method".into()))?;
        let uri: Uri = format!("http://{}{}", self.authority, path)
            .parse()
            .map_err(|_| ClientError::Endpoint(path.to_owned()))?;
        let mut headers = HeaderMap::new();
        if let Ok(h) = HeaderValue::from_str(&self.authority) {
            headers.insert(http::header::HOST, h);
        }
        let payload_hash = hex::encode(Sha256::digest(&body));
        ksan_proto::auth::sign::sign_v4(
            &method,
            &uri,
            &mut headers,
            &payload_hash,
            &self.access_key,
            &self.secret_key,
            &self.region,
            time::OffsetDateTime::now_utc(),
        );
        let stream = tokio::net::TcpStream::connect(&self.authority)
            .await
            .map_err(|e| ClientError::Connect(self.authority.clone(), e))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| ClientError::Http(e.to_string()))?;
        tokio::spawn(conn);
        let mut req = Request::builder()
            .method(method)
            .uri(uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"))
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| ClientError::Http(e.to_string()))?;
        *req.headers_mut() = headers;
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| ClientError::Http(e.to_string()))?;
        let status = resp.status();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| ClientError::Http(e.to_string()))?
            .to_bytes();
        if !status.is_success() {
            return Err(ClientError::Status(
                status.as_u16(),
                String::from_utf8_lossy(&body).into_owned(),
            ));
        }
        Ok(body)
    }
}
