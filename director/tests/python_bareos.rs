//! python-bareos (an independent client implementation, connect.md §7.4) against
//! barque-dir: `DirectorConsole` and `DirectorConsoleJson`, cleartext and TLS-PSK
//! (python-bareos with `sslpsk3` does TLS 1.2), the default console and named consoles.
//!
//! The interpreter is `$BARQUE_PYTHON` (scripts/setup's shared venv); without it the test
//! creates a virtualenv under `target/tmp/python-bareos-venv` and installs `python-bareos`
//! and `sslpsk3` with pip, as common/tests/python_bareos.rs does. If that fails the tests
//! **fail** with pip's output: nothing is skipped.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use support::*;

fn python() -> &'static Path {
    static PY: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let r = PY.get_or_init(|| {
        let ready = |py: &Path| {
            Command::new(py)
                .args(["-c", "import bareos.bsock, sslpsk3"])
                .output()
                .map(|o| o.status.success())
                .unwrap_or(false)
        };
        if let Some(py) = std::env::var_os("BARQUE_PYTHON") {
            let py = PathBuf::from(py);
            return if ready(&py) {
                Ok(py)
            } else {
                Err(format!(
                    "BARQUE_PYTHON={} cannot import bareos.bsock and sslpsk3",
                    py.display()
                ))
            };
        }
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("python-bareos-venv");
        let py = dir.join("bin/python");
        if ready(&py) {
            return Ok(py);
        }
        let out = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&dir)
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
    });
    match r {
        Ok(p) => p,
        Err(e) => panic!("python-bareos test environment: {e}"),
    }
}

/// Run the python console; returns (success, stdout).
async fn py(port: u16, tls: bool, name: &str, password: &str, scenario: &str) -> (bool, String) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/console.py");
    let out = tokio::process::Command::new(python())
        .arg(script)
        .args([
            port.to_string().as_str(),
            if tls { "tls" } else { "clear" },
            name,
            password,
            scenario,
        ])
        .output()
        .await
        .expect("run python console");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.success(), format!("{stdout}\n{stderr}"))
}

async fn scenarios(variant: Variant) {
    let d = start(variant).await;
    let tls = variant == Variant::Psk;

    let (ok, out) = py(d.port, tls, "-", CONSOLE_PW, "plain").await;
    assert!(ok, "{out}");
    assert!(out.contains("\"status\": \"bareos-dir Version: "), "{out}");
    assert!(out.contains("\\nRunning Jobs:\\n"), "{out}");
    assert!(
        out.contains("\"invalid\": \"frobnicate: is an invalid command.\\n\""),
        "{out}"
    );
    if tls {
        assert!(out.contains("\"tls\": \"TLSv1.2\""), "{out}");
    }

    let (ok, out) = py(d.port, tls, "-", CONSOLE_PW, "json").await;
    assert!(ok, "{out}");
    assert!(
        out.contains("\"version\": {\"version\": {\"name\": \"bareos-dir\""),
        "{out}"
    );
    assert!(
        out.contains("\"header\": {\"director\": \"bareos-dir\""),
        "{out}"
    );
    assert!(
        out.contains("\"clients\": {\"clients\": [{\"name\": \"bareos-fd\", \"enabled\": true}]}"),
        "{out}"
    );

    let (ok, out) = py(d.port, tls, "limited", LIMITED_PW, "refused").await;
    assert!(ok, "{out}");
    assert!(out.contains("run: is an invalid command."), "{out}");

    let (ok, out) = py(d.port, tls, "ref-admin", ADMIN_PW, "json").await;
    assert!(ok, "{out}");

    let (ok, out) = py(d.port, tls, "-", "wrong-password", "login").await;
    assert!(!ok, "a wrong password must be refused: {out}");
    assert!(out.contains("\"ok\": false"), "{out}");

    // The Director is still there.
    let (ok, out) = py(d.port, tls, "-", CONSOLE_PW, "plain").await;
    assert!(ok, "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_bareos_cleartext() {
    scenarios(Variant::Clear).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_bareos_tls_psk() {
    scenarios(Variant::Psk).await;
}
