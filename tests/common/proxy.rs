//! PROXY protocol headers as a layer-4 balancer sends them, for a client connecting to
//! 10.0.0.1:443 (fd00::1 for IPv6) from port 40000.

use std::net::{IpAddr, SocketAddr};

/// A PROXY v1 (text) header for a TCP4 `client`.
pub fn proxy_v1(client: &str) -> Vec<u8> {
    format!("PROXY TCP4 {client} 10.0.0.1 40000 443\r\n").into_bytes()
}

/// A PROXY v2 header for `client`; `local` makes it a LOCAL one (the balancer's own connection).
pub fn proxy_v2(client: IpAddr, local: bool) -> Vec<u8> {
    use ppp::v2::{Builder, Command, Protocol, Version};
    let dest: IpAddr = match client {
        IpAddr::V4(_) => "10.0.0.1".parse().unwrap(),
        IpAddr::V6(_) => "fd00::1".parse().unwrap(),
    };
    let command = if local {
        Command::Local
    } else {
        Command::Proxy
    };
    Builder::with_addresses(
        Version::Two | command,
        Protocol::Stream,
        (SocketAddr::new(client, 40000), SocketAddr::new(dest, 443)),
    )
    .build()
    .unwrap()
}
