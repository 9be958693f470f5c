//! `prune`, `purge` and `update volume=… volstatus=…` (`core/src/dird/ua_prune.cc`,
//! `ua_purge.cc`, `ua_update.cc`; facts and message texts only).
//!
//! - `prune files client=X [yes]` / `prune jobs client=X [yes]` apply the Client's File or
//!   Job Retention; `prune volume=V [yes]` deletes the jobs of a `Full`/`Used` volume whose
//!   Volume Retention has passed and marks it `Purged`.
//! - `purge jobs client=X` / `purge volume=V` delete regardless of retention, after
//!   Bareos' warning and a `Purge (yes/no)? ` question (skipped with `yes`).
//! - `update volume=V volstatus=S` sets one of Bareos' settable statuses.
//!
//! The other forms (`prune stats`, `purge files`, `update pool`, …) answer that Barque
//! does not offer them.

use crate::catalog::VolStatus;
use crate::ua::{Dialog, Reply, Session};

use super::ConsoleEngine;

type Words = Vec<(String, Option<String>)>;

fn value<'a>(args: &'a Words, key: &str) -> Option<&'a str> {
    args.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .and_then(|(_, v)| v.as_deref())
}

fn has(args: &Words, key: &str) -> bool {
    args.iter().any(|(k, _)| k.eq_ignore_ascii_case(key))
}

/// A `purge` waiting for its `Purge (yes/no)? ` answer.
#[derive(Debug)]
pub(super) enum PurgeConfirm {
    /// `purge volume=…`
    Volume(String),
    /// `purge jobs client=…`
    Client(String),
}

fn duration(secs: i64) -> String {
    if secs > 0 && secs % 86_400 == 0 {
        format!("{} days", secs / 86_400)
    } else {
        format!("{secs} secs")
    }
}

fn client_name(eng: &ConsoleEngine, s: &Session, args: &Words) -> Result<String, Reply> {
    let Some(name) = value(args, "client") else {
        return Err(Reply::failed("A client must be given: client=<name>\n"));
    };
    let cfg = eng.jobs.config();
    match cfg
        .dir_clients()
        .into_iter()
        .find(|c| c.name.eq_ignore_ascii_case(name))
    {
        Some(c) if s.acl.allows(crate::acl::AclKind::Client, &c.name) => Ok(c.name),
        Some(_) => Err(Reply::failed(format!(
            "No authorization. Client \"{name}\".\n"
        ))),
        None => Err(Reply::failed(format!("Client \"{name}\" not found.\n"))),
    }
}

/// `prune …`
pub(super) async fn prune(eng: &ConsoleEngine, s: &Session, args: Words) -> Reply {
    let what = args
        .first()
        .map(|(k, _)| k.to_ascii_lowercase())
        .unwrap_or_default();
    let mut r = Reply::default();
    match what.as_str() {
        "files" | "jobs" => {
            let client = match client_name(eng, s, &args) {
                Ok(c) => c,
                Err(r) => return r,
            };
            let ret = crate::jobs::prune::client_retention(&eng.jobs.config(), &client);
            let now = eng.jobs.clock().now();
            let files = what == "files";
            if files {
                r.text("Begin pruning Files.\n");
            } else {
                r.text(format!(
                    "Begin pruning Jobs older than {}.\n",
                    duration(ret.job)
                ));
            }
            let cl = client.clone();
            let n = eng
                .cat(move |c| {
                    let Some(rec) = c.client(&cl)? else {
                        return Ok(0);
                    };
                    if files {
                        c.prune_files(rec.client_id, ret.file, now)
                    } else {
                        c.prune_jobs(rec.client_id, ret.job, now)
                    }
                })
                .await;
            match (n, files) {
                (Err(e), _) => r.error(format!("prune: catalog: {e}\n")),
                (Ok(0), true) => r.text("No Files found to prune.\n"),
                (Ok(0), false) => r.text("No Jobs found to prune.\n"),
                (Ok(n), true) => r.text(format!(
                    "Pruned Files from {n} Jobs for client {client} from catalog.\n"
                )),
                (Ok(n), false) => r.text(format!(
                    "Pruned {n} {} for client {client} from catalog.\n",
                    if n == 1 { "Job" } else { "Jobs" }
                )),
            }
            r
        }
        _ if value(&args, "volume").is_some() || what == "volume" => {
            let Some(vol) = value(&args, "volume").map(str::to_string) else {
                return Reply::failed("A volume must be given: volume=<name>\n");
            };
            let now = eng.jobs.clock().now();
            let v2 = vol.clone();
            let res = eng
                .cat(move |c| {
                    let Some(m) = c.media(&v2)? else {
                        return Ok(None);
                    };
                    let before = c.job_ids_on_volume(m.media_id)?.len();
                    let purged = c.prune_volume(m.media_id, now)?;
                    let after = c.job_ids_on_volume(m.media_id)?.len();
                    Ok(Some((m, before, after, purged)))
                })
                .await;
            match res {
                Err(e) => r.error(format!("prune: catalog: {e}\n")),
                Ok(None) => r.error(format!("Volume \"{vol}\" not found in the catalog.\n")),
                Ok(Some((m, before, after, purged))) => {
                    if !matches!(m.vol_status, VolStatus::Full | VolStatus::Used) {
                        r.text(format!(
                            "Pruning volume {vol}: cannot prune as Volstatus is {} but needs to \
                             be Full or Used.\n",
                            m.vol_status.as_str()
                        ));
                        return r;
                    }
                    let pruned = before - after;
                    if pruned > 0 {
                        r.text(format!(
                            "Volume \"{vol}\" has Volume Retention of {} sec. and has {pruned} \
                             jobs that will be pruned\n",
                            m.vol_retention
                        ));
                    }
                    r.text(format!(
                        "Pruning volume {vol}: {pruned} Jobs have expired and can be pruned.\n"
                    ));
                    if purged {
                        r.text(format!(
                            "Volume \"{vol}\" contains no jobs after pruning.\n"
                        ));
                    } else {
                        r.text(format!(
                            "Volume \"{vol}\" still contains jobs after pruning.\n"
                        ));
                    }
                }
            }
            r
        }
        _ => Reply::failed(format!(
            "prune {what}: Barque prunes files, jobs (client=) and volume= only\n"
        )),
    }
}

const DANGEROUS: &str = "\nThis command can be DANGEROUS!!!\n\n\
    It purges (deletes) all Files from a Job,\n\
    JobId, Client or Volume; or it purges (deletes)\n\
    all Jobs from a Client or Volume without regard\n\
    to retention periods. Normally you should use the\n\
    PRUNE command, which respects retention periods.\n\
    This command requires full access to all resources.\n";

/// `purge …`
pub(super) async fn purge(eng: &ConsoleEngine, s: &Session, args: Words) -> Reply {
    // Bareos wants all ACLs to be *all*; Barque accepts the default console only.
    if !s.acl.is_root() {
        return Reply::failed("Permission denied: need full purge permission.\n");
    }
    let mut r = Reply::default();
    r.text(DANGEROUS);
    let what = args
        .first()
        .map(|(k, _)| k.to_ascii_lowercase())
        .unwrap_or_default();
    let yes = has(&args, "yes");
    let confirm = if let Some(vol) = value(&args, "volume") {
        let v2 = vol.to_string();
        let found = eng
            .cat(move |c| match c.media(&v2)? {
                Some(m) => Ok(Some((
                    m.vol_status.clone(),
                    c.job_ids_on_volume(m.media_id)?,
                ))),
                None => Ok(None),
            })
            .await;
        match found {
            Err(e) => return Reply::failed(format!("purge: catalog: {e}\n")),
            Ok(None) => {
                r.error(format!("Volume \"{vol}\" not found in the catalog.\n"));
                return r;
            }
            Ok(Some((st, _)))
                if !matches!(
                    st,
                    VolStatus::Append | VolStatus::Full | VolStatus::Used | VolStatus::Error
                ) =>
            {
                r.error(format!(
                    "\nVolume \"{vol}\" has VolStatus \"{}\" and cannot be purged.\n\
                     The VolStatus must be: Append, Full, Used, or Error to be purged.\n",
                    st.as_str()
                ));
                return r;
            }
            Ok(Some((_, jobs))) => {
                if jobs.is_empty() {
                    r.text(format!(
                        "No Jobs found for media {vol} to purge from catalog.\n"
                    ));
                } else {
                    r.text(format!(
                        "Found {} Jobs for media \"{vol}\" in catalog.\n",
                        jobs.len()
                    ));
                }
                PurgeConfirm::Volume(vol.to_string())
            }
        }
    } else if what == "jobs" {
        let client = match client_name(eng, s, &args) {
            Ok(c) => c,
            Err(r) => return r,
        };
        r.text(format!("Begin purging jobs from Client \"{client}\"\n"));
        let cl = client.clone();
        let jobs = eng
            .cat(move |c| match c.client(&cl)? {
                Some(rec) => c.client_job_ids(rec.client_id),
                None => Ok(Vec::new()),
            })
            .await;
        match jobs {
            Err(e) => return Reply::failed(format!("purge: catalog: {e}\n")),
            Ok(j) if j.is_empty() => {
                r.text(format!(
                    "No Jobs found for client {client} to purge from {} catalog.\n",
                    eng.catalog_name
                ));
                return r;
            }
            Ok(j) => r.text(format!(
                "Found {} Jobs for client \"{client}\" in catalog \"{}\".\n",
                j.len(),
                eng.catalog_name
            )),
        }
        PurgeConfirm::Client(client)
    } else {
        return Reply::failed(format!(
            "purge {what}: Barque purges jobs client= and volume= only\n"
        ));
    };
    if yes {
        return purge_now(eng, r, confirm).await;
    }
    if s.api != fd_core::wire::console::ApiMode::Off {
        return Reply::failed("purge: add yes (no questions in API mode)\n");
    }
    r.text("Purge (yes/no)? ");
    r.dialog = Some(Dialog::new(confirm));
    r
}

/// The answer to `Purge (yes/no)? `.
pub(super) async fn purge_answer(eng: &ConsoleEngine, c: PurgeConfirm, line: &str) -> Reply {
    let r = Reply::default();
    if matches!(line.trim().to_ascii_lowercase().as_str(), "yes" | "y") {
        purge_now(eng, r, c).await
    } else {
        let mut r = r;
        r.text("Purge canceled.\n");
        r
    }
}

async fn purge_now(eng: &ConsoleEngine, mut r: Reply, c: PurgeConfirm) -> Reply {
    match c {
        PurgeConfirm::Volume(vol) => {
            let v2 = vol.clone();
            let res = eng
                .cat(move |c| {
                    let Some(m) = c.media(&v2)? else {
                        return Ok(None);
                    };
                    let n = c.purge_volume(m.media_id)?;
                    let after = c.media_by_id(m.media_id)?.map(|m| m.vol_status);
                    Ok(Some((n, after)))
                })
                .await;
            match res {
                Err(e) => r.error(format!("purge: catalog: {e}\n")),
                Ok(None) => r.error(format!("Volume \"{vol}\" not found in the catalog.\n")),
                Ok(Some((n, after))) => {
                    if n > 0 {
                        r.text(format!(
                            "{n} Jobs on Volume \"{vol}\" purged from catalog.\n"
                        ));
                    }
                    if after == Some(VolStatus::Purged) {
                        r.text(format!(
                            "There are no more Jobs associated with Volume \"{vol}\". Marking \
                             it purged.\n"
                        ));
                    }
                }
            }
        }
        PurgeConfirm::Client(client) => {
            let cl = client.clone();
            let res = eng
                .cat(move |c| match c.client(&cl)? {
                    Some(rec) => {
                        let ids = c.client_job_ids(rec.client_id)?;
                        c.purge_jobs(&ids)
                    }
                    None => Ok(0),
                })
                .await;
            match res {
                Err(e) => r.error(format!("purge: catalog: {e}\n")),
                Ok(n) => r.text(format!(
                    "{n} Job{} on client \"{client}\" purged from catalog.\n",
                    if n == 1 { "" } else { "s" }
                )),
            }
        }
    }
    r
}

/// `update volume=V volstatus=S`.
pub(super) async fn update(eng: &ConsoleEngine, args: Words) -> Reply {
    let (Some(vol), Some(st)) = (value(&args, "volume"), value(&args, "volstatus")) else {
        return Reply::failed("update: Barque updates volume=<name> volstatus=<status> only\n");
    };
    const KW: [&str; 9] = [
        "Append",
        "Archive",
        "Disabled",
        "Full",
        "Used",
        "Cleaning",
        "Recycle",
        "Read-Only",
        "Error",
    ];
    let Some(kw) = KW.iter().find(|k| k.eq_ignore_ascii_case(st)) else {
        return Reply::failed(format!("Invalid VolStatus specified: {st}\n"));
    };
    let status = VolStatus::parse(kw);
    let v2 = vol.to_string();
    let res = eng
        .cat(move |c| match c.media(&v2)? {
            Some(m) => c.set_media_status(m.media_id, &status).map(|()| true),
            None => Ok(false),
        })
        .await;
    match res {
        Ok(true) => {
            let mut r = Reply::default();
            r.text(format!("New Volume status is: {kw}\n"));
            r
        }
        Ok(false) => Reply::failed(format!("Volume \"{vol}\" not found in the catalog.\n")),
        Err(e) => Reply::failed(format!("update: catalog: {e}\n")),
    }
}
