//! The App Store Server API answers a receiver reads: Get Notification History (whose signed
//! payloads `backfill` verifies and whose attempts it stores), Request a Test Notification, Get
//! Test Notification Status, and the `Retry-After` header of a 429. Decoded answers encode to
//! the same JSON (`null` members aside) and decode again to the same value; a verified payload
//! re-verifies; a refusal names an Apple status; a wait never exceeds its cap.
#![no_main]

use std::time::Duration;

use asnd::apple::models::{
    CheckTestNotificationResponse, NotificationHistoryResponse, SendTestNotificationResponse,
};
use asnd::apple::{At, Policy};
use asnd::appstore_api::backfill::delivery_attempts;
use asnd::appstore_api::client::retry_after_wait;
use asnd_fuzz::{check_refusal, verifier, without_nulls};
use libfuzzer_sys::fuzz_target;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

const NOW_MS: i64 = 1_700_000_000_000;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        retry_after(text);
    }
    let Ok(json) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    round_trip::<SendTestNotificationResponse>(&json);
    round_trip::<CheckTestNotificationResponse>(&json);
    if let Some(history) = round_trip::<NotificationHistoryResponse>(&json) {
        for item in history.notification_history.iter().flatten() {
            let attempts = item.send_attempts.as_deref().unwrap_or_default();
            let rows = delivery_attempts(attempts);
            assert!(rows.len() <= attempts.len());
            let Some(jws) = item.signed_payload.as_deref().filter(|p| !p.is_empty()) else {
                continue;
            };
            match verifier().verify_notification(jws, &Policy::any(), At::SignedDate) {
                Ok(v) => {
                    let again = verifier()
                        .verify_notification(jws, &Policy::any(), At::SignedDate)
                        .expect("a verified payload verifies again");
                    assert_eq!(again.decoded_json(), v.decoded_json());
                }
                Err(e) => check_refusal(&e),
            }
        }
    }
});

fn round_trip<T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug>(
    json: &Value,
) -> Option<T> {
    let value = serde_json::from_value::<T>(json.clone()).ok()?;
    let encoded = serde_json::to_value(&value).expect("a decoded answer encodes");
    assert_eq!(
        without_nulls(&encoded),
        without_nulls(json),
        "a field was lost or changed"
    );
    let again: T = serde_json::from_value(encoded).expect("an encoded answer decodes");
    assert_eq!(again, value);
    Some(value)
}

fn retry_after(header: &str) {
    let cap = Duration::from_secs(300);
    if let Some(wait) = retry_after_wait(Some(header), NOW_MS, cap) {
        assert!(wait <= cap);
        assert!(
            header.trim().parse::<i64>().is_ok(),
            "a wait from {header:?}"
        );
    }
}
