//! The `asnd` binary as an operator runs it: `serve --dev` from an empty folder, SIGHUP reloads
//! the certificate, SIGTERM drains and exits cleanly, a bad configuration refuses to start, and
//! `migrate` applies the schema.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

#[tokio::test(flavor = "multi_thread")]
async fn serve_dev_works_from_an_empty_folder_reloads_on_sighup_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, url) = start_dev(dir.path());
    assert!(
        url.starts_with("https://localhost:") && url.ends_with("/notifications"),
        "{url}"
    );
    for file in ["asnd.toml", "tls.pem", "tls.key", "asnd.db"] {
        assert!(dir.path().join("asnd-dev").join(file).exists(), "{file}");
    }
    let health = url.replace("/notifications", "/healthz");
    let http = client(&dev_tls_cert_der(dir.path()));
    assert_eq!(status_of(http.get(&health)).await, 200);
    // Apple's root and the development CA are trusted, Apple's test CA is not: Apple's own test
    // data is refused and quarantined.
    assert_eq!(
        status_of(http.post(&url).body(apple_mock_body())).await,
        422
    );

    // A renewed certificate, then SIGHUP: new connections get it, no restart.
    let renewed = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    std::fs::write(dir.path().join("asnd-dev/tls.pem"), renewed.cert.pem()).unwrap();
    std::fs::write(
        dir.path().join("asnd-dev/tls.key"),
        renewed.key_pair.serialize_pem(),
    )
    .unwrap();
    signal(&child, "-HUP");
    let fresh = client(renewed.cert.der());
    wait_for(
        "the renewed certificate is served after SIGHUP",
        Duration::from_secs(5),
        || async { fresh.get(&health).send().await.ok() },
    )
    .await;

    signal(&child, "-TERM");
    let status = wait_exit(&mut child, Duration::from_secs(25));
    assert!(status.success(), "clean exit on SIGTERM: {status:?}");

    // A second start reuses the folder (same database, same config).
    let (mut again, _) = start_dev(dir.path());
    signal(&again, "-INT");
    assert!(wait_exit(&mut again, Duration::from_secs(25)).success());
}

/// One Sandbox app: the smallest configuration that starts.
const SANDBOX_APP: &str =
    "[[apps]]\nbundle_id = \"com.example.app\"\nenvironments = [\"Sandbox\"]\n";

fn write_config(dir: &Path, body: &str) -> std::path::PathBuf {
    let tls = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    std::fs::write(dir.join("tls.pem"), tls.cert.pem()).unwrap();
    std::fs::write(dir.join("tls.key"), tls.key_pair.serialize_pem()).unwrap();
    let path = dir.join("asnd.toml");
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:8443\"\ntls_cert = \"{0}/tls.pem\"\ntls_key = \"{0}/tls.key\"\n[database]\nurl = \"sqlite://{0}/a.db\"\n{body}",
        dir.display()
    );
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_bad_configuration_refuses_to_start_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let app = SANDBOX_APP;
    let cases = [
        (format!("{app}[sources]\nallw = []\n"), "allw"),
        ("".to_string(), "app"),
        (
            "[[apps]]\nbundle_id = \"com.example.app\"\nenvironments = [\"Production\"]\n"
                .to_string(),
            "app_apple_id",
        ),
    ];
    for (body, needle) in cases {
        let path = write_config(dir.path(), &body);
        let err = refused_start(&path, None);
        assert!(err.contains(needle), "{needle}: {err}");
    }
    let path = write_config(dir.path(), app);
    let err = refused_start(&path, Some("0.0.0.0:80"));
    assert!(err.contains("443"), "{err}");
    std::fs::write(dir.path().join("tls.key"), "garbage").unwrap();
    let err = refused_start(&path, None);
    assert!(err.contains("tls_key"), "{err}");
}

/// Runs `command` and asserts that it succeeds, showing its output when it does not.
fn succeeds(command: &mut Command) {
    let out = command.output().unwrap();
    let (stdout, stderr) = output_text(&out);
    assert!(out.status.success(), "stdout: {stdout}\nstderr: {stderr}");
}

/// `asnd serve --config <config>` (listening on `listen` if given) must fail; its stderr.
fn refused_start(config: &Path, listen: Option<&str>) -> String {
    let mut serve = asnd();
    serve.args(["serve", "--config"]).arg(config);
    if let Some(listen) = listen {
        serve.env("ASND_SERVER__LISTEN", listen);
    }
    let out = serve.output().unwrap();
    assert!(!out.status.success());
    output_text(&out).1
}

#[test]
fn migrate_applies_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), SANDBOX_APP);
    succeeds(asnd().args(["migrate", "--config"]).arg(&path));
    assert!(dir.path().join("a.db").exists());
    let again = asnd()
        .args(["migrate", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(again.status.success(), "migrating twice is harmless");
}

#[tokio::test(flavor = "multi_thread")]
async fn json_logs_carry_one_line_per_request() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = dev_command(dir.path())
        .env("ASND_LOG__FORMAT", "json")
        .env("ASND_SERVER__DRAIN_DELAY", "0s")
        .env("ASND_APPS__0__V1_SHARED_SECRETS", "the-real-secret-4f1c")
        .env_remove("RUST_LOG")
        .spawn()
        .unwrap();
    let (url, lines) = read_url(&mut child);
    let http = client(&dev_tls_cert_der(dir.path()));
    assert_eq!(status_of(http.post(&url).body("not json")).await, 400);
    // A V1 body with a wrong password: refused, and neither secret may reach the log.
    let v1 = serde_json::json!({"notification_type": "DID_RENEW", "password": "a-wrong-secret-9a2e",
        "environment": "Sandbox", "bid": "com.example.app", "unified_receipt": {"status": 0}});
    let refused = http.post(&url).body(v1.to_string()).send().await.unwrap();
    assert_eq!(refused.status().as_u16(), 403);
    // A signed notification from the development CA: stored.
    succeeds(
        asnd()
            .args(["simulate", "--dev", "--url", &url, "--type", "DID_RENEW"])
            .current_dir(dir.path()),
    );
    signal(&child, "-TERM");
    assert!(wait_exit(&mut child, Duration::from_secs(25)).success());
    let text: Vec<String> = lines.map_while(Result::ok).collect();
    for line in &text {
        assert!(
            !line.contains("the-real-secret-4f1c") && !line.contains("a-wrong-secret-9a2e"),
            "{line}"
        );
    }
    let logged: Vec<serde_json::Value> = text
        .iter()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let stored = logged
        .iter()
        .find(|v| v["outcome"] == "stored")
        .unwrap_or_else(|| panic!("no stored line in {logged:?}"));
    assert_eq!(stored["notification_type"], "DID_RENEW");
    assert_eq!(stored["uuid"].as_str().map(str::len), Some(36));
    assert!(
        logged
            .iter()
            .any(|v| v["outcome"] == "forbidden" && v["status"] == 403)
    );
    let request = logged
        .iter()
        .find(|v| v["outcome"] == "bad_request")
        .unwrap_or_else(|| panic!("no request line in {logged:?}"));
    assert_eq!(request["source"], "127.0.0.1");
    assert_eq!(request["status"], 400);
    assert!(request["latency_ms"].as_f64().is_some());
    assert!(request["reason"].as_str().unwrap().contains("not JSON"));
}

#[test]
fn plain_http_must_be_asked_for_and_is_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), SANDBOX_APP);
    let mut child = asnd()
        .args(["serve", "--config"])
        .arg(&path)
        .env("ASND_SERVER__TLS", "false")
        .env("ASND_SERVER__LISTEN", "127.0.0.1:0")
        .env("ASND_SERVER__DRAIN_DELAY", "0s")
        .env("ASND_LOG__FORMAT", "json")
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut warned = false;
    for line in lines.map_while(Result::ok) {
        if line.contains("\"level\":\"WARN\"") && line.contains("plain HTTP") {
            warned = true;
        }
        if line.contains("asnd serving") {
            break;
        }
    }
    signal(&child, "-TERM");
    assert!(wait_exit(&mut child, Duration::from_secs(25)).success());
    assert!(warned, "a warning at start");
}
