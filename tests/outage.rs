//! The database goes away mid-run (a TCP proxy in front of PostgreSQL cuts every connection):
//! requests answer 503, never 200 without a committed row, readiness turns 503; when the database
//! returns, the same requests are stored exactly once.

mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use common::*;
use serde_json::json;

fn upstream_addr() -> String {
    let url = admin_url();
    let after_at = url.rsplit_once('@').map_or(url.as_str(), |(_, h)| h);
    let host_port = after_at.split('/').next().unwrap();
    if host_port.contains(':') {
        host_port.to_string()
    } else {
        format!("{host_port}:5432")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn database_outage_answers_503_and_loses_nothing() {
    if skip_without_postgres("database_outage_answers_503_and_loses_nothing").await {
        return;
    }
    let fixture = Fixture::new();
    let db = TestDb::new(Backend::Postgres).await;
    let proxy = DbProxy::start(upstream_addr(), Arc::new(AtomicBool::new(true))).await;
    let name = db
        .url
        .rsplit('/')
        .next()
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_string();
    let via_proxy = with_database(
        &format!(
            "postgres://postgres@127.0.0.1:{}/postgres",
            proxy.addr.port()
        ),
        &name,
    );
    let mut config = fixture.config(&via_proxy, LOOPBACK);
    config.database.timeout = std::time::Duration::from_secs(1);
    let daemon = Daemon::start(&config, &fixture.tls_cert_der).await;

    let bodies: Vec<(String, String)> = (0..30)
        .map(|i| {
            let s = Sub {
                original_transaction_id: format!("30000000000{i:02}"),
                env: "Sandbox",
            };
            let n = notification(
                "DID_RENEW",
                None,
                &s,
                &format!("40000000000{i:02}"),
                now_ms(),
                Some(1),
            );
            (
                n["notificationUUID"].as_str().unwrap().to_string(),
                json!({"signedPayload": chain().sign(&n)}).to_string(),
            )
        })
        .collect();

    // Ten go through; the database is cut while the other twenty are in flight.
    let mut acknowledged = HashSet::new();
    for (uuid, body) in &bodies[..10] {
        assert_eq!(daemon.post(body.clone()).await.0, 200);
        acknowledged.insert(uuid.clone());
    }
    let mut tasks = Vec::new();
    for (uuid, body) in bodies[10..].iter().cloned() {
        let client = daemon.client.clone();
        let url = daemon.url("/notifications");
        tasks.push(tokio::spawn(async move {
            let resp = client.post(url).body(body).send().await.unwrap();
            let retry_after = resp.headers().get("retry-after").is_some();
            (uuid, resp.status().as_u16(), retry_after)
        }));
        if tasks.len() == 5 {
            proxy.cut();
        }
    }
    let mut refused = 0;
    for t in tasks {
        let (uuid, status, retry_after) = t.await.unwrap();
        match status {
            200 => {
                acknowledged.insert(uuid);
            }
            503 => {
                assert!(retry_after, "503 carries Retry-After");
                refused += 1;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(refused > 0, "the outage was noticed");
    assert_eq!(
        daemon.get("/readyz").await,
        503,
        "not ready without a database"
    );
    let (status, reply) = daemon.post(bodies[29].1.clone()).await;
    assert_eq!(status, 503, "{reply}");

    // Every 200 has its committed row.
    proxy.restore();
    let stored: HashSet<String> = db
        .column("SELECT notification_uuid FROM notifications")
        .await
        .into_iter()
        .collect();
    assert!(
        acknowledged.is_subset(&stored),
        "a request answered 200 without a committed row"
    );

    // Apple retries everything that was not acknowledged (and some that were): each stored once.
    wait_for(
        "ready again once the database is back",
        std::time::Duration::from_secs(10),
        || async { (daemon.get("/readyz").await == 200).then_some(()) },
    )
    .await;
    for (_, body) in &bodies {
        let (status, reply) = daemon.post(body.clone()).await;
        assert_eq!(status, 200, "{reply}");
    }
    assert_eq!(db.count("notifications").await, 30);
    assert_eq!(db.count("transactions").await, 30);
    assert_eq!(db.count("subscriptions").await, 30);
    daemon.server.shutdown().await;
}

/// A database that answers too slowly (a table locked by someone else) is as good as down:
/// 503 with Retry-After within `database.timeout`, nothing written; once it is free again the
/// retry is stored once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_database_slower_than_the_bound_answers_503() {
    if skip_without_postgres("a_database_slower_than_the_bound_answers_503").await {
        return;
    }
    let env = Env::start(Backend::Postgres, LOOPBACK, |c| {
        c.database.timeout = std::time::Duration::from_millis(800)
    })
    .await;
    let (db, daemon) = (&env.db, &env.daemon);

    let locker = sqlx::PgPool::connect(&db.url).await.unwrap();
    let mut lock = locker.begin().await.unwrap();
    sqlx::query("LOCK TABLE notifications IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *lock)
        .await
        .unwrap();

    let s = Sub {
        original_transaction_id: "9100000000000".into(),
        env: "Sandbox",
    };
    let n = notification("DID_RENEW", None, &s, "9100000000001", now_ms(), Some(1));
    let body = json!({"signedPayload": chain().sign(&n)}).to_string();
    let resp = daemon
        .client
        .post(daemon.url("/notifications"))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 503);
    assert!(resp.headers().get("retry-after").is_some());

    lock.rollback().await.unwrap();
    locker.close().await;
    // The abandoned insert may still commit once the lock is gone (the safe direction: Apple's
    // retry is then a duplicate). Either way the retry is answered 200 and stored once.
    assert_eq!(daemon.post(body.clone()).await.0, 200);
    assert_eq!(daemon.post(body).await.1["status"], "duplicate");
    assert_eq!(db.count("notifications").await, 1);
    env.finish().await;
}
