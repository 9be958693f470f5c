//! Simulation tier 1 for fd-embedded: the embedded File Daemon (fd-core's session engine
//! over fd-embedded's flash device, with the RAM budget of `fd_embedded::budget`) against a
//! test Director and a test Storage daemon built from fd-core codecs, over in-memory pipes,
//! on a virtual clock and a small single-threaded executor. No root, no network.
//!
//! barque-dir and barque-sd are not used: the Director and SD sides here are scripted with
//! fd-core's codecs (the same conversation shape as vectors/clear-backup-full conns 3/4 and
//! vectors/clear-restore conns 3/4), because the point is the device's behaviour.
//!
//! What these tests prove:
//! - a Full backup of the emulated partitions, restored onto a second device, is
//!   byte-identical; the firmware image restored to the inactive slot is verified, becomes
//!   pending and, after `boot_select` ("reboot"), active;
//! - a restore naming the active slot is refused (error counted, nothing marked), a restore
//!   whose data does not match the backup's SHA-256 is refused and nothing is bootable;
//! - an Incremental after a local configuration change sends only that partition;
//! - fault injection (seeded): the SD connection truncated at every record boundary and in
//!   the middle of records, records corrupted at random bytes, the Director connection
//!   dropped, and the flash losing power at sampled bytes of the restore: every run ends
//!   (no hang: a bounded executor) with either the correct image pending or nothing pending,
//!   never a corrupted slot marked bootable.
//!
//! - the network shell (`fd_embedded::net`): TLS-PSK Director → FD through fd-core's TLS
//!   server (`TlsServerStream`) with an embedded-tls Director, FD → SD through `TlsConnector`
//!   (embedded-tls, `R_JOB` identity, session key), client-initiated mode with TLS, passive
//!   mode through `Dial::accept`, and a backup over two embassy-net stacks joined by an
//!   in-memory Ethernet wire (embassy-net-driver-channel) on embassy-time's std clock;
//! - estimate and status on the device.
//!
//! - a Storage daemon that goes silent during a restore (before `read data` is answered, or
//!   before any record) fails the job through fd-core's data-phase timeout, never a hang.
//!
//! - stalls during a backup (fd-core's `DATA_PHASE_TIMEOUT`, `DIRECTOR_JOB_TIMEOUT`): an SD
//!   that stops answering, an SD that stops reading (the FD's writes block as on a full TCP
//!   window) and a Director that goes silent mid-job all end the session within a bounded
//!   time with the job failed; a Director that stays silent *between* jobs is waited for
//!   without limit (as Bareos does) and its job afterwards runs normally.

mod embedded_support;

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::task::{Context, Poll};

use barque_testkit::pipe::{pipe_with, End, OnDrop, Task};
use embedded_io_async::{Read, Write};
use embedded_support::image;
use fd_core::auth::{self, Authenticator, Role};
use fd_core::fd::conn::{Conn, Msg};
use fd_core::fd::jobs::JobTable;
use fd_core::fd::platform::{Clock, Connector, PskParams, Sha256Only};
use fd_core::fd::session::run_director_session;
use fd_core::fd::{Buffers, DirectorAuth, FdConfig, Services};
use fd_core::time::{Duration, Instant};
use fd_core::wire::attr::AttrRecord;
use fd_core::wire::bnet::{Frame, Signal};
use fd_core::wire::codes::JobStatus;
use fd_core::wire::dir_cmd::{EndJob, FdReply};
use fd_core::wire::hello::Version;
use fd_core::wire::psk::PasswordKey;
use fd_core::wire::stream::{RecHdr, Stream};
use fd_core::wire::tls_policy::TlsPolicy;
use fd_embedded::budget;
use fd_embedded::device::{Device, FlashSink, FlashSource};
use fd_embedded::flash::RamFlash;
use fd_embedded::state::Slot;
use sha2::Digest as _;

// ---------------------------------------------------------------------------------------
// Executor and pipes (barque_testkit::pipe, as fd-core/tests/fd_session.rs)
// ---------------------------------------------------------------------------------------

/// Poll all tasks round robin; returns false if they did not all finish within the bound
/// (a hang).
fn run_all(tasks: Vec<Task<'_>>) -> bool {
    barque_testkit::pipe::run_all(tasks, 2_000_000)
}

/// A pipe whose dropped end also fails the peer's writes (a reset connection).
fn pipe() -> (End, End) {
    pipe_with(OnDrop::CloseBoth)
}

#[derive(Clone, PartialEq)]
enum Got {
    Data(Vec<u8>),
    Sig(Signal),
}

impl std::fmt::Debug for Got {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Got::Data(d) => write!(f, "{:?}", String::from_utf8_lossy(&d[..d.len().min(200)])),
            Got::Sig(s) => write!(f, "<{s:?}>"),
        }
    }
}

fn d(s: &str) -> Got {
    Got::Data(s.as_bytes().to_vec())
}

struct Peer<S = End> {
    conn: Conn<S>,
    buf: Vec<u8>,
}

impl<S: Read + Write> Peer<S> {
    fn new(e: S) -> Self {
        Peer {
            conn: Conn::new(e),
            buf: vec![0; 1_100_000],
        }
    }
    async fn recv(&mut self) -> Option<Got> {
        match self.conn.recv(&mut self.buf).await {
            Ok(Msg::Data(d)) => Some(Got::Data(d.to_vec())),
            Ok(Msg::Signal(s)) => Some(Got::Sig(s)),
            Err(_) => None,
        }
    }
    async fn send(&mut self, g: &Got) -> bool {
        match g {
            Got::Data(d) => self.conn.send(d).await.is_ok(),
            Got::Sig(s) => self.conn.signal(*s).await.is_ok(),
        }
    }
    async fn send_raw(&mut self, b: &[u8]) -> bool {
        self.conn.send_raw(b).await.is_ok()
    }
    async fn auth(&mut self, role: Role, key: &[u8], own: &[u8]) -> Option<auth::Event> {
        let cfg = auth::Config::new(role, key, own, TlsPolicy::None, 12345, 1_795_362_414);
        let mut a = Authenticator::new(cfg, Instant::ZERO).ok()?;
        let mut out = [0u8; auth::MAX_TRANSMIT_LEN];
        loop {
            while let Some(n) = a.poll_transmit(&mut out).ok()? {
                if !self.send_raw(&out[..n]).await {
                    return None;
                }
            }
            if let Some(ev) = a.poll_event() {
                return Some(ev);
            }
            match self.recv().await? {
                Got::Data(d) => a.handle_frame(Instant::ZERO, Frame::Data(&d)),
                Got::Sig(s) => a.handle_frame(Instant::ZERO, Frame::Signal(s)),
            }
        }
    }
}

#[derive(Clone, Default)]
struct VClock(Rc<Cell<i64>>);

impl VClock {
    fn at(unix: i64) -> Self {
        VClock(Rc::new(Cell::new(unix * 1_000_000)))
    }
}

impl Clock for VClock {
    fn unix_time(&self) -> i64 {
        self.0.get() / 1_000_000
    }
    fn unix_micros(&self) -> i64 {
        self.0.get()
    }
    fn now(&self) -> Instant {
        Instant::from_micros(self.0.get())
    }
    async fn sleep_until(&self, deadline: Instant) {
        let mut polls = 0u32;
        std::future::poll_fn(|_| {
            if self.0.get() >= deadline.total_micros() {
                return Poll::Ready(());
            }
            polls += 1;
            // A wait nobody ends: jump to its deadline (a timeout fires). Not for the FD's
            // idle wait for the Director (a deadline centuries away): that one never fires.
            if polls > 2000 && deadline.total_micros() - self.0.get() <= 10 * 86_400_000_000 {
                self.0.set(deadline.total_micros());
                return Poll::Ready(());
            }
            Poll::Pending
        })
        .await
    }
}

#[derive(Clone, Default)]
struct MemConnector {
    accepted: Rc<RefCell<Vec<End>>>,
}

impl Connector for MemConnector {
    type Stream = End;
    type Error = &'static str;
    async fn connect(
        &mut self,
        _a: &[u8],
        _p: u16,
        _psk: Option<PskParams<'_>>,
    ) -> Result<End, &'static str> {
        let (a, b) = pipe();
        self.accepted.borrow_mut().push(b);
        Ok(a)
    }
    async fn accept_sd(&mut self, _job: &[u8]) -> Result<End, &'static str> {
        Err("passive mode not used in this test")
    }
}

impl MemConnector {
    async fn accept(&self) -> End {
        std::future::poll_fn(|_| match self.accepted.borrow_mut().pop() {
            Some(e) => Poll::Ready(e),
            None => Poll::Pending,
        })
        .await
    }

    /// Like `accept`, but gives up once the FD session has ended without connecting.
    async fn accept_until(&self, fd_done: &Cell<bool>) -> Option<End> {
        std::future::poll_fn(|_| match self.accepted.borrow_mut().pop() {
            Some(e) => Poll::Ready(Some(e)),
            None if fd_done.get() => Poll::Ready(None),
            None => Poll::Pending,
        })
        .await
    }
}

// ---------------------------------------------------------------------------------------
// The device under test
// ---------------------------------------------------------------------------------------

type Part = RamFlash<32768, 4096>;
type KvFlash = RamFlash<8192, 1024>;
type Dev = Device<Part, KvFlash>;

const FD_PASSWORD: &[u8] = b"device-fd-password";
const KEY: &str = "ABCD-EFGH-IJKL-MNOP-ABCD-EFGH-IJKL-MNOP";
const JOB: &str = "Device.2026-11-22_16.00.00_01";
const T0: i64 = 1_795_365_000;

fn fw_a() -> Vec<u8> {
    image(1, 20_000)
}
fn fw_b() -> Vec<u8> {
    image(2, 23_456)
}
fn config_blob() -> Vec<u8> {
    b"director=10.0.0.1:9101\nname=device-fd\n".repeat(20)
}

/// A device running slot A, with an image in B and a configuration blob.
fn provisioned() -> Dev {
    let mut dev = Dev::open([Part::new(), Part::new(), Part::new()], KvFlash::new()).unwrap();
    dev.provision(0, &fw_a(), T0 - 1000).unwrap();
    dev.provision(1, &fw_b(), T0 - 900).unwrap();
    dev.provision(2, &config_blob(), T0 - 800).unwrap();
    dev
}

fn blank() -> Dev {
    Dev::open([Part::new(), Part::new(), Part::new()], KvFlash::new()).unwrap()
}

fn content(dev: &mut Dev, i: usize) -> Vec<u8> {
    let len = dev.meta(i).unwrap().len;
    let mut v = vec![0; len as usize];
    dev.read(i, 0, &mut v).unwrap();
    v
}

fn fd_key() -> Vec<u8> {
    PasswordKey::from_cleartext(FD_PASSWORD).as_bytes().to_vec()
}

fn config<'a>(dirs: &'a [DirectorAuth<'a>]) -> FdConfig<'a> {
    FdConfig {
        name: b"device-fd",
        directors: dirs,
        version: Version::new(26, 0, 0),
        job_version: b"26.0.0 (barque fd-embedded)",
        version_text: b"26.0.0 (barque fd-embedded)",
        binary_info: b"barque",
        secure_erase: None,
        heartbeat_interval: Duration::ZERO,
        max_bandwidth: 0,
        tls_policy: TlsPolicy::None,
        tls_active: false,
        // The device's data records fit its buffers (fd_embedded::budget).
        network_buffer_size: budget::DATA - 8,
        started: T0 - 3600,
        utc_offset: 0,
        debug_level: 0,
    }
}

/// The session buffers at exactly the sizes of `fd_embedded::budget`.
struct Bufs {
    dir_rx: Vec<u8>,
    tx: Vec<u8>,
    sd_rx: Vec<u8>,
    data: Vec<u8>,
    fileset: Vec<u8>,
    accurate: Vec<u8>,
}

impl Bufs {
    fn new() -> Self {
        Bufs {
            dir_rx: vec![0; budget::DIR_RX],
            tx: vec![0; budget::TX],
            sd_rx: vec![0; budget::SD_RX],
            data: vec![0; budget::DATA],
            fileset: vec![0; budget::FILESET],
            accurate: vec![0; budget::ACCURATE],
        }
    }
    fn get(&mut self) -> Buffers<'_> {
        Buffers {
            dir_rx: &mut self.dir_rx,
            tx: &mut self.tx,
            sd_rx: &mut self.sd_rx,
            data: &mut self.data,
            fileset: &mut self.fileset,
            accurate: &mut self.accurate,
        }
    }
}

fn director_list() -> &'static [DirectorAuth<'static>] {
    Box::leak(
        vec![DirectorAuth {
            name: b"bareos-dir",
            key: Box::leak(fd_key().into_boxed_slice()),
            monitor: false,
            max_bandwidth: 0,
        }]
        .into_boxed_slice(),
    )
}

// ---------------------------------------------------------------------------------------
// Test Director and SD
// ---------------------------------------------------------------------------------------

/// Hello + CRAM-MD5 as the Director (vectors/clear-backup-full conn 3 msgs 1–8).
async fn director_connect(e: End) -> Option<Peer> {
    let mut p = Peer::new(e);
    p.send(&d("Hello Director bareos-dir calling Version=\"26.0.0\"\n"))
        .await;
    let ev = p
        .auth(Role::Outbound, &fd_key(), b"R_DIRECTOR::bareos-dir")
        .await?;
    if !matches!(ev, auth::Event::Authenticated { .. }) {
        return None;
    }
    (p.recv().await? == d("2000 OK Hello 54\n")).then_some(p)
}

fn backup_commands(level: &str, root: &str) -> Vec<Got> {
    let mut v = vec![
        d(&format!(
            "JobId=7 Job={JOB} SDid=3 SDtime={T0} Authorization={KEY}\n"
        )),
        d(&format!("level = {level}  mtime_only=0 \n")),
    ];
    if level != "full" {
        v.push(d(&format!(
            "level = since_utime {T0} mtime_only=0 prev_job=Device.2026-11-22_15.00.00_01\n"
        )));
    }
    v.extend([
        d("fileset vss=1\n"),
        d("I\n"),
        d("O S2HAX\n"),
        d("N\n"),
        d(&format!("F {root}")),
        d("N\n"),
        d("N\n"),
        Got::Sig(Signal::Eod),
        d("getSecureEraseCmd\n"),
        d("storage address=127.0.0.1 port=9103 ssl=0\n"),
        d("backup FileIndex=0\n"),
    ]);
    v
}

fn restore_commands() -> Vec<Got> {
    vec![
        d(&format!(
            "JobId=8 Job={JOB} SDid=3 SDtime={T0} Authorization={KEY}\n"
        )),
        d("getSecureEraseCmd\n"),
        d(&format!(
            "storage address=127.0.0.1 port=9103 ssl=0 Authorization={KEY}\n"
        )),
        d("restore replace=a prelinks=0 where=/\n"),
        d("endrestore"),
    ]
}

/// Send `cmds` (answering BTIME), then read until the FD closes, or until `drop_after`
/// frames were received (a dropped Director connection).
async fn director_run(e: End, cmds: Vec<Got>, drop_after: Option<usize>) -> Vec<Got> {
    director_run_gated(e, cmds, drop_after, None).await
}

/// [`director_run`], but `backup`/`restore` is sent only once `sd_ready` is set, as a
/// Director in passive mode does: it sends them after the SD answered `passive client`,
/// which the SD does only after its CRAM-MD5 with the FD (jobs.md §2.6).
async fn director_run_gated(
    e: End,
    cmds: Vec<Got>,
    drop_after: Option<usize>,
    sd_ready: Option<&Cell<bool>>,
) -> Vec<Got> {
    let Some(mut p) = director_connect(e).await else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut pending: VecDeque<Got> = cmds.into();
    let mut hold = false;
    loop {
        while !hold {
            let Some(c) = pending.pop_front() else { break };
            hold = matches!(&c, Got::Data(x) if x.starts_with(b"level = since_utime"));
            let run = matches!(&c, Got::Data(x) if x.starts_with(b"backup ") || x.starts_with(b"restore "));
            if let (true, Some(ready)) = (run, sd_ready) {
                std::future::poll_fn(|_| {
                    if ready.get() {
                        Poll::Ready(())
                    } else {
                        Poll::Pending
                    }
                })
                .await;
            }
            if !p.send(&c).await {
                return out;
            }
        }
        if drop_after.is_some_and(|n| out.len() >= n) {
            return out;
        }
        match p.recv().await {
            None => return out,
            Some(Got::Sig(Signal::Btime)) => {
                p.send(&d(&format!("btime {}000000\n", T0 + 100))).await;
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

type Records = Vec<(i32, i32, Vec<u8>)>;

/// An SD accepting one append session, recording its records.
async fn sd_append(connector: &MemConnector, records: &RefCell<Records>) {
    sd_append_on(Peer::new(connector.accept().await), records).await
}

async fn sd_append_on<S: Read + Write>(mut s: Peer<S>, records: &RefCell<Records>) {
    assert_eq!(
        s.recv().await,
        Some(d(&format!("Hello Start Job {JOB} Version=\"26.0.0\"\n")))
    );
    let ev = s
        .auth(Role::Inbound, KEY.as_bytes(), b"R_STORAGE::bareos-sd")
        .await;
    assert!(matches!(ev, Some(auth::Event::Authenticated { .. })));
    sd_append_loop(s, records).await
}

/// The data phase of an append session (after hello and authentication).
async fn sd_append_loop<S: Read + Write>(mut s: Peer<S>, records: &RefCell<Records>) {
    let mut tracker = fd_core::wire::stream::AppendTracker::new(false);
    let mut in_data = false;
    while let Some(g) = s.recv().await {
        if in_data {
            let end = match &g {
                Got::Data(x) => tracker.on_message(x).map(|e| {
                    if let fd_core::wire::stream::AppendEvent::Data { header, data } = e {
                        records.borrow_mut().push((
                            header.file_index,
                            header.stream.0,
                            data.to_vec(),
                        ));
                    }
                    false
                }),
                Got::Sig(Signal::Eod) => tracker
                    .on_eod()
                    .map(|e| matches!(e, fd_core::wire::stream::AppendEvent::EndOfData)),
                Got::Sig(Signal::Terminate) => return,
                Got::Sig(x) => panic!("signal {x:?} in the data phase"),
            };
            if end.expect("FD broke the SD's data-phase rules") {
                in_data = false;
                s.send(&d("3000 OK append data\n")).await;
            }
            continue;
        }
        match g {
            Got::Data(x) if x == b"append open session\n" => {
                s.send(&d("3000 OK open ticket = 3\n")).await;
            }
            Got::Data(x) if x == b"append data 3\n" => {
                s.send(&d("3000 OK data\n")).await;
                in_data = true;
            }
            Got::Data(x) if x == b"append end session 3\n" => {
                s.send(&d("3000 OK end\n")).await;
            }
            Got::Data(x) if x == b"append close session 3\n" => {
                s.send(&d("3000 OK close Status = 84\n")).await;
                s.send(&Got::Sig(Signal::Eod)).await;
            }
            Got::Sig(Signal::Terminate) => return,
            other => panic!("unexpected frame to the SD: {other:?}"),
        }
    }
}

/// How the test SD damages a restore.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Fault {
    None,
    /// Hang up before record `k`.
    CutBefore(usize),
    /// Send the header of record `k` and `bytes` of its data, then hang up.
    CutInside(usize, usize),
    /// Flip bits in byte `at` of record `k`'s data.
    Corrupt(usize, usize),
    /// The Director hangs up after receiving `n` frames.
    DropDirector(usize),
    /// Go silent (connection open, nothing sent) before record `k`.
    Stall(usize),
    /// Go silent instead of answering `read data`.
    StallBeforeData,
}

/// An SD serving one read session of `records`; never panics on what the FD does (fault
/// runs), returns when the connection ends.
async fn sd_read(connector: &MemConnector, records: &Records, fault: Fault, fd_done: &Cell<bool>) {
    let Some(e) = connector.accept_until(fd_done).await else {
        return;
    };
    let mut s = Peer::new(e);
    if s.recv().await.is_none() {
        return;
    }
    match s
        .auth(Role::Inbound, KEY.as_bytes(), b"R_STORAGE::bareos-sd")
        .await
    {
        Some(auth::Event::Authenticated { .. }) => {}
        _ => return,
    }
    // vectors/clear-restore conn 4 msg 8 shape.
    if s.recv().await.is_none() {
        return;
    }
    s.send(&d("3000 OK open ticket = 3\n")).await;
    if s.recv().await.is_none() {
        return;
    }
    if fault == Fault::StallBeforeData {
        while s.recv().await.is_some() {}
        return;
    }
    s.send(&d("3000 OK data\n")).await;
    for (k, (fi, stream, data)) in records.iter().enumerate() {
        if fault == Fault::CutBefore(k) {
            return;
        }
        if fault == Fault::Stall(k) {
            // Silent until the FD gives up and hangs up.
            while s.recv().await.is_some() {}
            return;
        }
        let h = RecHdr {
            vol_session_id: 1,
            vol_session_time: T0 as u32,
            file_index: *fi,
            stream: Stream(*stream),
            data_len: data.len() as u32,
        };
        let mut b = [0u8; 64];
        let n = h.emit(&mut b).unwrap();
        if !s.send(&Got::Data(b[..n].to_vec())).await {
            return;
        }
        let mut data = data.clone();
        match fault {
            Fault::CutInside(j, bytes) if j == k => {
                // A frame header announcing the whole record, then part of it.
                let mut raw = (data.len() as u32).to_be_bytes().to_vec();
                raw.extend_from_slice(&data[..bytes.min(data.len())]);
                s.send_raw(&raw).await;
                return;
            }
            Fault::Corrupt(j, at) if j == k && !data.is_empty() => {
                let i = at % data.len();
                data[i] ^= 0x5A;
            }
            _ => {}
        }
        if !s.send(&Got::Data(data)).await {
            return;
        }
    }
    s.send(&Got::Sig(Signal::Eod)).await;
    if s.recv().await.is_none() {
        return;
    }
    s.send(&d("3000 OK close Status = 82\n")).await;
    s.send(&Got::Sig(Signal::Eod)).await;
    while s.recv().await.is_some() {}
}

fn end_job(frames: &[Got]) -> Option<EndJob> {
    frames.iter().find_map(|g| match g {
        Got::Data(x) => match FdReply::parse(x) {
            Ok(FdReply::EndJob(e)) => Some(e),
            _ => None,
        },
        _ => None,
    })
}

struct Outcome {
    frames: Vec<Got>,
    finished: bool,
}

fn run_backup(dev: &RefCell<Dev>, cmds: Vec<Got>) -> (Outcome, Records) {
    let dirs = director_list();
    let cfg = config(dirs);
    let jobs: &'static JobTable<2> = Box::leak(Box::new(JobTable::new()));
    let connector = MemConnector::default();
    let mut svc = Services {
        source: FlashSource::new(dev),
        sink: FlashSink::new(dev),
        connector: connector.clone(),
        clock: VClock::at(T0 + 100),
        digests: Sha256Only,
    };
    let mut bufs = Bufs::new();
    let (fd_end, dir_end) = pipe();
    let frames = RefCell::new(Vec::new());
    let records = RefCell::new(Vec::new());
    let finished = run_all(vec![
        Box::pin(async {
            let r = run_director_session(fd_end, &cfg, jobs, &mut svc, bufs.get(), 7).await;
            r.expect("backup session");
        }),
        Box::pin(async { *frames.borrow_mut() = director_run(dir_end, cmds, None).await }),
        Box::pin(sd_append(&connector, &records)),
    ]);
    (
        Outcome {
            frames: frames.into_inner(),
            finished,
        },
        records.into_inner(),
    )
}

fn run_restore(dev: &RefCell<Dev>, records: &Records, fault: Fault) -> Outcome {
    let dirs = director_list();
    let cfg = config(dirs);
    let jobs: &'static JobTable<2> = Box::leak(Box::new(JobTable::new()));
    let connector = MemConnector::default();
    let mut sink = FlashSink::new(dev);
    sink.now = T0 + 200;
    let mut svc = Services {
        source: FlashSource::new(dev),
        sink,
        connector: connector.clone(),
        clock: VClock::at(T0 + 200),
        digests: Sha256Only,
    };
    let mut bufs = Bufs::new();
    let (fd_end, dir_end) = pipe();
    let frames = RefCell::new(Vec::new());
    let drop_after = match fault {
        Fault::DropDirector(n) => Some(n),
        _ => None,
    };
    let fd_done = Cell::new(false);
    let finished = run_all(vec![
        Box::pin(async {
            let _ = run_director_session(fd_end, &cfg, jobs, &mut svc, bufs.get(), 9).await;
            fd_done.set(true);
        }),
        Box::pin(async {
            *frames.borrow_mut() = director_run(dir_end, restore_commands(), drop_after).await
        }),
        Box::pin(sd_read(&connector, records, fault, &fd_done)),
    ]);
    Outcome {
        frames: frames.into_inner(),
        finished,
    }
}

fn attrs(records: &Records) -> Vec<(i32, Vec<u8>)> {
    records
        .iter()
        .filter(|r| r.1 == 1)
        .map(|r| {
            let a = AttrRecord::parse(&r.2).unwrap();
            (a.file_index, a.fname.to_vec())
        })
        .collect()
}

fn sha(b: &[u8]) -> [u8; 32] {
    sha2::Sha256::digest(b).into()
}

/// Records of a Full backup of a provisioned device (slot A active).
fn full_backup() -> Records {
    let dev = RefCell::new(provisioned());
    let (out, records) = run_backup(&dev, backup_commands("full", "/"));
    assert!(out.finished, "backup hung");
    let ej = end_job(&out.frames).expect("End Job");
    assert_eq!(ej.term_code, JobStatus::Terminated, "{:?}", out.frames);
    assert_eq!(ej.errors, 0, "{:?}", out.frames);
    records
}

/// Keep only the records of the named files (and their data/digest records).
fn only(records: &Records, names: &[&[u8]]) -> Records {
    let keep: Vec<i32> = attrs(records)
        .into_iter()
        .filter(|(_, n)| names.iter().any(|x| n == x))
        .map(|(fi, _)| fi)
        .collect();
    records
        .iter()
        .filter(|r| keep.contains(&r.0))
        .cloned()
        .collect()
}

// ---------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------

/// The emulated flashes (100 KiB) move by value in debug builds: run each test on a thread
/// with a large stack.
fn big_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e));
}

#[test]
fn full_backup_sends_every_partition_with_its_sha256() {
    big_stack(|| {
        let records = full_backup();
        let names: Vec<Vec<u8>> = attrs(&records).into_iter().map(|a| a.1).collect();
        assert_eq!(
            names,
            vec![
                b"/data/config.bin".to_vec(),
                b"/data/".to_vec(),
                b"/firmware/slot-a.bin".to_vec(),
                b"/firmware/slot-b.bin".to_vec(),
                b"/firmware/".to_vec(),
            ]
        );
        // Data records (stream 2) concatenate to each image; one SHA-256 record (stream 17)
        // per file.
        for (fi, want) in [(1, config_blob()), (3, fw_a()), (4, fw_b())] {
            let data: Vec<u8> = records
                .iter()
                .filter(|r| r.0 == fi && r.1 == 2)
                .flat_map(|r| r.2.clone())
                .collect();
            assert_eq!(data, want, "FileIndex {fi}");
            assert!(records
                .iter()
                .filter(|r| r.0 == fi && r.1 == 2)
                .all(|r| r.2.len() <= budget::DATA - 8));
            let dig: Vec<&Vec<u8>> = records
                .iter()
                .filter(|r| r.0 == fi && r.1 == 17)
                .map(|r| &r.2)
                .collect();
            assert_eq!(dig, vec![&sha(&want).to_vec()]);
        }
    });
}

#[test]
fn restore_to_a_blank_device_is_byte_identical_and_the_inactive_slot_becomes_bootable() {
    big_stack(|| {
        let records = full_backup();
        let dev = RefCell::new(blank());
        // The blank device runs slot A: restore config and slot B.
        let sel = only(&records, &[b"/data/config.bin", b"/firmware/slot-b.bin"]);
        let out = run_restore(&dev, &sel, Fault::None);
        assert!(out.finished);
        let ej = end_job(&out.frames).expect("End Job");
        assert_eq!(ej.term_code, JobStatus::Terminated, "{:?}", out.frames);
        assert_eq!(ej.errors, 0);
        let mut dev = dev.into_inner();
        assert_eq!(content(&mut dev, 2), config_blob());
        assert_eq!(content(&mut dev, 1), fw_b());
        let b = dev.boot_record();
        assert_eq!((b.active, b.pending), (Slot::A, Some(Slot::B)));
        assert_eq!(b.digest, sha(&fw_b()));
        // The mtime is the backed-up one.
        assert_eq!(dev.meta(1).unwrap().mtime, T0 - 900);
        // Reboot: B verifies and becomes active; persisted across a power cycle.
        assert_eq!(dev.boot_select().unwrap(), Slot::B);
        let (parts, kv) = dev.into_parts();
        let dev = Dev::open(parts, kv).unwrap();
        assert_eq!(dev.boot_record().active, Slot::B);
        assert_eq!(dev.boot_record().pending, None);
        // Now slot A is inactive and can be restored too.
        let dev = RefCell::new(dev);
        let out = run_restore(
            &dev,
            &only(&records, &[b"/firmware/slot-a.bin"]),
            Fault::None,
        );
        assert_eq!(end_job(&out.frames).unwrap().errors, 0);
        let mut dev = dev.into_inner();
        assert_eq!(content(&mut dev, 0), fw_a());
        assert_eq!(dev.boot_record().pending, Some(Slot::A));
    });
}

#[test]
fn restore_to_the_active_slot_is_refused_and_nothing_is_marked() {
    big_stack(|| {
        let records = full_backup();
        let dev = RefCell::new(provisioned());
        // Overwrite slot B locally so a restore would be visible.
        dev.borrow_mut().write_local(1, b"local", T0).unwrap();
        let out = run_restore(
            &dev,
            &only(&records, &[b"/firmware/slot-a.bin"]),
            Fault::None,
        );
        assert!(out.finished);
        let ej = end_job(&out.frames).expect("End Job");
        // fd-core reports the refused create and then, as Bareos does, each data record of
        // the file that was never created.
        assert!(ej.errors >= 1, "{:?}", out.frames);
        assert_ne!(ej.term_code, JobStatus::Terminated);
        assert!(out.frames.iter().any(|g| matches!(g, Got::Data(x)
            if String::from_utf8_lossy(x).contains("Could not create \"/firmware/slot-a.bin\""))));
        let mut dev = dev.into_inner();
        assert_eq!(content(&mut dev, 0), fw_a(), "active slot untouched");
        assert_eq!(dev.boot_record().pending, None);
        assert_eq!(dev.boot_select().unwrap(), Slot::A);
        // Local writes to the active slot are refused as well.
        assert_eq!(
            dev.write_local(0, b"x", T0),
            Err(fd_embedded::device::DeviceError::ActiveSlot)
        );
    });
}

#[test]
fn restore_with_a_wrong_digest_is_refused_and_nothing_is_bootable() {
    big_stack(|| {
        let mut records = only(&full_backup(), &[b"/firmware/slot-b.bin"]);
        // Change one byte of the image but keep the backup's SHA-256 record.
        let rec = records.iter_mut().find(|r| r.1 == 2).unwrap();
        rec.2[100] ^= 1;
        let dev = RefCell::new(blank());
        let out = run_restore(&dev, &records, Fault::None);
        let ej = end_job(&out.frames).expect("End Job");
        assert_eq!(ej.errors, 1);
        assert!(out.frames.iter().any(|g| matches!(g, Got::Data(x)
        if String::from_utf8_lossy(x).contains("Digest mismatch on \"/firmware/slot-b.bin\""))));
        let mut dev = dev.into_inner();
        assert_eq!(dev.boot_record().pending, None);
        assert_eq!(dev.meta(1).unwrap().len, 0);
        assert_eq!(dev.boot_select().unwrap(), Slot::A);
    });
}

#[test]
fn incremental_after_a_config_change_sends_only_the_config() {
    big_stack(|| {
        let dev = RefCell::new(provisioned());
        dev.borrow_mut()
            .write_local(2, b"director=10.0.0.9:9101\n", T0 + 50)
            .unwrap();
        let (out, records) = run_backup(&dev, backup_commands("incremental", "/"));
        assert!(out.finished);
        assert_eq!(end_job(&out.frames).unwrap().errors, 0);
        let names: Vec<Vec<u8>> = attrs(&records)
            .into_iter()
            .map(|a| a.1)
            .filter(|n| !n.ends_with(b"/"))
            .collect();
        assert_eq!(names, vec![b"/data/config.bin".to_vec()]);
        let data: Vec<u8> = records
            .iter()
            .filter(|r| r.1 == 2)
            .flat_map(|r| r.2.clone())
            .collect();
        assert_eq!(data, b"director=10.0.0.9:9101\n");
    });
}

/// The invariant every fault run must satisfy: the run ended, and either slot B holds the
/// exact image and is pending with its digest, or nothing is pending; the active slot is
/// untouched; after `boot_select` the device runs a correct image.
fn check_invariant(dev: Dev, out: &Outcome, what: &str) -> bool {
    assert!(out.finished, "{what}: hang");
    let mut dev = dev;
    assert_eq!(content(&mut dev, 0), fw_a(), "{what}: active slot changed");
    let b = dev.boot_record();
    assert_eq!(b.active, Slot::A, "{what}");
    let completed = match b.pending {
        Some(Slot::B) => {
            assert_eq!(content(&mut dev, 1), fw_b(), "{what}: pending slot corrupt");
            assert_eq!(b.digest, sha(&fw_b()), "{what}");
            true
        }
        Some(Slot::A) => panic!("{what}: active slot pending"),
        None => false,
    };
    let booted = dev.boot_select().unwrap();
    if booted == Slot::B {
        assert_eq!(
            content(&mut dev, 1),
            fw_b(),
            "{what}: booted a corrupt image"
        );
    }
    completed
}

fn restore_device() -> Dev {
    // Slot A active with its image, B blank.
    let mut dev = blank();
    dev.provision(0, &fw_a(), T0 - 1000).unwrap();
    dev
}

#[test]
fn fault_injection_on_the_sd_and_director_connections() {
    big_stack(|| {
        let records = only(&full_backup(), &[b"/firmware/slot-b.bin"]);
        let mut faults = vec![Fault::None];
        for (k, r) in records.iter().enumerate() {
            faults.push(Fault::CutBefore(k));
            faults.push(Fault::CutInside(k, 0));
            faults.push(Fault::CutInside(k, r.2.len() / 2));
        }
        // Seeded random corruption (xorshift) of bytes of the records.
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..24 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let k = (x as usize) % records.len();
            faults.push(Fault::Corrupt(k, (x >> 20) as usize));
            // And a hang-up at a random byte of a random record.
            let j = (x >> 40) as usize % records.len();
            faults.push(Fault::CutInside(
                j,
                (x >> 8) as usize % (records[j].2.len() + 1),
            ));
        }
        for n in 0..6 {
            faults.push(Fault::DropDirector(n));
        }
        let mut completed = 0;
        for f in &faults {
            let dev = RefCell::new(restore_device());
            let out = run_restore(&dev, &records, *f);
            let ok = check_invariant(dev.into_inner(), &out, &format!("{f:?}"));
            if ok {
                completed += 1;
                if let Some(ej) = end_job(&out.frames) {
                    assert_eq!(ej.errors, 0, "{f:?}");
                }
            }
            if *f == Fault::None {
                assert!(ok, "the undamaged restore must complete");
            }
            // A corrupted data or digest record must never be accepted (a corrupted
            // attribute record may be harmless, e.g. in atime; the invariant covers it).
            if matches!(f, Fault::Corrupt(k, _) if matches!(records[*k].1, 2 | 17)) {
                assert!(
                    !ok,
                    "{f:?}: a corrupted image was accepted; streams {:?}",
                    records
                        .iter()
                        .map(|r| (r.0, r.1, r.2.len()))
                        .collect::<Vec<_>>()
                );
            }
        }
        assert!(completed >= 1);
    });
}

/// A Storage daemon that stops sending in the data phase without closing the connection
/// (before `read data` is answered, or before any record of the restore): fd-core's
/// data-phase timeout (`fd_core::fd::conn::DATA_PHASE_TIMEOUT`, on the session's clock;
/// virtual here) ends the job with an error instead of hanging, and nothing is bootable.
#[test]
fn a_stalled_sd_during_restore_fails_the_job_and_nothing_is_bootable() {
    big_stack(|| {
        let records = only(&full_backup(), &[b"/firmware/slot-b.bin"]);
        let mut faults = vec![Fault::StallBeforeData];
        faults.extend((0..records.len()).map(Fault::Stall));
        for f in &faults {
            let dev = RefCell::new(restore_device());
            let out = run_restore(&dev, &records, *f);
            let completed = check_invariant(dev.into_inner(), &out, &format!("{f:?}"));
            assert!(!completed, "{f:?}: a stalled restore completed");
            let ej = end_job(&out.frames).unwrap_or_else(|| panic!("{f:?}: {:?}", out.frames));
            assert!(
                ej.term_code != JobStatus::Terminated || ej.errors > 0,
                "{f:?}: {ej:?}"
            );
            if let Fault::Stall(_) = f {
                assert!(
                    out.frames.iter().any(|g| matches!(g, Got::Data(x)
                        if String::from_utf8_lossy(x).contains("Storage daemon sent nothing"))),
                    "{f:?}: no timeout message: {:?}",
                    out.frames
                );
            }
        }
    });
}

#[test]
fn power_loss_during_a_firmware_restore_never_leaves_a_bootable_partial_image() {
    big_stack(|| {
        let records = only(&full_backup(), &[b"/firmware/slot-b.bin"]);
        // Bytes the restore writes to slot B's flash and to the state store.
        let dev = RefCell::new(restore_device());
        let before = dev.borrow_mut().partition_mut(1).unwrap().written;
        run_restore(&dev, &records, Fault::None);
        let slot_bytes = dev.borrow_mut().partition_mut(1).unwrap().written - before;
        assert!(slot_bytes >= fw_b().len());
        // Cut the power of slot B's flash at sampled bytes (every 997th and the edges).
        let mut cuts: Vec<usize> = (0..slot_bytes).step_by(997).collect();
        cuts.extend([1, slot_bytes - 1, slot_bytes]);
        for cut in cuts {
            let dev = RefCell::new(restore_device());
            dev.borrow_mut()
                .partition_mut(1)
                .unwrap()
                .cut_after(Some(cut));
            let out = run_restore(&dev, &records, Fault::None);
            let dev = dev.into_inner();
            // "Reboot": power back, reopen from flash.
            let (mut parts, kv) = dev.into_parts();
            parts[1].cut_after(None);
            let dev = Dev::open(parts, kv).unwrap();
            check_invariant(dev, &out, &format!("power cut at byte {cut}"));
        }
    });
}

// ---------------------------------------------------------------------------------------
// TLS-PSK: Director -> FD (fd-core's TLS server wrapped by fd_embedded::net) and FD -> SD
// (embedded-tls client through fd_embedded::net::TlsConnector), over in-memory pipes.
// ---------------------------------------------------------------------------------------

use fd_embedded::net::{self as fnet, Dial, NetError, TlsConnector, TlsServerStream};

/// A [`Dial`] over pipes: `dial` hands the far end to `outbound`, `accept` takes from
/// `inbound`.
#[derive(Clone, Default)]
struct MemDial {
    inbound: Rc<RefCell<Vec<End>>>,
    outbound: Rc<RefCell<Vec<End>>>,
}

impl Dial for MemDial {
    type Socket = End;
    async fn dial(&mut self, _addr: std::net::Ipv4Addr, _port: u16) -> Result<End, NetError> {
        let (a, b) = pipe();
        self.outbound.borrow_mut().push(b);
        Ok(a)
    }
    async fn accept(&mut self) -> Result<End, NetError> {
        std::future::poll_fn(|_| match self.inbound.borrow_mut().pop() {
            Some(e) => Poll::Ready(Ok(e)),
            None => Poll::Pending,
        })
        .await
    }
}

impl MemDial {
    async fn take_outbound(&self) -> End {
        std::future::poll_fn(|_| match self.outbound.borrow_mut().pop() {
            Some(e) => Poll::Ready(e),
            None => Poll::Pending,
        })
        .await
    }
}

#[test]
fn tls_psk_backup_director_to_fd_and_fd_to_sd() {
    big_stack(|| {
        use embedded_tls::{
            Aes128GcmSha256, MaxFragmentLength, TlsConfig, TlsConnection, TlsContext,
            UnsecureProvider,
        };
        let dev = RefCell::new(provisioned());
        let dirs = director_list();
        let cfg = config(dirs);
        let jobs: &'static JobTable<2> = Box::leak(Box::new(JobTable::new()));
        let sd_dial = MemDial::default();
        let mut sd_rec = vec![0u8; budget::TLS_RECORD];
        let mut sd_trec = vec![0u8; budget::TLS_RECORD_TX];
        let mut svc = Services {
            source: FlashSource::new(&dev),
            sink: FlashSink::new(&dev),
            connector: TlsConnector::new(
                sd_dial.clone(),
                rand_core::OsRng,
                &mut sd_rec,
                &mut sd_trec,
            ),
            clock: VClock::at(T0 + 100),
            digests: Sha256Only,
        };
        let mut bufs = Bufs::new();
        let mut dir_dial = MemDial::default();
        let (fd_end, dir_end) = pipe();
        dir_dial.inbound.borrow_mut().push(fd_end);
        let (mut t_rx, mut t_tx, mut t_hs) =
            (vec![0u8; 17_000], vec![0u8; 17_000], vec![0u8; 4096]);
        let frames = RefCell::new(Vec::new());
        let records = RefCell::new(Vec::new());
        let result = RefCell::new(None);
        let mut cmds = backup_commands("full", "/firmware");
        // ssl=4: the data channel must use TLS-PSK with the job's session key.
        for c in cmds.iter_mut() {
            if *c == d("storage address=127.0.0.1 port=9103 ssl=0\n") {
                *c = d(&format!(
                    "storage address=127.0.0.1 port=9103 ssl=4 Authorization={KEY}\n"
                ));
            }
        }
        let finished = run_all(vec![
            Box::pin(async {
                let r = fnet::director_to_client(
                    &mut dir_dial,
                    Some((
                        fd_core::tls::Buffers {
                            rx: &mut t_rx,
                            tx: &mut t_tx,
                            handshake: &mut t_hs,
                        },
                        rand_core::OsRng,
                    )),
                    7,
                    &cfg,
                    jobs,
                    &mut svc,
                    bufs.get(),
                )
                .await;
                *result.borrow_mut() = Some(format!("{r:?}"));
            }),
            Box::pin(async {
                // The Director: embedded-tls client, identity R_DIRECTOR 0x1E bareos-dir.
                let mut rx = vec![0u8; 17_000];
                let mut tx = vec![0u8; 17_000];
                let mut tls: TlsConnection<'_, End, Aes128GcmSha256> =
                    TlsConnection::new(dir_end, &mut rx, &mut tx);
                let key = fd_key();
                let conf = TlsConfig::new()
                    .with_psk(&key, &[b"R_DIRECTOR\x1ebareos-dir"])
                    .with_max_fragment_length(MaxFragmentLength::Bits12);
                let mut rng = rand_core::OsRng;
                tls.open(TlsContext::new(
                    &conf,
                    UnsecureProvider::new::<Aes128GcmSha256>(&mut rng),
                ))
                .await
                .expect("Director TLS handshake");
                let mut p = Peer::new(tls);
                p.send(&d("Hello Director bareos-dir calling Version=\"26.0.0\"\n"))
                    .await;
                let ev = p
                    .auth(Role::Outbound, &fd_key(), b"R_DIRECTOR::bareos-dir")
                    .await;
                assert!(matches!(ev, Some(auth::Event::Authenticated { .. })));
                assert_eq!(p.recv().await, Some(d("2000 OK Hello 54\n")));
                for c in &cmds {
                    p.send(c).await;
                }
                let mut out = Vec::new();
                while let Some(g) = p.recv().await {
                    let end = matches!(&g, Got::Data(x) if x.starts_with(b"2800 End Job"));
                    out.push(g);
                    if end {
                        break;
                    }
                }
                *frames.borrow_mut() = out;
            }),
            Box::pin(async {
                // The SD: fd-core's TLS server with the R_JOB identity and the session key.
                let e = sd_dial.take_outbound().await;
                let mut rx = vec![0u8; 17_000];
                let mut tx = vec![0u8; 17_000];
                let mut hs = vec![0u8; 4096];
                let want = format!("R_JOB\x1e{JOB}");
                let psk = move |id: &[u8], key: &mut [u8]| {
                    (id == want.as_bytes()).then(|| {
                        key[..KEY.len()].copy_from_slice(KEY.as_bytes());
                        KEY.len()
                    })
                };
                let mut s = TlsServerStream::new(
                    e,
                    fd_core::tls::ServerConfig::default(),
                    psk,
                    rand_core::OsRng,
                    fd_core::tls::Buffers {
                        rx: &mut rx,
                        tx: &mut tx,
                        handshake: &mut hs,
                    },
                );
                s.handshake().await.expect("SD TLS handshake");
                sd_append_on(Peer::new(s), &records).await;
            }),
        ]);
        assert!(finished, "hang");
        let frames = frames.into_inner();
        let ej = end_job(&frames).unwrap_or_else(|| panic!("{frames:?} {:?}", result.borrow()));
        assert_eq!(ej.term_code, JobStatus::Terminated, "{frames:?}");
        assert_eq!(ej.errors, 0);
        let records = records.into_inner();
        let data: Vec<u8> = records
            .iter()
            .filter(|r| r.1 == 2)
            .flat_map(|r| r.2.clone())
            .collect();
        let mut want = fw_a();
        want.extend(fw_b());
        assert_eq!(data, want, "both slots through TLS, byte-identical");
    });
}

/// Client-initiated mode with TLS-PSK: the device dials the Director
/// (`fd_embedded::net::client_initiated`: embedded-tls client, identity `R_CLIENT` 0x1E
/// «name», the Director's key), sends `Hello Client …` (vectors/clear-client-initiated conn 1
/// msg 1 shape), authenticates as the outbound side, gets `1000 OK: …` (msg 8) and runs a
/// restore of slot B ordered by the Director over that connection. The test Director's TLS
/// server is fd-core's, through `TlsServerStream`.
#[test]
fn client_initiated_tls_restore_of_the_inactive_slot() {
    big_stack(|| {
        let records = only(&full_backup(), &[b"/firmware/slot-b.bin"]);
        let dev = RefCell::new(restore_device());
        let dirs = director_list();
        let cfg = config(dirs);
        let jobs: &'static JobTable<2> = Box::leak(Box::new(JobTable::new()));
        let connector = MemConnector::default();
        let mut sink = FlashSink::new(&dev);
        sink.now = T0 + 200;
        let mut svc = Services {
            source: FlashSource::new(&dev),
            sink,
            connector: connector.clone(),
            clock: VClock::at(T0 + 200),
            digests: Sha256Only,
        };
        let mut bufs = Bufs::new();
        let dial = MemDial::default();
        let mut rec_rx = vec![0u8; budget::TLS_RECORD];
        let mut rec_tx = vec![0u8; budget::TLS_RECORD_TX_DIR];
        let frames = RefCell::new(Vec::new());
        let result = RefCell::new(None);
        let fd_done = Cell::new(false);
        let finished = run_all(vec![
            Box::pin(async {
                let mut rng = rand_core::OsRng;
                let r = fnet::client_initiated(
                    &mut dial.clone(),
                    std::net::Ipv4Addr::new(10, 0, 2, 2),
                    9101,
                    Some((&mut rec_rx, &mut rec_tx)),
                    &mut rng,
                    &cfg,
                    &dirs[0],
                    jobs,
                    &mut svc,
                    bufs.get(),
                )
                .await;
                *result.borrow_mut() = Some(format!("{r:?}"));
                fd_done.set(true);
            }),
            Box::pin(async {
                let e = dial.take_outbound().await;
                let (mut rx, mut tx, mut hs) =
                    (vec![0u8; 17_000], vec![0u8; 17_000], vec![0u8; 4096]);
                let key = fd_key();
                let psk = move |id: &[u8], out: &mut [u8]| {
                    (id == b"R_CLIENT\x1edevice-fd").then(|| {
                        out[..key.len()].copy_from_slice(&key);
                        key.len()
                    })
                };
                let mut s = TlsServerStream::new(
                    e,
                    fd_core::tls::ServerConfig::default(),
                    psk,
                    rand_core::OsRng,
                    fd_core::tls::Buffers {
                        rx: &mut rx,
                        tx: &mut tx,
                        handshake: &mut hs,
                    },
                );
                s.handshake().await.expect("Director TLS handshake");
                assert_eq!(s.psk_identity(), Some(&b"R_CLIENT\x1edevice-fd"[..]));
                let mut p = Peer::new(s);
                assert_eq!(
                    p.recv().await,
                    Some(d(
                        "Hello Client device-fd FdProtocolVersion=54 calling Version=\"26.0.0\"\n"
                    ))
                );
                let ev = p
                    .auth(Role::Inbound, &fd_key(), b"R_DIRECTOR::bareos-dir")
                    .await;
                assert!(matches!(ev, Some(auth::Event::Authenticated { .. })));
                p.send(&d(
                    "1000 OK: bareos-dir Version: 26.0.0~pre1298.eda204c31 (21 August 2026)\n",
                ))
                .await;
                for c in restore_commands() {
                    p.send(&c).await;
                }
                let mut out = Vec::new();
                while let Some(g) = p.recv().await {
                    let end = matches!(&g, Got::Data(x) if x.starts_with(b"2800 End Job"));
                    out.push(g);
                    if end {
                        break;
                    }
                }
                *frames.borrow_mut() = out;
            }),
            Box::pin(sd_read(&connector, &records, Fault::None, &fd_done)),
        ]);
        assert!(finished, "hang");
        let frames = frames.into_inner();
        let ej = end_job(&frames).unwrap_or_else(|| panic!("{frames:?} {:?}", result.borrow()));
        assert_eq!(ej.term_code, JobStatus::Terminated, "{frames:?}");
        let mut dev = dev.into_inner();
        assert_eq!(content(&mut dev, 1), fw_b());
        assert_eq!(dev.boot_record().pending, Some(Slot::B));
        assert_eq!(dev.boot_select().unwrap(), Slot::B);
    });
}

// ---------------------------------------------------------------------------------------
// Two embassy-net stacks joined by an in-memory Ethernet wire (embassy-net-driver-channel):
// the device's network shell (`EmbassyDial` on smoltcp) for real, on embassy-time's std
// clock.
// ---------------------------------------------------------------------------------------

mod wire_sim {
    use super::*;
    use embassy_net::{Ipv4Cidr, StackResources, StaticConfigV4};
    use embassy_net_driver_channel as ch;

    pub const MTU: usize = 1514;

    /// One stack on its own end of the wire; returns the stack, its runner, and the device
    /// channel's runner halves.
    #[allow(clippy::type_complexity)]
    pub fn node(
        mac: [u8; 6],
        ip: [u8; 4],
        seed: u64,
    ) -> (
        embassy_net::Stack<'static>,
        embassy_net::Runner<'static, ch::Device<'static, MTU>>,
        ch::RxRunner<'static, MTU>,
        ch::TxRunner<'static, MTU>,
    ) {
        let state = Box::leak(Box::new(ch::State::<MTU, 8, 8>::new()));
        let (runner, device) = ch::new(state, ch::driver::HardwareAddress::Ethernet(mac));
        let (state_runner, rx, tx) = runner.split();
        state_runner.set_link_state(ch::driver::LinkState::Up);
        let config = embassy_net::Config::ipv4_static(StaticConfigV4 {
            address: Ipv4Cidr::new(ip.into(), 24),
            gateway: None,
            dns_servers: Default::default(),
        });
        let res = Box::leak(Box::new(StackResources::<6>::new()));
        let (stack, net_runner) = embassy_net::new(device, config, res, seed);
        (stack, net_runner, rx, tx)
    }

    /// Move every frame one node transmits to the other node's receive queue.
    pub async fn wire(mut tx: ch::TxRunner<'static, MTU>, mut rx: ch::RxRunner<'static, MTU>) {
        let mut tmp = vec![0u8; MTU];
        loop {
            let pkt = tx.tx_buf().await;
            let n = pkt.len().min(MTU);
            tmp[..n].copy_from_slice(&pkt[..n]);
            tx.tx_done();
            let dst = rx.rx_buf().await;
            dst[..n].copy_from_slice(&tmp[..n]);
            rx.rx_done(n);
        }
    }

    /// The tasks that never end: both stacks' runners and the wire in both directions.
    pub fn background(
        dev_runner: embassy_net::Runner<'static, ch::Device<'static, MTU>>,
        host_runner: embassy_net::Runner<'static, ch::Device<'static, MTU>>,
        dev_tx: ch::TxRunner<'static, MTU>,
        dev_rx: ch::RxRunner<'static, MTU>,
        host_tx: ch::TxRunner<'static, MTU>,
        host_rx: ch::RxRunner<'static, MTU>,
    ) -> Vec<Task<'static>> {
        vec![
            Box::pin(async move {
                let mut r = dev_runner;
                r.run().await
            }),
            Box::pin(async move {
                let mut r = host_runner;
                r.run().await
            }),
            Box::pin(wire(dev_tx, host_rx)),
            Box::pin(wire(host_tx, dev_rx)),
        ]
    }

    /// Poll `main` tasks to completion and `background` tasks (which never end) alongside;
    /// false after `limit` of wall time (a hang).
    pub fn run_until(
        mut main: Vec<Task<'_>>,
        mut background: Vec<Task<'_>>,
        limit: std::time::Duration,
    ) -> bool {
        let waker = barque_testkit::pipe::noop_waker();
        let mut cx = Context::from_waker(&waker);
        let mut done = vec![false; main.len()];
        let start = std::time::Instant::now();
        while start.elapsed() < limit {
            for t in background.iter_mut() {
                let _ = t.as_mut().poll(&mut cx);
            }
            for (t, d) in main.iter_mut().zip(done.iter_mut()) {
                if !*d && t.as_mut().poll(&mut cx).is_ready() {
                    *d = true;
                }
            }
            if done.iter().all(|&d| d) {
                return true;
            }
        }
        false
    }

    pub fn leak(n: usize) -> &'static mut [u8] {
        Box::leak(vec![0u8; n].into_boxed_slice())
    }

    /// The device's dialler with TCP buffers of the firmware's budget.
    pub fn budget_dial(
        stack: embassy_net::Stack<'static>,
    ) -> fd_embedded::net::EmbassyDial<'static> {
        fd_embedded::net::EmbassyDial::new(
            stack,
            fd_embedded::net::SocketBuffers {
                rx: leak(fd_embedded::budget::TCP),
                tx: leak(fd_embedded::budget::TCP),
            },
        )
    }
}

/// Client-initiated backup over two embassy-net stacks: the device (10.0.0.2) dials the
/// Director at 10.0.0.1:9101 through `EmbassyDial`, the Director orders a Full backup of
/// `/firmware` with `storage address=10.0.0.1 port=9103`, and the device's `TlsConnector`
/// dials the SD through a second `EmbassyDial` (plain, ssl=0). Both images arrive
/// byte-identical at the test SD.
#[test]
fn backup_over_two_embassy_net_stacks() {
    big_stack(|| {
        use embassy_net::tcp::TcpSocket;
        use wire_sim::*;

        let (dev_stack, dev_runner, dev_rx, dev_tx) = node([2, 0, 0, 0, 0, 2], [10, 0, 0, 2], 2);
        let (host_stack, host_runner, host_rx, host_tx) =
            node([2, 0, 0, 0, 0, 1], [10, 0, 0, 1], 1);

        let dev = RefCell::new(provisioned());
        let dirs = director_list();
        let cfg = config(dirs);
        let jobs: &'static JobTable<2> = Box::leak(Box::new(JobTable::new()));
        let mut svc = Services {
            source: FlashSource::new(&dev),
            sink: FlashSink::new(&dev),
            connector: TlsConnector::new(
                budget_dial(dev_stack),
                rand_core::OsRng,
                leak(budget::TLS_RECORD),
                leak(budget::TLS_RECORD_TX),
            ),
            // Real time (embassy-time's std driver), as the stacks run on: the virtual
            // clock would jump to a deadline while a send waits for the TCP window.
            clock: fd_embedded::net::EmbassyClock {
                unix_at_boot: T0 + 100,
            },
            digests: Sha256Only,
        };
        let mut bufs = Bufs::new();
        let frames = RefCell::new(Vec::new());
        let records = RefCell::new(Vec::new());
        let result = RefCell::new(None);
        let mut cmds = backup_commands("full", "/firmware");
        for c in cmds.iter_mut() {
            if *c == d("storage address=127.0.0.1 port=9103 ssl=0\n") {
                *c = d("storage address=10.0.0.1 port=9103 ssl=0\n");
            }
        }
        let ok = run_until(
            vec![
                Box::pin(async {
                    // The Director listens on 9101 (stack 10.0.0.1).
                    let mut s = TcpSocket::new(host_stack, leak(8192), leak(8192));
                    s.accept(9101).await.expect("Director accept");
                    let mut p = Peer::new(s);
                    assert_eq!(
                        p.recv().await,
                        Some(d("Hello Client device-fd FdProtocolVersion=54 calling Version=\"26.0.0\"\n"))
                    );
                    let ev = p
                        .auth(Role::Inbound, &fd_key(), b"R_DIRECTOR::bareos-dir")
                        .await;
                    assert!(matches!(ev, Some(auth::Event::Authenticated { .. })));
                    p.send(&d(
                        "1000 OK: bareos-dir Version: 26.0.0~pre1298.eda204c31 (21 August 2026)\n",
                    ))
                    .await;
                    for c in &cmds {
                        p.send(c).await;
                    }
                    let mut out = Vec::new();
                    while let Some(g) = p.recv().await {
                        let end = matches!(&g, Got::Data(x) if x.starts_with(b"2800 End Job"));
                        out.push(g);
                        if end {
                            break;
                        }
                    }
                    *frames.borrow_mut() = out;
                }),
                Box::pin(async {
                    // The SD listens on 9103.
                    let mut s = TcpSocket::new(host_stack, leak(16384), leak(4096));
                    s.accept(9103).await.expect("SD accept");
                    sd_append_on(Peer::new(s), &records).await;
                }),
                Box::pin(async {
                    dev_stack.wait_config_up().await;
                    let mut dial = budget_dial(dev_stack);
                    let mut rng = rand_core::OsRng;
                    let r = fnet::client_initiated(
                        &mut dial,
                        std::net::Ipv4Addr::new(10, 0, 0, 1),
                        9101,
                        None,
                        &mut rng,
                        &cfg,
                        &dirs[0],
                        jobs,
                        &mut svc,
                        bufs.get(),
                    )
                    .await;
                    *result.borrow_mut() = Some(format!("{r:?}"));
                }),
            ],
            background(dev_runner, host_runner, dev_tx, dev_rx, host_tx, host_rx),
            std::time::Duration::from_secs(60),
        );
        let frames = frames.into_inner();
        assert!(ok, "hang: {frames:?} {:?}", result.borrow());
        let ej = end_job(&frames).unwrap_or_else(|| panic!("{frames:?} {:?}", result.borrow()));
        assert_eq!(ej.term_code, JobStatus::Terminated, "{frames:?}");
        let data: Vec<u8> = records
            .into_inner()
            .iter()
            .filter(|r| r.1 == 2)
            .flat_map(|r| r.2.clone())
            .collect();
        let mut want = fw_a();
        want.extend(fw_b());
        assert_eq!(data, want);
    });
}

/// A passive SD whose connection arrives while no accept waits (fd-core drops the accept
/// whenever the Director's command comes first, leaving the socket listening): the next
/// `accept` hands that connection over. smoltcp refuses to `listen` again on a socket that
/// already has a connection, so an accept that only re-listened failed here (seen with the
/// QEMU firmware in passive mode: the SD's handshake hung).
#[test]
fn a_passive_connection_that_arrives_between_accepts_is_handed_over() {
    use embassy_net::tcp::TcpSocket;
    use fd_embedded::net::Dial;
    use wire_sim::*;

    let (dev_stack, dev_runner, dev_rx, dev_tx) = node([2, 0, 0, 0, 0, 2], [10, 0, 0, 2], 2);
    let (host_stack, host_runner, host_rx, host_tx) = node([2, 0, 0, 0, 0, 1], [10, 0, 0, 1], 1);
    let connected = Cell::new(false);
    let dropped = Cell::new(false);
    let got = RefCell::new(Vec::new());
    let ok = run_until(
        vec![
            Box::pin(async {
                dev_stack.wait_config_up().await;
                let mut dial = budget_dial(dev_stack);
                // An accept dropped before any connection came (the Director spoke first).
                let first = embassy_time::with_timeout(
                    embassy_time::Duration::from_millis(50),
                    dial.accept(),
                )
                .await;
                assert!(first.is_err(), "nothing connected yet");
                dropped.set(true);
                // The SD connects while no accept waits.
                while !connected.get() {
                    embassy_time::Timer::after_millis(5).await;
                }
                let mut s = dial.accept().await.expect("the waiting connection");
                let mut buf = [0u8; 5];
                let mut n = 0;
                while n < buf.len() {
                    n += embedded_io_async::Read::read(&mut s, &mut buf[n..])
                        .await
                        .expect("read");
                }
                got.borrow_mut().extend_from_slice(&buf);
            }),
            Box::pin(async {
                host_stack.wait_config_up().await;
                // Connect once the device's first accept was dropped (its socket listens).
                while !dropped.get() {
                    embassy_time::Timer::after_millis(5).await;
                }
                let mut s = TcpSocket::new(host_stack, leak(4096), leak(4096));
                s.connect((std::net::Ipv4Addr::new(10, 0, 0, 2), 9102))
                    .await
                    .expect("connect to the device's FD port");
                connected.set(true);
                embedded_io_async::Write::write_all(&mut s, b"hello")
                    .await
                    .expect("write");
                embedded_io_async::Write::flush(&mut s)
                    .await
                    .expect("flush");
                // Keep the connection open until the device has read.
                embassy_time::Timer::after_millis(500).await;
            }),
        ],
        background(dev_runner, host_runner, dev_tx, dev_rx, host_tx, host_rx),
        std::time::Duration::from_secs(20),
    );
    assert!(ok, "hang: got {:?}", got.borrow());
    assert_eq!(&got.borrow()[..], b"hello");
}

/// `estimate` (vectors/clear-estimate conn 2 shape) and `status` on the device: the
/// partitions are counted with their sizes, and the status text names the client.
#[test]
fn estimate_and_status_on_the_device() {
    big_stack(|| {
        let dev = RefCell::new(provisioned());
        let dirs = director_list();
        let cfg = config(dirs);
        let jobs: &'static JobTable<2> = Box::leak(Box::new(JobTable::new()));
        let mut svc = Services {
            source: FlashSource::new(&dev),
            sink: FlashSink::new(&dev),
            connector: MemConnector::default(),
            clock: VClock::at(T0 + 100),
            digests: Sha256Only,
        };
        let mut bufs = Bufs::new();
        let (fd_end, dir_end) = pipe();
        let frames = RefCell::new(Vec::new());
        let status = RefCell::new(Vec::new());
        let cmds = vec![
            d("JobId=0 Job=-Console-.2026-11-22_15.47.42_06 SDid=0 SDtime=0 Authorization=dummy\n"),
            d("level = full  mtime_only=0 \n"),
            d("fileset vss=1\n"),
            d("I\n"),
            d("O S2HAX\n"),
            d("N\n"),
            d("F /"),
            d("N\n"),
            d("N\n"),
            Got::Sig(Signal::Eod),
            d("estimate listing=0\n"),
        ];
        let finished = run_all(vec![
            Box::pin(async {
                let _ = run_director_session(fd_end, &cfg, jobs, &mut svc, bufs.get(), 3).await;
            }),
            Box::pin(async {
                let mut p = director_connect(dir_end).await.expect("connect");
                for c in &cmds {
                    p.send(c).await;
                }
                let mut out = Vec::new();
                while let Some(g) = p.recv().await {
                    let eod = g == Got::Sig(Signal::Eod);
                    out.push(g);
                    if eod {
                        break;
                    }
                }
                p.send(&d("status\n")).await;
                let mut st = Vec::new();
                while let Some(g) = p.recv().await {
                    let eod = g == Got::Sig(Signal::Eod);
                    st.push(g);
                    if eod {
                        break;
                    }
                }
                p.send(&Got::Sig(Signal::Terminate)).await;
                *frames.borrow_mut() = out;
                *status.borrow_mut() = st;
            }),
        ]);
        assert!(finished);
        let frames = frames.into_inner();
        let bytes = config_blob().len() + fw_a().len() + fw_b().len();
        // Bareos prints the byte count with thousands separators (44,216).
        let bytes = format!("{},{:03}", bytes / 1000, bytes % 1000);
        // Five entries: two directories and three partitions.
        assert!(
            frames.contains(&d(&format!("2000 OK estimate files=5 bytes={bytes}\n"))),
            "{frames:?}"
        );
        let text: String = status
            .into_inner()
            .iter()
            .filter_map(|g| match g {
                Got::Data(x) => Some(String::from_utf8_lossy(x).into_owned()),
                _ => None,
            })
            .collect();
        assert!(text.contains("device-fd"), "{text}");
    });
}

/// Passive mode (vectors/clear-backup-passive conns 3/4): the Director sends no `storage`
/// command; the SD dials the device (`TlsConnector::accept_sd` through `Dial::accept`),
/// sends `Hello Storage calling Start Job …` (conn 4 msg 1 shape), the device authenticates
/// it with the session key as the inbound side *while it waits for the Director's next
/// command*, and only then does the Director send `backup` (as a real Director does after
/// the SD's `2000 OK passive client`); the append session follows.
#[test]
fn passive_backup_through_the_connector_accept() {
    big_stack(|| {
        let dev = RefCell::new(provisioned());
        let dirs = director_list();
        let cfg = config(dirs);
        let jobs: &'static JobTable<2> = Box::leak(Box::new(JobTable::new()));
        let dial = MemDial::default();
        let (fd_sd, sd_end) = pipe();
        dial.inbound.borrow_mut().push(fd_sd);
        let mut svc = Services {
            source: FlashSource::new(&dev),
            sink: FlashSink::new(&dev),
            connector: TlsConnector::new(
                dial.clone(),
                rand_core::OsRng,
                wire_sim::leak(budget::TLS_RECORD),
                wire_sim::leak(budget::TLS_RECORD_TX),
            ),
            clock: VClock::at(T0 + 100),
            digests: Sha256Only,
        };
        let mut bufs = Bufs::new();
        let (fd_end, dir_end) = pipe();
        let frames = RefCell::new(Vec::new());
        let records = RefCell::new(Vec::new());
        let cmds: Vec<Got> = backup_commands("full", "/firmware")
            .into_iter()
            .filter(|c| !matches!(c, Got::Data(x) if x.starts_with(b"storage ")))
            .collect();
        let sd_ready = Cell::new(false);
        let finished = run_all(vec![
            Box::pin(async {
                let _ = run_director_session(fd_end, &cfg, jobs, &mut svc, bufs.get(), 7).await;
            }),
            Box::pin(async {
                *frames.borrow_mut() =
                    director_run_gated(dir_end, cmds, None, Some(&sd_ready)).await
            }),
            Box::pin(async {
                let mut s = Peer::new(sd_end);
                s.send(&d(&format!(
                    "Hello Storage calling Start Job {JOB} Version=\"26.0.0\"\n"
                )))
                .await;
                let ev = s.auth(Role::Outbound, KEY.as_bytes(), b"File daemon").await;
                assert!(
                    matches!(ev, Some(auth::Event::Authenticated { .. })),
                    "{ev:?}"
                );
                // The SD answers the Director's `passive client` now; only then does the
                // Director send `backup` (the FD must have authenticated the SD before).
                sd_ready.set(true);
                sd_append_loop(s, &records).await;
            }),
        ]);
        assert!(finished, "hang");
        let frames = frames.into_inner();
        let ej = end_job(&frames).expect("End Job");
        assert_eq!(ej.term_code, JobStatus::Terminated, "{frames:?}");
        let data: Vec<u8> = records
            .into_inner()
            .iter()
            .filter(|r| r.1 == 2)
            .flat_map(|r| r.2.clone())
            .collect();
        let mut want = fw_a();
        want.extend(fw_b());
        assert_eq!(data, want);
    });
}

// ---------------------------------------------------------------------------------------
// Stalls during a backup, and the idle Director
// ---------------------------------------------------------------------------------------

/// A stream whose writes stop completing after `left` bytes, as a socket whose peer no
/// longer reads (the TCP window stays shut).
struct Choke {
    inner: End,
    left: usize,
}

impl embedded_io_async::ErrorType for Choke {
    type Error = embedded_io_async::ErrorKind;
}

impl Read for Choke {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        self.inner.read(buf).await
    }
}

impl Write for Choke {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        if self.left == 0 && !buf.is_empty() {
            std::future::pending::<()>().await;
        }
        let n = buf.len().min(self.left);
        self.left -= n;
        self.inner.write(&buf[..n]).await
    }
    async fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// A connector whose SD connection chokes after `limit` bytes from the FD.
#[derive(Clone)]
struct ChokeConnector {
    accepted: Rc<RefCell<Vec<End>>>,
    limit: usize,
}

impl Connector for ChokeConnector {
    type Stream = Choke;
    type Error = &'static str;
    async fn connect(
        &mut self,
        _a: &[u8],
        _p: u16,
        _psk: Option<PskParams<'_>>,
    ) -> Result<Choke, &'static str> {
        let (a, b) = pipe();
        self.accepted.borrow_mut().push(b);
        Ok(Choke {
            inner: a,
            left: self.limit,
        })
    }
    async fn accept_sd(&mut self, _job: &[u8]) -> Result<Choke, &'static str> {
        Err("passive mode not used in this test")
    }
}

/// How the test SD of [`run_stalled_backup`] stalls.
#[derive(Debug, Clone, Copy, PartialEq)]
enum BackupStall {
    /// Never answers `append open session` (reads on).
    NoOpenReply,
    /// Never answers the end of the data (`3000 OK append data`; reads on).
    NoEndOfDataReply,
    /// Stops reading after this many bytes of the data channel.
    StopsReading(usize),
}

/// A Full backup of the provisioned device against an SD that stalls as `stall`; returns
/// whether everything ended in time, the Director's frames and the session's result.
fn run_stalled_backup(stall: BackupStall) -> (bool, Vec<Got>, String) {
    let dev = RefCell::new(provisioned());
    let dirs = director_list();
    let cfg = config(dirs);
    let jobs: &'static JobTable<2> = Box::leak(Box::new(JobTable::new()));
    let limit = match stall {
        BackupStall::StopsReading(n) => n,
        _ => usize::MAX,
    };
    let connector = ChokeConnector {
        accepted: Rc::default(),
        limit,
    };
    let mut svc = Services {
        source: FlashSource::new(&dev),
        sink: FlashSink::new(&dev),
        connector: connector.clone(),
        clock: VClock::at(T0 + 100),
        digests: Sha256Only,
    };
    let mut bufs = Bufs::new();
    let (fd_end, dir_end) = pipe();
    let frames = RefCell::new(Vec::new());
    let result = RefCell::new(String::new());
    let finished = run_all(vec![
        Box::pin(async {
            let r = run_director_session(fd_end, &cfg, jobs, &mut svc, bufs.get(), 7).await;
            *result.borrow_mut() = format!("{r:?}");
        }),
        Box::pin(async {
            *frames.borrow_mut() = director_run(dir_end, backup_commands("full", "/"), None).await
        }),
        Box::pin(async {
            let e = std::future::poll_fn(|_| match connector.accepted.borrow_mut().pop() {
                Some(e) => Poll::Ready(e),
                None => Poll::Pending,
            })
            .await;
            let mut s = Peer::new(e);
            if s.recv().await.is_none() {
                return;
            }
            let ev = s
                .auth(Role::Inbound, KEY.as_bytes(), b"R_STORAGE::bareos-sd")
                .await;
            assert!(matches!(ev, Some(auth::Event::Authenticated { .. })));
            let mut in_data = false;
            while let Some(g) = s.recv().await {
                match g {
                    // NoOpenReply: read on, never answer.
                    Got::Data(x)
                        if x == b"append open session\n" && stall != BackupStall::NoOpenReply =>
                    {
                        s.send(&d("3000 OK open ticket = 3\n")).await;
                    }
                    Got::Data(x) if x == b"append data 3\n" => {
                        s.send(&d("3000 OK data\n")).await;
                        in_data = true;
                    }
                    Got::Sig(Signal::Eod) if in_data => {
                        in_data = false;
                        if stall != BackupStall::NoEndOfDataReply {
                            s.send(&d("3000 OK append data\n")).await;
                        }
                    }
                    Got::Data(x) if x == b"append end session 3\n" => {
                        s.send(&d("3000 OK end\n")).await;
                    }
                    Got::Data(x) if x == b"append close session 3\n" => {
                        s.send(&d("3000 OK close Status = 84\n")).await;
                        s.send(&Got::Sig(Signal::Eod)).await;
                    }
                    _ => {}
                }
            }
        }),
    ]);
    (finished, frames.into_inner(), result.into_inner())
}

/// A Storage daemon that stalls during a backup (stops answering, or stops reading so the
/// FD's writes block): the job fails within fd-core's data-phase timeout (virtual clock),
/// the Director gets an End Job with TermCode=69 (`E`), nothing hangs.
#[test]
fn a_stalled_sd_during_backup_fails_the_job() {
    big_stack(|| {
        for stall in [
            BackupStall::NoOpenReply,
            BackupStall::NoEndOfDataReply,
            // Inside the first data records, and deep inside slot A's image.
            BackupStall::StopsReading(2_000),
            BackupStall::StopsReading(30_000),
        ] {
            let (finished, frames, result) = run_stalled_backup(stall);
            assert!(finished, "{stall:?}: the backup hung: {frames:?}");
            let ej = end_job(&frames).unwrap_or_else(|| panic!("{stall:?}: {frames:?}"));
            // A failed session ends its job `E` (69), as bareos-fd, never `R` (82).
            assert_eq!(
                ej.term_code,
                JobStatus::ErrorTerminated,
                "{stall:?}: {ej:?} {result}"
            );
            if let BackupStall::StopsReading(_) = stall {
                assert!(result.contains("TimedOut"), "{stall:?}: {result}");
            }
        }
    });
}

/// A Director that goes silent in the middle of a job (after the fileset, before
/// `backup`): the session ends with a timeout (`DIRECTOR_JOB_TIMEOUT`, virtual clock)
/// instead of holding the device for ever; a Director silent between jobs is waited for
/// (no `JobId=` yet: unbounded, as Bareos), and the job it then sends runs.
#[test]
fn a_director_stalled_mid_job_ends_the_session_but_an_idle_one_is_waited_for() {
    big_stack(|| {
        // Mid-job: everything up to the fileset, then silence.
        let dev = RefCell::new(provisioned());
        let dirs = director_list();
        let cfg = config(dirs);
        let jobs: &'static JobTable<2> = Box::leak(Box::new(JobTable::new()));
        let clock = VClock::at(T0 + 100);
        let mut svc = Services {
            source: FlashSource::new(&dev),
            sink: FlashSink::new(&dev),
            connector: MemConnector::default(),
            clock: clock.clone(),
            digests: Sha256Only,
        };
        let mut bufs = Bufs::new();
        let (fd_end, dir_end) = pipe();
        let result = RefCell::new(None);
        let cmds: Vec<Got> = backup_commands("full", "/")
            .into_iter()
            .take_while(|c| !matches!(c, Got::Data(x) if x.starts_with(b"getSecureEraseCmd")))
            .collect();
        let fd_done = Cell::new(false);
        let finished = run_all(vec![
            Box::pin(async {
                let r = run_director_session(fd_end, &cfg, jobs, &mut svc, bufs.get(), 7).await;
                *result.borrow_mut() = Some(r);
                fd_done.set(true);
            }),
            Box::pin(async {
                let mut p = director_connect(dir_end).await.expect("Director connect");
                for c in &cmds {
                    p.send(c).await;
                }
                // Silent, the connection open, until the FD gives up.
                std::future::poll_fn(|_| {
                    if fd_done.get() {
                        Poll::Ready(())
                    } else {
                        Poll::Pending
                    }
                })
                .await;
                drop(p);
            }),
        ]);
        assert!(finished, "the session hung on a silent Director");
        let r = result.into_inner().expect("session result");
        assert!(
            matches!(
                r,
                Err(fd_core::fd::session::SessionError::Conn(
                    fd_core::fd::conn::ConnError::Io(embedded_io_async::ErrorKind::TimedOut)
                ))
            ),
            "{r:?}"
        );
        assert!(
            clock.now().total_micros() - Instant::from_secs(T0 + 100).total_micros()
                >= fd_core::fd::conn::DIRECTOR_JOB_TIMEOUT.total_micros() as i64,
            "the FD gave up before the mid-job timeout"
        );

        // Idle: authenticated, then silent for twice the mid-job timeout; then a Full backup.
        let dev = RefCell::new(provisioned());
        let clock = VClock::at(T0 + 100);
        let connector = MemConnector::default();
        let mut svc = Services {
            source: FlashSource::new(&dev),
            sink: FlashSink::new(&dev),
            connector: connector.clone(),
            clock: clock.clone(),
            digests: Sha256Only,
        };
        let mut bufs = Bufs::new();
        let (fd_end, dir_end) = pipe();
        let frames = RefCell::new(Vec::new());
        let records = RefCell::new(Vec::new());
        let result = RefCell::new(None);
        let finished = run_all(vec![
            Box::pin(async {
                let r = run_director_session(fd_end, &cfg, jobs, &mut svc, bufs.get(), 7).await;
                *result.borrow_mut() = Some(r);
            }),
            Box::pin(async {
                let mut p = director_connect(dir_end).await.expect("Director connect");
                // Many rounds of silence while the virtual clock passes 2 × the timeout.
                let mut rounds = 0;
                std::future::poll_fn(|_| {
                    rounds += 1;
                    clock.0.set(clock.0.get() + 1_000_000);
                    if rounds > 2 * 3600 + 10 {
                        Poll::Ready(())
                    } else {
                        Poll::Pending
                    }
                })
                .await;
                let mut out = Vec::new();
                for c in backup_commands("full", "/") {
                    p.send(&c).await;
                }
                while let Some(g) = p.recv().await {
                    out.push(g);
                }
                *frames.borrow_mut() = out;
            }),
            Box::pin(sd_append(&connector, &records)),
        ]);
        assert!(finished, "hang");
        let frames = frames.into_inner();
        let r = result.into_inner().expect("session result");
        assert!(r.is_ok(), "{r:?} {frames:?}");
        let ej = end_job(&frames).unwrap_or_else(|| panic!("{frames:?}"));
        assert_eq!(ej.term_code, JobStatus::Terminated, "{frames:?}");
        assert_eq!(ej.errors, 0, "{frames:?}");
    });
}
