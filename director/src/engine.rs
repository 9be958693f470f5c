//! The console's job engine: [`crate::ua::engine::JobEngine`] carried out by
//! [`crate::jobs::JobEngine`] and the catalog.
//!
//! The console server parses and checks every catalog or job command
//! ([`crate::ua::engine::parse`]) and hands the typed request here. This module decides what
//! the console sees, in the shape the real Director prints it (the `bconsole-output.txt`
//! files of the captures in `../shared/vectors`): `run` answers `Using Catalog "…"` and
//! `Job queued. JobId=N` (`core/src/dird/ua_run.cc`), `wait` blocks until the jobs end
//! (`core/src/dird/ua_cmds.cc` `WaitCmd()`), the job messages (with the end-of-job report)
//! go to the console queue that `messages` drains, and `list` prints Bareos' `+---+` tables
//! (`core/src/cats/bvfs.cc`/`sql_list.cc` `ListResult()`: numbers right-aligned, text left)
//! or the JSON objects of API mode 2 (`list jobs` → `{"jobs": [{"jobid": "1", …}]}`, every
//! value a string as Bareos prints them).
//!
//! # What is simplified
//!
//! `restore` asks what Bareos asks (the JobId menu, client and fileset lists, file
//! selection mode, `OK to run?`) unless the command line already says it
//! ([`restore_dialog`]). `list` knows `jobs`, `jobid=N`,
//! `files jobid=N`, `volumes`, `pools`, `clients`; `llist` prints the same rows as
//! `name: value` lines. `status client=`/`status storage=` connect to the daemon as a job
//! does and copy its status text (vectors/clear-status-client-storage: `status` to the FD,
//! `status «device»⏎` to the SD); `status dir` shows the engine's running and terminated
//! jobs and the next runs of the Schedules (`Scheduled Jobs:`, `days=`). Scheduled jobs are
//! started by the scheduler task barque-dir runs.
//!
//! # How it is tested
//!
//! The table layout and the terminated-job rows are compared with the captured bconsole
//! output in the unit tests below; everything else end to end in `host-tests/tests/e2e.rs`,
//! which runs the three daemons as processes and drives them with barque-console and
//! python-bareos.

use std::sync::Arc;

mod catalog_cmds;
mod restore_dialog;

use barque_common::config::value::Value;
use barque_common::config::Config;
use fd_core::wire::bnet::{Frame, Signal};
use fd_core::wire::codes::JobStatus;

use crate::catalog::{Catalog, CatalogConfig};
use crate::jobs::{self, time::sql_time, JobEngine as Jobs, RunOverrides};
use crate::json::Json;
use crate::ua::engine::{EngineFuture, JobEngine, JobSelector, Request, StatusJob, StatusJobs};
use crate::ua::{Reply, Session};
use fd_core::wire::console::ApiMode;

/// The Catalog resource the Director uses (the first one), as a catalog backend: SQLite in
/// the Director's working directory unless `DB Address` names a PostgreSQL server.
pub fn catalog_config(config: &Config) -> Result<(String, CatalogConfig), String> {
    let r = config
        .resources("Catalog")
        .next()
        .ok_or("no Catalog resource in the Director configuration")?;
    let s = |k: &str| match r.get(k) {
        Some(Value::Str(v)) => Some(v.clone()),
        Some(Value::List(l)) => l.first().cloned(),
        Some(Value::Password(p)) => p.plaintext().map(str::to_owned),
        _ => None,
    };
    let port = match r.get("DbPort") {
        Some(Value::Int(n)) => u16::try_from(*n).ok(),
        Some(Value::Str(v)) => v.parse().ok(),
        _ => None,
    };
    let working = config
        .dir_director()
        .and_then(|d| d.working_directory)
        .unwrap_or_else(|| ".".into());
    Ok((
        r.name.clone(),
        CatalogConfig::from_resource(
            std::path::Path::new(&working),
            &s("DbName").unwrap_or_else(|| "bareos".into()),
            s("DbAddress").as_deref(),
            port,
            &s("DbUser").unwrap_or_default(),
            &s("DbPassword").unwrap_or_default(),
        ),
    ))
}

/// The job engine as the console server sees it.
pub struct ConsoleEngine {
    jobs: Jobs,
    catalog_name: String,
    db: &'static str,
}

impl ConsoleEngine {
    /// Wrap a job engine; `catalog_name` is the Catalog resource's name (`Using Catalog`).
    pub fn new(jobs: Jobs, catalog_name: impl Into<String>) -> Arc<Self> {
        let db = match jobs.catalog().lock().map(|c| c.dialect()) {
            Ok(crate::catalog::sql::Dialect::Postgres) => "postgresql",
            _ => "sqlite3",
        };
        Arc::new(Self {
            jobs,
            catalog_name: catalog_name.into(),
            db,
        })
    }

    /// The job engine.
    pub fn jobs(&self) -> &Jobs {
        &self.jobs
    }

    fn using_catalog(&self, r: &mut Reply, s: &Session) {
        if s.api != ApiMode::Json {
            r.text(format!("Using Catalog \"{}\"\n", self.catalog_name));
        }
    }

    async fn cat<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Catalog) -> Result<T, crate::catalog::Error> + Send + 'static,
    ) -> Result<T, String> {
        let cat = self.jobs.catalog();
        tokio::task::spawn_blocking(move || {
            let mut c = cat
                .lock()
                .map_err(|_| "catalog lock poisoned".to_string())?;
            f(&mut c).map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| e.to_string())?
    }

    async fn run(&self, s: &Session, req: crate::ua::engine::RunRequest) -> Reply {
        let level = match req.level.as_deref() {
            Some(l) => match jobs::level_from_name(l) {
                Some(l) => Some(l),
                None => return Reply::failed(format!("Level \"{l}\" not valid.\n")),
            },
            None => None,
        };
        let o = RunOverrides {
            client: req.client,
            fileset: req.fileset,
            storage: req.storage,
            pool: req.pool,
            triggered_by: None,
            accurate: req.accurate,
            job_ids: req.jobids.iter().map(|&j| i64::from(j)).collect(),
        };
        let mut r = Reply::default();
        self.using_catalog(&mut r, s);
        match self.jobs.run(&req.job, level, o).await {
            Ok(id) => queued(&mut r, id),
            Err(e) => r.error(format!("Job failed to start: {e}\n")),
        }
        r
    }

    /// `restore` (`core/src/dird/ua_restore.cc`): see [`restore_dialog`].
    async fn restore(&self, s: &Session, req: crate::ua::engine::RestoreRequest) -> Reply {
        restore_dialog::start(self, s, req).await
    }

    async fn estimate(
        &self,
        s: &Session,
        run: crate::ua::engine::RunRequest,
        listing: bool,
    ) -> Reply {
        let level = run.level.as_deref().and_then(jobs::level_from_name);
        let mut r = Reply::default();
        self.using_catalog(&mut r, s);
        // vectors/clear-estimate/bconsole-output.txt: `Connecting to Client … at …:…`.
        if s.api != ApiMode::Json {
            let o = RunOverrides {
                client: run.client.clone(),
                ..Default::default()
            };
            if let Ok(plan) = jobs::Plan::resolve(&self.jobs.config(), &run.job, &o) {
                r.text(format!(
                    "Connecting to Client {} at {}:{}\n",
                    plan.client.name, plan.client.address, plan.client.port
                ));
            }
        }
        match self.jobs.estimate(&run.job, level, listing).await {
            Ok(e) => {
                for l in e.listing {
                    r.text(l);
                }
                r.text(format!(
                    "2000 OK estimate files={} bytes={}\n",
                    e.files, e.bytes
                ));
                r.result.set(
                    "estimate",
                    Json::object()
                        .with(
                            "files",
                            Json::Int(i64::try_from(e.files).unwrap_or(i64::MAX)),
                        )
                        .with(
                            "bytes",
                            Json::Int(i64::try_from(e.bytes).unwrap_or(i64::MAX)),
                        ),
                );
            }
            Err(e) => r.error(format!("estimate failed: {e}\n")),
        }
        r
    }

    /// JobIds a selector names among the running jobs (`All`: every running job).
    fn select(&self, sel: &JobSelector) -> Vec<u32> {
        let st = self.jobs.status();
        st.running
            .iter()
            .filter(|p| match sel {
                JobSelector::JobId(id) => p.job_id == *id,
                JobSelector::Job(n) => p.name == *n || p.job == *n,
                JobSelector::UJobId(n) => p.job == *n,
                JobSelector::All => true,
            })
            .map(|p| p.job_id)
            .collect()
    }

    async fn cancel(&self, sel: JobSelector) -> Reply {
        let ids = match &sel {
            JobSelector::JobId(id) => vec![*id],
            JobSelector::All => {
                return Reply::failed("cancel: give jobid=, job= or ujobid= (no prompts)\n")
            }
            other => self.select(other),
        };
        if ids.is_empty() {
            return Reply::failed("No Jobs running.\n");
        }
        let mut r = Reply::default();
        for id in ids {
            // What Bareos shows (`core/src/dird/job.cc` `CancelJob()`): for a queued job its
            // own line, for a running one the FD's and the SD's replies.
            match self.jobs.cancel(id).await {
                Ok(jobs::Canceled::Queued { job }) => {
                    r.text(format!("JobId {id}, Job {job} marked to be canceled.\n"));
                }
                Ok(jobs::Canceled::Running(replies)) => {
                    for l in replies {
                        r.text(if l.ends_with('\n') {
                            l
                        } else {
                            format!("{l}\n")
                        });
                    }
                }
                Err(jobs::JobError::NoSuchJob(_)) => {
                    r.error(format!("JobId {id} is not running.\n"));
                }
                Err(e) => r.error(format!("cancel JobId {id}: {e}\n")),
            }
        }
        r
    }

    async fn wait(&self, sel: JobSelector, timeout: Option<u64>) -> Reply {
        let ids: Vec<u32> = match &sel {
            JobSelector::JobId(id) => vec![*id],
            other => self.select(other),
        };
        let mut r = Reply::default();
        let fut = async {
            let mut outcomes = Vec::new();
            for id in &ids {
                outcomes.push((*id, self.jobs.wait(*id).await));
            }
            // `wait` without a job waits until nothing runs (jobs started meanwhile too).
            if matches!(sel, JobSelector::All) {
                loop {
                    let more = self.select(&JobSelector::All);
                    if more.is_empty() {
                        break;
                    }
                    for id in more {
                        let _ = self.jobs.wait(id).await;
                    }
                }
            }
            outcomes
        };
        let outcomes = match timeout {
            Some(t) => match tokio::time::timeout(std::time::Duration::from_secs(t), fut).await {
                Ok(o) => o,
                Err(_) => {
                    r.text("Wait timed out.\n");
                    return r;
                }
            },
            None => fut.await,
        };
        if let JobSelector::All = sel {
            return r;
        }
        for (id, o) in outcomes {
            match o {
                Some(o) => {
                    let st = o.status.to_u8();
                    r.text(format!(
                        "JobId={id}\nJobStatus={} ({})\n",
                        jobs::report::term_word(st),
                        char::from(st)
                    ));
                    r.result.set(
                        "JobId",
                        Json::object()
                            .with("jobid", Json::Int(i64::from(id)))
                            .with("jobstatus", Json::str(char::from(st).to_string()))
                            .with("exitstatus", Json::Int(exit_status(o.status))),
                    );
                }
                None => r.error(format!("JobId {id} not found.\n")),
            }
        }
        r
    }

    async fn list(&self, s: &Session, long: bool, args: Vec<(String, Option<String>)>) -> Reply {
        let first = args
            .first()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()));
        let value = |key: &str| {
            args.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .and_then(|(_, v)| v.clone())
        };
        let mut r = Reply::default();
        let plain = s.api != ApiMode::Json;
        if plain {
            r.text(format!("Using Catalog \"{}\"\n", self.catalog_name));
        }
        let table: Option<Table> = match first.as_ref().map(|(k, v)| (k.as_str(), v.clone())) {
            Some(("jobs", _)) | Some(("job", _)) | Some(("jobid", _)) | Some(("jobname", _)) => {
                let id = value("jobid").and_then(|v| v.parse::<i64>().ok());
                let name = value("job").or_else(|| value("jobname"));
                let rows = match self.cat(move |c| c.list_jobs(id)).await {
                    Ok(rows) => rows,
                    Err(e) => return Reply::failed(format!("list: catalog: {e}\n")),
                };
                let rows: Vec<Vec<String>> = rows
                    .into_iter()
                    .filter(|j| name.as_ref().is_none_or(|n| *n == j.name))
                    .map(|j| {
                        vec![
                            j.job_id.to_string(),
                            j.name.clone(),
                            j.client.clone(),
                            j.start_time.map(sql_time).unwrap_or_default(),
                            hms(j.duration()),
                            char::from(j.job_type.to_u8()).to_string(),
                            char::from(j.level.to_u8()).to_string(),
                            j.job_files.to_string(),
                            j.job_bytes.to_string(),
                            char::from(j.status.to_u8()).to_string(),
                        ]
                    })
                    .collect();
                Some((
                    "jobs",
                    vec![
                        "jobid",
                        "name",
                        "client",
                        "starttime",
                        "duration",
                        "type",
                        "level",
                        "jobfiles",
                        "jobbytes",
                        "jobstatus",
                    ],
                    rows,
                ))
            }
            Some(("joblog", _)) => {
                return self
                    .list_joblog(s, long, value("jobid"), value("ujobid"))
                    .await;
            }
            Some(("files", _)) => {
                let Some(id) = value("jobid").and_then(|v| v.parse::<i64>().ok()) else {
                    return Reply::failed("list files: jobid=N is required\n");
                };
                let files = match self.cat(move |c| c.list_files(id)).await {
                    Ok(f) => f,
                    Err(e) => return Reply::failed(format!("list: catalog: {e}\n")),
                };
                Some((
                    "filenames",
                    vec!["filename"],
                    files.into_iter().map(|f| vec![f]).collect(),
                ))
            }
            Some(("volumes", _)) | Some(("volume", _)) | Some(("media", _)) => {
                let pool = value("pool");
                let vols = match self.cat(move |c| c.list_volumes(pool.as_deref())).await {
                    Ok(v) => v,
                    Err(e) => return Reply::failed(format!("list: catalog: {e}\n")),
                };
                let rows = vols
                    .into_iter()
                    .map(|(pool, m)| {
                        vec![
                            m.media_id.to_string(),
                            m.volume_name.clone(),
                            m.vol_status.as_str().to_string(),
                            u8::from(m.enabled).to_string(),
                            m.vol_bytes.to_string(),
                            m.vol_files.to_string(),
                            m.vol_retention.to_string(),
                            u8::from(m.recycle).to_string(),
                            m.media_type.clone(),
                            m.last_written.map(sql_time).unwrap_or_default(),
                            pool,
                        ]
                    })
                    .collect();
                Some((
                    "volumes",
                    vec![
                        "mediaid",
                        "volumename",
                        "volstatus",
                        "enabled",
                        "volbytes",
                        "volfiles",
                        "volretention",
                        "recycle",
                        "mediatype",
                        "lastwritten",
                        "pool",
                    ],
                    rows,
                ))
            }
            Some(("pools", _)) | Some(("pool", _)) => {
                let pools = match self.cat(|c| c.list_pools()).await {
                    Ok(p) => p,
                    Err(e) => return Reply::failed(format!("list: catalog: {e}\n")),
                };
                Some((
                    "pools",
                    vec!["poolid", "name", "numvols", "pooltype", "labelformat"],
                    pools
                        .into_iter()
                        .map(|p| {
                            vec![
                                p.pool_id.to_string(),
                                p.spec.name.clone(),
                                p.num_vols.to_string(),
                                p.spec.pool_type.as_str().to_string(),
                                p.spec.label_format.clone(),
                            ]
                        })
                        .collect(),
                ))
            }
            Some(("clients", _)) | Some(("client", _)) => {
                let clients = match self.cat(|c| c.list_clients()).await {
                    Ok(p) => p,
                    Err(e) => return Reply::failed(format!("list: catalog: {e}\n")),
                };
                Some((
                    "clients",
                    vec!["clientid", "name", "uname"],
                    clients
                        .into_iter()
                        .map(|c| vec![c.client_id.to_string(), c.name.clone(), c.uname.clone()])
                        .collect(),
                ))
            }
            _ => None,
        };
        let Some((key, cols, rows)) = table else {
            let what = first.map(|(k, _)| k).unwrap_or_default();
            return Reply::failed(format!("list {what}: not supported by Barque\n"));
        };
        if plain {
            if key == "filenames" {
                // Bareos lists files as an NF_LIST (`ListFilesForJob()` in cats/sql_list.cc):
                // one ` «path»` line each, no frame; seen with the real bconsole against the
                // real Director.
                r.text(
                    rows.iter()
                        .map(|row| format!(" {}\n", row.join(" ")))
                        .collect::<String>(),
                );
            } else if long {
                r.text(vertical(&cols, &rows));
            } else {
                r.text(render_table(&cols, &rows));
            }
        }
        let arr = rows
            .iter()
            .map(|row| {
                let mut o = Json::object();
                for (c, v) in cols.iter().zip(row) {
                    o.set(*c, Json::str(v.clone()));
                }
                o
            })
            .collect();
        r.result.set(key, Json::Array(arr));
        r
    }
}

impl ConsoleEngine {
    /// `list joblog jobid=N` / `ujobid=«Job»` (`core/src/dird/ua_output.cc`): the job's
    /// messages from the `Log` table, time and text. Bareos prints them raw (each field after
    /// a space; the text ends in its own newline), `llist` vertically, API 2 as
    /// `{"joblog": [{"time", "logtext"}]}`. The job must be one the console may see (its Job
    /// and Client allowed by the console's ACLs), else Bareos' refusal.
    async fn list_joblog(
        &self,
        s: &Session,
        long: bool,
        jobid: Option<String>,
        ujobid: Option<String>,
    ) -> Reply {
        let mut r = Reply::default();
        let plain = s.api != ApiMode::Json;
        if plain {
            r.text(format!("Using Catalog \"{}\"\n", self.catalog_name));
        }
        let denied = "jobid not found in db, access to job or client denied by ACL, or client \
                      not found in db\n";
        let id = match (ujobid, jobid) {
            (Some(u), _) => match self.cat(move |c| c.job_id_of(&u)).await {
                Ok(Some(id)) => id,
                Ok(None) => return Reply::failed(denied),
                Err(e) => return Reply::failed(format!("list: catalog: {e}\n")),
            },
            (None, Some(j)) => match j.parse::<i64>() {
                Ok(id) if id > 0 => id,
                _ => return Reply::failed(denied),
            },
            (None, None) => {
                return Reply::failed("list joblog: say which job: jobid=N or ujobid=«Job»\n")
            }
        };
        let found = self
            .cat(move |c| {
                let job = c.list_jobs(Some(id))?;
                let log = c.list_joblog(id)?;
                Ok((job, log))
            })
            .await;
        let (job, log) = match found {
            Ok(x) => x,
            Err(e) => return Reply::failed(format!("list: catalog: {e}\n")),
        };
        let visible = job.first().is_some_and(|j| {
            s.acl.allows(crate::acl::AclKind::Job, &j.name)
                && (j.client.is_empty() || s.acl.allows(crate::acl::AclKind::Client, &j.client))
        });
        if !visible {
            return Reply::failed(denied);
        }
        let rows: Vec<Vec<String>> = log
            .into_iter()
            .map(|(t, text)| vec![t.map(sql_time).unwrap_or_default(), text])
            .collect();
        if plain {
            if rows.is_empty() {
                r.text("No results to list.\n");
            } else if long {
                r.text(vertical(&["time", "logtext"], &rows));
            } else {
                for row in &rows {
                    let text = row.get(1).map(String::as_str).unwrap_or("");
                    let nl = if text.ends_with('\n') { "" } else { "\n" };
                    r.text(format!(
                        " {} {text}{nl}",
                        row.first().map(String::as_str).unwrap_or("")
                    ));
                }
            }
        }
        let arr = rows
            .into_iter()
            .map(|row| {
                let mut it = row.into_iter();
                Json::object()
                    .with("time", Json::str(it.next().unwrap_or_default()))
                    .with("logtext", Json::str(it.next().unwrap_or_default()))
            })
            .collect();
        r.result.set("joblog", Json::Array(arr));
        r
    }
}

/// A list table: its JSON key, column names and rows.
type Table = (&'static str, Vec<&'static str>, Vec<Vec<String>>);

/// Which daemon `status` asks.
enum Daemon {
    Client(String),
    Storage(String),
}

impl ConsoleEngine {
    /// `status client=X` / `status storage=X` (`core/src/dird/ua_status.cc`
    /// `DoClientStatus()`/`DoStorageStatus()`): connect as for a job, send `status` (or
    /// `.status <what>`), copy the daemon's text up to its EOD, end with TERMINATE.
    async fn daemon_status(&self, which: Daemon, dot: Option<String>) -> Reply {
        let cfg = self.jobs.config();
        let mut r = Reply::default();
        let (mut conn, label, cmd) = match &which {
            Daemon::Client(name) => {
                let Some(c) = cfg.dir_clients().into_iter().find(|c| c.name == *name) else {
                    return Reply::failed(format!("Client \"{name}\" not found.\n"));
                };
                r.text(format!(
                    "Connecting to Client {} at {}:{}\n",
                    c.name, c.address, c.port
                ));
                // `status client` waits 15 s for a client-initiated connection (connect.md §5.3).
                match self
                    .jobs
                    .connect_fd_within(&c, std::time::Duration::from_secs(15))
                    .await
                {
                    Ok((ch, _)) => {
                        let enc = ch
                            .conn
                            .tls()
                            .map(|t| t.cipher.clone())
                            .unwrap_or_else(|| "None".into());
                        let hs = if ch.conn.is_tls() {
                            "Immediate TLS"
                        } else {
                            "Cleartext"
                        };
                        r.text(format!(" Handshake: {hs}, Encryption: {enc}\n"));
                        // vectors/clear-status-client-storage conn 2 msg 9: `status`.
                        let cmd = match &dot {
                            Some(d) => format!(".status {d}"),
                            None => "status".to_string(),
                        };
                        (ch.conn, format!("Client \"{name}\""), cmd)
                    }
                    Err(e) => {
                        r.error(format!("Failed to connect to Client {name}.\n====\n{e}\n"));
                        return r;
                    }
                }
            }
            Daemon::Storage(name) => {
                let Some(st) = cfg.dir_storages().into_iter().find(|s| s.name == *name) else {
                    return Reply::failed(format!("Storage \"{name}\" not found.\n"));
                };
                r.text(format!(
                    "Connecting to Storage daemon {} at {}:{}\n",
                    st.name, st.address, st.port
                ));
                match self.jobs.connect_sd(&st).await {
                    Ok(ch) => {
                        let enc = ch
                            .conn
                            .tls()
                            .map(|t| t.cipher.clone())
                            .unwrap_or_else(|| "None".into());
                        r.text(format!(" Encryption: {enc}\n"));
                        // vectors/clear-status-client-storage conn 3 msg 9: `status
                        // «device»⏎` (the Storage resource's first Device).
                        let dev = st.devices.first().cloned().unwrap_or_default();
                        let cmd = match &dot {
                            Some(d) => format!(".status {d}\n"),
                            None => format!("status {dev}\n"),
                        };
                        (ch.conn, format!("Storage \"{name}\""), cmd)
                    }
                    Err(e) => {
                        r.error(format!(
                            "Failed to connect to Storage daemon {name}.\n====\n{e}\n"
                        ));
                        return r;
                    }
                }
            }
        };
        if let Err(e) = conn.send(cmd.as_bytes()).await {
            r.error(format!("{label}: {e}\n"));
            return r;
        }
        // Bounded: a daemon's status is a few kB; stop copying after 1 MB.
        let mut total = 0usize;
        loop {
            match conn.recv().await {
                Ok(Frame::Data(d)) => {
                    total += d.len();
                    if total <= 1_000_000 {
                        // The daemons send C strings: each frame ends with its NUL
                        // (conn 2 msgs 11-24).
                        let d = d.strip_suffix(b"\0").unwrap_or(d);
                        r.text(String::from_utf8_lossy(d).into_owned());
                    }
                }
                Ok(Frame::Signal(Signal::Heartbeat)) => {}
                Ok(Frame::Signal(_)) => break,
                Ok(Frame::Chunk(_)) => {}
                Err(e) => {
                    r.error(format!("{label}: {e}\n"));
                    return r;
                }
            }
        }
        let _ = conn.signal(Signal::Terminate).await;
        r
    }
}

/// The level column of Bareos' job lists (`JobLevelToString()` shortened as in
/// `ListTerminatedJobs()`: `Full`, `Incr`, `Diff`).
fn short_level(l: fd_core::wire::codes::JobLevel) -> &'static str {
    use fd_core::wire::codes::JobLevel as L;
    match l {
        L::Full => "Full",
        L::Incremental => "Incr",
        L::Differential => "Diff",
        L::Base => "Base",
        _ => "",
    }
}

fn exit_status(s: JobStatus) -> i64 {
    match s {
        JobStatus::Terminated => 0,
        JobStatus::Warnings => 1,
        _ => 2,
    }
}

fn queued(r: &mut Reply, id: u32) {
    r.text(format!("Job queued. JobId={id}\n"));
    r.messages
        .push(("info".into(), format!("Job queued. JobId={id}\n")));
    // `ua->send->ObjectStart("run"); ObjectKeyValue("jobid", …)` (core/src/dird/ua_run.cc):
    // `{"run": {"jobid": "N"}}` in API mode 2.
    r.result.set(
        "run",
        Json::object().with("jobid", Json::str(id.to_string())),
    );
}

/// `HH:MM:SS` (Bareos' `duration` column).
pub fn hms(secs: i64) -> String {
    let s = secs.max(0);
    format!("{:02}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
}

fn numeric(v: &str) -> bool {
    !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit())
}

/// A Bareos `+---+` table (`ListResult()` in horizontal mode): numbers right-aligned, other
/// values and the header left-aligned, one space of padding each side.
pub fn render_table(cols: &[&str], rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = cols
        .iter()
        .enumerate()
        .map(|(i, c)| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|v| v.chars().count())
                .chain(std::iter::once(c.len()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let sep = {
        let mut s = String::from("+");
        for w in &widths {
            s.push_str(&"-".repeat(w + 2));
            s.push('+');
        }
        s.push('\n');
        s
    };
    let mut out = sep.clone();
    out.push('|');
    for (c, w) in cols.iter().zip(&widths) {
        out.push_str(&format!(" {c:<w$} |"));
    }
    out.push('\n');
    out.push_str(&sep);
    for row in rows {
        out.push('|');
        for (v, w) in row.iter().zip(&widths) {
            if numeric(v) {
                out.push_str(&format!(" {v:>w$} |"));
            } else {
                out.push_str(&format!(" {v:<w$} |"));
            }
        }
        out.push('\n');
    }
    out.push_str(&sep);
    out
}

/// `llist`: one `name: value` line per column, a blank line between rows.
pub fn vertical(cols: &[&str], rows: &[Vec<String>]) -> String {
    let w = cols.iter().map(|c| c.len()).max().unwrap_or(0);
    let mut out = String::new();
    for row in rows {
        for (c, v) in cols.iter().zip(row) {
            out.push_str(&format!("{c:>w$}: {v}\n"));
        }
        out.push('\n');
    }
    out
}

impl JobEngine for ConsoleEngine {
    fn answer<'a>(
        &'a self,
        session: &'a Session,
        dialog: crate::ua::Dialog,
        line: String,
    ) -> EngineFuture<'a> {
        Box::pin(async move {
            let state = {
                let mut g = match dialog.0.lock() {
                    Ok(g) => g,
                    Err(p) => p.into_inner(),
                };
                std::mem::replace(&mut *g, Box::new(()))
            };
            let state = match state.downcast::<restore_dialog::State>() {
                Ok(st) => return restore_dialog::answer(self, session, *st, line).await,
                Err(other) => other,
            };
            match state.downcast::<catalog_cmds::PurgeConfirm>() {
                Ok(c) => catalog_cmds::purge_answer(self, *c, &line).await,
                Err(_) => Reply::failed("the question was lost; run the command again\n"),
            }
        })
    }

    fn execute<'a>(&'a self, session: &'a Session, request: Request) -> EngineFuture<'a> {
        Box::pin(async move {
            match request {
                Request::Run(req) => self.run(session, req).await,
                Request::Restore(req) => self.restore(session, req).await,
                Request::Estimate { run, listing } => self.estimate(session, run, listing).await,
                Request::Cancel { job, .. } => self.cancel(job).await,
                Request::Wait { job, timeout } => self.wait(job, timeout).await,
                Request::List { long, args } => self.list(session, long, args).await,
                Request::ClientStatus { client, dot } => {
                    self.daemon_status(Daemon::Client(client), dot).await
                }
                Request::StorageStatus { storage, dot } => {
                    self.daemon_status(Daemon::Storage(storage), dot).await
                }
                Request::Other { command, args }
                    if crate::ua::devices::COMMANDS.contains(&command.as_str()) =>
                {
                    crate::ua::devices::execute(&self.jobs, session, &command, &args).await
                }
                Request::Other { command, args } if command == "prune" => {
                    catalog_cmds::prune(self, session, args).await
                }
                Request::Other { command, args } if command == "purge" => {
                    catalog_cmds::purge(self, session, args).await
                }
                Request::Other { command, args } if command == "update" => {
                    catalog_cmds::update(self, args).await
                }
                Request::Other { command, .. } => {
                    Reply::failed(format!("{command}: not implemented in Barque\n"))
                }
            }
        })
    }

    fn take_messages(&self) -> Vec<String> {
        self.jobs.console().take()
    }

    fn has_messages(&self) -> bool {
        self.jobs.console().has_messages()
    }

    fn reload(&self, config: &Config) {
        self.jobs.reload(Arc::new(config.clone()));
    }

    fn client_pool(&self) -> Option<Arc<jobs::pool::ClientPool>> {
        Some(self.jobs.client_pool())
    }

    fn scheduled(&self, days: u32) -> Vec<crate::ua::engine::ScheduledJob> {
        let cfg = self.jobs.config();
        let sched = jobs::scheduler::Scheduler::from_config(&cfg);
        let now = self.jobs.clock().now();
        let to = now + i64::from(days.max(1)) * 86_400 - 1;
        let mut out = Vec::new();
        for run in sched.next_runs(now, to) {
            let Some(job) = cfg.dir_jobs().into_iter().find(|j| j.name == run.job) else {
                continue;
            };
            let backup = job.job_type.eq_ignore_ascii_case("backup");
            let level = if backup {
                run.level
                    .or_else(|| job.level.as_deref().and_then(jobs::level_from_name))
                    .map(jobs::level_name)
                    .unwrap_or("Full")
                    .to_string()
            } else {
                " ".to_string()
            };
            // The volume a backup would get now, without creating or pruning one
            // (PrtRuntime: FindNextVolumeForAppend with fnv_no_create_vol, fnv_no_prune).
            let pool = run.spec.pool.clone().or(job.pool.clone());
            let media_type = run
                .spec
                .storage
                .clone()
                .or_else(|| job.storage.first().cloned())
                .and_then(|st| cfg.dir_storages().into_iter().find(|x| x.name == st))
                .map(|st| st.media_type);
            let volume = match (backup, pool, media_type, self.jobs.catalog().try_lock()) {
                (true, Some(p), Some(mt), Ok(mut c)) => c
                    .pool(&p)
                    .ok()
                    .flatten()
                    .and_then(|p| c.find_appendable_media(p.pool_id, &mt).ok().flatten())
                    .map(|m| m.volume_name),
                _ => None,
            };
            let mut ty = job.job_type.to_ascii_lowercase();
            if let Some(f) = ty.get_mut(..1) {
                f.make_ascii_uppercase();
            }
            out.push(crate::ua::engine::ScheduledJob {
                level,
                job_type: ty,
                priority: run.spec.priority.unwrap_or(job.priority),
                time: run.time,
                name: job.name.clone(),
                volume: volume.unwrap_or_else(|| "*unknown*".into()),
            });
        }
        out
    }

    fn status_jobs(&self) -> StatusJobs {
        let job = |p: &jobs::JobProgress, time: i64| StatusJob {
            job_id: p.job_id,
            level: if p.job_type == fd_core::wire::codes::JobType::Backup {
                short_level(p.level).into()
            } else {
                String::new()
            },
            name: p.name.clone(),
            job: p.job.clone(),
            status: p.status.to_u8(),
            files: p.files,
            bytes: p.bytes,
            time,
        };
        StatusJobs {
            running: self
                .jobs
                .status()
                .running
                .iter()
                .map(|p| job(p, p.start_time))
                .collect(),
            terminated: self.jobs.ended().iter().map(|(p, t)| job(p, *t)).collect(),
            db: Some(self.db.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_matches_bareos_list_jobs() {
        // vectors/clear-bconsole/bconsole-output.txt, `list jobs` (first row).
        let cols = [
            "jobid",
            "name",
            "client",
            "starttime",
            "duration",
            "type",
            "level",
            "jobfiles",
            "jobbytes",
            "jobstatus",
        ];
        let rows = [
            [
                "1",
                "CapBackup",
                "bareos-fd",
                "2026-11-22 15:46:54",
                "00:00:01",
                "B",
                "F",
                "6",
                "306",
                "T",
            ],
            [
                "3",
                "CapRestore",
                "bareos-fd",
                "2026-11-22 15:47:33",
                "00:00:02",
                "R",
                "F",
                "7",
                "352",
                "T",
            ],
        ]
        .iter()
        .map(|r| r.iter().map(|s| s.to_string()).collect())
        .collect::<Vec<Vec<String>>>();
        let want = "\
+-------+------------+-----------+---------------------+----------+------+-------+----------+----------+-----------+
| jobid | name       | client    | starttime           | duration | type | level | jobfiles | jobbytes | jobstatus |
+-------+------------+-----------+---------------------+----------+------+-------+----------+----------+-----------+
|     1 | CapBackup  | bareos-fd | 2026-11-22 15:46:54 | 00:00:01 | B    | F     |        6 |      306 | T         |
|     3 | CapRestore | bareos-fd | 2026-11-22 15:47:33 | 00:00:02 | R    | F     |        7 |      352 | T         |
+-------+------------+-----------+---------------------+----------+------+-------+----------+----------+-----------+
";
        assert_eq!(render_table(&cols, &rows), want);
    }

    #[test]
    fn terminated_rows_match_bareos_status_dir() {
        // vectors/clear-bconsole conn 1 msgs 21 and 23.
        let t = crate::jobs::time::unix(2026, 11, 22, 15, 46, 0);
        let j = StatusJob {
            job_id: 1,
            level: "Full".into(),
            name: "CapBackup".into(),
            job: "CapBackup.2026-11-22_15.46.52_03".into(),
            status: b'T',
            files: 6,
            bytes: 306,
            time: t,
        };
        assert_eq!(
            crate::ua::terminated_line(&j),
            "     1  Full          6       306   OK       22-Nov-26 15:46 CapBackup\n"
        );
        let r = StatusJob {
            job_id: 3,
            level: String::new(),
            name: "CapRestore".into(),
            files: 7,
            bytes: 352,
            time: t + 60,
            ..j
        };
        assert_eq!(
            crate::ua::terminated_line(&r),
            "     3                7       352   OK       22-Nov-26 15:47 CapRestore\n"
        );
        assert_eq!(
            short_level(fd_core::wire::codes::JobLevel::Incremental),
            "Incr"
        );
    }

    #[test]
    fn durations() {
        assert_eq!(hms(1), "00:00:01");
        assert_eq!(hms(3723), "01:02:03");
        assert_eq!(hms(-5), "00:00:00");
    }
}
