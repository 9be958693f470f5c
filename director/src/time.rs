//! Calendar formatting for console output.
//!
//! Bareos prints times with `bstrftime_nc` (`%d-%b-%y %H:%M`, e.g. `22-Nov-26 15:47`,
//! vectors/clear-bconsole conn 1 msgs 12 and 16) in the Director's local time zone; so does
//! Barque ([`crate::tz`]: `TZ`, else `/etc/localtime`). The capture machine ran in UTC.

use std::time::{SystemTime, UNIX_EPOCH};

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Broken-down UTC time: fd-core's calendar fields (one `civil_from_days` for all daemons).
pub use fd_core::fd::timefmt::Civil;

/// Seconds since the epoch to UTC calendar fields.
pub fn civil(secs: i64) -> Civil {
    Civil::from_unix(secs, 0)
}

/// Unix seconds shifted by the local zone's offset: calendar fields of the result are local.
fn epoch(t: SystemTime) -> i64 {
    let u = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    };
    u.saturating_add(crate::tz::offset(u))
}

fn month(c: &Civil) -> &'static str {
    MONTHS
        .get(usize::try_from(c.month.saturating_sub(1)).unwrap_or(0))
        .copied()
        .unwrap_or("???")
}

/// `bstrftime_nc`: `dd-Mon-yy HH:MM`.
pub fn short(t: SystemTime) -> String {
    let c = civil(epoch(t));
    format!(
        "{:02}-{}-{:02} {:02}:{:02}",
        c.day,
        month(&c),
        c.year.rem_euclid(100),
        c.hour,
        c.minute
    )
}

const WEEKDAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

/// The weekday abbreviation (1970-01-01 was a Thursday).
pub fn weekday(t: SystemTime) -> &'static str {
    let days = epoch(t).div_euclid(86_400);
    WEEKDAYS
        .get(usize::try_from((days + 4).rem_euclid(7)).unwrap_or(0))
        .copied()
        .unwrap_or("???")
}

/// The calendar fields of a time (local).
pub fn fields(t: SystemTime) -> Civil {
    civil(epoch(t))
}

/// `time` command: `%a %d-%b-%Y %H:%M:%S`, e.g. `Sun 22-Nov-2026 15:47:54`.
pub fn long(t: SystemTime) -> String {
    let c = civil(epoch(t));
    format!(
        "{} {:02}-{}-{} {:02}:{:02}:{:02}",
        weekday(t),
        c.day,
        month(&c),
        c.year,
        c.hour,
        c.minute,
        c.second
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn capture_times() {
        // vectors/clear-bconsole conn 1 msg 2: challenge timestamp 1795362474 = the session
        // start; msg 16 prints `Console connected at 22-Nov-26 15:47`.
        let t = UNIX_EPOCH + Duration::from_secs(1_795_362_474);
        assert_eq!(short(t), "22-Nov-26 15:47");
        assert_eq!(long(t), "Sun 22-Nov-2026 15:47:54");
    }

    #[test]
    fn epoch_and_leap_day() {
        assert_eq!(short(UNIX_EPOCH), "01-Jan-70 00:00");
        // 2024-02-29 12:00:00 UTC
        let t = UNIX_EPOCH + Duration::from_secs(1_709_208_000);
        assert_eq!(long(t), "Thu 29-Feb-2024 12:00:00");
    }
}
