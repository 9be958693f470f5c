//! Shared helpers of the fd-linux integration tests: a barque-fd running in-process on an
//! ephemeral 127.0.0.1 port, and the python-bareos virtualenv.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use fd_linux::daemon::{FileDaemon, Settings};

pub const FD_PW: &str = "ref-fd-password";

/// A configuration in Bareos syntax; `tls` = TLS-PSK (Bareos defaults) or everything off.
pub fn config_text(tls: bool) -> String {
    let t = if tls {
        ""
    } else {
        "  TLS Enable = no\n  TLS Require = no\n"
    };
    format!(
        "Client {{\n  Name = bareos-fd\n  FdAddresses = {{ ip = {{ addr = 127.0.0.1; port = 9102 }} }}\n\
         {t}  Messages = Standard\n}}\n\
         Director {{\n  Name = bareos-dir\n  Password = \"{FD_PW}\"\n{t}}}\n\
         Director {{\n  Name = monitor-dir\n  Password = \"monitor-pw\"\n  Monitor = yes\n{t}}}\n\
         Messages {{\n  Name = Standard\n  Director = bareos-dir = all\n}}\n"
    )
}

pub struct Running {
    pub fd: Arc<FileDaemon>,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.fd.stop();
    }
}

struct TestLog;
impl log::Log for TestLog {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= log::Level::Info
    }
    fn log(&self, r: &log::Record<'_>) {
        if self.enabled(r.metadata()) {
            eprintln!("barque-fd {}: {}", r.level(), r.args());
        }
    }
    fn flush(&self) {}
}
static TEST_LOG: TestLog = TestLog;

/// Load `text` as a configuration file and run barque-fd on an ephemeral port.
pub fn start(text: &str, tweak: impl FnOnce(&mut Settings)) -> Running {
    if log::set_logger(&TEST_LOG).is_ok() {
        log::set_max_level(log::LevelFilter::Info);
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bareos-fd.conf");
    std::fs::write(&path, text).expect("write config");
    let mut settings = Settings::load(&path).expect("config loads");
    settings.sd_retry_interval = Duration::from_millis(200);
    settings.sd_connect_timeout = Duration::from_secs(2);
    tweak(&mut settings);
    let fd = FileDaemon::new(settings);
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.set_nonblocking(true).expect("nonblocking");
    let port = l.local_addr().expect("addr").port();
    let f2 = fd.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let l = tokio::net::TcpListener::from_std(l).expect("listener");
            f2.serve(l).await;
        });
    });
    Running { fd, port, dir }
}

/// The python-bareos/sslpsk3 interpreter (barque-testkit: `$BARQUE_PYTHON` or a venv under
/// the target tmpdir). Fails (never skips) when it cannot be made.
pub fn python() -> &'static Path {
    barque_testkit::python::python_bareos(
        option_env!("CARGO_TARGET_TMPDIR")
            .unwrap_or(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/tmp")),
    )
}

/// Run common/tests/python/peer.py as a Director (`FileDaemon` of python-bareos) calling
/// `status`; returns (success, stdout).
pub fn python_status(port: u16, tls: bool, password: &str, name: &str) -> (bool, String) {
    let py = python();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../common/tests/python/peer.py");
    let out = Command::new(py)
        .arg(script)
        .args([
            "fd",
            &port.to_string(),
            if tls { "tls" } else { "clear" },
            password,
            name,
        ])
        .output()
        .expect("run python peer");
    (
        out.status.success(),
        format!(
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

pub mod capture;
pub mod harness;
