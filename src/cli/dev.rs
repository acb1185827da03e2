//! `asnd serve --dev`: a working local setup with nothing to install. Creates `./asnd-dev/` once
//! (a self-signed certificate for localhost, an SQLite database, a config that allows loopback
//! sources) and reuses it afterwards.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

pub const DEV_DIR: &str = "asnd-dev";

const DEV_CONFIG: &str = r#"# Written by `asnd serve --dev` for local development. Edit freely; delete the folder to start over.
# Only Apple Root CA - G3 is trusted (verify.roots is empty), so only genuine Apple data verifies.

[server]
listen = "127.0.0.1:8443"
path = "/notifications"
tls_cert = "asnd-dev/tls.pem"
tls_key = "asnd-dev/tls.key"

[database]
url = "sqlite://asnd-dev/asnd.db"

[sources]
# Loopback only: this is a development server.
allow = ["127.0.0.0/8", "::1/128"]

[verify]
roots = []

[[apps]]
bundle_id = "com.example.app"
app_apple_id = 1234567890
environments = ["Production", "Sandbox"]
"#;

/// Creates what is missing under `dir` and returns the config file's path.
pub fn prepare(dir: &Path) -> anyhow::Result<PathBuf> {
    fs::create_dir_all(dir)?;
    let cert = dir.join("tls.pem");
    let key = dir.join("tls.key");
    if !cert.exists() || !key.exists() {
        let names = vec![
            "localhost".to_string(),
            "127.0.0.1".to_string(),
            "::1".to_string(),
        ];
        let generated = rcgen::generate_simple_self_signed(names)?;
        fs::write(&cert, generated.cert.pem())?;
        write_private(&key, generated.key_pair.serialize_pem().as_bytes())?;
    }
    let config = dir.join("asnd.toml");
    if !config.exists() {
        fs::write(&config, DEV_CONFIG)?;
    }
    Ok(config)
}

/// Writes a key readable by its owner only.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)
}

pub fn banner(url: &str) -> String {
    format!(
        "\nasnd development server\n\
         \x20 notifications: {url}\n\
         \x20 database:      {DEV_DIR}/asnd.db (SQLite)\n\
         \x20 config:        {DEV_DIR}/asnd.toml   certificate: {DEV_DIR}/tls.pem\n\n\
         Try, in another terminal:\n\
         \x20 curl --cacert {DEV_DIR}/tls.pem https://localhost:8443/healthz\n\
         \x20 curl --cacert {DEV_DIR}/tls.pem -d '{{\"signedPayload\":\"x.y.z\"}}' {url}   # 400, quarantined\n\
         \x20 sqlite3 {DEV_DIR}/asnd.db 'select received_at, reason from rejected_notifications'\n\
         Stop with Ctrl-C.\n"
    )
}
