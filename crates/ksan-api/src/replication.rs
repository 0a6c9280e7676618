//! Replication on the wire: Put/Get/DeleteBucketReplication. The rules, their checks and the
//! replicator are the engine's (`ksan_engine::replication`, `workers::replicate`);
//! `x-amz-replication-status` is written with the other object headers.

use http::StatusCode;
use ksan_engine::lifecycle::Filter;
use ksan_engine::replication::{Destination, ReplicationConfig, ReplicationRule};
use ksan_proto::documents::{DestinationDoc, LifecycleFilterDoc, ReplicationConfiguration, ReplicationRuleDoc};
use ksan_types::{ErrorCode, S3Error, S3Result, StorageClass};

use crate::lifecycle::{filter_from_doc, filter_to_doc};
use crate::{CONFIG_BODY_LIMIT, Ctx, HandlerResult, S3Api, document_response, empty_response, read_digested_document};

fn malformed() -> S3Error {
    S3Error::new(ErrorCode::MalformedXML)
}

/// A replication filter: the lifecycle forms without object sizes (MalformedXML), which
/// replication rules do not have.
fn filter(prefix: Option<String>, doc: Option<LifecycleFilterDoc>) -> S3Result<Filter> {
    let f = filter_from_doc(prefix, doc);
    match &f {
        Filter::SizeGreaterThan(_) | Filter::SizeLessThan(_) => Err(malformed()),
        Filter::And { size_gt, size_lt, .. } if size_gt.is_some() || size_lt.is_some() => Err(malformed()),
        _ => Ok(f),
    }
}

fn to_rule(r: ReplicationRuleDoc) -> S3Result<ReplicationRule> {
    let d = r.destination;
    Ok(ReplicationRule {
        id: r.id.unwrap_or_default(),
        priority: r.priority,
        enabled: r.enabled,
        filter: filter(r.prefix, r.filter)?,
        destination: Destination {
            arn: d.bucket,
            target: None,
            bucket: String::new(),
            account: d.account,
            storage_class: d.storage_class.as_deref().map(StorageClass::parse).transpose()?,
            owner_translation: d.owner_translation,
            replica_kms_key_id: d.replica_kms_key_id,
            replication_time: d.replication_time,
            metrics: d.metrics,
        },
        delete_markers: r.delete_marker_replication,
        existing_objects: r.existing_objects,
        sse_kms_objects: r.sse_kms_objects,
        replica_modifications: r.replica_modifications,
    })
}

fn to_doc(config: &ReplicationConfig) -> ReplicationConfiguration {
    let rules = config
        .rules
        .iter()
        .map(|r| {
            let (prefix, filter) = filter_to_doc(&r.filter);
            let d = &r.destination;
            ReplicationRuleDoc {
                id: Some(r.id.clone()),
                priority: r.priority,
                enabled: r.enabled,
                prefix,
                filter,
                destination: DestinationDoc {
                    bucket: d.arn.clone(),
                    account: d.account.clone(),
                    storage_class: d.storage_class.map(|c| c.as_str().to_owned()),
                    owner_translation: d.owner_translation.clone(),
                    replica_kms_key_id: d.replica_kms_key_id.clone(),
                    replication_time: d.replication_time,
                    metrics: d.metrics,
                },
                delete_marker_replication: r.delete_markers,
                existing_objects: r.existing_objects,
                sse_kms_objects: r.sse_kms_objects,
                replica_modifications: r.replica_modifications,
            }
        })
        .collect();
    ReplicationConfiguration {
        role: config.role.clone(),
        rules,
    }
}

impl S3Api {
    pub(crate) async fn put_bucket_replication(&self, ctx: &Ctx) -> HandlerResult {
        let bucket = self.authorized_bucket(ctx).await?;
        let (doc, digest_sent) = read_digested_document::<ReplicationConfiguration>(ctx, CONFIG_BODY_LIMIT).await?;
        let rules = doc.rules.into_iter().map(to_rule).collect::<S3Result<Vec<_>>>()?;
        let config = ReplicationConfig::new(doc.role, rules)?;
        self.engine.put_replication(bucket.name(), config, digest_sent).await?;
        empty_response(StatusCode::OK)
    }

    pub(crate) async fn get_bucket_replication(&self, ctx: &Ctx) -> HandlerResult {
        let bucket = self.authorized_bucket(ctx).await?;
        document_response(&to_doc(bucket.require::<ReplicationConfig>()?))
    }
}
