//! A test Director and a test Storage daemon over real TCP, built from fd-core's codecs and
//! authenticator (the same approach as fd-core/tests/fd_session.rs, on tokio sockets).
#![allow(dead_code)]

use std::collections::VecDeque;

use barque_common::tls::{self, Key, TlsSettings};
use fd_core::auth::{self, Authenticator, Role};
use fd_core::fd::conn::{Conn, Msg};
use fd_core::time::Instant;
use fd_core::wire::bnet::{Frame, Signal};
use fd_core::wire::dir_cmd::{EndJob, FdReply};
use fd_core::wire::stream::{AppendEvent, AppendTracker, RecHdr, Stream};
use fd_core::wire::tls_policy::TlsPolicy;
use fd_linux::net::{bulk_buffered, NetIo, NetStream};
use openssl::ssl::Ssl;
use tokio::net::{TcpListener, TcpStream};
use tokio_openssl::SslStream;

pub const KEY: &str = "ABCD-EFGH-IJKL-MNOP-ABCD-EFGH-IJKL-MNOP";
pub const JOB: &str = "Test.2026-11-22_16.00.00_01";

#[derive(Debug, Clone, PartialEq)]
pub enum Got {
    Data(Vec<u8>),
    Sig(Signal),
}

pub fn d(s: &str) -> Got {
    Got::Data(s.as_bytes().to_vec())
}

pub fn show(g: &Got) -> String {
    match g {
        Got::Data(d) => format!("{:?}", String::from_utf8_lossy(&d[..d.len().min(300)])),
        Got::Sig(s) => format!("<{s:?}>"),
    }
}

pub struct Peer {
    pub conn: Conn<NetIo<NetStream>>,
    pub buf: Vec<u8>,
}

impl Peer {
    pub fn new(s: NetStream) -> Self {
        Peer {
            conn: Conn::new(NetIo(s)),
            buf: vec![0; 1_100_000],
        }
    }
    pub async fn recv(&mut self) -> Option<Got> {
        match self.conn.recv(&mut self.buf).await {
            Ok(Msg::Data(d)) => Some(Got::Data(d.to_vec())),
            Ok(Msg::Signal(s)) => Some(Got::Sig(s)),
            Err(_) => None,
        }
    }
    pub async fn send(&mut self, g: &Got) {
        match g {
            Got::Data(d) => self.conn.send(d).await.expect("send"),
            Got::Sig(s) => self.conn.signal(*s).await.expect("signal"),
        }
    }
    pub async fn send_raw(&mut self, b: &[u8]) {
        self.conn.send_raw(b).await.expect("send raw");
    }
    pub async fn auth(&mut self, role: Role, key: &[u8], own: &[u8], tls: bool) -> auth::Event {
        let policy = if tls {
            TlsPolicy::Required
        } else {
            TlsPolicy::None
        };
        let mut cfg = auth::Config::new(role, key, own, policy, 12345, 1_795_362_414);
        cfg.tls_active = tls;
        let mut a = Authenticator::new(cfg, Instant::ZERO).expect("auth");
        let mut out = [0u8; auth::MAX_TRANSMIT_LEN];
        loop {
            while let Some(n) = a.poll_transmit(&mut out).expect("transmit") {
                self.conn.send_raw(&out[..n]).await.expect("send");
            }
            if let Some(ev) = a.poll_event() {
                return ev;
            }
            match self.recv().await {
                Some(Got::Data(d)) => a.handle_frame(Instant::ZERO, Frame::Data(&d)),
                Some(Got::Sig(s)) => a.handle_frame(Instant::ZERO, Frame::Signal(s)),
                None => return auth::Event::Failed(fd_core::auth::AuthError::Rejected),
            }
        }
    }
}

pub fn md5_hex(pw: &str) -> String {
    fd_core::wire::psk::PasswordKey::from_config(pw.as_bytes())
        .map(|k| String::from_utf8_lossy(k.as_bytes()).into_owned())
        .expect("key")
}

/// Connect as the Director `bareos-dir`: TLS-PSK first if `tls`, hello, CRAM-MD5, and the
/// FD's `2000 OK Hello 54`.
pub async fn director_connect(port: u16, tls: bool) -> Peer {
    let tcp = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let key = md5_hex(super::FD_PW);
    let s = if tls {
        let ctx = tls::client_context(
            &TlsSettings::default(),
            Some((b"R_DIRECTOR\x1ebareos-dir".to_vec(), Key::raw(key.clone()))),
        )
        .expect("ctx");
        let mut s = SslStream::new(Ssl::new(&ctx).expect("ssl"), tcp).expect("ssl stream");
        std::pin::Pin::new(&mut s)
            .connect()
            .await
            .expect("TLS-PSK handshake");
        NetStream::Tls(Box::new(s))
    } else {
        NetStream::Plain(tcp)
    };
    let mut p = Peer::new(s);
    // vectors/clear-backup-full conn 3 msg 1.
    p.send(&d("Hello Director bareos-dir calling Version=\"26.0.0\"\n"))
        .await;
    let ev = p
        .auth(
            Role::Outbound,
            key.as_bytes(),
            b"R_DIRECTOR::bareos-dir",
            tls,
        )
        .await;
    assert!(matches!(ev, auth::Event::Authenticated { .. }), "{ev:?}");
    // conn 3 msg 8.
    assert_eq!(p.recv().await, Some(d("2000 OK Hello 54\n")));
    p
}

fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

/// Send `cmds` (answering BTIME signals after a since_utime line), then collect the FD's
/// frames until it closes.
pub async fn director_run(p: Peer, cmds: Vec<Got>) -> Vec<Got> {
    director_run_inner(p, cmds, None).await
}

/// [`director_run`], except that the `backup` command waits for `gate`: the real Director
/// sends it only after the SD answered `passive client`, which the real SD does only after it
/// has authenticated with the FD.
pub async fn director_run_gated(
    p: Peer,
    cmds: Vec<Got>,
    gate: tokio::sync::oneshot::Receiver<()>,
) -> Vec<Got> {
    director_run_inner(p, cmds, Some(gate)).await
}

async fn director_run_inner(
    mut p: Peer,
    cmds: Vec<Got>,
    mut gate: Option<tokio::sync::oneshot::Receiver<()>>,
) -> Vec<Got> {
    let mut out = Vec::new();
    let mut pending: VecDeque<Got> = cmds.into();
    let mut hold = false;
    loop {
        while !hold {
            let Some(c) = pending.pop_front() else { break };
            if matches!(&c, Got::Data(x) if x.starts_with(b"backup ")) {
                if let Some(g) = gate.take() {
                    g.await.expect("the SD gave up before authenticating");
                }
            }
            hold = matches!(&c, Got::Data(x) if x.starts_with(b"level = since_utime"));
            p.send(&c).await;
        }
        match p.recv().await {
            None => return out,
            Some(Got::Sig(Signal::Btime)) => {
                p.send(&d(&format!("btime {}\n", now_micros()))).await;
            }
            Some(g) => {
                if g == d("2000 OK level\n") {
                    hold = false;
                }
                out.push(g);
            }
        }
    }
}

/// A passive SD as the real one behaves: dial the FD port (TLS-PSK first with the identity
/// `R_JOB` RS «Job» and the session key when `tls`), say hello, authenticate, and only then
/// (`authenticated`) let the Director go on; then take the backup's records.
pub async fn sd_passive_append_real_order(
    fd_port: u16,
    tls: bool,
    authenticated: tokio::sync::oneshot::Sender<()>,
) -> Records {
    let tcp = TcpStream::connect(("127.0.0.1", fd_port))
        .await
        .expect("connect");
    let s = if tls {
        let ctx = tls::client_context(
            &TlsSettings::default(),
            Some((
                format!("R_JOB\x1e{JOB}").into_bytes(),
                Key::raw(KEY.as_bytes().to_vec()),
            )),
        )
        .expect("ctx");
        let mut s = SslStream::new(Ssl::new(&ctx).expect("ssl"), tcp).expect("ssl stream");
        std::pin::Pin::new(&mut s)
            .connect()
            .await
            .expect("TLS-PSK handshake with the FD as passive SD");
        NetStream::Tls(Box::new(s))
    } else {
        NetStream::Plain(tcp)
    };
    let mut s = Peer::new(s);
    s.send(&d(&format!(
        "Hello Storage calling Start Job {JOB} Version=\"26.0.0\"\n"
    )))
    .await;
    let ev = s
        .auth(Role::Outbound, KEY.as_bytes(), b"File daemon", tls)
        .await;
    assert!(matches!(ev, auth::Event::Authenticated { .. }), "{ev:?}");
    let _ = authenticated.send(());
    append_loop(s).await
}

pub fn end_job(frames: &[Got]) -> EndJob {
    frames
        .iter()
        .find_map(|g| match g {
            Got::Data(x) => match FdReply::parse(x) {
                Ok(FdReply::EndJob(e)) => Some(e),
                _ => None,
            },
            _ => None,
        })
        .unwrap_or_else(|| {
            panic!(
                "no End Job line in {:?}",
                frames.iter().map(show).collect::<Vec<_>>()
            )
        })
}

/// Backup commands as the Director sends them (vectors/clear-backup-full conn 3 shape).
pub fn backup_commands(
    level: &str,
    since: i64,
    options: &str,
    roots: &[&[u8]],
    sd_port: u16,
    ssl: u8,
) -> Vec<Got> {
    let mut v = vec![
        d(&format!(
            "JobId=7 Job={JOB} SDid=3 SDtime=1795365000 Authorization={KEY}\n"
        )),
        d(&format!("level = {level}  mtime_only=0 \n")),
    ];
    if level != "full" {
        v.push(d(&format!(
            "level = since_utime {since} mtime_only=0 prev_job=Test.2026-11-22_15.00.00_01\n"
        )));
    }
    v.extend([
        d("fileset vss=1\n"),
        d("I\n"),
        d(&format!("O {options}\n")),
        d("N\n"),
    ]);
    for r in roots {
        let mut f = b"F ".to_vec();
        f.extend_from_slice(r);
        v.push(Got::Data(f));
    }
    v.extend([
        d("N\n"),
        d("N\n"),
        Got::Sig(Signal::Eod),
        d("getSecureEraseCmd\n"),
        d(&format!(
            "storage address=127.0.0.1 port={sd_port} ssl={ssl}\n"
        )),
        d("backup FileIndex=0\n"),
    ]);
    v
}

pub type Records = Vec<(i32, i32, Vec<u8>)>;

async fn sd_accept(l: &TcpListener, tls: bool) -> Peer {
    sd_accept_as(l, tls, JOB, KEY).await
}

async fn sd_accept_as(l: &TcpListener, tls: bool, job: &'static str, key: &'static str) -> Peer {
    let (tcp, _) = l.accept().await.expect("sd accept");
    let s = if tls {
        let slot = std::sync::Arc::new(std::sync::Mutex::new(tls::PskOutcome::NotUsed));
        let lookup: tls::PskLookup = std::sync::Arc::new(move |kind, name| {
            (kind == fd_core::wire::psk::ResourceType::Job && name == job)
                .then(|| Key::raw(key.as_bytes().to_vec()))
        });
        let ctx = tls::server_context(&TlsSettings::default(), lookup, slot).expect("ctx");
        // Read buffer under TLS: one `recv()` per 256 KiB, not per 16 KiB record (the
        // benchmark's sink must cost little next to the FD it measures).
        let mut s =
            SslStream::new(Ssl::new(&ctx).expect("ssl"), bulk_buffered(tcp, false)).expect("ssl");
        std::pin::Pin::new(&mut s)
            .accept()
            .await
            .expect("SD TLS-PSK accept");
        NetStream::TlsBuffered(Box::new(s))
    } else {
        NetStream::Plain(tcp)
    };
    Peer::new(s)
}

/// A Storage daemon that accepts one append session and returns its records.
pub async fn sd_append(l: &TcpListener, tls: bool) -> Records {
    sd_append_as(l, tls, JOB, KEY).await
}

/// [`sd_append`] for job `job` with session key `key`.
pub async fn sd_append_as(
    l: &TcpListener,
    tls: bool,
    job: &'static str,
    key: &'static str,
) -> Records {
    let mut s = sd_accept_as(l, tls, job, key).await;
    let hello = s.recv().await.expect("hello");
    assert_eq!(
        hello,
        d(&format!("Hello Start Job {job} Version=\"26.0.0\"\n"))
    );
    let ev = s
        .auth(Role::Inbound, key.as_bytes(), b"R_STORAGE::bareos-sd", tls)
        .await;
    assert!(matches!(ev, auth::Event::Authenticated { .. }));
    append_loop(s).await
}

/// Passive mode (vectors/clear-backup-passive conn 4): the SD dials the FD, says `Hello
/// Storage calling Start Job`, authenticates as the outbound side with the session key and
/// then serves the append session.
pub async fn sd_passive_append(fd_port: u16) -> Records {
    let tcp = TcpStream::connect(("127.0.0.1", fd_port))
        .await
        .expect("connect");
    let mut s = Peer::new(NetStream::Plain(tcp));
    s.send(&d(&format!(
        "Hello Storage calling Start Job {JOB} Version=\"26.0.0\"\n"
    )))
    .await;
    let ev = s
        .auth(Role::Outbound, KEY.as_bytes(), b"File daemon", false)
        .await;
    assert!(matches!(ev, auth::Event::Authenticated { .. }), "{ev:?}");
    append_loop(s).await
}

async fn append_loop(mut s: Peer) -> Records {
    let mut records = Vec::new();
    let mut tracker = AppendTracker::new(false);
    let mut in_data = false;
    while let Some(g) = s.recv().await {
        if in_data {
            let ev = match &g {
                Got::Data(x) => tracker.on_message(x).map(|e| {
                    if let AppendEvent::Data { header, data } = e {
                        records.push((header.file_index, header.stream.0, data.to_vec()));
                    }
                    false
                }),
                Got::Sig(Signal::Eod) => tracker
                    .on_eod()
                    .map(|e| matches!(e, AppendEvent::EndOfData)),
                Got::Sig(Signal::Terminate) => return records,
                Got::Sig(s) => panic!("signal {s:?} in the data phase"),
            };
            if ev.expect("FD broke the SD's data-phase rules") {
                in_data = false;
                s.send(&d("3000 OK append data\n")).await;
            }
            continue;
        }
        match g {
            Got::Data(x) if x == b"append open session\n" => {
                s.send(&d("3000 OK open ticket = 3\n")).await
            }
            Got::Data(x) if x == b"append data 3\n" => {
                s.send(&d("3000 OK data\n")).await;
                in_data = true;
            }
            Got::Data(x) if x == b"append end session 3\n" => s.send(&d("3000 OK end\n")).await,
            Got::Data(x) if x == b"append close session 3\n" => {
                s.send(&d("3000 OK close Status = 84\n")).await;
                s.send(&Got::Sig(Signal::Eod)).await;
            }
            Got::Sig(Signal::Terminate) => return records,
            other => panic!("unexpected frame to the SD: {}", show(&other)),
        }
    }
    records
}

pub fn restore_commands(sd_port: u16, where_: &str) -> Vec<Got> {
    vec![
        d(&format!(
            "JobId=8 Job={JOB} SDid=3 SDtime=1795365000 Authorization={KEY}\n"
        )),
        d("getSecureEraseCmd\n"),
        d(&format!(
            "storage address=127.0.0.1 port={sd_port} ssl=0 Authorization={KEY}\n"
        )),
        d(&format!("restore replace=a prelinks=0 where={where_}\n")),
        d("endrestore"),
    ]
}

/// A Storage daemon serving `records` to one read session; with `truncate_at = Some(k)` it
/// closes the connection before record `k` (a truncated data stream).
pub async fn sd_read(l: &TcpListener, records: &Records, truncate_at: Option<usize>) {
    let mut s = sd_accept(l, false).await;
    let _hello = s.recv().await;
    let ev = s
        .auth(
            Role::Inbound,
            KEY.as_bytes(),
            b"R_STORAGE::bareos-sd",
            false,
        )
        .await;
    assert!(matches!(ev, auth::Event::Authenticated { .. }));
    // vectors/clear-restore conn 4 msg 8 shape.
    let open = s.recv().await;
    assert!(
        matches!(&open, Some(Got::Data(x)) if x.starts_with(b"read open session")),
        "{open:?}"
    );
    s.send(&d("3000 OK open ticket = 3\n")).await;
    assert_eq!(s.recv().await, Some(d("read data 3\n")));
    s.send(&d("3000 OK data\n")).await;
    for (k, (fi, stream, data)) in records.iter().enumerate() {
        if truncate_at == Some(k) {
            return;
        }
        let h = RecHdr {
            vol_session_id: 1,
            vol_session_time: 1_795_365_000,
            file_index: *fi,
            stream: Stream(*stream),
            data_len: data.len() as u32,
        };
        let mut b = [0u8; 64];
        let n = h.emit(&mut b).expect("rechdr");
        s.send(&Got::Data(b[..n].to_vec())).await;
        s.send(&Got::Data(data.clone())).await;
    }
    s.send(&Got::Sig(Signal::Eod)).await;
    assert_eq!(s.recv().await, Some(d("read close session 3\n")));
    s.send(&d("3000 OK close Status = 82\n")).await;
    s.send(&Got::Sig(Signal::Eod)).await;
    while s.recv().await.is_some() {}
}

/// A Storage daemon that accepts one append session and only counts: (records, data bytes).
/// For benchmarks: nothing is stored.
pub async fn sd_append_discard(l: &TcpListener, tls: bool) -> (u64, u64) {
    let mut s = sd_accept(l, tls).await;
    let _hello = s.recv().await.expect("hello");
    let ev = s
        .auth(Role::Inbound, KEY.as_bytes(), b"R_STORAGE::bareos-sd", tls)
        .await;
    assert!(matches!(ev, auth::Event::Authenticated { .. }));
    let (mut records, mut bytes) = (0u64, 0u64);
    let mut tracker = AppendTracker::new(false);
    let mut in_data = false;
    loop {
        // Receive without copying the payload out of the peer's buffer.
        let msg = match s.conn.recv(&mut s.buf).await {
            Ok(m) => m,
            Err(_) => return (records, bytes),
        };
        if in_data {
            let end = match msg {
                Msg::Data(x) => tracker.on_message(x).map(|e| {
                    if let AppendEvent::Data { data, .. } = e {
                        records += 1;
                        bytes += data.len() as u64;
                    }
                    false
                }),
                Msg::Signal(Signal::Eod) => tracker
                    .on_eod()
                    .map(|e| matches!(e, AppendEvent::EndOfData)),
                Msg::Signal(_) => return (records, bytes),
            };
            if end.expect("data-phase rules") {
                in_data = false;
                s.send(&d("3000 OK append data\n")).await;
            }
            continue;
        }
        let g = match msg {
            Msg::Data(x) => Got::Data(x.to_vec()),
            Msg::Signal(sig) => Got::Sig(sig),
        };
        match g {
            Got::Data(x) if x == b"append open session\n" => {
                s.send(&d("3000 OK open ticket = 3\n")).await
            }
            Got::Data(x) if x == b"append data 3\n" => {
                s.send(&d("3000 OK data\n")).await;
                in_data = true;
            }
            Got::Data(x) if x == b"append end session 3\n" => s.send(&d("3000 OK end\n")).await,
            Got::Data(x) if x == b"append close session 3\n" => {
                s.send(&d("3000 OK close Status = 84\n")).await;
                s.send(&Got::Sig(Signal::Eod)).await;
            }
            _ => return (records, bytes),
        }
    }
}
