//! What `asnd test-notification` and `asnd backfill` share: the configuration, the app, and the
//! same ingest pipeline `serve` uses.

use std::path::Path;

use crate::appstore_api::ApiEnvironment;
use crate::config::{AppConfig, Config, ConfigError};
use crate::ingest::Pipeline;
use crate::server;

/// The configuration file when `--config` is not given (`ASND_CONFIG` also sets it).
pub const DEFAULT_CONFIG: &str = "/etc/asnd/asnd.toml";

/// A usage or setup problem: reported as one message, exit code 2.
#[derive(Debug)]
pub struct Usage(pub String);

impl<E: std::fmt::Display> From<E> for Usage {
    fn from(e: E) -> Self {
        Usage(e.to_string())
    }
}

/// Runs `command` (named `name` in messages) on a runtime of its own; exit code 0 when it is
/// done, 1 when it failed (the database, say: run it again), 2 for a usage or setup error.
pub fn run_to_exit<F>(name: &str, command: F) -> std::process::ExitCode
where
    F: std::future::Future<Output = Result<Result<(), String>, Usage>>,
{
    init_logging();
    match runtime().and_then(|rt| rt.block_on(command)) {
        Ok(Ok(())) => std::process::ExitCode::SUCCESS,
        Ok(Err(failure)) => {
            eprintln!("asnd {name}: {failure}");
            std::process::ExitCode::FAILURE
        }
        Err(Usage(message)) => {
            eprintln!("asnd {name}: {message}");
            std::process::ExitCode::from(2)
        }
    }
}

/// Logs go to stderr (stdout carries the result), warnings and worse unless `RUST_LOG` says otherwise.
pub fn init_logging() {
    crate::logging::init_stderr();
}

/// Reads and validates the configuration. The listener's own settings (`[server]`, `[admin]`:
/// certificate files and the like) are not needed here and not checked, so that the command also
/// runs as a user who may not read the TLS key.
pub fn load_config(path: &Path) -> Result<Config, Usage> {
    let config = Config::load(Some(path))?;
    if let Err(e) = config.validate() {
        let problems: Vec<String> = e
            .problems()
            .into_iter()
            .filter(|p| !listener_only(p))
            .map(ToString::to_string)
            .collect();
        if !problems.is_empty() {
            return Err(Usage(format!(
                "configuration {}:\n{}",
                path.display(),
                problems.join("\n")
            )));
        }
    }
    Ok(config)
}

fn listener_only(problem: &ConfigError) -> bool {
    let key = match problem {
        ConfigError::Invalid { key, .. } | ConfigError::File { key, .. } => key.as_str(),
        ConfigError::KeyMismatch { .. } => return true,
        _ => return false,
    };
    key.starts_with("server.") || key.starts_with("admin.")
}

/// The `[[apps]]` entry of `bundle_id`, which must have `[apps.api]` and accept `environment`.
pub fn find_app<'c>(
    config: &'c Config,
    bundle_id: &str,
    environment: ApiEnvironment,
) -> Result<&'c AppConfig, Usage> {
    let app = config
        .apps
        .iter()
        .find(|a| a.bundle_id == bundle_id)
        .ok_or_else(|| {
            let known: Vec<&str> = config.apps.iter().map(|a| a.bundle_id.as_str()).collect();
            Usage(format!(
                "no [[apps]] entry has bundle_id {bundle_id:?} (configured: {})",
                known.join(", ")
            ))
        })?;
    if app.api.is_none() {
        return Err(Usage(format!(
            "app {bundle_id:?} has no [apps.api] section: add key_id, issuer_id and private_key_path (see README)"
        )));
    }
    if !app.accepts(environment.as_str()) {
        return Err(Usage(format!(
            "app {bundle_id:?} does not accept {environment} notifications (environments = {:?})",
            app.environments
                .iter()
                .map(|e| e.as_str())
                .collect::<Vec<_>>()
        )));
    }
    Ok(app)
}

/// The store (migrated unless `migrate_on_start = false`) and the pipeline `serve` would use.
pub async fn pipeline(config: &Config) -> Result<Pipeline, Usage> {
    let store = server::open_store(config).await.map_err(|e| {
        Usage(format!(
            "database {}: {}",
            config.database.redacted_url(),
            crate::error_chain(&e)
        ))
    })?;
    Ok(Pipeline::from_config(config, store)?)
}

/// A current-thread runtime for one command.
pub fn runtime() -> Result<tokio::runtime::Runtime, Usage> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}
