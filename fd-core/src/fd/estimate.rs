//! `estimate listing=N` (`core/src/filed/estimate.cc`, jobs.md §1.12).
//!
//! The FD walks the fileset exactly as a backup would (same exclusions, same change test for
//! Incremental/Differential) and counts every entry it would send; bytes are the sizes of
//! regular files. With `listing=1` each entry is sent as an ls-style line ([`LsLine`], the
//! **ctime** as date, vectors/clear-estimate conn 2 msgs 23–29); then
//! `2000 OK estimate files=%s bytes=%s⏎` with thousands separators, and EOD. The session
//! continues; the Director ends it with TERMINATE.
// Without the `estimate` feature the command is refused and this module is unused.
#![cfg_attr(not(feature = "estimate"), allow(dead_code))]

use embedded_io_async::{Read, Write};

use super::backup::{file_type, unchanged, FilesetView};
use super::platform::{Clock, Connector, DigestProvider, FileSink, FileSource, WalkOptions};
use super::session::{Session, SessionError};
use super::timefmt;
use super::MAX_PATH;
use crate::wire::attr::FileType;
use crate::wire::bnet::Signal;
use crate::wire::codes::JobLevel;
use crate::wire::dir_cmd::{FdReply, LsLine};
use crate::wire::text::Writer;

/// The 10-character mode string of `ls -l` (`encode_mode()` in `core/src/lib/attr.cc`).
pub fn mode_string(mode: i64) -> [u8; 10] {
    let m = mode as u32;
    let mut s = *b"----------";
    s[0] = match m & 0o170000 {
        0o040000 => b'd',
        0o120000 => b'l',
        0o020000 => b'c',
        0o060000 => b'b',
        0o010000 => b'p',
        0o140000 => b's',
        _ => b'-',
    };
    let bits = [
        (0o400, b'r'),
        (0o200, b'w'),
        (0o100, b'x'),
        (0o040, b'r'),
        (0o020, b'w'),
        (0o010, b'x'),
        (0o004, b'r'),
        (0o002, b'w'),
        (0o001, b'x'),
    ];
    for (i, (bit, c)) in bits.iter().enumerate() {
        if m & bit != 0 {
            if let Some(d) = s.get_mut(i + 1) {
                *d = *c;
            }
        }
    }
    if m & 0o4000 != 0 {
        s[3] = if s[3] == b'x' { b's' } else { b'S' };
    }
    if m & 0o2000 != 0 {
        s[6] = if s[6] == b'x' { b's' } else { b'S' };
    }
    if m & 0o1000 != 0 {
        s[9] = if s[9] == b'x' { b't' } else { b'T' };
    }
    s
}

impl<'s, IO, S, K, C, T, D, const N: usize> Session<'s, IO, S, K, C, T, D, N>
where
    IO: Read + Write,
    S: FileSource,
    K: FileSink,
    C: Connector,
    T: Clock,
    D: DigestProvider,
{
    pub(crate) async fn estimate_cmd(&mut self, listing: bool) -> Result<bool, SessionError> {
        let fileset = core::mem::take(&mut self.fileset);
        let r = self.estimate_with(fileset, listing).await;
        self.fileset = fileset;
        r
    }

    async fn estimate_with(
        &mut self,
        fileset: &mut [u8],
        listing: bool,
    ) -> Result<bool, SessionError> {
        let view = FilesetView {
            store: fileset.get(..self.job.fileset_len).unwrap_or(&[]),
        };
        let mut files: u64 = 0;
        let mut bytes: u64 = 0;
        let mut name = [0u8; MAX_PATH];
        let mut link = [0u8; MAX_PATH];
        for b in view.include_blocks() {
            let flags = view.flags(b);
            let opts = WalkOptions {
                one_fs: !flags.multi_fs,
                keep_atime: flags.keep_atime,
            };
            for root in view.roots(b) {
                if self.svc.source.start(root, &opts).await.is_err() {
                    continue;
                }
                let mut drop_dir = false;
                while let Ok(Some(e)) = self.svc.source.next(&mut name, &mut link).await {
                    let path = name.get(..e.name_len).unwrap_or(&[]);
                    let Some(flags) = self
                        .filter_entry(&view, b, root, &e, path, &flags, &mut drop_dir)
                        .await
                    else {
                        continue;
                    };
                    let Some(ft) = file_type(&e) else { continue };
                    if matches!(
                        self.job.level,
                        JobLevel::Incremental | JobLevel::Differential
                    ) && unchanged(&e.stat, self.job.since, flags.mtime_only)
                    {
                        continue;
                    }
                    files += 1;
                    if matches!(ft, FileType::Reg | FileType::RegE) {
                        bytes += u64::try_from(e.stat.size).unwrap_or(0);
                    }
                    if listing {
                        let mode = mode_string(e.stat.mode);
                        let mut owner = [0u8; 32];
                        let on = self.svc.source.user_name(e.stat.uid, &mut owner).min(8);
                        let mut group = [0u8; 32];
                        let gn = self.svc.source.group_name(e.stat.gid, &mut group).min(8);
                        let mut ctime = [0u8; 19];
                        let mut w = Writer::new(&mut ctime);
                        timefmt::write_iso(&mut w, e.stat.ctime, self.cfg.utc_offset);
                        let cn = w.finish().unwrap_or(0);
                        let line = LsLine::Entry {
                            mode: &mode,
                            nlink: u32::try_from(e.stat.nlink).unwrap_or(0),
                            owner: owner.get(..on).unwrap_or(&[]),
                            group: group.get(..gn).unwrap_or(&[]),
                            size: e.stat.size,
                            ctime: ctime.get(..cn).unwrap_or(&[]),
                            name: path,
                            link: (ft == FileType::Lnk)
                                .then(|| link.get(..e.link_len).unwrap_or(&[])),
                        };
                        let n = line
                            .emit(self.tx)
                            .map_err(|_| SessionError::BufferTooSmall)?;
                        let payload = self.tx.get(..n).ok_or(SessionError::BufferTooSmall)?;
                        self.dir.send(payload).await?;
                    }
                }
            }
        }
        self.reply(&FdReply::Estimate { files, bytes }).await?;
        self.dir.signal(Signal::Eod).await?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_strings() {
        assert_eq!(&mode_string(0o100644), b"-rw-r--r--");
        assert_eq!(&mode_string(0o040755), b"drwxr-xr-x");
        assert_eq!(&mode_string(0o120777), b"lrwxrwxrwx");
        assert_eq!(&mode_string(0o104755), b"-rwsr-xr-x");
        assert_eq!(&mode_string(0o041777), b"drwxrwxrwt");
    }
}
