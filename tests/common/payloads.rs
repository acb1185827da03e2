//! Realistic, mutually consistent V2 payloads for hand-made cases, and what the simulator's
//! catalogue (`asnd::simulate::CATALOG`) says about each notification type.

use asnd::simulate::Kind;
use serde_json::{Value, json};

use super::{APP_ID, BUNDLE, chain};

pub struct Sub {
    pub original_transaction_id: String,
    pub env: &'static str,
}

impl Sub {
    /// A subscription with a random original transaction id.
    pub fn random(env: &'static str) -> Sub {
        Sub {
            original_transaction_id: format!("{}", 1_000_000_000_000u64 + rand_u32() as u64),
            env,
        }
    }
}

pub fn rand_u32() -> u32 {
    uuid::Uuid::new_v4().as_u128() as u32
}

pub fn transaction(s: &Sub, transaction_id: &str, signed_date: i64, extra: Value) -> Value {
    let mut t = json!({
        "transactionId": transaction_id, "originalTransactionId": s.original_transaction_id,
        "webOrderLineItemId": format!("{transaction_id}9"), "bundleId": BUNDLE, "productId": "pro.monthly",
        "subscriptionGroupIdentifier": "21000001", "purchaseDate": signed_date - 5_000,
        "originalPurchaseDate": signed_date - 86_400_000, "expiresDate": signed_date + 2_592_000_000i64,
        "quantity": 1, "type": "Auto-Renewable Subscription", "inAppOwnershipType": "PURCHASED",
        "signedDate": signed_date, "environment": s.env, "transactionReason": "PURCHASE",
        "storefront": "USA", "storefrontId": "143441", "price": 9990, "currency": "USD",
        "appAccountToken": "7e3fb20b-4cdb-47cc-936d-99d65f608138"
    });
    merge(&mut t, extra);
    t
}

pub fn renewal(s: &Sub, signed_date: i64, extra: Value) -> Value {
    let mut r = json!({
        "originalTransactionId": s.original_transaction_id, "autoRenewProductId": "pro.monthly",
        "productId": "pro.monthly", "autoRenewStatus": 1, "signedDate": signed_date, "environment": s.env,
        "recentSubscriptionStartDate": signed_date - 86_400_000, "renewalDate": signed_date + 2_592_000_000i64,
        "renewalPrice": 9990, "currency": "USD"
    });
    merge(&mut r, extra);
    r
}

pub fn merge(target: &mut Value, extra: Value) {
    if let (Value::Object(t), Value::Object(e)) = (target, extra) {
        t.extend(e);
    }
}

/// A V2 notification with a `data` container, signed transaction and (for subscriptions) renewal info.
pub fn notification(
    kind: &str,
    subtype: Option<&str>,
    s: &Sub,
    transaction_id: &str,
    signed_date: i64,
    status: Option<i64>,
) -> Value {
    let mut data = json!({
        "appAppleId": APP_ID, "bundleId": BUNDLE, "bundleVersion": "42", "environment": s.env,
        "signedTransactionInfo": chain().sign(&transaction(s, transaction_id, signed_date, json!({}))),
        "signedRenewalInfo": chain().sign(&renewal(s, signed_date, json!({}))),
    });
    if let Some(st) = status {
        data["status"] = json!(st);
    }
    let mut n = json!({
        "notificationType": kind, "notificationUUID": uuid::Uuid::new_v4().to_string(),
        "version": "2.0", "signedDate": signed_date, "data": data
    });
    if let Some(sub) = subtype {
        n["subtype"] = json!(sub);
    }
    n
}

/// A `DID_RENEW` of a new Sandbox subscription, signed: its UUID and the request body.
pub fn signed_renewal() -> (String, String) {
    let s = Sub {
        original_transaction_id: format!("5{}", uuid::Uuid::new_v4().as_u128() % 1_000_000_000_000),
        env: "Sandbox",
    };
    let n = notification(
        "DID_RENEW",
        None,
        &s,
        &format!("6{}", uuid::Uuid::new_v4().as_u128() % 1_000_000_000_000),
        super::now_ms(),
        Some(1),
    );
    (
        n["notificationUUID"].as_str().unwrap().to_string(),
        json!({"signedPayload": chain().sign(&n)}).to_string(),
    )
}

/// The container a type's payload is in (§6.1): `data` unless the catalogue's type is one of the
/// three that carry another.
pub fn container_of(kind: &Kind) -> &'static str {
    match (kind.notification_type, kind.subtype) {
        ("RENEWAL_EXTENSION", Some("SUMMARY")) => "summary",
        ("EXTERNAL_PURCHASE_TOKEN", _) => "externalPurchaseToken",
        ("RESCIND_CONSENT", _) => "appData",
        _ => "data",
    }
}

/// Every type and subtype of the catalogue whose payload is in a `data` container.
pub fn data_kinds() -> Vec<Kind> {
    Kind::all()
        .into_iter()
        .filter(|k| container_of(k) == "data")
        .collect()
}

/// The subtypes the catalogue lists for `notification_type`.
pub fn subtypes_of(notification_type: &str) -> &'static [Option<&'static str>] {
    asnd::simulate::CATALOG
        .iter()
        .find(|(t, _)| *t == notification_type)
        .map(|(_, subtypes)| *subtypes)
        .unwrap_or_else(|| panic!("{notification_type} is not in the catalogue"))
}
