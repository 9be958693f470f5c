//! Reading the captures in /work/shared/vectors (`transcript.jsonl`).
#![allow(dead_code)]

use std::path::PathBuf;

use super::harness::Got;
use fd_core::wire::bnet::Signal;

pub fn vectors() -> PathBuf {
    std::env::var_os("BARQUE_VECTORS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/vectors"))
        })
}

fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let pat = format!("\"{key}\": ");
    let start = line.find(&pat)? + pat.len();
    let rest = &line[start..];
    if let Some(s) = rest.strip_prefix('"') {
        let end = s.find('"')?;
        Some(&s[..end])
    } else {
        let end = rest.find([',', '}']).unwrap_or(rest.len());
        Some(rest[..end].trim())
    }
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex"))
        .collect()
}

#[derive(Debug, Clone)]
pub struct CapMsg {
    pub i: u32,
    pub from_client: bool,
    pub got: Got,
}

/// The messages of one connection; `from_client` = sent by the connecting side.
pub fn capture(name: &str, conn: u32) -> Vec<CapMsg> {
    let path = vectors().join(name).join("transcript.jsonl");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut client = String::new();
    let mut out = Vec::new();
    let c = conn.to_string();
    for line in text.lines() {
        if field(line, "kind") == Some("conn") && field(line, "conn") == Some(&c) {
            client = field(line, "client_role").expect("role").to_owned();
        }
        if field(line, "kind") != Some("msg") || field(line, "conn") != Some(&c) {
            continue;
        }
        assert_ne!(field(line, "truncated"), Some("true"), "truncated payload");
        let dir = field(line, "dir").expect("dir");
        let len: i32 = field(line, "len").expect("len").parse().expect("len");
        let got = if len < 0 {
            Got::Sig(Signal::from_code(len))
        } else {
            Got::Data(unhex(field(line, "hex").unwrap_or("")))
        };
        out.push(CapMsg {
            i: field(line, "i").expect("i").parse().expect("i"),
            from_client: dir.starts_with(&format!("{client}>")),
            got,
        });
    }
    assert!(!out.is_empty(), "no messages for {name} conn {conn}");
    out
}
