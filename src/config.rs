//! Typed configuration: a TOML file, then `ASND_*` environment variables over it, then validation at
//! start-up with one clear line per problem.
//!
//! # Environment overrides
//! A variable `ASND_<SECTION>__<KEY>` sets `<key>` in `[<section>]`: `__` separates the levels, names
//! are lower-cased, and a numeric level is an index into a list (`ASND_APPS__0__BUNDLE_ID`); the index
//! equal to the list's length appends an entry. Only names with a `__` after the prefix are overrides;
//! other `ASND_*` names (the command line's own, such as `ASND_CONFIG`) are left alone. A name that
//! matches no key is an error naming the variable.
//!
//! The value is read according to the type of the key it sets, learnt from the configuration types
//! themselves (see `probe` below): text keys take the value verbatim (`ASND_APPS__0__BUNDLE_ID=123` stays
//! the text "123"), numbers and booleans are parsed, lists are a TOML array (`["a", "b"]`) or, for
//! lists of text, comma-separated (`17.0.0.0/8,10.0.0.0/8`), and a whole table can be given inline
//! (`ASND_APPS__0='{ bundle_id = "x", environments = ["Sandbox"] }'`).
//!
//! Adding a key is adding a field (with a default): the unknown-key check and the environment mapping
//! follow the types, including nested optional tables such as a future `[apps.api]` or `[admin]`.
//! A field holding a secret must keep it out of `Debug` (as `DatabaseConfig` does for its URL).

use std::cell::Cell;
use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use rustls::pki_types::CertificateDer;
use rustls::sign::CertifiedKey;
use serde::Deserialize;
use serde::de::{self, DeserializeOwned, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use toml::{Table, Value};

/// Prefix of the environment variables that override the file.
pub const ENV_PREFIX: &str = "ASND_";
/// Separator between levels in an override's name.
pub const ENV_SEPARATOR: &str = "__";
/// The environments an app may accept, spelled as Apple spells them in V2 payloads.
pub const ENVIRONMENTS: [&str; 2] = ["Production", "Sandbox"];
/// Bounds for `server.max_body_bytes`.
pub const MIN_BODY_BYTES: usize = 1024;
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
/// Upper bounds that keep request timers and the connection semaphore in range.
pub const MAX_CONNECTIONS: usize = 1_000_000;
pub const MAX_DURATION: Duration = Duration::from_secs(3600);
/// The log formats `log.format` accepts.
pub const LOG_FORMATS: [&str; 2] = ["pretty", "json"];

/// Everything that can be wrong with a configuration; each renders as one line naming the key (or
/// variable) and the file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read configuration file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// TOML syntax, or a value of the wrong type; `origin` names the file and, when known, the line.
    #[error("{origin}: {message}")]
    Syntax { origin: String, message: String },
    #[error("unknown key `{key}` in {origin}; expected one of: {expected}")]
    UnknownKey {
        key: String,
        origin: String,
        expected: String,
    },
    #[error("environment variable {var}: {message}")]
    Env { var: String, message: String },
    /// A value that parses but is not acceptable.
    #[error("{key}: {message}")]
    Invalid { key: String, message: String },
    /// A file named by a key that cannot be read or does not hold what it should.
    #[error("{key} ({}): {message}", path.display())]
    File {
        key: String,
        path: PathBuf,
        message: String,
    },
    #[error(
        "server.tls_key ({}) does not belong to the certificate in server.tls_cert ({})",
        key.display(),
        cert.display()
    )]
    KeyMismatch { cert: PathBuf, key: PathBuf },
    /// Several problems found by [`Config::validate`], one per line.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Several(Vec<ConfigError>),
}

impl ConfigError {
    fn invalid(key: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError::Invalid {
            key: key.into(),
            message: message.into(),
        }
    }

    fn file(key: impl Into<String>, path: &Path, message: impl Into<String>) -> Self {
        ConfigError::File {
            key: key.into(),
            path: path.to_path_buf(),
            message: message.into(),
        }
    }

    fn env(var: &str, message: impl Into<String>) -> Self {
        ConfigError::Env {
            var: var.to_owned(),
            message: message.into(),
        }
    }

    /// The individual problems: the list of a [`ConfigError::Several`], or this error alone.
    pub fn problems(&self) -> Vec<&ConfigError> {
        match self {
            ConfigError::Several(all) => all.iter().collect(),
            one => vec![one],
        }
    }
}

/// The whole configuration. Every section and key has a default; see the module documentation for
/// the environment overrides.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub sources: SourcesConfig,
    pub verify: VerifyConfig,
    pub log: LogConfig,
    pub admin: AdminConfig,
    pub reconcile: ReconcileConfig,
    pub apps: Vec<AppConfig>,
}

/// `[admin]`: the operators' listener (Prometheus metrics, health), plain HTTP, off when unset.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminConfig {
    /// For example `127.0.0.1:9898`; keep it off the public network.
    pub listen: Option<SocketAddr>,
}

/// `[server]`: the listener Apple posts to.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
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
    #[serde(with = "humantime_serde")]
    pub header_timeout: Duration,
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

/// `[database]`. `Debug` shows the URL with its password replaced.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://FILE` or `postgres://user:password@host/db`; the scheme chooses the backend.
    pub url: String,
    pub max_connections: u32,
    /// Bound on the whole store step of a request; exceeded → 503.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Apply migrations at start; off for deployments that run `asnd migrate` separately.
    pub migrate_on_start: bool,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: "sqlite://asnd.db".to_owned(),
            max_connections: 10,
            timeout: Duration::from_secs(5),
            migrate_on_start: true,
        }
    }
}

impl DatabaseConfig {
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The URL with any password (in the user part or a `password=` parameter) replaced by `***`:
    /// what may be logged.
    pub fn redacted_url(&self) -> String {
        crate::store::redact_url(&self.url)
    }
}

impl fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field("url", &self.redacted_url())
            .field("max_connections", &self.max_connections)
            .field("timeout", &self.timeout)
            .field("migrate_on_start", &self.migrate_on_start)
            .finish()
    }
}

/// `[sources]`: who may post.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
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
    pub forwarded_header: String,
}

impl Default for SourcesConfig {
    fn default() -> Self {
        SourcesConfig {
            allow: vec![IpNet::V4(ipnet::Ipv4Net::new_assert(
                [17, 0, 0, 0].into(),
                8,
            ))],
            trusted_proxies: Vec::new(),
            forwarded_header: "x-forwarded-for".to_owned(),
        }
    }
}

/// `[verify]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VerifyConfig {
    /// Trusted roots: certificate files (PEM or DER), or [`BUILTIN_APPLE_ROOT`] for the built-in
    /// Apple Root CA - G3. Empty = Apple Root CA - G3 alone; a non-empty list is exactly what is
    /// trusted, so listing a development root beside Apple's needs the built-in entry too.
    pub roots: Vec<PathBuf>,
}

/// The `verify.roots` entry naming the built-in Apple Root CA - G3 (no file is read).
pub const BUILTIN_APPLE_ROOT: &str = "builtin:apple-root-ca-g3";
/// `verify.roots` entries starting with this name a root built into asnd, not a file.
pub const BUILTIN_ROOT_PREFIX: &str = "builtin:";

/// What one `verify.roots` entry names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RootEntry<'a> {
    /// [`BUILTIN_APPLE_ROOT`].
    BuiltinApple,
    /// A certificate file.
    File(&'a Path),
}

impl RootEntry<'_> {
    /// Reads an entry; a `builtin:` name other than [`BUILTIN_APPLE_ROOT`] is an error.
    pub fn parse(entry: &Path) -> Result<RootEntry<'_>, String> {
        match entry.to_str() {
            Some(BUILTIN_APPLE_ROOT) => Ok(RootEntry::BuiltinApple),
            Some(name) if name.starts_with(BUILTIN_ROOT_PREFIX) => Err(format!(
                "{name:?} is not a built-in root; the only one is {BUILTIN_APPLE_ROOT:?}"
            )),
            _ => Ok(RootEntry::File(entry)),
        }
    }
}

/// `[log]`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `"pretty"` or `"json"`.
    pub format: String,
    /// A `tracing` filter such as `info` or `asnd=debug,info`; `RUST_LOG` wins over it.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: "pretty".to_owned(),
            level: "info".to_owned(),
        }
    }
}

/// One `[[apps]]` entry: an app whose notifications are accepted. `Debug` never shows the V1
/// shared secrets.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AppConfig {
    pub bundle_id: String,
    /// The app's Apple ID; required when `environments` includes Production.
    pub app_apple_id: Option<i64>,
    /// `"Production"` and/or `"Sandbox"`; both by default.
    pub environments: Vec<String>,
    /// The app's shared secrets (App Store Connect), which authenticate V1 notifications in
    /// their `password`. Several, so that a secret can be rotated; empty = V1 is refused. Best set
    /// from the environment: `ASND_APPS__0__V1_SHARED_SECRETS=secret1,secret2`.
    #[serde(deserialize_with = "secret_list")]
    pub v1_shared_secrets: Vec<String>,
    /// `[apps.api]`: the App Store Server API key, for `test-notification`, `backfill` and
    /// `[reconcile]`. Optional.
    pub api: Option<ApiConfig>,
}

impl Default for AppConfig {
    fn default() -> Self {
        AppConfig {
            bundle_id: String::new(),
            app_apple_id: None,
            environments: ENVIRONMENTS.iter().map(|e| (*e).to_owned()).collect(),
            v1_shared_secrets: Vec::new(),
            api: None,
        }
    }
}

/// Apple's App Store Server API hosts (spec §14.1).
pub const API_PRODUCTION_URL: &str = "https://api.storekit.apple.com";
pub const API_SANDBOX_URL: &str = "https://api.storekit-sandbox.apple.com";
/// Where Debian, Ubuntu, Alpine and their container images keep the system's CA certificates;
/// the API client trusts these to reach Apple (there is no built-in list).
pub const SYSTEM_CA_FILE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// `[apps.api]`: an In-App Purchase key from App Store Connect (Users and Access → Integrations →
/// In-App Purchase). `Debug` never shows the private key.
#[derive(Clone, PartialEq, Eq, Deserialize)]
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
    pub private_key: Option<String>,
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

impl fmt::Debug for ApiConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiConfig")
            .field("key_id", &self.key_id)
            .field("issuer_id", &self.issuer_id)
            .field("private_key_path", &self.private_key_path)
            .field(
                "private_key",
                &self.private_key.as_ref().map(|_| "<redacted>"),
            )
            .field("production_url", &self.production_url)
            .field("sandbox_url", &self.sandbox_url)
            .field("ca_file", &self.ca_file)
            .field("extra_roots", &self.extra_roots)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// The PKCS#8 DER of an API private key, checked to be an EC P-256 key. `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiPrivateKey(Vec<u8>);

impl ApiPrivateKey {
    pub fn pkcs8_der(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for ApiPrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiPrivateKey(<redacted>)")
    }
}

impl ApiConfig {
    /// The private key, from `private_key_path` or `private_key`. `key` names the section in
    /// errors (`apps[0].api`); no error ever repeats the key's content.
    pub fn load_private_key(&self, key: &str) -> Result<ApiPrivateKey, ConfigError> {
        match (&self.private_key_path, &self.private_key) {
            (Some(_), Some(_)) => Err(ConfigError::invalid(
                format!("{key}.private_key"),
                "set private_key_path or private_key, not both",
            )),
            (None, None) => Err(ConfigError::invalid(
                format!("{key}.private_key_path"),
                "missing: name the .p8 file (or set private_key, e.g. from the environment)",
            )),
            (Some(path), None) => {
                let field = format!("{key}.private_key_path");
                let text = std::fs::read(path)
                    .map_err(|e| ConfigError::file(&field, path, format!("cannot read: {e}")))?;
                let text = String::from_utf8(text)
                    .map_err(|_| ConfigError::file(&field, path, "is not a text (.p8) file"))?;
                parse_api_key(&text).map_err(|m| ConfigError::file(&field, path, m))
            }
            (None, Some(text)) => parse_api_key(text)
                .map_err(|m| ConfigError::invalid(format!("{key}.private_key"), m)),
        }
    }

    /// The CA certificates of `ca_file` and every `extra_roots` file.
    pub fn load_roots(&self, key: &str) -> Result<Vec<CertificateDer<'static>>, ConfigError> {
        let mut roots = read_certificates(&format!("{key}.ca_file"), &self.ca_file)?;
        for (i, path) in self.extra_roots.iter().enumerate() {
            roots.extend(read_certificates(&format!("{key}.extra_roots[{i}]"), path)?);
        }
        Ok(roots)
    }

    fn check(&self, key: &str, problems: &mut Vec<ConfigError>) {
        for (field, value) in [("key_id", &self.key_id), ("issuer_id", &self.issuer_id)] {
            if value.trim().is_empty() {
                problems.push(ConfigError::invalid(
                    format!("{key}.{field}"),
                    "missing: copy it from App Store Connect (Users and Access → Integrations → In-App Purchase)",
                ));
            } else if value.contains(char::is_whitespace) {
                problems.push(ConfigError::invalid(
                    format!("{key}.{field}"),
                    format!("{value:?} contains spaces"),
                ));
            }
        }
        if let Err(e) = self.load_private_key(key) {
            problems.push(e);
        }
        for (field, url) in [
            ("production_url", &self.production_url),
            ("sandbox_url", &self.sandbox_url),
        ] {
            let host = url.strip_prefix("https://").unwrap_or_default();
            if host.is_empty() || host.starts_with('/') || url.contains(char::is_whitespace) {
                problems.push(ConfigError::invalid(
                    format!("{key}.{field}"),
                    format!("{url:?} is not an https:// URL"),
                ));
            }
        }
        if let Err(e) = self.load_roots(key) {
            problems.push(e);
        }
        if self.timeout.is_zero() {
            problems.push(ConfigError::invalid(
                format!("{key}.timeout"),
                "must be longer than zero (e.g. \"30s\")",
            ));
        }
    }
}

/// A `.p8` key as text: PEM (`-----BEGIN PRIVATE KEY-----`, with real or `\n`-escaped newlines,
/// as environment variables often carry it) or the bare base64 of the DER.
fn parse_api_key(text: &str) -> Result<ApiPrivateKey, String> {
    let text = text.trim();
    let der = if text.contains("-----BEGIN") {
        let pem = if text.contains('\n') {
            text.to_owned()
        } else {
            text.replace("\\n", "\n")
        };
        match rustls_pemfile::private_key(&mut pem.as_bytes()) {
            Ok(Some(rustls::pki_types::PrivateKeyDer::Pkcs8(k))) => k.secret_pkcs8_der().to_vec(),
            Ok(Some(_)) => {
                return Err("is not a PKCS#8 key (-----BEGIN PRIVATE KEY-----) like App Store Connect's .p8 files".into());
            }
            Ok(None) => return Err("holds no PEM private key (-----BEGIN PRIVATE KEY-----)".into()),
            Err(_) => return Err("is not valid PEM".into()),
        }
    } else {
        use base64::Engine;
        let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        base64::engine::general_purpose::STANDARD
            .decode(compact.as_bytes())
            .map_err(|_| "is neither PEM (-----BEGIN PRIVATE KEY-----) nor base64".to_owned())?
    };
    aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        &der,
    )
    .map_err(|_| {
        "is not an EC P-256 private key (PKCS#8), as App Store Connect issues".to_owned()
    })?;
    Ok(ApiPrivateKey(der))
}

/// Certificates from a PEM file, or a single DER certificate.
fn read_certificates(key: &str, path: &Path) -> Result<Vec<CertificateDer<'static>>, ConfigError> {
    let bytes = std::fs::read(path)
        .map_err(|e| ConfigError::file(key, path, format!("cannot read: {e}")))?;
    let certs = if bytes.windows(10).any(|w| w == b"-----BEGIN") {
        rustls_pemfile::certs(&mut bytes.as_slice())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ConfigError::file(key, path, format!("not valid PEM: {e}")))?
    } else {
        vec![CertificateDer::from(bytes)]
    };
    // A system bundle may hold a certificate or two this TLS stack cannot use; those are skipped,
    // as rustls does, but a file without a single usable one is an error.
    let mut usable = rustls::RootCertStore::empty();
    let (added, _skipped) = usable.add_parsable_certificates(certs.iter().cloned());
    if added == 0 {
        return Err(ConfigError::file(
            key,
            path,
            "holds no usable certificate (PEM -----BEGIN CERTIFICATE----- or DER)",
        ));
    }
    Ok(certs)
}

/// `[reconcile]`: inside `serve`, ask Apple every `interval` for the notifications of the last
/// `lookback` that did not reach us (`onlyFailures`), and ingest them. Off by default.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReconcileConfig {
    pub enabled: bool,
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    /// Capped per environment at what Apple keeps: 180 days (Production), 30 days (Sandbox).
    #[serde(with = "humantime_serde")]
    pub lookback: Duration,
}

/// The longest history Apple keeps (Production; Sandbox keeps 30 days).
pub const MAX_LOOKBACK: Duration = Duration::from_secs(180 * 24 * 3600);

impl Default for ReconcileConfig {
    fn default() -> Self {
        ReconcileConfig {
            enabled: false,
            interval: Duration::from_secs(3600),
            lookback: Duration::from_secs(72 * 3600),
        }
    }
}

impl ReconcileConfig {
    fn check(&self, apps: &[AppConfig], problems: &mut Vec<ConfigError>) {
        if self.interval.is_zero() {
            problems.push(ConfigError::invalid(
                "reconcile.interval",
                "must be longer than zero (e.g. \"1h\")",
            ));
        }
        if self.lookback.is_zero() || self.lookback > MAX_LOOKBACK {
            problems.push(ConfigError::invalid(
                "reconcile.lookback",
                "must be longer than zero and at most 180 days (what Apple keeps), e.g. \"72h\"",
            ));
        }
        if self.enabled && apps.iter().all(|a| a.api.is_none()) {
            problems.push(ConfigError::invalid(
                "reconcile.enabled",
                "no app has an [apps.api] section: reconciliation needs an App Store Server API key",
            ));
        }
    }
}

impl AppConfig {
    /// Whether notifications from `environment` ("Production", "Sandbox") are accepted.
    pub fn accepts(&self, environment: &str) -> bool {
        self.environments.iter().any(|e| e == environment)
    }
}

impl fmt::Debug for AppConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppConfig")
            .field("bundle_id", &self.bundle_id)
            .field("app_apple_id", &self.app_apple_id)
            .field("environments", &self.environments)
            .field(
                "v1_shared_secrets",
                &format_args!("<{} redacted>", self.v1_shared_secrets.len()),
            )
            .field("api", &self.api)
            .finish()
    }
}

/// Reads `v1_shared_secrets`, a list of strings, without ever quoting a value in an error, as
/// serde's own messages do (`invalid type: string "...", expected a sequence`).
fn secret_list<'de, D: de::Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    const NOT_TEXT: &str = "expected each secret as a string in quotes (value not shown)";

    struct Secrets;
    impl<'de> Visitor<'de> for Secrets {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list of secrets such as [\"...\"]")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<String>, A::Error> {
            let mut secrets = Vec::new();
            while let Some(Secret(secret)) = seq.next_element()? {
                secrets.push(secret);
            }
            Ok(secrets)
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Vec<String>, E> {
            Err(E::custom(
                "expected a list of secrets such as [\"...\"], not one string (value not shown)",
            ))
        }
    }

    struct Secret(String);
    impl<'de> Deserialize<'de> for Secret {
        fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct One;
            impl Visitor<'_> for One {
                type Value = Secret;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str(NOT_TEXT)
                }
                fn visit_str<E: de::Error>(self, secret: &str) -> Result<Secret, E> {
                    Ok(Secret(secret.to_owned()))
                }
                fn visit_i64<E: de::Error>(self, _: i64) -> Result<Secret, E> {
                    Err(E::custom(NOT_TEXT))
                }
                fn visit_u64<E: de::Error>(self, _: u64) -> Result<Secret, E> {
                    Err(E::custom(NOT_TEXT))
                }
                fn visit_f64<E: de::Error>(self, _: f64) -> Result<Secret, E> {
                    Err(E::custom(NOT_TEXT))
                }
                fn visit_bool<E: de::Error>(self, _: bool) -> Result<Secret, E> {
                    Err(E::custom(NOT_TEXT))
                }
            }
            deserializer.deserialize_str(One)
        }
    }

    deserializer.deserialize_seq(Secrets)
}

impl Config {
    /// Reads the TOML file (when given), then applies the `ASND_*` overrides from the process
    /// environment. Does not validate: call [`Config::validate`] before using the result.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let env = process_overrides()?;
        match path {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_path_buf(),
                    source,
                })?;
                parse(&text, &path.display().to_string(), env)
            }
            None => parse("", "configuration", env),
        }
    }

    /// Parses `text` as the configuration file and applies the overrides in `env` (name, value),
    /// exactly as [`Config::load`] does with the process environment.
    pub fn from_toml_str(
        text: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        parse(text, "configuration", env)
    }

    /// Checks everything that can be checked before serving, including that the certificate, key
    /// and root files can be read and that the key belongs to the certificate. Reports every
    /// problem found ([`ConfigError::Several`] when more than one).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        self.server.check(&mut problems);
        self.database.check(&mut problems);
        if self.sources.allow.is_empty() {
            problems.push(ConfigError::invalid(
                "sources.allow",
                "must list at least one network (Apple posts from 17.0.0.0/8)",
            ));
        }
        for (i, root) in self.verify.roots.iter().enumerate() {
            match RootEntry::parse(root) {
                Ok(RootEntry::BuiltinApple) => {}
                Ok(RootEntry::File(path)) => {
                    if let Err(e) = std::fs::read(path) {
                        problems.push(ConfigError::file(
                            format!("verify.roots[{i}]"),
                            path,
                            format!("cannot read: {e}"),
                        ));
                    }
                }
                Err(message) => {
                    problems.push(ConfigError::invalid(format!("verify.roots[{i}]"), message))
                }
            }
        }
        if !LOG_FORMATS.contains(&self.log.format.as_str()) {
            problems.push(ConfigError::invalid(
                "log.format",
                format!(
                    "{:?} is not a format; use \"pretty\" or \"json\"",
                    self.log.format
                ),
            ));
        }
        if self.log.level.trim().is_empty() {
            problems.push(ConfigError::invalid(
                "log.level",
                "must not be empty (e.g. \"info\")",
            ));
        }
        if !["x-forwarded-for", "forwarded"]
            .contains(&self.sources.forwarded_header.to_ascii_lowercase().as_str())
        {
            problems.push(ConfigError::invalid(
                "sources.forwarded_header",
                "must be \"x-forwarded-for\" or \"forwarded\"",
            ));
        }
        if self.server.proxy_protocol && self.sources.trusted_proxies.is_empty() {
            problems.push(ConfigError::invalid(
                "server.proxy_protocol",
                "needs sources.trusted_proxies: only those balancers may send a PROXY header",
            ));
        }
        check_apps(&self.apps, &mut problems);
        self.reconcile.check(&self.apps, &mut problems);
        for (i, app) in self.apps.iter().enumerate() {
            if let Some(api) = &app.api {
                api.check(&format!("apps[{i}].api"), &mut problems);
            }
        }
        match problems.len() {
            0 => Ok(()),
            1 => Err(problems.remove(0)),
            _ => Err(ConfigError::Several(problems)),
        }
    }
}

impl ServerConfig {
    fn check(&self, problems: &mut Vec<ConfigError>) {
        let port = self.listen.port();
        // Port 0 asks the system for a free port (tests); such ports are above 1024 too.
        // With `tls = false` a balancer faces Apple and this port is private.
        if self.tls && port != 0 && port != 443 && port < 1024 {
            problems.push(ConfigError::invalid(
                "server.listen",
                format!(
                    "port {port} cannot receive notifications: App Store Connect posts only to port 443 \
                     or to a port of 1024 or above"
                ),
            ));
        }
        if !self.path.starts_with('/') {
            problems.push(ConfigError::invalid(
                "server.path",
                format!("{:?} must start with '/'", self.path),
            ));
        } else if self.path.contains(['?', '#']) || self.path.contains(char::is_whitespace) {
            problems.push(ConfigError::invalid(
                "server.path",
                format!(
                    "{:?} must be a plain path, without query, fragment or spaces",
                    self.path
                ),
            ));
        }
        if !(MIN_BODY_BYTES..=MAX_BODY_BYTES).contains(&self.max_body_bytes) {
            problems.push(ConfigError::invalid(
                "server.max_body_bytes",
                format!(
                    "{} is out of range: must be between {MIN_BODY_BYTES} (1 KiB) and {MAX_BODY_BYTES} (16 MiB)",
                    self.max_body_bytes
                ),
            ));
        }
        if self.max_connections == 0 || self.max_connections > MAX_CONNECTIONS {
            problems.push(ConfigError::invalid(
                "server.max_connections",
                format!("must be between 1 and {MAX_CONNECTIONS}"),
            ));
        }
        for (key, value) in [
            ("server.handshake_timeout", self.handshake_timeout),
            ("server.header_timeout", self.header_timeout),
            ("server.body_timeout", self.body_timeout),
            ("server.handler_timeout", self.handler_timeout),
        ] {
            if value.is_zero() {
                problems.push(ConfigError::invalid(
                    key,
                    "must be longer than zero (e.g. \"10s\")",
                ));
            }
        }
        // Durations beyond an hour are mistakes, and absurd ones overflow the clock.
        for (key, value) in [
            ("server.handshake_timeout", self.handshake_timeout),
            ("server.header_timeout", self.header_timeout),
            ("server.body_timeout", self.body_timeout),
            ("server.handler_timeout", self.handler_timeout),
            ("server.shutdown_grace", self.shutdown_grace),
            ("server.drain_delay", self.drain_delay),
            ("server.proxy_header_timeout", self.proxy_header_timeout),
        ] {
            if value > MAX_DURATION {
                problems.push(ConfigError::invalid(key, "must be at most 1h"));
            }
        }
        if self.tls
            && let Err(e) = load_tls_certified_key(&self.tls_cert, &self.tls_key)
        {
            problems.push(e);
        }
    }
}

impl DatabaseConfig {
    fn check(&self, problems: &mut Vec<ConfigError>) {
        let scheme_ok = crate::store::Backend::from_url(&self.url).is_ok();
        if !scheme_ok {
            problems.push(ConfigError::invalid(
                "database.url",
                format!(
                    "{} is not a database URL; use sqlite://FILE or postgres://USER@HOST/DB",
                    if self.url.is_empty() {
                        "(empty)".to_owned()
                    } else {
                        format!("`{}`", self.redacted_url())
                    }
                ),
            ));
        }
        if self.max_connections == 0 {
            problems.push(ConfigError::invalid(
                "database.max_connections",
                "must be at least 1",
            ));
        }
        if self.timeout.is_zero() || self.timeout > MAX_DURATION {
            problems.push(ConfigError::invalid(
                "database.timeout",
                "must be longer than zero and at most 1h (e.g. \"5s\")",
            ));
        }
    }
}

fn check_apps(apps: &[AppConfig], problems: &mut Vec<ConfigError>) {
    if apps.is_empty() {
        problems.push(ConfigError::invalid(
            "apps",
            "no app configured: add an [[apps]] section with bundle_id (and app_apple_id for Production)",
        ));
    }
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, app) in apps.iter().enumerate() {
        let key = |field: &str| format!("apps[{i}].{field}");
        let bundle = app.bundle_id.as_str();
        if bundle.trim().is_empty() {
            problems.push(ConfigError::invalid(key("bundle_id"), "must not be empty"));
        } else if bundle.contains(char::is_whitespace) {
            problems.push(ConfigError::invalid(
                key("bundle_id"),
                format!("{bundle:?} contains spaces"),
            ));
        } else if let Some(first) = seen.insert(bundle, i) {
            problems.push(ConfigError::invalid(
                key("bundle_id"),
                format!("{bundle:?} is already configured in apps[{first}]"),
            ));
        }
        if app.environments.is_empty() {
            problems.push(ConfigError::invalid(
                key("environments"),
                "must list \"Production\", \"Sandbox\" or both",
            ));
        }
        for env in &app.environments {
            if !ENVIRONMENTS.contains(&env.as_str()) {
                problems.push(ConfigError::invalid(
                    key("environments"),
                    format!("{env:?} is not an environment; use \"Production\" or \"Sandbox\""),
                ));
            }
        }
        match app.app_apple_id {
            Some(id) if id <= 0 => {
                problems.push(ConfigError::invalid(
                    key("app_apple_id"),
                    format!("{id} must be a positive number"),
                ));
            }
            None if app.accepts("Production") => problems.push(ConfigError::invalid(
                key("app_apple_id"),
                format!(
                    "required for {bundle:?} because its environments include Production \
                     (App Store Connect shows it under App Information as Apple ID)"
                ),
            )),
            _ => {}
        }
        check_v1_secrets(i, app, problems);
    }
}

/// A V1 secret that is empty or holds a space or line break (pasted by mistake) never matches.
/// Problems name the secret by its index: its value is never shown.
fn check_v1_secrets(i: usize, app: &AppConfig, problems: &mut Vec<ConfigError>) {
    for (j, secret) in app.v1_shared_secrets.iter().enumerate() {
        let key = format!("apps[{i}].v1_shared_secrets[{j}]");
        if secret.is_empty() {
            problems.push(ConfigError::invalid(key, "must not be empty"));
        } else if secret.contains(char::is_whitespace) {
            problems.push(ConfigError::invalid(
                key,
                "contains a space or line break (value not shown)",
            ));
        }
    }
}

/// Reads a PEM certificate chain and its private key and checks that they belong together.
/// Used by validation and by the server when it loads or reloads its certificate.
pub fn load_tls_certified_key(cert: &Path, key: &Path) -> Result<Arc<CertifiedKey>, ConfigError> {
    const CERT: &str = "server.tls_cert";
    const KEY: &str = "server.tls_key";
    let cert_pem = std::fs::read(cert)
        .map_err(|e| ConfigError::file(CERT, cert, format!("cannot read: {e}")))?;
    let chain = rustls_pemfile::certs(&mut cert_pem.as_slice())
        .collect::<Result<Vec<CertificateDer<'static>>, _>>()
        .map_err(|e| ConfigError::file(CERT, cert, format!("not valid PEM: {e}")))?;
    if chain.is_empty() {
        return Err(ConfigError::file(
            CERT,
            cert,
            "holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
        ));
    }
    let key_pem =
        std::fs::read(key).map_err(|e| ConfigError::file(KEY, key, format!("cannot read: {e}")))?;
    let key_der = rustls_pemfile::private_key(&mut key_pem.as_slice())
        .map_err(|e| ConfigError::file(KEY, key, format!("not valid PEM: {e}")))?
        .ok_or_else(|| {
            ConfigError::file(
                KEY,
                key,
                "holds no PEM private key (PKCS#8, PKCS#1 or SEC1)",
            )
        })?;
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    let signing_key = provider
        .key_provider
        .load_private_key(key_der)
        .map_err(|e| ConfigError::file(KEY, key, format!("unusable private key: {e}")))?;
    let certified = CertifiedKey::new(chain, signing_key);
    match certified.keys_match() {
        Ok(()) => Ok(Arc::new(certified)),
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => {
            Err(ConfigError::KeyMismatch {
                cert: cert.to_path_buf(),
                key: key.to_path_buf(),
            })
        }
        // The key cannot tell its public half: nothing to compare, as rustls itself accepts.
        Err(rustls::Error::InconsistentKeys(_)) => Ok(Arc::new(certified)),
        Err(e) => Err(ConfigError::file(
            CERT,
            cert,
            format!("first certificate is not usable: {e}"),
        )),
    }
}

// ---------------------------------------------------------------------------------------------
// Loading: file → table, overrides merged in, then typed.

/// One level of a key path: a key in a table, or an index in a list.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Seg {
    Index(usize),
    Key(String),
}

/// `apps[0].bundle_id`.
fn dotted(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

struct Override {
    var: String,
    path: Vec<Seg>,
    raw: String,
}

fn is_override_name(name: &str) -> bool {
    name.get(..ENV_PREFIX.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(ENV_PREFIX))
        && name[ENV_PREFIX.len()..].contains(ENV_SEPARATOR)
}

/// The overrides in the process environment (only names that are overrides are read).
fn process_overrides() -> Result<Vec<(String, String)>, ConfigError> {
    let mut out = Vec::new();
    for (name, value) in std::env::vars_os() {
        let Some(name) = name.to_str() else { continue };
        if !is_override_name(name) {
            continue;
        }
        let value = value
            .into_string()
            .map_err(|_| ConfigError::env(name, "value is not valid UTF-8"))?;
        out.push((name.to_owned(), value));
    }
    Ok(out)
}

/// The overrides among `env`, in the order they apply (by key path, so list entries come in order).
fn overrides(
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Vec<Override>, ConfigError> {
    let mut out = Vec::new();
    for (var, raw) in env {
        if !is_override_name(&var) {
            continue;
        }
        let mut path = Vec::new();
        for part in var[ENV_PREFIX.len()..].split(ENV_SEPARATOR) {
            if part.is_empty() {
                return Err(ConfigError::env(
                    &var,
                    "has an empty level (write ASND_SECTION__KEY)",
                ));
            }
            if part.bytes().all(|b| b.is_ascii_digit()) {
                let index = part
                    .parse()
                    .map_err(|_| ConfigError::env(&var, format!("index {part} is too large")))?;
                path.push(Seg::Index(index));
            } else {
                path.push(Seg::Key(part.to_ascii_lowercase()));
            }
        }
        out.push(Override { var, path, raw });
    }
    out.sort_by(|a, b| a.path.cmp(&b.path).then_with(|| a.var.cmp(&b.var)));
    if let Some(pair) = out.windows(2).find(|w| w[0].path == w[1].path) {
        return Err(ConfigError::env(
            &pair[1].var,
            format!(
                "sets {} like {} does; set it once",
                dotted(&pair[1].path),
                pair[0].var
            ),
        ));
    }
    Ok(out)
}

fn parse(
    text: &str,
    origin: &str,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Config, ConfigError> {
    let file: Table = toml::from_str(text).map_err(|e| syntax_error(origin, text, &e))?;
    if let Some((key, expected)) = unknown_key(&Value::Table(file.clone()), &mut Vec::new()) {
        let origin = locate_unknown_key(text, &key)
            .map_or_else(|| origin.to_owned(), |at| format!("{origin}, {at}"));
        return Err(ConfigError::UnknownKey {
            key,
            origin,
            expected,
        });
    }
    let overrides = overrides(env)?;
    let mut merged = file.clone();
    let mut values = Vec::with_capacity(overrides.len());
    for o in &overrides {
        let value = override_value(o)?;
        if let Some((key, expected)) = unknown_key(&value, &mut o.path.clone()) {
            return Err(ConfigError::UnknownKey {
                key,
                origin: format!("environment variable {}", o.var),
                expected,
            });
        }
        set(&mut merged, &o.path, value.clone(), false).map_err(|m| ConfigError::env(&o.var, m))?;
        values.push(value);
    }
    let error = match Value::Table(merged).try_into::<Config>() {
        Ok(config) => return Ok(config),
        Err(e) => e,
    };
    // Name the culprit: the file (with its line), else the first override that fails on its own.
    if let Err(e) = toml::from_str::<Config>(text) {
        return Err(syntax_error(origin, text, &e));
    }
    for (o, value) in overrides.iter().zip(values) {
        let mut alone = file.clone();
        if set(&mut alone, &o.path, value, true).is_ok()
            && let Err(e) = Value::Table(alone).try_into::<Config>()
        {
            return Err(ConfigError::env(&o.var, one_line(e.message())));
        }
    }
    Err(ConfigError::Syntax {
        origin: format!("{origin} with its environment overrides"),
        message: one_line(error.message()),
    })
}

fn one_line(message: &str) -> String {
    message
        .trim()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

/// "line L, column C" of a byte offset in `text`.
fn line_column(text: &str, offset: usize) -> String {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!("line {line}, column {column}")
}

/// A TOML error as one line; the offending text itself is not repeated (it may hold a secret).
fn syntax_error(origin: &str, text: &str, e: &toml::de::Error) -> ConfigError {
    let origin = match e.span() {
        Some(span) => format!("{origin}, {}", line_column(text, span.start)),
        None => origin.to_owned(),
    };
    ConfigError::Syntax {
        origin,
        message: one_line(e.message()),
    }
}

/// Where serde's own unknown-field check points, when it is about the same key.
fn locate_unknown_key(text: &str, key: &str) -> Option<String> {
    let leaf = key.rsplit(['.', ']']).next().unwrap_or(key);
    let e = toml::from_str::<Config>(text).err()?;
    let span = e.span()?;
    e.message()
        .contains(&format!("unknown field `{leaf}`"))
        .then(|| line_column(text, span.start))
}

/// The first key in `value` (found at `path`) that the configuration types do not have, with the
/// keys that would have been accepted there.
fn unknown_key(value: &Value, path: &mut Vec<Seg>) -> Option<(String, String)> {
    let children: Vec<(Seg, &Value)> = match value {
        Value::Table(t) => t.iter().map(|(k, v)| (Seg::Key(k.clone()), v)).collect(),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .map(|(i, v)| (Seg::Index(i), v))
            .collect(),
        _ => return None,
    };
    for (seg, child) in children {
        path.push(seg);
        if let Probed::UnknownKey { at, expected } = probe::<Config>(path) {
            return Some((dotted(&path[..=at]), expected.join(", ")));
        }
        if let Some(found) = unknown_key(child, path) {
            return Some(found);
        }
        path.pop();
    }
    None
}

/// The TOML value an override stands for, read according to the type of the key it sets.
fn override_value(o: &Override) -> Result<Value, ConfigError> {
    let kind = match probe::<Config>(&o.path) {
        Probed::Found(kind) => kind,
        Probed::UnknownKey { at, expected } => {
            return Err(ConfigError::UnknownKey {
                key: dotted(&o.path[..=at]),
                origin: format!("environment variable {}", o.var),
                expected: expected.join(", "),
            });
        }
        Probed::NoSuchPath { at, found } => {
            let what = match &o.path[at] {
                Seg::Index(_) => "numbered entries",
                Seg::Key(_) => "keys",
            };
            return Err(ConfigError::env(
                &o.var,
                format!(
                    "`{}` is {} and has no {what}",
                    dotted(&o.path[..at]),
                    found.describe()
                ),
            ));
        }
    };
    let raw = o.raw.as_str();
    let parsed = || parse_toml_value(raw);
    let wrong =
        |what: &str| ConfigError::env(&o.var, format!("expected {what} for {}", dotted(&o.path)));
    match kind {
        Kind::String => Ok(Value::String(raw.to_owned())),
        Kind::Bool => match raw.trim().to_ascii_lowercase().as_str() {
            "true" => Ok(Value::Boolean(true)),
            "false" => Ok(Value::Boolean(false)),
            _ => Err(wrong("true or false")),
        },
        Kind::Integer => match parsed() {
            Some(v @ Value::Integer(_)) => Ok(v),
            _ => Err(wrong("an integer")),
        },
        Kind::Float => match parsed() {
            Some(v @ (Value::Float(_) | Value::Integer(_))) => Ok(v),
            _ => Err(wrong("a number")),
        },
        Kind::Array if raw.trim_start().starts_with('[') => match parsed() {
            Some(v @ Value::Array(_)) => Ok(v),
            _ => Err(wrong("a TOML array such as [\"a\", \"b\"]")),
        },
        Kind::Array => {
            let mut element = o.path.clone();
            element.push(Seg::Index(0));
            if probe::<Config>(&element) != Probed::Found(Kind::String) {
                return Err(wrong("a TOML array such as [1, 2]"));
            }
            let items = raw.split(',').map(str::trim).filter(|s| !s.is_empty());
            Ok(Value::Array(
                items.map(|s| Value::String(s.to_owned())).collect(),
            ))
        }
        Kind::Table => match parsed() {
            Some(v @ Value::Table(_)) => Ok(v),
            _ => Err(wrong("an inline TOML table such as { key = \"value\" }")),
        },
        Kind::Any => Ok(parsed().unwrap_or_else(|| Value::String(raw.to_owned()))),
    }
}

/// `raw` read as one TOML value, if it is one.
fn parse_toml_value(raw: &str) -> Option<Value> {
    let mut table: Table = toml::from_str(&format!("v = {raw}")).ok()?;
    if table.len() != 1 {
        return None;
    }
    table.remove("v")
}

/// Puts `value` at `path` in `root`, creating tables and list entries on the way. An index may be
/// at most the list's length (which appends), unless `pad` fills the gap with empty tables.
fn set(root: &mut Table, path: &[Seg], value: Value, pad: bool) -> Result<(), String> {
    let mut whole = Value::Table(std::mem::take(root));
    let result = set_in(&mut whole, path, value, pad);
    if let Value::Table(table) = whole {
        *root = table;
    }
    result
}

fn set_in(root: &mut Value, path: &[Seg], value: Value, pad: bool) -> Result<(), String> {
    let mut value = Some(value);
    let mut here = root;
    for (depth, seg) in path.iter().enumerate() {
        let last = depth + 1 == path.len();
        let fresh = || match path.get(depth + 1) {
            Some(Seg::Index(_)) => Value::Array(Vec::new()),
            _ => Value::Table(Table::new()),
        };
        here = match (seg, here) {
            (Seg::Key(k), Value::Table(t)) => {
                if last {
                    t.insert(
                        k.clone(),
                        value.take().unwrap_or(Value::Table(Table::new())),
                    );
                    return Ok(());
                }
                t.entry(k.clone()).or_insert_with(fresh)
            }
            (Seg::Index(i), Value::Array(a)) => {
                if *i > a.len() && !pad {
                    return Err(format!(
                        "index {i} is past the end of `{}`, which has {} entries (use {} to add one)",
                        dotted(&path[..depth]),
                        a.len(),
                        a.len()
                    ));
                }
                while a.len() <= *i {
                    a.push(if last {
                        Value::Table(Table::new())
                    } else {
                        fresh()
                    });
                }
                if last {
                    a[*i] = value.take().unwrap_or(Value::Table(Table::new()));
                    return Ok(());
                }
                &mut a[*i]
            }
            (_, other) => {
                return Err(format!(
                    "`{}` is {} in the file, so it has no {}",
                    dotted(&path[..depth]),
                    other.type_str(),
                    match seg {
                        Seg::Index(_) => "numbered entries",
                        Seg::Key(_) => "keys",
                    }
                ));
            }
        };
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Probing the configuration types: which keys exist and what type each one has.

/// What a key's type asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    String,
    Bool,
    Integer,
    Float,
    Array,
    Table,
    /// Whatever comes (a type that does not say).
    Any,
}

impl Kind {
    fn describe(self) -> &'static str {
        match self {
            Kind::String => "text",
            Kind::Bool => "a boolean",
            Kind::Integer => "an integer",
            Kind::Float => "a number",
            Kind::Array => "a list",
            Kind::Table => "a section",
            Kind::Any => "a value",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Probed {
    /// The path exists; its value is of this kind.
    Found(Kind),
    /// `path[at]` is not a key of the section at `path[..at]`, which has `expected`.
    UnknownKey {
        at: usize,
        expected: &'static [&'static str],
    },
    /// `path[at]` goes below `path[..at]`, which is of kind `found` and has no such level.
    NoSuchPath { at: usize, found: Kind },
}

/// Finds out what `T` expects at `path` by letting `T` deserialize itself from a deserializer that
/// follows `path` and stops (with an error) where it ends: the field lists come from serde's derive,
/// so they always match the types.
fn probe<T: DeserializeOwned>(path: &[Seg]) -> Probed {
    let out = Cell::new(None);
    let _ = T::deserialize(Probe {
        path,
        at: 0,
        out: &out,
    });
    out.get().unwrap_or(Probed::Found(Kind::Any))
}

type ProbeError = de::value::Error;

#[derive(Clone, Copy)]
struct Probe<'a> {
    path: &'a [Seg],
    at: usize,
    out: &'a Cell<Option<Probed>>,
}

impl<'a> Probe<'a> {
    fn stop<T>(self, found: Probed) -> Result<T, ProbeError> {
        if self.out.get().is_none() {
            self.out.set(Some(found));
        }
        Err(de::Error::custom("probe done"))
    }

    fn leaf<T>(self, kind: Kind) -> Result<T, ProbeError> {
        if self.at == self.path.len() {
            self.stop(Probed::Found(kind))
        } else {
            self.stop(Probed::NoSuchPath {
                at: self.at,
                found: kind,
            })
        }
    }

    fn child(self) -> Probe<'a> {
        Probe {
            at: self.at + 1,
            ..self
        }
    }

    fn seq<'de, V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        match self.path.get(self.at) {
            None => self.stop(Probed::Found(Kind::Array)),
            Some(Seg::Index(_)) => visitor.visit_seq(OneElement(Some(self.child()))),
            Some(Seg::Key(_)) => self.stop(Probed::NoSuchPath {
                at: self.at,
                found: Kind::Array,
            }),
        }
    }

    fn map<'de, V: Visitor<'de>>(
        self,
        fields: Option<&'static [&'static str]>,
        visitor: V,
    ) -> Result<V::Value, ProbeError> {
        match self.path.get(self.at) {
            None => self.stop(Probed::Found(Kind::Table)),
            Some(Seg::Key(key)) => match fields {
                Some(fields) if !fields.contains(&key.as_str()) => self.stop(Probed::UnknownKey {
                    at: self.at,
                    expected: fields,
                }),
                _ => visitor.visit_map(OneEntry {
                    key: Some(key.as_str()),
                    value: Some(self.child()),
                }),
            },
            Some(Seg::Index(_)) => self.stop(Probed::NoSuchPath {
                at: self.at,
                found: Kind::Table,
            }),
        }
    }
}

macro_rules! probe_leaf {
    ($($method:ident => $kind:expr),* $(,)?) => {
        $(
            fn $method<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, ProbeError> {
                self.leaf($kind)
            }
        )*
    };
}

impl<'de> de::Deserializer<'de> for Probe<'_> {
    type Error = ProbeError;

    probe_leaf! {
        deserialize_any => Kind::Any,
        deserialize_bool => Kind::Bool,
        deserialize_i8 => Kind::Integer,
        deserialize_i16 => Kind::Integer,
        deserialize_i32 => Kind::Integer,
        deserialize_i64 => Kind::Integer,
        deserialize_i128 => Kind::Integer,
        deserialize_u8 => Kind::Integer,
        deserialize_u16 => Kind::Integer,
        deserialize_u32 => Kind::Integer,
        deserialize_u64 => Kind::Integer,
        deserialize_u128 => Kind::Integer,
        deserialize_f32 => Kind::Float,
        deserialize_f64 => Kind::Float,
        deserialize_char => Kind::String,
        deserialize_str => Kind::String,
        deserialize_string => Kind::String,
        deserialize_identifier => Kind::String,
        deserialize_bytes => Kind::Any,
        deserialize_byte_buf => Kind::Any,
        deserialize_unit => Kind::Any,
        deserialize_ignored_any => Kind::Any,
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        visitor.visit_some(self)
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _visitor: V,
    ) -> Result<V::Value, ProbeError> {
        self.leaf(Kind::Any)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ProbeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        self.seq(visitor)
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, ProbeError> {
        self.seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, ProbeError> {
        self.seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        self.map(None, visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ProbeError> {
        self.map(Some(fields), visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, ProbeError> {
        // Configuration enums are written as their variant's name.
        self.leaf(Kind::String)
    }
}

/// A list whose only element is probed further.
struct OneElement<'a>(Option<Probe<'a>>);

impl<'de> SeqAccess<'de> for OneElement<'_> {
    type Error = ProbeError;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, ProbeError> {
        match self.0.take() {
            Some(probe) => seed.deserialize(probe).map(Some),
            None => Ok(None),
        }
    }
}

/// A table whose only key is probed further.
struct OneEntry<'a> {
    key: Option<&'a str>,
    value: Option<Probe<'a>>,
}

impl<'de> MapAccess<'de> for OneEntry<'_> {
    type Error = ProbeError;

    fn next_key_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, ProbeError> {
        match self.key.take() {
            Some(key) => seed
                .deserialize(de::value::StrDeserializer::<ProbeError>::new(key))
                .map(Some),
            None => Ok(None),
        }
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<S::Value, ProbeError> {
        match self.value.take() {
            Some(probe) => seed.deserialize(probe),
            None => Err(de::Error::custom("no value")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
[server]
listen = "0.0.0.0:8443"
path = "/notifications"
tls_cert = "/etc/asnd/tls.pem"
tls_key = "/etc/asnd/tls.key"
tls = true
max_body_bytes = 262144
max_connections = 1024
handshake_timeout = "10s"
header_timeout = "10s"
body_timeout = "15s"
handler_timeout = "20s"
shutdown_grace = "20s"

[database]
url = "sqlite://asnd.db"
max_connections = 10
timeout = "5s"
migrate_on_start = true

[sources]
allow = ["17.0.0.0/8"]

[verify]
roots = []

[log]
format = "pretty"
level = "info"

[[apps]]
bundle_id = "com.example.app"
app_apple_id = 1234567890
environments = ["Production", "Sandbox"]
"#;

    fn no_env() -> Vec<(String, String)> {
        Vec::new()
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn parse_with(text: &str, pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_toml_str(text, env(pairs))
    }

    /// A certificate and its key, written as PEM files in a temporary folder.
    struct Tls {
        _dir: tempfile::TempDir,
        cert: PathBuf,
        key: PathBuf,
        other_key: PathBuf,
    }

    fn tls_files() -> Tls {
        let dir = tempfile::tempdir().unwrap();
        let one = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let two = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let cert = dir.path().join("tls.pem");
        let key = dir.path().join("tls.key");
        let other_key = dir.path().join("other.key");
        std::fs::write(&cert, one.cert.pem()).unwrap();
        std::fs::write(&key, one.key_pair.serialize_pem()).unwrap();
        std::fs::write(&other_key, two.key_pair.serialize_pem()).unwrap();
        Tls {
            _dir: dir,
            cert,
            key,
            other_key,
        }
    }

    /// The example with working certificate files: valid as it stands.
    fn valid(tls: &Tls) -> Config {
        let mut config = Config::from_toml_str(EXAMPLE, no_env()).unwrap();
        config.server.tls_cert = tls.cert.clone();
        config.server.tls_key = tls.key.clone();
        config
    }

    /// The single problem `validate` reports, as text.
    fn problem(config: &Config) -> String {
        let err = config.validate().expect_err("expected a validation error");
        assert_eq!(err.problems().len(), 1, "expected one problem, got: {err}");
        err.to_string()
    }

    #[test]
    fn defaults() {
        let config = Config::from_toml_str("", no_env()).unwrap();
        assert_eq!(config, Config::default());
        assert_eq!(config.server.listen, "0.0.0.0:8443".parse().unwrap());
        assert_eq!(config.server.path, "/notifications");
        assert!(config.server.tls);
        assert_eq!(config.server.tls_cert, PathBuf::from("/etc/asnd/tls.pem"));
        assert_eq!(config.server.tls_key, PathBuf::from("/etc/asnd/tls.key"));
        assert_eq!(config.server.max_body_bytes, 262_144);
        assert_eq!(config.server.max_connections, 1024);
        assert_eq!(config.server.handshake_timeout(), Duration::from_secs(10));
        assert_eq!(config.server.header_timeout(), Duration::from_secs(10));
        assert_eq!(config.server.body_timeout(), Duration::from_secs(15));
        assert_eq!(config.server.handler_timeout(), Duration::from_secs(20));
        assert_eq!(config.server.shutdown_grace(), Duration::from_secs(20));
        assert_eq!(config.database.url, "sqlite://asnd.db");
        assert_eq!(config.database.max_connections, 10);
        assert_eq!(config.database.timeout(), Duration::from_secs(5));
        assert!(config.database.migrate_on_start);
        assert_eq!(
            config.sources.allow,
            vec!["17.0.0.0/8".parse::<IpNet>().unwrap()]
        );
        assert!(config.verify.roots.is_empty());
        assert_eq!(
            config.log,
            LogConfig {
                format: "pretty".into(),
                level: "info".into()
            }
        );
        assert!(config.apps.is_empty());
    }

    #[test]
    fn app_defaults_to_both_environments() {
        let config = Config::from_toml_str(
            "[[apps]]\nbundle_id = \"a.b\"\napp_apple_id = 1\n",
            no_env(),
        )
        .unwrap();
        assert_eq!(config.apps[0].environments, vec!["Production", "Sandbox"]);
        assert!(config.apps[0].accepts("Sandbox"));
    }

    #[test]
    fn full_example_parses() {
        let config = Config::from_toml_str(EXAMPLE, no_env()).unwrap();
        assert_eq!(
            config.apps,
            vec![AppConfig {
                bundle_id: "com.example.app".into(),
                app_apple_id: Some(1_234_567_890),
                environments: vec!["Production".into(), "Sandbox".into()],
                ..AppConfig::default()
            }]
        );
        let expected = Config {
            apps: config.apps.clone(),
            ..Config::default()
        };
        assert_eq!(config, expected);
    }

    #[test]
    fn durations_are_humantime() {
        let config = Config::from_toml_str(
            "[server]\nbody_timeout = \"1m 30s\"\n[database]\ntimeout = \"250ms\"",
            no_env(),
        )
        .unwrap();
        assert_eq!(config.server.body_timeout(), Duration::from_secs(90));
        assert_eq!(config.database.timeout(), Duration::from_millis(250));
    }

    fn unknown(text: &str) -> (String, String, String) {
        match Config::from_toml_str(text, no_env()) {
            Err(ConfigError::UnknownKey {
                key,
                origin,
                expected,
            }) => (key, origin, expected),
            other => panic!("expected an unknown key, got {other:?}"),
        }
    }

    #[test]
    fn unknown_key_at_top_level() {
        let (key, origin, expected) = unknown("colour = \"blue\"\n");
        assert_eq!(key, "colour");
        assert_eq!(origin, "configuration, line 1, column 1");
        assert!(
            expected.contains("server") && expected.contains("apps"),
            "{expected}"
        );
    }

    #[test]
    fn unknown_key_in_a_section() {
        let (key, origin, expected) =
            unknown("[server]\nlisten = \"0.0.0.0:8443\"\nlisen = \"x\"\n");
        assert_eq!(key, "server.lisen");
        assert_eq!(origin, "configuration, line 3, column 1");
        assert!(
            expected.contains("listen") && expected.contains("max_body_bytes"),
            "{expected}"
        );
        let (key, _, _) = unknown("[databse]\nurl = \"sqlite://x\"\n");
        assert_eq!(key, "databse");
    }

    #[test]
    fn unknown_key_in_an_app() {
        let (key, origin, expected) = unknown(
            "[[apps]]\nbundle_id = \"a\"\n[[apps]]\nbundle_id = \"b\"\nenvironment = [\"Sandbox\"]\n",
        );
        assert_eq!(key, "apps[1].environment");
        assert_eq!(origin, "configuration, line 5, column 1");
        assert_eq!(
            expected,
            "bundle_id, app_apple_id, environments, v1_shared_secrets, api"
        );
        let err = Config::from_toml_str("[[apps]]\nbundel_id = \"a\"\n", no_env())
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("unknown key `apps[0].bundel_id` in configuration, line 2"),
            "{err}"
        );
    }

    #[test]
    fn wrong_type_names_the_line() {
        let err =
            Config::from_toml_str("[server]\n\nmax_body_bytes = \"big\"\n", no_env()).unwrap_err();
        assert!(matches!(err, ConfigError::Syntax { .. }), "{err:?}");
        let text = err.to_string();
        assert!(
            text.starts_with("configuration, line 3, column 18: invalid type"),
            "{text}"
        );
        assert!(!text.contains('\n'), "{text}");
        let err = Config::from_toml_str("[server\n", no_env())
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("configuration, line 1"), "{err}");
    }

    #[test]
    fn env_overrides_strings() {
        let config = parse_with(
            EXAMPLE,
            &[
                ("ASND_DATABASE__URL", "postgres://asnd:pw@db/asnd"),
                ("ASND_SERVER__LISTEN", "127.0.0.1:9443"),
                ("ASND_SERVER__PATH", "/apple"),
                ("ASND_DATABASE__TIMEOUT", "2s"),
                ("ASND_SERVER__TLS_CERT", "/run/cert.pem"),
            ],
        )
        .unwrap();
        assert_eq!(config.database.url, "postgres://asnd:pw@db/asnd");
        assert_eq!(config.server.listen, "127.0.0.1:9443".parse().unwrap());
        assert_eq!(config.server.path, "/apple");
        assert_eq!(config.database.timeout(), Duration::from_secs(2));
        assert_eq!(config.server.tls_cert, PathBuf::from("/run/cert.pem"));
    }

    #[test]
    fn env_text_keys_stay_text() {
        // "123", "true" and a date would parse as TOML values; text keys take them verbatim.
        let config = parse_with(
            EXAMPLE,
            &[
                ("ASND_APPS__0__BUNDLE_ID", "123"),
                ("ASND_LOG__LEVEL", "true"),
                ("ASND_DATABASE__URL", "1979-05-27"),
            ],
        )
        .unwrap();
        assert_eq!(config.apps[0].bundle_id, "123");
        assert_eq!(config.log.level, "true");
        assert_eq!(config.database.url, "1979-05-27");
    }

    #[test]
    fn env_overrides_numbers_and_booleans() {
        let config = parse_with(
            EXAMPLE,
            &[
                ("ASND_SERVER__MAX_BODY_BYTES", "1048576"),
                ("ASND_DATABASE__MIGRATE_ON_START", "false"),
                ("ASND_SERVER__TLS", "FALSE"),
                ("ASND_APPS__0__APP_APPLE_ID", "42"),
            ],
        )
        .unwrap();
        assert_eq!(config.server.max_body_bytes, 1_048_576);
        assert!(!config.database.migrate_on_start);
        assert!(!config.server.tls);
        assert_eq!(config.apps[0].app_apple_id, Some(42));
        let err = parse_with(EXAMPLE, &[("ASND_SERVER__MAX_BODY_BYTES", "1MiB")])
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "environment variable ASND_SERVER__MAX_BODY_BYTES: expected an integer for server.max_body_bytes"
        );
        let err = parse_with(EXAMPLE, &[("ASND_SERVER__TLS", "yes please")])
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("environment variable ASND_SERVER__TLS: expected true or false"),
            "{err}"
        );
    }

    #[test]
    fn env_overrides_arrays() {
        let allow = |raw: &str| {
            parse_with(EXAMPLE, &[("ASND_SOURCES__ALLOW", raw)])
                .unwrap()
                .sources
                .allow
        };
        let nets: Vec<IpNet> = vec!["17.0.0.0/8".parse().unwrap(), "10.0.0.0/8".parse().unwrap()];
        assert_eq!(allow(r#"["17.0.0.0/8","10.0.0.0/8"]"#), nets);
        assert_eq!(allow("17.0.0.0/8, 10.0.0.0/8"), nets);
        assert_eq!(allow(""), Vec::<IpNet>::new());
        let config = parse_with(EXAMPLE, &[("ASND_SOURCES__ALLOW__1", "10.0.0.0/8")]).unwrap();
        assert_eq!(config.sources.allow, nets);
        let config = parse_with(EXAMPLE, &[("ASND_APPS__0__ENVIRONMENTS", "Sandbox")]).unwrap();
        assert_eq!(config.apps[0].environments, vec!["Sandbox"]);
        let err = parse_with(EXAMPLE, &[("ASND_SOURCES__ALLOW", "[\"17.0.0.0/8\"")])
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("environment variable ASND_SOURCES__ALLOW: expected a TOML array"),
            "{err}"
        );
    }

    #[test]
    fn env_overrides_an_app_by_index() {
        let text = format!(
            "{EXAMPLE}\n[[apps]]\nbundle_id = \"com.example.two\"\nenvironments = [\"Sandbox\"]\n"
        );
        let config = parse_with(
            &text,
            &[
                ("ASND_APPS__1__BUNDLE_ID", "com.example.renamed"),
                ("asnd_apps__1__environments", "[\"Production\"]"),
            ],
        )
        .unwrap();
        assert_eq!(config.apps[0].bundle_id, "com.example.app");
        assert_eq!(config.apps[1].bundle_id, "com.example.renamed");
        assert_eq!(config.apps[1].environments, vec!["Production"]);
    }

    #[test]
    fn env_appends_apps() {
        let config = parse_with(
            EXAMPLE,
            &[
                ("ASND_APPS__2__BUNDLE_ID", "com.example.three"),
                ("ASND_APPS__1__BUNDLE_ID", "com.example.two"),
                ("ASND_APPS__1__ENVIRONMENTS", "Sandbox"),
                ("ASND_APPS__10__BUNDLE_ID", "x"),
            ],
        );
        // Index 10 skips entries: refused, naming the variable.
        let err = config.unwrap_err().to_string();
        assert!(
            err.starts_with(
                "environment variable ASND_APPS__10__BUNDLE_ID: index 10 is past the end of `apps`"
            ),
            "{err}"
        );
        let config = parse_with(
            EXAMPLE,
            &[
                ("ASND_APPS__2__BUNDLE_ID", "com.example.three"),
                ("ASND_APPS__1__BUNDLE_ID", "com.example.two"),
                ("ASND_APPS__1__ENVIRONMENTS", "Sandbox"),
            ],
        )
        .unwrap();
        let bundles: Vec<&str> = config.apps.iter().map(|a| a.bundle_id.as_str()).collect();
        assert_eq!(
            bundles,
            ["com.example.app", "com.example.two", "com.example.three"]
        );
        assert_eq!(config.apps[1].environments, vec!["Sandbox"]);
        assert_eq!(config.apps[2].environments, vec!["Production", "Sandbox"]);

        // Without any file at all, and a whole app as an inline table.
        let config = parse_with(
            "",
            &[
                ("ASND_APPS__0", "{ bundle_id = \"a.b\", app_apple_id = 7 }"),
                ("ASND_APPS__0__ENVIRONMENTS", "Sandbox"),
            ],
        )
        .unwrap();
        assert_eq!(
            config.apps,
            vec![AppConfig {
                bundle_id: "a.b".into(),
                app_apple_id: Some(7),
                environments: vec!["Sandbox".into()],
                ..AppConfig::default()
            }]
        );
    }

    #[test]
    fn env_unknown_keys_name_the_variable() {
        let err = parse_with(EXAMPLE, &[("ASND_SERVER__LISEN", "0.0.0.0:1")]).unwrap_err();
        match &err {
            ConfigError::UnknownKey { key, origin, .. } => {
                assert_eq!(key, "server.lisen");
                assert_eq!(origin, "environment variable ASND_SERVER__LISEN");
            }
            other => panic!("{other:?}"),
        }
        let err = parse_with(EXAMPLE, &[("ASND_NOPE__URL", "x")])
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("unknown key `nope` in environment variable ASND_NOPE__URL"),
            "{err}"
        );
        let err = parse_with(EXAMPLE, &[("ASND_APPS__0__SECRET", "x")])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`apps[0].secret`") && err.contains("ASND_APPS__0__SECRET"),
            "{err}"
        );
        let err = parse_with(EXAMPLE, &[("ASND_APPS__0", "{ bundle = \"x\" }")])
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("unknown key `apps[0].bundle` in environment variable ASND_APPS__0"),
            "{err}"
        );
        let err = parse_with(EXAMPLE, &[("ASND_SERVER__LISTEN__PORT", "1")])
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "environment variable ASND_SERVER__LISTEN__PORT: `server.listen` is text and has no keys"
        );
        let err = parse_with(EXAMPLE, &[("ASND_SERVER__0", "1")])
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "environment variable ASND_SERVER__0: `server` is a section and has no numbered entries"
        );
    }

    #[test]
    fn env_bad_values_name_the_variable() {
        let err = parse_with(
            EXAMPLE,
            &[
                ("ASND_DATABASE__URL", "x"),
                ("ASND_SERVER__LISTEN", "localhost"),
            ],
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("environment variable ASND_SERVER__LISTEN: "),
            "{err}"
        );
        let err = parse_with(EXAMPLE, &[("ASND_DATABASE__TIMEOUT", "soon")])
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("environment variable ASND_DATABASE__TIMEOUT: "),
            "{err}"
        );
        let err = parse_with(EXAMPLE, &[("ASND_SOURCES__ALLOW", "17.0.0.0/33")])
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("environment variable ASND_SOURCES__ALLOW: "),
            "{err}"
        );
    }

    #[test]
    fn env_override_can_mend_the_file() {
        let config = parse_with(
            "[server]\nlisten = \"nowhere\"\n",
            &[("ASND_SERVER__LISTEN", "127.0.0.1:8443")],
        )
        .unwrap();
        assert_eq!(config.server.listen, "127.0.0.1:8443".parse().unwrap());
        // A bad file value not mended is reported with its line.
        let err = parse_with(
            "[server]\nlisten = \"nowhere\"\n",
            &[("ASND_DATABASE__URL", "sqlite://x")],
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("configuration, line 2, column 10: "),
            "{err}"
        );
    }

    #[test]
    fn other_variables_are_ignored() {
        let config = parse_with(
            EXAMPLE,
            &[
                ("ASND_CONFIG", "/x.toml"),
                ("ASND_LOG", "debug"),
                ("PATH", "/bin"),
                ("RUST_LOG", "trace"),
                ("XASND_A__B", "1"),
            ],
        )
        .unwrap();
        assert_eq!(config, Config::from_toml_str(EXAMPLE, no_env()).unwrap());
    }

    #[test]
    fn env_malformed_names() {
        let err = parse_with(EXAMPLE, &[("ASND_SERVER____LISTEN", "x")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("empty level"), "{err}");
        let err = parse_with(
            EXAMPLE,
            &[
                ("ASND_SERVER__LISTEN", "0.0.0.0:1"),
                ("asnd_server__listen", "0.0.0.0:2"),
            ],
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("set it once"), "{err}");
    }

    #[test]
    fn probe_reads_the_types() {
        let key = |s: &str| Seg::Key(s.to_owned());
        assert_eq!(
            probe::<Config>(&[key("server"), key("listen")]),
            Probed::Found(Kind::String)
        );
        assert_eq!(
            probe::<Config>(&[key("server"), key("tls")]),
            Probed::Found(Kind::Bool)
        );
        assert_eq!(
            probe::<Config>(&[key("server"), key("max_body_bytes")]),
            Probed::Found(Kind::Integer)
        );
        assert_eq!(
            probe::<Config>(&[key("server"), key("body_timeout")]),
            Probed::Found(Kind::String)
        );
        assert_eq!(
            probe::<Config>(&[key("server")]),
            Probed::Found(Kind::Table)
        );
        assert_eq!(
            probe::<Config>(&[key("sources"), key("allow")]),
            Probed::Found(Kind::Array)
        );
        assert_eq!(
            probe::<Config>(&[key("sources"), key("allow"), Seg::Index(3)]),
            Probed::Found(Kind::String)
        );
        assert_eq!(
            probe::<Config>(&[key("verify"), key("roots"), Seg::Index(0)]),
            Probed::Found(Kind::String)
        );
        assert_eq!(
            probe::<Config>(&[key("apps"), Seg::Index(0)]),
            Probed::Found(Kind::Table)
        );
        assert_eq!(
            probe::<Config>(&[key("apps"), Seg::Index(0), key("app_apple_id")]),
            Probed::Found(Kind::Integer)
        );
        assert_eq!(
            probe::<Config>(&[key("apps"), Seg::Index(0), key("nope")]),
            Probed::UnknownKey {
                at: 2,
                expected: &[
                    "bundle_id",
                    "app_apple_id",
                    "environments",
                    "v1_shared_secrets",
                    "api"
                ]
            }
        );
    }

    #[test]
    fn probe_follows_optional_nested_tables() {
        // The shape later sections will have ([admin], [apps.api]): optional tables inside lists.
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Outer {
            admin: Option<Inner>,
            apps: Vec<App>,
        }
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct App {
            api: Option<Inner>,
        }
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Inner {
            #[serde(with = "humantime_serde")]
            interval: Duration,
            secrets: Vec<String>,
        }
        let key = |s: &str| Seg::Key(s.to_owned());
        assert_eq!(
            probe::<Outer>(&[key("admin"), key("interval")]),
            Probed::Found(Kind::String)
        );
        assert_eq!(
            probe::<Outer>(&[key("apps"), Seg::Index(1), key("api"), key("secrets")]),
            Probed::Found(Kind::Array)
        );
        assert_eq!(
            probe::<Outer>(&[key("apps"), Seg::Index(1), key("api"), key("key")]),
            Probed::UnknownKey {
                at: 3,
                expected: &["interval", "secrets"]
            }
        );
    }

    #[test]
    fn load_reads_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("asnd.toml");
        std::fs::write(&path, EXAMPLE).unwrap();
        let config = Config::load(Some(&path)).unwrap();
        assert_eq!(config.apps[0].bundle_id, "com.example.app");
        std::fs::write(&path, "[server]\nbogus = 1\n").unwrap();
        let err = Config::load(Some(&path)).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!(
                "unknown key `server.bogus` in {}, line 2",
                path.display()
            )),
            "{err}"
        );
        let missing = dir.path().join("missing.toml");
        assert!(matches!(
            Config::load(Some(&missing)),
            Err(ConfigError::Read { .. })
        ));
    }

    #[test]
    fn valid_config_passes() {
        let tls = tls_files();
        valid(&tls).validate().unwrap();
        let cert = load_tls_certified_key(&tls.cert, &tls.key).unwrap();
        assert_eq!(cert.cert.len(), 1);
    }

    #[test]
    fn port_must_be_usable_by_apple() {
        let tls = tls_files();
        let mut config = valid(&tls);
        config.server.listen = "0.0.0.0:80".parse().unwrap();
        let err = problem(&config);
        assert!(
            err.starts_with("server.listen: port 80 cannot receive notifications"),
            "{err}"
        );
        assert!(err.contains("443") && err.contains("1024"), "{err}");
        config.server.listen = "[::]:1023".parse().unwrap();
        problem(&config);
        for ok in ["0.0.0.0:443", "0.0.0.0:8443", "0.0.0.0:1024", "127.0.0.1:0"] {
            config.server.listen = ok.parse().unwrap();
            config.validate().unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
    }

    #[test]
    fn at_least_one_app() {
        let tls = tls_files();
        let mut config = valid(&tls);
        config.apps.clear();
        assert!(problem(&config).starts_with("apps: no app configured"));
    }

    #[test]
    fn production_needs_app_apple_id() {
        let tls = tls_files();
        let mut config = valid(&tls);
        config.apps[0].app_apple_id = None;
        let err = problem(&config);
        assert!(
            err.starts_with("apps[0].app_apple_id: required for \"com.example.app\""),
            "{err}"
        );
        config.apps[0].environments = vec!["Sandbox".into()];
        config.validate().unwrap();
    }

    #[test]
    fn environments_must_be_known() {
        let tls = tls_files();
        let mut config = valid(&tls);
        config.apps[0].environments = vec!["Production".into(), "PROD".into()];
        assert_eq!(
            problem(&config),
            "apps[0].environments: \"PROD\" is not an environment; use \"Production\" or \"Sandbox\""
        );
        config.apps[0].environments.clear();
        assert!(problem(&config).starts_with("apps[0].environments: must list"));
    }

    #[test]
    fn bundle_ids_are_present_and_unique() {
        let tls = tls_files();
        let mut config = valid(&tls);
        config.apps.push(config.apps[0].clone());
        assert_eq!(
            problem(&config),
            "apps[1].bundle_id: \"com.example.app\" is already configured in apps[0]"
        );
        config.apps[1].bundle_id = " ".into();
        assert_eq!(problem(&config), "apps[1].bundle_id: must not be empty");
    }

    #[test]
    fn other_limits() {
        let tls = tls_files();
        let mut config = valid(&tls);
        config.server.max_body_bytes = 100;
        assert!(problem(&config).starts_with("server.max_body_bytes: 100 is out of range"));
        config.server.max_body_bytes = MAX_BODY_BYTES + 1;
        problem(&config);
        config.server.max_body_bytes = MAX_BODY_BYTES;
        config.validate().unwrap();

        let mut config = valid(&tls);
        config.server.path = "notifications".into();
        assert_eq!(
            problem(&config),
            "server.path: \"notifications\" must start with '/'"
        );

        let mut config = valid(&tls);
        config.sources.allow.clear();
        assert!(problem(&config).starts_with("sources.allow: must list at least one network"));

        let mut config = valid(&tls);
        config.log.format = "xml".into();
        assert!(problem(&config).starts_with("log.format: \"xml\" is not a format"));

        let mut config = valid(&tls);
        config.database.url = "mysql://root:hunter2@db/x".into();
        let err = problem(&config);
        assert!(
            err.starts_with("database.url: `mysql://root:***@db/x` is not a database URL"),
            "{err}"
        );
        assert!(!err.contains("hunter2"));

        let mut config = valid(&tls);
        config.database.timeout = Duration::ZERO;
        assert!(problem(&config).starts_with("database.timeout: must be longer than zero"));
    }

    #[test]
    fn absurd_sizes_and_durations_are_refused() {
        let tls = tls_files();
        let mut config = valid(&tls);
        config.server.max_connections = 4_611_686_018_427_387_904;
        assert!(problem(&config).starts_with("server.max_connections: must be between 1 and"));
        let mut config = valid(&tls);
        config.server.header_timeout = Duration::from_secs(300_000_000_000 * 31_557_600);
        assert_eq!(
            problem(&config),
            "server.header_timeout: must be at most 1h"
        );
        let mut config = valid(&tls);
        config.database.timeout = Duration::from_secs(7200);
        assert!(problem(&config).starts_with("database.timeout:"));
    }

    #[test]
    fn several_problems_are_listed_one_per_line() {
        let mut config = Config::default();
        config.server.tls = false;
        config.server.path = "x".into();
        let err = config.validate().unwrap_err();
        assert_eq!(err.problems().len(), 2, "{err}");
        assert_eq!(err.to_string().lines().count(), 2, "{err}");
    }

    #[test]
    fn unreadable_certificate() {
        let tls = tls_files();
        let mut config = valid(&tls);
        let missing = tls.cert.with_file_name("missing.pem");
        config.server.tls_cert = missing.clone();
        let err = problem(&config);
        assert!(
            err.starts_with(&format!(
                "server.tls_cert ({}): cannot read: ",
                missing.display()
            )),
            "{err}"
        );
        // Not a certificate: the key file in its place.
        config.server.tls_cert = tls.key.clone();
        assert!(
            problem(&config).ends_with("holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
        );
        // Not a key: the certificate in its place.
        config.server.tls_cert = tls.cert.clone();
        config.server.tls_key = tls.cert.clone();
        let err = problem(&config);
        assert!(
            err.starts_with("server.tls_key (") && err.contains("holds no PEM private key"),
            "{err}"
        );
    }

    #[test]
    fn mismatched_certificate_and_key() {
        let tls = tls_files();
        let mut config = valid(&tls);
        config.server.tls_key = tls.other_key.clone();
        let err = config.validate().unwrap_err();
        assert!(matches!(err, ConfigError::KeyMismatch { .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            format!(
                "server.tls_key ({}) does not belong to the certificate in server.tls_cert ({})",
                tls.other_key.display(),
                tls.cert.display()
            )
        );
        assert!(matches!(
            load_tls_certified_key(&tls.cert, &tls.other_key),
            Err(ConfigError::KeyMismatch { .. })
        ));
    }

    #[test]
    fn plain_http_needs_no_certificate() {
        let tls = tls_files();
        let mut config = valid(&tls);
        config.server.tls_cert = PathBuf::from("/nonexistent/cert.pem");
        problem(&config);
        config.server.tls = false;
        config.validate().unwrap();
    }

    #[test]
    fn roots_must_be_readable() {
        let tls = tls_files();
        let mut config = valid(&tls);
        config.verify.roots = vec![tls.cert.clone(), PathBuf::from("/nonexistent/root.cer")];
        assert!(
            problem(&config).starts_with("verify.roots[1] (/nonexistent/root.cer): cannot read: ")
        );
    }

    #[test]
    fn builtin_apple_root_needs_no_file() {
        let tls = tls_files();
        let mut config = valid(&tls);
        config.verify.roots = vec![PathBuf::from(BUILTIN_APPLE_ROOT), tls.cert.clone()];
        config.validate().unwrap();
        config.verify.roots = vec![PathBuf::from("builtin:apple-root-ca-g2")];
        assert_eq!(
            problem(&config),
            "verify.roots[0]: \"builtin:apple-root-ca-g2\" is not a built-in root; the only one is \"builtin:apple-root-ca-g3\""
        );
        // Also from the environment, beside a file.
        let config = parse_with(
            EXAMPLE,
            &[(
                "ASND_VERIFY__ROOTS",
                "builtin:apple-root-ca-g3,asnd-dev/ca/root.pem",
            )],
        )
        .unwrap();
        assert_eq!(
            RootEntry::parse(&config.verify.roots[0]),
            Ok(RootEntry::BuiltinApple)
        );
        assert_eq!(
            RootEntry::parse(&config.verify.roots[1]),
            Ok(RootEntry::File(Path::new("asnd-dev/ca/root.pem")))
        );
    }

    #[test]
    fn debug_redacts_the_database_password() {
        let config = parse_with(
            EXAMPLE,
            &[(
                "ASND_DATABASE__URL",
                "postgres://asnd:s3cr%40t@db.internal:5432/asnd",
            )],
        )
        .unwrap();
        let debug = format!("{config:?}");
        assert!(!debug.contains("s3cr"), "{debug}");
        assert!(
            debug.contains("postgres://asnd:***@db.internal:5432/asnd"),
            "{debug}"
        );
        let pretty = format!("{config:#?}");
        assert!(!pretty.contains("s3cr"), "{pretty}");
    }

    #[test]
    fn v1_secrets_from_the_file_and_the_environment() {
        let file = EXAMPLE.replace(
            "environments = [\"Production\", \"Sandbox\"]",
            "environments = [\"Production\", \"Sandbox\"]\nv1_shared_secrets = [\"filesecret1\"]",
        );
        let config = Config::from_toml_str(&file, no_env()).unwrap();
        assert_eq!(config.apps[0].v1_shared_secrets, vec!["filesecret1"]);
        // The environment replaces the file's list; a comma separates secrets.
        let config = parse_with(
            &file,
            &[("ASND_APPS__0__V1_SHARED_SECRETS", "envsecret1, envsecret2")],
        )
        .unwrap();
        assert_eq!(
            config.apps[0].v1_shared_secrets,
            vec!["envsecret1", "envsecret2"]
        );
        let config = parse_with(
            EXAMPLE,
            &[("ASND_APPS__0__V1_SHARED_SECRETS", "[\"a\", \"b\"]")],
        )
        .unwrap();
        assert_eq!(config.apps[0].v1_shared_secrets, vec!["a", "b"]);
        assert!(
            Config::from_toml_str(EXAMPLE, no_env()).unwrap().apps[0]
                .v1_shared_secrets
                .is_empty()
        );
    }

    #[test]
    fn debug_redacts_the_v1_secrets() {
        let config = parse_with(
            EXAMPLE,
            &[("ASND_APPS__0__V1_SHARED_SECRETS", "s3cretOne,s3cretTwo")],
        )
        .unwrap();
        for debug in [format!("{config:?}"), format!("{config:#?}")] {
            assert!(!debug.contains("s3cret"), "{debug}");
            assert!(debug.contains("<2 redacted>"), "{debug}");
            assert!(debug.contains("com.example.app"), "{debug}");
        }
    }

    #[test]
    fn v1_secret_errors_never_show_the_value() {
        let tls = tls_files();
        let mut config = valid(&tls);
        config.apps[0].v1_shared_secrets = vec!["good".into(), String::new(), "s3cret \n".into()];
        let err = config.validate().unwrap_err();
        let text = err.to_string();
        assert_eq!(err.problems().len(), 2, "{text}");
        assert!(
            text.contains("apps[0].v1_shared_secrets[1]: must not be empty"),
            "{text}"
        );
        assert!(
            text.contains("apps[0].v1_shared_secrets[2]: contains a space or line break"),
            "{text}"
        );
        assert!(!text.contains("s3cret"), "{text}");
        // Wrong types in the file: serde would quote the value, these messages do not.
        for wrong in [
            "v1_shared_secrets = \"s3cret\"",
            "v1_shared_secrets = [\"ok\", 12345678]",
            "v1_shared_secrets = [true]",
        ] {
            let file = format!("{EXAMPLE}{wrong}\n");
            let err = Config::from_toml_str(&file, no_env())
                .unwrap_err()
                .to_string();
            assert!(err.contains("value not shown"), "{wrong}: {err}");
            assert!(
                !err.contains("s3cret") && !err.contains("12345678"),
                "{wrong}: {err}"
            );
        }
        let err = parse_with(
            EXAMPLE,
            &[("ASND_APPS__0__V1_SHARED_SECRETS", "[12345678]")],
        )
        .unwrap_err()
        .to_string();
        assert!(!err.contains("12345678"), "{err}");
    }

    #[test]
    fn redaction() {
        for (url, redacted) in [
            ("sqlite://asnd.db", "sqlite://asnd.db"),
            (
                "sqlite:///var/lib/a@b:c/asnd.db",
                "sqlite:///var/lib/a@b:c/asnd.db",
            ),
            ("postgres://asnd@db/asnd", "postgres://asnd@db/asnd"),
            ("postgres://asnd:pw@db/asnd", "postgres://asnd:***@db/asnd"),
            (
                "postgres://asnd:p@ss/w:rd@db/asnd?sslmode=require",
                "postgres://asnd:***@db/asnd?sslmode=require",
            ),
            (
                "postgres://db/asnd?user=a&password=pw&sslmode=require",
                "postgres://db/asnd?user=a&password=***&sslmode=require",
            ),
            ("postgres://:pw@db", "postgres://:***@db"),
            ("not a url", "not a url"),
            (
                "host=db password=secret user=x",
                "host=db password=*** user=x",
            ),
            ("postgres://u:pa#ss?w@db/x", "postgres://u:***@db/x"),
            (
                "postgres://db/x?user=a@b&Password=pw",
                "postgres://db/x?user=a@b&Password=***",
            ),
        ] {
            assert_eq!(crate::store::redact_url(url), redacted, "{url}");
        }
    }
}

#[cfg(test)]
mod api_tests {
    use super::*;

    fn key_pem() -> String {
        rcgen::KeyPair::generate().unwrap().serialize_pem()
    }

    fn ca_file(dir: &Path) -> PathBuf {
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let path = dir.join("ca.pem");
        std::fs::write(&path, cert.cert.pem()).unwrap();
        path
    }

    fn problems_of(api: &ApiConfig) -> Vec<String> {
        let mut problems = Vec::new();
        api.check("apps[0].api", &mut problems);
        problems.iter().map(ToString::to_string).collect()
    }

    const APP: &str = "[[apps]]\nbundle_id = \"com.example.app\"\napp_apple_id = 1\n";

    #[test]
    fn api_section_and_reconcile_parse_with_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("AuthKey_ABC123.p8");
        std::fs::write(&key, key_pem()).unwrap();
        let text = format!(
            "{APP}[apps.api]\nkey_id = \"ABC123\"\nissuer_id = \"57246542-96fe-1a63-e053-0824d011072a\"\n\
             private_key_path = \"{}\"\n[reconcile]\nenabled = true\n",
            key.display()
        );
        let config = Config::from_toml_str(&text, Vec::<(String, String)>::new()).unwrap();
        let api = config.apps[0].api.as_ref().unwrap();
        assert_eq!(api.key_id, "ABC123");
        assert_eq!(api.production_url, "https://api.storekit.apple.com");
        assert_eq!(api.sandbox_url, "https://api.storekit-sandbox.apple.com");
        assert_eq!(api.ca_file, PathBuf::from(SYSTEM_CA_FILE));
        assert_eq!(api.timeout, Duration::from_secs(30));
        assert!(config.reconcile.enabled);
        assert_eq!(config.reconcile.interval, Duration::from_secs(3600));
        assert_eq!(config.reconcile.lookback, Duration::from_secs(72 * 3600));
        api.load_private_key("apps[0].api").unwrap();
        // Off by default, and no app needs an api section.
        let plain = Config::from_toml_str(APP, Vec::<(String, String)>::new()).unwrap();
        assert!(!plain.reconcile.enabled && plain.apps[0].api.is_none());
    }

    #[test]
    fn the_key_can_come_from_the_environment() {
        let pem = key_pem();
        // As a shell or an orchestrator often passes it: on one line, newlines escaped.
        let escaped = pem.trim().replace('\n', "\\n");
        let config = Config::from_toml_str(
            APP,
            vec![
                ("ASND_APPS__0__API__KEY_ID".to_owned(), "ABC123".to_owned()),
                ("ASND_APPS__0__API__ISSUER_ID".to_owned(), "iss".to_owned()),
                ("ASND_APPS__0__API__PRIVATE_KEY".to_owned(), escaped),
                ("ASND_RECONCILE__LOOKBACK".to_owned(), "96h".to_owned()),
            ],
        )
        .unwrap();
        let api = config.apps[0].api.as_ref().unwrap();
        assert_eq!(api.key_id, "ABC123");
        let from_env = api.load_private_key("apps[0].api").unwrap();
        assert_eq!(config.reconcile.lookback, Duration::from_secs(96 * 3600));
        // Real newlines and bare base64 work too, and all three give the same key.
        let mut api = api.clone();
        api.private_key = Some(pem.clone());
        assert_eq!(api.load_private_key("k").unwrap(), from_env);
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        api.private_key = Some(body);
        assert_eq!(api.load_private_key("k").unwrap(), from_env);
        // An unknown key under [apps.api] is refused, from the file or the environment.
        let err = Config::from_toml_str(
            APP,
            vec![("ASND_APPS__0__API__KEY".to_owned(), "x".to_owned())],
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("apps[0].api.key"), "{err}");
    }

    #[test]
    fn debug_never_shows_the_private_key() {
        let pem = key_pem();
        let secret_line = pem.lines().nth(1).unwrap().to_owned();
        let config = Config::from_toml_str(
            &format!("{APP}[apps.api]\nkey_id = \"K\"\nissuer_id = \"I\"\n"),
            vec![("ASND_APPS__0__API__PRIVATE_KEY".to_owned(), pem.clone())],
        )
        .unwrap();
        for debug in [format!("{config:?}"), format!("{config:#?}")] {
            assert!(!debug.contains(&secret_line), "{debug}");
            assert!(debug.contains("<redacted>"), "{debug}");
        }
        let key = config.apps[0]
            .api
            .as_ref()
            .unwrap()
            .load_private_key("k")
            .unwrap();
        assert_eq!(format!("{key:?}"), "ApiPrivateKey(<redacted>)");
    }

    #[test]
    fn bad_api_sections_are_reported_without_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let ca = ca_file(dir.path());
        let good = ApiConfig {
            key_id: "ABC123".into(),
            issuer_id: "issuer".into(),
            private_key: Some(key_pem()),
            ca_file: ca.clone(),
            ..ApiConfig::default()
        };
        assert!(problems_of(&good).is_empty(), "{:?}", problems_of(&good));

        let mut api = good.clone();
        api.key_id = String::new();
        api.issuer_id = "a b".into();
        let p = problems_of(&api);
        assert!(p[0].starts_with("apps[0].api.key_id: missing"), "{p:?}");
        assert!(
            p[1].starts_with("apps[0].api.issuer_id: \"a b\" contains spaces"),
            "{p:?}"
        );

        let mut api = good.clone();
        api.private_key_path = Some(dir.path().join("k.p8"));
        assert_eq!(
            problems_of(&api),
            ["apps[0].api.private_key: set private_key_path or private_key, not both"]
        );
        api.private_key = None;
        let p = problems_of(&api);
        assert!(
            p[0].starts_with("apps[0].api.private_key_path (") && p[0].contains("cannot read"),
            "{p:?}"
        );
        api.private_key_path = None;
        assert!(problems_of(&api)[0].starts_with("apps[0].api.private_key_path: missing"));

        // Not a key, a key of the wrong kind: the message never repeats what was given.
        let secret = "c2VjcmV0LXNlY3JldC1zZWNyZXQ=";
        for (text, expected) in [
            ("not a key at all!", "neither PEM"),
            (secret, "not an EC P-256 private key"),
            (
                "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----",
                "not an EC P-256",
            ),
            (
                "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
                "holds no PEM private key",
            ),
        ] {
            let mut api = good.clone();
            api.private_key = Some(text.into());
            let p = problems_of(&api);
            assert_eq!(p.len(), 1, "{p:?}");
            assert!(
                p[0].starts_with("apps[0].api.private_key: ") && p[0].contains(expected),
                "{p:?}"
            );
            assert!(!p[0].contains(secret) && !p[0].contains("AAAA"), "{p:?}");
        }
        let p384 = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
        let mut api = good.clone();
        api.private_key = Some(p384.serialize_pem());
        assert!(
            problems_of(&api)[0].contains("not an EC P-256"),
            "a P-384 key is refused"
        );

        let mut api = good.clone();
        api.production_url = "http://api.storekit.apple.com".into();
        api.sandbox_url = "https://".into();
        let p = problems_of(&api);
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(
            p[0].starts_with("apps[0].api.production_url: \"http://"),
            "{p:?}"
        );

        let mut api = good.clone();
        api.ca_file = dir.path().join("missing.pem");
        api.timeout = Duration::ZERO;
        let p = problems_of(&api);
        assert!(
            p[0].starts_with("apps[0].api.ca_file (") && p[0].contains("cannot read"),
            "{p:?}"
        );
        assert!(
            p[1].starts_with("apps[0].api.timeout: must be longer than zero"),
            "{p:?}"
        );

        let mut api = good.clone();
        let not_a_cert = dir.path().join("x.pem");
        std::fs::write(
            &not_a_cert,
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        api.extra_roots = vec![ca.clone(), not_a_cert];
        let p = problems_of(&api);
        assert!(p[0].starts_with("apps[0].api.extra_roots[1] ("), "{p:?}");
        api.extra_roots.pop();
        assert_eq!(api.load_roots("k").unwrap().len(), 2);
    }

    #[test]
    fn reconcile_is_checked() {
        let check = |r: &ReconcileConfig, apps: &[AppConfig]| {
            let mut problems = Vec::new();
            r.check(apps, &mut problems);
            problems.iter().map(ToString::to_string).collect::<Vec<_>>()
        };
        let app = AppConfig {
            bundle_id: "a".into(),
            ..AppConfig::default()
        };
        let with_api = AppConfig {
            api: Some(ApiConfig::default()),
            ..app.clone()
        };
        let mut r = ReconcileConfig::default();
        assert!(
            check(&r, std::slice::from_ref(&app)).is_empty(),
            "off: nothing needed"
        );
        r.enabled = true;
        assert!(
            check(&r, std::slice::from_ref(&app))[0]
                .starts_with("reconcile.enabled: no app has an [apps.api] section")
        );
        assert!(check(&r, &[app.clone(), with_api.clone()]).is_empty());
        r.interval = Duration::ZERO;
        r.lookback = MAX_LOOKBACK + Duration::from_secs(1);
        let p = check(&r, &[with_api]);
        assert!(
            p[0].starts_with("reconcile.interval: ") && p[1].starts_with("reconcile.lookback: "),
            "{p:?}"
        );
    }
}
