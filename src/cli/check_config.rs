//! `asnd check-config`: reads and validates a configuration exactly as `serve` does before it
//! starts, and prints the effective configuration (the file, the `ASND_*` overrides over it, the
//! defaults for the rest) as TOML with its secrets redacted.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use crate::cli::appstore::DEFAULT_CONFIG;
use crate::config::{Config, Validated};

#[derive(Debug, clap::Args)]
pub struct CheckConfigArgs {
    /// The configuration file (TOML); `ASND_*` environment variables override its keys.
    #[arg(long, value_name = "FILE", env = "ASND_CONFIG", default_value = DEFAULT_CONFIG)]
    pub config: PathBuf,
}

/// Reads the file, applies the overrides and validates, reporting every problem on its own line:
/// what `serve` does at start. The result holds what validation read (the certificate).
pub fn load_validated(path: &Path) -> anyhow::Result<(Config, Validated)> {
    let context = || format!("configuration {}", path.display());
    let config = Config::load(Some(path)).with_context(context)?;
    let validated = config.validate().with_context(context)?;
    Ok((config, validated))
}

/// Exit 0 and the effective configuration on stdout when valid; exit 1 and the problems on
/// stderr, as `serve` reports them, when not.
pub fn run(args: &CheckConfigArgs) -> ExitCode {
    let printed = load_validated(&args.config).and_then(|(config, _)| {
        config
            .to_redacted_toml()
            .context("cannot write the configuration as TOML")
    });
    match printed {
        Ok(text) => {
            println!(
                "# {} is valid. Effective configuration, secrets redacted:\n\n{text}",
                args.config.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("asnd: {}", crate::error_chain(e.as_ref()));
            ExitCode::FAILURE
        }
    }
}
