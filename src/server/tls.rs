//! TLS 1.2 and 1.3 with rustls (aws-lc-rs), HTTP/2 and HTTP/1.1 by ALPN, and a certificate that
//! can be swapped on SIGHUP without dropping connections: new handshakes get the new one.

use std::path::PathBuf;
use std::sync::Arc;

use arc_swap::ArcSwap;
use rustls::ServerConfig;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use crate::config::{ConfigError, load_tls_certified_key};

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
        Ok(CertReloader {
            cert_path,
            key_path,
            current: ArcSwap::new(current),
        })
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
