//! barque-sd jobs beyond the plain captured backup/restore: passive client (the SD dials a
//! test FD), cancel, TLS-PSK on both channels, and bad input that must be refused with a
//! clear message while the daemon keeps serving.

mod sd_harness;

use std::sync::Arc;
use std::time::Duration;

use barque_common::conn::{self, Local, Peer, PeerLookup};
use barque_common::tls::{Key, TlsSettings};
use fd_core::wire::bnet::Signal;
use fd_core::wire::psk::ResourceType;
use fd_core::wire::sd_ctl::SdToDir;
use fd_core::wire::stream::Label;
use sd_harness::*;
use storage::volume::{RecordReader, SessionLabel};

const JOB: &str = "CapBackup.2026-11-22_15.46.52_03";

async fn open_append(fd: &mut barque_common::conn::AuthenticatedConnection, ticket: u32) {
    fd.send(b"append open session\n").await.unwrap();
    assert_eq!(
        recv_data(fd).await,
        format!("3000 OK open ticket = {ticket}\n").into_bytes()
    );
    fd.send(format!("append data {ticket}\n").as_bytes())
        .await
        .unwrap();
    assert_eq!(recv_data(fd).await, b"3000 OK data\n");
}

async fn send_stream(
    fd: &mut barque_common::conn::AuthenticatedConnection,
    fi: i32,
    stream: i32,
    data: &[u8],
) {
    fd.send(format!("{fi} {stream} 0").as_bytes())
        .await
        .unwrap();
    fd.send(data).await.unwrap();
    fd.signal(Signal::Eod).await.unwrap();
}

/// Still serving: a fresh Director connection gets a status reply.
async fn still_serving(port: u16) {
    let mut d = connect_dir(port, false).await;
    d.send(b".status header\n").await.unwrap();
    assert!(recv_data(&mut d).await.starts_with(b"bareos-sd Version: "));
}

fn jmsg_texts(seen: &[Vec<u8>]) -> Vec<String> {
    seen.iter()
        .filter_map(|m| match SdToDir::parse(m) {
            Ok(SdToDir::Jmsg(j)) => Some(format!("{} {}", j.msg_type.to_u8(), show(j.text))),
            _ => None,
        })
        .collect()
}

/// The SD dials the FD (`passive client … ssl=0`, or `ssl=4` = TLS-PSK with the session
/// key, identity `R_JOB` RS «Job»).
async fn passive_backup(tls: bool) {
    let sd = start_sd(tls).await;
    let mut d = connect_dir(sd.port, tls).await;
    let job = "CapBackup.2026-11-22_15.48.07_03";
    // vectors/clear-backup-passive conn 2 msg 9.
    let (id, _, key, r) = define_job(&mut d, &cap_msg("clear-backup-passive", 2, 9), true).await;
    assert_eq!(r, b"3000 OK use device device=JustInTime\x01Device\n");
    // The test FD listens; the SD dials it (conn 4 of the capture).
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let fd_port = l.local_addr().unwrap().port();
    let k = key.clone();
    let lookup: Arc<dyn PeerLookup> = Arc::new(move |kind: ResourceType, name: &str| {
        (kind == ResourceType::Job && name == job).then(|| Peer {
            kind,
            name: name.into(),
            key: Key::raw(k.as_bytes().to_vec()),
            address: String::new(),
            port: 0,
            tls: if tls {
                TlsSettings::default()
            } else {
                TlsSettings::disabled()
            },
        })
    });
    let fd_task = tokio::spawn(async move {
        let settings = if tls {
            TlsSettings::default()
        } else {
            TlsSettings::disabled()
        };
        let local = Local::new(ResourceType::Client, "bareos-fd", settings);
        let (ident, fd) = conn::accept_from(&l, &local, lookup, &opts())
            .await
            .unwrap();
        // `Hello Storage calling Start Job «Job» Version="…"` (conn 4 msg 1).
        assert!(ident
            .hello
            .starts_with(format!("Hello Storage calling Start Job {job} Version=\"").as_bytes()));
        assert_eq!(fd.is_tls(), tls);
        replay_fd("clear-backup-passive", 4, fd, id).await;
    });
    d.send(
        format!(
            "passive client address=127.0.0.1 port={fd_port} ssl={}\n",
            if tls { 4 } else { 0 }
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    // conn 2 msg 20.
    assert_eq!(recv_data(&mut d).await, b"2000 OK passive client\n");
    d.send(b"run").await.unwrap();
    let mut cat = Catalog::new("Cap-0001");
    let seen = finish_job(&mut d, &mut cat).await;
    fd_task.await.unwrap();
    assert_eq!(
        show(seen.last().unwrap()),
        format!("3099 Job {job} end JobStatus=84 JobFiles=7 JobBytes=1252 JobErrors=0\n")
    );
    // Same message shapes as the passive capture after `run`.
    let want: Vec<String> = sd_to_dir_shapes("clear-backup-passive")
        .into_iter()
        .skip(5)
        .collect();
    let got: Vec<String> = seen.iter().map(|m| shape(m)).collect();
    assert_eq!(got, want);
    let connected = seen
        .iter()
        .find(|m| show(m).contains("Connected File Daemon at 127.0.0.1:"))
        .unwrap();
    let enc = if tls {
        "encryption: TLS_CHACHA20_POLY1305_SHA256\n"
    } else {
        "encryption: None\n"
    };
    assert!(show(connected).ends_with(enc), "{}", show(connected));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_passive_client_backup() {
    passive_backup(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_passive_client_backup_tls_psk() {
    passive_backup(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_tls_psk_both_channels() {
    let sd = start_sd(true).await;
    let mut d = connect_dir(sd.port, true).await;
    assert!(d.is_tls());
    let (id, _, key, _) = define_job(&mut d, &cap_msg("clear-backup-full", 2, 9), true).await;
    // Cleartext is refused on a TLS-required SD (the job channel too).
    assert!(connect_fd(sd.port, JOB, &key, false).await.is_err());
    let fd = connect_fd(sd.port, JOB, &key, true)
        .await
        .expect("PSK job channel");
    assert!(fd.is_tls());
    let t = tokio::spawn(replay_fd("clear-backup-full", 4, fd, id));
    d.send(b"run").await.unwrap();
    let mut cat = Catalog::new("Cap-0001");
    let seen = finish_job(&mut d, &mut cat).await;
    t.await.unwrap();
    assert!(show(seen.last().unwrap()).contains("end JobStatus=84 JobFiles=6 JobBytes=1062"));
    let n = RecordReader::new(
        std::fs::read(sd.archive.join("Cap-0001"))
            .unwrap()
            .as_slice(),
    )
    .filter(|r| r.as_ref().unwrap().file_index > 0)
    .count();
    assert_eq!(n, 12);
    // A cleartext Director is refused too.
    let local = Local::new(
        ResourceType::Director,
        "bareos-dir",
        TlsSettings::disabled(),
    );
    let peer = Peer {
        kind: ResourceType::Storage,
        name: "bareos-sd".into(),
        key: Key::from_password(SD_PASSWORD).unwrap(),
        address: "127.0.0.1".into(),
        port: sd.port,
        tls: TlsSettings::disabled(),
    };
    assert!(conn::connect(
        &local,
        &peer,
        &conn::Outbound::DirectorToSd,
        conn::HandshakeMode::Cleartext,
        &opts()
    )
    .await
    .is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_cancel_reports_failure_and_volume_stays_readable() {
    let sd = start_sd(false).await;
    let mut d = connect_dir(sd.port, false).await;
    let (id, _, key, _) = define_job(&mut d, &cap_msg("clear-backup-full", 2, 9), true).await;
    let mut fd = connect_fd(sd.port, JOB, &key, false).await.unwrap();
    d.send(b"run").await.unwrap();
    let mut cat = Catalog::new("Cap-0001");
    let dir_task = tokio::spawn(async move {
        let seen = finish_job(&mut d, &mut cat).await;
        (seen, d)
    });
    open_append(&mut fd, id).await;
    let attr = cap_msg("clear-backup-full", 4, 13);
    send_stream(&mut fd, 1, 1, &attr).await;
    send_stream(&mut fd, 1, 2, &vec![7u8; 300_000]).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // `status` while the job writes (frames as `core/src/stored/status.cc` sends them).
    let mut st = connect_dir(sd.port, false).await;
    st.send(b"status FileStorage\n").await.unwrap();
    let mut frames = Vec::new();
    while let Got::Data(m) = recv(&mut st).await {
        frames.push(show(&m));
    }
    let dev = format!("\"FileStorage\" ({})", sd.archive.display());
    for want in [
        "JobId=1 Level=Full Type=Backup Name=CapBackup Status=Running\n\0".to_string(),
        format!("Writing: Volume=\"Cap-0001\"\n    pool=\"Cap\" device={dev}\n\0"),
        "    spooling=0 despooling=0 despool_wait=0\n\0".to_string(),
        format!("\nDevice {dev} is mounted with:\n    Volume:      Cap-0001\n    Pool:        Cap\n    Media type:  File\n\0"),
    ] {
        assert!(frames.contains(&want), "missing {want:?} in {frames:?}");
    }
    assert!(frames
        .iter()
        .any(|f| f.starts_with("    Files=1 Bytes=300,108 AveBytes/sec=")));
    assert!(!frames.iter().any(|f| f == "No Jobs running.\n\0"));
    // vectors/clear-cancel conn 7: `cancel Job=…` on a fresh connection.
    let mut c = connect_dir(sd.port, false).await;
    c.send(format!("cancel Job={JOB}\n").as_bytes())
        .await
        .unwrap();
    assert_eq!(
        recv_data(&mut c).await,
        format!("3000 JobId=1 Job=\"{JOB}\" marked to be canceled.\n").into_bytes()
    );
    assert_eq!(recv(&mut c).await, Got::Signal(Signal::Eod));
    let (seen, _d) = dir_task.await.unwrap();
    let end = show(seen.last().unwrap());
    assert!(end.contains("end JobStatus=65 "), "{end}");
    assert!(!seen
        .iter()
        .any(|m| m.as_slice() == format!("Status Job={JOB} JobStatus=84\n").as_bytes()));
    // The FD gets no more OKs; the volume holds the label, the session with an EOS that says
    // canceled, and reads cleanly.
    let recs = volume_records(&sd.archive.join("Cap-0001"));
    let eos = recs.last().unwrap();
    assert_eq!(eos.label(), Some(Label::EosLabel));
    let l = SessionLabel::parse(Label::EosLabel, &eos.data).unwrap();
    assert_eq!(l.eos.unwrap().job_status, u32::from(b'A'));
    assert_eq!(recs.iter().filter(|r| r.file_index > 0).count(), 2);
    // Not found.
    let mut c = connect_dir(sd.port, false).await;
    c.send(b"cancel Job=NoSuchJob.2026\n").await.unwrap();
    assert_eq!(
        recv_data(&mut c).await,
        b"3904 Job NoSuchJob.2026 not found.\n"
    );
    still_serving(sd.port).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_malformed_director_commands_refused() {
    let sd = start_sd(false).await;
    for (cmd, want) in [
        (&b"JobId=abc job=x\n"[..], "3915 Bad Job command"),
        (b"frobnicate\n", "3900 Invalid command: frobnicate"),
        (b"run", "3900 Invalid command: run before JobId"),
        (
            b"use storage=File media_type=File pool_name=Cap pool_type=Backup append=1 copy=0 stripe=0\n",
            "3913 Bad use command: no job defined",
        ),
    ] {
        let mut d = connect_dir(sd.port, false).await;
        d.send(cmd).await.unwrap();
        let r = show(&recv_data(&mut d).await);
        assert!(r.starts_with(want), "{} -> {r}", show(cmd));
        still_serving(sd.port).await;
    }
    // Accepted and ignored (jobs.md §2.1, §2.4).
    let mut d = connect_dir(sd.port, false).await;
    d.send(b"pluginoptions python:module=x\n").await.unwrap();
    assert_eq!(recv_data(&mut d).await, b"2000 OK plugin options\n");
    d.send(format!("setbandwidth=262144 Job={JOB}\n").as_bytes())
        .await
        .unwrap();
    assert_eq!(recv_data(&mut d).await, b"2000 OK Bandwidth\n");
    // An unknown device.
    let mut d = connect_dir(sd.port, false).await;
    d.send(&cap_msg("clear-backup-full", 2, 9)).await.unwrap();
    recv_data(&mut d).await;
    d.send(b"use storage=File media_type=File pool_name=Cap pool_type=Backup append=1 copy=0 stripe=0\n")
        .await
        .unwrap();
    d.send(b"use device=NoSuchDevice\n").await.unwrap();
    d.signal(Signal::Eod).await.unwrap();
    d.signal(Signal::Eod).await.unwrap();
    assert_eq!(
        recv_data(&mut d).await,
        b"3924 Device \"NoSuchDevice\" not in SD Device resources or no matching Media Type.\n"
    );
    still_serving(sd.port).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_wrong_session_key_refused() {
    let sd = start_sd(false).await;
    let mut d = connect_dir(sd.port, false).await;
    let (_, _, key, _) = define_job(&mut d, &cap_msg("clear-backup-full", 2, 9), true).await;
    let wrong = "AAAA-BBBB-CCCC-DDDD-EEEE-FFFF-GGGG-HHHH";
    assert_ne!(key, wrong);
    assert!(connect_fd(sd.port, JOB, wrong, false).await.is_err());
    // Unknown job name.
    assert!(connect_fd(sd.port, "Other.2026", &key, false)
        .await
        .is_err());
    // The right key still works afterwards.
    assert!(connect_fd(sd.port, JOB, &key, false).await.is_ok());
    still_serving(sd.port).await;
}

async fn failed_backup(
    sd: &Sd,
    feed: impl FnOnce(barque_common::conn::AuthenticatedConnection, u32) -> tokio::task::JoinHandle<()>,
) -> Vec<Vec<u8>> {
    let mut d = connect_dir(sd.port, false).await;
    let (id, _, key, _) = define_job(&mut d, &cap_msg("clear-backup-full", 2, 9), true).await;
    let fd = connect_fd(sd.port, JOB, &key, false).await.unwrap();
    let t = feed(fd, id);
    d.send(b"run").await.unwrap();
    let mut cat = Catalog::new("Cap-0001");
    let seen = finish_job(&mut d, &mut cat).await;
    t.await.unwrap();
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_bad_data_header_refused() {
    let sd = start_sd(false).await;
    let seen = failed_backup(&sd, |mut fd, id| {
        tokio::spawn(async move {
            open_append(&mut fd, id).await;
            fd.send(b"1 x 0").await.unwrap();
            assert_eq!(recv_data(&mut fd).await, b"3999 Failed append\n");
        })
    })
    .await;
    let msgs = jmsg_texts(&seen);
    assert!(
        msgs.iter().any(|m| m.starts_with(
            "3 bareos-sd JobId 1: Fatal error: Error reading data header from FD: \"1 x 0\""
        )),
        "{msgs:?}"
    );
    assert!(show(seen.last().unwrap()).contains("end JobStatus=102 "));
    still_serving(sd.port).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_records_out_of_order_refused() {
    let sd = start_sd(false).await;
    let seen = failed_backup(&sd, |mut fd, id| {
        tokio::spawn(async move {
            open_append(&mut fd, id).await;
            send_stream(&mut fd, 1, 1, &cap_msg("clear-backup-full", 4, 13)).await;
            fd.send(b"3 1 0").await.unwrap();
            assert_eq!(recv_data(&mut fd).await, b"3999 Failed append\n");
        })
    })
    .await;
    let msgs = jmsg_texts(&seen);
    assert!(
        msgs.iter().any(|m| m
            .contains("Fatal error: FileIndex 3 from the FD is out of order after FileIndex 1")),
        "{msgs:?}"
    );
    assert!(show(seen.last().unwrap()).contains("end JobStatus=102 "));
    // What was written before stays readable: label, SOS, one record, EOS.
    let recs = volume_records(&sd.archive.join("Cap-0001"));
    assert_eq!(recs.len(), 4);
    still_serving(sd.port).await;
}

/// Every record of the volume file at `path`.
fn volume_records(path: &std::path::Path) -> Vec<storage::volume::Record> {
    let v = std::fs::read(path).unwrap();
    RecordReader::new(v.as_slice())
        .map(|r| r.unwrap())
        .collect()
}

/// A TCP relay to `127.0.0.1:to`: once `marker` has passed towards the server, it lets
/// `after` more bytes (the marker's included) through and then closes both ways, as a
/// network or an FD that dies in the middle of a frame would. Returns the relay's port.
async fn cutting_relay(to: u16, marker: &'static [u8], after: usize) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (client, _) = listener.accept().await.unwrap();
        let server = tokio::net::TcpStream::connect(("127.0.0.1", to))
            .await
            .unwrap();
        let (mut cr, mut cw) = client.into_split();
        let (mut sr, mut sw) = server.into_split();
        let back = tokio::spawn(async move {
            let _ = tokio::io::copy(&mut sr, &mut cw).await;
        });
        let mut seen: Vec<u8> = Vec::new();
        let mut budget: Option<usize> = None;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match cr.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let mut chunk = &buf[..n];
            if budget.is_none() {
                // Look for the marker in the kept tail and this chunk.
                let keep = seen.len();
                seen.extend_from_slice(chunk);
                if let Some(at) = seen.windows(marker.len()).position(|w| w == marker) {
                    let from = at.saturating_sub(keep);
                    let before = &chunk[..from];
                    sw.write_all(before).await.unwrap();
                    chunk = &chunk[from..];
                    budget = Some(after);
                } else {
                    let tail = seen.len().saturating_sub(marker.len());
                    seen.drain(..tail);
                }
            }
            match budget.as_mut() {
                None => sw.write_all(chunk).await.unwrap(),
                Some(left) => {
                    let k = chunk.len().min(*left);
                    sw.write_all(&chunk[..k]).await.unwrap();
                    *left -= k;
                    if *left == 0 {
                        break;
                    }
                }
            }
        }
        // Both ways closed: the SD sees the connection end in the middle of the frame.
        drop(sw);
        back.abort();
    });
    port
}

/// The FD's connection ends in the middle of a data record (records are received straight
/// into the volume block): the job fails naming the cut frame, and the volume holds the
/// whole records before it and nothing of the cut one, then the EOS label.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_connection_cut_mid_record_leaves_no_partial_record() {
    const MARK: &[u8] = b"CUT-RECORD-MARKER";
    let sd = start_sd(false).await;
    let relay = cutting_relay(sd.port, MARK, 20_000).await;
    let mut d = connect_dir(sd.port, false).await;
    let (id, _, key, _) = define_job(&mut d, &cap_msg("clear-backup-full", 2, 9), true).await;
    let mut fd = connect_fd(relay, JOB, &key, false).await.unwrap();
    d.send(b"run").await.unwrap();
    let mut cat = Catalog::new("Cap-0001");
    let dir_task = tokio::spawn(async move { finish_job(&mut d, &mut cat).await });
    open_append(&mut fd, id).await;
    send_stream(&mut fd, 1, 1, &cap_msg("clear-backup-full", 4, 13)).await;
    fd.send(b"1 2 0").await.unwrap();
    for k in 0..5u8 {
        fd.send(&vec![k + 1; 40_000]).await.unwrap();
    }
    let mut cut = vec![0xC5u8; 50_000];
    cut[..MARK.len()].copy_from_slice(MARK);
    let _ = fd.send(&cut).await;
    let seen = dir_task.await.unwrap();
    let msgs = jmsg_texts(&seen);
    assert!(
        msgs.iter()
            .any(|m| m.contains("Fatal error: Error reading data from FD")
                && m.contains("in the middle of a frame")),
        "{msgs:?}"
    );
    assert!(show(seen.last().unwrap()).contains("end JobStatus=102 "));
    let recs = volume_records(&sd.archive.join("Cap-0001"));
    let data: Vec<_> = recs
        .iter()
        .filter(|r| r.file_index > 0 && r.stream.0 == 2)
        .map(|r| {
            (
                r.data.len(),
                r.data.iter().all(|&b| b == r.data[0]),
                r.data[0],
            )
        })
        .collect();
    assert_eq!(
        data,
        (1..=5u8).map(|k| (40_000, true, k)).collect::<Vec<_>>()
    );
    assert_eq!(recs.last().and_then(|r| r.label()), Some(Label::EosLabel));
    still_serving(sd.port).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_unknown_volume_in_bootstrap_refused() {
    let sd = start_sd(false).await;
    for (volume, known, why) in [
        ("Nope-0001", false, "is unknown to the Director"),
        ("Gone-0001", true, "is not on device"),
    ] {
        let mut d = connect_dir(sd.port, false).await;
        let (id, time, key, r) = define_job(&mut d, &cap_msg("clear-restore", 2, 9), false).await;
        assert_eq!(r, b"3000 OK use device device=FileStorage\n");
        d.send(b"bootstrap\n").await.unwrap();
        for l in [
            format!("Volume=\"{volume}\"\n"),
            "VolSessionId=1\n".into(),
            "VolSessionTime=1795362407\n".into(),
            "FileIndex=1-6\n".into(),
        ] {
            d.send(l.as_bytes()).await.unwrap();
        }
        d.signal(Signal::Eod).await.unwrap();
        assert_eq!(recv_data(&mut d).await, b"3000 OK bootstrap\n");
        d.send(b"run").await.unwrap();
        let job = "CapRestore.2026-11-22_15.47.31_05";
        let mut fd = connect_fd(sd.port, job, &key, false).await.unwrap();
        let fd_task = tokio::spawn(async move {
            fd.send(format!("read open session = DummyVolume {id} {time} 0 0 0 0\n").as_bytes())
                .await
                .unwrap();
            recv_data(&mut fd).await;
            fd.send(format!("read data {id}\n").as_bytes())
                .await
                .unwrap();
            assert_eq!(recv_data(&mut fd).await, b"3000 error\n");
        });
        let mut cat = Catalog::new("Cap-0001");
        if known {
            cat.known.push(volume.into());
        }
        let seen = finish_job(&mut d, &mut cat).await;
        fd_task.await.unwrap();
        let msgs = jmsg_texts(&seen);
        assert!(
            msgs.iter().any(|m| m.contains(&format!(
                "Fatal error: Volume \"{volume}\" from the bootstrap {why}"
            ))),
            "{msgs:?}"
        );
        assert!(show(seen.last().unwrap()).contains("end JobStatus=102 "));
    }
    // A malformed bootstrap line.
    let mut d = connect_dir(sd.port, false).await;
    define_job(&mut d, &cap_msg("clear-restore", 2, 9), false).await;
    d.send(b"bootstrap\n").await.unwrap();
    d.send(b"FileIndex=1,3\n").await.unwrap();
    d.signal(Signal::Eod).await.unwrap();
    assert_eq!(recv_data(&mut d).await, b"3904 Error bootstrap\n");
    still_serving(sd.port).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_max_vol_bytes_marks_full_and_next_job_uses_next_volume() {
    let sd = start_sd(false).await;
    let mut cat = Catalog::new("Cap-0001");
    cat.max_vol_bytes = 1000;
    let (seen, _, _) = backup_job(&sd, false, &mut cat, 1, JOB).await;
    // The job finishes on the volume, with a warning, and the volume is reported Full.
    let msgs = jmsg_texts(&seen);
    assert!(
        msgs.iter()
            .any(|m| m.starts_with("5 ") && m.contains("reached its MaxVolBytes 1000")),
        "{msgs:?}"
    );
    let last_update = seen
        .iter()
        .rev()
        .find(|m| show(m).contains(" UpdateMedia "))
        .unwrap();
    assert!(
        show(last_update).contains(" VolStatus=Full "),
        "{}",
        show(last_update)
    );
    // A stale catalog proposes the full volume again: the SD marks it Full and asks for
    // another (FindMedia=2 unwanted_volumes=Cap-0001), which it labels and uses.
    cat.status = "Append".into();
    cat.next = Some("Cap-0002".into());
    let (seen, _, _) =
        backup_job(&sd, false, &mut cat, 2, "CapBackup.2026-11-22_16.00.00_04").await;
    assert!(seen.iter().any(|m| show(m)
        .contains(" FindMedia=2 pool_name=Cap media_type=File unwanted_volumes=Cap-0001\n")));
    assert!(show(seen.last().unwrap()).contains("end JobStatus=84 "));
    let v2 = std::fs::read(sd.archive.join("Cap-0002")).unwrap();
    let recs: Vec<_> = RecordReader::new(v2.as_slice())
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(recs.iter().filter(|r| r.file_index > 0).count(), 12);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_job_spans_volumes_and_restores_across_them() {
    let sd = start_sd_block(65536).await;
    let mut d = connect_dir(sd.port, false).await;
    let (id, time, key, _) = define_job(&mut d, &cap_msg("clear-backup-full", 2, 9), true).await;
    let mut fd = connect_fd(sd.port, JOB, &key, false).await.unwrap();
    d.send(b"run").await.unwrap();
    // What the FD sends: (FileIndex, stream, record) in order.
    let mut sent: Vec<(i32, i32, Vec<u8>)> = vec![(1, 1, cap_msg("clear-backup-full", 4, 13))];
    for k in 0..20u8 {
        sent.push((1, 2, vec![k; 50_000]));
    }
    sent.push((1, 2, (0..200_000u32).map(|i| (i % 251) as u8).collect()));
    sent.push((1, 17, vec![0xab; 32]));
    sent.push((2, 1, cap_msg("clear-backup-full", 4, 22)));
    let to_send = sent.clone();
    let fd_task = tokio::spawn(async move {
        open_append(&mut fd, id).await;
        let mut prev = None;
        for (fi, st, data) in &to_send {
            if prev != Some((*fi, *st)) {
                if prev.is_some() {
                    fd.signal(Signal::Eod).await.unwrap();
                }
                fd.send(format!("{fi} {st} 0").as_bytes()).await.unwrap();
                prev = Some((*fi, *st));
            }
            fd.send(data).await.unwrap();
        }
        fd.signal(Signal::Eod).await.unwrap();
        fd.signal(Signal::Eod).await.unwrap();
        assert_eq!(recv_data(&mut fd).await, b"3000 OK append data\n");
    });
    let mut cat = Catalog::new("Cap-0001");
    cat.max_vol_bytes = 300_000;
    cat.auto_next = true;
    let seen = finish_job(&mut d, &mut cat).await;
    fd_task.await.unwrap();
    assert!(show(seen.last().unwrap()).contains("end JobStatus=84 JobFiles=2 "));
    let texts = jmsg_texts(&seen);
    assert!(
        texts.iter().any(|t| t.contains(
            "User defined maximum volume capacity 300,000 exceeded on device \"FileStorage\""
        )),
        "{texts:?}"
    );
    assert!(texts
        .iter()
        .any(|t| t.contains("End of medium on Volume \"Cap-0001\"")));
    assert!(texts
        .iter()
        .any(|t| t.contains("New volume \"Cap-0002\" mounted on device")));
    // One JobMedia per volume (after the placeholder), MediaIds 1, 2, 3, ...
    let jm: Vec<(u32, u32, u64, u64, u64)> = seen
        .iter()
        .filter_map(|m| match SdToDir::parse(m) {
            Ok(SdToDir::CatReq(fd_core::wire::sd_ctl::CatReq::CreateJobMedia(c)))
                if c.first_index > 0 =>
            {
                Some((
                    c.first_index,
                    c.last_index,
                    u64::from(c.start_block),
                    u64::from(c.end_block),
                    c.media_id,
                ))
            }
            _ => None,
        })
        .collect();
    assert!(jm.len() >= 3, "{jm:?}");
    for (k, j) in jm.iter().enumerate() {
        assert_eq!(j.4, k as u64 + 1);
        let vol = sd.archive.join(format!("Cap-{:04}", k + 1));
        let len = std::fs::metadata(&vol).unwrap().len();
        assert_eq!(j.3, len - 1, "volume {k} ends with the job's last block");
        if k + 1 < jm.len() {
            // At most one block over, or one record: barque-sd switches between records
            // (the 200,000-byte record is written whole to the volume it starts on).
            assert!(
                len < 300_000 + 65_536 + 200_000,
                "volume {k} is {len} bytes"
            );
            assert!(len >= 300_000 - 65_536, "volume {k} is only {len} bytes");
        }
    }
    // Restore everything with one bootstrap entry per volume: every record comes back whole,
    // including those split across volumes.
    let mut d = connect_dir(sd.port, false).await;
    let (rid, rtime, rkey, _) = define_job(&mut d, &cap_msg("clear-restore", 2, 9), false).await;
    d.send(b"bootstrap\n").await.unwrap();
    for (k, j) in jm.iter().enumerate() {
        for l in [
            format!("Volume=\"Cap-{:04}\"\n", k + 1),
            format!("VolSessionId={id}\n"),
            format!("VolSessionTime={time}\n"),
            format!("VolAddr={}-{}\n", j.2, j.3),
            format!("FileIndex={}-{}\n", j.0, j.1),
        ] {
            d.send(l.as_bytes()).await.unwrap();
        }
    }
    d.signal(Signal::Eod).await.unwrap();
    assert_eq!(recv_data(&mut d).await, b"3000 OK bootstrap\n");
    d.send(b"run").await.unwrap();
    let rjob = "CapRestore.2026-11-22_15.47.31_05";
    let mut fd = connect_fd(sd.port, rjob, &rkey, false).await.unwrap();
    let fd_task = tokio::spawn(async move {
        fd.send(format!("read open session = DummyVolume {rid} {rtime} 0 0 0 0\n").as_bytes())
            .await
            .unwrap();
        recv_data(&mut fd).await;
        fd.send(format!("read data {rid}\n").as_bytes())
            .await
            .unwrap();
        assert_eq!(recv_data(&mut fd).await, b"3000 OK data\n");
        let mut got = Vec::new();
        while let Got::Data(h) = recv(&mut fd).await {
            let h = fd_core::wire::stream::RecHdr::parse(&h).unwrap();
            let data = recv_data(&mut fd).await;
            assert_eq!(data.len() as u32, h.data_len);
            got.push((h.file_index, h.stream.0, data));
        }
        fd.send(format!("read close session {rid}\n").as_bytes())
            .await
            .unwrap();
        recv_data(&mut fd).await;
        got
    });
    let mut rcat = Catalog::new("Cap-0001");
    rcat.known = (2..=jm.len()).map(|k| format!("Cap-{k:04}")).collect();
    let rseen = finish_job(&mut d, &mut rcat).await;
    let got = fd_task.await.unwrap();
    assert!(show(rseen.last().unwrap()).contains("end JobStatus=84 "));
    let brief = |v: &[(i32, i32, Vec<u8>)]| -> Vec<(i32, i32, usize, u8)> {
        v.iter()
            .map(|(f, s, d)| (*f, *s, d.len(), d.first().copied().unwrap_or(0)))
            .collect()
    };
    assert_eq!(
        brief(&got),
        brief(&sent),
        "{jm:?}\n{:?}",
        jmsg_texts(&rseen)
    );
    assert!(got == sent, "restored records differ");

    // barque-bls lists the job across its volumes, as bls does with `-V "Vol1|Vol2|…"`:
    // both files, the records continued from one volume into the next joined, no error.
    let names: Vec<String> = (1..=jm.len()).map(|k| format!("Cap-{k:04}")).collect();
    let bls = |vols: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_barque-bls"))
            .arg("-v")
            .arg("-V")
            .arg(vols)
            .arg(&sd.archive)
            .output()
            .unwrap()
    };
    let out = bls(&names.join("|"));
    let listing = show(&out.stdout);
    assert!(out.status.success(), "{listing}{}", show(&out.stderr));
    assert!(
        listing.contains("2 files and directories found."),
        "{listing}"
    );
    assert!(!listing.contains("Error"), "{listing}");
    for n in &names {
        assert!(
            listing.contains(&format!("Ready to read from volume \"{n}\"")),
            "{listing}"
        );
    }
    // And extracts it across them, as bextract does: the file's data whole, from every volume.
    let to = sd.dir.path().join("extracted");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_barque-bls"))
        .args(["--extract", "-w"])
        .arg(&to)
        .arg("-V")
        .arg(names.join("|"))
        .arg(&sd.archive)
        .output()
        .unwrap();
    let report = show(&out.stdout);
    let hello = to.join("srv/bareos-capture/testdata/tree/hello.txt");
    let want: Vec<u8> = sent
        .iter()
        .filter(|(fi, st, _)| *fi == 1 && *st == 2)
        .flat_map(|(_, _, d)| d.iter().copied())
        .collect();
    let got = std::fs::read(&hello).unwrap_or_default();
    assert!(
        got == want,
        "extracted {} of {} bytes:\n{report}{}",
        got.len(),
        want.len(),
        show(&out.stderr)
    );
    // Alone, a middle volume starts inside a record of the job: that is reported.
    let out = bls(&names[1]);
    let alone = show(&out.stdout);
    assert!(alone.contains("Error") && !out.status.success(), "{alone}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_monitor_director_may_only_ask_status() {
    let sd = start_sd_edited(|t| {
        t + "Director {\n  Name = tray-monitor\n  Password = \"monitor-password\"\n  Monitor = yes\n  TLS Enable = no\n  TLS Require = no\n}\n"
    })
    .await;
    let mut m = connect_dir_as(sd.port, "tray-monitor", "monitor-password", false).await;
    m.send(&cap_msg("clear-backup-full", 2, 9)).await.unwrap();
    assert_eq!(
        recv_data(&mut m).await,
        b"3997 Invalid command for a Director with Monitor directive enabled.\n"
    );
    assert_eq!(recv(&mut m).await, Got::Signal(Signal::Eod));
    m.send(b".status header\n").await.unwrap();
    assert!(recv_data(&mut m).await.starts_with(b"bareos-sd Version: "));
    // A wrong password is refused; the real Director still gets in.
    let local = barque_common::conn::Local::new(
        ResourceType::Director,
        "tray-monitor",
        TlsSettings::disabled(),
    );
    let peer = Peer {
        kind: ResourceType::Storage,
        name: "bareos-sd".into(),
        key: Key::from_password("wrong").unwrap(),
        address: "127.0.0.1".into(),
        port: sd.port,
        tls: TlsSettings::disabled(),
    };
    assert!(conn::connect(
        &local,
        &peer,
        &conn::Outbound::DirectorToSd,
        conn::HandshakeMode::Cleartext,
        &opts()
    )
    .await
    .is_err());
    still_serving(sd.port).await;
}
