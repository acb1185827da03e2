//! PostgreSQL store: times as `timestamptz`, decoded JSON as `jsonb`, raw bodies as `bytea`.
//!
//! Times arrive as milliseconds since the epoch and are converted in SQL with
//! `to_timestamp($n::bigint / 1000.0)` (exact to the millisecond; NULL stays NULL).

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Connection, PgConnection};

use super::{
    DeliveryAttempt, ExclusiveLock, LockInner, NewNotification, Rejection, SaveOutcome, Store,
    StoreError, StoreOptions, StoredNotification, StoredRejection, SubscriptionRow, TransactionRow,
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// A pool of connections to one PostgreSQL database.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    /// `host:port/database`, for `Debug`; never the password.
    target: String,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("target", &self.target)
            .field("size", &self.pool.size())
            .field("idle", &self.pool.num_idle())
            .finish()
    }
}

impl PgStore {
    /// Opens a pool on `url` (`postgres://` or `postgresql://`) and checks that the server
    /// answers within `options.acquire_timeout`.
    pub async fn connect(url: &str, options: &StoreOptions) -> Result<PgStore, StoreError> {
        let connect_options = PgConnectOptions::from_str(url)
            .map_err(|e| scrub(e, url))?
            .application_name("asnd");
        let target = format!(
            "{}:{}/{}",
            connect_options.get_host(),
            connect_options.get_port(),
            connect_options.get_database().unwrap_or_default()
        );

        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(options.acquire_timeout)
            .connect_lazy_with(connect_options.clone());

        // Prove the server answers now, so that a wrong URL fails at start-up. The pool retries a
        // refused connection until `acquire_timeout` and then reports only a timeout; in that case
        // one direct attempt names the cause (connection refused, unknown host, ...).
        match pool.acquire().await {
            Ok(conn) => drop(conn),
            Err(sqlx::Error::PoolTimedOut) => {
                let budget = options.acquire_timeout.min(Duration::from_secs(2));
                let cause = match tokio::time::timeout(
                    budget,
                    PgConnection::connect_with(&connect_options),
                )
                .await
                {
                    Ok(Err(e)) => e,
                    Ok(Ok(conn)) => {
                        let _ = conn.close().await;
                        sqlx::Error::PoolTimedOut
                    }
                    Err(_) => sqlx::Error::PoolTimedOut,
                };
                pool.close().await;
                return Err(scrub(cause, url).into());
            }
            Err(e) => {
                pool.close().await;
                return Err(scrub(e, url).into());
            }
        }

        Ok(PgStore { pool, target })
    }

    /// The underlying pool (for tests and administrative tools).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

#[async_trait::async_trait]
impl Store for PgStore {
    /// sqlx's migrator holds a session-level `pg_advisory_lock` (keyed on the database name) from
    /// before it creates `_sqlx_migrations` until it is done, so concurrent callers (other
    /// processes included) wait for each other and then find the migrations applied.
    async fn migrate(&self) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        // `run_direct` is `run` on one connection we hold (`run(&mut *conn)` trips the
        // "Acquire is not general enough" limitation inside an async_trait future).
        match MIGRATOR.run_direct(&mut *conn).await {
            Ok(()) => Ok(()),
            Err(e) => {
                // On failure the migrator returns without `pg_advisory_unlock`; closing this
                // session releases the lock instead of handing it back to the pool.
                let _ = conn.detach().close().await;
                Err(e.into())
            }
        }
    }

    async fn save_notification(&self, n: &NewNotification) -> Result<SaveOutcome, StoreError> {
        let (transactions, subscriptions) = (n.transaction_rows(), n.subscription_rows());
        if transactions.len() <= 1 && subscriptions.len() <= 1 {
            return save_in_one_statement(
                &self.pool,
                n,
                transactions.first(),
                subscriptions.first(),
            )
            .await;
        }
        let mut tx = self.pool.begin().await?;

        // Concurrent inserts of one UUID: the later ones wait for the first to commit and then
        // insert nothing, so exactly one caller sees a row inserted.
        let inserted = bind_notification(sqlx::query(INSERT_NOTIFICATION), n)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if inserted == 0 {
            tx.rollback().await?;
            return Ok(SaveOutcome::Duplicate);
        }
        for t in transactions {
            bind_transaction(sqlx::query(UPSERT_TRANSACTION), t)
                .execute(&mut *tx)
                .await?;
        }
        for s in subscriptions {
            bind_subscription(sqlx::query(UPSERT_SUBSCRIPTION), s)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(SaveOutcome::Stored)
    }

    async fn save_rejection(&self, r: &Rejection) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO rejected_notifications
                 (received_at, source_address, reason, http_status, raw_body, notification_uuid)
             VALUES (to_timestamp($1::bigint / 1000.0), $2, $3, $4, $5, $6)",
        )
        .bind(r.received_at)
        .bind(&r.source_address)
        .bind(&r.reason)
        .bind(i32::from(r.http_status))
        .bind(&r.raw_body)
        .bind(&r.notification_uuid)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn save_delivery_attempts(
        &self,
        notification_uuid: &str,
        attempts: &[DeliveryAttempt],
    ) -> Result<u64, StoreError> {
        if attempts.is_empty() {
            return Ok(0);
        }
        let mut tx = self.pool.begin().await?;
        let mut inserted = 0;
        for a in attempts {
            inserted += sqlx::query(
                "INSERT INTO delivery_attempts (notification_uuid, attempt_date, send_attempt_result)
                 VALUES ($1, to_timestamp($2::bigint / 1000.0), $3)
                 ON CONFLICT (notification_uuid, attempt_date, send_attempt_result) DO NOTHING",
            )
            .bind(notification_uuid)
            .bind(a.attempt_date)
            .bind(&a.send_attempt_result)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
        tx.commit().await?;
        Ok(inserted)
    }

    async fn find_notification(
        &self,
        notification_uuid: &str,
    ) -> Result<Option<StoredNotification>, StoreError> {
        let row: Option<(String, String, Option<String>, i64, String)> = sqlx::query_as(
            "SELECT notification_uuid, notification_type, environment,
                    (extract(epoch FROM received_at) * 1000)::bigint, source_address
             FROM notifications WHERE notification_uuid = $1",
        )
        .bind(notification_uuid)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(
            |(notification_uuid, notification_type, environment, received_at, source_address)| {
                StoredNotification {
                    notification_uuid,
                    notification_type,
                    environment,
                    received_at,
                    source_address,
                }
            },
        ))
    }

    async fn find_rejections(
        &self,
        notification_uuid: &str,
    ) -> Result<Vec<StoredRejection>, StoreError> {
        let rows: Vec<(i64, String, String, i32)> = sqlx::query_as(
            "SELECT (extract(epoch FROM received_at) * 1000)::bigint, source_address, reason,
                    http_status
             FROM rejected_notifications WHERE notification_uuid = $1
             ORDER BY received_at DESC, id DESC LIMIT 10",
        )
        .bind(notification_uuid)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(received_at, source_address, reason, http_status)| StoredRejection {
                    received_at,
                    source_address,
                    reason,
                    http_status: u16::try_from(http_status).unwrap_or(0),
                },
            )
            .collect())
    }

    /// A session-level advisory lock on a connection of its own: it is marked to close rather than
    /// go back to the pool, so a holder that is cancelled or panics cannot leave a pooled session
    /// locked; the server releases the lock when the session ends.
    async fn try_lock(&self, key: i64) -> Result<Option<ExclusiveLock>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        // Cancelled while the query runs, the lock may or may not be taken: this session never
        // goes back to the pool, whatever happens (a failed attempt costs one reconnection).
        conn.close_on_drop();
        let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(key)
            .fetch_one(&mut *conn)
            .await?;
        if !locked {
            return Ok(None);
        }
        Ok(Some(ExclusiveLock {
            inner: LockInner::Postgres { conn, key },
        }))
    }

    async fn ready(&self) -> Result<bool, StoreError> {
        let mut conn = self.pool.acquire().await?;
        sqlx::query("SELECT 1").execute(&mut *conn).await?;
        let has_table: bool =
            sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
                .fetch_one(&mut *conn)
                .await?;
        if !has_table {
            return Ok(false);
        }
        let applied: Vec<(i64, Vec<u8>)> =
            sqlx::query_as("SELECT version, checksum FROM _sqlx_migrations WHERE success")
                .fetch_all(&mut *conn)
                .await?;
        Ok(all_applied(&MIGRATOR, &applied))
    }

    async fn quarantine_size(&self) -> Result<i64, StoreError> {
        let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM rejected_notifications")
            .fetch_one(&self.pool)
            .await?;
        Ok(rows)
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}

/// Unlocks, then closes the connection (which would release the lock by itself too).
pub(crate) async fn release_lock(mut conn: sqlx::pool::PoolConnection<sqlx::Postgres>, key: i64) {
    if let Err(e) = sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(key)
        .execute(&mut *conn)
        .await
    {
        tracing::warn!(error = %e, "advisory unlock failed; closing the session releases the lock");
    }
    let _ = conn.close().await;
}

/// Every up-migration this binary knows is recorded as applied with the same checksum.
fn all_applied(migrator: &sqlx::migrate::Migrator, applied: &[(i64, Vec<u8>)]) -> bool {
    migrator
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
        .all(|m| {
            applied
                .iter()
                .any(|(version, checksum)| *version == m.version && **checksum == *m.checksum)
        })
}

/// sqlx's messages do not echo connection URLs, but make sure: an error whose text contains the
/// URL's password is replaced by one that does not.
fn scrub(error: sqlx::Error, url: &str) -> sqlx::Error {
    let text = error.to_string();
    let leaks = secrets_in(url)
        .iter()
        .any(|secret| !secret.is_empty() && text.contains(secret.as_str()));
    if leaks {
        sqlx::Error::Configuration(
            format!(
                "connecting to {} failed (details withheld: they contained the password)",
                super::redact_url(url)
            )
            .into(),
        )
    } else {
        error
    }
}

/// The password of a URL, from its userinfo or a `password=` query parameter, raw and
/// percent-decoded.
fn secrets_in(url: &str) -> Vec<String> {
    let mut raw = Vec::new();
    if let Some(scheme_end) = url.find("://") {
        let rest = &url[scheme_end + 3..];
        let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
        if let Some(at) = authority.rfind('@')
            && let Some(colon) = authority[..at].find(':')
        {
            raw.push(authority[colon + 1..at].to_string());
        }
    }
    if let Some(q) = url.find('?') {
        for pair in url[q + 1..].split(['&', '#']) {
            if let Some(value) = pair.strip_prefix("password=") {
                raw.push(value.to_string());
            }
        }
    }
    let mut all = raw.clone();
    all.extend(raw.iter().map(|s| percent_decode(s)));
    all
}

fn percent_decode(s: &str) -> String {
    fn hex(b: u8) -> Option<u8> {
        (b as char).to_digit(16).map(|d| d as u8)
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push(hi << 4 | lo);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

const INSERT_NOTIFICATION: &str = "
INSERT INTO notifications (
    notification_uuid, notification_type, subtype, version, environment, bundle_id,
    app_apple_id, signed_date, received_at, source_address, transaction_id,
    original_transaction_id, verified_by, raw_body, payload
) VALUES (
    $1, $2, $3, $4, $5, $6,
    $7, to_timestamp($8::bigint / 1000.0), to_timestamp($9::bigint / 1000.0), $10, $11,
    $12, $13, $14, $15
)
ON CONFLICT (notification_uuid) DO NOTHING";

const UPSERT_TRANSACTION: &str = concat!(
    "
INSERT INTO transactions (
    transaction_id, original_transaction_id, bundle_id, product_id, product_type,
    purchase_date, original_purchase_date, expires_date, revocation_date,
    revocation_reason, revocation_type, environment, app_account_token,
    in_app_ownership_type, transaction_reason, web_order_line_item_id, storefront,
    price, currency, quantity, offer_type, offer_identifier,
    signed_date, last_notification_uuid, payload, updated_at
) VALUES (
    $1, $2, $3, $4, $5,
    to_timestamp($6::bigint / 1000.0), to_timestamp($7::bigint / 1000.0),
    to_timestamp($8::bigint / 1000.0), to_timestamp($9::bigint / 1000.0),
    $10, $11, $12, $13,
    $14, $15, $16, $17,
    $18, $19, $20, $21, $22,
    to_timestamp($23::bigint / 1000.0), $24, $25, now()
)
",
    upsert_transaction_on_conflict!()
);

const UPSERT_SUBSCRIPTION: &str = concat!(
    "
INSERT INTO subscriptions (
    original_transaction_id, bundle_id, environment, status, product_id,
    auto_renew_product_id, auto_renew_status, expires_date, grace_period_expires_date,
    is_in_billing_retry_period, expiration_intent, app_account_token,
    signed_date, last_notification_uuid, last_notification_type, last_subtype,
    renewal_info, updated_at
) VALUES (
    $1, $2, $3, $4, $5,
    $6, $7, to_timestamp($8::bigint / 1000.0), to_timestamp($9::bigint / 1000.0),
    $10, $11, $12,
    to_timestamp($13::bigint / 1000.0), $14, $15, $16,
    $17, now()
)
",
    upsert_subscription_on_conflict!()
);

type PgQuery<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

fn bind_notification<'q>(q: PgQuery<'q>, n: &'q NewNotification) -> PgQuery<'q> {
    q.bind(&n.notification_uuid)
        .bind(&n.notification_type)
        .bind(&n.subtype)
        .bind(&n.version)
        .bind(&n.environment)
        .bind(&n.bundle_id)
        .bind(n.app_apple_id)
        .bind(n.signed_date)
        .bind(n.received_at)
        .bind(&n.source_address)
        .bind(&n.transaction_id)
        .bind(&n.original_transaction_id)
        .bind(&n.verified_by)
        .bind(&n.raw_body)
        .bind(&n.payload)
}

fn bind_transaction<'q>(q: PgQuery<'q>, t: &'q TransactionRow) -> PgQuery<'q> {
    q.bind(&t.transaction_id)
        .bind(&t.original_transaction_id)
        .bind(&t.bundle_id)
        .bind(&t.product_id)
        .bind(&t.product_type)
        .bind(t.purchase_date)
        .bind(t.original_purchase_date)
        .bind(t.expires_date)
        .bind(t.revocation_date)
        .bind(t.revocation_reason)
        .bind(&t.revocation_type)
        .bind(&t.environment)
        .bind(&t.app_account_token)
        .bind(&t.in_app_ownership_type)
        .bind(&t.transaction_reason)
        .bind(&t.web_order_line_item_id)
        .bind(&t.storefront)
        .bind(t.price)
        .bind(&t.currency)
        .bind(t.quantity)
        .bind(t.offer_type)
        .bind(&t.offer_identifier)
        .bind(t.signed_date)
        .bind(&t.last_notification_uuid)
        .bind(&t.payload)
}

fn bind_subscription<'q>(q: PgQuery<'q>, s: &'q SubscriptionRow) -> PgQuery<'q> {
    q.bind(&s.original_transaction_id)
        .bind(&s.bundle_id)
        .bind(&s.environment)
        .bind(s.status)
        .bind(&s.product_id)
        .bind(&s.auto_renew_product_id)
        .bind(s.auto_renew_status)
        .bind(s.expires_date)
        .bind(s.grace_period_expires_date)
        .bind(s.is_in_billing_retry_period)
        .bind(s.expiration_intent)
        .bind(&s.app_account_token)
        .bind(s.signed_date)
        .bind(&s.last_notification_uuid)
        .bind(&s.last_notification_type)
        .bind(&s.last_subtype)
        .bind(&s.renewal_info)
}

/// The common case (one transaction row, one subscription row at most) as ONE statement: the
/// derived rows are written only when the notification row was inserted. One round trip
/// instead of five (BEGIN, three statements, COMMIT) roughly halves the database's work per
/// notification; a single statement is atomic on its own.
async fn save_in_one_statement(
    pool: &PgPool,
    n: &NewNotification,
    t: Option<&&TransactionRow>,
    s: Option<&&SubscriptionRow>,
) -> Result<SaveOutcome, StoreError> {
    static SQL: std::sync::OnceLock<[String; 4]> = std::sync::OnceLock::new();
    let variants = SQL.get_or_init(|| {
        [(false, false), (true, false), (false, true), (true, true)]
            .map(|(t, s)| one_statement_sql(t, s))
    });
    let sql = &variants[usize::from(t.is_some()) + 2 * usize::from(s.is_some())];
    let mut q = bind_notification(sqlx::query(sql), n);
    if let Some(t) = t {
        q = bind_transaction(q, t);
    }
    if let Some(s) = s {
        q = bind_subscription(q, s);
    }
    let inserted: i64 = sqlx::Row::try_get(&q.fetch_one(pool).await?, 0)?;
    Ok(if inserted == 0 {
        SaveOutcome::Duplicate
    } else {
        SaveOutcome::Stored
    })
}

/// `WITH n AS (insert notification RETURNING 1), t AS (upsert ...), s AS (upsert ...)
/// SELECT count(*) FROM n`, the upserts guarded by `EXISTS (SELECT 1 FROM n)`.
fn one_statement_sql(with_transaction: bool, with_subscription: bool) -> String {
    let mut sql = format!("WITH n AS ({} RETURNING 1)", INSERT_NOTIFICATION.trim());
    let mut next = 16;
    for (name, present, upsert, count) in [
        ("t", with_transaction, UPSERT_TRANSACTION, 25),
        ("s", with_subscription, UPSERT_SUBSCRIPTION, 17),
    ] {
        if !present {
            continue;
        }
        let guarded = shift_params(upsert.trim(), next - 1)
            .replacen(") VALUES (", ") SELECT ", 1)
            .replacen(
                "\n)\nON CONFLICT",
                "\nWHERE EXISTS (SELECT 1 FROM n)\nON CONFLICT",
                1,
            );
        sql.push_str(&format!(", {name} AS ({guarded})"));
        next += count;
    }
    sql.push_str(" SELECT count(*) FROM n");
    sql
}

/// Renumbers `$1`, `$2`, ... to `$1+offset`, ... so statements can share one parameter list.
fn shift_params(sql: &str, offset: usize) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if c != '$' {
            continue;
        }
        let mut digits = String::new();
        while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
            digits.push(*d);
            chars.next();
        }
        match digits.parse::<usize>() {
            Ok(n) => out.push_str(&(n + offset).to_string()),
            Err(_) => out.push_str(&digits),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_statement_sql_numbers_parameters_in_order() {
        assert_eq!(shift_params("a $1, $2 $10 $", 15), "a $16, $17 $25 $");
        let all = one_statement_sql(true, true);
        assert!(all.contains("$57") && !all.contains("$58"), "{all}");
        assert_eq!(
            all.matches("WHERE EXISTS (SELECT 1 FROM n)").count(),
            2,
            "{all}"
        );
        let only_subscription = one_statement_sql(false, true);
        assert!(only_subscription.contains("$32") && !only_subscription.contains("$33"));
        assert!(!one_statement_sql(false, false).contains("EXISTS"));
    }

    #[test]
    fn finds_passwords_in_userinfo_and_query() {
        assert_eq!(
            secrets_in("postgres://u:p%40ss@h/db"),
            vec!["p%40ss".to_string(), "p@ss".to_string()]
        );
        assert_eq!(
            secrets_in("postgres://h/db?user=u&password=hunter2"),
            vec!["hunter2".to_string(), "hunter2".to_string()]
        );
        assert!(secrets_in("postgres://u@h/db").is_empty());
    }

    #[test]
    fn scrubs_errors_that_mention_the_password() {
        let e = sqlx::Error::Protocol("oops hunter2".into());
        let scrubbed = scrub(e, "postgres://u:hunter2@h/db").to_string();
        assert!(!scrubbed.contains("hunter2"), "{scrubbed}");
        let e = sqlx::Error::Protocol("oops".into());
        assert_eq!(
            scrub(e, "postgres://u:hunter2@h/db").to_string(),
            "encountered unexpected or invalid data: oops"
        );
    }
}
