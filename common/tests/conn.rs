//! Our connect against our accept for every connection type, cleartext and TLS-PSK, the
//! captured cleartext handshakes replayed byte for byte, the refusal matrix, and probing.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use barque_common::conn::{
    accept, connect_probing, ConnOptions, HandshakeMode, Local, Outbound, ProbeCache,
};
use barque_common::error::ErrorKind;
use barque_common::tls::{Key, TlsSettings};
use fd_core::wire::base64::Variant;
use fd_core::wire::bnet::{Frame, Signal};
use fd_core::wire::cram_md5::{ChallengeRepr, Response, Token};
use fd_core::wire::psk::ResourceType;
use support::*;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

struct Case {
    name: &'static str,
    out_local: Local,
    out_peer_kind: ResourceType,
    out_peer_name: &'static str,
    kind: Outbound,
    in_local: Local,
    in_peer_kind: ResourceType,
    in_peer_name: &'static str,
    key: Key,
    identity: Vec<u8>,
}

fn cases() -> Vec<Case> {
    let dir = |t: TlsSettings| Local::new(ResourceType::Director, "bareos-dir", t);
    let fd = |t: TlsSettings| Local::new(ResourceType::Client, "bareos-fd", t);
    let sd = |t: TlsSettings| Local::new(ResourceType::Storage, "bareos-sd", t);
    let con = |t: TlsSettings| Local::new(ResourceType::Console, "*UserAgent*", t);
    let t = TlsSettings::default;
    vec![
        Case {
            name: "Director -> FD",
            out_local: dir(t()),
            out_peer_kind: ResourceType::Client,
            out_peer_name: "bareos-fd",
            kind: Outbound::DirectorToFd,
            in_local: fd(t()),
            in_peer_kind: ResourceType::Director,
            in_peer_name: "bareos-dir",
            key: key(FD_PW),
            identity: b"R_DIRECTOR\x1ebareos-dir".to_vec(),
        },
        Case {
            name: "Director -> SD",
            out_local: dir(t()),
            out_peer_kind: ResourceType::Storage,
            out_peer_name: "bareos-sd",
            kind: Outbound::DirectorToSd,
            in_local: sd(t()),
            in_peer_kind: ResourceType::Director,
            in_peer_name: "bareos-dir",
            key: key(SD_PW),
            identity: b"R_DIRECTOR\x1ebareos-dir".to_vec(),
        },
        Case {
            name: "console -> Director",
            out_local: con(t()),
            out_peer_kind: ResourceType::Director,
            out_peer_name: "bareos-dir",
            kind: Outbound::ConsoleToDirector,
            in_local: dir(t()),
            in_peer_kind: ResourceType::Console,
            in_peer_name: "*UserAgent*",
            key: key(CONSOLE_PW),
            identity: b"R_CONSOLE\x1e*UserAgent*".to_vec(),
        },
        Case {
            name: "FD -> Director (client-initiated)",
            out_local: fd(t()),
            out_peer_kind: ResourceType::Director,
            out_peer_name: "bareos-dir",
            kind: Outbound::ClientToDirector {
                fd_protocol_version: 54,
            },
            in_local: dir(t()),
            in_peer_kind: ResourceType::Client,
            in_peer_name: "bareos-fd",
            key: key(FD_PW),
            identity: b"R_CLIENT\x1ebareos-fd".to_vec(),
        },
        Case {
            name: "FD -> SD (Hello Start Job)",
            out_local: fd(t()),
            out_peer_kind: ResourceType::Job,
            out_peer_name: JOB,
            kind: Outbound::FdToSd { job: JOB.into() },
            in_local: sd(t()),
            in_peer_kind: ResourceType::Job,
            in_peer_name: JOB,
            key: Key::raw(SESSION_KEY),
            identity: format!("R_JOB\x1e{JOB}").into_bytes(),
        },
        Case {
            name: "SD -> passive FD",
            out_local: sd(t()),
            out_peer_kind: ResourceType::Job,
            out_peer_name: JOB,
            kind: Outbound::SdToFd { job: JOB.into() },
            in_local: fd(t()),
            in_peer_kind: ResourceType::Job,
            in_peer_name: JOB,
            key: Key::raw(SESSION_KEY),
            identity: format!("R_JOB\x1e{JOB}").into_bytes(),
        },
    ]
}

async fn run_case(c: &Case, mode: HandshakeMode) {
    let tls = match mode {
        HandshakeMode::TlsFirst => TlsSettings::default(),
        HandshakeMode::Cleartext => TlsSettings::disabled(),
    };
    let inbound_peer = peer(c.in_peer_kind, c.in_peer_name, c.key.clone(), tls.clone());
    let (port, h) = spawn_accept(c.in_local.clone(), lookup(vec![inbound_peer]), opts()).await;
    let out_peer = peer(c.out_peer_kind, c.out_peer_name, c.key.clone(), tls);
    let mut conn = dial(&c.out_local, out_peer, port, &c.kind, mode)
        .await
        .unwrap_or_else(|e| panic!("{} {mode:?}: connect: {e}", c.name));
    let (ident, mut server) = h
        .await
        .expect("join")
        .unwrap_or_else(|e| panic!("{} {mode:?}: accept: {e}", c.name));
    assert_eq!(ident.kind, c.in_peer_kind, "{}", c.name);
    assert_eq!(ident.name, c.in_peer_name, "{}", c.name);
    match mode {
        HandshakeMode::TlsFirst => {
            let t = ident.tls.as_ref().expect("tls info");
            assert_eq!(t.version, "TLSv1.3", "{}", c.name);
            assert_eq!(t.cipher, "TLS_CHACHA20_POLY1305_SHA256", "{}", c.name);
            assert_eq!(
                t.psk_identity.as_deref(),
                Some(&c.identity[..]),
                "{}",
                c.name
            );
            assert!(conn.is_tls() && server.is_tls());
            let ct = conn.tls().expect("client tls");
            assert_eq!(ct.psk_identity.as_deref(), Some(&c.identity[..]));
        }
        HandshakeMode::Cleartext => {
            assert!(ident.tls.is_none());
            assert!(!conn.is_tls() && !server.is_tls());
        }
    }
    // The authenticated channel carries frames and signals both ways.
    server.send(b"2000 OK Hello 54\n").await.expect("send");
    match conn.recv().await.expect("recv") {
        Frame::Data(d) => assert_eq!(d, b"2000 OK Hello 54\n"),
        other => panic!("{other:?}"),
    }
    conn.send(b"status").await.expect("send");
    match server.recv().await.expect("recv") {
        Frame::Data(d) => assert_eq!(d, b"status"),
        other => panic!("{other:?}"),
    }
    conn.signal(Signal::Terminate).await.expect("signal");
    assert_eq!(
        server.recv().await.expect("recv"),
        Frame::Signal(Signal::Terminate)
    );
    conn.shutdown().await.expect("shutdown");
    let e = server.recv().await.expect_err("closed");
    assert_eq!(e.kind, ErrorKind::Io);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_connection_type_cleartext_and_tls_psk() {
    for c in cases() {
        run_case(&c, HandshakeMode::Cleartext).await;
        run_case(&c, HandshakeMode::TlsFirst).await;
    }
}

/// vectors/clear-backup-full conn 3 msgs 1-8: a fake FD replays the captured FD frames
/// against our connect (Director side). Our hello (msg 1) and our answer to the captured
/// challenge (msg 2 -> msg 3) must be byte-identical to the real Director's.
#[tokio::test]
async fn captured_dir_fd_handshake_connect_side() {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = l.local_addr().expect("addr").port();
    let fake_fd = tokio::spawn(async move {
        let (mut s, _) = l.accept().await.expect("accept");
        let hello = read_frame(&mut s).await.expect("hello");
        assert_eq!(
            hello,
            b"Hello Director bareos-dir calling Version=\"26.0.0\"\n"
        );
        write_frame(
            &mut s,
            b"auth cram-md5 <264409646.1795362414@R_CLIENT::bareos-fd> ssl=0\n",
        )
        .await;
        let resp = read_frame(&mut s).await.expect("response");
        assert_eq!(resp, b"K2Jps1+HVQ/70mxEb+/EbB\0");
        write_frame(&mut s, b"1000 OK auth\n").await;
        let ch = read_frame(&mut s).await.expect("challenge");
        let ch = ChallengeRepr::parse(&ch).expect("challenge parses");
        let tok = Token::parse(ch.token).expect("token");
        assert_eq!(tok.name(), b"R_DIRECTOR::bareos-dir");
        assert_eq!(ch.ssl.map(|p| p.code()), Some(0));
        let r = Response::compute(key(FD_PW).as_bytes(), ch.token, Variant::Bacula);
        let mut out = r.as_bytes().to_vec();
        out.push(0);
        write_frame(&mut s, &out).await;
        assert_eq!(read_frame(&mut s).await.expect("ok"), b"1000 OK auth\n");
        write_frame(&mut s, b"2000 OK Hello 54\n").await;
    });
    let dir = Local::new(
        ResourceType::Director,
        "bareos-dir",
        TlsSettings::disabled(),
    );
    let p = peer(
        ResourceType::Client,
        "bareos-fd",
        key(FD_PW),
        TlsSettings::disabled(),
    );
    let mut c = dial(
        &dir,
        p,
        port,
        &Outbound::DirectorToFd,
        HandshakeMode::Cleartext,
    )
    .await
    .expect("connect");
    match c.recv().await.expect("daemon ok") {
        Frame::Data(d) => assert_eq!(d, b"2000 OK Hello 54\n"),
        other => panic!("{other:?}"),
    }
    fake_fd.await.expect("fake fd");
}

/// The same capture from the other end: a fake Director sends the captured hello (msg 1) and
/// the captured challenge (msg 5) to our accept (FD side); our response must be msg 6.
#[tokio::test]
async fn captured_dir_fd_handshake_accept_side() {
    let fd = Local::new(ResourceType::Client, "bareos-fd", TlsSettings::default());
    let dirp = peer(
        ResourceType::Director,
        "bareos-dir",
        key(FD_PW),
        TlsSettings::disabled(),
    );
    let (port, h) = spawn_accept(fd, lookup(vec![dirp]), opts()).await;
    let mut s = raw(port).await;
    write_frame(
        &mut s,
        b"Hello Director bareos-dir calling Version=\"26.0.0\"\n",
    )
    .await;
    let ch = read_frame(&mut s).await.expect("challenge");
    let chr = ChallengeRepr::parse(&ch).expect("parse");
    assert_eq!(
        Token::parse(chr.token).expect("tok").name(),
        b"R_CLIENT::bareos-fd"
    );
    assert_eq!(chr.ssl.map(|p| p.code()), Some(0));
    let r = Response::compute(key(FD_PW).as_bytes(), chr.token, Variant::Bacula);
    let mut out = r.as_bytes().to_vec();
    out.push(0);
    write_frame(&mut s, &out).await;
    assert_eq!(read_frame(&mut s).await.expect("ok"), b"1000 OK auth\n");
    write_frame(
        &mut s,
        b"auth cram-md5 <1904630979.1795362414@R_DIRECTOR::bareos-dir> ssl=0\n",
    )
    .await;
    assert_eq!(
        read_frame(&mut s).await.expect("response"),
        b"O/oaty/adU+nl4+iQ95WeC\0"
    );
    write_frame(&mut s, b"1000 OK auth\n").await;
    let (ident, _conn) = h.await.expect("join").expect("accept");
    assert_eq!(ident.name, "bareos-dir");
}

/// vectors/clear-backup-full conn 4 msgs 1-7: the FD -> SD data channel keyed by the raw
/// session key. Our FD's hello is msg 1 and its answer to the SD's msg 2 is msg 3.
#[tokio::test]
async fn captured_fd_sd_handshake_connect_side() {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = l.local_addr().expect("addr").port();
    let fake_sd = tokio::spawn(async move {
        let (mut s, _) = l.accept().await.expect("accept");
        assert_eq!(
            read_frame(&mut s).await.expect("hello"),
            b"Hello Start Job CapBackup.2026-11-22_15.46.52_03 Version=\"26.0.0\"\n"
        );
        write_frame(
            &mut s,
            b"auth cram-md5 <375433429.1795362414@R_STORAGE::bareos-sd> ssl=0\n",
        )
        .await;
        assert_eq!(
            read_frame(&mut s).await.expect("resp"),
            b"a95lJ8IZWH+uQ4+OvF+8CD\0"
        );
        write_frame(&mut s, b"1000 OK auth\n").await;
        let ch = read_frame(&mut s).await.expect("challenge");
        let chr = ChallengeRepr::parse(&ch).expect("parse");
        assert_eq!(
            Token::parse(chr.token).expect("tok").name(),
            b"R_CLIENT::bareos-fd"
        );
        let r = Response::compute(SESSION_KEY.as_bytes(), chr.token, Variant::Bacula);
        let mut out = r.as_bytes().to_vec();
        out.push(0);
        write_frame(&mut s, &out).await;
        assert_eq!(read_frame(&mut s).await.expect("ok"), b"1000 OK auth\n");
    });
    let fd = Local::new(ResourceType::Client, "bareos-fd", TlsSettings::disabled());
    let p = peer(
        ResourceType::Job,
        JOB,
        Key::raw(SESSION_KEY),
        TlsSettings::disabled(),
    );
    dial(
        &fd,
        p,
        port,
        &Outbound::FdToSd { job: JOB.into() },
        HandshakeMode::Cleartext,
    )
    .await
    .expect("connect");
    fake_sd.await.expect("fake sd");
}

// ---------------------------------------------------------------------------------------
// Refusal matrix.

fn fd_local() -> Local {
    Local::new(ResourceType::Client, "bareos-fd", TlsSettings::default())
}
fn dir_local(t: TlsSettings) -> Local {
    Local::new(ResourceType::Director, "bareos-dir", t)
}

#[tokio::test]
async fn refuses_wrong_password_cleartext() {
    let dirp = peer(
        ResourceType::Director,
        "bareos-dir",
        key(FD_PW),
        TlsSettings::disabled(),
    );
    let (port, h) = spawn_accept(fd_local(), lookup(vec![dirp]), opts()).await;
    let p = peer(
        ResourceType::Client,
        "bareos-fd",
        key("wrong"),
        TlsSettings::disabled(),
    );
    let e = dial(
        &dir_local(TlsSettings::disabled()),
        p,
        port,
        &Outbound::DirectorToFd,
        HandshakeMode::Cleartext,
    )
    .await
    .expect_err("must fail");
    assert_eq!(e.kind, ErrorKind::AuthFailed, "{e}");
    assert!(e.to_string().contains("client bareos-fd"), "{e}");
    assert!(
        e.to_string()
            .contains("bareos-fd.d/director/bareos-dir.conf"),
        "{e}"
    );
    let ae = h.await.expect("join").expect_err("accept must fail");
    assert_eq!(ae.kind, ErrorKind::AuthFailed, "{ae}");
    assert!(
        ae.to_string()
            .starts_with("director bareos-dir (127.0.0.1:"),
        "{ae}"
    );
    assert!(
        ae.to_string()
            .contains("bareos-dir.d/client/bareos-fd.conf"),
        "{ae}"
    );
    for s in [e.to_string(), ae.to_string()] {
        assert!(
            !s.contains(FD_PW) && !s.contains("wrong\""),
            "secret leaked: {s}"
        );
        assert!(!s.contains(std::str::from_utf8(key(FD_PW).as_bytes()).expect("hex")));
    }
}

#[tokio::test]
async fn refuses_wrong_password_tls_psk() {
    let dirp = peer(
        ResourceType::Director,
        "bareos-dir",
        key(FD_PW),
        TlsSettings::default(),
    );
    let (port, h) = spawn_accept(fd_local(), lookup(vec![dirp]), opts()).await;
    let p = peer(
        ResourceType::Client,
        "bareos-fd",
        key("wrong"),
        TlsSettings::default(),
    );
    let e = dial(
        &dir_local(TlsSettings::default()),
        p,
        port,
        &Outbound::DirectorToFd,
        HandshakeMode::TlsFirst,
    )
    .await
    .expect_err("must fail");
    assert_eq!(e.kind, ErrorKind::Tls, "{e}");
    assert!(e.to_string().contains("R_DIRECTOR␞bareos-dir"), "{e}");
    let ae = h.await.expect("join").expect_err("accept must fail");
    assert_eq!(ae.kind, ErrorKind::Tls, "{ae}");
    assert!(!ae.to_string().contains(FD_PW));
}

#[tokio::test]
async fn refuses_unknown_psk_identity() {
    let dirp = peer(
        ResourceType::Director,
        "bareos-dir",
        key(FD_PW),
        TlsSettings::default(),
    );
    let (port, h) = spawn_accept(fd_local(), lookup(vec![dirp]), opts()).await;
    let p = peer(
        ResourceType::Client,
        "bareos-fd",
        key(FD_PW),
        TlsSettings::default(),
    );
    let other = Local::new(ResourceType::Director, "other-dir", TlsSettings::default());
    let e = dial(
        &other,
        p,
        port,
        &Outbound::DirectorToFd,
        HandshakeMode::TlsFirst,
    )
    .await
    .expect_err("must fail");
    assert_eq!(e.kind, ErrorKind::Tls, "{e}");
    let ae = h.await.expect("join").expect_err("accept must fail");
    assert_eq!(ae.kind, ErrorKind::UnknownPeer, "{ae}");
    assert_eq!(
        ae.to_string()
            .split_once(" (")
            .map(|(a, _)| a)
            .unwrap_or_default(),
        "director other-dir"
    );
    assert!(
        ae.to_string()
            .contains("PSK identity R_DIRECTOR␞other-dir unknown to this client bareos-fd"),
        "{ae}"
    );
    assert!(
        ae.to_string()
            .contains("bareos-dir.d/client/bareos-fd.conf on the peer"),
        "{ae}"
    );
}

#[tokio::test]
async fn refuses_unknown_resource_in_cleartext_hello() {
    let (port, h) = spawn_accept(fd_local(), lookup(vec![]), opts()).await;
    let p = peer(
        ResourceType::Client,
        "bareos-fd",
        key(FD_PW),
        TlsSettings::disabled(),
    );
    let e = dial(
        &dir_local(TlsSettings::disabled()),
        p,
        port,
        &Outbound::DirectorToFd,
        HandshakeMode::Cleartext,
    )
    .await
    .expect_err("must fail");
    assert!(e.to_string().contains("TERMINATE"), "{e}");
    let ae = h.await.expect("join").expect_err("accept must fail");
    assert_eq!(ae.kind, ErrorKind::UnknownPeer, "{ae}");
    assert!(
        ae.to_string()
            .contains("no director resource named \"bareos-dir\" on this client bareos-fd"),
        "{ae}"
    );
}

#[tokio::test]
async fn refuses_cleartext_to_tls_required_side() {
    // The FD's Director resource has TLS enabled (the default): a cleartext Director hello is
    // closed with TERMINATE (connect.md §3.2/§3.3).
    let dirp = peer(
        ResourceType::Director,
        "bareos-dir",
        key(FD_PW),
        TlsSettings::default(),
    );
    let (port, h) = spawn_accept(fd_local(), lookup(vec![dirp]), opts()).await;
    let p = peer(
        ResourceType::Client,
        "bareos-fd",
        key(FD_PW),
        TlsSettings::disabled(),
    );
    let e = dial(
        &dir_local(TlsSettings::disabled()),
        p,
        port,
        &Outbound::DirectorToFd,
        HandshakeMode::Cleartext,
    )
    .await
    .expect_err("must fail");
    assert!(e.to_string().contains("signal TERMINATE"), "{e}");
    let ae = h.await.expect("join").expect_err("accept must fail");
    assert_eq!(ae.kind, ErrorKind::PolicyRefused, "{ae}");
    assert!(ae.to_string().contains("cleartext hello refused"), "{ae}");

    // But a Client (client-initiated FD) with TLS enabled and not required passes the gate
    // in cleartext (R_CLIENT rule), and is refused only when required.
    for (tls, ok) in [
        (TlsSettings::optional(), true),
        (TlsSettings::default(), false),
    ] {
        let clientp = peer(ResourceType::Client, "bareos-fd", key(FD_PW), tls);
        let (port, h) = spawn_accept(
            dir_local(TlsSettings::default()),
            lookup(vec![clientp]),
            opts(),
        )
        .await;
        let p = peer(
            ResourceType::Director,
            "bareos-dir",
            key(FD_PW),
            TlsSettings::disabled(),
        );
        let fd = Local::new(ResourceType::Client, "bareos-fd", TlsSettings::disabled());
        let r = dial(
            &fd,
            p,
            port,
            &Outbound::ClientToDirector {
                fd_protocol_version: 54,
            },
            HandshakeMode::Cleartext,
        )
        .await;
        assert_eq!(r.is_ok(), ok, "{:?}", r.err());
        let a = h.await.expect("join");
        assert_eq!(a.is_ok(), ok);
        if let Err(ae) = a {
            assert_eq!(ae.kind, ErrorKind::PolicyRefused);
        }
    }
}

/// `ssl=` negotiation after a cleartext CRAM-MD5: one side Required, the other None → Deny.
#[tokio::test]
async fn refuses_tls_policy_deny_after_cram() {
    // An old console (no version) passes the gate whatever the policy; the Director's Console
    // resource requires TLS, the console has it disabled: SelectTlsPolicy gives Deny.
    let conp = peer(
        ResourceType::Console,
        "admin",
        key(CONSOLE_PW),
        TlsSettings::default(),
    );
    let (port, h) = spawn_accept(
        dir_local(TlsSettings::default()),
        lookup(vec![conp]),
        opts(),
    )
    .await;
    let mut s = raw(port).await;
    write_frame(&mut s, b"Hello admin calling\n").await;
    let ch = read_frame(&mut s).await.expect("challenge");
    let chr = ChallengeRepr::parse(&ch).expect("parse");
    assert_eq!(chr.ssl.map(|p| p.code()), Some(2));
    let r = Response::compute(key(CONSOLE_PW).as_bytes(), chr.token, Variant::Bacula);
    write_frame(&mut s, r.as_bytes()).await;
    assert_eq!(read_frame(&mut s).await.expect("ok"), b"1000 OK auth\n");
    write_frame(&mut s, b"auth cram-md5 <1.2@admin> ssl=0\n").await;
    let _resp = read_frame(&mut s).await.expect("resp");
    write_frame(&mut s, b"1000 OK auth\n").await;
    let ae = h.await.expect("join").expect_err("deny");
    assert_eq!(ae.kind, ErrorKind::PolicyRefused, "{ae}");
    assert!(
        ae.to_string().contains("ours ssl=2 and the peer's ssl=0"),
        "{ae}"
    );
}

#[tokio::test]
async fn tls_first_to_a_cleartext_only_peer_fails_clearly() {
    // A peer that does not speak TLS (pre-18.2 or Bacula): it reads the ClientHello as a
    // hello, finds garbage and hangs up.
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = l.local_addr().expect("addr").port();
    tokio::spawn(async move {
        let (mut s, _) = l.accept().await.expect("accept");
        let mut b = [0u8; 16];
        let _ = tokio::io::AsyncReadExt::read(&mut s, &mut b).await;
        let _ = s.shutdown().await;
    });
    let p = peer(
        ResourceType::Client,
        "bareos-fd",
        key(FD_PW),
        TlsSettings::default(),
    );
    let e = dial(
        &dir_local(TlsSettings::default()),
        p,
        port,
        &Outbound::DirectorToFd,
        HandshakeMode::TlsFirst,
    )
    .await
    .expect_err("must fail");
    assert_eq!(e.kind, ErrorKind::Tls, "{e}");
    assert!(e.to_string().contains("or it has TLS disabled"), "{e}");
}

#[tokio::test]
async fn tls_to_a_tls_disabled_resource_is_served_as_bareos_does() {
    // Bareos serves a TLS ClientHello whatever the TLS Enable of the peer's resource
    // (connect.md §3.2: "The own resource's TlsEnable is not consulted"); the ssl= values
    // inside the tunnel are ignored. We do the same.
    let dirp = peer(
        ResourceType::Director,
        "bareos-dir",
        key(FD_PW),
        TlsSettings::disabled(),
    );
    let local = Local::new(ResourceType::Client, "bareos-fd", TlsSettings::disabled());
    let (port, h) = spawn_accept(local, lookup(vec![dirp]), opts()).await;
    let p = peer(
        ResourceType::Client,
        "bareos-fd",
        key(FD_PW),
        TlsSettings::default(),
    );
    let c = dial(
        &dir_local(TlsSettings::default()),
        p,
        port,
        &Outbound::DirectorToFd,
        HandshakeMode::TlsFirst,
    )
    .await
    .expect("connect");
    assert!(c.is_tls());
    h.await.expect("join").expect("accept");
}

#[tokio::test]
async fn refuses_garbage_first_bytes() {
    let (port, h) = spawn_accept(fd_local(), lookup(vec![]), opts()).await;
    let mut s = raw(port).await;
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("w");
    let ae = h.await.expect("join").expect_err("garbage");
    assert_eq!(ae.kind, ErrorKind::Protocol, "{ae}");
    assert!(
        ae.to_string().contains("neither a Bareos hello nor a TLS"),
        "{ae}"
    );
}

#[tokio::test]
async fn refuses_bad_hello_with_terminate() {
    let (port, h) = spawn_accept(fd_local(), lookup(vec![]), opts()).await;
    let mut s = raw(port).await;
    write_frame(&mut s, b"Hello nonsense without the rest").await;
    assert_eq!(read_frame(&mut s).await, Err(Signal::Terminate.code()));
    let ae = h.await.expect("join").expect_err("bad hello");
    assert_eq!(ae.kind, ErrorKind::Protocol, "{ae}");
}

#[tokio::test]
async fn refuses_oversize_frame() {
    // Hello-looking first bytes with a header announcing 16 MB.
    let (port, h) = spawn_accept(fd_local(), lookup(vec![]), opts()).await;
    let mut s = raw(port).await;
    s.write_all(b"\x00\xff\xff\xffHello Director x calling\n")
        .await
        .expect("w");
    let ae = h.await.expect("join").expect_err("oversize");
    assert_eq!(ae.kind, ErrorKind::FrameTooLong, "{ae}");
    assert!(ae.to_string().contains("1,000,000"), "{ae}");
}

#[tokio::test]
async fn slow_loris_times_out() {
    let quick = ConnOptions {
        handshake_timeout: Duration::from_millis(300),
        ..opts()
    };
    // Nothing at all.
    let (port, h) = spawn_accept(fd_local(), lookup(vec![]), quick.clone()).await;
    let _s = raw(port).await;
    let t0 = std::time::Instant::now();
    let ae = h.await.expect("join").expect_err("timeout");
    assert_eq!(ae.kind, ErrorKind::Timeout, "{ae}");
    assert!(t0.elapsed() < Duration::from_secs(3));
    // Five bytes, then silence (fewer than the 10 the peek needs).
    let (port, h) = spawn_accept(fd_local(), lookup(vec![]), quick.clone()).await;
    let mut s = raw(port).await;
    s.write_all(b"\x00\x00\x00\x33H").await.expect("w");
    let ae = h.await.expect("join").expect_err("timeout");
    assert_eq!(ae.kind, ErrorKind::Timeout, "{ae}");
    // A hello, then silence instead of the CRAM-MD5 response.
    let dirp = peer(
        ResourceType::Director,
        "bareos-dir",
        key(FD_PW),
        TlsSettings::disabled(),
    );
    let (port, h) = spawn_accept(fd_local(), lookup(vec![dirp]), quick).await;
    let mut s = raw(port).await;
    write_frame(
        &mut s,
        b"Hello Director bareos-dir calling Version=\"26.0.0\"\n",
    )
    .await;
    let ae = h.await.expect("join").expect_err("timeout");
    assert_eq!(ae.kind, ErrorKind::Timeout, "{ae}");
}

#[tokio::test]
async fn oversize_frame_after_authentication() {
    // A fake Director that authenticates properly (with fd-core codecs), then sends a
    // header announcing 2,000,000 bytes.
    let dirp = peer(
        ResourceType::Director,
        "bareos-dir",
        key(FD_PW),
        TlsSettings::disabled(),
    );
    let (port, h) = spawn_accept(fd_local(), lookup(vec![dirp]), opts()).await;
    let mut s = raw(port).await;
    write_frame(
        &mut s,
        b"Hello Director bareos-dir calling Version=\"26.0.0\"\n",
    )
    .await;
    let ch = read_frame(&mut s).await.expect("challenge");
    let chr = ChallengeRepr::parse(&ch).expect("parse");
    let r = Response::compute(key(FD_PW).as_bytes(), chr.token, Variant::Bacula);
    write_frame(&mut s, r.as_bytes()).await;
    assert_eq!(read_frame(&mut s).await.expect("ok"), b"1000 OK auth\n");
    write_frame(
        &mut s,
        b"auth cram-md5 <1.2@R_DIRECTOR::bareos-dir> ssl=0\n",
    )
    .await;
    let _ = read_frame(&mut s).await.expect("resp");
    write_frame(&mut s, b"1000 OK auth\n").await;
    let (_, mut conn) = h.await.expect("join").expect("accept");
    // Exactly 1,000,000 bytes is still accepted (Bareos' max_packet_size bounds the payload).
    let big = vec![b'x'; 1_000_000];
    write_frame(&mut s, &big).await;
    match conn.recv().await.expect("1,000,000-byte frame") {
        Frame::Data(d) => assert_eq!(d.len(), 1_000_000),
        other => panic!("{other:?}"),
    }
    s.write_all(&1_000_001u32.to_be_bytes()).await.expect("w");
    s.write_all(&[0u8; 64]).await.expect("w");
    let e = conn.recv().await.expect_err("oversize");
    assert_eq!(e.kind, ErrorKind::FrameTooLong, "{e}");
}

// ---------------------------------------------------------------------------------------
// Director-side probing (connect.md §4).

/// An FD that only speaks cleartext: TLS ClientHellos are dropped, hellos go to our accept.
async fn old_fd(tls_attempts: Arc<AtomicUsize>) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = l.local_addr().expect("addr").port();
    let dirp = peer(
        ResourceType::Director,
        "bareos-dir",
        key(FD_PW),
        TlsSettings::disabled(),
    );
    let lk = lookup(vec![dirp]);
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = l.accept().await else {
                return;
            };
            let mut b = [0u8; 1];
            let _ = tcp.peek(&mut b).await;
            if b[0] == 0x16 {
                tls_attempts.fetch_add(1, Ordering::SeqCst);
                drop(tcp);
                continue;
            }
            let local = Local::new(ResourceType::Client, "bareos-fd", TlsSettings::disabled());
            let lk = lk.clone();
            tokio::spawn(async move {
                let _ = accept(tcp, &local, lk, &opts()).await;
            });
        }
    });
    port
}

#[tokio::test]
async fn probing_falls_back_and_remembers_until_reset() {
    let attempts = Arc::new(AtomicUsize::new(0));
    let port = old_fd(attempts.clone()).await;
    let cache = ProbeCache::new();
    let dir = dir_local(TlsSettings::default());
    let mut client = peer(
        ResourceType::Client,
        "bareos-fd",
        key(FD_PW),
        TlsSettings::optional(),
    );
    client.port = port;
    let (_c, p) = connect_probing(&cache, &dir, &client, &opts())
        .await
        .expect("probe");
    assert_eq!(p.mode, HandshakeMode::Cleartext);
    assert!(p.probed);
    assert_eq!(attempts.load(Ordering::SeqCst), 1);
    assert_eq!(cache.get("bareos-fd"), Some(HandshakeMode::Cleartext));
    // Remembered: no TLS attempt the second time.
    let (_c, p) = connect_probing(&cache, &dir, &client, &opts())
        .await
        .expect("again");
    assert_eq!((p.mode, p.probed), (HandshakeMode::Cleartext, false));
    assert_eq!(attempts.load(Ordering::SeqCst), 1);
    // A reload forgets it.
    cache.reset();
    let (_c, p) = connect_probing(&cache, &dir, &client, &opts())
        .await
        .expect("after reset");
    assert!(p.probed);
    assert_eq!(attempts.load(Ordering::SeqCst), 2);
    // TLS Require on the Client: no cleartext fallback.
    cache.reset();
    client.tls = TlsSettings::default();
    let e = connect_probing(&cache, &dir, &client, &opts())
        .await
        .expect_err("required");
    assert_eq!(e.kind, ErrorKind::Tls, "{e}");
    assert_eq!(cache.get("bareos-fd"), None);
}

#[tokio::test]
async fn probing_prefers_tls_and_stops_on_unreachable() {
    let dirp = peer(
        ResourceType::Director,
        "bareos-dir",
        key(FD_PW),
        TlsSettings::default(),
    );
    let (port, h) = spawn_accept(fd_local(), lookup(vec![dirp]), opts()).await;
    let cache = ProbeCache::new();
    let dir = dir_local(TlsSettings::default());
    let mut client = peer(
        ResourceType::Client,
        "bareos-fd",
        key(FD_PW),
        TlsSettings::default(),
    );
    client.port = port;
    let (c, p) = connect_probing(&cache, &dir, &client, &opts())
        .await
        .expect("probe");
    assert_eq!((p.mode, p.probed), (HandshakeMode::TlsFirst, true));
    assert_eq!(
        c.tls().map(|t| t.encryption_text()).as_deref(),
        Some("TLS_CHACHA20_POLY1305_SHA256 TLSv1.3")
    );
    h.await.expect("join").expect("accept");
    // Nobody listens any more on a fresh port: one attempt, Unreachable.
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    client.port = l.local_addr().expect("a").port();
    drop(l);
    cache.reset();
    let e = connect_probing(&cache, &dir, &client, &opts())
        .await
        .expect_err("unreachable");
    assert_eq!(e.kind, ErrorKind::Unreachable, "{e}");
}

/// vectors/clear-auth-fail conn 2 (wrong Dir->FD password), the FD's end: our accept answers
/// a wrong response with `1999 Authorization failed.` at once and again after the failure
/// delay (msgs 4 and 7; the capture's 5 s, shortened here), then the FD's own refusal.
#[tokio::test]
async fn captured_auth_fail_accept_side_failure_script() {
    let delay = Duration::from_millis(150);
    let o = ConnOptions {
        auth_failure_delay: delay,
        ..opts()
    };
    let dirp = peer(
        ResourceType::Director,
        "bareos-dir",
        key(FD_PW),
        TlsSettings::disabled(),
    );
    let (port, h) = spawn_accept(fd_local(), lookup(vec![dirp]), o).await;
    let mut s = raw(port).await;
    write_frame(
        &mut s,
        b"Hello Director bareos-dir calling Version=\"26.0.0\"\n",
    )
    .await;
    let _challenge = read_frame(&mut s).await.expect("challenge");
    let t0 = std::time::Instant::now();
    write_frame(&mut s, b"hTlyhkkeuTcGjm/cx50GYA\0").await;
    assert_eq!(
        read_frame(&mut s).await.expect("1999"),
        b"1999 Authorization failed.\n"
    );
    assert_eq!(
        read_frame(&mut s).await.expect("1999 again"),
        b"1999 Authorization failed.\n"
    );
    assert!(t0.elapsed() >= delay, "second 1999 only after the pause");
    assert_eq!(
        read_frame(&mut s).await.expect("2999"),
        b"2999 Authentication failed.\n"
    );
    let ae = h.await.expect("join").expect_err("refused");
    assert_eq!(ae.kind, ErrorKind::AuthFailed);
    assert!(t0.elapsed() >= delay * 2);
}

/// The same capture, the Director's end: our connect gets `1999` for its response (msg 4)
/// and sends its own single `1999` after the pause (msg 5).
#[tokio::test]
async fn captured_auth_fail_connect_side_failure_script() {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = l.local_addr().expect("addr").port();
    let fake_fd = tokio::spawn(async move {
        let (mut s, _) = l.accept().await.expect("accept");
        let _hello = read_frame(&mut s).await.expect("hello");
        write_frame(
            &mut s,
            b"auth cram-md5 <51852616.1795365938@R_CLIENT::bareos-fd> ssl=0\n",
        )
        .await;
        let _resp = read_frame(&mut s).await.expect("response");
        let t0 = std::time::Instant::now();
        write_frame(&mut s, b"1999 Authorization failed.\n").await;
        let r = read_frame(&mut s).await.expect("director's 1999");
        (r, t0.elapsed())
    });
    let dir = Local::new(
        ResourceType::Director,
        "bareos-dir",
        TlsSettings::disabled(),
    );
    let mut p = peer(
        ResourceType::Client,
        "bareos-fd",
        key("the-wrong-password"),
        TlsSettings::disabled(),
    );
    p.port = port;
    let delay = Duration::from_millis(150);
    let o = ConnOptions {
        auth_failure_delay: delay,
        ..opts()
    };
    let e = barque_common::conn::connect(
        &dir,
        &p,
        &Outbound::DirectorToFd,
        HandshakeMode::Cleartext,
        &o,
    )
    .await
    .expect_err("rejected");
    assert_eq!(e.kind, ErrorKind::AuthFailed, "{e}");
    assert!(
        e.to_string().contains("rejected our CRAM-MD5 response"),
        "{e}"
    );
    let (r, waited) = fake_fd.await.expect("fake fd");
    assert_eq!(r, b"1999 Authorization failed.\n");
    assert!(waited >= delay);
}
