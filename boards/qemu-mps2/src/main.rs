//! Barque fd-embedded on QEMU's mps2-an386 (Cortex-M4F).
//!
//! What this firmware does today (state of the board, honestly): it boots, and over ARM
//! semihosting it runs the device layer of fd-embedded on a real Cortex-M core: the
//! power-loss-safe key-value store, the partitions-as-files with their metadata, and the A/B
//! firmware restore path through fd-core's `FileSink` trait (create / write_at / commit), the
//! boot record and the bootloader's `boot_select`, then the refusal of a restore to the active
//! slot. It prints each step and `RESULT=ok`, and exits QEMU with status 0 (1 on failure).
//!
//! What it does not do yet: there is no LAN9118 Ethernet driver (embassy-net-driver) for the
//! board's NIC at 0x4020_0000, so no embassy-net stack runs here and no Director connects;
//! the network shell (`fd_embedded::net`) is exercised on the host (host-tests) only. Flash
//! partitions are emulated in RAM (`RamFlash`), since the board's code memory is RAM in QEMU.
#![no_std]
#![no_main]

use core::panic::PanicInfo;

use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};
use embassy_futures::block_on;
use fd_core::fd::platform::{CreateKind, FileSink};
use fd_core::wire::attr::Stat;
use fd_core::wire::dir_cmd::Replace;
use fd_embedded::device::{Device, DeviceError, FlashSink};
use fd_embedded::flash::RamFlash;
use fd_embedded::state::Slot;
use sha2::Digest as _;

type Part = RamFlash<16384, 4096>;
type KvFlash = RamFlash<8192, 1024>;

fn image(seed: u32, out: &mut [u8]) {
    let mut x = seed | 1;
    for b in out.iter_mut() {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        *b = x as u8;
    }
}

fn fail(what: &str) -> ! {
    hprintln!("FAIL: {}", what);
    hprintln!("RESULT=fail");
    debug::exit(debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::wfi();
    }
}

fn check(ok: bool, what: &str) {
    if ok {
        hprintln!("ok: {}", what);
    } else {
        fail(what);
    }
}

#[entry]
fn main() -> ! {
    hprintln!("barque fd-embedded on mps2-an386: boot");
    let dev = Device::open([Part::new(), Part::new(), Part::new()], KvFlash::new());
    let Ok(dev) = dev else { fail("open device") };
    let dev = core::cell::RefCell::new(dev);

    let mut img = [0u8; 12_000];
    image(1, &mut img);
    check(
        dev.borrow_mut().provision(0, &img, 1_795_365_000).is_ok(),
        "provision slot A",
    );
    check(
        dev.borrow_mut()
            .provision(2, b"director=10.0.2.2:9101\n", 1_795_365_000)
            .is_ok(),
        "provision config",
    );

    // A restore of slot B through the FileSink that fd-core's restore engine drives.
    image(2, &mut img);
    let digest: [u8; 32] = sha2::Sha256::digest(img).into();
    let mut sink = FlashSink::new(&dev);
    let mut st = Stat::zeroed();
    st.mode = 0o100_644;
    st.size = img.len() as i64;
    st.mtime = 1_795_365_100;
    let r = block_on(async {
        sink.create(
            b"/firmware/slot-b.bin",
            CreateKind::Regular,
            &st,
            Replace::Always,
        )
        .await?;
        for (i, chunk) in img.chunks(1000).enumerate() {
            sink.write_at((i * 1000) as u64, chunk).await?;
        }
        sink.commit(&st).await
    });
    check(r.is_ok(), "restore slot B (erase, write, read-back verify)");
    let b = dev.borrow().boot_record();
    check(
        b.pending == Some(Slot::B) && b.digest == digest,
        "slot B pending with the image's SHA-256",
    );
    check(
        dev.borrow_mut().boot_select() == Ok(Slot::B),
        "boot_select verifies and activates B",
    );
    // The active slot is now B: a restore to it is refused and nothing is marked.
    let r = block_on(sink.create(
        b"/firmware/slot-b.bin",
        CreateKind::Regular,
        &st,
        Replace::Always,
    ));
    check(
        r == Err(DeviceError::ActiveSlot) && dev.borrow().boot_record().pending.is_none(),
        "restore to the active slot refused",
    );
    // Persistence: reopen from the flash contents.
    let (parts, kv) = dev.into_inner().into_parts();
    match Device::open(parts, kv) {
        Ok(d) => check(
            d.boot_record().active == Slot::B,
            "boot record persisted across reopen",
        ),
        Err(_) => fail("reopen"),
    }
    hprintln!(
        "RAM budget of a networked image (fd_embedded::budget::TOTAL): {} bytes",
        fd_embedded::budget::TOTAL
    );
    hprintln!("RESULT=ok");
    debug::exit(debug::EXIT_SUCCESS);
    loop {
        cortex_m::asm::wfi();
    }
}

#[panic_handler]
fn panic(_info: &PanicInfo) -> ! {
    fail("panic")
}
