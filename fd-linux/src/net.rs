//! Sockets: tokio TCP and tokio-openssl TLS streams as `embedded-io-async` streams, and the
//! [`Connector`] that opens the data connection to the Storage daemon.
//!
//! fd-core's session code is written against `embedded_io_async::{Read, Write}` so that the
//! same code runs on firmware; [`NetIo`] is the small adapter that lets it run on tokio
//! (the `embedded-io-adapters` crate does the same, but it would pin us to its tokio and
//! embedded-io versions for thirty lines of code).
//!
//! # The SD connection (`core/src/filed/dir_cmd.cc` `StorageCmd()`, connect.md §3)
//!
//! The Director's `storage address=… port=… ssl=N` says whether the data channel starts with
//! TLS: `ssl=4` (TLS-PSK first) makes the core pass [`PskParams`] with the identity
//! `R_JOB` RS «Job» and the job's session key; the handshake is done here with
//! [`barque_common::tls::client_context`], exactly as every other Barque daemon sets up
//! OpenSSL. The hello and CRAM-MD5 that follow are the core's. Bareos retries the TCP
//! connect every 10 s up to `SD Connect Timeout`; so does [`SdConnector`] (both values are
//! fields, so tests can shorten them).
//!
//! # Passive mode
//!
//! In passive mode the SD dials the FD port and says `Hello Storage calling Start Job «Job»`.
//! The accept loop ([`crate::daemon`]) recognises that hello by peeking at the cleartext
//! frame and parks the connection in a [`PassiveSd`] table under the job name; the session
//! running that job takes it from there through [`Connector::accept_sd`].
//! A TLS-first passive connection (the SD's passive client connection has TLS enabled, as by
//! default) cannot be routed by its hello, which is inside TLS, and the SD does the handshake
//! before the Director sends the FD its `backup`/`restore` command. The accept loop therefore
//! reads the PSK identity out of the peeked ClientHello ([`client_hello_psk_identity`],
//! `R_JOB` RS «Job»), finds that job's session key, which the session registered when the
//! Director named the job ([`Connector::job_key`]), does the server handshake at once and
//! parks the TLS stream ([`PassiveSd::park_tls`]); its socket is moved to the session's runtime
//! by [`Rehomable`].
//!
//! Either way the accept loop also reads the hello and does the CRAM-MD5 exchange before
//! parking ([`fd_core::fd::backup::accept_passive_sd`]): the real SD authenticates before it
//! answers the Director's `passive client` command, and the Director sends the FD its
//! `backup` command only after that answer, so waiting for the session would deadlock.

use std::collections::HashMap;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use barque_common::tls::{self, Key, PskOutcome, PskSlot, TlsSettings};
use embedded_io_async::{ErrorKind, ErrorType, Read, Write};
use fd_core::fd::platform::{Connector, PskParams};
use fd_core::tls::handshake::{ClientHello, HandshakeType};
use fd_core::tls::record::{ContentType, RecordHeader};
use openssl::ssl::Ssl;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_openssl::SslStream;

/// A TCP connection, with or without TLS.
#[derive(Debug)]
pub enum NetStream {
    /// Cleartext.
    Plain(TcpStream),
    /// TLS (PSK or certificates) over TCP.
    Tls(Box<SslStream<TcpStream>>),
    /// TLS-PSK from a passive Storage daemon, handshake done by the accept loop.
    TlsPassive(Box<SslStream<Rehomable>>),
}

impl AsyncRead for NetStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            NetStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            NetStream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            NetStream::TlsPassive(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for NetStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            NetStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            NetStream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            NetStream::TlsPassive(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            NetStream::Plain(s) => Pin::new(s).poll_flush(cx),
            NetStream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            NetStream::TlsPassive(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            NetStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            NetStream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            NetStream::TlsPassive(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// A tokio stream as an `embedded-io-async` stream.
#[derive(Debug)]
pub struct NetIo<T>(pub T);

/// The error of [`NetIo`]: the `std::io` error kind mapped onto `embedded-io`'s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetError(pub ErrorKind);

impl core::fmt::Display for NetError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl std::error::Error for NetError {}

impl embedded_io_async::Error for NetError {
    fn kind(&self) -> ErrorKind {
        self.0
    }
}

fn map_err(e: &io::Error) -> NetError {
    use io::ErrorKind as K;
    NetError(match e.kind() {
        K::NotFound => ErrorKind::NotFound,
        K::PermissionDenied => ErrorKind::PermissionDenied,
        K::ConnectionRefused => ErrorKind::ConnectionRefused,
        K::ConnectionReset => ErrorKind::ConnectionReset,
        K::ConnectionAborted => ErrorKind::ConnectionAborted,
        K::NotConnected => ErrorKind::NotConnected,
        K::AddrInUse => ErrorKind::AddrInUse,
        K::AddrNotAvailable => ErrorKind::AddrNotAvailable,
        K::BrokenPipe => ErrorKind::BrokenPipe,
        K::AlreadyExists => ErrorKind::AlreadyExists,
        K::InvalidInput => ErrorKind::InvalidInput,
        K::InvalidData => ErrorKind::InvalidData,
        K::TimedOut => ErrorKind::TimedOut,
        K::Interrupted => ErrorKind::Interrupted,
        K::Unsupported => ErrorKind::Unsupported,
        K::OutOfMemory => ErrorKind::OutOfMemory,
        K::WriteZero => ErrorKind::WriteZero,
        _ => ErrorKind::Other,
    })
}

impl<T> ErrorType for NetIo<T> {
    type Error = NetError;
}

impl<T: AsyncRead + Unpin> Read for NetIo<T> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, NetError> {
        self.0.read(buf).await.map_err(|e| map_err(&e))
    }
}

impl<T: AsyncWrite + Unpin> Write for NetIo<T> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, NetError> {
        self.0.write(buf).await.map_err(|e| map_err(&e))
    }
    async fn flush(&mut self) -> Result<(), NetError> {
        self.0.flush().await.map_err(|e| map_err(&e))
    }
}

/// The data connection to the SD with write coalescing.
///
/// fd-core flushes after every frame; on the data channel of a backup that is three to nine
/// frames per file (attributes, data, digest, each followed by an EOD), which on TLS means
/// one TLS record and one `write()` per frame. [`SdIo`] collects frames up to
/// [`SdIo::FLUSH_AT`] bytes and writes them together. It is safe because the FD never waits
/// on the SD without reading from it: every read first writes out what is pending; and the
/// one frame that is followed by closing the connection, TERMINATE, is written at once.
/// A canceled or failed job may drop up to `FLUSH_AT` unsent bytes, which Bareos' SD treats
/// like the connection closing in the middle of the data (vectors/clear-cancel).
#[derive(Debug)]
pub struct SdIo {
    inner: NetStream,
    pending: Vec<u8>,
}

impl SdIo {
    /// Write out once this much is pending.
    pub const FLUSH_AT: usize = 128 * 1024;

    /// Wrap a connected stream.
    pub fn new(inner: NetStream) -> Self {
        Self {
            inner,
            pending: Vec::with_capacity(Self::FLUSH_AT + 64 * 1024),
        }
    }

    async fn write_out(&mut self) -> Result<(), NetError> {
        if !self.pending.is_empty() {
            self.inner
                .write_all(&self.pending)
                .await
                .map_err(|e| map_err(&e))?;
            self.pending.clear();
            self.inner.flush().await.map_err(|e| map_err(&e))?;
        }
        Ok(())
    }
}

impl ErrorType for SdIo {
    type Error = NetError;
}

impl Read for SdIo {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, NetError> {
        self.write_out().await?;
        self.inner.read(buf).await.map_err(|e| map_err(&e))
    }
}

/// The bsock header of a TERMINATE signal (-4).
const TERMINATE_HEADER: [u8; 4] = (-4i32).to_be_bytes();

impl Write for SdIo {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, NetError> {
        if buf.len() >= Self::FLUSH_AT {
            self.write_out().await?;
            return self.inner.write(buf).await.map_err(|e| map_err(&e));
        }
        self.pending.extend_from_slice(buf);
        if self.pending.len() >= Self::FLUSH_AT {
            self.write_out().await?;
        }
        Ok(buf.len())
    }
    async fn flush(&mut self) -> Result<(), NetError> {
        if self.pending.len() >= Self::FLUSH_AT || self.pending.ends_with(&TERMINATE_HEADER) {
            self.write_out().await?;
        }
        Ok(())
    }
}

/// Connections from Storage daemons in passive mode, waiting for the session of their job,
/// and the session keys of the jobs that may receive one.
#[derive(Debug, Default)]
pub struct PassiveSd {
    /// Parked with std sockets: the tokio runtime of the accepting thread ends when it has
    /// parked the connection, so the session re-registers it with its own runtime.
    waiting: Mutex<HashMap<Vec<u8>, Vec<Parked>>>,
    /// Job name → session key, while the job's session runs.
    keys: Mutex<HashMap<Vec<u8>, Vec<u8>>>,
    notify: tokio::sync::Notify,
}

/// A parked passive SD connection.
#[derive(Debug)]
enum Parked {
    /// Cleartext, hello unread.
    Plain(std::net::TcpStream),
    /// TLS-PSK done by the accept loop, hello unread; the socket is detached from any runtime.
    Tls(Box<SslStream<Rehomable>>),
}

impl PassiveSd {
    /// Park a connection whose hello names `job` (hello unread).
    pub fn park(&self, job: &[u8], s: std::net::TcpStream) {
        self.park_as(job, Parked::Plain(s));
    }

    /// Park a TLS connection (handshake done with `job`'s key, hello unread, socket detached:
    /// see [`accept_passive_tls`]).
    pub fn park_tls(&self, job: &[u8], s: Box<SslStream<Rehomable>>) {
        self.park_as(job, Parked::Tls(s));
    }

    fn park_as(&self, job: &[u8], p: Parked) {
        if let Ok(mut m) = self.waiting.lock() {
            m.entry(job.to_vec()).or_default().push(p);
        }
        self.notify.notify_waiters();
    }

    fn take(&self, job: &[u8]) -> Option<Parked> {
        let mut m = self.waiting.lock().ok()?;
        let v = m.get_mut(job)?;
        let s = v.pop();
        if v.is_empty() {
            m.remove(job);
        }
        s
    }

    /// The session key of the running job `job`, if its session registered one.
    pub fn key(&self, job: &[u8]) -> Option<Vec<u8>> {
        self.keys.lock().ok()?.get(job).cloned()
    }

    fn set_key(&self, job: &[u8], key: &[u8]) {
        if let Ok(mut m) = self.keys.lock() {
            m.insert(job.to_vec(), key.to_vec());
        }
    }

    fn remove_key(&self, job: &[u8]) {
        if let Ok(mut m) = self.keys.lock() {
            m.remove(job);
        }
    }
}

/// A tokio TCP stream that can be detached from the runtime it was registered with and
/// attached to another while the TLS state above it stays in place: the accept thread's
/// runtime ends once it has parked a passive SD connection.
#[derive(Debug)]
pub struct Rehomable {
    tcp: Option<TcpStream>,
    detached: Option<std::net::TcpStream>,
}

impl Rehomable {
    /// Wrap a registered stream.
    pub fn new(tcp: TcpStream) -> Self {
        Self {
            tcp: Some(tcp),
            detached: None,
        }
    }

    /// Deregister from the current runtime (call inside it).
    pub fn detach(&mut self) -> io::Result<()> {
        if let Some(t) = self.tcp.take() {
            self.detached = Some(t.into_std()?);
        }
        Ok(())
    }

    /// Register with the current runtime (call inside it).
    pub fn attach(&mut self) -> io::Result<()> {
        if let Some(s) = self.detached.take() {
            self.tcp = Some(TcpStream::from_std(s)?);
        }
        Ok(())
    }

    fn live(&mut self) -> io::Result<&mut TcpStream> {
        self.tcp
            .as_mut()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "socket detached"))
    }
}

impl AsyncRead for Rehomable {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut().live() {
            Ok(t) => Pin::new(t).poll_read(cx, buf),
            Err(e) => Poll::Ready(Err(e)),
        }
    }
}

impl AsyncWrite for Rehomable {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut().live() {
            Ok(t) => Pin::new(t).poll_write(cx, buf),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut().live() {
            Ok(t) => Pin::new(t).poll_flush(cx),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut().live() {
            Ok(t) => Pin::new(t).poll_shutdown(cx),
            Err(e) => Poll::Ready(Err(e)),
        }
    }
}

/// The server side of a TLS-first passive SD connection, in the accept loop: the only identity
/// accepted is `R_JOB` RS «job», with that job's session key. Returns the stream, hello
/// unread.
pub async fn accept_passive_tls(
    tcp: TcpStream,
    job: &[u8],
    key: Vec<u8>,
) -> Result<Box<SslStream<Rehomable>>, String> {
    let want = job.to_vec();
    let lookup: tls::PskLookup = Arc::new(move |kind, name| {
        (kind == fd_core::wire::psk::ResourceType::Job && name.as_bytes() == want.as_slice())
            .then(|| Key::raw(key.clone()))
    });
    let slot: PskSlot = Arc::new(Mutex::new(PskOutcome::NotUsed));
    let job = String::from_utf8_lossy(job);
    let ctx =
        tls::server_context(&TlsSettings::default(), lookup, slot).map_err(|e| e.to_string())?;
    let ssl = Ssl::new(&ctx).map_err(|e| e.to_string())?;
    let mut s = SslStream::new(ssl, Rehomable::new(tcp)).map_err(|e| e.to_string())?;
    if let Err(e) = Pin::new(&mut s).accept().await {
        return Err(format!(
            "TLS-PSK handshake with the passive Storage daemon of job {job} failed: {e} (the \
             SD and this FD disagree on the job's session key)"
        ));
    }
    Ok(Box::new(s))
}

/// Why the SD connection failed.
#[derive(Debug)]
pub enum ConnectError {
    /// TCP connect failed until the timeout.
    Tcp(io::Error),
    /// The TLS-PSK handshake failed.
    Tls(String),
    /// No passive SD connection arrived in time.
    NoPassive,
    /// The address is not valid text.
    BadAddress,
}

/// Opens SD connections (active mode) and hands over passive ones.
#[derive(Debug)]
pub struct SdConnector {
    /// Retry interval of the TCP connect (Bareos: 10 s).
    pub retry_interval: Duration,
    /// Give up after this long (`SD Connect Timeout`, default 30 min).
    pub timeout: Duration,
    /// The table of passive connections (shared with the accept loop).
    pub passive: Arc<PassiveSd>,
    /// Jobs whose keys this connector registered (removed again on drop).
    registered: Vec<Vec<u8>>,
    /// Cipher and protocol of the last TLS stream handed out (`None`: cleartext).
    encryption: Option<String>,
}

/// `«cipher» «protocol»`, as Bareos prints a TLS connection in job messages.
fn describe<S>(s: &SslStream<S>) -> String {
    let ssl = s.ssl();
    let cipher = ssl.current_cipher().map(|c| c.name()).unwrap_or("unknown");
    format!("{cipher} {}", ssl.version_str())
}

impl Drop for SdConnector {
    fn drop(&mut self) {
        for j in &self.registered {
            self.passive.remove_key(j);
        }
    }
}

impl SdConnector {
    /// A connector with Bareos' defaults.
    pub fn new(passive: Arc<PassiveSd>) -> Self {
        Self {
            retry_interval: Duration::from_secs(10),
            timeout: Duration::from_secs(30 * 60),
            passive,
            registered: Vec::new(),
            encryption: None,
        }
    }
}

impl Connector for SdConnector {
    type Stream = SdIo;
    type Error = ConnectError;

    async fn connect(
        &mut self,
        address: &[u8],
        port: u16,
        psk: Option<PskParams<'_>>,
    ) -> Result<Self::Stream, ConnectError> {
        let addr = std::str::from_utf8(address).map_err(|_| ConnectError::BadAddress)?;
        let deadline = tokio::time::Instant::now() + self.timeout;
        let tcp = loop {
            match TcpStream::connect((addr, port)).await {
                Ok(t) => break t,
                Err(e) => {
                    if tokio::time::Instant::now() + self.retry_interval > deadline {
                        log::warn!("could not connect to the Storage daemon {addr}:{port}: {e}");
                        return Err(ConnectError::Tcp(e));
                    }
                    log::info!(
                        "could not connect to the Storage daemon {addr}:{port}: {e}; retrying"
                    );
                    tokio::time::sleep(self.retry_interval).await;
                }
            }
        };
        let _ = tcp.set_nodelay(true);
        self.encryption = None;
        let Some(psk) = psk else {
            return Ok(SdIo::new(NetStream::Plain(tcp)));
        };
        let ctx = tls::client_context(
            &TlsSettings::default(),
            Some((psk.identity.to_vec(), Key::raw(psk.key.to_vec()))),
        )
        .map_err(|e| ConnectError::Tls(e.to_string()))?;
        let ssl = Ssl::new(&ctx).map_err(|e| ConnectError::Tls(e.to_string()))?;
        let mut s = SslStream::new(ssl, tcp).map_err(|e| ConnectError::Tls(e.to_string()))?;
        Pin::new(&mut s)
            .connect()
            .await
            .map_err(|e| ConnectError::Tls(e.to_string()))?;
        self.encryption = Some(describe(&s));
        Ok(SdIo::new(NetStream::Tls(Box::new(s))))
    }

    async fn accept_sd(&mut self, job: &[u8]) -> Result<Self::Stream, ConnectError> {
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            let notified = self.passive.notify.notified();
            match self.passive.take(job) {
                Some(Parked::Plain(s)) => {
                    let s = TcpStream::from_std(s).map_err(ConnectError::Tcp)?;
                    self.encryption = None;
                    return Ok(SdIo::new(NetStream::Plain(s)));
                }
                Some(Parked::Tls(mut s)) => {
                    s.get_mut().attach().map_err(ConnectError::Tcp)?;
                    self.encryption = Some(describe(&s));
                    return Ok(SdIo::new(NetStream::TlsPassive(s)));
                }
                None => {}
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Err(ConnectError::NoPassive);
            }
        }
    }

    fn job_key(&mut self, job: &[u8], key: &[u8]) {
        self.passive.set_key(job, key);
        if !self.registered.iter().any(|j| j == job) {
            self.registered.push(job.to_vec());
        }
    }

    fn passive_authenticated(&self) -> bool {
        true
    }

    fn encryption(&self) -> Option<&str> {
        self.encryption.as_deref()
    }
}

/// The PSK identity a TLS ClientHello offers first (TLS 1.3 `pre_shared_key`), if `peek` holds
/// the whole first record and that record is a ClientHello. `Err` means more bytes are needed
/// (`Err(true)`) or the bytes are not a ClientHello with a PSK identity (`Err(false)`).
pub fn client_hello_psk_identity(peek: &[u8]) -> Result<&[u8], bool> {
    let h = RecordHeader::parse(peek).map_err(|_| peek.len() < 5)?;
    if h.content_type != ContentType::Handshake {
        return Err(false);
    }
    let end = 5 + usize::from(h.length);
    let Some(msg) = peek.get(5..end) else {
        return Err(true);
    };
    // A ClientHello split over records is legal TLS but never sent by OpenSSL for a PSK hello
    // of this size; such a hello is simply not recognised as a passive SD.
    if msg.first() != Some(&u8::from(HandshakeType::ClientHello)) {
        return Err(false);
    }
    let ch = ClientHello::parse(msg).map_err(|_| false)?;
    let psk = ch.pre_shared_key.ok_or(false)?;
    let first = psk.identities().next().map(|(id, _)| id);
    first.ok_or(false)
}

/// Read exactly `buf.len()` bytes from a tokio stream (used by tests and tools).
pub async fn read_exact<T: AsyncRead + Unpin>(s: &mut T, buf: &mut [u8]) -> io::Result<()> {
    s.read_exact(buf).await.map(|_| ())
}
