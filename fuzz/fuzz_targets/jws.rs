//! A request body as a compact JWS: the shape (`jws::parse`, `peek_payload`), then every kind of
//! signed data verified at its `signedDate` by a verifier whose chain cache is warm and by a cold
//! one. Accepted data re-verifies the same; refusals name an Apple status.
#![no_main]

use asnd::apple::jws;
use asnd::apple::models::{AppTransaction, RenewalInfo, TransactionInfo};
use asnd::apple::{At, Policy, Verifier};
use asnd_fuzz::{check_refusal, labels, roots, verifier};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    check_shape(token);
    let cold = Verifier::new(roots());
    let policy = Policy::any();
    let labels = labels();

    let warm = verifier().verify_notification(token, &policy, At::SignedDate);
    let again = cold.verify_notification(token, &policy, At::SignedDate);
    match (&warm, &again) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a.decoded_json(), b.decoded_json());
            assert_eq!(a.notification.verified_by, b.notification.verified_by);
            assert!(labels.contains(&a.notification.verified_by));
            // Accepted means the shape was right and the payload is the one that was signed.
            let parsed = jws::parse(token).expect("an accepted token parses");
            assert_eq!(parsed.payload, a.notification.json);
            assert_eq!(parsed.signature.len(), 64);
            assert_eq!(parsed.x5c.len(), 3);
        }
        (Err(a), Err(b)) => {
            check_refusal(a);
            same_refusal(a, b);
        }
        _ => panic!("a warm cache and a cold one disagree: {warm:?} / {again:?}"),
    }

    // The same bytes as the other kinds of signed data.
    let t = (
        verifier().verify_payload::<TransactionInfo>(token, &policy, At::SignedDate),
        cold.verify_payload::<TransactionInfo>(token, &policy, At::SignedDate),
    );
    agree(t.0.map(|v| v.json), t.1.map(|v| v.json));
    let r = (
        verifier().verify_payload::<RenewalInfo>(token, &policy, At::SignedDate),
        cold.verify_payload::<RenewalInfo>(token, &policy, At::SignedDate),
    );
    agree(r.0.map(|v| v.json), r.1.map(|v| v.json));
    let a = (
        verifier().verify_payload::<AppTransaction>(token, &policy, At::SignedDate),
        cold.verify_payload::<AppTransaction>(token, &policy, At::SignedDate),
    );
    agree(a.0.map(|v| v.json), a.1.map(|v| v.json));
});

fn agree<T: PartialEq + std::fmt::Debug>(
    warm: Result<T, asnd::apple::VerifyError>,
    cold: Result<T, asnd::apple::VerifyError>,
) {
    match (&warm, &cold) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "a warm cache and a cold one disagree"),
        (Err(a), Err(b)) => {
            check_refusal(a);
            same_refusal(a, b);
        }
        _ => panic!("a warm cache and a cold one disagree: {warm:?} / {cold:?}"),
    }
}

/// The same refusal, but for the instant in its message: data without its date field is
/// verified at the current time, which moves between the two calls.
fn same_refusal(a: &asnd::apple::VerifyError, b: &asnd::apple::VerifyError) {
    assert_eq!(a.status(), b.status(), "{a} / {b}");
    assert_eq!(
        std::mem::discriminant(a),
        std::mem::discriminant(b),
        "a warm cache and a cold one disagree: {a} / {b}"
    );
}

/// What a parsed token must be: base64url and exactly two dots, the signing input its first two
/// segments, an `ES256` header with a non-empty `x5c`; `peek_payload` reads the same payload.
fn check_shape(token: &str) {
    match jws::parse(token) {
        Ok(parsed) => {
            assert!(
                token
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')),
                "a parsed token holds only base64url and dots"
            );
            assert_eq!(token.matches('.').count(), 2);
            let last_dot = token.rfind('.').expect("two dots");
            assert_eq!(parsed.signing_input, &token.as_bytes()[..last_dot]);
            assert!(!parsed.x5c.is_empty());
            assert_eq!(
                jws::peek_payload(token).ok().as_ref(),
                Some(&parsed.payload)
            );
        }
        Err(e) => check_refusal(&e),
    }
}
