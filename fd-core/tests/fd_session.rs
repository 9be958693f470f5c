//! The File Daemon core (`fd_core::fd`) driven end to end over in-memory pipes: a test
//! Director and a test Storage daemon built from fd-core codecs, an in-memory file tree and
//! restore sink, a virtual clock, and a small single-threaded executor.
//!
//! The first test replays vectors/clear-backup-full: the Director side sends exactly the
//! frames the real Director sent on conn 3 and checks every FD reply against the real FD's
//! (job message times excepted); the SD side answers with the real SD's frames of conn 4
//! and checks every frame the FD sends, attribute records and data included, byte for byte.
//! CRAM-MD5 runs for real with the captured passwords (its random challenges differ).

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;
use std::task::Poll;

use barque_testkit::pipe::{pipe, End, Task};
use fd_core::auth::{self, Authenticator, Role};
use fd_core::fd::conn::{Conn, Msg};
use fd_core::fd::jobs::JobTable;
use fd_core::fd::platform::{
    Clock, Connector, CreateKind, Created, DigestProvider, Entry, EntryKind, FileSink, FileSource,
    Hasher, PskParams, StandardDigests, WalkOptions,
};
use fd_core::fd::session::{run_director_session, SessionEnd};
use fd_core::fd::{Buffers, DirectorAuth, FdConfig, Services};
use fd_core::time::{Duration, Instant};
use fd_core::wire::attr::{AttrRecord, DigestKind, FileType, Stat};
use fd_core::wire::bnet::{Frame, Signal};
use fd_core::wire::codes::JobStatus;
use fd_core::wire::dir_cmd::{EndJob, FdReply};
use fd_core::wire::hello::Version;
use fd_core::wire::jmsg::Jmsg;
use fd_core::wire::psk::PasswordKey;
use fd_core::wire::stream::{RecHdr, Stream};
use fd_core::wire::tls_policy::TlsPolicy;
use sha2::Digest as _;

// ---------------------------------------------------------------------------------------
// Captures
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Got {
    Data(Vec<u8>),
    Sig(Signal),
}

#[derive(Debug, Clone)]
struct CapMsg {
    i: u32,
    from_client: bool,
    got: Got,
    /// For payloads the jsonl cuts (over 32 KiB): their length and SHA-256.
    whole: Option<(usize, String)>,
}

/// The messages of one connection of a capture (barque-testkit's transcript reader);
/// `from_client` = sent by the connecting side.
fn capture(name: &str, conn: u32) -> Vec<CapMsg> {
    let client = barque_testkit::transcript::conn(name, conn).client_role;
    let out: Vec<CapMsg> = barque_testkit::transcript::messages(name, conn)
        .into_iter()
        .map(|m| CapMsg {
            i: m.i,
            from_client: m.from() == client,
            whole: m.sha256.clone().map(|sha| (m.len as usize, sha)),
            got: match m.signal_code() {
                Some(code) => Got::Sig(Signal::from_code(code)),
                None => Got::Data(m.data),
            },
        })
        .collect();
    assert!(!out.is_empty(), "no messages for {name} conn {conn}");
    out
}

// ---------------------------------------------------------------------------------------
// Executor and pipes
// ---------------------------------------------------------------------------------------

/// Poll all tasks round robin until all are done; a stall is a test failure (deadlock).
fn run_all(tasks: Vec<Task<'_>>) {
    assert!(
        barque_testkit::pipe::run_all(tasks, 50_000_000),
        "tasks did not finish (deadlock?)"
    );
}

/// A test peer built on the same framing.
struct Peer {
    conn: Conn<End>,
    buf: Vec<u8>,
}

impl Peer {
    fn new(e: End) -> Self {
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
    async fn send(&mut self, g: &Got) {
        match g {
            Got::Data(d) => self.conn.send(d).await.unwrap(),
            Got::Sig(s) => self.conn.signal(*s).await.unwrap(),
        }
    }
    /// Run CRAM-MD5 (no timers: the peers are in-process).
    async fn auth(&mut self, role: Role, key: &[u8], own: &[u8]) -> auth::Event {
        let cfg = auth::Config::new(role, key, own, TlsPolicy::None, 12345, 1_795_362_414);
        let mut a = Authenticator::new(cfg, Instant::ZERO).unwrap();
        let mut out = [0u8; auth::MAX_TRANSMIT_LEN];
        loop {
            while let Some(n) = a.poll_transmit(&mut out).unwrap() {
                self.conn.send_raw(&out[..n]).await.unwrap();
            }
            if let Some(ev) = a.poll_event() {
                return ev;
            }
            match self.recv().await.expect("peer closed during auth") {
                Got::Data(d) => a.handle_frame(Instant::ZERO, Frame::Data(&d)),
                Got::Sig(s) => a.handle_frame(Instant::ZERO, Frame::Signal(s)),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Platform doubles
// ---------------------------------------------------------------------------------------

#[derive(Clone, Default)]
struct VClock(Rc<Cell<i64>>);

impl VClock {
    fn at(unix: i64) -> Self {
        VClock(Rc::new(Cell::new(unix * 1_000_000)))
    }
    fn advance(&self, d: Duration) {
        self.0.set(self.0.get() + d.total_micros() as i64);
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
    /// Virtual sleep: give the other tasks many polls to make progress first (so a sleep
    /// raced against a receive loses when the peer answers), then jump the clock.
    async fn sleep_until(&self, deadline: Instant) {
        let mut polls = 0u32;
        std::future::poll_fn(|_| {
            if self.0.get() >= deadline.total_micros() {
                return Poll::Ready(());
            }
            polls += 1;
            if polls > 2000 {
                self.0.set(deadline.total_micros());
                return Poll::Ready(());
            }
            Poll::Pending
        })
        .await
    }
}

#[derive(Clone)]
struct Node {
    path: Vec<u8>,
    kind: EntryKind,
    stat: Stat,
    data: Vec<u8>,
    link: Vec<u8>,
    unreadable: bool,
}

#[derive(Clone, Default)]
struct MemFs {
    nodes: Vec<Node>,
    walk: Vec<(EntryKind, usize)>,
    pos: usize,
    open: Option<(usize, usize)>,
    /// Read delay per read call (bandwidth/cancel tests).
    clock: Option<VClock>,
    /// Accept [`FileSource::hash_reads`]: hash what `read` returns here.
    hash_reads: bool,
    hasher: Option<<StandardDigests as DigestProvider>::Hasher>,
    /// Bytes hashed by the source (shared with the test).
    hashed: Rc<Cell<u64>>,
}

fn parent(p: &[u8]) -> &[u8] {
    match p.iter().rposition(|&b| b == b'/') {
        Some(0) => b"/",
        Some(i) => &p[..i],
        None => b"",
    }
}

impl MemFs {
    fn add(&mut self, path: &str, kind: EntryKind, stat: Stat, data: &[u8], link: &str) {
        self.nodes.push(Node {
            path: path.as_bytes().to_vec(),
            kind,
            stat,
            data: data.to_vec(),
            link: link.as_bytes().to_vec(),
            unreadable: false,
        });
    }
    fn find(&self, p: &[u8]) -> Option<usize> {
        self.nodes.iter().position(|n| n.path == p)
    }
    fn build(&self, i: usize, out: &mut Vec<(EntryKind, usize)>) {
        let n = &self.nodes[i];
        if n.kind == EntryKind::Dir {
            out.push((EntryKind::DirBegin, i));
            for (j, c) in self.nodes.iter().enumerate() {
                if parent(&c.path) == n.path.as_slice() && j != i {
                    self.build(j, out);
                }
            }
            out.push((EntryKind::Dir, i));
        } else {
            out.push((n.kind, i));
        }
    }
}

impl FileSource for MemFs {
    type Error = &'static str;
    async fn start(&mut self, root: &[u8], _o: &WalkOptions) -> Result<(), &'static str> {
        let i = self.find(root).ok_or("no such root")?;
        self.walk.clear();
        let mut w = Vec::new();
        self.build(i, &mut w);
        self.walk = w;
        self.pos = 0;
        Ok(())
    }
    async fn next(
        &mut self,
        name: &mut [u8],
        link: &mut [u8],
    ) -> Result<Option<Entry>, &'static str> {
        let Some(&(kind, i)) = self.walk.get(self.pos) else {
            return Ok(None);
        };
        self.pos += 1;
        let n = &self.nodes[i];
        name[..n.path.len()].copy_from_slice(&n.path);
        link[..n.link.len()].copy_from_slice(&n.link);
        Ok(Some(Entry {
            kind,
            name_len: n.path.len(),
            link_len: n.link.len(),
            stat: n.stat,
        }))
    }
    fn skip_dir(&mut self) {
        let Some(&(_, i)) = self.walk.get(self.pos.wrapping_sub(1)) else {
            return;
        };
        while let Some(&(k, j)) = self.walk.get(self.pos) {
            if k == EntryKind::Dir && j == i {
                break;
            }
            self.pos += 1;
        }
    }
    async fn open(&mut self, path: &[u8]) -> Result<(), &'static str> {
        let i = self.find(path).ok_or("no such file")?;
        if self.nodes[i].unreadable {
            return Err("permission denied");
        }
        self.open = Some((i, 0));
        Ok(())
    }
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, &'static str> {
        let (i, off) = self.open.ok_or("not open")?;
        if let Some(c) = &self.clock {
            c.advance(Duration::from_millis(1));
        }
        let d = &self.nodes[i].data;
        let n = buf.len().min(d.len() - off).min(100_000);
        buf[..n].copy_from_slice(&d[off..off + n]);
        self.open = Some((i, off + n));
        if let Some(h) = self.hasher.as_mut() {
            h.update(&buf[..n]);
            self.hashed.set(self.hashed.get() + n as u64);
        }
        Ok(n)
    }
    fn hash_reads(&mut self, kind: DigestKind) -> bool {
        assert!(
            self.open.is_some_and(|(_, off)| off == 0),
            "asked after a read"
        );
        self.hasher = StandardDigests.hasher(kind).filter(|_| self.hash_reads);
        self.hasher.is_some()
    }
    async fn read_digest(&mut self, out: &mut [u8]) -> usize {
        self.hasher.take().map_or(0, |h| h.finish(out))
    }
    async fn close(&mut self) {
        self.open = None;
        self.hasher = None;
    }
    fn acl_support(&self) -> bool {
        true
    }
    fn xattr_support(&self) -> bool {
        true
    }
    fn user_name(&self, uid: i64, out: &mut [u8]) -> usize {
        let s: &[u8] = if uid == 0 { b"root" } else { b"user" };
        out[..s.len()].copy_from_slice(s);
        s.len()
    }
    fn group_name(&self, gid: i64, out: &mut [u8]) -> usize {
        self.user_name(gid, out)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum OutKind {
    File(Vec<u8>),
    Dir,
    Symlink(Vec<u8>),
    HardLink(Vec<u8>),
    Fifo,
}

#[derive(Default)]
struct MemSink {
    root: Vec<u8>,
    files: BTreeMap<Vec<u8>, (OutKind, Stat)>,
    pending: Option<(Vec<u8>, Vec<u8>)>,
    aborted: Vec<Vec<u8>>,
}

impl FileSink for MemSink {
    type Error = &'static str;
    async fn create(
        &mut self,
        path: &[u8],
        kind: CreateKind<'_>,
        stat: &Stat,
        _replace: fd_core::wire::dir_cmd::Replace,
    ) -> Result<Created, &'static str> {
        if !path.starts_with(&self.root) {
            return Err("outside the restore root");
        }
        let p = path.strip_suffix(b"/").unwrap_or(path).to_vec();
        let k = match kind {
            CreateKind::Regular => {
                self.pending = Some((p, Vec::new()));
                return Ok(Created::Created);
            }
            CreateKind::Dir => OutKind::Dir,
            CreateKind::Symlink { target } => OutKind::Symlink(target.to_vec()),
            CreateKind::HardLink { target } => OutKind::HardLink(target.to_vec()),
            CreateKind::Fifo | CreateKind::Device { .. } => OutKind::Fifo,
        };
        self.files.insert(p, (k, *stat));
        Ok(Created::Created)
    }
    async fn write_at(&mut self, offset: u64, data: &[u8]) -> Result<(), &'static str> {
        let (_, buf) = self.pending.as_mut().ok_or("no file")?;
        let end = offset as usize + data.len();
        if buf.len() < end {
            buf.resize(end, 0);
        }
        buf[offset as usize..end].copy_from_slice(data);
        Ok(())
    }
    async fn commit(&mut self, stat: &Stat) -> Result<(), &'static str> {
        let (p, mut buf) = self.pending.take().ok_or("no file")?;
        buf.resize(stat.size as usize, 0);
        self.files.insert(p, (OutKind::File(buf), *stat));
        Ok(())
    }
    async fn abort(&mut self) {
        if let Some((p, _)) = self.pending.take() {
            self.aborted.push(p);
        }
    }
}

#[derive(Clone, Default)]
struct MemConnector {
    accepted: Rc<RefCell<Vec<End>>>,
    identities: Rc<RefCell<Vec<Option<Vec<u8>>>>>,
    /// Passive mode: connections "accepted" from an SD, handed to the FD on request.
    passive: Rc<RefCell<Vec<End>>>,
}

impl Connector for MemConnector {
    type Stream = End;
    type Error = &'static str;
    async fn connect(
        &mut self,
        _a: &[u8],
        _p: u16,
        psk: Option<PskParams<'_>>,
    ) -> Result<End, &'static str> {
        let (a, b) = pipe();
        self.accepted.borrow_mut().push(b);
        self.identities
            .borrow_mut()
            .push(psk.map(|p| p.identity.to_vec()));
        Ok(a)
    }
    async fn accept_sd(&mut self, _job: &[u8]) -> Result<End, &'static str> {
        self.passive
            .borrow_mut()
            .pop()
            .ok_or("no passive SD connection")
    }
}

impl MemConnector {
    fn passive_pipe(&self) -> End {
        let (fd, sd) = pipe();
        self.passive.borrow_mut().push(fd);
        sd
    }

    async fn accept(&self) -> End {
        std::future::poll_fn(|_| match self.accepted.borrow_mut().pop() {
            Some(e) => Poll::Ready(e),
            None => Poll::Pending,
        })
        .await
    }
}

// ---------------------------------------------------------------------------------------
// FD under test
// ---------------------------------------------------------------------------------------

const FD_PASSWORD: &[u8] = b"ref-fd-password";
const JOB_VERSION: &[u8] =
    b"26.0.0~pre1298.eda204c31 (21Aug26) Debian GNU/Linux 12 (bookworm),debian";
const VERSION_TEXT: &[u8] =
    b"26.0.0~pre1298.eda204c31 (21 August 2026) Debian GNU/Linux 12 (bookworm)";

fn fd_key() -> Vec<u8> {
    PasswordKey::from_cleartext(FD_PASSWORD).as_bytes().to_vec()
}

type Svc = Services<MemFs, MemSink, MemConnector, VClock, StandardDigests>;

fn config<'a>(dirs: &'a [DirectorAuth<'a>]) -> FdConfig<'a> {
    FdConfig {
        name: b"bareos-fd",
        directors: dirs,
        version: Version::new(26, 0, 0),
        job_version: JOB_VERSION,
        version_text: VERSION_TEXT,
        binary_info: b"self-compiled",
        secure_erase: None,
        heartbeat_interval: Duration::ZERO,
        max_bandwidth: 0,
        tls_policy: TlsPolicy::None,
        tls_active: false,
        network_buffer_size: 262_144,
        started: 1_795_362_400,
        utc_offset: 0,
        debug_level: 100,
    }
}

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
            dir_rx: vec![0; 65_536],
            tx: vec![0; 65_536],
            sd_rx: vec![0; 1_000_000],
            data: vec![0; 262_144 + 8],
            fileset: vec![0; 4096],
            accurate: vec![0; 16_384],
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

fn leak_key() -> &'static [u8] {
    Box::leak(fd_key().into_boxed_slice())
}

fn director_list() -> &'static [DirectorAuth<'static>] {
    Box::leak(
        vec![DirectorAuth {
            name: b"bareos-dir",
            key: leak_key(),
            monitor: false,
            max_bandwidth: 0,
        }]
        .into_boxed_slice(),
    )
}

/// Director side: hello + auth; returns the connected peer after `2000 OK Hello 54`.
async fn director_connect(e: End) -> Peer {
    let mut d = Peer::new(e);
    // vectors/clear-backup-full conn 3 msg 1.
    d.send(&Got::Data(
        b"Hello Director bareos-dir calling Version=\"26.0.0\"\n".to_vec(),
    ))
    .await;
    let ev = d
        .auth(Role::Outbound, &fd_key(), b"R_DIRECTOR::bareos-dir")
        .await;
    assert!(matches!(ev, auth::Event::Authenticated { .. }), "{ev:?}");
    // conn 3 msg 8.
    assert_eq!(
        d.recv().await,
        Some(Got::Data(b"2000 OK Hello 54\n".to_vec()))
    );
    d
}

/// Compare an FD reply with the captured one; job messages modulo their time.
fn same_reply(got: &Got, want: &Got) -> bool {
    match (got, want) {
        (Got::Data(g), Got::Data(w)) if w.starts_with(b"Jmsg ") => {
            let (Ok(g), Ok(w)) = (Jmsg::parse(g), Jmsg::parse(w)) else {
                return false;
            };
            g.job == w.job && g.msg_type == w.msg_type && g.text == w.text
        }
        _ => got == want,
    }
}

fn show(g: &Got) -> String {
    match g {
        Got::Data(d) => format!("{:?}", String::from_utf8_lossy(&d[..d.len().min(200)])),
        Got::Sig(s) => format!("<{s:?}>"),
    }
}

/// The in-memory copy of the captured tree, built from the attribute records and data the
/// real FD sent (vectors/clear-backup-full conn 4 msgs 13–46).
fn captured_tree(conn4: &[CapMsg]) -> MemFs {
    let mut fs = MemFs::default();
    let mut last_reg: Option<usize> = None;
    let mut hdr_stream = 0;
    let mut prev_eod = false;
    for m in conn4.iter().filter(|m| m.from_client && m.i >= 12) {
        // The data phase ends with an EOD in header position (two EODs in a row).
        let eod = m.got == Got::Sig(Signal::Eod);
        if eod && prev_eod {
            break;
        }
        prev_eod = eod;
        let Got::Data(d) = &m.got else { continue };
        if let Ok(h) = fd_core::wire::stream::DataHeader::parse(d) {
            if m.i >= 12 {
                hdr_stream = h.stream.0;
                continue;
            }
        }
        if m.i < 12 {
            continue;
        }
        match hdr_stream {
            1 => {
                let r = AttrRecord::parse(d).unwrap_or_else(|e| {
                    panic!("msg {}: {e:?} {:?}", m.i, String::from_utf8_lossy(d))
                });
                let path = String::from_utf8(r.fname.to_vec()).unwrap();
                let path = path.trim_end_matches('/');
                let kind = match r.file_type {
                    FileType::Reg | FileType::RegE | FileType::LnkSaved => EntryKind::Regular,
                    FileType::DirEnd => EntryKind::Dir,
                    FileType::Lnk => EntryKind::Symlink,
                    FileType::Deleted => continue,
                    t => panic!("{t:?}"),
                };
                let mut st = r.stat;
                st.data_stream = 0;
                st.link_fi = 0;
                let link = if r.file_type == FileType::Lnk {
                    r.link
                } else {
                    b""
                };
                fs.add(path, kind, st, b"", std::str::from_utf8(link).unwrap());
                last_reg = Some(fs.nodes.len() - 1);
            }
            2 => fs.nodes[last_reg.unwrap()].data.extend_from_slice(d),
            6 => {
                // Sparse record: 8-byte offset + data (long records are cut in the jsonl;
                // their content is not needed by the tests that use such trees).
                let off = u64::from_be_bytes(d[..8].try_into().unwrap()) as usize;
                let node = &mut fs.nodes[last_reg.unwrap()];
                if node.data.len() < off + d.len() - 8 {
                    node.data.resize(off + d.len() - 8, 0);
                }
                node.data[off..off + d.len() - 8].copy_from_slice(&d[8..]);
            }
            _ => {}
        }
    }
    fs
}

#[test]
fn backup_full_replays_clear_backup_full() {
    assert_eq!(replay_clear_backup_full(false), 0);
}

#[test]
fn backup_full_replays_clear_backup_full_with_the_source_hashing() {
    // The digests come from the source's hash of what it read (FileSource::hash_reads) and
    // are byte for byte the real FD's; the source hashed every byte of file data the job
    // read (ReadBytes 306: hello.txt, sub/bytes.bin, sub/notes.txt).
    assert_eq!(replay_clear_backup_full(true), 306);
}

/// Replay vectors/clear-backup-full; returns the bytes the source hashed.
fn replay_clear_backup_full(source_hashes: bool) -> u64 {
    let conn3 = capture("clear-backup-full", 3);
    let conn4 = capture("clear-backup-full", 4);
    let mut fs = captured_tree(&conn4);
    fs.hash_reads = source_hashes;
    let hashed = fs.hashed.clone();
    // Sanity: the tree holds the six captured entries.
    assert_eq!(fs.nodes.len(), 6);

    let dirs = director_list();
    let cfg = config(dirs);
    let jobs: &'static JobTable<4> = Box::leak(Box::new(JobTable::new()));
    let clock = VClock::at(1_795_362_414);
    let connector = MemConnector::default();
    let mut svc: Svc = Services {
        source: fs,
        sink: MemSink::default(),
        connector: connector.clone(),
        clock: clock.clone(),
        digests: StandardDigests,
    };
    let mut bufs = Bufs::new();
    let (fd_end, dir_end) = pipe();
    let result: RefCell<Option<SessionEnd>> = RefCell::new(None);
    let fd_task = async {
        let r = run_director_session(fd_end, &cfg, jobs, &mut svc, bufs.get(), 264_409_646).await;
        *result.borrow_mut() = Some(r.unwrap());
    };
    let dir_task = async {
        let mut d = director_connect(dir_end).await;
        for m in conn3.iter().filter(|m| m.i >= 9) {
            if m.from_client {
                d.send(&m.got).await;
            } else {
                let got = d
                    .recv()
                    .await
                    .unwrap_or_else(|| panic!("FD closed before conn 3 msg {}", m.i));
                assert!(
                    same_reply(&got, &m.got),
                    "conn 3 msg {}: FD sent {} but the real FD sent {}",
                    m.i,
                    show(&got),
                    show(&m.got)
                );
            }
        }
        // The FD closes after its TERMINATE.
        assert_eq!(d.recv().await, None);
    };
    let sd_task = async {
        let mut s = Peer::new(connector.accept().await);
        // conn 4 msg 1: the hello, byte for byte.
        assert_eq!(s.recv().await.as_ref(), Some(&conn4[0].got));
        let key = b"HLCO-EFBN-FKHA-HBFC-DIEI-MGND-JDEM-ILMP";
        let ev = s.auth(Role::Inbound, key, b"R_STORAGE::bareos-sd").await;
        assert!(matches!(ev, auth::Event::Authenticated { .. }), "{ev:?}");
        for m in conn4.iter().filter(|m| m.i >= 8) {
            if m.from_client {
                let got = s.recv().await.unwrap_or_else(|| {
                    panic!("FD closed the SD connection before conn 4 msg {}", m.i)
                });
                assert_eq!(
                    got,
                    m.got,
                    "conn 4 msg {}: FD sent {} but the real FD sent {}",
                    m.i,
                    show(&got),
                    show(&m.got)
                );
            } else {
                s.send(&m.got).await;
            }
        }
    };
    run_all(vec![
        Box::pin(fd_task),
        Box::pin(dir_task),
        Box::pin(sd_task),
    ]);
    let end = result.borrow().unwrap();
    assert_eq!(end.status, JobStatus::Terminated);
    assert_eq!(end.files, 6);
    // The job is listed as terminated.
    let t = jobs.terminated_job(0).unwrap();
    assert_eq!(t.name(), b"CapBackup.2026-11-22_15.46.52_03");
    assert_eq!(t.bytes, 306);
    hashed.get()
}

// ---------------------------------------------------------------------------------------
// Scripted Director and SD for synthetic jobs
// ---------------------------------------------------------------------------------------

const KEY: &str = "ABCD-EFGH-IJKL-MNOP-ABCD-EFGH-IJKL-MNOP";
const JOB: &str = "Test.2026-11-22_16.00.00_01";

fn d(s: &str) -> Got {
    Got::Data(s.as_bytes().to_vec())
}

fn backup_commands(level: &str, options: &str, root: &str) -> Vec<Got> {
    let mut v = vec![
        d(&format!(
            "JobId=7 Job={JOB} SDid=3 SDtime=1795365000 Authorization={KEY}\n"
        )),
        d(&format!("level = {level}  mtime_only=0 \n")),
    ];
    if level != "full" {
        v.push(d(
            "level = since_utime 1795365000 mtime_only=0 prev_job=Test.2026-11-22_15.00.00_01\n",
        ));
        // BTIME answers are sent by the director task itself.
    }
    v.extend([
        d("fileset vss=1\n"),
        d("I\n"),
        d(&format!("O {options}\n")),
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

/// Send `cmds` (answering BTIME signals), then read until the FD closes; returns the FD's
/// frames.
async fn director_run(e: End, cmds: Vec<Got>) -> Vec<Got> {
    let mut d = director_connect(e).await;
    let mut out = Vec::new();
    let mut pending: VecDeque<Got> = cmds.into();
    // Send until a `level = since_utime` line, whose BTIME exchange needs answers.
    let mut hold = false;
    loop {
        while !hold {
            let Some(c) = pending.pop_front() else { break };
            hold = matches!(&c, Got::Data(x) if x.starts_with(b"level = since_utime"));
            d.send(&c).await;
        }
        match d.recv().await {
            None => return out,
            Some(Got::Sig(Signal::Btime)) => {
                d.send(&d_btime()).await;
            }
            Some(g) => {
                if g == Got::Data(b"2000 OK level\n".to_vec()) {
                    hold = false;
                }
                out.push(g);
            }
        }
    }
}

fn d_btime() -> Got {
    // The same clock as the FD (VClock::at(1_795_365_100) in run_backup): no skew.
    d("btime 1795365100000000\n")
}

fn end_job(frames: &[Got]) -> EndJob {
    frames
        .iter()
        .find_map(|g| match g {
            Got::Data(x) => match FdReply::parse(x) {
                Ok(FdReply::EndJob(e)) => Some(e),
                _ => None,
            },
            _ => None,
        })
        .expect("no End Job line")
}

type Records = Vec<(i32, i32, Vec<u8>)>;

/// A Storage daemon that accepts one append session and records its records.
async fn sd_append(connector: &MemConnector, records: &RefCell<Records>, started: &Cell<bool>) {
    let mut s = Peer::new(connector.accept().await);
    let hello = s.recv().await.unwrap();
    assert_eq!(
        hello,
        d(&format!("Hello Start Job {JOB} Version=\"26.0.0\"\n"))
    );
    let ev = s
        .auth(Role::Inbound, KEY.as_bytes(), b"R_STORAGE::bareos-sd")
        .await;
    assert!(matches!(ev, auth::Event::Authenticated { .. }));
    let mut tracker = fd_core::wire::stream::AppendTracker::new(false);
    let mut in_data = false;
    while let Some(g) = s.recv().await {
        if in_data {
            let ev = match &g {
                Got::Data(x) => tracker.on_message(x).map(|e| match e {
                    fd_core::wire::stream::AppendEvent::Data { header, data } => {
                        records.borrow_mut().push((
                            header.file_index,
                            header.stream.0,
                            data.to_vec(),
                        ));
                        started.set(true);
                        false
                    }
                    _ => false,
                }),
                Got::Sig(Signal::Eod) => tracker
                    .on_eod()
                    .map(|e| matches!(e, fd_core::wire::stream::AppendEvent::EndOfData)),
                Got::Sig(Signal::Terminate) => return,
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
            Got::Sig(Signal::Terminate) => return,
            other => panic!("unexpected frame to the SD: {}", show(&other)),
        }
    }
}

fn stat(mode: i64, size: i64, ino: i64, nlink: i64, mtime: i64) -> Stat {
    let mut s = Stat::zeroed();
    s.dev = 2049;
    s.ino = ino;
    s.mode = mode;
    s.nlink = nlink;
    s.uid = 1000;
    s.gid = 100;
    s.size = size;
    s.blksize = 4096;
    s.atime = mtime;
    s.mtime = mtime;
    s.ctime = mtime;
    s.fields = 16;
    s
}

/// A tree with a regular, an empty, a sparse and a large file, a directory, a symlink and a
/// hard-linked pair; `new` is the mtime of the files changed after 1795365000.
fn test_tree(new: i64) -> MemFs {
    let old = 1_795_360_000;
    let mut fs = MemFs::default();
    let large: Vec<u8> = (0..1_300_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let mut sparse = vec![0u8; 2_101_248];
    for i in 0..4096 {
        sparse[1_048_576 + i] = (i % 251) as u8;
    }
    fs.add(
        "/t",
        EntryKind::Dir,
        stat(0o40755, 4096, 1, 3, old),
        b"",
        "",
    );
    fs.add(
        "/t/hello.txt",
        EntryKind::Regular,
        stat(0o100644, 6, 2, 1, new),
        b"hello\n",
        "",
    );
    fs.add(
        "/t/empty",
        EntryKind::Regular,
        stat(0o100644, 0, 3, 1, old),
        b"",
        "",
    );
    fs.add(
        "/t/sparse.bin",
        EntryKind::Regular,
        stat(0o100600, sparse.len() as i64, 4, 1, old),
        &sparse,
        "",
    );
    fs.add(
        "/t/large.bin",
        EntryKind::Regular,
        stat(0o100644, large.len() as i64, 5, 1, old),
        &large,
        "",
    );
    fs.add(
        "/t/sub",
        EntryKind::Dir,
        stat(0o40700, 4096, 6, 2, new),
        b"",
        "",
    );
    fs.add(
        "/t/sub/a",
        EntryKind::Regular,
        stat(0o100644, 11, 7, 2, old),
        b"hard linked",
        "",
    );
    fs.add(
        "/t/sub/link",
        EntryKind::Symlink,
        stat(0o120777, 5, 8, 1, old),
        b"",
        "../hello.txt",
    );
    fs.add(
        "/t/b",
        EntryKind::Regular,
        stat(0o100644, 11, 7, 2, old),
        b"hard linked",
        "",
    );
    fs
}

struct Run {
    frames: Vec<Got>,
    records: Records,
    end: SessionEnd,
}

fn run_backup(fs: MemFs, cmds: Vec<Got>) -> Run {
    run_backup_with(fs, cmds, director_list(), 0).0
}

/// [`run_backup`] with the given Director list and Client `Maximum Bandwidth Per Job`;
/// also returns how far the virtual clock moved (µs).
fn run_backup_with(
    fs: MemFs,
    cmds: Vec<Got>,
    dirs: &'static [DirectorAuth<'static>],
    client_bw: u64,
) -> (Run, i64) {
    let mut cfg = config(dirs);
    cfg.max_bandwidth = client_bw;
    let jobs: &'static JobTable<4> = Box::leak(Box::new(JobTable::new()));
    let connector = MemConnector::default();
    let clock = VClock::at(1_795_365_100);
    let clock_view = clock.0.clone();
    let t0 = clock_view.get();
    let mut svc: Svc = Services {
        source: fs,
        sink: MemSink::default(),
        connector: connector.clone(),
        clock,
        digests: StandardDigests,
    };
    let mut bufs = Bufs::new();
    let (fd_end, dir_end) = pipe();
    let result = RefCell::new(None);
    let frames = RefCell::new(Vec::new());
    let records = RefCell::new(Vec::new());
    let started = Cell::new(false);
    run_all(vec![
        Box::pin(async {
            let r = run_director_session(fd_end, &cfg, jobs, &mut svc, bufs.get(), 7).await;
            *result.borrow_mut() = Some(r.unwrap());
        }),
        Box::pin(async { *frames.borrow_mut() = director_run(dir_end, cmds).await }),
        Box::pin(sd_append(&connector, &records, &started)),
    ]);
    (
        Run {
            frames: frames.into_inner(),
            records: records.into_inner(),
            end: result.into_inner().unwrap(),
        },
        clock_view.get() - t0,
    )
}

/// `Maximum Bandwidth Per Job` of the Director resource paces the data to the SD: on the
/// virtual clock the backup of the 3.4 MB test tree at 1 MB/s takes at least JobBytes / 1 MB
/// seconds; the Director's value wins over the Client's (bareos-fd `StorageCmd()`), and
/// without either limit no virtual time passes for pacing.
#[test]
fn per_director_maximum_bandwidth_per_job_paces_the_backup() {
    let dirs: &'static [DirectorAuth<'static>] = Box::leak(
        vec![DirectorAuth {
            name: b"bareos-dir",
            key: leak_key(),
            monitor: false,
            max_bandwidth: 1_000_000,
        }]
        .into_boxed_slice(),
    );
    let cmds = || backup_commands("full", "S2", "/t");
    let (run, us) = run_backup_with(test_tree(1_795_365_050), cmds(), dirs, 50_000_000);
    let ej = end_job(&run.frames);
    assert_eq!(ej.term_code, JobStatus::Terminated);
    let min = ej.job_bytes as i64; // bytes at 1 MB/s = µs
    assert!(min > 3_000_000, "{min}");
    assert!(us >= min, "paced {us} µs for {min} bytes at 1 MB/s");
    // Not paced at the Client's 50 MB/s (which would take a fiftieth of that).
    assert!(us < min * 2, "{us} µs");
    // The Client's value alone.
    let (run, us) = run_backup_with(test_tree(1_795_365_050), cmds(), director_list(), 2_000_000);
    let ej = end_job(&run.frames);
    assert!(us >= ej.job_bytes as i64 / 2, "{us}");
    // Unlimited: no pacing sleeps.
    let (_, us) = run_backup_with(test_tree(1_795_365_050), cmds(), director_list(), 0);
    assert!(us < 1_000_000, "{us}");
}

#[test]
fn backup_of_the_test_tree_follows_bareos_stream_rules() {
    let fs = test_tree(1_795_365_050);
    let run = run_backup(fs, backup_commands("full", "S2s0AX", "/t"));
    let ej = end_job(&run.frames);
    assert_eq!(ej.term_code, JobStatus::Terminated);
    assert_eq!(ej.errors, 0);
    // /t, hello, empty, sparse, large, sub, sub/a, sub/link, b (FT_LNKSAVED).
    assert_eq!(ej.job_files, 9);
    assert_eq!(ej.read_bytes, 6 + 2_101_248 + 1_300_000 + 11);
    let attrs: Vec<AttrRecord<'_>> = run
        .records
        .iter()
        .filter(|r| r.1 == 1)
        .map(|r| AttrRecord::parse(&r.2).unwrap())
        .collect();
    let names: Vec<&[u8]> = attrs.iter().map(|a| a.fname).collect();
    assert_eq!(
        names,
        vec![
            &b"/t/hello.txt"[..],
            b"/t/empty",
            b"/t/sparse.bin",
            b"/t/large.bin",
            b"/t/sub/a",
            b"/t/sub/link",
            b"/t/sub/",
            b"/t/b",
            b"/t/"
        ]
    );
    let by_name = |n: &[u8]| attrs.iter().find(|a| a.fname == n).unwrap();
    assert_eq!(by_name(b"/t/empty").file_type, FileType::RegE);
    assert_eq!(by_name(b"/t/sub/").file_type, FileType::DirEnd);
    assert_eq!(by_name(b"/t/sub/link").link, b"../hello.txt");
    let b = by_name(b"/t/b");
    assert_eq!(b.file_type, FileType::LnkSaved);
    assert_eq!(b.link, b"/t/sub/a");
    assert_eq!(b.stat.link_fi, i64::from(by_name(b"/t/sub/a").file_index));
    // Sparse: stream 6 everywhere; the sparse file sends the data chunk and the last chunk.
    let sparse_fi = by_name(b"/t/sparse.bin").file_index;
    let chunks: Vec<&(i32, i32, Vec<u8>)> = run
        .records
        .iter()
        .filter(|r| r.0 == sparse_fi && r.1 == 6)
        .collect();
    assert_eq!(
        chunks.len(),
        2,
        "all-zero chunks are skipped except the last"
    );
    assert_eq!(&chunks[0].2[..8], &0xfffe0u64.to_be_bytes());
    assert_eq!(&chunks[1].2[..8], &0x1fffc0u64.to_be_bytes());
    assert_eq!(chunks[1].2.len(), 8 + 4160);
    assert_eq!(
        ej.job_bytes,
        run.records
            .iter()
            .filter(|r| r.1 == 6)
            .map(|r| r.2.len() as u64)
            .sum::<u64>()
    );
    // Every regular file and the hard link have a SHA-256 record; the empty file's is of
    // zero bytes.
    let empty_fi = by_name(b"/t/empty").file_index;
    let dig = run
        .records
        .iter()
        .find(|r| r.0 == empty_fi && r.1 == 17)
        .unwrap();
    assert_eq!(
        hex::encode(&dig.2),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert!(run.records.iter().any(|r| r.0 == b.file_index && r.1 == 17));
    assert_eq!(run.end.files, 9);
}

// ---------------------------------------------------------------------------------------
// Restore
// ---------------------------------------------------------------------------------------

/// How the test SD damages the record stream.
#[derive(Clone, Copy, PartialEq)]
enum Damage {
    None,
    /// Close the connection in the middle of the records (no EOD).
    Truncate(usize),
}

/// The SD of a restore: sends `records` (all, or up to the damage); advances `clock` by
/// 1 ms before each record when given.
async fn sd_read_timed(
    connector: &MemConnector,
    records: &Records,
    damage: Damage,
    clock: Option<VClock>,
) {
    let mut s = Peer::new(connector.accept().await);
    let _hello = s.recv().await.unwrap();
    let ev = s
        .auth(Role::Inbound, KEY.as_bytes(), b"R_STORAGE::bareos-sd")
        .await;
    assert!(matches!(ev, auth::Event::Authenticated { .. }));
    // vectors/clear-restore conn 4 msg 8 shape.
    assert_eq!(
        s.recv().await,
        Some(d("read open session = DummyVolume 3 1795365000 0 0 0 0\n"))
    );
    s.send(&d("3000 OK open ticket = 3\n")).await;
    assert_eq!(s.recv().await, Some(d("read data 3\n")));
    s.send(&d("3000 OK data\n")).await;
    for (k, (fi, stream, data)) in records.iter().enumerate() {
        if damage == Damage::Truncate(k) {
            return; // dropping the pipe closes it
        }
        if let Some(c) = &clock {
            // Let the FD take what was sent so far, then let time pass.
            for _ in 0..100 {
                let mut yielded = false;
                std::future::poll_fn(|cx| {
                    if yielded {
                        std::task::Poll::Ready(())
                    } else {
                        yielded = true;
                        cx.waker().wake_by_ref();
                        std::task::Poll::Pending
                    }
                })
                .await;
            }
            c.advance(Duration::from_millis(1));
        }
        let h = RecHdr {
            vol_session_id: 1,
            vol_session_time: 1_795_365_000,
            file_index: *fi,
            stream: Stream(*stream),
            data_len: data.len() as u32,
        };
        let mut b = [0u8; 64];
        let n = h.emit(&mut b).unwrap();
        s.send(&Got::Data(b[..n].to_vec())).await;
        s.send(&Got::Data(data.clone())).await;
    }
    s.send(&Got::Sig(Signal::Eod)).await;
    assert_eq!(s.recv().await, Some(d("read close session 3\n")));
    s.send(&d("3000 OK close Status = 82\n")).await;
    s.send(&Got::Sig(Signal::Eod)).await;
    // TERMINATE after the close reply, and again after endrestore.
    assert_eq!(s.recv().await, Some(Got::Sig(Signal::Terminate)));
    assert_eq!(s.recv().await, Some(Got::Sig(Signal::Terminate)));
}

fn restore_commands() -> Vec<Got> {
    vec![
        d(&format!(
            "JobId=8 Job={JOB} SDid=3 SDtime=1795365000 Authorization={KEY}\n"
        )),
        d("getSecureEraseCmd\n"),
        d(&format!(
            "storage address=127.0.0.1 port=9103 ssl=0 Authorization={KEY}\n"
        )),
        d("restore replace=a prelinks=0 where=/restore\n"),
        d("endrestore"),
    ]
}

fn run_restore(records: Records, damage: Damage) -> (Vec<Got>, MemSink) {
    run_restore_with(records, damage, None)
}

/// [`run_restore`] with a Heartbeat Interval; the SD then takes 1 ms per record.
fn run_restore_with(
    records: Records,
    damage: Damage,
    heartbeat: Option<Duration>,
) -> (Vec<Got>, MemSink) {
    let dirs = director_list();
    let mut cfg = config(dirs);
    if let Some(h) = heartbeat {
        cfg.heartbeat_interval = h;
    }
    let clock = VClock::at(1_795_365_200);
    let sd_clock = heartbeat.map(|_| clock.clone());
    let jobs: &'static JobTable<4> = Box::leak(Box::new(JobTable::new()));
    let connector = MemConnector::default();
    let mut svc: Svc = Services {
        source: MemFs::default(),
        sink: MemSink {
            root: b"/restore/".to_vec(),
            ..MemSink::default()
        },
        connector: connector.clone(),
        clock,
        digests: StandardDigests,
    };
    let mut bufs = Bufs::new();
    let (fd_end, dir_end) = pipe();
    let frames = RefCell::new(Vec::new());
    let damage2 = damage;
    run_all(vec![
        Box::pin(async {
            let _ = run_director_session(fd_end, &cfg, jobs, &mut svc, bufs.get(), 9).await;
        }),
        Box::pin(async { *frames.borrow_mut() = director_run(dir_end, restore_commands()).await }),
        Box::pin(async {
            if damage2 == Damage::None {
                sd_read_timed(&connector, &records, damage2, sd_clock).await
            } else {
                // A truncated stream: the SD side just stops.
                sd_read_truncated(&connector, &records, damage2).await
            }
        }),
    ]);
    (frames.into_inner(), svc.sink)
}

async fn sd_read_truncated(connector: &MemConnector, records: &Records, damage: Damage) {
    let mut s = Peer::new(connector.accept().await);
    let _ = s.recv().await;
    let _ = s
        .auth(Role::Inbound, KEY.as_bytes(), b"R_STORAGE::bareos-sd")
        .await;
    let _ = s.recv().await;
    s.send(&d("3000 OK open ticket = 3\n")).await;
    let _ = s.recv().await;
    s.send(&d("3000 OK data\n")).await;
    let Damage::Truncate(at) = damage else { return };
    for (fi, stream, data) in records.iter().take(at) {
        let h = RecHdr {
            vol_session_id: 1,
            vol_session_time: 1_795_365_000,
            file_index: *fi,
            stream: Stream(*stream),
            data_len: data.len() as u32,
        };
        let mut b = [0u8; 64];
        let n = h.emit(&mut b).unwrap();
        s.send(&Got::Data(b[..n].to_vec())).await;
        s.send(&Got::Data(data.clone())).await;
    }
    // Announce one more record, send half of it, hang up.
    let h = RecHdr {
        vol_session_id: 1,
        vol_session_time: 1_795_365_000,
        file_index: records[at].0,
        stream: Stream(records[at].1),
        data_len: records[at].2.len() as u32,
    };
    let mut b = [0u8; 64];
    let n = h.emit(&mut b).unwrap();
    s.send(&Got::Data(b[..n].to_vec())).await;
}

#[test]
fn backup_then_restore_is_byte_and_attribute_identical() {
    let fs = test_tree(1_795_365_050);
    let run = run_backup(fs.clone(), backup_commands("full", "S2s0AX", "/t"));
    let (frames, sink) = run_restore(run.records.clone(), Damage::None);
    let ej = end_job(&frames);
    assert_eq!(ej.term_code, JobStatus::Terminated, "{frames:?}");
    assert_eq!(ej.errors, 0);
    assert_eq!(ej.job_files, 9);
    // vectors/clear-restore conn 3 msgs 17 and 20: restore OK, then storage end.
    assert!(frames.contains(&d("2000 OK restore\n")));
    assert!(frames.contains(&d("2000 OK storage end\n")));
    assert!(sink.aborted.is_empty());
    for n in &fs.nodes {
        let mut out = b"/restore".to_vec();
        out.extend_from_slice(&n.path);
        let (kind, st) = sink
            .files
            .get(&out)
            .unwrap_or_else(|| panic!("{} not restored", String::from_utf8_lossy(&out)));
        assert_eq!(
            (st.mode, st.uid, st.gid, st.mtime, st.atime),
            (
                n.stat.mode,
                n.stat.uid,
                n.stat.gid,
                n.stat.mtime,
                n.stat.atime
            )
        );
        match (n.kind, kind) {
            (EntryKind::Regular, OutKind::File(data)) => assert!(
                data == &n.data,
                "content of {}",
                String::from_utf8_lossy(&out)
            ),
            (EntryKind::Regular, OutKind::HardLink(t)) => {
                assert_eq!(t, b"/restore/t/sub/a");
                assert_eq!(n.path, b"/t/b");
            }
            (EntryKind::Dir, OutKind::Dir) => {}
            (EntryKind::Symlink, OutKind::Symlink(t)) => assert_eq!(t, &n.link),
            (k, o) => panic!("{k:?} restored as {o:?}"),
        }
    }
}

#[test]
fn truncated_restore_stream_never_leaves_a_final_file() {
    let fs = test_tree(1_795_365_050);
    let run = run_backup(fs, backup_commands("full", "S2s0AX", "/t"));
    // Cut inside large.bin's data: after its attribute record and first chunk.
    let attrs: Vec<(usize, AttrRecord<'_>)> = run
        .records
        .iter()
        .enumerate()
        .filter(|r| r.1 .1 == 1)
        .map(|(i, r)| (i, AttrRecord::parse(&r.2).unwrap()))
        .collect();
    let (large_at, large) = attrs
        .iter()
        .find(|(_, a)| a.fname == b"/t/large.bin")
        .unwrap();
    let cut = large_at + 2;
    assert_eq!(run.records[cut].0, large.file_index);
    let (frames, sink) = run_restore(run.records.clone(), Damage::Truncate(cut));
    let ej = end_job(&frames);
    assert_ne!(ej.term_code, JobStatus::Terminated);
    assert!(ej.errors >= 1);
    assert!(
        !sink.files.contains_key(&b"/restore/t/large.bin"[..]),
        "partial file under its final name"
    );
    assert_eq!(sink.aborted, vec![b"/restore/t/large.bin".to_vec()]);
    // Files before the cut are there.
    assert!(sink.files.contains_key(&b"/restore/t/hello.txt"[..]));
    // The failure is reported to the Director as a job message.
    assert!(frames.iter().any(|g| matches!(g, Got::Data(x) if x.starts_with(b"Jmsg") && String::from_utf8_lossy(x).contains("Storage daemon connection lost"))));
}

/// A Storage daemon that opens the append session, takes the first data-phase frame and
/// then drops the connection (a crashed SD).
async fn sd_append_then_vanish(connector: &MemConnector, got_data: &Cell<bool>) {
    let mut s = Peer::new(connector.accept().await);
    let _hello = s.recv().await.unwrap();
    let ev = s
        .auth(Role::Inbound, KEY.as_bytes(), b"R_STORAGE::bareos-sd")
        .await;
    assert!(matches!(ev, auth::Event::Authenticated { .. }));
    assert_eq!(s.recv().await, Some(d("append open session\n")));
    s.send(&d("3000 OK open ticket = 3\n")).await;
    assert_eq!(s.recv().await, Some(d("append data 3\n")));
    s.send(&d("3000 OK data\n")).await;
    assert!(s.recv().await.is_some());
    got_data.set(true);
}

/// An SD that goes away in the middle of the data phase fails the session; the End Job line
/// then carries a failing TermCode (bareos-fd: `E`, 69, `core/src/filed/dir_cmd.cc`
/// BackupCmd), not the `R` (82) of a job still running.
#[test]
fn backup_whose_sd_vanishes_ends_with_termcode_69() {
    let cfg = config(director_list());
    let jobs: &'static JobTable<4> = Box::leak(Box::new(JobTable::new()));
    let connector = MemConnector::default();
    let mut svc: Svc = Services {
        source: test_tree(1_795_365_050),
        sink: MemSink::default(),
        connector: connector.clone(),
        clock: VClock::at(1_795_365_100),
        digests: StandardDigests,
    };
    let mut bufs = Bufs::new();
    let (fd_end, dir_end) = pipe();
    let result = RefCell::new(None);
    let frames = RefCell::new(Vec::new());
    let got_data = Cell::new(false);
    run_all(vec![
        Box::pin(async {
            let r = run_director_session(fd_end, &cfg, jobs, &mut svc, bufs.get(), 7).await;
            *result.borrow_mut() = Some(r);
        }),
        Box::pin(async {
            *frames.borrow_mut() =
                director_run(dir_end, backup_commands("full", "S2s0AX", "/t")).await
        }),
        Box::pin(sd_append_then_vanish(&connector, &got_data)),
    ]);
    assert!(got_data.get(), "the SD never reached the data phase");
    let r = result.into_inner().expect("session did not finish");
    assert!(r.is_err(), "the session should fail: {r:?}");
    let ej = end_job(&frames.into_inner());
    assert_eq!(ej.term_code, JobStatus::ErrorTerminated);
    assert_eq!(u8::from(ej.term_code), 69);
    // The terminated-jobs list (`status`) records the same status.
    let done = jobs.terminated_job(0).expect("no terminated job");
    assert_eq!(done.status, JobStatus::ErrorTerminated);
}

#[test]
fn unknown_stream_and_dotdot_paths_are_refused() {
    let attr = |fi: i32, name: &str| {
        let rec = AttrRecord {
            file_index: fi,
            file_type: FileType::Reg,
            fname: name.as_bytes(),
            stat: stat(0o100644, 4, 10 + fi as i64, 1, 1_795_360_000),
            link: b"",
            attr_ex: b"",
            delta_seq: 0,
        };
        let mut b = vec![0u8; 512];
        let n = rec.emit(&mut b).unwrap();
        b.truncate(n);
        b
    };
    let records: Records = vec![
        (1, 1, attr(1, "/t/ok.txt")),
        (1, 2, b"good".to_vec()),
        (2, 1, attr(2, "/t/odd.bin")),
        (2, 2, b"abcd".to_vec()),
        (2, 1234, b"???".to_vec()), // unknown stream id
        (3, 1, attr(3, "/t/../../etc/passwd")),
        (3, 2, b"evil".to_vec()),
    ];
    let (frames, sink) = run_restore(records, Damage::None);
    let ej = end_job(&frames);
    assert_eq!(ej.term_code, JobStatus::ErrorTerminated);
    assert!(
        ej.errors >= 3,
        "unknown stream, refused path, orphan data: {}",
        ej.errors
    );
    assert!(sink.files.contains_key(&b"/restore/t/ok.txt"[..]));
    assert!(!sink.files.contains_key(&b"/restore/t/odd.bin"[..]));
    assert_eq!(sink.aborted, vec![b"/restore/t/odd.bin".to_vec()]);
    assert!(sink.files.keys().all(|k| k.starts_with(b"/restore/t/")));
    let text: Vec<String> = frames
        .iter()
        .filter_map(|g| match g {
            Got::Data(x) => Some(String::from_utf8_lossy(x).into_owned()),
            _ => None,
        })
        .collect();
    assert!(
        text.iter()
            .any(|t| t.contains("Unknown or unsupported stream 1234")),
        "{text:?}"
    );
    assert!(
        text.iter()
            .any(|t| t.contains("Illegal restore path \"/t/../../etc/passwd\"")),
        "{text:?}"
    );
}

#[test]
fn unreadable_file_counts_an_error_like_bareos() {
    // `core/src/filed/backup.cc` `SaveFile()`: a file that cannot be opened is an M_NOTSAVED
    // message and JobErrors++, after its attribute record went out; `BackupCmd()` still ends
    // the job with 'T', so the End Job line is TermCode=84 with Errors=1 (the Director then
    // reports "OK -- with warnings").
    let mut fs = test_tree(1_795_365_050);
    let i = fs.find(b"/t/hello.txt").unwrap();
    fs.nodes[i].unreadable = true;
    let run = run_backup(fs, backup_commands("full", "S2s0AX", "/t"));
    let ej = end_job(&run.frames);
    assert_eq!(ej.errors, 1);
    assert_eq!(ej.term_code, JobStatus::Terminated);
    assert_eq!(ej.read_bytes, 2_101_248 + 1_300_000 + 11);
    let msg = run
        .frames
        .iter()
        .find_map(|g| match g {
            Got::Data(x)
                if x.starts_with(b"Jmsg") && String::from_utf8_lossy(x).contains("Cannot open") =>
            {
                Some(Jmsg::parse(x).unwrap().text.to_vec())
            }
            _ => None,
        })
        .expect("no Cannot open message");
    assert_eq!(
        msg,
        b"bareos-fd JobId 7:      Cannot open \"/t/hello.txt\": ERR=permission denied.\n"
    );
    let types: Vec<u8> = run
        .frames
        .iter()
        .filter_map(|g| match g {
            Got::Data(x)
                if x.starts_with(b"Jmsg") && String::from_utf8_lossy(x).contains("Cannot open") =>
            {
                Some(Jmsg::parse(x).unwrap().msg_type.to_u8())
            }
            _ => None,
        })
        .collect();
    assert_eq!(types, vec![8], "M_NOTSAVED");
    // The attribute record was sent, the data and digest were not.
    let fi = run
        .records
        .iter()
        .find(|r| r.1 == 1 && AttrRecord::parse(&r.2).unwrap().fname == b"/t/hello.txt")
        .unwrap()
        .0;
    assert_eq!(run.records.iter().filter(|r| r.0 == fi).count(), 1);
}

#[test]
fn incremental_sends_exactly_the_changed_files() {
    // since_utime 1795365000: hello.txt and sub/ are newer.
    let fs = test_tree(1_795_365_050);
    let run = run_backup(fs, backup_commands("incremental", "S2HAX", "/t"));
    let btimes = run
        .frames
        .iter()
        .filter(|g| **g == Got::Sig(Signal::Btime))
        .count();
    assert_eq!(btimes, 0, "BTIME signals are answered, not collected");
    let ej = end_job(&run.frames);
    assert_eq!(ej.term_code, JobStatus::Terminated);
    let names: Vec<Vec<u8>> = run
        .records
        .iter()
        .filter(|r| r.1 == 1)
        .map(|r| AttrRecord::parse(&r.2).unwrap().fname.to_vec())
        .collect();
    assert_eq!(names, vec![b"/t/hello.txt".to_vec(), b"/t/sub/".to_vec()]);
    assert_eq!(ej.job_files, 2);
    // The level reply comes after EOD, as in vectors/clear-backup-incr conn 3 msgs 33-34.
    let eod = run
        .frames
        .iter()
        .position(|g| *g == Got::Sig(Signal::Eod))
        .unwrap();
    assert_eq!(run.frames[eod + 1], d("2000 OK level\n"));
}

// ---------------------------------------------------------------------------------------
// Cancel, estimate, status
// ---------------------------------------------------------------------------------------

#[test]
fn cancel_on_a_second_connection_stops_the_job_with_termcode_65() {
    let dirs = director_list();
    let cfg = config(dirs);
    let jobs: &'static JobTable<4> = Box::leak(Box::new(JobTable::new()));
    let connector = MemConnector::default();
    let clock = VClock::at(1_795_365_100);
    let mut fs = test_tree(1_795_365_050);
    fs.clock = Some(clock.clone());
    let mut svc: Svc = Services {
        source: fs,
        sink: MemSink::default(),
        connector: connector.clone(),
        clock: clock.clone(),
        digests: StandardDigests,
    };
    let mut svc2: Svc = Services {
        source: MemFs::default(),
        sink: MemSink::default(),
        connector: MemConnector::default(),
        clock: clock.clone(),
        digests: StandardDigests,
    };
    let mut bufs = Bufs::new();
    let mut bufs2 = Bufs::new();
    let (fd_end, dir_end) = pipe();
    let (fd2_end, dir2_end) = pipe();
    let frames = RefCell::new(Vec::new());
    let frames2 = RefCell::new(Vec::new());
    let records = RefCell::new(Vec::new());
    let started = Cell::new(false);
    // vectors/clear-cancel conn 3 msg 24: the Director limits the job to 256 KiB/s.
    let mut cmds = backup_commands("full", "S2HAX", "/t");
    cmds.insert(
        cmds.len() - 2,
        d(&format!("setbandwidth=262144 Job={JOB}\n")),
    );
    run_all(vec![
        Box::pin(async {
            let _ = run_director_session(fd_end, &cfg, jobs, &mut svc, bufs.get(), 1).await;
        }),
        Box::pin(async { *frames.borrow_mut() = director_run(dir_end, cmds).await }),
        Box::pin(sd_append(&connector, &records, &started)),
        Box::pin(async {
            std::future::poll_fn(|_| {
                if started.get() {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            })
            .await;
            let _ = run_director_session(fd2_end, &cfg, jobs, &mut svc2, bufs2.get(), 2).await;
        }),
        Box::pin(async {
            std::future::poll_fn(|_| {
                if started.get() {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            })
            .await;
            let mut d2 = director_connect(dir2_end).await;
            // vectors/clear-cancel conn 6 msgs 9-12.
            d2.send(&d(&format!("cancel Job={JOB}\n"))).await;
            let a = d2.recv().await.unwrap();
            let b = d2.recv().await.unwrap();
            frames2.borrow_mut().extend([a, b]);
            d2.send(&Got::Sig(Signal::Terminate)).await;
            assert_eq!(
                d2.recv().await,
                None,
                "no answer to the Director's TERMINATE"
            );
        }),
    ]);
    let f2 = frames2.into_inner();
    assert_eq!(
        f2[0],
        d(&format!("2001 Job {JOB} marked to be canceled.\n"))
    );
    assert_eq!(f2[1], Got::Sig(Signal::Eod));
    let frames = frames.into_inner();
    assert!(frames.contains(&d("2000 OK Bandwidth\n")));
    let ej = end_job(&frames);
    assert_eq!(ej.term_code, JobStatus::Canceled);
    assert_eq!(ej.term_code.to_u8(), 65);
    assert!(ej.job_files < 9, "the job stopped early");
    let t = jobs.terminated_job(0).unwrap();
    assert_eq!(t.status, JobStatus::Canceled);
}

#[test]
fn estimate_counts_and_lists_like_the_real_fd() {
    let conn4 = capture("clear-backup-full", 4);
    let fs = captured_tree(&conn4);
    let dirs = director_list();
    let cfg = config(dirs);
    let jobs: &'static JobTable<4> = Box::leak(Box::new(JobTable::new()));
    let mut svc: Svc = Services {
        source: fs,
        sink: MemSink::default(),
        connector: MemConnector::default(),
        clock: VClock::at(1_795_362_462),
        digests: StandardDigests,
    };
    let mut bufs = Bufs::new();
    let (fd_end, dir_end) = pipe();
    let frames = RefCell::new(Vec::new());
    // vectors/clear-estimate conn 2 msgs 9-22 (the fileset of the same capture round).
    let cmds = vec![
        d("JobId=0 Job=-Console-.2026-11-22_15.47.42_06 SDid=0 SDtime=0 Authorization=dummy\n"),
        d("level = full  mtime_only=0 \n"),
        d("fileset vss=1\n"),
        d("I\n"),
        d("O S2HAX\n"),
        d("N\n"),
        d("F /srv/bareos-capture/testdata/tree"),
        d("N\n"),
        d("N\n"),
        Got::Sig(Signal::Eod),
        d("estimate listing=1\n"),
    ];
    run_all(vec![
        Box::pin(async {
            let _ = run_director_session(fd_end, &cfg, jobs, &mut svc, bufs.get(), 3).await;
        }),
        Box::pin(async {
            let mut dd = director_connect(dir_end).await;
            for c in &cmds {
                dd.send(c).await;
            }
            let mut out = Vec::new();
            loop {
                let g = dd.recv().await.unwrap();
                let eod = g == Got::Sig(Signal::Eod);
                out.push(g);
                if eod {
                    break;
                }
            }
            dd.send(&Got::Sig(Signal::Terminate)).await;
            assert_eq!(dd.recv().await, None);
            *frames.borrow_mut() = out;
        }),
    ]);
    let frames = frames.into_inner();
    let est = capture("clear-estimate", 2);
    let want = |i: u32| est.iter().find(|m| m.i == i).unwrap().got.clone();
    // Replies before the listing: conn 2 msgs 10, 12, 21.
    assert_eq!(frames[0], want(10));
    assert_eq!(frames[1], want(12));
    assert_eq!(frames[2], want(21));
    // The listing lines of the entries unchanged between the two captures (same ctime):
    // sub/bytes.bin (msg 24), sub/notes.txt (26), link-to-hello (28), tree (29).
    for i in [24, 26, 28, 29] {
        assert!(frames.contains(&want(i)), "missing {}", show(&want(i)));
    }
    // 6 entries, 306 bytes (the estimate capture had 7 and 352 after the incremental).
    assert_eq!(
        frames[frames.len() - 2],
        d("2000 OK estimate files=6 bytes=306\n")
    );
    assert_eq!(frames.len(), 3 + 6 + 2);
}

#[test]
fn status_after_a_job_has_the_captured_shape() {
    // Run the captured backup first so the terminated list has a row.
    let fs = test_tree(1_795_365_050);
    let dirs = director_list();
    let cfg = config(dirs);
    let jobs: &'static JobTable<4> = Box::leak(Box::new(JobTable::new()));
    let h = jobs
        .start(1, b"CapBackup.2026-11-22_15.46.52_03", 1_795_362_414)
        .unwrap();
    h.set_kind(
        fd_core::wire::codes::JobLevel::Full,
        fd_core::wire::codes::JobType::Backup,
    );
    h.set_counters(6, 306, 0);
    h.set_status(JobStatus::Terminated);
    h.finish(1_795_362_415);
    let mut svc: Svc = Services {
        source: fs,
        sink: MemSink::default(),
        connector: MemConnector::default(),
        clock: VClock::at(1_795_362_468),
        digests: StandardDigests,
    };
    let mut bufs = Bufs::new();
    let (fd_end, dir_end) = pipe();
    let frames = RefCell::new(Vec::new());
    run_all(vec![
        Box::pin(async {
            let _ = run_director_session(fd_end, &cfg, jobs, &mut svc, bufs.get(), 4).await;
        }),
        Box::pin(async {
            let mut dd = director_connect(dir_end).await;
            dd.send(&d("status")).await;
            let mut out = Vec::new();
            loop {
                let g = dd.recv().await.unwrap();
                let eod = g == Got::Sig(Signal::Eod);
                out.push(g);
                if eod {
                    break;
                }
            }
            dd.send(&Got::Sig(Signal::Terminate)).await;
            assert_eq!(dd.recv().await, None);
            *frames.borrow_mut() = out;
        }),
    ]);
    let frames = frames.into_inner();
    let cap = capture("clear-status-client-storage", 2);
    let want = |i: u32| cap.iter().find(|m| m.i == i).unwrap().got.clone();
    // vectors/clear-status-client-storage conn 2: msgs 10, 11, 14, 16-21, 24, 25 are
    // reproduced byte for byte; 12 (start time, job count) and 13 (debug level) differ only
    // in run-specific numbers; 15 is the connection line.
    let expect = [10, 11, 14, 16, 17, 18, 19, 20, 21, 24, 25];
    let got_set: Vec<&Got> = frames.iter().collect();
    for i in expect {
        assert!(
            got_set.contains(&&want(i)),
            "missing msg {}: {}",
            i,
            show(&want(i))
        );
    }
    assert_eq!(frames[0], want(10));
    assert_eq!(frames.last().unwrap(), &want(25));
    // Every frame after the first ends in a counted NUL.
    for f in &frames[1..frames.len() - 1] {
        let Got::Data(x) = f else { panic!() };
        assert_eq!(x.last(), Some(&0));
    }
}

// ---------------------------------------------------------------------------------------
// More capture replays
// ---------------------------------------------------------------------------------------

/// Replay a captured job: the Director replays conn `dconn`, the SD conn `sconn` (both from
/// message 9/8 on, after the real authentication); every FD frame must equal the real FD's
/// (job messages modulo time). Returns the session end and the sink.
#[allow(clippy::too_many_arguments)]
fn replay(
    name: &str,
    dconn: u32,
    sconn: u32,
    fs: MemFs,
    sink: MemSink,
    key: &str,
    clock_at: i64,
    fill: Option<&Fill<'_>>,
) -> (SessionEnd, MemSink) {
    let conn3 = capture(name, dconn);
    let conn4 = capture(name, sconn);
    let dirs = director_list();
    let cfg = config(dirs);
    let jobs: &'static JobTable<4> = Box::leak(Box::new(JobTable::new()));
    let connector = MemConnector::default();
    let mut svc: Svc = Services {
        source: fs,
        sink,
        connector: connector.clone(),
        clock: VClock::at(clock_at),
        digests: StandardDigests,
    };
    let mut bufs = Bufs::new();
    let (fd_end, dir_end) = pipe();
    let result = RefCell::new(None);
    run_all(vec![
        Box::pin(async {
            let r = run_director_session(fd_end, &cfg, jobs, &mut svc, bufs.get(), 5).await;
            *result.borrow_mut() = Some(r.unwrap());
        }),
        Box::pin(async {
            let mut d = director_connect(dir_end).await;
            for m in conn3.iter().filter(|m| m.i >= 9) {
                if m.from_client {
                    d.send(&m.got).await;
                } else {
                    let got = d
                        .recv()
                        .await
                        .unwrap_or_else(|| panic!("FD closed before conn {dconn} msg {}", m.i));
                    assert!(
                        same_reply(&got, &m.got),
                        "{name} conn {dconn} msg {}: FD sent {} but the real FD sent {}",
                        m.i,
                        show(&got),
                        show(&m.got)
                    );
                }
            }
            assert_eq!(d.recv().await, None);
        }),
        Box::pin(async {
            let mut s = Peer::new(connector.accept().await);
            assert_eq!(s.recv().await.as_ref(), Some(&conn4[0].got));
            let ev = s
                .auth(Role::Inbound, key.as_bytes(), b"R_STORAGE::bareos-sd")
                .await;
            assert!(matches!(ev, auth::Event::Authenticated { .. }), "{ev:?}");
            let mut current: Vec<u8> = Vec::new();
            for m in conn4.iter().filter(|m| m.i >= 8) {
                if m.from_client {
                    let got = s.recv().await.unwrap_or_else(|| {
                        panic!(
                            "FD closed the SD connection before conn {sconn} msg {}",
                            m.i
                        )
                    });
                    if let (Some((len, sha)), Got::Data(g)) = (&m.whole, &got) {
                        // A record the jsonl cut: compare length and SHA-256 of the whole.
                        assert_eq!(g.len(), *len, "{name} conn {sconn} msg {} length", m.i);
                        assert_eq!(
                            &hex::encode(sha2::Sha256::digest(g)),
                            sha,
                            "{name} conn {sconn} msg {} content",
                            m.i
                        );
                    } else {
                        assert_eq!(
                            got,
                            m.got,
                            "{name} conn {sconn} msg {}: FD sent {} but the real FD sent {}",
                            m.i,
                            show(&got),
                            show(&m.got)
                        );
                    }
                } else if let (Some((len, sha)), Some(fill)) = (&m.whole, fill) {
                    // A record the jsonl cut: rebuild it from the file's known content
                    // (offset from its first 8 bytes) and check it against the capture.
                    let Got::Data(cut) = &m.got else { panic!() };
                    let off = u64::from_be_bytes(cut[..8].try_into().unwrap());
                    let mut rec = cut[..8].to_vec();
                    rec.extend(fill(&current, off, len - 8));
                    assert_eq!(
                        &hex::encode(sha2::Sha256::digest(&rec)),
                        sha,
                        "rebuilt msg {}",
                        m.i
                    );
                    s.send(&Got::Data(rec)).await;
                } else {
                    if let Got::Data(x) = &m.got {
                        if let Ok(a) = AttrRecord::parse(x) {
                            current = a.fname.to_vec();
                        }
                    }
                    s.send(&m.got).await;
                }
            }
        }),
    ]);
    let end = result.into_inner().unwrap();
    (end, svc.sink)
}

#[test]
fn incremental_replays_clear_backup_incr_with_btime() {
    // The tree after the Full (vectors/clear-backup-full conn 4), with the changes the
    // Incremental saw (vectors/clear-backup-incr conn 4): hello.txt rewritten, sub/added.txt
    // added (readdir order from vectors/clear-estimate: after sub/bytes.bin), sub/ touched.
    let mut fs = captured_tree(&capture("clear-backup-full", 4));
    let incr = captured_tree(&capture("clear-backup-incr", 4));
    for n in incr.nodes {
        match fs.find(&n.path) {
            Some(i) => fs.nodes[i] = n,
            None => {
                let at = fs
                    .find(b"/srv/bareos-capture/testdata/tree/sub/bytes.bin")
                    .unwrap()
                    + 1;
                fs.nodes.insert(at, n);
            }
        }
    }
    assert_eq!(fs.nodes.len(), 7);
    let (end, _) = replay(
        "clear-backup-incr",
        3,
        4,
        fs,
        MemSink::default(),
        "MGDB-OFDD-MEDK-CKEK-BNLJ-KOPO-DFIH-PMPP",
        1_795_362_442,
        None,
    );
    assert_eq!(end.status, JobStatus::Terminated);
    assert_eq!(end.files, 3);
}

#[test]
fn restore_replays_clear_restore() {
    let sink = MemSink {
        root: b"/srv/bareos-capture/restore/all/".to_vec(),
        ..MemSink::default()
    };
    let (end, sink) = replay(
        "clear-restore",
        3,
        4,
        MemFs::default(),
        sink,
        "ADBL-LFLC-MNJC-FMCI-DDEC-CIJA-ODAI-GMHA",
        1_795_362_455,
        None,
    );
    assert_eq!(end.status, JobStatus::Terminated);
    assert_eq!(end.files, 7);
    let root = "/srv/bareos-capture/restore/all/srv/bareos-capture/testdata/tree";
    let file = |p: &str| match sink.files.get(format!("{root}/{p}").as_bytes()) {
        Some((OutKind::File(d), _)) => d.clone(),
        other => panic!("{p}: {other:?}"),
    };
    assert_eq!(file("hello.txt"), b"hello, incremental\n");
    assert_eq!(file("sub/added.txt"), b"added for the incremental backup\n");
    assert_eq!(
        file("sub/notes.txt"),
        b"Bareos wire capture test file.\nSecond line.\n"
    );
    assert_eq!(file("sub/bytes.bin"), (0..=255u8).collect::<Vec<u8>>());
    assert_eq!(
        sink.files
            .get(format!("{root}/link-to-hello").as_bytes())
            .map(|f| &f.0),
        Some(&OutKind::Symlink(b"hello.txt".to_vec()))
    );
    assert_eq!(sink.files.len(), 7);
    assert!(sink.aborted.is_empty());
}

#[test]
fn accurate_incremental_replays_clear_diff_accurate() {
    // State C of the round-2 tree: the Full (vectors/clear-backup-multiblock conn 4), the
    // Differential's changes (vectors/clear-diff-accurate conn 4) and the Accurate
    // Incremental's (conn 8); `empty.txt` deleted.
    let mut fs = captured_tree(&capture("clear-backup-multiblock", 4));
    for later in [
        captured_tree(&capture("clear-diff-accurate", 4)),
        captured_tree(&capture("clear-diff-accurate", 8)),
    ] {
        for n in later.nodes {
            match fs.find(&n.path) {
                Some(i) => fs.nodes[i] = n,
                None => fs.nodes.push(n),
            }
        }
    }
    let empty = fs
        .find(b"/srv/bareos-capture2/testdata/tree/empty.txt")
        .unwrap();
    fs.nodes.remove(empty);
    let (end, _) = replay(
        "clear-diff-accurate",
        7,
        8,
        fs,
        MemSink::default(),
        &session_key("clear-diff-accurate", 7),
        1_795_366_021,
        None,
    );
    assert_eq!(end.status, JobStatus::Terminated);
    assert_eq!(end.files, 3);
}

#[test]
fn differential_replays_clear_diff_accurate() {
    // State B: the Full plus the Differential's changes.
    let mut fs = captured_tree(&capture("clear-backup-multiblock", 4));
    for n in captured_tree(&capture("clear-diff-accurate", 4)).nodes {
        match fs.find(&n.path) {
            Some(i) => fs.nodes[i] = n,
            None => fs.nodes.push(n),
        }
    }
    let (end, _) = replay(
        "clear-diff-accurate",
        3,
        4,
        fs,
        MemSink::default(),
        &session_key("clear-diff-accurate", 3),
        1_795_366_015,
        None,
    );
    assert_eq!(end.status, JobStatus::Terminated);
    assert_eq!(end.files, 3);
}

/// The session key of the capture's `JobId=` line (Director → FD msg 9).
fn session_key(name: &str, conn: u32) -> String {
    let m = capture(name, conn).into_iter().find(|m| m.i == 9).unwrap();
    let Got::Data(d) = m.got else { panic!() };
    match fd_core::wire::dir_cmd::DirCommand::parse(&d).unwrap() {
        fd_core::wire::dir_cmd::DirCommand::JobStart(js) => {
            String::from_utf8(js.authorization.to_vec()).unwrap()
        }
        c => panic!("{c:?}"),
    }
}

#[test]
fn sparse_and_hardlink_backup_replays_clear_backup_multiblock() {
    // State A of the round-2 tree (vectors/clear-backup-multiblock notes.md): structure and
    // stat packets from the captured attribute records; the two large files' contents as
    // the notes define them (the jsonl cuts their 262,144-byte records).
    let mut fs = captured_tree(&capture("clear-backup-multiblock", 4));
    let random: Vec<u8> = (0..98_304u32)
        .flat_map(|i| sha2::Sha256::digest(format!("bareos-capture2:{i}").as_bytes()).to_vec())
        .collect();
    let mut sparse = vec![0u8; 2_101_248];
    for i in 0..4096 {
        sparse[1_048_576 + i] = (i % 251) as u8;
    }
    let r = fs
        .find(b"/srv/bareos-capture2/testdata/tree/random-3MiB.bin")
        .unwrap();
    fs.nodes[r].data = random;
    let sp = fs
        .find(b"/srv/bareos-capture2/testdata/tree/sparse.bin")
        .unwrap();
    fs.nodes[sp].data = sparse;
    // The source offers to hash; with Sparse = yes every file goes as a sparse stream, whose
    // digest covers only the chunks sent, so the core must not take the offer (sparse.bin's
    // digest record would then be the hash of the whole file, 686c51a0…, not the capture's).
    fs.hash_reads = true;
    let hashed = fs.hashed.clone();
    let (end, _) = replay(
        "clear-backup-multiblock",
        3,
        4,
        fs,
        MemSink::default(),
        &session_key("clear-backup-multiblock", 3),
        1_795_365_828,
        None,
    );
    assert_eq!(end.status, JobStatus::Terminated);
    assert_eq!(end.files, 8);
    assert_eq!(hashed.get(), 0);
}

/// Content of a file for rebuilding cut records: (name, offset, length) → bytes.
type Fill<'a> = dyn Fn(&[u8], u64, usize) -> Vec<u8> + 'a;

fn round2_content(name: &[u8]) -> Vec<u8> {
    if name.ends_with(b"random-3MiB.bin") {
        (0..98_304u32)
            .flat_map(|i| sha2::Sha256::digest(format!("bareos-capture2:{i}").as_bytes()).to_vec())
            .collect()
    } else if name.ends_with(b"sparse.bin") {
        let mut sparse = vec![0u8; 2_101_248];
        for i in 0..4096 {
            sparse[1_048_576 + i] = (i % 251) as u8;
        }
        sparse
    } else {
        panic!("no content for {}", String::from_utf8_lossy(name))
    }
}

#[test]
fn sparse_and_hardlink_restore_replays_clear_restore_multiblock() {
    let cache: RefCell<BTreeMap<Vec<u8>, Vec<u8>>> = RefCell::new(BTreeMap::new());
    let fill = |name: &[u8], off: u64, len: usize| -> Vec<u8> {
        let mut c = cache.borrow_mut();
        let data = c
            .entry(name.to_vec())
            .or_insert_with(|| round2_content(name));
        data[off as usize..off as usize + len].to_vec()
    };
    let sink = MemSink {
        root: b"/srv/bareos-capture2/restore/multiblock/".to_vec(),
        ..MemSink::default()
    };
    let (end, sink) = replay(
        "clear-restore-multiblock",
        3,
        4,
        MemFs::default(),
        sink,
        &session_key("clear-restore-multiblock", 3),
        1_795_365_882,
        Some(&fill),
    );
    assert_eq!(end.status, JobStatus::Terminated);
    assert_eq!(end.files, 8);
    let root = "/srv/bareos-capture2/restore/multiblock/srv/bareos-capture2/testdata/tree";
    let file = |p: &str| match sink.files.get(format!("{root}/{p}").as_bytes()) {
        Some((OutKind::File(d), _)) => d.clone(),
        other => panic!("{p}: {other:?}"),
    };
    assert_eq!(file("random-3MiB.bin"), round2_content(b"random-3MiB.bin"));
    assert_eq!(file("sparse.bin"), round2_content(b"sparse.bin"));
    assert_eq!(file("empty.txt"), b"");
    assert_eq!(file("hardlink-b.txt"), b"hard linked content\n");
    assert_eq!(
        sink.files
            .get(format!("{root}/sub/hardlink-a.txt").as_bytes())
            .map(|f| &f.0),
        Some(&OutKind::HardLink(
            format!("{root}/hardlink-b.txt").into_bytes()
        ))
    );
    assert!(sink.aborted.is_empty());
}

/// Replay a Director → FD status connection of a capture (messages from 9 on) against an
/// FD whose job table `jobs` holds; every FD frame must equal the captured one.
fn replay_status(name: &str, conn: u32, jobs: &'static JobTable<4>, started: i64, clock_at: i64) {
    let msgs = capture(name, conn);
    let dirs = director_list();
    let mut cfg = config(dirs);
    cfg.started = started;
    let mut svc: Svc = Services {
        source: MemFs::default(),
        sink: MemSink::default(),
        connector: MemConnector::default(),
        clock: VClock::at(clock_at),
        digests: StandardDigests,
    };
    let mut bufs = Bufs::new();
    let (fd_end, dir_end) = pipe();
    run_all(vec![
        Box::pin(async {
            let _ = run_director_session(fd_end, &cfg, jobs, &mut svc, bufs.get(), 6).await;
        }),
        Box::pin(async {
            let mut d = director_connect(dir_end).await;
            for m in msgs.iter().filter(|m| m.i >= 9) {
                if m.from_client {
                    d.send(&m.got).await;
                } else {
                    let got = d.recv().await.unwrap();
                    assert_eq!(
                        got,
                        m.got,
                        "{name} conn {conn} msg {}: FD sent {} but the real FD sent {}",
                        m.i,
                        show(&got),
                        show(&m.got)
                    );
                }
            }
            // The FD does not answer the Director's TERMINATE; it closes.
            assert_eq!(d.recv().await, None);
        }),
    ]);
}

#[test]
fn status_and_dot_status_replay_clear_dot_status() {
    use fd_core::wire::codes::{JobLevel, JobType};
    // The six jobs of the second capture round, as the FD's terminated list held them
    // (vectors/clear-dot-status conn 5 msgs 21-26).
    let jobs: &'static JobTable<4> = Box::leak(Box::new(JobTable::new()));
    let done = [
        (
            1,
            "CapBackup.2026-11-22_16.43.46_03",
            JobLevel::Full,
            JobType::Backup,
            8,
            3_412_186,
            JobStatus::Terminated,
            1_795_365_830,
        ),
        (
            2,
            "CapRestore.2026-11-22_16.44.10_05",
            JobLevel::None,
            JobType::Restore,
            8,
            3_412_050,
            JobStatus::Terminated,
            1_795_365_860,
        ),
        (
            3,
            "CapRestore.2026-11-22_16.44.38_07",
            JobLevel::None,
            JobType::Restore,
            8,
            3_412_050,
            JobStatus::Terminated,
            1_795_365_882,
        ),
        (
            4,
            "CapSlowBackup.2026-11-22_16.46.10_11",
            JobLevel::Full,
            JobType::Backup,
            1,
            0,
            JobStatus::Canceled,
            1_795_365_976,
        ),
        (
            5,
            "CapBackup.2026-11-22_16.46.54_15",
            JobLevel::Differential,
            JobType::Backup,
            3,
            70,
            JobStatus::Terminated,
            1_795_366_016,
        ),
        (
            6,
            "CapBackup.2026-11-22_16.47.00_17",
            JobLevel::Incremental,
            JobType::Backup,
            3,
            82,
            JobStatus::Terminated,
            1_795_366_022,
        ),
    ];
    for (id, name, level, t, files, bytes, status, at) in done {
        let h = jobs.start(id, name.as_bytes(), at - 3).unwrap();
        h.set_kind(level, t);
        h.set_counters(files, bytes, 0);
        h.set_status(status);
        h.finish(at);
    }
    let started = 1_795_365_800; // 22-Nov-26 16:43
    replay_status("clear-dot-status", 2, jobs, started, 1_795_366_047); // .status header
    replay_status("clear-dot-status", 3, jobs, started, 1_795_366_047); // .status running
    replay_status("clear-dot-status", 5, jobs, started, 1_795_366_047); // status
}

#[test]
fn heartbeats_reach_the_director_during_a_long_backup() {
    let dirs = director_list();
    let mut cfg = config(dirs);
    cfg.heartbeat_interval = Duration::from_millis(5);
    let jobs: &'static JobTable<4> = Box::leak(Box::new(JobTable::new()));
    let connector = MemConnector::default();
    let clock = VClock::at(1_795_365_100);
    let mut fs = test_tree(1_795_365_050);
    // Each read takes 1 ms of virtual time.
    fs.clock = Some(clock.clone());
    let mut svc: Svc = Services {
        source: fs,
        sink: MemSink::default(),
        connector: connector.clone(),
        clock,
        digests: StandardDigests,
    };
    let mut bufs = Bufs::new();
    let (fd_end, dir_end) = pipe();
    let frames = RefCell::new(Vec::new());
    let records = RefCell::new(Vec::new());
    let started = Cell::new(false);
    run_all(vec![
        Box::pin(async {
            let _ = run_director_session(fd_end, &cfg, jobs, &mut svc, bufs.get(), 1).await;
        }),
        Box::pin(async {
            *frames.borrow_mut() =
                director_run(dir_end, backup_commands("full", "S2HAX", "/t")).await
        }),
        Box::pin(sd_append(&connector, &records, &started)),
    ]);
    let frames = frames.into_inner();
    let hb = frames
        .iter()
        .filter(|g| **g == Got::Sig(Signal::Heartbeat))
        .count();
    // About 35 reads of 1 ms (large.bin and sparse.bin in 100,000-byte reads): several
    // 5 ms intervals pass.
    assert!(hb >= 3, "only {hb} heartbeats");
    // Heartbeats come between `2000 OK backup` and the End Job line.
    let ok = frames
        .iter()
        .position(|g| *g == d("2000 OK backup\n"))
        .unwrap();
    let first_hb = frames
        .iter()
        .position(|g| *g == Got::Sig(Signal::Heartbeat))
        .unwrap();
    assert!(first_hb > ok);
    assert_eq!(end_job(&frames).term_code, JobStatus::Terminated);
}

#[test]
fn heartbeats_reach_the_director_during_a_long_restore() {
    let fs = test_tree(1_795_365_050);
    let run = run_backup(fs, backup_commands("full", "S2s0AX", "/t"));
    let n = run.records.len();
    let (frames, sink) = run_restore_with(
        run.records.clone(),
        Damage::None,
        Some(Duration::from_millis(5)),
    );
    let hb = frames
        .iter()
        .filter(|g| **g == Got::Sig(Signal::Heartbeat))
        .count();
    // One record per virtual millisecond: about one heartbeat per 5 records.
    assert!(
        hb >= n / 5 - 1 && hb <= n / 5 + 1,
        "{hb} heartbeats for {n} records"
    );
    // Between `2000 OK restore` and the End Job line; the restore is unchanged.
    let ok = frames
        .iter()
        .position(|g| *g == d("2000 OK restore\n"))
        .unwrap();
    let first_hb = frames
        .iter()
        .position(|g| *g == Got::Sig(Signal::Heartbeat))
        .unwrap();
    assert!(first_hb > ok);
    let ej = end_job(&frames);
    assert_eq!((ej.term_code, ej.errors), (JobStatus::Terminated, 0));
    assert!(sink.aborted.is_empty());
    // Without a Heartbeat Interval none is sent.
    let (frames, _) = run_restore(run.records, Damage::None);
    assert!(!frames.contains(&Got::Sig(Signal::Heartbeat)));
}

#[test]
fn restore_with_a_wrong_digest_keeps_the_file_out() {
    let fs = test_tree(1_795_365_050);
    let mut run = run_backup(fs, backup_commands("full", "S2HAX", "/t"));
    // Corrupt hello.txt's data record (FileIndex 1, stream 2) but keep its digest.
    let rec = run
        .records
        .iter_mut()
        .find(|r| r.1 == 2 && r.2 == b"hello\n")
        .unwrap();
    rec.2 = b"HELLO\n".to_vec();
    let (frames, sink) = run_restore(run.records, Damage::None);
    let ej = end_job(&frames);
    assert_eq!(ej.errors, 1);
    assert_eq!(ej.term_code, JobStatus::ErrorTerminated);
    assert!(!sink.files.contains_key(&b"/restore/t/hello.txt"[..]));
    assert_eq!(sink.aborted, vec![b"/restore/t/hello.txt".to_vec()]);
    assert!(sink.files.contains_key(&b"/restore/t/large.bin"[..]));
    assert!(frames.iter().any(|g| matches!(g, Got::Data(x) if String::from_utf8_lossy(x).contains("Digest mismatch on \"/restore/t/hello.txt\""))));
}

#[test]
fn passive_backup_replays_clear_backup_passive() {
    // The tree of that run (after the Incremental): clear-backup-full's tree with the
    // Incremental's changes, as in incremental_replays_clear_backup_incr_with_btime.
    // The tree of that run: the state after the Incremental.
    let fs = round1_incremented_tree();
    let conn3 = capture("clear-backup-passive", 3);
    let conn4 = capture("clear-backup-passive", 4);
    let key = session_key("clear-backup-passive", 3);
    let dirs = director_list();
    let cfg = config(dirs);
    let jobs: &'static JobTable<4> = Box::leak(Box::new(JobTable::new()));
    let connector = MemConnector::default();
    // The SD dials the FD (conn 4 is opened by the SD).
    let sd_end = connector.passive_pipe();
    let mut svc: Svc = Services {
        source: fs,
        sink: MemSink::default(),
        connector: connector.clone(),
        clock: VClock::at(1_795_362_491),
        digests: StandardDigests,
    };
    let mut bufs = Bufs::new();
    let (fd_end, dir_end) = pipe();
    let result = RefCell::new(None);
    run_all(vec![
        Box::pin(async {
            let r = run_director_session(fd_end, &cfg, jobs, &mut svc, bufs.get(), 8).await;
            *result.borrow_mut() = Some(r.unwrap());
        }),
        Box::pin(async {
            let mut d = director_connect(dir_end).await;
            for m in conn3.iter().filter(|m| m.i >= 9) {
                if m.from_client {
                    d.send(&m.got).await;
                } else {
                    let got = d.recv().await.unwrap();
                    assert!(
                        same_reply(&got, &m.got),
                        "conn 3 msg {}: FD sent {} but the real FD sent {}",
                        m.i,
                        show(&got),
                        show(&m.got)
                    );
                }
            }
            assert_eq!(d.recv().await, None);
        }),
        Box::pin(async {
            let mut s = Peer::new(sd_end);
            // conn 4 msg 1: `Hello Storage calling Start Job …`.
            s.send(&conn4[0].got).await;
            // The SD answers the FD's challenge with the qualified name `File daemon`
            // (conn 4 msg 5, bashed on the wire).
            let ev = s.auth(Role::Outbound, key.as_bytes(), b"File daemon").await;
            assert!(matches!(ev, auth::Event::Authenticated { .. }), "{ev:?}");
            for m in conn4.iter().filter(|m| m.i >= 8) {
                if m.from_client {
                    s.send(&m.got).await;
                } else {
                    let got = s.recv().await.unwrap();
                    assert_eq!(
                        got,
                        m.got,
                        "conn 4 msg {}: FD sent {} but the real FD sent {}",
                        m.i,
                        show(&got),
                        show(&m.got)
                    );
                }
            }
        }),
    ]);
    let end = result.into_inner().unwrap();
    assert_eq!(end.status, JobStatus::Terminated);
    assert_eq!(end.files, 7);
}

/// The tree after the Incremental of round 1 (the state the passive and client-initiated
/// backups saw).
fn round1_incremented_tree() -> MemFs {
    let mut fs = captured_tree(&capture("clear-backup-full", 4));
    for n in captured_tree(&capture("clear-backup-incr", 4)).nodes {
        match fs.find(&n.path) {
            Some(i) => fs.nodes[i] = n,
            None => {
                let at = fs
                    .find(b"/srv/bareos-capture/testdata/tree/sub/bytes.bin")
                    .unwrap()
                    + 1;
                fs.nodes.insert(at, n);
            }
        }
    }
    fs
}

#[test]
fn client_initiated_backup_replays_clear_client_initiated() {
    use fd_core::fd::session::run_client_initiated;
    let conn1 = capture("clear-client-initiated", 1);
    let conn6 = capture("clear-client-initiated", 6);
    let sd_key = session_key_at("clear-client-initiated", 1, 9);
    let dirs = director_list();
    let cfg = config(dirs);
    let jobs: &'static JobTable<4> = Box::leak(Box::new(JobTable::new()));
    let connector = MemConnector::default();
    let mut svc: Svc = Services {
        source: round1_incremented_tree(),
        sink: MemSink::default(),
        connector: connector.clone(),
        clock: VClock::at(1_795_362_511),
        digests: StandardDigests,
    };
    let mut bufs = Bufs::new();
    let (fd_end, dir_end) = pipe();
    let result = RefCell::new(None);
    run_all(vec![
        Box::pin(async {
            let r =
                run_client_initiated(fd_end, &cfg, &dirs[0], jobs, &mut svc, bufs.get(), 77).await;
            *result.borrow_mut() = Some(r.unwrap());
        }),
        Box::pin(async {
            // The Director accepts: hello (conn 1 msg 1, byte for byte), CRAM-MD5 with the
            // Director as the inbound side, `1000 OK: …` (msg 8), then the job.
            let mut d = Peer::new(dir_end);
            assert_eq!(d.recv().await.as_ref(), Some(&conn1[0].got));
            let ev = d
                .auth(Role::Inbound, &fd_key(), b"R_DIRECTOR::bareos-dir")
                .await;
            assert!(matches!(ev, auth::Event::Authenticated { .. }), "{ev:?}");
            for m in conn1.iter().filter(|m| m.i >= 8) {
                if m.from_client {
                    let got = d.recv().await.unwrap();
                    assert!(
                        same_reply(&got, &m.got),
                        "conn 1 msg {}: FD sent {} but the real FD sent {}",
                        m.i,
                        show(&got),
                        show(&m.got)
                    );
                } else {
                    d.send(&m.got).await;
                }
            }
            assert_eq!(d.recv().await, None);
        }),
        Box::pin(async {
            let mut s = Peer::new(connector.accept().await);
            assert_eq!(s.recv().await.as_ref(), Some(&conn6[0].got));
            let ev = s
                .auth(Role::Inbound, sd_key.as_bytes(), b"R_STORAGE::bareos-sd")
                .await;
            assert!(matches!(ev, auth::Event::Authenticated { .. }), "{ev:?}");
            for m in conn6.iter().filter(|m| m.i >= 8) {
                if m.from_client {
                    let got = s.recv().await.unwrap();
                    assert_eq!(
                        got,
                        m.got,
                        "conn 6 msg {}: FD sent {} but the real FD sent {}",
                        m.i,
                        show(&got),
                        show(&m.got)
                    );
                } else {
                    s.send(&m.got).await;
                }
            }
        }),
    ]);
    let end = result.into_inner().unwrap();
    assert_eq!(end.status, JobStatus::Terminated);
    assert_eq!(end.files, 7);
}

/// The session key of the `JobId=` line at message `i` of a connection.
fn session_key_at(name: &str, conn: u32, i: u32) -> String {
    let m = capture(name, conn).into_iter().find(|m| m.i == i).unwrap();
    let Got::Data(d) = m.got else { panic!() };
    match fd_core::wire::dir_cmd::DirCommand::parse(&d).unwrap() {
        fd_core::wire::dir_cmd::DirCommand::JobStart(js) => {
            String::from_utf8(js.authorization.to_vec()).unwrap()
        }
        c => panic!("{c:?}"),
    }
}

#[test]
fn setbandwidth_paces_the_data_channel() {
    // vectors/clear-cancel conn 3 msgs 24-25: `setbandwidth=262144 Job=…` → `2000 OK Bandwidth`.
    let dirs = director_list();
    let cfg = config(dirs);
    let jobs: &'static JobTable<4> = Box::leak(Box::new(JobTable::new()));
    let connector = MemConnector::default();
    let clock = VClock::at(1_795_365_100);
    let mut svc: Svc = Services {
        source: test_tree(1_795_365_050),
        sink: MemSink::default(),
        connector: connector.clone(),
        clock: clock.clone(),
        digests: StandardDigests,
    };
    let mut bufs = Bufs::new();
    let (fd_end, dir_end) = pipe();
    let frames = RefCell::new(Vec::new());
    let records = RefCell::new(Vec::new());
    let started = Cell::new(false);
    let mut cmds = backup_commands("full", "S2HAX", "/t");
    cmds.insert(
        cmds.len() - 2,
        d(&format!("setbandwidth=262144 Job={JOB}\n")),
    );
    let t0 = clock.now();
    run_all(vec![
        Box::pin(async {
            let _ = run_director_session(fd_end, &cfg, jobs, &mut svc, bufs.get(), 1).await;
        }),
        Box::pin(async { *frames.borrow_mut() = director_run(dir_end, cmds).await }),
        Box::pin(sd_append(&connector, &records, &started)),
    ]);
    let frames = frames.into_inner();
    assert!(frames.contains(&d("2000 OK Bandwidth\n")));
    let ej = end_job(&frames);
    assert_eq!(ej.term_code, JobStatus::Terminated);
    // About 3.4 MB at 256 KiB/s: at least 12 seconds of (virtual) time.
    let elapsed = clock.now() - t0;
    let min = ej.job_bytes / 262_144;
    assert!(
        elapsed.secs() >= min,
        "{} s for {} bytes",
        elapsed.secs(),
        ej.job_bytes
    );
}

/// A platform without a regex engine (the default [`FileSource::regex_match`], as on
/// fd-embedded) refuses a fileset with an `R` line when it arrives, naming the pattern and
/// the fix, and the job ends without touching the SD.
#[test]
fn regex_lines_are_refused_with_a_clear_error_without_a_regex_engine() {
    let dirs = director_list();
    let cfg = config(dirs);
    let jobs: &'static JobTable<4> = Box::leak(Box::new(JobTable::new()));
    let mut svc: Svc = Services {
        source: test_tree(1_795_365_050),
        sink: MemSink::default(),
        connector: MemConnector::default(),
        clock: VClock::at(1_795_365_100),
        digests: StandardDigests,
    };
    let mut bufs = Bufs::new();
    let (fd_end, dir_end) = pipe();
    let mut cmds = backup_commands("full", "e", "/t");
    // After `O e`: a regex, then stop at the fileset's EOD.
    cmds.insert(5, d("R \\.tmp$\n"));
    let eod = cmds
        .iter()
        .position(|g| *g == Got::Sig(Signal::Eod))
        .unwrap();
    cmds.truncate(eod + 1);
    let frames = RefCell::new(Vec::new());
    run_all(vec![
        Box::pin(async {
            let _ = run_director_session(fd_end, &cfg, jobs, &mut svc, bufs.get(), 7).await;
        }),
        Box::pin(async { *frames.borrow_mut() = director_run(dir_end, cmds).await }),
    ]);
    let text: String = frames
        .borrow()
        .iter()
        .filter_map(|g| match g {
            Got::Data(x) => Some(String::from_utf8_lossy(x).into_owned()),
            _ => None,
        })
        .collect();
    assert!(
        text.contains("REGEX \\.tmp$ compile error. ERR=regular expressions are not supported by this File Daemon build; use wildcards"),
        "{text}"
    );
    assert!(!text.contains("2000 OK include"), "{text}");
}
