//! The outbox, `event_deliveries`, for both backends: the statements in each dialect, and the
//! code that runs them. A delivery row is written in the transaction that stores its notification
//! (see the backends' `save_notification`); the delivery workers lease, attempt and finish them.

use std::sync::Arc;

use sqlx::{Database, Decode, Encode, Executor, IntoArguments, Pool, Type};

use super::mapping::{Dialect, RowsAffected};
use super::reads::{NotificationDetail, NotificationSummary};
use super::tables::SqlTables;
use super::{
    AttemptResult, Backlog, ClaimedDelivery, DeliveryFilter, DeliveryRow, NewNotification, Outbox,
    StoreError,
};

/// The `pg_notify` channel of stored events; its payload is the event id.
pub const CHANNEL: &str = "asnd_events";

/// The `webhook-id` of the event a stored notification makes: stable on every retry and replay.
pub fn event_id(notification_id: i64) -> String {
    format!("evt_{notification_id}")
}

/// The ordering key of a subscription's events: its `original_transaction_id`, under the same
/// representation rule as the column (a NUL makes it NULL: no order to keep).
pub(super) fn ordering_key(original_transaction_id: Option<&str>) -> Option<String> {
    super::representable::optional_text(original_transaction_id).map(str::to_string)
}

/// Every outbox statement of one backend, generated once from its dialect.
pub(super) struct OutboxStatements {
    /// Parameters: notification id, destination, ordering key, now.
    pub insert: String,
    /// As `insert`, unless the notification already has a pending delivery to the destination.
    pub replay: String,
    /// Parameters: lease end, now, limit.
    pub claim: String,
    /// Parameter: notification id.
    pub stored_event: String,
    /// Parameters: state, next attempt, delivered at, status, error, attempts, id, leased
    /// attempts.
    pub finish: String,
    /// Parameters: destination, state, since, limit.
    pub list: String,
    /// Parameters: now, id, destination.
    pub retry: String,
    /// Parameters: since, until, after id, limit.
    pub events_between: String,
    pub backlog: String,
    /// Parameter: delivered before.
    pub prune: String,
}

impl OutboxStatements {
    pub(super) fn of(d: &Dialect) -> OutboxStatements {
        let p = d.placeholder;
        let t = |n: usize| (d.time_from_millis)(&p(n));
        let m = d.millis_of;
        let summary = super::reads::summary_columns(d);
        OutboxStatements {
            insert: format!(
                "INSERT INTO event_deliveries
                     (notification_id, destination, ordering_key, next_attempt_at, created_at)
                 VALUES ({}, {}, {}, {}, {})",
                p(1),
                p(2),
                p(3),
                t(4),
                t(4)
            ),
            replay: format!(
                "INSERT INTO event_deliveries
                     (notification_id, destination, ordering_key, next_attempt_at, created_at)
                 SELECT {id}, {dest}, {key}, {now}, {now}
                 WHERE NOT EXISTS (
                     SELECT 1 FROM event_deliveries
                     WHERE notification_id = {id} AND destination = {dest} AND state = 'pending')",
                id = p(1),
                dest = p(2),
                key = p(3),
                now = t(4)
            ),
            // A later event of a subscription waits while an earlier one for the same
            // destination is pending (delivered or dead ones do not hold it back): only the
            // first pending one of each ordering key is due. Written as `min()`, which the
            // ordering index answers with one probe per candidate whatever the statistics say.
            claim: format!(
                "UPDATE event_deliveries SET leased_until = {lease}, attempts = attempts + 1
                 WHERE id IN (
                     SELECT d.id FROM event_deliveries d
                     WHERE d.state = 'pending' AND d.next_attempt_at <= {now}
                       AND (d.leased_until IS NULL OR d.leased_until < {now})
                       AND (d.ordering_key IS NULL OR d.notification_id = (
                           SELECT min(e.notification_id) FROM event_deliveries e
                           WHERE e.state = 'pending' AND e.destination = d.destination
                             AND e.ordering_key = d.ordering_key))
                     ORDER BY d.next_attempt_at, d.id LIMIT {limit} {skip_locked})
                 RETURNING id, notification_id, destination, CAST(attempts AS BIGINT) AS attempts",
                lease = t(1),
                now = t(2),
                limit = p(3),
                skip_locked = d.skip_locked,
            ),
            stored_event: format!(
                "SELECT {summary}, version, raw_body, payload FROM notifications
                 WHERE notifications.id = {}",
                p(1)
            ),
            // Only while the lease is this worker's: a later lease counted one attempt more.
            finish: format!(
                "UPDATE event_deliveries SET state = {}, next_attempt_at = {}, delivered_at = {},
                        leased_until = NULL, last_status = {}, last_error = {}, attempts = {}
                 WHERE id = {} AND attempts = {} AND state = 'pending'",
                p(1),
                t(2),
                t(3),
                p(4),
                p(5),
                p(6),
                p(7),
                p(8)
            ),
            list: format!(
                "SELECT id, notification_id, destination, state,
                        CAST(attempts AS BIGINT) AS attempts, {} AS next_attempt_at,
                        CAST(last_status AS BIGINT) AS last_status, last_error,
                        {} AS created_at
                 FROM event_deliveries
                 WHERE ({dest} IS NULL OR destination = {dest})
                   AND ({state} IS NULL OR state = {state})
                   AND event_deliveries.created_at >= {since}
                 ORDER BY id DESC LIMIT {limit}",
                m("next_attempt_at"),
                m("created_at"),
                dest = p(1),
                state = p(2),
                since = t(3),
                limit = p(4)
            ),
            retry: format!(
                "UPDATE event_deliveries
                 SET state = 'pending', attempts = 0, next_attempt_at = {now}, leased_until = NULL
                 WHERE state = 'dead' AND ({id} IS NULL OR id = {id})
                   AND ({dest} IS NULL OR destination = {dest})",
                now = t(1),
                id = p(2),
                dest = p(3)
            ),
            events_between: format!(
                "SELECT {summary} FROM notifications
                 WHERE notifications.received_at >= {} AND notifications.received_at < {}
                   AND notifications.id > {}
                 ORDER BY notifications.id LIMIT {}",
                t(1),
                t(2),
                p(3),
                p(4)
            ),
            backlog: format!(
                "SELECT destination, state, COUNT(*) AS count, MIN({}) AS oldest
                 FROM event_deliveries WHERE state IN ('pending', 'dead')
                 GROUP BY destination, state",
                m("created_at")
            ),
            prune: format!(
                "DELETE FROM event_deliveries WHERE state = 'delivered' AND delivered_at < {}",
                t(1)
            ),
        }
    }
}

/// Writes `n`'s deliveries (one per destination) for the notification row `notification_id`,
/// inside the caller's transaction.
pub(super) async fn enqueue<DB>(
    tx: &mut sqlx::Transaction<'_, DB>,
    sql: &OutboxStatements,
    notification_id: i64,
    n: &NewNotification,
) -> Result<(), sqlx::Error>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> <DB as Database>::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
    for<'q> Option<String>: Encode<'q, DB> + Type<DB>,
{
    for destination in &n.destinations {
        sqlx::query(&sql.insert)
            .bind(notification_id)
            .bind(destination.clone())
            .bind(ordering_key(n.original_transaction_id.as_deref()))
            .bind(n.received_at)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl<DB> Outbox for SqlTables<DB>
where
    DB: Database,
    DB::QueryResult: RowsAffected,
    for<'c> &'c Pool<DB>: Executor<'c, Database = DB>,
    for<'q> <DB as Database>::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB> + Type<DB>,
    for<'q> Option<i32>: Encode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
    for<'q> Option<String>: Encode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    for<'r> ClaimedDelivery: sqlx::FromRow<'r, DB::Row>,
    for<'r> NotificationDetail: sqlx::FromRow<'r, DB::Row>,
    for<'r> DeliveryRow: sqlx::FromRow<'r, DB::Row>,
    for<'r> NotificationSummary: sqlx::FromRow<'r, DB::Row>,
    for<'r> Backlog: sqlx::FromRow<'r, DB::Row>,
{
    async fn claim(
        &self,
        now_ms: i64,
        lease_until_ms: i64,
        limit: i64,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        let _writer = self.writer().await;
        Ok(sqlx::query_as(&self.outbox_sql.claim)
            .bind(lease_until_ms)
            .bind(now_ms)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn stored_event(
        &self,
        notification_id: i64,
    ) -> Result<Option<NotificationDetail>, StoreError> {
        Ok(sqlx::query_as(&self.outbox_sql.stored_event)
            .bind(notification_id)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn finish(&self, d: &ClaimedDelivery, r: &AttemptResult) -> Result<bool, StoreError> {
        let _writer = self.writer().await;
        let recorded = sqlx::query(&self.outbox_sql.finish)
            .bind(r.state.as_str())
            .bind(r.next_attempt_at)
            .bind(r.delivered_at)
            .bind(r.status.and_then(|s| i32::try_from(s).ok()))
            .bind(r.error.clone())
            .bind(r.attempts)
            .bind(d.id)
            .bind(d.attempts)
            .execute(&self.pool)
            .await?
            .rows();
        Ok(recorded == 1)
    }

    async fn list(&self, f: &DeliveryFilter) -> Result<Vec<DeliveryRow>, StoreError> {
        Ok(sqlx::query_as(&self.outbox_sql.list)
            .bind(f.destination.clone())
            .bind(f.state.clone())
            .bind(f.since_ms)
            .bind(f.limit)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn retry(
        &self,
        id: Option<i64>,
        destination: Option<&str>,
        now_ms: i64,
    ) -> Result<u64, StoreError> {
        let _writer = self.writer().await;
        Ok(sqlx::query(&self.outbox_sql.retry)
            .bind(now_ms)
            .bind(id)
            .bind(destination)
            .execute(&self.pool)
            .await?
            .rows())
    }

    async fn events_between(
        &self,
        received: std::ops::Range<i64>,
        (after_id, limit): (i64, i64),
    ) -> Result<Vec<NotificationSummary>, StoreError> {
        Ok(sqlx::query_as(&self.outbox_sql.events_between)
            .bind(received.start)
            .bind(received.end)
            .bind(after_id)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn enqueue(
        &self,
        destination: &str,
        events: &[NotificationSummary],
        now_ms: i64,
    ) -> Result<u64, StoreError> {
        let _writer = self.writer().await;
        let mut added = 0;
        for e in events {
            added += sqlx::query(&self.outbox_sql.replay)
                .bind(e.id)
                .bind(destination.to_string())
                .bind(ordering_key(e.original_transaction_id.as_deref()))
                .bind(now_ms)
                .execute(&self.pool)
                .await?
                .rows();
        }
        Ok(added)
    }

    async fn backlog(&self) -> Result<Vec<Backlog>, StoreError> {
        Ok(sqlx::query_as(&self.outbox_sql.backlog)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn prune(&self, before_ms: i64) -> Result<u64, StoreError> {
        let _writer = self.writer().await;
        Ok(sqlx::query(&self.outbox_sql.prune)
            .bind(before_ms)
            .execute(&self.pool)
            .await?
            .rows())
    }
}

/// Forwards PostgreSQL's `NOTIFY asnd_events` to `wake` until the pool closes.
pub(super) async fn listen(
    pool: &sqlx::PgPool,
    wake: Arc<tokio::sync::Notify>,
) -> Result<(), sqlx::Error> {
    let mut listener = sqlx::postgres::PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    tokio::spawn(async move {
        // `recv` reconnects by itself after a lost connection; it fails for good once the pool
        // is closed.
        while listener.recv().await.is_ok() {
            wake.notify_one();
        }
    });
    Ok(())
}
