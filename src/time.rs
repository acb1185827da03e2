//! Wall-clock time as Apple and the database write it: milliseconds since the UNIX epoch.

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
