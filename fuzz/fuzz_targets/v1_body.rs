//! A V1 body (unsigned JSON authenticated by the app's shared secret): checked and read as
//! `serve` does, stored without its password, and redacted for the quarantine when refused.
//! Accepted bodies came from a configured app with one of its secrets; no refusal, stored body
//! or quarantined body shows a configured secret.
#![no_main]

use asnd::apple::models::Environment;
use asnd::apple::v1::{self, MAX_ENTRIES, V1App};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// The secrets the seed corpus uses (`fuzz/seed-corpus`).
const SECRETS: [&str; 2] = ["fuzz-v1-secret-one", "fuzz-v1-secret-two"];

fn apps() -> Vec<V1App> {
    let both = ["Production".to_string(), "Sandbox".to_string()];
    vec![
        V1App::new("com.example", &both, &SECRETS.map(String::from)),
        V1App::new("com.example.sandbox", &both[1..], &[]),
    ]
}

fuzz_target!(|data: &[u8]| {
    let apps = apps();
    let quarantined = v1::redact_refused(data, &apps);
    for secret in SECRETS {
        assert!(
            !contains(&quarantined, secret.as_bytes()),
            "a quarantined body shows a secret"
        );
    }
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let (kept, stored) = v1::without_password(&body);
    assert!(!kept.contains_key("password"));
    assert_eq!(
        serde_json::from_slice::<Value>(&stored).ok(),
        Some(Value::Object(kept.clone()))
    );
    assert_eq!(
        v1::notification_uuid(&stored),
        v1::notification_uuid(&stored)
    );
    // Whether the secret shows anywhere but in `password` (then the sender put it there).
    let elsewhere = |secret: &str| contains(&stored, secret.as_bytes());

    match v1::verify(&body, &apps) {
        Ok(n) => {
            let app = &apps[n.app_index];
            assert_eq!(
                body.get("bid").and_then(Value::as_str),
                Some(app.bundle_id.as_str())
            );
            let password = body
                .get("password")
                .and_then(Value::as_str)
                .expect("a password");
            assert!(SECRETS.contains(&password) && app.bundle_id == "com.example");
            assert!(matches!(
                n.environment,
                Environment::Production | Environment::Sandbox
            ));
            assert!(app.environments.contains(&n.environment));
            assert!(!n.notification_type.is_empty());
            assert!(n.receipt.len() <= MAX_ENTRIES && n.pending_renewals.len() <= MAX_ENTRIES);
            if let Some(i) = n.main_entry() {
                assert!(n.receipt[i].transaction_id.is_some());
            }
            if let Some(subject) = n.subject() {
                let _ = n.state_date(&subject);
                let _ = n.latest_entry_of(&subject);
            }
            for renewal in &n.pending_renewals {
                if let Some(status) = n.subscription_status(renewal, 1_700_000_000_000) {
                    assert!((1..=5).contains(&status));
                }
            }
        }
        Err(e) => {
            let report = e.report();
            assert!(report.starts_with(&format!("{}: ", e.status().as_str())));
            if let Some(Value::String(password)) = body.get("password")
                && SECRETS.contains(&password.as_str())
                && !elsewhere(password)
            {
                assert!(
                    !report.contains(password.as_str()),
                    "a refusal shows the password"
                );
            }
        }
    }
});

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}
