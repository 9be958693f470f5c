//! Backup → restore round trips through barque-fd over real TCP: a generated tree with every
//! file type (regular, empty, > 1 MiB, large sparse, symlinks, hard links, FIFO, non-UTF-8
//! name, modes, mtimes; a device node and foreign owners when running as root) is backed up
//! by a test Director and a test Storage daemon built from fd-core's codecs, restored into a
//! second directory from the records the SD received, and compared byte for byte and
//! attribute for attribute. Incremental and differential backups send exactly the changed
//! files.

mod support;

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use fd_core::wire::attr::AttrRecord;
use fd_core::wire::codes::JobStatus;
use rustix::fs::{AtFlags, FileType, Mode, Timespec, Timestamps, CWD};
use support::harness::*;
use support::*;
use tokio::net::TcpListener;

fn is_root() -> bool {
    fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

fn set_mtime(p: &Path, t: i64) {
    let ts = Timestamps {
        last_access: Timespec {
            tv_sec: t - 7,
            tv_nsec: 0,
        },
        last_modification: Timespec {
            tv_sec: t,
            tv_nsec: 0,
        },
    };
    rustix::fs::utimensat(CWD, p, &ts, AtFlags::SYMLINK_NOFOLLOW).expect("utimensat");
}

fn chmod(p: &Path, m: u32) {
    fs::set_permissions(p, fs::Permissions::from_mode(m)).expect("chmod");
}

fn pseudo_random(n: usize, seed: u32) -> Vec<u8> {
    let mut x = seed;
    (0..n)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (x >> 16) as u8
        })
        .collect()
}

/// Build the test tree under `base/t`; returns its root.
fn make_tree(base: &Path) -> PathBuf {
    let t = base.join("t");
    fs::create_dir_all(t.join("sub/deeper")).unwrap();
    fs::write(t.join("hello.txt"), b"Hello, world\n").unwrap();
    fs::write(t.join("empty"), b"").unwrap();
    fs::write(t.join("big.bin"), pseudo_random(1_572_864 + 17, 7)).unwrap();
    {
        use std::os::unix::fs::FileExt;
        let f = fs::File::create(t.join("sparse.img")).unwrap();
        f.set_len(64 << 20).unwrap();
        f.write_all_at(&[b'A'; 4096], 0).unwrap();
        f.write_all_at(&pseudo_random(5000, 3), (32 << 20) + 123)
            .unwrap();
    }
    fs::write(t.join("sub/notes.txt"), b"notes\n").unwrap();
    fs::write(t.join("sub/deeper/x"), pseudo_random(70_000, 9)).unwrap();
    std::os::unix::fs::symlink("hello.txt", t.join("link-rel")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", t.join("link-abs")).unwrap();
    fs::write(t.join("hard-a"), b"linked twice\n").unwrap();
    fs::hard_link(t.join("hard-a"), t.join("sub/hard-b")).unwrap();
    rustix::fs::mknodat(
        CWD,
        t.join("fifo"),
        FileType::Fifo,
        Mode::from_raw_mode(0o640),
        0,
    )
    .unwrap();
    fs::write(t.join(OsStr::from_bytes(b"caf\xe9.txt")), b"latin-1 name\n").unwrap();
    fs::write(t.join("exec.sh"), b"#!/bin/sh\necho hi\n").unwrap();
    chmod(&t.join("exec.sh"), 0o755);
    chmod(&t.join("big.bin"), 0o640);
    chmod(&t.join("empty"), 0o600);
    chmod(&t.join("fifo"), 0o640);
    if is_root() {
        rustix::fs::mknodat(
            CWD,
            t.join("null"),
            FileType::CharacterDevice,
            Mode::from_raw_mode(0o666),
            rustix::fs::makedev(1, 3),
        )
        .unwrap();
        std::os::unix::fs::lchown(t.join("hello.txt"), Some(1234), Some(5678)).unwrap();
        std::os::unix::fs::lchown(t.join("link-rel"), Some(4321), Some(8765)).unwrap();
    }
    chmod(&t.join("sub"), 0o750);
    chmod(&t.join("sub/deeper"), 0o700);
    // mtimes, directories last.
    let mut k = 0;
    for p in walk(&t).iter().rev() {
        k += 1;
        set_mtime(p, 1_700_000_000 + k * 1000);
    }
    t
}

/// Every path under `root` (root included), parents before children.
fn walk(root: &Path) -> Vec<PathBuf> {
    let mut out = vec![root.to_path_buf()];
    let mut i = 0;
    while i < out.len() {
        let p = out[i].clone();
        if fs::symlink_metadata(&p).unwrap().is_dir() {
            let mut kids: Vec<PathBuf> = fs::read_dir(&p)
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            kids.sort();
            out.extend(kids);
        }
        i += 1;
    }
    out
}

fn restored(where_: &Path, p: &Path) -> PathBuf {
    let mut o = where_.as_os_str().as_bytes().to_vec();
    o.extend_from_slice(p.as_os_str().as_bytes());
    PathBuf::from(OsStr::from_bytes(&o))
}

/// Compare the tree at `src` with its restore under `where_`, attribute for attribute.
fn compare(src: &Path, where_: &Path) {
    let root = is_root();
    for p in walk(src) {
        let a = fs::symlink_metadata(&p).unwrap();
        let q = restored(where_, &p);
        let b = fs::symlink_metadata(&q)
            .unwrap_or_else(|e| panic!("{} not restored: {e}", q.display()));
        let name = p.display().to_string();
        assert_eq!(a.file_type(), b.file_type(), "{name}: type");
        assert_eq!(a.mtime(), b.mtime(), "{name}: mtime");
        if !a.file_type().is_symlink() {
            assert_eq!(a.mode(), b.mode(), "{name}: mode");
        }
        // The backup read the source (its atime moved); the restore sets the atime the
        // backup saw, which make_tree set to mtime - 7.
        // (Directories are read by the walks, so their atime is not checked.)
        if !a.is_dir() {
            assert_eq!(b.atime(), b.mtime() - 7, "{name}: atime");
        }
        if root {
            assert_eq!((a.uid(), a.gid()), (b.uid(), b.gid()), "{name}: owner");
        }
        if a.file_type().is_char_device() || a.file_type().is_block_device() {
            assert_eq!(a.rdev(), b.rdev(), "{name}: rdev");
        }
        if a.file_type().is_file() {
            assert_eq!(a.len(), b.len(), "{name}: size");
        }
    }
    // Contents only after every atime was checked (reading moves it).
    for p in walk(src) {
        let a = fs::symlink_metadata(&p).unwrap();
        let q = restored(where_, &p);
        let name = p.display().to_string();
        if a.file_type().is_file() {
            assert!(
                fs::read(&p).unwrap() == fs::read(&q).unwrap(),
                "{name}: content"
            );
        } else if a.file_type().is_symlink() {
            assert_eq!(
                fs::read_link(&p).unwrap(),
                fs::read_link(&q).unwrap(),
                "{name}"
            );
        }
    }
    // Hard links stay hard links; the sparse file keeps its holes.
    let ha = fs::metadata(restored(where_, &src.join("hard-a"))).unwrap();
    let hb = fs::metadata(restored(where_, &src.join("sub/hard-b"))).unwrap();
    assert_eq!(ha.ino(), hb.ino(), "hard link restored as a copy");
    let sp = fs::metadata(restored(where_, &src.join("sparse.img"))).unwrap();
    assert!(
        sp.blocks() * 512 < 4 << 20,
        "sparse file restored dense: {} blocks",
        sp.blocks()
    );
    // An absolute symlink is restored as a link, never followed.
    let la = restored(where_, &src.join("link-abs"));
    assert_eq!(fs::read_link(&la).unwrap(), Path::new("/etc/passwd"));
    // No temporary files are left.
    for p in walk(&restored(where_, src)) {
        assert!(
            !p.file_name()
                .unwrap()
                .as_bytes()
                .starts_with(b".barque-restore"),
            "temporary file left: {}",
            p.display()
        );
    }
}

pub struct Backup {
    pub frames: Vec<Got>,
    pub records: Records,
}

pub async fn backup(port: u16, tls: bool, cmds_for: impl FnOnce(u16) -> Vec<Got>) -> Backup {
    let sd = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sd_port = sd.local_addr().unwrap().port();
    let cmds = cmds_for(sd_port);
    let dir = async {
        let p = director_connect(port, tls).await;
        director_run(p, cmds).await
    };
    let (frames, records) = tokio::join!(dir, sd_append(&sd, tls));
    Backup { frames, records }
}

pub async fn restore(
    port: u16,
    tls: bool,
    records: &Records,
    where_: &Path,
    truncate: Option<usize>,
) -> Vec<Got> {
    let sd = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sd_port = sd.local_addr().unwrap().port();
    let w = where_.to_str().unwrap().to_string();
    let dir = async {
        let p = director_connect(port, tls).await;
        director_run(p, restore_commands(sd_port, &w)).await
    };
    let (frames, ()) = tokio::join!(dir, sd_read(&sd, records, truncate));
    frames
}

/// The names in the attribute records of a backup.
fn names(records: &Records) -> BTreeSet<Vec<u8>> {
    records
        .iter()
        .filter(|(_, s, _)| *s == 1)
        .map(|(_, _, d)| {
            let r = AttrRecord::parse(d).expect("attribute record");
            r.fname.to_vec()
        })
        .collect()
}

fn as_bytes(p: &Path) -> &[u8] {
    p.as_os_str().as_bytes()
}

async fn round_trip(tls: bool) {
    let fd = start(&config_text(tls), |_| {});
    let work = tempfile::tempdir().unwrap();
    let t = make_tree(work.path());
    let entries = walk(&t).len() as u32;
    let b = backup(fd.port, tls, |sd| {
        backup_commands(
            "full",
            0,
            "S2s",
            &[as_bytes(&t)],
            sd,
            if tls { 4 } else { 0 },
        )
    })
    .await;
    let ej = end_job(&b.frames);
    assert_eq!(ej.term_code, JobStatus::Terminated, "{:?}", b.frames);
    assert_eq!(ej.errors, 0);
    assert_eq!(ej.job_files, entries);
    // The job messages name the SD connection's real cipher, as bareos-fd does
    // (vectors/psk-backup-full: ` Encryption: TLS_CHACHA20_POLY1305_SHA256 TLSv1.3`).
    let m = jmsgs(&b.frames);
    if tls {
        let cipher = m
            .split(" Encryption: ")
            .nth(1)
            .and_then(|r| r.lines().next())
            .unwrap_or_else(|| panic!("no Encryption message: {m}"))
            .to_string();
        assert!(
            cipher.starts_with("TLS_") && cipher.ends_with(" TLSv1.3"),
            "{cipher}"
        );
        assert!(
            m.contains(&format!("encryption: {cipher}\n")),
            "Connected Storage daemon message: {m}"
        );
        assert!(!m.contains("ncryption: None"), "{m}");
    } else {
        assert!(m.contains(" Encryption: None\n"), "{m}");
        assert!(m.contains(", encryption: None\n"), "{m}");
    }
    assert_eq!(names(&b.records).len() as u32, entries);
    // The job messages name the SD connection's cipher as the real FD does
    // (vectors/psk-backup-full bconsole-output.txt), `None` in cleartext.
    let jmsgs: String = b
        .frames
        .iter()
        .filter_map(|g| match g {
            Got::Data(x) if x.starts_with(b"Jmsg ") => Some(String::from_utf8_lossy(x)),
            _ => None,
        })
        .collect();
    let want = if tls {
        "encryption: TLS_CHACHA20_POLY1305_SHA256 TLSv1.3\n"
    } else {
        "encryption: None\n"
    };
    assert!(
        jmsgs.contains("Connected Storage daemon at 127.0.0.1:") && jmsgs.contains(want),
        "{jmsgs}"
    );
    let enc = want.strip_prefix("encryption").unwrap_or(want);
    assert!(jmsgs.contains(&format!(" Encryption{enc}")), "{jmsgs}");
    // Bareos order: a directory's record after its contents; the root last.
    let last_attr = b
        .records
        .iter()
        .rev()
        .find(|(_, s, _)| *s == 1)
        .map(|(_, _, d)| AttrRecord::parse(d).unwrap().fname.to_vec())
        .unwrap();
    let mut root_name = as_bytes(&t).to_vec();
    root_name.push(b'/');
    assert_eq!(last_attr, root_name);

    let where_ = work.path().join("restore");
    fs::create_dir(&where_).unwrap();
    let frames = restore(fd.port, tls, &b.records, &where_, None).await;
    assert!(frames.contains(&d("2000 OK restore\n")), "{frames:?}");
    let ej = end_job(&frames);
    assert_eq!(ej.term_code, JobStatus::Terminated, "{frames:?}");
    assert_eq!(ej.errors, 0, "{frames:?}");
    compare(&t, &where_);
}

#[tokio::test]
async fn full_backup_then_restore_is_identical_cleartext() {
    round_trip(false).await;
}

#[tokio::test]
async fn full_backup_then_restore_is_identical_tls_psk() {
    round_trip(true).await;
}

#[tokio::test]
async fn incremental_and_differential_send_exactly_the_changed_files() {
    let fd = start(&config_text(false), |_| {});
    let work = tempfile::tempdir().unwrap();
    let t = make_tree(work.path());
    // Everything in the tree is older than `since`; then two files change.
    let since = 1_800_000_000i64;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!(now < since + 1_000_000_000);
    for p in walk(&t) {
        let m = fs::symlink_metadata(&p).unwrap();
        assert!(m.mtime() < since);
    }
    // ctime is now for every file we created, so move `since` past it for this check:
    // Bareos compares both mtime and ctime with the since time.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    std::thread::sleep(std::time::Duration::from_millis(1100));
    fs::write(t.join("sub/notes.txt"), b"changed notes\n").unwrap();
    fs::write(t.join("new-file"), b"new\n").unwrap();
    for level in ["incremental", "differential"] {
        let b = backup(fd.port, false, |sd| {
            backup_commands(level, since, "S2", &[as_bytes(&t)], sd, 0)
        })
        .await;
        let ej = end_job(&b.frames);
        assert_eq!(
            ej.term_code,
            JobStatus::Terminated,
            "{level}: {:?}",
            b.frames
        );
        let got = names(&b.records);
        // The changed files, plus the directories whose contents changed (their mtime and
        // ctime moved when a file was created in them: `t/` got new-file; `t/sub/` did not,
        // since notes.txt was rewritten in place).
        let mut want = BTreeSet::new();
        want.insert(as_bytes(&t.join("sub/notes.txt")).to_vec());
        want.insert(as_bytes(&t.join("new-file")).to_vec());
        let mut tdir = as_bytes(&t).to_vec();
        tdir.push(b'/');
        want.insert(tdir);
        assert_eq!(
            got.iter()
                .map(|n| String::from_utf8_lossy(n).into_owned())
                .collect::<Vec<_>>(),
            want.iter()
                .map(|n| String::from_utf8_lossy(n).into_owned())
                .collect::<Vec<_>>(),
            "{level}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Restore safety and bad input: each reported clearly, the daemon keeps serving.
// ---------------------------------------------------------------------------------------

/// `status` on a new Director connection: the text up to the EOD.
async fn status_text(port: u16) -> String {
    let mut p = director_connect(port, false).await;
    p.send(&d("status")).await;
    let mut out = String::new();
    loop {
        match p.recv().await {
            Some(Got::Data(x)) => out.push_str(&String::from_utf8_lossy(&x)),
            Some(Got::Sig(_)) | None => return out,
        }
    }
}

fn jmsgs(frames: &[Got]) -> String {
    frames
        .iter()
        .filter_map(|g| match g {
            Got::Data(x) if x.starts_with(b"Jmsg ") => {
                Some(String::from_utf8_lossy(x).into_owned())
            }
            _ => None,
        })
        .collect()
}

/// Records of a backup of `root` (full, SHA-256).
async fn backup_of(port: u16, root: &Path) -> Records {
    let b = backup(port, false, |sd| {
        backup_commands("full", 0, "S2", &[as_bytes(root)], sd, 0)
    })
    .await;
    assert_eq!(end_job(&b.frames).term_code, JobStatus::Terminated);
    b.records
}

/// Rewrite the names of the attribute records with `f`.
fn rename(records: &Records, f: impl Fn(&[u8]) -> Vec<u8>) -> Records {
    records
        .iter()
        .map(|(fi, st, data)| {
            if *st != 1 {
                return (*fi, *st, data.clone());
            }
            let r = AttrRecord::parse(data).unwrap();
            let name = f(r.fname);
            let mut r2 = r;
            r2.fname = &name;
            let mut buf = vec![0u8; data.len() + name.len() + 64];
            let n = r2.emit(&mut buf).unwrap();
            buf.truncate(n);
            (*fi, *st, buf)
        })
        .collect()
}

#[tokio::test]
async fn restore_with_dot_dot_is_refused_and_the_daemon_keeps_serving() {
    let fd = start(&config_text(false), |_| {});
    let work = tempfile::tempdir().unwrap();
    let t = work.path().join("src");
    fs::create_dir(&t).unwrap();
    fs::write(t.join("victim"), b"data\n").unwrap();
    let records = backup_of(fd.port, &t).await;
    // Every name becomes <t>/../../escaped-<name>.
    let prefix = as_bytes(&t).to_vec();
    let evil = rename(&records, |n| {
        let mut v = prefix.clone();
        v.extend_from_slice(b"/../../escaped");
        v.extend_from_slice(&n[prefix.len()..]);
        v
    });
    let where_ = work.path().join("restore/deep");
    fs::create_dir_all(&where_).unwrap();
    let frames = restore(fd.port, false, &evil, &where_, None).await;
    let ej = end_job(&frames);
    assert!(ej.errors > 0, "{frames:?}");
    assert!(
        jmsgs(&frames).contains("Illegal restore path"),
        "{}",
        jmsgs(&frames)
    );
    // Nothing was written anywhere near.
    for p in walk(work.path()) {
        assert!(
            !p.to_string_lossy().contains("escaped"),
            "{} created",
            p.display()
        );
    }
    assert!(status_text(fd.port).await.contains("bareos-fd Version:"));
}

#[tokio::test]
async fn restore_through_a_restored_symlink_is_refused() {
    let fd = start(&config_text(false), |_| {});
    let work = tempfile::tempdir().unwrap();
    let outside = work.path().join("outside");
    fs::create_dir(&outside).unwrap();
    // Backup A: t/evil -> <outside> (absolute symlink).
    let a = work.path().join("a/t");
    fs::create_dir_all(&a).unwrap();
    std::os::unix::fs::symlink(&outside, a.join("evil")).unwrap();
    let ra = backup_of(fd.port, &a).await;
    // Backup B: t/evil/pwned with t/evil a directory.
    let bt = work.path().join("b/t");
    fs::create_dir_all(bt.join("evil")).unwrap();
    fs::write(bt.join("evil/pwned"), b"owned\n").unwrap();
    let rb = backup_of(fd.port, &bt).await;
    // One stream: A's records, then B's under A's names (later FileIndexes).
    let (pa, pb) = (as_bytes(&a).to_vec(), as_bytes(&bt).to_vec());
    let rb = rename(&rb, |n| {
        let mut v = pa.clone();
        v.extend_from_slice(&n[pb.len()..]);
        v
    });
    let mut all = ra.clone();
    all.extend(rb.into_iter().map(|(fi, st, d)| (fi + 100, st, d)));
    let where_ = work.path().join("restore");
    fs::create_dir(&where_).unwrap();
    let frames = restore(fd.port, false, &all, &where_, None).await;
    let ej = end_job(&frames);
    assert!(ej.errors > 0, "{frames:?}");
    assert!(
        jmsgs(&frames).contains("Could not create"),
        "{}",
        jmsgs(&frames)
    );
    assert_eq!(
        fs::read_dir(&outside).unwrap().count(),
        0,
        "wrote through the symlink"
    );
    // The symlink itself was restored as a link.
    let l = restored(&where_, &a.join("evil"));
    assert_eq!(fs::read_link(l).unwrap(), outside);
}

#[tokio::test]
async fn truncated_restore_stream_leaves_no_partial_file() {
    let fd = start(&config_text(false), |_| {});
    let work = tempfile::tempdir().unwrap();
    let t = work.path().join("src");
    fs::create_dir(&t).unwrap();
    fs::write(t.join("big"), pseudo_random(3 << 20, 5)).unwrap();
    let records = backup_of(fd.port, &t).await;
    // Cut after the attributes and the first data record of `big`.
    let first_data = records.iter().position(|(_, s, _)| *s == 2).unwrap();
    let where_ = work.path().join("restore");
    fs::create_dir(&where_).unwrap();
    let frames = restore(fd.port, false, &records, &where_, Some(first_data + 1)).await;
    let ej = end_job(&frames);
    assert_ne!(ej.term_code, JobStatus::Terminated, "{frames:?}");
    let out = restored(&where_, &t.join("big"));
    assert!(!out.exists(), "partial file under its final name");
    let parent = out.parent().unwrap();
    if parent.exists() {
        for e in fs::read_dir(parent).unwrap() {
            let n = e.unwrap().file_name();
            assert!(
                !n.as_bytes().starts_with(b".barque-restore"),
                "temporary file left"
            );
        }
    }
    assert!(status_text(fd.port).await.contains("bareos-fd Version:"));
}

#[tokio::test]
async fn malformed_and_unknown_commands_are_answered_and_the_daemon_keeps_serving() {
    let fd = start(&config_text(false), |_| {});
    // An unknown command: 2999 Invalid command (dir_cmd.cc), then the FD ends the session.
    let mut p = director_connect(fd.port, false).await;
    p.send(&d("frobnicate everything\n")).await;
    assert_eq!(p.recv().await, Some(d("2999 Invalid command\n")));
    // A malformed JobId line.
    let mut p = director_connect(fd.port, false).await;
    p.send(&d("JobId=notanumber Job=\n")).await;
    let r = p.recv().await;
    assert!(
        matches!(&r, Some(Got::Data(x)) if x.starts_with(b"2")),
        "no error reply: {r:?}"
    );
    // Not Bareos at all, and a frame header announcing 2 GB.
    for junk in [
        &b"GET / HTTP/1.0\r\n\r\n"[..],
        &[0x7f, 0xff, 0xff, 0xff, b'H', b'e', b'l', b'l', b'o', b' '],
    ] {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", fd.port))
            .await
            .unwrap();
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        s.write_all(junk).await.unwrap();
        let mut buf = [0u8; 64];
        let n = tokio::time::timeout(std::time::Duration::from_secs(10), s.read(&mut buf))
            .await
            .expect("the daemon must close a junk connection")
            .unwrap_or(0);
        assert!(n <= 64);
    }
    // A wrong password, then a right one.
    assert!(status_text(fd.port).await.contains("bareos-fd Version:"));
}

/// A mode-0200 regular file under /sys (e.g. a PCI device's `rescan`).
fn write_only_sysfs_file() -> Option<PathBuf> {
    let mut stack = vec![PathBuf::from("/sys/devices"), PathBuf::from("/sys/kernel")];
    let mut seen = 0;
    while let Some(d) = stack.pop() {
        seen += 1;
        if seen > 5000 {
            return None;
        }
        let Ok(rd) = fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let p = e.path();
            let Ok(m) = fs::symlink_metadata(&p) else {
                continue;
            };
            if m.is_dir() {
                stack.push(p);
            } else if m.is_file() && m.mode() & 0o777 == 0o200 && m.len() > 0 {
                return Some(p);
            }
        }
    }
    None
}

#[tokio::test]
async fn missing_fileset_path_and_unreadable_file_are_reported() {
    let fd = start(&config_text(false), |_| {});
    let work = tempfile::tempdir().unwrap();
    let t = work.path().join("src");
    fs::create_dir(&t).unwrap();
    fs::write(t.join("ok"), b"fine\n").unwrap();
    // A file that cannot be read: chmod 000 as non-root; as root (permissions do not stop
    // root) a write-only sysfs attribute, which the kernel refuses to open for reading even
    // for root (kernfs has no show() for it: EACCES), and whose size is not 0 (the FD does
    // not open empty files).
    let unreadable: PathBuf = if is_root() {
        write_only_sysfs_file().expect("no write-only sysfs attribute found for the root case")
    } else {
        let p = t.join("secret");
        fs::write(&p, b"secret").unwrap();
        chmod(&p, 0o000);
        p
    };
    let missing = work.path().join("does-not-exist");
    let b = backup(fd.port, false, |sd| {
        let roots: Vec<&[u8]> = if is_root() {
            vec![as_bytes(&t), as_bytes(&missing), as_bytes(&unreadable)]
        } else {
            vec![as_bytes(&t), as_bytes(&missing)]
        };
        // (As non-root the unreadable file lies inside t.)
        backup_commands("full", 0, "S2", &roots, sd, 0)
    })
    .await;
    let ej = end_job(&b.frames);
    let msgs = jmsgs(&b.frames);
    assert_eq!(ej.errors, 2, "{msgs}");
    assert!(msgs.contains("Could not stat"), "{msgs}");
    assert!(msgs.contains("does-not-exist"), "{msgs}");
    assert!(
        msgs.contains(&unreadable.display().to_string()),
        "unreadable file not reported: {msgs}"
    );
    // The readable file was still saved.
    assert!(names(&b.records).contains(as_bytes(&t.join("ok"))));
    assert!(status_text(fd.port).await.contains("Terminated Jobs:"));
}
