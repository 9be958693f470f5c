//! barque-sd end to end: a test Director and a test FD replay the captured Director ↔ SD and
//! FD → SD conversations (vectors/clear-backup-full conns 2 and 4, vectors/clear-restore
//! conns 2 and 4) against an in-process barque-sd on 127.0.0.1, and the volume it writes is
//! compared with the real one (vectors/volume-full/Cap-0001).

mod sd_harness;

use fd_core::wire::bnet::Signal;
use fd_core::wire::sd_ctl::SdToDir;
use fd_core::wire::stream::{Label, RecHdr};
use sd_harness::*;
use storage::volume::{Record, RecordReader, VolumeLabel};

const JOB: &str = "CapBackup.2026-11-22_15.46.52_03";

fn file_records(path: &std::path::Path) -> Vec<Record> {
    let v = std::fs::read(path).unwrap();
    RecordReader::new(v.as_slice())
        .map(|r| r.expect("volume readable"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_backup_matches_capture_and_volume() {
    let sd = start_sd(false).await;
    let mut cat = Catalog::new("Cap-0001");
    cat.max_vol_jobs = 1;
    let (seen, sd_id, sd_time) = backup_job(&sd, false, &mut cat, 1, JOB).await;
    assert_eq!(sd_id, 1);

    // The SD -> Director messages have the capture's shapes, in the capture's order
    // (clear-backup-full conn 2 msgs 10-63).
    let want: Vec<String> = sd_to_dir_shapes("clear-backup-full");
    let got: Vec<String> = seen.iter().map(|m| shape(m)).collect();
    assert_eq!(got, want);

    // Exact bytes where nothing run-specific is inside.
    let job_end = seen.last().unwrap();
    assert_eq!(
        show(job_end),
        format!("3099 Job {JOB} end JobStatus=84 JobFiles=6 JobBytes=1062 JobErrors=0\n")
    );
    let first_status = seen.iter().find(|m| m.starts_with(b"Status Job=")).unwrap();
    assert_eq!(first_status, &cap_msg("clear-backup-full", 2, 20));
    // The UpdCat frames equal the captured ones apart from the session id/time words.
    let updcats: Vec<&Vec<u8>> = seen.iter().filter(|m| m.starts_with(b"UpdCat")).collect();
    assert_eq!(updcats.len(), 9);
    for (k, got) in updcats.iter().enumerate() {
        let mut want = cap_msg("clear-backup-full", 2, 45 + k as u32);
        let at = b"UpdCat Job=".len() + JOB.len() + b" FileAttributes ".len();
        want[at..at + 4].copy_from_slice(&sd_id.to_be_bytes());
        want[at + 4..at + 8].copy_from_slice(&sd_time.to_be_bytes());
        assert_eq!(got.as_slice(), want.as_slice(), "UpdCat {k}");
    }
    // The real JobMedia range: from the end of the label block to the end of the volume.
    let vol = sd.archive.join("Cap-0001");
    let len = std::fs::metadata(&vol).unwrap().len();
    let cjm = seen
        .iter()
        .rev()
        .find(|m| m.starts_with(b"CatReq") && show(m).contains("CreateJobMedia"))
        .unwrap();
    let recs = file_records(&vol);
    let job_block = recs[1].block_offset;
    assert!(
        show(cjm).contains(&format!(
            "FirstIndex=1 LastIndex=6 StartFile=0 EndFile=0 StartBlock={job_block} EndBlock={} Copy=0 Strip=0 MediaId=1\n",
            len - 1
        )),
        "{}",
        show(cjm)
    );

    // The volume: label, SOS, the same 12 file records as the real Cap-0001, EOS.
    let real = file_records(&vectors().join("volume-full/Cap-0001"));
    assert_eq!(recs.len(), real.len());
    let vl = VolumeLabel::parse(Label::VolLabel, &recs[0].data).unwrap();
    assert_eq!(vl.volume_name, b"Cap-0001");
    assert_eq!(vl.pool_name, b"Cap");
    assert_eq!(vl.media_type, b"File");
    assert_eq!(recs[1].label(), Some(Label::SosLabel));
    assert_eq!(recs.last().unwrap().label(), Some(Label::EosLabel));
    for (g, w) in recs.iter().zip(&real).filter(|(w, _)| w.file_index > 0) {
        assert_eq!(
            (g.file_index, g.stream, &g.data),
            (w.file_index, w.stream, &w.data)
        );
        assert_eq!((g.vol_session_id, g.vol_session_time), (sd_id, sd_time));
    }
    // barque-bls lists it like the real one (records modulo session and times).
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_barque-bls"))
        .arg("-v")
        .arg("-V")
        .arg("Cap-0001")
        .arg(&sd.archive)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", show(&out.stderr));
    let listing = show(&out.stdout);
    for name in [
        "hello.txt",
        "sub/bytes.bin",
        "sub/notes.txt",
        "link-to-hello",
    ] {
        assert!(listing.contains(name), "{listing}");
    }
    // And barque-bls --extract restores the captured test tree from it.
    let out_dir = sd.dir.path().join("extracted");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_barque-bls"))
        .arg("--extract")
        .arg("-w")
        .arg(&out_dir)
        .arg("-V")
        .arg("Cap-0001")
        .arg(&sd.archive)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", show(&out.stderr));
    let tree = out_dir.join("srv/bareos-capture/testdata/tree");
    assert_eq!(std::fs::read(tree.join("hello.txt")).unwrap(), b"hello\n");
    assert_eq!(
        std::fs::read(tree.join("sub/bytes.bin")).unwrap(),
        (0..=255u8).collect::<Vec<u8>>()
    );
    assert_eq!(
        std::fs::read(tree.join("sub/notes.txt")).unwrap(),
        b"Bareos wire capture test file.\nSecond line.\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_restore_from_barque_volume() {
    let sd = start_sd(false).await;
    let mut cat = Catalog::new("Cap-0001");
    let (_, sd_id, sd_time) = backup_job(&sd, false, &mut cat, 1, JOB).await;
    let recs = file_records(&sd.archive.join("Cap-0001"));
    let start = recs[1].block_offset;
    let end = std::fs::metadata(sd.archive.join("Cap-0001"))
        .unwrap()
        .len()
        - 1;

    // clear-restore conn 2: JobId=3 … type=82 level=32, use storage append=0, bootstrap.
    let mut d = connect_dir(sd.port, false).await;
    d.send(&cap_msg("clear-restore", 2, 9)).await.unwrap();
    let (rid, rtime, key) = job_reply(&recv_data(&mut d).await);
    assert_eq!(rid, 2);
    d.send(b"getSecureEraseCmd\n").await.unwrap();
    recv_data(&mut d).await;
    d.send(&cap_msg("clear-restore", 2, 13)).await.unwrap();
    d.send(&cap_msg("clear-restore", 2, 14)).await.unwrap();
    d.signal(Signal::Eod).await.unwrap();
    d.signal(Signal::Eod).await.unwrap();
    // conn 2 msg 17: the read device is reserved at once.
    assert_eq!(
        recv_data(&mut d).await,
        b"3000 OK use device device=FileStorage\n"
    );
    d.send(b"bootstrap\n").await.unwrap();
    for l in [
        "Storage=\"File\"\n".to_string(),
        "Volume=\"Cap-0001\"\n".into(),
        "MediaType=\"File\"\n".into(),
        "Device=\"FileStorage\"\n".into(),
        format!("VolSessionId={sd_id}\n"),
        format!("VolSessionTime={sd_time}\n"),
        format!("VolAddr={start}-{end}\n"),
        "FileIndex=2-3\n".into(),
        "FileIndex=5-6\n".into(),
        "Count=4\n".into(),
    ] {
        d.send(l.as_bytes()).await.unwrap();
    }
    d.signal(Signal::Eod).await.unwrap();
    assert_eq!(recv_data(&mut d).await, b"3000 OK bootstrap\n"); // msg 39
    d.send(b"run").await.unwrap();

    let job = "CapRestore.2026-11-22_15.47.31_05";
    let fd_task = tokio::spawn(async move {
        let mut fd = connect_fd(sd.port, job, &key, false).await.unwrap();
        // conn 4 msgs 8-11.
        fd.send(format!("read open session = DummyVolume {rid} {rtime} 0 0 0 0\n").as_bytes())
            .await
            .unwrap();
        assert_eq!(
            recv_data(&mut fd).await,
            format!("3000 OK open ticket = {rid}\n").into_bytes()
        );
        fd.send(format!("read data {rid}\n").as_bytes())
            .await
            .unwrap();
        assert_eq!(recv_data(&mut fd).await, b"3000 OK data\n");
        // The captured records of the first volume (conn 4 msgs 12-27), with our session.
        let cap = capture("clear-restore", 4);
        let want: Vec<Vec<u8>> = cap
            .iter()
            .filter(|m| m.i >= 12 && m.i <= 27)
            .map(|m| {
                if m.data.starts_with(b"rechdr") {
                    let h = RecHdr::parse(&m.data).unwrap();
                    let h = RecHdr {
                        vol_session_id: sd_id,
                        vol_session_time: sd_time,
                        ..h
                    };
                    let mut b = vec![0u8; h.buffer_len()];
                    h.emit(&mut b).unwrap();
                    b
                } else {
                    m.data.clone()
                }
            })
            .collect();
        for (k, w) in want.iter().enumerate() {
            assert_eq!(&recv_data(&mut fd).await, w, "record message {k}");
        }
        assert_eq!(recv(&mut fd).await, Got::Signal(Signal::Eod));
        fd.send(format!("read close session {rid}\n").as_bytes())
            .await
            .unwrap();
        assert_eq!(recv_data(&mut fd).await, b"3000 OK close Status = 82\n");
        fd.signal(Signal::Terminate).await.unwrap();
        assert_eq!(recv(&mut fd).await, Got::Signal(Signal::Eod));
        let _ = fd.signal(Signal::Terminate).await;
    });
    let mut rcat = cat.clone();
    rcat.status = "Used".into();
    let seen = serve_job(&mut d, &mut rcat).await;
    fd_task.await.unwrap();
    let shapes: Vec<String> = seen.iter().map(|m| shape(m)).collect();
    // clear-restore conn 2 msgs 41-59 for one volume (msgs 50-54 are the second volume).
    let want: Vec<String> = sd_to_dir_shapes("clear-restore")
        .into_iter()
        .skip(4) // Job, SecureErase, use device, bootstrap
        .enumerate()
        .filter(|(k, _)| !(8..=11).contains(k))
        .map(|(_, s)| s)
        .collect();
    assert_eq!(shapes, want);
    assert_eq!(
        show(seen.last().unwrap()),
        format!("3099 Job {job} end JobStatus=84 JobFiles=0 JobBytes=0 JobErrors=0\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_status_and_dot_status_shapes() {
    let sd = start_sd(false).await;
    let mut cat = Catalog::new("Cap-0001");
    backup_job(&sd, false, &mut cat, 1, JOB).await;
    let mut d = connect_dir(sd.port, false).await;
    d.send(b"status FileStorage\n").await.unwrap();
    // clear-status-client-storage conn 3 msgs 10-45.
    let cap = capture("clear-status-client-storage", 3);
    let want: Vec<&sd_harness::CapMsg> = cap
        .iter()
        .filter(|m| m.dir == "sd>dir" && m.i >= 10)
        .collect();
    let mut got = Vec::new();
    loop {
        match recv(&mut d).await {
            Got::Data(m) => got.push(m),
            Got::Signal(Signal::Eod) => break,
            other => panic!("{other:?}"),
        }
    }
    // Same number of frames minus the two captured terminated jobs we did not run.
    assert_eq!(got.len(), want.len() - 1 - 2);
    assert_eq!(got[0], b"\n");
    for m in &got[1..] {
        assert_eq!(m.last(), Some(&0), "{}", show(m));
    }
    let fixed: Vec<&[u8]> = want
        .iter()
        .filter(|m| m.signal.is_none())
        .map(|m| m.data.as_slice())
        .filter(|m| {
            [
                &b"\nJob inventory:\n\n\0"[..],
                b"No Jobs running.\n\0",
                b"\nTerminated Jobs:\n\0",
                b" JobId  Level    Files      Bytes   Status   Finished        Name \n\0",
                b"Configured device capabilities:\n\0",
                b"  EOF BSR BSF FSR FSF EOM !REM RACCESS AUTOMOUNT LABEL !ANONVOLS !ALWAYSOPEN\n\0",
                b"  !OPENED !LABEL !MALLOC !APPEND !READ !EOT !WEOT !EOF !NEXTVOL !SHORT !MOUNTED\n\0",
                b"Attached Jobs: \0",
                b"  Min block=0 Max block=1048576\n\0",
                b"Used Volume status:\n\0",
            ]
            .contains(m)
        })
        .collect();
    assert_eq!(fixed.len(), 10);
    for f in fixed {
        assert!(got.iter().any(|g| g.as_slice() == f), "missing {}", show(f));
    }
    let term = got
        .iter()
        .find(|g| g.starts_with(b"     1  Full"))
        .expect("terminated job line");
    assert!(
        show(term).contains("  Full          6    1.062 K  OK  "),
        "{}",
        show(term)
    );

    // clear-dot-status conn 4: `.status header` = three lines, no lead, EOD.
    d.send(b".status header\n").await.unwrap();
    let a = recv_data(&mut d).await;
    assert!(a.starts_with(b"bareos-sd Version: ") && a.ends_with(b" \n\0"));
    let b = recv_data(&mut d).await;
    assert!(b.starts_with(b"Daemon started ") && show(&b).contains(". Jobs: run=1, running=0, "));
    assert_eq!(
        recv_data(&mut d).await,
        cap_msg("clear-dot-status", 4, 12).as_slice()
    );
    assert_eq!(recv(&mut d).await, Got::Signal(Signal::Eod));
    let _ = SdToDir::Hello;
}

/// vectors/clear-backup-multiblock: the FD's records (taken whole from the real volume
/// vectors/volume-multiblock/Cap-0001, since the transcript cuts 256 KiB payloads) sent
/// through barque-sd give the same records split into 1 MiB blocks, and the Director sees
/// the captured message shapes, including where the UpdCat messages fall between blocks
/// (conn 2 msgs 43-68).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_multiblock_backup_matches_capture() {
    let Ok(real_bytes) = std::fs::read(vectors().join("volume-multiblock/Cap-0001")) else {
        return; // round-2 vectors absent
    };
    let real: Vec<Record> = RecordReader::new(real_bytes.as_slice())
        .map(|r| r.unwrap())
        .collect();
    let job = "CapBackup.2026-11-22_16.43.46_03";
    let sd = start_sd(false).await;
    let mut d = connect_dir(sd.port, false).await;
    let (id, time, key, _) =
        define_job(&mut d, &cap_msg("clear-backup-multiblock", 2, 9), true).await;
    let mut fd = connect_fd(sd.port, job, &key, false).await.unwrap();
    let files: Vec<Record> = real.iter().filter(|r| r.file_index > 0).cloned().collect();
    let fd_task = tokio::spawn(async move {
        fd.send(b"append open session\n").await.unwrap();
        recv_data(&mut fd).await;
        fd.send(format!("append data {id}\n").as_bytes())
            .await
            .unwrap();
        assert_eq!(recv_data(&mut fd).await, b"3000 OK data\n");
        let mut prev: Option<(i32, i32)> = None;
        for r in &files {
            let key = (r.file_index, r.stream.0);
            if prev != Some(key) {
                if prev.is_some() {
                    fd.signal(Signal::Eod).await.unwrap();
                }
                fd.send(format!("{} {} 0", r.file_index, r.stream.0).as_bytes())
                    .await
                    .unwrap();
                prev = Some(key);
            }
            fd.send(&r.data).await.unwrap();
        }
        fd.signal(Signal::Eod).await.unwrap();
        fd.signal(Signal::Eod).await.unwrap();
        assert_eq!(recv_data(&mut fd).await, b"3000 OK append data\n");
        fd.send(format!("append end session {id}\n").as_bytes())
            .await
            .unwrap();
        assert_eq!(recv_data(&mut fd).await, b"3000 OK end\n");
        fd.send(format!("append close session {id}\n").as_bytes())
            .await
            .unwrap();
        assert_eq!(recv_data(&mut fd).await, b"3000 OK close Status = 84\n");
        assert_eq!(recv(&mut fd).await, Got::Signal(Signal::Eod));
        fd.signal(Signal::Terminate).await.unwrap();
    });
    d.send(b"run").await.unwrap();
    let mut cat = Catalog::new("Cap-0001");
    cat.max_vol_jobs = 1;
    let seen = finish_job(&mut d, &mut cat).await;
    fd_task.await.unwrap();
    let got: Vec<String> = seen.iter().map(|m| shape(m)).collect();
    let want: Vec<String> = sd_to_dir_shapes("clear-backup-multiblock")
        .into_iter()
        .skip(4)
        .collect();
    assert_eq!(got, want);
    assert_eq!(
        show(seen.last().unwrap()),
        format!("3099 Job {job} end JobStatus=84 JobFiles=8 JobBytes=3413318 JobErrors=0\n")
    );
    // Same records; the session's blocks have the real block sizes.
    let mine = file_records(&sd.archive.join("Cap-0001"));
    assert_eq!(mine.len(), real.len());
    for (g, w) in mine.iter().zip(&real).filter(|(g, _)| g.file_index > 0) {
        assert_eq!(
            (g.file_index, g.stream, g.blocks),
            (w.file_index, w.stream, w.blocks)
        );
        assert!(g.data == w.data);
        assert_eq!((g.vol_session_id, g.vol_session_time), (id, time));
    }
    let sizes = |v: &[u8]| -> Vec<u64> {
        storage::volume::VolumeReader::new(v)
            .map(|b| b.unwrap().header.block_len as u64)
            .skip(1)
            .collect()
    };
    let mine_bytes = std::fs::read(sd.archive.join("Cap-0001")).unwrap();
    assert_eq!(sizes(&mine_bytes), sizes(&real_bytes));
}

/// Two backups at once on the one device: barque-sd serializes appends per device (the
/// second job's reservation waits for the first to release the device); both end OK and
/// both volumes read back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_two_concurrent_backups() {
    let sd = start_sd(false).await;
    let port = sd.port;
    let a = tokio::spawn(async move {
        let mut cat = Catalog::new("Cap-0001");
        backup_on(port, false, &mut cat, 1, "CapBackup.2026-11-22_15.46.52_03").await
    });
    let b = tokio::spawn(async move {
        let mut cat = Catalog::new("Cap-0002");
        backup_on(port, false, &mut cat, 2, "CapBackup.2026-11-22_15.46.53_04").await
    });
    let (ra, rb) = (a.await.unwrap(), b.await.unwrap());
    for (seen, _, _) in [&ra, &rb] {
        assert!(show(seen.last().unwrap()).contains("end JobStatus=84 JobFiles=6 JobBytes=1062"));
    }
    assert_ne!(ra.1, rb.1, "distinct VolSessionIds");
    for v in ["Cap-0001", "Cap-0002"] {
        assert_eq!(
            file_records(&sd.archive.join(v))
                .iter()
                .filter(|r| r.file_index > 0)
                .count(),
            12
        );
    }
}
