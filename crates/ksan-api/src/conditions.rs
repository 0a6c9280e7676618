//! The condition keys of a request (`aws:SourceIp`, `s3:prefix`, `s3:x-amz-acl`, ...), built
//! only for the keys the bucket's policy reads: most policies read few or none, and this runs
//! on every request to a bucket with a policy.

use ksan_engine::access::config::PolicyConfig;
use ksan_engine::access::policy::{BucketPolicy, ConditionContext};
use ksan_engine::{BucketState, ObjectVersion};
use ksan_proto::auth::SignatureKind;

use crate::Ctx;

/// The bucket's parsed policy, if it has one.
pub(crate) fn policy_of(bucket: &BucketState) -> Option<&BucketPolicy> {
    bucket.get::<PolicyConfig>().and_then(PolicyConfig::policy)
}

/// The request's values of the condition keys `policy` reads.
pub(crate) fn context(
    ctx: &Ctx,
    bucket: &BucketState,
    object: Option<&ObjectVersion>,
    policy: &BucketPolicy,
) -> ConditionContext {
    let mut c = ConditionContext::new();
    for key in policy.condition_keys() {
        if let Some(values) = value(ctx, bucket, object, key) {
            c.set_all(key, values);
        }
    }
    c
}

/// The request's value(s) of one condition key (lower-cased), if it has any.
fn value(ctx: &Ctx, bucket: &BucketState, object: Option<&ObjectVersion>, key: &str) -> Option<Vec<String>> {
    let user = ctx.principal.user();
    let list = ctx.endpoint().list_params();
    let one = |v: &str| Some(vec![v.to_owned()]);
    match key {
        "aws:sourceip" => one(&ctx.client_ip.to_string()),
        "aws:securetransport" => one(if ctx.conn.tls { "true" } else { "false" }),
        "aws:currenttime" => {
            let now = time::OffsetDateTime::now_utc();
            one(&crate::format_iso8601((now.unix_timestamp_nanos() / 1_000_000) as i64))
        }
        "aws:epochtime" => one(&time::OffsetDateTime::now_utc().unix_timestamp().to_string()),
        "aws:useragent" => one(ctx.header("user-agent")?),
        "aws:referer" => one(ctx.header("referer")?),
        "aws:username" => one(&user?.name),
        // Every ksan user is an account of its own.
        "aws:principalaccount" => one(&user?.name),
        "aws:userid" => one(user.map_or("anonymous", |u| u.canonical_id.as_str())),
        "aws:principaltype" => one(if user.is_some() { "Account" } else { "Anonymous" }),
        "s3:signatureversion" => match ctx.signature {
            SignatureKind::Anonymous => None,
            SignatureKind::V2Header | SignatureKind::V2Query => one("AWS"),
            SignatureKind::V4Header | SignatureKind::V4Query => one("AWS4-HMAC-SHA256"),
        },
        "s3:authtype" => match ctx.signature {
            SignatureKind::Anonymous => None,
            SignatureKind::V2Header | SignatureKind::V4Header => one("REST-HEADER"),
            SignatureKind::V2Query | SignatureKind::V4Query => one("REST-QUERY-STRING"),
        },
        "s3:prefix" => one(list?.prefix.as_deref()?),
        "s3:delimiter" => one(list?.delimiter.as_deref()?),
        "s3:max-keys" => one(list?.max_raw.as_deref()?),
        "s3:versionid" => match (ctx.endpoint().version(), object) {
            (Some(v), _) => one(&v.to_string()),
            (None, Some(v)) => one(v.version_id_str()),
            (None, None) => None,
        },
        "s3:requestobjecttagkeys" => Some(
            url_pairs(ctx.header("x-amz-tagging")?)
                .into_iter()
                .map(|(k, _)| k)
                .collect(),
        ),
        _ => {
            // Tag keys are compared without regard to case: condition keys are case-insensitive.
            if let Some(tag) = key.strip_prefix("s3:requestobjecttag/") {
                let pairs = url_pairs(ctx.header("x-amz-tagging")?);
                let (_, v) = pairs.into_iter().find(|(k, _)| k.eq_ignore_ascii_case(tag))?;
                return Some(vec![v]);
            }
            // The bucket's own tags (PutBucketTagging), as S3 offers them to bucket policies.
            if let Some(tag) = key.strip_prefix("aws:resourcetag/") {
                let tags = bucket.get::<ksan_engine::tags::BucketTags>()?;
                let (_, v) = tags.0.iter().find(|(k, _)| k.eq_ignore_ascii_case(tag))?;
                return one(v);
            }
            if let Some(tag) = key.strip_prefix("s3:existingobjecttag/") {
                let (_, v) = object?.tags.iter().find(|(k, _)| k.eq_ignore_ascii_case(tag))?;
                return one(v);
            }
            // s3:x-amz-acl, s3:x-amz-grant-*, s3:x-amz-copy-source, s3:x-amz-metadata-directive,
            // s3:x-amz-server-side-encryption, s3:x-amz-content-sha256, ...: the header's value.
            let header = key.strip_prefix("s3:").filter(|h| h.starts_with("x-amz-"))?;
            one(ctx.header(header)?)
        }
    }
}

/// `k1=v1&k2=v2`, URL-decoded (x-amz-tagging).
pub(crate) fn url_pairs(s: &str) -> Vec<(String, String)> {
    let decode = |p: &str| {
        percent_encoding::percent_decode_str(&p.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(p), String::new()),
        })
        .collect()
}
