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
}

impl BlockSink for VolumeSink {
    fn put_block(&mut self, block: &[u8], _expected: u64) -> io::Result<u64> {
        lock(&self.0).append(block)
    }

    fn flush_blocks(&mut self) -> io::Result<()> {
        Ok(())
    }
}
