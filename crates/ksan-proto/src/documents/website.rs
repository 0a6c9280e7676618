//! `WebsiteConfiguration`: a bucket's static website settings (Put/GetBucketWebsite).

use ksan_types::S3Result;

use super::XmlDocument;
use crate::xml::{Element, XmlWriter};

/// `RedirectAllRequestsTo`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RedirectAllDoc {
    /// `HostName`.
    pub host_name: String,
    /// `Protocol`.
    pub protocol: Option<String>,
}

/// One `RoutingRule`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RoutingRuleDoc {
    /// `Condition/KeyPrefixEquals`.
    pub key_prefix_equals: Option<String>,
    /// `Condition/HttpErrorCodeReturnedEquals`.
    pub http_error_code_returned_equals: Option<u16>,
    /// The rule has a `Condition` element.
    pub has_condition: bool,
    /// `Redirect/HostName`.
    pub host_name: Option<String>,
    /// `Redirect/Protocol`.
    pub protocol: Option<String>,
    /// `Redirect/ReplaceKeyPrefixWith`.
    pub replace_key_prefix_with: Option<String>,
    /// `Redirect/ReplaceKeyWith`.
    pub replace_key_with: Option<String>,
    /// `Redirect/HttpRedirectCode`.
    pub http_redirect_code: Option<u16>,
}

/// The document.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WebsiteConfiguration {
    /// `IndexDocument/Suffix`.
    pub index_suffix: Option<String>,
    /// `ErrorDocument/Key`.
    pub error_key: Option<String>,
    /// `RedirectAllRequestsTo`.
    pub redirect_all: Option<RedirectAllDoc>,
    /// `RoutingRules/RoutingRule`, in order.
    pub routing_rules: Vec<RoutingRuleDoc>,
}

fn code(e: &Element, name: &str) -> S3Result<Option<u16>> {
    e.child_text(name)
        .map(|t| t.parse::<u16>().map_err(|_| WebsiteConfiguration::malformed()))
        .transpose()
}

impl XmlDocument for WebsiteConfiguration {
    const ROOT: &'static str = "WebsiteConfiguration";

    fn read(root: &Element) -> S3Result<Self> {
        let required = |e: &Element, parent: &str, name: &str| -> S3Result<Option<String>> {
            match e.child(parent) {
                None => Ok(None),
                Some(p) => p
                    .child_raw(name)
                    .map(|t| Some(t.to_owned()))
                    .ok_or_else(Self::malformed),
            }
        };
        let redirect_all = root
            .child("RedirectAllRequestsTo")
            .map(|r| {
                S3Result::Ok(RedirectAllDoc {
                    host_name: r.child_text("HostName").ok_or_else(Self::malformed)?.to_owned(),
                    protocol: r.child_text("Protocol").map(str::to_owned),
                })
            })
            .transpose()?;
        let mut routing_rules = Vec::new();
        if let Some(rules) = root.child("RoutingRules") {
            for rule in rules.children_named("RoutingRule") {
                let redirect = rule.child("Redirect").ok_or_else(Self::malformed)?;
                let condition = rule.child("Condition");
                routing_rules.push(RoutingRuleDoc {
                    key_prefix_equals: condition
                        .and_then(|c| c.child_raw("KeyPrefixEquals"))
                        .map(str::to_owned),
                    http_error_code_returned_equals: match condition {
                        Some(c) => code(c, "HttpErrorCodeReturnedEquals")?,
                        None => None,
                    },
                    has_condition: condition.is_some(),
                    host_name: redirect.child_text("HostName").map(str::to_owned),
                    protocol: redirect.child_text("Protocol").map(str::to_owned),
                    replace_key_prefix_with: redirect.child_raw("ReplaceKeyPrefixWith").map(str::to_owned),
                    replace_key_with: redirect.child_raw("ReplaceKeyWith").map(str::to_owned),
                    http_redirect_code: code(redirect, "HttpRedirectCode")?,
                });
            }
        }
        Ok(WebsiteConfiguration {
            index_suffix: required(root, "IndexDocument", "Suffix")?,
            error_key: required(root, "ErrorDocument", "Key")?,
            redirect_all,
            routing_rules,
        })
    }

    fn write_body(&self, w: &mut XmlWriter) {
        if let Some(all) = &self.redirect_all {
            w.open("RedirectAllRequestsTo")
                .elem("HostName", &all.host_name)
                .elem_opt("Protocol", all.protocol.as_deref())
                .close("RedirectAllRequestsTo");
        }
        if let Some(s) = &self.index_suffix {
            w.open("IndexDocument").elem("Suffix", s).close("IndexDocument");
        }
        if let Some(k) = &self.error_key {
            w.open("ErrorDocument").elem("Key", k).close("ErrorDocument");
        }
        if !self.routing_rules.is_empty() {
            w.open("RoutingRules");
            for r in &self.routing_rules {
                w.open("RoutingRule");
                if r.has_condition {
                    w.open("Condition");
                    w.elem_opt("KeyPrefixEquals", r.key_prefix_equals.as_deref());
                    if let Some(c) = r.http_error_code_returned_equals {
                        w.elem_display("HttpErrorCodeReturnedEquals", c);
                    }
                    w.close("Condition");
                }
                w.open("Redirect");
                w.elem_opt("HostName", r.host_name.as_deref());
                if let Some(c) = r.http_redirect_code {
                    w.elem_display("HttpRedirectCode", c);
                }
                w.elem_opt("Protocol", r.protocol.as_deref());
                w.elem_opt("ReplaceKeyPrefixWith", r.replace_key_prefix_with.as_deref());
                w.elem_opt("ReplaceKeyWith", r.replace_key_with.as_deref());
                w.close("Redirect");
                w.close("RoutingRule");
            }
            w.close("RoutingRules");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ksan_types::ErrorCode;

    #[test]
    fn round_trips_and_rejects() {
        super::super::round_trip(&WebsiteConfiguration {
            index_suffix: Some("index.html".into()),
            error_key: Some("error.html".into()),
            redirect_all: None,
            routing_rules: vec![
                RoutingRuleDoc {
                    key_prefix_equals: Some("docs/".into()),
                    has_condition: true,
                    replace_key_prefix_with: Some("documents/".into()),
                    ..Default::default()
                },
                RoutingRuleDoc {
                    http_error_code_returned_equals: Some(404),
                    has_condition: true,
                    host_name: Some("example.com".into()),
                    protocol: Some("https".into()),
                    replace_key_with: Some("404.html".into()),
                    http_redirect_code: Some(302),
                    ..Default::default()
                },
            ],
        });
        super::super::round_trip(&WebsiteConfiguration {
            redirect_all: Some(RedirectAllDoc {
                host_name: "example.com".into(),
                protocol: None,
            }),
            ..Default::default()
        });
        for bad in [
            "<WebsiteConfiguration><IndexDocument/></WebsiteConfiguration>",
            "<WebsiteConfiguration><RedirectAllRequestsTo/></WebsiteConfiguration>",
            "<WebsiteConfiguration><RoutingRules><RoutingRule/></RoutingRules></WebsiteConfiguration>",
            "<WebsiteConfiguration><RoutingRules><RoutingRule><Redirect><HttpRedirectCode>x</HttpRedirectCode></Redirect></RoutingRule></RoutingRules></WebsiteConfiguration>",
        ] {
            assert_eq!(
                WebsiteConfiguration::from_xml(bad.as_bytes()).unwrap_err().code,
                ErrorCode::MalformedXML,
                "{bad}"
            );
        }
    }
}
