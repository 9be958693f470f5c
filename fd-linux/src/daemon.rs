//! The daemon: configuration, the accept loop, TLS, one session per Director connection, and
//! client-initiated connections.
//!
//! # Who does what on a Director connection
//!
//! Bareos' FD (`core/src/filed/socket_server.cc`, `core/src/lib/bsock.cc`) peeks at the first
//! ten bytes of an accepted connection: a cleartext `Hello` frame, or a TLS ClientHello that
//! starts the TLS-PSK server handshake with the identity `R_DIRECTOR` RS «name»
//! (connect.md §3.2). Then comes the hello, CRAM-MD5 both ways and `2000 OK Hello 54`.
//!
//! fd-core already implements the hello and CRAM-MD5 for the FD inside
//! [`fd_core::fd::session::run_director_session`] (sans-IO [`fd_core::auth`] driven by the
//! session), and barque-common's `conn::accept` implements them too, for the other daemons.
//! barque-fd uses **only fd-core's**: this module does the transport (TCP accept, the peek,
//! the TLS server handshake with [`barque_common::tls::server_context`], the cleartext gate)
//! and hands the plain or TLS stream to `run_director_session`. That keeps one copy of the
//! FD's hello/CRAM handling, the one the capture replays in fd-core's tests check byte for
//! byte (`2000 OK Hello 54`, the `2999 Authentication failed.` refusal ...), and it lets the
//! peek also route passive-mode Storage daemon connections (`Hello Storage calling Start Job`)
//! to the session of their job ([`crate::net::PassiveSd`]).
//!
//! Not supported on Director connections: the cleartext-then-TLS upgrade after CRAM-MD5 that
//! Bareos does for certificate TLS without TLS-PSK (the TLS-first path, with PSK or
//! certificates, is supported). A cleartext hello is accepted only from a Director whose
//! resource says `TLS Enable = no`, which is Bareos' rule for `R_DIRECTOR`
//! (`psk::cleartext_hello_allowed`).
//!
//! # Concurrency
//!
//! Bareos runs each connection in a thread. So does barque-fd: every accepted connection gets
//! an OS thread with a single-threaded tokio runtime running one fd-core session (whose
//! futures borrow the session's buffers and need not be `Send`). All sessions share one
//! [`JobTable`], so `status` and `cancel` on a second connection see and stop the job running
//! on the first. Heartbeats and `setbandwidth` are handled inside the session by fd-core.
//!
//! # Client-initiated mode (`Connection From Client To Director = yes`)
//!
//! For each such Director a thread dials it (TLS-PSK first unless its resource says `TLS
//! Enable = no`, identity `R_CLIENT` RS «own name»), and runs
//! [`fd_core::fd::session::run_client_initiated`]: `Hello Client`, CRAM-MD5 as the outbound
//! side, `1000 OK:`, then the ordinary command loop. As soon as the Director sends the first
//! command on that connection, a new idle connection is opened (the Director always finds one
//! waiting, vectors/clear-client-initiated conns 1 and 5); failures back off from 1 s up to
//! 60 s (Bareos retries every 60 s), and the delay starts again at 1 s once a connection
//! authenticated, so a restarted Director finds the FD back within a second or two. Each
//! attempt and failure is logged (and so reaches the `Append` file, [`crate::msglog`]).
//! The waiting connection stays silent, as Bareos' (a Bareos Director drops a parked
//! connection that sends anything but data, heartbeats included); the socket has
//! `SO_KEEPALIVE` with the Client's `Heartbeat Interval` as idle time and probe interval,
//! which keeps it open through NAT and firewalls, and three probes
//! ([`barque_common::conn::set_keepalive`]): a Director that vanished without FIN or RST
//! (host down, NAT state dropped) fails the socket at most 4 × `Heartbeat Interval` after
//! its last packet, and the FD dials again (each dial waits at most 15 s for the SYN-ACK).
//! During backups and restores fd-core sends `BNET_HEARTBEAT` to the Director every
//! `Heartbeat Interval`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use crate::digest::PipelinedDigests;
use barque_common::config::{self, Daemon as DaemonKind};
use barque_common::tls::{self, Key, PskOutcome, PskSlot, TlsSettings};
use fd_core::fd::jobs::JobTable;
use fd_core::fd::session::{run_client_initiated, run_director_session, SessionEnd, SessionError};
use fd_core::fd::{Buffers, DirectorAuth, FdConfig, Services};
use fd_core::time::Duration as CoreDuration;
use fd_core::wire::hello::{Acceptor, Hello, Version};
use fd_core::wire::psk::{self, FirstBytes, PskIdentity, ResourceType};
use fd_core::wire::tls_policy::TlsPolicy;
use openssl::ssl::Ssl;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_openssl::SslStream;

use crate::clock::TokioClock;
use crate::net::{NetIo, NetStream, PassiveSd, SdConnector};
use crate::sink::LinuxSink;
use crate::source::LinuxSource;

/// Slots of the shared job table (concurrent plus recently terminated jobs are tracked
/// separately by fd-core).
pub const JOB_SLOTS: usize = 32;

/// `2000 OK Job` version text (what the captured FD sends, with Barque's build).
pub const JOB_VERSION: &str = "26.0.0~barque (22Nov26) Linux,barque";
/// `Version:` text of status and job messages.
pub const VERSION_TEXT: &str = "26.0.0~barque (22 November 2026) Linux";

/// One Director as barque-fd needs it.
#[derive(Debug, Clone)]
pub struct DirectorEntry {
    /// Resource name.
    pub name: String,
    /// CRAM-MD5 key and PSK: MD5 hex of the password.
    pub key: Vec<u8>,
    /// `Monitor = yes`.
    pub monitor: bool,
    /// The resource's TLS directives.
    pub tls: TlsSettings,
    /// `Connection From Client To Director`.
    pub client_initiated: bool,
    /// `Connection From Director To Client`.
    pub director_initiated: bool,
    /// Where to dial it in client-initiated mode.
    pub address: Option<String>,
    /// Its port (9101).
    pub port: u16,
    /// `Maximum Bandwidth Per Job` of this Director, bytes/s.
    pub max_bandwidth: Option<u64>,
}

/// The File daemon's settings, from its configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Client resource name.
    pub name: String,
    /// Directors.
    pub directors: Vec<DirectorEntry>,
    /// Addresses to listen on (host, port).
    pub listen: Vec<(String, u16)>,
    /// The Client resource's TLS directives (the TLS server of accepted connections).
    pub tls: TlsSettings,
    /// Heartbeat Interval (0: off).
    pub heartbeat: Duration,
    /// Maximum Bandwidth Per Job, bytes/s (0: unlimited).
    pub max_bandwidth: u64,
    /// Maximum Network Buffer Size.
    pub network_buffer_size: usize,
    /// Debug level (`-d`).
    pub debug_level: i32,
    /// SD Connect Timeout.
    pub sd_connect_timeout: Duration,
    /// SD connect retry interval (Bareos: 10 s).
    pub sd_retry_interval: Duration,
    /// Restores never leave this directory (`/`: anywhere, as Bareos).
    pub restore_root: PathBuf,
    /// Accurate list store per job, bytes.
    pub accurate_store: usize,
    /// Text after `2000 OK Job ` ([`JOB_VERSION`]).
    pub job_version: String,
    /// Connections served at once (each is a thread); more are closed at once. Bareos' FD
    /// limits `Maximum Connections` to 42 by default.
    pub max_connections: usize,
    /// Text after `Version: ` in status and job messages ([`VERSION_TEXT`]).
    pub version_text: String,
    /// The local log files (`Append` of the Client's Messages resource, [`crate::msglog`]).
    pub log_files: Vec<crate::msglog::AppendTarget>,
}

fn first_error(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// `-c` accepts what Bareos accepts (a `bareos-fd.conf` file, or the configuration
/// directory holding `bareos-fd.conf` or `bareos-fd.d/`) and also the `bareos-fd.d`
/// directory itself (`-c /etc/bareos/bareos-fd.d`), which is resolved to its parent.
pub fn resolve_config_path(path: &Path) -> PathBuf {
    let named_d = path.file_name().is_some_and(|n| n == "bareos-fd.d");
    if named_d
        && path.is_dir()
        && !path.join("bareos-fd.conf").exists()
        && !path.join("bareos-fd.d").exists()
    {
        if let Some(parent) = path.parent() {
            return parent.to_path_buf();
        }
    }
    path.to_path_buf()
}

impl Settings {
    /// Load and check a configuration file or configuration directory (see
    /// [`resolve_config_path`]).
    pub fn load(path: &Path) -> Result<Settings, String> {
        let path = resolve_config_path(path);
        let cfg = config::load(&path, DaemonKind::FileDaemon).map_err(first_error)?;
        Self::from_config(&cfg, &path)
    }

    /// Settings from a loaded configuration; a missing Client or Director is an error.
    pub fn from_config(cfg: &config::Config, path: &Path) -> Result<Settings, String> {
        let client = cfg.fd_client().ok_or_else(|| {
            format!(
                "{}: no Client (FileDaemon) resource; barque-fd needs one with its Name",
                path.display()
            )
        })?;
        let dirs = cfg.fd_directors();
        if dirs.is_empty() {
            return Err(format!(
                "{}: no Director resource with a Password; no Director could connect",
                path.display()
            ));
        }
        if client.tls.authenticate || dirs.iter().any(|d| d.tls.authenticate) {
            return Err(format!(
                "{}: TLS Authenticate is deprecated and not supported by barque-fd; remove it",
                path.display()
            ));
        }
        let mut directors = Vec::new();
        for d in dirs {
            if d.password.is_empty() {
                return Err(format!(
                    "{}: Director {}: empty Password",
                    path.display(),
                    d.name
                ));
            }
            directors.push(DirectorEntry {
                name: d.name.clone(),
                key: d.password.md5_hex().into_bytes(),
                monitor: d.monitor,
                tls: d.tls.clone(),
                client_initiated: d.connection_from_client_to_director,
                director_initiated: d.connection_from_director_to_client,
                address: d.address.clone(),
                port: d.port,
                max_bandwidth: d.maximum_bandwidth_per_job,
            });
        }
        let mut listen = Vec::new();
        for a in &client.addresses {
            let port_text = a.port.clone().unwrap_or_else(|| "9102".into());
            let port: u16 = port_text.parse().map_err(|_| {
                format!(
                    "{}: Client {}: port {port_text:?} is not a number",
                    path.display(),
                    client.name
                )
            })?;
            listen.push((a.addr.clone().unwrap_or_else(|| "0.0.0.0".into()), port));
        }
        Ok(Settings {
            name: client.name.clone(),
            directors,
            listen,
            tls: client.tls.clone(),
            heartbeat: client.heartbeat_interval.as_duration(),
            max_bandwidth: client.maximum_bandwidth_per_job.unwrap_or(0),
            network_buffer_size: client
                .maximum_network_buffer_size
                .map(|v| v as usize)
                .unwrap_or(262_144)
                .clamp(4096, 1_000_000 - 16),
            debug_level: 0,
            sd_connect_timeout: client.sd_connect_timeout.as_duration(),
            sd_retry_interval: Duration::from_secs(10),
            restore_root: PathBuf::from("/"),
            accurate_store: 16 << 20,
            job_version: JOB_VERSION.into(),
            version_text: VERSION_TEXT.into(),
            max_connections: 42,
            log_files: crate::msglog::append_targets(cfg),
        })
    }
}

/// A running File daemon: settings plus the state shared by all sessions.
#[derive(Debug)]
pub struct FileDaemon {
    /// The settings.
    pub settings: Settings,
    /// Running and terminated jobs (for status and cancel across connections).
    pub jobs: &'static JobTable<JOB_SLOTS>,
    /// Passive SD connections waiting for their session.
    pub passive: Arc<PassiveSd>,
    /// Unix time the daemon started.
    pub started: i64,
    stop: AtomicBool,
    connections: std::sync::atomic::AtomicUsize,
}

/// Counts a connection thread while it lives.
struct ConnSlot(Arc<FileDaemon>);

impl Drop for ConnSlot {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Ordering::SeqCst);
    }
}

/// What a Director connection came in as.
enum Accepted {
    Director {
        stream: NetStream,
        tls: bool,
    },
    Passive,
    /// A TLS-first passive SD connection (PSK identity `R_JOB` RS «Job»), TLS done.
    PassiveTls {
        stream: Box<SslStream<TcpStream>>,
        job: Vec<u8>,
    },
}

/// A callback that runs once the peer starts frame number `.0` + 1.
type Trigger = (usize, Box<dyn FnOnce() + Send>);

/// Adapter: a tokio stream that runs each trigger `(n, f)` when the peer starts frame number
/// n + 1 (counting bsock frame headers in the byte stream it reads). Used to notice that a
/// client-initiated connection authenticated (frame 4 is the Director's `1000 OK:`, after its
/// challenge, `1000 OK auth` and its response) and that the Director started to use it
/// (frame 5 is its first command).
struct Watch<T> {
    inner: T,
    frames: usize,
    hdr: [u8; 4],
    hdr_len: usize,
    remaining: usize,
    /// Pending triggers, sorted by frame number.
    triggers: Vec<Trigger>,
}

/// Event of a client-initiated connection, for its dial loop.
enum Dial {
    /// The Director accepted it (`1000 OK:`).
    Authenticated,
    /// The Director sent its first command on it.
    Used,
}

impl<T> Watch<T> {
    fn new(inner: T, mut triggers: Vec<Trigger>) -> Self {
        triggers.sort_by_key(|t| std::cmp::Reverse(t.0));
        Self {
            inner,
            frames: 0,
            hdr: [0; 4],
            hdr_len: 0,
            remaining: 0,
            triggers,
        }
    }

    fn feed(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            if self.remaining > 0 {
                let k = self.remaining.min(bytes.len());
                self.remaining -= k;
                bytes = bytes.get(k..).unwrap_or(&[]);
                continue;
            }
            if let (Some(slot), Some(&b)) = (self.hdr.get_mut(self.hdr_len), bytes.first()) {
                *slot = b;
            }
            self.hdr_len += 1;
            bytes = bytes.get(1..).unwrap_or(&[]);
            if self.hdr_len == 1 {
                self.frames += 1;
                while self.triggers.last().is_some_and(|t| self.frames > t.0) {
                    if let Some((_, f)) = self.triggers.pop() {
                        f();
                    }
                }
            }
            if self.hdr_len == 4 {
                self.hdr_len = 0;
                self.remaining = usize::try_from(i32::from_be_bytes(self.hdr)).unwrap_or(0);
            }
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Watch<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let me = self.get_mut();
        let before = buf.filled().len();
        let r = Pin::new(&mut me.inner).poll_read(cx, buf);
        if !me.triggers.is_empty() {
            let new = buf.filled().get(before..).unwrap_or(&[]).to_vec();
            me.feed(&new);
        }
        r
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watch<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// How long one client-initiated dial waits for the Director's SYN-ACK.
const DIAL_TIMEOUT: Duration = Duration::from_secs(15);

fn random31() -> u32 {
    let mut b = [0u8; 4];
    if openssl::rand::rand_bytes(&mut b).is_err() {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(1);
        b = t.to_le_bytes();
    }
    u32::from_le_bytes(b) & 0x7fff_ffff
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn session_log(who: &str, r: &Result<SessionEnd, SessionError>) {
    match r {
        Ok(end) if end.job_id != 0 => log::info!(
            "{who}: JobId {} ended with status {:?}, {} files, {} errors",
            end.job_id,
            end.status,
            end.files,
            end.errors
        ),
        Ok(_) => log::debug!("{who}: session ended"),
        Err(e) => log::warn!("{who}: {e}"),
    }
}

/// Per-session heap buffers.
struct SessionBufs {
    dir_rx: Vec<u8>,
    tx: Vec<u8>,
    sd_rx: Vec<u8>,
    data: Vec<u8>,
    fileset: Vec<u8>,
    accurate: Vec<u8>,
}

impl SessionBufs {
    fn new(s: &Settings) -> Self {
        Self {
            dir_rx: vec![0; 1_000_016],
            tx: vec![0; 65_536],
            sd_rx: vec![0; 1_000_016],
            data: vec![0; s.network_buffer_size + 64],
            fileset: vec![0; 256 * 1024],
            accurate: vec![0; s.accurate_store],
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

type Svc = Services<LinuxSource, LinuxSink, SdConnector, TokioClock, PipelinedDigests>;

impl FileDaemon {
    /// A daemon with its own job table.
    pub fn new(settings: Settings) -> Arc<FileDaemon> {
        Arc::new(FileDaemon {
            settings,
            jobs: Box::leak(Box::new(JobTable::new())),
            passive: Arc::new(PassiveSd::default()),
            started: unix_now(),
            stop: AtomicBool::new(false),
            connections: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    /// Ask the accept loops and client-initiated threads to stop (running sessions finish).
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    fn services(&self) -> Svc {
        let mut connector = SdConnector::new(self.passive.clone());
        connector.heartbeat = Some(self.settings.heartbeat).filter(|h| !h.is_zero());
        connector.timeout = self.settings.sd_connect_timeout;
        connector.retry_interval = self.settings.sd_retry_interval;
        connector.tls = self.settings.tls.clone();
        Services {
            source: LinuxSource::new(),
            sink: LinuxSink::with_root(self.settings.restore_root.clone()),
            connector,
            clock: TokioClock::new(),
            digests: PipelinedDigests,
        }
    }

    fn director_auths(&self) -> Vec<DirectorAuth<'_>> {
        self.settings
            .directors
            .iter()
            .map(|d| DirectorAuth {
                name: d.name.as_bytes(),
                key: &d.key,
                monitor: d.monitor,
                max_bandwidth: d.max_bandwidth.unwrap_or(0),
            })
            .collect()
    }

    fn fd_config<'a>(
        &'a self,
        dirs: &'a [DirectorAuth<'a>],
        tls_policy: TlsPolicy,
        tls_active: bool,
    ) -> FdConfig<'a> {
        let s = &self.settings;
        FdConfig {
            name: s.name.as_bytes(),
            directors: dirs,
            version: Version::new(26, 0, 0),
            job_version: s.job_version.as_bytes(),
            version_text: s.version_text.as_bytes(),
            binary_info: b"self-compiled",
            secure_erase: None,
            heartbeat_interval: CoreDuration::from_secs(s.heartbeat.as_secs()),
            max_bandwidth: s.max_bandwidth,
            tls_policy,
            tls_active,
            network_buffer_size: s.network_buffer_size,
            started: self.started,
            utc_offset: 0,
            debug_level: s.debug_level,
        }
    }

    /// Bind every configured address and serve until [`FileDaemon::stop`]. Returns the bound
    /// addresses through `bound` as soon as they are listening.
    pub async fn run(self: Arc<Self>) -> std::io::Result<()> {
        let mut listeners = Vec::new();
        for (host, port) in &self.settings.listen {
            let l = TcpListener::bind((host.as_str(), *port))
                .await
                .map_err(|e| {
                    std::io::Error::new(e.kind(), format!("cannot listen on {host}:{port}: {e}"))
                })?;
            log::info!("{} listening on {host}:{port}", self.settings.name);
            listeners.push(l);
        }
        self.clone().start_client_initiated();
        let mut tasks = Vec::new();
        for l in listeners {
            tasks.push(tokio::spawn(self.clone().serve(l)));
        }
        for t in tasks {
            let _ = t.await;
        }
        Ok(())
    }

    /// Accept connections on `listener` until stopped, one thread per connection.
    pub async fn serve(self: Arc<Self>, listener: TcpListener) {
        while !self.stop.load(Ordering::SeqCst) {
            let accepted =
                tokio::time::timeout(Duration::from_millis(500), listener.accept()).await;
            let (tcp, addr) = match accepted {
                Err(_) => continue,
                Ok(Ok(x)) => x,
                Ok(Err(e)) => {
                    log::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            if self.connections.fetch_add(1, Ordering::SeqCst) >= self.settings.max_connections {
                self.connections.fetch_sub(1, Ordering::SeqCst);
                log::warn!(
                    "{addr}: refused, already {} connections (Maximum Connections)",
                    self.settings.max_connections
                );
                drop(tcp);
                continue;
            }
            let slot = ConnSlot(self.clone());
            let std_tcp = match tcp.into_std() {
                Ok(s) => s,
                Err(e) => {
                    log::warn!("{addr}: {e}");
                    continue;
                }
            };
            let me = self.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("fd-conn-{addr}"))
                .spawn(move || {
                    let _slot = slot;
                    me.connection_thread(std_tcp, addr)
                });
            if let Err(e) = spawned {
                log::warn!("{addr}: cannot start a thread: {e}");
            }
        }
    }

    fn connection_thread(self: Arc<Self>, tcp: std::net::TcpStream, addr: SocketAddr) {
        let rt = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                log::warn!("{addr}: cannot start a runtime: {e}");
                return;
            }
        };
        // A second handle on the socket keeps it open until the restore sink has set the
        // directory attributes (after the session, before the Director sees the close).
        let keep = tcp.try_clone().ok();
        rt.block_on(async move {
            let who = format!("connection from {addr}");
            let tcp = match TcpStream::from_std(tcp) {
                Ok(t) => t,
                Err(e) => return log::warn!("{who}: {e}"),
            };
            let _ = tcp.set_nodelay(true);
            // Accepted sockets: SO_KEEPALIVE as Bareos' `BnetThreadServerTcp` (connect.md §1.5).
            let _ = barque_common::conn::set_keepalive(&tcp, None);
            let acc = tokio::time::timeout(Duration::from_secs(180), self.accept(tcp, &who)).await;
            match acc {
                Err(_) => log::warn!("{who}: no hello within 180 s; closed"),
                Ok(Err(e)) => log::warn!("{who}: {e}"),
                Ok(Ok(Accepted::Passive)) => {}
                Ok(Ok(Accepted::PassiveTls { stream, job })) => {
                    let shown = String::from_utf8_lossy(&job).into_owned();
                    if let Err(e) = self.serve_passive_tls(stream, &job).await {
                        log::warn!("{who}: passive Storage daemon (TLS) for job {shown}: {e}");
                    }
                }
                Ok(Ok(Accepted::Director { stream, tls })) => {
                    let policy = self.director_policy(tls);
                    let mut svc = self.services();
                    let mut bufs = SessionBufs::new(&self.settings);
                    let dirs = self.director_auths();
                    let cfg = self.fd_config(&dirs, policy, tls);
                    let r = run_director_session(
                        NetIo(stream),
                        &cfg,
                        self.jobs,
                        &mut svc,
                        bufs.get(),
                        random31(),
                    )
                    .await;
                    svc.sink.finish();
                    drop(keep);
                    session_log(&who, &r);
                }
            }
        });
    }

    fn director_policy(&self, tls: bool) -> TlsPolicy {
        if tls {
            self.settings.tls.policy()
        } else {
            TlsPolicy::None
        }
    }

    /// The transport part of accepting: peek, TLS or the cleartext gate.
    async fn accept(&self, tcp: TcpStream, who: &str) -> Result<Accepted, String> {
        let mut buf = [0u8; 300];
        let first = loop {
            let n = tcp.peek(&mut buf).await.map_err(|e| format!("peek: {e}"))?;
            if n == 0 {
                return Err("closed before sending anything".into());
            }
            match psk::classify_first_bytes(buf.get(..n).unwrap_or(&[])) {
                FirstBytes::NeedMore => tokio::time::sleep(Duration::from_millis(5)).await,
                other => break other,
            }
        };
        match first {
            FirstBytes::Garbage | FirstBytes::NeedMore => {
                Err("first bytes are neither a Bareos hello nor TLS; closed".into())
            }
            FirstBytes::CleartextHello => {
                // Peek the whole hello frame (≤ 4 + 255 bytes).
                let hello = loop {
                    let n = tcp.peek(&mut buf).await.map_err(|e| format!("peek: {e}"))?;
                    let len = buf
                        .get(..4)
                        .map(|h| i32::from_be_bytes([h[0], h[1], h[2], h[3]]))
                        .unwrap_or(0);
                    let want = usize::try_from(len).unwrap_or(0) + 4;
                    if want > buf.len() {
                        return Err("hello frame too long".into());
                    }
                    if n >= want {
                        break buf.get(4..want).unwrap_or(&[]).to_vec();
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                };
                match Hello::parse_at(Acceptor::FileDaemon, &hello) {
                    Ok(Hello::StorageStartJob { job, .. }) => {
                        let job = job.to_vec();
                        let shown = String::from_utf8_lossy(&job).into_owned();
                        log::debug!("{who}: passive Storage daemon for {shown}");
                        // The SD may be quicker than the Director's `JobId=` to the session (it is
                        // told after it, but on another connection): wait a little for the key.
                        let mut key = self.passive.key(&job);
                        let until = tokio::time::Instant::now() + Duration::from_secs(30);
                        while key.is_none() && tokio::time::Instant::now() < until {
                            tokio::time::sleep(Duration::from_millis(20)).await;
                            key = self.passive.key(&job);
                        }
                        let Some(key) = key else {
                            return Err(format!(
                                "passive Storage daemon for job {shown}: no such job is running \
                                 here (the Director must send JobId= first); closed"
                            ));
                        };
                        // Bareos (`R_JOB`, try_tls_handshake_as_a_server.cc): a cleartext
                        // hello only when the Director gave the job ssl=0.
                        let ssl = self.passive.ssl(&job);
                        if ssl != 0 {
                            return Err(format!(
                                "passive Storage daemon for job {shown}: cleartext hello refused: \
                                 the Director gave this job ssl={ssl}, so the Storage daemon must \
                                 start with TLS-PSK; check the TLS settings of the Storage \
                                 daemon's Director resource and of the Director's Storage \
                                 resource; closed"
                            ));
                        }
                        let tcp = self
                            .authenticate_passive_sd(tcp, hello.len(), &key)
                            .await
                            .map_err(|e| format!("passive Storage daemon for job {shown}: {e}"))?;
                        let std_tcp = tcp.into_std().map_err(|e| e.to_string())?;
                        self.passive.park(&job, std_tcp);
                        Ok(Accepted::Passive)
                    }
                    Ok(Hello::Director { name, .. }) => {
                        let known = self
                            .settings
                            .directors
                            .iter()
                            .find(|d| fd_core::wire::hello::bashed_eq(name, d.name.as_bytes()));
                        if let Some(d) = known {
                            if !psk::cleartext_hello_allowed(
                                ResourceType::Director,
                                0,
                                d.tls.policy(),
                            ) {
                                return Err(format!(
                                    "cleartext hello from Director {} refused: TLS is enabled for it \
                                     (set TLS Enable = no in its Director resource, or use TLS-PSK)",
                                    d.name
                                ));
                            }
                        }
                        // Unknown Directors are refused by the session with Bareos' reply.
                        Ok(Accepted::Director {
                            stream: NetStream::Plain(tcp),
                            tls: false,
                        })
                    }
                    _ => Err(format!(
                        "hello refused: {:?}",
                        String::from_utf8_lossy(hello.get(..80).unwrap_or(&hello))
                    )),
                }
            }
            FirstBytes::Tls => {
                let slot: PskSlot = Arc::new(Mutex::new(PskOutcome::NotUsed));
                let dirs: Vec<(String, Vec<u8>)> = self
                    .settings
                    .directors
                    .iter()
                    .map(|d| (d.name.clone(), d.key.clone()))
                    .collect();
                let passive = self.passive.clone();
                let lookup: tls::PskLookup = Arc::new(move |kind, name| {
                    // A passive SD (`ssl=4`): identity R_JOB RS «Job», key = the session key
                    // of that job's session.
                    if kind == ResourceType::Job {
                        return passive.key(name.as_bytes()).map(Key::raw);
                    }
                    if kind != ResourceType::Director {
                        return None;
                    }
                    dirs.iter()
                        .find(|(n, _)| n == name)
                        .map(|(_, k)| Key::raw(k.clone()))
                });
                let ctx = tls::server_context(&self.settings.tls, lookup, slot.clone())
                    .map_err(|e| e.to_string())?;
                let ssl = Ssl::new(&ctx).map_err(|e| e.to_string())?;
                let mut s = SslStream::new(ssl, tcp).map_err(|e| e.to_string())?;
                if let Err(e) = Pin::new(&mut s).accept().await {
                    let outcome = slot.lock().map(|g| g.clone()).unwrap_or_default();
                    return Err(match outcome {
                        PskOutcome::Unknown(id) | PskOutcome::Malformed(id) => format!(
                            "TLS-PSK identity {:?} unknown (check the Director resources)",
                            PskIdentity::parse(&id)
                                .map(|i| String::from_utf8_lossy(i.name).into_owned())
                                .unwrap_or_else(|_| String::from_utf8_lossy(&id).into_owned())
                        ),
                        _ => format!("TLS handshake failed: {e} (wrong password?)"),
                    });
                }
                let outcome = slot.lock().map(|g| g.clone()).unwrap_or_default();
                if let PskOutcome::Found(id) = outcome {
                    if let Ok(i) = PskIdentity::parse(&id) {
                        if i.kind == ResourceType::Job {
                            return Ok(Accepted::PassiveTls {
                                stream: Box::new(s),
                                job: i.name.to_vec(),
                            });
                        }
                    }
                }
                Ok(Accepted::Director {
                    stream: NetStream::Tls(Box::new(s)),
                    tls: true,
                })
            }
        }
    }

    /// Passive mode: consume the SD's hello (`hello_len` payload bytes, already peeked) and
    /// run the CRAM-MD5 as the inbound side with the job's session key, at once, as Bareos
    /// does: the SD answers the Director's `passive client` only after it, and the session
    /// asks for the connection later (at `backup`/`restore`).
    async fn authenticate_passive_sd(
        &self,
        mut tcp: TcpStream,
        hello_len: usize,
        key: &[u8],
    ) -> Result<TcpStream, String> {
        use fd_core::fd::conn::Conn;
        use tokio::io::AsyncReadExt;
        let mut skip = vec![0u8; hello_len + 4];
        tcp.read_exact(&mut skip)
            .await
            .map_err(|e| format!("reading the hello: {e}"))?;
        let mut conn = Conn::new(NetIo(NetStream::Plain(tcp)));
        self.cram_as_inbound(&mut conn, key, TlsPolicy::None, false)
            .await?;
        match conn.into_inner().0 {
            NetStream::Plain(t) => Ok(t),
            NetStream::Tls(_) | NetStream::TlsBuffered(_) => Err("unexpected TLS stream".into()),
        }
    }

    /// The FD's side of a passive SD's CRAM-MD5: inbound, challenging first, with the job's
    /// session key and `policy` in its `ssl=` (vectors/clear-backup-passive conn 4 msgs 2-7).
    async fn cram_as_inbound(
        &self,
        conn: &mut fd_core::fd::conn::Conn<NetIo<NetStream>>,
        key: &[u8],
        policy: TlsPolicy,
        tls_active: bool,
    ) -> Result<(), String> {
        use fd_core::auth::{self, Role};
        let mut own = b"R_CLIENT::".to_vec();
        own.extend_from_slice(self.settings.name.as_bytes());
        let mut acfg = auth::Config::new(
            Role::Inbound,
            key,
            &own,
            policy,
            random31(),
            u32::try_from(unix_now()).unwrap_or(0),
        );
        // Inside TLS-PSK (keyed with the job's session key) the ssl= comparison is moot, as
        // in Bareos: the SD sends its own policy, which may differ from this Client's.
        acfg.tls_active = tls_active;
        let mut rx = vec![0u8; 1024];
        let clock = TokioClock::new();
        match fd_core::fd::session::authenticate(conn, &clock, acfg, &mut rx).await {
            Ok(auth::Event::Authenticated { .. }) => Ok(()),
            Ok(auth::Event::Failed(e)) => Err(format!(
                "authentication failed ({e:?}): the session key or the ssl= policies do not match"
            )),
            Err(e) => Err(format!("authentication: {e}")),
        }
    }

    /// A TLS-first passive SD connection: read its hello inside TLS, authenticate, then hand
    /// the session a plain socket. The session takes parked connections as std sockets (the
    /// accepting thread's runtime is gone by then), and a TLS stream cannot outlive the runtime
    /// that drives it, so this thread keeps the TLS end and relays it to a loopback socket
    /// pair whose other end is parked.
    async fn serve_passive_tls(
        &self,
        stream: Box<SslStream<TcpStream>>,
        job: &[u8],
    ) -> Result<(), String> {
        let mut conn = fd_core::fd::conn::Conn::new(NetIo(NetStream::Tls(stream)));
        let mut rx = vec![0u8; 300];
        let ok = match conn.recv(&mut rx).await {
            Ok(fd_core::fd::conn::Msg::Data(h)) => matches!(
                Hello::parse_at(Acceptor::FileDaemon, h),
                Ok(Hello::StorageStartJob { job: j, .. }) if j == job
            ),
            Ok(_) => false,
            Err(e) => return Err(format!("reading the hello: {e}")),
        };
        if !ok {
            return Err("the hello inside TLS does not name the job of the PSK identity".into());
        }
        let key = self
            .passive
            .key(job)
            .ok_or_else(|| "the job is no longer running".to_string())?;
        // Inside TLS the challenge carries this Client's own policy (an SD speaking TLS says
        // Required; None here would deny).
        self.cram_as_inbound(&mut conn, &key, self.settings.tls.policy(), true)
            .await?;
        let NetStream::Tls(mut tls) = conn.into_inner().0 else {
            return Err("unexpected plain stream".into());
        };
        let l = std::net::TcpListener::bind("127.0.0.1:0")
            .map_err(|e| format!("loopback relay: {e}"))?;
        let addr = l.local_addr().map_err(|e| format!("loopback relay: {e}"))?;
        let parked =
            std::net::TcpStream::connect(addr).map_err(|e| format!("loopback relay: {e}"))?;
        let (ours, _) = l.accept().map_err(|e| format!("loopback relay: {e}"))?;
        ours.set_nonblocking(true)
            .map_err(|e| format!("loopback relay: {e}"))?;
        let _ = ours.set_nodelay(true);
        let _ = parked.set_nodelay(true);
        let mut ours = TcpStream::from_std(ours).map_err(|e| format!("loopback relay: {e}"))?;
        self.passive.park(job, parked);
        let _ = tokio::io::copy_bidirectional(&mut tls, &mut ours).await;
        Ok(())
    }

    /// Start the client-initiated threads (one per Director with `Connection From Client To
    /// Director = yes`).
    pub fn start_client_initiated(self: Arc<Self>) {
        for (i, d) in self.settings.directors.iter().enumerate() {
            if !d.client_initiated {
                continue;
            }
            let me = self.clone();
            let name = d.name.clone();
            let r = std::thread::Builder::new()
                .name(format!("fd-dial-{name}"))
                .spawn(move || me.dial_loop(i));
            if let Err(e) = r {
                log::warn!("Director {name}: cannot start the client-initiated thread: {e}");
            }
        }
    }

    /// Keep one idle connection to Director `i`; when it gets used, open the next one.
    /// Failures (refused, unreachable, authentication, or the Director closing the waiting
    /// connection, e.g. because it restarted) are retried after 1 s, doubling up to 60 s;
    /// the delay starts again at 1 s once a connection authenticated.
    fn dial_loop(self: Arc<Self>, i: usize) {
        let name = self
            .settings
            .directors
            .get(i)
            .map(|d| d.name.clone())
            .unwrap_or_default();
        let mut backoff = Duration::from_secs(1);
        while !self.stop.load(Ordering::SeqCst) {
            let (tx, rx) = std::sync::mpsc::channel::<Dial>();
            let me = self.clone();
            let handle = std::thread::spawn(move || me.client_session(i, tx));
            // Wait until the connection is used (or failed), then dial the next one.
            let mut authenticated = false;
            loop {
                match rx.recv() {
                    Ok(Dial::Authenticated) => {
                        authenticated = true;
                        backoff = Duration::from_secs(1);
                    }
                    Ok(Dial::Used) => break,
                    Err(_) => {
                        let _ = handle.join();
                        if self.stop.load(Ordering::SeqCst) {
                            return;
                        }
                        // Bareos: `Failed to connect to Director "%s". Retry in %ds.`
                        // (filed/dir_cmd.cc, a fixed 60 s; here 1 s doubling up to 60 s).
                        if authenticated {
                            log::info!(
                                "Director {name}: the waiting connection ended; connecting \
                                 again in {}s",
                                backoff.as_secs()
                            );
                        } else {
                            log::error!(
                                "Failed to connect to Director \"{name}\". Retry in {}s.",
                                backoff.as_secs()
                            );
                        }
                        std::thread::sleep(backoff);
                        backoff = (backoff * 2).min(Duration::from_secs(60));
                        break;
                    }
                }
            }
        }
    }

    fn client_session(self: Arc<Self>, i: usize, used: std::sync::mpsc::Sender<Dial>) {
        let Some(d) = self.settings.directors.get(i).cloned() else {
            return;
        };
        let rt = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(_) => return,
        };
        rt.block_on(async move {
            let who = format!("Director {}", d.name);
            let addr = d.address.clone().unwrap_or_else(|| "127.0.0.1".into());
            log::info!("{who}: connecting to {addr}:{} (client-initiated)", d.port);
            // A dropped SYN (the Director's host down, a firewall that drops) would otherwise
            // wait for the kernel's SYN retries (about two minutes) before the next attempt.
            let connect = TcpStream::connect((addr.as_str(), d.port));
            let tcp = match tokio::time::timeout(DIAL_TIMEOUT, connect).await {
                Ok(Ok(t)) => t,
                Err(_) => {
                    return log::warn!(
                        "{who} ({addr}:{}): no answer within {} s; check that the Director's \
                         host is up and that no firewall drops the connection",
                        d.port,
                        DIAL_TIMEOUT.as_secs()
                    )
                }
                Ok(Err(e)) => {
                    return log::warn!(
                        "{who} ({addr}:{}): cannot connect: {e}; check that the Director runs \
                         and that Address and Port of Director {} in this File daemon's \
                         configuration reach it",
                        d.port,
                        d.name
                    )
                }
            };
            let _ = tcp.set_nodelay(true);
            // connect.md §1.5: SO_KEEPALIVE, and the Client's Heartbeat Interval as the
            // keep-alive idle time and interval; the waiting connection itself stays silent.
            let hb = Some(self.settings.heartbeat).filter(|h| !h.is_zero());
            if let Err(e) = barque_common::conn::set_keepalive(&tcp, hb) {
                log::warn!("{who}: cannot set TCP keep-alive: {e}");
            }
            // Keep a second handle until the restore sink is finished (see
            // connection_thread).
            let (tcp, keep) = match tcp.into_std() {
                Ok(std_tcp) => {
                    let keep = std_tcp.try_clone().ok();
                    match TcpStream::from_std(std_tcp) {
                        Ok(t) => (t, keep),
                        Err(e) => return log::warn!("{who}: {e}"),
                    }
                }
                Err(e) => return log::warn!("{who}: {e}"),
            };
            let tls = d.tls.enable;
            let stream = if tls {
                let id = PskIdentity {
                    kind: ResourceType::Client,
                    name: self.settings.name.as_bytes(),
                };
                let mut idb = vec![0u8; id.buffer_len()];
                if id.emit(&mut idb).is_err() {
                    return log::warn!("{who}: cannot form the PSK identity");
                }
                let ctx = match tls::client_context(&d.tls, Some((idb, Key::raw(d.key.clone())))) {
                    Ok(c) => c,
                    Err(e) => return log::warn!("{who}: {e}"),
                };
                let Ok(ssl) = Ssl::new(&ctx) else { return };
                let Ok(mut s) = SslStream::new(ssl, tcp) else {
                    return;
                };
                if let Err(e) = Pin::new(&mut s).connect().await {
                    return log::warn!("{who}: TLS-PSK handshake failed: {e}");
                }
                NetStream::Tls(Box::new(s))
            } else {
                NetStream::Plain(tcp)
            };
            let authed = used.clone();
            let name = d.name.clone();
            let watched = Watch::new(
                stream,
                vec![
                    // Frame 4 is the Director's `1000 OK:`: authenticated and parked.
                    (
                        3,
                        Box::new(move || {
                            log::info!("Director {name}: connected, waiting for jobs");
                            let _ = authed.send(Dial::Authenticated);
                        }) as Box<dyn FnOnce() + Send>,
                    ),
                    // Frame 5 is its first command: this connection is in use.
                    (
                        4,
                        Box::new(move || {
                            let _ = used.send(Dial::Used);
                        }),
                    ),
                ],
            );
            let policy = if tls {
                self.settings.tls.policy()
            } else {
                TlsPolicy::None
            };
            let mut svc = self.services();
            let mut bufs = SessionBufs::new(&self.settings);
            let dirs = self.director_auths();
            let cfg = self.fd_config(&dirs, policy, tls);
            let Some(dir) = dirs.get(i).copied() else {
                return;
            };
            let r = run_client_initiated(
                NetIo(watched),
                &cfg,
                &dir,
                self.jobs,
                &mut svc,
                bufs.get(),
                random31(),
            )
            .await;
            svc.sink.finish();
            drop(keep);
            session_log(&who, &r);
        });
    }
}

/// `-t`: check the configuration; `Ok` with a summary, or every problem found.
pub fn check(path: &Path) -> Result<String, String> {
    let path = &resolve_config_path(path);
    let report = config::check(path, DaemonKind::FileDaemon);
    if !report.is_ok() {
        return Err(report.to_string());
    }
    let s = Settings::from_config(&report.config, path)?;
    let warnings: Vec<String> = report.warnings().map(|w| w.to_string()).collect();
    let mut out = String::new();
    for w in warnings {
        out.push_str(&w);
        out.push('\n');
    }
    out.push_str(&format!(
        "{}: configuration OK: Client {}, {} Director(s), listening on {}",
        path.display(),
        s.name,
        s.directors.len(),
        s.listen
            .iter()
            .map(|(h, p)| format!("{h}:{p}"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    Ok(out)
}
