//! The Director's side of client-initiated connections (connect.md §5.2, §5.5) with the
//! configurations of vectors/clear-client-initiated: a File daemon built from barque-common's
//! outbound `connect` (`Hello Client bareos-fd FdProtocolVersion=54 …`, CRAM-MD5) dials the
//! console port; the Director greets it with the captured form of `1000 OK:` and parks it;
//! the waiting list behaves as Bareos' connection pool (newest first, a signal drops a
//! parked connection, an unknown or not-allowed client is refused).

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use barque_common::config::{check_str, Daemon};
use barque_common::conn::{connect, ConnOptions, HandshakeMode, Local, Outbound, Peer};
use barque_common::tls::Key;
use common::vectors;
use director::catalog::{Catalog, CatalogConfig};
use director::engine::ConsoleEngine;
use director::jobs::{EngineOptions, JobEngine, SystemClock};
use director::model::Model;
use director::server::Director;
use director::ua::engine::JobEngine as UaEngine;
use fd_core::wire::bnet::{Frame, Signal};
use fd_core::wire::psk::ResourceType;

struct Setup {
    port: u16,
    jobs: JobEngine,
    _dir: tempfile::TempDir,
}

async fn director(edit: &dyn Fn(String) -> String) -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let text = edit(vectors::read(
        "clear-client-initiated/config/bareos-dir.conf",
    ));
    let path = tmp.path().join("bareos-dir.conf");
    std::fs::write(&path, &text).unwrap();
    let r = check_str("bareos-dir.conf", text.as_bytes(), Daemon::Director);
    assert!(r.is_ok(), "{r}");
    let catalog = Catalog::open(&CatalogConfig::Sqlite {
        path: tmp.path().join("catalog.db"),
    })
    .unwrap();
    let jobs = JobEngine::new(
        Arc::new(r.config.clone()),
        catalog,
        Arc::new(SystemClock),
        EngineOptions::default(),
    )
    .unwrap();
    let model = Model::from_config(&path, r.config).unwrap();
    let engine = ConsoleEngine::new(jobs.clone(), "MyCatalog");
    let dir = Director::new(model, Some(engine as Arc<dyn UaEngine>)).with_options(ConnOptions {
        auth_failure_delay: Duration::from_millis(10),
        ..ConnOptions::default()
    });
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(dir.serve(l));
    Setup {
        port,
        jobs,
        _dir: tmp,
    }
}

/// A console session on the Director (the capture's bconsole.conf, cleartext).
async fn console(port: u16, tmp: &tempfile::TempDir) -> director::client::Console {
    let text = vectors::read("clear-client-initiated/config/bconsole.conf")
        .replace("Port = 39201", &format!("Port = {port}"));
    let path = tmp.path().join("bconsole.conf");
    std::fs::write(&path, text).unwrap();
    let t = director::client::load_target(&path, None).unwrap();
    director::client::Console::connect(&t, &ConnOptions::default())
        .await
        .unwrap()
}

/// Dial the Director as the captured FD would.
async fn dial(
    port: u16,
    name: &str,
) -> Result<barque_common::conn::AuthenticatedConnection, String> {
    let r = check_str(
        "bareos-fd.conf",
        vectors::read("clear-client-initiated/config/bareos-fd.conf").as_bytes(),
        Daemon::FileDaemon,
    );
    assert!(r.is_ok(), "{r}");
    let d = r.config.fd_directors().into_iter().next().unwrap();
    let local = Local::new(ResourceType::Client, name, d.tls.clone());
    let peer = Peer {
        kind: ResourceType::Director,
        name: d.name.clone(),
        key: Key::raw(d.password.md5_hex().into_bytes()),
        address: "127.0.0.1".into(),
        port,
        tls: d.tls.clone(),
    };
    let opts = ConnOptions {
        auth_failure_delay: Duration::from_millis(10),
        ..ConnOptions::default()
    };
    connect(
        &local,
        &peer,
        &Outbound::ClientToDirector {
            fd_protocol_version: 54,
        },
        HandshakeMode::Cleartext,
        &opts,
    )
    .await
    .map_err(|e| e.to_string())
}

async fn poll(what: &str, mut cond: impl FnMut() -> bool) {
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(30) {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{what}: not within 30 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dialling_client_is_greeted_parked_listed_and_taken_newest_first() {
    let s = director(&|t| t).await;
    let pool = s.jobs.client_pool();
    let mut first = dial(s.port, "bareos-fd").await.unwrap();
    // conn 1 msg 8: `1000 OK: bareos-dir Version: 26.0.0~pre1298.eda204c31 (21 August
    // 2026)\n`, with our version and date in the same places.
    let captured = vectors::message("clear-client-initiated", 1, 8);
    let captured = String::from_utf8(captured).unwrap();
    let want = captured
        .replace("26.0.0~pre1298.eda204c31", director::ua::VERSION)
        .replace("21 August 2026", director::ua::BUILD_DATE);
    match first.recv().await.unwrap() {
        Frame::Data(d) => assert_eq!(String::from_utf8_lossy(d), want),
        other => panic!("{other:?}"),
    }
    poll("the first connection parked", || pool.list().len() == 1).await;
    let w = &pool.list()[0];
    assert_eq!((w.name.as_str(), w.protocol), ("bareos-fd", 54));

    // `status dir` lists it: the row as the captured one (conn 2 msg 26) but for the time,
    // and in JSON (`.api 2`) as `client-connection`.
    let mut con = console(s.port, &s._dir).await;
    let out = con.command("status dir").await.unwrap();
    let block = String::from_utf8(vectors::message("clear-client-initiated", 2, 26)).unwrap();
    let pieces: Vec<String> = out
        .pieces
        .iter()
        .filter_map(|p| match p {
            director::client::Piece::Data(t) => Some(String::from_utf8_lossy(t).into_owned()),
            _ => None,
        })
        .collect();
    let i = pieces
        .iter()
        .position(|p| p.starts_with("\nClient Initiated Connections"))
        .unwrap_or_else(|| panic!("no waiting-connections block in {pieces:?}"));
    // Equal but for the connect time (`22-Nov-26 15:48`, 15 characters) of the row.
    let at = block.len() - 100;
    let ours = &pieces[i];
    assert_eq!(ours.len(), block.len(), "{ours:?}");
    assert_eq!(ours.get(..at), block.get(..at));
    assert_eq!(ours.get(at + 15..), block.get(at + 15..));
    // Then the row's newline (msg 27) and the end of the status (msg 28).
    assert_eq!(
        pieces.get(i + 1..),
        Some(
            &[
                String::from_utf8(vectors::message("clear-client-initiated", 2, 27)).unwrap(),
                String::from_utf8(vectors::message("clear-client-initiated", 2, 28)).unwrap()
            ][..]
        )
    );
    let _ = con.command(".api 2").await.unwrap();
    let json = con.command("status dir").await.unwrap().text();
    let compact: String = json.split_whitespace().collect();
    assert!(
        compact.contains("\"client-connection\":[{\"ConnectTime\":")
            && compact
                .contains("\"protocol_version\":54,\"authenticated\":1,\"name\":\"bareos-fd\"}]"),
        "{json}"
    );
    con.close().await;

    let mut second = dial(s.port, "bareos-fd").await.unwrap();
    let _ = second.recv().await.unwrap();
    poll("both parked", || pool.list().len() == 2).await;

    // The newest is taken first; the Director's first frame on it is the job's first command.
    let (info, mut taken) = pool
        .take("bareos-fd", Duration::ZERO)
        .await
        .expect("a waiting connection");
    assert_eq!(info.name, "bareos-fd");
    taken.send(b"status\n").await.unwrap();
    match second.recv().await.unwrap() {
        Frame::Data(d) => assert_eq!(d, b"status\n"),
        other => panic!("{other:?}"),
    }
    assert_eq!(pool.list().len(), 1);

    // A signal on a parked connection (a heartbeat here) drops it, as Bareos' pool does.
    first.signal(Signal::Heartbeat).await.unwrap();
    poll("the heartbeating connection dropped", || {
        pool.list().is_empty()
    })
    .await;
    assert!(first.recv().await.is_err(), "the Director closed it");

    // Nothing waiting: take gives up after its wait.
    let t = Instant::now();
    assert!(pool
        .take("bareos-fd", Duration::from_millis(200))
        .await
        .is_none());
    assert!(t.elapsed() >= Duration::from_millis(200));

    // A client that connects while a taker waits is handed over at once.
    let port = s.port;
    let waiter = {
        let pool = pool.clone();
        tokio::spawn(async move { pool.take("bareos-fd", Duration::from_secs(30)).await })
    };
    let mut third = dial(port, "bareos-fd").await.unwrap();
    let _ = third.recv().await.unwrap();
    let (_, mut c) = waiter.await.unwrap().expect("handed over");
    c.send(b"hello again\n").await.unwrap();
    match third.recv().await.unwrap() {
        Frame::Data(d) => assert_eq!(d, b"hello again\n"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_not_allowed_to_dial_in_are_refused() {
    // The same Client without `Connection From Client To Director = yes`.
    let s = director(&|t| {
        t.replace(
            "  Connection From Client To Director = yes   # accept the FD's outbound connection\n",
            "",
        )
    })
    .await;
    let e = dial(s.port, "bareos-fd").await.unwrap_err();
    assert!(e.contains("TERMINATE"), "{e}");
    // An unknown client name.
    let s2 = director(&|t| t).await;
    let e = dial(s2.port, "other-fd").await.unwrap_err();
    assert!(e.contains("TERMINATE"), "{e}");
    assert!(s.jobs.client_pool().list().is_empty());
    assert!(s2.jobs.client_pool().list().is_empty());
}
