//! Fuzz the Bareos configuration pipeline (lexer, parser, typing, checks) for every daemon.
//! `cargo +nightly fuzz run config_parse`; the stable counterpart is
//! `common/tests/never_panics.rs`.
#![no_main]

use barque_common::config::{check_str, Daemon};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for daemon in [Daemon::Director, Daemon::Storage, Daemon::FileDaemon, Daemon::Console] {
        let report = check_str("fuzz.conf", data, daemon);
        let _ = report.to_string();
        let c = &report.config;
        let _ = (c.fd_client(), c.fd_directors(), c.sd_storage(), c.sd_devices());
        let _ = (c.console_directors(), c.dir_director(), c.dir_clients(), c.messages());
    }
});
