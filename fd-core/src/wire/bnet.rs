//! bsock framing: the 4-byte header, the signals, and an incremental decoder and encoder.
//!
//! Every byte two Bareos daemons exchange outside TLS (and every plaintext byte inside it) is a
//! sequence of *bsock frames* (`core/src/lib/bsock_tcp.cc` `BareosSocketTCP::send`,
//! `SendPacket`, `recv`; `../shared/protocol/connect.md` §1):
//!
//! ```text
//!  0               4
//! +---------------+------------------------------+
//! | i32, big end. | payload (only if length > 0) |
//! +---------------+------------------------------+
//! ```
//!
//! - a positive header is the payload length, at most [`MAX_PACKET_SIZE`] on receive;
//! - zero is an *empty message*: `recv()` returns 0, which Bareos' loops treat as "nothing
//!   useful" (the Director's connection pool drops a parked client on it, connect.md §5.2);
//! - a negative header is a [`Signal`] and carries no payload. The table is
//!   `core/src/lib/bnet_protocol_signals.h` (connect.md §1.4). There are no flag bits: Bareos
//!   never compresses or extends the header (Bacula's `BNET_COMPRESSED` does not exist here).
//!
//! # Limits
//!
//! `BareosSocketTCP::send` splits a payload longer than [`MAX_MESSAGE_LEN`] (999,996) into
//! full 999,996-byte frames and a remainder, *without a continuation marker*: the receiver
//! sees independent messages. [`Encoder`] does exactly that. `recv` accepts any length up to
//! and including [`MAX_PACKET_SIZE`] (the check is `pktsiz > max_packet_size`, so a
//! 1,000,000-byte *payload* is legal on receive even though no Bareos sender produces one).
//! A larger value is logged as "Packet size too big" and then handled as `BNET_TERMINATE`:
//! the payload is not read and the socket is dead. [`Decoder`] reports it as
//! [`Error::FrameTooLong`], a sticky error; the caller should close the connection as Bareos
//! does. This is also how a pre-18.2 peer reacts to a TLS ClientHello (`16 03 01 ..` read as
//! a length), which the Director's handshake probing relies on (connect.md §1.2, §4).
//!
//! # Decoder design: whole frames or chunks
//!
//! [`Decoder`] is sans-IO: it owns a caller-supplied buffer (`B: AsMut<[u8]>`, e.g. a
//! `&mut [u8]`, an array or a `Vec`), is fed arbitrary slices of the byte stream (one byte at
//! a time, or many frames at once) and returns how much it consumed plus at most one
//! [`Frame`] per call. It never panics and never allocates.
//!
//! A payload that fits in the buffer is delivered whole as [`Frame::Data`]. A payload that
//! does not fit is handled by the [`Oversize`] policy chosen at construction:
//!
//! - [`Oversize::Reject`]: [`Error::BufferTooSmall`] (sticky). Right for control channels,
//!   whose messages are a few hundred bytes; a peer that sends more is misbehaving.
//! - [`Oversize::Stream`]: the payload is delivered as a sequence of [`Frame::Chunk`]s, each
//!   at most the buffer's size, carrying its offset and the frame's total length so the
//!   caller knows where the frame starts ([`Chunk::is_first`]) and ends ([`Chunk::is_last`]).
//!   This is how a device with, say, a 16 KiB buffer receives the 1,000,000-byte frames a
//!   restore may carry (connect.md §10 point 6). Frames that fit are still delivered whole.
//!
//! A zero-length frame is delivered as `Frame::Data(&[])`: it is a real message in Bareos and
//! some loops react to it, so hiding it would change behaviour.
//!
//! Signals are returned as they come, including [`Signal::Unknown`] for codes outside the
//! table (Bareos only logs "unknown signal" and keeps reading).

use core::fmt;

use super::{Error, Result};

/// Length of the frame header.
pub const HEADER_LEN: usize = 4;
/// Largest frame Bareos accepts on receive, `max_packet_size`: it bounds the *payload* length
/// field (the comment in `bsock_tcp.cc` says header plus data; the check does not).
pub const MAX_PACKET_SIZE: usize = 1_000_000;
/// Largest payload Bareos puts into one frame when sending, `max_message_len`.
pub const MAX_MESSAGE_LEN: usize = MAX_PACKET_SIZE - HEADER_LEN;

/// A bsock signal: a frame with a negative header and no payload
/// (`core/src/lib/bnet_protocol_signals.h`, connect.md §1.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Signal {
    /// -1 `BNET_EOD`: end of a multi-message reply or of a data stream.
    Eod,
    /// -2 `BNET_EOD_POLL`: EOD and please acknowledge.
    EodPoll,
    /// -3 `BNET_STATUS`: send full status.
    Status,
    /// -4 `BNET_TERMINATE`: the sender is closing the conversation.
    Terminate,
    /// -5 `BNET_POLL`: "I'm hanging on a read".
    Poll,
    /// -6 `BNET_HEARTBEAT`: keep-alive; ignored by every daemon loop.
    Heartbeat,
    /// -7 `BNET_HB_RESPONSE`: the only permitted answer to a heartbeat.
    HbResponse,
    /// -8 `BNET_xxxxxxPROMPT`: obsolete.
    Prompt,
    /// -9 `BNET_BTIME`: asks the Director for its clock (`btime <usec>\n`).
    Btime,
    /// -10 `BNET_BREAK`: stop the current command.
    Break,
    /// -11 `BNET_START_SELECT`: a selection list starts.
    StartSelect,
    /// -12 `BNET_END_SELECT`: the selection list ends.
    EndSelect,
    /// -13 `BNET_INVALID_CMD`: invalid command.
    InvalidCmd,
    /// -14 `BNET_CMD_FAILED`: the command failed (API mode).
    CmdFailed,
    /// -15 `BNET_CMD_OK`: the command succeeded (API mode).
    CmdOk,
    /// -16 `BNET_CMD_BEGIN`: a command starts (API mode).
    CmdBegin,
    /// -17 `BNET_MSGS_PENDING`: messages are pending (API mode).
    MsgsPending,
    /// -18 `BNET_MAIN_PROMPT`: the Director waits for the next command (API mode).
    MainPrompt,
    /// -19 `BNET_SELECT_INPUT`: return selection input.
    SelectInput,
    /// -20 `BNET_WARNING_MSG`.
    WarningMsg,
    /// -21 `BNET_ERROR_MSG`.
    ErrorMsg,
    /// -22 `BNET_INFO_MSG`.
    InfoMsg,
    /// -23 `BNET_RUN_CMD`: a run command follows.
    RunCmd,
    /// -24 `BNET_YESNO`: ask for yes or no.
    YesNo,
    /// -25 `BNET_START_RTREE`: restore-tree mode starts.
    StartRtree,
    /// -26 `BNET_END_RTREE`: restore-tree mode ends.
    EndRtree,
    /// -27 `BNET_SUB_PROMPT`: at a sub-prompt.
    SubPrompt,
    /// -28 `BNET_TEXT_INPUT`: ask for text input.
    TextInput,
    /// Any other header value ≤ 0 that is not in the table (never 0 itself, which is an
    /// empty message, and never positive).
    Unknown(i32),
}

/// The table in wire order: index `i` holds code `-(i + 1)`.
const SIGNALS: [(Signal, &str); 28] = [
    (Signal::Eod, "EOD"),
    (Signal::EodPoll, "EOD_POLL"),
    (Signal::Status, "STATUS"),
    (Signal::Terminate, "TERMINATE"),
    (Signal::Poll, "POLL"),
    (Signal::Heartbeat, "HEARTBEAT"),
    (Signal::HbResponse, "HB_RESPONSE"),
    (Signal::Prompt, "xxxxxxPROMPT"),
    (Signal::Btime, "BTIME"),
    (Signal::Break, "BREAK"),
    (Signal::StartSelect, "START_SELECT"),
    (Signal::EndSelect, "END_SELECT"),
    (Signal::InvalidCmd, "INVALID_CMD"),
    (Signal::CmdFailed, "CMD_FAILED"),
    (Signal::CmdOk, "CMD_OK"),
    (Signal::CmdBegin, "CMD_BEGIN"),
    (Signal::MsgsPending, "MSGS_PENDING"),
    (Signal::MainPrompt, "MAIN_PROMPT"),
    (Signal::SelectInput, "SELECT_INPUT"),
    (Signal::WarningMsg, "WARNING_MSG"),
    (Signal::ErrorMsg, "ERROR_MSG"),
    (Signal::InfoMsg, "INFO_MSG"),
    (Signal::RunCmd, "RUN_CMD"),
    (Signal::YesNo, "YESNO"),
    (Signal::StartRtree, "START_RTREE"),
    (Signal::EndRtree, "END_RTREE"),
    (Signal::SubPrompt, "SUB_PROMPT"),
    (Signal::TextInput, "TEXT_INPUT"),
];

impl Signal {
    /// The signal for a header value. Values in the table map to their name; anything else
    /// (including 0 or a positive value, which are not signals at all) is `Unknown`.
    pub fn from_code(code: i32) -> Signal {
        let idx = code.checked_neg().and_then(|n| usize::try_from(n - 1).ok());
        match idx.and_then(|i| SIGNALS.get(i)) {
            Some(&(s, _)) => s,
            None => Signal::Unknown(code),
        }
    }

    /// The header value on the wire.
    pub fn code(self) -> i32 {
        if let Signal::Unknown(c) = self {
            return c;
        }
        match SIGNALS.iter().position(|(s, _)| *s == self) {
            // i < 28, so the cast and the negation cannot overflow.
            Some(i) => -(i as i32) - 1,
            None => 0,
        }
    }

    /// The Bareos name without the `BNET_` prefix ("EOD", "TERMINATE", ...), as the capture
    /// transcripts print it; `"UNKNOWN"` for an unknown code.
    pub fn name(self) -> &'static str {
        match self {
            Signal::Unknown(_) => "UNKNOWN",
            s => SIGNALS
                .iter()
                .find(|(t, _)| *t == s)
                .map_or("UNKNOWN", |(_, n)| n),
        }
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Signal::Unknown(c) => write!(f, "UNKNOWN({c})"),
            s => f.write_str(s.name()),
        }
    }
}

/// A decoded frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Header {
    /// A payload of this many bytes follows (0 = empty message).
    Data(usize),
    /// A signal; no payload follows.
    Signal(Signal),
}

impl Header {
    /// Parse the first [`HEADER_LEN`] bytes of `bytes` (extra bytes are ignored).
    ///
    /// Errors: [`Error::Truncated`] with fewer than 4 bytes, [`Error::FrameTooLong`] for a
    /// length above [`MAX_PACKET_SIZE`].
    pub fn parse(bytes: &[u8]) -> Result<Header> {
        let raw: [u8; HEADER_LEN] = bytes
            .get(..HEADER_LEN)
            .and_then(|b| b.try_into().ok())
            .ok_or(Error::Truncated)?;
        Header::from_raw(i32::from_be_bytes(raw))
    }

    /// Interpret a raw header value.
    pub fn from_raw(v: i32) -> Result<Header> {
        if v < 0 {
            Ok(Header::Signal(Signal::from_code(v)))
        } else {
            // v >= 0 fits in usize on every target we build for (>= 32 bit).
            let len = usize::try_from(v).map_err(|_| Error::FrameTooLong)?;
            if len > MAX_PACKET_SIZE {
                Err(Error::FrameTooLong)
            } else {
                Ok(Header::Data(len))
            }
        }
    }

    /// The raw header value.
    pub fn raw(&self) -> i32 {
        match *self {
            // Data lengths are <= MAX_PACKET_SIZE when built by parse; saturate otherwise.
            Header::Data(n) => i32::try_from(n).unwrap_or(i32::MAX),
            Header::Signal(s) => s.code(),
        }
    }

    /// Bytes [`Header::emit`] writes: always [`HEADER_LEN`].
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Write the 4 header bytes. A `Data` length above [`MAX_PACKET_SIZE`] is
    /// [`Error::FrameTooLong`].
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        if let Header::Data(n) = *self {
            if n > MAX_PACKET_SIZE {
                return Err(Error::FrameTooLong);
            }
        }
        let dst = buf.get_mut(..HEADER_LEN).ok_or(Error::BufferTooSmall)?;
        dst.copy_from_slice(&self.raw().to_be_bytes());
        Ok(HEADER_LEN)
    }
}

/// Write one signal frame (4 bytes).
pub fn emit_signal(signal: Signal, buf: &mut [u8]) -> Result<usize> {
    Header::Signal(signal).emit(buf)
}

/// Write one data frame: header and `payload`, which must be at most [`MAX_MESSAGE_LEN`]
/// bytes (use [`Encoder`] for longer payloads). Returns the total length written.
pub fn emit_frame(payload: &[u8], buf: &mut [u8]) -> Result<usize> {
    if payload.len() > MAX_MESSAGE_LEN {
        return Err(Error::FrameTooLong);
    }
    let total = HEADER_LEN + payload.len();
    let out = buf.get_mut(..total).ok_or(Error::BufferTooSmall)?;
    let (hdr, body) = out.split_at_mut(HEADER_LEN);
    Header::Data(payload.len()).emit(hdr)?;
    body.copy_from_slice(payload);
    Ok(total)
}

/// Splits one logical message into frames exactly as `BareosSocketTCP::send` does: full
/// [`MAX_MESSAGE_LEN`]-byte frames, then the remainder; an empty payload is one frame with
/// header 0. Each call to [`Encoder::next_frame`] writes one complete frame (header and data)
/// so that the caller can hand it to the socket in a single write, as `SendPacket` does.
#[derive(Debug, Clone)]
pub struct Encoder<'p> {
    payload: &'p [u8],
    pos: usize,
    done: bool,
}

impl<'p> Encoder<'p> {
    /// Start encoding `payload`.
    pub const fn new(payload: &'p [u8]) -> Self {
        Self {
            payload,
            pos: 0,
            done: false,
        }
    }

    /// Length of the next frame [`Encoder::next_frame`] will write, or `None` when finished.
    pub fn next_len(&self) -> Option<usize> {
        if self.done {
            return None;
        }
        let rest = self.payload.len().saturating_sub(self.pos);
        Some(HEADER_LEN + rest.min(MAX_MESSAGE_LEN))
    }

    /// Write the next frame into `buf`; `Ok(None)` when every frame has been written. A
    /// buffer too small for the frame is [`Error::BufferTooSmall`] and nothing is consumed.
    pub fn next_frame(&mut self, buf: &mut [u8]) -> Result<Option<usize>> {
        if self.done {
            return Ok(None);
        }
        let rest = self.payload.get(self.pos..).unwrap_or(&[]);
        let chunk = rest.get(..MAX_MESSAGE_LEN).unwrap_or(rest);
        let n = emit_frame(chunk, buf)?;
        self.pos += chunk.len();
        if self.pos >= self.payload.len() {
            self.done = true;
        }
        Ok(Some(n))
    }

    /// Total bytes on the wire for the whole payload.
    pub fn total_len(&self) -> usize {
        let n = self.payload.len();
        let frames = n.div_ceil(MAX_MESSAGE_LEN).max(1);
        n + frames * HEADER_LEN
    }
}

/// What [`Decoder`] does with a payload larger than its buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Oversize {
    /// Fail with [`Error::BufferTooSmall`] (sticky).
    Reject,
    /// Deliver the payload in [`Frame::Chunk`]s of at most the buffer's size.
    Stream,
}

/// One piece of a payload larger than the decoder's buffer ([`Oversize::Stream`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Chunk<'a> {
    /// The bytes of this piece.
    pub data: &'a [u8],
    /// Offset of `data` within the frame's payload.
    pub offset: usize,
    /// The frame's whole payload length, from its header.
    pub total: usize,
}

impl Chunk<'_> {
    /// True for the first piece of a frame.
    pub const fn is_first(&self) -> bool {
        self.offset == 0
    }

    /// True for the last piece of a frame.
    pub const fn is_last(&self) -> bool {
        self.offset + self.data.len() >= self.total
    }
}

/// One event from the [`Decoder`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Frame<'a> {
    /// A complete payload (possibly empty).
    Data(&'a [u8]),
    /// A piece of a payload larger than the buffer (only with [`Oversize::Stream`]).
    Chunk(Chunk<'a>),
    /// A signal frame.
    Signal(Signal),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Collecting the header; `have` bytes of `hdr` are valid.
    Header { hdr: [u8; HEADER_LEN], have: u8 },
    /// Collecting a payload of `total` bytes of which `done` were delivered as chunks and
    /// `fill` sit in the buffer.
    Payload {
        total: usize,
        done: usize,
        fill: usize,
    },
    /// A sticky error.
    Failed(Error),
}

const START: State = State::Header {
    hdr: [0; HEADER_LEN],
    have: 0,
};

/// Incremental bsock frame decoder over a caller-owned buffer; see the module docs.
///
/// Calling convention: call [`Decoder::decode`] with the bytes received so far; it returns
/// the number of bytes consumed and maybe a frame. Drop the frame, advance the input by the
/// consumed count and call again until the input is used up *and* no frame was returned.
#[derive(Debug)]
pub struct Decoder<B> {
    buf: B,
    oversize: Oversize,
    state: State,
}

impl<B: AsMut<[u8]> + AsRef<[u8]>> Decoder<B> {
    /// A decoder that stores payloads in `buf` and handles bigger ones as `oversize` says.
    pub fn new(buf: B, oversize: Oversize) -> Self {
        Self {
            buf,
            oversize,
            state: START,
        }
    }

    /// True between frames (no partial header or payload pending). A connection that ends
    /// here ended cleanly; anywhere else it was cut (Bareos: `BNET_HARDEOF` or `BNET_ERROR`).
    pub fn is_idle(&self) -> bool {
        matches!(self.state, State::Header { have: 0, .. })
    }

    /// The sticky error, if the decoder failed.
    pub fn error(&self) -> Option<Error> {
        match self.state {
            State::Failed(e) => Some(e),
            _ => None,
        }
    }

    /// Give the buffer back.
    pub fn into_inner(self) -> B {
        self.buf
    }

    /// Feed `input`; returns the bytes consumed and at most one frame.
    ///
    /// Errors are sticky: [`Error::FrameTooLong`] (Bareos hangs up as on `BNET_TERMINATE`)
    /// and, with [`Oversize::Reject`], [`Error::BufferTooSmall`].
    pub fn decode(&mut self, input: &[u8]) -> Result<(usize, Option<Frame<'_>>)> {
        let mut used = 0;
        loop {
            match self.state {
                State::Failed(e) => return Err(e),
                State::Header { mut hdr, mut have } => {
                    while usize::from(have) < HEADER_LEN {
                        let Some(&b) = input.get(used) else {
                            self.state = State::Header { hdr, have };
                            return Ok((used, None));
                        };
                        hdr[usize::from(have)] = b;
                        have += 1;
                        used += 1;
                    }
                    let header = match Header::parse(&hdr) {
                        Ok(h) => h,
                        Err(e) => {
                            self.state = State::Failed(e);
                            return Err(e);
                        }
                    };
                    match header {
                        Header::Signal(s) => {
                            self.state = START;
                            return Ok((used, Some(Frame::Signal(s))));
                        }
                        Header::Data(0) => {
                            self.state = START;
                            return Ok((used, Some(Frame::Data(&[]))));
                        }
                        Header::Data(total) => {
                            let cap = self.buf.as_ref().len();
                            if total > cap && (self.oversize == Oversize::Reject || cap == 0) {
                                self.state = State::Failed(Error::BufferTooSmall);
                                return Err(Error::BufferTooSmall);
                            }
                            self.state = State::Payload {
                                total,
                                done: 0,
                                fill: 0,
                            };
                        }
                    }
                }
                State::Payload { total, done, fill } => {
                    let buf = self.buf.as_mut();
                    let want = (total - done).min(buf.len());
                    let rest = input.get(used..).unwrap_or(&[]);
                    let take = (want - fill).min(rest.len());
                    if let (Some(dst), Some(src)) =
                        (buf.get_mut(fill..fill + take), rest.get(..take))
                    {
                        dst.copy_from_slice(src);
                    }
                    used += take;
                    let fill = fill + take;
                    if fill < want {
                        self.state = State::Payload { total, done, fill };
                        return Ok((used, None));
                    }
                    // The buffer holds `want` bytes: a whole frame, or a full chunk.
                    let data = self.buf.as_ref().get(..fill).unwrap_or(&[]);
                    if done == 0 && fill == total {
                        self.state = START;
                        return Ok((used, Some(Frame::Data(data))));
                    }
                    let chunk = Chunk {
                        data,
                        offset: done,
                        total,
                    };
                    self.state = if done + fill >= total {
                        START
                    } else {
                        State::Payload {
                            total,
                            done: done + fill,
                            fill: 0,
                        }
                    };
                    return Ok((used, Some(Frame::Chunk(chunk))));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::vec::Vec;

    use super::*;

    // vectors/clear-status-client-storage, conn 2 msg 1 (Director -> FD hello, len 51).
    static HELLO_FRAME: &[u8] =
        b"\x00\x00\x00\x33Hello Director bareos-dir calling Version=\"26.0.0\"\n";
    // vectors/clear-status-client-storage, conn 2 msgs 25-26: EOD, TERMINATE.
    static EOD: &[u8] = b"\xff\xff\xff\xff";
    static TERMINATE: &[u8] = b"\xff\xff\xff\xfc";

    #[test]
    fn test_signal_table() {
        for (i, (s, name)) in SIGNALS.iter().enumerate() {
            let code = -(i as i32) - 1;
            assert_eq!(Signal::from_code(code), *s);
            assert_eq!(s.code(), code);
            assert_eq!(s.name(), *name);
        }
        assert_eq!(Signal::Eod.code(), -1);
        assert_eq!(Signal::Terminate.code(), -4);
        assert_eq!(Signal::Heartbeat.code(), -6);
        assert_eq!(Signal::Btime.code(), -9);
        assert_eq!(Signal::CmdOk.code(), -15);
        assert_eq!(Signal::CmdBegin.code(), -16);
        assert_eq!(Signal::MainPrompt.code(), -18);
        assert_eq!(Signal::TextInput.code(), -28);
        assert_eq!(Signal::from_code(-29), Signal::Unknown(-29));
        assert_eq!(Signal::from_code(i32::MIN), Signal::Unknown(i32::MIN));
        assert_eq!(Signal::Unknown(-100).code(), -100);
        assert_eq!(Signal::Terminate.name(), "TERMINATE");
    }

    #[test]
    fn test_header_parse_emit() {
        assert_eq!(Header::parse(HELLO_FRAME), Ok(Header::Data(51)));
        assert_eq!(Header::parse(EOD), Ok(Header::Signal(Signal::Eod)));
        assert_eq!(
            Header::parse(TERMINATE),
            Ok(Header::Signal(Signal::Terminate))
        );
        let mut b = [0u8; 4];
        Header::Signal(Signal::Terminate).emit(&mut b).unwrap();
        assert_eq!(&b, TERMINATE);
        Header::Data(51).emit(&mut b).unwrap();
        assert_eq!(&b, &HELLO_FRAME[..4]);
    }

    #[test]
    fn test_truncated_and_impossible() {
        assert_eq!(Header::parse(&[0, 0, 0]), Err(Error::Truncated));
        // 1,000,000 is the last accepted length; 1,000,001 is too long.
        assert_eq!(
            Header::parse(&1_000_000i32.to_be_bytes()),
            Ok(Header::Data(MAX_PACKET_SIZE))
        );
        assert_eq!(
            Header::parse(&1_000_001i32.to_be_bytes()),
            Err(Error::FrameTooLong)
        );
        // A TLS ClientHello read as a bsock header (connect.md §1.2).
        assert_eq!(
            Header::parse(&[0x16, 0x03, 0x01, 0x02]),
            Err(Error::FrameTooLong)
        );
        let mut b = [0u8; 3];
        assert_eq!(
            Header::Signal(Signal::Eod).emit(&mut b),
            Err(Error::BufferTooSmall)
        );
        assert_eq!(
            Header::Data(MAX_PACKET_SIZE + 1).emit(&mut [0u8; 4]),
            Err(Error::FrameTooLong)
        );
    }

    /// Decode a whole byte stream fed in pieces of `step` bytes.
    fn decode_all(stream: &[u8], step: usize, buf_len: usize, mode: Oversize) -> Vec<Owned> {
        let mut dec = Decoder::new(std::vec![0u8; buf_len], mode);
        let mut out = Vec::new();
        for piece in stream.chunks(step.max(1)) {
            let mut input = piece;
            loop {
                let (n, f) = dec.decode(input).unwrap();
                input = &input[n..];
                match f {
                    Some(Frame::Data(d)) => out.push(Owned::Data(d.to_vec())),
                    Some(Frame::Chunk(c)) => {
                        out.push(Owned::Chunk(c.data.to_vec(), c.offset, c.total))
                    }
                    Some(Frame::Signal(s)) => out.push(Owned::Signal(s)),
                    None => {
                        assert!(input.is_empty());
                        break;
                    }
                }
            }
        }
        assert!(dec.is_idle());
        out
    }

    #[derive(Debug, PartialEq)]
    enum Owned {
        Data(Vec<u8>),
        Chunk(Vec<u8>, usize, usize),
        Signal(Signal),
    }

    #[test]
    fn test_decoder_captured_stream() {
        let mut stream = Vec::new();
        stream.extend_from_slice(HELLO_FRAME);
        stream.extend_from_slice(&[0, 0, 0, 0]);
        stream.extend_from_slice(EOD);
        stream.extend_from_slice(TERMINATE);
        for step in [1, 2, 3, 5, 7, 54, 1000] {
            let got = decode_all(&stream, step, 64, Oversize::Reject);
            assert_eq!(
                got,
                std::vec![
                    Owned::Data(HELLO_FRAME[4..].to_vec()),
                    Owned::Data(Vec::new()),
                    Owned::Signal(Signal::Eod),
                    Owned::Signal(Signal::Terminate),
                ],
                "step {step}"
            );
        }
    }

    #[test]
    fn test_decoder_streams_oversize() {
        let payload: Vec<u8> = (0..100u8).collect();
        let mut stream = Vec::new();
        stream.extend_from_slice(&100i32.to_be_bytes());
        stream.extend_from_slice(&payload);
        stream.extend_from_slice(EOD);
        let got = decode_all(&stream, 13, 32, Oversize::Stream);
        assert_eq!(
            got,
            std::vec![
                Owned::Chunk(payload[..32].to_vec(), 0, 100),
                Owned::Chunk(payload[32..64].to_vec(), 32, 100),
                Owned::Chunk(payload[64..96].to_vec(), 64, 100),
                Owned::Chunk(payload[96..].to_vec(), 96, 100),
                Owned::Signal(Signal::Eod),
            ]
        );
    }

    #[test]
    fn test_decoder_receives_max_frame_with_small_buffer() {
        let mut stream = std::vec![0u8; HEADER_LEN + MAX_PACKET_SIZE];
        stream[..4].copy_from_slice(&(MAX_PACKET_SIZE as i32).to_be_bytes());
        for (i, b) in stream[4..].iter_mut().enumerate() {
            *b = (i % 251) as u8;
        }
        let mut dec = Decoder::new([0u8; 4096], Oversize::Stream);
        let mut input = &stream[..];
        let mut seen = 0usize;
        let mut last = false;
        while !input.is_empty() {
            let (n, f) = dec.decode(input).unwrap();
            input = &input[n..];
            if let Some(Frame::Chunk(c)) = f {
                assert_eq!(c.offset, seen);
                assert_eq!(c.total, MAX_PACKET_SIZE);
                for (k, b) in c.data.iter().enumerate() {
                    assert_eq!(*b, ((seen + k) % 251) as u8);
                }
                seen += c.data.len();
                last = c.is_last();
            }
        }
        assert_eq!(seen, MAX_PACKET_SIZE);
        assert!(last && dec.is_idle());
    }

    #[test]
    fn test_decoder_errors_are_sticky() {
        let mut dec = Decoder::new([0u8; 8], Oversize::Reject);
        assert_eq!(
            dec.decode(&1_000_001i32.to_be_bytes()).map(|r| r.0),
            Err(Error::FrameTooLong)
        );
        assert_eq!(dec.decode(EOD).map(|r| r.0), Err(Error::FrameTooLong));
        assert_eq!(dec.error(), Some(Error::FrameTooLong));

        let mut dec = Decoder::new([0u8; 8], Oversize::Reject);
        assert_eq!(
            dec.decode(&9i32.to_be_bytes()).map(|r| r.0),
            Err(Error::BufferTooSmall)
        );
        let mut dec = Decoder::new([0u8; 0], Oversize::Stream);
        assert_eq!(
            dec.decode(&1i32.to_be_bytes()).map(|r| r.0),
            Err(Error::BufferTooSmall)
        );
        // An empty buffer still receives signals and empty frames.
        let mut dec = Decoder::new([0u8; 0], Oversize::Stream);
        assert_eq!(
            dec.decode(&[0, 0, 0, 0]).unwrap(),
            (4, Some(Frame::Data(&[])))
        );
    }

    #[test]
    fn test_decoder_truncated_is_not_idle() {
        let mut dec = Decoder::new([0u8; 64], Oversize::Reject);
        let (n, f) = dec.decode(&HELLO_FRAME[..20]).unwrap();
        assert_eq!((n, f), (20, None));
        assert!(!dec.is_idle());
    }

    #[test]
    fn test_encoder_splits_like_bareos() {
        let payload = std::vec![7u8; 2 * MAX_MESSAGE_LEN + 10];
        let mut enc = Encoder::new(&payload);
        assert_eq!(enc.total_len(), payload.len() + 12);
        let mut buf = std::vec![0u8; MAX_PACKET_SIZE];
        let mut lens = Vec::new();
        while let Some(n) = enc.next_frame(&mut buf).unwrap() {
            assert_eq!(Header::parse(&buf), Ok(Header::Data(n - 4)));
            lens.push(n);
        }
        assert_eq!(lens, std::vec![MAX_PACKET_SIZE, MAX_PACKET_SIZE, 14]);

        let mut enc = Encoder::new(b"");
        assert_eq!(enc.next_frame(&mut buf).unwrap(), Some(4));
        assert_eq!(&buf[..4], &[0, 0, 0, 0]);
        assert_eq!(enc.next_frame(&mut buf).unwrap(), None);

        let mut small = [0u8; 10];
        let mut enc = Encoder::new(&HELLO_FRAME[4..]);
        assert_eq!(enc.next_frame(&mut small), Err(Error::BufferTooSmall));
        let mut out = [0u8; 64];
        assert_eq!(enc.next_frame(&mut out), Ok(Some(55)));
        assert_eq!(&out[..55], HELLO_FRAME);
        assert_eq!(emit_signal(Signal::Eod, &mut out), Ok(4));
        assert_eq!(&out[..4], EOD);
    }

    proptest::proptest! {
        #[test]
        fn prop_frames_round_trip(
            payloads in proptest::collection::vec(
                proptest::collection::vec(proptest::num::u8::ANY, 0..80), 0..8),
            signals in proptest::collection::vec(-40i32..0, 0..8),
            step in 1usize..40,
            buf_len in 1usize..100,
        ) {
            let mut stream = Vec::new();
            let mut expect = Vec::new();
            for (i, p) in payloads.iter().enumerate() {
                let mut b = std::vec![0u8; p.len() + 4];
                emit_frame(p, &mut b).unwrap();
                stream.extend_from_slice(&b);
                if p.len() <= buf_len {
                    expect.push(Owned::Data(p.clone()));
                } else {
                    let mut off = 0;
                    for c in p.chunks(buf_len) {
                        expect.push(Owned::Chunk(c.to_vec(), off, p.len()));
                        off += c.len();
                    }
                }
                if let Some(&s) = signals.get(i) {
                    let s = Signal::from_code(s);
                    stream.extend_from_slice(&s.code().to_be_bytes());
                    expect.push(Owned::Signal(s));
                }
            }
            let got = decode_all(&stream, step, buf_len, Oversize::Stream);
            proptest::prop_assert_eq!(got, expect);
        }

        #[test]
        fn prop_decoder_never_panics(data in proptest::collection::vec(proptest::num::u8::ANY, 0..200), step in 1usize..20) {
            let mut dec = Decoder::new([0u8; 16], Oversize::Stream);
            for piece in data.chunks(step) {
                let mut input = piece;
                while let Ok((n, f)) = dec.decode(input) {
                    input = &input[n..];
                    if f.is_none() { break; }
                }
            }
        }
    }
}
