//! A small pcap reader with TCP reassembly, enough for captures of Bareos daemons made with
//! tcpdump (classic pcap, Ethernet, Linux cooked v1/v2, BSD loopback or raw IP; IPv4 and IPv6).
//!
//! Each TCP connection is identified by its SYN; its payload is reassembled in sequence order
//! per direction (retransmitted bytes are dropped, out-of-order segments wait for the gap to
//! close) and handed out as [`Item::Bytes`] chunks in the order the wire carried them, so that
//! bsock framing can be applied afterwards with fd-core's incremental decoder.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::capture::{Capture, Connection, Direction, Item, ReadError};

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    big_endian: bool,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.data.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(s)
    }

    fn u32(&mut self) -> Option<u32> {
        let b: [u8; 4] = self.take(4)?.try_into().ok()?;
        Some(if self.big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    }
}

struct Segment {
    t: f64,
    src: SocketAddr,
    dst: SocketAddr,
    seq: u32,
    syn: bool,
    ack_flag: bool,
    fin: bool,
    rst: bool,
    payload: Vec<u8>,
}

#[derive(Default)]
struct HalfStream {
    next_seq: Option<u32>,
    pending: BTreeMap<u32, Vec<u8>>,
}

/// Parse a pcap file. `src` names it in errors.
pub fn parse(data: &[u8], src: &str) -> Result<Capture, ReadError> {
    let err = |what: String| ReadError {
        source: src.to_string(),
        what,
    };
    let mut r = Reader {
        data,
        pos: 0,
        big_endian: false,
    };
    let magic = r
        .take(4)
        .ok_or_else(|| err("shorter than a pcap header".into()))?;
    let (big_endian, nanos) = match magic {
        [0xd4, 0xc3, 0xb2, 0xa1] => (false, false),
        [0xa1, 0xb2, 0xc3, 0xd4] => (true, false),
        [0x4d, 0x3c, 0xb2, 0xa1] => (false, true),
        [0xa1, 0xb2, 0x3c, 0x4d] => (true, true),
        [0x0a, 0x0d, 0x0d, 0x0a] => {
            return Err(err(
                "pcapng is not supported; convert with `editcap -F pcap`".into(),
            ))
        }
        _ => return Err(err("not a pcap file (bad magic)".into())),
    };
    r.big_endian = big_endian;
    r.take(16)
        .ok_or_else(|| err("truncated pcap header".into()))?;
    let linktype = r.u32().ok_or_else(|| err("truncated pcap header".into()))? & 0x0fff_ffff;

    let mut segments = Vec::new();
    let mut first_ts: Option<f64> = None;
    let mut packet_no = 0usize;
    while r.pos < data.len() {
        packet_no += 1;
        let (Some(sec), Some(frac), Some(incl), Some(_orig)) = (r.u32(), r.u32(), r.u32(), r.u32())
        else {
            return Err(err(format!("packet {packet_no}: truncated record header")));
        };
        let frame = r
            .take(incl as usize)
            .ok_or_else(|| err(format!("packet {packet_no}: truncated packet data")))?;
        let ts = f64::from(sec) + f64::from(frac) / if nanos { 1e9 } else { 1e6 };
        let t0 = *first_ts.get_or_insert(ts);
        if let Some(seg) = decode_packet(linktype, frame, ts - t0) {
            segments.push(seg);
        }
    }
    Ok(reassemble(segments))
}

fn decode_packet(linktype: u32, frame: &[u8], t: f64) -> Option<Segment> {
    let (ethertype, ip) = match linktype {
        1 => (
            u16::from_be_bytes([*frame.get(12)?, *frame.get(13)?]),
            frame.get(14..)?,
        ),
        113 => (
            u16::from_be_bytes([*frame.get(14)?, *frame.get(15)?]),
            frame.get(16..)?,
        ),
        276 => (
            u16::from_be_bytes([*frame.first()?, *frame.get(1)?]),
            frame.get(20..)?,
        ),
        0 => {
            let fam = u32::from_le_bytes(frame.get(..4)?.try_into().ok()?);
            (if fam == 2 { 0x0800 } else { 0x86dd }, frame.get(4..)?)
        }
        101 | 12 | 14 => (
            if frame.first()? >> 4 == 4 {
                0x0800
            } else {
                0x86dd
            },
            frame,
        ),
        _ => return None,
    };
    let (src_ip, dst_ip, proto, l4) = match ethertype {
        0x0800 => {
            let ihl = usize::from(ip.first()? & 0x0f) * 4;
            let total = usize::from(u16::from_be_bytes([*ip.get(2)?, *ip.get(3)?]));
            let s = Ipv4Addr::new(*ip.get(12)?, *ip.get(13)?, *ip.get(14)?, *ip.get(15)?);
            let d = Ipv4Addr::new(*ip.get(16)?, *ip.get(17)?, *ip.get(18)?, *ip.get(19)?);
            (
                IpAddr::V4(s),
                IpAddr::V4(d),
                *ip.get(9)?,
                ip.get(ihl..total.min(ip.len()))?,
            )
        }
        0x86dd => {
            let plen = usize::from(u16::from_be_bytes([*ip.get(4)?, *ip.get(5)?]));
            let s: [u8; 16] = ip.get(8..24)?.try_into().ok()?;
            let d: [u8; 16] = ip.get(24..40)?.try_into().ok()?;
            let end = (40 + plen).min(ip.len());
            (
                IpAddr::V6(Ipv6Addr::from(s)),
                IpAddr::V6(Ipv6Addr::from(d)),
                *ip.get(6)?,
                ip.get(40..end)?,
            )
        }
        _ => return None,
    };
    if proto != 6 {
        return None;
    }
    let sport = u16::from_be_bytes([*l4.first()?, *l4.get(1)?]);
    let dport = u16::from_be_bytes([*l4.get(2)?, *l4.get(3)?]);
    let seq = u32::from_be_bytes(l4.get(4..8)?.try_into().ok()?);
    let off = usize::from(l4.get(12)? >> 4) * 4;
    let flags = *l4.get(13)?;
    Some(Segment {
        t,
        src: SocketAddr::new(src_ip, sport),
        dst: SocketAddr::new(dst_ip, dport),
        seq,
        syn: flags & 0x02 != 0,
        ack_flag: flags & 0x10 != 0,
        fin: flags & 0x01 != 0,
        rst: flags & 0x04 != 0,
        payload: l4.get(off..)?.to_vec(),
    })
}

fn reassemble(segments: Vec<Segment>) -> Capture {
    let mut cap = Capture::default();
    // (client, server) -> connection number; a new SYN on the same pair starts a new connection.
    let mut by_pair: HashMap<(SocketAddr, SocketAddr), usize> = HashMap::new();
    let mut halves: HashMap<(usize, Direction), HalfStream> = HashMap::new();
    for seg in segments {
        let key_fwd = (seg.src, seg.dst);
        let key_rev = (seg.dst, seg.src);
        if seg.syn && !seg.ack_flag {
            let number = cap.connections.len() + 1;
            cap.connections.push(Connection {
                number,
                client: seg.src,
                server: seg.dst,
                client_role: None,
                server_role: None,
            });
            by_pair.insert(key_fwd, number);
        }
        let (conn, dir) = if let Some(&n) = by_pair.get(&key_fwd) {
            (n, Direction::ToServer)
        } else if let Some(&n) = by_pair.get(&key_rev) {
            (n, Direction::ToClient)
        } else {
            // Mid-stream start: take the first sender as the client.
            let number = cap.connections.len() + 1;
            cap.connections.push(Connection {
                number,
                client: seg.src,
                server: seg.dst,
                client_role: None,
                server_role: None,
            });
            by_pair.insert(key_fwd, number);
            (number, Direction::ToServer)
        };
        let half = halves.entry((conn, dir)).or_default();
        if seg.syn {
            half.next_seq = Some(seg.seq.wrapping_add(1));
        }
        if !seg.payload.is_empty() {
            let next = *half.next_seq.get_or_insert(seg.seq);
            let mut out = Vec::new();
            absorb(half, next, seg.seq, seg.payload, &mut out);
            if !out.is_empty() {
                cap.items.push(Item::Bytes {
                    t: seg.t,
                    conn,
                    dir,
                    data: out,
                });
            }
        }
        if seg.fin || seg.rst {
            let how = if seg.rst { "RST" } else { "FIN" };
            cap.items.push(Item::Close {
                t: seg.t,
                conn,
                dir,
                how: how.into(),
            });
        }
    }
    cap
}

/// Put a segment into a half stream and move every now-contiguous byte to `out`.
fn absorb(half: &mut HalfStream, mut next: u32, seq: u32, payload: Vec<u8>, out: &mut Vec<u8>) {
    half.pending.insert(seq, payload);
    loop {
        // Find a pending segment that covers `next`.
        let mut used = None;
        for (&s, p) in &half.pending {
            let start = next.wrapping_sub(s) as usize;
            let behind = (next.wrapping_sub(s) as i32) >= 0;
            if behind && start <= p.len() {
                used = Some(s);
                if start < p.len() {
                    out.extend_from_slice(&p[start..]);
                    next = next.wrapping_add((p.len() - start) as u32);
                }
                break;
            }
        }
        match used {
            Some(s) => {
                half.pending.remove(&s);
            }
            None => break,
        }
    }
    half.next_seq = Some(next);
    // Drop anything entirely behind `next` (retransmissions).
    half.pending
        .retain(|&s, p| (s.wrapping_add(p.len() as u32).wrapping_sub(next) as i32) > 0);
}
