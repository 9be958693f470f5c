//! A log-structured key-value store on NOR flash that survives power loss at any byte.
//!
//! # Why not a file system, and why not sequential-storage
//!
//! The device persists four small things: its settings (Director address, handshake mode),
//! per-partition metadata (length, mtime, change counter), the A/B boot record and the time
//! of the last backup. Each is a postcard blob of at most [`MAX_VALUE`] bytes, rewritten a
//! few times a day. A file system would cost more flash than the firmware's own logic;
//! `sequential-storage` would fit, but its map API is async over embedded-storage-async and
//! its recovery rules are not something the tests here could state exactly. This store is
//! about 300 lines, synchronous, and its recovery rule fits in one paragraph:
//!
//! # Layout and recovery rule
//!
//! The region is split into two *banks* of whole erase sectors. A bank starts with a
//! 16-byte header `"BQKV"`, a sequence number and a CRC-32 of both; records follow:
//! `key (u8, 0xFF = free) · 0x00 · len (u16 LE) · CRC-32 (u32 LE) of the first 4 bytes and
//! the value · value`, each padded to the flash's write size. The active bank is the one
//! with a valid header and the highest sequence number; the value of a key is that of the
//! last record with a valid CRC, scanning from the first record and stopping at the first
//! free or invalid one.
//!
//! - An append that loses power leaves a record with a bad CRC (or none): the scan stops
//!   before it, so the key keeps its previous value. The bank is then considered full and
//!   the next write compacts.
//! - Compaction erases the other bank, copies the newest value of every key, writes the new
//!   record, and only then writes the header with sequence + 1. A cut before the header
//!   leaves the old bank active and untouched; a torn header has a bad CRC.
//!
//! Hence after any cut, every key holds either its old or its new value, never a mix
//! (tested by cutting at every byte of a long write sequence, in this module's tests).

use embedded_storage::nor_flash::NorFlash;

use crate::flash::{round_up, write_padded, MAX_WRITE_SIZE};

/// Largest value.
pub const MAX_VALUE: usize = 256;
const HEADER: usize = 16;
const REC_HDR: usize = 8;
const MAGIC: [u8; 4] = *b"BQKV";
const FREE: u8 = 0xFF;

/// Errors of the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum KvError {
    /// The flash driver failed (or power was lost).
    Flash,
    /// The region is too small for two banks, or the flash's write size is unsupported.
    Geometry,
    /// The value is longer than [`MAX_VALUE`] or does not fit in a bank with the others.
    TooLarge,
    /// Key 0xFF is reserved.
    BadKey,
    /// The caller's buffer is too small for the stored value.
    BufferTooSmall,
    /// postcard could not encode or decode the value.
    Codec,
}

impl core::fmt::Display for KvError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            KvError::Flash => "flash error",
            KvError::Geometry => "flash region unusable",
            KvError::TooLarge => "value too large",
            KvError::BadKey => "reserved key",
            KvError::BufferTooSmall => "buffer too small",
            KvError::Codec => "encoding error",
        })
    }
}

/// CRC-32 (IEEE, reflected), bitwise: small and fast enough for a few hundred bytes.
pub fn crc32(mut crc: u32, data: &[u8]) -> u32 {
    crc = !crc;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

/// The store. Owns its flash region.
pub struct Kv<F> {
    flash: F,
    bank_len: usize,
    active: usize,
    seq: u32,
    /// Next free offset inside the active bank; `bank_len` when full or torn.
    end: usize,
}

/// One valid record found by a scan.
#[derive(Clone, Copy)]
struct Rec {
    key: u8,
    len: usize,
    /// Offset of the value inside the bank.
    value_at: usize,
}

impl<F: NorFlash> Kv<F> {
    /// Open the store, recovering after a power loss; a blank or unreadable region is
    /// formatted.
    pub fn open(mut flash: F) -> Result<Self, KvError> {
        if F::WRITE_SIZE > MAX_WRITE_SIZE || F::READ_SIZE != 1 || HEADER % F::WRITE_SIZE != 0 {
            return Err(KvError::Geometry);
        }
        let sectors = flash.capacity() / F::ERASE_SIZE.max(1);
        let bank_len = (sectors / 2) * F::ERASE_SIZE;
        if bank_len < HEADER + REC_HDR + MAX_VALUE + MAX_WRITE_SIZE {
            return Err(KvError::Geometry);
        }
        let h0 = read_header(&mut flash, 0);
        let h1 = read_header(&mut flash, bank_len);
        let mut kv = Kv {
            flash,
            bank_len,
            active: 0,
            seq: 0,
            end: bank_len,
        };
        match (h0, h1) {
            (Some(a), Some(b)) if b.wrapping_sub(a) as i32 > 0 => {
                kv.active = 1;
                kv.seq = b
            }
            (Some(a), _) => kv.seq = a,
            (None, Some(b)) => {
                kv.active = 1;
                kv.seq = b
            }
            (None, None) => {
                debug!("kv: no valid bank, formatting");
                kv.format()?;
                return Ok(kv);
            }
        }
        kv.end = kv.scan(|_, _| {})?;
        Ok(kv)
    }

    /// Give the flash back.
    pub fn into_inner(self) -> F {
        self.flash
    }

    /// The flash (tests inspect it).
    pub fn flash_mut(&mut self) -> &mut F {
        &mut self.flash
    }

    fn base(&self, bank: usize) -> usize {
        bank * self.bank_len
    }

    fn format(&mut self) -> Result<(), KvError> {
        let b = self.base(0) as u32;
        self.flash
            .erase(b, b + self.bank_len as u32)
            .map_err(|_| KvError::Flash)?;
        self.active = 0;
        self.seq = 1;
        write_header(&mut self.flash, 0, 1)?;
        self.end = HEADER;
        Ok(())
    }

    /// Scan the active bank; calls `f` for every valid record; returns the free offset (or
    /// `bank_len` if the scan stopped at a torn record).
    fn scan(&mut self, mut f: impl FnMut(&mut F, Rec)) -> Result<usize, KvError> {
        let base = self.base(self.active);
        let mut at = HEADER;
        while at + REC_HDR <= self.bank_len {
            let mut h = [0u8; REC_HDR];
            self.flash
                .read((base + at) as u32, &mut h)
                .map_err(|_| KvError::Flash)?;
            if h.iter().all(|&b| b == 0xFF) {
                return Ok(at);
            }
            let [key, zero, l0, l1, c0, c1, c2, c3] = h;
            let len = usize::from(u16::from_le_bytes([l0, l1]));
            let total = round_up(REC_HDR + len, F::WRITE_SIZE);
            if key == FREE || zero != 0 || len > MAX_VALUE || at + total > self.bank_len {
                return Ok(self.bank_len);
            }
            let mut v = [0u8; MAX_VALUE];
            let val = v.get_mut(..len).ok_or(KvError::TooLarge)?;
            self.flash
                .read((base + at + REC_HDR) as u32, val)
                .map_err(|_| KvError::Flash)?;
            let crc = crc32(crc32(0, &[key, zero, l0, l1]), val);
            if crc != u32::from_le_bytes([c0, c1, c2, c3]) {
                return Ok(self.bank_len);
            }
            f(
                &mut self.flash,
                Rec {
                    key,
                    len,
                    value_at: at + REC_HDR,
                },
            );
            at += total;
        }
        Ok(self.bank_len)
    }

    /// Read the value of `key` into `buf`; `None` if the key was never written.
    pub fn get<'b>(&mut self, key: u8, buf: &'b mut [u8]) -> Result<Option<&'b [u8]>, KvError> {
        let mut last: Option<Rec> = None;
        self.scan(|_, r| {
            if r.key == key {
                last = Some(r)
            }
        })?;
        let Some(r) = last else { return Ok(None) };
        let out = buf.get_mut(..r.len).ok_or(KvError::BufferTooSmall)?;
        let at = self.base(self.active) + r.value_at;
        self.flash
            .read(at as u32, out)
            .map_err(|_| KvError::Flash)?;
        Ok(Some(out))
    }

    /// Write `value` for `key` (power-loss safe: the key keeps its old value until the new
    /// record is complete).
    pub fn set(&mut self, key: u8, value: &[u8]) -> Result<(), KvError> {
        if key == FREE {
            return Err(KvError::BadKey);
        }
        if value.len() > MAX_VALUE {
            return Err(KvError::TooLarge);
        }
        let total = round_up(REC_HDR + value.len(), F::WRITE_SIZE);
        if self.end + total <= self.bank_len {
            let at = self.base(self.active) + self.end;
            write_record(&mut self.flash, at, key, value)?;
            self.end += total;
            return Ok(());
        }
        self.compact(key, value)
    }

    /// Copy the newest value of every other key and `(key, value)` into the other bank,
    /// then switch to it.
    fn compact(&mut self, key: u8, value: &[u8]) -> Result<(), KvError> {
        let from = self.active;
        let to = 1 - from;
        let to_base = self.base(to);
        self.flash
            .erase(to_base as u32, (to_base + self.bank_len) as u32)
            .map_err(|_| KvError::Flash)?;
        // Newest record of each key present in the old bank (256 keys at most).
        let mut newest: [Option<(usize, usize)>; 255] = [None; 255];
        self.scan(|_, r| {
            if let Some(slot) = newest.get_mut(usize::from(r.key)) {
                *slot = Some((r.value_at, r.len));
            }
        })?;
        let from_base = self.base(from);
        let mut at = HEADER;
        for (k, rec) in newest.iter().enumerate() {
            let Some((value_at, len)) = *rec else {
                continue;
            };
            if k == usize::from(key) {
                continue;
            }
            let mut v = [0u8; MAX_VALUE];
            let val = v.get_mut(..len).ok_or(KvError::TooLarge)?;
            self.flash
                .read((from_base + value_at) as u32, val)
                .map_err(|_| KvError::Flash)?;
            let total = round_up(REC_HDR + len, F::WRITE_SIZE);
            if at + total > self.bank_len {
                return Err(KvError::TooLarge);
            }
            write_record(&mut self.flash, to_base + at, k as u8, val)?;
            at += total;
        }
        let total = round_up(REC_HDR + value.len(), F::WRITE_SIZE);
        if at + total > self.bank_len {
            return Err(KvError::TooLarge);
        }
        write_record(&mut self.flash, to_base + at, key, value)?;
        at += total;
        let seq = self.seq.wrapping_add(1);
        write_header(&mut self.flash, to_base, seq)?;
        self.active = to;
        self.seq = seq;
        self.end = at;
        Ok(())
    }

    /// Store a serde value with postcard.
    pub fn save<T: serde::Serialize>(&mut self, key: u8, value: &T) -> Result<(), KvError> {
        let mut buf = [0u8; MAX_VALUE];
        let used = postcard::to_slice(value, &mut buf).map_err(|_| KvError::Codec)?;
        let n = used.len();
        self.set(key, buf.get(..n).ok_or(KvError::Codec)?)
    }

    /// Load a serde value stored with [`Kv::save`].
    pub fn load<T: serde::de::DeserializeOwned>(&mut self, key: u8) -> Result<Option<T>, KvError> {
        let mut buf = [0u8; MAX_VALUE];
        match self.get(key, &mut buf)? {
            None => Ok(None),
            Some(v) => postcard::from_bytes(v)
                .map(Some)
                .map_err(|_| KvError::Codec),
        }
    }
}

fn read_header<F: NorFlash>(flash: &mut F, at: usize) -> Option<u32> {
    let mut h = [0u8; HEADER];
    flash.read(at as u32, &mut h).ok()?;
    let [m0, m1, m2, m3, s0, s1, s2, s3, c0, c1, c2, c3, ..] = h;
    if [m0, m1, m2, m3] != MAGIC {
        return None;
    }
    let crc = crc32(0, &[m0, m1, m2, m3, s0, s1, s2, s3]);
    (crc == u32::from_le_bytes([c0, c1, c2, c3])).then_some(u32::from_le_bytes([s0, s1, s2, s3]))
}

fn write_header<F: NorFlash>(flash: &mut F, at: usize, seq: u32) -> Result<(), KvError> {
    let mut h = [0xFFu8; HEADER];
    let s = seq.to_le_bytes();
    let body = [
        MAGIC[0], MAGIC[1], MAGIC[2], MAGIC[3], s[0], s[1], s[2], s[3],
    ];
    let crc = crc32(0, &body).to_le_bytes();
    for (d, v) in h.iter_mut().zip(body.iter().chain(crc.iter())) {
        *d = *v;
    }
    flash.write(at as u32, &h).map_err(|_| KvError::Flash)
}

fn write_record<F: NorFlash>(
    flash: &mut F,
    at: usize,
    key: u8,
    value: &[u8],
) -> Result<(), KvError> {
    let len = u16::try_from(value.len()).map_err(|_| KvError::TooLarge)?;
    let l = len.to_le_bytes();
    let head4 = [key, 0, l[0], l[1]];
    let crc = crc32(crc32(0, &head4), value).to_le_bytes();
    let mut rec = [0xFFu8; REC_HDR + MAX_VALUE];
    let total = REC_HDR + value.len();
    for (d, v) in rec
        .iter_mut()
        .zip(head4.iter().chain(crc.iter()).chain(value.iter()))
    {
        *d = *v;
    }
    write_padded(flash, at as u32, rec.get(..total).ok_or(KvError::TooLarge)?)
        .map_err(|_| KvError::Flash)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::vec::Vec;

    use super::*;
    use crate::flash::RamFlash;
    use proptest::prelude::*;

    type Flash = RamFlash<8192, 1024>;

    #[test]
    fn crc32_check_value() {
        assert_eq!(crc32(0, b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn set_get_and_reopen() {
        let mut kv = Kv::open(Flash::new()).unwrap();
        let mut b = [0u8; MAX_VALUE];
        assert_eq!(kv.get(1, &mut b).unwrap(), None);
        kv.set(1, b"one").unwrap();
        kv.set(2, b"two").unwrap();
        kv.set(1, b"uno").unwrap();
        assert_eq!(kv.get(1, &mut b).unwrap(), Some(&b"uno"[..]));
        let mut kv = Kv::open(kv.into_inner()).unwrap();
        assert_eq!(kv.get(1, &mut b).unwrap(), Some(&b"uno"[..]));
        assert_eq!(kv.get(2, &mut b).unwrap(), Some(&b"two"[..]));
        assert_eq!(kv.set(0xFF, b"x"), Err(KvError::BadKey));
        assert_eq!(kv.set(3, &[0; MAX_VALUE + 1]), Err(KvError::TooLarge));
        let mut small = [0u8; 2];
        assert_eq!(kv.get(1, &mut small), Err(KvError::BufferTooSmall));
    }

    #[test]
    fn compaction_keeps_every_key() {
        let mut kv = Kv::open(Flash::new()).unwrap();
        let mut b = [0u8; MAX_VALUE];
        for i in 0..500u32 {
            kv.set((i % 5) as u8, &i.to_le_bytes()).unwrap();
        }
        let mut kv = Kv::open(kv.into_inner()).unwrap();
        for k in 0..5u32 {
            let want = (495 + k).to_le_bytes();
            assert_eq!(kv.get(k as u8, &mut b).unwrap(), Some(&want[..]));
        }
        assert!(kv.flash_mut().erases > 2, "compaction must have run");
    }

    #[test]
    fn too_small_region_is_refused() {
        assert!(matches!(
            Kv::open(RamFlash::<512, 256>::new()),
            Err(KvError::Geometry)
        ));
    }

    /// The write sequence used by the power-loss test: values of different lengths so that
    /// compactions happen at various points.
    fn script() -> Vec<(u8, Vec<u8>)> {
        (0..60u32)
            .map(|i| {
                let len = (i as usize * 37) % 200 + 1;
                (
                    (i % 4) as u8,
                    (0..len).map(|j| (i as usize + j) as u8).collect(),
                )
            })
            .collect()
    }

    /// Cut the power at every byte of the script; after reopening, every key holds the value
    /// of its last completed write or of the interrupted one, never anything else; and the
    /// store works again afterwards.
    #[test]
    fn power_loss_at_every_byte_keeps_old_or_new_values() {
        let s = script();
        // Measure the bytes the whole script writes.
        let mut kv = Kv::open(Flash::new()).unwrap();
        let base = kv.flash_mut().written;
        for (k, v) in &s {
            kv.set(*k, v).unwrap();
        }
        let total = kv.flash_mut().written - base + kv.flash_mut().erases;
        let mut b = [0u8; MAX_VALUE];
        for cut in 0..total {
            let mut kv = Kv::open(Flash::new()).unwrap();
            kv.flash_mut().cut_after(Some(cut));
            let mut done: [Option<&Vec<u8>>; 4] = [None; 4];
            let mut interrupted = None;
            for (k, v) in &s {
                match kv.set(*k, v) {
                    Ok(()) => done[*k as usize] = Some(v),
                    Err(_) => {
                        interrupted = Some((*k, v));
                        break;
                    }
                }
            }
            let mut flash = kv.into_inner();
            flash.cut_after(None);
            let mut kv = Kv::open(flash).unwrap();
            for k in 0..4u8 {
                let got = kv.get(k, &mut b).unwrap().map(|x| x.to_vec());
                let old = done[k as usize].cloned();
                let new = interrupted
                    .filter(|(ik, _)| *ik == k)
                    .map(|(_, v)| v.clone());
                assert!(
                    got == old || (new.is_some() && got == new),
                    "cut at byte {cut}: key {k} has {got:?}"
                );
            }
            // Still usable.
            kv.set(9, b"after").unwrap();
            assert_eq!(kv.get(9, &mut b).unwrap(), Some(&b"after"[..]));
        }
    }

    proptest! {
        #[test]
        fn model_equivalence(ops in proptest::collection::vec((0u8..6, proptest::collection::vec(any::<u8>(), 0..64)), 0..120)) {
            let mut kv = Kv::open(Flash::new()).unwrap();
            let mut model: std::collections::BTreeMap<u8, Vec<u8>> = Default::default();
            for (k, v) in &ops {
                kv.set(*k, v).unwrap();
                model.insert(*k, v.clone());
            }
            let mut kv = Kv::open(kv.into_inner()).unwrap();
            let mut b = [0u8; MAX_VALUE];
            for k in 0..6u8 {
                let got = kv.get(k, &mut b).unwrap().map(|x| x.to_vec());
                prop_assert_eq!(got, model.get(&k).cloned());
            }
        }

        /// Random garbage in the region never panics the recovery.
        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 8192)) {
            let mut f = Flash::new();
            f.contents_mut().copy_from_slice(&bytes);
            if let Ok(mut kv) = Kv::open(f) {
                let mut b = [0u8; MAX_VALUE];
                let _ = kv.get(1, &mut b);
            }
        }
    }
}
