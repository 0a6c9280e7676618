//! Static website hosting: a bucket's website configuration (`PutBucketWebsite`) and the
//! decisions the website endpoint makes with it, apart from the S3 API's.
//!
//! A website request for `path` on `host` goes as follows (the api layer's `website` module
//! does the I/O, this module decides):
//!
//! 1. `RedirectAllRequestsTo`: every request is redirected (301) to the same path on that host
//!    (and protocol, if given).
//! 2. The key is the path without its leading `/`; an empty key or one ending in `/` gets the
//!    index document's suffix appended (`dir/` -> `dir/index.html`).
//! 3. Routing rules without `HttpErrorCodeReturnedEquals` apply before the lookup: the first
//!    whose `KeyPrefixEquals` (or no condition) matches the requested key redirects.
//! 4. The object is looked up as an anonymous GET (or HEAD) would be: the bucket's policy and
//!    ACLs decide, so a private bucket answers 403. An object with
//!    `x-amz-website-redirect-location` is a 301 to it.
//! 5. A key that is not found, did not end in `/`, and for which `key/` + index exists is a
//!    302 to `/key/`.
//! 6. An error (403, 404): the first routing rule whose `HttpErrorCodeReturnedEquals` is the
//!    error's status (and whose prefix, if any, matches) redirects; else the error document,
//!    if configured and readable, is served with the error's status; else an HTML error page.

use ksan_types::{ErrorCode, S3Error, S3Result};
use serde::{Deserialize, Serialize};

use crate::config::{BucketConfig, BucketState};
use crate::keys::ConfigKind;

/// Most routing rules a configuration holds.
pub const MAX_ROUTING_RULES: usize = 50;

/// `RedirectAllRequestsTo`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct RedirectAll {
    /// The host every request goes to.
    pub host_name: String,
    /// `http` or `https` (None: the request's).
    pub protocol: Option<String>,
}

/// When a routing rule applies.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct RoutingCondition {
    /// The requested key starts with this.
    pub key_prefix_equals: Option<String>,
    /// The lookup failed with this HTTP status.
    pub http_error_code_returned_equals: Option<u16>,
}

/// Where a routing rule sends the request.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct RoutingRedirect {
    /// Another host (None: the request's).
    pub host_name: Option<String>,
    /// `http` or `https` (None: the request's).
    pub protocol: Option<String>,
    /// Replace the matched prefix of the key with this.
    pub replace_key_prefix_with: Option<String>,
    /// Replace the whole key with this.
    pub replace_key_with: Option<String>,
    /// The redirect's status (None: 301).
    pub http_redirect_code: Option<u16>,
}

/// One routing rule.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct RoutingRule {
    /// When it applies (None: always).
    pub condition: Option<RoutingCondition>,
    /// Where it sends the request.
    pub redirect: RoutingRedirect,
}

/// A bucket's website configuration.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct WebsiteConfig {
    /// `IndexDocument/Suffix`.
    pub index_suffix: Option<String>,
    /// `ErrorDocument/Key`.
    pub error_key: Option<String>,
    /// `RedirectAllRequestsTo`.
    pub redirect_all: Option<RedirectAll>,
    /// `RoutingRules`, in order.
    pub routing_rules: Vec<RoutingRule>,
}

fn bad(msg: &str, name: &'static str, value: impl Into<String>) -> S3Error {
    S3Error::invalid_argument(msg.to_owned(), name, value)
}

fn check_protocol(p: &Option<String>) -> S3Result<()> {
    match p.as_deref() {
        None | Some("http") | Some("https") => Ok(()),
        Some(other) => Err(bad(
            "Invalid protocol, protocol can be http or https. If not defined the protocol will be selected automatically.",
            "Protocol",
            other,
        )),
    }
}

impl BucketConfig for WebsiteConfig {
    const KIND: ConfigKind = ConfigKind::Website;
    const NOT_FOUND: Option<ErrorCode> = Some(ErrorCode::NoSuchWebsiteConfiguration);

    /// S3's checks: RedirectAllRequestsTo alone, or an IndexDocument with a non-empty suffix
    /// without `/`; protocols http/https; redirect codes 3XX but 300; error codes 4XX/5XX;
    /// ReplaceKeyWith and ReplaceKeyPrefixWith not both; at most 50 routing rules.
    fn validate(&self, _bucket: &BucketState) -> S3Result<()> {
        if let Some(all) = &self.redirect_all {
            if self.index_suffix.is_some() || self.error_key.is_some() || !self.routing_rules.is_empty() {
                return Err(bad(
                    "RedirectAllRequestsTo cannot be provided in conjunction with other Routing Rules.",
                    "RedirectAllRequestsTo",
                    "not empty",
                ));
            }
            if all.host_name.is_empty() {
                return Err(bad("A host name must be provided.", "HostName", ""));
            }
            return check_protocol(&all.protocol);
        }
        match &self.index_suffix {
            None => {
                return Err(bad(
                    "A value for IndexDocument Suffix must be provided if RedirectAllRequestsTo is empty",
                    "IndexDocument",
                    "null",
                ));
            }
            Some(s) if s.is_empty() || s.contains('/') => {
                return Err(bad(
                    "The IndexDocument Suffix is not well formed",
                    "IndexDocument",
                    s.clone(),
                ));
            }
            Some(_) => {}
        }
        if self.error_key.as_deref() == Some("") {
            return Err(bad("The ErrorDocument Key is not well formed", "ErrorDocument", ""));
        }
        if self.routing_rules.len() > MAX_ROUTING_RULES {
            return Err(bad(
                "The number of routing rules must not exceed the allowed limit of 50 rules.",
                "RoutingRules",
                self.routing_rules.len().to_string(),
            ));
        }
        for rule in &self.routing_rules {
            let r = &rule.redirect;
            if r.replace_key_with.is_some() && r.replace_key_prefix_with.is_some() {
                return Err(bad(
                    "You can only define ReplaceKeyPrefix or ReplaceKey but not both.",
                    "Redirect",
                    "both",
                ));
            }
            check_protocol(&r.protocol)?;
            if let Some(code) = r.http_redirect_code
                && (!(301..=399).contains(&code))
            {
                return Err(bad(
                    &format!("The provided HTTP redirect code ({code}) is not valid. Valid codes are 3XX except 300."),
                    "HttpRedirectCode",
                    code.to_string(),
                ));
            }
            if let Some(code) = rule.condition.as_ref().and_then(|c| c.http_error_code_returned_equals)
                && !(400..=599).contains(&code)
            {
                return Err(bad(
                    &format!("The provided HTTP error code ({code}) is not valid. Valid codes are 4XX or 5XX."),
                    "HttpErrorCodeReturnedEquals",
                    code.to_string(),
                ));
            }
        }
        Ok(())
    }
}

/// A redirect: status and `Location`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    /// 301, 302, ...
    pub status: u16,
    /// Where to.
    pub location: String,
}

/// What to do with a website request before the lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Redirect at once (steps 1 and 3).
    Redirect(Redirect),
    /// Look this key up (step 2); `requested` is the key as asked for (before the index).
    Serve {
        /// The object key to read.
        key: String,
        /// The key the request named.
        requested: String,
    },
}

/// Where a request is: its host (for redirects that keep it) and protocol.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    /// The Host the request was sent to.
    pub host: &'a str,
    /// `http` or `https`.
    pub protocol: &'a str,
}

impl WebsiteConfig {
    /// Steps 1–3 for a request of `key` (the path without its leading `/`, decoded).
    pub fn plan(&self, key: &str, at: Origin<'_>) -> Plan {
        if let Some(all) = &self.redirect_all {
            let protocol = all.protocol.as_deref().unwrap_or(at.protocol);
            return Plan::Redirect(Redirect {
                status: 301,
                location: format!("{protocol}://{}/{key}", all.host_name),
            });
        }
        for rule in &self.routing_rules {
            let c = rule.condition.as_ref();
            if c.and_then(|c| c.http_error_code_returned_equals).is_some() {
                continue;
            }
            let prefix = c.and_then(|c| c.key_prefix_equals.as_deref()).unwrap_or("");
            if key.starts_with(prefix) {
                return Plan::Redirect(redirect(&rule.redirect, key, prefix, at));
            }
        }
        let mut object = key.to_owned();
        if object.is_empty() || object.ends_with('/') {
            object.push_str(self.index_suffix.as_deref().unwrap_or("index.html"));
        }
        Plan::Serve {
            key: object,
            requested: key.to_owned(),
        }
    }

    /// Step 6's routing rules: a redirect for a lookup of `key` that failed with `status`.
    pub fn on_error(&self, key: &str, status: u16, at: Origin<'_>) -> Option<Redirect> {
        self.routing_rules.iter().find_map(|rule| {
            let c = rule.condition.as_ref()?;
            if c.http_error_code_returned_equals? != status {
                return None;
            }
            let prefix = c.key_prefix_equals.as_deref().unwrap_or("");
            key.starts_with(prefix)
                .then(|| redirect(&rule.redirect, key, prefix, at))
        })
    }

    /// The key of the index document below `key/` (step 5), for a key without a trailing `/`.
    pub fn directory_index(&self, requested: &str) -> Option<String> {
        if requested.is_empty() || requested.ends_with('/') {
            return None;
        }
        Some(format!(
            "{requested}/{}",
            self.index_suffix.as_deref().unwrap_or("index.html")
        ))
    }
}

fn redirect(r: &RoutingRedirect, key: &str, prefix: &str, at: Origin<'_>) -> Redirect {
    let protocol = r.protocol.as_deref().unwrap_or(at.protocol);
    let host = r.host_name.as_deref().unwrap_or(at.host);
    let new_key = match (&r.replace_key_with, &r.replace_key_prefix_with) {
        (Some(k), _) => k.clone(),
        (None, Some(p)) => format!("{p}{}", &key[prefix.len().min(key.len())..]),
        (None, None) => key.to_owned(),
    };
    Redirect {
        status: r.http_redirect_code.unwrap_or(301),
        location: format!("{protocol}://{host}/{new_key}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AT: Origin<'static> = Origin {
        host: "site.example",
        protocol: "http",
    };

    fn site() -> WebsiteConfig {
        WebsiteConfig {
            index_suffix: Some("index.html".into()),
            error_key: Some("error.html".into()),
            redirect_all: None,
            routing_rules: vec![
                RoutingRule {
                    condition: Some(RoutingCondition {
                        key_prefix_equals: Some("docs/".into()),
                        http_error_code_returned_equals: None,
                    }),
                    redirect: RoutingRedirect {
                        replace_key_prefix_with: Some("documents/".into()),
                        ..RoutingRedirect::default()
                    },
                },
                RoutingRule {
                    condition: Some(RoutingCondition {
                        key_prefix_equals: None,
                        http_error_code_returned_equals: Some(404),
                    }),
                    redirect: RoutingRedirect {
                        host_name: Some("fallback.example".into()),
                        protocol: Some("https".into()),
                        replace_key_with: Some("missing.html".into()),
                        http_redirect_code: Some(302),
                        ..RoutingRedirect::default()
                    },
                },
            ],
        }
    }

    fn bucket() -> BucketState {
        crate::config::test_bucket()
    }

    #[test]
    fn plans() {
        let s = site();
        let serve = |key: &str, requested: &str| Plan::Serve {
            key: key.into(),
            requested: requested.into(),
        };
        assert_eq!(s.plan("", AT), serve("index.html", ""));
        assert_eq!(s.plan("a/b/", AT), serve("a/b/index.html", "a/b/"));
        assert_eq!(s.plan("page.html", AT), serve("page.html", "page.html"));
        assert_eq!(
            s.plan("docs/guide.html", AT),
            Plan::Redirect(Redirect {
                status: 301,
                location: "http://site.example/documents/guide.html".into()
            })
        );
        assert_eq!(
            s.on_error("nope.html", 404, AT),
            Some(Redirect {
                status: 302,
                location: "https://fallback.example/missing.html".into()
            })
        );
        assert_eq!(s.on_error("nope.html", 403, AT), None);
        assert_eq!(s.directory_index("dir"), Some("dir/index.html".into()));
        assert_eq!(s.directory_index("dir/"), None);
        let all = WebsiteConfig {
            redirect_all: Some(RedirectAll {
                host_name: "new.example".into(),
                protocol: Some("https".into()),
            }),
            ..WebsiteConfig::default()
        };
        assert_eq!(
            all.plan("a/b.html", AT),
            Plan::Redirect(Redirect {
                status: 301,
                location: "https://new.example/a/b.html".into()
            })
        );
    }

    #[test]
    fn documents_are_checked_as_s3_checks_them() {
        assert!(site().validate(&bucket()).is_ok());
        let bad = |f: fn(&mut WebsiteConfig)| {
            let mut c = site();
            f(&mut c);
            c.validate(&bucket()).unwrap_err().code
        };
        assert_eq!(bad(|c| c.index_suffix = None), ErrorCode::InvalidArgument);
        assert_eq!(bad(|c| c.index_suffix = Some("a/b".into())), ErrorCode::InvalidArgument);
        assert_eq!(
            bad(|c| c.index_suffix = Some(String::new())),
            ErrorCode::InvalidArgument
        );
        assert_eq!(
            bad(|c| c.routing_rules[0].redirect.replace_key_with = Some("x".into())),
            ErrorCode::InvalidArgument
        );
        assert_eq!(
            bad(|c| c.routing_rules[0].redirect.http_redirect_code = Some(200)),
            ErrorCode::InvalidArgument
        );
        assert_eq!(
            bad(|c| c.routing_rules[0].redirect.protocol = Some("ftp".into())),
            ErrorCode::InvalidArgument
        );
        assert_eq!(
            bad(|c| c.routing_rules[1]
                .condition
                .as_mut()
                .unwrap()
                .http_error_code_returned_equals = Some(200)),
            ErrorCode::InvalidArgument
        );
        assert_eq!(
            bad(|c| {
                c.redirect_all = Some(RedirectAll {
                    host_name: "x".into(),
                    protocol: None,
                })
            }),
            ErrorCode::InvalidArgument
        );
        assert_eq!(
            bad(|c| c.routing_rules = vec![RoutingRule::default(); MAX_ROUTING_RULES + 1]),
            ErrorCode::InvalidArgument
        );
    }
}
