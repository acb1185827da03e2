//! `cargo bench --bench verify`: verification speed on one core, for a notification with its two
//! nested payloads, signed by a chain shaped like Apple's (P-384 root and intermediate, P-256
//! leaf) made here, so the crypto costs are those of real traffic.
//! Prints, last and one per line: es256_verify, verify_cold and verify_warm.

use std::hint::black_box;
use std::time::{Duration, Instant};

use asnd::apple::devchain::{ChainSpec, DevChain};
use asnd::apple::models::Environment;
use asnd::apple::{AppRule, At, Policy, RootSet, TrustAnchor, Verifier};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, ParsedPublicKey};
use base64::Engine;
use serde_json::json;
use x509_parser::prelude::{FromDer, X509Certificate};

const RUN: Duration = Duration::from_secs(3);

/// Calls `f` repeatedly for `RUN` and returns calls per second.
fn rate(mut f: impl FnMut()) -> f64 {
    for _ in 0..50 {
        f();
    }
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < RUN {
        for _ in 0..20 {
            f();
        }
        n += 20;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let chain = DevChain::generate(&ChainSpec::default()).expect("chain");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    let txn = json!({"transactionId": "2000000123456789", "originalTransactionId": "2000000123456780",
        "webOrderLineItemId": "2000000055555555", "bundleId": "com.example.app", "productId": "pro.monthly",
        "subscriptionGroupIdentifier": "21000001", "purchaseDate": now - 1000, "originalPurchaseDate": now - 86_400_000,
        "expiresDate": now + 2_592_000_000i64, "quantity": 1, "type": "Auto-Renewable Subscription",
        "inAppOwnershipType": "PURCHASED", "signedDate": now, "environment": "Production",
        "transactionReason": "RENEWAL", "storefront": "USA", "storefrontId": "143441", "price": 9990, "currency": "USD",
        "appTransactionId": "704000000000000001"});
    let renewal = json!({"originalTransactionId": "2000000123456780", "autoRenewProductId": "pro.monthly",
        "productId": "pro.monthly", "autoRenewStatus": 1, "signedDate": now, "environment": "Production",
        "recentSubscriptionStartDate": now - 86_400_000, "renewalDate": now + 2_592_000_000i64,
        "renewalPrice": 9990, "currency": "USD", "appTransactionId": "704000000000000001"});
    let notification = json!({"notificationType": "DID_RENEW", "notificationUUID": "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0",
        "version": "2.0", "signedDate": now, "data": {"appAppleId": 1234567890, "bundleId": "com.example.app",
        "bundleVersion": "42", "environment": "Production", "status": 1,
        "signedTransactionInfo": chain.sign(&txn), "signedRenewalInfo": chain.sign(&renewal)}});
    let token = chain.sign(&notification);
    let verifier = Verifier::new(RootSet::new(vec![
        TrustAnchor::from_der(&chain.root_der).expect("root"),
    ]));
    let policy = Policy::single(AppRule {
        bundle_id: Some("com.example.app".into()),
        app_apple_id: Some(1234567890),
        environments: vec![Environment::Production],
    });
    verifier
        .verify_notification(&token, &policy, At::SignedDate)
        .expect("the bench notification verifies");

    // One bare ES256 check with the leaf key, the floor for each of the three signatures.
    let (_, leaf) = X509Certificate::from_der(&chain.leaf_der).expect("leaf");
    let key = ParsedPublicKey::new(
        &ECDSA_P256_SHA256_FIXED,
        leaf.public_key().subject_public_key.data.as_ref(),
    )
    .expect("key");
    let dot = token.rfind('.').expect("jws");
    let signature = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(&token[dot + 1..])
        .expect("sig");
    let es256 = rate(|| {
        key.verify_sig(black_box(&token.as_bytes()[..dot]), &signature)
            .expect("valid")
    });

    let cold = rate(|| {
        verifier.clear_cache();
        black_box(
            verifier
                .verify_notification(black_box(&token), &policy, At::SignedDate)
                .expect("valid"),
        );
    });
    let warm = rate(|| {
        black_box(
            verifier
                .verify_notification(black_box(&token), &policy, At::SignedDate)
                .expect("valid"),
        );
    });
    println!(
        "(limit for three ES256 checks per notification: {:.0} notifications/s)",
        es256 / 3.0
    );
    println!("es256_verify: {es256:.0} verifications/s");
    println!("verify_cold: {cold:.0} notifications/s");
    println!("verify_warm: {warm:.0} notifications/s");
}
