//! `-t` for any daemon: `cargo run -p barque-common --example check -- PATH bareos-fd`.
//! Prints every error and warning and exits non-zero when the configuration does not load.

use barque_common::config::{check, Daemon};

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(path), Some(daemon)) = (args.next(), args.next()) else {
        eprintln!("usage: check PATH bareos-dir|bareos-sd|bareos-fd|bconsole");
        std::process::exit(2);
    };
    let daemon = match daemon.as_str() {
        "bareos-dir" | "dir" => Daemon::Director,
        "bareos-sd" | "sd" => Daemon::Storage,
        "bareos-fd" | "fd" => Daemon::FileDaemon,
        "bconsole" | "console" => Daemon::Console,
        other => {
            eprintln!("unknown daemon {other}");
            std::process::exit(2);
        }
    };
    let report = check(&path, daemon);
    println!("{report}");
    std::process::exit(if report.is_ok() { 0 } else { 1 });
}
