//! A database of its own for each test: an SQLite file in a temporary folder, or a PostgreSQL
//! database at `DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`) that is
//! dropped when the [`TestDb`] is, also when the test panics. A test that needs PostgreSQL first asks
//! [`skip_without_postgres`]: without a reachable server it is skipped, loudly, unless
//! `ASND_REQUIRE_POSTGRES=1` (set by CI) makes that a failure.
//!
//! [`TestDb::new`] gives the migrated schema. On PostgreSQL it is a copy of a template database,
//! `asnd_template_<hash of migrations/postgres>`, migrated once per machine, so that tests do not
//! migrate each time; a changed migration gets a template of its own. [`TestDb::empty`] gives no
//! schema at all, for tests of migrating itself.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use asnd::store::{self, Store, StoreOptions};
use serde_json::Value;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use sqlx::{Connection, Row};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Serialises building the template across test binaries running at once (any constant that no
/// other code uses as an advisory lock key on the admin database).
const TEMPLATE_LOCK_KEY: i64 = 0x6173_6e64_7465_6d70;

pub fn admin_url() -> String {
    std::env::var("DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| DEFAULT_PG_URL.to_string())
}

/// `url` with its database path replaced by `/name` (query string kept).
pub fn with_database(url: &str, name: &str) -> String {
    let scheme_end = url.find("://").map(|i| i + 3).unwrap_or(0);
    let rest = &url[scheme_end..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let after = &rest[authority_end..];
    let query = after.find('?').map(|q| &after[q..]).unwrap_or("");
    format!(
        "{}{}/{}{}",
        &url[..scheme_end],
        &rest[..authority_end],
        name,
        query
    )
}

/// Whether the server at `DATABASE_URL` answers, asked once per test binary within 2 s; the error
/// as the driver gives it when not.
async fn postgres_reachable() -> &'static Result<(), String> {
    static REACHABLE: tokio::sync::OnceCell<Result<(), String>> =
        tokio::sync::OnceCell::const_new();
    REACHABLE
        .get_or_init(|| async {
            let options = PgConnectOptions::from_str(&admin_url()).map_err(|e| e.to_string())?;
            match tokio::time::timeout(
                Duration::from_secs(2),
                sqlx::PgConnection::connect_with(&options),
            )
            .await
            {
                Ok(Ok(conn)) => {
                    let _ = conn.close().await;
                    Ok(())
                }
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err("no answer within 2 s".into()),
            }
        })
        .await
}

/// `true` when `test` (its name) must be skipped because no PostgreSQL server is reachable: it
/// says so on stderr, past the test harness's capture, with how to run it. With
/// `ASND_REQUIRE_POSTGRES=1` an unreachable server fails the test instead.
pub async fn skip_without_postgres(test: &str) -> bool {
    let Err(cause) = postgres_reachable().await else {
        return false;
    };
    let at = store::redact_url(&admin_url());
    if std::env::var("ASND_REQUIRE_POSTGRES").as_deref() == Ok("1") {
        panic!(
            "PostgreSQL at {at} is unreachable ({cause}) and ASND_REQUIRE_POSTGRES=1 requires it"
        );
    }
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED {test}: PostgreSQL at {at} is unreachable ({cause}). To run the PostgreSQL tests, \
         start a server or point DATABASE_URL at one; ASND_REQUIRE_POSTGRES=1 makes this a failure."
    );
    true
}

/// One connection to the server at `admin`, or a panic that says what the tests need.
pub async fn admin_connection(admin: &str) -> sqlx::PgConnection {
    let options = PgConnectOptions::from_str(admin).unwrap_or_else(|e| {
        panic!(
            "DATABASE_URL {} is not usable: {e}",
            store::redact_url(admin)
        )
    });
    match tokio::time::timeout(
        Duration::from_secs(10),
        sqlx::PgConnection::connect_with(&options),
    )
    .await
    {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) => panic!(
            "PostgreSQL is unreachable at {} ({e}). These tests need a PostgreSQL server: start one \
             or point DATABASE_URL at one (default {DEFAULT_PG_URL}).",
            store::redact_url(admin)
        ),
        Err(_) => panic!(
            "PostgreSQL at {} did not answer within 10 s. These tests need a PostgreSQL server: \
             start one or point DATABASE_URL at one (default {DEFAULT_PG_URL}).",
            store::redact_url(admin)
        ),
    }
}

async fn execute(conn: &mut sqlx::PgConnection, sql: &str) {
    sqlx::query(sql)
        .execute(&mut *conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// `asnd_template_<first 16 hex digits of SHA-256 over migrations/postgres>`.
fn template_name() -> String {
    let folder = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres");
    let mut files: Vec<_> = std::fs::read_dir(folder)
        .unwrap_or_else(|e| panic!("{folder}: {e}"))
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    let mut hash = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    for file in files {
        hash.update(file.file_name().unwrap().as_encoded_bytes());
        hash.update(&[0]);
        hash.update(&std::fs::read(&file).unwrap());
        hash.update(&[0]);
    }
    let hex: String = hash
        .finish()
        .as_ref()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("asnd_template_{hex}")
}

/// The migrated template's name, building it first when this machine has none yet.
async fn template() -> &'static str {
    static TEMPLATE: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    TEMPLATE.get_or_init(build_template).await
}

async fn build_template() -> String {
    let admin = admin_url();
    let name = template_name();
    let mut conn = admin_connection(&admin).await;
    // Held until unlocked or until this session ends (also when building panics).
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(TEMPLATE_LOCK_KEY)
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("lock the template: {e}"));
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&name)
            .fetch_one(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("look for {name}: {e}"));
    if !exists {
        // Built under another name and renamed when complete, so that a build that died halfway
        // is never used as a template.
        let building = format!("{name}_build");
        execute(
            &mut conn,
            &format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"),
        )
        .await;
        execute(&mut conn, &format!("CREATE DATABASE {building}")).await;
        let store = store::connect(&with_database(&admin, &building), &StoreOptions::default())
            .await
            .unwrap_or_else(|e| panic!("connect to {building}: {e}"));
        store
            .migrate()
            .await
            .unwrap_or_else(|e| panic!("migrate {building}: {e}"));
        store.close().await;
        // The migrating sessions may take a moment to end after the pool is closed.
        let rename = format!("ALTER DATABASE {building} RENAME TO {name}");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while let Err(e) = sqlx::query(&rename).execute(&mut conn).await {
            assert!(std::time::Instant::now() < deadline, "{rename}: {e}");
            // Nothing else may use the half-built database: end whatever session lingers there.
            let _ = sqlx::query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
            )
            .bind(&building)
            .execute(&mut conn)
            .await;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let _ = sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(TEMPLATE_LOCK_KEY)
        .execute(&mut conn)
        .await;
    let _ = conn.close().await;
    name
}

/// A direct pool on the test database, to look at rows behind the daemon's or store's back.
enum Pool {
    Pg(PgPool),
    Sqlite(SqlitePool),
}

/// A database of its own for one test.
pub struct TestDb {
    pub url: String,
    pub backend: Backend,
    /// Declared before `_pg`: its connections close before the database is dropped.
    pool: Pool,
    _pg: Option<DroppedAfterwards>,
    /// Holds the SQLite file; deleted with it.
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// A database with the current schema.
    pub async fn new(backend: Backend) -> TestDb {
        TestDb::create(backend, true).await
    }

    /// A database without any schema: for tests of migrating itself.
    pub async fn empty(backend: Backend) -> TestDb {
        TestDb::create(backend, false).await
    }

    async fn create(backend: Backend, migrated: bool) -> TestDb {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temporary directory");
                let url = format!("sqlite://{}", dir.path().join("asnd.db").display());
                let options = SqliteConnectOptions::from_str(&url)
                    .expect("sqlite URL")
                    .create_if_missing(true)
                    .busy_timeout(Duration::from_secs(10));
                let pool = SqlitePoolOptions::new()
                    .max_connections(2)
                    .connect_with(options)
                    .await
                    .expect("open the SQLite test file");
                let db = TestDb {
                    backend,
                    url,
                    pool: Pool::Sqlite(pool),
                    _pg: None,
                    _dir: Some(dir),
                };
                if migrated {
                    let store = db.store().await;
                    store.migrate().await.expect("migrate the SQLite test file");
                    store.close().await;
                }
                db
            }
            Backend::Postgres => {
                let admin = admin_url();
                let name = format!("asnd_test_{}", uuid::Uuid::new_v4().simple());
                let create = if migrated {
                    format!("CREATE DATABASE {name} TEMPLATE {}", template().await)
                } else {
                    format!("CREATE DATABASE {name}")
                };
                let mut conn = admin_connection(&admin).await;
                execute(&mut conn, &create).await;
                let _ = conn.close().await;
                // From here on the database is dropped again, whatever happens.
                let guard = DroppedAfterwards(name);
                let url = with_database(&admin, &guard.0);
                let pool = PgPoolOptions::new()
                    .max_connections(2)
                    .connect(&url)
                    .await
                    .unwrap_or_else(|e| panic!("connect to {}: {e}", guard.0));
                TestDb {
                    backend,
                    url,
                    pool: Pool::Pg(pool),
                    _pg: Some(guard),
                    _dir: None,
                }
            }
        }
    }

    /// The store under test, on this database.
    pub async fn store(&self) -> Arc<dyn Store> {
        store::connect(&self.url, &StoreOptions::default())
            .await
            .unwrap_or_else(|e| panic!("connect the {:?} store: {e}", self.backend))
    }

    /// Runs statements that return nothing.
    pub async fn exec(&self, sql: &str) {
        match &self.pool {
            Pool::Pg(pool) => sqlx::raw_sql(sql).execute(pool).await.map(|_| ()),
            Pool::Sqlite(pool) => sqlx::raw_sql(sql).execute(pool).await.map(|_| ()),
        }
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// Every column of every row as text (text, integer and boolean columns; NULL is `None`).
    pub async fn texts(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        match &self.pool {
            Pool::Pg(pool) => sqlx::query(sql)
                .fetch_all(pool)
                .await
                .map(|rows| rows.iter().map(cells).collect()),
            Pool::Sqlite(pool) => sqlx::query(sql)
                .fetch_all(pool)
                .await
                .map(|rows| rows.iter().map(cells).collect()),
        }
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// The first column of every row as text (NULL as `"NULL"`).
    pub async fn column(&self, sql: &str) -> Vec<String> {
        self.texts(sql)
            .await
            .into_iter()
            .map(|mut row| row.remove(0).unwrap_or_else(|| "NULL".into()))
            .collect()
    }

    /// The first column of the one row `sql` returns.
    pub async fn one(&self, sql: &str) -> String {
        let rows = self.column(sql).await;
        assert_eq!(rows.len(), 1, "{sql} returned {rows:?}");
        rows[0].clone()
    }

    /// Where the notification `uuid` came from: the `source_address` of each stored copy, joined
    /// by commas.
    pub async fn source_of(&self, uuid: &str) -> String {
        self.column(&format!(
            "SELECT source_address FROM notifications WHERE notification_uuid = '{uuid}'"
        ))
        .await
        .join(",")
    }

    /// The first column of the row `sql` returns, if it returns one (more is an error).
    pub async fn at_most_one(&self, sql: &str) -> Option<String> {
        let rows = self.column(sql).await;
        assert!(rows.len() <= 1, "{sql}: {rows:?}");
        rows.into_iter().next()
    }

    /// The single row of `sql`, as texts.
    pub async fn row(&self, sql: &str) -> Vec<Option<String>> {
        let mut rows = self.texts(sql).await;
        assert_eq!(rows.len(), 1, "expected one row from {sql}");
        rows.remove(0)
    }

    /// The first column of the single row of `sql`.
    pub async fn text(&self, sql: &str) -> Option<String> {
        self.row(sql).await.remove(0)
    }

    /// An integer that `sql` computes (a `COUNT(*)`, say).
    pub async fn number(&self, sql: &str) -> i64 {
        match &self.pool {
            Pool::Pg(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
            Pool::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
        }
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// How many rows `table` holds.
    pub async fn count(&self, table: &str) -> i64 {
        self.number(&format!("SELECT COUNT(*) FROM {table}")).await
    }

    /// How many deliveries of `event_deliveries` are in `state` (`pending`, `delivered`, `dead`).
    pub async fn deliveries_in(&self, state: &str) -> i64 {
        self.number(&format!(
            "SELECT COUNT(*) FROM event_deliveries WHERE state = '{state}'"
        ))
        .await
    }

    pub async fn bytes(&self, sql: &str) -> Vec<u8> {
        match &self.pool {
            Pool::Pg(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
            Pool::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
        }
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    pub async fn json(&self, sql: &str) -> Option<Value> {
        self.text(sql)
            .await
            .map(|t| serde_json::from_str(&t).unwrap_or_else(|e| panic!("{sql}: {e}: {t}")))
    }

    /// SQL for a time column rendered as `YYYY-MM-DDTHH:MM:SS.mmmZ` (SQLite stores that text;
    /// PostgreSQL's `timestamptz` is formatted in UTC).
    pub fn ts(&self, column: &str) -> String {
        match self.backend {
            Backend::Postgres => {
                format!("to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')")
            }
            Backend::Sqlite => column.to_string(),
        }
    }

    /// SQL for any scalar column as text.
    pub fn t(&self, column: &str) -> String {
        format!("CAST({column} AS TEXT)")
    }

    /// SQL for a boolean column as `'true'`/`'false'` (NULL stays NULL).
    pub fn b(&self, column: &str) -> String {
        format!("CASE WHEN {column} IS NULL THEN NULL WHEN {column} THEN 'true' ELSE 'false' END")
    }

    /// Every row of every table that holds `needle` in any column, as `table: row`. Bytes
    /// (`bytea`, BLOB) are searched in hex.
    pub async fn rows_containing(&self, needle: &str) -> Vec<String> {
        let hex: String = needle.bytes().map(|b| format!("{b:02x}")).collect();
        let tables = match self.backend {
            Backend::Postgres => {
                self.column("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
                    .await
            }
            Backend::Sqlite => {
                self.column("SELECT name FROM sqlite_master WHERE type = 'table'")
                    .await
            }
        };
        let mut found = Vec::new();
        for table in tables {
            let rows = match self.backend {
                Backend::Postgres => {
                    self.column(&format!("SELECT CAST(t AS TEXT) FROM {table} t"))
                        .await
                }
                Backend::Sqlite => {
                    let columns = self
                        .column(&format!("SELECT name FROM pragma_table_info('{table}')"))
                        .await;
                    let row: Vec<String> = columns
                        .iter()
                        .map(|c| {
                            format!(
                                "COALESCE(CASE WHEN typeof(\"{c}\") = 'blob' \
                                 THEN lower(hex(\"{c}\")) ELSE CAST(\"{c}\" AS TEXT) END, '')"
                            )
                        })
                        .collect();
                    self.column(&format!("SELECT {} FROM {table}", row.join(" || '|' || ")))
                        .await
                }
            };
            found.extend(
                rows.into_iter()
                    .filter(|r| r.contains(needle) || r.contains(&hex))
                    .map(|r| format!("{table}: {r}")),
            );
        }
        found
    }
}

/// A PostgreSQL test database (by name), dropped with this guard.
struct DroppedAfterwards(String);

impl Drop for DroppedAfterwards {
    fn drop(&mut self) {
        let name = std::mem::take(&mut self.0);
        // Dropping needs async I/O, and this may run inside the test's runtime or while it
        // unwinds from a panic: do it on a thread with a small runtime of its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let mut conn = admin_connection(&admin_url()).await;
                let dropped = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn)
                    .await
                    .map(|_| ());
                let _ = conn.close().await;
                dropped
            })
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("could not drop the test database: {e}"),
            Err(_) => eprintln!("could not drop the test database: the dropping thread panicked"),
        }
    }
}

/// Every column of `row` as text: text as it is, integers and booleans formatted.
fn cells<R: Row>(row: &R) -> Vec<Option<String>>
where
    usize: sqlx::ColumnIndex<R>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<i64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<i32>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<bool>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    (0..row.len())
        .map(|i| {
            row.try_get::<Option<String>, _>(i)
                .or_else(|_| {
                    row.try_get::<Option<i64>, _>(i)
                        .map(|v| v.map(|v| v.to_string()))
                })
                .or_else(|_| {
                    row.try_get::<Option<i32>, _>(i)
                        .map(|v| v.map(|v| v.to_string()))
                })
                .or_else(|_| {
                    row.try_get::<Option<bool>, _>(i)
                        .map(|v| v.map(|v| v.to_string()))
                })
                .unwrap_or_else(|e| panic!("column {i}: {e}"))
        })
        .collect()
}

/// SQL for a time column as milliseconds since the epoch, as text, on either backend (NULL stays
/// NULL): `timestamptz` in PostgreSQL, `2026-11-29T18:27:38.123Z` text in SQLite.
pub fn millis_sql(backend: Backend, column: &str) -> String {
    match backend {
        Backend::Postgres => {
            format!("CAST(CAST(EXTRACT(EPOCH FROM {column}) * 1000 AS BIGINT) AS TEXT)")
        }
        Backend::Sqlite => format!(
            "CAST(CAST(strftime('%s', {column}) AS INTEGER) * 1000 \
             + CAST(substr({column}, 21, 3) AS INTEGER) AS TEXT)"
        ),
    }
}
