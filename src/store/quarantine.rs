//! The quarantine, `rejected_notifications`, for both backends: keep a refused request and trim
//! the table to `[quarantine]`'s bounds, read rows for `asnd reprocess`, record its results.

use sqlx::{Database, Decode, Encode, Executor, IntoArguments, Pool, Type};

use super::mapping::{BindRow, QUARANTINE_SIZE_SQL, REJECTIONS, RowsAffected, bind_row};
use super::tables::SqlTables;
use super::{
    Quarantine, QuarantineEntry, QuarantineFilter, QuarantineLimits, Rejection, StoreError,
};

#[async_trait::async_trait]
impl<DB> Quarantine for SqlTables<DB>
where
    DB: BindRow,
    DB::QueryResult: RowsAffected,
    for<'c> &'c Pool<DB>: Executor<'c, Database = DB>,
    for<'q> <DB as Database>::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB> + Type<DB>,
    for<'q> Option<String>: Encode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
    usize: sqlx::ColumnIndex<DB::Row>,
    for<'r> QuarantineEntry: sqlx::FromRow<'r, DB::Row>,
{
    async fn save(&self, r: &Rejection, limits: &QuarantineLimits) -> Result<u64, StoreError> {
        let _writer = self.writer().await;
        let row = bind_row(sqlx::query(&self.sql.insert_rejection), &REJECTIONS, r)
            .fetch_one(&self.pool)
            .await?;
        let id: i64 = sqlx::Row::try_get(&row, 0)?;
        let beyond = id.saturating_sub(i64::try_from(limits.max_rows).unwrap_or(i64::MAX));
        let pruned = sqlx::query(&self.sql.prune_quarantine)
            .bind(beyond)
            .bind(limits.keep_since_ms)
            .execute(&self.pool)
            .await?;
        Ok(pruned.rows())
    }

    async fn read(&self, filter: &QuarantineFilter) -> Result<Vec<QuarantineEntry>, StoreError> {
        Ok(sqlx::query_as(&self.sql.quarantined)
            .bind(filter.since_ms)
            .bind(filter.reason_prefix.clone())
            .bind(filter.after_id)
            .bind(filter.limit)
            .bind(filter.until_id)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn mark(&self, id: i64, result: &str, at_ms: i64) -> Result<(), StoreError> {
        let _writer = self.writer().await;
        sqlx::query(&self.sql.mark_reprocessed)
            .bind(at_ms)
            .bind(result.to_string())
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn size(&self) -> Result<i64, StoreError> {
        let row = sqlx::query(QUARANTINE_SIZE_SQL)
            .fetch_one(&self.pool)
            .await?;
        Ok(sqlx::Row::try_get(&row, 0)?)
    }
}
