//! `barque-sd`: the Barque Storage Daemon.
//!
//! ```text
//! barque-sd [-c CONFIG] [-f] [-t] [-d LEVEL]
//! ```
//!
//! * `-c` a `bareos-sd.d` directory or a single `bareos-sd.conf` (default
//!   `/etc/bareos/bareos-sd.d`, then `/etc/bareos/bareos-sd.conf`);
//! * `-t` check the configuration, print every problem and exit non-zero if there is one;
//! * `-d N` debug level (0 warnings, ≥ 1 info, ≥ 100 debug, ≥ 200 trace), messages on stderr;
//! * `-f` stay in the foreground (barque-sd never forks; accepted for compatibility).

use std::path::PathBuf;
use std::process::ExitCode;

use storage::sd::{SdConfig, Server};

struct Logger {
    level: log::LevelFilter,
}

impl log::Log for Logger {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= self.level
    }
    fn log(&self, r: &log::Record<'_>) {
        if self.enabled(r.metadata()) {
            eprintln!("barque-sd: {}: {}", r.level(), r.args());
        }
    }
    fn flush(&self) {}
}

fn usage() -> ExitCode {
    eprintln!("usage: barque-sd [-c CONFIG] [-f] [-t] [-d LEVEL]");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut config: Option<PathBuf> = None;
    let mut test = false;
    let mut debug: u32 = 0;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "-c" => match args.next() {
                Some(p) => config = Some(PathBuf::from(p)),
                None => return usage(),
            },
            "-d" => match args.next().and_then(|v| v.parse().ok()) {
                Some(v) => debug = v,
                None => return usage(),
            },
            "-t" => test = true,
            "-f" => {}
            "-h" | "--help" | "-?" => {
                let _ = usage();
                return ExitCode::SUCCESS;
            }
            _ => return usage(),
        }
    }
    let level = match debug {
        0 => log::LevelFilter::Warn,
        1..=99 => log::LevelFilter::Info,
        100..=199 => log::LevelFilter::Debug,
        _ => log::LevelFilter::Trace,
    };
    let _ = log::set_logger(Box::leak(Box::new(Logger { level })));
    log::set_max_level(level);
    let path = config.unwrap_or_else(|| {
        let d = PathBuf::from("/etc/bareos/bareos-sd.d");
        if d.is_dir() {
            d
        } else {
            PathBuf::from("/etc/bareos/bareos-sd.conf")
        }
    });
    let (cfg, warnings) = match SdConfig::load(&path) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("barque-sd: configuration {} has errors:", path.display());
            for l in e.lines() {
                eprintln!("  {l}");
            }
            return ExitCode::from(1);
        }
    };
    for w in &warnings {
        eprintln!("barque-sd: {w}");
    }
    if test {
        println!(
            "barque-sd: configuration {} OK: Storage {}, {} Director(s), {} Device(s)",
            path.display(),
            cfg.name,
            cfg.directors.len(),
            cfg.devices.len()
        );
        return ExitCode::SUCCESS;
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("barque-sd: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    rt.block_on(async move {
        let server = match Server::new(cfg) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("barque-sd: {e}");
                return ExitCode::from(1);
            }
        };
        let listeners = match server.bind().await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("barque-sd: {e}");
                return ExitCode::from(1);
            }
        };
        let mut tasks = Vec::new();
        for l in listeners {
            if let Ok(a) = l.local_addr() {
                log::info!("listening on {a}");
                // Tests and scripts wait for this line.
                eprintln!("barque-sd: listening on {a}");
            }
            let s = server.clone();
            tasks.push(tokio::spawn(async move { s.serve(l).await }));
        }
        for t in tasks {
            let _ = t.await;
        }
        ExitCode::SUCCESS
    })
}
