//! `[quarantine]`: how much of what was refused is kept in `rejected_notifications`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// `[quarantine]`: an allowed source can post thousands of bad bodies a second, so what is kept
/// is bounded by rows, age and bytes per row. The status code of a refusal never depends on it.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct QuarantineConfig {
    /// Rows kept at most; the oldest go first (0 keeps none).
    pub max_rows: u64,
    /// Rows older than this are deleted.
    #[serde(with = "humantime_serde")]
    pub retention: Duration,
    /// Bytes of a refused body kept per row; the rest is cut and the original length recorded.
    pub max_body_bytes: usize,
}

impl Default for QuarantineConfig {
    fn default() -> Self {
        QuarantineConfig {
            max_rows: 100_000,
            retention: Duration::from_secs(30 * 24 * 3600),
            max_body_bytes: 65_536,
        }
    }
}
