//! Any JSON object as a V2 notification payload, signed by the development chain (nested
//! `signedTransactionInfo`, `signedRenewalInfo` and `signedAppTransactionInfo` given as objects
//! are signed too), then verified as `serve` does. So the typed models and the identity checks
//! see payloads that pass the signature: accepted ones must keep every field, decode the nested
//! payloads beside their JWS and re-verify the same; refusals name an Apple status.
#![no_main]

use asnd::apple::models::Environment;
use asnd::apple::{AppRule, At, Policy};
use asnd_fuzz::{check_refusal, dev_chain, verifier};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};

const NESTED: [(&str, &str, &str); 3] = [
    ("data", "signedTransactionInfo", "transactionInfo"),
    ("data", "signedRenewalInfo", "renewalInfo"),
    ("appData", "signedAppTransactionInfo", "appTransactionInfo"),
];

fuzz_target!(|data: &[u8]| {
    let Ok(Value::Object(mut payload)) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    // Sign the nested objects; remember what was signed.
    let mut signed_nested: Vec<(&str, &str, &str, Map<String, Value>)> = Vec::new();
    for (container, field, decoded) in NESTED {
        if let Some(Value::Object(c)) = payload.get_mut(container)
            && let Some(Value::Object(inner)) = c.get(field)
        {
            let inner = inner.clone();
            c.insert(
                field.into(),
                Value::String(dev_chain().sign(&Value::Object(inner.clone()))),
            );
            signed_nested.push((container, field, decoded, inner));
        }
    }
    let token = dev_chain().sign(&Value::Object(payload.clone()));

    let configured = Policy::new(vec![
        AppRule {
            bundle_id: Some("com.example".into()),
            app_apple_id: Some(1234),
            environments: vec![Environment::Production, Environment::Sandbox],
        },
        AppRule {
            bundle_id: Some("com.example.sandbox".into()),
            app_apple_id: None,
            environments: vec![Environment::Sandbox],
        },
    ]);
    for policy in [Policy::any(), configured] {
        let verdict = verifier().verify_notification(&token, &policy, At::SignedDate);
        let again = verifier().verify_notification(&token, &policy, At::SignedDate);
        match (&verdict, &again) {
            (Ok(v), Ok(w)) => {
                assert_eq!(v.decoded_json(), w.decoded_json());
                // Every field is kept, as signed.
                assert_eq!(v.notification.json, payload);
                let rule = &policy.apps[v.app_index];
                let identity = v.notification.value.identity();
                if let Some(bundle) = &rule.bundle_id {
                    assert_eq!(identity.bundle_id.as_ref(), Some(bundle));
                }
                assert!(!matches!(
                    identity.environment,
                    Some(Environment::Xcode | Environment::LocalTesting)
                ));
                if !rule.environments.is_empty() {
                    let env = identity.environment.expect("an accepted environment");
                    assert!(rule.environments.contains(&env));
                }
                let decoded = v.decoded_json();
                let stored = v.stored_json();
                for (container, field, name, inner) in &signed_nested {
                    let verified = match *name {
                        "transactionInfo" => v.transaction.as_ref().map(|t| &t.json),
                        "renewalInfo" => v.renewal.as_ref().map(|t| &t.json),
                        _ => v.app_transaction.as_ref().map(|t| &t.json),
                    };
                    // A nested payload the typed container does not carry (e.g. the
                    // container is not an object the model reads) is not verified; one it
                    // carries is verified and decoded beside its JWS.
                    if let Some(json) = verified {
                        assert_eq!(json, inner);
                        assert_eq!(decoded[container][name], Value::Object(inner.clone()));
                        assert!(decoded[container].get(*field).is_some());
                        assert!(stored[container].get(*field).is_none());
                        assert_eq!(stored[container][name], Value::Object(inner.clone()));
                    }
                }
            }
            (Err(e), Err(f)) => {
                check_refusal(e);
                assert_eq!(e, f);
            }
            _ => panic!("the same token verified twice gives two verdicts"),
        }
    }
});
