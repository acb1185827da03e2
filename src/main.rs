use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use asnd::cli::dev;
use asnd::cli::verify::{self as cli_verify, Outcome, VerifyArgs};
use asnd::config::{Config, Validated};
use asnd::server::{self, Server};

/// asnd receives App Store Server Notifications, proves them genuine and stores them in SQL.
#[derive(Debug, Parser)]
#[command(name = "asnd", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Receive notifications over TLS and store them.
    Serve {
        /// The configuration file (TOML); `ASND_*` environment variables override it.
        #[arg(long, required_unless_present = "dev", conflicts_with = "dev")]
        config: Option<PathBuf>,
        /// Development mode: creates ./asnd-dev/ (self-signed certificate, SQLite, loopback sources).
        #[arg(long)]
        dev: bool,
    },
    /// Read and validate a configuration as `serve` would, and print it with secrets redacted.
    CheckConfig(asnd::cli::check_config::CheckConfigArgs),
    /// Apply database migrations and exit.
    Migrate {
        #[arg(long)]
        config: PathBuf,
    },
    /// Verify one signed payload offline and print it decoded.
    Verify(VerifyArgs),
    /// Ask Apple for a TEST notification and say whether it arrived and was stored.
    TestNotification(asnd::cli::test_notification::TestNotificationArgs),
    /// Fetch notifications from Apple's history and ingest the missing ones.
    Backfill(asnd::cli::backfill::BackfillArgs),
    /// Send quarantined bodies through today's configuration; store what now verifies.
    Reprocess(asnd::cli::reprocess::ReprocessArgs),
    /// List, retry and replay the deliveries of events to [[destinations]].
    Deliveries(asnd::cli::deliveries::DeliveriesArgs),
    /// Write a development signing chain shaped like Apple's (not Apple's) into a folder.
    DevCa(asnd::cli::dev_ca::DevCaArgs),
    /// Post signed notifications (a type, a scenario, or --count N for load) to a receiver.
    Simulate(asnd::cli::simulate::SimulateArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Verify(args) => verify(&args),
        Command::TestNotification(args) => asnd::cli::test_notification::run(&args),
        Command::Backfill(args) => asnd::cli::backfill::run(&args),
        Command::Reprocess(args) => asnd::cli::reprocess::run(&args),
        Command::Deliveries(args) => asnd::cli::deliveries::run(&args),
        Command::DevCa(args) => asnd::cli::dev_ca::run(&args),
        Command::Simulate(args) => asnd::cli::simulate::run(&args),
        Command::CheckConfig(args) => asnd::cli::check_config::run(&args),
        Command::Serve { config, dev } => {
            exit(runtime().and_then(|rt| rt.block_on(serve(config, dev))))
        }
        Command::Migrate { config } => exit(runtime().and_then(|rt| rt.block_on(migrate(&config)))),
    }
}

fn verify(args: &VerifyArgs) -> ExitCode {
    match cli_verify::run(args) {
        Ok(Outcome::Valid(json)) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&json).unwrap_or_default()
            );
            ExitCode::SUCCESS
        }
        Ok(Outcome::Rejected(e)) => {
            eprintln!("{}", e.report());
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("asnd verify: {}", asnd::error_chain(e.as_ref()));
            ExitCode::from(2)
        }
    }
}

fn exit(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("asnd: {}", asnd::error_chain(e.as_ref()));
            ExitCode::FAILURE
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// The configuration, validated exactly as `asnd check-config` does.
fn load(path: &std::path::Path) -> anyhow::Result<(Config, Validated)> {
    asnd::cli::check_config::load_validated(path)
}

async fn serve(config: Option<PathBuf>, dev_mode: bool) -> anyhow::Result<()> {
    let path = match (config, dev_mode) {
        (_, true) => dev::prepare(std::path::Path::new(dev::DEV_DIR))?,
        (Some(p), false) => p,
        (None, false) => anyhow::bail!("serve needs --config FILE or --dev"),
    };
    let (config, validated) = load(&path)?;
    asnd::logging::init(&config.log);
    let listener = tokio::net::TcpListener::bind(config.server.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.server.listen))?;
    let signals = server::Signals::install().context("cannot install signal handlers")?;
    let server = Server::start_validated(&config, validated, listener).await?;
    let scheme = if config.server.tls { "https" } else { "http" };
    let url = format!("{scheme}://{}{}", server.local_addr(), config.server.path);
    if dev_mode {
        println!("{}", dev::banner(&url.replace("127.0.0.1", "localhost")));
    }
    tracing::info!(%url, database = %config.database.redacted_url(), "asnd serving");
    server.run_until_signalled(signals).await?;
    Ok(())
}

async fn migrate(path: &std::path::Path) -> anyhow::Result<()> {
    let (mut config, _) = load(path)?;
    asnd::logging::init(&config.log);
    config.database.migrate_on_start = true;
    let store = server::open_store(&config).await?;
    store.close().await;
    println!("migrations applied to {}", config.database.redacted_url());
    Ok(())
}
