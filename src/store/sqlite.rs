//! SQLite store: times as ISO-8601 UTC text with milliseconds (`2026-11-29T18:27:38.123Z`), so
//! that they sort as text and work with `date()`, `strftime()` and `julianday()`; decoded JSON as
//! TEXT; raw bodies as BLOB; booleans as 0/1.
//!
//! Durability: WAL journal with `synchronous = FULL`, so a committed (acknowledged) notification
//! survives power loss. Writers queue on `busy_timeout` instead of failing with `SQLITE_BUSY`:
//! each write transaction starts with `BEGIN IMMEDIATE`, which takes the write lock up front (and
//! waits for it), so no transaction ever has to upgrade a read lock.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};

use super::{
    DeliveryAttempt, ExclusiveLock, LockInner, NewNotification, Rejection, SaveOutcome, Store,
    StoreError, StoreOptions, StoredNotification, StoredRejection, SubscriptionRow, TransactionRow,
};

use super::sqlite_writer::GroupWriter;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// How long a writer waits for another writer before giving up with `SQLITE_BUSY`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Milliseconds since the epoch (bound as an integer) to `YYYY-MM-DDTHH:MM:SS.SSSZ`; NULL stays NULL.
macro_rules! ts {
    ($n:literal) => {
        concat!(
            "strftime('%Y-%m-%dT%H:%M:%fZ', ?",
            $n,
            " / 1000.0, 'unixepoch')"
        )
    };
}

/// An ISO-8601 text column back to milliseconds since the epoch.
macro_rules! ms {
    ($col:literal) => {
        concat!(
            "CAST(round((julianday(",
            $col,
            ") - 2440587.5) * 86400000.0) AS INTEGER)"
        )
    };
}

/// The current time in the same form.
macro_rules! now {
    () => {
        "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"
    };
}

/// A pool of connections to one SQLite database file.
#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    filename: String,
    /// SQLite has one writer at a time. Writers of this process queue here, in order, instead of
    /// colliding in SQLite, whose busy handler sleeps and retries (slow, and unfair under load);
    /// `busy_timeout` still covers other processes.
    writer: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// Notifications are written in groups, one fsync per group.
    group: GroupWriter,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("filename", &self.filename)
            .field("size", &self.pool.size())
            .field("idle", &self.pool.num_idle())
            .finish()
    }
}

impl SqliteStore {
    /// Opens (creating if missing) the database named by `url` (`sqlite://path`, `sqlite:path`,
    /// `sqlite::memory:`).
    pub async fn connect(url: &str, options: &StoreOptions) -> Result<SqliteStore, StoreError> {
        let connect_options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let filename = connect_options.get_filename().display().to_string();

        let mut pool_options = SqlitePoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(options.acquire_timeout);
        if is_in_memory(url) {
            // An in-memory database lives as long as a connection to it does, and its
            // connections share a cache with table-level locks that `busy_timeout` does not
            // cover: use exactly one connection, kept forever.
            pool_options = pool_options
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None);
        }
        // Opening the first connection applies the pragmas (and creates the file) now, so a bad
        // path fails at start-up.
        let pool = pool_options.connect_with(connect_options).await?;

        let writer = std::sync::Arc::new(tokio::sync::Mutex::new(()));
        let group = GroupWriter::start(pool.clone(), writer.clone());
        Ok(SqliteStore {
            pool,
            filename,
            writer,
            group,
        })
    }

    /// The underlying pool (for tests and administrative tools).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

/// One notification and its derived rows, inside the caller's transaction (the group writer's,
/// under a savepoint). A duplicate UUID inserts nothing.
pub(super) async fn save_one(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    n: &NewNotification,
) -> Result<SaveOutcome, StoreError> {
    let inserted = sqlx::query(INSERT_NOTIFICATION)
        .bind(&n.notification_uuid)
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
        .execute(&mut **tx)
        .await?
        .rows_affected();
    if inserted == 0 {
        return Ok(SaveOutcome::Duplicate);
    }
    for t in n.transaction_rows() {
        upsert_transaction(tx, t).await?;
    }
    for s in n.subscription_rows() {
        upsert_subscription(tx, s).await?;
    }
    Ok(SaveOutcome::Stored)
}

fn is_in_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

#[async_trait::async_trait]
impl Store for SqliteStore {
    /// SQLite has no advisory lock, so two processes may both try to apply a migration; the
    /// loser's migration transaction fails (table exists) and rolls back whole. One more run then
    /// finds it applied.
    async fn migrate(&self) -> Result<(), StoreError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match MIGRATOR.run(&self.pool).await {
                Ok(()) => return Ok(()),
                Err(
                    sqlx::migrate::MigrateError::Execute(_)
                    | sqlx::migrate::MigrateError::ExecuteMigration(..),
                ) if attempt < 3 => {
                    tokio::time::sleep(Duration::from_millis(50 * attempt)).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    async fn save_notification(&self, n: &NewNotification) -> Result<SaveOutcome, StoreError> {
        self.group.save(n).await
    }

    async fn save_rejection(&self, r: &Rejection) -> Result<(), StoreError> {
        let _writer = self.writer.lock().await;
        sqlx::query(concat!(
            "INSERT INTO rejected_notifications
                 (received_at, source_address, reason, http_status, raw_body, notification_uuid)
             VALUES (",
            ts!(1),
            ", ?2, ?3, ?4, ?5, ?6)"
        ))
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
        let _writer = self.writer.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let mut inserted = 0;
        for a in attempts {
            inserted += sqlx::query(concat!(
                "INSERT INTO delivery_attempts (notification_uuid, attempt_date, send_attempt_result)
                 VALUES (?1, ",
                ts!(2),
                ", ?3)
                 ON CONFLICT (notification_uuid, attempt_date, send_attempt_result) DO NOTHING"
            ))
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
        let row: Option<(String, String, Option<String>, i64, String)> = sqlx::query_as(concat!(
            "SELECT notification_uuid, notification_type, environment, ",
            ms!("received_at"),
            ", source_address
             FROM notifications WHERE notification_uuid = ?1"
        ))
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
        let rows: Vec<(i64, String, String, i64)> = sqlx::query_as(concat!(
            "SELECT ",
            ms!("received_at"),
            ", source_address, reason, http_status
             FROM rejected_notifications WHERE notification_uuid = ?1
             ORDER BY received_at DESC, id DESC LIMIT 10"
        ))
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

    /// SQLite lives on one host and has no advisory locks: every caller gets the lock. Work
    /// guarded by it must be safe to run twice (reconciliation is: it is idempotent).
    async fn try_lock(&self, _key: i64) -> Result<Option<ExclusiveLock>, StoreError> {
        Ok(Some(ExclusiveLock {
            inner: LockInner::Nothing,
        }))
    }

    async fn ready(&self) -> Result<bool, StoreError> {
        let mut conn = self.pool.acquire().await?;
        sqlx::query("SELECT 1").execute(&mut *conn).await?;
        let has_table: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master
                            WHERE type = 'table' AND name = '_sqlx_migrations')",
        )
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

const INSERT_NOTIFICATION: &str = concat!(
    "INSERT INTO notifications (
    notification_uuid, notification_type, subtype, version, environment, bundle_id,
    app_apple_id, signed_date, received_at, source_address, transaction_id,
    original_transaction_id, verified_by, raw_body, payload
) VALUES (
    ?1, ?2, ?3, ?4, ?5, ?6,
    ?7, ",
    ts!(8),
    ", ",
    ts!(9),
    ", ?10, ?11,
    ?12, ?13, ?14, ?15
)
ON CONFLICT (notification_uuid) DO NOTHING"
);

const UPSERT_TRANSACTION: &str = concat!(
    "INSERT INTO transactions (
    transaction_id, original_transaction_id, bundle_id, product_id, product_type,
    purchase_date, original_purchase_date, expires_date, revocation_date,
    revocation_reason, revocation_type, environment, app_account_token,
    in_app_ownership_type, transaction_reason, web_order_line_item_id, storefront,
    price, currency, quantity, offer_type, offer_identifier,
    signed_date, last_notification_uuid, payload, updated_at
) VALUES (
    ?1, ?2, ?3, ?4, ?5, ",
    ts!(6),
    ", ",
    ts!(7),
    ", ",
    ts!(8),
    ", ",
    ts!(9),
    ",
    ?10, ?11, ?12, ?13,
    ?14, ?15, ?16, ?17,
    ?18, ?19, ?20, ?21, ?22, ",
    ts!(23),
    ", ?24, ?25, ",
    now!(),
    "
)
",
    upsert_transaction_on_conflict!()
);

const UPSERT_SUBSCRIPTION: &str = concat!(
    "INSERT INTO subscriptions (
    original_transaction_id, bundle_id, environment, status, product_id,
    auto_renew_product_id, auto_renew_status, expires_date, grace_period_expires_date,
    is_in_billing_retry_period, expiration_intent, app_account_token,
    signed_date, last_notification_uuid, last_notification_type, last_subtype,
    renewal_info, updated_at
) VALUES (
    ?1, ?2, ?3, ?4, ?5,
    ?6, ?7, ",
    ts!(8),
    ", ",
    ts!(9),
    ",
    ?10, ?11, ?12, ",
    ts!(13),
    ", ?14, ?15, ?16,
    ?17, ",
    now!(),
    "
)
",
    upsert_subscription_on_conflict!()
);

async fn upsert_transaction(
    conn: &mut SqliteConnection,
    t: &TransactionRow,
) -> Result<(), sqlx::Error> {
    sqlx::query(UPSERT_TRANSACTION)
        .bind(&t.transaction_id)
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
        .execute(conn)
        .await?;
    Ok(())
}

async fn upsert_subscription(
    conn: &mut SqliteConnection,
    s: &SubscriptionRow,
) -> Result<(), sqlx::Error> {
    sqlx::query(UPSERT_SUBSCRIPTION)
        .bind(&s.original_transaction_id)
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
        .execute(conn)
        .await?;
    Ok(())
}
