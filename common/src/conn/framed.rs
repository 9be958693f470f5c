//! bsock frames over plain TCP or TLS: the transport of an [`AuthenticatedConnection`].
//!
//! Framing is fd-core's (`wire::bnet`: [`Header`] to read, [`Encoder`] to write): a 4-byte big-endian length,
//! then the payload, or a negative length for a signal; payloads up to 1,000,000 bytes
//! (connect.md §1). Each frame is written with one `write_all` so that it leaves in one TCP
//! segment where possible, as `SendPacket` does (the accepting C++ side needs the whole hello
//! in its first 10-byte peek).

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use fd_core::wire::bnet::{self, Encoder, Frame, Header, Signal};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_openssl::SslStream;

use crate::error::{ConnError, ErrorKind};
use crate::tls::TlsInfo;

/// The byte stream under the frames.
#[derive(Debug)]
pub(crate) enum Stream {
    /// Cleartext TCP.
    Plain(TcpStream),
    /// TLS over TCP.
    Tls(Box<SslStream<TlsIo>>),
    /// Taken out for a TLS upgrade.
    Gone,
}

pub(crate) use super::tls_io::TlsIo;

fn gone() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::NotConnected, "stream taken")
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Stream::Gone => Poll::Ready(Err(gone())),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Stream::Gone => Poll::Ready(Err(gone())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Stream::Gone => Poll::Ready(Err(gone())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Stream::Gone => Poll::Ready(Ok(())),
        }
    }
}

/// Which frame [`AuthenticatedConnection::recv`] got, without the borrow.
enum Got {
    /// The payload is `inbuf[from..to]`.
    Data {
        from: usize,
        to: usize,
    },
    Signal(Signal),
}

/// The next frame as announced by its header ([`AuthenticatedConnection::recv_head`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameHead {
    /// A payload of this many bytes follows.
    Data(usize),
    /// A signal.
    Signal(Signal),
}

/// One read from `stream` into `buf` within `timeout`; `who` names the peer in errors.
async fn timed_read(
    stream: &mut Stream,
    buf: &mut [u8],
    timeout: Option<Duration>,
    who: &str,
) -> Result<usize, ConnError> {
    let read = stream.read(buf);
    match timeout {
        Some(t) => match tokio::time::timeout(t, read).await {
            Ok(r) => r,
            Err(_) => {
                return Err(ConnError::new(
                    who.to_string(),
                    ErrorKind::Timeout,
                    format!("no data for {} ms", t.as_millis()),
                ))
            }
        },
        None => read.await,
    }
    .map_err(|e| ConnError::new(who.to_string(), ErrorKind::Io, format!("read failed: {e}")))
}

/// The receive buffer's first size; it grows to hold the largest frame seen (with room for
/// a few more of that size, so that reads stay large and moving a partial frame to the
/// buffer's start is rare).
const INBUF_START: usize = 16 * 1024;
/// How far the receive buffer grows beyond one frame.
const INBUF_ROOM: usize = 256 * 1024;

/// Who is on the other end and how we talk to them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerIdentity {
    /// The peer's resource type as this side sees it (`R_CLIENT` for an FD ...).
    pub kind: fd_core::wire::psk::ResourceType,
    /// Its resource name (or the full Job name for job connections), unbashed.
    pub name: String,
    /// The hello payload it sent (accepting side) or we sent (connecting side); parse it
    /// with [`PeerIdentity::hello`].
    pub hello: Vec<u8>,
    /// The TLS session, `None` in cleartext.
    pub tls: Option<TlsInfo>,
    /// The TCP peer address.
    pub addr: String,
}

impl PeerIdentity {
    /// The hello, parsed with fd-core's codec.
    pub fn hello(&self) -> Option<fd_core::wire::hello::Hello<'_>> {
        fd_core::wire::hello::Hello::parse(&self.hello).ok()
    }
}

/// A connection past the hello and two-way CRAM-MD5, over TLS or plain TCP.
///
/// The daemon-level OK (`2000 OK Hello 54\n`, `3000 OK Hello\n`, the Director's `1000 OK:`
/// banners) is **not** sent or read here: it is the first thing the caller does with the
/// connection, because only the daemon knows which one applies and what to refuse.
#[derive(Debug)]
pub struct AuthenticatedConnection {
    pub(crate) stream: Stream,
    /// Largest payload accepted (≤ [`bnet::MAX_PACKET_SIZE`]).
    max_frame: usize,
    /// Received bytes; `inbuf[start..end]` are not yet returned. A whole frame is collected
    /// here and its payload handed out in place (no copy per frame).
    inbuf: Vec<u8>,
    start: usize,
    end: usize,
    pub(crate) io_timeout: Option<Duration>,
    pub(crate) who: String,
    pub(crate) peer: Option<PeerIdentity>,
    /// Frames of [`AuthenticatedConnection::send_batched`]; `out[out_pos..]` are not yet
    /// written.
    out: Vec<u8>,
    out_pos: usize,
}

/// Batched frames are written once this many bytes are waiting: four full TLS records, so
/// that small messages share records and `send()` calls.
const OUT_BATCH: usize = 64 * 1024;

impl AuthenticatedConnection {
    pub(crate) fn new(stream: Stream, max_frame: usize, who: String) -> Self {
        Self {
            stream,
            max_frame: max_frame.min(bnet::MAX_PACKET_SIZE),
            inbuf: vec![0; INBUF_START],
            start: 0,
            end: 0,
            io_timeout: None,
            who,
            peer: None,
            out: Vec::new(),
            out_pos: 0,
        }
    }

    /// The authenticated peer.
    pub fn peer(&self) -> Option<&PeerIdentity> {
        self.peer.as_ref()
    }

    /// The TLS session facts, `None` in cleartext.
    pub fn tls(&self) -> Option<&TlsInfo> {
        self.peer.as_ref().and_then(|p| p.tls.as_ref())
    }

    /// True if the connection runs over TLS.
    pub fn is_tls(&self) -> bool {
        matches!(self.stream, Stream::Tls(_))
    }

    /// Set the TCP keep-alive of the underlying socket ([`super::set_keepalive`]).
    pub fn set_keepalive(&self, heartbeat: Option<Duration>) -> std::io::Result<()> {
        match &self.stream {
            Stream::Plain(t) => super::set_keepalive(t, heartbeat),
            Stream::Tls(s) => super::set_keepalive(&s.get_ref().tcp(), heartbeat),
            Stream::Gone => Ok(()),
        }
    }

    /// This connection brings bulk data (the Storage Daemon's FD data connections during a
    /// backup): take its TLS input in [`BULK_READ_BUFFER`](super::tls_io::BULK_READ_BUFFER)
    /// pieces instead of [`READ_BUFFER`](super::tls_io::READ_BUFFER) ones, so fewer `recv()`
    /// calls carry each gigabyte. Nothing changes in cleartext, where frames are read
    /// straight into the frame buffer.
    pub fn receive_bulk(&mut self) {
        if let Stream::Tls(s) = &mut self.stream {
            s.get_mut().set_read_buffer(super::tls_io::BULK_READ_BUFFER);
        }
    }

    /// Deadline for each read and write after the handshake (`None`: wait for ever, as the
    /// Bareos command loops do).
    pub fn set_io_timeout(&mut self, t: Option<Duration>) {
        self.io_timeout = t;
    }

    fn err(&self, kind: ErrorKind, detail: impl Into<String>) -> ConnError {
        ConnError::new(self.who.clone(), kind, detail)
    }

    /// Receive one frame: a payload (≤ 1,000,000 bytes) or a signal. Batched frames are
    /// written first (the peer may need them to answer).
    pub async fn recv(&mut self) -> Result<Frame<'_>, ConnError> {
        self.flush().await?;
        let got = loop {
            // Bytes this frame needs in the buffer, header included, once known.
            let need = match self.buffered_head()? {
                Some(FrameHead::Signal(s)) => {
                    self.start += bnet::HEADER_LEN;
                    break Got::Signal(s);
                }
                Some(FrameHead::Data(n)) => {
                    let need = bnet::HEADER_LEN + n;
                    if self.end - self.start >= need {
                        let from = self.start + bnet::HEADER_LEN;
                        self.start += need;
                        break Got::Data { from, to: from + n };
                    }
                    need
                }
                None => bnet::HEADER_LEN,
            };
            self.make_room(need);
            self.read_more(self.inbuf.len()).await?;
        };
        Ok(match got {
            Got::Data { from, to } => Frame::Data(self.inbuf.get(from..to).unwrap_or(&[])),
            Got::Signal(s) => Frame::Signal(s),
        })
    }

    /// The header of the next frame, the frame left unread: [`recv`](Self::recv) then takes it
    /// as usual, or, for a data frame, [`recv_payload_into`](Self::recv_payload_into) puts
    /// its payload where the caller wants it. Reads no further than the header, so that a
    /// payload read into place is not first copied through this connection's buffer.
    /// Batched frames are written first.
    pub async fn recv_head(&mut self) -> Result<FrameHead, ConnError> {
        self.flush().await?;
        loop {
            if let Some(head) = self.buffered_head()? {
                return Ok(head);
            }
            self.make_room(bnet::HEADER_LEN);
            self.read_more(self.start + bnet::HEADER_LEN).await?;
        }
    }

    /// The header of the next buffered frame, `None` while fewer than its 4 bytes are here;
    /// a length over this connection's limit or Bareos' is an error.
    fn buffered_head(&self) -> Result<Option<FrameHead>, ConnError> {
        let avail = self.inbuf.get(self.start..self.end).unwrap_or(&[]);
        match Header::parse(avail) {
            Ok(Header::Signal(s)) => Ok(Some(FrameHead::Signal(s))),
            Ok(Header::Data(n)) if n > self.max_frame => Err(self.err(
                ErrorKind::FrameTooLong,
                "frame larger than this connection's configured limit; closing",
            )),
            Ok(Header::Data(n)) => Ok(Some(FrameHead::Data(n))),
            Err(fd_core::wire::Error::Truncated) => Ok(None),
            Err(_) => Err(self.err(
                ErrorKind::FrameTooLong,
                "frame header announces more than 1,000,000 bytes; closing",
            )),
        }
    }

    /// Read once into `inbuf[end..limit]` (the caller made room); the peer closing the
    /// connection is an error.
    async fn read_more(&mut self, limit: usize) -> Result<(), ConnError> {
        let space = self.inbuf.get_mut(self.end..limit).unwrap_or(&mut []);
        let n = timed_read(&mut self.stream, space, self.io_timeout, &self.who).await?;
        if n == 0 {
            let detail = if self.start == self.end {
                "peer closed the connection"
            } else {
                "peer closed the connection in the middle of a frame"
            };
            return Err(self.err(ErrorKind::Io, detail));
        }
        self.end += n;
        Ok(())
    }

    /// The payload of the data frame [`recv_head`](Self::recv_head) announced, into `first`
    /// and then `rest`, whose lengths must add up to the payload's; bytes are read from the
    /// stream straight into them (the bytes already buffered are copied). If this fails or
    /// its future is dropped before the end, the frame is partly consumed and the
    /// connection can only be closed.
    pub async fn recv_payload_into(
        &mut self,
        first: &mut [u8],
        rest: &mut [u8],
    ) -> Result<(), ConnError> {
        let n = match self.buffered_head() {
            Ok(Some(FrameHead::Data(n))) => n,
            _ => {
                return Err(self.err(
                    ErrorKind::Protocol,
                    "no data frame announced to receive in place",
                ))
            }
        };
        if first.len() + rest.len() != n {
            return Err(self.err(
                ErrorKind::Protocol,
                format!(
                    "the frame has {n} payload bytes, the place for them {}",
                    first.len() + rest.len()
                ),
            ));
        }
        self.start += bnet::HEADER_LEN;
        for dest in [first, rest] {
            let buffered = (self.end - self.start).min(dest.len());
            if let (Some(to), Some(from)) = (
                dest.get_mut(..buffered),
                self.inbuf.get(self.start..self.start + buffered),
            ) {
                to.copy_from_slice(from);
            }
            self.start += buffered;
            let mut got = buffered;
            while let Some(space) = dest.get_mut(got..).filter(|s| !s.is_empty()) {
                let k = timed_read(&mut self.stream, space, self.io_timeout, &self.who).await?;
                if k == 0 {
                    return Err(self.err(
                        ErrorKind::Io,
                        "peer closed the connection in the middle of a frame",
                    ));
                }
                got += k;
            }
        }
        Ok(())
    }

    /// Make `inbuf[start..]` able to hold `need` bytes and leave room to read into: move
    /// the unreturned bytes to the front when the frame would not fit behind them, grow the
    /// buffer when it is smaller than the frame.
    fn make_room(&mut self, need: usize) {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
        if self.inbuf.len() - self.start < need {
            self.inbuf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.inbuf.len() < need {
            let want = need.max(INBUF_ROOM.min(need.saturating_mul(4)));
            self.inbuf.resize(want, 0);
        }
    }

    /// Receive a data frame; a signal is an error naming `what` was expected.
    pub(crate) async fn recv_data(&mut self, what: &str) -> Result<Vec<u8>, ConnError> {
        match self.recv().await? {
            Frame::Data(d) => Ok(d.to_vec()),
            Frame::Signal(s) => Err(self.err(
                ErrorKind::Protocol,
                format!("expected {what}, got signal {}", s.name()),
            )),
            Frame::Chunk(_) => Err(self.err(ErrorKind::Protocol, "unexpected chunk")),
        }
    }

    /// Write bytes that already form complete frames (from fd-core's authenticator).
    pub(crate) async fn write_raw(&mut self, bytes: &[u8]) -> Result<(), ConnError> {
        self.out.extend_from_slice(bytes);
        self.flush().await
    }

    /// Queue one message (framed as [`AuthenticatedConnection::send`] does) behind the
    /// frames already queued; they go out together once 64 KiB are waiting, at
    /// [`AuthenticatedConnection::flush`], or before anything else is sent or received. For
    /// runs of small messages in one direction (restore records, catalog updates): they then
    /// share TLS records and `send()` calls instead of costing both ends one each.
    pub async fn send_batched(&mut self, payload: &[u8]) -> Result<(), ConnError> {
        let mut enc = Encoder::new(payload);
        loop {
            let at = self.out.len();
            let want = enc.next_len().unwrap_or(bnet::HEADER_LEN);
            self.out.resize(at + want, 0);
            let tail = self.out.get_mut(at..).unwrap_or(&mut []);
            match enc.next_frame(tail) {
                Ok(Some(n)) => self.out.truncate(at + n),
                Ok(None) => {
                    self.out.truncate(at);
                    break;
                }
                Err(e) => {
                    self.out.truncate(at);
                    return Err(self.err(ErrorKind::Protocol, format!("cannot frame message: {e}")));
                }
            }
        }
        self.queued().await
    }

    /// Queue one message like [`AuthenticatedConnection::send_batched`], written in place by
    /// `emit` into at most `max_len` bytes (fd-core's `buffer_len()` / `emit(&self, buf)`
    /// codecs): the message goes straight into the batch, with no buffer of its own and no
    /// second copy. `emit` returns the bytes it wrote. A message that cannot be one frame
    /// (over [`bnet::MAX_MESSAGE_LEN`]) is refused before anything is queued.
    pub async fn send_batched_emit<E: std::fmt::Display>(
        &mut self,
        max_len: usize,
        emit: impl FnOnce(&mut [u8]) -> Result<usize, E>,
    ) -> Result<(), ConnError> {
        if max_len > bnet::MAX_MESSAGE_LEN {
            return Err(self.err(
                ErrorKind::Protocol,
                format!("message of up to {max_len} bytes is longer than one frame"),
            ));
        }
        let at = self.out.len();
        let body = at + bnet::HEADER_LEN;
        self.out.resize(body + max_len, 0);
        let wrote = emit(self.out.get_mut(body..).unwrap_or(&mut []));
        let n = match wrote {
            Ok(n) if n <= max_len => n,
            Ok(n) => {
                self.out.truncate(at);
                return Err(self.err(
                    ErrorKind::Protocol,
                    format!("message codec wrote {n} bytes into {max_len}"),
                ));
            }
            Err(e) => {
                self.out.truncate(at);
                return Err(self.err(ErrorKind::Protocol, format!("cannot form message: {e}")));
            }
        };
        if let Err(e) = Header::Data(n).emit(self.out.get_mut(at..body).unwrap_or(&mut [])) {
            self.out.truncate(at);
            return Err(self.err(ErrorKind::Protocol, format!("cannot frame message: {e}")));
        }
        self.out.truncate(body + n);
        self.queued().await
    }

    /// Queue a signal frame like [`AuthenticatedConnection::send_batched`].
    pub async fn signal_batched(&mut self, signal: Signal) -> Result<(), ConnError> {
        let mut buf = [0u8; bnet::HEADER_LEN];
        let n = bnet::emit_signal(signal, &mut buf)
            .map_err(|e| self.err(ErrorKind::Protocol, format!("cannot emit signal: {e}")))?;
        self.out.extend_from_slice(buf.get(..n).unwrap_or(&[]));
        self.queued().await
    }

    /// After queueing: write the batch once [`OUT_BATCH`] bytes are waiting.
    async fn queued(&mut self) -> Result<(), ConnError> {
        if self.out.len() >= OUT_BATCH {
            self.flush().await?;
        }
        Ok(())
    }

    /// Write the queued frames. Progress is kept across awaits, so a flush interrupted by
    /// a `select!` goes on where it stopped.
    pub async fn flush(&mut self) -> Result<(), ConnError> {
        while let Some(rest) = self.out.get(self.out_pos..).filter(|r| !r.is_empty()) {
            let w = self.stream.write(rest);
            let r = match self.io_timeout {
                Some(t) => tokio::time::timeout(t, w).await.ok(),
                None => Some(w.await),
            };
            let failed = match r {
                None => self.err(ErrorKind::Timeout, "write timed out"),
                Some(Err(e)) => self.err(ErrorKind::Io, format!("write failed: {e}")),
                Some(Ok(0)) => self.err(ErrorKind::Io, "write failed: wrote nothing"),
                Some(Ok(n)) => {
                    self.out_pos += n;
                    continue;
                }
            };
            // The frames cannot be delivered any more; what the peer sent can still be read
            // (`recv` flushes first and must not fail on them again).
            self.out.clear();
            self.out_pos = 0;
            return Err(failed);
        }
        self.out.clear();
        self.out_pos = 0;
        // A large message passed through: do not keep its buffer for every later one.
        if self.out.capacity() > 2 * OUT_BATCH {
            self.out.shrink_to(OUT_BATCH);
        }
        Ok(())
    }

    /// Send one message, split into frames as `BareosSocketTCP::send` does (after the
    /// frames queued by [`AuthenticatedConnection::send_batched`]).
    pub async fn send(&mut self, payload: &[u8]) -> Result<(), ConnError> {
        self.send_batched(payload).await?;
        self.flush().await
    }

    /// Send a signal frame (after the queued ones).
    pub async fn signal(&mut self, signal: Signal) -> Result<(), ConnError> {
        self.signal_batched(signal).await?;
        self.flush().await
    }

    /// Close: the queued frames, a TLS close_notify (if TLS) and the TCP FIN.
    pub async fn shutdown(&mut self) -> Result<(), ConnError> {
        self.flush().await?;
        self.stream
            .shutdown()
            .await
            .map_err(|e| self.err(ErrorKind::Io, format!("shutdown failed: {e}")))
    }

    /// True if bytes are buffered but not yet decoded (must be false before a TLS upgrade).
    pub(crate) fn has_buffered_input(&self) -> bool {
        self.start < self.end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Frames of every size class, written in odd-sized pieces so headers and payloads
    /// straddle reads, come back intact and in order; then an oversized header is refused.
    #[tokio::test]
    async fn test_recv_reassembles_frames_across_reads() {
        let (sizes, mut c, writer) = frames_in_odd_pieces().await;
        for (i, &n) in sizes.iter().enumerate() {
            recv_frame_of(&mut c, i, n).await;
            if i == 4 {
                assert!(matches!(
                    c.recv().await.unwrap(),
                    Frame::Signal(Signal::Eod)
                ));
            }
        }
        let e = c.recv().await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::FrameTooLong, "{e}");
        drop(writer.await.unwrap());
    }

    /// The same frames taken head first: every other payload read in place in two pieces
    /// (split anywhere, empty pieces included), the others with `recv`; a place of the wrong
    /// size is refused without consuming the frame; signals and the oversized header are
    /// announced by `recv_head`.
    #[tokio::test]
    async fn test_payloads_received_in_place_after_the_head() {
        let (sizes, mut c, writer) = frames_in_odd_pieces().await;
        for (i, &n) in sizes.iter().enumerate() {
            assert_eq!(
                c.recv_head().await.unwrap(),
                FrameHead::Data(n),
                "frame {i}"
            );
            if i % 2 == 0 {
                let mut place = vec![0u8; n + 1];
                let (a, b) = place.split_at_mut(n / 3);
                let e = c.recv_payload_into(a, b).await.unwrap_err();
                assert_eq!(e.kind, ErrorKind::Protocol, "{e}");
                let (a, b) = place[..n].split_at_mut(n * i / 11);
                c.recv_payload_into(a, b).await.unwrap();
                assert!(place[..n]
                    .iter()
                    .enumerate()
                    .all(|(k, &b)| b == (k * 7 + i) as u8));
            } else {
                recv_frame_of(&mut c, i, n).await;
            }
            if i == 4 {
                assert_eq!(c.recv_head().await.unwrap(), FrameHead::Signal(Signal::Eod));
                let e = c.recv_payload_into(&mut [], &mut []).await.unwrap_err();
                assert_eq!(e.kind, ErrorKind::Protocol, "{e}");
                assert!(matches!(
                    c.recv().await.unwrap(),
                    Frame::Signal(Signal::Eod)
                ));
            }
        }
        let e = c.recv_head().await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::FrameTooLong, "{e}");
        drop(writer.await.unwrap());
    }

    /// Receive frame `i` of [`frames_in_odd_pieces`], `n` bytes, with `recv` and check it.
    async fn recv_frame_of(c: &mut AuthenticatedConnection, i: usize, n: usize) {
        match c.recv().await.unwrap() {
            Frame::Data(d) => {
                assert_eq!(d.len(), n, "frame {i}");
                assert!(d.iter().enumerate().all(|(k, &b)| b == (k * 7 + i) as u8));
            }
            other => panic!("frame {i}: {other:?}"),
        }
    }

    /// Frames of every size class with an EOD after the fifth, then a header one byte over
    /// Bareos' limit, written over loopback in odd-sized pieces so that headers and payloads
    /// straddle reads. Frame `i` byte `k` is `k * 7 + i`.
    async fn frames_in_odd_pieces() -> (
        Vec<usize>,
        AuthenticatedConnection,
        tokio::task::JoinHandle<TcpStream>,
    ) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let sizes = vec![
            0usize,
            1,
            5,
            16 * 1024,
            65_536,
            70_001,
            3,
            1_000_000,
            65_536,
            2,
        ];
        let mut wire = Vec::new();
        for (i, &n) in sizes.iter().enumerate() {
            wire.extend_from_slice(&(n as i32).to_be_bytes());
            wire.extend((0..n).map(|k| (k * 7 + i) as u8));
            if i == 4 {
                wire.extend_from_slice(&Signal::Eod.code().to_be_bytes());
            }
        }
        wire.extend_from_slice(&1_000_001i32.to_be_bytes());
        let writer = tokio::spawn(async move {
            let mut s = TcpStream::connect(addr).await.unwrap();
            let mut piece = 1;
            let mut rest = &wire[..];
            while !rest.is_empty() {
                let n = piece.min(rest.len());
                s.write_all(&rest[..n]).await.unwrap();
                s.flush().await.unwrap();
                rest = &rest[n..];
                piece = piece * 3 % 40_009 + 1;
            }
            s
        });
        let (tcp, _) = listener.accept().await.unwrap();
        let c = AuthenticatedConnection::new(Stream::Plain(tcp), 1_000_000, "test".into());
        (sizes, c, writer)
    }

    /// Two cleartext connections joined over loopback.
    async fn plain_pair() -> (AuthenticatedConnection, AuthenticatedConnection) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = tokio::spawn(async move { TcpStream::connect(addr).await.unwrap() });
        let (tcp, _) = listener.accept().await.unwrap();
        let a = AuthenticatedConnection::new(Stream::Plain(tcp), 1_000_000, "a".into());
        let b = AuthenticatedConnection::new(
            Stream::Plain(client.await.unwrap()),
            1_000_000,
            "b".into(),
        );
        (a, b)
    }

    /// Batched messages stay in order with plain sends and signals, and nothing is written
    /// before a flush point (64 KiB waiting, `send`, `recv`).
    #[tokio::test]
    async fn test_batched_frames_keep_their_order_and_go_out_at_flush_points() {
        let (mut a, mut b) = plain_pair().await;
        a.send_batched(b"one").await.unwrap();
        a.signal_batched(Signal::Eod).await.unwrap();
        // Nothing written yet: the peer sees no bytes within a short wait.
        let none = tokio::time::timeout(Duration::from_millis(100), b.recv()).await;
        assert!(none.is_err(), "batched frames went out early");
        a.send(b"two").await.unwrap(); // flushes "one" and the EOD first
        let big = vec![7u8; 100_000];
        a.send_batched(&big).await.unwrap(); // over 64 KiB: written at once
        a.send_batched(b"three").await.unwrap();
        // A recv flushes "three" (the peer answers only after reading it).
        let peer = tokio::spawn(async move {
            let mut got: Vec<Vec<u8>> = Vec::new();
            for _ in 0..5 {
                got.push(match b.recv().await.unwrap() {
                    Frame::Data(d) => d.to_vec(),
                    Frame::Signal(s) => format!("signal {}", s.name()).into_bytes(),
                    Frame::Chunk(_) => b"chunk".to_vec(),
                });
            }
            b.send(b"answer").await.unwrap();
            got
        });
        match a.recv().await.unwrap() {
            Frame::Data(d) => assert_eq!(d, b"answer"),
            other => panic!("{other:?}"),
        }
        let got = peer.await.unwrap();
        assert_eq!(got[0], b"one");
        assert_eq!(got[1], b"signal EOD");
        assert_eq!(got[2], b"two");
        assert!(got[3] == big, "message of {} bytes", got[3].len());
        assert_eq!(got[4], b"three");
    }

    /// A message emitted in place goes out as one frame of the length the codec wrote, in
    /// order with the other batched frames; a codec error or a message longer than a frame
    /// queues nothing.
    #[tokio::test]
    async fn test_messages_emitted_in_place_are_framed_at_their_written_length() {
        let (mut a, mut b) = plain_pair().await;
        a.send_batched(b"before").await.unwrap();
        // Room for 100 bytes, 5 written: the frame says 5.
        a.send_batched_emit(100, |buf: &mut [u8]| {
            buf[..5].copy_from_slice(b"hello");
            Ok::<usize, String>(5)
        })
        .await
        .unwrap();
        let e = a
            .send_batched_emit(10, |_: &mut [u8]| Err::<usize, _>("no room"))
            .await
            .unwrap_err();
        assert!(e.to_string().contains("no room"), "{e}");
        let e = a
            .send_batched_emit(4, |_: &mut [u8]| Ok::<usize, String>(9))
            .await
            .unwrap_err();
        assert!(e.to_string().contains("wrote 9 bytes into 4"), "{e}");
        let e = a
            .send_batched_emit(bnet::MAX_MESSAGE_LEN + 1, |_: &mut [u8]| {
                Ok::<usize, String>(0)
            })
            .await
            .unwrap_err();
        assert!(e.to_string().contains("longer than one frame"), "{e}");
        a.send(b"after").await.unwrap();
        for want in [&b"before"[..], b"hello", b"after"] {
            match b.recv().await.unwrap() {
                Frame::Data(d) => assert_eq!(d, want),
                other => panic!("{other:?}"),
            }
        }
    }
}
