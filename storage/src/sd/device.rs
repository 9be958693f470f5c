//! Devices and the volume files jobs append to.
//!
//! A job's [`crate::volume::VolumeWriter`] builds its blocks and hands each whole block to a
//! [`VolumeSink`], which appends it to the volume file of the device under a lock and reports
//! where it went. Several jobs can hold sinks on the same [`VolumeFile`] (interleaved
//! sessions, one job per block, as `core/src/stored/block.cc` `DoWriteBlockToDevice()` writes
//! each DCR's block under the device lock).
//!
//! # Write errors
//!
//! A block is written with one `write_all`. If that fails part way (ENOSPC on a full file
//! system, EFBIG past `RLIMIT_FSIZE`, EIO), the file is cut back to where the block started, so
//! no torn block is left behind that a reader would take for the start of a valid one; the
//! error names the volume, the device, the directory and the fix.

use std::fs::File;
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

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
    file: File,
    /// End of the last whole block.
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
        VolumeFile {
            name: name.to_string(),
            device: device.to_string(),
            archive,
            path,
            file,
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

    /// Append one block; on failure cut the file back to `self.len`.
    fn append(&mut self, block: &[u8]) -> io::Result<u64> {
        let start = self.len;
        if let Err(e) = self.file.write_all(block) {
            let cut = self.file.set_len(start);
            let full = matches!(e.raw_os_error(), Some(28) | Some(27) | Some(122));
            let fix = if full {
                format!(
                    "Free space in {} (or lower the Pool's Maximum Volume Bytes below the free \
                     space, or give the device a larger file system) and run the job again",
                    self.archive.display()
                )
            } else {
                format!(
                    "Check the file system holding {} and run the job again",
                    self.archive.display()
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
            return Err(io::Error::new(
                e.kind(),
                format!(
                    "Write error on Volume \"{}\" on device \"{}\" ({}): {e}; {kept}. {fix}.",
                    self.name,
                    self.device,
                    self.path.display()
                ),
            ));
        }
        self.len = start + block.len() as u64;
        self.cat_blocks = self.cat_blocks.saturating_add(1);
        self.cat_writes = self.cat_writes.saturating_add(1);
        if self.retired {
            self.late_blocks = self.late_blocks.saturating_add(1);
        }
        Ok(start)
    }

    /// Flush the file to the disk.
    pub fn sync(&mut self) -> io::Result<()> {
        self.file.sync_all()
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

    fn flush_blocks(&mut self) -> io::Result<()> {
        Ok(())
    }
}
