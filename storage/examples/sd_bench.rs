//! barque-sd throughput over loopback with TLS-PSK on both channels (not a test).
//!
//! ```text
//! cargo run --release -p storage --example sd_bench [MEGABYTES] [RECORD_KIB]
//! ```
//!
//! Starts barque-sd in-process (config `psk` variant: no TLS directives, so TLS-PSK with
//! TLS_CHACHA20_POLY1305_SHA256), a test Director and a test FD built from barque-common
//! connections, backs up MEGABYTES of file data as RECORD_KIB records (default 256 MiB as
//! 64 KiB records, Bareos' default network buffer), then restores it with a bootstrap.
//! Prints MB/s and CPU seconds per GB for both directions and compares with
//! `openssl speed -evp chacha20-poly1305`. CPU time is the whole process (SD, FD and
//! Director sides, both TLS ends), read from /proc/self/stat.

#[path = "../tests/sd_harness/mod.rs"]
mod sd_harness;

use std::time::Instant;

use fd_core::wire::bnet::Signal;
use sd_harness::*;

fn cpu_seconds() -> f64 {
    // utime and stime are fields 14 and 15 of /proc/self/stat, in clock ticks (100 Hz on
    // Linux unless the kernel says otherwise).
    let s = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = s.rsplit_once(')').map(|x| x.1).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (tick(11) + tick(12)) / 100.0
}

fn openssl_chacha_mbs() -> Option<f64> {
    let out = std::process::Command::new("openssl")
        .args([
            "speed",
            "-seconds",
            "2",
            "-bytes",
            "65536",
            "-evp",
            "chacha20-poly1305",
        ])
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

fn main() {
    let mut args = std::env::args().skip(1);
    let mb: u64 = args.next().and_then(|v| v.parse().ok()).unwrap_or(256);
    let rec_kib: usize = args.next().and_then(|v| v.parse().ok()).unwrap_or(64);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let sd = start_sd(true).await;
        let job = "CapBackup.2026-11-22_15.46.52_03";
        let record = vec![0x5au8; rec_kib * 1024];
        let count = (mb * 1_000_000).div_ceil(record.len() as u64);
        let rec_len = record.len();
        let total = count * rec_len as u64;

        // Backup.
        let mut d = connect_dir(sd.port, true).await;
        let (id, time, key, _) =
            define_job(&mut d, &cap_msg("clear-backup-full", 2, 9), true).await;
        let mut fd = connect_fd(sd.port, job, &key, true).await.unwrap();
        let attr = cap_msg("clear-backup-full", 4, 13);
        let (c0, t0) = (cpu_seconds(), Instant::now());
        let fd_task = tokio::spawn(async move {
            fd.send(b"append open session\n").await.unwrap();
            recv_data(&mut fd).await;
            fd.send(format!("append data {id}\n").as_bytes()).await.unwrap();
            recv_data(&mut fd).await;
            fd.send(b"1 1 0").await.unwrap();
            fd.send(&attr).await.unwrap();
            fd.signal(Signal::Eod).await.unwrap();
            fd.send(b"1 2 0").await.unwrap();
            for _ in 0..count {
                fd.send(&record).await.unwrap();
            }
            fd.signal(Signal::Eod).await.unwrap();
            fd.signal(Signal::Eod).await.unwrap();
            assert_eq!(recv_data(&mut fd).await, b"3000 OK append data\n");
            fd.send(format!("append end session {id}\n").as_bytes()).await.unwrap();
            recv_data(&mut fd).await;
            fd.send(format!("append close session {id}\n").as_bytes()).await.unwrap();
            recv_data(&mut fd).await;
            let _ = fd.signal(Signal::Terminate).await;
        });
        d.send(b"run").await.unwrap();
        let mut cat = Catalog::new("Cap-0001");
        let seen = finish_job(&mut d, &mut cat).await;
        fd_task.await.unwrap();
        let (wc, wt) = (cpu_seconds() - c0, t0.elapsed().as_secs_f64());
        assert!(show(seen.last().unwrap()).contains("JobStatus=84"));

        // Restore everything.
        let mut d = connect_dir(sd.port, true).await;
        let (rid, rtime, rkey, _) =
            define_job(&mut d, &cap_msg("clear-restore", 2, 9), false).await;
        d.send(b"bootstrap\n").await.unwrap();
        for l in [
            "Volume=\"Cap-0001\"\n".to_string(),
            format!("VolSessionId={id}\n"),
            format!("VolSessionTime={time}\n"),
            "FileIndex=1\n".into(),
        ] {
            d.send(l.as_bytes()).await.unwrap();
        }
        d.signal(Signal::Eod).await.unwrap();
        recv_data(&mut d).await;
        d.send(b"run").await.unwrap();
        let rjob = "CapRestore.2026-11-22_15.47.31_05";
        let mut fd = connect_fd(sd.port, rjob, &rkey, true).await.unwrap();
        let (c1, t1) = (cpu_seconds(), Instant::now());
        let fd_task = tokio::spawn(async move {
            fd.send(format!("read open session = DummyVolume {rid} {rtime} 0 0 0 0\n").as_bytes())
                .await
                .unwrap();
            recv_data(&mut fd).await;
            fd.send(format!("read data {rid}\n").as_bytes()).await.unwrap();
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
        let read_bytes = fd_task.await.unwrap();
        let (rc, rt_) = (cpu_seconds() - c1, t1.elapsed().as_secs_f64());

        let gb = total as f64 / 1e9;
        println!("barque-sd loopback, TLS-PSK (TLS 1.3 CHACHA20-POLY1305) on Director and FD channels");
        println!("records: {count} x {rec_len} bytes = {:.1} MB", total as f64 / 1e6);
        println!(
            "backup : {:8.1} MB/s  {:6.2} CPU s/GB (wall {:.2} s, CPU {:.2} s)",
            total as f64 / 1e6 / wt,
            wc / gb,
            wt,
            wc
        );
        println!(
            "restore: {:8.1} MB/s  {:6.2} CPU s/GB (wall {:.2} s, CPU {:.2} s, {} bytes read)",
            read_bytes as f64 / 1e6 / rt_,
            rc / gb,
            rt_,
            rc,
            read_bytes
        );
        match openssl_chacha_mbs() {
            Some(s) => println!(
                "openssl speed -evp chacha20-poly1305 (64 KiB): {s:.1} MB/s = {:.2} CPU s/GB one direction; backup uses {:.1}% of that rate",
                1.0 / (s / 1000.0),
                100.0 * (total as f64 / 1e6 / wt) / s
            ),
            None => println!("openssl speed: not available"),
        }
    });
}
