//! Client-initiated connections waiting for a job (`Connection From Client To Director`).
//!
//! # What Bareos does (connect.md §5.2–§5.5)
//!
//! A File daemon with `Connection From Client To Director = yes` dials the Director, says
//! `Hello Client «name» FdProtocolVersion=54 …`, runs CRAM-MD5 as the outbound side and
//! reads `1000 OK: «dir» Version: …⏎`. The Director then parks the socket in its
//! connection pool (`core/src/lib/connection_pool.cc`) as (name, protocol version, connect
//! time); `status dir` lists the pool under `Client Initiated Connections (waiting for
//! jobs):`. A job, a `status client` or a `cancel` takes the **most recently added**
//! connection of its client and sends its first command on it without a new hello.
//!
//! While parked, the FD sends nothing (vectors/clear-client-initiated conn 1: 25 s of TCP
//! keep-alive probes only). Bareos' pool polls each socket: a readable socket is read once,
//! and EOF, an error, **any signal (heartbeats included)** or an empty frame drops the
//! connection; a data frame is discarded and the connection kept.
//!
//! # Here
//!
//! [`ClientPool::park`] gives each connection a small task that owns it and waits for two
//! things at once: a frame from the FD (handled as above, so a dead or closing FD leaves the
//! list at once) and a request to hand the connection over ([`ClientPool::take`]). The
//! Director never writes to a parked connection; TCP keep-alive (the Client resource's
//! `Heartbeat Interval` as idle time and probe interval, three probes,
//! [`barque_common::conn::set_keepalive`]) keeps it alive through firewalls and detects a
//! peer that vanished without FIN or RST at most 4 × `Heartbeat Interval` after its last
//! packet: the socket fails, the watcher below drops the entry (Bareos: the kernel's 9 probes).
//! [`ClientPool::take`] waits on a [`Notify`] for a connection to arrive, up to a deadline,
//! which is step 3 of the job dispatch (`JobEngine::connect_fd`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use barque_common::conn::AuthenticatedConnection;
use fd_core::wire::bnet::Frame;
use tokio::sync::{oneshot, Notify};

/// One waiting connection as `status dir` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitingClient {
    /// The Client resource's name (from the hello).
    pub name: String,
    /// `FdProtocolVersion=` of the hello (0 when absent).
    pub protocol: i32,
    /// When it authenticated (Unix seconds).
    pub connected_at: i64,
    /// The peer's address, for log lines.
    pub addr: String,
}

type Handover = oneshot::Sender<AuthenticatedConnection>;

struct Entry {
    id: u64,
    info: WaitingClient,
    take: oneshot::Sender<Handover>,
}

/// The waiting list (see the module docs). Cheap to share behind an `Arc`.
#[derive(Default)]
pub struct ClientPool {
    entries: Mutex<Vec<Entry>>,
    added: Notify,
    next: AtomicU64,
}

impl std::fmt::Debug for ClientPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientPool")
            .field("waiting", &self.list())
            .finish()
    }
}

impl ClientPool {
    /// An empty pool.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// The waiting connections, oldest first.
    pub fn list(&self) -> Vec<WaitingClient> {
        self.entries
            .lock()
            .map(|e| e.iter().map(|x| x.info.clone()).collect())
            .unwrap_or_default()
    }

    /// Park an authenticated connection (its `1000 OK:` already sent). Must be called inside
    /// a tokio runtime: the connection is watched by a task until it is taken or closes.
    pub fn park(self: &Arc<Self>, info: WaitingClient, conn: AuthenticatedConnection) {
        let id = self.next.fetch_add(1, Ordering::SeqCst);
        let (take, take_rx) = oneshot::channel();
        log::info!(
            "client {} ({}) connected (client-initiated, protocol {}); waiting for jobs",
            info.name,
            info.addr,
            info.protocol
        );
        if let Ok(mut e) = self.entries.lock() {
            e.push(Entry {
                id,
                info: info.clone(),
                take,
            });
        }
        self.added.notify_waiters();
        tokio::spawn(watch(Arc::downgrade(self), id, info, conn, take_rx));
    }

    fn remove(&self, id: u64) {
        if let Ok(mut e) = self.entries.lock() {
            e.retain(|x| x.id != id);
        }
    }

    /// Take the most recently added connection of `name`, waiting up to `wait` for one to
    /// arrive (zero: only what is there now). Returns it with its `status dir` facts.
    pub async fn take(
        &self,
        name: &str,
        wait: Duration,
    ) -> Option<(WaitingClient, AuthenticatedConnection)> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            // Register for the wake-up before looking, so an arrival in between is not
            // missed.
            let arrived = self.added.notified();
            tokio::pin!(arrived);
            arrived.as_mut().enable();
            while let Some(entry) = self.pop(name) {
                let (tx, rx) = oneshot::channel();
                if entry.take.send(tx).is_err() {
                    continue; // its watcher just saw it close
                }
                if let Ok(conn) = rx.await {
                    log::info!(
                        "client {} ({}): using its client-initiated connection",
                        entry.info.name,
                        entry.info.addr
                    );
                    return Some((entry.info, conn));
                }
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                return None;
            }
        }
    }

    fn pop(&self, name: &str) -> Option<Entry> {
        let mut e = self.entries.lock().ok()?;
        let i = e.iter().rposition(|x| x.info.name == name)?;
        Some(e.remove(i))
    }
}

/// Own a parked connection until it is taken or the FD closes it (module docs).
async fn watch(
    pool: Weak<ClientPool>,
    id: u64,
    info: WaitingClient,
    mut conn: AuthenticatedConnection,
    mut take: oneshot::Receiver<Handover>,
) {
    loop {
        let got = tokio::select! {
            biased;
            t = &mut take => Err(t),
            f = async {
                match conn.recv().await {
                    Ok(Frame::Data(d)) if !d.is_empty() => Ok(()),
                    Ok(Frame::Data(_)) => Err("an empty frame".to_string()),
                    Ok(Frame::Signal(s)) => Err(format!("signal {}", s.name())),
                    Ok(Frame::Chunk(_)) => Err("a chunked frame".to_string()),
                    Err(e) => Err(e.to_string()),
                }
            } => Ok(f),
        };
        match got {
            // Taken: hand the connection over (if the taker gave up, it is dropped).
            Err(Ok(reply)) => {
                let _ = reply.send(conn);
                return;
            }
            // The pool is gone (Director shutting down).
            Err(Err(_)) => return,
            // A data frame: Bareos discards it and keeps the connection.
            Ok(Ok(())) => {
                log::debug!(
                    "client {} ({}): discarded a frame on a waiting connection",
                    info.name,
                    info.addr
                );
            }
            Ok(Err(why)) => {
                log::info!(
                    "client {} ({}): waiting connection dropped ({why}); the File daemon \
                     reconnects on its own",
                    info.name,
                    info.addr
                );
                if let Some(p) = pool.upgrade() {
                    p.remove(id);
                }
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    // The pool is exercised with real connections in host-tests/tests/client_initiated.rs
    // and director/tests; here only the bookkeeping without sockets.
    use super::*;

    #[tokio::test]
    async fn take_with_nothing_waiting_times_out() {
        let p = ClientPool::new();
        let t0 = std::time::Instant::now();
        assert!(p.take("c", Duration::from_millis(50)).await.is_none());
        assert!(t0.elapsed() >= Duration::from_millis(50));
        assert!(p.list().is_empty());
    }
}
