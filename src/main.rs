use std::process::ExitCode;

use clap::{Parser, Subcommand};

use asnd::cli::verify::{self as cli_verify, Outcome, VerifyArgs};

/// asnd receives App Store Server Notifications, proves them genuine and stores them in SQL.
#[derive(Debug, Parser)]
#[command(name = "asnd", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Verify one signed payload offline and print it decoded.
    Verify(VerifyArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Verify(args) => match cli_verify::run(&args) {
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
                eprintln!("asnd verify: {e:#}");
                ExitCode::from(2)
            }
        },
    }
}
