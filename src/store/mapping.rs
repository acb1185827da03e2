//! The row mappings both backends share: for every table, ONE list of columns, each naming the
//! model field it is bound from, in order. Both backends generate their SQL (column list,
//! placeholders, the newest-wins `ON CONFLICT` clause) and bind their parameters from that one
//! list, so adding a field to `transactions` means the model field, one entry here, and one
//! migration per backend.
//!
//! What differs between the backends is only spelling, collected in a [`Dialect`]: how a
//! parameter is written, how milliseconds become a stored time and back, what "now" is.

use std::borrow::Cow;

use serde_json::Value;
use sqlx::query::Query;
use sqlx::{Database, Row};

use super::representable;
use super::{DeliveryAttempt, NewNotification, Rejection, SubscriptionRow, TransactionRow};

/// A value bound to a statement, in the few Rust types the tables use. Every one is bound
/// through [`representable`]'s rule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Field<'a> {
    /// Optional text.
    Text(Option<&'a str>),
    /// Text a row cannot lack (an id, a type).
    RequiredText(&'a str),
    Int(Option<i64>),
    /// A column PostgreSQL types `INTEGER` (`int4`), e.g. a status code.
    Int4(Option<i64>),
    Bool(Option<bool>),
    Json(Option<&'a Value>),
    Bytes(&'a [u8]),
}

/// How a model field becomes a [`Field`].
pub(super) trait ToField {
    fn to_field(&self) -> Field<'_>;
}

impl ToField for String {
    fn to_field(&self) -> Field<'_> {
        Field::RequiredText(self)
    }
}
impl ToField for Option<String> {
    fn to_field(&self) -> Field<'_> {
        Field::Text(self.as_deref())
    }
}
impl ToField for i64 {
    fn to_field(&self) -> Field<'_> {
        Field::Int(Some(*self))
    }
}
impl ToField for Option<i64> {
    fn to_field(&self) -> Field<'_> {
        Field::Int(*self)
    }
}
impl ToField for u16 {
    fn to_field(&self) -> Field<'_> {
        Field::Int4(Some(i64::from(*self)))
    }
}
impl ToField for Option<bool> {
    fn to_field(&self) -> Field<'_> {
        Field::Bool(*self)
    }
}
impl ToField for Value {
    fn to_field(&self) -> Field<'_> {
        Field::Json(Some(self))
    }
}
impl ToField for Option<Value> {
    fn to_field(&self) -> Field<'_> {
        Field::Json(self.as_ref())
    }
}
impl ToField for Vec<u8> {
    fn to_field(&self) -> Field<'_> {
        Field::Bytes(self)
    }
}

/// Where a column's value comes from.
pub(super) enum Source<R> {
    /// A model field, stored as it is.
    Value(for<'a> fn(&'a R) -> Field<'a>),
    /// A model field in milliseconds since the epoch, stored in the backend's time type.
    Time(fn(&R) -> Option<i64>),
    /// The time of the write (not bound).
    Now,
}

pub(super) struct Column<R> {
    pub name: &'static str,
    pub source: Source<R>,
}

/// What an insert does when the row exists already.
pub(super) enum OnConflict {
    /// Fails (no `ON CONFLICT` clause).
    Fail,
    /// Keeps the existing row: `ON CONFLICT (target) DO NOTHING`.
    Nothing(&'static str),
    /// Replaces every column but the key, unless the stored row was signed later (Apple does
    /// not deliver in order, and the newest `signed_date` wins) or was proved by another origin:
    /// see [`replaces_sql`].
    NewestWins(&'static str),
}

pub(super) struct Table<R: 'static> {
    pub name: &'static str,
    pub columns: &'static [Column<R>],
    pub on_conflict: OnConflict,
}

/// The spelling of one backend's SQL.
pub(super) struct Dialect {
    /// The `n`-th bound parameter, from 1.
    pub placeholder: fn(usize) -> String,
    /// A parameter holding milliseconds since the epoch, as a stored time (NULL stays NULL).
    pub time_from_millis: fn(&str) -> String,
    /// A stored time column back to integer milliseconds since the epoch.
    pub millis_of: fn(&str) -> String,
    /// The current time, as a stored time.
    pub now: &'static str,
    /// How a `SELECT ... FOR UPDATE` skips rows another transaction locked (PostgreSQL), or
    /// nothing where one writer at a time makes it needless (SQLite).
    pub skip_locked: &'static str,
    /// How a write transaction starts: SQLite takes its write lock up front (`BEGIN
    /// IMMEDIATE`), so no transaction has to upgrade a read lock.
    pub begin_write: &'static str,
    /// Whether sqlx's `_sqlx_migrations` table exists (one boolean).
    pub migrations_table_exists: &'static str,
}

impl<R> Table<R> {
    /// How many parameters a row binds.
    #[cfg(test)]
    pub fn parameter_count(&self) -> usize {
        self.columns
            .iter()
            .filter(|c| !matches!(c.source, Source::Now))
            .count()
    }

    /// `INSERT INTO table (columns) VALUES (...), ... ON CONFLICT ...` for `rows` rows, the
    /// parameters numbered from 1 in row order: bind the rows with [`bind_row`], one after the
    /// other.
    pub fn insert_sql(&self, dialect: &Dialect, rows: usize) -> String {
        let names: Vec<&str> = self.columns.iter().map(|c| c.name).collect();
        let mut next = 1;
        let tuples: Vec<String> = (0..rows)
            .map(|_| {
                let values: Vec<String> = self
                    .columns
                    .iter()
                    .map(|c| {
                        let mut parameter = || {
                            next += 1;
                            (dialect.placeholder)(next - 1)
                        };
                        match c.source {
                            Source::Value(_) => parameter(),
                            Source::Time(_) => (dialect.time_from_millis)(&parameter()),
                            Source::Now => dialect.now.to_owned(),
                        }
                    })
                    .collect();
                format!("({})", values.join(", "))
            })
            .collect();
        format!(
            "INSERT INTO {} ({}) VALUES {}{}",
            self.name,
            names.join(", "),
            tuples.join(", "),
            self.on_conflict_sql()
        )
    }

    /// The ` ON CONFLICT ...` clause of an insert into this table (empty for [`OnConflict::Fail`]).
    pub fn on_conflict_sql(&self) -> String {
        match self.on_conflict {
            OnConflict::Fail => String::new(),
            OnConflict::Nothing(target) => format!(" ON CONFLICT ({target}) DO NOTHING"),
            OnConflict::NewestWins(key) => {
                let updates: Vec<String> = self
                    .columns
                    .iter()
                    .map(|c| c.name)
                    .filter(|name| *name != key)
                    .map(|name| format!("{name} = excluded.{name}"))
                    .collect();
                format!(
                    " ON CONFLICT ({key}) DO UPDATE SET {} WHERE {}",
                    updates.join(", "),
                    replaces_sql(self.name)
                )
            }
        }
    }
}

/// When a new state replaces the stored row of `table` (`excluded` is the new one). Data of
/// one origin never changes a row made by another, and Apple's data always wins: the origins are
/// Apple (its root, or a V1 body authenticated by a shared secret Apple sent) and each other
/// root on its own (e.g. the development root of `serve --dev`). Within one origin, the newest
/// `signed_date` wins.
fn replaces_sql(table: &str) -> String {
    let apple = format!(
        "('{}', '{}')",
        crate::apple::roots::APPLE_ROOT_LABEL,
        crate::apple::v1::VERIFIED_BY
    );
    format!(
        "(({table}.verified_by = excluded.verified_by \
            OR ({table}.verified_by IN {apple} AND excluded.verified_by IN {apple})) \
           AND {table}.signed_date <= excluded.signed_date) \
         OR (excluded.verified_by IN {apple} AND {table}.verified_by NOT IN {apple})"
    )
}

/// A [`Field`] after [`representable`]'s rule: what is bound, in the Rust type it is bound as.
pub(super) enum Bound<'a> {
    Text(Option<&'a str>),
    OwnedText(String),
    Int(Option<i64>),
    Int4(Option<i32>),
    Bool(Option<bool>),
    Json(Option<&'a Value>),
    OwnedJson(Value),
    Bytes(&'a [u8]),
}

impl<'a> Bound<'a> {
    pub(super) fn of(field: Field<'a>) -> Bound<'a> {
        match field {
            Field::Text(v) => Bound::Text(representable::optional_text(v)),
            Field::RequiredText(v) => match representable::required_text(v) {
                Cow::Borrowed(v) => Bound::Text(Some(v)),
                Cow::Owned(escaped) => Bound::OwnedText(escaped),
            },
            Field::Int(v) => Bound::Int(v),
            Field::Int4(v) => Bound::Int4(representable::int4(v)),
            Field::Bool(v) => Bound::Bool(v),
            Field::Json(v) => match v.and_then(representable::escaped_json) {
                Some(escaped) => Bound::OwnedJson(escaped),
                None => Bound::Json(v),
            },
            Field::Bytes(v) => Bound::Bytes(v),
        }
    }
}

/// A backend that binds every [`Bound`]. Implemented for the two concrete backends, where the
/// encodings are known, so generic store code needs this one bound instead of one per type.
pub(super) trait BindRow: Database {
    fn bind<'q>(
        query: Query<'q, Self, <Self as Database>::Arguments<'q>>,
        value: Bound<'q>,
    ) -> Query<'q, Self, <Self as Database>::Arguments<'q>>;
}

macro_rules! bind_row_for {
    ($db:ty) => {
        impl BindRow for $db {
            fn bind<'q>(
                query: Query<'q, Self, <Self as Database>::Arguments<'q>>,
                value: Bound<'q>,
            ) -> Query<'q, Self, <Self as Database>::Arguments<'q>> {
                match value {
                    Bound::Text(v) => query.bind(v),
                    Bound::OwnedText(v) => query.bind(v),
                    Bound::Int(v) => query.bind(v),
                    Bound::Int4(v) => query.bind(v),
                    Bound::Bool(v) => query.bind(v),
                    Bound::Json(v) => query.bind(v),
                    Bound::OwnedJson(v) => query.bind(v),
                    Bound::Bytes(v) => query.bind(v),
                }
            }
        }
    };
}
bind_row_for!(sqlx::Postgres);
bind_row_for!(sqlx::Sqlite);

/// Binds `row`'s parameters in column order: the one bind sequence of both backends, where
/// [`representable`]'s rule is applied to every value.
pub(super) fn bind_row<'q, DB: BindRow, R>(
    mut query: Query<'q, DB, <DB as Database>::Arguments<'q>>,
    table: &Table<R>,
    row: &'q R,
) -> Query<'q, DB, <DB as Database>::Arguments<'q>> {
    for column in table.columns {
        query = match column.source {
            Source::Value(field) => DB::bind(query, Bound::of(field(row))),
            Source::Time(millis) => {
                DB::bind(query, Bound::Int(crate::time::storable_ms(millis(row))))
            }
            Source::Now => query,
        };
    }
    query
}

/// A column bound from the model field of the same name.
macro_rules! value {
    ($field:ident) => {
        Column {
            name: stringify!($field),
            source: Source::Value(|row| ToField::to_field(&row.$field)),
        }
    };
}

/// An `INTEGER` column bound from the model field of the same name.
macro_rules! int4 {
    ($field:ident) => {
        Column {
            name: stringify!($field),
            source: Source::Value(|row| Field::Int4(row.$field)),
        }
    };
}

/// A time column bound from the model field (milliseconds) of the same name.
macro_rules! time {
    ($field:ident) => {
        Column {
            name: stringify!($field),
            source: Source::Time(|row| row.$field.into()),
        }
    };
}

/// A column holding the time of the write, e.g. `updated_at`.
macro_rules! now {
    ($column:ident) => {
        Column {
            name: stringify!($column),
            source: Source::Now,
        }
    };
}

pub(super) static NOTIFICATIONS: Table<NewNotification> = Table {
    name: "notifications",
    columns: &[
        value!(notification_uuid),
        value!(notification_type),
        value!(subtype),
        value!(version),
        value!(environment),
        value!(bundle_id),
        value!(app_apple_id),
        time!(signed_date),
        time!(received_at),
        value!(source_address),
        value!(transaction_id),
        value!(original_transaction_id),
        value!(verified_by),
        value!(raw_body),
        value!(payload),
    ],
    // Idempotent on the UUID: a notification delivered again changes nothing. Per root, so that
    // a notification proved by another root (a development one) never makes Apple's a duplicate.
    on_conflict: OnConflict::Nothing("notification_uuid, verified_by"),
};

pub(super) static TRANSACTIONS: Table<TransactionRow> = Table {
    name: "transactions",
    columns: &[
        value!(transaction_id),
        value!(original_transaction_id),
        value!(bundle_id),
        value!(product_id),
        value!(product_type),
        time!(purchase_date),
        time!(original_purchase_date),
        time!(expires_date),
        time!(revocation_date),
        int4!(revocation_reason),
        value!(revocation_type),
        value!(environment),
        value!(app_account_token),
        value!(in_app_ownership_type),
        value!(transaction_reason),
        value!(web_order_line_item_id),
        value!(storefront),
        value!(price),
        value!(currency),
        value!(quantity),
        int4!(offer_type),
        value!(offer_identifier),
        time!(signed_date),
        value!(last_notification_uuid),
        value!(verified_by),
        value!(payload),
        now!(updated_at),
    ],
    on_conflict: OnConflict::NewestWins("transaction_id"),
};

pub(super) static SUBSCRIPTIONS: Table<SubscriptionRow> = Table {
    name: "subscriptions",
    columns: &[
        value!(original_transaction_id),
        value!(bundle_id),
        value!(environment),
        int4!(status),
        value!(product_id),
        value!(auto_renew_product_id),
        int4!(auto_renew_status),
        time!(expires_date),
        time!(grace_period_expires_date),
        value!(is_in_billing_retry_period),
        int4!(expiration_intent),
        value!(app_account_token),
        time!(signed_date),
        value!(last_notification_uuid),
        value!(last_notification_type),
        value!(last_subtype),
        value!(verified_by),
        value!(renewal_info),
        now!(updated_at),
    ],
    on_conflict: OnConflict::NewestWins("original_transaction_id"),
};

pub(super) static REJECTIONS: Table<Rejection> = Table {
    name: "rejected_notifications",
    columns: &[
        time!(received_at),
        value!(source_address),
        value!(reason),
        value!(http_status),
        value!(raw_body),
        value!(notification_uuid),
        value!(body_length),
    ],
    on_conflict: OnConflict::Fail,
};

/// One row of `delivery_attempts`.
pub(super) struct AttemptRow {
    pub notification_uuid: String,
    pub attempt_date: i64,
    pub send_attempt_result: String,
}

pub(super) static DELIVERY_ATTEMPTS: Table<AttemptRow> = Table {
    name: "delivery_attempts",
    columns: &[
        value!(notification_uuid),
        time!(attempt_date),
        value!(send_attempt_result),
    ],
    // An attempt already recorded is skipped.
    on_conflict: OnConflict::Nothing("notification_uuid, attempt_date, send_attempt_result"),
};

/// The read models' queries, the times converted back to milliseconds. Of the notifications
/// with one UUID (one per root), Apple's.
pub(super) fn find_notification_sql(dialect: &Dialect) -> String {
    format!(
        "SELECT notification_uuid, notification_type, environment, {} AS received_at,
                source_address
         FROM notifications WHERE notification_uuid = {}
         ORDER BY verified_by = '{}' DESC, id LIMIT 1",
        (dialect.millis_of)("received_at"),
        (dialect.placeholder)(1),
        crate::apple::roots::APPLE_ROOT_LABEL
    )
}

/// Newest first; the `ORDER BY` names the stored column (qualified, so not the millisecond
/// alias of the same name).
pub(super) fn find_rejections_sql(dialect: &Dialect) -> String {
    format!(
        "SELECT {} AS received_at, source_address, reason,
                CAST(http_status AS BIGINT) AS http_status
         FROM rejected_notifications WHERE notification_uuid = {}
         ORDER BY rejected_notifications.received_at DESC, id DESC LIMIT 10",
        (dialect.millis_of)("received_at"),
        (dialect.placeholder)(1)
    )
}

/// Deletes the quarantine rows beyond the newest `max_rows` ids (parameter 1: the newest id
/// minus `max_rows`) and those received before parameter 2. Ids only grow, so this keeps at most
/// `max_rows` rows, and deleting by the primary key stays cheap under a flood.
pub(super) fn prune_quarantine_sql(dialect: &Dialect) -> String {
    format!(
        "DELETE FROM rejected_notifications WHERE id <= {} OR received_at < {}",
        (dialect.placeholder)(1),
        (dialect.time_from_millis)(&(dialect.placeholder)(2))
    )
}

/// The columns of a [`super::QuarantineEntry`].
pub(super) fn quarantine_entry_columns(dialect: &Dialect) -> String {
    format!(
        "id, {} AS received_at, source_address, reason, CAST(http_status AS BIGINT) AS http_status,
         raw_body, body_length, reprocess_result",
        (dialect.millis_of)("received_at")
    )
}

/// The rows of a [`super::QuarantineFilter`] (parameters: since, reason prefix, after id,
/// limit, until id). Rows an earlier run stored are done.
pub(super) fn quarantined_sql(dialect: &Dialect) -> String {
    let p = dialect.placeholder;
    format!(
        "SELECT {} FROM rejected_notifications
         WHERE rejected_notifications.received_at >= {}
           AND substr(reason, 1, length({})) = {}
           AND id > {} AND id <= {}
           AND (reprocess_result IS NULL OR reprocess_result NOT IN ('stored', 'duplicate'))
         ORDER BY id LIMIT {}",
        quarantine_entry_columns(dialect),
        (dialect.time_from_millis)(&p(1)),
        p(2),
        p(2),
        p(3),
        p(5),
        p(4)
    )
}

/// Records a reprocessing result (parameters: time, result, id) unless it is the one recorded.
pub(super) fn mark_reprocessed_sql(dialect: &Dialect) -> String {
    let p = dialect.placeholder;
    format!(
        "UPDATE rejected_notifications SET reprocessed_at = {}, reprocess_result = {}
         WHERE id = {} AND (reprocess_result IS NULL OR reprocess_result <> {})",
        (dialect.time_from_millis)(&p(1)),
        p(2),
        p(3),
        p(2)
    )
}

/// Rows in `rejected_notifications`.
pub(super) const QUARANTINE_SIZE_SQL: &str = "SELECT COUNT(*) FROM rejected_notifications";

/// The migrations recorded as applied, for [`all_applied`].
pub(super) const APPLIED_MIGRATIONS_SQL: &str =
    "SELECT version, checksum FROM _sqlx_migrations WHERE success";

/// Every up-migration this binary knows is recorded as applied with the same checksum.
pub(super) fn all_applied(migrator: &sqlx::migrate::Migrator, applied: &[(i64, Vec<u8>)]) -> bool {
    migrator
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
        .all(|m| {
            applied
                .iter()
                .any(|(version, checksum)| *version == m.version && **checksum == *m.checksum)
        })
}

/// How many rows a statement wrote, in either backend's result type.
pub(super) trait RowsAffected {
    fn rows(&self) -> u64;
}

impl RowsAffected for sqlx::postgres::PgQueryResult {
    fn rows(&self) -> u64 {
        self.rows_affected()
    }
}

impl RowsAffected for sqlx::sqlite::SqliteQueryResult {
    fn rows(&self) -> u64 {
        self.rows_affected()
    }
}

/// Records one notification's delivery attempts with `sql` (the backend's
/// [`DELIVERY_ATTEMPTS`] insert), inside the caller's transaction; returns how many were new.
pub(super) async fn insert_attempts<DB>(
    tx: &mut sqlx::Transaction<'_, DB>,
    sql: &str,
    notification_uuid: &str,
    attempts: &[DeliveryAttempt],
) -> Result<u64, sqlx::Error>
where
    DB: BindRow,
    DB::QueryResult: RowsAffected,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> <DB as Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
{
    let mut inserted = 0;
    for row in attempt_rows(notification_uuid, attempts) {
        let query = bind_row(sqlx::query(sql), &DELIVERY_ATTEMPTS, &row);
        inserted += query.execute(&mut **tx).await?.rows();
    }
    Ok(inserted)
}

/// Inserts the notification row; its id, or `None` when its UUID is stored already (a duplicate
/// inserts nothing).
pub(super) async fn insert_notification<DB>(
    tx: &mut sqlx::Transaction<'_, DB>,
    sql: &Statements,
    n: &NewNotification,
) -> Result<Option<i64>, sqlx::Error>
where
    DB: BindRow,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> <DB as Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    for<'q> i64: sqlx::Decode<'q, DB> + sqlx::Type<DB>,
    usize: sqlx::ColumnIndex<DB::Row>,
{
    let inserted = bind_row(sqlx::query(&sql.insert_notification), &NOTIFICATIONS, n)
        .fetch_optional(&mut **tx)
        .await?;
    inserted.map(|row| row.try_get::<i64, _>(0)).transpose()
}

/// Upserts the notification's transaction rows, then its subscription rows, each in key order
/// (see [`NewNotification::transaction_rows`]).
pub(super) async fn upsert_rows<DB>(
    tx: &mut sqlx::Transaction<'_, DB>,
    sql: &Statements,
    n: &NewNotification,
) -> Result<(), sqlx::Error>
where
    DB: BindRow,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> <DB as Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
{
    for t in n.transaction_rows() {
        let query = bind_row(sqlx::query(&sql.upsert_transaction), &TRANSACTIONS, t);
        query.execute(&mut **tx).await?;
    }
    for s in n.subscription_rows() {
        let query = bind_row(sqlx::query(&sql.upsert_subscription), &SUBSCRIPTIONS, s);
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

/// The `delivery_attempts` rows of one notification's attempts.
fn attempt_rows<'a>(
    notification_uuid: &'a str,
    attempts: &'a [DeliveryAttempt],
) -> impl Iterator<Item = AttemptRow> + 'a {
    attempts.iter().map(move |a| AttemptRow {
        notification_uuid: notification_uuid.to_owned(),
        attempt_date: a.attempt_date,
        send_attempt_result: a.send_attempt_result.clone(),
    })
}

/// Every statement a backend runs, generated once from the mappings in its dialect.
pub(crate) struct Statements {
    pub insert_notification: String,
    pub upsert_transaction: String,
    pub upsert_subscription: String,
    pub insert_rejection: String,
    pub insert_delivery_attempt: String,
    pub find_notification: String,
    pub find_rejections: String,
    pub prune_quarantine: String,
    pub quarantined: String,
    pub mark_reprocessed: String,
    pub begin_write: &'static str,
    pub migrations_table_exists: &'static str,
}

impl Statements {
    pub(crate) fn of(dialect: &Dialect) -> Statements {
        Statements {
            insert_notification: NOTIFICATIONS.insert_sql(dialect, 1) + " RETURNING id",
            upsert_transaction: TRANSACTIONS.insert_sql(dialect, 1),
            upsert_subscription: SUBSCRIPTIONS.insert_sql(dialect, 1),
            insert_rejection: REJECTIONS.insert_sql(dialect, 1) + " RETURNING id",
            insert_delivery_attempt: DELIVERY_ATTEMPTS.insert_sql(dialect, 1),
            find_notification: find_notification_sql(dialect),
            find_rejections: find_rejections_sql(dialect),
            prune_quarantine: prune_quarantine_sql(dialect),
            quarantined: quarantined_sql(dialect),
            mark_reprocessed: mark_reprocessed_sql(dialect),
            begin_write: dialect.begin_write,
            migrations_table_exists: dialect.migrations_table_exists,
        }
    }
}
