//! Extended attributes and POSIX ACLs on Linux, through `rustix`'s `l*xattr`/`f*xattr`
//! calls (no libacl: an ACL is the `system.posix_acl_access` / `system.posix_acl_default`
//! attribute in the kernel's binary form, converted to and from Bareos' ACL text by
//! [`fd_core::wire::xattr::AclText`]).
//!
//! Backup ([`crate::source::LinuxSource`]): `llistxattr` + `lgetxattr` (a final symbolic
//! link is not followed), serialised as Bareos' `STREAM_XATTR_LINUX` (1998); the ACL
//! attributes are left out of it when the fileset also saves ACLs, as bareos-fd does, and
//! go as ACL text streams 1008/1007 instead. Restore ([`crate::sink::LinuxSink`]): the same
//! in reverse, with `fsetxattr` on the file being restored (still under its temporary name)
//! and `lsetxattr` on other entries.

use std::io;
use std::path::Path;

use fd_core::wire::xattr::{AclEntry, AclTag, AclText, XattrIter, XattrPair};

/// The ACL attribute names.
pub const ACL_ACCESS: &str = "system.posix_acl_access";
/// See [`ACL_ACCESS`].
pub const ACL_DEFAULT: &str = "system.posix_acl_default";

/// Bareos' Linux skip list (`core/src/findlib/xattr.cc`): Ceph's virtual attributes.
const SKIP: &[&[u8]] = &[
    b"ceph.dir.entries",
    b"ceph.dir.files",
    b"ceph.dir.rbytes",
    b"ceph.dir.rctime",
    b"ceph.dir.rentries",
    b"ceph.dir.rfiles",
    b"ceph.dir.rsubdirs",
    b"ceph.dir.subdirs",
];

fn errno(e: rustix::io::Errno) -> io::Error {
    io::Error::from_raw_os_error(e.raw_os_error())
}

/// Call `f` with growing buffers until the value fits (`ERANGE` = too small; the kernel
/// caps a value at 64 KiB and a list at 64 KiB too).
fn grow(mut f: impl FnMut(&mut [u8]) -> rustix::io::Result<usize>) -> rustix::io::Result<Vec<u8>> {
    let mut size = 4096;
    loop {
        let mut buf = vec![0u8; size];
        match f(&mut buf[..]) {
            Ok(n) => {
                buf.truncate(n);
                return Ok(buf);
            }
            Err(rustix::io::Errno::RANGE) if size < (1 << 20) => size *= 4,
            Err(e) => return Err(e),
        }
    }
}

/// The attribute names of `path` (not following a final symlink).
pub fn list(path: &Path) -> io::Result<Vec<Vec<u8>>> {
    match grow(|b| rustix::fs::llistxattr(path, b)) {
        Ok(buf) => Ok(buf
            .split(|&b| b == 0)
            .filter(|n| !n.is_empty())
            .map(|n| n.to_vec())
            .collect()),
        Err(rustix::io::Errno::NOTSUP) => Ok(Vec::new()),
        Err(e) => Err(errno(e)),
    }
}

/// The value of attribute `name` of `path`; `None` if it has none.
pub fn get(path: &Path, name: &[u8]) -> io::Result<Option<Vec<u8>>> {
    let name = os(name)?;
    match grow(|b| rustix::fs::lgetxattr(path, name, b)) {
        Ok(v) => Ok(Some(v)),
        Err(rustix::io::Errno::NODATA) | Err(rustix::io::Errno::NOTSUP) => Ok(None),
        Err(e) => Err(errno(e)),
    }
}

/// An attribute name as an `OsStr` (a NUL inside is refused).
fn os(b: &[u8]) -> io::Result<&std::ffi::OsStr> {
    use std::os::unix::ffi::OsStrExt;
    if b.contains(&0) {
        return Err(io::Error::from(io::ErrorKind::InvalidInput));
    }
    Ok(std::ffi::OsStr::from_bytes(b))
}

/// Bareos' xattr stream of `path` into `out`; its length (0 = no attributes).
pub fn stream(path: &Path, skip_acl: bool, out: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    for name in list(path)? {
        if skip_acl && (name == ACL_ACCESS.as_bytes() || name == ACL_DEFAULT.as_bytes()) {
            continue;
        }
        if SKIP.contains(&name.as_slice()) {
            continue;
        }
        let Some(value) = get(path, &name)? else {
            continue;
        };
        let pair = XattrPair {
            name: &name,
            value: &value,
        };
        let dst = out.get_mut(n..).unwrap_or(&mut []);
        n += pair
            .emit(dst)
            .map_err(|_| io::Error::other("extended attributes larger than the network buffer"))?;
    }
    Ok(n)
}

/// Set every attribute of a Bareos xattr stream with `set(name, value)`.
pub fn apply_stream(
    data: &[u8],
    mut set: impl FnMut(&std::ffi::OsStr, &[u8]) -> io::Result<()>,
) -> io::Result<()> {
    for p in XattrIter::new(data) {
        let p = p.map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
        let name = os(p.name)?;
        set(name, p.value)?;
    }
    Ok(())
}

/// The ACL text of `path` (access, or default with `default`) into `out`; 0 when there is
/// none, or the access ACL is trivial.
pub fn acl_text(path: &Path, default: bool, out: &mut [u8]) -> io::Result<usize> {
    let name = if default { ACL_DEFAULT } else { ACL_ACCESS };
    let Some(bin) = get(path, name.as_bytes())? else {
        return Ok(0);
    };
    let mut entries = vec![
        AclEntry {
            tag: AclTag::Other,
            perm: 0,
            id: 0,
        };
        bin.len() / 8 + 1
    ];
    let k = AclText::parse_binary(&bin, &mut entries)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("ACL: {e}")))?;
    let entries = entries.get(..k).unwrap_or(&[]);
    if k == 0 || (!default && AclText::is_trivial(entries)) {
        return Ok(0);
    }
    let mut names = |tag: AclTag, id: u32, buf: &mut [u8]| -> usize {
        let n = if tag == AclTag::User {
            crate::source::name_of_id(false, i64::from(id))
        } else {
            crate::source::name_of_id(true, i64::from(id))
        };
        match n {
            Some(n) if n.len() <= buf.len() => {
                buf[..n.len()].copy_from_slice(&n);
                n.len()
            }
            _ => 0,
        }
    };
    AclText::emit_text(entries, &mut names, out)
        .map_err(|_| io::Error::other("ACL text larger than the network buffer"))
}

/// The binary `system.posix_acl_*` value of Bareos ACL text.
pub fn acl_binary(text: &[u8]) -> io::Result<Vec<u8>> {
    let mut entries = vec![
        AclEntry {
            tag: AclTag::Other,
            perm: 0,
            id: 0,
        };
        text.len() / 4 + 1
    ];
    let mut ids = |tag: AclTag, name: &[u8]| -> Option<u32> {
        let group = tag == AclTag::Group;
        crate::source::id_of_name(group, name).and_then(|v| u32::try_from(v).ok())
    };
    let k = AclText::parse_text(text, &mut ids, &mut entries)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("ACL text: {e}")))?;
    let mut out = vec![0u8; 4 + 8 * k];
    let n = AclText::emit_binary(entries.get(..k).unwrap_or(&[]), &mut out)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("ACL: {e}")))?;
    out.truncate(n);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acl_binary_text_round_trip_through_the_kernel_form() {
        let bin = acl_binary(b"user::rw-\nuser:12345:r--\ngroup::r--\nmask::r--\nother::r--\n\0")
            .unwrap();
        assert_eq!(
            bin,
            [
                2, 0, 0, 0, 1, 0, 6, 0, 255, 255, 255, 255, 2, 0, 4, 0, 0x39, 0x30, 0, 0, 4, 0, 4,
                0, 255, 255, 255, 255, 0x10, 0, 4, 0, 255, 255, 255, 255, 0x20, 0, 4, 0, 255, 255,
                255, 255
            ]
        );
        let mut e = vec![
            AclEntry {
                tag: AclTag::Other,
                perm: 0,
                id: 0
            };
            8
        ];
        let k = AclText::parse_binary(&bin, &mut e).unwrap();
        assert_eq!(k, 5);
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("f");
        std::fs::write(&f, b"x").unwrap();
        if rustix::fs::lsetxattr(&f, ACL_ACCESS, &bin, rustix::fs::XattrFlags::empty()).is_ok() {
            assert_eq!(get(&f, ACL_ACCESS.as_bytes()).unwrap().unwrap(), bin);
            let mut out = [0u8; 256];
            let n = acl_text(&f, false, &mut out).unwrap();
            assert!(n > 0);
        }
    }
}
