//! `[server]`: the listener Apple posts to, and `[admin]`, the operators' listener.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::secret::Secret;

/// Bounds for `server.max_body_bytes`.
pub const MIN_BODY_BYTES: usize = 1024;
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
/// Upper bounds that keep request timers and the connection semaphore in range.
pub const MAX_CONNECTIONS: usize = 1_000_000;
pub const MAX_DURATION: Duration = Duration::from_secs(3600);

/// `[server]`: the listener Apple posts to.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// Where App Store Connect posts; starts with '/'.
    pub path: String,
    /// `false` serves plain HTTP, for a TLS-terminating balancer in front; then the certificate
    /// and key are not used.
    pub tls: bool,
    /// PEM certificate chain, end-entity certificate first.
    pub tls_cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1) of the first certificate.
    pub tls_key: PathBuf,
    pub max_body_bytes: usize,
    pub max_connections: usize,
    #[serde(with = "humantime_serde")]
    pub handshake_timeout: Duration,
    /// After the TLS handshake, a connection must start its first request within this; also
    /// the bound on reading an HTTP/1.1 request's headers, and on waiting for the next one.
    #[serde(with = "humantime_serde")]
    pub header_timeout: Duration,
    /// A connection with no request in flight is closed after this: HTTP/2 with no stream open,
    /// even one answering pings (HTTP/1.1 keep-alive waits `header_timeout` at most already).
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// Any connection is closed after this, gracefully (its requests in flight finish within
    /// `shutdown_grace`), so that no peer holds a slot for ever.
    #[serde(with = "humantime_serde")]
    pub max_connection_age: Duration,
    #[serde(with = "humantime_serde")]
    pub body_timeout: Duration,
    #[serde(with = "humantime_serde")]
    pub handler_timeout: Duration,
    /// How long in-flight requests may take to finish at shutdown.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
    /// After SIGTERM, keep serving this long with `/readyz` at 503, so that balancers stop
    /// sending before the listener closes.
    #[serde(with = "humantime_serde")]
    pub drain_delay: Duration,
    /// Expect a PROXY protocol (v1 or v2) header from `sources.trusted_proxies` before TLS.
    pub proxy_protocol: bool,
    /// How long a trusted proxy has to send its PROXY header.
    #[serde(with = "humantime_serde")]
    pub proxy_header_timeout: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([0, 0, 0, 0], 8443)),
            path: "/notifications".to_owned(),
            tls: true,
            tls_cert: PathBuf::from("/etc/asnd/tls.pem"),
            tls_key: PathBuf::from("/etc/asnd/tls.key"),
            max_body_bytes: 256 * 1024,
            max_connections: 1024,
            handshake_timeout: Duration::from_secs(10),
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connection_age: Duration::from_secs(600),
            body_timeout: Duration::from_secs(15),
            drain_delay: Duration::from_secs(2),
            proxy_protocol: false,
            proxy_header_timeout: Duration::from_secs(3),
            handler_timeout: Duration::from_secs(20),
            shutdown_grace: Duration::from_secs(20),
        }
    }
}

impl ServerConfig {
    pub fn handshake_timeout(&self) -> Duration {
        self.handshake_timeout
    }

    pub fn header_timeout(&self) -> Duration {
        self.header_timeout
    }

    pub fn body_timeout(&self) -> Duration {
        self.body_timeout
    }

    pub fn handler_timeout(&self) -> Duration {
        self.handler_timeout
    }

    pub fn shutdown_grace(&self) -> Duration {
        self.shutdown_grace
    }
}

/// Shortest `admin.token` accepted: a token is all that guards the console.
pub const MIN_ADMIN_TOKEN_CHARS: usize = 16;

/// `[admin]`: the operators' listener (Prometheus metrics, health, and the console when
/// `console = true`), plain HTTP, off when unset.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminConfig {
    /// For example `127.0.0.1:9898`; keep it off the public network.
    pub listen: Option<SocketAddr>,
    /// Serve the operator console (HTML pages) on this listener.
    pub console: bool,
    /// What the console asks for: typed into its login form, or sent by scripts as
    /// `Authorization: Bearer <token>`. Required with `console = true`.
    pub token: Option<Secret<String>>,
}
