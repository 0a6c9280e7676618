//! Lifecycle on the wire: Put/Get/DeleteBucketLifecycle(Configuration), and the headers that
//! announce what the rules will do: `x-amz-expiration` on writes and reads of an object,
//! `x-amz-abort-date` / `x-amz-abort-rule-id` on CreateMultipartUpload and ListParts. The rules
//! and their checks are `ksan_engine::lifecycle`'s; the executor is the engine's worker.

use http::{HeaderValue, Response, StatusCode};
use ksan_engine::lifecycle::{Filter, LifecycleConfig, Noncurrent, NoncurrentTransition, Rule, Transition, When};
use ksan_engine::{BucketState, ObjectVersion};
use ksan_proto::ResponseBody;
use ksan_proto::documents::{
    ExpirationDoc, LifecycleConfiguration, LifecycleFilterDoc, LifecycleRuleDoc, NoncurrentDoc, TransitionDoc,
};
use ksan_types::{ErrorCode, S3Error, S3Result, StorageClass};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::headers::{format_http_date, format_iso8601};
use crate::{CONFIG_BODY_LIMIT, Ctx, HandlerResult, S3Api, document_response, read_digested_document};

const MIN_SIZE_HEADER: &str = "x-amz-transition-default-minimum-object-size";

fn malformed() -> S3Error {
    S3Error::new(ErrorCode::MalformedXML)
}

/// A day count: a negative one is S3's InvalidArgument.
fn days(n: i64, what: &str) -> S3Result<u32> {
    u32::try_from(n)
        .map_err(|_| S3Error::new(ErrorCode::InvalidArgument).msg(format!("'{what}' must be a positive integer")))
}

/// An ISO 8601 date (`2030-01-01`, or with a time) in ms.
fn date(s: &str) -> S3Result<i64> {
    let t = OffsetDateTime::parse(s, &Rfc3339)
        .or_else(|_| OffsetDateTime::parse(&format!("{s}T00:00:00Z"), &Rfc3339))
        .map_err(|_| malformed())?;
    Ok((t.unix_timestamp_nanos() / 1_000_000) as i64)
}

fn when(days_field: Option<i64>, date_field: Option<&str>, what: &str) -> S3Result<When> {
    match (days_field, date_field) {
        (Some(d), None) => Ok(When::Days(days(d, what)?)),
        (None, Some(s)) => Ok(When::Date(date(s)?)),
        _ => Err(malformed()),
    }
}

fn class(name: &str) -> S3Result<StorageClass> {
    StorageClass::from_name(name).ok_or_else(malformed)
}

fn noncurrent(n: &NoncurrentDoc) -> S3Result<Noncurrent> {
    Ok(Noncurrent {
        days: days(n.days.ok_or_else(malformed)?, "NoncurrentDays")?,
        newer_versions: n
            .newer_versions
            .map(|k| days(k, "NewerNoncurrentVersions"))
            .transpose()?,
    })
}

/// The model of a rule's filter: the rule-level Prefix (older form) or its `Filter`
/// (lifecycle and replication rules share the forms).
pub(crate) fn filter_from_doc(prefix: Option<String>, doc: Option<LifecycleFilterDoc>) -> Filter {
    match (prefix, doc) {
        (Some(p), _) => Filter::Legacy(p),
        (None, None | Some(LifecycleFilterDoc::Empty)) => Filter::All,
        (None, Some(LifecycleFilterDoc::Prefix(p))) => Filter::Prefix(p),
        (None, Some(LifecycleFilterDoc::Tag(t))) => Filter::Tag(t),
        (None, Some(LifecycleFilterDoc::SizeGreaterThan(n))) => Filter::SizeGreaterThan(n),
        (None, Some(LifecycleFilterDoc::SizeLessThan(n))) => Filter::SizeLessThan(n),
        (
            None,
            Some(LifecycleFilterDoc::And {
                prefix,
                tags,
                size_gt,
                size_lt,
            }),
        ) => Filter::And {
            prefix,
            tags,
            size_gt,
            size_lt,
        },
    }
}

/// A rule's filter as the document writes it: (rule-level Prefix, `Filter`).
pub(crate) fn filter_to_doc(f: &Filter) -> (Option<String>, Option<LifecycleFilterDoc>) {
    match f {
        Filter::Legacy(p) => (Some(p.clone()), None),
        Filter::All => (None, Some(LifecycleFilterDoc::Empty)),
        Filter::Prefix(p) => (None, Some(LifecycleFilterDoc::Prefix(p.clone()))),
        Filter::Tag(t) => (None, Some(LifecycleFilterDoc::Tag(t.clone()))),
        Filter::SizeGreaterThan(n) => (None, Some(LifecycleFilterDoc::SizeGreaterThan(*n))),
        Filter::SizeLessThan(n) => (None, Some(LifecycleFilterDoc::SizeLessThan(*n))),
        Filter::And {
            prefix,
            tags,
            size_gt,
            size_lt,
        } => (
            None,
            Some(LifecycleFilterDoc::And {
                prefix: prefix.clone(),
                tags: tags.clone(),
                size_gt: *size_gt,
                size_lt: *size_lt,
            }),
        ),
    }
}

fn to_rule(r: LifecycleRuleDoc) -> S3Result<Rule> {
    let filter = filter_from_doc(r.prefix, r.filter);
    let (expiration, expired_object_delete_marker) = match &r.expiration {
        None => (None, None),
        Some(e) => {
            let when = match (e.days, e.date.as_deref()) {
                (None, None) => None,
                (d, s) => Some(when(d, s, "Days")?),
            };
            (when, e.expired_object_delete_marker)
        }
    };
    Ok(Rule {
        id: r.id.unwrap_or_default(),
        enabled: r.enabled,
        filter,
        expiration,
        expired_object_delete_marker,
        noncurrent_expiration: r.noncurrent_expiration.as_ref().map(noncurrent).transpose()?,
        abort_after_days: r.abort_after_days.map(|d| days(d, "DaysAfterInitiation")).transpose()?,
        transitions: r
            .transitions
            .iter()
            .map(|t| {
                Ok(Transition {
                    when: when(t.days, t.date.as_deref(), "Days")?,
                    storage_class: class(&t.storage_class)?,
                })
            })
            .collect::<S3Result<_>>()?,
        noncurrent_transitions: r
            .noncurrent_transitions
            .iter()
            .map(|(n, c)| {
                Ok(NoncurrentTransition {
                    terms: noncurrent(n)?,
                    storage_class: class(c)?,
                })
            })
            .collect::<S3Result<_>>()?,
    })
}

fn write_when(w: When) -> (Option<i64>, Option<String>) {
    match w {
        When::Days(d) => (Some(i64::from(d)), None),
        When::Date(ms) => (None, Some(format_iso8601(ms))),
    }
}

fn noncurrent_doc(n: &Noncurrent) -> NoncurrentDoc {
    NoncurrentDoc {
        days: Some(i64::from(n.days)),
        newer_versions: n.newer_versions.map(i64::from),
    }
}

fn to_doc(config: &LifecycleConfig) -> LifecycleConfiguration {
    let rules = config
        .rules
        .iter()
        .map(|r| {
            let (prefix, filter) = filter_to_doc(&r.filter);
            let expiration = (r.expiration.is_some() || r.expired_object_delete_marker.is_some()).then(|| {
                let (days, date) = r.expiration.map(write_when).unwrap_or_default();
                ExpirationDoc {
                    days,
                    date,
                    expired_object_delete_marker: r.expired_object_delete_marker,
                }
            });
            LifecycleRuleDoc {
                id: Some(r.id.clone()),
                enabled: r.enabled,
                prefix,
                filter,
                expiration,
                noncurrent_expiration: r.noncurrent_expiration.as_ref().map(noncurrent_doc),
                abort_after_days: r.abort_after_days.map(i64::from),
                transitions: r
                    .transitions
                    .iter()
                    .map(|t| {
                        let (days, date) = write_when(t.when);
                        TransitionDoc {
                            days,
                            date,
                            storage_class: t.storage_class.as_str().to_owned(),
                        }
                    })
                    .collect(),
                noncurrent_transitions: r
                    .noncurrent_transitions
                    .iter()
                    .map(|t| (noncurrent_doc(&t.terms), t.storage_class.as_str().to_owned()))
                    .collect(),
            }
        })
        .collect();
    LifecycleConfiguration { rules }
}

/// `x-amz-expiration` for a current version the bucket's rules will expire.
pub(crate) fn set_expiration_header(
    resp: &mut Response<ResponseBody>,
    engine: &ksan_engine::Engine,
    bucket: &BucketState,
    v: &ObjectVersion,
) {
    if let Some((at, rule)) = engine.expiration_of(bucket, v)
        && let Ok(value) = HeaderValue::from_str(&format!(
            "expiry-date=\"{}\", rule-id=\"{}\"",
            format_http_date(at),
            rule.replace('"', "")
        ))
    {
        resp.headers_mut().insert("x-amz-expiration", value);
    }
}

/// `x-amz-abort-date` and `x-amz-abort-rule-id` for an upload the bucket's rules will abort.
pub(crate) fn set_abort_headers(
    resp: &mut Response<ResponseBody>,
    engine: &ksan_engine::Engine,
    bucket: &BucketState,
    key: &str,
    initiated_ms: i64,
) {
    if let Some((at, rule)) = engine.abort_of(bucket, key, initiated_ms)
        && let (Ok(date), Ok(rule)) = (
            HeaderValue::from_str(&format_http_date(at)),
            HeaderValue::from_str(rule),
        )
    {
        resp.headers_mut().insert("x-amz-abort-date", date);
        resp.headers_mut().insert("x-amz-abort-rule-id", rule);
    }
}

impl S3Api {
    pub(crate) async fn put_bucket_lifecycle(&self, ctx: &Ctx) -> HandlerResult {
        let bucket = self.authorized_bucket(ctx).await?;
        let (doc, digest_sent) = read_digested_document::<LifecycleConfiguration>(ctx, CONFIG_BODY_LIMIT).await?;
        let rules = doc.rules.into_iter().map(to_rule).collect::<S3Result<Vec<_>>>()?;
        let min_size = ctx.header(MIN_SIZE_HEADER).map(str::to_owned);
        let config = LifecycleConfig::new(rules, min_size)?;
        let echo = config.transition_minimum_size.clone();
        self.engine.put_config(bucket.name(), config, digest_sent).await?;
        let mut b = Response::builder().status(StatusCode::OK);
        if let Some(v) = echo {
            b = b.header(MIN_SIZE_HEADER, v);
        }
        b.body(ResponseBody::empty()).map_err(S3Error::internal)
    }

    pub(crate) async fn get_bucket_lifecycle(&self, ctx: &Ctx) -> HandlerResult {
        let bucket = self.authorized_bucket(ctx).await?;
        let config = bucket.require::<LifecycleConfig>()?;
        let mut resp = document_response(&to_doc(config))?;
        if let Some(v) = &config.transition_minimum_size
            && let Ok(v) = HeaderValue::from_str(v)
        {
            resp.headers_mut().insert(MIN_SIZE_HEADER, v);
        }
        Ok(resp)
    }
}
