//! `cargo bench --bench ingest`: verified notifications stored per second, in process (the
//! pipeline without HTTP or TLS), into SQLite and into PostgreSQL (DATABASE_URL, default
//! postgres://postgres@127.0.0.1:5432/postgres). Each notification is unique, carries a nested
//! transaction and renewal info signed by an Apple-shaped chain, and writes three rows; with two
//! `[[destinations]]` configured, two outbox rows more (nothing is sent: no workers run here).
//! Prints the rates with and without destinations, `ingest_sqlite: N notifications/s` and
//! `ingest_postgres: N notifications/s` last.

mod common;

const COUNT: usize = 4000;

fn main() {
    let (rt, chain, dir) = common::setup();
    let plain = common::config(&chain, dir.path(), "");
    let two = common::destination("backend", "http://127.0.0.1:9/events")
        + &common::destination("analytics", "http://127.0.0.1:9/analytics");
    let with_destinations = common::config(&chain, dir.path(), &two);

    let mut rates = Vec::new();
    for (label, config) in [("", &plain), ("_two_destinations", &with_destinations)] {
        let sqlite = rt.block_on(async {
            let file = dir.path().join(format!("bench{label}.db"));
            let store = common::open(&format!("sqlite://{}", file.display())).await;
            let rate = common::ingest(store.clone(), config, common::bodies(&chain, COUNT)).await;
            store.close().await;
            rate
        });
        let chain = &chain;
        let postgres = rt.block_on(common::with_postgres(|url| async move {
            let store = common::open(&url).await;
            let rate = common::ingest(store.clone(), config, common::bodies(chain, COUNT)).await;
            store.close().await;
            rate
        }));
        rates.push((label, sqlite, postgres));
    }
    println!(
        "({COUNT} notifications, {} at a time, each verified with 3 ES256 checks and stored as 3 rows)",
        common::CONCURRENCY
    );
    let (_, sqlite, postgres) = rates[0];
    let (_, sqlite_two, postgres_two) = rates[1];
    println!("ingest_sqlite_two_destinations: {sqlite_two:.0} notifications/s");
    println!("ingest_postgres_two_destinations: {postgres_two:.0} notifications/s");
    println!(
        "with_two_destinations_vs_without: sqlite {:.2}, postgres {:.2}",
        sqlite_two / sqlite,
        postgres_two / postgres
    );
    println!("ingest_sqlite: {sqlite:.0} notifications/s");
    println!("ingest_postgres: {postgres:.0} notifications/s");
}
