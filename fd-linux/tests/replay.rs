//! vectors/clear-backup-full replayed against barque-fd over real TCP.
//!
//! The tree the real FD backed up is recreated on disk from the records it sent to the SD
//! (conn 4: names, modes, mtimes, contents, the symlink), under a temporary directory; the
//! Director side then sends exactly the frames the real Director sent on conn 3 (msg 17, the
//! `F` line, names the temporary copy instead of /srv/bareos-capture/testdata/tree; the
//! `storage` line names our test SD's port instead of 39203) and every reply of barque-fd must
//! equal the real FD's, job messages modulo their time, with these documented differences:
//!
//! - conn 3 msgs 29–30 (`Extended attribute support is enabled`, `ACL support is enabled`):
//!   barque-fd sends no ACL or xattr streams (fd-core has no such streams), so it does not
//!   claim support; the test checks that these two and only these two are missing.
//!
//! On the SD side every record must match the real FD's byte for byte except the stat
//! fields that belong to the machine (dev, ino, uid, gid, atime, ctime, blksize, blocks) and
//! the path prefix; records are compared per file, because `readdir()` order on this
//! machine's file system is not the capture's.

mod support;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use fd_core::wire::attr::{AttrRecord, FileType};
use fd_core::wire::bnet::Signal;
use fd_core::wire::jmsg::Jmsg;
use fd_core::wire::stream::DataHeader;
use rustix::fs::{AtFlags, Timespec, Timestamps, CWD};
use support::capture::*;
use support::harness::*;
use support::*;
use tokio::net::TcpListener;

const CAP_ROOT: &str = "/srv/bareos-capture/testdata/tree";

fn same_reply(got: &Got, want: &Got) -> bool {
    match (got, want) {
        (Got::Data(g), Got::Data(w)) if w.starts_with(b"Jmsg ") => {
            let (Ok(g), Ok(w)) = (Jmsg::parse(g), Jmsg::parse(w)) else {
                return false;
            };
            g.job == w.job && g.msg_type == w.msg_type && g.text == w.text
        }
        _ => got == want,
    }
}

fn replace(b: &[u8], from: &str, to: &str) -> Vec<u8> {
    String::from_utf8(b.to_vec())
        .expect("utf8")
        .replace(from, to)
        .into_bytes()
}

/// Per file: (name relative to the root, file type, link, stat mode/size/mtime, data
/// streams in order).
type Files = BTreeMap<Vec<u8>, (FileType, Vec<u8>, (i64, i64, i64), Vec<(i32, Vec<u8>)>)>;

fn files_of(records: &[(i32, i32, Vec<u8>)], root: &str) -> Files {
    let mut out = Files::new();
    let mut by_fi: BTreeMap<i32, Vec<u8>> = BTreeMap::new();
    for (fi, stream, data) in records {
        if *stream == 1 {
            let r = AttrRecord::parse(data).expect("attribute record");
            let name = r
                .fname
                .strip_prefix(root.as_bytes())
                .expect("prefix")
                .to_vec();
            by_fi.insert(*fi, name.clone());
            out.insert(
                name,
                (
                    r.file_type,
                    r.link.to_vec(),
                    (r.stat.mode, r.stat.size, r.stat.mtime),
                    Vec::new(),
                ),
            );
        } else {
            let name = by_fi.get(fi).expect("data before attributes");
            out.get_mut(name)
                .expect("file")
                .3
                .push((*stream, data.clone()));
        }
    }
    out
}

/// The records of the capture's conn 4 data phase.
fn captured_records(conn4: &[CapMsg]) -> Vec<(i32, i32, Vec<u8>)> {
    let mut out = Vec::new();
    let mut hdr: Option<(i32, i32)> = None;
    let mut prev_eod = false;
    for m in conn4.iter().filter(|m| m.from_client && m.i >= 12) {
        let eod = m.got == Got::Sig(Signal::Eod);
        if eod && prev_eod {
            break;
        }
        prev_eod = eod;
        let Got::Data(d) = &m.got else {
            hdr = None;
            continue;
        };
        match hdr {
            None => {
                let h = DataHeader::parse(d).expect("data header");
                hdr = Some((h.file_index, h.stream.0));
            }
            Some((fi, st)) => out.push((fi, st, d.clone())),
        }
    }
    out
}

fn set_times(p: &Path, mtime: i64) {
    let ts = Timestamps {
        last_access: Timespec {
            tv_sec: mtime,
            tv_nsec: 0,
        },
        last_modification: Timespec {
            tv_sec: mtime,
            tv_nsec: 0,
        },
    };
    rustix::fs::utimensat(CWD, p, &ts, AtFlags::SYMLINK_NOFOLLOW).expect("utimensat");
}

/// Recreate the captured tree under `dst` (directories last, for their mtimes).
fn recreate(files: &Files, dst: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mut dirs = Vec::new();
    for (name, (ft, link, (mode, _, mtime), streams)) in files {
        let rel = String::from_utf8(name.clone()).expect("utf8");
        let p = dst.join(rel.trim_start_matches('/').trim_end_matches('/'));
        match ft {
            FileType::DirEnd => {
                fs::create_dir_all(&p).unwrap();
                dirs.push((p, *mode, *mtime));
            }
            FileType::Reg | FileType::RegE => {
                fs::create_dir_all(p.parent().unwrap()).unwrap();
                let data: Vec<u8> = streams
                    .iter()
                    .filter(|(s, _)| *s == 2)
                    .flat_map(|(_, d)| d.clone())
                    .collect();
                fs::write(&p, data).unwrap();
                fs::set_permissions(&p, fs::Permissions::from_mode((*mode & 0o7777) as u32))
                    .unwrap();
                set_times(&p, *mtime);
            }
            FileType::Lnk => {
                fs::create_dir_all(p.parent().unwrap()).unwrap();
                let t = String::from_utf8(link.clone()).unwrap();
                std::os::unix::fs::symlink(t, &p).unwrap();
                set_times(&p, *mtime);
            }
            t => panic!("unexpected {t:?} in the capture"),
        }
    }
    dirs.sort_by_key(|(p, _, _)| std::cmp::Reverse(p.components().count()));
    for (p, mode, mtime) in dirs {
        fs::set_permissions(&p, fs::Permissions::from_mode((mode & 0o7777) as u32)).unwrap();
        set_times(&p, mtime);
    }
}

#[tokio::test]
async fn clear_backup_full_conn3_replayed_over_tcp() {
    let conn3 = capture("clear-backup-full", 3);
    let conn4 = capture("clear-backup-full", 4);
    let cap = captured_records(&conn4);
    let cap_files = files_of(&cap, CAP_ROOT);
    assert_eq!(cap_files.len(), 6, "the captured tree has six entries");

    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("tree");
    recreate(&cap_files, &root);
    let root_s = root.to_str().unwrap().to_string();

    let fd = start(&config_text(false), |s| {
        // The captured FD's version texts, so its replies can be compared byte for byte.
        s.job_version =
            "26.0.0~pre1298.eda204c31 (21Aug26) Debian GNU/Linux 12 (bookworm),debian".into();
        s.version_text =
            "26.0.0~pre1298.eda204c31 (21 August 2026) Debian GNU/Linux 12 (bookworm)".into();
    });
    let sd = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sd_port = sd.local_addr().unwrap().port().to_string();

    let dir = async {
        let mut p = director_connect(fd.port, false).await;
        let mut skipped = Vec::new();
        let mut k = 0;
        let msgs: Vec<&CapMsg> = conn3.iter().filter(|m| m.i >= 9).collect();
        while k < msgs.len() {
            let m = msgs[k];
            if m.from_client {
                let g = match &m.got {
                    Got::Data(x) => Got::Data(replace(
                        &replace(x, CAP_ROOT, &root_s),
                        "port=39203",
                        &format!("port={sd_port}"),
                    )),
                    s => s.clone(),
                };
                p.send(&g).await;
                k += 1;
                continue;
            }
            let want = match &m.got {
                Got::Data(x) => Got::Data(replace(
                    x,
                    "127.0.0.1:39203",
                    &format!("127.0.0.1:{sd_port}"),
                )),
                s => s.clone(),
            };
            if matches!(&want, Got::Data(x) if x.ends_with(b"support is enabled\n")) {
                skipped.push(m.i);
                k += 1;
                continue;
            }
            let got = p
                .recv()
                .await
                .unwrap_or_else(|| panic!("FD closed before conn 3 msg {}", m.i));
            assert!(
                same_reply(&got, &want),
                "conn 3 msg {}: barque-fd sent {} but the real FD sent {}",
                m.i,
                show(&got),
                show(&want)
            );
            k += 1;
        }
        assert_eq!(
            skipped,
            vec![29, 30],
            "only the ACL/xattr notices may be missing"
        );
        // Nothing more: the FD closes after its TERMINATE (msg 34).
        assert_eq!(p.recv().await, None);
    };
    let (_, records) = tokio::join!(
        dir,
        sd_append_as(
            &sd,
            false,
            "CapBackup.2026-11-22_15.46.52_03",
            "HLCO-EFBN-FKHA-HBFC-DIEI-MGND-JDEM-ILMP"
        )
    );
    // The SD hello was checked byte for byte by sd_append_as (conn 4 msg 1); the records:
    let ours = files_of(&records, &root_s);
    assert_eq!(ours.len(), cap_files.len());
    for (name, want) in &cap_files {
        let got = ours
            .get(name)
            .unwrap_or_else(|| panic!("{} not backed up", String::from_utf8_lossy(name)));
        assert_eq!(got, want, "{}", String::from_utf8_lossy(name));
    }
}
