use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;

use asnd::cli::command::{Cli, Command};
use asnd::cli::dev;
use asnd::cli::verify::{self as cli_verify, Outcome, VerifyArgs};
use asnd::config::{Config, Validated};
use asnd::server::{self, Server};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
        Command::Healthcheck(args) => asnd::cli::healthcheck::run(&args),
        Command::Serve(args) => {
            exit(runtime().and_then(|rt| rt.block_on(serve(args.config, args.dev))))
        }
        Command::Migrate(args) => exit(runtime().and_then(|rt| rt.block_on(migrate(&args.config)))),
        Command::Completions(args) => printed(
            "completions",
            asnd::cli::command::completions(args.shell, &mut std::io::stdout()),
        ),
        Command::Man => printed("man", asnd::cli::command::man_page(&mut std::io::stdout())),
    }
}

/// The exit code of a command that only prints: a reader that stopped early (a closed pipe, as
/// with `| head`) is no failure.
fn printed(command: &str, result: std::io::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("asnd {command}: {e}");
            ExitCode::FAILURE
        }
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

async fn serve(config: PathBuf, dev_mode: bool) -> anyhow::Result<()> {
    let path = if dev_mode {
        dev::prepare(std::path::Path::new(dev::DEV_DIR))?
    } else {
        config
    };
    let (config, validated) = load(&path)?;
    asnd::logging::init(&config.log);
    let listener = tokio::net::TcpListener::bind(config.server.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.server.listen))?;
    let signals = server::Signals::install().context("cannot install signal handlers")?;
    if let Some(cert) = validated.tls.as_ref().and_then(|c| c.cert.first()) {
        let now = asnd::time::now_ms() / 1000;
        for warning in server::tls::certificate_warnings(cert.as_ref(), now) {
            tracing::warn!(cert = %config.server.tls_cert.display(), "{warning}");
        }
    }
    let server = Server::start_validated(&config, validated, listener)
        .await
        .map_err(|e| naming_the_database(e, &config))?;
    let scheme = if config.server.tls { "https" } else { "http" };
    let url = format!("{scheme}://{}{}", server.local_addr(), config.server.path);
    if dev_mode {
        println!("{}", dev::banner(&url.replace("127.0.0.1", "localhost")));
    }
    tracing::info!(%url, database = %config.database.redacted_url(), "asnd serving");
    server.run_until_signalled(signals).await?;
    Ok(())
}

/// A database error names the database (its URL, password redacted); other errors are unchanged.
fn naming_the_database(e: server::ServerError, config: &Config) -> anyhow::Error {
    match e {
        server::ServerError::Store(_) => {
            anyhow::Error::new(e).context(format!("database {}", config.database.redacted_url()))
        }
        other => other.into(),
    }
}

async fn migrate(path: &std::path::Path) -> anyhow::Result<()> {
    let (mut config, _) = load(path)?;
    asnd::logging::init(&config.log);
    // First look: when every migration is already applied there is nothing to do. A database
    // without the schema at all answers with an error here, and is migrated below.
    config.database.migrate_on_start = false;
    let store = server::open_store(&config)
        .await
        .map_err(|e| naming_the_database(e, &config))?;
    let up_to_date = store.ready().await.unwrap_or(false);
    store.close().await;
    let url = config.database.redacted_url();
    if up_to_date {
        println!("schema up to date: {url} has every migration applied");
        return Ok(());
    }
    config.database.migrate_on_start = true;
    let store = server::open_store(&config)
        .await
        .map_err(|e| naming_the_database(e, &config))?;
    store.close().await;
    println!("migrations applied to {url}");
    Ok(())
}
