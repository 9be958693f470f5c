//! The decoding engine: one state machine per connection that follows a Bareos conversation
//! and hands every bsock frame to the fd-core codec that owns it.
//!
//! # Why a state machine
//!
//! Most Bareos frames cannot be classified by their bytes alone. A line `Count=3⏎` is a
//! bootstrap line only because the Director sent `bootstrap⏎` before it; `1 1 0` is a data
//! header only inside an `append data` phase; a 262,144-byte frame is file data only because
//! the header or `rechdr` before it said which stream follows. The daemons know this from
//! their own state (`core/src/filed/dir_cmd.cc`, `core/src/stored/append.cc`,
//! `core/src/stored/read.cc`, `core/src/dird/getmsg.cc`); the dissector has to rebuild that
//! state from what it sees, exactly as a receiving daemon would.
//!
//! # Phases of every connection (`../shared/protocol/connect.md` §2)
//!
//! 1. **Hello** — the TCP client's first frame ([`fd_core::wire::hello::Hello`]). It names the
//!    connection type: a console (`Hello *UserAgent* calling …`), a Director
//!    (`Hello Director …`, to an FD *or* an SD: the acceptor's CRAM-MD5 challenge, which names
//!    it `R_CLIENT::…` or `R_STORAGE::…`, or its greeting decides), a client-initiated FD
//!    (`Hello Client …`), an FD opening the data channel (`Hello Start Job …`), a passive SD
//!    dialling the FD (`Hello Storage calling Start Job …`) or an SD replicating to an SD.
//! 2. **Auth** — CRAM-MD5 both ways ([`fd_core::wire::cram_md5`]): the acceptor challenges,
//!    the initiator answers, the acceptor replies `1000 OK auth`; then the other way round.
//!    A `1999 Authorization failed.` moves the connection to [`Phase::AuthFailed`].
//! 3. **Greeting** — the acceptor's OK: `2000 OK Hello 54` (FD), `3000 OK Hello` (SD),
//!    `1000 OK: …⏎` to a client-initiated FD ([`fd_core::wire::hello::HelloReply`]), or the
//!    console's response messages `1000`/`1002` ([`fd_core::wire::console`]). Data channels
//!    have none.
//! 4. **Command** — the command set of the connection type:
//!    - Director → FD (either TCP direction): [`DirCommand`] and [`FdReply`] (which also
//!      covers the FD's `Jmsg`), with the payload frames a command announces
//!      ([`DirCommand::payload`]: fileset lines, accurate entries, bootstrap lines up to the
//!      Director's EOD), status frames after `status`/`.status` up to the FD's EOD, and
//!      `ls` lines after `estimate` up to its `2000 OK estimate` reply;
//!    - Director → SD: [`DirToSd`] and [`SdToDir`] (`CatReq`, `UpdCat` with its embedded
//!      attribute or digest record, `Jmsg`), bsr lines after `bootstrap⏎` up to EOD (grouped
//!      into entries with [`fd_core::wire::bsr::entries`] at the EOD), status frames after
//!      `status`/`.status`;
//!    - FD ↔ SD data channel (FD→SD, or SD→FD when the client is passive): the FD's
//!      [`SdDataCommand`]s, the SD's [`SdDataReply`]s; after `append data` the FD's record
//!      headers and records, tracked by [`AppendTracker`]; after `read data` and `3000 OK
//!      data` the SD's `rechdr` + record pairs, tracked by [`RestoreTracker`]. Each record is
//!      decoded by the stream its header announced ([`Record::parse`]);
//!    - console → Director: commands and listings are free text ([`ConsoleText`] in the
//!      output), except `.api` commands ([`ApiCommand`]) and, in API mode 2, the JSON-RPC
//!      results, which must be valid JSON.
//!
//! TLS connections (`psk-*` captures) are listed record by record; the ClientHello is walked
//! to its `pre_shared_key` extension to show the PSK identity
//! ([`fd_core::wire::psk::PskIdentity`]).
//!
//! # What a decoded message carries
//!
//! A [`Decoded`]: the type name (`DirCommand::JobStart`), its fields in short human form (see
//! [`crate::show`]), and, because Barque implements every daemon whose frames appear here, the
//! bytes fd-core's codec re-emits for the decoded value, compared with the captured ones
//! ([`Reemit`]). A frame that does not decode carries an error; one whose decoded form holds an
//! `Unknown(..)` arm anywhere is flagged. The fixture test `tests/fixtures.rs` requires neither
//! to happen on any capture, and every re-emit to be byte-identical.
//!
//! [`ConsoleText`]: Decoded::kind

use std::collections::BTreeMap;
use std::fmt::Debug;

use fd_core::wire::bnet::Signal;
use fd_core::wire::bsr::{self, BsrLine};
use fd_core::wire::console::{ApiCommand, ApiMode, Banner, ResponseId, ResponseMessage};
use fd_core::wire::cram_md5::{AuthReply, ChallengeRepr, ResponseRepr, Token};
use fd_core::wire::dir_cmd::{AccurateEntry, BootstrapLine, DirCommand, FdReply, LsLine, Payload};
use fd_core::wire::fileset::FilesetLine;
use fd_core::wire::hello::{Hello, HelloReply};
use fd_core::wire::psk::{PskIdentity, ResourceType};
use fd_core::wire::sd_cmd::{SdDataCommand, SdDataReply};
use fd_core::wire::sd_ctl::{DirToSd, SdToDir};
use fd_core::wire::status::StatusFrame;
use fd_core::wire::stream::{AppendEvent, AppendTracker, RestoreEvent, RestoreTracker, StreamType};
use fd_core::wire::{self, attr::Record};

use crate::capture::{Connection, Direction};
use crate::frames::{Body, Message};
use crate::show;

/// What a connection is, as identified from its hello (and, for a Director, the acceptor's
/// challenge or greeting).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnKind {
    /// Not identified yet (no hello seen) or not identifiable.
    Unidentified,
    /// bconsole, a named console or a tray monitor → Director.
    Console,
    /// A Director (or a tray monitor acting as one) whose peer is not known yet.
    Director,
    /// Director → File daemon: job, status, estimate and cancel commands.
    DirectorToFd,
    /// File daemon → Director (`Connection From Director = …`): the Director then sends
    /// commands over it as over a Director → FD connection.
    ClientInitiated,
    /// Director → Storage daemon: job setup, catalog requests, status, cancel.
    DirectorToSd,
    /// File daemon → Storage daemon: the data channel of a job.
    FdToSd,
    /// Storage daemon → File daemon: the data channel of a passive client.
    PassiveSdToFd,
    /// Storage daemon → Storage daemon (copy, migrate).
    SdToSd,
    /// A TLS connection: records only.
    Tls,
}

impl ConnKind {
    /// How the connection is described in a connection header.
    pub fn describe(self) -> &'static str {
        match self {
            ConnKind::Unidentified => "unidentified connection",
            ConnKind::Console => "console -> Director (command session)",
            ConnKind::Director => "Director -> daemon (peer not identified)",
            ConnKind::DirectorToFd => "Director -> File daemon (command channel)",
            ConnKind::ClientInitiated => {
                "File daemon -> Director, client-initiated (Director commands flow back)"
            }
            ConnKind::DirectorToSd => "Director -> Storage daemon (job control, catalog)",
            ConnKind::FdToSd => "File daemon -> Storage daemon (data channel)",
            ConnKind::PassiveSdToFd => "Storage daemon -> File daemon (passive data channel)",
            ConnKind::SdToSd => "Storage daemon -> Storage daemon (replication)",
            ConnKind::Tls => "TLS-PSK connection (encrypted records)",
        }
    }

    /// The roles of (TCP client, TCP server), as the transcripts name them.
    fn roles(self) -> Option<(&'static str, &'static str)> {
        Some(match self {
            ConnKind::Console => ("con", "dir"),
            ConnKind::DirectorToFd => ("dir", "fd"),
            ConnKind::ClientInitiated => ("fd", "dir"),
            ConnKind::DirectorToSd => ("dir", "sd"),
            ConnKind::FdToSd => ("fd", "sd"),
            ConnKind::PassiveSdToFd => ("sd", "fd"),
            ConnKind::SdToSd => ("sd", "sd"),
            ConnKind::Director | ConnKind::Unidentified | ConnKind::Tls => return None,
        })
    }
}

/// Where in its life a connection was when a message was decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Waiting for the hello.
    Hello,
    /// CRAM-MD5, both directions.
    Auth,
    /// A CRAM-MD5 reply said `1999`: only failure messages follow.
    AuthFailed,
    /// Waiting for the acceptor's OK / banner.
    Greeting,
    /// The command phase of the connection type.
    Command,
    /// Encrypted.
    Tls,
}

/// The result of re-emitting a decoded message with fd-core.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reemit {
    /// Nothing to re-emit (free text, TLS records, signals shown by name, closes).
    NotApplicable,
    /// The codec wrote exactly the captured bytes.
    Same,
    /// The codec wrote these other bytes.
    Differs(Vec<u8>),
    /// The codec refused to emit the decoded value.
    Failed(wire::Error),
}

/// One decoded message.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// The connection's phase when the message arrived.
    pub phase: Phase,
    /// `DirCommand::JobStart`, `Signal::Eod`, `ConsoleText`, …
    pub kind: String,
    /// The fields in short human form.
    pub fields: String,
    /// For a message that carries a volume record (data channel, `UpdCat`): the record's kind
    /// (`Attributes`, `Digest`, `Sparse`, `FileData`, `RestoreObject`, `Data`).
    pub record: Option<&'static str>,
    /// The re-emit check.
    pub reemit: Reemit,
    /// The bytes fd-core's codec wrote for the decoded value (equal to the captured payload
    /// when `reemit` is [`Reemit::Same`]); `None` for free text, signals, TLS records.
    pub emitted: Option<Vec<u8>>,
    /// Why the message did not decode, or what is inconsistent about it.
    pub error: Option<String>,
    /// The decoded value holds an `Unknown(..)` arm.
    pub unknown: bool,
}

impl Decoded {
    fn new(phase: Phase, kind: impl Into<String>, fields: impl Into<String>) -> Self {
        Decoded {
            phase,
            kind: kind.into(),
            fields: fields.into(),
            record: None,
            reemit: Reemit::NotApplicable,
            emitted: None,
            error: None,
            unknown: false,
        }
    }

    fn error(phase: Phase, kind: &str, what: impl Into<String>, wire: &[u8]) -> Self {
        let mut d = Decoded::new(phase, kind, show::bytes_str(wire));
        d.error = Some(what.into());
        d
    }

    /// True when the message decoded, holds no `Unknown` and re-emitted byte for byte (or
    /// needs no re-emit).
    pub fn is_clean(&self) -> bool {
        self.error.is_none()
            && !self.unknown
            && matches!(self.reemit, Reemit::Same | Reemit::NotApplicable)
    }
}

/// The fd-core codec operations the engine needs from every message type.
trait Codec: Debug {
    fn blen(&self) -> usize;
    fn emit_into(&self, buf: &mut [u8]) -> wire::Result<usize>;
}

macro_rules! codec {
    ($($t:ty),* $(,)?) => {$(
        impl Codec for $t {
            fn blen(&self) -> usize {
                self.buffer_len()
            }
            fn emit_into(&self, buf: &mut [u8]) -> wire::Result<usize> {
                self.emit(buf)
            }
        }
    )*};
}

codec!(
    Hello<'_>,
    HelloReply<'_>,
    ChallengeRepr<'_>,
    ResponseRepr<'_>,
    AuthReply,
    ResponseMessage<'_>,
    Banner<'_>,
    ApiCommand<'_>,
    DirCommand<'_>,
    FdReply<'_>,
    FilesetLine<'_>,
    AccurateEntry<'_>,
    BootstrapLine<'_>,
    StatusFrame<'_>,
    LsLine<'_>,
    DirToSd<'_>,
    SdToDir<'_>,
    BsrLine<'_>,
    SdDataCommand<'_>,
    SdDataReply<'_>,
    fd_core::wire::stream::DataHeader,
    fd_core::wire::stream::RecHdr,
    Record<'_>,
);

/// Decode `v` (parsed from `wire`) into a [`Decoded`]: name, fields, unknown flag and the
/// re-emit check. `family` prefixes the variant name of enums (`DirCommand` →
/// `DirCommand::Backup`); structs pass `""` and are named by their own type.
fn decoded<T: Codec>(phase: Phase, family: &str, v: &T, wire: &[u8]) -> Decoded {
    let debug = format!("{v:?}");
    let (name, fields) = show::split(v);
    let kind = if family.is_empty() {
        name
    } else {
        format!("{family}::{name}")
    };
    let mut d = Decoded::new(phase, kind, fields);
    // `Unknown(..)` arms, and `TlsPolicy::Unrecognized(..)` for an `ssl=` value Bareos lacks.
    d.unknown = debug.contains("Unknown(") || debug.contains("Unrecognized(");
    (d.reemit, d.emitted) = reemit(v, wire);
    d
}

/// Emit `v` with fd-core and compare with the captured `wire` bytes.
fn reemit<T: Codec>(v: &T, wire: &[u8]) -> (Reemit, Option<Vec<u8>>) {
    let mut buf = vec![0u8; v.blen()];
    match v.emit_into(&mut buf) {
        Ok(n) => {
            buf.truncate(n);
            if buf == wire {
                (Reemit::Same, Some(buf))
            } else {
                (Reemit::Differs(buf.clone()), Some(buf))
            }
        }
        Err(e) => (Reemit::Failed(e), None),
    }
}

/// Parse with `parse`, then decode; a parse error becomes an error message.
fn try_decode<'a, T: Codec>(
    phase: Phase,
    family: &str,
    wire: &'a [u8],
    parse: impl FnOnce(&'a [u8]) -> wire::Result<T>,
) -> Decoded {
    match parse(wire) {
        Ok(v) => decoded(phase, family, &v, wire),
        Err(e) => Decoded::error(phase, family, format!("{family}: {e}"), wire),
    }
}

fn record_kind(r: &Record<'_>) -> &'static str {
    match r {
        Record::Attributes(_) => "Attributes",
        Record::RestoreObject(_) => "RestoreObject",
        Record::Digest(_) => "Digest",
        Record::Sparse(_) => "Sparse",
        Record::Data {
            kind: StreamType::FileData,
            ..
        } => "FileData",
        Record::Data { .. } => "Data",
    }
}

/// A volume record announced by a header for `stream`.
fn decode_record(phase: Phase, stream: StreamType, wire: &[u8]) -> Decoded {
    match Record::parse(stream, wire) {
        Ok(r) => {
            let mut d = decoded(phase, "Record", &r, wire);
            d.record = Some(record_kind(&r));
            d
        }
        Err(e) => Decoded::error(phase, "Record", format!("{stream:?} record: {e}"), wire),
    }
}

// ------------------------------------------------------------------------------------------
// Per-connection state
// ------------------------------------------------------------------------------------------

#[derive(Default)]
struct DirFdState {
    /// Frames the Director sends after its last command (fileset, accurate, bootstrap).
    dir_payload: Option<Payload>,
    /// The FD is answering `status`/`.status`.
    fd_status: bool,
    /// The FD is listing an `estimate`.
    fd_estimate: bool,
}

#[derive(Default)]
struct DirSdState {
    bootstrap: bool,
    bsr_text: Vec<u8>,
    status: bool,
}

enum FdSide {
    Cmd,
    Append(AppendTracker),
}

enum SdSide {
    Reply,
    Records(RestoreTracker),
}

struct DataState {
    fd: FdSide,
    sd: SdSide,
    reading: bool,
}

#[derive(Default)]
struct ConsoleState {
    logged_in: bool,
    api: Option<ApiMode>,
    /// In API mode: the Director sent `CMD_OK`/`CMD_FAILED`, the one result frame may follow.
    result_due: bool,
}

enum Cmd {
    None,
    DirFd(DirFdState),
    DirSd(DirSdState),
    Data(DataState),
    Console(ConsoleState),
}

struct ConnState {
    kind: ConnKind,
    phase: Phase,
    auth_oks: u8,
    psk_identity: Option<String>,
    /// (client, server) roles of a TLS connection, from its PSK identity.
    tls_roles: Option<(&'static str, &'static str)>,
    cmd: Cmd,
}

impl Default for ConnState {
    fn default() -> Self {
        ConnState {
            kind: ConnKind::Unidentified,
            phase: Phase::Hello,
            auth_oks: 0,
            psk_identity: None,
            tls_roles: None,
            cmd: Cmd::None,
        }
    }
}

/// The engine: feed it every message of a capture, in wire order.
#[derive(Default)]
pub struct Engine {
    conns: BTreeMap<usize, ConnState>,
}

impl Engine {
    /// An engine that has seen nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// What connection `n` was identified as.
    pub fn kind(&self, n: usize) -> ConnKind {
        self.conns
            .get(&n)
            .map_or(ConnKind::Unidentified, |c| c.kind)
    }

    /// The PSK identity of a TLS connection, once its ClientHello was seen.
    pub fn psk_identity(&self, n: usize) -> Option<&str> {
        self.conns.get(&n).and_then(|c| c.psk_identity.as_deref())
    }

    /// `from>to` for a message of connection `conn` going `dir`.
    pub fn arrow(&self, conn: &Connection, dir: Direction) -> String {
        let tls = self.conns.get(&conn.number).and_then(|c| c.tls_roles);
        let (c, s) = match self.kind(conn.number).roles() {
            Some((c, s)) => (c.to_string(), s.to_string()),
            None if conn.client_role.is_none() && tls.is_some() => {
                let (c, s) = tls.unwrap_or(("client", "server"));
                (c.to_string(), s.to_string())
            }
            None => (
                conn.sender_role(Direction::ToServer),
                conn.sender_role(Direction::ToClient),
            ),
        };
        match dir {
            Direction::ToServer => format!("{c}>{s}"),
            Direction::ToClient => format!("{s}>{c}"),
        }
    }

    /// Decode one message.
    pub fn decode(&mut self, m: &Message) -> Decoded {
        let st = self.conns.entry(m.conn).or_default();
        let from_client = m.dir == Direction::ToServer;
        match &m.body {
            Body::Close(how) => Decoded::new(st.phase, "Close", how.clone()),
            Body::Tls { kind, body } => {
                st.kind = ConnKind::Tls;
                st.phase = Phase::Tls;
                decode_tls(st, kind, body)
            }
            Body::Signal(sig) => on_signal(st, from_client, *sig),
            Body::Data {
                payload,
                truncated,
                len,
            } => on_data(st, from_client, payload, *truncated, *len),
        }
    }
}

// ------------------------------------------------------------------------------------------
// Hello, CRAM-MD5, greeting
// ------------------------------------------------------------------------------------------

fn on_data(
    st: &mut ConnState,
    from_client: bool,
    p: &[u8],
    truncated: bool,
    len: usize,
) -> Decoded {
    let phase = st.phase;
    match phase {
        Phase::Hello => {
            if !from_client {
                return Decoded::error(phase, "Hello", "the TCP server spoke first", p);
            }
            let d = try_decode(phase, "Hello", p, Hello::parse);
            if let Ok(h) = Hello::parse(p) {
                st.kind = match h {
                    Hello::Director { .. } => ConnKind::Director,
                    Hello::Client { .. } => ConnKind::ClientInitiated,
                    Hello::StartJob { .. } => ConnKind::FdToSd,
                    Hello::StorageStartJob { .. } => ConnKind::PassiveSdToFd,
                    Hello::StartStorageJob { .. } => ConnKind::SdToSd,
                    Hello::Console { .. } => ConnKind::Console,
                };
                st.phase = Phase::Auth;
            }
            d
        }
        Phase::Auth => on_auth(st, from_client, p),
        Phase::AuthFailed => match AuthReply::parse(p) {
            Ok(r) => decoded(phase, "AuthReply", &r, p),
            // The FD's `Authorization key rejected by <addr>.` and similar free text.
            Err(_) => Decoded::new(phase, "AuthFailureText", show::bytes_str(p)),
        },
        Phase::Greeting => on_greeting(st, from_client, p),
        Phase::Command => on_command(st, from_client, p, truncated, len),
        Phase::Tls => Decoded::error(phase, "Tls", "bsock frame on a TLS connection", p),
    }
}

fn on_auth(st: &mut ConnState, from_client: bool, p: &[u8]) -> Decoded {
    let phase = st.phase;
    if p.starts_with(b"auth ") {
        let d = try_decode(phase, "", p, ChallengeRepr::parse);
        if let Ok(c) = ChallengeRepr::parse(p) {
            // The acceptor names itself in its challenge: this is how a Director hello is
            // told apart (FD: R_CLIENT::…, SD: R_STORAGE::…).
            if st.kind == ConnKind::Director && !from_client {
                if let Ok(t) = Token::parse(c.token) {
                    if t.name().starts_with(b"R_CLIENT::") {
                        st.kind = ConnKind::DirectorToFd;
                    } else if t.name().starts_with(b"R_STORAGE::") {
                        st.kind = ConnKind::DirectorToSd;
                    }
                }
            }
        }
        return d;
    }
    if let Ok(r) = AuthReply::parse(p) {
        match r {
            AuthReply::Ok => {
                st.auth_oks += 1;
                if st.auth_oks == 2 {
                    enter_after_auth(st);
                }
            }
            AuthReply::Failed => st.phase = Phase::AuthFailed,
        }
        return decoded(phase, "AuthReply", &r, p);
    }
    try_decode(phase, "", p, ResponseRepr::parse)
}

fn enter_after_auth(st: &mut ConnState) {
    match st.kind {
        ConnKind::FdToSd | ConnKind::PassiveSdToFd | ConnKind::SdToSd => {
            st.phase = Phase::Command;
            st.cmd = Cmd::Data(DataState {
                fd: FdSide::Cmd,
                sd: SdSide::Reply,
                reading: false,
            });
        }
        ConnKind::Console => {
            // The console's greeting (response messages) is handled by the console state.
            st.phase = Phase::Command;
            st.cmd = Cmd::Console(ConsoleState::default());
        }
        _ => st.phase = Phase::Greeting,
    }
}

fn on_greeting(st: &mut ConnState, from_client: bool, p: &[u8]) -> Decoded {
    let phase = st.phase;
    if from_client {
        return Decoded::error(phase, "HelloReply", "expected the acceptor's greeting", p);
    }
    let d = try_decode(phase, "HelloReply", p, HelloReply::parse);
    if let Ok(r) = HelloReply::parse(p) {
        match r {
            HelloReply::FdOk { .. } => {
                st.kind = ConnKind::DirectorToFd;
                st.cmd = Cmd::DirFd(DirFdState::default());
            }
            HelloReply::SdOk => {
                st.kind = ConnKind::DirectorToSd;
                st.cmd = Cmd::DirSd(DirSdState::default());
            }
            HelloReply::DirOk { .. } => st.cmd = Cmd::DirFd(DirFdState::default()),
            HelloReply::FdAuthFailed | HelloReply::SdNoGo | HelloReply::DirNotAuthorized => {
                st.phase = Phase::AuthFailed;
                return d;
            }
        }
        st.phase = Phase::Command;
    }
    d
}

// ------------------------------------------------------------------------------------------
// Command phase
// ------------------------------------------------------------------------------------------

fn on_command(
    st: &mut ConnState,
    from_client: bool,
    p: &[u8],
    truncated: bool,
    len: usize,
) -> Decoded {
    let kind = st.kind;
    match &mut st.cmd {
        Cmd::DirFd(s) => {
            // Director → FD: the Director is the TCP client; client-initiated: the server.
            let from_dir = from_client == (kind != ConnKind::ClientInitiated);
            dir_fd_data(s, from_dir, p)
        }
        Cmd::DirSd(s) => dir_sd_data(s, from_client, p),
        Cmd::Data(s) => {
            let from_fd = from_client == (kind != ConnKind::PassiveSdToFd);
            data_channel(s, from_fd, p, truncated, len)
        }
        Cmd::Console(s) => console_data(s, from_client, p),
        Cmd::None => Decoded::error(
            Phase::Command,
            "Frame",
            "no command set for this connection",
            p,
        ),
    }
}

fn dir_fd_data(s: &mut DirFdState, from_dir: bool, p: &[u8]) -> Decoded {
    let ph = Phase::Command;
    if from_dir {
        return match s.dir_payload {
            Some(Payload::Fileset) => try_decode(ph, "FilesetLine", p, FilesetLine::parse),
            Some(Payload::Accurate) => try_decode(ph, "", p, AccurateEntry::parse),
            Some(Payload::Bootstrap) => try_decode(ph, "", p, BootstrapLine::parse),
            None => {
                let d = try_decode(ph, "DirCommand", p, DirCommand::parse);
                if let Ok(c) = DirCommand::parse(p) {
                    s.dir_payload = c.payload();
                    match c {
                        DirCommand::Status | DirCommand::DotStatus { .. } => s.fd_status = true,
                        DirCommand::Estimate { .. } => s.fd_estimate = true,
                        _ => {}
                    }
                }
                d
            }
        };
    }
    if s.fd_status {
        return try_decode(ph, "StatusFrame", p, StatusFrame::parse);
    }
    match FdReply::parse(p) {
        Ok(FdReply::Unknown(_)) if s.fd_estimate => try_decode(ph, "LsLine", p, LsLine::parse),
        Ok(r) => {
            if matches!(r, FdReply::Estimate { .. }) {
                s.fd_estimate = false;
            }
            decoded(ph, "FdReply", &r, p)
        }
        Err(e) => Decoded::error(ph, "FdReply", format!("FdReply: {e}"), p),
    }
}

fn dir_sd_data(s: &mut DirSdState, from_dir: bool, p: &[u8]) -> Decoded {
    let ph = Phase::Command;
    if from_dir {
        if s.bootstrap {
            let mut d = try_decode(ph, "BsrLine", p, BsrLine::parse);
            if d.error.is_none() {
                // The line itself is the clearest form: `BsrLine::VolAddr 203-1786`.
                d.kind = d.kind.split("::").take(2).collect::<Vec<_>>().join("::");
                d.fields = String::from_utf8_lossy(p.strip_suffix(b"\n").unwrap_or(p)).into_owned();
            }
            s.bsr_text.extend_from_slice(p);
            return d;
        }
        let d = try_decode(ph, "DirToSd", p, DirToSd::parse);
        match DirToSd::parse(p) {
            Ok(DirToSd::Bootstrap) => s.bootstrap = true,
            Ok(DirToSd::Status(_) | DirToSd::DotStatus(_)) => s.status = true,
            _ => {}
        }
        return d;
    }
    if s.status {
        return try_decode(ph, "StatusFrame", p, StatusFrame::parse);
    }
    match SdToDir::parse(p) {
        Ok(SdToDir::UpdCat(u)) => {
            let mut d = decoded(ph, "SdToDir", &SdToDir::UpdCat(u), p);
            // Show the forwarded record decoded instead of its bytes.
            let stream = u.header.stream.kind();
            let rec = decode_record(ph, stream, u.data);
            d.fields = format!(
                "job: {}, header: {}, record: {} {}",
                show::bytes_str(u.job),
                show::fields(&format!("{:?}", u.header)),
                rec.kind,
                rec.fields
            );
            d.record = rec.record;
            d.unknown |= rec.unknown;
            if let Some(e) = rec.error {
                d.error = Some(e);
            } else if !stream.is_catalogued() {
                d.error = Some(format!(
                    "UpdCat of a stream that is not catalogued: {stream:?}"
                ));
            } else if let Ok(Record::Attributes(a)) = Record::parse(stream, u.data) {
                if a.file_index != u.header.file_index {
                    d.error =
                        Some("UpdCat header and attribute record disagree on FileIndex".into());
                }
            }
            d
        }
        Ok(r) => decoded(ph, "SdToDir", &r, p),
        Err(e) => Decoded::error(ph, "SdToDir", format!("SdToDir: {e}"), p),
    }
}

/// A whole bootstrap as received, at the Director's EOD: group it into entries and check that
/// each is complete and that `Count` is the number of FileIndexes its ranges select.
fn bootstrap_summary(text: &[u8]) -> Decoded {
    let mut d = Decoded::new(Phase::Command, "Bootstrap", String::new());
    let mut parts = Vec::new();
    for e in bsr::entries(text) {
        match e {
            Ok(e) => {
                let selected: u64 = e.file_indexes().map(|r| r.last() - r.start + 1).sum();
                let range = |r: Option<bsr::Range>| {
                    r.map_or_else(
                        || "?".to_string(),
                        |r| match r.end {
                            Some(_) => format!("{}-{}", r.start, r.last()),
                            None => r.start.to_string(),
                        },
                    )
                };
                parts.push(format!(
                    "{} VolSessionId={} VolAddr={} selects {} FileIndex(es), Count={}",
                    e.volume.map_or_else(|| "?".into(), show::bytes_str),
                    range(e.vol_session_id),
                    range(e.vol_addr),
                    selected,
                    e.count.map_or_else(|| "?".into(), |c| c.to_string())
                ));
                let complete = e.volume.is_some()
                    && e.media_type.is_some()
                    && e.vol_session_id.is_some()
                    && e.vol_session_time.is_some()
                    && e.vol_addr.is_some_and(|a| a.start <= a.last());
                if !complete {
                    d.error = Some(format!("incomplete bootstrap entry: {e:?}"));
                } else if e.count != Some(selected) {
                    d.error = Some(format!(
                        "Count={:?} but the ranges select {selected}",
                        e.count
                    ));
                }
            }
            Err(err) => d.error = Some(format!("bootstrap entry: {err}")),
        }
    }
    d.fields = format!(
        "{} entr{}: {}",
        parts.len(),
        if parts.len() == 1 { "y" } else { "ies" },
        parts.join("; ")
    );
    d
}

fn data_channel(
    s: &mut DataState,
    from_fd: bool,
    p: &[u8],
    truncated: bool,
    len: usize,
) -> Decoded {
    let ph = Phase::Command;
    if from_fd {
        return match &mut s.fd {
            FdSide::Cmd => {
                let d = try_decode(ph, "SdDataCommand", p, SdDataCommand::parse);
                match SdDataCommand::parse(p) {
                    Ok(SdDataCommand::AppendData { .. }) => {
                        s.fd = FdSide::Append(AppendTracker::new(false))
                    }
                    Ok(SdDataCommand::ReadData { .. }) => s.reading = true,
                    _ => {}
                }
                d
            }
            FdSide::Append(t) => match t.on_message(p) {
                Ok(AppendEvent::Header(h)) => decoded(ph, "", &h, p),
                Ok(AppendEvent::Data { header, data }) => {
                    decode_record(ph, header.stream.kind(), data)
                }
                Ok(other) => Decoded::error(ph, "Append", format!("unexpected {other:?}"), p),
                Err(e) => Decoded::error(ph, "Append", format!("data phase: {e}"), p),
            },
        };
    }
    match &mut s.sd {
        SdSide::Reply => {
            let d = try_decode(ph, "SdDataReply", p, SdDataReply::parse);
            if SdDataReply::parse(p) == Ok(SdDataReply::Data) && s.reading {
                s.sd = SdSide::Records(RestoreTracker::new());
            }
            d
        }
        SdSide::Records(t) => {
            // A transcript may cut a long record; the tracker checks the full length.
            let full;
            let whole: &[u8] = if truncated {
                full = vec![0u8; len];
                &full
            } else {
                p
            };
            match t.on_message(whole) {
                Ok(RestoreEvent::Header(h)) => {
                    let mut d = decoded(ph, "", &h, p);
                    if h.file_index <= 0 {
                        d.error = Some("rechdr with FileIndex <= 0 (labels are never sent)".into());
                    }
                    d
                }
                Ok(RestoreEvent::Record { header, .. }) => {
                    decode_record(ph, header.stream.kind(), p)
                }
                Ok(other) => Decoded::error(ph, "Restore", format!("unexpected {other:?}"), p),
                Err(e) => Decoded::error(ph, "Restore", format!("read session: {e}"), p),
            }
        }
    }
}

fn console_data(s: &mut ConsoleState, from_console: bool, p: &[u8]) -> Decoded {
    let ph = Phase::Command;
    if from_console {
        if !s.logged_in {
            // PAM: `4002` RS user RS password (or a `4001` answer) before the info message.
            if let Ok(r) = ResponseMessage::parse(p) {
                return decoded(ph, "", &r, p);
            }
        }
        s.logged_in = true;
        if p.starts_with(b".api") {
            let d = try_decode(ph, "", p, ApiCommand::parse);
            if let Ok(a) = ApiCommand::parse(p) {
                s.api = Some(a.mode);
            }
            return d;
        }
        return Decoded::new(ph, "ConsoleCommand", show::bytes_str(p));
    }
    if !s.logged_in {
        // The login: `1000` RS OK banner, then `1002` RS info message (or a legacy line).
        if let Ok(b) = Banner::parse(p) {
            return decoded(ph, "", &b, p);
        }
        let d = try_decode(ph, "", p, ResponseMessage::parse);
        if let Ok(r) = ResponseMessage::parse(p) {
            if r.id == ResponseId::InfoMessage {
                s.logged_in = true;
            }
        }
        return d;
    }
    if s.api == Some(ApiMode::Json) {
        // connect.md §7.3: each result is one frame between `CMD_OK`/`CMD_FAILED` and
        // `MAIN_PROMPT`.
        if !std::mem::take(&mut s.result_due) {
            return Decoded::error(
                ph,
                "ApiJson",
                "JSON result outside the CMD_OK/CMD_FAILED ... MAIN_PROMPT framing",
                p,
            );
        }
        return match serde_json::from_slice::<serde_json::Value>(p) {
            Ok(v) => {
                let keys = |o: Option<&serde_json::Value>| {
                    o.and_then(|v| v.as_object())
                        .map(|o| o.keys().cloned().collect::<Vec<_>>().join(","))
                        .unwrap_or_default()
                };
                let fields = format!(
                    "jsonrpc={} id={} result{{{}}}{}",
                    v.get("jsonrpc").map(|j| j.to_string()).unwrap_or_default(),
                    v.get("id").map(|j| j.to_string()).unwrap_or_default(),
                    keys(v.get("result")),
                    if v.get("error").is_some() {
                        " error"
                    } else {
                        ""
                    }
                );
                Decoded::new(ph, "ApiJson", fields)
            }
            Err(e) => Decoded::error(ph, "ApiJson", format!("not valid JSON: {e}"), p),
        };
    }
    Decoded::new(ph, "ConsoleText", show::bytes_str(p))
}

// ------------------------------------------------------------------------------------------
// Signals
// ------------------------------------------------------------------------------------------

fn on_signal(st: &mut ConnState, from_client: bool, sig: Signal) -> Decoded {
    let phase = st.phase;
    let mut d = Decoded::new(
        phase,
        format!("Signal::{sig:?}"),
        format!("{} ({})", sig.name(), sig.code()),
    );
    d.unknown = matches!(sig, Signal::Unknown(_));
    let kind = st.kind;
    let eod = sig == Signal::Eod;
    match &mut st.cmd {
        Cmd::DirFd(s) if eod => {
            let from_dir = from_client == (kind != ConnKind::ClientInitiated);
            if from_dir {
                s.dir_payload = None;
            } else {
                s.fd_status = false;
            }
        }
        Cmd::DirSd(s) if eod => {
            if from_client {
                if s.bootstrap {
                    let b = bootstrap_summary(&s.bsr_text);
                    d.fields = format!("{} | {} {}", d.fields, b.kind, b.fields);
                    d.error = b.error;
                    s.bsr_text.clear();
                }
                s.bootstrap = false;
            } else {
                s.status = false;
            }
        }
        Cmd::DirSd(_) if sig != Signal::Terminate => {
            d.error = Some(format!(
                "unexpected signal {} on the Director <-> SD channel",
                sig.name()
            ));
        }
        Cmd::Console(s) if !from_client => match sig {
            Signal::CmdOk | Signal::CmdFailed => s.result_due = true,
            Signal::MainPrompt | Signal::CmdBegin | Signal::Eod => s.result_due = false,
            _ => {}
        },
        Cmd::Data(s) => {
            let from_fd = from_client == (kind != ConnKind::PassiveSdToFd);
            let what = match (from_fd, sig, &mut s.fd, &mut s.sd) {
                (true, Signal::Eod, FdSide::Append(t), _) => match t.on_eod() {
                    Ok(AppendEvent::EndOfData) => {
                        s.fd = FdSide::Cmd;
                        Ok("end of the data phase")
                    }
                    Ok(AppendEvent::EndOfStream) => Ok("end of stream"),
                    Ok(other) => Err(format!("unexpected {other:?}")),
                    Err(e) => Err(format!("data phase: {e}")),
                },
                (true, Signal::Terminate, FdSide::Cmd, _) => Ok("end of session"),
                (false, Signal::Eod, _, SdSide::Records(t)) => match t.on_eod() {
                    Ok(RestoreEvent::End) => {
                        s.sd = SdSide::Reply;
                        Ok("end of the records")
                    }
                    Ok(other) => Err(format!("unexpected {other:?}")),
                    Err(e) => Err(format!("read session: {e}")),
                },
                (false, Signal::Eod, _, SdSide::Reply) => Ok("end of replies"),
                _ => Err(format!(
                    "unexpected signal {} in this state of the data channel",
                    sig.name()
                )),
            };
            match what {
                Ok(w) => d.fields = format!("{} ({w})", d.fields),
                Err(e) => d.error = Some(e),
            }
        }
        _ => {}
    }
    d
}

// ------------------------------------------------------------------------------------------
// TLS
// ------------------------------------------------------------------------------------------

fn decode_tls(st: &mut ConnState, kind: &str, body: &[u8]) -> Decoded {
    let mut d = Decoded::new(
        Phase::Tls,
        format!("Tls::{kind}"),
        format!("len={}", body.len()),
    );
    let ids = match (kind, body.first()) {
        ("handshake/client_hello", Some(1)) => client_hello_psk_identities(body),
        (k, Some(16)) if k.starts_with("handshake") => client_key_exchange_identity(body),
        _ => return d,
    };
    match ids {
        Ok(ids) => {
            let mut shown = Vec::new();
            for id in &ids {
                match PskIdentity::parse(id) {
                    Ok(p) => {
                        let (r, bytes) = reemit(&PskId(p), id);
                        if r != Reemit::Same || d.reemit == Reemit::NotApplicable {
                            d.reemit = r;
                            d.emitted = bytes;
                        }
                        let s = format!("{} {}", p.kind.as_str(), show::bytes_str(p.name));
                        st.psk_identity.get_or_insert_with(|| s.clone());
                        // The identity names the TLS client (connect.md §3.4).
                        st.tls_roles.get_or_insert(match p.kind {
                            ResourceType::Console => ("con", "dir"),
                            ResourceType::Director => ("dir", "fd|sd"),
                            ResourceType::Client => ("fd", "dir"),
                            ResourceType::Job => ("fd", "sd"),
                            ResourceType::Storage => ("sd", "fd|sd"),
                        });
                        shown.push(s);
                    }
                    Err(e) => d.error = Some(format!("PSK identity {}: {e}", show::bytes_str(id))),
                }
            }
            d.fields = format!("{} psk_identity=[{}]", d.fields, shown.join(", "));
        }
        Err(e) => d.error = Some(format!("ClientHello: {e}")),
    }
    d
}

/// [`PskIdentity`] through the [`Codec`] trait.
#[derive(Debug)]
struct PskId<'a>(PskIdentity<'a>);

impl Codec for PskId<'_> {
    fn blen(&self) -> usize {
        self.0.buffer_len()
    }
    fn emit_into(&self, buf: &mut [u8]) -> wire::Result<usize> {
        self.0.emit(buf)
    }
}

/// A bounds-checked reader over a handshake message.
struct Rd<'a>(&'a [u8]);

impl<'a> Rd<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], &'static str> {
        if self.0.len() < n {
            return Err("truncated");
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn int(&mut self, n: usize) -> Result<usize, &'static str> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0usize, |v, &b| v << 8 | usize::from(b)))
    }
    fn vec(&mut self, n: usize) -> Result<&'a [u8], &'static str> {
        let l = self.int(n)?;
        self.take(l)
    }
}

/// The identities of a TLS 1.3 ClientHello's `pre_shared_key` extension (type 41).
pub fn client_hello_psk_identities(hs: &[u8]) -> Result<Vec<Vec<u8>>, &'static str> {
    let mut r = Rd(hs);
    if r.int(1)? != 1 {
        return Err("not a ClientHello");
    }
    let mut r = Rd(r.vec(3)?);
    r.take(2 + 32)?; // legacy_version, random
    r.vec(1)?; // session id
    r.vec(2)?; // cipher suites
    r.vec(1)?; // compression methods
    let mut ext = Rd(r.vec(2)?);
    let mut out = Vec::new();
    while !ext.0.is_empty() {
        let ty = ext.int(2)?;
        let body = ext.vec(2)?;
        if ty == 41 {
            let mut ids = Rd(Rd(body).vec(2)?);
            while !ids.0.is_empty() {
                out.push(ids.vec(2)?.to_vec());
                ids.take(4)?; // obfuscated_ticket_age
            }
        }
    }
    Ok(out)
}

/// The identity of a TLS 1.2 PSK ClientKeyExchange.
fn client_key_exchange_identity(hs: &[u8]) -> Result<Vec<Vec<u8>>, &'static str> {
    let mut r = Rd(hs);
    r.int(1)?;
    let mut b = Rd(r.vec(3)?);
    Ok(vec![b.vec(2)?.to_vec()])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feed `frames` (client side first when `true`) to a fresh engine as connection 1.
    fn run(frames: &[(bool, &[u8])]) -> (Engine, Vec<Decoded>) {
        let mut e = Engine::new();
        let out = frames
            .iter()
            .enumerate()
            .map(|(i, (from_client, p))| {
                let code = p
                    .strip_prefix(b"SIG:")
                    .and_then(|c| std::str::from_utf8(c).ok())
                    .and_then(|c| c.parse::<i32>().ok());
                let body = match code {
                    Some(code) => Body::Signal(Signal::from_code(code)),
                    None => Body::Data {
                        payload: p.to_vec(),
                        truncated: false,
                        len: p.len(),
                    },
                };
                e.decode(&Message {
                    conn: 1,
                    dir: if *from_client {
                        Direction::ToServer
                    } else {
                        Direction::ToClient
                    },
                    index: i + 1,
                    t: 0.0,
                    body,
                })
            })
            .collect();
        (e, out)
    }

    // vectors/clear-restore conn 2 msgs 1-8 (dir>sd handshake).
    const DIR_SD_SETUP: &[(bool, &[u8])] = &[
        (
            true,
            b"Hello Director bareos-dir calling Version=\"26.0.0\"\n",
        ),
        (
            false,
            b"auth cram-md5 <418432790.1795362414@R_STORAGE::bareos-sd> ssl=0\n",
        ),
        (true, b"u6I318NHB//5OT+kSmRQzA\0"),
        (false, b"1000 OK auth\n"),
        (
            true,
            b"auth cram-md5 <327051643.1795362414@R_DIRECTOR::bareos-dir> ssl=0\n",
        ),
        (false, b"pX/QBm/5a9J/rGZ4Exh9TC\0"),
        (true, b"1000 OK auth\n"),
        (false, b"3000 OK Hello\n"),
    ];

    #[test]
    fn test_director_to_sd_bootstrap() {
        let mut frames = DIR_SD_SETUP.to_vec();
        frames.extend_from_slice(&[
            (true, &b"bootstrap\n"[..]),
            (true, b"Volume=\"Cap-0001\"\n"),
            (true, b"MediaType=\"File\"\n"),
            (true, b"VolSessionId=1\n"),
            (true, b"VolSessionTime=1795362407\n"),
            (true, b"VolAddr=203-1786\n"),
            (true, b"FileIndex=1-6\n"),
            (true, b"Count=6\n"),
            (true, b"SIG:-1"),
            (false, b"3000 OK bootstrap\n"),
        ]);
        let (e, d) = run(&frames);
        assert_eq!(e.kind(1), ConnKind::DirectorToSd);
        for x in &d {
            assert!(x.is_clean(), "{x:?}");
        }
        assert_eq!(d[0].kind, "Hello::Director");
        assert_eq!(d[1].kind, "ChallengeRepr");
        assert_eq!(d[3].kind, "AuthReply::Ok");
        assert_eq!(d[7].kind, "HelloReply::SdOk");
        assert_eq!(d[8].kind, "DirToSd::Bootstrap");
        assert!(d[9].kind.starts_with("BsrLine::Volume"), "{:?}", d[9]);
        assert!(d[16].fields.contains("1 entry"), "{:?}", d[16]);
        assert_eq!(d[17].kind, "SdToDir::BootstrapOk");
        assert_eq!(d[7].phase, Phase::Greeting);
        assert_eq!(d[17].phase, Phase::Command);
    }

    #[test]
    fn test_inconsistent_bootstrap_is_an_error() {
        let mut frames = DIR_SD_SETUP.to_vec();
        frames.extend_from_slice(&[
            (true, &b"bootstrap\n"[..]),
            (true, b"Volume=\"Cap-0001\"\n"),
            (true, b"MediaType=\"File\"\n"),
            (true, b"VolSessionId=1\n"),
            (true, b"VolSessionTime=1795362407\n"),
            (true, b"VolAddr=203-1786\n"),
            (true, b"FileIndex=1-6\n"),
            (true, b"Count=5\n"),
            (true, b"SIG:-1"),
        ]);
        let (_, d) = run(&frames);
        let eod = d.last().unwrap();
        assert!(
            eod.error.as_deref().unwrap_or("").contains("Count"),
            "{eod:?}"
        );
    }

    #[test]
    fn test_errors_unknowns_and_context() {
        let mut frames = DIR_SD_SETUP.to_vec();
        frames.extend_from_slice(&[
            // Not canonical (leading zero): does not decode.
            (false, &b"Status Job=x JobStatus=070\n"[..]),
            // A command this codec does not know: decodes to Unknown.
            (true, b"frobnicate\n"),
            // A signal the SD never sends here.
            (false, b"SIG:-2"),
            // `status` switches the SD side to status frames.
            (true, b"status FileStorage\n"),
            (false, b"\n"),
            (false, b"Attached Jobs: \0"),
            (false, b"SIG:-1"),
            (false, b"3000 OK bootstrap\n"),
        ]);
        let (_, d) = run(&frames);
        assert!(d[8].error.is_some(), "{:?}", d[8]);
        assert!(!d[8].is_clean());
        assert!(d[9].unknown, "{:?}", d[9]);
        assert_eq!(d[9].kind, "DirToSd::Unknown");
        assert!(d[10].error.is_some(), "{:?}", d[10]);
        assert_eq!(d[12].kind, "StatusFrame::Plain");
        assert_eq!(d[13].kind, "StatusFrame::Counted");
        assert_eq!(d[15].kind, "SdToDir::BootstrapOk");
    }

    #[test]
    fn test_data_channel_tracks_streams() {
        // vectors/clear-backup-full conn 4 msgs 1-14.
        let frames: &[(bool, &[u8])] = &[
            (
                true,
                b"Hello Start Job CapBackup.2026-11-22_15.46.52_03 Version=\"26.0.0\"\n",
            ),
            (
                false,
                b"auth cram-md5 <375433429.1795362414@R_STORAGE::bareos-sd> ssl=0\n",
            ),
            (true, b"a95lJ8IZWH+uQ4+OvF+8CD\0"),
            (false, b"1000 OK auth\n"),
            (
                true,
                b"auth cram-md5 <406678010.1795362414@R_CLIENT::bareos-fd> ssl=0\n",
            ),
            (false, b"TkdI5jly98++vHg2i++ByA\0"),
            (true, b"1000 OK auth\n"),
            (true, b"append open session\n"),
            (false, b"3000 OK open ticket = 1\n"),
            (true, b"append data 1\n"),
            (false, b"3000 OK data\n"),
            (true, b"1 2 0"),
            (true, b"hello\n"),
            (true, b"SIG:-1"),
            (true, b"SIG:-1"),
            (true, b"1 1 0"),
        ];
        let (e, d) = run(frames);
        assert_eq!(e.kind(1), ConnKind::FdToSd);
        for x in &d[..15] {
            assert!(x.is_clean(), "{x:?}");
        }
        assert_eq!(d[11].kind, "DataHeader");
        assert_eq!(d[12].kind, "Record::Data");
        assert_eq!(d[12].record, Some("FileData"));
        assert!(d[13].fields.contains("end of stream"), "{:?}", d[13]);
        assert!(
            d[14].fields.contains("end of the data phase"),
            "{:?}",
            d[14]
        );
        // After the data phase a header is no command.
        assert_eq!(d[15].kind, "SdDataCommand::Unknown");
        assert!(d[15].unknown && !d[15].is_clean(), "{:?}", d[15]);
    }

    #[test]
    fn test_console_json() {
        let frames: &[(bool, &[u8])] = &[
            (true, b"Hello *UserAgent* calling version 26.0.0~pre1298.eda204c31 Version=\"26.0.0\"\n"),
            (false, b"auth cram-md5 <669078771.1795362474@R_DIRECTOR::bareos-dir> ssl=0\n"),
            (true, b"Yn8IB7/bDnkR/WMpBgsUzA\0"),
            (false, b"1000 OK auth\n"),
            (true, b"auth cram-md5 <2067811607.1795362474@R_CONSOLE::*UserAgent*> ssl=0\n"),
            (false, b"Em/zbi/i5R9Hj8g5839PMA\0"),
            (true, b"1000 OK auth\n"),
            (false, b"1000\x1eOK: bareos-dir Version: 26.0.0~pre1298.eda204c31 (21 August 2026)"),
            (true, b"status dir"),
            (false, b"No Jobs running.\n====\n"),
            (true, b".api 2"),
            (false, b"SIG:-15"),
            (false, b"{\n  \"jsonrpc\": \"2.0\",\n  \"id\": null,\n  \"result\": {\n    \"api\": 2\n  }\n}"),
            (false, b"SIG:-18"),
            (true, b"list jobs"),
            (false, b"SIG:-16"),
            (false, b"SIG:-15"),
            (false, b"{\"jsonrpc\": "),
            (false, b"SIG:-18"),
            (true, b"list jobs"),
            (false, b"{}"),
        ];
        let (e, d) = run(frames);
        assert_eq!(e.kind(1), ConnKind::Console);
        assert_eq!(d[7].kind, "Banner");
        assert_eq!(d[8].kind, "ConsoleCommand");
        assert_eq!(d[9].kind, "ConsoleText");
        assert_eq!(d[10].kind, "ApiCommand");
        assert_eq!(d[10].reemit, Reemit::Same);
        assert_eq!(d[10].emitted.as_deref(), Some(&b".api 2"[..]));
        assert_eq!(d[9].emitted, None);
        assert_eq!(d[11].kind, "Signal::CmdOk");
        assert_eq!(d[12].kind, "ApiJson");
        assert!(d[12].is_clean());
        assert_eq!(d[13].kind, "Signal::MainPrompt");
        // Invalid JSON in the right place.
        assert!(
            d[17].error.as_deref().unwrap_or("").contains("JSON"),
            "{:?}",
            d[17]
        );
        // Valid JSON without CMD_OK before it.
        assert!(
            d[20].error.as_deref().unwrap_or("").contains("framing"),
            "{:?}",
            d[20]
        );
    }

    #[test]
    fn test_client_hello_walker() {
        // A minimal ClientHello with one pre_shared_key identity.
        let id = b"R_DIRECTOR\x1ebareos-dir";
        let mut psk = vec![];
        psk.extend_from_slice(&((id.len() + 6) as u16).to_be_bytes());
        psk.extend_from_slice(&(id.len() as u16).to_be_bytes());
        psk.extend_from_slice(id);
        psk.extend_from_slice(&[0, 0, 0, 0]);
        psk.extend_from_slice(&[0, 0]); // binders (ignored)
        let mut ext = vec![0, 41];
        ext.extend_from_slice(&(psk.len() as u16).to_be_bytes());
        ext.extend_from_slice(&psk);
        let mut body = vec![3, 3];
        body.extend_from_slice(&[0u8; 32]);
        body.extend_from_slice(&[0, 0, 2, 0x13, 0x01, 1, 0]);
        body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
        body.extend_from_slice(&ext);
        let mut hs = vec![1, 0];
        hs.extend_from_slice(&(body.len() as u16).to_be_bytes());
        hs.extend_from_slice(&body);
        assert_eq!(client_hello_psk_identities(&hs), Ok(vec![id.to_vec()]));
        for n in 0..hs.len() {
            assert!(client_hello_psk_identities(&hs[..n]).is_err(), "{n}");
        }
        assert!(client_hello_psk_identities(&[2, 0, 0, 0]).is_err());
    }

    proptest::proptest! {
        /// Whatever the peers send, in whatever order, the engine never panics.
        #[test]
        fn prop_engine_never_panics(
            frames in proptest::collection::vec(
                (
                    proptest::bool::ANY,
                    proptest::prop_oneof![
                        proptest::collection::vec(proptest::num::u8::ANY, 0..64),
                        proptest::sample::select(vec![
                            b"Hello Director bareos-dir calling Version=\"26.0.0\"\n".to_vec(),
                            b"Hello Start Job J Version=\"26.0.0\"\n".to_vec(),
                            b"Hello *UserAgent* calling version 26.0.0~pre1298.eda204c31 Version=\"26.0.0\"\n".to_vec(),
                            b"auth cram-md5 <1.2@R_STORAGE::bareos-sd> ssl=0\n".to_vec(),
                            b"1000 OK auth\n".to_vec(),
                            b"3000 OK Hello\n".to_vec(),
                            b"bootstrap\n".to_vec(),
                            b"append data 1\n".to_vec(),
                            b"read data 1\n".to_vec(),
                            b"3000 OK data\n".to_vec(),
                            b"1 2 0".to_vec(),
                            b"rechdr 1 2 3 2 4".to_vec(),
                            b".api 2".to_vec(),
                            b"SIG:-1".to_vec(),
                            b"SIG:-15".to_vec(),
                        ]),
                    ],
                ),
                0..40,
            )
        ) {
            let frames: Vec<(bool, &[u8])> = frames.iter().map(|(c, f)| (*c, &f[..])).collect();
            let (_, d) = run(&frames);
            proptest::prop_assert_eq!(d.len(), frames.len());
        }

        /// The human form of any text never panics.
        #[test]
        fn prop_show_never_panics(s in ".{0,200}") {
            let _ = show::fields(&s);
            let _ = show::split(&s);
        }
    }
}
