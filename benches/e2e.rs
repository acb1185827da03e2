//! `cargo bench --bench e2e`: the whole path, as Apple would use it. `asnd serve --dev` (the
//! release binary) receives `asnd simulate --count N --concurrency 32` (TLS 1.3, HTTP/1.1
//! keep-alive, every notification unique with two nested payloads), first into PostgreSQL
//! (`DATABASE_URL`'s server, a scratch database, `sslmode=disable`), then into SQLite. For each it
//! prints notifications/s, p99, and the CPU milliseconds each notification cost `serve` and the
//! database (from `/proc`: the serve process, and every `postgres` process of the machine).
//!
//! In the same run, pgbench measures what the same PostgreSQL does with a comparable transaction
//! of its own (a 12 KB row, as `raw_body` is stored, plus a guarded upsert; 8 clients), and the last
//! line is the ratio `e2e_postgres_vs_pgbench: 0.xx`.
//!
//! Settings (environment): `ASND_E2E_COUNT` (default 20000), `ASND_E2E_PRELOAD` (default 0): rows
//! to store in PostgreSQL before the measured run (the growth benchmark; see
//! docs/performance.md), after which the
//! PostgreSQL queries of docs/queries.md (the README's) are timed on that data.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

const CONCURRENCY: &str = "32";
const WARM_UP: usize = 1000;
const PGBENCH_SECONDS: &str = "20";

fn main() {
    if std::env::args().any(|a| a == "--list") {
        // `cargo bench` asks harness-less benches to list themselves; nothing to list.
        return;
    }
    let count = setting("ASND_E2E_COUNT", 20_000);
    let preload = setting("ASND_E2E_PRELOAD", 0);
    let admin = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let dir = tempfile::tempdir().expect("tempdir");

    let database = "asnd_e2e";
    recreate_database(&admin, database);
    let pg_url = with_database(&admin, database) + "?sslmode=disable";
    let postgres = run_store(dir.path(), &pg_url, count, preload);
    postgres.print("postgres");
    if preload > 0 {
        time_readme_queries(&pg_url);
    }

    let sqlite_url = format!("sqlite://{}", dir.path().join("e2e.db").display());
    let sqlite = run_store(dir.path(), &sqlite_url, count, 0);
    sqlite.print("sqlite");

    let tps = pgbench(&admin);
    println!("pgbench_12kb_row_and_upsert: {tps:.0} transactions/s");
    println!(
        "sqlite_vs_postgres: {:.2}",
        sqlite.per_second / postgres.per_second
    );
    println!("e2e_postgres_vs_pgbench: {:.2}", postgres.per_second / tps);
}

fn setting(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a whole number, not {v:?}")),
        Err(_) => default,
    }
}

/// One store's figures.
struct Figures {
    per_second: f64,
    p99: String,
    serve_ms: f64,
    database_ms: f64,
}

impl Figures {
    fn print(&self, store: &str) {
        println!("e2e_{store}: {:.0} notifications/s", self.per_second);
        println!("e2e_{store}_p99: {}", self.p99);
        // SQLite runs inside serve: its CPU is serve's.
        println!(
            "e2e_{store}_cpu_per_notification: serve {:.3} ms, database {:.3} ms",
            self.serve_ms, self.database_ms
        );
    }
}

fn run_store(dir: &Path, url: &str, count: usize, preload: usize) -> Figures {
    let (mut serve, notify_url) = serve(dir, url);
    simulate(dir, &notify_url, WARM_UP);
    if preload > 0 {
        preload_rows(url, preload);
    }
    let serve_before = ticks(serve.id()).expect("serve is running");
    let db_before = postgres_ticks();
    let report = simulate(dir, &notify_url, count);
    let serve_used = ticks(serve.id()).expect("serve is running") - serve_before;
    let db_used = delta(&db_before, &postgres_ticks());
    let _ = Command::new("kill")
        .args(["-TERM", &serve.id().to_string()])
        .status();
    let _ = serve.wait();
    let ok = report.get("status 200").map(String::as_str) == Some(&count.to_string());
    assert!(ok, "not every notification was stored: {report:?}");
    let ms_per = |t: u64| t as f64 * 1000.0 / clock_ticks() / count as f64;
    Figures {
        per_second: number(&report["throughput"]),
        p99: report["latency p99"].clone(),
        serve_ms: ms_per(serve_used),
        database_ms: ms_per(db_used),
    }
}

/// Starts `asnd serve --dev` in `dir` on a free port with `database_url`; returns it and its
/// notification URL once it serves.
fn serve(dir: &Path, database_url: &str) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_asnd"))
        .args(["serve", "--dev"])
        .current_dir(dir)
        .env("ASND_SERVER__LISTEN", "127.0.0.1:0")
        .env("ASND_DATABASE__URL", database_url)
        .env("ASND_LOG__FORMAT", "json")
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start asnd serve");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let url = loop {
        let line = lines
            .next()
            .expect("asnd serve ended before serving")
            .expect("read serve's log");
        // The JSON log's start line carries the notification URL in `url`.
        let entry: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        if entry["message"] == "asnd serving"
            && let Some(url) = entry["url"].as_str()
        {
            break url.replace("127.0.0.1", "localhost");
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (child, url)
}

/// Runs `asnd simulate --dev --count N` against `url`; its report as `key: value` pairs.
fn simulate(dir: &Path, url: &str, count: usize) -> HashMap<String, String> {
    let out = Command::new(env!("CARGO_BIN_EXE_asnd"))
        .args(["simulate", "--dev", "--url", url, "--count"])
        .arg(count.to_string())
        .args(["--concurrency", CONCURRENCY])
        .current_dir(dir)
        .stderr(Stdio::inherit())
        .output()
        .expect("run asnd simulate");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "asnd simulate failed:\n{text}");
    text.lines()
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The leading number of `"1234.5 notifications/s"`.
fn number(text: &str) -> f64 {
    text.split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("not a figure: {text:?}"))
}

/// User plus system CPU of one process, in clock ticks.
fn ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start at field 3.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// CPU ticks of every `postgres` process, by pid.
fn postgres_ticks() -> HashMap<u32, u64> {
    let mut found = HashMap::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if comm.trim() == "postgres"
            && let Some(t) = ticks(pid)
        {
            found.insert(pid, t);
        }
    }
    found
}

/// CPU used between two samples; a process that started in between counts from zero.
fn delta(before: &HashMap<u32, u64>, after: &HashMap<u32, u64>) -> u64 {
    after
        .iter()
        .map(|(pid, t)| t.saturating_sub(before.get(pid).copied().unwrap_or(0)))
        .sum()
}

fn clock_ticks() -> f64 {
    let out = Command::new("getconf").arg("CLK_TCK").output();
    out.ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

fn psql(url: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args([url, "-v", "ON_ERROR_STOP=1", "-qAtc", sql])
        .output()
        .expect("run psql (Debian's postgresql-client)");
    assert!(
        out.status.success(),
        "psql failed: {}\n{sql}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn with_database(admin: &str, database: &str) -> String {
    let base = admin.split('?').next().unwrap_or(admin);
    let root = base.rsplit_once('/').map_or(base, |(root, _)| root);
    format!("{root}/{database}")
}

fn recreate_database(admin: &str, database: &str) {
    psql(
        admin,
        &format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"),
    );
    psql(admin, &format!("CREATE DATABASE {database}"));
}

/// Stores `rows` more notifications (with their transactions and subscriptions) by copying the
/// warm-up's rows under new ids, received over the last 90 days. Every column is copied but the
/// notifications' `raw_body`.
fn preload_rows(url: &str, rows: usize) {
    let started = Instant::now();
    let copies = rows.div_ceil(WARM_UP);
    for (table, key, derived) in [
        ("notifications", "notification_uuid", true),
        ("transactions", "transaction_id", false),
        ("subscriptions", "original_transaction_id", false),
    ] {
        let columns = psql(
            url,
            &format!(
                "SELECT string_agg(column_name, ',' ORDER BY ordinal_position)
                 FROM information_schema.columns
                 WHERE table_name = '{table}' AND column_name NOT IN ('id', '{key}')"
            ),
        );
        let columns = columns.trim();
        let select = columns
            .split(',')
            .map(|c| match (c, derived) {
                ("received_at", true) => "now() - (random() * interval '90 days')".to_string(),
                // The copies' bodies would be 12 KB each out of line (TOAST), 36 GB for 3
                // million, which neither a write nor a query here reads: kept empty.
                ("raw_body", true) => "''::bytea".to_string(),
                _ => format!("t.{c}"),
            })
            .collect::<Vec<_>>()
            .join(",");
        psql(
            url,
            &format!(
                "INSERT INTO {table} ({key},{columns})
                 SELECT t.{key} || '-copy-' || g, {select}
                 FROM {table} t, generate_series(1, {copies}) g"
            ),
        );
    }
    psql(url, "VACUUM ANALYZE");
    println!(
        "preloaded: {} notifications in {:.0} s",
        psql(url, "SELECT COUNT(*) FROM notifications").trim(),
        started.elapsed().as_secs_f64()
    );
}

/// Runs every PostgreSQL query the README links to (docs/queries.md) on the loaded database and
/// prints its times, with the line above it that says what it answers.
fn time_readme_queries(url: &str) {
    let document = include_str!("../docs/queries.md");
    let mut heading = "";
    for (i, part) in document.split("```sql\n").enumerate() {
        if i > 0 {
            let sql = part.split("```").next().unwrap_or_default();
            if sql.starts_with("-- PostgreSQL") {
                let [first, again] = query_times(url, sql);
                println!("query {first:>6.1} ms, again {again:>6.1} ms  {heading}");
            }
        }
        // Each pair of blocks follows a line saying what it answers ("Notifications per type
        // per day:").
        if let Some(h) = part.lines().rev().find(|l| l.ends_with(':')) {
            heading = h.trim_end_matches(':');
        }
    }
}

/// How long `sql` takes on one connection, as psql's `\timing` reports it (the round trip, not
/// psql's start): the first run, and the faster of two more (the first also sets the hint bits
/// of the rows the measured run just wrote).
fn query_times(url: &str, sql: &str) -> [f64; 2] {
    let out = Command::new("psql")
        .args([url, "-v", "ON_ERROR_STOP=1", "-qAt", "-c", "\\timing on"])
        .args(["-c", sql, "-c", sql, "-c", sql])
        .output()
        .expect("run psql (Debian's postgresql-client)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "psql failed: {text}\n{sql}");
    let times: Vec<f64> = text
        .lines()
        .filter_map(|l| l.strip_prefix("Time: "))
        .map(number)
        .collect();
    assert_eq!(times.len(), 3, "psql printed no timing: {text}");
    [times[0], times[1].min(times[2])]
}

/// pgbench's transactions per second for a transaction like a stored notification's: a 12 KB
/// uncompressed row and an upsert that keeps the newer row, 8 clients.
fn pgbench(admin: &str) -> f64 {
    let database = "asnd_pgbench";
    recreate_database(admin, database);
    let url = with_database(admin, database) + "?sslmode=disable";
    psql(
        &url,
        "CREATE TABLE rows (id bigserial PRIMARY KEY, uuid text NOT NULL UNIQUE, body bytea NOT NULL);
         ALTER TABLE rows ALTER COLUMN body SET STORAGE EXTERNAL;
         CREATE TABLE latest (key text PRIMARY KEY, signed bigint NOT NULL, body text NOT NULL);",
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("transaction.sql");
    std::fs::write(
        &script,
        "\\set key random(1, 100000)
BEGIN;
INSERT INTO rows (uuid, body)
  VALUES (md5(random()::text) || :client_id, convert_to(repeat(md5(random()::text), 375), 'UTF8'));
INSERT INTO latest (key, signed, body) VALUES (:key, (extract(epoch FROM now()) * 1000)::bigint, md5(random()::text))
  ON CONFLICT (key) DO UPDATE SET signed = excluded.signed, body = excluded.body
  WHERE latest.signed <= excluded.signed;
END;
",
    )
    .expect("write the pgbench script");
    let out = Command::new("pgbench")
        .args(["-n", "-c", "8", "-j", "2", "-T", PGBENCH_SECONDS, "-f"])
        .arg(&script)
        .arg(&url)
        .output()
        .expect("run pgbench (Debian's postgresql-contrib or postgresql-client)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "pgbench failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text.lines()
        .find_map(|l| l.strip_prefix("tps = "))
        .map(number)
        .unwrap_or_else(|| panic!("no tps in pgbench's output: {text}"))
}
