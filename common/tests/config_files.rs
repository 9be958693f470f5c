//! Configuration files on disk: every configuration used for the reference captures in
//! `shared/vectors/*/config/` loads with its daemon's schema, loads the same from the
//! `<daemon>.d/<type>/*.conf` layout, and the broken corpus in `tests/broken/` gives the
//! expected file:line errors.

use barque_common::config::{self, check, load, Daemon, Resource, Severity, Value};
use std::path::{Path, PathBuf};

fn vectors_dir() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let candidates = [
        std::env::var_os("BARQUE_VECTORS").map(PathBuf::from),
        Some(manifest.join("../../shared/vectors")),
        Some(manifest.join("../shared/vectors")),
        Some(PathBuf::from("/work/shared/vectors")),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|p| p.join("README.md").is_file())
        .expect("shared/vectors not found (set BARQUE_VECTORS)")
}

fn daemon_for(file: &str) -> Option<Daemon> {
    match file {
        "bareos-dir.conf" => Some(Daemon::Director),
        "bareos-sd.conf" => Some(Daemon::Storage),
        "bareos-fd.conf" => Some(Daemon::FileDaemon),
        "bconsole.conf" => Some(Daemon::Console),
        _ => None,
    }
}

/// Every capture configuration file with its daemon.
fn capture_configs() -> Vec<(PathBuf, Daemon)> {
    let mut out = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(vectors_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("config"))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    for d in dirs {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&d)
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .collect();
        files.sort();
        for f in files {
            let name = f.file_name().unwrap().to_string_lossy().into_owned();
            let daemon = daemon_for(&name)
                .unwrap_or_else(|| panic!("unexpected config file {}", f.display()));
            out.push((f, daemon));
        }
    }
    out
}

#[test]
fn every_capture_config_loads() {
    let configs = capture_configs();
    // 18 capture directories hold 63 files (vectors/README.md); all four daemons are covered.
    assert!(
        configs.len() >= 60,
        "only {} config files found",
        configs.len()
    );
    for daemon in [
        Daemon::Director,
        Daemon::Storage,
        Daemon::FileDaemon,
        Daemon::Console,
    ] {
        assert!(
            configs.iter().any(|(_, d)| *d == daemon),
            "no {daemon} config"
        );
    }
    for (path, daemon) in &configs {
        let report = check(path, *daemon);
        assert!(report.is_ok(), "{}:\n{report}", path.display());
        assert!(!report.config.resources.is_empty());
        // Every file also loads for its daemon through `load`.
        let cfg = load(path, *daemon).unwrap();
        assert_eq!(cfg.resources.len(), report.config.resources.len());
    }
}

#[test]
fn capture_configs_fail_for_the_wrong_daemon() {
    // A bareos-dir.conf is not a File daemon configuration: the schema really is per daemon.
    let v = vectors_dir();
    let report = check(
        v.join("clear-backup-full/config/bareos-dir.conf"),
        Daemon::FileDaemon,
    );
    assert!(!report.is_ok());
    assert!(
        report.errors().any(|e| e
            .message
            .starts_with("unknown resource type \"Catalog\" for bareos-fd")),
        "{report}"
    );
}

fn pw(r: &Resource) -> String {
    r.get("Password")
        .and_then(Value::as_password)
        .and_then(|p| p.plaintext())
        .unwrap()
        .to_string()
}

#[test]
fn capture_values_are_typed() {
    let v = vectors_dir();
    // clear-client-initiated/config/bareos-fd.conf: the FD dials the Director.
    let fd = load(
        v.join("clear-client-initiated/config/bareos-fd.conf"),
        Daemon::FileDaemon,
    )
    .unwrap();
    let client = fd.resource("Client", "bareos-fd").unwrap();
    assert_eq!(
        client.get("Heartbeat Interval"),
        Some(&Value::Duration(config::Seconds(5)))
    );
    let addrs = client.get("FdAddresses").unwrap();
    let Value::Addresses(a) = addrs else {
        panic!("{addrs:?}")
    };
    assert_eq!(a[0].addr.as_deref(), Some("127.0.0.1"));
    assert_eq!(a[0].port.as_deref(), Some("39202"));
    let dir = fd.resource("Director", "bareos-dir").unwrap();
    assert_eq!(pw(dir), "ref-fd-password");
    assert_eq!(
        dir.get("ConnectionFromClientToDirector"),
        Some(&Value::Bool(true))
    );
    assert_eq!(dir.get("Address"), Some(&Value::Str("127.0.0.1".into())));
    assert_eq!(dir.get("Port"), Some(&Value::Int(39201)));
    assert_eq!(dir.get("TLS Enable"), Some(&Value::Bool(false)));
    assert_eq!(dir.get("TLS Require"), Some(&Value::Bool(false)));

    // psk-backup-full: no TLS directives at all, so the defaults (TLS on, required) apply.
    let fd = load(
        v.join("psk-backup-full/config/bareos-fd.conf"),
        Daemon::FileDaemon,
    )
    .unwrap();
    let dir = fd.resource("Director", "bareos-dir").unwrap();
    assert_eq!(dir.get("TlsEnable"), None);
    assert_eq!(dir.get_or_default("TlsEnable"), Some(Value::Bool(true)));
    assert_eq!(dir.get_or_default("TlsRequire"), Some(Value::Bool(true)));

    // clear-cancel/config/bareos-dir.conf (round 2): `Maximum Bandwidth = 256 k/s`.
    let d = load(
        v.join("clear-cancel/config/bareos-dir.conf"),
        Daemon::Director,
    )
    .unwrap();
    let job = d.resource("Job", "CapSlowBackup").unwrap();
    assert_eq!(job.get("MaximumBandwidth"), Some(&Value::Speed(256 * 1024)));
    let pool = d.resource("Pool", "Cap").unwrap();
    assert_eq!(
        pool.get("Volume Retention"),
        Some(&Value::Duration(config::Seconds(365 * 86400)))
    );
    assert_eq!(pool.get("Maximum Volume Jobs"), Some(&Value::Int(1)));
    assert_eq!(pool.get("Label Format"), Some(&Value::Str("Cap-".into())));
    let client = d.resource("Client", "bareos-fd-badpw").unwrap();
    assert_eq!(pw(client), "wrong-fd-password");
    // FileSet CapSet: Include { Options { Signature = SHA256; Sparse = yes; HardLinks = yes } File = ... }
    let fs = d.resource("FileSet", "CapSet").unwrap();
    let Some(Value::Blocks(includes)) = fs.get("Include") else {
        panic!()
    };
    assert_eq!(includes.len(), 1);
    let file = includes[0].iter().find(|d| d.name == "File").unwrap();
    assert_eq!(
        file.value,
        Value::List(vec!["/srv/bareos-capture2/testdata/tree".into()])
    );
    let Value::Blocks(opts) = &includes[0]
        .iter()
        .find(|d| d.name == "Options")
        .unwrap()
        .value
    else {
        panic!()
    };
    let opt = |n: &str| {
        opts[0]
            .iter()
            .find(|d| d.name == n)
            .map(|d| d.value.clone())
    };
    assert_eq!(opt("Signature"), Some(Value::Str("SHA256".into())));
    assert_eq!(opt("Sparse"), Some(Value::Str("yes".into())));
    assert_eq!(opt("HardLinks"), Some(Value::Str("yes".into())));
    // Messages Daemon: append = "/srv/.../bareos-audit.log" = audit, twice `append` accumulated.
    let m = d.resource("Messages", "Daemon").unwrap();
    let Some(Value::Messages(appends)) = m.get("Append") else {
        panic!()
    };
    assert_eq!(appends.len(), 2);
    assert_eq!(
        appends[1].target,
        ["/srv/bareos-capture2/log/bareos-audit.log"]
    );
    assert_eq!(appends[1].types, ["audit"]);
    let Some(Value::Messages(console)) = m.get("console") else {
        panic!()
    };
    assert_eq!(console[0].types, ["all", "!skipped", "!saved", "!audit"]);
    // Profile ACLs with `*all*`.
    let p = d.resource("Profile", "ref-all").unwrap();
    assert_eq!(p.get("JobAcl"), Some(&Value::List(vec!["*all*".into()])));
    let con = d.resource("Console", "ref-admin").unwrap();
    assert_eq!(pw(con), "ref-admin-console-password");
    assert_eq!(
        con.get("Profile"),
        Some(&Value::List(vec!["ref-all".into()]))
    );

    // bconsole.conf
    let c = load(
        v.join("clear-bconsole/config/bconsole.conf"),
        Daemon::Console,
    )
    .unwrap();
    let dir = c.resource("Director", "bareos-dir").unwrap();
    assert_eq!(pw(dir), "ref-dir-console-password");
    assert_eq!(dir.get("Port"), Some(&Value::Int(39201)));

    // volume-multiblock/config/bareos-sd.conf
    let sd = load(
        v.join("volume-multiblock/config/bareos-sd.conf"),
        Daemon::Storage,
    )
    .unwrap();
    let dev = sd.resource("Device", "FileStorage").unwrap();
    assert_eq!(
        dev.get("Archive Device"),
        Some(&Value::Str("/srv/bareos-capture2/storage".into()))
    );
    assert_eq!(dev.get("LabelMedia"), Some(&Value::Bool(true)));
    assert_eq!(dev.get("RemovableMedia"), Some(&Value::Bool(false)));
    let st = sd.resource("Storage", "bareos-sd").unwrap();
    assert_eq!(
        st.get("BackendDirectory"),
        Some(&Value::List(vec!["/usr/lib/bareos/backends".into()]))
    );
}

/// Split a configuration into its top-level resources (text, type, name) by brace depth,
/// ignoring braces in comments and quoted strings.
fn split_resources(text: &str) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut depth = 0i32;
    for line in text.lines() {
        let mut in_quote = false;
        let mut esc = false;
        for c in line.chars() {
            match c {
                _ if esc => esc = false,
                '\\' if in_quote => esc = true,
                '"' => in_quote = !in_quote,
                '#' if !in_quote => break,
                '{' if !in_quote => depth += 1,
                '}' if !in_quote => depth -= 1,
                _ => {}
            }
        }
        if cur.is_empty() && line.trim().is_empty()
            || (cur.is_empty() && line.trim_start().starts_with('#'))
        {
            continue;
        }
        cur.push_str(line);
        cur.push('\n');
        if depth == 0 {
            let kind = cur.split_whitespace().next().unwrap().to_string();
            let name = cur
                .lines()
                .find_map(|l| {
                    let l = l.trim();
                    l.strip_prefix("Name").map(|r| {
                        r.trim_start()
                            .trim_start_matches('=')
                            .trim()
                            .trim_matches('"')
                            .to_string()
                    })
                })
                .unwrap();
            out.push((std::mem::take(&mut cur), kind, name));
        }
    }
    assert!(cur.trim().is_empty(), "unbalanced braces");
    out
}

type Stripped = Vec<(String, String, Vec<(String, Value)>)>;

fn strip_locations(resources: &[Resource]) -> Stripped {
    let mut v: Vec<_> = resources
        .iter()
        .map(|r| {
            (
                r.kind.to_string(),
                r.name.clone(),
                r.directives
                    .iter()
                    .map(|d| (d.name.to_string(), strip_value(&d.value)))
                    .collect(),
            )
        })
        .collect();
    v.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    v
}

fn strip_value(v: &Value) -> Value {
    match v {
        Value::Blocks(bs) => Value::Blocks(
            bs.iter()
                .map(|b| {
                    b.iter()
                        .map(|d| config::Directive {
                            name: d.name,
                            loc: config::Location {
                                file: "".into(),
                                line: 0,
                            },
                            value: strip_value(&d.value),
                        })
                        .collect()
                })
                .collect(),
        ),
        v => v.clone(),
    }
}

#[test]
fn capture_configs_load_from_the_directory_layout() {
    for (path, daemon) in capture_configs() {
        let text = std::fs::read_to_string(&path).unwrap();
        let single = load(&path, daemon).unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let inc = tmp.path().join(daemon.include_dir_name());
        let parts = split_resources(&text);
        assert_eq!(parts.len(), single.resources.len(), "{}", path.display());
        for (body, kind, name) in &parts {
            let dir = inc.join(kind.to_ascii_lowercase());
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(format!("{name}.conf")), body).unwrap();
        }
        let layout = load(tmp.path(), daemon).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(
            strip_locations(&layout.resources),
            strip_locations(&single.resources),
            "{}",
            path.display()
        );
        // Messages name the file inside the layout.
        let r = &layout.resources[0];
        assert!(
            r.loc
                .file
                .starts_with(&format!("{}/", daemon.include_dir_name())),
            "{}",
            r.loc
        );
        // A `<daemon>.conf` beside the directory wins, as in Bareos.
        std::fs::copy(&path, tmp.path().join(daemon.default_file_name())).unwrap();
        let report = check(tmp.path(), daemon);
        assert_eq!(report.files, [tmp.path().join(daemon.default_file_name())]);
        assert!(report.is_ok());
    }
}

#[test]
fn directory_layout_reports_layout_paths() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("bareos-fd.d");
    std::fs::create_dir_all(d.join("client")).unwrap();
    std::fs::create_dir_all(d.join("director")).unwrap();
    std::fs::create_dir_all(d.join("messages")).unwrap();
    std::fs::write(d.join("client/myself.conf"), "Client {\n  Name = fd\n}\n").unwrap();
    std::fs::write(
        d.join("messages/Standard.conf"),
        "Messages {\n  Name = Standard\n}\n",
    )
    .unwrap();
    std::fs::write(
        d.join("director/bareos-dir.conf"),
        "Director {\n  Name = bareos-dir\n  Address = 127.0.0.1\n  Pasword = \"x\"\n}\n",
    )
    .unwrap();
    // Not *.conf: ignored, like Bareos' glob.
    std::fs::write(d.join("director/old.conf.bak"), "garbage {").unwrap();
    let err = load(tmp.path(), Daemon::FileDaemon).unwrap_err();
    let msgs: Vec<String> = err
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| d.to_string())
        .collect();
    assert_eq!(
        msgs,
        [
            "bareos-fd.d/director/bareos-dir.conf:4: unknown directive \"Pasword\" in Director resource \"bareos-dir\"; did you mean \"Password\"?",
            "bareos-fd.d/director/bareos-dir.conf:1: Director resource \"bareos-dir\" is missing the required directive \"Password\"; add Password = ...",
        ]
    );
    // An empty or absent layout is an error that says where we looked.
    let empty = tempfile::tempdir().unwrap();
    let err = load(empty.path(), Daemon::Storage).unwrap_err().to_string();
    assert!(
        err.contains("bareos-sd.conf") && err.contains("bareos-sd.d/*/*.conf"),
        "{err}"
    );
}

#[test]
fn includes_relative_glob_and_inside_resources() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path();
    std::fs::create_dir_all(p.join("clients")).unwrap();
    std::fs::write(p.join("pw.inc"), "  Password = \"from-include\"\n").unwrap();
    std::fs::write(
        p.join("clients/b.conf"),
        "Director {\n Name = dir-b\n Password = b\n}\n",
    )
    .unwrap();
    std::fs::write(
        p.join("clients/a.conf"),
        "Director {\n Name = dir-a\n Password = a\n}\n",
    )
    .unwrap();
    std::fs::write(
        p.join("bareos-fd.conf"),
        "Client { Name = fd }\nMessages { Name = m }\nDirector {\n  Name = main\n  @pw.inc\n  Address = x\n}\n@clients/*.conf\n@\"nothing-*.conf\"\n",
    )
    .unwrap();
    let cfg = load(p.join("bareos-fd.conf"), Daemon::FileDaemon).unwrap();
    let names: Vec<&str> = cfg.resources("Director").map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        ["main", "dir-a", "dir-b"],
        "glob matches are read in sorted order"
    );
    let main = cfg.resource("Director", "main").unwrap();
    assert_eq!(pw(main), "from-include");
    assert_eq!(main.get("Address"), Some(&Value::Str("x".into())));
    assert_eq!(
        main.directive("Password").unwrap().loc.to_string(),
        "pw.inc:1"
    );
    // The empty glob is a warning, not an error.
    assert!(
        cfg.warnings
            .iter()
            .any(|w| w.message.contains("nothing-*.conf: no file matches")),
        "{:?}",
        cfg.warnings
    );
}

#[test]
fn broken_corpus_gives_the_expected_errors() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/broken");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "conf"))
        .collect();
    files.sort();
    assert!(files.len() >= 15, "{}", files.len());
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let daemon = match text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# daemon: "))
        {
            Some("bareos-fd") => Daemon::FileDaemon,
            Some("bareos-sd") => Daemon::Storage,
            Some("bareos-dir") => Daemon::Director,
            Some("bconsole") => Daemon::Console,
            other => panic!("{name}: bad daemon line {other:?}"),
        };
        let expected: Vec<String> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# expect: "))
            .map(|e| {
                if e.starts_with(|c: char| c.is_ascii_digit()) {
                    format!("{name}:{e}")
                } else {
                    e.to_string()
                }
            })
            .collect();
        assert!(!expected.is_empty(), "{name} has no expectations");
        let report = check(&f, daemon);
        let errors: Vec<String> = report.errors().map(|d| d.to_string()).collect();
        for e in &expected {
            assert!(
                errors.iter().any(|got| got.starts_with(e.as_str())),
                "{name}: expected\n  {e}\ngot\n  {}",
                errors.join("\n  ")
            );
        }
        assert_eq!(
            errors.len(),
            expected.len(),
            "{name}: unexpected extra errors:\n  {}",
            errors.join("\n  ")
        );
        assert!(load(&f, daemon).is_err());
    }
}

#[test]
fn typed_views_of_capture_configs() {
    let v = vectors_dir();
    // clear-client-initiated: the FD dials bareos-dir at 127.0.0.1:39201, heartbeat 5 s.
    let fd = load(
        v.join("clear-client-initiated/config/bareos-fd.conf"),
        Daemon::FileDaemon,
    )
    .unwrap();
    let client = fd.fd_client().unwrap();
    assert_eq!(client.name, "bareos-fd");
    assert_eq!(client.heartbeat_interval, config::Seconds(5));
    assert_eq!(client.addresses[0].addr.as_deref(), Some("127.0.0.1"));
    assert_eq!(client.addresses[0].port.as_deref(), Some("39202"));
    assert!(!client.tls.enable && !client.tls.require);
    let dirs = fd.fd_directors();
    assert_eq!(dirs.len(), 1);
    assert!(dirs[0].connection_from_client_to_director);
    assert!(
        dirs[0].connection_from_director_to_client,
        "default stays yes"
    );
    assert_eq!(
        (dirs[0].address.as_deref(), dirs[0].port),
        (Some("127.0.0.1"), 39201)
    );
    // The CRAM-MD5 secret is the MD5 hex of the configured password.
    assert_eq!(dirs[0].password.md5_hex().len(), 32);
    assert_eq!(dirs[0].password.plaintext(), Some("ref-fd-password"));

    // psk-dir-fd: TLS defaults on, no certificate: TLS-PSK.
    let fd = load(
        v.join("psk-dir-fd/config/bareos-fd.conf"),
        Daemon::FileDaemon,
    )
    .unwrap();
    let d = &fd.fd_directors()[0];
    assert!(d.tls.enable && d.tls.require && !d.tls.has_certificate());

    // clear-backup-passive: the Director's Client has Passive = yes.
    let dir = load(
        v.join("clear-backup-passive/config/bareos-dir.conf"),
        Daemon::Director,
    )
    .unwrap();
    let c = dir
        .dir_clients()
        .into_iter()
        .find(|c| c.name == "bareos-fd")
        .unwrap();
    assert!(c.passive);
    assert_eq!((c.address.as_str(), c.port), ("127.0.0.1", 39202));
    let s = &dir.dir_storages()[0];
    assert_eq!(
        (s.name.as_str(), s.port, s.devices.as_slice()),
        ("File", 39203, &["FileStorage".to_string()][..])
    );
    let job = dir
        .dir_jobs()
        .into_iter()
        .find(|j| j.name == "CapBackup")
        .unwrap();
    assert_eq!(job.job_type, "Backup");
    assert_eq!(job.level.as_deref(), Some("Full"));
    assert_eq!(job.client.as_deref(), Some("bareos-fd"));
    assert_eq!(job.fileset.as_deref(), Some("CapSet"));
    assert_eq!(job.storage, ["File"]);
    assert_eq!(job.pool.as_deref(), Some("Cap"));
    assert_eq!(
        job.write_bootstrap.as_deref(),
        Some("/srv/bareos-capture/state/dir/%n-%i.bsr")
    );
    let fs = dir
        .dir_filesets()
        .into_iter()
        .find(|f| f.name == "CapSet")
        .unwrap();
    assert_eq!(fs.includes[0].files, ["/srv/bareos-capture/testdata/tree"]);
    assert_eq!(fs.includes[0].options[0].letters, "S2HAX");
    let me = dir.dir_director().unwrap();
    assert_eq!(me.maximum_concurrent_jobs, 10);
    assert!(me.auditing);
    assert_eq!(dir.dir_consoles()[0].profiles, ["ref-all"]);

    // bconsole.conf and the SD.
    let con = load(
        v.join("psk-console-dir/config/bconsole.conf"),
        Daemon::Console,
    )
    .unwrap();
    let cd = &con.console_directors()[0];
    assert_eq!((cd.address.as_str(), cd.port), ("127.0.0.1", 39201));
    assert_eq!(
        cd.password.as_ref().and_then(|p| p.plaintext()),
        Some("ref-dir-console-password")
    );
    let sd = load(
        v.join("clear-backup-full/config/bareos-sd.conf"),
        Daemon::Storage,
    )
    .unwrap();
    let st = sd.sd_storage().unwrap();
    assert_eq!(st.addresses[0].port.as_deref(), Some("39203"));
    assert_eq!(
        sd.sd_directors()[0].password.plaintext(),
        Some("ref-sd-password")
    );
    let dev = &sd.sd_devices()[0];
    assert_eq!(
        (dev.media_type.as_str(), dev.device_type.as_str()),
        ("File", "File")
    );
    assert!(
        dev.label_media
            && dev.random_access
            && dev.automatic_mount
            && !dev.removable_media
            && !dev.always_open
    );
}

#[test]
fn fileset_option_strings_match_the_wire() {
    use barque_common::config::fileset::include_options;
    let v = vectors_dir();
    let include_of = |path: &str, fileset: &str| {
        let d = load(v.join(path), Daemon::Director).unwrap();
        let fs = d.resource("FileSet", fileset).unwrap();
        let Some(Value::Blocks(inc)) = fs.get("Include") else {
            panic!()
        };
        include_options(&inc[0]).unwrap()
    };
    // clear-backup-full/transcript.txt, dir>fd connection, msg 15: b'O S2HAX\n'
    // (Options { Signature = SHA256 }: S2, then the defaults H, A, X).
    assert_eq!(
        include_of("clear-backup-full/config/bareos-dir.conf", "CapSet"),
        ["S2HAX"]
    );
    // clear-backup-multiblock/transcript.txt, dir>fd connection, msg 15: b'O S2s0AX\n'
    // (Signature = SHA256; Sparse = yes; HardLinks = yes).
    assert_eq!(
        include_of("clear-backup-multiblock/config/bareos-dir.conf", "CapSet"),
        ["S2s0AX"]
    );
    // Both lines really are in the captures.
    for (capture, line) in [
        ("clear-backup-full", "b'O S2HAX\\n'"),
        ("clear-backup-multiblock", "b'O S2s0AX\\n'"),
    ] {
        let t = std::fs::read_to_string(v.join(capture).join("transcript.txt")).unwrap();
        assert!(t.contains(line), "{capture}");
    }
}
