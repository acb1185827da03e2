//! The pipeline of one notification, from the bytes Apple posted to an outcome: classify the body,
//! verify it (V2: signature, chain, app, environment, nested payloads; V1: app, shared secret,
//! environment), derive the rows, store them in one transaction. And the one rule that keeps data
//! safe: 200 only after commit.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::{Map, Value};

use crate::apple::models::{NotificationPayload, RenewalInfo, TransactionInfo};
use crate::apple::roots::APPLE_ROOT_LABEL;
use crate::apple::v1::{self, PendingRenewal, ReceiptEntry, V1App, V1Error, V1Notification};
use crate::apple::{At, Policy, Status, Verified, VerifiedNotification, Verifier, VerifyError};
use crate::config::QuarantineConfig;
use crate::store::{
    NewNotification, QuarantineLimits, Rejection, SaveOutcome, Store, SubscriptionRow,
    TransactionRow,
};

/// A notification that was stored (or found already stored): what logs and metrics need.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Accepted {
    pub uuid: String,
    pub notification_type: String,
    pub subtype: Option<String>,
    pub environment: Option<String>,
    pub bundle_id: Option<String>,
    /// How long the store step (one database transaction) took.
    pub database_time: std::time::Duration,
}

impl Accepted {
    fn of(record: &NewNotification, database_time: std::time::Duration) -> Accepted {
        Accepted {
            uuid: record.notification_uuid.clone(),
            notification_type: record.notification_type.clone(),
            subtype: record.subtype.clone(),
            environment: record.environment.clone(),
            bundle_id: record.bundle_id.clone(),
            database_time,
        }
    }
}

/// Why a request is refused for what it holds: the refusing [`Outcome`]s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    BadRequest(String),
    Forbidden(String),
    Rejected(Status, String),
}

impl From<Refusal> for Outcome {
    fn from(refusal: Refusal) -> Outcome {
        match refusal {
            Refusal::BadRequest(reason) => Outcome::BadRequest(reason),
            Refusal::Forbidden(reason) => Outcome::Forbidden(reason),
            Refusal::Rejected(status, reason) => Outcome::Rejected(status, reason),
        }
    }
}

/// What happened to one request, and so what Apple is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Committed: Apple may forget it.
    Stored(Accepted),
    /// Already stored earlier: nothing changed, Apple may forget it.
    Duplicate(Accepted),
    /// Not a notification body at all.
    BadRequest(String),
    /// A V1 notification without its app's shared secret; kept in quarantine, password removed.
    Forbidden(String),
    /// A notification that did not verify, with the check's Apple status name; kept in
    /// quarantine.
    Rejected(Status, String),
    /// Not stored because the database failed or was too slow: Apple must retry.
    Unavailable(String),
}

impl Outcome {
    /// Refused for what the request holds (kept in quarantine); not a database failure.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            Outcome::BadRequest(_) | Outcome::Forbidden(_) | Outcome::Rejected(..)
        )
    }

    pub fn http_status(&self) -> u16 {
        match self {
            Outcome::Stored(_) | Outcome::Duplicate(_) => 200,
            Outcome::BadRequest(_) => 400,
            Outcome::Forbidden(_) => 403,
            Outcome::Rejected(..) => 422,
            Outcome::Unavailable(_) => 503,
        }
    }

    /// The `status` word of the response body and the log's `outcome`.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Stored(_) => "stored",
            Outcome::Duplicate(_) => "duplicate",
            Outcome::BadRequest(_) => "bad_request",
            Outcome::Forbidden(_) => "forbidden",
            Outcome::Rejected(..) => "rejected",
            Outcome::Unavailable(_) => "unavailable",
        }
    }

    pub fn reason(&self) -> Option<&str> {
        match self {
            Outcome::Stored(_) | Outcome::Duplicate(_) => None,
            Outcome::BadRequest(r)
            | Outcome::Forbidden(r)
            | Outcome::Rejected(_, r)
            | Outcome::Unavailable(r) => Some(r),
        }
    }

    pub fn accepted(&self) -> Option<&Accepted> {
        match self {
            Outcome::Stored(a) | Outcome::Duplicate(a) => Some(a),
            _ => None,
        }
    }
}

/// Everything one notification needs; shared by every request.
#[derive(Debug, Clone)]
pub struct Pipeline {
    pub verifier: Arc<Verifier>,
    pub policy: Arc<Policy>,
    pub store: Arc<dyn Store>,
    /// Bound on the store step; Apple expects an answer within seconds.
    pub store_timeout: Duration,
    /// The configured apps as V1 sees them: bundle, environments, shared secrets.
    pub v1_apps: Arc<Vec<V1App>>,
    /// How much of what is refused is kept.
    pub quarantine: QuarantineConfig,
    /// Quarantine rows dropped and bodies cut to stay within [`Pipeline::quarantine`].
    pub trimmed: Arc<QuarantineTrimmed>,
    /// Which `[[destinations]]` each notification goes to.
    pub routes: Arc<Vec<Route>>,
    /// Woken when a stored notification has deliveries: the delivery workers wait on it.
    pub events: Arc<tokio::sync::Notify>,
}

/// A destination's filters: a notification goes to it when every non-empty list matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub name: String,
    pub apps: Vec<String>,
    pub environments: Vec<String>,
    /// `TYPE` (any subtype) or `TYPE/SUBTYPE`.
    pub types: Vec<String>,
}

impl Route {
    /// The filters of a `[[destinations]]` entry.
    pub fn of(destination: &crate::config::DestinationConfig) -> Route {
        Route {
            name: destination.name.clone(),
            apps: destination.apps.clone(),
            environments: destination
                .environments
                .iter()
                .map(|e| e.as_str().into())
                .collect(),
            types: destination.types.clone(),
        }
    }

    /// Whether a notification of this app, environment, type and subtype goes to the route.
    pub fn accepts(
        &self,
        bundle_id: Option<&str>,
        environment: Option<&str>,
        notification_type: &str,
        subtype: Option<&str>,
    ) -> bool {
        let listed = |list: &[String], value: Option<&str>| {
            list.is_empty() || value.is_some_and(|v| list.iter().any(|l| l == v))
        };
        let type_matches = |t: &String| match t.split_once('/') {
            None => t == notification_type,
            Some((kind, sub)) => kind == notification_type && Some(sub) == subtype,
        };
        listed(&self.apps, bundle_id)
            && listed(&self.environments, environment)
            && (self.types.is_empty() || self.types.iter().any(type_matches))
    }

    fn matches(&self, n: &NewNotification) -> bool {
        self.accepts(
            n.bundle_id.as_deref(),
            n.environment.as_deref(),
            &n.notification_type,
            n.subtype.as_deref(),
        )
    }
}

/// What keeping the quarantine bounded cost, since start (a metric).
#[derive(Debug, Default)]
pub struct QuarantineTrimmed {
    /// Rows deleted: beyond `max_rows`, or older than `retention`.
    pub dropped: AtomicU64,
    /// Bodies kept cut to `max_body_bytes`.
    pub cut: AtomicU64,
}

/// A request's body and where it came from. `Debug` shows the body's length only: a V1 body
/// holds the app's shared secret.
#[derive(Clone)]
pub struct Received {
    pub body: bytes::Bytes,
    /// The client address for live traffic; a label such as `app-store-server-api` for data
    /// fetched by asnd itself. Stored as `source_address`.
    pub source: String,
    pub received_at_ms: i64,
}

impl std::fmt::Debug for Received {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Received")
            .field("body", &format_args!("<{} bytes>", self.body.len()))
            .field("source", &self.source)
            .field("received_at_ms", &self.received_at_ms)
            .finish()
    }
}

impl Pipeline {
    /// A delivery: processed, and kept in quarantine when refused.
    pub async fn ingest(&self, req: Received) -> Outcome {
        let outcome = self.process(&req).await;
        if outcome.is_refusal() {
            self.quarantine(&req, &outcome).await;
        }
        outcome
    }

    /// Verifies and stores `req`, keeping nothing of a refusal (`asnd reprocess` takes bodies
    /// from the quarantine, where they are already).
    pub async fn process(&self, req: &Received) -> Outcome {
        match self.record(req) {
            Ok(record) => self.save(record).await,
            Err(refusal) => refusal.into(),
        }
    }

    /// The rows `req` would store, or why it is refused: verification without the database.
    pub fn record(&self, req: &Received) -> Result<NewNotification, Refusal> {
        let mut record = match classify(&req.body).map_err(Refusal::BadRequest)? {
            Body::V1(body) => self.v1_record(&body, req)?,
            Body::V2(token) => self.v2_record(&token, req)?,
        };
        record.destinations = self
            .routes
            .iter()
            .filter(|route| route.matches(&record))
            .map(|route| route.name.clone())
            .collect();
        Ok(record)
    }

    fn v2_record(&self, token: &str, req: &Received) -> Result<NewNotification, Refusal> {
        // Inline, not on a blocking thread: a warm verification is three ES256 checks (about
        // 0.25 ms), and handing it to another thread costs more in context switches than it
        // saves; a panic is caught by the HTTP layer (500) like any other.
        let verified = self
            .verifier
            .verify_notification(token, &self.policy, At::SignedDate)
            .map_err(|e| match e {
                VerifyError::Malformed(m) => {
                    Refusal::BadRequest(format!("signedPayload is not a JWS: {m}"))
                }
                e => Refusal::Rejected(e.status(), e.report()),
            })?;
        to_record(&verified, req)
            .map_err(|reason| Refusal::Rejected(Status::VerificationFailure, reason))
    }

    /// V1 is not signed: the app's shared secret in `password` authenticates it.
    fn v1_record(
        &self,
        body: &Map<String, Value>,
        req: &Received,
    ) -> Result<NewNotification, Refusal> {
        match v1::verify(body, &self.v1_apps) {
            Ok(n) => Ok(v1_record(&n, body, req)),
            Err(e @ V1Error::Password(_)) => Err(Refusal::Forbidden(e.report())),
            Err(e) => Err(Refusal::Rejected(e.status(), e.report())),
        }
    }

    async fn save(&self, record: NewNotification) -> Outcome {
        let started = std::time::Instant::now();
        match tokio::time::timeout(self.store_timeout, self.store.save_notification(&record)).await
        {
            Ok(Ok(SaveOutcome::Stored)) => {
                if !record.destinations.is_empty() {
                    self.events.notify_one();
                }
                Outcome::Stored(Accepted::of(&record, started.elapsed()))
            }
            Ok(Ok(SaveOutcome::Duplicate)) => {
                Outcome::Duplicate(Accepted::of(&record, started.elapsed()))
            }
            Ok(Err(e)) => Outcome::Unavailable(format!("not stored: {e}")),
            Err(_) => Outcome::Unavailable(format!(
                "not stored: the database did not answer within {:?}",
                self.store_timeout
            )),
        }
    }

    /// Best effort: a quarantine row helps people see what was refused, but failing to write it
    /// changes nothing for Apple (the request is refused either way).
    async fn quarantine(&self, req: &Received, outcome: &Outcome) {
        // A secret must never be stored, not even from a refused body.
        let mut raw_body = v1::redact_refused(&req.body, &self.v1_apps);
        let body_length = raw_body.len() as i64;
        if raw_body.len() > self.quarantine.max_body_bytes {
            raw_body.truncate(self.quarantine.max_body_bytes);
            self.trimmed.cut.fetch_add(1, Ordering::Relaxed);
        }
        let rejection = Rejection {
            received_at: req.received_at_ms,
            source_address: req.source.clone(),
            reason: outcome.reason().unwrap_or_default().to_string(),
            http_status: outcome.http_status(),
            raw_body,
            notification_uuid: claimed_uuid(&req.body),
            body_length,
        };
        let retention = i64::try_from(self.quarantine.retention.as_millis()).unwrap_or(i64::MAX);
        let limits = QuarantineLimits {
            max_rows: self.quarantine.max_rows,
            keep_since_ms: req.received_at_ms.saturating_sub(retention),
        };
        let saved = self.store.quarantine().save(&rejection, &limits);
        match tokio::time::timeout(self.store_timeout, saved).await {
            Ok(Ok(dropped)) => {
                self.trimmed.dropped.fetch_add(dropped, Ordering::Relaxed);
            }
            Ok(Err(e)) => tracing::warn!(error = %e, "could not write the quarantine row"),
            Err(_) => tracing::warn!("could not write the quarantine row: database timeout"),
        }
    }
}

/// The `notificationUUID` a refused V2 body claims, read WITHOUT verification: stored beside the
/// quarantine row only so that `asnd test-notification` can find it. Never trusted for anything.
fn claimed_uuid(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let token = value.get("signedPayload")?.as_str()?;
    let payload = crate::apple::jws::peek_payload(token).ok()?;
    let uuid = payload.get("notificationUUID")?.as_str()?;
    // A UUID is 36 characters; anything long or odd is not worth keeping as a lookup key.
    (!uuid.is_empty() && uuid.len() <= 64 && uuid.chars().all(|c| c.is_ascii_graphic()))
        .then(|| uuid.to_string())
}

enum Body {
    V2(String),
    V1(Map<String, Value>),
}

/// V2 when there is a `signedPayload` (also a V2 `TEST` on a URL set to V1), else V1 when there
/// is a `notification_type`.
fn classify(body: &[u8]) -> Result<Body, String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("body is not JSON: {e}"))?;
    let Value::Object(map) = value else {
        return Err("body is not a JSON object".into());
    };
    if let Some(payload) = map.get("signedPayload") {
        return match payload {
            Value::String(token) => Ok(Body::V2(token.clone())),
            _ => Err("signedPayload is not a string".into()),
        };
    }
    match map.get("notification_type") {
        Some(Value::String(kind)) if !kind.is_empty() => Ok(Body::V1(map)),
        Some(_) => Err("notification_type is not a non-empty string".into()),
        None => Err("neither a V2 body (signedPayload) nor a V1 body (notification_type)".into()),
    }
}

/// The rows one verified notification produces.
fn to_record(v: &VerifiedNotification, req: &Received) -> Result<NewNotification, String> {
    let n: &NotificationPayload = &v.notification.value;
    let uuid = n
        .notification_uuid
        .clone()
        .filter(|u| !u.is_empty())
        .ok_or("VERIFICATION_FAILURE: the notification has no notificationUUID")?;
    let notification_type = n
        .notification_type
        .as_ref()
        .map(|t| t.as_str().to_string())
        .filter(|t| !t.is_empty())
        .ok_or("VERIFICATION_FAILURE: the notification has no notificationType")?;
    let subtype = n.subtype.as_ref().map(|s| s.as_str().to_string());
    let identity = n.identity();
    let txn = v.transaction.as_ref();
    let renewal = v.renewal.as_ref();
    // The state's date: the notification's signedDate, else its newest nested one, else arrival.
    // A date the database cannot hold counts as absent (see `store::representable`).
    let storable = crate::time::storable_ms;
    let state_date = storable(n.signed_date)
        .or_else(|| storable(renewal.and_then(|r| r.value.signed_date)))
        .or_else(|| storable(txn.and_then(|t| t.value.signed_date)))
        .unwrap_or(req.received_at_ms);
    let root = v.notification.verified_by.as_str();
    let transaction = txn.and_then(|t| {
        transaction_row(t, state_date, &uuid, origin(root, [t.verified_by.as_str()]))
    });
    let status = n.data.as_ref().and_then(|d| d.status).map(|s| s.value());
    let subscription = subscription_row(
        txn.map(|t| &t.value),
        renewal,
        status,
        state_date,
        (&uuid, &notification_type, subtype.as_deref()),
    )
    .map(|mut s| {
        s.bundle_id = s.bundle_id.or_else(|| identity.bundle_id.clone());
        let parts = [txn.map(|t| &t.verified_by), renewal.map(|r| &r.verified_by)];
        s.verified_by = origin(root, parts.into_iter().flatten().map(String::as_str));
        s
    });
    Ok(NewNotification {
        notification_uuid: uuid,
        notification_type,
        subtype,
        version: n.version.clone().unwrap_or_else(|| "2.0".into()),
        environment: identity.environment.map(|e| e.as_str().to_string()),
        bundle_id: identity.bundle_id,
        app_apple_id: identity.app_apple_id,
        signed_date: n.signed_date,
        received_at: req.received_at_ms,
        source_address: req.source.clone(),
        transaction_id: txn.and_then(|t| t.value.transaction_id.clone()),
        original_transaction_id: txn
            .and_then(|t| t.value.original_transaction_id.clone())
            .or_else(|| renewal.and_then(|r| r.value.original_transaction_id.clone())),
        verified_by: v.notification.verified_by.clone(),
        raw_body: req.body.to_vec(),
        payload: v.stored_json(),
        transaction,
        subscription,
        other_transactions: Vec::new(),
        other_subscriptions: Vec::new(),
        // Chosen by the pipeline, which knows the destinations.
        destinations: Vec::new(),
    })
}

/// The origin of a row made from several verified parts: the notification's root, unless a part
/// was proved by a root that is not Apple's, then that one, so that a part a development root
/// proved never passes as Apple's data.
fn origin<'a>(notification_root: &'a str, parts: impl IntoIterator<Item = &'a str>) -> String {
    std::iter::once(notification_root)
        .chain(parts)
        .find(|root| *root != APPLE_ROOT_LABEL)
        .unwrap_or(notification_root)
        .to_string()
}

fn transaction_row(
    t: &Verified<TransactionInfo>,
    fallback_date: i64,
    uuid: &str,
    verified_by: String,
) -> Option<TransactionRow> {
    let v = &t.value;
    Some(TransactionRow {
        transaction_id: v.transaction_id.clone()?,
        original_transaction_id: v.original_transaction_id.clone(),
        bundle_id: v.bundle_id.clone(),
        product_id: v.product_id.clone(),
        product_type: v.product_type.as_ref().map(|p| p.as_str().to_string()),
        purchase_date: v.purchase_date,
        original_purchase_date: v.original_purchase_date,
        expires_date: v.expires_date,
        revocation_date: v.revocation_date,
        revocation_reason: v.revocation_reason.map(|r| r.value()),
        revocation_type: v.revocation_type.as_ref().map(|r| r.as_str().to_string()),
        environment: v.environment.as_ref().map(|e| e.as_str().to_string()),
        app_account_token: v.app_account_token.clone(),
        in_app_ownership_type: v
            .in_app_ownership_type
            .as_ref()
            .map(|o| o.as_str().to_string()),
        transaction_reason: v
            .transaction_reason
            .as_ref()
            .map(|r| r.as_str().to_string()),
        web_order_line_item_id: v.web_order_line_item_id.clone(),
        storefront: v.storefront.clone(),
        price: v.price,
        currency: v.currency.clone(),
        quantity: v.quantity,
        offer_type: v.offer_type.map(|o| o.value()),
        offer_identifier: v.offer_identifier.clone(),
        signed_date: crate::time::storable_ms(v.signed_date).unwrap_or(fallback_date),
        last_notification_uuid: uuid.to_string(),
        verified_by,
        payload: Value::Object(t.json.clone()),
    })
}

/// Only auto-renewable subscriptions have a state: Apple sends `status` or renewal info for them.
fn subscription_row(
    txn: Option<&TransactionInfo>,
    renewal: Option<&Verified<RenewalInfo>>,
    status: Option<i64>,
    state_date: i64,
    (uuid, notification_type, subtype): (&str, &str, Option<&str>),
) -> Option<SubscriptionRow> {
    if renewal.is_none() && status.is_none() {
        return None;
    }
    let r = renewal.map(|r| &r.value);
    let original_transaction_id = r
        .and_then(|r| r.original_transaction_id.clone())
        .or_else(|| txn.and_then(|t| t.original_transaction_id.clone()))?;
    Some(SubscriptionRow {
        original_transaction_id,
        bundle_id: txn.and_then(|t| t.bundle_id.clone()),
        environment: r
            .and_then(|r| r.environment.as_ref())
            .or_else(|| txn.and_then(|t| t.environment.as_ref()))
            .map(|e| e.as_str().to_string()),
        status,
        product_id: txn
            .and_then(|t| t.product_id.clone())
            .or_else(|| r.and_then(|r| r.product_id.clone())),
        auto_renew_product_id: r.and_then(|r| r.auto_renew_product_id.clone()),
        auto_renew_status: r.and_then(|r| r.auto_renew_status).map(|s| s.value()),
        expires_date: txn
            .and_then(|t| t.expires_date)
            .or_else(|| r.and_then(|r| r.renewal_date)),
        grace_period_expires_date: r.and_then(|r| r.grace_period_expires_date),
        is_in_billing_retry_period: r.and_then(|r| r.is_in_billing_retry_period),
        expiration_intent: r.and_then(|r| r.expiration_intent).map(|e| e.value()),
        app_account_token: txn
            .and_then(|t| t.app_account_token.clone())
            .or_else(|| r.and_then(|r| r.app_account_token.clone())),
        signed_date: state_date,
        last_notification_uuid: uuid.to_string(),
        last_notification_type: notification_type.to_string(),
        last_subtype: subtype.map(str::to_string),
        // Set by the caller, which knows every part's root.
        verified_by: String::new(),
        renewal_info: renewal.map(|r| Value::Object(r.json.clone())),
    })
}

/// The rows one authenticated V1 notification produces. The stored body is the received one
/// minus its `password`, and its UUID is derived from those bytes (a retry is a duplicate). V1 is
/// not signed, so the newest-wins dates are Apple's own event dates: see `v1_transaction_row`
/// and [`V1Notification::state_date`].
fn v1_record(n: &V1Notification, body: &Map<String, Value>, req: &Received) -> NewNotification {
    let (payload, raw_body) = v1::without_password(body);
    let uuid = v1::notification_uuid(&raw_body);
    let main = n.main_entry();
    let subject = n.subject();
    let mut transaction = None;
    let mut other_transactions = Vec::new();
    for (i, entry) in n.receipt.iter().enumerate() {
        match v1_transaction_row(n, entry, &uuid, req.received_at_ms) {
            Some(row) if Some(i) == main => transaction = Some(row),
            Some(row) => other_transactions.push(row),
            None => {}
        }
    }
    let mut subscription = None;
    let mut other_subscriptions = Vec::new();
    for renewal in &n.pending_renewals {
        match v1_subscription_row(n, renewal, &uuid, req.received_at_ms) {
            Some(row)
                if subscription.is_none()
                    && subject.as_deref() == Some(row.original_transaction_id.as_str()) =>
            {
                subscription = Some(row)
            }
            Some(row) => other_subscriptions.push(row),
            None => {}
        }
    }
    NewNotification {
        notification_uuid: uuid,
        notification_type: n.notification_type.clone(),
        subtype: None,
        version: v1::VERSION.into(),
        environment: Some(n.environment.as_str().to_string()),
        bundle_id: Some(n.bundle_id.clone()),
        // V1 carries neither.
        app_apple_id: None,
        signed_date: None,
        received_at: req.received_at_ms,
        source_address: req.source.clone(),
        transaction_id: main.and_then(|i| n.receipt[i].transaction_id.clone()),
        original_transaction_id: subject,
        verified_by: v1::VERIFIED_BY.into(),
        raw_body,
        payload: Value::Object(payload),
        transaction,
        subscription,
        other_transactions,
        other_subscriptions,
        destinations: Vec::new(),
    }
}

/// A `latest_receipt_info` entry as a `transactions` row. Its newest-wins date is the entry's
/// latest event (its purchase, or its refund), so a refunded copy replaces the plain one and
/// never the reverse; the arrival time only when the entry has neither.
fn v1_transaction_row(
    n: &V1Notification,
    e: &ReceiptEntry,
    uuid: &str,
    received_at: i64,
) -> Option<TransactionRow> {
    Some(TransactionRow {
        transaction_id: e.transaction_id.clone()?,
        original_transaction_id: e.original_transaction_id.clone(),
        bundle_id: Some(n.bundle_id.clone()),
        product_id: e.product_id.clone(),
        purchase_date: e.purchase_date,
        original_purchase_date: e.original_purchase_date,
        expires_date: e.expires_date,
        revocation_date: e.cancellation_date,
        revocation_reason: e.cancellation_reason,
        environment: Some(n.environment.as_str().to_string()),
        app_account_token: e.app_account_token.clone(),
        in_app_ownership_type: e.in_app_ownership_type.clone(),
        web_order_line_item_id: e.web_order_line_item_id.clone(),
        quantity: e.quantity,
        offer_type: e.offer_type,
        offer_identifier: e.offer_identifier.clone(),
        signed_date: e.event_date().unwrap_or(received_at),
        last_notification_uuid: uuid.to_string(),
        verified_by: v1::VERIFIED_BY.into(),
        payload: Value::Object(e.json.clone()),
        // V1 sends no product type, revocation type, reason, storefront or price.
        ..TransactionRow::default()
    })
}

/// A `pending_renewal_info` entry, with the latest purchase of its subscription, as a
/// `subscriptions` row. The top-level auto-renew fields fill in for the subscription the
/// notification is about.
fn v1_subscription_row(
    n: &V1Notification,
    r: &PendingRenewal,
    uuid: &str,
    received_at: i64,
) -> Option<SubscriptionRow> {
    let original = r.original_transaction_id.clone()?;
    let latest = n.latest_entry_of(&original);
    let is_subject = n.original_transaction_id.as_deref() == Some(original.as_str());
    Some(SubscriptionRow {
        bundle_id: Some(n.bundle_id.clone()),
        environment: Some(n.environment.as_str().to_string()),
        status: n.subscription_status(r, received_at),
        product_id: latest
            .and_then(|e| e.product_id.clone())
            .or_else(|| r.product_id.clone()),
        auto_renew_product_id: r
            .auto_renew_product_id
            .clone()
            .or_else(|| n.auto_renew_product_id.clone().filter(|_| is_subject)),
        auto_renew_status: r
            .auto_renew_status
            .or_else(|| n.auto_renew_status.filter(|_| is_subject))
            .map(i64::from),
        expires_date: latest.and_then(|e| e.expires_date),
        grace_period_expires_date: r.grace_period_expires_date,
        is_in_billing_retry_period: r.is_in_billing_retry_period,
        expiration_intent: r
            .expiration_intent
            .or_else(|| n.expiration_intent.filter(|_| is_subject)),
        app_account_token: latest.and_then(|e| e.app_account_token.clone()),
        signed_date: n.state_date(&original).unwrap_or(received_at),
        last_notification_uuid: uuid.to_string(),
        last_notification_type: n.notification_type.clone(),
        last_subtype: None,
        verified_by: v1::VERIFIED_BY.into(),
        renewal_info: Some(Value::Object(r.json.clone())),
        original_transaction_id: original,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_bodies() {
        assert!(
            matches!(classify(br#"{"signedPayload":"a.b.c"}"#), Ok(Body::V2(t)) if t == "a.b.c")
        );
        assert!(matches!(
            classify(br#"{"notification_type":"DID_RENEW"}"#),
            Ok(Body::V1(_))
        ));
        // A V2 TEST on a URL set to V1 is V2.
        assert!(matches!(
            classify(br#"{"signedPayload":"a.b.c","notification_type":"X"}"#),
            Ok(Body::V2(_))
        ));
        for bad in [
            &b"not json"[..],
            b"[1]",
            b"{}",
            br#"{"signedPayload":7}"#,
            br#"{"notification_type":7}"#,
            br#"{"notification_type":""}"#,
            b"",
            b"\xff\xfe",
        ] {
            assert!(classify(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn debug_never_shows_a_body() {
        let req = Received {
            body: bytes::Bytes::from_static(br#"{"password":"s3cret"}"#),
            source: "17.0.0.1".into(),
            received_at_ms: 1,
        };
        let debug = format!("{req:?}");
        assert!(
            !debug.contains("s3cret") && debug.contains("<21 bytes>"),
            "{debug}"
        );
    }

    #[test]
    fn statuses_follow_apples_retry_rule() {
        assert_eq!(Outcome::Stored(Accepted::default()).http_status(), 200);
        assert_eq!(Outcome::Duplicate(Accepted::default()).http_status(), 200);
        assert_eq!(Outcome::BadRequest(String::new()).http_status(), 400);
        assert_eq!(Outcome::Forbidden(String::new()).http_status(), 403);
        assert_eq!(
            Outcome::Rejected(Status::VerificationFailure, String::new()).http_status(),
            422
        );
        assert_eq!(Outcome::Unavailable(String::new()).http_status(), 503);
    }
}
