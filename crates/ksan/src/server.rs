//! The HTTP layer: listeners (plain and TLS), one hyper connection task per client, request
//! ids and the access log (in ksan-api), the admin port.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{Stream, TryStreamExt};
use http::{Request, Response};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use ksan_api::{ApiConfig, ConnInfo, S3Api};
use ksan_data::FsDataStore;
use ksan_engine::{Engine, EngineConfig};
use ksan_meta::RedbKv;
use ksan_proto::ResponseBody;
use ksan_types::{BodyStream, ErrorCode, S3Error};
use tokio::net::TcpListener;

use crate::admin::Admin;
use crate::config::ServerConfig;
use crate::conn::{Activity, Budget, Lifecycle, Limits, Paced, Tracked};
use crate::metrics::Metrics;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("data directory {0}: {1}")]
    DataDir(std::path::PathBuf, std::io::Error),
    #[error("metadata store: {0}")]
    Meta(#[from] ksan_meta::MetaError),
    #[error(
        "cannot open the metadata store {0}: {2}. If the file is damaged, restore it (or the \
         whole data directory {1}) from a backup; `ksan check --data {1}` reports what is consistent"
    )]
    MetaOpen(std::path::PathBuf, std::path::PathBuf, ksan_meta::MetaError),
    #[error("data store: {0}")]
    Data(#[from] ksan_data::DataError),
    #[error("cannot listen on {0}: {1}")]
    Listen(SocketAddr, std::io::Error),
    #[error("TLS: {0}")]
    Tls(String),
    #[error("starting the engine: {0}")]
    Root(S3Error),
    #[error("master key: {0}")]
    MasterKey(String),
}

/// A file in the data directory that says the last run stopped through shutdown (removed at
/// start, written at the end of a graceful stop).
const CLEAN_MARKER: &str = "clean-shutdown";

/// A running server: its bound addresses (useful with port 0), and a handle to stop it.
pub struct Running {
    pub s3_addr: SocketAddr,
    pub admin_addr: SocketAddr,
    pub tls_addr: Option<SocketAddr>,
    pub website_addr: Option<SocketAddr>,
    pub root_access_key: String,
    pub root_secret_key: String,
    pub root_generated: bool,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    life: Lifecycle,
    data: std::path::PathBuf,
}

impl Running {
    /// Stop accepting, let requests in flight finish for up to `drain`, drop what is left.
    /// Returns the number of connections that were cut off.
    pub async fn stop(self, drain: Duration) -> usize {
        let cut = self.life.shutdown(drain).await;
        for t in self.tasks {
            t.abort();
        }
        let marker = self.data.join(CLEAN_MARKER);
        if let Err(e) = std::fs::write(&marker, b"").and_then(|()| std::fs::File::open(&self.data)?.sync_all()) {
            tracing::warn!(path = %marker.display(), error = %e, "could not record the clean shutdown");
        }
        cut
    }
}

/// Open the stores, make sure the root user exists, bind every listener, start serving.
pub async fn start(config: ServerConfig, root_keys: Option<(String, String)>) -> Result<Running, ServerError> {
    let meta_path = config.data.join("meta.redb");
    let existed = std::fs::metadata(&meta_path).is_ok_and(|m| m.len() > 0);
    prepare_data_dir(&config.data)?;
    let marker = config.data.join(CLEAN_MARKER);
    let clean = marker.exists();
    if clean {
        std::fs::remove_file(&marker).map_err(|e| ServerError::DataDir(marker.clone(), e))?;
    }
    let meta = RedbKv::open(&meta_path).map_err(|e| match e {
        in_use @ ksan_meta::MetaError::InUse(_) => ServerError::Meta(in_use),
        other => ServerError::MetaOpen(meta_path.clone(), config.data.clone(), other),
    })?;
    match (existed, clean) {
        (false, _) => tracing::info!(data = %config.data.display(), "new data directory"),
        (true, true) => tracing::info!("the previous run shut down cleanly"),
        (true, false) => tracing::warn!(
            repaired = meta.was_repaired(),
            "the previous run did not shut down cleanly (killed or crashed): every acknowledged write \
             is in the metadata store{}; blob files it left unreferenced are removed by the orphan \
             scrubber once a day old",
            if meta.was_repaired() {
                ", which was repaired on open"
            } else {
                ""
            }
        ),
    }
    let data = FsDataStore::open(&config.data)?;
    let engine = Engine::new(
        Arc::new(meta),
        Arc::new(data),
        EngineConfig {
            region: config.region.clone(),
            gc_grace: Duration::from_secs(config.gc_grace),
            master_key: master_key(&config.data, config.master_key_file.as_deref(), true)?,
            lifecycle_day: Duration::from_secs(config.lifecycle_day_secs),
            ..EngineConfig::default()
        },
    );
    engine.migrate_bucket_configs().await.map_err(ServerError::Root)?;
    engine.ensure_user_indexes().await.map_err(ServerError::Root)?;
    let sealed = engine.seal_stored_secrets().await.map_err(ServerError::Root)?;
    if sealed > 0 {
        tracing::info!(
            keys = sealed,
            "sealed the secret keys stored in the clear by an earlier version"
        );
    }

    // Every listener is bound before root keys may be generated: a start that cannot listen
    // must not make keys that nobody is shown.
    let bind = |addr: SocketAddr| async move {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| ServerError::Listen(addr, e))?;
        let local = listener.local_addr().map_err(|e| ServerError::Listen(addr, e))?;
        Ok::<_, ServerError>((listener, local))
    };
    let (listener, s3_addr) = bind(config.listen).await?;
    let tls = match &config.tls {
        Some(tls) => {
            let acceptor = crate::tls::acceptor(&tls.cert, &tls.key).map_err(ServerError::Tls)?;
            Some((acceptor, bind(tls.listen).await?))
        }
        None => None,
    };
    let website = match config.website_listen {
        Some(addr) => Some(bind(addr).await?),
        None => None,
    };
    let (admin_listener, admin_addr) = bind(config.admin_listen).await?;

    let (root_ak, root_sk, generated) = engine.ensure_root(root_keys).await.map_err(ServerError::Root)?;
    let gc_period = Duration::from_secs(config.gc_interval.max(1));
    engine.spawn_worker(ksan_engine::workers::GcWorker, gc_period);
    engine.spawn_worker(ksan_engine::workers::CompletedUploadsWorker, gc_period);
    engine.spawn_worker(
        ksan_engine::workers::ScrubWorker,
        Duration::from_secs(config.scrub_interval.max(1)),
    );
    let sink = crate::remote::HttpSink::new().map_err(|e| ServerError::Tls(e.to_string()))?;
    engine.set_remote_sink(Arc::new(sink));
    // Replication items a killed run had claimed come due now, not after their lease.
    engine
        .release_queue(ksan_engine::keys::Queue::Replicate)
        .await
        .map_err(ServerError::Root)?;
    engine.spawn_worker(ksan_engine::workers::ReplicationWorker, Duration::from_millis(500));
    engine.spawn_worker(
        ksan_engine::workers::LifecycleWorker,
        Duration::from_secs(config.lifecycle_interval.max(1)),
    );
    if config.verify_rate > 0 {
        engine.spawn_worker(
            ksan_engine::workers::VerifyWorker {
                bytes_per_sec: config.verify_rate.saturating_mul(1024 * 1024),
            },
            Duration::from_secs(config.verify_interval.max(1)),
        );
    }

    let api = Arc::new(S3Api::new(
        engine.clone(),
        ApiConfig {
            region: config.region.clone(),
            domains: config.domains.clone(),
            trusted_proxies: config.trusted_proxies.clone(),
            website_domains: config.website_domains.clone(),
            allow_insecure_sse_c: config.allow_insecure_sse_c,
        },
    ));
    let metrics = Arc::new(Metrics::default());
    let life = Lifecycle::default();
    let limits = config.limits;
    let s3 = S3Listener {
        api: api.clone(),
        metrics: metrics.clone(),
        tls: None,
        website: false,
        limits,
        // The plain and TLS listeners share one budget.
        budget: Budget::new(limits.max_connections),
        life: life.clone(),
    };
    let mut tasks = vec![tokio::spawn(serve_s3(listener, s3.clone()))];
    let mut tls_addr = None;
    if let Some((acceptor, (listener, addr))) = tls {
        tls_addr = Some(addr);
        let l = S3Listener {
            tls: Some(acceptor),
            ..s3.clone()
        };
        tasks.push(tokio::spawn(serve_s3(listener, l)));
    }
    let mut website_addr = None;
    if let Some((listener, addr)) = website {
        website_addr = Some(addr);
        let l = S3Listener {
            website: true,
            ..s3.clone()
        };
        tasks.push(tokio::spawn(serve_s3(listener, l)));
    }
    let admin = Arc::new(Admin::new(engine, config.region.clone(), metrics));
    let admin_budget = Budget::new(config.admin_max_connections);
    tasks.push(tokio::spawn(crate::admin::serve(
        admin_listener,
        admin,
        admin_budget,
        limits,
        life.clone(),
    )));

    Ok(Running {
        s3_addr,
        admin_addr,
        tls_addr,
        website_addr,
        root_access_key: root_ak,
        root_secret_key: root_sk,
        root_generated: generated,
        tasks,
        life,
        data: config.data.clone(),
    })
}

/// The master key: KSAN_MASTER_KEY, else --master-key-file, else DATA/master.key, made on the
/// first start (mode 0600, written before anything is encrypted with it) with a warning that it
/// must be backed up apart from the data: without it no encrypted object can be read.
pub fn master_key(
    data: &std::path::Path,
    file: Option<&std::path::Path>,
    generate: bool,
) -> Result<ksan_engine::sse::MasterKey, ServerError> {
    use ksan_engine::sse::MasterKey;
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt;
    let bad = |what: String| ServerError::MasterKey(format!("{what}: expected the base64 form of 32 bytes"));
    if let Ok(text) = std::env::var("KSAN_MASTER_KEY") {
        return MasterKey::from_base64(&text).ok_or_else(|| bad("KSAN_MASTER_KEY".into()));
    }
    let (path, given) = match file {
        Some(p) => (p.to_path_buf(), true),
        None => (data.join("master.key"), false),
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => MasterKey::from_base64(&text).ok_or_else(|| bad(path.display().to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !given && generate => {
            let key = MasterKey::random().map_err(|e| ServerError::MasterKey(e.to_string()))?;
            let write = || -> std::io::Result<()> {
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&path)?;
                f.write_all(format!("{}\n", key.to_base64()).as_bytes())?;
                f.sync_all()?;
                std::fs::File::open(data)?.sync_all()
            };
            write().map_err(|e| ServerError::MasterKey(format!("cannot write {}: {e}", path.display())))?;
            tracing::warn!(
                path = %path.display(),
                "generated a new master key: it wraps the keys of every encrypted object; back it up \
                 apart from the data (without it encrypted objects cannot be read), or give your own \
                 with KSAN_MASTER_KEY or --master-key-file"
            );
            Ok(key)
        }
        Err(e) => Err(ServerError::MasterKey(format!("cannot read {}: {e}", path.display()))),
    }
}

/// Make the data directory private: the directory 0700, the metadata file (which holds the
/// secret keys) 0600, created so before any byte goes into it; an existing installation is
/// tightened the same way.
fn prepare_data_dir(dir: &std::path::Path) -> Result<(), ServerError> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
    let err = |path: &std::path::Path| {
        let path = path.to_path_buf();
        move |e| ServerError::DataDir(path, e)
    };
    if dir.exists() && !dir.is_dir() {
        return Err(ServerError::DataDir(
            dir.to_path_buf(),
            std::io::Error::other("the data dir is a file, not a directory"),
        ));
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(err(dir))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(err(dir))?;
    let meta = dir.join("meta.redb");
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&meta)
        .map_err(err(&meta))?;
    std::fs::set_permissions(&meta, std::fs::Permissions::from_mode(0o600)).map_err(err(&meta))?;
    Ok(())
}

/// The request body as the stream the API layer consumes. A broken connection mid-body is an
/// IncompleteBody, one slower than the limits' pace a RequestTimeout: nothing partial is ever
/// stored. `polled` is set once the body is first asked for (which is when hyper sends
/// `100 Continue`).
pub fn body_stream(body: Incoming, polled: Option<Arc<AtomicBool>>, limits: &Limits) -> BodyStream {
    let stream = body
        .into_data_stream()
        .map_err(|_| S3Error::new(ErrorCode::IncompleteBody));
    let paced = Paced::new(stream, limits.body_timeout, limits.body_min_bytes);
    match polled {
        None => Box::pin(paced),
        Some(flag) => {
            let mut stream = Box::pin(paced);
            Box::pin(futures_util::stream::poll_fn(move |cx| {
                flag.store(true, Ordering::Relaxed);
                stream.as_mut().poll_next(cx)
            }))
        }
    }
}

/// An HTTP/1.1 request that asked for `100 Continue` before sending its body.
///
/// hyper sends the interim `100 Continue` when the handler first reads the body, and never for
/// a body of length 0. A final response that was not preceded by `100 Continue` leaves the
/// client unsure whether to send the body (RFC 9110 §10.1.1 asks the server to say whether it
/// will go on reading or close), and clients do not recover from it: botocore answers such a
/// response without sending the body and then misreads the next response on the connection
/// (it keeps the first response's status line and reads the next one's as a header), so a
/// zero-byte `put_object` followed by another upload stalled until the read timeout. Such
/// responses therefore close the connection, saying so with `Connection: close`.
#[derive(Debug, Clone, Copy)]
struct ExpectContinue {
    /// Content-Length: 0, so hyper sends no `100 Continue` at all.
    empty_body: bool,
}

impl ExpectContinue {
    fn of(parts: &http::request::Parts) -> Option<Self> {
        let expects = parts.version == http::Version::HTTP_11
            && parts
                .headers
                .get(http::header::EXPECT)
                .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
        expects.then(|| ExpectContinue {
            empty_body: parts
                .headers
                .get(http::header::CONTENT_LENGTH)
                .is_some_and(|v| v.as_bytes().trim_ascii() == b"0"),
        })
    }

    /// True if the response goes out without a `100 Continue` before it.
    fn must_close(self, body_polled: bool) -> bool {
        self.empty_body || !body_polled
    }
}

/// Everything a listener's connections share.
#[derive(Clone)]
struct S3Listener {
    api: Arc<S3Api>,
    metrics: Arc<Metrics>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    /// Serves only websites (--website-listen).
    website: bool,
    limits: Limits,
    budget: Budget,
    life: Lifecycle,
}

/// Accept until the server drains. Each connection runs under the listener's budget.
async fn serve_s3(listener: TcpListener, l: S3Listener) {
    let mut draining = l.life.draining();
    loop {
        let (stream, remote) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = draining.changed() => return,
        };
        // Small responses must not wait for Nagle (40 ms stalls on small GETs otherwise).
        let _ = stream.set_nodelay(true);
        let Some(permit) = l.budget.try_take() else {
            tokio::spawn(crate::conn::refuse(stream));
            continue;
        };
        let l = l.clone();
        l.life.clone().spawn(async move {
            let _permit = permit;
            let conn = ConnInfo {
                remote,
                tls: l.tls.is_some(),
                website: l.website,
            };
            let activity = Activity::new();
            match l.tls.clone() {
                None => serve_conn(Tracked::new(stream, activity.clone()), conn, &l, &activity).await,
                Some(acceptor) => {
                    let handshake = tokio::time::timeout(l.limits.header_timeout, acceptor.accept(stream)).await;
                    match handshake {
                        Ok(Ok(s)) => serve_conn(Tracked::new(s, activity.clone()), conn, &l, &activity).await,
                        Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!("TLS handshake timed out"),
                    }
                }
            }
        });
    }
}

/// One client connection: HTTP/1.1 or HTTP/2, until it ends, idles out or the server stops.
async fn serve_conn<T>(io: T, conn: ConnInfo, l: &S3Listener, activity: &Arc<Activity>)
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (api, metrics, limits, act) = (l.api.clone(), l.metrics.clone(), l.limits, activity.clone());
    let service = service_fn(move |req: Request<Incoming>| {
        let (api, metrics, act) = (api.clone(), metrics.clone(), act.clone());
        async move {
            let _in_flight = act.begin();
            let started = Instant::now();
            let method = req.method().clone();
            let uri = req.uri().clone();
            let (parts, body) = req.into_parts();
            let expect = ExpectContinue::of(&parts);
            let polled = Arc::new(AtomicBool::new(false));
            let watch = expect.map(|_| polled.clone());
            let req = Request::from_parts(parts, body_stream(body, watch, &limits));
            let mut resp = api.handle(req, conn).await;
            if expect.is_some_and(|e| e.must_close(polled.load(Ordering::Relaxed))) {
                resp.headers_mut()
                    .insert(http::header::CONNECTION, http::HeaderValue::from_static("close"));
            }
            metrics.record(resp.status().as_u16());
            tracing::info!(
                target: "ksan::access",
                remote = %conn.remote,
                %method,
                uri = %ksan_proto::auth::redacted_uri(&uri),
                status = resp.status().as_u16(),
                micros = started.elapsed().as_micros() as u64,
                request_id = resp.headers().get("x-amz-request-id").and_then(|v| v.to_str().ok()).unwrap_or(""),
            );
            Ok::<Response<ResponseBody>, Infallible>(resp)
        }
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .max_buf_size(256 * 1024)
        // A client may send its whole request and shut its side: it still gets the answer.
        .half_close(true)
        .header_read_timeout(limits.header_timeout)
        .timer(hyper_util::rt::TokioTimer::new());
    let served = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(served);
    crate::conn::drive(served.as_mut(), |c| c.graceful_shutdown(), activity, &limits, &l.life).await;
}

/// Collect a small body (admin API requests).
pub async fn collect_small(body: Incoming, limit: usize) -> Option<Bytes> {
    let collected = http_body_util::Limited::new(body, limit).collect().await.ok()?;
    Some(collected.to_bytes())
}
