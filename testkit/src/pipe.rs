//! In-process transports for sans-IO tests: a round-robin executor ([`run_all`]) and
//! in-memory duplex byte pipes ([`pipe`]) implementing `embedded-io-async` `Read`/`Write`, so
//! fd-core's async drivers (and fd-embedded's, in the host simulations) can talk to test peers
//! without sockets, threads or timers.
//!
//! The pipes are unbounded and never block a writer; a reader waits (returns `Pending`)
//! until bytes arrive or the other end is dropped (then it reads 0 bytes, EOF). What a drop
//! does to the *dropping* end's receive direction is chosen per pipe ([`OnDrop`]): fd-core's
//! session tests keep accepting (and discarding) the peer's writes, the embedded
//! simulations make them fail with `BrokenPipe` like a reset TCP connection.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use embedded_io_async::{ErrorKind, ErrorType, Read, Write};

struct NoopWake;
impl Wake for NoopWake {
    fn wake(self: Arc<Self>) {}
}

/// A waker that does nothing: the executors here poll every task each round.
pub fn noop_waker() -> Waker {
    Waker::from(Arc::new(NoopWake))
}

/// A task for [`run_all`].
pub type Task<'a> = Pin<Box<dyn Future<Output = ()> + 'a>>;

/// Poll all tasks round robin (with a no-op waker) until all are done; returns false if they
/// have not all finished after `max_rounds` rounds (a hang or deadlock).
pub fn run_all(mut tasks: Vec<Task<'_>>, max_rounds: u64) -> bool {
    let waker = noop_waker();
    let mut cx = Context::from_waker(&waker);
    let mut done = vec![false; tasks.len()];
    for _round in 0..max_rounds {
        for (t, d) in tasks.iter_mut().zip(done.iter_mut()) {
            if !*d && t.as_mut().poll(&mut cx).is_ready() {
                *d = true;
            }
        }
        if done.iter().all(|&d| d) {
            return true;
        }
    }
    false
}

#[derive(Default)]
struct Shared {
    buf: VecDeque<u8>,
    closed: bool,
}

/// What dropping an [`End`] closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnDrop {
    /// Only the direction towards the peer: the peer reads EOF, its writes still succeed.
    CloseWrite,
    /// Both directions: the peer reads EOF and its writes fail with `BrokenPipe`.
    CloseBoth,
}

/// One end of a [`pipe`].
pub struct End {
    rx: Rc<RefCell<Shared>>,
    tx: Rc<RefCell<Shared>>,
    on_drop: OnDrop,
}

/// A connected pair of ends whose drop closes only their sending direction.
pub fn pipe() -> (End, End) {
    pipe_with(OnDrop::CloseWrite)
}

/// A connected pair of ends with the given drop behaviour.
pub fn pipe_with(on_drop: OnDrop) -> (End, End) {
    let a = Rc::new(RefCell::new(Shared::default()));
    let b = Rc::new(RefCell::new(Shared::default()));
    (
        End {
            rx: a.clone(),
            tx: b.clone(),
            on_drop,
        },
        End {
            rx: b,
            tx: a,
            on_drop,
        },
    )
}

impl Drop for End {
    fn drop(&mut self) {
        self.tx.borrow_mut().closed = true;
        if self.on_drop == OnDrop::CloseBoth {
            self.rx.borrow_mut().closed = true;
        }
    }
}

impl ErrorType for End {
    type Error = ErrorKind;
}

impl Read for End {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        std::future::poll_fn(|_| {
            let mut s = self.rx.borrow_mut();
            if !s.buf.is_empty() {
                let n = buf.len().min(s.buf.len());
                for (b, x) in buf.iter_mut().zip(s.buf.drain(..n)) {
                    *b = x;
                }
                Poll::Ready(Ok(n))
            } else if s.closed {
                Poll::Ready(Ok(0))
            } else {
                Poll::Pending
            }
        })
        .await
    }
}

impl Write for End {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        let mut s = self.tx.borrow_mut();
        if s.closed {
            return Err(ErrorKind::BrokenPipe);
        }
        s.buf.extend(buf);
        Ok(buf.len())
    }
    async fn flush(&mut self) -> Result<(), ErrorKind> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn bytes_cross_and_eof_on_drop() {
        let (mut a, mut b) = pipe();
        let got = Rc::new(RefCell::new(Vec::new()));
        let g2 = got.clone();
        let ok = run_all(
            vec![
                Box::pin(async move {
                    a.write(b"hello").await.unwrap();
                    drop(a);
                }),
                Box::pin(async move {
                    let mut buf = [0u8; 3];
                    loop {
                        let n = b.read(&mut buf).await.unwrap();
                        if n == 0 {
                            break;
                        }
                        g2.borrow_mut().extend_from_slice(&buf[..n]);
                    }
                    // CloseWrite: writing back to the dropped end still succeeds.
                    assert_eq!(b.write(b"x").await, Ok(1));
                }),
            ],
            1000,
        );
        assert!(ok);
        assert_eq!(&*got.borrow(), b"hello");
    }

    #[test]
    fn close_both_breaks_the_peer_writes() {
        let (a, mut b) = pipe_with(OnDrop::CloseBoth);
        drop(a);
        let r = Rc::new(Cell::new(None));
        let r2 = r.clone();
        assert!(run_all(
            vec![Box::pin(async move {
                r2.set(Some(b.write(b"x").await));
            })],
            10
        ));
        assert_eq!(r.get(), Some(Err(ErrorKind::BrokenPipe)));
    }

    #[test]
    fn a_stuck_reader_is_reported() {
        let (_a, mut b) = pipe();
        let t: Task<'_> = Box::pin(async move {
            let mut buf = [0u8; 1];
            let _ = b.read(&mut buf).await;
        });
        assert!(!run_all(vec![t], 100));
    }
}
