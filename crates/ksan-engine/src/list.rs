//! ListObjects (v1 and v2) over the latest-version rows.
//!
//! With a delimiter, after emitting a common prefix the scan seeks past every key under it
//! (prefix + 0xFF: UTF-8 keys never contain that byte), so a page costs the same whatever
//! number of keys hide under its prefixes.

use ksan_types::{S3Result, VersionId};

use crate::records::{ObjectVersion, decode};
use crate::{Engine, keys, meta_err, store};

/// ListObjects (v1 and v2).
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// Keys start with this.
    pub prefix: String,
    /// Fold keys into common prefixes at this.
    pub delimiter: Option<String>,
    /// List keys strictly after this one (marker, start-after, continuation token).
    pub after: Option<String>,
    /// Page size.
    pub max_keys: usize,
}

/// A page of a listing.
#[derive(Debug, Clone, Default)]
pub struct ListPage {
    /// The objects (latest versions).
    pub objects: Vec<ObjectVersion>,
    /// Common prefixes.
    pub common_prefixes: Vec<String>,
    /// More remain.
    pub truncated: bool,
    /// The last key or common prefix of this page (NextMarker / continuation point).
    pub last: Option<String>,
}

/// Rows fetched per range call.
const BATCH: usize = 1000;

/// What a listing scan hands its visitor.
pub(crate) enum Item<'a> {
    /// A row whose key is not folded into a common prefix: (object key, row value).
    Row(&'a str, &'a [u8]),
    /// A common prefix (each one once, never one at or before `after`).
    Prefix(&'a str),
}

/// The scan shared by ListObjects, ListObjectVersions and ListMultipartUploads: rows under
/// `base` whose object key starts with `prefix`, from `start` on, in key order. The object
/// key is what follows `base` up to a NUL (version and upload rows append `\0` and an id).
/// With a delimiter, keys are folded into common prefixes and the scan seeks past each one
/// (`prefix + 0xFF`: UTF-8 never contains that byte). Stops after `max` items; returns true
/// if more remained.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn scan(
    snap: &dyn ksan_meta::ReadOps,
    base: &[u8],
    prefix: &str,
    mut start: Vec<u8>,
    delimiter: Option<&str>,
    after: Option<&str>,
    max: usize,
    mut visit: impl FnMut(Item<'_>) -> S3Result<()>,
) -> S3Result<bool> {
    let end = ksan_meta::prefix_end(&[base, prefix.as_bytes()].concat());
    if max == 0 {
        return Ok(false);
    }
    let delimiter = delimiter.filter(|d| !d.is_empty());
    let mut count = 0usize;
    loop {
        let rows = snap.range(&start, &end, BATCH, false).await.map_err(meta_err)?;
        if rows.is_empty() {
            return Ok(false);
        }
        let full = rows.len() == BATCH;
        let mut next_start = None;
        for (k, v) in &rows {
            let rest = &k[base.len()..];
            let key_len = rest.iter().position(|b| *b == 0).unwrap_or(rest.len());
            let key = std::str::from_utf8(&rest[..key_len]).map_err(ksan_types::S3Error::internal)?;
            if count == max {
                return Ok(true);
            }
            if let Some(d) = delimiter
                && let Some(pos) = key[prefix.len()..].find(d)
            {
                let cp = &key[..prefix.len() + pos + d.len()];
                // A prefix at or before the marker was returned by an earlier page.
                if after.is_none_or(|a| cp > a) {
                    visit(Item::Prefix(cp))?;
                    count += 1;
                }
                next_start = Some([base, cp.as_bytes(), &[0xFF]].concat());
                break;
            }
            visit(Item::Row(key, v))?;
            count += 1;
        }
        match next_start {
            Some(s) => start = s,
            None if full => {
                let mut s = rows.last().map(|(k, _)| k.clone()).unwrap_or_default();
                s.push(0);
                start = s;
            }
            None => return Ok(false),
        }
    }
}

impl Engine {
    /// ListObjects: the latest versions under a prefix, in key order.
    pub async fn list_objects(&self, bucket: &str, q: &ListQuery) -> S3Result<ListPage> {
        self.bucket(bucket).await?;
        let snap = self.snapshot().await?;
        let base = keys::latest_prefix(bucket);
        let mut start = base.clone();
        start.extend_from_slice(q.prefix.as_bytes());
        if let Some(after) = &q.after {
            let mut after_key = base.clone();
            after_key.extend_from_slice(after.as_bytes());
            after_key.push(0); // strictly after
            if after_key > start {
                start = after_key;
            }
        }
        let mut page = ListPage::default();
        page.truncated = scan(
            &*snap,
            &base,
            &q.prefix,
            start,
            q.delimiter.as_deref(),
            q.after.as_deref(),
            q.max_keys,
            |item| {
                match item {
                    Item::Prefix(cp) => {
                        page.common_prefixes.push(cp.to_owned());
                        page.last = Some(cp.to_owned());
                    }
                    Item::Row(key, v) => {
                        page.objects.push(decode(v)?);
                        page.last = Some(key.to_owned());
                    }
                }
                Ok(())
            },
        )
        .await?;
        Ok(page)
    }
}

/// ListObjectVersions.
#[derive(Debug, Clone, Default)]
pub struct VersionsQuery {
    /// Keys start with this.
    pub prefix: String,
    /// Fold keys into common prefixes at this.
    pub delimiter: Option<String>,
    /// Start after this key...
    pub key_marker: Option<String>,
    /// ...and this version of it.
    pub version_id_marker: Option<String>,
    /// Page size.
    pub max_keys: usize,
}

/// One version in a listing.
#[derive(Debug, Clone)]
pub struct VersionEntry {
    /// The version (or delete marker).
    pub version: ObjectVersion,
    /// It is its key's newest.
    pub is_latest: bool,
}

/// A page of versions.
#[derive(Debug, Clone, Default)]
pub struct VersionsPage {
    /// The versions, key ascending, newest first.
    pub versions: Vec<VersionEntry>,
    /// Common prefixes.
    pub common_prefixes: Vec<String>,
    /// More remain.
    pub truncated: bool,
    /// Where the next page starts.
    pub next_key_marker: Option<String>,
    /// Where the next page starts, within its key.
    pub next_version_id_marker: Option<String>,
}

impl Engine {
    /// ListObjectVersions: every version and delete marker, key ascending, newest first.
    pub async fn list_versions(&self, bucket: &str, q: &VersionsQuery) -> S3Result<VersionsPage> {
        self.bucket(bucket).await?;
        let snap = self.snapshot().await?;
        let base = keys::version_prefix(bucket);
        let mut start = base.clone();
        start.extend_from_slice(q.prefix.as_bytes());
        // The key whose rows we enter mid-way (after a version-id-marker): none of them is latest.
        let mut prev_key: Option<String> = None;
        if let Some(km) = q.key_marker.as_deref().filter(|k| !k.is_empty()) {
            let from = match q.version_id_marker.as_deref().filter(|v| !v.is_empty()) {
                Some(vid) => {
                    let uid = match VersionId::parse(vid)? {
                        VersionId::Id(uid) => Some(uid),
                        VersionId::Null => store::get_id(&*snap, &keys::null_version(bucket, km)).await?,
                    };
                    match uid {
                        Some(uid) => {
                            prev_key = Some(km.to_owned());
                            let mut k = keys::version(bucket, km, &uid);
                            k.push(0);
                            k
                        }
                        None => ksan_meta::prefix_end(&keys::version_key_prefix(bucket, km)),
                    }
                }
                None => ksan_meta::prefix_end(&keys::version_key_prefix(bucket, km)),
            };
            if from > start {
                start = from;
            }
        }
        let mut page = VersionsPage::default();
        page.truncated = scan(
            &*snap,
            &base,
            &q.prefix,
            start,
            q.delimiter.as_deref(),
            q.key_marker.as_deref(),
            q.max_keys,
            |item| {
                match item {
                    Item::Prefix(cp) => {
                        page.common_prefixes.push(cp.to_owned());
                        page.next_key_marker = Some(cp.to_owned());
                        page.next_version_id_marker = None;
                    }
                    Item::Row(key, v) => {
                        let version: ObjectVersion = decode(v)?;
                        let is_latest = prev_key.as_deref() != Some(key);
                        prev_key = Some(key.to_owned());
                        page.next_key_marker = Some(key.to_owned());
                        page.next_version_id_marker = Some(version.version_id_str().to_owned());
                        page.versions.push(VersionEntry { version, is_latest });
                    }
                }
                Ok(())
            },
        )
        .await?;
        if !page.truncated {
            page.next_key_marker = None;
            page.next_version_id_marker = None;
        }
        Ok(page)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objects::{BodyChecks, PutObjectRequest, WriteConditions};
    use crate::records::NewObject;
    use bytes::Bytes;

    async fn put(e: &Engine, key: &str) {
        let req = PutObjectRequest {
            sse: None,
            bucket: "bkt".into(),
            key: key.into(),
            object: NewObject::default(),
            body: BodyChecks::default(),
            conditions: WriteConditions::default(),
        };
        let body = Box::pin(futures_util::stream::once(async { Ok(Bytes::from_static(b"x")) }));
        e.put_object(req, body).await.unwrap();
    }

    fn q(prefix: &str, delimiter: Option<&str>, after: Option<&str>, max_keys: usize) -> ListQuery {
        ListQuery {
            prefix: prefix.into(),
            delimiter: delimiter.map(Into::into),
            after: after.map(Into::into),
            max_keys,
        }
    }

    fn keys_of(p: &ListPage) -> Vec<&str> {
        p.objects.iter().map(|o| o.key.as_str()).collect()
    }

    #[tokio::test]
    async fn prefixes_delimiters_and_pages() {
        let (e, _d) = crate::testutil::engine();
        let u = e.create_user("u", "AKU", "secretsecret", false).await.unwrap();
        e.create_bucket(&u, "bkt", None).await.unwrap();
        for k in ["a", "b/1", "b/2", "b/3/x", "c", "d/1", "e"] {
            put(&e, k).await;
        }
        let p = e.list_objects("bkt", &q("", None, None, 1000)).await.unwrap();
        assert_eq!(keys_of(&p), ["a", "b/1", "b/2", "b/3/x", "c", "d/1", "e"]);
        assert!(!p.truncated);

        let p = e.list_objects("bkt", &q("", Some("/"), None, 1000)).await.unwrap();
        assert_eq!(keys_of(&p), ["a", "c", "e"]);
        assert_eq!(p.common_prefixes, ["b/", "d/"]);

        let p = e.list_objects("bkt", &q("b/", Some("/"), None, 1000)).await.unwrap();
        assert_eq!(keys_of(&p), ["b/1", "b/2"]);
        assert_eq!(p.common_prefixes, ["b/3/"]);

        // pages of 2 with a delimiter: a, b/ | c, d/ | e
        let p = e.list_objects("bkt", &q("", Some("/"), None, 2)).await.unwrap();
        assert_eq!(
            (keys_of(&p), p.common_prefixes.clone(), p.truncated),
            (vec!["a"], vec!["b/".to_owned()], true)
        );
        let p = e
            .list_objects("bkt", &q("", Some("/"), p.last.as_deref(), 2))
            .await
            .unwrap();
        assert_eq!(
            (keys_of(&p), p.common_prefixes.clone(), p.truncated),
            (vec!["c"], vec!["d/".to_owned()], true)
        );
        let p = e
            .list_objects("bkt", &q("", Some("/"), p.last.as_deref(), 2))
            .await
            .unwrap();
        assert_eq!((keys_of(&p), p.truncated), (vec!["e"], false));

        let p = e.list_objects("bkt", &q("", None, Some("b/2"), 1000)).await.unwrap();
        assert_eq!(keys_of(&p), ["b/3/x", "c", "d/1", "e"]);
        let p = e.list_objects("bkt", &q("", None, None, 0)).await.unwrap();
        assert!(p.objects.is_empty() && !p.truncated);
        let p = e.list_objects("bkt", &q("zz", None, None, 10)).await.unwrap();
        assert!(p.objects.is_empty());
    }
}
