//! The TCP stream under OpenSSL, read through a buffer of its own size per connection.
//!
//! OpenSSL asks the socket for about one TLS record (≤ 16 KiB) at a time, so the TCP stream
//! sits behind a read buffer and one `recv()` takes in several records. Most connections
//! carry commands and catalog lines; a connection that brings bulk data into this process
//! (the Storage Daemon's FD data connections during a backup) takes a larger buffer with
//! [`TlsIo::set_read_buffer`], which halves the `recv()` calls per gigabyte again without
//! costing every Director and console connection the memory.
//!
//! Writes pass straight through to the socket.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// Bytes of TCP input taken in per `recv()` at most, unless a connection asks for more.
pub const READ_BUFFER: usize = 128 * 1024;

/// Bytes per `recv()` at most for a connection that brings bulk data
/// ([`AuthenticatedConnection::receive_bulk`](super::framed::AuthenticatedConnection::receive_bulk)).
pub const BULK_READ_BUFFER: usize = 512 * 1024;

/// What OpenSSL reads from and writes to: the TCP stream behind a read buffer.
#[derive(Debug)]
pub(crate) struct TlsIo {
    tcp: TcpStream,
    /// Received bytes; `buf[pos..len]` are not yet handed out.
    buf: Vec<u8>,
    pos: usize,
    len: usize,
}

impl TlsIo {
    /// The TCP stream behind a buffer of [`READ_BUFFER`] bytes.
    pub(crate) fn new(tcp: TcpStream) -> Self {
        TlsIo {
            tcp,
            buf: vec![0; READ_BUFFER],
            pos: 0,
            len: 0,
        }
    }

    /// The TCP socket.
    pub(crate) fn tcp(&self) -> BorrowedFd<'_> {
        self.tcp.as_fd()
    }

    /// Take in up to `size` bytes per `recv()` from now on (at least the input already
    /// buffered, which is kept).
    pub(crate) fn set_read_buffer(&mut self, size: usize) {
        let pending = self.len - self.pos;
        let size = size.max(pending).max(1);
        if size == self.buf.len() {
            return;
        }
        let mut buf = vec![0; size];
        if let (Some(to), Some(from)) = (buf.get_mut(..pending), self.buf.get(self.pos..self.len)) {
            to.copy_from_slice(from);
        }
        self.buf = buf;
        (self.pos, self.len) = (0, pending);
    }

    /// The read buffer's size.
    #[cfg(test)]
    pub(crate) fn read_buffer(&self) -> usize {
        self.buf.len()
    }
}

impl AsyncRead for TlsIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        if me.pos >= me.len {
            // Nothing buffered: a read as large as the buffer bypasses it.
            if out.remaining() >= me.buf.len() {
                return Pin::new(&mut me.tcp).poll_read(cx, out);
            }
            let mut into = ReadBuf::new(&mut me.buf);
            ready!(Pin::new(&mut me.tcp).poll_read(cx, &mut into))?;
            (me.pos, me.len) = (0, into.filled().len());
        }
        let n = out.remaining().min(me.len - me.pos);
        if let Some(part) = me.buf.get(me.pos..me.pos + n) {
            out.put_slice(part);
        }
        me.pos += n;
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for TlsIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().tcp).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn pair() -> (TcpStream, TcpStream) {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let a = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (b, _) = l.accept().await.unwrap();
        (a, b)
    }

    /// Input buffered before the buffer grows (and before it shrinks below what is
    /// buffered) comes first, then the rest in order, read in odd sizes, some larger than
    /// the buffer; then end of input. Writes reach the peer.
    #[tokio::test]
    async fn test_resizing_the_buffer_keeps_the_input_in_order() {
        let (mut peer, ours) = pair().await;
        let mut io = TlsIo::new(ours);
        let wire: Vec<u8> = (0..3 * BULK_READ_BUFFER + 12_345)
            .map(|k| (k % 251) as u8)
            .collect();
        peer.write_all(&wire[..1000]).await.unwrap();
        let mut first = [0u8; 10];
        io.read_exact(&mut first).await.unwrap();
        assert_eq!(first[..], wire[..10]);
        io.set_read_buffer(BULK_READ_BUFFER);
        assert_eq!(io.read_buffer(), BULK_READ_BUFFER);
        let mut got = first.to_vec();
        let mut next = [0u8; 5];
        io.read_exact(&mut next).await.unwrap();
        got.extend_from_slice(&next);
        // Smaller than the 985 bytes still buffered: the buffer keeps them.
        io.set_read_buffer(100);
        assert_eq!(io.read_buffer(), 985);
        let rest = wire[1000..].to_vec();
        let sender = tokio::spawn(async move {
            let mut off = 0;
            let mut piece = 1;
            while off < rest.len() {
                let n = piece.min(rest.len() - off);
                peer.write_all(&rest[off..off + n]).await.unwrap();
                off += n;
                piece = piece * 7 % 70_001 + 1;
            }
            let mut back = [0u8; 5];
            peer.read_exact(&mut back).await.unwrap();
            assert_eq!(&back, b"hello");
            peer.shutdown().await.unwrap();
            peer
        });
        io.set_read_buffer(BULK_READ_BUFFER);
        let mut buf = vec![0u8; BULK_READ_BUFFER + 1];
        let mut size = 1;
        while got.len() < wire.len() {
            size = size * 13 % (BULK_READ_BUFFER + 1) + 1;
            let n = io.read(&mut buf[..size]).await.unwrap();
            assert!(n > 0, "input ended early at {}", got.len());
            got.extend_from_slice(&buf[..n]);
        }
        assert!(got == wire, "bytes out of order or changed");
        io.write_all(b"hello").await.unwrap();
        assert_eq!(io.read(&mut buf).await.unwrap(), 0, "end of input");
        drop(sender.await.unwrap());
    }
}
