//! The capture model both readers produce: connections, and per connection the byte chunks each
//! side sent, in the order they were seen on the wire.

use std::fmt;
use std::net::SocketAddr;

/// Which way a chunk travelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From the TCP client (the side that connected) to the server.
    ToServer,
    /// From the server back to the client.
    ToClient,
}

/// One TCP connection of a capture.
#[derive(Debug, Clone)]
pub struct Connection {
    /// 1-based number, in order of the first packet (as the transcripts number them).
    pub number: usize,
    /// The side that connected.
    pub client: SocketAddr,
    /// The side that accepted.
    pub server: SocketAddr,
    /// Roles named by the transcript (`dir`, `fd`, `sd`, `con`), when known.
    pub client_role: Option<String>,
    /// See `client_role`.
    pub server_role: Option<String>,
}

impl Connection {
    /// Role of the sender of a chunk going `dir`, or a placeholder from the address.
    pub fn sender_role(&self, dir: Direction) -> String {
        match dir {
            Direction::ToServer => self.client_role.clone().unwrap_or_else(|| "client".into()),
            Direction::ToClient => self.server_role.clone().unwrap_or_else(|| "server".into()),
        }
    }

    /// `from>to` as the transcripts write it.
    pub fn arrow(&self, dir: Direction) -> String {
        let back = match dir {
            Direction::ToServer => Direction::ToClient,
            Direction::ToClient => Direction::ToServer,
        };
        format!("{}>{}", self.sender_role(dir), self.sender_role(back))
    }
}

/// What a capture holds for one connection, in wire order.
#[derive(Debug, Clone)]
pub enum Item {
    /// Stream bytes (pcap) that still need bsock framing.
    Bytes {
        /// Seconds since the first packet.
        t: f64,
        /// Connection number.
        conn: usize,
        /// Which way.
        dir: Direction,
        /// The TCP payload.
        data: Vec<u8>,
    },
    /// One bsock frame already cut out by the transcript (JSON Lines).
    Frame {
        /// Seconds since the first packet.
        t: f64,
        /// Connection number.
        conn: usize,
        /// Which way.
        dir: Direction,
        /// The transcript's message number.
        index: usize,
        /// The length field: negative for a signal.
        len: i32,
        /// The payload (empty for signals).
        payload: Vec<u8>,
        /// True when the transcript cut the payload (then `payload` is a prefix).
        truncated: bool,
    },
    /// One TLS record listed by the transcript.
    TlsRecord {
        /// Seconds since the first packet.
        t: f64,
        /// Connection number.
        conn: usize,
        /// Which way.
        dir: Direction,
        /// The transcript's record number.
        index: usize,
        /// The record kind as the transcript names it (`handshake/client_hello`, ...).
        kind: String,
        /// The record body.
        body: Vec<u8>,
    },
    /// The connection was closed by one side.
    Close {
        /// Seconds since the first packet.
        t: f64,
        /// Connection number.
        conn: usize,
        /// Which side closed.
        dir: Direction,
        /// `FIN` or `RST`.
        how: String,
    },
}

/// A whole capture, from either reader.
#[derive(Debug, Clone, Default)]
pub struct Capture {
    /// Connections, numbered from 1.
    pub connections: Vec<Connection>,
    /// Everything that happened, in capture order.
    pub items: Vec<Item>,
}

impl Capture {
    /// The connection numbered `n`.
    pub fn connection(&self, n: usize) -> Option<&Connection> {
        self.connections.iter().find(|c| c.number == n)
    }
}

/// Why a capture could not be read.
#[derive(Debug)]
pub struct ReadError {
    /// What was being read.
    pub source: String,
    /// What went wrong.
    pub what: String,
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.source, self.what)
    }
}

impl std::error::Error for ReadError {}
