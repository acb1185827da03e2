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

impl ForwardedHeader {
    /// The header's name, as the configuration spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            ForwardedHeader::XForwardedFor => "x-forwarded-for",
            ForwardedHeader::Forwarded => "forwarded",
        }
    }
}

impl TryFrom<String> for ForwardedHeader {
    type Error = String;

    fn try_from(name: String) -> Result<Self, String> {
        match name.to_ascii_lowercase().as_str() {
            "x-forwarded-for" => Ok(ForwardedHeader::XForwardedFor),
            "forwarded" => Ok(ForwardedHeader::Forwarded),
            _ => Err(format!(
                "{name:?} is not a forwarded header: must be \"x-forwarded-for\" or \"forwarded\""
            )),
        }
    }
}

impl From<ForwardedHeader> for &'static str {
    fn from(header: ForwardedHeader) -> Self {
        header.as_str()
    }
}
