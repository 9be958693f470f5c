//! Devices and the volume files jobs append to.
//!
//! A job's [`crate::volume::VolumeWriter`] builds its blocks and hands each whole block to a
//! [`VolumeSink`], which appends it to the volume file of the device under a lock and reports
//! where it went. Several jobs can hold sinks on the same [`VolumeFile`] (interleaved
//! sessions, one job per block, as `core/src/stored/block.cc` `DoWriteBlockToDevice()` writes
//! each DCR's block under the device lock).
//!
//! # Writing on a thread of its own
//!
//! Each open [`VolumeFile`] has a writer thread ([`BlockWriter`]): `append` copies the block
//! into a recycled buffer, queues it ([`WRITE_QUEUE`] blocks at most, so a slow disk slows the
//! jobs down rather than filling memory) and returns the offset the block will have, which is
//! known because blocks are written in the order they are queued. The job's task thus goes on
//! receiving, decrypting and packing the next block while the kernel copies this one into the
//! page cache, and no tokio worker waits in `write()`. [`VolumeFile::sync`] waits until every
//! queued block is written and the file is on the disk: a job reports its end, and the
//! Director records it, only after that (`end_session`). If no thread can be started the
//! blocks are written in the caller, as before.
//!
//! # Write errors
//!
//! A block is written with one `write_all`. If that fails part way (ENOSPC on a full file
//! system, EFBIG past `RLIMIT_FSIZE`, EIO), the file is cut back to where the block started, so
//! no torn block is left behind that a reader would take for the start of a valid one; the
//! error names the volume, the device, the directory and the fix. Blocks queued after the one
//! that failed are dropped; the next `append` or `sync` of any job on the volume returns the
//! error and the volume's end is set back to the cut.

use std::fs::File;
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use tokio::sync::Notify;

use super::lock;
use crate::volume::BlockSink;

/// A volume file open for appending.
#[derive(Debug)]
pub struct VolumeFile {
    /// Volume name.
    pub name: String,
    /// Device name.
    pub device: String,
    /// The device's archive directory.
    pub archive: PathBuf,
    /// The file.
    pub path: PathBuf,
    out: Output,
    /// End of the last whole block (queued blocks included).
    len: u64,
    /// The catalog's VolJobs as the jobs on this volume last reported it.
    pub cat_jobs: u32,
    /// The catalog's VolBlocks, counting every block written here.
    pub cat_blocks: u32,
    /// The catalog's VolWrites, counting every block written here.
    pub cat_writes: u32,
    /// Set when a job switched the device to another volume because this one is full;
    /// blocks written here afterwards (by a job that had checked just before) are counted
    /// in `late_blocks` so that the catalog learns about them.
    pub retired: bool,
    /// Blocks written after `retired` was set.
    pub late_blocks: u32,
}

impl VolumeFile {
    /// Wrap `file` (opened for appending) whose intact length is `len`.
    pub fn new(
        name: &str,
        device: &str,
        archive: PathBuf,
        path: PathBuf,
        file: File,
        len: u64,
    ) -> Self {
        let place = Place {
            name: name.to_string(),
            device: device.to_string(),
            archive: archive.clone(),
            path: path.clone(),
        };
        let out = match BlockWriter::start(file, len, place.clone()) {
            Ok(w) => Output::Thread(w),
            Err(file) => Output::Direct(file, place),
        };
        VolumeFile {
            name: name.to_string(),
            device: device.to_string(),
            archive,
            path,
            out,
            len,
            cat_jobs: 0,
            cat_blocks: 0,
            cat_writes: 0,
            retired: false,
            late_blocks: 0,
        }
    }

    /// End of the last whole block written.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True before any block was written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Append one block (queue it for the writer thread); the offset it will have. An
    /// error of an earlier queued block is returned here, and the volume's end set back.
    fn append(&mut self, block: &[u8]) -> io::Result<u64> {
        self.append_from(Block::Slice(block))
    }

    /// [`append`](Self::append) of a block in a buffer the writer thread may take (a
    /// recycled one is swapped in).
    /// Append the block in `block[..len]`, whose checksum is not filled in yet: the writer
    /// thread fills it in (the CRC-32 of a 1 MiB block costs the job's thread nothing then).
    /// The buffer is taken and a recycled one swapped in.
    fn append_unsealed(&mut self, block: &mut Vec<u8>, len: usize) -> io::Result<u64> {
        self.append_from(Block::Unsealed(block, len))
    }

    fn append_from(&mut self, block: Block<'_>) -> io::Result<u64> {
        let start = self.len;
        let len = match &block {
            Block::Slice(b) => b.len(),
            Block::Unsealed(_, n) => *n,
        };
        match &mut self.out {
            Output::Direct(file, place) => {
                let b = match block {
                    Block::Slice(b) => b,
                    Block::Unsealed(b, n) => {
                        let b = b.get_mut(..n).unwrap_or(&mut []);
                        crate::volume::Block::fill_checksum(b);
                        b
                    }
                };
                write_block(file, start, b, place)?
            }
            Output::Thread(w) => {
                if let Err(f) = w.queue(block) {
                    self.len = f.at;
                    return Err(f.error());
                }
            }
        }
        self.len = start + len as u64;
        self.cat_blocks = self.cat_blocks.saturating_add(1);
        self.cat_writes = self.cat_writes.saturating_add(1);
        if self.retired {
            self.late_blocks = self.late_blocks.saturating_add(1);
        }
        Ok(start)
    }

    /// Write out every queued block and flush the file to the disk.
    pub fn sync(&mut self) -> io::Result<()> {
        match &mut self.out {
            Output::Direct(file, _) => file.sync_all(),
            Output::Thread(w) => w.sync().map_err(|f| {
                self.len = f.at;
                f.error()
            }),
        }
    }
}

/// Where blocks go, for the error messages.
#[derive(Debug, Clone)]
struct Place {
    name: String,
    device: String,
    archive: PathBuf,
    path: PathBuf,
}

/// Write `block` at the end of `file` (which is at `start`); on failure cut the file back to
/// `start` and describe it.
fn write_block(file: &mut File, start: u64, block: &[u8], place: &Place) -> io::Result<()> {
    let Err(e) = file.write_all(block) else {
        return Ok(());
    };
    let cut = file.set_len(start);
    let full = matches!(e.raw_os_error(), Some(28) | Some(27) | Some(122));
    let fix = if full {
        format!(
            "Free space in {} (or lower the Pool's Maximum Volume Bytes below the free \
             space, or give the device a larger file system) and run the job again",
            place.archive.display()
        )
    } else {
        format!(
            "Check the file system holding {} and run the job again",
            place.archive.display()
        )
    };
    let kept = match cut {
        Ok(()) => format!(
            "the partly written block was removed; the volume keeps its {start} bytes of \
             whole blocks and stays readable"
        ),
        Err(c) => format!(
            "cutting the partly written block off at offset {start} failed too ({c}); \
             barque-sd will cut it at its next start"
        ),
    };
    Err(io::Error::new(
        e.kind(),
        format!(
            "Write error on Volume \"{}\" on device \"{}\" ({}): {e}; {kept}. {fix}.",
            place.name,
            place.device,
            place.path.display()
        ),
    ))
}

/// A block to append: borrowed, or in a buffer that may be taken.
enum Block<'a> {
    Slice(&'a [u8]),
    /// A block whose checksum is still to be filled in (`Block::seal_header`).
    Unsealed(&'a mut Vec<u8>, usize),
}

/// Blocks queued for the writer thread of one volume file.
pub const WRITE_QUEUE: usize = 8;

/// How a volume file's blocks are written.
#[derive(Debug)]
enum Output {
    /// By a writer thread.
    Thread(BlockWriter),
    /// In the caller (no thread could be started).
    Direct(File, Place),
}

/// A failed write: the volume ends at `at`; the error's kind and text.
#[derive(Debug, Clone)]
struct Failure {
    at: u64,
    kind: io::ErrorKind,
    text: String,
}

impl Failure {
    fn error(&self) -> io::Error {
        io::Error::new(self.kind, self.text.clone())
    }
}

enum Cmd {
    /// A block to write; `true`: fill in its checksum first.
    Block(Vec<u8>, bool),
    /// Answer once every block before it is written and the file is synced.
    Sync(SyncSender<Result<(), Failure>>),
}

/// The writer thread of one volume file; dropping it writes out what is queued and waits for
/// the thread.
#[derive(Debug)]
struct BlockWriter {
    tx: Option<SyncSender<Cmd>>,
    free: Receiver<Vec<u8>>,
    allocated: usize,
    failed: Arc<Mutex<Option<Failure>>>,
    thread: Option<JoinHandle<()>>,
}

impl BlockWriter {
    /// Start the thread writing to `file`, which ends at `len`; the file back if no thread
    /// could be started.
    fn start(file: File, len: u64, place: Place) -> Result<Self, File> {
        let (tx, rx) = mpsc::sync_channel::<Cmd>(WRITE_QUEUE);
        let (back, free) = mpsc::sync_channel::<Vec<u8>>(WRITE_QUEUE + 2);
        let failed = Arc::new(Mutex::new(None::<Failure>));
        let spare = file.try_clone();
        let shared = failed.clone();
        let (vol, dev) = (place.name.clone(), place.device.clone());
        let spawned = std::thread::Builder::new()
            .name("sd-write".into())
            .spawn(move || writer_thread(file, len, place, rx, back, shared));
        match (spawned, spare) {
            (Ok(t), _) => Ok(BlockWriter {
                tx: Some(tx),
                free,
                allocated: 0,
                failed,
                thread: Some(t),
            }),
            (Err(_), Ok(f)) => Err(f),
            (Err(e), Err(_)) => {
                // Neither a thread nor the file: every write fails with the reason.
                *lock(&failed) = Some(Failure {
                    at: len,
                    kind: e.kind(),
                    text: format!(
                        "Cannot write Volume \"{}\" on device \"{}\": no writer thread ({e}). \
                         Check the SD's limits on threads and open files and run the job again.",
                        vol, dev
                    ),
                });
                Ok(BlockWriter {
                    tx: None,
                    free,
                    allocated: 0,
                    failed,
                    thread: None,
                })
            }
        }
    }

    fn failure(&self) -> Option<Failure> {
        lock(&self.failed).clone()
    }

    fn stopped(&self) -> Failure {
        self.failure().unwrap_or(Failure {
            at: 0,
            kind: io::ErrorKind::BrokenPipe,
            text: "the volume's writer thread stopped".into(),
        })
    }

    /// Queue `block` (a copy of a slice; a buffer is taken and a recycled one swapped in);
    /// the error of an earlier block, if one failed.
    fn queue(&mut self, block: Block<'_>) -> Result<(), Failure> {
        if let Some(f) = self.failure() {
            return Err(f);
        }
        let mut buf = match self.free.try_recv() {
            Ok(b) => b,
            Err(TryRecvError::Empty) if self.allocated < WRITE_QUEUE + 2 => {
                self.allocated += 1;
                Vec::new()
            }
            // Every buffer is queued: wait for the disk.
            Err(_) => self.free.recv().map_err(|_| self.stopped())?,
        };
        let unsealed = matches!(block, Block::Unsealed(..));
        match block {
            Block::Slice(b) => {
                buf.clear();
                buf.extend_from_slice(b);
            }
            Block::Unsealed(b, n) => {
                std::mem::swap(b, &mut buf);
                buf.truncate(n);
            }
        }
        let Some(tx) = self.tx.as_ref() else {
            return Err(self.stopped());
        };
        tx.send(Cmd::Block(buf, unsealed))
            .map_err(|_| self.stopped())
    }

    /// Wait until everything queued is written and synced.
    fn sync(&mut self) -> Result<(), Failure> {
        let (ack, done) = mpsc::sync_channel(1);
        let Some(tx) = self.tx.as_ref() else {
            return Err(self.stopped());
        };
        tx.send(Cmd::Sync(ack)).map_err(|_| self.stopped())?;
        done.recv().map_err(|_| self.stopped())?
    }
}

impl Drop for BlockWriter {
    fn drop(&mut self) {
        // Closing the queue ends the thread after the queued blocks.
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The writer thread: blocks in queue order at the end of `file`; after a failure, later
/// blocks are dropped and every sync answers the failure.
fn writer_thread(
    mut file: File,
    mut end: u64,
    place: Place,
    rx: Receiver<Cmd>,
    back: SyncSender<Vec<u8>>,
    failed: Arc<Mutex<Option<Failure>>>,
) {
    let mut failure: Option<Failure> = None;
    for cmd in rx {
        match cmd {
            Cmd::Block(mut buf, unsealed) => {
                if unsealed {
                    crate::volume::Block::fill_checksum(&mut buf);
                }
                if failure.is_none() {
                    match write_block(&mut file, end, &buf, &place) {
                        Ok(()) => end += buf.len() as u64,
                        Err(e) => {
                            let f = Failure {
                                at: end,
                                kind: e.kind(),
                                text: e.to_string(),
                            };
                            *lock(&failed) = Some(f.clone());
                            failure = Some(f);
                        }
                    }
                }
                // A full or closed return queue only drops the buffer.
                let _ = back.try_send(buf);
            }
            Cmd::Sync(ack) => {
                let r = match &failure {
                    Some(f) => Err(f.clone()),
                    None => file.sync_all().map_err(|e| Failure {
                        at: end,
                        kind: e.kind(),
                        text: format!(
                            "Cannot flush Volume \"{}\" on device \"{}\" ({}) to the disk: \
                             {e}. Check the file system holding {} and run the job again.",
                            place.name,
                            place.device,
                            place.path.display(),
                            place.archive.display()
                        ),
                    }),
                };
                let _ = ack.send(r);
            }
        }
    }
}

/// A job's handle on a shared [`VolumeFile`].
#[derive(Debug, Clone)]
pub struct VolumeSink(pub Arc<Mutex<VolumeFile>>);

impl VolumeSink {
    /// A sink on a volume no other job uses yet.
    pub fn new(v: VolumeFile) -> Self {
        VolumeSink(Arc::new(Mutex::new(v)))
    }

    /// The volume's current end.
    pub fn len(&self) -> u64 {
        lock(&self.0).len
    }

    /// True before any block was written.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Flush the file to the disk.
    pub fn sync(&self) -> io::Result<()> {
        lock(&self.0).sync()
    }

    /// The volume's name.
    pub fn name(&self) -> String {
        lock(&self.0).name.clone()
    }

    /// Run `f` on the volume under its lock.
    pub fn with<T>(&self, f: impl FnOnce(&mut VolumeFile) -> T) -> T {
        f(&mut lock(&self.0))
    }

    /// True if both handles are on the same open volume.
    pub fn same(&self, other: &VolumeSink) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// Who writes to one device (`Maximum Concurrent Jobs`).
///
/// The first job to claim an idle device mounts a volume ([`Claim::Mount`]); while it does,
/// other jobs wait. Once the volume is mounted, further jobs of the same pool join it
/// ([`Claim::Join`]) up to the device's limit, each writing whole blocks of its own session
/// (interleaved, as bareos-sd with `Maximum Concurrent Jobs > 1`). A job that can use no
/// device waits until one is released. Bareos' default limit for a Device is 1, which makes
/// jobs on one device run one after another.
///
/// A claimed place is *reserved* until the job has its volume ready ([`DeviceUse::acquired`]),
/// then the job is a *writer*: Bareos' `num_reserved`/`num_writers` (`core/src/stored/acquire.cc`
/// `AcquireDeviceForAppend()` counts the writer and clears the reservation), which the
/// `3937 … busy with writers=N reserved=M.` reply reports.
///
/// # Volume switches
///
/// When the volume fills, one job switches the device to the next volume
/// ([`DeviceUse::volume_for_block`] returns [`BlockPlace::Switch`] to exactly one job; the
/// others wait, as Bareos blocks the device in `FixupDeviceBlockWriteError()`) and announces
/// the new volume with [`DeviceState::mounted`]. Every other job writing to the device then
/// follows before its next block ([`BlockPlace::Follow`]): it reports the JobMedia of its part
/// on the old volume and goes on with its session on the new one, as Bareos' `NewVol` flag
/// makes each attached DCR do in `DoWriteBlockToDevice()`.
#[derive(Debug)]
pub struct DeviceState {
    /// Device name.
    pub name: String,
    max_jobs: u32,
    inner: Mutex<DevInner>,
    changed: Notify,
}

#[derive(Debug, Default)]
struct DevInner {
    writers: u32,
    reserved: u32,
    mounting: bool,
    /// A job is switching the device to the next volume.
    switching: bool,
    volume: Option<(VolumeSink, String)>,
}

/// A job's place on a device; dropping it frees the place (and the volume with the last job).
#[derive(Debug)]
pub struct DeviceUse {
    dev: Arc<DeviceState>,
    /// Counted as a writer (else as a reservation).
    writer: bool,
    /// This job is switching volumes.
    switching: bool,
}

impl Drop for DeviceUse {
    fn drop(&mut self) {
        {
            let mut g = lock(&self.dev.inner);
            if self.writer {
                g.writers = g.writers.saturating_sub(1);
            } else {
                g.reserved = g.reserved.saturating_sub(1);
            }
            if self.switching {
                g.switching = false;
            }
            if g.writers == 0 && g.reserved == 0 {
                g.mounting = false;
                g.switching = false;
                g.volume = None;
            }
        }
        self.dev.changed.notify_waiters();
    }
}

impl DeviceUse {
    fn new(dev: &Arc<DeviceState>) -> Self {
        DeviceUse {
            dev: dev.clone(),
            writer: false,
            switching: false,
        }
    }

    /// The device.
    pub fn device(&self) -> &Arc<DeviceState> {
        &self.dev
    }

    /// The job has its volume ready and writes: count it as a writer, no longer as a
    /// reservation.
    pub fn acquired(&mut self) {
        if self.writer {
            return;
        }
        self.writer = true;
        let mut g = lock(&self.dev.inner);
        g.reserved = g.reserved.saturating_sub(1);
        g.writers += 1;
    }

    /// Where the job's next block goes, given the volume `mine` it writes to now and
    /// whether that volume is full (`full`).
    pub fn volume_for_block(&mut self, mine: &VolumeSink, full: bool) -> BlockPlace {
        let mut g = lock(&self.dev.inner);
        match &g.volume {
            Some((current, _)) if !current.same(mine) => {
                return BlockPlace::Follow(current.clone());
            }
            None if g.switching => return BlockPlace::Wait,
            _ => {}
        }
        if g.switching {
            // Another job is mounting the next volume (it has not announced it yet).
            return if self.switching {
                BlockPlace::Switch
            } else {
                BlockPlace::Wait
            };
        }
        if !full {
            return BlockPlace::Here;
        }
        g.switching = true;
        self.switching = true;
        mine.with(|v| v.retired = true);
        BlockPlace::Switch
    }

    /// The switch this job started failed: let another job try.
    pub fn switch_failed(&mut self) {
        if self.switching {
            self.switching = false;
            lock(&self.dev.inner).switching = false;
            self.dev.changed.notify_waiters();
        }
    }
}

/// The answer of [`DeviceUse::volume_for_block`].
#[derive(Debug)]
pub enum BlockPlace {
    /// Write the block to the job's volume.
    Here,
    /// The volume is full and this job mounts the next one, then calls
    /// [`DeviceState::mounted`] (other jobs wait meanwhile).
    Switch,
    /// Another job is switching volumes: wait for [`DeviceState::changed`] and ask again.
    Wait,
    /// Another job switched the device to this volume: go on writing there.
    Follow(VolumeSink),
}

/// The outcome of [`DeviceState::try_claim`].
#[derive(Debug)]
pub enum Claim {
    /// The device was idle: mount a volume, then call [`DeviceState::mounted`].
    Mount(DeviceUse),
    /// Append to the volume other jobs are writing.
    Join(DeviceUse, VolumeSink),
}

impl DeviceState {
    /// A device allowing `max_jobs` concurrent writers (0 = no limit).
    pub fn new(name: &str, max_jobs: u32) -> Arc<Self> {
        Arc::new(DeviceState {
            name: name.to_string(),
            max_jobs,
            inner: Mutex::new(DevInner::default()),
            changed: Notify::new(),
        })
    }

    /// Jobs writing to the device now (Bareos' `num_writers`).
    pub fn writers(&self) -> u32 {
        lock(&self.inner).writers
    }

    /// Jobs that hold a place on the device but do not write yet (Bareos' `NumReserved()`).
    pub fn reserved(&self) -> u32 {
        lock(&self.inner).reserved
    }

    /// Jobs holding a place on the device, writing or reserved.
    pub fn places(&self) -> u32 {
        let g = lock(&self.inner);
        g.writers + g.reserved
    }

    /// The volume mounted for writing, if any.
    pub fn mounted_volume(&self) -> Option<String> {
        lock(&self.inner).volume.as_ref().map(|(v, _)| v.name())
    }

    /// Claim a place for a job writing to `pool`, if there is one now.
    pub fn try_claim(self: &Arc<Self>, pool: &str) -> Option<Claim> {
        let mut g = lock(&self.inner);
        if g.writers == 0 && g.reserved == 0 {
            g.reserved = 1;
            g.mounting = true;
            g.switching = false;
            g.volume = None;
            return Some(Claim::Mount(DeviceUse::new(self)));
        }
        if g.mounting
            || g.switching
            || (self.max_jobs > 0 && g.writers + g.reserved >= self.max_jobs)
        {
            return None;
        }
        match &g.volume {
            Some((sink, p)) if p == pool => {
                let sink = sink.clone();
                g.reserved += 1;
                Some(Claim::Join(DeviceUse::new(self), sink))
            }
            _ => None,
        }
    }

    /// The volume now mounted for `pool` (after [`Claim::Mount`] or a volume switch by
    /// `by`, which ends the switch).
    pub fn mounted(&self, sink: VolumeSink, pool: &str, by: &mut DeviceUse) {
        {
            let mut g = lock(&self.inner);
            g.mounting = false;
            if by.switching {
                g.switching = false;
                by.switching = false;
            }
            g.volume = Some((sink, pool.to_string()));
        }
        self.changed.notify_waiters();
    }

    /// Wait until the device state changes (a job left or a volume was mounted). Create
    /// the future before checking, so that no change in between is missed.
    pub fn changed(&self) -> tokio::sync::futures::Notified<'_> {
        self.changed.notified()
    }
}

impl BlockSink for VolumeSink {
    fn put_block(&mut self, block: &[u8], _expected: u64) -> io::Result<u64> {
        lock(&self.0).append(block)
    }

    fn put_unsealed_block(
        &mut self,
        block: &mut Vec<u8>,
        len: usize,
        _expected: u64,
    ) -> io::Result<u64> {
        lock(&self.0).append_unsealed(block, len)
    }

    fn flush_blocks(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn volume(file: File, len: u64) -> VolumeFile {
        VolumeFile::new(
            "Vol-0001",
            "FileStorage",
            PathBuf::from("/var/lib/bareos/storage"),
            PathBuf::from("/var/lib/bareos/storage/Vol-0001"),
            file,
            len,
        )
    }

    /// A volume file `v` in `dir` holding `start`, opened for appending behind it.
    fn volume_in(dir: &std::path::Path, start: &[u8]) -> (PathBuf, VolumeFile) {
        let p = dir.join("v");
        std::fs::write(&p, start).unwrap();
        let f = std::fs::OpenOptions::new().append(true).open(&p).unwrap();
        (p.clone(), volume(f, start.len() as u64))
    }

    #[test]
    fn the_writer_thread_fills_in_the_checksum_of_unsealed_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let (p, mut v) = volume_in(dir.path(), b"");
        let mut want = Vec::new();
        for i in 0..3u32 {
            let mut b = vec![0u8; crate::volume::BLOCK_HEADER_LEN];
            b.extend((0..5000u32).map(|x| (x * 7 + i) as u8));
            let n = crate::volume::Block::seal_header(i + 1, 9, 1_700_000_000, &mut b).unwrap();
            let mut sealed = b.clone();
            crate::volume::Block::fill_checksum(&mut sealed);
            want.extend_from_slice(&sealed);
            assert_eq!(&b[..4], &[0, 0, 0, 0], "left for the writer");
            v.append_unsealed(&mut b, n).unwrap();
        }
        v.sync().unwrap();
        let got = std::fs::read(&p).unwrap();
        assert!(got == want);
        let first = crate::volume::Block::parse(&got).unwrap();
        assert!(first.checksum_ok());
    }

    #[test]
    fn queued_blocks_land_in_order_at_the_offsets_append_returned() {
        let dir = tempfile::tempdir().unwrap();
        let (p, mut v) = volume_in(dir.path(), b"label");
        let mut want = b"label".to_vec();
        for i in 0..(3 * WRITE_QUEUE as u8) {
            let mut block = vec![i; 1000 + usize::from(i)];
            let at = if i % 2 == 0 {
                v.append(&block).unwrap()
            } else {
                // A taken buffer comes back as some other (recycled or empty) buffer; the
                // writer thread fills in the checksum of the block it took.
                let mut b = block.clone();
                let ptr = b.as_ptr();
                let at = v.append_unsealed(&mut b, block.len()).unwrap();
                assert!(b.capacity() == 0 || b.as_ptr() != ptr);
                crate::volume::Block::fill_checksum(&mut block);
                at
            };
            assert_eq!(at, want.len() as u64);
            want.extend_from_slice(&block);
            assert_eq!(v.len(), want.len() as u64);
        }
        v.sync().unwrap();
        assert!(std::fs::read(&p).unwrap() == want);
        assert_eq!(v.cat_blocks, 3 * WRITE_QUEUE as u32);
        // Dropping writes out what is queued.
        v.append(b"tail").unwrap();
        drop(v);
        want.extend_from_slice(b"tail");
        assert!(std::fs::read(&p).unwrap() == want);
    }

    #[test]
    fn a_failed_write_is_reported_by_the_next_append_or_sync() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("v");
        std::fs::write(&p, b"whole").unwrap();
        // Opened read-only: every write fails.
        let mut v = volume(File::open(&p).unwrap(), 5);
        assert_eq!(v.append(&[1u8; 100]).unwrap(), 5);
        let e = v.sync().unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("Write error on Volume \"Vol-0001\" on device \"FileStorage\""),
            "{text}"
        );
        assert!(text.contains("/var/lib/bareos/storage"), "{text}");
        // The volume's end is back at the last whole block, and it stays failed.
        assert_eq!(v.len(), 5);
        assert!(v.append(&[2u8; 100]).is_err());
        assert_eq!(v.len(), 5);
        assert_eq!(std::fs::read(&p).unwrap(), b"whole");
    }
}
