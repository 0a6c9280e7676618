//! Reading a policy document: its JSON, with S3's MalformedPolicy messages for what is wrong.

use ksan_types::S3Action;
use serde_json::{Map, Value};

use super::condition::parse_conditions;
use super::matching::{variables, wildcard_match};
use super::{BucketPolicy, Effect, Listed, PolicyError, PrincipalId, Statement};

pub(super) fn err<T>(msg: &str) -> Result<T, PolicyError> {
    Err(PolicyError(msg.to_owned()))
}

pub(super) const NOT_JSON: &str = "Policies must be valid JSON and the first byte must be '{'";
pub(super) const BAD_SYNTAX: &str = "Invalid policy syntax.";
pub(super) const BAD_PRINCIPAL: &str = "Invalid principal in policy";
pub(super) const BAD_ACTION: &str = "Policy has invalid action";
pub(super) const BAD_RESOURCE: &str = "Policy has invalid resource";

/// A string or an array of strings.
pub(super) fn strings(v: &Value) -> Result<Vec<String>, PolicyError> {
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
                Some(_) => S3Action::parse(&lower).is_some(),
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
}
