//! Interoperability with the `openssl` command-line tools, which share nothing with our code
//! but the library: our accept against `openssl s_client -psk`, our connect against
//! `openssl s_server -psk`, TLS 1.3 and TLS 1.2. The PSK identity contains the byte 0x1E and is
//! passed to the tools as a raw argument byte. The Bareos frames inside the tunnel are driven
//! by the test through the tools' stdin/stdout.

mod support;

use std::process::Stdio;
use std::time::Duration;

use barque_common::conn::{HandshakeMode, Local, Outbound};
use barque_common::tls::TlsSettings;
use fd_core::wire::base64::Variant;
use fd_core::wire::bnet::Frame;
use fd_core::wire::cram_md5::{self, ChallengeRepr, Response, Token};
use fd_core::wire::psk::ResourceType;
use support::*;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};

const DIR_ID: &[u8] = b"R_DIRECTOR\x1ebareos-dir";

fn os(b: &[u8]) -> std::ffi::OsString {
    use std::os::unix::ffi::OsStrExt;
    std::ffi::OsStr::from_bytes(b).to_os_string()
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

async fn s_client(port: u16, tls12: bool) -> Child {
    let mut cmd = Command::new("openssl");
    cmd.arg("s_client")
        .arg("-connect")
        .arg(format!("127.0.0.1:{port}"))
        .arg("-psk")
        .arg(hex(key(FD_PW).as_bytes()))
        .arg("-psk_identity")
        .arg(os(DIR_ID))
        .arg("-quiet");
    if tls12 {
        cmd.arg("-tls1_2");
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("openssl s_client must be installed (apt-get install openssl)")
}

async fn our_accept_with_s_client(tls12: bool) {
    let fd = Local::new(ResourceType::Client, "bareos-fd", TlsSettings::default());
    let dirp = peer(
        ResourceType::Director,
        "bareos-dir",
        key(FD_PW),
        TlsSettings::default(),
    );
    let (port, h) = spawn_accept(fd, lookup(vec![dirp]), opts()).await;
    let mut child = s_client(port, tls12).await;
    let mut w = child.stdin.take().expect("stdin");
    let mut r = child.stdout.take().expect("stdout");
    // The test is the Director, speaking through s_client's pipes.
    let step = async {
        write_frame(
            &mut w,
            b"Hello Director bareos-dir calling Version=\"26.0.0\"\n",
        )
        .await;
        let ch = read_frame(&mut r).await.expect("challenge");
        let chr = ChallengeRepr::parse(&ch).expect("challenge parses");
        assert_eq!(
            Token::parse(chr.token).expect("tok").name(),
            b"R_CLIENT::bareos-fd"
        );
        let resp = Response::compute(key(FD_PW).as_bytes(), chr.token, Variant::Bacula);
        let mut out = resp.as_bytes().to_vec();
        out.push(0);
        write_frame(&mut w, &out).await;
        assert_eq!(read_frame(&mut r).await.expect("ok"), b"1000 OK auth\n");
        let token = b"<12345.1795362414@R_DIRECTOR::bareos-dir>";
        let mut challenge = b"auth cram-md5 ".to_vec();
        challenge.extend_from_slice(token);
        challenge.extend_from_slice(b" ssl=2\n");
        write_frame(&mut w, &challenge).await;
        let answer = read_frame(&mut r).await.expect("answer");
        assert!(cram_md5::verify(
            &answer,
            key(FD_PW).as_bytes(),
            token,
            Variant::Bacula
        ));
        write_frame(&mut w, b"1000 OK auth\n").await;
    };
    tokio::time::timeout(Duration::from_secs(20), step)
        .await
        .expect("s_client exchange timed out");
    let (ident, mut conn) = h.await.expect("join").expect("accept");
    let t = ident.tls.expect("tls");
    // The identity was recorded in the server callback even on TLS 1.3.
    assert_eq!(t.psk_identity.as_deref(), Some(DIR_ID));
    if tls12 {
        assert_eq!(t.version, "TLSv1.2");
        assert!(t.cipher.contains("PSK"), "{}", t.cipher);
    } else {
        assert_eq!(t.version, "TLSv1.3");
        assert_eq!(t.cipher, "TLS_CHACHA20_POLY1305_SHA256");
    }
    conn.send(b"2000 OK Hello 54\n").await.expect("send");
    assert_eq!(
        read_frame(&mut r).await.expect("daemon ok"),
        b"2000 OK Hello 54\n"
    );
    let _ = child.kill().await;
}

#[tokio::test]
async fn our_accept_with_openssl_s_client_tls13() {
    our_accept_with_s_client(false).await;
}

#[tokio::test]
async fn our_accept_with_openssl_s_client_tls12() {
    our_accept_with_s_client(true).await;
}

fn s_server(port: u16, tls12: bool, quiet: bool, identity: &[u8]) -> Child {
    let mut cmd = Command::new("openssl");
    cmd.arg("s_server")
        .arg("-accept")
        .arg(port.to_string())
        .arg("-nocert")
        .arg("-psk")
        .arg(hex(key(FD_PW).as_bytes()))
        .arg("-psk_identity")
        .arg(os(identity))
        .arg("-naccept")
        .arg("1");
    if tls12 {
        cmd.arg("-tls1_2");
    }
    if quiet {
        cmd.arg("-quiet");
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("openssl s_server must be installed (apt-get install openssl)")
}

/// Our connect (Director -> FD, TLS-first) against s_server: the whole CRAM-MD5 exchange
/// driven through s_server's pipes (quiet mode: stdout carries only the tunnel's bytes).
async fn our_connect_with_s_server(tls12: bool) {
    let port = free_port();
    // A probe connection would use up s_server's single accept (-naccept 1): retry our
    // connect until the port is up instead.
    let mut child = s_server(port, tls12, true, DIR_ID);
    let mut w = child.stdin.take().expect("stdin");
    let mut r = child.stdout.take().expect("stdout");
    let fd_side = tokio::spawn(async move {
        let hello = read_frame(&mut r).await.expect("hello");
        assert_eq!(
            hello,
            b"Hello Director bareos-dir calling Version=\"26.0.0\"\n"
        );
        let token = b"<264409646.1795362414@R_CLIENT::bareos-fd>";
        let mut ch = b"auth cram-md5 ".to_vec();
        ch.extend_from_slice(token);
        ch.extend_from_slice(b" ssl=2\n");
        write_frame(&mut w, &ch).await;
        // vectors/clear-backup-full conn 3 msg 3: same key, same token, same answer.
        assert_eq!(
            read_frame(&mut r).await.expect("resp"),
            b"K2Jps1+HVQ/70mxEb+/EbB\0"
        );
        write_frame(&mut w, b"1000 OK auth\n").await;
        let ch = read_frame(&mut r).await.expect("challenge");
        let chr = ChallengeRepr::parse(&ch).expect("parse");
        let resp = Response::compute(key(FD_PW).as_bytes(), chr.token, Variant::Bacula);
        let mut out = resp.as_bytes().to_vec();
        out.push(0);
        write_frame(&mut w, &out).await;
        assert_eq!(read_frame(&mut r).await.expect("ok"), b"1000 OK auth\n");
        write_frame(&mut w, b"2000 OK Hello 54\n").await;
        (w, r)
    });
    let dir = Local::new(ResourceType::Director, "bareos-dir", TlsSettings::default());
    let p = peer(
        ResourceType::Client,
        "bareos-fd",
        key(FD_PW),
        TlsSettings::default(),
    );
    let mut conn = None;
    for _ in 0..200 {
        match dial(
            &dir,
            p.clone(),
            port,
            &Outbound::DirectorToFd,
            HandshakeMode::TlsFirst,
        )
        .await
        {
            Ok(c) => {
                conn = Some(c);
                break;
            }
            Err(e) if e.kind == barque_common::error::ErrorKind::Unreachable => {
                tokio::time::sleep(Duration::from_millis(25)).await
            }
            Err(e) => panic!("connect to s_server: {e}"),
        }
    }
    let mut conn = conn.expect("s_server never came up");
    match conn.recv().await.expect("daemon ok") {
        Frame::Data(d) => assert_eq!(d, b"2000 OK Hello 54\n"),
        other => panic!("{other:?}"),
    }
    let t = conn.tls().expect("tls").clone();
    if tls12 {
        assert_eq!(t.version, "TLSv1.2");
    } else {
        assert_eq!(t.version, "TLSv1.3");
        assert_eq!(t.cipher, "TLS_CHACHA20_POLY1305_SHA256");
    }
    let _ = fd_side.await.expect("fd side");
    let _ = child.kill().await;
}

#[tokio::test]
async fn our_connect_with_openssl_s_server_tls13() {
    our_connect_with_s_server(false).await;
}

#[tokio::test]
async fn our_connect_with_openssl_s_server_tls12() {
    our_connect_with_s_server(true).await;
}

/// Non-quiet s_server reports the identity check: with the identity containing 0x1E it must
/// not print "PSK warning" (TLS 1.2 legacy callback) and must accept the TLS 1.3 PSK; with a
/// different expected identity, TLS 1.3 fails and TLS 1.2 warns.
async fn s_server_sees_identity(tls12: bool, expected: &[u8]) -> (bool, String) {
    let port = free_port();
    let mut child = s_server(port, tls12, false, expected);
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    // Wait for ACCEPT before connecting (naccept 1: do not probe the port).
    let mut line = String::new();
    loop {
        line.clear();
        let n = tokio::time::timeout(Duration::from_secs(10), out.read_line(&mut line))
            .await
            .expect("s_server start timed out")
            .expect("read");
        assert!(n > 0, "s_server exited before ACCEPT");
        if line.starts_with("ACCEPT") {
            break;
        }
    }
    let dir = Local::new(ResourceType::Director, "bareos-dir", TlsSettings::default());
    let p = peer(
        ResourceType::Client,
        "bareos-fd",
        key(FD_PW),
        TlsSettings::default(),
    );
    let quick = barque_common::conn::ConnOptions {
        handshake_timeout: Duration::from_secs(2),
        ..opts()
    };
    let mut pp = p.clone();
    pp.port = port;
    let res = barque_common::conn::connect(
        &dir,
        &pp,
        &Outbound::DirectorToFd,
        HandshakeMode::TlsFirst,
        &quick,
    )
    .await;
    // Our connect waits for a challenge that never comes when TLS worked: Timeout means the
    // TLS handshake succeeded and the hello went out.
    let tls_ok = match &res {
        Err(e) => e.kind == barque_common::error::ErrorKind::Timeout,
        Ok(_) => true,
    };
    let _ = child.kill().await;
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), out.read_to_end(&mut rest)).await;
    (tls_ok, String::from_utf8_lossy(&rest).into_owned())
}

#[tokio::test]
async fn s_server_receives_identity_with_record_separator() {
    // TLS 1.3: s_server's find-session callback compares the identity byte for byte.
    let (ok, out) = s_server_sees_identity(false, DIR_ID).await;
    assert!(ok, "TLS 1.3 with the right identity must work: {out}");
    assert!(out.contains("Hello Director bareos-dir calling"), "{out}");
    let (ok, _) = s_server_sees_identity(false, b"R_DIRECTOR\x1eother-dir").await;
    assert!(!ok, "TLS 1.3 with another identity must fail");
    // TLS 1.2: the legacy callback only warns on a mismatch.
    let (ok, out) = s_server_sees_identity(true, DIR_ID).await;
    assert!(ok, "{out}");
    assert!(!out.contains("PSK warning"), "{out}");
    let (_, out) = s_server_sees_identity(true, b"R_DIRECTOR\x1eother-dir").await;
    assert!(out.contains("PSK warning"), "{out}");
}

#[test]
fn hex_helper() {
    assert_eq!(hex(b"R_\x1e"), "525f1e");
}
