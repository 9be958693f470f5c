//! Authenticated Bareos connections over tokio: TLS-first or cleartext, the hello, two-way
//! CRAM-MD5, and the Director's handshake-mode probing.
//!
//! # The sequence (`shared/protocol/connect.md` §0, §2, §3)
//!
//! ```text
//!  outbound (connect)                          inbound (accept)
//!  TCP connect ───────────────────────────────▶ peek ≥ 10 bytes (§3.2)
//!  [TLS-first: ClientHello, PSK identity        "Hello " at offset 4 → cleartext,
//!   R_<TYPE>␞<name>, key = password MD5 hex     0x16 → TLS server handshake with the
//!   or job session key] ◀────────────────────▶  PSK looked up by identity, else close
//!  hello frame ───────────────────────────────▶ parse, look up the peer, apply the
//!                                               cleartext gate; inside TLS the hello must
//!                                               name the PSK identity's resource
//!  ◀─────── auth cram-md5 <r.t@R_X::own> ssl=N  inbound challenges first
//!  response (Bacula base64 + NUL) ────────────▶
//!  ◀───────────────────────────── 1000 OK auth
//!  auth cram-md5 <…> ssl=N ───────────────────▶ then answers the outbound's challenge
//!  ◀────────────────────────────────── response
//!  1000 OK auth ──────────────────────────────▶
//!  [cleartext only: SelectTlsPolicy on the two ssl= values; Deny refuses, Enabled starts
//!   certificate TLS now, inbound = server]
//!  ── the daemon-level OK is the CALLER's job ──
//! ```
//!
//! **Who decides TLS-first.** [`connect`] takes a [`HandshakeMode`]: Bareos starts TLS at once
//! when the resource describing the peer has `TLS Enable` (console → Director, Director → SD,
//! FD → Director), when the Director said `ssl=4` (FD → SD, SD → passive FD), or as the
//! Director's probe result for a client ([`connect_probing`], §4). [`HandshakeMode::for_peer`]
//! is the `TLS Enable` rule.
//!
//! **The cleartext gate on accept** (§3.2, `TryTlsHandshakeAsAServer`): a `Hello Client` is let
//! through unless that Client is `TLS Require`; a console older than 18.2 always; anything
//! else only if the peer's resource has `TLS Enable = no`. A refused hello gets a
//! `BNET_TERMINATE` signal and the connection is closed. The TLS server is always set up from
//! the daemon's **own** resource ([`Local::tls`]), whatever the peer.
//!
//! **CRAM-MD5** (§2.3) runs in both directions, inside the TLS tunnel too, with the same key
//! as the PSK. The state machine is fd-core's sans-IO [`fd_core::auth::Authenticator`]
//! (including Bareos' failure script: `1999 Authorization failed.` frames and pauses); this
//! module only drives it over the socket with a clock. Hellos are fd-core's
//! [`fd_core::wire::hello`]. Challenges are `auth cram-md5 <random.time@R_<TYPE>::<own name>> ssl=N`,
//! with the literal `File daemon` as the SD's name towards a passive FD (captured in
//! vectors/clear-backup-passive, conn 4 msg 5). The inbound challenger accepts both base64
//! variants; the outbound one, having answered a plain `cram-md5`, Bacula first.
//!
//! **What is left to the caller.** After [`connect`] / [`accept`] return, the accepting
//! daemon sends its own OK (`2000 OK Hello 54\n` from an FD, `3000 OK Hello\n` from an SD,
//! `1000 OK: …` from a Director; nothing on job channels) and the connecting side reads it,
//! because only the daemon knows what it accepts and what it refuses (e.g. a Director
//! checks `Connection From Client To Director` and `Maximum Console Connections` there).
//!
//! **Timeouts.** [`ConnOptions`]: connect, the whole handshake (Bareos' `AUTH_TIMEOUT` is
//! 600 s, each wait 180 s), and a delay after a failed authentication (Bareos sleeps 5 s).
//! A silent peer ("slow loris") is cut off at the handshake deadline.
//!
//! **Errors** name the peer, say what failed and which configuration file to check
//! ([`crate::error`]); keys are never formatted.

pub mod framed;
pub mod tls_io;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fd_core::auth::{self, AuthError, Authenticator, Event};
use fd_core::wire::bnet::Signal;
use fd_core::wire::cram_md5::AuthReply;
use fd_core::wire::hello::{self, Acceptor, Hello, Version};
use fd_core::wire::psk::{self, FirstBytes, PskIdentity, QualifiedName, ResourceType};
use fd_core::wire::tls_policy::TlsPolicy;
use openssl::ssl::Ssl;
use tokio::net::TcpStream;
use tokio_openssl::SslStream;

pub use framed::{AuthenticatedConnection, FrameHead, PeerIdentity};

use crate::error::{printable, ConnError, ErrorKind};
use crate::tls::{self, Key, PskOutcome, PskSlot, Role, TlsInfo, TlsSettings};
use framed::Stream;

/// This daemon: its own resource.
#[derive(Debug, Clone)]
pub struct Local {
    /// The own resource's type: `Director`, `Client` (an FD), `Storage`, or `Console`.
    pub kind: ResourceType,
    /// The own resource's name.
    pub name: String,
    /// The own resource's TLS directives (used to serve TLS on accept).
    pub tls: TlsSettings,
    /// `Version="a.b.c"` in hellos.
    pub version: Version,
    /// The full version word of a console hello (`calling version <full>`).
    pub full_version: String,
}

impl Local {
    /// A local daemon identity with Barque's version.
    pub fn new(kind: ResourceType, name: impl Into<String>, tls: TlsSettings) -> Self {
        Self {
            kind,
            name: name.into(),
            tls,
            version: Version::new(26, 0, 0),
            full_version: "26.0.0~barque".into(),
        }
    }
}

/// A remote resource as this side configures it (e.g. the Director's Client resource, the
/// FD's Director resource, or a running job with its session key).
#[derive(Debug, Clone)]
pub struct Peer {
    /// The peer's resource type (`Client` for an FD, `Job` for a job connection ...).
    pub kind: ResourceType,
    /// Its name (the full Job name for `Job`).
    pub name: String,
    /// The shared key: the password's MD5 hex, or the job session key.
    pub key: Key,
    /// Where to connect (unused on accept).
    pub address: String,
    /// TCP port (unused on accept).
    pub port: u16,
    /// The TLS directives of this resource.
    pub tls: TlsSettings,
}

/// Finds the configured peer for a resource type and name on the accepting side: the
/// daemon's configuration for `Director`, `Client`, `Console`, `Storage`, and its running
/// jobs (name = full Job name, key = session key, TLS = the job's `sd_tls_policy`) for `Job`.
pub trait PeerLookup: Send + Sync {
    /// The peer, or `None` if this side has no such resource or job.
    fn find(&self, kind: ResourceType, name: &str) -> Option<Peer>;
}

impl<F> PeerLookup for F
where
    F: Fn(ResourceType, &str) -> Option<Peer> + Send + Sync,
{
    fn find(&self, kind: ResourceType, name: &str) -> Option<Peer> {
        self(kind, name)
    }
}

/// The connection types an outbound side opens (connect.md §2.1 rows 1–7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outbound {
    /// Director → FD (`Hello Director`), identity `R_DIRECTOR`.
    DirectorToFd,
    /// Director → SD (`Hello Director`), identity `R_DIRECTOR`.
    DirectorToSd,
    /// Console → Director (`Hello <name> calling version`), identity `R_CONSOLE`.
    ConsoleToDirector,
    /// FD → Director, client-initiated (`Hello Client`), identity `R_CLIENT`.
    ClientToDirector {
        /// `FdProtocolVersion=` (54 for current Bareos).
        fd_protocol_version: u32,
    },
    /// FD → SD data channel (`Hello Start Job`), identity `R_JOB`, key = session key.
    FdToSd {
        /// The full Job name.
        job: String,
    },
    /// SD → passive FD (`Hello Storage calling Start Job`), identity `R_JOB`.
    SdToFd {
        /// The full Job name.
        job: String,
    },
    /// Reading SD → writing SD for copy/migrate (`Hello Start Storage Job`), identity
    /// `R_JOB`, key = the writing SD's session key.
    SdToSd {
        /// The writing SD's full Job name.
        job: String,
    },
}

impl Outbound {
    /// The hello this connection type sends (fd-core's codec), borrowing names from `local`.
    pub fn hello<'a>(&'a self, local: &'a Local) -> Hello<'a> {
        let version = Some(local.version);
        match self {
            Outbound::DirectorToFd | Outbound::DirectorToSd => Hello::Director {
                name: local.name.as_bytes(),
                version,
            },
            Outbound::ConsoleToDirector => Hello::Console {
                name: local.name.as_bytes(),
                full_version: Some(local.full_version.as_bytes()),
                version,
            },
            Outbound::ClientToDirector {
                fd_protocol_version,
            } => Hello::Client {
                name: local.name.as_bytes(),
                fd_protocol: Some(i32::try_from(*fd_protocol_version).unwrap_or(i32::MAX)),
                version,
            },
            Outbound::FdToSd { job } => Hello::StartJob {
                job: job.as_bytes(),
                version,
            },
            Outbound::SdToFd { job } => Hello::StorageStartJob {
                job: job.as_bytes(),
                version,
            },
            Outbound::SdToSd { job } => Hello::StartStorageJob {
                job: job.as_bytes(),
                version,
            },
        }
    }

    fn peer_name<'a>(&'a self, local: &'a Local) -> &'a str {
        match self {
            Outbound::FdToSd { job } | Outbound::SdToFd { job } | Outbound::SdToSd { job } => job,
            _ => &local.name,
        }
    }

    /// The PSK identity bytes `R_<TYPE>` RS `<name>` for this connection.
    pub fn identity(&self, local: &Local) -> Result<Vec<u8>, ConnError> {
        let id = PskIdentity {
            kind: self.hello(local).resource_type(),
            name: self.peer_name(local).as_bytes(),
        };
        let mut buf = vec![0u8; id.buffer_len()];
        id.emit(&mut buf).map_err(|e| {
            ConnError::new(
                "local configuration",
                ErrorKind::Config,
                format!(
                    "cannot form a PSK identity from {:?}: {e}",
                    self.peer_name(local)
                ),
            )
            .hint("names must be non-empty and at most 255 bytes with the type prefix")
        })?;
        Ok(buf)
    }

    fn challenger_name(&self, local: &Local) -> Vec<u8> {
        if matches!(self, Outbound::SdToFd { .. }) {
            // AuthenticateWithFiledaemon passes the literal "File daemon".
            return b"File daemon".to_vec();
        }
        if matches!(self, Outbound::SdToSd { .. }) {
            // AuthenticateWithStoragedaemon's identity.
            return b"* replicate *".to_vec();
        }
        qualified(local.kind, &local.name)
    }
}

/// TLS-first or cleartext-first for an outbound connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HandshakeMode {
    /// Start with a TLS-PSK ClientHello ("Immediate TLS").
    TlsFirst,
    /// Start with the cleartext hello.
    Cleartext,
}

impl HandshakeMode {
    /// Bareos' rule for connections without probing: TLS-first iff the resource describing
    /// the peer has `TLS Enable`.
    pub fn for_peer(peer: &Peer) -> HandshakeMode {
        if peer.tls.enable {
            HandshakeMode::TlsFirst
        } else {
            HandshakeMode::Cleartext
        }
    }
}

/// Deadlines and limits of a handshake.
#[derive(Debug, Clone)]
pub struct ConnOptions {
    /// TCP connect.
    pub connect_timeout: Duration,
    /// Everything from the first byte to the end of CRAM-MD5 (including the peek).
    pub handshake_timeout: Duration,
    /// Sleep after a failed authentication before reporting it (Bareos: 5 s).
    pub auth_failure_delay: Duration,
    /// Largest frame payload accepted (at most 1,000,000, Bareos' `max_packet_size`).
    pub max_frame: usize,
    /// Heartbeat Interval of outbound connections: TCP keep-alive idle time and interval
    /// ([`set_keepalive`]); `None`: `SO_KEEPALIVE` with the system's times.
    pub heartbeat: Option<Duration>,
}

impl Default for ConnOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(30),
            handshake_timeout: Duration::from_secs(180),
            auth_failure_delay: Duration::from_secs(5),
            max_frame: fd_core::wire::bnet::MAX_PACKET_SIZE,
            heartbeat: None,
        }
    }
}

fn label(kind: ResourceType) -> &'static str {
    match kind {
        ResourceType::Client => "client",
        ResourceType::Console => "console",
        ResourceType::Director => "director",
        ResourceType::Job => "job",
        ResourceType::Storage => "storage",
    }
}

fn daemon_config(kind: ResourceType) -> &'static str {
    match kind {
        ResourceType::Director => "bareos-dir.d",
        ResourceType::Client => "bareos-fd.d",
        ResourceType::Storage => "bareos-sd.d",
        ResourceType::Console | ResourceType::Job => "bconsole.conf",
    }
}

/// Unanswered keep-alive probes before the kernel declares the peer dead ([`set_keepalive`]).
pub const KEEPALIVE_PROBES: u32 = 3;

/// The longest a connection with Heartbeat Interval `h` survives a silently vanished peer:
/// `h` idle, then [`KEEPALIVE_PROBES`] probes `h` apart.
pub fn dead_peer_after(h: Duration) -> Duration {
    h * (1 + KEEPALIVE_PROBES)
}

/// Socket options of a Bareos connection (connect.md §1.5, `BareosSocketTCP::open`,
/// `BnetThreadServerTcp`): `SO_KEEPALIVE` always; with a heartbeat interval `H` (the relevant
/// resource's `Heartbeat Interval`, `None` or zero: off) also `TCP_KEEPIDLE` = `TCP_KEEPINTVL`
/// = `H`, so a silent peer behind a firewall or NAT is probed every `H`.
///
/// Dead-peer detection: Bareos leaves the probe count to the kernel (Linux: 9, so a parked
/// client-initiated connection whose peer vanished without FIN/RST is noticed after `10 × H`;
/// Bareos' connection pool and the FD's `handle_connection_to_director` only see the socket
/// error). Here `TCP_KEEPCNT` is [`KEEPALIVE_PROBES`] as well, so the socket fails with
/// `ETIMEDOUT` at most [`dead_peer_after`]`(H)` after the peer's last packet; both daemons
/// then drop the connection (barque-dir's waiting list, barque-fd dials again). Probes are
/// empty ACKs: this changes nothing in the Bareos protocol.
pub fn set_keepalive(
    tcp: &impl std::os::fd::AsFd,
    heartbeat: Option<Duration>,
) -> std::io::Result<()> {
    let s = socket2::SockRef::from(tcp);
    match heartbeat.filter(|h| !h.is_zero()) {
        Some(h) => {
            let ka = socket2::TcpKeepalive::new().with_time(h).with_interval(h);
            #[cfg(any(
                target_os = "linux",
                target_os = "android",
                target_os = "macos",
                target_os = "freebsd",
                target_os = "netbsd",
                target_os = "ios"
            ))]
            let ka = ka.with_retries(KEEPALIVE_PROBES);
            s.set_tcp_keepalive(&ka)
        }
        None => s.set_keepalive(true),
    }
}

/// Where to look when `local` and the peer `(kind, name)` disagree about a resource.
fn config_hint(local: &Local, peer_kind: ResourceType, peer_name: &str) -> String {
    if peer_kind == ResourceType::Job {
        return format!(
            "check that job {peer_name} is running here and that both sides got the same \
             Authorization= session key from the Director"
        );
    }
    let there = if peer_kind == ResourceType::Console {
        "bconsole.conf (Director or Console resource)".to_string()
    } else {
        format!(
            "{}/{}/{}.conf",
            daemon_config(peer_kind),
            label(local.kind),
            local.name
        )
    };
    let here = if local.kind == ResourceType::Console {
        "bconsole.conf".to_string()
    } else {
        format!(
            "{}/{}/{}.conf",
            daemon_config(local.kind),
            label(peer_kind),
            peer_name
        )
    };
    format!("check Name and Password in {there} on the peer and in {here} here")
}

fn qualified(kind: ResourceType, name: &str) -> Vec<u8> {
    let q = QualifiedName {
        kind,
        name: name.as_bytes(),
    };
    let mut buf = vec![0u8; q.buffer_len()];
    match q.emit(&mut buf) {
        Ok(n) => buf.truncate(n),
        Err(_) => buf.clear(),
    }
    buf
}

fn random_u31() -> u32 {
    let mut b = [0u8; 4];
    if openssl::rand::rand_bytes(&mut b).is_err() {
        // Never expected; fall back to the clock so a challenge is still unpredictable enough
        // to be unique, and say so.
        log::warn!("OpenSSL RAND failed; using the clock for a CRAM-MD5 challenge");
        let t = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        b = t.to_be_bytes();
    }
    u32::from_be_bytes(b) & 0x7FFF_FFFF
}

fn now_u32() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as u32)
        .unwrap_or(0)
}

/// Drive fd-core's sans-IO authenticator over the connection. Returns the selected policy
/// (`SelectTlsPolicy`) on success; on failure the authenticator's own failure script (the
/// `1999` frames and pauses) has been played out.
async fn two_way_auth(
    c: &mut AuthenticatedConnection,
    config: auth::Config<'_>,
) -> Result<TlsPolicy, AuthOutcome> {
    let t0 = std::time::Instant::now();
    let now = || {
        fd_core::time::Instant::from_micros(
            i64::try_from(t0.elapsed().as_micros()).unwrap_or(i64::MAX),
        )
    };
    let mut a = Authenticator::new(config, now()).map_err(|e| {
        AuthOutcome::Conn(ConnError::new(
            c.who.clone(),
            ErrorKind::Config,
            format!("own name unusable in a CRAM-MD5 challenge: {e}"),
        ))
    })?;
    let mut buf = [0u8; auth::MAX_TRANSMIT_LEN];
    // Once a failure is under way (a `1999` went out or came in), the authenticator's script
    // of pauses and `1999` frames plays out even if the peer hangs up: Bareos is not reading
    // then either. Before that, a dead socket ends the handshake at once.
    let failed_frame = |bytes: &[u8]| bytes.get(4..) == Some(AuthReply::Failed.as_bytes());
    let mut failing = false;
    let mut dead: Option<ConnError> = None;
    loop {
        while let Some(n) = a.poll_transmit(&mut buf).map_err(|e| {
            AuthOutcome::Conn(ConnError::new(
                c.who.clone(),
                ErrorKind::Protocol,
                e.to_string(),
            ))
        })? {
            let frame = buf.get(..n).unwrap_or(&[]);
            failing |= failed_frame(frame);
            if dead.is_none() {
                if let Err(e) = c.write_raw(frame).await {
                    if !failing {
                        return Err(AuthOutcome::Conn(e));
                    }
                    dead = Some(e);
                }
            }
        }
        match a.poll_event() {
            Some(Event::Authenticated { selected, .. }) => return Ok(selected),
            Some(Event::Failed(e)) => return Err(AuthOutcome::Auth(e, a.remote_policy())),
            None => {}
        }
        let wait = a.poll_timeout().map(|t| {
            let us = t.total_micros().saturating_sub(now().total_micros());
            Duration::from_micros(u64::try_from(us).unwrap_or(0))
        });
        if let Some(e) = &dead {
            // No more reading: only the script's pauses remain.
            match wait {
                Some(d) => {
                    tokio::time::sleep(d).await;
                    a.handle_timeout(now());
                    continue;
                }
                None => return Err(AuthOutcome::Conn(e.clone())),
            }
        }
        let got = match wait {
            Some(d) => tokio::time::timeout(d, c.recv()).await.ok(),
            None => Some(c.recv().await),
        };
        match got {
            None => a.handle_timeout(now()),
            Some(Ok(frame)) => {
                if let fd_core::wire::bnet::Frame::Data(d) = frame {
                    failing |= d == AuthReply::Failed.as_bytes();
                }
                a.handle_frame(now(), frame);
            }
            Some(Err(e)) if failing => dead = Some(e),
            Some(Err(e)) => return Err(AuthOutcome::Conn(e)),
        }
    }
}

/// Why [`two_way_auth`] failed.
enum AuthOutcome {
    /// The authenticator decided (with the peer's `ssl=`).
    Auth(AuthError, TlsPolicy),
    /// The socket failed first.
    Conn(ConnError),
}

fn auth_error(
    who: &str,
    e: AuthError,
    local: TlsPolicy,
    remote: TlsPolicy,
    hint: String,
) -> ConnError {
    let (kind, detail) = match e {
        AuthError::WrongResponse => (
            ErrorKind::AuthFailed,
            "CRAM-MD5 response does not match: the peer uses a different password".to_string(),
        ),
        AuthError::Rejected => (
            ErrorKind::AuthFailed,
            "the peer rejected our CRAM-MD5 response: the two sides use different passwords"
                .to_string(),
        ),
        AuthError::ReplayAttack => (
            ErrorKind::AuthFailed,
            "the peer challenged with our own name (replay attack, or both sides share a name)"
                .to_string(),
        ),
        AuthError::Terminated => (
            ErrorKind::PolicyRefused,
            "the peer sent signal TERMINATE and closed the connection".to_string(),
        ),
        AuthError::TimedOut | AuthError::SessionTimeout => (ErrorKind::Timeout, e.to_string()),
        AuthError::TlsDenied => (
            ErrorKind::PolicyRefused,
            format!(
                "TLS policy mismatch: ours ssl={} and the peer's ssl={} (one side requires TLS, \
                 the other has it disabled)",
                local.code(),
                remote.code()
            ),
        ),
        _ => (ErrorKind::Protocol, e.to_string()),
    };
    let hint = match e {
        AuthError::WrongResponse | AuthError::Rejected => hint,
        AuthError::ReplayAttack => "give the two resources different Names".into(),
        AuthError::Terminated => format!(
            "the peer refused us before authentication: it does not know us, or it requires \
             TLS (enable TLS here); {hint}"
        ),
        AuthError::TlsDenied => "make TLS Enable/TLS Require agree on both sides".into(),
        _ => String::new(),
    };
    ConnError::new(who, kind, detail).hint(hint)
}

fn auth_config<'a>(
    role: auth::Role,
    key: &'a Key,
    own_name: &'a [u8],
    policy: TlsPolicy,
    tls_active: bool,
    opts: &ConnOptions,
) -> auth::Config<'a> {
    let mut cfg = auth::Config::new(
        role,
        key.as_bytes(),
        own_name,
        policy,
        random_u31(),
        now_u32(),
    );
    cfg.tls_active = tls_active;
    cfg.failure_delay = fd_core::time::Duration::from_micros(
        u64::try_from(opts.auth_failure_delay.as_micros()).unwrap_or(u64::MAX),
    );
    cfg
}

fn tls_err(who: &str, e: impl std::fmt::Display) -> ConnError {
    ConnError::new(who, ErrorKind::Tls, format!("TLS handshake failed: {e}"))
}

/// Upgrade after CRAM-MD5 when `SelectTlsPolicy` says so (cleartext start only; §2.6).
async fn upgrade(
    c: &mut AuthenticatedConnection,
    settings: &TlsSettings,
    role: Role,
    address: &str,
) -> Result<TlsInfo, ConnError> {
    if c.has_buffered_input() {
        return Err(ConnError::new(
            c.who.clone(),
            ErrorKind::Protocol,
            "peer sent data before the TLS upgrade",
        ));
    }
    let tcp = match std::mem::replace(&mut c.stream, Stream::Gone) {
        Stream::Plain(t) => t,
        other => {
            c.stream = other;
            return Err(ConnError::new(
                c.who.clone(),
                ErrorKind::Protocol,
                "TLS already active",
            ));
        }
    };
    let ctx = match role {
        Role::Client => tls::client_context(settings, None)?,
        Role::Server => tls::server_context(
            settings,
            Arc::new(|_, _| None),
            Arc::new(Mutex::new(PskOutcome::NotUsed)),
        )?,
    };
    let ssl = Ssl::new(&ctx).map_err(|e| tls_err(&c.who, e))?;
    let mut s = SslStream::new(ssl, framed::TlsIo::new(tcp)).map_err(|e| tls_err(&c.who, e))?;
    let r = match role {
        Role::Client => std::pin::Pin::new(&mut s).connect().await,
        Role::Server => std::pin::Pin::new(&mut s).accept().await,
    };
    r.map_err(|e| {
        tls_err(&c.who, e).hint(
            "both sides want TLS after CRAM-MD5 (ssl= negotiation), which is certificate TLS: \
             configure TLS Certificate/TLS Key on the accepting side, or use TLS-first",
        )
    })?;
    tls::verify_after_handshake(s.ssl(), settings, role, address)
        .map_err(|m| ConnError::new(c.who.clone(), ErrorKind::Tls, m))?;
    let info = TlsInfo::from_ssl(s.ssl(), None);
    c.stream = Stream::Tls(Box::new(s));
    Ok(info)
}

async fn with_deadline<T>(
    who: &str,
    t: Duration,
    f: impl std::future::Future<Output = Result<T, ConnError>>,
) -> Result<T, ConnError> {
    match tokio::time::timeout(t, f).await {
        Ok(r) => r,
        Err(_) => Err(ConnError::new(
            who,
            ErrorKind::Timeout,
            format!(
                "handshake not finished within {} ms (peer silent or too slow)",
                t.as_millis()
            ),
        )
        .hint("check that the peer speaks the Bareos protocol on this port")),
    }
}

/// Open an authenticated connection to `peer` (see the module docs). `peer.tls` describes
/// the peer as this side configures it; `mode` says whether TLS comes first.
pub async fn connect(
    local: &Local,
    peer: &Peer,
    kind: &Outbound,
    mode: HandshakeMode,
    opts: &ConnOptions,
) -> Result<AuthenticatedConnection, ConnError> {
    let who = format!(
        "{} {} ({}:{})",
        label(peer.kind),
        peer.name,
        peer.address,
        peer.port
    );
    let addr = (peer.address.as_str(), peer.port);
    let tcp = match tokio::time::timeout(opts.connect_timeout, TcpStream::connect(addr)).await {
        Ok(Ok(t)) => t,
        Ok(Err(e)) => {
            return Err(
                ConnError::new(who, ErrorKind::Unreachable, format!("cannot connect: {e}"))
                    .hint("check Address and Port, and that the daemon is running"),
            )
        }
        Err(_) => {
            return Err(ConnError::new(
                who,
                ErrorKind::Unreachable,
                format!(
                    "cannot connect within {} ms",
                    opts.connect_timeout.as_millis()
                ),
            )
            .hint("check Address, Port and firewalls"))
        }
    };
    let _ = tcp.set_nodelay(true);
    let _ = set_keepalive(&tcp, opts.heartbeat);
    let fut = connect_on(tcp, local, peer, kind, mode, opts, who.clone());
    with_deadline(&who, opts.handshake_timeout, fut).await
}

async fn connect_on(
    tcp: TcpStream,
    local: &Local,
    peer: &Peer,
    kind: &Outbound,
    mode: HandshakeMode,
    opts: &ConnOptions,
    who: String,
) -> Result<AuthenticatedConnection, ConnError> {
    let identity = kind.identity(local)?;
    let (stream, tls_info) = match mode {
        HandshakeMode::Cleartext => (Stream::Plain(tcp), None),
        HandshakeMode::TlsFirst => {
            let psk = Some((identity.clone(), peer.key.clone()));
            let io = framed::TlsIo::new(tcp);
            let s = match tls::client_handshake(io, &peer.tls, psk, &peer.address).await {
                Ok(s) => s,
                Err(tls::ClientHandshakeError::Config(e)) => return Err(e),
                Err(tls::ClientHandshakeError::Setup(e)) => return Err(tls_err(&who, e)),
                Err(tls::ClientHandshakeError::Handshake(e)) => {
                    return Err(tls_err(&who, e).hint(format!(
                        "the peer did not accept TLS-PSK identity {}: {}, or it has TLS disabled",
                        printable(&identity),
                        config_hint(local, peer.kind, &peer.name)
                    )))
                }
                Err(tls::ClientHandshakeError::Verify(m)) => {
                    return Err(ConnError::new(who.clone(), ErrorKind::Tls, m)
                        .hint("check TLS Verify Peer, TLS Allowed CN and the peer's certificate"))
                }
            };
            let info = TlsInfo::from_ssl(s.ssl(), Some(identity.clone()));
            (Stream::Tls(Box::new(s)), Some(info))
        }
    };
    let mut c = AuthenticatedConnection::new(stream, opts.max_frame, who.clone());
    let hello = kind.hello(local);
    let mut hb = vec![0u8; hello.buffer_len()];
    let n = hello.emit(&mut hb).map_err(|e| {
        ConnError::new(
            who.clone(),
            ErrorKind::Config,
            format!("cannot form our hello: {e}"),
        )
        .hint("names must be 1..=127 bytes")
    })?;
    hb.truncate(n);
    c.send(&hb).await?;

    let own = kind.challenger_name(local);
    let policy = peer.tls.policy();
    let hint = config_hint(local, peer.kind, &peer.name);
    let cfg = auth_config(
        auth::Role::Outbound,
        &peer.key,
        &own,
        policy,
        tls_info.is_some(),
        opts,
    );
    let selected = match two_way_auth(&mut c, cfg).await {
        Ok(s) => s,
        Err(AuthOutcome::Auth(e, remote)) => return Err(auth_error(&who, e, policy, remote, hint)),
        Err(AuthOutcome::Conn(e)) if e.kind == ErrorKind::Io && tls_info.is_none() => {
            return Err(e.hint(
                "the peer closed the connection after our cleartext hello: it probably \
                 requires TLS (TLS Enable on its resource for us); enable TLS here",
            ))
        }
        Err(AuthOutcome::Conn(e)) => return Err(e),
    };
    let mut tls_info = tls_info;
    if tls_info.is_none() && selected.wants_tls() {
        tls_info = Some(upgrade(&mut c, &peer.tls, Role::Client, &peer.address).await?);
    }
    c.peer = Some(PeerIdentity {
        kind: peer.kind,
        name: peer.name.clone(),
        hello: hb,
        tls: tls_info,
        addr: format!("{}:{}", peer.address, peer.port),
    });
    log::debug!("{who}: authenticated");
    Ok(c)
}

/// The daemon-level refusal Bareos sends after a failed CRAM-MD5 (connect.md §2.3), if any.
fn refusal(local: &Local, hello: &Hello<'_>) -> Option<&'static [u8]> {
    match (local.kind, hello) {
        (ResourceType::Client, Hello::Director { .. }) => Some(b"2999 Authentication failed.\n"),
        (ResourceType::Storage, Hello::Director { .. }) => Some(b"3999 No go\n"),
        (ResourceType::Director, Hello::Client { .. }) => Some(b"1999 You are not authorized.\n"),
        _ => None,
    }
}

/// Accept one connection from `listener` and authenticate it; see [`accept`].
pub async fn accept_from(
    listener: &tokio::net::TcpListener,
    local: &Local,
    lookup: Arc<dyn PeerLookup>,
    opts: &ConnOptions,
) -> Result<(PeerIdentity, AuthenticatedConnection), ConnError> {
    let (tcp, _) = listener
        .accept()
        .await
        .map_err(|e| ConnError::new("listener", ErrorKind::Io, format!("accept failed: {e}")))?;
    accept(tcp, local, lookup, opts).await
}

/// Authenticate an accepted TCP connection (see the module docs): the 10-byte peek, the TLS
/// server (PSK looked up through `lookup`, settings from `local.tls`) or the cleartext gate,
/// the hello, two-way CRAM-MD5. Returns who the peer is and the connection.
pub async fn accept(
    tcp: TcpStream,
    local: &Local,
    lookup: Arc<dyn PeerLookup>,
    opts: &ConnOptions,
) -> Result<(PeerIdentity, AuthenticatedConnection), ConnError> {
    let addr = tcp
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_else(|_| "?".into());
    let who = format!("connection from {addr}");
    let _ = tcp.set_nodelay(true);
    let _ = set_keepalive(&tcp, None);
    let fut = accept_on(tcp, local, lookup, opts, addr);
    let r = with_deadline(&who, opts.handshake_timeout, fut).await;
    if let Err(e) = &r {
        log::warn!("{e}");
    }
    r
}

async fn peek_first(tcp: &TcpStream, who: &str) -> Result<FirstBytes, ConnError> {
    let mut buf = [0u8; 255];
    loop {
        let n = tcp
            .peek(&mut buf)
            .await
            .map_err(|e| ConnError::new(who, ErrorKind::Io, format!("peek failed: {e}")))?;
        if n == 0 {
            return Err(ConnError::new(
                who,
                ErrorKind::Io,
                "peer closed the connection before sending 10 bytes",
            ));
        }
        match psk::classify_first_bytes(buf.get(..n).unwrap_or(&[])) {
            FirstBytes::NeedMore => tokio::time::sleep(Duration::from_millis(5)).await,
            other => return Ok(other),
        }
    }
}

async fn accept_on(
    tcp: TcpStream,
    local: &Local,
    lookup: Arc<dyn PeerLookup>,
    opts: &ConnOptions,
    addr: String,
) -> Result<(PeerIdentity, AuthenticatedConnection), ConnError> {
    let who = format!("connection from {addr}");
    let first = peek_first(&tcp, &who).await?;
    let mut psk_identity: Option<Vec<u8>> = None;
    let (stream, mut tls_info) = match first {
        FirstBytes::Garbage | FirstBytes::NeedMore => {
            return Err(ConnError::new(
                who,
                ErrorKind::Protocol,
                "first bytes are neither a Bareos hello nor a TLS handshake; closing",
            )
            .hint("is a non-Bareos client talking to this port?"));
        }
        FirstBytes::CleartextHello => (Stream::Plain(tcp), None),
        FirstBytes::Tls => {
            let slot: PskSlot = Arc::new(Mutex::new(PskOutcome::NotUsed));
            let l2 = lookup.clone();
            let psk_lookup: tls::PskLookup = Arc::new(move |k, n| l2.find(k, n).map(|p| p.key));
            let ctx = tls::server_context(&local.tls, psk_lookup, slot.clone())?;
            let ssl = Ssl::new(&ctx).map_err(|e| tls_err(&who, e))?;
            let mut s =
                SslStream::new(ssl, framed::TlsIo::new(tcp)).map_err(|e| tls_err(&who, e))?;
            let res = std::pin::Pin::new(&mut s).accept().await;
            let outcome = slot.lock().map(|g| g.clone()).unwrap_or_default();
            if let Err(e) = res {
                return Err(match outcome {
                    PskOutcome::Unknown(id) => {
                        let (kind, name) = PskIdentity::parse(&id)
                            .map(|i| (i.kind, String::from_utf8_lossy(i.name).into_owned()))
                            .unwrap_or((ResourceType::Director, String::new()));
                        ConnError::new(
                            format!("{} {name} ({addr})", label(kind)),
                            ErrorKind::UnknownPeer,
                            format!(
                                "PSK identity {} unknown to this {} {}",
                                printable(&id),
                                label(local.kind),
                                local.name
                            ),
                        )
                        .hint(config_hint(local, kind, &name))
                    }
                    PskOutcome::Malformed(id) => ConnError::new(
                        who,
                        ErrorKind::UnknownPeer,
                        format!(
                            "PSK identity {} is not of the form R_<TYPE>␞<name>",
                            printable(&id)
                        ),
                    ),
                    _ if local.tls.verify_peer => tls_err(&who, e).hint(
                        "TLS Verify Peer is set on this side: a peer without a certificate \
                         (pure TLS-PSK) cannot pass it (connect.md §3.7)",
                    ),
                    _ => tls_err(&who, e).hint(
                        "if the peer uses the right identity, its Password differs from ours",
                    ),
                });
            }
            tls::verify_after_handshake(s.ssl(), &local.tls, Role::Server, "").map_err(|m| {
                ConnError::new(who.clone(), ErrorKind::Tls, m)
                    .hint("check TLS Verify Peer / TLS Allowed CN and the peer's certificate")
            })?;
            if let PskOutcome::Found(id) = outcome {
                psk_identity = Some(id).filter(|_| tls::psk_in_use(s.ssl()));
            }
            let info = TlsInfo::from_ssl(s.ssl(), psk_identity.clone());
            (Stream::Tls(Box::new(s)), Some(info))
        }
    };
    let mut c = AuthenticatedConnection::new(stream, opts.max_frame, who.clone());
    let payload = c.recv_data("a hello").await?;
    let acceptor = match local.kind {
        ResourceType::Director => Acceptor::Director,
        ResourceType::Client => Acceptor::FileDaemon,
        _ => Acceptor::StorageDaemon,
    };
    let hello = match Hello::parse_at(acceptor, &payload) {
        Ok(h) => h,
        Err(e) => {
            let _ = c.signal(Signal::Terminate).await;
            let why = match e {
                fd_core::wire::Error::Unrecognized => format!(
                    "hello of a connection type a {} does not accept",
                    label(local.kind)
                ),
                e => format!("malformed hello ({e})"),
            };
            return Err(ConnError::new(
                who,
                ErrorKind::Protocol,
                format!(
                    "{why}: {:?}",
                    printable(payload.get(..80).unwrap_or(&payload))
                ),
            ));
        }
    };
    let kind = hello.resource_type();
    let mut nb = vec![0u8; hello.name().len()];
    let name = hello::unbash(hello.name(), &mut nb)
        .ok()
        .and_then(|n| std::str::from_utf8(n).ok())
        .map(str::to_string)
        .unwrap_or_else(|| printable(hello.name()));
    let pwho = format!("{} {name} ({addr})", label(kind));
    c.who = pwho.clone();
    if let Some(id) = &psk_identity {
        let matches = PskIdentity::parse(id)
            .map(|i| i.kind == kind && hello::bashed_eq(hello.name(), i.name))
            .unwrap_or(false);
        if !matches {
            let _ = c.signal(Signal::Terminate).await;
            return Err(ConnError::new(
                pwho,
                ErrorKind::UnknownPeer,
                format!(
                    "hello names {} {name} but the TLS-PSK identity was {}",
                    label(kind),
                    printable(id)
                ),
            )
            .hint("the peer's Name and the name in its hello must agree"));
        }
    }
    let Some(peer) = lookup.find(kind, &name) else {
        let _ = c.signal(Signal::Terminate).await;
        return Err(ConnError::new(
            pwho,
            ErrorKind::UnknownPeer,
            format!(
                "no {} resource named {name:?} on this {} {}",
                label(kind),
                label(local.kind),
                local.name
            ),
        )
        .hint(config_hint(local, kind, &name)));
    };
    let policy = peer.tls.policy();
    let version = hello
        .console_version_number()
        .unwrap_or(hello::VERSION_UNDEFINED);
    if tls_info.is_none() && !psk::cleartext_hello_allowed(kind, version, policy) {
        let _ = c.signal(Signal::Terminate).await;
        return Err(ConnError::new(
            pwho,
            ErrorKind::PolicyRefused,
            format!(
                "cleartext hello refused: TLS is {} for this {} here",
                if policy == TlsPolicy::Required {
                    "required"
                } else {
                    "enabled"
                },
                label(kind)
            ),
        )
        .hint(format!(
            "enable TLS on the peer, or set TLS Enable = no (or TLS Require = no for a client) in {}",
            config_hint(local, kind, &name).trim_start_matches("check Name and Password in ")
        )));
    }
    let own = qualified(local.kind, &local.name);
    let hint = config_hint(local, kind, &name);
    let refuse = refusal(local, &hello);
    let raw_hello = payload.clone();
    let cfg = auth_config(
        auth::Role::Inbound,
        &peer.key,
        &own,
        policy,
        tls_info.is_some(),
        opts,
    );
    let selected = match two_way_auth(&mut c, cfg).await {
        Ok(s) => s,
        Err(AuthOutcome::Auth(e, remote)) => {
            if matches!(e, AuthError::WrongResponse | AuthError::Rejected) {
                if let Some(r) = refuse {
                    let _ = c.send(r).await;
                }
            }
            return Err(auth_error(&pwho, e, policy, remote, hint));
        }
        Err(AuthOutcome::Conn(e)) => return Err(e),
    };
    if tls_info.is_none() && selected.wants_tls() {
        tls_info = Some(upgrade(&mut c, &local.tls, Role::Server, "").await?);
    }
    let ident = PeerIdentity {
        kind,
        name,
        hello: raw_hello,
        tls: tls_info,
        addr,
    };
    c.peer = Some(ident.clone());
    log::debug!("{pwho}: authenticated");
    Ok((ident, c))
}

/// The Director's per-client handshake memory (connect.md §4,
/// `ClientResource::connection_successful_handshake_`): in memory only, cleared on
/// configuration reload with [`ProbeCache::reset`].
#[derive(Debug, Default)]
pub struct ProbeCache {
    modes: Mutex<HashMap<String, HandshakeMode>>,
}

/// How [`connect_probing`] got through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probed {
    /// The mode that worked.
    pub mode: HandshakeMode,
    /// True if this attempt discovered it (Bareos prints "Probing client protocol...").
    pub probed: bool,
}

impl ProbeCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Forget every client's mode (`ResetAllClientConnectionHandshakeModes`, on reload).
    pub fn reset(&self) {
        if let Ok(mut m) = self.modes.lock() {
            m.clear();
        }
    }

    /// The remembered mode for a client.
    pub fn get(&self, client: &str) -> Option<HandshakeMode> {
        self.modes.lock().ok().and_then(|m| m.get(client).copied())
    }

    /// Remember `mode` for a client (the Director does so for a client it reached over a
    /// client-initiated connection, as Bareos' `ConnectToFileDaemon` saves the tried mode).
    pub fn remember(&self, client: &str, mode: HandshakeMode) {
        self.set(client, Some(mode));
    }

    fn set(&self, client: &str, mode: Option<HandshakeMode>) {
        if let Ok(mut m) = self.modes.lock() {
            match mode {
                Some(v) => m.insert(client.to_string(), v),
                None => m.remove(client),
            };
        }
    }
}

/// Director → FD with handshake probing (`ConnectToFileDaemon`, connect.md §4): with no
/// remembered mode, try TLS-first if the Client has `TLS Enable`, then cleartext unless it has
/// `TLS Require`; at most 3 tries, each on a new TCP connection; stop when TCP itself fails.
/// The mode that works is remembered in `cache` until [`ProbeCache::reset`].
pub async fn connect_probing(
    cache: &ProbeCache,
    local: &Local,
    client: &Peer,
    opts: &ConnOptions,
) -> Result<(AuthenticatedConnection, Probed), ConnError> {
    let stored = cache.get(&client.name);
    let probed = stored.is_none();
    let mut try_mode = stored.unwrap_or(if client.tls.enable {
        HandshakeMode::TlsFirst
    } else {
        HandshakeMode::Cleartext
    });
    if probed {
        log::info!(
            "client {}: Probing client protocol... (result will be saved until config reload)",
            client.name
        );
    }
    let mut last = None;
    for _ in 0..3 {
        match connect(local, client, &Outbound::DirectorToFd, try_mode, opts).await {
            Ok(c) => {
                cache.set(&client.name, Some(try_mode));
                return Ok((
                    c,
                    Probed {
                        mode: try_mode,
                        probed,
                    },
                ));
            }
            Err(e) => {
                let unreachable = e.kind == ErrorKind::Unreachable;
                last = Some(e);
                cache.set(&client.name, None);
                if unreachable {
                    break;
                }
                match try_mode {
                    HandshakeMode::TlsFirst if !client.tls.require => {
                        try_mode = HandshakeMode::Cleartext;
                    }
                    _ => break,
                }
            }
        }
    }
    Err(last.unwrap_or_else(|| {
        ConnError::new(
            format!("client {}", client.name),
            ErrorKind::Io,
            "no connection attempt made",
        )
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kernel reports back what [`set_keepalive`] set (connect.md §1.5).
    #[tokio::test]
    async fn keepalive_follows_the_heartbeat_interval() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let a = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (b, _) = l.accept().await.unwrap();
        set_keepalive(&a, Some(Duration::from_secs(5))).unwrap();
        set_keepalive(&b, None).unwrap();
        let sa = socket2::SockRef::from(&a);
        let sb = socket2::SockRef::from(&b);
        assert!(sa.keepalive().unwrap() && sb.keepalive().unwrap());
        assert_eq!(sa.tcp_keepalive_time().unwrap(), Duration::from_secs(5));
        assert_eq!(sa.tcp_keepalive_interval().unwrap(), Duration::from_secs(5));
        assert_eq!(sa.tcp_keepalive_retries().unwrap(), KEEPALIVE_PROBES);
        // Zero means off: only SO_KEEPALIVE, with the system's times.
        let before = sb.tcp_keepalive_time().unwrap();
        set_keepalive(&b, Some(Duration::ZERO)).unwrap();
        assert_eq!(sb.tcp_keepalive_time().unwrap(), before);
    }
}
