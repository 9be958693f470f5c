//! Calendar arithmetic and the clock the engine reads.
//!
//! [`unix`] and [`civil`] are UTC arithmetic; [`local`] breaks a time down in the Director's
//! local zone ([`crate::tz`]), which is what the printed times (reports, job names, lists)
//! and the scheduler use, as Bareos' `localtime_r()`. The captures were taken on a UTC
//! machine, so their formats compare byte for byte with `TZ=UTC`. The engine reads "now"
//! through [`Clock`] so that the scheduler and the job names can be tested with a virtual
//! clock.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use fd_core::fd::timefmt::days_from_civil;

/// English month abbreviations as Bareos prints them.
pub const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A broken-down UTC time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Civil {
    /// Year.
    pub year: i64,
    /// Month 1..=12.
    pub month: u32,
    /// Day of month 1..=31.
    pub day: u32,
    /// Hour.
    pub hour: u32,
    /// Minute.
    pub minute: u32,
    /// Second.
    pub second: u32,
    /// Day of week, 0 = Sunday.
    pub wday: u32,
    /// Day of year, 0-based.
    pub yday: u32,
}

/// Unix seconds of a UTC date and time.
pub fn unix(year: i64, month: u32, day: u32, hour: u32, minute: u32, second: u32) -> i64 {
    days_from_civil(year, month, day) * 86_400
        + i64::from(hour) * 3600
        + i64::from(minute) * 60
        + i64::from(second)
}

/// Break a unix time down (UTC), with the weekday and day of year the scheduler needs.
pub fn civil(t: i64) -> Civil {
    let c = fd_core::fd::timefmt::Civil::from_unix(t, 0);
    let days = t.div_euclid(86_400);
    Civil {
        year: c.year,
        month: c.month,
        day: c.day,
        hour: c.hour,
        minute: c.minute,
        second: c.second,
        wday: (days + 4).rem_euclid(7) as u32,
        yday: (days - days_from_civil(c.year, 1, 1)) as u32,
    }
}

/// Break a unix time down in the local time zone.
pub fn local(t: i64) -> Civil {
    civil(t.saturating_add(crate::tz::offset(t)))
}

/// `22-Nov-2026 15:46:52` (the report's times, `bstrftime` with `%d-%b-%Y %H:%M:%S`).
pub fn report_time(t: i64) -> String {
    let c = local(t);
    let mon = MONTHS.get(c.month as usize - 1).copied().unwrap_or("Jan");
    format!(
        "{:02}-{}-{} {:02}:{:02}:{:02}",
        c.day, mon, c.year, c.hour, c.minute, c.second
    )
}

/// `2026-11-22 15:46:52`.
pub fn sql_time(t: i64) -> String {
    let c = local(t);
    format!(
        "{}-{:02}-{:02} {:02}:{:02}:{:02}",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    )
}

/// `2026-11-22_15.46.52` (the unique Job name's time part).
pub fn job_name_time(t: i64) -> String {
    let c = local(t);
    format!(
        "{}-{:02}-{:02}_{:02}.{:02}.{:02}",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    )
}

/// Where the engine reads the time of day.
pub trait Clock: Send + Sync {
    /// Unix seconds.
    fn now(&self) -> i64;
    /// Microseconds since the epoch (the `btime` answers).
    fn now_micros(&self) -> u64 {
        u64::try_from(self.now()).unwrap_or(0) * 1_000_000
    }
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    }
    fn now_micros(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
            .unwrap_or(0)
    }
}

/// A clock that only moves when told to (tests, the scheduler's tests).
#[derive(Debug, Default)]
pub struct VirtualClock(AtomicI64);

impl VirtualClock {
    /// A clock reading `t`.
    pub fn new(t: i64) -> Self {
        Self(AtomicI64::new(t))
    }
    /// Set the time.
    pub fn set(&self, t: i64) {
        self.0.store(t, Ordering::SeqCst);
    }
    /// Move forward by `secs`.
    pub fn advance(&self, secs: i64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }
}

impl Clock for VirtualClock {
    fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn civil_round_trips(t in -2_000_000_000i64..8_000_000_000) {
            let c = civil(t);
            prop_assert_eq!(unix(c.year, c.month, c.day, c.hour, c.minute, c.second), t);
            prop_assert!(c.wday < 7 && c.yday < 366);
            prop_assert_eq!(i64::from(c.yday), (t - unix(c.year, 1, 1, 0, 0, 0)).div_euclid(86_400));
            // 1970-01-01 was a Thursday.
            prop_assert_eq!(i64::from(c.wday), (t.div_euclid(86_400) + 4).rem_euclid(7));
        }
    }

    #[test]
    fn capture_times() {
        // vectors/clear-backup-full: 1795362412 is 2026-11-22 15:46:52 UTC (a Sunday).
        let t = unix(2026, 11, 22, 15, 46, 52);
        assert_eq!(t, 1_795_362_412);
        assert_eq!(report_time(t), "22-Nov-2026 15:46:52");
        assert_eq!(job_name_time(t), "2026-11-22_15.46.52");
        assert_eq!(sql_time(t), "2026-11-22 15:46:52");
        assert_eq!(civil(t).wday, 0);
        assert_eq!(civil(unix(2026, 1, 1, 0, 0, 0)).yday, 0);
        assert_eq!(civil(unix(2024, 12, 31, 0, 0, 0)).yday, 365);
    }
}
