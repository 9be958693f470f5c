//! Reading a large file on a helper thread, ahead of the session.
//!
//! fd-core's backup loop reads a chunk, hashes it, frames and encrypts it, and only then reads
//! the next one, all on the session's thread. Reading from the page cache is a copy out of
//! main memory that costs about as much as the record cipher, so for a large file
//! [`ReadAhead`] moves the `read()` calls to a helper thread: it fills a few recycled blocks
//! ([`DEPTH`] of them) in file order and hands them over through a bounded channel, and the
//! session's `read` copies out of the block in hand (which the helper just wrote, so it comes
//! from the shared cache, not from main memory). The bytes and their order are those of the
//! plain `read()` loop; a read error arrives after the bytes read before it, as it would.
//!
//! When the session asked the source to hash what it reads
//! ([`fd_core::fd::platform::FileSource::hash_reads`]), a second helper sits between the
//! reader and the session: it takes each block (moved, not copied), hashes it and passes it
//! on in order, and hands the hash state back at the end of the file
//! ([`ReadAhead::finish_hash`]). Reading, hashing and the session's encryption and sending
//! then run on three threads with no copy to a hashing thread. (Hashing on the reader itself
//! was measured too: it makes the reader the busiest thread, read + SHA-256 ≈ 0.85 CPU s/GB,
//! and was slower on the 2-core test machine.)
//!
//! Only regular files get a helper ([`crate::source::LinuxSource`] decides, after the file has
//! delivered [`START_AFTER`] bytes), so a FIFO never leaves a thread blocked in `read()`, and
//! the many small files of a typical tree cost no thread. Dropping the [`ReadAhead`] (file
//! closed, job canceled) stops the helper after its current read.

use std::fs::File;
use std::io::{self, Read};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError};
use std::thread::JoinHandle;

use fd_core::fd::platform::{Hasher, StandardHasher};

/// Bytes a file delivers through plain reads before its reads move to a helper thread.
pub const START_AFTER: u64 = 1 << 20;

/// Blocks in flight (filled or being filled) per file.
pub const DEPTH: usize = 8;

enum Block {
    Data(Vec<u8>),
    Failed(io::Error),
}

/// The reads of one open file, on a helper thread.
#[derive(Debug)]
pub struct ReadAhead {
    filled: Receiver<Block>,
    free: SyncSender<Vec<u8>>,
    cur: Vec<u8>,
    pos: usize,
    failed: Option<io::Error>,
    eof: bool,
    /// The hashing thread (else the reader); it returns the hash state when it hashed every
    /// byte of the file.
    helper: Option<JoinHandle<Option<StandardHasher>>>,
}

impl std::fmt::Debug for Block {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Block::Data(d) => write!(f, "Block::Data({} bytes)", d.len()),
            Block::Failed(e) => write!(f, "Block::Failed({e})"),
        }
    }
}

/// Fill `buf` with up to `block` bytes of `f` (fewer at the end of the file); the error
/// that stopped it early, if any (after the bytes read before it).
fn fill(f: &mut File, buf: &mut Vec<u8>, block: usize) -> Option<io::Error> {
    // A recycled block keeps its length, so only a new one is zeroed.
    if buf.len() != block {
        buf.resize(block, 0);
    }
    let mut n = 0;
    let mut failed = None;
    while let Some(rest) = buf.get_mut(n..) {
        if rest.is_empty() {
            break;
        }
        match f.read(rest) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                failed = Some(e);
                break;
            }
        }
    }
    buf.truncate(n);
    failed
}

impl ReadAhead {
    /// Continue reading `file` (from its current offset) on a helper thread, in blocks of
    /// `block` bytes, feeding every block to `hasher` if there is one. `Err` if no thread
    /// could be started: the caller keeps reading (and hashing) itself, so the file and the
    /// hasher are passed back.
    pub fn start(
        file: File,
        block: usize,
        hasher: Option<StandardHasher>,
    ) -> Result<Self, Box<(File, Option<StandardHasher>)>> {
        let block = block.max(64 * 1024);
        let (filled_tx, filled) = mpsc::sync_channel::<Block>(DEPTH);
        let (free, free_rx) = mpsc::sync_channel::<Vec<u8>>(DEPTH + 1);
        // The file moves to the reader; keep a handle to give it back if spawning fails.
        let spare = file.try_clone();
        // The hasher moves to a thread too (it comes back through the thread's end); keep
        // a copy of its state to give back if spawning fails.
        let spare_hasher = hasher.clone();
        // With a hasher, blocks go reader → hasher → session: the hashing thread takes each
        // block (moved, not copied), hashes it and passes it on in order.
        let (read_tx, helper) = match hasher {
            Some(mut h) => {
                let (read_tx, hash_rx) = mpsc::sync_channel::<Block>(DEPTH);
                let spawned = std::thread::Builder::new()
                    .name("fd-hash".into())
                    .spawn(move || {
                        for b in hash_rx {
                            let failed = match &b {
                                Block::Data(d) => {
                                    h.update(d);
                                    false
                                }
                                Block::Failed(_) => true,
                            };
                            if filled_tx.send(b).is_err() || failed {
                                return None;
                            }
                        }
                        // The reader finished the file.
                        Some(h)
                    });
                match spawned {
                    Ok(t) => (read_tx, Some(t)),
                    Err(_) => return Err(Box::new((file, spare_hasher))),
                }
            }
            None => (filled_tx, None),
        };
        let spawned = std::thread::Builder::new()
            .name("fd-read".into())
            .spawn(move || {
                let mut f = file;
                let mut allocated = 0;
                loop {
                    let mut buf = match free_rx.try_recv() {
                        Ok(b) => b,
                        Err(TryRecvError::Empty) if allocated < DEPTH => {
                            allocated += 1;
                            Vec::with_capacity(block)
                        }
                        Err(TryRecvError::Empty) => match free_rx.recv() {
                            Ok(b) => b,
                            // The session dropped the file before its end.
                            Err(_) => return None,
                        },
                        Err(TryRecvError::Disconnected) => return None,
                    };
                    let failed = fill(&mut f, &mut buf, block);
                    let last = buf.len() < block;
                    if !buf.is_empty() && read_tx.send(Block::Data(buf)).is_err() {
                        return None;
                    }
                    if let Some(e) = failed {
                        let _ = read_tx.send(Block::Failed(e));
                        return None;
                    }
                    if last {
                        return None;
                    }
                }
            });
        match (spawned, spare) {
            (Ok(reader), _) => Ok(ReadAhead {
                filled,
                free,
                cur: Vec::new(),
                pos: 0,
                failed: None,
                eof: false,
                helper: helper.or(Some(reader)),
            }),
            (Err(_), Ok(f)) => Err(Box::new((f, spare_hasher))),
            // Neither a thread nor a second handle: report it as a read error.
            (Err(e), Err(_)) => Ok(ReadAhead {
                filled: mpsc::sync_channel(0).1,
                free: mpsc::sync_channel(1).0,
                cur: Vec::new(),
                pos: 0,
                failed: Some(e),
                eof: false,
                helper: None,
            }),
        }
    }

    /// The hash state after the helper hashed every byte of the file, once [`read`](Self::read)
    /// has returned the end of the file; `None` if there was no hasher, the file was not read
    /// to its end, or reading failed.
    pub fn finish_hash(mut self) -> Option<StandardHasher> {
        if !self.eof {
            return None;
        }
        // At the end of the file the helper has returned (it closed `filled`).
        self.helper.take()?.join().ok().flatten()
    }

    /// Fill `buf` as a `read()` loop would: as many bytes as the file has, up to
    /// `buf.len()`; an error only when no byte was read before it.
    pub fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut n = 0;
        while n < buf.len() {
            let avail = self.cur.get(self.pos..).unwrap_or(&[]);
            if !avail.is_empty() {
                let k = avail.len().min(buf.len() - n);
                if let (Some(d), Some(s)) = (buf.get_mut(n..n + k), avail.get(..k)) {
                    d.copy_from_slice(s);
                }
                n += k;
                self.pos += k;
                continue;
            }
            if let Some(e) = self.failed.take() {
                if n > 0 {
                    self.failed = Some(e);
                    break;
                }
                return Err(e);
            }
            if self.eof {
                break;
            }
            if self.cur.capacity() > 0 {
                // Back to the helper (a full or closed channel only drops the buffer).
                let _ = self.free.try_send(std::mem::take(&mut self.cur));
            }
            self.pos = 0;
            match self.filled.recv() {
                Ok(Block::Data(d)) => self.cur = d,
                Ok(Block::Failed(e)) => self.failed = Some(e),
                Err(_) => self.eof = true,
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn data(n: usize) -> Vec<u8> {
        (0..n)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
            .collect()
    }

    #[test]
    fn reads_the_same_bytes_as_read_in_any_call_sizes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        let want = data(3 * 1024 * 1024 + 12_345);
        std::fs::File::create(&p).unwrap().write_all(&want).unwrap();
        for (skip, block, call) in [
            (0usize, 262_144usize, 262_144usize),
            (1000, 65_536, 100_003),
            (262_144, 262_144, 7_777),
        ] {
            let mut f = File::open(&p).unwrap();
            let mut got = vec![0u8; skip];
            f.read_exact(&mut got).unwrap();
            let mut ra = ReadAhead::start(f, block, None).unwrap();
            let mut buf = vec![0u8; call];
            loop {
                let n = ra.read(&mut buf).unwrap();
                got.extend_from_slice(&buf[..n]);
                if n < call {
                    break;
                }
            }
            assert_eq!(ra.read(&mut buf).unwrap(), 0);
            assert_eq!(got.len(), want.len(), "{skip} {block} {call}");
            assert!(got == want, "{skip} {block} {call}");
        }
    }

    fn sha256(d: &[u8]) -> Vec<u8> {
        use fd_core::fd::platform::DigestProvider;
        let mut h = fd_core::fd::platform::StandardDigests
            .hasher(fd_core::wire::attr::DigestKind::Sha256)
            .unwrap();
        h.update(d);
        let mut out = [0u8; 64];
        let n = h.finish(&mut out);
        out[..n].to_vec()
    }

    #[test]
    fn the_helper_hashes_every_byte_it_hands_over() {
        use fd_core::fd::platform::DigestProvider;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        let want = data(2 * 262_144 + 999);
        std::fs::File::create(&p).unwrap().write_all(&want).unwrap();
        // The caller hashed the first 1000 bytes itself, the helper hashes the rest.
        for block in [262_144usize, 65_536] {
            let mut f = File::open(&p).unwrap();
            let mut head = vec![0u8; 1000];
            f.read_exact(&mut head).unwrap();
            let mut h = fd_core::fd::platform::StandardDigests
                .hasher(fd_core::wire::attr::DigestKind::Sha256)
                .unwrap();
            h.update(&head);
            let mut ra = ReadAhead::start(f, block, Some(h)).unwrap();
            let mut buf = vec![0u8; 100_000];
            while ra.read(&mut buf).unwrap() == buf.len() {}
            let h = ra.finish_hash().expect("hashed to the end");
            let mut out = [0u8; 64];
            let n = h.finish(&mut out);
            assert_eq!(out[..n], sha256(&want)[..], "block {block}");
        }
        // Not read to the end: no digest.
        let mut ra = ReadAhead::start(
            File::open(&p).unwrap(),
            65_536,
            fd_core::fd::platform::StandardDigests.hasher(fd_core::wire::attr::DigestKind::Sha256),
        )
        .unwrap();
        let mut buf = vec![0u8; 1000];
        assert_eq!(ra.read(&mut buf).unwrap(), 1000);
        assert!(ra.finish_hash().is_none());
    }

    #[test]
    fn dropping_it_midway_stops_the_helper() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::File::create(&p)
            .unwrap()
            .write_all(&data(8 << 20))
            .unwrap();
        let mut ra = ReadAhead::start(File::open(&p).unwrap(), 65_536, None).unwrap();
        let mut buf = vec![0u8; 1000];
        assert_eq!(ra.read(&mut buf).unwrap(), 1000);
        drop(ra);
    }
}
