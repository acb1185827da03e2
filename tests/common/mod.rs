//! Shared test harness: a real daemon over real TLS on 127.0.0.1:0, a real database (an SQLite
//! file, or a fresh PostgreSQL database at DATABASE_URL), a development signing chain, and a real
//! HTTPS client.
#![allow(dead_code)]

/// Runs the async scenario `$scenario(backend)` as two tests, `$name::sqlite` and
/// `$name::postgres`: one behavioural suite for both stores.
#[allow(unused_macros)]
macro_rules! on_both_stores {
    ($name:ident, $scenario:ident) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                $scenario(Backend::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                $scenario(Backend::Postgres).await;
            }
        }
    };
}

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use asnd::apple::devchain::{ChainSpec, DevChain};
use asnd::config::Config;
use asnd::server::Server;
use serde_json::{Value, json};
use sqlx::Row;

pub const BUNDLE: &str = "com.example.app";
pub const APP_ID: i64 = 1_234_567_890;

pub fn admin_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database of its own for one test; dropped afterwards (PostgreSQL) or deleted with its folder.
pub struct TestDb {
    pub url: String,
    pub backend: Backend,
    pg_name: Option<String>,
}

impl TestDb {
    pub async fn new(backend: Backend, dir: &Path) -> TestDb {
        match backend {
            Backend::Sqlite => TestDb {
                url: format!("sqlite://{}", dir.join("asnd.db").display()),
                backend,
                pg_name: None,
            },
            Backend::Postgres => {
                let name = format!("asnd_it_{}", uuid::Uuid::new_v4().simple());
                let admin = sqlx::PgPool::connect(&admin_url())
                    .await
                    .unwrap_or_else(|e| {
                        panic!(
                            "PostgreSQL tests need a server at DATABASE_URL ({}): {e}",
                            admin_url()
                        )
                    });
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&admin)
                    .await
                    .unwrap();
                admin.close().await;
                TestDb {
                    url: db_url(&admin_url(), &name),
                    backend,
                    pg_name: Some(name),
                }
            }
        }
    }

    /// Runs a query and returns the first column of every row as text (NULL → "NULL").
    pub async fn column(&self, sql: &str) -> Vec<String> {
        match self.backend {
            Backend::Sqlite => {
                let pool = sqlx::SqlitePool::connect(&self.url).await.unwrap();
                let rows = sqlx::query(sql).fetch_all(&pool).await.unwrap();
                let out = rows.iter().map(text_sqlite).collect();
                pool.close().await;
                out
            }
            Backend::Postgres => {
                let pool = sqlx::PgPool::connect(&self.url).await.unwrap();
                let rows = sqlx::query(sql).fetch_all(&pool).await.unwrap();
                let out = rows.iter().map(text_pg).collect();
                pool.close().await;
                out
            }
        }
    }

    pub async fn count(&self, table: &str) -> i64 {
        self.column(&format!("SELECT CAST(COUNT(*) AS TEXT) FROM {table}"))
            .await[0]
            .parse()
            .unwrap()
    }

    pub async fn drop_db(&self) {
        if let Some(name) = &self.pg_name {
            let admin = sqlx::PgPool::connect(&admin_url()).await.unwrap();
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&admin)
                .await;
            admin.close().await;
        }
    }
}

fn text_sqlite(row: &sqlx::sqlite::SqliteRow) -> String {
    row.try_get::<Option<String>, _>(0)
        .map(|v| v.unwrap_or_else(|| "NULL".into()))
        .or_else(|_| {
            row.try_get::<Option<i64>, _>(0)
                .map(|v| v.map_or("NULL".into(), |v| v.to_string()))
        })
        .unwrap()
}

fn text_pg(row: &sqlx::postgres::PgRow) -> String {
    row.try_get::<Option<String>, _>(0)
        .map(|v| v.unwrap_or_else(|| "NULL".into()))
        .or_else(|_| {
            row.try_get::<Option<i64>, _>(0)
                .map(|v| v.map_or("NULL".into(), |v| v.to_string()))
        })
        .or_else(|_| {
            row.try_get::<Option<i32>, _>(0)
                .map(|v| v.map_or("NULL".into(), |v| v.to_string()))
        })
        .unwrap()
}

/// Replaces the database name in a PostgreSQL URL.
pub fn db_url(admin: &str, name: &str) -> String {
    let (base, query) = admin
        .split_once('?')
        .map_or((admin, None), |(b, q)| (b, Some(q)));
    let slash = base
        .rfind('/')
        .filter(|&i| i > "postgres://".len())
        .unwrap_or(base.len());
    let mut url = format!("{}/{}", &base[..slash], name);
    if let Some(q) = query {
        url = format!("{url}?{q}");
    }
    url
}

/// One development signing chain for the whole test binary (generation takes a moment).
pub fn chain() -> &'static DevChain {
    static CHAIN: OnceLock<DevChain> = OnceLock::new();
    CHAIN.get_or_init(|| DevChain::generate(&ChainSpec::default()).unwrap())
}

#[allow(unused_imports)] // not every test binary asks for the time
pub use asnd::time::now_ms;

/// Files a test daemon needs: TLS certificate and key, the development root.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub tls_cert: PathBuf,
    pub tls_key: PathBuf,
    pub root: PathBuf,
    pub tls_cert_der: Vec<u8>,
}

impl Fixture {
    pub fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let tls = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
            .unwrap();
        let tls_cert = dir.path().join("tls.pem");
        let tls_key = dir.path().join("tls.key");
        std::fs::write(&tls_cert, tls.cert.pem()).unwrap();
        std::fs::write(&tls_key, tls.key_pair.serialize_pem()).unwrap();
        let root = dir.path().join("dev-root.der");
        std::fs::write(&root, &chain().root_der).unwrap();
        Fixture {
            tls_cert_der: tls.cert.der().to_vec(),
            dir,
            tls_cert,
            tls_key,
            root,
        }
    }

    /// A config for this fixture; `extra` is appended (more TOML, e.g. `[sources]`).
    pub fn config(&self, db_url: &str, sources: &str) -> Config {
        let toml = format!(
            r#"
[server]
listen = "127.0.0.1:0"
path = "/notifications"
tls_cert = "{cert}"
tls_key = "{key}"
max_body_bytes = 65536
[database]
url = "{db_url}"
timeout = "2s"
[sources]
allow = {sources}
[verify]
roots = ["{root}"]
[[apps]]
bundle_id = "{BUNDLE}"
app_apple_id = {APP_ID}
environments = ["Production", "Sandbox"]
"#,
            cert = self.tls_cert.display(),
            key = self.tls_key.display(),
            root = self.root.display(),
        );
        Config::from_toml_str(&toml, Vec::<(String, String)>::new()).unwrap()
    }
}

pub const LOOPBACK: &str = r#"["127.0.0.0/8", "::1/128"]"#;

/// A running daemon and an HTTPS client that trusts its certificate.
pub struct Daemon {
    pub server: Server,
    pub addr: SocketAddr,
    pub client: reqwest::Client,
}

impl Daemon {
    pub async fn start(config: &Config, tls_cert_der: &[u8]) -> Daemon {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = Server::start(config, listener).await.unwrap();
        let addr = server.local_addr();
        Daemon {
            client: client(tls_cert_der),
            server,
            addr,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{}", self.addr.port(), path)
    }

    pub async fn post(&self, body: impl Into<reqwest::Body>) -> (u16, Value) {
        let resp = self
            .client
            .post(self.url("/notifications"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    pub async fn post_signed(&self, payload: &Value) -> (u16, Value) {
        self.post(json!({"signedPayload": chain().sign(payload)}).to_string())
            .await
    }
}

/// A client that trusts only `cert_der` and resolves `localhost` to the loopback address.
pub fn client(cert_der: &[u8]) -> reqwest::Client {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_der(cert_der).unwrap())
        .resolve("localhost", "127.0.0.1:0".parse().unwrap())
        .build()
        .unwrap()
}

// ---- realistic, mutually consistent payloads ----

pub struct Sub {
    pub original_transaction_id: String,
    pub env: &'static str,
}

pub fn transaction(s: &Sub, transaction_id: &str, signed_date: i64, extra: Value) -> Value {
    let mut t = json!({
        "transactionId": transaction_id, "originalTransactionId": s.original_transaction_id,
        "webOrderLineItemId": format!("{transaction_id}9"), "bundleId": BUNDLE, "productId": "pro.monthly",
        "subscriptionGroupIdentifier": "21000001", "purchaseDate": signed_date - 5_000,
        "originalPurchaseDate": signed_date - 86_400_000, "expiresDate": signed_date + 2_592_000_000i64,
        "quantity": 1, "type": "Auto-Renewable Subscription", "inAppOwnershipType": "PURCHASED",
        "signedDate": signed_date, "environment": s.env, "transactionReason": "PURCHASE",
        "storefront": "USA", "storefrontId": "143441", "price": 9990, "currency": "USD",
        "appAccountToken": "7e3fb20b-4cdb-47cc-936d-99d65f608138"
    });
    merge(&mut t, extra);
    t
}

pub fn renewal(s: &Sub, signed_date: i64, extra: Value) -> Value {
    let mut r = json!({
        "originalTransactionId": s.original_transaction_id, "autoRenewProductId": "pro.monthly",
        "productId": "pro.monthly", "autoRenewStatus": 1, "signedDate": signed_date, "environment": s.env,
        "recentSubscriptionStartDate": signed_date - 86_400_000, "renewalDate": signed_date + 2_592_000_000i64,
        "renewalPrice": 9990, "currency": "USD"
    });
    merge(&mut r, extra);
    r
}

pub fn merge(target: &mut Value, extra: Value) {
    if let (Value::Object(t), Value::Object(e)) = (target, extra) {
        t.extend(e);
    }
}

/// A V2 notification with a `data` container, signed transaction and (for subscriptions) renewal info.
pub fn notification(
    kind: &str,
    subtype: Option<&str>,
    s: &Sub,
    transaction_id: &str,
    signed_date: i64,
    status: Option<i64>,
) -> Value {
    let mut data = json!({
        "appAppleId": APP_ID, "bundleId": BUNDLE, "bundleVersion": "42", "environment": s.env,
        "signedTransactionInfo": chain().sign(&transaction(s, transaction_id, signed_date, json!({}))),
        "signedRenewalInfo": chain().sign(&renewal(s, signed_date, json!({}))),
    });
    if let Some(st) = status {
        data["status"] = json!(st);
    }
    let mut n = json!({
        "notificationType": kind, "notificationUUID": uuid::Uuid::new_v4().to_string(),
        "version": "2.0", "signedDate": signed_date, "data": data
    });
    if let Some(sub) = subtype {
        n["subtype"] = json!(sub);
    }
    n
}

// ---- looking at stored rows ----

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

impl TestDb {
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

/// A raw TLS connection to a test daemon, for tests that need to control every byte.
pub async fn tls_connect(
    addr: SocketAddr,
    cert_der: &[u8],
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from(cert_der.to_vec()))
        .unwrap();
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    connector.connect(name, tcp).await.unwrap()
}
