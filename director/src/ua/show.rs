//! `show`: resources in configuration syntax (`show_cmd`, `core/src/dird/ua_cmds.cc`).
//!
//! `show clients`, `show client=NAME`, `show all` and the other resource types print the
//! resources as the configuration wrote them (directives in canonical spelling, one per
//! line). Passwords are shown in their stored `[md5]` form, never in clear. A named console
//! only sees resources its ACLs allow (Job, JobDefs, Client, Storage, Schedule, Pool,
//! FileSet, Catalog); the resource types without an ACL (Director, Messages, Profiles,
//! Consoles, Users) are shown to the default console only. Directives barque-common keeps in
//! a structured form (addresses, message destinations, schedule `Run` lines) are listed as
//! `# <Directive> = (not shown)`.

use barque_common::config::value::Value;
use barque_common::config::{Directive, Resource};

use crate::acl::AclKind;
use crate::json::Json;
use crate::ua::{Args, Ctx, Reply, Session};

/// (keyword singular, plural, resource type, ACL).
const KINDS: &[(&str, &str, &str, Option<AclKind>)] = &[
    ("director", "directors", "Director", None),
    ("client", "clients", "Client", Some(AclKind::Client)),
    ("job", "jobs", "Job", Some(AclKind::Job)),
    ("jobdefs", "jobdefs", "JobDefs", Some(AclKind::Job)),
    ("storage", "storages", "Storage", Some(AclKind::Storage)),
    ("catalog", "catalogs", "Catalog", Some(AclKind::Catalog)),
    ("schedule", "schedules", "Schedule", Some(AclKind::Schedule)),
    ("fileset", "filesets", "FileSet", Some(AclKind::FileSet)),
    ("pool", "pools", "Pool", Some(AclKind::Pool)),
    ("messages", "messages", "Messages", None),
    ("profile", "profiles", "Profile", None),
    ("console", "consoles", "Console", None),
    ("user", "users", "User", None),
];

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn value_text(v: &Value) -> Option<String> {
    Some(match v {
        Value::Str(s) => quote(s),
        Value::Password(p) => quote(&format!("[md5]{}", p.md5_hex())),
        Value::Int(i) => i.to_string(),
        Value::Bool(b) => if *b { "yes" } else { "no" }.to_string(),
        Value::Duration(d) => d.0.to_string(),
        Value::Size(n) | Value::Speed(n) => n.to_string(),
        Value::List(l) => l.iter().map(|s| quote(s)).collect::<Vec<_>>().join(", "),
        _ => return None,
    })
}

fn render_block(out: &mut String, directives: &[Directive], depth: usize) {
    let pad = "  ".repeat(depth);
    for d in directives {
        match &d.value {
            Value::Blocks(blocks) => {
                for b in blocks {
                    out.push_str(&format!("{pad}{} {{\n", d.name));
                    render_block(out, b, depth + 1);
                    out.push_str(&format!("{pad}}}\n"));
                }
            }
            v => match value_text(v) {
                Some(t) => out.push_str(&format!("{pad}{} = {t}\n", d.name)),
                None => out.push_str(&format!("{pad}# {} = (not shown)\n", d.name)),
            },
        }
    }
}

fn render(r: &Resource) -> String {
    let mut out = format!("{} {{\n  Name = {}\n", r.kind, quote(&r.name));
    render_block(
        &mut out,
        &r.directives
            .iter()
            .filter(|d| d.name != "Name")
            .cloned()
            .collect::<Vec<_>>(),
        1,
    );
    out.push_str("}\n\n");
    out
}

fn visible(s: &Session, acl: Option<AclKind>, name: &str) -> bool {
    match acl {
        Some(k) => s.acl.allows(k, name),
        None => s.acl.is_root(),
    }
}

/// `show ...`
pub fn show(ctx: &Ctx<'_>, s: &mut Session, a: &Args) -> Reply {
    let mut r = Reply::default();
    if a.rest().is_empty() {
        return Reply::failed("Keywords for the show command are:\n  all, clients, jobs, jobdefs, storages, catalogs, schedules, filesets, pools, messages, profiles, consoles, directors, or <type>=<name>\n");
    }
    let mut result = Json::object();
    for w in a.rest() {
        let key = w.key.to_ascii_lowercase();
        if key == "all" || key == "verbose" {
            if key == "verbose" {
                continue;
            }
            for (_, plural, kind, acl) in KINDS {
                show_kind(ctx, s, &mut r, &mut result, plural, kind, *acl);
            }
            continue;
        }
        let Some((_, plural, kind, acl)) = KINDS.iter().find(|(sg, pl, _, _)| {
            key == *sg || key == *pl || (key.len() >= 3 && pl.starts_with(&key))
        }) else {
            r.error(format!("{}: is an invalid resource type.\n", w.key));
            continue;
        };
        match &w.value {
            Some(name) => {
                let found = ctx
                    .model
                    .config
                    .resources(kind)
                    .find(|x| x.name.eq_ignore_ascii_case(name));
                match found {
                    Some(res) if visible(s, *acl, &res.name) => {
                        r.text(render(res));
                        result.set(
                            *plural,
                            Json::object().with(res.name.clone(), Json::object()),
                        );
                    }
                    _ => r.error(format!("{kind} \"{name}\" not found.\n")),
                }
            }
            None => show_kind(ctx, s, &mut r, &mut result, plural, kind, *acl),
        }
    }
    r.result = result;
    r
}

fn show_kind(
    ctx: &Ctx<'_>,
    s: &Session,
    r: &mut Reply,
    result: &mut Json,
    plural: &str,
    kind: &str,
    acl: Option<AclKind>,
) {
    let mut names = Json::object();
    for res in ctx.model.config.resources(kind) {
        if visible(s, acl, &res.name) {
            r.text(render(res));
            names.set(res.name.clone(), Json::object());
        }
    }
    result.set(plural, names);
}
