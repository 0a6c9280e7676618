//! Condition operators of the policy language (`StringEquals`, `IpAddress`, `DateLessThan`,
//! ..., their negations, `...IfExists`, `Null`, and the `ForAnyValue:` / `ForAllValues:` set
//! qualifiers): parsing and evaluation.

use std::net::IpAddr;

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::matching::{arn_match, in_network, parse_network, substitute, wildcard_match};
use super::parse::{BAD_SYNTAX, err};
use super::{ConditionContext, PolicyError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Operator {
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
pub(super) enum SetQualifier {
    Single,
    ForAnyValue,
    ForAllValues,
}

#[derive(Debug, Clone)]
pub(super) struct Condition {
    pub(super) operator: Operator,
    /// StringNotEquals, NotIpAddress, ...: holds when no value matches.
    pub(super) negated: bool,
    pub(super) if_exists: bool,
    pub(super) set: SetQualifier,
    /// Lower-cased key.
    pub(super) key: String,
    pub(super) values: Vec<String>,
}

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

pub(super) fn parse_operator(name: &str) -> Result<(Operator, bool, bool, SetQualifier), PolicyError> {
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

pub(super) fn parse_conditions(v: &Value) -> Result<Vec<Condition>, PolicyError> {
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

impl Condition {
    pub(super) fn holds(&self, ctx: &ConditionContext) -> bool {
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

    pub(super) fn restricts_callers(&self) -> bool {
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
