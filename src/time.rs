//! Wall-clock time as Apple and the database write it: milliseconds since the UNIX epoch.

/// The last millisecond of 9999-12-31, the latest time stored (PostgreSQL refuses far later
/// ones, and SQLite's date functions misread them).
pub const LATEST_STORABLE_MS: i64 = 253_402_300_799_999;

/// A time both stores hold and read back as it is: 1970-01-01 to 9999-12-31.
pub fn is_storable_ms(ms: i64) -> bool {
    (0..=LATEST_STORABLE_MS).contains(&ms)
}

/// `ms` when it is storable, else `None` (see `store::representable`).
pub fn storable_ms(ms: Option<i64>) -> Option<i64> {
    ms.filter(|ms| is_storable_ms(*ms))
}

/// Milliseconds since the epoch, now (0 for a clock set before 1970).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// `ms` as RFC 3339 UTC with milliseconds (`2026-11-29T18:27:38.123Z`); the raw number for a
/// date outside the calendar.
pub fn format_ms(ms: i64) -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| format!("{ms} ms"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_milliseconds_and_survives_odd_dates() {
        assert_eq!(format_ms(1_795_976_857_001), "2026-11-29T18:27:37.001Z");
        assert_eq!(format_ms(i64::MAX), format!("{} ms", i64::MAX));
        assert!(now_ms() > 1_700_000_000_000);
    }
}
