//! barque-console's library ([`director::client::Console`]) against an in-process
//! barque-dir, configured with the capture configurations: the framing of the captured
//! console sessions (vectors/clear-bconsole, vectors/clear-dot-status,
//! vectors/psk-console-dir, and the hello/CRAM-MD5 bytes of clear-backup-full conn 1 /
//! clear-bconsole conn 1 replayed on a raw socket).

mod support;

use barque_common::conn::{connect, HandshakeMode, Local, Outbound, Peer};
use barque_common::tls::{Key, TlsSettings};
use director::client::{load_target, Console, Piece, Response};
use director::ua::{BUILD_DATE, SERVICES_MESSAGE, VERSION};
use fd_core::wire::base64::Variant as B64;
use fd_core::wire::bnet::Signal;
use fd_core::wire::cram_md5::{self, ChallengeRepr, Response as CramResponse};
use fd_core::wire::psk::ResourceType;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn login(d: &TestDir, file: &str, pw: &str, console: Option<(&str, &str)>) -> Console {
    let conf = d.bconsole(file, pw, console);
    let t = load_target(&conf, None).expect("bconsole.conf");
    Console::connect(&t, &opts()).await.expect("login")
}

fn data(r: &Response) -> Vec<String> {
    r.pieces
        .iter()
        .filter_map(|p| match p {
            Piece::Data(d) => Some(String::from_utf8_lossy(d).into_owned()),
            Piece::Signal(_) => None,
        })
        .collect()
}

// vectors/clear-bconsole conn 1 msg 38 (68 bytes).
const API2_REPLY: &[u8] =
    b"{\n  \"jsonrpc\": \"2.0\",\n  \"id\": null,\n  \"result\": {\n    \"api\": 2\n  }\n}";

#[tokio::test]
async fn clear_bconsole_session_framing() {
    let d = start(Variant::Clear).await;
    let mut c = login(&d, "bconsole.conf", CONSOLE_PW, None).await;
    assert_eq!(
        c.banner,
        format!("OK: bareos-dir Version: {VERSION} ({BUILD_DATE})")
    );
    assert_eq!(
        c.info,
        format!("{SERVICES_MESSAGE}\nYou are connected using the default console")
    );
    assert_eq!(c.encryption, " Encryption: None");

    // msgs 10-27: status dir, text frames then EOD, no other signal.
    let r = c.command("status dir").await.expect("status dir");
    assert_eq!(r.signals(), vec![Signal::Eod]);
    assert_eq!(r.pieces.last(), Some(&Piece::Signal(Signal::Eod)));
    let t = data(&r);
    assert!(t[0].starts_with("bareos-dir Version: "));
    assert!(t[1].starts_with("Daemon started "));
    assert_eq!(
        &t[2..5],
        &["No Scheduled Jobs.\n", "====\n", "\nRunning Jobs:\n"]
    );
    assert!(t[5].starts_with("Console connected at ") && t[5].len() == 37);
    assert_eq!(t[6], "No Jobs running.\n====\n");
    assert_eq!(t[8], "\n");
    assert_eq!(t[9].len(), 252);
    assert_eq!(t[10], "====\n");

    // msgs 36-39: .api 2 gets CMD_OK, the JSON, MAIN_PROMPT; no CMD_BEGIN, no EOD.
    let r = c.command(".api 2").await.expect(".api 2");
    assert_eq!(
        r.pieces,
        vec![
            Piece::Signal(Signal::CmdOk),
            Piece::Data(API2_REPLY.to_vec()),
            Piece::Signal(Signal::MainPrompt)
        ]
    );

    // msgs 40-44 framing: CMD_BEGIN, CMD_OK/FAILED, one JSON frame, MAIN_PROMPT.
    let r = c.command("version").await.expect("version");
    assert_eq!(
        r.signals(),
        vec![Signal::CmdBegin, Signal::CmdOk, Signal::MainPrompt]
    );
    let json = r.text();
    assert!(
        json.starts_with(
            "{\n  \"jsonrpc\": \"2.0\",\n  \"id\": null,\n  \"result\": {\n    \"version\": {"
        ),
        "{json}"
    );
    assert!(!json.ends_with('\n'));

    // list jobs needs the catalog: same framing, but CMD_FAILED and a JSON-RPC error.
    let r = c.command("list jobs").await.expect("list jobs");
    assert_eq!(
        r.signals(),
        vec![Signal::CmdBegin, Signal::CmdFailed, Signal::MainPrompt]
    );
    assert!(r
        .text()
        .contains("\"error\": {\n    \"code\": 1,\n    \"message\": \"failed\""));
    assert!(r
        .text()
        .contains("list: the catalog is not available in this build"));

    // An invalid command in API 2 is no command: no CMD_BEGIN/CMD_OK.
    let r = c.command("frobnicate").await.expect("invalid");
    assert_eq!(r.signals(), vec![Signal::MainPrompt]);
    assert!(r.text().contains("frobnicate: is an invalid command.\\n"));

    // Compact JSON after .api json compact=yes.
    let r = c.command(".api json compact=yes").await.expect("compact");
    assert_eq!(
        r.text(),
        "{\"jsonrpc\":\"2.0\",\"id\":null,\"result\":{\"api\":2}}"
    );

    // Back to API 0: EOD again.
    let r = c.command(".api 0").await.expect(".api 0");
    assert_eq!(r.signals(), vec![Signal::CmdBegin, Signal::Eod]);
    assert_eq!(r.text(), "api: 0\n");
    let r = c.command("version").await.expect("version");
    assert_eq!(r.signals(), vec![Signal::Eod]);
    c.close().await;
}

#[tokio::test]
async fn clear_dot_status_session() {
    let d = start(Variant::Clear).await;
    let mut c = login(&d, "bconsole.conf", CONSOLE_PW, None).await;
    // vectors/clear-dot-status conn 1 msgs 10-14.
    let r = c.command(".status dir running").await.expect(".status");
    let t = data(&r);
    assert_eq!(t.len(), 3);
    assert_eq!(t[0], "\nRunning Jobs:\n");
    assert!(t[1].starts_with("Console connected at ") && t[1].len() == 37);
    assert_eq!(t[2], "No Jobs running.\n====\n");
    assert_eq!(r.signals(), vec![Signal::Eod]);
    // The FD part of the capture needs the job engine: an honest error, then EOD.
    let r = c
        .command(".status client=bareos-fd header")
        .await
        .expect(".status client");
    assert_eq!(
        r.text(),
        ".status: the job engine is not available in this build\n"
    );
    assert_eq!(r.signals(), vec![Signal::Eod]);
    // msgs 36-44 framing.
    let r = c.command(".api 2").await.expect(".api 2");
    assert_eq!(r.pieces.get(1), Some(&Piece::Data(API2_REPLY.to_vec())));
    let r = c
        .command("status client=bareos-fd")
        .await
        .expect("status client");
    assert_eq!(
        r.signals(),
        vec![Signal::CmdBegin, Signal::CmdFailed, Signal::MainPrompt]
    );
    c.close().await;
}

#[tokio::test]
async fn psk_console_session() {
    let d = start(Variant::Psk).await;
    let mut c = login(&d, "bconsole.conf", CONSOLE_PW, None).await;
    // vectors/psk-console-dir: TLS 1.3, TLS_CHACHA20_POLY1305_SHA256 between OpenSSL 3 peers.
    assert_eq!(
        c.encryption,
        " Encryption: TLS_CHACHA20_POLY1305_SHA256 TLSv1.3"
    );
    let r = c.command("status dir").await.expect("status");
    assert!(r.text().contains("\nRunning Jobs:\n"));
    assert_eq!(r.signals(), vec![Signal::Eod]);
    c.close().await;

    // A named console over TLS-PSK (identity R_CONSOLE RS ref-admin).
    let mut c = login(&d, "admin.conf", CONSOLE_PW, Some(("ref-admin", ADMIN_PW))).await;
    assert!(
        c.info.ends_with("You are logged in as: ref-admin"),
        "{}",
        c.info
    );
    let r = c.command("whoami").await.expect("whoami");
    assert_eq!(r.text(), "ref-admin\n");
    c.close().await;
}

#[tokio::test]
async fn restricted_named_console_is_refused_commands() {
    let d = start(Variant::Clear).await;
    let mut c = login(
        &d,
        "limited.conf",
        CONSOLE_PW,
        Some(("limited", LIMITED_PW)),
    )
    .await;
    assert!(c.info.ends_with("You are logged in as: limited"));
    let r = c.command("run job=CapBackup yes").await.expect("run");
    assert_eq!(r.text(), "run: is an invalid command.\n");
    assert_eq!(r.signals(), vec![Signal::Eod]);
    let r = c.command("show clients").await.expect("show");
    assert_eq!(r.text(), "show: is an invalid command.\n");
    let r = c.command("version").await.expect("version");
    assert!(r.text().starts_with("bareos-dir Version: "));
    let r = c.command("whoami").await.expect("whoami");
    assert_eq!(r.text(), "limited\n", "whoami is always allowed");
    c.close().await;
}

#[tokio::test]
async fn wrong_password_is_refused_and_director_keeps_running() {
    let d = start(Variant::Clear).await;
    let conf = d.bconsole("bad.conf", "not-the-password", None);
    let t = load_target(&conf, None).expect("conf");
    let err = match Console::connect(&t, &opts()).await {
        Ok(_) => panic!("a wrong password must not log in"),
        Err(e) => e,
    };
    assert!(err.contains("rejected our CRAM-MD5 response"), "{err}");
    let conf = d.bconsole("bad2.conf", CONSOLE_PW, Some(("limited", "wrong")));
    let t = load_target(&conf, None).expect("conf");
    assert!(Console::connect(&t, &opts()).await.is_err());
    let mut c = login(&d, "good.conf", CONSOLE_PW, None).await;
    let r = c.command("nosuchcommand").await.expect("cmd");
    assert_eq!(r.text(), "nosuchcommand: is an invalid command.\n");
    let r = c.command("version").await.expect("version");
    assert!(r.text().starts_with("bareos-dir Version: "));
    c.close().await;
}

#[tokio::test]
async fn client_initiated_fd_is_refused() {
    let d = start(Variant::Clear).await;
    let tls = TlsSettings {
        enable: false,
        require: false,
        ..TlsSettings::default()
    };
    let local = Local::new(ResourceType::Client, "bareos-fd", tls.clone());
    let peer = Peer {
        kind: ResourceType::Director,
        name: "bareos-dir".into(),
        key: Key::from_password("ref-fd-password").expect("key"),
        address: "127.0.0.1".into(),
        port: d.port,
        tls,
    };
    let r = connect(
        &local,
        &peer,
        &Outbound::ClientToDirector {
            fd_protocol_version: 54,
        },
        HandshakeMode::Cleartext,
        &opts(),
    )
    .await;
    assert!(
        r.is_err(),
        "client-initiated connections are not served yet"
    );
    let mut c = login(&d, "bconsole.conf", CONSOLE_PW, None).await;
    assert!(c.command("version").await.is_ok());
    c.close().await;
}

#[tokio::test]
async fn reload_rereads_the_configuration() {
    let d = start(Variant::Clear).await;
    let mut c = login(&d, "bconsole.conf", CONSOLE_PW, None).await;
    assert_eq!(
        c.command(".clients").await.expect("c").text(),
        "bareos-fd\n"
    );
    let extra = "\nClient {\n  Name = extra-fd\n  Address = 127.0.0.2\n  Password = \"x\"\n  TLS Enable = no\n  TLS Require = no\n}\n";
    std::fs::write(
        d.config_path(),
        format!("{}{extra}", dir_conf(Variant::Clear)),
    )
    .expect("write");
    let r = c.command("reload").await.expect("reload");
    assert_eq!(r.text(), "reloaded\n");
    assert_eq!(
        c.command(".clients").await.expect("c").text(),
        "bareos-fd\nextra-fd\n"
    );
    // A broken configuration is refused and the old one stays.
    std::fs::write(d.config_path(), "Director {\n").expect("write");
    let r = c.command("reload").await.expect("reload");
    assert!(r.text().starts_with("failed to reload\n"), "{}", r.text());
    assert_eq!(
        c.command(".clients").await.expect("c").text(),
        "bareos-fd\nextra-fd\n"
    );
    c.close().await;
}

// ---- raw replay of the captured console hello and CRAM-MD5 -------------------------------

async fn send_frame(s: &mut TcpStream, payload: &[u8]) {
    let mut b = (payload.len() as u32).to_be_bytes().to_vec();
    b.extend_from_slice(payload);
    s.write_all(&b).await.expect("write");
}

/// A payload, or `Err(signal)`.
async fn recv_frame(s: &mut TcpStream) -> Result<Vec<u8>, i32> {
    let mut h = [0u8; 4];
    s.read_exact(&mut h).await.expect("header");
    let n = i32::from_be_bytes(h);
    if n < 0 {
        return Err(n);
    }
    let mut b = vec![0u8; usize::try_from(n).expect("len")];
    s.read_exact(&mut b).await.expect("payload");
    Ok(b)
}

#[tokio::test]
async fn captured_console_hello_and_cram_md5_bytes() {
    // vectors/clear-bconsole conn 1 msgs 5-6.
    let mut s = replay_login(
        b"auth cram-md5 <2067811607.1795362474@R_CONSOLE::*UserAgent*> ssl=0\n",
        b"Em/zbi/i5R9Hj8g5839PMA\x00",
    )
    .await;
    // msg 10 / 11.. / 27: a command, EOD at the end.
    send_frame(&mut s, b"version").await;
    let v = recv_frame(&mut s).await.expect("version");
    assert!(v.starts_with(b"bareos-dir Version: "));
    assert_eq!(recv_frame(&mut s).await, Err(-1), "EOD");
    // msg 45: TERMINATE; the Director closes.
    s.write_all(&(-4i32).to_be_bytes())
        .await
        .expect("terminate");
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), s.read_to_end(&mut rest)).await;
    assert!(rest.is_empty());
}

#[tokio::test]
async fn captured_backup_console_login_and_run() {
    // vectors/clear-backup-full conn 1 msgs 5-6, then msg 10 `run ... yes` and msg 14
    // `wait`: both need the job engine, and say so before the EOD.
    let mut s = replay_login(
        b"auth cram-md5 <19542121.1795362412@R_CONSOLE::*UserAgent*> ssl=0\n",
        b"97/nF71m+E+3P1N7a4FbQC\x00",
    )
    .await;
    send_frame(&mut s, b"run job=CapBackup level=Full yes").await;
    assert_eq!(
        recv_frame(&mut s).await.expect("reply"),
        b"run: the job engine is not available in this build\n"
    );
    assert_eq!(recv_frame(&mut s).await, Err(-1), "EOD");
    send_frame(&mut s, b"wait").await;
    assert_eq!(
        recv_frame(&mut s).await.expect("reply"),
        b"wait: the job engine is not available in this build\n"
    );
    assert_eq!(recv_frame(&mut s).await, Err(-1), "EOD");
}

/// Log in on a raw socket with the captured console bytes: msg 1 verbatim, our response to
/// the Director's challenge, then `challenge` (msg 5) verbatim, whose answer only depends
/// on the key and must equal the captured msg 6 `answer`.
async fn replay_login(challenge: &[u8], answer: &[u8]) -> TcpStream {
    // The Director task keeps serving after `d` (its temporary directory) is dropped.
    let d = start(Variant::Clear).await;
    let mut s = TcpStream::connect(("127.0.0.1", d.port))
        .await
        .expect("tcp");
    // vectors/clear-bconsole conn 1 msg 1 (also vectors/clear-backup-full conn 1 msg 1).
    send_frame(
        &mut s,
        b"Hello *UserAgent* calling version 26.0.0~pre1298.eda204c31 Version=\"26.0.0\"\n",
    )
    .await;
    // msg 2: `auth cram-md5 <r.t@R_DIRECTOR::bareos-dir> ssl=0\n`
    let ch = recv_frame(&mut s).await.expect("challenge");
    let c = ChallengeRepr::parse(&ch).expect("challenge parses");
    assert!(ch.starts_with(b"auth cram-md5 <"));
    assert!(
        ch.ends_with(b"@R_DIRECTOR::bareos-dir> ssl=0\n"),
        "{:?}",
        String::from_utf8_lossy(&ch)
    );
    let key = Key::from_password(CONSOLE_PW).expect("key");
    // msg 3: 22 characters of Bacula base64 and a NUL.
    let resp = CramResponse::compute(key.as_bytes(), c.token, B64::Bacula);
    let mut buf = [0u8; 64];
    let n = resp.emit(&mut buf).expect("emit");
    assert_eq!(n, 23);
    send_frame(&mut s, &buf[..n]).await;
    // msg 4
    assert_eq!(recv_frame(&mut s).await.expect("ok"), b"1000 OK auth\n");
    // msg 5, verbatim
    send_frame(&mut s, challenge).await;
    let token = ChallengeRepr::parse(challenge)
        .expect("captured challenge")
        .token;
    // msg 6: the Director's answer is the captured one.
    let got = recv_frame(&mut s).await.expect("answer");
    assert_eq!(got, answer);
    assert!(cram_md5::verify(&got, key.as_bytes(), token, B64::Bacula));
    // msg 7
    send_frame(&mut s, b"1000 OK auth\n").await;
    // msgs 8 and 9 with our version and services message.
    let banner = recv_frame(&mut s).await.expect("banner");
    assert_eq!(
        banner,
        format!("1000\x1eOK: bareos-dir Version: {VERSION} ({BUILD_DATE})").as_bytes()
    );
    let info = recv_frame(&mut s).await.expect("info");
    assert_eq!(
        info,
        format!("1002\x1e{SERVICES_MESSAGE}\nYou are connected using the default console")
            .as_bytes()
    );
    s
}

#[tokio::test]
async fn legacy_console_gets_one_line_banner() {
    let d = start(Variant::Clear).await;
    let mut s = TcpStream::connect(("127.0.0.1", d.port))
        .await
        .expect("tcp");
    // A console before 18.2 (python-bareos' 12.4 hello has no version at all).
    send_frame(&mut s, b"Hello *UserAgent* calling\n").await;
    let ch = recv_frame(&mut s).await.expect("challenge");
    let c = ChallengeRepr::parse(&ch).expect("challenge");
    let key = Key::from_password(CONSOLE_PW).expect("key");
    let resp = CramResponse::compute(key.as_bytes(), c.token, B64::Bacula);
    let mut buf = [0u8; 64];
    let n = resp.emit(&mut buf).expect("emit");
    send_frame(&mut s, &buf[..n]).await;
    assert_eq!(recv_frame(&mut s).await.expect("ok"), b"1000 OK auth\n");
    send_frame(
        &mut s,
        b"auth cram-md5 <1.2@R_CONSOLE::*UserAgent*> ssl=0\n",
    )
    .await;
    let _ = recv_frame(&mut s).await.expect("answer");
    send_frame(&mut s, b"1000 OK auth\n").await;
    let banner = recv_frame(&mut s).await.expect("banner");
    assert_eq!(
        banner,
        format!("1000 OK: bareos-dir Version: {VERSION} ({BUILD_DATE}) --  Encryption: None\n")
            .as_bytes()
    );
}

#[tokio::test]
async fn maximum_console_connections_refuses_named_consoles_only() {
    let d = start(Variant::Clear).await;
    // Rewrite the Director with Maximum Console Connections = 1 and reload.
    let conf = dir_conf(Variant::Clear).replacen(
        "  Maximum Concurrent Jobs = 10\n",
        "  Maximum Concurrent Jobs = 10\n  Maximum Console Connections = 1\n",
        1,
    );
    assert!(conf.contains("Maximum Console Connections = 1"));
    std::fs::write(d.config_path(), conf).expect("write");
    d.director.reload().expect("reload");
    let mut first = login(&d, "a.conf", CONSOLE_PW, Some(("limited", LIMITED_PW))).await;
    let conf = d.bconsole("b.conf", CONSOLE_PW, Some(("ref-admin", ADMIN_PW)));
    let t = load_target(&conf, None).expect("conf");
    assert!(
        Console::connect(&t, &opts()).await.is_err(),
        "second named console over the limit"
    );
    // The default console is only logged.
    let mut c = login(&d, "c.conf", CONSOLE_PW, None).await;
    assert!(c.command("version").await.is_ok());
    c.close().await;
    assert!(first.command("version").await.is_ok());
    first.close().await;
}

/// A stand-in job engine: proves the seam (requests reach it checked and typed, its reply
/// is framed like any other), not a job.
struct MockEngine;

impl director::ua::engine::JobEngine for MockEngine {
    fn execute<'a>(
        &'a self,
        session: &'a director::ua::Session,
        request: director::ua::engine::Request,
    ) -> director::ua::engine::EngineFuture<'a> {
        Box::pin(async move {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            let mut r = director::ua::Reply::default();
            let line = match &request {
                director::ua::engine::Request::Run(run) => {
                    format!("mock engine: run {} for {}\n", run.job, session.console)
                }
                other => format!("mock engine: {other:?}\n"),
            };
            r.text(line.clone());
            r.result.set(
                "mock",
                director::json::Json::str(line.trim_end().to_string()),
            );
            r
        })
    }
}

#[tokio::test]
async fn engine_seam_receives_checked_requests() {
    let d = start_engine(Variant::Clear, std::sync::Arc::new(MockEngine)).await;
    let mut c = login(&d, "bconsole.conf", CONSOLE_PW, None).await;
    let r = c.command("run job=capbackup yes").await.expect("run");
    assert_eq!(r.text(), "mock engine: run CapBackup for *UserAgent*\n");
    assert_eq!(r.signals(), vec![Signal::Eod]);
    // Checked before the engine sees it.
    let r = c.command("run job=Nope yes").await.expect("run");
    assert_eq!(r.text(), "Job \"Nope\" not found\n");
    c.command(".api 2").await.expect("api");
    let r = c.command("run job=CapBackup").await.expect("run");
    assert_eq!(
        r.signals(),
        vec![Signal::CmdBegin, Signal::CmdOk, Signal::MainPrompt]
    );
    assert!(r.text().contains(
        "\"result\": {\n    \"mock\": \"mock engine: run CapBackup for *UserAgent*\"\n  }"
    ));
    c.close().await;
}

#[tokio::test]
async fn reload_forgets_the_handshake_probing_results() {
    use barque_common::conn::{accept, connect_probing, PeerLookup};
    let d = start(Variant::Clear).await;
    // A stand-in File daemon (barque-common's accept) that knows the Director.
    let fd = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let fd_port = fd.local_addr().expect("addr").port();
    let clear = TlsSettings {
        enable: false,
        require: false,
        ..TlsSettings::default()
    };
    let fd_tls = clear.clone();
    let server = tokio::spawn(async move {
        let (tcp, _) = fd.accept().await.expect("accept");
        let local = Local::new(ResourceType::Client, "bareos-fd", fd_tls.clone());
        let lookup: std::sync::Arc<dyn PeerLookup> =
            std::sync::Arc::new(move |kind: ResourceType, name: &str| {
                (kind == ResourceType::Director && name == "bareos-dir").then(|| Peer {
                    kind,
                    name: name.into(),
                    key: Key::from_password("ref-fd-password").expect("key"),
                    address: String::new(),
                    port: 0,
                    tls: fd_tls.clone(),
                })
            });
        accept(tcp, &local, lookup, &opts()).await.map(|_| ())
    });
    let local = Local::new(ResourceType::Director, "bareos-dir", clear.clone());
    let client = Peer {
        kind: ResourceType::Client,
        name: "bareos-fd".into(),
        key: Key::from_password("ref-fd-password").expect("key"),
        address: "127.0.0.1".into(),
        port: fd_port,
        tls: clear,
    };
    let (_conn, probed) = connect_probing(&d.director.probe, &local, &client, &opts())
        .await
        .expect("probe");
    assert!(probed.probed);
    server.await.expect("join").expect("fd accept");
    assert_eq!(
        d.director.probe.get("bareos-fd"),
        Some(HandshakeMode::Cleartext)
    );
    let mut c = login(&d, "bconsole.conf", CONSOLE_PW, None).await;
    assert_eq!(
        c.command("reload").await.expect("reload").text(),
        "reloaded\n"
    );
    assert_eq!(d.director.probe.get("bareos-fd"), None, "reset by reload");
    c.close().await;
}

#[tokio::test]
async fn queued_messages_are_announced_once_and_read_with_messages() {
    let d = start(Variant::Clear).await;
    let mut c = login(&d, "bconsole.conf", CONSOLE_PW, None).await;
    d.director
        .post_console_message("22-Nov 15:46 bareos-dir JobId 1: a queued message\n");
    // vectors/clear-backup-full conn 1 msgs 15-16: `You have messages.\n`, then EOD.
    let r = c.command("version").await.expect("version");
    let t = data(&r);
    assert_eq!(t.last().map(String::as_str), Some("You have messages.\n"));
    assert_eq!(r.signals(), vec![Signal::Eod]);
    let r = c.command("version").await.expect("version");
    assert!(!r.text().contains("You have messages."), "announced once");
    let r = c.command("messages").await.expect("messages");
    assert_eq!(
        r.text(),
        "22-Nov 15:46 bareos-dir JobId 1: a queued message\n"
    );
    let r = c.command("messages").await.expect("messages");
    assert_eq!(r.text(), "You have no messages.\n");

    // API 2: BNET_MSGS_PENDING after the result, before MAIN_PROMPT.
    c.command(".api 2").await.expect("api");
    d.director.post_console_message("second\n");
    let r = c.command("version").await.expect("version");
    assert_eq!(
        r.signals(),
        vec![
            Signal::CmdBegin,
            Signal::CmdOk,
            Signal::MsgsPending,
            Signal::MainPrompt
        ]
    );
    c.command(".api 0").await.expect("api");
    // autodisplay on: shown right away, starting after the autodisplay command itself.
    let r = c.command("autodisplay on").await.expect("autodisplay");
    assert_eq!(r.text(), "second\n");
    d.director.post_console_message("third\n");
    let r = c.command("whoami").await.expect("whoami");
    assert_eq!(r.text(), "root\nthird\n");
    c.close().await;
}

#[tokio::test]
async fn quit_closes_without_eod() {
    let d = start(Variant::Clear).await;
    let mut c = login(&d, "bconsole.conf", CONSOLE_PW, None).await;
    let r = c.command("quit").await;
    assert!(r.is_err(), "the Director closes after quit: {r:?}");
}

#[tokio::test]
async fn hostile_input_after_login() {
    let d = start(Variant::Clear).await;
    let mut s = TcpStream::connect(("127.0.0.1", d.port))
        .await
        .expect("tcp");
    // Log in by hand (as in the replay test), then misbehave.
    send_frame(
        &mut s,
        b"Hello *UserAgent* calling version 26.0.0 Version=\"26.0.0\"\n",
    )
    .await;
    let ch = recv_frame(&mut s).await.expect("challenge");
    let c = ChallengeRepr::parse(&ch).expect("challenge");
    let key = Key::from_password(CONSOLE_PW).expect("key");
    let resp = CramResponse::compute(key.as_bytes(), c.token, B64::Bacula);
    let mut buf = [0u8; 64];
    let n = resp.emit(&mut buf).expect("emit");
    send_frame(&mut s, &buf[..n]).await;
    assert_eq!(recv_frame(&mut s).await.expect("ok"), b"1000 OK auth\n");
    send_frame(
        &mut s,
        b"auth cram-md5 <1.2@R_CONSOLE::*UserAgent*> ssl=0\n",
    )
    .await;
    let _ = recv_frame(&mut s).await.expect("answer");
    send_frame(&mut s, b"1000 OK auth\n").await;
    let _ = recv_frame(&mut s).await.expect("1000");
    let _ = recv_frame(&mut s).await.expect("1002");
    // A signal other than TERMINATE gets BNET_POLL (-5).
    s.write_all(&(-1i32).to_be_bytes()).await.expect("eod");
    assert_eq!(recv_frame(&mut s).await, Err(-5));
    // Invalid UTF-8 and unbalanced quotes are errors, not crashes.
    send_frame(&mut s, b"\xff\xfe run \"job").await;
    let t = recv_frame(&mut s).await.expect("reply");
    assert_eq!(t, b"unbalanced quotes in command\n");
    assert_eq!(recv_frame(&mut s).await, Err(-1));
    // A large command (within the frame limit) is handled.
    let big = format!("version {}", "x".repeat(900_000));
    send_frame(&mut s, big.as_bytes()).await;
    assert!(recv_frame(&mut s)
        .await
        .expect("version")
        .starts_with(b"bareos-dir Version: "));
    assert_eq!(recv_frame(&mut s).await, Err(-1));
    // A frame header over 1,000,000 bytes ends the session.
    s.write_all(&1_000_001i32.to_be_bytes())
        .await
        .expect("header");
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), s.read_to_end(&mut rest)).await;
    // The Director is still there.
    let mut c = login(&d, "bconsole.conf", CONSOLE_PW, None).await;
    assert!(c.command("version").await.is_ok());
    c.close().await;
}
