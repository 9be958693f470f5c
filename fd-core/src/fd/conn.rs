//! bsock framing over an `embedded-io-async` stream.
//!
//! [`Conn`] reads one frame at a time into a caller buffer and writes frames built by the
//! [`crate::wire`] codecs. It keeps the one piece of socket state Bareos' `BareosSocket` has
//! that matters on the wire: once a TERMINATE was received, nothing more is sent
//! (`core/src/lib/bsock_tcp.cc` `send()` refuses on `IsTerminated()`), which is why the FD
//! sends no TERMINATE back at the end of a `status` or `estimate` session (connect.md §8).

use core::future::Future;
use core::task::Poll;

use embedded_io_async::{Error as _, ErrorKind, Read, ReadExactError, Write};

use super::platform::Clock;
use crate::time::{Duration, Instant};
use crate::wire::bnet::{self, Header, Signal};

/// How long the FD waits for the Storage daemon during a job's data phase (a reply to a
/// data-channel command, the next record of a restore) before it fails the job instead of
/// hanging. Heartbeats count as traffic. Bareos has no such limit on this path (a silent SD
/// holds its FD until TCP keepalive gives up); a device cannot wait that long.
pub const DATA_PHASE_TIMEOUT: Duration = Duration::from_secs(600);

/// How long the FD waits for the Director's next frame once a job is open (after a
/// `JobId=` ≠ 0, until the session ends): a Director that stalls mid-job fails the job
/// instead of holding the session forever. Generous, because the Director may legitimately
/// pause between commands (a Storage daemon reserving a busy device, a passive SD being
/// told to dial). Between jobs there is no limit: Bareos File daemons wait for their
/// Director indefinitely (an idle or parked client-initiated connection).
pub const DIRECTOR_JOB_TIMEOUT: Duration = Duration::from_secs(3600);

/// Run `f` until `deadline` on `clock`: `Some(output)`, or `None` when the deadline came
/// first (`f` is then dropped, so whatever it was reading is abandoned).
pub async fn until<F: Future, T: Clock>(clock: &T, deadline: Instant, f: F) -> Option<F::Output> {
    let mut f = core::pin::pin!(f);
    let mut sleep = core::pin::pin!(clock.sleep_until(deadline));
    core::future::poll_fn(|cx| {
        if let Poll::Ready(v) = f.as_mut().poll(cx) {
            return Poll::Ready(Some(v));
        }
        if sleep.as_mut().poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        Poll::Pending
    })
    .await
}

/// Receive one frame on `conn` before `deadline`; `ConnError::Io(TimedOut)` when the
/// deadline comes first (whatever the frame had delivered so far is abandoned, so the caller
/// must give the connection up). Every bounded wait for a frame goes through this one
/// function, which keeps one copy of the timer logic per stream type in a firmware.
pub async fn recv_by<'b, S: Read + Write, T: Clock>(
    conn: &mut Conn<S>,
    clock: &T,
    deadline: Instant,
    buf: &'b mut [u8],
) -> Result<Msg<'b>, ConnError> {
    until(clock, deadline, conn.recv(buf))
        .await
        .unwrap_or(Err(ConnError::Io(ErrorKind::TimedOut)))
}

/// Send one frame on the data channel within [`DATA_PHASE_TIMEOUT`];
/// `ConnError::Io(TimedOut)` when the SD stopped reading (its TCP window stays shut, so the
/// write never completes). Bareos has no such limit (a stalled SD holds its FD until TCP
/// gives up).
#[cfg(feature = "sd-write-timeout")]
pub async fn send_within<S: Read + Write, T: Clock>(
    conn: &mut Conn<S>,
    clock: &T,
    payload: &[u8],
) -> Result<(), ConnError> {
    let deadline = clock.now() + DATA_PHASE_TIMEOUT;
    until(clock, deadline, conn.send(payload))
        .await
        .unwrap_or(Err(ConnError::Io(ErrorKind::TimedOut)))
}

/// Without the feature `sd-write-timeout` (96 B of flash in boards/stm32f7-eth, which has
/// it) a write to a stalled SD waits as long as the stream's own timeouts allow.
/// (Not an `async fn`: returning `Conn::send`'s own future costs nothing.)
#[cfg(not(feature = "sd-write-timeout"))]
#[inline(always)]
pub fn send_within<'a, S: Read + Write, T: Clock>(
    conn: &'a mut Conn<S>,
    _clock: &T,
    payload: &'a [u8],
) -> impl Future<Output = Result<(), ConnError>> + 'a {
    conn.send(payload)
}

/// What went wrong on a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ConnError {
    /// The stream failed.
    Io(ErrorKind),
    /// The peer closed the stream (cleanly or in the middle of a frame).
    Closed,
    /// A header announced more than [`bnet::MAX_PACKET_SIZE`] bytes, or a negative length
    /// that is no signal.
    BadFrame,
    /// A frame does not fit the receive buffer.
    BufferTooSmall,
}

impl core::fmt::Display for ConnError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ConnError::Io(k) => write!(f, "I/O error {k:?}"),
            ConnError::Closed => f.write_str("connection closed by peer"),
            ConnError::BadFrame => f.write_str("bad frame header"),
            ConnError::BufferTooSmall => f.write_str("frame larger than the receive buffer"),
        }
    }
}

impl core::error::Error for ConnError {}

/// One received frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Msg<'b> {
    /// A payload (possibly empty).
    Data(&'b [u8]),
    /// A signal.
    Signal(Signal),
}

/// A framed connection.
#[derive(Debug)]
pub struct Conn<S> {
    io: S,
    terminated: bool,
}

impl<S: Read + Write> Conn<S> {
    /// Wrap a connected (and, if needed, TLS-wrapped) stream.
    pub fn new(io: S) -> Self {
        Self {
            io,
            terminated: false,
        }
    }

    /// The stream.
    pub fn into_inner(self) -> S {
        self.io
    }

    /// The stream, borrowed (e.g. for [`super::platform::Connector::cipher`]).
    pub fn get_ref(&self) -> &S {
        &self.io
    }

    /// True once the peer sent TERMINATE (nothing is sent any more).
    pub fn is_terminated(&self) -> bool {
        self.terminated
    }

    /// Receive one frame into `buf`.
    pub async fn recv<'b>(&mut self, buf: &'b mut [u8]) -> Result<Msg<'b>, ConnError> {
        let mut hdr = [0u8; bnet::HEADER_LEN];
        self.io.read_exact(&mut hdr).await.map_err(map_read)?;
        let header = Header::parse(&hdr).map_err(|_| ConnError::BadFrame)?;
        match header {
            Header::Signal(s) => {
                if s == Signal::Terminate {
                    self.terminated = true;
                }
                Ok(Msg::Signal(s))
            }
            Header::Data(len) => {
                let dst = buf.get_mut(..len).ok_or(ConnError::BufferTooSmall)?;
                self.io.read_exact(dst).await.map_err(map_read)?;
                Ok(Msg::Data(dst))
            }
        }
    }

    /// Send one frame with `payload`.
    pub async fn send(&mut self, payload: &[u8]) -> Result<(), ConnError> {
        if self.terminated {
            return Ok(());
        }
        let len = i32::try_from(payload.len()).map_err(|_| ConnError::BadFrame)?;
        if payload.len() > bnet::MAX_MESSAGE_LEN {
            return Err(ConnError::BadFrame);
        }
        self.io
            .write_all(&len.to_be_bytes())
            .await
            .map_err(|e| ConnError::Io(e.kind()))?;
        self.io
            .write_all(payload)
            .await
            .map_err(|e| ConnError::Io(e.kind()))?;
        self.io.flush().await.map_err(|e| ConnError::Io(e.kind()))
    }

    /// Send bytes that already hold complete frames (e.g. from
    /// [`crate::auth::Authenticator::poll_transmit`]).
    pub async fn send_raw(&mut self, frames: &[u8]) -> Result<(), ConnError> {
        if self.terminated {
            return Ok(());
        }
        self.io
            .write_all(frames)
            .await
            .map_err(|e| ConnError::Io(e.kind()))?;
        self.io.flush().await.map_err(|e| ConnError::Io(e.kind()))
    }

    /// Send a signal.
    pub async fn signal(&mut self, signal: Signal) -> Result<(), ConnError> {
        if self.terminated {
            return Ok(());
        }
        self.io
            .write_all(&signal.code().to_be_bytes())
            .await
            .map_err(|e| ConnError::Io(e.kind()))?;
        self.io.flush().await.map_err(|e| ConnError::Io(e.kind()))
    }

    /// Send TERMINATE (unless the peer terminated first). Bareos does not mark its own
    /// socket on sending TERMINATE, so a second call sends a second one, as the FD does to
    /// the SD after a restore (vectors/clear-restore conn 4 msgs 45 and 47).
    pub async fn terminate(&mut self) -> Result<(), ConnError> {
        self.signal(Signal::Terminate).await
    }

    /// Emit a message with `f` into `scratch` and send it.
    pub async fn send_with(
        &mut self,
        scratch: &mut [u8],
        f: impl FnOnce(&mut [u8]) -> crate::wire::Result<usize>,
    ) -> Result<(), ConnError> {
        let n = f(scratch).map_err(|_| ConnError::BufferTooSmall)?;
        let payload = scratch.get(..n).ok_or(ConnError::BufferTooSmall)?;
        self.send(payload).await
    }
}

fn map_read<E: embedded_io_async::Error>(e: ReadExactError<E>) -> ConnError {
    match e {
        ReadExactError::UnexpectedEof => ConnError::Closed,
        ReadExactError::Other(e) => ConnError::Io(e.kind()),
    }
}
