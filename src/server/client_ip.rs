//! Who the client is behind TLS-terminating (L7) balancers: `Forwarded` (RFC 7239) or
//! `X-Forwarded-For`, believed only when the connection comes from a trusted proxy. The client is
//! the rightmost address that is not a trusted proxy: anything to its left was written by the
//! client itself and proves nothing.

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;
use ipnet::IpNet;

/// The client address, or why it cannot be told.
pub fn client_ip(conn: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> Result<IpAddr, String> {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&conn) {
        return Ok(conn);
    }
    let hops = forwarded_chain(headers)?;
    let Some(leftmost) = hops.first().copied() else {
        return Ok(conn);
    };
    Ok(hops
        .iter()
        .rev()
        .copied()
        .find(|ip| !is_trusted(ip))
        .unwrap_or(leftmost))
}

/// The addresses the proxies recorded, oldest first. `Forwarded` wins over `X-Forwarded-For`.
fn forwarded_chain(headers: &HeaderMap) -> Result<Vec<IpAddr>, String> {
    let forwarded: Vec<&str> = headers
        .get_all("forwarded")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    if !forwarded.is_empty() {
        let mut hops = Vec::new();
        for element in forwarded.iter().flat_map(|v| v.split(',')) {
            for pair in element.split(';') {
                let Some((key, value)) = pair.trim().split_once('=') else {
                    continue;
                };
                if key.trim().eq_ignore_ascii_case("for") {
                    hops.push(parse_node(value)?);
                }
            }
        }
        return Ok(hops);
    }
    headers
        .get_all("x-forwarded-for")
        .iter()
        .map(|v| {
            v.to_str()
                .map_err(|_| "X-Forwarded-For is not text".to_string())
        })
        .collect::<Result<Vec<_>, _>>()?
        .iter()
        .flat_map(|v| v.split(','))
        .map(parse_node)
        .collect()
}

/// `1.2.3.4`, `1.2.3.4:5678`, `"[2001:db8::1]:443"`, `2001:db8::1`.
fn parse_node(raw: &str) -> Result<IpAddr, String> {
    let node = raw.trim().trim_matches('"');
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Ok(ip.to_canonical());
    }
    if let Ok(sock) = node.parse::<SocketAddr>() {
        return Ok(sock.ip().to_canonical());
    }
    if let Some(inner) = node.strip_prefix('[').and_then(|n| n.split(']').next())
        && let Ok(ip) = inner.parse::<IpAddr>()
    {
        return Ok(ip.to_canonical());
    }
    Err(format!("forwarded address {node:?} is not an IP address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn headers_from_an_untrusted_peer_are_ignored() {
        let h = headers(&[("x-forwarded-for", "17.1.2.3")]);
        assert_eq!(
            client_ip(ip("203.0.113.9"), &h, &nets(&["10.0.0.0/8"])),
            Ok(ip("203.0.113.9"))
        );
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client() {
        let trusted = nets(&["10.0.0.0/8"]);
        let h = headers(&[("x-forwarded-for", "17.9.9.9, 10.1.1.1, 10.2.2.2")]);
        assert_eq!(client_ip(ip("10.0.0.1"), &h, &trusted), Ok(ip("17.9.9.9")));
        // A client that writes its own X-Forwarded-For gains nothing: its real address is appended.
        let spoofed = headers(&[("x-forwarded-for", "17.1.1.1, 192.0.2.7, 10.1.1.1")]);
        assert_eq!(
            client_ip(ip("10.0.0.1"), &spoofed, &trusted),
            Ok(ip("192.0.2.7"))
        );
        // Several header lines form one list, in order.
        let split = headers(&[
            ("x-forwarded-for", "17.1.1.1"),
            ("x-forwarded-for", "192.0.2.7"),
        ]);
        assert_eq!(
            client_ip(ip("10.0.0.1"), &split, &trusted),
            Ok(ip("192.0.2.7"))
        );
        // Every hop trusted: the leftmost is the best we know.
        let inner = headers(&[("x-forwarded-for", "10.5.5.5, 10.1.1.1")]);
        assert_eq!(
            client_ip(ip("10.0.0.1"), &inner, &trusted),
            Ok(ip("10.5.5.5"))
        );
        // No header: the proxy itself.
        assert_eq!(
            client_ip(ip("10.0.0.1"), &HeaderMap::new(), &trusted),
            Ok(ip("10.0.0.1"))
        );
    }

    #[test]
    fn forwarded_is_understood_and_preferred() {
        let trusted = nets(&["10.0.0.0/8"]);
        let h = headers(&[
            (
                "forwarded",
                "for=192.0.2.60;proto=https, for=\"[2001:db8:cafe::17]:4711\";by=10.0.0.2",
            ),
            ("x-forwarded-for", "17.0.0.1"),
        ]);
        assert_eq!(
            client_ip(ip("10.0.0.1"), &h, &trusted),
            Ok(ip("2001:db8:cafe::17"))
        );
        let v4 = headers(&[("forwarded", "for=17.2.3.4:1234, for=10.0.0.9")]);
        assert_eq!(client_ip(ip("10.0.0.1"), &v4, &trusted), Ok(ip("17.2.3.4")));
    }

    #[test]
    fn unparsable_hops_are_an_error() {
        let trusted = nets(&["10.0.0.0/8"]);
        for bad in ["unknown", "_hidden", "not an ip", ""] {
            let h = headers(&[("x-forwarded-for", bad)]);
            assert!(client_ip(ip("10.0.0.1"), &h, &trusted).is_err(), "{bad:?}");
        }
    }
}
