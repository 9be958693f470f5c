//! The Director's local time zone, for the times it prints and schedules (Bareos uses
//! `localtime_r()`: job names, reports, `status dir`, Schedule `Run =` times).
//!
//! The zone comes from `TZ` as the C library reads it: unset means `/etc/localtime`; `:path`
//! or a name (`Europe/Berlin`) a TZif file (names under `/usr/share/zoneinfo`); `UTC`,
//! `GMT`, an empty value or a POSIX string without DST rules (`CET-1`, `EST5`) a fixed
//! offset. A TZif file's transitions are used (version 2+ 64-bit data when present); after
//! the last transition the footer's POSIX string is used when it has no DST rules, else the
//! last transition's offset (the tzdata "fat" files carry transitions up to 2037). Anything
//! unreadable falls back to UTC with one warning in the log. All parsing is bounds-checked.
//!
//! The catalog keeps UTC text internally (see [`crate::catalog::time`]); only what is shown
//! and the scheduler's calendar use the local zone.

use std::sync::OnceLock;

/// A parsed zone: transition times with the offset in force from each, and the offset
/// before the first / when there are none.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Zone {
    transitions: Vec<(i64, i32)>,
    initial: i32,
    /// A fixed offset for times after the last transition (footer without DST), if known.
    tail: Option<i32>,
}

impl Zone {
    /// A fixed offset (seconds east of UTC).
    pub fn fixed(offset: i32) -> Zone {
        Zone {
            transitions: Vec::new(),
            initial: offset,
            tail: Some(offset),
        }
    }

    /// Seconds east of UTC at unix time `t`.
    pub fn offset(&self, t: i64) -> i32 {
        let i = self.transitions.partition_point(|(at, _)| *at <= t);
        if i == 0 {
            return if self.transitions.is_empty() {
                self.tail.unwrap_or(self.initial)
            } else {
                self.initial
            };
        }
        if i == self.transitions.len() {
            if let Some(tail) = self.tail {
                return tail;
            }
        }
        self.transitions
            .get(i - 1)
            .map_or(self.initial, |(_, o)| *o)
    }

    /// Parse a TZif file (RFC 8536).
    pub fn parse_tzif(data: &[u8]) -> Result<Zone, String> {
        let be32 = |at: usize| -> Result<u32, String> {
            data.get(at..at + 4)
                .and_then(|b| b.try_into().ok())
                .map(u32::from_be_bytes)
                .ok_or_else(|| "truncated TZif file".to_string())
        };
        if data.get(..4) != Some(b"TZif") {
            return Err("not a TZif file".into());
        }
        let version = data.get(4).copied().unwrap_or(0);
        let counts = |base: usize| -> Result<[usize; 6], String> {
            let mut c = [0usize; 6];
            for (i, v) in c.iter_mut().enumerate() {
                *v = be32(base + 20 + 4 * i)? as usize;
            }
            Ok(c)
        };
        // [isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt]
        let c1 = counts(0)?;
        let v1_len = c1[3] * 5 + c1[4] * 6 + c1[5] + c1[2] * 8 + c1[1] + c1[0];
        let (base, tsize, c) = if version >= b'2' {
            let b2 = 44 + v1_len;
            if data.get(b2..b2 + 4) != Some(b"TZif") {
                return Err("bad second TZif header".into());
            }
            (b2, 8usize, counts(b2)?)
        } else {
            (0, 4usize, c1)
        };
        let (timecnt, typecnt, charcnt, leapcnt) = (c[3], c[4], c[5], c[2]);
        if typecnt == 0 || typecnt > 256 || timecnt > 100_000 {
            return Err("implausible TZif counts".into());
        }
        let times_at = base + 44;
        let idx_at = times_at + timecnt * tsize;
        let types_at = idx_at + timecnt;
        let mut types = Vec::with_capacity(typecnt);
        for i in 0..typecnt {
            let off = be32(types_at + 6 * i)? as i32;
            types.push(off);
        }
        let mut transitions = Vec::with_capacity(timecnt);
        for i in 0..timecnt {
            let at = times_at + i * tsize;
            let t = if tsize == 8 {
                data.get(at..at + 8)
                    .and_then(|b| b.try_into().ok())
                    .map(i64::from_be_bytes)
                    .ok_or("truncated TZif file")?
            } else {
                i64::from(be32(at)? as i32)
            };
            let ty = *data.get(idx_at + i).ok_or("truncated TZif file")? as usize;
            let off = *types.get(ty).ok_or("bad TZif type index")?;
            transitions.push((t, off));
        }
        let end = types_at + typecnt * 6 + charcnt + leapcnt * (tsize + 4) + c[1] + c[0];
        let tail = if version >= b'2' {
            data.get(end..)
                .and_then(|f| f.strip_prefix(b"\n"))
                .and_then(|f| f.split(|&b| b == b'\n').next())
                .and_then(|s| std::str::from_utf8(s).ok())
                .and_then(posix_fixed)
        } else {
            None
        };
        Ok(Zone {
            initial: types.first().copied().unwrap_or(0),
            transitions,
            tail,
        })
    }
}

/// The offset of a POSIX TZ string without DST rules (`UTC0`, `CET-1`, `<+0530>-5:30`);
/// `None` when it has DST rules or does not parse.
fn posix_fixed(s: &str) -> Option<i32> {
    let rest = if let Some(r) = s.strip_prefix('<') {
        r.split_once('>')?.1
    } else {
        s.trim_start_matches(|c: char| c.is_ascii_alphabetic())
    };
    if rest.is_empty() {
        // "UTC", "GMT": no offset given.
        return (s.len() >= 3).then_some(0);
    }
    let (sign, num) = match rest.as_bytes().first()? {
        b'-' => (1, rest.get(1..)?),
        b'+' => (-1, rest.get(1..)?),
        _ => (-1, rest),
    };
    let end = num
        .find(|c: char| !(c.is_ascii_digit() || c == ':'))
        .unwrap_or(num.len());
    if end != num.len() {
        return None; // a DST name or rules follow
    }
    let mut parts = num.split(':');
    let h: i32 = parts.next()?.parse().ok()?;
    let m: i32 = parts.next().map_or(Some(0), |p| p.parse().ok())?;
    let sec: i32 = parts.next().map_or(Some(0), |p| p.parse().ok())?;
    if h > 24 || m > 59 || sec > 59 {
        return None;
    }
    Some(sign * (h * 3600 + m * 60 + sec))
}

fn load() -> Zone {
    let tz = std::env::var("TZ").ok();
    let path = match tz.as_deref() {
        None => std::path::PathBuf::from("/etc/localtime"),
        Some("") => return Zone::fixed(0),
        Some(v) => {
            let v = v.strip_prefix(':').unwrap_or(v);
            if let Some(off) = posix_fixed(v).filter(|_| !v.contains('/')) {
                if !std::path::Path::new("/usr/share/zoneinfo")
                    .join(v)
                    .is_file()
                {
                    return Zone::fixed(off);
                }
            }
            if v.starts_with('/') {
                std::path::PathBuf::from(v)
            } else {
                std::path::Path::new("/usr/share/zoneinfo").join(v)
            }
        }
    };
    match std::fs::read(&path)
        .map_err(|e| e.to_string())
        .and_then(|d| Zone::parse_tzif(&d))
    {
        Ok(z) => z,
        Err(e) => {
            log::warn!(
                "time zone {}: {e}; printing times in UTC (set TZ to a zone name such as \
                 Europe/Berlin, or install tzdata)",
                path.display()
            );
            Zone::fixed(0)
        }
    }
}

/// Seconds east of UTC of the Director's local zone at unix time `t`.
pub fn offset(t: i64) -> i64 {
    static ZONE: OnceLock<Zone> = OnceLock::new();
    i64::from(ZONE.get_or_init(load).offset(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn posix_strings() {
        assert_eq!(posix_fixed("UTC0"), Some(0));
        assert_eq!(posix_fixed("UTC"), Some(0));
        assert_eq!(posix_fixed("CET-1"), Some(3600));
        assert_eq!(posix_fixed("EST5"), Some(-5 * 3600));
        assert_eq!(posix_fixed("<+0530>-5:30"), Some(5 * 3600 + 1800));
        assert_eq!(posix_fixed("CET-1CEST,M3.5.0,M10.5.0/3"), None);
    }

    #[test]
    fn tzif_berlin_and_garbage() {
        assert!(Zone::parse_tzif(b"nope").is_err());
        assert!(Zone::parse_tzif(b"TZif2\0\0\0").is_err());
        // The system's tzdata (scripts/setup installs it); skipped where it is missing.
        let Ok(data) = std::fs::read("/usr/share/zoneinfo/Europe/Berlin") else {
            eprintln!("no /usr/share/zoneinfo/Europe/Berlin; skipped");
            return;
        };
        let z = Zone::parse_tzif(&data).expect("Berlin");
        let t = |y, m, d| crate::jobs::time::unix(y, m, d, 12, 0, 0);
        assert_eq!(z.offset(t(2026, 1, 15)), 3600);
        assert_eq!(z.offset(t(2026, 7, 15)), 7200);
        // Summer time 2026 starts 29 March 01:00 UTC.
        assert_eq!(
            z.offset(crate::jobs::time::unix(2026, 3, 29, 0, 59, 59)),
            3600
        );
        assert_eq!(
            z.offset(crate::jobs::time::unix(2026, 3, 29, 1, 0, 0)),
            7200
        );
        // Every prefix of the file is an error or a zone, never a panic.
        for n in 0..data.len() {
            let _ = Zone::parse_tzif(data.get(..n).unwrap_or(&[]));
        }
    }
}
