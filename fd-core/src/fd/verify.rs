//! `verify level=init|catalog|disk_to_catalog` (jobs.md §7.2, `core/src/filed/verify.cc`).
//!
//! The FD answers `2000 OK verify⏎`, walks the fileset as a backup would (same exclusions,
//! no change test) and sends each entry to the **Director**: `%u %d %s %s\0%s\0%s\0` —
//! FileIndex, stream 1, the verify options (`V`: Barque sends no option letters, so the
//! Director applies its defaults), the name (directories with their trailing `/`), the
//! stat packet and the link target (empty for non-links). No digests are sent (the
//! fileset's `Verify = …5` option is not honoured yet). Then EOD; the command loop ends,
//! so the session sends its `2800 End Job` line and TERMINATE. Level `volume` needs an SD
//! read session and `data` is not dispatched by Bareos either: both are refused with
//! `2994 Bad verify level`.

use embedded_io_async::{Read, Write};

use super::backup::{file_type, FilesetView};
use super::platform::{
    Clock, Connector, DigestProvider, EntryKind, FileSink, FileSource, WalkOptions,
};
use super::session::{Session, SessionError};
use super::MAX_PATH;
use crate::wire::attr::FileType;
use crate::wire::bnet::Signal;
use crate::wire::codes::JobStatus;
use crate::wire::dir_cmd::{FdReply, OkReply, TextError};
use crate::wire::text::Writer;

impl<'s, IO, S, K, C, T, D, const N: usize> Session<'s, IO, S, K, C, T, D, N>
where
    IO: Read + Write,
    S: FileSource,
    K: FileSink,
    C: Connector,
    T: Clock,
    D: DigestProvider,
{
    pub(crate) async fn verify_cmd(&mut self, level: &[u8]) -> Result<bool, SessionError> {
        if !matches!(level, b"init" | b"catalog" | b"disk_to_catalog") {
            self.reply(&FdReply::ErrorText(TextError::BadVerifyLevel, level))
                .await?;
            return Ok(false);
        }
        self.reply(&FdReply::Ok(OkReply::Verify)).await?;
        let fileset = core::mem::take(&mut self.fileset);
        let r = self.verify_with(fileset).await;
        self.fileset = fileset;
        r?;
        self.dir.signal(Signal::Eod).await?;
        if self.job.status == JobStatus::Running {
            self.job.set_status(JobStatus::Terminated);
        }
        Ok(false)
    }

    async fn verify_with(&mut self, fileset: &mut [u8]) -> Result<(), SessionError> {
        let view = FilesetView {
            store: fileset.get(..self.job.fileset_len).unwrap_or(&[]),
        };
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
                    if matches!(
                        e.kind,
                        EntryKind::Socket | EntryKind::NoStat | EntryKind::NoOpen
                    ) {
                        continue;
                    }
                    // The same selection as a backup (Options blocks, excludes, regexes,
                    // Exclude Dir Containing), so verify compares what a backup saves.
                    if self
                        .filter_entry(&view, b, root, &e, path, &flags, &mut drop_dir)
                        .await
                        .is_none()
                    {
                        continue;
                    }
                    let Some(ft) = file_type(&e) else { continue };
                    self.job.files += 1;
                    let mut w = Writer::new(self.tx);
                    w.u64(u64::from(self.job.files));
                    w.bytes(b" 1 V ");
                    w.bytes(path);
                    if ft == FileType::DirEnd && !path.ends_with(b"/") {
                        w.byte(b'/');
                    }
                    w.byte(0);
                    e.stat
                        .write_to(&mut w)
                        .map_err(|_| SessionError::BufferTooSmall)?;
                    w.byte(0);
                    if ft == FileType::Lnk {
                        w.bytes(link.get(..e.link_len).unwrap_or(&[]));
                    }
                    w.byte(0);
                    let n = w.finish().map_err(|_| SessionError::BufferTooSmall)?;
                    let payload = self.tx.get(..n).ok_or(SessionError::BufferTooSmall)?;
                    self.dir.send(payload).await?;
                }
            }
        }
        Ok(())
    }
}
