//! Events out, end to end on both stores: the daemon stores notifications and its delivery
//! workers send them on to real HTTP receivers, signed as Standard Webhooks specifies (checked
//! with the `standardwebhooks` crate, an implementation asnd does not contain).

#[macro_use]
mod common;

use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::Duration;

use asnd::apple::{AppRule, At, Policy, RootSet, TrustAnchor, Verifier};
use asnd::config::Config;
use asnd::simulate::{Generator, Scenario, Target};
use base64::Engine;
use common::*;
use serde_json::Value;

/// A `whsec_` secret from `key`.
fn secret(key: &str) -> String {
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(key)
    )
}

/// The `[[destinations]]` TOML of one destination.
fn destination(name: &str, receiver: &Receiver, format: &str, extra: &str) -> String {
    format!(
        "[[destinations]]\nname = \"{name}\"\nurl = \"{}\"\nformat = \"{format}\"\n\
         secrets = [\"{}\", \"{}\"]\ntimeout = \"2s\"\n{extra}\n",
        receiver.url,
        secret(&format!("{name} key")),
        secret(&format!("{name} next key")),
    )
}

/// A fixture, database and in-process daemon whose configuration file (also for the CLI) has
/// `extra` appended.
struct Setup {
    fixture: Fixture,
    db: TestDb,
    daemon: Daemon,
    file: PathBuf,
}

impl Setup {
    async fn start(backend: Backend, extra: &str) -> Setup {
        let fixture = Fixture::new();
        let db = TestDb::new(backend).await;
        let (file, config) = config_file(&fixture, &db, extra);
        let daemon = Daemon::start(&config, &fixture.tls_cert_der).await;
        Setup {
            fixture,
            db,
            daemon,
            file,
        }
    }
}

fn config_file(fixture: &Fixture, db: &TestDb, extra: &str) -> (PathBuf, Config) {
    let text = fixture.toml(&db.url, LOOPBACK, extra);
    let file = fixture.dir.path().join("asnd.toml");
    std::fs::write(&file, &text).unwrap();
    (file, Config::from_toml_str(&text, Vec::new()).unwrap())
}

/// The fixture's configuration (on an SQLite file it never opens) with `destinations` appended,
/// read with the overrides `env`, for the tests of the configuration alone.
fn with_destinations(fixture: &Fixture, destinations: &str, env: Vec<(String, String)>) -> Config {
    let text = fixture.toml("sqlite://x.db", LOOPBACK, destinations);
    Config::from_toml_str(&text, env).unwrap()
}

/// A fixture, a database and a configuration file (with its parsed form) sending every event to
/// `receiver` as destination `backend`: for tests that run the daemon as a process, or none.
async fn sending_to(receiver: &Receiver, backend: Backend) -> (Fixture, TestDb, PathBuf, Config) {
    let fixture = Fixture::new();
    let db = TestDb::new(backend).await;
    let (file, config) = config_file(
        &fixture,
        &db,
        &destination("backend", receiver, "event", ""),
    );
    (fixture, db, file, config)
}

/// `asnd deliveries <args> --config <file>`: its exit code, stdout and stderr.
fn deliveries(file: &std::path::Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out = asnd()
        .arg("deliveries")
        .args(args)
        .arg("--config")
        .arg(file)
        .output()
        .unwrap();
    let (stdout, stderr) = output_text(&out);
    (out.status.code(), stdout, stderr)
}

/// Checks `request`'s Standard Webhooks signature with each of `name`'s secrets.
fn assert_signed(name: &str, request: &Request) {
    let mut headers = axum::http::HeaderMap::new();
    for key in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        headers.insert(key, request.header(key).parse().unwrap());
    }
    for key in [format!("{name} key"), format!("{name} next key")] {
        let webhook = standardwebhooks::Webhook::new(&secret(&key)).unwrap();
        webhook
            .verify(&request.body, &headers)
            .unwrap_or_else(|e| panic!("{name}: signature with {key:?}: {e}"));
    }
    let other = standardwebhooks::Webhook::new(&secret("another key")).unwrap();
    assert!(other.verify(&request.body, &headers).is_err());
}

/// The lifecycle scenario reaches both destinations in order, signed: as asnd's events, and as
/// Apple's bodies byte for byte (which asnd's own verifier accepts).
async fn lifecycle_arrives_in_order_in_both_formats(backend: Backend) {
    let (events_rx, apple_rx) = (Receiver::start().await, Receiver::start().await);
    let extra = destination("backend", &events_rx, "event", "")
        + &destination("forward", &apple_rx, "apple", "");
    let s = Setup::start(backend, &extra).await;
    let target = Target::default();
    let scenario = Generator::new(target.clone()).scenario(Scenario::Lifecycle, now_ms());
    let mut bodies = Vec::new();
    for event in &scenario {
        let body = event.body(&target, Some(chain()), None).unwrap();
        let (status, answer) = s.daemon.post(body.clone()).await;
        assert_eq!(status, 200, "{answer}");
        bodies.push(body);
    }

    let events = events_rx.wait_for(6).await;
    assert_eq!(events.len(), 6);
    let mut last_sequence = 0;
    for (request, sent) in events.iter().zip(&scenario) {
        assert_signed("backend", request);
        let event = request.json();
        assert_eq!(request.header("webhook-id"), event["id"]);
        assert_eq!(event["notification_uuid"], sent.uuid.as_str());
        let sequence = event["sequence"].as_i64().unwrap();
        assert!(sequence > last_sequence, "in the order stored");
        last_sequence = sequence;
        assert_eq!(
            event["notification"]["notificationUUID"],
            sent.uuid.as_str()
        );
    }
    let last = events[5].json();
    assert_eq!(last["notification_type"], "EXPIRED");
    assert_eq!(last["subscription"]["status"], 2);
    assert!(last["transaction"]["transactionId"].is_string(), "{last}");

    let forwarded = apple_rx.wait_for(6).await;
    let verifier = Verifier::new(RootSet::new(vec![
        TrustAnchor::from_der(&chain().root_der).unwrap(),
    ]));
    for (request, body) in forwarded.iter().zip(&bodies) {
        assert_signed("forward", request);
        assert_eq!(
            request.body.as_ref(),
            body.as_bytes(),
            "Apple's body, byte for byte"
        );
        let token: Value = serde_json::from_slice(&request.body).unwrap();
        verifier
            .verify_notification(
                token["signedPayload"].as_str().unwrap(),
                &Policy::single(AppRule {
                    bundle_id: Some(BUNDLE.into()),
                    app_apple_id: Some(APP_ID),
                    environments: Vec::new(),
                }),
                At::SignedDate,
            )
            .expect("the forwarded body verifies");
    }
    // Each event went to each destination once.
    assert_eq!(s.db.deliveries_in("delivered").await, 12);
    s.daemon.server.shutdown().await;
}
on_both_stores!(lifecycle_arrives_in_order_in_both_formats);

/// A receiver that answers 500 twice gets the event on the third attempt, with the same
/// `webhook-id` every time; one that answers 410 gets it once, and the delivery is dead until
/// `asnd deliveries retry` sends it again.
async fn failures_retry_and_gone_stops(backend: Backend) {
    let (flaky, gone) = (Receiver::start().await, Receiver::start().await);
    flaky.answer_next(&[500, 500]);
    gone.answer_next(&[410, 410]);
    let extra =
        destination("flaky", &flaky, "event", "") + &destination("gone", &gone, "event", "");
    let s = Setup::start(backend, &extra).await;
    let (_, body) = signed_renewal();
    assert_eq!(s.daemon.post(body).await.0, 200);

    let attempts = flaky.wait_for(3).await;
    let id = attempts[0].header("webhook-id").to_string();
    assert!(attempts.iter().all(|r| r.header("webhook-id") == id));
    let dead = wait_for(
        "the 410 delivery is dead",
        Duration::from_secs(10),
        || async {
            s.db.at_most_one("SELECT CAST(id AS TEXT) FROM event_deliveries WHERE state = 'dead'")
                .await
        },
    )
    .await;
    let delivered = wait_for("the flaky one is delivered", Duration::from_secs(10), || async {
        s.db.at_most_one(
            "SELECT CAST(attempts AS TEXT) FROM event_deliveries WHERE destination = 'flaky' AND state = 'delivered'",
        )
        .await
    })
    .await;
    assert_eq!(delivered, "3");
    assert_eq!(gone.requests().len(), 1, "410 stops at once");

    let (code, stdout, stderr) = deliveries(&s.file, &["list", "--state", "dead"]);
    assert_eq!(code, Some(0), "{stderr}");
    let rows: Vec<&str> = stdout.lines().skip(1).collect();
    assert_eq!(rows.len(), 1, "{stdout}");
    assert!(
        rows[0].starts_with(&format!("{dead}\t{id}\tgone\tdead\t1\t")),
        "{stdout}"
    );
    let (code, stdout, stderr) = deliveries(&s.file, &["retry", "--id", &dead]);
    assert_eq!(
        (code, stdout.as_str()),
        (Some(0), "retried: 1\n"),
        "{stderr}"
    );
    let again = gone.wait_for(2).await;
    assert_eq!(again[1].header("webhook-id"), id);
    // Gone again: dead again. Retrying every dead delivery of the destination sends it a third time.
    wait_for("dead again", Duration::from_secs(10), || async {
        s.db.at_most_one("SELECT state FROM event_deliveries WHERE state = 'dead'")
            .await
    })
    .await;
    let (_, stdout, stderr) = deliveries(&s.file, &["retry", "--destination", "gone", "--dead"]);
    assert_eq!(stdout, "retried: 1\n", "{stderr}");
    gone.wait_for(3).await;
    wait_for(
        "the retried delivery is delivered",
        Duration::from_secs(10),
        || async {
            (s.db.count("event_deliveries").await == s.db.deliveries_in("delivered").await)
                .then_some(())
        },
    )
    .await;
    s.daemon.server.shutdown().await;
}
on_both_stores!(failures_retry_and_gone_stops);

/// Destinations choose by app, environment and type; `replay` sends stored history to a new
/// destination with the same event ids.
async fn filters_route_and_replay_sends_history(backend: Backend) {
    let (renewals, production, everything) = (
        Receiver::start().await,
        Receiver::start().await,
        Receiver::start().await,
    );
    let extra = destination("renewals", &renewals, "event", "types = [\"DID_RENEW\"]")
        + &destination(
            "production",
            &production,
            "event",
            "environments = [\"Production\"]\napps = [\"com.example.app\"]",
        );
    let s = Setup::start(backend, &extra).await;
    let sandbox = Sub::random("Sandbox");
    let prod = Sub::random("Production");
    let posts = [
        notification("DID_RENEW", None, &sandbox, "8100000001", now_ms(), Some(1)),
        notification(
            "SUBSCRIBED",
            Some("RESUBSCRIBE"),
            &prod,
            "8100000002",
            now_ms(),
            Some(1),
        ),
        notification("DID_RENEW", None, &prod, "8100000003", now_ms(), Some(1)),
    ];
    for n in &posts {
        assert_eq!(s.daemon.post_signed(n).await.0, 200);
    }
    // Two subscriptions: no order between them.
    let mut to_renewals: Vec<String> = renewals
        .wait_for(2)
        .await
        .iter()
        .map(|r| r.json()["notification_uuid"].as_str().unwrap().to_string())
        .collect();
    to_renewals.sort();
    let mut expected =
        [&posts[0], &posts[2]].map(|n| n["notificationUUID"].as_str().unwrap().to_string());
    expected.sort();
    assert_eq!(to_renewals, expected);
    let to_production = production.wait_for(2).await;
    assert_eq!(to_production[0].json()["notification_type"], "SUBSCRIBED");
    assert_eq!(to_production[1].json()["environment"], "Production");
    s.daemon.server.shutdown().await;

    // A destination added later gets the history on request.
    let extra = extra + &destination("everything", &everything, "event", "");
    let (file, config) = config_file(&s.fixture, &s.db, &extra);
    let daemon = Daemon::start(&config, &s.fixture.tls_cert_der).await;
    let replay = ["replay", "--destination", "everything", "--since", "1h"];
    let (code, stdout, stderr) = deliveries(&file, &replay);
    assert_eq!(
        (code, stdout.as_str()),
        (Some(0), "queued: 3\n"),
        "{stderr}"
    );
    let replayed = everything.wait_for(3).await;
    // Events of different subscriptions have no order among them.
    let mut ids: Vec<&str> = replayed.iter().map(|r| r.header("webhook-id")).collect();
    ids.sort();
    let first = s.db.number("SELECT MIN(id) FROM notifications").await;
    assert_eq!(
        ids,
        (first..first + 3)
            .map(|n| format!("evt_{n}"))
            .collect::<Vec<_>>()
    );
    let (code, _, stderr) = deliveries(
        &file,
        &["replay", "--destination", "nobody", "--since", "1h"],
    );
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("no [[destinations]] entry is named \"nobody\""),
        "{stderr}"
    );
    daemon.server.shutdown().await;
}
on_both_stores!(filters_route_and_replay_sends_history);

/// A destination that hangs changes nothing Apple gets: every notification is answered 200,
/// and the deliveries wait.
async fn a_slow_destination_does_not_hold_up_ingest(backend: Backend) {
    let slow = Receiver::start().await;
    slow.hold();
    let s = Setup::start(backend, &destination("slow", &slow, "event", "")).await;
    for _ in 0..20 {
        let (_, body) = signed_renewal();
        assert_eq!(s.daemon.post(body).await.0, 200);
    }
    assert_eq!(s.db.count("notifications").await, 20);
    assert_eq!(s.db.deliveries_in("pending").await, 20);
    s.daemon.server.shutdown().await;
}
on_both_stores!(a_slow_destination_does_not_hold_up_ingest);

/// The metrics show deliveries by result and the backlog per destination.
async fn metrics_count_deliveries_and_the_backlog(backend: Backend) {
    let (ok, down) = (Receiver::start().await, Receiver::start().await);
    down.answer_next(&[503; 50]);
    let extra = destination("ok", &ok, "event", "")
        + &destination("down", &down, "event", "")
        + "[admin]\nlisten = \"127.0.0.1:0\"\n";
    let s = Setup::start(backend, &extra).await;
    let (_, body) = signed_renewal();
    assert_eq!(s.daemon.post(body).await.0, 200);
    ok.wait_for(1).await;
    down.wait_for(1).await;
    let admin = s.daemon.server.admin_addr().unwrap();
    let metrics = wait_for("delivery metrics", Duration::from_secs(10), || async {
        let text = fetch_text(&format!("http://{admin}/metrics")).await;
        // The receiver has the request before the dispatcher has counted its answer.
        let settled = text
            .contains("asnd_deliveries_total{destination=\"ok\",result=\"delivered\"} 1")
            && text.contains("asnd_deliveries_total{destination=\"down\",result=\"failed\"}")
            && text.contains("asnd_deliveries_pending{destination=\"down\"} 1");
        settled.then_some(text)
    })
    .await;
    assert!(
        metrics.contains("asnd_deliveries_pending{destination=\"down\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("asnd_delivery_oldest_pending_age_seconds{destination=\"down\"}"),
        "{metrics}"
    );
    assert!(
        !metrics.contains("asnd_deliveries_pending{destination=\"ok\"}"),
        "{metrics}"
    );
    s.daemon.server.shutdown().await;
}
on_both_stores!(metrics_count_deliveries_and_the_backlog);

// ---- real processes: kill -9, and replicas sharing one PostgreSQL ----

/// `asnd serve --config file` on a free port; the process and its notification URL.
fn serve(file: &std::path::Path) -> (Child, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = asnd()
        .args(["serve", "--config"])
        .arg(file)
        .env("ASND_SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    (child, format!("https://localhost:{port}/notifications"))
}

/// Posts `body` to `url` once the daemon there answers; the status.
async fn post_when_up(client: &reqwest::Client, url: &str, body: String) -> u16 {
    wait_for("the daemon answers", Duration::from_secs(30), || async {
        client
            .post(url)
            .body(body.clone())
            .send()
            .await
            .ok()
            .map(|r| r.status().as_u16())
    })
    .await
}

/// `kill -9` of the daemon while deliveries are in flight loses none: after a restart, every
/// event reaches the receiver.
async fn kill_9_mid_delivery_loses_nothing(backend: Backend) {
    let receiver = Receiver::start().await;
    // Nothing is answered until the daemon is killed.
    receiver.hold();
    let (fixture, db, file, _) = sending_to(&receiver, backend).await;
    let client = client(&fixture.tls_cert_der);
    let (mut first, url) = serve(&file);
    let mut uuids = Vec::new();
    for _ in 0..5 {
        let (uuid, body) = signed_renewal();
        assert_eq!(post_when_up(&client, &url, body).await, 200);
        uuids.push(uuid);
    }
    wait_for("a delivery in flight", Duration::from_secs(10), || async {
        (db.number("SELECT COUNT(*) FROM event_deliveries WHERE leased_until IS NOT NULL")
            .await
            > 0)
        .then_some(())
    })
    .await;
    first.kill().unwrap();
    first.wait().unwrap();

    receiver.release();
    let (mut second, _) = serve(&file);
    let delivered = wait_for(
        "every event delivered after the restart",
        Duration::from_secs(60),
        || async {
            let requests = receiver.requests();
            let mut seen: Vec<String> = requests
                .iter()
                .map(|r| r.json()["notification_uuid"].as_str().unwrap().to_string())
                .collect();
            seen.sort();
            seen.dedup();
            (seen.len() == uuids.len()).then_some(seen)
        },
    )
    .await;
    let mut expected = uuids.clone();
    expected.sort();
    assert_eq!(delivered, expected);
    signal(&second, "-TERM");
    wait_exit(&mut second, Duration::from_secs(30));
}
on_both_stores!(kill_9_mid_delivery_loses_nothing);

/// Two replicas on one PostgreSQL deliver each event once while both are healthy, and every
/// event when one of them is killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_share_the_work() {
    if skip_without_postgres("two_replicas_share_the_work").await {
        return;
    }
    let receiver = Receiver::start().await;
    let (fixture, db, file, _) = sending_to(&receiver, Backend::Postgres).await;
    let client = client(&fixture.tls_cert_der);
    let (mut a, url_a) = serve(&file);
    let (mut b, url_b) = serve(&file);
    for i in 0..20 {
        let (_, body) = signed_renewal();
        let url = if i % 2 == 0 { &url_a } else { &url_b };
        assert_eq!(post_when_up(&client, url, body).await, 200);
    }
    let requests = receiver.wait_for(20).await;
    wait_for("all delivered", Duration::from_secs(10), || async {
        (db.deliveries_in("delivered").await == 20).then_some(())
    })
    .await;
    let mut ids: Vec<&str> = requests.iter().map(|r| r.header("webhook-id")).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(
        (ids.len(), receiver.requests().len()),
        (20, 20),
        "each event once"
    );

    // One replica killed while events are in flight: the other delivers them all.
    receiver.hold();
    for _ in 0..10 {
        let (_, body) = signed_renewal();
        assert_eq!(post_when_up(&client, &url_a, body).await, 200);
    }
    a.kill().unwrap();
    a.wait().unwrap();
    receiver.release();
    wait_for(
        "the survivor delivers the rest",
        Duration::from_secs(60),
        || async { (db.deliveries_in("delivered").await == 30).then_some(()) },
    )
    .await;
    let mut ids: Vec<String> = receiver
        .requests()
        .iter()
        .map(|r| r.header("webhook-id").to_string())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 30);
    signal(&b, "-TERM");
    wait_exit(&mut b, Duration::from_secs(30));
}

#[test]
fn a_destination_needs_a_url_and_a_secret() {
    let fixture = Fixture::new();
    let config = with_destinations(
        &fixture,
        "[[destinations]]\nname = \"two words\"\nurl = \"ftp://x\"\nsecrets = [\"plain\"]\n",
        Vec::new(),
    );
    let problems = config.validate().unwrap_err().to_string();
    for expected in [
        "destinations[0].name",
        "destinations[0].url: \"ftp://x\" is not an http:// or https:// URL",
        "destinations[0].secrets[0]: must be whsec_",
    ] {
        assert!(problems.contains(expected), "{expected}: {problems}");
    }
    assert!(
        !problems.contains("plain"),
        "a secret is never shown: {problems}"
    );
}

/// On PostgreSQL each stored notification is announced on `asnd_events` with its event id, for
/// consumers inside the database (`LISTEN asnd_events`).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_announces_each_event() {
    if skip_without_postgres("postgres_announces_each_event").await {
        return;
    }
    let env = Env::start(Backend::Postgres, LOOPBACK, |_| {}).await;
    let mut listener = sqlx::postgres::PgListener::connect(&env.db.url)
        .await
        .unwrap();
    listener.listen("asnd_events").await.unwrap();
    let (uuid, body) = signed_renewal();
    assert_eq!(env.daemon.post(body).await.0, 200);
    let announced = tokio::time::timeout(Duration::from_secs(10), listener.recv())
        .await
        .expect("a notification on asnd_events")
        .unwrap();
    let id = env
        .db
        .number(&format!(
            "SELECT id FROM notifications WHERE notification_uuid = '{uuid}'"
        ))
        .await;
    assert_eq!(announced.payload(), format!("evt_{id}"));
    env.finish().await;
}

/// Delivered rows go after `[delivery] retention`; dead and pending ones stay.
async fn retention_deletes_only_delivered_rows(backend: Backend) {
    let (ok, gone) = (Receiver::start().await, Receiver::start().await);
    gone.answer_next(&[410]);
    let extra = destination("ok", &ok, "event", "") + &destination("gone", &gone, "event", "");
    let s = Setup::start(backend, &extra).await;
    let (_, body) = signed_renewal();
    assert_eq!(s.daemon.post(body).await.0, 200);
    wait_for(
        "both attempts recorded",
        Duration::from_secs(10),
        || async {
            (s.db
                .number("SELECT COUNT(*) FROM event_deliveries WHERE state <> 'pending'")
                .await
                == 2)
                .then_some(())
        },
    )
    .await;
    s.daemon.server.shutdown().await;
    let store = s.db.store().await;
    assert_eq!(store.outbox().prune(now_ms() - 60_000).await.unwrap(), 0);
    assert_eq!(store.outbox().prune(now_ms() + 1).await.unwrap(), 1);
    assert_eq!(
        s.db.column("SELECT state FROM event_deliveries").await,
        vec!["dead"]
    );
    store.close().await;
}
on_both_stores!(retention_deletes_only_delivered_rows);

/// The configuration shown in docs/events.md is valid.
#[test]
fn the_documented_configuration_is_valid() {
    let block = code_blocks(include_str!("../docs/events.md"), "toml")[0];
    let fixture = Fixture::new();
    let config = with_destinations(&fixture, block, Vec::new());
    config.validate().unwrap();
    assert_eq!(config.destinations[0].name, "backend");
    assert_eq!(config.destinations[0].types, ["DID_RENEW", "REFUND"]);
}

/// A later event of a subscription waits while an earlier one is being retried: the receiver
/// sees them in the order they were stored, whatever the failures.
async fn a_subscription_waits_for_its_earlier_event(backend: Backend) {
    let receiver = Receiver::start().await;
    receiver.answer_next(&[500]);
    let s = Setup::start(backend, &destination("backend", &receiver, "event", "")).await;
    let sub = Sub::random("Sandbox");
    let first = notification(
        "SUBSCRIBED",
        Some("INITIAL_BUY"),
        &sub,
        "9100000001",
        now_ms(),
        Some(1),
    );
    let second = notification("DID_RENEW", None, &sub, "9100000002", now_ms() + 1, Some(1));
    for n in [&first, &second] {
        assert_eq!(s.daemon.post_signed(n).await.0, 200);
    }
    let arrived: Vec<String> = receiver
        .wait_for(3)
        .await
        .iter()
        .map(|r| r.json()["notification_type"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(arrived, ["SUBSCRIBED", "SUBSCRIBED", "DID_RENEW"]);
    s.daemon.server.shutdown().await;
}
on_both_stores!(a_subscription_waits_for_its_earlier_event);

/// Signing secrets can come from the environment, several at once.
#[test]
fn secrets_come_from_the_environment() {
    let fixture = Fixture::new();
    let env = vec![(
        "ASND_DESTINATIONS__0__SECRETS".to_string(),
        format!("{},{}", secret("one"), secret("two")),
    )];
    let config = with_destinations(
        &fixture,
        "[[destinations]]\nname = \"backend\"\nurl = \"http://127.0.0.1:9/\"\n",
        env,
    );
    config.validate().unwrap();
    let secrets: Vec<&String> = config.destinations[0]
        .secrets
        .iter()
        .map(|s| s.expose())
        .collect();
    assert_eq!(secrets, [&secret("one"), &secret("two")]);
    let printed = config.to_redacted_toml().unwrap();
    assert!(!printed.contains(&secret("one")), "{printed}");
}

/// A lease that ran out is not the worker's any more: its result is not recorded over the
/// result of the worker that leased the delivery since.
async fn a_lost_lease_records_nothing(backend: Backend) {
    let receiver = Receiver::start().await;
    let (_fixture, db, _, config) = sending_to(&receiver, backend).await;
    // Stored through a pipeline alone: no workers run, the test leases by hand.
    let store = db.store().await;
    let pipeline = asnd::ingest::Pipeline::from_config(&config, store.clone()).unwrap();
    let (_, body) = signed_renewal();
    let outcome = pipeline
        .ingest(asnd::ingest::Received {
            body: body.into(),
            source: "127.0.0.1".into(),
            received_at_ms: now_ms(),
        })
        .await;
    assert_eq!(outcome.http_status(), 200, "{outcome:?}");
    let outbox = store.outbox();
    let now = now_ms();
    let first = outbox.claim(now, now + 1_000, 10).await.unwrap();
    assert_eq!(first.len(), 1);
    assert!(
        outbox.claim(now, now + 1_000, 10).await.unwrap().is_empty(),
        "leased"
    );
    let second = outbox.claim(now + 2_000, now + 3_000, 10).await.unwrap();
    assert_eq!(
        (second.len(), second[0].attempts),
        (1, 2),
        "the lease ran out"
    );
    let delivered = |attempts| asnd::store::AttemptResult {
        state: asnd::store::DeliveryState::Delivered,
        next_attempt_at: now,
        delivered_at: Some(now),
        status: Some(200),
        error: None,
        attempts,
    };
    assert!(!outbox.finish(&first[0], &delivered(1)).await.unwrap());
    assert!(outbox.finish(&second[0], &delivered(2)).await.unwrap());
    assert_eq!(
        db.one("SELECT state || ' ' || CAST(attempts AS TEXT) FROM event_deliveries")
            .await,
        "delivered 2"
    );
    store.close().await;
}
on_both_stores!(a_lost_lease_records_nothing);

/// A destination URL's credentials never reach the logs or `last_error`.
async fn url_credentials_stay_out_of_errors(backend: Backend) {
    let extra = format!(
        "[[destinations]]\nname = \"secret\"\nurl = \"http://user:hunter2@127.0.0.1:1/events?token=s3cr3t\"\n\
         secrets = [\"{}\"]\ntimeout = \"2s\"\n",
        secret("k")
    );
    let s = Setup::start(backend, &extra).await;
    let (_, body) = signed_renewal();
    assert_eq!(s.daemon.post(body).await.0, 200);
    let error = wait_for("a failed attempt", Duration::from_secs(10), || async {
        s.db.at_most_one("SELECT last_error FROM event_deliveries WHERE last_error IS NOT NULL")
            .await
    })
    .await;
    assert!(
        !error.contains("hunter2") && !error.contains("s3cr3t"),
        "{error}"
    );
    s.daemon.server.shutdown().await;
}
on_both_stores!(url_credentials_stay_out_of_errors);

/// `asnd deliveries` with its database unreachable fails (1) without showing the password; a
/// retry that names neither an id nor a destination is a usage error (2).
#[test]
fn deliveries_says_what_is_wrong() {
    let fixture = Fixture::new();
    let file = fixture.unreachable_database_file();
    let (code, _, stderr) = deliveries(&file, &["list"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        !stderr.contains("hunter2") && !stderr.contains("panicked"),
        "{stderr}"
    );
    let (code, _, stderr) = deliveries(&file, &["retry"]);
    assert_eq!(code, Some(2), "{stderr}");
}
