//! FD → SD session commands and the SD's replies on the data channel.
//!
//! # The conversation
//!
//! After the `Hello Start Job …` line and the two CRAM-MD5 exchanges keyed with the session
//! key (owned by [`super::hello`] and [`super::cram_md5`]), the FD drives the data channel with
//! a handful of text commands (`core/src/stored/fd_cmds.cc` `fd_cmds[]`, matched by prefix):
//!
//! ```text
//! backup                                   restore
//! FD: append open session⏎                 FD: read open session = DummyVolume 2 1795362432 0 0 0 0⏎
//! SD: 3000 OK open ticket = 1⏎             SD: 3000 OK open ticket = 2⏎
//! FD: append data 1⏎                       FD: read data 2⏎
//! SD: 3000 OK data⏎                        SD: 3000 OK data⏎
//! FD: records (stream::DataHeader …), EOD  SD: records (stream::RecHdr …), EOD
//! SD: 3000 OK append data⏎                 FD: read close session 2⏎
//! FD: append end session 1⏎                SD: 3000 OK close Status = 82⏎, EOD
//! SD: 3000 OK end⏎                         FD: TERMINATE, TERMINATE
//! FD: append close session 1⏎
//! SD: 3000 OK close Status = 84⏎, EOD
//! FD: TERMINATE
//! ```
//!
//! (`vectors/clear-backup-full` conn 4 msgs 8–55, `vectors/clear-restore` conn 4 msgs 8–47.)
//! Every command and reply ends in a newline. The FD compares `3000 OK data⏎`,
//! `3000 OK append data⏎` and `3000 OK end⏎` byte for byte, and scans the ticket and close
//! status with `bsscanf`. The SD ignores the ticket numbers of `append data/end/close`; in
//! `read open session` the volume name is always `DummyVolume` and the numbers are the restore
//! job's SDid/SDtime and four zeros (informational: the SD uses the bootstrap, [`super::bsr`]).
//!
//! # Codec
//!
//! [`SdDataCommand`] and [`SdDataReply`] parse one message each and emit the exact bytes
//! Bareos sends. Lines this codec does not know decode to `Unknown(bytes)` so that an SD can
//! answer `3900 Invalid command⏎` ([`SdDataReply::InvalidCommand`]) the way Bareos does. A
//! known command word with a broken argument is an error, not `Unknown`. The error replies
//! (`39xx`) are from `core/src/stored/fd_cmds.cc` and jobs.md §3.2/§3.5; no capture holds one.

use super::codes::JobStatus;
use super::text::{Scanner, Writer};
use super::{Error, Result};

/// Longest volume name Bareos scans in `read open session` (`%127s`).
pub const MAX_VOLUME_NAME_LEN: usize = 127;

/// The `read open session = …` arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ReadOpen<'a> {
    /// Volume name; Bareos' FD always sends `DummyVolume`.
    pub volume: &'a [u8],
    /// VolSessionId (the restore job's SDid).
    pub vol_session_id: u32,
    /// VolSessionTime (the restore job's SDtime).
    pub vol_session_time: u32,
    /// Start file, 0.
    pub start_file: u32,
    /// End file, 0.
    pub end_file: u32,
    /// Start block, 0.
    pub start_block: u32,
    /// End block, 0.
    pub end_block: u32,
}

/// A command the FD sends to the SD on the data channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SdDataCommand<'a> {
    /// `append open session⏎`.
    AppendOpen,
    /// `append data «ticket»⏎`.
    AppendData {
        /// Session ticket (ignored by the SD).
        ticket: u32,
    },
    /// `append end session «ticket»⏎`.
    AppendEnd {
        /// Session ticket.
        ticket: u32,
    },
    /// `append close session «ticket»⏎`.
    AppendClose {
        /// Session ticket.
        ticket: u32,
    },
    /// `read open session = «vol» «id» «time» «sfile» «efile» «sblock» «eblock»⏎`.
    ReadOpen(ReadOpen<'a>),
    /// `read data «ticket»⏎`.
    ReadData {
        /// Session ticket.
        ticket: u32,
    },
    /// `read close session «ticket»⏎`.
    ReadClose {
        /// Session ticket.
        ticket: u32,
    },
    /// Anything else, verbatim.
    Unknown(&'a [u8]),
}

/// Scan `prefix`, a u32 and a newline, and nothing else.
fn ticket_line(buf: &[u8], prefix: &[u8]) -> Result<u32> {
    let rest = buf.strip_prefix(prefix).ok_or(Error::Malformed)?;
    let mut s = Scanner::new(rest);
    let v = s.u32()?;
    s.lit(b"\n")?;
    s.end(false)?;
    Ok(v)
}

impl<'a> SdDataCommand<'a> {
    /// Parse one command message.
    pub fn parse(buf: &'a [u8]) -> Result<Self> {
        let cmd = if buf == b"append open session\n" {
            SdDataCommand::AppendOpen
        } else if buf.starts_with(b"append data ") {
            SdDataCommand::AppendData {
                ticket: ticket_line(buf, b"append data ")?,
            }
        } else if buf.starts_with(b"append end session ") {
            SdDataCommand::AppendEnd {
                ticket: ticket_line(buf, b"append end session ")?,
            }
        } else if buf.starts_with(b"append close session ") {
            SdDataCommand::AppendClose {
                ticket: ticket_line(buf, b"append close session ")?,
            }
        } else if buf.starts_with(b"read open session = ") {
            let mut s = Scanner::new(buf.get(20..).unwrap_or(&[]));
            let volume = s.nonempty_word()?;
            if volume.len() > MAX_VOLUME_NAME_LEN {
                return Err(Error::FieldTooLong);
            }
            let mut n = [0u32; 6];
            for v in n.iter_mut() {
                s.lit(b" ")?;
                *v = s.u32()?;
            }
            s.lit(b"\n")?;
            s.end(false)?;
            let [vol_session_id, vol_session_time, start_file, end_file, start_block, end_block] =
                n;
            SdDataCommand::ReadOpen(ReadOpen {
                volume,
                vol_session_id,
                vol_session_time,
                start_file,
                end_file,
                start_block,
                end_block,
            })
        } else if buf.starts_with(b"read data ") {
            SdDataCommand::ReadData {
                ticket: ticket_line(buf, b"read data ")?,
            }
        } else if buf.starts_with(b"read close session ") {
            SdDataCommand::ReadClose {
                ticket: ticket_line(buf, b"read close session ")?,
            }
        } else {
            return Ok(SdDataCommand::Unknown(buf));
        };
        if cmd.buffer_len() != buf.len() {
            // Extra blanks or leading zeros: accepted by bsscanf, never sent by Bareos.
            return Err(Error::Malformed);
        }
        Ok(cmd)
    }

    fn write(&self, w: &mut Writer<'_>) {
        let (prefix, ticket): (&[u8], u32) = match *self {
            SdDataCommand::AppendOpen => {
                w.bytes(b"append open session\n");
                return;
            }
            SdDataCommand::AppendData { ticket } => (b"append data ", ticket),
            SdDataCommand::AppendEnd { ticket } => (b"append end session ", ticket),
            SdDataCommand::AppendClose { ticket } => (b"append close session ", ticket),
            SdDataCommand::ReadData { ticket } => (b"read data ", ticket),
            SdDataCommand::ReadClose { ticket } => (b"read close session ", ticket),
            SdDataCommand::ReadOpen(r) => {
                w.bytes(b"read open session = ");
                w.bytes(r.volume);
                for v in [
                    r.vol_session_id,
                    r.vol_session_time,
                    r.start_file,
                    r.end_file,
                    r.start_block,
                    r.end_block,
                ] {
                    w.byte(b' ');
                    w.u64(u64::from(v));
                }
                w.byte(b'\n');
                return;
            }
            SdDataCommand::Unknown(b) => {
                w.bytes(b);
                return;
            }
        };
        w.bytes(prefix);
        w.u64(u64::from(ticket));
        w.byte(b'\n');
    }
}

/// A reply of the SD on the data channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SdDataReply<'a> {
    /// `3000 OK open ticket = «ticket»⏎` (ticket = VolSessionId).
    OpenTicket {
        /// The session ticket.
        ticket: u32,
    },
    /// `3000 OK data⏎`: device ready (append) or volume mounted (read).
    Data,
    /// `3000 OK append data⏎`: the data phase ended well.
    AppendData,
    /// `3000 OK end⏎`.
    End,
    /// `3000 OK close Status = «status»⏎`: the job status letter as a number (84 `T`, 82 `R`).
    Close {
        /// The SD's job status, sent as the character's decimal value.
        status: JobStatus,
    },
    /// `3000 error⏎`: `read data` failed (no volume in the bootstrap).
    ReadError,
    /// `3900 Invalid command⏎`.
    InvalidCommand,
    /// `3901 Error session already open⏎`.
    SessionAlreadyOpen,
    /// `3902 Error session not opened⏎`.
    SessionNotOpened,
    /// `3903 Error append data⏎`.
    AppendDataError,
    /// `3999 Failed append⏎`.
    FailedAppend,
    /// Anything else, verbatim.
    Unknown(&'a [u8]),
}

const FIXED_REPLIES: &[(&[u8], SdDataReply<'static>)] = &[
    (b"3000 OK data\n", SdDataReply::Data),
    (b"3000 OK append data\n", SdDataReply::AppendData),
    (b"3000 OK end\n", SdDataReply::End),
    (b"3000 error\n", SdDataReply::ReadError),
    (b"3900 Invalid command\n", SdDataReply::InvalidCommand),
    (
        b"3901 Error session already open\n",
        SdDataReply::SessionAlreadyOpen,
    ),
    (
        b"3902 Error session not opened\n",
        SdDataReply::SessionNotOpened,
    ),
    (b"3903 Error append data\n", SdDataReply::AppendDataError),
    (b"3999 Failed append\n", SdDataReply::FailedAppend),
];

impl<'a> SdDataReply<'a> {
    /// Parse one reply message.
    pub fn parse(buf: &'a [u8]) -> Result<Self> {
        if let Some((_, r)) = FIXED_REPLIES.iter().find(|(b, _)| *b == buf) {
            return Ok(*r);
        }
        let r = if let Some(rest) = buf.strip_prefix(b"3000 OK open ticket = ") {
            let mut s = Scanner::new(rest);
            let ticket = s.u32()?;
            s.lit(b"\n")?;
            s.end(false)?;
            SdDataReply::OpenTicket { ticket }
        } else if let Some(rest) = buf.strip_prefix(b"3000 OK close Status = ") {
            let mut s = Scanner::new(rest);
            let status = JobStatus::from_decimal(s.u64()?)?;
            s.lit(b"\n")?;
            s.end(false)?;
            SdDataReply::Close { status }
        } else {
            return Ok(SdDataReply::Unknown(buf));
        };
        if r.buffer_len() != buf.len() {
            return Err(Error::Malformed);
        }
        Ok(r)
    }

    fn write(&self, w: &mut Writer<'_>) {
        match *self {
            SdDataReply::OpenTicket { ticket } => {
                w.bytes(b"3000 OK open ticket = ");
                w.u64(u64::from(ticket));
                w.byte(b'\n');
            }
            SdDataReply::Close { status } => {
                w.bytes(b"3000 OK close Status = ");
                w.u64(u64::from(status.to_u8()));
                w.byte(b'\n');
            }
            SdDataReply::Unknown(b) => w.bytes(b),
            ref fixed => {
                if let Some((b, _)) = FIXED_REPLIES.iter().find(|(_, r)| r == fixed) {
                    w.bytes(b);
                }
            }
        }
    }
}

codec_impl!(SdDataCommand<'_>, infallible);
codec_impl!(SdDataReply<'_>, infallible);

#[cfg(test)]
mod tests {
    use super::*;

    use crate::wire::test_util::emit_vec;

    #[test]
    fn test_parse_commands() {
        let cases: &[(&[u8], SdDataCommand<'_>)] = &[
            // vectors/clear-backup-full conn 4 msgs 8, 10, 50, 52.
            (b"append open session\n", SdDataCommand::AppendOpen),
            (b"append data 1\n", SdDataCommand::AppendData { ticket: 1 }),
            (
                b"append end session 1\n",
                SdDataCommand::AppendEnd { ticket: 1 },
            ),
            (
                b"append close session 1\n",
                SdDataCommand::AppendClose { ticket: 1 },
            ),
            // vectors/clear-restore conn 4 msgs 8, 10, 43.
            (
                b"read open session = DummyVolume 2 1795362432 0 0 0 0\n",
                SdDataCommand::ReadOpen(ReadOpen {
                    volume: b"DummyVolume",
                    vol_session_id: 2,
                    vol_session_time: 1_795_362_432,
                    start_file: 0,
                    end_file: 0,
                    start_block: 0,
                    end_block: 0,
                }),
            ),
            (b"read data 2\n", SdDataCommand::ReadData { ticket: 2 }),
            (
                b"read close session 2\n",
                SdDataCommand::ReadClose { ticket: 2 },
            ),
        ];
        for (bytes, cmd) in cases {
            assert_eq!(SdDataCommand::parse(bytes).unwrap(), *cmd);
            assert_eq!(emit_vec(cmd.buffer_len(), |b| cmd.emit(b)), *bytes);
        }
    }

    #[test]
    fn test_parse_replies() {
        let cases: &[(&[u8], SdDataReply<'_>)] = &[
            // vectors/clear-backup-full conn 4 msgs 9, 11, 49, 51, 53.
            (
                b"3000 OK open ticket = 1\n",
                SdDataReply::OpenTicket { ticket: 1 },
            ),
            (b"3000 OK data\n", SdDataReply::Data),
            (b"3000 OK append data\n", SdDataReply::AppendData),
            (b"3000 OK end\n", SdDataReply::End),
            (
                b"3000 OK close Status = 84\n",
                SdDataReply::Close {
                    status: JobStatus::Terminated,
                },
            ),
            // vectors/clear-restore conn 4 msg 44.
            (
                b"3000 OK close Status = 82\n",
                SdDataReply::Close {
                    status: JobStatus::Running,
                },
            ),
            (b"3999 Failed append\n", SdDataReply::FailedAppend),
        ];
        for (bytes, r) in cases {
            assert_eq!(SdDataReply::parse(bytes).unwrap(), *r);
            assert_eq!(emit_vec(r.buffer_len(), |b| r.emit(b)), *bytes);
        }
    }

    #[test]
    fn test_truncated() {
        assert_eq!(
            SdDataCommand::parse(b"append data 1"),
            Err(Error::Truncated)
        );
        assert_eq!(SdDataCommand::parse(b"append data "), Err(Error::Truncated));
        assert_eq!(
            SdDataCommand::parse(b"read open session = DummyVolume 2 1795362432 0 0 0\n"),
            Err(Error::Truncated)
        );
        assert_eq!(
            SdDataCommand::parse(b"read open session = DummyVolume 2 1795362432 0 0 0"),
            Err(Error::Truncated)
        );
        assert_eq!(
            SdDataReply::parse(b"3000 OK open ticket = 1"),
            Err(Error::Truncated)
        );
        // A truncated fixed reply is not that reply.
        assert_eq!(
            SdDataReply::parse(b"3000 OK data"),
            Ok(SdDataReply::Unknown(b"3000 OK data"))
        );
        let mut small = [0u8; 5];
        assert_eq!(
            SdDataCommand::AppendOpen.emit(&mut small),
            Err(Error::BufferTooSmall)
        );
    }

    #[test]
    fn test_impossible() {
        // A job status is one character: 256 and -1 are no status.
        assert_eq!(
            SdDataReply::parse(b"3000 OK close Status = 256\n"),
            Err(Error::BadNumber)
        );
        assert_eq!(
            SdDataReply::parse(b"3000 OK close Status = -1\n"),
            Err(Error::BadNumber)
        );
        assert_eq!(
            SdDataCommand::parse(b"append data 99999999999\n"),
            Err(Error::BadNumber)
        );
        assert_eq!(
            SdDataCommand::parse(b"append data -1\n"),
            Err(Error::BadNumber)
        );
        assert_eq!(
            SdDataCommand::parse(b"append data 1 \n"),
            Err(Error::Malformed)
        );
        assert_eq!(
            SdDataCommand::parse(b"append data 01\n"),
            Err(Error::Malformed)
        );
        let mut long = std::vec::Vec::from(&b"read open session = "[..]);
        long.extend(std::iter::repeat_n(b'v', 128));
        long.extend_from_slice(b" 1 2 0 0 0 0\n");
        assert_eq!(SdDataCommand::parse(&long), Err(Error::FieldTooLong));
        assert_eq!(
            SdDataCommand::parse(b"estimate\n"),
            Ok(SdDataCommand::Unknown(b"estimate\n"))
        );
        assert_eq!(
            SdDataReply::parse(b"3000 OK close Status = x\n"),
            Err(Error::BadNumber)
        );
    }

    proptest::proptest! {
        #[test]
        fn command_round_trip(kind in 0u8..7, t in proptest::num::u32::ANY,
                              vol in "[!-~]{1,127}", n in proptest::array::uniform6(proptest::num::u32::ANY)) {
            let cmd = match kind {
                0 => SdDataCommand::AppendOpen,
                1 => SdDataCommand::AppendData { ticket: t },
                2 => SdDataCommand::AppendEnd { ticket: t },
                3 => SdDataCommand::AppendClose { ticket: t },
                4 => SdDataCommand::ReadData { ticket: t },
                5 => SdDataCommand::ReadClose { ticket: t },
                _ => SdDataCommand::ReadOpen(ReadOpen { volume: vol.as_bytes(),
                    vol_session_id: n[0], vol_session_time: n[1], start_file: n[2],
                    end_file: n[3], start_block: n[4], end_block: n[5] }),
            };
            let b = emit_vec(cmd.buffer_len(), |x| cmd.emit(x));
            proptest::prop_assert_eq!(SdDataCommand::parse(&b).unwrap(), cmd);
        }

        #[test]
        fn reply_round_trip(kind in 0u8..11, t in proptest::num::u32::ANY, st in proptest::num::u8::ANY) {
            let r = match kind {
                0 => SdDataReply::OpenTicket { ticket: t },
                1 => SdDataReply::Close { status: JobStatus::from_u8(st) },
                k => FIXED_REPLIES[usize::from(k - 2)].1,
            };
            let b = emit_vec(r.buffer_len(), |x| r.emit(x));
            proptest::prop_assert_eq!(SdDataReply::parse(&b).unwrap(), r);
        }

        #[test]
        fn parse_never_panics(data in proptest::collection::vec(proptest::num::u8::ANY, 0..80)) {
            let _ = SdDataCommand::parse(&data);
            let _ = SdDataReply::parse(&data);
        }
    }
}
