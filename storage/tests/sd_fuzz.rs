//! Random input on both channels of barque-sd: no task may panic, and the daemon keeps
//! serving afterwards. A panic hook records panics of any daemon task.

mod sd_harness;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use fd_core::wire::bnet::Signal;
use proptest::prelude::*;
use sd_harness::*;

static PANICKED: AtomicBool = AtomicBool::new(false);

struct World {
    rt: tokio::runtime::Runtime,
    port: u16,
    _sd: Sd,
}

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |i| {
            PANICKED.store(true, Ordering::SeqCst);
            prev(i);
        }));
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let sd = rt.block_on(start_sd(false));
        World {
            rt,
            port: sd.port,
            _sd: sd,
        }
    })
}

const WORDS: &[&str] = &[
    "JobId=",
    "JobId=1 job=J.1 job_name=J client_name=c type=66 level=70 FileSet=S NoAttr=0 SpoolAttr=0 FileSetMD5=x SpoolData=0 PreferMountedVols=1 SpoolSize=0 rerunning=0 VolSessionId=0 VolSessionTime=0 Quota=0 Protocol=0 BackupFormat=Native\n",
    "use storage=File media_type=File pool_name=Cap pool_type=Backup append=",
    "use device=",
    "bootstrap\n",
    "run",
    "status ",
    ".status ",
    "cancel Job=",
    "getSecureEraseCmd\n",
    "1000 OK VolName=",
    "",
];

#[derive(Debug, Clone)]
enum Frame {
    Text(usize, Vec<u8>),
    Header(i32, i32),
    Eod,
    Terminate,
}

fn frame() -> impl Strategy<Value = Frame> {
    prop_oneof![
        4 => (0..WORDS.len(), proptest::collection::vec(any::<u8>(), 0..40))
            .prop_map(|(w, b)| Frame::Text(w, b)),
        3 => (-3i32..12, -4i32..30).prop_map(|(f, s)| Frame::Header(f, s)),
        2 => Just(Frame::Eod),
        1 => Just(Frame::Terminate),
    ]
}

async fn send_frames(c: &mut barque_common::conn::AuthenticatedConnection, frames: &[Frame]) {
    for f in frames {
        let r = match f {
            Frame::Text(w, b) => {
                let mut m = WORDS[*w].as_bytes().to_vec();
                m.extend_from_slice(b);
                c.send(&m).await
            }
            Frame::Header(fi, s) => c.send(format!("{fi} {s} 0").as_bytes()).await,
            Frame::Eod => c.signal(Signal::Eod).await,
            Frame::Terminate => c.signal(Signal::Terminate).await,
        };
        if r.is_err() {
            return;
        }
    }
}

/// Drain replies (answering catalog requests) until the SD closes or goes quiet.
async fn drain(c: &mut barque_common::conn::AuthenticatedConnection) {
    let mut cat = Catalog::new("Fuzz-0001");
    loop {
        match tokio::time::timeout(Duration::from_millis(300), c.recv()).await {
            Ok(Ok(fd_core::wire::bnet::Frame::Data(m))) => {
                let m = m.to_vec();
                if let Some(r) = cat.answer(&m) {
                    let _ = c.send(&r).await;
                }
            }
            Ok(Ok(_)) => {}
            _ => return,
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]

    #[test]
    fn test_random_director_input(frames in proptest::collection::vec(frame(), 1..12)) {
        let w = world();
        w.rt.block_on(async {
            let mut d = connect_dir(w.port, false).await;
            send_frames(&mut d, &frames).await;
            drain(&mut d).await;
            let mut s = connect_dir(w.port, false).await;
            s.send(b".status header\n").await.unwrap();
            assert!(recv_data(&mut s).await.starts_with(b"bareos-sd Version: "));
        });
        prop_assert!(!PANICKED.load(Ordering::SeqCst));
    }

    #[test]
    fn test_random_fd_data_stream(frames in proptest::collection::vec(frame(), 1..16)) {
        let w = world();
        w.rt.block_on(async {
            let mut d = connect_dir(w.port, false).await;
            let job = format!("Fuzz.{}", rand_suffix());
            let line = show(&cap_msg("clear-backup-full", 2, 9))
                .replace("CapBackup.2026-11-22_15.46.52_03", &job);
            let (id, _, key, _) = define_job(&mut d, line.as_bytes(), true).await;
            let mut fd = connect_fd(w.port, &job, &key, false).await.unwrap();
            d.send(b"run").await.unwrap();
            let dir = tokio::spawn(async move { drain(&mut d).await });
            fd.send(b"append open session\n").await.unwrap();
            let _ = fd.recv().await;
            fd.send(format!("append data {id}\n").as_bytes()).await.unwrap();
            let _ = fd.recv().await;
            send_frames(&mut fd, &frames).await;
            let _ = fd.signal(Signal::Eod).await;
            let _ = fd.signal(Signal::Eod).await;
            let _ = tokio::time::timeout(Duration::from_secs(5), dir).await;
            drop(fd);
            let mut s = connect_dir(w.port, false).await;
            s.send(b".status header\n").await.unwrap();
            assert!(recv_data(&mut s).await.starts_with(b"bareos-sd Version: "));
        });
        prop_assert!(!PANICKED.load(Ordering::SeqCst));
    }
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::AtomicU64;
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::SeqCst)
}
