//! Restore: the `restore` command, the SD read session and the recreation of files
//! (jobs.md §3.5–3.6 and §6.3; vectors/clear-restore conns 3 and 4).
//!
//! ```text
//! D→F restore replace=a prelinks=0 where=/srv/…/restore/all⏎   F→D 2000 OK restore⏎
//! F→D Jmsg … Connected Storage daemon at …, Jmsg … Version: …
//! F→S read open session = DummyVolume «SDid» «SDtime» 0 0 0 0⏎   S→F 3000 OK open ticket = «t»⏎
//! F→S read data «t»⏎                                             S→F 3000 OK data⏎
//! S→F rechdr «VolSessionId» «VolSessionTime» «FI» «stream» «len» | record   (repeated, no EOD between)
//! S→F EOD
//! F→S read close session «t»⏎                                    S→F 3000 OK close Status = 82⏎
//! F→S TERMINATE
//! F→D 2000 OK storage end⏎          (multi-restore: the key was set by JobId= and storage)
//! D→F endrestore                    → loop ends: TERMINATE to the SD again, End Job, TERMINATE
//! ```
//!
//! # Safety of the output
//!
//! The output name is `where` + the stored name (`BuildAttrOutputFnames()`: a `/` is added
//! when neither side has one). A stored name or hard-link target with a `..` component, or a
//! relative name, is refused with an error and its records are skipped; the sink contract
//! ([`FileSink`]) adds the platform's own containment check. Regular files are written under
//! a temporary name and committed (renamed) only when the next attribute record or the end
//! of the stream shows the file complete; a truncated stream, an unknown or unsupported
//! stream, a data record that does not belong to the open file, or a digest mismatch aborts
//! the file instead, so a damaged file never appears under its final name.
//!
//! # Digests
//!
//! Bareos ignores digest streams on restore. This FD verifies them when its
//! [`DigestProvider`] has the algorithm: the bytes of the data records (not the holes of
//! a sparse file: Bareos hashes only the chunks it sends, see [`super::backup`]) must hash
//! to the stored digest, otherwise the file is aborted and counted as an error.

use embedded_io_async::{Read, Write};
use heapless::Vec;

use super::backup::show;
use super::conn::{recv_by, ConnError, Msg, DATA_PHASE_TIMEOUT};
use super::platform::{
    Clock, Connector, CreateKind, Created, DigestProvider, FileSink, FileSource, Hasher, MetaStream,
};
use super::session::{Session, SessionError};
use super::MAX_PATH;
use crate::wire::attr::{AttrRecord, Digest, DigestKind, FileType, Stat, MAX_DIGEST_LEN};
use crate::wire::bnet::Signal;
use crate::wire::codes::{JobStatus, JobType, MessageType};
use crate::wire::dir_cmd::{FdReply, OkReply, Replace, Restore, RestoreTarget, TextError};
use crate::wire::sd_cmd::{ReadOpen, SdDataCommand, SdDataReply};
use crate::wire::stream::{RecHdr, RestoreEvent, RestoreTracker, SparseChunk, StreamType};

/// Why an output path was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum PathError {
    /// A `..` component.
    DotDot,
    /// Not an absolute path.
    Relative,
    /// Longer than [`MAX_PATH`].
    TooLong,
}

/// Build the output name `where` + `name` into `out` (jobs.md §6.3), refusing names that
/// could leave `where`.
pub fn output_path<'o>(
    where_: &[u8],
    name: &[u8],
    out: &'o mut [u8],
) -> Result<&'o [u8], PathError> {
    if name.split(|&b| b == b'/').any(|c| c == b"..") {
        return Err(PathError::DotDot);
    }
    if name.first() != Some(&b'/') {
        return Err(PathError::Relative);
    }
    let w = if where_ == b"/" { &b""[..] } else { where_ };
    if w.split(|&b| b == b'/').any(|c| c == b"..") {
        return Err(PathError::DotDot);
    }
    let w = w.strip_suffix(b"/").unwrap_or(w);
    let total = w.len() + name.len();
    let dst = out.get_mut(..total).ok_or(PathError::TooLong)?;
    let (a, b) = dst.split_at_mut(w.len());
    a.copy_from_slice(w);
    b.copy_from_slice(name);
    Ok(dst)
}

/// The file currently being restored.
struct Open<H> {
    file_index: i32,
    stat: Stat,
    /// A regular file with a temporary name in the sink.
    regular: bool,
    /// Skipped by the replace policy: data is discarded.
    skipped: bool,
    /// Something went wrong: abort instead of commit.
    bad: bool,
    written_to: u64,
    hasher: Option<(DigestKind, H)>,
    name: Vec<u8, MAX_PATH>,
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
    /// `restore replace=… prelinks=… where=…`.
    pub(crate) async fn restore_cmd(&mut self, r: Restore<'_>) -> Result<bool, SessionError> {
        self.job.job_type = JobType::Restore;
        self.job.level = crate::wire::codes::JobLevel::None;
        self.set_kind();
        let mut where_buf = [0u8; MAX_PATH];
        self.job.regexwhere = false;
        let where_: &[u8] = match r.target {
            RestoreTarget::Where(w) => match crate::wire::hello::unbash(w, &mut where_buf) {
                Ok(w) => w,
                Err(_) => {
                    self.reply(&FdReply::ErrorText(TextError::Bad, b"restore"))
                        .await?;
                    return Ok(false);
                }
            },
            RestoreTarget::RegexWhere(spec) => {
                // `core/src/filed/dir_cmd.cc` `RestoreCmd()`: the list is compiled before the
                // reply; a bad one is fatal. Without the `regexwhere` feature every list is
                // refused that way.
                let spec = crate::wire::hello::unbash(spec, &mut where_buf).unwrap_or(spec);
                #[cfg(feature = "regexwhere")]
                let compiled = self.svc.sink.set_regexwhere(spec);
                #[cfg(not(feature = "regexwhere"))]
                let compiled: Result<(), super::platform::RegexError> =
                    Err(super::platform::RegexError::Unsupported);
                if let Err(e) = compiled {
                    self.jmsg(
                        MessageType::Fatal,
                        format_args!("Bad where regexp. where={} ({})\n", show(spec), e),
                    )
                    .await?;
                    self.reply(&FdReply::ErrorText(TextError::Bad, b"restore"))
                        .await?;
                    self.job.set_status(JobStatus::ErrorTerminated);
                    return Ok(false);
                }
                self.job.regexwhere = true;
                b""
            }
        };
        let mut wh: Vec<u8, MAX_PATH> = Vec::new();
        let _ = wh.extend_from_slice(where_);
        if self.sd.is_none() && !self.passive_sd().await? {
            self.reply(&FdReply::ErrorText(TextError::Bad, b"restore"))
                .await?;
            self.job.set_status(JobStatus::ErrorTerminated);
            return Ok(false);
        }
        self.reply(&FdReply::Ok(OkReply::Restore)).await?;
        if !self.sd_passive {
            self.connected_jmsg().await?;
        }
        let version = self.cfg.version_text;
        self.jmsg(
            MessageType::Info,
            format_args!("Version: {}\n", core::str::from_utf8(version).unwrap_or("")),
        )
        .await?;
        self.job.set_status(JobStatus::Running);
        let ok = self.read_session(&wh, r.replace).await?;
        // Directory attributes (set after the last file, deepest first) before the job is
        // reported: `2800 End Job … OK` means the tree is complete.
        self.svc.sink.end_restore().await;
        if !ok && self.job.errors == 0 {
            self.job.errors += 1;
        }
        self.job.set_status(if self.job.errors > 0 || !ok {
            JobStatus::ErrorTerminated
        } else {
            JobStatus::Terminated
        });
        self.job.publish();
        if self.job.key_sets >= 2 {
            // Multi-restore: answer and wait for `endrestore` (or another storage/restore).
            self.reply(&FdReply::Ok(OkReply::StorageEnd)).await?;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    /// The read session; false if it failed.
    async fn read_session(
        &mut self,
        where_: &[u8],
        replace: Replace,
    ) -> Result<bool, SessionError> {
        let open = ReadOpen {
            volume: b"DummyVolume",
            vol_session_id: self.job.sd_id,
            vol_session_time: self.job.sd_time,
            start_file: 0,
            end_file: 0,
            start_block: 0,
            end_block: 0,
        };
        let ticket = match self.sd_command(SdDataCommand::ReadOpen(open)).await? {
            Some(SdDataReply::OpenTicket { ticket }) => ticket,
            _ => {
                self.jmsg(
                    MessageType::Fatal,
                    format_args!("Bad response to read open session.\n"),
                )
                .await?;
                return Ok(false);
            }
        };
        if self.sd_command(SdDataCommand::ReadData { ticket }).await? != Some(SdDataReply::Data) {
            self.jmsg(
                MessageType::Fatal,
                format_args!("Bad response to read data.\n"),
            )
            .await?;
            return Ok(false);
        }
        let Some(mut sd) = self.sd.take() else {
            return Ok(false);
        };
        let rx = core::mem::take(&mut self.sd_rx);
        let mut tracker = RestoreTracker::new();
        let mut cur: Option<Open<D::Hasher>> = None;
        let mut ok = true;
        let mut next_heartbeat = self.next_heartbeat();
        loop {
            if self.job.canceled() {
                ok = false;
                break;
            }
            // `heartbeat_dir` (`core/src/filed/heartbeat.cc`): with a Heartbeat Interval the
            // Director hears from the FD at least that often while the records stream in
            // (checked per SD message, as the backup side checks per message to the SD).
            if let Some(hb) = next_heartbeat {
                let now = self.svc.clock.now();
                if now >= hb {
                    self.dir.signal(Signal::Heartbeat).await?;
                    next_heartbeat = Some(now + self.cfg.heartbeat_interval);
                }
            }
            let deadline = self.svc.clock.now() + DATA_PHASE_TIMEOUT;
            let msg = match recv_by(&mut sd, &self.svc.clock, deadline, rx).await {
                Ok(m) => m,
                Err(ConnError::Io(embedded_io_async::ErrorKind::TimedOut)) => {
                    self.jmsg(
                        MessageType::Error,
                        format_args!(
                            "Storage daemon sent nothing for {} s during restore; giving up \
                             (check the Storage daemon and the network to it)\n",
                            DATA_PHASE_TIMEOUT.secs()
                        ),
                    )
                    .await?;
                    ok = false;
                    break;
                }
                Err(e) => {
                    self.jmsg(
                        MessageType::Error,
                        format_args!("Storage daemon connection lost during restore: {}\n", e),
                    )
                    .await?;
                    ok = false;
                    break;
                }
            };
            let ev = match msg {
                Msg::Signal(Signal::Eod) => tracker.on_eod(),
                Msg::Signal(Signal::Heartbeat) => continue,
                Msg::Signal(_) => Err(crate::wire::Error::Truncated),
                Msg::Data(d) => tracker.on_message(d),
            };
            match ev {
                Ok(RestoreEvent::Header(_)) => {}
                Ok(RestoreEvent::End) => break,
                Ok(RestoreEvent::Record { header, data }) => {
                    self.on_record(&header, data, where_, replace, &mut cur)
                        .await?;
                }
                Err(e) => {
                    self.jmsg(
                        MessageType::Error,
                        format_args!("Bad record stream from the Storage daemon: {}\n", e),
                    )
                    .await?;
                    ok = false;
                    break;
                }
            }
        }
        // Close the last file: committed only if the stream ended cleanly.
        if let Some(mut f) = cur.take() {
            if !ok {
                f.bad = true;
            }
            self.close_file(f).await?;
        }
        self.sd_rx = rx;
        let _ = ConnError::Closed;
        // read close session; then TERMINATE (vectors/clear-restore conn 4 msgs 43–45).
        if ok {
            let cmd = SdDataCommand::ReadClose { ticket };
            sd.send_with(self.tx, |b| cmd.emit(b)).await?;
            match sd.recv(self.sd_rx).await {
                Ok(Msg::Data(d)) => {
                    if !matches!(SdDataReply::parse(d), Ok(SdDataReply::Close { .. })) {
                        ok = false;
                    }
                }
                _ => ok = false,
            }
        }
        let _ = sd.terminate().await;
        self.sd = Some(sd);
        Ok(ok)
    }

    async fn on_record(
        &mut self,
        h: &RecHdr,
        data: &[u8],
        where_: &[u8],
        replace: Replace,
        cur: &mut Option<Open<D::Hasher>>,
    ) -> Result<(), SessionError> {
        let kind = h.stream.kind();
        match kind {
            StreamType::UnixAttributes | StreamType::UnixAttributesEx => {
                if let Some(f) = cur.take() {
                    self.close_file(f).await?;
                }
                let rec = match AttrRecord::parse(data) {
                    Ok(r) => r,
                    Err(e) => {
                        self.file_error(
                            MessageType::Error,
                            format_args!(
                                "Bad attribute record for FileIndex {}: {}\n",
                                h.file_index, e
                            ),
                        )
                        .await?;
                        return Ok(());
                    }
                };
                *cur = self.create(&rec, where_, replace).await?;
                // The record header's FileIndex is the file's, as in Bareos: a copy or
                // Virtual Full renumbers headers, not the attribute text.
                if let Some(f) = cur.as_mut() {
                    f.file_index = h.file_index;
                }
            }
            StreamType::FileData | StreamType::SparseData => {
                let Some(f) = cur.as_mut().filter(|f| f.file_index == h.file_index) else {
                    self.file_error(MessageType::Error, format_args!(
                        "Expected to write data to stream {} but this file was never created (FileIndex {}).\n",
                        kind.bits(),
                        h.file_index
                    ))
                    .await?;
                    return Ok(());
                };
                if f.skipped || f.bad {
                    return Ok(());
                }
                let (offset, bytes) = if kind == StreamType::SparseData {
                    match SparseChunk::parse(data) {
                        Ok(c) => (c.offset, c.data),
                        Err(_) => {
                            f.bad = true;
                            self.file_error(
                                MessageType::Error,
                                format_args!("Bad sparse record.\n"),
                            )
                            .await?;
                            return Ok(());
                        }
                    }
                } else {
                    (f.written_to, data)
                };
                if let Some((_, hs)) = f.hasher.as_mut() {
                    // The digest covers the data records only (holes of sparse files are
                    // not hashed, see [`super::backup`]).
                    hs.update(bytes);
                }
                if !f.regular {
                    return Ok(());
                }
                match self.svc.sink.write_at(offset, bytes).await {
                    Ok(()) => {
                        f.written_to = offset + bytes.len() as u64;
                        self.job.read_bytes += data.len() as u64;
                        self.job.job_bytes += bytes.len() as u64;
                    }
                    Err(_) => {
                        f.bad = true;
                        let name = f.name.clone();
                        self.file_error(
                            MessageType::Error,
                            format_args!("Write error on \"{}\".\n", show(&name)),
                        )
                        .await?;
                    }
                }
            }
            k if DigestKind::from_stream(k).is_some() => {
                let Some(f) = cur.as_mut().filter(|f| f.file_index == h.file_index) else {
                    return Ok(());
                };
                let Ok(d) = Digest::parse(k, data) else {
                    f.bad = true;
                    self.file_error(MessageType::Error, format_args!("Bad digest record.\n"))
                        .await?;
                    return Ok(());
                };
                if let Some((hk, hs)) = f.hasher.take() {
                    if hk == d.kind {
                        let mut out = [0u8; MAX_DIGEST_LEN];
                        let n = hs.finish(&mut out);
                        if out.get(..n) != Some(d.bytes) {
                            f.bad = true;
                            let name = f.name.clone();
                            self.file_error(
                                MessageType::Error,
                                format_args!(
                                    "Digest mismatch on \"{}\"; file not restored.\n",
                                    show(&name)
                                ),
                            )
                            .await?;
                        }
                    }
                }
            }
            k if MetaStream::from_stream(k).is_some() => {
                let Some(meta) = MetaStream::from_stream(k) else {
                    return Ok(());
                };
                let Some(f) = cur.as_mut().filter(|f| f.file_index == h.file_index) else {
                    return Ok(());
                };
                if f.skipped || f.bad {
                    return Ok(());
                }
                let name = f.name.clone();
                let open = f.regular;
                match self.svc.sink.set_meta(&name, open, meta, data).await {
                    Ok(true) => {}
                    Ok(false) => {
                        self.file_error(
                            MessageType::Error,
                            format_args!(
                                "ACL/xattr stream {} for \"{}\" is not supported by this platform; not applied.\n",
                                h.stream.word(),
                                show(&name)
                            ),
                        )
                        .await?;
                    }
                    Err(e) => {
                        // As Bareos: an error on the ACL/xattr keeps the file (M_ERROR).
                        self.file_error(
                            MessageType::Error,
                            format_args!(
                                "Could not restore the {} of \"{}\": {:?}\n",
                                if meta == MetaStream::Xattr {
                                    "extended attributes"
                                } else {
                                    "ACL"
                                },
                                show(&name),
                                e
                            ),
                        )
                        .await?;
                    }
                }
            }
            _ => {
                // Compressed, encrypted, plugin and unknown streams: this FD
                // cannot apply them, so the file is incomplete.
                if let Some(f) = cur.as_mut().filter(|f| f.file_index == h.file_index) {
                    f.bad = true;
                }
                self.file_error(
                    MessageType::Error,
                    format_args!(
                        "Unknown or unsupported stream {} for FileIndex {}; file not restored.\n",
                        h.stream.word(),
                        h.file_index
                    ),
                )
                .await?;
            }
        }
        Ok(())
    }

    /// Create the entry of an attribute record; `None` if nothing is open afterwards.
    async fn create(
        &mut self,
        rec: &AttrRecord<'_>,
        where_: &[u8],
        replace: Replace,
    ) -> Result<Option<Open<D::Hasher>>, SessionError> {
        let mut out = [0u8; MAX_PATH];
        #[cfg(feature = "regexwhere")]
        let mut rw = [0u8; MAX_PATH];
        #[cfg(feature = "regexwhere")]
        let mut rwl = [0u8; MAX_PATH];
        // With `regexwhere` the sink rewrites the name (and a hard link's target, as
        // `core/src/lib/attr.cc` `BuildAttrOutputFnames()`); the result is checked like any
        // other output name.
        #[cfg(feature = "regexwhere")]
        let (fname, link): (&[u8], &[u8]) = if self.job.regexwhere {
            let f = match self.svc.sink.apply_regexwhere(rec.fname, &mut rw) {
                Some(n) => rw.get(..n).unwrap_or(&[]),
                None => rec.fname,
            };
            let l = if rec.file_type == FileType::LnkSaved {
                match self.svc.sink.apply_regexwhere(rec.link, &mut rwl) {
                    Some(n) => rwl.get(..n).unwrap_or(&[]),
                    None => rec.link,
                }
            } else {
                rec.link
            };
            (f, l)
        } else {
            (rec.fname, rec.link)
        };
        // Without the feature no `regexwhere` is ever accepted (restore_cmd refuses it).
        #[cfg(not(feature = "regexwhere"))]
        let (fname, link): (&[u8], &[u8]) = (rec.fname, rec.link);
        let path = match output_path(where_, fname, &mut out) {
            Ok(p) => p,
            Err(e) => {
                self.file_error(
                    MessageType::Error,
                    format_args!(
                        "Illegal restore path \"{}\" refused ({:?}).\n",
                        show(rec.fname),
                        e
                    ),
                )
                .await?;
                return Ok(None);
            }
        };
        let mut lbuf = [0u8; MAX_PATH];
        let kind = match rec.file_type {
            FileType::Reg | FileType::RegE => CreateKind::Regular,
            FileType::DirEnd => CreateKind::Dir,
            FileType::Lnk => CreateKind::Symlink { target: rec.link },
            FileType::LnkSaved => match output_path(where_, link, &mut lbuf) {
                Ok(t) => CreateKind::HardLink { target: t },
                Err(e) => {
                    self.file_error(
                        MessageType::Error,
                        format_args!(
                            "Illegal hard link target \"{}\" refused ({:?}).\n",
                            show(rec.link),
                            e
                        ),
                    )
                    .await?;
                    return Ok(None);
                }
            },
            FileType::Spec => {
                if rec.stat.mode & 0o170000 == 0o010000 {
                    CreateKind::Fifo
                } else {
                    CreateKind::Device {
                        rdev: rec.stat.rdev,
                    }
                }
            }
            // FT_DELETED, restore objects and the like are not recreated.
            _ => return Ok(None),
        };
        let regular = kind == CreateKind::Regular;
        let mut name: Vec<u8, MAX_PATH> = Vec::new();
        let _ = name.extend_from_slice(path);
        match self.svc.sink.create(path, kind, &rec.stat, replace).await {
            Ok(c) => {
                self.job.files += 1;
                self.job.publish();
                let skipped = c == Created::Skipped;
                let hasher = None;
                let mut open = Open {
                    file_index: rec.file_index,
                    stat: rec.stat,
                    regular: regular && !skipped,
                    skipped,
                    bad: false,
                    written_to: 0,
                    hasher,
                    name,
                };
                if regular && !skipped {
                    // Prepare verification for the digest kinds the provider knows.
                    for k in [
                        DigestKind::Sha256,
                        DigestKind::Sha512,
                        DigestKind::Md5,
                        DigestKind::Sha1,
                    ] {
                        if let Some(h) = self.svc.digests.hasher(k) {
                            open.hasher = Some((k, h));
                            break;
                        }
                    }
                }
                Ok(Some(open))
            }
            Err(_) => {
                self.file_error(
                    MessageType::Error,
                    format_args!("Could not create \"{}\".\n", show(path)),
                )
                .await?;
                Ok(None)
            }
        }
    }

    async fn close_file(&mut self, f: Open<D::Hasher>) -> Result<(), SessionError> {
        if !f.regular {
            return Ok(());
        }
        if f.bad {
            self.svc.sink.abort().await;
            return Ok(());
        }
        if self.svc.sink.commit(&f.stat).await.is_err() {
            self.file_error(
                MessageType::Error,
                format_args!("Could not finish \"{}\".\n", show(&f.name)),
            )
            .await?;
        }
        Ok(())
    }

    /// `Connected Storage daemon at «addr»:«port», encryption: «cipher»` (`None` in
    /// cleartext; `core/src/lib/bsock.cc`, `core/src/lib/tls/openssl/impl.cc`
    /// `TlsLogConninfo()`).
    pub(crate) async fn connected_jmsg(&mut self) -> Result<(), SessionError> {
        let addr = self.sd_addr.clone();
        let port = self.sd_port;
        let cipher = self.job.sd_cipher.clone();
        self.jmsg(
            MessageType::Info,
            format_args!(
                "Connected Storage daemon at {}:{}, encryption: {}\n",
                show(&addr),
                port,
                super::backup::cipher_text(&cipher)
            ),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_paths() {
        let mut b = [0u8; 64];
        assert_eq!(output_path(b"/r", b"/a/b", &mut b).unwrap(), b"/r/a/b");
        assert_eq!(output_path(b"/r/", b"/a/b", &mut b).unwrap(), b"/r/a/b");
        assert_eq!(output_path(b"", b"/a/b", &mut b).unwrap(), b"/a/b");
        assert_eq!(output_path(b"/", b"/a/b/", &mut b).unwrap(), b"/a/b/");
        assert_eq!(
            output_path(b"/r", b"/a/../../etc/passwd", &mut b),
            Err(PathError::DotDot)
        );
        assert_eq!(output_path(b"/r", b"a/b", &mut b), Err(PathError::Relative));
        assert_eq!(output_path(b"/r/..", b"/a", &mut b), Err(PathError::DotDot));
        let mut small = [0u8; 4];
        assert_eq!(
            output_path(b"/r", b"/abc", &mut small),
            Err(PathError::TooLong)
        );
        // `..` inside a name is fine.
        assert_eq!(output_path(b"/r", b"/a..b", &mut b).unwrap(), b"/r/a..b");
    }

    use proptest::prelude::*;

    proptest! {
        /// Whatever the stored name, an accepted output path lies under `where` and has no
        /// `..` component.
        #[test]
        fn output_paths_never_escape(
            parts in proptest::collection::vec(prop_oneof![
                Just("..".to_owned()), Just(".".to_owned()), Just("".to_owned()), "[a-z.]{1,5}"
            ], 0..8),
            absolute in any::<bool>(),
        ) {
            let name = std::format!("{}{}", if absolute { "/" } else { "" }, parts.join("/"));
            let mut b = [0u8; 256];
            if let Ok(p) = output_path(b"/restore", name.as_bytes(), &mut b) {
                prop_assert!(p.starts_with(b"/restore/"));
                prop_assert!(!p.split(|&c| c == b'/').any(|c| c == b".."));
            }
        }
    }
}
