//! TLS-first detection, TLS-PSK identities, qualified names and key material.
//!
//! Since 18.2 a Bareos connection normally starts with a TLS 1.3 (or 1.2) handshake keyed by a
//! pre-shared key, before any Bareos byte (`../shared/protocol/connect.md` §3). This module
//! holds the pure, I/O-free parts of that: how the accepting side tells TLS from cleartext,
//! what the PSK identity looks like, and which bytes are the key. The TLS handshake itself is
//! a pluggable session outside this crate (design/style.md point 8).
//!
//! # Cleartext or TLS: the 10-byte peek (connect.md §3.2)
//!
//! `BareosSocket::EvaluateCleartextBareosHello` (`core/src/lib/bsock.cc`) does one
//! `recv(fd, buf, 255, MSG_PEEK)`. With fewer than 10 bytes (4 header + `Hello `) the
//! connection is dropped. Otherwise the bytes from offset 4 up to the first NUL are compared
//! with `Hello `: a match is the cleartext path, **anything else is handed to `SSL_accept`**.
//! Nothing looks at the header or for the TLS record type 0x16.
//!
//! [`classify_first_bytes`] returns [`FirstBytes::NeedMore`] below 10 bytes (a sans-IO server
//! may wait for more with a deadline, or close at once to mimic Bareos exactly), and splits
//! Bareos' "anything else" into [`FirstBytes::Tls`] (a handshake record, first byte 0x16) and
//! [`FirstBytes::Garbage`]: Bareos would start a TLS handshake on garbage too, which then
//! fails, so closing at once has the same outcome. The outbound side must therefore put its
//! whole first frame, or the whole ClientHello record, into one TCP segment (connect.md §0,
//! §10 point 4); every captured first segment does.
//!
//! # PSK identities (connect.md §3.4)
//!
//! The identity is `QualifiedName(type, name)` from `core/src/lib/global_resource.h`: the
//! resource type string, the byte RS (0x1E), and the **unbashed** resource name, without a NUL.
//! [`PskIdentity`] parses and emits it; [`ResourceType`] is the type. Captured:
//! `R_DIRECTOR\x1ebareos-dir` (vectors/psk-dir-fd), `R_CONSOLE\x1e*UserAgent*`
//! (vectors/psk-console-dir), `R_JOB\x1eCapBackup.2026-11-22_15.50.00_04`
//! (vectors/psk-backup-full, conn 4).
//!
//! # Qualified names (connect.md §2.3)
//!
//! Inside a CRAM-MD5 challenge the challenger names itself `R_<TYPE>::<name>`
//! (`CreateOwnQualifiedNameForNetworkDump`), with spaces bashed to 0x01 on the wire.
//! [`QualifiedName`] models that form. The passive SD's literal `File daemon` is the one
//! challenger name that is not qualified (vectors/clear-backup-passive, conn 4 msg 5).
//!
//! # Keys (connect.md §2.5, §3.4)
//!
//! Both CRAM-MD5 and TLS-PSK use the *ASCII string* of the stored password as the key, never
//! its hex-decoded bytes:
//!
//! - a configured password is stored as the lowercase hex MD5 of the cleartext, 32 bytes
//!   (`ConfigurationParser::StoreMd5Password`, `core/src/lib/res.cc`); a value written as
//!   `[md5]<32 hex digits>` is stored verbatim, case preserved. [`PasswordKey`] does both;
//! - FD↔SD and SD↔SD job connections use the SD's per-job *session key*
//!   (`MakeSessionKey`, `core/src/lib/util.cc`) raw: 16 random bytes, each written as two
//!   letters `'A' + low nibble`, `'A' + high nibble`, with a `-` after every second byte and
//!   the last one dropped: 39 characters, `^[A-P]{4}(-[A-P]{4}){7}$`. [`SessionKey`] makes and
//!   validates it. The random bytes come from the caller; fd-core has no entropy source.

use md5::{Digest, Md5};

use super::text::Writer;
use super::tls_policy::TlsPolicy;
use super::{Error, Result};

/// The record separator between type and name in a PSK identity.
pub const RS: u8 = 0x1E;

/// The number of bytes [`classify_first_bytes`] needs: header plus `Hello `.
pub const PEEK_LEN: usize = 10;

/// Longest identity accepted or emitted. OpenSSL hands the PSK callbacks 256-byte buffers and
/// Bareos writes the identity as a C string, so 255 bytes plus the NUL is the ceiling
/// (connect.md §3.4 length limits).
pub const MAX_IDENTITY_LEN: usize = 255;

/// What the first bytes on an accepted connection say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum FirstBytes {
    /// Fewer than [`PEEK_LEN`] bytes so far (Bareos would close here).
    NeedMore,
    /// A bsock frame whose payload starts with `Hello `.
    CleartextHello,
    /// A TLS handshake record: run the TLS server handshake.
    Tls,
    /// Neither; Bareos would try TLS and fail. Close.
    Garbage,
}

/// Classify the first bytes received by the accepting side (connect.md §3.2).
pub fn classify_first_bytes(peek: &[u8]) -> FirstBytes {
    if peek.len() < PEEK_LEN {
        return FirstBytes::NeedMore;
    }
    let after_header = peek.get(4..).unwrap_or(&[]);
    // Bareos copies from offset 4 as a C string: a NUL ends the comparison.
    let c_str = after_header.split(|&b| b == 0).next().unwrap_or(&[]);
    if c_str.starts_with(b"Hello ") {
        FirstBytes::CleartextHello
    } else if peek.first() == Some(&0x16) {
        FirstBytes::Tls
    } else {
        FirstBytes::Garbage
    }
}

/// The accepting side's decision for a cleartext hello (`GetHandshakeMode`,
/// `core/src/lib/try_tls_handshake_as_a_server.cc`; connect.md §3.2 step 5, §3.3).
///
/// `configured` is the accepting daemon's configured policy for the named peer (the
/// resource's `GetPolicy()`, or for `R_JOB` the job's `sd_tls_policy`; `*UserAgent*` uses the
/// daemon's own resource); `version` is [`super::hello::HelloInfo::version`]. A peer with no
/// such resource or job must be closed before calling this.
///
/// - `R_CLIENT`: refused only when TLS is required;
/// - a console below 18.2: always allowed (the CRAM-MD5 `ssl=` step can still deny it);
/// - everything else: allowed only when TLS is disabled (`ssl=0`).
pub fn cleartext_hello_allowed(kind: ResourceType, version: u32, configured: TlsPolicy) -> bool {
    match kind {
        ResourceType::Client => configured != TlsPolicy::Required,
        ResourceType::Console if version < super::hello::VERSION_18_2 => true,
        _ => configured == TlsPolicy::None,
    }
}

/// The resource types that appear in PSK identities and qualified names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ResourceType {
    /// `R_CLIENT`: a File daemon (client-initiated connections, FD challenge name).
    Client,
    /// `R_CONSOLE`: a console or tray monitor talking to the Director.
    Console,
    /// `R_DIRECTOR`: a Director (or a tray monitor acting as one).
    Director,
    /// `R_JOB`: a job-level FD↔SD or SD↔SD connection, named by the full Job name.
    Job,
    /// `R_STORAGE`: a Storage daemon.
    Storage,
}

impl ResourceType {
    /// The type string, e.g. `R_DIRECTOR`.
    pub const fn as_str(self) -> &'static str {
        match self {
            ResourceType::Client => "R_CLIENT",
            ResourceType::Console => "R_CONSOLE",
            ResourceType::Director => "R_DIRECTOR",
            ResourceType::Job => "R_JOB",
            ResourceType::Storage => "R_STORAGE",
        }
    }

    /// The type for a type string; other strings are [`Error::Unrecognized`] (a Bareos server
    /// finds no resource for them either and fails the handshake).
    pub fn parse(s: &[u8]) -> Result<ResourceType> {
        Ok(match s {
            b"R_CLIENT" => ResourceType::Client,
            b"R_CONSOLE" => ResourceType::Console,
            b"R_DIRECTOR" => ResourceType::Director,
            b"R_JOB" => ResourceType::Job,
            b"R_STORAGE" => ResourceType::Storage,
            _ => return Err(Error::Unrecognized),
        })
    }
}

/// A TLS-PSK identity: type, RS, unbashed name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct PskIdentity<'a> {
    /// The resource type.
    pub kind: ResourceType,
    /// The resource name (a Job name for [`ResourceType::Job`]), unbashed.
    pub name: &'a [u8],
}

impl<'a> PskIdentity<'a> {
    /// Parse identity bytes as the server callback receives them. Split at the first RS as
    /// `ParseQualifiedName` does; the name must be non-empty and free of NUL and RS.
    pub fn parse(bytes: &'a [u8]) -> Result<Self> {
        if bytes.len() > MAX_IDENTITY_LEN {
            return Err(Error::FieldTooLong);
        }
        let pos = bytes
            .iter()
            .position(|&b| b == RS)
            .ok_or(Error::Malformed)?;
        let kind = ResourceType::parse(bytes.get(..pos).unwrap_or(&[]))?;
        let name = bytes.get(pos + 1..).unwrap_or(&[]);
        if name.is_empty() {
            return Err(Error::Truncated);
        }
        if name.iter().any(|&b| b == 0 || b == RS) {
            return Err(Error::Malformed);
        }
        Ok(Self { kind, name })
    }

    /// Bytes [`PskIdentity::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        self.kind.as_str().len() + 1 + self.name.len()
    }

    /// Write the identity. Fails with [`Error::FieldTooLong`] above [`MAX_IDENTITY_LEN`] and
    /// [`Error::Malformed`] for an empty name or one containing NUL or RS.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        if self.buffer_len() > MAX_IDENTITY_LEN {
            return Err(Error::FieldTooLong);
        }
        if self.name.is_empty() || self.name.iter().any(|&b| b == 0 || b == RS) {
            return Err(Error::Malformed);
        }
        let mut w = Writer::new(buf);
        w.bytes(self.kind.as_str().as_bytes());
        w.byte(RS);
        w.bytes(self.name);
        w.finish()
    }
}

/// A CRAM-MD5 qualified name `R_<TYPE>::<name>` as it appears in a challenge token (the
/// name part still bashed: 0x01 for each space).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct QualifiedName<'a> {
    /// The resource type.
    pub kind: ResourceType,
    /// The name as it appears on the wire (bashed).
    pub name: &'a [u8],
}

impl<'a> QualifiedName<'a> {
    /// Parse `R_<TYPE>::<name>`; split at the first `::`.
    pub fn parse(bytes: &'a [u8]) -> Result<Self> {
        let pos = bytes
            .windows(2)
            .position(|w| w == b"::")
            .ok_or(Error::Malformed)?;
        let kind = ResourceType::parse(bytes.get(..pos).unwrap_or(&[]))?;
        let name = bytes.get(pos + 2..).unwrap_or(&[]);
        if name.is_empty() {
            return Err(Error::Truncated);
        }
        Ok(Self { kind, name })
    }

    /// Bytes [`QualifiedName::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        self.kind.as_str().len() + 2 + self.name.len()
    }

    /// Write `R_<TYPE>::<name>`, bashing spaces in the name.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let mut w = Writer::new(buf);
        self.write(&mut w);
        w.finish()
    }

    /// Append to a writer (bashing spaces).
    pub fn write(&self, w: &mut Writer<'_>) {
        w.bytes(self.kind.as_str().as_bytes());
        w.bytes(b"::");
        for &b in self.name {
            w.byte(if b == b' ' { 0x01 } else { b });
        }
    }
}

/// Lowercase hex digits.
const HEX: &[u8; 16] = b"0123456789abcdef";

/// MD5 of the empty string: an empty password, refused where a password is required.
pub const EMPTY_PASSWORD_MD5: &[u8; 32] = b"d41d8cd98f00b204e9800998ecf8427e";

/// A password in its stored form: 32 ASCII hex digits, used as is as the CRAM-MD5 key and the
/// TLS-PSK.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PasswordKey {
    hex: [u8; 32],
}

impl PasswordKey {
    /// `MakeCramMd5Key`: the lowercase hex MD5 of a cleartext password.
    pub fn from_cleartext(password: &[u8]) -> Self {
        let digest = Md5::digest(password);
        let mut hex = [0u8; 32];
        for (pair, b) in hex.chunks_exact_mut(2).zip(digest.iter()) {
            pair[0] = HEX[usize::from(b >> 4)];
            pair[1] = HEX[usize::from(b & 0x0f)];
        }
        Self { hex }
    }

    /// A precomputed MD5: exactly 32 hex digits of either case, kept verbatim.
    pub fn from_md5_hex(hex: &[u8]) -> Result<Self> {
        let hex: [u8; 32] = hex.try_into().map_err(|_| {
            if hex.len() < 32 {
                Error::Truncated
            } else {
                Error::FieldTooLong
            }
        })?;
        if !hex.iter().all(u8::is_ascii_hexdigit) {
            return Err(Error::Malformed);
        }
        Ok(Self { hex })
    }

    /// A `Password = "..."` value as `StoreMd5Password` reads it: `[md5]<32 hex>` verbatim,
    /// anything else hashed.
    pub fn from_config(value: &[u8]) -> Result<Self> {
        match value.strip_prefix(b"[md5]") {
            Some(hex) => Self::from_md5_hex(hex),
            None => Ok(Self::from_cleartext(value)),
        }
    }

    /// The key bytes (32 ASCII hex digits).
    pub fn as_bytes(&self) -> &[u8] {
        &self.hex
    }

    /// True for the MD5 of the empty password, which Bareos refuses for required passwords.
    pub fn is_empty_password(&self) -> bool {
        self.hex.eq_ignore_ascii_case(EMPTY_PASSWORD_MD5)
    }
}

impl core::fmt::Debug for PasswordKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("PasswordKey(..)")
    }
}

/// Length of a session key.
pub const SESSION_KEY_LEN: usize = 39;

/// A per-job session key, `MakeSessionKey` format (connect.md §2.5).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionKey {
    text: [u8; SESSION_KEY_LEN],
}

impl SessionKey {
    /// Build the key from 16 random bytes supplied by the caller.
    pub fn from_random(random: [u8; 16]) -> Self {
        let mut text = [b'-'; SESSION_KEY_LEN];
        let mut i = 0;
        for (j, b) in random.iter().enumerate() {
            // i <= 36 here: 16 pairs plus 7 dashes fill exactly 39 bytes.
            text[i] = b'A' + (b & 0x0f);
            text[i + 1] = b'A' + (b >> 4);
            i += 2;
            if j & 1 == 1 {
                i += 1;
            }
        }
        Self { text }
    }

    /// Validate a received key (`Authorization=` value): 8 groups of 4 letters `A`–`P`
    /// joined by `-`.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let text: [u8; SESSION_KEY_LEN] = bytes.try_into().map_err(|_| {
            if bytes.len() < SESSION_KEY_LEN {
                Error::Truncated
            } else {
                Error::FieldTooLong
            }
        })?;
        for (i, &c) in text.iter().enumerate() {
            let ok = if i % 5 == 4 {
                c == b'-'
            } else {
                (b'A'..=b'P').contains(&c)
            };
            if !ok {
                return Err(Error::Malformed);
            }
        }
        Ok(Self { text })
    }

    /// The 16 random bytes the key encodes.
    pub fn to_random(&self) -> [u8; 16] {
        let mut out = [0u8; 16];
        let letters = self.text.iter().filter(|&&c| c != b'-');
        let mut it = letters.map(|&c| c - b'A');
        for o in out.iter_mut() {
            let lo = it.next().unwrap_or(0);
            let hi = it.next().unwrap_or(0);
            *o = lo | (hi << 4);
        }
        out
    }

    /// The key bytes (39 ASCII characters), used raw as CRAM-MD5 key and PSK.
    pub fn as_bytes(&self) -> &[u8] {
        &self.text
    }
}

impl core::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("SessionKey(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_classify() {
        // vectors/clear-backup-full, conn 3 msg 1: the first 10 bytes of the Director hello.
        let hello = b"\x00\x00\x00\x33Hello Director bareos-dir calling";
        assert_eq!(classify_first_bytes(hello), FirstBytes::CleartextHello);
        assert_eq!(
            classify_first_bytes(&hello[..10]),
            FirstBytes::CleartextHello
        );
        assert_eq!(classify_first_bytes(&hello[..9]), FirstBytes::NeedMore);
        assert_eq!(classify_first_bytes(b""), FirstBytes::NeedMore);
        // vectors/psk-dir-fd, conn 1 record 1: a ClientHello record header, legacy 0x0301,
        // 580 bytes, then handshake type 1.
        let ch = b"\x16\x03\x01\x02\x44\x01\x00\x02\x40\x03\x03";
        assert_eq!(classify_first_bytes(ch), FirstBytes::Tls);
        assert_eq!(
            classify_first_bytes(b"GET / HTTP/1.1\r\n"),
            FirstBytes::Garbage
        );
        // A NUL inside "Hello " ends Bareos' C string.
        assert_eq!(
            classify_first_bytes(b"\x00\x00\x00\x33Hel\x00lo xxx"),
            FirstBytes::Garbage
        );
        // The header is not examined.
        assert_eq!(
            classify_first_bytes(b"\xff\xff\xff\xffHello xyz"),
            FirstBytes::CleartextHello
        );
    }

    #[test]
    fn test_cleartext_gate() {
        use ResourceType::*;
        // The captured cleartext setups: every resource has TLS Enable = no.
        for kind in [Client, Console, Director, Job, Storage] {
            assert!(cleartext_hello_allowed(kind, 2600, TlsPolicy::None));
        }
        assert!(cleartext_hello_allowed(Client, 1, TlsPolicy::Enabled));
        assert!(!cleartext_hello_allowed(Client, 1, TlsPolicy::Required));
        assert!(cleartext_hello_allowed(Console, 1701, TlsPolicy::Required));
        assert!(cleartext_hello_allowed(Console, 1, TlsPolicy::Required));
        assert!(!cleartext_hello_allowed(Console, 1802, TlsPolicy::Enabled));
        assert!(!cleartext_hello_allowed(Director, 1, TlsPolicy::Enabled));
        // An FD whose job said ssl=4 refuses a cleartext passive SD.
        assert!(!cleartext_hello_allowed(Job, 1, TlsPolicy::Auto));
    }

    #[test]
    fn test_first_bytes_of_every_captured_connection() {
        use crate::wire::cram_md5::tests::{load, vectors_dir, CLEARTEXT_CAPTURES};
        let mut clear = 0;
        for capture in CLEARTEXT_CAPTURES {
            let msgs = load(capture);
            let mut seen = std::vec::Vec::new();
            for m in &msgs {
                if seen.contains(&m.conn) {
                    continue;
                }
                seen.push(m.conn);
                let mut first = (m.len as i32).to_be_bytes().to_vec();
                first.extend_from_slice(&m.payload);
                assert_eq!(classify_first_bytes(&first), FirstBytes::CleartextHello);
                clear += 1;
            }
        }
        assert_eq!(clear, 60);
        let mut tls = 0;
        let mut identities = 0;
        for capture in ["psk-dir-fd", "psk-console-dir", "psk-backup-full"] {
            let msgs = load(capture);
            let mut seen = std::vec::Vec::new();
            for m in &msgs {
                if seen.contains(&m.conn) {
                    continue;
                }
                seen.push(m.conn);
                // Rebuild the record header (type 0x16, version 0x0301) before the body.
                let mut first = std::vec![0x16, 0x03, 0x01];
                first.extend_from_slice(&(m.len as u16).to_be_bytes());
                first.extend_from_slice(&m.payload);
                assert_eq!(classify_first_bytes(&first), FirstBytes::Tls, "{capture}");
                tls += 1;
            }
            let text =
                std::fs::read_to_string(vectors_dir().join(capture).join("transcript.jsonl"))
                    .unwrap();
            for line in text.lines().filter(|l| l.contains("\"kind\": \"conn\"")) {
                let start = line.find("\"psk_identities\": [").unwrap() + 20;
                let list = &line[start..start + line[start..].find(']').unwrap()];
                for hex_id in list.split(',').map(|x| x.trim().trim_matches('"')) {
                    let raw = hex::decode(hex_id).unwrap();
                    let id = PskIdentity::parse(&raw).unwrap();
                    let mut out = [0u8; 256];
                    let n = id.emit(&mut out).unwrap();
                    assert_eq!(&out[..n], raw.as_slice());
                    identities += 1;
                }
            }
        }
        assert_eq!(tls, 6);
        assert_eq!(identities, 6);
    }

    #[test]
    fn test_identity_captured() {
        // vectors/psk-dir-fd, ClientHello frame 4.
        let dir = hex::decode("525f4449524543544f521e626172656f732d646972").unwrap();
        let id = PskIdentity::parse(&dir).unwrap();
        assert_eq!(id.kind, ResourceType::Director);
        assert_eq!(id.name, b"bareos-dir");
        let mut out = [0u8; 64];
        let n = id.emit(&mut out).unwrap();
        assert_eq!(&out[..n], dir.as_slice());
        assert_eq!(n, id.buffer_len());
        // vectors/psk-console-dir.
        let con = hex::decode("525f434f4e534f4c451e2a557365724167656e742a").unwrap();
        let id = PskIdentity::parse(&con).unwrap();
        assert_eq!(
            (id.kind, id.name),
            (ResourceType::Console, &b"*UserAgent*"[..])
        );
        // vectors/psk-backup-full, conn 4: identity length 38.
        let job = b"R_JOB\x1eCapBackup.2026-11-22_15.50.00_04";
        assert_eq!(job.len(), 38);
        let id = PskIdentity::parse(job).unwrap();
        assert_eq!(id.kind, ResourceType::Job);
        let n = id.emit(&mut out).unwrap();
        assert_eq!(&out[..n], job);
    }

    #[test]
    fn test_identity_errors() {
        assert_eq!(PskIdentity::parse(b"R_DIRECTOR"), Err(Error::Malformed));
        assert_eq!(PskIdentity::parse(b"R_DIRECTOR\x1e"), Err(Error::Truncated));
        assert_eq!(PskIdentity::parse(b"R_FOO\x1ex"), Err(Error::Unrecognized));
        assert_eq!(
            PskIdentity::parse(b"R_JOB\x1ea\x00b"),
            Err(Error::Malformed)
        );
        let long = [b'a'; 300];
        let id = PskIdentity {
            kind: ResourceType::Job,
            name: &long,
        };
        assert_eq!(id.emit(&mut [0u8; 400]), Err(Error::FieldTooLong));
        let id = PskIdentity {
            kind: ResourceType::Job,
            name: b"x",
        };
        assert_eq!(id.emit(&mut [0u8; 3]), Err(Error::BufferTooSmall));
    }

    #[test]
    fn test_qualified_name() {
        // vectors/clear-backup-full, conn 2 msg 2: `@R_STORAGE::bareos-sd>`.
        let q = QualifiedName::parse(b"R_STORAGE::bareos-sd").unwrap();
        assert_eq!((q.kind, q.name), (ResourceType::Storage, &b"bareos-sd"[..]));
        let mut out = [0u8; 64];
        let n = q.emit(&mut out).unwrap();
        assert_eq!(&out[..n], b"R_STORAGE::bareos-sd");
        let q = QualifiedName {
            kind: ResourceType::Console,
            name: b"my console",
        };
        let n = q.emit(&mut out).unwrap();
        assert_eq!(&out[..n], b"R_CONSOLE::my\x01console");
        // The passive SD's name is not qualified (vectors/clear-backup-passive conn 4 msg 5).
        assert_eq!(
            QualifiedName::parse(b"File\x01daemon"),
            Err(Error::Malformed)
        );
        assert_eq!(QualifiedName::parse(b"R_CLIENT::"), Err(Error::Truncated));
    }

    #[test]
    fn test_password_keys() {
        // vectors/README.md passwords; keys from connect.md Appendix A.
        for (pw, key) in [
            ("secret", "5ebe2294ecd0e0f08eab7690d2a6ee69"),
            (
                "ref-dir-console-password",
                "767fd9efcdf39bad749214184fbc1c8c",
            ),
            ("ref-fd-password", "c11a8b27d085fee315c743b92c80ffc7"),
            ("ref-sd-password", "311b42ed4e9b6ded8e6f6da9087f01c0"),
        ] {
            let k = PasswordKey::from_cleartext(pw.as_bytes());
            assert_eq!(k.as_bytes(), key.as_bytes());
            assert_eq!(PasswordKey::from_config(pw.as_bytes()).unwrap(), k);
        }
        let k = PasswordKey::from_config(b"[md5]5EBE2294ecd0e0f08eab7690d2a6ee69").unwrap();
        assert_eq!(k.as_bytes(), b"5EBE2294ecd0e0f08eab7690d2a6ee69");
        assert_eq!(
            PasswordKey::from_config(b"[md5]5ebe"),
            Err(Error::Truncated)
        );
        assert_eq!(
            PasswordKey::from_config(b"[md5]5ebe2294ecd0e0f08eab7690d2a6ee6x"),
            Err(Error::Malformed)
        );
        assert_eq!(
            PasswordKey::from_config(b"[md5]5ebe2294ecd0e0f08eab7690d2a6ee690"),
            Err(Error::FieldTooLong)
        );
        assert!(PasswordKey::from_cleartext(b"").is_empty_password());
    }

    #[test]
    fn test_session_key() {
        // vectors/clear-backup-full, conn 2 msg 10.
        let captured = b"HLCO-EFBN-FKHA-HBFC-DIEI-MGND-JDEM-ILMP";
        let k = SessionKey::parse(captured).unwrap();
        assert_eq!(SessionKey::from_random(k.to_random()).as_bytes(), captured);
        // H=7, L=11 -> 0xb7 ('A' + low nibble first).
        assert_eq!(k.to_random()[0], 0xb7);
        let k = SessionKey::from_random([0; 16]);
        assert_eq!(k.as_bytes(), b"AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA");
        let k = SessionKey::from_random([0xff; 16]);
        assert_eq!(k.as_bytes(), b"PPPP-PPPP-PPPP-PPPP-PPPP-PPPP-PPPP-PPPP");
        assert_eq!(SessionKey::parse(b"dummy"), Err(Error::Truncated));
        assert_eq!(
            SessionKey::parse(b"HLCO-EFBN-FKHA-HBFC-DIEI-MGND-JDEM-ILMQ"),
            Err(Error::Malformed)
        );
        assert_eq!(
            SessionKey::parse(b"HLCO-EFBN-FKHA-HBFC-DIEI-MGND-JDEMXILMP"),
            Err(Error::Malformed)
        );
    }

    proptest::proptest! {
        #[test]
        fn prop_session_key_round_trip(r in proptest::array::uniform16(proptest::num::u8::ANY)) {
            let k = SessionKey::from_random(r);
            let p = SessionKey::parse(k.as_bytes()).unwrap();
            proptest::prop_assert_eq!(p.to_random(), r);
        }

        #[test]
        fn prop_identity_round_trip(kind in 0usize..5, name in "[a-zA-Z0-9 ._*-]{1,100}") {
            let kinds = [ResourceType::Client, ResourceType::Console, ResourceType::Director,
                ResourceType::Job, ResourceType::Storage];
            let id = PskIdentity { kind: kinds[kind], name: name.as_bytes() };
            let mut out = [0u8; 256];
            let n = id.emit(&mut out).unwrap();
            proptest::prop_assert_eq!(PskIdentity::parse(&out[..n]).unwrap(), id);
        }
    }
}
