//! Test daemons that replay the FD's or SD's side of a captured connection against the
//! Director under test: they authenticate with barque-common's `accept` (real CRAM-MD5), send
//! the daemon's captured frames in order, and compare every frame the Director sends with the
//! captured one after normalising run-specific values (the unique Job name, ports, the
//! `btime` clock).

#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use barque_common::conn::{accept, ConnOptions, Local, Peer};
use barque_common::tls::{Key, TlsSettings};
use fd_core::wire::bnet::{Frame, Signal};
use fd_core::wire::psk::ResourceType;
use tokio::net::TcpListener;

/// One message of a transcript.
#[derive(Debug, Clone)]
pub struct Msg {
    pub i: u32,
    /// Sender role (`dir`, `fd`, `sd`).
    pub from: String,
    /// Payload, or `None` for a signal.
    pub data: Option<Vec<u8>>,
    /// Signal code (negative length) when `data` is `None`.
    pub signal: i32,
}

/// Every message of `conn` in `<capture>/transcript.jsonl`.
pub fn messages(capture: &str, conn: u32) -> Vec<Msg> {
    barque_testkit::transcript::messages(capture, conn)
        .into_iter()
        .map(|m| Msg {
            i: m.i,
            from: m.from().to_owned(),
            signal: m.signal_code().unwrap_or(0),
            data: m.signal_code().is_none().then_some(m.data),
        })
        .collect()
}

pub fn replace(hay: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    if from.is_empty() {
        return hay.to_vec();
    }
    let mut out = Vec::with_capacity(hay.len());
    let mut i = 0;
    while i < hay.len() {
        if hay[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(hay[i]);
            i += 1;
        }
    }
    out
}

/// The result of a replay.
#[derive(Debug, Default, Clone)]
pub struct Replay {
    /// Frames the Director sent that differ from the capture: (msg#, expected, got).
    pub mismatches: Vec<(u32, String, String)>,
    /// How many Director frames matched.
    pub matched: usize,
    /// Every frame the Director sent (normalised).
    pub received: Vec<Vec<u8>>,
    /// Set when the script ended early (connection lost, ...).
    pub aborted: Option<String>,
    /// True when the whole script ran.
    pub completed: bool,
}

/// How to play a daemon.
#[derive(Clone)]
pub struct Script {
    pub kind: ResourceType,
    /// Own resource name (`bareos-fd`, `bareos-sd`).
    pub name: String,
    /// The Director's password as configured on this daemon.
    pub password: String,
    /// The captured messages of the connection, from msg 8 (the daemon's hello OK) on.
    pub msgs: Vec<Msg>,
    /// Role of this daemon in the transcript (`fd`, `sd`).
    pub role: String,
    /// The captured unique Job name.
    pub captured_job: String,
    /// (captured, actual) byte replacements applied to Director frames before comparing,
    /// in addition to the Job name.
    pub normalise: Vec<(Vec<u8>, Vec<u8>)>,
    /// Stop (close the connection) before sending the message with this number.
    pub stop_before: Option<u32>,
    /// Stop sending before this message and wait until the Director hangs up.
    pub pause_before: Option<u32>,
    /// Refuse the job: reply this to the `JobId=` line and close.
    pub refuse_job: Option<Vec<u8>>,
    /// Serve TLS (TLS-PSK with the Director's password, `TLS Enable`/`Require` = yes).
    pub tls: bool,
}

fn learn_job(frame: &[u8]) -> Option<String> {
    let s = String::from_utf8_lossy(frame);
    if !s.starts_with("JobId=") {
        return None;
    }
    s.split(' ')
        .find_map(|w| w.strip_prefix("job=").or_else(|| w.strip_prefix("Job=")))
        .map(|j| j.trim_end().to_owned())
}

fn normalise_btime(b: &[u8]) -> Vec<u8> {
    if b.starts_with(b"btime ") {
        b"btime <T>\n".to_vec()
    } else {
        b.to_vec()
    }
}

/// Listen on an ephemeral port; returns the port and a handle with the result of one
/// replayed connection.
pub async fn spawn(script: Script) -> (u16, tokio::task::JoinHandle<Replay>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let h = tokio::spawn(async move { run(l, script).await });
    (port, h)
}

/// Like [`spawn`] on a given port, listening only after `delay`.
pub async fn spawn_later(
    port: u16,
    delay: Duration,
    script: Script,
) -> tokio::task::JoinHandle<Replay> {
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        let l = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        run(l, script).await
    })
}

/// A free port (bound and released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Like [`spawn`] but serves several connections, each with the next script; a connection
/// is played while the next one may already be accepted (a cancel arrives during a job).
pub async fn spawn_many(scripts: Vec<Script>) -> (u16, tokio::task::JoinHandle<Vec<Replay>>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let h = tokio::spawn(async move {
        let mut handles = Vec::new();
        for s in scripts {
            let (tcp, _) = match tokio::time::timeout(Duration::from_secs(30), l.accept()).await {
                Ok(Ok(x)) => x,
                _ => break,
            };
            handles.push(tokio::spawn(play(tcp, s)));
        }
        let mut out = Vec::new();
        for h in handles {
            out.push(h.await.unwrap_or_default());
        }
        out
    });
    (port, h)
}

async fn run(l: TcpListener, script: Script) -> Replay {
    run_on(&l, script).await
}

async fn run_on(l: &TcpListener, script: Script) -> Replay {
    let (tcp, _) = match tokio::time::timeout(Duration::from_secs(30), l.accept()).await {
        Ok(Ok(x)) => x,
        _ => {
            return Replay {
                aborted: Some("no connection".into()),
                ..Default::default()
            }
        }
    };
    play(tcp, script).await
}

async fn play(tcp: tokio::net::TcpStream, script: Script) -> Replay {
    let mut rep = Replay::default();
    let tls = if script.tls {
        TlsSettings::default()
    } else {
        TlsSettings::disabled()
    };
    let local = Local::new(script.kind, script.name.clone(), tls.clone());
    let key = Key::from_password(&script.password).unwrap();
    let lookup = Arc::new(move |kind: ResourceType, name: &str| {
        (kind == ResourceType::Director && name == "bareos-dir").then(|| Peer {
            kind,
            name: name.to_owned(),
            key: key.clone(),
            address: String::new(),
            port: 0,
            tls: tls.clone(),
        })
    });
    let opts = ConnOptions {
        auth_failure_delay: Duration::from_millis(10),
        ..Default::default()
    };
    let (_, mut conn) = match accept(tcp, &local, lookup, &opts).await {
        Ok(x) => x,
        Err(e) => {
            rep.aborted = Some(format!("accept: {e}"));
            return rep;
        }
    };
    conn.set_io_timeout(Some(Duration::from_secs(60)));
    let actual_job: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
    for m in script.msgs.iter().filter(|m| m.i >= 8) {
        if script.pause_before == Some(m.i) {
            // Hold the job here until the Director closes the connection.
            let mut n = 0;
            while n < 1000 && conn.recv().await.is_ok() {
                n += 1;
            }
            rep.aborted = Some(format!("paused before msg {}", m.i));
            rep.completed = true;
            return rep;
        }
        if script.stop_before == Some(m.i) {
            let _ = conn.shutdown().await;
            rep.aborted = Some(format!("stopped before msg {}", m.i));
            return rep;
        }
        if m.from == script.role {
            let job = actual_job.lock().unwrap().clone();
            let r = match &m.data {
                Some(d) => {
                    let d = match &job {
                        Some(j) => replace(d, script.captured_job.as_bytes(), j.as_bytes()),
                        None => d.clone(),
                    };
                    conn.send(&d).await
                }
                None => conn.signal(Signal::from_code(m.signal)).await,
            };
            if let Err(e) = r {
                // The Director may close after the last frame it needs (the SD's trailing
                // EOD/TERMINATE pairs are never read).
                rep.aborted = Some(format!("send msg {}: {e}", m.i));
                rep.completed = true;
                return rep;
            }
        } else {
            let f = match conn.recv().await {
                Ok(Frame::Data(d)) => Some(d.to_vec()),
                Ok(Frame::Signal(s)) => {
                    let code = s.code();
                    if m.data.is_none() && code == m.signal {
                        rep.matched += 1;
                    } else {
                        rep.mismatches.push((
                            m.i,
                            format!(
                                "{:?}",
                                m.data
                                    .as_ref()
                                    .map(|d| String::from_utf8_lossy(d).into_owned())
                                    .unwrap_or(format!("signal {}", m.signal))
                            ),
                            format!("signal {code}"),
                        ));
                    }
                    None
                }
                Ok(Frame::Chunk(_)) => None,
                Err(e) => {
                    rep.aborted = Some(format!("recv msg {}: {e}", m.i));
                    return rep;
                }
            };
            if let Some(mut got) = f {
                if let Some(j) = learn_job(&got) {
                    *actual_job.lock().unwrap() = Some(j);
                    if let Some(reply) = &script.refuse_job {
                        let _ = conn.send(reply).await;
                        let _ = conn.shutdown().await;
                        rep.received.push(got);
                        rep.aborted = Some("refused the job".into());
                        return rep;
                    }
                }
                if let Some(j) = actual_job.lock().unwrap().clone() {
                    got = replace(&got, j.as_bytes(), script.captured_job.as_bytes());
                }
                for (cap, act) in &script.normalise {
                    got = replace(&got, act, cap);
                }
                let got = normalise_btime(&got);
                rep.received.push(got.clone());
                let want = m.data.clone().map(|d| normalise_btime(&d));
                if want.as_deref() == Some(&got[..]) {
                    rep.matched += 1;
                } else {
                    rep.mismatches.push((
                        m.i,
                        want.map(|w| String::from_utf8_lossy(&w).into_owned())
                            .unwrap_or(format!("signal {}", m.signal)),
                        String::from_utf8_lossy(&got).into_owned(),
                    ));
                }
            }
        }
    }
    rep.completed = true;
    // Keep the socket open until the Director closes it.
    let _ = tokio::time::timeout(Duration::from_secs(5), conn.recv()).await;
    rep
}
