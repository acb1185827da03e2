//! What the API client reads from the files and values `[apps.api]` names: the `.p8` private key
//! and the CA certificates trusted to reach Apple. Configuration validation reads them too, so
//! that a bad file is reported at start-up; errors name the key and never repeat a secret.

use std::path::Path;

use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::{ApiConfig, ConfigError, Secret};

/// The PKCS#8 DER of an API private key, checked to be an EC P-256 key. `Debug` hides it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiPrivateKey(Secret<Vec<u8>>);

impl ApiPrivateKey {
    pub fn pkcs8_der(&self) -> &[u8] {
        self.0.expose()
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
            (None, Some(text)) => parse_api_key(text.expose())
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
}

/// A `.p8` key as text: PEM (`-----BEGIN PRIVATE KEY-----`, with real or `\n`-escaped newlines,
/// as environment variables often carry it) or the bare base64 of the DER.
pub fn parse_api_key(text: &str) -> Result<ApiPrivateKey, String> {
    let text = text.trim();
    let der = if text.contains("-----BEGIN") {
        let pem = if text.contains('\n') {
            text.to_owned()
        } else {
            text.replace("\\n", "\n")
        };
        match PrivateKeyDer::from_pem_slice(pem.as_bytes()) {
            Ok(PrivateKeyDer::Pkcs8(k)) => k.secret_pkcs8_der().to_vec(),
            Ok(_) => {
                return Err("is not a PKCS#8 key (-----BEGIN PRIVATE KEY-----) like App Store Connect's .p8 files".into());
            }
            Err(pem::Error::NoItemsFound) => {
                return Err("holds no PEM private key (-----BEGIN PRIVATE KEY-----)".into());
            }
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
    Ok(ApiPrivateKey(Secret::new(der)))
}

/// Certificates from a PEM file, or a single DER certificate. `key` names the setting in errors.
pub fn read_certificates(
    key: &str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, ConfigError> {
    let bytes = std::fs::read(path)
        .map_err(|e| ConfigError::file(key, path, format!("cannot read: {e}")))?;
    let certs = if bytes.windows(10).any(|w| w == b"-----BEGIN") {
        CertificateDer::pem_slice_iter(&bytes)
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

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::Duration;

    use crate::config::test_support::key_pem;
    use crate::config::{Config, SYSTEM_CA_FILE};

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
        api.private_key = Some(pem.clone().into());
        assert_eq!(api.load_private_key("k").unwrap(), from_env);
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        api.private_key = Some(body.into());
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
}
