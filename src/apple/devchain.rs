//! A signing chain shaped like Apple's (P-384 root and intermediate, P-256 leaf, Apple's marker
//! OIDs), for development, tests, benchmarks and `asnd simulate`. Data it signs verifies only
//! against its own root, never against Apple's, and is recorded with that root's fingerprint.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use base64::Engine;
use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DistinguishedName, DnType, IsCa, KeyPair,
    KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, PKCS_ECDSA_P384_SHA384,
};
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};

use super::jws::b64url;

const OID_RECEIPT_SIGNING: &[u64] = &[1, 2, 840, 113635, 100, 6, 11, 1];
const OID_WWDR_INTERMEDIATE: &[u64] = &[1, 2, 840, 113635, 100, 6, 2, 1];
const DER_NULL: [u8; 2] = [0x05, 0x00];

/// How to shape the chain; the default is a correct chain valid from a year ago for ten years.
/// The knobs exist so tests can break one property at a time.
#[derive(Debug, Clone)]
pub struct ChainSpec {
    pub name: String,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    pub leaf_not_before: OffsetDateTime,
    pub leaf_not_after: OffsetDateTime,
    pub leaf_receipt_oid: bool,
    pub intermediate_wwdr_oid: bool,
    pub intermediate_is_ca: bool,
}

impl Default for ChainSpec {
    fn default() -> Self {
        let now = OffsetDateTime::now_utc();
        ChainSpec {
            name: "asnd development".into(),
            not_before: now - Duration::days(365),
            not_after: now + Duration::days(3650),
            leaf_not_before: now - Duration::days(365),
            leaf_not_after: now + Duration::days(3650),
            leaf_receipt_oid: true,
            intermediate_wwdr_oid: true,
            intermediate_is_ca: true,
        }
    }
}

/// A generated chain and the leaf's signing key.
pub struct DevChain {
    pub root_der: Vec<u8>,
    pub intermediate_der: Vec<u8>,
    pub leaf_der: Vec<u8>,
    /// PKCS#8 DER of the leaf key (P-256). A development key, never a secret of anyone's.
    pub leaf_key_pkcs8: Vec<u8>,
    leaf_key: EcdsaKeyPair,
    rng: SystemRandom,
}

fn dn(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn.push(
        DnType::OrganizationalUnitName,
        "asnd development (not Apple)",
    );
    dn.push(DnType::OrganizationName, "asnd");
    dn.push(DnType::CountryName, "US");
    dn
}

fn marker(oid: &[u64]) -> CustomExtension {
    CustomExtension::from_oid_content(oid, DER_NULL.to_vec())
}

impl DevChain {
    pub fn generate(spec: &ChainSpec) -> Result<Self, rcgen::Error> {
        let root_key = KeyPair::generate_for(&PKCS_ECDSA_P384_SHA384)?;
        let mut root = CertificateParams::default();
        root.distinguished_name = dn(&format!("{} Root CA", spec.name));
        root.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        root.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        root.not_before = spec.not_before;
        root.not_after = spec.not_after;
        let root_cert = root.self_signed(&root_key)?;

        let inter_key = KeyPair::generate_for(&PKCS_ECDSA_P384_SHA384)?;
        let mut inter = CertificateParams::default();
        inter.distinguished_name = dn(&format!("{} Worldwide Developer Relations CA", spec.name));
        if spec.intermediate_is_ca {
            inter.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
            inter.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        } else {
            inter.is_ca = IsCa::ExplicitNoCa;
        }
        inter.not_before = spec.not_before;
        inter.not_after = spec.not_after;
        if spec.intermediate_wwdr_oid {
            inter.custom_extensions.push(marker(OID_WWDR_INTERMEDIATE));
        }
        let inter_cert = inter.signed_by(&inter_key, &root_cert, &root_key)?;

        let leaf_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let mut leaf = CertificateParams::default();
        leaf.distinguished_name = dn(&format!("{} Receipt Signing", spec.name));
        leaf.is_ca = IsCa::ExplicitNoCa;
        leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        leaf.not_before = spec.leaf_not_before;
        leaf.not_after = spec.leaf_not_after;
        if spec.leaf_receipt_oid {
            leaf.custom_extensions.push(marker(OID_RECEIPT_SIGNING));
        }
        let leaf_cert = leaf.signed_by(&leaf_key, &inter_cert, &inter_key)?;
        DevChain::from_parts(
            root_cert.der().to_vec(),
            inter_cert.der().to_vec(),
            leaf_cert.der().to_vec(),
            leaf_key.serialize_der(),
        )
    }

    /// Rebuilds a chain from stored certificates and the leaf key (PKCS#8 DER).
    pub fn from_parts(
        root_der: Vec<u8>,
        intermediate_der: Vec<u8>,
        leaf_der: Vec<u8>,
        leaf_key_pkcs8: Vec<u8>,
    ) -> Result<Self, rcgen::Error> {
        let leaf_key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &leaf_key_pkcs8)
            .map_err(|_| rcgen::Error::CouldNotParseKeyPair)?;
        Ok(DevChain {
            root_der,
            intermediate_der,
            leaf_der,
            leaf_key_pkcs8,
            leaf_key,
            rng: SystemRandom::new(),
        })
    }

    /// The `x5c` header value: leaf, intermediate, root, in standard base64.
    pub fn x5c(&self) -> Vec<String> {
        let b64 = |d: &[u8]| base64::engine::general_purpose::STANDARD.encode(d);
        vec![
            b64(&self.leaf_der),
            b64(&self.intermediate_der),
            b64(&self.root_der),
        ]
    }

    /// Signs `payload` as Apple does: `{"alg":"ES256","x5c":[...]}`, raw r||s signature.
    pub fn sign(&self, payload: &Value) -> String {
        let header = json!({"alg": "ES256", "x5c": self.x5c()});
        self.sign_raw(
            header.to_string().as_bytes(),
            payload.to_string().as_bytes(),
        )
    }

    /// Signs arbitrary header and payload bytes (tests use it to forge odd headers).
    pub fn sign_raw(&self, header: &[u8], payload: &[u8]) -> String {
        let signing_input = format!("{}.{}", b64url(header), b64url(payload));
        let signature = self
            .leaf_key
            .sign(&self.rng, signing_input.as_bytes())
            .map(|s| b64url(s.as_ref()))
            .unwrap_or_default();
        format!("{signing_input}.{signature}")
    }
}
