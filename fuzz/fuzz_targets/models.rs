//! The typed V2 models, read from any JSON: the notification payload, transaction, renewal info
//! and app transaction. What decodes must encode to the same JSON (`null` members aside: the
//! one thing the models do not keep) and decode again to the same value, so nothing Apple sends
//! is lost.
#![no_main]

use asnd::apple::models::{AppTransaction, NotificationPayload, RenewalInfo, TransactionInfo};
use asnd_fuzz::without_nulls;
use libfuzzer_sys::fuzz_target;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(json) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    round_trip::<NotificationPayload>(&json);
    round_trip::<TransactionInfo>(&json);
    round_trip::<RenewalInfo>(&json);
    round_trip::<AppTransaction>(&json);
    if let Ok(n) = serde_json::from_value::<NotificationPayload>(json.clone()) {
        // Reading the identity and the environment of any decoded payload is safe.
        let _ = n.identity();
        let _ = n.container_name();
        let _ = n.external_purchase_token.as_ref().map(|t| t.environment());
    }
});

fn round_trip<T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug>(json: &Value) {
    let Ok(value) = serde_json::from_value::<T>(json.clone()) else {
        return;
    };
    let encoded = serde_json::to_value(&value).expect("a decoded model encodes");
    assert_eq!(
        without_nulls(&encoded),
        without_nulls(json),
        "a field was lost or changed"
    );
    let again: T = serde_json::from_value(encoded.clone()).expect("an encoded model decodes");
    assert_eq!(again, value);
}
