//! The QEMU firmware (boards/qemu-mps2) as a File daemon for the whole-system tests
//! (qemu_daemons.rs against barque-dir and barque-sd, real_bareos.rs against the real
//! daemons): building it, what it provisions, running it and reading its console.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::Digest as _;

/// What `list files` shows of a Full backup of the device's partitions (the QEMU firmware
/// and the simulated device provision the same ones).
pub const DEVICE_FILES: [&str; 5] = [
    "/data/",
    "/data/config.bin",
    "/firmware/",
    "/firmware/slot-a.bin",
    "/firmware/slot-b.bin",
];

/// Build boards/qemu-mps2 (once per test binary) and return its ELF.
pub fn firmware() -> PathBuf {
    static BUILD: std::sync::Once = std::sync::Once::new();
    let board = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../boards/qemu-mps2"));
    BUILD.call_once(|| {
        let build = Command::new(env!("CARGO"))
            .args(["build", "--release", "--locked"])
            .current_dir(&board)
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_TARGET_DIR")
            .status()
            .expect("cargo build of boards/qemu-mps2");
        assert!(build.success(), "boards/qemu-mps2 does not build");
    });
    board.join("target/thumbv7em-none-eabihf/release/barque-qemu-mps2")
}

/// `qemu-system-arm` booting `elf` on mps2-an386 with `append` as its command line, the
/// semihosting console on stdout, and QEMU's user network (the host is 10.0.2.2) when
/// `network`.
pub fn qemu_command(elf: &Path, append: &str, network: bool) -> Command {
    let mut c = Command::new("qemu-system-arm");
    c.args(["-M", "mps2-an386", "-nographic", "-monitor", "none"]);
    if network {
        c.args(["-nic", "user"]);
    }
    c.args(["-semihosting-config", "enable=on,target=native", "-kernel"])
        .arg(elf)
        .args(["-append", append]);
    c
}

/// The images the firmware provisions and writes (its `image()` xorshift).
pub fn image(seed: u32, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

pub fn sha256_hex(b: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(b))
}

/// What the firmware provisions: slot A, slot B, the configuration partition.
pub fn slot_a() -> Vec<u8> {
    image(1, 12_000)
}
pub fn slot_b() -> Vec<u8> {
    image(2, 12_000)
}
pub const CONFIG: &[u8] = b"director=10.0.2.2:9101\n";
/// What its `bad-update` writes to slot B.
pub fn bad_update() -> Vec<u8> {
    image(99, 10_000)
}

/// QEMU running the firmware; its semihosting output collected by a thread.
pub struct Qemu {
    child: Child,
    out: Arc<Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Qemu {
    /// Boot `elf` with `append` on QEMU's user network; `fd_port`: forward this host port
    /// (127.0.0.1) to the device's FD port 9102, for a Storage daemon dialling the device.
    pub fn start(elf: &Path, append: &str, fd_port: Option<u16>) -> Qemu {
        let mut cmd = qemu_command(elf, append, fd_port.is_none());
        if let Some(p) = fd_port {
            cmd.args(["-nic", &format!("user,hostfwd=tcp:127.0.0.1:{p}-:9102")]);
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("qemu-system-arm (apt-get install qemu-system-arm)");
        let stdout = child.stdout.take().expect("QEMU's stdout");
        let out = Arc::new(Mutex::new(String::new()));
        let sink = out.clone();
        let reader = std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let mut o = sink.lock().unwrap_or_else(|e| e.into_inner());
                o.push_str(&line);
                o.push('\n');
            }
        });
        Qemu {
            child,
            out,
            reader: Some(reader),
        }
    }

    pub fn text(&self) -> String {
        self.out.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Poll the output until `cond` holds; panics with the output and `logs()` (the
    /// daemons') after `limit`.
    pub fn wait_for(
        &mut self,
        logs: &dyn Fn() -> String,
        what: &str,
        limit: Duration,
        cond: impl Fn(&str) -> bool,
    ) {
        let t = Instant::now();
        loop {
            let text = self.text();
            if cond(&text) {
                return;
            }
            let exited = self.child.try_wait().ok().flatten();
            assert!(
                t.elapsed() < limit && exited.is_none(),
                "{what}: not seen within {} s (QEMU exit status {exited:?}); firmware said:\n\
                 {text}\n{}",
                limit.as_secs(),
                logs()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Wait (up to `limit`) for the firmware to exit QEMU; returns its exit status.
    pub fn wait_exit(
        &mut self,
        logs: &dyn Fn() -> String,
        limit: Duration,
    ) -> std::process::ExitStatus {
        let t = Instant::now();
        loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                if let Some(r) = self.reader.take() {
                    let _ = r.join();
                }
                return st;
            }
            assert!(
                t.elapsed() < limit,
                "the firmware did not exit within {} s; it said:\n{}\n{}",
                limit.as_secs(),
                self.text(),
                logs()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Qemu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `STATE …` lines the firmware printed after `marker`, once their block is complete
/// (`STATE end`).
pub fn state_after(text: &str, marker: &str) -> Option<Vec<String>> {
    let (_, rest) = text.split_once(marker)?;
    let mut lines = Vec::new();
    for l in rest.lines().skip(1) {
        if l == "STATE end" {
            return Some(lines);
        }
        if !l.starts_with("STATE ") {
            break;
        }
        lines.push(l.to_string());
    }
    None
}

/// [`state_after`] of a finished output: panics when the block is missing.
pub fn state_block(text: &str, marker: &str) -> Vec<String> {
    state_after(text, marker)
        .unwrap_or_else(|| panic!("no complete STATE block after {marker:?} in:\n{text}"))
}

/// The device's Client, a FileSet of its partitions and a Full backup Job; `Lan Address` on
/// the Storage (the host as the guest sees it) and on the Client. `passive`: the host port
/// QEMU forwards to the device's FD port; the Client is then `Passive = yes` at
/// 127.0.0.1:«port» (where the SD reaches the device) and has no Lan Address (which the
/// Director would give the SD instead).
pub fn device_dir_conf(t: String, password: &str, passive: Option<u16>) -> String {
    // The Director reaches the SD by a host name, which the firmware (no DNS, IPv4
    // literals only) cannot use: only the Lan Address gets the device to the SD.
    let storage = "Storage {\n  Name = File\n  Address = 127.0.0.1\n";
    assert!(t.contains(storage), "{t}");
    let mut t = t.replacen(
        storage,
        "Storage {\n  Name = File\n  Address = localhost\n  Lan Address = 10.0.2.2\n",
        1,
    );
    let client_address = match passive {
        None => "  Address = 10.0.2.15\n  Lan Address = 10.0.2.15\n".to_string(),
        Some(p) => format!("  Address = 127.0.0.1\n  FD Port = {p}\n  Passive = yes\n"),
    };
    t.push_str(&format!(
        r#"
Client {{
  Name = qemu-fd
{client_address}  Password = "{password}"
  Catalog = MyCatalog
  Connection From Client To Director = yes
  Connection From Director To Client = no
}}

FileSet {{
  Name = "DeviceSet"
  Include {{
    Options {{
      Signature = SHA256
    }}
    File = "/firmware"
    File = "/data"
  }}
}}

Job {{
  Name = "DeviceBackup"
  Type = Backup
  Level = Full
  Client = qemu-fd
  FileSet = "DeviceSet"
  Storage = File
  Pool = Full
  Messages = Standard
}}
"#
    ));
    t
}

/// A 16-byte random password for the device's Client, as hex.
pub fn device_password() -> String {
    let mut pw = [0u8; 16];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut pw);
    hex::encode(pw)
}

/// Where the device scenario runs: a Director configured with [`device_dir_conf`] (whose
/// name is `director`, listening on `port`) and its Storage daemon writing into `volumes`.
pub struct Device<'a> {
    /// The firmware.
    pub elf: &'a Path,
    /// The device Client's password.
    pub password: &'a str,
    /// The Director's name.
    pub director: &'a str,
    /// The Director's port on the host.
    pub port: u16,
    /// Runs console commands (one per line), returns the output.
    pub console: &'a dyn Fn(&[&str]) -> String,
    /// The daemons' logs, for failure messages.
    pub logs: &'a dyn Fn() -> String,
    /// The Storage daemon's volume directory.
    pub volumes: &'a Path,
    /// A scratch directory.
    pub work: &'a Path,
    /// Passive mode: the host port forwarded to the device's FD port (the Director's
    /// configuration must come from `device_dir_conf(…, Some(port))`).
    pub passive: Option<u16>,
}

/// The device scenario (see qemu_daemons.rs): boot the firmware, which dials the Director
/// and waits; a Full backup of its partitions; the volume holds exactly its images; a bad
/// local update of slot B; a restore of slot B; the device's state after it.
pub fn device_scenario(d: &Device<'_>) {
    // The firmware: the Director's port, 32 bytes of entropy (the board has no RNG), its
    // identity, two sessions (the backup, the restore) and a bad local update in between.
    let mut seed = [0u8; 32];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut seed);
    let append = format!(
        "{} seed={} name=qemu-fd dir={} password={} sessions=2 bad-update",
        d.port,
        hex::encode(seed),
        d.director,
        d.password
    );
    let mut qemu = Qemu::start(d.elf, &append, d.passive);
    // Failure messages carry the daemons' logs and what the firmware said so far.
    let said = qemu.out.clone();
    let logs_and_firmware = move || {
        format!(
            "{}\n---- firmware ----\n{}",
            (d.logs)(),
            said.lock().unwrap_or_else(|e| e.into_inner())
        )
    };
    let logs: &dyn Fn() -> String = &logs_and_firmware;
    super::poll_until(
        "the firmware's client-initiated connection waiting in the Director",
        Duration::from_secs(90),
        logs,
        || {
            super::waiting_rows(&(d.console)(&["status dir"]))
                .iter()
                .any(|r| r.trim_end().ends_with("qemu-fd"))
        },
    );
    let text = qemu.text();
    assert!(
        text.contains("net: TLS-PSK") && text.contains("RESULT=ok"),
        "{text}"
    );

    // 1. Full backup of the partitions.
    let (full, msgs) =
        super::run_and_wait_with(d.console, "run job=DeviceBackup level=Full yes", logs);
    assert!(
        msgs.contains("Termination:            Backup OK")
            && msgs.contains("Using Client Initiated Connection (qemu-fd)."),
        "{msgs}\n{}\n{}",
        qemu.text(),
        logs()
    );
    let mut files = super::file_lines(&(d.console)(&[&format!("list files jobid={full}")]));
    files.sort();
    assert_eq!(
        files, DEVICE_FILES,
        "the catalog lists the device's partitions"
    );
    // The volume holds exactly what the firmware provisioned.
    let vols: Vec<PathBuf> = std::fs::read_dir(d.volumes)
        .expect("volumes")
        .map(|e| e.expect("volume entry").path())
        .collect();
    assert_eq!(vols.len(), 1, "{vols:?}");
    let ex = d.work.join("extracted");
    let out = Command::new(super::bin("barque-bls"))
        .arg("--extract")
        .arg("-w")
        .arg(&ex)
        .arg(&vols[0])
        .output()
        .expect("barque-bls");
    assert!(
        out.status.success(),
        "barque-bls --extract {}: {}{}",
        vols[0].display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let read = |p: &str| std::fs::read(ex.join(p)).unwrap_or_else(|e| panic!("extracted {p}: {e}"));
    assert!(
        read("firmware/slot-a.bin") == slot_a(),
        "slot A on the volume"
    );
    assert!(
        read("firmware/slot-b.bin") == slot_b(),
        "slot B on the volume"
    );
    assert_eq!(read("data/config.bin"), CONFIG, "config on the volume");

    // 2. The firmware's bad local update of slot B, after the backup session.
    let done = format!("NET=ok JobId={full} files=5 errors=0");
    qemu.wait_for(
        logs,
        "the backup session's end and the bad update",
        Duration::from_secs(60),
        |t| t.contains(&done) && state_after(t, "ok: bad local update of slot B").is_some(),
    );
    let text = qemu.text();
    let after = state_block(&text, "ok: bad local update of slot B");
    assert!(
        after.contains(&format!(
            "STATE part1 len=10000 sha256={}",
            sha256_hex(&bad_update())
        )),
        "slot B overwritten on the device: {after:?}\n{text}"
    );

    // 3. Restore slot B from the Full.
    let (restore, msgs) = super::run_and_wait_with(
        d.console,
        &format!(
            "restore client=qemu-fd fileset=DeviceSet jobid={full} where=/ \
             file=/firmware/slot-b.bin yes"
        ),
        logs,
    );
    assert!(
        msgs.contains("Termination:            Restore OK")
            && msgs.contains("Using Client Initiated Connection (qemu-fd)."),
        "{msgs}\n{}\n{}",
        qemu.text(),
        logs()
    );
    let status = qemu.wait_exit(logs, Duration::from_secs(60));
    let text = qemu.text();
    assert!(status.success(), "firmware exit status {status:?}:\n{text}");
    // The state the device read back after the restore session.
    let after = state_block(&text, &format!("NET=ok JobId={restore} "));
    let b = sha256_hex(&slot_b());
    assert_eq!(
        after,
        [
            format!("STATE boot active=A pending=Some(B) len=12000 sha256={b}"),
            format!("STATE part0 len=12000 sha256={}", sha256_hex(&slot_a())),
            format!("STATE part1 len=12000 sha256={b}"),
            format!(
                "STATE part2 len={} sha256={}",
                CONFIG.len(),
                sha256_hex(CONFIG)
            ),
        ],
        "the device after the restore:\n{text}"
    );
    // The bootloader verifies slot B against the boot record and switches to it.
    let boot = state_block(&text, "BOOT=B");
    assert_eq!(
        boot.first().map(String::as_str),
        Some(format!("STATE boot active=B pending=None len=12000 sha256={b}").as_str()),
        "{text}"
    );
    eprintln!("firmware:\n{text}");
}
