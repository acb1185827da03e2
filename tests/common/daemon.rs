//! A real daemon in the test process: its files ([`Fixture`]), the running server with an HTTPS
//! client that trusts it ([`Daemon`]), the three together with a database ([`Env`]), and raw TLS.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use asnd::config::{AppConfig, AppEnvironment, BUILTIN_APPLE_ROOT, Config};
use asnd::server::Server;
use serde_json::{Value, json};

use super::{APP_ID, BUNDLE, Backend, TestDb, chain};

pub const LOOPBACK: &str = r#"["127.0.0.0/8", "::1/128"]"#;

/// A real notification Apple signed (Production, `CONSUMPTION_REQUEST`), and its app.
pub const APPLE_REAL: &str =
    include_str!("../fixtures/apple-real/notification_Production_da2c238f98534d21.jws");
pub const REAL_BUNDLE: &str = "com.jrjj.keysns";
pub const REAL_APP_ID: i64 = 1_601_830_814;

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

    /// The configuration file for this fixture, the test app and `sources`; `extra` is appended
    /// (more TOML: `[apps.api]` for the test app, further tables).
    pub fn toml(&self, db_url: &str, sources: &str, extra: &str) -> String {
        format!(
            r#"
[server]
listen = "127.0.0.1:0"
path = "/notifications"
tls_cert = "{cert}"
tls_key = "{key}"
max_body_bytes = 65536
[database]
url = "{db_url}"
timeout = "5s"
[sources]
allow = {sources}
[verify]
roots = ["{root}"]
[[apps]]
bundle_id = "{BUNDLE}"
app_apple_id = {APP_ID}
environments = ["Production", "Sandbox"]
{extra}
"#,
            cert = self.tls_cert.display(),
            key = self.tls_key.display(),
            root = self.root.display(),
        )
    }

    /// A configuration file whose database cannot be reached, its URL holding the password
    /// `hunter2` (which no message may show).
    pub fn unreachable_database_file(&self) -> PathBuf {
        let file = self.dir.path().join("asnd.toml");
        let unreachable = "postgres://postgres:hunter2@127.0.0.1:1/asnd";
        std::fs::write(&file, self.toml(unreachable, LOOPBACK, "")).unwrap();
        file
    }

    /// [`Fixture::toml`] without anything extra, parsed.
    pub fn config(&self, db_url: &str, sources: &str) -> Config {
        Config::from_toml_str(
            &self.toml(db_url, sources, ""),
            Vec::<(String, String)>::new(),
        )
        .unwrap()
    }
}

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

    /// The status of a GET of `path`.
    pub async fn get(&self, path: &str) -> u16 {
        status_of(self.client.get(self.url(path))).await
    }

    /// Posts `body` from a task of its own (for many at once); the task yields the status.
    pub fn spawn_post(&self, body: String) -> tokio::task::JoinHandle<u16> {
        let request = self.client.post(self.url("/notifications")).body(body);
        tokio::spawn(status_of(request))
    }
}

/// The status `request` is answered with.
pub async fn status_of(request: reqwest::RequestBuilder) -> u16 {
    request.send().await.unwrap().status().as_u16()
}

/// The body of a plain HTTP GET (the admin listener).
pub async fn fetch_text(url: &str) -> String {
    reqwest::get(url).await.unwrap().text().await.unwrap()
}

/// A fixture, a database and a daemon using both: the usual start of an end-to-end test.
pub struct Env {
    pub fixture: Fixture,
    pub db: TestDb,
    pub daemon: Daemon,
}

impl Env {
    /// A daemon for `sources`, on a new database of `backend`; `adjust` may change the
    /// fixture's configuration first.
    pub async fn start(backend: Backend, sources: &str, adjust: impl FnOnce(&mut Config)) -> Env {
        let fixture = Fixture::new();
        let db = TestDb::new(backend).await;
        let mut config = fixture.config(&db.url, sources);
        adjust(&mut config);
        let daemon = Daemon::start(&config, &fixture.tls_cert_der).await;
        Env {
            fixture,
            db,
            daemon,
        }
    }

    /// A daemon on loopback trusting Apple's root AND the development root (as `serve --dev`
    /// does), with the app of the real Apple notification in `fixtures/apple-real` configured
    /// beside the test app.
    pub async fn trusting_apple_and_dev(backend: Backend) -> Env {
        Env::start(backend, LOOPBACK, |config| {
            config
                .verify
                .roots
                .insert(0, PathBuf::from(BUILTIN_APPLE_ROOT));
            config.apps.push(AppConfig {
                bundle_id: REAL_BUNDLE.into(),
                app_apple_id: Some(REAL_APP_ID),
                environments: vec![AppEnvironment::Production],
                ..AppConfig::default()
            });
        })
        .await
    }

    /// A daemon on loopback with the fixture's configuration, on SQLite.
    pub async fn sqlite() -> Env {
        Env::start(Backend::Sqlite, LOOPBACK, |_| {}).await
    }

    /// Shuts the daemon down; the database and the files go with `self`.
    pub async fn finish(self) {
        self.daemon.server.shutdown().await;
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

/// A TLS connector that trusts only `cert_der`, for tests that need to control every byte.
pub fn tls_connector(cert_der: &[u8]) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from(cert_der.to_vec()))
        .unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// The server name the test certificates are for.
pub fn localhost() -> rustls::pki_types::ServerName<'static> {
    rustls::pki_types::ServerName::try_from("localhost").unwrap()
}

/// A raw TLS connection to a test daemon.
pub async fn tls_connect(
    addr: SocketAddr,
    cert_der: &[u8],
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tls_connector(cert_der)
        .connect(localhost(), tcp)
        .await
        .unwrap()
}
