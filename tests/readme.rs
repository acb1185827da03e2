//! Every SQL query in README.md runs, on the backend it is written for, against a schema holding
//! real rows (stored through the daemon), so the documentation cannot drift from the schema.

#[macro_use]
mod common;

use common::*;

/// `(backend, query)` for each ```sql block; the block's first line names the backend.
fn readme_queries() -> Vec<(Backend, String)> {
    let readme = include_str!("../README.md");
    let mut out = Vec::new();
    for block in readme.split("```sql\n").skip(1) {
        let body = block.split("```").next().unwrap();
        let first = body.lines().next().unwrap_or_default();
        let backend = match first.trim() {
            "-- PostgreSQL" => Backend::Postgres,
            "-- SQLite" => Backend::Sqlite,
            other => panic!(
                "README sql block must start with `-- PostgreSQL` or `-- SQLite`, not {other:?}"
            ),
        };
        out.push((backend, body.to_string()));
    }
    out
}

async fn readme_queries_run(backend: Backend) {
    let queries: Vec<String> = readme_queries()
        .into_iter()
        .filter(|(b, _)| *b == backend)
        .map(|(_, q)| q)
        .collect();
    assert!(
        queries.len() >= 6,
        "at least six example queries per backend"
    );
    let Env {
        fixture: _fixture,
        db,
        daemon,
    } = Env::start(backend, LOOPBACK, |_| {}).await;
    let s = Sub {
        original_transaction_id: "2000000000000000".into(),
        env: "Production",
    };
    for (kind, txn, status) in [
        ("SUBSCRIBED", "2000000000000000", 1),
        ("REFUND", "2000000000000001", 5),
    ] {
        let n = notification(kind, None, &s, txn, now_ms(), Some(status));
        assert_eq!(daemon.post_signed(&n).await.0, 200);
    }
    assert_eq!(daemon.post("garbage").await.0, 400);
    for q in &queries {
        // Each query must run; the history query must find the two notifications stored above.
        let rows = db
            .column(&format!(
                "SELECT CAST(COUNT(*) AS TEXT) FROM ({}) AS q",
                q.trim().trim_end_matches(';')
            ))
            .await;
        if q.contains("WHERE original_transaction_id = '2000000000000000'") {
            assert_eq!(rows, vec!["2".to_string()], "{q}");
        }
        if q.contains("FROM rejected_notifications") {
            assert_eq!(rows, vec!["1".to_string()], "{q}");
        }
        if q.contains("notification_type = 'REFUND'") {
            assert_eq!(rows, vec!["1".to_string()], "{q}");
        }
    }
    daemon.server.shutdown().await;
}
on_both_stores!(readme_queries_run);
