//! Every SQL query in README.md and docs/*.md runs, on the backend it is written for, against a
//! schema holding real rows (stored through the daemon), and returns the rows it must: the
//! documentation cannot drift from the schema, and a reworded query keeps its check.

#[macro_use]
mod common;

use common::*;

/// The documents whose ```sql blocks are run, with their text.
const DOCUMENTS: &[(&str, &str)] = &[
    ("README.md", include_str!("../README.md")),
    ("docs/storage.md", include_str!("../docs/storage.md")),
    ("docs/queries.md", include_str!("../docs/queries.md")),
    ("docs/v1.md", include_str!("../docs/v1.md")),
    (
        "docs/appstore-api.md",
        include_str!("../docs/appstore-api.md"),
    ),
    ("docs/deploying.md", include_str!("../docs/deploying.md")),
    ("docs/verify.md", include_str!("../docs/verify.md")),
    ("docs/simulate.md", include_str!("../docs/simulate.md")),
    (
        "docs/performance.md",
        include_str!("../docs/performance.md"),
    ),
    (
        "docs/architecture.md",
        include_str!("../docs/architecture.md"),
    ),
];

/// What one query must return from the rows stored below: how many rows and, when given, the
/// values of one column (in any order).
struct Expect {
    rows: usize,
    column: Option<(&'static str, &'static [&'static str])>,
}

const fn rows(rows: usize) -> Expect {
    Expect { rows, column: None }
}

const fn with(rows: usize, name: &'static str, values: &'static [&'static str]) -> Expect {
    Expect {
        rows,
        column: Some((name, values)),
    }
}

/// Per document, the queries of one backend in the order they appear. The PostgreSQL and the
/// SQLite form of a query return the same rows, so both lists are the same where a document
/// gives both forms. A query added, removed or moved fails the test until it is listed here.
fn expected(document: &str, backend: Backend) -> Vec<Expect> {
    match (document, backend) {
        // Apple's rows only: the test data is signed by a development root.
        ("docs/storage.md", Backend::Postgres) => vec![rows(0)],
        ("docs/queries.md", _) => vec![
            // Active subscriptions right now.
            with(1, "original_transaction_id", &["3000000000000000"]),
            // Refunds in the last 30 days.
            with(1, "product_id", &["pro.monthly"]),
            // One subscription's history.
            with(2, "notification_type", &["SUBSCRIBED", "REFUND"]),
            // Notifications per type over the last 24 hours.
            with(
                4,
                "notification_type",
                &["SUBSCRIBED", "REFUND", "DID_RENEW", "DID_FAIL_TO_RENEW"],
            ),
            // Billing retry or grace period.
            with(1, "original_transaction_id", &["4000000000000000"]),
            // Quarantined requests by reason.
            with(1, "http_status", &["400"]),
            // Who bought what, by account token.
            with(
                4,
                "transaction_id",
                &[
                    "2000000000000000",
                    "2000000000000001",
                    "3000000000000001",
                    "4000000000000001",
                ],
            ),
        ],
        // No V1 notification and no delivery attempt is stored here.
        ("docs/v1.md", _) => vec![rows(0)],
        ("docs/appstore-api.md", _) => vec![rows(0)],
        _ => Vec::new(),
    }
}

/// `(backend, query)` for each ```sql block of `text`; the block's first line names the backend.
fn queries(document: &str, text: &str) -> Vec<(Backend, String)> {
    let mut out = Vec::new();
    for body in code_blocks(text, "sql") {
        let first = body.lines().next().unwrap_or_default();
        let backend = match first.trim() {
            "-- PostgreSQL" => Backend::Postgres,
            "-- SQLite" => Backend::Sqlite,
            other => panic!(
                "{document}: an sql block must start with `-- PostgreSQL` or `-- SQLite`, not {other:?}"
            ),
        };
        out.push((backend, body.trim().trim_end_matches(';').to_string()));
    }
    out
}

#[test]
fn every_query_is_listed_with_its_rows() {
    for backend in [Backend::Postgres, Backend::Sqlite] {
        let mut total = 0;
        for (document, text) in DOCUMENTS {
            let found = queries(document, text)
                .into_iter()
                .filter(|(b, _)| *b == backend)
                .count();
            assert_eq!(
                found,
                expected(document, backend).len(),
                "{document}: {backend:?} queries found vs. listed in tests/readme.rs"
            );
            total += found;
        }
        assert!(total >= 9, "the cookbook has its queries: {total}");
    }
}

async fn documented_queries_return_their_rows(backend: Backend) {
    let Env {
        fixture: _fixture,
        db,
        daemon,
    } = Env::start(backend, LOOPBACK, |_| {}).await;
    let customer = |id: &str| Sub {
        original_transaction_id: id.into(),
        env: "Production",
    };
    let (a, b, c) = (
        customer("2000000000000000"),
        customer("3000000000000000"),
        customer("4000000000000000"),
    );
    let now = now_ms();
    for (kind, sub, txn, at, status) in [
        ("SUBSCRIBED", &a, "2000000000000000", now - 2_000, 1),
        ("REFUND", &a, "2000000000000001", now - 1_000, 5),
        ("DID_RENEW", &b, "3000000000000001", now, 1),
        ("DID_FAIL_TO_RENEW", &c, "4000000000000001", now, 3),
    ] {
        let n = notification(kind, None, sub, txn, at, Some(status));
        assert_eq!(daemon.post_signed(&n).await.0, 200, "{kind}");
    }
    assert_eq!(daemon.post("garbage").await.0, 400);

    let mut checked = 0;
    for (document, text) in DOCUMENTS {
        let mine: Vec<String> = queries(document, text)
            .into_iter()
            .filter(|(b, _)| *b == backend)
            .map(|(_, q)| q)
            .collect();
        for (query, expect) in mine.iter().zip(expected(document, backend)) {
            let count = db
                .column(&format!(
                    "SELECT CAST(COUNT(*) AS TEXT) FROM ({query}) AS q"
                ))
                .await;
            assert_eq!(
                count,
                vec![expect.rows.to_string()],
                "{document}, {backend:?}:\n{query}"
            );
            if let Some((name, values)) = expect.column {
                let mut got = db
                    .column(&format!(
                        "SELECT CAST(q.{name} AS TEXT) FROM ({query}) AS q"
                    ))
                    .await;
                let mut want: Vec<String> = values.iter().map(ToString::to_string).collect();
                got.sort();
                want.sort();
                assert_eq!(got, want, "{document}, {backend:?}, {name}:\n{query}");
            }
            checked += 1;
        }
    }
    assert!(checked >= 9, "{checked}");
    daemon.server.shutdown().await;
}
on_both_stores!(documented_queries_return_their_rows);

#[test]
fn the_docker_run_example_keeps_its_data() {
    let readme = include_str!("../README.md");
    let dockerfile = include_str!("../Dockerfile");
    let run = readme
        .lines()
        .find(|l| l.trim_start().starts_with("docker run "))
        .expect("a docker run example");
    // The image works in /var/lib/asnd, where the default SQLite database lives.
    assert!(dockerfile.contains("WORKDIR /var/lib/asnd"));
    assert!(dockerfile.contains("VOLUME /var/lib/asnd"));
    assert!(
        run.contains(":/var/lib/asnd") || run.contains("ASND_DATABASE__URL=postgres"),
        "the data outlives the container: {run}"
    );
}

#[test]
fn the_readme_stays_short_and_links_its_reference() {
    let readme = include_str!("../README.md");
    let lines = readme.lines().count();
    assert!(lines <= 320, "README.md has {lines} lines");
    for (document, _) in DOCUMENTS.iter().skip(1) {
        assert!(
            readme.contains(&format!("]({document})")),
            "{document} is linked"
        );
    }
    for phrase in [
        "workplace",
        "development machine",
        "nothing else to install",
    ] {
        for (document, text) in DOCUMENTS {
            assert!(!text.contains(phrase), "{document} says {phrase:?}");
        }
    }
}
