//! barque-sd throughput over loopback with TLS-PSK on both channels (not a test).
//!
//! ```text
//! cargo build --release -p storage --bins --examples
//! target/release/examples/sd_bench [MEGABYTES] [RECORD_KIB] [ROUNDS]
//! ```
//!
//! Starts the release `barque-sd` binary as its own process (next to this example, or
//! `$BARQUE_SD`; configuration: the captures' `psk` variant, no TLS directives, so TLS-PSK
//! with TLS_CHACHA20_POLY1305_SHA256 on the Director and FD connections) and drives it from
//! a test Director and a test FD in this process, built from barque-common connections. Each
//! round backs up MEGABYTES of file data as RECORD_KIB records (default 512 MB as 64 KiB
//! records, Bareos' default network buffer) and restores it with a bootstrap; rounds are
//! interleaved with a sequential write of the same size into the volume directory, so a
//! noisy machine disturbs both alike.
//!
//! Printed per round and as medians:
//! * MB/s of backup and restore (wall time from the first data message to the job's end,
//!   the SD's `fsync` of the volume included);
//! * the SD process' own CPU seconds per GB (user + system from `/proc/«pid»/stat`), and the
//!   test FD's and Director's (this process) separately;
//! * the disk: MB/s of writing the same number of bytes into the volume directory in 1 MiB
//!   writes with one `fdatasync` at the end (like `dd bs=1M conv=fdatasync`);
//! * the cipher: `openssl speed -evp chacha20-poly1305` at 16 KiB (a TLS record's size),
//!   one core;
//! * ratios: backup rate / disk rate and / cipher rate, and the rate one core could give the
//!   SD at its measured CPU cost (1 / SD CPU s/GB), the figure to compare with barque-fd's.

#[path = "../tests/sd_harness/mod.rs"]
mod sd_harness;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use barque_testkit::proc_cpu;
use fd_core::wire::bnet::Signal;
use fd_core::wire::sd_ctl::{CatReq, SdToDir};
use sd_harness::*;

/// User + system CPU seconds of process `pid`.
fn cpu_seconds(pid: &str) -> f64 {
    pid.parse().map_or(0.0, proc_cpu::cpu_seconds)
}

/// The SD's CPU seconds of a run, split: the volume's writer threads (`sd-write`, which end
/// with their volume) and all the rest (the job: receive, decrypt, pack blocks).
fn sd_parts(pid: &str, sampler: proc_cpu::Sampler) -> (f64, f64) {
    let parts = sampler.finish(pid.parse().unwrap_or(0));
    // Everything but the writer: barque-sd's tokio workers (where a job's task runs, one step
    // after another), or the threads of another SD (`BARQUE_SD=…/bareos-sd`: one per job).
    let tokio: f64 = parts
        .iter()
        .filter(|p| p.0 != "sd-write")
        .map(|p| p.1)
        .sum();
    let writer: f64 = parts
        .iter()
        .filter(|p| p.0 == "sd-write")
        .map(|p| p.1)
        .sum();
    (tokio, writer)
}

fn openssl_chacha_mbs() -> Option<f64> {
    let out = Command::new("openssl")
        .args([
            "speed",
            "-seconds",
            "2",
            "-bytes",
            "16384",
            "-evp",
            "chacha20-poly1305",
        ])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    // Last line: "ChaCha20-Poly1305   123456.78k"
    let line = text
        .lines()
        .rev()
        .find(|l| l.to_lowercase().contains("chacha"))?;
    let v = line.split_whitespace().last()?.trim_end_matches('k');
    v.parse::<f64>().ok().map(|k| k * 1000.0 / 1e6)
}

/// Write `bytes` into a new file in `dir` in 1 MiB writes, `fdatasync` it, remove it;
/// returns MB/s.
fn disk_write_mbs(dir: &Path, bytes: u64) -> std::io::Result<f64> {
    let path = dir.join("sd_bench-disk-test");
    let buf = vec![0xa5u8; 1 << 20];
    let t = Instant::now();
    let mut f = std::fs::File::create(&path)?;
    let mut left = bytes;
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        f.write_all(&buf[..n])?;
        left -= n as u64;
    }
    f.sync_data()?;
    let secs = t.elapsed().as_secs_f64();
    drop(f);
    std::fs::remove_file(&path)?;
    Ok(bytes as f64 / 1e6 / secs)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(39203)
}

fn sd_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("BARQUE_SD") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().unwrap_or_default();
    // target/release/examples/sd_bench -> target/release/barque-sd
    exe.parent()
        .and_then(|p| p.parent())
        .map(|p| p.join("barque-sd"))
        .unwrap_or_else(|| PathBuf::from("barque-sd"))
}

struct SdProcess {
    child: Child,
    port: u16,
    archive: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for SdProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_sd_process() -> SdProcess {
    let bin = sd_binary();
    if !bin.exists() {
        eprintln!(
            "sd_bench: {} not found; build it with `cargo build --release -p storage --bins --examples` or set BARQUE_SD",
            bin.display()
        );
        std::process::exit(2);
    }
    let mtime = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    if let (Some(sd), Some(me)) = (
        mtime(&bin),
        std::env::current_exe().ok().as_deref().and_then(mtime),
    ) {
        if sd < me && std::env::var_os("BARQUE_SD").is_none() {
            eprintln!(
                "sd_bench: warning: {} is older than this benchmark; `cargo run --example` does not rebuild it, `cargo build --release -p storage --bins --examples` does",
                bin.display()
            );
        }
    }
    // The volume directory: $SD_BENCH_DIR (to measure another disk) or a temporary one.
    let dir = match std::env::var_os("SD_BENCH_DIR") {
        Some(d) => tempfile::tempdir_in(d),
        None => tempfile::tempdir(),
    }
    .unwrap_or_else(|e| {
        eprintln!("sd_bench: cannot make a temporary directory: {e}");
        std::process::exit(2)
    });
    let archive = dir.path().join("storage");
    std::fs::create_dir(&archive).unwrap_or_else(|e| {
        eprintln!("sd_bench: cannot create {}: {e}", archive.display());
        std::process::exit(2)
    });
    let port = free_port();
    let conf = dir.path().join("bareos-sd.conf");
    // A Working Directory, so that a real bareos-sd can be measured the same way
    // (`BARQUE_SD=/path/to/bareos-sd`; it does not start without one).
    let text = sd_config_text(&archive, true)
        .replace("port = 39203", &format!("port = {port}"))
        .replace(
            "  Name = bareos-sd\n",
            &format!(
                "  Name = bareos-sd\n  Working Directory = \"{}\"\n",
                dir.path().display()
            ),
        );
    std::fs::write(&conf, text).unwrap_or_else(|e| {
        eprintln!("sd_bench: cannot write {}: {e}", conf.display());
        std::process::exit(2)
    });
    // `SD_BENCH_SD_CPUS=1`: the SD under `taskset -c 1` (run the benchmark itself under
    // `taskset -c 0`), so that the SD's rate on one core is measured, not projected.
    let child = proc_cpu::pinned_command(&bin, "SD_BENCH_SD_CPUS")
        .arg("-f")
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            eprintln!("sd_bench: cannot start {}: {e}", bin.display());
            std::process::exit(2)
        });
    let t = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if t.elapsed() > Duration::from_secs(30) {
            eprintln!("sd_bench: {} does not listen on port {port}", bin.display());
            std::process::exit(2);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    SdProcess {
        child,
        port,
        archive,
        _dir: dir,
    }
}

/// One direction's measurement.
#[derive(Clone, Copy, Default)]
struct Run {
    bytes: u64,
    wall: f64,
    sd_cpu: f64,
    /// The SD's tokio workers and writer threads.
    sd_parts: (f64, f64),
    peer_cpu: f64,
}

impl Run {
    fn mbs(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.wall
    }
    fn sd_s_per_gb(&self) -> f64 {
        self.per_gb(self.sd_cpu)
    }
    fn per_gb(&self, cpu: f64) -> f64 {
        cpu / (self.bytes as f64 / 1e9)
    }
    fn peer_s_per_gb(&self) -> f64 {
        self.peer_cpu / (self.bytes as f64 / 1e9)
    }
}

/// A SHA-256-sized digest record (stream 17, `STREAM_SHA256_DIGEST`) for the files mode.
const DIGEST: [u8; 32] = [0xd1; 32];

/// Back up `count` records of `record` as one job, then restore them. `files` > 0: instead,
/// `files` files of one `record` each, every one with its attributes and a SHA-256 digest
/// (the SD forwards two catalog records per file to the Director).
async fn round(
    port: u16,
    sd_pid: &str,
    cat: &mut Catalog,
    round: u32,
    record: &[u8],
    count: u64,
    files: u64,
) -> (Run, Run) {
    let me = std::process::id().to_string();
    let job = format!("BenchBackup.2026-11-22_15.46.52_{round:02}");
    let total = if files > 0 {
        files * record.len() as u64
    } else {
        count * record.len() as u64
    };

    // Backup.
    let mut d = connect_dir(port, true).await;
    let line = show(&cap_msg("clear-backup-full", 2, 9))
        .replace("JobId=1 ", &format!("JobId={} ", 2 * round + 1))
        .replace("CapBackup.2026-11-22_15.46.52_03", &job);
    let (id, time, key, _) = define_job(&mut d, line.as_bytes(), true).await;
    let mut fd = connect_fd(port, &job, &key, true)
        .await
        .expect("the test FD authenticates");
    let attr = cap_msg("clear-backup-full", 4, 13);
    let rec = record.to_vec();
    d.send(b"run").await.expect("run");
    let p0 = proc_cpu::Sampler::start(sd_pid.parse().unwrap_or(0), Duration::from_millis(20));
    let (c0, s0, t0) = (cpu_seconds(&me), cpu_seconds(sd_pid), Instant::now());
    let fd_task = tokio::spawn(async move {
        fd.send(b"append open session\n").await.unwrap();
        recv_data(&mut fd).await;
        fd.send(format!("append data {id}\n").as_bytes())
            .await
            .unwrap();
        recv_data(&mut fd).await;
        if files > 0 {
            // Batched as barque-fd sends (its data connection writes through a buffer): the
            // files' messages share TLS records; with `SD_BENCH_FD_UNBATCHED` set, one TLS
            // record per message, as bareos-fd sends.
            let batched = std::env::var_os("SD_BENCH_FD_UNBATCHED").is_none();
            for i in 1..=files {
                for (header, payload) in [
                    (format!("{i} 1 0"), &attr[..]),
                    (format!("{i} 2 0"), &rec[..]),
                    (format!("{i} 17 0"), &DIGEST[..]),
                ] {
                    if batched {
                        fd.send_batched(header.as_bytes()).await.unwrap();
                        fd.send_batched(payload).await.unwrap();
                        fd.signal_batched(Signal::Eod).await.unwrap();
                    } else {
                        fd.send(header.as_bytes()).await.unwrap();
                        fd.send(payload).await.unwrap();
                        fd.signal(Signal::Eod).await.unwrap();
                    }
                }
            }
        } else {
            fd.send(b"1 1 0").await.unwrap();
            fd.send(&attr).await.unwrap();
            fd.signal(Signal::Eod).await.unwrap();
            fd.send(b"1 2 0").await.unwrap();
            for _ in 0..count {
                fd.send(&rec).await.unwrap();
            }
            fd.signal(Signal::Eod).await.unwrap();
        }
        fd.signal(Signal::Eod).await.unwrap();
        assert_eq!(recv_data(&mut fd).await, b"3000 OK append data\n");
        fd.send(format!("append end session {id}\n").as_bytes())
            .await
            .unwrap();
        recv_data(&mut fd).await;
        fd.send(format!("append close session {id}\n").as_bytes())
            .await
            .unwrap();
        recv_data(&mut fd).await;
        let _ = fd.signal(Signal::Terminate).await;
    });
    let seen = finish_job(&mut d, cat).await;
    fd_task.await.expect("the test FD's backup task");
    let backup = Run {
        bytes: total,
        wall: t0.elapsed().as_secs_f64(),
        sd_cpu: cpu_seconds(sd_pid) - s0,
        sd_parts: sd_parts(sd_pid, p0),
        peer_cpu: cpu_seconds(&me) - c0,
    };
    assert!(
        seen.last()
            .is_some_and(|m| show(m).contains("JobStatus=84")),
        "the backup failed: {:?}",
        seen.iter().map(|m| show(m)).collect::<Vec<_>>()
    );

    // Restore the session.
    let rjob = format!("BenchRestore.2026-11-22_15.47.31_{round:02}");
    let mut d = connect_dir(port, true).await;
    let line = show(&cap_msg("clear-restore", 2, 9));
    let old = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("job="))
        .unwrap_or("")
        .to_string();
    let line = line
        .replace(&old, &rjob)
        .replace("JobId=3 ", &format!("JobId={} ", 2 * round + 2));
    let (rid, rtime, rkey, _) = define_job(&mut d, line.as_bytes(), false).await;
    // The bootstrap from the job's JobMedia, so that the SD reads only this round's blocks.
    let addr = seen
        .iter()
        .filter_map(|m| match SdToDir::parse(m) {
            Ok(SdToDir::CatReq(CatReq::CreateJobMedia(c))) if c.first_index > 0 => Some((
                (u64::from(c.start_file) << 32) | u64::from(c.start_block),
                (u64::from(c.end_file) << 32) | u64::from(c.end_block),
            )),
            _ => None,
        })
        .next_back()
        .expect("the backup reported no JobMedia");
    d.send(b"bootstrap\n").await.unwrap();
    for l in [
        "Volume=\"Cap-0001\"\n".to_string(),
        format!("VolSessionId={id}\n"),
        format!("VolSessionTime={time}\n"),
        format!("VolAddr={}-{}\n", addr.0, addr.1),
        if files > 1 {
            format!("FileIndex=1-{files}\n")
        } else {
            "FileIndex=1\n".into()
        },
    ] {
        d.send(l.as_bytes()).await.unwrap();
    }
    d.signal(Signal::Eod).await.unwrap();
    recv_data(&mut d).await;
    d.send(b"run").await.unwrap();
    let mut fd = connect_fd(port, &rjob, &rkey, true)
        .await
        .expect("the test FD authenticates for the restore");
    let p1 = proc_cpu::Sampler::start(sd_pid.parse().unwrap_or(0), Duration::from_millis(20));
    let (c1, s1, t1) = (cpu_seconds(&me), cpu_seconds(sd_pid), Instant::now());
    let fd_task = tokio::spawn(async move {
        fd.send(format!("read open session = DummyVolume {rid} {rtime} 0 0 0 0\n").as_bytes())
            .await
            .unwrap();
        recv_data(&mut fd).await;
        fd.send(format!("read data {rid}\n").as_bytes())
            .await
            .unwrap();
        assert_eq!(recv_data(&mut fd).await, b"3000 OK data\n");
        let mut bytes = 0u64;
        while let Got::Data(m) = recv(&mut fd).await {
            if !m.starts_with(b"rechdr ") {
                bytes += m.len() as u64;
            }
        }
        fd.send(format!("read close session {rid}\n").as_bytes())
            .await
            .unwrap();
        recv_data(&mut fd).await;
        let _ = fd.signal(Signal::Terminate).await;
        bytes
    });
    let mut rcat = cat.clone();
    finish_job(&mut d, &mut rcat).await;
    let read = fd_task.await.expect("the test FD's restore task");
    let restore = Run {
        bytes: read,
        wall: t1.elapsed().as_secs_f64(),
        sd_cpu: cpu_seconds(sd_pid) - s1,
        sd_parts: sd_parts(sd_pid, p1),
        peer_cpu: cpu_seconds(&me) - c1,
    };
    // The attribute record(s), every data record and the digests come back.
    let want = if files > 0 {
        total + files * (attr_len() + DIGEST.len()) as u64
    } else {
        total + attr_len() as u64
    };
    assert_eq!(read, want, "restored bytes");
    (backup, restore)
}

fn attr_len() -> usize {
    cap_msg("clear-backup-full", 4, 13).len()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    match n {
        0 => 0.0,
        _ if n % 2 == 1 => v[n / 2],
        _ => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mb: u64 = args.next().and_then(|v| v.parse().ok()).unwrap_or(512);
    let rec_kib: usize = args.next().and_then(|v| v.parse().ok()).unwrap_or(64);
    let rounds: u32 = args.next().and_then(|v| v.parse().ok()).unwrap_or(3);
    // `SD_BENCH_FILES=N`: N files of one RECORD_KIB record each instead of one file.
    let files: u64 = std::env::var("SD_BENCH_FILES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let sd = start_sd_process();
    let sd_pid = sd.child.id().to_string();
    let record = vec![0x5au8; rec_kib * 1024];
    let count = (mb * 1_000_000).div_ceil(record.len() as u64);
    let total = if files > 0 {
        files * record.len() as u64
    } else {
        count * record.len() as u64
    };
    let cipher = openssl_chacha_mbs();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    println!(
        "barque-sd (pid {sd_pid}, {}) over loopback, TLS-PSK (TLS 1.3 CHACHA20-POLY1305) on the Director and FD connections",
        sd_binary().display()
    );
    if files > 0 {
        println!(
            "per round: {files} files of {} bytes (attributes, data, SHA-256 digest each) = {:.1} MB backed up and restored; volume directory {}",
            record.len(),
            total as f64 / 1e6,
            sd.archive.display()
        );
    } else {
        println!(
            "per round: {count} records x {} bytes = {:.1} MB backed up and restored; volume directory {}",
            record.len(),
            total as f64 / 1e6,
            sd.archive.display()
        );
    }
    let mut cat = Catalog::new("Cap-0001");
    let mut rows: Vec<(f64, Run, Run)> = Vec::new();
    for r in 1..=rounds {
        let disk = disk_write_mbs(&sd.archive, total).unwrap_or_else(|e| {
            eprintln!(
                "sd_bench: writing {} MB into {} failed: {e}",
                total / 1_000_000,
                sd.archive.display()
            );
            std::process::exit(2)
        });
        let (b, rs) = rt.block_on(round(sd.port, &sd_pid, &mut cat, r, &record, count, files));
        println!(
            "round {r}: disk write {disk:7.1} MB/s | backup {:7.1} MB/s, SD {:5.2} CPU s/GB (job task {:4.2}, writer {:4.2}), test FD+Dir {:5.2} | restore {:7.1} MB/s, SD {:5.2} CPU s/GB, test FD+Dir {:5.2}",
            b.mbs(),
            b.sd_s_per_gb(),
            b.per_gb(b.sd_parts.0),
            b.per_gb(b.sd_parts.1),
            b.peer_s_per_gb(),
            rs.mbs(),
            rs.sd_s_per_gb(),
            rs.peer_s_per_gb()
        );
        rows.push((disk, b, rs));
    }
    let m = |f: &dyn Fn(&(f64, Run, Run)) -> f64| median(rows.iter().map(f).collect());
    let disk = m(&|r| r.0);
    let (bm, bs, bp) = (
        m(&|r| r.1.mbs()),
        m(&|r| r.1.sd_s_per_gb()),
        m(&|r| r.1.peer_s_per_gb()),
    );
    let (rm, rs, rp) = (
        m(&|r| r.2.mbs()),
        m(&|r| r.2.sd_s_per_gb()),
        m(&|r| r.2.peer_s_per_gb()),
    );
    let (bj, bw) = (
        m(&|r| r.1.per_gb(r.1.sd_parts.0)),
        m(&|r| r.1.per_gb(r.1.sd_parts.1)),
    );
    println!("medians of {rounds} rounds:");
    if files > 0 {
        let per = |secs: f64| 1e6 * secs / files as f64;
        let (bw, sdc, jc, wc, pc) = (
            m(&|r| r.1.wall),
            m(&|r| r.1.sd_cpu),
            m(&|r| r.1.sd_parts.0),
            m(&|r| r.1.sd_parts.1),
            m(&|r| r.1.peer_cpu),
        );
        println!(
            "  files  : backup {:8.0} files/s; SD {:5.1} CPU µs per file (job {:5.1}, writer {:5.1}); test FD+Director {:5.1} CPU µs per file",
            files as f64 / bw,
            per(sdc),
            per(jc),
            per(wc),
            per(pc)
        );
    }
    println!(
        "  backup : {bm:7.1} MB/s; SD {bs:5.2} CPU s/GB (one core at that cost: {:6.0} MB/s); test FD+Director {bp:5.2} CPU s/GB",
        1000.0 / bs
    );
    println!(
        "           the SD's parts: job (receive, decrypt, pack blocks: every thread but the writer) {bj:4.2} CPU s/GB, volume writer thread {bw:4.2} CPU s/GB; \
         the busiest on a core of its own carries {:6.0} MB/s",
        1000.0 / bj.max(bw)
    );
    println!(
        "  restore: {rm:7.1} MB/s; SD {rs:5.2} CPU s/GB (one core at that cost: {:6.0} MB/s); test FD+Director {rp:5.2} CPU s/GB",
        1000.0 / rs
    );
    println!(
        "  disk   : {disk:7.1} MB/s sequential write + fdatasync into the volume directory; backup = {:.0}% of it",
        100.0 * bm / disk
    );
    match cipher {
        Some(c) => println!(
            "  cipher : {c:7.1} MB/s openssl speed -evp chacha20-poly1305 (16 KiB, one core) = {:.2} CPU s/GB per direction; backup = {:.0}% of it; the SD's CPU per GB = {:.1}x one decryption",
            1000.0 / c,
            100.0 * bm / c,
            bs / (1000.0 / c)
        ),
        None => println!("  cipher : openssl speed not available"),
    }
}
