//! The first hour with asnd, as a newcomer meets it: every message on the way says what is wrong
//! and what to do, and the command line keeps one convention. Each test runs the real binary,
//! except those of the certificate warnings `serve` prints, which call the library's check
//! directly with the same certificates.

#[macro_use]
mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::*;

/// Runs `asnd args` in `dir`; (exit code, stdout, stderr).
fn run_in(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = asnd()
        .args(args)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .env_remove("ASND_CONFIG")
        .output()
        .unwrap();
    let (stdout, stderr) = output_text(&out);
    (out.status.code().unwrap_or(-1), stdout, stderr)
}

fn run(args: &[&str]) -> (i32, String, String) {
    run_in(&std::env::temp_dir(), args)
}

/// `asnd simulate` sends one DID_RENEW signed by the dev CA `ca` to `url`, trusting `cacert`.
fn simulate_one(url: &str, ca: &Path, cacert: &Path, extra: &[&str]) -> (i32, String, String) {
    let (ca, cacert) = (ca.to_str().unwrap(), cacert.to_str().unwrap());
    let mut args = vec!["simulate", "--url", url, "--ca", ca, "--cacert", cacert];
    args.extend(["--type", "DID_RENEW"]);
    args.extend_from_slice(extra);
    run(&args)
}

/// A free local port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A development CA in `dir/ca`.
fn dev_ca(dir: &Path) -> PathBuf {
    let ca = dir.join("ca");
    let (code, _, stderr) = run(&["dev-ca", "--out", ca.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    ca
}

/// A self-signed certificate for localhost, a CA one (what a plain `openssl req -x509` makes)
/// or a server one, valid for `days`, and its key.
fn self_signed(name: &str, ca: bool, days: i64) -> (rcgen::Certificate, rcgen::KeyPair) {
    let mut params =
        rcgen::CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    // A name of its own: certificates sharing one would be mistaken for each other's issuer.
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, format!("asnd test {name}"));
    if ca {
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    }
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(days);
    let key = rcgen::KeyPair::generate().unwrap();
    (params.self_signed(&key).unwrap(), key)
}

/// [`self_signed`], written as `name.pem` and `name.key` in `dir`.
fn certificate(dir: &Path, name: &str, ca: bool, days: i64) -> (PathBuf, PathBuf) {
    let (cert, key) = self_signed(name, ca, days);
    let (pem, key_path) = (
        dir.join(format!("{name}.pem")),
        dir.join(format!("{name}.key")),
    );
    std::fs::write(&pem, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    (pem, key_path)
}

fn warnings_for(ca: bool, days: i64, now_secs: i64) -> Vec<String> {
    let (cert, _) = self_signed("warned", ca, days);
    asnd::server::tls::certificate_warnings(cert.der(), now_secs)
}

fn now_secs() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

#[test]
fn a_server_certificate_far_from_expiry_is_fine() {
    assert!(warnings_for(false, 90, now_secs()).is_empty());
}

#[test]
fn a_ca_certificate_is_named() {
    let warnings = warnings_for(true, 90, now_secs());
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("CA certificate"), "{warnings:?}");
    assert!(warnings[0].contains("CA:FALSE"), "{warnings:?}");
}

#[test]
fn expiry_within_fourteen_days_is_named() {
    let warnings = warnings_for(false, 10, now_secs());
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("in 9 days") || warnings[0].contains("in 10 days"));
    assert!(warnings_for(false, 15, now_secs()).is_empty());
    let expired = warnings_for(false, 1, now_secs() + 3 * 86_400);
    assert!(expired[0].contains("expired"), "{expired:?}");
}

/// A configuration for `serve` in `dir`: SQLite, loopback sources, the given certificate.
fn serve_config(dir: &Path, cert: &Path, key: &Path, extra: &str) -> PathBuf {
    let path = dir.join("asnd.toml");
    std::fs::write(
        &path,
        format!(
            r#"[server]
listen = "127.0.0.1:0"
tls_cert = "{cert}"
tls_key = "{key}"
drain_delay = "0s"
[database]
url = "sqlite://{db}"
[sources]
allow = ["127.0.0.0/8"]
[[apps]]
bundle_id = "com.example.app"
environments = ["Sandbox"]
{extra}
"#,
            cert = cert.display(),
            key = key.display(),
            db = dir.join("asnd.db").display(),
        ),
    )
    .unwrap();
    path
}

/// `asnd serve --config path`, its log lines (stdout) read up to "asnd serving"; returns the
/// child, the lines before and including that one, and the notification URL.
fn serve(path: &Path, envs: &[(&str, &str)]) -> (Child, Vec<String>, String) {
    let mut command = asnd();
    command
        .args(["serve", "--config"])
        .arg(path)
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped());
    for (k, v) in envs {
        command.env(k, v);
    }
    let mut child = command.spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    let url = loop {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("asnd serve ended early: {seen:?}"))
            .unwrap();
        seen.push(line.clone());
        if line.contains("asnd serving") {
            let start = line.find("https://").expect("the URL is logged");
            let url: String = line[start..]
                .chars()
                .take_while(|c| !c.is_whitespace() && *c != '"')
                .collect();
            break url.replace("127.0.0.1", "localhost");
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (child, seen, url)
}

/// `serve` with `cert` and `key`, trusting the development CA `ca` for notifications.
fn serve_trusting(dir: &Path, ca: &Path, cert: &Path, key: &Path) -> (Child, Vec<String>, String) {
    let roots = format!("[verify]\nroots = [\"{}\"]", ca.join("root.pem").display());
    serve(&serve_config(dir, cert, key, &roots), &[])
}

fn stop(mut child: Child) {
    signal(&child, "-TERM");
    assert!(wait_exit(&mut child, Duration::from_secs(25)).success());
}

// ------------------------------------------------------------------------------------------------
// simulate

#[test]
fn simulate_with_no_server_says_so_once_and_stops() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dev_ca(dir.path());
    let url = format!("https://localhost:{}/notifications", closed_port());
    let simulate = |extra: &[&str]| {
        let mut args = vec!["simulate", "--url", &url, "--ca", ca.to_str().unwrap()];
        args.push("--insecure");
        args.extend_from_slice(extra);
        run(&args)
    };
    let started = Instant::now();
    let (code, stdout, stderr) = simulate(&["--scenario", "lifecycle"]);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert_eq!(
        stderr.matches("Connection refused").count(),
        1,
        "one error, its cause once: {stderr}"
    );
    assert!(
        stderr.contains("is `asnd serve --dev` (or the receiver at --url) running?"),
        "{stderr}"
    );
    assert!(stderr.contains("stopped: the other 5 not sent"), "{stderr}");
    // The first notification is reported, the others are not attempted.
    assert!(stdout.contains("  1  SUBSCRIBED/INITIAL_BUY"), "{stdout}");
    assert!(!stdout.contains("  2  "), "{stdout}");
    assert!(stdout.contains("0 of 6 delivered"), "{stdout}");
    assert!(started.elapsed() < Duration::from_secs(20));

    // A load run with nothing delivered: no latency, no throughput.
    let (code, stdout, stderr) = simulate(&["--count", "4", "--concurrency", "2"]);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(stdout.contains("status error (connect): 4"), "{stdout}");
    assert!(!stdout.contains("throughput"), "{stdout}");
    assert!(!stdout.contains("latency"), "{stdout}");
    assert!(stdout.contains("no request was answered"), "{stdout}");
    assert!(stderr.contains("is `asnd serve --dev`"), "{stderr}");
}

#[test]
fn a_ca_certificate_is_warned_about_by_serve_and_explained_by_simulate() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dev_ca(dir.path());
    let (cert, key) = certificate(dir.path(), "openssl-like", true, 365);
    let (child, logged, url) = serve_trusting(dir.path(), &ca, &cert, &key);
    assert!(
        logged
            .iter()
            .any(|l| l.contains("WARN") && l.contains("is a CA certificate")),
        "{logged:?}"
    );
    let (code, stdout, stderr) = simulate_one(&url, &ca, &cert, &[]);
    stop(child);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(
        stderr.contains("the receiver's certificate is a CA certificate"),
        "{stderr}"
    );
    assert!(
        stderr.contains("basicConstraints=critical,CA:FALSE"),
        "{stderr}"
    );
}

#[test]
fn an_unknown_issuer_asks_for_cacert_and_a_soon_expiring_certificate_is_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dev_ca(dir.path());
    let (cert, key) = certificate(dir.path(), "server", false, 10);
    let (other, _) = certificate(dir.path(), "unrelated", false, 365);
    let (child, logged, url) = serve_trusting(dir.path(), &ca, &cert, &key);
    assert!(
        logged.iter().any(|l| l.contains("WARN")
            && l.contains("the TLS certificate expires at")
            && l.contains("days")),
        "{logged:?}"
    );
    assert!(
        !logged.iter().any(|l| l.contains("is a CA certificate")),
        "{logged:?}"
    );
    // Without --cacert the system's bundle is used (here: a bundle without that certificate).
    let out = asnd()
        .args(["simulate", "--url", &url, "--ca", ca.to_str().unwrap()])
        .args(["--type", "DID_RENEW"])
        .env("SSL_CERT_FILE", &other)
        .output()
        .unwrap();
    let (stdout, stderr) = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stderr.contains("UnknownIssuer"), "{stderr}");
    assert!(stderr.contains("pass --cacert FILE"), "{stderr}");
    // With --cacert it is delivered.
    let (code, stdout, stderr) = simulate_one(&url, &ca, &cert, &["--timeout", "10s"]);
    stop(child);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
}

// ------------------------------------------------------------------------------------------------
// Logs

#[test]
fn logs_off_a_terminal_have_no_colour() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = certificate(dir.path(), "server", false, 365);
    let config = serve_config(dir.path(), &cert, &key, "");
    // Human-readable logs into a pipe: plain text.
    let (child, logged, _) = serve(&config, &[("NO_COLOR", "")]);
    stop(child);
    let text = logged.join("\n");
    assert!(text.contains("INFO"), "{text}");
    assert!(!text.contains('\u{1b}'), "no ANSI escape: {text:?}");
}

#[test]
fn latency_ms_is_rounded_in_json_logs() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = certificate(dir.path(), "server", false, 365);
    let config = serve_config(dir.path(), &cert, &key, "");
    let mut child = asnd()
        .args(["serve", "--config"])
        .arg(&config)
        .env_remove("RUST_LOG")
        .env("ASND_LOG__FORMAT", "json")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = loop {
        let line = lines.next().expect("asnd serving").unwrap();
        if line.contains("asnd serving") {
            let v: serde_json::Value = serde_json::from_str(&line).unwrap();
            break v["url"].as_str().unwrap().replace("127.0.0.1", "localhost");
        }
    };
    let pem = std::fs::read(&cert).unwrap();
    let der = {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;
        CertificateDer::from_pem_slice(&pem).unwrap().to_vec()
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let status = runtime
        .block_on(async { status_of(client(&der).post(url.as_str()).body("not json")).await });
    assert_eq!(status, 400);
    let request = loop {
        let line = lines.next().expect("the request's line").unwrap();
        if line.contains("\"latency_ms\"") {
            break line;
        }
    };
    stop(child);
    let v: serde_json::Value = serde_json::from_str(&request).unwrap();
    let latency = v["latency_ms"].as_f64().unwrap();
    assert!(
        ((latency * 100.0).round() - latency * 100.0).abs() < 1e-6,
        "{request}"
    );
    // As written: at most two decimals.
    let written = request
        .split("\"latency_ms\":")
        .nth(1)
        .unwrap()
        .split([',', '}'])
        .next()
        .unwrap();
    let decimals = written.split('.').nth(1).map_or(0, str::len);
    assert!(decimals <= 2, "{written} in {request}");
}

// ------------------------------------------------------------------------------------------------
// Configuration and database errors

#[test]
fn config_errors_name_the_key_with_an_example_and_every_unknown_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("asnd.toml");
    let check = |toml: &str| {
        std::fs::write(&path, toml).unwrap();
        run(&["check-config", "--config", path.to_str().unwrap()])
    };
    let (code, _, stderr) =
        check("[server]\nhandshake_timeout = \"10\"\n[[apps]]\nbundle_id = \"a\"\n");
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(
            "line 2, column 21: server.handshake_timeout: expected a duration such as \"10s\""
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("for example: handshake_timeout = \"10s\""),
        "{stderr}"
    );

    let (code, _, stderr) =
        check("[server]\nlisen = \"x\"\n\n[log]\nlevel = \"info\"\ncolour = true\n");
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("unknown key `server.lisen`") && stderr.contains("line 2, column 1"),
        "{stderr}"
    );
    assert!(
        stderr.contains("unknown key `log.colour`") && stderr.contains("line 6, column 1"),
        "{stderr}"
    );
}

#[test]
fn a_missing_file_is_named_with_its_cause_once() {
    let (code, _, stderr) = run(&["check-config", "--config", "/nonexistent/asnd.toml"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("/nonexistent/asnd.toml"), "{stderr}");
    let os = "(os error 2)";
    assert_eq!(stderr.matches(os).count(), 1, "{stderr}");
    let (code, _, stderr) = run(&["serve", "--config", "/nonexistent/asnd.toml"]);
    assert_eq!(code, 1);
    assert_eq!(stderr.matches(os).count(), 1, "{stderr}");
}

#[test]
fn an_unreachable_database_is_named_redacted_with_one_cause() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("asnd.toml");
    let port = closed_port();
    std::fs::write(
        &path,
        format!(
            "[server]\ntls = false\n[database]\nurl = \"postgres://asnd:hunter2@127.0.0.1:{port}/asnd\"\ntimeout = \"2s\"\n[[apps]]\nbundle_id = \"a\"\nenvironments = [\"Sandbox\"]\n"
        ),
    )
    .unwrap();
    let started = Instant::now();
    let (code, _, stderr) = run(&["migrate", "--config", path.to_str().unwrap()]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "database postgres://asnd:***@127.0.0.1:{port}/asnd"
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2"), "{stderr}");
    assert_eq!(stderr.matches("Connection refused").count(), 1, "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(20));
}

// ------------------------------------------------------------------------------------------------
// migrate

fn migrate_twice(url: &str) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("asnd.toml");
    std::fs::write(
        &path,
        format!("[server]\ntls = false\n[database]\nurl = \"{url}\"\n[[apps]]\nbundle_id = \"a\"\nenvironments = [\"Sandbox\"]\n"),
    )
    .unwrap();
    let (code, first, stderr) = run(&["migrate", "--config", path.to_str().unwrap()]);
    assert_eq!(code, 0, "{first}\n{stderr}");
    let (code, second, stderr2) = run(&["migrate", "--config", path.to_str().unwrap()]);
    assert_eq!(code, 0, "{second}\n{stderr2}");
    (format!("{first}{stderr}"), format!("{second}{stderr2}"))
}

#[test]
fn migrate_says_when_the_schema_is_up_to_date_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("m.db").display());
    let (first, second) = migrate_twice(&url);
    assert!(first.contains("migrations applied to"), "{first}");
    assert!(second.contains("schema up to date"), "{second}");
}

#[tokio::test]
async fn migrate_on_postgres_hides_sqlx_notices_and_says_up_to_date() {
    if common::skip_without_postgres("migrate_on_postgres_hides_sqlx_notices_and_says_up_to_date")
        .await
    {
        return;
    }
    let db = TestDb::empty(Backend::Postgres).await;
    let url = db.url.clone();
    let (first, second) = tokio::task::spawn_blocking(move || migrate_twice(&url))
        .await
        .unwrap();
    assert!(first.contains("migrations applied to"), "{first}");
    assert!(second.contains("schema up to date"), "{second}");
    // `serve` migrates at every start: on a migrated database PostgreSQL answers sqlx's
    // `CREATE TABLE IF NOT EXISTS _sqlx_migrations` with a notice, which stays out of the log.
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = certificate(dir.path(), "server", false, 365);
    let config = serve_config(dir.path(), &cert, &key, "");
    let url = db.url.clone();
    let (child, logged, _) = tokio::task::spawn_blocking(move || {
        serve(&config, &[("ASND_DATABASE__URL", url.as_str())])
    })
    .await
    .unwrap();
    stop(child);
    for out in [&first, &second, &logged.join("\n")] {
        assert!(!out.contains("_sqlx_migrations"), "{out}");
        assert!(!out.contains("already exists"), "{out}");
    }
}

// ------------------------------------------------------------------------------------------------
// One command-line convention

#[test]
fn completions_and_the_man_page_are_generated() {
    let (code, stdout, stderr) = run(&["completions", "bash"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("complete -F") && stdout.contains("test-notification"));
    let (code, stdout, _) = run(&["completions", "zsh"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("#compdef asnd"));
    let (code, stdout, stderr) = run(&["man"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains(".TH asnd"), "{stdout}");
    assert!(
        stdout.contains("asnd\\-backfill"),
        "each subcommand has its section"
    );
}

/// `asnd completions bash | head -1` and the like: a reader that closed its end early is no
/// failure and no panic.
#[test]
fn printing_into_a_closed_pipe_is_quiet() {
    for args in [&["completions", "bash"][..], &["man"][..]] {
        let mut child = asnd()
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

#[test]
fn durations_and_environments_read_the_same_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dev_ca(dir.path());
    let out = dir.path().join("out");
    // Any case of an environment; a duration with its unit.
    let (code, stdout, stderr) = run(&[
        "simulate",
        "--ca",
        ca.to_str().unwrap(),
        "--type",
        "DID_RENEW",
        "--environment",
        "sandbox",
        "--timeout",
        "5s",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let body = std::fs::read_dir(&out).unwrap().count();
    assert_eq!(body, 1);
    // A number without a unit is refused with the form it needs, as a usage error.
    let (code, _, stderr) = run(&["simulate", "--type", "DID_RENEW", "--timeout", "5"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("write a duration such as \"5s\""),
        "{stderr}"
    );
    let (code, _, stderr) = run(&[
        "test-notification",
        "--bundle-id",
        "a",
        "--environment",
        "Sandbox",
        "--wait",
        "60",
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("\"60s\""), "{stderr}");
    // An unknown environment is the same usage error everywhere.
    for args in [
        &["simulate", "--type", "DID_RENEW", "--environment", "Xcode"][..],
        &["verify", "--environment", "Xcode", "-"],
        &[
            "backfill",
            "--bundle-id",
            "a",
            "--since",
            "1h",
            "--environment",
            "Xcode",
        ],
        &[
            "test-notification",
            "--bundle-id",
            "a",
            "--environment",
            "Xcode",
        ],
    ] {
        let (code, _, stderr) = run(args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(
            stderr.contains("\"Xcode\" is not an environment; use Production or Sandbox"),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn every_configuration_reader_defaults_to_the_same_file_and_reads_asnd_config() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("from-env.toml");
    for sub in [
        &["check-config"][..],
        &["migrate"],
        &["serve"],
        &["reprocess"],
        &[
            "backfill",
            "--bundle-id",
            "a",
            "--environment",
            "Sandbox",
            "--since",
            "1h",
        ],
        &[
            "test-notification",
            "--bundle-id",
            "a",
            "--environment",
            "Sandbox",
        ],
    ] {
        let out = asnd()
            .args(sub)
            .env("ASND_CONFIG", &missing)
            .env_remove("RUST_LOG")
            .output()
            .unwrap();
        let (_, stderr) = output_text(&out);
        assert!(!out.status.success(), "{sub:?}");
        assert!(
            stderr.contains(&missing.display().to_string()),
            "{sub:?} reads ASND_CONFIG: {stderr}"
        );
        let (_, help, _) = run(&[sub[0], "--help"]);
        assert!(
            help.contains("--config <FILE>")
                && help.contains("[env: ASND_CONFIG=]")
                && help.contains("[default: /etc/asnd/asnd.toml]"),
            "{sub:?}: {help}"
        );
    }
}

// ------------------------------------------------------------------------------------------------
// The App Store Server API: a certificate nobody trusts is not retried.

#[tokio::test]
async fn a_refused_certificate_reaching_apple_is_reported_at_once() {
    use asnd::appstore_api::{ApiClient, ApiEnvironment};
    // A TLS server whose certificate the client's ca_file does not hold; it counts handshakes.
    let dir = tempfile::tempdir().unwrap();
    let (served_pem, served_key) = certificate(dir.path(), "served", false, 365);
    let (trusted, _) = certificate(dir.path(), "trusted", false, 365);
    let served_der = {
        use rustls::pki_types::pem::PemObject;
        rustls::pki_types::CertificateDer::from_pem_file(&served_pem).unwrap()
    };
    let served_key = {
        use rustls::pki_types::pem::PemObject;
        rustls::pki_types::PrivateKeyDer::from_pem_file(&served_key).unwrap()
    };
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![served_der], served_key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let _ = acceptor.accept(tcp).await;
            });
        }
    });
    let key = rcgen::KeyPair::generate().unwrap();
    let key_path = dir.path().join("AuthKey.p8");
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    let config = asnd::config::Config::from_toml_str(
        &format!(
            r#"[[apps]]
bundle_id = "com.example.app"
environments = ["Sandbox"]
[apps.api]
key_id = "TESTKEY123"
issuer_id = "57246542-96fe-1a63-e053-0824d011072a"
private_key_path = "{key}"
sandbox_url = "https://127.0.0.1:{port}"
ca_file = "{ca}"
"#,
            key = key_path.display(),
            ca = trusted.display(),
        ),
        Vec::<(String, String)>::new(),
    )
    .unwrap();
    let client = ApiClient::for_app(&config.apps[0], ApiEnvironment::Sandbox).unwrap();
    let started = Instant::now();
    let error = client.request_test_notification().await.unwrap_err();
    let text = asnd::error_chain(&error);
    assert!(!text.starts_with("gave up"), "not retried: {text}");
    assert!(text.contains("UnknownIssuer"), "{text}");
    assert!(text.contains("check [apps.api] ca_file"), "{text}");
    assert_eq!(connections.load(Ordering::SeqCst), 1, "one attempt");
    // The default policy would wait 0.5 + 1 + 2 + 4 s between five attempts.
    assert!(
        started.elapsed() < Duration::from_millis(450),
        "{:?}",
        started.elapsed()
    );
}
