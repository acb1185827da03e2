//! The `x5c` certificate chain, checked the way Apple's libraries check it: leaf → `x5c[1]` → one
//! of the configured roots (the sent `x5c[2]` must be a certificate but is never trusted), ECDSA
//! signatures, issuer/subject chaining, validity of all three certificates at the effective date, CA constraints on the
//! intermediate, and Apple's two marker extensions.

use aws_lc_rs::signature::{self, EcdsaVerificationAlgorithm, ParsedPublicKey};
use base64::Engine;
use x509_parser::prelude::{FromDer, KeyUsage, X509Certificate};

use super::error::VerifyError;
use super::roots::{RootSet, TrustAnchor};

/// Apple "Mac App Store and iTunes Store Receipt Signing", required on the leaf.
pub const OID_RECEIPT_SIGNING: &str = "1.2.840.113635.100.6.11.1";
/// Apple "Worldwide Developer Relations" intermediate marker, required on the intermediate.
pub const OID_WWDR_INTERMEDIATE: &str = "1.2.840.113635.100.6.2.1";

const OID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_P384: &str = "1.3.132.0.34";
const OID_P521: &str = "1.3.132.0.35";
const OID_ECDSA_SHA256: &str = "1.2.840.10045.4.3.2";
const OID_ECDSA_SHA384: &str = "1.2.840.10045.4.3.3";
const OID_ECDSA_SHA512: &str = "1.2.840.10045.4.3.4";

/// Critical extensions we understand; any other critical extension fails the chain (RFC 5280).
const KNOWN_CRITICAL: &[&str] = &[
    "2.5.29.19", // basicConstraints
    "2.5.29.15", // keyUsage
    "2.5.29.37", // extKeyUsage
    "2.5.29.14", // subjectKeyIdentifier
    "2.5.29.35", // authorityKeyIdentifier
    "2.5.29.17", // subjectAltName
    "2.5.29.32", // certificatePolicies
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Curve {
    P256,
    P384,
    P521,
}

/// An EC public key taken from a certificate.
#[derive(Debug, Clone)]
pub(crate) struct CertKey {
    curve: Curve,
    point: Vec<u8>,
}

pub(crate) fn cert_key(cert: &X509Certificate<'_>) -> Result<CertKey, String> {
    let spki = cert.public_key();
    if spki.algorithm.algorithm.to_id_string() != OID_EC_PUBLIC_KEY {
        return Err(format!(
            "public key algorithm {} is not EC",
            spki.algorithm.algorithm.to_id_string()
        ));
    }
    let curve_oid = spki
        .algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.as_oid().ok())
        .map(|o| o.to_id_string())
        .ok_or("EC key without a named curve")?;
    let curve = match curve_oid.as_str() {
        OID_P256 => Curve::P256,
        OID_P384 => Curve::P384,
        OID_P521 => Curve::P521,
        other => return Err(format!("unsupported EC curve {other}")),
    };
    Ok(CertKey {
        curve,
        point: spki.subject_public_key.data.to_vec(),
    })
}

/// Checks that `cert` was signed by `issuer_key`.
fn check_signed_by(cert: &X509Certificate<'_>, issuer_key: &CertKey) -> Result<(), String> {
    let outer = cert.signature_algorithm.algorithm.to_id_string();
    if outer != cert.tbs_certificate.signature.algorithm.to_id_string() {
        return Err("signature algorithm differs inside and outside the certificate".into());
    }
    let alg: &'static EcdsaVerificationAlgorithm = match (issuer_key.curve, outer.as_str()) {
        (Curve::P256, OID_ECDSA_SHA256) => &signature::ECDSA_P256_SHA256_ASN1,
        (Curve::P256, OID_ECDSA_SHA384) => &signature::ECDSA_P256_SHA384_ASN1,
        (Curve::P256, OID_ECDSA_SHA512) => &signature::ECDSA_P256_SHA512_ASN1,
        (Curve::P384, OID_ECDSA_SHA256) => &signature::ECDSA_P384_SHA256_ASN1,
        (Curve::P384, OID_ECDSA_SHA384) => &signature::ECDSA_P384_SHA384_ASN1,
        (Curve::P384, OID_ECDSA_SHA512) => &signature::ECDSA_P384_SHA512_ASN1,
        (Curve::P521, OID_ECDSA_SHA256) => &signature::ECDSA_P521_SHA256_ASN1,
        (Curve::P521, OID_ECDSA_SHA384) => &signature::ECDSA_P521_SHA384_ASN1,
        (Curve::P521, OID_ECDSA_SHA512) => &signature::ECDSA_P521_SHA512_ASN1,
        (curve, oid) => return Err(format!("unsupported signature {oid} with a {curve:?} key")),
    };
    signature::UnparsedPublicKey::new(alg, &issuer_key.point)
        .verify(cert.tbs_certificate.as_ref(), &cert.signature_value.data)
        .map_err(|_| "certificate signature does not verify".to_string())
}

fn has_extension(cert: &X509Certificate<'_>, oid: &str) -> bool {
    cert.extensions()
        .iter()
        .any(|e| e.oid.to_id_string() == oid)
}

/// Refuses a keyUsage extension that does not parse or lacks the `bit` that `has` reads; a
/// certificate without keyUsage passes.
fn check_key_usage(
    cert: &X509Certificate<'_>,
    role: &str,
    bit: &str,
    has: fn(&KeyUsage) -> bool,
) -> Result<(), String> {
    match cert.key_usage() {
        Ok(Some(ku)) if !has(ku.value) => Err(format!("the {role}'s keyUsage lacks {bit}")),
        Err(e) => Err(format!("{role} keyUsage: {e}")),
        _ => Ok(()),
    }
}

fn check_critical_extensions(cert: &X509Certificate<'_>, role: &str) -> Result<(), String> {
    for ext in cert.extensions().iter().filter(|e| e.critical) {
        let oid = ext.oid.to_id_string();
        if !KNOWN_CRITICAL.contains(&oid.as_str()) {
            return Err(format!("{role} has an unknown critical extension {oid}"));
        }
    }
    Ok(())
}

/// The validity window shared by a chain, in milliseconds since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub not_before_ms: i64,
    pub not_after_ms: i64,
}

impl Window {
    fn of(not_before_s: i64, not_after_s: i64) -> Self {
        Window {
            not_before_ms: not_before_s.saturating_mul(1000),
            not_after_ms: not_after_s.saturating_mul(1000),
        }
    }

    fn intersect(self, other: Window) -> Window {
        Window {
            not_before_ms: self.not_before_ms.max(other.not_before_ms),
            not_after_ms: self.not_after_ms.min(other.not_after_ms),
        }
    }

    pub fn contains(&self, at_ms: i64) -> bool {
        self.not_before_ms <= at_ms && at_ms <= self.not_after_ms
    }
}

/// A chain that verified: the leaf's ES256 key, the root it ends at, and when it is valid.
#[derive(Debug)]
pub struct VerifiedChain {
    pub leaf_key: ParsedPublicKey,
    pub root_index: usize,
    pub window: Window,
}

fn decode_cert(index: usize, b64: &str) -> Result<Vec<u8>, VerifyError> {
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|e| VerifyError::Certificate {
            index,
            reason: format!("not standard base64: {e}"),
        })
}

fn parse_cert(index: usize, der: &[u8]) -> Result<X509Certificate<'_>, VerifyError> {
    match X509Certificate::from_der(der) {
        Ok(([], cert)) => Ok(cert),
        Ok(_) => Err(VerifyError::Certificate {
            index,
            reason: "trailing bytes after the certificate".into(),
        }),
        Err(e) => Err(VerifyError::Certificate {
            index,
            reason: e.to_string(),
        }),
    }
}

/// The subject of each certificate of `x5c`, in order, for people to read (the console). Nothing
/// is verified here; an entry that is not a certificate reads as what is wrong with it.
pub fn subjects(x5c: &[String]) -> Vec<String> {
    x5c.iter()
        .enumerate()
        .map(|(index, b64)| {
            decode_cert(index, b64)
                .and_then(|der| parse_cert(index, &der).map(|cert| cert.subject().to_string()))
                .unwrap_or_else(|e| e.to_string())
        })
        .collect()
}

/// Verifies `x5c` (exactly three entries) at `at_ms` against `roots`.
pub fn verify_chain(
    x5c: &[String],
    roots: &RootSet,
    at_ms: i64,
) -> Result<VerifiedChain, VerifyError> {
    if roots.is_empty() {
        return Err(VerifyError::NoRoots);
    }
    if x5c.len() != 3 {
        return Err(VerifyError::ChainLength { found: x5c.len() });
    }
    let leaf_der = decode_cert(0, &x5c[0])?;
    let inter_der = decode_cert(1, &x5c[1])?;
    let leaf = parse_cert(0, &leaf_der)?;
    let inter = parse_cert(1, &inter_der)?;
    // Never trusted, but Apple's libraries decode every entry, so one that is not a certificate
    // fails the chain there and must fail it here too.
    parse_cert(2, &decode_cert(2, &x5c[2])?)?;
    let chain_err = |m: String| VerifyError::Chain(m);

    // Intermediate → a configured root, chosen by name and proven by signature.
    let inter_issuer = inter.issuer().as_raw();
    let mut root_found: Option<(usize, &TrustAnchor)> = None;
    let mut last_err = String::from("the intermediate is not issued by any configured root");
    for (i, anchor) in roots.anchors().iter().enumerate() {
        if anchor.subject != inter_issuer {
            continue;
        }
        match check_signed_by(&inter, &anchor.key) {
            Ok(()) => {
                root_found = Some((i, anchor));
                break;
            }
            Err(e) => last_err = format!("intermediate: {e} with the configured root"),
        }
    }
    let (root_index, root) = root_found.ok_or_else(|| chain_err(last_err))?;

    // Leaf → intermediate.
    if leaf.issuer().as_raw() != inter.subject().as_raw() {
        return Err(chain_err(
            "the leaf is not issued by the intermediate".into(),
        ));
    }
    let inter_key = cert_key(&inter).map_err(|e| chain_err(format!("intermediate: {e}")))?;
    check_signed_by(&leaf, &inter_key).map_err(|e| chain_err(format!("leaf: {e}")))?;

    // The intermediate must be a CA allowed to sign certificates.
    match inter.basic_constraints() {
        Ok(Some(bc)) if bc.value.ca => {}
        Ok(_) => {
            return Err(chain_err(
                "the intermediate is not a CA (basicConstraints)".into(),
            ));
        }
        Err(e) => return Err(chain_err(format!("intermediate basicConstraints: {e}"))),
    }
    check_key_usage(
        &inter,
        "intermediate",
        "keyCertSign",
        KeyUsage::key_cert_sign,
    )
    .map_err(chain_err)?;
    check_key_usage(
        &leaf,
        "leaf",
        "digitalSignature",
        KeyUsage::digital_signature,
    )
    .map_err(chain_err)?;
    check_critical_extensions(&leaf, "the leaf").map_err(chain_err)?;
    check_critical_extensions(&inter, "the intermediate").map_err(chain_err)?;

    // Apple's markers.
    if !has_extension(&leaf, OID_RECEIPT_SIGNING) {
        return Err(chain_err(format!(
            "the leaf lacks Apple's receipt-signing extension {OID_RECEIPT_SIGNING}"
        )));
    }
    if !has_extension(&inter, OID_WWDR_INTERMEDIATE) {
        return Err(chain_err(format!(
            "the intermediate lacks Apple's WWDR extension {OID_WWDR_INTERMEDIATE}"
        )));
    }

    // Validity of every certificate at the effective date.
    let cert_window = |c: &X509Certificate<'_>| {
        Window::of(
            c.validity().not_before.timestamp(),
            c.validity().not_after.timestamp(),
        )
    };
    for (name, w) in [
        ("leaf", cert_window(&leaf)),
        ("intermediate", cert_window(&inter)),
        ("root", Window::of(root.not_before, root.not_after)),
    ] {
        if !w.contains(at_ms) {
            return Err(chain_err(format!(
                "the {name} certificate is not valid at {} (valid {} to {})",
                fmt_ms(at_ms),
                fmt_ms(w.not_before_ms),
                fmt_ms(w.not_after_ms)
            )));
        }
    }
    let window = cert_window(&leaf)
        .intersect(cert_window(&inter))
        .intersect(Window::of(root.not_before, root.not_after));

    let leaf_ec = cert_key(&leaf).map_err(|e| chain_err(format!("leaf: {e}")))?;
    if leaf_ec.curve != Curve::P256 {
        return Err(chain_err(
            "the leaf key is not P-256, so it cannot sign ES256".into(),
        ));
    }
    let leaf_key = ParsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, &leaf_ec.point)
        .map_err(|e| chain_err(format!("leaf public key: {e}")))?;
    Ok(VerifiedChain {
        leaf_key,
        root_index,
        window,
    })
}

/// RFC 3339 for messages; falls back to the raw number for dates outside the calendar.
pub(crate) fn fmt_ms(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| format!("{ms} ms"))
}
