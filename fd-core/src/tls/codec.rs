//! Big-endian readers and writers for TLS' length-prefixed vectors (RFC 8446 §3).
//!
//! Every read is bounds-checked and fails with [`Error::Truncated`]; every write is
//! bounds-checked and fails with [`Error::BufferTooSmall`]. Nothing here can panic.

use crate::wire::{Error, Result};

/// A cursor over an input slice.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// Bytes consumed so far.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).ok_or(Error::Truncated)?;
        let s = self.buf.get(self.pos..end).ok_or(Error::Truncated)?;
        self.pos = end;
        Ok(s)
    }

    pub(crate) fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?.first().copied().unwrap_or(0))
    }

    pub(crate) fn u16(&mut self) -> Result<u16> {
        let s = self.take(2)?;
        Ok(u16::from_be_bytes([s[0], s[1]]))
    }

    pub(crate) fn u24(&mut self) -> Result<u32> {
        let s = self.take(3)?;
        Ok(u32::from_be_bytes([0, s[0], s[1], s[2]]))
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<&'a [u8; N]> {
        self.take(N)?.try_into().map_err(|_| Error::Truncated)
    }

    /// A vector with a one-byte length prefix.
    pub(crate) fn vec8(&mut self) -> Result<&'a [u8]> {
        let n = self.u8()?;
        self.take(usize::from(n))
    }

    /// A vector with a two-byte length prefix.
    pub(crate) fn vec16(&mut self) -> Result<&'a [u8]> {
        let n = self.u16()?;
        self.take(usize::from(n))
    }

    /// The whole input must have been consumed.
    pub(crate) fn finish(&self) -> Result<()> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(Error::Malformed)
        }
    }
}

/// A cursor over an output slice. `Writer::counting()` only counts (for `buffer_len`).
#[derive(Debug)]
pub(crate) struct Writer<'b> {
    buf: Option<&'b mut [u8]>,
    pos: usize,
    overflow: bool,
}

impl<'b> Writer<'b> {
    pub(crate) fn new(buf: &'b mut [u8]) -> Self {
        Writer {
            buf: Some(buf),
            pos: 0,
            overflow: false,
        }
    }

    pub(crate) fn counting() -> Writer<'static> {
        Writer {
            buf: None,
            pos: 0,
            overflow: false,
        }
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn bytes(&mut self, data: &[u8]) {
        let end = self.pos.saturating_add(data.len());
        if let Some(buf) = self.buf.as_deref_mut() {
            match buf.get_mut(self.pos..end) {
                Some(dst) => dst.copy_from_slice(data),
                None => self.overflow = true,
            }
        }
        self.pos = end;
    }

    pub(crate) fn u8(&mut self, v: u8) {
        self.bytes(&[v]);
    }

    pub(crate) fn u16(&mut self, v: u16) {
        self.bytes(&v.to_be_bytes());
    }

    pub(crate) fn u24(&mut self, v: u32) {
        let b = v.to_be_bytes();
        self.bytes(&b[1..]);
    }

    /// Overwrite a two-byte length written earlier at `at` (a placeholder).
    pub(crate) fn patch_u16(&mut self, at: usize, v: u16) {
        if let Some(buf) = self.buf.as_deref_mut() {
            if let Some(dst) = buf.get_mut(at..at.saturating_add(2)) {
                dst.copy_from_slice(&v.to_be_bytes());
            }
        }
    }

    /// Overwrite a three-byte length written earlier at `at`.
    pub(crate) fn patch_u24(&mut self, at: usize, v: u32) {
        if let Some(buf) = self.buf.as_deref_mut() {
            if let Some(dst) = buf.get_mut(at..at.saturating_add(3)) {
                dst.copy_from_slice(&v.to_be_bytes()[1..]);
            }
        }
    }

    pub(crate) fn finish(self) -> Result<usize> {
        if self.overflow {
            Err(Error::BufferTooSmall)
        } else {
            Ok(self.pos)
        }
    }
}
