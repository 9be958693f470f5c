//! Flash partitions as files, and A/B firmware restore.
//!
//! # What the Director sees
//!
//! ```text
//!   /data/                  directory
//!   /data/config.bin        partition 2 (configuration blob)
//!   /firmware/              directory
//!   /firmware/slot-a.bin    partition 0 (firmware slot A)
//!   /firmware/slot-b.bin    partition 1 (firmware slot B)
//! ```
//!
//! A fileset names `/firmware`, `/data`, a single file, or `/` (both trees; `/` itself is
//! not reported as an entry). Each partition file has the size, mtime and change counter of
//! its [`PartMeta`]; its data is the first `len` bytes of the partition, so a backup with
//! `signature=SHA256` sends a SHA-256 digest record per image (fd-core's backup engine does
//! that; this module only reads). The walk is depth first in the order above, directories
//! after their contents, as fd-core's [`FileSource`] contract asks.
//!
//! Incremental and Differential backups need nothing special: fd-core compares mtime and
//! ctime with the `since` time, and every change made through [`Device::write_local`] or a
//! restore moves them (the change counter is kept alongside for the status display).
//!
//! # Restoring firmware: the A/B rules
//!
//! A restore of `…/firmware/slot-X.bin` (whatever `where=` prefix) goes to slot X and must
//! satisfy, in this order:
//!
//! 1. X is **not the active slot**: the running image is never overwritten; `create` fails,
//!    fd-core reports the file as not restored and counts an error.
//! 2. Before the first byte is written, a pending boot of X is cancelled **and persisted**,
//!    so a power cut at any later point leaves nothing bootable in X.
//! 3. Data must arrive in order and fit the partition; the sink hashes it (SHA-256) as it
//!    writes.
//! 4. fd-core compares the backup's SHA-256 digest record with the received data and aborts
//!    the file on a mismatch (fd-core `fd::restore`, "Digest mismatch …; file not
//!    restored"); `abort` leaves X not bootable.
//! 5. On `commit`, the sink reads the slot back and hashes it; only if that equals the hash
//!    of the received data does it write the boot record `{active, pending: X, digest}`.
//!    A bootloader ([`Device::boot_select`]) hashes X once more before switching.
//!
//! Limitation: step 4 needs the backup to have been made with a SHA-256 signature
//! (`Signature = SHA256`); a restore stream without a digest record is checked by the
//! read-back of step 5 only (the FileSink trait of fd-core does not see digest records).
//!
//! The configuration partition has no second copy: its restore erases and rewrites it in
//! place, and its metadata records length 0 until the commit, so a cut restore reads as an
//! empty file, not as a mix of old and new.

use core::cell::RefCell;

use embedded_storage::nor_flash::NorFlash;
use fd_core::fd::platform::{
    CreateKind, Created, Entry, EntryKind, FileSink, FileSource, WalkOptions,
};
use fd_core::wire::attr::Stat;
use fd_core::wire::dir_cmd::Replace;
use sha2::{Digest as _, Sha256};

use crate::flash::{round_up, MAX_WRITE_SIZE};
use crate::kv::{Kv, KvError};
use crate::state::{BootRecord, PartMeta, Settings, Slot, KEY_BOOT, KEY_META, KEY_SETTINGS};
use fd_core::fd::session::SessionEnd;
use fd_core::wire::codes::JobStatus;

/// Number of partitions exposed as files.
pub const PARTITIONS: usize = 3;

/// Errors of the device (their `Display` text is the `ERR=` of Bareos job messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DeviceError {
    /// Flash read, write or erase failed.
    Flash,
    /// The persisted state could not be written.
    Store(KvError),
    /// No such file.
    NotFound,
    /// A restore to the slot the device is running from.
    ActiveSlot,
    /// The image is larger than the partition.
    TooLarge,
    /// Data out of order (sparse or rewound writes are not supported on partitions).
    NotSequential,
    /// Only regular files and directories can be restored.
    Unsupported,
    /// The restored size differs from the announced one.
    SizeMismatch,
    /// The read-back of the written image does not match the received data.
    VerifyFailed,
    /// No file open.
    NotOpen,
}

impl core::fmt::Display for DeviceError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            DeviceError::Flash => f.write_str("Flash I/O error"),
            DeviceError::Store(e) => write!(f, "State store: {e}"),
            DeviceError::NotFound => f.write_str("No such file or directory"),
            DeviceError::ActiveSlot => {
                f.write_str("Refusing to overwrite the active firmware slot")
            }
            DeviceError::TooLarge => f.write_str("Image larger than its partition"),
            DeviceError::NotSequential => f.write_str("Non-sequential write"),
            DeviceError::Unsupported => f.write_str("Operation not supported"),
            DeviceError::SizeMismatch => f.write_str("Size mismatch"),
            DeviceError::VerifyFailed => f.write_str("Read-back verification failed"),
            DeviceError::NotOpen => f.write_str("No file open"),
        }
    }
}

impl From<KvError> for DeviceError {
    fn from(e: KvError) -> Self {
        DeviceError::Store(e)
    }
}

/// The walk entries, in walk order: (kind, path, partition index or directory).
const WALK: [(EntryKind, &[u8], Option<usize>); 9] = [
    (EntryKind::DirBegin, b"/data", None),
    (EntryKind::Regular, b"/data/config.bin", Some(2)),
    (EntryKind::Dir, b"/data", None),
    (EntryKind::DirBegin, b"/firmware", None),
    (EntryKind::Regular, b"/firmware/slot-a.bin", Some(0)),
    (EntryKind::Regular, b"/firmware/slot-b.bin", Some(1)),
    (EntryKind::Dir, b"/firmware", None),
    // Sentinels never reported (keeps the array a fixed size for future partitions).
    (EntryKind::NoStat, b"", None),
    (EntryKind::NoStat, b"", None),
];

/// The partition a restore path names: the path ends with one of the partition files
/// (after the `where=` prefix).
fn partition_of(path: &[u8]) -> Option<usize> {
    WALK.iter()
        .filter(|(k, p, _)| *k == EntryKind::Regular && !p.is_empty())
        .find(|(_, p, _)| path.ends_with(p))
        .and_then(|(_, _, i)| *i)
}

/// The device: three partitions and the state store.
pub struct Device<F, G> {
    parts: [F; PARTITIONS],
    kv: Kv<G>,
    boot: BootRecord,
    meta: [PartMeta; PARTITIONS],
}

impl<F: NorFlash, G: NorFlash> Device<F, G> {
    /// Open the device: `parts` are slot A, slot B and the configuration partition; `kv`
    /// the state region. The persisted state is loaded (defaults when absent).
    pub fn open(parts: [F; PARTITIONS], kv: G) -> Result<Self, DeviceError> {
        let mut kv = Kv::open(kv)?;
        let boot = kv.load::<BootRecord>(KEY_BOOT)?.unwrap_or_default();
        let mut meta = [PartMeta::default(); PARTITIONS];
        for (i, m) in meta.iter_mut().enumerate() {
            if let Some(v) = kv.load::<PartMeta>(KEY_META + i as u8)? {
                *m = v;
            }
        }
        Ok(Device {
            parts,
            kv,
            boot,
            meta,
        })
    }

    /// The boot record.
    pub fn boot_record(&self) -> BootRecord {
        self.boot
    }

    /// The metadata of partition `i`.
    pub fn meta(&self, i: usize) -> Option<PartMeta> {
        self.meta.get(i).copied()
    }

    /// The state store (settings live there too).
    pub fn kv(&mut self) -> &mut Kv<G> {
        &mut self.kv
    }

    /// A partition's flash (tests and board code).
    pub fn partition_mut(&mut self, i: usize) -> Option<&mut F> {
        self.parts.get_mut(i)
    }

    /// Give back the flashes.
    pub fn into_parts(self) -> ([F; PARTITIONS], G) {
        (self.parts, self.kv.into_inner())
    }

    fn set_boot(&mut self, b: BootRecord) -> Result<(), DeviceError> {
        self.kv.save(KEY_BOOT, &b)?;
        self.boot = b;
        Ok(())
    }

    fn set_meta(&mut self, i: usize, m: PartMeta) -> Result<(), DeviceError> {
        self.kv.save(KEY_META + i as u8, &m)?;
        if let Some(x) = self.meta.get_mut(i) {
            *x = m;
        }
        Ok(())
    }

    /// The persisted settings (defaults when never saved).
    pub fn settings(&mut self) -> Result<Settings, DeviceError> {
        Ok(self.kv.load::<Settings>(KEY_SETTINGS)?.unwrap_or_default())
    }

    /// Persist the settings (power-loss safe: the old settings stay until the new record is
    /// complete).
    pub fn save_settings(&mut self, s: &Settings) -> Result<(), DeviceError> {
        self.kv.save(KEY_SETTINGS, s)?;
        Ok(())
    }

    /// Record the end of a session: a job that terminated normally (`T`) sets
    /// [`Settings::last_backup`] to `now` when `was_backup`. The platform knows the job type
    /// from the command it saw; fd-core's [`SessionEnd`] does not carry it.
    pub fn record_session(
        &mut self,
        end: &SessionEnd,
        was_backup: bool,
        now: i64,
    ) -> Result<(), DeviceError> {
        if was_backup && end.job_id != 0 && end.status == JobStatus::Terminated {
            let mut s = self.settings()?;
            s.last_backup = now;
            self.save_settings(&s)?;
        }
        Ok(())
    }

    /// Replace the contents of partition `i` from the device itself (provisioning, a
    /// configuration change, a firmware update by other means). Moves mtime to `now` and
    /// bumps the change counter, so the next Incremental backs it up. Writing the active
    /// slot is refused like a restore.
    pub fn write_local(&mut self, i: usize, data: &[u8], now: i64) -> Result<(), DeviceError> {
        if i == self.boot.active.index() {
            return Err(DeviceError::ActiveSlot);
        }
        self.write_raw(i, data, now)
    }

    /// Provisioning: write partition `i` (even the active slot) and its metadata.
    pub fn provision(&mut self, i: usize, data: &[u8], now: i64) -> Result<(), DeviceError> {
        self.write_raw(i, data, now)
    }

    fn write_raw(&mut self, i: usize, data: &[u8], now: i64) -> Result<(), DeviceError> {
        let changes = self.meta.get(i).ok_or(DeviceError::NotFound)?.changes;
        let cap = self.parts.get(i).ok_or(DeviceError::NotFound)?.capacity();
        if data.len() > cap {
            return Err(DeviceError::TooLarge);
        }
        self.set_meta(
            i,
            PartMeta {
                len: 0,
                mtime: now,
                changes: changes.wrapping_add(1),
            },
        )?;
        let p = self.parts.get_mut(i).ok_or(DeviceError::NotFound)?;
        if data.len() > p.capacity() {
            return Err(DeviceError::TooLarge);
        }
        let end = round_up(data.len(), F::ERASE_SIZE) as u32;
        p.erase(0, end).map_err(|_| DeviceError::Flash)?;
        crate::flash::write_padded(p, 0, data).map_err(|_| DeviceError::Flash)?;
        self.set_meta(
            i,
            PartMeta {
                len: data.len() as u32,
                mtime: now,
                changes: changes.wrapping_add(1),
            },
        )
    }

    /// Read `buf.len()` bytes of partition `i` at `offset`.
    pub fn read(&mut self, i: usize, offset: u32, buf: &mut [u8]) -> Result<(), DeviceError> {
        let p = self.parts.get_mut(i).ok_or(DeviceError::NotFound)?;
        p.read(offset, buf).map_err(|_| DeviceError::Flash)
    }

    /// SHA-256 of the first `len` bytes of partition `i`.
    pub fn hash(&mut self, i: usize, len: u32) -> Result<[u8; 32], DeviceError> {
        let mut h = Sha256::new();
        let mut buf = [0u8; 256];
        let mut at = 0u32;
        while at < len {
            let n = (len - at).min(buf.len() as u32);
            let chunk = buf.get_mut(..n as usize).ok_or(DeviceError::Flash)?;
            self.read(i, at, chunk)?;
            h.update(&*chunk);
            at += n;
        }
        Ok(h.finalize().into())
    }

    /// The bootloader's decision at reset: a pending slot whose image still hashes to the
    /// recorded digest becomes active; a pending slot that does not is dropped. Returns the
    /// slot to boot. (On a real device this runs in the bootloader, which shares the
    /// record's format; here it is also what the tests call to "reboot".)
    pub fn boot_select(&mut self) -> Result<Slot, DeviceError> {
        let b = self.boot;
        if let Some(p) = b.pending {
            let ok = p != b.active && self.hash(p.index(), b.len)? == b.digest;
            let next = BootRecord {
                active: if ok { p } else { b.active },
                pending: None,
                ..b
            };
            if !ok {
                warn!("boot: pending image fails verification, staying on the active slot");
            }
            self.set_boot(next)?;
        }
        Ok(self.boot.active)
    }

    fn stat_of(&self, i: Option<usize>) -> Stat {
        let mut s = Stat::zeroed();
        s.dev = 1;
        s.uid = 0;
        s.gid = 0;
        s.nlink = 1;
        s.blksize = F::ERASE_SIZE as i64;
        s.fields = fd_core::wire::attr::STAT_FIELDS;
        match i.and_then(|i| self.meta.get(i).map(|m| (i, m))) {
            Some((i, m)) => {
                s.ino = i as i64 + 10;
                s.mode = 0o100_644;
                s.size = i64::from(m.len);
                s.blocks = (i64::from(m.len) + 511) / 512;
                s.mtime = m.mtime;
            }
            None => {
                s.ino = 2;
                s.mode = 0o040_755;
                s.nlink = 2;
                s.size = 0;
                s.mtime = self.meta.iter().map(|m| m.mtime).max().unwrap_or(0);
            }
        }
        s.atime = s.mtime;
        s.ctime = s.mtime;
        s
    }
}

/// The device shared by the source and the sink of one session (and the platform).
pub type Shared<'d, F, G> = &'d RefCell<Device<F, G>>;

/// [`FileSource`] over the device.
pub struct FlashSource<'d, F, G> {
    dev: Shared<'d, F, G>,
    root: heapless::Vec<u8, 64>,
    pos: usize,
    open: Option<(usize, u32, u32)>,
}

impl<'d, F, G> FlashSource<'d, F, G> {
    /// A source over `dev`.
    pub fn new(dev: Shared<'d, F, G>) -> Self {
        FlashSource {
            dev,
            root: heapless::Vec::new(),
            pos: WALK.len(),
            open: None,
        }
    }
}

fn under(root: &[u8], path: &[u8]) -> bool {
    if path.is_empty() {
        return false;
    }
    if root == b"/" || root == path {
        return true;
    }
    let r = root.strip_suffix(b"/").unwrap_or(root);
    path.len() > r.len() && path.starts_with(r) && path.get(r.len()) == Some(&b'/')
}

impl<F: NorFlash, G: NorFlash> FileSource for FlashSource<'_, F, G> {
    type Error = DeviceError;

    async fn start(&mut self, root: &[u8], _options: &WalkOptions) -> Result<(), DeviceError> {
        self.root.clear();
        self.root
            .extend_from_slice(root)
            .map_err(|_| DeviceError::NotFound)?;
        if !WALK.iter().any(|(_, p, _)| under(root, p)) {
            self.pos = WALK.len();
            return Err(DeviceError::NotFound);
        }
        self.pos = 0;
        Ok(())
    }

    async fn next(
        &mut self,
        name: &mut [u8],
        _link: &mut [u8],
    ) -> Result<Option<Entry>, DeviceError> {
        while let Some((kind, path, part)) = WALK.get(self.pos).copied() {
            self.pos += 1;
            if !under(&self.root, path) {
                continue;
            }
            let n = path.len().min(name.len());
            if let (Some(d), Some(s)) = (name.get_mut(..n), path.get(..n)) {
                d.copy_from_slice(s);
            }
            let stat = self.dev.borrow().stat_of(part);
            return Ok(Some(Entry {
                kind,
                name_len: n,
                link_len: 0,
                stat,
            }));
        }
        Ok(None)
    }

    fn skip_dir(&mut self) {
        let Some((EntryKind::DirBegin, dir, _)) =
            self.pos.checked_sub(1).and_then(|p| WALK.get(p)).copied()
        else {
            return;
        };
        while let Some((k, p, _)) = WALK.get(self.pos) {
            if *k == EntryKind::Dir && *p == dir {
                break;
            }
            self.pos += 1;
        }
    }

    async fn open(&mut self, path: &[u8]) -> Result<(), DeviceError> {
        let i = WALK
            .iter()
            .find(|(k, p, _)| *k == EntryKind::Regular && *p == path)
            .and_then(|(_, _, i)| *i)
            .ok_or(DeviceError::NotFound)?;
        let len = self.dev.borrow().meta(i).ok_or(DeviceError::NotFound)?.len;
        self.open = Some((i, 0, len));
        Ok(())
    }

    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, DeviceError> {
        let (i, at, len) = self.open.ok_or(DeviceError::NotOpen)?;
        let n = (len - at).min(buf.len() as u32);
        let chunk = buf.get_mut(..n as usize).ok_or(DeviceError::Flash)?;
        self.dev.borrow_mut().read(i, at, chunk)?;
        self.open = Some((i, at + n, len));
        Ok(n as usize)
    }

    async fn close(&mut self) {
        self.open = None;
    }
}

/// A partition being restored.
struct Writing {
    part: usize,
    written: u32,
    hasher: Sha256,
    /// Bytes waiting for a full write unit.
    carry: heapless::Vec<u8, MAX_WRITE_SIZE>,
}

/// [`FileSink`] over the device, enforcing the A/B rules of the module docs.
pub struct FlashSink<'d, F, G> {
    dev: Shared<'d, F, G>,
    cur: Option<Writing>,
    /// Wall-clock time for the metadata of restored partitions when the stream carries none.
    pub now: i64,
}

impl<'d, F, G> FlashSink<'d, F, G> {
    /// A sink over `dev`.
    pub fn new(dev: Shared<'d, F, G>) -> Self {
        FlashSink {
            dev,
            cur: None,
            now: 0,
        }
    }
}

impl<F: NorFlash, G: NorFlash> FileSink for FlashSink<'_, F, G> {
    type Error = DeviceError;

    async fn create(
        &mut self,
        path: &[u8],
        kind: CreateKind<'_>,
        stat: &Stat,
        _replace: Replace,
    ) -> Result<Created, DeviceError> {
        self.cur = None;
        match kind {
            CreateKind::Dir => return Ok(Created::Created),
            CreateKind::Regular => {}
            _ => return Err(DeviceError::Unsupported),
        }
        let i = partition_of(path).ok_or(DeviceError::NotFound)?;
        let mut dev = self.dev.borrow_mut();
        let boot = dev.boot;
        if i == boot.active.index() {
            warn!("restore: refusing the active slot");
            return Err(DeviceError::ActiveSlot);
        }
        let cap = dev.parts.get(i).ok_or(DeviceError::NotFound)?.capacity();
        let size = usize::try_from(stat.size).map_err(|_| DeviceError::TooLarge)?;
        if size > cap {
            return Err(DeviceError::TooLarge);
        }
        // Rule 2: nothing in this partition may stay bootable once it is touched.
        if boot.pending.map(Slot::index) == Some(i) {
            dev.set_boot(BootRecord {
                pending: None,
                ..boot
            })?;
        }
        let m = dev.meta(i).unwrap_or_default();
        dev.set_meta(
            i,
            PartMeta {
                len: 0,
                mtime: self.now,
                changes: m.changes.wrapping_add(1),
            },
        )?;
        let end = round_up(size.max(1), F::ERASE_SIZE).min(cap) as u32;
        let p = dev.parts.get_mut(i).ok_or(DeviceError::NotFound)?;
        p.erase(0, end).map_err(|_| DeviceError::Flash)?;
        self.cur = Some(Writing {
            part: i,
            written: 0,
            hasher: Sha256::new(),
            carry: heapless::Vec::new(),
        });
        Ok(Created::Created)
    }

    async fn write_at(&mut self, offset: u64, data: &[u8]) -> Result<(), DeviceError> {
        let w = self.cur.as_mut().ok_or(DeviceError::NotOpen)?;
        if offset != u64::from(w.written) {
            return Err(DeviceError::NotSequential);
        }
        let mut dev = self.dev.borrow_mut();
        let p = dev.parts.get_mut(w.part).ok_or(DeviceError::NotFound)?;
        let end = u64::from(w.written) + data.len() as u64;
        if end > p.capacity() as u64 {
            return Err(DeviceError::TooLarge);
        }
        w.hasher.update(data);
        let ws = F::WRITE_SIZE.clamp(1, MAX_WRITE_SIZE);
        let mut rest = data;
        // Complete a carried partial unit first.
        let flushed = w.written - w.carry.len() as u32;
        if !w.carry.is_empty() {
            let take = (ws - w.carry.len()).min(rest.len());
            let (a, b) = rest.split_at(take);
            let _ = w.carry.extend_from_slice(a);
            rest = b;
            if w.carry.len() == ws {
                p.write(flushed, &w.carry).map_err(|_| DeviceError::Flash)?;
                w.carry.clear();
            }
        }
        let base = w.written + (data.len() - rest.len()) as u32;
        let whole = rest.len() - rest.len() % ws;
        let (a, b) = rest.split_at(whole);
        if !a.is_empty() {
            p.write(base, a).map_err(|_| DeviceError::Flash)?;
        }
        let _ = w.carry.extend_from_slice(b);
        w.written = u32::try_from(end).map_err(|_| DeviceError::TooLarge)?;
        Ok(())
    }

    async fn commit(&mut self, stat: &Stat) -> Result<(), DeviceError> {
        let w = self.cur.take().ok_or(DeviceError::NotOpen)?;
        let mut dev = self.dev.borrow_mut();
        if !w.carry.is_empty() {
            let at = w.written - w.carry.len() as u32;
            let p = dev.parts.get_mut(w.part).ok_or(DeviceError::NotFound)?;
            crate::flash::write_padded(p, at, &w.carry).map_err(|_| DeviceError::Flash)?;
        }
        if i64::from(w.written) != stat.size {
            return Err(DeviceError::SizeMismatch);
        }
        let received: [u8; 32] = w.hasher.finalize().into();
        // Rule 5: read back before anything is marked.
        if dev.hash(w.part, w.written)? != received {
            warn!("restore: read-back verification failed");
            return Err(DeviceError::VerifyFailed);
        }
        let m = dev.meta(w.part).unwrap_or_default();
        dev.set_meta(
            w.part,
            PartMeta {
                len: w.written,
                mtime: if stat.mtime != 0 {
                    stat.mtime
                } else {
                    self.now
                },
                changes: m.changes,
            },
        )?;
        let boot = dev.boot;
        let slot = match w.part {
            0 => Some(Slot::A),
            1 => Some(Slot::B),
            _ => None,
        };
        if let Some(s) = slot.filter(|s| *s != boot.active) {
            dev.set_boot(BootRecord {
                active: boot.active,
                pending: Some(s),
                digest: received,
                len: w.written,
            })?;
            debug!("restore: slot verified and pending");
        }
        Ok(())
    }

    async fn abort(&mut self) {
        // Nothing to undo: create() already cancelled any pending boot of the partition and
        // set its length to 0.
        self.cur = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flash::RamFlash;
    use crate::state::HandshakeMode;

    type D = Device<RamFlash<8192, 1024>, RamFlash<8192, 1024>>;

    fn dev() -> D {
        D::open(
            [RamFlash::new(), RamFlash::new(), RamFlash::new()],
            RamFlash::new(),
        )
        .unwrap()
    }

    #[test]
    fn settings_and_last_backup_survive_a_reopen() {
        let mut d = dev();
        let mut s = d.settings().unwrap();
        assert_eq!(s, Settings::default());
        s.handshake = HandshakeMode::DirectorToClient;
        s.director_addr = [10, 0, 2, 2];
        s.director_port = 9101;
        d.save_settings(&s).unwrap();
        let end = SessionEnd {
            job_id: 5,
            status: JobStatus::Terminated,
            files: 3,
            errors: 0,
        };
        d.record_session(&end, true, 1_795_365_500).unwrap();
        // A failed job or a restore leaves it alone.
        let failed = SessionEnd {
            status: JobStatus::ErrorTerminated,
            ..end
        };
        d.record_session(&failed, true, 1_795_366_000).unwrap();
        d.record_session(&end, false, 1_795_366_000).unwrap();
        let (parts, kv) = d.into_parts();
        let mut d = D::open(parts, kv).unwrap();
        let s2 = d.settings().unwrap();
        assert_eq!(s2.handshake, HandshakeMode::DirectorToClient);
        assert_eq!(s2.director_port, 9101);
        assert_eq!(s2.last_backup, 1_795_365_500);
    }

    #[test]
    fn partition_paths_and_walk_roots() {
        assert_eq!(partition_of(b"/restore/firmware/slot-b.bin"), Some(1));
        assert_eq!(partition_of(b"/data/config.bin"), Some(2));
        assert_eq!(partition_of(b"/firmware/slot-c.bin"), None);
        assert_eq!(partition_of(b""), None);
        assert!(under(b"/", b"/data"));
        assert!(under(b"/firmware/", b"/firmware/slot-a.bin"));
        assert!(!under(b"/firm", b"/firmware/slot-a.bin"));
        assert!(!under(b"/data", b""));
    }

    #[test]
    fn local_writes_move_mtime_and_the_change_counter() {
        let mut d = dev();
        d.provision(0, b"image-a", 100).unwrap();
        d.write_local(2, b"cfg", 200).unwrap();
        d.write_local(2, b"cfg2", 300).unwrap();
        let m = d.meta(2).unwrap();
        assert_eq!((m.len, m.mtime, m.changes), (4, 300, 2));
        assert_eq!(d.write_local(0, b"x", 400), Err(DeviceError::ActiveSlot));
        assert_eq!(
            d.write_local(1, &[0; 9000], 400),
            Err(DeviceError::TooLarge)
        );
        assert_eq!(
            d.hash(2, 4).unwrap(),
            <[u8; 32]>::from(Sha256::digest(b"cfg2"))
        );
    }
}
