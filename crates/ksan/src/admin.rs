//! The admin port: `/health`, `/ready`, `/metrics`, and the admin API (users, buckets), which takes
//! SigV4-signed requests from the root user only.
//!
//! Admin API (JSON):
//! - `GET /admin/v1/users` -> `[{"name", "canonical_id", "display_name", "access_keys"}]`
//! - `POST /admin/v1/users` `{"name", "access_key"?, "secret_key"?}` -> the user and its keys
//! - `DELETE /admin/v1/users/{name}` (refused while the user owns buckets; `?force` first gives
//!   them to the root user)
//! - `GET /admin/v1/buckets` -> `[{"name", "owner", "owner_canonical_id", "created_ms"}]`, every
//!   bucket of every user
//! - `PUT /admin/v1/buckets/{name}/owner` `{"user"}`: give a bucket to another user

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use ksan_engine::Engine;
use ksan_engine::users::{generate_access_key, generate_secret_key};
use ksan_proto::auth::{self, AuthRequest, PayloadCheck, SecretLookup, SigningKeyCache};
use ksan_types::S3Error;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;

use crate::conn::{Activity, Budget, Lifecycle, Limits, Tracked};
use crate::metrics::Metrics;

pub struct Admin {
    engine: Arc<Engine>,
    region: String,
    metrics: Arc<Metrics>,
    keys: SigningKeyCache,
}

#[derive(Debug, Deserialize, Serialize)]
pub struct CreateUser {
    pub name: String,
    pub access_key: Option<String>,
    pub secret_key: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
}

#[derive(Debug, Deserialize, Serialize)]
pub struct UserInfo {
    pub name: String,
    pub canonical_id: String,
    pub display_name: String,
    pub access_keys: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub secret_key: Option<String>,
}

/// `PUT /admin/v1/buckets/{name}/owner`
#[derive(Debug, Deserialize, Serialize)]
pub struct SetOwner {
    pub user: String,
}

/// One key of `GET /admin/v1/kms/keys` (and the answer of `POST`): never its material.
#[derive(Debug, Deserialize, Serialize)]
pub struct KmsKeyInfo {
    pub id: String,
    pub enabled: bool,
    pub created_ms: i64,
}

/// `POST /admin/v1/kms/keys`
#[derive(Debug, Deserialize, Serialize)]
pub struct CreateKmsKey {
    pub id: String,
}

fn kms_info(k: ksan_engine::kms::KmsKeyInfo) -> KmsKeyInfo {
    KmsKeyInfo {
        id: k.id,
        enabled: k.enabled,
        created_ms: k.created_ms,
    }
}

/// `POST /admin/v1/replication-targets`: register (or replace) a target.
#[derive(Debug, Deserialize, Serialize)]
pub struct AddTarget {
    pub name: String,
    pub endpoint: String,
    #[serde(default = "default_region")]
    pub region: String,
    pub access_key: String,
    pub secret_key: String,
    /// The target is another ksan (these are its root credentials): replicas keep their
    /// version ids and times.
    #[serde(default)]
    pub ksan: bool,
    /// PEM certificates to trust for an https endpoint instead of the system's roots.
    #[serde(default)]
    pub ca_pem: Option<String>,
}

fn default_region() -> String {
    "us-east-1".to_owned()
}

/// One bucket of `GET /admin/v1/buckets`.
#[derive(Debug, Deserialize, Serialize)]
pub struct BucketInfo {
    pub name: String,
    /// The owner's user name; None if no user has the owner's canonical id any more.
    pub owner: Option<String>,
    pub owner_canonical_id: String,
    pub created_ms: i64,
}

struct Secrets<'a>(&'a Engine);

#[async_trait::async_trait]
impl SecretLookup for Secrets<'_> {
    async fn secret(&self, ak: &str) -> Result<Option<String>, S3Error> {
        self.0.secret_for(ak).await
    }
}

type AdminResponse = Response<Full<Bytes>>;

fn text(status: StatusCode, body: impl Into<Bytes>) -> AdminResponse {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r
}

fn json<T: Serialize>(status: StatusCode, value: &T) -> AdminResponse {
    match serde_json::to_vec(value) {
        Ok(body) => {
            let mut r = text(status, body);
            r.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/json"),
            );
            r
        }
        Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

fn s3_error(e: &S3Error) -> AdminResponse {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json(
        status,
        &serde_json::json!({"code": e.code.as_str(), "message": e.message}),
    )
}

impl Admin {
    pub fn new(engine: Arc<Engine>, region: String, metrics: Arc<Metrics>) -> Self {
        Admin {
            engine,
            region,
            metrics,
            keys: SigningKeyCache::new(),
        }
    }

    async fn handle(&self, req: Request<Incoming>) -> AdminResponse {
        match (req.method(), req.uri().path()) {
            (&Method::GET, "/health") => return text(StatusCode::OK, "ok\n"),
            (&Method::GET, "/ready") => {
                return match self.engine.list_users().await {
                    Ok(_) => text(StatusCode::OK, "ready\n"),
                    Err(_) => text(StatusCode::SERVICE_UNAVAILABLE, "not ready\n"),
                };
            }
            (&Method::GET, "/metrics") => {
                let mut body = self.metrics.render(
                    &self.engine.worker_status(),
                    self.engine.integrity(),
                    self.engine.lifecycle_stats(),
                );
                let backlog = self.engine.replication_backlog(100_000).await.unwrap_or_default();
                body.push_str(&crate::metrics::render_replication(
                    &self.engine.replication_stats(),
                    &backlog,
                ));
                return text(StatusCode::OK, body);
            }
            _ => {}
        }
        if !req.uri().path().starts_with("/admin/v1/") {
            return text(StatusCode::NOT_FOUND, "not found\n");
        }
        let (parts, body) = req.into_parts();
        let Some(body) = crate::server::collect_small(body, 64 * 1024).await else {
            return text(StatusCode::BAD_REQUEST, "body too large or broken\n");
        };
        if let Err(e) = self.authenticate_root(&parts, &body).await {
            return s3_error(&e);
        }
        let path = parts.uri.path().trim_end_matches('/');
        match (&parts.method, path) {
            (&Method::GET, "/admin/v1/users") => match self.engine.list_users().await {
                Ok(users) => json(StatusCode::OK, &users.into_iter().map(info).collect::<Vec<_>>()),
                Err(e) => s3_error(&e),
            },
            (&Method::POST, "/admin/v1/users") => {
                let Ok(req) = serde_json::from_slice::<CreateUser>(&body) else {
                    return text(StatusCode::BAD_REQUEST, "expected {\"name\": ...}\n");
                };
                let ak = req.access_key.unwrap_or_else(generate_access_key);
                let sk = req.secret_key.unwrap_or_else(generate_secret_key);
                match self
                    .engine
                    .create_user_with_email(&req.name, &ak, &sk, false, req.email)
                    .await
                {
                    Ok(user) => {
                        let mut i = info(user);
                        i.secret_key = Some(sk);
                        json(StatusCode::OK, &i)
                    }
                    Err(e) => s3_error(&e),
                }
            }
            (&Method::DELETE, p) if p.starts_with("/admin/v1/users/") => {
                let name = &p["/admin/v1/users/".len()..];
                let force = parts
                    .uri
                    .query()
                    .is_some_and(|q| q.split('&').any(|kv| kv == "force" || kv == "force=true"));
                match self.engine.delete_user(name, force).await {
                    Ok(()) => text(StatusCode::NO_CONTENT, ""),
                    Err(e) => s3_error(&e),
                }
            }
            (&Method::GET, "/admin/v1/buckets") => match self.buckets().await {
                Ok(list) => json(StatusCode::OK, &list),
                Err(e) => s3_error(&e),
            },
            (&Method::PUT, p) if p.starts_with("/admin/v1/buckets/") && p.ends_with("/owner") => {
                let bucket = &p["/admin/v1/buckets/".len()..p.len() - "/owner".len()];
                let Ok(req) = serde_json::from_slice::<SetOwner>(&body) else {
                    return text(StatusCode::BAD_REQUEST, "expected {\"user\": ...}\n");
                };
                let user = match self.engine.get_user(&req.user).await {
                    Ok(Some(u)) => u,
                    Ok(None) => return text(StatusCode::NOT_FOUND, "no such user\n"),
                    Err(e) => return s3_error(&e),
                };
                match self.engine.transfer_bucket(bucket, &user).await {
                    Ok(()) => text(StatusCode::NO_CONTENT, ""),
                    Err(e) => s3_error(&e),
                }
            }
            (&Method::GET, "/admin/v1/kms/keys") => match self.engine.kms().list().await {
                Ok(list) => json(StatusCode::OK, &list.into_iter().map(kms_info).collect::<Vec<_>>()),
                Err(e) => s3_error(&e),
            },
            (&Method::POST, "/admin/v1/kms/keys") => {
                let Ok(req) = serde_json::from_slice::<CreateKmsKey>(&body) else {
                    return text(StatusCode::BAD_REQUEST, "expected {\"id\": ...}\n");
                };
                match self.engine.kms().create(&req.id).await {
                    Ok(k) => json(StatusCode::CREATED, &kms_info(k)),
                    Err(e) => s3_error(&e),
                }
            }
            (&Method::POST, p) if p.starts_with("/admin/v1/kms/keys/") => {
                let rest = &p["/admin/v1/kms/keys/".len()..];
                let (id, enabled) = match rest.rsplit_once('/') {
                    Some((id, "enable")) => (id, true),
                    Some((id, "disable")) => (id, false),
                    _ => return text(StatusCode::NOT_FOUND, "not found\n"),
                };
                match self.engine.kms().set_enabled(id, enabled).await {
                    Ok(()) => text(StatusCode::NO_CONTENT, ""),
                    Err(e) => s3_error(&e),
                }
            }
            (&Method::GET, "/admin/v1/replication-targets") => match self.engine.list_targets().await {
                Ok(list) => json(StatusCode::OK, &list),
                Err(e) => s3_error(&e),
            },
            (&Method::POST, "/admin/v1/replication-targets") => {
                let Ok(req) = serde_json::from_slice::<AddTarget>(&body) else {
                    return text(
                        StatusCode::BAD_REQUEST,
                        "expected {\"name\", \"endpoint\", \"access_key\", \"secret_key\", \"region\"}\n",
                    );
                };
                let target = ksan_engine::targets::NewTarget {
                    name: &req.name,
                    endpoint: &req.endpoint,
                    region: &req.region,
                    access_key: &req.access_key,
                    secret_key: &req.secret_key,
                    ksan: req.ksan,
                    ca_pem: req.ca_pem.as_deref(),
                };
                match self.engine.put_target(target).await {
                    Ok(()) => text(StatusCode::CREATED, ""),
                    Err(e) => s3_error(&e),
                }
            }
            (&Method::DELETE, p) if p.starts_with("/admin/v1/replication-targets/") => {
                match self
                    .engine
                    .delete_target(&p["/admin/v1/replication-targets/".len()..])
                    .await
                {
                    Ok(()) => text(StatusCode::NO_CONTENT, ""),
                    Err(e) => s3_error(&e),
                }
            }
            _ => text(StatusCode::NOT_FOUND, "not found\n"),
        }
    }

    /// Every bucket with its owner's name (or, for an owner that is gone, its canonical id).
    async fn buckets(&self) -> Result<Vec<BucketInfo>, S3Error> {
        let users = self.engine.list_users().await?;
        let buckets = self.engine.all_buckets().await?;
        Ok(buckets
            .into_iter()
            .map(|b| BucketInfo {
                owner: users.iter().find(|u| u.canonical_id == b.owner).map(|u| u.name.clone()),
                name: b.name,
                owner_canonical_id: b.owner,
                created_ms: b.created_ms,
            })
            .collect())
    }

    /// Only SigV4-signed requests of the root user, with the body's hash signed.
    async fn authenticate_root(&self, parts: &http::request::Parts, body: &[u8]) -> Result<(), S3Error> {
        let denied = || S3Error::new(ksan_types::ErrorCode::AccessDenied);
        let req = AuthRequest {
            method: &parts.method,
            uri: &parts.uri,
            headers: &parts.headers,
            now: time::OffsetDateTime::now_utc(),
            region: &self.region,
            v2_resource_prefix: None,
        };
        let a = auth::authenticate(&req, &Secrets(&self.engine), &self.keys).await?;
        let ak = a.access_key.ok_or_else(denied)?;
        match a.payload {
            PayloadCheck::Sha256(expected) if Sha256::digest(body).as_slice() == expected => {}
            _ => return Err(denied()),
        }
        match self.engine.user_for_key(&ak).await? {
            Some(u) if u.root => Ok(()),
            _ => Err(denied()),
        }
    }
}

fn info(u: ksan_engine::UserRecord) -> UserInfo {
    UserInfo {
        name: u.name,
        canonical_id: u.canonical_id,
        display_name: u.display_name,
        access_keys: u.access_keys,
        secret_key: None,
    }
}

/// Accept admin connections until the server drains, under the admin port's own budget (a
/// flood on the S3 port cannot make `/health` unreachable).
pub async fn serve(listener: TcpListener, admin: Arc<Admin>, budget: Budget, limits: Limits, life: Lifecycle) {
    let mut draining = life.draining();
    loop {
        let stream = tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, _)) => stream,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = draining.changed() => return,
        };
        let _ = stream.set_nodelay(true);
        let Some(permit) = budget.try_take() else {
            tokio::spawn(crate::conn::refuse(stream));
            continue;
        };
        let (admin, life2) = (admin.clone(), life.clone());
        life.spawn(async move {
            let _permit = permit;
            let activity = Activity::new();
            let act = activity.clone();
            let service = service_fn(move |req| {
                let (admin, act) = (admin.clone(), act.clone());
                async move {
                    let _in_flight = act.begin();
                    Ok::<_, Infallible>(admin.handle(req).await)
                }
            });
            let mut builder = auto::Builder::new(TokioExecutor::new());
            builder
                .http1()
                .header_read_timeout(limits.header_timeout)
                .timer(hyper_util::rt::TokioTimer::new());
            let served = builder.serve_connection(TokioIo::new(Tracked::new(stream, activity.clone())), service);
            tokio::pin!(served);
            crate::conn::drive(served.as_mut(), |c| c.graceful_shutdown(), &activity, &limits, &life2).await;
        });
    }
}
