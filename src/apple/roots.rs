//! Trust anchors: the built-in Apple Root CA - G3 and operator-supplied roots (PEM or DER).

use std::fmt;
use std::sync::Arc;

use aws_lc_rs::digest;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::chain::{CertKey, cert_key};

/// Apple Root CA - G3, from <https://www.apple.com/certificateauthority/>. Every App Store chain
/// ends here.
pub const APPLE_ROOT_CA_G3: &[u8] = include_bytes!("certs/AppleRootCA-G3.cer");

/// SHA-256 of [`APPLE_ROOT_CA_G3`], as published in Apple's PKI page.
pub const APPLE_ROOT_CA_G3_SHA256: &str =
    "63343abfb89a6a03ebb57e9b3f5fa7be7c4f5c756f3017b3a8c488c3653e9179";

/// The label stored in `verified_by` for data that chains to Apple's real root.
pub const APPLE_ROOT_LABEL: &str = "apple-root-ca-g3";

/// One trusted root, parsed once.
pub struct TrustAnchor {
    pub(crate) subject: Vec<u8>,
    pub(crate) key: CertKey,
    pub(crate) not_before: i64,
    pub(crate) not_after: i64,
    sha256: String,
}

impl TrustAnchor {
    pub fn from_der(der: &[u8]) -> Result<Self, String> {
        let (rest, cert) =
            X509Certificate::from_der(der).map_err(|e| format!("not an X.509 certificate: {e}"))?;
        if !rest.is_empty() {
            return Err("trailing bytes after the certificate".into());
        }
        let sha256 = hex(digest::digest(&digest::SHA256, der).as_ref());
        Ok(TrustAnchor {
            subject: cert.subject().as_raw().to_vec(),
            key: cert_key(&cert)?,
            not_before: cert.validity().not_before.timestamp(),
            not_after: cert.validity().not_after.timestamp(),
            sha256,
        })
    }

    /// The built-in Apple Root CA - G3.
    pub fn apple() -> Self {
        TrustAnchor::from_der(APPLE_ROOT_CA_G3)
            .unwrap_or_else(|e| unreachable!("the embedded Apple root is valid: {e}"))
    }

    /// Lower-case hex SHA-256 of the certificate's DER.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// What `verified_by` records: Apple's root by name, any other root by its fingerprint, so
    /// that data signed by a development or test root can never pass for Apple's.
    pub fn label(&self) -> String {
        if self.sha256 == APPLE_ROOT_CA_G3_SHA256 {
            APPLE_ROOT_LABEL.to_string()
        } else {
            format!("sha256:{}", self.sha256)
        }
    }
}

impl fmt::Debug for TrustAnchor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrustAnchor")
            .field("label", &self.label())
            .finish()
    }
}

/// The roots a verifier trusts. Never empty once built through [`RootSet::new`].
#[derive(Debug, Clone)]
pub struct RootSet(pub(crate) Arc<Vec<TrustAnchor>>);

impl RootSet {
    pub fn new(anchors: Vec<TrustAnchor>) -> Self {
        RootSet(Arc::new(anchors))
    }

    /// Only Apple Root CA - G3.
    pub fn apple() -> Self {
        RootSet::new(vec![TrustAnchor::apple()])
    }

    /// Parses every certificate in a file's bytes: DER, or PEM with one or more certificates.
    pub fn parse_file(bytes: &[u8]) -> Result<Vec<TrustAnchor>, String> {
        // DER first: a DER certificate may hold the text "-----BEGIN " (in a name, say).
        let der = TrustAnchor::from_der(bytes);
        let is_pem = bytes.windows(11).any(|w| w == b"-----BEGIN ");
        if der.is_ok() || !is_pem {
            return Ok(vec![der?]);
        }
        let mut anchors = Vec::new();
        for item in CertificateDer::pem_slice_iter(bytes) {
            let der = item.map_err(|e| format!("bad PEM: {e}"))?;
            anchors.push(TrustAnchor::from_der(der.as_ref())?);
        }
        if anchors.is_empty() {
            return Err("PEM holds no CERTIFICATE block".into());
        }
        Ok(anchors)
    }

    pub fn anchors(&self) -> &[TrustAnchor] {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_root_is_apple_root_ca_g3() {
        let sha = hex(digest::digest(&digest::SHA256, APPLE_ROOT_CA_G3).as_ref());
        assert_eq!(sha, APPLE_ROOT_CA_G3_SHA256);
        let roots = RootSet::apple();
        assert_eq!(roots.anchors()[0].label(), APPLE_ROOT_LABEL);
        // 2014-04-30 18:19:06 UTC .. 2039-04-30 18:19:06 UTC
        assert_eq!(roots.anchors()[0].not_before, 1_398_881_946);
        assert_eq!(roots.anchors()[0].not_after, 2_187_800_346);
    }

    #[test]
    fn parses_pem_and_der_and_rejects_garbage() {
        let der = APPLE_ROOT_CA_G3;
        let pem = format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, der)
        );
        assert_eq!(RootSet::parse_file(der).unwrap().len(), 1);
        assert_eq!(
            RootSet::parse_file(pem.as_bytes()).unwrap()[0].label(),
            APPLE_ROOT_LABEL
        );
        assert!(RootSet::parse_file(b"not a certificate").is_err());
        // Found by the `x5c` fuzz target's check (fuzz/regressions/x5c/): a DER certificate
        // holding the text "-----BEGIN " was read as PEM, and refused.
        let mut named = der.to_vec();
        let at = named.windows(11).position(|w| w == b"Apple Root ").unwrap();
        named[at..at + 11].copy_from_slice(b"-----BEGIN ");
        let anchors = RootSet::parse_file(&named).unwrap();
        assert_eq!(anchors.len(), 1);
        assert_eq!(
            anchors[0].sha256(),
            TrustAnchor::from_der(&named).unwrap().sha256()
        );
        assert!(
            RootSet::parse_file(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
                .is_err()
        );
    }
}
