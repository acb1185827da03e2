//! `asnd check-config`: the built binary validates a configuration as `serve` does and prints the
//! effective configuration with its secrets redacted.

use std::path::Path;
use std::process::{Command, Output};

const V1_SECRET: &str = "v1S3cretNeverPrinted";
const DB_PASSWORD: &str = "pgS3cretNeverPrinted";

fn check_config(config: &Path, env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_asnd"));
    command.arg("check-config").arg("--config").arg(config);
    // Only the overrides this test sets.
    for (name, _) in std::env::vars() {
        if name.to_ascii_uppercase().starts_with("ASND_") {
            command.env_remove(name);
        }
    }
    command.envs(env.iter().copied());
    command.output().expect("run asnd check-config")
}

#[test]
fn a_valid_configuration_is_printed_with_its_secrets_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let (cert_path, key_path) = (dir.path().join("tls.pem"), dir.path().join("tls.key"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.key_pair.serialize_pem()).unwrap();
    let config = dir.path().join("asnd.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:8443\"\ntls_cert = \"{}\"\ntls_key = \"{}\"\n\
             [[apps]]\nbundle_id = \"com.example.app\"\napp_apple_id = 1234567890\n\
             v1_shared_secrets = [\"{V1_SECRET}\"]\n",
            cert_path.display(),
            key_path.display()
        ),
    )
    .unwrap();
    let db_url = format!("postgres://asnd:{DB_PASSWORD}@db.internal/asnd");
    let out = check_config(&config, &[("ASND_DATABASE__URL", &db_url)]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        !stdout.contains(V1_SECRET) && !stdout.contains(DB_PASSWORD),
        "{stdout}"
    );
    assert!(
        !stderr.contains(V1_SECRET) && !stderr.contains(DB_PASSWORD),
        "{stderr}"
    );
    // The effective configuration: the file, the override over it, defaults for the rest.
    for line in [
        "listen = \"127.0.0.1:8443\"",
        "url = \"postgres://asnd:***@db.internal/asnd\"",
        "bundle_id = \"com.example.app\"",
        "v1_shared_secrets = [\"<redacted>\"]",
        "environments = [\"Production\", \"Sandbox\"]",
        "format = \"pretty\"",
        "forwarded_header = \"x-forwarded-for\"",
        "body_timeout = \"15s\"",
    ] {
        assert!(stdout.lines().any(|l| l == line), "{line} in:\n{stdout}");
    }
    // What is printed is itself a configuration asnd reads.
    let printed = dir.path().join("printed.toml");
    std::fs::write(&printed, stdout.as_bytes()).unwrap();
    let again = check_config(&printed, &[]);
    assert_eq!(
        again.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
}

#[test]
fn an_invalid_configuration_lists_each_problem_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("asnd.toml");
    std::fs::write(
        &config,
        "[server]\ntls = false\npath = \"notifications\"\n[database]\nmax_connections = 0\n",
    )
    .unwrap();
    let out = check_config(&config, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 3, "{stderr}");
    assert_eq!(
        lines[0],
        format!(
            "asnd: configuration {}: server.path: \"notifications\" must start with '/'",
            config.display()
        )
    );
    assert_eq!(lines[1], "database.max_connections: must be at least 1");
    assert!(lines[2].starts_with("apps: no app configured"), "{stderr}");

    // A file that does not parse, and one that is not there: exit 1 too.
    std::fs::write(&config, "[server\n").unwrap();
    assert_eq!(check_config(&config, &[]).status.code(), Some(1));
    let out = check_config(&dir.path().join("missing.toml"), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot read configuration file"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
