//! Reading the captures in /work/shared/vectors (`transcript.jsonl`), through
//! barque-testkit's reader.
#![allow(dead_code)]

use super::harness::Got;
use fd_core::wire::bnet::Signal;

/// `$BARQUE_VECTORS` or `../shared/vectors` (barque-testkit).
pub fn vectors() -> std::path::PathBuf {
    barque_testkit::vectors()
}

#[derive(Debug, Clone)]
pub struct CapMsg {
    pub i: u32,
    pub from_client: bool,
    pub got: Got,
}

/// The messages of one connection; `from_client` = sent by the connecting side.
pub fn capture(name: &str, conn: u32) -> Vec<CapMsg> {
    let client = barque_testkit::transcript::conn(name, conn).client_role;
    let out: Vec<CapMsg> = barque_testkit::transcript::messages(name, conn)
        .into_iter()
        .map(|m| {
            assert!(!m.truncated(), "truncated payload");
            CapMsg {
                i: m.i,
                from_client: m.from() == client,
                got: match m.signal_code() {
                    Some(code) => Got::Sig(Signal::from_code(code)),
                    None => Got::Data(m.data),
                },
            }
        })
        .collect();
    assert!(!out.is_empty(), "no messages for {name} conn {conn}");
    out
}
