//! Copy, migrate and Virtual Full within one SD (bareos-dir's choice when the read and the
//! write Storage name the same SD: `core/src/dird/migrate.cc`, local replicate). One
//! Director connection: `JobId=` of the copy job (type `c`), `bootstrap`, a read reservation
//! (`use storage … append=0`) and a write reservation (`use storage … pool_name=«Next
//! Pool» append=1`), `run`. The SD reads the bootstrap's records and writes them into a
//! session of its own on a volume of the write pool, with the catalog requests of a backup
//! (FindMedia, CreateJobMedia, UpdCat) and `3099 Job … end` with the files and bytes copied.

mod sd_harness;

use barque_common::conn::AuthenticatedConnection;
use fd_core::wire::bnet::Signal;
use fd_core::wire::sd_ctl::{CatReq, SdToDir};
use sd_harness::*;
use storage::volume::{Record, RecordReader};

const ORIG_JOB: &str = "CapBackup.2026-11-22_15.46.52_03";

/// A second device on the same directory, as Bareos setups that copy within one SD have.
fn two_devices(text: String) -> String {
    let first = text
        .split("Device {")
        .nth(1)
        .and_then(|d| d.split("}\n").next())
        .unwrap_or_default()
        .to_string();
    let second = first.replace("Name = FileStorage", "Name = FileStorage2");
    format!("{text}Device {{{second}}}\n")
}

fn records(vol: &std::path::Path) -> Vec<Record> {
    let bytes = std::fs::read(vol).unwrap();
    RecordReader::new(bytes.as_slice())
        .map(|r| r.unwrap())
        .collect()
}

/// One bootstrap entry for a session on Cap-0001.
fn bsr_entry(id: u32, time: u32, jm: (u32, u32, u64, u64)) -> Vec<String> {
    vec![
        "Storage=\"File\"\n".to_string(),
        "Volume=\"Cap-0001\"\n".into(),
        "MediaType=\"File\"\n".into(),
        "Device=\"FileStorage\"\n".into(),
        format!("VolSessionId={id}\n"),
        format!("VolSessionTime={time}\n"),
        format!("VolAddr={}-{}\n", jm.2, jm.3),
        format!("FileIndex={}-{}\n", jm.0, jm.1),
    ]
}

/// `use storage=… append=N`, one device, EOD, EOD; returns the reply (after a Jmsg).
async fn reserve(
    d: &mut AuthenticatedConnection,
    pool: &str,
    device: &str,
    append: bool,
) -> Vec<u8> {
    let line = format!(
        "use storage=File media_type=File pool_name={pool} pool_type=Backup append={} copy=0 stripe=0\n",
        u8::from(append)
    );
    d.send(line.as_bytes()).await.unwrap();
    d.send(format!("use device={device}\n").as_bytes())
        .await
        .unwrap();
    d.signal(Signal::Eod).await.unwrap();
    d.signal(Signal::Eod).await.unwrap();
    let mut r = recv_data(d).await;
    if r.starts_with(b"Jmsg") {
        r = recv_data(d).await;
    }
    r
}

/// Define a copy job the way bareos-dir does for a copy within one SD; `write` false leaves
/// out the write reservation. Returns the connection (after `run`) and the session.
async fn copy_job(
    sd: &Sd,
    job_type: u8,
    level: u8,
    bsr: &[String],
    write: bool,
) -> (AuthenticatedConnection, u32, u32) {
    let mut d = connect_dir(sd.port, false).await;
    let line = show(&cap_msg("clear-backup-full", 2, 9))
        .replace("JobId=1 ", "JobId=7 ")
        .replace("type=66 ", &format!("type={job_type} "))
        .replace("level=70 ", &format!("level={level} "))
        .replace(ORIG_JOB, "CapCopy.2026-11-22_18.30.00_07");
    d.send(line.as_bytes()).await.unwrap();
    let (id, time, _) = job_reply(&recv_data(&mut d).await);
    d.send(b"bootstrap\n").await.unwrap();
    for l in bsr {
        d.send(l.as_bytes()).await.unwrap();
    }
    d.signal(Signal::Eod).await.unwrap();
    assert_eq!(recv_data(&mut d).await, b"3000 OK bootstrap\n");
    d.send(b"getSecureEraseCmd\n").await.unwrap();
    assert_eq!(
        recv_data(&mut d).await,
        b"2000 OK SDSecureEraseCmd *None* \n"
    );
    assert_eq!(
        reserve(&mut d, "Cap", "FileStorage", false).await,
        b"3000 OK use device device=FileStorage\n"
    );
    if write {
        assert_eq!(
            reserve(&mut d, "Copy", "FileStorage2", true).await,
            b"3000 OK use device device=JustInTime\x01Device\n"
        );
    }
    d.send(b"run").await.unwrap();
    (d, id, time)
}

/// A catalog that knows the source volume and offers Copy-0001 for writing.
fn copy_catalog(source: &Catalog) -> Catalog {
    let mut c = Catalog::new("Copy-0001");
    c.media_id = 2;
    c.known.push(source.name.clone());
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_copy_within_one_sd() {
    let sd = start_sd_edited(two_devices).await;
    let mut cat = Catalog::new("Cap-0001");
    let (seen, orig_id, orig_time) = backup_job(&sd, false, &mut cat, 1, ORIG_JOB).await;
    let jm = job_media(&seen);

    let (mut d, copy_id, copy_time) =
        copy_job(&sd, b'c', b'F', &bsr_entry(orig_id, orig_time, jm), true).await;
    let mut ccat = copy_catalog(&cat);
    let all = finish_job(&mut d, &mut ccat).await;
    let shown: Vec<String> = all.iter().map(|m| show(m)).collect();
    let end = shown.last().unwrap();
    assert!(
        end.contains("end JobStatus=84 JobFiles=6 JobBytes=1062"),
        "{shown:#?}"
    );
    // Read side: the source volume; write side: a volume of the Next Pool, labelled.
    assert!(
        shown
            .iter()
            .any(|m| m.contains("GetVolInfo VolName=Cap-0001 write=0")),
        "{shown:#?}"
    );
    assert!(
        shown
            .iter()
            .any(|m| m.contains("FindMedia=1 pool_name=Copy")),
        "{shown:#?}"
    );
    assert!(
        shown
            .iter()
            .any(|m| m.contains("Ready to read from volume \"Cap-0001\"")),
        "{shown:#?}"
    );
    // The copy's JobMedia and attributes go to the Director like a backup's.
    let media: Vec<_> = all
        .iter()
        .filter_map(|m| match SdToDir::parse(m) {
            Ok(SdToDir::CatReq(CatReq::CreateJobMedia(c))) if c.first_index > 0 => {
                Some((c.first_index, c.last_index, c.media_id))
            }
            _ => None,
        })
        .collect();
    assert_eq!(media, vec![(1, 6, 2)], "{shown:#?}");
    let attrs: Vec<i32> = all
        .iter()
        .filter_map(|m| match SdToDir::parse(m) {
            Ok(SdToDir::UpdCat(u)) if u.header.stream.0 == 1 => Some(u.header.file_index),
            _ => None,
        })
        .collect();
    assert_eq!(attrs, (1..=6).collect::<Vec<_>>(), "{shown:#?}");

    // The copy: the same file records in the copy job's session; its session labels name
    // the job copied (as bareos-sd's do), with the copy's JobId.
    let orig: Vec<Record> = records(&sd.archive.join("Cap-0001"))
        .into_iter()
        .filter(|r| r.file_index > 0)
        .collect();
    let copy = records(&sd.archive.join("Copy-0001"));
    let files: Vec<&Record> = copy.iter().filter(|r| r.file_index > 0).collect();
    assert_eq!(orig.len(), files.len());
    for (o, c) in orig.iter().zip(&files) {
        assert_eq!(
            (o.file_index, o.stream, &o.data),
            (c.file_index, c.stream, &c.data)
        );
        assert_eq!((c.vol_session_id, c.vol_session_time), (copy_id, copy_time));
    }
    let labels: Vec<i32> = copy
        .iter()
        .map(|r| r.file_index)
        .filter(|&f| f < 0)
        .collect();
    assert_eq!(labels, vec![-2, -4, -5], "volume label, SOS, EOS");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_barque-bls"))
        .arg("-j")
        .arg(sd.archive.join("Copy-0001"))
        .output()
        .unwrap();
    let listing = show(&out.stdout);
    assert!(out.status.success(), "{}", show(&out.stderr));
    assert!(listing.contains(ORIG_JOB), "{listing}");
    assert!(!listing.contains("CapCopy"), "{listing}");
    // The source is untouched and still reads.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_barque-bls"))
        .arg(sd.archive.join("Cap-0001"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", show(&out.stderr));
}

/// A Virtual Full (type B, level f) joins two sessions: FileIndexes renumbered from 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_virtual_full_within_one_sd_renumbers_file_indexes() {
    let sd = start_sd_edited(two_devices).await;
    let mut cat = Catalog::new("Cap-0001");
    let (s1, id1, t1) = backup_job(&sd, false, &mut cat, 1, ORIG_JOB).await;
    let (s2, id2, t2) =
        backup_job(&sd, false, &mut cat, 2, "CapBackup.2026-11-22_16.00.00_04").await;
    let mut bsr = bsr_entry(id1, t1, job_media(&s1));
    bsr.extend(bsr_entry(id2, t2, job_media(&s2)));
    let (mut d, copy_id, _) = copy_job(&sd, b'B', b'f', &bsr, true).await;
    let mut ccat = copy_catalog(&cat);
    let all = finish_job(&mut d, &mut ccat).await;
    let shown: Vec<String> = all.iter().map(|m| show(m)).collect();
    assert!(
        shown
            .last()
            .unwrap()
            .contains("end JobStatus=84 JobFiles=12 JobBytes=2124"),
        "{shown:#?}"
    );
    let copy = records(&sd.archive.join("Copy-0001"));
    let fis: Vec<i32> = copy
        .iter()
        .filter(|r| r.file_index > 0 && r.stream.0 == 1)
        .map(|r| r.file_index)
        .collect();
    assert_eq!(fis, (1..=12).collect::<Vec<_>>());
    assert!(copy
        .iter()
        .filter(|r| r.file_index > 0)
        .all(|r| r.vol_session_id == copy_id));
}

/// A copy job with no write reservation fails with a message that says what is missing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_copy_without_a_write_device_fails_clearly() {
    let sd = start_sd_edited(two_devices).await;
    let mut cat = Catalog::new("Cap-0001");
    let (seen, id, time) = backup_job(&sd, false, &mut cat, 1, ORIG_JOB).await;
    let (mut d, _, _) = copy_job(
        &sd,
        b'c',
        b'F',
        &bsr_entry(id, time, job_media(&seen)),
        false,
    )
    .await;
    let mut ccat = copy_catalog(&cat);
    let all = finish_job(&mut d, &mut ccat).await;
    let shown: Vec<String> = all.iter().map(|m| show(m)).collect();
    assert!(
        shown
            .iter()
            .any(|m| m.contains("Fatal error: ") && m.contains("reserved no devices to write")),
        "{shown:#?}"
    );
    assert!(
        shown.last().unwrap().contains("end JobStatus=102"),
        "{shown:#?}"
    );
    assert!(!sd.archive.join("Copy-0001").exists());
}

/// Read and write storages in one exchange is not what a Director sends: refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_read_and_write_storage_in_one_exchange_is_refused() {
    let sd = start_sd_edited(two_devices).await;
    let mut d = connect_dir(sd.port, false).await;
    let line = show(&cap_msg("clear-backup-full", 2, 9)).replace("type=66 ", "type=99 ");
    d.send(line.as_bytes()).await.unwrap();
    let _ = recv_data(&mut d).await;
    for l in [
        "use storage=File media_type=File pool_name=Cap pool_type=Backup append=0 copy=0 stripe=0\n",
        "use device=FileStorage\n",
    ] {
        d.send(l.as_bytes()).await.unwrap();
    }
    d.signal(Signal::Eod).await.unwrap();
    d.send(b"use storage=File media_type=File pool_name=Copy pool_type=Backup append=1 copy=0 stripe=0\n")
        .await
        .unwrap();
    d.send(b"use device=FileStorage2\n").await.unwrap();
    d.signal(Signal::Eod).await.unwrap();
    d.signal(Signal::Eod).await.unwrap();
    let r = show(&recv_data(&mut d).await);
    assert!(
        r.starts_with("3913 Bad use command: one exchange names storages to read and to write"),
        "{r}"
    );
    assert_eq!(recv(&mut d).await, Got::Signal(Signal::Terminate));
}
