//! `barque-fd`: the File Daemon for Linux. See the crate docs of `fd_linux`.
//!
//! ```text
//! barque-fd [-c CONFIG] [-d LEVEL] [-f] [-t]
//!   -c CONFIG  configuration file or bareos-fd.d directory (default /etc/bareos)
//!   -d LEVEL   debug level (>= 100: debug log, >= 200: trace)
//!   -f         run in the foreground (barque-fd never forks; accepted for compatibility)
//!   -t         check the configuration and exit (non-zero on any problem)
//! ```
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::OnceLock;

use fd_linux::daemon::{self, FileDaemon, Settings};
use fd_linux::msglog::AppendLog;

static LEVEL: AtomicI32 = AtomicI32::new(0);
/// The `Append` files of the Client's Messages resource, once the configuration is loaded.
static APPEND: OnceLock<AppendLog> = OnceLock::new();

struct StderrLog;

impl log::Log for StderrLog {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        let d = LEVEL.load(Ordering::Relaxed);
        match m.level() {
            log::Level::Error | log::Level::Warn | log::Level::Info => true,
            log::Level::Debug => d >= 100,
            log::Level::Trace => d >= 200,
        }
    }
    fn log(&self, r: &log::Record<'_>) {
        if self.enabled(r.metadata()) {
            eprintln!("barque-fd: {}: {}", r.level(), r.args());
            if let Some(a) = APPEND.get() {
                let kind = match r.level() {
                    log::Level::Error => "error",
                    log::Level::Warn => "warning",
                    log::Level::Info => "info",
                    // Debug output stays on stderr (Bareos' `debug` type is not in `all`).
                    _ => return,
                };
                a.write(kind, &r.args().to_string());
            }
        }
    }
    fn flush(&self) {}
}

static LOGGER: StderrLog = StderrLog;

fn usage() -> ExitCode {
    eprintln!(
        "usage: barque-fd [-c CONFIG] [-d LEVEL] [-f] [-t]\n\
         \x20 -c CONFIG  configuration file or bareos-fd.d directory (default /etc/bareos)\n\
         \x20 -d LEVEL   debug level\n\
         \x20 -f         foreground (barque-fd never daemonizes)\n\
         \x20 -t         test the configuration and exit"
    );
    ExitCode::from(1)
}

fn main() -> ExitCode {
    let mut config = PathBuf::from("/etc/bareos");
    let mut test = false;
    let mut level = 0i32;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "-c" => match args.next() {
                Some(p) => config = PathBuf::from(p),
                None => return usage(),
            },
            "-d" => match args.next().and_then(|v| v.parse().ok()) {
                Some(l) => level = l,
                None => return usage(),
            },
            "-f" => {}
            "-t" => test = true,
            s if s.starts_with("-d") => match s.get(2..).and_then(|v| v.parse().ok()) {
                Some(l) => level = l,
                None => return usage(),
            },
            _ => return usage(),
        }
    }
    LEVEL.store(level, Ordering::Relaxed);
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(log::LevelFilter::Trace);
    if test {
        return match daemon::check(&config) {
            Ok(summary) => {
                println!("{summary}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("barque-fd: configuration error:\n{e}");
                ExitCode::from(1)
            }
        };
    }
    let mut settings = match Settings::load(&config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("barque-fd: configuration error:\n{e}");
            return ExitCode::from(1);
        }
    };
    settings.debug_level = level;
    let append = AppendLog::new(&settings.name, settings.log_files.clone());
    if !append.is_empty() {
        let _ = APPEND.set(append);
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("barque-fd: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let fd = FileDaemon::new(settings);
    match rt.block_on(fd.run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("barque-fd: {e}");
            ExitCode::from(1)
        }
    }
}
