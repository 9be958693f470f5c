//! Handshake probing's cleartext fallback end to end, with barque-dir, barque-sd and barque-fd
//! as processes on 127.0.0.1.
//!
//! What a Bareos FD does with a TLS ClientHello: it always answers with the TLS-PSK server
//! handshake (`core/src/lib/try_tls_handshake_as_a_server.cc`: anything that is not a
//! cleartext hello is `PerformTlsHandshake`; the PSK comes from the Director resource's
//! password whatever its `TLS Enable`, `core/src/lib/res.cc`
//! `GetTlsPskByFullyQualifiedResourceName`; after that `DoTlsHandshake` returns early because
//! TLS is up). So does barque-fd. A Director's TLS-first probe therefore only falls back for
//! a File daemon that does not speak TLS at all (Bareos before 18.2, or a middlebox that
//! drops TLS), and only when the Client resource allows it (`TLS Require = no`; Bareos'
//! default is yes). Here a small relay in front of barque-fd plays that part: it closes every
//! connection whose first byte is a TLS record (0x16) and relays the rest. barque-fd's
//! Director resource says `TLS Enable = no`, so it takes the cleartext hello.
//!
//! Asserted: the first job probes (`Probing client protocol...`), the TLS attempt fails and
//! the job runs in cleartext (`Handshake: Cleartext`, the relay counted the refused TLS
//! attempt); the next job uses the remembered mode without probing; `reload` forgets it; a
//! passive job (the SD dials the FD through the relay) gets `ssl=0` and runs in cleartext.
//!
//! See e2e.rs for how the binaries are found.

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use support::*;

/// The relay: accept on a free port, refuse TLS, relay cleartext to `to`. Returns its port
/// and the count of refused TLS connections.
fn no_tls_relay(to: u16) -> (u16, Arc<AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind relay");
    let port = l.local_addr().expect("addr").port();
    let refused = Arc::new(AtomicUsize::new(0));
    let count = refused.clone();
    std::thread::spawn(move || {
        for c in l.incoming() {
            let Ok(c) = c else { continue };
            let count = count.clone();
            std::thread::spawn(move || {
                let mut first = [0u8; 1];
                match c.peek(&mut first) {
                    Ok(1) if first[0] == 0x16 => {
                        count.fetch_add(1, Ordering::SeqCst);
                        let _ = c.shutdown(std::net::Shutdown::Both);
                        return;
                    }
                    Ok(1) => {}
                    _ => return,
                }
                let Ok(up) = TcpStream::connect(("127.0.0.1", to)) else {
                    return;
                };
                let pipe = |mut a: TcpStream, mut b: TcpStream| {
                    std::thread::spawn(move || {
                        let mut buf = vec![0u8; 65536];
                        while let Ok(n) = a.read(&mut buf) {
                            if n == 0 || b.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                        let _ = b.shutdown(std::net::Shutdown::Write);
                    })
                };
                let (Ok(c2), Ok(up2)) = (c.try_clone(), up.try_clone()) else {
                    return;
                };
                let t1 = pipe(c, up);
                let t2 = pipe(up2, c2);
                let _ = t1.join();
                let _ = t2.join();
            });
        }
    });
    (port, refused)
}

#[test]
fn tls_probe_falls_back_to_cleartext_for_a_client_without_tls() {
    // The Director's port is only known inside start_with; the relay needs the FD's port
    // (Director + 1), so the relay is started first on its own port and told the FD port
    // through a shared cell filled by the edit.
    let relay_to = Arc::new(std::sync::Mutex::new(None::<(u16, Arc<AtomicUsize>)>));
    let cell = relay_to.clone();
    let mut s = start_with(
        "probe-fallback",
        false,
        &move |t: String| {
            let fd_port: u16 = t
                .split("Client {")
                .nth(1)
                .and_then(|c| c.split("Port = ").nth(1))
                .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
                .and_then(|p| p.parse().ok())
                .expect("Client Port");
            let (port, refused) = no_tls_relay(fd_port);
            *cell.lock().expect("cell") = Some((port, refused));
            // `TLS Require = no` (Bareos' default is yes): the Director may fall back.
            t.replacen(
                &format!("  Port = {fd_port}\n"),
                &format!("  Port = {port}\n  TLS Require = no\n"),
                1,
            )
        },
        &|t: String, _| {
            let director = "Director {\n  Name = barque-dir\n";
            assert!(t.contains(director), "{t}");
            t.replacen(director, &format!("{director}  TLS Enable = no\n"), 1)
        },
    );
    let (_, refused) = relay_to
        .lock()
        .expect("cell")
        .clone()
        .expect("relay started");

    // 1. First job: probe, TLS refused by the "old" client, cleartext works.
    let (_, out) = run_and_wait(&s, "run job=DemoBackup level=Full yes");
    assert!(
        out.contains("Probing client protocol... (result will be saved until config reload)")
            && out.contains("Handshake: Cleartext")
            && out.contains("Termination:            Backup OK"),
        "{out}\n{}",
        s.daemons.logs()
    );
    assert!(
        refused.load(Ordering::SeqCst) >= 1,
        "the Director never tried TLS first"
    );

    // 2. Remembered until reload: no probe, no TLS attempt.
    let before = refused.load(Ordering::SeqCst);
    let (_, out) = run_and_wait(&s, "run job=DemoBackup level=Full yes");
    assert!(
        !out.contains("Probing client protocol") && out.contains("Handshake: Cleartext"),
        "{out}"
    );
    assert_eq!(refused.load(Ordering::SeqCst), before, "TLS tried again");

    // 3. `reload` forgets it: the next job probes again.
    let r = console(&s, &["reload"]);
    assert!(!r.contains("rror"), "{r}");
    let (_, out) = run_and_wait(&s, "run job=DemoBackup level=Full yes");
    assert!(
        out.contains("Probing client protocol") && out.contains("Handshake: Cleartext"),
        "{out}"
    );
    assert!(refused.load(Ordering::SeqCst) > before);

    // 4. Passive: the SD dials the FD (through the relay) in cleartext, told ssl=0.
    let conf = s.work.join("etc/bareos-dir.conf");
    let text = std::fs::read_to_string(&conf).expect("dir conf");
    let client = "  Catalog = MyCatalog\n";
    assert!(text.contains(client));
    std::fs::write(
        &conf,
        text.replacen(client, "  Catalog = MyCatalog\n  Passive = yes\n", 1),
    )
    .expect("write dir conf");
    let r = console(&s, &["reload"]);
    assert!(!r.contains("rror"), "{r}");
    let (_, out) = run_and_wait(&s, "run job=DemoBackup level=Full yes");
    assert!(
        out.contains("Probing client protocol")
            && out.contains("Handshake: Cleartext")
            && out.contains("Connected File Daemon at 127.0.0.1:")
            && out.contains("encryption: None")
            && out.contains("Termination:            Backup OK"),
        "{out}\n{}",
        s.daemons.logs()
    );
    s.daemons.kill("dir");
    if std::env::var_os("BARQUE_KEEP").is_none() {
        let _ = std::fs::remove_dir_all(&s.work);
    }
}
