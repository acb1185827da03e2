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
use tokio::net::{TcpListener, TcpStream};

const ASND: &str = env!("CARGO_BIN_EXE_asnd");
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

    // The database, behind a proxy that the soak cuts.
    let (db_host, soak_url_via) = recreate_database(admin_url).await;
    let database_up = Arc::new(AtomicBool::new(true));
    let proxy = DbProxy::start(db_host, database_up.clone()).await;
    let serve_db_url = soak_url_via(proxy.addr);

    // The daemon's files and configuration.
    run_ok(
        Command::new(ASND)
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
    let mut serve = Command::new(ASND)
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
    let mut simulate = Command::new(ASND)
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
    verdict(&samples, &baseline, &after, rss_end, missing, out)
}

/// Prints the figures and the checks; true when every check passed.
fn verdict(
    samples: &[Sample],
    baseline: &Fds,
    after: &Fds,
    rss_end: u64,
    missing: (usize, usize),
    out: &Path,
) -> bool {
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
         acknowledged notifications: {acked}, missing from the database: {missing}\n",
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

/// A TCP proxy in front of PostgreSQL. Cutting it closes every connection through it and refuses
/// new ones until it is restored.
#[derive(Clone)]
struct DbProxy {
    addr: SocketAddr,
    up: Arc<AtomicBool>,
    /// Bumped at each cut: a connection ends when the generation it started in has passed.
    generation: Arc<tokio::sync::watch::Sender<u64>>,
    task: Arc<tokio::task::JoinHandle<()>>,
}

impl DbProxy {
    async fn start(upstream: String, up: Arc<AtomicBool>) -> DbProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy");
        let addr = listener.local_addr().expect("proxy address");
        let (generation, _) = tokio::sync::watch::channel(0u64);
        let generation = Arc::new(generation);
        let (up2, generation2) = (up.clone(), generation.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    continue;
                };
                if !up2.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let mut cut = generation2.subscribe();
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        DbProxy {
            addr,
            up,
            generation,
            task: Arc::new(task),
        }
    }

    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }

    fn stop(&self) {
        self.task.abort();
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

/// Four panels, top to bottom: RSS (MiB), open file descriptors, p99 latency (ms), error rate;
/// red bands where the database was cut. Drawn without text (no font is needed): the figures are
/// in the CSV and the result file.
fn plot(samples: &[Sample], path: &Path) {
    const W: u32 = 1200;
    const H: u32 = 1000;
    let mut pixels = vec![0u8; (W * H * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (W, H)).into_drawing_area();
        root.fill(&WHITE).expect("fill");
        let end = samples.last().map(|s| s.elapsed_s).unwrap_or(1.0).max(1.0);
        type Series = (fn(&Sample) -> f64, RGBColor);
        let series: [Series; 4] = [
            (|s| s.rss_kib as f64 / 1024.0, BLUE),
            (|s| s.fds as f64, RGBColor(0, 130, 0)),
            (|s| s.p99_ms, RGBColor(200, 110, 0)),
            (|s| s.error_rate, RED),
        ];
        for (panel, (value, color)) in root.split_evenly((4, 1)).iter().zip(series) {
            let top = samples.iter().map(value).fold(0.0, f64::max).max(1e-9) * 1.1;
            let mut chart = ChartBuilder::on(panel)
                .margin(12)
                .build_cartesian_2d(0.0..end, 0.0..top)
                .expect("chart");
            chart
                .configure_mesh()
                .x_labels(12)
                .y_labels(5)
                .light_line_style(RGBColor(235, 235, 235))
                .draw()
                .expect("mesh");
            // The database cuts.
            let mut cut_from = None;
            for s in samples {
                match (s.database_up, cut_from) {
                    (false, None) => cut_from = Some(s.elapsed_s),
                    (true, Some(from)) => {
                        chart
                            .draw_series([Rectangle::new(
                                [(from, 0.0), (s.elapsed_s, top)],
                                RGBColor(255, 200, 200).filled(),
                            )])
                            .expect("cut");
                        cut_from = None;
                    }
                    _ => {}
                }
            }
            chart
                .draw_series(LineSeries::new(
                    samples.iter().map(|s| (s.elapsed_s, value(s))),
                    color.stroke_width(2),
                ))
                .expect("series");
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
