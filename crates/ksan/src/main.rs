//! `ksan`: an S3-compatible object storage server.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod admin;
mod client;
mod config;
mod conn;
mod metrics;
mod remote;
mod server;
mod tls;

#[derive(Parser)]
#[command(
    name = "ksan",
    version,
    about = "ksan: an S3-compatible object storage server",
    after_help = "Logging: KSAN_LOG takes a tracing filter (default \"info,ksan::access=warn\"; \
                  \"info\" adds the access log, \"debug\" failed requests). Logs go to stderr."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the S3 endpoint and the admin port.
    ///
    /// Root credentials come from KSAN_ROOT_ACCESS_KEY / KSAN_ROOT_SECRET_KEY; without them,
    /// the first start generates a pair, stores it, and prints it once.
    Server(Box<config::ServerArgs>),
    /// Manage users through a running server's admin API (signed with root credentials).
    User {
        #[command(subcommand)]
        command: UserCommand,
        #[command(flatten)]
        admin: client::AdminArgs,
    },
    /// Report, read-only, how a data directory's metadata and blobs agree: rows whose bytes
    /// are missing, blobs no row names, bytes that do not match their checksums. Run it while
    /// no server uses the directory. Exits 1 if something is wrong.
    Check {
        /// The data directory.
        #[arg(long, env = "KSAN_DATA", default_value = "data")]
        data: std::path::PathBuf,
        /// Do not read object bytes (no checksum verification).
        #[arg(long)]
        quick: bool,
    },
    /// Manage the built-in key service (SSE-KMS keys) through a running server's admin API.
    Kms {
        #[command(subcommand)]
        command: KmsCommand,
        #[command(flatten)]
        admin: client::AdminArgs,
    },
    /// Register the other S3 endpoints replication rules may name
    /// (`arn:ksan:replication::NAME:BUCKET`), through a running server's admin API.
    ReplicationTarget {
        #[command(subcommand)]
        command: TargetCommand,
        #[command(flatten)]
        admin: client::AdminArgs,
    },
    /// Administer every user's buckets through a running server's admin API (root only).
    Bucket {
        #[command(subcommand)]
        command: BucketCommand,
        #[command(flatten)]
        admin: client::AdminArgs,
    },
}

#[derive(Subcommand)]
enum TargetCommand {
    /// Register (or replace) a target: its endpoint and the credentials to write there (the
    /// secret is stored sealed and never shown again).
    Add {
        name: String,
        /// `http://host:port` or `https://host:port`
        #[arg(long = "target-endpoint")]
        target_endpoint: String,
        #[arg(long)]
        access_key: String,
        #[arg(long, env = "KSAN_TARGET_SECRET_KEY", hide_env_values = true)]
        secret_key: String,
        /// The region requests to it are signed for
        #[arg(long = "target-region", default_value = "us-east-1")]
        target_region: String,
        /// The target is another ksan and these are its root credentials: replicas keep
        /// their version ids, modification times and ETags there
        #[arg(long)]
        ksan: bool,
        /// PEM certificates to trust for an https endpoint instead of the system's roots
        #[arg(long)]
        ca_file: Option<std::path::PathBuf>,
    },
    /// List the targets (never their secrets).
    List,
    /// Remove a target.
    Remove { name: String },
}

#[derive(Subcommand)]
enum KmsCommand {
    /// Make a key of the built-in key service (SSE-KMS); requests name it by id or by ARN
    /// `arn:aws:kms:REGION:ACCOUNT:key/ID`.
    CreateKey { id: String },
    /// List the keys (never their material).
    List,
    /// Refuse new encryption and decryption with a key.
    DisableKey { id: String },
    /// Allow a disabled key again.
    EnableKey { id: String },
}

#[derive(Subcommand)]
enum BucketCommand {
    /// List every bucket with its owner.
    List,
    /// Give a bucket to another user.
    Chown { bucket: String, user: String },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user with one access key (generated unless given) and print its keys.
    Create {
        name: String,
        #[arg(long)]
        access_key: Option<String>,
        #[arg(long)]
        secret_key: Option<String>,
        /// E-mail address ACL grants (`emailAddress=`) can name the user by.
        #[arg(long)]
        email: Option<String>,
    },
    /// List users.
    List,
    /// Delete a user and its access keys (refused while it owns buckets).
    Delete {
        name: String,
        /// Give the user's buckets to the root user, then delete it.
        #[arg(long)]
        force: bool,
    },
}

/// Raise the soft limit on open files to the hard limit: every connection and every blob
/// read takes a descriptor, and distributions' default soft limit (1024) is easily reached.
fn raise_fd_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed in.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            let wanted = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &wanted) != 0 {
                tracing::warn!(
                    soft = lim.rlim_cur,
                    hard = lim.rlim_max,
                    "could not raise the open-file limit"
                );
            }
        }
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("KSAN_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,ksan::access=warn")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    if matches!(cli.command, Command::Server(_)) {
        raise_fd_limit();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ksan: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result: Result<Result<(), Box<dyn std::error::Error>>, ExitCode> = runtime.block_on(async move {
        Ok(match cli.command {
            Command::Server(args) => run_server(*args).await,
            Command::User { command, admin } => run_user(command, admin).await,
            Command::Bucket { command, admin } => run_bucket(command, admin).await,
            Command::Kms { command, admin } => run_kms(command, admin).await,
            Command::ReplicationTarget { command, admin } => run_targets(command, admin).await,
            Command::Check { data, quick } => match run_check(&data, quick).await {
                Ok(true) => Ok(()),
                Ok(false) => return Err(ExitCode::from(1)),
                Err(e) => Err(e),
            },
        })
    });
    let result = match result {
        Ok(r) => r,
        Err(code) => return code,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ksan: {e}");
            ExitCode::FAILURE
        }
    }
}

fn root_keys_from_env() -> Option<(String, String)> {
    let ak = std::env::var("KSAN_ROOT_ACCESS_KEY").ok().filter(|s| !s.is_empty())?;
    let sk = std::env::var("KSAN_ROOT_SECRET_KEY").ok().filter(|s| !s.is_empty())?;
    Some((ak, sk))
}

async fn run_server(args: config::ServerArgs) -> Result<(), Box<dyn std::error::Error>> {
    let config = args.resolve()?;
    let running = server::start(config.clone(), root_keys_from_env()).await?;
    if running.root_generated {
        println!(
            "Root credentials (generated now, printed once; stored in {}):",
            config.data.display()
        );
        println!("  KSAN_ROOT_ACCESS_KEY={}", running.root_access_key);
        println!("  KSAN_ROOT_SECRET_KEY={}", running.root_secret_key);
    }
    println!("ksan S3 endpoint on http://{}", running.s3_addr);
    if let Some(addr) = running.tls_addr {
        println!("ksan S3 endpoint on https://{addr}");
    }
    if let Some(addr) = running.website_addr {
        println!("ksan website endpoint on http://{addr}");
    }
    println!("ksan admin on http://{}", running.admin_addr);
    tracing::info!(data = %config.data.display(), region = %config.region, "serving");
    shutdown_signal().await;
    tracing::info!(
        drain_secs = config.shutdown_timeout.as_secs(),
        "shutting down: finishing requests in flight"
    );
    let cut = running.stop(config.shutdown_timeout).await;
    if cut > 0 {
        tracing::warn!(
            connections = cut,
            "cut off connections still busy after the drain timeout"
        );
    }
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

async fn run_user(command: UserCommand, admin: client::AdminArgs) -> Result<(), Box<dyn std::error::Error>> {
    let client = client::AdminClient::new(admin)?;
    match command {
        UserCommand::Create {
            name,
            access_key,
            secret_key,
            email,
        } => {
            let body = serde_json::to_vec(&admin::CreateUser {
                name,
                access_key,
                secret_key,
                email,
            })?;
            let user: admin::UserInfo = serde_json::from_slice(&client.call("POST", "/admin/v1/users", body).await?)?;
            println!("user:       {}", user.name);
            println!("canonical:  {}", user.canonical_id);
            println!(
                "access key: {}",
                user.access_keys.first().map(String::as_str).unwrap_or("")
            );
            println!("secret key: {}", user.secret_key.unwrap_or_default());
        }
        UserCommand::List => {
            let users: Vec<admin::UserInfo> =
                serde_json::from_slice(&client.call("GET", "/admin/v1/users", Vec::new()).await?)?;
            for u in users {
                println!("{}\t{}\t{}", u.name, u.canonical_id, u.access_keys.join(","));
            }
        }
        UserCommand::Delete { name, force } => {
            let query = if force { "?force" } else { "" };
            client
                .call("DELETE", &format!("/admin/v1/users/{name}{query}"), Vec::new())
                .await?;
            println!("deleted {name}");
        }
    }
    Ok(())
}

/// `ksan check`: open the stores read-only and print the report. Ok(true) if consistent.
async fn run_check(data: &std::path::Path, quick: bool) -> Result<bool, Box<dyn std::error::Error>> {
    let meta_path = data.join("meta.redb");
    let meta = ksan_meta::RedbKv::open_read_only(&meta_path).map_err(|e| match e {
        ksan_meta::MetaError::InUse(p) => format!("{} is in use: stop the server first", p.display()),
        ksan_meta::MetaError::NeedsRecovery(p) => format!(
            "{} was not closed cleanly (the server was killed or crashed): start `ksan server` on this \
             data directory once, which recovers it, stop it, then run the check again",
            p.display()
        ),
        other => format!("cannot open {}: {other}", meta_path.display()),
    })?;
    let blobs = ksan_data::FsDataStore::open_existing(data)?;
    // Encrypted objects are verified through their keys: the server's master key (a data
    // directory that never had one holds no encrypted object).
    let master_key_file = std::env::var_os("KSAN_MASTER_KEY_FILE").map(std::path::PathBuf::from);
    let master_key = match server::master_key(data, master_key_file.as_deref(), false) {
        Ok(k) => k,
        Err(_) if master_key_file.is_none() && !data.join("master.key").exists() => Default::default(),
        Err(e) => return Err(e.into()),
    };
    let engine = ksan_engine::Engine::new(
        std::sync::Arc::new(meta),
        std::sync::Arc::new(blobs),
        ksan_engine::EngineConfig {
            master_key,
            ..ksan_engine::EngineConfig::default()
        },
    );
    let r = engine.check(quick).await?;
    println!("data directory: {}", data.display());
    println!(
        "looked at {} versions, {} upload parts, {} blob files; verified the bytes of {} versions{}",
        r.versions,
        r.parts,
        r.blobs,
        r.verified,
        if quick { " (--quick: none read)" } else { "" }
    );
    println!("bytes missing or cut short: {}", r.missing_count);
    for (what, why) in &r.missing {
        println!("  {what}: {why}");
    }
    println!("bytes that do not match their checksum: {}", r.corrupt_count);
    for what in &r.corrupt {
        println!("  {what}");
    }
    println!(
        "blob files no row names (left by a crash; the server's scrubber removes them after a day): {}",
        r.unreferenced_count
    );
    for id in &r.unreferenced {
        println!("  {id}");
    }
    println!("{}", if r.consistent() { "consistent" } else { "NOT consistent" });
    Ok(r.consistent())
}

async fn run_targets(command: TargetCommand, admin: client::AdminArgs) -> Result<(), Box<dyn std::error::Error>> {
    let client = client::AdminClient::new(admin)?;
    match command {
        TargetCommand::Add {
            name,
            target_endpoint,
            access_key,
            secret_key,
            target_region,
            ksan,
            ca_file,
        } => {
            let ca_pem = match ca_file {
                Some(path) => {
                    Some(std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?)
                }
                None => None,
            };
            let body = serde_json::to_vec(&admin::AddTarget {
                name: name.clone(),
                endpoint: target_endpoint,
                region: target_region,
                access_key,
                secret_key,
                ksan,
                ca_pem,
            })?;
            client.call("POST", "/admin/v1/replication-targets", body).await?;
            println!("target {name} registered: name it as arn:ksan:replication::{name}:BUCKET");
        }
        TargetCommand::List => {
            let targets: Vec<ksan_engine::targets::TargetInfo> =
                serde_json::from_slice(&client.call("GET", "/admin/v1/replication-targets", Vec::new()).await?)?;
            for t in targets {
                let kind = match (t.ksan, t.custom_ca) {
                    (true, true) => "ksan, own CA",
                    (true, false) => "ksan",
                    (false, true) => "s3, own CA",
                    (false, false) => "s3",
                };
                println!("{}\t{kind}\t{}\t{}\t{}", t.name, t.endpoint, t.region, t.access_key);
            }
        }
        TargetCommand::Remove { name } => {
            client
                .call("DELETE", &format!("/admin/v1/replication-targets/{name}"), Vec::new())
                .await?;
            println!("target {name} removed");
        }
    }
    Ok(())
}

async fn run_kms(command: KmsCommand, admin: client::AdminArgs) -> Result<(), Box<dyn std::error::Error>> {
    let client = client::AdminClient::new(admin)?;
    match command {
        KmsCommand::CreateKey { id } => {
            let body = serde_json::to_vec(&admin::CreateKmsKey { id })?;
            let k: admin::KmsKeyInfo = serde_json::from_slice(&client.call("POST", "/admin/v1/kms/keys", body).await?)?;
            println!("created key {}", k.id);
        }
        KmsCommand::List => {
            let keys: Vec<admin::KmsKeyInfo> =
                serde_json::from_slice(&client.call("GET", "/admin/v1/kms/keys", Vec::new()).await?)?;
            for k in keys {
                println!("{}\t{}", k.id, if k.enabled { "enabled" } else { "disabled" });
            }
        }
        KmsCommand::DisableKey { id } => {
            client
                .call("POST", &format!("/admin/v1/kms/keys/{id}/disable"), Vec::new())
                .await?;
            println!("{id} disabled");
        }
        KmsCommand::EnableKey { id } => {
            client
                .call("POST", &format!("/admin/v1/kms/keys/{id}/enable"), Vec::new())
                .await?;
            println!("{id} enabled");
        }
    }
    Ok(())
}

async fn run_bucket(command: BucketCommand, admin: client::AdminArgs) -> Result<(), Box<dyn std::error::Error>> {
    let client = client::AdminClient::new(admin)?;
    match command {
        BucketCommand::List => {
            let buckets: Vec<admin::BucketInfo> =
                serde_json::from_slice(&client.call("GET", "/admin/v1/buckets", Vec::new()).await?)?;
            for b in buckets {
                let owner = b.owner.unwrap_or_else(|| format!("(gone: {})", b.owner_canonical_id));
                println!("{}\t{owner}", b.name);
            }
        }
        BucketCommand::Chown { bucket, user } => {
            let body = serde_json::to_vec(&admin::SetOwner { user: user.clone() })?;
            client
                .call("PUT", &format!("/admin/v1/buckets/{bucket}/owner"), body)
                .await?;
            println!("{bucket} now belongs to {user}");
        }
    }
    Ok(())
}
