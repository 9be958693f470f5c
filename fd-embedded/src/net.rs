//! The network shell: TCP over embassy-net, TLS-PSK both ways, and the three connection
//! modes, around fd-core's sessions.
//!
//! # Who is the TLS client
//!
//! Bareos starts every connection with TLS-PSK (connect.md §3.1); the side that *dials* is
//! the TLS client. So:
//!
//! | mode | dials | FD's TLS role | identity / key |
//! |---|---|---|---|
//! | client-initiated (`Connection From Client To Director`) | FD → Director | client, embedded-tls | `R_CLIENT` 0x1E «fd name» / the Director's password key |
//! | Director → FD (port 9102) | Director | server, [`fd_core::tls::ServerConnection`] via [`TlsServerStream`] | `R_DIRECTOR` 0x1E «dir name» / that Director's key |
//! | data channel, active | FD → SD | client, embedded-tls ([`TlsConnector`]) | `R_JOB` 0x1E «Job» / the session key |
//! | data channel, passive (`Passive = yes`) | SD → FD | server (feature `passive-tls`), [`fd_core::tls::ServerConnection`] via `PassiveSd` | `R_JOB` 0x1E «Job» / the session key |
//!
//! The embedded-tls client is used as ecosystem.md §2 measured it against OpenSSL (Bareos):
//! `default-features = false`, `Aes128GcmSha256` (the only suite that works with OpenSSL's
//! legacy PSK callback), `with_psk`, and `max_fragment_length` 2^12 so that 4.5 KB record
//! buffers ([`crate::budget::TLS_RECORD`]) suffice.
//!
//! # Generic over the network
//!
//! [`Dial`] is what the connector needs from a network: dial a TCP connection and accept
//! one. [`EmbassyDial`] implements it over an `embassy_net::Stack` with caller buffers; the
//! host simulation implements it over in-memory pipes, so the TLS and session code that runs
//! on a board is the code the host tests run.
//!
//! # Limits
//!
//! - Passive mode (SD → FD, feature `passive`): cleartext; with the feature `passive-tls`
//!   also TLS-PSK, with fd-core's TLS server when the connector was given its buffers
//!   (`TlsConnector::with_passive_tls`).
//!   The SD is accepted and authenticated by fd-core while the session waits for the
//!   Director's next command (`Connector::accepted_sd_authenticated` is false here), so the
//!   SD can answer the Director's `passive client` before `backup`/`restore` arrives. One
//!   attempt per job: a connection refused early (wrong hello or key) uses up the buffers.
//! - Addresses must be IPv4 literals (no DNS on the device).
//! - One job at a time: each [`EmbassyDial`] owns one set of socket buffers and hands them to
//!   its first connection.

use core::net::Ipv4Addr;

use embassy_net::tcp::TcpSocket;
use embassy_net::Stack;
use embedded_io_async::{ErrorType, Read, Write};
use embedded_tls::{
    Aes128GcmSha256, MaxFragmentLength, TlsConfig, TlsConnection, TlsContext, TlsError,
    UnsecureProvider,
};
use fd_core::fd::jobs::JobTable;
use fd_core::fd::platform::{Clock, Connector, DigestProvider, FileSink, FileSource, PskParams};
use fd_core::fd::session::{run_client_initiated, run_director_session, SessionEnd, SessionError};
use fd_core::fd::{Buffers, DirectorAuth, FdConfig, Services};
use fd_core::tls::{PskStore, ServerConfig, ServerConnection};
use rand_core::{CryptoRng, RngCore};

/// Errors of the network shell.
#[derive(Debug, Clone, Copy)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum NetError {
    /// TCP failed (connect, accept, read or write).
    Tcp,
    /// The Storage daemon's address is not an IPv4 literal (the device has no resolver).
    BadAddress,
    /// The socket buffers were already handed to an earlier connection of this session.
    NoBuffers,
    /// The TLS client handshake or a record failed.
    Tls(TlsError),
    /// The TLS server failed.
    TlsServer(fd_core::tls::Error),
    /// The peer closed the connection.
    Closed,
    /// Not supported by this shell (passive TLS).
    NotSupported,
}

impl core::fmt::Display for NetError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            NetError::Tcp => f.write_str("TCP error"),
            NetError::BadAddress => f.write_str(
                "not an IPv4 address, and this device resolves no host names: give the \
                 Director's Storage resource an IPv4 Address or Lan Address",
            ),
            NetError::NoBuffers => f.write_str("socket buffers in use"),
            NetError::Tls(e) => f.write_str(tls_error_text(e)),
            NetError::TlsServer(e) => write!(f, "TLS: {e}"),
            NetError::Closed => f.write_str("connection closed"),
            NetError::NotSupported => f.write_str("not supported"),
        }
    }
}

/// A fixed text per class of embedded-tls error. Not `{:?}`: the derived `Debug` of
/// `TlsError` pulls the names of every nested enum (DER tags, I/O kinds) into the firmware.
fn tls_error_text(e: &TlsError) -> &'static str {
    match e {
        TlsError::HandshakeAborted(..) | TlsError::AbortHandshake(..) => {
            "TLS-PSK handshake refused (alert): check that both sides have the same password \
             and that TLS-PSK is enabled on the peer"
        }
        TlsError::ConnectionClosed | TlsError::IoError | TlsError::Io(_) => "TLS: connection lost",
        TlsError::InsufficientSpace | TlsError::OutOfMemory => {
            "TLS: a record is larger than the device's buffer (the peer ignored \
             max_fragment_length)"
        }
        _ => "TLS protocol error",
    }
}

impl core::error::Error for NetError {}

impl embedded_io_async::Error for NetError {
    fn kind(&self) -> embedded_io_async::ErrorKind {
        match self {
            NetError::Closed => embedded_io_async::ErrorKind::BrokenPipe,
            _ => embedded_io_async::ErrorKind::Other,
        }
    }
}

/// Parse an IPv4 literal (`10.0.0.1`).
pub fn parse_ipv4(s: &[u8]) -> Result<Ipv4Addr, NetError> {
    let mut out = [0u8; 4];
    let mut parts = s.split(|&b| b == b'.');
    for o in out.iter_mut() {
        let p = parts.next().ok_or(NetError::BadAddress)?;
        if p.is_empty() || p.len() > 3 || !p.iter().all(u8::is_ascii_digit) {
            return Err(NetError::BadAddress);
        }
        let v = p.iter().fold(0u16, |a, &d| a * 10 + u16::from(d - b'0'));
        *o = u8::try_from(v).map_err(|_| NetError::BadAddress)?;
    }
    if parts.next().is_some() {
        return Err(NetError::BadAddress);
    }
    Ok(Ipv4Addr::from(out))
}

/// What the connector needs from a network.
#[allow(async_fn_in_trait)]
pub trait Dial {
    /// A connected TCP stream.
    type Socket: Read + Write;
    /// Dial `addr:port`.
    async fn dial(&mut self, addr: Ipv4Addr, port: u16) -> Result<Self::Socket, NetError>;
    /// Accept one connection on the FD port (passive SD).
    ///
    /// Contract: cancel-safe. fd-core listens for a passive SD while it waits for the
    /// Director's next command and drops this future when the command comes first, then
    /// calls again; dropping it must lose neither a connection nor the socket's buffers.
    async fn accept(&mut self) -> Result<Self::Socket, NetError>;
}

/// A TCP socket's buffers.
pub struct SocketBuffers<'a> {
    /// Receive buffer.
    pub rx: &'a mut [u8],
    /// Transmit buffer.
    pub tx: &'a mut [u8],
}

/// [`Dial`] over an embassy-net stack.
pub struct EmbassyDial<'a> {
    stack: Stack<'a>,
    bufs: Option<SocketBuffers<'a>>,
    /// The socket built from `bufs` and not handed out yet: listening (an `accept` that was
    /// dropped, [`Dial::accept`]'s contract) or closed (a failed dial).
    #[cfg(feature = "passive")]
    spare: Option<TcpSocket<'a>>,
    /// The FD port for passive connections (9102).
    pub listen_port: u16,
}

impl<'a> EmbassyDial<'a> {
    /// A dialer with one set of socket buffers.
    pub fn new(stack: Stack<'a>, bufs: SocketBuffers<'a>) -> Self {
        EmbassyDial {
            stack,
            bufs: Some(bufs),
            #[cfg(feature = "passive")]
            spare: None,
            listen_port: 9102,
        }
    }

    #[cfg(feature = "passive")]
    fn socket(&mut self) -> Result<&mut TcpSocket<'a>, NetError> {
        if self.spare.is_none() {
            let b = self.bufs.take().ok_or(NetError::NoBuffers)?;
            self.spare = Some(TcpSocket::new(self.stack, b.rx, b.tx));
        }
        self.spare.as_mut().ok_or(NetError::NoBuffers)
    }
}

impl<'a> Dial for EmbassyDial<'a> {
    type Socket = TcpSocket<'a>;

    #[cfg(feature = "passive")]
    async fn dial(&mut self, addr: Ipv4Addr, port: u16) -> Result<TcpSocket<'a>, NetError> {
        let s = self.socket()?;
        // A socket left listening by a dropped accept: back to closed before connecting.
        s.abort();
        s.connect((addr, port)).await.map_err(|_| NetError::Tcp)?;
        self.spare.take().ok_or(NetError::NoBuffers)
    }

    /// Without passive mode nothing listens on these buffers (fd-core never accepts an SD),
    /// so the socket is made for the dial alone, as before passive mode needed `spare`: the
    /// budget firmware (boards/stm32f7-eth) has no flash for the difference.
    #[cfg(not(feature = "passive"))]
    async fn dial(&mut self, addr: Ipv4Addr, port: u16) -> Result<TcpSocket<'a>, NetError> {
        let b = self.bufs.take().ok_or(NetError::NoBuffers)?;
        let mut s = TcpSocket::new(self.stack, b.rx, b.tx);
        s.connect((addr, port)).await.map_err(|_| NetError::Tcp)?;
        Ok(s)
    }

    /// Without passive mode only a Director is accepted (Director → FD), never
    /// concurrently with anything else, so the plain accept is enough.
    #[cfg(not(feature = "passive"))]
    async fn accept(&mut self) -> Result<TcpSocket<'a>, NetError> {
        let b = self.bufs.take().ok_or(NetError::NoBuffers)?;
        let mut s = TcpSocket::new(self.stack, b.rx, b.tx);
        s.accept(self.listen_port)
            .await
            .map_err(|_| NetError::Tcp)?;
        Ok(s)
    }

    /// The socket a dropped accept left behind keeps listening, and a connection may arrive
    /// while nobody waits (fd-core drops the accept whenever the Director's command comes
    /// first). smoltcp's `listen` is a no-op only on a socket still in `Listen`; on one that
    /// has a connection (`SynReceived`, `Established`) it fails, so that state is taken as
    /// it is: the connection is handed over once established. A socket left closing by a
    /// peer that came and went is reset and listens anew.
    #[cfg(feature = "passive")]
    async fn accept(&mut self) -> Result<TcpSocket<'a>, NetError> {
        use embassy_net::tcp::State;
        let port = self.listen_port;
        let s = self.socket()?;
        match s.state() {
            // Listening (or a handshake under way): writable once a connection is
            // established; a reset handshake returns the socket to `Listen`.
            State::Listen | State::SynReceived => s.wait_write_ready().await,
            State::Established | State::CloseWait => {}
            State::Closed => s.accept(port).await.map_err(|_| NetError::Tcp)?,
            _ => {
                s.abort();
                s.accept(port).await.map_err(|_| NetError::Tcp)?
            }
        }
        self.spare.take().ok_or(NetError::NoBuffers)
    }
}

/// A stream that is plain TCP or a TLS-PSK client connection: the data channel, and the
/// Director connection in client-initiated mode.
#[allow(clippy::large_enum_variant)]
pub enum SdStream<'a, S: Read + Write> {
    /// Plain TCP (`ssl=0`).
    Plain(S),
    /// TLS-PSK (`ssl=4`, identity `R_JOB` 0x1E «Job»).
    Tls(TlsConnection<'a, S, Aes128GcmSha256>),
    /// A passive SD's connection (the SD dialled the device): cleartext or TLS-PSK with the
    /// device as the server, told apart by the first byte ([`PassiveSd`]).
    #[cfg(feature = "passive-tls")]
    Passive(PassiveSd<'a, S>),
}

impl<S: Read + Write> ErrorType for SdStream<'_, S> {
    type Error = NetError;
}

impl<S: Read + Write> Read for SdStream<'_, S> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, NetError> {
        match self {
            SdStream::Plain(s) => s.read(buf).await.map_err(|_| NetError::Tcp),
            SdStream::Tls(t) => t.read(buf).await.map_err(NetError::Tls),
            #[cfg(feature = "passive-tls")]
            SdStream::Passive(p) => p.read(buf).await,
        }
    }
}

impl<S: Read + Write> Write for SdStream<'_, S> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, NetError> {
        match self {
            SdStream::Plain(s) => s.write(buf).await.map_err(|_| NetError::Tcp),
            SdStream::Tls(t) => t.write(buf).await.map_err(NetError::Tls),
            #[cfg(feature = "passive-tls")]
            SdStream::Passive(p) => p.write(buf).await,
        }
    }
    async fn flush(&mut self) -> Result<(), NetError> {
        match self {
            SdStream::Plain(s) => s.flush().await.map_err(|_| NetError::Tcp),
            SdStream::Tls(t) => t.flush().await.map_err(NetError::Tls),
            #[cfg(feature = "passive-tls")]
            SdStream::Passive(p) => p.flush().await,
        }
    }
}

/// The PSK of a passive SD's TLS: identity `R_JOB` 0x1E «Job» → the job's session key (from
/// the Director's `JobId=`/`setauthorization`, [`Connector::expect_sd`]).
#[cfg(feature = "passive-tls")]
#[derive(Clone)]
pub struct JobPsk {
    identity: heapless::Vec<u8, 140>,
    key: heapless::Vec<u8, 100>,
}

#[cfg(feature = "passive-tls")]
impl PskStore for JobPsk {
    fn lookup(&mut self, identity: &[u8], key: &mut [u8]) -> Option<usize> {
        if identity != self.identity.as_slice() {
            return None;
        }
        let out = key.get_mut(..self.key.len())?;
        out.copy_from_slice(&self.key);
        Some(self.key.len())
    }
}

/// A passive SD's connection. A Bareos SD opens it with TLS-PSK (a TLS record, first byte
/// 0x16) when the Director's `passive client` said `ssl=4`, else with its cleartext hello
/// (a frame length, first byte 0x00). The first read or write decides: TLS runs fd-core's
/// TLS server ([`TlsServerStream`], key from [`JobPsk`]) over the socket, with the byte
/// already read handed to it. Deciding on first use, not in `accept_sd`, keeps that
/// cancel-safe (fd-core may drop it while it waits for the Director).
#[cfg(feature = "passive-tls")]
pub struct PassiveSd<'a, S: Read + Write> {
    io: Option<S>,
    first: Option<u8>,
    decided: bool,
    tls: Option<TlsServerStream<'a, S, JobPsk, crate::rng::CounterRng>>,
    server: Option<(fd_core::tls::Buffers<'a>, JobPsk, crate::rng::CounterRng)>,
}

#[cfg(feature = "passive-tls")]
impl<'a, S: Read + Write> PassiveSd<'a, S> {
    /// True once the connection turned out to be TLS-PSK.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    async fn decide(&mut self) -> Result<(), NetError> {
        if self.decided {
            return Ok(());
        }
        self.decided = true;
        let io = self.io.as_mut().ok_or(NetError::Closed)?;
        let mut b = [0u8; 1];
        if io.read(&mut b).await.map_err(|_| NetError::Tcp)? == 0 {
            return Err(NetError::Closed);
        }
        if b[0] != 0x16 {
            self.first = Some(b[0]);
            return Ok(());
        }
        let (bufs, psk, rng) = self.server.take().ok_or(NetError::NotSupported)?;
        let io = self.io.take().ok_or(NetError::Closed)?;
        let mut t = TlsServerStream::new(io, ServerConfig::default(), psk, rng, bufs);
        t.pend_received(&b);
        t.handshake().await?;
        debug!("passive Storage daemon: TLS-PSK established");
        self.tls = Some(t);
        Ok(())
    }

    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, NetError> {
        self.decide().await?;
        if let Some(t) = self.tls.as_mut() {
            return t.read(buf).await;
        }
        if let (Some(b), Some(o)) = (self.first, buf.first_mut()) {
            *o = b;
            self.first = None;
            return Ok(1);
        }
        let io = self.io.as_mut().ok_or(NetError::Closed)?;
        io.read(buf).await.map_err(|_| NetError::Tcp)
    }

    async fn write(&mut self, buf: &[u8]) -> Result<usize, NetError> {
        self.decide().await?;
        if let Some(t) = self.tls.as_mut() {
            return t.write(buf).await;
        }
        let io = self.io.as_mut().ok_or(NetError::Closed)?;
        io.write(buf).await.map_err(|_| NetError::Tcp)
    }

    async fn flush(&mut self) -> Result<(), NetError> {
        if let Some(t) = self.tls.as_mut() {
            return t.flush().await;
        }
        match self.io.as_mut() {
            Some(io) => io.flush().await.map_err(|_| NetError::Tcp),
            None => Ok(()),
        }
    }
}

/// Open a TLS-PSK client connection over `socket` (Aes128GcmSha256, max_fragment_length
/// 2^12): the FD → SD data channel and the client-initiated Director connection.
pub async fn tls_client<'a, S: Read + Write + 'a, R: RngCore + CryptoRng>(
    socket: S,
    identity: &[u8],
    key: &[u8],
    rng: &mut R,
    record_rx: &'a mut [u8],
    record_tx: &'a mut [u8],
) -> Result<TlsConnection<'a, S, Aes128GcmSha256>, NetError> {
    let mut tls = TlsConnection::new(socket, record_rx, record_tx);
    let config = TlsConfig::new()
        .with_psk(key, &[identity])
        .with_max_fragment_length(MaxFragmentLength::Bits12);
    tls.open(TlsContext::new(
        &config,
        UnsecureProvider::new::<Aes128GcmSha256>(rng),
    ))
    .await
    .map_err(NetError::Tls)?;
    Ok(tls)
}

/// fd-core's [`Connector`] for a device: dials the SD through a [`Dial`] and runs the
/// TLS-PSK client when the `storage` command asks for it.
pub struct TlsConnector<'a, D, R> {
    dial: D,
    rng: R,
    tls: Option<(&'a mut [u8], &'a mut [u8])>,
    /// Passive mode: the TLS server's buffers for an SD that dials with TLS-PSK.
    #[cfg(feature = "passive-tls")]
    passive_tls: Option<fd_core::tls::Buffers<'a>>,
    /// Passive mode: the job's PSK (from [`Connector::expect_sd`]).
    #[cfg(feature = "passive-tls")]
    job_psk: Option<JobPsk>,
}

impl<'a, D, R> TlsConnector<'a, D, R> {
    /// A connector with one pair of TLS record buffers ([`crate::budget::TLS_RECORD`] each).
    pub fn new(dial: D, rng: R, record_rx: &'a mut [u8], record_tx: &'a mut [u8]) -> Self {
        TlsConnector {
            dial,
            rng,
            tls: Some((record_rx, record_tx)),
            #[cfg(feature = "passive-tls")]
            passive_tls: None,
            #[cfg(feature = "passive-tls")]
            job_psk: None,
        }
    }

    /// Passive mode with TLS-PSK (`ssl=4`): buffers for fd-core's TLS server on the SD's
    /// connection (the SD's OpenSSL does not ask for max_fragment_length: `rx` must hold a
    /// 16 KiB record plus overhead). Without them a TLS-PSK SD is refused.
    #[cfg(feature = "passive-tls")]
    pub fn with_passive_tls(mut self, bufs: fd_core::tls::Buffers<'a>) -> Self {
        self.passive_tls = Some(bufs);
        self
    }
}

impl<'a, D: Dial, R: RngCore + CryptoRng> Connector for TlsConnector<'a, D, R>
where
    D::Socket: 'a,
{
    type Stream = SdStream<'a, D::Socket>;
    type Error = NetError;

    async fn connect(
        &mut self,
        address: &[u8],
        port: u16,
        psk: Option<PskParams<'_>>,
    ) -> Result<Self::Stream, NetError> {
        let ip = parse_ipv4(address)?;
        let socket = self.dial.dial(ip, port).await?;
        match psk {
            None => Ok(SdStream::Plain(socket)),
            Some(p) => {
                let (rx, tx) = self.tls.take().ok_or(NetError::NoBuffers)?;
                let t = tls_client(socket, p.identity, p.key, &mut self.rng, rx, tx).await?;
                debug!("data channel: TLS-PSK established");
                Ok(SdStream::Tls(t))
            }
        }
    }

    /// Cancel-safe as [`Dial::accept`] is (fd-core calls it while waiting for the Director).
    #[cfg(not(feature = "passive-tls"))]
    async fn accept_sd(&mut self, _job: &[u8]) -> Result<Self::Stream, NetError> {
        Ok(SdStream::Plain(self.dial.accept().await?))
    }

    /// Cancel-safe as [`Dial::accept`] is (fd-core calls it while waiting for the Director);
    /// cleartext or TLS-PSK is decided on the connection's first use ([`PassiveSd`]).
    #[cfg(feature = "passive-tls")]
    async fn accept_sd(&mut self, _job: &[u8]) -> Result<Self::Stream, NetError> {
        let io = self.dial.accept().await?;
        let server = match (self.passive_tls.take(), self.job_psk.clone()) {
            (Some(b), Some(p)) => Some((b, p, crate::rng::CounterRng::from_rng(&mut self.rng, 0))),
            _ => None,
        };
        Ok(SdStream::Passive(PassiveSd {
            io: Some(io),
            first: None,
            decided: false,
            tls: None,
            server,
        }))
    }

    #[cfg(feature = "passive-tls")]
    fn expect_sd(&mut self, job: &[u8], key: &[u8]) {
        let mut identity = heapless::Vec::new();
        let mut k = heapless::Vec::new();
        if identity.extend_from_slice(b"R_JOB\x1e").is_ok()
            && identity.extend_from_slice(job).is_ok()
            && k.extend_from_slice(key).is_ok()
        {
            self.job_psk = Some(JobPsk { identity, key: k });
        }
    }

    #[cfg(feature = "passive-tls")]
    fn cipher(&self, stream: &Self::Stream, out: &mut [u8]) -> usize {
        const NAME: &[u8] = b"TLS-PSK";
        match stream {
            SdStream::Passive(p) if p.is_tls() => match out.get_mut(..NAME.len()) {
                Some(o) => {
                    o.copy_from_slice(NAME);
                    NAME.len()
                }
                None => 0,
            },
            _ => 0,
        }
    }
}

/// Bytes moved per step between the socket and the TLS server.
const CHUNK: usize = 256;

/// fd-core's sans-IO TLS server as an `embedded-io-async` stream over `io`: the
/// Director → FD connection (and any accepted TLS-PSK connection).
pub struct TlsServerStream<'b, IO, P: PskStore, R: RngCore + CryptoRng> {
    io: IO,
    conn: ServerConnection<'b, P, R>,
    net: [u8; CHUNK],
    /// Received bytes not yet taken by the TLS receive buffer.
    pend: (usize, usize),
}

impl<'b, IO: Read + Write, P: PskStore, R: RngCore + CryptoRng> TlsServerStream<'b, IO, P, R> {
    /// Wrap `io`; call [`Self::handshake`] before use (or let the first read do it).
    pub fn new(
        io: IO,
        config: ServerConfig,
        psk: P,
        rng: R,
        bufs: fd_core::tls::Buffers<'b>,
    ) -> Self {
        TlsServerStream {
            io,
            conn: ServerConnection::new(config, psk, rng, bufs),
            net: [0; CHUNK],
            pend: (0, 0),
        }
    }

    /// The PSK identity the client used (after the handshake).
    pub fn psk_identity(&self) -> Option<&[u8]> {
        self.conn.psk_identity()
    }

    /// Bytes already read from the socket (at most 256), handed to the TLS server before
    /// anything else (a passive SD's first byte, read to tell TLS from cleartext).
    pub fn pend_received(&mut self, bytes: &[u8]) {
        let n = bytes.len().min(CHUNK);
        if let (Some(d), Some(b)) = (self.net.get_mut(..n), bytes.get(..n)) {
            d.copy_from_slice(b);
            self.pend = (0, n);
        }
    }

    async fn flush_tls(&mut self) -> Result<(), NetError> {
        while self.conn.wants_write() {
            let n = self.conn.write_tls(&mut self.net);
            let out = self.net.get(..n).ok_or(NetError::Closed)?;
            self.io.write_all(out).await.map_err(|_| NetError::Tcp)?;
        }
        self.io.flush().await.map_err(|_| NetError::Tcp)
    }

    /// Feed pending bytes or read more from the socket; false at end of stream.
    async fn pump(&mut self) -> Result<bool, NetError> {
        if self.pend.0 == self.pend.1 {
            let n = self
                .io
                .read(&mut self.net)
                .await
                .map_err(|_| NetError::Tcp)?;
            if n == 0 {
                return Ok(false);
            }
            self.pend = (0, n);
        }
        let (a, b) = self.pend;
        let data = self.net.get(a..b).ok_or(NetError::Closed)?;
        let used = self.conn.read_tls(data);
        self.pend = (a + used, b);
        self.conn
            .process_new_packets()
            .map_err(NetError::TlsServer)?;
        Ok(true)
    }

    /// Run the handshake to completion.
    pub async fn handshake(&mut self) -> Result<(), NetError> {
        while self.conn.is_handshaking() {
            // Replies go out before reading more; `pump` errors after an alert was queued,
            // so flush that too.
            let r = self.pump().await;
            self.flush_tls().await?;
            if !r? {
                return Err(NetError::Closed);
            }
        }
        if let Some(e) = self.conn.error() {
            return Err(NetError::TlsServer(e));
        }
        self.flush_tls().await
    }
}

impl<IO: Read + Write, P: PskStore, R: RngCore + CryptoRng> ErrorType
    for TlsServerStream<'_, IO, P, R>
{
    type Error = NetError;
}

impl<IO: Read + Write, P: PskStore, R: RngCore + CryptoRng> Read for TlsServerStream<'_, IO, P, R> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, NetError> {
        if self.conn.is_handshaking() {
            self.handshake().await?;
        }
        loop {
            let n = self.conn.recv_plaintext(buf).map_err(NetError::TlsServer)?;
            if n > 0 || buf.is_empty() {
                return Ok(n);
            }
            if self.conn.peer_closed() {
                return Ok(0);
            }
            // KeyUpdate answers and alerts go out before we wait.
            self.flush_tls().await?;
            if !self.pump().await? {
                return Ok(0);
            }
        }
    }
}

impl<IO: Read + Write, P: PskStore, R: RngCore + CryptoRng> Write
    for TlsServerStream<'_, IO, P, R>
{
    async fn write(&mut self, buf: &[u8]) -> Result<usize, NetError> {
        if self.conn.is_handshaking() {
            self.handshake().await?;
        }
        let mut n = self.conn.send_plaintext(buf).map_err(NetError::TlsServer)?;
        if n == 0 && !buf.is_empty() {
            self.flush_tls().await?;
            n = self.conn.send_plaintext(buf).map_err(NetError::TlsServer)?;
        }
        self.flush_tls().await?;
        Ok(n)
    }

    async fn flush(&mut self) -> Result<(), NetError> {
        self.flush_tls().await
    }
}

/// The Director PSK lookup for [`TlsServerStream`]: `R_DIRECTOR` 0x1E «name» → that
/// Director's key (connect.md §3.4).
pub struct DirectorPsks<'c>(pub &'c [fd_core::fd::DirectorAuth<'c>]);

impl PskStore for DirectorPsks<'_> {
    fn lookup(&mut self, identity: &[u8], key: &mut [u8]) -> Option<usize> {
        let name = identity.strip_prefix(b"R_DIRECTOR\x1e")?;
        let d = self.0.iter().find(|d| d.name == name)?;
        let out = key.get_mut(..d.key.len())?;
        out.copy_from_slice(d.key);
        Some(d.key.len())
    }
}

/// Write `R_CLIENT` 0x1E «name» into `out` (the client-initiated TLS identity).
pub fn client_identity<'o>(name: &[u8], out: &'o mut [u8]) -> Option<&'o [u8]> {
    const P: &[u8] = b"R_CLIENT\x1e";
    let n = P.len() + name.len();
    let o = out.get_mut(..n)?;
    let (a, b) = o.split_at_mut(P.len());
    a.copy_from_slice(P);
    b.copy_from_slice(name);
    Some(o)
}

/// fd-core's [`Clock`] on embassy-time: monotonic time from the time driver, Unix time as
/// an offset set when the device learns it (the Director's `btime` or SNTP).
#[derive(Debug, Clone, Copy)]
pub struct EmbassyClock {
    /// Unix time (seconds) at embassy-time's instant 0.
    pub unix_at_boot: i64,
}

impl Clock for EmbassyClock {
    fn unix_time(&self) -> i64 {
        self.unix_at_boot
            .saturating_add(embassy_time::Instant::now().as_secs() as i64)
    }
    fn unix_micros(&self) -> i64 {
        self.unix_at_boot
            .saturating_mul(1_000_000)
            .saturating_add(embassy_time::Instant::now().as_micros() as i64)
    }
    fn now(&self) -> fd_core::time::Instant {
        fd_core::time::Instant::from_micros(embassy_time::Instant::now().as_micros() as i64)
    }
    async fn sleep_until(&self, deadline: fd_core::time::Instant) {
        let at = u64::try_from(deadline.total_micros()).unwrap_or(0);
        embassy_time::Timer::at(embassy_time::Instant::from_micros(at)).await
    }
}

/// Why a connection-level run failed.
#[derive(Debug, Clone, Copy)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum RunError {
    /// Connecting or the TLS handshake failed.
    Net(NetError),
    /// The session failed (hello, authentication, connection lost).
    Session(SessionError),
    /// The client identity does not fit.
    NameTooLong,
}

/// Client-initiated mode (vectors/clear-client-initiated): dial the Director at
/// `addr:port`, run the TLS-PSK client handshake when `record_bufs` is given (identity
/// `R_CLIENT` 0x1E «name», key = the Director's key; ecosystem.md §1), then fd-core's
/// [`run_client_initiated`] until the Director is done with this connection.
#[allow(clippy::too_many_arguments)]
pub async fn client_initiated<'s, D, S, K, C, T, G, R, const N: usize>(
    dial: &mut D,
    addr: Ipv4Addr,
    port: u16,
    record_bufs: Option<(&mut [u8], &mut [u8])>,
    rng: &mut R,
    cfg: &FdConfig<'s>,
    director: &DirectorAuth<'s>,
    jobs: &'s JobTable<N>,
    svc: &'s mut Services<S, K, C, T, G>,
    bufs: Buffers<'s>,
) -> Result<SessionEnd, RunError>
where
    D: Dial,
    S: FileSource,
    K: FileSink,
    C: Connector,
    T: Clock,
    G: DigestProvider,
    R: RngCore + CryptoRng,
{
    let socket = dial.dial(addr, port).await.map_err(RunError::Net)?;
    let seed = rng.next_u32();
    // One stream type for both cases, so fd-core's session engine is instantiated once
    // (instantiating it for the plain and the TLS stream doubled the firmware's flash).
    let (io, tls_active) = match record_bufs {
        None => (SdStream::Plain(socket), cfg.tls_active),
        Some((rx, tx)) => {
            let mut id = [0u8; 160];
            let identity = client_identity(cfg.name, &mut id).ok_or(RunError::NameTooLong)?;
            let tls = tls_client(socket, identity, director.key, rng, rx, tx)
                .await
                .map_err(RunError::Net)?;
            (SdStream::Tls(tls), true)
        }
    };
    let mut cfg = *cfg;
    cfg.tls_active = tls_active;
    run_client_initiated(io, &cfg, director, jobs, svc, bufs, seed)
        .await
        .map_err(RunError::Session)
}

/// Director → FD: accept one connection through `dial` (port 9102), run the TLS-PSK server
/// handshake when `tls` is given (PSK per Director, [`DirectorPsks`]), then fd-core's
/// [`run_director_session`].
#[allow(clippy::too_many_arguments)]
pub async fn director_to_client<'s, D, S, K, C, T, G, R, const N: usize>(
    dial: &mut D,
    tls: Option<(fd_core::tls::Buffers<'_>, R)>,
    challenge_random: u32,
    cfg: &FdConfig<'s>,
    jobs: &'s JobTable<N>,
    svc: &'s mut Services<S, K, C, T, G>,
    bufs: Buffers<'s>,
) -> Result<SessionEnd, RunError>
where
    D: Dial,
    S: FileSource,
    K: FileSink,
    C: Connector,
    T: Clock,
    G: DigestProvider,
    R: RngCore + CryptoRng,
{
    let socket = dial.accept().await.map_err(RunError::Net)?;
    match tls {
        None => run_director_session(socket, cfg, jobs, svc, bufs, challenge_random)
            .await
            .map_err(RunError::Session),
        Some((tbufs, rng)) => {
            let mut s = TlsServerStream::new(
                socket,
                ServerConfig::default(),
                DirectorPsks(cfg.directors),
                rng,
                tbufs,
            );
            s.handshake().await.map_err(RunError::Net)?;
            let mut cfg = *cfg;
            cfg.tls_active = true;
            run_director_session(s, &cfg, jobs, svc, bufs, challenge_random)
                .await
                .map_err(RunError::Session)
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    #[test]
    fn ipv4_literals() {
        assert_eq!(
            parse_ipv4(b"10.0.2.2").ok(),
            Some(Ipv4Addr::new(10, 0, 2, 2))
        );
        for bad in [
            &b"10.0.2"[..],
            b"10.0.2.256",
            b"10.0.2.2.1",
            b"a.b.c.d",
            b"",
            b"1..2.3",
            b"1000.1.1.1",
        ] {
            assert!(
                matches!(parse_ipv4(bad), Err(NetError::BadAddress)),
                "{bad:?}"
            );
        }
        // The job message names the fix (fd-core prints it after the address).
        let text = std::format!("{}", NetError::BadAddress);
        assert!(text.contains("Lan Address"), "{text}");
    }

    #[test]
    fn director_psk_lookup() {
        let dirs = [fd_core::fd::DirectorAuth {
            name: b"bareos-dir",
            key: b"0123456789abcdef0123456789abcdef",
            monitor: false,
            max_bandwidth: 0,
        }];
        let mut p = DirectorPsks(&dirs);
        let mut k = [0u8; 64];
        assert_eq!(p.lookup(b"R_DIRECTOR\x1ebareos-dir", &mut k), Some(32));
        assert_eq!(&k[..32], dirs[0].key);
        assert_eq!(p.lookup(b"R_DIRECTOR\x1eother", &mut k), None);
        assert_eq!(p.lookup(b"R_CLIENT\x1ebareos-dir", &mut k), None);
        let mut out = [0u8; 20];
        assert_eq!(
            client_identity(b"dev-fd", &mut out),
            Some(&b"R_CLIENT\x1edev-fd"[..])
        );
        assert_eq!(client_identity(b"a-very-long-client-name", &mut out), None);
    }
}
