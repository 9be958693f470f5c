//! Small pieces shared by the two binaries: a stderr logger and option parsing helpers.

use std::io::Write;

struct StderrLogger {
    level: log::LevelFilter,
    prefix: &'static str,
}

impl log::Log for StderrLogger {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= self.level
    }

    fn log(&self, r: &log::Record<'_>) {
        if self.enabled(r.metadata()) {
            let _ = writeln!(
                std::io::stderr(),
                "{}: {} {}",
                self.prefix,
                r.level(),
                r.args()
            );
        }
    }

    fn flush(&self) {}
}

/// Install a logger on stderr. Bareos' `-d N` debug levels map to: 0 warnings and
/// information, 1..=199 debug, 200 and more trace.
pub fn init_logging(prefix: &'static str, debug: u32, quiet: bool) {
    let level = match debug {
        0 if quiet => log::LevelFilter::Warn,
        0 => log::LevelFilter::Info,
        1..=199 => log::LevelFilter::Debug,
        _ => log::LevelFilter::Trace,
    };
    let logger = Box::leak(Box::new(StderrLogger { level, prefix }));
    if log::set_logger(logger).is_ok() {
        log::set_max_level(level);
    }
}

/// The value of an option: `-c PATH` or `-cPATH`.
pub fn take_value(
    flag: &str,
    arg: &str,
    it: &mut impl Iterator<Item = String>,
) -> Result<String, String> {
    let glued = arg.strip_prefix(flag).unwrap_or("");
    if !glued.is_empty() {
        return Ok(glued.to_string());
    }
    it.next()
        .ok_or_else(|| format!("option {flag} needs a value"))
}
