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
//! as the PSK. The codecs are fd-core's (`wire::cram_md5`); this module only drives them
//! over the socket. Challenges are `auth cram-md5 <random.time@R_<TYPE>::<own name>> ssl=N`,
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
//!
//! **Interim.** The hello lines are parsed by [`hello`], a small stand-in for
//! `fd_core::wire::hello`, which was still empty when this was written; see its docs.

pub mod framed;
pub mod hello;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fd_core::wire::base64::Variant;
use fd_core::wire::bnet::Signal;
use fd_core::wire::cram_md5::{self, AuthReply, ChallengeRepr, Keyword, Response, Token};
use fd_core::wire::psk::{self, FirstBytes, PskIdentity, QualifiedName, ResourceType};
use fd_core::wire::tls_policy::TlsPolicy;
use openssl::ssl::Ssl;
use tokio::net::TcpStream;
use tokio_openssl::SslStream;

pub use framed::{AuthenticatedConnection, PeerIdentity};
pub use hello::{Hello, HelloKind};

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
    pub version: (u32, u32, u32),
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
            version: (26, 0, 0),
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
}

impl Outbound {
    fn hello(&self, local: &Local) -> Hello {
        let (kind, name) = match self {
            Outbound::DirectorToFd | Outbound::DirectorToSd => (HelloKind::Director, &local.name),
            Outbound::ConsoleToDirector => (HelloKind::Console, &local.name),
            Outbound::ClientToDirector { .. } => (HelloKind::Client, &local.name),
            Outbound::FdToSd { job } => (HelloKind::StartJob, job),
            Outbound::SdToFd { job } => (HelloKind::StorageCallingStartJob, job),
        };
        Hello {
            kind,
            name: name.clone(),
            version: Some(local.version),
            full_version: (kind == HelloKind::Console).then(|| local.full_version.clone()),
            fd_protocol_version: match self {
                Outbound::ClientToDirector {
                    fd_protocol_version,
                } => Some(*fd_protocol_version),
                _ => None,
            },
        }
    }

    /// The PSK identity bytes `R_<TYPE>` RS `<name>` for this connection.
    pub fn identity(&self, local: &Local) -> Result<Vec<u8>, ConnError> {
        let h = self.hello(local);
        let id = PskIdentity {
            kind: h.kind.resource_type(),
            name: h.name.as_bytes(),
        };
        let mut buf = vec![0u8; id.buffer_len()];
        id.emit(&mut buf).map_err(|e| {
            ConnError::new(
                "local configuration",
                ErrorKind::Config,
                format!("cannot form a PSK identity from {:?}: {e}", h.name),
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
    /// Largest frame payload accepted (at most 1,000,000 − 4).
    pub max_frame: usize,
}

impl Default for ConnOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(30),
            handshake_timeout: Duration::from_secs(180),
            auth_failure_delay: Duration::from_secs(5),
            max_frame: fd_core::wire::bnet::MAX_MESSAGE_LEN,
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

/// Challenge the peer (`CramMd5Handshake::CramMd5Challenge`).
async fn cram_challenge(
    c: &mut AuthenticatedConnection,
    key: &Key,
    own_name: &[u8],
    ssl: TlsPolicy,
    first: Variant,
) -> Result<(), ConnError> {
    let mut tok = [0u8; cram_md5::MAX_TOKEN_LEN];
    let n = cram_md5::write_token(random_u31(), now_u32(), own_name, &mut tok).map_err(|e| {
        ConnError::new(
            c.who.clone(),
            ErrorKind::Config,
            format!("own name unusable in a CRAM-MD5 challenge: {e}"),
        )
    })?;
    let token = tok.get(..n).unwrap_or(&[]);
    let ch = ChallengeRepr {
        keyword: Keyword::CramMd5,
        token,
        ssl: Some(ssl),
        qualified_name: None,
    };
    let mut buf = vec![0u8; ch.buffer_len()];
    let len = ch
        .emit(&mut buf)
        .map_err(|e| ConnError::new(c.who.clone(), ErrorKind::Protocol, e.to_string()))?;
    buf.truncate(len);
    c.send(&buf).await?;
    let resp = c.recv_data("a CRAM-MD5 response").await?;
    if cram_md5::verify(&resp, key.as_bytes(), token, first) {
        c.send(AuthReply::Ok.as_bytes()).await?;
        Ok(())
    } else {
        c.send(AuthReply::Failed.as_bytes()).await?;
        Err(ConnError::new(
            c.who.clone(),
            ErrorKind::AuthFailed,
            "CRAM-MD5 response does not match: the peer uses a different password",
        ))
    }
}

/// Answer the peer's challenge (`CramMd5Handshake::CramMd5Response`). Returns the peer's
/// `ssl=` value and the base64 variant it asked for.
async fn cram_respond(
    c: &mut AuthenticatedConnection,
    key: &Key,
    own_bashed: &[u8],
) -> Result<(TlsPolicy, Variant), ConnError> {
    let payload = c.recv_data("a CRAM-MD5 challenge").await?;
    let ch = match ChallengeRepr::parse(&payload) {
        Ok(ch) => ch,
        Err(_) => {
            c.send(AuthReply::Failed.as_bytes()).await?;
            return Err(ConnError::new(
                c.who.clone(),
                ErrorKind::Protocol,
                format!(
                    "expected `auth cram-md5 <…> ssl=N`, got {:?}",
                    printable(payload.get(..80).unwrap_or(&payload))
                ),
            ));
        }
    };
    let token = Token::parse(ch.token).map_err(|_| {
        ConnError::new(
            c.who.clone(),
            ErrorKind::Protocol,
            "malformed CRAM-MD5 challenge token",
        )
    })?;
    if token.is_replay_of(own_bashed) {
        return Err(ConnError::new(
            c.who.clone(),
            ErrorKind::AuthFailed,
            "the peer challenged with our own name (replay attack, or both sides share a name)",
        )
        .hint("give the two resources different Names"));
    }
    let resp = Response::compute(key.as_bytes(), token.as_bytes(), ch.keyword.variant());
    let mut out = [0u8; cram_md5::RESPONSE_LEN];
    let n = resp
        .emit(&mut out)
        .map_err(|e| ConnError::new(c.who.clone(), ErrorKind::Protocol, e.to_string()))?;
    c.send(out.get(..n).unwrap_or(&[])).await?;
    let reply = c.recv_data("`1000 OK auth`").await?;
    match AuthReply::parse(&reply) {
        Ok(AuthReply::Ok) => Ok((ch.ssl.unwrap_or(TlsPolicy::Unknown), ch.keyword.variant())),
        _ => Err(ConnError::new(
            c.who.clone(),
            ErrorKind::AuthFailed,
            "the peer rejected our CRAM-MD5 response: the two sides use different passwords",
        )),
    }
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
    let mut s = SslStream::new(ssl, tcp).map_err(|e| tls_err(&c.who, e))?;
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
            let ctx = tls::client_context(&peer.tls, Some((identity.clone(), peer.key.clone())))?;
            let ssl = Ssl::new(&ctx).map_err(|e| tls_err(&who, e))?;
            let mut s = SslStream::new(ssl, tcp).map_err(|e| tls_err(&who, e))?;
            if let Err(e) = std::pin::Pin::new(&mut s).connect().await {
                return Err(tls_err(&who, e).hint(format!(
                    "the peer did not accept TLS-PSK identity {}: {}, or it has TLS disabled",
                    printable(&identity),
                    config_hint(local, peer.kind, &peer.name)
                )));
            }
            tls::verify_after_handshake(s.ssl(), &peer.tls, Role::Client, &peer.address).map_err(
                |m| {
                    ConnError::new(who.clone(), ErrorKind::Tls, m)
                        .hint("check TLS Verify Peer, TLS Allowed CN and the peer's certificate")
                },
            )?;
            let info = TlsInfo::from_ssl(s.ssl(), Some(identity.clone()));
            (Stream::Tls(Box::new(s)), Some(info))
        }
    };
    let mut c = AuthenticatedConnection::new(stream, opts.max_frame, who.clone());
    let hello = kind.hello(local);
    c.send(&hello.emit()).await?;

    let own = kind.challenger_name(local);
    let own_bashed: Vec<u8> = own
        .iter()
        .map(|&b| if b == b' ' { 0x01 } else { b })
        .collect();
    let policy = peer.tls.policy();
    let hint = config_hint(local, peer.kind, &peer.name);
    let (remote, variant) = match cram_respond(&mut c, &peer.key, &own_bashed).await {
        Ok(x) => x,
        Err(e) if e.kind == ErrorKind::AuthFailed => {
            tokio::time::sleep(opts.auth_failure_delay).await;
            return Err(e.hint(hint));
        }
        Err(e) if e.kind == ErrorKind::Io && tls_info.is_none() => {
            return Err(e.hint(
                "the peer closed the connection after our cleartext hello: it probably \
                 requires TLS (TLS Enable on its resource for us); enable TLS here",
            ))
        }
        Err(e) => return Err(e),
    };
    if let Err(e) = cram_challenge(&mut c, &peer.key, &own, policy, variant).await {
        if e.kind == ErrorKind::AuthFailed {
            tokio::time::sleep(opts.auth_failure_delay).await;
            return Err(e.hint(hint));
        }
        return Err(e);
    }
    let mut tls_info = tls_info;
    if tls_info.is_none() {
        match TlsPolicy::select(policy, remote) {
            TlsPolicy::Deny => {
                return Err(ConnError::new(
                    who,
                    ErrorKind::PolicyRefused,
                    format!(
                        "TLS policy mismatch: ours ssl={} and the peer's ssl={} (one requires TLS, \
                         the other has it disabled)",
                        policy.code(),
                        remote.code()
                    ),
                )
                .hint("make TLS Enable/TLS Require agree on both sides"))
            }
            p if p.wants_tls() => {
                tls_info = Some(upgrade(&mut c, &peer.tls, Role::Client, &peer.address).await?);
            }
            _ => {}
        }
    }
    c.peer = Some(PeerIdentity {
        kind: peer.kind,
        name: peer.name.clone(),
        hello,
        tls: tls_info,
        addr: format!("{}:{}", peer.address, peer.port),
    });
    log::debug!("{who}: authenticated");
    Ok(c)
}

/// Bareos' decision for a cleartext hello on the accepting side (connect.md §3.2 table).
pub fn cleartext_allowed(hello: &Hello, peer_policy: TlsPolicy) -> bool {
    match hello.kind {
        HelloKind::Client => peer_policy != TlsPolicy::Required,
        HelloKind::Console if hello.console_version() < 1802 => true,
        _ => peer_policy == TlsPolicy::None,
    }
}

/// The daemon-level refusal Bareos sends after a failed CRAM-MD5 (connect.md §2.3), if any.
fn refusal(local: &Local, hello: &Hello) -> Option<&'static [u8]> {
    match (local.kind, hello.kind) {
        (ResourceType::Client, HelloKind::Director) => Some(b"2999 Authentication failed.\n"),
        (ResourceType::Storage, HelloKind::Director) => Some(b"3999 No go\n"),
        (ResourceType::Director, HelloKind::Client) => Some(b"1999 You are not authorized.\n"),
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
            let mut s = SslStream::new(ssl, tcp).map_err(|e| tls_err(&who, e))?;
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
                psk_identity = Some(id);
            }
            let info = TlsInfo::from_ssl(s.ssl(), psk_identity.clone());
            (Stream::Tls(Box::new(s)), Some(info))
        }
    };
    let mut c = AuthenticatedConnection::new(stream, opts.max_frame, who.clone());
    let payload = c.recv_data("a hello").await?;
    let hello = match Hello::parse(&payload) {
        Ok(h) => h,
        Err(why) => {
            let _ = c.signal(Signal::Terminate).await;
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
    let kind = hello.kind.resource_type();
    let pwho = format!("{} {} ({addr})", label(kind), hello.name);
    c.who = pwho.clone();
    if let Some(id) = &psk_identity {
        let matches = PskIdentity::parse(id)
            .map(|i| i.kind == kind && i.name == hello.name.as_bytes())
            .unwrap_or(false);
        if !matches {
            let _ = c.signal(Signal::Terminate).await;
            return Err(ConnError::new(
                pwho,
                ErrorKind::UnknownPeer,
                format!(
                    "hello names {} {} but the TLS-PSK identity was {}",
                    label(kind),
                    hello.name,
                    printable(id)
                ),
            )
            .hint("the peer's Name and the name in its hello must agree"));
        }
    }
    let Some(peer) = lookup.find(kind, &hello.name) else {
        let _ = c.signal(Signal::Terminate).await;
        return Err(ConnError::new(
            pwho,
            ErrorKind::UnknownPeer,
            format!(
                "no {} resource named {:?} on this {} {}",
                label(kind),
                hello.name,
                label(local.kind),
                local.name
            ),
        )
        .hint(config_hint(local, kind, &hello.name)));
    };
    let policy = peer.tls.policy();
    if tls_info.is_none() && !cleartext_allowed(&hello, policy) {
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
            config_hint(local, kind, &hello.name)
                .trim_start_matches("check Name and Password in ")
        )));
    }
    let own = qualified(local.kind, &local.name);
    let hint = config_hint(local, kind, &hello.name);
    let refuse = refusal(local, &hello);
    let mut auth = cram_challenge(&mut c, &peer.key, &own, policy, Variant::Standard).await;
    let mut remote = TlsPolicy::Unknown;
    if auth.is_ok() {
        match cram_respond(&mut c, &peer.key, &own).await {
            Ok((r, _)) => remote = r,
            Err(e) => auth = Err(e),
        }
    }
    if let Err(e) = auth {
        if e.kind == ErrorKind::AuthFailed {
            if let Some(r) = refuse {
                let _ = c.send(r).await;
            }
            tokio::time::sleep(opts.auth_failure_delay).await;
            return Err(e.hint(hint));
        }
        return Err(e);
    }
    if tls_info.is_none() {
        match TlsPolicy::select(policy, remote) {
            TlsPolicy::Deny => {
                return Err(ConnError::new(
                    pwho,
                    ErrorKind::PolicyRefused,
                    format!(
                        "TLS policy mismatch: ours ssl={} and the peer's ssl={}",
                        policy.code(),
                        remote.code()
                    ),
                )
                .hint("make TLS Enable/TLS Require agree on both sides"))
            }
            p if p.wants_tls() => {
                tls_info = Some(upgrade(&mut c, &local.tls, Role::Server, "").await?);
            }
            _ => {}
        }
    }
    let ident = PeerIdentity {
        kind,
        name: hello.name.clone(),
        hello,
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
