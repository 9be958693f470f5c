//! Backup throughput of barque-fd: `cargo run --release -p fd-linux --example fd_bench`.
//!
//! Runs the release `barque-fd` binary (built by `cargo build --release -p fd-linux`) as a
//! separate process on 127.0.0.1, and backs up generated data sets through it with TLS-PSK
//! on both connections (Director → FD and FD → SD, `ssl=4`) and SHA-256 signatures on, to a
//! test Storage daemon in this process that discards the data. For each data set it prints
//! wall time, MB/s of file data, files/s, the FD process's CPU seconds (user + system, from
//! /proc/«pid»/stat) and its peak RSS (VmHWM); each data set gets a fresh daemon so the peak
//! is per data set. Then it prints `openssl speed` single-core figures for SHA-256 and
//! ChaCha20-Poly1305 to relate the FD's throughput to what one core can hash and encrypt.
//!
//! The CPU seconds of the test Storage daemon (this process: the sink, plus the Director
//! side, which costs next to nothing) are printed too, per GB of file data for both, because
//! on a loaded machine CPU seconds per GB vary far less than wall time. Data set (a)'s MB/s
//! is related to min(SHA-256, ChaCha20-Poly1305) of `openssl speed` (issue #5's target (a):
//! at least 60 %).
//!
//! Environment: `FD_BENCH_DIR` (where the data sets are generated, default a temp dir under
//! the target dir), `FD_BENCH_BIG_MIB` (size of data set (a), default 2048),
//! `FD_BENCH_FILES` (file count of data set (b), default 100000), `FD_BENCH_SETS` (which
//! data sets to run, default `abc`), `FD_BENCH_BIN` (the `barque-fd` binary, default
//! `target/release/barque-fd`; several separated by commas run alternately, for A/B runs of
//! two builds), `FD_BENCH_REPEAT` (runs per data set and binary, default 1), `FD_BENCH_NO_SPEED` (set: skip `openssl speed`),
//! `FD_BENCH_FD_CPUS` (run the FD under `taskset -c` these CPUs; with the benchmark itself
//! under `taskset -c` the others, the FD and the sink each get their own cores: the FD's
//! rate on one core is then measured, not projected).

#[path = "../tests/support/mod.rs"]
mod support;

use std::io::Write as _;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use barque_testkit::proc_cpu;
use support::harness::*;
use tokio::net::TcpListener;

fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target")
}

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Deterministic incompressible bytes.
fn fill(buf: &mut [u8], seed: u64) {
    let mut x = seed | 1;
    for c in buf.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let b = x.to_le_bytes();
        c.copy_from_slice(&b[..c.len()]);
    }
}

fn make_big(dir: &Path, mib: u64) -> (u64, u64) {
    let p = dir.join("big.bin");
    if std::fs::metadata(&p).map(|m| m.len()).ok() != Some(mib << 20) {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&p).unwrap());
        let mut block = vec![0u8; 1 << 20];
        for i in 0..mib {
            fill(&mut block, i + 1);
            f.write_all(&block).unwrap();
        }
        f.flush().unwrap();
    }
    (1, mib << 20)
}

fn make_small(dir: &Path, n: u64) -> (u64, u64) {
    let mut bytes = 0;
    let mut buf = vec![0u8; 16 * 1024];
    let marker = dir.join(".complete");
    let fresh = !marker.exists();
    for i in 0..n {
        let d = dir.join(format!("d{:03}", i / 1000));
        if fresh && i % 1000 == 0 {
            std::fs::create_dir_all(&d).unwrap();
        }
        let size = 1024 + (i * 7919 % (15 * 1024 + 1)) as usize;
        bytes += size as u64;
        if fresh {
            fill(&mut buf[..size], i + 7);
            std::fs::write(d.join(format!("f{i:06}")), &buf[..size]).unwrap();
        }
    }
    std::fs::write(marker, b"").unwrap();
    (n + n.div_ceil(1000) + 1, bytes)
}

fn make_mixed(dir: &Path) -> (u64, u64) {
    let marker = dir.join(".complete");
    let fresh = !marker.exists();
    let mut files = 1;
    let mut bytes = 0;
    let mut buf = vec![0u8; 8 << 20];
    for i in 0..2000u64 {
        let d = dir.join(format!("a{}/b{}", i % 10, i % 37));
        if fresh {
            std::fs::create_dir_all(&d).unwrap();
        }
        let size = match i % 10 {
            0 => 4 << 20,
            1 | 2 => 256 << 10,
            3..=5 => 32 << 10,
            _ => (i * 131 % 8192) as usize,
        };
        bytes += size as u64;
        files += 1;
        if fresh {
            fill(&mut buf[..size], i + 99);
            std::fs::write(d.join(format!("file{i}")), &buf[..size]).unwrap();
            if i % 20 == 0 {
                let _ = symlink(format!("file{i}"), d.join(format!("link{i}")));
            }
        }
        if i % 20 == 0 {
            files += 1;
        }
    }
    files += 10 + 10 * 37;
    std::fs::write(marker, b"").unwrap();
    (files, bytes)
}

/// Entries under `root`, root included (what the FD reports as JobFiles).
fn count_entries(root: &Path) -> u64 {
    let mut n = 1;
    if let Ok(rd) = std::fs::read_dir(root) {
        for e in rd.flatten() {
            let p = e.path();
            match std::fs::symlink_metadata(&p) {
                Ok(m) if m.is_dir() => n += count_entries(&p),
                _ => n += 1,
            }
        }
    }
    n
}

fn proc_cpu(pid: u32) -> f64 {
    proc_cpu::cpu_seconds(pid)
}

fn proc_hwm_mib(pid: u32) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

fn spawn_fd(work: &Path, bin: &Path) -> (Child, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let conf = work.join("bench-fd.conf");
    // A Working Directory, so that a real bareos-fd can be measured the same way
    // (`FD_BENCH_BIN=/path/to/bareos-fd`; it does not start without one).
    let text = support::config_text(true)
        .replace("port = 9102", &format!("port = {port}"))
        .replace(
            "  Name = bareos-fd\n",
            &format!(
                "  Name = bareos-fd\n  Working Directory = \"{}\"\n",
                work.display()
            ),
        );
    std::fs::write(&conf, text).unwrap();
    assert!(
        bin.exists(),
        "{} missing: run `cargo build --release -p fd-linux` first",
        bin.display()
    );
    let mut child = proc_cpu::pinned_command(bin, "FD_BENCH_FD_CPUS")
        .args(["-f", "-c"])
        .arg(&conf)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return (child, port);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("{} did not start", bin.display());
}

struct Row {
    name: String,
    files: u64,
    bytes: u64,
    wall: f64,
    cpu: f64,
    sink_cpu: f64,
    /// The FD's CPU seconds by thread name.
    threads: Vec<(String, f64)>,
    /// Its single busiest thread.
    busiest: Option<(String, f64)>,
    rss: f64,
}

async fn run(name: &str, root: &Path, files: u64, work: &Path, bin: &Path) -> Row {
    let (mut child, port) = spawn_fd(work, bin);
    let pid = child.id();
    let sd = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sd_port = sd.local_addr().unwrap().port();
    let sampler = proc_cpu::Sampler::start(pid, Duration::from_millis(20));
    let cpu0 = proc_cpu(pid);
    let me = std::process::id();
    let sink0 = proc_cpu(me);
    let t0 = Instant::now();
    let root_b = root.as_os_str().as_encoded_bytes().to_vec();
    let cmds = backup_commands("full", 0, "S2", &[&root_b], sd_port, 4);
    let dir = async {
        let p = director_connect(port, true).await;
        director_run(p, cmds).await
    };
    let (frames, (_records, bytes)) = tokio::join!(dir, sd_append_discard(&sd, true));
    let wall = t0.elapsed().as_secs_f64();
    let cpu = proc_cpu(pid) - cpu0;
    let (threads, busiest) = sampler.finish_with_busiest(pid);
    let sink_cpu = proc_cpu(me) - sink0;
    let rss = proc_hwm_mib(pid);
    let ej = end_job(&frames);
    assert_eq!(ej.errors, 0, "backup of {name} had errors");
    assert_eq!(u64::from(ej.job_files), files, "{name}: file count");
    let _ = child.kill();
    let _ = child.wait();
    Row {
        name: name.into(),
        files,
        bytes,
        wall,
        cpu,
        sink_cpu,
        threads,
        busiest,
        rss,
    }
}

/// `openssl speed` of `alg` on 16 KiB blocks: its result line and bytes/s.
fn openssl_speed(alg: &str) -> (String, Option<f64>) {
    let out = Command::new("openssl")
        .args(["speed", "-seconds", "2", "-bytes", "16384", "-evp", alg])
        .output();
    match out {
        Ok(o) => {
            let line = String::from_utf8_lossy(&o.stdout)
                .lines()
                .rfind(|l| !l.trim().is_empty())
                .unwrap_or("")
                .to_string();
            // `sha256   1728000.00k`: thousands of bytes per second.
            let rate = line
                .split_whitespace()
                .last()
                .and_then(|v| v.strip_suffix('k'))
                .and_then(|v| v.parse::<f64>().ok())
                .map(|k| k * 1000.0);
            (line, rate)
        }
        Err(e) => (format!("openssl speed failed: {e}"), None),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let base = std::env::var_os("FD_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir().join("fd-bench-data"));
    std::fs::create_dir_all(&base).unwrap();
    let big_mib = env_num("FD_BENCH_BIG_MIB", 2048);
    let nfiles = env_num("FD_BENCH_FILES", 100_000);
    eprintln!("generating data sets under {} ...", base.display());
    let a = base.join(format!("a-big-{big_mib}M"));
    std::fs::create_dir_all(&a).unwrap();
    let (fa, _) = make_big(&a, big_mib);
    let b = base.join(format!("b-small-{nfiles}"));
    std::fs::create_dir_all(&b).unwrap();
    let (fb, _) = make_small(&b, nfiles);
    let c = base.join("c-mixed");
    std::fs::create_dir_all(&c).unwrap();
    let (fc, _) = make_mixed(&c);
    // Warm the page cache so the figures measure the FD, not the disk.
    for d in [&a, &b, &c] {
        let _ = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "find '{}' -type f -exec cat {{}} + > /dev/null",
                d.display()
            ))
            .status();
    }
    let _ = (fa, fb, fc);
    let (fa, fb, fc) = (count_entries(&a), count_entries(&b), count_entries(&c));
    let sets = std::env::var("FD_BENCH_SETS").unwrap_or_else(|_| "abc".into());
    let repeat = env_num("FD_BENCH_REPEAT", 1).max(1);
    let bins: Vec<PathBuf> = match std::env::var("FD_BENCH_BIN") {
        Ok(v) => v.split(',').map(PathBuf::from).collect(),
        Err(_) => vec![target_dir().join("release/barque-fd")],
    };
    // With several binaries, name each row after its binary.
    let tag = |bin: &Path| {
        if bins.len() > 1 {
            format!(" [{}]", bin.display())
        } else {
            String::new()
        }
    };
    let mut rows = Vec::new();
    for _ in 0..repeat {
        for bin in &bins {
            let t = tag(bin);
            if sets.contains('a') {
                let name = format!("(a) one {big_mib} MiB file{t}");
                rows.push(run(&name, &a, fa, &base, bin).await);
            }
            if sets.contains('b') {
                let name = format!("(b) {nfiles} files of 1-16 KiB{t}");
                rows.push(run(&name, &b, fb, &base, bin).await);
            }
            if sets.contains('c') {
                let name = format!("(c) mixed tree (2000 files 0-4 MiB, symlinks){t}");
                rows.push(run(&name, &c, fc, &base, bin).await);
            }
        }
    }
    println!();
    println!("barque-fd backup, TLS-PSK (Director and SD connections), SHA-256, loopback, page cache warm");
    println!("| data set | files | MiB | wall s | MB/s | files/s | FD CPU s | FD CPU s/GB | sink CPU s/GB | FD peak RSS MiB | FD threads, CPU s/GB |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for r in &rows {
        let gb = r.bytes as f64 / 1e9;
        println!(
            "| {} | {} | {:.1} | {:.2} | {:.1} | {:.0} | {:.2} | {:.2} | {:.2} | {:.1} | {} |",
            r.name,
            r.files,
            r.bytes as f64 / 1048576.0,
            r.wall,
            r.bytes as f64 / 1e6 / r.wall,
            r.files as f64 / r.wall,
            r.cpu,
            r.cpu / gb,
            r.sink_cpu / gb,
            r.rss,
            r.threads
                .iter()
                .filter(|t| t.1 / gb >= 0.01)
                .map(|t| format!("{} {:.2}", t.0, t.1 / gb))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if std::env::var_os("FD_BENCH_NO_SPEED").is_some() {
        return;
    }
    println!();
    println!("openssl speed, one core, 16 KiB blocks (bytes/s in 1000s):");
    let (sha_line, sha) = openssl_speed("sha256");
    let (chacha_line, chacha) = openssl_speed("chacha20-poly1305");
    println!("  sha256:            {sha_line}");
    println!("  chacha20-poly1305: {chacha_line}");
    if let (Some(sha), Some(chacha)) = (sha, chacha) {
        let floor = sha.min(chacha);
        println!(
            "  min = {:.0} MB/s; per GB: SHA-256 {:.2} CPU s, ChaCha20-Poly1305 {:.2} CPU s",
            floor / 1e6,
            1e9 / sha,
            1e9 / chacha
        );
        for r in rows.iter().filter(|r| r.name.starts_with("(a)")) {
            let mbs = r.bytes as f64 / r.wall;
            println!(
                "  {}: {:.0} MB/s = {:.0} % of min(SHA-256, ChaCha20-Poly1305) (target >= 60 %)",
                r.name,
                mbs / 1e6,
                100.0 * mbs / floor
            );
            // The FD's stages run on threads of their own; the busiest one bounds what the
            // FD can do with a core per thread (this machine also runs the sink on its 2).
            if let Some(b) = r.busiest.as_ref() {
                let gb = r.bytes as f64 / 1e9;
                let cap = gb / b.1 * 1e9;
                println!(
                    "    busiest FD thread: {} {:.2} CPU s/GB; with a core of its own it carries {:.0} MB/s = {:.0} % of min(SHA-256, ChaCha20-Poly1305); the FD's total {:.2} CPU s/GB plus the sink's {:.2} on this machine's {} cores: at most {:.0} MB/s",
                    b.0,
                    b.1 / gb,
                    cap / 1e6,
                    100.0 * cap / floor,
                    r.cpu / gb,
                    r.sink_cpu / gb,
                    std::thread::available_parallelism().map_or(1, |n| n.get()),
                    std::thread::available_parallelism().map_or(1, |n| n.get()) as f64
                        / ((r.cpu + r.sink_cpu) / gb)
                        * 1e3
                );
            }
        }
    }
}
