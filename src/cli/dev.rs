//! `asnd serve --dev`: a working local setup with nothing to install. Creates `./asnd-dev/` once
//! (a self-signed certificate for localhost, an SQLite database, a development CA for
//! `asnd simulate`, a config that allows loopback sources and trusts that CA beside Apple's root)
//! and reuses it afterwards.

use std::fs;
use std::path::{Path, PathBuf};

pub const DEV_DIR: &str = "asnd-dev";

/// The development CA, under the dev folder.
pub const DEV_CA_DIR: &str = "ca";

/// The configuration `serve --dev` writes: `config/dev.toml`, the repository's one copy of it. Its
/// paths are relative to the folder holding the dev folder, where `serve --dev` runs.
const DEV_CONFIG: &str = include_str!("../../config/dev.toml");

/// SHA-256 of what earlier versions wrote (Apple's root only, `verify.roots = []`); a file with
/// exactly that content was never edited and is replaced. The digest, rather than the old text,
/// is kept: it only has to recognise it.
const DEV_CONFIG_BEFORE_CA_SHA256: &str =
    "b1b19988f9228d7b588494ae3016d1e7dc2a219c01a812f688d319c97a0f687d";

fn is_unedited_before_ca(text: &str) -> bool {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text.as_bytes());
    crate::apple::roots::hex(digest.as_ref()) == DEV_CONFIG_BEFORE_CA_SHA256
}

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
    let unedited_old = fs::read_to_string(&config).is_ok_and(|text| is_unedited_before_ca(&text));
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
