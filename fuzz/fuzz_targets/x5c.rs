//! The `x5c` chain and the certificate checks. The first byte picks a real chain (Apple's
//! production chain from two genuine payloads, or Apple's test chain) and which of its three
//! certificates the rest of the input replaces; the chain is then verified at the payload's
//! `signedDate`. With the top bit set, the rest is a root file instead (`verify.roots`: DER or
//! PEM). An accepted chain keeps Apple's marker extensions and a window holding the instant.
#![no_main]

use asnd::apple::chain::verify_chain;
use asnd::apple::jws;
use asnd::apple::{RootSet, TrustAnchor, VerifyError};
use asnd_fuzz::{REAL_NOTIFICATION, REAL_TRANSACTION, TEST_NOTIFICATION, check_refusal, roots};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use libfuzzer_sys::fuzz_target;

/// DER of OID 1.2.840.113635.100.6.11.1 (receipt signing) and 1.2.840.113635.100.6.2.1 (WWDR).
const RECEIPT_SIGNING: &[u8] = &[
    0x06, 0x0a, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x63, 0x64, 0x06, 0x0b, 0x01,
];
const WWDR: &[u8] = &[
    0x06, 0x0a, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x63, 0x64, 0x06, 0x02, 0x01,
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, der)) = data.split_first() else {
        return;
    };
    if selector & 0x80 != 0 {
        return root_file(der);
    }
    let base = [REAL_NOTIFICATION, REAL_TRANSACTION, TEST_NOTIFICATION][usize::from(selector % 3)];
    let parsed = jws::parse(base.trim()).expect("the fixtures parse");
    let at_ms = parsed.payload["signedDate"].as_i64().expect("a signedDate");
    let mut x5c = parsed.x5c.clone();
    let position = usize::from(selector / 3 % 3);
    x5c[position] = STANDARD.encode(der);

    let roots = roots();
    match verify_chain(&x5c, &roots, at_ms) {
        Ok(chain) => {
            assert!(chain.root_index < roots.anchors().len());
            assert!(chain.window.contains(at_ms));
            let certs: Vec<Vec<u8>> = x5c
                .iter()
                .map(|c| STANDARD.decode(c).expect("accepted entries are base64"))
                .collect();
            assert!(
                contains(&certs[0], RECEIPT_SIGNING),
                "leaf without its marker"
            );
            assert!(contains(&certs[1], WWDR), "intermediate without its marker");
            // The same chain with no trusted root is refused.
            let none = RootSet::new(Vec::new());
            assert_eq!(
                verify_chain(&x5c, &none, at_ms).err(),
                Some(VerifyError::NoRoots)
            );
        }
        Err(e) => check_refusal(&e),
    }
});

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// A `verify.roots` file: DER or PEM. One DER certificate parses the same either way.
fn root_file(bytes: &[u8]) {
    let as_file = RootSet::parse_file(bytes);
    if let Ok(anchors) = &as_file {
        assert!(!anchors.is_empty());
        for anchor in anchors {
            assert_eq!(anchor.sha256().len(), 64);
            assert!(anchor.label().len() > 7);
        }
    }
    if let Ok(anchor) = TrustAnchor::from_der(bytes) {
        let from_file = as_file.expect("a DER root is a root file");
        assert_eq!(from_file.len(), 1);
        assert_eq!(from_file[0].sha256(), anchor.sha256());
    }
}
