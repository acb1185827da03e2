//! The development CA on disk: a [`DevChain`] (Apple-shaped, never Apple's) saved as PEM files and
//! loaded back. `asnd dev-ca --out DIR` writes one, `asnd serve --dev` keeps one in
//! `asnd-dev/ca/`, and `asnd simulate` signs with it. The chain itself is built in
//! `apple::devchain`, which stays free of I/O; the files are this module's business.
//!
//! A folder holds `root.pem`, `intermediate.pem`, `leaf.pem` (certificates), `leaf.key` (the leaf's
//! PKCS#8 private key, mode 0600) and `README.txt`.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::json;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::apple::devchain::{ChainSpec, DevChain};
use crate::apple::models::TransactionInfo;
use crate::apple::{At, Policy, RootSet, TrustAnchor, Verifier};

pub const ROOT_FILE: &str = "root.pem";
pub const INTERMEDIATE_FILE: &str = "intermediate.pem";
pub const LEAF_FILE: &str = "leaf.pem";
pub const KEY_FILE: &str = "leaf.key";
pub const README_FILE: &str = "README.txt";

#[derive(Debug, thiserror::Error)]
pub enum DevCaError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
    #[error(
        "{} already holds a development CA; use another folder, or remove it first",
        .0.display()
    )]
    Exists(PathBuf),
    #[error("cannot generate the development chain: {0}")]
    Generate(String),
    #[error(
        "the development CA in {} does not sign verifiable data: {message}",
        dir.display()
    )]
    SelfTest { dir: PathBuf, message: String },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DevCaError + '_ {
    move |source| DevCaError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Whether `dir` holds a development CA (its root certificate, at least).
pub fn exists(dir: &Path) -> bool {
    dir.join(ROOT_FILE).exists()
}

/// Generates a new chain (the default [`ChainSpec`]) and saves it into `dir`, which must not hold
/// one already.
pub fn generate(dir: &Path) -> Result<DevChain, DevCaError> {
    if exists(dir) {
        return Err(DevCaError::Exists(dir.to_path_buf()));
    }
    let chain = DevChain::generate(&ChainSpec::default())
        .map_err(|e| DevCaError::Generate(e.to_string()))?;
    save(&chain, dir)?;
    Ok(chain)
}

/// Loads the CA in `dir`, or generates one there when there is none. `true` when generated.
pub fn ensure(dir: &Path) -> Result<(DevChain, bool), DevCaError> {
    if exists(dir) {
        Ok((load(dir)?, false))
    } else {
        Ok((generate(dir)?, true))
    }
}

/// Writes the chain into `dir` (created with mode 0700 when missing), replacing any files of the
/// same names. The key is written with mode 0600.
pub fn save(chain: &DevChain, dir: &Path) -> Result<(), DevCaError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io(dir))?;
    let write = |name: &str, text: String| {
        let path = dir.join(name);
        fs::write(&path, text).map_err(io(&path))
    };
    write(ROOT_FILE, pem("CERTIFICATE", &chain.root_der))?;
    write(
        INTERMEDIATE_FILE,
        pem("CERTIFICATE", &chain.intermediate_der),
    )?;
    write(LEAF_FILE, pem("CERTIFICATE", &chain.leaf_der))?;
    let key = dir.join(KEY_FILE);
    write_private(&key, pem("PRIVATE KEY", &chain.leaf_key_pkcs8).as_bytes()).map_err(io(&key))?;
    let label = TrustAnchor::from_der(&chain.root_der)
        .map(|a| a.label())
        .unwrap_or_default();
    write(README_FILE, readme(&label))?;
    Ok(())
}

/// Reads the chain saved in `dir` and checks that it works: the key belongs to the leaf, and data
/// it signs verifies against the root.
pub fn load(dir: &Path) -> Result<DevChain, DevCaError> {
    let root = read_cert(&dir.join(ROOT_FILE))?;
    let intermediate = read_cert(&dir.join(INTERMEDIATE_FILE))?;
    let leaf = read_cert(&dir.join(LEAF_FILE))?;
    let key_path = dir.join(KEY_FILE);
    let key = read_key(&key_path)?;

    let invalid = |path: &Path, message: String| DevCaError::Invalid {
        path: path.to_path_buf(),
        message,
    };
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &key)
        .map_err(|_| invalid(&key_path, "not a PKCS#8 P-256 private key".into()))?;
    let leaf_path = dir.join(LEAF_FILE);
    let (_, leaf_cert) = X509Certificate::from_der(&leaf)
        .map_err(|e| invalid(&leaf_path, format!("not an X.509 certificate: {e}")))?;
    if leaf_cert.public_key().subject_public_key.data.as_ref() != pair.public_key().as_ref() {
        return Err(invalid(
            &key_path,
            format!("this key does not belong to the certificate in {LEAF_FILE}"),
        ));
    }
    let chain = DevChain::from_parts(root.clone(), intermediate, leaf, key)
        .map_err(|e| invalid(&key_path, e.to_string()))?;
    self_test(&chain, &root).map_err(|message| DevCaError::SelfTest {
        dir: dir.to_path_buf(),
        message,
    })?;
    Ok(chain)
}

/// Signs a small transaction and verifies it against the chain's own root, now.
fn self_test(chain: &DevChain, root_der: &[u8]) -> Result<(), String> {
    let anchors = RootSet::parse_file(root_der)?;
    let verifier = Verifier::new(RootSet::new(anchors));
    let token = chain.sign(&json!({
        "transactionId": "0", "bundleId": "asnd.devca.selftest", "environment": "Sandbox"
    }));
    verifier
        .verify_payload::<TransactionInfo>(&token, &Policy::any(), At::Now)
        .map(|_| ())
        .map_err(|e| e.report())
}

fn read_pem(path: &Path) -> Result<Vec<u8>, DevCaError> {
    fs::read(path).map_err(io(path))
}

fn read_cert(path: &Path) -> Result<Vec<u8>, DevCaError> {
    let bytes = read_pem(path)?;
    match CertificateDer::pem_slice_iter(&bytes).next() {
        Some(Ok(der)) => Ok(der.as_ref().to_vec()),
        Some(Err(e)) => Err(DevCaError::Invalid {
            path: path.to_path_buf(),
            message: format!("bad PEM: {e}"),
        }),
        None => Err(DevCaError::Invalid {
            path: path.to_path_buf(),
            message: "holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into(),
        }),
    }
}

fn read_key(path: &Path) -> Result<Vec<u8>, DevCaError> {
    let bytes = read_pem(path)?;
    match PrivateKeyDer::from_pem_slice(&bytes) {
        Ok(PrivateKeyDer::Pkcs8(key)) => Ok(key.secret_pkcs8_der().to_vec()),
        Ok(_) => Err(DevCaError::Invalid {
            path: path.to_path_buf(),
            message: "the key must be PKCS#8 (-----BEGIN PRIVATE KEY-----)".into(),
        }),
        Err(pem::Error::NoItemsFound) => Err(DevCaError::Invalid {
            path: path.to_path_buf(),
            message: "holds no PEM private key (-----BEGIN PRIVATE KEY-----)".into(),
        }),
        Err(e) => Err(DevCaError::Invalid {
            path: path.to_path_buf(),
            message: format!("bad PEM: {e}"),
        }),
    }
}

/// PEM text: base64 in lines of 64 characters between the markers.
pub fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// Writes a file readable by its owner only (also when it already existed).
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.set_permissions(fs::Permissions::from_mode(0o600))?;
    file.write_all(bytes)
}

fn readme(label: &str) -> String {
    format!(
        "This folder holds a DEVELOPMENT signing chain made by asnd (`asnd dev-ca` or `asnd serve --dev`).\n\
         It is NOT Apple's and proves nothing about Apple: anyone holding leaf.key can sign with it.\n\
         \n\
         It is shaped like Apple's App Store chain (a P-384 root and intermediate, the intermediate\n\
         carrying Apple's WWDR marker extension, and a P-256 leaf carrying the receipt-signing marker),\n\
         so that `asnd simulate` can sign notifications that go through the same checks as Apple's.\n\
         \n\
           root.pem          the root certificate: list it in verify.roots to trust simulated data\n\
           intermediate.pem  the intermediate certificate\n\
           leaf.pem          the signing certificate\n\
           leaf.key          the signing key (PKCS#8, readable by its owner only)\n\
         \n\
         asnd records data verified by this root with verified_by = {label}\n\
         (Apple's own data is recorded as apple-root-ca-g3). Never list root.pem in a production\n\
         configuration.\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_lines_are_64_wide_and_round_trip() {
        let der: Vec<u8> = (0..=255u8).collect();
        let text = pem("CERTIFICATE", &der);
        assert!(text.starts_with("-----BEGIN CERTIFICATE-----\n"));
        assert!(text.ends_with("-----END CERTIFICATE-----\n"));
        assert!(text.lines().all(|l| l.len() <= 64));
        let back = CertificateDer::pem_slice_iter(text.as_bytes())
            .next()
            .unwrap()
            .unwrap();
        assert_eq!(back.as_ref(), der.as_slice());
    }
}
