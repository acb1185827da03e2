//! `cargo bench --bench ingest`: verified notifications stored per second, in process (the
//! pipeline without HTTP or TLS), into SQLite and into PostgreSQL (DATABASE_URL, default
//! postgres://postgres@127.0.0.1:5432/postgres). Each notification is unique, carries a nested
//! transaction and renewal info signed by an Apple-shaped chain, and writes three rows.
//! Prints `ingest_sqlite: N notifications/s` and `ingest_postgres: N notifications/s` last.

use std::sync::Arc;
use std::time::{Duration, Instant};

use asnd::apple::devchain::{ChainSpec, DevChain};
use asnd::config::Config;
use asnd::ingest::{Outcome, Pipeline, Received};
use asnd::store::{self, StoreOptions};
use asnd::time::now_ms;
use serde_json::json;

const COUNT: usize = 4000;
const CONCURRENCY: usize = 32;

/// The configuration `serve` would have for this app, trusting only the development root
/// (written to `dir`); V2 only: no V1 secrets.
fn config(chain: &DevChain, dir: &std::path::Path) -> Config {
    let root = dir.join("root.der");
    std::fs::write(&root, &chain.root_der).expect("write root");
    let toml = format!(
        "[database]\ntimeout = \"30s\"\n[verify]\nroots = [{:?}]\n\
         [[apps]]\nbundle_id = \"com.example.app\"\napp_apple_id = 1234567890\n\
         environments = [\"Production\", \"Sandbox\"]\n",
        root.display().to_string()
    );
    Config::from_toml_str(&toml, []).expect("config")
}

fn bodies(chain: &DevChain) -> Vec<bytes::Bytes> {
    (0..COUNT)
        .map(|i| {
            let now = now_ms();
            let original = format!("{}", 3_000_000_000_000u64 + i as u64);
            let txn = json!({"transactionId": format!("{}", 4_000_000_000_000u64 + i as u64), "originalTransactionId": original,
                "bundleId": "com.example.app", "productId": "pro.monthly", "type": "Auto-Renewable Subscription",
                "purchaseDate": now, "expiresDate": now + 2_592_000_000i64, "signedDate": now, "environment": "Production",
                "storefront": "USA", "price": 9990, "currency": "USD", "inAppOwnershipType": "PURCHASED"});
            let renewal = json!({"originalTransactionId": original, "autoRenewProductId": "pro.monthly", "productId": "pro.monthly",
                "autoRenewStatus": 1, "signedDate": now, "environment": "Production", "renewalDate": now + 2_592_000_000i64});
            let n = json!({"notificationType": "DID_RENEW", "notificationUUID": uuid::Uuid::new_v4().to_string(),
                "version": "2.0", "signedDate": now, "data": {"appAppleId": 1234567890, "bundleId": "com.example.app",
                "environment": "Production", "status": 1, "signedTransactionInfo": chain.sign(&txn),
                "signedRenewalInfo": chain.sign(&renewal)}});
            bytes::Bytes::from(json!({"signedPayload": chain.sign(&n)}).to_string())
        })
        .collect()
}

async fn run(url: &str, chain: &DevChain, config: &Config) -> f64 {
    let options = StoreOptions {
        max_connections: 16,
        acquire_timeout: Duration::from_secs(10),
    };
    let store = store::connect(url, &options).await.expect("database");
    store.migrate().await.expect("migrate");
    let pipeline = Arc::new(Pipeline::from_config(config, store.clone()).expect("pipeline"));
    let queue = Arc::new(std::sync::Mutex::new(bodies(chain)));
    let start = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..CONCURRENCY {
        let (pipeline, queue) = (pipeline.clone(), queue.clone());
        workers.push(tokio::spawn(async move {
            loop {
                let Some(body) = queue.lock().expect("queue").pop() else {
                    break;
                };
                let received = Received {
                    body,
                    source: "17.0.0.1".into(),
                    received_at_ms: now_ms(),
                };
                let outcome = pipeline.ingest(received).await;
                assert!(matches!(outcome, Outcome::Stored { .. }), "{outcome:?}");
            }
        }));
    }
    for w in workers {
        w.await.expect("worker");
    }
    let rate = COUNT as f64 / start.elapsed().as_secs_f64();
    store.close().await;
    rate
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let chain = DevChain::generate(&ChainSpec::default()).expect("chain");
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config(&chain, dir.path());
    let sqlite = rt.block_on(run(
        &format!("sqlite://{}", dir.path().join("bench.db").display()),
        &chain,
        &config,
    ));

    let admin = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let name = format!("asnd_bench_{}", uuid::Uuid::new_v4().simple());
    let postgres = rt.block_on(async {
        let pool = sqlx::PgPool::connect(&admin)
            .await
            .expect("PostgreSQL at DATABASE_URL");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&pool)
            .await
            .expect("create database");
        let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
        let rate = run(&format!("{base}/{name}"), &chain, &config).await;
        sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
            .execute(&pool)
            .await
            .expect("drop database");
        rate
    });
    println!(
        "({COUNT} notifications, {CONCURRENCY} at a time, each verified with 3 ES256 checks and stored as 3 rows)"
    );
    println!("ingest_sqlite: {sqlite:.0} notifications/s");
    println!("ingest_postgres: {postgres:.0} notifications/s");
}
