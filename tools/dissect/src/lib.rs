//! # barque-dissect: Bareos captures decoded by fd-core
//!
//! Reads a pcap (tcpdump of Bareos daemons) or a JSON Lines transcript from
//! `../shared/vectors/`, cuts it into bsock frames with fd-core's incremental decoder, and
//! decodes every frame with fd-core's typed codecs, following each connection's state (hello,
//! CRAM-MD5, daemon greeting, then the command set of that connection type). It is the first
//! debugging tool for interop: a message fd-core cannot decode is printed as an error.
//!
//! The same code is the fixture test of fd-core: `tests/fixtures.rs` runs it over every capture
//! and requires that every message decodes and that every message our side would send
//! re-emits byte for byte.

pub mod capture;
pub mod frames;
pub mod jsonl;
pub mod pcap;

use std::path::Path;

pub use capture::{Capture, Connection, Direction, ReadError};
pub use frames::{Body, Message};

/// Load a capture: a `.pcap` file, a `.jsonl` transcript, or a capture directory (its pcap).
pub fn load(path: &Path) -> Result<Capture, ReadError> {
    let src = path.display().to_string();
    let path = if path.is_dir() {
        let pcap = std::fs::read_dir(path)
            .map_err(|e| ReadError {
                source: src.clone(),
                what: e.to_string(),
            })?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.extension().is_some_and(|x| x == "pcap"));
        match pcap {
            Some(p) => p,
            None => path.join("transcript.jsonl"),
        }
    } else {
        path.to_path_buf()
    };
    let src = path.display().to_string();
    let data = std::fs::read(&path).map_err(|e| ReadError {
        source: src.clone(),
        what: format!("cannot read: {e}"),
    })?;
    if path.extension().is_some_and(|x| x == "jsonl") {
        let text = String::from_utf8(data).map_err(|_| ReadError {
            source: src.clone(),
            what: "transcript is not UTF-8".into(),
        })?;
        jsonl::parse(&text, &src)
    } else {
        pcap::parse(&data, &src)
    }
}

/// Counts from one [`report`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Summary {
    /// Messages printed.
    pub messages: usize,
    /// Messages that did not decode.
    pub errors: usize,
}

/// Print every message of the capture at `path`.
pub fn report(path: &Path, out: &mut dyn std::io::Write) -> Result<Summary, ReadError> {
    let cap = load(path)?;
    let src = path.display().to_string();
    let msgs = frames::messages(&cap, &src)?;
    let io = |e: std::io::Error| ReadError {
        source: src.clone(),
        what: format!("output: {e}"),
    };
    let mut summary = Summary::default();
    let mut last_conn = 0;
    for m in &msgs {
        let Some(conn) = cap.connection(m.conn) else {
            continue;
        };
        if m.conn != last_conn {
            writeln!(
                out,
                "=== conn {}: {} -> {}",
                conn.number, conn.client, conn.server
            )
            .map_err(io)?;
            last_conn = m.conn;
        }
        let line = match &m.body {
            Body::Data { payload, .. } => format!("data len={}", payload.len()),
            Body::Signal(s) => format!("signal {}", s.name()),
            Body::Tls { kind, body } => format!("tls {kind} len={}", body.len()),
            Body::Close(how) => format!("close {how}"),
        };
        writeln!(
            out,
            "{:4} +{:.6} {} {}",
            m.index,
            m.t,
            conn.arrow(m.dir),
            line
        )
        .map_err(io)?;
        summary.messages += 1;
    }
    Ok(summary)
}
