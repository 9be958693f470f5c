//! Text helpers shared by every line-oriented codec: a `bsscanf`-style [`Scanner`] and a
//! bounded [`Writer`] that formats into a caller-owned buffer.
//!
//! `bsscanf` (`core/src/lib/scan.cc`) is how every Bareos daemon parses control lines. Its rules,
//! which [`Scanner`] follows (see `../shared/protocol/connect.md` §2.2):
//!
//! - a space in the format skips zero or more whitespace bytes;
//! - any other literal byte must match exactly;
//! - `%s` takes a run of non-whitespace bytes;
//! - `%d`/`%u` take a run of digits;
//! - bytes left over after the format are ignored (our codecs decide per message whether to
//!   accept or reject trailing bytes).
//!
//! Where `bsscanf` accepts an empty `%u` (it counts as matched), the scanner is stricter and
//! requires a digit: no real daemon sends an empty number, and a number we invent from nothing
//! would be a lie to the caller.

use core::fmt;

use super::{Error, Result};

/// Whitespace as C's `isspace` in the "C" locale.
pub const fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// A cursor over a text payload with `bsscanf` semantics.
#[derive(Debug, Clone)]
pub struct Scanner<'a> {
    input: &'a [u8],
    pos: usize,
}

impl<'a> Scanner<'a> {
    /// Start scanning `input` at its first byte.
    pub const fn new(input: &'a [u8]) -> Self {
        Self { input, pos: 0 }
    }

    /// The bytes not consumed yet.
    pub fn rest(&self) -> &'a [u8] {
        self.input.get(self.pos..).unwrap_or(&[])
    }

    /// How many bytes have been consumed.
    pub const fn position(&self) -> usize {
        self.pos
    }

    /// True when every byte has been consumed.
    pub fn is_at_end(&self) -> bool {
        self.pos >= self.input.len()
    }

    /// Skip zero or more whitespace bytes.
    pub fn skip_space(&mut self) {
        while let Some(&b) = self.input.get(self.pos) {
            if !is_space(b) {
                break;
            }
            self.pos += 1;
        }
    }

    /// Match a format literal: a space skips any whitespace, every other byte must match.
    pub fn lit(&mut self, pattern: &[u8]) -> Result<()> {
        for &p in pattern {
            if p == b' ' {
                self.skip_space();
                continue;
            }
            match self.input.get(self.pos) {
                Some(&b) if b == p => self.pos += 1,
                Some(_) => return Err(Error::Malformed),
                None => return Err(Error::Truncated),
            }
        }
        Ok(())
    }

    /// Match `pattern` if it is next; leave the cursor alone and return false otherwise.
    pub fn try_lit(&mut self, pattern: &[u8]) -> bool {
        let save = self.pos;
        if self.lit(pattern).is_ok() {
            true
        } else {
            self.pos = save;
            false
        }
    }

    /// `%s`: a run of non-whitespace bytes, possibly empty.
    pub fn word(&mut self) -> &'a [u8] {
        let start = self.pos;
        while let Some(&b) = self.input.get(self.pos) {
            if is_space(b) {
                break;
            }
            self.pos += 1;
        }
        self.input.get(start..self.pos).unwrap_or(&[])
    }

    /// `%s` that must not be empty.
    pub fn nonempty_word(&mut self) -> Result<&'a [u8]> {
        let w = self.word();
        if w.is_empty() {
            Err(if self.is_at_end() {
                Error::Truncated
            } else {
                Error::Malformed
            })
        } else {
            Ok(w)
        }
    }

    /// Bytes up to (not including) the first `stop` byte; the stop byte is consumed. Errors with
    /// [`Error::Truncated`] if `stop` never comes.
    pub fn until(&mut self, stop: u8) -> Result<&'a [u8]> {
        let rest = self.rest();
        match rest.iter().position(|&b| b == stop) {
            Some(n) => {
                self.pos += n + 1;
                Ok(&rest[..n])
            }
            None => Err(Error::Truncated),
        }
    }

    /// Bytes up to the first `stop` byte or the end; the stop byte, if any, is consumed.
    pub fn until_or_end(&mut self, stop: u8) -> &'a [u8] {
        let rest = self.rest();
        match rest.iter().position(|&b| b == stop) {
            Some(n) => {
                self.pos += n + 1;
                &rest[..n]
            }
            None => {
                self.pos = self.input.len();
                rest
            }
        }
    }

    /// `%u` as u64: one or more decimal digits.
    pub fn u64(&mut self) -> Result<u64> {
        let start = self.pos;
        let mut v: u64 = 0;
        while let Some(&b) = self.input.get(self.pos) {
            if !b.is_ascii_digit() {
                break;
            }
            v = v
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(b - b'0')))
                .ok_or(Error::BadNumber)?;
            self.pos += 1;
        }
        if self.pos == start {
            return Err(if self.is_at_end() {
                Error::Truncated
            } else {
                Error::BadNumber
            });
        }
        Ok(v)
    }

    /// `%u` as u32.
    pub fn u32(&mut self) -> Result<u32> {
        u32::try_from(self.u64()?).map_err(|_| Error::BadNumber)
    }

    /// `%d` as i64: an optional `-` (or `+`), then one or more digits.
    pub fn i64(&mut self) -> Result<i64> {
        let neg = match self.input.get(self.pos) {
            Some(b'-') => {
                self.pos += 1;
                true
            }
            Some(b'+') => {
                self.pos += 1;
                false
            }
            _ => false,
        };
        let mag = self.u64()?;
        if neg {
            0i64.checked_sub_unsigned(mag).ok_or(Error::BadNumber)
        } else {
            i64::try_from(mag).map_err(|_| Error::BadNumber)
        }
    }

    /// `%d` as i32.
    pub fn i32(&mut self) -> Result<i32> {
        i32::try_from(self.i64()?).map_err(|_| Error::BadNumber)
    }

    /// Succeed only if nothing (or only whitespace, when `allow_space`) is left.
    pub fn end(&mut self, allow_space: bool) -> Result<()> {
        if allow_space {
            self.skip_space();
        }
        if self.is_at_end() {
            Ok(())
        } else {
            Err(Error::Malformed)
        }
    }
}

/// Formats into a caller-owned buffer and reports overflow as [`Error::BufferTooSmall`] instead
/// of truncating silently. A writer made with [`Writer::counting`] writes nothing and only
/// counts, which is how codecs implement `buffer_len`.
#[derive(Debug)]
pub struct Writer<'b> {
    buf: Option<&'b mut [u8]>,
    len: usize,
    overflow: bool,
}

impl<'b> Writer<'b> {
    /// A writer that fills `buf` from its start.
    pub fn new(buf: &'b mut [u8]) -> Self {
        Self {
            buf: Some(buf),
            len: 0,
            overflow: false,
        }
    }

    /// Append raw bytes.
    pub fn bytes(&mut self, data: &[u8]) {
        let end = self.len.saturating_add(data.len());
        match &mut self.buf {
            Some(buf) => match buf.get_mut(self.len..end) {
                Some(dst) => {
                    dst.copy_from_slice(data);
                    self.len = end;
                }
                None => self.overflow = true,
            },
            None => self.len = end,
        }
    }

    /// Append one byte.
    pub fn byte(&mut self, b: u8) {
        self.bytes(&[b]);
    }

    /// Append a decimal number without going through `core::fmt` (smaller firmware).
    pub fn u64(&mut self, mut v: u64) {
        let mut tmp = [0u8; 20];
        let mut i = tmp.len();
        loop {
            i -= 1;
            tmp[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        self.bytes(&tmp[i..]);
    }

    /// Append a signed decimal number.
    pub fn i64(&mut self, v: i64) {
        if v < 0 {
            self.byte(b'-');
        }
        self.u64(v.unsigned_abs());
    }

    /// Bytes written (or counted) so far.
    pub const fn len(&self) -> usize {
        self.len
    }

    /// True when nothing was written.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The final length, or [`Error::BufferTooSmall`] if anything did not fit.
    pub fn finish(self) -> Result<usize> {
        if self.overflow {
            Err(Error::BufferTooSmall)
        } else {
            Ok(self.len)
        }
    }
}

impl Writer<'static> {
    /// A writer that only counts bytes.
    pub const fn counting() -> Self {
        Self {
            buf: None,
            len: 0,
            overflow: false,
        }
    }
}

impl fmt::Write for Writer<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.bytes(s.as_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scanner_follows_bsscanf() {
        let mut s = Scanner::new(b"JobId=12  Job=abc.x SDid=3\n");
        s.lit(b"JobId=").unwrap();
        assert_eq!(s.u32().unwrap(), 12);
        s.lit(b" Job=").unwrap();
        assert_eq!(s.word(), b"abc.x");
        s.lit(b" SDid=").unwrap();
        assert_eq!(s.i64().unwrap(), 3);
        s.end(true).unwrap();
    }

    #[test]
    fn scanner_errors() {
        assert_eq!(Scanner::new(b"Job").lit(b"JobId="), Err(Error::Truncated));
        assert_eq!(Scanner::new(b"Jab").lit(b"Job"), Err(Error::Malformed));
        assert_eq!(Scanner::new(b"x").u64(), Err(Error::BadNumber));
        assert_eq!(
            Scanner::new(b"99999999999999999999999").u64(),
            Err(Error::BadNumber)
        );
        assert_eq!(Scanner::new(b"-9223372036854775808").i64(), Ok(i64::MIN));
    }

    #[test]
    fn writer_bounds() {
        let mut buf = [0u8; 4];
        let mut w = Writer::new(&mut buf);
        w.bytes(b"abc");
        w.u64(12);
        assert_eq!(w.finish(), Err(Error::BufferTooSmall));
        let mut c = Writer::counting();
        c.i64(-120);
        assert_eq!(c.finish(), Ok(4));
    }
}
