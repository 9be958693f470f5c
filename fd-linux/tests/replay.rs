//! vectors/clear-backup-full replayed against barque-fd over real TCP.
//!
//! The tree the real FD backed up is recreated on disk from the records it sent to the SD
//! (conn 4: names, modes, mtimes, contents, the symlink), under a temporary directory; the
//! Director side then sends exactly the frames the real Director sent on conn 3 (msg 17, the
//! `F` line, names the temporary copy instead of /srv/bareos-capture/testdata/tree; the
//! `storage` line names our test SD's port instead of 39203) and every reply of barque-fd must
//! equal the real FD's, job messages modulo their time — including conn 3 msgs 29–30
//! (`Extended attribute support is enabled`, `ACL support is enabled`: barque-fd saves ACL
//! and xattr streams, and the captured tree has none, so no such stream is sent).
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

/// vectors/clear-estimate conn 2: `estimate listing=1` over the recreated tree. The listing
/// lines are built by fd-core from what [`fd_linux::source::LinuxSource`] reports (mode,
/// nlink, owner names from /etc/passwd and /etc/group, size, mtime), so they must equal the
/// real FD's, in this machine's `readdir()` order (compared as a set) and with a directory's
/// size as this file system reports it.
#[tokio::test]
async fn clear_estimate_listing_replayed_over_tcp() {
    use std::os::unix::fs::MetadataExt;
    let as_root = std::fs::metadata("/proc/self").unwrap().uid() == 0;
    let conn2 = capture("clear-estimate", 2);
    let lines: Vec<String> = conn2
        .iter()
        .filter(|m| !m.from_client && (23..=29).contains(&m.i))
        .map(|m| match &m.got {
            Got::Data(x) => String::from_utf8(x.clone()).unwrap(),
            g => panic!("{g:?}"),
        })
        .collect();
    assert_eq!(lines.len(), 7);
    let work = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let root = work.path().join("tree");
    let root_s = root.to_str().unwrap().to_string();
    // Recreate: files first, then directories (mtimes).
    let mut parsed = Vec::new();
    for l in &lines {
        let f: Vec<&str> = l.split_whitespace().collect();
        let (perm, size, date, time) = (f[0], f[4], f[5], f[6]);
        let path = f[7].replace(CAP_ROOT, &root_s);
        let target = f.get(9).map(|s| s.to_string());
        let mtime = {
            let out = std::process::Command::new("date")
                .args(["-u", "-d", &format!("{date} {time}"), "+%s"])
                .output()
                .unwrap();
            String::from_utf8(out.stdout)
                .unwrap()
                .trim()
                .parse::<i64>()
                .unwrap()
        };
        parsed.push((
            perm.to_string(),
            size.parse::<u64>().unwrap(),
            path,
            target,
            mtime,
        ));
    }
    for (perm, size, path, target, mtime) in &parsed {
        let p = Path::new(path);
        match perm.chars().next() {
            Some('-') => {
                fs::create_dir_all(p.parent().unwrap()).unwrap();
                fs::write(p, vec![b'x'; *size as usize]).unwrap();
            }
            Some('l') => {
                fs::create_dir_all(p.parent().unwrap()).unwrap();
                std::os::unix::fs::symlink(target.as_ref().unwrap(), p).unwrap();
            }
            _ => fs::create_dir_all(p).unwrap(),
        }
        let _ = mtime;
    }
    for (perm, _, path, _, mtime) in &parsed {
        let p = Path::new(path);
        if !perm.starts_with('l') {
            let mut mode = 0u32;
            for (i, c) in perm[1..10].chars().enumerate() {
                if c != '-' {
                    mode |= 1 << (8 - i);
                }
            }
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap();
        }
        if !perm.starts_with('d') {
            set_times(p, *mtime);
        }
    }
    let mut dirs: Vec<_> = parsed.iter().filter(|x| x.0.starts_with('d')).collect();
    dirs.sort_by_key(|x| std::cmp::Reverse(x.2.len()));
    for (_, _, path, _, mtime) in dirs {
        set_times(Path::new(path), *mtime);
    }
    // The expected lines, with this machine's directory sizes and ctimes (the listing
    // prints st_ctime, which cannot be set: estimate.rs, conn 2 msgs 23-29).
    let mut want: Vec<String> = Vec::new();
    for (l, (perm, _, path, _, _)) in lines.iter().zip(&parsed) {
        let f: Vec<&str> = l.split_whitespace().collect();
        let ctime = fs::symlink_metadata(path).unwrap().ctime();
        let out = std::process::Command::new("date")
            .args(["-u", "-d", &format!("@{ctime}"), "+%Y-%m-%d %H:%M:%S"])
            .output()
            .unwrap();
        let local = String::from_utf8(out.stdout).unwrap().trim().to_string();
        let l = l.replacen(&format!("{} {}", f[5], f[6]), &local, 1);
        let mut l = l.replace(CAP_ROOT, &root_s);
        if perm.starts_with('d') {
            let sz = fs::metadata(path).unwrap().size();
            l = l.replacen("            4096 ", &format!("{sz:>16} "), 1);
        }
        if !as_root {
            // Owners are this user's: compare everything else.
            let me = std::env::var("USER").unwrap_or_default();
            l = l.replace("root     root    ", &format!("{me:<8} {me:<8}"));
        }
        want.push(l);
    }
    want.sort();

    let fd = start(&config_text(false), |s| {
        s.job_version =
            "26.0.0~pre1298.eda204c31 (21Aug26) Debian GNU/Linux 12 (bookworm),debian".into();
    });
    let mut p = director_connect(fd.port, false).await;
    let mut got = Vec::new();
    for m in conn2.iter().filter(|m| m.i >= 9) {
        if m.from_client {
            let g = match &m.got {
                Got::Data(x) => Got::Data(replace(x, CAP_ROOT, &root_s)),
                s => s.clone(),
            };
            p.send(&g).await;
            continue;
        }
        if (23..=29).contains(&m.i) {
            match p.recv().await {
                Some(Got::Data(x)) => got.push(String::from_utf8(x).unwrap()),
                g => panic!("msg {}: {g:?}", m.i),
            }
            if m.i == 29 {
                got.sort();
                assert_eq!(got, want);
            }
            continue;
        }
        let r = p
            .recv()
            .await
            .unwrap_or_else(|| panic!("closed before msg {}", m.i));
        assert!(
            same_reply(&r, &m.got),
            "conn 2 msg {}: barque-fd sent {} but the real FD sent {}",
            m.i,
            show(&r),
            show(&m.got)
        );
    }
}

/// vectors/clear-restore, conns 3 (Director) and 4 (SD) replayed over TCP against
/// barque-fd restoring into a temporary `where` with the Linux sink: every FD reply and every
/// frame it sends to the SD equals the real FD's (job messages modulo time; `where` and the
/// SD port rewritten), and the restored files have the captured contents, modes and mtimes.
#[tokio::test]
async fn clear_restore_replayed_over_tcp_into_the_linux_sink() {
    use std::os::unix::fs::MetadataExt;
    let conn3 = capture("clear-restore", 3);
    let conn4 = capture("clear-restore", 4);
    let job = "CapRestore.2026-11-22_15.47.31_05";
    let key = "ADBL-LFLC-MNJC-FMCI-DDEC-CIJA-ODAI-GMHA";
    let cap_where = "/srv/bareos-capture/restore/all";
    let work = tempfile::tempdir().unwrap();
    let where_ = work.path().join("all");
    let where_s = where_.to_str().unwrap().to_string();
    let fd = start(&config_text(false), |s| {
        s.job_version =
            "26.0.0~pre1298.eda204c31 (21Aug26) Debian GNU/Linux 12 (bookworm),debian".into();
        s.version_text =
            "26.0.0~pre1298.eda204c31 (21 August 2026) Debian GNU/Linux 12 (bookworm)".into();
    });
    let sd = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sd_port = sd.local_addr().unwrap().port().to_string();
    let dir = async {
        let mut p = director_connect(fd.port, false).await;
        for m in conn3.iter().filter(|m| m.i >= 9) {
            if m.from_client {
                let g = match &m.got {
                    Got::Data(x) => Got::Data(replace(
                        &replace(x, cap_where, &where_s),
                        "port=39203",
                        &format!("port={sd_port}"),
                    )),
                    s => s.clone(),
                };
                p.send(&g).await;
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
        }
        // Directory attributes are applied when the session ends, before the FD closes
        // the Director connection: wait for the close before looking at the tree.
        assert_eq!(p.recv().await, None);
    };
    let sdtask = async {
        let (tcp, _) = sd.accept().await.unwrap();
        let mut s = Peer::new(fd_linux::net::NetStream::Plain(tcp));
        assert_eq!(s.recv().await.as_ref(), Some(&conn4[0].got), "conn 4 msg 1");
        let ev = s
            .auth(
                fd_core::auth::Role::Inbound,
                key.as_bytes(),
                b"R_STORAGE::bareos-sd",
                false,
            )
            .await;
        assert!(matches!(ev, fd_core::auth::Event::Authenticated { .. }));
        for m in conn4.iter().filter(|m| m.i >= 8) {
            if m.from_client {
                let got = s.recv().await;
                assert_eq!(got.as_ref(), Some(&m.got), "conn 4 msg {}", m.i);
            } else {
                s.send(&m.got).await;
            }
        }
    };
    tokio::join!(dir, sdtask);
    let _ = job;
    // The restored files: the records the SD sent, checked on disk.
    let mut cur: Option<(std::path::PathBuf, i64, i64, Vec<u8>, bool)> = None;
    let mut checked = 0;
    let mut check = |c: Option<(std::path::PathBuf, i64, i64, Vec<u8>, bool)>| {
        if let Some((p, mode, mtime, data, regular)) = c {
            let m = fs::symlink_metadata(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            assert_eq!(m.mtime(), mtime, "{}", p.display());
            if !m.file_type().is_symlink() {
                assert_eq!(i64::from(m.mode()), mode, "{}", p.display());
            }
            if regular {
                assert_eq!(fs::read(&p).unwrap(), data, "{}", p.display());
            }
            checked += 1;
        }
    };
    let mut hdr: Option<(i32, i32)> = None;
    for m in conn4.iter().filter(|m| !m.from_client && m.i >= 12) {
        let Got::Data(x) = &m.got else { break };
        match hdr.take() {
            None => {
                let r = fd_core::wire::stream::RecHdr::parse(x).expect("rechdr");
                hdr = Some((r.file_index, r.stream.0));
            }
            Some((_, 1)) => {
                let r = AttrRecord::parse(x).unwrap();
                let name = String::from_utf8(r.fname.to_vec()).unwrap();
                let p =
                    std::path::PathBuf::from(format!("{where_s}{}", name.trim_end_matches('/')));
                check(cur.take());
                let regular = matches!(r.file_type, FileType::Reg | FileType::RegE);
                cur = Some((p, r.stat.mode, r.stat.mtime, Vec::new(), regular));
            }
            Some((_, 2)) => {
                if let Some(c) = cur.as_mut() {
                    c.3.extend_from_slice(x);
                }
            }
            Some(_) => {}
        }
    }
    check(cur.take());
    assert_eq!(checked, 7);
}
