//! python-bareos (an independent client implementation, connect.md §7.4) against
//! barque-dir: `DirectorConsole` and `DirectorConsoleJson`, cleartext and TLS-PSK
//! (python-bareos with `sslpsk3` does TLS 1.2), the default console and named consoles.
//!
//! The interpreter is `$BARQUE_PYTHON` (scripts/setup's shared venv); without it the test
//! creates a virtualenv under `target/tmp/python-bareos-venv` and installs `python-bareos`
//! and `sslpsk3` with pip (`barque_testkit::python`). If that fails the tests
//! **fail** with pip's output: nothing is skipped.

mod support;

use std::path::Path;

use support::*;

/// The python-bareos/sslpsk3 interpreter (barque-testkit: `$BARQUE_PYTHON` or a venv under
/// the target tmpdir; fails, never skips).
fn python() -> &'static Path {
    barque_testkit::python::python_bareos(env!("CARGO_TARGET_TMPDIR"))
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
