//! python-bareos (an independent implementation of the Bareos client side, see connect.md
//! §7.4) against our accept: as a console (`DirectorConsole`) logging in to a minimal
//! Director loop, and as a Director (`FileDaemon`) talking to a minimal FD loop, in cleartext
//! and over TLS-PSK (python-bareos with `sslpsk3` on Python < 3.13 does TLS 1.2 only).
//!
//! The interpreter is `$BARQUE_PYTHON` or a virtualenv made under `target/tmp/python-bareos-venv`
//! with `python-bareos` and `sslpsk3` from PyPI (`barque_testkit::python`). If that fails (no
//! network, no compiler for sslpsk3), the tests **fail** with the pip output: nothing is
//! skipped silently.

mod support;

use std::path::Path;

use barque_common::conn::{accept, Local};
use barque_common::tls::TlsSettings;
use fd_core::wire::bnet::{Frame, Signal};
use fd_core::wire::psk::ResourceType;
use support::*;
use tokio::net::TcpListener;

/// The python-bareos/sslpsk3 interpreter (barque-testkit: `$BARQUE_PYTHON` or a venv under
/// the target tmpdir; fails, never skips).
fn python() -> &'static Path {
    barque_testkit::python::python_bareos(env!("CARGO_TARGET_TMPDIR"))
}

async fn run_peer(role: &str, port: u16, tls: bool, password: &str, name: &str) -> String {
    let py = python();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/peer.py");
    let out = tokio::process::Command::new(py)
        .arg(script)
        .args([
            role,
            &port.to_string(),
            if tls { "tls" } else { "clear" },
            password,
            name,
        ])
        .output()
        .await
        .expect("run python peer");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "python-bareos {role} failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// A minimal Director: authenticate, greet as Bareos ≥ 18.2 does, answer commands.
async fn director_once(l: TcpListener, tls: TlsSettings) -> Option<String> {
    let (tcp, _) = l.accept().await.expect("accept");
    let local = Local::new(ResourceType::Director, "bareos-dir", TlsSettings::default());
    let con = peer(ResourceType::Console, "*UserAgent*", key(CONSOLE_PW), tls);
    let (ident, mut c) = accept(tcp, &local, lookup(vec![con]), &opts())
        .await
        .expect("accept python console");
    assert_eq!(ident.name, "*UserAgent*");
    // connect.md §7.2: 1000 RS OK banner, then 1002 RS info, no newlines.
    c.send(b"1000\x1eOK: bareos-dir Version: 26.0.0~barque (22 November 2026)")
        .await
        .expect("send");
    c.send(b"1002\x1eBarque test Director\nYou are connected using the default console")
        .await
        .expect("send");
    loop {
        let cmd = match c.recv().await {
            Ok(Frame::Data(d)) => d.to_vec(),
            _ => break,
        };
        if cmd == b"version" {
            c.send(b"bareos-dir Version: 26.0.0~barque (22 November 2026)\n")
                .await
                .expect("send");
        }
        c.signal(Signal::Eod).await.expect("eod");
    }
    ident.tls.map(|t| t.version)
}

/// A minimal FD: authenticate, `2000 OK Hello 54`, answer `status`.
async fn fd_once(l: TcpListener, tls: TlsSettings) -> Option<(String, Option<Vec<u8>>)> {
    let (tcp, _) = l.accept().await.expect("accept");
    let local = Local::new(ResourceType::Client, "bareos-fd", TlsSettings::default());
    let dirp = peer(ResourceType::Director, "bareos-dir", key(FD_PW), tls);
    let (ident, mut c) = accept(tcp, &local, lookup(vec![dirp]), &opts())
        .await
        .expect("accept python director");
    assert_eq!(ident.name, "bareos-dir");
    c.send(b"2000 OK Hello 54\n").await.expect("send");
    if let Ok(Frame::Data(d)) = c.recv().await {
        assert_eq!(d, b"status");
        c.send(b"bareos-fd Version: 26.0.0~barque (22 November 2026)\n")
            .await
            .expect("send");
        c.signal(Signal::Eod).await.expect("eod");
    }
    let _ = c.recv().await;
    ident.tls.map(|t| (t.version, t.psk_identity))
}

async fn console_case(tls: bool) {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = l.local_addr().expect("addr").port();
    let settings = if tls {
        TlsSettings::default()
    } else {
        TlsSettings::disabled()
    };
    let server = tokio::spawn(director_once(l, settings));
    let out = run_peer("console", port, tls, CONSOLE_PW, "*UserAgent*").await;
    assert!(out.contains("\"ok\": true"), "{out}");
    assert!(out.contains("bareos-dir Version: 26.0.0~barque"), "{out}");
    let v = server.await.expect("director");
    if tls {
        assert_eq!(v.as_deref(), Some("TLSv1.2"));
        assert!(out.contains("TLSv1.2"), "{out}");
    } else {
        assert_eq!(v, None);
    }
}

async fn fd_case(tls: bool) {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = l.local_addr().expect("addr").port();
    let settings = if tls {
        TlsSettings::default()
    } else {
        TlsSettings::disabled()
    };
    let server = tokio::spawn(fd_once(l, settings));
    let out = run_peer("fd", port, tls, FD_PW, "bareos-dir").await;
    assert!(out.contains("\"ok\": true"), "{out}");
    assert!(out.contains("bareos-fd Version: 26.0.0~barque"), "{out}");
    let t = server.await.expect("fd");
    if tls {
        let (v, id) = t.expect("tls");
        assert_eq!(v, "TLSv1.2");
        assert_eq!(id.as_deref(), Some(&b"R_DIRECTOR\x1ebareos-dir"[..]));
    } else {
        assert!(t.is_none());
    }
}

#[tokio::test]
async fn python_bareos_console_cleartext() {
    console_case(false).await;
}

#[tokio::test]
async fn python_bareos_console_tls_psk() {
    console_case(true).await;
}

#[tokio::test]
async fn python_bareos_filedaemon_cleartext() {
    fd_case(false).await;
}

#[tokio::test]
async fn python_bareos_filedaemon_tls_psk() {
    fd_case(true).await;
}

#[tokio::test]
async fn python_bareos_wrong_password_is_refused() {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = l.local_addr().expect("addr").port();
    let server = tokio::spawn(async move {
        let (tcp, _) = l.accept().await.expect("accept");
        let local = Local::new(ResourceType::Client, "bareos-fd", TlsSettings::default());
        let dirp = peer(
            ResourceType::Director,
            "bareos-dir",
            key(FD_PW),
            TlsSettings::disabled(),
        );
        accept(tcp, &local, lookup(vec![dirp]), &opts()).await
    });
    let py = python();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/peer.py");
    let out = tokio::process::Command::new(py)
        .arg(script)
        .args([
            "fd",
            &port.to_string(),
            "clear",
            "not-the-password",
            "bareos-dir",
        ])
        .output()
        .await
        .expect("run");
    assert!(!out.status.success());
    let e = server.await.expect("join").expect_err("must refuse");
    assert_eq!(e.kind, barque_common::error::ErrorKind::AuthFailed, "{e}");
}
