//! Calendar formatting of unix times, as the FD prints them in listings and status
//! (`core/src/lib/btime.cc` `bstrftime()`/`bstrftime_nc()`), without a C library.
//!
//! The conversion is Howard Hinnant's `civil_from_days`; the caller supplies the UTC offset
//! (the FD prints local time; the captures ran in UTC).

use crate::wire::text::Writer;

/// Calendar fields of a unix time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Civil {
    /// Year (e.g. 2026).
    pub year: i64,
    /// Month 1..=12.
    pub month: u32,
    /// Day 1..=31.
    pub day: u32,
    /// Hour.
    pub hour: u32,
    /// Minute.
    pub minute: u32,
    /// Second.
    pub second: u32,
}

impl Civil {
    /// Split `unix` seconds (+ `offset` seconds) into calendar fields.
    pub fn from_unix(unix: i64, offset: i32) -> Self {
        let t = unix.saturating_add(i64::from(offset));
        let (year, month, day) = civil_from_days(t.div_euclid(86_400));
        let secs = t.rem_euclid(86_400);
        Civil {
            year,
            month,
            day,
            hour: (secs / 3600) as u32,
            minute: (secs / 60 % 60) as u32,
            second: (secs % 60) as u32,
        }
    }

    /// Unix seconds of these fields (UTC), the inverse of [`Civil::from_unix`] with offset 0.
    pub fn to_unix(&self) -> i64 {
        days_from_civil(self.year, self.month, self.day) * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
    }
}

/// The proleptic Gregorian date of a day number since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`): (year, month 1..=12, day 1..=31). Every Barque daemon formats and parses
/// dates through this one function and its inverse [`days_from_civil`].
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m as u32, d as u32)
}

/// Day number since 1970-01-01 of a proleptic Gregorian date (`days_from_civil`). Months
/// outside 1..=12 and days outside the month are not checked: callers that parse dates compare
/// the round trip through [`civil_from_days`].
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let (m, d) = (i64::from(month), i64::from(day));
    let y = if m <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9).rem_euclid(12);
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

const MONTHS: [&[u8]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

fn two(w: &mut Writer<'_>, v: u32) {
    w.byte(b'0' + (v / 10 % 10) as u8);
    w.byte(b'0' + (v % 10) as u8);
}

/// `YYYY-MM-DD HH:MM:SS` (listing lines).
pub fn write_iso(w: &mut Writer<'_>, unix: i64, offset: i32) {
    let c = Civil::from_unix(unix, offset);
    w.i64(c.year);
    w.byte(b'-');
    two(w, c.month);
    w.byte(b'-');
    two(w, c.day);
    w.byte(b' ');
    two(w, c.hour);
    w.byte(b':');
    two(w, c.minute);
    w.byte(b':');
    two(w, c.second);
}

/// `dd-Mon-yy HH:MM` (status).
pub fn write_short(w: &mut Writer<'_>, unix: i64, offset: i32) {
    let c = Civil::from_unix(unix, offset);
    two(w, c.day);
    w.byte(b'-');
    w.bytes(
        MONTHS
            .get((c.month as usize).wrapping_sub(1))
            .copied()
            .unwrap_or(b"???"),
    );
    w.byte(b'-');
    two(w, c.year.rem_euclid(100) as u32);
    w.byte(b' ');
    two(w, c.hour);
    w.byte(b':');
    two(w, c.minute);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trips() {
        for t in [-86_401i64, 0, 951_782_400, 1_795_362_414, 4_102_444_800] {
            assert_eq!(Civil::from_unix(t, 0).to_unix(), t, "{t}");
        }
        assert_eq!(civil_from_days(days_from_civil(2024, 2, 29)), (2024, 2, 29));
        assert_eq!(days_from_civil(1970, 1, 1), 0);
    }

    fn s(f: impl FnOnce(&mut Writer<'_>)) -> std::string::String {
        let mut b = [0u8; 64];
        let mut w = Writer::new(&mut b);
        f(&mut w);
        let n = w.finish().unwrap();
        std::string::String::from_utf8(b[..n].to_vec()).unwrap()
    }

    #[test]
    fn captured_times() {
        // vectors/clear-backup-full notes: ctime 1795362403 is 2026-11-22 15:46:43 UTC, the
        // ctime printed by estimate (vectors/clear-estimate conn 2 msg 24).
        assert_eq!(s(|w| write_iso(w, 1_795_362_403, 0)), "2026-11-22 15:46:43");
        assert_eq!(s(|w| write_short(w, 1_795_362_414, 0)), "22-Nov-26 15:46");
        assert_eq!(s(|w| write_iso(w, 0, 0)), "1970-01-01 00:00:00");
        assert_eq!(s(|w| write_iso(w, 951_782_400, 0)), "2000-02-29 00:00:00");
        assert_eq!(s(|w| write_iso(w, -1, 0)), "1969-12-31 23:59:59");
        assert_eq!(s(|w| write_iso(w, 0, 3600)), "1970-01-01 01:00:00");
    }
}
