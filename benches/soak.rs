//! The soak: `asnd serve` (this build) against PostgreSQL for half an hour under the mixed load of
//! `asnd simulate --mix`, with the database cut twice. Every few seconds it samples the daemon's
//! resident memory and open file descriptors beside the load's p99 latency and error rate, into
//! `soak.csv`, and plots them into `soak.png`. At the end it checks that memory did not grow after
//! the warm-up, that the file descriptors came back to their baseline, and that every notification
//! the daemon acknowledged is in the database.
//!
//!     nice cargo bench --bench soak
//!
//! Settings (environment): `ASND_SOAK_DURATION` (default `30min`), `ASND_SOAK_RATE` (requests
//! started per second, default 40), `ASND_SOAK_OUT` (default `target/tmp/soak`), `DATABASE_URL`
//! (default `postgres://postgres@127.0.0.1:5432/postgres`; the soak creates and drops its own
//! database there). It exits 1 when a check fails.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use plotters::prelude::*;
use sqlx::Connection;
use tokio::net::TcpStream;

#[path = "../tests/common/db_proxy.rs"]
mod db_proxy;
use db_proxy::DbProxy;

/// The binary this build made; the soak runs a copy, so that a rebuild meanwhile changes nothing.
const BUILT_ASND: &str = env!("CARGO_BIN_EXE_asnd");
const DATABASE: &str = "asnd_soak";
const V1_SECRET: &str = "soak-shared-secret";
const REPORT_EVERY: &str = "5s";
/// How long each of the two database cuts lasts.
const CUT: Duration = Duration::from_secs(20);
/// Memory may be this much higher at the end than after the warm-up (allocator noise).
const RSS_SLACK: f64 = 1.10;

/// One sampled interval.
#[derive(Debug, Clone)]
struct Sample {
    elapsed_s: f64,
    rss_kib: u64,
    fds: usize,
    /// Of `fds`, the sockets to the database.
    db_sockets: usize,
    requests: u64,
    p99_ms: f64,
    error_rate: f64,
    unexpected: u64,
    database_up: bool,
}

const CSV_HEADER: &str =
    "elapsed_s,rss_kib,fds,db_sockets,requests,p99_ms,error_rate,unexpected,database_up";

impl Sample {
    fn csv(&self) -> String {
        format!(
            "{:.1},{},{},{},{},{:.2},{:.4},{},{}",
            self.elapsed_s,
            self.rss_kib,
            self.fds,
            self.db_sockets,
            self.requests,
            self.p99_ms,
            self.error_rate,
            self.unexpected,
            u8::from(self.database_up)
        )
    }
}

fn main() {
    // `ASND_SOAK_PLOT=soak.csv`: only draw the plot of an earlier run again, beside its CSV.
    if let Some(csv) = std::env::var_os("ASND_SOAK_PLOT") {
        let csv = PathBuf::from(csv);
        plot(&read_csv(&csv), &csv.with_extension("png"));
        return;
    }
    let duration = std::env::var("ASND_SOAK_DURATION")
        .ok()
        .map(|d| humantime_parse(&d))
        .unwrap_or(Duration::from_secs(30 * 60));
    let rate: f64 = std::env::var("ASND_SOAK_RATE")
        .ok()
        .map(|r| r.parse().expect("ASND_SOAK_RATE: requests per second"))
        .unwrap_or(40.0);
    let out = std::env::var_os("ASND_SOAK_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_TARGET_TMPDIR")).join("soak"));
    let admin_url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let passed = runtime.block_on(soak(duration, rate, &out, &admin_url));
    std::process::exit(if passed { 0 } else { 1 });
}

fn humantime_parse(s: &str) -> Duration {
    humantime_serde::re::humantime::parse_duration(s).expect("ASND_SOAK_DURATION: e.g. 30min")
}

async fn soak(duration: Duration, rate: f64, out: &Path, admin_url: &str) -> bool {
    let _ = std::fs::remove_dir_all(out);
    std::fs::create_dir_all(out).expect("output folder");
    println!(
        "soak: {} at {rate} requests/s, output in {}",
        humantime_serde::re::humantime::format_duration(duration),
        out.display()
    );

    let asnd = out.join("asnd");
    std::fs::copy(BUILT_ASND, &asnd).expect("copy the asnd binary");
    let asnd = asnd.as_path();

    // The database, behind a proxy that the soak cuts.
    let (db_host, soak_url_via) = recreate_database(admin_url).await;
    let database_up = Arc::new(AtomicBool::new(true));
    let proxy = DbProxy::start(db_host, database_up.clone()).await;
    let serve_db_url = soak_url_via(proxy.addr);

    // The daemon's files and configuration.
    run_ok(
        Command::new(asnd)
            .args(["dev-ca", "--out"])
            .arg(out.join("ca")),
    );
    let tls = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("cert");
    std::fs::write(out.join("tls.pem"), tls.cert.pem()).expect("tls.pem");
    std::fs::write(out.join("tls.key"), tls.key_pair.serialize_pem()).expect("tls.key");
    let port = free_port();
    std::fs::write(
        out.join("asnd.toml"),
        format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\ntls_cert = {:?}\ntls_key = {:?}\n\
             [database]\nurl = {:?}\ntimeout = \"2s\"\n\
             [sources]\nallow = [\"127.0.0.0/8\"]\n\
             [verify]\nroots = [{:?}]\n\
             [[apps]]\nbundle_id = \"com.example.app\"\napp_apple_id = 1234567890\n\
             environments = [\"Sandbox\"]\nv1_shared_secrets = [{V1_SECRET:?}]\n",
            out.join("tls.pem").display().to_string(),
            out.join("tls.key").display().to_string(),
            serve_db_url,
            out.join("ca/root.pem").display().to_string(),
        ),
    )
    .expect("asnd.toml");
    let log = std::fs::File::create(out.join("serve.log")).expect("serve.log");
    let mut serve = Command::new(asnd)
        .args(["serve", "--config"])
        .arg(out.join("asnd.toml"))
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("start asnd serve");
    let serve_pid = serve.id();
    let listening = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        assert!(
            listening.elapsed() < Duration::from_secs(60),
            "asnd serve did not listen within a minute; see {}/serve.log",
            out.display()
        );
        assert!(
            serve.try_wait().expect("serve").is_none(),
            "asnd serve exited; see serve.log"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let baseline = Fds::of(serve_pid, proxy.addr.port());
    println!(
        "serve pid {serve_pid}: baseline {} fds ({} to the database), RSS {} KiB",
        baseline.total,
        baseline.database,
        rss_kib(serve_pid)
    );

    // The load.
    let mut simulate = Command::new(asnd)
        .args(["simulate", "--mix", asnd::simulate::mix::Mix::DEFAULT])
        .args(["--duration", &format!("{}s", duration.as_secs())])
        .args(["--rate", &rate.to_string(), "--report-every", REPORT_EVERY])
        .args(["--concurrency", "64", "--timeout", "30s"])
        .arg("--url")
        .arg(format!("https://localhost:{port}/notifications"))
        .arg("--ca")
        .arg(out.join("ca"))
        .arg("--cacert")
        .arg(out.join("tls.pem"))
        .arg("--acked")
        .arg(out.join("acked.txt"))
        .env("ASND_V1_SECRET", V1_SECRET)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start asnd simulate");
    let cuts = tokio::spawn(cut_twice(duration, proxy.clone()));
    let samples = Arc::new(Mutex::new(Vec::<Sample>::new()));
    let reader = {
        let stdout = simulate.stdout.take().expect("stdout");
        let (samples, database_up, out) = (samples.clone(), database_up.clone(), out.to_owned());
        let db_port = proxy.addr.port();
        std::thread::spawn(move || {
            let mut csv = std::fs::File::create(out.join("soak.csv")).expect("soak.csv");
            writeln!(csv, "{CSV_HEADER}").expect("soak.csv");
            for line in BufReader::new(stdout).lines() {
                let line = line.expect("simulate's output");
                let Some(sample) = sample_of(&line, serve_pid, db_port, &database_up) else {
                    continue;
                };
                writeln!(csv, "{}", sample.csv()).expect("soak.csv");
                println!("{}", sample.csv());
                samples.lock().expect("samples").push(sample);
            }
        })
    };
    let summary = {
        let mut stderr = simulate.stderr.take().expect("stderr");
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = std::io::Read::read_to_string(&mut stderr, &mut text);
            text
        })
    };
    let status = tokio::task::spawn_blocking(move || simulate.wait())
        .await
        .expect("wait")
        .expect("simulate");
    reader.join().expect("reader");
    let summary = summary.join().expect("summary");
    cuts.await.expect("cuts");
    println!("asnd simulate exited with {status}:\n{summary}");
    std::fs::write(out.join("simulate-summary.txt"), &summary).expect("summary");

    // After the load: the client connections close; the file descriptors must come back.
    let settled = Instant::now();
    let mut after = Fds::of(serve_pid, proxy.addr.port());
    while after.clients() > baseline.clients() && settled.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        after = Fds::of(serve_pid, proxy.addr.port());
    }
    let rss_end = rss_kib(serve_pid);
    let missing = missing_acknowledged(admin_url, &out.join("acked.txt")).await;
    stop(&mut serve);
    proxy.stop();
    drop_database(admin_url).await;

    let samples = samples.lock().expect("samples").clone();
    plot(&samples, &out.join("soak.png"));
    let log = std::fs::read_to_string(out.join("serve.log")).unwrap_or_default();
    let panics = log.matches("panicked").count();
    verdict(&samples, &baseline, &after, rss_end, missing, panics, out)
}

/// The samples of an earlier run's `soak.csv`.
fn read_csv(path: &Path) -> Vec<Sample> {
    let text = std::fs::read_to_string(path).expect("the CSV of a soak");
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            Some(Sample {
                elapsed_s: f.first()?.parse().ok()?,
                rss_kib: f.get(1)?.parse().ok()?,
                fds: f.get(2)?.parse().ok()?,
                db_sockets: f.get(3)?.parse().ok()?,
                requests: f.get(4)?.parse().ok()?,
                p99_ms: f.get(5)?.parse().ok()?,
                error_rate: f.get(6)?.parse().ok()?,
                unexpected: f.get(7)?.parse().ok()?,
                database_up: f.get(8)? == &"1",
            })
        })
        .collect()
}

/// Seconds from the end of each database cut to the first interval without errors (None when
/// the errors never stopped).
fn recoveries(samples: &[Sample]) -> Vec<Option<f64>> {
    let mut out = Vec::new();
    for (i, pair) in samples.windows(2).enumerate() {
        if !pair[0].database_up && pair[1].database_up {
            let restored = pair[0].elapsed_s;
            out.push(
                samples[i + 1..]
                    .iter()
                    .find(|s| s.error_rate == 0.0)
                    .map(|s| s.elapsed_s - restored),
            );
        }
    }
    out
}

/// Prints the figures and the checks; true when every check passed.
fn verdict(
    samples: &[Sample],
    baseline: &Fds,
    after: &Fds,
    rss_end: u64,
    missing: (usize, usize),
    panics: usize,
    out: &Path,
) -> bool {
    let recovered = recoveries(samples);
    let n = samples.len();
    let median = |s: &[Sample]| {
        let mut v: Vec<u64> = s.iter().map(|x| x.rss_kib).collect();
        v.sort_unstable();
        v.get(v.len() / 2).copied().unwrap_or(0)
    };
    // Warm-up: the first sixth. Memory after it (second sixth) against the last sixth.
    let sixth = (n / 6).max(1);
    let rss_warm = median(&samples[sixth.min(n)..(2 * sixth).min(n)]);
    let rss_last = median(&samples[n.saturating_sub(sixth)..]);
    let rss_max = samples.iter().map(|s| s.rss_kib).max().unwrap_or(0);
    let requests: u64 = samples.iter().map(|s| s.requests).sum();
    let unexpected: u64 = samples.iter().map(|s| s.unexpected).sum();
    let errors: f64 = samples
        .iter()
        .map(|s| s.error_rate * s.requests as f64)
        .sum();
    let steady: Vec<&Sample> = samples.iter().filter(|s| s.database_up).collect();
    let mut p99s: Vec<f64> = steady.iter().map(|s| s.p99_ms).collect();
    p99s.sort_by(f64::total_cmp);
    let (acked, missing) = missing;
    let report = format!(
        "samples: {n}\nrequests: {requests}\n\
         rss_kib after warm-up (median of the second sixth): {rss_warm}\n\
         rss_kib at the end (median of the last sixth): {rss_last}\n\
         rss_kib max: {rss_max}; after the load: {rss_end}\n\
         fds baseline: {} ({} to the database); after the load: {} ({} to the database)\n\
         p99 per interval while the database was up: median {:.1} ms, max {:.1} ms\n\
         error rate (5xx or no answer): {:.4} overall, {:.4} while the database was up\n\
         answers not the expected one for their part: {unexpected}\n\
         acknowledged notifications: {acked}, missing from the database: {missing}\n\
         back to no errors after each database cut (s, within one interval): {recovered:?}\n\
         panics in the daemon's log: {panics}\n",
        baseline.total,
        baseline.database,
        after.total,
        after.database,
        p99s.get(p99s.len() / 2).copied().unwrap_or(0.0),
        p99s.last().copied().unwrap_or(0.0),
        if requests > 0 {
            errors / requests as f64
        } else {
            0.0
        },
        {
            let r: u64 = steady.iter().map(|s| s.requests).sum();
            let e: f64 = steady
                .iter()
                .map(|s| s.error_rate * s.requests as f64)
                .sum();
            if r > 0 { e / r as f64 } else { 0.0 }
        },
    );
    let checks = [
        (
            "memory does not grow after the warm-up",
            (rss_last as f64) <= rss_warm as f64 * RSS_SLACK,
        ),
        (
            "client file descriptors return to the baseline",
            after.clients() <= baseline.clients(),
        ),
        (
            "every acknowledged notification is stored",
            missing == 0 && acked > 0,
        ),
        (
            "every answer was the expected one or a 5xx",
            unexpected == 0,
        ),
        (
            "errors stop after each database cut",
            recovered.len() == 2 && recovered.iter().all(Option::is_some),
        ),
        ("the daemon never panicked", panics == 0),
    ];
    let mut text = report;
    for (what, ok) in checks {
        text.push_str(&format!("{}: {what}\n", if ok { "PASS" } else { "FAIL" }));
    }
    print!("{text}");
    std::fs::write(out.join("soak-result.txt"), &text).expect("soak-result.txt");
    checks.iter().all(|(_, ok)| *ok)
}

/// A CSV line of `asnd simulate --mix` joined with the daemon's figures at that moment.
fn sample_of(line: &str, pid: u32, db_port: u16, database_up: &AtomicBool) -> Option<Sample> {
    let f: Vec<&str> = line.split(',').collect();
    // elapsed_s,requests,ok,refused,unavailable,no_answer,unexpected,p50_ms,p99_ms,error_rate
    if f.len() != 10 || f[0] == "elapsed_s" {
        return None;
    }
    let fds = Fds::of(pid, db_port);
    Some(Sample {
        elapsed_s: f[0].parse().ok()?,
        rss_kib: rss_kib(pid),
        fds: fds.total,
        db_sockets: fds.database,
        requests: f[1].parse().ok()?,
        p99_ms: f[8].parse().ok()?,
        error_rate: f[9].parse().ok()?,
        unexpected: f[6].parse().ok()?,
        database_up: database_up.load(Ordering::SeqCst),
    })
}

/// The daemon's resident memory (`VmRSS`).
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// The daemon's open file descriptors, and how many of them are sockets to the database.
#[derive(Debug, Clone, Copy)]
struct Fds {
    total: usize,
    database: usize,
}

impl Fds {
    fn of(pid: u32, db_port: u16) -> Fds {
        let inodes: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
            .map(|dir| {
                dir.flatten()
                    .filter_map(|e| std::fs::read_link(e.path()).ok())
                    .map(|l| l.display().to_string())
                    .collect()
            })
            .unwrap_or_default();
        // Sockets whose remote end is the database proxy, from /proc/PID/net/tcp{,6}.
        let mut db_inodes = std::collections::HashSet::new();
        for table in ["tcp", "tcp6"] {
            let text =
                std::fs::read_to_string(format!("/proc/{pid}/net/{table}")).unwrap_or_default();
            for row in text.lines().skip(1) {
                let cols: Vec<&str> = row.split_whitespace().collect();
                let remote_port = cols
                    .get(2)
                    .and_then(|r| r.rsplit(':').next())
                    .and_then(|p| u16::from_str_radix(p, 16).ok());
                if remote_port == Some(db_port)
                    && let Some(inode) = cols.get(9)
                {
                    db_inodes.insert(format!("socket:[{inode}]"));
                }
            }
        }
        Fds {
            total: inodes.len(),
            database: inodes.iter().filter(|l| db_inodes.contains(*l)).count(),
        }
    }

    /// Everything but the database pool, which keeps its connections for a while.
    fn clients(&self) -> usize {
        self.total - self.database
    }
}

/// Cuts the database at a third and two thirds of the run, for [`CUT`] each.
async fn cut_twice(duration: Duration, proxy: DbProxy) {
    let start = tokio::time::Instant::now();
    for at in [duration / 3, duration * 2 / 3] {
        tokio::time::sleep_until(start + at).await;
        println!("cutting the database for {}s", CUT.as_secs());
        proxy.cut();
        tokio::time::sleep(CUT).await;
        proxy.restore();
        println!("database restored");
    }
}

/// Creates the soak's database afresh; returns PostgreSQL's `host:port` and how to build a URL
/// to the soak's database through another address.
async fn recreate_database(admin_url: &str) -> (String, impl Fn(SocketAddr) -> String) {
    let mut admin = sqlx::PgConnection::connect(admin_url)
        .await
        .unwrap_or_else(|e| panic!("the soak needs PostgreSQL at {admin_url}: {e}"));
    sqlx::query(&format!("DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .expect("drop");
    sqlx::query(&format!("CREATE DATABASE {DATABASE}"))
        .execute(&mut admin)
        .await
        .expect("create");
    let (scheme, rest) = admin_url.split_once("://").expect("a postgres:// URL");
    let authority = rest.split(['/', '?']).next().unwrap_or(rest);
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (format!("{u}@"), h.to_owned()),
        None => (String::new(), authority.to_owned()),
    };
    let hostport = if hostport.contains(':') {
        hostport
    } else {
        format!("{hostport}:5432")
    };
    let scheme = scheme.to_owned();
    (hostport, move |via: SocketAddr| {
        format!("{scheme}://{userinfo}{via}/{DATABASE}")
    })
}

/// The URL of the soak's database, directly.
fn soak_url(admin_url: &str) -> String {
    let (base, _) = admin_url.split_once('?').unwrap_or((admin_url, ""));
    let (prefix, _) = base.rsplit_once('/').expect("a URL with a database");
    format!("{prefix}/{DATABASE}")
}

async fn drop_database(admin_url: &str) {
    if let Ok(mut admin) = sqlx::PgConnection::connect(admin_url).await {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"))
            .execute(&mut admin)
            .await;
    }
}

/// How many notifications `asnd simulate` recorded as acknowledged, and how many of them are not
/// in the database.
async fn missing_acknowledged(admin_url: &str, acked: &Path) -> (usize, usize) {
    let text = std::fs::read_to_string(acked).unwrap_or_default();
    let mut db = sqlx::PgConnection::connect(&soak_url(admin_url))
        .await
        .expect("the soak database");
    let uuids: std::collections::HashSet<String> =
        sqlx::query_scalar("SELECT notification_uuid FROM notifications")
            .fetch_all(&mut db)
            .await
            .expect("notifications")
            .into_iter()
            .collect();
    let v1_transactions: std::collections::HashSet<String> = sqlx::query_scalar(
        "SELECT transaction_id FROM notifications WHERE version = '1' AND transaction_id IS NOT NULL",
    )
    .fetch_all(&mut db)
    .await
    .expect("V1 notifications")
    .into_iter()
    .collect();
    let mut acknowledged = 0;
    let mut missing = 0;
    for line in text.lines() {
        let found = match line.split_once(' ') {
            Some(("v2", uuid)) => uuids.contains(uuid),
            Some(("v1", transaction)) => v1_transactions.contains(transaction),
            _ => continue,
        };
        acknowledged += 1;
        if !found {
            missing += 1;
            if missing <= 5 {
                println!("acknowledged but not stored: {line}");
            }
        }
    }
    (acknowledged, missing)
}

/// SIGTERM, then wait for the graceful shutdown.
fn stop(serve: &mut Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &serve.id().to_string()])
        .status();
    let _ = serve.wait();
}

fn run_ok(cmd: &mut Command) {
    let output = cmd.output().expect("run asnd");
    assert!(
        output.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Four panels, top to bottom: RSS (MiB), open file descriptors, p99 latency (ms) and error rate
/// against minutes; red bands where the database was cut. The labels use the small glyph table
/// below, so that drawing needs no font on the machine.
fn plot(samples: &[Sample], path: &Path) {
    const W: u32 = 1200;
    const H: u32 = 1000;
    let mut pixels = vec![0u8; (W * H * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (W, H)).into_drawing_area();
        root.fill(&WHITE).expect("fill");
        let end = samples.last().map(|s| s.elapsed_s).unwrap_or(1.0).max(1.0);
        type Series = (&'static str, fn(&Sample) -> f64, RGBColor);
        let series: [Series; 4] = [
            ("RSS MIB", |s| s.rss_kib as f64 / 1024.0, BLUE),
            ("OPEN FDS", |s| s.fds as f64, RGBColor(0, 130, 0)),
            ("P99 MS", |s| s.p99_ms, RGBColor(200, 110, 0)),
            ("ERROR RATE", |s| s.error_rate, RED),
        ];
        let grid = RGBColor(220, 220, 220);
        // A vertical line every 5 minutes (every minute in runs under 10 minutes).
        let step = if end >= 600.0 { 300.0 } else { 60.0 };
        let last = series.len() - 1;
        for (i, (panel, (name, value, color))) in
            root.split_evenly((4, 1)).iter().zip(series).enumerate()
        {
            let top = samples.iter().map(value).fold(0.0, f64::max).max(1e-9) * 1.1;
            let chart = ChartBuilder::on(panel)
                .margin(8)
                .set_label_area_size(LabelAreaPosition::Left, 90)
                .set_label_area_size(LabelAreaPosition::Bottom, if i == last { 24 } else { 4 })
                .build_cartesian_2d(0.0..end, 0.0..top)
                .expect("chart");
            let area = chart.plotting_area();
            let (xs, ys) = area.get_pixel_range();
            let (x0, y0) = (xs.start, ys.start);
            let (x1, y1) = (xs.end, ys.end);
            let band = |from: f64, to: f64| {
                area.draw(&Rectangle::new(
                    [(from, 0.0), (to, top)],
                    RGBColor(255, 205, 205).filled(),
                ))
                .expect("cut");
            };
            let mut cut_from = None;
            for s in samples {
                match (s.database_up, cut_from) {
                    (false, None) => cut_from = Some(s.elapsed_s),
                    (true, Some(from)) => {
                        band(from, s.elapsed_s);
                        cut_from = None;
                    }
                    _ => {}
                }
            }
            if let Some(from) = cut_from {
                band(from, end);
            }
            for k in 0..=2 {
                let y = top * k as f64 / 2.0;
                area.draw(&PathElement::new([(0.0, y), (end, y)], grid))
                    .expect("grid");
            }
            let mut t = 0.0;
            while t <= end {
                area.draw(&PathElement::new([(t, 0.0), (t, top)], grid))
                    .expect("grid");
                if i == last {
                    let x = x0 + ((t / end) * (x1 - x0) as f64) as i32;
                    label(
                        &root,
                        &format!("{}", (t / 60.0).round()),
                        (x - 4, y1 + 6),
                        BLACK,
                    );
                }
                t += step;
            }
            area.draw(&PathElement::new(
                samples
                    .iter()
                    .map(|s| (s.elapsed_s, value(s)))
                    .collect::<Vec<_>>(),
                color.stroke_width(2),
            ))
            .expect("series");
            let panel_left = panel.get_pixel_range().0.start;
            label(&root, name, (x0 + 8, y0 + 6), color);
            label(&root, &figure(top / 1.1), (panel_left + 6, y0 + 14), BLACK);
            label(&root, "0", (panel_left + 6, y1 - 14), BLACK);
            if i == last {
                label(&root, "MIN", (panel_left + 6, y1 + 6), BLACK);
            }
            // Where the maximum is drawn (the y-axis top is 10 % above it).
            let y_max = y1 - ((y1 - y0) as f64 / 1.1) as i32;
            root.draw(&PathElement::new(
                [(panel_left + 80, y_max), (x0, y_max)],
                BLACK,
            ))
            .expect("tick");
        }
        root.present().expect("present");
    }
    let file = std::fs::File::create(path).expect("soak.png");
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), W, H);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder
        .write_header()
        .and_then(|mut w| w.write_image_data(&pixels))
        .expect("write soak.png");
}

/// A value with three significant digits at most.
fn figure(v: f64) -> String {
    match v {
        v if v >= 100.0 => format!("{v:.0}"),
        v if v >= 10.0 => format!("{v:.1}"),
        v if v >= 1.0 => format!("{v:.2}"),
        v => format!("{v:.3}"),
    }
}

/// Draws `text` (the characters of [`glyph`]) at `at`, each dot 2 pixels wide.
fn label<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    text: &str,
    at: (i32, i32),
    color: RGBColor,
) {
    const DOT: i32 = 2;
    for (n, c) in text.chars().enumerate() {
        let left = at.0 + n as i32 * 6 * DOT;
        for (row, bits) in glyph(c).iter().enumerate() {
            for col in 0..5 {
                if bits & (0b10000 >> col) != 0 {
                    let (x, y) = (left + col * DOT, at.1 + row as i32 * DOT);
                    let _ = area.draw(&Rectangle::new(
                        [(x, y), (x + DOT, y + DOT)],
                        color.filled(),
                    ));
                }
            }
        }
    }
}

/// 5×7 dot patterns of the few characters the plot writes; anything else is blank.
fn glyph(c: char) -> [u8; 7] {
    match c {
        '0' => [0x0e, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0e],
        '1' => [0x04, 0x0c, 0x04, 0x04, 0x04, 0x04, 0x0e],
        '2' => [0x0e, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1f],
        '3' => [0x1f, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0e],
        '4' => [0x02, 0x06, 0x0a, 0x12, 0x1f, 0x02, 0x02],
        '5' => [0x1f, 0x10, 0x1e, 0x01, 0x01, 0x11, 0x0e],
        '6' => [0x06, 0x08, 0x10, 0x1e, 0x11, 0x11, 0x0e],
        '7' => [0x1f, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        '8' => [0x0e, 0x11, 0x11, 0x0e, 0x11, 0x11, 0x0e],
        '9' => [0x0e, 0x11, 0x11, 0x0f, 0x01, 0x02, 0x0c],
        '.' => [0x00, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x0c],
        'A' => [0x0e, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11],
        'B' => [0x1e, 0x11, 0x11, 0x1e, 0x11, 0x11, 0x1e],
        'D' => [0x1c, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1c],
        'E' => [0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x1f],
        'F' => [0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x10],
        'I' => [0x0e, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0e],
        'M' => [0x11, 0x1b, 0x15, 0x15, 0x11, 0x11, 0x11],
        'N' => [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11],
        'O' => [0x0e, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e],
        'P' => [0x1e, 0x11, 0x11, 0x1e, 0x10, 0x10, 0x10],
        'R' => [0x1e, 0x11, 0x11, 0x1e, 0x14, 0x12, 0x11],
        'S' => [0x0f, 0x10, 0x10, 0x0e, 0x01, 0x01, 0x1e],
        'T' => [0x1f, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
        _ => [0; 7],
    }
}
