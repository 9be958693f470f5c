//! `barque-dissect <capture.pcap | transcript.jsonl | capture-dir>...`: print every message of a
//! Bareos capture, decoded by fd-core.

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() || args.iter().any(|a| a == "-h" || a == "--help") {
        eprintln!("usage: barque-dissect <capture.pcap | transcript.jsonl | capture-dir>...");
        eprintln!("Decodes every bsock message of a Bareos capture with fd-core.");
        return ExitCode::from(2);
    }
    let mut failed = false;
    for a in &args {
        match barque_dissect::report(Path::new(a), &mut std::io::stdout().lock()) {
            Ok(summary)
                if summary.errors == 0 && summary.unknown == 0 && summary.reemit_failed == 0 => {}
            Ok(summary) => {
                eprintln!(
                    "{a}: {} message(s) fd-core could not decode",
                    summary.errors
                );
                failed = true;
            }
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
