//! Bucket policies: the IAM policy language as S3 applies it to a bucket, parsed once and
//! evaluated for every request that reaches the bucket.
//!
//! `parse` reads documents, `condition` holds the condition operators, `matching` the
//! wildcard, variable, ARN and network matching they share.

mod condition;
mod matching;
mod parse;

use std::collections::HashMap;

use ksan_types::S3Action;

use condition::Condition;
pub use matching::{in_network, parse_network};
use matching::{substitute, wildcard_match};

/// Why a policy document is rejected; the message of S3's MalformedPolicy error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PolicyError(pub String);

/// What a policy says of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyDecision {
    /// An explicit Deny.
    Deny,
    /// An Allow (and no Deny).
    Allow,
    /// No statement applies.
    NoMatch,
}

/// Who asks. Every ksan user is an account of its own whose account id is the user name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyPrincipal {
    /// Unsigned.
    Anonymous,
    /// A user.
    User {
        /// The user (account) name.
        name: String,
        /// Its canonical id.
        canonical_id: String,
    },
}

/// A request's condition keys (case-insensitive names; some keys have several values).
#[derive(Debug, Clone, Default)]
pub struct ConditionContext {
    values: HashMap<String, Vec<String>>,
}

impl ConditionContext {
    /// No keys.
    pub fn new() -> Self {
        Self::default()
    }
    /// Give a key one value.
    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        self.values.insert(key.to_ascii_lowercase(), vec![value.into()]);
    }
    /// Give a key several values.
    pub fn set_all(&mut self, key: &str, values: Vec<String>) {
        self.values.insert(key.to_ascii_lowercase(), values);
    }
    /// A key's values.
    pub fn get(&self, key: &str) -> Option<&[String]> {
        self.values.get(&key.to_ascii_lowercase()).map(Vec::as_slice)
    }
}

/// A request as a policy sees it.
pub struct PolicyRequest<'a> {
    /// Who asks.
    pub principal: &'a PolicyPrincipal,
    /// e.g. `s3:GetObject`
    pub action: S3Action,
    /// `arn:aws:s3:::bucket` or `arn:aws:s3:::bucket/key`
    pub resource: &'a str,
    /// The request's condition keys.
    pub context: &'a ConditionContext,
}

/// A parsed bucket policy.
#[derive(Debug, Clone)]
pub struct BucketPolicy {
    statements: Vec<Statement>,
    /// Every condition key the policy reads (conditions and `${...}` variables), lower-cased:
    /// a request's context needs only these.
    keys: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Effect {
    Allow,
    Deny,
}

/// A list that names what it matches (`Action`) or what it does not (`NotAction`).
#[derive(Debug, Clone)]
struct Listed<T> {
    negated: bool,
    items: Vec<T>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum PrincipalId {
    Everyone,
    /// `arn:aws:iam::<account>:root` or a bare account id.
    Account(String),
    /// `arn:aws:iam::<account>:user/<path/name>`.
    User {
        account: String,
        name: String,
    },
    Canonical(String),
    /// Services, roles and the like: valid, but no ksan request is one of them.
    Other,
}

#[derive(Debug, Clone)]
struct Statement {
    effect: Effect,
    principals: Listed<PrincipalId>,
    /// Lower-cased action patterns.
    actions: Listed<String>,
    resources: Listed<String>,
    conditions: Vec<Condition>,
}

impl BucketPolicy {
    /// The condition keys this policy reads, lower-cased.
    pub fn condition_keys(&self) -> &[String] {
        &self.keys
    }

    /// An explicit Deny wins, else an Allow, else no opinion.
    pub fn evaluate(&self, req: &PolicyRequest<'_>) -> PolicyDecision {
        let mut allowed = false;
        for s in &self.statements {
            if s.applies(req) {
                match s.effect {
                    Effect::Deny => return PolicyDecision::Deny,
                    Effect::Allow => allowed = true,
                }
            }
        }
        if allowed {
            PolicyDecision::Allow
        } else {
            PolicyDecision::NoMatch
        }
    }

    /// AWS's definition: public if some Allow statement lets everyone in without a condition
    /// that pins the callers to known accounts, networks or ARNs.
    pub fn is_public(&self) -> bool {
        self.statements.iter().any(Statement::is_public)
    }
}

impl Statement {
    fn applies(&self, req: &PolicyRequest<'_>) -> bool {
        let principal = self.principals.items.iter().any(|p| p.matches(req.principal));
        if principal == self.principals.negated {
            return false;
        }
        // Patterns are lower-cased; action names compare without regard to case.
        let action = req.action.as_str();
        let action_listed = self.actions.items.iter().any(|a| wildcard_match(a, action, true));
        if action_listed == self.actions.negated {
            return false;
        }
        let resource_listed = self.resources.items.iter().any(|r| match substitute(r, req.context) {
            Some(pattern) => wildcard_match(&pattern, req.resource, false),
            None => false,
        });
        if resource_listed == self.resources.negated {
            return false;
        }
        self.conditions.iter().all(|c| c.holds(req.context))
    }

    fn is_public(&self) -> bool {
        if self.effect != Effect::Allow || self.principals.negated {
            return false;
        }
        if !self.principals.items.contains(&PrincipalId::Everyone) {
            return false;
        }
        !self.conditions.iter().any(Condition::restricts_callers)
    }
}

impl PrincipalId {
    fn matches(&self, who: &PolicyPrincipal) -> bool {
        match (self, who) {
            (PrincipalId::Everyone, _) => true,
            (_, PolicyPrincipal::Anonymous) => false,
            (PrincipalId::Account(a), PolicyPrincipal::User { name, .. }) => a == name,
            (PrincipalId::User { account, name: n }, PolicyPrincipal::User { name, .. }) => {
                account == name && n == name
            }
            (PrincipalId::Canonical(id), PolicyPrincipal::User { canonical_id, .. }) => id == canonical_id,
            (PrincipalId::Other, _) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::matching::*;
    use super::parse::*;
    use super::*;

    fn user(name: &str) -> PolicyPrincipal {
        PolicyPrincipal::User {
            name: name.into(),
            canonical_id: format!("{name}-id"),
        }
    }

    fn decide(
        policy: &BucketPolicy,
        who: &PolicyPrincipal,
        action: &str,
        resource: &str,
        ctx: &ConditionContext,
    ) -> PolicyDecision {
        policy.evaluate(&PolicyRequest {
            principal: who,
            action: S3Action::parse(action).expect("a known action"),
            resource,
            context: ctx,
        })
    }

    fn one(statement: &str) -> BucketPolicy {
        BucketPolicy::parse(
            &format!(r#"{{"Version":"2012-10-17","Statement":[{statement}]}}"#),
            "bkt",
        )
        .unwrap()
    }

    fn parse_error(doc: &str) -> String {
        BucketPolicy::parse(doc, "bkt").unwrap_err().0
    }

    #[test]
    fn rejects_bad_documents() {
        assert_eq!(parse_error("not json"), NOT_JSON);
        assert_eq!(parse_error("{\"Version\":"), NOT_JSON);
        assert_eq!(
            parse_error(r#"{"Version":"2012-10-17"}"#),
            "Missing required field Statement"
        );
        let s = |body: &str| parse_error(&format!(r#"{{"Version":"2012-10-17","Statement":[{body}]}}"#));
        assert_eq!(
            s(r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::bkt/*"}"#),
            "Missing required field Principal"
        );
        assert_eq!(
            s(r#"{"Effect":"Allow","Principal":"*","Action":"s3:Steal","Resource":"arn:aws:s3:::bkt/*"}"#),
            BAD_ACTION
        );
        assert_eq!(
            s(r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::other/*"}"#),
            BAD_RESOURCE
        );
        assert_eq!(
            s(r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"bkt/*"}"#),
            BAD_RESOURCE
        );
        assert_eq!(
            s(
                r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::a*:root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::bkt/*"}"#
            ),
            BAD_PRINCIPAL
        );
        assert_eq!(
            s(
                r#"{"Effect":"Allow","Principal":{"Bogus":"x"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::bkt/*"}"#
            ),
            BAD_PRINCIPAL
        );
        assert_eq!(
            s(
                r#"{"Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::a:root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::bkt/*"}"#
            ),
            BAD_SYNTAX
        );
        assert!(
            s(r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::bkt/*","Condition":{"StringSort":{"a":"b"}}}"#)
                .starts_with("Invalid Condition type")
        );
        // Wildcard buckets that can be this one are fine.
        one(
            r#"{"Effect":"Allow","Principal":"*","Action":"s3:ListBucket","Resource":["arn:aws:s3:::*","arn:aws:s3:::*/*","arn:aws:s3:::bk?"]}"#,
        );
    }

    #[test]
    fn principals() {
        let ctx = ConditionContext::new();
        let p = one(
            r#"{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::alice:root","arn:aws:iam::bob:user/team/bob","carol"],"CanonicalUser":"dave-id"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::bkt/*"}"#,
        );
        for who in ["alice", "bob", "carol", "dave"] {
            assert_eq!(
                decide(&p, &user(who), "s3:GetObject", "arn:aws:s3:::bkt/k", &ctx),
                PolicyDecision::Allow,
                "{who}"
            );
        }
        assert_eq!(
            decide(&p, &user("eve"), "s3:GetObject", "arn:aws:s3:::bkt/k", &ctx),
            PolicyDecision::NoMatch
        );
        assert_eq!(
            decide(
                &p,
                &PolicyPrincipal::Anonymous,
                "s3:GetObject",
                "arn:aws:s3:::bkt/k",
                &ctx
            ),
            PolicyDecision::NoMatch
        );
        let star = one(
            r#"{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::bkt/*"}"#,
        );
        assert_eq!(
            decide(
                &star,
                &PolicyPrincipal::Anonymous,
                "s3:GetObject",
                "arn:aws:s3:::bkt/k",
                &ctx
            ),
            PolicyDecision::Allow
        );
        // NotPrincipal in a Deny: everyone but alice, anonymous included.
        let p = one(
            r#"{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::alice:root"},"Action":"s3:*","Resource":"arn:aws:s3:::bkt/*"}"#,
        );
        assert_eq!(
            decide(&p, &user("alice"), "s3:GetObject", "arn:aws:s3:::bkt/k", &ctx),
            PolicyDecision::NoMatch
        );
        assert_eq!(
            decide(&p, &user("bob"), "s3:GetObject", "arn:aws:s3:::bkt/k", &ctx),
            PolicyDecision::Deny
        );
        assert_eq!(
            decide(
                &p,
                &PolicyPrincipal::Anonymous,
                "s3:PutObject",
                "arn:aws:s3:::bkt/k",
                &ctx
            ),
            PolicyDecision::Deny
        );
    }

    #[test]
    fn actions_resources_and_not_forms() {
        let ctx = ConditionContext::new();
        let p = one(r#"{"Effect":"Allow","Principal":"*","Action":"S3:get*","Resource":"arn:aws:s3:::bkt/public/*"}"#);
        assert_eq!(
            decide(&p, &user("x"), "s3:GetObject", "arn:aws:s3:::bkt/public/a", &ctx),
            PolicyDecision::Allow
        );
        assert_eq!(
            decide(&p, &user("x"), "s3:GetObjectAcl", "arn:aws:s3:::bkt/public/a", &ctx),
            PolicyDecision::Allow
        );
        assert_eq!(
            decide(&p, &user("x"), "s3:PutObject", "arn:aws:s3:::bkt/public/a", &ctx),
            PolicyDecision::NoMatch
        );
        assert_eq!(
            decide(&p, &user("x"), "s3:GetObject", "arn:aws:s3:::bkt/Public/a", &ctx),
            PolicyDecision::NoMatch
        );
        // NotAction trap: denies everything except GetObject.
        let p = one(r#"{"Effect":"Deny","Principal":"*","NotAction":"s3:GetObject","Resource":"arn:aws:s3:::bkt/*"}"#);
        assert_eq!(
            decide(&p, &user("x"), "s3:PutObject", "arn:aws:s3:::bkt/a", &ctx),
            PolicyDecision::Deny
        );
        assert_eq!(
            decide(&p, &user("x"), "s3:GetObject", "arn:aws:s3:::bkt/a", &ctx),
            PolicyDecision::NoMatch
        );
        // NotResource: everything but the private prefix.
        let p = one(
            r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","NotResource":"arn:aws:s3:::bkt/private/*"}"#,
        );
        assert_eq!(
            decide(&p, &user("x"), "s3:GetObject", "arn:aws:s3:::bkt/a", &ctx),
            PolicyDecision::Allow
        );
        assert_eq!(
            decide(&p, &user("x"), "s3:GetObject", "arn:aws:s3:::bkt/private/a", &ctx),
            PolicyDecision::NoMatch
        );
        // Deny beats Allow.
        let p = BucketPolicy::parse(
            r#"{"Version":"2012-10-17","Statement":[
                {"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::bkt/*"},
                {"Effect":"Deny","Principal":"*","Action":"s3:DeleteObject","Resource":"arn:aws:s3:::bkt/*"}]}"#,
            "bkt",
        )
        .unwrap();
        assert_eq!(
            decide(&p, &user("x"), "s3:DeleteObject", "arn:aws:s3:::bkt/a", &ctx),
            PolicyDecision::Deny
        );
        assert_eq!(
            decide(&p, &user("x"), "s3:PutObject", "arn:aws:s3:::bkt/a", &ctx),
            PolicyDecision::Allow
        );
    }

    #[test]
    fn variables() {
        let p = one(
            r#"{"Effect":"Allow","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::bkt/home/${aws:username}/*"}"#,
        );
        let mut ctx = ConditionContext::new();
        ctx.set("aws:username", "alice");
        assert_eq!(
            decide(
                &p,
                &user("alice"),
                "s3:PutObject",
                "arn:aws:s3:::bkt/home/alice/x",
                &ctx
            ),
            PolicyDecision::Allow
        );
        assert_eq!(
            decide(&p, &user("alice"), "s3:PutObject", "arn:aws:s3:::bkt/home/bob/x", &ctx),
            PolicyDecision::NoMatch
        );
        // No user name (anonymous): the resource matches nothing.
        let empty = ConditionContext::new();
        assert_eq!(
            decide(
                &p,
                &PolicyPrincipal::Anonymous,
                "s3:PutObject",
                "arn:aws:s3:::bkt/home//x",
                &empty
            ),
            PolicyDecision::NoMatch
        );
        assert_eq!(substitute("a${*}b${?}${$}", &empty).as_deref(), Some("a*b?$"));
        let p = one(
            r#"{"Effect":"Allow","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::bkt/${aws:username}/${*}","Condition":{"StringLike":{"S3:Prefix":"${aws:userid}/*"}}}"#,
        );
        assert_eq!(p.condition_keys(), ["aws:userid", "aws:username", "s3:prefix"]);
    }

    fn cond(c: &str, ctx: &ConditionContext) -> bool {
        let p = one(&format!(
            r#"{{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::bkt/*","Condition":{c}}}"#
        ));
        decide(&p, &user("x"), "s3:GetObject", "arn:aws:s3:::bkt/k", ctx) == PolicyDecision::Allow
    }

    #[test]
    fn condition_operators() {
        let mut ctx = ConditionContext::new();
        ctx.set("s3:prefix", "home/alice/");
        ctx.set("aws:SourceIp", "10.1.2.3");
        ctx.set("aws:SecureTransport", "false");
        ctx.set("s3:max-keys", "10");
        ctx.set("aws:CurrentTime", "2026-11-24T10:00:00Z");
        ctx.set("aws:EpochTime", "1795000000");
        ctx.set("aws:Referer", "http://www.example.com/page");
        ctx.set_all("s3:RequestObjectTagKeys", vec!["a".into(), "b".into()]);
        assert!(cond(r#"{"StringEquals":{"s3:prefix":"home/alice/"}}"#, &ctx));
        assert!(
            cond(r#"{"StringEquals":{"S3:Prefix":["x","home/alice/"]}}"#, &ctx),
            "keys are case-insensitive"
        );
        assert!(!cond(r#"{"StringNotEquals":{"s3:prefix":"home/alice/"}}"#, &ctx));
        assert!(cond(r#"{"StringEqualsIgnoreCase":{"s3:prefix":"HOME/ALICE/"}}"#, &ctx));
        assert!(cond(r#"{"StringLike":{"s3:prefix":"home/*"}}"#, &ctx));
        assert!(!cond(r#"{"StringNotLike":{"s3:prefix":"home/*"}}"#, &ctx));
        assert!(cond(r#"{"NumericLessThanEquals":{"s3:max-keys":10}}"#, &ctx));
        assert!(!cond(r#"{"NumericGreaterThan":{"s3:max-keys":"10"}}"#, &ctx));
        assert!(cond(
            r#"{"DateGreaterThan":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}}"#,
            &ctx
        ));
        assert!(cond(r#"{"DateLessThan":{"aws:CurrentTime":"2027-01-01"}}"#, &ctx));
        assert!(cond(r#"{"NumericGreaterThan":{"aws:EpochTime":1700000000}}"#, &ctx));
        assert!(cond(r#"{"Bool":{"aws:SecureTransport":"false"}}"#, &ctx));
        assert!(!cond(r#"{"Bool":{"aws:SecureTransport":true}}"#, &ctx));
        assert!(cond(r#"{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#, &ctx));
        assert!(!cond(
            r#"{"NotIpAddress":{"aws:SourceIp":["192.168.0.0/16","10.0.0.0/8"]}}"#,
            &ctx
        ));
        assert!(!cond(r#"{"IpAddress":{"aws:SourceIp":"2001:db8::/32"}}"#, &ctx));
        assert!(cond(r#"{"Null":{"aws:username":"true"}}"#, &ctx));
        assert!(!cond(r#"{"Null":{"s3:prefix":"true"}}"#, &ctx));
        // Absent keys: false for positive operators, true for negated ones and IfExists.
        assert!(!cond(r#"{"StringEquals":{"s3:delimiter":"/"}}"#, &ctx));
        assert!(cond(r#"{"StringNotEquals":{"s3:delimiter":"/"}}"#, &ctx));
        assert!(cond(r#"{"StringLikeIfExists":{"s3:delimiter":"/"}}"#, &ctx));
        assert!(cond(
            r#"{"StringLikeIfExists":{"aws:Referer":"http://www.example.com/*"}}"#,
            &ctx
        ));
        assert!(!cond(
            r#"{"StringEqualsIfExists":{"aws:Referer":"http://example.com"}}"#,
            &ctx
        ));
        // Sets.
        assert!(cond(
            r#"{"ForAllValues:StringEquals":{"s3:RequestObjectTagKeys":["a","b","c"]}}"#,
            &ctx
        ));
        assert!(!cond(
            r#"{"ForAllValues:StringEquals":{"s3:RequestObjectTagKeys":["a"]}}"#,
            &ctx
        ));
        assert!(cond(
            r#"{"ForAnyValue:StringEquals":{"s3:RequestObjectTagKeys":["b"]}}"#,
            &ctx
        ));
        assert!(cond(r#"{"ForAllValues:StringEquals":{"s3:nothing":["b"]}}"#, &ctx));
        assert!(!cond(r#"{"ForAnyValue:StringEquals":{"s3:nothing":["b"]}}"#, &ctx));
        // Everything ANDs.
        assert!(!cond(
            r#"{"StringEquals":{"s3:prefix":"home/alice/"},"IpAddress":{"aws:SourceIp":"192.0.2.0/24"}}"#,
            &ctx
        ));
    }

    #[test]
    fn ipv6_and_arns() {
        let mut ctx = ConditionContext::new();
        ctx.set("aws:SourceIp", "2001:db8::7");
        ctx.set("aws:SourceArn", "arn:aws:s3:::bkt/logs");
        assert!(cond(r#"{"IpAddress":{"aws:SourceIp":"2001:db8::/32"}}"#, &ctx));
        assert!(!cond(r#"{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#, &ctx));
        assert!(cond(r#"{"ArnLike":{"aws:SourceArn":"arn:aws:s3:::bkt/*"}}"#, &ctx));
        assert!(!cond(r#"{"ArnEquals":{"aws:SourceArn":"arn:aws:s3:::bkt/*"}}"#, &ctx));
        assert!(cond(r#"{"ArnNotEquals":{"aws:SourceArn":"arn:aws:s3:::other"}}"#, &ctx));
    }

    #[test]
    fn public_policies() {
        let public = |s: &str| one(s).is_public();
        assert!(public(
            r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::bkt/*"}"#
        ));
        assert!(public(
            r#"{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"s3:ListBucket","Resource":"arn:aws:s3:::bkt"}"#
        ));
        assert!(!public(
            r#"{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"s3:ListBucket","Resource":"arn:aws:s3:::bkt","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/32"}}}"#
        ));
        assert!(public(
            r#"{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"s3:ListBucket","Resource":"arn:aws:s3:::bkt","Condition":{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}}"#
        ));
        assert!(public(
            r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::bkt/*","Condition":{"StringLike":{"aws:Referer":"http://x/*"}}}"#
        ));
        assert!(!public(
            r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::s3tenant1:root"},"Action":"s3:ListBucket","Resource":"arn:aws:s3:::bkt"}"#
        ));
        assert!(!public(
            r#"{"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::bkt/*"}"#
        ));
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_match("a*c", "abbbc", false));
        assert!(wildcard_match("a*", "a", false));
        assert!(wildcard_match("*", "", false));
        assert!(wildcard_match("a?c", "abc", false));
        assert!(!wildcard_match("a?c", "ac", false));
        assert!(wildcard_match("*b*b*", "abxbyb", false));
        assert!(!wildcard_match("ab", "abc", false));
        assert!(wildcard_match("AB*", "abc", true));
        // `?` is one character, not one byte.
        assert!(wildcard_match("a?c", "aéc", false));
        assert!(wildcard_match("*é", "xxé", false));
        assert!(!wildcard_match("a?c", "aééc", false));
        assert!(wildcard_match("a*?c", "aééc", false));
    }
}
