//! The binaries: `barque-dir -t`, `barque-dir -f` serving `barque-console` fed on stdin
//! (`printf 'cmd\n' | barque-console -c bconsole.conf`, as the captures fed bconsole),
//! and `barque-console -t`.

mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use support::*;
use tokio::io::AsyncWriteExt;

const DIR: &str = env!("CARGO_BIN_EXE_barque-dir");
const CONSOLE: &str = env!("CARGO_BIN_EXE_barque-console");

async fn console_stdin(conf: &std::path::Path, input: &str) -> (bool, String, String) {
    let mut child = tokio::process::Command::new(CONSOLE)
        .arg("-c")
        .arg(conf)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn barque-console");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(input.as_bytes()).await.expect("write");
    drop(stdin);
    let out = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("barque-console finishes")
        .expect("output");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn dir_config_test_mode() {
    let dir = tempfile::tempdir().expect("tmp");
    let good = dir.path().join("good.conf");
    std::fs::write(&good, dir_conf(Variant::Clear)).expect("write");
    let out = Command::new(DIR)
        .args(["-t", "-c"])
        .arg(&good)
        .output()
        .expect("run");
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 error(s)"));

    let bad = dir.path().join("bad.conf");
    std::fs::write(
        &bad,
        format!(
            "{}\nClient {{\n  Name = broken\n  Frobnicate = yes\n}}\n",
            dir_conf(Variant::Clear)
        ),
    )
    .expect("write");
    let out = Command::new(DIR)
        .args(["-t", "-c"])
        .arg(&bad)
        .output()
        .expect("run");
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Frobnicate"), "{text}");
    assert!(
        text.contains("bad.conf"),
        "the message names the file: {text}"
    );

    // A Console naming a Profile that does not exist.
    let noprof = dir.path().join("noprof.conf");
    std::fs::write(
        &noprof,
        format!(
            "{}\nConsole {{\n  Name = c2\n  Password = p\n  Profile = missing\n}}\n",
            vector("clear-bconsole/config/bareos-dir.conf")
        ),
    )
    .expect("write");
    let out = Command::new(DIR)
        .args(["-t", "-c"])
        .arg(&noprof)
        .output()
        .expect("run");
    assert!(!out.status.success(), "{out:?}");

    // A configuration directory: <dir>/bareos-dir.d/<type>/<name>.conf.
    let d = dir.path().join("etc");
    std::fs::create_dir_all(d.join("bareos-dir.d/director")).expect("mkdir");
    std::fs::write(
        d.join("bareos-dir.d/director/bareos-dir.conf"),
        dir_conf(Variant::Clear),
    )
    .expect("write");
    let out = Command::new(DIR)
        .args(["-t", "-c"])
        .arg(&d)
        .output()
        .expect("run");
    assert!(out.status.success(), "{out:?}");

    let out = Command::new(DIR)
        .args(["-t", "-c", "/nonexistent/barque"])
        .output()
        .expect("run");
    assert!(!out.status.success());
}

#[test]
fn console_config_test_mode() {
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path().join("bconsole.conf");
    std::fs::copy(vectors().join("clear-bconsole/config/bconsole.conf"), &p).expect("copy");
    let out = Command::new(CONSOLE)
        .args(["-t", "-c"])
        .arg(&p)
        .output()
        .expect("run");
    assert!(out.status.success(), "{out:?}");
    let out = Command::new(CONSOLE)
        .args(["-t", "-D", "other-dir", "-c"])
        .arg(&p)
        .output()
        .expect("run");
    assert!(!out.status.success(), "unknown -D director");
}

#[tokio::test]
async fn console_on_stdin_against_in_process_director() {
    let d = start(Variant::Clear).await;
    let conf = d.bconsole("bconsole.conf", CONSOLE_PW, None);
    let (ok, out, err) = console_stdin(
        &conf,
        "status dir\nfrobnicate\n.api 2\nversion\nlist jobs\n",
    )
    .await;
    assert!(ok, "{out}\n{err}");
    // The shape of vectors/clear-bconsole/bconsole-output.txt.
    let head = format!(
        "Connecting to Director 127.0.0.1:{}\n Encryption: None\n1000 OK: bareos-dir Version: {} ({})\n{}\nYou are connected using the default console\n\nEnter a period (.) to cancel a command.\nstatus dir\nbareos-dir Version: ",
        d.port,
        director::ua::VERSION,
        director::ua::BUILD_DATE,
        director::ua::SERVICES_MESSAGE
    );
    assert!(out.starts_with(&head), "{out}");
    assert!(out.contains("\nNo Jobs running.\n====\n"), "{out}");
    assert!(out.contains("====\nfrobnicate\nfrobnicate: is an invalid command.\n.api 2\n{\n  \"jsonrpc\": \"2.0\",\n  \"id\": null,\n  \"result\": {\n    \"api\": 2\n  }\n}version\n{"), "{out}");
    assert!(out.contains("}list jobs\n{"), "{out}");
    assert!(
        out.contains("list: the catalog is not available in this build"),
        "{out}"
    );
}

#[tokio::test]
async fn console_tls_psk_on_stdin() {
    let d = start(Variant::Psk).await;
    let conf = d.bconsole("bconsole.conf", CONSOLE_PW, None);
    let (ok, out, err) = console_stdin(&conf, "version\n").await;
    assert!(ok, "{out}\n{err}");
    assert!(
        out.contains(" Encryption: TLS_CHACHA20_POLY1305_SHA256 TLSv1.3\n"),
        "{out}"
    );
    assert!(out.contains("version\nbareos-dir Version: "), "{out}");
    let conf = d.bconsole("bad.conf", "wrong", None);
    let (ok, _, err) = console_stdin(&conf, "version\n").await;
    assert!(!ok);
    assert!(err.contains("barque-console:"), "{err}");
}

#[tokio::test]
async fn dir_binary_serves_the_console_binary() {
    let dir = tempfile::tempdir().expect("tmp");
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    // The catalog: SQLite in the temporary working directory (the capture's PostgreSQL
    // server is not there, and barque-dir refuses to start without its catalog).
    let conf = dir_conf(Variant::Clear)
        .replace("port = 39201", &format!("port = {port}"))
        .replace("  DbAddress = \"127.0.0.1\"\n  DbPort = 5432\n", "")
        .replace(
            "WorkingDirectory = \"/srv/bareos-capture/state/dir\"",
            &format!("WorkingDirectory = \"{}\"", dir.path().display()),
        );
    assert!(conf.contains(&format!("port = {port}")));
    assert!(!conf.contains("DbAddress"));
    let dconf = dir.path().join("bareos-dir.conf");
    std::fs::write(&dconf, conf).expect("write");
    // Times in the Director's local zone (TZ), as the C library's `date` prints them.
    let tz = "Europe/Berlin";
    let date = || {
        let o = Command::new("date")
            .env("TZ", tz)
            .arg("+%a %d-%b-%Y %H:%M")
            .output()
            .expect("date");
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    };
    let before = date();
    let mut child = tokio::process::Command::new(DIR)
        .env("TZ", tz)
        .args(["-f", "-c"])
        .arg(&dconf)
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn barque-dir");
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
    assert!(up, "barque-dir did not listen on {port}");
    let bconf = dir.path().join("bconsole.conf");
    std::fs::write(
        &bconf,
        format!(
            "Director {{\n  Name = bareos-dir\n  Address = 127.0.0.1\n  Port = {port}\n  Password = \"{CONSOLE_PW}\"\n  TLS Enable = no\n  TLS Require = no\n}}\n"
        ),
    )
    .expect("write");
    let (ok, out, err) = console_stdin(&bconf, "version\n.clients\nreload\ntime\n").await;
    assert!(ok, "{out}\n{err}");
    let after = date();
    assert!(
        out.contains(&format!("time\n{before}:")) || out.contains(&format!("time\n{after}:")),
        "the time in {tz} is {before} or {after}:\n{out}"
    );
    assert!(
        out.contains(".clients\nbareos-fd\nreload\nreloaded\n"),
        "{out}"
    );
    child.start_kill().expect("kill barque-dir");
    let _ = child.wait().await;
}

/// A catalog that cannot be opened stops barque-dir at start with a message that names the
/// Catalog resource, the database and the fix (and not the password).
#[test]
fn dir_refuses_to_start_without_its_catalog() {
    let dir = tempfile::tempdir().expect("tmp");
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let conf = dir_conf(Variant::Clear).replace("DbPort = 5432", &format!("DbPort = {closed}"));
    let dconf = dir.path().join("bareos-dir.conf");
    std::fs::write(&dconf, conf).expect("write");
    let out = Command::new(DIR)
        .args(["-f", "-c"])
        .arg(&dconf)
        .output()
        .expect("run barque-dir");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    for want in [
        "cannot open Catalog \"MyCatalog\"",
        &format!("PostgreSQL database \"bareos_capture\" at 127.0.0.1:{closed} as user \"bareos\""),
        "start the database server or correct DB Address",
        &dconf.display().to_string(),
    ] {
        assert!(err.contains(want), "missing {want:?} in: {err}");
    }
    assert!(!err.contains("ref-db-password"), "{err}");

    // SQLite in a working directory that does not exist.
    let conf = dir_conf(Variant::Clear)
        .replace("  DbAddress = \"127.0.0.1\"\n  DbPort = 5432\n", "")
        .replace(
            "WorkingDirectory = \"/srv/bareos-capture/state/dir\"",
            &format!("WorkingDirectory = \"{}/missing\"", dir.path().display()),
        );
    std::fs::write(&dconf, conf).expect("write");
    let out = Command::new(DIR)
        .args(["-f", "-c"])
        .arg(&dconf)
        .output()
        .expect("run barque-dir");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("cannot open Catalog \"MyCatalog\" (the SQLite database ")
            && err.contains("Working Directory exists and is writable"),
        "{err}"
    );
}

/// Interactive mode: on a terminal (a pty made by python3's `pty` module) barque-console
/// uses the line editor with the `*` prompt and keeps a history file.
#[tokio::test]
async fn console_interactive_on_a_pty() {
    let d = start(Variant::Clear).await;
    let conf = d.bconsole("bconsole.conf", CONSOLE_PW, None);
    let home = tempfile::tempdir().expect("home");
    let script = r#"
import os, pty, select, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], ["barque-console", "-c", sys.argv[2]])
out = b""
def rd(t):
    global out
    end = time.time() + t
    while time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try:
                out += os.read(fd, 4096)
            except OSError:
                return
rd(2)
os.write(fd, b"version\r"); rd(2)
os.write(fd, b"quit\r"); rd(2)
os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace"))
"#;
    let out = tokio::process::Command::new("python3")
        .args(["-c", script, CONSOLE])
        .arg(&conf)
        .env("HOME", home.path())
        .output()
        .await
        .expect("python3 (for a pty)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("You are connected using the default console"),
        "{text}"
    );
    assert!(text.contains('*'), "prompt: {text}");
    assert!(text.contains("bareos-dir Version: "), "{text}");
    let hist =
        std::fs::read_to_string(home.path().join(".barque_console_history")).expect("history file");
    assert!(hist.contains("version"), "{hist}");
}
