//! The SD's `Messages` resource applied to job messages (`core/src/lib/message.cc`
//! `DispatchMessage()` as the SD uses it).
//!
//! The Storage resource names a Messages resource (`Messages = Standard`); each job message
//! (`Jmsg`) goes to the destinations of that resource whose type list admits its type:
//!
//! * `Director = «name» = «types»`: sent to the Director of the job as
//!   `Jmsg Job=… type=… level=… «sd» JobId «n»: …` (the Director then routes it by its own
//!   Messages resource);
//! * `Append = "«file»" = «types»` (and `File =`, which barque-sd also appends to): the line
//!   `22-Nov 15:46 «sd» JobId «n»: …` is appended to the file (created if missing); a file that
//!   cannot be written is reported once per message in the daemon log, never to the job.
//!
//! Types are written as in the configuration (`all, !skipped, !saved`): a type is admitted
//! when the last entry naming it (or `all`, which excludes `debug`) is not negated. Without a
//! Messages resource on the Storage resource every job message goes to the Director (the
//! behaviour before this resource was applied, and what the captures show). Other
//! destinations (`Console`, `Stdout`, `Syslog`, `Mail`, `Operator`, `Catalog`) are not
//! delivered by barque-sd; daemon messages without a job go to its log (`-d`).

use std::io::Write as _;

use barque_common::config::typed::Messages;
use fd_core::wire::codes::MessageType;

pub use barque_common::messages::{admits, type_name};

/// `22-Nov 15:46 `: the prefix of a message written to a file.
pub fn time_prefix(unix: i64) -> String {
    let (_, m, d, hh, mm, _) = crate::bls::civil(unix);
    format!("{d:02}-{} {hh:02}:{mm:02} ", crate::bls::month(m))
}

/// Where one job message goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Send it to the Director.
    pub director: bool,
    /// Append it to these files.
    pub files: Vec<String>,
}

/// The destinations of `res` (the Storage resource's Messages) for a message of type `t`.
pub fn route(res: Option<&Messages>, t: MessageType) -> Route {
    let Some(res) = res else {
        return Route {
            director: true,
            files: Vec::new(),
        };
    };
    let mut r = Route {
        director: false,
        files: Vec::new(),
    };
    for (kind, dest) in &res.destinations {
        if !admits(&dest.types, t) {
            continue;
        }
        match kind.to_ascii_lowercase().as_str() {
            "director" => r.director = true,
            "append" | "file" => {
                for f in &dest.target {
                    if !r.files.contains(f) {
                        r.files.push(f.clone());
                    }
                }
            }
            _ => {}
        }
    }
    r
}

/// Append `line` (already prefixed and newline-terminated) to `path`.
pub fn append(path: &str, line: &str) {
    let r = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(line.as_bytes()));
    if let Err(e) = r {
        log::warn!(
            "Messages: cannot append to {path}: {e}; check the Append directive and the \
             directory's permissions"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use barque_common::config::value::MessageDestination;

    fn res(dests: Vec<(&'static str, Vec<&str>, Vec<&str>)>) -> Messages {
        Messages {
            name: "Standard".into(),
            destinations: dests
                .into_iter()
                .map(|(k, t, ty)| {
                    (
                        k,
                        MessageDestination {
                            target: t.into_iter().map(String::from).collect(),
                            types: ty.into_iter().map(String::from).collect(),
                        },
                    )
                })
                .collect(),
            mail_command: None,
            operator_command: None,
            timestamp_format: None,
        }
    }

    #[test]
    fn test_routes_by_type_lists() {
        let m = res(vec![
            ("Director", vec!["bareos-dir"], vec!["all", "!info"]),
            ("Append", vec!["/tmp/a.log"], vec!["all", "!skipped"]),
            ("Append", vec!["/tmp/err.log"], vec!["fatal", "error"]),
        ]);
        let r = route(Some(&m), MessageType::Info);
        assert!(!r.director);
        assert_eq!(r.files, vec!["/tmp/a.log"]);
        let r = route(Some(&m), MessageType::Fatal);
        assert!(r.director);
        assert_eq!(r.files, vec!["/tmp/a.log", "/tmp/err.log"]);
        assert!(route(None, MessageType::Info).director);
        assert!(!admits(&["all".into()], MessageType::Debug));
        assert_eq!(time_prefix(1_795_362_414), "22-Nov 15:46 ");
    }
}
