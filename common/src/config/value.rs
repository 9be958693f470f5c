//! Typed directive values and the unit parsers behind them.
//!
//! The number-with-unit grammar follows Bareos' `core/src/lib/edit.cc`
//! (`DurationToUtime`, `size_to_uint64`, `speed_to_uint64`): a value is a sequence of
//! `number [unit]` pairs that are added up (`1 day 12 hours`), a number may have a fraction
//! (`1.5 g`), a missing unit means the base unit (seconds, bytes, bytes/s), and a unit matches
//! when what was written is a case-insensitive *prefix* of the unit's name, the first match
//! winning in Bareos' table order. That order matters: for durations `m` is months (it is tested
//! before minutes), `mi`/`min`/`mins` are minutes and `n` is minutes too; for sizes `k` is 1024
//! and `kb` is 1000 (`k`, `m`, `g`, `t`, `p`, `e` are binary, the `*b` forms decimal). The config
//! store routines (`StoreTime`, `store_int_unit` in `core/src/lib/res.cc`) first glue all the
//! words of the line together, so `365 days` and `365days` are the same.
//!
//! Booleans follow `core/src/lib/bool_string.h`: `yes`/`no` in any case; `true`/`false`/`1`/`0`
//! are accepted but deprecated (a warning).

use md5::{Digest, Md5};
use std::fmt;

/// A duration in seconds, as Bareos' `utime_t` configuration values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Seconds(pub u64);

impl Seconds {
    /// As a std duration.
    pub fn as_duration(self) -> std::time::Duration {
        std::time::Duration::from_secs(self.0)
    }
}

const DURATION_UNITS: &[(&str, f64)] = &[
    ("n", 60.0),
    ("seconds", 1.0),
    ("months", 60.0 * 60.0 * 24.0 * 30.0),
    ("minutes", 60.0),
    ("mins", 60.0),
    ("hours", 3600.0),
    ("days", 3600.0 * 24.0),
    ("weeks", 3600.0 * 24.0 * 7.0),
    ("quarters", 3600.0 * 24.0 * 91.0),
    ("years", 3600.0 * 24.0 * 365.0),
];

const SIZE_UNITS: &[(&str, f64)] = &[
    ("*", 1.0),
    ("k", 1024.0),
    ("kb", 1e3),
    ("m", 1_048_576.0),
    ("mb", 1e6),
    ("g", 1_073_741_824.0),
    ("gb", 1e9),
    ("t", 1_099_511_627_776.0),
    ("tb", 1e12),
    ("p", 1_125_899_906_842_624.0),
    ("pb", 1e15),
    ("e", 1_152_921_504_606_846_976.0),
    ("eb", 1e18),
];

const SPEED_UNITS: &[(&str, f64)] = &[
    ("*", 1.0),
    ("k/s", 1024.0),
    ("kb/s", 1e3),
    ("m/s", 1_048_576.0),
    ("mb/s", 1e6),
];

/// Why a number with a unit did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnitError {
    /// No number where one was expected.
    NotANumber,
    /// A unit that is not in the table.
    UnknownUnit(String),
    /// Negative, not finite, or too large for the target type.
    OutOfRange,
}

impl fmt::Display for UnitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnitError::NotANumber => f.write_str("not a number"),
            UnitError::UnknownUnit(u) => write!(f, "unknown unit \"{u}\""),
            UnitError::OutOfRange => f.write_str("value out of range"),
        }
    }
}

/// The longest prefix of `s` that C's `strtod` would read as a decimal number (sign, digits,
/// fraction, exponent). Returns the value and the bytes consumed.
fn leading_float(s: &str) -> Option<(f64, usize)> {
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let digits_start = i;
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    let mut had_digits = i > digits_start;
    if b.get(i) == Some(&b'.') {
        let frac_start = i + 1;
        let mut j = frac_start;
        while b.get(j).is_some_and(u8::is_ascii_digit) {
            j += 1;
        }
        if j > frac_start || had_digits {
            had_digits = had_digits || j > frac_start;
            i = j;
        }
    }
    if !had_digits {
        return None;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        let mut j = i + 1;
        if matches!(b.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        let exp_start = j;
        while b.get(j).is_some_and(u8::is_ascii_digit) {
            j += 1;
        }
        if j > exp_start {
            i = j;
        }
    }
    s.get(..i)?.parse::<f64>().ok().map(|v| (v, i))
}

/// Sum of `number [unit]` pairs against a unit table, Bareos style.
fn parse_with_units(input: &str, units: &[(&str, f64)]) -> Result<u64, UnitError> {
    let mut total: u64 = 0;
    let mut rest = input;
    let mut seen_number = false;
    loop {
        let trimmed = rest.trim_start();
        if trimmed.is_empty() {
            break;
        }
        let Some((number, used)) = leading_float(trimmed) else {
            return Err(if seen_number {
                UnitError::UnknownUnit(trimmed.to_string())
            } else {
                UnitError::NotANumber
            });
        };
        seen_number = true;
        if !number.is_finite() || number < 0.0 {
            return Err(UnitError::OutOfRange);
        }
        let after = trimmed.get(used..).unwrap_or_default().trim_start();
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c.is_ascii_whitespace())
            .unwrap_or(after.len());
        let unit = after.get(..unit_len).unwrap_or_default();
        let mult = if unit.is_empty() {
            1.0
        } else {
            units
                .iter()
                .find(|(name, _)| {
                    unit.len() <= name.len()
                        && name
                            .get(..unit.len())
                            .is_some_and(|p| p.eq_ignore_ascii_case(unit))
                })
                .map(|(_, m)| *m)
                .ok_or_else(|| UnitError::UnknownUnit(unit.to_string()))?
        };
        let value = number * mult;
        if value >= 18_446_744_073_709_551_616.0 {
            return Err(UnitError::OutOfRange);
        }
        total = total
            .checked_add(value as u64)
            .ok_or(UnitError::OutOfRange)?;
        rest = after.get(unit_len..).unwrap_or_default();
    }
    if !seen_number {
        return Err(UnitError::NotANumber);
    }
    Ok(total)
}

/// Parse a Bareos duration (`StoreTime`): `90`, `5 min`, `1 day 12 hours`, `365 days`.
pub fn parse_duration(s: &str) -> Result<Seconds, UnitError> {
    parse_with_units(s, DURATION_UNITS).map(Seconds)
}

/// Parse a Bareos size in bytes (`store_size64`): `512`, `10 k` (10240), `10 kb` (10000), `1.5 g`.
pub fn parse_size(s: &str) -> Result<u64, UnitError> {
    parse_with_units(s, SIZE_UNITS)
}

/// Parse a Bareos speed in bytes per second (`StoreSpeed`): `256 k/s`, `1 mb/s`.
pub fn parse_speed(s: &str) -> Result<u64, UnitError> {
    parse_with_units(s, SPEED_UNITS)
}

/// A parsed boolean, with whether the spelling is deprecated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedBool {
    pub value: bool,
    pub deprecated: bool,
}

/// Parse a Bareos boolean: `yes`/`no`; `true`/`false`/`1`/`0` are deprecated.
pub fn parse_bool(s: &str) -> Option<ParsedBool> {
    let l = s.to_ascii_lowercase();
    match l.as_str() {
        "yes" => Some(ParsedBool {
            value: true,
            deprecated: false,
        }),
        "no" => Some(ParsedBool {
            value: false,
            deprecated: false,
        }),
        "true" | "1" => Some(ParsedBool {
            value: true,
            deprecated: true,
        }),
        "false" | "0" => Some(ParsedBool {
            value: false,
            deprecated: true,
        }),
        _ => None,
    }
}

/// A password directive value.
///
/// Bareos accepts a password either in clear or as `[md5]<32 hex digits>` (the MD5 of the
/// clear text, as `bareos-dbcheck`/`bconsole` configs are sometimes written). The File and
/// Storage daemons never need the clear text: the CRAM-MD5 secret on the wire is the MD5 hex of
/// the password (`StoreMd5Password` in `core/src/lib/res.cc`). [`Password::md5_hex`] gives that
/// secret either way.
#[derive(Clone, PartialEq, Eq)]
pub struct Password {
    value: String,
    md5_prefixed: bool,
}

impl Password {
    /// Parse the text of a password directive. Fails only for a malformed `[md5]` value.
    pub fn parse(text: &str) -> Result<Password, String> {
        if let Some(hex) = text.strip_prefix("[md5]") {
            if hex.len() != 32 {
                return Err(format!(
                    "an [md5] password must be followed by 32 hexadecimal digits, got {}",
                    hex.len()
                ));
            }
            if let Some(bad) = hex.chars().find(|c| !c.is_ascii_hexdigit()) {
                return Err(format!(
                    "an [md5] password contains the non-hexadecimal character '{bad}'"
                ));
            }
            Ok(Password {
                value: hex.to_ascii_lowercase(),
                md5_prefixed: true,
            })
        } else {
            Ok(Password {
                value: text.to_string(),
                md5_prefixed: false,
            })
        }
    }

    /// Whether it was written as `[md5]...`.
    pub fn is_md5_prefixed(&self) -> bool {
        self.md5_prefixed
    }

    /// The clear text, if it was written in clear.
    pub fn plaintext(&self) -> Option<&str> {
        (!self.md5_prefixed).then_some(self.value.as_str())
    }

    /// Lower-case MD5 hex of the clear text (32 characters), the value Bareos authenticates with.
    pub fn md5_hex(&self) -> String {
        if self.md5_prefixed {
            return self.value.clone();
        }
        let digest = Md5::digest(self.value.as_bytes());
        let mut s = String::with_capacity(32);
        for b in digest {
            s.push_str(&format!("{b:02x}"));
        }
        s
    }

    /// Whether the password is empty (in clear, or the MD5 of the empty string).
    pub fn is_empty(&self) -> bool {
        if self.md5_prefixed {
            self.value == "d41d8cd98f00b204e9800998ecf8427e"
        } else {
            self.value.is_empty()
        }
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print secrets in logs.
        f.debug_struct("Password")
            .field("md5_prefixed", &self.md5_prefixed)
            .finish_non_exhaustive()
    }
}

/// The address family of an `Addresses` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// `ip`: IPv4 or IPv6, whatever the host resolves to.
    Any,
    Ipv4,
    Ipv6,
}

/// One `ip|ipv4|ipv6 = { addr = ...; port = ... }` entry, or a single `Address`/`Port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenAddress {
    pub family: Family,
    /// Host name or address; `None` means all addresses.
    pub addr: Option<String>,
    /// Port number or service name; `None` means the default port.
    pub port: Option<String>,
}

/// Message destination (`Messages` resource), e.g. `append = "/var/log/x" = all, !skipped`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageDestination {
    /// Where: file name, mail addresses, director name, syslog facility; empty for console etc.
    pub target: Vec<String>,
    /// Message types, each optionally negated with `!` (kept as written, lower-cased).
    pub types: Vec<String>,
}

/// The Bareos message types (`msg_types` in `core/src/lib/generic_res.h`).
pub const MESSAGE_TYPES: &[&str] = &[
    "debug",
    "abort",
    "fatal",
    "error",
    "warning",
    "info",
    "saved",
    "notsaved",
    "skipped",
    "mount",
    "terminate",
    "restored",
    "security",
    "alert",
    "volmgmt",
    "audit",
    "all",
];

/// A typed directive value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// String, directory, name, keyword, resource reference.
    Str(String),
    /// A password.
    Password(Password),
    /// Signed or unsigned integer.
    Int(i64),
    /// yes/no.
    Bool(bool),
    /// A duration.
    Duration(Seconds),
    /// A size in bytes.
    Size(u64),
    /// A speed in bytes per second.
    Speed(u64),
    /// A list of strings (accumulated over repeated directives).
    List(Vec<String>),
    /// Listen/dial addresses.
    Addresses(Vec<ListenAddress>),
    /// Message destinations.
    Messages(Vec<MessageDestination>),
    /// Nested blocks (`Include { }`, `Options { }`, `RunScript { }`), one per occurrence.
    Blocks(Vec<Vec<super::Directive>>),
    /// Schedule `Run` lines, one per occurrence, each with where it was written.
    Runs(Vec<(super::Location, super::schedule::RunSpec)>),
}

impl Value {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }
    pub fn as_duration(&self) -> Option<Seconds> {
        match self {
            Value::Duration(d) => Some(*d),
            _ => None,
        }
    }
    pub fn as_size(&self) -> Option<u64> {
        match self {
            Value::Size(s) | Value::Speed(s) => Some(*s),
            _ => None,
        }
    }
    pub fn as_password(&self) -> Option<&Password> {
        match self {
            Value::Password(p) => Some(p),
            _ => None,
        }
    }
    pub fn as_list(&self) -> Option<&[String]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90"), Ok(Seconds(90)));
        assert_eq!(parse_duration("5"), Ok(Seconds(5)));
        assert_eq!(parse_duration("365days"), Ok(Seconds(365 * 86400)));
        assert_eq!(parse_duration("365 days"), Ok(Seconds(365 * 86400)));
        assert_eq!(
            parse_duration("1 day 12 hours"),
            Ok(Seconds(86400 + 12 * 3600))
        );
        assert_eq!(parse_duration("1day2hours"), Ok(Seconds(86400 + 2 * 3600)));
        assert_eq!(parse_duration("10 s"), Ok(Seconds(10)));
        assert_eq!(parse_duration("10 sec"), Ok(Seconds(10)));
        assert_eq!(parse_duration("10 seconds"), Ok(Seconds(10)));
        assert_eq!(parse_duration("2 min"), Ok(Seconds(120)));
        assert_eq!(parse_duration("2 mins"), Ok(Seconds(120)));
        assert_eq!(parse_duration("2 minutes"), Ok(Seconds(120)));
        assert_eq!(parse_duration("2n"), Ok(Seconds(120)));
        // `m` is months, not minutes, because months come first in Bareos' table.
        assert_eq!(parse_duration("1 m"), Ok(Seconds(30 * 86400)));
        assert_eq!(parse_duration("1 month"), Ok(Seconds(30 * 86400)));
        assert_eq!(parse_duration("3 h"), Ok(Seconds(3 * 3600)));
        assert_eq!(parse_duration("3 hours"), Ok(Seconds(3 * 3600)));
        assert_eq!(parse_duration("2 w"), Ok(Seconds(14 * 86400)));
        assert_eq!(parse_duration("1 weeks"), Ok(Seconds(7 * 86400)));
        assert_eq!(parse_duration("1 q"), Ok(Seconds(91 * 86400)));
        assert_eq!(parse_duration("1 quarter"), Ok(Seconds(91 * 86400)));
        assert_eq!(parse_duration("2 years"), Ok(Seconds(2 * 365 * 86400)));
        assert_eq!(parse_duration("1.5 days"), Ok(Seconds(129600)));
        assert_eq!(parse_duration("1 DAY"), Ok(Seconds(86400)));
    }

    #[test]
    fn bad_durations() {
        assert_eq!(parse_duration(""), Err(UnitError::NotANumber));
        assert_eq!(parse_duration("days"), Err(UnitError::NotANumber));
        assert_eq!(
            parse_duration("5 fortnights"),
            Err(UnitError::UnknownUnit("fortnights".into()))
        );
        // "secs" is not a prefix of "seconds" (Bareos rejects it too).
        assert_eq!(
            parse_duration("5 secs"),
            Err(UnitError::UnknownUnit("secs".into()))
        );
        assert_eq!(parse_duration("-5"), Err(UnitError::OutOfRange));
        assert_eq!(parse_duration("1e30 years"), Err(UnitError::OutOfRange));
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("512"), Ok(512));
        assert_eq!(parse_size("10k"), Ok(10 * 1024));
        assert_eq!(parse_size("10 K"), Ok(10 * 1024));
        assert_eq!(parse_size("10 kb"), Ok(10_000));
        assert_eq!(parse_size("10 m"), Ok(10 * 1_048_576));
        assert_eq!(parse_size("10 mb"), Ok(10_000_000));
        assert_eq!(parse_size("2 g"), Ok(2 * 1_073_741_824));
        assert_eq!(parse_size("2 gb"), Ok(2_000_000_000));
        assert_eq!(parse_size("1 t"), Ok(1 << 40));
        assert_eq!(parse_size("1 tb"), Ok(1_000_000_000_000));
        assert_eq!(parse_size("1 p"), Ok(1 << 50));
        assert_eq!(parse_size("1 e"), Ok(1 << 60));
        assert_eq!(parse_size("1.5 k"), Ok(1536));
        assert_eq!(parse_size("1 g 512 m"), Ok(1_073_741_824 + 512 * 1_048_576));
        assert_eq!(
            parse_size("1 kib"),
            Err(UnitError::UnknownUnit("kib".into()))
        );
        assert_eq!(parse_size("lots"), Err(UnitError::NotANumber));
        assert_eq!(parse_size("100 e"), Err(UnitError::OutOfRange));
    }

    #[test]
    fn speeds() {
        // clear-cancel/config/bareos-dir.conf: `Maximum Bandwidth = 256 k/s` (lexed as 256, k/s).
        assert_eq!(parse_speed("256k/s"), Ok(262_144));
        assert_eq!(parse_speed("256 kb/s"), Ok(256_000));
        assert_eq!(parse_speed("1 m/s"), Ok(1_048_576));
        assert_eq!(parse_speed("1 mb/s"), Ok(1_000_000));
        assert_eq!(parse_speed("100"), Ok(100));
        assert_eq!(
            parse_speed("1 g/s"),
            Err(UnitError::UnknownUnit("g/s".into()))
        );
    }

    #[test]
    fn booleans() {
        assert_eq!(
            parse_bool("yes"),
            Some(ParsedBool {
                value: true,
                deprecated: false
            })
        );
        assert_eq!(
            parse_bool("No"),
            Some(ParsedBool {
                value: false,
                deprecated: false
            })
        );
        assert_eq!(
            parse_bool("TRUE"),
            Some(ParsedBool {
                value: true,
                deprecated: true
            })
        );
        assert_eq!(
            parse_bool("0"),
            Some(ParsedBool {
                value: false,
                deprecated: true
            })
        );
        assert_eq!(parse_bool("yess"), None);
        assert_eq!(parse_bool("on"), None);
    }

    #[test]
    fn passwords() {
        let p = Password::parse("ref-fd-password").unwrap();
        assert!(!p.is_md5_prefixed());
        assert_eq!(p.plaintext(), Some("ref-fd-password"));
        // MD5("abc"), RFC 1321 test suite.
        let abc = Password::parse("abc").unwrap();
        assert_eq!(abc.md5_hex(), "900150983cd24fb0d6963f7d28e17f72");
        let m = Password::parse("[md5]900150983CD24FB0D6963F7D28E17F72").unwrap();
        assert!(m.is_md5_prefixed());
        assert_eq!(m.plaintext(), None);
        assert_eq!(m.md5_hex(), abc.md5_hex());
        assert!(Password::parse("[md5]abc").is_err());
        assert!(Password::parse("[md5]zz0150983cd24fb0d6963f7d28e17f72").is_err());
        assert!(Password::parse("").unwrap().is_empty());
        assert!(Password::parse("[md5]d41d8cd98f00b204e9800998ecf8427e")
            .unwrap()
            .is_empty());
        assert!(
            !format!("{p:?}").contains("ref-fd"),
            "Debug must not leak the password"
        );
    }

    proptest! {
        #[test]
        fn unit_parsers_never_panic(s in "\\PC{0,40}") {
            let _ = parse_duration(&s);
            let _ = parse_size(&s);
            let _ = parse_speed(&s);
        }

        #[test]
        fn plain_numbers_round_trip(n in 0u64..1_000_000_000_000) {
            prop_assert_eq!(parse_size(&n.to_string()), Ok(n));
            prop_assert_eq!(parse_duration(&format!("{n} seconds")), Ok(Seconds(n)));
            prop_assert_eq!(parse_size(&format!("{n} k")), Ok(n * 1024));
        }
    }
}
