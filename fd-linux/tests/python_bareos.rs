//! python-bareos (`bareos.bsock.FileDaemon`, an independent implementation of the Director
//! side) connects to barque-fd, in cleartext and over TLS-PSK, and reads `status`.

mod support;

use support::*;

fn status_case(tls: bool) {
    let fd = start(&config_text(tls), |_| {});
    let (ok, out) = python_status(fd.port, tls, FD_PW, "bareos-dir");
    assert!(ok, "{out}");
    assert!(out.contains("\"ok\": true"), "{out}");
    // The status header fd-core produces (`bareos-fd Version: …`), with our version text.
    assert!(
        out.contains("bareos-fd Version: 26.0.0~barque"),
        "status header missing: {out}"
    );
    assert!(out.contains("Running Jobs:"), "{out}");
    if tls {
        assert!(out.contains("TLSv1.2") || out.contains("TLSv1.3"), "{out}");
    }
    // The daemon keeps serving: a second status works too.
    let (ok2, out2) = python_status(fd.port, tls, FD_PW, "bareos-dir");
    assert!(ok2, "{out2}");
}

#[test]
fn python_bareos_status_cleartext() {
    status_case(false);
}

#[test]
fn python_bareos_status_tls_psk() {
    status_case(true);
}

#[test]
fn python_bareos_wrong_password_is_refused_and_daemon_keeps_serving() {
    for tls in [false, true] {
        let fd = start(&config_text(tls), |_| {});
        let (ok, out) = python_status(fd.port, tls, "not-the-password", "bareos-dir");
        assert!(!ok, "wrong password accepted: {out}");
        let (ok, out) = python_status(fd.port, tls, FD_PW, "unknown-dir");
        assert!(!ok, "unknown Director accepted: {out}");
        let (ok, out) = python_status(fd.port, tls, FD_PW, "bareos-dir");
        assert!(ok, "daemon stopped serving after refusals: {out}");
    }
}

#[test]
fn cleartext_hello_is_refused_when_tls_is_enabled_for_the_director() {
    let fd = start(&config_text(true), |_| {});
    let (ok, out) = python_status(fd.port, false, FD_PW, "bareos-dir");
    assert!(!ok, "cleartext accepted although TLS is enabled: {out}");
}
