//! The `barque-fd` binary: `-t` on the captured configurations (which must load
//! unchanged), on a `bareos-fd.d` directory and on broken ones; and a spawned daemon serving
//! `status` on its configured port.

mod support;

use std::process::Command;
use std::time::Duration;

use support::capture::vectors;
use support::harness::*;

fn fd_bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_barque-fd"))
}

#[test]
fn captured_configurations_load_unchanged() {
    let mut n = 0;
    for e in std::fs::read_dir(vectors()).unwrap() {
        let conf = e.unwrap().path().join("config/bareos-fd.conf");
        if !conf.exists() {
            continue;
        }
        n += 1;
        let out = fd_bin().arg("-t").arg("-c").arg(&conf).output().unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            conf.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("configuration OK"));
    }
    assert!(n >= 5, "only {n} captured bareos-fd.conf found");
}

#[test]
fn config_directory_and_broken_configurations() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("bareos-fd.d");
    for (dir, file, text) in [
        (
            "client",
            "myself.conf",
            "Client {\n  Name = nas-fd\n  TLS Enable = no\n}\n",
        ),
        (
            "director",
            "bareos-dir.conf",
            "Director {\n  Name = bareos-dir\n  Password = \"secret\"\n  TLS Enable = no\n}\n",
        ),
        (
            "messages",
            "Standard.conf",
            "Messages {\n  Name = Standard\n  Director = bareos-dir = all\n}\n",
        ),
    ] {
        std::fs::create_dir_all(root.join(dir)).unwrap();
        std::fs::write(root.join(dir).join(file), text).unwrap();
    }
    // Both the configuration directory (Bareos' -c) and bareos-fd.d itself.
    for p in [d.path(), root.as_path()] {
        let out = fd_bin().arg("-t").arg("-c").arg(p).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("Client nas-fd"));
    }

    let cases: [(&str, &str); 3] = [
        ("Client { Name = x }\n", "no Director"),
        (
            "Client { Name = x; Bogus = 1 }\nDirector { Name = d; Password = p }\nMessages { Name = m }\n",
            "Bogus",
        ),
        ("Client { Name = x \n", ""),
    ];
    for (text, want) in cases {
        let p = d.path().join("bad.conf");
        std::fs::write(&p, text).unwrap();
        let out = fd_bin().arg("-t").arg("-c").arg(&p).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "accepted: {text}");
        assert!(err.contains("configuration error"), "{err}");
        assert!(err.contains(want), "{err}");
    }
    let out = fd_bin()
        .arg("-t")
        .arg("-c")
        .arg("/nonexistent/x")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let out = fd_bin().arg("-x").output().unwrap();
    assert!(!out.status.success(), "unknown option accepted");
}

#[tokio::test]
async fn spawned_daemon_serves_status_on_its_configured_port() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let tmp = tempfile::tempdir().unwrap();
    let conf = tmp.path().join("bareos-fd.conf");
    std::fs::write(
        &conf,
        support::config_text(false).replace("port = 9102", &format!("port = {port}")),
    )
    .unwrap();
    let mut child = fd_bin()
        .args(["-f", "-d", "100", "-c"])
        .arg(&conf)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut up = false;
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let result = if up {
        let mut p = director_connect(port, false).await;
        p.send(&d("status")).await;
        let mut out = String::new();
        while let Some(Got::Data(x)) = p.recv().await {
            out.push_str(&String::from_utf8_lossy(&x));
        }
        Some(out)
    } else {
        None
    };
    let _ = child.kill();
    let _ = child.wait();
    let out = result.expect("barque-fd did not listen on its port");
    assert!(out.contains("bareos-fd Version: 26.0.0~barque"), "{out}");
    // `-d 100` is the level status reports (dir_cmd.cc list_status_header).
    assert!(out.contains(" debug=100 "), "{out}");
}
