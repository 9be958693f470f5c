//! Test-only support shared by the Barque crates' tests: where the reference captures are
//! ([`vectors`]), a reader for their `transcript.jsonl` ([`transcript`]), the
//! python-bareos/sslpsk3 interpreter of the Python interop tests ([`python`]), and in-memory
//! pipes with a round-robin executor for sans-IO session tests ([`pipe`]), and test
//! certificates made with the `openssl` command ([`certs`]).
//!
//! This crate is a dev-dependency only. It depends on nothing in the workspace (not even
//! fd-core; only on `embedded-io-async`), so every crate, fd-core included, can use it in its
//! tests without a dependency cycle; callers turn the raw values (signal codes, payload bytes) into their own types.
//! Being test code, its functions panic with a message naming the file when something is
//! missing: a missing capture or interpreter is a test failure, never a skip.

use std::path::PathBuf;

pub mod certs;
pub mod pipe;
pub mod proc_cpu;
pub mod python;
pub mod transcript;

/// The reference captures: `$BARQUE_VECTORS`, else `../shared/vectors` next to the checkout
/// (the workspace root's sibling `shared/vectors`).
pub fn vectors() -> PathBuf {
    std::env::var_os("BARQUE_VECTORS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/vectors"))
        })
}

#[cfg(test)]
mod tests {
    #[test]
    fn vectors_dir_holds_the_captures() {
        let v = super::vectors();
        assert!(
            v.join("README.md").is_file(),
            "{} has no README.md",
            v.display()
        );
    }
}
