//! SD → SD copy (Bareos' `replicate`/`listen`): a backup on SD A; the Director starts a
//! writing job on SD B (`JobId=`, `use storage … append=1`, `listen`) and a reading job on
//! SD A (`JobId=`, `use storage … append=0`, `bootstrap`, `replicate … Authorization=«B's
//! key»`, `run`); A connects to B (`Hello Start Storage Job`), sends `start replicate`,
//! `replicate data`, the records, `end replicate`. B's volume then holds the job's records
//! byte for byte in a new session, readable by barque-bls, and a restore from B's copy gives
//! the FD the original records.

mod sd_harness;

use std::time::Duration;

use barque_common::conn::AuthenticatedConnection;
use fd_core::wire::bnet::{Frame, Signal};
use fd_core::wire::sd_ctl::SdToDir;
use sd_harness::*;
use storage::volume::{Record, RecordReader};

/// Answer catalog requests until EOD, then TERMINATE; returns the messages.
fn director(
    mut d: AuthenticatedConnection,
    mut cat: Catalog,
) -> tokio::task::JoinHandle<(Vec<Vec<u8>>, Catalog)> {
    tokio::spawn(async move {
        let mut all = Vec::new();
        loop {
            match tokio::time::timeout(Duration::from_secs(60), d.recv())
                .await
                .expect("SD silent for 60 s")
                .expect("Director connection failed")
            {
                Frame::Data(m) => {
                    let m = m.to_vec();
                    if let Some(r) = cat.answer(&m) {
                        d.send(&r).await.unwrap();
                    }
                    all.push(m);
                }
                Frame::Signal(Signal::Eod) => break,
                other => panic!("unexpected {other:?}"),
            }
        }
        (all, cat)
    })
}

fn file_records(vol: &std::path::Path) -> Vec<Record> {
    let bytes = std::fs::read(vol).unwrap();
    RecordReader::new(bytes.as_slice())
        .map(|r| r.unwrap())
        .filter(|r| r.file_index > 0)
        .collect()
}

fn job_line(job_id: u32, job: &str, typ: u8) -> Vec<u8> {
    show(&cap_msg("clear-backup-full", 2, 9))
        .replace("JobId=1 ", &format!("JobId={job_id} "))
        .replace("type=66 ", &format!("type={typ} "))
        .replace("CapBackup.2026-11-22_15.46.52_03", job)
        .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_copy_between_two_sds_with_replicate_and_listen() {
    let a = start_sd(false).await;
    let b = start_sd(false).await;
    // The original backup on A.
    let mut cat_a = Catalog::new("Cap-0001");
    let (seen, orig_id, orig_time) =
        backup_job(&a, false, &mut cat_a, 1, "CapBackup.2026-11-22_15.46.52_03").await;
    let (first, last, start, end) = job_media(&seen);

    // Writing side on B: the copy job (type 'c'), a new volume in the copy pool.
    let copy_job = "CapCopy.2026-11-22_18.30.00_07";
    let mut db = connect_dir(b.port, false).await;
    let (b_id, b_time, b_key, _) = define_job(&mut db, &job_line(2, copy_job, b'c'), true).await;
    db.send(b"listen\n").await.unwrap();
    let b_dir = director(db, Catalog::new("Copy-0001"));

    // Reading side on A: the bootstrap of the original job, then replicate and run.
    let read_job = "CapCopy.2026-11-22_18.30.00_08";
    let mut da = connect_dir(a.port, false).await;
    let (_, _, _, used) = define_job(&mut da, &job_line(3, read_job, b'c'), false).await;
    assert_eq!(used, b"3000 OK use device device=FileStorage\n");
    da.send(b"bootstrap\n").await.unwrap();
    for l in [
        "Storage=\"File\"\n".to_string(),
        "Volume=\"Cap-0001\"\n".into(),
        "MediaType=\"File\"\n".into(),
        "Device=\"FileStorage\"\n".into(),
        format!("VolSessionId={orig_id}\n"),
        format!("VolSessionTime={orig_time}\n"),
        format!("VolAddr={start}-{end}\n"),
        format!("FileIndex={first}-{last}\n"),
    ] {
        da.send(l.as_bytes()).await.unwrap();
    }
    da.signal(Signal::Eod).await.unwrap();
    assert_eq!(recv_data(&mut da).await, b"3000 OK bootstrap\n");
    da.send(
        format!(
            "replicate JobId=2 Job={copy_job} address=127.0.0.1 port={} ssl=0 Authorization={b_key}\n",
            b.port
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    assert_eq!(recv_data(&mut da).await, b"3000 OK replicate\n");
    da.send(b"run").await.unwrap();
    let mut cat_read = cat_a.clone();
    cat_read.status = "Used".into();
    let a_dir = director(da, cat_read);

    let (a_seen, _) = a_dir.await.unwrap();
    let (b_seen, _) = b_dir.await.unwrap();
    let a_end = show(a_seen.last().unwrap());
    let b_end = show(b_seen.last().unwrap());
    assert!(
        a_end.contains("end JobStatus=84 JobFiles=6 JobBytes=1062"),
        "{a_end}\n{:#?}",
        a_seen.iter().map(|m| show(m)).collect::<Vec<_>>()
    );
    assert!(
        b_end.contains("end JobStatus=84 JobFiles=6 JobBytes=1062"),
        "{b_end}\n{:#?}",
        b_seen.iter().map(|m| show(m)).collect::<Vec<_>>()
    );
    // The writing SD waited for an SD (JobStatus S), and catalogued the attributes.
    assert!(b_seen
        .iter()
        .any(|m| show(m) == format!("Status Job={copy_job} JobStatus=83\n")));
    assert!(b_seen
        .iter()
        .any(|m| matches!(SdToDir::parse(m), Ok(SdToDir::UpdCat(_)))));

    // B's volume: the same file records, in B's session.
    let orig = file_records(&a.archive.join("Cap-0001"));
    let copy = file_records(&b.archive.join("Copy-0001"));
    assert_eq!(orig.len(), copy.len());
    assert!(!copy.is_empty());
    for (o, c) in orig.iter().zip(&copy) {
        assert_eq!(
            (o.file_index, o.stream, &o.data),
            (c.file_index, c.stream, &c.data)
        );
        assert_eq!((c.vol_session_id, c.vol_session_time), (b_id, b_time));
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_barque-bls"))
        .arg("-j")
        .arg(b.archive.join("Copy-0001"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", show(&out.stderr));
    assert!(
        show(&out.stdout).contains(copy_job),
        "{}",
        show(&out.stdout)
    );
}
