//! SQLite store: times as ISO-8601 UTC text with milliseconds (`2026-11-29T18:27:38.123Z`), so
//! that they sort as text and work with `date()`, `strftime()` and `julianday()`; decoded JSON as
//! TEXT; raw bodies as BLOB; booleans as 0/1.
//!
//! Durability: WAL journal with `synchronous = FULL`, so a committed (acknowledged) notification
//! survives power loss. Writers queue on `busy_timeout` instead of failing with `SQLITE_BUSY`:
//! each write transaction starts with `BEGIN IMMEDIATE`, which takes the write lock up front (and
//! waits for it), so no transaction ever has to upgrade a read lock.

use std::str::FromStr;
use std::sync::Arc;

use std::sync::LazyLock;
use std::time::Duration;
use tokio::sync::Notify;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::mapping::{self, Dialect, NOTIFICATIONS, SUBSCRIPTIONS, TRANSACTIONS, Table, bind_row};
use super::outbox;
use super::representable;
use super::tables::{BackendStatements, SqlTables};
use super::write_queue::WriteQueue;
use super::{
    ExclusiveLock, HeldLock, NewNotification, SaveOutcome, Store, StoreError, StoreOptions,
    SubscriptionRow, Tables, TransactionRow,
};
use sqlx::Row;

mod lock;
pub(crate) use lock::GrantedLock;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// How often the WAL is copied into the database file (see [`checkpoint_in_background`]).
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// The WAL's size (frames of one 4 KiB page) past which a checkpoint also makes it start over.
const WAL_RESTART_FRAMES: i64 = 8192;

/// How long a writer waits for another writer before giving up with `SQLITE_BUSY`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// SQLite's spelling: `?n` parameters, times as ISO-8601 UTC text with milliseconds.
const DIALECT: Dialect = Dialect {
    placeholder: |n| format!("?{n}"),
    time_from_millis: |parameter| {
        format!("strftime('%Y-%m-%dT%H:%M:%fZ', {parameter} / 1000.0, 'unixepoch')")
    },
    millis_of: |column| {
        format!("CAST(round((julianday({column}) - 2440587.5) * 86400000.0) AS INTEGER)")
    },
    now: "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
    skip_locked: "",
    begin_write: "BEGIN IMMEDIATE",
    migrations_table_exists: "SELECT EXISTS (SELECT 1 FROM sqlite_master
                               WHERE type = 'table' AND name = '_sqlx_migrations')",
};

/// Each statement generated once, from the shared mappings.
static STATEMENTS: LazyLock<BackendStatements> = LazyLock::new(|| BackendStatements::of(&DIALECT));

/// A pool of connections to one SQLite database file.
#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    filename: String,
    tables: Arc<SqlTables<sqlx::Sqlite>>,
    /// Notifications are written in groups, one fsync per group.
    group: WriteQueue,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.tables.debug(f, "SqliteStore", &self.filename)
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
            .foreign_keys(true)
            // A batch's multi-row statements keep their statement journal in memory instead of
            // spilling it to a temporary file, and the indexes' pages stay cached between
            // batches (16 MB, against SQLite's 2 MB default).
            .pragma("temp_store", "memory")
            .pragma("cache_size", "-16000")
            // SQLite's own checkpoint runs inside the commit that crosses its threshold (every
            // 4 MB of WAL); `checkpoint_in_background` does it once a second instead.
            .pragma("wal_autocheckpoint", "0");
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
        checkpoint_in_background(pool.clone(), writer.clone());
        let group = super::sqlite_writer::start(pool.clone(), writer.clone());
        let tables = SqlTables::new(pool.clone(), &STATEMENTS, &MIGRATOR, Some(writer));
        Ok(SqliteStore {
            pool,
            filename,
            group,
            tables,
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
    let Some(id) = mapping::insert_notification(tx, &STATEMENTS.sql, n).await? else {
        return Ok(SaveOutcome::Duplicate);
    };
    outbox::enqueue(tx, &STATEMENTS.outbox, id, n).await?;
    mapping::upsert_rows(tx, &STATEMENTS.sql, n).await?;
    Ok(SaveOutcome::Stored)
}

/// Copies the WAL's committed pages into the database file every [`CHECKPOINT_EVERY`], beside the
/// writer, until the pool closes. The WAL starts over only after a checkpoint that copied every
/// frame, which steady writing prevents; once it holds more than [`WAL_RESTART_FRAMES`], the few
/// frames left are copied while holding `writer` (this process's write lock), so it stays
/// bounded. What a checkpoint has not copied yet is safe in the WAL, which every commit synced.
fn checkpoint_in_background(pool: SqlitePool, writer: Arc<tokio::sync::Mutex<()>>) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(CHECKPOINT_EVERY);
        loop {
            every.tick().await;
            if pool.is_closed() {
                return;
            }
            if checkpoint(&pool)
                .await
                .is_some_and(|frames| frames > WAL_RESTART_FRAMES)
            {
                let _writing = writer.lock().await;
                checkpoint(&pool).await;
            }
        }
    });
}

/// One `PASSIVE` checkpoint (it waits for no reader or writer); the frames in the WAL.
async fn checkpoint(pool: &SqlitePool) -> Option<i64> {
    match sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
        .fetch_one(pool)
        .await
    {
        Ok(row) => row.try_get::<i64, _>(1).ok(),
        Err(e) => {
            if !pool.is_closed() {
                tracing::warn!(error = %e, "SQLite checkpoint failed; the next one retries");
            }
            None
        }
    }
}

/// A whole batch inside the caller's transaction (the group writer's), one statement per table:
/// each notification's outcome, in order. Of the notifications sharing a UUID and root, the first
/// is stored and the others are duplicates, as if saved one after the other; only the stored ones
/// write their derived rows. Within one statement SQLite applies the rows in order, so two states
/// of one subscription meet the same newest-wins rule as two statements would.
pub(super) async fn save_batch(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    batch: &[&NewNotification],
) -> Result<Vec<SaveOutcome>, StoreError> {
    let sql = NOTIFICATIONS.insert_sql(&DIALECT, batch.len())
        + " RETURNING id, notification_uuid, verified_by";
    let mut query = sqlx::query(&sql);
    for n in batch {
        query = bind_row(query, &NOTIFICATIONS, *n);
    }
    let mut inserted = std::collections::HashMap::new();
    for row in query.fetch_all(&mut **tx).await? {
        let key: (String, String) = (row.try_get(1)?, row.try_get(2)?);
        inserted.insert(key, row.try_get::<i64, _>(0)?);
    }
    let mut outcomes = Vec::with_capacity(batch.len());
    let mut stored = Vec::new();
    for n in batch {
        let key = (
            representable::required_text(&n.notification_uuid).into_owned(),
            representable::required_text(&n.verified_by).into_owned(),
        );
        match inserted.remove(&key) {
            Some(id) => {
                outbox::enqueue(tx, &STATEMENTS.outbox, id, n).await?;
                stored.push(*n);
                outcomes.push(SaveOutcome::Stored);
            }
            None => outcomes.push(SaveOutcome::Duplicate),
        }
    }
    let transactions: Vec<&TransactionRow> =
        stored.iter().flat_map(|n| n.transaction_rows()).collect();
    upsert_all(tx, &TRANSACTIONS, &transactions).await?;
    let subscriptions: Vec<&SubscriptionRow> =
        stored.iter().flat_map(|n| n.subscription_rows()).collect();
    upsert_all(tx, &SUBSCRIPTIONS, &subscriptions).await?;
    Ok(outcomes)
}

/// Every row of `rows` into `table` in one statement (none when `rows` is empty).
async fn upsert_all<R>(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    table: &Table<R>,
    rows: &[&R],
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let sql = table.insert_sql(&DIALECT, rows.len());
    let mut query = sqlx::query(&sql);
    for row in rows {
        query = bind_row(query, table, *row);
    }
    query.execute(&mut **tx).await?;
    Ok(())
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

    /// See [`GrantedLock`]: every caller gets the lock.
    async fn try_lock(&self, _key: i64) -> Result<Option<ExclusiveLock>, StoreError> {
        Ok(Some(ExclusiveLock {
            inner: HeldLock::Sqlite(GrantedLock::acquire()),
        }))
    }

    fn tables(&self) -> &dyn Tables {
        self.tables.as_ref()
    }

    async fn subscribe_events(&self, _wake: Arc<Notify>) -> Result<(), StoreError> {
        Ok(())
    }
}
