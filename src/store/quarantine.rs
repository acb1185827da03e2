//! The quarantine's writes and reads, shared by both backends: keep a refused request and trim
//! the table to `[quarantine]`'s bounds, read rows for `asnd reprocess`, record its results.

use serde_json::Value;
use sqlx::{Database, Decode, Encode, Executor, IntoArguments, Pool, Type};

use super::mapping::{REJECTIONS, RowsAffected, Statements, bind_row};
use super::{QuarantineFilter, QuarantineLimits, Quarantined, Rejection};

/// Inserts the row, then deletes the rows `limits` no longer keeps; returns how many.
pub(super) async fn save<DB>(
    pool: &Pool<DB>,
    sql: &Statements,
    r: &Rejection,
    limits: &QuarantineLimits,
) -> Result<u64, sqlx::Error>
where
    DB: Database,
    DB::QueryResult: RowsAffected,
    for<'c> &'c Pool<DB>: Executor<'c, Database = DB>,
    for<'q> <DB as Database>::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB> + Type<DB>,
    for<'q> Option<i32>: Encode<'q, DB> + Type<DB>,
    for<'q> Option<bool>: Encode<'q, DB> + Type<DB>,
    for<'q> Option<&'q Value>: Encode<'q, DB> + Type<DB>,
    for<'q> Option<Value>: Encode<'q, DB> + Type<DB>,
    for<'q> &'q [u8]: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    usize: sqlx::ColumnIndex<DB::Row>,
{
    let row = bind_row(sqlx::query(&sql.insert_rejection), &REJECTIONS, r)
        .fetch_one(pool)
        .await?;
    let id: i64 = sqlx::Row::try_get(&row, 0)?;
    let beyond = id.saturating_sub(i64::try_from(limits.max_rows).unwrap_or(i64::MAX));
    let pruned = sqlx::query(&sql.prune_quarantine)
        .bind(beyond)
        .bind(limits.keep_since_ms)
        .execute(pool)
        .await?;
    Ok(pruned.rows())
}

/// The rows of `filter`, oldest first.
pub(super) async fn read<DB>(
    pool: &Pool<DB>,
    sql: &Statements,
    filter: &QuarantineFilter,
) -> Result<Vec<Quarantined>, sqlx::Error>
where
    DB: Database,
    for<'c> &'c Pool<DB>: Executor<'c, Database = DB>,
    for<'q> <DB as Database>::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
    for<'r> Quarantined: sqlx::FromRow<'r, DB::Row>,
{
    sqlx::query_as(&sql.quarantined)
        .bind(filter.since_ms)
        .bind(filter.reason_prefix.clone())
        .bind(filter.after_id)
        .bind(filter.limit)
        .fetch_all(pool)
        .await
}

/// Records `result` for row `id` unless it is the one recorded.
pub(super) async fn mark<DB>(
    pool: &Pool<DB>,
    sql: &Statements,
    id: i64,
    result: &str,
    at_ms: i64,
) -> Result<(), sqlx::Error>
where
    DB: Database,
    for<'c> &'c Pool<DB>: Executor<'c, Database = DB>,
    for<'q> <DB as Database>::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
{
    sqlx::query(&sql.mark_reprocessed)
        .bind(at_ms)
        .bind(result.to_string())
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}
