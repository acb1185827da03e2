//! The operator console and the alerting pack, end to end: the real daemon with `[admin] console
//! = true`, its pages over HTTP on both stores, and in a real headless Chromium (Debian's
//! `chromium` driven through `chromedriver` by fantoccini). Without Chromium the browser tests
//! are skipped with a line that says so, unless `ASND_REQUIRE_BROWSER=1` (set by CI) makes that
//! a failure. The browser tests write a screenshot of each page into
//! `$ASND_CONSOLE_SCREENSHOTS` (by default `target/tmp/console-screenshots`).

#[macro_use]
mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use asnd::config::Config;
use asnd::simulate::{Event, Generator, Scenario, Target};
use common::*;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

const TOKEN: &str = "console-test-token-0123456789";
const SECOND_BUNDLE: &str = "com.example.second";

/// The `[admin]` table of a console on a free port.
fn admin_toml() -> String {
    format!("[admin]\nlisten = \"127.0.0.1:0\"\nconsole = true\ntoken = \"{TOKEN}\"\n")
}

/// A destination at `receiver` that gives up at the first failure.
fn destination(receiver: &Receiver) -> String {
    format!(
        "[[destinations]]\nname = \"backend\"\nurl = \"{}\"\nsecrets = [\"whsec_{}\"]\n\
         timeout = \"2s\"\nmax_attempts = 1\n",
        receiver.url,
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "backend key"),
    )
}

/// A daemon with the console on, and plain HTTP clients for its admin listener.
struct Console {
    fixture: Fixture,
    db: TestDb,
    daemon: Daemon,
    /// `http://localhost:<admin port>`.
    base: String,
    /// Follows no redirect and keeps no cookie: each request shows exactly what it gets.
    http: reqwest::Client,
}

impl Console {
    async fn start(backend: Backend, extra: &str) -> Console {
        let fixture = Fixture::new();
        let db = TestDb::new(backend).await;
        Console::on(fixture, db, extra).await
    }

    /// A daemon on `db` (used before, perhaps) with `extra` appended to the configuration.
    async fn on(fixture: Fixture, db: TestDb, extra: &str) -> Console {
        let text = fixture.toml(&db.url, LOOPBACK, &format!("{}{extra}", admin_toml()));
        let config = Config::from_toml_str(&text, Vec::<(String, String)>::new()).unwrap();
        let daemon = Daemon::start(&config, &fixture.tls_cert_der).await;
        let port = daemon.server.admin_addr().expect("admin listener").port();
        Console {
            fixture,
            db,
            daemon,
            base: format!("http://localhost:{port}"),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .resolve("localhost", "127.0.0.1:0".parse().unwrap())
                .build()
                .unwrap(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A page fetched as a script would, with the bearer token: status and body.
    async fn get(&self, path: &str) -> (u16, String) {
        let response = self
            .http
            .get(self.url(path))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    async fn stop(self) -> (Fixture, TestDb) {
        self.daemon.server.shutdown().await;
        (self.fixture, self.db)
    }
}

/// The `lifecycle` scenario (six notifications of one subscription), each answered 200.
async fn post_lifecycle(daemon: &Daemon, target: &Target) -> Vec<Event> {
    let scenario = Generator::new(target.clone()).scenario(Scenario::Lifecycle, now_ms());
    for event in &scenario {
        let body = event.body(target, Some(chain()), None).unwrap();
        let (status, answer) = daemon.post(body).await;
        assert_eq!(status, 200, "{answer}");
    }
    scenario
}

/// What a browser would run if the console let it: a quarantined body from an allowed source.
const HOSTILE: &str = r#"{"signedPayload": "<script>window.__asnd_pwned = 1</script><img src=x onerror=\"window.__asnd_pwned = 2\">"}"#;

/// The rows of the table `id`, without its header.
fn table_rows<'a>(html: &'a str, id: &str) -> Vec<&'a str> {
    let start = html
        .find(&format!("<table id=\"{id}\">"))
        .unwrap_or_else(|| panic!("no table {id} in {html}"));
    let table = &html[start..start + html[start..].find("</table>").unwrap()];
    table.split("<tr>").skip(2).collect()
}

/// Every page, fetched with the token, shows what the lifecycle stored.
async fn pages_show_what_is_stored(backend: Backend) {
    let c = Console::start(backend, "").await;
    let target = Target::default();
    let scenario = post_lifecycle(&c.daemon, &target).await;
    assert_eq!(c.daemon.post(HOSTILE).await.0, 400);
    let otid = scenario[0].original_transaction_id.clone().unwrap();
    let token =
        c.db.one("SELECT app_account_token FROM transactions LIMIT 1")
            .await;

    let (status, overview) = c.get("/").await;
    assert_eq!(status, 200, "{overview}");
    let activity = table_rows(&overview, "activity");
    assert_eq!(activity.len(), 1, "{overview}");
    assert!(activity[0].contains("com.example.app") && activity[0].contains("Sandbox"));
    assert!(
        activity[0].contains("<td class=\"count\">6</td>"),
        "{overview}"
    );
    let bars: i64 = overview
        .split("data-count=\"")
        .skip(1)
        .map(|s| s[..s.find('"').unwrap()].parse::<i64>().unwrap())
        .sum();
    assert_eq!(bars, 6, "the chart's bars add up to the six stored");
    assert!(
        overview.contains("<span id=\"quarantine-rows\">1</span>"),
        "{overview}"
    );

    for q in [otid.as_str(), token.as_str()] {
        let (status, found) = c.get(&format!("/notifications?q={q}")).await;
        assert_eq!(status, 200);
        assert_eq!(table_rows(&found, "results").len(), 6, "q={q}: {found}");
    }
    let (_, renewals) = c.get("/notifications?type=DID_RENEW").await;
    assert_eq!(table_rows(&renewals, "results").len(), 3);
    let (_, by_uuid) = c
        .get(&format!("/notifications?q={}", scenario[2].uuid))
        .await;
    assert_eq!(table_rows(&by_uuid, "results").len(), 1);
    let (_, none) = c.get("/notifications?q=nothing-has-this-id").await;
    assert!(none.contains("No stored notification matches"), "{none}");
    let (status, bad) = c.get("/notifications?since=yesterday-ish").await;
    assert_eq!(status, 400, "{bad}");
    assert!(bad.contains("since:"), "{bad}");

    let (status, one) = c.get(&format!("/notifications/{}", scenario[0].uuid)).await;
    assert_eq!(status, 200, "{one}");
    assert!(one.contains("<td id=\"verified-by\">sha256:"), "{one}");
    let chains = table_rows(&one, "chains");
    assert_eq!(
        chains.len(),
        3,
        "signedPayload and its two nested payloads: {one}"
    );
    assert!(chains.iter().all(|row| row.matches("<div>").count() == 3));
    assert!(one.contains("&quot;notificationType&quot;: &quot;SUBSCRIBED&quot;"));
    let (status, _) = c.get("/notifications/no-such-uuid").await;
    assert_eq!(status, 404);

    let (status, subscription) = c.get(&format!("/subscriptions/{otid}")).await;
    assert_eq!(status, 200, "{subscription}");
    let timeline = table_rows(&subscription, "timeline");
    let uuids: Vec<&str> = scenario.iter().map(|e| e.uuid.as_str()).collect();
    let shown: Vec<&str> = timeline
        .iter()
        .map(|row| *uuids.iter().find(|u| row.contains(**u)).unwrap())
        .collect();
    assert_eq!(shown, uuids, "in signedDate order");
    assert!(timeline[5].contains("2 expired") && timeline[5].contains("status changed"));
    assert!(!timeline[4].contains("status changed"));
    assert!(subscription.contains("<td id=\"status\">2 expired</td>"));

    let (status, quarantine) = c.get("/quarantine").await;
    assert_eq!(status, 200);
    assert!(!quarantine.contains("<script>window") && !quarantine.contains("<img src=x"));
    assert!(quarantine.contains("&lt;script&gt;window.__asnd_pwned = 1&lt;/script&gt;"));
    let (status, deliveries) = c.get("/deliveries").await;
    assert_eq!(
        (status, deliveries.contains("Nothing pending or dead")),
        (200, true)
    );

    // The notification listener serves no console, even with the token.
    for path in ["/", "/quarantine", "/login", "/deliveries"] {
        let answer = c
            .daemon
            .client
            .get(c.daemon.url(path))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status().as_u16(), 404, "{path}");
    }
    c.stop().await;
}

on_both_stores!(pages_show_what_is_stored);

/// How many quarantine rows were reprocessed (have a `reprocess_result`).
async fn reprocessed(db: &TestDb) -> i64 {
    db.number("SELECT COUNT(*) FROM rejected_notifications WHERE reprocess_result IS NOT NULL")
        .await
}

/// Every page and action, without the token, sends to the login; a POST from another origin, or
/// with the cookie but not the form's CSRF token, is refused; scripts use the bearer token.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_the_token_nothing_is_reachable() {
    let c = Console::start(Backend::Sqlite, "").await;
    assert_eq!(c.daemon.post(HOSTILE).await.0, 400);
    let pages = [
        "/",
        "/notifications?q=x",
        "/notifications/some-uuid",
        "/subscriptions/1000000",
        "/quarantine",
        "/deliveries",
    ];
    for page in pages {
        for auth in [None, Some("Bearer wrong-token-0123456789"), Some(TOKEN)] {
            let mut request = c.http.get(c.url(page));
            if let Some(auth) = auth {
                request = request.header("authorization", auth);
            }
            let answer = request.send().await.unwrap();
            assert_eq!(answer.status().as_u16(), 303, "{page} {auth:?}");
            let location = answer.headers()["location"].to_str().unwrap();
            assert!(
                location.starts_with("/login?next=%2F"),
                "{page}: {location}"
            );
        }
    }
    for action in ["/quarantine/reprocess", "/deliveries/retry", "/logout"] {
        let answer = c
            .http
            .post(c.url(action))
            .form(&[("id", "1")])
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status().as_u16(), 303, "{action}");
        assert_eq!(answer.headers()["location"], "/login?next=%2F");
    }
    assert_eq!(reprocessed(&c.db).await, 0);

    // A wrong token at the login: 401 and no cookie.
    let wrong = c
        .http
        .post(c.url("/login"))
        .form(&[("token", "not-the-token-at-all"), ("next", "/")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status().as_u16(), 401);
    assert!(wrong.headers().get("set-cookie").is_none());
    // The right one: a session cookie, HttpOnly and SameSite=Strict, and back to `next`.
    let login = c
        .http
        .post(c.url("/login"))
        .form(&[("token", TOKEN), ("next", "/quarantine")])
        .send()
        .await
        .unwrap();
    assert_eq!(login.status().as_u16(), 303);
    assert_eq!(login.headers()["location"], "/quarantine");
    let set_cookie = login.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"));
    assert!(!set_cookie.contains(TOKEN), "the cookie is not the token");
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let (status, page) = {
        let r = c
            .http
            .get(c.url("/quarantine"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    };
    assert_eq!(status, 200);
    let csrf = {
        let at = page.find("name=\"csrf\" value=\"").unwrap() + 19;
        page[at..at + page[at..].find('"').unwrap()].to_owned()
    };
    let id = c.db.one("SELECT id FROM rejected_notifications").await;
    let post = |form: Vec<(&'static str, String)>, origin: Option<&'static str>| {
        let mut request = c
            .http
            .post(c.url("/quarantine/reprocess"))
            .header("cookie", &cookie)
            .form(&form);
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        async move { request.send().await.unwrap().status().as_u16() }
    };
    let with_csrf = vec![("csrf", csrf.clone()), ("id", id.clone())];
    assert_eq!(
        post(with_csrf.clone(), Some("http://evil.example")).await,
        403
    );
    assert_eq!(
        post(vec![("id", id.clone())], None).await,
        403,
        "no CSRF token"
    );
    assert_eq!(
        post(vec![("csrf", "forged".into()), ("id", id.clone())], None).await,
        403
    );
    // A form that does not parse is refused before anything runs, with its token right.
    assert_eq!(
        post(
            vec![("csrf", csrf.clone()), ("id", "not-a-number".into())],
            None
        )
        .await,
        422,
        "an id that is not a number"
    );
    assert_eq!(reprocessed(&c.db).await, 0);
    let origin: &'static str = Box::leak(c.base.clone().into_boxed_str());
    assert_eq!(
        post(with_csrf, Some(origin)).await,
        303,
        "from the console itself"
    );
    assert_eq!(reprocessed(&c.db).await, 1);
    // Scripts: the bearer token and no CSRF token.
    let scripted = c
        .http
        .post(c.url("/deliveries/retry"))
        .bearer_auth(TOKEN)
        .form(&[("destination", "backend")])
        .send()
        .await
        .unwrap();
    assert_eq!(scripted.status().as_u16(), 303);
    assert!(
        scripted.headers()["location"]
            .to_str()
            .unwrap()
            .contains("Retried%3A%200")
    );
    c.stop().await;
}

#[tokio::test]
async fn the_console_without_a_token_refuses_to_start() {
    let fixture = Fixture::new();
    let text = fixture.toml(
        "sqlite::memory:",
        LOOPBACK,
        "[admin]\nlisten = \"127.0.0.1:0\"\nconsole = true\n",
    );
    let config = Config::from_toml_str(&text, Vec::<(String, String)>::new()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let error = asnd::server::Server::start(&config, listener)
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(
        error.contains("admin.token: must be set when admin.console = true"),
        "{error}"
    );
}

/// The metric names in `text` (`asnd_...`), as the exposition declares them (`# TYPE` lines):
/// a counter's `_total` and a histogram's `_bucket`, `_sum` and `_count` are its samples.
fn exported(exposition: &str) -> Vec<String> {
    exposition
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

fn metric_names(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = expr;
    while let Some(at) = rest.find("asnd_") {
        let name: String = rest[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        rest = &rest[at + name.len()..];
        names.push(name);
    }
    names
}

fn is_exported(name: &str, exported: &[String]) -> bool {
    let base = ["_total", "_bucket", "_sum", "_count"]
        .iter()
        .find_map(|s| name.strip_suffix(s))
        .unwrap_or(name);
    exported.iter().any(|e| e == name || e == base)
}

/// The certificate's expiry and readiness are exported, and every metric the dashboard and the
/// alert rules use is one the daemon exports.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_and_the_alerts_use_what_the_daemon_exports() {
    let c = Console::start(Backend::Sqlite, "").await;
    let exposition = fetch_text(&c.url("/metrics")).await;
    let (_, cert) = x509_parser::parse_x509_certificate(&c.fixture.tls_cert_der).unwrap();
    let expiry = format!(
        "asnd_tls_certificate_expiry_timestamp_seconds {}",
        cert.validity().not_after.timestamp()
    );
    assert!(
        exposition.lines().any(|l| l == expiry),
        "{expiry} in {exposition}"
    );
    assert!(
        exposition.lines().any(|l| l == "asnd_ready 1"),
        "{exposition}"
    );
    let exported = exported(&exposition);

    // A renewed certificate (SIGHUP reloads the files) shows at the next scrape.
    let mut params = rcgen::CertificateParams::new(vec!["localhost".into()]).unwrap();
    let not_after = time::OffsetDateTime::now_utc() + time::Duration::days(10);
    params.not_after = not_after;
    let key = rcgen::KeyPair::generate().unwrap();
    let renewed = params.self_signed(&key).unwrap();
    std::fs::write(&c.fixture.tls_cert, renewed.pem()).unwrap();
    std::fs::write(&c.fixture.tls_key, key.serialize_pem()).unwrap();
    c.daemon.server.reload_tls().unwrap();
    let after = fetch_text(&c.url("/metrics")).await;
    let renewed_expiry = format!(
        "asnd_tls_certificate_expiry_timestamp_seconds {}",
        not_after.unix_timestamp()
    );
    assert!(
        after.lines().any(|l| l == renewed_expiry),
        "{renewed_expiry} in {after}"
    );

    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("deploy/grafana/asnd.json")).unwrap(),
    )
    .expect("deploy/grafana/asnd.json is JSON");
    assert_eq!(dashboard["uid"], "asnd");
    let panels = dashboard["panels"].as_array().expect("panels");
    assert!(panels.len() >= 10);
    let mut ids: Vec<i64> = panels.iter().map(|p| p["id"].as_i64().unwrap()).collect();
    ids.dedup();
    assert_eq!(ids.len(), panels.len(), "panel ids are unique");
    let mut used = Vec::new();
    for panel in panels {
        let targets = panel["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "{}", panel["title"]);
        for t in targets {
            used.extend(metric_names(t["expr"].as_str().expect("expr")));
        }
    }
    let rules = std::fs::read_to_string(root.join("deploy/prometheus/alerts.yml")).unwrap();
    let yaml = yaml_rust2::YamlLoader::load_from_str(&rules).expect("alerts.yml is YAML");
    let mut alerts = Vec::new();
    for rule in yaml[0]["groups"][0]["rules"].as_vec().unwrap() {
        alerts.push(rule["alert"].as_str().unwrap().to_owned());
        used.extend(metric_names(rule["expr"].as_str().unwrap()));
    }
    assert_eq!(alerts.len(), 8, "{alerts:?}");
    for name in &used {
        assert!(
            is_exported(name, &exported),
            "{name} is not exported: {exported:?}"
        );
    }
    for metric in [
        "asnd_last_stored_notification_timestamp_seconds",
        "asnd_tls_certificate_expiry_timestamp_seconds",
        "asnd_ready",
        "asnd_deliveries_dead",
    ] {
        assert!(used.iter().any(|u| u == metric), "{metric} is used");
    }
    c.stop().await;
}

// ---- In a real browser -------------------------------------------------------------------------

/// A headless Chromium driven through its own chromedriver.
struct Browser {
    client: Client,
    _driver: Driver,
    _profile: tempfile::TempDir,
}

/// chromedriver in a process group of its own, with the Chromium it starts: dropping it (also
/// when a test panics) ends them all, so that no browser outlives its test.
struct Driver(Child);

impl Driver {
    fn start(chromedriver: &str, port: u16) -> Driver {
        use std::os::unix::process::CommandExt;
        let child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        Driver(child)
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The group's id is chromedriver's pid.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.0.id())])
            .status();
        let _ = self.0.wait();
    }
}

impl Browser {
    /// A fresh browser (no cookies), or `None` when Chromium or chromedriver is missing and the
    /// test is to be skipped.
    async fn start(test: &str) -> Option<Browser> {
        let chromium =
            std::env::var("ASND_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        let chromedriver =
            std::env::var("ASND_CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
        let missing: Vec<&str> = [chromium.as_str(), chromedriver.as_str()]
            .into_iter()
            .filter(|p| !std::path::Path::new(p).exists())
            .collect();
        if !missing.is_empty() {
            let why = format!(
                "{} not found (Debian: apt-get install chromium chromium-driver)",
                missing.join(" and ")
            );
            if std::env::var("ASND_REQUIRE_BROWSER").as_deref() == Ok("1") {
                panic!("{why}, and ASND_REQUIRE_BROWSER=1 requires a browser");
            }
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED {test}: {why}. Set ASND_CHROMIUM and ASND_CHROMEDRIVER to use others; \
                 ASND_REQUIRE_BROWSER=1 makes this a failure."
            );
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Driver::start(&chromedriver, port);
        let status = format!("http://127.0.0.1:{port}/status");
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        wait_for("chromedriver answers", Duration::from_secs(30), || async {
            reqwest::get(&status)
                .await
                .ok()
                .filter(|r| r.status().is_success())
        })
        .await;
        let profile = tempfile::tempdir().unwrap();
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--window-size=1400,1000", "--no-first-run",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            },
        });
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities.as_object().unwrap().clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a Chromium session");
        Some(Browser {
            client,
            _driver: driver,
            _profile: profile,
        })
    }

    async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap();
    }

    /// The path and query the browser is at.
    async fn at(&self) -> String {
        let url = self.client.current_url().await.unwrap();
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        }
    }

    /// Waits until the browser is at a URL whose path is `path`.
    async fn until_at(&self, path: &str) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let url = self.client.current_url().await.unwrap();
            if url.path() == path {
                return;
            }
            if tokio::time::Instant::now() > deadline {
                let page = self.client.source().await.unwrap_or_default();
                panic!("the browser is at {url}, not at {path}: {page}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The element `css` selects; a test fails naming the selector when there is none.
    async fn find(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
    }

    async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.unwrap()
    }

    async fn texts(&self, css: &str) -> Vec<String> {
        let mut texts = Vec::new();
        for e in self.client.find_all(Locator::Css(css)).await.unwrap() {
            texts.push(e.text().await.unwrap());
        }
        texts
    }

    async fn click(&self, css: &str) {
        self.find(css).await.click().await.unwrap();
    }

    async fn type_into(&self, css: &str, text: &str) {
        let field = self.client.find(Locator::Css(css)).await.unwrap();
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    /// Logs in at `console` with the token, from its login page.
    async fn log_in(&self, console: &Console) {
        self.goto(&console.url("/")).await;
        self.until_at("/login").await;
        self.type_into("input[name=token]", TOKEN).await;
        self.click("form button[type=submit]").await;
        self.until_at("/").await;
    }

    /// A screenshot of the page, as `name`.png in the screenshot folder.
    async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }

    /// Ends the session; dropping the browser then ends chromedriver.
    async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

/// A browser test's browser and console (with `extra` configuration); `None`, the test skipped,
/// without Chromium.
async fn browser_and_console(test: &str, extra: &str) -> Option<(Browser, Console)> {
    let browser = Browser::start(test).await?;
    Some((browser, Console::start(Backend::Sqlite, extra).await))
}

/// Ends a browser test: the browser, then the console.
async fn close(browser: Browser, c: Console) {
    browser.close().await;
    c.stop().await;
}

fn screenshot_dir() -> PathBuf {
    match std::env::var_os("ASND_CONSOLE_SCREENSHOTS") {
        Some(dir) => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(dir),
        None => PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots"),
    }
}

/// Log in; the overview after `lifecycle` shows the six notifications and the chart; search
/// finds the subscription by original transaction id and by `appAccountToken`; its timeline is
/// in order; a quarantined body with `<script>` and `onerror=` stays text and runs nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn in_a_browser_login_overview_search_timeline_and_a_hostile_body() {
    let test = "in_a_browser_login_overview_search_timeline_and_a_hostile_body";
    let Some((browser, c)) = browser_and_console(test, "").await else {
        return;
    };
    let scenario = post_lifecycle(&c.daemon, &Target::default()).await;
    assert_eq!(c.daemon.post(HOSTILE).await.0, 400);
    let otid = scenario[0].original_transaction_id.clone().unwrap();
    let token =
        c.db.one("SELECT app_account_token FROM transactions LIMIT 1")
            .await;

    browser.goto(&c.url("/")).await;
    browser.until_at("/login").await;
    assert_eq!(browser.at().await, "/login?next=%2F");
    browser.screenshot("login").await;
    browser.type_into("input[name=token]", TOKEN).await;
    browser.click("form button[type=submit]").await;
    browser.until_at("/").await;

    assert_eq!(browser.text("#activity td.count").await, "6");
    let bars = browser
        .client
        .find_all(Locator::Css("#chart rect.bar"))
        .await
        .unwrap();
    assert_eq!(bars.len(), 48);
    let mut drawn = 0;
    for bar in &bars {
        drawn += bar
            .attr("data-count")
            .await
            .unwrap()
            .unwrap()
            .parse::<i64>()
            .unwrap();
    }
    assert_eq!(drawn, 6);
    browser.screenshot("overview").await;

    for q in [&otid, &token] {
        browser.goto(&c.url("/notifications")).await;
        browser.type_into("#search input[name=q]", q).await;
        browser.click("#search button[type=submit]").await;
        browser.until_at("/notifications").await;
        wait_for("search results", Duration::from_secs(10), || async {
            (browser.at().await.contains("q=")).then_some(())
        })
        .await;
        let rows = browser
            .client
            .find_all(Locator::Css("#results tr"))
            .await
            .unwrap();
        assert_eq!(rows.len(), 7, "a header and six notifications for q={q}");
    }
    browser.screenshot("notifications").await;

    browser
        .click("#results tr:nth-child(2) td:last-child a")
        .await;
    wait_for("a notification page", Duration::from_secs(10), || async {
        browser
            .at()
            .await
            .starts_with("/notifications/")
            .then_some(())
    })
    .await;
    assert!(browser.text("#verified-by").await.starts_with("sha256:"));
    browser.screenshot("notification").await;

    browser
        .goto(&c.url(&format!("/subscriptions/{otid}")))
        .await;
    let signed = browser.texts("#timeline td.signed").await;
    assert_eq!(signed.len(), 6);
    let mut sorted = signed.clone();
    sorted.sort();
    assert_eq!(signed, sorted, "the timeline is in signedDate order");
    assert_eq!(browser.text("#status").await, "2 expired");
    browser.screenshot("subscription").await;

    browser.goto(&c.url("/quarantine")).await;
    let body = browser.text("#quarantine pre.body").await;
    assert!(
        body.contains("<script>window.__asnd_pwned = 1</script>"),
        "{body}"
    );
    assert!(
        body.contains("onerror=\\\"window.__asnd_pwned = 2\\\""),
        "{body}"
    );
    let ran = browser
        .client
        .execute("return typeof window.__asnd_pwned", vec![])
        .await
        .unwrap();
    assert_eq!(ran, json!("undefined"), "nothing of the body ran");
    let images = browser
        .client
        .find_all(Locator::Css("#quarantine img"))
        .await
        .unwrap();
    assert!(images.is_empty(), "the body made no element");
    browser.screenshot("quarantine").await;
    close(browser, c).await;
}

/// "Reprocess" after a configuration fix stores the notification; "Retry" delivers a dead
/// delivery.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn in_a_browser_reprocess_after_a_fix_and_retry_a_dead_delivery() {
    let receiver = Receiver::start().await;
    receiver.answer_next(&[410]);
    let test = "in_a_browser_reprocess_after_a_fix_and_retry_a_dead_delivery";
    let Some((browser, c)) = browser_and_console(test, &destination(&receiver)).await else {
        return;
    };
    // A notification of an app not configured yet: quarantined.
    let second = Target {
        bundle_id: SECOND_BUNDLE.into(),
        ..Target::default()
    };
    let event = &Generator::new(second.clone()).scenario(Scenario::Lifecycle, now_ms())[0];
    let (status, answer) = c
        .daemon
        .post(event.body(&second, Some(chain()), None).unwrap())
        .await;
    assert_eq!(status, 422, "{answer}");
    // One stored for the configured app, whose delivery the destination refuses for good (410).
    let first = &Generator::new(Target::default()).scenario(Scenario::Lifecycle, now_ms())[0];
    assert_eq!(
        c.daemon
            .post(first.body(&Target::default(), Some(chain()), None).unwrap())
            .await
            .0,
        200
    );
    wait_for("a dead delivery", Duration::from_secs(30), || async {
        (c.db.deliveries_in("dead").await == 1).then_some(())
    })
    .await;

    // The fix: the app is configured, and asnd restarted on the same database.
    let (fixture, db) = c.stop().await;
    let fixed = format!(
        "{}[[apps]]\nbundle_id = \"{SECOND_BUNDLE}\"\nenvironments = [\"Sandbox\"]\n",
        destination(&receiver)
    );
    let c = Console::on(fixture, db, &fixed).await;
    browser.log_in(&c).await;

    browser.goto(&c.url("/quarantine")).await;
    assert!(
        browser
            .text("#quarantine td.reason")
            .await
            .starts_with("INVALID_APP_IDENTIFIER")
    );
    browser.click("#quarantine form button").await;
    wait_for("the reprocess result", Duration::from_secs(20), || async {
        browser.client.find(Locator::Css("#done")).await.ok()
    })
    .await;
    assert!(
        browser
            .text("#done")
            .await
            .starts_with("Reprocessed: 1 stored")
    );
    assert_eq!(
        c.db.number(&format!(
            "SELECT COUNT(*) FROM notifications WHERE bundle_id = '{SECOND_BUNDLE}'"
        ))
        .await,
        1
    );
    assert_eq!(
        browser
            .text("#quarantine tr:nth-child(2) td:last-child")
            .await,
        "stored"
    );

    browser.goto(&c.url("/deliveries")).await;
    assert_eq!(
        browser.texts("#dead tr").await.len(),
        2,
        "a header and the dead delivery"
    );
    browser.screenshot("deliveries").await;
    browser.click("#dead form button").await;
    wait_for("the retry result", Duration::from_secs(20), || async {
        browser.client.find(Locator::Css("#done")).await.ok()
    })
    .await;
    assert!(browser.text("#done").await.starts_with("Retried: 1"));
    wait_for(
        "the retried delivery delivered",
        Duration::from_secs(30),
        || async { (c.db.deliveries_in("delivered").await >= 2).then_some(()) },
    )
    .await;
    // The refused event, the reprocessed notification's, and the refused one again.
    let requests = receiver.wait_for(3).await;
    let refused = requests[0].json()["id"].clone();
    assert_eq!(
        requests
            .iter()
            .filter(|r| r.json()["id"] == refused)
            .count(),
        2,
        "the dead event was sent again"
    );
    close(browser, c).await;
}

/// Without the token every page goes to the login; a POST from another site is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn in_a_browser_without_the_token_and_from_another_site() {
    let test = "in_a_browser_without_the_token_and_from_another_site";
    let Some((browser, c)) = browser_and_console(test, "").await else {
        return;
    };
    for page in [
        "/",
        "/notifications",
        "/notifications/x",
        "/subscriptions/1",
        "/quarantine",
        "/deliveries",
    ] {
        browser.goto(&c.url(page)).await;
        browser.until_at("/login").await;
        assert_eq!(
            browser.at().await,
            format!("/login?next={}", asnd_encode(page)),
            "{page}"
        );
        assert!(
            browser
                .client
                .find(Locator::Css("input[name=token]"))
                .await
                .is_ok()
        );
    }

    browser.log_in(&c).await;
    // Another site (127.0.0.1 is not localhost) with a form that posts to the console.
    let form = format!(
        "<!doctype html><form method=post action=\"{}/logout\"><input name=csrf value=guess>\
         <button id=go>Win a prize</button></form>",
        c.base
    );
    let app = axum::Router::new().route(
        "/",
        axum::routing::get(move || {
            let form = form.clone();
            async move { axum::response::Html(form) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let other = listener.local_addr().unwrap();
    let site = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    browser
        .goto(&format!("http://127.0.0.1:{}/", other.port()))
        .await;
    browser.click("#go").await;
    wait_for("the refusal", Duration::from_secs(20), || async {
        browser.client.find(Locator::Css("p.error")).await.ok()
    })
    .await;
    assert!(browser.text("p.error").await.starts_with("Refused"));
    // Still logged in: the cross-site logout did nothing.
    browser.goto(&c.url("/")).await;
    assert_eq!(browser.at().await, "/");
    site.abort();
    close(browser, c).await;
}

/// A path as the login's `next=` carries it.
fn asnd_encode(path: &str) -> String {
    path.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
