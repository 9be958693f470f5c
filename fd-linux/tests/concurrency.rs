//! Several Director connections at once (status and cancel while a job runs, sharing one
//! job table), and client-initiated mode (barque-fd dials the Director, keeps an idle
//! connection, opens the next one when the Director uses it).

mod support;

use std::time::Duration;

use fd_core::auth::{self, Role};
use fd_core::wire::codes::JobStatus;
use fd_linux::net::NetStream;
use support::harness::*;
use support::*;
use tokio::net::TcpListener;

async fn status_text(port: u16) -> String {
    let mut p = director_connect(port, false).await;
    p.send(&d("status")).await;
    let mut out = String::new();
    while let Some(Got::Data(x)) = p.recv().await {
        out.push_str(&String::from_utf8_lossy(&x));
    }
    out
}

#[tokio::test]
async fn status_and_cancel_on_other_connections_while_a_backup_runs() {
    // 2 MB/s per job: an 16 MiB file takes ~8 s, long enough to act on it.
    let fd = start(&config_text(false), |s| s.max_bandwidth = 2_000_000);
    let work = tempfile::tempdir().unwrap();
    let t = work.path().join("src");
    std::fs::create_dir(&t).unwrap();
    let data: Vec<u8> = (0..16u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    std::fs::write(t.join("slow"), data).unwrap();
    let sd = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sd_port = sd.local_addr().unwrap().port();
    let root = t.to_str().unwrap().as_bytes().to_vec();
    let cmds = backup_commands("full", 0, "S2", &[&root], sd_port, 0);
    let port = fd.port;
    let job = async move {
        let p = director_connect(port, false).await;
        director_run(p, cmds).await
    };
    let other = async move {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let st = status_text(port).await;
        assert!(
            st.contains(&format!("{JOB} is running")) || st.contains("JobId 7"),
            "{st}"
        );
        let mut p = director_connect(port, false).await;
        p.send(&d(&format!("cancel Job={JOB}\n"))).await;
        let r = p.recv().await;
        assert_eq!(
            r,
            Some(d(&format!("2001 Job {JOB} marked to be canceled.\n")))
        );
        // Cancelling a job that does not exist.
        let mut p = director_connect(port, false).await;
        p.send(&d("cancel Job=NoSuchJob.2026-01-01_00.00.00_01\n"))
            .await;
        let r = p.recv().await;
        assert!(
            matches!(&r, Some(Got::Data(x)) if x.starts_with(b"2901 Job NoSuchJob")),
            "{r:?}"
        );
    };
    let started = std::time::Instant::now();
    let (frames, _, _) = tokio::join!(job, other, sd_append(&sd, false));
    let ej = end_job(&frames);
    // vectors/clear-cancel: the canceled job ends with TermCode=65 ('A').
    assert_eq!(ej.term_code, JobStatus::Canceled, "{frames:?}");
    assert!(
        started.elapsed() < Duration::from_secs(7),
        "cancel did not stop the job"
    );
    // And it is listed as terminated.
    let st = status_text(fd.port).await;
    assert!(st.contains("Terminated Jobs:"), "{st}");
}

#[tokio::test]
async fn client_initiated_connections_are_kept_waiting_and_replaced_when_used() {
    let dir = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dport = dir.local_addr().unwrap().port();
    let text = format!(
        "Client {{\n  Name = bareos-fd\n  TLS Enable = no\n  TLS Require = no\n}}\n\
         Director {{\n  Name = bareos-dir\n  Password = \"{FD_PW}\"\n  Address = 127.0.0.1\n  Port = {dport}\n\
         \x20 Connection From Client To Director = yes\n  TLS Enable = no\n  TLS Require = no\n}}\n\
         Messages {{\n  Name = Standard\n  Director = bareos-dir = all\n}}\n"
    );
    let fd = start(&text, |_| {});
    fd.fd.clone().start_client_initiated();
    let key = md5_hex(FD_PW);
    // vectors/clear-client-initiated conn 1: hello, CRAM-MD5 with the FD outbound, 1000 OK.
    let accept = || async {
        let (tcp, _) = tokio::time::timeout(Duration::from_secs(20), dir.accept())
            .await
            .expect("barque-fd did not dial the Director")
            .unwrap();
        let mut p = Peer::new(NetStream::Plain(tcp));
        let h = p.recv().await;
        assert_eq!(
            h,
            Some(d(
                "Hello Client bareos-fd FdProtocolVersion=54 calling Version=\"26.0.0\"\n"
            ))
        );
        let ev = p
            .auth(
                Role::Inbound,
                key.as_bytes(),
                b"R_DIRECTOR::bareos-dir",
                false,
            )
            .await;
        assert!(matches!(ev, auth::Event::Authenticated { .. }), "{ev:?}");
        p.send(&d(
            "1000 OK: bareos-dir Version: 26.0.0~pre1298.eda204c31 (21 August 2026)\n",
        ))
        .await;
        p
    };
    let mut first = accept().await;
    // Idle: no second connection while the first is unused.
    assert!(
        tokio::time::timeout(Duration::from_millis(1500), dir.accept())
            .await
            .is_err(),
        "a second connection was opened while the first was idle"
    );
    // Use it: the FD answers like in active mode, and a new waiting connection appears.
    first.send(&d("status")).await;
    let mut st = String::new();
    while let Some(Got::Data(x)) = first.recv().await {
        st.push_str(&String::from_utf8_lossy(&x));
    }
    assert!(st.contains("bareos-fd Version:"), "{st}");
    let mut second = accept().await;
    second.send(&d("status")).await;
    assert!(matches!(second.recv().await, Some(Got::Data(_))));
    fd.fd.stop();
}

#[tokio::test]
async fn passive_backup_takes_the_sd_connection_from_the_fd_port() {
    // vectors/clear-backup-passive: no `storage` command; the SD dials the FD port.
    let fd = start(&config_text(false), |_| {});
    let work = tempfile::tempdir().unwrap();
    let t = work.path().join("src");
    std::fs::create_dir(&t).unwrap();
    std::fs::write(t.join("a"), b"passive data\n").unwrap();
    let root = t.to_str().unwrap().as_bytes().to_vec();
    let cmds: Vec<Got> = backup_commands("full", 0, "S2", &[&root], 0, 0)
        .into_iter()
        .filter(|g| !matches!(g, Got::Data(x) if x.starts_with(b"storage ")))
        .collect();
    let port = fd.port;
    let dir = async move {
        let p = director_connect(port, false).await;
        director_run(p, cmds).await
    };
    let sd = async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        sd_passive_append(port).await
    };
    let (frames, records) = tokio::join!(dir, sd);
    let ej = end_job(&frames);
    assert_eq!(ej.term_code, JobStatus::Terminated, "{frames:?}");
    assert_eq!(ej.job_files, 2);
    assert!(records
        .iter()
        .any(|(_, s, d)| *s == 2 && d.as_slice() == b"passive data\n"));
}

/// The real SD authenticates with the FD before it answers the Director's `passive client`
/// command, and the Director sends `backup` only after that answer (found running barque-fd
/// under a real bareos-dir and bareos-sd: it waited for `backup` and the three deadlocked).
async fn passive_sd_authenticates_before_the_backup_command(tls: bool) {
    let fd = start(&config_text(false), |_| {});
    let work = tempfile::tempdir().unwrap();
    let t = work.path().join("src");
    std::fs::create_dir(&t).unwrap();
    std::fs::write(t.join("a"), b"passive data\n").unwrap();
    let root = t.to_str().unwrap().as_bytes().to_vec();
    let cmds: Vec<Got> = backup_commands("full", 0, "S2", &[&root], 0, 0)
        .into_iter()
        .filter(|g| !matches!(g, Got::Data(x) if x.starts_with(b"storage ")))
        .collect();
    let port = fd.port;
    let (tx, rx) = tokio::sync::oneshot::channel();
    let dir = async move {
        let p = director_connect(port, false).await;
        director_run_gated(p, cmds, rx).await
    };
    let sd = async move {
        // After the Director's JobId command, as the real Director orders it.
        tokio::time::sleep(Duration::from_millis(500)).await;
        sd_passive_append_real_order(port, tls, tx).await
    };
    let (frames, records) =
        tokio::time::timeout(Duration::from_secs(60), async { tokio::join!(dir, sd) })
            .await
            .expect("deadlock: the FD did not authenticate the passive SD before `backup`");
    let ej = end_job(&frames);
    assert_eq!(ej.term_code, JobStatus::Terminated, "{frames:?}");
    assert!(records
        .iter()
        .any(|(_, s, d)| *s == 2 && d.as_slice() == b"passive data\n"));
}

#[tokio::test]
async fn passive_sd_authenticates_before_the_backup_command_cleartext() {
    passive_sd_authenticates_before_the_backup_command(false).await;
}

#[tokio::test]
async fn passive_sd_authenticates_before_the_backup_command_tls_psk() {
    passive_sd_authenticates_before_the_backup_command(true).await;
}

#[tokio::test]
async fn heartbeats_reach_the_director_during_a_long_backup() {
    // Heartbeat Interval = 1 s, 1 MB/s per job, a 3 MiB file: about three seconds.
    let fd = start(&config_text(false), |s| {
        s.max_bandwidth = 1_000_000;
        s.heartbeat = Duration::from_secs(1);
    });
    let work = tempfile::tempdir().unwrap();
    let t = work.path().join("src");
    std::fs::create_dir(&t).unwrap();
    std::fs::write(t.join("f"), vec![7u8; 3 << 20]).unwrap();
    let sd = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sd_port = sd.local_addr().unwrap().port();
    let root = t.to_str().unwrap().as_bytes().to_vec();
    let cmds = backup_commands("full", 0, "S2", &[&root], sd_port, 0);
    let port = fd.port;
    let dir = async move {
        let p = director_connect(port, false).await;
        director_run(p, cmds).await
    };
    let (frames, _) = tokio::join!(dir, sd_append(&sd, false));
    assert_eq!(end_job(&frames).term_code, JobStatus::Terminated);
    let beats = frames
        .iter()
        .filter(|g| **g == Got::Sig(fd_core::wire::bnet::Signal::Heartbeat))
        .count();
    assert!(beats >= 1, "no heartbeat in {frames:?}");
}

#[tokio::test]
async fn connections_beyond_the_limit_are_closed_and_served_again_after() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let fd = start(&config_text(false), |s| s.max_connections = 2);
    let idle1 = tokio::net::TcpStream::connect(("127.0.0.1", fd.port))
        .await
        .unwrap();
    let _idle2 = tokio::net::TcpStream::connect(("127.0.0.1", fd.port))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut third = tokio::net::TcpStream::connect(("127.0.0.1", fd.port))
        .await
        .unwrap();
    let _ = third
        .write_all(b"\x00\x00\x00\x33Hello Director bareos-dir calling Version=\"26.0.0\"\n")
        .await;
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(Duration::from_secs(5), third.read(&mut buf))
        .await
        .expect("the third connection must be closed")
        .unwrap_or(0);
    assert_eq!(n, 0, "third connection was served");
    drop(idle1);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let st = status_text(fd.port).await;
    assert!(st.contains("bareos-fd Version:"), "{st}");
}

/// Bareos' FD lets a passive SD start in cleartext only when the Director gave the job
/// `ssl=0` (`R_JOB` in `try_tls_handshake_as_a_server.cc`): with `ssl=4` (TLS-PSK) the
/// cleartext hello is refused and the connection closed before any challenge; with `ssl=0`
/// the FD challenges and the SD authenticates.
#[tokio::test]
async fn passive_cleartext_sd_is_refused_when_the_job_says_tls() {
    for ssl in [4u32, 0] {
        let fd = start(&config_text(false), |_| {});
        let mut dir = director_connect(fd.port, false).await;
        dir.send(&d(&format!(
            "JobId=7 Job={JOB} SDid=3 SDtime=1795365000 Authorization={KEY} ssl={ssl}\n"
        )))
        .await;
        match dir.recv().await {
            Some(Got::Data(x)) => assert!(x.starts_with(b"2000 OK Job"), "{x:?}"),
            other => panic!("no reply to JobId: {other:?}"),
        }
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", fd.port))
            .await
            .expect("connect");
        let mut sd = Peer::new(NetStream::Plain(tcp));
        sd.send(&d(&format!(
            "Hello Storage calling Start Job {JOB} Version=\"26.0.0\"\n"
        )))
        .await;
        if ssl == 0 {
            let ev = tokio::time::timeout(
                Duration::from_secs(60),
                sd.auth(Role::Outbound, KEY.as_bytes(), b"File daemon", false),
            )
            .await
            .expect("no CRAM-MD5 from the FD");
            assert!(matches!(ev, auth::Event::Authenticated { .. }), "{ev:?}");
        } else {
            let got = tokio::time::timeout(Duration::from_secs(60), sd.recv())
                .await
                .expect("the FD neither challenged nor closed");
            assert_eq!(got, None, "ssl={ssl}: the FD answered a cleartext SD");
        }
        fd.fd.stop();
    }
}
