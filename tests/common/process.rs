//! The `asnd` binary as an operator runs it: a command, `serve --dev` in a folder, signals, and
//! waiting for it to exit.

use std::io::{BufRead, BufReader, Lines};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, ExitStatus, Output, Stdio};
use std::time::Duration;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use super::wait_for_blocking;

/// The `asnd` binary of this build.
pub fn asnd() -> Command {
    Command::new(env!("CARGO_BIN_EXE_asnd"))
}

/// stdout and stderr of `out` as text.
pub fn output_text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `asnd serve --dev` in `dir` on a free port, with stdout piped to read its URL.
pub fn dev_command(dir: &Path) -> Command {
    let mut command = asnd();
    command
        .args(["serve", "--dev"])
        .current_dir(dir)
        .env("ASND_SERVER__LISTEN", "127.0.0.1:0")
        .stdout(Stdio::piped());
    command
}

/// Reads `child`'s stdout up to the `notifications: <url>` line; returns the URL and the rest.
pub fn read_url(child: &mut Child) -> (String, Lines<BufReader<ChildStdout>>) {
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut lines = BufReader::new(stdout).lines();
    let url = loop {
        let line = lines.next().expect("asnd printed its URL").unwrap();
        if let Some(rest) = line.trim().strip_prefix("notifications:") {
            break rest.trim().to_string();
        }
    };
    (url, lines)
}

/// Starts `asnd serve --dev` in `dir` on a free port and returns it with its URL.
pub fn start_dev(dir: &Path) -> (Child, String) {
    let mut child = dev_command(dir)
        .env("RUST_LOG", "warn")
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let (url, lines) = read_url(&mut child);
    // Keep reading, so that a full pipe never blocks the daemon.
    std::thread::spawn(move || for _ in lines {});
    (child, url)
}

/// The certificate (DER) that `serve --dev` in `dir` serves.
pub fn dev_tls_cert_der(dir: &Path) -> Vec<u8> {
    let pem = std::fs::read(dir.join("asnd-dev/tls.pem")).unwrap();
    CertificateDer::from_pem_slice(&pem).unwrap().to_vec()
}

/// A body with Apple's own test notification, signed by Apple's test CA (which no daemon here
/// trusts).
pub fn apple_mock_body() -> String {
    let mock = include_str!("../fixtures/apple-mock/testNotification");
    format!("{{\"signedPayload\":\"{}\"}}", mock.trim())
}

/// Sends `sig` (`-TERM`, `-HUP`, ...) to `child`.
pub fn signal(child: &Child, sig: &str) {
    let status = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Waits for `child` to exit, at most `within`.
pub fn wait_exit(child: &mut Child, within: Duration) -> ExitStatus {
    wait_for_blocking("asnd exits", within, || child.try_wait().unwrap())
}
