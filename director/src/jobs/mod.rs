//! The Director's job engine: backups, restores, estimates, cancel, scheduling.
//!
//! # What a job is, on the wire
//!
//! A Bareos Director runs a job by talking to two daemons at once (`core/src/dird/backup.cc`
//! `DoNativeBackup()`, `core/src/dird/msgchan.cc`, `core/src/dird/fd_cmds.cc`;
//! `../shared/protocol/jobs.md` "MVP sequence", §1.1, §2). For a backup, in the order captured
//! in vectors/clear-backup-full (conn 2 = Director→SD, conn 3 = Director→FD):
//!
//! ```text
//! D→S  hello, CRAM-MD5 both ways, S: 3000 OK Hello
//! D→S  JobId=1 job=… job_name=… client_name=… type=66 level=70 FileSet=… FileSetMD5=… …
//! S→D  3000 OK Job SDid=1 SDtime=… Authorization=<session key>
//! D→S  getSecureEraseCmd                         S→D 2000 OK SDSecureEraseCmd *None*
//! D→F  hello, CRAM-MD5 (handshake probing per client), F: 2000 OK Hello 54
//! D→F  JobId=1 Job=… SDid=1 SDtime=… Authorization=<session key>   F→D 2000 OK Job <uname>
//! D→F  level = full  mtime_only=0               F→D 2000 OK level
//!      [incremental: level = incremental …, level = since_utime … prev_job=…, BTIME ×10]
//! D→F  fileset vss=1, I, O S2HAX, N, F /path, N, N, EOD          F→D 2000 OK include
//! D→F  getSecureEraseCmd                         F→D 2000 OK FDSecureEraseCmd *None*
//! D→S  use storage=… append=1 …, use device=…, EOD, EOD   S→D 3000 OK use device device=…
//! D→F  storage address=… port=… ssl=0            F→D 2000 OK storage
//!      [passive client: D→S passive client address=… port=… ssl=0 instead]
//! D→S  run
//! D→F  backup FileIndex=0                        F→D 2000 OK backup
//! S→D  Status, 3010 start, CatReq FindMedia/GetVolInfo/UpdateMedia/CreateJobMedia,
//!      UpdCat FileAttributes ×N, Jmsg …, 3099 Job … end …
//! F→D  2800 End Job TermCode=84 JobFiles=6 ReadBytes=306 JobBytes=306 …
//! ```
//!
//! This module implements exactly that sequence ([`backup`]), the restore sequence of
//! vectors/clear-restore ([`restore`]), `estimate` (vectors/clear-estimate, [`estimate`]) and
//! `cancel` on fresh connections (vectors/clear-cancel). The channel code is split by peer:
//! [`fd`] (commands and replies to the File daemon, the fileset lines) and [`sd`] (the storage
//! control channel and the catalog requests the SD makes during the job). Every byte goes
//! through fd-core's codecs (`dir_cmd`, `fileset`, `sd_ctl`, `jmsg`), which are tested against
//! the captures byte for byte; this module decides *what* to send and *when*.
//!
//! # The engine
//!
//! [`JobEngine`] is the object the console server calls: [`JobEngine::run`],
//! [`JobEngine::restore`], [`JobEngine::estimate`], [`JobEngine::cancel`],
//! [`JobEngine::status`], [`JobEngine::wait`]. Each job gets a JobId from the catalog at once
//! (`create_job`, status `C`) and runs as its own tokio task; the Director's `Maximum
//! Concurrent Jobs` is a semaphore the task waits on. The catalog is blocking (see
//! [`crate::catalog`]); every catalog call goes through `spawn_blocking`.
//!
//! **Failures are per job.** A refused or dropped connection, a reply that is not the expected
//! one, a catalog error: each ends the job with status `f` (fatal) after a message saying what
//! happened, the Job row is closed, and the engine goes on. Connecting to the FD or SD is
//! retried ([`EngineOptions::connect_retries`]) before the job fails, like Bareos' connect
//! retries (`FD Connect Timeout`/`SD Connect Timeout` retry loops); a Job with `Reschedule On
//! Error = yes` then runs again under the same JobId after `Reschedule Interval`, at most
//! `Reschedule Times` times.
//!
//! **Messages** ([`messages`]) go to the destinations of the Job's Messages resource: the
//! console queue (what `messages` shows), the catalog `Log` table, `append` files.
//!
//! **The report** ([`report`]) has the fields of Bareos' `GenerateBackupSummary()` in the
//! same layout (vectors/clear-backup-full conn 1 msgs 45–81).
//!
//! **Scheduling** ([`scheduler`]) evaluates the Schedule resources' Run lines (parsed by
//! barque-common's `schedule::parse_run`) minute by minute against a [`time::Clock`].
//!
//! # Limits and connections
//!
//! `Maximum Concurrent Jobs` of the Director, the Job, the Client and the Storage are
//! semaphores a job takes in that order before it starts (it shows status `C` while it waits). The FD is
//! reached with barque-common's `connect_probing`: the handshake mode that worked is kept per
//! client until [`JobEngine::reload`] (Bareos: "Probing client protocol... (result will be
//! saved until config reload)").
//!
//! **Client-initiated connections** (`Connection From Client To Director`, connect.md §5):
//! the console server parks FDs that dial in ([`pool`]); `JobEngine::connect_fd` first takes
//! a waiting connection of the client (`Using Client Initiated Connection (…).`, no new
//! hello), else dials if the Client allows `Connection From Director To Client`, else (or
//! after a failed dial) waits up to the Director's `FD Connect Timeout` for the client to
//! connect (15 s for `status client` and `cancel`, as Bareos), then fails the job saying why.
//! The Director never writes on a parked connection (Bareos drops a parked FD that sends a
//! signal, heartbeats included); TCP keep-alive with the Client's `Heartbeat Interval` keeps
//! it through firewalls, and the FD sends `BNET_HEARTBEAT` during a job, which the job's
//! channel skips.
//!
//! `Passive = yes` clients get `passive client …` on the SD
//! instead of `storage …` on the FD (restores: `setauthorization` to the FD first), with the
//! `ssl=` of the probed mode (`backup::passive_ssl`); `Lan Address` on both Client and
//! Storage switches the data channel to those addresses ([`data_addresses`]), the ports stay
//! the resources' `Port`. Accurate Incremental/Differential
//! jobs send the `accurate files=N` list of the current backup set.
//!
//! # How it is tested
//!
//! `tests/jobs.rs` runs the engine against test FD and SD daemons that authenticate with
//! barque-common and replay the real daemons' side of the captures frame by frame, comparing
//! every frame the engine sends with the real Director's (modulo the unique Job name, ports
//! and `btime` values): the Full backup (clear-backup-full conns 2/3), the Incremental
//! (clear-backup-incr), the restore of both (clear-restore, whose bootstrap is compared on the
//! wire), estimate (clear-estimate), cancel (clear-cancel conns 6/7), a passive client
//! (clear-backup-passive); the catalog rows are compared with vectors/catalog-dump.txt. A
//! vanishing FD, a refusing SD, an unreachable SD, connect retries, concurrency limits and the
//! scheduler on a virtual clock are tested the same way. Client-initiated connections are
//! tested with the real daemons as processes in `host-tests/tests/client_initiated.rs`.
//!
//! # What is not here
//!
//! Verify/consolidate/admin jobs (Copy and Migrate are in [`copy`]), run scripts, spooling, changing a running
//! job's bandwidth (only the Job/Client limit is sent at start), plugin options and restore objects, multiple storages per job,
//! accurate checksums (entries go with an empty
//! checksum and DeltaSeq 0), pruning. Times are printed in UTC. The report's
//! `Bareos binary info:` line and the version strings are Barque's own.

pub mod backup;
pub mod copy;
pub mod estimate;
pub mod fd;
pub mod messages;
pub mod pool;
pub mod prune;
pub mod report;
pub mod restore;

pub mod scheduler;
pub mod sd;
pub mod time;
pub mod verify;
pub mod vfull;

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use barque_common::config::typed::{
    DirClient, DirDirector, DirFileSet, DirJob, DirStorage, Messages,
};
use barque_common::config::Config;
use barque_common::conn::{
    connect, connect_probing, ConnOptions, HandshakeMode, Local, Outbound, Peer, ProbeCache,
};
use barque_common::tls::Key;
use fd_core::wire::codes::{JobLevel, JobStatus, JobType, MessageType};
use tokio::sync::{watch, Semaphore};

use crate::catalog::{Catalog, PoolSpec, PoolType};

pub use self::messages::{ConsoleQueue, JobMessage};
pub use self::time::{Clock, SystemClock, VirtualClock};

/// Why a job (or a request to the engine) failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobError {
    /// A resource is missing or inconsistent in the configuration.
    Config(String),
    /// A daemon could not be reached or authenticated, or dropped the connection.
    Connection(String),
    /// A daemon answered something else than the protocol requires.
    Protocol(String),
    /// A daemon refused a command (its reply is quoted).
    Refused(String),
    /// The catalog failed.
    Catalog(String),
    /// An fd-core codec refused a value.
    Wire(String),
    /// The job was canceled.
    Canceled,
    /// No such job.
    NoSuchJob(u32),
}

impl fmt::Display for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JobError::Config(m) => write!(f, "configuration: {m}"),
            JobError::Connection(m) => f.write_str(m),
            JobError::Protocol(m) => write!(f, "protocol error: {m}"),
            JobError::Refused(m) => f.write_str(m),
            JobError::Catalog(m) => write!(f, "catalog: {m}"),
            JobError::Wire(m) => write!(f, "cannot encode a message: {m}"),
            JobError::Canceled => f.write_str("job canceled"),
            JobError::NoSuchJob(id) => write!(f, "no job with JobId {id}"),
        }
    }
}

impl std::error::Error for JobError {}

impl From<crate::catalog::Error> for JobError {
    fn from(e: crate::catalog::Error) -> Self {
        JobError::Catalog(e.to_string())
    }
}

/// Tunables of the engine (not in the configuration files).
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Connection deadlines.
    pub conn: ConnOptions,
    /// How many times a failed connect to the FD or SD is retried.
    pub connect_retries: u32,
    /// Pause between connect retries.
    pub retry_delay: Duration,
    /// Pause between the bootstrap and `run` in a restore (Bareos: 2 s) and between
    /// `passive client` and `run`.
    pub restore_run_delay: Duration,
    /// The version words of the report's first line (`26.0.0~pre1298.eda204c31 (21Aug26)`).
    pub version: String,
    /// The long version line (`Version: … (21 August 2026) Debian …`).
    pub version_line: String,
    /// The OS line of the report.
    pub os: String,
    /// Flush file rows to the catalog in batches of this many.
    pub attr_batch: usize,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            conn: ConnOptions::default(),
            connect_retries: 2,
            retry_delay: Duration::from_secs(5),
            restore_run_delay: Duration::from_secs(2),
            version: format!("{} (Barque)", env!("CARGO_PKG_VERSION")),
            version_line: format!("Version: {} (Barque)", env!("CARGO_PKG_VERSION")),
            os: std::env::consts::OS.to_owned(),
            attr_batch: 10_000,
        }
    }
}

/// Overrides of a `run` command (`run job=… level=… client=… …`).
#[derive(Debug, Clone, Default)]
pub struct RunOverrides {
    /// `client=`.
    pub client: Option<String>,
    /// `fileset=`.
    pub fileset: Option<String>,
    /// `storage=`.
    pub storage: Option<String>,
    /// `pool=`.
    pub pool: Option<String>,
    /// `Job triggered by:` (`User` unless the scheduler starts it).
    pub triggered_by: Option<String>,
    /// `accurate=yes|no` (default: the Job's `Accurate`).
    pub accurate: Option<bool>,
    /// `jobid=` of a Copy or Migrate job: the source backups (instead of its Selection
    /// Type).
    pub job_ids: Vec<i64>,
}

/// What to restore.
#[derive(Debug, Clone)]
pub enum RestoreSelect {
    /// The most recent backup of the client and fileset.
    Current,
    /// Everything of these jobs (newest version of each file).
    JobIds(Vec<i64>),
}

/// A restore request.
#[derive(Debug, Clone)]
pub struct RestoreRequest {
    /// The Restore Job resource (for Messages, Storage, Where defaults); the first Restore
    /// job of the configuration if `None`.
    pub job: Option<String>,
    /// The client to restore to (and whose backups are selected).
    pub client: String,
    /// Which backups.
    pub select: RestoreSelect,
    /// The FileSet whose backups are selected (for `Current`).
    pub fileset: Option<String>,
    /// Where to restore (`None`: the Job's `Where`).
    pub where_: Option<String>,
    /// Only restore files whose full name is in this list (`None`: all selected files).
    pub files: Option<Vec<String>>,
    /// `replace=` letter (`a` always).
    pub replace: u8,
}

/// Progress of a running job.
#[derive(Debug, Clone, PartialEq)]
pub struct JobProgress {
    /// JobId.
    pub job_id: u32,
    /// Unique Job name.
    pub job: String,
    /// Job resource name.
    pub name: String,
    /// Type.
    pub job_type: JobType,
    /// Level.
    pub level: JobLevel,
    /// Client.
    pub client: String,
    /// Status letter.
    pub status: JobStatus,
    /// Files seen so far (attribute records the SD forwarded).
    pub files: u64,
    /// Bytes so far (known at the end of the FD session).
    pub bytes: u64,
    /// Start time (unix), 0 while waiting.
    pub start_time: i64,
    /// Bytes per second since the start.
    pub rate: f64,
    /// The last `Status Job=… JobStatus=…` of the SD.
    pub sd_status: Option<JobStatus>,
}

/// What [`JobEngine::cancel`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Canceled {
    /// The job had not started (it waited in the queue): it is taken off, no daemon is told.
    Queued {
        /// Its unique Job name.
        job: String,
    },
    /// The job runs: its FD and SD were told, these are their replies (`2001 Job … marked
    /// to be canceled.`, `3000 JobId=… Job="…" marked to be canceled.`).
    Running(Vec<String>),
}

/// How a job ended.
#[derive(Debug, Clone, PartialEq)]
pub struct JobOutcome {
    /// JobId.
    pub job_id: u32,
    /// Unique name.
    pub job: String,
    /// Final status (`T`, `W`, `f`, `E`, `A`).
    pub status: JobStatus,
    /// Files (FD's count).
    pub files: u32,
    /// Bytes (FD's count).
    pub bytes: u64,
    /// The error that ended the job, if any.
    pub error: Option<String>,
    /// The report text (without the time prefix), if one was produced.
    pub report: Option<String>,
}

/// What `status dir` shows.
#[derive(Debug, Clone, Default)]
pub struct EngineStatus {
    /// Running (or waiting) jobs.
    pub running: Vec<JobProgress>,
    /// Finished jobs, most recent last (bounded).
    pub terminated: Vec<JobOutcome>,
}

struct RunningJob {
    progress: Mutex<JobProgress>,
    files: AtomicU64,
    cancel: watch::Sender<bool>,
    done: watch::Sender<Option<JobOutcome>>,
}

/// Everything the engine shares with its job tasks.
pub(crate) struct Inner {
    config: RwLock<Arc<Config>>,
    catalog: Arc<Mutex<Catalog>>,
    local: Local,
    opts: EngineOptions,
    clock: Arc<dyn Clock>,
    probe: ProbeCache,
    jobs: Mutex<HashMap<u32, Arc<RunningJob>>>,
    terminated: Mutex<Vec<JobOutcome>>,
    /// The last progress of each terminated job and when it ended (for `status dir`),
    /// bounded like `terminated`.
    ended: Mutex<Vec<(JobProgress, i64)>>,
    slots: Arc<Semaphore>,
    /// Per-resource limits: ("Client"|"Storage", name) → semaphore.
    resource_slots: Mutex<HashMap<(&'static str, String), Arc<Semaphore>>>,
    console: Arc<ConsoleQueue>,
    media_times: sd::MediaTimes,
    seq: AtomicU32,
    /// Client-initiated connections waiting for a job.
    pool: Arc<pool::ClientPool>,
}

/// The Director's job engine (see the module docs). Cheap to clone.
#[derive(Clone)]
pub struct JobEngine {
    pub(crate) inner: Arc<Inner>,
}

/// Max terminated jobs kept for `status`.
const TERMINATED_MAX: usize = 100;

impl JobEngine {
    /// An engine for a loaded Director configuration and an open catalog.
    pub fn new(
        config: Arc<Config>,
        catalog: Catalog,
        clock: Arc<dyn Clock>,
        opts: EngineOptions,
    ) -> Result<Self, JobError> {
        let dir = config
            .dir_director()
            .ok_or_else(|| JobError::Config("no Director resource".into()))?;
        let local = Local::new(
            fd_core::wire::psk::ResourceType::Director,
            dir.name.clone(),
            dir.tls.clone(),
        );
        let max = usize::try_from(dir.maximum_concurrent_jobs.max(1)).unwrap_or(1);
        Ok(Self {
            inner: Arc::new(Inner {
                config: RwLock::new(config),
                catalog: Arc::new(Mutex::new(catalog)),
                local,
                opts,
                clock,
                probe: ProbeCache::new(),
                jobs: Mutex::new(HashMap::new()),
                terminated: Mutex::new(Vec::new()),
                ended: Mutex::new(Vec::new()),
                slots: Arc::new(Semaphore::new(max)),
                resource_slots: Mutex::new(HashMap::new()),
                console: Arc::new(ConsoleQueue::default()),
                media_times: Arc::new(Mutex::new(HashMap::new())),
                seq: AtomicU32::new(0),
                pool: pool::ClientPool::new(),
            }),
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> Arc<Config> {
        self.inner
            .config
            .read()
            .map(|c| Arc::clone(&c))
            .unwrap_or_else(|p| Arc::clone(&p.into_inner()))
    }

    /// Install a reloaded configuration; forgets every client's handshake mode
    /// (`ResetAllClientConnectionHandshakeModes`). Running jobs keep their resources.
    pub fn reload(&self, config: Arc<Config>) {
        if let Ok(mut c) = self.inner.config.write() {
            *c = config;
        }
        self.inner.probe.reset();
    }

    /// The handshake-mode cache (for tests and `status`).
    pub fn probe_cache(&self) -> &ProbeCache {
        &self.inner.probe
    }

    /// The client-initiated connections waiting for jobs (the console server parks them
    /// here, `status dir` lists them, `JobEngine::connect_fd` takes them).
    pub fn client_pool(&self) -> Arc<pool::ClientPool> {
        Arc::clone(&self.inner.pool)
    }

    /// The catalog, shared with the console.
    pub fn catalog(&self) -> Arc<Mutex<Catalog>> {
        Arc::clone(&self.inner.catalog)
    }

    /// The console message queue.
    pub fn console(&self) -> Arc<ConsoleQueue> {
        Arc::clone(&self.inner.console)
    }

    /// The clock.
    pub fn clock(&self) -> Arc<dyn Clock> {
        Arc::clone(&self.inner.clock)
    }

    /// Start a backup job (`run job=… level=… yes`); returns its JobId at once. `level`
    /// overrides the Job's Level.
    pub async fn run(
        &self,
        job: &str,
        level: Option<JobLevel>,
        overrides: RunOverrides,
    ) -> Result<u32, JobError> {
        let plan = Plan::resolve(&self.config(), job, &overrides)?;
        let level = level.unwrap_or(plan.level);
        match plan.job_type {
            JobType::Backup => {}
            JobType::Verify => return self.run_verify(plan).await,
            JobType::Copy | JobType::Migrate => return copy::start(self, plan, overrides).await,
            other => {
                return Err(JobError::Config(format!(
                    "Job \"{job}\" has type {:?}; use restore/estimate for those",
                    other
                )))
            }
        }
        let (job_id, running, ctx) = self
            .register(
                &plan.job.name,
                JobType::Backup,
                level,
                &plan.client.name,
                &plan,
            )
            .await?;
        let engine = self.clone();
        tokio::spawn(async move {
            let mut attempt = 0u32;
            let outcome = loop {
                let outcome = {
                    let _permits = engine.acquire_slots(&plan).await;
                    backup::run_backup(&engine, &ctx, &plan, level, &overrides).await
                };
                let failed = matches!(
                    outcome.status,
                    JobStatus::FatalError | JobStatus::ErrorTerminated
                );
                let r = &plan.reschedule;
                if !failed || !r.on_error || attempt >= r.times || ctx.is_canceled() {
                    break outcome;
                }
                // `Reschedule On Error` (`core/src/dird/jobq.cc` `RescheduleJob()`): the
                // same JobId runs again after the interval.
                attempt += 1;
                let secs = r.interval.as_secs();
                ctx.msg(&format!(
                    "Rescheduled Job {} at {} to re-run in {secs} seconds (JobId={job_id}).",
                    ctx.job,
                    time::report_time(ctx.now())
                ))
                .await;
                ctx.set_status(JobStatus::WaitStartTime);
                let mut cancel = ctx.cancel_rx();
                tokio::select! {
                    _ = tokio::time::sleep(r.interval) => {}
                    _ = cancel.wait_for(|c| *c) => {}
                }
            };
            engine.finish(job_id, &running, outcome);
        });
        Ok(job_id)
    }

    /// Start a Verify job (Level = DiskToCatalog); returns its JobId at once.
    async fn run_verify(&self, plan: Plan) -> Result<u32, JobError> {
        let level_name = plan.job.level.clone().unwrap_or_default();
        let Some(level) = verify::verify_level(&level_name) else {
            return Err(JobError::Config(format!(
                "Verify Job \"{}\": Level \"{level_name}\" is not supported by Barque \
                 (DiskToCatalog only)",
                plan.job.name
            )));
        };
        let (job_id, running, ctx) = self
            .register(
                &plan.job.name,
                JobType::Verify,
                level,
                &plan.client.name,
                &plan,
            )
            .await?;
        let engine = self.clone();
        tokio::spawn(async move {
            let outcome = {
                let _permits = engine.acquire_slots(&plan).await;
                verify::run_verify(&engine, &ctx, &plan).await
            };
            engine.finish(job_id, &running, outcome);
        });
        Ok(job_id)
    }

    /// Start a restore; returns its JobId at once.
    pub async fn restore(&self, req: RestoreRequest) -> Result<u32, JobError> {
        let cfg = self.config();
        let job_name = match &req.job {
            Some(j) => j.clone(),
            None => cfg
                .dir_jobs()
                .into_iter()
                .find(|j| j.job_type.eq_ignore_ascii_case("Restore"))
                .map(|j| j.name)
                .ok_or_else(|| JobError::Config("no Restore job defined".into()))?,
        };
        let overrides = RunOverrides {
            client: Some(req.client.clone()),
            fileset: req.fileset.clone(),
            ..Default::default()
        };
        let plan = Plan::resolve(&cfg, &job_name, &overrides)?;
        let (job_id, running, ctx) = self
            .register(
                &plan.job.name,
                JobType::Restore,
                JobLevel::Full,
                &plan.client.name,
                &plan,
            )
            .await?;
        let engine = self.clone();
        tokio::spawn(async move {
            let _permits = engine.acquire_slots(&plan).await;
            let outcome = restore::run_restore(&engine, &ctx, &plan, &req).await;
            engine.finish(job_id, &running, outcome);
        });
        Ok(job_id)
    }

    /// `estimate job=… [listing]`: ask the FD what a backup would save. Returns
    /// (files, bytes, listing lines). Runs in the caller's task; no JobId is used.
    pub async fn estimate(
        &self,
        job: &str,
        level: Option<JobLevel>,
        listing: bool,
    ) -> Result<estimate::Estimate, JobError> {
        let plan = Plan::resolve(&self.config(), job, &RunOverrides::default())?;
        estimate::run_estimate(self, &plan, level.unwrap_or(plan.level), listing).await
    }

    /// Cancel a job: flag it and send `cancel Job=…` on fresh connections to its FD and SD
    /// (vectors/clear-cancel conns 5–8). Returns the replies of the daemons.
    pub async fn cancel(&self, job_id: u32) -> Result<Canceled, JobError> {
        let running = self
            .inner
            .jobs
            .lock()
            .ok()
            .and_then(|j| j.get(&job_id).cloned())
            .ok_or(JobError::NoSuchJob(job_id))?;
        let (job, name, client, status) = running
            .progress
            .lock()
            .map(|p| (p.job.clone(), p.name.clone(), p.client.clone(), p.status))
            .map_err(|_| JobError::NoSuchJob(job_id))?;
        running.cancel.send_replace(true);
        if status.is_queued() {
            return Ok(Canceled::Queued { job });
        }
        backup::cancel_on_daemons(self, &job, &name, &client)
            .await
            .map(Canceled::Running)
    }

    /// Wait until the job ends; `None` if there is no such job (running or recently ended).
    pub async fn wait(&self, job_id: u32) -> Option<JobOutcome> {
        let rx = {
            let jobs = self.inner.jobs.lock().ok()?;
            jobs.get(&job_id).map(|r| r.done.subscribe())
        };
        if let Some(mut rx) = rx {
            loop {
                if let Some(o) = rx.borrow().clone() {
                    return Some(o);
                }
                if rx.changed().await.is_err() {
                    break;
                }
            }
        }
        self.inner
            .terminated
            .lock()
            .ok()?
            .iter()
            .rev()
            .find(|o| o.job_id == job_id)
            .cloned()
    }

    /// Terminated jobs (most recent last, bounded) with their type, level and names, and
    /// when they ended.
    pub fn ended(&self) -> Vec<(JobProgress, i64)> {
        self.inner
            .ended
            .lock()
            .map(|e| e.clone())
            .unwrap_or_default()
    }

    /// Running and recently terminated jobs.
    pub fn status(&self) -> EngineStatus {
        let now = self.inner.clock.now();
        let mut running: Vec<JobProgress> = self
            .inner
            .jobs
            .lock()
            .map(|j| {
                j.values()
                    .filter_map(|r| {
                        let mut p = r.progress.lock().ok()?.clone();
                        p.files = r.files.load(Ordering::Relaxed);
                        let el = now - p.start_time;
                        p.rate = if p.start_time > 0 && el > 0 {
                            p.bytes as f64 / el as f64
                        } else {
                            0.0
                        };
                        Some(p)
                    })
                    .collect()
            })
            .unwrap_or_default();
        running.sort_by_key(|p| p.job_id);
        EngineStatus {
            running,
            terminated: self
                .inner
                .terminated
                .lock()
                .map(|t| t.clone())
                .unwrap_or_default(),
        }
    }

    /// Wait for a slot under every `Maximum Concurrent Jobs` that applies: the Director's,
    /// the Job's, the Client's, the Storage's (always in this order, so two jobs never wait on each
    /// other). A resource's limit is read when it is first used.
    async fn acquire_slots(&self, plan: &Plan) -> Vec<tokio::sync::OwnedSemaphorePermit> {
        let mut permits = Vec::new();
        if let Ok(p) = Arc::clone(&self.inner.slots).acquire_owned().await {
            permits.push(p);
        }
        let mut keyed = vec![
            ("Job", plan.job.name.clone(), plan.job_max_concurrent),
            (
                "Client",
                plan.client.name.clone(),
                plan.client.maximum_concurrent_jobs,
            ),
        ];
        if let Some(st) = &plan.storage {
            keyed.push(("Storage", st.name.clone(), st.maximum_concurrent_jobs));
        }
        for (kind, name, max) in keyed {
            let sem = {
                let Ok(mut m) = self.inner.resource_slots.lock() else {
                    continue;
                };
                Arc::clone(m.entry((kind, name)).or_insert_with(|| {
                    Arc::new(Semaphore::new(usize::try_from(max.max(1)).unwrap_or(1)))
                }))
            };
            if let Ok(p) = sem.acquire_owned().await {
                permits.push(p);
            }
        }
        permits
    }

    /// The unique Job name Bareos forms: `«name».«YYYY-MM-DD_HH.MM.SS»_«seq»`.
    fn unique_name(&self, name: &str, now: i64) -> String {
        let seq = self.inner.seq.fetch_add(1, Ordering::SeqCst) % 100;
        // `CreateUniqueJobName()`: spaces in the resource name become underscores.
        format!(
            "{}.{}_{seq:02}",
            name.replace(' ', "_"),
            time::job_name_time(now)
        )
    }

    /// A context for a console session without a JobId (estimate): messages go to the
    /// console only, nothing is registered.
    pub(crate) fn console_ctx(&self, job: &str) -> JobCtx {
        let (cancel, _) = watch::channel(false);
        let (done, _) = watch::channel(None);
        let running = Arc::new(RunningJob {
            progress: Mutex::new(JobProgress {
                job_id: 0,
                job: job.to_owned(),
                name: job.to_owned(),
                job_type: JobType::Console,
                level: JobLevel::None,
                client: String::new(),
                status: JobStatus::Running,
                files: 0,
                bytes: 0,
                start_time: 0,
                rate: 0.0,
                sd_status: None,
            }),
            files: AtomicU64::new(0),
            cancel,
            done,
        });
        JobCtx {
            job_id: 0,
            job: job.to_owned(),
            sched_time: self.inner.clock.now(),
            start: Arc::new(AtomicU64::new(0)),
            running,
            clock: Arc::clone(&self.inner.clock),
            catalog: Arc::clone(&self.inner.catalog),
            dispatcher: messages::Dispatcher {
                resource: None,
                console: Arc::clone(&self.inner.console),
                catalog: Arc::clone(&self.inner.catalog),
                log: Arc::new(Mutex::new(Vec::new())),
            },
            director: self.inner.local.name.clone(),
        }
    }

    async fn register(
        &self,
        name: &str,
        job_type: JobType,
        level: JobLevel,
        client: &str,
        plan: &Plan,
    ) -> Result<(u32, Arc<RunningJob>, JobCtx), JobError> {
        let now = self.inner.clock.now();
        let unique = self.unique_name(name, now);
        let (u2, n2) = (unique.clone(), name.to_owned());
        let id = cat(&self.inner.catalog, move |c| {
            c.create_job(&crate::catalog::NewJob {
                job: &u2,
                name: &n2,
                job_type,
                level,
                sched_time: now,
            })
        })
        .await?;
        let job_id = u32::try_from(id).map_err(|_| JobError::Catalog("JobId too large".into()))?;
        let (cancel, _) = watch::channel(false);
        let (done, _) = watch::channel(None);
        let running = Arc::new(RunningJob {
            progress: Mutex::new(JobProgress {
                job_id,
                job: unique.clone(),
                name: name.to_owned(),
                job_type,
                level,
                client: client.to_owned(),
                status: JobStatus::Created,
                files: 0,
                bytes: 0,
                start_time: 0,
                rate: 0.0,
                sd_status: None,
            }),
            files: AtomicU64::new(0),
            cancel,
            done,
        });
        if let Ok(mut j) = self.inner.jobs.lock() {
            j.insert(job_id, Arc::clone(&running));
        }
        let ctx = JobCtx {
            job_id,
            job: unique,
            sched_time: now,
            start: Arc::new(AtomicU64::new(0)),
            running: Arc::clone(&running),
            clock: Arc::clone(&self.inner.clock),
            catalog: Arc::clone(&self.inner.catalog),
            dispatcher: messages::Dispatcher {
                resource: plan.messages.clone(),
                console: Arc::clone(&self.inner.console),
                catalog: Arc::clone(&self.inner.catalog),
                log: Arc::new(Mutex::new(Vec::new())),
            },
            director: self.inner.local.name.clone(),
        };
        Ok((job_id, running, ctx))
    }

    fn finish(&self, job_id: u32, running: &Arc<RunningJob>, outcome: JobOutcome) {
        if let Ok(mut t) = self.inner.terminated.lock() {
            if t.len() >= TERMINATED_MAX {
                t.remove(0);
            }
            t.push(outcome.clone());
        }
        if let (Ok(mut e), Ok(p)) = (self.inner.ended.lock(), running.progress.lock()) {
            if e.len() >= TERMINATED_MAX {
                e.remove(0);
            }
            let mut p = p.clone();
            p.status = outcome.status;
            p.files = u64::from(outcome.files);
            p.bytes = outcome.bytes;
            e.push((p, self.inner.clock.now()));
        }
        if let Ok(mut j) = self.inner.jobs.lock() {
            j.remove(&job_id);
        }
        running.done.send_replace(Some(outcome));
    }

    /// Connect to a Storage daemon's control port (with retries) and read `3000 OK Hello`.
    pub(crate) async fn connect_sd(&self, st: &DirStorage) -> Result<sd::SdChannel, JobError> {
        let peer = Peer {
            kind: fd_core::wire::psk::ResourceType::Storage,
            name: st.name.clone(),
            key: Key::raw(st.password.md5_hex().into_bytes()),
            address: st.address.clone(),
            port: st.port,
            tls: st.tls.clone(),
        };
        let mut last = None;
        for attempt in 0..=self.inner.opts.connect_retries {
            if attempt > 0 {
                tokio::time::sleep(self.inner.opts.retry_delay).await;
            }
            match connect(
                &self.inner.local,
                &peer,
                &Outbound::DirectorToSd,
                HandshakeMode::for_peer(&peer),
                &self.inner.opts.conn,
            )
            .await
            {
                Ok(conn) => {
                    let mut ch = sd::SdChannel {
                        conn,
                        storage: st.name.clone(),
                    };
                    let hello = ch.conn.recv().await.map_err(|e| sd::sd_err(&st.name, e))?;
                    return match hello {
                        fd_core::wire::bnet::Frame::Data(b) if b == b"3000 OK Hello\n" => Ok(ch),
                        fd_core::wire::bnet::Frame::Data(b) => Err(JobError::Refused(format!(
                            "Storage daemon \"{}\" rejected Hello: {}",
                            st.name,
                            String::from_utf8_lossy(b).trim_end()
                        ))),
                        _ => Err(JobError::Protocol(format!(
                            "Storage daemon \"{}\" sent a signal instead of its Hello",
                            st.name
                        ))),
                    };
                }
                Err(e) => last = Some(sd::sd_err(&st.name, e)),
            }
        }
        Err(last.unwrap_or_else(|| JobError::Connection("no connection attempt".into())))
    }

    /// Reach a client for a job: [`JobEngine::connect_fd_within`] with the Director's `FD
    /// Connect Timeout` as the wait for a client-initiated connection.
    pub(crate) async fn connect_fd(
        &self,
        client: &DirClient,
    ) -> Result<(fd::FdChannel, bool), JobError> {
        let wait = self
            .config()
            .dir_director()
            .map_or(Duration::from_secs(180), |d| {
                d.fd_connect_timeout.as_duration()
            });
        self.connect_fd_within(client, wait).await
    }

    /// Reach a client (`core/src/dird/fd_cmds.cc` `ConnectToFileDaemon`, job.cc
    /// `UseWaitingClient`; connect.md §5.3), in three steps:
    ///
    /// 1. a client-initiated connection waiting in the [`pool`] (taken without a new hello);
    /// 2. else, if the Client allows `Connection From Director To Client` (the default),
    ///    connect with handshake probing and retries and read `2000 OK Hello`;
    /// 3. else, or if that failed and the Client has `Connection From Client To Director`,
    ///    wait up to `wait` for the client to connect; then the job fails saying so.
    ///
    /// Returns the channel and whether this attempt probed the protocol.
    pub(crate) async fn connect_fd_within(
        &self,
        client: &DirClient,
        wait: Duration,
    ) -> Result<(fd::FdChannel, bool), JobError> {
        let pool = &self.inner.pool;
        // `SetConnectionHandshakeMode`: the first connection to a client after a (re)load says
        // "Probing client protocol..." whichever way it is reached (vectors/clear-client-
        // initiated bconsole-output-backup.txt), and the mode is then kept.
        let taken = |conn| {
            let probed = self.inner.probe.get(&client.name).is_none();
            if probed {
                let mode = HandshakeMode::for_peer(&client_peer(client));
                self.inner.probe.remember(&client.name, mode);
            }
            (fd::FdChannel::client_initiated(conn, &client.name), probed)
        };
        if let Some((_, conn)) = pool.take(&client.name, Duration::ZERO).await {
            return Ok(taken(conn));
        }
        let mut last = None;
        if client.connection_from_director_to_client {
            match self.dial_fd(client).await {
                Ok(r) => return Ok(r),
                Err(e) if client.connection_from_client_to_director => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        if !client.connection_from_client_to_director {
            return Err(JobError::Config(format!(
                "Client \"{}\" has Connection From Director To Client = no and Connection From \
                 Client To Director = no: the Director can never reach it; enable one of them",
                client.name
            )));
        }
        if let Some(e) = &last {
            log::info!(
                "{e}; waiting up to {} s for client {} to connect (Connection From Client To \
                 Director)",
                wait.as_secs(),
                client.name
            );
        }
        if let Some((_, conn)) = pool.take(&client.name, wait).await {
            return Ok(taken(conn));
        }
        let tried = match &last {
            Some(e) => format!("connecting to it failed ({e}) and "),
            None => "the Director does not dial it (Connection From Director To Client = no) \
                     and "
                .to_string(),
        };
        Err(JobError::Connection(format!(
            "Client \"{}\": {tried}no client-initiated connection arrived within {} s; check \
             that its File daemon runs with Connection From Client To Director = yes in its \
             Director resource \"{}\" and can reach this Director's address and port",
            client.name,
            wait.as_secs(),
            self.inner.local.name
        )))
    }

    /// Step 2 of [`JobEngine::connect_fd_within`]: dial the client with handshake probing
    /// (and retries), read `2000 OK Hello`.
    async fn dial_fd(&self, client: &DirClient) -> Result<(fd::FdChannel, bool), JobError> {
        let peer = client_peer(client);
        let mut opts = self.inner.opts.conn.clone();
        // Bareos' `get_heartbeat_interval` (dird/fd_cmds.cc): the Client's, else the
        // Director's own.
        let mut hb = client.heartbeat_interval.as_duration();
        if hb.is_zero() {
            if let Some(d) = self.config().dir_director() {
                hb = d.heartbeat_interval.as_duration();
            }
        }
        if !hb.is_zero() {
            opts.heartbeat = Some(hb);
        }
        let mut last = None;
        for attempt in 0..=self.inner.opts.connect_retries {
            if attempt > 0 {
                tokio::time::sleep(self.inner.opts.retry_delay).await;
            }
            match connect_probing(&self.inner.probe, &self.inner.local, &peer, &opts).await {
                Ok((conn, probed)) => {
                    let mut ch = fd::FdChannel {
                        conn,
                        client: client.name.clone(),
                        client_initiated: false,
                    };
                    let hello = ch
                        .conn
                        .recv()
                        .await
                        .map_err(|e| fd::fd_err(&client.name, e))?;
                    return match hello {
                        fd_core::wire::bnet::Frame::Data(b) if b.starts_with(b"2000 OK Hello") => {
                            Ok((ch, probed.probed))
                        }
                        fd_core::wire::bnet::Frame::Data(b) => Err(JobError::Refused(format!(
                            "Client \"{}\" rejected Hello: {}",
                            client.name,
                            String::from_utf8_lossy(b).trim_end()
                        ))),
                        _ => Err(JobError::Protocol(format!(
                            "Client \"{}\" sent a signal instead of its Hello",
                            client.name
                        ))),
                    };
                }
                Err(e) => last = Some(fd::fd_err(&client.name, e)),
            }
        }
        Err(last.unwrap_or_else(|| JobError::Connection("no connection attempt".into())))
    }
}

pub(crate) fn client_peer(client: &DirClient) -> Peer {
    Peer {
        kind: fd_core::wire::psk::ResourceType::Client,
        name: client.name.clone(),
        key: Key::raw(client.password.md5_hex().into_bytes()),
        address: client.address.clone(),
        port: client.port,
        tls: client.tls.clone(),
    }
}

/// Run a blocking catalog operation off the async workers.
pub(crate) async fn cat<R, F>(c: &Arc<Mutex<Catalog>>, f: F) -> Result<R, JobError>
where
    R: Send + 'static,
    F: FnOnce(&mut Catalog) -> Result<R, crate::catalog::Error> + Send + 'static,
{
    let c = Arc::clone(c);
    tokio::task::spawn_blocking(move || {
        let mut g = c
            .lock()
            .map_err(|_| JobError::Catalog("catalog lock poisoned".into()))?;
        f(&mut g).map_err(JobError::from)
    })
    .await
    .map_err(|e| JobError::Catalog(format!("catalog task failed: {e}")))?
}

/// One running job's context: its ids, message routing and progress counters.
#[derive(Clone)]
pub struct JobCtx {
    /// JobId.
    pub job_id: u32,
    /// Unique Job name.
    pub job: String,
    /// When the job was created.
    pub sched_time: i64,
    start: Arc<AtomicU64>,
    running: Arc<RunningJob>,
    clock: Arc<dyn Clock>,
    catalog: Arc<Mutex<Catalog>>,
    dispatcher: messages::Dispatcher,
    director: String,
}

impl JobCtx {
    /// A Director message of this job (`bareos-dir JobId N: text`), type Info.
    pub async fn msg(&self, text: &str) {
        self.msg_typed(MessageType::Info, text).await;
    }

    /// A Director message of a given type.
    pub async fn msg_typed(&self, t: MessageType, text: &str) {
        let full = format!("{} JobId {}: {text}\n", self.director, self.job_id);
        self.msg_raw(self.clock.now(), t, full).await;
    }

    /// A message whose text already carries its `daemon JobId N: ` prefix (from a Jmsg).
    pub async fn msg_raw(&self, time: i64, t: MessageType, text: String) {
        let d = self.dispatcher.clone();
        let id = self.job_id;
        let _ = tokio::task::spawn_blocking(move || d.dispatch(id, time, t, &text)).await;
    }

    /// Every message of this job so far.
    pub fn messages(&self) -> Vec<JobMessage> {
        self.dispatcher
            .log
            .lock()
            .map(|l| l.clone())
            .unwrap_or_default()
    }

    /// Run a catalog operation.
    pub async fn cat<R, F>(&self, f: F) -> Result<R, JobError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Catalog) -> Result<R, crate::catalog::Error> + Send + 'static,
    {
        cat(&self.catalog, f).await
    }

    /// Now.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// The job's start time (0 before it started).
    pub fn start_time(&self) -> i64 {
        i64::try_from(self.start.load(Ordering::SeqCst)).unwrap_or(0)
    }

    pub(crate) fn set_started(&self, t: i64) {
        self.start
            .store(u64::try_from(t).unwrap_or(0), Ordering::SeqCst);
        if let Ok(mut p) = self.running.progress.lock() {
            p.start_time = t;
            p.status = JobStatus::Running;
        }
    }

    pub(crate) fn set_status(&self, s: JobStatus) {
        if let Ok(mut p) = self.running.progress.lock() {
            p.status = s;
        }
    }

    pub(crate) fn set_level(&self, l: JobLevel) {
        if let Ok(mut p) = self.running.progress.lock() {
            p.level = l;
        }
    }

    pub(crate) fn set_bytes(&self, b: u64) {
        if let Ok(mut p) = self.running.progress.lock() {
            p.bytes = b;
        }
    }

    pub(crate) fn set_sd_status(&self, s: JobStatus) {
        if let Ok(mut p) = self.running.progress.lock() {
            p.sd_status = Some(s);
        }
    }

    pub(crate) fn add_file(&self) {
        self.running.files.fetch_add(1, Ordering::Relaxed);
    }

    /// A receiver that turns true when the job is canceled.
    pub fn cancel_rx(&self) -> watch::Receiver<bool> {
        self.running.cancel.subscribe()
    }

    /// True once canceled.
    pub fn is_canceled(&self) -> bool {
        *self.running.cancel.borrow()
    }
}

/// The resources a job uses, resolved from the configuration at start.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The Director.
    pub director: DirDirector,
    /// The Job.
    pub job: DirJob,
    /// Type.
    pub job_type: JobType,
    /// The Job's level.
    pub level: JobLevel,
    /// Client.
    pub client: DirClient,
    /// FileSet (backups, estimates).
    pub fileset: Option<DirFileSet>,
    /// Storage.
    pub storage: Option<DirStorage>,
    /// Pool (backups).
    pub pool: Option<PoolSpec>,
    /// Messages.
    pub messages: Option<Messages>,
    /// Catalog resource name.
    pub catalog: String,
    /// The Job's `Maximum Concurrent Jobs` (default 1).
    pub job_max_concurrent: u32,
    /// The Job's `Reschedule On Error` settings.
    pub reschedule: Reschedule,
    /// The SD address the FD dials (`Lan Address` rule, [`data_addresses`]).
    pub sd_data_address: String,
    /// The FD address a passive client's SD dials.
    pub fd_data_address: String,
}

/// The addresses of the FD↔SD data channel: (the SD's address the FD dials, the FD's address a
/// passive client's SD dials). Bareos' `Lan Address` rule: when both the Client and the
/// Storage resource set `Lan Address`, both sides use the LAN addresses (the daemons share a
/// LAN behind NAT while the Director reaches them from outside); otherwise `Address`.
pub fn data_addresses(cfg: &Config, client: &DirClient, storage: &DirStorage) -> (String, String) {
    let lan = |kind: &str, name: &str| {
        cfg.resource(kind, name)
            .and_then(|r| r.get("LanAddress"))
            .and_then(|v| v.as_str().map(str::to_owned))
            .filter(|s| !s.is_empty())
    };
    match (lan("Client", &client.name), lan("Storage", &storage.name)) {
        (Some(c), Some(s)) => (s, c),
        _ => (storage.address.clone(), client.address.clone()),
    }
}

/// `Reschedule On Error`, `Reschedule Interval`, `Reschedule Times` of a Job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reschedule {
    /// Rerun a failed job.
    pub on_error: bool,
    /// After this pause (default 30 min).
    pub interval: Duration,
    /// At most this many times (default 5).
    pub times: u32,
}

/// A Job directive through its JobDefs chain, else the schema default.
fn job_directive(
    cfg: &Config,
    job: &str,
    name: &str,
) -> Option<barque_common::config::value::Value> {
    let r = cfg.resource("Job", job)?;
    cfg.job_value(r, name).or_else(|| r.get_or_default(name))
}

/// A level name from the configuration (`Full`, `Incremental`…).
pub fn level_from_name(s: &str) -> Option<JobLevel> {
    match s.to_ascii_lowercase().as_str() {
        "full" => Some(JobLevel::Full),
        "incremental" => Some(JobLevel::Incremental),
        "differential" => Some(JobLevel::Differential),
        "base" => Some(JobLevel::Base),
        "virtualfull" => Some(JobLevel::VirtualFull),
        _ => None,
    }
}

/// The report's spelling of a level.
pub fn level_name(l: JobLevel) -> &'static str {
    match l {
        JobLevel::Full => "Full",
        JobLevel::Incremental => "Incremental",
        JobLevel::Differential => "Differential",
        JobLevel::Base => "Base",
        JobLevel::VirtualFull => "Virtual Full",
        _ => "Full",
    }
}

pub(crate) fn pool_spec(cfg: &Config, name: &str) -> Option<PoolSpec> {
    let r = cfg.resource("Pool", name)?;
    let int = |n: &str| r.get_or_default(n).and_then(|v| v.as_int()).unwrap_or(0);
    let secs = |n: &str, d: i64| {
        r.get_or_default(n)
            .and_then(|v| v.as_duration())
            .map(|s| i64::try_from(s.0).unwrap_or(i64::MAX))
            .unwrap_or(d)
    };
    let boolean = |n: &str, d: bool| r.get_or_default(n).and_then(|v| v.as_bool()).unwrap_or(d);
    let s = |n: &str| {
        r.get(n)
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    };
    let mut p = PoolSpec::backup(name, &s("LabelFormat"));
    let pt = s("PoolType");
    if !pt.is_empty() {
        p.pool_type = PoolType::parse(&pt);
    }
    p.max_vols = int("MaximumVolumes");
    p.max_vol_jobs = int("MaximumVolumeJobs");
    p.max_vol_files = int("MaximumVolumeFiles");
    p.max_vol_bytes = r
        .get_or_default("MaximumVolumeBytes")
        .and_then(|v| v.as_size())
        .and_then(|v| i64::try_from(v).ok())
        .unwrap_or(0);
    p.vol_retention = secs("VolumeRetention", 365 * 86_400);
    p.vol_use_duration = secs("VolumeUseDuration", 0);
    p.recycle = boolean("Recycle", true);
    p.auto_prune = boolean("AutoPrune", true);
    Some(p)
}

impl Plan {
    /// Resolve a Job and its referenced resources, with run overrides applied.
    pub fn resolve(cfg: &Config, job: &str, o: &RunOverrides) -> Result<Plan, JobError> {
        let director = cfg
            .dir_director()
            .ok_or_else(|| JobError::Config("no Director resource".into()))?;
        let j = cfg
            .dir_jobs()
            .into_iter()
            .find(|j| j.name == job)
            .ok_or_else(|| JobError::Config(format!("Job \"{job}\" not found")))?;
        let job_type = match j.job_type.to_ascii_lowercase().as_str() {
            "backup" => JobType::Backup,
            "restore" => JobType::Restore,
            "verify" => JobType::Verify,
            "admin" => JobType::Admin,
            "copy" => JobType::Copy,
            "migrate" => JobType::Migrate,
            _ => JobType::Backup,
        };
        let level = j
            .level
            .as_deref()
            .and_then(level_from_name)
            .unwrap_or(JobLevel::Full);
        let cname = o
            .client
            .clone()
            .or_else(|| j.client.clone())
            .ok_or_else(|| JobError::Config(format!("Job \"{job}\" has no Client")))?;
        let client = cfg
            .dir_clients()
            .into_iter()
            .find(|c| c.name == cname)
            .ok_or_else(|| JobError::Config(format!("Client \"{cname}\" not found")))?;
        let fileset = match o.fileset.clone().or_else(|| j.fileset.clone()) {
            Some(f) => Some(
                cfg.dir_filesets()
                    .into_iter()
                    .find(|x| x.name == f)
                    .ok_or_else(|| JobError::Config(format!("FileSet \"{f}\" not found")))?,
            ),
            None => None,
        };
        let storage = match o.storage.clone().or_else(|| j.storage.first().cloned()) {
            Some(s) => Some(
                cfg.dir_storages()
                    .into_iter()
                    .find(|x| x.name == s)
                    .ok_or_else(|| JobError::Config(format!("Storage \"{s}\" not found")))?,
            ),
            None => None,
        };
        let pool = match o.pool.clone().or_else(|| j.pool.clone()) {
            Some(p) => Some(
                pool_spec(cfg, &p)
                    .ok_or_else(|| JobError::Config(format!("Pool \"{p}\" not found")))?,
            ),
            None => None,
        };
        let messages = j
            .messages
            .as_ref()
            .and_then(|m| cfg.messages().into_iter().find(|x| &x.name == m));
        let catalog = client
            .catalog
            .clone()
            .or_else(|| cfg.resources("Catalog").next().map(|r| r.name.clone()))
            .unwrap_or_else(|| "MyCatalog".into());
        let (sd_data_address, fd_data_address) = match &storage {
            Some(st) => data_addresses(cfg, &client, st),
            None => (String::new(), client.address.clone()),
        };
        let job_max_concurrent = job_directive(cfg, &j.name, "MaximumConcurrentJobs")
            .and_then(|v| v.as_int())
            .and_then(|v| u32::try_from(v).ok())
            .unwrap_or(1);
        let reschedule = Reschedule {
            on_error: job_directive(cfg, &j.name, "RescheduleOnError")
                .and_then(|v| v.as_bool())
                .unwrap_or(false),
            interval: job_directive(cfg, &j.name, "RescheduleInterval")
                .and_then(|v| v.as_duration())
                .map_or(Duration::from_secs(1800), |s| s.as_duration()),
            times: job_directive(cfg, &j.name, "RescheduleTimes")
                .and_then(|v| v.as_int())
                .and_then(|v| u32::try_from(v).ok())
                .unwrap_or(5),
        };
        Ok(Plan {
            job_max_concurrent,
            reschedule,
            sd_data_address,
            fd_data_address,
            director,
            job: j,
            job_type,
            level,
            client,
            fileset,
            storage,
            pool,
            messages,
            catalog,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use barque_common::config::{check_str, Daemon};

    fn cfg(client_lan: &str, storage_lan: &str) -> Config {
        let text = format!(
            "Director {{ Name = d; Password = p }}\n\
             Client {{ Name = c; Address = fd.example.org; Password = p; {client_lan} }}\n\
             Storage {{ Name = s; Address = sd.example.org; Password = p; Device = d; \
             Media Type = f; {storage_lan} }}\n\
             Pool {{ Name = p; Pool Type = Backup; Label Format = \"P-\"; \
             Maximum Volume Jobs = 1 }}\n\
             FileSet {{ Name = fs; Include {{ File = /x }} }}\n\
             Messages {{ Name = m; console = all }}\n\
             Catalog {{ Name = cat; DbName = x; DbUser = u }}\n\
             Job {{ Name = J; Type = Backup; Client = c; FileSet = fs; Storage = s; Pool = p; \
             Messages = m }}\n"
        );
        let r = check_str("t.conf", text.as_bytes(), Daemon::Director);
        assert!(r.is_ok(), "{r}");
        r.config
    }

    #[test]
    fn lan_addresses_only_when_both_are_set() {
        let p = Plan::resolve(&cfg("", ""), "J", &RunOverrides::default()).unwrap();
        assert_eq!(
            (p.sd_data_address.as_str(), p.fd_data_address.as_str()),
            ("sd.example.org", "fd.example.org")
        );
        let c = cfg("Lan Address = 10.0.0.10", "");
        let p = Plan::resolve(&c, "J", &RunOverrides::default()).unwrap();
        assert_eq!(p.sd_data_address, "sd.example.org");
        let c = cfg("Lan Address = 10.0.0.10", "Lan Address = 10.0.0.20");
        let p = Plan::resolve(&c, "J", &RunOverrides::default()).unwrap();
        assert_eq!(
            (p.sd_data_address.as_str(), p.fd_data_address.as_str()),
            ("10.0.0.20", "10.0.0.10")
        );
    }

    #[test]
    fn plan_resolves_pool_and_overrides() {
        let c = cfg("", "");
        let p = Plan::resolve(&c, "J", &RunOverrides::default()).unwrap();
        let pool = p.pool.unwrap();
        assert_eq!(
            (pool.name.as_str(), pool.label_format.as_str()),
            ("p", "P-")
        );
        assert_eq!(pool.max_vol_jobs, 1);
        assert_eq!(p.level, JobLevel::Full);
        assert_eq!(p.catalog, "cat");
        let e = Plan::resolve(
            &c,
            "J",
            &RunOverrides {
                client: Some("nope".into()),
                ..Default::default()
            },
        )
        .unwrap_err();
        assert_eq!(e, JobError::Config("Client \"nope\" not found".into()));
        assert!(matches!(
            Plan::resolve(&c, "missing", &RunOverrides::default()),
            Err(JobError::Config(_))
        ));
    }
}
