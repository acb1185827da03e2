//! Production operation: client addresses behind PROXY-protocol and L7 balancers (without
//! weakening the allow-list), plain HTTP behind a TLS-terminating balancer, metrics on the admin
//! listener, readiness during drain, and two replicas on one PostgreSQL.

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const APPLE_ONLY: &str = r#"["17.0.0.0/8"]"#;
/// A PROXY header naming a client outside the allow-list.
const OUTSIDER: &[u8] = b"PROXY TCP4 192.0.2.2 10.0.0.1 40000 443\r\n";
/// How long the server may take to notice connections that opened or closed.
const QUOTA_SETTLES: Duration = Duration::from_secs(10);

fn nets(list: &[&str]) -> Vec<ipnet::IpNet> {
    list.iter().map(|n| n.parse().unwrap()).collect()
}

async fn start(
    fixture: &Fixture,
    db: &TestDb,
    edit: impl FnOnce(&mut asnd::config::Config),
) -> Daemon {
    let mut config = fixture.config(&db.url, APPLE_ONLY);
    edit(&mut config);
    Daemon::start(&config, &fixture.tls_cert_der).await
}

/// A new fixture and SQLite database, and a daemon that takes PROXY headers from the `trusted`
/// balancers, with `edit` applied too.
async fn start_behind_proxy(
    trusted: &[&str],
    edit: impl FnOnce(&mut asnd::config::Config),
) -> (Fixture, TestDb, Daemon) {
    let fixture = Fixture::new();
    let db = TestDb::new(Backend::Sqlite).await;
    let daemon = start(&fixture, &db, |c| {
        c.server.proxy_protocol = true;
        c.sources.trusted_proxies = nets(trusted);
        edit(c);
    })
    .await;
    (fixture, db, daemon)
}

/// Sends `prefix` (a PROXY header, or nothing), then one HTTP/1.1 request over TLS; returns the
/// status code, or None when the server closed the connection instead.
async fn raw_request(
    daemon: &Daemon,
    cert_der: &[u8],
    prefix: &[u8],
    method: &str,
    path: &str,
    headers: &str,
    body: &str,
) -> Option<u16> {
    let mut tcp = tokio::net::TcpStream::connect(daemon.addr).await.unwrap();
    tcp.write_all(prefix).await.ok()?;
    let connect = tls_connector(cert_der).connect(localhost(), tcp);
    let mut tls = tokio::time::timeout(Duration::from_secs(5), connect)
        .await
        .ok()?
        .ok()?;
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n{headers}\r\n{body}",
        body.len()
    );
    tls.write_all(request.as_bytes()).await.ok()?;
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), tls.read_to_end(&mut response)).await;
    let text = String::from_utf8_lossy(&response);
    text.split_whitespace().nth(1)?.parse().ok()
}

/// POSTs `body` to `/notifications` after `prefix` (see [`raw_request`]).
async fn post_after(daemon: &Daemon, cert_der: &[u8], prefix: &[u8], body: &str) -> Option<u16> {
    raw_request(daemon, cert_der, prefix, "POST", "/notifications", "", body).await
}

/// POSTs `body` to the notification path with the extra header lines `headers`, no PROXY header.
async fn post_with_headers(
    daemon: &Daemon,
    cert_der: &[u8],
    headers: &str,
    body: &str,
) -> Option<u16> {
    raw_request(
        daemon,
        cert_der,
        b"",
        "POST",
        "/notifications",
        headers,
        body,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn proxy_protocol_from_a_trusted_balancer_names_the_client() {
    let (fixture, db, daemon) = start_behind_proxy(&["127.0.0.0/8"], |_| {}).await;
    let cert = &fixture.tls_cert_der;

    let (uuid, body) = signed_renewal();
    assert_eq!(
        post_after(&daemon, cert, &proxy_v1("17.1.2.3"), &body).await,
        Some(200)
    );
    assert_eq!(db.source_of(&uuid).await, "17.1.2.3");
    let (_, body) = signed_renewal();
    assert_eq!(
        post_after(&daemon, cert, &proxy_v1("192.0.2.1"), &body).await,
        Some(403)
    );

    let (uuid, body) = signed_renewal();
    let v2 = proxy_v2("17.4.5.6".parse().unwrap(), false);
    assert_eq!(post_after(&daemon, cert, &v2, &body).await, Some(200));
    assert_eq!(db.source_of(&uuid).await, "17.4.5.6");
    let v2_outside = proxy_v2("2001:db8::5".parse().unwrap(), false);
    assert_eq!(
        post_after(&daemon, cert, &v2_outside, &signed_renewal().1).await,
        Some(403)
    );

    // LOCAL (the balancer's own health check) means the peer itself: 127.0.0.1 is not Apple.
    let local = proxy_v2("17.9.9.9".parse().unwrap(), true);
    assert_eq!(
        post_after(&daemon, cert, &local, &signed_renewal().1).await,
        Some(403)
    );
    assert_eq!(
        raw_request(&daemon, cert, &local, "GET", "/healthz", "", "").await,
        Some(200)
    );

    // A trusted peer must send the header; a malformed one closes the connection.
    assert_eq!(
        raw_request(&daemon, cert, b"", "GET", "/healthz", "", "").await,
        None
    );
    assert_eq!(
        raw_request(
            &daemon,
            cert,
            b"PROXY TCP4 banana 10.0.0.1 1 2\r\n",
            "GET",
            "/healthz",
            "",
            ""
        )
        .await,
        None
    );
    assert_eq!(
        raw_request(&daemon, cert, b"PROXY NOPE\r\n", "GET", "/healthz", "", "").await,
        None
    );
    daemon.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_untrusted_peer_may_not_send_a_proxy_header() {
    let (fixture, db, daemon) = start_behind_proxy(&["10.0.0.0/8"], |c| {
        c.sources.allow = nets(&["17.0.0.0/8", "127.0.0.0/8"]);
    })
    .await;
    let cert = &fixture.tls_cert_der;
    for header in [
        proxy_v1("17.1.2.3"),
        proxy_v2("17.1.2.3".parse().unwrap(), false),
    ] {
        assert_eq!(
            post_after(&daemon, cert, &header, &signed_renewal().1).await,
            None
        );
    }
    // Without a header it is an ordinary client, judged by its own address.
    let (uuid, body) = signed_renewal();
    assert_eq!(post_after(&daemon, cert, b"", &body).await, Some(200));
    assert_eq!(db.source_of(&uuid).await, "127.0.0.1");
    assert_eq!(db.count("notifications").await, 1);
    daemon.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn forwarded_headers_count_only_from_trusted_proxies() {
    let fixture = Fixture::new();
    let db = TestDb::new(Backend::Sqlite).await;
    let cert = fixture.tls_cert_der.clone();

    // Untrusted peer: a spoofed X-Forwarded-For changes nothing.
    let daemon = start(&fixture, &db, |c| {
        c.sources.trusted_proxies = nets(&["10.0.0.0/8"])
    })
    .await;
    for h in [
        "X-Forwarded-For: 17.0.0.1\r\n",
        "Forwarded: for=17.0.0.1\r\n",
    ] {
        assert_eq!(
            post_with_headers(&daemon, &cert, h, &signed_renewal().1).await,
            Some(403),
            "{h}"
        );
    }
    daemon.server.shutdown().await;

    // Trusted peer and hops: the rightmost untrusted address is the client.
    let daemon = start(&fixture, &db, |c| {
        c.sources.trusted_proxies = nets(&["127.0.0.0/8", "10.0.0.0/8"])
    })
    .await;
    let (uuid, body) = signed_renewal();
    let h = "X-Forwarded-For: 17.9.9.9, 10.1.1.1, 10.2.2.2\r\n";
    assert_eq!(post_with_headers(&daemon, &cert, h, &body).await, Some(200));
    assert_eq!(db.source_of(&uuid).await, "17.9.9.9");
    let spoofed = "X-Forwarded-For: 17.1.1.1, 192.0.2.7, 10.1.1.1\r\n";
    assert_eq!(
        post_with_headers(&daemon, &cert, spoofed, &signed_renewal().1).await,
        Some(403)
    );
    // A balancer that writes X-Forwarded-For passes a client's Forwarded header through: ignored.
    let forwarded = "Forwarded: for=192.0.2.60, for=\"17.3.3.3:4711\";proto=https\r\n";
    let both = format!("{forwarded}X-Forwarded-For: 203.0.113.9\r\n");
    let status = post_with_headers(&daemon, &cert, &both, &signed_renewal().1).await;
    assert_eq!(status, Some(403));
    let garbage = "X-Forwarded-For: unknown\r\n";
    assert_eq!(
        post_with_headers(&daemon, &cert, garbage, &signed_renewal().1).await,
        Some(403)
    );
    // No header from the trusted proxy: the proxy itself is the client, and it is not Apple.
    assert_eq!(
        post_after(&daemon, &cert, b"", &signed_renewal().1).await,
        Some(403)
    );
    daemon.server.shutdown().await;

    // A balancer configured to write Forwarded (RFC 7239).
    let daemon = start(&fixture, &db, |c| {
        c.sources.trusted_proxies = nets(&["127.0.0.0/8", "10.0.0.0/8"]);
        c.sources.forwarded_header = asnd::config::ForwardedHeader::Forwarded;
    })
    .await;
    let (uuid, body) = signed_renewal();
    let status = post_with_headers(&daemon, &cert, forwarded, &body).await;
    assert_eq!(status, Some(200));
    assert_eq!(db.source_of(&uuid).await, "17.3.3.3");
    daemon.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn plain_http_behind_a_tls_terminating_balancer() {
    let fixture = Fixture::new();
    let db = TestDb::new(Backend::Sqlite).await;
    let mut config = fixture.config(&db.url, APPLE_ONLY);
    config.server.tls = false;
    config.sources.trusted_proxies = nets(&["127.0.0.0/8"]);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = asnd::server::Server::start(&config, listener)
        .await
        .unwrap();
    let url = format!(
        "http://127.0.0.1:{}/notifications",
        server.local_addr().port()
    );
    let (uuid, body) = signed_renewal();
    let http = reqwest::Client::new();
    let resp = http
        .post(&url)
        .header("x-forwarded-for", "17.5.5.5")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(db.source_of(&uuid).await, "17.5.5.5");
    let resp = http
        .post(&url)
        .body(signed_renewal().1)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403);
    server.shutdown().await;
}

fn metric(text: &str, name_and_labels: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(name_and_labels) && l[name_and_labels.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name_and_labels} in\n{text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn metrics_count_what_happened() {
    let Env {
        fixture: _fixture,
        db: _db,
        daemon,
    } = Env::start(Backend::Sqlite, LOOPBACK, |c| {
        c.admin.listen = Some("127.0.0.1:0".parse().unwrap())
    })
    .await;
    let admin = format!("http://{}", daemon.server.admin_addr().unwrap());

    let s = Sub {
        original_transaction_id: "7000000000001".into(),
        env: "Sandbox",
    };
    let n = notification(
        "SUBSCRIBED",
        Some("INITIAL_BUY"),
        &s,
        "7000000000002",
        now_ms(),
        Some(1),
    );
    for _ in 0..3 {
        assert_eq!(daemon.post_signed(&n).await.0, 200);
    }
    let mut wrong = n.clone();
    wrong["notificationUUID"] = json!("other-uuid");
    wrong["data"]["environment"] = json!("Xcode");
    assert_eq!(daemon.post_signed(&wrong).await.0, 422);
    assert_eq!(daemon.post("nonsense").await.0, 400);

    let text = fetch_text(&format!("{admin}/metrics")).await;
    assert_eq!(
        metric(
            &text,
            r#"asnd_requests_total{status="200",outcome="stored"}"#
        ),
        1.0
    );
    assert_eq!(
        metric(
            &text,
            r#"asnd_requests_total{status="200",outcome="duplicate"}"#
        ),
        2.0
    );
    assert_eq!(
        metric(
            &text,
            r#"asnd_requests_total{status="422",outcome="rejected"}"#
        ),
        1.0
    );
    assert_eq!(metric(&text, "asnd_duplicates_total"), 2.0);
    assert_eq!(
        metric(
            &text,
            r#"asnd_notifications_total{notification_type="SUBSCRIBED",subtype="INITIAL_BUY",environment="Sandbox",app="com.example.app"}"#
        ),
        1.0
    );
    assert_eq!(
        metric(
            &text,
            r#"asnd_rejections_total{reason="INVALID_ENVIRONMENT"}"#
        ),
        1.0
    );
    assert_eq!(
        metric(&text, r#"asnd_rejections_total{reason="bad_request"}"#),
        1.0
    );
    assert_eq!(metric(&text, "asnd_quarantine_rows"), 2.0);
    assert_eq!(metric(&text, "asnd_request_duration_seconds_count"), 5.0);
    assert_eq!(metric(&text, "asnd_database_duration_seconds_count"), 3.0);
    let last = metric(
        &text,
        r#"asnd_last_stored_notification_timestamp_seconds{app="com.example.app",environment="Sandbox"}"#,
    );
    assert!((last - now_ms() as f64 / 1000.0).abs() < 60.0, "{last}");
    assert!(text.contains("asnd_build_info{version=\""), "{text}");
    // Reconciliation is off here: its counters are exported, at zero.
    assert_eq!(metric(&text, r#"asnd_reconcile_total{result="run"}"#), 0.0);
    assert_eq!(
        metric(&text, "asnd_reconcile_last_run_timestamp_seconds"),
        0.0
    );
    // Health on the admin listener too.
    let plain = reqwest::Client::new();
    for path in ["/readyz", "/healthz"] {
        assert_eq!(status_of(plain.get(format!("{admin}{path}"))).await, 200);
    }
    daemon.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn draining_turns_readiness_off_while_requests_are_still_served() {
    let env = Env::start(Backend::Sqlite, LOOPBACK, |c| {
        c.server.drain_delay = Duration::from_millis(1500)
    })
    .await;
    let client = env.daemon.client.clone();
    let (ready_url, post_url) = (env.daemon.url("/readyz"), env.daemon.url("/notifications"));
    let shutdown = tokio::spawn(env.daemon.server.drain_and_shutdown());
    // Well within the drain delay, so that the POST below is still served.
    wait_for("readiness turns 503", Duration::from_secs(1), || async {
        (status_of(client.get(&ready_url)).await == 503).then_some(())
    })
    .await;
    let (_, body) = signed_renewal();
    assert_eq!(
        status_of(client.post(&post_url).body(body)).await,
        200,
        "still served while draining"
    );
    shutdown.await.unwrap();
    assert!(
        reqwest::Client::new().get(&ready_url).send().await.is_err(),
        "closed after the drain"
    );
    assert_eq!(env.db.count("notifications").await, 1);
}

/// `asnd healthcheck --config FILE` (and `extra`), as the image's HEALTHCHECK runs it, with
/// `ASND_ADMIN__LISTEN` set to `admin` or unset; its exit code and what it printed.
async fn healthcheck(file: &std::path::Path, admin: Option<&str>, extra: &[&str]) -> (i32, String) {
    let mut command = asnd();
    command
        .arg("healthcheck")
        .arg("--config")
        .arg(file)
        .args(extra)
        .env_remove("ASND_ADMIN__LISTEN");
    if let Some(admin) = admin {
        command.env("ASND_ADMIN__LISTEN", admin);
    }
    let out = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    let (stdout, stderr) = output_text(&out);
    (out.status.code().unwrap(), format!("{stdout}{stderr}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_healthcheck_asks_the_configured_admin_listener() {
    let env = Env::start(Backend::Sqlite, LOOPBACK, |c| {
        c.admin.listen = Some("127.0.0.1:0".parse().unwrap());
        c.server.drain_delay = Duration::from_secs(60);
    })
    .await;
    let admin = env.daemon.server.admin_addr().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: String| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let configured = write("admin.toml", format!("[admin]\nlisten = \"{admin}\"\n"));
    let (code, out) = healthcheck(&configured, None, &[]).await;
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!("http://{admin}/healthz: 200")),
        "{out}"
    );
    // A wildcard listener is asked on loopback.
    let wildcard = write(
        "wildcard.toml",
        format!("[admin]\nlisten = \"0.0.0.0:{}\"\n", admin.port()),
    );
    assert_eq!(healthcheck(&wildcard, None, &[]).await.0, 0);
    // The variable wins over the file, as it does for serve: here, a port nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    let (code, out) = healthcheck(&configured, Some(&closed), &[]).await;
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!("{closed}/healthz: no answer")),
        "{out}"
    );
    // No admin listener: nothing to ask, and what to set.
    let without = write("without.toml", String::new());
    let (code, out) = healthcheck(&without, None, &[]).await;
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("set [admin] listen"), "{out}");
    let (code, out) = healthcheck(&dir.path().join("missing.toml"), None, &[]).await;
    assert_eq!(code, 2, "{out}");
    // Draining: alive, no longer ready.
    env.daemon.server.start_draining();
    assert_eq!(healthcheck(&configured, None, &[]).await.0, 0);
    let (code, out) = healthcheck(&configured, None, &["--ready"]).await;
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("/readyz: 503"), "{out}");
    env.daemon.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_on_one_postgres_store_each_notification_once() {
    if common::skip_without_postgres("two_replicas_on_one_postgres_store_each_notification_once")
        .await
    {
        return;
    }
    let fixture = Fixture::new();
    // Empty: both replicas migrate it.
    let db = TestDb::empty(Backend::Postgres).await;
    let config = fixture.config(&db.url, LOOPBACK);
    // Both start at once: the migrations are applied once (PostgreSQL advisory lock).
    let (a, b) = tokio::join!(
        Daemon::start(&config, &fixture.tls_cert_der),
        Daemon::start(&config, &fixture.tls_cert_der)
    );
    let applied = db
        .column("SELECT CAST(COUNT(*) AS TEXT) FROM _sqlx_migrations")
        .await;
    let known = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres"))
        .unwrap()
        .count();
    assert_eq!(applied, vec![known.to_string()]);

    let bodies: Vec<String> = (0..15).map(|_| signed_renewal().1).collect();
    let mut tasks = Vec::new();
    for body in &bodies {
        for daemon in [&a, &b] {
            for _ in 0..2 {
                tasks.push(daemon.spawn_post(body.clone()));
            }
        }
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    assert_eq!(db.count("notifications").await, 15);
    assert_eq!(db.count("transactions").await, 15);
    a.server.shutdown().await;
    b.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn outsiders_cannot_take_the_connections_apple_needs() {
    let (fixture, db, daemon) = start_behind_proxy(&["127.0.0.0/8"], |c| {
        c.server.max_connections = 32; // outsiders share 32 / 16 → at least 16 slots
    })
    .await;
    let cert = &fixture.tls_cert_der;
    // Idle connections from a client outside the allow-list fill the outsiders' quota (16). A
    // probe that gets in while they are still being classified holds a slot for a moment and
    // can make one of them be refused, so each probe that gets in is answered with one more.
    let idle_outsider = || async {
        let mut tcp = tokio::net::TcpStream::connect(daemon.addr).await.unwrap();
        tcp.write_all(&proxy_v1("192.0.2.1")).await.unwrap();
        tcp
    };
    let idle = std::sync::Mutex::new(Vec::new());
    for _ in 0..16 {
        let tcp = idle_outsider().await;
        idle.lock().unwrap().push(tcp);
    }
    let outsider_health = || raw_request(&daemon, cert, OUTSIDER, "GET", "/healthz", "", "");
    wait_for("the outsiders' quota is full", QUOTA_SETTLES, || async {
        if outsider_health().await.is_none() {
            return Some(());
        }
        let tcp = idle_outsider().await;
        idle.lock().unwrap().push(tcp);
        None
    })
    .await;
    // Apple still gets in.
    let (uuid, body) = signed_renewal();
    assert_eq!(
        post_after(&daemon, cert, &proxy_v1("17.1.1.1"), &body).await,
        Some(200)
    );
    assert_eq!(db.source_of(&uuid).await, "17.1.1.1");
    // Once outsiders leave, another one is answered again (403 for a notification, 200 for health).
    drop(idle);
    wait_for("an outsider is answered again", QUOTA_SETTLES, || async {
        (outsider_health().await == Some(200)).then_some(())
    })
    .await;
    daemon.server.shutdown().await;
}
