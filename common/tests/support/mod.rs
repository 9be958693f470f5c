//! Shared helpers for the barque-common integration tests.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use barque_common::conn::{
    accept, connect, AuthenticatedConnection, ConnOptions, HandshakeMode, Local, Outbound, Peer,
    PeerIdentity, PeerLookup,
};
use barque_common::error::ConnError;
use barque_common::tls::{Key, TlsSettings};
use fd_core::wire::psk::ResourceType;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub const FD_PW: &str = "ref-fd-password";
pub const SD_PW: &str = "ref-sd-password";
pub const CONSOLE_PW: &str = "ref-dir-console-password";
/// vectors/clear-backup-full, conn 2 msg 10: the SD's session key for JobId 1.
pub const SESSION_KEY: &str = "HLCO-EFBN-FKHA-HBFC-DIEI-MGND-JDEM-ILMP";
pub const JOB: &str = "CapBackup.2026-11-22_15.46.52_03";

pub fn opts() -> ConnOptions {
    ConnOptions {
        connect_timeout: Duration::from_secs(5),
        handshake_timeout: Duration::from_secs(10),
        auth_failure_delay: Duration::ZERO,
        ..ConnOptions::default()
    }
}

pub fn key(pw: &str) -> Key {
    Key::from_password(pw).expect("password")
}

pub fn peer(kind: ResourceType, name: &str, key: Key, tls: TlsSettings) -> Peer {
    Peer {
        kind,
        name: name.into(),
        key,
        address: "127.0.0.1".into(),
        port: 0,
        tls,
    }
}

/// A lookup over a fixed list of peers.
pub fn lookup(peers: Vec<Peer>) -> Arc<dyn PeerLookup> {
    Arc::new(move |kind: ResourceType, name: &str| {
        peers
            .iter()
            .find(|p| p.kind == kind && p.name == name)
            .cloned()
    })
}

pub type Accepted = Result<(PeerIdentity, AuthenticatedConnection), ConnError>;

/// Run our accept on a fresh listener; returns the port and the accept task.
pub async fn spawn_accept(
    local: Local,
    lookup: Arc<dyn PeerLookup>,
    opts: ConnOptions,
) -> (u16, tokio::task::JoinHandle<Accepted>) {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = l.local_addr().expect("addr").port();
    let h = tokio::spawn(async move {
        let (tcp, _) = l.accept().await.expect("accept");
        accept(tcp, &local, lookup, &opts).await
    });
    (port, h)
}

/// Connect with our connect to `port`.
pub async fn dial(
    local: &Local,
    mut p: Peer,
    port: u16,
    kind: &Outbound,
    mode: HandshakeMode,
) -> Result<AuthenticatedConnection, ConnError> {
    p.port = port;
    connect(local, &p, kind, mode, &opts()).await
}

/// Write one bsock frame on a raw stream.
pub async fn write_frame<W: AsyncWriteExt + Unpin>(w: &mut W, payload: &[u8]) {
    let mut f = (payload.len() as u32).to_be_bytes().to_vec();
    f.extend_from_slice(payload);
    w.write_all(&f).await.expect("write");
    w.flush().await.expect("flush");
}

/// Read one bsock frame on a raw stream: Ok(payload) or Err(signal code).
pub async fn read_frame<R: AsyncReadExt + Unpin>(r: &mut R) -> Result<Vec<u8>, i32> {
    let mut h = [0u8; 4];
    r.read_exact(&mut h).await.expect("header");
    let n = i32::from_be_bytes(h);
    if n < 0 {
        return Err(n);
    }
    let mut p = vec![0u8; n as usize];
    r.read_exact(&mut p).await.expect("payload");
    Ok(p)
}

/// A raw TCP connection to `port`.
pub async fn raw(port: u16) -> TcpStream {
    TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect")
}

/// Hex of bytes (for openssl -psk).
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
