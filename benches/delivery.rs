//! `cargo bench --bench delivery`: events delivered per second by one replica's delivery
//! workers to a local HTTP receiver (answering 200 at once), from SQLite and from PostgreSQL
//! (DATABASE_URL). The notifications are stored first (not timed), each of its own subscription
//! so that order holds nothing back; then the workers start, and the clock runs until the
//! receiver has every event, each signed. Prints `delivery_sqlite: N events/s` and
//! `delivery_postgres: N events/s` last.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use asnd::apple::devchain::DevChain;
use asnd::config::Config;
use asnd::delivery::{DeliveryStats, Dispatcher};
use asnd::store::Store;
use tokio::sync::Notify;

const COUNT: usize = 2000;

/// A receiver that counts the requests it answers 200, and wakes `arrived` at each.
async fn receiver(received: Arc<AtomicUsize>, arrived: Arc<Notify>) -> String {
    let app = axum::Router::new().fallback(move || {
        let (received, arrived) = (received.clone(), arrived.clone());
        async move {
            received.fetch_add(1, Ordering::SeqCst);
            arrived.notify_one();
            axum::http::StatusCode::OK
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/events")
}

/// Stores `COUNT` notifications for `config`'s destination, then times their delivery.
async fn run(
    store: Arc<dyn Store>,
    config: &Config,
    chain: &DevChain,
    received: &AtomicUsize,
    arrived: &Notify,
) -> f64 {
    common::ingest(store.clone(), config, common::bodies(chain, COUNT)).await;
    let before = received.load(Ordering::SeqCst);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let dispatcher = Dispatcher::new(
        config,
        store,
        Arc::default(),
        Arc::new(DeliveryStats::default()),
    )
    .expect("destinations")
    .expect("one destination");
    let start = Instant::now();
    let workers = tokio::spawn(dispatcher.run(stopped));
    while received.load(Ordering::SeqCst) < before + COUNT {
        let _ = tokio::time::timeout(Duration::from_secs(1), arrived.notified()).await;
    }
    let rate = COUNT as f64 / start.elapsed().as_secs_f64();
    let _ = stop.send(true);
    let _ = workers.await;
    rate
}

fn main() {
    let (rt, chain, dir) = common::setup();
    let (received, arrived) = (Arc::new(AtomicUsize::new(0)), Arc::new(Notify::new()));
    let url = rt.block_on(receiver(received.clone(), arrived.clone()));
    let config = common::config(&chain, dir.path(), &common::destination("backend", &url));

    let sqlite = rt.block_on(async {
        let store = common::open(&format!(
            "sqlite://{}",
            dir.path().join("bench.db").display()
        ))
        .await;
        let rate = run(store.clone(), &config, &chain, &received, &arrived).await;
        store.close().await;
        rate
    });
    let postgres = rt.block_on(common::with_postgres(|db| {
        let (config, chain, received, arrived) = (&config, &chain, &received, &arrived);
        async move {
            let store = common::open(&db).await;
            let rate = run(store.clone(), config, chain, received, arrived).await;
            store.close().await;
            rate
        }
    }));
    println!(
        "({COUNT} events, format \"event\", signed, [delivery] concurrency {})",
        config.delivery.concurrency
    );
    println!("delivery_sqlite: {sqlite:.0} events/s");
    println!("delivery_postgres: {postgres:.0} events/s");
}
