//! What the configuration's unit tests share: an example file, overrides, certificate files.

use std::path::PathBuf;

use super::{Config, ConfigError};

pub(crate) const EXAMPLE: &str = r#"
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

pub(crate) fn no_env() -> Vec<(String, String)> {
    Vec::new()
}

pub(crate) fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// The message of the error that reading `text` (without overrides) gives.
pub(crate) fn read_error(text: &str) -> String {
    Config::from_toml_str(text, no_env())
        .unwrap_err()
        .to_string()
}

pub(crate) fn parse_with(text: &str, pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    Config::from_toml_str(text, env(pairs))
}

/// A certificate and its key, written as PEM files in a temporary folder.
pub(crate) struct Tls {
    pub(crate) _dir: tempfile::TempDir,
    pub(crate) cert: PathBuf,
    pub(crate) key: PathBuf,
    pub(crate) other_key: PathBuf,
}

pub(crate) fn tls_files() -> Tls {
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
pub(crate) fn valid(tls: &Tls) -> Config {
    let mut config = Config::from_toml_str(EXAMPLE, no_env()).unwrap();
    config.server.tls_cert = tls.cert.clone();
    config.server.tls_key = tls.key.clone();
    config
}

/// The single problem `validate` reports, as text.
pub(crate) fn problem(config: &Config) -> String {
    let err = config.validate().expect_err("expected a validation error");
    assert_eq!(err.problems().len(), 1, "expected one problem, got: {err}");
    err.to_string()
}

pub(crate) fn key_pem() -> String {
    rcgen::KeyPair::generate().unwrap().serialize_pem()
}
