//! `asnd healthcheck`: asks the running daemon's admin listener for `/healthz` (or `/readyz`),
//! at the address the configuration gives, so a container's health check follows `[admin]
//! listen` (and `ASND_ADMIN__LISTEN`) instead of a port written into the image.
//!
//! Exit codes: 0 when the daemon answered 200; 1 when it answered otherwise or not at all; 2 when
//! the configuration cannot be read or has no admin listener.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};

use crate::cli::appstore::DEFAULT_CONFIG;
use crate::config::Config;

#[derive(Debug, clap::Args)]
pub struct HealthcheckArgs {
    /// The configuration file (TOML); `ASND_*` environment variables override its keys.
    #[arg(long, value_name = "FILE", env = "ASND_CONFIG", default_value = DEFAULT_CONFIG)]
    pub config: PathBuf,
    /// Ask `/readyz` (the database answers, migrations applied) instead of `/healthz`.
    #[arg(long)]
    pub ready: bool,
    /// How long to wait for the answer (a duration: 3s, 500ms).
    #[arg(long, value_name = "DURATION", default_value = "3s", value_parser = super::command::parse_duration)]
    pub timeout: Duration,
}

/// Where to reach a listener bound to `listen`: a wildcard address is reached on loopback.
pub fn reachable(listen: SocketAddr) -> SocketAddr {
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, listen.port())
}

pub fn run(args: &HealthcheckArgs) -> ExitCode {
    match check(args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("asnd healthcheck: {}", crate::error_chain(e.as_ref()));
            ExitCode::from(2)
        }
    }
}

fn check(args: &HealthcheckArgs) -> anyhow::Result<bool> {
    let config = Config::load(Some(&args.config))
        .with_context(|| format!("configuration {}", args.config.display()))?;
    let Some(listen) = config.admin.listen else {
        bail!(
            "{} has no admin listener to ask: set [admin] listen (or ASND_ADMIN__LISTEN), \
             e.g. 127.0.0.1:9898",
            args.config.display()
        );
    };
    let path = if args.ready { "/readyz" } else { "/healthz" };
    let url = format!("http://{}{path}", reachable(listen));
    // reqwest is built without a TLS provider of its own; this plain-HTTP client still needs one.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let client = reqwest::Client::builder()
        .timeout(args.timeout)
        .no_proxy()
        .build()
        .context("cannot build the HTTP client")?;
    let answer = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(async { client.get(&url).send().await.map(|r| r.status()) });
    match answer {
        Ok(status) if status.is_success() => {
            println!("{url}: {status}");
            Ok(true)
        }
        Ok(status) => {
            eprintln!("{url}: {status}");
            Ok(false)
        }
        Err(e) => {
            eprintln!("{url}: no answer: {}", crate::error_chain(&e));
            Ok(false)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::reachable;

    #[test]
    fn a_wildcard_listener_is_reached_on_loopback() {
        for (listen, reached) in [
            ("0.0.0.0:9898", "127.0.0.1:9898"),
            ("[::]:9898", "[::1]:9898"),
            ("10.1.2.3:9000", "10.1.2.3:9000"),
        ] {
            assert_eq!(reachable(listen.parse().unwrap()).to_string(), reached);
        }
    }
}
