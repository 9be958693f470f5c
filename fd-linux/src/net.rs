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
//! frame, reads it and runs the CRAM-MD5 at once as the inbound side, with the session key
//! the job's session announced ([`Connector::expect_sd`], from `JobId=` or
//! `setauthorization`); Bareos does the same in its accepting thread, and the SD answers the
//! Director's `passive client` only after it. The authenticated connection is parked in a
//! [`PassiveSd`] table under the job name; the session running that job takes it through
//! [`Connector::accept_sd`] at `backup`/`restore`.
//! TLS-first passive connections (the Director sends `ssl=4` when it reached the FD
//! TLS-first and the Client has TLS enabled) use the PSK identity `R_JOB` RS «Job» with the
//! same session key; the accepting thread keeps the TLS stream (its runtime drives it) and
//! relays it to a loopback socket pair whose other end is parked, since parked connections
//! are plain std sockets. Proven in host-tests/tests/netns.rs (backup and restore).

use std::collections::HashMap;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use barque_common::tls::{self, Key, TlsSettings};
use embedded_io_async::{ErrorKind, ErrorType, Read, Write};
use fd_core::fd::platform::{Connector, PskParams};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufStream, ReadBuf};
use tokio::net::TcpStream;
use tokio_openssl::SslStream;

/// A TCP connection, with or without TLS.
#[derive(Debug)]
pub enum NetStream {
    /// Cleartext.
    Plain(TcpStream),
    /// TLS (PSK or certificates) over TCP.
    Tls(Box<SslStream<TcpStream>>),
    /// TLS over a buffered TCP stream: OpenSSL writes (and, with read-ahead, reads) one TLS
    /// record of at most 16 KiB per call, so a bulk stream unbuffered costs one system call
    /// per record. The buffers coalesce records into few large `send()`/`recv()` calls; the
    /// bytes on the wire are the same. Written data leaves only on `flush` (or when the
    /// write buffer is full): the owner must flush before it waits for the peer.
    TlsBuffered(Box<SslStream<BufStream<TcpStream>>>),
}

/// Write buffer under TLS of a bulk sender: 16 TLS records.
pub const TLS_WRITE_BUFFER: usize = 16 * (16 * 1024 + 256);

/// Read buffer under TLS of a bulk receiver.
pub const TLS_READ_BUFFER: usize = 256 * 1024;

/// Wrap `tcp` for a TLS stream that mostly sends (`BufStream` with a small read buffer and a
/// [`TLS_WRITE_BUFFER`] write buffer) or mostly receives ([`TLS_READ_BUFFER`] to read, small
/// write buffer).
pub fn bulk_buffered(tcp: TcpStream, sending: bool) -> BufStream<TcpStream> {
    if sending {
        BufStream::with_capacity(16 * 1024 + 256, TLS_WRITE_BUFFER, tcp)
    } else {
        BufStream::with_capacity(TLS_READ_BUFFER, 16 * 1024 + 256, tcp)
    }
}

impl NetStream {
    /// `«cipher» «version»` of a TLS stream (`TLS_CHACHA20_POLY1305_SHA256 TLSv1.3`), `None`
    /// in cleartext.
    pub fn cipher(&self) -> Option<String> {
        match self {
            NetStream::Plain(_) => None,
            NetStream::Tls(s) => Self::cipher_of(s.ssl()),
            NetStream::TlsBuffered(s) => Self::cipher_of(s.ssl()),
        }
    }

    fn cipher_of(ssl: &openssl::ssl::SslRef) -> Option<String> {
        ssl.current_cipher()?;
        Some(barque_common::tls::TlsInfo::from_ssl(ssl, None).encryption_text())
    }
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
            NetStream::TlsBuffered(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
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
            NetStream::TlsBuffered(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            NetStream::Plain(s) => Pin::new(s).poll_flush(cx),
            NetStream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            NetStream::TlsBuffered(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            NetStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            NetStream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            NetStream::TlsBuffered(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
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
/// [`SdIo::FLUSH_AT`] bytes and writes them together; a frame of at least `FLUSH_AT` bytes
/// (file data) goes straight to the stream after what is pending. With TLS the stream is
/// [`NetStream::TlsBuffered`], so OpenSSL's 16 KiB records leave in `send()` calls of up to
/// [`TLS_WRITE_BUFFER`] bytes rather than one call per record.
///
/// It is safe because the FD never waits on the SD without reading from it: every read
/// first writes out and flushes what is pending or buffered; and the one frame that is
/// followed by closing the connection, TERMINATE, is written at once. A canceled or failed
/// job may drop up to `FLUSH_AT` + `TLS_WRITE_BUFFER` unsent bytes, which Bareos' SD treats
/// like the connection closing in the middle of the data (vectors/clear-cancel).
#[derive(Debug)]
pub struct SdIo {
    inner: NetStream,
    pending: Vec<u8>,
    /// Bytes went to `inner` since its last flush (they may sit in its write buffer).
    unflushed: bool,
}

impl SdIo {
    /// `«cipher» «version»` of a TLS connection (OpenSSL's names, as Bareos prints them),
    /// `None` in cleartext.
    pub fn cipher(&self) -> Option<String> {
        self.inner.cipher()
    }

    /// Write out once this much is pending. 64 KiB is four full TLS records per write, and
    /// keeps the pending buffer and the part of the TLS write buffer that small-file backups
    /// touch small (issue #5, peak RSS of data set (b)); file data frames of a large file
    /// (network buffer size, 256 KiB) are at least this and bypass it either way.
    pub const FLUSH_AT: usize = 64 * 1024;

    /// Wrap a connected stream.
    pub fn new(inner: NetStream) -> Self {
        Self {
            inner,
            pending: Vec::with_capacity(Self::FLUSH_AT + 64 * 1024),
            unflushed: false,
        }
    }

    /// Hand what is pending to the stream (without flushing it).
    async fn write_pending(&mut self) -> Result<(), NetError> {
        if !self.pending.is_empty() {
            self.unflushed = true;
            self.inner
                .write_all(&self.pending)
                .await
                .map_err(|e| map_err(&e))?;
            self.pending.clear();
        }
        Ok(())
    }

    /// Write out what is pending and flush the stream.
    async fn write_out(&mut self) -> Result<(), NetError> {
        self.write_pending().await?;
        if self.unflushed {
            self.inner.flush().await.map_err(|e| map_err(&e))?;
            self.unflushed = false;
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
            // The frame header before it is pending: both go out together.
            self.write_pending().await?;
            self.unflushed = true;
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

/// A passive job's session key and the `ssl=` its `JobId=` carried.
type SdKey = (Vec<u8>, u32);

/// Connections from Storage daemons in passive mode, waiting for the session of their job.
#[derive(Debug, Default)]
pub struct PassiveSd {
    /// Parked as std sockets: the tokio runtime of the accepting thread ends when it has
    /// parked the connection, so the session re-registers it with its own runtime.
    waiting: Mutex<HashMap<Vec<u8>, Vec<std::net::TcpStream>>>,
    /// Session keys of the jobs that may get a passive SD connection (job name → key and
    /// the `ssl=` of `JobId=`), from [`Connector::expect_sd_tls`]; the accept loop
    /// authenticates with them.
    keys: Mutex<HashMap<Vec<u8>, SdKey>>,
    notify: tokio::sync::Notify,
}

impl PassiveSd {
    /// Remember the session key of `job` (replacing an older one of the same name) and the
    /// `ssl=` the Director gave the job (`None`: keep the one known, else 0).
    pub fn expect(&self, job: &[u8], key: &[u8], ssl: Option<u32>) {
        if let Ok(mut m) = self.keys.lock() {
            let ssl = ssl.unwrap_or_else(|| m.get(job).map_or(0, |(_, s)| *s));
            // Bounded: a Director that starts jobs that never run must not grow this.
            if m.len() >= 256 {
                m.clear();
            }
            m.insert(job.to_vec(), (key.to_vec(), ssl));
        }
    }

    /// The session key of `job`, if its session announced one.
    pub fn key(&self, job: &[u8]) -> Option<Vec<u8>> {
        self.keys.lock().ok()?.get(job).map(|(k, _)| k.clone())
    }

    /// The `ssl=` the Director gave `job` (0 when unknown): anything but 0 means its passive
    /// SD must start with TLS-PSK (Bareos' `R_JOB` rule).
    pub fn ssl(&self, job: &[u8]) -> u32 {
        self.keys
            .lock()
            .ok()
            .and_then(|m| m.get(job).map(|(_, s)| *s))
            .unwrap_or(0)
    }

    /// Park a connection whose hello names `job` (hello unread).
    pub fn park(&self, job: &[u8], s: std::net::TcpStream) {
        if let Ok(mut m) = self.waiting.lock() {
            m.entry(job.to_vec()).or_default().push(s);
        }
        self.notify.notify_waiters();
    }

    fn take(&self, job: &[u8]) -> Option<std::net::TcpStream> {
        let mut m = self.waiting.lock().ok()?;
        let v = m.get_mut(job)?;
        let s = v.pop();
        if v.is_empty() {
            m.remove(job);
        }
        if s.is_some() {
            if let Ok(mut k) = self.keys.lock() {
                k.remove(job);
            }
        }
        s
    }
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
#[derive(Debug, Clone)]
pub struct SdConnector {
    /// Retry interval of the TCP connect (Bareos: 10 s).
    pub retry_interval: Duration,
    /// Give up after this long (`SD Connect Timeout`, default 30 min).
    pub timeout: Duration,
    /// The table of passive connections (shared with the accept loop).
    pub passive: Arc<PassiveSd>,
    /// Heartbeat Interval: TCP keep-alive idle time and interval of the data connection
    /// (connect.md §1.5; `None`: `SO_KEEPALIVE` with the system's times).
    pub heartbeat: Option<Duration>,
    /// The TLS directives of this FD's own Client resource: Bareos sets up the TLS of the
    /// connection to the SD from them (`core/src/filed/dir_cmd.cc` `StorageCmd()` passes
    /// `me` to `DoTlsHandshake`), the job's PSK offered beside: protocol and ciphers, the
    /// certificate and key to present, the CA, and `TLS Verify Peer` with its checks of the
    /// SD's certificate against `TLS Allowed CN` or the address dialled.
    pub tls: TlsSettings,
}

impl SdConnector {
    /// A connector with Bareos' defaults.
    pub fn new(passive: Arc<PassiveSd>) -> Self {
        Self {
            retry_interval: Duration::from_secs(10),
            timeout: Duration::from_secs(30 * 60),
            passive,
            heartbeat: None,
            tls: TlsSettings::default(),
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
        // Which address the Director told this FD (`Lan Address` or `Address`), for the
        // operator and for the topology tests (host-tests/tests/netns.rs).
        log::debug!(
            "connected to the Storage daemon at {addr}:{port} (tls={})",
            psk.is_some()
        );
        if let Err(e) = barque_common::conn::set_keepalive(&tcp, self.heartbeat) {
            log::warn!("Storage daemon {addr}:{port}: cannot set TCP keep-alive: {e}");
        }
        let Some(psk) = psk else {
            return Ok(SdIo::new(NetStream::Plain(tcp)));
        };
        let key = Some((psk.identity.to_vec(), Key::raw(psk.key.to_vec())));
        let s = tls::client_handshake(bulk_buffered(tcp, true), &self.tls, key, addr)
            .await
            .map_err(|e| {
                log::warn!(
                    "Storage daemon {addr}:{port}: {e}; check the TLS directives of this FD's \
                     Client resource and of the SD's Storage resource"
                );
                ConnectError::Tls(e.to_string())
            })?;
        Ok(SdIo::new(NetStream::TlsBuffered(Box::new(s))))
    }

    fn cipher(&self, stream: &SdIo, out: &mut [u8]) -> usize {
        let Some(text) = stream.cipher() else {
            return 0;
        };
        let n = text.len().min(out.len());
        if let (Some(d), Some(s)) = (out.get_mut(..n), text.as_bytes().get(..n)) {
            d.copy_from_slice(s);
        }
        n
    }

    async fn accept_sd(&mut self, job: &[u8]) -> Result<Self::Stream, ConnectError> {
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            let notified = self.passive.notify.notified();
            if let Some(s) = self.passive.take(job) {
                // tokio refuses blocking sockets.
                s.set_nonblocking(true).map_err(ConnectError::Tcp)?;
                let s = TcpStream::from_std(s).map_err(ConnectError::Tcp)?;
                return Ok(SdIo::new(NetStream::Plain(s)));
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Err(ConnectError::NoPassive);
            }
        }
    }

    fn expect_sd(&mut self, job: &[u8], key: &[u8]) {
        self.passive.expect(job, key, None);
    }

    fn expect_sd_tls(&mut self, job: &[u8], key: &[u8], ssl: Option<u32>) {
        // A Director before 18.2 sends no `ssl=`: Bareos treats that as 0.
        self.passive.expect(job, key, Some(ssl.unwrap_or(0)));
    }

    /// The accept loop reads the hello and runs the CRAM-MD5 when the SD connects
    /// ([`crate::daemon`]), as Bareos does; parked connections are authenticated.
    fn accepted_sd_authenticated(&self) -> bool {
        true
    }
}

/// Read exactly `buf.len()` bytes from a tokio stream (used by tests and tools).
pub async fn read_exact<T: AsyncRead + Unpin>(s: &mut T, buf: &mut [u8]) -> io::Result<()> {
    s.read_exact(buf).await.map(|_| ())
}
