//! Matching for the policy language: wildcards (`*`, `?`), `${...}` variables, ARNs, and
//! IP networks.

use std::net::IpAddr;

use super::ConditionContext;

/// ARNs compare field by field (`arn:partition:service:region:account:resource`).
pub(super) fn arn_match(pattern: &str, arn: &str, wildcards: bool) -> bool {
    let p: Vec<&str> = pattern.splitn(6, ':').collect();
    let a: Vec<&str> = arn.splitn(6, ':').collect();
    if p.len() != 6 || a.len() != 6 {
        return false;
    }
    p.iter()
        .zip(&a)
        .all(|(p, a)| if wildcards { wildcard_match(p, a, false) } else { p == a })
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

/// Is `ip` in the network (address, prefix length)?
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
pub(super) fn substitute(s: &str, ctx: &ConditionContext) -> Option<String> {
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
pub(super) fn variables(s: &str) -> Vec<String> {
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
pub(super) fn wildcard_match(pattern: &str, text: &str, ignore_case: bool) -> bool {
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
