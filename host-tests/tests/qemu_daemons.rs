//! QEMU tier 2 against the real daemons (issue #9): boards/qemu-mps2 booted in
//! `qemu-system-arm -M mps2-an386 -nic user`, barque-dir (SQLite catalog) and barque-sd (disk
//! volumes) as processes with TLS-PSK on every connection (a `barque-dir --init`
//! configuration, edited), driven by barque-console.
//!
//! - The Director's Client `qemu-fd` only dials in (`Connection From Client To Director =
//!   yes`, `Connection From Director To Client = no`); the firmware dials barque-dir at
//!   10.0.2.2 (QEMU's user network maps it to the host's 127.0.0.1) with the name, Director
//!   and password the test gives on its command line (`-append`).
//! - The Director reaches barque-sd at 127.0.0.1, which the guest cannot: the Storage and the
//!   Client both have a `Lan Address`, so the Director tells the FD the Storage's
//!   (10.0.2.2). Every data byte the test checks went over that address.
//!
//! Scenario:
//! 1. a Full backup of the device's partitions (`/firmware`, `/data`) ends OK; `list files`
//!    names exactly the device's files; barque-bls extracts from the volume exactly the
//!    images the firmware provisioned;
//! 2. the firmware then overwrites slot B itself (`bad-update`: a bad local update) and
//!    prints the new SHA-256;
//! 3. a restore of `/firmware/slot-b.bin` from the Full (`where=/`) ends OK; the device's state
//!    read back from its semihosting console shows slot B holding the backed-up image again,
//!    the boot record naming B as pending with that image's SHA-256 and length, and the
//!    bootloader's `boot_select` switching to B.
//!
//! Needs `qemu-system-arm` (scripts/setup installs it), the thumbv7em target and the
//! barque-dir, barque-sd, barque-console and barque-bls binaries (see e2e.rs "Binaries");
//! fails, not skips, when one is missing.

mod support;

use std::process::Command;

use support::qemu::*;
use support::{bin, console, free_ports, wait_port, workdir, Daemons, Setup};

/// barque-sd and barque-dir as processes, with a `barque-dir --init` configuration (TLS-PSK
/// everywhere, SQLite catalog, disk volumes under the work directory) and [`dir_conf`]'s
/// edits. The generated File daemon is not started: the device is the File daemon.
fn start_dir_and_sd(tag: &str, password: &str, passive: Option<u16>) -> Setup {
    let work = workdir(tag);
    let port = free_ports();
    let out = Command::new(bin("barque-dir"))
        .arg("--init")
        .arg(&work)
        .args(["--port", &port.to_string(), "--fileset"])
        .arg(work.join("unused"))
        .output()
        .expect("barque-dir --init");
    assert!(
        out.status.success(),
        "barque-dir --init failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let conf = work.join("etc/bareos-dir.conf");
    let text = std::fs::read_to_string(&conf).expect("read the Director's configuration");
    std::fs::write(&conf, device_dir_conf(text, password, passive))
        .expect("write the Director's configuration");
    let mut daemons = Daemons {
        children: Vec::new(),
        work: work.clone(),
    };
    // barque-sd on port + 2, barque-dir on port.
    daemons.spawn("sd");
    wait_port(port + 2);
    daemons.spawn("dir");
    wait_port(port);
    Setup {
        data: work.join("unused"),
        work,
        port,
        daemons,
    }
}

#[test]
fn qemu_firmware_backup_and_slot_b_restore_through_barque_dir_and_sd() {
    run(None);
}

/// The same with `Passive = yes`: barque-sd dials the device (QEMU forwards a host port to
/// its FD port 9102) with TLS-PSK, the device serving TLS with fd-core's TLS server.
#[test]
fn qemu_firmware_passive_backup_and_restore_through_barque_dir_and_sd() {
    run(Some(support::free_port()));
}

fn run(passive: Option<u16>) {
    let elf = firmware();
    let password = device_password();
    let tag = if passive.is_some() {
        "qemu-daemons-passive"
    } else {
        "qemu-daemons"
    };
    let s = start_dir_and_sd(tag, &password, passive);
    device_scenario(&Device {
        elf: &elf,
        password: &password,
        director: "barque-dir",
        port: s.port,
        console: &|c| console(&s, c),
        logs: &|| s.daemons.logs(),
        volumes: &s.work.join("volumes"),
        work: &s.work,
        passive,
    });
    if passive.is_some() {
        // The SD reached the device: the Director's `passive client` was answered.
        let log = std::fs::read_to_string(s.work.join("log/barque.log")).unwrap_or_default();
        assert!(!log.contains("could not reach the passive client"), "{log}");
    }
    let _ = std::fs::remove_dir_all(&s.work);
}
