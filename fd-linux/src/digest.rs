//! File digests with the hashing of large files on a helper thread.
//!
//! fd-core's session runs one file's read → hash → send loop on one task; with TLS on the SD
//! connection, SHA-256 and the record cipher then share one core. [`PipelinedDigests`]
//! hashes the first [`INLINE_LIMIT`] bytes of a file inline (small files cost no thread)
//! and then moves the running hash to a helper thread: each chunk is copied into a recycled
//! buffer and handed over through a bounded channel, so the digest of chunk *n* runs while
//! the session encrypts and sends chunk *n* and reads chunk *n + 1*. The result is the same
//! digest ([`StandardHasher`] does the work either way).
//!
//! Since the source hashes what it reads itself ([`crate::source::LinuxSource`] accepts
//! fd-core's `FileSource::hash_reads`; a large file is then hashed on its read-ahead thread,
//! without this copy), the core uses these hashers only where it must hash what it sends
//! rather than what it reads: sparse streams, whose all-zero chunks are left out of the
//! digest.

use std::sync::mpsc::{self, Receiver, SyncSender};
use std::thread::JoinHandle;

use fd_core::fd::platform::{DigestProvider, Hasher, StandardDigests, StandardHasher};
use fd_core::wire::attr::{DigestKind, MAX_DIGEST_LEN};

/// Bytes hashed inline before a file's hash moves to a helper thread.
pub const INLINE_LIMIT: u64 = 4 << 20;

/// Chunks in flight between the session and the helper thread (each at most one network
/// buffer, 256 KiB by default).
const IN_FLIGHT: usize = 4;

/// fd-core's [`StandardDigests`], pipelined for large files; see the module docs.
#[derive(Debug, Clone, Copy, Default)]
pub struct PipelinedDigests;

/// A running digest: inline, then on a helper thread.
pub enum PipelinedHasher {
    /// Still hashing on the caller's thread.
    Inline {
        /// The hash state.
        hasher: StandardHasher,
        /// Bytes fed so far.
        fed: u64,
    },
    /// Hashing on a helper thread.
    Threaded(Worker),
    /// The helper thread could not be started or died; the digest is lost (`finish` writes
    /// nothing, so no digest record is sent, as for an unavailable algorithm).
    Failed,
}

/// The helper thread of one file.
#[derive(Debug)]
pub struct Worker {
    tx: SyncSender<Vec<u8>>,
    free: Receiver<Vec<u8>>,
    allocated: usize,
    handle: JoinHandle<([u8; MAX_DIGEST_LEN], usize)>,
}

impl std::fmt::Debug for PipelinedHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PipelinedHasher::Inline { .. } => "PipelinedHasher::Inline",
            PipelinedHasher::Threaded(_) => "PipelinedHasher::Threaded",
            PipelinedHasher::Failed => "PipelinedHasher::Failed",
        })
    }
}

impl Worker {
    fn start(hasher: StandardHasher) -> Option<Self> {
        let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(IN_FLIGHT);
        let (back, free) = mpsc::sync_channel::<Vec<u8>>(IN_FLIGHT + 1);
        let handle = std::thread::Builder::new()
            .name("fd-digest".into())
            .spawn(move || {
                let mut h = hasher;
                for chunk in rx {
                    h.update(&chunk);
                    // The session may be gone; a full or closed return channel only
                    // means the buffer is dropped.
                    let _ = back.try_send(chunk);
                }
                let mut out = [0u8; MAX_DIGEST_LEN];
                let n = h.finish(&mut out);
                (out, n)
            })
            .ok()?;
        Some(Worker {
            tx,
            free,
            allocated: 0,
            handle,
        })
    }

    fn send(&mut self, data: &[u8]) -> bool {
        let mut buf = match self.free.try_recv() {
            Ok(b) => b,
            Err(_) if self.allocated < IN_FLIGHT + 1 => {
                self.allocated += 1;
                Vec::with_capacity(data.len())
            }
            // All buffers in flight: wait for one back.
            Err(_) => match self.free.recv() {
                Ok(b) => b,
                Err(_) => return false,
            },
        };
        buf.clear();
        buf.extend_from_slice(data);
        self.tx.send(buf).is_ok()
    }
}

impl Hasher for PipelinedHasher {
    fn update(&mut self, data: &[u8]) {
        match self {
            PipelinedHasher::Inline { hasher, fed } => {
                hasher.update(data);
                *fed += data.len() as u64;
                if *fed >= INLINE_LIMIT {
                    let h = std::mem::replace(self, PipelinedHasher::Failed);
                    if let PipelinedHasher::Inline { hasher, .. } = h {
                        if let Some(w) = Worker::start(hasher) {
                            *self = PipelinedHasher::Threaded(w);
                        } else {
                            log::warn!("could not start a digest thread; the digest is lost");
                        }
                    }
                }
            }
            PipelinedHasher::Threaded(w) => {
                if !w.send(data) {
                    log::warn!("the digest thread stopped; the digest is lost");
                    *self = PipelinedHasher::Failed;
                }
            }
            PipelinedHasher::Failed => {}
        }
    }

    fn finish(self, out: &mut [u8]) -> usize {
        match self {
            PipelinedHasher::Inline { hasher, .. } => hasher.finish(out),
            PipelinedHasher::Threaded(w) => {
                drop(w.tx);
                match w.handle.join() {
                    Ok((d, n)) => {
                        let n = n.min(out.len());
                        if let (Some(o), Some(s)) = (out.get_mut(..n), d.get(..n)) {
                            o.copy_from_slice(s);
                        }
                        n
                    }
                    Err(_) => 0,
                }
            }
            PipelinedHasher::Failed => 0,
        }
    }
}

impl DigestProvider for PipelinedDigests {
    type Hasher = PipelinedHasher;
    fn hasher(&self, kind: DigestKind) -> Option<PipelinedHasher> {
        StandardDigests
            .hasher(kind)
            .map(|hasher| PipelinedHasher::Inline { hasher, fed: 0 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest<D: DigestProvider>(d: &D, kind: DigestKind, data: &[u8], chunk: usize) -> Vec<u8> {
        let mut h = d.hasher(kind).unwrap();
        for c in data.chunks(chunk) {
            h.update(c);
        }
        let mut out = [0u8; MAX_DIGEST_LEN];
        let n = h.finish(&mut out);
        out[..n].to_vec()
    }

    #[test]
    fn pipelined_digests_equal_the_inline_ones() {
        let data: Vec<u8> = (0..(INLINE_LIMIT as usize + 600_001))
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        for kind in [
            DigestKind::Md5,
            DigestKind::Sha1,
            DigestKind::Sha256,
            DigestKind::Sha512,
        ] {
            for chunk in [262_144, 65_536 + 7] {
                let want = digest(&StandardDigests, kind, &data, chunk);
                let got = digest(&PipelinedDigests, kind, &data, chunk);
                assert_eq!(got, want, "{kind:?} chunk {chunk}");
                assert!(!got.is_empty());
            }
            // Small input: stays inline.
            assert_eq!(
                digest(&PipelinedDigests, kind, b"abc", 1),
                digest(&StandardDigests, kind, b"abc", 1)
            );
        }
    }
}
