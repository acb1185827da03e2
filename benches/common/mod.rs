//! What the ingest and delivery benchmarks share: the configuration, the notifications, a
//! pipeline that stores them, and a scratch database of each kind.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use asnd::apple::devchain::{ChainSpec, DevChain};
use asnd::config::Config;
use asnd::ingest::{Outcome, Pipeline, Received};
use asnd::store::{self, Store, StoreOptions};
use asnd::time::now_ms;
use serde_json::json;

pub const CONCURRENCY: usize = 32;

/// A runtime, an Apple-shaped signing chain and a scratch directory: what every bench starts
/// with.
pub fn setup() -> (tokio::runtime::Runtime, DevChain, tempfile::TempDir) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let chain = DevChain::generate(&ChainSpec::default()).expect("chain");
    (rt, chain, tempfile::tempdir().expect("tempdir"))
}

/// The configuration `serve` would have for this app, trusting only the development root
/// (written to `dir`), V2 only, with `extra` TOML appended (destinations).
pub fn config(chain: &DevChain, dir: &std::path::Path, extra: &str) -> Config {
    let root = dir.join("root.der");
    std::fs::write(&root, &chain.root_der).expect("write root");
    let toml = format!(
        "[database]\ntimeout = \"30s\"\n[verify]\nroots = [{:?}]\n\
         [[apps]]\nbundle_id = \"com.example.app\"\napp_apple_id = 1234567890\n\
         environments = [\"Production\", \"Sandbox\"]\n{extra}",
        root.display().to_string()
    );
    Config::from_toml_str(&toml, []).expect("config")
}

/// A `[[destinations]]` entry named `name` posting to `url`.
pub fn destination(name: &str, url: &str) -> String {
    format!(
        "[[destinations]]\nname = \"{name}\"\nurl = \"{url}\"\n\
         secrets = [\"whsec_YmVuY2htYXJrIGtleQ==\"]\n"
    )
}

/// `count` unique notifications, each of its own subscription, with a nested transaction and
/// renewal info: three rows each.
pub fn bodies(chain: &DevChain, count: usize) -> Vec<bytes::Bytes> {
    (0..count)
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

/// Opens and migrates the store at `url`.
pub async fn open(url: &str) -> Arc<dyn Store> {
    let options = StoreOptions {
        max_connections: 16,
        acquire_timeout: Duration::from_secs(10),
    };
    let store = store::connect(url, &options).await.expect("database");
    store.migrate().await.expect("migrate");
    store
}

/// Ingests `bodies` through `config`'s pipeline, `CONCURRENCY` at a time; notifications/s.
pub async fn ingest(store: Arc<dyn Store>, config: &Config, bodies: Vec<bytes::Bytes>) -> f64 {
    let count = bodies.len();
    let pipeline = Arc::new(Pipeline::from_config(config, store).expect("pipeline"));
    let queue = Arc::new(std::sync::Mutex::new(bodies));
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
    count as f64 / start.elapsed().as_secs_f64()
}

/// A scratch PostgreSQL database at DATABASE_URL's server for `body`, dropped afterwards.
pub async fn with_postgres<F, Fut, T>(body: F) -> T
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let admin = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let name = format!("asnd_bench_{}", uuid::Uuid::new_v4().simple());
    let pool = sqlx::PgPool::connect(&admin)
        .await
        .expect("PostgreSQL at DATABASE_URL");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&pool)
        .await
        .expect("create database");
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
    let result = body(format!("{base}/{name}")).await;
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&pool)
        .await
        .expect("drop database");
    result
}
