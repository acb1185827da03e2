//! The console's read models, for both backends: what was stored per app and environment, per
//! hour, a search over notifications, one notification with what hangs off it, a subscription's
//! timeline, the quarantine and the deliveries of one notification. Read-only; times cross as
//! milliseconds since the epoch, as everywhere in the store.

use serde_json::Value;
use sqlx::types::Json;
use sqlx::{Database, Encode, Executor, IntoArguments, Pool, Type};

use super::mapping::{self, Dialect};
use super::tables::SqlTables;
use super::{DeliveryAttempt, DeliveryRow, QuarantineEntry, StoreError};

/// The last notification stored for one app and environment, and how many there are.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AppActivity {
    pub bundle_id: Option<String>,
    pub environment: Option<String>,
    /// Milliseconds: when the newest was received.
    pub last_received_at: i64,
    pub count: i64,
}

/// Notifications received in one hour.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct HourCount {
    /// Hours since the epoch (UTC).
    pub hour: i64,
    pub count: i64,
}

/// Quarantine rows per reason class (the reason up to its first `:`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReasonCount {
    pub reason: String,
    pub count: i64,
}

/// What the console's search asks for; each `None` matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NotificationSearch {
    /// Any id: notification UUID, transaction id, original transaction id or `appAccountToken`.
    pub q: Option<String>,
    pub notification_type: Option<String>,
    pub subtype: Option<String>,
    pub environment: Option<String>,
    /// Milliseconds, inclusive.
    pub since_ms: Option<i64>,
    /// Milliseconds, exclusive.
    pub until_ms: Option<i64>,
    pub offset: i64,
    pub limit: i64,
}

/// One notification as a list shows it, and as `asnd deliveries replay` filters it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct NotificationSummary {
    pub id: i64,
    pub notification_uuid: String,
    pub notification_type: String,
    pub subtype: Option<String>,
    pub environment: Option<String>,
    pub bundle_id: Option<String>,
    pub transaction_id: Option<String>,
    pub original_transaction_id: Option<String>,
    /// Milliseconds.
    pub signed_date: Option<i64>,
    /// Milliseconds.
    pub received_at: i64,
    pub source_address: String,
    pub verified_by: String,
}

/// One stored notification in full: as the console shows it, and as a delivery sends it.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct NotificationDetail {
    #[sqlx(flatten)]
    pub summary: NotificationSummary,
    pub version: String,
    pub raw_body: Vec<u8>,
    pub payload: Json<Value>,
}

/// A subscription's current state (a row of `subscriptions`).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SubscriptionState {
    pub original_transaction_id: String,
    pub bundle_id: Option<String>,
    pub environment: Option<String>,
    pub status: Option<i64>,
    pub product_id: Option<String>,
    pub auto_renew_status: Option<i64>,
    /// Milliseconds.
    pub expires_date: Option<i64>,
    pub app_account_token: Option<String>,
    /// Milliseconds.
    pub signed_date: i64,
    pub last_notification_type: String,
    pub last_subtype: Option<String>,
    pub verified_by: String,
}

/// One notification of a subscription's timeline, with the decoded payload (its status).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct TimelineEntry {
    #[sqlx(flatten)]
    pub summary: NotificationSummary,
    pub payload: Json<Value>,
}

impl TimelineEntry {
    /// Apple's `data.status` as this notification carried it.
    pub fn status(&self) -> Option<i64> {
        self.payload
            .0
            .pointer("/data/status")
            .and_then(Value::as_i64)
    }
}

/// The console's read models. One implementation serves both backends ([`SqlTables`]).
#[async_trait::async_trait]
pub trait Reads: Send + Sync {
    /// Per app and environment: the newest notification's time and the count.
    async fn activity(&self) -> Result<Vec<AppActivity>, StoreError>;
    /// Notifications received per hour since `since_ms`, oldest hour first; hours with none
    /// are absent.
    async fn hourly(&self, since_ms: i64) -> Result<Vec<HourCount>, StoreError>;
    /// Quarantine rows per reason class, most first.
    async fn refusals(&self) -> Result<Vec<ReasonCount>, StoreError>;
    /// Notifications matching `search`, newest first.
    async fn search(
        &self,
        search: &NotificationSearch,
    ) -> Result<Vec<NotificationSummary>, StoreError>;
    /// The stored notifications with this UUID (one per root), Apple's first.
    async fn notification(&self, uuid: &str) -> Result<Vec<NotificationDetail>, StoreError>;
    /// Apple's attempts to deliver the notification `uuid`, oldest first.
    async fn apple_attempts(&self, uuid: &str) -> Result<Vec<DeliveryAttempt>, StoreError>;
    /// The event deliveries of the notification row `notification_id`.
    async fn deliveries_of(&self, notification_id: i64) -> Result<Vec<DeliveryRow>, StoreError>;
    /// The subscription's current state.
    async fn subscription(
        &self,
        original_transaction_id: &str,
    ) -> Result<Option<SubscriptionState>, StoreError>;
    /// Every notification of the subscription in `signedDate` order (at most `limit`).
    async fn timeline(
        &self,
        original_transaction_id: &str,
        limit: i64,
    ) -> Result<Vec<TimelineEntry>, StoreError>;
    /// Quarantine rows whose reason starts with `reason_prefix`, newest first.
    async fn quarantine_page(
        &self,
        reason_prefix: &str,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<QuarantineEntry>, StoreError>;
}

/// Every read statement of one backend, generated once from its dialect.
pub(super) struct ReadStatements {
    activity: String,
    hourly: String,
    refusals: &'static str,
    search: String,
    notification: String,
    apple_attempts: String,
    deliveries_of: String,
    subscription: String,
    timeline: String,
    quarantine_page: String,
}

impl ReadStatements {
    pub(super) fn of(d: &Dialect) -> ReadStatements {
        let p = d.placeholder;
        let t = |n: usize| (d.time_from_millis)(&p(n));
        let m = d.millis_of;
        let summary = summary_columns(d);
        let apple_first = format!(
            "verified_by = '{}' DESC",
            crate::apple::roots::APPLE_ROOT_LABEL
        );
        ReadStatements {
            activity: format!(
                "SELECT bundle_id, environment, {} AS last_received_at, COUNT(*) AS count
                 FROM notifications GROUP BY bundle_id, environment
                 ORDER BY bundle_id, environment",
                m("MAX(received_at)")
            ),
            hourly: format!(
                "SELECT {} / 3600000 AS hour, COUNT(*) AS count FROM notifications
                 WHERE received_at >= {} GROUP BY 1 ORDER BY 1",
                m("received_at"),
                t(1)
            ),
            refusals: "SELECT reason, COUNT(*) AS count FROM rejected_notifications GROUP BY reason",
            // `q` is any id; an `appAccountToken` is found through the subscription it is on.
            search: format!(
                "SELECT {summary} FROM notifications
                 WHERE ({q} IS NULL OR notification_uuid = {q} OR transaction_id = {q}
                        OR original_transaction_id = {q}
                        OR original_transaction_id IN (
                            SELECT original_transaction_id FROM transactions
                            WHERE app_account_token = {q}
                            UNION SELECT original_transaction_id FROM subscriptions
                            WHERE app_account_token = {q}))
                   AND ({ty} IS NULL OR notification_type = {ty})
                   AND ({sub} IS NULL OR subtype = {sub})
                   AND ({env} IS NULL OR environment = {env})
                   AND ({since} IS NULL OR notifications.received_at >= {since_t})
                   AND ({until} IS NULL OR notifications.received_at < {until_t})
                 ORDER BY notifications.received_at DESC, notifications.id DESC
                 LIMIT {limit} OFFSET {offset}",
                q = p(1),
                ty = p(2),
                sub = p(3),
                env = p(4),
                since = p(5),
                since_t = t(5),
                until = p(6),
                until_t = t(6),
                limit = p(7),
                offset = p(8),
            ),
            notification: format!(
                "SELECT {summary}, version, raw_body, payload FROM notifications
                 WHERE notification_uuid = {} ORDER BY {apple_first}, id",
                p(1)
            ),
            apple_attempts: format!(
                "SELECT {} AS attempt_date, send_attempt_result FROM delivery_attempts
                 WHERE notification_uuid = {} ORDER BY delivery_attempts.attempt_date, id",
                m("attempt_date"),
                p(1)
            ),
            deliveries_of: format!(
                "SELECT id, notification_id, destination, state,
                        CAST(attempts AS BIGINT) AS attempts, {} AS next_attempt_at,
                        CAST(last_status AS BIGINT) AS last_status, last_error,
                        {} AS created_at
                 FROM event_deliveries WHERE notification_id = {} ORDER BY id",
                m("next_attempt_at"),
                m("created_at"),
                p(1)
            ),
            subscription: format!(
                "SELECT original_transaction_id, bundle_id, environment,
                        CAST(status AS BIGINT) AS status, product_id,
                        CAST(auto_renew_status AS BIGINT) AS auto_renew_status,
                        {} AS expires_date, app_account_token, {} AS signed_date,
                        last_notification_type, last_subtype, verified_by
                 FROM subscriptions WHERE original_transaction_id = {}",
                m("expires_date"),
                m("signed_date"),
                p(1)
            ),
            timeline: format!(
                "SELECT {summary}, payload FROM notifications
                 WHERE original_transaction_id = {}
                 ORDER BY notifications.signed_date, notifications.id LIMIT {}",
                p(1),
                p(2)
            ),
            quarantine_page: format!(
                "SELECT {} FROM rejected_notifications
                 WHERE substr(reason, 1, length({prefix})) = {prefix}
                 ORDER BY id DESC LIMIT {} OFFSET {}",
                mapping::quarantine_entry_columns(d),
                p(2),
                p(3),
                prefix = p(1),
            ),
        }
    }
}

/// The columns of a [`NotificationSummary`] (and the first of a [`NotificationDetail`]), selected
/// from `notifications`: the console and the outbox read a notification alike.
pub(super) fn summary_columns(d: &Dialect) -> String {
    format!(
        "notifications.id, notification_uuid, notification_type, subtype, environment,
         bundle_id, transaction_id, original_transaction_id,
         {} AS signed_date, {} AS received_at, source_address, verified_by",
        (d.millis_of)("notifications.signed_date"),
        (d.millis_of)("notifications.received_at")
    )
}

#[async_trait::async_trait]
impl<DB> Reads for SqlTables<DB>
where
    DB: Database,
    for<'c> &'c Pool<DB>: Executor<'c, Database = DB>,
    for<'q> <DB as Database>::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
    for<'q> Option<String>: Encode<'q, DB> + Type<DB>,
    for<'r> AppActivity: sqlx::FromRow<'r, DB::Row>,
    for<'r> HourCount: sqlx::FromRow<'r, DB::Row>,
    for<'r> (String, i64): sqlx::FromRow<'r, DB::Row>,
    for<'r> (i64, String): sqlx::FromRow<'r, DB::Row>,
    for<'r> NotificationSummary: sqlx::FromRow<'r, DB::Row>,
    for<'r> NotificationDetail: sqlx::FromRow<'r, DB::Row>,
    for<'r> DeliveryRow: sqlx::FromRow<'r, DB::Row>,
    for<'r> SubscriptionState: sqlx::FromRow<'r, DB::Row>,
    for<'r> TimelineEntry: sqlx::FromRow<'r, DB::Row>,
    for<'r> QuarantineEntry: sqlx::FromRow<'r, DB::Row>,
{
    async fn activity(&self) -> Result<Vec<AppActivity>, StoreError> {
        Ok(sqlx::query_as(&self.reads_sql.activity)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn hourly(&self, since_ms: i64) -> Result<Vec<HourCount>, StoreError> {
        Ok(sqlx::query_as(&self.reads_sql.hourly)
            .bind(since_ms)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn refusals(&self) -> Result<Vec<ReasonCount>, StoreError> {
        let rows: Vec<(String, i64)> = sqlx::query_as(self.reads_sql.refusals)
            .fetch_all(&self.pool)
            .await?;
        Ok(by_class(rows))
    }

    async fn search(&self, s: &NotificationSearch) -> Result<Vec<NotificationSummary>, StoreError> {
        Ok(sqlx::query_as(&self.reads_sql.search)
            .bind(s.q.clone())
            .bind(s.notification_type.clone())
            .bind(s.subtype.clone())
            .bind(s.environment.clone())
            .bind(s.since_ms)
            .bind(s.until_ms)
            .bind(s.limit)
            .bind(s.offset)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn notification(&self, uuid: &str) -> Result<Vec<NotificationDetail>, StoreError> {
        Ok(sqlx::query_as(&self.reads_sql.notification)
            .bind(uuid.to_owned())
            .fetch_all(&self.pool)
            .await?)
    }

    async fn apple_attempts(&self, uuid: &str) -> Result<Vec<DeliveryAttempt>, StoreError> {
        let rows: Vec<(i64, String)> = sqlx::query_as(&self.reads_sql.apple_attempts)
            .bind(uuid.to_owned())
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .into_iter()
            .map(|(attempt_date, send_attempt_result)| DeliveryAttempt {
                attempt_date,
                send_attempt_result,
            })
            .collect())
    }

    async fn deliveries_of(&self, notification_id: i64) -> Result<Vec<DeliveryRow>, StoreError> {
        Ok(sqlx::query_as(&self.reads_sql.deliveries_of)
            .bind(notification_id)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn subscription(
        &self,
        original_transaction_id: &str,
    ) -> Result<Option<SubscriptionState>, StoreError> {
        Ok(sqlx::query_as(&self.reads_sql.subscription)
            .bind(original_transaction_id.to_owned())
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn timeline(
        &self,
        original_transaction_id: &str,
        limit: i64,
    ) -> Result<Vec<TimelineEntry>, StoreError> {
        Ok(sqlx::query_as(&self.reads_sql.timeline)
            .bind(original_transaction_id.to_owned())
            .bind(limit)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn quarantine_page(
        &self,
        reason_prefix: &str,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<QuarantineEntry>, StoreError> {
        Ok(sqlx::query_as(&self.reads_sql.quarantine_page)
            .bind(reason_prefix.to_owned())
            .bind(limit)
            .bind(offset)
            .fetch_all(&self.pool)
            .await?)
    }
}

/// Counts per reason, summed per class (the reason up to its first `:`, e.g.
/// `INVALID_APP_IDENTIFIER`), most first.
fn by_class(rows: Vec<(String, i64)>) -> Vec<ReasonCount> {
    let mut classes: std::collections::BTreeMap<String, i64> = Default::default();
    for (reason, count) in rows {
        let class = reason.split(':').next().unwrap_or_default().trim();
        *classes.entry(class.to_owned()).or_default() += count;
    }
    let mut counts: Vec<ReasonCount> = classes
        .into_iter()
        .map(|(reason, count)| ReasonCount { reason, count })
        .collect();
    counts.sort_by(|a, b| b.count.cmp(&a.count).then(a.reason.cmp(&b.reason)));
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_summed_per_class_most_first() {
        let counts = by_class(vec![
            ("INVALID_APP_IDENTIFIER: com.a".into(), 2),
            ("bad_request: not JSON".into(), 1),
            ("INVALID_APP_IDENTIFIER: com.b".into(), 3),
        ]);
        assert_eq!(
            counts,
            vec![
                ReasonCount {
                    reason: "INVALID_APP_IDENTIFIER".into(),
                    count: 5
                },
                ReasonCount {
                    reason: "bad_request".into(),
                    count: 1
                },
            ]
        );
    }
}
