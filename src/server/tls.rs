//! TLS 1.2 and 1.3 with rustls (aws-lc-rs), HTTP/2 and HTTP/1.1 by ALPN, and a certificate that
//! can be swapped on SIGHUP without dropping connections: new handshakes get the new one.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use rustls::ServerConfig;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use crate::config::ConfigError;

/// Serves the current certificate; `reload` reads the files again.
#[derive(Debug)]
pub struct CertReloader {
    cert_path: PathBuf,
    key_path: PathBuf,
    current: ArcSwap<CertifiedKey>,
}

impl CertReloader {
    pub fn load(cert_path: PathBuf, key_path: PathBuf) -> Result<Self, ConfigError> {
        let current = load_tls_certified_key(&cert_path, &key_path)?;
        Ok(CertReloader::new(cert_path, key_path, current))
    }

    /// Starts from a certificate already read from these files (by configuration validation).
    pub fn new(cert_path: PathBuf, key_path: PathBuf, current: Arc<CertifiedKey>) -> Self {
        CertReloader {
            cert_path,
            key_path,
            current: ArcSwap::new(current),
        }
    }

    /// When the certificate served now expires (UNIX seconds); `None` if it cannot be parsed.
    pub fn expiry(&self) -> Option<i64> {
        let current = self.current.load();
        let der = current.cert.first()?;
        let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
        Some(cert.validity().not_after.timestamp())
    }

    /// Loads the files again; on any error the old certificate stays in use.
    pub fn reload(&self) -> Result<(), ConfigError> {
        let fresh = load_tls_certified_key(&self.cert_path, &self.key_path)?;
        self.current.store(fresh);
        Ok(())
    }
}

impl ResolvesServerCert for CertReloader {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.load_full())
    }
}

pub fn server_config(certs: Arc<CertReloader>) -> Result<Arc<ServerConfig>, rustls::Error> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_cert_resolver(certs);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Reads a PEM certificate chain and its private key and checks that they belong together.
/// Used by configuration validation (whose result start-up reuses) and by [`CertReloader::reload`].
pub fn load_tls_certified_key(cert: &Path, key: &Path) -> Result<Arc<CertifiedKey>, ConfigError> {
    const CERT: &str = "server.tls_cert";
    const KEY: &str = "server.tls_key";
    let cert_pem = std::fs::read(cert)
        .map_err(|e| ConfigError::file(CERT, cert, format!("cannot read: {e}")))?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
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
    let key_der = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| match e {
        pem::Error::NoItemsFound => ConfigError::file(
            KEY,
            key,
            "holds no PEM private key (PKCS#8, PKCS#1 or SEC1)",
        ),
        e => ConfigError::file(KEY, key, format!("not valid PEM: {e}")),
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

/// How soon before its expiry `serve` warns about a certificate.
pub const EXPIRY_WARNING_DAYS: i64 = 14;

/// What is worth a warning at start about the certificate `serve` presents (`der`, the first of
/// `server.tls_cert`), at UNIX time `now_secs`: a CA certificate (what a plain
/// `openssl req -x509` makes, and what clients such as `asnd simulate` refuse as a server's
/// certificate), one already expired or not yet valid, and one expiring within
/// [`EXPIRY_WARNING_DAYS`].
pub fn certificate_warnings(der: &[u8], now_secs: i64) -> Vec<String> {
    let cert = match x509_parser::parse_x509_certificate(der) {
        Ok((_, cert)) => cert,
        Err(e) => return vec![format!("the TLS certificate cannot be parsed: {e}")],
    };
    let mut warnings = Vec::new();
    if cert.is_ca() {
        warnings.push(
            "the TLS certificate is a CA certificate (basicConstraints CA:TRUE); TLS clients \
             may refuse it as a server's certificate (rustls: CaUsedAsEndEntity). Use a server \
             certificate, e.g. `openssl req -x509 ... -addext basicConstraints=critical,CA:FALSE`"
                .to_owned(),
        );
    }
    let not_after = cert.validity().not_after.timestamp();
    let not_before = cert.validity().not_before.timestamp();
    let expiry = crate::time::format_ms(not_after.saturating_mul(1000));
    if not_after <= now_secs {
        warnings.push(format!("the TLS certificate expired at {expiry}"));
    } else if not_after - now_secs <= EXPIRY_WARNING_DAYS * 86_400 {
        let days = (not_after - now_secs) / 86_400;
        warnings.push(format!(
            "the TLS certificate expires at {expiry}, in {days} day{}: renew it (SIGHUP reloads it)",
            if days == 1 { "" } else { "s" }
        ));
    }
    if not_before > now_secs {
        warnings.push(format!(
            "the TLS certificate is not valid before {}",
            crate::time::format_ms(not_before.saturating_mul(1000))
        ));
    }
    warnings
}
