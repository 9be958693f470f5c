//! The Director's user agent: the console command table and the commands that need neither
//! the catalog nor the job engine.
//!
//! # How a command line is dispatched (`Do_a_command`, `core/src/dird/ua_cmds.cc`)
//!
//! The first word is compared, case-insensitively, as a **prefix** of each key of the command
//! table in the table's order, and the first key it starts matches (`st` is `status`, `s`
//! too, because Bareos' table is "not all in alphabetical order": [`COMMANDS`] keeps Bareos'
//! order so that abbreviations mean the same here). The full key is then checked against the
//! console's `CommandACL` (`quit`, `exit`, `whoami` are always allowed). A word that matches
//! nothing, **or a command the console may not use**, gets `<word>: is an invalid command.\n`
//! (Bareos deliberately answers both the same way).
//!
//! # Replies
//!
//! A command produces a [`Reply`]: text pieces (API modes 0 and 1; the server sends each
//! piece as one frame, like Bareos' output formatter flushing), a JSON `result` object (API
//! mode 2) and typed messages that only appear in a JSON error envelope. The framing with
//! signals (`EOD`, `CMD_BEGIN`, `CMD_OK`, `MAIN_PROMPT`) is the server's job
//! ([`crate::server`]).
//!
//! # Commands that need the catalog or the job engine
//!
//! `list`, `llist`, `run`, `restore`, `estimate`, `cancel`, `wait`, `status client=` and
//! `status storage=` (and the other catalog commands) are in the table with their argument
//! parsing ([`engine`]), so names and ACLs are checked now. What they would do is behind the
//! async [`engine::JobEngine`] trait: the command returns a [`Reply`] whose `deferred`
//! request the server hands to the engine and awaits. Without an engine the reply says so
//! plainly, e.g. `run: the job engine is not available in this build`, and the command
//! fails.

pub mod args;
pub mod engine;
mod show;

use std::time::SystemTime;

use fd_core::wire::console::{ApiCommand, ApiMode};

use crate::acl::AclKind;
use crate::json::Json;
use crate::model::Model;
use crate::time;
pub use args::Args;
use engine::JobEngine;

/// The version this Director reports.
pub const VERSION: &str = "26.0.0~barque";
/// Its build date in Bareos' `dd Month yyyy` form.
pub const BUILD_DATE: &str = "22 November 2026";
/// `Version="a.b.c"` of hellos.
pub const SHORT_VERSION: &str = "26.0.0";
/// What the version line says about the system.
pub const OS_INFO: &str = "Barque (Rust)";
/// The services message of the `1002` login banner.
pub const SERVICES_MESSAGE: &str = "Barque: a Rust implementation of the Bareos protocol";

/// One console session's state.
#[derive(Debug, Clone)]
pub struct Session {
    /// `*UserAgent*` or the named console.
    pub console: String,
    /// Its access lists.
    pub acl: crate::acl::UserAcl,
    /// The API mode (`.api`).
    pub api: ApiMode,
    /// `.api json compact=yes`.
    pub compact: bool,
    /// When it connected.
    pub connected_at: SystemTime,
    /// Set by `quit`/`exit`/`.quit`.
    pub quit: bool,
    /// `autodisplay on`: queued messages are shown after each command.
    pub autodisplay: bool,
    /// The console was told "You have messages." (or `BNET_MSGS_PENDING`) and has not read
    /// them yet (`user_notified_msg_pending`).
    pub notified: bool,
}

impl Session {
    /// A fresh session for a console.
    pub fn new(console: &crate::model::ConsoleDef) -> Session {
        Session {
            console: console.name.clone(),
            acl: console.acl.clone(),
            api: ApiMode::Off,
            compact: false,
            connected_at: SystemTime::now(),
            quit: false,
            autodisplay: false,
            notified: false,
        }
    }
}

/// What a command can see of the Director.
pub struct Ctx<'a> {
    /// The configuration.
    pub model: &'a Model,
    /// When the Director started.
    pub started: SystemTime,
    /// When each connected console connected (for `status dir`).
    pub consoles: Vec<SystemTime>,
    /// Re-read the configuration (for `reload`).
    pub reload: &'a (dyn Fn() -> Result<(), String> + Sync),
    /// The job engine, when there is one.
    pub engine: Option<&'a dyn JobEngine>,
    /// Take the queued console messages (the Director's message queue, shared by all
    /// consoles as Bareos' console message file is).
    pub take_messages: &'a (dyn Fn() -> Vec<String> + Sync),
}

/// The output of one command.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// Success (`CMD_OK`) or failure (`CMD_FAILED`, JSON error envelope).
    pub ok: bool,
    /// Text pieces, each sent as one frame in API modes 0 and 1.
    pub text: Vec<String>,
    /// The JSON `result` object.
    pub result: Json,
    /// Messages by type (`error`, `info`, ...), reported in a JSON error envelope.
    pub messages: Vec<(String, String)>,
    /// A checked request for the job engine: the server replaces this reply with the
    /// engine's.
    pub deferred: Option<Box<engine::Request>>,
}

impl Default for Reply {
    fn default() -> Self {
        Reply {
            ok: true,
            text: Vec::new(),
            result: Json::object(),
            messages: Vec::new(),
            deferred: None,
        }
    }
}

impl Reply {
    /// Append a text piece (one frame).
    pub fn text(&mut self, s: impl Into<String>) {
        self.text.push(s.into());
    }

    /// An informational line (`SendMsg`): text, and a `normal` message in JSON.
    pub fn msg(&mut self, s: impl Into<String>) {
        let s = s.into();
        self.messages.push(("normal".into(), s.clone()));
        self.text.push(s);
    }

    /// An error (`ErrorMsg`): text, an `error` message, and the command fails.
    pub fn error(&mut self, s: impl Into<String>) {
        let s = s.into();
        self.messages.push(("error".into(), s.clone()));
        self.text.push(s);
        self.ok = false;
    }

    /// A failed reply with one error line.
    pub fn failed(s: impl Into<String>) -> Reply {
        let mut r = Reply::default();
        r.error(s);
        r
    }

    /// The messages grouped by type, as the JSON error envelope carries them.
    pub fn messages_json(&self) -> Json {
        let mut m = Json::object();
        for (t, s) in &self.messages {
            match m.get(t) {
                Some(Json::Array(a)) => {
                    let mut a = a.clone();
                    a.push(Json::str(s.clone()));
                    m.set(t.clone(), Json::Array(a));
                }
                _ => m.set(t.clone(), Json::Array(vec![Json::str(s.clone())])),
            }
        }
        m
    }

    /// All text pieces joined.
    pub fn joined(&self) -> String {
        self.text.concat()
    }
}

/// What a table entry does.
#[derive(Clone, Copy)]
pub enum Handler {
    /// Implemented here.
    Run(fn(&Ctx<'_>, &mut Session, &Args) -> Reply),
    /// Needs the job engine or the catalog; see [`engine`].
    Engine,
    /// Known to Bareos, not implemented by Barque.
    NotImplemented,
}

/// One command of the table.
#[derive(Clone, Copy)]
pub struct Command {
    /// The full command name.
    pub key: &'static str,
    /// What `help` says (Barque's own wording).
    pub help: &'static str,
    /// How it runs.
    pub handler: Handler,
}

const fn c(key: &'static str, help: &'static str, handler: Handler) -> Command {
    Command { key, help, handler }
}

use Handler::{Engine as E, NotImplemented as N, Run as R};

/// The command table, in Bareos' order (`commands[]` in `core/src/dird/ua_cmds.cc`), so
/// that abbreviations resolve to the same command.
pub static COMMANDS: &[Command] = &[
    c(".", "no operation", R(noop)),
    c(".actiononpurge", "actions on purge", R(dot_aop)),
    c(
        ".api",
        "switch API mode: 0|1|2|off|on|json [compact=yes|no]",
        R(dot_api),
    ),
    c(
        ".authorized",
        "check an ACL: job=|client=|storage=|schedule=|pool=|cmd=|fileset=|catalog=",
        R(dot_authorized),
    ),
    c(".catalogs", "list Catalog resources", R(dot_catalogs)),
    c(
        ".clients",
        "list Client resources [enabled|disabled]",
        R(dot_clients),
    ),
    c(".consoles", "list Console resources", R(dot_consoles)),
    c(".users", "list User resources", R(dot_users)),
    c(
        ".defaults",
        "defaults of job=|client=|storage=|pool=",
        R(dot_defaults),
    ),
    c(".filesets", "list FileSet resources", R(dot_filesets)),
    c(
        ".help",
        "machine-readable command list [all] [item=cmd]",
        R(dot_help),
    ),
    c(".jobdefs", "list JobDefs resources", R(dot_jobdefs)),
    c(
        ".jobs",
        "list Job resources [type=X] [enabled|disabled]",
        R(dot_jobs),
    ),
    c(".jobstatus", "job status codes (needs the catalog)", E),
    c(".levels", "list backup levels", R(dot_levels)),
    c(".locations", "locations (needs the catalog)", E),
    c(".messages", "pending messages", R(messages)),
    c(".media", "list media (needs the catalog)", E),
    c(".mediatypes", "list media types (needs the catalog)", E),
    c(".msgs", "list Messages resources", R(dot_msgs)),
    c(".pools", "list Pool resources [type=X]", R(dot_pools)),
    c(".profiles", "list Profile resources", R(dot_profiles)),
    c(".quit", "close the connection", R(quit)),
    c(".sql", "SQL query (needs the catalog)", E),
    c(".schedule", "list Schedule resources", R(dot_schedule)),
    c(
        ".status",
        "status: dir (header|scheduled|running|terminated|current|last) | client=X | storage=X",
        R(dot_status),
    ),
    c(
        ".storages",
        "list Storage resources [enabled|disabled]",
        R(dot_storages),
    ),
    c(".types", "list job types", R(dot_types)),
    c(".volstatus", "volume status values", R(dot_volstatus)),
    c(".bvfs_lsdirs", "BVFS (needs the catalog)", E),
    c(".bvfs_lsfiles", "BVFS (needs the catalog)", E),
    c(".bvfs_update", "BVFS (needs the catalog)", E),
    c(".bvfs_get_jobids", "BVFS (needs the catalog)", E),
    c(".bvfs_versions", "BVFS (needs the catalog)", E),
    c(".bvfs_restore", "BVFS (needs the catalog)", E),
    c(".bvfs_cleanup", "BVFS (needs the catalog)", E),
    c(".bvfs_clear_cache", "BVFS (needs the catalog)", E),
    c("add", "add volumes to a pool (needs the catalog)", E),
    c("autodisplay", "autodisplay on|off", R(autodisplay)),
    c("automount", "automount on|off", N),
    c("cancel", "cancel a job: jobid=|job=|ujobid= [yes]", E),
    c("configure", "change the configuration", N),
    c("create", "create a pool record (needs the catalog)", E),
    c("delete", "delete catalog records (needs the catalog)", E),
    c("disable", "disable a job/client/schedule", N),
    c("enable", "enable a job/client/schedule", N),
    c(
        "estimate",
        "estimate a backup: job= [client=] [fileset=] [level=] [listing]",
        E,
    ),
    c("exit", "leave the console", R(quit)),
    c("export", "export volumes", N),
    c("gui", "gui on|off (no-op)", R(noop)),
    c("help", "this list; help <command>", R(help)),
    c("import", "import volumes", N),
    c("label", "label a volume", N),
    c(
        "list",
        "catalog listings: jobs, jobid=, files, volumes, pools ...",
        E,
    ),
    c("llist", "long catalog listings", E),
    c("messages", "show pending messages", R(messages)),
    c("memory", "memory usage", N),
    c("mount", "mount a volume", N),
    c("move", "move volumes", N),
    c("prune", "prune catalog records (needs the catalog)", E),
    c("purge", "purge catalog records (needs the catalog)", E),
    c("quit", "leave the console", R(quit)),
    c("query", "predefined SQL queries (needs the catalog)", E),
    c("restore", "restore files: client= jobid= where= ... ", E),
    c("relabel", "relabel a volume", N),
    c("release", "release a storage device", N),
    c("reload", "re-read the configuration", R(reload)),
    c("rerun", "rerun a job (needs the catalog)", E),
    c("resolve", "resolve a host name", N),
    c(
        "run",
        "run a job: job= [client=] [fileset=] [level=] [storage=] [pool=] [when=] [yes]",
        E,
    ),
    c(
        "status",
        "status [dir|director] | client=X | storage=X",
        R(status),
    ),
    c("setbandwidth", "set a bandwidth limit", N),
    c("setdebug", "set the debug level", N),
    c("setdevice", "set device parameters", N),
    c("setip", "set a client address", N),
    c(
        "show",
        "show resources: show clients | show client=X | show all ...",
        R(show::show),
    ),
    c("sqlquery", "interactive SQL (needs the catalog)", E),
    c("time", "print the current time", R(time_cmd)),
    c("trace", "trace on|off", N),
    c("truncate", "truncate purged volumes", N),
    c("unmount", "unmount a volume", N),
    c("umount", "unmount a volume", N),
    c("update", "update catalog records (needs the catalog)", E),
    c("use", "select a catalog", N),
    c("var", "variable expansion", N),
    c("version", "print the Director version", R(version)),
    c("wait", "wait for jobs: [jobid=|job=|ujobid=] [timeout=]", E),
    c("whoami", "print the console name", R(whoami)),
];

/// Find the command a typed word means (prefix, case-insensitive, table order).
pub fn lookup(word: &str) -> Option<&'static Command> {
    if word.is_empty() {
        return None;
    }
    COMMANDS.iter().find(|c| {
        c.key.len() >= word.len()
            && c.key
                .as_bytes()
                .get(..word.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(word.as_bytes()))
    })
}

/// The result of [`execute`].
#[derive(Debug, Clone, PartialEq)]
pub struct Executed {
    /// The table key that ran; `None` when the word was invalid or refused.
    pub command: Option<&'static str>,
    /// What it produced.
    pub reply: Reply,
}

/// Run one command line for a session.
pub fn execute(ctx: &Ctx<'_>, session: &mut Session, line: &str) -> Executed {
    let args = match Args::parse(line) {
        Ok(a) => a,
        Err(e) => {
            return Executed {
                command: None,
                reply: Reply::failed(format!("{e}\n")),
            }
        }
    };
    let Some(word) = args.command() else {
        // An empty line: Bareos does nothing and just ends the reply.
        return Executed {
            command: Some(""),
            reply: Reply::default(),
        };
    };
    let found = lookup(word).filter(|c| {
        matches!(c.key, "exit" | "quit" | "whoami") || session.acl.allows(AclKind::Command, c.key)
    });
    let Some(cmd) = found else {
        if lookup(word).is_some() {
            log::info!(
                "console {}: command {word:?} refused by its CommandACL",
                session.console
            );
        }
        return Executed {
            command: None,
            reply: Reply::failed(format!("{word}: is an invalid command.\n")),
        };
    };
    let reply = match cmd.handler {
        Handler::Run(f) => f(ctx, session, &args),
        Handler::Engine => engine::dispatch(ctx, session, cmd.key, &args),
        Handler::NotImplemented => Reply::failed(format!(
            "{}: this command is not implemented in Barque yet.\n",
            cmd.key
        )),
    };
    Executed {
        command: Some(cmd.key),
        reply,
    }
}

fn noop(_: &Ctx<'_>, _: &mut Session, _: &Args) -> Reply {
    Reply::default()
}

fn quit(_: &Ctx<'_>, s: &mut Session, _: &Args) -> Reply {
    s.quit = true;
    Reply::default()
}

fn autodisplay(_: &Ctx<'_>, s: &mut Session, a: &Args) -> Reply {
    match a.key(1) {
        Some(w) if w.eq_ignore_ascii_case("on") => {
            s.autodisplay = true;
            Reply::default()
        }
        Some(w) if w.eq_ignore_ascii_case("off") => {
            s.autodisplay = false;
            Reply::default()
        }
        _ => Reply::failed("ON or OFF keyword missing.\n"),
    }
}

fn dot_api(_: &Ctx<'_>, s: &mut Session, a: &Args) -> Reply {
    let line = a
        .args
        .iter()
        .map(|x| match &x.value {
            Some(v) => format!("{}={}", x.key, v),
            None => x.key.clone(),
        })
        .collect::<Vec<_>>()
        .join(" ");
    let line = format!(
        ".api{}",
        line.strip_prefix(a.key(0).unwrap_or("")).unwrap_or("")
    );
    match ApiCommand::parse(line.as_bytes()) {
        Ok(cmd) => {
            s.api = cmd.mode;
            // DotApiCmd only changes the compact flag when `compact=` is given.
            if let Some(c) = cmd.compact {
                s.compact = c;
            }
            let n = match cmd.mode {
                ApiMode::Off => 0,
                ApiMode::On => 1,
                ApiMode::Json => 2,
            };
            let mut r = Reply::default();
            r.text(format!("api: {n}\n"));
            r.result.set("api", Json::Int(n));
            r
        }
        // DotApiCmd fails silently on an unknown mode.
        Err(_) => Reply {
            ok: false,
            ..Reply::default()
        },
    }
}

fn version(ctx: &Ctx<'_>, _: &mut Session, _: &Args) -> Reply {
    let name = &ctx.model.director.name;
    let mut r = Reply::default();
    r.text(format!(
        "{name} Version: {VERSION} ({BUILD_DATE}) {OS_INFO}\n"
    ));
    r.result.set(
        "version",
        Json::object()
            .with("name", Json::str(name.clone()))
            .with("type", Json::str("bareos-director"))
            .with("version", Json::str(VERSION))
            .with("bdate", Json::str(BUILD_DATE))
            .with("operatingsystem", Json::str(OS_INFO)),
    );
    r
}

fn whoami(_: &Ctx<'_>, s: &mut Session, _: &Args) -> Reply {
    let name = if s.acl.is_root() { "root" } else { &s.console };
    let mut r = Reply::default();
    r.text(format!("{name}\n"));
    r.result.set("whoami", Json::str(name));
    r
}

/// `time` (`time_cmd`): `%a %d-%b-%Y %H:%M:%S`; in JSON also the fields as strings.
fn time_cmd(_: &Ctx<'_>, _: &mut Session, _: &Args) -> Reply {
    let t = SystemTime::now();
    let now = time::long(t);
    let c = time::fields(t);
    let mut r = Reply::default();
    r.text(format!("{now}\n"));
    r.result.set(
        "time",
        Json::object()
            .with("full", Json::str(now))
            .with("year", Json::str(format!("{:04}", c.year)))
            .with("month", Json::str(format!("{:02}", c.month)))
            .with("day", Json::str(format!("{:02}", c.day)))
            .with("hour", Json::str(format!("{:02}", c.hour)))
            .with("minute", Json::str(format!("{:02}", c.minute)))
            .with("second", Json::str(format!("{:02}", c.second))),
    );
    r
}

/// `messages` / `.messages`: the queued console messages (`DoMessages`), or
/// `You have no messages.` when there are none.
pub fn messages(ctx: &Ctx<'_>, s: &mut Session, _: &Args) -> Reply {
    let queued = (ctx.take_messages)();
    s.notified = false;
    let mut r = Reply::default();
    if queued.is_empty() {
        r.text("You have no messages.\n");
    }
    let mut arr = Vec::new();
    for m in queued {
        arr.push(Json::str(m.clone()));
        r.text(m);
    }
    r.result.set("messages", Json::Array(arr));
    r
}

fn reload(ctx: &Ctx<'_>, _: &mut Session, _: &Args) -> Reply {
    let mut r = Reply::default();
    match (ctx.reload)() {
        Ok(()) => {
            r.text("reloaded\n");
            r.result
                .set("reload", Json::object().with("success", Json::Bool(true)));
        }
        Err(e) => {
            r.error(format!("failed to reload\n{e}\n"));
            r.result
                .set("reload", Json::object().with("success", Json::Bool(false)));
        }
    }
    r
}

/// `help [command]` (`help_cmd`): the layout of Bareos' table with Barque's own
/// one-line descriptions (no argument synopses).
fn help(_: &Ctx<'_>, s: &mut Session, a: &Args) -> Reply {
    let mut r = Reply::default();
    let mut text =
        String::from("  Command            Description\n  =======            ===========\n");
    let entry = |c: &Command, permission: bool| {
        Json::object()
            .with("command", Json::str(c.key))
            .with("description", Json::str(c.help))
            .with("permission", Json::Bool(permission))
    };
    if let Some(word) = a.key(1).filter(|_| a.args.len() == 2) {
        // An exact name here, not a prefix.
        match COMMANDS.iter().find(|c| c.key.eq_ignore_ascii_case(word)) {
            Some(c) => {
                text.push_str(&format!("  {:<18} {}\n\n", c.key, c.help));
                r.result
                    .set(c.key, entry(c, s.acl.allows(AclKind::Command, c.key)));
            }
            None => text.push_str(&format!("\nCan't find {word} command.\n\n")),
        }
    } else {
        for c in COMMANDS
            .iter()
            .filter(|c| !c.key.starts_with('.'))
            .filter(|c| s.acl.allows(AclKind::Command, c.key))
        {
            text.push_str(&format!("  {:<18} {}\n", c.key, c.help));
            r.result.set(c.key, entry(c, true));
        }
    }
    text.push_str("\nWhen at a prompt, entering a period (.) cancels the command.\n\n");
    r.text(text);
    r
}

/// `.help [all] [item=cmd] [full]` (`DotHelpCmd`): `item=` one command (exact name), `all`
/// the non-dot commands one per line, otherwise every command as `key description -- args`;
/// `full` includes the commands the console may not use. Barque has no argument synopses,
/// so `arguments` is empty.
fn dot_help(_: &Ctx<'_>, s: &mut Session, a: &Args) -> Reply {
    let mut r = Reply::default();
    if a.rest()
        .iter()
        .any(|w| w.key.eq_ignore_ascii_case("full") && w.value.is_some())
    {
        return Reply::failed("The full option does not take a value.\n");
    }
    let full = a.has("full");
    let entry = |c: &Command, allowed: bool| {
        Json::object()
            .with("command", Json::str(c.key))
            .with("description", Json::str(c.help))
            .with("arguments", Json::str(""))
            .with("permission", Json::Bool(allowed))
    };
    let mut text = String::new();
    if let Some(item) = a.value("item") {
        if let Some(c) = COMMANDS.iter().find(|c| c.key == item) {
            text.push_str(&format!("{}\n", c.help));
            r.result
                .set(c.key, entry(c, s.acl.allows(AclKind::Command, c.key)));
        }
    } else {
        let all = a.has("all");
        for c in COMMANDS {
            let allowed = s.acl.allows(AclKind::Command, c.key);
            if !(full || allowed) || (all && c.key.starts_with('.')) {
                continue;
            }
            if all {
                text.push_str(&format!("{}\n", c.key));
            } else {
                text.push_str(&format!("{} {} -- \n", c.key, c.help));
            }
            r.result.set(c.key, entry(c, allowed));
        }
    }
    if !text.is_empty() {
        r.text(text);
    }
    r
}

/// Send one name per line; in JSON an array of `{name: ...}` objects with optional extras.
fn name_list(key: &str, items: Vec<(String, Vec<(&'static str, Json)>)>) -> Reply {
    let mut r = Reply::default();
    let mut text = String::new();
    let mut arr = Vec::new();
    for (name, extra) in items {
        text.push_str(&name);
        text.push('\n');
        let mut o = Json::object().with("name", Json::str(name));
        for (k, v) in extra {
            o.set(k, v);
        }
        arr.push(o);
    }
    if !text.is_empty() {
        r.text(text);
    }
    r.result.set(key, Json::Array(arr));
    r
}

fn enabled_of(ctx: &Ctx<'_>, kind: &str, name: &str) -> bool {
    ctx.model
        .config
        .resource(kind, name)
        .and_then(|r| {
            if kind == "Job" {
                ctx.model.config.job_value(r, "Enabled")
            } else {
                r.get_or_default("Enabled")
            }
        })
        .and_then(|v| v.as_bool())
        .unwrap_or(true)
}

fn filtered(
    ctx: &Ctx<'_>,
    s: &Session,
    a: &Args,
    kind: &str,
    acl: Option<AclKind>,
    with_enabled: bool,
) -> Vec<(String, Vec<(&'static str, Json)>)> {
    let only_enabled = a.has("enabled");
    let only_disabled = a.has("disabled");
    ctx.model
        .names(kind)
        .into_iter()
        .filter(|n| acl.is_none_or(|k| s.acl.allows(k, n)))
        .filter_map(|n| {
            let en = enabled_of(ctx, kind, &n);
            if (only_enabled && !en) || (only_disabled && en) {
                return None;
            }
            let extra = if with_enabled {
                vec![("enabled", Json::Bool(en))]
            } else {
                Vec::new()
            };
            Some((n, extra))
        })
        .collect()
}

fn dot_clients(ctx: &Ctx<'_>, s: &mut Session, a: &Args) -> Reply {
    name_list(
        "clients",
        filtered(ctx, s, a, "Client", Some(AclKind::Client), true),
    )
}

fn dot_storages(ctx: &Ctx<'_>, s: &mut Session, a: &Args) -> Reply {
    name_list(
        "storages",
        filtered(ctx, s, a, "Storage", Some(AclKind::Storage), true),
    )
}

fn dot_filesets(ctx: &Ctx<'_>, s: &mut Session, a: &Args) -> Reply {
    name_list(
        "filesets",
        filtered(ctx, s, a, "FileSet", Some(AclKind::FileSet), false),
    )
}

fn dot_catalogs(ctx: &Ctx<'_>, s: &mut Session, a: &Args) -> Reply {
    name_list(
        "catalogs",
        filtered(ctx, s, a, "Catalog", Some(AclKind::Catalog), false),
    )
}

fn dot_schedule(ctx: &Ctx<'_>, s: &mut Session, a: &Args) -> Reply {
    name_list(
        "schedules",
        filtered(ctx, s, a, "Schedule", Some(AclKind::Schedule), true),
    )
}

fn dot_consoles(ctx: &Ctx<'_>, s: &mut Session, a: &Args) -> Reply {
    name_list("consoles", filtered(ctx, s, a, "Console", None, false))
}

fn dot_users(ctx: &Ctx<'_>, s: &mut Session, a: &Args) -> Reply {
    name_list("users", filtered(ctx, s, a, "User", None, false))
}

fn dot_profiles(ctx: &Ctx<'_>, s: &mut Session, a: &Args) -> Reply {
    name_list("profiles", filtered(ctx, s, a, "Profile", None, false))
}

fn dot_msgs(ctx: &Ctx<'_>, s: &mut Session, a: &Args) -> Reply {
    name_list("messages", filtered(ctx, s, a, "Messages", None, false))
}

fn dot_jobdefs(ctx: &Ctx<'_>, s: &mut Session, a: &Args) -> Reply {
    name_list("jobdefs", filtered(ctx, s, a, "JobDefs", None, false))
}

fn dot_jobs(ctx: &Ctx<'_>, s: &mut Session, a: &Args) -> Reply {
    let ty = a.value("type").and_then(|t| t.chars().next());
    let jobs = filtered(ctx, s, a, "Job", Some(AclKind::Job), true)
        .into_iter()
        .filter(|(n, _)| {
            let Some(t) = ty else { return true };
            ctx.model
                .jobs
                .iter()
                .find(|j| &j.name == n)
                .and_then(|j| job_type_code(&j.job_type))
                == Some(t)
        })
        .collect();
    name_list("jobs", jobs)
}

fn dot_pools(ctx: &Ctx<'_>, s: &mut Session, a: &Args) -> Reply {
    let ty = a.value("type");
    let pools = filtered(ctx, s, a, "Pool", Some(AclKind::Pool), false)
        .into_iter()
        .filter(|(n, _)| {
            let Some(t) = ty else { return true };
            ctx.model
                .config
                .resource("Pool", n)
                .and_then(|r| ctx.model.string_of(r, "PoolType"))
                .is_some_and(|pt| pt.eq_ignore_ascii_case(t))
        })
        .collect();
    name_list("pools", pools)
}

/// The job types a Job resource may have and their letters, in Bareos' order (`jobtypes[]`
/// in `core/src/dird/dird_conf.cc`, letters from `core/src/include/job_types.h`).
const JOB_TYPES: &[(&str, char)] = &[
    ("Backup", 'B'),
    ("Admin", 'D'),
    ("Archive", 'A'),
    ("Verify", 'V'),
    ("Restore", 'R'),
    ("Migrate", 'g'),
    ("Copy", 'c'),
    ("Consolidate", 'O'),
];

/// Bareos' job type letter for a `Type` value.
pub fn job_type_code(t: &str) -> Option<char> {
    JOB_TYPES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(t))
        .map(|(_, c)| *c)
}

/// Levels per job type (`joblevels[]` in `core/src/dird/dird_conf.cc`, letters from
/// `core/src/include/job_level.h`); the types without levels are left out, as `.levels`
/// skips them.
const LEVELS: &[(&str, char, char)] = &[
    ("Full", 'F', 'B'),
    ("Base", 'B', 'B'),
    ("Incremental", 'I', 'B'),
    ("Differential", 'D', 'B'),
    ("Since", 'S', 'B'),
    ("VirtualFull", 'f', 'B'),
    ("Catalog", 'C', 'V'),
    ("InitCatalog", 'V', 'V'),
    ("VolumeToCatalog", 'O', 'V'),
    ("DiskToCatalog", 'd', 'V'),
    ("Data", 'A', 'V'),
    ("Full", 'F', 'c'),
    ("Incremental", 'I', 'c'),
    ("Differential", 'D', 'c'),
    ("Full", 'F', 'g'),
    ("Incremental", 'I', 'g'),
    ("Differential", 'D', 'g'),
];

/// One word per line; in JSON `{key: [{"name": word}, ...]}` (`DotTypesCmd`,
/// `DotLevelsCmd`, `DotAopCmd`, `DotVolstatusCmd` in `core/src/dird/ua_dotcmds.cc`).
fn word_list(key: &str, words: &[&str]) -> Reply {
    let mut r = Reply::default();
    r.text(words.iter().map(|w| format!("{w}\n")).collect::<String>());
    r.result.set(
        key,
        Json::Array(
            words
                .iter()
                .map(|w| Json::object().with("name", Json::str(*w)))
                .collect(),
        ),
    );
    r
}

fn dot_types(_: &Ctx<'_>, _: &mut Session, _: &Args) -> Reply {
    let names: Vec<&str> = JOB_TYPES.iter().map(|(n, _)| *n).collect();
    word_list("jobtypes", &names)
}

/// `.levels [jobtype]`: all levels, or those of one job type (`DotLevelsCmd`); the JSON
/// objects carry the level and job type letters as numbers, as Bareos sends them.
fn dot_levels(_: &Ctx<'_>, _: &mut Session, a: &Args) -> Reply {
    let only = a.key(1).map(|t| job_type_code(t).unwrap_or('\0'));
    let mut r = Reply::default();
    let mut text = String::new();
    let mut arr = Vec::new();
    for (name, level, jt) in LEVELS {
        if only.is_some_and(|o| o != *jt) {
            continue;
        }
        text.push_str(name);
        text.push('\n');
        arr.push(
            Json::object()
                .with("name", Json::str(*name))
                .with("level", Json::Int(i64::from(u32::from(*level))))
                .with("jobtype", Json::Int(i64::from(u32::from(*jt)))),
        );
    }
    if !text.is_empty() {
        r.text(text);
    }
    r.result.set("levels", Json::Array(arr));
    r
}

fn dot_aop(_: &Ctx<'_>, _: &mut Session, _: &Args) -> Reply {
    word_list("actiononpurge", &["None", "Truncate"])
}

fn dot_volstatus(_: &Ctx<'_>, _: &mut Session, _: &Args) -> Reply {
    word_list(
        "volstatus",
        &[
            "Append",
            "Full",
            "Used",
            "Error",
            "Purged",
            "Recycle",
            "Read-Only",
            "Cleaning",
            "Scratch",
            "Disabled",
        ],
    )
}

fn dot_authorized(ctx: &Ctx<'_>, s: &mut Session, a: &Args) -> Reply {
    let checks: [(&str, AclKind); 8] = [
        ("job", AclKind::Job),
        ("client", AclKind::Client),
        ("storage", AclKind::Storage),
        ("schedule", AclKind::Schedule),
        ("pool", AclKind::Pool),
        ("cmd", AclKind::Command),
        ("fileset", AclKind::FileSet),
        ("catalog", AclKind::Catalog),
    ];
    let _ = ctx;
    let mut asked = false;
    let mut ok = true;
    for (k, kind) in checks {
        if let Some(v) = a.value(k) {
            asked = true;
            ok &= s.acl.allows(kind, v);
        }
    }
    let mut r = Reply::default();
    if !asked {
        return Reply::failed(".authorized command requires a parameter.\n");
    }
    r.ok = ok;
    r.text(if ok {
        "authorized\n"
    } else {
        "not authorized\n"
    });
    r
}

fn dot_defaults(ctx: &Ctx<'_>, s: &mut Session, a: &Args) -> Reply {
    let m = ctx.model;
    let mut r = Reply::default();
    let mut obj = Json::object();
    let mut text = String::new();
    let mut kv = |k: &str, v: String| {
        text.push_str(&format!("{k}={v}\n"));
        obj.set(k, Json::str(v));
    };
    let none = || "*None*".to_string();
    if let Some(name) = a.value("job") {
        let Some(job) = m
            .jobs
            .iter()
            .find(|j| j.name.eq_ignore_ascii_case(name) && s.acl.allows(AclKind::Job, &j.name))
        else {
            return Reply::failed(format!("Job \"{name}\" not found.\n"));
        };
        kv("job", job.name.clone());
        kv("pool", job.pool.clone().unwrap_or_else(none));
        kv("messages", job.messages.clone().unwrap_or_else(none));
        kv("client", job.client.clone().unwrap_or_else(none));
        kv("storage", job.storage.first().cloned().unwrap_or_else(none));
        kv("where", job.where_.clone().unwrap_or_default());
        if job.job_type.eq_ignore_ascii_case("restore") {
            kv(
                "replace",
                job.replace.clone().unwrap_or_else(|| "Always".into()),
            );
        }
        kv("level", job.level.clone().unwrap_or_default());
        kv("type", job.job_type.clone());
        kv("fileset", job.fileset.clone().unwrap_or_else(none));
        kv("enabled", if job.enabled { "1" } else { "0" }.into());
        let catalog = job
            .client
            .as_ref()
            .and_then(|c| m.clients.iter().find(|x| &x.name == c))
            .and_then(|c| c.catalog.clone())
            .or_else(|| m.names("Catalog").into_iter().next())
            .unwrap_or_else(none);
        kv("catalog", catalog);
    } else if let Some(name) = a.value("client") {
        let Some(cl) = m
            .clients
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name) && s.acl.allows(AclKind::Client, &c.name))
        else {
            return Reply::failed(format!("Client \"{name}\" not found.\n"));
        };
        kv("client", cl.name.clone());
        kv("address", cl.address.clone());
        kv("port", cl.port.to_string());
        kv("enabled", if cl.enabled { "1" } else { "0" }.into());
        kv("catalog", cl.catalog.clone().unwrap_or_else(none));
    } else if let Some(name) = a.value("storage") {
        let Some(st) = m
            .storages
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name) && s.acl.allows(AclKind::Storage, &c.name))
        else {
            return Reply::failed(format!("Storage \"{name}\" not found.\n"));
        };
        kv("storage", st.name.clone());
        kv("address", st.address.clone());
        kv("port", st.port.to_string());
        kv("enabled", if st.enabled { "1" } else { "0" }.into());
        kv("media_type", st.media_type.clone());
        kv("device", st.devices.join(","));
    } else if let Some(name) = a.value("pool") {
        let Some(p) = m
            .config
            .resources("Pool")
            .find(|p| p.name.eq_ignore_ascii_case(name) && s.acl.allows(AclKind::Pool, &p.name))
        else {
            return Reply::failed(format!("Pool \"{name}\" not found.\n"));
        };
        kv("pool", p.name.clone());
        for (k, d) in [
            ("pool_type", "PoolType"),
            ("label_format", "LabelFormat"),
            ("max_volumes", "MaximumVolumes"),
            ("vol_retention", "VolumeRetention"),
            ("max_vol_jobs", "MaximumVolumeJobs"),
            ("recycle", "Recycle"),
            ("auto_prune", "AutoPrune"),
        ] {
            kv(k, m.string_of(p, d).unwrap_or_default());
        }
    } else {
        return Reply::failed(".defaults command requires a parameter.\n");
    }
    r.text(text);
    r.result.set("defaults", obj);
    r
}

/// The `status dir` header lines (`ListDirStatusHeader`).
fn status_header(ctx: &Ctx<'_>, r: &mut Reply, json: &mut Json) {
    let name = &ctx.model.director.name;
    let started = time::short(ctx.started);
    r.text(format!(
        "{name} Version: {VERSION} ({BUILD_DATE}) {OS_INFO}\n"
    ));
    // Without an engine there is no catalog: the words stay those of the capture.
    let jobs = status_jobs(ctx);
    let db = jobs.db.as_deref().unwrap_or("postgresql");
    r.text(format!(
        "Daemon started {started}. Jobs: run={}, running={} db:{db}, self-compiled binary\n",
        jobs.terminated.len(),
        jobs.running.len()
    ));
    let warnings = !ctx.model.config.warnings.is_empty();
    if warnings {
        r.text(
            "\nThere are WARNINGS for the director configuration!\nSee 'status configuration' for details.\n\n",
        );
    }
    json.set(
        "header",
        Json::object()
            .with("director", Json::str(name.clone()))
            .with("version", Json::str(VERSION))
            .with("release_date", Json::str(BUILD_DATE))
            .with("os", Json::str(OS_INFO))
            .with("binary_info", Json::str("self-compiled"))
            .with("daemon_started", Json::str(started))
            .with(
                "jobs_run",
                Json::Int(i64::try_from(jobs.terminated.len()).unwrap_or(i64::MAX)),
            )
            .with(
                "jobs_running",
                Json::Int(i64::try_from(jobs.running.len()).unwrap_or(i64::MAX)),
            )
            .with("config_warnings", Json::Bool(warnings)),
    );
}

// The `!ua->api` conditions of `core/src/dird/ua_status.cc`: in API modes 1 and 2 the
// "No ... Jobs" lines, titles and decorations are left out; `plain` is API mode 0.

fn status_scheduled(plain: bool, r: &mut Reply, json: &mut Json) {
    // Nothing is scheduled: there is no scheduler without the job engine.
    if plain {
        r.text("No Scheduled Jobs.\n");
        r.text("====\n");
    }
    json.set("scheduled", Json::Array(Vec::new()));
}

fn status_jobs(ctx: &Ctx<'_>) -> engine::StatusJobs {
    ctx.engine.map(|e| e.status_jobs()).unwrap_or_default()
}

fn short_time(unix: i64) -> String {
    time::short(std::time::UNIX_EPOCH + std::time::Duration::from_secs(unix.max(0) as u64))
}

/// `ListRunningJobs()` (`core/src/dird/ua_status.cc`): ` JobId Level   Name
/// Status`, one line per job (`is running`, `is waiting …`).
fn status_running(plain: bool, ctx: &Ctx<'_>, r: &mut Reply, json: &mut Json) {
    let jobs = status_jobs(ctx).running;
    if plain {
        r.text("\nRunning Jobs:\n");
        for t in &ctx.consoles {
            r.text(format!("Console connected at {}\n", time::short(*t)));
        }
        if jobs.is_empty() {
            r.text("No Jobs running.\n====\n");
        } else {
            let mut s = format!(
                " JobId Level   Name                       Status\n{}\n",
                "=".repeat(70)
            );
            for j in &jobs {
                let what = match j.status {
                    b'R' => "is running",
                    b'C' => "is waiting execution",
                    b'F' | b'S' | b'm' | b'M' | b's' | b'j' | b'c' | b'd' | b't' | b'p' => {
                        "is waiting"
                    }
                    _ => "is running",
                };
                s.push_str(&format!(
                    "{:>6} {:<6}  {:<20} {what}\n",
                    j.job_id, j.level, j.job
                ));
            }
            s.push_str("====\n");
            r.text(s);
        }
    }
    let arr = jobs
        .iter()
        .map(|j| {
            Json::object()
                .with("jobid", Json::Int(i64::from(j.job_id)))
                .with("level", Json::str(j.level.clone()))
                .with("name", Json::str(j.name.clone()))
                .with("job", Json::str(j.job.clone()))
                .with("status", Json::str(char::from(j.status).to_string()))
        })
        .collect();
    json.set("running", Json::Array(arr));
}

/// One row of `Terminated Jobs:` (vectors/clear-bconsole conn 1 msg 21:
/// `     1  Full          6       306   OK       22-Nov-26 15:46 CapBackup⏎`).
pub fn terminated_line(j: &engine::StatusJob) -> String {
    format!(
        "{:>6}  {:<6} {:>8} {:>10}  {:<7}  {} {}\n",
        j.job_id,
        j.level,
        crate::jobs::report::with_commas(j.files),
        crate::jobs::report::with_suffix(j.bytes),
        crate::jobs::report::term_word(j.status),
        short_time(j.time),
        j.name
    )
}

/// `ListTerminatedJobs()`: the same table the daemons print (vectors/clear-bconsole conn 1
/// msgs 18-23).
fn status_terminated(plain: bool, ctx: &Ctx<'_>, r: &mut Reply, json: &mut Json) {
    let jobs = status_jobs(ctx).terminated;
    if plain {
        if jobs.is_empty() {
            r.text("No Terminated Jobs.\n");
        } else {
            r.text("\nTerminated Jobs:\n");
            r.text(" JobId  Level    Files      Bytes   Status   Finished        Name \n");
            r.text(format!("{}\n", "=".repeat(68)));
            for j in &jobs {
                r.text(terminated_line(j));
            }
        }
    }
    let arr = jobs
        .iter()
        .map(|j| {
            Json::object()
                .with("jobid", Json::Int(i64::from(j.job_id)))
                .with("level", Json::str(j.level.clone()))
                .with(
                    "files",
                    Json::Int(i64::try_from(j.files).unwrap_or(i64::MAX)),
                )
                .with(
                    "bytes",
                    Json::Int(i64::try_from(j.bytes).unwrap_or(i64::MAX)),
                )
                .with("status", Json::str(char::from(j.status).to_string()))
                .with("finished", Json::str(short_time(j.time)))
                .with("name", Json::str(j.name.clone()))
        })
        .collect();
    json.set("terminated", Json::Array(arr));
}

/// `ListConnectedClients()` (`core/src/dird/ua_status.cc`, connect.md §5.5): the
/// client-initiated connections waiting for jobs, in the frames Bareos' output formatter
/// produces: decorations (title, header, separator; API mode 0 only) and `"\n"` after each row
/// are buffered, each row (`%-20s%-20d%-20d%-40s`, modes 0 and 1) flushes the buffer with it,
/// and what is left goes out before the closing `====`. So with rows: `«block»«row 1»`, then
/// `"\n«row 2»"` ..., then `"\n"` (vectors/clear-client-initiated conn 2 msgs 26-27); without
/// rows: the block alone (vectors/clear-bconsole conn 1 msg 25). The `"\n"` before the block
/// ends the terminated-jobs list. JSON: `client-connection`.
fn status_connections(plain: bool, ctx: &Ctx<'_>, r: &mut Reply, json: &mut Json) {
    let waiting = ctx
        .engine
        .and_then(|e| e.client_pool())
        .map(|p| p.list())
        .unwrap_or_default();
    let mut buffered = String::new();
    if plain {
        r.text("\n");
        buffered = format!(
            "\nClient Initiated Connections (waiting for jobs):\n{:<20}{:<20}{:<20}{:<40}\n{}\n",
            "Connect time",
            "Protocol",
            "Authenticated",
            "Name",
            "=".repeat(100)
        );
    }
    for w in &waiting {
        buffered.push_str(&format!(
            "{:<20}{:<20}{:<20}{:<40}",
            short_time(w.connected_at),
            w.protocol,
            1,
            w.name
        ));
        r.text(std::mem::take(&mut buffered));
        if plain {
            buffered.push('\n');
        }
    }
    if !buffered.is_empty() {
        r.text(buffered);
    }
    let arr = waiting
        .iter()
        .map(|w| {
            Json::object()
                .with("ConnectTime", Json::str(short_time(w.connected_at)))
                .with("protocol_version", Json::Int(i64::from(w.protocol)))
                .with("authenticated", Json::Int(1))
                .with("name", Json::str(w.name.clone()))
        })
        .collect();
    json.set("client-connection", Json::Array(arr));
}

fn director_status(ctx: &Ctx<'_>, s: &Session) -> Reply {
    let plain = s.api == ApiMode::Off;
    let mut r = Reply::default();
    let mut json = Json::object();
    status_header(ctx, &mut r, &mut json);
    status_scheduled(plain, &mut r, &mut json);
    status_running(plain, ctx, &mut r, &mut json);
    status_terminated(plain, ctx, &mut r, &mut json);
    status_connections(plain, ctx, &mut r, &mut json);
    r.text("====\n");
    r.result = json;
    r
}

/// `status` (`StatusCmd`, `core/src/dird/ua_status.cc`): the first argument decides:
/// `all`, `dir*`, `client[=X]`, `sched*`, `sub*`, `conf*`, anything else names a storage.
/// Without arguments Bareos asks for the daemon type with a prompt menu; Barque has no
/// prompts yet and shows the Director's status.
fn status(ctx: &Ctx<'_>, s: &mut Session, a: &Args) -> Reply {
    let Some(first) = a.rest().first() else {
        return director_status(ctx, s);
    };
    let k = first.key.to_ascii_lowercase();
    if k == "all" {
        Reply::failed(
            "status all: needs the job engine (client and storage status), not available in \
             this build\n",
        )
    } else if k.starts_with("dir") {
        director_status(ctx, s)
    } else if k == "client" {
        engine::dispatch(ctx, s, "status", a)
    } else if k.starts_with("sched") {
        Reply::failed("status scheduler: the scheduler is not available in this build\n")
    } else if k.starts_with("sub") {
        Reply::failed("status subscriptions: not available in Barque\n")
    } else if k.starts_with("conf") {
        let mut r = Reply::default();
        if !s.acl.allows(AclKind::Command, "configure") {
            r.error(format!(
                "{} {}: is an invalid command or needs access right to the \"configure\" command.\n",
                a.key(0).unwrap_or("status"),
                first.key
            ));
            return r;
        }
        let warnings = &ctx.model.config.warnings;
        if warnings.is_empty() {
            r.text("No deprecated configuration settings detected.\n");
        } else {
            r.text("Deprecated configuration settings detected:\n");
            for w in warnings {
                r.text(format!(" * {w}\n"));
            }
        }
        r
    } else {
        engine::dispatch(ctx, s, "status", a)
    }
}

fn dot_status(ctx: &Ctx<'_>, s: &mut Session, a: &Args) -> Reply {
    let Some(what) = a.key(1) else {
        return Reply::failed("1900 Bad .status command, missing arguments.\n");
    };
    if what.eq_ignore_ascii_case("dir") {
        let plain = s.api == ApiMode::Off;
        let mut r = Reply::default();
        let mut json = Json::object();
        match a.key(2).map(str::to_ascii_lowercase).as_deref() {
            Some("current") | Some("last") => r.text("1000 OK .status\n"),
            Some("header") => status_header(ctx, &mut r, &mut json),
            Some("scheduled") => status_scheduled(plain, &mut r, &mut json),
            Some("running") => status_running(plain, ctx, &mut r, &mut json),
            Some("terminated") => status_terminated(plain, ctx, &mut r, &mut json),
            _ => return Reply::failed("1900 Bad .status command, wrong argument.\n"),
        }
        r.result = json;
        r
    } else if what.eq_ignore_ascii_case("client") || what.eq_ignore_ascii_case("storage") {
        engine::dispatch(ctx, s, ".status", a)
    } else {
        Reply::failed("1900 Bad .status command, wrong argument.\n")
    }
}

#[cfg(test)]
mod tests;
