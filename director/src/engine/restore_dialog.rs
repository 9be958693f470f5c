//! `restore` with its questions (`core/src/dird/ua_restore.cc`, `ua_tree.cc`, facts only).
//!
//! The command line decides how much is asked:
//!
//! - `jobid=N[,M…]`, `current`, or `file=`/`directory=`/`fileregex=` (these three select the
//!   most recent backup when no JobId is given) choose the backups; otherwise the numbered
//!   menu `To select the JobIds, you have the following choices:` is shown and answered
//!   (`3` JobIds, `5` the most recent backup for a client, `7` a list of files, `13`
//!   cancel; the other choices are shown but Barque answers that it does not offer them);
//! - a missing client or fileset is asked with Bareos' selection lists (`Select Client
//!   (File daemon) resource (1-N): `), automatically chosen when there is one;
//! - `file=`/`directory=`/`fileregex=` restore those names without a tree; otherwise the
//!   tree is built (marked when `all` was given) and, unless `done` was given, the console
//!   enters file selection mode ([`crate::ua::tree`]) with the prompt `$ `;
//! - without `yes` the job parameters are shown and `OK to run? (yes/mod/no): ` asked.
//!
//! Every question is a reply whose [`Reply::dialog`] carries [`State`]; the console server
//! sends the text, then `BNET_SUB_PROMPT`, and gives the next line back to
//! [`answer`]. A lone `.` cancels a question (`Selection aborted, nothing done.`), as
//! bconsole users expect; in file selection mode it leaves the mode like `done` (Bareos'
//! `GetCmd` returns false there and the marked files are restored).
//!
//! Questions need API mode 0 (bconsole, barque-console); in API modes 1 and 2 a restore
//! that would ask fails with a message naming the keywords that avoid the question.

use crate::catalog::SelectedFile;
use crate::jobs::{self, time::sql_time, RestoreSelect, RunOverrides};
use crate::ua::engine::RestoreRequest;
use crate::ua::tree::{Outcome, Tree};
use crate::ua::{Dialog, Reply, Session};
use fd_core::wire::console::ApiMode;

use super::{queued, render_table, ConsoleEngine};

const MENU: [&str; 13] = [
    "List last 20 Jobs run",
    "List Jobs where a given File is saved",
    "Enter list of comma separated JobIds to select",
    "Enter SQL list command",
    "Select the most recent backup for a client",
    "Select backup for a client before a specified time",
    "Enter a list of files to restore",
    "Enter a list of files to restore before a specified time",
    "Find the JobIds of the most recent backup for a client",
    "Find the JobIds for a backup for a client before a specified time",
    "Enter a list of directories to restore for found JobIds",
    "Select full restore to a specified Job date",
    "Cancel",
];

/// What a client (or fileset) choice leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Then {
    /// The most recent backup (menu 5, `current`, `file=` without JobIds).
    Current,
    /// Ask for file names (menu 7).
    AskFiles,
}

/// Where the dialogue is.
#[derive(Debug)]
enum Step {
    Menu,
    JobIds,
    Client(Vec<String>, Then),
    FileSet(Vec<String>, Then),
    Files,
    Tree(Box<Tree>, Vec<i64>),
    Confirm(Box<jobs::RestoreRequest>),
}

/// The restore being asked about.
#[derive(Debug)]
pub(super) struct State {
    req: RestoreRequest,
    job_name: String,
    step: Step,
}

/// `FormatPrompts` for short lists: `%*zu: %s` with the index as wide as the count.
fn prompts(items: &[String]) -> String {
    let w = items.len().to_string().len();
    items
        .iter()
        .enumerate()
        .map(|(i, p)| format!("{:>w$}: {p}\n", i + 1))
        .collect()
}

fn ask(mut r: Reply, st: State, prompt: impl Into<String>) -> Reply {
    r.text(prompt);
    r.dialog = Some(Dialog::new(st));
    r
}

/// The name a 1-based menu answer picks, if the answer is a number in range.
fn pick<'a>(line: &str, names: &'a [String]) -> Option<&'a String> {
    line.parse::<usize>()
        .ok()
        .and_then(|n| names.get(n.wrapping_sub(1)))
}

/// An answer out of range: say so and ask `what` again, as Bareos does.
fn ask_again(mut r: Reply, st: State, n: usize, what: &str) -> Reply {
    r.text(format!("Please enter a number between 1 and {n}\n"));
    ask(r, st, format!("{what} (1-{n}): "))
}

fn menu(mut r: Reply, st: State) -> Reply {
    let items: Vec<String> = MENU.iter().map(|s| s.to_string()).collect();
    r.text(format!(
        "To select the JobIds, you have the following choices:\n{}",
        prompts(&items)
    ));
    ask(r, st, format!("Select item:  (1-{}): ", MENU.len()))
}

fn aborted(mut r: Reply) -> Reply {
    r.text("Selection aborted, nothing done.\n");
    r.ok = false;
    r
}

/// The restore command: start the dialogue (or run it through when nothing needs asking).
pub(super) async fn start(eng: &ConsoleEngine, s: &Session, req: RestoreRequest) -> Reply {
    let cfg = eng.jobs.config();
    let job_name = match &req.restore_job {
        Some(j) => j.clone(),
        None => match cfg
            .dir_jobs()
            .into_iter()
            .find(|j| j.job_type.eq_ignore_ascii_case("Restore"))
        {
            Some(j) => j.name,
            None => {
                return Reply::failed(
                    "No Restore Job Resource found in the Director configuration.\n\
                     You must create at least one before running this command.\n",
                )
            }
        },
    };
    if let Some(rx) = &req.file_regex {
        if regex::Regex::new(rx).is_err() {
            return Reply::failed("Invalid \"FileRegex\" value.\n");
        }
    }
    let narrowed = narrowed(&req);
    let mut st = State {
        req,
        job_name,
        step: Step::Menu,
    };
    let r = Reply::default();
    if !st.req.jobids.is_empty() {
        let ids: Vec<i64> = st.req.jobids.iter().map(|&j| i64::from(j)).collect();
        return selected(eng, s, st, r, ids).await;
    }
    if st.req.current || narrowed {
        return client_then(eng, s, st, r, Then::Current).await;
    }
    if s.api != ApiMode::Off {
        return needs_prompt(
            "restore: give jobid=, current or file= (no selection menu in API mode)",
        );
    }
    let mut r = r;
    r.text(
        "\nFirst you select one or more JobIds that contain files\n\
         to be restored. You will be presented several methods\n\
         of specifying the JobIds. Then you will be allowed to\n\
         select which files from those JobIds are to be restored.\n\n",
    );
    st.step = Step::Menu;
    menu(r, st)
}

fn needs_prompt(what: &str) -> Reply {
    Reply::failed(format!("{what}\n"))
}

fn narrowed(req: &RestoreRequest) -> bool {
    !req.files.is_empty() || !req.directories.is_empty() || req.file_regex.is_some()
}

/// The console answered a restore question.
pub(super) async fn answer(eng: &ConsoleEngine, s: &Session, st: State, line: String) -> Reply {
    step(eng, s, st, line.trim().to_string()).await
}

async fn step(eng: &ConsoleEngine, s: &Session, mut st: State, line: String) -> Reply {
    let r = Reply::default();
    let cancel = line == ".";
    match std::mem::replace(&mut st.step, Step::Menu) {
        Step::Menu => {
            if cancel {
                return aborted(r);
            }
            match line.parse::<usize>() {
                Ok(3) => {
                    st.step = Step::JobIds;
                    ask(r, st, "Enter JobId(s), comma separated, to restore: ")
                }
                Ok(5) => client_then(eng, s, st, r, Then::Current).await,
                Ok(7) => client_then(eng, s, st, r, Then::AskFiles).await,
                Ok(13) => {
                    let mut r = r;
                    r.ok = false;
                    r.text("Restore not done.\n");
                    r
                }
                Ok(n) if (1..=MENU.len()).contains(&n) => {
                    let mut r = r;
                    r.text(format!(
                        "Barque does not offer \"{}\" yet; choose 3, 5, 7 or 13.\n",
                        MENU.get(n - 1).copied().unwrap_or("")
                    ));
                    menu(r, st)
                }
                _ => {
                    let mut r = r;
                    r.text(format!(
                        "Please enter a number between 1 and {}\n",
                        MENU.len()
                    ));
                    ask(r, st, format!("Select item:  (1-{}): ", MENU.len()))
                }
            }
        }
        Step::JobIds => {
            if cancel || line.is_empty() {
                return aborted(r);
            }
            let mut ids = Vec::new();
            for p in line.split(',') {
                match p.trim().parse::<i64>() {
                    Ok(n) if n > 0 => ids.push(n),
                    _ => {
                        let mut r = r;
                        r.error("Invalid JobId in list.\n");
                        return r;
                    }
                }
            }
            selected(eng, s, st, r, ids).await
        }
        Step::Client(names, then) => {
            if cancel {
                return aborted(r);
            }
            match pick(&line, &names) {
                Some(c) => {
                    st.req.client = Some(c.clone());
                    client_then(eng, s, st, r, then).await
                }
                None => {
                    let n = names.len();
                    st.step = Step::Client(names, then);
                    ask_again(r, st, n, "Select Client (File daemon) resource")
                }
            }
        }
        Step::FileSet(names, then) => {
            if cancel {
                return aborted(r);
            }
            match pick(&line, &names) {
                Some(f) => {
                    st.req.fileset = Some(f.clone());
                    client_then(eng, s, st, r, then).await
                }
                None => {
                    let n = names.len();
                    st.step = Step::FileSet(names, then);
                    ask_again(r, st, n, "Select FileSet resource")
                }
            }
        }
        Step::Files => {
            if cancel {
                return aborted(r);
            }
            if line.is_empty() {
                if st.req.files.is_empty() {
                    let mut r = r;
                    r.warning("No files selected to be restored.\n");
                    return r;
                }
                return current(eng, s, st, r).await;
            }
            st.req.files.push(line);
            st.step = Step::Files;
            ask(r, st, "Enter full filename: ")
        }
        Step::Tree(mut tree, ids) => {
            let (out, outcome) = if cancel {
                (String::new(), Outcome::Done)
            } else {
                tree.command(&line)
            };
            let mut r = r;
            if !out.is_empty() {
                r.text(out);
            }
            match outcome {
                Outcome::Continue => {
                    st.step = Step::Tree(tree, ids);
                    ask(r, st, "$ ")
                }
                Outcome::Quit => {
                    r.ok = false;
                    r.text("Restore not done.\n");
                    r
                }
                Outcome::Done => finish(eng, s, st, r, ids, tree.marked()).await,
            }
        }
        Step::Confirm(job) => match line.to_ascii_lowercase().as_str() {
            "yes" | "y" => submit(eng, s, r, *job).await,
            "no" | "n" | "." => {
                let mut r = r;
                r.ok = false;
                r.text("Job not run.\n");
                r
            }
            _ => {
                let mut r = r;
                if line.eq_ignore_ascii_case("mod") {
                    r.text(
                        "Barque cannot modify the job parameters here; answer yes or no \
                         (or give where=, restoreclient= on the restore command).\n",
                    );
                }
                st.step = Step::Confirm(job);
                ask(r, st, "OK to run? (yes/mod/no): ")
            }
        },
    }
}

/// Make sure a client (and for the most recent backup, a fileset) is chosen, asking for
/// them, then go on with `then`.
async fn client_then(
    eng: &ConsoleEngine,
    s: &Session,
    mut st: State,
    mut r: Reply,
    then: Then,
) -> Reply {
    let cfg = eng.jobs.config();
    if st.req.client.is_none() {
        let names: Vec<String> = cfg
            .dir_clients()
            .into_iter()
            .map(|c| c.name)
            .filter(|n| s.acl.allows(crate::acl::AclKind::Client, n))
            .collect();
        match names.len() {
            0 => return Reply::failed("No Client resources defined or allowed.\n"),
            1 => {
                r.text(format!("Automatically selected Client: {}\n", names[0]));
                st.req.client = names.first().cloned();
            }
            n => {
                if s.api != ApiMode::Off {
                    return needs_prompt("restore: give client= (no selection list in API mode)");
                }
                r.text(format!(
                    "The defined Client resources are:\n{}",
                    prompts(&names)
                ));
                st.step = Step::Client(names, then);
                return ask(
                    r,
                    st,
                    format!("Select Client (File daemon) resource (1-{n}): "),
                );
            }
        }
    }
    if then == Then::AskFiles {
        r.text(
            "Enter file names with paths, or < to enter a filename\n\
             containing a list of file names with paths, and Terminate\n\
             them with a blank line.\n",
        );
        st.step = Step::Files;
        return ask(r, st, "Enter full filename: ");
    }
    current(eng, s, st, r).await
}

/// The most recent backup of the client's fileset (asking for the fileset when needed).
async fn current(eng: &ConsoleEngine, s: &Session, mut st: State, mut r: Reply) -> Reply {
    let cfg = eng.jobs.config();
    if st.req.fileset.is_none() {
        let names: Vec<String> = cfg
            .resources("FileSet")
            .map(|f| f.name.clone())
            .filter(|n| s.acl.allows(crate::acl::AclKind::FileSet, n))
            .collect();
        match names.len() {
            0 => return Reply::failed("No FileSet resources defined or allowed.\n"),
            1 => {
                r.text(format!("Automatically selected FileSet: {}\n", names[0]));
                st.req.fileset = names.first().cloned();
            }
            n => {
                if s.api != ApiMode::Off {
                    return needs_prompt("restore: give fileset= (no selection list in API mode)");
                }
                r.text(format!(
                    "The defined FileSet resources are:\n{}",
                    prompts(&names)
                ));
                st.step = Step::FileSet(names, Then::Current);
                return ask(r, st, format!("Select FileSet resource (1-{n}): "));
            }
        }
    }
    let Some(client) = st.req.client.clone() else {
        return Reply::failed("restore: no client chosen\n");
    };
    let overrides = RunOverrides {
        client: Some(client.clone()),
        fileset: st.req.fileset.clone(),
        ..Default::default()
    };
    let plan = match jobs::Plan::resolve(&cfg, &st.job_name, &overrides) {
        Ok(p) => p,
        Err(e) => return Reply::failed(format!("restore: {e}\n")),
    };
    let Some(fs) = plan.fileset.as_ref() else {
        return Reply::failed(format!(
            "restore: FileSet \"{}\" not found\n",
            st.req.fileset.clone().unwrap_or_default()
        ));
    };
    let fs_name = fs.name.clone();
    let md5 = crate::catalog::fileset_md5(
        fs.includes
            .iter()
            .chain(fs.excludes.iter())
            .flat_map(|b| b.files.iter().chain(b.plugins.iter()))
            .map(String::as_str),
    );
    let now = eng.jobs.clock().now();
    let cl = client.clone();
    let ids = eng
        .cat(move |c| {
            let Some(cl) = c.client(&cl)? else {
                return Ok(Vec::new());
            };
            let fs = c.get_or_create_fileset(&fs_name, &md5, "", now)?;
            c.restore_jobids(cl.client_id, fs.fileset_id, now)
        })
        .await;
    match ids {
        Ok(ids) if ids.is_empty() => {
            r.error(format!(
                "No Full backup before {} found for Client \"{client}\".\n",
                sql_time(now)
            ));
            r
        }
        Ok(ids) => {
            st.req.current = true;
            selected(eng, s, st, r, ids).await
        }
        Err(e) => Reply::failed(format!("restore: catalog: {e}\n")),
    }
}

/// JobIds are chosen: list them, then narrow by names or build the tree.
async fn selected(
    eng: &ConsoleEngine,
    s: &Session,
    mut st: State,
    mut r: Reply,
    ids: Vec<i64>,
) -> Reply {
    let ids2 = ids.clone();
    let acl = s.acl.clone();
    let preview = eng
        .cat(move |c| {
            let mut rows = Vec::new();
            let mut allowed = Vec::new();
            let mut denied = Vec::new();
            for id in &ids2 {
                let Some(j) = c.list_jobs(Some(*id))?.into_iter().next() else {
                    return Ok(Err(*id));
                };
                if !acl.allows(crate::acl::AclKind::Job, &j.name) {
                    denied.push((*id, j.name.clone()));
                    continue;
                }
                let mut vols = Vec::new();
                for jm in c.job_media(*id)? {
                    if let Some(m) = c.media_by_id(jm.row.media_id)? {
                        if !vols.contains(&m.volume_name) {
                            vols.push(m.volume_name);
                        }
                    }
                }
                allowed.push(*id);
                rows.push((j, vols));
            }
            let files = c.select_files(&allowed)?.files;
            Ok(Ok((allowed, denied, rows, files)))
        })
        .await;
    let (ids, denied, rows, files) = match preview {
        Ok(Ok(p)) => p,
        Ok(Err(id)) => {
            r.error(format!(
                "Unable to get Job record for JobId={id}: ERR=no such JobId in the catalog\n"
            ));
            r.text("Restore not done.\n");
            return r;
        }
        Err(e) => return Reply::failed(format!("restore: catalog: {e}\n")),
    };
    for (id, name) in denied {
        r.error(format!(
            "Access to JobId={id} (Job \"{name}\") not authorized. Not selected.\n"
        ));
    }
    if ids.is_empty() {
        r.warning("No Jobs selected.\n");
        return r;
    }
    // The backup client: client= or the client of the (first) selected job.
    if st.req.client.is_none() {
        st.req.client = rows.first().map(|(j, _)| j.client.clone());
    }
    let plain = s.api != ApiMode::Json;
    let list = ids
        .iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(",");
    if plain {
        r.text(format!("Using Catalog \"{}\"\n", eng.catalog_name));
        let table: Vec<Vec<String>> = rows
            .iter()
            .map(|(j, vols)| {
                vec![
                    j.job_id.to_string(),
                    char::from(j.level.to_u8()).to_string(),
                    j.job_files.to_string(),
                    j.job_bytes.to_string(),
                    j.start_time.map(sql_time).unwrap_or_default(),
                    vols.join(","),
                ]
            })
            .collect();
        r.text(render_table(
            &[
                "jobid",
                "level",
                "jobfiles",
                "jobbytes",
                "starttime",
                "volumename",
            ],
            &table,
        ));
        if ids.len() > 1 {
            r.text(format!("You have selected the following JobIds: {list}\n"));
        } else {
            r.text(format!("You have selected the following JobId: {list}\n"));
        }
    }
    if narrowed(&st.req) {
        let chosen = narrow(&st.req, &files);
        return finish(eng, s, st, r, ids, chosen).await;
    }
    let tree = Tree::build(&files, st.req.all);
    if plain {
        r.text(format!(
            "\nBuilding directory tree for JobId(s) {list} ...  \n"
        ));
        if st.req.all {
            r.text(format!(
                "{} files inserted into the tree and marked for extraction.\n",
                crate::jobs::report::with_commas(tree.inserted)
            ));
        } else {
            r.text(format!(
                "{} files inserted into the tree.\n",
                crate::jobs::report::with_commas(tree.inserted)
            ));
        }
    }
    if st.req.done {
        let marked = tree.marked();
        return finish(eng, s, st, r, ids, marked).await;
    }
    if s.api != ApiMode::Off {
        return needs_prompt(
            "restore: add \"all done\" or file= (no file selection mode in API mode)",
        );
    }
    r.text(
        "\nYou are now entering file selection mode where you add (mark) and\n\
         remove (unmark) files to be restored. No files are initially added, unless\n\
         you used the \"all\" keyword on the command line.\n\
         Enter \"done\" to leave this mode.\n\n",
    );
    r.text(format!("cwd is: {}\n", tree.cwd()));
    st.step = Step::Tree(Box::new(tree), ids);
    ask(r, st, "$ ")
}

/// `file=`, `directory=` and `fileregex=` applied to the selected versions.
fn narrow(req: &RestoreRequest, files: &[SelectedFile]) -> Vec<String> {
    let rx = req
        .file_regex
        .as_deref()
        .and_then(|x| regex::Regex::new(x).ok());
    files
        .iter()
        .map(SelectedFile::fname)
        .filter(|n| {
            req.files.iter().any(|f| f == n)
                || req.directories.iter().any(|d| {
                    let d = d.trim_end_matches('/');
                    n.as_str() == format!("{d}/") || n.starts_with(&format!("{d}/"))
                })
                || rx.as_ref().is_some_and(|x| x.is_match(n))
        })
        .collect()
}

/// The files are chosen: count them, then confirm or queue.
async fn finish(
    eng: &ConsoleEngine,
    s: &Session,
    mut st: State,
    mut r: Reply,
    ids: Vec<i64>,
    chosen: Vec<String>,
) -> Reply {
    if chosen.is_empty() {
        r.warning("No files selected to be restored.\n");
        return r;
    }
    let Some(client) = st.req.client.clone() else {
        return Reply::failed("restore: no client chosen\n");
    };
    if s.api != ApiMode::Json {
        if chosen.len() == 1 {
            r.text("\n1 file selected to be restored.\n\n");
        } else {
            r.text(format!(
                "\n{} files selected to be restored.\n\n",
                crate::jobs::report::with_commas(chosen.len() as u64)
            ));
        }
    }
    let job = jobs::RestoreRequest {
        job: Some(st.job_name.clone()),
        client: client.clone(),
        select: RestoreSelect::JobIds(ids),
        fileset: st.req.fileset.clone(),
        where_: st.req.where_.clone(),
        files: Some(chosen),
        replace: b'a',
    };
    if st.req.yes {
        return submit(eng, s, r, job).await;
    }
    if s.api != ApiMode::Off {
        return needs_prompt("restore: add yes (no confirmation question in API mode)");
    }
    let cfg = eng.jobs.config();
    let o = RunOverrides {
        client: Some(client.clone()),
        fileset: st.req.fileset.clone(),
        ..Default::default()
    };
    let plan = jobs::Plan::resolve(&cfg, &st.job_name, &o);
    let none = || "*None*".to_string();
    let (fileset, storage, priority, where_) = match &plan {
        Ok(p) => (
            p.fileset
                .as_ref()
                .map(|f| f.name.clone())
                .unwrap_or_else(none),
            p.storage
                .as_ref()
                .map(|x| x.name.clone())
                .unwrap_or_else(none),
            p.job.priority,
            p.job.where_.clone(),
        ),
        Err(_) => (none(), none(), 10, None),
    };
    r.text(format!(
        "Run Restore job\n\
         JobName:         {}\n\
         Bootstrap:       *None*\n\
         Where:           {}\n\
         Replace:         Always\n\
         FileSet:         {fileset}\n\
         Backup Client:   {client}\n\
         Restore Client:  {}\n\
         Format:          Native\n\
         Storage:         {storage}\n\
         When:            {}\n\
         Catalog:         {}\n\
         Priority:        {priority}\n\
         Plugin Options:  *None*\n",
        st.job_name,
        st.req.where_.clone().or(where_).unwrap_or_else(none),
        st.req.restore_client.clone().unwrap_or(client.clone()),
        sql_time(eng.jobs.clock().now()),
        eng.catalog_name,
    ));
    st.step = Step::Confirm(Box::new(job));
    ask(r, st, "OK to run? (yes/mod/no): ")
}

async fn submit(
    eng: &ConsoleEngine,
    s: &Session,
    mut r: Reply,
    job: jobs::RestoreRequest,
) -> Reply {
    eng.using_catalog(&mut r, s);
    match eng.jobs.restore(job).await {
        Ok(id) => queued(&mut r, id),
        Err(e) => r.error(format!("Job failed to start: {e}\n")),
    }
    r
}
