//! Catalog timestamps: Unix seconds in the API, `YYYY-MM-DD HH:MM:SS` in SQL text.
//!
//! Bareos writes catalog times with `bstrutime()` (`core/src/lib/btime.cc`), local time, as
//! `YYYY-MM-DD HH:MM:SS`, and reads them back with `StrToUtime()`. Barque keeps the catalog in
//! UTC (the captures' clock is UTC, so the two agree there: `vectors/catalog-dump.txt` JobId 1
//! StartTime `2026-11-22 15:46:54` is the `since_utime=1795362414` of the following
//! Incremental, `vectors/clear-backup-incr` conn 3 msg 12). The conversion is the proleptic
//! Gregorian civil-day algorithm; no time-zone database is needed.

use super::Error;

const SECS_PER_DAY: i64 = 86_400;

// One calendar conversion for every daemon: fd-core's.
use fd_core::fd::timefmt::{civil_from_days, days_from_civil};

/// `YYYY-MM-DD HH:MM:SS` (UTC) of Unix seconds.
pub fn format_sql(t: i64) -> String {
    let days = t.div_euclid(SECS_PER_DAY);
    let secs = t.rem_euclid(SECS_PER_DAY);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

fn num(s: &str, lo: i64, hi: i64) -> Result<i64, Error> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::BadTimestamp);
    }
    let v: i64 = s.parse().map_err(|_| Error::BadTimestamp)?;
    if v < lo || v > hi {
        return Err(Error::BadTimestamp);
    }
    Ok(v)
}

/// Parse `YYYY-MM-DD HH:MM:SS` (UTC; a fractional part `.ffffff` is ignored) to Unix seconds.
pub fn parse_sql(s: &str) -> Result<i64, Error> {
    let (date, clock) = s.split_once(' ').ok_or(Error::BadTimestamp)?;
    let clock = clock.split_once('.').map_or(clock, |(c, _)| c);
    let mut dp = date.split('-');
    let mut cp = clock.split(':');
    let (Some(y), Some(mo), Some(d), None) = (dp.next(), dp.next(), dp.next(), dp.next()) else {
        return Err(Error::BadTimestamp);
    };
    let (Some(h), Some(mi), Some(se), None) = (cp.next(), cp.next(), cp.next(), cp.next()) else {
        return Err(Error::BadTimestamp);
    };
    if y.len() != 4 || mo.len() != 2 || d.len() != 2 {
        return Err(Error::BadTimestamp);
    }
    let (y, mo) = (num(y, 0, 9999)?, num(mo, 1, 12)?);
    let d = num(d, 1, 31)?;
    let (mo, d) = (mo as u32, d as u32);
    if civil_from_days(days_from_civil(y, mo, d)) != (y, mo, d) {
        return Err(Error::BadTimestamp); // 31 April, 29 February of a common year
    }
    let (h, mi, se) = (num(h, 0, 23)?, num(mi, 0, 59)?, num(se, 0, 59)?);
    Ok(days_from_civil(y, mo, d) * SECS_PER_DAY + h * 3600 + mi * 60 + se)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn capture_times() {
        // vectors/catalog-dump.txt JobId 1 StartTime; since_utime of JobId 2
        // (vectors/clear-backup-incr conn 3 msg 12).
        assert_eq!(parse_sql("2026-11-22 15:46:54"), Ok(1_795_362_414));
        assert_eq!(format_sql(1_795_362_414), "2026-11-22 15:46:54");
        assert_eq!(parse_sql("1970-01-01 00:00:00"), Ok(0));
        assert_eq!(parse_sql("2026-11-22 15:46:54.123456"), Ok(1_795_362_414));
    }

    #[test]
    fn impossible_times() {
        for bad in [
            "",
            "2026-11-22",
            "2026-11-22T15:46:54",
            "2026-13-01 00:00:00",
            "2026-02-29 00:00:00",
            "2026-04-31 00:00:00",
            "2026-11-22 24:00:00",
            "2026-11-22 15:60:00",
            "2026-1-22 15:46:54",
            "2026-11-22 15:46:54:00",
            "2026-11-22 +5:46:54",
            "0000-00-00 00:00:00",
        ] {
            assert_eq!(parse_sql(bad), Err(Error::BadTimestamp), "{bad:?}");
        }
        assert_eq!(parse_sql("2024-02-29 00:00:00"), Ok(1_709_164_800));
    }

    proptest! {
        #[test]
        fn round_trip(t in 0i64..253_402_300_799) {
            prop_assert_eq!(parse_sql(&format_sql(t)), Ok(t));
        }
    }
}
