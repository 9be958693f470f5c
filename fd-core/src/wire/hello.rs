//! Hello lines: the first frame of every Bareos connection, and the daemons' replies to them.
//!
//! The side that opened the TCP connection (the *outbound* side) always speaks first, with a
//! one-line hello that names itself and, in current versions, its version
//! (`../shared/protocol/connect.md` §2.1, README's table of connection types). The accepting
//! side recognises the connection type from it, looks up the peer's resource or running job,
//! and then challenges first in CRAM-MD5 ([`super::cram_md5`], [`crate::auth`]). After both
//! CRAM-MD5 legs the accepting daemon sends its own OK line ([`HelloReply`]); job-level data
//! connections get none.
//!
//! | connection | hello ([`Hello`] variant) | sender / parser in Bareos |
//! |---|---|---|
//! | Director → FD, Director → SD, tray monitor → FD/SD | `Hello Director <dir> calling Version="a.b.c"\n` ([`Hello::Director`]) | `AuthenticateWithFileDaemon`, `AuthenticateWithStorageDaemon`; `core/src/filed/socket_server.cc`, `core/src/stored/socket_server.cc` |
//! | FD → Director (client-initiated) | `Hello Client <fd> FdProtocolVersion=54 calling Version="a.b.c"\n` ([`Hello::Client`]) | `core/src/filed/dir_cmd.cc` `connect_to_director`; `core/src/dird/socket_server.cc` |
//! | FD → SD | `Hello Start Job <Job> Version="a.b.c"\n` ([`Hello::StartJob`]) | `StorageCmd`; `core/src/stored/socket_server.cc` |
//! | SD → FD (passive client) | `Hello Storage calling Start Job <Job> Version="a.b.c"\n` ([`Hello::StorageStartJob`]) | `PassiveCmd`; `core/src/filed/socket_server.cc` |
//! | SD → SD (copy, migrate) | `Hello Start Storage Job <Job> Version="a.b.c"\n` ([`Hello::StartStorageJob`]) | `ReplicateCmd`; `core/src/stored/socket_server.cc` |
//! | console, tray monitor → Director | `Hello <name> calling version <full> Version="a.b.c"\n` ([`Hello::Console`]) | `ConsoleAuthenticateWithDirector`; `core/src/dird/socket_server.cc` |
//!
//! Captured (all `26.0.0~pre1298.eda204c31`): Director → FD in vectors/clear-backup-full conn
//! 3 msg 1, Director → SD conn 2 msg 1, FD → SD conn 4 msg 1, default console conn 1 msg 1,
//! client-initiated FD in vectors/clear-client-initiated conn 1 msg 1, passive SD in
//! vectors/clear-backup-passive conn 4 msg 1. Not captured: SD → SD, named consoles, tray
//! monitors, and the older forms without `Version=` (which python-bareos still sends).
//!
//! # Parsing rules
//!
//! Each receiver runs `bsscanf` with the full format first and a shorter fallback (without
//! ` Version=…`, and for the client-initiated hello also without ` FdProtocolVersion=`).
//! `%127s` means a name of 1..=127 non-blank bytes ([`MAX_NAME_LEN`]). The parse here accepts
//! exactly those forms; it is stricter than `bsscanf` in one way: bytes after the recognised
//! fields must be whitespace (bsscanf ignores them), so that every accepted hello re-emits
//! byte for byte. The daemons also check the frame length before parsing
//! ([`Acceptor::len_ok`]). [`Hello::parse`] tries the forms in the order of Bareos'
//! `hello_list` (`core/src/lib/util.cc`), which is also the order that separates a console
//! named `Director` from a Director; a Director accepts only client and console hellos, so it
//! should use [`Hello::parse_at`] with [`Acceptor::Director`].
//!
//! # Names are bashed
//!
//! A name travels with each space replaced by 0x01 (`BashSpaces`, connect.md §1.3). A parsed
//! [`Hello`] keeps the wire bytes; emitting bashes any space in the name, so parse → emit is
//! the identity and a config name with spaces can be emitted directly. Compare a wire name
//! with a configured one with [`bashed_eq`], or un-bash it with [`unbash`]. (Bareos does not
//! bash the client-initiated FD's own name; a name with a space would then break its own
//! hello, so bashing it is the only form that works.)
//!
//! # Versions
//!
//! `Version="a.b.c"` carries `kBareosVersion` major, minor and patch as numbers only
//! ([`Version`]); consoles also send the full version string (`26.0.0~pre1298.eda204c31`) as
//! their fourth word. The receiver stores `VERSION_HEX(a,b,c)` but never reads it; only the
//! console path acts on a version, `major * 100 + minor` from word 4, where below 1802 means
//! the pre-18.2 protocol (connect.md §7.2, §9; [`Hello::console_version_number`]). The FD's
//! protocol level, 54 at this version, travels as `FdProtocolVersion=54` and in
//! `2000 OK Hello 54\n`.

use super::psk::ResourceType;
use super::text::{Scanner, Writer};
use super::{Error, Result};

/// Longest name in a hello (`%127s`).
pub const MAX_NAME_LEN: usize = 127;

/// The FD protocol level this crate speaks (`FD_PROTOCOL_VERSION`, `core/src/filed/filed.h`).
pub const FD_PROTOCOL_VERSION: u32 = 54;

/// `major.minor.patch` as carried by `Version="…"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Version {
    /// Major version (26 for `26.0.0`).
    pub major: u32,
    /// Minor version.
    pub minor: u32,
    /// Patch level.
    pub patch: u32,
}

impl Version {
    /// A version.
    pub const fn new(major: u32, minor: u32, patch: u32) -> Self {
        Self {
            major,
            minor,
            patch,
        }
    }

    /// `VERSION_HEX(major, minor, patch)` (`core/src/include/version_hex.h`), wrapping like
    /// the C macro for out-of-range parts.
    pub const fn hex(&self) -> u32 {
        (self.major << 24) | ((self.minor & 0xff) << 16) | ((self.patch & 0xff) << 8)
    }

    /// `BareosVersionNumber`: `major * 100 + minor` (2600 for 26.0.x), saturating.
    pub const fn number(&self) -> u32 {
        self.major.saturating_mul(100).saturating_add(self.minor)
    }

    fn scan(s: &mut Scanner<'_>) -> Result<Self> {
        s.lit(b"Version=\"")?;
        let major = s.u32()?;
        s.lit(b".")?;
        let minor = s.u32()?;
        s.lit(b".")?;
        let patch = s.u32()?;
        s.lit(b"\"")?;
        Ok(Self::new(major, minor, patch))
    }

    fn write(&self, w: &mut Writer<'_>) {
        w.bytes(b"Version=\"");
        w.u64(u64::from(self.major));
        w.byte(b'.');
        w.u64(u64::from(self.minor));
        w.byte(b'.');
        w.u64(u64::from(self.patch));
        w.byte(b'"');
    }
}

/// A hello line. Names are in wire form (bashed) after parsing; see the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Hello<'a> {
    /// `Hello Director <name> calling[ Version="a.b.c"]\n`: a Director (or a tray monitor
    /// acting as one) to an FD or SD.
    Director {
        /// The Director's name.
        name: &'a [u8],
        /// Its version, absent in old and python-bareos hellos.
        version: Option<Version>,
    },
    /// `Hello Client <name>[ FdProtocolVersion=<n>] calling[ Version="a.b.c"]\n`: a
    /// client-initiated FD to the Director.
    Client {
        /// The FD's own Client name.
        name: &'a [u8],
        /// `FdProtocolVersion=` (54); absent in the oldest form, which means 0.
        fd_protocol: Option<i32>,
        /// Its version.
        version: Option<Version>,
    },
    /// `Hello Start Job <Job>[ Version="a.b.c"]\n`: an FD opening the data channel to the SD.
    StartJob {
        /// The full Job name.
        job: &'a [u8],
        /// The FD's version.
        version: Option<Version>,
    },
    /// `Hello Storage calling Start Job <Job>[ Version="a.b.c"]\n`: an SD dialling a passive
    /// FD.
    StorageStartJob {
        /// The full Job name.
        job: &'a [u8],
        /// The SD's version.
        version: Option<Version>,
    },
    /// `Hello Start Storage Job <Job>[ Version="a.b.c"]\n`: an SD dialling another SD.
    StartStorageJob {
        /// The full Job name.
        job: &'a [u8],
        /// The SD's version.
        version: Option<Version>,
    },
    /// `Hello <name> calling[ version <full>[ Version="a.b.c"]]\n`: a console (default
    /// `*UserAgent*` or named) or tray monitor to the Director.
    Console {
        /// The console name, `*UserAgent*` for the default console.
        name: &'a [u8],
        /// The full version string (`26.0.0~pre1298.eda204c31`), word 4.
        full_version: Option<&'a [u8]>,
        /// `Version="a.b.c"`, only after a full version.
        version: Option<Version>,
    },
}

/// Which daemon accepts the connection; selects the formats and the length check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Acceptor {
    /// The Director (port 9101): client-initiated FDs and consoles; 15..=153 bytes.
    Director,
    /// A File daemon (port 9102): Directors and passive-mode SDs; 25..=500 bytes for a
    /// Director hello (`AuthenticateDirector`), 25..=256 for an SD (`handle_stored_connection`).
    FileDaemon,
    /// A Storage daemon (port 9103): FDs, SDs and Directors; 25..=158 bytes
    /// (`core/src/stored/socket_server.cc` `MIN_MSG_LEN`/`MAX_MSG_LEN`).
    StorageDaemon,
}

impl Acceptor {
    /// The frame-length sanity check this daemon applies before parsing `hello`.
    pub fn len_ok(self, hello: &Hello<'_>, len: usize) -> bool {
        match (self, hello) {
            (Acceptor::Director, _) => (15..=153).contains(&len),
            (Acceptor::FileDaemon, Hello::StorageStartJob { .. }) => (25..=256).contains(&len),
            (Acceptor::FileDaemon, _) => (25..=500).contains(&len),
            (Acceptor::StorageDaemon, _) => (25..=158).contains(&len),
        }
    }

    fn accepts(self, hello: &Hello<'_>) -> bool {
        matches!(
            (self, hello),
            (
                Acceptor::Director,
                Hello::Client { .. } | Hello::Console { .. }
            ) | (
                Acceptor::FileDaemon,
                Hello::Director { .. } | Hello::StorageStartJob { .. }
            ) | (
                Acceptor::StorageDaemon,
                Hello::Director { .. } | Hello::StartJob { .. } | Hello::StartStorageJob { .. }
            )
        )
    }
}

fn name<'a>(s: &mut Scanner<'a>) -> Result<&'a [u8]> {
    let n = s.nonempty_word()?;
    if n.len() > MAX_NAME_LEN {
        return Err(Error::FieldTooLong);
    }
    Ok(n)
}

/// ` Version="a.b.c"` if present (leading whitespace skipped).
fn opt_version(s: &mut Scanner<'_>) -> Result<Option<Version>> {
    let save = s.clone();
    s.skip_space();
    if s.rest().starts_with(b"Version=") {
        Version::scan(s).map(Some)
    } else {
        *s = save;
        Ok(None)
    }
}

impl<'a> Hello<'a> {
    /// Parse any hello, trying the forms in Bareos' `hello_list` order.
    pub fn parse(payload: &'a [u8]) -> Result<Self> {
        let mut s = Scanner::new(payload);
        s.lit(b"Hello")?;
        if !s.rest().first().is_some_and(|&b| super::text::is_space(b)) {
            return Err(if s.is_at_end() {
                Error::Truncated
            } else {
                Error::Malformed
            });
        }
        s.skip_space();
        let rest = s.rest();
        let hello = if rest.starts_with(b"Storage calling Start Job ") {
            s.lit(b"Storage calling Start Job ")?;
            let job = name(&mut s)?;
            Hello::StorageStartJob {
                job,
                version: opt_version(&mut s)?,
            }
        } else if rest.starts_with(b"Start Storage Job ") {
            s.lit(b"Start Storage Job ")?;
            let job = name(&mut s)?;
            Hello::StartStorageJob {
                job,
                version: opt_version(&mut s)?,
            }
        } else if rest.starts_with(b"Start Job ") {
            s.lit(b"Start Job ")?;
            let job = name(&mut s)?;
            Hello::StartJob {
                job,
                version: opt_version(&mut s)?,
            }
        } else if let Some(h) = Self::try_director(&s)? {
            return Ok(h);
        } else if let Some(h) = Self::try_client(&s)? {
            return Ok(h);
        } else {
            return Self::console(s);
        };
        s.end(true)?;
        Ok(hello)
    }

    /// Parse a hello as the daemon `at` does: only the forms it accepts, after its length
    /// check. Anything else is [`Error::Unrecognized`] (Bareos: "Invalid connection"), a length
    /// outside the window [`Error::Malformed`].
    pub fn parse_at(at: Acceptor, payload: &'a [u8]) -> Result<Self> {
        let hello = match at {
            // The Director never tries `Hello Director`: a console named "Director" is a
            // console there.
            Acceptor::Director => {
                let mut s = Scanner::new(payload);
                s.lit(b"Hello ")?;
                match Self::try_client(&s)? {
                    Some(h) => h,
                    None => Self::console(s)?,
                }
            }
            _ => Self::parse(payload)?,
        };
        if !at.accepts(&hello) {
            return Err(Error::Unrecognized);
        }
        if !at.len_ok(&hello, payload.len()) {
            return Err(Error::Malformed);
        }
        Ok(hello)
    }

    /// `Hello Director %127s calling[ Version=…]`; `None` if the words do not fit.
    fn try_director(s: &Scanner<'a>) -> Result<Option<Self>> {
        let mut s = s.clone();
        if !s.try_lit(b"Director ") {
            return Ok(None);
        }
        let Ok(n) = name(&mut s) else {
            return Ok(None);
        };
        if !s.try_lit(b" calling") || !at_word_end(&s) {
            return Ok(None);
        }
        let version = opt_version(&mut s)?;
        s.end(true)?;
        Ok(Some(Hello::Director { name: n, version }))
    }

    /// `Hello Client %127s[ FdProtocolVersion=%d] calling[ Version=…]`.
    fn try_client(s: &Scanner<'a>) -> Result<Option<Self>> {
        let mut s = s.clone();
        if !s.try_lit(b"Client ") {
            return Ok(None);
        }
        let Ok(n) = name(&mut s) else {
            return Ok(None);
        };
        let mut fd_protocol = None;
        if s.try_lit(b" FdProtocolVersion=") {
            fd_protocol = Some(s.i32()?);
        }
        if !s.try_lit(b" calling") || !at_word_end(&s) {
            return Ok(None);
        }
        let version = opt_version(&mut s)?;
        s.end(true)?;
        Ok(Some(Hello::Client {
            name: n,
            fd_protocol,
            version,
        }))
    }

    /// `Hello %127s calling[ version %127s[ Version=…]]`, the scanner after `Hello `.
    fn console(mut s: Scanner<'a>) -> Result<Self> {
        let n = name(&mut s)?;
        s.lit(b" calling")?;
        if !at_word_end(&s) {
            return Err(Error::Malformed);
        }
        let mut full_version = None;
        let mut version = None;
        let save = s.clone();
        s.skip_space();
        if s.try_lit(b"version ") {
            let v = s.nonempty_word()?;
            if v.len() > MAX_NAME_LEN {
                return Err(Error::FieldTooLong);
            }
            full_version = Some(v);
            version = opt_version(&mut s)?;
        } else {
            s = save;
        }
        s.end(true)?;
        Ok(Hello::Console {
            name: n,
            full_version,
            version,
        })
    }

    /// The resource type a TLS-PSK identity for this connection must have (connect.md §3.4;
    /// consoles and tray monitors are `R_CONSOLE`).
    pub const fn resource_type(&self) -> ResourceType {
        match self {
            Hello::Director { .. } => ResourceType::Director,
            Hello::Client { .. } => ResourceType::Client,
            Hello::StartJob { .. }
            | Hello::StorageStartJob { .. }
            | Hello::StartStorageJob { .. } => ResourceType::Job,
            Hello::Console { .. } => ResourceType::Console,
        }
    }

    /// The name (or Job name), in wire form.
    pub const fn name(&self) -> &'a [u8] {
        match *self {
            Hello::Director { name, .. }
            | Hello::Client { name, .. }
            | Hello::Console { name, .. } => name,
            Hello::StartJob { job, .. }
            | Hello::StorageStartJob { job, .. }
            | Hello::StartStorageJob { job, .. } => job,
        }
    }

    /// The `Version="a.b.c"` field, if sent.
    pub const fn version(&self) -> Option<Version> {
        match *self {
            Hello::Director { version, .. }
            | Hello::Client { version, .. }
            | Hello::StartJob { version, .. }
            | Hello::StorageStartJob { version, .. }
            | Hello::StartStorageJob { version, .. }
            | Hello::Console { version, .. } => version,
        }
    }

    /// For a console hello, the version number the Director decides the protocol with
    /// (`GetNameAndResourceTypeAndVersionFromHello`): `stoul(first dot field) * 100 +
    /// stoul(second)` of the full version word, 1 (`kUndefined`) without one, `None` if the
    /// word does not parse. Below 1802 means a pre-18.2 console. `None` for other hellos.
    pub fn console_version_number(&self) -> Option<u32> {
        let Hello::Console { full_version, .. } = *self else {
            return None;
        };
        let Some(v) = full_version else {
            return Some(1);
        };
        let mut parts = v.split(|&b| b == b'.');
        let major = leading_number(parts.next()?)?;
        let minor = leading_number(parts.next()?)?;
        Some(major.saturating_mul(100).saturating_add(minor))
    }

    /// Bytes [`Hello::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        let mut w = Writer::counting();
        self.write(&mut w);
        w.len()
    }

    /// Write the hello as the Bareos sender formats it, ending in `\n`. Names longer than
    /// [`MAX_NAME_LEN`] or empty are refused: the peer could not parse them.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let n = self.name();
        if n.is_empty() {
            return Err(Error::Malformed);
        }
        if n.len() > MAX_NAME_LEN {
            return Err(Error::FieldTooLong);
        }
        let mut w = Writer::new(buf);
        self.write(&mut w);
        w.finish()
    }

    fn write(&self, w: &mut Writer<'_>) {
        let version = |w: &mut Writer<'_>, v: Option<Version>| {
            if let Some(v) = v {
                w.byte(b' ');
                v.write(w);
            }
        };
        match *self {
            Hello::Director { name, version: v } => {
                w.bytes(b"Hello Director ");
                write_bashed(w, name);
                w.bytes(b" calling");
                version(w, v);
            }
            Hello::Client {
                name,
                fd_protocol,
                version: v,
            } => {
                w.bytes(b"Hello Client ");
                write_bashed(w, name);
                if let Some(p) = fd_protocol {
                    w.bytes(b" FdProtocolVersion=");
                    w.i64(i64::from(p));
                }
                w.bytes(b" calling");
                version(w, v);
            }
            Hello::StartJob { job, version: v } => {
                w.bytes(b"Hello Start Job ");
                write_bashed(w, job);
                version(w, v);
            }
            Hello::StorageStartJob { job, version: v } => {
                w.bytes(b"Hello Storage calling Start Job ");
                write_bashed(w, job);
                version(w, v);
            }
            Hello::StartStorageJob { job, version: v } => {
                w.bytes(b"Hello Start Storage Job ");
                write_bashed(w, job);
                version(w, v);
            }
            Hello::Console {
                name,
                full_version,
                version: v,
            } => {
                w.bytes(b"Hello ");
                write_bashed(w, name);
                w.bytes(b" calling");
                if let Some(f) = full_version {
                    w.bytes(b" version ");
                    w.bytes(f);
                    version(w, v);
                }
            }
        }
        w.byte(b'\n');
    }
}

/// `BareosVersionNumber::kUndefined`: a hello without a usable version.
pub const VERSION_UNDEFINED: u32 = 1;
/// `BareosVersionNumber::kRelease_18_2`: consoles below this use the old protocol.
pub const VERSION_18_2: u32 = 1802;

/// What the accepting side learns from a *peeked* cleartext hello before deciding between
/// cleartext and TLS (`GetNameAndResourceTypeAndVersionFromHello`, `core/src/lib/util.cc`;
/// connect.md §3.2 step 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct HelloInfo<'a> {
    /// The resource type the hello claims.
    pub kind: ResourceType,
    /// The name word, in wire form (0x01 for spaces; Bareos un-bashes it).
    pub name: &'a [u8],
    /// `major * 100 + minor` from word 4 of a console hello; [`VERSION_UNDEFINED`] otherwise.
    pub version: u32,
}

impl<'a> HelloInfo<'a> {
    /// Classify the bytes after the 4-byte header of a peeked first frame. The input is taken
    /// up to its first NUL (Bareos copies it as a C string). The prefixes are tried in
    /// `hello_list` order and the words split at single spaces, exactly as Bareos does, so
    /// this is looser than [`Hello::parse`]: it is only a routing decision, the full parse
    /// follows once the frame has been received.
    pub fn identify(after_header: &'a [u8]) -> Result<Self> {
        let input = after_header.split(|&b| b == 0).next().unwrap_or(&[]);
        const LIST: [(&[u8], ResourceType, usize); 7] = [
            (b"Hello Storage calling Start Job", ResourceType::Job, 5),
            (b"Hello Start Storage Job", ResourceType::Job, 4),
            (b"Hello Start Job", ResourceType::Job, 3),
            (b"Hello Director", ResourceType::Director, 2),
            (b"Hello Storage", ResourceType::Storage, 2),
            (b"Hello Client", ResourceType::Client, 2),
            (b"Hello", ResourceType::Console, 1),
        ];
        let &(_, kind, pos) = LIST
            .iter()
            .find(|(prefix, _, _)| input.starts_with(prefix))
            .ok_or(Error::Unrecognized)?;
        let mut words = input.split(|&b| b == b' ');
        let raw = words.clone().nth(pos).ok_or(Error::Truncated)?;
        // Bareos erases '\n' from the name; only a trailing one can occur in a hello.
        let name = raw.strip_suffix(b"\n").unwrap_or(raw);
        let mut version = VERSION_UNDEFINED;
        if kind == ResourceType::Console {
            if let Some(v) = words.nth(4).filter(|v| !v.is_empty()) {
                let mut parts = v.split(|&b| b == b'.');
                let major = parts.next().and_then(leading_number);
                let minor = parts.next().and_then(leading_number);
                let (Some(major), Some(minor)) = (major, minor) else {
                    return Err(Error::BadNumber);
                };
                version = major.saturating_mul(100).saturating_add(minor);
            }
        }
        Ok(Self {
            kind,
            name,
            version,
        })
    }
}

/// True if the scanner sits at whitespace or the end (so a literal matched a whole word).
fn at_word_end(s: &Scanner<'_>) -> bool {
    s.rest().first().is_none_or(|&b| super::text::is_space(b))
}

/// `std::stoul` of a dot field: leading digits, at least one.
fn leading_number(field: &[u8]) -> Option<u32> {
    let n = field.iter().take_while(|b| b.is_ascii_digit()).count();
    if n == 0 {
        return None;
    }
    Scanner::new(field.get(..n)?).u32().ok()
}

/// Append `name` with every space replaced by 0x01 (`BashSpaces`).
pub fn write_bashed(w: &mut Writer<'_>, name: &[u8]) {
    for &b in name {
        w.byte(if b == b' ' { 0x01 } else { b });
    }
}

/// Copy `wire` into `out` with every 0x01 replaced by a space (`UnbashSpaces`); returns the
/// filled part of `out`.
pub fn unbash<'o>(wire: &[u8], out: &'o mut [u8]) -> Result<&'o [u8]> {
    let dst = out.get_mut(..wire.len()).ok_or(Error::BufferTooSmall)?;
    for (d, &b) in dst.iter_mut().zip(wire) {
        *d = if b == 0x01 { b' ' } else { b };
    }
    Ok(dst)
}

/// Compare a wire (bashed) name with a plain one: 0x01 on the wire equals a space.
pub fn bashed_eq(wire: &[u8], plain: &[u8]) -> bool {
    wire.len() == plain.len()
        && wire
            .iter()
            .zip(plain)
            .all(|(&a, &b)| a == b || (a == 0x01 && b == b' '))
}

/// The accepting daemon's answer after a successful (or failed) handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum HelloReply<'a> {
    /// FD: `2000 OK Hello <protocol>\n`, or `2000 OK Hello\n` (protocol 0) from old FDs.
    FdOk {
        /// The FD protocol level, 54 here.
        protocol: Option<u32>,
    },
    /// FD: `2999 Authentication failed.\n`.
    FdAuthFailed,
    /// SD: `3000 OK Hello\n`.
    SdOk,
    /// SD: `3999 No go\n`.
    SdNoGo,
    /// Director to a client-initiated FD: `1000 OK: <dir> Version: <full> (<date>)\n`.
    DirOk {
        /// The Director's name.
        name: &'a [u8],
        /// Its full version string.
        full_version: &'a [u8],
        /// The build date, `dd Month yyyy`.
        date: &'a [u8],
    },
    /// Director: `1999 You are not authorized.\n` (client-initiated FDs, pre-18.2 consoles).
    DirNotAuthorized,
}

impl<'a> HelloReply<'a> {
    /// Parse a reply.
    pub fn parse(payload: &'a [u8]) -> Result<Self> {
        let fixed: [(&[u8], HelloReply<'static>); 5] = [
            (b"2000 OK Hello\n", HelloReply::FdOk { protocol: None }),
            (b"2999 Authentication failed.\n", HelloReply::FdAuthFailed),
            (b"3000 OK Hello\n", HelloReply::SdOk),
            (b"3999 No go\n", HelloReply::SdNoGo),
            (
                b"1999 You are not authorized.\n",
                HelloReply::DirNotAuthorized,
            ),
        ];
        for (bytes, r) in fixed {
            if payload == bytes {
                return Ok(r);
            }
        }
        let mut s = Scanner::new(payload);
        if s.try_lit(b"2000 OK Hello ") {
            let protocol = Some(s.u32()?);
            s.lit(b"\n")?;
            s.end(false)?;
            return Ok(HelloReply::FdOk { protocol });
        }
        if payload.starts_with(b"1000 OK: ") {
            s.lit(b"1000 OK: ")?;
            let name = s.nonempty_word()?;
            s.lit(b" Version: ")?;
            let full_version = s.nonempty_word()?;
            s.lit(b" (")?;
            let date = s.until(b')')?;
            s.lit(b"\n")?;
            s.end(false)?;
            if date.is_empty() || date.contains(&b'\n') {
                return Err(Error::Malformed);
            }
            return Ok(HelloReply::DirOk {
                name,
                full_version,
                date,
            });
        }
        for (bytes, _) in fixed {
            if bytes.starts_with(payload) {
                return Err(Error::Truncated);
            }
        }
        Err(Error::Unrecognized)
    }

    /// For [`HelloReply::DirOk`], the date split as the FD's `(%u %s %u)`: day, month name,
    /// year.
    pub fn date_parts(&self) -> Option<(u32, &'a [u8], u32)> {
        let HelloReply::DirOk { date, .. } = *self else {
            return None;
        };
        let mut s = Scanner::new(date);
        let day = s.u32().ok()?;
        s.lit(b" ").ok()?;
        let month = s.nonempty_word().ok()?;
        s.lit(b" ").ok()?;
        let year = s.u32().ok()?;
        s.end(false).ok()?;
        Some((day, month, year))
    }

    /// True for the success replies.
    pub const fn is_ok(&self) -> bool {
        matches!(
            self,
            HelloReply::FdOk { .. } | HelloReply::SdOk | HelloReply::DirOk { .. }
        )
    }

    /// Write the reply as Bareos does.
    fn write(&self, w: &mut Writer<'_>) {
        match *self {
            HelloReply::FdOk { protocol: Some(p) } => {
                w.bytes(b"2000 OK Hello ");
                w.u64(u64::from(p));
                w.byte(b'\n');
            }
            HelloReply::FdOk { protocol: None } => w.bytes(b"2000 OK Hello\n"),
            HelloReply::FdAuthFailed => w.bytes(b"2999 Authentication failed.\n"),
            HelloReply::SdOk => w.bytes(b"3000 OK Hello\n"),
            HelloReply::SdNoGo => w.bytes(b"3999 No go\n"),
            HelloReply::DirOk {
                name,
                full_version,
                date,
            } => {
                w.bytes(b"1000 OK: ");
                w.bytes(name);
                w.bytes(b" Version: ");
                w.bytes(full_version);
                w.bytes(b" (");
                w.bytes(date);
                w.bytes(b")\n");
            }
            HelloReply::DirNotAuthorized => w.bytes(b"1999 You are not authorized.\n"),
        }
    }
}

codec_impl!(HelloReply<'_>, infallible);

#[cfg(test)]
mod tests {
    use super::*;

    const V26: Option<Version> = Some(Version::new(26, 0, 0));

    // (capture citation, payload, expected)
    fn captured() -> [(&'static str, &'static [u8], Hello<'static>); 6] {
        [
            (
                "vectors/clear-backup-full, conn 3 msg 1 (Dir -> FD)",
                b"Hello Director bareos-dir calling Version=\"26.0.0\"\n",
                Hello::Director {
                    name: b"bareos-dir",
                    version: V26,
                },
            ),
            (
                "vectors/clear-client-initiated, conn 1 msg 1 (FD -> Dir)",
                b"Hello Client bareos-fd FdProtocolVersion=54 calling Version=\"26.0.0\"\n",
                Hello::Client {
                    name: b"bareos-fd",
                    fd_protocol: Some(54),
                    version: V26,
                },
            ),
            (
                "vectors/clear-backup-full, conn 4 msg 1 (FD -> SD)",
                b"Hello Start Job CapBackup.2026-11-22_15.46.52_03 Version=\"26.0.0\"\n",
                Hello::StartJob {
                    job: b"CapBackup.2026-11-22_15.46.52_03",
                    version: V26,
                },
            ),
            (
                "vectors/clear-backup-passive, conn 4 msg 1 (SD -> FD)",
                b"Hello Storage calling Start Job CapBackup.2026-11-22_15.48.07_03 Version=\"26.0.0\"\n",
                Hello::StorageStartJob {
                    job: b"CapBackup.2026-11-22_15.48.07_03",
                    version: V26,
                },
            ),
            (
                "vectors/clear-bconsole, conn 1 msg 1 (console -> Dir)",
                b"Hello *UserAgent* calling version 26.0.0~pre1298.eda204c31 Version=\"26.0.0\"\n",
                Hello::Console {
                    name: b"*UserAgent*",
                    full_version: Some(b"26.0.0~pre1298.eda204c31"),
                    version: V26,
                },
            ),
            (
                "vectors/clear-backup-full, conn 2 msg 1 (Dir -> SD)",
                b"Hello Director bareos-dir calling Version=\"26.0.0\"\n",
                Hello::Director {
                    name: b"bareos-dir",
                    version: V26,
                },
            ),
        ]
    }

    #[test]
    fn test_parse_emit_captured() {
        let mut out = [0u8; 256];
        for (what, bytes, expect) in captured() {
            let h = Hello::parse(bytes).unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(h, expect, "{what}");
            let n = h.emit(&mut out).unwrap();
            assert_eq!(&out[..n], bytes, "{what}");
            assert_eq!(h.buffer_len(), n);
        }
        // Lengths on the wire: 51, 69, 76 (connect.md §0.2, Appendix A, clear-bconsole).
        assert_eq!(captured()[0].1.len(), 51);
        assert_eq!(captured()[1].1.len(), 69);
        assert_eq!(captured()[4].1.len(), 76);
    }

    #[test]
    fn test_parse_at_daemons() {
        let [dir_fd, client, start_job, passive, console, _] = captured();
        assert!(Hello::parse_at(Acceptor::FileDaemon, dir_fd.1).is_ok());
        assert!(Hello::parse_at(Acceptor::StorageDaemon, dir_fd.1).is_ok());
        assert_eq!(
            Hello::parse_at(Acceptor::Director, dir_fd.1),
            // A Director parses `Hello Director …` as a console named "Director" whose
            // `calling` is missing.
            Err(Error::Malformed)
        );
        assert!(Hello::parse_at(Acceptor::Director, client.1).is_ok());
        assert!(Hello::parse_at(Acceptor::Director, console.1).is_ok());
        assert!(Hello::parse_at(Acceptor::StorageDaemon, start_job.1).is_ok());
        assert_eq!(
            Hello::parse_at(Acceptor::FileDaemon, start_job.1),
            Err(Error::Unrecognized)
        );
        assert!(Hello::parse_at(Acceptor::FileDaemon, passive.1).is_ok());
        assert_eq!(
            Hello::parse_at(Acceptor::StorageDaemon, passive.1),
            Err(Error::Unrecognized)
        );
        // A console named "Director" at the Director.
        let h = Hello::parse_at(Acceptor::Director, b"Hello Director calling\n").unwrap();
        assert_eq!(
            h,
            Hello::Console {
                name: b"Director",
                full_version: None,
                version: None
            }
        );
        // Length windows: the shortest Director hello a FD accepts is 25 bytes.
        assert_eq!(
            Hello::parse_at(Acceptor::FileDaemon, b"Hello Director d calling"),
            Err(Error::Malformed)
        );
        assert!(Hello::parse_at(Acceptor::FileDaemon, b"Hello Director d calling\n").is_ok());
    }

    #[test]
    fn test_older_forms() {
        let mut out = [0u8; 256];
        for (bytes, expect) in [
            (
                // python-bareos FileDaemon peer (connect.md §7.4).
                &b"Hello Director bareos-dir calling\n"[..],
                Hello::Director {
                    name: b"bareos-dir",
                    version: None,
                },
            ),
            (
                b"Hello Client bareos-fd FdProtocolVersion=54 calling\n",
                Hello::Client {
                    name: b"bareos-fd",
                    fd_protocol: Some(54),
                    version: None,
                },
            ),
            (
                b"Hello Client bareos-fd calling\n",
                Hello::Client {
                    name: b"bareos-fd",
                    fd_protocol: None,
                    version: None,
                },
            ),
            (
                // python-bareos console, and the webui-proxy.
                b"Hello admin calling version 18.2.5\n",
                Hello::Console {
                    name: b"admin",
                    full_version: Some(b"18.2.5"),
                    version: None,
                },
            ),
            (
                // python-bareos with protocol 12.4.
                b"Hello my\x01console calling\n",
                Hello::Console {
                    name: b"my\x01console",
                    full_version: None,
                    version: None,
                },
            ),
            (
                b"Hello Start Storage Job Copy.2026-11-22_15.00.00_01 Version=\"26.0.0\"\n",
                Hello::StartStorageJob {
                    job: b"Copy.2026-11-22_15.00.00_01",
                    version: V26,
                },
            ),
            (
                b"Hello Start Job J.2026\n",
                Hello::StartJob {
                    job: b"J.2026",
                    version: None,
                },
            ),
        ] {
            let h = Hello::parse(bytes).unwrap();
            assert_eq!(h, expect);
            let n = h.emit(&mut out).unwrap();
            assert_eq!(&out[..n], bytes);
        }
    }

    #[test]
    fn test_bashing() {
        let h = Hello::Console {
            name: b"my console",
            full_version: Some(b"26.0.0"),
            version: V26,
        };
        let mut out = [0u8; 128];
        let n = h.emit(&mut out).unwrap();
        assert_eq!(
            &out[..n],
            b"Hello my\x01console calling version 26.0.0 Version=\"26.0.0\"\n"
        );
        let back = Hello::parse(&out[..n]).unwrap();
        assert!(bashed_eq(back.name(), b"my console"));
        assert!(!bashed_eq(back.name(), b"my\x01console2"));
        let mut buf = [0u8; 32];
        assert_eq!(unbash(back.name(), &mut buf).unwrap(), b"my console");
        assert_eq!(
            unbash(back.name(), &mut buf[..3]),
            Err(Error::BufferTooSmall)
        );
    }

    #[test]
    fn test_versions() {
        let v = Version::new(25, 1, 1);
        assert_eq!(v.hex(), 0x1901_0100);
        assert_eq!(v.number(), 2501);
        let [.., console, _] = captured();
        let h = Hello::parse(console.1).unwrap();
        assert_eq!(h.console_version_number(), Some(2600));
        let old = Hello::parse(b"Hello admin calling\n").unwrap();
        assert_eq!(old.console_version_number(), Some(1));
        let py = Hello::parse(b"Hello admin calling version 18.2.5\n").unwrap();
        assert_eq!(py.console_version_number(), Some(1802));
        let bad = Hello::parse(b"Hello admin calling version x.y\n").unwrap();
        assert_eq!(bad.console_version_number(), None);
        assert_eq!(captured()[0].2.console_version_number(), None);
        assert_eq!(captured()[2].2.resource_type(), ResourceType::Job);
        assert_eq!(captured()[4].2.resource_type(), ResourceType::Console);
    }

    #[test]
    fn test_truncated_and_impossible() {
        let full = captured()[1].1;
        // Every prefix that cuts a field fails or is at least no client hello; the prefixes
        // that end right after `calling` or after the closing quote are valid shorter forms.
        for n in 0..full.len() {
            let s = &full[..n];
            let valid_short =
                s.ends_with(b" calling") || s.ends_with(b" calling ") || s.ends_with(b"\"");
            if !valid_short {
                assert!(
                    !matches!(Hello::parse(s), Ok(Hello::Client { .. })),
                    "prefix {n}"
                );
            }
        }
        assert_eq!(Hello::parse(b"Hell"), Err(Error::Truncated));
        assert_eq!(Hello::parse(b"Hello"), Err(Error::Truncated));
        assert_eq!(Hello::parse(b"Hellox a calling\n"), Err(Error::Malformed));
        assert_eq!(
            Hello::parse(b"Hello Director x calling Version=\"26.0\"\n"),
            Err(Error::Malformed)
        );
        assert_eq!(
            Hello::parse(b"Hello Director x calling Version=\"26.0.99999999999\"\n"),
            Err(Error::BadNumber)
        );
        assert_eq!(
            Hello::parse(b"Hello Director x calling junk\n"),
            Err(Error::Malformed)
        );
        assert_eq!(
            Hello::parse(b"Hello Client x FdProtocolVersion=abc calling\n"),
            Err(Error::BadNumber)
        );
        let long = [b'a'; 128];
        let mut line = std::vec::Vec::new();
        line.extend_from_slice(b"Hello Director ");
        line.extend_from_slice(&long);
        line.extend_from_slice(b" calling\n");
        assert!(Hello::parse(&line).is_err());
        let h = Hello::Director {
            name: &long,
            version: None,
        };
        assert_eq!(h.emit(&mut [0u8; 512]), Err(Error::FieldTooLong));
        let h = Hello::Director {
            name: b"",
            version: None,
        };
        assert_eq!(h.emit(&mut [0u8; 512]), Err(Error::Malformed));
        assert_eq!(
            captured()[0].2.emit(&mut [0u8; 10]),
            Err(Error::BufferTooSmall)
        );
    }

    #[test]
    fn test_replies() {
        let mut out = [0u8; 128];
        for (what, bytes, expect) in [
            (
                "vectors/clear-backup-full, conn 3 msg 8",
                &b"2000 OK Hello 54\n"[..],
                HelloReply::FdOk { protocol: Some(54) },
            ),
            (
                "vectors/clear-backup-full, conn 2 msg 8",
                b"3000 OK Hello\n",
                HelloReply::SdOk,
            ),
            (
                "vectors/clear-client-initiated, conn 1 msg 8",
                b"1000 OK: bareos-dir Version: 26.0.0~pre1298.eda204c31 (21 August 2026)\n",
                HelloReply::DirOk {
                    name: b"bareos-dir",
                    full_version: b"26.0.0~pre1298.eda204c31",
                    date: b"21 August 2026",
                },
            ),
            (
                "code",
                b"2000 OK Hello\n",
                HelloReply::FdOk { protocol: None },
            ),
            (
                "code",
                b"2999 Authentication failed.\n",
                HelloReply::FdAuthFailed,
            ),
            ("code", b"3999 No go\n", HelloReply::SdNoGo),
            (
                "code",
                b"1999 You are not authorized.\n",
                HelloReply::DirNotAuthorized,
            ),
        ] {
            let r = HelloReply::parse(bytes).unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(r, expect, "{what}");
            let n = r.emit(&mut out).unwrap();
            assert_eq!(&out[..n], bytes, "{what}");
            assert_eq!(r.buffer_len(), n);
        }
        let r = HelloReply::parse(
            b"1000 OK: bareos-dir Version: 26.0.0~pre1298.eda204c31 (21 August 2026)\n",
        )
        .unwrap();
        assert_eq!(r.date_parts(), Some((21, &b"August"[..], 2026)));
        assert!(r.is_ok());
        assert!(!HelloReply::SdNoGo.is_ok());
        // The console banner is not this reply (connect.md §5.2).
        assert_eq!(
            HelloReply::parse(b"1000\x1eOK: bareos-dir Version: 26.0.0 (21 August 2026)"),
            Err(Error::Unrecognized)
        );
        assert_eq!(HelloReply::parse(b"2000 OK Hel"), Err(Error::Truncated));
        assert_eq!(
            HelloReply::parse(b"2000 OK Hello x\n"),
            Err(Error::BadNumber)
        );
        assert_eq!(
            HelloReply::parse(b"2000 OK Hello 54\nxx"),
            Err(Error::Malformed)
        );
        assert_eq!(
            HelloReply::parse(b"1000 OK: d Version: v (21 Aug"),
            Err(Error::Truncated)
        );
    }

    #[test]
    fn test_every_captured_hello_and_reply() {
        use crate::wire::cram_md5::tests::{load, CLEARTEXT_CAPTURES};
        let mut hellos = 0;
        let mut replies = 0;
        let mut out = [0u8; 512];
        for capture in CLEARTEXT_CAPTURES {
            for m in load(capture) {
                let p = &m.payload[..];
                if p.starts_with(b"Hello ") {
                    let h = Hello::parse(p).unwrap_or_else(|e| panic!("{capture} {}: {e}", m.conn));
                    let n = h.emit(&mut out).unwrap();
                    assert_eq!(&out[..n], p);
                    assert_eq!(h.version(), V26);
                    hellos += 1;
                } else if p.starts_with(b"2000 OK Hello")
                    || p.starts_with(b"3000 OK Hello")
                    || p.starts_with(b"1000 OK: ")
                {
                    let r = HelloReply::parse(p).unwrap();
                    let n = r.emit(&mut out).unwrap();
                    assert_eq!(&out[..n], p);
                    replies += 1;
                }
            }
        }
        // One hello per cleartext connection that carries one: 60 (the CRAM-MD5 test counts
        // two challenges per connection, 119 = 2 * 60 - 1 for the failed one).
        assert_eq!(hellos, 60);
        assert_eq!(replies, 31);
    }

    #[test]
    fn test_identify() {
        let cases: [(&[u8], ResourceType, &[u8], u32); 6] = [
            (captured()[0].1, ResourceType::Director, b"bareos-dir", 1),
            (captured()[1].1, ResourceType::Client, b"bareos-fd", 1),
            (
                captured()[2].1,
                ResourceType::Job,
                b"CapBackup.2026-11-22_15.46.52_03",
                1,
            ),
            (
                captured()[3].1,
                ResourceType::Job,
                b"CapBackup.2026-11-22_15.48.07_03",
                1,
            ),
            (captured()[4].1, ResourceType::Console, b"*UserAgent*", 2600),
            (
                b"Hello my\x01con calling\n",
                ResourceType::Console,
                b"my\x01con",
                1,
            ),
        ];
        for (bytes, kind, name, version) in cases {
            let i = HelloInfo::identify(bytes).unwrap();
            assert_eq!((i.kind, i.name, i.version), (kind, name, version));
        }
        let i = HelloInfo::identify(b"Hello admin calling version 17.2.7\n").unwrap();
        assert!(i.version < VERSION_18_2);
        let i = HelloInfo::identify(b"Hello Storage sd1 calling").unwrap();
        assert_eq!((i.kind, i.name), (ResourceType::Storage, &b"sd1"[..]));
        assert_eq!(HelloInfo::identify(b"Hi there"), Err(Error::Unrecognized));
        assert_eq!(
            HelloInfo::identify(b"Hello Director"),
            Err(Error::Truncated)
        );
        assert_eq!(
            HelloInfo::identify(b"Hello a calling version x.y"),
            Err(Error::BadNumber)
        );
        assert_eq!(
            HelloInfo::identify(b"Hello a calling version 26"),
            Err(Error::BadNumber)
        );
        // A NUL ends the peeked C string.
        assert_eq!(
            HelloInfo::identify(b"Hello Dir\x00ector x calling").map(|i| i.kind),
            Ok(ResourceType::Console)
        );
    }

    proptest::proptest! {
        #[test]
        fn prop_hello_round_trip(
            kind in 0usize..6,
            name in "[a-zA-Z0-9 ._*-]{1,60}",
            v in proptest::option::of((0u32..1000, 0u32..1000, 0u32..1000)),
            proto in proptest::option::of(0i32..1000),
            full in proptest::option::of("[0-9a-z.~]{1,30}"),
        ) {
            let version = v.map(|(a, b, c)| Version::new(a, b, c));
            let n = name.as_bytes();
            let h = match kind {
                0 => Hello::Director { name: n, version },
                1 => Hello::Client { name: n, fd_protocol: proto, version },
                2 => Hello::StartJob { job: n, version },
                3 => Hello::StorageStartJob { job: n, version },
                4 => Hello::StartStorageJob { job: n, version },
                _ => Hello::Console {
                    name: n,
                    full_version: full.as_deref().map(str::as_bytes),
                    version: if full.is_some() { version } else { None },
                },
            };
            // Names starting with the keywords of other forms are ambiguous in Bareos too.
            proptest::prop_assume!(!name.starts_with("Director") && !name.starts_with("Client")
                && !name.starts_with("Start") && !name.starts_with("Storage"));
            let mut out = [0u8; 512];
            let len = h.emit(&mut out).unwrap();
            proptest::prop_assert_eq!(len, h.buffer_len());
            let back = Hello::parse(&out[..len]).unwrap();
            proptest::prop_assert!(bashed_eq(back.name(), n));
            let mut again = [0u8; 512];
            let len2 = back.emit(&mut again).unwrap();
            proptest::prop_assert_eq!(&out[..len], &again[..len2]);
            proptest::prop_assert_eq!(back.version(), h.version());
        }

        #[test]
        fn prop_reply_round_trip(kind in 0usize..7, proto in 0u32..100_000,
                                 name in "[a-z0-9-]{1,30}", ver in "[0-9a-z.~]{1,30}",
                                 date in "[0-9]{1,2} [A-Z][a-z]{2,8} [0-9]{4}") {
            let r = match kind {
                0 => HelloReply::FdOk { protocol: Some(proto) },
                1 => HelloReply::FdOk { protocol: None },
                2 => HelloReply::FdAuthFailed,
                3 => HelloReply::SdOk,
                4 => HelloReply::SdNoGo,
                5 => HelloReply::DirNotAuthorized,
                _ => HelloReply::DirOk {
                    name: name.as_bytes(),
                    full_version: ver.as_bytes(),
                    date: date.as_bytes(),
                },
            };
            let mut out = [0u8; 256];
            let n = r.emit(&mut out).unwrap();
            proptest::prop_assert_eq!(n, r.buffer_len());
            proptest::prop_assert_eq!(HelloReply::parse(&out[..n]).unwrap(), r);
        }

        #[test]
        fn prop_bash_unbash(name in proptest::collection::vec(0x02u8..=0xff, 0..100)) {
            let mut wire = [0u8; 128];
            let mut w = Writer::new(&mut wire);
            write_bashed(&mut w, &name);
            let n = w.finish().unwrap();
            proptest::prop_assert!(!wire[..n].contains(&b' '));
            proptest::prop_assert!(bashed_eq(&wire[..n], &name));
            let mut back = [0u8; 128];
            proptest::prop_assert_eq!(unbash(&wire[..n], &mut back).unwrap(), name.as_slice());
        }

        #[test]
        fn prop_parse_never_panics(data in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let _ = Hello::parse(&data);
            let _ = HelloInfo::identify(&data);
            let _ = Hello::parse_at(Acceptor::Director, &data);
            let _ = HelloReply::parse(&data);
        }
    }
}
