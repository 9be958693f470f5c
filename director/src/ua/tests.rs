//! Unit tests of the command table and the commands, against the clear-bconsole /
//! clear-dot-status configurations (vectors/*/config/bareos-dir.conf).

use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use barque_common::config::{check_str, Daemon};
use fd_core::wire::console::ApiMode;

use super::*;
use crate::model::Model;

fn capture_conf() -> String {
    let root = barque_testkit::vectors();
    let p = root.join("clear-bconsole/config/bareos-dir.conf");
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

const LIMITED: &str = r#"
Profile {
  Name = only-status
  CommandACL = status, .clients, .api, version, "!run"
  ClientACL = bareos-fd
  JobACL = "Cap.*", "!CapRestore"
}
Console {
  Name = limited
  Password = "limited-pw"
  Profile = only-status
  CommandACL = "!status", "!list"
}
"#;

fn model() -> Model {
    let text = format!("{}{LIMITED}", capture_conf());
    let report = check_str("bareos-dir.conf", text.as_bytes(), Daemon::Director);
    assert!(report.is_ok(), "{report}");
    Model::from_config(Path::new("bareos-dir.conf"), report.config).expect("model")
}

fn session(m: &Model, name: &str) -> Session {
    Session::new(m.console(name).expect("console"))
}

fn no_reload() -> Result<(), String> {
    Err("no reload in unit tests".into())
}

fn no_messages() -> Vec<String> {
    Vec::new()
}

fn ctx(m: &Model) -> Ctx<'_> {
    Ctx {
        model: m,
        // vectors/clear-bconsole conn 1: the Director started 22-Nov-26 15:47.
        started: UNIX_EPOCH + Duration::from_secs(1_795_362_474),
        consoles: vec![UNIX_EPOCH + Duration::from_secs(1_795_362_474)],
        reload: &no_reload,
        engine: None,
        take_messages: &no_messages,
    }
}

fn run(m: &Model, s: &mut Session, line: &str) -> Executed {
    execute(&ctx(m), s, line)
}

#[test]
fn table_prefix_matching_follows_bareos_order() {
    assert_eq!(lookup("st").map(|c| c.key), Some("status"));
    assert_eq!(lookup("s").map(|c| c.key), Some("status"));
    assert_eq!(lookup("VER").map(|c| c.key), Some("version"));
    assert_eq!(lookup("l").map(|c| c.key), Some("label"));
    assert_eq!(lookup("li").map(|c| c.key), Some("list"));
    assert_eq!(lookup(".").map(|c| c.key), Some("."));
    assert_eq!(lookup(".st").map(|c| c.key), Some(".status"));
    assert!(
        lookup("versions").is_none(),
        "a longer word is not a prefix"
    );
    assert!(lookup("").is_none());
    // Every key is unique.
    for (i, a) in COMMANDS.iter().enumerate() {
        assert!(
            COMMANDS.iter().skip(i + 1).all(|b| b.key != a.key),
            "{}",
            a.key
        );
    }
}

#[test]
fn invalid_command_text() {
    let m = model();
    let mut s = session(&m, "*UserAgent*");
    let ex = run(&m, &mut s, "frobnicate now");
    assert_eq!(ex.command, None);
    assert!(!ex.reply.ok);
    assert_eq!(ex.reply.joined(), "frobnicate: is an invalid command.\n");
}

#[test]
fn status_dir_matches_capture_layout() {
    // vectors/clear-bconsole conn 1 msgs 11-26: the pieces that do not depend on jobs or
    // on the version string are byte-identical, and the frame boundaries are the same.
    let m = model();
    let mut s = session(&m, "*UserAgent*");
    let ex = run(&m, &mut s, "status dir");
    assert_eq!(ex.command, Some("status"));
    let t = &ex.reply.text;
    assert!(t[0].starts_with("bareos-dir Version: "));
    assert_eq!(
        t[1],
        "Daemon started 22-Nov-26 15:47. Jobs: run=0, running=0 db:postgresql, self-compiled binary\n"
    );
    assert_eq!(t[2], "No Scheduled Jobs.\n"); // msg 13
    assert_eq!(t[3], "====\n"); // msg 14
    assert_eq!(t[4], "\nRunning Jobs:\n"); // msg 15
    assert_eq!(t[5], "Console connected at 22-Nov-26 15:47\n"); // msg 16
    assert_eq!(t[6], "No Jobs running.\n====\n"); // msg 17
    assert_eq!(t[7], "No Terminated Jobs.\n");
    assert_eq!(t[8], "\n"); // msg 24
                            // msg 25, 252 bytes
    let block = b"\nClient Initiated Connections (waiting for jobs):\nConnect time        Protocol            Authenticated       Name                                    \n====================================================================================================\n";
    assert_eq!(t[9].as_bytes(), block);
    assert_eq!(t[9].len(), 252);
    assert_eq!(t[10], "====\n"); // msg 26
    assert_eq!(t.len(), 11);
}

#[test]
fn dot_status_dir_running_matches_capture() {
    // vectors/clear-dot-status conn 1 msgs 11-13 (the console connected 22-Nov-26 16:47).
    let m = model();
    let mut s = session(&m, "*UserAgent*");
    let mut c = ctx(&m);
    c.consoles = vec![UNIX_EPOCH + Duration::from_secs(1_795_366_047)];
    let ex = execute(&c, &mut s, ".status dir running");
    assert_eq!(
        ex.reply.text,
        vec![
            "\nRunning Jobs:\n".to_string(),
            "Console connected at 22-Nov-26 16:47\n".to_string(),
            "No Jobs running.\n====\n".to_string(),
        ]
    );
    let bad = execute(&c, &mut s, ".status dir nonsense");
    assert_eq!(
        bad.reply.joined(),
        "1900 Bad .status command, wrong argument.\n"
    );
    let none = execute(&c, &mut s, ".status");
    assert_eq!(
        none.reply.joined(),
        "1900 Bad .status command, missing arguments.\n"
    );
}

#[test]
fn api_switches_mode_and_result() {
    let m = model();
    let mut s = session(&m, "*UserAgent*");
    let ex = run(&m, &mut s, ".api 2");
    assert_eq!(s.api, ApiMode::Json);
    assert_eq!(
        crate::json::rpc_result(ex.reply.result).pretty().as_bytes(),
        // vectors/clear-bconsole conn 1 msg 38
        b"{\n  \"jsonrpc\": \"2.0\",\n  \"id\": null,\n  \"result\": {\n    \"api\": 2\n  }\n}"
    );
    run(&m, &mut s, ".api json compact=yes");
    assert!(s.compact);
    let ex = run(&m, &mut s, ".api 0");
    assert_eq!(s.api, ApiMode::Off);
    assert_eq!(ex.reply.joined(), "api: 0\n");
    let ex = run(&m, &mut s, ".api 7");
    assert!(!ex.reply.ok);
    assert_eq!(s.api, ApiMode::Off);
}

#[test]
fn engine_commands_parse_and_say_the_engine_is_missing() {
    let m = model();
    let mut s = session(&m, "*UserAgent*");
    let ex = run(&m, &mut s, "run job=CapBackup level=Full yes");
    assert_eq!(ex.command, Some("run"));
    assert!(!ex.reply.ok);
    assert_eq!(
        ex.reply.joined(),
        "run: the job engine is not available in this build\n"
    );
    let ex = run(&m, &mut s, "run job=NoSuchJob yes");
    assert_eq!(ex.reply.joined(), "Job \"NoSuchJob\" not found\n");
    let ex = run(&m, &mut s, "run yes");
    assert_eq!(ex.reply.joined(), "A job name must be specified.\n");
    let ex = run(&m, &mut s, "run job=CapBackup priority=0");
    assert_eq!(ex.reply.joined(), "Priority must be 1 or greater.\n");
    let ex = run(&m, &mut s, "list jobs");
    assert_eq!(
        ex.reply.joined(),
        "list: the catalog is not available in this build\n"
    );
    let ex = run(&m, &mut s, "status client=bareos-fd");
    assert_eq!(
        ex.reply.joined(),
        "status: the job engine is not available in this build\n"
    );
    let ex = run(&m, &mut s, "status client=nope");
    assert_eq!(ex.reply.joined(), "Client \"nope\" not found.\n");
    let ex = run(&m, &mut s, "cancel jobid=x");
    assert_eq!(ex.reply.joined(), "Invalid JobId x\n");
    let ex = run(&m, &mut s, "restore jobid=1,2 where=/tmp/r all yes");
    assert_eq!(
        ex.reply.joined(),
        "restore: the job engine is not available in this build\n"
    );
}

#[test]
fn engine_requests_are_typed() {
    let m = model();
    let s = session(&m, "*UserAgent*");
    let c = ctx(&m);
    let a = Args::parse("run job=capbackup client=bareos-fd where=/x accurate=yes yes").unwrap();
    match engine::parse(&c, &s, "run", &a) {
        Ok(engine::Request::Run(r)) => {
            assert_eq!(r.job, "CapBackup", "canonical name");
            assert_eq!(r.client.as_deref(), Some("bareos-fd"));
            assert_eq!(r.where_.as_deref(), Some("/x"));
            assert_eq!(r.accurate, Some(true));
            assert!(r.yes);
        }
        other => panic!("{other:?}"),
    }
    let a = Args::parse("restore jobid=1,2").unwrap();
    match engine::parse(&c, &s, "restore", &a) {
        Ok(engine::Request::Restore(r)) => assert_eq!(r.jobids, vec![1, 2]),
        other => panic!("{other:?}"),
    }
    // A Copy/Migrate job's source backups.
    let a = Args::parse("run job=CapBackup jobid=3,4 yes").unwrap();
    match engine::parse(&c, &s, "run", &a) {
        Ok(engine::Request::Run(r)) => assert_eq!(r.jobids, vec![3, 4]),
        other => panic!("{other:?}"),
    }
    let a = Args::parse("run job=CapBackup jobid=x yes").unwrap();
    assert!(engine::parse(&c, &s, "run", &a).is_err());
}

#[test]
fn named_console_acls() {
    let m = model();
    let mut s = session(&m, "limited");
    // Own CommandACL denies status before the profile allows it.
    let ex = run(&m, &mut s, "status dir");
    assert_eq!(ex.command, None);
    assert_eq!(ex.reply.joined(), "status: is an invalid command.\n");
    // The profile allows version.
    assert!(run(&m, &mut s, "version").reply.ok);
    // Not in any list: refused with Bareos' text.
    assert_eq!(
        run(&m, &mut s, "show clients").reply.joined(),
        "show: is an invalid command.\n"
    );
    // quit is always allowed.
    let ex = run(&m, &mut s, "quit");
    assert_eq!(ex.command, Some("quit"));
    assert!(s.quit);
    // .clients filtered by ClientACL; the default console sees all.
    let mut s2 = session(&m, "limited");
    s2.acl = crate::acl::UserAcl::named(
        {
            let mut l = crate::acl::AclLists::default();
            l.set(AclKind::Command, vec!["run".into()]);
            l.set(AclKind::Job, vec!["CapBackup".into()]);
            l.set(AclKind::Where, vec!["/tmp/ok".into()]);
            l
        },
        vec![],
    );
    assert_eq!(
        run(&m, &mut s2, "run job=CapBackup client=bareos-fd")
            .reply
            .joined(),
        "No authorization. Client \"bareos-fd\".\n"
    );
    assert_eq!(
        run(&m, &mut s2, "run job=CapRestore").reply.joined(),
        "Job \"CapRestore\" not found\n"
    );
    assert_eq!(
        run(&m, &mut s2, "run job=CapBackup where=/tmp/no")
            .reply
            .joined(),
        "No authorization for \"where\" specification.\n"
    );
    assert_eq!(
        run(&m, &mut s2, "run job=CapBackup pluginoptions=x")
            .reply
            .joined(),
        "No authorization for \"PluginOptions\" specification.\n"
    );
    assert_eq!(
        run(&m, &mut s2, "run job=CapBackup where=/tmp/ok")
            .reply
            .joined(),
        "run: the job engine is not available in this build\n"
    );
    let mut s = session(&m, "limited");
    assert_eq!(run(&m, &mut s, ".clients").reply.joined(), "bareos-fd\n");
    assert_eq!(s.console, "limited");
}

#[test]
fn whoami_version_messages() {
    let m = model();
    let mut s = session(&m, "*UserAgent*");
    assert_eq!(run(&m, &mut s, "whoami").reply.joined(), "root\n");
    assert_eq!(
        run(&m, &mut s, "version").reply.joined(),
        format!("bareos-dir Version: {VERSION} ({BUILD_DATE}) {OS_INFO}\n")
    );
    assert_eq!(
        run(&m, &mut s, "messages").reply.joined(),
        "You have no messages.\n"
    );
    assert!(run(&m, &mut s, "autodisplay off").reply.text.is_empty());
    assert!(
        !run(&m, &mut s, "reload").reply.ok,
        "reload reports failure"
    );
}

#[test]
fn dot_commands_list_resources() {
    let m = model();
    let mut s = session(&m, "*UserAgent*");
    assert_eq!(
        run(&m, &mut s, ".jobs").reply.joined(),
        "CapBackup\nCapRestore\n"
    );
    assert_eq!(
        run(&m, &mut s, ".jobs type=R").reply.joined(),
        "CapRestore\n"
    );
    assert_eq!(run(&m, &mut s, ".pools").reply.joined(), "Cap\nScratch\n");
    assert_eq!(
        run(&m, &mut s, ".types").reply.joined(),
        "Backup\nAdmin\nArchive\nVerify\nRestore\nMigrate\nCopy\nConsolidate\n"
    );
    assert_eq!(
        run(&m, &mut s, ".levels copy").reply.joined(),
        "Full\nIncremental\nDifferential\n"
    );
    assert_eq!(run(&m, &mut s, ".levels").reply.text[0].lines().count(), 17);
    assert_eq!(
        run(&m, &mut s, ".levels verify").reply.result.compact(),
        "{\"levels\":[{\"name\":\"Catalog\",\"level\":67,\"jobtype\":86},{\"name\":\"InitCatalog\",\"level\":86,\"jobtype\":86},{\"name\":\"VolumeToCatalog\",\"level\":79,\"jobtype\":86},{\"name\":\"DiskToCatalog\",\"level\":100,\"jobtype\":86},{\"name\":\"Data\",\"level\":65,\"jobtype\":86}]}"
    );
    assert_eq!(
        run(&m, &mut s, ".pools type=scratch").reply.joined(),
        "Scratch\n"
    );
    assert_eq!(run(&m, &mut s, ".filesets").reply.joined(), "CapSet\n");
    assert_eq!(run(&m, &mut s, ".storages").reply.joined(), "File\n");
    assert_eq!(run(&m, &mut s, ".catalogs").reply.joined(), "MyCatalog\n");
    assert_eq!(
        run(&m, &mut s, ".consoles").reply.joined(),
        "ref-admin\nlimited\n"
    );
    assert_eq!(
        run(&m, &mut s, ".profiles").reply.joined(),
        "ref-all\nonly-status\n"
    );
    let d = run(&m, &mut s, ".defaults job=CapBackup").reply.joined();
    assert!(d.starts_with("job=CapBackup\npool=Cap\nmessages=Standard\nclient=bareos-fd\nstorage=File\nwhere=\nlevel=Full\ntype=Backup\nfileset=CapSet\nenabled=1\ncatalog=MyCatalog\n"), "{d}");
    assert_eq!(
        run(&m, &mut s, ".defaults").reply.joined(),
        ".defaults command requires a parameter.\n"
    );
    let j = run(&m, &mut s, ".clients").reply.result;
    assert_eq!(
        j.compact(),
        "{\"clients\":[{\"name\":\"bareos-fd\",\"enabled\":true}]}"
    );
}

#[test]
fn show_hides_passwords() {
    let m = model();
    let mut s = session(&m, "*UserAgent*");
    let t = run(&m, &mut s, "show client=bareos-fd").reply.joined();
    assert!(t.starts_with("Client {\n  Name = \"bareos-fd\"\n"), "{t}");
    assert!(!t.contains("ref-fd-password"), "{t}");
    assert!(t.contains("Password = \"[md5]"), "{t}");
    assert!(!run(&m, &mut s, "show client=nope").reply.ok);
    let all = run(&m, &mut s, "show all").reply.joined();
    assert!(all.contains("Job {\n  Name = \"CapRestore\""));
}

proptest::proptest! {
    #[test]
    fn any_line_gets_a_reply_without_panicking(line in "[ -~]{0,80}") {
        let m = model();
        let mut s = session(&m, "limited");
        let ex = run(&m, &mut s, &line);
        if ex.command.is_none() {
            proptest::prop_assert!(!ex.reply.ok);
        }
    }
}

#[test]
fn pam_consoles_and_missing_profiles_are_refused_at_load() {
    let text = format!(
        "{}\nConsole {{\n  Name = pam\n  Password = p\n  Use Pam Authentication = yes\n}}\n",
        capture_conf()
    );
    let report = check_str("bareos-dir.conf", text.as_bytes(), Daemon::Director);
    assert!(report.is_ok(), "{report}");
    let err = Model::from_config(Path::new("bareos-dir.conf"), report.config).unwrap_err();
    assert!(err.contains("Use Pam Authentication"), "{err}");
}

#[test]
fn default_console_uses_director_password_and_tls() {
    let m = model();
    let c = m.console("*UserAgent*").expect("default console");
    assert_eq!(
        c.key.as_bytes(),
        barque_common::tls::Key::from_password("ref-dir-console-password")
            .unwrap()
            .as_bytes()
    );
    assert!(!c.tls.enable, "clear-bconsole config: TLS Enable = no");
    assert!(m
        .peer(fd_core::wire::psk::ResourceType::Client, "bareos-fd")
        .is_none());
    assert!(m
        .peer(fd_core::wire::psk::ResourceType::Console, "limited")
        .is_some());
}

#[test]
fn status_argument_forms() {
    let m = model();
    let mut s = session(&m, "*UserAgent*");
    let dir = run(&m, &mut s, "status dir").reply;
    assert_eq!(
        run(&m, &mut s, "status director").reply.text.len(),
        dir.text.len()
    );
    assert_eq!(run(&m, &mut s, "status").reply.text.len(), dir.text.len());
    assert_eq!(
        run(&m, &mut s, "status configuration").reply.joined(),
        "No deprecated configuration settings detected.\n"
    );
    assert_eq!(
        run(&m, &mut s, "status storage=File").reply.joined(),
        "status: the job engine is not available in this build\n"
    );
    assert_eq!(
        run(&m, &mut s, "status File").reply.joined(),
        "status: the job engine is not available in this build\n"
    );
    assert_eq!(
        run(&m, &mut s, "status bogus").reply.joined(),
        "Storage \"bogus\" not found.\n"
    );
    assert!(!run(&m, &mut s, "status scheduler").reply.ok);
    let mut l = session(&m, "limited");
    // limited's own CommandACL denies status entirely.
    assert_eq!(
        run(&m, &mut l, "status conf").reply.joined(),
        "status: is an invalid command.\n"
    );
}

#[test]
fn status_dir_in_api_mode_1_leaves_out_the_plain_texts() {
    let m = model();
    let mut s = session(&m, "*UserAgent*");
    run(&m, &mut s, ".api 1");
    let t = run(&m, &mut s, "status dir").reply.text;
    assert_eq!(t.len(), 3, "{t:?}");
    assert!(t[0].starts_with("bareos-dir Version: "));
    assert!(t[1].starts_with("Daemon started "));
    assert_eq!(t[2], "====\n");
    assert!(run(&m, &mut s, ".status dir running").reply.text.is_empty());
}

#[test]
fn help_lists_allowed_commands() {
    let m = model();
    let mut s = session(&m, "*UserAgent*");
    let t = run(&m, &mut s, "help").reply.joined();
    assert!(t.starts_with("  Command            Description\n  =======            ===========\n"));
    assert!(
        t.contains("\n  version            print the Director version\n"),
        "{t}"
    );
    assert!(!t.contains("\n  .api"), "no dot commands");
    assert!(t.ends_with("\nWhen at a prompt, entering a period (.) cancels the command.\n\n"));
    let t = run(&m, &mut s, "help nosuch").reply.joined();
    assert!(t.contains("\nCan't find nosuch command.\n\n"), "{t}");
    let mut l = session(&m, "limited");
    // limited may not use help at all (not in its CommandACL).
    assert_eq!(
        run(&m, &mut l, "help").reply.joined(),
        "help: is an invalid command.\n"
    );
}

#[test]
fn dot_help_forms() {
    let m = model();
    let mut s = session(&m, "*UserAgent*");
    let all = run(&m, &mut s, ".help all").reply.joined();
    assert!(all.starts_with("add\nautodisplay\n"), "{all}");
    assert!(!all.contains(".api"));
    let every = run(&m, &mut s, ".help").reply.joined();
    assert!(
        every.starts_with(". no operation -- \n.actiononpurge "),
        "{every}"
    );
    let one = run(&m, &mut s, ".help item=version").reply;
    assert_eq!(
        one.result.compact(),
        "{\"version\":{\"command\":\"version\",\"description\":\"print the Director version\",\"arguments\":\"\",\"permission\":true}}"
    );
    assert!(!run(&m, &mut s, ".help full=1").reply.ok);
}
