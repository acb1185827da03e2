//! PROXY protocol (v1 and v2, parsed by the `ppp` crate) in front of TLS: an L4 balancer such as
//! an AWS NLB or HAProxy tells us who the client is. Only trusted proxies may say so; anyone else
//! who sends a header is refused, so the header cannot be used to get around the allow-list.

use std::net::IpAddr;
use std::time::Duration;

use ipnet::IpNet;
use ppp::{HeaderResult, PartialResult, v1, v2};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

const V1_PREFIX: &[u8] = b"PROXY ";
const V2_SIGNATURE: &[u8] = b"\r\n\r\n\0\r\nQUIT\n";
/// A v1 header is at most 107 bytes; a v2 header with its TLVs rarely exceeds a few hundred.
const MAX_HEADER: usize = 4096;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProxyError {
    #[error("{0} sent a PROXY header but is not a trusted proxy")]
    Untrusted(IpAddr),
    #[error("trusted proxy {0} connected without a PROXY header")]
    Missing(IpAddr),
    #[error("malformed PROXY header from {0}: {1}")]
    Malformed(IpAddr, String),
    #[error("no PROXY header from {0} in time")]
    Timeout(IpAddr),
    #[error("connection closed before the PROXY header")]
    Closed,
}

/// Who a connection is from, as far as the PROXY protocol tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Client {
    /// The client: the one a trusted proxy's header names, or an untrusted peer itself.
    Address(IpAddr),
    /// A trusted proxy's LOCAL or UNKNOWN header: the balancer's own connection (its health
    /// checks), which names no client.
    Balancer(IpAddr),
}

pub enum Prefix {
    Proxy,
    NotProxy,
    NeedMore,
}

pub fn classify(bytes: &[u8]) -> Prefix {
    let is_prefix_of = |sig: &[u8]| {
        let n = bytes.len().min(sig.len());
        bytes[..n] == sig[..n]
    };
    match (is_prefix_of(V1_PREFIX), is_prefix_of(V2_SIGNATURE)) {
        (false, false) => Prefix::NotProxy,
        _ if bytes.starts_with(V1_PREFIX) || bytes.starts_with(V2_SIGNATURE) => Prefix::Proxy,
        _ => Prefix::NeedMore,
    }
}

/// Decides who the client of a new connection is, reading (and consuming) a PROXY header when the
/// peer is a trusted proxy. The bytes after the header (the TLS handshake) stay in the socket.
pub async fn client_of(
    tcp: &mut TcpStream,
    peer: IpAddr,
    trusted: &[IpNet],
    deadline: Duration,
) -> Result<Client, ProxyError> {
    let is_trusted = trusted.iter().any(|net| net.contains(&peer));
    tokio::time::timeout(deadline, read_header(tcp, peer, is_trusted))
        .await
        .map_err(|_| ProxyError::Timeout(peer))?
}

async fn read_header(
    tcp: &mut TcpStream,
    peer: IpAddr,
    is_trusted: bool,
) -> Result<Client, ProxyError> {
    let mut buf = vec![0u8; MAX_HEADER];
    loop {
        let n = tcp.peek(&mut buf).await.map_err(|_| ProxyError::Closed)?;
        if n == 0 {
            return Err(ProxyError::Closed);
        }
        match classify(&buf[..n]) {
            Prefix::NotProxy if is_trusted => return Err(ProxyError::Missing(peer)),
            Prefix::NotProxy => return Ok(Client::Address(peer)),
            Prefix::Proxy if !is_trusted => return Err(ProxyError::Untrusted(peer)),
            Prefix::Proxy => {}
            Prefix::NeedMore => {
                // Too few bytes yet to tell; wait for more (the deadline bounds this).
                tokio::time::sleep(Duration::from_millis(5)).await;
                continue;
            }
        }
        let parsed = HeaderResult::parse(&buf[..n]);
        if parsed.is_incomplete() {
            if n == MAX_HEADER {
                return Err(ProxyError::Malformed(peer, "header too long".into()));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        }
        let (len, client) = match parsed {
            HeaderResult::V1(Ok(h)) => (h.header.len(), v1_client(&h.addresses)),
            HeaderResult::V2(Ok(h)) => (h.len(), v2_client(&h)),
            HeaderResult::V1(Err(e)) => return Err(ProxyError::Malformed(peer, e.to_string())),
            HeaderResult::V2(Err(e)) => return Err(ProxyError::Malformed(peer, e.to_string())),
        };
        // Consume exactly the header; TLS starts right after it.
        let mut header = vec![0u8; len];
        tcp.read_exact(&mut header)
            .await
            .map_err(|_| ProxyError::Closed)?;
        // LOCAL (health checks by the balancer itself) and UNKNOWN name no client.
        return Ok(match client {
            Some(ip) => Client::Address(ip.to_canonical()),
            None => Client::Balancer(peer),
        });
    }
}

pub fn v1_client(addresses: &v1::Addresses) -> Option<IpAddr> {
    match addresses {
        v1::Addresses::Tcp4(a) => Some(IpAddr::V4(a.source_address)),
        v1::Addresses::Tcp6(a) => Some(IpAddr::V6(a.source_address)),
        v1::Addresses::Unknown => None,
    }
}

pub fn v2_client(header: &v2::Header<'_>) -> Option<IpAddr> {
    if header.command == v2::Command::Local {
        return None;
    }
    match header.addresses {
        v2::Addresses::IPv4(a) => Some(IpAddr::V4(a.source_address)),
        v2::Addresses::IPv6(a) => Some(IpAddr::V6(a.source_address)),
        v2::Addresses::Unspecified | v2::Addresses::Unix(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_proxy_headers_from_tls_and_http() {
        assert!(matches!(classify(&[0x16, 0x03, 0x01]), Prefix::NotProxy));
        assert!(matches!(classify(b"POST /notifications"), Prefix::NotProxy));
        assert!(matches!(classify(b"PRO"), Prefix::NeedMore));
        assert!(matches!(classify(b"PROXY TCP4 1.2.3.4"), Prefix::Proxy));
        assert!(matches!(classify(b"\r\n\r\n"), Prefix::NeedMore));
        assert!(matches!(classify(V2_SIGNATURE), Prefix::Proxy));
    }
}
