//! `[log]`: the format and level of the daemon's own log.

use serde::{Deserialize, Serialize};

/// `[log]`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `"pretty"` or `"json"`.
    pub format: LogFormat,
    /// A `tracing` filter such as `info` or `asnd=debug,info`; `RUST_LOG` wins over it.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: LogFormat::Pretty,
            level: "info".to_owned(),
        }
    }
}

/// `log.format`: human-readable lines or JSON lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "String", into = "&'static str")]
pub enum LogFormat {
    Pretty,
    Json,
}

super::words::word_choice!(LogFormat, "a format", ignore_case: false, {
    Pretty => "pretty",
    Json => "json",
});
