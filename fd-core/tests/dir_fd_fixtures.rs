//! Every Director <-> File Daemon data frame of every cleartext capture in
//! `../shared/vectors/*/transcript.jsonl`, parsed with the `dir_cmd`, `fileset` and `jmsg`
//! codecs and re-emitted byte for byte.
//!
//! For each connection whose messages go `dir>fd` or `fd>dir`, the hello and CRAM-MD5 frames
//! are skipped (another codec owns them) up to the FD's `2000 OK Hello …` (Director-initiated)
//! or the Director's `1000 OK: …` (client-initiated). After that every data frame must parse
//! to a known variant (no `Unknown`) and `emit` must reproduce it exactly. Frames that only
//! make sense after a command are routed by context, as a real peer would:
//!
//! - `fileset` → fileset lines, `accurate files=` → accurate entries, `bootstrap` → bsr lines,
//!   each up to the Director's EOD;
//! - `status` / `.status` → status frames up to the FD's EOD;
//! - `estimate` → ls lines up to the `2000 OK estimate …` reply.
//!
//! The SD's `Jmsg` frames to the Director (`sd>dir`) go through the same job-message
//! codec.
//!
//! The vectors directory is `$BARQUE_VECTORS` or `../../shared/vectors` relative to this
//! crate; the test fails if it is missing rather than pass without checking anything.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use fd_core::wire::dir_cmd::{
    AccurateEntry, BootstrapLine, DirCommand, FdReply, Level, LsLine, Payload,
};
use fd_core::wire::fileset::FilesetLine;
use fd_core::wire::jmsg::Jmsg;
use fd_core::wire::status::StatusFrame;

/// The raw value of `"key": value` in a flat JSON object line (strings without escapes,
/// numbers, null).
fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let pat = format!("\"{key}\": ");
    let start = line.find(&pat)? + pat.len();
    let rest = &line[start..];
    if let Some(s) = rest.strip_prefix('"') {
        let end = s.find('"')?;
        Some(&s[..end])
    } else {
        let end = rest.find([',', '}']).unwrap_or(rest.len());
        Some(rest[..end].trim())
    }
}

fn vectors_dir() -> PathBuf {
    if let Ok(p) = std::env::var("BARQUE_VECTORS") {
        return PathBuf::from(p);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/vectors")
}

#[derive(Debug)]
struct Msg {
    conn: u32,
    i: u32,
    dir: String,
    signal: Option<String>,
    data: Vec<u8>,
}

fn load(path: &std::path::Path) -> Vec<Msg> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut out = Vec::new();
    for line in text.lines() {
        if field(line, "kind") != Some("msg") || line.contains("\"tls_record\"") {
            continue;
        }
        let dir = field(line, "dir").unwrap().to_string();
        if dir != "dir>fd" && dir != "fd>dir" && dir != "sd>dir" {
            continue;
        }
        assert!(
            !line.contains("\"truncated\": true"),
            "dir<->fd frame truncated in {path:?}: {line}"
        );
        let signal = match field(line, "signal") {
            None | Some("null") => None,
            Some(s) => Some(s.to_string()),
        };
        out.push(Msg {
            conn: field(line, "conn").unwrap().parse().unwrap(),
            i: field(line, "i").unwrap().parse().unwrap(),
            dir,
            signal,
            data: hex::decode(field(line, "hex").unwrap()).unwrap(),
        });
    }
    out
}

fn reemit(
    what: &str,
    frame: &[u8],
    emit: impl Fn(&mut [u8]) -> fd_core::wire::Result<usize>,
    len: usize,
) {
    let mut buf = vec![0u8; len];
    let n = emit(&mut buf).unwrap_or_else(|e| panic!("{what}: emit failed: {e:?}"));
    assert_eq!(n, len, "{what}: buffer_len disagrees with emit");
    assert_eq!(
        &buf[..n],
        frame,
        "{what}: re-emitted bytes differ\n got  {:?}\n want {:?}",
        String::from_utf8_lossy(&buf[..n]),
        String::from_utf8_lossy(frame)
    );
}

#[derive(Default)]
struct ConnState {
    authenticated: bool,
    dir_payload: Option<Payload>,
    fd_status: bool,
    fd_estimate: bool,
}

/// Short name of what a frame decoded to, for the coverage check.
fn cmd_kind(c: &DirCommand<'_>) -> &'static str {
    match c {
        DirCommand::Accurate { .. } => "accurate",
        DirCommand::Backup { .. } => "backup",
        DirCommand::Btime { .. } => "btime",
        DirCommand::Cancel { .. } => "cancel",
        DirCommand::EndRestore => "endrestore",
        DirCommand::Estimate { .. } => "estimate",
        DirCommand::Fileset { .. } => "fileset",
        DirCommand::GetSecureEraseCmd => "getSecureEraseCmd",
        DirCommand::JobStart(_) => "JobId",
        DirCommand::Level(Level::Backup { .. }) => "level",
        DirCommand::Level(Level::Since { .. }) => "since_utime",
        DirCommand::Restore(_) => "restore",
        DirCommand::SetBandwidth { .. } => "setbandwidth",
        DirCommand::Status => "status",
        DirCommand::DotStatus { .. } => ".status",
        DirCommand::Storage(_) => "storage",
        _ => "other",
    }
}

fn reply_kind(r: &FdReply<'_>) -> &'static str {
    match r {
        FdReply::Ok(_) => "2000 OK",
        FdReply::JobOk { .. } => "2000 OK Job",
        FdReply::SecureErase { .. } => "FDSecureEraseCmd",
        FdReply::Estimate { .. } => "2000 OK estimate",
        FdReply::Canceled { .. } => "2001",
        FdReply::EndJob(_) => "2800",
        FdReply::Jmsg(_) => "Jmsg",
        _ => "other",
    }
}

#[test]
fn every_dir_fd_frame_parses_and_reemits() {
    let dir = vectors_dir();
    assert!(
        dir.is_dir(),
        "capture directory {dir:?} not found (set BARQUE_VECTORS)"
    );
    let mut captures: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path().join("transcript.jsonl"))
        .filter(|p| p.is_file())
        .collect();
    captures.sort();
    assert!(captures.len() >= 10, "too few captures in {dir:?}");

    let mut seen: BTreeSet<&'static str> = BTreeSet::new();
    let mut checked = 0usize;
    let mut sd_jmsgs = 0usize;
    let mut per_capture: BTreeMap<String, usize> = BTreeMap::new();

    for path in &captures {
        let name = path
            .parent()
            .and_then(|p| p.file_name())
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let mut states: BTreeMap<u32, ConnState> = BTreeMap::new();
        for m in load(path) {
            if m.dir == "sd>dir" {
                // The SD's job messages share the Jmsg codec.
                if m.data.starts_with(b"Jmsg ") {
                    let j = Jmsg::parse(&m.data).unwrap_or_else(|e| {
                        panic!("{name} conn {} msg {} sd>dir: Jmsg: {e:?}", m.conn, m.i)
                    });
                    reemit("sd Jmsg", &m.data, |b| j.emit(b), j.buffer_len());
                    sd_jmsgs += 1;
                }
                continue;
            }
            let st = states.entry(m.conn).or_default();
            let what = format!("{name} conn {} msg {} {}", m.conn, m.i, m.dir);
            let to_fd = m.dir == "dir>fd";

            if !st.authenticated {
                // Skip hello + CRAM-MD5 up to the end of the handshake.
                if (!to_fd && m.data.starts_with(b"2000 OK Hello"))
                    || (to_fd && m.data.starts_with(b"1000 OK: "))
                {
                    st.authenticated = true;
                }
                continue;
            }

            if let Some(sig) = &m.signal {
                if sig == "EOD" {
                    if to_fd {
                        st.dir_payload = None;
                    } else {
                        st.fd_status = false;
                    }
                }
                continue;
            }
            let f = &m.data[..];
            checked += 1;
            *per_capture.entry(name.clone()).or_default() += 1;

            if to_fd {
                match st.dir_payload {
                    Some(Payload::Fileset) => {
                        let l = FilesetLine::parse(f)
                            .unwrap_or_else(|e| panic!("{what}: fileset line: {e:?}"));
                        assert!(!matches!(l, FilesetLine::Unknown(_)), "{what}: {l:?}");
                        reemit(&what, f, |b| l.emit(b), l.buffer_len());
                        seen.insert("fileset line");
                    }
                    Some(Payload::Accurate) => {
                        let e = AccurateEntry::parse(f)
                            .unwrap_or_else(|e| panic!("{what}: accurate entry: {e:?}"));
                        reemit(&what, f, |b| e.emit(b), e.buffer_len());
                        seen.insert("accurate entry");
                    }
                    Some(Payload::Bootstrap) => {
                        let l = BootstrapLine::parse(f)
                            .unwrap_or_else(|e| panic!("{what}: bootstrap line: {e:?}"));
                        reemit(&what, f, |b| l.emit(b), l.buffer_len());
                        seen.insert("bootstrap line");
                    }
                    None => {
                        let c = DirCommand::parse(f)
                            .unwrap_or_else(|e| panic!("{what}: command: {e:?}"));
                        assert!(!matches!(c, DirCommand::Unknown(_)), "{what}: {c:?}");
                        reemit(&what, f, |b| c.emit(b), c.buffer_len());
                        seen.insert(cmd_kind(&c));
                        st.dir_payload = c.payload();
                        match c {
                            DirCommand::Status | DirCommand::DotStatus { .. } => {
                                st.fd_status = true
                            }
                            DirCommand::Estimate { .. } => st.fd_estimate = true,
                            _ => {}
                        }
                    }
                }
                continue;
            }

            // fd>dir
            if st.fd_status {
                let s =
                    StatusFrame::parse(f).unwrap_or_else(|e| panic!("{what}: status frame: {e:?}"));
                reemit(&what, f, |b| s.emit(b), s.buffer_len());
                seen.insert(match s {
                    StatusFrame::Counted(_) => "status counted",
                    StatusFrame::Plain(_) => "status plain",
                });
                continue;
            }
            let r = FdReply::parse(f).unwrap_or_else(|e| panic!("{what}: reply: {e:?}"));
            if st.fd_estimate && matches!(r, FdReply::Unknown(_)) {
                let l = LsLine::parse(f).unwrap_or_else(|e| panic!("{what}: ls line: {e:?}"));
                reemit(&what, f, |b| l.emit(b), l.buffer_len());
                seen.insert("ls line");
                continue;
            }
            assert!(!matches!(r, FdReply::Unknown(_)), "{what}: {r:?}");
            reemit(&what, f, |b| r.emit(b), r.buffer_len());
            if matches!(r, FdReply::Estimate { .. }) {
                st.fd_estimate = false;
            }
            seen.insert(reply_kind(&r));
        }
    }

    // Every kind of frame the captures contain was actually reached.
    for kind in [
        "JobId",
        "level",
        "since_utime",
        "fileset",
        "fileset line",
        "getSecureEraseCmd",
        "storage",
        "backup",
        "restore",
        "endrestore",
        "estimate",
        "status",
        ".status",
        "cancel",
        "setbandwidth",
        "accurate",
        "accurate entry",
        "btime",
        "2000 OK",
        "2000 OK Job",
        "FDSecureEraseCmd",
        "2000 OK estimate",
        "2001",
        "2800",
        "Jmsg",
        "status counted",
        "status plain",
        "ls line",
    ] {
        assert!(
            seen.contains(kind),
            "no {kind:?} frame checked; saw {seen:?}"
        );
    }
    for capture in [
        "clear-backup-full",
        "clear-backup-incr",
        "clear-restore",
        "clear-estimate",
        "clear-status-client-storage",
        "clear-dot-status",
        "clear-cancel",
        "clear-diff-accurate",
        "clear-backup-multiblock",
        "clear-backup-passive",
        "clear-client-initiated",
    ] {
        assert!(
            per_capture.get(capture).copied().unwrap_or(0) > 5,
            "capture {capture} contributed too few frames: {per_capture:?}"
        );
    }
    eprintln!("checked {checked} frames: {per_capture:?}; {sd_jmsgs} SD Jmsgs");
    assert!(sd_jmsgs > 50, "only {sd_jmsgs} SD job messages checked");
    assert!(checked > 300, "only {checked} frames checked");
}
