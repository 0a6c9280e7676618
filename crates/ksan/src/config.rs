//! Server configuration: flags override environment (`KSAN_*`), which overrides the TOML file
//! given with `--config`, which overrides the defaults.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
use serde::Deserialize;

#[derive(Debug, Args, Default)]
pub struct ServerArgs {
    /// TOML file with any of the settings below: keys are the long flag names with `_`
    /// (`admin_listen`, `gc_interval`, ...); the repeatable ones are lists and take the plural
    /// too (`domain` or `domains`, `trusted_proxy` or `trusted_proxies`).
    #[arg(long, env = "KSAN_CONFIG")]
    pub config: Option<PathBuf>,
    /// Directory for metadata and object data [default: ./data]
    #[arg(long, env = "KSAN_DATA")]
    pub data: Option<PathBuf>,
    /// S3 endpoint address (plain HTTP) [default: 127.0.0.1:8080]
    #[arg(long, env = "KSAN_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Admin address: /health, /ready, /metrics, admin API [default: 127.0.0.1:8081]
    #[arg(long, env = "KSAN_ADMIN_LISTEN")]
    pub admin_listen: Option<SocketAddr>,
    /// Region the server answers for and signatures are scoped to [default: us-east-1]
    #[arg(long, env = "KSAN_REGION")]
    pub region: Option<String>,
    /// Base domain for virtual-host addressing (`bucket.DOMAIN`); repeatable
    #[arg(long = "domain", env = "KSAN_DOMAINS", value_delimiter = ',')]
    pub domains: Vec<String>,
    /// Base domain of the static website endpoint: `bucket.DOMAIN` serves the bucket's website
    /// on the S3 port(s); repeatable
    #[arg(long = "website-domain", env = "KSAN_WEBSITE_DOMAINS", value_delimiter = ',')]
    pub website_domains: Vec<String>,
    /// Address of a listener (plain HTTP) that serves only websites, by Host
    #[arg(long, env = "KSAN_WEBSITE_LISTEN")]
    pub website_listen: Option<SocketAddr>,
    /// File holding the master key (base64 of 32 bytes), which wraps every SSE-S3 data key and
    /// the key service's keys; KSAN_MASTER_KEY gives the key itself. Without either, one is
    /// generated on the first start into DATA/master.key: back it up apart from the data
    #[arg(long, env = "KSAN_MASTER_KEY_FILE")]
    pub master_key_file: Option<PathBuf>,
    /// Take SSE-C keys over plain HTTP (S3 refuses them there); for test setups only
    #[arg(long, env = "KSAN_ALLOW_INSECURE_SSE_C")]
    pub allow_insecure_sse_c: bool,
    /// HTTPS address, served beside plain HTTP; needs --tls-cert and --tls-key
    #[arg(long, env = "KSAN_TLS_LISTEN")]
    pub tls_listen: Option<SocketAddr>,
    /// PEM certificate chain for HTTPS
    #[arg(long, env = "KSAN_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for HTTPS
    #[arg(long, env = "KSAN_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// Seconds between garbage-collection passes [default: 30]
    #[arg(long, env = "KSAN_GC_INTERVAL")]
    pub gc_interval: Option<u64>,
    /// Seconds a replaced or deleted object's data is kept before it is unlinked, so that reads
    /// that started before the change can finish [default: 60]
    #[arg(long, env = "KSAN_GC_GRACE")]
    pub gc_grace: Option<u64>,
    /// Seconds between passes of the orphan scrubber, which removes blob files a crash left
    /// unreferenced [default: 3600]
    #[arg(long, env = "KSAN_SCRUB_INTERVAL")]
    pub scrub_interval: Option<u64>,
    /// MiB per second the integrity scrubber re-reads stored objects at, checking them
    /// against their checksums; 0 turns it off [default: 16]
    #[arg(long, env = "KSAN_VERIFY_RATE")]
    pub verify_rate: Option<u64>,
    /// Seconds between two integrity scrubber walks over all objects [default: 86400]
    #[arg(long, env = "KSAN_VERIFY_INTERVAL")]
    pub verify_interval: Option<u64>,
    /// Seconds between the starts of two lifecycle passes, which carry out every bucket's
    /// lifecycle rules [default: 3600]
    #[arg(long, env = "KSAN_LIFECYCLE_INTERVAL")]
    pub lifecycle_interval: Option<u64>,
    /// Seconds in a lifecycle "day" (rules count in days); shorter only to test rules: a
    /// compressed day has no midnight to round to [default: 86400]
    #[arg(long, env = "KSAN_LIFECYCLE_DAY_SECS")]
    pub lifecycle_day_secs: Option<u64>,
    /// Connections the S3 port serves at once (plain and TLS together); more are answered
    /// 503 SlowDown [default: 4096]
    #[arg(long, env = "KSAN_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Connections the admin port serves at once, apart from the S3 port's [default: 64]
    #[arg(long, env = "KSAN_ADMIN_MAX_CONNECTIONS")]
    pub admin_max_connections: Option<usize>,
    /// Seconds a client has to send a request's headers [default: 30]
    #[arg(long, env = "KSAN_HEADER_TIMEOUT")]
    pub header_timeout: Option<u64>,
    /// Seconds a connection may sit with no request and no traffic before it is closed
    /// [default: 60]
    #[arg(long, env = "KSAN_IDLE_TIMEOUT")]
    pub idle_timeout: Option<u64>,
    /// A request body must bring at least --body-min-bytes in every this many seconds, or the
    /// request fails with RequestTimeout [default: 60]
    #[arg(long, env = "KSAN_BODY_TIMEOUT")]
    pub body_timeout: Option<u64>,
    /// See --body-timeout [default: 16384]
    #[arg(long, env = "KSAN_BODY_MIN_BYTES")]
    pub body_min_bytes: Option<u64>,
    /// Seconds that requests in flight get to finish on SIGTERM / Ctrl-C [default: 30]
    #[arg(long, env = "KSAN_SHUTDOWN_TIMEOUT")]
    pub shutdown_timeout: Option<u64>,
    /// Address or CIDR of a reverse proxy whose X-Forwarded-For is trusted for aws:SourceIp;
    /// repeatable. Without one, X-Forwarded-For is ignored.
    #[arg(long = "trusted-proxy", env = "KSAN_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<String>,
}

/// The same settings as read from a TOML file.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data: Option<PathBuf>,
    listen: Option<SocketAddr>,
    admin_listen: Option<SocketAddr>,
    region: Option<String>,
    #[serde(default, alias = "domain")]
    domains: Vec<String>,
    #[serde(default, alias = "website_domain")]
    website_domains: Vec<String>,
    website_listen: Option<SocketAddr>,
    master_key_file: Option<PathBuf>,
    #[serde(default)]
    allow_insecure_sse_c: bool,
    tls_listen: Option<SocketAddr>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    gc_interval: Option<u64>,
    gc_grace: Option<u64>,
    scrub_interval: Option<u64>,
    verify_rate: Option<u64>,
    verify_interval: Option<u64>,
    lifecycle_interval: Option<u64>,
    lifecycle_day_secs: Option<u64>,
    max_connections: Option<usize>,
    admin_max_connections: Option<usize>,
    header_timeout: Option<u64>,
    idle_timeout: Option<u64>,
    body_timeout: Option<u64>,
    body_min_bytes: Option<u64>,
    shutdown_timeout: Option<u64>,
    #[serde(default, alias = "trusted_proxy")]
    trusted_proxies: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct TlsConfig {
    pub listen: SocketAddr,
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub data: PathBuf,
    pub listen: SocketAddr,
    pub admin_listen: SocketAddr,
    pub region: String,
    pub domains: Vec<String>,
    pub website_domains: Vec<String>,
    pub website_listen: Option<SocketAddr>,
    pub master_key_file: Option<PathBuf>,
    pub allow_insecure_sse_c: bool,
    pub tls: Option<TlsConfig>,
    pub gc_interval: u64,
    pub gc_grace: u64,
    pub scrub_interval: u64,
    pub trusted_proxies: Vec<(std::net::IpAddr, u8)>,
    pub verify_rate: u64,
    pub verify_interval: u64,
    pub lifecycle_interval: u64,
    pub lifecycle_day_secs: u64,
    pub limits: crate::conn::Limits,
    pub admin_max_connections: usize,
    pub shutdown_timeout: std::time::Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {0}: {1}")]
    Read(PathBuf, std::io::Error),
    #[error("invalid config file {0}: {1}")]
    Parse(PathBuf, toml::de::Error),
    #[error("--tls-listen needs --tls-cert and --tls-key")]
    TlsIncomplete,
    #[error("--trusted-proxy {0}: expected an IP address or CIDR")]
    BadProxy(String),
}

fn secs(n: u64) -> std::time::Duration {
    std::time::Duration::from_secs(n.max(1))
}

impl ServerArgs {
    pub fn resolve(self) -> Result<ServerConfig, ConfigError> {
        let file = match &self.config {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read(path.clone(), e))?;
                toml::from_str::<FileConfig>(&text).map_err(|e| ConfigError::Parse(path.clone(), e))?
            }
            None => FileConfig::default(),
        };
        let tls_listen = self.tls_listen.or(file.tls_listen);
        let tls = match tls_listen {
            None => None,
            Some(listen) => match (self.tls_cert.or(file.tls_cert), self.tls_key.or(file.tls_key)) {
                (Some(cert), Some(key)) => Some(TlsConfig { listen, cert, key }),
                _ => return Err(ConfigError::TlsIncomplete),
            },
        };
        let proxies = if self.trusted_proxies.is_empty() {
            file.trusted_proxies
        } else {
            self.trusted_proxies
        };
        let trusted_proxies = proxies
            .iter()
            .map(|p| ksan_api::parse_network(p.trim()).ok_or_else(|| ConfigError::BadProxy(p.clone())))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ServerConfig {
            data: self.data.or(file.data).unwrap_or_else(|| PathBuf::from("data")),
            listen: self
                .listen
                .or(file.listen)
                .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 8080))),
            admin_listen: self
                .admin_listen
                .or(file.admin_listen)
                .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 8081))),
            region: self.region.or(file.region).unwrap_or_else(|| "us-east-1".to_owned()),
            domains: if self.domains.is_empty() {
                file.domains
            } else {
                self.domains
            },
            website_domains: if self.website_domains.is_empty() {
                file.website_domains
            } else {
                self.website_domains
            },
            website_listen: self.website_listen.or(file.website_listen),
            master_key_file: self.master_key_file.or(file.master_key_file),
            allow_insecure_sse_c: self.allow_insecure_sse_c || file.allow_insecure_sse_c,
            tls,
            gc_interval: self.gc_interval.or(file.gc_interval).unwrap_or(30),
            gc_grace: self.gc_grace.or(file.gc_grace).unwrap_or(60),
            scrub_interval: self.scrub_interval.or(file.scrub_interval).unwrap_or(3600),
            trusted_proxies,
            verify_rate: self.verify_rate.or(file.verify_rate).unwrap_or(16),
            verify_interval: self.verify_interval.or(file.verify_interval).unwrap_or(86_400),
            lifecycle_interval: self.lifecycle_interval.or(file.lifecycle_interval).unwrap_or(3600),
            lifecycle_day_secs: self
                .lifecycle_day_secs
                .or(file.lifecycle_day_secs)
                .unwrap_or(86_400)
                .max(1),
            limits: crate::conn::Limits {
                max_connections: self.max_connections.or(file.max_connections).unwrap_or(4096),
                header_timeout: secs(self.header_timeout.or(file.header_timeout).unwrap_or(30)),
                idle_timeout: secs(self.idle_timeout.or(file.idle_timeout).unwrap_or(60)),
                body_timeout: secs(self.body_timeout.or(file.body_timeout).unwrap_or(60)),
                body_min_bytes: self.body_min_bytes.or(file.body_min_bytes).unwrap_or(16 * 1024),
            },
            admin_max_connections: self.admin_max_connections.or(file.admin_max_connections).unwrap_or(64),
            shutdown_timeout: secs(self.shutdown_timeout.or(file.shutdown_timeout).unwrap_or(30)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_file_and_defaults_apply() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.toml");
        std::fs::write(
            &path,
            "region = \"eu-1\"\nlisten = \"127.0.0.1:9000\"\ndomains = [\"s3.local\"]\n",
        )
        .unwrap();
        let args = ServerArgs {
            config: Some(path),
            listen: Some("127.0.0.1:9100".parse().unwrap()),
            ..ServerArgs::default()
        };
        let c = args.resolve().unwrap();
        assert_eq!(c.region, "eu-1");
        assert_eq!(c.listen.port(), 9100);
        assert_eq!(c.admin_listen.port(), 8081);
        assert_eq!(c.domains, vec!["s3.local".to_owned()]);
        assert_eq!(c.data, PathBuf::from("data"));
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.toml");
        std::fs::write(&path, "nonsense = 1\n").unwrap();
        let args = ServerArgs {
            config: Some(path),
            ..ServerArgs::default()
        };
        assert!(matches!(args.resolve(), Err(ConfigError::Parse(..))));
    }
}
