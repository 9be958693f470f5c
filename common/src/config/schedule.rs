//! Schedule `Run = ...` lines.
//!
//! A Run line is a small language of its own (`StoreRun` in `core/src/dird/run_conf.cc`):
//!
//! ```text
//! Run = [override=value ...] [level] <when ...>
//! Run = Level=Full Pool=Monthly 1st sun at 23:05
//! Run = Differential 2nd-5th sun at 23:05
//! Run = Incremental mon-sat at 23:05
//! ```
//!
//! Bareos reads it word by word with identifiers disabled (so `1st sun` is two words, not the
//! identifier glue the rest of the language would make of it), first a run of `keyword=value`
//! overrides and bare job levels, then date and time words that narrow the default "every day at
//! 00:00": day numbers (`1`..`31`), weekdays (`mon`, `monday`), months (`jan`, `january`), week
//! of month (`1st`..`5th`, `first`..`fifth`, `last`), week of year (`w00`..`w53`), ranges
//! (`mon-fri`, `1-15`, `w10-w20`, `2nd-5th`), modulos (`1/2` days, `w00/w02` weeks), `daily`,
//! `weekly`, `monthly`, `hourly`, and `at HH:MM[am|pm]`. The result is a set of bit masks that
//! the scheduler matches against the calendar; [`RunSpec`] holds exactly those masks.
//!
//! Quirks kept from Bareos, so that a line loads here exactly when it loads there:
//! the first word after the levels and overrides must not be a bare number (`on 1`, not `1`); a line needs at least one word after its levels
//! and overrides; `at` must come before the time; `12am` is 00:00 and `12pm` is 12:00; a reversed
//! range (`fri-mon`, `25-5`) wraps around.

use super::value::{parse_bool, parse_duration, Seconds};

/// One parsed Run line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RunSpec {
    /// Job level override (`Level=Full` or a bare `Full`), canonical spelling.
    pub level: Option<String>,
    pub pool: Option<String>,
    pub full_pool: Option<String>,
    pub incremental_pool: Option<String>,
    pub differential_pool: Option<String>,
    pub next_pool: Option<String>,
    pub storage: Option<String>,
    pub messages: Option<String>,
    pub priority: Option<u32>,
    pub spool_data: Option<bool>,
    pub accurate: Option<bool>,
    pub max_run_sched_time: Option<Seconds>,
    /// Bit `h` set: run in hour `h` (0..=23).
    pub hours: u32,
    /// Minute within the hour.
    pub minute: u8,
    /// Bit `d` set: run on day of month `d + 1` (bits 0..=30).
    pub mdays: u32,
    /// Bit `d` set: run on weekday `d` (0 = Sunday).
    pub wdays: u8,
    /// Bit `m` set: run in month `m` (0 = January).
    pub months: u16,
    /// Bit `w` set: run in week of month `w` (0 = first).
    pub woms: u8,
    /// Bit `w` set: run in ISO-like week of year `w` (0..=53).
    pub woys: u64,
    /// `last`: the last seven days of the month.
    pub last_7days_of_month: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    None,
    At,
    Last,
    Wday,
    Month,
    Wom,
    Daily,
    Weekly,
    Monthly,
    Hourly,
}

const KEYWORDS: &[(&str, State, u32)] = &[
    ("on", State::None, 0),
    ("at", State::At, 0),
    ("last", State::Last, 0),
    ("sun", State::Wday, 0),
    ("mon", State::Wday, 1),
    ("tue", State::Wday, 2),
    ("wed", State::Wday, 3),
    ("thu", State::Wday, 4),
    ("fri", State::Wday, 5),
    ("sat", State::Wday, 6),
    ("jan", State::Month, 0),
    ("feb", State::Month, 1),
    ("mar", State::Month, 2),
    ("apr", State::Month, 3),
    ("may", State::Month, 4),
    ("jun", State::Month, 5),
    ("jul", State::Month, 6),
    ("aug", State::Month, 7),
    ("sep", State::Month, 8),
    ("oct", State::Month, 9),
    ("nov", State::Month, 10),
    ("dec", State::Month, 11),
    ("sunday", State::Wday, 0),
    ("monday", State::Wday, 1),
    ("tuesday", State::Wday, 2),
    ("wednesday", State::Wday, 3),
    ("thursday", State::Wday, 4),
    ("friday", State::Wday, 5),
    ("saturday", State::Wday, 6),
    ("january", State::Month, 0),
    ("february", State::Month, 1),
    ("march", State::Month, 2),
    ("april", State::Month, 3),
    ("june", State::Month, 5),
    ("july", State::Month, 6),
    ("august", State::Month, 7),
    ("september", State::Month, 8),
    ("october", State::Month, 9),
    ("november", State::Month, 10),
    ("december", State::Month, 11),
    ("daily", State::Daily, 0),
    ("weekly", State::Weekly, 0),
    ("monthly", State::Monthly, 0),
    ("hourly", State::Hourly, 0),
    ("1st", State::Wom, 0),
    ("2nd", State::Wom, 1),
    ("3rd", State::Wom, 2),
    ("4th", State::Wom, 3),
    ("5th", State::Wom, 4),
    ("first", State::Wom, 0),
    ("second", State::Wom, 1),
    ("third", State::Wom, 2),
    ("fourth", State::Wom, 3),
    ("fifth", State::Wom, 4),
];

/// Job levels a Run line may name (Bareos `joblevels`).
const LEVELS: &[&str] = &[
    "Full",
    "Base",
    "Incremental",
    "Differential",
    "Since",
    "VirtualFull",
    "Catalog",
    "InitCatalog",
    "VolumeToCatalog",
    "DiskToCatalog",
    "Data",
];

/// A word of a Run line, as Bareos' lexer classifies it with identifiers disabled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunWord {
    /// Digits only.
    Number(String),
    /// Any other unquoted word.
    Word(String),
    /// A quoted string.
    Quoted(String),
    Equals,
    Comma,
}

fn keyword(w: &str) -> Option<(State, u32)> {
    KEYWORDS
        .iter()
        .find(|(k, _, _)| k.eq_ignore_ascii_case(w))
        .map(|(_, s, c)| (*s, *c))
}

fn is_integer(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// C `atoi`: optional sign and leading digits, 0 if none; saturating.
fn atoi(s: &str) -> i64 {
    let s = s.trim_start();
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, s.get(1..).unwrap_or_default()),
        Some(b'+') => (false, s.get(1..).unwrap_or_default()),
        _ => (false, s),
    };
    let mut v: i64 = 0;
    for b in digits.bytes().take_while(u8::is_ascii_digit) {
        v = v.saturating_mul(10).saturating_add(i64::from(b - b'0'));
    }
    if neg {
        -v
    } else {
        v
    }
}

fn bit_range_u64(lo: u32, hi: u32) -> u64 {
    (lo..=hi.min(63)).fold(0u64, |m, b| m | (1u64 << b))
}

/// Set bits `lo..=hi` of a mask `width` bits wide, wrapping around unless `lo < hi` (so `5-5`
/// means every day, as in Bareos).
fn set_range(mask: &mut u64, lo: u32, hi: u32, width: u32) {
    if lo < hi {
        *mask |= bit_range_u64(lo, hi);
    } else {
        *mask |= bit_range_u64(lo, width - 1) | bit_range_u64(0, hi);
    }
}

struct Masks {
    hours: u64,
    mdays: u64,
    wdays: u64,
    months: u64,
    woms: u64,
    woys: u64,
}

/// Parse the words of one Run line.
pub fn parse_run(words: &[RunWord]) -> Result<RunSpec, String> {
    let mut spec = RunSpec::default();
    let mut it = words.iter().peekable();

    // Overrides and levels.
    let first_time_word: &RunWord = loop {
        let Some(w) = it.next() else {
            return Err(
                "a Run line needs a schedule after its level and overrides, e.g. \"mon-fri at 23:05\", on the same line".into(),
            );
        };
        let text = match w {
            RunWord::Word(t) | RunWord::Quoted(t) => t.as_str(),
            RunWord::Number(n) => {
                // Bareos reads this word as a name; a bare day number is refused here.
                return Err(format!(
                    "the day number {n} must follow a schedule word; write \"on {n}\""
                ));
            }
            RunWord::Equals | RunWord::Comma => {
                return Err("a Run line must start with a word".into())
            }
        };
        let field = text.to_ascii_lowercase();
        let is_field = matches!(
            field.as_str(),
            "pool"
                | "fullpool"
                | "incrementalpool"
                | "differentialpool"
                | "nextpool"
                | "level"
                | "storage"
                | "messages"
                | "priority"
                | "spooldata"
                | "maxrunschedtime"
                | "accurate"
        );
        if is_field {
            if it.next() != Some(&RunWord::Equals) {
                return Err(format!("expected '=' after \"{text}\""));
            }
            let value = match it.next() {
                Some(RunWord::Word(v)) | Some(RunWord::Quoted(v)) | Some(RunWord::Number(v)) => {
                    v.clone()
                }
                _ => return Err(format!("\"{text}=\" needs a value")),
            };
            match field.as_str() {
                "pool" => spec.pool = Some(value),
                "fullpool" => spec.full_pool = Some(value),
                "incrementalpool" => spec.incremental_pool = Some(value),
                "differentialpool" => spec.differential_pool = Some(value),
                "nextpool" => spec.next_pool = Some(value),
                "storage" => spec.storage = Some(value),
                "messages" => spec.messages = Some(value),
                "level" => {
                    let l = LEVELS
                        .iter()
                        .find(|l| l.eq_ignore_ascii_case(&value))
                        .ok_or_else(|| {
                            format!(
                                "unknown job level \"{value}\" (one of {})",
                                LEVELS.join(", ")
                            )
                        })?;
                    spec.level = Some((*l).to_string());
                }
                "priority" => {
                    spec.priority = Some(value.parse::<u32>().map_err(|_| {
                        format!("Priority expects a positive whole number, got \"{value}\"")
                    })?)
                }
                "spooldata" | "accurate" => {
                    let b = parse_bool(&value)
                        .ok_or_else(|| format!("{text} expects yes or no, got \"{value}\""))?;
                    if field == "spooldata" {
                        spec.spool_data = Some(b.value);
                    } else {
                        spec.accurate = Some(b.value);
                    }
                }
                _ => {
                    // maxrunschedtime: Bareos reads it as a quoted string.
                    spec.max_run_sched_time = Some(parse_duration(&value).map_err(|e| {
                        format!("MaxRunSchedTime expects a duration, got \"{value}\": {e}")
                    })?);
                }
            }
            continue;
        }
        if let Some(l) = LEVELS.iter().find(|l| l.eq_ignore_ascii_case(text)) {
            // The old style: a bare level.
            spec.level = Some((*l).to_string());
            continue;
        }
        break w;
    };
    let mut current = Some(first_time_word);

    // Date and time words; the default is every day at 00:00.
    let mut m = Masks {
        hours: bit_range_u64(0, 23),
        mdays: bit_range_u64(0, 30),
        wdays: bit_range_u64(0, 6),
        months: bit_range_u64(0, 11),
        woms: bit_range_u64(0, 4),
        woys: bit_range_u64(0, 53),
    };
    let (mut have_hour, mut have_mday, mut have_wday, mut have_month) =
        (false, false, false, false);
    let (mut have_wom, mut have_woy, mut have_at) = (false, false, false);
    let mut minute: u8 = 0;
    let mut last = false;

    while let Some(w) = current.take().or_else(|| it.next()) {
        let text = match w {
            RunWord::Comma => continue,
            RunWord::Number(n) => {
                let code = atoi(n) - 1;
                if !(0..=30).contains(&code) {
                    return Err(format!("day number {n} out of range (1-31)"));
                }
                if !have_mday {
                    m.mdays = 0;
                    have_mday = true;
                }
                m.mdays |= 1 << code;
                continue;
            }
            RunWord::Word(t) => t.as_str(),
            RunWord::Quoted(t) => {
                return Err(format!("unexpected quoted string \"{t}\" in the schedule"))
            }
            RunWord::Equals => return Err("unexpected '=' in the schedule".into()),
        };
        if let Some((a, b)) = text.split_once('-') {
            range(
                &mut m,
                a,
                b,
                text,
                &mut [
                    &mut have_mday,
                    &mut have_woy,
                    &mut have_wday,
                    &mut have_month,
                    &mut have_wom,
                ],
            )?;
            continue;
        }
        if let Some((hh, rest)) = text.split_once(':') {
            if !have_at {
                return Err(format!(
                    "the time {text} must be preceded by the keyword \"at\""
                ));
            }
            if !have_hour {
                m.hours = 0;
            }
            let mut hour = atoi(hh);
            let min = atoi(rest);
            let suffix = rest.get(2..).unwrap_or_default();
            let (am, pm) = (
                suffix.eq_ignore_ascii_case("am"),
                suffix.eq_ignore_ascii_case("pm"),
            );
            if !am && !pm && rest.len() != 2 {
                return Err(format!(
                    "bad time \"{text}\"; write HH:MM, optionally followed by am or pm"
                ));
            }
            if pm && hour != 12 {
                hour = hour.saturating_add(12);
            } else if am && hour == 12 {
                hour = 0;
            }
            if !(0..=23).contains(&hour) || !(0..=59).contains(&min) {
                return Err(format!(
                    "bad time \"{text}\"; hours go from 0 to 23 and minutes from 0 to 59"
                ));
            }
            m.hours |= 1 << hour;
            minute = min as u8;
            have_hour = true;
            continue;
        }
        if let Some((a, b)) = text.split_once('/') {
            modulo(&mut m, a, b, &mut have_mday, &mut have_woy)?;
            continue;
        }
        if text.len() == 3
            && text.starts_with(['w', 'W'])
            && is_integer(text.get(1..).unwrap_or_default())
        {
            let code = atoi(text.get(1..).unwrap_or_default());
            if !(0..=53).contains(&code) {
                return Err(format!("week number {text} out of range (w00-w53)"));
            }
            if !have_woy {
                m.woys = 0;
                have_woy = true;
            }
            m.woys |= 1 << code;
            continue;
        }
        let Some((state, code)) = keyword(text) else {
            return Err(format!("\"{text}\" is not a schedule word (weekday, month, 1st..5th, last, daily, weekly, monthly, hourly, at HH:MM, ...)"));
        };
        match state {
            State::None => {}
            State::At => have_at = true,
            State::Last => {
                last = true;
                if !have_wom {
                    m.woms = 0;
                    have_wom = true;
                }
            }
            State::Wday => {
                if !have_wday {
                    m.wdays = 0;
                    have_wday = true;
                }
                m.wdays |= 1 << code;
            }
            State::Month => {
                if !have_month {
                    m.months = 0;
                    have_month = true;
                }
                m.months |= 1 << code;
            }
            State::Wom => {
                if !have_wom {
                    m.woms = 0;
                    have_wom = true;
                }
                m.woms |= 1 << code;
            }
            State::Hourly => {
                have_hour = true;
                m.hours = bit_range_u64(0, 23);
            }
            State::Weekly => {
                have_mday = true;
                have_wom = true;
                have_woy = true;
                m.mdays = bit_range_u64(0, 30);
                m.woms = bit_range_u64(0, 4);
                m.woys = bit_range_u64(0, 53);
            }
            State::Daily => {
                have_mday = true;
                m.wdays = bit_range_u64(0, 6);
            }
            State::Monthly => {
                have_month = true;
                m.months = bit_range_u64(0, 11);
            }
        }
    }
    spec.hours = m.hours as u32;
    spec.minute = minute;
    spec.mdays = m.mdays as u32;
    spec.wdays = m.wdays as u8;
    spec.months = m.months as u16;
    spec.woms = m.woms as u8;
    spec.woys = m.woys;
    spec.last_7days_of_month = last;
    Ok(spec)
}

fn week_number(s: &str) -> Option<i64> {
    (s.len() == 3 && s.starts_with(['w', 'W']) && is_integer(s.get(1..)?))
        .then(|| atoi(s.get(1..).unwrap_or_default()))
}

fn range(
    m: &mut Masks,
    a: &str,
    b: &str,
    text: &str,
    have: &mut [&mut bool; 5],
) -> Result<(), String> {
    let [have_mday, have_woy, have_wday, have_month, have_wom] = have;
    if is_integer(a) && is_integer(b) {
        let (lo, hi) = (atoi(a) - 1, atoi(b) - 1);
        if !(0..=30).contains(&lo) || !(0..=30).contains(&hi) {
            return Err(format!("bad day range \"{text}\" (days go from 1 to 31)"));
        }
        if !**have_mday {
            m.mdays = 0;
            **have_mday = true;
        }
        set_range(&mut m.mdays, lo as u32, hi as u32, 31);
        return Ok(());
    }
    if let (Some(lo), Some(hi)) = (week_number(a), week_number(b)) {
        if !(0..=53).contains(&lo) || !(0..=53).contains(&hi) {
            return Err(format!(
                "bad week range \"{text}\" (weeks go from w00 to w53)"
            ));
        }
        if !**have_woy {
            m.woys = 0;
            **have_woy = true;
        }
        set_range(&mut m.woys, lo as u32, hi as u32, 54);
        return Ok(());
    }
    let (Some((s1, c1)), Some((s2, c2))) = (keyword(a), keyword(b)) else {
        return Err(format!("invalid range \"{text}\"; ranges are of days (1-15), weeks (w01-w10), weekdays (mon-fri), months (jan-jun) or positions (1st-3rd)"));
    };
    if !matches!(s1, State::Wday | State::Month | State::Wom) || s1 != s2 || c1 == c2 {
        return Err(format!(
            "invalid range \"{text}\"; both ends must be different weekdays, months or positions"
        ));
    }
    let (mask, have_flag, width) = match s1 {
        State::Wday => (&mut m.wdays, have_wday, 7),
        State::Month => (&mut m.months, have_month, 12),
        _ => (&mut m.woms, have_wom, 5),
    };
    if !**have_flag {
        *mask = 0;
        **have_flag = true;
    }
    set_range(mask, c1, c2, width);
    Ok(())
}

fn modulo(
    m: &mut Masks,
    a: &str,
    b: &str,
    have_mday: &mut bool,
    have_woy: &mut bool,
) -> Result<(), String> {
    if is_integer(a) && is_integer(b) {
        let (offset, every) = (atoi(a) - 1, atoi(b));
        if !(0..=30).contains(&offset) || !(0..=30).contains(&every) {
            return Err(format!("bad day modulo \"{a}/{b}\""));
        }
        if offset > every {
            return Err(format!(
                "bad day modulo \"{a}/{b}\": the offset must not be larger than the modulo"
            ));
        }
        if every == 0 {
            return Err(format!(
                "bad day modulo \"{a}/{b}\": the modulo must not be 0"
            ));
        }
        if !*have_mday {
            m.mdays = 0;
            *have_mday = true;
        }
        for i in (0..31).filter(|i| i % every == 0) {
            let bit = i + offset;
            if bit < 64 {
                m.mdays |= 1 << bit;
            }
        }
        m.mdays &= bit_range_u64(0, 30);
        return Ok(());
    }
    if let (Some(offset), Some(every)) = (week_number(a), week_number(b)) {
        if !(0..=53).contains(&offset) {
            return Err(format!(
                "week number out of range (0-53) in modulo \"{a}/{b}\""
            ));
        }
        if !(1..=53).contains(&every) {
            return Err(format!(
                "week interval out of range (1-53) in modulo \"{a}/{b}\""
            ));
        }
        if offset > every {
            return Err(format!(
                "bad week modulo \"{a}/{b}\": the offset must not be larger than the modulo"
            ));
        }
        if !*have_woy {
            m.woys = 0;
            *have_woy = true;
        }
        let mut week = offset;
        while week <= 53 {
            m.woys |= 1 << week;
            week += every;
        }
        return Ok(());
    }
    Err(format!(
        "bad modulo \"{a}/{b}\"; write 01/02 for days or w01/w02 for weeks of the year"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn never_panics(ws in proptest::collection::vec(prop_oneof![
            "[0-9]{1,25}".prop_map(RunWord::Number),
            "[a-z0-9:/-]{0,12}(pm|am)?".prop_map(RunWord::Word),
            "(at|on|last|mon|fri|jan|dec|1st|5th|w53|w00|hourly|daily|weekly|monthly|level|pool|Full|priority|spooldata|maxrunschedtime)".prop_map(|s| RunWord::Word(s.to_string())),
            "[0-9]{1,22}:[0-9]{1,22}(pm|am)?".prop_map(RunWord::Word),
            "[0-9w]{1,22}[-/][0-9w]{1,22}".prop_map(RunWord::Word),
            Just(RunWord::Equals),
            Just(RunWord::Comma),
            "[ -~]{0,10}".prop_map(RunWord::Quoted),
        ], 0..12)) {
            if let Ok(spec) = parse_run(&ws) {
                prop_assert!(spec.hours < 1 << 24);
                prop_assert!(spec.mdays < 1 << 31);
                prop_assert!(spec.wdays < 1 << 7);
                prop_assert!(spec.months < 1 << 12);
                prop_assert!(spec.woms < 1 << 5);
                prop_assert!(spec.woys < 1 << 54);
                prop_assert!(spec.minute < 60);
            }
        }
    }

    fn words(s: &str) -> Vec<RunWord> {
        let mut out = Vec::new();
        for w in s.split_whitespace() {
            // Split `a=b` like the lexer does.
            let mut parts = w.split('=').peekable();
            while let Some(p) = parts.next() {
                if !p.is_empty() {
                    out.push(if is_integer(p) {
                        RunWord::Number(p.into())
                    } else {
                        RunWord::Word(p.into())
                    });
                }
                if parts.peek().is_some() {
                    out.push(RunWord::Equals);
                }
            }
        }
        out
    }

    fn run(s: &str) -> Result<RunSpec, String> {
        parse_run(&words(s))
    }

    #[test]
    fn default_weekly_cycle() {
        // bareos-dir.d/schedule/WeeklyCycle.conf of the Bareos default configuration.
        let full = run("Full 1st sat at 21:00").unwrap();
        assert_eq!(full.level.as_deref(), Some("Full"));
        assert_eq!((full.hours, full.minute), (1 << 21, 0));
        assert_eq!(full.wdays, 1 << 6);
        assert_eq!(full.woms, 1);
        assert_eq!(full.mdays, (1 << 31) - 1);
        let diff = run("Differential 2nd-5th sat at 21:00").unwrap();
        assert_eq!(diff.woms, 0b11110);
        let inc = run("Incremental mon-fri at 21:00").unwrap();
        assert_eq!(inc.wdays, 0b0111110);
        let wrap = run("Incremental fri-mon at 21:00").unwrap();
        assert_eq!(wrap.wdays, 0b1100011);
    }

    #[test]
    fn overrides_and_times() {
        let r =
            run("Level=Full Pool=Monthly Storage=File Priority=5 SpoolData=yes on 1 at 12:30am")
                .unwrap();
        assert_eq!(r.level.as_deref(), Some("Full"));
        assert_eq!(r.pool.as_deref(), Some("Monthly"));
        assert_eq!(r.storage.as_deref(), Some("File"));
        assert_eq!(r.priority, Some(5));
        assert_eq!(r.spool_data, Some(true));
        assert_eq!(r.mdays, 1);
        assert_eq!((r.hours, r.minute), (1, 30), "12:30am is 00:30");
        assert_eq!(run("Full daily at 12:00pm").unwrap().hours, 1 << 12);
        assert_eq!(run("Full daily at 1:05pm").unwrap().hours, 1 << 13);
        assert_eq!(run("Full hourly at 0:15").unwrap().hours, (1 << 24) - 1);
        let m = run("Full on 1/7 at 01:00").unwrap();
        assert_eq!(m.mdays, 1 | 1 << 7 | 1 << 14 | 1 << 21 | 1 << 28);
        let w = run("Full w00/w10 at 01:00").unwrap();
        assert_eq!(w.woys, 1 | 1 << 10 | 1 << 20 | 1 << 30 | 1 << 40 | 1 << 50);
        let l = run("Full last sun at 01:00").unwrap();
        assert!(l.last_7days_of_month);
        assert_eq!(run("Full jan-mar w05 at 01:00").unwrap().months, 0b111);
    }

    #[test]
    fn errors() {
        assert!(run("Full").unwrap_err().contains("needs a schedule"));
        assert!(run("Full sat 21:00")
            .unwrap_err()
            .contains("preceded by the keyword \"at\""));
        assert!(run("Full sat at 25:00").unwrap_err().contains("bad time"));
        assert!(run("Full sat at 21:0").unwrap_err().contains("bad time"));
        assert!(run("Full on 32 at 21:00")
            .unwrap_err()
            .contains("out of range"));
        assert!(run("Full saturdai at 21:00")
            .unwrap_err()
            .contains("not a schedule word"));
        assert!(run("Level=Fulll sat at 1:00")
            .unwrap_err()
            .contains("unknown job level"));
        assert!(run("Full mon-jan at 1:00")
            .unwrap_err()
            .contains("invalid range"));
        assert!(run("Full w60 at 1:00").unwrap_err().contains("w00-w53"));
        assert!(run("5 at 1:00")
            .unwrap_err()
            .contains("must follow a schedule word"));
        assert!(run("Full 5 at 1:00")
            .unwrap_err()
            .contains("must follow a schedule word"));
        assert!(run("Full 0/0 at 1:00").is_err());
        assert!(run("Full at 99999999999999999999999:00pm")
            .unwrap_err()
            .contains("bad time"));
        assert!(run("Full on 99999999999999999999999-1 at 1:00").is_err());
        assert!(run("Full on 1/99999999999999999999999 at 1:00").is_err());
        // A one-day "range" wraps all the way round, as in Bareos.
        assert_eq!(run("Full 5-5 at 1:00").unwrap().mdays, (1 << 31) - 1);
    }
}
