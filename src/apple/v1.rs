//! Version 1 notifications ([`responseBodyV1`](https://developer.apple.com/documentation/appstoreservernotifications/responsebodyv1)): unsigned JSON that Apple authenticates
//! only by the app's shared secret in `password`. Pure, no I/O: the checks in the order Apple's V1 documentation gives
//! (app, password, environment), the fields asnd stores, and the redaction that keeps the secret
//! out of storage.
//!
//! Apple documents most V1 values as strings (`"1612345678000"`), a few as numbers, and real bodies
//! are not consistent, so scalars are read leniently: a number where a string is expected and a
//! string of digits where a number is expected are both fine, and `null` or `""` is absent. Any
//! other type (an object where a date belongs, `unified_receipt` not an object, ...) is a model
//! error: the body is not the one Apple documents.

use aws_lc_rs::constant_time::verify_slices_are_equal;
use serde_json::{Map, Number, Value};
use uuid::Uuid;

use super::error::Status;
use super::models::Environment;
use crate::secret::Secret;
use crate::store::representable::holds_nul;

/// `verified_by` of a stored V1 notification.
pub const VERIFIED_BY: &str = "v1-shared-secret";
/// `version` of a stored V1 notification.
pub const VERSION: &str = "1";
/// Apple sends at most 100 `latest_receipt_info` entries; of a longer array (or
/// `pending_renewal_info`) only the first 100 are read. The rest stays in the stored payload.
pub const MAX_ENTRIES: usize = 100;
/// Namespace of the UUIDs derived from V1 bodies. Arbitrary, but fixed forever: the UUIDs of
/// stored notifications depend on it.
const UUID_NAMESPACE: Uuid = Uuid::from_u128(0x6173_6e64_7631_4e6f_7469_6669_6361_7469);

/// One V1 shared secret. `Debug` shows `<redacted>`, never the value.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SharedSecret(Secret<String>);

impl SharedSecret {
    pub fn new(secret: impl Into<String>) -> Self {
        SharedSecret(Secret::new(secret.into()))
    }

    /// Constant time in the content; the length may show, and Apple's secrets all have one length.
    fn matches(&self, given: &str) -> bool {
        verify_slices_are_equal(self.0.expose().as_bytes(), given.as_bytes()).is_ok()
    }
}

/// What one configured app accepts in V1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V1App {
    pub bundle_id: String,
    pub environments: Vec<Environment>,
    /// Several, so that a secret can be rotated; any one of them authenticates.
    pub secrets: Vec<SharedSecret>,
}

impl V1App {
    /// From configuration values: environments spelled "Production" and "Sandbox".
    pub fn new(bundle_id: &str, environments: &[String], secrets: &[String]) -> V1App {
        V1App {
            bundle_id: bundle_id.to_string(),
            environments: environments
                .iter()
                .map(|e| Environment::from(e.as_str()))
                .collect(),
            secrets: secrets.iter().map(SharedSecret::new).collect(),
        }
    }
}

impl From<&crate::config::AppConfig> for V1App {
    fn from(app: &crate::config::AppConfig) -> V1App {
        V1App {
            bundle_id: app.bundle_id.clone(),
            environments: app
                .environments
                .iter()
                .map(|e| Environment::from(e.as_str()))
                .collect(),
            secrets: app
                .v1_shared_secrets
                .iter()
                .map(|s| SharedSecret::new(s.expose().as_str()))
                .collect(),
        }
    }
}

/// Why a V1 body was refused. None of the messages ever contains the password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum V1Error {
    /// Missing, empty, or not a secret of the app: the sender is not authenticated (403).
    #[error("V1 password {0}")]
    Password(String),
    /// `bid` missing or not a configured app.
    #[error("app identifier mismatch: {0}")]
    App(String),
    /// `environment` unknown or not accepted by the app.
    #[error("environment mismatch: {0}")]
    Environment(String),
    /// Authenticated, but not the body Apple documents.
    #[error("V1 body does not match Apple's model: {0}")]
    Model(String),
}

impl V1Error {
    /// The closest of Apple's status names, for the quarantine's `reason`.
    pub fn status(&self) -> Status {
        match self {
            V1Error::Password(_) | V1Error::Model(_) => Status::VerificationFailure,
            V1Error::App(_) => Status::InvalidAppIdentifier,
            V1Error::Environment(_) => Status::InvalidEnvironment,
        }
    }

    /// `STATUS_NAME: detail`, as for V2.
    pub fn report(&self) -> String {
        format!("{}: {}", self.status(), self)
    }
}

/// An authenticated V1 notification, read.
#[derive(Debug, Clone, PartialEq)]
pub struct V1Notification {
    pub notification_type: String,
    pub bundle_id: String,
    /// `PROD` is Production.
    pub environment: Environment,
    /// Index of the accepting app in the list given to [`verify`].
    pub app_index: usize,
    pub original_transaction_id: Option<String>,
    /// Top-level `"true"`/`"false"`.
    pub auto_renew_status: Option<bool>,
    pub auto_renew_product_id: Option<String>,
    pub auto_renew_status_change_date: Option<i64>,
    pub expiration_intent: Option<i64>,
    /// `unified_receipt.latest_receipt_info`, at most [`MAX_ENTRIES`].
    pub receipt: Vec<ReceiptEntry>,
    /// `unified_receipt.pending_renewal_info`, at most [`MAX_ENTRIES`].
    pub pending_renewals: Vec<PendingRenewal>,
}

/// One `latest_receipt_info` entry: a transaction. Dates are milliseconds since the epoch.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReceiptEntry {
    pub transaction_id: Option<String>,
    pub original_transaction_id: Option<String>,
    pub product_id: Option<String>,
    pub purchase_date: Option<i64>,
    pub original_purchase_date: Option<i64>,
    pub expires_date: Option<i64>,
    /// A refund or a revocation (V2's `revocationDate`).
    pub cancellation_date: Option<i64>,
    /// 0 other, 1 an issue in the app (V2's `revocationReason`).
    pub cancellation_reason: Option<i64>,
    pub app_account_token: Option<String>,
    pub in_app_ownership_type: Option<String>,
    pub web_order_line_item_id: Option<String>,
    pub quantity: Option<i64>,
    /// V2's `offerType`: 1 introductory (or free trial), 2 promotional, 3 offer code.
    pub offer_type: Option<i64>,
    /// The promotional offer id or the offer code's reference name.
    pub offer_identifier: Option<String>,
    /// The entry as sent, every field kept.
    pub json: Map<String, Value>,
}

impl ReceiptEntry {
    /// The entry's latest event: its cancellation when it has one, else its purchase. A refund
    /// leaves the purchase date alone, so this is what orders a refunded copy after the plain one.
    pub fn event_date(&self) -> Option<i64> {
        self.purchase_date.max(self.cancellation_date)
    }
}

/// One `pending_renewal_info` entry: the renewal state of one subscription.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PendingRenewal {
    pub original_transaction_id: Option<String>,
    pub product_id: Option<String>,
    pub auto_renew_product_id: Option<String>,
    /// `"1"`/`"0"`.
    pub auto_renew_status: Option<bool>,
    pub expiration_intent: Option<i64>,
    pub grace_period_expires_date: Option<i64>,
    pub is_in_billing_retry_period: Option<bool>,
    /// The entry as sent, every field kept.
    pub json: Map<String, Value>,
}

/// Checks a V1 body in the order Apple's V1 documentation gives and reads it: `bid` must be a configured app
/// ([`V1Error::App`]), `password` one of that app's secrets ([`V1Error::Password`]), `environment`
/// one it accepts ([`V1Error::Environment`]); then the body must match Apple's model.
pub fn verify(body: &Map<String, Value>, apps: &[V1App]) -> Result<V1Notification, V1Error> {
    let bid = match body.get("bid") {
        Some(Value::String(b)) if !b.is_empty() => b,
        None | Some(Value::Null) => return Err(V1Error::App("bid is missing".into())),
        Some(Value::String(_)) => return Err(V1Error::App("bid is empty".into())),
        Some(other) => return Err(V1Error::App(format!("bid is {}", kind(other)))),
    };
    let (app_index, app) = apps
        .iter()
        .enumerate()
        .find(|(_, app)| app.bundle_id == *bid)
        .ok_or_else(|| V1Error::App(format!("bid {} is not a configured app", shown(bid))))?;
    check_password(body.get("password"), app)?;
    let environment = environment(body.get("environment"), app)?;
    read(body, app_index, environment)
}

fn check_password(given: Option<&Value>, app: &V1App) -> Result<(), V1Error> {
    let given = match given {
        None | Some(Value::Null) => return Err(V1Error::Password("is missing".into())),
        Some(Value::String(p)) if p.is_empty() => {
            return Err(V1Error::Password("is empty".into()));
        }
        Some(Value::String(p)) => p,
        Some(other) => return Err(V1Error::Password(format!("is {}", kind(other)))),
    };
    if app.secrets.is_empty() {
        return Err(V1Error::Password(format!(
            "cannot be checked: {:?} has no v1_shared_secrets configured",
            app.bundle_id
        )));
    }
    // Compare with every secret (no early exit), so timing does not tell which one matched.
    let matched = app
        .secrets
        .iter()
        .fold(false, |found, secret| secret.matches(given) | found);
    if matched {
        Ok(())
    } else {
        Err(V1Error::Password(format!(
            "does not match a V1 shared secret of {:?}",
            app.bundle_id
        )))
    }
}

/// V1 spells the environments `PROD` and `Sandbox`.
fn environment(given: Option<&Value>, app: &V1App) -> Result<Environment, V1Error> {
    let environment = match given {
        Some(Value::String(e)) if e == "PROD" => Environment::Production,
        Some(Value::String(e)) if e == "Sandbox" => Environment::Sandbox,
        Some(Value::String(e)) => {
            return Err(V1Error::Environment(format!(
                "environment {} is not a V1 environment (PROD or Sandbox)",
                shown(e)
            )));
        }
        None | Some(Value::Null) => {
            return Err(V1Error::Environment("environment is missing".into()));
        }
        Some(other) => {
            return Err(V1Error::Environment(format!(
                "environment is {}",
                kind(other)
            )));
        }
    };
    if !app.environments.contains(&environment) {
        return Err(V1Error::Environment(format!(
            "{:?} does not accept {environment} notifications",
            app.bundle_id
        )));
    }
    Ok(environment)
}

fn read(
    body: &Map<String, Value>,
    app_index: usize,
    environment: Environment,
) -> Result<V1Notification, V1Error> {
    if body
        .iter()
        .any(|(key, value)| key != "password" && (key.contains('\0') || holds_nul(value)))
    {
        // PostgreSQL can store neither in text nor in jsonb.
        return Err(V1Error::Model(
            "it contains a NUL character (\\u0000)".into(),
        ));
    }
    let notification_type = match body.get("notification_type") {
        Some(Value::String(t)) if !t.is_empty() => t.clone(),
        _ => {
            return Err(V1Error::Model(
                "notification_type is not a non-empty string".into(),
            ));
        }
    };
    let (receipt, pending_renewals) = match body.get("unified_receipt") {
        None | Some(Value::Null) => (Vec::new(), Vec::new()),
        Some(Value::Object(receipt)) => {
            check_receipt_environment(receipt, &environment)?;
            (
                entries(receipt, "latest_receipt_info", ReceiptEntry::read)?,
                entries(receipt, "pending_renewal_info", PendingRenewal::read)?,
            )
        }
        Some(other) => {
            return Err(V1Error::Model(format!(
                "unified_receipt is {}, expected an object",
                kind(other)
            )));
        }
    };
    let top = Fields::new(body, String::new());
    Ok(V1Notification {
        notification_type,
        bundle_id: top.text("bid")?.unwrap_or_default(),
        environment,
        app_index,
        original_transaction_id: top.text("original_transaction_id")?,
        auto_renew_status: top.flag("auto_renew_status")?,
        auto_renew_product_id: top.text("auto_renew_product_id")?,
        auto_renew_status_change_date: top.millis("auto_renew_status_change_date_ms")?,
        expiration_intent: top.code("expiration_intent")?,
        receipt,
        pending_renewals,
    })
}

/// `unified_receipt.environment` (spelled "Production"/"Sandbox") must agree with the top level,
/// as a V2 notification's nested payloads must: one environment's data never lands as the other's.
fn check_receipt_environment(
    receipt: &Map<String, Value>,
    environment: &Environment,
) -> Result<(), V1Error> {
    let inner = Fields::new(receipt, "unified_receipt.".into()).text("environment")?;
    match inner {
        Some(inner) if Environment::from(inner.as_str()) != *environment => {
            Err(V1Error::Environment(format!(
                "unified_receipt.environment {} is not the notification's {environment}",
                shown(&inner)
            )))
        }
        _ => Ok(()),
    }
}

type ReadEntry<T> = fn(&Map<String, Value>, String) -> Result<T, V1Error>;

/// The first [`MAX_ENTRIES`] objects of the array `receipt[key]`; absent is empty.
fn entries<T>(
    receipt: &Map<String, Value>,
    key: &str,
    read: ReadEntry<T>,
) -> Result<Vec<T>, V1Error> {
    match receipt.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .take(MAX_ENTRIES)
            .enumerate()
            .map(|(i, item)| {
                let at = format!("unified_receipt.{key}[{i}]");
                match item {
                    Value::Object(map) => read(map, format!("{at}.")),
                    other => Err(V1Error::Model(format!(
                        "{at} is {}, expected an object",
                        kind(other)
                    ))),
                }
            })
            .collect(),
        Some(other) => Err(V1Error::Model(format!(
            "unified_receipt.{key} is {}, expected an array",
            kind(other)
        ))),
    }
}

impl ReceiptEntry {
    fn read(map: &Map<String, Value>, at: String) -> Result<ReceiptEntry, V1Error> {
        let f = Fields::new(map, at);
        let promotional = f.text("promotional_offer_id")?;
        let offer_code = f.text("offer_code_ref_name")?;
        let introductory = f.flag("is_in_intro_offer_period")? == Some(true)
            || f.flag("is_trial_period")? == Some(true);
        let (offer_type, offer_identifier) = match (promotional, offer_code) {
            (Some(id), _) => (Some(2), Some(id)),
            (None, Some(code)) => (Some(3), Some(code)),
            (None, None) if introductory => (Some(1), None),
            (None, None) => (None, None),
        };
        Ok(ReceiptEntry {
            transaction_id: f.text("transaction_id")?,
            original_transaction_id: f.text("original_transaction_id")?,
            product_id: f.text("product_id")?,
            purchase_date: f.millis("purchase_date_ms")?,
            original_purchase_date: f.millis("original_purchase_date_ms")?,
            expires_date: f.millis("expires_date_ms")?,
            cancellation_date: f.millis("cancellation_date_ms")?,
            cancellation_reason: f.code("cancellation_reason")?,
            app_account_token: f.text("app_account_token")?,
            in_app_ownership_type: f.text("in_app_ownership_type")?,
            web_order_line_item_id: f.text("web_order_line_item_id")?,
            quantity: f.integer("quantity")?,
            offer_type,
            offer_identifier,
            json: map.clone(),
        })
    }
}

impl PendingRenewal {
    fn read(map: &Map<String, Value>, at: String) -> Result<PendingRenewal, V1Error> {
        let f = Fields::new(map, at);
        Ok(PendingRenewal {
            original_transaction_id: f.text("original_transaction_id")?,
            product_id: f.text("product_id")?,
            auto_renew_product_id: f.text("auto_renew_product_id")?,
            auto_renew_status: f.flag("auto_renew_status")?,
            expiration_intent: f.code("expiration_intent")?,
            grace_period_expires_date: f.millis("grace_period_expires_date_ms")?,
            is_in_billing_retry_period: f.flag("is_in_billing_retry_period")?,
            json: map.clone(),
        })
    }
}

impl V1Notification {
    /// Index in [`Self::receipt`] of the transaction the notification is about: the latest
    /// purchase (with a `transaction_id`) of its original transaction, or of all entries when
    /// the body names none.
    pub fn main_entry(&self) -> Option<usize> {
        let latest = |of: Option<&str>| {
            self.receipt
                .iter()
                .enumerate()
                .filter(|(_, e)| e.transaction_id.is_some())
                .filter(|(_, e)| of.is_none() || e.original_transaction_id.as_deref() == of)
                .max_by_key(|(_, e)| e.purchase_date)
                .map(|(i, _)| i)
        };
        match self.original_transaction_id.as_deref() {
            Some(original) => latest(Some(original)).or_else(|| latest(None)),
            None => latest(None),
        }
    }

    /// The original transaction the notification is about: the top-level field, else that of its
    /// main entry, else that of the first renewal info.
    pub fn subject(&self) -> Option<String> {
        self.original_transaction_id
            .clone()
            .or_else(|| {
                self.main_entry()
                    .and_then(|i| self.receipt[i].original_transaction_id.clone())
            })
            .or_else(|| {
                self.pending_renewals
                    .iter()
                    .find_map(|r| r.original_transaction_id.clone())
            })
    }

    /// The latest purchase of one original transaction.
    pub fn latest_entry_of(&self, original: &str) -> Option<&ReceiptEntry> {
        self.receipt
            .iter()
            .filter(|e| e.original_transaction_id.as_deref() == Some(original))
            .max_by_key(|e| e.purchase_date)
    }

    /// When this body last saw the subscription change, for the newest-wins rule (V1 is not
    /// signed, so there is no signing date): the latest purchase or refund among its entries and,
    /// for the subscription the notification is about, the auto-renew status change. A status
    /// change or a refund moves no purchase date, so purchases alone could not order them.
    pub fn state_date(&self, original: &str) -> Option<i64> {
        let events = self
            .receipt
            .iter()
            .filter(|e| e.original_transaction_id.as_deref() == Some(original))
            .filter_map(ReceiptEntry::event_date);
        let renew_change = self
            .auto_renew_status_change_date
            .filter(|_| self.original_transaction_id.as_deref() == Some(original));
        events.chain(renew_change).max()
    }

    /// V2's subscription `status` (1 active, 2 expired, 3 billing retry, 4 grace period,
    /// 5 revoked), which V1 does not send, derived as of `at` from the latest entry and the
    /// renewal info. `None` when there is not enough to tell.
    pub fn subscription_status(&self, renewal: &PendingRenewal, at: i64) -> Option<i64> {
        let latest = self.latest_entry_of(renewal.original_transaction_id.as_deref()?);
        if latest.is_some_and(|e| e.cancellation_date.is_some()) {
            return Some(5);
        }
        if renewal.is_in_billing_retry_period == Some(true) {
            let in_grace = renewal.grace_period_expires_date.is_some_and(|g| g > at);
            return Some(if in_grace { 4 } else { 3 });
        }
        let expires = latest?.expires_date?;
        Some(if expires > at { 1 } else { 2 })
    }
}

/// The body as stored: every key but `password`, in the order received, and its bytes (compact
/// JSON). What is kept of a V1 notification is the received body minus the password.
pub fn without_password(body: &Map<String, Value>) -> (Map<String, Value>, Vec<u8>) {
    let kept: Map<String, Value> = body
        .iter()
        .filter(|(key, _)| key.as_str() != "password")
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    let bytes = Value::Object(kept.clone()).to_string().into_bytes();
    (kept, bytes)
}

/// V1 has no notification UUID: derive one (UUIDv5) from the stored bytes, so that Apple's retry
/// of the same body is a duplicate. The password is not part of them, so a retry sent after the
/// secret was rotated is a duplicate too.
pub fn notification_uuid(stored_body: &[u8]) -> String {
    Uuid::new_v5(&UUID_NAMESPACE, stored_body).to_string()
}

/// A refused body as it may be kept in quarantine: a JSON object loses its `password`, and any
/// configured secret still in the bytes (a body that is not JSON, a secret in another field) is
/// replaced by `***`. Other bodies are kept exactly.
pub fn redact_refused(body: &[u8], apps: &[V1App]) -> Vec<u8> {
    let mut bytes = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) if map.contains_key("password") => without_password(&map).1,
        _ => body.to_vec(),
    };
    for secret in apps.iter().flat_map(|app| &app.secrets) {
        bytes = replace_all(&bytes, secret.0.expose().as_bytes(), b"***");
    }
    bytes
}

fn replace_all(haystack: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    if needle.is_empty() {
        return haystack.to_vec();
    }
    let mut out = Vec::with_capacity(haystack.len());
    let mut rest = haystack;
    while !rest.is_empty() {
        if rest.starts_with(needle) {
            out.extend_from_slice(with);
            rest = &rest[needle.len()..];
        } else {
            out.push(rest[0]);
            rest = &rest[1..];
        }
    }
    out
}

/// Lenient readers of one JSON object's scalars; errors name the field by its path (`at`).
struct Fields<'a> {
    map: &'a Map<String, Value>,
    at: String,
}

impl<'a> Fields<'a> {
    fn new(map: &'a Map<String, Value>, at: String) -> Self {
        Fields { map, at }
    }

    /// The value, unless absent, `null` or `""`.
    fn get(&self, key: &str) -> Option<&'a Value> {
        self.map
            .get(key)
            .filter(|v| !v.is_null() && v.as_str() != Some(""))
    }

    fn wrong(&self, key: &str, problem: String) -> V1Error {
        V1Error::Model(format!("{}{key} {problem}", self.at))
    }

    /// A string, or a number written out (`original_transaction_id` comes as either).
    fn text(&self, key: &str) -> Result<Option<String>, V1Error> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(number_text(n))),
            Some(other) => Err(self.wrong(key, format!("is {}, expected a string", kind(other)))),
        }
    }

    /// A whole number, or a string of one.
    fn integer(&self, key: &str) -> Result<Option<i64>, V1Error> {
        let parsed = match self.get(key) {
            None => return Ok(None),
            Some(Value::Number(n)) => whole(n),
            Some(Value::String(s)) => s.trim().parse::<i64>().ok(),
            Some(other) => {
                return Err(self.wrong(key, format!("is {}, expected a number", kind(other))));
            }
        };
        parsed
            .map(Some)
            .ok_or_else(|| self.wrong(key, "is not a whole number in range".into()))
    }

    /// A small code (a reason, an intent): the databases keep these in 32-bit columns.
    fn code(&self, key: &str) -> Result<Option<i64>, V1Error> {
        match self.integer(key)? {
            Some(n) if i32::try_from(n).is_err() => {
                Err(self.wrong(key, "is out of range for a code".into()))
            }
            n => Ok(n),
        }
    }

    /// Milliseconds since the epoch, between 1970 and 9999.
    fn millis(&self, key: &str) -> Result<Option<i64>, V1Error> {
        match self.integer(key)? {
            Some(ms) if !crate::time::is_storable_ms(ms) => Err(self.wrong(
                key,
                "is not a date in milliseconds between 1970 and 9999".into(),
            )),
            ms => Ok(ms),
        }
    }

    /// `"1"`/`"0"`, `"true"`/`"false"` (Apple uses both spellings), or a JSON boolean or 0/1.
    fn flag(&self, key: &str) -> Result<Option<bool>, V1Error> {
        let flag = match self.get(key) {
            None => return Ok(None),
            Some(Value::Bool(b)) => Some(*b),
            Some(Value::Number(n)) => match n.as_i64() {
                Some(1) => Some(true),
                Some(0) => Some(false),
                _ => None,
            },
            Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
                "1" | "true" => Some(true),
                "0" | "false" => Some(false),
                _ => None,
            },
            Some(_) => None,
        };
        flag.map(Some).ok_or_else(|| {
            self.wrong(
                key,
                "is not a flag (\"1\"/\"0\" or \"true\"/\"false\")".into(),
            )
        })
    }
}

/// A JSON number as an `i64`, when it is whole and fits.
fn whole(n: &Number) -> Option<i64> {
    n.as_i64().or_else(|| {
        n.as_f64()
            .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
            .map(|f| f as i64)
    })
}

/// A number as text: `1000000123456789`, not `1.000000123456789e15`.
fn number_text(n: &Number) -> String {
    match (n.as_u64(), whole(n)) {
        (Some(u), _) => u.to_string(),
        (None, Some(i)) => i.to_string(),
        (None, None) => n.to_string(),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A value from the body, safe for a one-line reason: quoted, escaped, at most 100 characters.
fn shown(value: &str) -> String {
    let mut short: String = value.chars().take(100).collect();
    if short.len() < value.len() {
        short.push('…');
    }
    format!("{short:?}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";
    const ROTATED: &str = "fedcba9876543210fedcba9876543210";

    fn apps() -> Vec<V1App> {
        vec![
            V1App::new("com.other.app", &["Sandbox".into()], &["x".repeat(32)]),
            V1App::new(
                "com.example.app",
                &["Production".into(), "Sandbox".into()],
                &[SECRET.into(), ROTATED.into()],
            ),
        ]
    }

    fn body(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => panic!("not an object"),
        }
    }

    /// A realistic DID_RENEW: two purchases of one subscription, one renewal info.
    fn renewal_body() -> Value {
        json!({
            "notification_type": "DID_RENEW", "password": SECRET, "environment": "PROD",
            "bid": "com.example.app", "bvrs": "42", "auto_renew_status": "true",
            "auto_renew_product_id": "pro.monthly", "auto_renew_adam_id": "1500000001",
            "auto_renew_status_change_date_ms": "1700000000000",
            "original_transaction_id": "1000000000000001",
            "unified_receipt": {
                "environment": "Production", "status": 0, "latest_receipt": "TUlJ",
                "latest_receipt_info": [
                    {"transaction_id": "1000000000000002", "original_transaction_id": "1000000000000001",
                     "product_id": "pro.monthly", "purchase_date_ms": "1702592000000",
                     "original_purchase_date_ms": "1700000000000", "expires_date_ms": "1705184000000",
                     "web_order_line_item_id": "1000000050000002", "quantity": "1",
                     "is_trial_period": "false", "is_in_intro_offer_period": "false",
                     "in_app_ownership_type": "PURCHASED"},
                    {"transaction_id": "1000000000000001", "original_transaction_id": "1000000000000001",
                     "product_id": "pro.monthly", "purchase_date_ms": "1700000000000",
                     "original_purchase_date_ms": "1700000000000", "expires_date_ms": "1702592000000",
                     "quantity": "1", "is_trial_period": "true", "in_app_ownership_type": "PURCHASED"}
                ],
                "pending_renewal_info": [
                    {"auto_renew_product_id": "pro.monthly", "auto_renew_status": "1",
                     "original_transaction_id": "1000000000000001", "product_id": "pro.monthly"}
                ]
            }
        })
    }

    #[test]
    fn reads_a_realistic_body() {
        let n = verify(&body(renewal_body()), &apps()).unwrap();
        assert_eq!(n.notification_type, "DID_RENEW");
        assert_eq!(n.bundle_id, "com.example.app");
        assert_eq!(n.environment, Environment::Production);
        assert_eq!(n.app_index, 1);
        assert_eq!(
            n.original_transaction_id.as_deref(),
            Some("1000000000000001")
        );
        assert_eq!(n.auto_renew_status, Some(true));
        assert_eq!(n.auto_renew_status_change_date, Some(1_700_000_000_000));
        assert_eq!(n.receipt.len(), 2);
        let latest = &n.receipt[0];
        assert_eq!(latest.purchase_date, Some(1_702_592_000_000));
        assert_eq!(latest.expires_date, Some(1_705_184_000_000));
        assert_eq!(latest.quantity, Some(1));
        assert_eq!(latest.offer_type, None);
        assert_eq!(
            n.receipt[1].offer_type,
            Some(1),
            "a free trial is an introductory offer"
        );
        assert_eq!(n.main_entry(), Some(0));
        assert_eq!(n.subject().as_deref(), Some("1000000000000001"));
        assert_eq!(n.pending_renewals[0].auto_renew_status, Some(true));
        assert_eq!(n.state_date("1000000000000001"), Some(1_702_592_000_000));
        assert_eq!(n.state_date("nobody"), None);
        let renewal = &n.pending_renewals[0];
        assert_eq!(n.subscription_status(renewal, 1_703_000_000_000), Some(1));
        assert_eq!(n.subscription_status(renewal, 1_706_000_000_000), Some(2));
    }

    #[test]
    fn password_is_checked_in_constant_time_against_every_secret() {
        let apps = apps();
        let app = &apps[1];
        assert!(check_password(Some(&json!(SECRET)), app).is_ok());
        assert!(check_password(Some(&json!(ROTATED)), app).is_ok());
        assert!(SharedSecret::new(SECRET).matches(SECRET));
        assert!(!SharedSecret::new(SECRET).matches(&SECRET[..31]));
        assert!(!SharedSecret::new(SECRET).matches(&format!("{SECRET}0")));
        assert!(!SharedSecret::new(SECRET).matches(&SECRET.to_uppercase()));
        for (given, why) in [
            (None, "is missing"),
            (Some(json!(null)), "is missing"),
            (Some(json!("")), "is empty"),
            (Some(json!(12345)), "is a number"),
            (Some(json!([SECRET])), "is an array"),
            (Some(json!("x".repeat(32))), "does not match"),
            (Some(json!(format!("{SECRET} "))), "does not match"),
        ] {
            let err = check_password(given.as_ref(), app).unwrap_err();
            assert!(matches!(err, V1Error::Password(_)), "{err:?}");
            let report = err.report();
            assert!(report.contains(why), "{report}");
            assert!(
                !report.contains(SECRET) && !report.contains(ROTATED),
                "{report}"
            );
        }
        // The other app's secret does not open this app.
        let mut b = body(renewal_body());
        b.insert("password".into(), json!("x".repeat(32)));
        assert!(matches!(verify(&b, &apps), Err(V1Error::Password(_))));
        // An app without V1 secrets refuses every password.
        let bare = V1App::new("com.example.app", &["Sandbox".into()], &[]);
        let err = check_password(Some(&json!(SECRET)), &bare).unwrap_err();
        assert!(err.to_string().contains("no v1_shared_secrets"), "{err}");
        let debug = format!("{apps:?}");
        assert!(
            !debug.contains(SECRET) && !debug.contains(ROTATED),
            "{debug}"
        );
    }

    #[test]
    fn app_then_password_then_environment() {
        let apps = apps();
        // An unknown bid is refused before the password is looked at.
        let mut b = body(renewal_body());
        b.insert("bid".into(), json!("com.unknown"));
        b.remove("password");
        let err = verify(&b, &apps).unwrap_err();
        assert_eq!(
            err.report(),
            "INVALID_APP_IDENTIFIER: app identifier mismatch: bid \"com.unknown\" is not a configured app"
        );
        for bid in [json!(null), json!(""), json!(7)] {
            let mut b = body(renewal_body());
            b.insert("bid".into(), bid);
            assert!(matches!(verify(&b, &apps), Err(V1Error::App(_))));
        }
        // A wrong password is refused before the environment is looked at.
        let mut b = body(renewal_body());
        b.insert("password".into(), json!("wrong"));
        b.insert("environment".into(), json!("Xcode"));
        assert!(matches!(verify(&b, &apps), Err(V1Error::Password(_))));
        // Environments: PROD and Sandbox only, and only those the app accepts.
        let mut b = body(renewal_body());
        b.insert("environment".into(), json!("Sandbox"));
        b["unified_receipt"]["environment"] = json!("Sandbox");
        assert_eq!(verify(&b, &apps).unwrap().environment, Environment::Sandbox);
        for env in [json!("Production"), json!("prod"), json!(null), json!(1)] {
            let mut b = body(renewal_body());
            b.insert("environment".into(), env.clone());
            let err = verify(&b, &apps).unwrap_err();
            assert!(
                err.report().starts_with("INVALID_ENVIRONMENT: "),
                "{env}: {err}"
            );
        }
        let sandbox_only = vec![V1App::new(
            "com.example.app",
            &["Sandbox".into()],
            &[SECRET.into()],
        )];
        let err = verify(&body(renewal_body()), &sandbox_only).unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment mismatch: \"com.example.app\" does not accept Production notifications"
        );
        // The receipt's own environment must agree.
        let mut b = body(renewal_body());
        b["unified_receipt"]["environment"] = json!("Sandbox");
        assert!(matches!(verify(&b, &apps), Err(V1Error::Environment(_))));
    }

    #[test]
    fn numbers_and_strings_are_interchangeable() {
        let mut b = body(renewal_body());
        b.insert(
            "original_transaction_id".into(),
            json!(1_000_000_000_000_001u64),
        );
        b.insert("expiration_intent".into(), json!("1"));
        let entry = &mut b["unified_receipt"]["latest_receipt_info"][0];
        entry["transaction_id"] = json!(1_000_000_000_000_002u64);
        entry["purchase_date_ms"] = json!(1_702_592_000_000i64);
        entry["expires_date_ms"] = json!(1.705184e12);
        entry["quantity"] = json!(1);
        entry["cancellation_reason"] = json!(1);
        entry["cancellation_date_ms"] = json!("1703000000000");
        entry["is_in_intro_offer_period"] = json!(true);
        let renewal = &mut b["unified_receipt"]["pending_renewal_info"][0];
        renewal["auto_renew_status"] = json!(0);
        renewal["is_in_billing_retry_period"] = json!("0");
        renewal["expiration_intent"] = json!(2);
        let n = verify(&b, &apps()).unwrap();
        assert_eq!(
            n.original_transaction_id.as_deref(),
            Some("1000000000000001")
        );
        assert_eq!(n.expiration_intent, Some(1));
        let e = &n.receipt[0];
        assert_eq!(e.transaction_id.as_deref(), Some("1000000000000002"));
        assert_eq!(e.expires_date, Some(1_705_184_000_000));
        assert_eq!(e.cancellation_date, Some(1_703_000_000_000));
        assert_eq!(e.event_date(), Some(1_703_000_000_000));
        assert_eq!(e.offer_type, Some(1));
        let r = &n.pending_renewals[0];
        assert_eq!(
            (
                r.auto_renew_status,
                r.is_in_billing_retry_period,
                r.expiration_intent
            ),
            (Some(false), Some(false), Some(2))
        );
        assert_eq!(n.subscription_status(r, 0), Some(5), "refunded: revoked");
    }

    #[test]
    fn optional_fields_may_be_missing() {
        let minimal = json!({"notification_type": "CONSUMPTION_REQUEST", "password": SECRET,
                             "environment": "Sandbox", "bid": "com.example.app"});
        let n = verify(&body(minimal), &apps()).unwrap();
        assert!(n.receipt.is_empty() && n.pending_renewals.is_empty());
        assert_eq!((n.main_entry(), n.subject()), (None, None));
        let sparse = json!({"notification_type": "DID_RENEW", "password": SECRET,
            "environment": "Sandbox", "bid": "com.example.app",
            "unified_receipt": {"latest_receipt_info": [{}, {"transaction_id": "9", "purchase_date_ms": ""}],
                                "pending_renewal_info": [{"original_transaction_id": null}]}});
        let n = verify(&body(sparse), &apps()).unwrap();
        assert_eq!(n.receipt.len(), 2);
        assert_eq!(n.receipt[1].purchase_date, None);
        assert_eq!(n.subscription_status(&n.pending_renewals[0], 0), None);
    }

    #[test]
    fn wrong_shapes_are_model_errors() {
        let cases: Vec<(Value, &str)> = vec![
            (json!("a string"), "unified_receipt is a string"),
            (
                json!({"latest_receipt_info": {}}),
                "latest_receipt_info is an object",
            ),
            (
                json!({"latest_receipt_info": [1]}),
                "latest_receipt_info[0] is a number",
            ),
            (
                json!({"pending_renewal_info": "x"}),
                "pending_renewal_info is a string",
            ),
            (
                json!({"latest_receipt_info": [{"purchase_date_ms": "soon"}]}),
                "purchase_date_ms is not a whole number",
            ),
            (
                json!({"latest_receipt_info": [{"purchase_date_ms": {}}]}),
                "purchase_date_ms is an object",
            ),
            (
                json!({"latest_receipt_info": [{"expires_date_ms": "99999999999999999"}]}),
                "between 1970 and 9999",
            ),
            (
                json!({"latest_receipt_info": [{"expires_date_ms": -1}]}),
                "between 1970 and 9999",
            ),
            (
                json!({"latest_receipt_info": [{"transaction_id": ["1"]}]}),
                "transaction_id is an array",
            ),
            (
                json!({"latest_receipt_info": [{"cancellation_reason": "99999999999"}]}),
                "out of range",
            ),
            (
                json!({"latest_receipt_info": [{"quantity": 1.5}]}),
                "quantity is not a whole number",
            ),
            (
                json!({"pending_renewal_info": [{"is_in_billing_retry_period": "maybe"}]}),
                "is not a flag",
            ),
            (
                json!({"latest_receipt_info": [{"product_id": "a\u{0}b"}]}),
                "NUL",
            ),
        ];
        for (receipt, expected) in cases {
            let mut b = body(renewal_body());
            b.insert("unified_receipt".into(), receipt.clone());
            let err = verify(&b, &apps()).unwrap_err();
            assert!(matches!(err, V1Error::Model(_)), "{receipt}: {err:?}");
            assert!(err.to_string().contains(expected), "{receipt}: {err}");
        }
        let mut b = body(renewal_body());
        b.insert("notification_type".into(), json!(5));
        assert!(matches!(verify(&b, &apps()), Err(V1Error::Model(_))));
    }

    #[test]
    fn oversized_arrays_are_capped() {
        let mut b = body(renewal_body());
        let many: Vec<Value> = (0..10_000)
            .map(|i| json!({"transaction_id": format!("{i}"), "purchase_date_ms": i}))
            .collect();
        b["unified_receipt"]["latest_receipt_info"] = Value::Array(many.clone());
        b["unified_receipt"]["pending_renewal_info"] = Value::Array(many);
        let n = verify(&b, &apps()).unwrap();
        assert_eq!(n.receipt.len(), MAX_ENTRIES);
        assert_eq!(n.pending_renewals.len(), MAX_ENTRIES);
        assert_eq!(n.receipt[99].transaction_id.as_deref(), Some("99"));
        // Entries past the cap are not read, so their shape does not matter.
        b["unified_receipt"]["latest_receipt_info"][5_000] = json!("junk");
        assert!(verify(&b, &apps()).is_ok());
    }

    #[test]
    fn subscription_status_is_derived() {
        let mut n = verify(&body(renewal_body()), &apps()).unwrap();
        let at = 1_703_000_000_000;
        let mut r = n.pending_renewals[0].clone();
        r.is_in_billing_retry_period = Some(true);
        assert_eq!(n.subscription_status(&r, at), Some(3));
        r.grace_period_expires_date = Some(at + 1);
        assert_eq!(n.subscription_status(&r, at), Some(4));
        r.grace_period_expires_date = Some(at);
        assert_eq!(n.subscription_status(&r, at), Some(3));
        n.receipt[0].cancellation_date = Some(at);
        assert_eq!(n.subscription_status(&r, at), Some(5));
        assert_eq!(n.state_date("1000000000000001"), Some(1_703_000_000_000));
    }

    #[test]
    fn stored_body_has_no_password_and_a_stable_uuid() {
        let b = body(renewal_body());
        let (kept, bytes) = without_password(&b);
        assert!(!kept.contains_key("password"));
        assert_eq!(kept.len(), b.len() - 1);
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(!text.contains(SECRET), "{text}");
        assert!(
            text.starts_with(r#"{"notification_type":"DID_RENEW","environment":"PROD""#),
            "{text}"
        );
        // The password does not change the UUID; anything else does.
        let mut rotated = b.clone();
        rotated.insert("password".into(), json!(ROTATED));
        assert_eq!(
            notification_uuid(&bytes),
            notification_uuid(&without_password(&rotated).1)
        );
        let mut other = b.clone();
        other.insert("bvrs".into(), json!("43"));
        assert_ne!(
            notification_uuid(&bytes),
            notification_uuid(&without_password(&other).1)
        );
        let uuid = notification_uuid(&bytes);
        assert_eq!(uuid.len(), 36);
        assert_eq!(&uuid[14..15], "5", "a version 5 UUID: {uuid}");
    }

    #[test]
    fn refused_bodies_lose_every_secret() {
        let apps = apps();
        let json_body = renewal_body().to_string();
        let redacted = String::from_utf8(redact_refused(json_body.as_bytes(), &apps)).unwrap();
        assert!(
            !redacted.contains(SECRET) && !redacted.contains("password"),
            "{redacted}"
        );
        // Not JSON: the secret is cut out of the bytes.
        let broken = format!("{{\"password\":\"{SECRET}\",\"notification_type\":");
        let redacted = String::from_utf8(redact_refused(broken.as_bytes(), &apps)).unwrap();
        assert_eq!(redacted, "{\"password\":\"***\",\"notification_type\":");
        // A secret in another field of a JSON body.
        let elsewhere = json!({"notification_type": "X", "bvrs": ROTATED}).to_string();
        let redacted = redact_refused(elsewhere.as_bytes(), &apps);
        assert!(!String::from_utf8_lossy(&redacted).contains(ROTATED));
        // Bodies without a secret are kept exactly.
        let v2 = b"{ \"signedPayload\" : \"a.b.c\" }";
        assert_eq!(redact_refused(v2, &apps), v2.to_vec());
        assert_eq!(redact_refused(b"\xff\x00", &apps), b"\xff\x00".to_vec());
        assert_eq!(replace_all(b"aXbXX", b"X", b"--"), b"a--b----".to_vec());
        assert_eq!(replace_all(b"abc", b"", b"-"), b"abc".to_vec());
    }

    #[test]
    fn reasons_quote_body_values_safely() {
        assert_eq!(shown("a\"b\0"), "\"a\\\"b\\0\"");
        let long = shown(&"x".repeat(500));
        assert!(long.chars().count() < 110, "{long}");
    }
}
