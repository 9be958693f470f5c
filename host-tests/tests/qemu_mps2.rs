//! QEMU tier 2: boards/qemu-mps2 built for thumbv7em-none-eabihf and booted in
//! `qemu-system-arm -M mps2-an386` with QEMU's user network.
//!
//! - `qemu_mps2_firmware_boots_and_runs_the_device_layer` checks, from the semihosting
//!   console, that fd-embedded's device layer ran on a real Cortex-M4 core (A/B restore
//!   through fd-core's `FileSink`, boot record, refusal of the active slot, persistence) and
//!   that with no Director listening the network phase gives up cleanly.
//! - `qemu_mps2_firmware_backs_up_to_a_host_director` runs a test Director and a test SD on
//!   127.0.0.1 (threads, std sockets, fd-core codecs); the firmware, through its LAN9118
//!   driver, embassy-net and fd-embedded, dials the Director at 10.0.2.2 (QEMU's alias of the
//!   host) in client-initiated mode, and the Director orders a Full backup of `/firmware`
//!   whose data must equal the images the firmware provisioned. Plain TCP.
//! - `qemu_mps2_firmware_backs_up_over_tls_psk`: the same with TLS-PSK on both connections,
//!   the firmware's embedded-tls client against fd-core's TLS server as the test Director
//!   and SD; the host passes 32 bytes of entropy on the command line (mps2-an386 has no
//!   RNG).
//!
//! Needs `qemu-system-arm` (scripts/setup installs it) and the thumbv7em target; fails, not
//! skips, when either is missing.

mod support;

use std::time::Duration;

use support::qemu::{firmware, image, qemu_command};

#[test]
fn qemu_mps2_firmware_boots_and_runs_the_device_layer() {
    let elf = firmware();
    // Port 1: nothing listens there, so the network phase must give up cleanly.
    let mut child = qemu_command(&elf, "1", false)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("qemu-system-arm (apt-get install qemu-system-arm)");
    // A hang is a failure: kill after 60 s.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("QEMU did not exit within 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("output");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "firmware exit status {:?}:\n{text}",
        out.status
    );
    for line in [
        "barque fd-embedded on mps2-an386: boot",
        "ok: restore slot B (erase, write, read-back verify)",
        "ok: slot B pending with the image's SHA-256",
        "ok: boot_select verifies and activates B",
        "ok: restore to the active slot refused",
        "ok: boot record persisted across reopen",
        "RESULT=ok",
        "lan9118: up",
        "NET=no Director",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
}

// ---------------------------------------------------------------------------------------
// The networked run
// ---------------------------------------------------------------------------------------

use embedded_io_async::{ErrorKind, ErrorType, Read, Write};
use fd_core::auth::{self, Authenticator, Role};
use fd_core::fd::conn::{Conn, Msg};
use fd_core::time::Instant;
use fd_core::wire::bnet::{Frame, Signal};
use fd_core::wire::tls_policy::TlsPolicy;
use fd_embedded::net::TlsServerStream;

/// The one PSK a test peer accepts.
struct OnePsk {
    identity: Vec<u8>,
    key: Vec<u8>,
}

impl fd_core::tls::PskStore for OnePsk {
    fn lookup(&mut self, identity: &[u8], key: &mut [u8]) -> Option<usize> {
        let out = key.get_mut(..self.key.len())?;
        (identity == self.identity.as_slice()).then(|| {
            out.copy_from_slice(&self.key);
            self.key.len()
        })
    }
}

/// A test peer's connection: plain, or fd-core's TLS server over it.
enum PeerIo {
    Plain(StdStream),
    Tls(Box<TlsServerStream<'static, StdStream, OnePsk, rand_core::OsRng>>),
}

impl ErrorType for PeerIo {
    type Error = ErrorKind;
}
impl Read for PeerIo {
    async fn read(&mut self, b: &mut [u8]) -> Result<usize, ErrorKind> {
        match self {
            PeerIo::Plain(s) => s.read(b).await,
            PeerIo::Tls(t) => t.read(b).await.map_err(|_| ErrorKind::Other),
        }
    }
}
impl Write for PeerIo {
    async fn write(&mut self, b: &[u8]) -> Result<usize, ErrorKind> {
        match self {
            PeerIo::Plain(s) => s.write(b).await,
            PeerIo::Tls(t) => t.write(b).await.map_err(|_| ErrorKind::Other),
        }
    }
    async fn flush(&mut self) -> Result<(), ErrorKind> {
        match self {
            PeerIo::Plain(s) => s.flush().await,
            PeerIo::Tls(t) => t.flush().await.map_err(|_| ErrorKind::Other),
        }
    }
}

/// A blocking std socket as an embedded-io-async stream (each peer runs on its own thread).
struct StdStream(std::net::TcpStream);

impl ErrorType for StdStream {
    type Error = ErrorKind;
}
impl Read for StdStream {
    async fn read(&mut self, b: &mut [u8]) -> Result<usize, ErrorKind> {
        std::io::Read::read(&mut self.0, b).map_err(|_| ErrorKind::Other)
    }
}
impl Write for StdStream {
    async fn write(&mut self, b: &[u8]) -> Result<usize, ErrorKind> {
        std::io::Write::write(&mut self.0, b).map_err(|_| ErrorKind::Other)
    }
    async fn flush(&mut self) -> Result<(), ErrorKind> {
        Ok(())
    }
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    struct W;
    impl std::task::Wake for W {
        fn wake(self: std::sync::Arc<Self>) {}
    }
    let waker = std::task::Waker::from(std::sync::Arc::new(W));
    let mut cx = std::task::Context::from_waker(&waker);
    let mut f = std::pin::pin!(f);
    loop {
        if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Got {
    Data(Vec<u8>),
    Sig(Signal),
}

struct Peer<S = StdStream> {
    conn: Conn<S>,
    buf: Vec<u8>,
}

impl<S: Read + Write> Peer<S> {
    async fn recv(&mut self) -> Option<Got> {
        match self.conn.recv(&mut self.buf).await {
            Ok(Msg::Data(d)) => Some(Got::Data(d.to_vec())),
            Ok(Msg::Signal(s)) => Some(Got::Sig(s)),
            Err(_) => None,
        }
    }
    async fn send(&mut self, s: &str) {
        self.conn.send(s.as_bytes()).await.expect("send");
    }
    async fn auth(&mut self, key: &[u8], own: &[u8]) -> auth::Event {
        let cfg = auth::Config::new(
            Role::Inbound,
            key,
            own,
            TlsPolicy::None,
            4242,
            1_795_365_100,
        );
        let mut a = Authenticator::new(cfg, Instant::ZERO).unwrap();
        let mut out = [0u8; auth::MAX_TRANSMIT_LEN];
        loop {
            while let Some(n) = a.poll_transmit(&mut out).unwrap() {
                self.conn.send_raw(&out[..n]).await.unwrap();
            }
            if let Some(ev) = a.poll_event() {
                return ev;
            }
            match self.recv().await.expect("closed during auth") {
                Got::Data(d) => a.handle_frame(Instant::ZERO, Frame::Data(&d)),
                Got::Sig(s) => a.handle_frame(Instant::ZERO, Frame::Signal(s)),
            }
        }
    }
}

const KEY: &str = "ABCD-EFGH-IJKL-MNOP-ABCD-EFGH-IJKL-MNOP";
const JOB: &str = "Qemu.2026-11-22_16.00.00_01";
/// The CRAM-MD5 key compiled into boards/qemu-mps2.
const FD_KEY: &[u8] = b"8a0b4b4ee8bcb1f5d4d36af1e2a0e3cb";

#[test]
fn qemu_mps2_firmware_backs_up_to_a_host_director() {
    backup_to_host_director(false);
}

/// The same backup with TLS-PSK on both connections: the firmware's embedded-tls client
/// (max_fragment_length 4096, entropy from the host on the command line) against fd-core's
/// TLS server (`TlsServerStream`) as the test Director (identity `R_CLIENT` 0x1E `qemu-fd`)
/// and as the test SD (identity `R_JOB` 0x1E «Job», the job's key).
#[test]
fn qemu_mps2_firmware_backs_up_over_tls_psk() {
    backup_to_host_director(true);
}

/// Serve `s` as a TLS-PSK server when `tls` (fd-core's TLS server), or in cleartext.
fn accept_as<R>(
    s: std::net::TcpStream,
    tls: bool,
    identity: Vec<u8>,
    key: Vec<u8>,
    run: impl AsyncFnOnce(&mut Peer<PeerIo>) -> R,
) -> R {
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    block_on(async {
        let io = if tls {
            // Leaked: a few test buffers, for the 'static of the stream type.
            let bufs = fd_core::tls::Buffers {
                rx: Box::leak(vec![0u8; 17_000].into_boxed_slice()),
                tx: Box::leak(vec![0u8; 17_000].into_boxed_slice()),
                handshake: Box::leak(vec![0u8; 4096].into_boxed_slice()),
            };
            let mut t = TlsServerStream::new(
                StdStream(s),
                fd_core::tls::ServerConfig::default(),
                OnePsk { identity, key },
                rand_core::OsRng,
                bufs,
            );
            t.handshake()
                .await
                .expect("TLS-PSK handshake with the firmware");
            PeerIo::Tls(Box::new(t))
        } else {
            PeerIo::Plain(StdStream(s))
        };
        let mut p = Peer {
            conn: Conn::new(io),
            buf: vec![0; 70_000],
        };
        run(&mut p).await
    })
}

fn backup_to_host_director(tls: bool) {
    let elf = firmware();
    let dir_l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let sd_l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dir_port = dir_l.local_addr().unwrap().port();
    let sd_port = sd_l.local_addr().unwrap().port();
    let director = std::thread::spawn(move || {
        let s = accept_within(&dir_l, "Director");
        let id = b"R_CLIENT\x1eqemu-fd".to_vec();
        accept_as(s, tls, id, FD_KEY.to_vec(), async |p| {
            assert_eq!(
                p.recv().await,
                Some(Got::Data(
                    b"Hello Client qemu-fd FdProtocolVersion=54 calling Version=\"26.0.0\"\n"
                        .to_vec()
                ))
            );
            let ev = p.auth(FD_KEY, b"R_DIRECTOR::bareos-dir").await;
            assert!(matches!(ev, auth::Event::Authenticated { .. }), "{ev:?}");
            p.send("1000 OK: bareos-dir Version: 26.0.0~pre1298.eda204c31 (21 August 2026)\n")
                .await;
            for c in [
                format!("JobId=9 Job={JOB} SDid=3 SDtime=1795365000 Authorization={KEY}\n"),
                "level = full  mtime_only=0 \n".into(),
                "fileset vss=1\n".into(),
                "I\n".into(),
                "O S2HAX\n".into(),
                "N\n".into(),
                "F /firmware".into(),
                "N\n".into(),
                "N\n".into(),
            ] {
                p.send(&c).await;
            }
            p.conn.signal(Signal::Eod).await.unwrap();
            p.send("getSecureEraseCmd\n").await;
            let storage = if tls {
                format!("storage address=10.0.2.2 port={sd_port} ssl=4 Authorization={KEY}\n")
            } else {
                format!("storage address=10.0.2.2 port={sd_port} ssl=0\n")
            };
            p.send(&storage).await;
            p.send("backup FileIndex=0\n").await;
            let mut out = Vec::new();
            while let Some(g) = p.recv().await {
                let end = matches!(&g, Got::Data(x) if x.starts_with(b"2800 End Job"));
                out.push(g);
                if end {
                    break;
                }
            }
            let _ = p.conn.signal(Signal::Terminate).await;
            out
        })
    });
    let sd = std::thread::spawn(move || {
        let s = accept_within(&sd_l, "SD");
        let id = format!("R_JOB\x1e{JOB}").into_bytes();
        accept_as(s, tls, id, KEY.as_bytes().to_vec(), async |p| {
            assert_eq!(
                p.recv().await,
                Some(Got::Data(
                    format!("Hello Start Job {JOB} Version=\"26.0.0\"\n").into_bytes()
                ))
            );
            let ev = p.auth(KEY.as_bytes(), b"R_STORAGE::bareos-sd").await;
            assert!(matches!(ev, auth::Event::Authenticated { .. }));
            let mut tracker = fd_core::wire::stream::AppendTracker::new(false);
            let mut records: Vec<(i32, i32, Vec<u8>)> = Vec::new();
            let mut in_data = false;
            while let Some(g) = p.recv().await {
                if in_data {
                    let end = match &g {
                        Got::Data(x) => tracker.on_message(x).map(|e| {
                            if let fd_core::wire::stream::AppendEvent::Data { header, data } = e {
                                records.push((header.file_index, header.stream.0, data.to_vec()));
                            }
                            false
                        }),
                        Got::Sig(Signal::Eod) => tracker
                            .on_eod()
                            .map(|e| matches!(e, fd_core::wire::stream::AppendEvent::EndOfData)),
                        Got::Sig(_) => break,
                    };
                    if end.expect("data-phase rules") {
                        in_data = false;
                        p.send("3000 OK append data\n").await;
                    }
                    continue;
                }
                match g {
                    Got::Data(x) if x == b"append open session\n" => {
                        p.send("3000 OK open ticket = 3\n").await
                    }
                    Got::Data(x) if x == b"append data 3\n" => {
                        p.send("3000 OK data\n").await;
                        in_data = true;
                    }
                    Got::Data(x) if x == b"append end session 3\n" => p.send("3000 OK end\n").await,
                    Got::Data(x) if x == b"append close session 3\n" => {
                        p.send("3000 OK close Status = 84\n").await;
                        p.conn.signal(Signal::Eod).await.unwrap();
                    }
                    Got::Sig(Signal::Terminate) => break,
                    other => panic!("unexpected frame to the SD: {other:?}"),
                }
            }
            records
        })
    });
    // With TLS, 32 bytes of entropy from the host (the board has no RNG).
    let append = if tls {
        let mut seed = [0u8; 32];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut seed);
        format!("{dir_port} seed={}", hex::encode(seed))
    } else {
        dir_port.to_string()
    };
    let child = qemu_command(&elf, &append, true)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("qemu-system-arm");
    let out = wait_or_kill(child, Duration::from_secs(90));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let frames = director.join().expect("Director thread");
    let records = sd.join().expect("SD thread");
    let end = frames
        .iter()
        .find_map(|g| match g {
            Got::Data(x) => match fd_core::wire::dir_cmd::FdReply::parse(x) {
                Ok(fd_core::wire::dir_cmd::FdReply::EndJob(e)) => Some(e),
                _ => None,
            },
            _ => None,
        })
        .unwrap_or_else(|| panic!("no End Job; firmware said:\n{text}\nframes {frames:?}"));
    assert_eq!(
        end.term_code,
        fd_core::wire::codes::JobStatus::Terminated,
        "{text}"
    );
    assert_eq!(end.errors, 0);
    let data: Vec<u8> = records
        .iter()
        .filter(|r| r.1 == 2)
        .flat_map(|r| r.2.clone())
        .collect();
    let mut want = image(1, 12_000);
    want.extend(image(2, 12_000));
    assert!(
        data == want,
        "backed-up images differ from the firmware's ({} bytes)",
        data.len()
    );
    assert!(text.contains("lan9118: up"), "{text}");
    let mode = if tls {
        "net: TLS-PSK"
    } else {
        "net: plain TCP"
    };
    assert!(text.contains(mode), "{text}");
    assert!(text.contains("NET=ok JobId=9 files=3 errors=0"), "{text}");
    assert!(
        out.status.success(),
        "firmware exit status {:?}:\n{text}",
        out.status
    );
}

/// Accept one connection, or panic after 120 s (a firmware that never dials must fail the
/// test, not hang it).
fn accept_within(l: &std::net::TcpListener, who: &str) -> std::net::TcpStream {
    l.set_nonblocking(true).expect("nonblocking listener");
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        match l.accept() {
            Ok((s, _)) => {
                s.set_nonblocking(false).expect("blocking stream");
                return s;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                assert!(
                    std::time::Instant::now() < deadline,
                    "the firmware did not connect to the test {who} within 120 s"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("accept on the test {who}'s port: {e}"),
        }
    }
}

fn wait_or_kill(mut child: std::process::Child, limit: Duration) -> std::process::Output {
    let deadline = std::time::Instant::now() + limit;
    while child.try_wait().expect("wait").is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("output")
}
