//! # The Bareos configuration language
//!
//! Barque's daemons read the configuration files administrators already have: single files
//! (`/etc/bareos/bareos-fd.conf`) or the `/etc/bareos/bareos-fd.d/<resource type>/*.conf`
//! directory layout, with the same syntax, the same directive names and the same value
//! grammar as Bareos. A configuration written for Bareos must load unchanged in the Barque
//! daemon it is written for; anything Bareos would refuse we refuse too, with a message that
//! names the file, the line, the resource and, where we can guess it, the fix.
//!
//! ## Pipeline
//!
//! ```text
//!  files ──lexer.rs──▶ tokens ──parser.rs──▶ raw tree ──this module + schema.rs──▶ Config
//!        (Bareos lex.cc rules)  (@includes,    (RawResource,    (typed Values, defaults,
//!                                 braces)        RawItem)         references, diagnostics)
//! ```
//!
//! - [`lexer`] reproduces Bareos' tokenizer (`core/src/lib/lex.cc`), including its oddities:
//!   blanks inside identifiers are dropped (`TLS Enable` is `TlsEnable`), `#` is the only
//!   comment, `;` ends a line, quoted strings may continue over lines.
//! - [`parser`] builds a schema-free tree, following `@file` includes (globs too) at the point
//!   where they appear, and reports brace and token errors.
//! - This module types the tree against the daemon's [`schema`] (generated from the Bareos
//!   resource tables) and collects [`Diagnostic`]s: unknown resource types and directives
//!   (with "did you mean"), bad values, missing required directives, duplicate names,
//!   references to resources that do not exist. Directives Bareos knows but Barque does not
//!   act on yet load with a warning that names them.
//!
//! Bareos reads everything twice (pass 1 stores values, pass 2 resolves references,
//! `ParseConfigFile` in `core/src/lib/parse_conf.cc`); we resolve references after the whole
//! tree is typed, which is the same thing.
//!
//! ## Entry points
//!
//! - [`load`]`(path, daemon)`: what `-c PATH` does. `PATH` may be a file, or a directory holding
//!   either `<daemon>.conf` or `<daemon>.d/*/*.conf` (`ConfigurationParser::FindConfigPath`).
//!   Returns the [`Config`] (with its warnings) or every error.
//! - [`check`]`(path, daemon)`: what `-t` does: a [`Report`] with every error and warning.
//! - [`Config`] has generic accessors ([`Config::resources`], [`Resource::get`]) and typed views
//!   for what the daemons need ([`typed`]).
//! - [`fileset`] turns FileSet `Options` blocks into the option letters of the wire protocol;
//!   [`schedule`] turns Schedule `Run` lines into the date/time masks of the scheduler.
//!
//! ## Where we knowingly differ from Bareos
//!
//! Every configuration Bareos accepts loads here; the differences are extra checks and clearer
//! behaviour at the edges:
//!
//! - Relative `@include` paths are tried against the including file's directory first, then
//!   the working directory (Bareos: the working directory only). Glob matches are read in
//!   sorted order; a pattern without matches is a warning (Bareos: silent); `@|command` is
//!   refused; include loops and nesting deeper than 32 are errors (Bareos recurses until it
//!   runs out of file descriptors).
//! - Each top-level file of a `<daemon>.d` layout is parsed on its own, so a syntax error in
//!   one file does not hide the errors of the others (a resource cannot span two files).
//! - Warnings where Bareos is silent: text after a single value (`Description = "x".`), a
//!   non-list directive given twice (the last value wins, as in Bareos), an unquoted path that
//!   loses words after a blank.
//! - Errors where Bareos would misbehave: a port above 65535, a `0` modulo in a Run line
//!   (Bareos divides by zero), blocks nested deeper than 8.
//! - Leniencies: `true`/`false`/`1`/`0` for booleans are accepted with Bareos' deprecation
//!   warning even where Bareos' lexer would refuse the bare number; `Address`/`Port` values may
//!   be quoted.

pub mod fileset;
pub mod lexer;
pub mod parser;
pub mod schedule;
pub mod schema;
#[rustfmt::skip]
mod schema_table;
pub mod typed;
pub mod value;

use lexer::{Token, TokenKind};
use parser::{RawItem, RawResource, RawValue};
pub use schema::Daemon;
use schema::{suggest, DirectiveDef, Kind, ResourceDef};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
pub use value::{ListenAddress, MessageDestination, Password, Seconds, Value};

/// Where something was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// File as shown to the user (relative to the configuration root when inside it).
    pub file: Arc<str>,
    /// 1-based line; 0 when the message is about the whole file.
    pub line: u32,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.file)
        } else {
            write!(f, "{}:{}", self.file, self.line)
        }
    }
}

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The configuration loads; something deserves attention.
    Warning,
    /// The configuration does not load.
    Error,
}

/// One error or warning, with its place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub loc: Location,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.severity {
            Severity::Error => write!(f, "{}: {}", self.loc, self.message),
            Severity::Warning => write!(f, "{}: warning: {}", self.loc, self.message),
        }
    }
}

/// A typed directive.
#[derive(Debug, Clone, PartialEq)]
pub struct Directive {
    /// Canonical name (`TlsEnable`), whatever spelling or alias was used.
    pub name: &'static str,
    /// Where it was written: the first occurrence for list directives (which accumulate), the
    /// last for single-valued ones (where the last value wins).
    pub loc: Location,
    pub value: Value,
}

/// A typed resource.
#[derive(Debug, Clone)]
pub struct Resource {
    /// Canonical resource type (`Client`, also when written `FileDaemon`).
    pub kind: &'static str,
    pub name: String,
    pub loc: Location,
    pub directives: Vec<Directive>,
    def: Option<&'static ResourceDef>,
}

impl PartialEq for Resource {
    fn eq(&self, other: &Self) -> bool {
        // `def` follows from `kind`.
        self.kind == other.kind
            && self.name == other.name
            && self.loc == other.loc
            && self.directives == other.directives
    }
}

fn normalize(name: &str) -> String {
    name.chars().filter(|c| !c.is_ascii_whitespace()).collect()
}

impl Resource {
    /// The value of a directive as written, by name or alias (case and blanks ignored).
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.directive(name).map(|d| &d.value)
    }

    /// The directive itself (with its location).
    pub fn directive(&self, name: &str) -> Option<&Directive> {
        let name = normalize(name);
        let canonical = self
            .def
            .and_then(|def| def.directive(&name))
            .map(|d| d.name);
        let wanted = canonical.unwrap_or(&name);
        self.directives
            .iter()
            .find(|d| d.name.eq_ignore_ascii_case(wanted))
    }

    /// The value, or Bareos' documented default when the directive is absent.
    pub fn get_or_default(&self, name: &str) -> Option<Value> {
        if let Some(v) = self.get(name) {
            return Some(v.clone());
        }
        let def = self.def?.directive(&normalize(name))?;
        default_value(def)
    }

    /// The schema of this resource type.
    pub fn schema(&self) -> Option<&'static ResourceDef> {
        self.def
    }
}

/// Bareos' documented default of a directive, typed.
pub fn default_value(def: &DirectiveDef) -> Option<Value> {
    let text = def.default?;
    Some(match def.kind {
        Kind::Bool | Kind::Bit => Value::Bool(match text.to_ascii_lowercase().as_str() {
            "on" => true,
            "off" => false,
            t => value::parse_bool(t)?.value,
        }),
        Kind::Time => Value::Duration(value::parse_duration(text).ok()?),
        Kind::Size32 | Kind::Size64 | Kind::MaxBlockSize => {
            Value::Size(value::parse_size(text).ok()?)
        }
        Kind::Speed => Value::Speed(value::parse_speed(text).ok()?),
        Kind::Int16 | Kind::Int32 | Kind::Int64 | Kind::PInt16 | Kind::PInt32 => {
            Value::Int(text.parse().ok()?)
        }
        Kind::AddressesPort | Kind::AddressesAddress | Kind::Addresses => {
            Value::Str(text.to_string())
        }
        _ => Value::Str(text.to_string()),
    })
}

/// A loaded configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub daemon: Daemon,
    /// Every resource, in file order.
    pub resources: Vec<Resource>,
    /// Warnings raised while loading.
    pub warnings: Vec<Diagnostic>,
}

impl Config {
    /// All resources of one type (canonical name or alias, case-insensitive).
    pub fn resources<'a>(&'a self, kind: &str) -> impl Iterator<Item = &'a Resource> + 'a {
        let canonical = self.daemon.resource(&normalize(kind)).map(|(d, _)| d.name);
        self.resources
            .iter()
            .filter(move |r| Some(r.kind) == canonical)
    }

    /// One resource by type and name.
    pub fn resource(&self, kind: &str, name: &str) -> Option<&Resource> {
        self.resources(kind).find(|r| r.name == name)
    }
}

/// Everything `-t` reports.
#[derive(Debug, Clone)]
pub struct Report {
    pub daemon: Daemon,
    /// The files read at top level (includes not listed).
    pub files: Vec<PathBuf>,
    /// Errors and warnings in the order found.
    pub diagnostics: Vec<Diagnostic>,
    /// What could be loaded (complete only when there are no errors).
    pub config: Config,
}

impl Report {
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
    }
    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Warning)
    }
    pub fn is_ok(&self) -> bool {
        self.errors().next().is_none()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.diagnostics {
            writeln!(f, "{d}")?;
        }
        let e = self.errors().count();
        let w = self.warnings().count();
        write!(f, "{}: {e} error(s), {w} warning(s)", self.daemon)
    }
}

/// The configuration did not load.
#[derive(Debug, Clone)]
pub struct LoadError {
    /// Every error and warning, in order.
    pub diagnostics: Vec<Diagnostic>,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for d in self
            .diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
        {
            if !first {
                writeln!(f)?;
            }
            first = false;
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for LoadError {}

/// `-c PATH`: load a configuration file or directory for `daemon`.
pub fn load(path: impl AsRef<Path>, daemon: Daemon) -> Result<Config, LoadError> {
    let report = check(path, daemon);
    if report.is_ok() {
        let mut config = report.config;
        config.warnings = report.diagnostics;
        Ok(config)
    } else {
        Err(LoadError {
            diagnostics: report.diagnostics,
        })
    }
}

/// Which files `-c PATH` means, and the root paths are shown relative to.
pub fn config_files(path: &Path, daemon: Daemon) -> Result<(PathBuf, Vec<PathBuf>), Diagnostic> {
    let shown: Arc<str> = path.display().to_string().into();
    let err = |message: String| Diagnostic {
        severity: Severity::Error,
        loc: Location {
            file: shown.clone(),
            line: 0,
        },
        message,
    };
    let meta =
        std::fs::metadata(path).map_err(|e| err(format!("cannot read configuration: {e}")))?;
    if !meta.is_dir() {
        let root = path.parent().map(Path::to_path_buf).unwrap_or_default();
        return Ok((root, vec![path.to_path_buf()]));
    }
    let single = path.join(daemon.default_file_name());
    if single.is_file() {
        return Ok((path.to_path_buf(), vec![single]));
    }
    let inc = path.join(daemon.include_dir_name());
    if inc.is_dir() {
        let files = parser::glob(&inc.join("*").join("*.conf"));
        if files.is_empty() {
            return Err(err(format!(
                "no configuration files in {}/*/*.conf",
                inc.display()
            )));
        }
        return Ok((path.to_path_buf(), files));
    }
    Err(err(format!(
        "no configuration here: looked for \"{}\" and \"{}/*/*.conf\"",
        single.display(),
        inc.display()
    )))
}

/// `-t`: load and report every error and warning.
pub fn check(path: impl AsRef<Path>, daemon: Daemon) -> Report {
    let path = path.as_ref();
    let mut diags = Vec::new();
    let (files, raw) = match config_files(path, daemon) {
        Ok((root, files)) => {
            let mut raw = Vec::new();
            for f in &files {
                raw.extend(parser::parse_file(f, &root, &mut diags));
            }
            (files, raw)
        }
        Err(d) => {
            diags.push(d);
            (Vec::new(), Vec::new())
        }
    };
    let config = build(daemon, raw, &mut diags, !files.is_empty());
    Report {
        daemon,
        files,
        diagnostics: diags,
        config,
    }
}

/// Check configuration text that is not in a file (tests, fuzzing, `configure` commands).
pub fn check_str(name: &str, text: &[u8], daemon: Daemon) -> Report {
    let mut diags = Vec::new();
    let raw = parser::parse_str(name, text, &mut diags);
    let config = build(daemon, raw, &mut diags, true);
    Report {
        daemon,
        files: Vec::new(),
        diagnostics: diags,
        config,
    }
}

struct Ctx<'a> {
    daemon: Daemon,
    diags: &'a mut Vec<Diagnostic>,
    /// (scope, directive) pairs already reported as not implemented.
    unimplemented_seen: std::collections::HashSet<(String, &'static str)>,
}

impl Ctx<'_> {
    fn error(&mut self, loc: &Location, message: String) {
        self.diags.push(Diagnostic {
            severity: Severity::Error,
            loc: loc.clone(),
            message,
        });
    }
    fn warn(&mut self, loc: &Location, message: String) {
        self.diags.push(Diagnostic {
            severity: Severity::Warning,
            loc: loc.clone(),
            message,
        });
    }
}

fn did_you_mean(s: Option<&str>) -> String {
    s.map(|s| format!("; did you mean \"{s}\"?"))
        .unwrap_or_default()
}

/// Type the raw tree and run the whole-configuration checks.
fn build(
    daemon: Daemon,
    raw: Vec<RawResource>,
    diags: &mut Vec<Diagnostic>,
    whole: bool,
) -> Config {
    let mut ctx = Ctx {
        daemon,
        diags,
        unimplemented_seen: Default::default(),
    };
    let mut resources: Vec<Resource> = Vec::new();
    let mut by_name: std::collections::HashMap<(&'static str, String), usize> = Default::default();
    for r in raw {
        if let Some(res) = type_resource(&mut ctx, r) {
            if let Some(prev) = by_name
                .get(&(res.kind, res.name.clone()))
                .and_then(|&i| resources.get(i))
            {
                let msg = format!(
                    "duplicate {} resource \"{}\" (first defined at {}); resource names must be unique per type",
                    res.kind, res.name, prev.loc
                );
                ctx.error(&res.loc, msg);
                continue;
            }
            by_name.insert((res.kind, res.name.clone()), resources.len());
            resources.push(res);
        }
    }
    check_required(&mut ctx, &resources);
    check_references(&mut ctx, &resources);
    if whole {
        check_daemon(&mut ctx, &resources);
    }
    Config {
        daemon,
        resources,
        warnings: Vec::new(),
    }
}

fn type_resource(ctx: &mut Ctx<'_>, r: RawResource) -> Option<Resource> {
    let Some((def, via_alias)) = ctx.daemon.resource(&r.type_name) else {
        let names = ctx
            .daemon
            .resources()
            .iter()
            .flat_map(|d| std::iter::once(d.name).chain(d.aliases.iter().copied()));
        let hint = did_you_mean(suggest(&r.type_name, names));
        let list: Vec<&str> = ctx.daemon.resources().iter().map(|d| d.name).collect();
        let msg = format!(
            "unknown resource type \"{}\" for {}{hint} (known: {})",
            r.type_name,
            ctx.daemon,
            list.join(", ")
        );
        ctx.error(&r.loc, msg);
        return None;
    };
    if via_alias {
        ctx.warn(
            &r.loc,
            format!(
                "resource type \"{}\" is a discouraged alias; write \"{}\"",
                r.type_name, def.name
            ),
        );
    }
    if def.deprecated {
        ctx.warn(
            &r.loc,
            format!("resource type \"{}\" is deprecated in Bareos", def.name),
        );
    }
    // The name first, so that messages about other directives can mention it.
    let name = r
        .items
        .iter()
        .filter(|i| i.key.eq_ignore_ascii_case("Name"))
        .find_map(|i| match &i.value {
            RawValue::Tokens(t) => t.first().map(|t| t.text.clone()),
            RawValue::Block(_) => None,
        });
    let label = match &name {
        Some(n) => format!("{} resource \"{n}\"", def.name),
        None => format!("{} resource", def.name),
    };
    let directives = type_items(ctx, def.items, def.name, &label, r.items);
    let Some(name) = directives
        .iter()
        .find(|d| d.name == "Name")
        .and_then(|d| d.value.as_str().map(str::to_string))
    else {
        if name.is_none() {
            ctx.error(&r.loc, format!("{label} has no Name; add Name = <name>"));
        }
        return None;
    };
    Some(Resource {
        kind: def.name,
        name,
        loc: r.loc,
        directives,
        def: Some(def),
    })
}

fn type_items(
    ctx: &mut Ctx<'_>,
    table: &'static [DirectiveDef],
    scope: &str,
    label: &str,
    items: Vec<RawItem>,
) -> Vec<Directive> {
    let mut out: Vec<Directive> = Vec::new();
    let mut index: std::collections::HashMap<&'static str, usize> = Default::default();
    for item in items {
        let Some(def) = schema::find_directive(table, &item.key) else {
            let names = table
                .iter()
                .flat_map(|d| std::iter::once(d.name).chain(d.aliases.iter().copied()));
            let hint = did_you_mean(suggest(&item.key, names));
            ctx.error(
                &item.loc,
                format!("unknown directive \"{}\" in {label}{hint}", item.key),
            );
            continue;
        };
        if def.deprecated {
            ctx.warn(
                &item.loc,
                format!(
                    "directive \"{}\" in {label} is deprecated in Bareos",
                    def.name
                ),
            );
        }
        let Some(value) = type_value(ctx, def, label, &item) else {
            continue;
        };
        if !schema::is_implemented(ctx.daemon, scope, def.name)
            && ctx.unimplemented_seen.insert((scope.to_string(), def.name))
        {
            ctx.warn(
                &item.loc,
                format!(
                    "directive \"{}\" in {label} is accepted but not implemented by Barque yet; it has no effect (reported once per resource type)",
                    def.name
                ),
            );
        }
        match index.get(def.name).and_then(|&i| out.get_mut(i)) {
            Some(prev) => {
                if def.kind.accumulates() {
                    // The directive keeps the location of its first occurrence.
                    merge(&mut prev.value, value);
                } else if def.kind == Kind::Name {
                    ctx.error(&item.loc, format!("{label} has a second Name (first at {}); a resource has exactly one name", prev.loc));
                } else {
                    ctx.warn(
                        &item.loc,
                        format!("directive \"{}\" in {label} is set again (first at {}); the last value is used", def.name, prev.loc),
                    );
                    prev.value = value;
                    prev.loc = item.loc;
                }
            }
            None => {
                index.insert(def.name, out.len());
                out.push(Directive {
                    name: def.name,
                    loc: item.loc,
                    value,
                });
            }
        }
    }
    out
}

fn merge(into: &mut Value, more: Value) {
    match (into, more) {
        (Value::List(a), Value::List(b)) => a.extend(b),
        (Value::Addresses(a), Value::Addresses(b)) => a.extend(b),
        (Value::Messages(a), Value::Messages(b)) => a.extend(b),
        (Value::Blocks(a), Value::Blocks(b)) => a.extend(b),
        (Value::Runs(a), Value::Runs(b)) => a.extend(b),
        (into, more) => *into = more,
    }
}

/// Words of a value for directives Bareos reads with identifiers disabled: blanks separate
/// words even where the lexer glued them into one identifier.
fn raw_words(tokens: &[Token]) -> Vec<String> {
    let mut out = Vec::new();
    for t in tokens {
        match t.kind {
            TokenKind::QuotedString => out.push(t.text.clone()),
            TokenKind::Identifier | TokenKind::UnquotedString | TokenKind::Number => {
                out.extend(t.raw.split_ascii_whitespace().map(str::to_string))
            }
            _ => out.push(t.text.clone()),
        }
    }
    out
}

/// Words of a Run line as Bareos' lexer sees them with identifiers disabled.
fn run_words(tokens: &[Token]) -> Vec<schedule::RunWord> {
    use schedule::RunWord;
    let mut out = Vec::new();
    for t in tokens {
        match t.kind {
            TokenKind::QuotedString => out.push(RunWord::Quoted(t.text.clone())),
            TokenKind::Equals => out.push(RunWord::Equals),
            TokenKind::Comma => out.push(RunWord::Comma),
            _ => out.extend(t.raw.split_ascii_whitespace().map(|w| {
                if w.bytes().all(|b| b.is_ascii_digit()) {
                    RunWord::Number(w.to_string())
                } else {
                    RunWord::Word(w.to_string())
                }
            })),
        }
    }
    out
}

fn quote_hint(t: &Token) -> &'static str {
    if t.kind == TokenKind::Number {
        " (Bareos does not take a bare number here; put it in quotes)"
    } else {
        ""
    }
}

fn type_value(
    ctx: &mut Ctx<'_>,
    def: &'static DirectiveDef,
    label: &str,
    item: &RawItem,
) -> Option<Value> {
    let loc = &item.loc;
    let what = format!("\"{}\" in {label}", def.name);
    if let Some(items) = def.kind.block_items() {
        let RawValue::Block(inner) = &item.value else {
            ctx.error(loc, format!("{what} takes a block: {} {{ ... }}", def.name));
            return None;
        };
        let sub_scope = match def.kind {
            Kind::IncludeExclude => "FileSet.Include",
            Kind::Options => "FileSet.Options",
            _ => "Job.RunScript",
        };
        let sub_label = format!("{} block of {label}", def.name);
        let block = type_items(ctx, items, sub_scope, &sub_label, inner.clone());
        if def.name == "Exclude" {
            // `StoreOptionsRes` / `StorePluginName` in core/src/dird/inc_conf.cc.
            for d in block
                .iter()
                .filter(|d| matches!(d.name, "Options" | "Plugin"))
            {
                ctx.error(
                    &d.loc,
                    format!("{} is not permitted in an Exclude block ({label}); put it in an Include block", d.name),
                );
            }
        }
        return Some(Value::Blocks(vec![block]));
    }
    if def.kind == Kind::Addresses {
        let RawValue::Block(inner) = &item.value else {
            ctx.error(
                loc,
                format!(
                    "{what} takes a block: {} = {{ ip = {{ addr = ...; port = ... }} }}",
                    def.name
                ),
            );
            return None;
        };
        return addresses(ctx, &what, loc, inner).map(Value::Addresses);
    }
    let RawValue::Tokens(tokens) = &item.value else {
        ctx.error(loc, format!("{what} does not take a {{ ... }} block"));
        return None;
    };
    let Some(first) = tokens.first() else {
        ctx.error(loc, format!("{what} has no value after '='"));
        return None;
    };
    let single = |ctx: &mut Ctx<'_>, allow_number: bool| -> Option<String> {
        if !first.kind.is_word() || (!allow_number && first.kind == TokenKind::Number) {
            ctx.error(
                loc,
                format!(
                    "{what} expects a name or string, got {} \"{}\"{}",
                    first.kind.describe(),
                    first.text,
                    quote_hint(first)
                ),
            );
            return None;
        }
        if tokens.len() > 1 {
            let rest: Vec<&str> = tokens.iter().skip(1).map(|t| t.text.as_str()).collect();
            ctx.warn(
                loc,
                format!(
                    "{what}: text after the value is ignored (as Bareos does): \"{}\"",
                    rest.join(" ")
                ),
            );
        }
        Some(first.text.clone())
    };
    let joined = || {
        tokens
            .iter()
            .filter(|t| t.kind.is_word())
            .map(|t| t.text.as_str())
            .collect::<String>()
    };
    match def.kind {
        Kind::Name => {
            let s = single(ctx, false)?;
            if let Err(e) = valid_name(&s) {
                ctx.error(loc, format!("invalid name \"{s}\" in {label}: {e}"));
                return None;
            }
            Some(Value::Str(s))
        }
        Kind::Md5Password | Kind::ClearPassword | Kind::AutoPassword => {
            let s = single(ctx, false)?;
            match Password::parse(&s) {
                Ok(p) if def.required && p.is_empty() => {
                    ctx.error(
                        loc,
                        format!("{what} is empty; an empty password is not allowed"),
                    );
                    None
                }
                Ok(p) => Some(Value::Password(p)),
                Err(e) => {
                    ctx.error(loc, format!("{what}: {e}"));
                    None
                }
            }
        }
        Kind::Bool | Kind::Bit | Kind::RunScriptBool => {
            let s = single(ctx, true)?;
            match value::parse_bool(&s) {
                Some(b) => {
                    if b.deprecated {
                        ctx.warn(loc, format!("{what}: \"{s}\" as a boolean is deprecated in Bareos; write yes or no"));
                    }
                    Some(Value::Bool(b.value))
                }
                None => {
                    ctx.error(loc, format!("{what} expects yes or no, got \"{s}\""));
                    None
                }
            }
        }
        Kind::Int16 | Kind::Int32 | Kind::Int64 | Kind::PInt16 | Kind::PInt32 => {
            let s = single(ctx, true)?;
            let (lo, hi): (i64, i64) = match def.kind {
                Kind::Int16 => (i16::MIN.into(), i16::MAX.into()),
                Kind::Int32 => (i32::MIN.into(), i32::MAX.into()),
                Kind::Int64 => (i64::MIN, i64::MAX),
                Kind::PInt16 => (0, u16::MAX.into()),
                // Bareos stores ports in 32 bits; a TCP port above 65535 can only be a typo.
                _ if def.name.ends_with("Port") => (0, u16::MAX.into()),
                _ => (0, u32::MAX.into()),
            };
            match s.parse::<i64>() {
                Ok(v) if (lo..=hi).contains(&v) => Some(Value::Int(v)),
                Ok(_) => {
                    ctx.error(loc, format!("{what}: {s} is out of range ({lo} to {hi})"));
                    None
                }
                Err(_) => {
                    ctx.error(loc, format!("{what} expects a whole number, got \"{s}\""));
                    None
                }
            }
        }
        Kind::Time => {
            let s = joined();
            match value::parse_duration(&s) {
                Ok(d) => Some(Value::Duration(d)),
                Err(e) => {
                    ctx.error(loc, format!("{what} expects a duration like 30 s, 5 min, 2 hours, 7 days, got \"{s}\": {e}"));
                    None
                }
            }
        }
        Kind::Size32 | Kind::Size64 | Kind::MaxBlockSize => {
            let s = joined();
            match value::parse_size(&s) {
                Ok(v) if def.kind != Kind::Size64 && v > u64::from(u32::MAX) => {
                    ctx.error(
                        loc,
                        format!("{what}: {s} is more than the maximum of 4294967295 bytes"),
                    );
                    None
                }
                Ok(v) => Some(Value::Size(v)),
                Err(e) => {
                    ctx.error(
                        loc,
                        format!(
                            "{what} expects a size like 512, 64 k, 10 mb, 2 g, got \"{s}\": {e}"
                        ),
                    );
                    None
                }
            }
        }
        Kind::Speed => {
            let s = joined();
            match value::parse_speed(&s) {
                Ok(v) => Some(Value::Speed(v)),
                Err(e) => {
                    ctx.error(
                        loc,
                        format!("{what} expects a speed like 256 k/s, 10 mb/s, got \"{s}\": {e}"),
                    );
                    None
                }
            }
        }
        Kind::Messages => messages(ctx, def, &what, loc, tokens).map(|m| Value::Messages(vec![m])),
        Kind::Run => match schedule::parse_run(&run_words(tokens)) {
            Ok(spec) => Some(Value::Runs(vec![(loc.clone(), spec)])),
            Err(e) => {
                ctx.error(loc, format!("{what}: {e}"));
                None
            }
        },
        Kind::PluginNames => Some(Value::List(
            raw_words(tokens)
                .into_iter()
                .filter(|w| w != ",")
                .flat_map(|w| w.split(':').map(str::to_string).collect::<Vec<_>>())
                .filter(|w| !w.is_empty())
                .collect(),
        )),
        Kind::Acl => {
            let list = comma_list(ctx, &what, loc, tokens)?;
            for entry in &list {
                if let Err(e) = valid_acl(entry) {
                    ctx.error(loc, format!("{what}: invalid ACL entry \"{entry}\": {e}"));
                    return None;
                }
            }
            Some(Value::List(list))
        }
        Kind::ResList | Kind::StrList | Kind::Device | Kind::Audit => {
            comma_list(ctx, &what, loc, tokens).map(Value::List)
        }
        Kind::DirList
        | Kind::FileName
        | Kind::PluginName
        | Kind::ExcludeDir
        | Kind::Regex
        | Kind::Wild
        | Kind::Base
        | Kind::FsType
        | Kind::DriveType
        | Kind::Meta
        | Kind::DirOrCmd
        | Kind::RunScriptCmd
        | Kind::ShortRunScript => {
            // Read like Bareos' ForceString: numbers are words too, blanks separate words.
            if !first.kind.is_word() {
                ctx.error(
                    loc,
                    format!(
                        "{what} expects a string, got {} \"{}\"",
                        first.kind.describe(),
                        first.text
                    ),
                );
                return None;
            }
            let word = if first.kind == TokenKind::QuotedString {
                first.text.clone()
            } else {
                raw_words(std::slice::from_ref(first))
                    .into_iter()
                    .next()
                    .unwrap_or_default()
            };
            let words = raw_words(tokens);
            if words.len() > 1 {
                ctx.warn(
                    loc,
                    format!(
                        "{what}: only the first word is used (as Bareos does); quote the value if it contains blanks: \"{}\"",
                        words.join(" ")
                    ),
                );
            }
            if def.kind == Kind::DirOrCmd {
                // A single path or `|command` (Write Bootstrap): the last one wins.
                return Some(Value::Str(word));
            }
            Some(Value::List(vec![word]))
        }
        Kind::Option => {
            // Read with ForceString (`ScanIncludeOptions`): the first word, numbers included.
            let word = raw_words(tokens).into_iter().next().unwrap_or_default();
            match fileset::option_letters(def.name, &word) {
                Ok(_) => Some(Value::Str(word)),
                Err(e) => {
                    ctx.error(loc, format!("{what}: {e}"));
                    None
                }
            }
        }
        Kind::AddressesAddress | Kind::AddressesPort => single(ctx, true).map(Value::Str),
        kind => {
            let word = single(ctx, false)?;
            // Bareos reads these as BCT_NAME tokens, limited to MAX_RES_NAME_LENGTH (127).
            if matches!(kind, Kind::StrName | Kind::Res | Kind::Defs) && word.len() > 127 {
                ctx.error(
                    loc,
                    format!(
                        "{what}: \"{word}\" is {} characters long; Bareos allows at most 127 here",
                        word.len()
                    ),
                );
                return None;
            }
            let Some(words) = kind.keywords() else {
                return Some(Value::Str(word));
            };
            match words.iter().find(|w| w.eq_ignore_ascii_case(&word)) {
                Some(w) => Some(Value::Str((*w).to_string())),
                None => {
                    let hint = did_you_mean(suggest(&word, words.iter().copied()));
                    ctx.error(
                        loc,
                        format!(
                            "{what}: \"{word}\" is not one of {}{hint}",
                            words.join(", ")
                        ),
                    );
                    None
                }
            }
        }
    }
}

/// `IsNameValid` in Bareos `core/src/lib/edit.cc`.
fn valid_name(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("a name must not be empty".into());
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || ":.-_/ ".contains(*c)))
    {
        return Err(format!(
            "the character '{c}' is not allowed (letters, digits and : . - _ / space are)"
        ));
    }
    if s.len() >= 128 {
        return Err(format!(
            "names are limited to 127 characters, this one has {}",
            s.len()
        ));
    }
    if s.starts_with(' ') || s.ends_with(' ') {
        return Err("a name must not start or end with a space".into());
    }
    Ok(())
}

/// `IsAclEntryValid` in Bareos `core/src/lib/edit.cc`.
fn valid_acl(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("an ACL entry must not be empty".into());
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "!()[]|+?*.:_-'/".contains(*c)))
    {
        return Err(format!(
            "the character '{c}' is not allowed (letters, digits and !()[]|+?*.:_-'/ are)"
        ));
    }
    if s.len() >= 128 {
        return Err(format!(
            "ACL entries are limited to 127 characters, this one has {}",
            s.len()
        ));
    }
    Ok(())
}

fn comma_list(
    ctx: &mut Ctx<'_>,
    what: &str,
    loc: &Location,
    tokens: &[Token],
) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut expect_word = true;
    for t in tokens {
        match (expect_word, t.kind) {
            (true, k) if k.is_word() => {
                out.push(t.text.clone());
                expect_word = false;
            }
            (false, TokenKind::Comma) => expect_word = true,
            _ => {
                ctx.error(
                    loc,
                    format!(
                        "{what} expects a comma-separated list, got unexpected {} \"{}\"",
                        t.kind.describe(),
                        t.text
                    ),
                );
                return None;
            }
        }
    }
    if expect_word {
        ctx.error(loc, format!("{what}: the list ends with a comma"));
        return None;
    }
    Some(out)
}

fn messages(
    ctx: &mut Ctx<'_>,
    def: &DirectiveDef,
    what: &str,
    loc: &Location,
    tokens: &[Token],
) -> Option<MessageDestination> {
    let eq = tokens.iter().position(|t| t.kind == TokenKind::Equals);
    let needs_target = matches!(
        def.name,
        "Mail" | "MailOnError" | "MailOnSuccess" | "Operator" | "Director" | "File" | "Append"
    );
    let (target_toks, type_toks) = match (eq, needs_target, def.name) {
        (Some(i), _, _) => {
            let (before, after) = tokens.split_at(i);
            (before, after.get(1..).unwrap_or_default())
        }
        (None, true, _) => {
            ctx.error(
                loc,
                format!(
                    "{what} needs a destination: {} = <where> = <message types>",
                    def.name
                ),
            );
            return None;
        }
        (None, false, _) => (&[][..], tokens),
    };
    if !needs_target && def.name != "Syslog" && !target_toks.is_empty() {
        ctx.error(
            loc,
            format!(
                "{what} takes only message types: {} = all, !skipped",
                def.name
            ),
        );
        return None;
    }
    let target = if target_toks.is_empty() {
        Vec::new()
    } else {
        comma_list(ctx, what, loc, target_toks)?
    };
    if matches!(def.name, "File" | "Append") && target.len() != 1 {
        ctx.error(loc, format!("{what} takes exactly one file name"));
        return None;
    }
    let types = comma_list(ctx, what, loc, type_toks)?;
    for t in &types {
        let bare = t.strip_prefix('!').unwrap_or(t);
        if !value::MESSAGE_TYPES
            .iter()
            .any(|m| m.eq_ignore_ascii_case(bare))
        {
            let hint = did_you_mean(suggest(bare, value::MESSAGE_TYPES.iter().copied()));
            ctx.error(
                loc,
                format!("{what}: unknown message type \"{bare}\"{hint}"),
            );
            return None;
        }
    }
    Some(MessageDestination {
        target,
        types: types.iter().map(|t| t.to_ascii_lowercase()).collect(),
    })
}

fn addresses(
    ctx: &mut Ctx<'_>,
    what: &str,
    loc: &Location,
    items: &[RawItem],
) -> Option<Vec<ListenAddress>> {
    if items.is_empty() {
        ctx.error(
            loc,
            format!("{what}: an empty address block is not allowed"),
        );
        return None;
    }
    let mut out = Vec::new();
    for item in items {
        let family = match item.key.to_ascii_lowercase().as_str() {
            "ip" => value::Family::Any,
            "ipv4" => value::Family::Ipv4,
            "ipv6" => value::Family::Ipv6,
            _ => {
                ctx.error(
                    &item.loc,
                    format!("{what}: expected ip, ipv4 or ipv6, got \"{}\"", item.key),
                );
                return None;
            }
        };
        let RawValue::Block(inner) = &item.value else {
            ctx.error(
                &item.loc,
                format!(
                    "{what}: {} needs a block: {} = {{ addr = ...; port = ... }}",
                    item.key, item.key
                ),
            );
            return None;
        };
        let mut a = ListenAddress {
            family,
            addr: None,
            port: None,
        };
        for kv in inner {
            let RawValue::Tokens(t) = &kv.value else {
                ctx.error(
                    &kv.loc,
                    format!("{what}: {} takes a value, not a block", kv.key),
                );
                return None;
            };
            let Some(v) = t.first().filter(|t| t.kind.is_word()) else {
                ctx.error(&kv.loc, format!("{what}: {} has no value", kv.key));
                return None;
            };
            let slot = match kv.key.to_ascii_lowercase().as_str() {
                "addr" => &mut a.addr,
                "port" => &mut a.port,
                _ => {
                    ctx.error(
                        &kv.loc,
                        format!("{what}: expected addr or port, got \"{}\"", kv.key),
                    );
                    return None;
                }
            };
            if slot.is_some() {
                ctx.error(
                    &kv.loc,
                    format!("{what}: only one {} per address block", kv.key),
                );
                return None;
            }
            *slot = Some(v.text.clone());
        }
        if a.addr.is_none() && a.port.is_none() {
            ctx.error(&item.loc, format!("{what}: empty {} block", item.key));
            return None;
        }
        out.push(a);
    }
    Some(out)
}

fn check_required(ctx: &mut Ctx<'_>, resources: &[Resource]) {
    for r in resources {
        let Some(def) = r.def else { continue };
        if def.name == "JobDefs" {
            continue; // a template: its Job supplies what is missing
        }
        for d in def.items.iter().filter(|d| d.required) {
            if r.directive(d.name).is_some() {
                continue;
            }
            if def.name == "Job" && from_jobdefs(resources, r, d.name, 0) {
                continue;
            }
            ctx.error(
                &r.loc,
                format!(
                    "{} resource \"{}\" is missing the required directive \"{}\"; add {} = ...",
                    r.kind, r.name, d.name, d.name
                ),
            );
        }
    }
}

fn from_jobdefs(resources: &[Resource], r: &Resource, directive: &str, depth: usize) -> bool {
    if depth > 8 {
        return false;
    }
    let Some(Value::Str(defs)) = r.get("JobDefs") else {
        return false;
    };
    let Some(jd) = resources
        .iter()
        .find(|x| x.kind == "JobDefs" && &x.name == defs)
    else {
        return false;
    };
    jd.directive(directive).is_some() || from_jobdefs(resources, jd, directive, depth + 1)
}

fn check_references(ctx: &mut Ctx<'_>, resources: &[Resource]) {
    for r in resources {
        let Some(def) = r.def else { continue };
        for d in &r.directives {
            if let Value::Runs(runs) = &d.value {
                // Overrides in Run lines name Pools, Storages and Messages (pass 2 of StoreRun).
                for (run_loc, run) in runs {
                    let pools = [
                        &run.pool,
                        &run.full_pool,
                        &run.incremental_pool,
                        &run.differential_pool,
                        &run.next_pool,
                    ];
                    let refs = pools
                        .into_iter()
                        .map(|p| ("Pool", p))
                        .chain([("Storage", &run.storage), ("Messages", &run.messages)]);
                    for (target, name) in refs {
                        let Some(n) = name else { continue };
                        if !resources.iter().any(|x| x.kind == target && &x.name == n) {
                            ctx.error(
                                run_loc,
                                format!("{target} resource \"{n}\" named in a Run line of {} resource \"{}\" is not defined", r.kind, r.name),
                            );
                        }
                    }
                }
                continue;
            }
            let Some(target) = def.directive(d.name).and_then(|x| x.target) else {
                continue;
            };
            if ctx.daemon.resource(target).is_none() {
                continue;
            }
            let names: Vec<&str> = match &d.value {
                Value::Str(s) => vec![s.as_str()],
                Value::List(l) => l.iter().map(String::as_str).collect(),
                _ => continue,
            };
            for n in names {
                if resources.iter().any(|x| x.kind == target && x.name == n) {
                    continue;
                }
                let hint = did_you_mean(suggest(
                    n,
                    resources
                        .iter()
                        .filter(|x| x.kind == target)
                        .map(|x| x.name.as_str()),
                ));
                ctx.error(
                    &d.loc,
                    format!("{} resource \"{n}\" referenced by \"{}\" in {} resource \"{}\" is not defined{hint}", target, d.name, r.kind, r.name),
                );
            }
        }
    }
}

/// What each daemon needs before it starts (`CheckResources` in `core/src/filed/filed_utils.cc`,
/// `core/src/stored/stored.cc`, `core/src/dird/reload.cc`; `core/src/console/console.cc`).
fn check_daemon(ctx: &mut Ctx<'_>, resources: &[Resource]) {
    let count = |k: &str| resources.iter().filter(|r| r.kind == k).count();
    let anywhere = Location {
        file: "configuration".into(),
        line: 0,
    };
    let daemon = ctx.daemon;
    if let Some(own) = daemon.own_resource() {
        match count(own) {
            0 => ctx.error(
                &anywhere,
                format!("no {own} resource defined; {daemon} needs exactly one"),
            ),
            1 => {}
            _ => {
                let second = resources
                    .iter()
                    .filter(|r| r.kind == own)
                    .nth(1)
                    .map(|r| r.loc.clone());
                ctx.error(
                    second.as_ref().unwrap_or(&anywhere),
                    format!("more than one {own} resource; {daemon} needs exactly one"),
                )
            }
        }
    }
    let at_least_one: &[&str] = match daemon {
        Daemon::FileDaemon => &["Director", "Messages"],
        Daemon::Storage => &["Director", "Device", "Messages"],
        Daemon::Director => &["Messages", "Job"],
        Daemon::Console => &["Director"],
    };
    for kind in at_least_one {
        if count(kind) == 0 {
            ctx.error(
                &anywhere,
                format!("no {kind} resource defined; {daemon} needs at least one"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(r: &Report) -> Vec<String> {
        r.errors().map(|d| d.to_string()).collect()
    }

    const FD: &str =
        "Client {\n  Name = fd\n}\nDirector {\n  Name = bareos-dir\n  Password = \"secret\"\n}\nMessages { Name = m }\n";

    #[test]
    fn minimal_fd() {
        let r = check_str("fd.conf", FD.as_bytes(), Daemon::FileDaemon);
        assert!(r.is_ok(), "{r}");
        let dir = r.config.resource("Director", "bareos-dir").unwrap();
        assert_eq!(
            dir.get("password")
                .unwrap()
                .as_password()
                .unwrap()
                .plaintext(),
            Some("secret")
        );
        assert_eq!(dir.get_or_default("TLS Enable"), Some(Value::Bool(true)));
        assert_eq!(dir.get_or_default("Port"), Some(Value::Int(9101)));
    }

    #[test]
    fn unknown_directive_suggests() {
        let src = FD.replace("Password", "Pasword");
        let r = check_str(
            "bareos-fd.d/director/bareos-dir.conf",
            src.as_bytes(),
            Daemon::FileDaemon,
        );
        let e = errors(&r);
        assert!(e.contains(&"bareos-fd.d/director/bareos-dir.conf:6: unknown directive \"Pasword\" in Director resource \"bareos-dir\"; did you mean \"Password\"?".to_string()), "{e:?}");
    }

    #[test]
    fn repeated_lists_accumulate() {
        let src = FD.replace(
            "Password = \"secret\"",
            "Password = secret\n TLS Allowed CN = a, b\n TlsAllowedCn = \"c\"\n Allowed Script Dir = /x\n Allowed Script Dir = /y",
        );
        let r = check_str("fd.conf", src.as_bytes(), Daemon::FileDaemon);
        assert!(r.is_ok(), "{r}");
        let dir = r.config.resource("Director", "bareos-dir").unwrap();
        assert_eq!(
            dir.get("TLS Allowed CN").unwrap().as_list().unwrap(),
            ["a", "b", "c"]
        );
        assert_eq!(
            dir.get("AllowedScriptDir").unwrap().as_list().unwrap(),
            ["/x", "/y"]
        );
    }

    #[test]
    fn unquoted_path_with_blank_warns() {
        let src = FD.replace(
            "Password = \"secret\"",
            "Password = secret\n Allowed Script Dir = /my scripts",
        );
        let r = check_str("fd.conf", src.as_bytes(), Daemon::FileDaemon);
        assert!(r.is_ok(), "{r}");
        let d = r.config.resource("Director", "bareos-dir").unwrap();
        assert_eq!(
            d.get("AllowedScriptDir").unwrap().as_list().unwrap(),
            ["/my"]
        );
        assert!(
            r.warnings().any(|w| w.message.contains("quote the value")),
            "{r}"
        );
    }

    const DIR: &str = "Director { Name = dir; Password = p }\nMessages { Name = Standard; Console = all }\nPool { Name = Full }\n";

    #[test]
    fn jobdefs_supply_required_directives() {
        let src = format!(
            "{DIR}JobDefs {{\n Name = defs\n Type = Backup\n Messages = Standard\n Pool = Full\n}}\nJob {{\n Name = j\n JobDefs = defs\n}}\n"
        );
        let r = check_str("dir.conf", src.as_bytes(), Daemon::Director);
        assert!(r.is_ok(), "{r}");
        // Without the JobDefs the same Job lacks Type, Messages and Pool.
        let src = format!("{DIR}Job {{\n Name = j\n}}\n");
        let r = check_str("dir.conf", src.as_bytes(), Daemon::Director);
        let e = errors(&r);
        assert_eq!(e.len(), 3, "{e:?}");
        assert!(
            e[0].starts_with(
                "dir.conf:4: Job resource \"j\" is missing the required directive \"Type\""
            ),
            "{e:?}"
        );
    }

    #[test]
    fn deprecations_and_aliases_warn() {
        let src = format!(
            "{DIR}Job {{ Name = j; Type = backup; Messages = Standard; Pool = Full; Accurate = true }}\nCounter {{ Name = c }}\n"
        );
        let r = check_str("dir.conf", src.as_bytes(), Daemon::Director);
        assert!(r.is_ok(), "{r}");
        let w: Vec<String> = r.warnings().map(|d| d.to_string()).collect();
        assert!(
            w.iter()
                .any(|w| w
                    .contains("\"true\" as a boolean is deprecated in Bareos; write yes or no")),
            "{w:?}"
        );
        assert!(
            w.iter()
                .any(|w| w
                    == "dir.conf:5: warning: resource type \"Counter\" is deprecated in Bareos"),
            "{w:?}"
        );
        // Keywords are stored in their canonical spelling.
        let j = r.config.resource("Job", "j").unwrap();
        assert_eq!(j.get("Type"), Some(&Value::Str("Backup".into())));
        assert_eq!(j.get("Accurate"), Some(&Value::Bool(true)));
    }

    #[test]
    fn message_destinations() {
        let src = "Client { Name = fd }\nDirector { Name = d; Password = p }\nMessages {\n Name = m\n Syslog = daemon = error, warning\n Mail = a@x, b@y = all, !skipped\n Operator = root = mount\n Console = all\n Mail = broken\n}\n";
        let r = check_str("fd.conf", src.as_bytes(), Daemon::FileDaemon);
        let e = errors(&r);
        assert_eq!(
            e,
            ["fd.conf:9: \"Mail\" in Messages resource \"m\" needs a destination: Mail = <where> = <message types>"]
        );
        let m = r.config.resource("Messages", "m").unwrap();
        let Some(Value::Messages(sys)) = m.get("Syslog") else {
            panic!()
        };
        assert_eq!(sys[0].target, ["daemon"]);
        assert_eq!(sys[0].types, ["error", "warning"]);
        let Some(Value::Messages(mail)) = m.get("Mail") else {
            panic!()
        };
        assert_eq!(mail[0].target, ["a@x", "b@y"]);
    }

    #[test]
    fn defaults_of_every_kind() {
        let (dev, _) = Daemon::Storage.resource("Device").unwrap();
        let r = |n: &str| default_value(dev.directive(n).unwrap());
        assert_eq!(
            r("AlwaysOpen"),
            Some(Value::Bool(true)),
            "Bit default \"on\""
        );
        assert_eq!(
            r("LabelMedia"),
            Some(Value::Bool(false)),
            "Bit default \"off\""
        );
        assert_eq!(r("MaximumOpenWait"), Some(Value::Duration(Seconds(300))));
        assert_eq!(r("MaximumBlockSize"), Some(Value::Size(1_048_576)));
        assert_eq!(r("LabelBlockSize"), Some(Value::Int(64512)));
        assert_eq!(r("ArchiveDevice"), None);
    }

    #[test]
    fn addresses_block_errors() {
        let src = "Client {\n Name = fd\n FdAddresses = { ipv5 = { addr = 1.2.3.4 } }\n}\nDirector { Name = d; Password = p }\nMessages { Name = m }\n";
        let r = check_str("fd.conf", src.as_bytes(), Daemon::FileDaemon);
        assert_eq!(
            errors(&r),
            ["fd.conf:3: \"Addresses\" in Client resource \"fd\": expected ip, ipv4 or ipv6, got \"ipv5\""]
        );
        let src = src.replace(
            "ipv5 = { addr = 1.2.3.4 }",
            "ipv6 = { addr = ::1; port = 9102 } ip = { port = 1 }",
        );
        let r = check_str("fd.conf", src.as_bytes(), Daemon::FileDaemon);
        assert!(r.is_ok(), "{r}");
    }

    #[test]
    fn exclude_blocks_take_only_files() {
        let src = format!(
            "{DIR}FileSet {{\n Name = fs\n Include {{ File = / }}\n Exclude {{\n  File = /tmp\n  Options {{ Signature = MD5 }}\n }}\n}}\n"
        );
        let r = check_str("dir.conf", src.as_bytes(), Daemon::Director);
        let e = errors(&r);
        // No Job in this config, hence the second error.
        assert_eq!(e[0], "dir.conf:9: Options is not permitted in an Exclude block (FileSet resource \"fs\"); put it in an Include block");
    }

    #[test]
    fn bare_number_where_string_expected() {
        let src = FD.replace("\"secret\"", "12345");
        let r = check_str("fd.conf", src.as_bytes(), Daemon::FileDaemon);
        assert!(errors(&r)[0].contains("put it in quotes"), "{r}");
    }
}
