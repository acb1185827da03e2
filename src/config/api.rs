//! `[apps.api]`: an App Store Server API key. Reading the key and the CA files it names is the
//! API client's business (`crate::appstore_api::credentials`).

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::secret::Secret;

/// Apple's App Store Server API hosts (App Store Server API, "Base URLs").
pub const API_PRODUCTION_URL: &str = "https://api.storekit.apple.com";
pub const API_SANDBOX_URL: &str = "https://api.storekit-sandbox.apple.com";
/// Where Debian, Ubuntu, Alpine and their container images keep the system's CA certificates;
/// the API client trusts these to reach Apple (there is no built-in list).
pub const SYSTEM_CA_FILE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// `[apps.api]`: an In-App Purchase key from App Store Connect (Users and Access → Integrations →
/// In-App Purchase). `Debug` and `Serialize` never show the private key.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApiConfig {
    /// The key's ID (the JWT header's `kid`).
    pub key_id: String,
    /// The issuer ID shown above the keys (the JWT's `iss`).
    pub issuer_id: String,
    /// The `.p8` file App Store Connect let you download once.
    pub private_key_path: Option<PathBuf>,
    /// The `.p8` file's content instead of a path, meant to come from the environment
    /// (`ASND_APPS__0__API__PRIVATE_KEY`): PEM (real or `\n`-escaped newlines) or bare base64.
    pub private_key: Option<Secret<String>>,
    /// Base URLs, overridable for proxies and tests.
    pub production_url: String,
    pub sandbox_url: String,
    /// PEM bundle of the CA certificates trusted to reach Apple.
    pub ca_file: PathBuf,
    /// More trusted roots (PEM or DER), added to `ca_file`'s: a TLS-inspecting proxy's, a test's.
    pub extra_roots: Vec<PathBuf>,
    /// Bound on one request to Apple (connect, send, answer).
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            key_id: String::new(),
            issuer_id: String::new(),
            private_key_path: None,
            private_key: None,
            production_url: API_PRODUCTION_URL.to_owned(),
            sandbox_url: API_SANDBOX_URL.to_owned(),
            ca_file: PathBuf::from(SYSTEM_CA_FILE),
            extra_roots: Vec::new(),
            timeout: Duration::from_secs(30),
        }
    }
}
