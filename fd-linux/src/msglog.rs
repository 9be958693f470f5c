//! The File daemon's own log file: the `Append` destinations of its Messages resource.
//!
//! Bareos' FD sends daemon messages (a Director it cannot reach, a failed authentication,
//! job errors) to the destinations of the Messages resource its Client resource names
//! (`core/src/lib/message.cc` `DispatchMessage`); `Append = "/var/log/bareos/bareos-fd.log" =
//! all, !skipped` appends each one as a line `dd-Mon HH:MM «name»: «text»`. barque-fd does
//! the same for its log records: errors as type `error`, warnings as `warning`, the rest as
//! `info`, filtered by the destination's type list (`all`, `!type`, later entries win).
//! Job messages still go to the Director over the job's connection; this file is what the
//! administrator of the client machine reads, e.g. to see client-initiated connection
//! attempts and why they fail.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

use barque_common::config::Config;

/// One `Append` destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendTarget {
    /// The file.
    pub path: PathBuf,
    /// Its message types as written (`all`, `!skipped` ...).
    pub types: Vec<String>,
}

/// The `Append` destinations of the Client's Messages resource (none if the Client names no
/// Messages resource or it has none).
pub fn append_targets(cfg: &Config) -> Vec<AppendTarget> {
    let Some(name) = cfg.fd_client().and_then(|c| c.messages) else {
        return Vec::new();
    };
    cfg.messages()
        .into_iter()
        .filter(|m| m.name == name)
        .flat_map(|m| m.destinations)
        .filter(|(kind, _)| kind.eq_ignore_ascii_case("append"))
        .flat_map(|(_, d)| {
            let types = d.types.clone();
            d.target.into_iter().map(move |p| AppendTarget {
                path: PathBuf::from(p),
                types: types.clone(),
            })
        })
        .collect()
}

/// Whether a type list admits `kind` (`error`, `warning`, `info`): `all` stands for every
/// type, `!x` removes one, later entries override earlier ones.
pub fn admits(types: &[String], kind: &str) -> bool {
    let mut ok = false;
    for entry in types {
        let (neg, word) = match entry.strip_prefix('!') {
            Some(w) => (true, w),
            None => (false, entry.as_str()),
        };
        let word = word.trim();
        if word.eq_ignore_ascii_case("all") || word.eq_ignore_ascii_case(kind) {
            ok = !neg;
        }
    }
    ok
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `22-Nov 15:46` (UTC), the time Bareos puts before each dispatched message.
pub fn time_prefix(unix: i64) -> String {
    let c = fd_core::fd::timefmt::Civil::from_unix(unix, 0);
    let mon = MONTHS
        .get(c.month.saturating_sub(1) as usize)
        .copied()
        .unwrap_or("???");
    format!("{:02}-{mon} {:02}:{:02}", c.day, c.hour, c.minute)
}

/// The open log: appends lines to every admitting target. A file that cannot be written is
/// reported once on stderr and then skipped.
#[derive(Debug)]
pub struct AppendLog {
    name: String,
    targets: Vec<AppendTarget>,
    failed: Mutex<Vec<bool>>,
}

impl AppendLog {
    /// A log for the daemon named `name`.
    pub fn new(name: &str, targets: Vec<AppendTarget>) -> Self {
        let failed = Mutex::new(vec![false; targets.len()]);
        Self {
            name: name.to_owned(),
            targets,
            failed,
        }
    }

    /// True if there is nowhere to write.
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// Append one message of type `kind` (`error`, `warning`, `info`).
    pub fn write(&self, kind: &str, text: &str) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(0))
            .unwrap_or(0);
        let label = match kind {
            "error" => "Error: ",
            "warning" => "Warning: ",
            _ => "",
        };
        let line = format!("{} {}: {label}{}\n", time_prefix(now), self.name, text);
        for (i, t) in self.targets.iter().enumerate() {
            if !admits(&t.types, kind) {
                continue;
            }
            let r = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&t.path)
                .and_then(|mut f| f.write_all(line.as_bytes()));
            if let Err(e) = r {
                let mut failed = self.failed.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(f) = failed.get_mut(i).filter(|f| !**f) {
                    *f = true;
                    eprintln!(
                        "barque-fd: cannot append to the log file {} (Messages Append): {e}; \
                         check that the directory exists and is writable",
                        t.path.display()
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use barque_common::config::{check_str, Daemon};

    fn v(x: &[&str]) -> Vec<String> {
        x.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn type_lists() {
        assert!(admits(&v(&["all", "!skipped"]), "warning"));
        assert!(!admits(&v(&["all", "!info"]), "info"));
        assert!(admits(&v(&["error"]), "error"));
        assert!(!admits(&v(&["error"]), "info"));
        assert!(!admits(&[], "error"));
    }

    #[test]
    fn targets_of_the_clients_messages_and_lines_appended() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("fd.log");
        let other = dir.path().join("other.log");
        let text = format!(
            "Client {{ Name = fd; Messages = Std }}\n\
             Director {{ Name = d; Password = p }}\n\
             Messages {{ Name = Std; Director = d = all; Append = \"{}\" = all, !info }}\n\
             Messages {{ Name = Other; Append = \"{}\" = all }}\n",
            log.display(),
            other.display()
        );
        let r = check_str("fd.conf", text.as_bytes(), Daemon::FileDaemon);
        assert!(r.is_ok(), "{r}");
        let t = append_targets(&r.config);
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].path, log);
        let l = AppendLog::new("fd", t);
        l.write("warning", "Director d: cannot connect");
        l.write("info", "not admitted");
        let got = std::fs::read_to_string(&log).unwrap();
        assert!(
            got.ends_with(" fd: Warning: Director d: cannot connect\n"),
            "{got:?}"
        );
        assert_eq!(got.lines().count(), 1);
        assert!(!other.exists());
        assert_eq!(time_prefix(1_795_362_414), "22-Nov 15:46");
    }
}
