//! Verifier tests: every check fails on purpose with an Apple-shaped chain made here, and real
//! Apple-signed data passes with the built-in root.

use std::sync::OnceLock;

use proptest::prelude::*;
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};

use super::devchain::{ChainSpec, DevChain};
use super::jws::b64url;
use super::models::{Environment, TransactionInfo};
use super::*;
use crate::time::now_ms;

const BUNDLE: &str = "com.example.app";
const APP_ID: i64 = 1_234_567_890;

fn chain() -> &'static DevChain {
    static CHAIN: OnceLock<DevChain> = OnceLock::new();
    CHAIN.get_or_init(|| DevChain::generate(&ChainSpec::default()).unwrap())
}

fn verifier_for(c: &DevChain) -> Verifier {
    Verifier::new(RootSet::new(vec![
        TrustAnchor::from_der(&c.root_der).unwrap(),
    ]))
}

fn transaction(env: &str, bundle: &str) -> Value {
    json!({
        "transactionId": "2000000000000001", "originalTransactionId": "2000000000000000",
        "bundleId": bundle, "productId": "pro.monthly", "type": "Auto-Renewable Subscription",
        "purchaseDate": now_ms() - 1000, "expiresDate": now_ms() + 86_400_000,
        "environment": env, "signedDate": now_ms(), "price": 4990, "currency": "USD"
    })
}

fn renewal(env: &str) -> Value {
    json!({"originalTransactionId": "2000000000000000", "autoRenewStatus": 1,
           "productId": "pro.monthly", "environment": env, "signedDate": now_ms()})
}

fn notification_with(c: &DevChain, env: &str, data_extra: Value) -> Value {
    let mut data = json!({
        "appAppleId": APP_ID, "bundleId": BUNDLE, "environment": env, "status": 1,
        "signedTransactionInfo": c.sign(&transaction(env, BUNDLE)),
        "signedRenewalInfo": c.sign(&renewal(env)),
    });
    if let (Value::Object(d), Value::Object(extra)) = (&mut data, data_extra) {
        d.extend(extra);
    }
    json!({"notificationType": "SUBSCRIBED", "subtype": "INITIAL_BUY",
           "notificationUUID": "6f0d6a8e-1c7e-4a59-9f38-1b1d2c3e4f50", "version": "2.0",
           "signedDate": now_ms(), "data": data})
}

fn policy(env: Environment) -> Policy {
    Policy::single(AppRule {
        bundle_id: Some(BUNDLE.into()),
        app_apple_id: Some(APP_ID),
        environments: vec![env],
    })
}

fn status_of(token: &str) -> Status {
    verifier_for(chain())
        .verify_notification(token, &policy(Environment::Sandbox), At::SignedDate)
        .unwrap_err()
        .status()
}

fn good_token() -> String {
    chain().sign(&notification_with(chain(), "Sandbox", json!({})))
}

#[test]
fn a_correct_notification_verifies_with_its_nested_payloads() {
    let v = verifier_for(chain())
        .verify_notification(&good_token(), &policy(Environment::Sandbox), At::SignedDate)
        .unwrap();
    assert_eq!(
        v.transaction.as_ref().unwrap().value.product_id.as_deref(),
        Some("pro.monthly")
    );
    assert_eq!(
        v.renewal.as_ref().unwrap().value.environment,
        Some(Environment::Sandbox)
    );
    assert!(v.notification.verified_by.starts_with("sha256:"));
    let decoded = v.decoded_json();
    assert_eq!(decoded["data"]["transactionInfo"]["price"], 4990);
    assert_eq!(decoded["data"]["renewalInfo"]["autoRenewStatus"], 1);
}

#[test]
fn tampering_with_any_segment_fails() {
    let token = good_token();
    let parts: Vec<&str> = token.split('.').collect();
    let mut payload: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, parts[1])
            .unwrap(),
    )
    .unwrap();
    payload["notificationType"] = json!("REFUND");
    let tampered_payload = format!(
        "{}.{}.{}",
        parts[0],
        b64url(payload.to_string().as_bytes()),
        parts[2]
    );
    assert_eq!(status_of(&tampered_payload), Status::VerificationFailure);

    let header = json!({"alg": "ES256", "x5c": chain().x5c(), "typ": "JWT"});
    let tampered_header = format!(
        "{}.{}.{}",
        b64url(header.to_string().as_bytes()),
        parts[1],
        parts[2]
    );
    assert_eq!(status_of(&tampered_header), Status::VerificationFailure);

    let mut sig =
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, parts[2])
            .unwrap();
    sig[10] ^= 1;
    let tampered_sig = format!("{}.{}.{}", parts[0], parts[1], b64url(&sig));
    assert_eq!(status_of(&tampered_sig), Status::VerificationFailure);
}

#[test]
fn only_es256_is_accepted() {
    let payload = notification_with(chain(), "Sandbox", json!({})).to_string();
    for alg in ["none", "HS256", "ES384"] {
        let header = json!({"alg": alg, "x5c": chain().x5c()}).to_string();
        let token = chain().sign_raw(header.as_bytes(), payload.as_bytes());
        let err = verifier_for(chain())
            .verify_notification(&token, &policy(Environment::Sandbox), At::SignedDate)
            .unwrap_err();
        assert_eq!(err, VerifyError::Algorithm(alg.into()));
    }
}

#[test]
fn the_chain_must_hold_exactly_three_certificates() {
    let payload = notification_with(chain(), "Sandbox", json!({})).to_string();
    let x5c = chain().x5c();
    for n in [1usize, 2, 4] {
        let certs: Vec<String> = x5c.iter().cycle().take(n).cloned().collect();
        let header = json!({"alg": "ES256", "x5c": certs}).to_string();
        let token = chain().sign_raw(header.as_bytes(), payload.as_bytes());
        assert_eq!(
            status_of(&token),
            Status::InvalidChainLength,
            "{n} certificates"
        );
    }
}

#[test]
fn missing_apple_marker_oids_fail() {
    for spec in [
        ChainSpec {
            leaf_receipt_oid: false,
            ..ChainSpec::default()
        },
        ChainSpec {
            intermediate_wwdr_oid: false,
            ..ChainSpec::default()
        },
    ] {
        let c = DevChain::generate(&spec).unwrap();
        let token = c.sign(&notification_with(&c, "Sandbox", json!({})));
        let err = verifier_for(&c)
            .verify_notification(&token, &policy(Environment::Sandbox), At::SignedDate)
            .unwrap_err();
        assert_eq!(err.status(), Status::VerificationFailure);
        assert!(err.to_string().contains("lacks Apple's"), "{err}");
    }
}

#[test]
fn an_intermediate_that_is_not_a_ca_fails() {
    let c = DevChain::generate(&ChainSpec {
        intermediate_is_ca: false,
        ..ChainSpec::default()
    })
    .unwrap();
    let token = c.sign(&notification_with(&c, "Sandbox", json!({})));
    let err = verifier_for(&c)
        .verify_notification(&token, &policy(Environment::Sandbox), At::SignedDate)
        .unwrap_err();
    assert!(err.to_string().contains("not a CA"), "{err}");
}

#[test]
fn certificates_are_checked_at_the_effective_date() {
    let now = OffsetDateTime::now_utc();
    let c = DevChain::generate(&ChainSpec {
        leaf_not_before: now - Duration::days(30),
        leaf_not_after: now - Duration::days(10),
        ..ChainSpec::default()
    })
    .unwrap();
    let v = verifier_for(&c);
    let p = policy(Environment::Sandbox);
    let mut n = notification_with(&c, "Sandbox", json!({}));
    // Nested payloads signed while the leaf was valid.
    let signed_at = (now - Duration::days(20)).unix_timestamp() * 1000;
    let mut txn = transaction("Sandbox", BUNDLE);
    txn["signedDate"] = json!(signed_at);
    let mut ren = renewal("Sandbox");
    ren["signedDate"] = json!(signed_at);
    n["data"]["signedTransactionInfo"] = json!(c.sign(&txn));
    n["data"]["signedRenewalInfo"] = json!(c.sign(&ren));

    n["signedDate"] = json!(signed_at);
    let token = c.sign(&n);
    assert!(
        v.verify_notification(&token, &p, At::SignedDate).is_ok(),
        "valid at its signedDate"
    );
    // The same chain, now cached, must still be rejected at a date outside its window.
    let expired = v.verify_notification(&token, &p, At::Now).unwrap_err();
    assert!(expired.to_string().contains("not valid at"), "{expired}");
    assert_eq!(v.cached_chains(), 1);

    n["signedDate"] = json!(now_ms());
    assert!(
        v.verify_notification(&c.sign(&n), &p, At::SignedDate)
            .is_err(),
        "after notAfter"
    );
    n["signedDate"] = json!((now - Duration::days(40)).unix_timestamp() * 1000);
    assert!(
        v.verify_notification(&c.sign(&n), &p, At::SignedDate)
            .is_err(),
        "before notBefore"
    );
    n["signedDate"] = json!(signed_at);
    assert!(
        v.verify_notification(&c.sign(&n), &p, At::Fixed(now_ms()))
            .is_err(),
        "--at fixed"
    );
    // Without a signedDate the date is now, when this leaf has expired.
    n.as_object_mut().unwrap().remove("signedDate");
    assert!(
        v.verify_notification(&c.sign(&n), &p, At::SignedDate)
            .is_err(),
        "no signedDate"
    );
}

#[test]
fn a_chain_to_another_root_fails() {
    let other = DevChain::generate(&ChainSpec::default()).unwrap();
    let token = good_token();
    let err = verifier_for(&other)
        .verify_notification(&token, &policy(Environment::Sandbox), At::SignedDate)
        .unwrap_err();
    assert_eq!(err.status(), Status::VerificationFailure);
    // Apple's root does not accept development data either.
    assert!(
        Verifier::apple()
            .verify_notification(&token, &Policy::any(), At::SignedDate)
            .is_err()
    );
}

#[test]
fn a_swapped_chain_fails() {
    let x5c = chain().x5c();
    let swapped = vec![x5c[1].clone(), x5c[0].clone(), x5c[2].clone()];
    let header = json!({"alg": "ES256", "x5c": swapped}).to_string();
    let payload = notification_with(chain(), "Sandbox", json!({})).to_string();
    assert_eq!(
        status_of(&chain().sign_raw(header.as_bytes(), payload.as_bytes())),
        Status::VerificationFailure
    );
}

#[test]
fn a_third_entry_that_is_not_a_certificate_fails_even_after_the_chain_is_cached() {
    let verifier = verifier_for(chain());
    let payload = notification_with(chain(), "Sandbox", json!({})).to_string();
    let sign_with_third = |third: &str| {
        let mut x5c = chain().x5c();
        x5c[2] = third.to_string();
        let header = json!({"alg": "ES256", "x5c": x5c}).to_string();
        chain().sign_raw(header.as_bytes(), payload.as_bytes())
    };
    // The genuine chain verifies and is cached under its three entries.
    let good = sign_with_third(&chain().x5c()[2]);
    assert!(
        verifier
            .verify_notification(&good, &Policy::any(), At::SignedDate)
            .is_ok()
    );
    for third in ["!!not base64!!", "AAECAwQF", ""] {
        let err = verifier
            .verify_notification(&sign_with_third(third), &Policy::any(), At::SignedDate)
            .unwrap_err();
        assert!(
            matches!(err, VerifyError::Certificate { index: 2, .. }),
            "{third:?}: {err}"
        );
        assert_eq!(err.status(), Status::InvalidCertificate);
    }
}

#[test]
fn a_der_encoded_signature_fails() {
    let token = good_token();
    let parts: Vec<&str> = token.split('.').collect();
    let raw = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, parts[2])
        .unwrap();
    let der = der_signature(&raw[..32], &raw[32..]);
    let err = verifier_for(chain())
        .verify_notification(
            &format!("{}.{}.{}", parts[0], parts[1], b64url(&der)),
            &policy(Environment::Sandbox),
            At::SignedDate,
        )
        .unwrap_err();
    assert!(
        matches!(err, VerifyError::Signature(ref m) if m.contains("DER")),
        "{err}"
    );
}

fn der_signature(r: &[u8], s: &[u8]) -> Vec<u8> {
    let int = |x: &[u8]| {
        let x: Vec<u8> = x.iter().copied().skip_while(|&b| b == 0).collect();
        let mut v = if x.first().is_some_and(|&b| b & 0x80 != 0) {
            vec![0]
        } else {
            vec![]
        };
        v.extend(x);
        let mut out = vec![0x02, v.len() as u8];
        out.extend(v);
        out
    };
    let (r, s) = (int(r), int(s));
    let mut out = vec![0x30, (r.len() + s.len()) as u8];
    out.extend(r);
    out.extend(s);
    out
}

#[test]
fn identity_checks_follow_apples_order() {
    let v = verifier_for(chain());
    let token = good_token();
    let wrong_bundle = Policy::single(AppRule {
        bundle_id: Some("com.other".into()),
        ..AppRule::default()
    });
    let refused_with = |p: &Policy| {
        v.verify_notification(&token, p, At::SignedDate)
            .unwrap_err()
            .status()
    };
    assert_eq!(refused_with(&wrong_bundle), Status::InvalidAppIdentifier);
    // Production-only rule: the app id is compared (and fails) before the environment.
    let wrong_app = Policy::single(AppRule {
        bundle_id: Some(BUNDLE.into()),
        app_apple_id: Some(1),
        environments: vec![Environment::Production],
    });
    assert_eq!(refused_with(&wrong_app), Status::InvalidAppIdentifier);
    assert_eq!(
        refused_with(&policy(Environment::Production)),
        Status::InvalidEnvironment
    );
    // Sandbox does not compare the app id.
    let sandbox_other_app = Policy::single(AppRule {
        bundle_id: Some(BUNDLE.into()),
        app_apple_id: Some(1),
        environments: vec![Environment::Sandbox],
    });
    assert!(
        v.verify_notification(&token, &sandbox_other_app, At::SignedDate)
            .is_ok()
    );
}

#[test]
fn several_apps_pick_the_matching_rule() {
    let v = verifier_for(chain());
    let apps = Policy::new(vec![
        AppRule {
            bundle_id: Some("com.first".into()),
            app_apple_id: Some(1),
            environments: vec![Environment::Sandbox],
        },
        AppRule {
            bundle_id: Some(BUNDLE.into()),
            app_apple_id: Some(APP_ID),
            environments: vec![Environment::Production, Environment::Sandbox],
        },
    ]);
    assert_eq!(
        v.verify_notification(&good_token(), &apps, At::SignedDate)
            .unwrap()
            .app_index,
        1
    );
}

#[test]
fn forged_or_foreign_nested_payloads_fail_the_notification() {
    let v = verifier_for(chain());
    let p = policy(Environment::Sandbox);
    // A Sandbox notification around the `data` given, signed by the trusted chain.
    let sandbox_notification = |data| chain().sign(&notification_with(chain(), "Sandbox", data));
    let refusal = |n: &str| {
        v.verify_notification(n, &p, At::SignedDate)
            .unwrap_err()
            .status()
    };
    let forger = DevChain::generate(&ChainSpec::default()).unwrap();
    let forged = forger.sign(&transaction("Sandbox", BUNDLE));
    let n = sandbox_notification(json!({"signedTransactionInfo": forged}));
    let err = v.verify_notification(&n, &p, At::SignedDate).unwrap_err();
    assert!(
        matches!(
            err,
            VerifyError::Nested {
                field: "data.signedTransactionInfo",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(err.status(), Status::VerificationFailure);

    let other_bundle = chain().sign(&transaction("Sandbox", "com.other"));
    let n = sandbox_notification(json!({"signedTransactionInfo": other_bundle}));
    assert_eq!(refusal(&n), Status::InvalidAppIdentifier);

    let production = chain().sign(&renewal("Production"));
    let n = sandbox_notification(json!({"signedRenewalInfo": production}));
    assert_eq!(refusal(&n), Status::InvalidEnvironment);
    let mut lenient = p.clone();
    lenient.nested_environment_must_match = false;
    assert!(v.verify_notification(&n, &lenient, At::SignedDate).is_ok());

    let garbage = sandbox_notification(json!({"signedTransactionInfo": "not.a.jws"}));
    assert!(v.verify_notification(&garbage, &p, At::SignedDate).is_err());
}

#[test]
fn xcode_and_local_testing_data_is_never_accepted() {
    let v = verifier_for(chain());
    for env in ["Xcode", "LocalTesting"] {
        let token = chain().sign(&transaction(env, BUNDLE));
        for p in [
            Policy::any(),
            Policy::single(AppRule {
                environments: vec![Environment::from(env)],
                ..AppRule::default()
            }),
        ] {
            let err = v
                .verify_payload::<TransactionInfo>(&token, &p, At::SignedDate)
                .unwrap_err();
            assert_eq!(err.status(), Status::InvalidEnvironment, "{env}: {err}");
        }
    }
}

#[test]
fn other_containers_carry_identity() {
    let v = verifier_for(chain());
    let verify = |token: &str, env| v.verify_notification(token, &policy(env), At::SignedDate);
    let summary = json!({"notificationType": "RENEWAL_EXTENSION", "subtype": "SUMMARY", "notificationUUID": "u1",
        "signedDate": now_ms(), "summary": {"bundleId": BUNDLE, "appAppleId": APP_ID, "environment": "Sandbox",
        "productId": "p", "requestIdentifier": "r", "succeededCount": 3, "failedCount": 0}});
    assert!(verify(&chain().sign(&summary), Environment::Sandbox).is_ok());
    let token = json!({"notificationType": "EXTERNAL_PURCHASE_TOKEN", "subtype": "UNREPORTED", "notificationUUID": "u2",
        "signedDate": now_ms(), "externalPurchaseToken": {"externalPurchaseId": "SANDBOX_abc", "bundleId": BUNDLE,
        "appAppleId": APP_ID, "tokenCreationDate": now_ms()}});
    let token = chain().sign(&token);
    assert!(verify(&token, Environment::Sandbox).is_ok());
    assert_eq!(
        verify(&token, Environment::Production)
            .unwrap_err()
            .status(),
        Status::InvalidEnvironment
    );
    let app_txn = json!({"receiptType": "Sandbox", "bundleId": BUNDLE, "appAppleId": APP_ID, "receiptCreationDate": now_ms()});
    let rescind = json!({"notificationType": "RESCIND_CONSENT", "notificationUUID": "u3", "signedDate": now_ms(),
        "appData": {"bundleId": BUNDLE, "appAppleId": APP_ID, "environment": "Sandbox", "signedAppTransactionInfo": chain().sign(&app_txn)}});
    let v2 = verify(&chain().sign(&rescind), Environment::Sandbox).unwrap();
    assert_eq!(
        v2.app_transaction.unwrap().value.bundle_id.as_deref(),
        Some(BUNDLE)
    );
    let none =
        json!({"notificationType": "TEST", "notificationUUID": "u4", "signedDate": now_ms()});
    assert_eq!(
        verify(&chain().sign(&none), Environment::Sandbox)
            .unwrap_err()
            .status(),
        Status::InvalidAppIdentifier
    );
}

#[test]
fn unknown_types_and_fields_verify_and_are_kept() {
    let mut n = notification_with(chain(), "Sandbox", json!({"brandNewField": {"x": 1}}));
    n["notificationType"] = json!("SOMETHING_NEW_2027");
    n["anotherNewField"] = json!([1, 2]);
    let v = verifier_for(chain())
        .verify_notification(
            &chain().sign(&n),
            &policy(Environment::Sandbox),
            At::SignedDate,
        )
        .unwrap();
    assert!(
        !v.notification
            .value
            .notification_type
            .as_ref()
            .unwrap()
            .is_known()
    );
    assert_eq!(v.decoded_json()["anotherNewField"], json!([1, 2]));
    assert_eq!(v.decoded_json()["data"]["brandNewField"]["x"], 1);
}

#[test]
fn real_apple_data_verifies_with_the_built_in_root() {
    let v = Verifier::apple();
    let n = include_str!(
        "../../tests/fixtures/apple-real/notification_Production_da2c238f98534d21.jws"
    );
    let p = Policy::single(AppRule {
        bundle_id: Some("com.jrjj.keysns".into()),
        app_apple_id: Some(1_601_830_814),
        environments: vec![Environment::Production],
    });
    let ok = v.verify_notification(n, &p, At::SignedDate).unwrap();
    assert_eq!(ok.notification.verified_by, roots::APPLE_ROOT_LABEL);
    assert!(ok.transaction.is_some());
    let t =
        include_str!("../../tests/fixtures/apple-real/transaction_Sandbox_0cd9c84b20fde20a.jws");
    let tp = Policy::single(AppRule {
        bundle_id: Some("Com.VoiceRecording.Telephone".into()),
        app_apple_id: None,
        environments: vec![Environment::Sandbox],
    });
    assert!(
        v.verify_payload::<TransactionInfo>(t, &tp, At::SignedDate)
            .is_ok()
    );
    // Apple's own test root, which has no Authority Key Identifier, is accepted as a root.
    let test_root =
        TrustAnchor::from_der(include_bytes!("../../tests/fixtures/apple-mock/testCA.der"))
            .unwrap();
    let mock = include_str!("../../tests/fixtures/apple-mock/testNotification");
    let mp = Policy::single(AppRule {
        bundle_id: Some("com.example".into()),
        app_apple_id: Some(1234),
        environments: vec![Environment::Sandbox],
    });
    assert!(
        Verifier::new(RootSet::new(vec![test_root]))
            .verify_notification(mock, &mp, At::SignedDate)
            .is_ok()
    );
    assert!(v.verify_notification(mock, &mp, At::SignedDate).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(s in ".{0,2000}") {
        let v = verifier_for(chain());
        prop_assert!(v.verify_notification(&s, &Policy::any(), At::SignedDate).is_err());
    }

    #[test]
    fn truncated_and_mutated_tokens_never_panic(cut in 0usize..6000, flip in 0usize..6000, byte in any::<u8>()) {
        let token = good_token();
        let v = verifier_for(chain());
        let cut = cut.min(token.len());
        let _ = v.verify_notification(&token[..cut], &Policy::any(), At::SignedDate);
        let mut bytes = token.into_bytes();
        let i = flip % bytes.len();
        bytes[i] = byte;
        if let Ok(s) = String::from_utf8(bytes) {
            let _ = v.verify_notification(&s, &Policy::any(), At::SignedDate);
        }
    }
}

#[test]
fn huge_inputs_are_refused_without_work() {
    let huge = "a".repeat(jws::MAX_JWS_BYTES + 1);
    assert!(matches!(jws::parse(&huge), Err(VerifyError::Malformed(_))));
    let big_segments = format!(
        "{}.{}.{}",
        "A".repeat(400_000),
        "A".repeat(400_000),
        "A".repeat(100)
    );
    assert!(
        verifier_for(chain())
            .verify_notification(&big_segments, &Policy::any(), At::SignedDate)
            .is_err()
    );
}
