//! Simulation tier 1 against the real daemons: the embedded File Daemon (fd-embedded's
//! device layer over emulated flash, fd-core's session engine at the RAM budget of
//! `fd_embedded::budget`, fd-embedded's network shell: fd-core's TLS-PSK server for the
//! Director's connection and the embedded-tls client for the data channel) serves
//! barque-dir and barque-sd, started as processes with a `barque-dir --init` configuration
//! (the helpers of e2e.rs, `support/`), driven by barque-console.
//!
//! Only the transport differs from a board: the device's TCP sockets are tokio's instead of
//! embassy-net's (`Dial` and `embedded-io-async` adapters below); every byte above TCP is
//! the firmware's code.
//!
//! Scenario (Director → FD, the mode barque-dir drives today; TLS-PSK as Bareos' default,
//! and cleartext):
//! 1. a Full backup of `/firmware` and `/data` (the three emulated partitions) ends OK and
//!    the catalog lists exactly the device's files;
//! 2. slot B is then overwritten on the device (a bad local update);
//! 3. a restore of `/firmware/slot-b.bin` from the Full, ordered through barque-console,
//!    ends OK; slot B is byte-identical to the backed-up image, the persisted boot record
//!    (read back from the state store after the device "reboots": re-opened from its flash)
//!    names B as pending with the image's SHA-256, and `boot_select` switches to B; slot A
//!    and the configuration are untouched.
//!
//! Needs the barque-dir, barque-sd and barque-console binaries (see e2e.rs "Binaries").

mod embedded_support;
mod support;

use std::cell::RefCell;
use std::net::Ipv4Addr;
use std::time::SystemTime;

use embedded_io_async::{ErrorKind, ErrorType, Read, Write};
use embedded_support::image;
use fd_core::fd::jobs::JobTable;
use fd_core::fd::platform::{Clock, Sha256Only};
use fd_core::fd::{Buffers, DirectorAuth, FdConfig, Services};
use fd_core::time::{Duration, Instant};
use fd_core::wire::hello::Version;
use fd_core::wire::psk::PasswordKey;
use fd_core::wire::tls_policy::TlsPolicy;
use fd_embedded::budget;
use fd_embedded::device::{Device, FlashSink, FlashSource};
use fd_embedded::flash::RamFlash;
use fd_embedded::net::{self as fnet, Dial, NetError, TlsConnector};
use fd_embedded::state::Slot;
use sha2::Digest as _;
use support::{console, file_lines, run_and_wait, start_with};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

type Part = RamFlash<65536, 4096>;
type KvFlash = RamFlash<8192, 1024>;
type Dev = Device<Part, KvFlash>;

/// Slot images spanning several 4 KiB data records, not multiples of the record size.
fn fw_a() -> Vec<u8> {
    image(11, 41_000)
}
fn fw_b() -> Vec<u8> {
    image(12, 37_123)
}
fn config_blob() -> Vec<u8> {
    b"director=127.0.0.1\nname=barque-fd\n".repeat(30)
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn content(dev: &mut Dev, i: usize) -> Vec<u8> {
    let len = dev.meta(i).expect("partition metadata").len;
    let mut v = vec![0; len as usize];
    dev.read(i, 0, &mut v).expect("read partition");
    v
}

// ---------------------------------------------------------------------------------------
// The transport: tokio sockets behind fd-embedded's `Dial`
// ---------------------------------------------------------------------------------------

struct TokioIo(tokio::net::TcpStream);

impl ErrorType for TokioIo {
    type Error = ErrorKind;
}

impl Read for TokioIo {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        self.0.read(buf).await.map_err(|_| ErrorKind::Other)
    }
}

impl Write for TokioIo {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        self.0.write(buf).await.map_err(|_| ErrorKind::Other)
    }
    async fn flush(&mut self) -> Result<(), ErrorKind> {
        self.0.flush().await.map_err(|_| ErrorKind::Other)
    }
}

/// Dials with tokio; accepts on the device's FD port.
struct TokioDial<'l>(Option<&'l tokio::net::TcpListener>);

impl Dial for TokioDial<'_> {
    type Socket = TokioIo;
    async fn dial(&mut self, addr: Ipv4Addr, port: u16) -> Result<TokioIo, NetError> {
        let s = tokio::net::TcpStream::connect((addr, port))
            .await
            .map_err(|_| NetError::Tcp)?;
        s.set_nodelay(true).map_err(|_| NetError::Tcp)?;
        Ok(TokioIo(s))
    }
    async fn accept(&mut self) -> Result<TokioIo, NetError> {
        let l = self.0.ok_or(NetError::NotSupported)?;
        let (s, _) = l.accept().await.map_err(|_| NetError::Tcp)?;
        s.set_nodelay(true).map_err(|_| NetError::Tcp)?;
        Ok(TokioIo(s))
    }
}

/// fd-core's clock on the host's clocks and tokio timers.
struct HostClock(std::time::Instant);

impl Clock for HostClock {
    fn unix_time(&self) -> i64 {
        unix_now()
    }
    fn now(&self) -> Instant {
        Instant::from_micros(self.0.elapsed().as_micros() as i64)
    }
    async fn sleep_until(&self, deadline: Instant) {
        let wait = deadline.total_micros() - self.now().total_micros();
        if wait > 0 {
            tokio::time::sleep(std::time::Duration::from_micros(wait as u64)).await;
        }
    }
}

// ---------------------------------------------------------------------------------------
// The device as a File Daemon process
// ---------------------------------------------------------------------------------------

/// The Director entry of the generated bareos-fd.conf: (name, password).
fn fd_director(work: &std::path::Path) -> (String, String) {
    let text = std::fs::read_to_string(work.join("etc/bareos-fd.conf")).expect("bareos-fd.conf");
    let block = text
        .split("Director {")
        .nth(1)
        .expect("a Director resource in bareos-fd.conf");
    let value = |key: &str| {
        block
            .lines()
            .find_map(|l| l.trim().strip_prefix(key))
            .and_then(|v| v.trim().strip_prefix('='))
            .map(|v| v.trim().trim_matches('"').to_string())
            .unwrap_or_else(|| panic!("no {key} in the Director resource of bareos-fd.conf"))
    };
    (value("Name"), value("Password"))
}

/// How the device meets the Director and the SD.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    /// The Director dials the device (TLS-PSK: fd-core's TLS server), the device dials the SD.
    Active { tls: bool },
    /// The Director dials the device, the SD dials the device too (`Passive = yes`); TLS-PSK
    /// on both (fd-core's TLS server) or cleartext.
    Passive { tls: bool },
    /// The device dials the Director at this port (TLS-PSK: embedded-tls) and waits there for
    /// jobs; it dials the SD.
    ClientInitiated { dir_port: u16 },
}

/// A running device: serves Director connections on `127.0.0.1:port` (or, client-initiated,
/// keeps one connection to the Director) until stopped.
struct DeviceFd {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Box<Dev>>>,
}

impl DeviceFd {
    fn start(dev: Box<Dev>, port: u16, director: (String, String), mode: Mode) -> DeviceFd {
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("device-fd".into())
            // The emulated flashes move by value in debug builds.
            .stack_size(64 << 20)
            .spawn(move || serve(dev, port, director, mode, stopped, ready_tx))
            .expect("spawn the device thread");
        ready_rx
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("the device listens");
        DeviceFd {
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Stop serving (after the current session) and hand back the device.
    fn stop(mut self) -> Box<Dev> {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        self.thread
            .take()
            .expect("device thread")
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e))
    }
}

impl Drop for DeviceFd {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

fn serve(
    dev: Box<Dev>,
    port: u16,
    (dir_name, password): (String, String),
    mode: Mode,
    mut stopped: tokio::sync::oneshot::Receiver<()>,
    ready: std::sync::mpsc::Sender<()>,
) -> Box<Dev> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let dev = RefCell::new(*dev);
    rt.block_on(async {
        let listener = match mode {
            Mode::ClientInitiated { .. } => None,
            _ => Some(
                tokio::net::TcpListener::bind(("127.0.0.1", port))
                    .await
                    .unwrap_or_else(|e| panic!("device: bind 127.0.0.1:{port}: {e}")),
            ),
        };
        let _ = ready.send(());
        let key = PasswordKey::from_cleartext(password.as_bytes());
        let directors = [DirectorAuth {
            name: dir_name.as_bytes(),
            key: key.as_bytes(),
            monitor: false,
            max_bandwidth: 0,
        }];
        let cfg = FdConfig {
            name: b"barque-fd",
            directors: &directors,
            version: Version::new(26, 0, 0),
            job_version: b"26.0.0 (barque fd-embedded, host simulation)",
            version_text: b"26.0.0 (barque fd-embedded, host simulation)",
            binary_info: b"barque",
            secure_erase: None,
            heartbeat_interval: Duration::ZERO,
            max_bandwidth: 0,
            tls_policy: TlsPolicy::None,
            tls_active: false,
            network_buffer_size: budget::DATA - 8,
            started: unix_now(),
            utc_offset: 0,
            debug_level: 0,
        };
        let jobs: &'static JobTable<1> = Box::leak(Box::new(JobTable::new()));
        // The session buffers at the budget's sizes; the TLS server's receive buffer holds
        // a full 16 KiB record (+ overhead): the Director does not negotiate
        // max_fragment_length on its connection to the FD.
        let mut b = [
            vec![0u8; budget::DIR_RX],
            vec![0u8; budget::TX],
            vec![0u8; budget::SD_RX],
            vec![0u8; budget::DATA],
            vec![0u8; budget::FILESET],
            vec![0u8; budget::ACCURATE],
        ];
        let (mut t_rx, mut t_tx, mut t_hs) =
            (vec![0u8; 17_000], vec![0u8; 17_000], vec![0u8; 4096]);
        let mut sd_rec = vec![0u8; budget::TLS_RECORD];
        let mut sd_trec = vec![0u8; budget::TLS_RECORD_TX];
        // Client-initiated: the embedded-tls client's records to the Director (it accepts
        // max_fragment_length 2^12, so the device's record buffers suffice).
        let mut dir_rec = vec![0u8; budget::TLS_RECORD];
        let mut dir_trec = vec![0u8; budget::TLS_RECORD_TX_DIR];
        // Passive with TLS-PSK: fd-core's TLS server on the SD's connection (a full record).
        let (mut p_rx, mut p_tx, mut p_hs) =
            (vec![0u8; 17_000], vec![0u8; 17_000], vec![0u8; 4096]);
        let mut challenge = 1000u32;
        loop {
            // Passive: the SD's connection comes in on the device's FD port.
            let sd_accept = match mode {
                Mode::Passive { .. } => listener.as_ref(),
                _ => None,
            };
            let mut connector = TlsConnector::new(
                TokioDial(sd_accept),
                rand_core::OsRng,
                &mut sd_rec,
                &mut sd_trec,
            );
            if mode == (Mode::Passive { tls: true }) {
                connector = connector.with_passive_tls(fd_core::tls::Buffers {
                    rx: &mut p_rx,
                    tx: &mut p_tx,
                    handshake: &mut p_hs,
                });
            }
            let mut svc = Services {
                source: FlashSource::new(&dev),
                sink: FlashSink::new(&dev),
                connector,
                clock: HostClock(std::time::Instant::now()),
                digests: Sha256Only,
            };
            let [dir_rx, tx, sd_rx, data, fileset, accurate] = &mut b;
            let bufs = Buffers {
                dir_rx,
                tx,
                sd_rx,
                data,
                fileset,
                accurate,
            };
            challenge += 1;
            if let Mode::ClientInitiated { dir_port } = mode {
                let mut rng = rand_core::OsRng;
                let mut dial = TokioDial(None);
                tokio::select! {
                    r = fnet::client_initiated(
                        &mut dial,
                        Ipv4Addr::LOCALHOST,
                        dir_port,
                        Some((&mut dir_rec, &mut dir_trec)),
                        &mut rng,
                        &cfg,
                        &directors[0],
                        jobs,
                        &mut svc,
                        bufs,
                    ) => {
                        if let Err(e) = r {
                            eprintln!("device: client-initiated session failed: {e:?}");
                            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                        }
                    }
                    _ = &mut stopped => break,
                }
                continue;
            }
            let tls_bufs = matches!(
                mode,
                Mode::Active { tls: true } | Mode::Passive { tls: true }
            )
            .then(|| {
                (
                    fd_core::tls::Buffers {
                        rx: &mut t_rx,
                        tx: &mut t_tx,
                        handshake: &mut t_hs,
                    },
                    rand_core::OsRng,
                )
            });
            let mut dial = TokioDial(listener.as_ref());
            tokio::select! {
                r = fnet::director_to_client(
                    &mut dial, tls_bufs, challenge, &cfg, jobs, &mut svc, bufs,
                ) => {
                    if let Err(e) = r {
                        eprintln!("device: session failed: {e:?}");
                    }
                }
                _ = &mut stopped => break,
            }
        }
    });
    Box::new(dev.into_inner())
}

// ---------------------------------------------------------------------------------------
// The scenario
// ---------------------------------------------------------------------------------------

fn fileset_of_the_device(dir_conf: String) -> String {
    let mut out = String::new();
    for line in dir_conf.lines() {
        if line.trim_start().starts_with("File = ") {
            out.push_str("    File = \"/firmware\"\n    File = \"/data\"\n");
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    assert!(
        out.contains("File = \"/firmware\""),
        "no File line in:\n{dir_conf}"
    );
    out
}

/// The device's Client resource in the Director's configuration, edited for `scenario`.
fn client_edit(scenario: Scenario) -> &'static str {
    match scenario {
        Scenario::Active { .. } => "",
        // The SD dials the device (Director → SD `passive client …`).
        Scenario::Passive { .. } => "  Passive = yes\n",
        // Every job must use the connection the device opened.
        Scenario::ClientInitiated => {
            "  Connection From Client To Director = yes\n  \
             Connection From Director To Client = no\n"
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Scenario {
    Active { cleartext: bool },
    Passive { cleartext: bool },
    ClientInitiated,
}

/// Poll `status dir` until the device's connection waits there (at most 60 s).
fn wait_parked(s: &support::Setup) -> Vec<String> {
    let t = std::time::Instant::now();
    loop {
        let rows = support::waiting_clients(s);
        if !rows.is_empty() || t.elapsed() > std::time::Duration::from_secs(60) {
            return rows;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
}

fn backup_and_restore_slot_b(scenario: Scenario) {
    let (tag, cleartext) = match scenario {
        Scenario::Active { cleartext: true } => ("emb-clear", true),
        Scenario::Active { cleartext: false } => ("emb-psk", false),
        Scenario::Passive { cleartext: true } => ("emb-passive", true),
        Scenario::Passive { cleartext: false } => ("emb-passive-psk", false),
        Scenario::ClientInitiated => ("emb-ci", false),
    };
    // The generated FileSet names the sample tree; the device's files are /firmware and
    // /data instead.
    let edit_dir = |t: String| {
        let t = fileset_of_the_device(t);
        let client = "  Catalog = MyCatalog\n";
        assert!(t.contains(client), "{t}");
        t.replacen(client, &format!("{client}{}", client_edit(scenario)), 1)
    };
    let mut s = start_with(tag, cleartext, &edit_dir, &|t, _| t);
    // barque-fd gives the FD port (and its place at the Director) to the device.
    s.daemons.kill("fd");
    let director = fd_director(&s.work);
    let mode = match scenario {
        Scenario::Active { cleartext } => Mode::Active { tls: !cleartext },
        Scenario::Passive { cleartext } => Mode::Passive { tls: !cleartext },
        Scenario::ClientInitiated => Mode::ClientInitiated { dir_port: s.port },
    };
    let t0 = unix_now();
    let mut dev = Box::new(
        Dev::open([Part::new(), Part::new(), Part::new()], KvFlash::new()).expect("open device"),
    );
    dev.provision(0, &fw_a(), t0 - 1000).expect("provision A");
    dev.provision(1, &fw_b(), t0 - 900).expect("provision B");
    dev.provision(2, &config_blob(), t0 - 800)
        .expect("provision config");

    // 1. Full backup.
    let fd = DeviceFd::start(dev, s.port + 1, director.clone(), mode);
    if scenario == Scenario::ClientInitiated {
        // The device's TLS-PSK connection waits at the Director before any job:
        // `22-Nov-26 15:48     54                  1                   barque-fd`.
        let rows = wait_parked(&s);
        assert_eq!(rows.len(), 1, "{rows:?}\n{}", s.daemons.logs());
        let r = &rows[0];
        assert_eq!(r.get(20..40).map(str::trim_end), Some("54"), "{r:?}");
        assert_eq!(r.get(40..60).map(str::trim_end), Some("1"), "{r:?}");
        assert_eq!(r.get(60..).map(str::trim_end), Some("barque-fd"), "{r:?}");
    }
    let (full, msgs) = run_and_wait(&s, "run job=DemoBackup level=Full yes");
    assert!(
        msgs.contains("Termination:            Backup OK"),
        "{msgs}\n{}",
        s.daemons.logs()
    );
    match scenario {
        Scenario::ClientInitiated => assert!(
            msgs.contains("Using Client Initiated Connection (barque-fd).")
                && !msgs.contains("Connected Client:"),
            "{msgs}"
        ),
        Scenario::Passive { cleartext } => {
            // barque-sd dialled the device: TLS-PSK (fd-core's TLS server on the device) or
            // cleartext, as the Director's `passive client … ssl=` said.
            let line = format!(
                "Connected File Daemon at 127.0.0.1:{}, encryption: ",
                s.port + 1
            );
            let enc = msgs
                .split(&line)
                .nth(1)
                .and_then(|r| r.lines().next())
                .unwrap_or_else(|| panic!("no `{line}` in:\n{msgs}"));
            if cleartext {
                assert_eq!(enc, "None", "{msgs}");
            } else {
                assert!(enc.starts_with("TLS"), "{msgs}");
            }
            // The SD reached the device: the Director's `passive client` was answered.
            let log = std::fs::read_to_string(s.work.join("log/barque.log")).unwrap_or_default();
            assert!(!log.contains("could not reach the passive client"), "{log}");
        }
        Scenario::Active { .. } => {}
    }
    let mut files = file_lines(&console(&s, &[&format!("list files jobid={full}")]));
    files.sort();
    assert_eq!(
        files,
        support::qemu::DEVICE_FILES,
        "the catalog lists the device's partitions"
    );
    let mut dev = fd.stop();

    // 2. A bad local update of slot B.
    dev.write_local(1, &image(99, 30_000), unix_now())
        .expect("overwrite slot B");
    assert_ne!(content(&mut dev, 1), fw_b());

    // 3. Restore slot B from the Full.
    let fd = DeviceFd::start(dev, s.port + 1, director, mode);
    if scenario == Scenario::ClientInitiated {
        // The device dialled again once its first connection was used.
        let rows = wait_parked(&s);
        assert_eq!(rows.len(), 1, "{rows:?}\n{}", s.daemons.logs());
    }
    let where_ = s.work.join("restore");
    let (_, msgs) = run_and_wait(
        &s,
        &format!(
            "restore client=barque-fd fileset=DemoSet jobid={full} where={} \
             file=/firmware/slot-b.bin yes",
            where_.display()
        ),
    );
    assert!(
        msgs.contains("Termination:            Restore OK"),
        "{msgs}\n{}",
        s.daemons.logs()
    );
    let dev = fd.stop();

    // "Reboot": re-open the device from its flash, read the persisted state back.
    let (parts, kv) = dev.into_parts();
    let mut dev = Dev::open(parts, kv).expect("re-open the device");
    assert_eq!(
        content(&mut dev, 1),
        fw_b(),
        "slot B restored byte for byte"
    );
    assert_eq!(content(&mut dev, 0), fw_a(), "the active slot is untouched");
    assert_eq!(
        content(&mut dev, 2),
        config_blob(),
        "the configuration is untouched"
    );
    let boot = dev.boot_record();
    assert_eq!(boot.active, Slot::A);
    assert_eq!(boot.pending, Some(Slot::B), "the restored slot is pending");
    assert_eq!(boot.len as usize, fw_b().len());
    assert_eq!(boot.digest, <[u8; 32]>::from(sha2::Sha256::digest(fw_b())));
    assert_eq!(dev.boot_select().expect("boot_select"), Slot::B);
    assert_eq!(dev.boot_record().active, Slot::B);
    assert_eq!(dev.boot_record().pending, None);
    if matches!(
        scenario,
        Scenario::Active { cleartext: false } | Scenario::Passive { cleartext: false }
    ) {
        // The jobs went over TLS-PSK to the device (fd-core's TLS server).
        let log = std::fs::read_to_string(s.work.join("log/barque.log")).unwrap_or_default();
        assert!(
            log.contains("Connected Client: barque-fd") && log.contains("encryption: TLS"),
            "{log}"
        );
    }
    let _ = std::fs::remove_dir_all(&s.work);
}

/// The emulated flashes (≈ 200 KiB) move by value in debug builds: run on a large stack.
fn big_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(f)
        .expect("spawn the test thread")
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e));
}

#[test]
fn device_backup_and_ab_restore_through_barque_dir_and_sd_tls_psk() {
    big_stack(|| backup_and_restore_slot_b(Scenario::Active { cleartext: false }));
}

#[test]
fn device_backup_and_ab_restore_through_barque_dir_and_sd_cleartext() {
    big_stack(|| backup_and_restore_slot_b(Scenario::Active { cleartext: true }));
}

/// Passive mode (`Passive = yes` on the Director's Client): barque-sd dials the device,
/// which authenticates it while waiting for the Director's next command; barque-dir sends
/// `backup`/`restore` only after the SD's `2000 OK passive client`.
#[test]
fn device_passive_backup_and_ab_restore_through_barque_dir_and_sd_cleartext() {
    big_stack(|| backup_and_restore_slot_b(Scenario::Passive { cleartext: true }));
}

/// Passive mode with TLS-PSK as Bareos' default (`passive client … ssl=4`): barque-sd opens
/// its connection to the device with TLS-PSK (`R_JOB` identity, session key), which
/// fd-core's TLS server on the device accepts; the Director's connection is TLS-PSK too.
#[test]
fn device_passive_backup_and_ab_restore_through_barque_dir_and_sd_tls_psk() {
    big_stack(|| backup_and_restore_slot_b(Scenario::Passive { cleartext: false }));
}

/// Client-initiated (`Connection From Client To Director = yes`, and the Director may not
/// dial the device): the device dials barque-dir with TLS-PSK (embedded-tls, `R_CLIENT`
/// identity), waits in `status dir`'s list, and the Full backup and the restore of slot B
/// run over its parked connections.
#[test]
fn device_client_initiated_tls_psk_backup_and_ab_restore_through_barque_dir() {
    big_stack(|| backup_and_restore_slot_b(Scenario::ClientInitiated));
}
