//! Barque fd-embedded on QEMU's mps2-an386 (Cortex-M4F).
//!
//! What this firmware does today (state of the board, honestly): it boots, and over ARM
//! semihosting it runs the device layer of fd-embedded on a real Cortex-M core: the
//! power-loss-safe key-value store, the partitions-as-files with their metadata, and the A/B
//! firmware restore path through fd-core's `FileSink` trait (create / write_at / commit), the
//! boot record and the bootloader's `boot_select`, then the refusal of a restore to the active
//! slot. It prints each step and `RESULT=ok`, and exits QEMU with status 0 (1 on failure).
//!
//! Then the network phase: a polled LAN9118 driver ([`lan9118`], embassy-net-driver) under
//! embassy-net (static 10.0.2.15/24, QEMU user networking), embassy-executor and a SysTick
//! embassy-time driver ([`time_driver`]). The firmware dials the Director at 10.0.2.2 (the
//! host, through QEMU's user network) on the port given as the last word of the semihosting
//! command line (`-append 9101`), runs fd-embedded's client-initiated session (plain TCP,
//! no TLS: QEMU has no entropy source this firmware trusts) and prints `NET=ok …` or why
//! not, then exits QEMU. Without a Director it prints `NET=no Director` after 5 s.
//! Flash partitions are emulated in RAM (`RamFlash`).
#![no_std]
#![no_main]

use core::cell::RefCell;
use core::net::Ipv4Addr;
use core::panic::PanicInfo;

mod lan9118;
mod time_driver;

use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};
use embassy_futures::block_on;
use embassy_time::with_timeout;
use fd_core::fd::jobs::JobTable;
use fd_core::fd::platform::Sha256Only;
use fd_core::fd::platform::{CreateKind, FileSink};
use fd_core::fd::{Buffers, DirectorAuth, FdConfig, Services};
use fd_core::time::Duration;
use fd_core::wire::attr::Stat;
use fd_core::wire::dir_cmd::Replace;
use fd_core::wire::hello::Version;
use fd_core::wire::tls_policy::TlsPolicy;
use fd_embedded::budget;
use fd_embedded::device::FlashSource;
use fd_embedded::device::{Device, DeviceError, FlashSink};
use fd_embedded::flash::RamFlash;
use fd_embedded::net::{
    self, Dial, EmbassyClock, EmbassyDial, NetError, SocketBuffers, TlsConnector,
};
use fd_embedded::state::Slot;
use sha2::Digest as _;
use static_cell::StaticCell;

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
    selftest();
    let cp = cortex_m::Peripherals::take();
    let Some(cp) = cp else {
        fail("core peripherals")
    };
    time_driver::init(cp.SYST);
    static EXECUTOR: StaticCell<embassy_executor::Executor> = StaticCell::new();
    let executor = EXECUTOR.init(embassy_executor::Executor::new());
    executor.run(|spawner| match net_main(spawner) {
        Ok(t) => spawner.spawn(t),
        Err(_) => fail("spawn"),
    })
}

fn selftest() {
    hprintln!("barque fd-embedded on mps2-an386: boot");
    let dev = Device::open([Part::new(), Part::new(), Part::new()], KvFlash::new());
    let Ok(dev) = dev else { fail("open device") };
    let dev = RefCell::new(dev);

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
}

/// The port of the Director: the last word of the semihosting command line, else 9101.
fn director_port() -> u16 {
    let mut buf = [0u8; 128];
    let mut block = [buf.as_mut_ptr() as usize, buf.len()];
    // SAFETY: SYS_GET_CMDLINE writes at most block[1] bytes into buf and the length back
    // into block[1]; both live for the call.
    let r = unsafe {
        cortex_m_semihosting::syscall1(
            cortex_m_semihosting::nr::GET_CMDLINE,
            block.as_mut_ptr() as usize,
        )
    };
    if r != 0 {
        return 9101;
    }
    let line = buf.get(..block[1].min(buf.len())).unwrap_or(&[]);
    let word = line
        .split(|&b| b == b' ')
        .rfind(|w| !w.is_empty())
        .unwrap_or(&[]);
    core::str::from_utf8(word)
        .ok()
        .and_then(|w| w.parse().ok())
        .unwrap_or(9101)
}

/// Not a cryptographic generator: QEMU offers no entropy this firmware trusts, so the
/// network phase runs without TLS; this only seeds smoltcp's ports and the CRAM-MD5
/// challenge of a test run.
struct TestOnlyRng(u64);

impl rand_core::RngCore for TestOnlyRng {
    fn next_u32(&mut self) -> u32 {
        self.next_u64() as u32
    }
    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for b in dest {
            *b = self.next_u64() as u8;
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}
impl rand_core::CryptoRng for TestOnlyRng {}

/// A [`Dial`] that hands out one connection made beforehand.
struct Connected<S>(Option<S>);

impl<S: embedded_io_async::Read + embedded_io_async::Write> Dial for Connected<S> {
    type Socket = S;
    async fn dial(&mut self, _a: Ipv4Addr, _p: u16) -> Result<S, NetError> {
        self.0.take().ok_or(NetError::NoBuffers)
    }
    async fn accept(&mut self) -> Result<S, NetError> {
        Err(NetError::NotSupported)
    }
}

#[embassy_executor::task]
async fn net_task(mut runner: embassy_net::Runner<'static, lan9118::Lan9118>) -> ! {
    runner.run().await
}

static JOBS: JobTable<1> = JobTable::new();

macro_rules! buf {
    ($n:expr) => {{
        static B: StaticCell<[u8; $n]> = StaticCell::new();
        &mut B.init([0; $n])[..]
    }};
}

#[embassy_executor::task]
async fn net_main(spawner: embassy_executor::Spawner) {
    let nic = match lan9118::Lan9118::new([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]) {
        Ok(n) => n,
        Err(e) => {
            hprintln!("NET=no LAN9118 ({:?})", e);
            debug::exit(debug::EXIT_FAILURE);
            return;
        }
    };
    hprintln!("lan9118: up");
    let config = embassy_net::Config::ipv4_static(embassy_net::StaticConfigV4 {
        address: embassy_net::Ipv4Cidr::new(Ipv4Addr::new(10, 0, 2, 15), 24),
        gateway: Some(Ipv4Addr::new(10, 0, 2, 2)),
        dns_servers: Default::default(),
    });
    static RES: StaticCell<embassy_net::StackResources<4>> = StaticCell::new();
    let (stack, runner) = embassy_net::new(
        nic,
        config,
        RES.init(embassy_net::StackResources::new()),
        0x5eed,
    );
    match net_task(runner) {
        Ok(t) => spawner.spawn(t),
        Err(_) => fail("spawn net"),
    }
    stack.wait_config_up().await;
    let port = director_port();
    hprintln!(
        "net: 10.0.2.15 up, dialling the Director at 10.0.2.2:{}",
        port
    );

    let mut dial = EmbassyDial::new(
        stack,
        SocketBuffers {
            rx: buf!(budget::TCP),
            tx: buf!(budget::TCP),
        },
    );
    let socket = match with_timeout(
        embassy_time::Duration::from_secs(5),
        dial.dial(Ipv4Addr::new(10, 0, 2, 2), port),
    )
    .await
    {
        Ok(Ok(s)) => s,
        _ => {
            hprintln!("NET=no Director");
            debug::exit(debug::EXIT_SUCCESS);
            return;
        }
    };

    static DEV: StaticCell<RefCell<Device<Part, KvFlash>>> = StaticCell::new();
    let Ok(d) = Device::open([Part::new(), Part::new(), Part::new()], KvFlash::new()) else {
        fail("open device")
    };
    let dev = &*DEV.init(RefCell::new(d));
    let mut img = [0u8; 12_000];
    image(1, &mut img);
    let _ = dev.borrow_mut().provision(0, &img, 1_795_365_000);
    image(2, &mut img);
    let _ = dev.borrow_mut().provision(1, &img, 1_795_365_000);
    let _ = dev
        .borrow_mut()
        .provision(2, b"director=10.0.2.2:9101\n", 1_795_365_000);

    let directors = [DirectorAuth {
        name: b"bareos-dir",
        // The CRAM-MD5 key shared with the host test (host-tests/tests/qemu_mps2.rs).
        key: b"8a0b4b4ee8bcb1f5d4d36af1e2a0e3cb",
        monitor: false,
        max_bandwidth: 0,
    }];
    let cfg = FdConfig {
        name: b"qemu-fd",
        directors: &directors,
        version: Version::new(26, 0, 0),
        job_version: b"26.0.0 (barque fd-embedded qemu-mps2)",
        version_text: b"26.0.0 (barque fd-embedded qemu-mps2)",
        binary_info: b"barque",
        secure_erase: None,
        heartbeat_interval: Duration::ZERO,
        max_bandwidth: 0,
        tls_policy: TlsPolicy::None,
        tls_active: false,
        network_buffer_size: budget::DATA - 8,
        started: 1_795_365_000,
        utc_offset: 0,
        debug_level: 0,
    };
    let mut svc = Services {
        source: FlashSource::new(dev),
        sink: FlashSink::new(dev),
        connector: TlsConnector::new(
            EmbassyDial::new(
                stack,
                SocketBuffers {
                    rx: buf!(budget::TCP),
                    tx: buf!(budget::TCP),
                },
            ),
            TestOnlyRng(0x1234_5678_9abc_def1),
            buf!(budget::TLS_RECORD),
            buf!(budget::TLS_RECORD_TX),
        ),
        clock: EmbassyClock {
            unix_at_boot: 1_795_365_100,
        },
        digests: Sha256Only,
    };
    let bufs = Buffers {
        dir_rx: buf!(budget::DIR_RX),
        tx: buf!(budget::TX),
        sd_rx: buf!(budget::SD_RX),
        data: buf!(budget::DATA),
        fileset: buf!(budget::FILESET),
        accurate: buf!(budget::ACCURATE),
    };
    let mut rng = TestOnlyRng(0x0fed_cba9_8765_4321);
    let r = net::client_initiated(
        &mut Connected(Some(socket)),
        Ipv4Addr::new(10, 0, 2, 2),
        port,
        None,
        &mut rng,
        &cfg,
        &directors[0],
        &JOBS,
        &mut svc,
        bufs,
    )
    .await;
    match r {
        Ok(end) => {
            hprintln!(
                "NET=ok JobId={} files={} errors={}",
                end.job_id,
                end.files,
                end.errors
            );
            debug::exit(debug::EXIT_SUCCESS);
        }
        Err(e) => {
            hprintln!("NET=failed {:?}", e);
            debug::exit(debug::EXIT_FAILURE);
        }
    }
}

#[panic_handler]
fn panic(_info: &PanicInfo) -> ! {
    fail("panic")
}
