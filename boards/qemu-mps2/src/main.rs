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
//! host, through QEMU's user network) on the port given in the semihosting command line
//! (`-append "9101"`), runs fd-embedded's client-initiated session and prints `NET=ok …` or
//! why not, then the device's state (`STATE …`: the boot record, each partition's length
//! and SHA-256). With `sessions=<n>` it dials again after each session, `n` times; then the
//! bootloader's `boot_select` runs (`BOOT=…`, the state again) and the firmware exits QEMU.
//! Without a Director it prints `NET=no Director` after 5 s. The client's name, the
//! Director's name and password and a bad local update of slot B after the first session
//! come from the command line too ([`Args`]); host-tests/tests/qemu_daemons.rs drives it
//! against barque-dir and barque-sd.
//!
//! TLS-PSK (`-append "9101 seed=<64 hex digits>"`): the Director connection is an
//! embedded-tls client (identity `R_CLIENT` 0x1E `qemu-fd`, the Director's key,
//! max_fragment_length 4096) and the data channel to the SD too when the Director asks for
//! it (`ssl=` in the `storage` command). mps2-an386 has no hardware RNG, so the host passes
//! 32 bytes of entropy on the command line ([`CounterRng`], SHA-256 in counter mode): test
//! entropy for an emulated board, not a design for a device. Without a seed the run is
//! plain TCP.
//! Passive mode (`Passive = yes` on the Director's Client): while it waits for the
//! Director's next command the firmware also listens on port 9102 for the Storage daemon
//! (QEMU forwards a host port there: `-nic user,hostfwd=…`), cleartext or TLS-PSK with
//! fd-core's TLS server (identity `R_JOB` 0x1E «Job», the job's session key).
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
use fd_core::wire::psk::PasswordKey;
use fd_core::wire::tls_policy::TlsPolicy;
use fd_embedded::budget;
use fd_embedded::device::FlashSource;
use fd_embedded::device::{Device, DeviceError, FlashSink};
use fd_embedded::flash::RamFlash;
use fd_embedded::net::{
    self, Dial, EmbassyClock, EmbassyDial, NetError, SocketBuffers, TlsConnector,
};
use fd_embedded::rng::CounterRng;
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

/// What the semihosting command line asks for (words separated by spaces, any order):
///
/// - a number: the Director's port (else 9101);
/// - `seed=<64 hex digits>`: TLS-PSK, seeded with those bytes;
/// - `name=<client>`: this File daemon's name (else `qemu-fd`);
/// - `dir=<director>`: the Director's name (else `bareos-dir`);
/// - `password=<cleartext>`: the Director's password for this client (CRAM-MD5 and TLS-PSK
///   key = its MD5 in hex, as Bareos); else the board's built-in key;
/// - `sessions=<n>`: serve `n` client-initiated sessions, dialling again after each (else 1);
/// - `bad-update`: after the first session, overwrite slot B from the device itself (a bad
///   local update), so that a later restore of slot B has something to repair.
struct Args {
    port: u16,
    seed: Option<[u8; 32]>,
    name: &'static [u8],
    director: &'static [u8],
    password: Option<&'static [u8]>,
    sessions: u32,
    bad_update: bool,
}

fn args() -> Args {
    // The kernel path and the words above.
    static LINE: StaticCell<[u8; 512]> = StaticCell::new();
    let buf: &'static mut [u8; 512] = LINE.init([0; 512]);
    let mut block = [buf.as_mut_ptr() as usize, buf.len()];
    // SAFETY: SYS_GET_CMDLINE writes at most block[1] bytes into buf and the length back
    // into block[1]; both live for the call.
    let r = unsafe {
        cortex_m_semihosting::syscall1(
            cortex_m_semihosting::nr::GET_CMDLINE,
            block.as_mut_ptr() as usize,
        )
    };
    let mut a = Args {
        port: 9101,
        seed: None,
        name: b"qemu-fd",
        director: b"bareos-dir",
        password: None,
        sessions: 1,
        bad_update: false,
    };
    if r != 0 {
        return a;
    }
    let len = block[1].min(buf.len());
    let line: &'static [u8] = buf.get(..len).unwrap_or(&[]);
    for word in line.split(|&b| b == b' ').filter(|w| !w.is_empty()) {
        if let Some(hex) = word.strip_prefix(b"seed=") {
            a.seed = parse_seed(hex);
        } else if let Some(v) = word.strip_prefix(b"name=") {
            a.name = v;
        } else if let Some(v) = word.strip_prefix(b"dir=") {
            a.director = v;
        } else if let Some(v) = word.strip_prefix(b"password=") {
            a.password = Some(v);
        } else if let Some(v) = word.strip_prefix(b"sessions=") {
            if let Some(n) = core::str::from_utf8(v).ok().and_then(|v| v.parse().ok()) {
                a.sessions = n;
            }
        } else if word == b"bad-update" {
            a.bad_update = true;
        } else if let Some(p) = core::str::from_utf8(word).ok().and_then(|w| w.parse().ok()) {
            a.port = p;
        }
    }
    a
}

fn parse_seed(hex: &[u8]) -> Option<[u8; 32]> {
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (o, pair) in out.iter_mut().zip(hex.chunks(2)) {
        let s = core::str::from_utf8(pair).ok()?;
        *o = u8::from_str_radix(s, 16).ok()?;
    }
    Some(out)
}

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
    let a = args();
    let (port, seed) = (a.port, a.seed);
    hprintln!(
        "net: 10.0.2.15 up, dialling the Director at 10.0.2.2:{}",
        port
    );

    // The Director connection's socket buffers, lent to one socket per session.
    let dir_sock_rx = buf!(budget::TCP);
    let dir_sock_tx = buf!(budget::TCP);
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
    print_state(dev);

    static KEY: StaticCell<PasswordKey> = StaticCell::new();
    let key: &'static [u8] = match a.password {
        Some(p) => {
            let k: &'static PasswordKey = KEY.init(PasswordKey::from_cleartext(p));
            k.as_bytes()
        }
        // The CRAM-MD5 key shared with the host test's own Director
        // (host-tests/tests/qemu_mps2.rs) when the command line names no password.
        None => b"8a0b4b4ee8bcb1f5d4d36af1e2a0e3cb",
    };
    static DIRECTORS: StaticCell<[DirectorAuth<'static>; 1]> = StaticCell::new();
    let directors: &'static [DirectorAuth<'static>] = DIRECTORS.init([DirectorAuth {
        name: a.director,
        key,
        monitor: false,
        max_bandwidth: 0,
    }]);
    let cfg = FdConfig {
        name: a.name,
        directors,
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
    // The data channel's socket and TLS record buffers, and the session buffers: lent to
    // each session in turn.
    let sd_sock_rx = buf!(budget::TCP);
    let sd_sock_tx = buf!(budget::TCP);
    let sd_rec_rx = buf!(budget::TLS_RECORD);
    let sd_rec_tx = buf!(budget::TLS_RECORD_TX);
    let dir_rx = buf!(budget::DIR_RX);
    let tx = buf!(budget::TX);
    let sd_rx = buf!(budget::SD_RX);
    let data = buf!(budget::DATA);
    let fileset = buf!(budget::FILESET);
    let accurate = buf!(budget::ACCURATE);
    // A passive SD's TLS-PSK connection (fd-core's TLS server): the SD does not negotiate
    // max_fragment_length, so whole 16 KiB records.
    let passive_rx = buf!(17_000);
    let passive_tx = buf!(17_000);
    let passive_hs = buf!(4096);
    // The Director connection's TLS record buffers (used with a seed only).
    let mut dir_tls = seed.map(|_| (buf!(budget::TLS_RECORD), buf!(budget::TLS_RECORD_TX_DIR)));
    hprintln!(
        "net: {}",
        if dir_tls.is_some() {
            "TLS-PSK"
        } else {
            "plain TCP"
        }
    );
    for session in 0..a.sessions {
        // The first dial gives up after 5 s (no Director: a clean exit); later ones, once
        // the Director has been seen, after 30 s.
        let limit = if session == 0 { 5 } else { 30 };
        let socket = match with_timeout(
            embassy_time::Duration::from_secs(limit),
            dial_director(stack, &mut *dir_sock_rx, &mut *dir_sock_tx, port),
        )
        .await
        {
            Ok(Ok(s)) => s,
            _ if session == 0 => {
                hprintln!("NET=no Director");
                debug::exit(debug::EXIT_SUCCESS);
                return;
            }
            _ => {
                hprintln!("NET=failed: the Director at 10.0.2.2:{} is gone", port);
                debug::exit(debug::EXIT_FAILURE);
                return;
            }
        };
        // Each session its own entropy streams (labels 2n for the Director connection,
        // 2n + 1 for the data channel).
        let label = (session as u8).wrapping_mul(2);
        let mut svc = Services {
            source: FlashSource::new(dev),
            sink: FlashSink::new(dev),
            connector: TlsConnector::new(
                EmbassyDial::new(
                    stack,
                    SocketBuffers {
                        rx: &mut *sd_sock_rx,
                        tx: &mut *sd_sock_tx,
                    },
                ),
                CounterRng::new(seed.unwrap_or([0x5a; 32]), label.wrapping_add(1)),
                &mut *sd_rec_rx,
                &mut *sd_rec_tx,
            )
            .with_passive_tls(fd_core::tls::Buffers {
                rx: &mut *passive_rx,
                tx: &mut *passive_tx,
                handshake: &mut *passive_hs,
            }),
            clock: EmbassyClock {
                unix_at_boot: 1_795_365_100,
            },
            digests: Sha256Only,
        };
        let bufs = Buffers {
            dir_rx: &mut *dir_rx,
            tx: &mut *tx,
            sd_rx: &mut *sd_rx,
            data: &mut *data,
            fileset: &mut *fileset,
            accurate: &mut *accurate,
        };
        let mut rng = CounterRng::new(seed.unwrap_or([0xa5; 32]), label);
        let r = net::client_initiated(
            &mut Connected(Some(socket)),
            Ipv4Addr::new(10, 0, 2, 2),
            port,
            dir_tls.as_mut().map(|(r, t)| (&mut **r, &mut **t)),
            &mut rng,
            &cfg,
            &directors[0],
            &JOBS,
            &mut svc,
            bufs,
        )
        .await;
        match r {
            Ok(end) => hprintln!(
                "NET=ok JobId={} files={} errors={}",
                end.job_id,
                end.files,
                end.errors
            ),
            Err(e) => {
                hprintln!("NET=failed {:?}", e);
                debug::exit(debug::EXIT_FAILURE);
                return;
            }
        }
        print_state(dev);
        if session == 0 && a.bad_update {
            // A bad local update of slot B (by other means than a restore).
            image(99, &mut img[..10_000]);
            let r = dev
                .borrow_mut()
                .write_local(1, &img[..10_000], 1_795_365_200);
            check(r.is_ok(), "bad local update of slot B");
            print_state(dev);
        }
    }
    // The bootloader's decision at the next reset.
    match dev.borrow_mut().boot_select() {
        Ok(s) => hprintln!("BOOT={:?}", s),
        Err(e) => hprintln!("BOOT=failed {:?}", e),
    }
    print_state(dev);
    debug::exit(debug::EXIT_SUCCESS);
}

/// Dial the Director at 10.0.2.2:`port` with the given socket buffers.
async fn dial_director<'a>(
    stack: embassy_net::Stack<'a>,
    rx: &'a mut [u8],
    tx: &'a mut [u8],
    port: u16,
) -> Result<embassy_net::tcp::TcpSocket<'a>, NetError> {
    EmbassyDial::new(stack, SocketBuffers { rx, tx })
        .dial(Ipv4Addr::new(10, 0, 2, 2), port)
        .await
}

/// The device's state as the host test reads it back: the boot record and, per partition,
/// its length and SHA-256, then `STATE end`.
fn print_state(dev: &RefCell<Device<Part, KvFlash>>) {
    let mut d = dev.borrow_mut();
    let b = d.boot_record();
    hprintln!(
        "STATE boot active={:?} pending={:?} len={} sha256={}",
        b.active,
        b.pending,
        b.len,
        Hex(&b.digest)
    );
    for i in 0..3 {
        let len = d.meta(i).map(|m| m.len).unwrap_or(0);
        match d.hash(i, len) {
            Ok(h) => hprintln!("STATE part{} len={} sha256={}", i, len, Hex(&h)),
            Err(e) => hprintln!("STATE part{} unreadable {:?}", i, e),
        }
    }
    hprintln!("STATE end");
}

/// Lower-case hex of a byte string.
struct Hex<'a>(&'a [u8]);

impl core::fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

#[panic_handler]
fn panic(_info: &PanicInfo) -> ! {
    fail("panic")
}
