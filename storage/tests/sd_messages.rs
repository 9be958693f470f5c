//! The SD's Messages resource: job messages go to the Director only for the types its
//! `Director =` destination admits, and to `Append = "file"` with Bareos' time prefix.

mod sd_harness;

use fd_core::wire::bnet::Signal;
use fd_core::wire::codes::MessageType;
use fd_core::wire::sd_ctl::SdToDir;
use sd_harness::*;

const STD: &str = "Messages {\n  Name = Standard\n  Director = bareos-dir = all\n}\n";

fn jmsgs(seen: &[Vec<u8>]) -> Vec<(MessageType, String)> {
    seen.iter()
        .filter_map(|m| match SdToDir::parse(m) {
            Ok(SdToDir::Jmsg(j)) => Some((j.msg_type, show(j.text))),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_append_destination_gets_every_job_message() {
    let logdir = tempfile::tempdir().unwrap();
    let log = logdir.path().join("sd.log");
    let l = log.display().to_string();
    let sd = start_sd_edited(move |t| {
        t.replace(
            STD,
            &format!(
                "Messages {{\n  Name = Standard\n  Director = bareos-dir = all\n  Append = \"{l}\" = all, !saved\n}}\n"
            ),
        )
    })
    .await;
    let mut cat = Catalog::new("Cap-0001");
    let (seen, _, _) =
        backup_job(&sd, false, &mut cat, 1, "CapBackup.2026-11-22_15.46.52_03").await;
    let to_dir = jmsgs(&seen);
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // Every message the Director got is in the file too, in order, with `dd-Mon hh:mm `.
    assert_eq!(lines.len(), to_dir.len(), "{text}");
    for (line, (_, m)) in lines.iter().zip(&to_dir) {
        let (prefix, rest) = line.split_at(13);
        assert_eq!(rest, m.trim_end(), "{text}");
        let b = prefix.as_bytes();
        assert!(
            b[2] == b'-' && b[6] == b' ' && b[9] == b':' && b[12] == b' ',
            "{prefix:?}"
        );
    }
    assert!(text.contains("bareos-sd JobId 1: Using just in time reservation for job 1"));
    assert!(text.contains("bareos-sd JobId 1: Elapsed time="));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_director_destination_filters_types() {
    let logdir = tempfile::tempdir().unwrap();
    let log = logdir.path().join("errors.log");
    let l = log.display().to_string();
    let sd = start_sd_edited(move |t| {
        t.replace(
            STD,
            &format!(
                "Messages {{\n  Name = Standard\n  Director = bareos-dir = all, !info\n  Append = \"{l}\" = all\n}}\n"
            ),
        )
    })
    .await;
    let mut d = connect_dir(sd.port, false).await;
    let job = "CapBackup.2026-11-22_16.10.00_09";
    let line =
        show(&cap_msg("clear-backup-full", 2, 9)).replace("CapBackup.2026-11-22_15.46.52_03", job);
    d.send(line.as_bytes()).await.unwrap();
    let (id, _, key) = job_reply(&recv_data(&mut d).await);
    d.send(b"getSecureEraseCmd\n").await.unwrap();
    recv_data(&mut d).await;
    d.send(&cap_msg("clear-backup-full", 2, 13)).await.unwrap();
    d.send(&cap_msg("clear-backup-full", 2, 14)).await.unwrap();
    d.signal(Signal::Eod).await.unwrap();
    d.signal(Signal::Eod).await.unwrap();
    // No "Using just in time reservation" Jmsg (info) before the reply this time.
    assert_eq!(
        recv_data(&mut d).await,
        b"3000 OK use device device=JustInTime\x01Device\n"
    );
    let mut fd = connect_fd(sd.port, job, &key, false).await.unwrap();
    d.send(b"run").await.unwrap();
    fd.send(b"append open session\n").await.unwrap();
    recv_data(&mut fd).await;
    fd.send(format!("append data {id}\n").as_bytes())
        .await
        .unwrap();
    assert_eq!(recv_data(&mut fd).await, b"3000 OK data\n");
    fd.send(b"this is not a header").await.unwrap();
    let mut cat = Catalog::new("Cap-0001");
    let seen = finish_job(&mut d, &mut cat).await;
    let to_dir = jmsgs(&seen);
    assert!(
        to_dir.iter().all(|(t, _)| *t != MessageType::Info),
        "{to_dir:?}"
    );
    assert!(
        to_dir
            .iter()
            .any(|(t, m)| *t == MessageType::Fatal
                && m.contains("Error reading data header from FD")),
        "{to_dir:?}"
    );
    assert!(show(seen.last().unwrap()).contains("JobStatus=102"));
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains(": Using just in time reservation for job 1\n"),
        "{text}"
    );
    assert!(
        text.contains(": Fatal error: Error reading data header from FD"),
        "{text}"
    );
}
