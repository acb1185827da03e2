//! `asnd serve --dev`: a working local setup with nothing to install. Creates `./asnd-dev/` once
//! (a self-signed certificate for localhost, an SQLite database, a development CA for
//! `asnd simulate`, a config that allows loopback sources and trusts that CA beside Apple's root)
//! and reuses it afterwards.

use std::fs;
use std::path::{Path, PathBuf};

pub const DEV_DIR: &str = "asnd-dev";

/// The development CA, under the dev folder.
pub const DEV_CA_DIR: &str = "ca";

const DEV_CONFIG: &str = r#"# Written by `asnd serve --dev` for local development. Edit freely; delete the folder to start over.
# Trusted roots: Apple Root CA - G3 (genuine Apple data, verified_by = apple-root-ca-g3) and the
# development CA in asnd-dev/ca/ that `asnd simulate --dev` signs with (verified_by = sha256:...).

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
roots = ["builtin:apple-root-ca-g3", "asnd-dev/ca/root.pem"]

[[apps]]
bundle_id = "com.example.app"
app_apple_id = 1234567890
environments = ["Production", "Sandbox"]
"#;

/// What earlier versions wrote (Apple's root only); replaced when found unedited.
const DEV_CONFIG_BEFORE_CA: &str = r#"# Written by `asnd serve --dev` for local development. Edit freely; delete the folder to start over.
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
        crate::devca::write_private(&key, generated.key_pair.serialize_pem().as_bytes())?;
    }
    crate::devca::ensure(&dir.join(DEV_CA_DIR))?;
    let config = dir.join("asnd.toml");
    let unedited_old = fs::read_to_string(&config).is_ok_and(|text| text == DEV_CONFIG_BEFORE_CA);
    if !config.exists() || unedited_old {
        fs::write(&config, DEV_CONFIG)?;
    }
    Ok(config)
}

pub fn banner(url: &str) -> String {
    format!(
        "\nasnd development server\n\
         \x20 notifications: {url}\n\
         \x20 database:      {DEV_DIR}/asnd.db (SQLite)\n\
         \x20 config:        {DEV_DIR}/asnd.toml   certificate: {DEV_DIR}/tls.pem\n\
         \x20 trusts:        Apple Root CA - G3 and the development CA in {DEV_DIR}/{DEV_CA_DIR}/\n\n\
         Try, in another terminal:\n\
         \x20 asnd simulate --dev --scenario lifecycle\n\
         \x20 sqlite3 {DEV_DIR}/asnd.db 'select signed_date, notification_type, subtype from notifications'\n\
         \x20 curl --cacert {DEV_DIR}/tls.pem -d '{{\"signedPayload\":\"x.y.z\"}}' {url}   # 400, quarantined\n\
         Stop with Ctrl-C.\n"
    )
}
