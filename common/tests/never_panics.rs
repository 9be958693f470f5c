//! The whole pipeline (lexer, parser, typing, checks, typed views) never panics, whatever the
//! input. This is the stable-Rust companion of `fuzz/fuzz_targets/config_parse.rs`.

use barque_common::config::{check_str, schema, Daemon, Severity};
use proptest::prelude::*;

const DAEMONS: [Daemon; 4] = [
    Daemon::Director,
    Daemon::Storage,
    Daemon::FileDaemon,
    Daemon::Console,
];

fn run_all(data: &[u8]) {
    for d in DAEMONS {
        let r = check_str("p.conf", data, d);
        // Every diagnostic has a place and a message.
        for diag in &r.diagnostics {
            assert!(!diag.message.is_empty());
            assert!(!diag.loc.file.is_empty());
        }
        if r.is_ok() {
            assert!(r
                .diagnostics
                .iter()
                .all(|d| d.severity == Severity::Warning));
        }
        let c = &r.config;
        let _ = (
            c.fd_client(),
            c.fd_directors(),
            c.sd_storage(),
            c.sd_directors(),
            c.sd_devices(),
        );
        let _ = (
            c.console_directors(),
            c.console_consoles(),
            c.dir_director(),
            c.dir_clients(),
        );
        let _ = (c.dir_storages(), c.dir_consoles(), c.messages());
        for res in &c.resources {
            for dir in &res.directives {
                let _ = res.get_or_default(dir.name);
            }
        }
    }
}

/// Plausible configuration text: real resource types and directive names of a random daemon,
/// with values drawn from a grab bag of the shapes Bareos accepts and a few it does not.
fn config_text() -> impl Strategy<Value = String> {
    let value = prop_oneof![
        Just("yes".to_string()),
        Just("no".to_string()),
        Just("\"quoted \\\" string\"".to_string()),
        Just("365 days".to_string()),
        Just("10 kb".to_string()),
        Just("256 k/s".to_string()),
        Just("{ ip = { addr = 127.0.0.1; port = 9102 } }".to_string()),
        Just("bareos-dir = all, !skipped".to_string()),
        Just("\"/a\" = all".to_string()),
        Just("a, b, c".to_string()),
        Just("[md5]900150983cd24fb0d6963f7d28e17f72".to_string()),
        Just("-1".to_string()),
        Just("99999999999999999999".to_string()),
        Just("{".to_string()),
        Just("}".to_string()),
        "[a-z0-9 ]{0,12}",
    ];
    let daemon = prop::sample::select(DAEMONS.to_vec());
    (
        daemon,
        prop::collection::vec(
            (
                any::<prop::sample::Index>(),
                prop::collection::vec((any::<prop::sample::Index>(), value), 0..8),
            ),
            0..6,
        ),
    )
        .prop_map(|(d, resources)| {
            let mut out = String::new();
            for (ri, items) in resources {
                let rdef = ri.get(d.resources());
                out.push_str(rdef.name);
                out.push_str(" {\n");
                for (ii, v) in items {
                    let item = ii.get(rdef.items);
                    out.push_str(&format!("  {} = {v}\n", item.name));
                }
                out.push_str("}\n");
            }
            out
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn arbitrary_bytes(data in prop::collection::vec(any::<u8>(), 0..400)) {
        run_all(&data);
    }

    #[test]
    fn config_shaped_text(s in "[a-zA-Z0-9 \t\n{}=;,#\"@\\\\!*./:-]{0,400}") {
        run_all(s.as_bytes());
    }

    #[test]
    fn schema_shaped_text(s in config_text()) {
        run_all(s.as_bytes());
    }
}

#[test]
fn includes_are_refused_in_text() {
    let r = check_str("t.conf", b"@/etc/passwd\n", Daemon::FileDaemon);
    assert!(r.errors().any(|e| e.to_string()
        == "t.conf:1: @/etc/passwd: includes are only available in configuration files"));
}

#[test]
fn every_schema_directive_is_reachable() {
    // Each generated directive name is found again by its own name, with blanks inserted the
    // way administrators write them ("Maximum Concurrent Jobs").
    for d in DAEMONS {
        for r in d.resources() {
            for item in r.items {
                let spaced: String = item
                    .name
                    .chars()
                    .enumerate()
                    .flat_map(|(i, c)| {
                        (i > 0 && c.is_ascii_uppercase())
                            .then_some(' ')
                            .into_iter()
                            .chain([c])
                    })
                    .collect();
                let lexed: String = spaced.chars().filter(|c| *c != ' ').collect();
                assert_eq!(
                    schema::find_directive(r.items, &lexed).map(|x| x.name),
                    Some(item.name),
                    "{d} {} {}",
                    r.name,
                    item.name
                );
            }
        }
    }
}
