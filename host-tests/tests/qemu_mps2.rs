//! QEMU tier 2, **semihosting only** (clearly: no network). boards/qemu-mps2 has no LAN9118
//! Ethernet driver yet, so this test cannot have the firmware dial a host-side Director.
//! What it does: builds the board firmware for thumbv7em-none-eabihf, boots it in
//! `qemu-system-arm -M mps2-an386` and checks, from the semihosting console, that fd-embedded's
//! device layer ran on a real Cortex-M4 core: the A/B restore through fd-core's `FileSink`,
//! the boot record, the refusal of the active slot, persistence across a reopen; and that
//! the firmware exited with status 0.
//!
//! Needs `qemu-system-arm` (scripts/setup installs it) and the thumbv7em target; fails, not
//! skips, when either is missing.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

#[test]
fn qemu_mps2_firmware_boots_and_runs_the_device_layer() {
    let board = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../boards/qemu-mps2"));
    let build = Command::new(env!("CARGO"))
        .args(["build", "--release", "--locked"])
        .current_dir(&board)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .status()
        .expect("cargo build of boards/qemu-mps2");
    assert!(build.success(), "boards/qemu-mps2 does not build");
    let elf = board.join("target/thumbv7em-none-eabihf/release/barque-qemu-mps2");
    let mut child = Command::new("qemu-system-arm")
        .args([
            "-M",
            "mps2-an386",
            "-nographic",
            "-monitor",
            "none",
            "-semihosting-config",
            "enable=on,target=native",
            "-kernel",
        ])
        .arg(&elf)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("qemu-system-arm (apt-get install qemu-system-arm)");
    // A hang is a failure: kill after 60 s.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("QEMU did not exit within 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("output");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "firmware exit status {:?}:\n{text}",
        out.status
    );
    for line in [
        "barque fd-embedded on mps2-an386: boot",
        "ok: restore slot B (erase, write, read-back verify)",
        "ok: slot B pending with the image's SHA-256",
        "ok: boot_select verifies and activates B",
        "ok: restore to the active slot refused",
        "ok: boot record persisted across reopen",
        "RESULT=ok",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
}
