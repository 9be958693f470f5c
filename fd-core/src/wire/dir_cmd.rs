//! The Director → File Daemon command channel: commands ([`DirCommand`]), the FD's replies
//! ([`FdReply`]) and the multi-frame payloads some commands carry ([`AccurateEntry`],
//! [`BootstrapLine`], [`LsLine`], [`ResolveReply`]; the fileset lines are in
//! [`super::fileset`], status answers in [`super::status`]).
//!
//! # The command loop
//!
//! After the hello and the two CRAM-MD5 rounds (and `2000 OK Hello 54`, see [`super::hello`])
//! the Director drives the FD with one text command per frame. The FD
//! (`core/src/filed/dir_cmd.cc` `process_director_commands()`) picks the handler by the
//! *first table entry that is a prefix of the frame*, in this order: `accurate`, `backup`,
//! `bootstrap`, `cancel`, `endrestore`, `estimate`, `fileset`, `JobId=`, `level = `,
//! `pluginoptions`, `RunBeforeNow`, `Run`, `restoreobject`, `restore `, `resolve `,
//! `getSecureEraseCmd`, `session`, `setauthorization`, `setbandwidth=`, `setdebug=`,
//! `status`, `.status`, `storage `, `verify` (`../shared/protocol/jobs.md` §1,
//! `connect.md` §8). [`DirCommand::parse`] dispatches the same way, so `RunBeforeNow` is
//! never mistaken for `Run` and `restoreobject` never for `restore `; a frame matching no
//! entry is [`DirCommand::Unknown`] (the FD answers [`FixedError::InvalidCommand`] and ends the
//! session). The `btime «µs»` line is not in the table — the FD reads it with a plain receive
//! while it syncs clocks after `level = since_utime …` — but it travels on the same socket
//! from the same sender and is modelled here as [`DirCommand::Btime`].
//!
//! A backup, as captured in vectors/clear-backup-full conn 3 (other jobs add the optional
//! lines shown in brackets):
//!
//! ```text
//! D→F JobId=1 Job=CapBackup.2026-11-22_15.46.52_03 SDid=1 SDtime=1795362407 Authorization=HLCO-…⏎
//! F→D 2000 OK Job 26.0.0~pre1298.eda204c31 (21Aug26) Debian GNU/Linux 12 (bookworm),debian   (no ⏎)
//! D→F level = full  mtime_only=0 ⏎                 [incr/diff: + level = since_utime …⏎, BTIME dance]
//! F→D 2000 OK level⏎
//! D→F fileset vss=1⏎  I⏎  O S2HAX⏎  N⏎  F /srv/…/tree  N⏎  N⏎  EOD
//! F→D 2000 OK include⏎
//! D→F getSecureEraseCmd⏎           F→D 2000 OK FDSecureEraseCmd *None*⏎
//!     [setbandwidth=262144 Job=…⏎  F→D 2000 OK Bandwidth⏎]
//!     [accurate files=11⏎  path␀lstat␀␀0 …  EOD]
//! D→F storage address=127.0.0.1 port=39203 ssl=0⏎  F→D Jmsg …  F→D 2000 OK storage⏎
//! D→F backup FileIndex=0⏎           F→D Jmsg …  2000 OK backup⏎  Jmsg …
//! F→D 2800 End Job TermCode=84 JobFiles=6 ReadBytes=306 JobBytes=306 Errors=0 VSS=0 Encrypt=0⏎
//! F→D TERMINATE
//! ```
//!
//! # Exact bytes
//!
//! Newlines are part of each message and are not uniform: `status`, `.status x`,
//! `endrestore` and `resolve x` go without one, every other Director command with one; the
//! FD's `2000 OK Job …` has none. Level lines have odd spacing (`level = full  mtime_only=0 ⏎`:
//! two spaces after the level word and one before the newline, because the format is
//! `"level = %s%s%s mtime_only=%d %s%s\n"`). Each `emit` writes exactly what the Bareos
//! format string produces; each `parse` follows `bsscanf` (`core/src/lib/scan.cc`) where the
//! FD does, accepting extra whitespace and a missing final newline, so
//! `emit(parse(x)) == x` holds for every frame a real Director or FD sends (checked against
//! every capture in `tools/dissect/tests/fixtures.rs`), and `parse(emit(r)) == r` for every
//! representable value (the proptests below).
//!
//! # Multi-frame payloads
//!
//! Three commands are followed by data frames up to an EOD signal, which the caller must
//! route to the right codec ([`DirCommand::payload`] says which): `fileset` →
//! [`super::fileset::FilesetLine`], `accurate files=N` → [`AccurateEntry`] (no reply),
//! `bootstrap` → [`BootstrapLine`]. In the other direction `status` and `.status` are
//! answered with [`super::status::StatusFrame`]s and `estimate listing=1` with [`LsLine`]s before the
//! `2000 OK estimate …` reply.
//!
//! # Replies on the Director's side
//!
//! A Director reads [`FdReply`]s interleaved with `Jmsg` job messages (`BgetDirmsg()` in
//! `core/src/dird/getmsg.cc` dispatches any frame whose first byte is not a digit);
//! [`FdReply::parse`] returns [`FdReply::Jmsg`] for those, so one call classifies every
//! frame of a job connection. Digit-led frames this build does not know are
//! [`FdReply::Unknown`].

use super::codes::JobStatus;
use super::jmsg::Jmsg;
use super::text::{is_space, Scanner, Writer};
use super::{Error, Result};

/// Longest job name the FD scans (`%127s`); the same limit as for `Jmsg`.
pub use super::jmsg::MAX_JOB_NAME_LEN;

/// Longest `Authorization=` key the FD scans (`%100s`).
pub const MAX_AUTHORIZATION_LEN: usize = 100;

/// Longest SD address accepted in `storage address=` (a host name is at most 253 bytes;
/// the FD's buffer is sized from the message).
pub const MAX_ADDRESS_LEN: usize = 1024;

/// Longest `verify level=` word the FD scans (`%30s`).
pub const MAX_VERIFY_LEVEL_LEN: usize = 30;

/// Longest frame payload any codec here accepts or produces: the bsock limit of 1,000,000
/// bytes (`core/src/lib/bsock_tcp.cc`, jobs.md §0.1).
pub const MAX_FRAME_LEN: usize = super::bnet::MAX_PACKET_SIZE;

use super::check_frame_len;

// ---------------------------------------------------------------------------------------
// Helpers shared by the codecs
// ---------------------------------------------------------------------------------------

/// Accept the end of a line: optional trailing whitespace (the newline), then nothing.
fn end_line(s: &mut Scanner<'_>) -> Result<()> {
    s.end(true)
}

/// The rest of the frame up to a final `\n` (exclusive). The text must not contain
/// another newline or a NUL; the scanner is not advanced (nothing may follow).
fn rest_of_line<'a>(s: &Scanner<'a>) -> Result<&'a [u8]> {
    let rest = s.rest();
    let body = rest.strip_suffix(b"\n").unwrap_or(rest);
    check_line(body)?;
    Ok(body)
}

/// A `%s` field: non-empty, bounded, no whitespace.
fn bounded_word<'a>(s: &mut Scanner<'a>, max: usize) -> Result<&'a [u8]> {
    let w = s.nonempty_word()?;
    if w.len() > max {
        return Err(Error::FieldTooLong);
    }
    Ok(w)
}

/// Check a field before emitting it as a `%s` word.
fn check_word(w: &[u8], allow_empty: bool) -> Result<()> {
    if (!allow_empty && w.is_empty()) || w.iter().any(|&b| is_space(b)) {
        Err(Error::Malformed)
    } else {
        Ok(())
    }
}

/// [`check_word`] plus the length limit the parser enforces.
fn check_bounded(w: &[u8], allow_empty: bool, max: usize) -> Result<()> {
    check_word(w, allow_empty)?;
    if w.len() > max {
        Err(Error::FieldTooLong)
    } else {
        Ok(())
    }
}

/// Check a field emitted as the rest of a line (no newline, no NUL inside).
fn check_line(w: &[u8]) -> Result<()> {
    if w.iter().any(|&b| b == b'\n' || b == 0) {
        Err(Error::Malformed)
    } else {
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// Director → FD commands
// ---------------------------------------------------------------------------------------

/// `JobId=%s Job=%s SDid=%u SDtime=%u Authorization=%s[ ssl=%u]⏎`
/// (`core/src/dird/fd_cmds.cc` `SendJobInfoToFileDaemon()`, jobs.md §1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct JobStart<'a> {
    /// The JobId (0 for console sessions such as `estimate`).
    pub job_id: u32,
    /// The unique job name.
    pub job: &'a [u8],
    /// The SD's VolSessionId.
    pub sd_id: u32,
    /// The SD's VolSessionTime.
    pub sd_time: u32,
    /// The SD session key, or `dummy` when no SD takes part.
    pub authorization: &'a [u8],
    /// The FD↔SD TLS policy, present when the Director reached the FD TLS-first
    /// (`ssl=4` in TLS-PSK mode).
    pub ssl: Option<u32>,
}

/// A backup level word of the `level = ` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum LevelWord {
    /// `base`.
    Base,
    /// `differential`.
    Differential,
    /// `full` (also sent for console sessions).
    Full,
    /// `incremental`.
    Incremental,
}

impl LevelWord {
    const fn as_bytes(self) -> &'static [u8] {
        match self {
            LevelWord::Base => b"base",
            LevelWord::Differential => b"differential",
            LevelWord::Full => b"full",
            LevelWord::Incremental => b"incremental",
        }
    }
}

/// The two shapes of the `level = ` line (`SendLevelCommand()`/`SendSinceTime()`, jobs.md
/// §1.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Level<'a> {
    /// `level = [accurate_]«word»[ rerunning]  mtime_only=%d ⏎`. For incremental and
    /// differential the FD sends **no reply**: a `Since` line follows at once.
    Backup {
        /// `accurate_` prefix (only for incremental/differential).
        accurate: bool,
        /// The level.
        level: LevelWord,
        /// ` rerunning ` instead of ` `.
        rerunning: bool,
        /// Always 0 (ignored by the FD; the `m` option letter decides).
        mtime_only: i32,
    },
    /// `level = since_utime %s mtime_only=%d prev_job=%s⏎`. The FD then sends BTIME ten
    /// times (each answered by [`DirCommand::Btime`]), EOD and `2000 OK level⏎`.
    Since {
        /// Start time of the reference job, unix seconds.
        utime: u64,
        /// Always 0.
        mtime_only: i32,
        /// The unique name of the reference job (may be empty).
        prev_job: &'a [u8],
    },
}

/// `storage address=%s port=%u ssl=%u[ Authorization=%s]⏎` (jobs.md §1.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Storage<'a> {
    /// SD address (name or IP).
    pub address: &'a [u8],
    /// SD port.
    pub port: u32,
    /// TLS policy for the FD→SD connection (4 = TLS-PSK).
    pub ssl: u32,
    /// The session key, in the restore/verify form.
    pub authorization: Option<&'a [u8]>,
}

/// Where a restore puts files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RestoreTarget<'a> {
    /// `where=%s` (bashed; empty = original location).
    Where(&'a [u8]),
    /// `regexwhere=%s` (bashed list of sed-like expressions).
    RegexWhere(&'a [u8]),
}

/// The replace policy of a restore (`replace=%c`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Replace {
    /// `a`: always (the default).
    Always,
    /// `w`: if newer.
    IfNewer,
    /// `o`: if older.
    IfOlder,
    /// `n`: never.
    Never,
    /// Any other byte.
    Unknown(u8),
}

impl Replace {
    /// Decode the `replace=` character.
    pub const fn from_u8(b: u8) -> Self {
        match b {
            b'a' => Replace::Always,
            b'w' => Replace::IfNewer,
            b'o' => Replace::IfOlder,
            b'n' => Replace::Never,
            other => Replace::Unknown(other),
        }
    }

    /// The `replace=` character.
    pub const fn to_u8(self) -> u8 {
        match self {
            Replace::Always => b'a',
            Replace::IfNewer => b'w',
            Replace::IfOlder => b'o',
            Replace::Never => b'n',
            Replace::Unknown(b) => b,
        }
    }
}

/// `restore replace=%c prelinks=%d where=%s⏎` or `… regexwhere=%s⏎` (jobs.md §6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Restore<'a> {
    /// Replace policy.
    pub replace: Replace,
    /// PrefixLinks (apply `where` to absolute symlink targets).
    pub prelinks: i32,
    /// Where to restore.
    pub target: RestoreTarget<'a>,
}

/// `restoreobject JobId=%s %s,%s,%s,%s,%s,%s[,%s]⏎` (jobs.md §1.11). The object name and
/// data follow as two raw frames, which are not commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RestoreObject<'a> {
    /// JobId the object belongs to.
    pub job_id: u32,
    /// Length of the (possibly compressed) object.
    pub object_len: i64,
    /// Uncompressed length.
    pub object_full_len: i64,
    /// Object index.
    pub object_index: i64,
    /// Object type.
    pub object_type: i64,
    /// Compression (1 = zlib).
    pub object_compression: i64,
    /// FileIndex.
    pub file_index: i64,
    /// Bashed plugin name, when present.
    pub plugin_name: Option<&'a [u8]>,
}

/// `Run OnSuccess=%d OnFailure=%d AbortOnError=%d When=%d Command=%s⏎` (jobs.md §1.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RunScript<'a> {
    /// Run when the job succeeds.
    pub on_success: i32,
    /// Run when the job fails.
    pub on_failure: i32,
    /// Fail the job when the script fails.
    pub abort_on_error: i32,
    /// Bitmask: 1 after, 2 before, 4 after VSS.
    pub when: i32,
    /// The command with spaces bashed to 0x01.
    pub command: &'a [u8],
}

/// `session %s %ld %ld %ld %ld %ld %ld⏎` (deprecated, jobs.md §1.16).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Session<'a> {
    /// Volume name.
    pub volume: &'a [u8],
    /// VolSessionId, VolSessionTime, StartFile, EndFile, StartBlock, EndBlock.
    pub numbers: [i64; 6],
}

/// `setdebug=%d trace=%d[ hangup=%d[ timestamp=%d]]⏎` (jobs.md §1.10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SetDebug {
    /// Debug level.
    pub level: i32,
    /// Trace flag.
    pub trace: i32,
    /// Abort after this many files (test hook).
    pub hangup: Option<i32>,
    /// Timestamp flag (only with `hangup`).
    pub timestamp: Option<i32>,
}

/// What follows a command on the same socket, up to an EOD signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Payload {
    /// [`super::fileset::FilesetLine`]s, then `2000 OK include⏎`.
    Fileset,
    /// [`AccurateEntry`]s, no reply.
    Accurate,
    /// [`BootstrapLine`]s, then `2000 OK bootstrap⏎`.
    Bootstrap,
}

/// One command frame from the Director to the FD.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DirCommand<'a> {
    /// `accurate files=%s⏎`, then [`AccurateEntry`] frames and EOD.
    Accurate {
        /// The Director's estimate of the number of entries.
        files: u64,
    },
    /// `backup FileIndex=%u⏎`.
    Backup {
        /// First FileIndex - 1 (0 unless the job is rerun).
        file_index: u32,
    },
    /// `bootstrap⏎`, then [`BootstrapLine`] frames and EOD (deprecated).
    Bootstrap,
    /// `btime %s⏎`: the Director's answer to a BTIME signal.
    Btime {
        /// Director clock, microseconds since the epoch.
        micros: u64,
    },
    /// `cancel Job=%s⏎`.
    Cancel {
        /// Unique job name.
        job: &'a [u8],
    },
    /// `endrestore` (no newline).
    EndRestore,
    /// `estimate listing=%d⏎`.
    Estimate {
        /// 1 to list every file.
        listing: i32,
    },
    /// `fileset⏎` or `fileset vss=1⏎`, then fileset lines and EOD.
    Fileset {
        /// ` vss=1` (EnableVSS, default yes).
        vss: bool,
    },
    /// `getSecureEraseCmd⏎`.
    GetSecureEraseCmd,
    /// `JobId=…`.
    JobStart(JobStart<'a>),
    /// `level = …`.
    Level(Level<'a>),
    /// `pluginoptions %s⏎`.
    PluginOptions(&'a [u8]),
    /// `resolve %s` (no newline).
    Resolve(&'a [u8]),
    /// `restore …`.
    Restore(Restore<'a>),
    /// `restoreobject JobId=…`.
    RestoreObject(RestoreObject<'a>),
    /// `restoreobject end⏎`.
    RestoreObjectEnd,
    /// `RunBeforeNow⏎`.
    RunBeforeNow,
    /// `Run OnSuccess=…`.
    RunScript(RunScript<'a>),
    /// `session …` (deprecated).
    Session(Session<'a>),
    /// `setauthorization Authorization=%s⏎` (passive restore/verify).
    SetAuthorization {
        /// The session key.
        authorization: &'a [u8],
    },
    /// `setbandwidth=%lld Job=%s⏎`.
    SetBandwidth {
        /// Bytes per second.
        limit: i64,
        /// Unique job name; empty for the global limit.
        job: &'a [u8],
    },
    /// `setdebug=…`.
    SetDebug(SetDebug),
    /// `status` (no newline).
    Status,
    /// `.status %s` (no newline).
    DotStatus {
        /// `current`, `last`, `header`, `running` or `terminated`.
        arg: &'a [u8],
    },
    /// `storage address=…`.
    Storage(Storage<'a>),
    /// `verify level=%s⏎`.
    Verify {
        /// `init`, `catalog`, `volume`, `data` or `disk_to_catalog`.
        level: &'a [u8],
    },
    /// A frame that matches no command (the FD answers `2999 Invalid command⏎`).
    Unknown(&'a [u8]),
}

impl<'a> DirCommand<'a> {
    /// Parse one command frame. Dispatch follows the FD's prefix table; a frame that
    /// matches a command word but not its grammar is an error, one that matches no word is
    /// [`DirCommand::Unknown`].
    pub fn parse(input: &'a [u8]) -> Result<Self> {
        check_frame_len(input)?;
        let p = |prefix: &[u8]| input.starts_with(prefix);
        let mut s = Scanner::new(input);
        if p(b"accurate") {
            s.lit(b"accurate files=")?;
            let files = s.u64()?;
            end_line(&mut s)?;
            Ok(DirCommand::Accurate { files })
        } else if p(b"backup") {
            s.lit(b"backup FileIndex=")?;
            let file_index = s.u32()?;
            end_line(&mut s)?;
            Ok(DirCommand::Backup { file_index })
        } else if p(b"bootstrap") {
            Ok(DirCommand::Bootstrap)
        } else if p(b"btime ") {
            s.lit(b"btime ")?;
            let micros = s.u64()?;
            end_line(&mut s)?;
            Ok(DirCommand::Btime { micros })
        } else if p(b"cancel") {
            s.lit(b"cancel Job=")?;
            let job = bounded_word(&mut s, MAX_JOB_NAME_LEN)?;
            end_line(&mut s)?;
            Ok(DirCommand::Cancel { job })
        } else if p(b"endrestore") {
            Ok(DirCommand::EndRestore)
        } else if p(b"estimate") {
            s.lit(b"estimate listing=")?;
            let listing = s.i32()?;
            end_line(&mut s)?;
            Ok(DirCommand::Estimate { listing })
        } else if p(b"fileset") {
            s.lit(b"fileset")?;
            let vss = s.try_lit(b" vss=1");
            end_line(&mut s)?;
            Ok(DirCommand::Fileset { vss })
        } else if p(b"JobId=") {
            Ok(DirCommand::JobStart(parse_job_start(&mut s)?))
        } else if p(b"level = ") {
            Ok(DirCommand::Level(parse_level(input)?))
        } else if p(b"pluginoptions") {
            s.lit(b"pluginoptions ")?;
            Ok(DirCommand::PluginOptions(rest_of_line(&s)?))
        } else if p(b"RunBeforeNow") {
            Ok(DirCommand::RunBeforeNow)
        } else if p(b"Run") {
            Ok(DirCommand::RunScript(parse_run_script(&mut s)?))
        } else if p(b"restoreobject") {
            if p(b"restoreobject end") {
                return Ok(DirCommand::RestoreObjectEnd);
            }
            Ok(DirCommand::RestoreObject(parse_restore_object(&mut s)?))
        } else if p(b"restore ") {
            Ok(DirCommand::Restore(parse_restore(&mut s)?))
        } else if p(b"resolve ") {
            // Exactly one separating space; the rest is the host name as sent.
            Ok(DirCommand::Resolve(input.get(8..).unwrap_or(&[])))
        } else if p(b"getSecureEraseCmd") {
            Ok(DirCommand::GetSecureEraseCmd)
        } else if p(b"session") {
            s.lit(b"session ")?;
            let volume = bounded_word(&mut s, MAX_JOB_NAME_LEN)?;
            let mut numbers = [0i64; 6];
            for n in &mut numbers {
                s.lit(b" ")?;
                *n = s.i64()?;
            }
            end_line(&mut s)?;
            Ok(DirCommand::Session(Session { volume, numbers }))
        } else if p(b"setauthorization") {
            s.lit(b"setauthorization Authorization=")?;
            let authorization = bounded_word(&mut s, MAX_AUTHORIZATION_LEN)?;
            end_line(&mut s)?;
            Ok(DirCommand::SetAuthorization { authorization })
        } else if p(b"setbandwidth=") {
            s.lit(b"setbandwidth=")?;
            let limit = s.i64()?;
            s.lit(b" Job=")?;
            let job = s.word();
            if job.len() > MAX_JOB_NAME_LEN {
                return Err(Error::FieldTooLong);
            }
            end_line(&mut s)?;
            Ok(DirCommand::SetBandwidth { limit, job })
        } else if p(b"setdebug=") {
            s.lit(b"setdebug=")?;
            let level = s.i32()?;
            s.lit(b" trace=")?;
            let trace = s.i32()?;
            let mut hangup = None;
            let mut timestamp = None;
            if s.try_lit(b" hangup=") {
                hangup = Some(s.i32()?);
                if s.try_lit(b" timestamp=") {
                    timestamp = Some(s.i32()?);
                }
            }
            end_line(&mut s)?;
            Ok(DirCommand::SetDebug(SetDebug {
                level,
                trace,
                hangup,
                timestamp,
            }))
        } else if p(b"status") {
            Ok(DirCommand::Status)
        } else if p(b".status") {
            s.lit(b".status ")?;
            let arg = s.nonempty_word()?;
            end_line(&mut s)?;
            Ok(DirCommand::DotStatus { arg })
        } else if p(b"storage ") {
            Ok(DirCommand::Storage(parse_storage(&mut s)?))
        } else if p(b"verify") {
            s.lit(b"verify level=")?;
            let level = bounded_word(&mut s, MAX_VERIFY_LEVEL_LEN)?;
            end_line(&mut s)?;
            Ok(DirCommand::Verify { level })
        } else {
            Ok(DirCommand::Unknown(input))
        }
    }

    /// Which data frames follow this command up to EOD, if any.
    pub const fn payload(&self) -> Option<Payload> {
        match self {
            DirCommand::Fileset { .. } => Some(Payload::Fileset),
            DirCommand::Accurate { .. } => Some(Payload::Accurate),
            DirCommand::Bootstrap => Some(Payload::Bootstrap),
            _ => None,
        }
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<()> {
        match *self {
            DirCommand::Accurate { files } => {
                w.bytes(b"accurate files=");
                w.u64(files);
                w.byte(b'\n');
            }
            DirCommand::Backup { file_index } => {
                w.bytes(b"backup FileIndex=");
                w.u64(file_index.into());
                w.byte(b'\n');
            }
            DirCommand::Bootstrap => w.bytes(b"bootstrap\n"),
            DirCommand::Btime { micros } => {
                w.bytes(b"btime ");
                w.u64(micros);
                w.byte(b'\n');
            }
            DirCommand::Cancel { job } => {
                check_bounded(job, false, MAX_JOB_NAME_LEN)?;
                w.bytes(b"cancel Job=");
                w.bytes(job);
                w.byte(b'\n');
            }
            DirCommand::EndRestore => w.bytes(b"endrestore"),
            DirCommand::Estimate { listing } => {
                w.bytes(b"estimate listing=");
                w.i64(listing.into());
                w.byte(b'\n');
            }
            DirCommand::Fileset { vss } => {
                w.bytes(if vss {
                    b"fileset vss=1\n"
                } else {
                    b"fileset\n"
                });
            }
            DirCommand::GetSecureEraseCmd => w.bytes(b"getSecureEraseCmd\n"),
            DirCommand::JobStart(ref j) => {
                check_bounded(j.job, false, MAX_JOB_NAME_LEN)?;
                check_bounded(j.authorization, false, MAX_AUTHORIZATION_LEN)?;
                w.bytes(b"JobId=");
                w.u64(j.job_id.into());
                w.bytes(b" Job=");
                w.bytes(j.job);
                w.bytes(b" SDid=");
                w.u64(j.sd_id.into());
                w.bytes(b" SDtime=");
                w.u64(j.sd_time.into());
                w.bytes(b" Authorization=");
                w.bytes(j.authorization);
                if let Some(ssl) = j.ssl {
                    w.bytes(b" ssl=");
                    w.u64(ssl.into());
                }
                w.byte(b'\n');
            }
            DirCommand::Level(Level::Backup {
                accurate,
                level,
                rerunning,
                mtime_only,
            }) => {
                w.bytes(b"level = ");
                if accurate {
                    w.bytes(b"accurate_");
                }
                w.bytes(level.as_bytes());
                w.bytes(if rerunning {
                    b" rerunning "
                } else {
                    b" ".as_slice()
                });
                w.bytes(b" mtime_only=");
                w.i64(mtime_only.into());
                w.bytes(b" \n");
            }
            DirCommand::Level(Level::Since {
                utime,
                mtime_only,
                prev_job,
            }) => {
                check_bounded(prev_job, true, MAX_JOB_NAME_LEN)?;
                w.bytes(b"level = since_utime ");
                w.u64(utime);
                w.bytes(b" mtime_only=");
                w.i64(mtime_only.into());
                w.bytes(b" prev_job=");
                w.bytes(prev_job);
                w.byte(b'\n');
            }
            DirCommand::PluginOptions(o) => {
                check_line(o)?;
                w.bytes(b"pluginoptions ");
                w.bytes(o);
                w.byte(b'\n');
            }
            DirCommand::Resolve(h) => {
                w.bytes(b"resolve ");
                w.bytes(h);
            }
            DirCommand::Restore(ref r) => {
                w.bytes(b"restore replace=");
                w.byte(r.replace.to_u8());
                w.bytes(b" prelinks=");
                w.i64(r.prelinks.into());
                let (key, value) = match r.target {
                    RestoreTarget::Where(v) => (b" where=".as_slice(), v),
                    RestoreTarget::RegexWhere(v) => (b" regexwhere=".as_slice(), v),
                };
                check_line(value)?;
                if is_space(r.replace.to_u8()) {
                    return Err(Error::Malformed);
                }
                w.bytes(key);
                w.bytes(value);
                w.byte(b'\n');
            }
            DirCommand::RestoreObject(ref o) => {
                w.bytes(b"restoreobject JobId=");
                w.u64(o.job_id.into());
                w.byte(b' ');
                for (i, n) in [
                    o.object_len,
                    o.object_full_len,
                    o.object_index,
                    o.object_type,
                    o.object_compression,
                    o.file_index,
                ]
                .into_iter()
                .enumerate()
                {
                    if i > 0 {
                        w.byte(b',');
                    }
                    w.i64(n);
                }
                if let Some(name) = o.plugin_name {
                    check_line(name)?;
                    w.byte(b',');
                    w.bytes(name);
                }
                w.byte(b'\n');
            }
            DirCommand::RestoreObjectEnd => w.bytes(b"restoreobject end\n"),
            DirCommand::RunBeforeNow => w.bytes(b"RunBeforeNow\n"),
            DirCommand::RunScript(ref r) => {
                check_line(r.command)?;
                w.bytes(b"Run OnSuccess=");
                w.i64(r.on_success.into());
                w.bytes(b" OnFailure=");
                w.i64(r.on_failure.into());
                w.bytes(b" AbortOnError=");
                w.i64(r.abort_on_error.into());
                w.bytes(b" When=");
                w.i64(r.when.into());
                w.bytes(b" Command=");
                w.bytes(r.command);
                w.byte(b'\n');
            }
            DirCommand::Session(ref ses) => {
                check_bounded(ses.volume, false, MAX_JOB_NAME_LEN)?;
                w.bytes(b"session ");
                w.bytes(ses.volume);
                for n in ses.numbers {
                    w.byte(b' ');
                    w.i64(n);
                }
                w.byte(b'\n');
            }
            DirCommand::SetAuthorization { authorization } => {
                check_bounded(authorization, false, MAX_AUTHORIZATION_LEN)?;
                w.bytes(b"setauthorization Authorization=");
                w.bytes(authorization);
                w.byte(b'\n');
            }
            DirCommand::SetBandwidth { limit, job } => {
                check_bounded(job, true, MAX_JOB_NAME_LEN)?;
                w.bytes(b"setbandwidth=");
                w.i64(limit);
                w.bytes(b" Job=");
                w.bytes(job);
                w.byte(b'\n');
            }
            DirCommand::SetDebug(d) => {
                if d.timestamp.is_some() && d.hangup.is_none() {
                    return Err(Error::Malformed);
                }
                w.bytes(b"setdebug=");
                w.i64(d.level.into());
                w.bytes(b" trace=");
                w.i64(d.trace.into());
                if let Some(h) = d.hangup {
                    w.bytes(b" hangup=");
                    w.i64(h.into());
                }
                if let Some(t) = d.timestamp {
                    w.bytes(b" timestamp=");
                    w.i64(t.into());
                }
                w.byte(b'\n');
            }
            DirCommand::Status => w.bytes(b"status"),
            DirCommand::DotStatus { arg } => {
                check_word(arg, false)?;
                w.bytes(b".status ");
                w.bytes(arg);
            }
            DirCommand::Storage(ref st) => {
                check_bounded(st.address, false, MAX_ADDRESS_LEN)?;
                w.bytes(b"storage address=");
                w.bytes(st.address);
                w.bytes(b" port=");
                w.u64(st.port.into());
                w.bytes(b" ssl=");
                w.u64(st.ssl.into());
                if let Some(a) = st.authorization {
                    check_bounded(a, false, MAX_AUTHORIZATION_LEN)?;
                    w.bytes(b" Authorization=");
                    w.bytes(a);
                }
                w.byte(b'\n');
            }
            DirCommand::Verify { level } => {
                check_bounded(level, false, MAX_VERIFY_LEVEL_LEN)?;
                w.bytes(b"verify level=");
                w.bytes(level);
                w.byte(b'\n');
            }
            DirCommand::Unknown(raw) => w.bytes(raw),
        }
        Ok(())
    }
}

codec_impl!(DirCommand<'_>);

fn parse_job_start<'a>(s: &mut Scanner<'a>) -> Result<JobStart<'a>> {
    s.lit(b"JobId=")?;
    let job_id = s.u32()?;
    s.lit(b" Job=")?;
    let job = bounded_word(s, MAX_JOB_NAME_LEN)?;
    s.lit(b" SDid=")?;
    let sd_id = s.u32()?;
    s.lit(b" SDtime=")?;
    let sd_time = s.u32()?;
    s.lit(b" Authorization=")?;
    let authorization = bounded_word(s, MAX_AUTHORIZATION_LEN)?;
    let ssl = if s.try_lit(b" ssl=") {
        Some(s.u32()?)
    } else {
        None
    };
    end_line(s)?;
    Ok(JobStart {
        job_id,
        job,
        sd_id,
        sd_time,
        authorization,
        ssl,
    })
}

fn parse_level(input: &[u8]) -> Result<Level<'_>> {
    let rest = input.strip_prefix(b"level = ").ok_or(Error::Malformed)?;
    if let Some(since) = rest.strip_prefix(b"since_utime ") {
        let mut s = Scanner::new(since);
        let utime = s.u64()?;
        s.lit(b" mtime_only=")?;
        let mtime_only = s.i32()?;
        s.lit(b" prev_job=")?;
        let prev_job = s.word();
        if prev_job.len() > MAX_JOB_NAME_LEN {
            return Err(Error::FieldTooLong);
        }
        end_line(&mut s)?;
        return Ok(Level::Since {
            utime,
            mtime_only,
            prev_job,
        });
    }
    let (accurate, rest) = match rest.strip_prefix(b"accurate_") {
        Some(r) => (true, r),
        None => (false, rest),
    };
    let mut s = Scanner::new(rest);
    let word = s.nonempty_word()?;
    let level = match word {
        b"base" => LevelWord::Base,
        b"differential" => LevelWord::Differential,
        b"full" => LevelWord::Full,
        b"incremental" => LevelWord::Incremental,
        _ => return Err(Error::Unrecognized),
    };
    let rerunning = s.try_lit(b" rerunning");
    s.lit(b" mtime_only=")?;
    let mtime_only = s.i32()?;
    end_line(&mut s)?;
    Ok(Level::Backup {
        accurate,
        level,
        rerunning,
        mtime_only,
    })
}

fn parse_run_script<'a>(s: &mut Scanner<'a>) -> Result<RunScript<'a>> {
    s.lit(b"Run OnSuccess=")?;
    let on_success = s.i32()?;
    s.lit(b" OnFailure=")?;
    let on_failure = s.i32()?;
    s.lit(b" AbortOnError=")?;
    let abort_on_error = s.i32()?;
    s.lit(b" When=")?;
    let when = s.i32()?;
    s.lit(b" Command=")?;
    let command = rest_of_line(s)?;
    Ok(RunScript {
        on_success,
        on_failure,
        abort_on_error,
        when,
        command,
    })
}

fn parse_restore_object<'a>(s: &mut Scanner<'a>) -> Result<RestoreObject<'a>> {
    s.lit(b"restoreobject JobId=")?;
    let job_id = s.u32()?;
    s.lit(b" ")?;
    let mut n = [0i64; 6];
    for (i, v) in n.iter_mut().enumerate() {
        if i > 0 {
            s.lit(b",")?;
        }
        *v = s.i64()?;
    }
    let plugin_name = if s.try_lit(b",") {
        Some(rest_of_line(s)?)
    } else {
        end_line(s)?;
        None
    };
    Ok(RestoreObject {
        job_id,
        object_len: n[0],
        object_full_len: n[1],
        object_index: n[2],
        object_type: n[3],
        object_compression: n[4],
        file_index: n[5],
        plugin_name,
    })
}

fn parse_restore<'a>(s: &mut Scanner<'a>) -> Result<Restore<'a>> {
    s.lit(b"restore replace=")?;
    let replace = match s.rest().first() {
        Some(&b) if !is_space(b) => Replace::from_u8(b),
        Some(_) => return Err(Error::Malformed),
        None => return Err(Error::Truncated),
    };
    s.lit(&[replace.to_u8()])?;
    s.lit(b" prelinks=")?;
    let prelinks = s.i32()?;
    let target = if s.try_lit(b" where=") {
        RestoreTarget::Where(rest_of_line(s)?)
    } else {
        s.lit(b" regexwhere=")?;
        RestoreTarget::RegexWhere(rest_of_line(s)?)
    };
    Ok(Restore {
        replace,
        prelinks,
        target,
    })
}

fn parse_storage<'a>(s: &mut Scanner<'a>) -> Result<Storage<'a>> {
    s.lit(b"storage address=")?;
    let address = bounded_word(s, MAX_ADDRESS_LEN)?;
    s.lit(b" port=")?;
    let port = s.u32()?;
    s.lit(b" ssl=")?;
    let ssl = s.u32()?;
    let authorization = if s.try_lit(b" Authorization=") {
        Some(bounded_word(s, MAX_AUTHORIZATION_LEN)?)
    } else {
        None
    };
    end_line(s)?;
    Ok(Storage {
        address,
        port,
        ssl,
        authorization,
    })
}

// ---------------------------------------------------------------------------------------
// Payload frames
// ---------------------------------------------------------------------------------------

/// One entry of the accurate file list: `«path»␀«lstat»␀«checksum»␀«delta_seq»`, no
/// trailing NUL (`core/src/dird/backup.cc` `AccurateListHandler()`, jobs.md §9.3).
/// Directories end in `/`; the checksum is empty unless the fileset compares digests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AccurateEntry<'a> {
    /// Full path (directories with a trailing `/`).
    pub path: &'a [u8],
    /// The encoded stat packet (Bareos base64 fields).
    pub lstat: &'a [u8],
    /// The digest in base64, or empty.
    pub checksum: &'a [u8],
    /// The delta sequence number.
    pub delta_seq: u32,
}

impl<'a> AccurateEntry<'a> {
    /// Parse one accurate list frame.
    pub fn parse(input: &'a [u8]) -> Result<Self> {
        check_frame_len(input)?;
        let mut parts = input.splitn(4, |&b| b == 0);
        let path = parts.next().ok_or(Error::Truncated)?;
        let lstat = parts.next().ok_or(Error::Truncated)?;
        let checksum = parts.next().ok_or(Error::Truncated)?;
        let delta = parts.next().ok_or(Error::Truncated)?;
        if path.is_empty() || lstat.is_empty() {
            return Err(Error::Malformed);
        }
        let mut s = Scanner::new(delta);
        let delta_seq = s.u32()?;
        s.end(false)?;
        Ok(AccurateEntry {
            path,
            lstat,
            checksum,
            delta_seq,
        })
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<()> {
        if self.path.is_empty()
            || self.lstat.is_empty()
            || [self.path, self.lstat, self.checksum]
                .iter()
                .any(|f| f.contains(&0))
        {
            return Err(Error::Malformed);
        }
        w.bytes(self.path);
        w.byte(0);
        w.bytes(self.lstat);
        w.byte(0);
        w.bytes(self.checksum);
        w.byte(0);
        w.u64(self.delta_seq.into());
        Ok(())
    }
}

codec_impl!(AccurateEntry<'_>);

/// One line of a bootstrap (bsr) stream: `Keyword=value⏎` (jobs.md §6.2). Only the split
/// is checked here; the bsr grammar belongs to the SD.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BootstrapLine<'a> {
    /// The keyword (case-insensitive in Bareos), e.g. `Volume`.
    pub keyword: &'a [u8],
    /// Everything after the first `=` (quotes kept), e.g. `"Cap-0001"`.
    pub value: &'a [u8],
}

impl<'a> BootstrapLine<'a> {
    /// Parse one bootstrap frame.
    pub fn parse(input: &'a [u8]) -> Result<Self> {
        check_frame_len(input)?;
        let body = input.strip_suffix(b"\n").ok_or(Error::Truncated)?;
        let eq = body
            .iter()
            .position(|&b| b == b'=')
            .ok_or(Error::Malformed)?;
        let (keyword, value) = (&body[..eq], &body[eq + 1..]);
        if keyword.is_empty() || keyword.iter().any(|&b| is_space(b) || b == 0) {
            return Err(Error::Malformed);
        }
        // One line, no NUL: the same rule `emit` applies (the dir_cmd fuzz target found a
        // value with an embedded NUL that parsed but could not be re-emitted).
        check_line(value)?;
        Ok(BootstrapLine { keyword, value })
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<()> {
        if self.keyword.is_empty() || self.keyword.iter().any(|&b| is_space(b) || b == b'=') {
            return Err(Error::Malformed);
        }
        check_line(self.value)?;
        w.bytes(self.keyword);
        w.byte(b'=');
        w.bytes(self.value);
        w.byte(b'\n');
        Ok(())
    }
}

codec_impl!(BootstrapLine<'_>);

/// One line of an `estimate listing=1` answer (or an M_RESTORED ls line), built by
/// `core/src/lib/attr.cc` `attr_to_ls_output()`:
/// `"%s  %2u %-8.8s %-8.8s%12.12s %s  %s[ -> %s]\n"` = mode string, nlink, owner, group,
/// size, **ctime** as `YYYY-MM-DD HH:MM:SS`, name, symlink target.
///
/// ```text
/// -rw-r--r--   1 root     root             256 2026-11-22 15:46:43  /srv/bareos-capture/testdata/tree/sub/bytes.bin⏎
/// ```
///
/// (vectors/clear-estimate, conn 2 msg 24.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LsLine<'a> {
    /// A file that exists.
    Entry {
        /// The 10-character mode string (`-rw-r--r--`).
        mode: &'a [u8],
        /// Link count.
        nlink: u32,
        /// Owner name or uid, at most 8 bytes (trailing padding removed).
        owner: &'a [u8],
        /// Group name or gid, at most 8 bytes.
        group: &'a [u8],
        /// Size in bytes.
        size: i64,
        /// `YYYY-MM-DD HH:MM:SS` (19 bytes).
        ctime: &'a [u8],
        /// Path.
        name: &'a [u8],
        /// Symlink target (only for mode strings starting with `l`).
        link: Option<&'a [u8]>,
    },
    /// An FT_DELETED entry: dashes instead of attributes.
    Deleted {
        /// Path.
        name: &'a [u8],
    },
}

const LS_DELETED: &[u8] = b"----------   - -        -                - ---------- --------  ";

impl<'a> LsLine<'a> {
    /// Parse one listing line.
    pub fn parse(input: &'a [u8]) -> Result<Self> {
        check_frame_len(input)?;
        let body = input.strip_suffix(b"\n").ok_or(Error::Truncated)?;
        if let Some(name) = body.strip_prefix(LS_DELETED) {
            return Ok(LsLine::Deleted { name });
        }
        let mode = body.get(..10).ok_or(Error::Truncated)?;
        let rest = body.get(10..).ok_or(Error::Truncated)?;
        let rest = rest.strip_prefix(b"  ").ok_or(Error::Malformed)?;
        // %2u: right-aligned in at least two columns.
        let mut s = Scanner::new(rest);
        if rest.first() == Some(&b' ') {
            s.lit(b" ")?;
        }
        let nlink = s.u32()?;
        let rest = s.rest().strip_prefix(b" ").ok_or(Error::Malformed)?;
        let owner = rest.get(..8).ok_or(Error::Truncated)?;
        let rest = rest.get(8..).ok_or(Error::Truncated)?;
        let rest = rest.strip_prefix(b" ").ok_or(Error::Malformed)?;
        let group = rest.get(..8).ok_or(Error::Truncated)?;
        let size_field = rest.get(8..20).ok_or(Error::Truncated)?;
        let rest = rest.get(20..).ok_or(Error::Truncated)?;
        let rest = rest.strip_prefix(b" ").ok_or(Error::Malformed)?;
        let ctime = rest.get(..19).ok_or(Error::Truncated)?;
        let rest = rest.get(19..).ok_or(Error::Truncated)?;
        let name_part = rest.strip_prefix(b"  ").ok_or(Error::Malformed)?;
        let trim = |f: &'a [u8]| {
            let n = f.iter().rposition(|&b| b != b' ').map_or(0, |i| i + 1);
            &f[..n]
        };
        let size_str = {
            let n = size_field
                .iter()
                .position(|&b| b != b' ')
                .ok_or(Error::BadNumber)?;
            &size_field[n..]
        };
        let mut ss = Scanner::new(size_str);
        let size = ss.i64()?;
        ss.end(false)?;
        let (name, link) = if mode.first() == Some(&b'l') {
            match find(name_part, b" -> ") {
                Some(i) => (&name_part[..i], Some(&name_part[i + 4..])),
                None => (name_part, None),
            }
        } else {
            (name_part, None)
        };
        let line = LsLine::Entry {
            mode,
            nlink,
            owner: trim(owner),
            group: trim(group),
            size,
            ctime,
            name,
            link,
        };
        Ok(line)
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<()> {
        match *self {
            LsLine::Deleted { name } => {
                check_line(name)?;
                w.bytes(LS_DELETED);
                w.bytes(name);
            }
            LsLine::Entry {
                mode,
                nlink,
                owner,
                group,
                size,
                ctime,
                name,
                link,
            } => {
                if mode.len() != 10 || ctime.len() != 19 || owner.len() > 8 || group.len() > 8 {
                    return Err(Error::Malformed);
                }
                check_line(name)?;
                w.bytes(mode);
                w.bytes(b"  ");
                if nlink < 10 {
                    w.byte(b' ');
                }
                w.u64(nlink.into());
                w.byte(b' ');
                pad_right(w, owner, 8);
                w.byte(b' ');
                pad_right(w, group, 8);
                let mut tmp = [0u8; 20];
                let mut t = Writer::new(&mut tmp);
                t.i64(size);
                let n = t.finish()?;
                let digits = tmp.get(..n).ok_or(Error::BufferTooSmall)?;
                if n > 12 {
                    return Err(Error::Malformed);
                }
                for _ in n..12 {
                    w.byte(b' ');
                }
                w.bytes(digits);
                w.byte(b' ');
                w.bytes(ctime);
                w.bytes(b"  ");
                w.bytes(name);
                if let Some(l) = link {
                    check_line(l)?;
                    w.bytes(b" -> ");
                    w.bytes(l);
                }
            }
        }
        w.byte(b'\n');
        Ok(())
    }
}

codec_impl!(LsLine<'_>);

fn pad_right(w: &mut Writer<'_>, field: &[u8], width: usize) {
    w.bytes(field);
    for _ in field.len()..width {
        w.byte(b' ');
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The FD's answer to `resolve «host»` (`core/src/filed/dir_cmd.cc` `ResolveCmd()`), bare
/// text followed by EOD: `«fd» resolves «host» to «addresses»⏎` or
/// `«fd»: Failed to resolve «host»⏎`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResolveReply<'a> {
    /// The host resolved.
    Resolved {
        /// The FD's resource name.
        fd: &'a [u8],
        /// The host as asked.
        host: &'a [u8],
        /// The address list as the FD formats it.
        addresses: &'a [u8],
    },
    /// The host did not resolve.
    Failed {
        /// The FD's resource name.
        fd: &'a [u8],
        /// The host as asked.
        host: &'a [u8],
    },
}

impl<'a> ResolveReply<'a> {
    /// Parse one resolve answer.
    pub fn parse(input: &'a [u8]) -> Result<Self> {
        check_frame_len(input)?;
        let body = input.strip_suffix(b"\n").ok_or(Error::Truncated)?;
        check_line(body)?;
        let mut s = Scanner::new(body);
        let first = s.nonempty_word()?;
        if let Some(fd) = first.strip_suffix(b":") {
            s.lit(b" Failed to resolve ")?;
            let host = s.nonempty_word()?;
            s.end(false)?;
            if fd.is_empty() {
                return Err(Error::Malformed);
            }
            return Ok(ResolveReply::Failed { fd, host });
        }
        s.lit(b" resolves ")?;
        let host = s.nonempty_word()?;
        s.lit(b" to")?;
        let addresses = s.rest().strip_prefix(b" ").ok_or(Error::Truncated)?;
        Ok(ResolveReply::Resolved {
            fd: first,
            host,
            addresses,
        })
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<()> {
        match *self {
            ResolveReply::Resolved {
                fd,
                host,
                addresses,
            } => {
                check_word(fd, false)?;
                check_word(host, false)?;
                check_line(addresses)?;
                if fd.ends_with(b":") {
                    return Err(Error::Malformed);
                }
                w.bytes(fd);
                w.bytes(b" resolves ");
                w.bytes(host);
                w.bytes(b" to ");
                w.bytes(addresses);
            }
            ResolveReply::Failed { fd, host } => {
                check_word(fd, false)?;
                check_word(host, false)?;
                w.bytes(fd);
                w.bytes(b": Failed to resolve ");
                w.bytes(host);
            }
        }
        w.byte(b'\n');
        Ok(())
    }
}

codec_impl!(ResolveReply<'_>);

// ---------------------------------------------------------------------------------------
// FD → Director replies
// ---------------------------------------------------------------------------------------

/// The fixed `2000 OK …⏎` replies (`core/src/filed/dir_cmd.cc`, jobs.md §1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum OkReply {
    /// `2000 OK⏎` (answer to a POLL signal, `core/src/lib/bget_msg.cc`).
    Poll,
    /// `2000 OK Authorization⏎`.
    Authorization,
    /// `2000 OK Bandwidth⏎`.
    Bandwidth,
    /// `2000 OK include⏎`.
    Include,
    /// `2000 OK level⏎`.
    Level,
    /// `2000 OK backup⏎`.
    Backup,
    /// `2000 OK bootstrap⏎`.
    Bootstrap,
    /// `2000 OK verify⏎`.
    Verify,
    /// `2000 OK restore⏎`.
    Restore,
    /// `2000 OK session⏎`.
    Session,
    /// `2000 OK storage⏎`.
    Storage,
    /// `2000 OK storage end⏎`.
    StorageEnd,
    /// `2000 OK RunBeforeNow⏎`.
    RunBeforeNow,
    /// `2000 OK RunScript⏎`.
    RunScript,
    /// `2000 OK ObjectRestored⏎`.
    ObjectRestored,
    /// `2000 OK PluginOptions⏎`.
    PluginOptions,
    /// `2000 OK .status⏎`.
    DotStatus,
}

const OK_REPLIES: [(OkReply, &[u8]); 17] = [
    (OkReply::Poll, b"2000 OK\n"),
    (OkReply::Authorization, b"2000 OK Authorization\n"),
    (OkReply::Bandwidth, b"2000 OK Bandwidth\n"),
    (OkReply::Include, b"2000 OK include\n"),
    (OkReply::Level, b"2000 OK level\n"),
    (OkReply::Backup, b"2000 OK backup\n"),
    (OkReply::Bootstrap, b"2000 OK bootstrap\n"),
    (OkReply::Verify, b"2000 OK verify\n"),
    (OkReply::Restore, b"2000 OK restore\n"),
    (OkReply::Session, b"2000 OK session\n"),
    (OkReply::Storage, b"2000 OK storage\n"),
    (OkReply::StorageEnd, b"2000 OK storage end\n"),
    (OkReply::RunBeforeNow, b"2000 OK RunBeforeNow\n"),
    (OkReply::RunScript, b"2000 OK RunScript\n"),
    (OkReply::ObjectRestored, b"2000 OK ObjectRestored\n"),
    (OkReply::PluginOptions, b"2000 OK PluginOptions\n"),
    (OkReply::DotStatus, b"2000 OK .status\n"),
];

/// The FD's fixed error replies, and `2999 Terminate⏎` (POLL during shutdown).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum FixedError {
    /// `2901 Bad Job⏎`.
    BadJob,
    /// `2902 Error scanning cancel command.⏎`.
    CancelScan,
    /// `2905 Failed RunScript⏎`.
    FailedRunScript,
    /// `2905 Bad PluginOptions command.⏎`.
    BadPluginOptions,
    /// `2909 Bad RestoreObject command.⏎`.
    BadRestoreObject,
    /// `2991 Bad accurate command⏎`.
    BadAccurate,
    /// `2992 Bad estimate command.⏎`.
    BadEstimate,
    /// `2997 Invalid command for a Director with Monitor directive enabled.⏎`.
    MonitorDenied,
    /// `2999 Invalid command⏎`: unknown command, the session ends.
    InvalidCommand,
    /// `2999 Terminate⏎`.
    Terminate,
}

const FIXED_ERRORS: [(FixedError, &[u8]); 10] = [
    (FixedError::BadJob, b"2901 Bad Job\n"),
    (
        FixedError::CancelScan,
        b"2902 Error scanning cancel command.\n",
    ),
    (FixedError::FailedRunScript, b"2905 Failed RunScript\n"),
    (
        FixedError::BadPluginOptions,
        b"2905 Bad PluginOptions command.\n",
    ),
    (
        FixedError::BadRestoreObject,
        b"2909 Bad RestoreObject command.\n",
    ),
    (FixedError::BadAccurate, b"2991 Bad accurate command\n"),
    (FixedError::BadEstimate, b"2992 Bad estimate command.\n"),
    (
        FixedError::MonitorDenied,
        b"2997 Invalid command for a Director with Monitor directive enabled.\n",
    ),
    (FixedError::InvalidCommand, b"2999 Invalid command\n"),
    (FixedError::Terminate, b"2999 Terminate\n"),
];

/// Error replies that carry a text (`%s`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum TextError {
    /// `2900 Bad .status command, %s⏎` (`missing argument.` / `wrong argument.`).
    BadDotStatus,
    /// `2901 Job %s not found.⏎` (cancel, setbandwidth).
    JobNotFound,
    /// `2902 Bad %s⏎` (`storage`, `backup`, …).
    Bad,
    /// `2991 Bad setbandwidth command: %s⏎`.
    BadSetBandwidth,
    /// `2991 Bad setdebug command: %s⏎`.
    BadSetDebug,
    /// `2994 Bad verify command: %s⏎`.
    BadVerifyCommand,
    /// `2994 Bad verify level: %s⏎`.
    BadVerifyLevel,
}

// (kind, prefix, suffix); checked in order, so longer prefixes of the same code come first.
const TEXT_ERRORS: [(TextError, &[u8], &[u8]); 7] = [
    (
        TextError::BadDotStatus,
        b"2900 Bad .status command, ",
        b"\n",
    ),
    (TextError::JobNotFound, b"2901 Job ", b" not found.\n"),
    (TextError::Bad, b"2902 Bad ", b"\n"),
    (
        TextError::BadSetBandwidth,
        b"2991 Bad setbandwidth command: ",
        b"\n",
    ),
    (
        TextError::BadSetDebug,
        b"2991 Bad setdebug command: ",
        b"\n",
    ),
    (
        TextError::BadVerifyCommand,
        b"2994 Bad verify command: ",
        b"\n",
    ),
    (TextError::BadVerifyLevel, b"2994 Bad verify level: ", b"\n"),
];

/// `2800 End Job TermCode=%d JobFiles=%u ReadBytes=%s JobBytes=%s Errors=%u VSS=%d
/// Encrypt=%d⏎` (jobs.md §1.15). The field list is exactly this in 26.0.0 (no CommBytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct EndJob {
    /// The FD's job status, sent as its decimal character code (84 = `T`).
    pub term_code: JobStatus,
    /// Files (backup: last FileIndex; restore: entries created).
    pub job_files: u32,
    /// Bytes read from files (backup) or received (restore).
    pub read_bytes: u64,
    /// Bytes sent to the SD (backup) or written (restore).
    pub job_bytes: u64,
    /// JobErrors.
    pub errors: u32,
    /// VSS in use (0 on Unix).
    pub vss: i32,
    /// PKI encryption in use.
    pub encrypt: i32,
}

/// `2000 OK setdebug=%d trace=%d hangup=%d[ timestamp=%d] tracefile=%s⏎`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SetDebugReply<'a> {
    /// Debug level.
    pub level: i32,
    /// Trace flag.
    pub trace: i32,
    /// Hangup count.
    pub hangup: i32,
    /// Timestamp flag (v1 form).
    pub timestamp: Option<i32>,
    /// Trace file path.
    pub tracefile: &'a [u8],
}

/// One frame the FD sends on a Director connection (other than status/listing payloads).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FdReply<'a> {
    /// A fixed `2000 OK …⏎`.
    Ok(OkReply),
    /// `2000 OK Job %s (%s) %s,%s` with **no newline**: version, build date, OS, platform.
    /// The Director stores everything after `2000 OK Job ` as the client's uname.
    JobOk {
        /// The text after `2000 OK Job `.
        info: &'a [u8],
    },
    /// `2000 OK FDSecureEraseCmd %s⏎` (`*None*` if unset).
    SecureErase {
        /// The configured command.
        command: &'a [u8],
    },
    /// `2000 OK estimate files=%s bytes=%s⏎` with thousands separators.
    Estimate {
        /// Entries counted.
        files: u64,
        /// Bytes of regular files.
        bytes: u64,
    },
    /// `2000 OK setdebug=…⏎`.
    SetDebug(SetDebugReply<'a>),
    /// `2001 Job %s marked to be canceled.⏎`.
    Canceled {
        /// Unique job name.
        job: &'a [u8],
    },
    /// `2800 End Job …⏎`.
    EndJob(EndJob),
    /// A fixed error line.
    Error(FixedError),
    /// An error line with a text.
    ErrorText(TextError, &'a [u8]),
    /// A job message (`Jmsg Job=…`).
    Jmsg(Jmsg<'a>),
    /// Anything else (bare text such as `resolve` output, unknown codes).
    Unknown(&'a [u8]),
}

impl<'a> FdReply<'a> {
    /// Classify and parse one frame from the FD.
    pub fn parse(input: &'a [u8]) -> Result<Self> {
        check_frame_len(input)?;
        if input.is_empty() {
            return Err(Error::Truncated);
        }
        if input.starts_with(b"Jmsg ") {
            return Jmsg::parse(input).map(FdReply::Jmsg);
        }
        if let Some((k, _)) = OK_REPLIES.iter().find(|(_, b)| *b == input) {
            return Ok(FdReply::Ok(*k));
        }
        if let Some((k, _)) = FIXED_ERRORS.iter().find(|(_, b)| *b == input) {
            return Ok(FdReply::Error(*k));
        }
        if let Some(info) = input.strip_prefix(b"2000 OK Job ") {
            if info.is_empty() || info.contains(&b'\n') {
                return Err(Error::Malformed);
            }
            return Ok(FdReply::JobOk { info });
        }
        if let Some(rest) = input.strip_prefix(b"2000 OK FDSecureEraseCmd ") {
            let command = rest.strip_suffix(b"\n").ok_or(Error::Truncated)?;
            check_line(command)?;
            return Ok(FdReply::SecureErase { command });
        }
        if let Some(rest) = input.strip_prefix(b"2000 OK estimate files=") {
            let mut s = Scanner::new(rest);
            let files = comma_number(&mut s)?;
            s.lit(b" bytes=")?;
            let bytes = comma_number(&mut s)?;
            s.lit(b"\n")?;
            s.end(false)?;
            return Ok(FdReply::Estimate { files, bytes });
        }
        if input.starts_with(b"2000 OK setdebug=") {
            return parse_setdebug_reply(input).map(FdReply::SetDebug);
        }
        if let Some(rest) = input.strip_prefix(b"2001 Job ") {
            let job = rest
                .strip_suffix(b" marked to be canceled.\n")
                .ok_or(Error::Malformed)?;
            check_word(job, false)?;
            return Ok(FdReply::Canceled { job });
        }
        if input.starts_with(b"2800 End Job ") {
            return parse_end_job(input).map(FdReply::EndJob);
        }
        for (kind, prefix, suffix) in TEXT_ERRORS {
            if let Some(rest) = input.strip_prefix(prefix) {
                if let Some(text) = rest.strip_suffix(suffix) {
                    if check_line(text).is_ok() {
                        return Ok(FdReply::ErrorText(kind, text));
                    }
                }
            }
        }
        Ok(FdReply::Unknown(input))
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<()> {
        match *self {
            FdReply::Ok(k) => {
                let (_, b) = OK_REPLIES
                    .iter()
                    .find(|(x, _)| *x == k)
                    .ok_or(Error::Malformed)?;
                w.bytes(b);
            }
            FdReply::Error(k) => {
                let (_, b) = FIXED_ERRORS
                    .iter()
                    .find(|(x, _)| *x == k)
                    .ok_or(Error::Malformed)?;
                w.bytes(b);
            }
            FdReply::JobOk { info } => {
                if info.is_empty() || info.contains(&b'\n') {
                    return Err(Error::Malformed);
                }
                w.bytes(b"2000 OK Job ");
                w.bytes(info);
            }
            FdReply::SecureErase { command } => {
                check_line(command)?;
                w.bytes(b"2000 OK FDSecureEraseCmd ");
                w.bytes(command);
                w.byte(b'\n');
            }
            FdReply::Estimate { files, bytes } => {
                w.bytes(b"2000 OK estimate files=");
                write_commas(w, files);
                w.bytes(b" bytes=");
                write_commas(w, bytes);
                w.byte(b'\n');
            }
            FdReply::SetDebug(ref d) => {
                check_word(d.tracefile, true)?;
                w.bytes(b"2000 OK setdebug=");
                w.i64(d.level.into());
                w.bytes(b" trace=");
                w.i64(d.trace.into());
                w.bytes(b" hangup=");
                w.i64(d.hangup.into());
                if let Some(t) = d.timestamp {
                    w.bytes(b" timestamp=");
                    w.i64(t.into());
                }
                w.bytes(b" tracefile=");
                w.bytes(d.tracefile);
                w.byte(b'\n');
            }
            FdReply::Canceled { job } => {
                check_word(job, false)?;
                w.bytes(b"2001 Job ");
                w.bytes(job);
                w.bytes(b" marked to be canceled.\n");
            }
            FdReply::EndJob(ref e) => {
                w.bytes(b"2800 End Job TermCode=");
                w.u64(e.term_code.to_u8().into());
                w.bytes(b" JobFiles=");
                w.u64(e.job_files.into());
                w.bytes(b" ReadBytes=");
                w.u64(e.read_bytes);
                w.bytes(b" JobBytes=");
                w.u64(e.job_bytes);
                w.bytes(b" Errors=");
                w.u64(e.errors.into());
                w.bytes(b" VSS=");
                w.i64(e.vss.into());
                w.bytes(b" Encrypt=");
                w.i64(e.encrypt.into());
                w.byte(b'\n');
            }
            FdReply::ErrorText(kind, text) => {
                check_line(text)?;
                let (_, prefix, suffix) = TEXT_ERRORS
                    .iter()
                    .find(|(k, _, _)| *k == kind)
                    .ok_or(Error::Malformed)?;
                w.bytes(prefix);
                w.bytes(text);
                w.bytes(suffix);
            }
            FdReply::Jmsg(ref j) => j.write(w)?,
            FdReply::Unknown(raw) => w.bytes(raw),
        }
        Ok(())
    }
}

codec_impl!(FdReply<'_>);

/// The parts of the `2000 OK Job %s (%s) %s,%s` text: version, short build date, OS
/// description, platform (`core/src/filed/dir_cmd.cc` `job_cmd()`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FdVersionInfo<'a> {
    /// `26.0.0~pre1298.eda204c31`.
    pub version: &'a [u8],
    /// `21Aug26`.
    pub date: &'a [u8],
    /// `Debian GNU/Linux 12 (bookworm)`.
    pub os: &'a [u8],
    /// `debian`.
    pub platform: &'a [u8],
}

impl<'a> FdVersionInfo<'a> {
    /// Split the text after `2000 OK Job `; `None` if it does not have the four parts.
    pub fn split(info: &'a [u8]) -> Option<Self> {
        let open = find(info, b" (")?;
        let version = info.get(..open)?;
        let rest = info.get(open + 2..)?;
        let close = find(rest, b") ")?;
        let date = rest.get(..close)?;
        let rest = rest.get(close + 2..)?;
        let comma = rest.iter().rposition(|&b| b == b',')?;
        Some(FdVersionInfo {
            version,
            date,
            os: rest.get(..comma)?,
            platform: rest.get(comma + 1..)?,
        })
    }
}

/// A number printed by `edit_uint64_with_commas()`: groups of three digits separated by
/// commas, the first group 1–3 digits. Only that canonical form is accepted.
fn comma_number(s: &mut Scanner<'_>) -> Result<u64> {
    let mut v: u64 = 0;
    let mut group = 0usize;
    let mut first = true;
    let mut any = false;
    loop {
        match s.rest().first() {
            Some(&d) if d.is_ascii_digit() => {
                v = v
                    .checked_mul(10)
                    .and_then(|v| v.checked_add(u64::from(d - b'0')))
                    .ok_or(Error::BadNumber)?;
                group += 1;
                any = true;
                if first && group > 3 {
                    return Err(Error::BadNumber);
                }
                s.lit(&[d])?;
            }
            Some(b',') => {
                if !any || (!first && group != 3) {
                    return Err(Error::BadNumber);
                }
                // The character after the comma must start a three-digit group.
                first = false;
                group = 0;
                s.lit(b",")?;
            }
            _ => break,
        }
    }
    if !any {
        return Err(if s.is_at_end() {
            Error::Truncated
        } else {
            Error::BadNumber
        });
    }
    if !first && group != 3 {
        return Err(Error::BadNumber);
    }
    Ok(v)
}

fn write_commas(w: &mut Writer<'_>, v: u64) {
    let mut tmp = [0u8; 20];
    let mut n = 0;
    let mut x = v;
    loop {
        tmp[n] = b'0' + (x % 10) as u8;
        n += 1;
        x /= 10;
        if x == 0 {
            break;
        }
    }
    for i in (0..n).rev() {
        w.byte(tmp[i]);
        if i > 0 && i % 3 == 0 {
            w.byte(b',');
        }
    }
}

fn parse_end_job(input: &[u8]) -> Result<EndJob> {
    let mut s = Scanner::new(input);
    s.lit(b"2800 End Job TermCode=")?;
    let term_code = JobStatus::from_decimal(s.u64()?)?;
    s.lit(b" JobFiles=")?;
    let job_files = s.u32()?;
    s.lit(b" ReadBytes=")?;
    let read_bytes = s.u64()?;
    s.lit(b" JobBytes=")?;
    let job_bytes = s.u64()?;
    s.lit(b" Errors=")?;
    let errors = s.u32()?;
    s.lit(b" VSS=")?;
    let vss = s.i32()?;
    s.lit(b" Encrypt=")?;
    let encrypt = s.i32()?;
    s.lit(b"\n")?;
    s.end(false)?;
    Ok(EndJob {
        term_code,
        job_files,
        read_bytes,
        job_bytes,
        errors,
        vss,
        encrypt,
    })
}

fn parse_setdebug_reply(input: &[u8]) -> Result<SetDebugReply<'_>> {
    let mut s = Scanner::new(input);
    s.lit(b"2000 OK setdebug=")?;
    let level = s.i32()?;
    s.lit(b" trace=")?;
    let trace = s.i32()?;
    s.lit(b" hangup=")?;
    let hangup = s.i32()?;
    let timestamp = if s.try_lit(b" timestamp=") {
        Some(s.i32()?)
    } else {
        None
    };
    s.lit(b" tracefile=")?;
    let tracefile = s.word();
    s.lit(b"\n")?;
    s.end(false)?;
    Ok(SetDebugReply {
        level,
        trace,
        hangup,
        timestamp,
        tracefile,
    })
}

#[cfg(test)]
mod tests;
