//! A file larger than 4 GiB through barque-fd: a 5 GiB sparse file with data at its start,
//! around the 4 GiB mark (straddling 2^32) and at its end, backed up with the sparse option
//! and restored. Checks the 64-bit fields on the way: the stat packet's st_size (> 2^32 in
//! Bareos' base64), the 8-byte FileAddr offsets of the sparse records (> 2^32), and the
//! restored file (size exact, bytes identical by `cmp`, still sparse).

mod support;

use std::fs::{self, File};
use std::os::unix::fs::{FileExt, MetadataExt};

use fd_core::wire::attr::AttrRecord;
use fd_core::wire::codes::JobStatus;
use support::harness::*;
use support::*;
use tokio::net::TcpListener;

const GIB: u64 = 1 << 30;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_gib_sparse_file_round_trip() {
    let w = tempfile::tempdir().unwrap();
    let src = w.path().join("src");
    fs::create_dir(&src).unwrap();
    let big = src.join("big.img");
    let size = 5 * GIB + 12_345;
    {
        let f = File::create(&big).unwrap();
        f.set_len(size).unwrap();
        let mark = |tag: &str, n: usize| -> Vec<u8> { tag.bytes().cycle().take(n).collect() };
        f.write_all_at(&mark("start", 100_000), 0).unwrap();
        // Straddles 2^32: part below, part above.
        f.write_all_at(&mark("four-gib", 300_000), 4 * GIB - 150_000)
            .unwrap();
        f.write_all_at(&mark("end", 5_000), size - 5_000).unwrap();
    }
    let m = fs::metadata(&big).unwrap();
    if m.blocks() * 512 > GIB {
        eprintln!(
            "SKIPPED: the file system of {} does not keep sparse files sparse",
            w.path().display()
        );
        return;
    }

    let fd = start(&config_text(false), |_| {});
    let sd = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sd_port = sd.local_addr().unwrap().port();
    let root = src.to_str().unwrap().as_bytes().to_vec();
    let cmds = backup_commands("full", 0, "S2s", &[&root], sd_port, 0);
    let dir = async {
        let p = director_connect(fd.port, false).await;
        director_run(p, cmds).await
    };
    let (frames, records) = tokio::join!(dir, sd_append(&sd, false));
    let ej = end_job(&frames);
    assert_eq!(ej.term_code, JobStatus::Terminated, "{frames:?}");
    assert_eq!(ej.errors, 0);

    // The stat packet carries the 64-bit size.
    let attr = records
        .iter()
        .filter(|(_, s, _)| *s == 1)
        .map(|(_, _, d)| AttrRecord::parse(d).unwrap())
        .find(|r| r.fname.ends_with(b"/big.img"))
        .expect("attribute record of big.img");
    assert_eq!(attr.stat.size as u64, size);
    // Sparse records (stream 6): offsets above 2^32 are sent as 8-byte FileAddr values.
    let offsets: Vec<u64> = records
        .iter()
        .filter(|(_, s, _)| *s == 6)
        .map(|(_, _, d)| u64::from_be_bytes(d[..8].try_into().unwrap()))
        .collect();
    assert!(
        offsets.iter().any(|&o| o > 1 << 32),
        "no sparse record above 4 GiB: {offsets:?}"
    );
    assert!(offsets.iter().any(|&o| o < 1 << 32 && o > 3 * GIB));
    // Only the chunks with data and the file's last chunk: far fewer than 5 GiB / 256 KiB.
    assert!(offsets.len() < 16, "{} sparse records", offsets.len());

    // Restore and compare.
    let where_ = w.path().join("restore");
    fs::create_dir(&where_).unwrap();
    let sd = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sd_port = sd.local_addr().unwrap().port();
    let wh = where_.to_str().unwrap().to_string();
    let dir = async {
        let p = director_connect(fd.port, false).await;
        director_run(p, restore_commands(sd_port, &wh)).await
    };
    let (frames, ()) = tokio::join!(dir, sd_read(&sd, &records, None));
    let ej = end_job(&frames);
    assert_eq!(ej.term_code, JobStatus::Terminated, "{frames:?}");
    let restored = where_.join(big.strip_prefix("/").unwrap());
    let rm = fs::metadata(&restored).unwrap();
    assert_eq!(rm.len(), size, "restored size");
    assert!(
        rm.blocks() * 512 < GIB,
        "restored file is not sparse: {} blocks",
        rm.blocks()
    );
    let cmp = std::process::Command::new("cmp")
        .arg(&big)
        .arg(&restored)
        .output()
        .expect("cmp");
    assert!(
        cmp.status.success(),
        "restored file differs: {}",
        String::from_utf8_lossy(&cmp.stdout)
    );
}
