//! The overview's chart, notifications per hour over the last 48 hours, drawn on the server as
//! SVG: one bar per hour, a `<title>` on each for its hour and count (shown on hover, no script).

use maud::{Markup, html};

use crate::store::reads::HourCount;

/// Hours the chart shows.
pub const HOURS: i64 = 48;
const HOUR_MS: i64 = 3_600_000;
const BAR: i64 = 16;
const HEIGHT: i64 = 160;
const AXIS: i64 = 20;

/// The first hour (hours since the epoch) of the chart ending at `now_ms`'s hour.
pub fn first_hour(now_ms: i64) -> i64 {
    now_ms.div_euclid(HOUR_MS) - (HOURS - 1)
}

/// The counts of each of the [`HOURS`] hours from `first_hour`, 0 where none was stored.
pub fn per_hour(counts: &[HourCount], first_hour: i64) -> Vec<i64> {
    let mut hours = vec![0; HOURS as usize];
    for c in counts {
        if let Ok(i) = usize::try_from(c.hour - first_hour)
            && let Some(slot) = hours.get_mut(i)
        {
            *slot += c.count;
        }
    }
    hours
}

/// The SVG of `hours` (from [`per_hour`]), the first being `first_hour`.
pub fn svg(hours: &[i64], first_hour: i64) -> Markup {
    let max = hours.iter().copied().max().unwrap_or(0).max(1);
    let width = BAR * hours.len() as i64;
    let total: i64 = hours.iter().sum();
    html! {
        svg id="chart" xmlns="http://www.w3.org/2000/svg" role="img"
            width=(width + 40) height=(HEIGHT + AXIS + 10)
            viewBox=(format!("0 0 {} {}", width + 40, HEIGHT + AXIS + 10)) {
            title { "Notifications per hour, last 48 hours: " (total) " in all, at most " (max) " in an hour" }
            line x1="0" y1=(HEIGHT) x2=(width) y2=(HEIGHT) stroke="#888" {}
            text x=(width + 4) y="12" font-size="11" { (max) }
            text x=(width + 4) y=(HEIGHT) font-size="11" { "0" }
            @for (i, count) in hours.iter().enumerate() {
                @let i = i as i64;
                @let h = count * (HEIGHT - 4) / max;
                @let hour_ms = (first_hour + i) * HOUR_MS;
                rect class="bar" x=(i * BAR + 1) y=(HEIGHT - h) width=(BAR - 2) height=(h)
                    data-count=(count) fill="#3b6ea5" {
                    title { (crate::time::format_ms(hour_ms)) ": " (count) }
                }
                @if (first_hour + i) % 12 == 0 {
                    text x=(i * BAR) y=(HEIGHT + 14) font-size="10" {
                        (crate::time::format_ms(hour_ms).get(5..16).unwrap_or_default())
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_land_in_their_hour_and_others_are_dropped() {
        let first = first_hour(100 * HOUR_MS + 5);
        assert_eq!(first, 100 - 47);
        let counts = [
            HourCount {
                hour: first,
                count: 2,
            },
            HourCount {
                hour: 100,
                count: 6,
            },
            HourCount {
                hour: first - 1,
                count: 9,
            },
            HourCount {
                hour: 101,
                count: 9,
            },
        ];
        let hours = per_hour(&counts, first);
        assert_eq!(hours.len(), 48);
        assert_eq!((hours[0], hours[47], hours.iter().sum::<i64>()), (2, 6, 8));
        let svg = svg(&hours, first).into_string();
        assert_eq!(svg.matches("<rect").count(), 48);
        assert!(svg.contains("data-count=\"6\""), "{svg}");
    }
}
