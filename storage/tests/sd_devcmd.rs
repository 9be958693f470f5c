//! The Director's device commands on barque-sd (bconsole `label`, `relabel`, `mount`,
//! `unmount`, `release`): the lines the Bareos Director sends, Bareos' replies for a File
//! device, the label on disk readable as a Bareos volume, and a backup appending to the
//! volume labelled from the console.

mod sd_harness;

use fd_core::wire::bnet::Signal;
use fd_core::wire::sd_dev::LabelOk;
use fd_core::wire::stream::Label;
use sd_harness::*;
use storage::volume::{RecordReader, VolumeLabel};

/// One command on a fresh Director connection; returns the reply lines up to EOD.
async fn cmd(port: u16, line: &[u8]) -> Vec<String> {
    let mut d = connect_dir(port, false).await;
    d.send(line).await.unwrap();
    let mut out = Vec::new();
    loop {
        match recv(&mut d).await {
            Got::Data(m) => out.push(show(&m)),
            Got::Signal(Signal::Eod) => break,
            Got::Signal(s) => panic!("{s:?} after {out:?}"),
        }
    }
    // The connection stays in the command loop: a second command works.
    d.send(b"mount FileStorage drive=0\n").await.unwrap();
    assert!(show(&recv_data(&mut d).await).starts_with("3"));
    assert_eq!(recv(&mut d).await, Got::Signal(Signal::Eod));
    d.signal(Signal::Terminate).await.unwrap();
    out
}

fn label_of(path: &std::path::Path) -> (String, String) {
    let bytes = std::fs::read(path).unwrap();
    let rec = RecordReader::new(bytes.as_slice()).next().unwrap().unwrap();
    assert_eq!(rec.label(), Some(Label::VolLabel));
    assert_eq!((rec.vol_session_id, rec.vol_session_time), (0, 0));
    let l = VolumeLabel::parse(Label::VolLabel, &rec.data).unwrap();
    (show(l.volume_name), show(l.pool_name))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_label_mount_unmount_release_as_bareos() {
    let sd = start_sd(false).await;
    let p = sd.port;
    let print = format!("\"FileStorage\" ({})", sd.archive.display());
    // ua_label.cc's label line (no newline).
    let got = cmd(p, b"label FileStorage VolumeName=Cap-0001 PoolName=Cap MediaType=File Slot=0 drive=0 MinBlocksize=0 MaxBlocksize=0").await;
    assert_eq!(got.len(), 1, "{got:?}");
    let ok = LabelOk::parse(got[0].as_bytes()).unwrap();
    let vol = sd.archive.join("Cap-0001");
    assert_eq!(ok.vol_bytes, std::fs::metadata(&vol).unwrap().len());
    assert_eq!(show(ok.volume), "Cap-0001");
    assert_eq!(show(ok.device), print);
    assert_eq!(label_of(&vol), ("Cap-0001".into(), "Cap".into()));
    // barque-bls reads the label.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_barque-bls"))
        .arg("-L")
        .arg(&vol)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", show(&out.stderr));
    // A second label of the same volume is refused; the file is untouched.
    let before = std::fs::read(&vol).unwrap();
    assert_eq!(
        cmd(p, b"label FileStorage VolumeName=Cap-0001 PoolName=Other MediaType=File Slot=0 drive=0 MinBlocksize=0 MaxBlocksize=0").await,
        vec!["3920 Cannot label Volume because it is already labeled: \"Cap-0001\"\n"]
    );
    assert_eq!(std::fs::read(&vol).unwrap(), before);
    // An idle File device.
    assert_eq!(
        cmd(p, b"mount FileStorage drive=0\n").await,
        vec![format!("3906 File device {print} is always mounted.\n")]
    );
    assert_eq!(
        cmd(p, b"mount FileStorage drive=0").await,
        vec![format!("3906 File device {print} is always mounted.\n")]
    );
    assert_eq!(
        cmd(p, b"unmount FileStorage drive=0\n").await,
        vec![format!("3901 Device \"{print}\" is already unmounted.\n")]
    );
    assert_eq!(
        cmd(p, b"release FileStorage drive=0\n").await,
        vec![format!("3921 Device \"{print}\" already released.\n")]
    );
    assert_eq!(
        cmd(p, b"release Tape drive=0\n").await,
        vec!["3999 Device \"Tape\" not found or could not be opened.\n"]
    );
    assert_eq!(
        cmd(p, b"mount Tape drive=0\n").await,
        vec!["3999 Device Tape not found or could not be opened.\n"]
    );
    assert_eq!(
        cmd(p, b"label FileStorage VolumeName=X").await,
        vec!["3903 Error scanning label command: label FileStorage VolumeName=X\n"]
    );
    assert!(cmd(p, b"label FileStorage VolumeName=../x PoolName=Cap MediaType=File Slot=0 drive=0 MinBlocksize=0 MaxBlocksize=0").await[0].starts_with("3912 Failed to label Volume: ERR="));

    // A backup appends to the volume labelled from the console.
    let mut cat = Catalog::new("Cap-0001");
    cat.status = "Append".into();
    cat.blocks = 1;
    cat.bytes = before.len() as u64;
    let (seen, _, _) =
        backup_job(&sd, false, &mut cat, 1, "CapBackup.2026-11-22_15.46.52_03").await;
    assert!(show(seen.last().unwrap()).contains("end JobStatus=84 JobFiles=6 JobBytes=1062"));
    assert!(!seen.iter().any(|m| show(m).contains("Labeled new Volume")));
    assert_eq!(&std::fs::read(&vol).unwrap()[..before.len()], &before[..]);

    // relabel: the old volume's label must match; the volume gets the new name.
    assert_eq!(
        cmd(p, b"relabel FileStorage OldName=Nope NewName=Cap-0002 PoolName=Cap MediaType=File Slot=0 drive=0 MinBlocksize=0 MaxBlocksize=0").await[0],
        format!("3910 Unable to open device {print}: ERR=volume file {} not found\n", sd.archive.join("Nope").display())
    );
    let got = cmd(p, b"relabel FileStorage OldName=Cap-0001 NewName=Cap-0002 PoolName=Scratch MediaType=File Slot=0 drive=0 MinBlocksize=0 MaxBlocksize=0").await;
    let ok = LabelOk::parse(got[0].as_bytes()).unwrap();
    assert_eq!(show(ok.volume), "Cap-0002");
    assert!(!vol.exists());
    let new = sd.archive.join("Cap-0002");
    assert_eq!(ok.vol_bytes, std::fs::metadata(&new).unwrap().len());
    assert_eq!(label_of(&new), ("Cap-0002".into(), "Scratch".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_device_commands_while_a_job_writes() {
    let sd = start_sd(false).await;
    let p = sd.port;
    let print = format!("\"FileStorage\" ({})", sd.archive.display());
    let job = "CapBackup.2026-11-22_19.00.00_11";
    let mut d = connect_dir(p, false).await;
    let line =
        show(&cap_msg("clear-backup-full", 2, 9)).replace("CapBackup.2026-11-22_15.46.52_03", job);
    let (id, _, key, _) = define_job(&mut d, line.as_bytes(), true).await;
    let mut fd = connect_fd(p, job, &key, false).await.unwrap();
    d.send(b"run").await.unwrap();
    // The Director side answers catalog requests in the background.
    // The Director side holds its answer to the job's first FindMedia until told, so that
    // the job is caught while it has reserved the device but not mounted a volume yet.
    let (held_tx, held_rx) = tokio::sync::oneshot::channel();
    let (go_tx, go_rx) = tokio::sync::oneshot::channel::<()>();
    let dir = tokio::spawn(async move {
        let mut cat = Catalog::new("Cap-0001");
        let mut seen = Vec::new();
        let find = loop {
            let Got::Data(m) = recv(&mut d).await else {
                panic!("signal before FindMedia")
            };
            if show(&m).starts_with("CatReq ") && show(&m).contains(" FindMedia=") {
                break m;
            }
            if let Some(r) = cat.answer(&m) {
                d.send(&r).await.unwrap();
            }
            seen.push(m);
        };
        held_tx.send(()).unwrap();
        go_rx.await.unwrap();
        let r = cat.answer(&find).unwrap();
        d.send(&r).await.unwrap();
        seen.push(find);
        seen.extend(finish_job(&mut d, &mut cat).await);
        seen
    });
    fd.send(b"append open session\n").await.unwrap();
    recv_data(&mut fd).await;
    fd.send(format!("append data {id}\n").as_bytes())
        .await
        .unwrap();
    assert_eq!(recv_data(&mut fd).await, b"3000 OK data\n");
    fd.send(b"1 1 0").await.unwrap();
    fd.send(&cap_msg("clear-backup-full", 4, 13)).await.unwrap();
    fd.signal(Signal::Eod).await.unwrap();
    // Reserved, not writing yet: Bareos' `num_reserved` (dir_cmd.cc SendDirBusyMessage()).
    tokio::time::timeout(std::time::Duration::from_secs(60), held_rx)
        .await
        .expect("no FindMedia within 60 s")
        .unwrap();
    assert_eq!(sd.server.shared().device_counts("FileStorage"), (0, 1));
    assert_eq!(
        cmd(p, b"release FileStorage drive=0\n").await,
        vec![format!(
            "3937 Device \"{print}\" is busy with writers=0 reserved=1.\n"
        )]
    );
    go_tx.send(()).unwrap();
    // The volume is mounted and the job writes.
    let vol = sd.archive.join("Cap-0001");
    for _ in 0..6000 {
        if vol.exists() && sd.server.shared().device_counts("FileStorage") == (1, 0) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(
        cmd(p, b"release FileStorage drive=0\n").await,
        vec![format!(
            "3937 Device \"{print}\" is busy with writers=1 reserved=0.\n"
        )]
    );
    assert_eq!(
        cmd(p, b"unmount FileStorage drive=0\n").await,
        vec![format!(
            "3937 Device \"{print}\" is busy with writers=1 reserved=0.\n"
        )]
    );
    let got = cmd(p, b"mount FileStorage drive=0\n").await;
    assert_eq!(
        got,
        vec![format!(
            "3001 Device {print} is mounted with Volume \"Cap-0001\"\n"
        )]
    );
    assert!(cmd(p, b"label FileStorage VolumeName=Other PoolName=Cap MediaType=File Slot=0 drive=0 MinBlocksize=0 MaxBlocksize=0").await[0].starts_with("3937 "));
    assert!(!sd.archive.join("Other").exists());
    fd.signal(Signal::Eod).await.unwrap();
    assert_eq!(recv_data(&mut fd).await, b"3000 OK append data\n");
    fd.send(format!("append end session {id}\n").as_bytes())
        .await
        .unwrap();
    recv_data(&mut fd).await;
    fd.send(format!("append close session {id}\n").as_bytes())
        .await
        .unwrap();
    assert_eq!(recv_data(&mut fd).await, b"3000 OK close Status = 84\n");
    assert_eq!(recv(&mut fd).await, Got::Signal(Signal::Eod));
    fd.signal(Signal::Terminate).await.unwrap();
    let seen = dir.await.unwrap();
    assert!(show(seen.last().unwrap()).contains("JobStatus=84"));
    // Idle again.
    assert_eq!(
        cmd(p, b"release FileStorage drive=0\n").await,
        vec![format!("3921 Device \"{print}\" already released.\n")]
    );
}
