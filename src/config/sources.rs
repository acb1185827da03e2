//! `[sources]`: who may post, and which balancers' word about the client is believed.

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// `[sources]`: who may post.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SourcesConfig {
    /// Networks allowed to post; Apple's is 17.0.0.0/8.
    pub allow: Vec<IpNet>,
    /// Load balancers whose word about the client is trusted: their PROXY protocol header and
    /// their `X-Forwarded-For` / `Forwarded` headers. Nobody else's.
    pub trusted_proxies: Vec<IpNet>,
    /// The header a trusted TLS-terminating balancer writes the client into:
    /// `"x-forwarded-for"` (AWS ALB, nginx, Envoy) or `"forwarded"` (RFC 7239). Only that one is
    /// read; the other may have been written by the client.
    pub forwarded_header: ForwardedHeader,
}

impl Default for SourcesConfig {
    fn default() -> Self {
        SourcesConfig {
            allow: vec![IpNet::V4(ipnet::Ipv4Net::new_assert(
                [17, 0, 0, 0].into(),
                8,
            ))],
            trusted_proxies: Vec::new(),
            forwarded_header: ForwardedHeader::XForwardedFor,
        }
    }
}

/// The header a trusted L7 balancer records the client in: `sources.forwarded_header`, written
/// `"x-forwarded-for"` or `"forwarded"` in any case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "String", into = "&'static str")]
pub enum ForwardedHeader {
    XForwardedFor,
    Forwarded,
}

super::words::word_choice!(ForwardedHeader, "a forwarded header", ignore_case: true, {
    XForwardedFor => "x-forwarded-for",
    Forwarded => "forwarded",
});
