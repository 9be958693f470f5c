//! Job messages: formatting and routing per the `Messages` resource.
//!
//! Bareos' Director turns every job event into a message (`core/src/lib/message.cc`
//! `Jmsg()`/`DispatchMessage()`): its own (`bareos-dir JobId 1: Start Backup …`) and the ones
//! the FD and SD send as `Jmsg Job=… type=N level=<time> <daemon> JobId N: …` (jobs.md §0.3).
//! Each message gets the prefix `22-Nov 15:46 ` (day-month hour:minute of the message time) in
//! front of `«daemon» JobId «n»: ` and is delivered to every destination of the job's Messages
//! resource whose type list admits it: `console` (kept until a console asks with `messages`,
//! "You have messages." in vectors/clear-backup-full conn 1 msg 15), `catalog` (the `Log`
//! table), `append = "file"` (appended to the file). The console output of
//! vectors/clear-backup-full conn 1 msgs 18–82 is exactly such a queue: the Director's lines,
//! the FD's and SD's forwarded lines in arrival order, the end-of-job report last.
//!
//! Type lists are written as in the configuration (`all, !skipped, !saved, !audit`): a type is
//! admitted when the last entry naming it (or `all`) is not negated.

use std::collections::VecDeque;
use std::io::Write as _;
use std::sync::{Arc, Mutex};

use barque_common::config::typed::Messages;
use fd_core::wire::codes::MessageType;

use crate::catalog::{Catalog, JobStatus, OrphanedJob};

use super::time::{civil, MONTHS};

pub use barque_common::messages::{admits, type_name};

/// `22-Nov 15:46 ` — the prefix Bareos puts before each dispatched message.
pub fn time_prefix(unix: i64) -> String {
    let c = civil(unix);
    let mon = MONTHS
        .get(c.month.saturating_sub(1) as usize)
        .copied()
        .unwrap_or("Jan");
    format!("{:02}-{} {:02}:{:02} ", c.day, mon, c.hour, c.minute)
}

/// At Director start: mark the jobs a previous instance left created or running as failed
/// ([`Catalog::fail_orphaned_jobs`], Bareos' `CheckCatalog`) and give each a job log line
/// saying why in the `Log` table (Bareos writes none). Returns them.
pub fn fail_orphaned_jobs(
    catalog: &mut Catalog,
    director: &str,
    now: i64,
) -> Result<Vec<OrphanedJob>, crate::catalog::Error> {
    let jobs = catalog.fail_orphaned_jobs()?;
    for j in &jobs {
        let what = if j.was == JobStatus::Created {
            "waiting to start"
        } else {
            "running"
        };
        let text = format!(
            "{}{director} JobId {}: Fatal error: Job {} was {what} when the Director stopped \
             (killed, crashed or its host went down); marked failed at the Director's restart. \
             Run the job again.\n",
            time_prefix(now),
            j.job_id,
            j.job
        );
        catalog.insert_log(j.job_id, now, &text)?;
    }
    Ok(jobs)
}

/// One delivered message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobMessage {
    /// JobId (0 for daemon messages).
    pub job_id: u32,
    /// Message time, unix seconds.
    pub time: i64,
    /// Type.
    pub msg_type: MessageType,
    /// The full line(s), prefix included, ending in a newline.
    pub text: String,
}

/// The messages waiting for a console (`messages` command), bounded.
#[derive(Debug, Default)]
pub struct ConsoleQueue {
    q: Mutex<VecDeque<String>>,
}

/// At most this many console messages are kept; older ones are dropped.
pub const CONSOLE_QUEUE_MAX: usize = 10_000;

impl ConsoleQueue {
    /// Queue a message.
    pub fn push(&self, s: String) {
        if let Ok(mut q) = self.q.lock() {
            if q.len() >= CONSOLE_QUEUE_MAX {
                q.pop_front();
            }
            q.push_back(s);
        }
    }

    /// True if messages wait ("You have messages.").
    pub fn has_messages(&self) -> bool {
        self.q.lock().map(|q| !q.is_empty()).unwrap_or(false)
    }

    /// Take every waiting message, oldest first.
    pub fn take(&self) -> Vec<String> {
        self.q
            .lock()
            .map(|mut q| q.drain(..).collect())
            .unwrap_or_default()
    }
}

/// At most this many messages of one job are kept in memory ([`Dispatcher::log`]); the
/// destinations get all of them.
pub const JOB_LOG_MAX: usize = 1000;

/// Routes a job's messages to its Messages resource's destinations.
#[derive(Clone)]
pub struct Dispatcher {
    /// The job's Messages resource (`None`: console only).
    pub resource: Option<Messages>,
    /// The console queue.
    pub console: Arc<ConsoleQueue>,
    /// The catalog, for `catalog =` destinations.
    pub catalog: Arc<Mutex<Catalog>>,
    /// Every message of this job, as delivered (for `status`, tests and the report).
    pub log: Arc<Mutex<Vec<JobMessage>>>,
}

impl Dispatcher {
    /// Deliver one message. `text` is everything after the time prefix, ending in `\n`.
    /// Catalog and file writes are blocking: this is called from blocking-safe contexts
    /// (the callers use `spawn_blocking` or accept the short write).
    pub fn dispatch(&self, job_id: u32, time: i64, msg_type: MessageType, text: &str) {
        let mut full = time_prefix(time);
        full.push_str(text);
        if !full.ends_with('\n') {
            full.push('\n');
        }
        log::info!("{}", full.trim_end());
        if let Ok(mut l) = self.log.lock() {
            if l.len() >= JOB_LOG_MAX {
                l.remove(0);
            }
            l.push(JobMessage {
                job_id,
                time,
                msg_type,
                text: full.clone(),
            });
        }
        let Some(res) = &self.resource else {
            self.console.push(full);
            return;
        };
        for (kind, dest) in &res.destinations {
            if !admits(&dest.types, msg_type) {
                continue;
            }
            match kind.to_ascii_lowercase().as_str() {
                "console" => self.console.push(full.clone()),
                "catalog" => {
                    if let Ok(mut c) = self.catalog.lock() {
                        if let Err(e) = c.insert_log(i64::from(job_id), time, &full) {
                            log::warn!("cannot store job message in the catalog: {e}");
                        }
                    }
                }
                "append" | "file" => {
                    for path in &dest.target {
                        let r = std::fs::OpenOptions::new()
                            .create(true)
                            .append(true)
                            .open(path)
                            .and_then(|mut f| f.write_all(full.as_bytes()));
                        if let Err(e) = r {
                            log::warn!("cannot append job message to {path}: {e}");
                        }
                    }
                }
                other => log::debug!("message destination {other} not implemented"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(x: &[&str]) -> Vec<String> {
        x.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn type_lists() {
        let std = v(&["all", "!skipped", "!saved", "!audit"]);
        assert!(admits(&std, MessageType::Info));
        assert!(admits(&std, MessageType::Term));
        assert!(!admits(&std, MessageType::Skipped));
        assert!(!admits(&std, MessageType::Audit));
        assert!(admits(&v(&["audit"]), MessageType::Audit));
        assert!(!admits(&v(&["audit"]), MessageType::Info));
        assert!(!admits(&[], MessageType::Info));
    }

    #[test]
    fn prefix_is_day_month_hour_minute() {
        // vectors/clear-backup-full conn 1 msg 18: "22-Nov 15:46 bareos-dir JobId 1: ..."
        // 1795362414 = 2026-11-22 15:46:54 UTC.
        assert_eq!(time_prefix(1_795_362_414), "22-Nov 15:46 ");
    }
}
