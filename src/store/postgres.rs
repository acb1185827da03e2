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

use super::mapping::{self, Dialect};
use super::outbox;
use super::tables::{BackendStatements, SqlTables};
use super::{
    ExclusiveLock, HeldLock, NewNotification, SaveOutcome, Store, StoreError, StoreOptions, Tables,
};

mod batch;
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
static STATEMENTS: LazyLock<BackendStatements> = LazyLock::new(|| BackendStatements::of(&DIALECT));

/// A pool of connections to one PostgreSQL database.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    /// `host:port/database`, for `Debug`; never the password.
    target: String,
    tables: Arc<SqlTables<sqlx::Postgres>>,
    /// Notifications of the common shape are written in batches, one commit per batch.
    batches: super::write_queue::WriteQueue,
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

        let tables = SqlTables::new(pool.clone(), &STATEMENTS, &MIGRATOR, None);
        // Half the pool writes batches; the rest serves everything else (the outbox, reads).
        let batches = batch::start(pool.clone(), options.max_connections as usize / 2);
        Ok(PgStore {
            pool,
            target,
            tables,
            batches,
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
        if n.transaction_rows().len() <= 1 && n.subscription_rows().len() <= 1 {
            return self.batches.save(n).await;
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
        let Some(id) = mapping::insert_notification(&mut tx, &STATEMENTS.sql, n).await? else {
            tx.rollback().await?;
            return Ok(SaveOutcome::Duplicate);
        };
        mapping::upsert_rows(&mut tx, &STATEMENTS.sql, n).await?;
        outbox::enqueue(&mut tx, &STATEMENTS.outbox, id, n).await?;
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

#[cfg(test)]
mod tests {
    use super::*;

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
