//! PostgreSQL store: times as `timestamptz`, decoded JSON as `jsonb`, raw bodies as `bytea`.
//!
//! Times arrive as milliseconds since the epoch and are converted in SQL with
//! `to_timestamp($n::bigint / 1000.0)` (exact to the millisecond; NULL stays NULL).

use std::str::FromStr;
use std::sync::Arc;

use std::sync::LazyLock;
use std::time::Duration;
use tokio::sync::Notify;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Connection, PgConnection};

use super::mapping::{Dialect, NOTIFICATIONS, SUBSCRIPTIONS, Statements, TRANSACTIONS, bind_row};
use super::outbox::{self, OutboxStatements};
use super::reads::ReadStatements;
use super::tables::SqlTables;
use super::{
    ExclusiveLock, HeldLock, NewNotification, SaveOutcome, Store, StoreError, StoreOptions,
    SubscriptionRow, Tables, TransactionRow,
};

mod lock;
pub(crate) use lock::AdvisoryLock;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// PostgreSQL's spelling: `$n` parameters, `timestamptz` times.
const DIALECT: Dialect = Dialect {
    placeholder: |n| format!("${n}"),
    time_from_millis: |parameter| format!("to_timestamp({parameter}::bigint / 1000.0)"),
    millis_of: |column| format!("(extract(epoch FROM {column}) * 1000)::bigint"),
    now: "now()",
    skip_locked: "FOR UPDATE SKIP LOCKED",
    begin_write: "BEGIN",
    migrations_table_exists: "SELECT to_regclass('_sqlx_migrations') IS NOT NULL",
};

/// Each statement generated once, from the shared mappings.
static SQL: LazyLock<Statements> = LazyLock::new(|| Statements::of(&DIALECT));
static OUTBOX: LazyLock<OutboxStatements> = LazyLock::new(|| OutboxStatements::of(&DIALECT));
static READS: LazyLock<ReadStatements> = LazyLock::new(|| ReadStatements::of(&DIALECT));

/// A pool of connections to one PostgreSQL database.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    /// `host:port/database`, for `Debug`; never the password.
    target: String,
    tables: Arc<SqlTables<sqlx::Postgres>>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.tables.debug(f, "PgStore", &self.target)
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

        let statements = (&*SQL, &*OUTBOX, &*READS);
        let tables = SqlTables::new(pool.clone(), statements, &MIGRATOR, None);
        Ok(PgStore {
            pool,
            target,
            tables,
        })
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
                transactions.first().copied(),
                subscriptions.first().copied(),
            )
            .await;
        }
        let mut tx = self.pool.begin().await?;
        if !n.destinations.is_empty() {
            // Event ids of one subscription are taken in commit order (see ORDERING_LOCK).
            sqlx::query(ORDERING_LOCK)
                .bind(outbox::ordering_key(n.original_transaction_id.as_deref()))
                .execute(&mut *tx)
                .await?;
        }
        // Concurrent inserts of one UUID: the later ones wait for the first to commit and then
        // insert nothing, so exactly one caller sees a row inserted.
        let inserted = bind_row(sqlx::query(&SQL.insert_notification), &NOTIFICATIONS, n)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(id) = inserted
            .map(|row| sqlx::Row::try_get::<i64, _>(&row, 0))
            .transpose()?
        else {
            tx.rollback().await?;
            return Ok(SaveOutcome::Duplicate);
        };
        for t in transactions {
            bind_row(sqlx::query(&SQL.upsert_transaction), &TRANSACTIONS, t)
                .execute(&mut *tx)
                .await?;
        }
        for s in subscriptions {
            bind_row(sqlx::query(&SQL.upsert_subscription), &SUBSCRIPTIONS, s)
                .execute(&mut *tx)
                .await?;
        }
        outbox::enqueue(&mut tx, &OUTBOX, id, n).await?;
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(outbox::CHANNEL)
            .bind(outbox::event_id(id))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(SaveOutcome::Stored)
    }

    async fn try_lock(&self, key: i64) -> Result<Option<ExclusiveLock>, StoreError> {
        let held = AdvisoryLock::try_acquire(&self.pool, key).await?;
        Ok(held.map(|lock| ExclusiveLock {
            inner: HeldLock::Postgres(lock),
        }))
    }

    fn tables(&self) -> &dyn Tables {
        self.tables.as_ref()
    }

    async fn subscribe_events(&self, wake: Arc<Notify>) -> Result<(), StoreError> {
        Ok(outbox::listen(&self.pool, wake).await?)
    }
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

/// Held from before a notification with deliveries takes its row id until commit, per
/// subscription (`original_transaction_id`): the ids, which order a subscription's events, are
/// then taken in the order the notifications commit. A NULL key takes no lock.
const ORDERING_LOCK: &str = "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))";

/// The common case (one transaction row, one subscription row at most) as ONE statement: the
/// derived rows and the deliveries are written only when the notification row was inserted, and
/// the commit notifies `asnd_events`. One round trip instead of five or more (BEGIN, the
/// statements, COMMIT) roughly halves the database's work per notification; a single statement is
/// atomic on its own.
async fn save_in_one_statement(
    pool: &PgPool,
    n: &NewNotification,
    t: Option<&TransactionRow>,
    s: Option<&SubscriptionRow>,
) -> Result<SaveOutcome, StoreError> {
    static SQL: LazyLock<Vec<String>> = LazyLock::new(|| {
        (0..8)
            .map(|parts| one_statement_sql(parts & 1 != 0, parts & 2 != 0, parts & 4 != 0))
            .collect()
    });
    let with_deliveries = !n.destinations.is_empty();
    let parts =
        usize::from(t.is_some()) + 2 * usize::from(s.is_some()) + 4 * usize::from(with_deliveries);
    let mut q = sqlx::query(&SQL[parts]);
    if with_deliveries {
        q = q.bind(outbox::ordering_key(n.original_transaction_id.as_deref()));
    }
    q = bind_row(q, &NOTIFICATIONS, n);
    if let Some(t) = t {
        q = bind_row(q, &TRANSACTIONS, t);
    }
    if let Some(s) = s {
        q = bind_row(q, &SUBSCRIPTIONS, s);
    }
    if with_deliveries {
        q = q.bind(&n.destinations);
    }
    let inserted: i64 = sqlx::Row::try_get(&q.fetch_one(pool).await?, 0)?;
    Ok(if inserted == 0 {
        SaveOutcome::Duplicate
    } else {
        SaveOutcome::Stored
    })
}

/// `WITH [l AS (lock)], n AS (insert notification RETURNING id), t AS (upsert ...), s AS (upsert
/// ...), [d AS (insert deliveries)] SELECT count(*) FROM (pg_notify per row of n)`. The upserts
/// and deliveries are guarded by `n`; with deliveries, the notification's row id is taken only
/// after the ordering lock (`$1`, the ordering key), and `$last` is the array of destinations.
/// The statements share one parameter list, numbered on from one statement to the next.
fn one_statement_sql(
    with_transaction: bool,
    with_subscription: bool,
    with_deliveries: bool,
) -> String {
    const ONLY_IF_NEW: Option<&str> = Some("EXISTS (SELECT 1 FROM n)");
    let mut sql = String::from("WITH ");
    let mut next = 1;
    let notification = if with_deliveries {
        sql.push_str(&format!(
            "l AS ({}), ",
            ORDERING_LOCK.replace("$1", "$1::text")
        ));
        next += 1;
        NOTIFICATIONS.insert_sql(&DIALECT, next, Some("EXISTS (SELECT 1 FROM l)"))
    } else {
        NOTIFICATIONS.insert_sql(&DIALECT, next, None)
    };
    sql.push_str(&format!("n AS ({notification} RETURNING id, received_at)"));
    next += NOTIFICATIONS.parameter_count();
    if with_transaction {
        let upsert = TRANSACTIONS.insert_sql(&DIALECT, next, ONLY_IF_NEW);
        sql.push_str(&format!(", t AS ({upsert})"));
        next += TRANSACTIONS.parameter_count();
    }
    if with_subscription {
        let upsert = SUBSCRIPTIONS.insert_sql(&DIALECT, next, ONLY_IF_NEW);
        sql.push_str(&format!(", s AS ({upsert})"));
        next += SUBSCRIPTIONS.parameter_count();
    }
    if with_deliveries {
        sql.push_str(&format!(
            ", d AS (INSERT INTO event_deliveries \
               (notification_id, destination, ordering_key, next_attempt_at, created_at) \
             SELECT n.id, destination, $1::text, n.received_at, n.received_at \
             FROM n, unnest(${next}::text[]) AS destination)"
        ));
    }
    sql.push_str(&format!(
        " SELECT count(*) FROM (SELECT pg_notify('{}', 'evt_' || id) FROM n) AS notified",
        outbox::CHANNEL
    ));
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_statement_sql_numbers_parameters_in_order() {
        let numbered_from_16 = TRANSACTIONS.insert_sql(&DIALECT, 16, None);
        assert!(numbered_from_16.contains("$16,") && numbered_from_16.contains("$41"));
        assert!(!numbered_from_16.contains("$15,") && !numbered_from_16.contains("$42"));
        let all = one_statement_sql(true, true, false);
        assert!(all.contains("$59") && !all.contains("$60"), "{all}");
        assert_eq!(
            all.matches("WHERE EXISTS (SELECT 1 FROM n)").count(),
            2,
            "{all}"
        );
        let only_subscription = one_statement_sql(false, true, false);
        assert!(only_subscription.contains("$33") && !only_subscription.contains("$34"));
        assert!(!one_statement_sql(false, false, false).contains("EXISTS"));
        // With deliveries: the ordering key first, the destinations last.
        let deliveries = one_statement_sql(true, true, true);
        assert!(
            deliveries
                .starts_with("WITH l AS (SELECT pg_advisory_xact_lock(hashtextextended($1::text")
        );
        assert!(deliveries.contains("unnest($61::text[])") && !deliveries.contains("$62"));
        assert!(
            deliveries.contains("WHERE EXISTS (SELECT 1 FROM l)"),
            "{deliveries}"
        );
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
