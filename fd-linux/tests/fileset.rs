//! Fileset options applied by barque-fd over real TCP, checked against what the SD receives:
//! `signature = SHA1` (stream 10, the SHA-1 of the file computed here independently),
//! `Exclude Dir Containing` (`Z`), wildcard and regular-expression includes/excludes with
//! Bareos' `AcceptFile()` semantics, and a restore with `regexwhere`.

mod support;

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use fd_core::wire::attr::AttrRecord;
use fd_core::wire::bnet::Signal;
use fd_core::wire::codes::JobStatus;
use support::harness::*;
use support::*;
use tokio::net::TcpListener;

fn b(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

/// Backup commands with the fileset lines `lines` (between `fileset` and the EOD).
fn commands(lines: &[String], sd_port: u16) -> Vec<Got> {
    let mut v = vec![
        d(&format!(
            "JobId=7 Job={JOB} SDid=3 SDtime=1795365000 Authorization={KEY}\n"
        )),
        d("level = full  mtime_only=0 \n"),
        d("fileset vss=1\n"),
    ];
    // As `fd_sendfileset.cc` sends them: `F` lines without a newline, the others with one.
    v.extend(lines.iter().map(|l| {
        if l.starts_with("F ") {
            d(l)
        } else {
            d(&format!("{l}\n"))
        }
    }));
    v.extend([
        Got::Sig(Signal::Eod),
        d("getSecureEraseCmd\n"),
        d(&format!("storage address=127.0.0.1 port={sd_port} ssl=0\n")),
        d("backup FileIndex=0\n"),
    ]);
    v
}

async fn run_backup(port: u16, lines: Vec<String>) -> (Vec<Got>, Records) {
    let sd = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sd_port = sd.local_addr().unwrap().port();
    let cmds = commands(&lines, sd_port);
    let dir = async {
        let p = director_connect(port, false).await;
        director_run(p, cmds).await
    };
    tokio::join!(dir, sd_append(&sd, false))
}

fn names(records: &Records) -> BTreeSet<String> {
    records
        .iter()
        .filter(|(_, s, _)| *s == 1)
        .map(|(_, _, d)| {
            let r = AttrRecord::parse(d).expect("attribute record");
            String::from_utf8_lossy(r.fname).into_owned()
        })
        .collect()
}

fn tree() -> (tempfile::TempDir, std::path::PathBuf) {
    let w = tempfile::tempdir().unwrap();
    let t = w.path().join("t");
    for d in ["a", "a/cache", "b", "skip", "skip/deep", "Logs"] {
        fs::create_dir_all(t.join(d)).unwrap();
    }
    for (f, c) in [
        ("a/keep.txt", "keep"),
        ("a/x.tmp", "tmp"),
        ("a/cache/c.bin", "cache"),
        ("b/y.TMP", "TMP"),
        ("b/z.log", "log"),
        ("skip/.nobackup", ""),
        ("skip/deep/file", "deep"),
        ("Logs/l.txt", "l"),
    ] {
        fs::write(t.join(f), c).unwrap();
    }
    (w, t)
}

fn set(root: &Path, rel: &[&str]) -> BTreeSet<String> {
    rel.iter()
        .map(|r| {
            if r.is_empty() {
                format!("{}/", b(root))
            } else {
                format!("{}/{r}", b(root))
            }
        })
        .collect()
}

#[tokio::test]
async fn signature_sha1_sends_stream_10_with_the_files_sha1() {
    let fd = start(&config_text(false), |_| {});
    let w = tempfile::tempdir().unwrap();
    let f = w.path().join("data.bin");
    let body: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    fs::write(&f, &body).unwrap();
    let lines = vec![
        "I".into(),
        "O S1".into(),
        "N".into(),
        format!("F {}", b(&f)),
        "N".into(),
    ];
    let (frames, records) = run_backup(fd.port, lines).await;
    assert_eq!(
        end_job(&frames).term_code,
        JobStatus::Terminated,
        "{frames:?}"
    );
    let digests: Vec<&Vec<u8>> = records
        .iter()
        .filter(|(_, s, _)| *s == 10)
        .map(|(_, _, d)| d)
        .collect();
    assert_eq!(digests.len(), 1, "one SHA1 record (stream 10)");
    // Independent SHA-1: the system's sha1sum.
    let out = std::process::Command::new("sha1sum")
        .arg(&f)
        .output()
        .unwrap();
    let hex = String::from_utf8(out.stdout).unwrap();
    let want = hex.split_whitespace().next().unwrap().to_string();
    let got: String = digests[0].iter().map(|x| format!("{x:02x}")).collect();
    assert_eq!(got, want);
}

/// A file large enough for both helper threads (read-ahead after 1 MiB, SHA-256 after
/// 4 MiB): the data records are the file's bytes and the SHA-256 record
/// (`STREAM_SHA256_DIGEST`, 17) is the system's `sha256sum`.
#[tokio::test]
async fn signature_sha256_of_a_large_file_read_on_helper_threads() {
    let fd = start(&config_text(false), |_| {});
    let w = tempfile::tempdir().unwrap();
    let f = w.path().join("large.bin");
    let body: Vec<u8> = (0..9_437_184u32 + 4_321)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    fs::write(&f, &body).unwrap();
    let lines = vec![
        "I".into(),
        "O S2".into(),
        "N".into(),
        format!("F {}", b(&f)),
        "N".into(),
    ];
    let (frames, records) = run_backup(fd.port, lines).await;
    assert_eq!(
        end_job(&frames).term_code,
        JobStatus::Terminated,
        "{frames:?}"
    );
    // Stream 2 (file data): the file's bytes in order.
    let data: Vec<u8> = records
        .iter()
        .filter(|(_, s, _)| *s == 2)
        .flat_map(|(_, _, d)| d.iter().copied())
        .collect();
    assert!(data == body, "data records differ from the file");
    let digests: Vec<&Vec<u8>> = records
        .iter()
        .filter(|(_, s, _)| *s == 17)
        .map(|(_, _, d)| d)
        .collect();
    assert_eq!(digests.len(), 1, "one SHA-256 record (stream 17)");
    let out = std::process::Command::new("sha256sum")
        .arg(&f)
        .output()
        .unwrap();
    let hex = String::from_utf8(out.stdout).unwrap();
    let want = hex.split_whitespace().next().unwrap().to_string();
    let got: String = digests[0].iter().map(|x| format!("{x:02x}")).collect();
    assert_eq!(got, want);
}

#[tokio::test]
async fn exclude_dir_containing_and_wildcard_excludes() {
    let fd = start(&config_text(false), |_| {});
    let (_w, t) = tree();
    // Options { wildfile = "*.tmp"; wilddir = "*/cache"; exclude = yes }
    // Options { signature = SHA256 }; Exclude Dir Containing = .nobackup
    let lines = vec![
        "I".into(),
        "Z .nobackup".into(),
        "O e".into(),
        "WF *.tmp".into(),
        "WD */cache".into(),
        "N".into(),
        "O S2".into(),
        "N".into(),
        format!("F {}", b(&t)),
        "N".into(),
        "N".into(),
    ];
    let (frames, records) = run_backup(fd.port, lines).await;
    assert_eq!(
        end_job(&frames).term_code,
        JobStatus::Terminated,
        "{frames:?}"
    );
    assert_eq!(
        names(&records),
        set(
            &t,
            &[
                "",
                "a/",
                "a/keep.txt",
                "b/",
                "b/y.TMP",
                "b/z.log",
                "Logs/",
                "Logs/l.txt"
            ]
        )
    );
    // The last Options block's flags apply to the files no pattern matched: SHA-256.
    assert_eq!(records.iter().filter(|(_, s, _)| *s == 17).count(), 4);
}

#[tokio::test]
async fn wildcard_includes_ignore_case_and_a_final_exclude_everything_block() {
    let fd = start(&config_text(false), |_| {});
    let (_w, t) = tree();
    // Bareos' "only these files" idiom: an include block matching *.tmp case-insensitively
    // and every directory, then an exclude block without patterns (rejects the rest).
    let lines = vec![
        "I".into(),
        "O i".into(),
        "WF *.tmp".into(),
        "WD *".into(),
        "N".into(),
        "O e".into(),
        "N".into(),
        format!("F {}", b(&t)),
        "N".into(),
    ];
    let (frames, records) = run_backup(fd.port, lines).await;
    assert_eq!(
        end_job(&frames).term_code,
        JobStatus::Terminated,
        "{frames:?}"
    );
    assert_eq!(
        names(&records),
        set(
            &t,
            &[
                "",
                "a/",
                "a/x.tmp",
                "a/cache/",
                "b/",
                "b/y.TMP",
                "skip/",
                "skip/deep/",
                "Logs/"
            ]
        )
    );
}

#[tokio::test]
async fn regex_excludes_and_an_exclude_block() {
    let fd = start(&config_text(false), |_| {});
    let (_w, t) = tree();
    let lines = vec![
        "I".into(),
        "O e".into(),
        r"RF \.(log|bin)$".into(),
        "RD /[Ll]ogs$".into(),
        "N".into(),
        "O S2".into(),
        "N".into(),
        format!("F {}", b(&t)),
        "N".into(),
        "N".into(),
        "E".into(),
        format!("F {}/skip", b(&t)),
        "N".into(),
        "N".into(),
    ];
    let (frames, records) = run_backup(fd.port, lines).await;
    assert_eq!(
        end_job(&frames).term_code,
        JobStatus::Terminated,
        "{frames:?}"
    );
    assert_eq!(
        names(&records),
        set(
            &t,
            &[
                "",
                "a/",
                "a/keep.txt",
                "a/x.tmp",
                "a/cache/",
                "b/",
                "b/y.TMP"
            ]
        )
    );
}

#[tokio::test]
async fn a_regex_that_does_not_compile_fails_the_job_with_its_text() {
    let fd = start(&config_text(false), |_| {});
    let (_w, t) = tree();
    let lines = vec![
        "I".into(),
        "O e".into(),
        "R (unclosed".into(),
        "N".into(),
        format!("F {}", b(&t)),
        "N".into(),
    ];
    let sd = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let cmds = commands(&lines, sd.local_addr().unwrap().port());
    let p = director_connect(fd.port, false).await;
    let frames = director_run(p, cmds).await;
    let text: String = frames
        .iter()
        .filter_map(|g| match g {
            Got::Data(x) => Some(String::from_utf8_lossy(x).into_owned()),
            _ => None,
        })
        .collect();
    assert!(
        text.contains("REGEX (unclosed compile error. ERR="),
        "{text}"
    );
    assert!(!text.contains("2000 OK include"), "{text}");
}

#[tokio::test]
async fn restore_with_regexwhere_rewrites_the_names() {
    let fd = start(&config_text(false), |_| {});
    let (w, t) = tree();
    let lines = vec![
        "I".into(),
        "O S2".into(),
        "N".into(),
        format!("F {}/a", b(&t)),
        "N".into(),
    ];
    let (frames, records) = run_backup(fd.port, lines).await;
    assert_eq!(
        end_job(&frames).term_code,
        JobStatus::Terminated,
        "{frames:?}"
    );
    let out = w.path().join("out");
    fs::create_dir(&out).unwrap();
    // strip the tree's prefix, add `out` as prefix, add a suffix to files (the Director's
    // strip_prefix/add_prefix/add_suffix form), spaces bashed as the Director does.
    let spec = format!("!{}!!,!^!{}!,!([^/])$!$1.old!", b(&t), b(&out));
    let sd = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sd_port = sd.local_addr().unwrap().port();
    let mut cmds = restore_commands(sd_port, "/unused");
    cmds[3] = d(&format!("restore replace=a prelinks=0 regexwhere={spec}\n"));
    let dir = async {
        let p = director_connect(fd.port, false).await;
        director_run(p, cmds).await
    };
    let (frames, ()) = tokio::join!(dir, sd_read(&sd, &records, None));
    let ej = end_job(&frames);
    assert_eq!(ej.term_code, JobStatus::Terminated, "{frames:?}");
    assert_eq!(fs::read(out.join("a/keep.txt.old")).unwrap(), b"keep");
    assert_eq!(fs::read(out.join("a/x.tmp.old")).unwrap(), b"tmp");
    assert_eq!(fs::read(out.join("a/cache/c.bin.old")).unwrap(), b"cache");
    assert!(out
        .join("a")
        .as_os_str()
        .as_bytes()
        .starts_with(w.path().as_os_str().as_bytes()));

    // A malformed list fails the restore before any file is written.
    // (No storage command: the list is checked before the SD is needed.)
    let cmds = vec![
        restore_commands(1, "/unused")[0].clone(),
        d("restore replace=a prelinks=0 regexwhere=!(!x!\n"),
    ];
    let p = director_connect(fd.port, false).await;
    let frames = director_run(p, cmds).await;
    let text: String = frames
        .iter()
        .filter_map(|g| match g {
            Got::Data(x) => Some(String::from_utf8_lossy(x).into_owned()),
            _ => None,
        })
        .collect();
    assert!(text.contains("Bad where regexp. where=!(!x!"), "{text}");
}
