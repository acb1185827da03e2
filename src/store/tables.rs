//! What both backends do the same way, written once: one backend's pool, its statements and (for
//! SQLite) its writer lock. The quarantine and the outbox are implemented on [`SqlTables`] in
//! their own files; this file holds the rest of [`Tables`].

use std::sync::Arc;

use sqlx::{Database, Decode, Encode, Executor, IntoArguments, Pool, Type};
use tokio::sync::{Mutex, MutexGuard};

use super::mapping::{self, APPLIED_MIGRATIONS_SQL, BindRow, Dialect, RowsAffected, Statements};
use super::outbox::OutboxStatements;
use super::reads::ReadStatements;
use super::{DeliveryAttempt, StoreError, StoredNotification, StoredRejection, Tables};

/// Every statement of one backend, generated once from its dialect.
pub(super) struct BackendStatements {
    pub sql: Statements,
    pub outbox: OutboxStatements,
    pub reads: ReadStatements,
}

impl BackendStatements {
    pub(super) fn of(dialect: &Dialect) -> BackendStatements {
        BackendStatements {
            sql: Statements::of(dialect),
            outbox: OutboxStatements::of(dialect),
            reads: ReadStatements::of(dialect),
        }
    }
}

/// The parts of one backend that [`Tables`] runs on.
pub(super) struct SqlTables<DB: Database> {
    pub pool: Pool<DB>,
    pub sql: &'static Statements,
    pub outbox_sql: &'static OutboxStatements,
    pub reads_sql: &'static ReadStatements,
    pub migrator: &'static sqlx::migrate::Migrator,
    /// SQLite has one writer at a time: this process's writers queue here, in order, instead of
    /// colliding in SQLite, whose busy handler sleeps and retries (slow, and unfair under load);
    /// `busy_timeout` still covers other processes. `None` for PostgreSQL.
    pub writer: Option<Arc<Mutex<()>>>,
}

impl<DB: Database> SqlTables<DB> {
    pub(super) fn new(
        pool: Pool<DB>,
        statements: &'static BackendStatements,
        migrator: &'static sqlx::migrate::Migrator,
        writer: Option<Arc<Mutex<()>>>,
    ) -> Arc<SqlTables<DB>> {
        Arc::new(SqlTables {
            pool,
            sql: &statements.sql,
            outbox_sql: &statements.outbox,
            reads_sql: &statements.reads,
            migrator,
            writer,
        })
    }

    /// A store's `Debug`: its kind, what it opened (never a password), its pool's size.
    pub(super) fn debug(
        &self,
        f: &mut std::fmt::Formatter<'_>,
        store: &str,
        target: &str,
    ) -> std::fmt::Result {
        f.debug_struct(store)
            .field("target", &target)
            .field("size", &self.pool.size())
            .field("idle", &self.pool.num_idle())
            .finish()
    }

    /// The writer lock, where the backend has one.
    pub(super) async fn writer(&self) -> Option<MutexGuard<'_, ()>> {
        match &self.writer {
            Some(lock) => Some(lock.lock().await),
            None => None,
        }
    }
}

#[async_trait::async_trait]
impl<DB> Tables for SqlTables<DB>
where
    DB: BindRow,
    DB::QueryResult: RowsAffected,
    for<'c> &'c Pool<DB>: Executor<'c, Database = DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> <DB as Database>::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> bool: Decode<'q, DB> + Type<DB>,
    for<'q> Vec<u8>: Decode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    usize: sqlx::ColumnIndex<DB::Row>,
    for<'r> StoredNotification: sqlx::FromRow<'r, DB::Row>,
    for<'r> StoredRejection: sqlx::FromRow<'r, DB::Row>,
    Self: super::Quarantine + super::Outbox + super::reads::Reads,
{
    async fn save_delivery_attempts(
        &self,
        notification_uuid: &str,
        attempts: &[DeliveryAttempt],
    ) -> Result<u64, StoreError> {
        if attempts.is_empty() {
            return Ok(0);
        }
        let _writer = self.writer().await;
        let mut tx = self.pool.begin_with(self.sql.begin_write).await?;
        let inserted = mapping::insert_attempts(
            &mut tx,
            &self.sql.insert_delivery_attempt,
            notification_uuid,
            attempts,
        )
        .await?;
        tx.commit().await?;
        Ok(inserted)
    }

    async fn find_notification(
        &self,
        notification_uuid: &str,
    ) -> Result<Option<StoredNotification>, StoreError> {
        Ok(sqlx::query_as(&self.sql.find_notification)
            .bind(notification_uuid)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn find_rejections(
        &self,
        notification_uuid: &str,
    ) -> Result<Vec<StoredRejection>, StoreError> {
        Ok(sqlx::query_as(&self.sql.find_rejections)
            .bind(notification_uuid)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn ready(&self) -> Result<bool, StoreError> {
        let mut conn = self.pool.acquire().await?;
        sqlx::query("SELECT 1").execute(&mut *conn).await?;
        let has_table: bool = sqlx::query_scalar(self.sql.migrations_table_exists)
            .fetch_one(&mut *conn)
            .await?;
        if !has_table {
            return Ok(false);
        }
        let applied: Vec<(i64, Vec<u8>)> = sqlx::query_as(APPLIED_MIGRATIONS_SQL)
            .fetch_all(&mut *conn)
            .await?;
        Ok(mapping::all_applied(self.migrator, &applied))
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}
