//! Durable storage of notifications: a `Store` trait with a PostgreSQL and an SQLite
//! implementation, chosen by the URL scheme. Each verified notification is written in ONE database
//! transaction (event row + derived transaction and subscription rows), idempotent on its UUID.
//!
//! Times cross this interface as integer milliseconds since the epoch (Apple's unit); each backend
//! stores them in its natural type (`timestamptz` in PostgreSQL, ISO-8601 UTC text in SQLite).

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

mod mapping;
pub mod outbox;
pub mod postgres;
mod quarantine;
pub mod reads;
pub mod representable;
pub mod sqlite;
mod sqlite_writer;
mod tables;
mod write_queue;

/// One verified notification and the rows derived from it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NewNotification {
    pub notification_uuid: String,
    pub notification_type: String,
    pub subtype: Option<String>,
    /// `"2.0"` for V2 (as sent; `"2.0"` when absent), `"1"` for V1.
    pub version: String,
    pub environment: Option<String>,
    pub bundle_id: Option<String>,
    pub app_apple_id: Option<i64>,
    pub signed_date: Option<i64>,
    pub received_at: i64,
    pub source_address: String,
    pub transaction_id: Option<String>,
    pub original_transaction_id: Option<String>,
    /// `apple-root-ca-g3`, `sha256:<fingerprint>` of another root, or `v1-shared-secret`.
    pub verified_by: String,
    /// The exact bytes received (for V1: the received body minus its `password`).
    pub raw_body: Vec<u8>,
    /// The decoded payload, nested signed payloads decoded too.
    pub payload: Value,
    /// The transaction the notification is about.
    pub transaction: Option<TransactionRow>,
    /// The state of the subscription the notification is about.
    pub subscription: Option<SubscriptionRow>,
    /// Further transactions the notification carries: a V1 body's `unified_receipt` holds up to
    /// 100. Empty for V2.
    pub other_transactions: Vec<TransactionRow>,
    /// Further subscription states: V1's `pending_renewal_info` has one per subscription. Empty
    /// for V2.
    pub other_subscriptions: Vec<SubscriptionRow>,
    /// The `[[destinations]]` it goes to: one `event_deliveries` row each, written in the same
    /// transaction (the outbox), and none for a duplicate.
    pub destinations: Vec<String>,
}

impl NewNotification {
    /// Every transaction row, by `transaction_id`: concurrent writers then lock rows in one order
    /// and cannot deadlock each other.
    pub fn transaction_rows(&self) -> Vec<&TransactionRow> {
        in_key_order(&self.transaction, &self.other_transactions, |t| {
            &t.transaction_id
        })
    }

    /// Every subscription row, by `original_transaction_id` (same reason).
    pub fn subscription_rows(&self) -> Vec<&SubscriptionRow> {
        in_key_order(&self.subscription, &self.other_subscriptions, |s| {
            &s.original_transaction_id
        })
    }
}

/// `first` (when there is one) and `others`, ordered by `key`.
fn in_key_order<'a, T>(
    first: &'a Option<T>,
    others: &'a [T],
    key: impl Fn(&T) -> &String,
) -> Vec<&'a T> {
    let mut rows: Vec<&T> = first.iter().chain(others).collect();
    rows.sort_by(|a, b| key(a).cmp(key(b)));
    rows
}

/// One row of `transactions`: newest `signed_date` wins.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TransactionRow {
    pub transaction_id: String,
    pub original_transaction_id: Option<String>,
    pub bundle_id: Option<String>,
    pub product_id: Option<String>,
    /// Apple's `type`, e.g. `Auto-Renewable Subscription`.
    pub product_type: Option<String>,
    pub purchase_date: Option<i64>,
    pub original_purchase_date: Option<i64>,
    pub expires_date: Option<i64>,
    pub revocation_date: Option<i64>,
    pub revocation_reason: Option<i64>,
    pub revocation_type: Option<String>,
    pub environment: Option<String>,
    pub app_account_token: Option<String>,
    pub in_app_ownership_type: Option<String>,
    pub transaction_reason: Option<String>,
    pub web_order_line_item_id: Option<String>,
    pub storefront: Option<String>,
    pub price: Option<i64>,
    pub currency: Option<String>,
    pub quantity: Option<i64>,
    pub offer_type: Option<i64>,
    pub offer_identifier: Option<String>,
    /// The transaction's own `signedDate`; falls back to the notification's.
    pub signed_date: i64,
    pub last_notification_uuid: String,
    /// The root that proved this state (as `notifications.verified_by`): a row is only ever
    /// changed by data from the same origin, or by Apple's (see [`mapping`]'s newest-wins rule).
    pub verified_by: String,
    /// The decoded transaction JSON, every field kept.
    pub payload: Value,
}

/// One row of `subscriptions`: the current state of an auto-renewable subscription, never
/// overwritten by a state with an older `signed_date` (Apple does not deliver in order).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SubscriptionRow {
    pub original_transaction_id: String,
    pub bundle_id: Option<String>,
    pub environment: Option<String>,
    /// Apple's `data.status`: 1 active, 2 expired, 3 billing retry, 4 grace period, 5 revoked.
    pub status: Option<i64>,
    pub product_id: Option<String>,
    pub auto_renew_product_id: Option<String>,
    pub auto_renew_status: Option<i64>,
    pub expires_date: Option<i64>,
    pub grace_period_expires_date: Option<i64>,
    pub is_in_billing_retry_period: Option<bool>,
    pub expiration_intent: Option<i64>,
    pub app_account_token: Option<String>,
    /// The `signedDate` of the notification that carried this state.
    pub signed_date: i64,
    pub last_notification_uuid: String,
    pub last_notification_type: String,
    pub last_subtype: Option<String>,
    /// The root that proved this state, as in [`TransactionRow::verified_by`].
    pub verified_by: String,
    /// The decoded renewal info JSON, when there was one.
    pub renewal_info: Option<Value>,
}

/// A request that was refused after its body was read (quarantine).
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    pub received_at: i64,
    pub source_address: String,
    /// `STATUS_NAME: detail` or another short reason.
    pub reason: String,
    /// The HTTP status that was answered.
    pub http_status: u16,
    pub raw_body: Vec<u8>,
    /// The `notificationUUID` the body claims, read WITHOUT verification (the body was refused):
    /// only for finding the row again (`asnd test-notification`), never to be trusted.
    pub notification_uuid: Option<String>,
    /// The length of the body as received; more than `raw_body`'s when it was cut.
    pub body_length: i64,
}

/// How much of the quarantine is kept (from `[quarantine]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuarantineLimits {
    /// Rows kept at most; the oldest (lowest ids) go first.
    pub max_rows: u64,
    /// Rows received before this time (milliseconds) are deleted.
    pub keep_since_ms: i64,
}

/// Which quarantine rows `asnd reprocess` takes: those not yet stored by an earlier run,
/// received since `since_ms`, whose reason starts with `reason_prefix`, with an id after
/// `after_id` and up to `until_id` (one row: `after_id = id - 1, until_id = id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuarantineFilter {
    pub since_ms: i64,
    pub reason_prefix: String,
    pub after_id: i64,
    pub until_id: i64,
    pub limit: i64,
}

impl QuarantineFilter {
    /// Every row received since `since_ms` whose reason starts with `reason_prefix`.
    pub fn matching(since_ms: i64, reason_prefix: &str) -> QuarantineFilter {
        QuarantineFilter {
            since_ms,
            reason_prefix: reason_prefix.to_owned(),
            after_id: 0,
            until_id: i64::MAX,
            limit: 200,
        }
    }

    /// The row `id` alone.
    pub fn one(id: i64) -> QuarantineFilter {
        QuarantineFilter {
            after_id: id.saturating_sub(1),
            until_id: id,
            ..QuarantineFilter::matching(0, "")
        }
    }
}

/// A quarantine row, as `asnd reprocess` and the console read it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct QuarantineEntry {
    pub id: i64,
    /// Milliseconds since the epoch.
    pub received_at: i64,
    pub source_address: String,
    pub reason: String,
    /// The HTTP status that was answered.
    pub http_status: i64,
    pub raw_body: Vec<u8>,
    /// NULL for rows kept before lengths were recorded (never cut).
    pub body_length: Option<i64>,
    /// What the last reprocessing of the row did (`stored`, `duplicate`, or a refusal), if any.
    pub reprocess_result: Option<String>,
}

impl QuarantineEntry {
    /// Part of the body was cut when it was kept: it cannot be processed again.
    pub fn is_cut(&self) -> bool {
        self.body_length
            .is_some_and(|length| length > self.raw_body.len() as i64)
    }
}

/// One of Apple's attempts to deliver a notification (`sendAttempts`), as Apple reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryAttempt {
    /// Milliseconds since the epoch.
    pub attempt_date: i64,
    /// Apple's `sendAttemptResult`, as sent (`SUCCESS`, `TIMED_OUT`, or a value unknown today).
    pub send_attempt_result: String,
}

/// What `asnd test-notification` needs to know about a stored notification.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredNotification {
    pub notification_uuid: String,
    pub notification_type: String,
    pub environment: Option<String>,
    /// Milliseconds since the epoch.
    pub received_at: i64,
    pub source_address: String,
}

/// A quarantine row, as `asnd test-notification` reports it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredRejection {
    /// Milliseconds since the epoch.
    pub received_at: i64,
    pub source_address: String,
    pub reason: String,
    #[sqlx(try_from = "StoredHttpStatus")]
    pub http_status: u16,
}

/// `http_status` as stored (read as a 64-bit integer by both backends); a value no HTTP status
/// can have reads as 0.
#[derive(sqlx::Type)]
#[sqlx(transparent)]
struct StoredHttpStatus(i64);

impl From<StoredHttpStatus> for u16 {
    fn from(stored: StoredHttpStatus) -> u16 {
        u16::try_from(stored.0).unwrap_or(0)
    }
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    Pending,
    Delivered,
    /// Gave up (attempts used up, or the destination answered 410 Gone); kept until retried.
    Dead,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Dead => "dead",
        }
    }
}

impl std::str::FromStr for DeliveryState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "pending" => Ok(DeliveryState::Pending),
            "delivered" => Ok(DeliveryState::Delivered),
            "dead" => Ok(DeliveryState::Dead),
            other => Err(format!("{other:?} is not pending, delivered or dead")),
        }
    }
}

/// A delivery a worker took (leased) to attempt now.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ClaimedDelivery {
    pub id: i64,
    pub notification_id: i64,
    pub destination: String,
    /// Attempts so far, this one included.
    pub attempts: i64,
}

/// How an attempt ended: the delivery's new state, when to try again (pending), the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptResult {
    pub state: DeliveryState,
    /// Milliseconds; for a pending delivery, the next attempt.
    pub next_attempt_at: i64,
    /// Milliseconds; for a delivered one.
    pub delivered_at: Option<i64>,
    /// The HTTP status, when there was one.
    pub status: Option<i64>,
    /// Why it failed, when it did.
    pub error: Option<String>,
    /// The attempts to record: the lease's count, or one less when the attempt did not count.
    pub attempts: i64,
}

/// One row of `event_deliveries`, as `asnd deliveries list` shows it (times in milliseconds).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DeliveryRow {
    pub id: i64,
    pub notification_id: i64,
    pub destination: String,
    pub state: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
}

/// Which deliveries `asnd deliveries list` shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryFilter {
    pub destination: Option<String>,
    pub state: Option<String>,
    pub since_ms: i64,
    pub limit: i64,
}

/// Deliveries waiting or dead, per destination (a metric).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Backlog {
    pub destination: String,
    pub state: String,
    pub count: i64,
    /// Milliseconds: when the oldest was created.
    pub oldest: i64,
}

/// A lock held by one process among all that share the database, released by [`ExclusiveLock::release`]
/// or, if the holder is dropped or dies, when its database session ends.
///
/// PostgreSQL: a session-level `pg_advisory_lock` ([`postgres::AdvisoryLock`]). SQLite: nothing
/// to hold; the database is a file on one host, and every holder gets the lock
/// ([`sqlite::GrantedLock`]).
#[derive(Debug)]
pub struct ExclusiveLock {
    inner: HeldLock,
}

/// The backend's own lock.
#[derive(Debug)]
enum HeldLock {
    Postgres(postgres::AdvisoryLock),
    Sqlite(sqlite::GrantedLock),
}

impl ExclusiveLock {
    /// Unlocks and closes the dedicated connection. Closing alone would release it too.
    pub async fn release(self) {
        match self.inner {
            HeldLock::Postgres(lock) => lock.release().await,
            HeldLock::Sqlite(lock) => lock.release(),
        }
    }
}

/// Key of the advisory lock that keeps reconciliation to one replica at a time (an arbitrary
/// constant: "asnd" in ASCII, then 7 for issue 7).
pub const RECONCILE_LOCK_KEY: i64 = 0x6173_6e64_0000_0007;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaveOutcome {
    Stored,
    /// Already stored earlier (or concurrently): nothing changed.
    Duplicate,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported database URL {0:?}: use postgres://... or sqlite://...")]
    Url(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A write that could not be done as a whole (SQLite's group writer reports it to each caller).
    #[error("database write failed: {0}")]
    Write(String),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// Pool and timing settings shared by both backends.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub max_connections: u32,
    /// How long to wait for a pooled connection before giving up.
    pub acquire_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

#[async_trait::async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Applies pending migrations; safe to call from several processes at once.
    async fn migrate(&self) -> Result<(), StoreError>;
    /// Writes the notification and its derived rows in one transaction, or nothing.
    async fn save_notification(&self, n: &NewNotification) -> Result<SaveOutcome, StoreError>;
    /// Takes the lock `key` if no other session holds it; `None` when another one does.
    async fn try_lock(&self, key: i64) -> Result<Option<ExclusiveLock>, StoreError>;
    /// Wakes `wake` whenever another process stores an event (PostgreSQL's `LISTEN
    /// asnd_events`), until the store is closed. SQLite has no such signal: nothing to do.
    async fn subscribe_events(&self, wake: Arc<tokio::sync::Notify>) -> Result<(), StoreError>;
    /// What both backends do the same way ([`tables::SqlTables`]).
    fn tables(&self) -> &dyn Tables;

    /// The quarantine (`rejected_notifications`) of this store.
    fn quarantine(&self) -> &dyn Quarantine {
        self.tables()
    }
    /// The outbox (`event_deliveries`) of this store.
    fn outbox(&self) -> &dyn Outbox {
        self.tables()
    }
    /// The console's read models of this store.
    fn reads(&self) -> &dyn reads::Reads {
        self.tables()
    }
    /// Records Apple's delivery attempts for one notification; attempts already recorded are
    /// skipped. Returns how many were new.
    async fn save_delivery_attempts(
        &self,
        notification_uuid: &str,
        attempts: &[DeliveryAttempt],
    ) -> Result<u64, StoreError> {
        self.tables()
            .save_delivery_attempts(notification_uuid, attempts)
            .await
    }
    /// The stored notification with this UUID, if any.
    async fn find_notification(
        &self,
        notification_uuid: &str,
    ) -> Result<Option<StoredNotification>, StoreError> {
        self.tables().find_notification(notification_uuid).await
    }
    /// Quarantine rows whose body claimed this UUID (unverified), newest first, at most 10.
    async fn find_rejections(
        &self,
        notification_uuid: &str,
    ) -> Result<Vec<StoredRejection>, StoreError> {
        self.tables().find_rejections(notification_uuid).await
    }
    /// The database answers and every migration is applied.
    async fn ready(&self) -> Result<bool, StoreError> {
        self.tables().ready().await
    }
    async fn close(&self) {
        self.tables().close().await
    }
}

/// The part of a [`Store`] both backends implement with the same code.
#[async_trait::async_trait]
pub trait Tables: Quarantine + Outbox + reads::Reads {
    async fn save_delivery_attempts(
        &self,
        notification_uuid: &str,
        attempts: &[DeliveryAttempt],
    ) -> Result<u64, StoreError>;
    async fn find_notification(
        &self,
        notification_uuid: &str,
    ) -> Result<Option<StoredNotification>, StoreError>;
    async fn find_rejections(
        &self,
        notification_uuid: &str,
    ) -> Result<Vec<StoredRejection>, StoreError>;
    async fn ready(&self) -> Result<bool, StoreError>;
    async fn close(&self);
}

/// The quarantine, `rejected_notifications`: requests refused after their body was read, kept
/// within `[quarantine]`'s bounds. One implementation serves both backends.
#[async_trait::async_trait]
pub trait Quarantine: Send + Sync {
    /// Keeps a refused request, then deletes what `limits` no longer keeps; returns how many
    /// rows were deleted.
    async fn save(&self, r: &Rejection, limits: &QuarantineLimits) -> Result<u64, StoreError>;
    /// Rows for `asnd reprocess`, oldest first.
    async fn read(&self, filter: &QuarantineFilter) -> Result<Vec<QuarantineEntry>, StoreError>;
    /// Records what reprocessing row `id` gave (`stored`, `duplicate`, or the refusal); a result
    /// equal to the recorded one changes nothing.
    async fn mark(&self, id: i64, result: &str, at_ms: i64) -> Result<(), StoreError>;
    /// Rows in `rejected_notifications` (a metric).
    async fn size(&self) -> Result<i64, StoreError>;
}

/// The outbox, `event_deliveries`: deliveries of stored notifications to `[[destinations]]`,
/// written in the transaction that stores each notification, leased and finished by the
/// delivery workers. One implementation serves both backends ([`tables::SqlTables`]).
#[async_trait::async_trait]
pub trait Outbox: Send + Sync {
    /// Leases up to `limit` deliveries due at `now_ms` until `lease_until_ms`, counting an attempt
    /// each; never a later event of a subscription while an earlier one for the same destination
    /// is pending. Replicas never take the same delivery at once.
    async fn claim(
        &self,
        now_ms: i64,
        lease_until_ms: i64,
        limit: i64,
    ) -> Result<Vec<ClaimedDelivery>, StoreError>;
    /// The stored notification with this row id.
    async fn stored_event(
        &self,
        notification_id: i64,
    ) -> Result<Option<reads::NotificationDetail>, StoreError>;
    /// Records how the attempt of `delivery` ended, and ends its lease; nothing when the lease
    /// was lost (another worker took the delivery since). Whether it was recorded.
    async fn finish(
        &self,
        delivery: &ClaimedDelivery,
        result: &AttemptResult,
    ) -> Result<bool, StoreError>;
    /// Deliveries, newest first.
    async fn list(&self, filter: &DeliveryFilter) -> Result<Vec<DeliveryRow>, StoreError>;
    /// Makes dead deliveries pending again, due at `now_ms`, with their attempts reset: the one
    /// with `id`, or every dead one of `destination`. Returns how many.
    async fn retry(
        &self,
        id: Option<i64>,
        destination: Option<&str>,
        now_ms: i64,
    ) -> Result<u64, StoreError>;
    /// Notifications received in `received` (milliseconds, end excluded), oldest first, after
    /// row `after_id`.
    async fn events_between(
        &self,
        received: std::ops::Range<i64>,
        (after_id, limit): (i64, i64),
    ) -> Result<Vec<reads::NotificationSummary>, StoreError>;
    /// New pending deliveries of stored notifications to `destination` (a replay).
    async fn enqueue(
        &self,
        destination: &str,
        events: &[reads::NotificationSummary],
        now_ms: i64,
    ) -> Result<u64, StoreError>;
    /// Pending and dead deliveries per destination.
    async fn backlog(&self) -> Result<Vec<Backlog>, StoreError>;
    /// Deletes the delivered rows delivered before `before_ms`; returns how many.
    async fn prune(&self, before_ms: i64) -> Result<u64, StoreError>;
}

/// The database software a URL names, by its scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `postgres://` or `postgresql://`.
    Postgres,
    /// `sqlite:` (`sqlite://path`, `sqlite:path`, `sqlite::memory:`).
    Sqlite,
}

impl Backend {
    /// The backend for `url`; an error (naming the URL without its password) for any other
    /// scheme. The one place that reads a database URL's scheme.
    pub fn from_url(url: &str) -> Result<Backend, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else {
            Err(StoreError::Url(redact_url(url)))
        }
    }
}

/// Opens the backend named by the URL scheme (see [`Backend::from_url`]).
pub async fn connect(url: &str, options: &StoreOptions) -> Result<Arc<dyn Store>, StoreError> {
    Ok(match Backend::from_url(url)? {
        Backend::Postgres => Arc::new(postgres::PgStore::connect(url, options).await?),
        Backend::Sqlite => Arc::new(sqlite::SqliteStore::connect(url, options).await?),
    })
}

/// A URL safe for logs: any password replaced, in the userinfo (`user:***@host`) and in a
/// `password=` query parameter (which the PostgreSQL driver also accepts).
pub fn redact_url(url: &str) -> String {
    let mut out = String::with_capacity(url.len());
    match url.find("://") {
        Some(s) => {
            let (scheme, rest) = url.split_at(s + 3);
            out.push_str(scheme);
            // The user part ends at the last '@', so that an unescaped '@', '/', '?' or '#' in a
            // password cannot leak it; an absolute SQLite path ("sqlite:///a@b") has none.
            match rest.rfind('@').filter(|_| !rest.starts_with('/')) {
                Some(at) => {
                    let user_info = &rest[..at];
                    match user_info.find(':') {
                        Some(colon) if colon + 1 < user_info.len() => {
                            out.push_str(&user_info[..=colon]);
                            out.push_str("***");
                        }
                        _ => out.push_str(user_info),
                    }
                    out.push_str(&rest[at..]);
                }
                None => out.push_str(rest),
            }
        }
        None => out.push_str(url),
    }
    // `password=` parameters, in a query string or a `key=value` connection string alike.
    const NEEDLE: &str = "password=";
    let mut from = 0;
    while let Some(found) = out[from..].to_ascii_lowercase().find(NEEDLE) {
        let start = from + found + NEEDLE.len();
        let end = out[start..]
            .find(['&', ' ', '#', ';'])
            .map_or(out.len(), |e| start + e);
        out.replace_range(start..end, "***");
        from = start + 3;
    }
    out
}
