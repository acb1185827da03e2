//! The body a `format = "event"` destination receives: asnd's event JSON (docs/events.md).
//! Made from the stored notification when it is sent, so every attempt and every replay sends
//! the same bytes for the same event.

use serde_json::{Map, Value, json};

use crate::store::outbox::event_id;
use crate::store::reads::NotificationDetail;
use crate::time::format_ms;

/// The event JSON of a stored notification: who it is about, the decoded notification with its
/// nested payloads, and the transaction and subscription state it carries.
pub fn event_body(stored: &NotificationDetail) -> Vec<u8> {
    let payload = &stored.payload.0;
    let e = &stored.summary;
    // V2 puts the decoded nested payloads in `data` (or `appData`); V1 bodies have neither.
    let container = ["data", "appData"]
        .iter()
        .find_map(|c| payload.get(*c).and_then(Value::as_object));
    let nested = |key: &str| container.and_then(|c| c.get(key)).cloned();
    let status = container.and_then(|c| c.get("status")).cloned();
    let renewal_info = nested("renewalInfo");
    let subscription = (status.is_some() || renewal_info.is_some()).then(|| {
        let mut s = Map::new();
        s.insert(
            "original_transaction_id".into(),
            json!(e.original_transaction_id),
        );
        s.insert("status".into(), status.unwrap_or(Value::Null));
        s.insert("renewal_info".into(), renewal_info.unwrap_or(Value::Null));
        Value::Object(s)
    });
    let event = json!({
        "id": event_id(e.id),
        "sequence": e.id,
        "notification_uuid": e.notification_uuid,
        "notification_type": e.notification_type,
        "subtype": e.subtype,
        "environment": e.environment,
        "bundle_id": e.bundle_id,
        "original_transaction_id": e.original_transaction_id,
        "transaction_id": e.transaction_id,
        "signed_date": e.signed_date.map(format_ms),
        "received_at": format_ms(e.received_at),
        "verified_by": e.verified_by,
        "notification": payload,
        "transaction": nested("transactionInfo"),
        "subscription": subscription,
    });
    serde_json::to_vec(&event).unwrap_or_default()
}
