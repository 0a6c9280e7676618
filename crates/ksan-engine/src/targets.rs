//! Replication targets: other S3 endpoints the administrator registered (`T|name` rows, the
//! secret key sealed by a key derived from the master key, never shown again), and the
//! [`RemoteSink`] through which the replicator writes to them. The sink is the binary's (an
//! S3 client signing with ksan's SigV4 code): the engine knows no HTTP.

use std::sync::Arc;

use ksan_types::{BodyStream, ErrorCode, S3Error, S3Result, StorageClass};
use serde::{Deserialize, Serialize};

use crate::records::ObjectVersion;
use crate::{Engine, keys, store};

/// `T|name`: a registered target.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TargetRecord {
    /// Its name, as destination ARNs name it (`arn:ksan:replication::NAME:BUCKET`).
    pub name: String,
    /// `http://host:port` or `https://host:port`.
    pub endpoint: String,
    /// The region requests are signed for.
    pub region: String,
    /// The access key.
    pub access_key: String,
    /// The secret key, sealed.
    pub sealed_secret: Vec<u8>,
    /// The target is another ksan: replicas keep their version ids and times there.
    #[serde(default)]
    pub ksan: bool,
    /// PEM certificates to trust for an https endpoint instead of the system's roots.
    #[serde(default)]
    pub ca_pem: Option<String>,
}

/// What registering a target takes.
#[derive(Clone)]
pub struct NewTarget<'a> {
    /// Its name.
    pub name: &'a str,
    /// `http://host:port` or `https://host:port`.
    pub endpoint: &'a str,
    /// The region requests are signed for.
    pub region: &'a str,
    /// The access key.
    pub access_key: &'a str,
    /// The secret key.
    pub secret_key: &'a str,
    /// It is another ksan (these are its root credentials).
    pub ksan: bool,
    /// PEM certificates to trust instead of the system's roots.
    pub ca_pem: Option<&'a str>,
}

/// A target as the admin API lists it: no secret.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TargetInfo {
    /// Its name.
    pub name: String,
    /// Its endpoint.
    pub endpoint: String,
    /// Its region.
    pub region: String,
    /// Its access key.
    pub access_key: String,
    /// It is another ksan.
    #[serde(default)]
    pub ksan: bool,
    /// It has certificates of its own to trust.
    #[serde(default)]
    pub custom_ca: bool,
}

/// A target with its secret opened, for the sink.
#[derive(Clone)]
pub struct Target {
    /// Its name.
    pub name: String,
    /// Its endpoint.
    pub endpoint: String,
    /// Its region.
    pub region: String,
    /// Its access key.
    pub access_key: String,
    /// Its secret key.
    pub secret_key: String,
    /// It is another ksan.
    pub ksan: bool,
    /// PEM certificates to trust instead of the system's roots.
    pub ca_pem: Option<String>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("name", &self.name)
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

/// How a replica is to be encrypted at the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteSse {
    /// `AES256`.
    S3,
    /// `aws:kms` under this key.
    Kms(String),
}

/// A version to write to a target: where, and what it carries.
#[derive(Debug, Clone)]
pub struct RemotePut<'a> {
    /// The target's bucket.
    pub bucket: &'a str,
    /// The version (key, content headers, metadata, tags, checksum, lock).
    pub version: &'a ObjectVersion,
    /// The replica's storage class, if the rule sets one.
    pub storage_class: Option<StorageClass>,
    /// The replica's encryption.
    pub sse: Option<RemoteSse>,
    /// Its identity, for a target that is another ksan.
    pub replica: Option<ReplicaIdentity>,
}

/// A multipart upload in progress on a target.
#[derive(Debug, Clone, Copy)]
pub struct RemoteUpload<'a> {
    /// The target's bucket.
    pub bucket: &'a str,
    /// The key.
    pub key: &'a str,
    /// The target's upload id.
    pub upload_id: &'a str,
}

/// Writes replicas to other S3 endpoints: ordinary S3 requests, signed.
#[async_trait::async_trait]
pub trait RemoteSink: Send + Sync + 'static {
    /// PutObject of the version's bytes (`body`, exactly `put.version.size` bytes).
    async fn put_object(&self, target: &Target, put: RemotePut<'_>, body: BodyStream) -> S3Result<()>;
    /// HeadObject of the key's current version: (ETag without quotes, Last-Modified in ms), or
    /// None if there is none.
    async fn head_object(&self, target: &Target, bucket: &str, key: &str) -> S3Result<Option<(String, i64)>>;
    /// DeleteObject without a version id: the target makes a delete marker (another ksan
    /// makes it at the identity given).
    async fn delete_object(
        &self,
        target: &Target,
        bucket: &str,
        key: &str,
        replica: Option<&ReplicaIdentity>,
    ) -> S3Result<()>;
    /// CreateMultipartUpload with the version's headers (as `put_object` sends them, without
    /// the digests of the whole); the upload id.
    async fn create_multipart(&self, target: &Target, put: RemotePut<'_>) -> S3Result<String>;
    /// UploadPart of `len` bytes; the part's ETag.
    async fn upload_part(
        &self,
        target: &Target,
        upload: &RemoteUpload<'_>,
        part_number: u32,
        body: BodyStream,
        len: u64,
    ) -> S3Result<String>;
    /// CompleteMultipartUpload with the parts' (number, ETag).
    async fn complete_multipart(
        &self,
        target: &Target,
        upload: &RemoteUpload<'_>,
        parts: &[(u32, String)],
    ) -> S3Result<()>;
    /// AbortMultipartUpload.
    async fn abort_multipart(&self, target: &Target, upload: &RemoteUpload<'_>) -> S3Result<()>;
    /// A metadata change: PutObjectTagging with the version's tags, and, given the version's
    /// id on the target (another ksan has the same ids), PutObjectRetention and
    /// PutObjectLegalHold with its lock; without it, on the key's current version, tags only.
    async fn put_metadata(
        &self,
        target: &Target,
        bucket: &str,
        version: &ObjectVersion,
        version_id: Option<&str>,
    ) -> S3Result<()>;
}

fn no_target(name: &str) -> S3Error {
    S3Error::new(ErrorCode::InvalidRequest).msg(format!("Replication target '{name}' is not registered"))
}

impl Engine {
    /// Register (or replace) a target; its secret is stored sealed.
    pub async fn put_target(&self, t: NewTarget<'_>) -> S3Result<()> {
        let NewTarget {
            name,
            endpoint,
            region,
            access_key,
            secret_key,
            ksan,
            ca_pem,
        } = t;
        if ca_pem.is_some_and(|p| !p.contains("-----BEGIN CERTIFICATE-----")) {
            return Err(S3Error::new(ErrorCode::InvalidArgument).msg("the CA file holds no PEM certificate"));
        }
        let valid_name = !name.is_empty()
            && name.len() <= 63
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid_name {
            return Err(
                S3Error::new(ErrorCode::InvalidArgument).msg("a target name is 1 to 63 letters, digits, '-' or '_'")
            );
        }
        let host = endpoint
            .strip_prefix("http://")
            .or_else(|| endpoint.strip_prefix("https://"))
            .unwrap_or_default();
        if host.is_empty() || host.contains(char::is_whitespace) {
            return Err(S3Error::new(ErrorCode::InvalidArgument).msg("the endpoint must be an http:// or https:// URL"));
        }
        let record = TargetRecord {
            name: name.to_owned(),
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            region: region.to_owned(),
            access_key: access_key.to_owned(),
            sealed_secret: self.keyring.seal_target_secret(name, secret_key)?,
            ksan,
            ca_pem: ca_pem.map(str::to_owned),
        };
        let record = Arc::new(record);
        self.write(move |txn| {
            let record = record.clone();
            Box::pin(async move { store::put(txn, &keys::replication_target(&record.name), &*record) })
        })
        .await
    }

    /// The registered targets (no secrets).
    pub async fn list_targets(&self) -> S3Result<Vec<TargetInfo>> {
        let snap = self.snapshot().await?;
        store::scan(&*snap, keys::REPLICATION_TARGET_PREFIX, usize::MAX)
            .await?
            .iter()
            .map(|(_, v)| {
                let t: TargetRecord = crate::records::decode(v)?;
                Ok(TargetInfo {
                    name: t.name,
                    endpoint: t.endpoint,
                    region: t.region,
                    access_key: t.access_key,
                    ksan: t.ksan,
                    custom_ca: t.ca_pem.is_some(),
                })
            })
            .collect()
    }

    /// Remove a target (InvalidRequest if there is none). Items for it fail until it is
    /// registered again.
    pub async fn delete_target(&self, name: &str) -> S3Result<()> {
        let name = name.to_owned();
        self.write(move |txn| {
            let name = name.clone();
            Box::pin(async move {
                let key = keys::replication_target(&name);
                if store::get_raw(&*txn, &key).await?.is_none() {
                    return Err(no_target(&name));
                }
                store::delete(txn, &key)
            })
        })
        .await
    }

    /// Is a target registered?
    pub(crate) async fn target_exists(&self, name: &str) -> S3Result<bool> {
        let snap = self.snapshot().await?;
        Ok(store::get_raw(&*snap, &keys::replication_target(name)).await?.is_some())
    }

    /// A target with its secret opened (InvalidRequest if it is not registered).
    pub(crate) async fn target(&self, name: &str) -> S3Result<Target> {
        let snap = self.snapshot().await?;
        let t: TargetRecord = store::get(&*snap, &keys::replication_target(name))
            .await?
            .ok_or_else(|| no_target(name))?;
        Ok(Target {
            secret_key: self.keyring.open_target_secret(&t.name, &t.sealed_secret)?,
            name: t.name,
            endpoint: t.endpoint,
            region: t.region,
            access_key: t.access_key,
            ksan: t.ksan,
            ca_pem: t.ca_pem,
        })
    }

    /// Give the engine its way to other endpoints (the server does, at start).
    pub fn set_remote_sink(&self, sink: Arc<dyn RemoteSink>) {
        let _ = self.remote.set(sink);
    }

    pub(crate) fn remote_sink(&self) -> S3Result<&Arc<dyn RemoteSink>> {
        self.remote
            .get()
            .ok_or_else(|| S3Error::internal("no remote sink: this engine cannot reach other endpoints"))
    }
}

/// Who a replica from another ksan is: the source version's uid (so its version id), its
/// modification time, and its ETag when that is not the MD5 of its bytes (multipart). Carried
/// in `x-ksan-replica` (`uid-hex;mtime-ms;id|null`) and `x-ksan-replica-etag`, which only the
/// destination's root user may send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicaIdentity {
    /// The source version's uid.
    pub uid: [u8; 16],
    /// Its modification time (ms).
    pub last_modified_ms: i64,
    /// It is the `null` version.
    pub null: bool,
    /// Its ETag, when given.
    pub etag: Option<String>,
}

impl ReplicaIdentity {
    /// The identity of a version.
    pub fn of(v: &ObjectVersion) -> Self {
        ReplicaIdentity {
            uid: v.uid,
            last_modified_ms: v.last_modified_ms,
            null: v.version_id.is_none(),
            etag: Some(v.etag.clone()),
        }
    }

    /// `x-ksan-replica`'s value.
    pub fn header(&self) -> String {
        format!(
            "{};{};{}",
            hex::encode(self.uid),
            self.last_modified_ms,
            if self.null { "null" } else { "id" }
        )
    }

    /// Read `x-ksan-replica` (and `x-ksan-replica-etag`); InvalidArgument if malformed.
    pub fn parse(header: &str, etag: Option<&str>) -> S3Result<Self> {
        let bad = || S3Error::new(ErrorCode::InvalidArgument).msg("malformed x-ksan-replica");
        let mut parts = header.split(';');
        let (Some(uid), Some(mtime), Some(kind), None) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let mut raw = [0u8; 16];
        hex::decode_to_slice(uid, &mut raw).map_err(|_| bad())?;
        Ok(ReplicaIdentity {
            uid: raw,
            last_modified_ms: mtime.parse().map_err(|_| bad())?,
            null: match kind {
                "null" => true,
                "id" => false,
                _ => return Err(bad()),
            },
            etag: etag.map(|e| e.trim_matches('"').to_owned()),
        })
    }

    /// Make `v` this replica: its uid, version id, time, ETag, and REPLICA.
    pub(crate) fn stamp(&self, v: &mut ObjectVersion) {
        v.uid = self.uid;
        v.version_id = (!self.null).then(|| hex::encode(self.uid));
        v.last_modified_ms = self.last_modified_ms;
        if let Some(etag) = &self.etag {
            v.etag = etag.clone();
        }
        v.replication = Some(crate::replication::ReplicationState {
            status: crate::replication::ReplicationStatus::Replica,
            pending: Vec::new(),
            failed: Vec::new(),
        });
    }
}
