//! The fileset the Director sends after `fileset`: one frame per line, then EOD.
//!
//! After `fileset⏎` (or `fileset vss=1⏎`, see [`super::dir_cmd::DirCommand::Fileset`]) the
//! Director streams the FileSet resource as a flat list of lines
//! (`core/src/dird/fd_sendfileset.cc`), one bsock frame each, and ends with an EOD signal;
//! the FD answers `2000 OK include⏎` (`../shared/protocol/jobs.md` §1.5). Captured, for
//! `Include { Options { Signature = SHA256 } File = /srv/bareos-capture/testdata/tree }`
//! (vectors/clear-backup-full, conn 3 msgs 13–21):
//!
//! ```text
//! fileset vss=1⏎
//! I⏎
//! O S2HAX⏎
//! N⏎
//! F /srv/bareos-capture/testdata/tree        (no newline!)
//! N⏎
//! N⏎
//! EOD
//! ```
//!
//! # Line grammar
//!
//! The FD (`core/src/filed/fileset.cc` `AddFileset()`) reads a code byte, an optional
//! subcode byte (anything but a space), skips one space and takes the rest as the item.
//! [`FilesetLine`] has one variant per code the Director sends. Every line is formatted
//! `"X item\n"` except `F` and `P`, which `SendListItem()` sends without a newline; `I`, `E`
//! and `N` carry no item. [`FilesetLine::parse`] accepts a missing newline on the newline
//! forms (the FD strips trailing whitespace anyway) and [`FilesetLine::emit`] always writes
//! the Director's exact form, so emit ∘ parse is the identity on everything a real Director
//! sends.
//!
//! # Option letters
//!
//! An `O` line carries the Options block as a string of letters, some with a digit or a
//! `…:`-terminated argument (`core/src/dird/inc_conf.cc` `FS_options[]`, read by
//! `core/src/filed/fileset.cc` `SetOptionsAndFlags()`). The Director appends its defaults
//! `H` (no hard-link handling), `A` (ACLs) and `X` (xattrs) to every block that does not set
//! those keywords, so `Signature = SHA256` goes out as `O S2HAX` and `Sparse = yes;
//! HardLinks = yes` as `O S2s0AX` (`0` is the "keyword at its default" filler;
//! vectors/clear-backup-multiblock, conn 3 msg 15). [`OptionLetters`] keeps the raw bytes for
//! byte-exact re-emission and tokenises them into [`FileOption`]s with the same consumption
//! rules as the FD, including its quirks (an unknown `Z` compression letter swallows the
//! following byte; an unknown cipher after `E` leaves the next byte to be read as an option
//! of its own). Unknown letters become [`FileOption::Unknown`]; the FD itself only logs
//! them. [`OptionSummary::from_letters`] folds the tokens into the flags a backup needs.

use super::text::Writer;
use super::{Error, Result};

/// Which kind of pattern an `R…`/`W…` line carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum PatternTarget {
    /// `R`/`W`: match against the whole path.
    Any,
    /// `RD`/`WD`: directories only.
    Dir,
    /// `RF`/`WF`: files only.
    File,
    /// `WB`: wild base name (only sent when the options contain `W`).
    Base,
}

impl PatternTarget {
    const fn subcode(self) -> Option<u8> {
        match self {
            PatternTarget::Any => None,
            PatternTarget::Dir => Some(b'D'),
            PatternTarget::File => Some(b'F'),
            PatternTarget::Base => Some(b'B'),
        }
    }
}

/// One line of the fileset stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FilesetLine<'a> {
    /// `I⏎`: start an Include block.
    Include,
    /// `E⏎`: start an Exclude block.
    Exclude,
    /// `O «letters»⏎`: start an Options block.
    Options(OptionLetters<'a>),
    /// `R «regex»⏎`, `RD …`, `RF …`: POSIX extended regex.
    Regex(PatternTarget, &'a [u8]),
    /// `W «glob»⏎`, `WD …`, `WF …`, `WB …`: wildcard.
    Wild(PatternTarget, &'a [u8]),
    /// `B «x»⏎`: base (sent by the Director but rejected by the FD, jobs.md §11.6).
    Base(&'a [u8]),
    /// `X «fstype»⏎`: accepted file-system type.
    FsType(&'a [u8]),
    /// `XD «drivetype»⏎`: accepted drive type.
    DriveType(&'a [u8]),
    /// `G «plugin»⏎`: options plugin for this block.
    OptionsPlugin(&'a [u8]),
    /// `D «reader»⏎`: obsolete reader program (ignored by the FD).
    Reader(&'a [u8]),
    /// `T «writer»⏎`: obsolete writer program (ignored by the FD).
    Writer(&'a [u8]),
    /// `Z «marker file»⏎`: exclude directories containing this file.
    IgnoreDir(&'a [u8]),
    /// `N⏎`: end of an options block, of the file list or of the plugin list.
    End,
    /// `F «path»` (no newline): a file or directory to back up.
    File(&'a [u8]),
    /// `P «plugin string»` (no newline): a command plugin entry.
    Plugin(&'a [u8]),
    /// A line with a code this build does not know (whole frame).
    Unknown(&'a [u8]),
}

impl<'a> FilesetLine<'a> {
    /// Parse one fileset frame.
    pub fn parse(input: &'a [u8]) -> Result<Self> {
        if input.len() > super::dir_cmd::MAX_FRAME_LEN {
            return Err(Error::FrameTooLong);
        }
        let (&code, after) = input.split_first().ok_or(Error::Truncated)?;
        // F and P are sent without a newline; their item is everything after "F ".
        if code == b'F' || code == b'P' {
            let item = after.strip_prefix(b" ").ok_or(Error::Malformed)?;
            return Ok(if code == b'F' {
                FilesetLine::File(item)
            } else {
                FilesetLine::Plugin(item)
            });
        }
        let body = input.strip_suffix(b"\n").unwrap_or(input);
        let (_, after) = body.split_first().ok_or(Error::Truncated)?;
        // Optional subcode, then the separating space, then the item.
        let (subcode, item) = match after.split_first() {
            None => (None, None),
            Some((b' ', item)) => (None, Some(item)),
            Some((&sub, rest)) => match rest.split_first() {
                None => (Some(sub), None),
                Some((b' ', item)) => (Some(sub), Some(item)),
                Some(_) => return Ok(FilesetLine::Unknown(input)),
            },
        };
        let need_item = |item: Option<&'a [u8]>| item.ok_or(Error::Truncated);
        let target = |sub: Option<u8>, allow_base: bool| match sub {
            None => Some(PatternTarget::Any),
            Some(b'D') => Some(PatternTarget::Dir),
            Some(b'F') => Some(PatternTarget::File),
            Some(b'B') if allow_base => Some(PatternTarget::Base),
            _ => None,
        };
        Ok(match (code, subcode) {
            (b'I', None) if item.is_none() => FilesetLine::Include,
            (b'E', None) if item.is_none() => FilesetLine::Exclude,
            (b'N', None) if item.is_none() => FilesetLine::End,
            (b'O', None) => FilesetLine::Options(OptionLetters::new(need_item(item)?)),
            (b'R', sub) => match target(sub, false) {
                Some(t) => FilesetLine::Regex(t, need_item(item)?),
                None => FilesetLine::Unknown(input),
            },
            (b'W', sub) => match target(sub, true) {
                Some(t) => FilesetLine::Wild(t, need_item(item)?),
                None => FilesetLine::Unknown(input),
            },
            (b'B', None) => FilesetLine::Base(need_item(item)?),
            (b'X', None) => FilesetLine::FsType(need_item(item)?),
            (b'X', Some(b'D')) => FilesetLine::DriveType(need_item(item)?),
            (b'G', None) => FilesetLine::OptionsPlugin(need_item(item)?),
            (b'D', None) => FilesetLine::Reader(need_item(item)?),
            (b'T', None) => FilesetLine::Writer(need_item(item)?),
            (b'Z', None) => FilesetLine::IgnoreDir(need_item(item)?),
            _ => FilesetLine::Unknown(input),
        })
    }

    fn write(&self, w: &mut Writer<'_>) {
        let item_line = |w: &mut Writer<'_>, code: u8, sub: Option<u8>, item: &[u8]| {
            w.byte(code);
            if let Some(s) = sub {
                w.byte(s);
            }
            w.byte(b' ');
            w.bytes(item);
            w.byte(b'\n');
        };
        match *self {
            FilesetLine::Include => w.bytes(b"I\n"),
            FilesetLine::Exclude => w.bytes(b"E\n"),
            FilesetLine::End => w.bytes(b"N\n"),
            FilesetLine::Options(o) => item_line(w, b'O', None, o.as_bytes()),
            FilesetLine::Regex(t, p) => item_line(w, b'R', t.subcode(), p),
            FilesetLine::Wild(t, p) => item_line(w, b'W', t.subcode(), p),
            FilesetLine::Base(i) => item_line(w, b'B', None, i),
            FilesetLine::FsType(i) => item_line(w, b'X', None, i),
            FilesetLine::DriveType(i) => item_line(w, b'X', Some(b'D'), i),
            FilesetLine::OptionsPlugin(i) => item_line(w, b'G', None, i),
            FilesetLine::Reader(i) => item_line(w, b'D', None, i),
            FilesetLine::Writer(i) => item_line(w, b'T', None, i),
            FilesetLine::IgnoreDir(i) => item_line(w, b'Z', None, i),
            FilesetLine::File(p) => {
                w.bytes(b"F ");
                w.bytes(p);
            }
            FilesetLine::Plugin(p) => {
                w.bytes(b"P ");
                w.bytes(p);
            }
            FilesetLine::Unknown(raw) => w.bytes(raw),
        }
    }
}

/// The letters of an `O` line, kept verbatim; [`OptionLetters::iter`] tokenises them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OptionLetters<'a>(&'a [u8]);

impl<'a> OptionLetters<'a> {
    /// Wrap raw option letters (the text after `O `).
    pub const fn new(letters: &'a [u8]) -> Self {
        Self(letters)
    }

    /// The raw letters.
    pub const fn as_bytes(&self) -> &'a [u8] {
        self.0
    }

    /// Tokenise the letters the way the FD's `SetOptionsAndFlags()` does.
    pub fn iter(&self) -> OptionIter<'a> {
        OptionIter { rest: self.0 }
    }

    /// Fold the tokens into an [`OptionSummary`].
    pub fn summary(&self) -> OptionSummary<'a> {
        OptionSummary::from_letters(*self)
    }
}

/// The file digest an Options block asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Signature {
    /// `M`: MD5 (stream 3).
    Md5,
    /// `S`: SHA1 (stream 10), as the Director writes it.
    Sha1,
    /// `S1`: SHA1 spelled with its digit (accepted by the FD).
    Sha1Explicit,
    /// `S2`: SHA256 (stream 17).
    Sha256,
    /// `S3`: SHA512 (stream 18).
    Sha512,
    /// `S4`: XXH128 (stream 40).
    Xxh128,
}

/// Compression algorithm of a `Z…` letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Compression {
    /// `Z0`…`Z9`: GZIP (zlib) at this level.
    Gzip(u8),
    /// `Zo`: LZO1X.
    Lzo,
    /// `Zff`: FastLZ.
    FastLz,
    /// `Zf4`: LZ4.
    Lz4,
    /// `Zfh`: LZ4HC.
    Lz4Hc,
}

/// Cipher of an `E…` letter group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Cipher {
    /// `Eb`: Blowfish-CBC.
    Blowfish,
    /// `E3`: 3DES-CBC.
    TripleDes,
    /// `Ea1`: AES-128-CBC.
    Aes128,
    /// `Ea2`: AES-192-CBC.
    Aes192,
    /// `Ea3`: AES-256-CBC.
    Aes256,
    /// `Ec1`: Camellia-128-CBC.
    Camellia128,
    /// `Ec2`: Camellia-192-CBC.
    Camellia192,
    /// `Ec3`: Camellia-256-CBC.
    Camellia256,
    /// `Eh1`: AES-128-CBC-HMAC-SHA1.
    Aes128HmacSha1,
    /// `Eh2`: AES-256-CBC-HMAC-SHA1.
    Aes256HmacSha1,
}

/// Shadowing check of a `d1`…`d4` letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Shadowing {
    /// `d1`: warn, local.
    LocalWarn,
    /// `d2`: remove, local.
    LocalRemove,
    /// `d3`: warn, global.
    GlobalWarn,
    /// `d4`: remove, global.
    GlobalRemove,
}

/// The argument of a `C…:`, `V…:`, `P…:` or `z…:` letter: the bytes after the letter up to
/// the `:` (or the end of the line), and whether the `:` was there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OptionArg<'a> {
    /// The argument bytes, without the leading letter and the `:`.
    pub value: &'a [u8],
    /// Whether the argument was closed by a `:` (the Director always closes it).
    pub closed: bool,
}

/// One token of an `O` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileOption<'a> {
    /// `A`: back up ACLs.
    Acl,
    /// `a`: replace always.
    ReplaceAlways,
    /// `0`: placeholder for "keyword at its default" (ignored).
    NoOption,
    /// `C«opts»:`: accurate comparison options.
    Accurate(OptionArg<'a>),
    /// `c`: check for changes during backup.
    CheckChanges,
    /// `d1`…`d4`: shadowing check.
    Shadowing(Shadowing),
    /// `e`: this Options block excludes what it matches.
    Exclude,
    /// `E…`: encryption cipher.
    Encryption(Cipher),
    /// `Ef`: force encryption.
    ForceEncryption,
    /// `f`: cross file systems (onefs = no).
    MultiFs,
    /// `H`: no hard-link handling.
    NoHardlinks,
    /// `h`: no recursion.
    NoRecursion,
    /// `i`: ignore case.
    IgnoreCase,
    /// `K`: open with O_NOATIME.
    NoAtime,
    /// `k`: keep atime.
    KeepAtime,
    /// `m`: mtime only.
    MtimeOnly,
    /// `N`: honour the nodump flag.
    HonorNodump,
    /// `n`: never replace.
    ReplaceNever,
    /// `P«n»:`: strip n leading path components.
    StripPath(OptionArg<'a>),
    /// `p`: portable data format.
    Portable,
    /// `R`: HFS+ resource forks.
    HfsPlus,
    /// `r`: read FIFOs.
    ReadFifo,
    /// `M`, `S`, `S1`…`S4`: file digest.
    Signature(Signature),
    /// `s`: sparse files.
    Sparse,
    /// `V«opts»:`: verify options.
    Verify(OptionArg<'a>),
    /// `W`: enhanced wildcards.
    EnhancedWild,
    /// `w`: replace if newer.
    ReplaceIfNewer,
    /// `x`: no auto-exclude.
    NoAutoExclude,
    /// `X`: back up extended attributes.
    Xattr,
    /// `Z…`: compression.
    Compression(Compression),
    /// `z«spec»:`: size filter.
    Size(OptionArg<'a>),
    /// Bytes the FD would consume without effect or with an error: the exact bytes.
    Unknown(&'a [u8]),
}

impl FileOption<'_> {
    /// Append the letters of this token.
    pub fn write(&self, w: &mut Writer<'_>) {
        let arg = |w: &mut Writer<'_>, c: u8, a: &OptionArg<'_>| {
            w.byte(c);
            w.bytes(a.value);
            if a.closed {
                w.byte(b':');
            }
        };
        match self {
            FileOption::Acl => w.byte(b'A'),
            FileOption::ReplaceAlways => w.byte(b'a'),
            FileOption::NoOption => w.byte(b'0'),
            FileOption::Accurate(a) => arg(w, b'C', a),
            FileOption::CheckChanges => w.byte(b'c'),
            FileOption::Shadowing(s) => w.bytes(match s {
                Shadowing::LocalWarn => b"d1",
                Shadowing::LocalRemove => b"d2",
                Shadowing::GlobalWarn => b"d3",
                Shadowing::GlobalRemove => b"d4",
            }),
            FileOption::Exclude => w.byte(b'e'),
            FileOption::Encryption(c) => w.bytes(match c {
                Cipher::Blowfish => b"Eb".as_slice(),
                Cipher::TripleDes => b"E3",
                Cipher::Aes128 => b"Ea1",
                Cipher::Aes192 => b"Ea2",
                Cipher::Aes256 => b"Ea3",
                Cipher::Camellia128 => b"Ec1",
                Cipher::Camellia192 => b"Ec2",
                Cipher::Camellia256 => b"Ec3",
                Cipher::Aes128HmacSha1 => b"Eh1",
                Cipher::Aes256HmacSha1 => b"Eh2",
            }),
            FileOption::ForceEncryption => w.bytes(b"Ef"),
            FileOption::MultiFs => w.byte(b'f'),
            FileOption::NoHardlinks => w.byte(b'H'),
            FileOption::NoRecursion => w.byte(b'h'),
            FileOption::IgnoreCase => w.byte(b'i'),
            FileOption::NoAtime => w.byte(b'K'),
            FileOption::KeepAtime => w.byte(b'k'),
            FileOption::MtimeOnly => w.byte(b'm'),
            FileOption::HonorNodump => w.byte(b'N'),
            FileOption::ReplaceNever => w.byte(b'n'),
            FileOption::StripPath(a) => arg(w, b'P', a),
            FileOption::Portable => w.byte(b'p'),
            FileOption::HfsPlus => w.byte(b'R'),
            FileOption::ReadFifo => w.byte(b'r'),
            FileOption::Signature(s) => w.bytes(match s {
                Signature::Md5 => b"M".as_slice(),
                Signature::Sha1 => b"S",
                Signature::Sha1Explicit => b"S1",
                Signature::Sha256 => b"S2",
                Signature::Sha512 => b"S3",
                Signature::Xxh128 => b"S4",
            }),
            FileOption::Sparse => w.byte(b's'),
            FileOption::Verify(a) => arg(w, b'V', a),
            FileOption::EnhancedWild => w.byte(b'W'),
            FileOption::ReplaceIfNewer => w.byte(b'w'),
            FileOption::NoAutoExclude => w.byte(b'x'),
            FileOption::Xattr => w.byte(b'X'),
            FileOption::Compression(c) => match c {
                Compression::Gzip(l) => {
                    w.byte(b'Z');
                    w.byte(b'0' + (*l).min(9));
                }
                Compression::Lzo => w.bytes(b"Zo"),
                Compression::FastLz => w.bytes(b"Zff"),
                Compression::Lz4 => w.bytes(b"Zf4"),
                Compression::Lz4Hc => w.bytes(b"Zfh"),
            },
            FileOption::Size(a) => arg(w, b'z', a),
            FileOption::Unknown(raw) => w.bytes(raw),
        }
    }
}

/// Write a sequence of option tokens into `buf` (the text of an `O` line, without `O `);
/// returns the length. This is how a Director builds [`OptionLetters`].
pub fn write_options(options: &[FileOption<'_>], buf: &mut [u8]) -> Result<usize> {
    let mut w = Writer::new(buf);
    for o in options {
        o.write(&mut w);
    }
    w.finish()
}

/// Iterator over the tokens of an `O` line.
#[derive(Debug, Clone)]
pub struct OptionIter<'a> {
    rest: &'a [u8],
}

impl<'a> OptionIter<'a> {
    fn take(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.rest.len());
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        head
    }

    /// `C`, `V`, `P`, `z`: the argument runs to the next `:` (consumed) or the end.
    fn arg(&mut self) -> OptionArg<'a> {
        self.take(1);
        match self.rest.iter().position(|&b| b == b':') {
            Some(n) => {
                let value = self.take(n);
                self.take(1);
                OptionArg {
                    value,
                    closed: true,
                }
            }
            None => OptionArg {
                value: self.take(self.rest.len()),
                closed: false,
            },
        }
    }
}

impl<'a> Iterator for OptionIter<'a> {
    type Item = FileOption<'a>;

    fn next(&mut self) -> Option<FileOption<'a>> {
        let &c = self.rest.first()?;
        let b1 = self.rest.get(1).copied();
        let b2 = self.rest.get(2).copied();
        let (opt, n) = match c {
            b'A' => (FileOption::Acl, 1),
            b'a' => (FileOption::ReplaceAlways, 1),
            b'0' => (FileOption::NoOption, 1),
            b'C' => return Some(FileOption::Accurate(self.arg())),
            b'V' => return Some(FileOption::Verify(self.arg())),
            b'P' => return Some(FileOption::StripPath(self.arg())),
            b'z' => return Some(FileOption::Size(self.arg())),
            b'c' => (FileOption::CheckChanges, 1),
            b'd' => match b1 {
                Some(b'1') => (FileOption::Shadowing(Shadowing::LocalWarn), 2),
                Some(b'2') => (FileOption::Shadowing(Shadowing::LocalRemove), 2),
                Some(b'3') => (FileOption::Shadowing(Shadowing::GlobalWarn), 2),
                Some(b'4') => (FileOption::Shadowing(Shadowing::GlobalRemove), 2),
                _ => return Some(FileOption::Unknown(self.take(1))),
            },
            b'e' => (FileOption::Exclude, 1),
            b'E' => match (b1, b2) {
                (Some(b'3'), _) => (FileOption::Encryption(Cipher::TripleDes), 2),
                (Some(b'b'), _) => (FileOption::Encryption(Cipher::Blowfish), 2),
                (Some(b'f'), _) => (FileOption::ForceEncryption, 2),
                (Some(b'a'), Some(b'1')) => (FileOption::Encryption(Cipher::Aes128), 3),
                (Some(b'a'), Some(b'2')) => (FileOption::Encryption(Cipher::Aes192), 3),
                (Some(b'a'), Some(b'3')) => (FileOption::Encryption(Cipher::Aes256), 3),
                (Some(b'c'), Some(b'1')) => (FileOption::Encryption(Cipher::Camellia128), 3),
                (Some(b'c'), Some(b'2')) => (FileOption::Encryption(Cipher::Camellia192), 3),
                (Some(b'c'), Some(b'3')) => (FileOption::Encryption(Cipher::Camellia256), 3),
                (Some(b'h'), Some(b'1')) => (FileOption::Encryption(Cipher::Aes128HmacSha1), 3),
                (Some(b'h'), Some(b'2')) => (FileOption::Encryption(Cipher::Aes256HmacSha1), 3),
                // The FD consumes only the `E` and reads the next byte as an option.
                _ => return Some(FileOption::Unknown(self.take(1))),
            },
            b'f' => (FileOption::MultiFs, 1),
            b'H' => (FileOption::NoHardlinks, 1),
            b'h' => (FileOption::NoRecursion, 1),
            b'i' => (FileOption::IgnoreCase, 1),
            b'K' => (FileOption::NoAtime, 1),
            b'k' => (FileOption::KeepAtime, 1),
            b'M' => (FileOption::Signature(Signature::Md5), 1),
            b'm' => (FileOption::MtimeOnly, 1),
            b'N' => (FileOption::HonorNodump, 1),
            b'n' => (FileOption::ReplaceNever, 1),
            b'p' => (FileOption::Portable, 1),
            b'R' => (FileOption::HfsPlus, 1),
            b'r' => (FileOption::ReadFifo, 1),
            b'S' => match b1 {
                Some(b'1') => (FileOption::Signature(Signature::Sha1Explicit), 2),
                Some(b'2') => (FileOption::Signature(Signature::Sha256), 2),
                Some(b'3') => (FileOption::Signature(Signature::Sha512), 2),
                Some(b'4') => (FileOption::Signature(Signature::Xxh128), 2),
                _ => (FileOption::Signature(Signature::Sha1), 1),
            },
            b's' => (FileOption::Sparse, 1),
            b'W' => (FileOption::EnhancedWild, 1),
            b'w' => (FileOption::ReplaceIfNewer, 1),
            b'x' => (FileOption::NoAutoExclude, 1),
            b'X' => (FileOption::Xattr, 1),
            b'Z' => match (b1, b2) {
                (Some(d @ b'0'..=b'9'), _) => {
                    (FileOption::Compression(Compression::Gzip(d - b'0')), 2)
                }
                (Some(b'o'), _) => (FileOption::Compression(Compression::Lzo), 2),
                (Some(b'f'), Some(b'f')) => (FileOption::Compression(Compression::FastLz), 3),
                (Some(b'f'), Some(b'4')) => (FileOption::Compression(Compression::Lz4), 3),
                (Some(b'f'), Some(b'h')) => (FileOption::Compression(Compression::Lz4Hc), 3),
                // The FD skips `Z`, the byte after it and, after `Zf`, one more.
                (Some(b'f'), _) => return Some(FileOption::Unknown(self.take(3))),
                _ => return Some(FileOption::Unknown(self.take(2))),
            },
            _ => return Some(FileOption::Unknown(self.take(1))),
        };
        self.take(n);
        Some(opt)
    }
}

/// What an Options block asks the FD to do, folded from its tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct OptionSummary<'a> {
    /// The last digest letter, if any.
    pub signature: Option<Signature>,
    /// The last compression letter, if any.
    pub compression: Option<Compression>,
    /// The last cipher, if any.
    pub encryption: Option<Cipher>,
    /// `Ef`.
    pub force_encryption: bool,
    /// `A`.
    pub acl: bool,
    /// `X`.
    pub xattr: bool,
    /// `H`.
    pub no_hardlinks: bool,
    /// `s`.
    pub sparse: bool,
    /// `f`.
    pub multi_fs: bool,
    /// `h`.
    pub no_recursion: bool,
    /// `e`.
    pub exclude: bool,
    /// `m`.
    pub mtime_only: bool,
    /// `k`.
    pub keep_atime: bool,
    /// `K`.
    pub no_atime: bool,
    /// `p`.
    pub portable: bool,
    /// `r`.
    pub read_fifo: bool,
    /// `i`.
    pub ignore_case: bool,
    /// `c`.
    pub check_changes: bool,
    /// `N`.
    pub honor_nodump: bool,
    /// `x`.
    pub no_auto_exclude: bool,
    /// `W`.
    pub enhanced_wild: bool,
    /// `R`.
    pub hfs_plus: bool,
    /// `n`.
    pub replace_never: bool,
    /// `w`.
    pub replace_if_newer: bool,
    /// `d1`…`d4`.
    pub shadowing: Option<Shadowing>,
    /// `C…:` argument.
    pub accurate: Option<&'a [u8]>,
    /// `V…:` argument.
    pub verify: Option<&'a [u8]>,
    /// `P…:` argument (digits).
    pub strip_path: Option<&'a [u8]>,
    /// `z…:` argument.
    pub size: Option<&'a [u8]>,
    /// How many unknown tokens were skipped.
    pub unknown: usize,
}

impl<'a> OptionSummary<'a> {
    /// Fold the tokens of `letters`; later tokens override earlier ones as in the FD.
    pub fn from_letters(letters: OptionLetters<'a>) -> Self {
        let mut s = Self::default();
        for o in letters.iter() {
            match o {
                FileOption::Acl => s.acl = true,
                FileOption::ReplaceAlways | FileOption::NoOption => {}
                FileOption::Accurate(a) => s.accurate = Some(a.value),
                FileOption::CheckChanges => s.check_changes = true,
                FileOption::Shadowing(d) => s.shadowing = Some(d),
                FileOption::Exclude => s.exclude = true,
                FileOption::Encryption(c) => s.encryption = Some(c),
                FileOption::ForceEncryption => s.force_encryption = true,
                FileOption::MultiFs => s.multi_fs = true,
                FileOption::NoHardlinks => s.no_hardlinks = true,
                FileOption::NoRecursion => s.no_recursion = true,
                FileOption::IgnoreCase => s.ignore_case = true,
                FileOption::NoAtime => s.no_atime = true,
                FileOption::KeepAtime => s.keep_atime = true,
                FileOption::MtimeOnly => s.mtime_only = true,
                FileOption::HonorNodump => s.honor_nodump = true,
                FileOption::ReplaceNever => s.replace_never = true,
                FileOption::StripPath(a) => s.strip_path = Some(a.value),
                FileOption::Portable => s.portable = true,
                FileOption::HfsPlus => s.hfs_plus = true,
                FileOption::ReadFifo => s.read_fifo = true,
                FileOption::Signature(d) => s.signature = Some(d),
                FileOption::Sparse => s.sparse = true,
                FileOption::Verify(a) => s.verify = Some(a.value),
                FileOption::EnhancedWild => s.enhanced_wild = true,
                FileOption::ReplaceIfNewer => s.replace_if_newer = true,
                FileOption::NoAutoExclude => s.no_auto_exclude = true,
                FileOption::Xattr => s.xattr = true,
                FileOption::Compression(c) => s.compression = Some(c),
                FileOption::Size(a) => s.size = Some(a.value),
                FileOption::Unknown(_) => s.unknown += 1,
            }
        }
        s
    }
}

codec_impl!(FilesetLine<'_>, infallible);

#[cfg(test)]
mod tests {
    extern crate std;
    use std::vec;
    use std::vec::Vec;

    use proptest::prelude::*;

    use super::*;

    fn roundtrip(frame: &[u8]) -> FilesetLine<'_> {
        let l = FilesetLine::parse(frame).unwrap();
        let mut buf = vec![0u8; l.buffer_len()];
        assert_eq!(l.emit(&mut buf), Ok(frame.len()));
        assert_eq!(&buf[..], frame);
        l
    }

    #[test]
    fn test_parse_captured() {
        // vectors/clear-backup-full, conn 3 msgs 14-19 (dir>fd).
        assert_eq!(roundtrip(b"I\n"), FilesetLine::Include);
        let o = roundtrip(b"O S2HAX\n");
        let FilesetLine::Options(letters) = o else {
            panic!("not options: {o:?}")
        };
        let toks: Vec<_> = letters.iter().collect();
        assert_eq!(
            toks,
            [
                FileOption::Signature(Signature::Sha256),
                FileOption::NoHardlinks,
                FileOption::Acl,
                FileOption::Xattr
            ]
        );
        let s = letters.summary();
        assert_eq!(s.signature, Some(Signature::Sha256));
        assert!(s.no_hardlinks && s.acl && s.xattr && !s.sparse);
        assert_eq!(roundtrip(b"N\n"), FilesetLine::End);
        assert_eq!(
            roundtrip(b"F /srv/bareos-capture/testdata/tree"),
            FilesetLine::File(b"/srv/bareos-capture/testdata/tree")
        );
        // vectors/clear-backup-multiblock, conn 3 msg 15 (dir>fd).
        let FilesetLine::Options(letters) = roundtrip(b"O S2s0AX\n") else {
            panic!()
        };
        let toks: Vec<_> = letters.iter().collect();
        assert_eq!(
            toks,
            [
                FileOption::Signature(Signature::Sha256),
                FileOption::Sparse,
                FileOption::NoOption,
                FileOption::Acl,
                FileOption::Xattr
            ]
        );
        let s = letters.summary();
        assert!(s.sparse && !s.no_hardlinks);
    }

    #[test]
    fn test_other_lines() {
        assert_eq!(roundtrip(b"E\n"), FilesetLine::Exclude);
        assert_eq!(
            roundtrip(b"RD ^/tmp$\n"),
            FilesetLine::Regex(PatternTarget::Dir, b"^/tmp$")
        );
        assert_eq!(
            roundtrip(b"R .*\\.o\n"),
            FilesetLine::Regex(PatternTarget::Any, b".*\\.o")
        );
        assert_eq!(
            roundtrip(b"WF *.bak\n"),
            FilesetLine::Wild(PatternTarget::File, b"*.bak")
        );
        assert_eq!(
            roundtrip(b"WB *.c\n"),
            FilesetLine::Wild(PatternTarget::Base, b"*.c")
        );
        assert_eq!(roundtrip(b"X ext4\n"), FilesetLine::FsType(b"ext4"));
        assert_eq!(roundtrip(b"XD fixed\n"), FilesetLine::DriveType(b"fixed"));
        assert_eq!(
            roundtrip(b"Z .nobackup\n"),
            FilesetLine::IgnoreDir(b".nobackup")
        );
        assert_eq!(
            roundtrip(b"G python:x\n"),
            FilesetLine::OptionsPlugin(b"python:x")
        );
        assert_eq!(roundtrip(b"D rd\n"), FilesetLine::Reader(b"rd"));
        assert_eq!(roundtrip(b"T wr\n"), FilesetLine::Writer(b"wr"));
        assert_eq!(roundtrip(b"B base\n"), FilesetLine::Base(b"base"));
        assert_eq!(roundtrip(b"P bpipe:a:b"), FilesetLine::Plugin(b"bpipe:a:b"));
        assert_eq!(roundtrip(b"F "), FilesetLine::File(b""));
        assert_eq!(roundtrip(b"Q what\n"), FilesetLine::Unknown(b"Q what\n"));
        assert_eq!(roundtrip(b"RX a\n"), FilesetLine::Unknown(b"RX a\n"));
        // Missing newline is accepted on parse; emit restores the Director's form.
        assert_eq!(FilesetLine::parse(b"N"), Ok(FilesetLine::End));
    }

    #[test]
    fn test_truncated() {
        assert_eq!(FilesetLine::parse(b""), Err(Error::Truncated));
        assert_eq!(FilesetLine::parse(b"O"), Err(Error::Truncated));
        assert_eq!(FilesetLine::parse(b"R\n"), Err(Error::Truncated));
        assert_eq!(FilesetLine::parse(b"F"), Err(Error::Malformed));
        assert_eq!(FilesetLine::parse(b"Fx"), Err(Error::Malformed));
        let mut small = [0u8; 3];
        assert_eq!(
            FilesetLine::File(b"/a/b").emit(&mut small),
            Err(Error::BufferTooSmall)
        );
    }

    #[test]
    fn test_option_quirks() {
        let toks = |s: &'static [u8]| OptionLetters::new(s).iter().collect::<Vec<_>>();
        // Arguments up to ':'; an unterminated one runs to the end.
        assert_eq!(
            toks(b"Cmcs:Vpins5:P2:z>1k:Z6"),
            [
                FileOption::Accurate(OptionArg {
                    value: b"mcs",
                    closed: true
                }),
                FileOption::Verify(OptionArg {
                    value: b"pins5",
                    closed: true
                }),
                FileOption::StripPath(OptionArg {
                    value: b"2",
                    closed: true
                }),
                FileOption::Size(OptionArg {
                    value: b">1k",
                    closed: true
                }),
                FileOption::Compression(Compression::Gzip(6)),
            ]
        );
        assert_eq!(
            toks(b"P3"),
            [FileOption::StripPath(OptionArg {
                value: b"3",
                closed: false
            })]
        );
        // Unknown cipher: only the E is eaten, `a` is then "replace always".
        assert_eq!(
            toks(b"Eax"),
            [
                FileOption::Unknown(b"E"),
                FileOption::ReplaceAlways,
                FileOption::NoAutoExclude
            ]
        );
        // Unknown compression swallows the next byte; `Zf?` swallows two.
        assert_eq!(toks(b"ZqA"), [FileOption::Unknown(b"Zq"), FileOption::Acl]);
        assert_eq!(toks(b"Zfq"), [FileOption::Unknown(b"Zfq")]);
        assert_eq!(toks(b"Z"), [FileOption::Unknown(b"Z")]);
        assert_eq!(
            toks(b"SS1S3S4M"),
            [
                FileOption::Signature(Signature::Sha1),
                FileOption::Signature(Signature::Sha1Explicit),
                FileOption::Signature(Signature::Sha512),
                FileOption::Signature(Signature::Xxh128),
                FileOption::Signature(Signature::Md5)
            ]
        );
        assert_eq!(toks(b"Zff"), [FileOption::Compression(Compression::FastLz)]);
        assert_eq!(
            toks(b"Ea3Ef"),
            [
                FileOption::Encryption(Cipher::Aes256),
                FileOption::ForceEncryption
            ]
        );
        assert_eq!(
            toks(b"d9"),
            [FileOption::Unknown(b"d"), FileOption::Unknown(b"9")]
        );
        assert_eq!(OptionLetters::new(b"?!").summary().unknown, 2);
    }

    fn arb_arg() -> impl Strategy<Value = (Vec<u8>, bool)> {
        (proptest::collection::vec(b'a'..=b'z', 0..6), any::<bool>())
    }

    fn arb_simple() -> impl Strategy<Value = FileOption<'static>> {
        prop_oneof![
            Just(FileOption::Acl),
            Just(FileOption::ReplaceAlways),
            Just(FileOption::NoOption),
            Just(FileOption::CheckChanges),
            Just(FileOption::Shadowing(Shadowing::GlobalRemove)),
            Just(FileOption::Exclude),
            Just(FileOption::Encryption(Cipher::Camellia192)),
            Just(FileOption::Encryption(Cipher::TripleDes)),
            Just(FileOption::ForceEncryption),
            Just(FileOption::MultiFs),
            Just(FileOption::NoHardlinks),
            Just(FileOption::NoRecursion),
            Just(FileOption::IgnoreCase),
            Just(FileOption::NoAtime),
            Just(FileOption::KeepAtime),
            Just(FileOption::MtimeOnly),
            Just(FileOption::HonorNodump),
            Just(FileOption::ReplaceNever),
            Just(FileOption::Portable),
            Just(FileOption::HfsPlus),
            Just(FileOption::ReadFifo),
            Just(FileOption::Signature(Signature::Sha256)),
            Just(FileOption::Signature(Signature::Md5)),
            Just(FileOption::Sparse),
            Just(FileOption::EnhancedWild),
            Just(FileOption::ReplaceIfNewer),
            Just(FileOption::NoAutoExclude),
            Just(FileOption::Xattr),
            (0u8..10).prop_map(|l| FileOption::Compression(Compression::Gzip(l))),
            Just(FileOption::Compression(Compression::Lz4Hc)),
        ]
    }

    proptest! {
        #[test]
        fn prop_options_roundtrip(
            simple in proptest::collection::vec(arb_simple(), 0..12),
            args in proptest::collection::vec((0u8..4, arb_arg()), 0..3),
        ) {
            // Arguments only at the end may be unterminated; inside they must be closed.
            let mut toks: Vec<FileOption<'_>> = simple.clone();
            let n = args.len();
            for (i, (k, (v, closed))) in args.iter().enumerate() {
                let a = OptionArg { value: v, closed: *closed || i + 1 < n };
                toks.push(match k {
                    0 => FileOption::Accurate(a),
                    1 => FileOption::Verify(a),
                    2 => FileOption::StripPath(a),
                    _ => FileOption::Size(a),
                });
            }
            let mut buf = [0u8; 256];
            let len = write_options(&toks, &mut buf).unwrap();
            let letters = OptionLetters::new(&buf[..len]);
            let back: Vec<_> = letters.iter().collect();
            prop_assert_eq!(&back, &toks);

            let line = FilesetLine::Options(letters);
            let mut out = vec![0u8; line.buffer_len()];
            let m = line.emit(&mut out).unwrap();
            prop_assert_eq!(FilesetLine::parse(&out[..m]).unwrap(), line);
        }

        #[test]
        fn prop_line_roundtrip(
            code in 0usize..12,
            item in "[!-~][ -~]{0,40}",
        ) {
            let item = item.as_bytes();
            let line = match code {
                0 => FilesetLine::File(item),
                1 => FilesetLine::Plugin(item),
                2 => FilesetLine::Regex(PatternTarget::File, item),
                3 => FilesetLine::Wild(PatternTarget::Base, item),
                4 => FilesetLine::FsType(item),
                5 => FilesetLine::DriveType(item),
                6 => FilesetLine::IgnoreDir(item),
                7 => FilesetLine::OptionsPlugin(item),
                8 => FilesetLine::Include,
                9 => FilesetLine::Exclude,
                10 => FilesetLine::End,
                _ => FilesetLine::Options(OptionLetters::new(item)),
            };
            let mut out = vec![0u8; line.buffer_len()];
            let m = line.emit(&mut out).unwrap();
            prop_assert_eq!(FilesetLine::parse(&out[..m]).unwrap(), line);
        }

        #[test]
        fn prop_parse_never_panics(data in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(l) = FilesetLine::parse(&data) {
                let mut out = vec![0u8; l.buffer_len()];
                prop_assert!(l.emit(&mut out).is_ok());
                if let FilesetLine::Options(o) = l {
                    // Tokens cover every byte of the letters.
                    let mut w = [0u8; 128];
                    let toks: Vec<_> = o.iter().collect();
                    let n = write_options(&toks, &mut w).unwrap();
                    prop_assert_eq!(&w[..n], o.as_bytes());
                }
            }
        }
    }
}
