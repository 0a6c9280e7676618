//! The request query string, decoded once.

use percent_encoding::percent_decode_str;

/// Decoded query parameters in request order. `?acl` gives ("acl", "") with `has_value` false.
#[derive(Debug, Clone, Default)]
pub struct Query {
    params: Vec<(String, String)>,
}

impl Query {
    /// Split and decode a raw query string.
    pub fn parse(raw: Option<&str>) -> Query {
        let mut params = Vec::new();
        if let Some(raw) = raw {
            for part in raw.split('&').filter(|p| !p.is_empty()) {
                let (name, value) = match part.split_once('=') {
                    Some((n, v)) => (n, v),
                    None => (part, ""),
                };
                params.push((decode(name), decode(value)));
            }
        }
        Query { params }
    }

    /// Is the parameter present (with or without a value)?
    pub fn has(&self, name: &str) -> bool {
        self.params.iter().any(|(n, _)| n == name)
    }

    /// The first value of a parameter.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// Every parameter, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.params.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }
}

/// Percent-decode a query component; `+` means space in query strings.
fn decode(s: &str) -> String {
    if !s.contains(['%', '+']) {
        return s.to_owned();
    }
    let plus_fixed = s.replace('+', " ");
    percent_decode_str(&plus_fixed).decode_utf8_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_flags_and_values() {
        let q = Query::parse(Some("acl&prefix=a%2Fb&max-keys=3&x=a+b"));
        assert!(q.has("acl"));
        assert_eq!(q.get("acl"), Some(""));
        assert_eq!(q.get("prefix"), Some("a/b"));
        assert_eq!(q.get("max-keys"), Some("3"));
        assert_eq!(q.get("x"), Some("a b"));
        assert!(!q.has("uploads"));
        assert!(!Query::parse(None).has("acl"));
    }
}
