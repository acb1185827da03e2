//! Group commit for PostgreSQL. Notifications that arrive together (each with one transaction
//! row and one subscription row at most, the V2 shape) are stored by ONE statement in one
//! transaction: the statement's start-up, the commit and its WAL flush, and the round trip are
//! paid once per batch instead of once per notification. Each caller is answered after the
//! commit, with its own outcome (stored, or a duplicate).
//!
//! A batch never holds two notifications with the same UUID, transaction or subscription (one
//! statement may not upsert a row twice); such a notification waits for a later batch. Rows are
//! written in key order, so concurrent batches take their row locks in one order. If the batch
//! statement fails, its notifications are written again one by one, so that a failure stays the
//! failing notification's own.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, LazyLock};

use sqlx::PgPool;
use sqlx::postgres::PgArguments;
use sqlx::query::Query;
use tokio::sync::{Semaphore, mpsc};

use super::super::mapping::{
    Bound, Field, NOTIFICATIONS, SUBSCRIPTIONS, Source, TRANSACTIONS, Table,
};
use super::super::write_queue::{Job, WriteQueue};
use super::super::{NewNotification, SaveOutcome, StoreError, SubscriptionRow, TransactionRow};
use super::super::{outbox, representable};
use super::{DIALECT, ORDERING_LOCK};

/// Enough to amortise the statement and the commit; small enough that a batch stays short.
const MAX_BATCH: usize = 64;

/// Starts the batching task; notifications queued on the returned queue are written in
/// batches, at most `concurrency` at once (each holds one connection of the pool).
pub(super) fn start(pool: PgPool, concurrency: usize) -> WriteQueue {
    let (queue, jobs) = WriteQueue::new("PostgreSQL batch writer");
    tokio::spawn(collect(
        pool,
        jobs,
        Arc::new(Semaphore::new(concurrency.max(1))),
    ));
    queue
}

/// Takes what is queued into batches and writes each on its own task, as a connection permit
/// frees up; while all permits are taken, arrivals gather into the next batch.
async fn collect(pool: PgPool, mut queue: mpsc::Receiver<Job>, permits: Arc<Semaphore>) {
    // Notifications that clashed with the batch being built; they lead the next one.
    let mut waiting: VecDeque<Job> = VecDeque::new();
    loop {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        let first = match waiting.pop_front() {
            Some(job) => job,
            None => match queue.recv().await {
                Some(job) => job,
                None => return,
            },
        };
        let mut batch = Batch::default();
        let mut clashed: VecDeque<Job> = batch.take(first).into_iter().collect();
        // Clashing jobs are set aside, not taken: stop looking after a few batches' worth, so
        // that a burst for one subscription is not scanned over and over.
        let mut looked_at = 1;
        while batch.jobs.len() < MAX_BATCH && looked_at < 4 * MAX_BATCH {
            looked_at += 1;
            let next = match waiting.pop_front() {
                Some(job) => job,
                None => match queue.try_recv() {
                    Ok(job) => job,
                    Err(_) => break,
                },
            };
            if let Some(clashing) = batch.take(next) {
                clashed.push_back(clashing);
            }
        }
        clashed.append(&mut waiting);
        waiting = clashed;
        let pool = pool.clone();
        tokio::spawn(async move {
            batch.write(&pool).await;
            drop(permit);
        });
    }
}

/// Notifications to be written by one statement, none sharing a key with another.
#[derive(Default)]
struct Batch {
    jobs: Vec<Job>,
    keys: HashSet<String>,
}

impl Batch {
    /// The keys one statement may write only once, as the columns store them: the UUID, the
    /// transaction, the subscription (which is also the events' ordering key).
    fn keys_of(n: &NewNotification) -> Vec<String> {
        let transaction = n.transaction_rows().first().copied();
        let subscription = n.subscription_rows().first().copied();
        let text = |id: &str| representable::required_text(id).into_owned();
        [
            Some(format!("n:{}", stored_uuid(n))),
            transaction.map(|t| format!("t:{}", text(&t.transaction_id))),
            subscription.map(|s| format!("s:{}", text(&s.original_transaction_id))),
            outbox::ordering_key(n.original_transaction_id.as_deref()).map(|id| format!("s:{id}")),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    /// Takes `job` unless it shares a key with a job already taken; gives it back if so.
    #[must_use]
    fn take(&mut self, job: Job) -> Option<Job> {
        let keys = Batch::keys_of(&job.0);
        if keys.iter().any(|key| self.keys.contains(key)) {
            return Some(job);
        }
        self.keys.extend(keys);
        self.jobs.push(job);
        None
    }

    async fn write(self, pool: &PgPool) {
        let notifications: Vec<&NewNotification> = self.jobs.iter().map(|(n, _)| n).collect();
        match write_batch(pool, &notifications).await {
            Ok(stored) => {
                for (n, reply) in self.jobs {
                    let outcome = if stored.contains(&stored_uuid(&n)) {
                        SaveOutcome::Stored
                    } else {
                        SaveOutcome::Duplicate
                    };
                    let _ = reply.send(Ok(outcome));
                }
            }
            Err(e) if self.jobs.len() == 1 => {
                if let Some((_, reply)) = self.jobs.into_iter().next() {
                    let _ = reply.send(Err(e));
                }
            }
            // The database is unreachable or the pool is closed: one at a time would fail alike.
            Err(StoreError::Database(e)) if !matches!(e, sqlx::Error::Database(_)) => {
                let message = e.to_string();
                for (_, reply) in self.jobs {
                    let _ = reply.send(Err(StoreError::Write(message.clone())));
                }
            }
            // A statement failed: one notification's failure must not become the others'. Each
            // on its own, one after the other (this batch holds one connection, not more).
            Err(_) => {
                for (n, reply) in self.jobs {
                    let alone = write_batch(pool, &[&n]).await.map(|stored| {
                        if stored.is_empty() {
                            SaveOutcome::Duplicate
                        } else {
                            SaveOutcome::Stored
                        }
                    });
                    let _ = reply.send(alone);
                }
            }
        }
    }
}

/// Stores `batch` in one statement; the UUIDs of the notifications it inserted (the others were
/// stored already), as stored (see [`stored_uuid`]).
async fn write_batch(
    pool: &PgPool,
    batch: &[&NewNotification],
) -> Result<HashSet<String>, StoreError> {
    // At most one of each per notification (`PgStore::save_notification` sends the others a
    // transaction of their own), wherever the notification holds it.
    let transactions: Vec<&TransactionRow> = batch
        .iter()
        .flat_map(|n| n.transaction_rows().first().copied())
        .collect();
    let subscriptions: Vec<&SubscriptionRow> = batch
        .iter()
        .flat_map(|n| n.subscription_rows().first().copied())
        .collect();
    let ordering_key =
        |n: &NewNotification| outbox::ordering_key(n.original_transaction_id.as_deref());
    let with_deliveries = batch.iter().filter(|n| !n.destinations.is_empty());
    let locks: Vec<Option<String>> = with_deliveries.clone().map(|n| ordering_key(n)).collect();
    let (mut uuids, mut destinations, mut keys) = (Vec::new(), Vec::new(), Vec::new());
    for n in with_deliveries {
        for destination in &n.destinations {
            uuids.push(stored_uuid(n));
            destinations.push(destination.as_str());
            keys.push(ordering_key(n));
        }
    }

    let mut query = sqlx::query(&BATCH_SQL).bind(locks);
    query = bind_columns(query, &NOTIFICATIONS, batch)?;
    query = bind_columns(query, &TRANSACTIONS, &transactions)?;
    query = bind_columns(query, &SUBSCRIPTIONS, &subscriptions)?;
    let rows = query
        .bind(uuids)
        .bind(destinations)
        .bind(keys)
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|row| sqlx::Row::try_get::<String, _>(row, 0).map_err(StoreError::from))
        .collect()
}

/// A notification's UUID as the `notification_uuid` column holds it (the representation rule
/// may have escaped it), which the batch statement returns and the derived rows refer to.
fn stored_uuid(n: &NewNotification) -> String {
    representable::required_text(&n.notification_uuid).into_owned()
}

/// The batch statement: `l` takes the ordering locks of the notifications with deliveries (in key
/// order, before any row id is taken, as the one-statement path does), `n` inserts the
/// notifications, `t` and `s` upsert the rows of those `n` inserted, `d` adds their deliveries,
/// and the result is one row per inserted notification, each announced on `asnd_events`.
static BATCH_SQL: LazyLock<String> = LazyLock::new(|| {
    let mut next = 1;
    let locks = format!(
        "l AS (SELECT {} FROM unnest($1::text[]) AS k ORDER BY k)",
        ORDERING_LOCK
            .trim_start_matches("SELECT ")
            .replace("$1", "k")
    );
    next += 1;
    let after_locks = "(SELECT count(*) FROM l) >= 0";
    let notifications =
        insert_from_arrays(&NOTIFICATIONS, &mut next, after_locks, "notification_uuid");
    let inserted = "u.last_notification_uuid IN (SELECT notification_uuid FROM n)";
    let transactions = insert_from_arrays(&TRANSACTIONS, &mut next, inserted, "transaction_id");
    // After `t`: every writer locks transaction rows before subscription rows.
    let inserted_after_t = format!("{inserted} AND (SELECT count(*) FROM t) >= 0");
    let key = "original_transaction_id";
    let subscriptions = insert_from_arrays(&SUBSCRIPTIONS, &mut next, &inserted_after_t, key);
    let (uuids, destinations, keys) = (next, next + 1, next + 2);
    format!(
        "WITH {locks}, \
         n AS ({notifications} RETURNING id, notification_uuid, received_at), \
         t AS ({transactions} RETURNING 1), \
         s AS ({subscriptions}), \
         d AS (INSERT INTO event_deliveries \
                 (notification_id, destination, ordering_key, next_attempt_at, created_at) \
               SELECT n.id, d.destination, d.ordering_key, n.received_at, n.received_at \
               FROM n JOIN unnest(${uuids}::text[], ${destinations}::text[], ${keys}::text[]) \
                 AS d (notification_uuid, destination, ordering_key) \
                 ON d.notification_uuid = n.notification_uuid) \
         SELECT n.notification_uuid, pg_notify('{}', 'evt_' || n.id)::text FROM n",
        outbox::CHANNEL
    )
});

/// `INSERT INTO table (columns) SELECT ... FROM unnest(one array per bound column) AS u WHERE
/// condition ORDER BY u.key ON CONFLICT ...`: every row of a batch in one insert. Each array's
/// type is the kind of [`Field`] a default row gives: it depends on the model's type, not on the
/// value.
fn insert_from_arrays<R: Default>(
    table: &Table<R>,
    next: &mut usize,
    condition: &str,
    key: &str,
) -> String {
    let sample = &R::default();
    let mut arrays = Vec::new();
    let mut aliases = Vec::new();
    let mut values = Vec::new();
    for column in table.columns {
        let name = column.name;
        let element = match &column.source {
            Source::Now => {
                values.push(DIALECT.now.to_string());
                continue;
            }
            Source::Time(_) => {
                values.push((DIALECT.time_from_millis)(&format!("u.{name}")));
                "int8"
            }
            Source::Value(field) => {
                let element = Element::of(field(sample));
                values.push(match field(sample) {
                    Field::Json(_) => format!("u.{name}::jsonb"),
                    _ => format!("u.{name}"),
                });
                element.sql()
            }
        };
        arrays.push(format!("${next}::{element}[]"));
        aliases.push(name);
        *next += 1;
    }
    let names: Vec<&str> = table.columns.iter().map(|c| c.name).collect();
    format!(
        "INSERT INTO {} ({}) SELECT {} FROM unnest({}) AS u ({}) WHERE {condition} \
         ORDER BY u.{key}{}",
        table.name,
        names.join(", "),
        values.join(", "),
        arrays.join(", "),
        aliases.join(", "),
        table.on_conflict_sql()
    )
}

/// The type of a column's array. JSON is sent as text: `jsonb` parses it once, as it would a
/// bound `jsonb`.
#[derive(Clone, Copy)]
enum Element {
    Text,
    Int,
    Int4,
    Bool,
    Bytes,
}

impl Element {
    fn of(field: Field<'_>) -> Element {
        match field {
            Field::Text(_) | Field::RequiredText(_) | Field::Json(_) => Element::Text,
            Field::Int(_) => Element::Int,
            Field::Int4(_) => Element::Int4,
            Field::Bool(_) => Element::Bool,
            Field::Bytes(_) => Element::Bytes,
        }
    }

    fn sql(self) -> &'static str {
        match self {
            Element::Text => "text",
            Element::Int => "int8",
            Element::Int4 => "int4",
            Element::Bool => "bool",
            Element::Bytes => "bytea",
        }
    }
}

/// One column's values for every row of a batch.
enum Array<'q> {
    Text(Vec<Option<String>>),
    Int(Vec<Option<i64>>),
    Int4(Vec<Option<i32>>),
    Bool(Vec<Option<bool>>),
    Bytes(Vec<&'q [u8]>),
}

impl<'q> Array<'q> {
    fn new(element: Element, rows: usize) -> Array<'q> {
        match element {
            Element::Text => Array::Text(Vec::with_capacity(rows)),
            Element::Int => Array::Int(Vec::with_capacity(rows)),
            Element::Int4 => Array::Int4(Vec::with_capacity(rows)),
            Element::Bool => Array::Bool(Vec::with_capacity(rows)),
            Element::Bytes => Array::Bytes(Vec::with_capacity(rows)),
        }
    }

    /// Adds a value; one of another kind than the column's (which the model's types rule out)
    /// is an error, never a panic.
    fn push(&mut self, value: Bound<'q>) -> Result<(), StoreError> {
        match (self, value) {
            (Array::Text(a), Bound::Text(v)) => a.push(v.map(str::to_string)),
            (Array::Text(a), Bound::OwnedText(v)) => a.push(Some(v)),
            (Array::Text(a), Bound::Json(v)) => a.push(v.map(ToString::to_string)),
            (Array::Text(a), Bound::OwnedJson(v)) => a.push(Some(v.to_string())),
            (Array::Int(a), Bound::Int(v)) => a.push(v),
            (Array::Int4(a), Bound::Int4(v)) => a.push(v),
            (Array::Bool(a), Bound::Bool(v)) => a.push(v),
            (Array::Bytes(a), Bound::Bytes(v)) => a.push(v),
            _ => return Err(StoreError::Write("a column's values differ in kind".into())),
        }
        Ok(())
    }

    fn bind(
        self,
        query: Query<'q, sqlx::Postgres, PgArguments>,
    ) -> Query<'q, sqlx::Postgres, PgArguments> {
        match self {
            Array::Text(a) => query.bind(a),
            Array::Int(a) => query.bind(a),
            Array::Int4(a) => query.bind(a),
            Array::Bool(a) => query.bind(a),
            Array::Bytes(a) => query.bind(a),
        }
    }
}

/// Binds one array per bound column of `table`, each holding that column's value for every row,
/// under the same representation rule as one row's binding, each array of the type
/// [`insert_from_arrays`] names.
fn bind_columns<'q, R: Default>(
    mut query: Query<'q, sqlx::Postgres, PgArguments>,
    table: &Table<R>,
    rows: &[&'q R],
) -> Result<Query<'q, sqlx::Postgres, PgArguments>, StoreError> {
    let sample = &R::default();
    for column in table.columns {
        let array = match &column.source {
            Source::Now => continue,
            Source::Time(millis) => {
                let mut array = Array::new(Element::Int, rows.len());
                for row in rows {
                    array.push(Bound::Int(crate::time::storable_ms(millis(row))))?;
                }
                array
            }
            Source::Value(field) => {
                let mut array = Array::new(Element::of(field(sample)), rows.len());
                for row in rows {
                    array.push(Bound::of(field(row)))?;
                }
                array
            }
        };
        query = array.bind(query);
    }
    Ok(query)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_statement_numbers_one_array_per_bound_column() {
        let sql = &*BATCH_SQL;
        // The ordering keys, each table's bound columns, then the deliveries' three arrays.
        let last = 1
            + NOTIFICATIONS.parameter_count()
            + TRANSACTIONS.parameter_count()
            + SUBSCRIPTIONS.parameter_count()
            + 3;
        assert!(sql.contains(&format!("${last}::text[]")), "{sql}");
        assert!(!sql.contains(&format!("${}", last + 1)), "{sql}");
        assert!(sql.starts_with("WITH l AS (SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) FROM unnest($1::text[])"));
        assert!(
            sql.contains("u.payload::jsonb") && sql.contains("$15::bytea[]"),
            "{sql}"
        );
        // Derived rows only for the notifications inserted, each table in key order.
        assert_eq!(
            sql.matches("IN (SELECT notification_uuid FROM n)").count(),
            2
        );
        for key in [
            "notification_uuid",
            "transaction_id",
            "original_transaction_id",
        ] {
            assert!(
                sql.contains(&format!("ORDER BY u.{key} ON CONFLICT")),
                "{key}: {sql}"
            );
        }
    }
}
