//! Cut a capture into bsock frames with fd-core's incremental [`Decoder`].
//!
//! JSON Lines transcripts are already framed; pcap captures carry TCP byte chunks, which go
//! through one decoder per connection direction exactly as a daemon would receive them.

use std::collections::HashMap;

use fd_core::wire::bnet::{Decoder, Frame, Oversize, Signal, MAX_PACKET_SIZE};

use crate::capture::{Capture, Direction, Item, ReadError};

/// One bsock frame (or TLS record) with where and when it was seen.
#[derive(Debug, Clone)]
pub struct Message {
    /// Connection number.
    pub conn: usize,
    /// Which way it went.
    pub dir: Direction,
    /// 1-based number within the connection, both directions counted together.
    pub index: usize,
    /// Seconds since the first packet.
    pub t: f64,
    /// What it carried.
    pub body: Body,
}

/// The content of a [`Message`].
#[derive(Debug, Clone)]
pub enum Body {
    /// A data frame's payload.
    Data {
        /// The payload (a prefix when `truncated`).
        payload: Vec<u8>,
        /// The transcript cut the payload.
        truncated: bool,
        /// The payload's length on the wire (more than `payload.len()` when `truncated`).
        len: usize,
    },
    /// A signal frame.
    Signal(Signal),
    /// A TLS record (the connection is encrypted).
    Tls {
        /// The record's content type and handshake type as the capture names it.
        kind: String,
        /// The record body.
        body: Vec<u8>,
    },
    /// The sender closed the connection.
    Close(String),
}

/// Frame every connection of a capture, in capture order.
pub fn messages(cap: &Capture, src: &str) -> Result<Vec<Message>, ReadError> {
    let mut out = Vec::new();
    let mut decoders: HashMap<(usize, Direction), Decoder<Vec<u8>>> = HashMap::new();
    let mut tls: HashMap<(usize, Direction), Vec<u8>> = HashMap::new();
    let mut tls_conns: HashMap<usize, bool> = HashMap::new();
    let mut counters: HashMap<usize, usize> = HashMap::new();
    let mut next = |conn: usize| {
        let c = counters.entry(conn).or_insert(0);
        *c += 1;
        *c
    };
    for item in &cap.items {
        match item {
            Item::Frame {
                t,
                conn,
                dir,
                index,
                len,
                payload,
                truncated,
            } => {
                let body = if *len < 0 {
                    Body::Signal(Signal::from_code(*len))
                } else {
                    Body::Data {
                        payload: payload.clone(),
                        truncated: *truncated,
                        len: usize::try_from(*len).unwrap_or(payload.len()),
                    }
                };
                out.push(Message {
                    conn: *conn,
                    dir: *dir,
                    index: *index,
                    t: *t,
                    body,
                });
            }
            Item::TlsRecord {
                t,
                conn,
                dir,
                index,
                kind,
                body,
            } => {
                let body = Body::Tls {
                    kind: kind.clone(),
                    body: body.clone(),
                };
                out.push(Message {
                    conn: *conn,
                    dir: *dir,
                    index: *index,
                    t: *t,
                    body,
                });
            }
            Item::Close { t, conn, dir, how } => {
                let index = next(*conn);
                out.push(Message {
                    conn: *conn,
                    dir: *dir,
                    index,
                    t: *t,
                    body: Body::Close(how.clone()),
                });
            }
            Item::Bytes { t, conn, dir, data } => {
                // A connection whose client starts with a TLS handshake record is TLS-first.
                let is_tls = *tls_conns
                    .entry(*conn)
                    .or_insert_with(|| *dir == Direction::ToServer && data.first() == Some(&0x16));
                if is_tls {
                    let buf = tls.entry((*conn, *dir)).or_default();
                    buf.extend_from_slice(data);
                    while buf.len() >= 5 {
                        let len = usize::from(u16::from_be_bytes([buf[3], buf[4]]));
                        if buf.len() < 5 + len {
                            break;
                        }
                        let rec: Vec<u8> = buf.drain(..5 + len).collect();
                        let kind = tls_record_kind(&rec);
                        let index = next(*conn);
                        let body = Body::Tls {
                            kind,
                            body: rec[5..].to_vec(),
                        };
                        out.push(Message {
                            conn: *conn,
                            dir: *dir,
                            index,
                            t: *t,
                            body,
                        });
                    }
                    continue;
                }
                let dec = decoders
                    .entry((*conn, *dir))
                    .or_insert_with(|| Decoder::new(vec![0u8; MAX_PACKET_SIZE], Oversize::Reject));
                let mut input: &[u8] = data;
                loop {
                    let (used, frame) = dec.decode(input).map_err(|e| ReadError {
                        source: src.to_string(),
                        what: format!("conn {conn}: bsock framing failed: {e}"),
                    })?;
                    let body = match frame {
                        Some(Frame::Data(p)) => Some(Body::Data {
                            payload: p.to_vec(),
                            truncated: false,
                            len: p.len(),
                        }),
                        Some(Frame::Signal(s)) => Some(Body::Signal(s)),
                        Some(Frame::Chunk(_)) => None,
                        None => None,
                    };
                    input = input.get(used..).unwrap_or(&[]);
                    match body {
                        Some(body) => {
                            let index = next(*conn);
                            out.push(Message {
                                conn: *conn,
                                dir: *dir,
                                index,
                                t: *t,
                                body,
                            });
                        }
                        None if input.is_empty() || used == 0 => break,
                        None => {}
                    }
                }
            }
        }
    }
    Ok(out)
}

/// Name a TLS record as the transcripts do (`handshake/client_hello`, `application_data`...).
fn tls_record_kind(rec: &[u8]) -> String {
    let ct = match rec.first() {
        Some(20) => "change_cipher_spec",
        Some(21) => "alert",
        Some(22) => "handshake",
        Some(23) => "application_data",
        _ => "unknown",
    };
    if rec.first() == Some(&22) {
        let hs = match rec.get(5) {
            Some(1) => "client_hello",
            Some(2) => "server_hello",
            Some(4) => "new_session_ticket",
            Some(8) => "encrypted_extensions",
            Some(11) => "certificate",
            Some(20) => "finished",
            _ => "other",
        };
        format!("{ct}/{hs}")
    } else {
        ct.to_string()
    }
}
