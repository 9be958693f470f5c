//! Helpers shared by the whole-system tests (e2e.rs, embedded_daemons.rs): locate the
//! barque-* binaries, pick free ports, `barque-dir --init` a configuration, start the daemons
//! as processes (killed on drop), drive barque-console.
#![allow(dead_code)]

use std::io::Write;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn bin_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("BARQUE_BIN_DIR") {
        return PathBuf::from(d);
    }
    // target/<profile>/deps/e2e-<hash> → target/<profile>
    let exe = std::env::current_exe().expect("current_exe");
    exe.parent()
        .and_then(Path::parent)
        .expect("test executable in target/<profile>/deps")
        .to_path_buf()
}

pub fn bin(name: &str) -> PathBuf {
    let p = bin_dir().join(name);
    assert!(
        p.is_file(),
        "{} is missing: run `cargo build -p director -p storage -p fd-linux --bins` (scripts/test \
         does) before this test, or set BARQUE_BIN_DIR",
        p.display()
    );
    p
}

/// A base port with it and the next two free on 127.0.0.1.
pub fn free_ports() -> u16 {
    for _ in 0..200 {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let base = l.local_addr().expect("addr").port();
        drop(l);
        if base > 65000 {
            continue;
        }
        let ok = (0..3).all(|i| TcpListener::bind(("127.0.0.1", base + i)).is_ok());
        if ok {
            return base;
        }
    }
    panic!("no three consecutive free ports");
}

pub struct Daemons {
    pub children: Vec<(String, Child)>,
    pub work: PathBuf,
}

impl Drop for Daemons {
    fn drop(&mut self) {
        for (_, c) in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Daemons {
    pub fn logs(&self) -> String {
        let mut s = String::new();
        for n in ["dir", "sd", "fd"] {
            let p = self.work.join(format!("log/{n}.out"));
            s.push_str(&format!(
                "---- {n} ----\n{}\n",
                std::fs::read_to_string(p).unwrap_or_default()
            ));
        }
        s
    }
}

pub fn wait_port(port: u16) {
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(20) {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("nothing listens on port {port}");
}

pub struct Setup {
    pub work: PathBuf,
    /// The first `--fileset` path (the backed-up tree of the e2e tests).
    pub data: PathBuf,
    /// The Director's port; the FD's is `port + 1`, the SD's `port + 2`.
    pub port: u16,
    pub daemons: Daemons,
}

pub fn workdir(tag: &str) -> PathBuf {
    let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let w = base.join(format!("e2e-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&w);
    std::fs::create_dir_all(&w).expect("mkdir work");
    w
}

/// How [`start_with`] sets up the daemons.
pub struct StartOptions<'a> {
    /// Directory name tag under `CARGO_TARGET_TMPDIR`.
    pub tag: &'a str,
    /// `barque-dir --init --cleartext`.
    pub cleartext: bool,
    /// The paths of the generated FileSet (`--fileset`, the first one is [`Setup::data`]).
    pub fileset: &'a [PathBuf],
    /// Start barque-fd too (false: the test brings its own File Daemon on `port + 1`).
    pub spawn_fd: bool,
}

/// The e2e setup: the sample tree ([`make_tree`]) as the FileSet, a `barque-dir --init`
/// configuration, barque-sd, barque-fd and barque-dir started.
pub fn start(tag: &str, cleartext: bool, edit_dir_conf: &dyn Fn(String) -> String) -> Setup {
    let work = workdir(tag);
    let data = work.join("data");
    make_tree(&data);
    start_in(
        work,
        &StartOptions {
            tag,
            cleartext,
            fileset: &[data],
            spawn_fd: true,
        },
        edit_dir_conf,
    )
}

/// [`start`] with options, in a fresh work directory.
pub fn start_with(o: &StartOptions<'_>, edit_dir_conf: &dyn Fn(String) -> String) -> Setup {
    start_in(workdir(o.tag), o, edit_dir_conf)
}

fn start_in(
    work: PathBuf,
    o: &StartOptions<'_>,
    edit_dir_conf: &dyn Fn(String) -> String,
) -> Setup {
    let data = o.fileset.first().cloned().unwrap_or_default();
    let port = free_ports();
    let mut init = Command::new(bin("barque-dir"));
    init.arg("--init")
        .arg(&work)
        .args(["--port", &port.to_string()]);
    for f in o.fileset {
        init.arg("--fileset").arg(f);
    }
    init.arg("--where").arg(work.join("restore-default"));
    if o.cleartext {
        init.arg("--cleartext");
    }
    let out = init.output().expect("barque-dir --init");
    assert!(
        out.status.success(),
        "barque-dir --init failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir_conf = work.join("etc/bareos-dir.conf");
    let text = std::fs::read_to_string(&dir_conf).expect("read dir conf");
    std::fs::write(&dir_conf, edit_dir_conf(text)).expect("write dir conf");
    let mut daemons = Daemons {
        children: Vec::new(),
        work: work.clone(),
    };
    for (name, exe, conf, p) in [
        ("sd", "barque-sd", "bareos-sd.conf", port + 2),
        ("fd", "barque-fd", "bareos-fd.conf", port + 1),
        ("dir", "barque-dir", "bareos-dir.conf", port),
    ] {
        if name == "fd" && !o.spawn_fd {
            continue;
        }
        let log = std::fs::File::create(work.join(format!("log/{name}.out"))).expect("log");
        let child = Command::new(bin(exe))
            .arg("-c")
            .arg(work.join("etc").join(conf))
            .arg("-f")
            .stdout(log.try_clone().expect("log clone"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {exe}: {e}"));
        daemons.children.push((name.into(), child));
        wait_port(p);
    }
    Setup {
        work,
        data,
        port,
        daemons,
    }
}

pub fn write(p: &Path, content: &[u8]) {
    std::fs::write(p, content).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
}

/// The e2e sample tree: files, a 2 MB file, a symlink, nested and empty directories, a
/// mode 0640 file.
pub fn make_tree(d: &Path) {
    std::fs::create_dir_all(d.join("sub/deep")).expect("mkdir");
    std::fs::create_dir_all(d.join("empty")).expect("mkdir");
    write(&d.join("hello.txt"), b"Hello, Barque!\n");
    // 2 MB, not compressible into something trivial: an LCG stream.
    let mut x: u32 = 12345;
    let big: Vec<u8> = (0..2_000_003)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (x >> 16) as u8
        })
        .collect();
    write(&d.join("big.bin"), &big);
    write(&d.join("sub/notes.txt"), b"notes\n");
    write(&d.join("sub/secret.txt"), b"secret\n");
    std::fs::set_permissions(
        d.join("sub/secret.txt"),
        std::fs::Permissions::from_mode(0o640),
    )
    .expect("chmod");
    write(&d.join("sub/deep/gone.txt"), b"to be deleted\n");
    write(&d.join("sub/deep/stay.txt"), b"stays\n");
    std::os::unix::fs::symlink("hello.txt", d.join("link-to-hello")).expect("symlink");
}
/// Run console commands (one per line) through barque-console; returns its output.
pub fn console(s: &Setup, commands: &[&str]) -> String {
    let mut child = Command::new(bin("barque-console"))
        .arg("-c")
        .arg(s.work.join("etc/bconsole.conf"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn barque-console");
    {
        let mut stdin = child.stdin.take().expect("stdin");
        for c in commands {
            writeln!(stdin, "{c}").expect("write command");
        }
    }
    let out = child.wait_with_output().expect("console output");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "barque-console failed: {text}\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        s.daemons.logs()
    );
    text
}

pub fn queued_id(out: &str) -> u32 {
    out.lines()
        .find_map(|l| l.strip_prefix("Job queued. JobId="))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no `Job queued. JobId=` in:\n{out}"))
}

/// Run a job command, wait for it, return (JobId, console output of wait+messages).
pub fn run_and_wait(s: &Setup, cmd: &str) -> (u32, String) {
    let out = console(s, &[cmd]);
    let id = queued_id(&out);
    let wait = console(s, &[&format!("wait jobid={id}"), "messages"]);
    assert!(
        wait.contains(&format!("JobId={id}\nJobStatus=OK (T)")),
        "job {id} ({cmd}) did not end OK:\n{out}\n{wait}\n{}",
        s.daemons.logs()
    );
    (id, wait)
}

/// Rows of a one-column `+---+` table after the header.
pub fn table_column(out: &str) -> Vec<String> {
    let mut rows = Vec::new();
    let mut seps = 0;
    for l in out.lines() {
        if l.starts_with("+-") {
            seps += 1;
            continue;
        }
        if seps == 2 {
            if let Some(v) = l.strip_prefix("| ").and_then(|v| v.strip_suffix(" |")) {
                rows.push(v.trim().to_string());
            }
        }
    }
    rows
}
