//! The bootstrap (bsr) text format: which volumes, sessions and files a restore reads.
//!
//! # Format
//!
//! A bootstrap is a list of `Keyword=value` lines (`core/src/dird/bsr.cc` `WriteBsrFile()`
//! writes it, `core/src/lib/parse_bsr.cc` reads it; keywords are case-insensitive). The
//! Director sends it to the SD after `bootstrap⏎`, **one line per message**, each with its
//! newline, then EOD (`vectors/clear-restore` conn 2 msgs 18–38). For every job and volume the
//! Director writes:
//!
//! ```text
//! Storage="File"
//! Volume="Cap-0001"
//! MediaType="File"
//! Device="FileStorage"
//! VolSessionId=1
//! VolSessionTime=1795362407
//! VolAddr=203-1786
//! FileIndex=2-3
//! FileIndex=5-6
//! Count=4
//! ```
//!
//! A second `Volume=` (or a `Storage=` after one) starts the next entry; `Count` is the number
//! of selected files of the entry, not the width of its ranges, and ranges are split where a
//! FileIndex is not selected. `VolAddr` is (StartFile<<32)|StartBlock `-`
//! (EndFile<<32)|EndBlock from JobMedia, i.e. byte addresses on a disk volume. The bootstrap
//! written after a backup (`Write Bootstrap`) starts with a `#` comment and has no `Storage`,
//! `Device` or `Count` (`vectors/volume-full/CapBackup-1.bsr`).
//!
//! # Codec
//!
//! [`BsrLine`] is one line, typed, with [`Range`] values; unknown keywords decode to
//! [`BsrLine::Unknown`]. [`lines`] splits a whole file and [`entries`] groups lines into
//! per-volume [`Entry`] views without allocating. Strings keep whether they were quoted so
//! that `emit` reproduces the input; keywords are emitted in the Director's spelling.
//!
//! Narrower than Bareos' lexer-based reader: comma-separated lists (`FileIndex=1,3-5`) are
//! [`Error::Malformed`]; blanks around `=` make the line [`BsrLine::Unknown`]; quoted strings
//! cannot contain `"`; the argument-less `Include`/`Exclude` keywords are `Unknown`. The
//! Director writes none of these. Bareos starts a new entry only at a second `Volume=`
//! (`core/src/lib/parse_bsr.cc` `store_vol()`) and ignores `Storage=`; [`entries`] also
//! starts one at a `Storage=` that follows a volume, so that the Director's `Storage=` line
//! stays with the volume it precedes. The SD-side meaning is the same.

use super::text::{Scanner, Writer};
use super::{Error, Result};

/// An inclusive range `a-b`, or a single number `a` (`end` = `None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Range {
    /// First value.
    pub start: u64,
    /// Last value, if written as a range.
    pub end: Option<u64>,
}

impl Range {
    /// A single value.
    pub const fn single(v: u64) -> Self {
        Self {
            start: v,
            end: None,
        }
    }

    /// `start-end`.
    pub const fn new(start: u64, end: u64) -> Self {
        Self {
            start,
            end: Some(end),
        }
    }

    /// The last value (equal to `start` for a single value).
    pub const fn last(&self) -> u64 {
        match self.end {
            Some(e) => e,
            None => self.start,
        }
    }

    /// True if `v` lies in the range.
    pub const fn contains(&self, v: u64) -> bool {
        v >= self.start && v <= self.last()
    }

    fn parse(s: &mut Scanner<'_>) -> Result<Self> {
        let start = s.u64()?;
        if s.try_lit(b"-") {
            let end = s.u64()?;
            if end < start {
                return Err(Error::Malformed);
            }
            Ok(Self::new(start, end))
        } else {
            Ok(Self::single(start))
        }
    }

    fn write(&self, w: &mut Writer<'_>) {
        w.u64(self.start);
        if let Some(e) = self.end {
            w.byte(b'-');
            w.u64(e);
        }
    }
}

/// A string value, quoted (`"Cap-0001"`) or bare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Value<'a> {
    /// The bytes between the quotes (or the bare word).
    pub text: &'a [u8],
    /// Whether the value was written in double quotes (the Director always quotes).
    pub quoted: bool,
}

impl<'a> Value<'a> {
    /// A quoted value, as the Director writes.
    pub const fn quoted(text: &'a [u8]) -> Self {
        Self { text, quoted: true }
    }

    /// For `Volume=`: the volume names joined with `|`.
    pub fn split_volumes(&self) -> impl Iterator<Item = &'a [u8]> {
        self.text.split(|&b| b == b'|')
    }

    fn parse(s: &mut Scanner<'a>) -> Result<Self> {
        if s.try_lit(b"\"") {
            let text = s.until(b'"')?;
            if text.contains(&b'\n') {
                return Err(Error::Malformed);
            }
            Ok(Self { text, quoted: true })
        } else {
            let text = s.nonempty_word()?;
            if text.contains(&b'"') {
                return Err(Error::Malformed);
            }
            Ok(Self {
                text,
                quoted: false,
            })
        }
    }

    fn write(&self, w: &mut Writer<'_>) {
        if self.quoted {
            w.byte(b'"');
            w.bytes(self.text);
            w.byte(b'"');
        } else {
            w.bytes(self.text);
        }
    }
}

/// One bootstrap line (without its newline).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum BsrLine<'a> {
    /// `# …` (the text after `#`, verbatim).
    Comment(&'a [u8]),
    /// An empty line.
    Blank,
    /// `Storage=` (ignored by the SD).
    Storage(Value<'a>),
    /// `Volume=`, names joined with `|`.
    Volume(Value<'a>),
    /// `MediaType=`.
    MediaType(Value<'a>),
    /// `Device=`.
    Device(Value<'a>),
    /// `Client=`.
    Client(Value<'a>),
    /// `Job=`.
    Job(Value<'a>),
    /// `FileRegex=`.
    FileRegex(Value<'a>),
    /// `JobType=`.
    JobType(Value<'a>),
    /// `JobLevel=`.
    JobLevel(Value<'a>),
    /// `Slot=`.
    Slot(u64),
    /// `VolSessionId=`.
    VolSessionId(Range),
    /// `VolSessionTime=`.
    VolSessionTime(u64),
    /// `VolAddr=start-end` (byte addresses).
    VolAddr(Range),
    /// `VolFile=`.
    VolFile(Range),
    /// `VolBlock=`.
    VolBlock(Range),
    /// `FileIndex=`.
    FileIndex(Range),
    /// `JobId=`.
    JobId(Range),
    /// `Count=`: files selected in this entry.
    Count(u64),
    /// `Stream=`.
    Stream(u64),
    /// A line with a keyword this codec does not know, verbatim.
    Unknown(&'a [u8]),
}

#[derive(Clone, Copy)]
enum Kind {
    Str,
    Num,
    Range,
}

/// (spelling the Director writes, kind).
const KEYWORDS: &[(&str, Kind)] = &[
    ("Storage", Kind::Str),
    ("Volume", Kind::Str),
    ("MediaType", Kind::Str),
    ("Device", Kind::Str),
    ("Client", Kind::Str),
    ("Job", Kind::Str),
    ("FileRegex", Kind::Str),
    ("JobType", Kind::Str),
    ("JobLevel", Kind::Str),
    ("Slot", Kind::Num),
    ("VolSessionId", Kind::Range),
    ("VolSessionTime", Kind::Num),
    ("VolAddr", Kind::Range),
    ("VolFile", Kind::Range),
    ("VolBlock", Kind::Range),
    ("FileIndex", Kind::Range),
    ("JobId", Kind::Range),
    ("Count", Kind::Num),
    ("Stream", Kind::Num),
];

impl<'a> BsrLine<'a> {
    /// Parse one line, with or without its trailing newline.
    pub fn parse(line: &'a [u8]) -> Result<Self> {
        let body = line.strip_suffix(b"\n").unwrap_or(line);
        if body.contains(&b'\n') {
            return Err(Error::Malformed);
        }
        if body.is_empty() {
            return Ok(BsrLine::Blank);
        }
        if let Some(c) = body.strip_prefix(b"#") {
            return Ok(BsrLine::Comment(c));
        }
        let Some(eq) = body.iter().position(|&b| b == b'=') else {
            return Ok(BsrLine::Unknown(body));
        };
        let (key, value) = (
            body.get(..eq).unwrap_or(&[]),
            body.get(eq + 1..).unwrap_or(&[]),
        );
        let Some(idx) = KEYWORDS
            .iter()
            .position(|(k, _)| k.as_bytes().eq_ignore_ascii_case(key))
        else {
            return Ok(BsrLine::Unknown(body));
        };
        let mut s = Scanner::new(value);
        let kind = KEYWORDS.get(idx).map(|k| k.1).ok_or(Error::Malformed)?;
        let parsed = match kind {
            Kind::Str => {
                let v = Value::parse(&mut s)?;
                match idx {
                    0 => BsrLine::Storage(v),
                    1 => BsrLine::Volume(v),
                    2 => BsrLine::MediaType(v),
                    3 => BsrLine::Device(v),
                    4 => BsrLine::Client(v),
                    5 => BsrLine::Job(v),
                    6 => BsrLine::FileRegex(v),
                    7 => BsrLine::JobType(v),
                    _ => BsrLine::JobLevel(v),
                }
            }
            Kind::Num => {
                let v = s.u64()?;
                match idx {
                    9 => BsrLine::Slot(v),
                    11 => BsrLine::VolSessionTime(v),
                    17 => BsrLine::Count(v),
                    _ => BsrLine::Stream(v),
                }
            }
            Kind::Range => {
                let r = Range::parse(&mut s)?;
                match idx {
                    10 => BsrLine::VolSessionId(r),
                    12 => BsrLine::VolAddr(r),
                    13 => BsrLine::VolFile(r),
                    14 => BsrLine::VolBlock(r),
                    15 => BsrLine::FileIndex(r),
                    _ => BsrLine::JobId(r),
                }
            }
        };
        s.end(false)?;
        Ok(parsed)
    }

    /// The keyword this line would be written with, `None` for comments, blanks and unknowns.
    pub fn keyword(&self) -> Option<&'static str> {
        let idx = match self {
            BsrLine::Storage(_) => 0,
            BsrLine::Volume(_) => 1,
            BsrLine::MediaType(_) => 2,
            BsrLine::Device(_) => 3,
            BsrLine::Client(_) => 4,
            BsrLine::Job(_) => 5,
            BsrLine::FileRegex(_) => 6,
            BsrLine::JobType(_) => 7,
            BsrLine::JobLevel(_) => 8,
            BsrLine::Slot(_) => 9,
            BsrLine::VolSessionId(_) => 10,
            BsrLine::VolSessionTime(_) => 11,
            BsrLine::VolAddr(_) => 12,
            BsrLine::VolFile(_) => 13,
            BsrLine::VolBlock(_) => 14,
            BsrLine::FileIndex(_) => 15,
            BsrLine::JobId(_) => 16,
            BsrLine::Count(_) => 17,
            BsrLine::Stream(_) => 18,
            BsrLine::Comment(_) | BsrLine::Blank | BsrLine::Unknown(_) => return None,
        };
        KEYWORDS.get(idx).map(|k| k.0)
    }

    fn write(&self, w: &mut Writer<'_>) {
        if let Some(k) = self.keyword() {
            w.bytes(k.as_bytes());
            w.byte(b'=');
        }
        match self {
            BsrLine::Comment(c) => {
                w.byte(b'#');
                w.bytes(c);
            }
            BsrLine::Blank => {}
            BsrLine::Unknown(b) => w.bytes(b),
            BsrLine::Storage(v)
            | BsrLine::Volume(v)
            | BsrLine::MediaType(v)
            | BsrLine::Device(v)
            | BsrLine::Client(v)
            | BsrLine::Job(v)
            | BsrLine::FileRegex(v)
            | BsrLine::JobType(v)
            | BsrLine::JobLevel(v) => v.write(w),
            BsrLine::Slot(n)
            | BsrLine::VolSessionTime(n)
            | BsrLine::Count(n)
            | BsrLine::Stream(n) => w.u64(*n),
            BsrLine::VolSessionId(r)
            | BsrLine::VolAddr(r)
            | BsrLine::VolFile(r)
            | BsrLine::VolBlock(r)
            | BsrLine::FileIndex(r)
            | BsrLine::JobId(r) => r.write(w),
        }
        w.byte(b'\n');
    }
}

/// Iterate over the lines of a whole bootstrap text (a final line without newline counts).
pub fn lines(text: &[u8]) -> impl Iterator<Item = Result<BsrLine<'_>>> {
    let body = text.strip_suffix(b"\n").unwrap_or(text);
    let empty = text.is_empty();
    body.split(|&b| b == b'\n')
        .filter(move |_| !empty)
        .map(BsrLine::parse)
}

/// One volume entry of a bootstrap: the lines from its `Storage=`/`Volume=` up to the next
/// entry, with the common fields picked out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Entry<'a> {
    /// The entry's lines, newline-separated, as in the input.
    pub text: &'a [u8],
    /// `Storage=`.
    pub storage: Option<&'a [u8]>,
    /// `Volume=` (possibly several names joined with `|`).
    pub volume: Option<&'a [u8]>,
    /// `MediaType=`.
    pub media_type: Option<&'a [u8]>,
    /// `Device=`.
    pub device: Option<&'a [u8]>,
    /// `VolSessionId=`.
    pub vol_session_id: Option<Range>,
    /// `VolSessionTime=`.
    pub vol_session_time: Option<u64>,
    /// `VolAddr=`.
    pub vol_addr: Option<Range>,
    /// `Count=`.
    pub count: Option<u64>,
}

impl<'a> Entry<'a> {
    fn empty(text: &'a [u8]) -> Self {
        Self {
            text,
            storage: None,
            volume: None,
            media_type: None,
            device: None,
            vol_session_id: None,
            vol_session_time: None,
            vol_addr: None,
            count: None,
        }
    }

    /// The `FileIndex=` ranges of this entry.
    pub fn file_indexes(&self) -> impl Iterator<Item = Range> + 'a {
        lines(self.text).filter_map(|l| match l {
            Ok(BsrLine::FileIndex(r)) => Some(r),
            _ => None,
        })
    }

    /// True if `file_index` of session (`id`, `time`) is selected by this entry.
    pub fn selects(&self, id: u32, time: u32, file_index: u64) -> bool {
        self.vol_session_id
            .is_none_or(|r| r.contains(u64::from(id)))
            && self.vol_session_time.is_none_or(|t| t == u64::from(time))
            && self.file_indexes().any(|r| r.contains(file_index))
    }
}

/// Group a whole bootstrap text into [`Entry`]s. Fails on the first malformed line.
pub fn entries(text: &[u8]) -> Entries<'_> {
    Entries { text, pos: 0 }
}

/// Iterator returned by [`entries`].
#[derive(Debug, Clone)]
pub struct Entries<'a> {
    text: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for Entries<'a> {
    type Item = Result<Entry<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.text.get(self.pos..)?;
        if rest.is_empty() {
            return None;
        }
        let start = self.pos;
        let mut entry = Entry::empty(&[]);
        let mut off = 0usize;
        while let Some(chunk) = rest.get(off..).filter(|c| !c.is_empty()) {
            let len = chunk
                .iter()
                .position(|&b| b == b'\n')
                .map_or(chunk.len(), |n| n + 1);
            let line = chunk.get(..len).unwrap_or(chunk);
            let parsed = match BsrLine::parse(line) {
                Ok(p) => p,
                Err(e) => {
                    self.pos = self.text.len();
                    return Some(Err(e));
                }
            };
            let starts_new = matches!(parsed, BsrLine::Volume(_) | BsrLine::Storage(_))
                && entry.volume.is_some();
            if starts_new {
                break;
            }
            match parsed {
                BsrLine::Storage(v) => entry.storage = Some(v.text),
                BsrLine::Volume(v) => entry.volume = Some(v.text),
                BsrLine::MediaType(v) => entry.media_type = Some(v.text),
                BsrLine::Device(v) => entry.device = Some(v.text),
                BsrLine::VolSessionId(r) => entry.vol_session_id = Some(r),
                BsrLine::VolSessionTime(t) => entry.vol_session_time = Some(t),
                BsrLine::VolAddr(r) => entry.vol_addr = Some(r),
                BsrLine::Count(c) => entry.count = Some(c),
                _ => {}
            }
            off += len;
        }
        self.pos = start + off;
        entry.text = self.text.get(start..self.pos).unwrap_or(&[]);
        Some(Ok(entry))
    }
}

codec_impl!(BsrLine<'_>, infallible);

#[cfg(test)]
mod tests {
    use super::*;

    /// vectors/clear-restore conn 2 msgs 19–37, one message per line.
    const RESTORE: &[&[u8]] = &[
        b"Storage=\"File\"\n",
        b"Volume=\"Cap-0001\"\n",
        b"MediaType=\"File\"\n",
        b"Device=\"FileStorage\"\n",
        b"VolSessionId=1\n",
        b"VolSessionTime=1795362407\n",
        b"VolAddr=203-1786\n",
        b"FileIndex=2-3\n",
        b"FileIndex=5-6\n",
        b"Count=4\n",
        b"Storage=\"File\"\n",
        b"Volume=\"Cap-0002\"\n",
        b"MediaType=\"File\"\n",
        b"Device=\"FileStorage\"\n",
        b"VolSessionId=1\n",
        b"VolSessionTime=1795362432\n",
        b"VolAddr=203-1105\n",
        b"FileIndex=1-3\n",
        b"Count=3\n",
    ];

    fn emit_vec(l: &BsrLine<'_>) -> std::vec::Vec<u8> {
        crate::wire::test_util::emit_vec(l.buffer_len(), |b| l.emit(b))
    }

    #[test]
    fn test_parse_lines() {
        let parsed: std::vec::Vec<_> = RESTORE.iter().map(|l| BsrLine::parse(l).unwrap()).collect();
        assert_eq!(parsed[1], BsrLine::Volume(Value::quoted(b"Cap-0001")));
        assert_eq!(parsed[5], BsrLine::VolSessionTime(1_795_362_407));
        assert_eq!(parsed[6], BsrLine::VolAddr(Range::new(203, 1786)));
        assert_eq!(parsed[7], BsrLine::FileIndex(Range::new(2, 3)));
        assert_eq!(parsed[9], BsrLine::Count(4));
        for (l, bytes) in parsed.iter().zip(RESTORE) {
            assert_eq!(emit_vec(l), *bytes);
        }
    }

    #[test]
    fn test_entries() {
        let text: std::vec::Vec<u8> = RESTORE.concat();
        let es: std::vec::Vec<_> = entries(&text).map(|e| e.unwrap()).collect();
        assert_eq!(es.len(), 2);
        assert_eq!(es[0].volume, Some(&b"Cap-0001"[..]));
        assert_eq!(es[0].storage, Some(&b"File"[..]));
        assert_eq!(es[0].count, Some(4));
        assert_eq!(
            es[0].file_indexes().collect::<std::vec::Vec<_>>(),
            [Range::new(2, 3), Range::new(5, 6)]
        );
        assert!(es[0].selects(1, 1_795_362_407, 5));
        assert!(!es[0].selects(1, 1_795_362_407, 4));
        assert!(!es[0].selects(1, 1_795_362_432, 5));
        assert_eq!(es[1].volume, Some(&b"Cap-0002"[..]));
        assert_eq!(es[1].vol_addr, Some(Range::new(203, 1105)));
        assert_eq!([es[0].text, es[1].text].concat(), text);
    }

    #[test]
    fn test_written_bootstrap_file() {
        // vectors/volume-full/CapBackup-1.bsr, as written by the Director after the backup.
        let text = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/vectors/volume-full/CapBackup-1.bsr"
        ))
        .or_else(|_| std::fs::read("/work/shared/vectors/volume-full/CapBackup-1.bsr"))
        .unwrap();
        let ls: std::vec::Vec<_> = lines(&text).map(|l| l.unwrap()).collect();
        assert!(matches!(ls[0], BsrLine::Comment(_)));
        assert!(ls.contains(&BsrLine::FileIndex(Range::new(1, 6))));
        let mut out = std::vec::Vec::new();
        for l in &ls {
            out.extend(emit_vec(l));
        }
        assert_eq!(out, text);
        let es: std::vec::Vec<_> = entries(&text).map(|e| e.unwrap()).collect();
        assert_eq!(es.len(), 1);
        assert_eq!(es[0].vol_session_time, Some(1_795_362_407));
    }

    #[test]
    fn test_truncated_and_impossible() {
        assert_eq!(
            BsrLine::parse(b"Volume=\"Cap-0001\n"),
            Err(Error::Truncated)
        );
        assert_eq!(BsrLine::parse(b"VolAddr=203-\n"), Err(Error::Truncated));
        assert_eq!(BsrLine::parse(b"VolAddr=\n"), Err(Error::Truncated));
        assert_eq!(BsrLine::parse(b"FileIndex=6-5\n"), Err(Error::Malformed));
        assert_eq!(BsrLine::parse(b"FileIndex=1,3\n"), Err(Error::Malformed));
        assert_eq!(BsrLine::parse(b"Count=x\n"), Err(Error::BadNumber));
        assert_eq!(BsrLine::parse(b"Count=1\nCount=2\n"), Err(Error::Malformed));
        assert_eq!(
            BsrLine::parse(b"VolSessionTime=99999999999999999999999\n"),
            Err(Error::BadNumber)
        );
        assert_eq!(
            BsrLine::parse(b"Frobnicate=1\n"),
            Ok(BsrLine::Unknown(b"Frobnicate=1"))
        );
        // Case-insensitive keywords, emitted in the Director's spelling.
        assert_eq!(
            BsrLine::parse(b"fileindex=7"),
            Ok(BsrLine::FileIndex(Range::single(7)))
        );
        assert!(entries(b"Volume=\"a\"\nCount=\n").any(|e| e.is_err()));
    }

    proptest::proptest! {
        #[test]
        fn line_round_trip(kw in 0usize..19, a in proptest::num::u64::ANY, d in 0u64..1000,
                           single in proptest::bool::ANY, quoted in proptest::bool::ANY,
                           text in "[!#-~&&[^=]]{1,20}") {
            let r = if single { Range::single(a) } else { Range::new(a, a.saturating_add(d)) };
            let v = Value { text: text.as_bytes(), quoted };
            let l = match kw {
                0 => BsrLine::Storage(v), 1 => BsrLine::Volume(v), 2 => BsrLine::MediaType(v),
                3 => BsrLine::Device(v), 4 => BsrLine::Client(v), 5 => BsrLine::Job(v),
                6 => BsrLine::FileRegex(v), 7 => BsrLine::JobType(v), 8 => BsrLine::JobLevel(v),
                9 => BsrLine::Slot(a), 10 => BsrLine::VolSessionId(r),
                11 => BsrLine::VolSessionTime(a), 12 => BsrLine::VolAddr(r),
                13 => BsrLine::VolFile(r), 14 => BsrLine::VolBlock(r),
                15 => BsrLine::FileIndex(r), 16 => BsrLine::JobId(r),
                17 => BsrLine::Count(a), _ => BsrLine::Stream(a),
            };
            let b = emit_vec(&l);
            proptest::prop_assert_eq!(BsrLine::parse(&b).unwrap(), l);
        }

        #[test]
        fn parse_never_panics(data in proptest::collection::vec(proptest::num::u8::ANY, 0..60)) {
            let _ = BsrLine::parse(&data);
            for e in entries(&data) { let _ = e; }
        }
    }
}
