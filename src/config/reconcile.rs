//! `[reconcile]`: the periodic backfill of notifications that did not reach us.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// `[reconcile]`: inside `serve`, ask Apple every `interval` for the notifications of the last
/// `lookback` that did not reach us (`onlyFailures`), and ingest them. Off by default.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReconcileConfig {
    pub enabled: bool,
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    /// Capped per environment at what Apple keeps: 180 days (Production), 30 days (Sandbox).
    #[serde(with = "humantime_serde")]
    pub lookback: Duration,
}

/// The longest history Apple keeps (Production; Sandbox keeps 30 days).
pub const MAX_LOOKBACK: Duration = Duration::from_secs(180 * 24 * 3600);

impl Default for ReconcileConfig {
    fn default() -> Self {
        ReconcileConfig {
            enabled: false,
            interval: Duration::from_secs(3600),
            lookback: Duration::from_secs(72 * 3600),
        }
    }
}
