//! CPU time of a process and of its threads, from `/proc` (for the benchmarks).
//!
//! `utime` and `stime` are in clock ticks of 1/100 s (Linux' `USER_HZ` on every architecture
//! it supports). A process' total includes the threads that have ended; a per-thread sample
//! only has the live ones, so [`split`] reports what ended between two samples separately.

use std::collections::HashMap;

/// A command running `bin`, under `taskset -c «cpus»` when the environment variable `var`
/// names CPUs (a benchmark pins the daemon it measures that way, and itself with
/// `taskset -c` the other CPUs, so that the daemon's rate on its own cores is measured).
pub fn pinned_command(bin: &std::path::Path, var: &str) -> std::process::Command {
    match std::env::var(var) {
        Ok(cpus) if !cpus.is_empty() => {
            let mut c = std::process::Command::new("taskset");
            c.arg("-c").arg(cpus).arg(bin);
            c
        }
        _ => std::process::Command::new(bin),
    }
}

/// User + system CPU seconds of the `stat` file at `path`.
fn stat_seconds(path: &str) -> Option<(String, f64)> {
    let s = std::fs::read_to_string(path).ok()?;
    let (head, after) = s.rsplit_once(')')?;
    let comm = head.split_once('(').map(|x| x.1).unwrap_or("").to_string();
    // Fields after the command name: state is field 3, utime and stime are 14 and 15.
    let f: Vec<&str> = after.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    Some((comm, (tick(11) + tick(12)) / 100.0))
}

/// User + system CPU seconds of process `pid` (0.0 if it is gone).
pub fn cpu_seconds(pid: u32) -> f64 {
    stat_seconds(&format!("/proc/{pid}/stat")).map_or(0.0, |x| x.1)
}

/// Thread id → (name, CPU seconds).
type PerThread = HashMap<u32, (String, f64)>;

/// A thread name (or group) and its CPU seconds.
pub type ByName = (String, f64);

/// A sample of every live thread of a process: thread id → (name, CPU seconds), and the
/// process total.
#[derive(Debug, Clone, Default)]
pub struct Threads {
    /// Per thread.
    pub threads: PerThread,
    /// The process' total (ended threads included).
    pub total: f64,
}

/// Sample the threads of `pid`.
pub fn threads(pid: u32) -> Threads {
    let mut out = Threads {
        total: cpu_seconds(pid),
        ..Threads::default()
    };
    if let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for e in dir.flatten() {
            let Some(tid) = e.file_name().to_str().and_then(|t| t.parse::<u32>().ok()) else {
                continue;
            };
            if let Some(s) = stat_seconds(&format!("/proc/{pid}/task/{tid}/stat")) {
                out.threads.insert(tid, s);
            }
        }
    }
    out
}

/// CPU seconds spent between two samples, by thread name (threads of the same name added
/// up), biggest first; the time of threads that ended in between is the entry
/// `ended_as` (a caller that knows which threads come and go names it after them).
pub fn split(before: &Threads, after: &Threads, ended_as: &str) -> Vec<(String, f64)> {
    let mut by: HashMap<String, f64> = HashMap::new();
    let mut live = 0.0;
    for (tid, (name, cpu)) in &after.threads {
        let d = cpu - before.threads.get(tid).map_or(0.0, |x| x.1);
        live += d;
        *by.entry(name.clone()).or_default() += d;
    }
    let ended = (after.total - before.total - live).max(0.0);
    if ended > 0.0 {
        *by.entry(ended_as.to_string()).or_default() += ended;
    }
    let mut v: Vec<(String, f64)> = by.into_iter().filter(|x| x.1 > 0.0).collect();
    v.sort_by(|a, b| b.1.total_cmp(&a.1));
    v
}

/// Samples the threads of a process every few milliseconds on a thread of its own, so that
/// threads which end during a run (a connection's thread, a file's reader) are counted up to
/// their last sample.
#[derive(Debug)]
pub struct Sampler {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<(Threads, PerThread)>>,
}

impl Sampler {
    /// Start sampling `pid` every `every`.
    pub fn start(pid: u32, every: std::time::Duration) -> Self {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let first = threads(pid);
            let mut last = first.threads.clone();
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                std::thread::sleep(every);
                last.extend(threads(pid).threads);
            }
            last.extend(threads(pid).threads);
            (first, last)
        });
        Sampler {
            stop,
            thread: Some(thread),
        }
    }

    /// Stop; CPU seconds by thread name since the start, biggest first, with what no sample
    /// caught (the last moments of threads that ended) as `unsampled`.
    pub fn finish(self, pid: u32) -> Vec<(String, f64)> {
        self.finish_with_busiest(pid).0
    }

    /// [`finish`](Self::finish), and the single thread that used the most CPU (its name and
    /// seconds): threads of one name (a daemon whose threads all carry its name) are told
    /// apart here.
    pub fn finish_with_busiest(mut self, pid: u32) -> (Vec<ByName>, Option<ByName>) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let total = cpu_seconds(pid);
        let Some((first, last)) = self.thread.take().and_then(|t| t.join().ok()) else {
            return (Vec::new(), None);
        };
        let busiest = last
            .iter()
            .map(|(tid, (name, cpu))| {
                let d = cpu - first.threads.get(tid).map_or(0.0, |x| x.1);
                (name.clone(), d)
            })
            .max_by(|a, b| a.1.total_cmp(&b.1));
        let after = Threads {
            threads: last,
            total,
        };
        (split(&first, &after, "unsampled"), busiest)
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tests measure this process' threads: one at a time, so that one test's spinning
    /// thread is not counted by the other.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

    fn serial() -> std::sync::MutexGuard<'static, ()> {
        ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Spin until this thread has used 300 ms of CPU (CPU time, not wall time: the test
    /// must hold on a loaded machine too).
    fn spin_300ms() -> u64 {
        let mut x = 0u64;
        while stat_seconds("/proc/thread-self/stat").map_or(0.0, |s| s.1) < 0.3 {
            for _ in 0..100_000 {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            }
        }
        x
    }

    #[test]
    fn a_busy_thread_shows_under_its_name() {
        let _one = serial();
        let me = std::process::id();
        let before = threads(me);
        let t = std::thread::Builder::new()
            .name("spin-test".into())
            .spawn(spin_300ms)
            .unwrap();
        // Sample while it runs, then after it ended.
        std::thread::sleep(std::time::Duration::from_millis(50));
        let during = threads(me);
        assert!(during.threads.values().any(|(n, _)| n == "spin-test"));
        t.join().unwrap();
        let after = threads(me);
        let s = split(&before, &after, "ended");
        let ended = s.iter().find(|x| x.0 == "ended").map_or(0.0, |x| x.1);
        assert!(ended >= 0.1, "{s:?}");
        assert!(after.total >= before.total + 0.1);
    }

    #[test]
    fn the_sampler_names_a_thread_that_ended() {
        let _one = serial();
        let me = std::process::id();
        let sampler = Sampler::start(me, std::time::Duration::from_millis(5));
        std::thread::Builder::new()
            .name("spin-sampled".into())
            .spawn(spin_300ms)
            .unwrap()
            .join()
            .unwrap();
        let (s, busiest) = sampler.finish_with_busiest(me);
        assert_eq!(busiest.map(|b| b.0).as_deref(), Some("spin-sampled"));
        let get = |name: &str| s.iter().find(|x| x.0 == name).map_or(0.0, |x| x.1);
        // Named from its samples; what no sample caught is counted as unsampled (a loaded
        // machine may starve the sampler).
        assert!(get("spin-sampled") > 0.0, "{s:?}");
        assert!(get("spin-sampled") + get("unsampled") >= 0.25, "{s:?}");
    }
}
