//! `barque-dissect <capture.pcap | transcript.jsonl | capture-dir>...`: print every message of a
//! Bareos capture, decoded by fd-core.

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() || args.iter().any(|a| a == "-h" || a == "--help") {
        eprintln!("usage: barque-dissect [-v] <capture.pcap | transcript.jsonl | capture-dir>...");
        eprintln!("Decodes every bsock message of a Bareos capture with fd-core and checks that");
        eprintln!("fd-core re-emits each one byte for byte. -v: do not cut long lines.");
        return ExitCode::from(2);
    }
    let mut opts = barque_dissect::ReportOptions::default();
    args.retain(|a| {
        if a == "-v" || a == "--full" {
            opts.full = true;
            false
        } else {
            true
        }
    });
    let mut failed = false;
    for a in &args {
        match barque_dissect::report_with(Path::new(a), &mut std::io::stdout().lock(), opts) {
            Ok(summary)
                if summary.errors == 0 && summary.unknown == 0 && summary.reemit_failed == 0 => {}
            Ok(summary) => {
                eprintln!(
                    "{a}: {} decode error(s), {} message(s) with unknown values, {} re-emit mismatch(es)",
                    summary.errors, summary.unknown, summary.reemit_failed
                );
                failed = true;
            }
            // `barque-dissect x.pcap | head`: the reader went away, nothing to report.
            Err(e) if e.what.contains("Broken pipe") => return ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("barque-dissect: {e}");
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
