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
        let days = t.div_euclid(86_400);
        let secs = t.rem_euclid(86_400);
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let y = yoe + era * 400;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        Civil {
            year: if m <= 2 { y + 1 } else { y },
            month: m as u32,
            day: d as u32,
            hour: (secs / 3600) as u32,
            minute: (secs / 60 % 60) as u32,
            second: (secs % 60) as u32,
        }
    }
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
