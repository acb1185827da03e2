//! The forwarded-header parser (`X-Forwarded-For` and RFC 7239 `Forwarded`) behind a trusted L7
//! balancer. The input is header lines (`name: value`, one per line). The client found is the
//! connection itself or an address the configured header names, never a trusted proxy unless
//! every hop is one; only the configured header is read; an untrusted peer is never overridden.
#![no_main]

use std::net::IpAddr;

use asnd::config::ForwardedHeader;
use asnd::server::client_ip::client_ip;
use http::{HeaderMap, HeaderName, HeaderValue};
use ipnet::IpNet;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut headers = HeaderMap::new();
    for line in data.split(|&b| b == b'\n') {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(line[..colon].trim_ascii()),
            HeaderValue::from_bytes(line[colon + 1..].trim_ascii()),
        ) else {
            continue;
        };
        headers.append(name, value);
    }
    let trusted: Vec<IpNet> = ["10.0.0.0/8", "fd00::/8"]
        .iter()
        .map(|n| n.parse().expect("a network"))
        .collect();
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    let proxy: IpAddr = "10.0.0.1".parse().expect("an address");
    let outsider: IpAddr = "203.0.113.9".parse().expect("an address");

    for (header, name, other) in [
        (
            ForwardedHeader::XForwardedFor,
            "x-forwarded-for",
            "forwarded",
        ),
        (ForwardedHeader::Forwarded, "forwarded", "x-forwarded-for"),
    ] {
        assert_eq!(
            client_ip(outsider, &headers, &trusted, header),
            Ok(outsider)
        );
        let found = client_ip(proxy, &headers, &trusted, header);
        // Only the configured header counts: without the other one, the verdict is the same.
        let mut only = headers.clone();
        only.remove(other);
        assert_eq!(client_ip(proxy, &only, &trusted, header), found);
        match found {
            Ok(ip) => {
                assert_eq!(ip, ip.to_canonical(), "addresses are canonical");
                if ip != proxy {
                    let text: Vec<u8> = headers
                        .get_all(name)
                        .iter()
                        .flat_map(|v| v.as_bytes().iter().copied().chain([b',']))
                        .collect();
                    assert!(!text.is_empty(), "{ip} from no {name} header");
                }
                // A hop a trusted proxy appends changes nothing; one from an outsider wins.
                if ip != proxy {
                    assert_eq!(
                        client_ip(proxy, &appended(&only, name, "10.9.9.9"), &trusted, header),
                        Ok(ip)
                    );
                }
                let outside: IpAddr = "192.0.2.77".parse().expect("an address");
                assert_eq!(
                    client_ip(
                        proxy,
                        &appended(&only, name, "192.0.2.77"),
                        &trusted,
                        header
                    ),
                    Ok(outside)
                );
                assert!(!is_trusted(&outside));
            }
            Err(reason) => assert!(
                reason.contains(if name == "forwarded" {
                    "Forwarded"
                } else {
                    "X-Forwarded-For"
                }) || reason.contains("forwarded address")
            ),
        }
    }
});

/// `headers` with one more `name` line naming `ip`, as a balancer appends it.
fn appended(headers: &HeaderMap, name: &'static str, ip: &str) -> HeaderMap {
    let mut more = headers.clone();
    let value = if name == "forwarded" {
        format!("for={ip}")
    } else {
        ip.to_string()
    };
    more.append(name, HeaderValue::from_str(&value).expect("a header value"));
    more
}
