//! Flash partitions: the `embedded-storage` NOR flash traits, and a RAM emulation that can
//! lose power in the middle of any write.
//!
//! # Why NOR semantics matter here
//!
//! Everything this crate persists (the key-value store of [`crate::kv`], firmware images,
//! the configuration partition) lives on NOR flash, whose rules shape the design: a write
//! can only clear bits (1 → 0), only an erase sets them back, an erase works on whole
//! sectors, and power can fail between any two bytes of a write or in the middle of an
//! erase. The store and the A/B firmware logic are written against those rules only
//! ([`embedded_storage::nor_flash::NorFlash`]), so any board's flash driver plugs in.
//!
//! [`RamFlash`] obeys the same rules in RAM: writes AND into the contents (and refuse to set
//! a bit, as the strict NOR drivers do), erases fill whole sectors with 0xFF, and a
//! *power budget* ([`RamFlash::cut_after`]) makes the flash stop after a given number of
//! written bytes: the write in progress is applied up to that byte and every later write or
//! erase fails. The power-loss tests of [`crate::kv`] and of the firmware restore cut at
//! every byte this way. QEMU's mps2-an386 board (boards/qemu-mps2) has no flash controller
//! the firmware could use for data, so it also runs on [`RamFlash`].
//!
//! Requirements on a real driver: `READ_SIZE` 1 and `WRITE_SIZE` of at most
//! [`MAX_WRITE_SIZE`] (internal flash of STM32F7 is 1–8 bytes, RP2040 QSPI flash 1 byte
//! after embassy-rp's buffering, nRF 4 bytes).

use embedded_storage::nor_flash::{
    ErrorType, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash,
};

/// Largest `WRITE_SIZE` supported by the store and the sinks (their alignment buffers).
pub const MAX_WRITE_SIZE: usize = 8;

/// Errors of [`RamFlash`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum RamFlashError {
    /// Offset or length outside the partition, or not aligned.
    OutOfBounds,
    /// A write tried to turn a 0 bit into a 1 without an erase.
    NotErased,
    /// The emulated power failed (the budget of [`RamFlash::cut_after`] is spent).
    PowerLost,
}

impl NorFlashError for RamFlashError {
    fn kind(&self) -> NorFlashErrorKind {
        match self {
            RamFlashError::OutOfBounds => NorFlashErrorKind::OutOfBounds,
            RamFlashError::NotErased | RamFlashError::PowerLost => NorFlashErrorKind::Other,
        }
    }
}

/// NOR flash emulated in RAM: `N` bytes, erase sectors of `E` bytes, write size 1.
#[derive(Clone)]
pub struct RamFlash<const N: usize, const E: usize> {
    data: [u8; N],
    budget: Option<usize>,
    /// Bytes written since creation (for tests that cut at every byte).
    pub written: usize,
    /// Erases since creation.
    pub erases: usize,
}

impl<const N: usize, const E: usize> Default for RamFlash<N, E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize, const E: usize> RamFlash<N, E> {
    /// An erased flash (all 0xFF).
    pub const fn new() -> Self {
        Self {
            data: [0xFF; N],
            budget: None,
            written: 0,
            erases: 0,
        }
    }

    /// Lose power after `bytes` more bytes have been written (an erase costs one byte per
    /// sector and, when cut, leaves the sector half erased). `None`: never.
    pub fn cut_after(&mut self, bytes: Option<usize>) {
        self.budget = bytes;
    }

    /// Whether the power budget is spent.
    pub fn power_lost(&self) -> bool {
        self.budget == Some(0)
    }

    /// The raw contents.
    pub fn contents(&self) -> &[u8] {
        &self.data
    }

    /// Mutable raw contents (tests corrupt flash with it, boards load images with it).
    pub fn contents_mut(&mut self) -> &mut [u8] {
        &mut self.data
    }

    fn range(&self, offset: u32, len: usize) -> Result<core::ops::Range<usize>, RamFlashError> {
        let start = usize::try_from(offset).map_err(|_| RamFlashError::OutOfBounds)?;
        let end = start.checked_add(len).ok_or(RamFlashError::OutOfBounds)?;
        if end > N {
            return Err(RamFlashError::OutOfBounds);
        }
        Ok(start..end)
    }
}

impl<const N: usize, const E: usize> ErrorType for RamFlash<N, E> {
    type Error = RamFlashError;
}

impl<const N: usize, const E: usize> ReadNorFlash for RamFlash<N, E> {
    const READ_SIZE: usize = 1;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), RamFlashError> {
        let r = self.range(offset, bytes.len())?;
        let src = self.data.get(r).ok_or(RamFlashError::OutOfBounds)?;
        bytes.copy_from_slice(src);
        Ok(())
    }

    fn capacity(&self) -> usize {
        N
    }
}

impl<const N: usize, const E: usize> NorFlash for RamFlash<N, E> {
    const WRITE_SIZE: usize = 1;
    const ERASE_SIZE: usize = E;

    fn erase(&mut self, from: u32, to: u32) -> Result<(), RamFlashError> {
        let len = to.checked_sub(from).ok_or(RamFlashError::OutOfBounds)? as usize;
        let r = self.range(from, len)?;
        if r.start % E != 0 || r.end % E != 0 {
            return Err(RamFlashError::OutOfBounds);
        }
        let mut at = r.start;
        while at < r.end {
            if self.budget == Some(0) {
                return Err(RamFlashError::PowerLost);
            }
            let sector = self
                .data
                .get_mut(at..at + E)
                .ok_or(RamFlashError::OutOfBounds)?;
            if let Some(b) = self.budget.as_mut() {
                *b -= 1;
                if *b == 0 {
                    // Cut in the middle of the erase: half the sector is erased.
                    for x in sector.iter_mut().take(E / 2) {
                        *x = 0xFF;
                    }
                    return Err(RamFlashError::PowerLost);
                }
            }
            sector.fill(0xFF);
            self.erases += 1;
            at += E;
        }
        Ok(())
    }

    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), RamFlashError> {
        let r = self.range(offset, bytes.len())?;
        let dst = self.data.get_mut(r).ok_or(RamFlashError::OutOfBounds)?;
        if dst.iter().zip(bytes).any(|(d, s)| s & !d != 0) {
            return Err(RamFlashError::NotErased);
        }
        for (d, s) in dst.iter_mut().zip(bytes) {
            if let Some(b) = self.budget.as_mut() {
                if *b == 0 {
                    return Err(RamFlashError::PowerLost);
                }
                *b -= 1;
            }
            *d &= *s;
            self.written += 1;
        }
        Ok(())
    }
}

/// Errors of a [`Window`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum WindowError<E> {
    /// Outside the window.
    OutOfBounds,
    /// The underlying flash failed.
    Flash(E),
}

impl<E: NorFlashError> NorFlashError for WindowError<E> {
    fn kind(&self) -> NorFlashErrorKind {
        match self {
            WindowError::OutOfBounds => NorFlashErrorKind::OutOfBounds,
            WindowError::Flash(e) => e.kind(),
        }
    }
}

/// A partition: the range `offset..offset + len` of a shared flash, with erase unit `E`
/// (the sector size of that range, which a chip with mixed sector sizes cannot express
/// in its own `ERASE_SIZE`). Boards split their internal flash into the state store, the
/// configuration and the two firmware slots this way.
pub struct Window<'f, F, const E: usize> {
    flash: &'f core::cell::RefCell<F>,
    offset: u32,
    len: u32,
}

impl<'f, F, const E: usize> Window<'f, F, E> {
    /// The window `offset..offset + len` of `flash`.
    pub const fn new(flash: &'f core::cell::RefCell<F>, offset: u32, len: u32) -> Self {
        Window { flash, offset, len }
    }

    fn abs(&self, offset: u32, n: usize) -> Result<u32, WindowError<()>> {
        let n = u32::try_from(n).map_err(|_| WindowError::OutOfBounds)?;
        let end = offset.checked_add(n).ok_or(WindowError::OutOfBounds)?;
        if end > self.len {
            return Err(WindowError::OutOfBounds);
        }
        Ok(self.offset + offset)
    }
}

impl<F: ErrorType, const E: usize> ErrorType for Window<'_, F, E> {
    type Error = WindowError<F::Error>;
}

impl<F: ReadNorFlash, const E: usize> ReadNorFlash for Window<'_, F, E> {
    const READ_SIZE: usize = F::READ_SIZE;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), Self::Error> {
        let at = self
            .abs(offset, bytes.len())
            .map_err(|_| WindowError::OutOfBounds)?;
        self.flash
            .borrow_mut()
            .read(at, bytes)
            .map_err(WindowError::Flash)
    }

    fn capacity(&self) -> usize {
        self.len as usize
    }
}

impl<F: NorFlash, const E: usize> NorFlash for Window<'_, F, E> {
    const WRITE_SIZE: usize = F::WRITE_SIZE;
    const ERASE_SIZE: usize = E;

    fn erase(&mut self, from: u32, to: u32) -> Result<(), Self::Error> {
        let n = to.checked_sub(from).ok_or(WindowError::OutOfBounds)? as usize;
        let at = self.abs(from, n).map_err(|_| WindowError::OutOfBounds)?;
        self.flash
            .borrow_mut()
            .erase(at, at + n as u32)
            .map_err(WindowError::Flash)
    }

    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), Self::Error> {
        let at = self
            .abs(offset, bytes.len())
            .map_err(|_| WindowError::OutOfBounds)?;
        self.flash
            .borrow_mut()
            .write(at, bytes)
            .map_err(WindowError::Flash)
    }
}

/// Write `bytes` at `offset`, padding the tail with 0xFF up to `F::WRITE_SIZE` (the callers
/// keep offsets aligned).
pub(crate) fn write_padded<F: NorFlash>(
    flash: &mut F,
    offset: u32,
    bytes: &[u8],
) -> Result<(), F::Error> {
    let ws = F::WRITE_SIZE.max(1);
    let whole = bytes.len() - bytes.len() % ws;
    let (head, tail) = bytes.split_at(whole);
    if !head.is_empty() {
        flash.write(offset, head)?;
    }
    if !tail.is_empty() {
        let mut pad = [0xFFu8; MAX_WRITE_SIZE];
        let n = ws.min(MAX_WRITE_SIZE);
        if let Some(p) = pad.get_mut(..tail.len()) {
            p.copy_from_slice(tail);
        }
        flash.write(offset + whole as u32, pad.get(..n).unwrap_or(&[]))?;
    }
    Ok(())
}

/// Round `n` up to a multiple of `m` (m > 0).
pub(crate) const fn round_up(n: usize, m: usize) -> usize {
    if m == 0 {
        n
    } else {
        n.div_ceil(m) * m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nor_rules() {
        let mut f: RamFlash<64, 16> = RamFlash::new();
        f.write(0, &[0x0F]).unwrap();
        assert_eq!(f.write(0, &[0xF0]), Err(RamFlashError::NotErased));
        f.write(0, &[0x05]).unwrap();
        assert_eq!(f.contents()[0], 0x05);
        assert_eq!(f.erase(1, 16), Err(RamFlashError::OutOfBounds));
        assert_eq!(f.write(60, &[0; 5]), Err(RamFlashError::OutOfBounds));
        f.erase(0, 16).unwrap();
        assert_eq!(f.contents()[0], 0xFF);
    }

    #[test]
    fn windows_offset_and_bound() {
        let f = core::cell::RefCell::new(RamFlash::<64, 16>::new());
        let mut a: Window<'_, _, 16> = Window::new(&f, 16, 32);
        let mut b: Window<'_, _, 16> = Window::new(&f, 48, 16);
        a.write(0, &[1, 2]).unwrap();
        b.write(15, &[9]).unwrap();
        assert_eq!(&f.borrow().contents()[16..18], &[1, 2]);
        assert_eq!(f.borrow().contents()[63], 9);
        assert_eq!(b.write(16, &[1]), Err(WindowError::OutOfBounds));
        assert_eq!(a.erase(16, 48), Err(WindowError::OutOfBounds));
        a.erase(0, 16).unwrap();
        assert_eq!(f.borrow().contents()[16], 0xFF);
        assert_eq!(
            f.borrow().contents()[63],
            9,
            "erase stays inside the window"
        );
        let mut r = [0u8; 1];
        assert_eq!(a.read(u32::MAX, &mut r), Err(WindowError::OutOfBounds));
    }

    #[test]
    fn power_cut_applies_a_prefix() {
        let mut f: RamFlash<64, 16> = RamFlash::new();
        f.cut_after(Some(3));
        assert_eq!(f.write(0, &[1, 2, 3, 4, 5]), Err(RamFlashError::PowerLost));
        assert_eq!(&f.contents()[..6], &[1, 2, 3, 0xFF, 0xFF, 0xFF]);
        assert_eq!(f.write(10, &[1]), Err(RamFlashError::PowerLost));
        assert_eq!(f.erase(16, 32), Err(RamFlashError::PowerLost));
        assert!(f.power_lost());
    }
}
