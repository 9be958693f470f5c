//! The extended-attribute stream of Linux, FreeBSD, NetBSD and macOS (stream 1998
//! `STREAM_XATTR_LINUX` on Linux) and the POSIX ACL text streams (1008
//! `STREAM_ACL_LINUX_ACCESS_ACL`, 1007 `STREAM_ACL_LINUX_DEFAULT_ACL`).
//!
//! # Xattr stream (`core/src/findlib/xattr.cc` `SerializeXattrStream()`, facts only)
//!
//! One data message holding one or more attributes, each:
//!
//! ```text
//! magic u32 BE = 0x005C5884 | name_len u32 BE | name (no NUL) | value_len u32 BE | value
//! ```
//!
//! A file without attributes gets no stream. When the fileset also backs up ACLs (`A`), the
//! ACL attributes (`system.posix_acl_access`, `system.posix_acl_default`) are left out of it
//! because the ACL streams carry them.
//!
//! # ACL streams (`core/src/findlib/acl.cc`)
//!
//! The text of `acl_to_text()` (long form, one `tag:qualifier:perms` entry per line) followed
//! by a NUL byte. The access ACL is only sent when it is not trivial (has entries other than
//! `user::`, `group::`, `other::`, which the stat mode already carries); the default ACL only
//! for directories that have one. [`AclText`] converts between that text and the kernel's
//! binary `system.posix_acl_*` value so that a platform can read and write ACLs as plain
//! extended attributes without libacl.

use super::{Error, Result};

/// The magic in front of every attribute (`XATTR_MAGIC`).
pub const XATTR_MAGIC: u32 = 0x005C_5884;

/// One extended attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XattrPair<'a> {
    /// Its name (`user.comment`).
    pub name: &'a [u8],
    /// Its value (may be empty).
    pub value: &'a [u8],
}

impl XattrPair<'_> {
    /// Bytes this attribute takes in the stream.
    pub fn buffer_len(&self) -> usize {
        12 + self.name.len() + self.value.len()
    }

    /// Write the attribute at the start of `out`; returns the bytes written.
    pub fn emit(&self, out: &mut [u8]) -> Result<usize> {
        let n = self.buffer_len();
        let dst = out.get_mut(..n).ok_or(Error::BufferTooSmall)?;
        let nl = u32::try_from(self.name.len()).map_err(|_| Error::FieldTooLong)?;
        let vl = u32::try_from(self.value.len()).map_err(|_| Error::FieldTooLong)?;
        let (a, rest) = dst.split_at_mut(4);
        a.copy_from_slice(&XATTR_MAGIC.to_be_bytes());
        let (b, rest) = rest.split_at_mut(4);
        b.copy_from_slice(&nl.to_be_bytes());
        let (c, rest) = rest.split_at_mut(self.name.len());
        c.copy_from_slice(self.name);
        let (d, e) = rest.split_at_mut(4);
        d.copy_from_slice(&vl.to_be_bytes());
        e.copy_from_slice(self.value);
        Ok(n)
    }
}

/// The attributes of one xattr stream, in order; a bad magic or a length past the end is an
/// error (and ends the iteration).
#[derive(Debug, Clone)]
pub struct XattrIter<'a> {
    rest: &'a [u8],
    failed: bool,
}

impl<'a> XattrIter<'a> {
    /// Iterate over the stream `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Self {
            rest: data,
            failed: false,
        }
    }
}

fn take_u32(b: &[u8]) -> Result<(u32, &[u8])> {
    let (h, t) = b.split_at_checked(4).ok_or(Error::Truncated)?;
    let mut a = [0u8; 4];
    a.copy_from_slice(h);
    Ok((u32::from_be_bytes(a), t))
}

fn take(b: &[u8], n: u32) -> Result<(&[u8], &[u8])> {
    b.split_at_checked(usize::try_from(n).map_err(|_| Error::BadNumber)?)
        .ok_or(Error::Truncated)
}

impl<'a> Iterator for XattrIter<'a> {
    type Item = Result<XattrPair<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() || self.failed {
            return None;
        }
        let r = (|| {
            let (magic, t) = take_u32(self.rest)?;
            if magic != XATTR_MAGIC {
                return Err(Error::Malformed);
            }
            let (nl, t) = take_u32(t)?;
            let (name, t) = take(t, nl)?;
            let (vl, t) = take_u32(t)?;
            let (value, t) = take(t, vl)?;
            Ok((XattrPair { name, value }, t))
        })();
        match r {
            Ok((p, t)) => {
                self.rest = t;
                Some(Ok(p))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// Tags of a POSIX ACL entry (`<linux/posix_acl.h>` values, also used in the binary xattr).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum AclTag {
    /// `user::` (the owner).
    UserObj = 0x01,
    /// `user:«id»:`.
    User = 0x02,
    /// `group::` (the owning group).
    GroupObj = 0x04,
    /// `group:«id»:`.
    Group = 0x08,
    /// `mask::`.
    Mask = 0x10,
    /// `other::`.
    Other = 0x20,
}

impl AclTag {
    fn from_u16(v: u16) -> Option<Self> {
        Some(match v {
            0x01 => AclTag::UserObj,
            0x02 => AclTag::User,
            0x04 => AclTag::GroupObj,
            0x08 => AclTag::Group,
            0x10 => AclTag::Mask,
            0x20 => AclTag::Other,
            _ => return None,
        })
    }
    fn word(self) -> &'static [u8] {
        match self {
            AclTag::UserObj | AclTag::User => b"user",
            AclTag::GroupObj | AclTag::Group => b"group",
            AclTag::Mask => b"mask",
            AclTag::Other => b"other",
        }
    }
}

/// One ACL entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct AclEntry {
    /// Its tag.
    pub tag: AclTag,
    /// `rwx` bits (4, 2, 1).
    pub perm: u8,
    /// The uid/gid for [`AclTag::User`]/[`AclTag::Group`]; unused otherwise.
    pub id: u32,
}

/// The kernel's binary ACL value (`system.posix_acl_access`): version 2, then 8-byte
/// little-endian entries `tag u16, perm u16, id u32`.
pub const ACL_XATTR_VERSION: u32 = 2;

/// Conversions between the binary ACL xattr value, entries and Bareos' ACL text.
#[derive(Debug, Clone, Copy)]
pub struct AclText;

impl AclText {
    /// The entries of a binary ACL value (at most `out.len()`); returns how many.
    pub fn parse_binary(value: &[u8], out: &mut [AclEntry]) -> Result<usize> {
        let (v, mut rest) = value.split_at_checked(4).ok_or(Error::Truncated)?;
        if v != ACL_XATTR_VERSION.to_le_bytes() {
            return Err(Error::Malformed);
        }
        if rest.len() % 8 != 0 {
            return Err(Error::Truncated);
        }
        let mut n = 0;
        while let Some((e, t)) = rest.split_at_checked(8) {
            rest = t;
            let &[t0, t1, p0, p1, i0, i1, i2, i3] = e else {
                return Err(Error::Truncated);
            };
            let tag = AclTag::from_u16(u16::from_le_bytes([t0, t1])).ok_or(Error::Malformed)?;
            let perm = u16::from_le_bytes([p0, p1]);
            let slot = out.get_mut(n).ok_or(Error::FieldTooLong)?;
            *slot = AclEntry {
                tag,
                perm: (perm & 7) as u8,
                id: u32::from_le_bytes([i0, i1, i2, i3]),
            };
            n += 1;
        }
        Ok(n)
    }

    /// The binary value of `entries` (sorted by tag, then id, as the kernel wants).
    pub fn emit_binary(entries: &[AclEntry], out: &mut [u8]) -> Result<usize> {
        let n = 4 + 8 * entries.len();
        let dst = out.get_mut(..n).ok_or(Error::BufferTooSmall)?;
        let (v, mut rest) = dst.split_at_mut(4);
        v.copy_from_slice(&ACL_XATTR_VERSION.to_le_bytes());
        // Selection order without allocation: for each tag, entries by ascending id.
        let mut written = 0;
        let mut last: Option<(AclTag, u32)> = None;
        while written < entries.len() {
            let next = entries
                .iter()
                .filter(|e| match last {
                    None => true,
                    Some(l) => (e.tag, e.id) > l,
                })
                .min_by_key(|e| (e.tag, e.id))
                .ok_or(Error::Malformed)?;
            let (d, t) = rest.split_at_mut(8);
            let id = match next.tag {
                AclTag::User | AclTag::Group => next.id,
                _ => u32::MAX,
            };
            d[..2].copy_from_slice(&(next.tag as u16).to_le_bytes());
            d[2..4].copy_from_slice(&u16::from(next.perm & 7).to_le_bytes());
            d[4..].copy_from_slice(&id.to_le_bytes());
            rest = t;
            last = Some((next.tag, next.id));
            written += 1;
        }
        Ok(n)
    }

    /// True if the ACL only mirrors the mode bits (`user::`, `group::`, `other::`).
    pub fn is_trivial(entries: &[AclEntry]) -> bool {
        entries
            .iter()
            .all(|e| matches!(e.tag, AclTag::UserObj | AclTag::GroupObj | AclTag::Other))
    }

    /// Bareos' text of `entries` (`acl_to_text()` long form: `user::rw-⏎user:«name»:r--⏎…`),
    /// without the trailing NUL. `name(tag, id, buf)` writes the user or group name of an id
    /// (or its number) and returns its length.
    pub fn emit_text(
        entries: &[AclEntry],
        name: &mut dyn FnMut(AclTag, u32, &mut [u8]) -> usize,
        out: &mut [u8],
    ) -> Result<usize> {
        let mut w = super::text::Writer::new(out);
        for e in entries {
            w.bytes(e.tag.word());
            w.byte(b':');
            if matches!(e.tag, AclTag::User | AclTag::Group) {
                let mut nb = [0u8; 64];
                let n = name(e.tag, e.id, &mut nb);
                match nb.get(..n) {
                    Some(s) if n > 0 => w.bytes(s),
                    _ => w.u64(u64::from(e.id)),
                }
            }
            w.byte(b':');
            w.byte(if e.perm & 4 != 0 { b'r' } else { b'-' });
            w.byte(if e.perm & 2 != 0 { b'w' } else { b'-' });
            w.byte(if e.perm & 1 != 0 { b'x' } else { b'-' });
            w.byte(b'\n');
        }
        w.finish()
    }

    /// Parse ACL text as `acl_from_text()` accepts it: entries separated by newlines or
    /// commas, `#` comments, `u`/`g`/`m`/`o` abbreviations, permissions `rwx-` in any order;
    /// a trailing NUL is ignored. `id(tag, name)` resolves a user or group name (numbers are
    /// taken as ids directly). Returns the number of entries written to `out`.
    pub fn parse_text(
        text: &[u8],
        id: &mut dyn FnMut(AclTag, &[u8]) -> Option<u32>,
        out: &mut [AclEntry],
    ) -> Result<usize> {
        let text = text.strip_suffix(&[0]).unwrap_or(text);
        let mut n = 0;
        for raw in text.split(|&b| b == b'\n' || b == b',') {
            let line = match raw.iter().position(|&b| b == b'#') {
                Some(i) => raw.get(..i).unwrap_or(raw),
                None => raw,
            };
            let line = trim(line);
            if line.is_empty() {
                continue;
            }
            let mut parts = line.splitn(3, |&b| b == b':');
            let (Some(t), Some(q), Some(p)) = (parts.next(), parts.next(), parts.next()) else {
                return Err(Error::Malformed);
            };
            let (t, q, p) = (trim(t), trim(q), trim(p));
            let named = !q.is_empty();
            let tag = match (t, named) {
                (b"user" | b"u", false) => AclTag::UserObj,
                (b"user" | b"u", true) => AclTag::User,
                (b"group" | b"g", false) => AclTag::GroupObj,
                (b"group" | b"g", true) => AclTag::Group,
                (b"mask" | b"m", false) => AclTag::Mask,
                (b"other" | b"o", false) => AclTag::Other,
                _ => return Err(Error::Malformed),
            };
            let mut perm = 0u8;
            for &c in p {
                perm |= match c {
                    b'r' => 4,
                    b'w' => 2,
                    b'x' => 1,
                    b'-' => 0,
                    _ => return Err(Error::Malformed),
                };
            }
            let idv = if named {
                match core::str::from_utf8(q)
                    .ok()
                    .and_then(|s| s.parse::<u32>().ok())
                {
                    Some(v) => v,
                    None => id(tag, q).ok_or(Error::Malformed)?,
                }
            } else {
                u32::MAX
            };
            let slot = out.get_mut(n).ok_or(Error::FieldTooLong)?;
            *slot = AclEntry { tag, perm, id: idv };
            n += 1;
        }
        Ok(n)
    }
}

fn trim(b: &[u8]) -> &[u8] {
    let s = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let e = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(s, |i| i + 1);
    b.get(s..e).unwrap_or(&[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xattr_stream_round_trip_and_errors() {
        let mut buf = [0u8; 128];
        let a = XattrPair {
            name: b"user.a",
            value: b"1",
        };
        let b = XattrPair {
            name: b"user.empty",
            value: b"",
        };
        let n1 = a.emit(&mut buf).unwrap();
        let n2 = b.emit(&mut buf[n1..]).unwrap();
        let s = &buf[..n1 + n2];
        assert_eq!(&s[..4], &[0x00, 0x5C, 0x58, 0x84]);
        assert_eq!(&s[4..8], &[0, 0, 0, 6]);
        let got: Vec<_> = XattrIter::new(s).collect::<Result<_>>().unwrap();
        assert_eq!(got, vec![a, b]);
        // Truncated and bad magic are errors, never panics.
        for cut in 1..s.len() {
            let r: Result<Vec<_>> = XattrIter::new(&s[..cut]).collect();
            if cut != n1 {
                assert!(r.is_err(), "cut {cut}");
            }
        }
        let mut bad = s.to_vec();
        bad[0] = 1;
        assert_eq!(XattrIter::new(&bad).next(), Some(Err(Error::Malformed)));
        assert_eq!(a.emit(&mut [0u8; 5]), Err(Error::BufferTooSmall));
    }

    #[test]
    fn acl_binary_text_round_trip() {
        let entries = [
            AclEntry {
                tag: AclTag::Other,
                perm: 4,
                id: 0,
            },
            AclEntry {
                tag: AclTag::UserObj,
                perm: 6,
                id: 0,
            },
            AclEntry {
                tag: AclTag::User,
                perm: 4,
                id: 1234,
            },
            AclEntry {
                tag: AclTag::GroupObj,
                perm: 4,
                id: 0,
            },
            AclEntry {
                tag: AclTag::Mask,
                perm: 5,
                id: 0,
            },
        ];
        let mut bin = [0u8; 64];
        let n = AclText::emit_binary(&entries, &mut bin).unwrap();
        assert_eq!(n, 4 + 5 * 8);
        let mut back = [AclEntry {
            tag: AclTag::Other,
            perm: 0,
            id: 0,
        }; 8];
        let k = AclText::parse_binary(&bin[..n], &mut back).unwrap();
        assert_eq!(k, 5);
        assert_eq!(back[0].tag, AclTag::UserObj);
        assert_eq!(back[1].tag, AclTag::User);
        assert_eq!(back[1].id, 1234);
        assert!(!AclText::is_trivial(&back[..k]));
        let mut text = [0u8; 128];
        let mut names = |t: AclTag, id: u32, out: &mut [u8]| {
            if t == AclTag::User && id == 1234 {
                out[..5].copy_from_slice(b"alice");
                5
            } else {
                0
            }
        };
        let tn = AclText::emit_text(&back[..k], &mut names, &mut text).unwrap();
        assert_eq!(
            &text[..tn],
            b"user::rw-\nuser:alice:r--\ngroup::r--\nmask::r-x\nother::r--\n"
        );
        let mut ids =
            |t: AclTag, name: &[u8]| (t == AclTag::User && name == b"alice").then_some(1234);
        let mut parsed = back;
        let mut with_nul = text[..tn].to_vec();
        with_nul.push(0);
        let pk = AclText::parse_text(&with_nul, &mut ids, &mut parsed).unwrap();
        assert_eq!(&parsed[..pk], &back[..k]);
        // Abbreviations, commas, comments; errors.
        let pk = AclText::parse_text(b"u::rw,g::r,o::-,u:7:rwx #c", &mut ids, &mut parsed).unwrap();
        assert_eq!(pk, 4);
        assert_eq!(parsed[3].id, 7);
        assert!(AclText::parse_text(b"user:nobody-here:r", &mut ids, &mut parsed).is_err());
        assert!(AclText::parse_text(b"bogus::r", &mut ids, &mut parsed).is_err());
        assert!(AclText::parse_binary(&[2, 0, 0, 0, 1], &mut parsed).is_err());
        assert!(AclText::parse_binary(&[3, 0, 0, 0], &mut parsed).is_err());
    }
}
