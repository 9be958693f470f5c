//! barque-sd: a Storage Daemon that writes and reads Bareos disk volumes.
//!
//! # Shape of the daemon
//!
//! Bareos' SD runs one thread per connection (`core/src/stored/dir_cmd.cc`
//! `HandleConnectionRequest()`); a Director connection that sends `JobId=` becomes the job's
//! control channel, and on `run` that same thread waits for the FD's data connection and then
//! drives it (`core/src/stored/fd_cmds.cc` `RunJob()`). barque-sd keeps that shape with tokio
//! tasks: every accepted connection is authenticated by barque-common
//! ([`barque_common::conn::accept`]: TLS-PSK or cleartext, hello, two-way CRAM-MD5), then
//!
//! * a **Director** (`R_DIRECTOR`) gets `3000 OK Hello⏎` and the command loop of [`dir`];
//! * a **job** connection (`Hello Start Job «Job»`, identity `R_JOB`, key = the session key
//!   the SD handed out in `3000 OK Job … Authorization=`) is matched to the waiting job by its
//!   full Job name and passed to that job's Director task through a one-shot channel. An
//!   unknown job name or a wrong key fails authentication and the connection is closed; the
//!   daemon keeps serving.
//!
//! So one task owns both sockets of a job and no locks guard the protocol state: the Director
//! task sends catalog requests and waits for their replies between FD messages, in the order
//! the captures show (`vectors/clear-backup-full` conn 2 and 4). Shared state is small: the
//! VolSessionId counter, the table of jobs waiting for their FD (with a cancel flag), one
//! [`device::DeviceState`] per device (who appends to which volume), and the list of terminated jobs for `status`.
//!
//! # Volumes
//!
//! The volume format is [`crate::volume`]. Appends go through
//! [`crate::volume::VolumeWriter`]; before appending, and for every volume at start-up, a
//! torn last block (a crash or SIGKILL mid-write) is cut off at
//! [`crate::volume::intact_length`], so earlier sessions stay readable and new ones follow
//! intact blocks. See [`job`] for the data paths and [`status`] for the status texts.
//!
//! # Not (yet) like bareos-sd
//!
//! * Jobs share a device up to its `Maximum Concurrent Jobs` ([`device`]); when one of them
//!   changes volumes (MaxVolBytes), the jobs already writing finish on the old volume.
//!   The Storage resource's `Maximum Concurrent Jobs` is not enforced.
//! * Only File devices; no autochanger, no `readlabel`/`setdebug` commands, no
//!   spooling, no NDMP. SD-to-SD copy/migrate (`replicate`, `listen`) is [`job`]'s; the same
//!   daemon does not copy between two of its own devices inside one job (Bareos' local
//!   `CloneRecordInternally()`): a Director uses two jobs on it, as for two daemons.
//! * Of the `Messages` resource only the `Director` and `Append`/`File` destinations are
//!   delivered, for job messages ([`messages`]); daemon messages go to stderr (`-d`).
//! * The `status` text follows the captured idle layout and Bareos' formats for running jobs
//!   and mounted devices (`core/src/stored/status.cc`); the `FDReadSeqNo`/`in_msg` counters
//!   are the FD data messages received, `out_msg`/`fd` are 0, and the per-device
//!   `Total Bytes=…` and blocked-state lines are not shown.
//! * Volume switching happens between records (see [`job`]).

pub mod config;
pub mod devcmd;
pub mod device;
pub mod dir;
pub mod job;
pub mod messages;
pub mod status;

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::io;
use std::path::Path;
use std::sync::atomic::AtomicU32;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use barque_common::conn::{self, AuthenticatedConnection, ConnOptions, Local, Peer, PeerLookup};
use barque_common::tls::Key;
use fd_core::wire::psk::ResourceType;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};

pub use config::{DeviceRes, DirectorRes, SdConfig};

/// The version text in `Version:` lines and volume labels.
pub const VERSION: &str = "26.0.0";
/// The program name in volume labels (`LabelProg`), as Bareos writes it.
pub const LABEL_PROG: &str = "bareos-sd";

/// Lock a std mutex, ignoring poisoning (a panicking task never leaves these maps torn:
/// every update is a single insert or remove).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Seconds since the epoch.
pub fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Microseconds since the epoch (label times).
pub fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// 16 random bytes from the operating system (`/dev/urandom`), for the session key.
pub fn os_random16() -> io::Result<[u8; 16]> {
    use std::io::Read;
    let mut b = [0u8; 16];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut b)?;
    Ok(b)
}

/// A job known to the daemon between `JobId=` and its end.
pub(crate) struct JobSlot {
    pub job_id: u32,
    pub session_key: String,
    /// Where an accepted FD connection for this job goes (taken once).
    pub fd_tx: Option<oneshot::Sender<AuthenticatedConnection>>,
    /// Set to true by `cancel`.
    pub cancel: watch::Sender<bool>,
    /// Live facts for `status`.
    pub info: Arc<Mutex<RunningInfo>>,
}

/// What `status` shows about a running job.
#[derive(Debug, Clone, Default)]
pub struct RunningInfo {
    /// JobId.
    pub job_id: u32,
    /// Unique job name.
    pub job: String,
    /// Job type letter.
    pub job_type: u8,
    /// Level letter.
    pub level: u8,
    /// Files so far.
    pub files: u32,
    /// Bytes so far.
    pub bytes: u64,
    /// Volume in use.
    pub volume: String,
    /// Device in use.
    pub device: String,
    /// True while writing.
    pub writing: bool,
    /// True while reading (restore).
    pub reading: bool,
    /// Job status letter (`F` waiting for the FD, `R` running, …).
    pub status: u8,
    /// Pool name.
    pub pool: String,
    /// `"Device" (archive)`.
    pub device_desc: String,
    /// Data messages received from the FD.
    pub fd_messages: u64,
    /// When the job started (unix seconds), for the average rate.
    pub started: i64,
}

/// A terminated job, for `status`.
#[derive(Debug, Clone)]
pub struct Finished {
    /// JobId.
    pub job_id: u32,
    /// Level letter (`F`, `I`, `D`, or a space for restores).
    pub level: u8,
    /// Job type letter.
    pub job_type: u8,
    /// Files.
    pub files: u32,
    /// Bytes.
    pub bytes: u64,
    /// Final status letter.
    pub status: u8,
    /// End time, unix seconds.
    pub finished: i64,
    /// Job resource name.
    pub name: String,
}

/// State shared by all connections.
pub struct Shared {
    /// The configuration.
    pub cfg: SdConfig,
    pub(crate) local: Local,
    /// VolSessionTime: the daemon's start time.
    pub sd_time: u32,
    pub(crate) next_session: AtomicU32,
    pub(crate) jobs: Mutex<HashMap<String, JobSlot>>,
    pub(crate) finished: Mutex<Vec<Finished>>,
    pub(crate) devices: HashMap<String, Arc<device::DeviceState>>,
    pub(crate) opts: ConnOptions,
    /// Jobs started since the daemon started (status `Jobs: run=`).
    pub(crate) jobs_run: AtomicU32,
}

impl Shared {
    /// The writers of a device.
    pub(crate) fn device_state(&self, name: &str) -> Option<Arc<device::DeviceState>> {
        self.devices.get(name).cloned()
    }

    /// True while a job writes to the device `name` (for tests and status).
    pub fn devices_busy(&self, name: &str) -> bool {
        self.devices.get(name).is_some_and(|d| d.places() > 0)
    }

    /// Jobs writing to the device `name` and jobs holding a place on it that do not write
    /// yet (the `writers=` and `reserved=` of `3937`).
    pub fn device_counts(&self, name: &str) -> (u32, u32) {
        self.devices
            .get(name)
            .map(|d| (d.writers(), d.reserved()))
            .unwrap_or((0, 0))
    }

    pub(crate) fn record_finished(&self, f: Finished) {
        let mut v = lock(&self.finished);
        v.push(f);
        let excess = v.len().saturating_sub(10);
        v.drain(..excess);
    }
}

struct Lookup(Arc<Shared>);

impl PeerLookup for Lookup {
    fn find(&self, kind: ResourceType, name: &str) -> Option<Peer> {
        let sh = &self.0;
        match kind {
            ResourceType::Director => {
                sh.cfg
                    .directors
                    .iter()
                    .find(|d| d.name == name)
                    .map(|d| Peer {
                        kind,
                        name: d.name.clone(),
                        key: d.key.clone(),
                        address: String::new(),
                        port: 0,
                        tls: d.tls.clone(),
                    })
            }
            ResourceType::Job => {
                let jobs = lock(&sh.jobs);
                let slot = jobs.get(name)?;
                // None once the job already has its FD connection.
                slot.fd_tx.as_ref()?;
                Some(Peer {
                    kind,
                    name: name.to_string(),
                    key: Key::raw(slot.session_key.as_bytes().to_vec()),
                    address: String::new(),
                    port: 0,
                    // The job channel follows the SD's own Storage resource: cleartext only
                    // where that has TLS disabled (connect.md §3.2).
                    tls: sh.cfg.tls.clone(),
                })
            }
            _ => None,
        }
    }
}

/// Cut a volume file back to its intact blocks; returns the bytes removed.
pub fn repair_volume(path: &Path) -> io::Result<u64> {
    let f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    let (good, err) = crate::volume::intact_length(io::BufReader::new(f));
    if good < len {
        log::warn!(
            "volume {}: {} bytes after offset {} are not an intact block ({}); truncating the \
             partly written last block so the volume can be read and appended to",
            path.display(),
            len - good,
            good,
            err.map(|e| e.to_string())
                .unwrap_or_else(|| "short block".into())
        );
        OpenOptions::new().write(true).open(path)?.set_len(good)?;
        return Ok(len - good);
    }
    Ok(0)
}

/// The daemon: configuration plus shared state; [`Server::serve`] runs a listener.
#[derive(Clone)]
pub struct Server {
    shared: Arc<Shared>,
}

impl Server {
    /// Build the daemon from its checked configuration. Every volume file in every device
    /// directory is checked and a torn last block cut off (crash safety).
    pub fn new(cfg: SdConfig) -> io::Result<Server> {
        Self::with_options(cfg, ConnOptions::default())
    }

    /// As [`Server::new`] with explicit connection limits (tests use short delays).
    pub fn with_options(cfg: SdConfig, opts: ConnOptions) -> io::Result<Server> {
        for d in &cfg.devices {
            let rd = match std::fs::read_dir(&d.archive) {
                Ok(r) => r,
                Err(e) => {
                    log::warn!(
                        "device {}: cannot list {}: {e}",
                        d.name,
                        d.archive.display()
                    );
                    continue;
                }
            };
            for e in rd.flatten() {
                let p = e.path();
                if p.is_file() && looks_like_volume(&p) {
                    if let Err(e) = repair_volume(&p) {
                        log::warn!("volume {}: cannot check: {e}", p.display());
                    }
                }
            }
        }
        let local = Local::new(ResourceType::Storage, cfg.name.clone(), cfg.tls.clone());
        let devices = cfg
            .devices
            .iter()
            .map(|d| {
                (
                    d.name.clone(),
                    device::DeviceState::new(&d.name, d.maximum_concurrent_jobs),
                )
            })
            .collect();
        let sd_time = u32::try_from(now_unix()).unwrap_or(0);
        Ok(Server {
            shared: Arc::new(Shared {
                cfg,
                local,
                sd_time,
                next_session: AtomicU32::new(1),
                jobs: Mutex::new(HashMap::new()),
                finished: Mutex::new(Vec::new()),
                devices,
                opts,
                jobs_run: AtomicU32::new(0),
            }),
        })
    }

    /// The shared state (for tests and status).
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Bind every configured listen address.
    pub async fn bind(&self) -> io::Result<Vec<TcpListener>> {
        let mut v = Vec::new();
        for a in &self.shared.cfg.listen {
            v.push(
                TcpListener::bind(a)
                    .await
                    .map_err(|e| io::Error::new(e.kind(), format!("cannot listen on {a}: {e}")))?,
            );
        }
        Ok(v)
    }

    /// Accept and serve connections for ever.
    pub async fn serve(&self, listener: TcpListener) -> io::Result<()> {
        loop {
            let (tcp, addr) = match listener.accept().await {
                Ok(x) => x,
                Err(e) => {
                    log::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            log::debug!("connection from {addr}");
            let sh = self.shared.clone();
            tokio::spawn(async move {
                handle_connection(sh, tcp).await;
            });
        }
    }
}

fn looks_like_volume(p: &Path) -> bool {
    use std::io::Read;
    let mut b = [0u8; 16];
    match std::fs::File::open(p).and_then(|mut f| f.read(&mut b)) {
        Ok(n) => n >= 16 && b.get(12..16) == Some(b"BB02".as_slice()),
        Err(_) => false,
    }
}

async fn handle_connection(sh: Arc<Shared>, tcp: tokio::net::TcpStream) {
    let lookup: Arc<dyn PeerLookup> = Arc::new(Lookup(sh.clone()));
    let (ident, conn) = match conn::accept(tcp, &sh.local, lookup, &sh.opts).await {
        Ok(x) => x,
        Err(e) => {
            log::warn!("refused connection: {e}");
            return;
        }
    };
    match ident.kind {
        ResourceType::Director => dir::session(sh, conn).await,
        ResourceType::Job => {
            let tx = lock(&sh.jobs)
                .get_mut(&ident.name)
                .and_then(|s| s.fd_tx.take());
            match tx {
                Some(tx) => {
                    if tx.send(conn).is_err() {
                        log::warn!("job {}: FD connected after the job ended", ident.name);
                    }
                }
                None => log::warn!(
                    "job {}: unexpected second FD connection, closing it",
                    ident.name
                ),
            }
        }
        other => log::warn!(
            "{other:?} {} may not connect to a Storage daemon",
            ident.name
        ),
    }
}
