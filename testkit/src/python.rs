//! The Python interpreter of the interop tests, with `python-bareos` (an independent
//! implementation of the Bareos client side, connect.md §7.4) and `sslpsk3` (TLS 1.2 PSK as
//! python-bareos uses it) importable.
//!
//! `scripts/setup` makes one venv for every Python interop test and names its interpreter in
//! `BARQUE_PYTHON`; without it (a bare `cargo test`) the first caller creates a venv under the
//! calling test's `CARGO_TARGET_TMPDIR` and installs both packages from PyPI with pip. If
//! that fails (no network, no compiler for sslpsk3) the caller **fails** with pip's output:
//! nothing is skipped silently.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Name of the venv directory made under the target tmpdir.
pub const VENV_DIR: &str = "python-bareos-venv";

fn ready(py: &Path) -> bool {
    Command::new(py)
        .args(["-c", "import bareos.bsock, sslpsk3"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Create (if needed) the venv at `dir` with python-bareos and sslpsk3; returns its
/// interpreter.
fn make_venv(dir: &Path) -> Result<PathBuf, String> {
    let py = dir.join("bin/python");
    if ready(&py) {
        return Ok(py);
    }
    let out = Command::new("python3")
        .args(["-m", "venv"])
        .arg(dir)
        .output()
        .map_err(|e| format!("cannot run python3 -m venv: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "python3 -m venv failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let out = Command::new(dir.join("bin/pip"))
        .args([
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "python-bareos",
            "sslpsk3",
        ])
        .output()
        .map_err(|e| format!("cannot run pip: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "pip install python-bareos sslpsk3 failed (needs PyPI access and a C compiler \
             with libssl-dev and the Python headers for sslpsk3):\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    if ready(&py) {
        Ok(py)
    } else {
        Err("python-bareos/sslpsk3 installed but do not import".into())
    }
}

/// The interpreter path: `$BARQUE_PYTHON` if set (it must import `bareos.bsock` and
/// `sslpsk3`), else `<target_tmpdir>/python-bareos-venv/bin/python`, created on first use.
/// Pass the calling test's `env!("CARGO_TARGET_TMPDIR")` (only integration tests have it).
///
/// Computed once per test binary. Panics (fails the test) when no such interpreter can be
/// had.
pub fn python_bareos(target_tmpdir: &str) -> &'static Path {
    static PY: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let r = PY.get_or_init(|| match std::env::var_os("BARQUE_PYTHON") {
        Some(py) => {
            let py = PathBuf::from(py);
            if ready(&py) {
                Ok(py)
            } else {
                Err(format!(
                    "BARQUE_PYTHON={} cannot import bareos.bsock and sslpsk3",
                    py.display()
                ))
            }
        }
        None => make_venv(&Path::new(target_tmpdir).join(VENV_DIR)),
    });
    match r {
        Ok(p) => p,
        Err(e) => panic!("python-bareos test environment: {e}"),
    }
}
