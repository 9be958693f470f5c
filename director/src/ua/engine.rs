//! The commands that need the catalog or the job engine: their arguments, checked now, and
//! the seam where the engine plugs in.
//!
//! Each command's arguments are parsed into a typed request ([`Request`]) with the names
//! resolved against the configuration and the console's ACLs, with Bareos' messages for the
//! common mistakes (`Job "x" not found.`). A [`JobEngine`] then carries the request out:
//! [`dispatch`] puts the request into [`Reply::deferred`], and the server awaits
//! [`JobEngine::execute`] and sends its reply with the usual framing (API 0 text + `EOD`,
//! `CMD_BEGIN`/`CMD_OK`/JSON/`MAIN_PROMPT` in API 2). Without an engine (this build),
//! [`dispatch`] answers honestly that the engine is missing and the command fails; nothing
//! is ever faked.

use std::future::Future;
use std::pin::Pin;

use crate::acl::AclKind;
use crate::ua::{Args, Ctx, Reply, Session};

/// `run` (`core/src/dird/ua_run.cc` keywords).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunRequest {
    /// `job=`
    pub job: String,
    /// `client=`
    pub client: Option<String>,
    /// `fileset=`
    pub fileset: Option<String>,
    /// `level=`
    pub level: Option<String>,
    /// `storage=`
    pub storage: Option<String>,
    /// `pool=`
    pub pool: Option<String>,
    /// `where=`
    pub where_: Option<String>,
    /// `when=`
    pub when: Option<String>,
    /// `priority=`
    pub priority: Option<u32>,
    /// `accurate=yes|no`
    pub accurate: Option<bool>,
    /// `comment=`
    pub comment: Option<String>,
    /// `pluginoptions=`
    pub plugin_options: Option<String>,
    /// `yes`: do not ask.
    pub yes: bool,
    /// `jobid=` (comma-separated list): the source jobs of a Copy or Migrate job.
    pub jobids: Vec<u32>,
}

/// `restore` (the keywords a scripted restore uses).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RestoreRequest {
    /// `client=`
    pub client: Option<String>,
    /// `restoreclient=`
    pub restore_client: Option<String>,
    /// `jobid=` (comma-separated list)
    pub jobids: Vec<u32>,
    /// `where=`
    pub where_: Option<String>,
    /// `fileset=`
    pub fileset: Option<String>,
    /// `select all` / `all`
    pub all: bool,
    /// `current`
    pub current: bool,
    /// `yes`
    pub yes: bool,
    /// `restorejob=`: the Restore Job resource.
    pub restore_job: Option<String>,
    /// `file=` (repeatable): only these files (full names).
    pub files: Vec<String>,
    /// `directory=` (repeatable): only what is under these directories.
    pub directories: Vec<String>,
    /// `fileregex=`: only the files whose full name matches.
    pub file_regex: Option<String>,
    /// `done`: do not enter file selection mode.
    pub done: bool,
}

/// What a job is named by (`cancel`, `wait`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobSelector {
    /// `jobid=N`
    JobId(u32),
    /// `job=name`
    Job(String),
    /// `ujobid=full-name`
    UJobId(String),
    /// Nothing given (`wait` without arguments waits for all jobs).
    All,
}

/// A catalog or job request, parsed and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// `run ...`
    Run(RunRequest),
    /// `restore ...`
    Restore(RestoreRequest),
    /// `estimate job=... [level=] [client=] [fileset=] [listing]`
    Estimate {
        /// the job and overrides
        run: RunRequest,
        /// `listing`
        listing: bool,
    },
    /// `cancel ...`
    Cancel {
        /// which job
        job: JobSelector,
        /// `yes`
        yes: bool,
    },
    /// `wait ...`
    Wait {
        /// which job
        job: JobSelector,
        /// `timeout=` seconds
        timeout: Option<u64>,
    },
    /// `list ...` / `llist ...`: the sub-command and its keywords as typed.
    List {
        /// `llist`
        long: bool,
        /// the words after `list`
        args: Vec<(String, Option<String>)>,
    },
    /// `status client=X [what]` / `.status client=X [what]`.
    ClientStatus {
        /// the Client resource
        client: String,
        /// `.status` sub-command (`header`, `running`, `terminated`)
        dot: Option<String>,
    },
    /// `status storage=X [what]` / `.status storage=X [what]`.
    StorageStatus {
        /// the Storage resource
        storage: String,
        /// `.status` sub-command
        dot: Option<String>,
    },
    /// Any other catalog command, with its words.
    Other {
        /// the command
        command: String,
        /// the words
        args: Vec<(String, Option<String>)>,
    },
}

/// The future [`JobEngine::execute`] returns.
pub type EngineFuture<'a> = Pin<Box<dyn Future<Output = Reply> + Send + 'a>>;

/// Carries out catalog and job requests. The job engine implements this later.
pub trait JobEngine: Send + Sync {
    /// Run a request for a console session (its name, ACLs and API mode are in `session`);
    /// the reply is framed and sent as any other.
    fn execute<'a>(&'a self, session: &'a Session, request: Request) -> EngineFuture<'a>;

    /// The console answered a question this engine asked (a reply with
    /// [`Reply::dialog`]): continue the dialogue with `line` (a lone `.` cancels).
    fn answer<'a>(
        &'a self,
        _session: &'a Session,
        _dialog: crate::ua::Dialog,
        _line: String,
    ) -> EngineFuture<'a> {
        Box::pin(async { Reply::failed("nothing was asked\n") })
    }

    /// Take the job messages waiting for the consoles (the engine's `Console` message
    /// destination); the server shows them with its own queued messages.
    fn take_messages(&self) -> Vec<String> {
        Vec::new()
    }

    /// Whether job messages wait for the consoles ("You have messages.").
    fn has_messages(&self) -> bool {
        false
    }

    /// The configuration was reloaded (`reload`, SIGHUP): jobs started from now on use it.
    fn reload(&self, _config: &barque_common::config::Config) {}

    /// Running and terminated jobs, for `status dir`.
    fn status_jobs(&self) -> StatusJobs {
        StatusJobs::default()
    }

    /// Where client-initiated connections wait for jobs (`None`: they are refused).
    fn client_pool(&self) -> Option<std::sync::Arc<crate::jobs::pool::ClientPool>> {
        None
    }

    /// The next run of each Schedule `Run =` line of each enabled job within `days` days,
    /// by time, for `status dir` (`ListScheduledJobs()`).
    fn scheduled(&self, _days: u32) -> Vec<ScheduledJob> {
        Vec::new()
    }
}

/// One line of `status dir`'s `Scheduled Jobs:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledJob {
    /// `Full`, `Incremental`, … (blank for restores and admin jobs).
    pub level: String,
    /// `Backup`, `Restore`, …
    pub job_type: String,
    /// Priority.
    pub priority: u32,
    /// When, Unix seconds.
    pub time: i64,
    /// The Job resource.
    pub name: String,
    /// The volume it would write, or `*unknown*`.
    pub volume: String,
}

/// One job in `status dir`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusJob {
    /// JobId.
    pub job_id: u32,
    /// `Full`, `Incr`, `Diff`, or empty (restores).
    pub level: String,
    /// The Job resource's name.
    pub name: String,
    /// The unique Job name.
    pub job: String,
    /// Status letter.
    pub status: u8,
    /// Files.
    pub files: u64,
    /// Bytes.
    pub bytes: u64,
    /// Start (running) or end (terminated) time, Unix seconds.
    pub time: i64,
}

/// The jobs `status dir` lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusJobs {
    /// Running or waiting.
    pub running: Vec<StatusJob>,
    /// Terminated, oldest first.
    pub terminated: Vec<StatusJob>,
    /// The catalog backend as `status dir` names it (`postgresql`, `sqlite3`).
    pub db: Option<String>,
}

fn all_values(a: &Args, key: &str) -> Vec<String> {
    a.rest()
        .iter()
        .filter(|w| w.key.eq_ignore_ascii_case(key))
        .filter_map(|w| w.value.clone())
        .collect()
}

fn words(a: &Args) -> Vec<(String, Option<String>)> {
    a.rest()
        .iter()
        .map(|w| (w.key.clone(), w.value.clone()))
        .collect()
}

/// Resolve a resource name (case-insensitively) that the console may use. For Clients and
/// Storages Bareos' `run` tells a denied name from a missing one (`No authorization. Client
/// "x".`, `core/src/dird/ua_run.cc`); for the others the lookup itself applies the ACL
/// (`GetJobResWithName` ...), so a denied name reads as not found.
fn check(
    ctx: &Ctx<'_>,
    s: &Session,
    kind: AclKind,
    res: &str,
    label: &str,
    name: &str,
) -> Result<String, Reply> {
    let found = ctx
        .model
        .names(res)
        .into_iter()
        .find(|n| n.eq_ignore_ascii_case(name));
    let reveal = matches!(kind, AclKind::Client | AclKind::Storage);
    match found {
        Some(n) if s.acl.allows(kind, &n) => Ok(n),
        Some(_) if reveal => Err(Reply::failed(format!(
            "No authorization. {label} \"{name}\".\n"
        ))),
        _ if kind == AclKind::Job => Err(Reply::failed(format!("Job \"{name}\" not found\n"))),
        _ => Err(Reply::failed(format!("{label} \"{name}\" not found.\n"))),
    }
}

fn opt_check(
    ctx: &Ctx<'_>,
    s: &Session,
    a: &Args,
    key: &str,
    kind: AclKind,
    res: &str,
    label: &str,
) -> Result<Option<String>, Reply> {
    match a.value(key) {
        Some(v) => check(ctx, s, kind, res, label, v).map(Some),
        None => Ok(None),
    }
}

/// `where=` and `pluginoptions=` against `WhereACL` / `PluginOptionsACL`.
fn check_where_and_plugin_options(s: &Session, a: &Args) -> Result<(), Reply> {
    if let Some(w) = a.value("where") {
        if !s.acl.allows(AclKind::Where, w) {
            return Err(Reply::failed(
                "No authorization for \"where\" specification.\n",
            ));
        }
    }
    if let Some(p) = a.value("pluginoptions") {
        if !s.acl.allows(AclKind::PluginOptions, p) {
            return Err(Reply::failed(
                "No authorization for \"PluginOptions\" specification.\n",
            ));
        }
    }
    Ok(())
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "yes" | "true" | "1" => Some(true),
        "no" | "false" | "0" => Some(false),
        _ => None,
    }
}

fn run_request(ctx: &Ctx<'_>, s: &Session, a: &Args) -> Result<RunRequest, Reply> {
    let Some(job) = a.value("job") else {
        // Bareos then offers a selection list; Barque has no prompts yet.
        return Err(Reply::failed("A job name must be specified.\n"));
    };
    let job = check(ctx, s, AclKind::Job, "Job", "Job", job)?;
    let priority = match a.value("priority") {
        Some(p) => match p.parse::<u32>() {
            Ok(n) if n > 0 => Some(n),
            _ => return Err(Reply::failed("Priority must be 1 or greater.\n")),
        },
        None => None,
    };
    let accurate = match a.value("accurate") {
        Some(v) => match parse_bool(v) {
            Some(b) => Some(b),
            None => return Err(Reply::failed(format!("Invalid accurate value: {v}\n"))),
        },
        None => None,
    };
    check_where_and_plugin_options(s, a)?;
    let where_ = a.value("where").map(str::to_string);
    let _ = opt_check(ctx, s, a, "catalog", AclKind::Catalog, "Catalog", "Catalog")?;
    let mut jobids = Vec::new();
    if let Some(list) = a.value("jobid") {
        for id in list.split(',') {
            match id.trim().parse::<u32>() {
                Ok(n) if n > 0 => jobids.push(n),
                _ => return Err(Reply::failed(format!("Invalid JobId {id}\n"))),
            }
        }
    }
    Ok(RunRequest {
        jobids,
        plugin_options: a.value("pluginoptions").map(str::to_string),
        client: opt_check(ctx, s, a, "client", AclKind::Client, "Client", "Client")?,
        fileset: opt_check(ctx, s, a, "fileset", AclKind::FileSet, "FileSet", "FileSet")?,
        storage: opt_check(ctx, s, a, "storage", AclKind::Storage, "Storage", "Storage")?,
        pool: opt_check(ctx, s, a, "pool", AclKind::Pool, "Pool", "Pool")?,
        level: a.value("level").map(str::to_string),
        when: a.value("when").map(str::to_string),
        comment: a.value("comment").map(str::to_string),
        job,
        where_,
        priority,
        accurate,
        yes: a.has("yes"),
    })
}

fn selector(a: &Args) -> Result<JobSelector, Reply> {
    if let Some(id) = a.value("jobid") {
        return id
            .parse::<u32>()
            .ok()
            .filter(|&n| n > 0)
            .map(JobSelector::JobId)
            .ok_or_else(|| Reply::failed(format!("Invalid JobId {id}\n")));
    }
    if let Some(j) = a.value("job").or_else(|| a.value("jobname")) {
        return Ok(JobSelector::Job(j.to_string()));
    }
    if let Some(j) = a.value("ujobid") {
        return Ok(JobSelector::UJobId(j.to_string()));
    }
    Ok(JobSelector::All)
}

/// Parse and check a command's arguments into a [`Request`] (public for the engine's
/// tests).
pub fn parse(ctx: &Ctx<'_>, s: &Session, command: &str, a: &Args) -> Result<Request, Reply> {
    Ok(match command {
        "run" => Request::Run(run_request(ctx, s, a)?),
        "estimate" => Request::Estimate {
            run: run_request(ctx, s, a)?,
            listing: a.has("listing"),
        },
        "restore" => {
            let mut jobids = Vec::new();
            if let Some(list) = a.value("jobid") {
                for id in list.split(',') {
                    match id.trim().parse::<u32>() {
                        Ok(n) if n > 0 => jobids.push(n),
                        _ => return Err(Reply::failed(format!("Invalid JobId {id}\n"))),
                    }
                }
            }
            check_where_and_plugin_options(s, a)?;
            let where_ = a.value("where").map(str::to_string);
            Request::Restore(RestoreRequest {
                client: opt_check(ctx, s, a, "client", AclKind::Client, "Client", "Client")?,
                restore_client: opt_check(
                    ctx,
                    s,
                    a,
                    "restoreclient",
                    AclKind::Client,
                    "Client",
                    "Client",
                )?,
                fileset: opt_check(ctx, s, a, "fileset", AclKind::FileSet, "FileSet", "FileSet")?,
                jobids,
                where_,
                all: a.has("all"),
                current: a.has("current"),
                yes: a.has("yes"),
                restore_job: match a.value("restorejob") {
                    Some(j) => Some(check(ctx, s, AclKind::Job, "Job", "Job", j)?),
                    None => None,
                },
                files: all_values(a, "file"),
                directories: all_values(a, "directory"),
                file_regex: a.value("fileregex").map(str::to_string),
                done: a.has("done"),
            })
        }
        "cancel" => Request::Cancel {
            job: selector(a)?,
            yes: a.has("yes"),
        },
        "wait" => Request::Wait {
            job: selector(a)?,
            timeout: match a.value("timeout") {
                Some(t) => Some(
                    t.parse::<u64>()
                        .map_err(|_| Reply::failed(format!("Invalid timeout {t}\n")))?,
                ),
                None => None,
            },
        },
        "list" | "llist" => Request::List {
            long: command == "llist",
            args: words(a),
        },
        "status" | ".status" => {
            let dot = if command == ".status" {
                a.key(2).map(str::to_string)
            } else {
                None
            };
            if let Some(c) = a.value("client") {
                Request::ClientStatus {
                    client: check(ctx, s, AclKind::Client, "Client", "Client", c)?,
                    dot,
                }
            } else if let Some(st) = a.value("storage") {
                Request::StorageStatus {
                    storage: check(ctx, s, AclKind::Storage, "Storage", "Storage", st)?,
                    dot,
                }
            } else if command == "status" {
                // `status <word>`: Bareos takes an unknown first word as a storage selection.
                let st = a.key(1).unwrap_or_default();
                Request::StorageStatus {
                    storage: check(ctx, s, AclKind::Storage, "Storage", "Storage", st)?,
                    dot,
                }
            } else {
                return Err(Reply::failed("status: missing client= or storage=\n"));
            }
        }
        other => Request::Other {
            command: other.to_string(),
            args: words(a),
        },
    })
}

/// Whether a command needs the catalog (else the job engine) — only for the wording.
fn needs_catalog(command: &str) -> bool {
    !matches!(
        command,
        "run" | "restore" | "estimate" | "cancel" | "wait" | "status" | ".status" | "rerun"
    )
}

/// Parse, check, and hand to the engine, or say that there is none.
pub fn dispatch(ctx: &Ctx<'_>, s: &mut Session, command: &str, a: &Args) -> Reply {
    let req = match parse(ctx, s, command, a) {
        Ok(r) => r,
        Err(reply) => return reply,
    };
    match ctx.engine {
        Some(_) => Reply {
            deferred: Some(Box::new(req)),
            ..Reply::default()
        },
        None if needs_catalog(command) => Reply::failed(format!(
            "{command}: the catalog is not available in this build\n"
        )),
        None => Reply::failed(format!(
            "{command}: the job engine is not available in this build\n"
        )),
    }
}
