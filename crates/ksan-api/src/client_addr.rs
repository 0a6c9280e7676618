//! The client's address, as `aws:SourceIp` sees it: the peer's, or behind a trusted reverse
//! proxy, the nearest address its X-Forwarded-For names that is not a trusted proxy itself.
//! This is HTTP, not policy: the policy language only compares the address it is given.

use std::net::IpAddr;

use ksan_engine::access::policy::in_network;
pub use ksan_engine::access::policy::parse_network;

/// The client's address: the peer's, or with a trusted proxy in front, the nearest address in
/// X-Forwarded-For that is not itself a trusted proxy. Anyone else's X-Forwarded-For is ignored,
/// so that it cannot be used to pass an `aws:SourceIp` condition.
pub(crate) fn client_ip(peer: IpAddr, forwarded_for: Option<&str>, trusted: &[(IpAddr, u8)]) -> IpAddr {
    if !trusted.iter().any(|net| in_network(peer, *net)) {
        return peer;
    }
    let Some(chain) = forwarded_for else {
        return peer;
    };
    let mut nearest = peer;
    for hop in chain.rsplit(',') {
        let Ok(ip) = hop.trim().parse::<IpAddr>() else {
            return nearest;
        };
        nearest = ip;
        if !trusted.iter().any(|net| in_network(ip, *net)) {
            break;
        }
    }
    nearest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_for_only_from_trusted_proxies() {
        let proxy: IpAddr = "10.0.0.5".parse().unwrap();
        let stranger: IpAddr = "192.0.2.7".parse().unwrap();
        let trusted = vec![parse_network("10.0.0.0/8").unwrap()];
        // A client claiming an address in X-Forwarded-For gets its own address back.
        assert_eq!(client_ip(stranger, Some("10.1.1.1"), &trusted), stranger);
        assert_eq!(client_ip(stranger, Some("10.1.1.1"), &[]), stranger);
        // Behind a trusted proxy, the nearest untrusted hop counts, not what the client prepended.
        assert_eq!(
            client_ip(proxy, Some("1.2.3.4, 198.51.100.9, 10.0.0.6"), &trusted),
            "198.51.100.9".parse::<IpAddr>().unwrap()
        );
        assert_eq!(client_ip(proxy, None, &trusted), proxy);
    }

    #[test]
    fn networks() {
        assert!(in_network(
            "10.1.2.3".parse().unwrap(),
            parse_network("10.0.0.0/8").unwrap()
        ));
        assert!(!in_network(
            "11.1.2.3".parse().unwrap(),
            parse_network("10.0.0.0/8").unwrap()
        ));
        assert!(in_network("::1".parse().unwrap(), parse_network("::1").unwrap()));
        assert!(in_network(
            "2001:db8::1".parse().unwrap(),
            parse_network("2001:db8::/32").unwrap()
        ));
        assert!(in_network(
            "1.2.3.4".parse().unwrap(),
            parse_network("0.0.0.0/0").unwrap()
        ));
        assert!(parse_network("10.0.0.0/33").is_none());
        assert!(parse_network("bogus").is_none());
    }
}
