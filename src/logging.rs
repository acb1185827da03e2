//! Log output: JSON lines or human-readable, at the configured level; `RUST_LOG` overrides it.
//!
//! Colours (ANSI escapes) are written only when the stream the logs go to is a terminal and
//! `NO_COLOR` is not set, so that a file, a pipe or a journal gets plain text. sqlx's
//! PostgreSQL notices (`relation "_sqlx_migrations" already exists, skipping`, printed on every
//! start) are kept out unless `RUST_LOG` asks for them by name.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::{LogConfig, LogFormat};

/// Added to every filter: the server's notices are not asnd's news.
const QUIET: &[&str] = &["sqlx::postgres::notice=warn"];

/// The filter: `RUST_LOG` when set and valid, else `level`; sqlx's notices quietened unless
/// the filter names them itself.
pub fn filter(rust_log: Option<&str>, level: &str) -> EnvFilter {
    let base = rust_log
        .filter(|s| EnvFilter::try_new(s).is_ok())
        .unwrap_or(level);
    let mut spec = base.to_owned();
    for directive in QUIET {
        let target = directive.split('=').next().unwrap_or(directive);
        if !base.contains(target) {
            spec.push(',');
            spec.push_str(directive);
        }
    }
    EnvFilter::try_new(&spec).unwrap_or_else(|_| EnvFilter::new("info"))
}

/// Whether to colour output written to a stream that is (or is not) a terminal.
pub fn use_colour(is_terminal: bool) -> bool {
    is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// `serve` and `migrate`: logs on stdout.
pub fn init(config: &LogConfig) {
    let rust_log = std::env::var("RUST_LOG").ok();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter(rust_log.as_deref(), &config.level))
        .with_ansi(use_colour(std::io::stdout().is_terminal()))
        .with_target(false);
    // `try_init` fails only when a subscriber is already set (tests): keep that one.
    let _ = if config.format == LogFormat::Json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.try_init()
    };
}

/// The other commands: stdout carries their result, so logs go to stderr, warnings and worse
/// unless `RUST_LOG` says otherwise.
pub fn init_stderr() {
    let rust_log = std::env::var("RUST_LOG").ok();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter(rust_log.as_deref(), "warn"))
        .with_ansi(use_colour(std::io::stderr().is_terminal()))
        .with_target(false)
        .with_writer(std::io::stderr)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlx_notices_are_quiet_unless_asked_for() {
        let directives = |f: EnvFilter| {
            let mut d: Vec<String> = f.to_string().split(',').map(str::to_owned).collect();
            d.sort();
            d
        };
        assert_eq!(
            directives(filter(None, "info")),
            ["info", "sqlx::postgres::notice=warn"]
        );
        assert_eq!(
            directives(filter(Some("debug"), "info")),
            ["debug", "sqlx::postgres::notice=warn"]
        );
        assert_eq!(
            directives(filter(Some("sqlx::postgres::notice=info"), "info")),
            ["sqlx::postgres::notice=info"]
        );
    }

    #[test]
    fn no_colour_off_a_terminal() {
        assert!(!use_colour(false));
    }
}
