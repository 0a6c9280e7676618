//! Bucket policies: the IAM policy language as S3 applies it to a bucket, parsed once and
//! evaluated for every request that reaches the bucket.

use std::collections::HashMap;
use std::net::IpAddr;

use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Why a policy document is rejected; the message of S3's MalformedPolicy error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PolicyError(pub String);

fn err<T>(msg: &str) -> Result<T, PolicyError> {
    Err(PolicyError(msg.to_owned()))
}

const NOT_JSON: &str = "Policies must be valid JSON and the first byte must be '{'";
const BAD_SYNTAX: &str = "Invalid policy syntax.";
const BAD_PRINCIPAL: &str = "Invalid principal in policy";
const BAD_ACTION: &str = "Policy has invalid action";
const BAD_RESOURCE: &str = "Policy has invalid resource";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyDecision {
    Deny,
    Allow,
    NoMatch,
}

/// Who asks. Every ksan user is an account of its own whose account id is the user name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyPrincipal {
    Anonymous,
    User { name: String, canonical_id: String },
}

/// A request's condition keys (case-insensitive names; some keys have several values).
#[derive(Debug, Clone, Default)]
pub struct ConditionContext {
    values: HashMap<String, Vec<String>>,
}

impl ConditionContext {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        self.values.insert(key.to_ascii_lowercase(), vec![value.into()]);
    }
    pub fn set_all(&mut self, key: &str, values: Vec<String>) {
        self.values.insert(key.to_ascii_lowercase(), values);
    }
    pub fn get(&self, key: &str) -> Option<&[String]> {
        self.values.get(&key.to_ascii_lowercase()).map(Vec::as_slice)
    }
}

pub struct PolicyRequest<'a> {
    pub principal: &'a PolicyPrincipal,
    /// e.g. `s3:GetObject`
    pub action: &'a str,
    /// `arn:aws:s3:::bucket` or `arn:aws:s3:::bucket/key`
    pub resource: &'a str,
    pub context: &'a ConditionContext,
}

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operator {
    StringEquals,
    StringEqualsIgnoreCase,
    StringLike,
    NumericEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    BinaryEquals,
    IpAddress,
    ArnEquals,
    ArnLike,
    Null,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetQualifier {
    Single,
    ForAnyValue,
    ForAllValues,
}

#[derive(Debug, Clone)]
struct Condition {
    operator: Operator,
    /// StringNotEquals, NotIpAddress, ...: holds when no value matches.
    negated: bool,
    if_exists: bool,
    set: SetQualifier,
    /// Lower-cased key.
    key: String,
    values: Vec<String>,
}

/// Every S3 action a bucket policy may name (lower-cased), and whether it acts on objects.
const ACTIONS: &[(&str, bool)] = &[
    ("s3:abortmultipartupload", true),
    ("s3:bypassgovernanceretention", true),
    ("s3:createbucket", false),
    ("s3:deletebucket", false),
    ("s3:deletebucketownershipcontrols", false),
    ("s3:deletebucketpolicy", false),
    ("s3:deletebucketwebsite", false),
    ("s3:deleteobject", true),
    ("s3:deleteobjecttagging", true),
    ("s3:deleteobjectversion", true),
    ("s3:deleteobjectversiontagging", true),
    ("s3:getaccelerateconfiguration", false),
    ("s3:getbucketacl", false),
    ("s3:getbucketcors", false),
    ("s3:getbucketlocation", false),
    ("s3:getbucketlogging", false),
    ("s3:getbucketnotification", false),
    ("s3:getbucketobjectlockconfiguration", false),
    ("s3:getbucketownershipcontrols", false),
    ("s3:getbucketpolicy", false),
    ("s3:getbucketpolicystatus", false),
    ("s3:getbucketpublicaccessblock", false),
    ("s3:getbucketrequestpayment", false),
    ("s3:getbuckettagging", false),
    ("s3:getbucketversioning", false),
    ("s3:getbucketwebsite", false),
    ("s3:getencryptionconfiguration", false),
    ("s3:getlifecycleconfiguration", false),
    ("s3:getobject", true),
    ("s3:getobjectacl", true),
    ("s3:getobjectattributes", true),
    ("s3:getobjectlegalhold", true),
    ("s3:getobjectretention", true),
    ("s3:getobjecttagging", true),
    ("s3:getobjecttorrent", true),
    ("s3:getobjectversion", true),
    ("s3:getobjectversionacl", true),
    ("s3:getobjectversionattributes", true),
    ("s3:getobjectversiontagging", true),
    ("s3:getobjectversiontorrent", true),
    ("s3:getreplicationconfiguration", false),
    ("s3:listallmybuckets", false),
    ("s3:listbucket", false),
    ("s3:listbucketmultipartuploads", false),
    ("s3:listbucketversions", false),
    ("s3:listmultipartuploadparts", true),
    ("s3:putaccelerateconfiguration", false),
    ("s3:putbucketacl", false),
    ("s3:putbucketcors", false),
    ("s3:putbucketlogging", false),
    ("s3:putbucketnotification", false),
    ("s3:putbucketobjectlockconfiguration", false),
    ("s3:putbucketownershipcontrols", false),
    ("s3:putbucketpolicy", false),
    ("s3:putbucketpublicaccessblock", false),
    ("s3:putbucketrequestpayment", false),
    ("s3:putbuckettagging", false),
    ("s3:putbucketversioning", false),
    ("s3:putbucketwebsite", false),
    ("s3:putencryptionconfiguration", false),
    ("s3:putlifecycleconfiguration", false),
    ("s3:putobject", true),
    ("s3:putobjectacl", true),
    ("s3:putobjectlegalhold", true),
    ("s3:putobjectretention", true),
    ("s3:putobjecttagging", true),
    ("s3:putobjectversionacl", true),
    ("s3:putobjectversiontagging", true),
    ("s3:putreplicationconfiguration", false),
    ("s3:replicatedelete", true),
    ("s3:replicateobject", true),
    ("s3:replicatetags", true),
    ("s3:restoreobject", true),
];

/// Condition keys that pin a statement to known callers: a statement using one of them (with
/// a positive operator) does not make a policy public.
const RESTRICTING_KEYS: &[&str] = &[
    "aws:sourceip",
    "aws:sourcearn",
    "aws:sourcevpc",
    "aws:sourcevpce",
    "aws:sourceaccount",
    "aws:sourceowner",
    "aws:principalaccount",
    "aws:principalarn",
    "aws:principalorgid",
    "aws:userid",
    "s3:dataaccesspointarn",
    "s3:dataaccesspointaccount",
];

/// A string or an array of strings.
fn strings(v: &Value) -> Result<Vec<String>, PolicyError> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => Ok(s.clone()),
                _ => err(BAD_SYNTAX),
            })
            .collect(),
        _ => err(BAD_SYNTAX),
    }
}

/// A condition value: strings, numbers and booleans all compare as their text.
fn condition_values(v: &Value) -> Result<Vec<String>, PolicyError> {
    let one = |v: &Value| match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => err(BAD_SYNTAX),
    };
    match v {
        Value::Array(items) => items.iter().map(one).collect(),
        other => Ok(vec![one(other)?]),
    }
}

fn parse_principal(v: &Value) -> Result<Vec<PrincipalId>, PolicyError> {
    match v {
        Value::String(s) if s == "*" => Ok(vec![PrincipalId::Everyone]),
        Value::Object(map) if !map.is_empty() => {
            let mut out = Vec::new();
            for (kind, ids) in map {
                for id in strings(ids).map_err(|_| PolicyError(BAD_PRINCIPAL.into()))? {
                    out.push(match kind.as_str() {
                        "AWS" => parse_aws_principal(&id)?,
                        "CanonicalUser" if !id.is_empty() && !id.contains('*') => PrincipalId::Canonical(id),
                        "Service" | "Federated" if !id.is_empty() => PrincipalId::Other,
                        _ => return err(BAD_PRINCIPAL),
                    });
                }
            }
            Ok(out)
        }
        _ => err(BAD_PRINCIPAL),
    }
}

fn parse_aws_principal(id: &str) -> Result<PrincipalId, PolicyError> {
    if id == "*" {
        return Ok(PrincipalId::Everyone);
    }
    if id.is_empty() || id.contains(['*', '?']) {
        return err(BAD_PRINCIPAL);
    }
    let Some(rest) = id.strip_prefix("arn:aws:iam::") else {
        if id.starts_with("arn:") {
            // e.g. sts assumed roles: valid principals that are never a ksan caller
            return Ok(PrincipalId::Other);
        }
        return Ok(PrincipalId::Account(id.to_owned()));
    };
    let Some((account, resource)) = rest.split_once(':') else {
        return err(BAD_PRINCIPAL);
    };
    if account.is_empty() {
        return err(BAD_PRINCIPAL);
    }
    if resource == "root" {
        return Ok(PrincipalId::Account(account.to_owned()));
    }
    if let Some(path) = resource.strip_prefix("user/") {
        let name = path.rsplit('/').next().unwrap_or_default();
        if name.is_empty() {
            return err(BAD_PRINCIPAL);
        }
        return Ok(PrincipalId::User {
            account: account.to_owned(),
            name: name.to_owned(),
        });
    }
    if resource.starts_with("role/") || resource.starts_with("group/") {
        return Ok(PrincipalId::Other);
    }
    err(BAD_PRINCIPAL)
}

fn parse_actions(v: &Value) -> Result<Vec<String>, PolicyError> {
    let mut out = Vec::new();
    for a in strings(v)? {
        let lower = a.to_ascii_lowercase();
        let known = lower == "*"
            || match lower.strip_prefix("s3:") {
                Some(name) if name.contains(['*', '?']) => true,
                Some(_) => ACTIONS.iter().any(|(n, _)| *n == lower),
                None => false,
            };
        if !known {
            return err(BAD_ACTION);
        }
        out.push(lower);
    }
    if out.is_empty() {
        return err(BAD_ACTION);
    }
    Ok(out)
}

fn parse_resources(v: &Value, bucket: &str) -> Result<Vec<String>, PolicyError> {
    let mut out = Vec::new();
    for r in strings(v)? {
        if r != "*" {
            let Some(path) = r.strip_prefix("arn:aws:s3:::") else {
                return err(BAD_RESOURCE);
            };
            let bucket_part = path.split('/').next().unwrap_or_default();
            // A policy can only speak of its own bucket (variables are checked when used).
            if bucket_part.is_empty() || (!bucket_part.contains("${") && !wildcard_match(bucket_part, bucket, false)) {
                return err(BAD_RESOURCE);
            }
        }
        out.push(r);
    }
    if out.is_empty() {
        return err(BAD_RESOURCE);
    }
    Ok(out)
}

fn parse_operator(name: &str) -> Result<(Operator, bool, bool, SetQualifier), PolicyError> {
    let (set, rest) = if let Some(r) = name.strip_prefix("ForAnyValue:") {
        (SetQualifier::ForAnyValue, r)
    } else if let Some(r) = name.strip_prefix("ForAllValues:") {
        (SetQualifier::ForAllValues, r)
    } else {
        (SetQualifier::Single, name)
    };
    let (base, if_exists) = match rest.strip_suffix("IfExists") {
        Some(b) => (b, true),
        None => (rest, false),
    };
    use Operator::*;
    let (op, negated) = match base {
        "StringEquals" => (StringEquals, false),
        "StringNotEquals" => (StringEquals, true),
        "StringEqualsIgnoreCase" => (StringEqualsIgnoreCase, false),
        "StringNotEqualsIgnoreCase" => (StringEqualsIgnoreCase, true),
        "StringLike" => (StringLike, false),
        "StringNotLike" => (StringLike, true),
        "NumericEquals" => (NumericEquals, false),
        "NumericNotEquals" => (NumericEquals, true),
        "NumericLessThan" => (NumericLessThan, false),
        "NumericLessThanEquals" => (NumericLessThanEquals, false),
        "NumericGreaterThan" => (NumericGreaterThan, false),
        "NumericGreaterThanEquals" => (NumericGreaterThanEquals, false),
        "DateEquals" => (DateEquals, false),
        "DateNotEquals" => (DateEquals, true),
        "DateLessThan" => (DateLessThan, false),
        "DateLessThanEquals" => (DateLessThanEquals, false),
        "DateGreaterThan" => (DateGreaterThan, false),
        "DateGreaterThanEquals" => (DateGreaterThanEquals, false),
        "Bool" => (Bool, false),
        "BinaryEquals" => (BinaryEquals, false),
        "IpAddress" => (IpAddress, false),
        "NotIpAddress" => (IpAddress, true),
        "ArnEquals" => (ArnEquals, false),
        "ArnNotEquals" => (ArnEquals, true),
        "ArnLike" => (ArnLike, false),
        "ArnNotLike" => (ArnLike, true),
        "Null" if !if_exists => (Null, false),
        _ => return Err(PolicyError(format!("Invalid Condition type : {name}"))),
    };
    Ok((op, negated, if_exists, set))
}

fn parse_conditions(v: &Value) -> Result<Vec<Condition>, PolicyError> {
    let Value::Object(ops) = v else {
        return err(BAD_SYNTAX);
    };
    let mut out = Vec::new();
    for (op_name, keys) in ops {
        let (operator, negated, if_exists, set) = parse_operator(op_name)?;
        let Value::Object(keys) = keys else {
            return err(BAD_SYNTAX);
        };
        for (key, values) in keys {
            let values = condition_values(values)?;
            // Values that can never be read would make the condition silently false.
            for value in &values {
                let valid = match operator {
                    Operator::IpAddress => parse_network(value).is_some(),
                    Operator::Null | Operator::Bool => {
                        value.eq_ignore_ascii_case("true") || value.eq_ignore_ascii_case("false")
                    }
                    Operator::DateEquals
                    | Operator::DateLessThan
                    | Operator::DateLessThanEquals
                    | Operator::DateGreaterThan
                    | Operator::DateGreaterThanEquals => value.contains("${") || parse_date(value).is_some(),
                    Operator::NumericEquals
                    | Operator::NumericLessThan
                    | Operator::NumericLessThanEquals
                    | Operator::NumericGreaterThan
                    | Operator::NumericGreaterThanEquals => value.contains("${") || value.trim().parse::<f64>().is_ok(),
                    _ => true,
                };
                if !valid {
                    return Err(PolicyError(format!("Invalid value for condition {op_name}: {value}")));
                }
            }
            out.push(Condition {
                operator,
                negated,
                if_exists,
                set,
                key: key.to_ascii_lowercase(),
                values,
            });
        }
    }
    Ok(out)
}

/// Exactly one of `name` / `Not<name>`.
fn one_of<'a>(obj: &'a Map<String, Value>, name: &str, missing: &str) -> Result<(bool, &'a Value), PolicyError> {
    let not = format!("Not{name}");
    match (obj.get(name), obj.get(&not)) {
        (Some(v), None) => Ok((false, v)),
        (None, Some(v)) => Ok((true, v)),
        (Some(_), Some(_)) => err(BAD_SYNTAX),
        (None, None) => err(missing),
    }
}

fn parse_statement(v: &Value, bucket: &str) -> Result<Statement, PolicyError> {
    let Value::Object(obj) = v else {
        return err(BAD_SYNTAX);
    };
    const FIELDS: [&str; 10] = [
        "Sid",
        "Effect",
        "Principal",
        "NotPrincipal",
        "Action",
        "NotAction",
        "Resource",
        "NotResource",
        "Condition",
        "Id",
    ];
    if obj.keys().any(|k| !FIELDS.contains(&k.as_str())) {
        return err(BAD_SYNTAX);
    }
    if obj.get("Sid").is_some_and(|s| !s.is_string()) {
        return err(BAD_SYNTAX);
    }
    let effect = match obj.get("Effect") {
        Some(Value::String(e)) if e == "Allow" => Effect::Allow,
        Some(Value::String(e)) if e == "Deny" => Effect::Deny,
        Some(_) => return err(BAD_SYNTAX),
        None => return err("Missing required field Effect"),
    };
    let (not_principal, principal) = one_of(obj, "Principal", "Missing required field Principal")?;
    if not_principal && effect == Effect::Allow {
        // "Allow everyone but ..." is refused, as by S3.
        return err(BAD_SYNTAX);
    }
    let (not_action, action) = one_of(obj, "Action", "Missing required field Action")?;
    let (not_resource, resource) = one_of(obj, "Resource", "Missing required field Resource")?;
    let conditions = match obj.get("Condition") {
        Some(c) => parse_conditions(c)?,
        None => Vec::new(),
    };
    Ok(Statement {
        effect,
        principals: Listed {
            negated: not_principal,
            items: parse_principal(principal)?,
        },
        actions: Listed {
            negated: not_action,
            items: parse_actions(action)?,
        },
        resources: Listed {
            negated: not_resource,
            items: parse_resources(resource, bucket)?,
        },
        conditions,
    })
}

impl BucketPolicy {
    /// Parse and validate a policy for bucket `bucket`.
    pub fn parse(json: &str, bucket: &str) -> Result<BucketPolicy, PolicyError> {
        if !json.trim_start().starts_with('{') {
            return err(NOT_JSON);
        }
        let doc: Value = serde_json::from_str(json).map_err(|_| PolicyError(NOT_JSON.into()))?;
        let Value::Object(top) = &doc else {
            return err(NOT_JSON);
        };
        if top
            .keys()
            .any(|k| !["Version", "Id", "Statement"].contains(&k.as_str()))
        {
            return err(BAD_SYNTAX);
        }
        match top.get("Version") {
            Some(Value::String(v)) if v == "2012-10-17" || v == "2008-10-17" => {}
            Some(_) => return err("The policy must contain a valid version string"),
            None => {}
        }
        let statements = match top.get("Statement") {
            Some(Value::Array(items)) if !items.is_empty() => items
                .iter()
                .map(|s| parse_statement(s, bucket))
                .collect::<Result<Vec<_>, _>>()?,
            Some(one @ Value::Object(_)) => vec![parse_statement(one, bucket)?],
            _ => return err("Missing required field Statement"),
        };
        let mut keys = Vec::new();
        for s in &statements {
            for c in &s.conditions {
                keys.push(c.key.clone());
                keys.extend(c.values.iter().flat_map(|v| variables(v)));
            }
            keys.extend(s.resources.items.iter().flat_map(|r| variables(r)));
        }
        keys.sort();
        keys.dedup();
        Ok(BucketPolicy { statements, keys })
    }

    /// The condition keys this policy reads, lower-cased.
    pub fn condition_keys(&self) -> &[String] {
        &self.keys
    }

    /// An explicit Deny wins, else an Allow, else no opinion.
    pub fn evaluate(&self, req: &PolicyRequest<'_>) -> PolicyDecision {
        let mut allowed = false;
        let action = req.action.to_ascii_lowercase();
        for s in &self.statements {
            if s.applies(req, &action) {
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
    /// `action`: the request's action, lower-cased.
    fn applies(&self, req: &PolicyRequest<'_>, action: &str) -> bool {
        let principal = self.principals.items.iter().any(|p| p.matches(req.principal));
        if principal == self.principals.negated {
            return false;
        }
        let action_listed = self.actions.items.iter().any(|a| wildcard_match(a, action, false));
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

impl Condition {
    fn holds(&self, ctx: &ConditionContext) -> bool {
        let present = ctx.get(&self.key).filter(|v| !v.is_empty());
        if self.operator == Operator::Null {
            let want_absent = self.values.iter().any(|v| v.eq_ignore_ascii_case("true"));
            let want_present = self.values.iter().any(|v| v.eq_ignore_ascii_case("false"));
            return (want_absent && present.is_none()) || (want_present && present.is_some());
        }
        let Some(request_values) = present else {
            return match self.set {
                SetQualifier::ForAllValues => true,
                SetQualifier::ForAnyValue => false,
                SetQualifier::Single => self.if_exists || self.negated,
            };
        };
        let policy_values: Vec<String> = self.values.iter().filter_map(|v| substitute(v, ctx)).collect();
        let matches = |rv: &String| policy_values.iter().any(|pv| self.operator.compare(rv, pv));
        match self.set {
            SetQualifier::ForAllValues => request_values.iter().all(|rv| matches(rv) != self.negated),
            SetQualifier::ForAnyValue => request_values.iter().any(|rv| matches(rv) != self.negated),
            SetQualifier::Single => request_values.iter().any(&matches) != self.negated,
        }
    }

    fn restricts_callers(&self) -> bool {
        if self.negated || self.if_exists || !RESTRICTING_KEYS.contains(&self.key.as_str()) {
            return false;
        }
        match self.key.as_str() {
            "aws:sourceip" => {
                self.operator == Operator::IpAddress
                    && self
                        .values
                        .iter()
                        .all(|v| parse_network(v).is_some_and(|(_, prefix)| prefix > 0))
            }
            _ => !self.values.iter().any(|v| v == "*"),
        }
    }
}

impl Operator {
    /// Does the request value match one policy value (the positive form of the operator)?
    fn compare(self, request: &str, policy: &str) -> bool {
        use Operator::*;
        match self {
            StringEquals => request == policy,
            StringEqualsIgnoreCase => request.to_lowercase() == policy.to_lowercase(),
            StringLike => wildcard_match(policy, request, false),
            NumericEquals | NumericLessThan | NumericLessThanEquals | NumericGreaterThan | NumericGreaterThanEquals => {
                let (Ok(r), Ok(p)) = (request.trim().parse::<f64>(), policy.trim().parse::<f64>()) else {
                    return false;
                };
                match self {
                    NumericEquals => r == p,
                    NumericLessThan => r < p,
                    NumericLessThanEquals => r <= p,
                    NumericGreaterThan => r > p,
                    _ => r >= p,
                }
            }
            DateEquals | DateLessThan | DateLessThanEquals | DateGreaterThan | DateGreaterThanEquals => {
                let (Some(r), Some(p)) = (parse_date(request), parse_date(policy)) else {
                    return false;
                };
                match self {
                    DateEquals => r == p,
                    DateLessThan => r < p,
                    DateLessThanEquals => r <= p,
                    DateGreaterThan => r > p,
                    _ => r >= p,
                }
            }
            Bool => request.eq_ignore_ascii_case(policy),
            BinaryEquals => request == policy,
            IpAddress => match (request.parse::<IpAddr>(), parse_network(policy)) {
                (Ok(ip), Some(net)) => in_network(ip, net),
                _ => false,
            },
            ArnEquals => arn_match(policy, request, false),
            ArnLike => arn_match(policy, request, true),
            Null => false,
        }
    }
}

/// ARNs compare field by field (`arn:partition:service:region:account:resource`).
fn arn_match(pattern: &str, arn: &str, wildcards: bool) -> bool {
    let p: Vec<&str> = pattern.splitn(6, ':').collect();
    let a: Vec<&str> = arn.splitn(6, ':').collect();
    if p.len() != 6 || a.len() != 6 {
        return false;
    }
    p.iter()
        .zip(&a)
        .all(|(p, a)| if wildcards { wildcard_match(p, a, false) } else { p == a })
}

/// Seconds since the epoch, from ISO 8601 (`2019-01-01T00:00:00Z`, or a date alone) or an
/// epoch number.
fn parse_date(s: &str) -> Option<i128> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<i64>() {
        return Some(i128::from(secs) * 1_000_000_000);
    }
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t.unix_timestamp_nanos());
    }
    let date = time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]")).ok()?;
    Some(date.midnight().assume_utc().unix_timestamp_nanos())
}

/// `addr/prefix` or a bare address (a single host).
pub fn parse_network(s: &str) -> Option<(IpAddr, u8)> {
    let s = s.trim();
    let (addr, prefix) = match s.split_once('/') {
        Some((a, p)) => (a.parse::<IpAddr>().ok()?, Some(p.parse::<u8>().ok()?)),
        None => (s.parse::<IpAddr>().ok()?, None),
    };
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = prefix.unwrap_or(max);
    (prefix <= max).then_some((addr, prefix))
}

pub fn in_network(ip: IpAddr, (net, prefix): (IpAddr, u8)) -> bool {
    fn bits(ip: IpAddr) -> (u128, u32) {
        match ip {
            IpAddr::V4(v4) => (u128::from(u32::from(v4)), 32),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => (u128::from(u32::from(v4)), 32),
                None => (u128::from(v6), 128),
            },
        }
    }
    let ((a, width), (b, net_width)) = (bits(ip), bits(net));
    if width != net_width {
        return false;
    }
    let prefix = u32::from(prefix).min(width);
    if prefix == 0 {
        return true;
    }
    let shift = width - prefix;
    (a >> shift) == (b >> shift)
}

/// Replace `${key}` with the request's value of that key; `${*}`, `${?}`, `${$}` stand for the
/// literal characters. None when a key has no value (the pattern then matches nothing).
fn substitute(s: &str, ctx: &ConditionContext) -> Option<String> {
    if !s.contains("${") {
        return Some(s.to_owned());
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}')?;
        let name = &after[..end];
        match name {
            "*" => out.push('*'),
            "?" => out.push('?'),
            "$" => out.push('$'),
            key => out.push_str(ctx.get(key)?.first()?),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// The keys of the `${...}` variables in a string, lower-cased (not `${*}`, `${?}`, `${$}`).
fn variables(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { break };
        let name = &after[..end];
        if !matches!(name, "*" | "?" | "$") {
            out.push(name.to_ascii_lowercase());
        }
        rest = &after[end + 1..];
    }
    out
}

/// `*` matches any run of characters, `?` one character. Works on the UTF-8 bytes without
/// allocating (it runs for every statement of every request to a bucket with a policy).
fn wildcard_match(pattern: &str, text: &str, ignore_case: bool) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    // Length of the UTF-8 character starting at t[i].
    let char_len = |i: usize| match t[i] {
        b if b < 0x80 => 1,
        b if b >= 0xF0 => 4,
        b if b >= 0xE0 => 3,
        _ => 2,
    };
    let eq = |a: u8, b: u8| {
        if ignore_case {
            a.eq_ignore_ascii_case(&b)
        } else {
            a == b
        }
    };
    let (mut pi, mut ti) = (0, 0);
    // Where the last `*` was, and how much text it has swallowed so far.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'?' {
            pi += 1;
            ti += char_len(ti);
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && eq(p[pi], t[ti]) {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            let next = (st + char_len(st)).min(t.len());
            pi = sp + 1;
            ti = next;
            star = Some((sp, next));
        } else {
            return false;
        }
    }
    p[pi.min(p.len())..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
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
            action,
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
