//! Helpers shared by the whole-system tests (e2e.rs, client_initiated.rs): the binaries of
//! the workspace, configurations made by `barque-dir --init`, daemons as child processes,
//! barque-console, the sample tree and its comparison.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Write;
use std::net::TcpListener;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub mod qemu;

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
/// A free port on 127.0.0.1 (free when asked).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

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

/// (name, binary, configuration file, port offset from the Director's port) of each daemon,
/// in start order.
pub const DAEMONS: [(&str, &str, &str, u16); 3] = [
    ("sd", "barque-sd", "bareos-sd.conf", 2),
    ("fd", "barque-fd", "bareos-fd.conf", 1),
    ("dir", "barque-dir", "bareos-dir.conf", 0),
];

impl Daemons {
    /// Start daemon `name` (`dir`, `sd`, `fd`) with its configuration; its output is appended
    /// to `log/<name>.out`.
    pub fn spawn(&mut self, name: &str) {
        let (_, exe, conf, _) = DAEMONS
            .iter()
            .find(|d| d.0 == name)
            .unwrap_or_else(|| panic!("no daemon {name}"));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.work.join(format!("log/{name}.out")))
            .expect("log");
        let child = Command::new(bin(exe))
            .arg("-c")
            .arg(self.work.join("etc").join(conf))
            .arg("-f")
            .stdout(log.try_clone().expect("log clone"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {exe}: {e}"));
        self.children.retain(|(n, _)| n != name);
        self.children.push((name.into(), child));
    }

    /// `kill -9` daemon `name` and reap it.
    pub fn kill(&mut self, name: &str) {
        for (n, c) in &mut self.children {
            if n == name {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
        self.children.retain(|(n, _)| n != name);
    }

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
    if !port_listens_within(port, Duration::from_secs(20)) {
        panic!("nothing listens on port {port}");
    }
}

/// Polls 127.0.0.1:`port` until something accepts a connection or `limit` passes.
pub fn port_listens_within(port: u16, limit: Duration) -> bool {
    let t = Instant::now();
    while t.elapsed() < limit {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

pub struct Setup {
    pub work: PathBuf,
    pub data: PathBuf,
    pub port: u16,
    pub daemons: Daemons,
}

/// A CA and one certificate for every daemon and the console (CN and subjectAltName
/// 127.0.0.1, the address every resource names, so that a client's host check passes), made
/// with the `openssl` command; then the TLS directives in every resource that connects or
/// accepts: the Director's own, its Client and Storage, the FD's own and its Director, the
/// SD's own and its Director, and bconsole's Director.
pub fn add_certificates(work: &Path) {
    let tls = work.join("tls");
    std::fs::create_dir_all(&tls).expect("mkdir tls");
    barque_testkit::certs::self_signed_ca(&tls, "ca", "Barque test CA");
    barque_testkit::certs::issue(
        &tls,
        "ca",
        "daemon",
        "127.0.0.1",
        "subjectAltName = IP:127.0.0.1, DNS:127.0.0.1, DNS:localhost\n\
         extendedKeyUsage = serverAuth, clientAuth\n",
    );
    let lines = format!(
        "  TLS Enable = yes\n  TLS Require = yes\n  TLS Certificate = \"{}\"\n  \
         TLS Key = \"{}\"\n  TLS CA Certificate File = \"{}\"\n  TLS Verify Peer = yes\n",
        tls.join("daemon.pem").display(),
        tls.join("daemon.key").display(),
        tls.join("ca.pem").display()
    );
    for file in [
        "bareos-dir.conf",
        "bareos-fd.conf",
        "bareos-sd.conf",
        "bconsole.conf",
    ] {
        let conf = work.join("etc").join(file);
        let text = std::fs::read_to_string(&conf).expect("read conf");
        let mut out = String::new();
        let mut n = 0;
        for line in text.lines() {
            out.push_str(line);
            out.push('\n');
            if ["Director {", "Client {", "Storage {", "Console {"].contains(&line) {
                out.push_str(&lines);
                n += 1;
            }
        }
        assert!(n > 0, "no resource for TLS in {file}:\n{text}");
        std::fs::write(&conf, out).expect("write conf");
    }
}

pub fn workdir(tag: &str) -> PathBuf {
    let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let w = base.join(format!("e2e-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&w);
    std::fs::create_dir_all(&w).expect("mkdir work");
    w
}

pub fn start(tag: &str, cleartext: bool, edit_dir_conf: &dyn Fn(String) -> String) -> Setup {
    start_with(tag, cleartext, edit_dir_conf, &|t, _| t)
}

/// [`start`] (TLS-PSK configured) with certificate TLS on every connection as well
/// ([`add_certificates`]); `edit_dir_conf` as in [`start`].
pub fn start_with_certificates(tag: &str, edit_dir_conf: &dyn Fn(String) -> String) -> Setup {
    start_edited(
        tag,
        false,
        edit_dir_conf,
        &|t, _| t,
        &|t| t,
        &add_certificates,
    )
}

/// [`start`] with an edit of the Storage daemon's configuration too (more Devices).
pub fn start_with_sd(
    tag: &str,
    cleartext: bool,
    edit_dir_conf: &dyn Fn(String) -> String,
    edit_sd_conf: &dyn Fn(String) -> String,
) -> Setup {
    start_edited(
        tag,
        cleartext,
        edit_dir_conf,
        &|t, _| t,
        edit_sd_conf,
        &|_| {},
    )
}

/// [`start`] with an edit of the File daemon's configuration as well (`edit_fd_conf` gets
/// the generated text and the work directory).
pub fn start_with(
    tag: &str,
    cleartext: bool,
    edit_dir_conf: &dyn Fn(String) -> String,
    edit_fd_conf: &dyn Fn(String, &Path) -> String,
) -> Setup {
    start_edited(tag, cleartext, edit_dir_conf, edit_fd_conf, &|t| t, &|_| {})
}

fn start_edited(
    tag: &str,
    cleartext: bool,
    edit_dir_conf: &dyn Fn(String) -> String,
    edit_fd_conf: &dyn Fn(String, &Path) -> String,
    edit_sd_conf: &dyn Fn(String) -> String,
    edit_work: &dyn Fn(&Path),
) -> Setup {
    let work = workdir(tag);
    let data = work.join("data");
    make_tree(&data);
    let port = free_ports();
    let mut init = Command::new(bin("barque-dir"));
    init.arg("--init")
        .arg(&work)
        .args(["--port", &port.to_string(), "--fileset"])
        .arg(&data)
        .arg("--where")
        .arg(work.join("restore-default"));
    if cleartext {
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
    let fd_conf = work.join("etc/bareos-fd.conf");
    let text = std::fs::read_to_string(&fd_conf).expect("read fd conf");
    std::fs::write(&fd_conf, edit_fd_conf(text, &work)).expect("write fd conf");
    let sd_conf = work.join("etc/bareos-sd.conf");
    let text = std::fs::read_to_string(&sd_conf).expect("read sd conf");
    std::fs::write(&sd_conf, edit_sd_conf(text)).expect("write sd conf");
    edit_work(&work);
    let mut daemons = Daemons {
        children: Vec::new(),
        work: work.clone(),
    };
    for (name, _, _, off) in DAEMONS {
        daemons.spawn(name);
        wait_port(port + off);
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

/// What `list files` of a Full of the `make_tree` tree holds, relative to the tree, sorted.
pub const TREE_FULL_FILES: [&str; 11] = [
    "",
    "big.bin",
    "empty/",
    "hello.txt",
    "link-to-hello",
    "sub/",
    "sub/deep/",
    "sub/deep/gone.txt",
    "sub/deep/stay.txt",
    "sub/notes.txt",
    "sub/secret.txt",
];

/// The change between the Full and the Incremental: one file modified, one added, one
/// deleted. Sleeps past the Full's start second first so the changes are newer than the
/// since time.
pub fn change_tree(d: &Path) {
    std::thread::sleep(Duration::from_millis(2100));
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(d.join("hello.txt"))
        .expect("open");
    f.write_all(b"changed\n").expect("append");
    drop(f);
    write(&d.join("sub/added.txt"), b"added after the Full\n");
    std::fs::remove_file(d.join("sub/deep/gone.txt")).expect("rm");
}

/// A change after the Incremental of [`change_tree`], for a Differential: one line appended
/// to `sub/deep/stay.txt` (after a pause, so that its times differ from the job's).
pub fn change_after_incremental(d: &Path) {
    std::thread::sleep(Duration::from_millis(1100));
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(d.join("sub/deep/stay.txt"))
        .expect("open stay.txt");
    f.write_all(b"changed after the Incremental\n")
        .expect("append");
}

/// `list files jobid=«jobid»`, names relative to the data directory, sorted.
pub fn listed_files(s: &Setup, jobid: u32) -> Vec<String> {
    let prefix = format!("{}/", s.data.display());
    let mut got: Vec<String> = file_lines(&console(s, &[&format!("list files jobid={jobid}")]))
        .iter()
        .map(|f| f.strip_prefix(&prefix).unwrap_or(f).to_string())
        .collect();
    got.sort();
    got
}

/// Restore `current` of barque-fd's DemoSet into `target` and wait for it; fails unless the
/// restore ends OK. Returns the job's messages.
pub fn restore_current(s: &Setup, target: &Path) -> String {
    let (_, msgs) = run_and_wait(
        s,
        &format!(
            "restore client=barque-fd fileset=DemoSet where={} select current all done yes",
            target.display()
        ),
    );
    assert!(
        msgs.contains("Termination:            Restore OK"),
        "{msgs}\n{}",
        s.daemons.logs()
    );
    msgs
}

/// The console's answer to `cancel jobid=«id»` of a running backup, as bareos-dir shows it:
/// the FD's reply, then the SD's (`3000 JobId=… marked to be canceled.`, or `3904 Job … not
/// found.` while the job has no SD session).
pub fn assert_cancel_replies(out: &str, id: u32, logs: &dyn Fn() -> String) {
    assert!(
        out.contains("2001 Job DemoBackup.")
            && out.contains(" marked to be canceled.\n")
            && (out.contains(&format!("3000 JobId={id} Job=\"DemoBackup."))
                || out.contains("3904 Job DemoBackup.")),
        "{out}\n{}",
        logs()
    );
}

/// The first `Name = …` value of the block starting with `head` (`"Storage {"`).
pub fn block(text: &str, head: &str) -> (String, String) {
    let start = text.find(&format!("\n{head}")).expect("block") + 1;
    let len = text[start..].find("\n}\n").expect("block end") + 3;
    let b = text[start..start + len].to_string();
    let name = b
        .lines()
        .find_map(|l| l.trim().strip_prefix("Name = "))
        .expect("Name")
        .trim_matches('"')
        .to_string();
    (b, name)
}

/// The Director configuration of a copy/migrate setup: a second Storage `File2` (the same SD,
/// Device `«device»2`, Media Type `File2`), the default Pool's `Next Pool = Copies` on it, and
/// the Jobs `CopyJob` (Type Copy) and `MigrateJob` (Type Migrate), both
/// `Selection Type = PoolUncopiedJobs`.
pub fn copy_dir_conf(dir: String) -> String {
    let (st, st_name) = block(&dir, "Storage {");
    let (_, pool) = block(&dir, "Pool {");
    let dev = st
        .lines()
        .find_map(|l| l.trim().strip_prefix("Device = "))
        .expect("Device")
        .to_string();
    let st2 = st
        .replace(&format!("Name = {st_name}"), "Name = File2")
        .replace(&format!("Device = {dev}"), &format!("Device = {dev}2"))
        .replace("Media Type = File", "Media Type = File2");
    let (_, client) = block(&dir, "Client {");
    let (_, fileset) = block(&dir, "FileSet {");
    let dir = dir.replacen(
        &format!("Pool {{\n  Name = {pool}\n"),
        &format!("Pool {{\n  Name = {pool}\n  Next Pool = Copies\n"),
        1,
    );
    format!(
        "{dir}\n{st2}\n\
         Pool {{\n  Name = Copies\n  Pool Type = Backup\n  Recycle = no\n  AutoPrune = no\n  \
         Maximum Volume Jobs = 1\n  Label Format = \"Copy-\"\n  Storage = File2\n}}\n\n\
         Job {{\n  Name = CopyJob\n  Type = Copy\n  Client = {client}\n  FileSet = \"{fileset}\"\n  \
         Storage = {st_name}\n  Pool = {pool}\n  Messages = Standard\n  \
         Selection Type = PoolUncopiedJobs\n}}\n\n\
         Job {{\n  Name = MigrateJob\n  Type = Migrate\n  Client = {client}\n  \
         FileSet = \"{fileset}\"\n  Storage = {st_name}\n  Pool = {pool}\n  \
         Messages = Standard\n  Selection Type = PoolUncopiedJobs\n}}\n"
    )
}

/// [`copy_dir_conf`] with the second Storage naming the SD `localhost`: a Director then sees
/// two SDs and copies SD to SD (`replicate`/`listen`) instead of within the SD.
pub fn copy_dir_conf_sd_to_sd(dir: String) -> String {
    let t = copy_dir_conf(dir);
    let at = "Name = File2\n  Address = 127.0.0.1\n";
    assert!(t.contains(at), "copy configuration changed:\n{t}");
    t.replacen(at, "Name = File2\n  Address = localhost\n", 1)
}

/// The SD configuration of a copy/migrate setup: a second Device `«device»2` with Media Type
/// `File2` in the directory `«archive»2`.
pub fn copy_sd_conf(sd: String) -> String {
    let (dev, name) = block(&sd, "Device {");
    let archive = dev
        .lines()
        .find_map(|l| l.trim().strip_prefix("Archive Device = "))
        .expect("Archive Device")
        .trim_matches('"')
        .to_string();
    let archive2 = format!("{archive}2");
    std::fs::create_dir_all(&archive2).expect("mkdir second archive");
    let dev2 = dev
        .replace(&format!("Name = {name}"), &format!("Name = {name}2"))
        .replace("Media Type = File", "Media Type = File2")
        .replace(&archive, &archive2);
    format!("{sd}\n{dev2}")
}

/// Run console commands (one per line) through barque-console; returns its output.
pub fn console(s: &Setup, commands: &[&str]) -> String {
    run_console(
        &bin("barque-console"),
        &s.work.join("etc/bconsole.conf"),
        commands,
        &|| s.daemons.logs(),
    )
}

/// Feed `commands` (one per line) to the console `program` with configuration `conf`;
/// returns its output. On failure the panic shows `logs()`.
pub fn run_console(
    program: &Path,
    conf: &Path,
    commands: &[&str],
    logs: &dyn Fn() -> String,
) -> String {
    let name = program
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut child = Command::new(program)
        .arg("-c")
        .arg(conf)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {name}: {e}"));
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
        "{name} failed: {text}\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        logs()
    );
    text
}

pub fn queued_id(out: &str) -> u32 {
    queued_id_or(out, &String::new)
}

/// The JobId of `Job queued. JobId=` in `out`; on failure the panic shows `logs()`.
pub fn queued_id_or(out: &str, logs: &dyn Fn() -> String) -> u32 {
    out.lines()
        .find_map(|l| l.trim().strip_prefix("Job queued. JobId="))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no `Job queued. JobId=` in:\n{out}\n{}", logs()))
}

/// Run a job command and wait for it, however it ends: (JobId, console output of
/// wait+messages).
#[allow(dead_code)] // not every test binary uses every helper
pub fn run_to_end(s: &Setup, cmd: &str) -> (u32, String) {
    let id = queued_id(&console(s, &[cmd]));
    (id, console(s, &[&format!("wait jobid={id}"), "messages"]))
}

/// Run a job command, wait for it, return (JobId, console output of wait+messages).
pub fn run_and_wait(s: &Setup, cmd: &str) -> (u32, String) {
    run_and_wait_with(&|c| console(s, c), cmd, &|| s.daemons.logs())
}

/// `run_and_wait` through any console: `console` runs commands and returns the output.
pub fn run_and_wait_with(
    console: &dyn Fn(&[&str]) -> String,
    cmd: &str,
    logs: &dyn Fn() -> String,
) -> (u32, String) {
    let out = console(&[cmd]);
    let id = queued_id_or(&out, logs);
    let wait = console(&[&format!("wait jobid={id}"), "messages"]);
    assert!(
        wait.contains(&format!("JobId={id}\nJobStatus=OK (T)")),
        "job {id} ({cmd}) did not end OK:\n{out}\n{wait}\n{}",
        logs()
    );
    (id, wait)
}

/// The ` «path»` lines of `list files` (an unframed list, as Bareos prints it).
pub fn file_lines(out: &str) -> Vec<String> {
    out.lines()
        .filter_map(|l| l.strip_prefix(" /"))
        .map(|l| format!("/{l}"))
        .collect()
}

#[derive(Debug, PartialEq)]
pub enum Entry {
    File { mode: u32, mtime: i64, sha: Vec<u8> },
    Dir { mode: u32, mtime: i64 },
    Link(PathBuf),
}

pub fn snapshot(root: &Path) -> BTreeMap<String, Entry> {
    fn walk(root: &Path, p: &Path, out: &mut BTreeMap<String, Entry>) {
        let rel = p
            .strip_prefix(root)
            .expect("under root")
            .to_string_lossy()
            .into_owned();
        let m =
            std::fs::symlink_metadata(p).unwrap_or_else(|e| panic!("lstat {}: {e}", p.display()));
        let e = if m.file_type().is_symlink() {
            Entry::Link(std::fs::read_link(p).expect("readlink"))
        } else if m.is_dir() {
            let mut names: Vec<_> = std::fs::read_dir(p)
                .expect("readdir")
                .map(|e| e.expect("entry").path())
                .collect();
            names.sort();
            for n in names {
                walk(root, &n, out);
            }
            Entry::Dir {
                mode: m.mode() & 0o7777,
                mtime: m.mtime(),
            }
        } else {
            // Content compared in full (small trees); keep it as the "hash".
            Entry::File {
                mode: m.mode() & 0o7777,
                mtime: m.mtime(),
                sha: std::fs::read(p).expect("read"),
            }
        };
        out.insert(rel, e);
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

pub fn assert_same_tree(want: &Path, got: &Path) {
    assert_same_snapshots(&snapshot(want), &snapshot(got), "");
}

/// Panics with the differing entries when `a` (the original) and `b` (the restored tree)
/// differ; `context` (e.g. daemon logs) ends the message.
pub fn assert_same_snapshots(
    a: &BTreeMap<String, Entry>,
    b: &BTreeMap<String, Entry>,
    context: &str,
) {
    let ka: Vec<_> = a.keys().collect();
    let kb: Vec<_> = b.keys().collect();
    assert_eq!(ka, kb, "restored tree has other names\n{context}");
    let diffs: Vec<String> = a
        .iter()
        .filter_map(|(k, va)| {
            let vb = b.get(k)?;
            (va != vb).then(|| format!("{k:?}: {} vs restored {}", short(va), short(vb)))
        })
        .collect();
    assert!(
        diffs.is_empty(),
        "restored entries differ:\n{}\n{context}",
        diffs.join("\n")
    );
}

pub fn short(e: &Entry) -> String {
    match e {
        Entry::File { mode, mtime, sha } => {
            format!("file mode={mode:o} mtime={mtime} len={}", sha.len())
        }
        Entry::Dir { mode, mtime } => format!("dir mode={mode:o} mtime={mtime}"),
        Entry::Link(t) => format!("link -> {}", t.display()),
    }
}

pub fn python() -> PathBuf {
    let py = std::env::var_os("BARQUE_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/pyenv/bin/python")
        });
    assert!(
        py.is_file(),
        "{}: no python with python-bareos (scripts/setup makes target/pyenv; or set \
         BARQUE_PYTHON)",
        py.display()
    );
    py
}

/// The rows under `Client Initiated Connections (waiting for jobs):` of `status dir`.
pub fn waiting_clients(s: &Setup) -> Vec<String> {
    waiting_rows(&console(s, &["status dir"]))
}

/// The rows of the `Client Initiated Connections (waiting for jobs):` block of a `status dir`
/// output (barque-dir's and the real Director's have the same layout).
pub fn waiting_rows(status_dir: &str) -> Vec<String> {
    let Some((_, block)) =
        status_dir.split_once("Client Initiated Connections (waiting for jobs):\n")
    else {
        panic!("no waiting-connections block in status dir:\n{status_dir}");
    };
    block
        .lines()
        .skip(2) // header, separator
        .take_while(|l| !l.starts_with("===="))
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

/// Poll `cond` every 250 ms until it holds; after `limit`, panic with the daemons' logs.
pub fn wait_for(s: &Setup, what: &str, limit: Duration, cond: impl FnMut() -> bool) {
    poll_until(what, limit, &|| s.daemons.logs(), cond)
}

/// Poll `cond` every 250 ms until it holds; after `limit`, panic naming `what`, with
/// `logs()` (whatever the test can show of its daemons).
pub fn poll_until(
    what: &str,
    limit: Duration,
    logs: &dyn Fn() -> String,
    mut cond: impl FnMut() -> bool,
) {
    let t = std::time::Instant::now();
    while t.elapsed() < limit {
        if cond() {
            return;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    panic!("{what}: not seen within {} s\n{}", limit.as_secs(), logs());
}

/// Start a backup of a large sparse file (8 GiB, written as holes) and return its JobId once
/// it is running on the Director; with `on_sd`, also once its data reaches the Storage
/// daemon (`status storage=File` lists a job).
pub fn start_long_backup(s: &Setup, on_sd: bool) -> u32 {
    let f = std::fs::File::create(s.data.join("sparse.img")).expect("create");
    f.set_len(8 << 30).expect("truncate");
    drop(f);
    let id = queued_id(&console(s, &["run job=DemoBackup level=Full yes"]));
    wait_for(
        s,
        "the long backup running",
        Duration::from_secs(60),
        || console(s, &["status dir"]).contains(" is running"),
    );
    if on_sd {
        wait_for(
            s,
            "the long backup writing on the SD",
            Duration::from_secs(60),
            || !console(s, &["status storage=File"]).contains("No Jobs running.\n"),
        );
    }
    std::thread::sleep(Duration::from_millis(500));
    id
}
