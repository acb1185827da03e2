//! The App Store Server API side (issue 7), against a local stand-in for Apple's API: a real HTTPS
//! server (rustls, a self-signed certificate the client is told to trust) that checks every
//! request's JWT (signature with the test key's public half, header and claims), serves paged
//! notification history signed by the test chain, answers a 429 with `Retry-After` and a 500
//! before succeeding, and plays the test-notification flow against the real running daemon.

#[macro_use]
mod common;

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use asnd::apple::devchain::{ChainSpec, DevChain};
use asnd::appstore_api::backfill::{BackfillError, BackfillReport, Cause};
use asnd::appstore_api::reconcile::RunOutcome;
use asnd::appstore_api::{
    ApiClient, ApiEnvironment, ApiError, BackfillRequest, ReconcileStats, Reconciler, RetryPolicy,
    backfill,
};
use asnd::config::Config;
use asnd::ingest::Pipeline;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};
use base64::Engine;
use bytes::Bytes;
use common::*;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use serde_json::{Value, json};
use tokio::sync::{Notify, Semaphore};

const KEY_ID: &str = "TESTKEY123";
const ISSUER: &str = "57246542-96fe-1a63-e053-0824d011072a";
const HOUR: i64 = 3_600_000;

/// A chain the daemon does not trust.
fn untrusted_chain() -> &'static DevChain {
    static CHAIN: OnceLock<DevChain> = OnceLock::new();
    CHAIN.get_or_init(|| {
        DevChain::generate(&ChainSpec {
            name: "not trusted".into(),
            ..ChainSpec::default()
        })
        .unwrap()
    })
}

// ------------------------------------------------------------------------------------------------
// The stand-in for Apple's API.

enum Fault {
    /// 429 with `Retry-After` this far in the future.
    RateLimited(Duration),
    /// 500 without Apple's JSON body.
    ServerError,
}

#[derive(Clone, Copy)]
enum HardFailure {
    /// 500 every time: the client retries, then gives up.
    ServerErrors,
    /// 400 PaginationTokenExpiredError: not worth retrying.
    TokenExpired,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum TestMode {
    /// Post the TEST notification to the daemon, report what it answered.
    Deliver,
    /// Report failed attempts without posting.
    Undeliverable,
}

struct TestState {
    env: &'static str,
    jws: String,
    uuid: String,
    polls: u32,
    attempts: Option<Value>,
}

/// One request as the stand-in saw it.
#[derive(Clone, Debug)]
struct Seen {
    env: &'static str,
    method: Method,
    path: String,
    /// The decoded `paginationToken`, if any.
    pagination_token: Option<String>,
    body: Bytes,
}

struct StandIn {
    public_key: Vec<u8>,
    /// History pages per environment ("production", "sandbox").
    pages: Mutex<HashMap<&'static str, Vec<Vec<Value>>>>,
    /// Answers given before the real one, per page index; each is used once.
    faults: Mutex<HashMap<usize, VecDeque<Fault>>>,
    /// From this page index on, fail every time.
    fail_from_page: Mutex<Option<(usize, HardFailure)>>,
    seen: Mutex<Vec<Seen>>,
    jwt_failures: Mutex<Vec<String>>,
    /// Set by a 429: a request before this instant (ms) breaks Apple's rule.
    rate_limited_until: Mutex<Option<i64>>,
    early_retries: AtomicUsize,
    test_mode: Mutex<TestMode>,
    test_chain: Mutex<&'static DevChain>,
    tests: Mutex<HashMap<String, TestState>>,
    /// Where the TEST notification goes, and a client that trusts the daemon.
    daemon: Mutex<Option<(String, reqwest::Client)>>,
    /// When set, history requests announce themselves and wait for a permit.
    gate: Mutex<Option<(Arc<Notify>, Arc<Semaphore>)>>,
}

fn reply(status: u16, body: Value) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = StatusCode::from_u16(status).unwrap();
    r.headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    r
}

fn apple_error(status: u16, code: i64, message: &str) -> Response<Full<Bytes>> {
    reply(status, json!({"errorCode": code, "errorMessage": message}))
}

fn b64url(s: &str) -> Result<Vec<u8>, String> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|e| format!("not base64url: {e}"))
}

/// Decodes an `application/x-www-form-urlencoded` value.
fn form_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

fn page_token(index: usize) -> String {
    // Characters a query string must encode.
    format!("p{index}/x+y=")
}

impl StandIn {
    fn new(public_key: Vec<u8>) -> StandIn {
        StandIn {
            public_key,
            pages: Mutex::default(),
            faults: Mutex::default(),
            fail_from_page: Mutex::default(),
            seen: Mutex::default(),
            jwt_failures: Mutex::default(),
            rate_limited_until: Mutex::default(),
            early_retries: AtomicUsize::new(0),
            test_mode: Mutex::new(TestMode::Deliver),
            test_chain: Mutex::new(chain()),
            tests: Mutex::default(),
            daemon: Mutex::default(),
            gate: Mutex::default(),
        }
    }

    fn set_pages(&self, env: &'static str, pages: Vec<Vec<Value>>) {
        self.pages.lock().unwrap().insert(env, pages);
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn history_requests(&self) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.path == "/inApps/v1/notifications/history")
            .collect()
    }

    /// Checks the bearer token as Apple does: ES256 with the key's public half, `kid`, `typ`,
    /// `iss`, `aud`, `bid`, and a lifetime of at most an hour that covers now.
    fn check_jwt(&self, authorization: Option<&str>) -> Result<(), String> {
        let token = authorization
            .ok_or("no Authorization header")?
            .strip_prefix("Bearer ")
            .ok_or("not a bearer token")?;
        let parts: Vec<&str> = token.split('.').collect();
        let [h, c, s] = parts[..] else {
            return Err("not a compact JWS".into());
        };
        let header: Value = serde_json::from_slice(&b64url(h)?).map_err(|e| e.to_string())?;
        let claims: Value = serde_json::from_slice(&b64url(c)?).map_err(|e| e.to_string())?;
        if header != json!({"alg": "ES256", "kid": KEY_ID, "typ": "JWT"}) {
            return Err(format!("header {header}"));
        }
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &self.public_key)
            .verify(format!("{h}.{c}").as_bytes(), &b64url(s)?)
            .map_err(|_| "bad signature".to_string())?;
        for (claim, expected) in [
            ("iss", ISSUER),
            ("aud", "appstoreconnect-v1"),
            ("bid", BUNDLE),
        ] {
            if claims[claim] != json!(expected) {
                return Err(format!("{claim} is {}", claims[claim]));
            }
        }
        let (Some(iat), Some(exp)) = (claims["iat"].as_i64(), claims["exp"].as_i64()) else {
            return Err("iat and exp must be integers".into());
        };
        let now = now_ms() / 1000;
        if exp <= iat || exp - iat > 3600 {
            return Err(format!("lifetime {} s", exp - iat));
        }
        if iat > now + 60 || exp <= now {
            return Err(format!("not valid now: iat {iat}, exp {exp}, now {now}"));
        }
        Ok(())
    }

    async fn handle(self: Arc<Self>, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let (parts, body) = req.into_parts();
        let body = body
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let full = parts.uri.path().to_string();
        let (env, path) = if let Some(p) = full.strip_prefix("/production") {
            ("production", p.to_string())
        } else if let Some(p) = full.strip_prefix("/sandbox") {
            ("sandbox", p.to_string())
        } else {
            return apple_error(404, 4040000, "no such environment");
        };
        let pagination_token = parts.uri.query().and_then(|q| {
            q.split('&')
                .find_map(|kv| kv.strip_prefix("paginationToken="))
                .map(form_decode)
        });
        self.seen.lock().unwrap().push(Seen {
            env,
            method: parts.method.clone(),
            path: path.clone(),
            pagination_token: pagination_token.clone(),
            body: body.clone(),
        });
        let authorization = parts
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        if let Err(why) = self.check_jwt(authorization) {
            self.jwt_failures.lock().unwrap().push(why);
            // Apple's 401 has no body.
            let mut r = Response::new(Full::new(Bytes::new()));
            *r.status_mut() = StatusCode::UNAUTHORIZED;
            return r;
        }
        match (parts.method.clone(), path.as_str()) {
            (Method::POST, "/inApps/v1/notifications/history") => {
                self.history(env, pagination_token, &body).await
            }
            (Method::POST, "/inApps/v1/notifications/test") => self.request_test(env),
            (Method::GET, p) if p.starts_with("/inApps/v1/notifications/test/") => {
                let token = p.trim_start_matches("/inApps/v1/notifications/test/");
                self.test_status(token).await
            }
            _ => apple_error(404, 4040000, "no such endpoint"),
        }
    }

    async fn history(
        &self,
        env: &'static str,
        token: Option<String>,
        body: &[u8],
    ) -> Response<Full<Bytes>> {
        {
            let mut until = self.rate_limited_until.lock().unwrap();
            if let Some(t) = until.take()
                && now_ms() < t
            {
                self.early_retries.fetch_add(1, Ordering::SeqCst);
            }
        }
        let request: Value = match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(_) => return apple_error(400, 4000000, "body is not JSON"),
        };
        let (Some(start), Some(end)) = (request["startDate"].as_i64(), request["endDate"].as_i64())
        else {
            return apple_error(400, 4000015, "Invalid start date.");
        };
        if start >= end {
            return apple_error(400, 4000013, "Start date after end date.");
        }
        let index = match token.as_deref() {
            None => 0,
            Some(t) => match (1..1000).find(|i| page_token(*i) == t) {
                Some(i) => i,
                None => return apple_error(400, 4000014, "Invalid pagination token."),
            },
        };
        let gate = self.gate.lock().unwrap().clone();
        if let Some((entered, release)) = gate {
            entered.notify_one();
            release.acquire().await.unwrap().forget();
        }
        let hard = *self.fail_from_page.lock().unwrap();
        if let Some((from, failure)) = hard
            && index >= from
        {
            return match failure {
                HardFailure::ServerErrors => {
                    apple_error(500, 5000000, "An unknown error occurred.")
                }
                HardFailure::TokenExpired => apple_error(400, 4000017, "Pagination token expired."),
            };
        }
        let fault = self
            .faults
            .lock()
            .unwrap()
            .get_mut(&index)
            .and_then(VecDeque::pop_front);
        match fault {
            Some(Fault::RateLimited(wait)) => {
                let until = now_ms() + wait.as_millis() as i64;
                *self.rate_limited_until.lock().unwrap() = Some(until);
                let mut r = apple_error(429, 4290000, "Rate limit exceeded.");
                r.headers_mut()
                    .insert("retry-after", until.to_string().parse().unwrap());
                return r;
            }
            Some(Fault::ServerError) => {
                let mut r = Response::new(Full::new(Bytes::from_static(b"upstream trouble")));
                *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                return r;
            }
            None => {}
        }
        let pages = self
            .pages
            .lock()
            .unwrap()
            .get(env)
            .cloned()
            .unwrap_or_default();
        let items = pages.get(index).cloned().unwrap_or_default();
        let has_more = index + 1 < pages.len();
        let mut answer = json!({"notificationHistory": items, "hasMore": has_more});
        if has_more {
            answer["paginationToken"] = json!(page_token(index + 1));
        }
        reply(200, answer)
    }

    fn request_test(&self, env: &'static str) -> Response<Full<Bytes>> {
        let uuid = uuid::Uuid::new_v4().to_string();
        let environment = if env == "sandbox" {
            "Sandbox"
        } else {
            "Production"
        };
        let payload = json!({
            "notificationType": "TEST", "notificationUUID": uuid, "version": "2.0",
            "signedDate": now_ms(),
            "data": {"bundleId": BUNDLE, "appAppleId": APP_ID, "environment": environment}
        });
        let jws = self.test_chain.lock().unwrap().sign(&payload);
        let token = format!("{uuid}_{}", now_ms());
        self.tests.lock().unwrap().insert(
            token.clone(),
            TestState {
                env,
                jws,
                uuid,
                polls: 0,
                attempts: None,
            },
        );
        reply(200, json!({"testNotificationToken": token}))
    }

    async fn test_status(&self, token: &str) -> Response<Full<Bytes>> {
        let (jws, first, pending) = {
            let mut tests = self.tests.lock().unwrap();
            let Some(t) = tests.get_mut(token) else {
                return apple_error(400, 4000020, "Invalid test notification token.");
            };
            t.polls += 1;
            (t.jws.clone(), t.polls == 1, t.attempts.is_none())
        };
        if first {
            // Not yet available: the client must keep asking.
            return apple_error(404, 4040008, "Test notification not found.");
        }
        if pending {
            let attempts = match *self.test_mode.lock().unwrap() {
                TestMode::Undeliverable => json!([
                    {"attemptDate": now_ms() - 2_000, "sendAttemptResult": "TIMED_OUT"},
                    {"attemptDate": now_ms() - 1_000, "sendAttemptResult": "TLS_ISSUE"},
                ]),
                TestMode::Deliver => json!(null),
            };
            let attempts = if attempts.is_null() {
                let daemon = self.daemon.lock().unwrap().clone();
                let (url, client) = daemon.expect("the daemon's URL is set");
                let result = match client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(json!({"signedPayload": jws}).to_string())
                    .send()
                    .await
                {
                    Ok(r) if r.status().is_success() => "SUCCESS",
                    Ok(_) => "UNSUCCESSFUL_HTTP_RESPONSE_CODE",
                    Err(_) => "NO_RESPONSE",
                };
                json!([{"attemptDate": now_ms(), "sendAttemptResult": result}])
            } else {
                attempts
            };
            if let Some(t) = self.tests.lock().unwrap().get_mut(token) {
                t.attempts = Some(attempts);
            }
        }
        let tests = self.tests.lock().unwrap();
        let t = &tests[token];
        reply(
            200,
            json!({"signedPayload": t.jws, "sendAttempts": t.attempts.clone().unwrap_or(json!([]))}),
        )
    }

    fn only_test(&self) -> (String, String, &'static str) {
        let tests = self.tests.lock().unwrap();
        assert_eq!(tests.len(), 1, "one test notification requested");
        let (token, t) = tests.iter().next().unwrap();
        (token.clone(), t.uuid.clone(), t.env)
    }
}

/// Serves `standin` over TLS on 127.0.0.1:0; returns its base URL and its certificate (PEM).
async fn serve(standin: Arc<StandIn>) -> (String, String) {
    let cert =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(cert.key_pair.serialize_der().into()),
        )
        .unwrap();
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let acceptor = acceptor.clone();
            let standin = standin.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = hyper::service::service_fn(move |req| {
                    let standin = standin.clone();
                    async move { Ok::<_, Infallible>(standin.handle(req).await) }
                });
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    (format!("https://127.0.0.1:{port}"), cert.cert.pem())
}

// ------------------------------------------------------------------------------------------------
// The test setup: a database, the daemon's files, the stand-in, and a configuration naming them.

struct Setup {
    fixture: Fixture,
    db: TestDb,
    standin: Arc<StandIn>,
    base: String,
    key_path: PathBuf,
    ca_path: PathBuf,
}

impl Setup {
    async fn new(backend: Backend) -> Setup {
        Setup::with_keys(backend, false).await
    }

    /// `wrong_key`: the configuration holds a key the stand-in does not know (→ 401).
    async fn with_keys(backend: Backend, wrong_key: bool) -> Setup {
        let fixture = Fixture::new();
        let db = TestDb::new(backend).await;
        let key = rcgen::KeyPair::generate().unwrap();
        let standin = Arc::new(StandIn::new(key.public_key_raw().to_vec()));
        let (base, cert_pem) = serve(standin.clone()).await;
        let configured = if wrong_key {
            rcgen::KeyPair::generate().unwrap()
        } else {
            key
        };
        let key_path = fixture.dir.path().join(format!("AuthKey_{KEY_ID}.p8"));
        std::fs::write(&key_path, configured.serialize_pem()).unwrap();
        let ca_path = fixture.dir.path().join("standin-ca.pem");
        std::fs::write(&ca_path, cert_pem).unwrap();
        Setup {
            fixture,
            db,
            standin,
            base,
            key_path,
            ca_path,
        }
    }

    /// The fixture's configuration with the stand-in as the test app's API and quiet logs.
    fn toml(&self, extra: &str) -> String {
        let api = format!(
            r#"[apps.api]
key_id = "{KEY_ID}"
issuer_id = "{ISSUER}"
private_key_path = "{p8}"
production_url = "{base}/production"
sandbox_url = "{base}/sandbox"
ca_file = "{ca}"
timeout = "10s"
[log]
level = "warn"
{extra}"#,
            p8 = self.key_path.display(),
            base = self.base,
            ca = self.ca_path.display(),
        );
        self.fixture.toml(&self.db.url, LOOPBACK, &api)
    }

    fn config(&self, extra: &str) -> Config {
        Config::from_toml_str(&self.toml(extra), Vec::<(String, String)>::new()).unwrap()
    }

    fn write_config(&self, extra: &str) -> PathBuf {
        let path = self.fixture.dir.path().join("asnd.toml");
        std::fs::write(&path, self.toml(extra)).unwrap();
        path
    }

    /// A running daemon; the stand-in delivers TEST notifications to it.
    async fn daemon(&self, extra: &str) -> Daemon {
        let daemon = Daemon::start(&self.config(extra), &self.fixture.tls_cert_der).await;
        *self.standin.daemon.lock().unwrap() =
            Some((daemon.url("/notifications"), daemon.client.clone()));
        daemon
    }

    /// A new setup and a daemon running with its default configuration.
    async fn with_daemon(backend: Backend) -> (Setup, Daemon) {
        let s = Setup::new(backend).await;
        let daemon = s.daemon("").await;
        (s, daemon)
    }

    /// Stops `daemon`, then checks what [`Setup::finish`] checks.
    async fn finish_with(self, daemon: Daemon) {
        daemon.server.shutdown().await;
        self.finish().await;
    }

    /// Runs the `asnd` binary with this setup's configuration.
    async fn cli(&self, args: &[&str]) -> (i32, String, String) {
        let config = self.write_config("");
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_asnd"))
            .args(args)
            .arg("--config")
            .arg(&config)
            .env_remove("RUST_LOG")
            .output()
            .await
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    async fn pipeline(&self) -> Pipeline {
        asnd::cli::appstore::pipeline(&self.config(""))
            .await
            .unwrap_or_else(|e| panic!("{}", e.0))
    }

    fn client(&self, environment: ApiEnvironment) -> ApiClient {
        ApiClient::for_app(&self.config("").apps[0], environment).unwrap()
    }

    /// One backfill of the Sandbox notifications from `lookback_ms` ago until now, from the start.
    async fn backfill_sandbox(&self, lookback_ms: i64) -> Result<BackfillReport, BackfillError> {
        let request = BackfillRequest {
            start_ms: now_ms() - lookback_ms,
            end_ms: now_ms(),
            ..Default::default()
        };
        let client = self.client(ApiEnvironment::Sandbox);
        backfill(&client, &self.pipeline().await, &request, None, &mut |_| {}).await
    }

    async fn finish(self) {
        assert!(
            self.standin.jwt_failures.lock().unwrap().is_empty(),
            "every request carried a valid JWT: {:?}",
            self.standin.jwt_failures.lock().unwrap()
        );
        assert_eq!(
            self.standin.early_retries.load(Ordering::SeqCst),
            0,
            "no request came before the Retry-After time"
        );
    }
}

/// Retries quickly, so that giving up takes no time.
fn quick_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        max_rate_limit_wait: Duration::from_secs(5),
    }
}

fn uuid_of(n: &Value) -> String {
    n["notificationUUID"].as_str().unwrap().to_string()
}

/// A history entry: the notification signed by `chain`, and Apple's attempts (result, ms ago).
fn entry(n: &Value, by: &DevChain, attempts: &[(&str, i64)]) -> Value {
    let now = now_ms();
    let attempts: Vec<Value> = attempts
        .iter()
        .map(|(r, ago)| json!({"attemptDate": now - ago, "sendAttemptResult": r}))
        .collect();
    json!({"signedPayload": by.sign(n), "sendAttempts": attempts})
}

fn sandbox_notifications(count: usize) -> Vec<Value> {
    let sub = Sub {
        original_transaction_id: format!("20000{}", now_ms() % 1_000_000_000),
        env: "Sandbox",
    };
    let now = now_ms();
    (0..count)
        .map(|i| {
            notification(
                "DID_RENEW",
                None,
                &sub,
                &format!("3{}{i:02}", now % 1_000_000_000),
                now - 5 * HOUR + i as i64 * 60_000,
                Some(1),
            )
        })
        .collect()
}

fn in_list(uuids: &[String]) -> String {
    uuids
        .iter()
        .map(|u| format!("'{u}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

on_both_stores!(
    backfill_stores_only_the_missing_notifications,
    interrupted_backfill_resumes,
    test_notification_delivered_and_stored,
    test_notification_not_delivered,
    test_notification_quarantined,
    reconcile_stores_a_missed_notification,
);

// ------------------------------------------------------------------------------------------------
// Backfill.

async fn backfill_stores_only_the_missing_notifications(backend: Backend) {
    let (s, daemon) = Setup::with_daemon(backend).await;
    let ns = sandbox_notifications(6);
    let uuids: Vec<String> = ns.iter().map(uuid_of).collect();
    // Two of them reached the daemon live.
    for i in [0, 4] {
        assert_eq!(daemon.post_signed(&ns[i]).await.0, 200);
    }
    let forged = &sandbox_notifications(1)[0];
    s.standin.set_pages(
        "sandbox",
        vec![
            vec![
                entry(&ns[0], chain(), &[("SUCCESS", HOUR)]),
                entry(
                    &ns[1],
                    chain(),
                    &[("TIMED_OUT", 2 * HOUR), ("TIMED_OUT", HOUR)],
                ),
                entry(&ns[2], chain(), &[]),
            ],
            vec![
                entry(&ns[3], chain(), &[("NO_RESPONSE", HOUR)]),
                entry(&ns[4], chain(), &[("SUCCESS", HOUR)]),
            ],
            vec![
                entry(&ns[5], chain(), &[("TLS_ISSUE", HOUR)]),
                entry(forged, untrusted_chain(), &[("SUCCESS", HOUR)]),
            ],
        ],
    );
    // The second page is rate limited once, then fails once, then served.
    s.standin.faults.lock().unwrap().insert(
        1,
        VecDeque::from([
            Fault::RateLimited(Duration::from_millis(300)),
            Fault::ServerError,
        ]),
    );

    let (code, stdout, stderr) = s
        .cli(&backfill_args(BUNDLE, "Sandbox", &["--since", "72h"]))
        .await;
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
    assert!(
        stdout.contains(
            "3 pages, 7 notifications: 4 new, 2 duplicate, 1 rejected; 6 delivery attempts recorded"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("rejected {}: ", uuid_of(forged))),
        "{stdout}"
    );

    // Stored once each; the backfilled ones say where they came from.
    assert_eq!(s.db.count("notifications").await, 6);
    let sources =
        s.db.column("SELECT source_address FROM notifications ORDER BY signed_date")
            .await;
    assert_eq!(
        sources,
        [
            "127.0.0.1",
            "app-store-server-api",
            "app-store-server-api",
            "app-store-server-api",
            "127.0.0.1",
            "app-store-server-api"
        ]
    );
    // Apple's attempts, for every verified notification (also those already stored).
    assert_eq!(s.db.count("delivery_attempts").await, 6);
    assert_eq!(
        s.db.column(&format!(
            "SELECT send_attempt_result FROM delivery_attempts WHERE notification_uuid = '{}' ORDER BY attempt_date",
            uuids[1]
        ))
        .await,
        ["TIMED_OUT", "TIMED_OUT"]
    );
    assert_eq!(
        s.db.number(&format!(
            "SELECT COUNT(*) FROM delivery_attempts WHERE notification_uuid NOT IN ({})",
            in_list(&uuids)
        ))
        .await,
        0,
        "no attempts recorded for the forged notification"
    );
    // The forged one is in quarantine, findable by the UUID it claims.
    assert_eq!(
        s.db.column(
            "SELECT source_address || ' ' || notification_uuid FROM rejected_notifications"
        )
        .await,
        [format!("app-store-server-api {}", uuid_of(forged))]
    );
    // Every page was asked for with the same body; the second one three times (429, 500, 200).
    let history = s.standin.history_requests();
    assert_eq!(history.len(), 5);
    assert!(history.iter().all(|h| h.body == history[0].body));
    let body: Value = serde_json::from_slice(&history[0].body).unwrap();
    assert!(body["startDate"].as_i64().unwrap() < body["endDate"].as_i64().unwrap());
    assert!(body.get("onlyFailures").is_none(), "{body}");
    let tokens: Vec<Option<String>> = history.iter().map(|h| h.pagination_token.clone()).collect();
    assert_eq!(
        tokens,
        [
            None,
            Some(page_token(1)),
            Some(page_token(1)),
            Some(page_token(1)),
            Some(page_token(2))
        ]
    );

    // Running it again changes nothing but the counts.
    let report = s.backfill_sandbox(72 * HOUR).await.unwrap();
    assert_eq!(
        (
            report.pages,
            report.new,
            report.duplicate,
            report.rejected,
            report.attempts_recorded
        ),
        (3, 0, 6, 1, 0)
    );
    assert_eq!(s.db.count("notifications").await, 6);
    assert_eq!(s.db.count("delivery_attempts").await, 6);
    s.finish_with(daemon).await;
}

async fn interrupted_backfill_resumes(backend: Backend) {
    let s = Setup::new(backend).await;
    let ns = sandbox_notifications(6);
    let uuids: Vec<String> = ns.iter().map(uuid_of).collect();
    s.standin.set_pages(
        "sandbox",
        ns.chunks(2)
            .map(|pair| {
                pair.iter()
                    .map(|n| entry(n, chain(), &[("TIMED_OUT", HOUR)]))
                    .collect()
            })
            .collect(),
    );
    // Apple fails hard from the third page on.
    *s.standin.fail_from_page.lock().unwrap() = Some((2, HardFailure::ServerErrors));
    let client = s.client(ApiEnvironment::Sandbox).with_retry(quick_retry());
    let pipeline = s.pipeline().await;
    let request = BackfillRequest {
        start_ms: now_ms() - 72 * HOUR,
        end_ms: now_ms(),
        ..Default::default()
    };
    let run = |token: Option<String>| {
        let (client, pipeline, request) = (client.clone(), pipeline.clone(), request.clone());
        async move { backfill(&client, &pipeline, &request, token, &mut |_| {}).await }
    };

    let Err(BackfillError::Interrupted {
        report,
        resume_token,
        cause,
    }) = run(None).await
    else {
        panic!("the run must stop at the third page");
    };
    assert_eq!((report.pages, report.new, report.duplicate), (2, 4, 0));
    assert_eq!(resume_token, Some(page_token(2)));
    match &cause {
        Cause::Api(ApiError::GaveUp { attempts, last }) => {
            assert_eq!(*attempts, 3);
            assert!(
                last.to_string().contains("GeneralInternalError (5000000)"),
                "{last}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(s.db.count("notifications").await, 4);

    // Apple recovers; the same run again completes, and stores everything once.
    *s.standin.fail_from_page.lock().unwrap() = None;
    let report = run(None).await.unwrap();
    assert_eq!((report.pages, report.new, report.duplicate), (3, 2, 4));
    assert_eq!(s.db.count("notifications").await, 6);
    assert_eq!(
        s.db.number(&format!(
            "SELECT COUNT(DISTINCT notification_uuid) FROM notifications WHERE notification_uuid IN ({})",
            in_list(&uuids)
        ))
        .await,
        6
    );
    assert_eq!(s.db.count("delivery_attempts").await, 6);
    // Or continue from where it stopped: only the third page is fetched.
    let before = s.standin.history_requests().len();
    let report = run(resume_token).await.unwrap();
    assert_eq!((report.pages, report.new, report.duplicate), (1, 0, 2));
    let after = s.standin.history_requests();
    assert_eq!(after.len(), before + 1);
    assert_eq!(after[before].pagination_token, Some(page_token(2)));

    // The command line says how to go on when Apple refuses to.
    *s.standin.fail_from_page.lock().unwrap() = Some((2, HardFailure::TokenExpired));
    let (code, stdout, stderr) = s
        .cli(&backfill_args(
            BUNDLE,
            "sandbox",
            &["--since", "72h", "--only-failures"],
        ))
        .await;
    assert_eq!(code, 1, "stdout: {stdout}\nstderr: {stderr}");
    assert!(
        stdout.contains("2 pages, 4 notifications: 0 new, 4 duplicate, 0 rejected"),
        "{stdout}"
    );
    assert!(
        stderr.contains(
            "interrupted on page 3: Sandbox API: HTTP 400: PaginationTokenExpiredError (4000017): Pagination token expired."
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains(" --only-failures --pagination-token p2/x+y="),
        "{stderr}"
    );
    assert!(stderr.contains("re-run the same command"), "{stderr}");
    s.finish().await;
}

/// `backfill --app <app> --environment <environment>`, then `more`.
fn backfill_args<'a>(app: &'a str, environment: &'a str, more: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["backfill", "--app", app, "--environment", environment];
    args.extend(more);
    args
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_backfill_arguments_are_refused_before_asking_apple() {
    let s = Setup::new(Backend::Sqlite).await;
    for (args, expected) in [
        (
            vec!["--since", "yesterday"],
            "--since: \"yesterday\" is neither an RFC 3339 time",
        ),
        (
            vec!["--since", "40days"],
            "Apple keeps 30 days of Sandbox history",
        ),
        (
            vec!["--since", "1h", "--until", "2h"],
            "must be before the end",
        ),
    ] {
        let (code, _, stderr) = s.cli(&backfill_args(BUNDLE, "Sandbox", &args)).await;
        assert_eq!(code, 2, "{stderr}");
        assert!(stderr.contains(expected), "{stderr}");
    }
    let (code, _, stderr) = s
        .cli(&backfill_args("com.other", "Sandbox", &["--since", "1h"]))
        .await;
    assert_eq!(code, 2);
    assert!(
        stderr.contains("no [[apps]] entry has bundle_id \"com.other\""),
        "{stderr}"
    );
    let (code, _, stderr) = s
        .cli(&backfill_args(BUNDLE, "Xcode", &["--since", "1h"]))
        .await;
    assert_eq!(code, 2);
    assert!(stderr.contains("use Production or Sandbox"), "{stderr}");
    assert!(s.standin.seen().is_empty(), "Apple was never asked");
    s.finish().await;
}

// ------------------------------------------------------------------------------------------------
// Test notifications.

fn test_args() -> Vec<&'static str> {
    vec![
        "test-notification",
        "--app",
        BUNDLE,
        "--environment",
        "Sandbox",
        "--poll-interval",
        "100ms",
        "--wait",
        "30s",
    ]
}

/// Runs `asnd test-notification` with this setup and asserts its exit `code`; its stdout and stderr.
async fn test_notification(s: &Setup, code: i32) -> (String, String) {
    let (got, stdout, stderr) = s.cli(&test_args()).await;
    assert_eq!(got, code, "stdout: {stdout}\nstderr: {stderr}");
    (stdout, stderr)
}

async fn test_notification_delivered_and_stored(backend: Backend) {
    let (s, daemon) = Setup::with_daemon(backend).await;
    let (stdout, _) = test_notification(&s, 0).await;
    let (token, uuid, env) = s.standin.only_test();
    assert_eq!(env, "sandbox");
    let first = stdout.lines().next().unwrap();
    assert!(
        first.starts_with(&format!(
            "delivered and stored: TEST notification {uuid} (Sandbox) was stored at "
        )) && first.ends_with(" from 127.0.0.1"),
        "{stdout}"
    );
    assert!(stdout.contains(" SUCCESS"), "{stdout}");
    assert_eq!(
        s.db.column(&format!(
            "SELECT notification_type FROM notifications WHERE notification_uuid = '{uuid}'"
        ))
        .await,
        ["TEST"]
    );
    assert_eq!(
        s.db.column(&format!(
            "SELECT send_attempt_result FROM delivery_attempts WHERE notification_uuid = '{uuid}'"
        ))
        .await,
        ["SUCCESS"]
    );
    // The flow as Apple saw it: one request, then the status until an attempt was reported
    // (the first answer is "not found yet").
    let seen: Vec<(Method, String)> = s
        .standin
        .seen()
        .into_iter()
        .map(|r| (r.method, r.path))
        .collect();
    let status_path = format!("/inApps/v1/notifications/test/{token}");
    assert_eq!(
        seen,
        [
            (Method::POST, "/inApps/v1/notifications/test".to_string()),
            (Method::GET, status_path.clone()),
            (Method::GET, status_path.clone()),
        ]
    );
    // Following the same token again gives the same verdict without a new test notification.
    let mut again = test_args();
    again.extend(["--token", token.as_str()]);
    let (code, stdout, _) = s.cli(&again).await;
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.starts_with("delivered and stored: "), "{stdout}");
    assert_eq!(s.standin.tests.lock().unwrap().len(), 1);
    s.finish_with(daemon).await;
}

async fn test_notification_not_delivered(backend: Backend) {
    let (s, daemon) = Setup::with_daemon(backend).await;
    *s.standin.test_mode.lock().unwrap() = TestMode::Undeliverable;
    let (stdout, _) = test_notification(&s, 1).await;
    let (_, uuid, _) = s.standin.only_test();
    assert!(
        stdout.starts_with(&format!(
            "not delivered: Apple could not deliver TEST notification {uuid} (Sandbox)\n  Apple's attempts: "
        )),
        "{stdout}"
    );
    assert!(stdout.contains(" TIMED_OUT, "), "{stdout}");
    assert!(
        stdout.contains("\n  TIMED_OUT: asnd did not answer in time"),
        "{stdout}"
    );
    assert!(
        stdout.contains("\n  TLS_ISSUE: the TLS handshake failed"),
        "{stdout}"
    );
    assert_eq!(s.db.count("notifications").await, 0);
    assert_eq!(
        s.db.column("SELECT send_attempt_result FROM delivery_attempts ORDER BY attempt_date")
            .await,
        ["TIMED_OUT", "TLS_ISSUE"]
    );
    s.finish_with(daemon).await;
}

async fn test_notification_quarantined(backend: Backend) {
    let (s, daemon) = Setup::with_daemon(backend).await;
    // Apple signs with a chain this daemon does not trust.
    *s.standin.test_chain.lock().unwrap() = untrusted_chain();
    let (stdout, _) = test_notification(&s, 1).await;
    let (_, uuid, _) = s.standin.only_test();
    let reason =
        s.db.column("SELECT reason FROM rejected_notifications")
            .await
            .remove(0);
    assert!(
        stdout.starts_with(&format!(
            "delivered but not stored: asnd refused TEST notification {uuid} (Sandbox) with HTTP 422: {reason}\n  quarantined at "
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(" UNSUCCESSFUL_HTTP_RESPONSE_CODE"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Apple's copy does not verify with this configuration either: "),
        "{stdout}"
    );
    assert_eq!(
        s.db.column("SELECT notification_uuid FROM rejected_notifications")
            .await,
        [uuid]
    );
    assert_eq!(s.db.count("notifications").await, 0);
    assert_eq!(
        s.db.count("delivery_attempts").await,
        0,
        "attempts are kept for verified notifications only"
    );
    s.finish_with(daemon).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unauthorized_is_reported_clearly() {
    let s = Setup::with_keys(Backend::Sqlite, true).await;
    let (_, stderr) = test_notification(&s, 2).await;
    assert!(
        stderr.contains(
            "Sandbox API: 401 unauthorized: check key_id, issuer_id, bundle id and the key; \
             production returns 401 until the app is approved"
        ),
        "{stderr}"
    );
    assert_eq!(s.standin.seen().len(), 1, "a 401 is not retried");
    assert_eq!(
        s.standin.jwt_failures.lock().unwrap().as_slice(),
        ["bad signature"]
    );
    let err = s.backfill_sandbox(HOUR).await.unwrap_err();
    assert!(
        matches!(&err, BackfillError::Interrupted { cause: Cause::Api(e), .. } if e.is_unauthorized()),
        "{err:?}"
    );
    assert!(err.to_string().contains("401 unauthorized"), "{err}");
}

// ------------------------------------------------------------------------------------------------
// Reconciliation.

async fn reconcile_stores_a_missed_notification(backend: Backend) {
    let s = Setup::new(backend).await;
    let missed = &sandbox_notifications(1)[0];
    s.standin.set_pages(
        "sandbox",
        vec![vec![entry(missed, chain(), &[("TIMED_OUT", HOUR)])]],
    );
    let daemon = s
        .daemon("[reconcile]\nenabled = true\ninterval = \"200ms\"\nlookback = \"72h\"\n[admin]\nlisten = \"127.0.0.1:0\"\n")
        .await;
    let stats = daemon.server.reconcile_stats();
    wait_for(
        "reconciliation runs twice",
        Duration::from_secs(60),
        || async { (stats.snapshot().runs >= 2).then_some(()) },
    )
    .await;
    // The counts are exported on the admin listener.
    let admin = daemon.server.admin_addr().unwrap();
    let metrics = fetch_text(&format!("http://{admin}/metrics")).await;
    assert!(
        metrics.contains("asnd_reconcile_total{result=\"new\"} 1\n"),
        "{metrics}"
    );
    daemon.server.shutdown().await;
    let snapshot = stats.snapshot();
    assert_eq!(snapshot.new, 1, "{snapshot:?}");
    assert!(
        snapshot.duplicate >= 1,
        "later runs find it stored: {snapshot:?}"
    );
    assert_eq!((snapshot.rejected, snapshot.errors), (0, 0), "{snapshot:?}");
    assert!(snapshot.last_run_ms > now_ms() - 60_000, "{snapshot:?}");
    assert_eq!(
        s.db.column(&format!(
            "SELECT source_address FROM notifications WHERE notification_uuid = '{}'",
            uuid_of(missed)
        ))
        .await,
        ["app-store-server-api"]
    );
    assert_eq!(s.db.count("notifications").await, 1);
    // Both environments were asked, for failures only.
    let history = s.standin.history_requests();
    assert!(history.iter().any(|h| h.env == "production"));
    assert!(history.iter().any(|h| h.env == "sandbox"));
    for h in &history {
        let body: Value = serde_json::from_slice(&h.body).unwrap();
        assert_eq!(body["onlyFailures"], json!(true), "{body}");
        let lookback = body["endDate"].as_i64().unwrap() - body["startDate"].as_i64().unwrap();
        assert_eq!(lookback, 72 * HOUR);
    }
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn on_postgres_only_one_reconciler_runs_at_a_time() {
    if common::skip_without_postgres("on_postgres_only_one_reconciler_runs_at_a_time").await {
        return;
    }
    let s = Setup::new(Backend::Postgres).await;
    let missed = &sandbox_notifications(1)[0];
    s.standin.set_pages(
        "sandbox",
        vec![vec![entry(missed, chain(), &[("TIMED_OUT", HOUR)])]],
    );
    let config = s.config("[reconcile]\nenabled = true\n");
    // Two replicas: each with its own pool on the same database.
    let replica = |stats: Arc<ReconcileStats>| {
        let config = config.clone();
        async move {
            let pipeline = asnd::cli::appstore::pipeline(&config)
                .await
                .unwrap_or_else(|e| panic!("{}", e.0));
            Reconciler::from_config(&config, pipeline, stats)
                .unwrap()
                .with_retry(quick_retry())
        }
    };
    let (stats_a, stats_b) = (
        Arc::new(ReconcileStats::default()),
        Arc::new(ReconcileStats::default()),
    );
    let a = replica(stats_a.clone()).await;
    let b = replica(stats_b.clone()).await;

    // A holds the lock while Apple keeps it waiting.
    let entered = Arc::new(Notify::new());
    let release = Arc::new(Semaphore::new(0));
    *s.standin.gate.lock().unwrap() = Some((entered.clone(), release.clone()));
    let running = tokio::spawn(async move { a.run_once().await });
    tokio::time::timeout(Duration::from_secs(30), entered.notified())
        .await
        .expect("A reached Apple");
    // (Bounded: a B that did not see the lock would wait at Apple's gate.)
    let b_outcome = tokio::time::timeout(Duration::from_secs(30), b.run_once())
        .await
        .expect("B must not wait for Apple: A holds the lock");
    assert_eq!(b_outcome, RunOutcome::Skipped);
    assert_eq!(stats_b.snapshot().skipped, 1);
    assert_eq!(s.standin.history_requests().len(), 1, "B never asked Apple");

    *s.standin.gate.lock().unwrap() = None;
    release.add_permits(1);
    let RunOutcome::Ran { report, errors } = running.await.unwrap() else {
        panic!("A ran");
    };
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(report.new, 1);
    assert_eq!((stats_a.snapshot().runs, stats_a.snapshot().new), (1, 1));
    // Released: B's next run goes ahead.
    let RunOutcome::Ran { report, .. } = b.run_once().await else {
        panic!("B ran once A was done");
    };
    assert_eq!((report.new, report.duplicate), (0, 1));
    assert_eq!(stats_b.snapshot().runs, 1);
    assert_eq!(s.db.count("notifications").await, 1);

    // A holder that disappears without releasing (a cancelled run) does not keep the lock.
    let store = s.db.store().await;
    let held = store
        .try_lock(asnd::store::RECONCILE_LOCK_KEY)
        .await
        .unwrap()
        .expect("free");
    assert!(
        store
            .try_lock(asnd::store::RECONCILE_LOCK_KEY)
            .await
            .unwrap()
            .is_none(),
        "held by the other session"
    );
    drop(held);
    let lock = wait_for("the lock is freed", Duration::from_secs(30), || async {
        store
            .try_lock(asnd::store::RECONCILE_LOCK_KEY)
            .await
            .unwrap()
    })
    .await;
    lock.release().await;
    store.close().await;
    s.finish().await;
}
