//! What the device persists, as postcard-encoded values in the [`crate::kv`] store.
//!
//! Every type here is plain data with serde derives and heapless fields only (postcard's own
//! `heapless` feature would pull heapless 0.7; the crate enables `heapless/serde` instead,
//! ecosystem.md §0.1). Each lives under its own key, so a power cut while writing one never
//! affects another.

use serde::{Deserialize, Serialize};

/// Key of the [`BootRecord`].
pub const KEY_BOOT: u8 = 1;
/// Key of the [`Settings`].
pub const KEY_SETTINGS: u8 = 2;
/// Key of the [`PartMeta`] of partition `i` is `KEY_META + i`.
pub const KEY_META: u8 = 0x10;

/// A firmware slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Slot {
    /// `/firmware/slot-a.bin`.
    A,
    /// `/firmware/slot-b.bin`.
    B,
}

impl Slot {
    /// The other slot.
    pub fn other(self) -> Slot {
        match self {
            Slot::A => Slot::B,
            Slot::B => Slot::A,
        }
    }
    /// The partition index of the slot.
    pub fn index(self) -> usize {
        match self {
            Slot::A => 0,
            Slot::B => 1,
        }
    }
}

/// The A/B boot record: which slot runs, which one was restored and waits to be tried, and
/// the SHA-256 the pending image must have. A bootloader reads it (see
/// [`crate::device::Device::boot_select`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct BootRecord {
    /// The slot that runs now.
    pub active: Slot,
    /// A verified image waiting to be booted (never the active slot).
    pub pending: Option<Slot>,
    /// SHA-256 of the pending image (its first `len` bytes).
    pub digest: [u8; 32],
    /// Length of the pending image.
    pub len: u32,
}

impl Default for BootRecord {
    fn default() -> Self {
        BootRecord {
            active: Slot::A,
            pending: None,
            digest: [0; 32],
            len: 0,
        }
    }
}

/// Metadata of a partition seen as a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct PartMeta {
    /// Bytes of valid content (the file size).
    pub len: u32,
    /// Unix time of the last change (the file's mtime and ctime).
    pub mtime: i64,
    /// Changes since the device was provisioned. Every change also moves `mtime`, which is
    /// what an Incremental backup compares ([`crate::device::Device::write_local`]).
    pub changes: u32,
}

/// How the File Daemon meets its Director.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum HandshakeMode {
    /// The device dials the Director (`Connection From Client To Director = yes`).
    #[default]
    ClientInitiated,
    /// The Director dials the device on port 9102.
    DirectorToClient,
    /// Both.
    Both,
}

/// Device settings.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Settings {
    /// The handshake mode.
    pub handshake: HandshakeMode,
    /// The Director's IPv4 address (client-initiated mode).
    pub director_addr: [u8; 4],
    /// The Director's port.
    pub director_port: u16,
    /// Unix time of the last successful backup.
    pub last_backup: i64,
    /// The Client resource name.
    pub name: heapless::String<64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postcard_round_trip_and_truncation() {
        let r = BootRecord {
            active: Slot::B,
            pending: Some(Slot::A),
            digest: [7; 32],
            len: 1234,
        };
        let mut buf = [0u8; 64];
        let n = postcard::to_slice(&r, &mut buf).unwrap().len();
        let back: BootRecord = postcard::from_bytes(&buf[..n]).unwrap();
        assert_eq!(back, r);
        for cut in 0..n {
            assert!(postcard::from_bytes::<BootRecord>(&buf[..cut]).is_err());
        }
        let mut s = Settings::default();
        s.name.push_str("device-fd").unwrap();
        s.handshake = HandshakeMode::Both;
        let n = postcard::to_slice(&s, &mut buf).unwrap().len();
        assert_eq!(postcard::from_bytes::<Settings>(&buf[..n]).unwrap(), s);
        // An impossible enum tag.
        assert!(postcard::from_bytes::<Slot>(&[9]).is_err());
    }
}
