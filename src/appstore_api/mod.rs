//! The outbound side: asnd as a client of Apple's App Store Server API (spec §14).
//!
//! - `client`: JWT bearer tokens, timeouts, retries, Apple's error codes;
//! - `backfill`: Get Notification History, page by page, through the same [`crate::ingest::Pipeline`]
//!   as live traffic, recording Apple's delivery attempts;
//! - `test_notification`: Request a Test Notification, follow it, and say what became of it;
//! - `reconcile`: the backfill of recent failures that `serve` runs on a timer, one replica at a time.

pub mod backfill;
pub mod client;
pub mod credentials;
pub mod reconcile;
pub mod test_notification;

pub use backfill::{BackfillError, BackfillReport, BackfillRequest, backfill};
pub use client::{ApiClient, ApiError, RetryPolicy, TokenSigner};
pub use reconcile::{ReconcileStats, Reconciler};

/// The `source_address` of notifications fetched from the API rather than posted by Apple.
pub const SOURCE_LABEL: &str = "app-store-server-api";

/// The two environments the API serves; each has its own host, history and notification URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApiEnvironment {
    Production,
    Sandbox,
}

impl ApiEnvironment {
    pub const ALL: [ApiEnvironment; 2] = [ApiEnvironment::Production, ApiEnvironment::Sandbox];

    /// Apple's spelling, as in payloads and in `[[apps]] environments`.
    pub fn as_str(self) -> &'static str {
        match self {
            ApiEnvironment::Production => "Production",
            ApiEnvironment::Sandbox => "Sandbox",
        }
    }

    /// How far back Get Notification History reaches (spec §14.5).
    pub fn history_days(self) -> i64 {
        match self {
            ApiEnvironment::Production => 180,
            ApiEnvironment::Sandbox => 30,
        }
    }
}

impl std::fmt::Display for ApiEnvironment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ApiEnvironment {
    type Err = String;

    /// `Production` or `Sandbox`, in any case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "production" => Ok(ApiEnvironment::Production),
            "sandbox" => Ok(ApiEnvironment::Sandbox),
            _ => Err(format!(
                "{s:?} is not an environment; use Production or Sandbox"
            )),
        }
    }
}

/// Milliseconds since the epoch, now.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// `ms` as RFC 3339 UTC with milliseconds (`2026-11-29T18:27:38.123Z`).
pub fn format_ms(ms: i64) -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| format!("{ms} ms"))
}

/// A time on the command line: RFC 3339 (`2026-11-01T00:00:00Z`), `now`, or a duration before
/// now (`72h`, `30min`, `7days`, `1h 30m`), in milliseconds since the epoch.
pub fn parse_time(s: &str, now_ms: i64) -> Result<i64, String> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("now") {
        return Ok(now_ms);
    }
    if let Ok(t) = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339) {
        return i64::try_from(t.unix_timestamp_nanos() / 1_000_000)
            .map_err(|_| format!("{s:?} is out of range"));
    }
    match humantime_serde::re::humantime::parse_duration(s) {
        Ok(d) => {
            let ms = i64::try_from(d.as_millis()).map_err(|_| format!("{s:?} is too long ago"))?;
            Ok(now_ms.saturating_sub(ms))
        }
        Err(_) => Err(format!(
            "{s:?} is neither an RFC 3339 time (2026-11-01T00:00:00Z) nor a duration before now (72h, 7days)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environments_parse_in_any_case() {
        assert_eq!(
            "sandbox".parse::<ApiEnvironment>(),
            Ok(ApiEnvironment::Sandbox)
        );
        assert_eq!(
            "Production".parse::<ApiEnvironment>(),
            Ok(ApiEnvironment::Production)
        );
        assert!("Xcode".parse::<ApiEnvironment>().is_err());
    }

    #[test]
    fn times_are_rfc3339_or_durations_before_now() {
        let now = 1_795_996_800_000; // 2026-11-30T00:00:00.000Z
        assert_eq!(parse_time("2026-11-30T00:00:00Z", now), Ok(now));
        assert_eq!(
            parse_time("2026-11-30T01:00:00.250+01:00", now),
            Ok(now + 250)
        );
        assert_eq!(parse_time("72h", now), Ok(now - 72 * 3_600_000));
        assert_eq!(parse_time("7days", now), Ok(now - 7 * 86_400_000));
        assert_eq!(parse_time("1h 30m", now), Ok(now - 90 * 60_000));
        assert_eq!(parse_time("now", now), Ok(now));
        for bad in ["", "yesterday", "2026-13-01T00:00:00Z", "72", "-3h"] {
            let err = parse_time(bad, now).unwrap_err();
            assert!(err.contains("RFC 3339"), "{bad}: {err}");
        }
        assert_eq!(format_ms(now + 123), "2026-11-30T00:00:00.123Z");
        assert_eq!(
            parse_time(&format_ms(now + 123), now),
            Ok(now + 123),
            "what is printed reads back to the same millisecond"
        );
    }
}
