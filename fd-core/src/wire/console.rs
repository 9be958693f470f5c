//! Console ↔ Director framing: response messages, the login banners, and `.api` modes.
//!
//! A console (bconsole, the tray monitor, python-bareos, the webui) logs in with a console
//! hello ([`super::hello::Hello::Console`]) and the two-way CRAM-MD5 of [`crate::auth`]. What
//! the Director says *after* that depends on the console's version
//! (`core/src/dird/authenticate_console.cc`, `../shared/protocol/connect.md` §7.2):
//!
//! - **18.2 and later** (version word ≥ 1802): *response messages*, `<id>` RS `<text>`, with
//!   the parts of the text joined by RS (0x1E) and **no newline**
//!   (`BareosSocket::FormatAndSendResponseMessage`, `core/src/lib/bnet.cc`;
//!   [`ResponseMessage`]). The ids are `core/src/lib/bnet.h`'s `kMessageId*`
//!   ([`ResponseId`]). Login sends `1000` RS `OK: <dir> Version: <full> (<date>)`, or `1001`
//!   RS (empty) when PAM is needed, after which the console sends `4002` RS user RS password
//!   (or works through `4001` interactive PAM) and gets the `1000` then; finally `1002` RS
//!   `<services message>\nYou are connected using the default console` (or `…logged in as:
//!   <name>`). Captured: vectors/clear-bconsole conn 1 msgs 8 and 9.
//! - **before 18.2**: one line `1000 OK: <dir> Version: <full> (<date>) -- <cipher>\n` with
//!   `<cipher>` = ` Encryption: None` or ` Encryption: <suite> <version>` (hence the double
//!   space after `--`), or `1999 You are not authorized.\n`. Not captured.
//!
//! A client-initiated File daemon gets yet another form of the same greeting:
//! `1000 OK: <dir> Version: <full> (<date>)\n`, with a space and a newline
//! (vectors/clear-client-initiated conn 1 msg 8). A peer that accepts several of these must
//! not confuse them; [`Banner`] parses all three and says which one it saw.
//!
//! The receiver (`EvaluateResponseMessageId`) splits at RS and applies `std::stoul` to the
//! first field, so `1000 OK: …` *with a space* also reads as id 1000. [`ResponseMessage::parse`]
//! is stricter and wants digits then RS; [`Banner::parse`] handles the space forms.
//!
//! The `OK: …` text is formatted with `snprintf(…, 100, …)`: Bareos cuts it at 99 bytes.
//! [`Banner::emit`] does the same for the response-message form.
//!
//! # After login: the command loop and `.api`
//!
//! Each console command is one frame without a newline. In API mode 0 the Director answers
//! with text frames (split at arbitrary points by its output formatter) and ends with
//! `BNET_EOD`. `.api 1`/`.api 2` switch modes ([`ApiCommand`]): from then on each command is
//! framed as `BNET_CMD_BEGIN` (-16), the result, `BNET_CMD_OK` (-15) or `BNET_CMD_FAILED`
//! (-14), and `BNET_MAIN_PROMPT` (-18) before the next read; in JSON mode (2) the result is one
//! pretty-printed JSON-RPC object without a trailing newline. The `.api 2` command itself,
//! issued in mode 0, gets `CMD_OK`, `{"jsonrpc": "2.0", "id": null, "result": {"api": 2}}`
//! and `MAIN_PROMPT`, no `CMD_BEGIN` and no EOD (vectors/clear-bconsole conn 1 msgs 36–39,
//! connect.md §7.3). The signals are [`super::bnet::Signal`]; this module only has the codecs.

use super::text::{Scanner, Writer};
use super::{Error, Result};

/// The record separator.
pub const RS: u8 = 0x1E;

/// A response-message id (`kMessageId*` in `core/src/lib/bnet.h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ResponseId {
    /// 1000 `kMessageIdOk`: login succeeded; the text is the `OK: …` banner.
    Ok,
    /// 1001 `kMessageIdPamRequired`: the console must authenticate with PAM.
    PamRequired,
    /// 1002 `kMessageIdInfoMessage`: the services message and who you are.
    InfoMessage,
    /// 4001 `kMessageIdPamInteractive`: interactive PAM.
    PamInteractive,
    /// 4002 `kMessageIdPamUserCredentials`: user RS password.
    PamUserCredentials,
    /// Any other id.
    Unknown(u32),
}

impl ResponseId {
    /// The id for a number.
    pub const fn from_code(v: u32) -> Self {
        match v {
            1000 => ResponseId::Ok,
            1001 => ResponseId::PamRequired,
            1002 => ResponseId::InfoMessage,
            4001 => ResponseId::PamInteractive,
            4002 => ResponseId::PamUserCredentials,
            v => ResponseId::Unknown(v),
        }
    }

    /// The number.
    pub const fn code(self) -> u32 {
        match self {
            ResponseId::Ok => 1000,
            ResponseId::PamRequired => 1001,
            ResponseId::InfoMessage => 1002,
            ResponseId::PamInteractive => 4001,
            ResponseId::PamUserCredentials => 4002,
            ResponseId::Unknown(v) => v,
        }
    }
}

/// A response message `<id>` RS `<arg>` [RS `<arg>` …].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ResponseMessage<'a> {
    /// The id.
    pub id: ResponseId,
    /// Everything after the first RS: the arguments joined by RS (possibly empty).
    pub text: &'a [u8],
}

impl<'a> ResponseMessage<'a> {
    /// Parse a response message: 1 to 10 decimal digits, RS, text.
    pub fn parse(payload: &'a [u8]) -> Result<Self> {
        let pos = payload.iter().position(|&b| b == RS);
        let id_field = match pos {
            Some(p) => payload.get(..p).unwrap_or(&[]),
            None => payload,
        };
        if id_field.is_empty() || !id_field.iter().all(u8::is_ascii_digit) {
            return Err(Error::Malformed);
        }
        let id = Scanner::new(id_field).u32()?;
        let Some(p) = pos else {
            return Err(Error::Truncated);
        };
        Ok(Self {
            id: ResponseId::from_code(id),
            text: payload.get(p + 1..).unwrap_or(&[]),
        })
    }

    /// The RS-separated arguments (one empty argument for an empty text).
    pub fn args(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.text.split(|&b| b == RS)
    }

    /// Write `<id>` RS `<text>`, no newline.
    fn write(&self, w: &mut Writer<'_>) {
        w.u64(u64::from(self.id.code()));
        w.byte(RS);
        w.bytes(self.text);
    }
}

codec_impl!(ResponseMessage<'_>, infallible);

/// Write a response message from separate arguments, joined by RS (`BStringList::Join`).
/// Arguments must not contain RS themselves.
pub fn emit_response(id: ResponseId, args: &[&[u8]], buf: &mut [u8]) -> Result<usize> {
    if args.iter().any(|a| a.contains(&RS)) {
        return Err(Error::Malformed);
    }
    let mut w = Writer::new(buf);
    w.u64(u64::from(id.code()));
    w.byte(RS);
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            w.byte(RS);
        }
        w.bytes(a);
    }
    w.finish()
}

/// Which form a Director greeting came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum BannerForm<'a> {
    /// `1000` RS `OK: …`, no newline: consoles from 18.2 on.
    Response,
    /// `1000 OK: …\n`: a client-initiated File daemon.
    ClientInitiated,
    /// `1000 OK: … -- <cipher>\n`: consoles before 18.2; carries the cipher text
    /// (`GetCipherMessageString`: ` Encryption: None`, with its leading space).
    Legacy {
        /// The text after `-- `, e.g. ` Encryption: None`.
        cipher: &'a [u8],
    },
}

/// The Director's login greeting `OK: <name> Version: <full> (<date>)` in one of its forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Banner<'a> {
    /// The framing.
    pub form: BannerForm<'a>,
    /// The Director's name.
    pub name: &'a [u8],
    /// The full version string.
    pub full_version: &'a [u8],
    /// The build date, `dd Month yyyy`.
    pub date: &'a [u8],
}

/// How many bytes of `OK: …` Bareos keeps (`snprintf(version_info, 100, …)`).
pub const MAX_OK_TEXT: usize = 99;

impl<'a> Banner<'a> {
    /// Parse any of the three greeting forms.
    pub fn parse(payload: &'a [u8]) -> Result<Self> {
        let mut s = Scanner::new(payload);
        s.lit(b"1000")?;
        let rs_form = s.rest().first() == Some(&RS);
        if rs_form {
            s.lit(&[RS])?;
        } else {
            s.lit(b" ")?;
        }
        s.lit(b"OK: ")?;
        let name = s.nonempty_word()?;
        s.lit(b" Version: ")?;
        let full_version = s.nonempty_word()?;
        s.lit(b" (")?;
        let date = s.until(b')')?;
        if date.is_empty() || date.iter().any(|&b| b == b'\n' || b == RS) {
            return Err(Error::Malformed);
        }
        let rest = s.rest();
        let form = if rs_form {
            s.end(false)?;
            BannerForm::Response
        } else if rest == b"\n" {
            BannerForm::ClientInitiated
        } else {
            let after = rest
                .strip_prefix(b" -- ")
                .ok_or(if b" -- ".starts_with(rest) {
                    Error::Truncated
                } else {
                    Error::Malformed
                })?;
            let cipher = after.strip_suffix(b"\n").ok_or(Error::Truncated)?;
            if cipher.contains(&b'\n') {
                return Err(Error::Malformed);
            }
            BannerForm::Legacy { cipher }
        };
        Ok(Self {
            form,
            name,
            full_version,
            date,
        })
    }

    /// Write the greeting as the Director formats it.
    fn write(&self, w: &mut Writer<'_>) {
        match self.form {
            BannerForm::Response => {
                w.bytes(b"1000");
                w.byte(RS);
                // The text is cut at 99 bytes by snprintf.
                let mut budget = MAX_OK_TEXT;
                for piece in self.ok_pieces() {
                    let take = piece.len().min(budget);
                    w.bytes(piece.get(..take).unwrap_or(&[]));
                    budget -= take;
                }
            }
            BannerForm::ClientInitiated => {
                w.bytes(b"1000 ");
                self.write_ok(w);
                w.byte(b'\n');
            }
            BannerForm::Legacy { cipher } => {
                w.bytes(b"1000 ");
                self.write_ok(w);
                w.bytes(b" -- ");
                w.bytes(cipher);
                w.byte(b'\n');
            }
        }
    }

    fn ok_pieces(&self) -> [&'a [u8]; 7] {
        [
            b"OK: ",
            self.name,
            b" Version: ",
            self.full_version,
            b" (",
            self.date,
            b")",
        ]
    }

    fn write_ok(&self, w: &mut Writer<'_>) {
        for piece in self.ok_pieces() {
            w.bytes(piece);
        }
    }
}

codec_impl!(Banner<'_>, infallible);

/// An API mode (`core/src/lib/api_mode.h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ApiMode {
    /// 0: plain text, EOD after each reply.
    Off,
    /// 1: signals frame each command.
    On,
    /// 2: JSON-RPC results.
    Json,
}

/// A `.api` command as `DotApiCmd` (`core/src/dird/ua_dotcmds.cc`) reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ApiCommand<'a> {
    /// The mode selected.
    pub mode: ApiMode,
    /// The mode word as sent (`on`, `1`, `json`, `2`, …); `None` for a bare `.api`.
    pub word: Option<&'a [u8]>,
    /// `compact=yes|no` (JSON only); `None` when absent.
    pub compact: Option<bool>,
}

impl<'a> ApiCommand<'a> {
    /// Parse `.api [off|0|on|1|json|2 [compact=<bool>]]` (mode words case-insensitive).
    pub fn parse(payload: &'a [u8]) -> Result<Self> {
        let mut s = Scanner::new(payload);
        s.lit(b".api")?;
        if !s.rest().first().is_none_or(|&b| super::text::is_space(b)) {
            return Err(Error::Unrecognized);
        }
        s.skip_space();
        if s.is_at_end() {
            return Ok(Self {
                mode: ApiMode::On,
                word: None,
                compact: None,
            });
        }
        let word = s.word();
        let mode = if word.eq_ignore_ascii_case(b"off") || word == b"0" {
            ApiMode::Off
        } else if word.eq_ignore_ascii_case(b"on") || word == b"1" {
            ApiMode::On
        } else if word.eq_ignore_ascii_case(b"json") || word == b"2" {
            ApiMode::Json
        } else {
            return Err(Error::Malformed);
        };
        s.skip_space();
        let mut compact = None;
        if !s.is_at_end() {
            if mode != ApiMode::Json {
                return Err(Error::Malformed);
            }
            s.lit(b"compact=")?;
            let v = s.nonempty_word()?;
            // parse_user_bool: yes/true/1 and no/false/0; anything else counts as false.
            compact = Some(
                v.eq_ignore_ascii_case(b"yes") || v.eq_ignore_ascii_case(b"true") || v == b"1",
            );
            s.end(true)?;
        }
        Ok(Self {
            mode,
            word: Some(word),
            compact,
        })
    }

    /// Write the command (no newline, as every console command).
    fn write(&self, w: &mut Writer<'_>) {
        w.bytes(b".api");
        if let Some(word) = self.word {
            w.byte(b' ');
            w.bytes(word);
            if let Some(c) = self.compact {
                w.bytes(if c { b" compact=yes" } else { b" compact=no" });
            }
        }
    }
}

codec_impl!(ApiCommand<'_>, infallible);

#[cfg(test)]
mod tests {
    use super::*;

    // vectors/clear-bconsole, conn 1 msg 8 (70 bytes).
    static BANNER: &[u8] =
        b"1000\x1eOK: bareos-dir Version: 26.0.0~pre1298.eda204c31 (21 August 2026)";
    // vectors/clear-bconsole, conn 1 msg 9 (138 bytes).
    static INFO: &[u8] = b"1002\x1eSelf-compiled binaries (UNSUPPORTED)\nGet professional support from https://www.bareos.com\nYou are connected using the default console";
    // vectors/clear-client-initiated, conn 1 msg 8.
    static CI_BANNER: &[u8] =
        b"1000 OK: bareos-dir Version: 26.0.0~pre1298.eda204c31 (21 August 2026)\n";

    #[test]
    fn test_response_messages_captured() {
        assert_eq!(BANNER.len(), 70);
        assert_eq!(INFO.len(), 138);
        let mut out = [0u8; 256];
        for (bytes, id) in [(BANNER, ResponseId::Ok), (INFO, ResponseId::InfoMessage)] {
            let m = ResponseMessage::parse(bytes).unwrap();
            assert_eq!(m.id, id);
            let n = m.emit(&mut out).unwrap();
            assert_eq!(&out[..n], bytes);
            assert_eq!(m.buffer_len(), n);
        }
        let m = ResponseMessage::parse(INFO).unwrap();
        assert!(m
            .text
            .ends_with(b"You are connected using the default console"));
        assert_eq!(m.args().count(), 1);
    }

    #[test]
    fn test_pam_messages() {
        let mut out = [0u8; 64];
        let n = emit_response(ResponseId::PamUserCredentials, &[b"user", b"pw"], &mut out).unwrap();
        assert_eq!(&out[..n], b"4002\x1euser\x1epw");
        let m = ResponseMessage::parse(&out[..n]).unwrap();
        assert_eq!(m.id, ResponseId::PamUserCredentials);
        let args: std::vec::Vec<&[u8]> = m.args().collect();
        assert_eq!(args, [&b"user"[..], b"pw"]);
        let n = emit_response(ResponseId::PamRequired, &[b""], &mut out).unwrap();
        assert_eq!(&out[..n], b"1001\x1e");
        assert_eq!(
            ResponseMessage::parse(b"1001\x1e").unwrap(),
            ResponseMessage {
                id: ResponseId::PamRequired,
                text: b""
            }
        );
        assert_eq!(
            emit_response(ResponseId::Ok, &[b"a\x1eb"], &mut out),
            Err(Error::Malformed)
        );
        assert_eq!(ResponseId::from_code(4001), ResponseId::PamInteractive);
        assert_eq!(ResponseId::from_code(7), ResponseId::Unknown(7));
        for v in [1000, 1001, 1002, 4001, 4002, 0, 99999] {
            assert_eq!(ResponseId::from_code(v).code(), v);
        }
    }

    #[test]
    fn test_response_truncated_and_impossible() {
        assert_eq!(ResponseMessage::parse(b"1000"), Err(Error::Truncated));
        assert_eq!(ResponseMessage::parse(b""), Err(Error::Malformed));
        assert_eq!(ResponseMessage::parse(b"\x1eOK"), Err(Error::Malformed));
        assert_eq!(ResponseMessage::parse(b"10a0\x1eOK"), Err(Error::Malformed));
        assert_eq!(
            ResponseMessage::parse(b"99999999999\x1eOK"),
            Err(Error::BadNumber)
        );
        // The space form is not a response message (Banner handles it).
        assert_eq!(ResponseMessage::parse(CI_BANNER), Err(Error::Malformed));
        let m = ResponseMessage::parse(BANNER).unwrap();
        assert_eq!(m.emit(&mut [0u8; 10]), Err(Error::BufferTooSmall));
    }

    #[test]
    fn test_banners() {
        let mut out = [0u8; 256];
        let b = Banner::parse(BANNER).unwrap();
        assert_eq!(b.form, BannerForm::Response);
        assert_eq!(b.name, b"bareos-dir");
        assert_eq!(b.full_version, b"26.0.0~pre1298.eda204c31");
        assert_eq!(b.date, b"21 August 2026");
        let n = b.emit(&mut out).unwrap();
        assert_eq!(&out[..n], BANNER);

        let c = Banner::parse(CI_BANNER).unwrap();
        assert_eq!(c.form, BannerForm::ClientInitiated);
        assert_eq!((c.name, c.date), (b.name, b.date));
        let n = c.emit(&mut out).unwrap();
        assert_eq!(&out[..n], CI_BANNER);

        // Pre-18.2 form, from the format string (not captured).
        let legacy = b"1000 OK: bareos-dir Version: 17.2.7 (16 July 2018) --  Encryption: None\n";
        let l = Banner::parse(legacy).unwrap();
        assert_eq!(
            l.form,
            BannerForm::Legacy {
                cipher: b" Encryption: None"
            }
        );
        let n = l.emit(&mut out).unwrap();
        assert_eq!(&out[..n], legacy);
    }

    #[test]
    fn test_banner_truncation_and_errors() {
        let long_name = [b'd'; 90];
        let b = Banner {
            form: BannerForm::Response,
            name: &long_name,
            full_version: b"26.0.0",
            date: b"21 August 2026",
        };
        let mut out = [0u8; 256];
        let n = b.emit(&mut out).unwrap();
        assert_eq!(n, 5 + MAX_OK_TEXT);
        assert_eq!(b.buffer_len(), n);
        let mut expect = std::vec::Vec::new();
        expect.extend_from_slice(b"1000\x1eOK: ");
        expect.extend_from_slice(&long_name);
        expect.extend_from_slice(b" Vers");
        assert_eq!(&out[..n], expect.as_slice());
        for bad in [
            &b"1000"[..],
            b"1000 OK: d Version: v (x)",
            b"1000\x1eOK: d Version: v (x)\n",
            b"1000\x1eOK: d Version: v ()",
            b"1000 OK: d Version: v (x) -",
            b"2000 OK Hello 54\n",
        ] {
            assert!(Banner::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn test_api_commands() {
        let mut out = [0u8; 64];
        // vectors/clear-bconsole, conn 1 msg 36.
        let a = ApiCommand::parse(b".api 2").unwrap();
        assert_eq!(a.mode, ApiMode::Json);
        let n = a.emit(&mut out).unwrap();
        assert_eq!(&out[..n], b".api 2");
        for (cmd, mode, compact) in [
            (&b".api"[..], ApiMode::On, None),
            (b".api 0", ApiMode::Off, None),
            (b".api OFF", ApiMode::Off, None),
            (b".api on", ApiMode::On, None),
            (b".api json compact=yes", ApiMode::Json, Some(true)),
            (b".api json compact=no", ApiMode::Json, Some(false)),
        ] {
            let a = ApiCommand::parse(cmd).unwrap();
            assert_eq!((a.mode, a.compact), (mode, compact));
            let n = a.emit(&mut out).unwrap();
            assert_eq!(&out[..n], cmd);
            assert_eq!(a.buffer_len(), n);
        }
        assert_eq!(ApiCommand::parse(b".apix"), Err(Error::Unrecognized));
        assert_eq!(ApiCommand::parse(b".api 3"), Err(Error::Malformed));
        assert_eq!(
            ApiCommand::parse(b".api on compact=yes"),
            Err(Error::Malformed)
        );
        assert_eq!(ApiCommand::parse(b".ap"), Err(Error::Truncated));
    }

    #[test]
    fn test_every_captured_console_message() {
        use crate::wire::cram_md5::tests::{load, CLEARTEXT_CAPTURES};
        let (mut responses, mut banners, mut apis) = (0, 0, 0);
        let mut out = [0u8; 512];
        for capture in CLEARTEXT_CAPTURES {
            for m in load(capture) {
                let p = &m.payload[..];
                let is_response =
                    p.len() > 4 && p[..4].iter().all(u8::is_ascii_digit) && p[4] == RS;
                if is_response {
                    let r = ResponseMessage::parse(p).unwrap();
                    let n = r.emit(&mut out).unwrap();
                    assert_eq!(&out[..n], p);
                    responses += 1;
                }
                if p.starts_with(b"1000\x1eOK: ") || p.starts_with(b"1000 OK: ") {
                    let b = Banner::parse(p).unwrap();
                    let n = b.emit(&mut out).unwrap();
                    assert_eq!(&out[..n], p);
                    banners += 1;
                }
                if m.dir == "con>dir" && p.starts_with(b".api") {
                    let a = ApiCommand::parse(p).unwrap();
                    let n = a.emit(&mut out).unwrap();
                    assert_eq!(&out[..n], p);
                    apis += 1;
                }
            }
        }
        // Counted independently over the transcript.jsonl files.
        assert_eq!((responses, banners, apis), (36, 20, 2));
    }

    proptest::proptest! {
        #[test]
        fn prop_response_round_trip(id in proptest::num::u32::ANY,
                                    text in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let m = ResponseMessage { id: ResponseId::from_code(id), text: &text };
            let mut out = [0u8; 256];
            let n = m.emit(&mut out).unwrap();
            proptest::prop_assert_eq!(ResponseMessage::parse(&out[..n]).unwrap(), m);
        }

        #[test]
        fn prop_banner_round_trip(name in "[a-z0-9-]{1,30}", ver in "[0-9a-z.~]{1,30}",
                                  date in "[0-9]{1,2} [A-Z][a-z]{2,8} [0-9]{4}", form in 0usize..3) {
            let form = match form {
                0 => BannerForm::Response,
                1 => BannerForm::ClientInitiated,
                _ => BannerForm::Legacy { cipher: b" Encryption: None" },
            };
            let b = Banner { form, name: name.as_bytes(), full_version: ver.as_bytes(), date: date.as_bytes() };
            let mut out = [0u8; 256];
            let n = b.emit(&mut out).unwrap();
            proptest::prop_assert_eq!(Banner::parse(&out[..n]).unwrap(), b);
        }

        #[test]
        fn prop_parse_never_panics(data in proptest::collection::vec(proptest::num::u8::ANY, 0..150)) {
            let _ = ResponseMessage::parse(&data);
            let _ = Banner::parse(&data);
            let _ = ApiCommand::parse(&data);
        }
    }
}
