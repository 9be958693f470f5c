//! Barque File Daemon on an STM32F767ZI with RMII Ethernet (NUCLEO-F767ZI pinout, LAN8742A
//! PHY): embassy-stm32's Ethernet driver under embassy-net (a static address; DHCP with
//! `--features dhcp`), fd-embedded's device layer over the internal flash, and
//! client-initiated mode: the device dials its Director with TLS-PSK (embedded-tls,
//! max_fragment_length 4096) and serves the Director's jobs (backup, restore, cancel)
//! through fd-core's command loop; the data channel to the SD is a second TLS-PSK client
//! connection with the job's session key. This is the budget firmware: fd-core is built
//! without `estimate`, the `status` reports, accurate and passive mode (refused as unknown
//! commands), so that the image fits 160 KiB of flash (`scripts/boards` enforces it).
//!
//! Built in CI for thumbv7em-none-eabihf; `size` reports its flash and RAM. Not run on
//! hardware in this repository's CI (no board attached).
//!
//! Flash layout (single-bank mode; see memory.x): firmware in sectors 0-4, state store in
//! sectors 5-6, configuration in sector 7, slot A in 8-9, slot B in 10-11. The running image
//! is the one in sectors 0-4; slots A/B hold images a bootloader (embassy-boot or similar,
//! not part of this crate) copies or boots according to the boot record.
#![no_std]
#![no_main]

use core::cell::RefCell;
use core::net::Ipv4Addr;

use defmt::{info, unwrap, warn};
use embassy_executor::Spawner;
use embassy_net::StackResources;
use embassy_stm32::eth::{Ethernet, GenericPhy, PacketQueue, Sma};
use embassy_stm32::flash::{Blocking, Flash};
use embassy_stm32::peripherals::{ETH, ETH_SMA, RNG};
use embassy_stm32::rng::Rng;
use embassy_stm32::{bind_interrupts, eth, rng, Config};
use embassy_time::Timer;
use fd_core::fd::jobs::JobTable;
use fd_core::fd::platform::Sha256Only;
use fd_core::fd::{Buffers, DirectorAuth, FdConfig, Services};
use fd_core::time::Duration;
use fd_core::wire::hello::Version;
use fd_core::wire::tls_policy::TlsPolicy;
use fd_embedded::budget;
use fd_embedded::device::{Device, FlashSink, FlashSource};
use fd_embedded::flash::Window;
use fd_embedded::net::{self, EmbassyClock, EmbassyDial, SocketBuffers, TlsConnector};
use fd_embedded::state::{Settings, KEY_SETTINGS};
use static_cell::StaticCell;
use {defmt_rtt as _, panic_probe as _};

bind_interrupts!(struct Irqs {
    ETH => eth::InterruptHandler;
    RNG => rng::InterruptHandler<RNG>;
});

type EthDevice = Ethernet<'static, ETH, GenericPhy<Sma<'static, ETH_SMA>>>;
type InternalFlash = Flash<'static, Blocking>;
type Part = Window<'static, InternalFlash, { 256 * 1024 }>;

/// The RNG shared by the TLS clients (one at a time uses it).
struct SharedRng(&'static RefCell<Rng<'static, RNG>>);

impl rand_core::RngCore for SharedRng {
    fn next_u32(&mut self) -> u32 {
        self.0.borrow_mut().next_u32()
    }
    fn next_u64(&mut self) -> u64 {
        self.0.borrow_mut().next_u64()
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.0.borrow_mut().fill_bytes(dest)
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.0.borrow_mut().try_fill_bytes(dest)
    }
}
impl rand_core::CryptoRng for SharedRng {}

#[embassy_executor::task]
async fn net_task(mut runner: embassy_net::Runner<'static, EthDevice>) -> ! {
    runner.run().await
}

/// The device's address without the `dhcp` feature (set per site before building).
#[cfg(not(feature = "dhcp"))]
const STATIC_ADDR: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 50);
#[cfg(not(feature = "dhcp"))]
const STATIC_PREFIX: u8 = 24;
#[cfg(not(feature = "dhcp"))]
const STATIC_GATEWAY: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 1);

#[cfg(feature = "dhcp")]
fn net_config() -> embassy_net::Config {
    embassy_net::Config::dhcpv4(Default::default())
}

#[cfg(not(feature = "dhcp"))]
fn net_config() -> embassy_net::Config {
    embassy_net::Config::ipv4_static(embassy_net::StaticConfigV4 {
        address: embassy_net::Ipv4Cidr::new(STATIC_ADDR, STATIC_PREFIX),
        gateway: Some(STATIC_GATEWAY),
        dns_servers: Default::default(),
    })
}

/// The Director's password key (MD5 hex of the password), provisioned with the device.
const DIRECTOR_KEY: &[u8] = b"00000000000000000000000000000000";

static JOBS: JobTable<1> = JobTable::new();

macro_rules! buf {
    ($n:expr) => {{
        static B: StaticCell<[u8; $n]> = StaticCell::new();
        B.init([0; $n])
    }};
}

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    let mut config = Config::default();
    {
        use embassy_stm32::rcc::*;
        use embassy_stm32::time::Hertz;
        config.rcc.hse = Some(Hse {
            freq: Hertz(8_000_000),
            mode: HseMode::Bypass,
        });
        config.rcc.pll_src = PllSource::HSE;
        config.rcc.pll = Some(Pll {
            prediv: PllPreDiv::DIV4,
            mul: PllMul::MUL216,
            divp: Some(PllPDiv::DIV2),
            divq: None,
            divr: None,
        });
        config.rcc.ahb_pre = AHBPrescaler::DIV1;
        config.rcc.apb1_pre = APBPrescaler::DIV4;
        config.rcc.apb2_pre = APBPrescaler::DIV2;
        config.rcc.sys = Sysclk::PLL1_P;
    }
    let p = embassy_stm32::init(config);
    info!("barque fd-embedded on STM32F767ZI");

    static RNG_CELL: StaticCell<RefCell<Rng<'static, RNG>>> = StaticCell::new();
    let rng = &*RNG_CELL.init(RefCell::new(Rng::new(p.RNG, Irqs)));
    let mut seed = [0u8; 8];
    rand_core::RngCore::fill_bytes(&mut SharedRng(rng), &mut seed);

    static PACKETS: StaticCell<PacketQueue<2, 2>> = StaticCell::new();
    let device = Ethernet::new(
        PACKETS.init(PacketQueue::<2, 2>::new()),
        p.ETH,
        Irqs,
        p.PA1,
        p.PA7,
        p.PC4,
        p.PC5,
        p.PG13,
        p.PB13,
        p.PG11,
        [0x02, 0x00, 0xBA, 0x44, 0x0E, 0x01],
        p.ETH_SMA,
        p.PA2,
        p.PC1,
    );
    // The Director's and the SD's sockets, and DHCP's with the `dhcp` feature.
    static RESOURCES: StaticCell<StackResources<3>> = StaticCell::new();
    let (stack, runner) = embassy_net::new(
        device,
        net_config(),
        RESOURCES.init(StackResources::new()),
        u64::from_le_bytes(seed),
    );
    spawner.spawn(unwrap!(net_task(runner)));

    static FLASH: StaticCell<RefCell<InternalFlash>> = StaticCell::new();
    let flash = &*FLASH.init(RefCell::new(Flash::new_blocking(p.FLASH)));
    let kv: Part = Window::new(flash, 0x04_0000, 0x08_0000);
    let parts: [Part; 3] = [
        Window::new(flash, 0x10_0000, 0x08_0000),
        Window::new(flash, 0x18_0000, 0x08_0000),
        Window::new(flash, 0x0C_0000, 0x04_0000),
    ];
    static DEV: StaticCell<RefCell<Device<Part, Part>>> = StaticCell::new();
    let dev = &*DEV.init(RefCell::new(unwrap!(Device::open(parts, kv).ok())));
    let settings: Settings = dev
        .borrow_mut()
        .kv()
        .load(KEY_SETTINGS)
        .ok()
        .flatten()
        .unwrap_or_default();
    let dir_ip = if settings.director_addr == [0; 4] {
        Ipv4Addr::new(10, 0, 2, 2)
    } else {
        Ipv4Addr::from(settings.director_addr)
    };
    let dir_port = if settings.director_port == 0 {
        9101
    } else {
        settings.director_port
    };

    stack.wait_config_up().await;
    info!("network up");

    // Static buffers: see fd_embedded::budget.
    let dir_rx = buf!(budget::DIR_RX);
    let tx = buf!(budget::TX);
    let sd_rx = buf!(budget::SD_RX);
    let data = buf!(budget::DATA);
    let fileset = buf!(budget::FILESET);
    let accurate = buf!(budget::ACCURATE);
    let dir_tls_rx = buf!(budget::TLS_RECORD);
    let dir_tls_tx = buf!(budget::TLS_RECORD_TX_DIR);
    let sd_tls_rx = buf!(budget::TLS_RECORD);
    let sd_tls_tx = buf!(budget::TLS_RECORD_TX);
    let dir_tcp_rx = buf!(budget::TCP_DIR);
    let dir_tcp_tx = buf!(budget::TCP_DIR);
    let sd_tcp_rx = buf!(budget::TCP);
    let sd_tcp_tx = buf!(budget::TCP);

    let directors = [DirectorAuth {
        name: b"bareos-dir",
        key: DIRECTOR_KEY,
        monitor: false,
        max_bandwidth: 0,
    }];
    let cfg = FdConfig {
        name: b"stm32f7-fd",
        directors: &directors,
        version: Version::new(26, 0, 0),
        job_version: b"26.0.0 (barque fd-embedded stm32f7)",
        version_text: b"26.0.0 (barque fd-embedded stm32f7)",
        binary_info: b"barque",
        secure_erase: None,
        heartbeat_interval: Duration::from_secs(60),
        max_bandwidth: 0,
        tls_policy: TlsPolicy::None,
        tls_active: true,
        network_buffer_size: budget::DATA - 8,
        started: 0,
        utc_offset: 0,
        debug_level: 0,
    };

    loop {
        let mut svc = Services {
            source: FlashSource::new(dev),
            sink: FlashSink::new(dev),
            connector: TlsConnector::new(
                EmbassyDial::new(
                    stack,
                    SocketBuffers {
                        rx: &mut sd_tcp_rx[..],
                        tx: &mut sd_tcp_tx[..],
                    },
                ),
                SharedRng(rng),
                &mut sd_tls_rx[..],
                &mut sd_tls_tx[..],
            ),
            clock: EmbassyClock { unix_at_boot: 0 },
            digests: Sha256Only,
        };
        let mut dial = EmbassyDial::new(
            stack,
            SocketBuffers {
                rx: &mut dir_tcp_rx[..],
                tx: &mut dir_tcp_tx[..],
            },
        );
        let r = net::client_initiated(
            &mut dial,
            dir_ip,
            dir_port,
            Some((&mut dir_tls_rx[..], &mut dir_tls_tx[..])),
            &mut SharedRng(rng),
            &cfg,
            &directors[0],
            &JOBS,
            &mut svc,
            Buffers {
                dir_rx: &mut dir_rx[..],
                tx: &mut tx[..],
                sd_rx: &mut sd_rx[..],
                data: &mut data[..],
                fileset: &mut fileset[..],
                accurate: &mut accurate[..],
            },
        )
        .await;
        match r {
            Ok(end) => info!("session ended: JobId {}", end.job_id),
            Err(e) => warn!("session failed: {}", e),
        }
        Timer::after_secs(10).await;
    }
}
