//! One Director connection: hello, CRAM-MD5, `2000 OK Hello 54`, then the command loop.
//!
//! # The loop (`core/src/filed/dir_cmd.cc` `process_director_commands()`, connect.md §8)
//!
//! Each frame from the Director is one command, dispatched by [`DirCommand::parse`] with the
//! FD's prefix table. A signal or a closed connection ends the loop (a TERMINATE also marks
//! the connection so nothing more is sent, which is why a `status` or `estimate` session ends
//! without an answer to the Director's TERMINATE). An unknown command is answered with
//! `2999 Invalid command⏎` and ends the loop; a monitor Director may only use `status` and
//! `.status` (`2997 …⏎` + EOD otherwise). When the loop ends: TERMINATE to the SD if a data
//! connection is open, `2800 End Job …⏎` if the session had a JobId ≠ 0, TERMINATE to the
//! Director (vectors/clear-backup-full conn 4 msg 55, then conn 3 msgs 33–34).
//!
//! # Replies, byte for byte
//!
//! Every frame the FD sends is produced by a [`crate::wire`] codec: [`FdReply`] for the
//! numbered replies, [`Jmsg`] for job messages, [`HelloReply`] for `2000 OK Hello 54⏎`
//! (vectors/clear-backup-full conn 3 msg 8), [`crate::wire::status::StatusFrame`] and
//! [`crate::wire::dir_cmd::LsLine`] for status and estimate text. The order of job messages
//! and replies follows the captures (see [`super::backup`] and [`super::restore`]).
//!
//! # Level and since-time
//!
//! `level = full  mtime_only=0 ⏎` is answered at once. For incremental and differential the
//! Director sends a second line, `level = since_utime «t» mtime_only=0 prev_job=«Job»⏎`;
//! only then does the FD answer, after measuring the clock difference: ten BTIME signals,
//! each answered by `btime «µs»⏎`, the first two samples discarded, the average of
//! `fd_time − dir_time − rtt/2` over the other eight added to the since time, EOD, and
//! `2000 OK level⏎` (jobs.md §1.4, vectors/clear-backup-incr conn 3 msgs 11–34). A
//! difference above 3 s is reported with a job message, as Bareos does.

use embedded_io_async::{Read, Write};
use heapless::Vec;

use super::conn::{Conn, ConnError, Msg};
use super::jobs::{JobHandle, JobTable};
use super::platform::{Clock, Connector, DigestProvider, FileSink, FileSource};
use super::{select, Buffers, Either, FdConfig, Services};
use crate::auth::{self, AuthError, Authenticator, Role};
use crate::wire::bnet::{Frame, Signal};
use crate::wire::codes::{JobLevel, JobStatus, JobType, MessageType};
use crate::wire::dir_cmd::{
    DirCommand, EndJob, FdReply, FixedError, Level, LevelWord, OkReply, SetDebugReply, TextError,
};
use crate::wire::fileset::FilesetLine;
use crate::wire::hello::{self, Acceptor, Hello, HelloReply, FD_PROTOCOL_VERSION};
use crate::wire::jmsg::Jmsg;
use crate::wire::text::Writer;

/// Why a session ended abnormally.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SessionError {
    /// A connection failed: the Director's, or the SD's during a job.
    Conn(ConnError),
    /// The first frame is not a Director hello.
    BadHello,
    /// The hello names a Director this FD does not know.
    UnknownDirector,
    /// CRAM-MD5 failed.
    Auth(AuthError),
    /// A buffer given by the caller is too small for a message this session must send.
    BufferTooSmall,
}

impl core::fmt::Display for SessionError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            // The Director's or the SD's connection: the message that shows it says which.
            SessionError::Conn(e) => write!(f, "connection: {e}"),
            SessionError::BadHello => f.write_str("not a Director hello"),
            SessionError::UnknownDirector => f.write_str("unknown Director"),
            SessionError::Auth(e) => write!(f, "authentication: {e}"),
            SessionError::BufferTooSmall => f.write_str("session buffer too small"),
        }
    }
}

impl core::error::Error for SessionError {}

impl From<ConnError> for SessionError {
    fn from(e: ConnError) -> Self {
        SessionError::Conn(e)
    }
}

/// How a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SessionEnd {
    /// The session's JobId (0 for status/estimate/cancel sessions).
    pub job_id: u32,
    /// The job's final status (the End Job line's TermCode).
    pub status: JobStatus,
    /// The End Job counters (all zero for JobId 0).
    pub files: u32,
    /// Errors of the job.
    pub errors: u32,
}

/// Commands that read further frames from the Director.
#[derive(Debug, Clone, Copy)]
enum Reads {
    Since(u64),
    Fileset,
    Accurate,
    RestoreObject,
    Bootstrap,
}

/// The job a session runs.
#[derive(Debug)]
pub(crate) struct Job<'t> {
    pub id: u32,
    pub name: Vec<u8, 127>,
    pub sd_id: u32,
    pub sd_time: u32,
    pub key: Vec<u8, 100>,
    pub key_sets: u8,
    pub level: JobLevel,
    pub accurate: bool,
    pub rerunning: bool,
    pub since: i64,
    pub job_type: JobType,
    pub fileset_len: usize,
    pub fileset_overflow: bool,
    pub accurate_len: usize,
    #[cfg_attr(not(feature = "accurate"), allow(dead_code))]
    pub accurate_overflow: bool,
    pub files: u32,
    pub read_bytes: u64,
    pub job_bytes: u64,
    pub errors: u32,
    pub status: JobStatus,
    pub bwlimit: u64,
    /// The restore rewrites names with the sink's `regexwhere` list instead of `where`.
    pub regexwhere: bool,
    /// The TLS cipher of the SD connection (empty = cleartext), for the job messages.
    pub sd_cipher: Vec<u8, 64>,
    pub handle: Option<JobHandle<'t>>,
}

impl Job<'_> {
    fn new() -> Self {
        Self {
            id: 0,
            name: Vec::new(),
            sd_id: 0,
            sd_time: 0,
            key: Vec::new(),
            key_sets: 0,
            level: JobLevel::Full,
            accurate: false,
            rerunning: false,
            since: 0,
            job_type: JobType::Backup,
            fileset_len: 0,
            fileset_overflow: false,
            accurate_len: 0,
            accurate_overflow: false,
            files: 0,
            read_bytes: 0,
            job_bytes: 0,
            errors: 0,
            status: JobStatus::Running,
            regexwhere: false,
            sd_cipher: Vec::new(),
            bwlimit: 0,
            handle: None,
        }
    }

    /// True once `cancel` reached this job.
    pub fn canceled(&self) -> bool {
        self.handle.as_ref().is_some_and(|h| h.is_canceled())
    }

    /// Publish counters for `status`.
    pub fn publish(&self) {
        if let Some(h) = &self.handle {
            h.set_counters(self.files, self.job_bytes, self.errors);
        }
    }

    /// Set the job status (a canceled job stays canceled).
    pub fn set_status(&mut self, s: JobStatus) {
        if self.canceled() {
            self.status = JobStatus::Canceled;
        } else {
            self.status = s;
        }
        if let Some(h) = &self.handle {
            h.set_status(self.status);
        }
    }
}

/// The state of one Director session; the command handlers live in this module and in
/// [`super::backup`], [`super::restore`], [`super::estimate`] and [`super::status`].
pub struct Session<'s, IO, S, K, C, T, D, const N: usize>
where
    C: Connector,
{
    pub(crate) cfg: FdConfig<'s>,
    pub(crate) jobs: &'s JobTable<N>,
    pub(crate) svc: &'s mut Services<S, K, C, T, D>,
    pub(crate) dir: Conn<IO>,
    pub(crate) sd: Option<Conn<C::Stream>>,
    pub(crate) tx: &'s mut [u8],
    pub(crate) sd_rx: &'s mut [u8],
    pub(crate) data: &'s mut [u8],
    pub(crate) fileset: &'s mut [u8],
    pub(crate) accurate: &'s mut [u8],
    pub(crate) job: Job<'s>,
    pub(crate) monitor: bool,
    #[cfg_attr(not(feature = "status"), allow(dead_code))]
    pub(crate) director: Vec<u8, 128>,
    #[cfg_attr(not(feature = "status"), allow(dead_code))]
    pub(crate) connected_at: i64,
    pub(crate) global_bwlimit: u64,
    /// `Maximum Bandwidth Per Job` of the Director this session authenticated (0 = unset).
    pub(crate) dir_bwlimit: u64,
    pub(crate) debug_level: i32,
    pub(crate) trace: i32,
    pub(crate) sd_addr: Vec<u8, 256>,
    pub(crate) sd_port: u16,
    /// The SD connection came in passively (the SD dialled the FD).
    pub(crate) sd_passive: bool,
    /// An early attempt to accept a passive SD failed (not repeated before `backup`).
    #[cfg_attr(not(feature = "passive"), allow(dead_code))]
    pub(crate) early_sd_failed: bool,
    /// Seed and counter for the challenge numbers of later CRAM-MD5 exchanges.
    pub(crate) seed: u32,
    pub(crate) draws: u32,
}

/// Accept a Director connection: read its hello, authenticate as the inbound side, answer
/// `2000 OK Hello 54⏎`, and run the command loop until it ends.
///
/// `io` is the accepted stream (TLS already done by the platform if configured);
/// `challenge_random` is the random number of the FD's CRAM-MD5 challenge (Bareos uses
/// `random()`; fd-core has no entropy of its own); it also seeds the challenges of the
/// session's SD connections (hashed with a counter and the time), so it must be fresh and
/// secret per session.
#[allow(clippy::too_many_arguments)]
pub async fn run_director_session<'s, IO, S, K, C, T, D, const N: usize>(
    io: IO,
    cfg: &FdConfig<'s>,
    jobs: &'s JobTable<N>,
    svc: &'s mut Services<S, K, C, T, D>,
    bufs: Buffers<'s>,
    challenge_random: u32,
) -> Result<SessionEnd, SessionError>
where
    IO: Read + Write,
    S: FileSource,
    K: FileSink,
    C: Connector,
    T: Clock,
    D: DigestProvider,
{
    let Buffers {
        dir_rx,
        tx,
        sd_rx,
        data,
        fileset,
        accurate,
    } = bufs;
    let mut dir = Conn::new(io);
    let hello = match dir.recv(dir_rx).await? {
        Msg::Data(d) => d,
        Msg::Signal(_) => return Err(SessionError::BadHello),
    };
    let parsed =
        Hello::parse_at(Acceptor::FileDaemon, hello).map_err(|_| SessionError::BadHello)?;
    if !Acceptor::FileDaemon.len_ok(&parsed, hello.len()) {
        return Err(SessionError::BadHello);
    }
    let Hello::Director { name, .. } = parsed else {
        // A passive-mode SD hello (`Hello Storage calling Start Job`) belongs to a job's
        // data channel, not to a Director session.
        return Err(SessionError::BadHello);
    };
    let Some(director) = cfg
        .directors
        .iter()
        .find(|d| hello::bashed_eq(name, d.name))
    else {
        warn!("connection from an unknown Director rejected");
        let _ = dir
            .send_with(tx, |b| HelloReply::FdAuthFailed.emit(b))
            .await;
        return Err(SessionError::UnknownDirector);
    };
    let mut dname: Vec<u8, 128> = Vec::new();
    let _ = dname.extend_from_slice(director.name.get(..128).unwrap_or(director.name));
    let own = qualified_name(b"R_CLIENT::", cfg.name)?;
    let mut acfg = auth::Config::new(
        Role::Inbound,
        director.key,
        &own,
        cfg.tls_policy,
        challenge_random,
        u32::try_from(svc.clock.unix_time()).unwrap_or(0),
    );
    acfg.tls_active = cfg.tls_active;
    match authenticate(&mut dir, &svc.clock, acfg, dir_rx).await? {
        auth::Event::Authenticated { .. } => {}
        auth::Event::Failed(e) => {
            let _ = dir
                .send_with(tx, |b| HelloReply::FdAuthFailed.emit(b))
                .await;
            return Err(SessionError::Auth(e));
        }
    }
    dir.send_with(tx, |b| {
        HelloReply::FdOk {
            protocol: Some(FD_PROTOCOL_VERSION),
        }
        .emit(b)
    })
    .await?;
    let connected_at = svc.clock.unix_time();
    let mut session = Session {
        cfg: *cfg,
        jobs,
        svc,
        dir,
        sd: None,
        tx,
        sd_rx,
        data,
        fileset,
        accurate,
        job: Job::new(),
        monitor: director.monitor,
        dir_bwlimit: director.max_bandwidth,
        director: dname,
        connected_at,
        global_bwlimit: cfg.max_bandwidth,
        debug_level: cfg.debug_level,
        trace: 0,
        sd_addr: Vec::new(),
        sd_port: 0,
        sd_passive: false,
        early_sd_failed: false,
        seed: challenge_random,
        draws: 0,
    };
    session.run(dir_rx).await
}

/// Run the command loop on an already authenticated Director connection (client-initiated
/// mode: the platform dialled the Director, sent `Hello Client …` and authenticated as the
/// outbound side; the Director then sends commands exactly as in active mode).
#[allow(clippy::too_many_arguments)]
pub async fn run_command_loop<'s, IO, S, K, C, T, D, const N: usize>(
    io: IO,
    cfg: &FdConfig<'s>,
    director: &super::DirectorAuth<'s>,
    jobs: &'s JobTable<N>,
    svc: &'s mut Services<S, K, C, T, D>,
    bufs: Buffers<'s>,
    seed: u32,
) -> Result<SessionEnd, SessionError>
where
    IO: Read + Write,
    S: FileSource,
    K: FileSink,
    C: Connector,
    T: Clock,
    D: DigestProvider,
{
    let Buffers {
        dir_rx,
        tx,
        sd_rx,
        data,
        fileset,
        accurate,
    } = bufs;
    let mut dname: Vec<u8, 128> = Vec::new();
    let _ = dname.extend_from_slice(director.name.get(..128).unwrap_or(director.name));
    let connected_at = svc.clock.unix_time();
    let mut session = Session {
        cfg: *cfg,
        jobs,
        svc,
        dir: Conn::new(io),
        sd: None,
        tx,
        sd_rx,
        data,
        fileset,
        accurate,
        job: Job::new(),
        monitor: director.monitor,
        dir_bwlimit: director.max_bandwidth,
        director: dname,
        connected_at,
        global_bwlimit: cfg.max_bandwidth,
        debug_level: cfg.debug_level,
        trace: 0,
        sd_addr: Vec::new(),
        sd_port: 0,
        sd_passive: false,
        early_sd_failed: false,
        seed,
        draws: 0,
    };
    session.run(dir_rx).await
}

/// Client-initiated mode (vectors/clear-client-initiated conn 1): the FD has dialled the
/// Director. Send `Hello Client «name» FdProtocolVersion=54 calling Version="…"⏎`, run
/// CRAM-MD5 as the outbound side, expect `1000 OK: «dir» Version: …⏎`, then serve the
/// Director's commands exactly as in active mode ([`run_command_loop`]). The platform opens
/// a new waiting connection when this one starts being used (conn 5 of that capture).
#[allow(clippy::too_many_arguments)]
pub async fn run_client_initiated<'s, IO, S, K, C, T, D, const N: usize>(
    io: IO,
    cfg: &FdConfig<'s>,
    director: &super::DirectorAuth<'s>,
    jobs: &'s JobTable<N>,
    svc: &'s mut Services<S, K, C, T, D>,
    bufs: Buffers<'s>,
    seed: u32,
) -> Result<SessionEnd, SessionError>
where
    IO: Read + Write,
    S: FileSource,
    K: FileSink,
    C: Connector,
    T: Clock,
    D: DigestProvider,
{
    let mut dir = Conn::new(io);
    let hello = Hello::Client {
        name: cfg.name,
        fd_protocol: Some(FD_PROTOCOL_VERSION as i32),
        version: Some(cfg.version),
    };
    dir.send_with(bufs.tx, |b| hello.emit(b)).await?;
    let own = qualified_name(b"R_CLIENT::", cfg.name)?;
    let mut acfg = auth::Config::new(
        Role::Outbound,
        director.key,
        &own,
        cfg.tls_policy,
        seed & 0x7fff_ffff,
        u32::try_from(svc.clock.unix_time()).unwrap_or(0),
    );
    acfg.tls_active = cfg.tls_active;
    match authenticate(&mut dir, &svc.clock, acfg, bufs.dir_rx).await? {
        auth::Event::Authenticated { .. } => {}
        auth::Event::Failed(e) => return Err(SessionError::Auth(e)),
    }
    match dir.recv(bufs.dir_rx).await? {
        Msg::Data(d) if matches!(HelloReply::parse(d), Ok(HelloReply::DirOk { .. })) => {}
        _ => return Err(SessionError::BadHello),
    }
    run_command_loop(
        dir.into_inner(),
        cfg,
        director,
        jobs,
        svc,
        bufs,
        seed.rotate_left(16),
    )
    .await
}

/// `R_CLIENT::bareos-fd` and the like.
pub(crate) fn qualified_name(prefix: &[u8], name: &[u8]) -> Result<Vec<u8, 140>, SessionError> {
    let mut v: Vec<u8, 140> = Vec::new();
    v.extend_from_slice(prefix)
        .map_err(|_| SessionError::BufferTooSmall)?;
    v.extend_from_slice(name)
        .map_err(|_| SessionError::BufferTooSmall)?;
    Ok(v)
}

/// Drive an [`Authenticator`] over a connection until it decides (public for platforms that
/// authenticate passive SD connections themselves, [`Connector::expect_sd`]).
///
/// [`Connector::expect_sd`]: crate::fd::platform::Connector::expect_sd
pub async fn authenticate<IO: Read + Write, T: Clock>(
    conn: &mut Conn<IO>,
    clock: &T,
    config: auth::Config<'_>,
    rx: &mut [u8],
) -> Result<auth::Event, SessionError> {
    let mut a =
        Authenticator::new(config, clock.now()).map_err(|_| SessionError::BufferTooSmall)?;
    let mut out = [0u8; auth::MAX_TRANSMIT_LEN];
    loop {
        while let Some(n) = a
            .poll_transmit(&mut out)
            .map_err(|_| SessionError::BufferTooSmall)?
        {
            conn.send_raw(out.get(..n).unwrap_or(&[])).await?;
        }
        if let Some(ev) = a.poll_event() {
            return Ok(ev);
        }
        let deadline = a.poll_timeout();
        let got = match deadline {
            Some(d) => match select(conn.recv(rx), clock.sleep_until(d)).await {
                Either::Left(r) => Some(r),
                Either::Right(()) => None,
            },
            None => Some(conn.recv(rx).await),
        };
        match got {
            None => a.handle_timeout(clock.now()),
            Some(Ok(Msg::Data(d))) => a.handle_frame(clock.now(), Frame::Data(d)),
            Some(Ok(Msg::Signal(s))) => a.handle_frame(clock.now(), Frame::Signal(s)),
            Some(Err(e)) => return Err(SessionError::Conn(e)),
        }
    }
}

/// Receive the Director's next frame. Between jobs (`job_open` false) the FD waits as long
/// as the Director likes, as Bareos does (an idle connection, a parked client-initiated
/// one). Once a job is open (a `JobId=` ≠ 0 came) every wait for the Director is bounded by
/// [`super::conn::DIRECTOR_JOB_TIMEOUT`]: a Director that stalls mid-job (or vanished
/// without a FIN, which a device's TCP may never notice) fails the job with
/// `ConnError::Io(TimedOut)` instead of holding the device's only session forever.
pub(crate) async fn recv_within<'b, IO: Read + Write, T: Clock>(
    dir: &mut Conn<IO>,
    clock: &T,
    job_open: bool,
    rx: &'b mut [u8],
) -> Result<Msg<'b>, ConnError> {
    // One path for both cases (the firmware's flash): between jobs the deadline is ≈ 285
    // years after boot (not `i64::MAX`: embassy-time's tick conversion would overflow).
    let deadline = if job_open {
        clock.now() + super::conn::DIRECTOR_JOB_TIMEOUT
    } else {
        crate::time::Instant::from_micros(i64::MAX >> 10)
    };
    super::conn::recv_by(dir, clock, deadline, rx).await
}

/// Thousands separators, as `edit_uint64_with_commas()`.
pub(crate) fn write_commas(w: &mut Writer<'_>, v: u64) {
    let mut digits = [0u8; 20];
    let mut n = 0;
    let mut x = v;
    loop {
        if let Some(d) = digits.get_mut(n) {
            *d = b'0' + (x % 10) as u8;
        }
        n += 1;
        x /= 10;
        if x == 0 || n >= digits.len() {
            break;
        }
    }
    for i in (0..n).rev() {
        w.byte(digits.get(i).copied().unwrap_or(b'0'));
        if i > 0 && i % 3 == 0 {
            w.byte(b',');
        }
    }
}

impl<'s, IO, S, K, C, T, D, const N: usize> Session<'s, IO, S, K, C, T, D, N>
where
    IO: Read + Write,
    S: FileSource,
    K: FileSink,
    C: Connector,
    T: Clock,
    D: DigestProvider,
{
    // `&mut self`, not `self`: a by-value `self` is stored twice in the future (the argument
    // and its moved-to local), 3.4 KiB more of a device's RAM.
    async fn run(&mut self, dir_rx: &mut [u8]) -> Result<SessionEnd, SessionError> {
        let mut result = Ok(());
        loop {
            let data = match self.next_command(dir_rx).await {
                Ok(Msg::Data(d)) => d,
                Ok(Msg::Signal(s)) => {
                    debug!("Director signal {} ends the command loop", s.code());
                    break;
                }
                Err(e) => {
                    result = Err(e);
                    break;
                }
            };
            let cmd = match DirCommand::parse(data) {
                Ok(c) => c,
                Err(_) => DirCommand::Unknown(&[]),
            };
            if self.monitor && !matches!(cmd, DirCommand::Status | DirCommand::DotStatus { .. }) {
                self.reply(&FdReply::Error(FixedError::MonitorDenied))
                    .await?;
                self.dir.signal(Signal::Eod).await?;
                break;
            }
            let reads = match cmd {
                DirCommand::Fileset { .. } => Some(Reads::Fileset),
                DirCommand::Accurate { .. } => Some(Reads::Accurate),
                DirCommand::Level(Level::Since { utime, .. }) => Some(Reads::Since(utime)),
                DirCommand::RestoreObject(_) => Some(Reads::RestoreObject),
                DirCommand::Bootstrap => Some(Reads::Bootstrap),
                _ => None,
            };
            let r = match reads {
                Some(r) => self.dispatch_reading(r, dir_rx).await,
                None => self.dispatch(cmd).await,
            };
            match r {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        self.finish(result).await
    }

    /// The Director's next frame inside a command (see [`recv_within`]).
    pub(crate) async fn recv_dir<'b>(
        &mut self,
        dir_rx: &'b mut [u8],
    ) -> Result<Msg<'b>, ConnError> {
        recv_within(&mut self.dir, &self.svc.clock, self.job.id != 0, dir_rx).await
    }

    /// Handle a command that reads more frames from the Director; false ends the loop.
    async fn dispatch_reading(
        &mut self,
        r: Reads,
        dir_rx: &mut [u8],
    ) -> Result<bool, SessionError> {
        match r {
            Reads::Since(utime) => {
                self.job.since = i64::try_from(utime).unwrap_or(i64::MAX);
                self.sync_clocks(dir_rx).await
            }
            Reads::Fileset => self.read_fileset(dir_rx).await,
            #[cfg(feature = "accurate")]
            Reads::Accurate => self.read_accurate(dir_rx).await,
            #[cfg(not(feature = "accurate"))]
            Reads::Accurate => self.not_built().await,
            Reads::RestoreObject => {
                // Object name and data follow as two raw frames; no plugins here.
                for _ in 0..2 {
                    if let Msg::Signal(_) = self.recv_dir(dir_rx).await? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Reads::Bootstrap => {
                // Deprecated: the Director sends the bootstrap to the SD. Skip the lines.
                loop {
                    if let Msg::Signal(_) = self.recv_dir(dir_rx).await? {
                        break;
                    }
                }
                self.reply(&FdReply::Ok(OkReply::Bootstrap)).await?;
                Ok(true)
            }
        }
    }

    /// Handle one command; false ends the loop.
    async fn dispatch(&mut self, cmd: DirCommand<'_>) -> Result<bool, SessionError> {
        match cmd {
            DirCommand::JobStart(js) => {
                self.job.id = js.job_id;
                self.job.name.clear();
                if self.job.name.extend_from_slice(js.job).is_err() {
                    self.reply(&FdReply::Error(FixedError::BadJob)).await?;
                    return Ok(false);
                }
                self.job.sd_id = js.sd_id;
                self.job.sd_time = js.sd_time;
                self.set_key(js.authorization);
                if !js.authorization.is_empty() {
                    self.svc
                        .connector
                        .expect_sd_tls(js.job, js.authorization, js.ssl);
                }
                if js.job_id != 0 && self.job.handle.is_none() {
                    let now = self.svc.clock.unix_time();
                    match self.jobs.start(js.job_id, js.job, now) {
                        Some(h) => {
                            h.set_status(JobStatus::Running);
                            self.job.handle = Some(h);
                        }
                        None => {
                            warn!("too many concurrent jobs");
                            self.reply(&FdReply::Error(FixedError::BadJob)).await?;
                            return Ok(false);
                        }
                    }
                }
                let info = self.cfg.job_version;
                self.reply(&FdReply::JobOk { info }).await?;
                Ok(true)
            }
            DirCommand::Level(Level::Backup {
                accurate,
                level,
                rerunning,
                ..
            }) => {
                self.job.accurate = accurate;
                self.job.rerunning = rerunning;
                self.job.level = match level {
                    LevelWord::Full => JobLevel::Full,
                    LevelWord::Base => JobLevel::Base,
                    LevelWord::Incremental => JobLevel::Incremental,
                    LevelWord::Differential => JobLevel::Differential,
                };
                self.set_kind();
                match level {
                    // The since line follows; the reply comes after it.
                    LevelWord::Incremental | LevelWord::Differential => Ok(true),
                    LevelWord::Full | LevelWord::Base => {
                        self.reply(&FdReply::Ok(OkReply::Level)).await?;
                        Ok(true)
                    }
                }
            }
            DirCommand::GetSecureEraseCmd => {
                let command = self.cfg.secure_erase.unwrap_or(b"*None*");
                self.reply(&FdReply::SecureErase { command }).await?;
                Ok(true)
            }
            DirCommand::SetBandwidth { limit, job } => {
                let limit = u64::try_from(limit).unwrap_or(0);
                if job.is_empty() {
                    self.global_bwlimit = limit;
                } else if job == self.job.name.as_slice() {
                    self.job.bwlimit = limit;
                    if let Some(h) = &self.job.handle {
                        h.set_bwlimit(u32::try_from(limit).unwrap_or(u32::MAX));
                    }
                } else if !self
                    .jobs
                    .set_bandwidth(job, u32::try_from(limit).unwrap_or(u32::MAX))
                {
                    self.reply(&FdReply::ErrorText(TextError::JobNotFound, job))
                        .await?;
                    return Ok(true);
                }
                self.reply(&FdReply::Ok(OkReply::Bandwidth)).await?;
                Ok(true)
            }
            DirCommand::SetDebug(d) => {
                self.debug_level = d.level;
                self.trace = d.trace;
                let r = SetDebugReply {
                    level: d.level,
                    trace: d.trace,
                    hangup: d.hangup.unwrap_or(0),
                    timestamp: d.timestamp,
                    tracefile: b"",
                };
                self.reply(&FdReply::SetDebug(r)).await?;
                Ok(true)
            }
            DirCommand::SetAuthorization { authorization } => {
                self.set_key(authorization);
                if !authorization.is_empty() && !self.job.name.is_empty() {
                    self.svc.connector.expect_sd(&self.job.name, authorization);
                }
                self.reply(&FdReply::Ok(OkReply::Authorization)).await?;
                Ok(true)
            }
            DirCommand::Cancel { job } => {
                if self.jobs.cancel(job) {
                    self.reply(&FdReply::Canceled { job }).await?;
                } else {
                    self.reply(&FdReply::ErrorText(TextError::JobNotFound, job))
                        .await?;
                }
                self.dir.signal(Signal::Eod).await?;
                Ok(true)
            }
            #[cfg(feature = "status")]
            DirCommand::Status => {
                self.status().await?;
                Ok(true)
            }
            #[cfg(feature = "status")]
            DirCommand::DotStatus { arg } => self.dot_status(arg).await,
            #[cfg(not(feature = "status"))]
            DirCommand::Status | DirCommand::DotStatus { .. } => self.not_built().await,
            DirCommand::Storage(st) => self.storage_cmd(st).await,
            DirCommand::Backup { file_index } => self.backup_cmd(file_index).await,
            #[cfg(feature = "estimate")]
            DirCommand::Estimate { listing } => self.estimate_cmd(listing != 0).await,
            #[cfg(not(feature = "estimate"))]
            DirCommand::Estimate { .. } => self.not_built().await,
            DirCommand::Restore(r) => self.restore_cmd(r).await,
            DirCommand::EndRestore => Ok(false),
            DirCommand::PluginOptions(_) => {
                self.reply(&FdReply::Ok(OkReply::PluginOptions)).await?;
                Ok(true)
            }
            DirCommand::RestoreObjectEnd => {
                self.reply(&FdReply::Ok(OkReply::ObjectRestored)).await?;
                Ok(true)
            }
            DirCommand::Session(_) => {
                self.reply(&FdReply::Ok(OkReply::Session)).await?;
                Ok(true)
            }
            DirCommand::RunScript(_) | DirCommand::RunBeforeNow => {
                // No script execution in the core: refuse like a failed script.
                self.reply(&FdReply::Error(FixedError::FailedRunScript))
                    .await?;
                Ok(false)
            }
            #[cfg(feature = "verify")]
            DirCommand::Verify { level } => self.verify_cmd(level).await,
            #[cfg(not(feature = "verify"))]
            DirCommand::Verify { .. } => self.not_built().await,
            DirCommand::Level(Level::Since { .. })
            | DirCommand::Fileset { .. }
            | DirCommand::Accurate { .. }
            | DirCommand::RestoreObject(_)
            | DirCommand::Bootstrap => Ok(true),
            DirCommand::Btime { .. } | DirCommand::Resolve(_) | DirCommand::Unknown(_) => {
                self.reply(&FdReply::Error(FixedError::InvalidCommand))
                    .await?;
                Ok(false)
            }
        }
    }

    /// A command this build leaves out (fd-core features `estimate`, `status`, `accurate`):
    /// refused like an unknown command, which ends the Director's job with an error.
    #[cfg(not(all(feature = "estimate", feature = "status", feature = "accurate")))]
    async fn not_built(&mut self) -> Result<bool, SessionError> {
        warn!("a command this build leaves out was refused");
        self.reply(&FdReply::Error(FixedError::InvalidCommand))
            .await?;
        Ok(false)
    }

    /// A challenge number for a later CRAM-MD5 exchange: SHA-256 of the session seed, a
    /// counter and the time, so that peers cannot predict it from earlier challenges.
    pub(crate) fn next_random(&mut self) -> u32 {
        use sha2::Digest as _;
        self.draws = self.draws.wrapping_add(1);
        let mut h = sha2::Sha256::new();
        h.update(self.seed.to_be_bytes());
        h.update(self.draws.to_be_bytes());
        h.update(self.svc.clock.unix_micros().to_be_bytes());
        let d = h.finalize();
        let mut b = [0u8; 4];
        if let Some(src) = d.get(..4) {
            b.copy_from_slice(src);
        }
        u32::from_be_bytes(b) & 0x7fff_ffff
    }

    fn set_key(&mut self, key: &[u8]) {
        if key.is_empty() {
            return;
        }
        self.job.key.clear();
        let _ = self
            .job
            .key
            .extend_from_slice(key.get(..100).unwrap_or(key));
        self.job.key_sets = self.job.key_sets.saturating_add(1);
    }

    pub(crate) fn set_kind(&self) {
        if let Some(h) = &self.job.handle {
            h.set_kind(self.job.level, self.job.job_type);
        }
    }

    /// Send one reply frame.
    pub(crate) async fn reply(&mut self, r: &FdReply<'_>) -> Result<(), SessionError> {
        let n = r.emit(self.tx).map_err(|_| SessionError::BufferTooSmall)?;
        let payload = self.tx.get(..n).ok_or(SessionError::BufferTooSmall)?;
        self.dir.send(payload).await?;
        Ok(())
    }

    /// Send a job message `«fd-name» JobId «n»: «text»` (bare text for JobId 0, §0.3).
    pub(crate) async fn jmsg(
        &mut self,
        msg_type: MessageType,
        text: core::fmt::Arguments<'_>,
    ) -> Result<(), SessionError> {
        let mut body = [0u8; 512];
        let mut w = Writer::new(&mut body);
        w.bytes(self.cfg.name);
        w.bytes(b" JobId ");
        w.u64(u64::from(self.job.id));
        w.bytes(b": ");
        match msg_type {
            MessageType::Fatal => w.bytes(b"Fatal error: "),
            MessageType::Error => w.bytes(b"Error: "),
            MessageType::Warning => w.bytes(b"Warning: "),
            _ => {}
        }
        let _ = core::fmt::Write::write_fmt(&mut w, text);
        let n = w.finish().unwrap_or(body.len());
        let text = body.get(..n).unwrap_or(&[]);
        if self.job.id == 0 {
            self.dir.send(text).await?;
            return Ok(());
        }
        let m = Jmsg {
            job: &self.job.name,
            msg_type,
            time: self.svc.clock.unix_time(),
            text,
        };
        let n = m.emit(self.tx).map_err(|_| SessionError::BufferTooSmall)?;
        let payload = self.tx.get(..n).ok_or(SessionError::BufferTooSmall)?;
        self.dir.send(payload).await?;
        Ok(())
    }

    /// The BTIME exchange after `level = since_utime …`.
    async fn sync_clocks(&mut self, dir_rx: &mut [u8]) -> Result<bool, SessionError> {
        let mut adj: i64 = 0;
        for i in 0..10 {
            let start = self.svc.clock.unix_micros();
            self.dir.signal(Signal::Btime).await?;
            let his = match self.recv_dir(dir_rx).await? {
                Msg::Data(d) => match DirCommand::parse(d) {
                    Ok(DirCommand::Btime { micros }) => i64::try_from(micros).unwrap_or(0),
                    _ => {
                        self.jmsg(
                            MessageType::Fatal,
                            format_args!("Bad response to BTIME request.\n"),
                        )
                        .await?;
                        self.job.set_status(JobStatus::FatalError);
                        return Ok(false);
                    }
                },
                Msg::Signal(_) => return Ok(false),
            };
            let rt = self.svc.clock.unix_micros().saturating_sub(start);
            if i < 2 {
                continue;
            }
            adj = adj.saturating_add(start.saturating_sub(his).saturating_sub(rt / 2));
        }
        let adj = adj / 8 / 1_000_000;
        if adj.abs() > 3 {
            let t = if adj.abs() > 600 {
                MessageType::Warning
            } else {
                MessageType::Info
            };
            self.jmsg(
                t,
                format_args!(
                    "DIR and FD clocks differ by {} seconds, FD automatically compensating.\n",
                    adj
                ),
            )
            .await?;
        }
        self.job.since = self.job.since.saturating_add(adj);
        self.dir.signal(Signal::Eod).await?;
        self.reply(&FdReply::Ok(OkReply::Level)).await?;
        Ok(true)
    }

    /// `fileset` lines until EOD, kept in the fileset store as `len(u16 BE) bytes`.
    async fn read_fileset(&mut self, dir_rx: &mut [u8]) -> Result<bool, SessionError> {
        self.job.fileset_len = 0;
        self.job.fileset_overflow = false;
        let mut bad = false;
        loop {
            match self.recv_dir(dir_rx).await? {
                Msg::Signal(Signal::Eod) => break,
                Msg::Signal(_) => return Ok(false),
                Msg::Data(line) => {
                    if FilesetLine::parse(line).is_err() {
                        bad = true;
                        continue;
                    }
                    let at = self.job.fileset_len;
                    let end = at + 2 + line.len();
                    match (self.fileset.get_mut(at..end), u16::try_from(line.len())) {
                        (Some(dst), Ok(len)) => {
                            let (h, body) = dst.split_at_mut(2);
                            h.copy_from_slice(&len.to_be_bytes());
                            body.copy_from_slice(line);
                            self.job.fileset_len = end;
                        }
                        _ => self.job.fileset_overflow = true,
                    }
                }
            }
        }
        if self.job.fileset_overflow || bad {
            self.jmsg(
                MessageType::Fatal,
                format_args!("Invalid FileSet command or FileSet too large.\n"),
            )
            .await?;
            self.job.set_status(JobStatus::FatalError);
            return Ok(false);
        }
        // Regular expressions are compiled when the fileset arrives
        // (`core/src/filed/fileset.cc` `AddRegexToFileset()`); one that cannot be used fails
        // the job there.
        let fileset = core::mem::take(&mut self.fileset);
        let view = super::backup::FilesetView {
            store: fileset.get(..self.job.fileset_len).unwrap_or(&[]),
        };
        let mut refused = None;
        for (pat, icase) in view.regexes() {
            if let Err(e) = self.svc.source.regex_match(pat, icase, b"") {
                refused = Some((pat, e));
                break;
            }
        }
        let r = match refused {
            Some((pat, e)) => {
                self.jmsg(
                    MessageType::Fatal,
                    format_args!(
                        "REGEX {} compile error. ERR={}\n",
                        core::str::from_utf8(pat).unwrap_or("<non-UTF-8 pattern>"),
                        e
                    ),
                )
                .await
            }
            None => Ok(()),
        };
        let failed = refused.is_some();
        self.fileset = fileset;
        r?;
        if failed {
            self.job.set_status(JobStatus::FatalError);
            return Ok(false);
        }
        self.reply(&FdReply::Ok(OkReply::Include)).await?;
        Ok(true)
    }

    /// `accurate files=N` entries until EOD (no reply), kept as `len(u16 BE) seen(u8) bytes`.
    #[cfg(feature = "accurate")]
    async fn read_accurate(&mut self, dir_rx: &mut [u8]) -> Result<bool, SessionError> {
        self.job.accurate_len = 0;
        self.job.accurate_overflow = false;
        loop {
            match self.recv_dir(dir_rx).await? {
                Msg::Signal(Signal::Eod) => break,
                Msg::Signal(_) => return Ok(false),
                Msg::Data(entry) => {
                    let at = self.job.accurate_len;
                    let end = at + 3 + entry.len();
                    match (self.accurate.get_mut(at..end), u16::try_from(entry.len())) {
                        (Some(dst), Ok(len)) => {
                            let (h, body) = dst.split_at_mut(3);
                            h.copy_from_slice(&[(len >> 8) as u8, len as u8, 0]);
                            body.copy_from_slice(entry);
                            self.job.accurate_len = end;
                        }
                        _ => self.job.accurate_overflow = true,
                    }
                }
            }
        }
        if self.job.accurate_overflow {
            self.jmsg(
                MessageType::Fatal,
                format_args!("Accurate file list too large for this File daemon.\n"),
            )
            .await?;
            self.job.set_status(JobStatus::FatalError);
            return Ok(false);
        }
        Ok(true)
    }

    /// End of the loop: TERMINATE to the SD, End Job, TERMINATE to the Director.
    async fn finish(
        &mut self,
        result: Result<(), SessionError>,
    ) -> Result<SessionEnd, SessionError> {
        if let Some(mut sd) = self.sd.take() {
            // After a timeout the SD may have stopped reading: a TERMINATE could then block
            // for ever, so the connection is just closed.
            #[cfg(feature = "sd-write-timeout")]
            let skip = matches!(
                result,
                Err(SessionError::Conn(ConnError::Io(
                    embedded_io_async::ErrorKind::TimedOut
                )))
            );
            #[cfg(not(feature = "sd-write-timeout"))]
            let skip = false;
            if !skip {
                let _ = sd.terminate().await;
            }
        }
        // A session that ended on an error (a connection lost or timed out) while the job
        // was still running ends it as failed: bareos-fd sets `E` (JS_ErrorTerminated) when
        // sending to the SD fails (`core/src/filed/dir_cmd.cc` BackupCmd), never leaves `R`.
        if result.is_err() && self.job.status == JobStatus::Running {
            self.job.status = JobStatus::ErrorTerminated;
        }
        if self.job.canceled() {
            self.job.status = JobStatus::Canceled;
        }
        let end = SessionEnd {
            job_id: self.job.id,
            status: self.job.status,
            files: self.job.files,
            errors: self.job.errors,
        };
        if self.job.id != 0 {
            let ej = EndJob {
                term_code: self.job.status,
                job_files: self.job.files,
                read_bytes: self.job.read_bytes,
                job_bytes: self.job.job_bytes,
                errors: self.job.errors,
                vss: 0,
                encrypt: 0,
            };
            let _ = self.reply(&FdReply::EndJob(ej)).await;
        }
        let _ = self.dir.terminate().await;
        if let Some(h) = self.job.handle.take() {
            h.set_counters(self.job.files, self.job.job_bytes, self.job.errors);
            h.set_status(self.job.status);
            h.finish(self.svc.clock.unix_time());
        }
        result.map(|()| end)
    }
}
