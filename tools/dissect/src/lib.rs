//! # barque-dissect: Bareos captures decoded by fd-core
//!
//! Reads a pcap (tcpdump of Bareos daemons) or a JSON Lines transcript from
//! `../shared/vectors/`, cuts it into bsock frames with fd-core's incremental decoder
//! ([`frames`]), and decodes every frame with fd-core's typed codecs, following each
//! connection's state (hello, CRAM-MD5, daemon greeting, then the command set of that
//! connection type; see [`decode`] for the state machine). It is the first debugging tool for
//! interop: a message fd-core cannot decode, one that decodes to an `Unknown` value, and one
//! that fd-core does not re-emit byte for byte are printed with `!!`.
//!
//! - [`load`] reads a capture, [`dissect`] frames and decodes it connection by connection,
//!   [`report`] prints it (`barque-dissect <capture>` and `scripts/demo`);
//! - [`show`] turns decoded values into one-line human text.
//!
//! The same engine is fd-core's fixture test: `tests/fixtures.rs` runs it over every capture,
//! through both readers, and requires that every message decodes, that none holds an `Unknown`
//! arm, that every message our side would send re-emits byte for byte, and that the number of
//! messages of each family stays exactly what the capture set contains.

pub mod capture;
pub mod decode;
pub mod frames;
pub mod jsonl;
pub mod pcap;
pub mod show;

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
    /// Messages that did not decode (or are inconsistent).
    pub errors: usize,
    /// Messages whose decoded form holds an `Unknown` arm.
    pub unknown: usize,
    /// Messages re-emitted by fd-core byte for byte.
    pub reemitted: usize,
    /// Messages whose re-emitted bytes differ from the capture (or could not be emitted).
    pub reemit_failed: usize,
}

/// One message of a capture with its decoding.
#[derive(Debug, Clone)]
pub struct DecodedMessage {
    /// The framed message.
    pub message: Message,
    /// `from>to`.
    pub arrow: String,
    /// What fd-core made of it.
    pub decoded: decode::Decoded,
}

/// One connection of a capture, decoded.
#[derive(Debug, Clone)]
pub struct DecodedConnection {
    /// The TCP connection.
    pub connection: Connection,
    /// What the engine identified it as.
    pub kind: decode::ConnKind,
    /// The PSK identity of a TLS connection.
    pub psk_identity: Option<String>,
    /// Its messages, in order.
    pub messages: Vec<DecodedMessage>,
}

/// Frame and decode a whole capture, connection by connection.
pub fn dissect(cap: &Capture, src: &str) -> Result<Vec<DecodedConnection>, ReadError> {
    let msgs = frames::messages(cap, src)?;
    let mut engine = decode::Engine::new();
    let decoded: Vec<(Message, decode::Decoded)> = msgs
        .into_iter()
        .map(|m| {
            let d = engine.decode(&m);
            (m, d)
        })
        .collect();
    let mut out: Vec<DecodedConnection> = cap
        .connections
        .iter()
        .map(|c| DecodedConnection {
            connection: c.clone(),
            kind: engine.kind(c.number),
            psk_identity: engine.psk_identity(c.number).map(str::to_string),
            messages: Vec::new(),
        })
        .collect();
    for (m, d) in decoded {
        if let Some(c) = out.iter_mut().find(|c| c.connection.number == m.conn) {
            let arrow = engine.arrow(&c.connection, m.dir);
            c.messages.push(DecodedMessage {
                message: m,
                arrow,
                decoded: d,
            });
        }
    }
    Ok(out)
}

/// How [`report_with`] prints.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReportOptions {
    /// Print every field of every message instead of cutting long lines.
    pub full: bool,
}

/// Longest fields text per line unless [`ReportOptions::full`].
const FIELDS_SHOWN: usize = 150;

/// [`report_with`] with the default options.
pub fn report(path: &Path, out: &mut dyn std::io::Write) -> Result<Summary, ReadError> {
    report_with(path, out, ReportOptions::default())
}

/// Print every message of the capture at `path`: a list of the connections with their
/// identified types, then per connection a header and one line per message,
/// `<msg#> +<t> <from>><to> <TYPE> <fields>`, with decode errors, unknown values and re-emit
/// differences marked `!!`, and a final count.
pub fn report_with(
    path: &Path,
    out: &mut dyn std::io::Write,
    opts: ReportOptions,
) -> Result<Summary, ReadError> {
    let cap = load(path)?;
    let src = path.display().to_string();
    let conns = dissect(&cap, &src)?;
    let io = |e: std::io::Error| ReadError {
        source: src.clone(),
        what: format!("output: {e}"),
    };
    let mut summary = Summary::default();
    writeln!(
        out,
        "{src}: {} connection(s); line format: <msg#> +<seconds> <from>><to> <TYPE> <fields>",
        conns.len()
    )
    .map_err(io)?;
    for c in &conns {
        writeln!(
            out,
            "  conn {:2}: {:<4} {} messages, {}",
            c.connection.number,
            c.messages
                .first()
                .map(|m| m.arrow.split('>').next().unwrap_or("?").to_string())
                .unwrap_or_default(),
            c.messages.len(),
            c.kind.describe()
        )
        .map_err(io)?;
    }
    for c in &conns {
        let conn = &c.connection;
        let (cr, sr) = match c.messages.first() {
            Some(m) => {
                let mut it = m.arrow.split('>');
                let a = it.next().unwrap_or("?").to_string();
                let b = it.next().unwrap_or("?").to_string();
                if m.message.dir == Direction::ToServer {
                    (a, b)
                } else {
                    (b, a)
                }
            }
            None => ("?".into(), "?".into()),
        };
        writeln!(
            out,
            "\n=== conn {}: {} ({cr}) -> {} ({sr}): {}{}",
            conn.number,
            conn.client,
            conn.server,
            c.kind.describe(),
            c.psk_identity
                .as_deref()
                .map(|p| format!(", PSK identity {p}"))
                .unwrap_or_default()
        )
        .map_err(io)?;
        for dm in &c.messages {
            let d = &dm.decoded;
            let mut fields = d.fields.clone();
            if !opts.full && fields.chars().count() > FIELDS_SHOWN {
                fields = fields.chars().take(FIELDS_SHOWN).collect();
                fields.push_str(" …");
            }
            let mut line = format!(
                "{:4} +{:.6} {:<7} {} {}",
                dm.message.index, dm.message.t, dm.arrow, d.kind, fields
            );
            line.truncate(line.trim_end().len());
            if let Body::Data {
                truncated: true,
                len,
                ..
            } = dm.message.body
            {
                line.push_str(&format!(" [capture kept a prefix of {len} bytes]"));
            }
            match &d.reemit {
                decode::Reemit::Same => summary.reemitted += 1,
                decode::Reemit::NotApplicable => {}
                decode::Reemit::Differs(b) => {
                    summary.reemit_failed += 1;
                    line.push_str(&format!(
                        "\n     !! RE-EMIT DIFFERS: fd-core wrote {}",
                        show::bytes_str(b)
                    ));
                }
                decode::Reemit::Failed(e) => {
                    summary.reemit_failed += 1;
                    line.push_str(&format!("\n     !! RE-EMIT FAILED: {e}"));
                }
            }
            if let Some(e) = &d.error {
                summary.errors += 1;
                line.push_str(&format!("\n     !! DECODE ERROR: {e}"));
            }
            if d.unknown {
                summary.unknown += 1;
                line.push_str("\n     !! UNKNOWN value in this message");
            }
            writeln!(out, "{line}").map_err(io)?;
            summary.messages += 1;
        }
    }
    writeln!(
        out,
        "\n== {}: {} messages, {} re-emitted byte for byte by fd-core, {} re-emit mismatches, {} decode errors, {} with unknown values",
        src, summary.messages, summary.reemitted, summary.reemit_failed, summary.errors, summary.unknown
    )
    .map_err(io)?;
    Ok(summary)
}
