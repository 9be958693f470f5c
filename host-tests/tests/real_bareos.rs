//! Live interop with real Bareos daemons (opt-in): real `bareos-dir`, `bareos-sd`,
//! `bareos-fd`, `bconsole` and `bls` started as processes next to Barque's daemons on
//! 127.0.0.1, in every pairing, with TLS-PSK (Bareos' default) and in cleartext.
//!
//! These tests only *use* an already-installed Bareos; nothing here builds it. Without
//! `BAREOS_SBIN` each test prints `SKIPPED: real Bareos not installed (set BAREOS_SBIN)` and
//! passes, so CI (which has no Bareos) does not count them as proof.
//!
//! # Environment
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `BAREOS_SBIN` | directory holding `bareos-dir`, `bareos-sd`, `bareos-fd`, `bconsole`, `bls` | unset: skip |
//! | `BAREOS_DB_HOST` | PostgreSQL server for the real Director's catalog | `127.0.0.1` |
//! | `BAREOS_DB_PORT` | its port | `5432` |
//! | `BAREOS_DB_USER` | a user allowed to `CREATE DATABASE` | `postgres` |
//! | `BAREOS_DB_PASSWORD` | its password | empty |
//! | `BAREOS_DB_TEMPLATE` | a catalog database made with Bareos' own `create_bareos_database`, `make_bareos_tables`, `grant_bareos_privileges`; each scenario copies it (`CREATE DATABASE … TEMPLATE …`) and drops the copy afterwards | `bareos` |
//! | `BAREOS_DEBUG` | debug level (`-d N`) for the real daemons; their output is in the failure message | none |
//!
//! The Barque binaries come from `target/<profile>/` as in `e2e.rs` (`cargo build -p director
//! -p storage -p fd-linux --bins` first, or set `BARQUE_BIN_DIR`).
//!
//! # What a scenario does
//!
//! `barque-dir --init` writes the four configuration files; they are plain Bareos
//! configuration, so the real daemons load them unchanged, except that a real Director gets a
//! PostgreSQL `Catalog`. Then the chosen mix of real and Barque daemons is started, and the
//! real `bconsole` drives the Director: a Full backup, a change (one file modified, one added,
//! one deleted), an Incremental, a restore of `current` that must equal the tree byte for byte
//! (contents, modes, symlink targets, mtimes), one more change and a Differential that must
//! hold everything changed since the Full, an `estimate … listing` and `status client=`.
//! Some scenarios add a cancel of a running backup, the interactive restore dialogue, or run
//! with certificate TLS on every connection (`support::add_certificates`).

#[path = "../../director/tests/common/pg.rs"]
mod pg;
mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use support::{bin as barque_bin, file_lines, free_ports, make_tree, Entry};

const SKIP: &str = "SKIPPED: real Bareos not installed (set BAREOS_SBIN)";

/// The real Bareos binaries, or `None` (after printing the skip notice) when not installed.
fn bareos_sbin() -> Option<PathBuf> {
    match std::env::var_os("BAREOS_SBIN") {
        Some(d) if !d.is_empty() => {
            let d = PathBuf::from(d);
            for b in ["bareos-dir", "bareos-sd", "bareos-fd", "bconsole", "bls"] {
                assert!(
                    d.join(b).is_file(),
                    "BAREOS_SBIN={} has no {b}: point it at the sbin directory of a Bareos \
                     installation",
                    d.display()
                );
            }
            Some(d)
        }
        _ => {
            // Loud on both streams: cargo test captures stdout of passing tests.
            // libtest captures `println!`/`eprintln!` of passing tests, not a direct write.
            println!("{SKIP}");
            let _ = writeln!(std::io::stderr(), "\n*** {SKIP} ***");
            None
        }
    }
}

/// Which implementation runs a daemon.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Impl {
    Real,
    Barque,
}
use Impl::{Barque, Real};

fn wait_port(port: u16, what: &str, logs: &dyn Fn() -> String) {
    if !support::port_listens_within(port, Duration::from_secs(60)) {
        panic!(
            "{what} does not listen on 127.0.0.1:{port} after 60 s\n{}",
            logs()
        );
    }
}

/// PostgreSQL parameters for a real Director's catalog.
struct Db {
    host: String,
    port: u16,
    user: String,
    password: String,
    name: String,
}

impl Db {
    fn from_env(name: String) -> Db {
        let var = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_owned());
        let port = var("BAREOS_DB_PORT", "5432");
        Db {
            host: var("BAREOS_DB_HOST", "127.0.0.1"),
            port: port
                .parse()
                .unwrap_or_else(|_| panic!("BAREOS_DB_PORT={port} is not a port number")),
            user: var("BAREOS_DB_USER", "postgres"),
            password: var("BAREOS_DB_PASSWORD", ""),
            name,
        }
    }

    fn admin(&self) -> postgres::Client {
        postgres::Config::new()
            .host(&self.host)
            .port(self.port)
            .user(&self.user)
            .password(&self.password)
            .dbname("postgres")
            .connect(postgres::NoTls)
            .unwrap_or_else(|e| {
                panic!(
                    "PostgreSQL at {}:{} as {}: {e} (set BAREOS_DB_HOST/PORT/USER/PASSWORD)",
                    self.host, self.port, self.user
                )
            })
    }

    /// A fresh copy of the catalog made by Bareos' scripts.
    fn create(&self) {
        let template = std::env::var("BAREOS_DB_TEMPLATE").unwrap_or_else(|_| "bareos".into());
        let mut c = self.admin();
        let _ = c.batch_execute(&format!("DROP DATABASE IF EXISTS \"{}\"", self.name));
        c.batch_execute(&format!(
            "CREATE DATABASE \"{}\" TEMPLATE \"{template}\"",
            self.name
        ))
        .unwrap_or_else(|e| {
            panic!(
                "CREATE DATABASE {} TEMPLATE {template}: {e} (BAREOS_DB_TEMPLATE must name a \
                 catalog made with Bareos' make_bareos_tables, with no open connections)",
                self.name
            )
        });
    }

    fn catalog_resource(&self) -> String {
        format!(
            "Catalog {{\n  Name = MyCatalog\n  DB Name = \"{}\"\n  DB User = \"{}\"\n  \
             DB Password = \"{}\"\n  DB Address = \"{}\"\n  DB Port = {}\n}}\n",
            self.name, self.user, self.password, self.host, self.port
        )
    }
}

struct Setup {
    sbin: PathBuf,
    work: PathBuf,
    data: PathBuf,
    port: u16,
    dir: Impl,
    sd: Impl,
    fd: Impl,
    children: Vec<(String, Child)>,
    db: Option<Db>,
}

impl Drop for Setup {
    fn drop(&mut self) {
        for (_, c) in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        if let Some(db) = &self.db {
            let _ = db
                .admin()
                .batch_execute(&format!("DROP DATABASE IF EXISTS \"{}\"", db.name));
        }
    }
}

impl Setup {
    fn logs(&self) -> String {
        let mut s = format!(
            "==== Director {:?}, SD {:?}, FD {:?}, ports {}..{} ====\n",
            self.dir,
            self.sd,
            self.fd,
            self.port,
            self.port + 2
        );
        for n in ["dir", "sd", "fd"] {
            let p = self.work.join(format!("log/{n}.out"));
            let text = std::fs::read_to_string(p).unwrap_or_default();
            // The last 200 lines: debug output of real daemons is long.
            let lines: Vec<&str> = text.lines().collect();
            let from = lines.len().saturating_sub(200);
            s.push_str(&format!("---- {n} ----\n{}\n", lines[from..].join("\n")));
        }
        s.push_str(&format!(
            "---- barque.log ----\n{}\n",
            std::fs::read_to_string(self.work.join("log/barque.log")).unwrap_or_default()
        ));
        s
    }

    fn client(&self) -> &'static str {
        "barque-fd"
    }
}

fn workdir(tag: &str) -> PathBuf {
    let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let w = base.join(format!("real-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&w);
    std::fs::create_dir_all(&w).expect("mkdir work");
    w
}

/// Connection options of a scenario.
#[derive(Clone, Copy, Default)]
struct Mode {
    cleartext: bool,
    /// Certificate TLS on every connection ([`support::add_certificates`]): each resource that
    /// connects or accepts gets a certificate, its key, the CA and `TLS Verify Peer = yes`;
    /// the PSK stays configured, and OpenSSL then negotiates certificate TLS (connect.md
    /// §3.7).
    certs: bool,
    /// `Passive = yes` on the Client: the SD dials the FD.
    passive: bool,
    /// `Connection From Client To Director = yes` (and not the other way): the FD dials the
    /// Director and keeps a connection waiting for jobs.
    client_initiated: bool,
}

const PSK: Mode = Mode {
    cleartext: false,
    certs: false,
    passive: false,
    client_initiated: false,
};
const CERTS: Mode = Mode { certs: true, ..PSK };
const CLEAR: Mode = Mode {
    cleartext: true,
    ..PSK
};
const PSK_PASSIVE: Mode = Mode {
    passive: true,
    ..PSK
};
const CERTS_PASSIVE: Mode = Mode {
    passive: true,
    ..CERTS
};
const PSK_CLIENT_INITIATED: Mode = Mode {
    client_initiated: true,
    ..PSK
};
const CERTS_CLIENT_INITIATED: Mode = Mode {
    client_initiated: true,
    ..CERTS
};

fn start(sbin: &Path, tag: &str, dir: Impl, sd: Impl, fd: Impl, mode: Mode) -> Setup {
    let mut s = prepare(sbin, tag, dir, sd, fd, mode);
    launch(&mut s);
    s
}

/// The configurations of a scenario (and its catalog database), nothing started yet.
fn prepare(sbin: &Path, tag: &str, dir: Impl, sd: Impl, fd: Impl, mode: Mode) -> Setup {
    let work = workdir(tag);
    let data = work.join("data");
    make_tree(&data);
    let port = free_ports();
    let mut init = Command::new(barque_bin("barque-dir"));
    init.arg("--init")
        .arg(&work)
        .args(["--port", &port.to_string(), "--fileset"])
        .arg(&data)
        .arg("--where")
        .arg(work.join("restore-default"));
    if mode.cleartext {
        init.arg("--cleartext");
    }
    let out = init.output().expect("barque-dir --init");
    assert!(
        out.status.success(),
        "barque-dir --init failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut s = Setup {
        sbin: sbin.to_path_buf(),
        work: work.clone(),
        data,
        port,
        dir,
        sd,
        fd,
        children: Vec::new(),
        db: None,
    };
    if mode.certs {
        support::add_certificates(&work);
    }
    if mode.passive {
        let conf = work.join("etc/bareos-dir.conf");
        let text = std::fs::read_to_string(&conf).expect("read dir conf");
        let client = "  Catalog = MyCatalog\n}";
        assert!(text.contains(client), "generated Client changed:\n{text}");
        std::fs::write(
            &conf,
            text.replacen(client, "  Catalog = MyCatalog\n  Passive = yes\n}", 1),
        )
        .expect("write dir conf");
    }
    if mode.client_initiated {
        let edit = |file: &str, resource: &str, add: String| {
            let conf = work.join("etc").join(file);
            let text = std::fs::read_to_string(&conf).expect("read conf");
            let at = text
                .find(resource)
                .and_then(|i| text[i..].find('}').map(|j| i + j))
                .unwrap_or_else(|| panic!("no {resource} in {file}:\n{text}"));
            std::fs::write(&conf, format!("{}{add}{}", &text[..at], &text[at..]))
                .expect("write conf");
        };
        edit(
            "bareos-fd.conf",
            "Director {",
            format!(
                "  Address = 127.0.0.1\n  Port = {port}\n  Connection From Client To Director = \
                 yes\n"
            ),
        );
        edit(
            "bareos-dir.conf",
            "Client {",
            "  Connection From Client To Director = yes\n  Connection From Director To Client = \
             no\n"
                .to_owned(),
        );
    }
    if dir == Real {
        let db = Db::from_env(format!(
            "barque_real_{}_{}",
            tag.replace('-', "_"),
            std::process::id()
        ));
        db.create();
        let conf = work.join("etc/bareos-dir.conf");
        let text = std::fs::read_to_string(&conf).expect("read dir conf");
        let sqlite = "Catalog {\n  Name = MyCatalog\n  DB Name = \"barque\"\n  DB User = \
                      \"barque\"\n  DB Password = \"\"\n}\n";
        assert!(text.contains(sqlite), "generated Catalog changed:\n{text}");
        std::fs::write(&conf, text.replace(sqlite, &db.catalog_resource()))
            .expect("write dir conf");
        s.db = Some(db);
    }
    s
}

/// Start the scenario's daemons, the SD first, and wait until each listens.
fn launch(s: &mut Setup) {
    let (sbin, work, port) = (s.sbin.clone(), s.work.clone(), s.port);
    let (dir, sd, fd) = (s.dir, s.sd, s.fd);
    let debug = std::env::var("BAREOS_DEBUG").ok();
    for (name, imp, conf, p) in [
        ("sd", sd, "bareos-sd.conf", port + 2),
        ("fd", fd, "bareos-fd.conf", port + 1),
        ("dir", dir, "bareos-dir.conf", port),
    ] {
        let log = std::fs::File::create(work.join(format!("log/{name}.out"))).expect("log");
        let mut cmd = match imp {
            Real => Command::new(sbin.join(format!("bareos-{name}"))),
            Barque => Command::new(barque_bin(&format!("barque-{name}"))),
        };
        cmd.arg("-c").arg(work.join("etc").join(conf)).arg("-f");
        if imp == Real {
            if let Some(d) = &debug {
                cmd.args(["-d", d]);
            }
        } else {
            // Info lines in the log: what a scenario checks of a barque daemon's path.
            cmd.args(["-d", "1"]);
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log clone"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {imp:?} {name}: {e}"));
        s.children.push((name.into(), child));
        wait_port(p, &format!("{imp:?} {name}"), &|| s.logs());
    }
}

/// Run console commands (one per line) through the real bconsole; returns its output.
fn console(s: &Setup, commands: &[&str]) -> String {
    support::run_console(
        &s.sbin.join("bconsole"),
        &s.work.join("etc/bconsole.conf"),
        commands,
        &|| s.logs(),
    )
}

/// Run a job command, wait for it, return (JobId, console output of wait+messages).
fn run_and_wait(s: &Setup, cmd: &str) -> (u32, String) {
    support::run_and_wait_with(&|c| console(s, c), cmd, &|| s.logs())
}

fn assert_same_tree(s: &Setup, want: &Path, got: &Path) {
    assert_same_tree_dirs(s, want, got, false)
}

/// [`assert_same_tree`]; `loose_dirs`: directory mtimes are not compared (a Virtual
/// Full holds a directory's record from each job joined, and the real FD sets a
/// directory's times when its record arrives, before the later files are restored into it;
/// the all-real run does the same).
fn assert_same_tree_dirs(s: &Setup, want: &Path, got: &Path, loose_dirs: bool) {
    let mut a = support::snapshot(want);
    let mut b = support::snapshot(got);
    if loose_dirs {
        for m in [&mut a, &mut b] {
            for e in m.values_mut() {
                if let Entry::Dir { mtime, .. } = e {
                    *mtime = 0;
                }
            }
        }
    }
    if s.fd == Real {
        // The real FD sets a directory's attributes when its record arrives; the top
        // directory's record comes from the Full's volume, before the Incremental's files
        // are restored into it, so its mtime ends up as the restore time. An all-real run
        // (real Director, SD and FD) does the same; barque-fd sets directory attributes last.
        for m in [&mut a, &mut b] {
            if let Some(Entry::Dir { mtime, .. }) = m.get_mut("") {
                *mtime = 0;
            }
        }
    }
    support::assert_same_snapshots(&a, &b, &s.logs());
}

fn listed_files(s: &Setup, jobid: u32) -> Vec<String> {
    let out = console(s, &[&format!("list files jobid={jobid}")]);
    let mut got: Vec<String> = file_lines(&out)
        .iter()
        .map(|f| {
            f.strip_prefix(&format!("{}/", s.data.display()))
                .unwrap_or(f)
                .to_string()
        })
        .collect();
    got.sort();
    got
}

/// Full, change, Incremental, restore of `current`; returns the Full's JobId.
fn full_incremental_restore(s: &Setup) -> u32 {
    let d = &s.data;
    let (full, msgs) = run_and_wait(s, "run job=DemoBackup level=Full yes");
    assert!(
        msgs.contains("Termination:            Backup OK"),
        "{msgs}\n{}",
        s.logs()
    );
    assert_eq!(
        listed_files(s, full),
        support::TREE_FULL_FILES,
        "list files of the Full"
    );

    support::change_tree(d);

    let (incr, _) = run_and_wait(s, "run job=DemoBackup level=Incremental yes");
    let got = listed_files(s, incr);
    for want in ["hello.txt", "sub/added.txt"] {
        assert!(
            got.iter().any(|g| g == want),
            "the Incremental lacks {want}: {got:?}"
        );
    }
    for not in ["big.bin", "sub/notes.txt", "sub/deep/stay.txt"] {
        assert!(
            !got.iter().any(|g| g == not),
            "the Incremental holds the unchanged {not}: {got:?}"
        );
    }

    let target = s.work.join("restored");
    let (_, msgs) = run_and_wait(
        s,
        &format!(
            "restore client={} fileset=DemoSet where={} select current all done yes",
            s.client(),
            target.display()
        ),
    );
    assert!(
        msgs.contains("Termination:            Restore OK"),
        "{msgs}\n{}",
        s.logs()
    );
    let rel = d.strip_prefix("/").expect("absolute");
    assert_same_tree(s, d, &target.join(rel));
    full
}

fn estimate_and_status(s: &Setup) {
    let out = console(s, &["estimate job=DemoBackup level=Full listing"]);
    assert!(
        out.contains("2000 OK estimate files=") && out.contains("big.bin"),
        "{out}\n{}",
        s.logs()
    );
    let out = console(s, &[&format!("status client={}", s.client())]);
    assert!(
        out.contains(&format!("{} Version:", s.client())),
        "no FD status text: {out}\n{}",
        s.logs()
    );
    let out = console(s, &["status storage=File"]);
    assert!(
        out.contains("Device status:") || out.contains("Device "),
        "no SD status text: {out}\n{}",
        s.logs()
    );
}

/// After [`full_incremental_restore`]: one more file changed, then a Differential holds
/// everything changed since the Full (the Incremental's files too), nothing unchanged.
fn differential(s: &Setup) {
    support::change_after_incremental(&s.data);
    let (diff, msgs) = run_and_wait(s, "run job=DemoBackup level=Differential yes");
    assert!(
        msgs.contains("Termination:            Backup OK")
            && msgs.contains("Backup Level:           Differential"),
        "{msgs}\n{}",
        s.logs()
    );
    let got = listed_files(s, diff);
    for want in ["hello.txt", "sub/added.txt", "sub/deep/stay.txt"] {
        assert!(
            got.iter().any(|g| g == want),
            "the Differential lacks {want}: {got:?}"
        );
    }
    for not in ["big.bin", "sub/notes.txt"] {
        assert!(
            !got.iter().any(|g| g == not),
            "the Differential holds the unchanged {not}: {got:?}"
        );
    }
}

/// A backup canceled through the real bconsole while it writes on the SD: the console shows
/// the FD's reply (`2001 Job … marked to be canceled.`), the job ends Canceled, and the
/// daemons serve the next job.
fn cancel_running_backup(s: &Setup) {
    // A 64 GiB sparse file keeps the FD busy until the cancel.
    let big = s.data.join("sparse.img");
    let f = std::fs::File::create(&big).expect("create");
    f.set_len(64 << 30).expect("truncate");
    drop(f);
    let out = console(s, &["run job=DemoBackup level=Full yes"]);
    let id = support::queued_id_or(&out, &|| s.logs());
    support::poll_until(
        "the long backup writing on the SD",
        Duration::from_secs(60),
        &|| s.logs(),
        || !console(s, &["status storage=File"]).contains("No Jobs running."),
    );
    std::thread::sleep(Duration::from_secs(1));
    let out = console(s, &[&format!("cancel jobid={id}")]);
    assert!(
        out.contains("2001 Job DemoBackup.") && out.contains(" marked to be canceled.\n"),
        "{out}\n{}",
        s.logs()
    );
    let out = console(s, &[&format!("wait jobid={id}")]);
    assert!(
        out.contains(&format!("JobId={id}\nJobStatus=Canceled (A)")),
        "{out}\n{}",
        s.logs()
    );
    std::fs::remove_file(&big).expect("rm sparse.img");
    let (_, msgs) = run_and_wait(s, "run job=DemoBackup level=Incremental yes");
    assert!(
        msgs.contains("Termination:            Backup OK"),
        "after the cancel: {msgs}\n{}",
        s.logs()
    );
}

fn scenario(tag: &str, dir: Impl, sd: Impl, fd: Impl, mode: Mode) -> Option<Setup> {
    let sbin = bareos_sbin()?;
    let s = start(&sbin, tag, dir, sd, fd, mode);
    let v = console(&s, &["version"]);
    assert!(v.contains("Version:"), "{v}\n{}", s.logs());
    full_incremental_restore(&s);
    differential(&s);
    estimate_and_status(&s);
    Some(s)
}

/// The file lines of the real `bls` and of `barque-bls` for volume `vol` of this setup, with
/// the program names taken off (`JobId n: …`), and the real one's whole output.
fn bls_both(s: &Setup, vol: &str) -> (Vec<String>, Vec<String>, String) {
    let real = Command::new(s.sbin.join("bls"))
        .arg("-c")
        .arg(s.work.join("etc/bareos-sd.conf"))
        .args(["-V", vol, "FileStorage"])
        .output()
        .expect("run bls");
    let ours = Command::new(barque_bin("barque-bls"))
        .args(["-V", vol])
        .arg(s.work.join("volumes"))
        .output()
        .expect("run barque-bls");
    let real_text = String::from_utf8_lossy(&real.stdout).into_owned();
    let files = |text: &str, prog: &str| -> Vec<String> {
        text.lines()
            .filter_map(|l| l.strip_prefix(prog))
            .filter(|l| l.starts_with("JobId "))
            .map(str::to_owned)
            .collect()
    };
    let theirs = files(&real_text, "bls ");
    let ours = files(&String::from_utf8_lossy(&ours.stdout), "barque-bls ");
    (theirs, ours, real_text)
}

// 1. real bareos-dir + real bareos-sd + barque-fd; barque-bls reads the real SD's volume;
// the real Director cancels a backup on barque-fd.
#[test]
fn real_dir_real_sd_barque_fd_tls_psk() {
    let Some(s) = scenario("rrb-psk", Real, Real, Barque, PSK) else {
        return;
    };
    cancel_running_backup(&s);
    let (theirs, ours, text) = bls_both(&s, "Vol-0001");
    assert_eq!(
        theirs.len(),
        11,
        "real bls on the real SD's volume:\n{text}"
    );
    assert_eq!(
        ours, theirs,
        "barque-bls and bls list the real SD's volume differently"
    );
}

#[test]
fn real_dir_real_sd_barque_fd_cleartext() {
    scenario("rrb-clear", Real, Real, Barque, CLEAR);
}

// 2. barque-dir + barque-sd + real bareos-fd (and 3: the real bconsole drives barque-dir);
// barque-dir cancels a backup on the real FD.
#[test]
fn barque_dir_barque_sd_real_fd_tls_psk() {
    let Some(s) = scenario("bbr-psk", Barque, Barque, Real, PSK) else {
        return;
    };
    cancel_running_backup(&s);
}

#[test]
fn barque_dir_barque_sd_real_fd_cleartext() {
    scenario("bbr-clear", Barque, Barque, Real, CLEAR);
}

// 3. the real bconsole against barque-dir (all Barque daemons).
#[test]
fn real_bconsole_barque_dir() {
    let Some(s) = scenario("bbb-psk", Barque, Barque, Barque, PSK) else {
        return;
    };
    let out = console(&s, &["status dir", "list jobs", "list joblog jobid=1"]);
    assert!(
        out.contains("Terminated Jobs:") && out.contains("DemoBackup"),
        "{out}\n{}",
        s.logs()
    );
    // The first job's messages, as the real bconsole shows a raw listing.
    assert!(
        out.contains("Backup OK") && out.contains(" JobId 1: "),
        "{out}\n{}",
        s.logs()
    );

    // An interactive restore, every question answered through the real bconsole: the JobId
    // menu (5: the most recent backup), file selection mode, `OK to run?`.
    let target = s.work.join("restored-marked");
    let out = console(
        &s,
        &[
            &format!(
                "restore client=barque-fd fileset=DemoSet where={}",
                target.display()
            ),
            "5",
            &format!("cd {}", s.data.display()),
            "mark hello.txt",
            "cd sub",
            "mark notes.txt",
            "lsmark",
            "done",
            "yes",
        ],
    );
    for want in [
        "Select item:  (1-13): ",
        "You are now entering file selection mode",
        "1 file newly marked.",
        "2 files selected to be restored.",
        "OK to run? (yes/mod/no): ",
    ] {
        assert!(
            out.contains(want),
            "missing {want:?} in:\n{out}\n{}",
            s.logs()
        );
    }
    let id = support::queued_id_or(&out, &|| s.logs());
    let w = console(&s, &[&format!("wait jobid={id}")]);
    assert!(w.contains("JobStatus=OK (T)"), "{w}\n{}", s.logs());
    let got = target.join(s.data.strip_prefix("/").expect("absolute"));
    for f in ["hello.txt", "sub/notes.txt"] {
        assert_eq!(
            std::fs::read(got.join(f)).ok(),
            std::fs::read(s.data.join(f)).ok(),
            "{f} restored through the real bconsole's dialogue\n{out}"
        );
    }
    assert!(
        !got.join("sub/added.txt").exists() && !got.join("big.bin").exists(),
        "only the marked files come back"
    );
}

// Certificate TLS (CA-signed certificates, verify peer on both ends) on every connection:
// the real Director and SD with barque-fd, and barque-dir and barque-sd with the real FD
// (the real bconsole in both).
#[test]
fn real_dir_real_sd_barque_fd_certificates() {
    let Some(s) = scenario("rrb-cert", Real, Real, Barque, CERTS) else {
        return;
    };
    assert_certificate_tls(&s);
}

#[test]
fn barque_dir_barque_sd_real_fd_certificates() {
    let Some(s) = scenario("bbr-cert", Barque, Barque, Real, CERTS) else {
        return;
    };
    assert_certificate_tls(&s);
}

/// The console's connection is certificate TLS (not TLS-PSK: a PSK suite would show
/// `TLS_CHACHA20_POLY1305_SHA256`, connect.md §3.7).
fn assert_certificate_tls(s: &Setup) {
    let out = console(s, &["version"]);
    assert!(
        out.contains("Encryption: TLS_AES_256_GCM_SHA384 TLSv1.3"),
        "{out}\n{}",
        s.logs()
    );
}

// 4. real bareos-dir + barque-sd + real bareos-fd; the real bls reads barque-sd's volumes;
// then the real Director cancels a backup that writes on barque-sd.
#[test]
fn real_dir_barque_sd_real_fd_tls_psk() {
    let Some(s) = scenario("rbr-psk", Real, Barque, Real, PSK) else {
        return;
    };
    // The Full's 11 entries; the Incremental's changed ones.
    for (vol, n) in [("Vol-0001", 11..=11), ("Vol-0002", 3..=6)] {
        let (theirs, ours, text) = bls_both(&s, vol);
        assert!(
            n.contains(&theirs.len()),
            "real bls on barque-sd's {vol}:\n{text}"
        );
        assert_eq!(
            ours, theirs,
            "barque-bls and bls list barque-sd's {vol} differently"
        );
    }
    cancel_running_backup(&s);
}

// 4b. A Full that fills volumes: the real Director's Pool limits each volume to 2,500,000
// bytes (`Maximum Volume Bytes`; both SDs write 1 MiB blocks, Bareos' default for disk) and
// the tree gets a 10 MB file, so barque-sd switches volumes mid-job again and again,
// asking the real Director for each next volume and reporting the JobMedia of each part;
// then the real FD restores the tree from barque-sd across all of them. The same with the
// real SD writing and barque-fd reading is the control.
#[test]
fn real_dir_barque_sd_real_fd_volume_switching() {
    volume_switching("rbr-vols", Barque, Real);
}

#[test]
fn real_dir_real_sd_barque_fd_volume_switching() {
    volume_switching("rrb-vols", Real, Barque);
}

fn volume_switching(tag: &str, sd: Impl, fd: Impl) {
    let Some(sbin) = bareos_sbin() else {
        return;
    };
    let mut s = prepare(&sbin, tag, Real, sd, fd, PSK);
    let conf = s.work.join("etc/bareos-dir.conf");
    let text = std::fs::read_to_string(&conf).expect("read dir conf");
    let limit = "  Maximum Volume Jobs = 1\n";
    assert!(text.contains(limit), "generated Pool changed:\n{text}");
    std::fs::write(
        &conf,
        text.replacen(limit, "  Maximum Volume Bytes = 2500000\n", 1),
    )
    .expect("write dir conf");
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let video: Vec<u8> = (0..10_000_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    std::fs::write(s.data.join("video.bin"), video).expect("write video.bin");
    launch(&mut s);
    let (full, msgs) = run_and_wait(&s, "run job=DemoBackup level=Full yes");
    assert!(
        msgs.contains("Termination:            Backup OK"),
        "{msgs}\n{}",
        s.logs()
    );
    // The report names every volume the job wrote (`Volume name(s): Vol-0001|Vol-0002|…`).
    let names = msgs
        .lines()
        .find_map(|l| l.trim().strip_prefix("Volume name(s):"))
        .map(|v| v.trim().split('|').count())
        .unwrap_or(0);
    assert!(
        names >= 4,
        "2 MB in 500 kB volumes: {names} volumes\n{msgs}"
    );
    let media = console(&s, &[&format!("list jobmedia jobid={full}")]);
    assert!(
        media.matches("Vol-").count() >= names,
        "one JobMedia per volume at least:\n{media}\n{}",
        s.logs()
    );
    // The real bls and barque-bls list the job across all its volumes alike (`-V "A|B|…"`).
    let vols = msgs
        .lines()
        .find_map(|l| l.trim().strip_prefix("Volume name(s):"))
        .map(|v| v.trim().to_string())
        .unwrap_or_default();
    let (theirs, ours, text) = bls_both(&s, &vols);
    assert!(theirs.len() >= 12, "real bls over {vols}:\n{text}");
    assert_eq!(ours, theirs, "barque-bls and bls list {vols} differently");
    restore_and_compare(&s, "fileset=DemoSet select current", "restored", "");
}

// 4c. A Copy job (`Selection Type = PoolUncopiedJobs`, the Pool's `Next Pool` on a second
// Storage of the same SD) run by the real Director, in both of its forms: with the second
// Storage naming the SD by host name (`localhost`) the real Director copies SD to SD
// (barque-sd reads the Full and writes the copy to itself over `replicate`/`listen`); with
// both Storages on one address it copies within the SD (one connection, a read and a write
// reservation). The real FD restores from the copy. The real SD is the control.
#[test]
fn real_dir_barque_sd_real_fd_copy() {
    copy_job("rbr-copy", Barque, Real, true);
}

#[test]
fn real_dir_real_sd_barque_fd_copy() {
    copy_job("rrb-copy", Real, Barque, false);
}

#[test]
fn real_dir_barque_sd_real_fd_copy_within_one_sd() {
    copy_job("rbr-copy1", Barque, Real, false);
}

#[test]
fn real_dir_barque_sd_barque_fd_migrate_within_one_sd() {
    copy_or_migrate("rbb-migr1", Real, Barque, Barque, false, true);
}

// barque-dir drives the real SD's copy and migrate within the daemon (one connection,
// read and write reservations; the real SD books nothing itself, barque-dir books the
// JobMedia and files to the new job).
#[test]
fn barque_dir_real_sd_barque_fd_copy_within_one_sd() {
    copy_or_migrate("brb-copy1", Barque, Real, Barque, false, false);
}

#[test]
fn barque_dir_real_sd_real_fd_migrate_within_one_sd() {
    copy_or_migrate("brr-migr1", Barque, Real, Real, false, true);
}

// 4d. A Virtual Full by the real Director on barque-sd: the Full and an Incremental are
// read from the Pool's Storage and joined into one new Full on the Next Pool's Storage of
// the same SD (one connection, read and write reservations, FileIndexes renumbered); the
// real FD restores the Virtual Full alone and gets the current tree.
#[test]
fn real_dir_barque_sd_real_fd_virtual_full() {
    virtual_full("rbr-vfull", Real, Barque, Real);
}

// barque-fd restores the real Director's Virtual Full from barque-sd (the records'
// FileIndexes renumbered in their headers only, as bareos-sd does).
#[test]
fn real_dir_barque_sd_barque_fd_virtual_full() {
    virtual_full("rbb-vfull", Real, Barque, Barque);
}

#[test]
fn real_dir_real_sd_real_fd_virtual_full() {
    virtual_full("rrr-vfull", Real, Real, Real);
}

// barque-dir's Virtual Full on the real SD (the bootstrap of the newest versions, the read
// and write reservations, the catalog bookkeeping), restored by the real FD.
#[test]
fn barque_dir_real_sd_real_fd_virtual_full() {
    virtual_full("brr-vfull", Barque, Real, Real);
}

fn virtual_full(tag: &str, dir: Impl, sd: Impl, fd: Impl) {
    let Some(s) = copy_setup(tag, dir, sd, fd, false) else {
        return;
    };
    let (_, msgs) = run_and_wait(&s, "run job=DemoBackup level=Full yes");
    assert!(
        msgs.contains("Termination:            Backup OK"),
        "{msgs}\n{}",
        s.logs()
    );
    support::change_after_incremental(&s.data);
    let (_, msgs) = run_and_wait(&s, "run job=DemoBackup level=Incremental yes");
    assert!(
        msgs.contains("Termination:            Backup OK"),
        "{msgs}\n{}",
        s.logs()
    );
    let (vfull, msgs) = run_and_wait(&s, "run job=DemoBackup level=VirtualFull yes");
    assert!(
        msgs.contains("Termination:            Backup OK") && msgs.contains("Virtual Full"),
        "{msgs}\n{}",
        s.logs()
    );
    restore_and_compare_dirs(
        &s,
        &format!("jobid={vfull}"),
        "restored-vfull",
        "Using Device \"FileStorage2\" to read.",
        true,
    );
}

/// Started daemons with the copy configuration ([`support::copy_dir_conf`]); `remote`: the
/// second Storage names the SD as `localhost` (the Director then copies SD to SD).
fn copy_setup(tag: &str, dir: Impl, sd: Impl, fd: Impl, remote: bool) -> Option<Setup> {
    let sbin = bareos_sbin()?;
    let mut s = prepare(&sbin, tag, dir, sd, fd, PSK);
    let dir = |t: String| {
        if remote {
            support::copy_dir_conf_sd_to_sd(t)
        } else {
            support::copy_dir_conf(t)
        }
    };
    let edits: [(&str, &dyn Fn(String) -> String); 2] = [
        ("bareos-dir.conf", &dir),
        ("bareos-sd.conf", &support::copy_sd_conf),
    ];
    for (file, edit) in edits {
        let conf = s.work.join("etc").join(file);
        let text = std::fs::read_to_string(&conf).expect("read conf");
        std::fs::write(&conf, edit(text)).expect("write conf");
    }
    launch(&mut s);
    Some(s)
}

fn copy_job(tag: &str, sd: Impl, fd: Impl, remote: bool) {
    copy_or_migrate(tag, Real, sd, fd, remote, false)
}

/// [`copy_job`], or with `migrate` the `MigrateJob`: the new job holds the Full's files and
/// restores from the Next Pool's Storage.
fn copy_or_migrate(tag: &str, dir: Impl, sd: Impl, fd: Impl, remote: bool, migrate: bool) {
    let (job, word) = if migrate {
        ("MigrateJob", "Migration")
    } else {
        ("CopyJob", "Copying")
    };
    let Some(s) = copy_setup(tag, dir, sd, fd, remote) else {
        return;
    };
    let (full, msgs) = run_and_wait(&s, "run job=DemoBackup level=Full yes");
    assert!(
        msgs.contains("Termination:            Backup OK"),
        "{msgs}\n{}",
        s.logs()
    );
    let full_files = listed_files(&s, full);
    // The Migrate job names the Full (bareos-dir allows `PoolUncopiedJobs` for copies only).
    let pick = if migrate {
        format!(" jobid={full}")
    } else {
        String::new()
    };
    let (_, mut msgs) = run_and_wait(&s, &format!("run job={job}{pick} yes"));
    // bareos-dir's control job queues the copying job ("Copying JobId N started."), whose
    // report names the new job; wait for every job, then read the messages.
    msgs.push_str(&console(&s, &["wait", "messages"]));
    assert!(
        msgs.matches(&format!("Termination:            {word} OK"))
            .count()
            >= 1
            && !msgs.contains(&format!("*** {word} Error ***")),
        "{msgs}\n{}",
        s.logs()
    );
    if sd == Barque {
        // The form the Director chose: SD to SD, or within the SD.
        let sd_log = std::fs::read_to_string(s.work.join("log/sd.out")).unwrap_or_default();
        assert_eq!(
            sd_log.contains("connected to the writing Storage daemon"),
            remote,
            "{}",
            s.logs()
        );
    }
    let copy: u32 = msgs
        .lines()
        .find_map(|l| l.trim().strip_prefix("New Backup JobId:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no New Backup JobId in:\n{msgs}"));
    assert_ne!(copy, full);
    assert_eq!(
        listed_files(&s, copy),
        full_files,
        "the new job lists the Full's files"
    );
    // The restore must read the copy's volume.
    restore_and_compare(
        &s,
        &format!("jobid={copy}"),
        "restored-copy",
        "Using Device \"FileStorage2\" to read.",
    );
}

/// `restore client=… «what» where=«work»/«dir» all done yes` through the real bconsole: the
/// restore ends OK, its messages hold `also`, and the restored tree equals the data.
fn restore_and_compare(s: &Setup, what: &str, dir: &str, also: &str) {
    restore_and_compare_dirs(s, what, dir, also, false)
}

/// [`restore_and_compare`]; `loose_dirs` as in [`assert_same_tree_dirs`].
fn restore_and_compare_dirs(s: &Setup, what: &str, dir: &str, also: &str, loose_dirs: bool) {
    let target = s.work.join(dir);
    let (_, msgs) = run_and_wait(
        s,
        &format!(
            "restore client={} {what} where={} all done yes",
            s.client(),
            target.display()
        ),
    );
    assert!(
        msgs.contains("Termination:            Restore OK") && msgs.contains(also),
        "{msgs}\n{}",
        s.logs()
    );
    let rel = s.data.strip_prefix("/").expect("absolute");
    assert_same_tree_dirs(s, &s.data, &target.join(rel), loose_dirs);
}

// 5. barque-dir + real bareos-sd + barque-fd.
#[test]
fn barque_dir_real_sd_barque_fd_tls_psk() {
    scenario("brb-psk", Barque, Real, Barque, PSK);
}

// 6. passive clients (the SD dials the FD), TLS-PSK.
#[test]
fn passive_real_dir_real_sd_barque_fd() {
    scenario("rrb-passive", Real, Real, Barque, PSK_PASSIVE);
}

#[test]
fn passive_barque_dir_real_sd_barque_fd() {
    scenario("brb-passive", Barque, Real, Barque, PSK_PASSIVE);
}

#[test]
fn passive_barque_dir_barque_sd_real_fd() {
    scenario("bbr-passive", Barque, Barque, Real, PSK_PASSIVE);
}

// Passive clients with certificate TLS: barque-sd dials the real FD, the real SD dials
// barque-fd; each presents its own Storage resource's certificate.
#[test]
fn passive_barque_dir_barque_sd_real_fd_certificates() {
    let Some(s) = scenario("bbr-pcert", Barque, Barque, Real, CERTS_PASSIVE) else {
        return;
    };
    assert_certificate_tls(&s);
}

#[test]
fn passive_real_dir_real_sd_barque_fd_certificates() {
    let Some(s) = scenario("rrb-pcert", Real, Real, Barque, CERTS_PASSIVE) else {
        return;
    };
    assert_certificate_tls(&s);
}

// 6. client-initiated: barque-fd dials the real Director (no connection the other way).
#[test]
fn client_initiated_real_dir_real_sd_barque_fd() {
    client_initiated("rrb-ci", Real, Real, Barque, PSK_CLIENT_INITIATED);
}

// The same two with certificate TLS: the dialling FD presents its Director resource's
// certificate and checks the Director's.
#[test]
fn client_initiated_real_dir_real_sd_barque_fd_certificates() {
    client_initiated("rrb-cicert", Real, Real, Barque, CERTS_CLIENT_INITIATED);
}

#[test]
fn client_initiated_barque_dir_barque_sd_real_fd_certificates() {
    client_initiated("bbr-cicert", Barque, Barque, Real, CERTS_CLIENT_INITIATED);
}

/// A scenario over client-initiated connections; `status dir` lists the waiting FD.
fn client_initiated(tag: &str, dir: Impl, sd: Impl, fd: Impl, mode: Mode) {
    let Some(s) = scenario(tag, dir, sd, fd, mode) else {
        return;
    };
    if mode.certs {
        assert_certificate_tls(&s);
    }
    let out = console(&s, &["status dir"]);
    assert!(
        out.contains("Client Initiated Connections (waiting for jobs):")
            && out.contains("barque-fd"),
        "{out}\n{}",
        s.logs()
    );
}

// 6. client-initiated the other way: the real bareos-fd dials barque-dir, which parks the
// connection, lists it and runs the jobs over it.
#[test]
fn client_initiated_barque_dir_barque_sd_real_fd() {
    client_initiated("bbr-ci", Barque, Barque, Real, PSK_CLIENT_INITIATED);
}

// 8. The embedded FD (the QEMU firmware, boards/qemu-mps2) with the real Director and the
// real SD: client-initiated TLS-PSK, the Storage's Lan Address, a Full backup of the
// device's partitions, a bad local update, a restore of slot B (the scenario of
// qemu_daemons.rs; barque-bls checks the real SD's volume). Then the same in passive mode:
// the real SD dials the device (QEMU forwards a host port to its FD port) with TLS-PSK.
#[test]
fn qemu_firmware_real_dir_real_sd() {
    qemu_firmware_real(None);
}

#[test]
fn qemu_firmware_passive_real_dir_real_sd() {
    qemu_firmware_real(Some(support::free_port()));
}

fn qemu_firmware_real(passive: Option<u16>) {
    let Some(sbin) = bareos_sbin() else {
        return;
    };
    let elf = support::qemu::firmware();
    let password = support::qemu::device_password();
    let tag = if passive.is_some() {
        "qemu-rr-passive"
    } else {
        "qemu-rr"
    };
    let mut s = prepare(&sbin, tag, Real, Real, Barque, PSK);
    let conf = s.work.join("etc/bareos-dir.conf");
    let text = std::fs::read_to_string(&conf).expect("read dir conf");
    std::fs::write(
        &conf,
        support::qemu::device_dir_conf(text, &password, passive),
    )
    .expect("write dir conf");
    launch(&mut s);
    support::qemu::device_scenario(&support::qemu::Device {
        elf: &elf,
        password: &password,
        director: "barque-dir",
        port: s.port,
        console: &|c| console(&s, c),
        logs: &|| s.logs(),
        volumes: &s.work.join("volumes"),
        work: &s.work,
        passive,
    });
}
