//! Extended attributes and POSIX ACLs through barque-fd as Bareos streams: a backup with the
//! fileset options `A` (ACL) and `X` (xattr) sends `STREAM_XATTR_LINUX` (1998) with the
//! user attributes and `STREAM_ACL_LINUX_ACCESS_ACL` (1008) / `…_DEFAULT_ACL` (1007) as ACL
//! text; the restore puts them back. The attributes and ACLs are set and read back with
//! Python's `os.setxattr`/`os.getxattr` (the kernel's binary ACL form packed by Python), so
//! the check does not go through barque's own codecs.
//!
//! The test needs a file system with user xattrs and POSIX ACLs under the temporary
//! directory; without them it says so loudly and checks nothing.

mod support;

use std::fs;
use std::path::Path;
use std::process::Command;

use fd_core::wire::codes::JobStatus;
use support::harness::*;
use support::*;
use tokio::net::TcpListener;

/// Run a Python snippet with `argv[1..]`; returns stdout, panics on failure.
fn py(code: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new("python3")
        .arg("-c")
        .arg(code)
        .args(args)
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

const SET_XATTR: &str =
    "import os,sys; os.setxattr(sys.argv[1], sys.argv[2], sys.argv[3].encode())";
const DUMP: &str = "import os,sys
p=sys.argv[1]
for n in sorted(os.listxattr(p, follow_symlinks=False)):
    print(n, os.getxattr(p, n, follow_symlinks=False).hex())";
/// Set an ACL from `tag:id:perm` triples (kernel binary form: version 2, LE entries).
const SET_ACL: &str = "import os,sys,struct
tags={'user_obj':1,'user':2,'group_obj':4,'group':8,'mask':0x10,'other':0x20}
b=struct.pack('<I',2)
for e in sys.argv[3].split(','):
    t,i,p=e.split(':')
    b+=struct.pack('<HHI',tags[t],int(p),int(i) if i else 0xffffffff)
os.setxattr(sys.argv[1], sys.argv[2], b)";

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[tokio::test]
async fn xattrs_and_acls_round_trip_as_bareos_streams() {
    let w = tempfile::tempdir().unwrap();
    let src = w.path().join("src");
    fs::create_dir_all(src.join("dir")).unwrap();
    let f = src.join("file.txt");
    fs::write(&f, b"with attributes").unwrap();
    fs::write(src.join("plain.txt"), b"no attributes").unwrap();
    if let Err(e) = py(SET_XATTR, &[path(&f), "user.comment", "hello xattr"]) {
        eprintln!(
            "\n*** SKIPPED: the file system under {} has no user extended attributes ({}) ***\n",
            w.path().display(),
            e.trim()
        );
        return;
    }
    py(SET_XATTR, &[path(&f), "user.empty", ""]).unwrap();
    py(SET_XATTR, &[path(&src.join("dir")), "user.dirattr", "d"]).unwrap();
    // An access ACL on the file (uid 12345: read) and a default ACL on the directory.
    let acl_ok = py(
        SET_ACL,
        &[
            path(&f),
            "system.posix_acl_access",
            "user_obj::6,user:12345:4,group_obj::4,mask::4,other::4",
        ],
    )
    .and_then(|_| {
        py(
            SET_ACL,
            &[
                path(&src.join("dir")),
                "system.posix_acl_default",
                "user_obj::7,group_obj::5,group:54321:5,mask::5,other::0",
            ],
        )
    });
    if let Err(e) = &acl_ok {
        eprintln!(
            "\n*** ACL part SKIPPED: POSIX ACLs not supported here ({}) ***\n",
            e.trim()
        );
    }
    let before_f = py(DUMP, &[path(&f)]).unwrap();
    let before_d = py(DUMP, &[path(&src.join("dir"))]).unwrap();

    let fd = start(&config_text(false), |_| {});
    let sd = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sd_port = sd.local_addr().unwrap().port();
    let root = path(&src).as_bytes().to_vec();
    let cmds = backup_commands("full", 0, "S2AX", &[&root], sd_port, 0);
    let dir = async {
        let p = director_connect(fd.port, false).await;
        director_run(p, cmds).await
    };
    let (frames, records) = tokio::join!(dir, sd_append(&sd, false));
    let ej = end_job(&frames);
    assert_eq!(ej.term_code, JobStatus::Terminated, "{frames:?}");
    assert_eq!(ej.errors, 0, "{frames:?}");

    // The xattr streams: the file's two user attributes (the ACL attributes are left out
    // because the ACL option is on), and the directory's.
    let xattr: Vec<&Vec<u8>> = records
        .iter()
        .filter(|(_, s, _)| *s == 1998)
        .map(|(_, _, d)| d)
        .collect();
    assert_eq!(xattr.len(), 2, "one xattr stream per entry with attributes");
    let file_stream = xattr
        .iter()
        .find(|d| d.windows(12).any(|w| w == b"user.comment"))
        .expect("file xattr stream");
    // magic 0x005C5884, name length, name, value length, value (big-endian lengths).
    let mut want = Vec::new();
    for (n, v) in [("user.comment", "hello xattr"), ("user.empty", "")] {
        let mut one = Vec::new();
        one.extend_from_slice(&0x005C_5884u32.to_be_bytes());
        one.extend_from_slice(&(n.len() as u32).to_be_bytes());
        one.extend_from_slice(n.as_bytes());
        one.extend_from_slice(&(v.len() as u32).to_be_bytes());
        one.extend_from_slice(v.as_bytes());
        want.push(one);
    }
    let a = [want[0].clone(), want[1].clone()].concat();
    let b = [want[1].clone(), want[0].clone()].concat();
    assert!(
        **file_stream == a || **file_stream == b,
        "xattr stream {:02x?}",
        file_stream
    );
    assert!(!file_stream.windows(6).any(|w| w == b"system"));

    if acl_ok.is_ok() {
        let text = |s: i32| -> Vec<String> {
            records
                .iter()
                .filter(|(_, st, _)| *st == s)
                .map(|(_, _, d)| String::from_utf8_lossy(d).into_owned())
                .collect()
        };
        let access = text(1008);
        assert_eq!(
            access.len(),
            1,
            "only the non-trivial access ACL is sent: {access:?}"
        );
        let uname = py(
            "import pwd\ntry: print(pwd.getpwuid(12345).pw_name)\nexcept KeyError: print(12345)",
            &[],
        )
        .unwrap();
        assert_eq!(
            access[0],
            format!(
                "user::rw-\nuser:{}:r--\ngroup::r--\nmask::r--\nother::r--\n\0",
                uname.trim()
            )
        );
        let default = text(1007);
        assert_eq!(default.len(), 1, "{default:?}");
        assert!(
            default[0].starts_with("user::rwx\ngroup::r-x\ngroup:"),
            "{default:?}"
        );
        assert!(
            default[0].ends_with("mask::r-x\nother::---\n\0"),
            "{default:?}"
        );
    }

    // Restore and compare the attributes (ACL xattrs included) as Python reads them.
    let where_ = w.path().join("restore");
    fs::create_dir(&where_).unwrap();
    let sd = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sd_port = sd.local_addr().unwrap().port();
    let wh = path(&where_).to_string();
    let dir = async {
        let p = director_connect(fd.port, false).await;
        director_run(p, restore_commands(sd_port, &wh)).await
    };
    let (frames, ()) = tokio::join!(dir, sd_read(&sd, &records, None));
    let ej = end_job(&frames);
    assert_eq!(ej.term_code, JobStatus::Terminated, "{frames:?}");
    assert_eq!(ej.errors, 0, "{frames:?}");
    let rf = where_.join(f.strip_prefix("/").unwrap());
    let rd = where_.join(src.join("dir").strip_prefix("/").unwrap());
    assert_eq!(fs::read(&rf).unwrap(), b"with attributes");
    assert_eq!(py(DUMP, &[path(&rf)]).unwrap(), before_f);
    assert_eq!(py(DUMP, &[path(&rd)]).unwrap(), before_d);
    let plain = where_.join(src.join("plain.txt").strip_prefix("/").unwrap());
    assert_eq!(py(DUMP, &[path(&plain)]).unwrap(), "");
}
