//! Job state shared between Director sessions: running jobs (for `status`, `.status` and
//! `cancel`) and the list of terminated jobs.
//!
//! Bareos keeps a global `JobControlRecord` list protected by a mutex; `cancel Job=…` arrives
//! on a *second* Director connection, finds the job by its unique name, sets its status to
//! 'A' and pokes its sockets (`core/src/filed/dir_cmd.cc` `CancelCmd()`, jobs.md §1.14). Here
//! the shared state is a [`JobTable`] of fixed slots made only of atomics, so it can live in a
//! `static` (or be borrowed by every session task) on a board without an allocator or a
//! mutex, and it is `Sync` without `unsafe`. A running job holds a [`JobHandle`] to its slot
//! and checks [`JobHandle::is_canceled`] between files and between data chunks; a blocking
//! read from the SD is not interrupted (the platform may close the socket for that).
//!
//! Readers (status) may see a job's counters mid-update; each counter is a single atomic, so a
//! value is never torn, but two counters may come from different moments — the same as
//! Bareos, which reads them without the job lock.

// portable-atomic: the same types as core::sync::atomic, also on thumbv6m and riscv32imc,
// which have no compare-and-swap (feature `critical-section`).
use portable_atomic::{AtomicBool, AtomicU32, AtomicU8, Ordering};

use crate::wire::codes::{JobLevel, JobStatus, JobType};

/// Longest job name kept (the `%127s` scan limit).
pub const MAX_NAME: usize = 127;
/// How many terminated jobs `status` lists (Bareos keeps 10 in its "last jobs" list).
pub const TERMINATED_JOBS: usize = 10;

const FREE: u8 = 0;
const BUSY: u8 = 1;
const READY: u8 = 2;

struct Name {
    len: AtomicU8,
    bytes: [AtomicU8; MAX_NAME],
}

impl Name {
    const fn new() -> Self {
        Self {
            len: AtomicU8::new(0),
            bytes: [const { AtomicU8::new(0) }; MAX_NAME],
        }
    }

    fn store(&self, name: &[u8]) {
        let n = name.len().min(MAX_NAME);
        for (dst, &b) in self.bytes.iter().zip(name.iter().take(n)) {
            dst.store(b, Ordering::Relaxed);
        }
        self.len.store(n as u8, Ordering::Release);
    }

    fn eq(&self, name: &[u8]) -> bool {
        let n = usize::from(self.len.load(Ordering::Acquire));
        n == name.len()
            && self
                .bytes
                .iter()
                .zip(name)
                .all(|(a, &b)| a.load(Ordering::Relaxed) == b)
    }

    fn copy(&self, out: &mut [u8]) -> usize {
        let n = usize::from(self.len.load(Ordering::Acquire)).min(out.len());
        for (o, a) in out.iter_mut().zip(self.bytes.iter()).take(n) {
            *o = a.load(Ordering::Relaxed);
        }
        n
    }
}

/// A running job's slot.
struct Slot {
    state: AtomicU8,
    job_id: AtomicU32,
    name: Name,
    cancel: AtomicBool,
    status: AtomicU8,
    level: AtomicU8,
    job_type: AtomicU8,
    started: AtomicU32,
    files: AtomicU32,
    bytes: AtomicU32,
    bytes_hi: AtomicU32,
    errors: AtomicU32,
    bwlimit: AtomicU32,
}

impl Slot {
    const fn new() -> Self {
        Self {
            state: AtomicU8::new(FREE),
            job_id: AtomicU32::new(0),
            name: Name::new(),
            cancel: AtomicBool::new(false),
            status: AtomicU8::new(0),
            level: AtomicU8::new(b' '),
            job_type: AtomicU8::new(b' '),
            started: AtomicU32::new(0),
            files: AtomicU32::new(0),
            bytes: AtomicU32::new(0),
            bytes_hi: AtomicU32::new(0),
            errors: AtomicU32::new(0),
            bwlimit: AtomicU32::new(0),
        }
    }
}

/// One finished job, as `status` lists it.
struct Terminated {
    state: AtomicU8,
    seq: AtomicU32,
    job_id: AtomicU32,
    name: Name,
    status: AtomicU8,
    level: AtomicU8,
    job_type: AtomicU8,
    finished: AtomicU32,
    files: AtomicU32,
    bytes: AtomicU32,
    bytes_hi: AtomicU32,
    errors: AtomicU32,
}

impl Terminated {
    const fn new() -> Self {
        Self {
            state: AtomicU8::new(FREE),
            seq: AtomicU32::new(0),
            job_id: AtomicU32::new(0),
            name: Name::new(),
            status: AtomicU8::new(0),
            level: AtomicU8::new(b' '),
            job_type: AtomicU8::new(b' '),
            finished: AtomicU32::new(0),
            files: AtomicU32::new(0),
            bytes: AtomicU32::new(0),
            bytes_hi: AtomicU32::new(0),
            errors: AtomicU32::new(0),
        }
    }
}

/// A snapshot of one job (running or terminated) for status output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobInfo {
    /// JobId.
    pub job_id: u32,
    /// Unique job name bytes (valid up to `name_len`).
    pub name: [u8; MAX_NAME],
    /// Length of the name.
    pub name_len: usize,
    /// Status letter.
    pub status: JobStatus,
    /// Level letter.
    pub level: JobLevel,
    /// Type letter.
    pub job_type: JobType,
    /// Start (running) or end (terminated) time, unix seconds.
    pub time: u32,
    /// Files so far.
    pub files: u32,
    /// Bytes so far.
    pub bytes: u64,
    /// Errors so far.
    pub errors: u32,
    /// Bandwidth limit in bytes/s (running jobs).
    pub bwlimit: u32,
}

impl JobInfo {
    /// The name as a slice.
    pub fn name(&self) -> &[u8] {
        self.name.get(..self.name_len).unwrap_or(&[])
    }
}

/// The shared table; `N` = the most jobs that may run at once (Bareos' `MaximumConcurrentJobs`).
pub struct JobTable<const N: usize> {
    slots: [Slot; N],
    terminated: [Terminated; TERMINATED_JOBS],
    next_seq: AtomicU32,
    jobs_run: AtomicU32,
}

impl<const N: usize> Default for JobTable<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> core::fmt::Debug for JobTable<N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("JobTable")
            .field("capacity", &N)
            .field("running", &self.running())
            .finish()
    }
}

impl<const N: usize> JobTable<N> {
    /// An empty table (usable in a `static`).
    pub const fn new() -> Self {
        Self {
            slots: [const { Slot::new() }; N],
            terminated: [const { Terminated::new() }; TERMINATED_JOBS],
            next_seq: AtomicU32::new(1),
            jobs_run: AtomicU32::new(0),
        }
    }

    /// Register a running job; `None` when all `N` slots are taken.
    pub fn start(&self, job_id: u32, name: &[u8], started: i64) -> Option<JobHandle<'_>> {
        let slot = self.slots.iter().find(|s| {
            s.state
                .compare_exchange(FREE, BUSY, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        })?;
        slot.job_id.store(job_id, Ordering::Relaxed);
        slot.name.store(name);
        slot.cancel.store(false, Ordering::Relaxed);
        slot.status
            .store(JobStatus::Created.to_u8(), Ordering::Relaxed);
        slot.level.store(b' ', Ordering::Relaxed);
        slot.job_type.store(b' ', Ordering::Relaxed);
        slot.started
            .store(u32::try_from(started).unwrap_or(0), Ordering::Relaxed);
        for c in [
            &slot.files,
            &slot.bytes,
            &slot.bytes_hi,
            &slot.errors,
            &slot.bwlimit,
        ] {
            c.store(0, Ordering::Relaxed);
        }
        slot.state.store(READY, Ordering::Release);
        Some(JobHandle {
            slot,
            terminated: &self.terminated,
            next_seq: &self.next_seq,
            jobs_run: &self.jobs_run,
        })
    }

    /// Mark the running job `name` canceled; false if no such job runs.
    pub fn cancel(&self, name: &[u8]) -> bool {
        for s in &self.slots {
            if s.state.load(Ordering::Acquire) == READY && s.name.eq(name) {
                s.cancel.store(true, Ordering::Release);
                s.status
                    .store(JobStatus::Canceled.to_u8(), Ordering::Release);
                return true;
            }
        }
        false
    }

    /// Set the bandwidth limit of the running job `name`; false if no such job runs.
    pub fn set_bandwidth(&self, name: &[u8], limit: u32) -> bool {
        for s in &self.slots {
            if s.state.load(Ordering::Acquire) == READY && s.name.eq(name) {
                s.bwlimit.store(limit, Ordering::Release);
                return true;
            }
        }
        false
    }

    /// Number of running jobs.
    pub fn running(&self) -> usize {
        self.slots
            .iter()
            .filter(|s| s.state.load(Ordering::Acquire) == READY)
            .count()
    }

    /// Number of jobs run since start (`Jobs: run=`).
    pub fn jobs_run(&self) -> u32 {
        self.jobs_run.load(Ordering::Relaxed)
    }

    /// The `i`-th running job (in slot order).
    pub fn running_job(&self, i: usize) -> Option<JobInfo> {
        let s = self
            .slots
            .iter()
            .filter(|s| s.state.load(Ordering::Acquire) == READY)
            .nth(i)?;
        let mut info = JobInfo {
            job_id: s.job_id.load(Ordering::Relaxed),
            name: [0; MAX_NAME],
            name_len: 0,
            status: JobStatus::from_u8(s.status.load(Ordering::Relaxed)),
            level: JobLevel::from_u8(s.level.load(Ordering::Relaxed)),
            job_type: JobType::from_u8(s.job_type.load(Ordering::Relaxed)),
            time: s.started.load(Ordering::Relaxed),
            files: s.files.load(Ordering::Relaxed),
            bytes: u64::from(s.bytes_hi.load(Ordering::Relaxed)) << 32
                | u64::from(s.bytes.load(Ordering::Relaxed)),
            errors: s.errors.load(Ordering::Relaxed),
            bwlimit: s.bwlimit.load(Ordering::Relaxed),
        };
        info.name_len = s.name.copy(&mut info.name);
        Some(info)
    }

    /// The terminated jobs, oldest first: the `i`-th one.
    pub fn terminated_job(&self, i: usize) -> Option<JobInfo> {
        let mut order: [(u32, usize); TERMINATED_JOBS] = [(0, 0); TERMINATED_JOBS];
        let mut n = 0;
        for (idx, t) in self.terminated.iter().enumerate() {
            if t.state.load(Ordering::Acquire) == READY {
                if let Some(o) = order.get_mut(n) {
                    *o = (t.seq.load(Ordering::Relaxed), idx);
                    n += 1;
                }
            }
        }
        let used = order.get_mut(..n)?;
        used.sort_unstable();
        let &(_, idx) = used.get(i)?;
        let t = self.terminated.get(idx)?;
        let mut info = JobInfo {
            job_id: t.job_id.load(Ordering::Relaxed),
            name: [0; MAX_NAME],
            name_len: 0,
            status: JobStatus::from_u8(t.status.load(Ordering::Relaxed)),
            level: JobLevel::from_u8(t.level.load(Ordering::Relaxed)),
            job_type: JobType::from_u8(t.job_type.load(Ordering::Relaxed)),
            time: t.finished.load(Ordering::Relaxed),
            files: t.files.load(Ordering::Relaxed),
            bytes: u64::from(t.bytes_hi.load(Ordering::Relaxed)) << 32
                | u64::from(t.bytes.load(Ordering::Relaxed)),
            errors: t.errors.load(Ordering::Relaxed),
            bwlimit: 0,
        };
        info.name_len = t.name.copy(&mut info.name);
        Some(info)
    }
}

/// A running job's handle to its slot. Dropping it without [`JobHandle::finish`] frees the
/// slot without recording the job.
pub struct JobHandle<'t> {
    slot: &'t Slot,
    terminated: &'t [Terminated; TERMINATED_JOBS],
    next_seq: &'t AtomicU32,
    jobs_run: &'t AtomicU32,
}

impl core::fmt::Debug for JobHandle<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("JobHandle")
            .field("job_id", &self.slot.job_id.load(Ordering::Relaxed))
            .finish()
    }
}

impl JobHandle<'_> {
    /// True once a `cancel` arrived for this job.
    pub fn is_canceled(&self) -> bool {
        self.slot.cancel.load(Ordering::Acquire)
    }

    /// Set the status letter (a canceled job stays 'A').
    pub fn set_status(&self, status: JobStatus) {
        if !self.is_canceled() {
            self.slot.status.store(status.to_u8(), Ordering::Release);
        }
    }

    /// Current status letter.
    pub fn status(&self) -> JobStatus {
        JobStatus::from_u8(self.slot.status.load(Ordering::Acquire))
    }

    /// Set level and type letters.
    pub fn set_kind(&self, level: JobLevel, job_type: JobType) {
        self.slot.level.store(level.to_u8(), Ordering::Relaxed);
        self.slot
            .job_type
            .store(job_type.to_u8(), Ordering::Relaxed);
    }

    /// Publish the counters.
    pub fn set_counters(&self, files: u32, bytes: u64, errors: u32) {
        self.slot.files.store(files, Ordering::Relaxed);
        self.slot.bytes.store(bytes as u32, Ordering::Relaxed);
        self.slot
            .bytes_hi
            .store((bytes >> 32) as u32, Ordering::Relaxed);
        self.slot.errors.store(errors, Ordering::Relaxed);
    }

    /// The bandwidth limit set by `setbandwidth` (bytes/s, 0 = none).
    pub fn bwlimit(&self) -> u32 {
        self.slot.bwlimit.load(Ordering::Acquire)
    }

    /// Set the bandwidth limit.
    pub fn set_bwlimit(&self, limit: u32) {
        self.slot.bwlimit.store(limit, Ordering::Release);
    }

    /// Record the job in the terminated list and free the slot.
    pub fn finish(self, finished: i64) {
        let s = self.slot;
        // Reuse the oldest (or a free) record.
        let victim = self
            .terminated
            .iter()
            .min_by_key(|t| {
                if t.state.load(Ordering::Acquire) == READY {
                    t.seq.load(Ordering::Relaxed)
                } else {
                    0
                }
            })
            .filter(|t| {
                let st = t.state.load(Ordering::Acquire);
                t.state
                    .compare_exchange(st, BUSY, Ordering::AcqRel, Ordering::Relaxed)
                    .is_ok()
                    && st != BUSY
            });
        if let Some(t) = victim {
            t.job_id
                .store(s.job_id.load(Ordering::Relaxed), Ordering::Relaxed);
            let mut name = [0u8; MAX_NAME];
            let n = s.name.copy(&mut name);
            t.name.store(name.get(..n).unwrap_or(&[]));
            for (dst, src) in [
                (&t.status, &s.status),
                (&t.level, &s.level),
                (&t.job_type, &s.job_type),
            ] {
                dst.store(src.load(Ordering::Relaxed), Ordering::Relaxed);
            }
            for (dst, src) in [
                (&t.files, &s.files),
                (&t.bytes, &s.bytes),
                (&t.bytes_hi, &s.bytes_hi),
                (&t.errors, &s.errors),
            ] {
                dst.store(src.load(Ordering::Relaxed), Ordering::Relaxed);
            }
            t.finished
                .store(u32::try_from(finished).unwrap_or(0), Ordering::Relaxed);
            t.seq.store(
                self.next_seq.fetch_add(1, Ordering::Relaxed),
                Ordering::Relaxed,
            );
            t.state.store(READY, Ordering::Release);
        }
        self.jobs_run.fetch_add(1, Ordering::Relaxed);
        // Drop frees the slot.
    }
}

impl Drop for JobHandle<'_> {
    fn drop(&mut self) {
        self.slot.state.store(FREE, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancel_reaches_a_running_job_by_name() {
        let t: JobTable<2> = JobTable::new();
        let h = t.start(4, b"Slow.2026-11-22_16.46.10_11", 100).unwrap();
        assert!(!t.cancel(b"Other"));
        assert!(!h.is_canceled());
        assert!(t.cancel(b"Slow.2026-11-22_16.46.10_11"));
        assert!(h.is_canceled());
        h.set_status(JobStatus::Terminated);
        assert_eq!(h.status(), JobStatus::Canceled);
        h.finish(200);
        assert_eq!(t.running(), 0);
        let j = t.terminated_job(0).unwrap();
        assert_eq!(j.status, JobStatus::Canceled);
        assert_eq!(j.name(), b"Slow.2026-11-22_16.46.10_11");
        assert!(t.terminated_job(1).is_none());
    }

    #[test]
    fn slots_are_bounded_and_terminated_list_keeps_the_newest() {
        let t: JobTable<1> = JobTable::new();
        let h = t.start(1, b"a", 0).unwrap();
        assert!(t.start(2, b"b", 0).is_none());
        h.finish(1);
        for i in 0..(TERMINATED_JOBS as u32 + 3) {
            let h = t.start(10 + i, b"x", 0).unwrap();
            h.set_counters(i, u64::from(i) << 33, 0);
            h.finish(i64::from(i));
        }
        let first = t.terminated_job(0).unwrap();
        assert_eq!(first.job_id, 13);
        assert_eq!(first.bytes, 3u64 << 33);
        let last = t.terminated_job(TERMINATED_JOBS - 1).unwrap();
        assert_eq!(last.job_id, 10 + TERMINATED_JOBS as u32 + 2);
        assert_eq!(t.jobs_run(), TERMINATED_JOBS as u32 + 4);
    }
}
