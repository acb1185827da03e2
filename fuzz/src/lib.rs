//! What the fuzz targets share: the roots they trust (Apple's, Apple's test CA and a development
//! chain made at start-up, so that inputs the targets sign are accepted), and the checks every
//! refusal must pass.

use std::sync::OnceLock;

use asnd::apple::devchain::{ChainSpec, DevChain};
use asnd::apple::{RootSet, Status, TrustAnchor, Verifier, VerifyError};
use time::macros::datetime;

/// Apple's test root (from Apple's own library tests), which signs `testNotification`.
pub const APPLE_TEST_CA: &[u8] = include_bytes!("../../tests/fixtures/apple-mock/testCA.der");
/// Real Apple-signed data, chaining to Apple Root CA - G3.
pub const REAL_NOTIFICATION: &str =
    include_str!("../../tests/fixtures/apple-real/notification_Production_da2c238f98534d21.jws");
pub const REAL_TRANSACTION: &str =
    include_str!("../../tests/fixtures/apple-real/transaction_Sandbox_0cd9c84b20fde20a.jws");
/// Apple's test notification, chaining to [`APPLE_TEST_CA`].
pub const TEST_NOTIFICATION: &str =
    include_str!("../../tests/fixtures/apple-mock/testNotification");

/// A development chain valid for the whole century, so that every plausible `signedDate` lies in
/// it and an input's verdict does not depend on the day it runs. Its keys are made at start-up
/// and never leave the process.
pub fn dev_chain() -> &'static DevChain {
    static CHAIN: OnceLock<DevChain> = OnceLock::new();
    CHAIN.get_or_init(|| {
        let from = datetime!(2000-01-01 0:00 UTC);
        let to = datetime!(2099-12-31 0:00 UTC);
        DevChain::generate(&ChainSpec {
            name: "asnd fuzzing".into(),
            not_before: from,
            not_after: to,
            leaf_not_before: from,
            leaf_not_after: to,
            ..ChainSpec::default()
        })
        .expect("a development chain can be generated")
    })
}

/// Apple Root CA - G3, Apple's test CA and the development root.
pub fn roots() -> RootSet {
    static ROOTS: OnceLock<RootSet> = OnceLock::new();
    ROOTS.get_or_init(parse_roots).clone()
}

fn parse_roots() -> RootSet {
    let dev = TrustAnchor::from_der(&dev_chain().root_der).expect("the development root parses");
    let test = TrustAnchor::from_der(APPLE_TEST_CA).expect("Apple's test CA parses");
    RootSet::new(vec![TrustAnchor::apple(), test, dev])
}

/// One verifier per process, whose chain cache stays warm across inputs.
pub fn verifier() -> &'static Verifier {
    static VERIFIER: OnceLock<Verifier> = OnceLock::new();
    VERIFIER.get_or_init(|| Verifier::new(roots()))
}

/// The `verified_by` labels of [`roots`].
pub fn labels() -> Vec<String> {
    verifier()
        .roots()
        .anchors()
        .iter()
        .map(TrustAnchor::label)
        .collect()
}

/// A refusal names one of Apple's statuses and says which check failed; a nested refusal has the
/// status of the payload that failed.
pub fn check_refusal(error: &VerifyError) {
    let status = error.status();
    let report = error.report();
    assert!(
        report.starts_with(&format!("{}: ", status.as_str())),
        "{report}"
    );
    assert!(report.len() > status.as_str().len() + 2, "{report}");
    if let VerifyError::Nested { source, .. } = error {
        assert_eq!(status, source.status());
        assert!(!matches!(**source, VerifyError::Nested { .. }), "{error}");
    }
    // The statuses Apple's libraries report; asnd's retryable one is for storage, never a payload.
    assert_ne!(status, Status::RetryableVerificationFailure, "{report}");
}

/// Removes every `null` member of every object, recursively: the one thing the typed models do
/// not keep (an explicit `null` for a known field decodes as absent).
pub fn without_nulls(value: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), without_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_nulls).collect()),
        other => other.clone(),
    }
}
