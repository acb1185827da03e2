//! Who the client is behind TLS-terminating (L7) balancers: `X-Forwarded-For` or `Forwarded`
//! (RFC 7239), whichever one the balancer writes (`sources.forwarded_header`), believed only when
//! the connection comes from a trusted proxy. The client is the rightmost address that is not a
//! trusted proxy: anything to its left was written by the client itself and proves nothing. Only
//! the configured header is read: a balancer that appends to one passes the other through as the
//! client wrote it.

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;
use ipnet::IpNet;

/// The header a trusted L7 balancer records the client in (`sources.forwarded_header`).
pub use crate::config::ForwardedHeader;

/// The client address, or why it cannot be told.
pub fn client_ip(
    conn: IpAddr,
    headers: &HeaderMap,
    trusted: &[IpNet],
    header: ForwardedHeader,
) -> Result<IpAddr, String> {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&conn) {
        return Ok(conn);
    }
    let hops = match header {
        ForwardedHeader::XForwardedFor => x_forwarded_for(headers)?,
        ForwardedHeader::Forwarded => forwarded(headers)?,
    };
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

/// The `for=` addresses of `Forwarded`, oldest first.
fn forwarded(headers: &HeaderMap) -> Result<Vec<IpAddr>, String> {
    let mut hops = Vec::new();
    for value in header_text(headers, "forwarded", "Forwarded") {
        for element in value?.split(',') {
            for pair in element.split(';') {
                let Some((key, node)) = pair.trim().split_once('=') else {
                    continue;
                };
                if key.trim().eq_ignore_ascii_case("for") {
                    hops.push(parse_node(node)?);
                }
            }
        }
    }
    Ok(hops)
}

/// The addresses of `X-Forwarded-For`, oldest first (several header lines form one list).
fn x_forwarded_for(headers: &HeaderMap) -> Result<Vec<IpAddr>, String> {
    let mut hops = Vec::new();
    for value in header_text(headers, "x-forwarded-for", "X-Forwarded-For") {
        for node in value?.split(',') {
            hops.push(parse_node(node)?);
        }
    }
    Ok(hops)
}

/// Each line of header `name` as text, in order; `label` names it in the error.
fn header_text<'a>(
    headers: &'a HeaderMap,
    name: &'static str,
    label: &'static str,
) -> impl Iterator<Item = Result<&'a str, String>> {
    headers
        .get_all(name)
        .into_iter()
        .map(move |value| value.to_str().map_err(|_| format!("{label} is not text")))
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

    const XFF: ForwardedHeader = ForwardedHeader::XForwardedFor;
    const FWD: ForwardedHeader = ForwardedHeader::Forwarded;

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
            client_ip(ip("203.0.113.9"), &h, &nets(&["10.0.0.0/8"]), XFF),
            Ok(ip("203.0.113.9"))
        );
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client() {
        let trusted = nets(&["10.0.0.0/8"]);
        // The client address behind proxy 10.0.0.1, given one X-Forwarded-For per line.
        let behind_proxy = |lines: &[&str]| {
            let pairs: Vec<_> = lines.iter().map(|l| ("x-forwarded-for", *l)).collect();
            client_ip(ip("10.0.0.1"), &headers(&pairs), &trusted, XFF)
        };
        assert_eq!(
            behind_proxy(&["17.9.9.9, 10.1.1.1, 10.2.2.2"]),
            Ok(ip("17.9.9.9"))
        );
        // A client that writes its own X-Forwarded-For gains nothing: its real address is appended.
        assert_eq!(
            behind_proxy(&["17.1.1.1, 192.0.2.7, 10.1.1.1"]),
            Ok(ip("192.0.2.7"))
        );
        // Several header lines form one list, in order.
        assert_eq!(
            behind_proxy(&["17.1.1.1", "192.0.2.7"]),
            Ok(ip("192.0.2.7"))
        );
        // Every hop trusted: the leftmost is the best we know.
        assert_eq!(behind_proxy(&["10.5.5.5, 10.1.1.1"]), Ok(ip("10.5.5.5")));
        // No header: the proxy itself.
        assert_eq!(behind_proxy(&[]), Ok(ip("10.0.0.1")));
    }

    #[test]
    fn only_the_configured_header_is_read() {
        let trusted = nets(&["10.0.0.0/8"]);
        let h = headers(&[
            (
                "forwarded",
                "for=192.0.2.60;proto=https, for=\"[2001:db8:cafe::17]:4711\";by=10.0.0.2",
            ),
            ("x-forwarded-for", "17.0.0.1"),
        ]);
        let conn = ip("10.0.0.1");
        assert_eq!(
            client_ip(conn, &h, &trusted, FWD),
            Ok(ip("2001:db8:cafe::17"))
        );
        assert_eq!(client_ip(conn, &h, &trusted, XFF), Ok(ip("17.0.0.1")));
        let v4 = headers(&[("forwarded", "for=17.2.3.4:1234, for=10.0.0.9")]);
        assert_eq!(client_ip(conn, &v4, &trusted, FWD), Ok(ip("17.2.3.4")));
        // A client-written Forwarded passed through by an X-Forwarded-For balancer is ignored.
        let spoof = headers(&[
            ("forwarded", "for=17.1.2.3"),
            ("x-forwarded-for", "203.0.113.9"),
        ]);
        assert_eq!(
            client_ip(conn, &spoof, &trusted, XFF),
            Ok(ip("203.0.113.9"))
        );
    }

    #[test]
    fn unparsable_hops_are_an_error() {
        let trusted = nets(&["10.0.0.0/8"]);
        for bad in ["unknown", "_hidden", "not an ip", ""] {
            let h = headers(&[("x-forwarded-for", bad)]);
            assert!(
                client_ip(ip("10.0.0.1"), &h, &trusted, XFF).is_err(),
                "{bad:?}"
            );
        }
    }
}
