//! The generic parser: tokens (from every included file) to an untyped tree of resources.
//!
//! Bareos parses in one pass that already knows the schema
//! (`ConfigParserStateMachine` in `core/src/lib/parse_conf_state_machine.cc` calls a store
//! routine per directive type). We split that in two: this module builds a schema-free tree,
//! and `mod.rs` types it against the daemon's schema. That keeps the grammar small and lets
//! `-t` report every semantic error of a file instead of stopping at the first.
//!
//! The grammar, as Bareos accepts it:
//!
//! ```text
//! file      := { EOL | resource }
//! resource  := IDENT { EOL } '{' body '}'
//! body      := { EOL | item }
//! item      := KEY { EOL } ( '=' value | block )
//! value     := block | word-or-punct { word-or-punct } (EOL | before '}')
//! block     := '{' body '}'
//! ```
//!
//! `KEY` is an identifier at resource level and an identifier or unquoted string inside nested
//! blocks (`ipv4`). Values are the tokens up to the end of the line, kept with their raw text
//! (`Messages` destinations contain `=` and `,`; `Run` lines need their words).
//!
//! `@file` includes are resolved here, at token level, exactly where they appear (Bareos
//! pushes a new lexer on its stack, `lex_open_file` in `core/src/lib/lex.cc`), so an include
//! may supply whole resources or just a few directives inside one. Glob patterns are expanded
//! and the matches read in sorted order; a pattern without matches is skipped (with a warning;
//! Bareos is silent); a missing plain file is an error. Relative paths are resolved against
//! the directory of the including file, falling back to the process' working directory, which
//! is where Bareos resolves them. Include loops and nesting deeper than [`MAX_INCLUDE_DEPTH`]
//! are errors (Bareos would recurse until it runs out of file descriptors). `@|command`
//! (include the output of a program) is refused: a configuration loader should not run
//! programs.

use super::lexer::{LexError, Lexer, Token, TokenKind};
use super::{Diagnostic, Location, Severity};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Maximum include nesting.
pub const MAX_INCLUDE_DEPTH: usize = 32;
/// Maximum nesting of `{ }` blocks inside a resource (Bareos needs 3: FileSet, Include,
/// Options); a bound keeps hostile input from exhausting the stack.
pub const MAX_BLOCK_DEPTH: usize = 8;
/// Files larger than this are refused (a configuration file this size is a mistake).
pub const MAX_FILE_SIZE: u64 = 64 * 1024 * 1024;

/// A resource as written, before typing.
#[derive(Debug, Clone)]
pub struct RawResource {
    /// Resource type as written (spaces removed by the lexer).
    pub type_name: String,
    pub loc: Location,
    pub items: Vec<RawItem>,
}

/// A directive as written.
#[derive(Debug, Clone)]
pub struct RawItem {
    /// Directive name as written (spaces removed by the lexer).
    pub key: String,
    pub loc: Location,
    pub value: RawValue,
}

/// The value of a directive as written.
#[derive(Debug, Clone)]
pub enum RawValue {
    /// `key = tokens...` up to the end of the line.
    Tokens(Vec<Token>),
    /// `key { ... }` or `key = { ... }`.
    Block(Vec<RawItem>),
}

struct Frame {
    lexer: Lexer,
    file: Arc<str>,
    canonical: PathBuf,
    dir: PathBuf,
}

/// Paths are shown relative to this root when they are inside it.
pub(crate) fn display_path(path: &Path, root: &Path) -> String {
    match path.strip_prefix(root) {
        Ok(rel) if !rel.as_os_str().is_empty() => rel.display().to_string(),
        _ => path.display().to_string(),
    }
}

/// A token stream over a file and everything it includes.
struct Stream<'d> {
    stack: Vec<Frame>,
    root: PathBuf,
    diags: &'d mut Vec<Diagnostic>,
    pending: Vec<Token>,
    last_file: Arc<str>,
    /// Whether `@file` is allowed (not for text that does not come from a file).
    includes: bool,
}

/// A syntax error stops the parse of the current top-level file.
struct Abort;

impl<'d> Stream<'d> {
    fn loc(&self, line: u32) -> Location {
        Location {
            file: self.last_file.clone(),
            line,
        }
    }

    fn error(&mut self, line: u32, msg: String) -> Abort {
        let loc = self.loc(line);
        self.diags.push(Diagnostic {
            severity: Severity::Error,
            loc,
            message: msg,
        });
        Abort
    }

    fn warn_at(&mut self, loc: Location, msg: String) {
        self.diags.push(Diagnostic {
            severity: Severity::Warning,
            loc,
            message: msg,
        });
    }

    fn open(&mut self, path: &Path, from: Option<Location>) -> Result<(), Abort> {
        let canonical = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        if let Some(pos) = self.stack.iter().position(|f| f.canonical == canonical) {
            let mut chain: Vec<String> = self
                .stack
                .get(pos..)
                .unwrap_or_default()
                .iter()
                .map(|f| f.file.to_string())
                .collect();
            chain.push(display_path(path, &self.root));
            let line = from.as_ref().map_or(0, |l| l.line);
            return Err(self.error(line, format!("include loop: {}", chain.join(" -> "))));
        }
        if self.stack.len() >= MAX_INCLUDE_DEPTH {
            let line = from.as_ref().map_or(0, |l| l.line);
            return Err(self.error(
                line,
                format!("includes nested deeper than {MAX_INCLUDE_DEPTH} levels"),
            ));
        }
        let shown: Arc<str> = display_path(path, &self.root).into();
        let data = match std::fs::metadata(path) {
            Ok(m) if m.is_dir() => Err(format!("\"{}\" is a directory", path.display())),
            Ok(m) if m.len() > MAX_FILE_SIZE => Err(format!(
                "\"{}\" is larger than {MAX_FILE_SIZE} bytes",
                path.display()
            )),
            Ok(_) => {
                std::fs::read(path).map_err(|e| format!("cannot read \"{}\": {e}", path.display()))
            }
            Err(e) => Err(format!("cannot open \"{}\": {e}", path.display())),
        };
        let data = match data {
            Ok(d) => d,
            Err(msg) => {
                let (line, msg) = match &from {
                    Some(l) => (l.line, format!("cannot open included config file: {msg}")),
                    None => (0, msg),
                };
                return Err(self.error(line, msg));
            }
        };
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        self.stack.push(Frame {
            lexer: Lexer::new(data),
            file: shown.clone(),
            canonical,
            dir,
        });
        self.last_file = shown;
        Ok(())
    }

    fn include(&mut self, tok: &Token) -> Result<(), Abort> {
        let loc = self.loc(tok.line);
        let spec = tok.text.as_str();
        if !self.includes {
            return Err(self.error(
                tok.line,
                format!("@{spec}: includes are only available in configuration files"),
            ));
        }
        if spec.starts_with('|') {
            return Err(self.error(
                tok.line,
                format!("@{spec}: including the output of a command is not supported; paste the output into a file and include that"),
            ));
        }
        if spec.is_empty() {
            return Err(self.error(tok.line, "@ without a file name".into()));
        }
        let base = self.stack.last().map(|f| f.dir.clone()).unwrap_or_default();
        let candidates: Vec<PathBuf> = {
            let p = Path::new(spec);
            if p.is_absolute() {
                vec![p.to_path_buf()]
            } else {
                vec![base.join(p), p.to_path_buf()]
            }
        };
        let wildcard = spec.contains(['*', '?', '[']);
        if wildcard {
            let mut matches = Vec::new();
            for c in &candidates {
                matches = glob(c);
                if !matches.is_empty() {
                    break;
                }
            }
            if matches.is_empty() {
                self.warn_at(
                    loc,
                    format!("@{spec}: no file matches this pattern; nothing included"),
                );
                return Ok(());
            }
            // Push in reverse so the matches are read in sorted order.
            for m in matches.iter().rev() {
                self.open(m, Some(loc.clone()))?;
            }
            Ok(())
        } else {
            match candidates.iter().find(|c| c.exists()).cloned() {
                Some(path) => self.open(&path, Some(loc)),
                None => {
                    let looked: Vec<String> =
                        candidates.iter().map(|c| c.display().to_string()).collect();
                    Err(self.error(
                        tok.line,
                        format!(
                            "cannot open included config file \"{spec}\": no such file (looked for {})",
                            looked.join(" and ")
                        ),
                    ))
                }
            }
        }
    }

    /// Next token, following includes. The end of an included file counts as an end of line.
    fn next(&mut self) -> Result<Token, Abort> {
        if let Some(t) = self.pending.pop() {
            return Ok(t);
        }
        loop {
            let Some(frame) = self.stack.last_mut() else {
                return Ok(Token {
                    kind: TokenKind::Eof,
                    text: String::new(),
                    raw: String::new(),
                    line: 0,
                });
            };
            let file = frame.file.clone();
            let res = frame.lexer.next_token();
            self.last_file = file;
            match res {
                Err(e) => return Err(self.lex_error(e)),
                Ok(t) if t.kind == TokenKind::Eof => {
                    if self.stack.len() == 1 {
                        return Ok(t);
                    }
                    self.stack.pop();
                    if let Some(f) = self.stack.last() {
                        self.last_file = f.file.clone();
                    }
                    let line = self.stack.last().map_or(0, |f| f.lexer.line());
                    return Ok(Token {
                        kind: TokenKind::Eol,
                        text: String::new(),
                        raw: String::new(),
                        line,
                    });
                }
                Ok(t) if t.kind == TokenKind::Include => self.include(&t)?,
                Ok(t) => return Ok(t),
            }
        }
    }

    fn lex_error(&mut self, e: LexError) -> Abort {
        let line = e.line;
        self.error(line, e.to_string())
    }

    fn unget(&mut self, t: Token) {
        self.pending.push(t);
    }

    fn next_skip_eol(&mut self) -> Result<Token, Abort> {
        loop {
            let t = self.next()?;
            if t.kind != TokenKind::Eol {
                return Ok(t);
            }
        }
    }
}

/// Expand a glob pattern (`*`, `?`, `[...]` in any path component) to existing paths, sorted.
pub fn glob(pattern: &Path) -> Vec<PathBuf> {
    let mut current: Vec<PathBuf> = vec![PathBuf::new()];
    for comp in pattern.components() {
        let s = comp.as_os_str().to_string_lossy();
        let is_pattern = s.contains(['*', '?', '[']);
        let mut next = Vec::new();
        for base in &current {
            if !is_pattern {
                let p = base.join(comp.as_os_str());
                next.push(p);
                continue;
            }
            let dir = if base.as_os_str().is_empty() {
                Path::new(".")
            } else {
                base.as_path()
            };
            let Ok(rd) = std::fs::read_dir(dir) else {
                continue;
            };
            let mut names: Vec<String> = rd
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with('.') || s.starts_with('.'))
                .filter(|n| wildcard_match(s.as_bytes(), n.as_bytes()))
                .collect();
            names.sort();
            next.extend(names.into_iter().map(|n| base.join(n)));
        }
        current = next;
    }
    let mut out: Vec<PathBuf> = current.into_iter().filter(|p| p.exists()).collect();
    out.sort();
    out
}

/// fnmatch-style matching of one path component: fd-core's fileset matcher
/// (`fd_core::fd::pattern::wild_match`, `fnmatch(3)` without flags). Bareos expands
/// `@include` patterns with `glob(filename, 0, ..)` (core/src/lib/lex.cc), whose per-component
/// matching is the same: `*`, `?`, `[...]`/`[!...]` classes, an unclosed `[` as a literal and
/// `\x` as an escaped literal (no `GLOB_NOESCAPE`). Leading-dot names are filtered by `glob`.
pub use fd_core::fd::pattern::wild_match as wildcard_match;

/// Parse one top-level file (and its includes) into raw resources. Errors and warnings go to
/// `diags`; a syntax error ends this file's parse (resources before it are kept).
pub fn parse_file(path: &Path, root: &Path, diags: &mut Vec<Diagnostic>) -> Vec<RawResource> {
    let mut stream = Stream {
        stack: Vec::new(),
        root: root.to_path_buf(),
        diags,
        pending: Vec::new(),
        last_file: display_path(path, root).into(),
        includes: true,
    };
    let mut out = Vec::new();
    if stream.open(path, None).is_err() {
        return out;
    }
    let _ = parse_resources(&mut stream, &mut out);
    out
}

/// Parse configuration text that is not in a file (tests, fuzzing, text from a console).
/// `name` is used in messages; `@includes` are refused (there is no file to be relative to, and
/// text from elsewhere must not make us read files).
pub fn parse_str(name: &str, text: &[u8], diags: &mut Vec<Diagnostic>) -> Vec<RawResource> {
    let shown: Arc<str> = name.into();
    let mut stream = Stream {
        stack: vec![Frame {
            lexer: Lexer::new(text.to_vec()),
            file: shown.clone(),
            canonical: PathBuf::from(format!("<{name}>")),
            dir: PathBuf::new(),
        }],
        root: PathBuf::new(),
        diags,
        pending: Vec::new(),
        last_file: shown,
        includes: false,
    };
    let mut out = Vec::new();
    let _ = parse_resources(&mut stream, &mut out);
    out
}

fn parse_resources(s: &mut Stream<'_>, out: &mut Vec<RawResource>) -> Result<(), Abort> {
    loop {
        let t = s.next_skip_eol()?;
        match t.kind {
            TokenKind::Eof => return Ok(()),
            TokenKind::Identifier => {
                let loc = s.loc(t.line);
                let open = s.next_skip_eol()?;
                if open.kind == TokenKind::Equals {
                    return Err(s.error(
                        t.line,
                        format!(
                            "directive \"{}\" outside of any resource; directives go inside a resource like Director {{ ... }}",
                            t.text
                        ),
                    ));
                }
                if open.kind != TokenKind::BeginBlock {
                    return Err(s.error(
                        open.line,
                        format!(
                            "expected '{{' after resource type \"{}\", got {} \"{}\"",
                            t.text,
                            open.kind.describe(),
                            open.text
                        ),
                    ));
                }
                let what = format!("{} resource", t.text);
                let items = parse_body(s, &what, &loc, 0)?;
                out.push(RawResource {
                    type_name: t.text,
                    loc,
                    items,
                });
            }
            TokenKind::EndBlock => {
                return Err(s.error(
                    t.line,
                    "unexpected '}' outside of a resource; remove it or check the braces above"
                        .into(),
                ))
            }
            _ => {
                return Err(s.error(
                    t.line,
                    format!(
                        "expected a resource type (like Director {{ ... }}), got {} \"{}\"",
                        t.kind.describe(),
                        t.text
                    ),
                ))
            }
        }
    }
}

/// Parse the items of a block up to and including its closing brace.
fn parse_body(
    s: &mut Stream<'_>,
    what: &str,
    opened: &Location,
    depth: usize,
) -> Result<Vec<RawItem>, Abort> {
    let top = depth == 0;
    if depth > MAX_BLOCK_DEPTH {
        return Err(s.error(
            opened.line,
            format!("blocks nested deeper than {MAX_BLOCK_DEPTH} levels in {what}"),
        ));
    }
    let mut items = Vec::new();
    loop {
        let t = s.next_skip_eol()?;
        match t.kind {
            TokenKind::EndBlock => return Ok(items),
            TokenKind::Eof => {
                // Reported where the block opens: that is where the fix goes.
                let msg = format!(
                    "missing closing '}}' for {what} opened at {}:{} (reached the end of the file)",
                    opened.file, opened.line
                );
                s.diags.push(Diagnostic {
                    severity: Severity::Error,
                    loc: opened.clone(),
                    message: msg,
                });
                return Err(Abort);
            }
            TokenKind::Identifier => {}
            TokenKind::UnquotedString if !top => {}
            TokenKind::BeginBlock if top => {
                return Err(s.error(
                    t.line,
                    format!("unexpected '{{' inside {what}; a directive name was expected"),
                ))
            }
            _ => {
                return Err(s.error(
                    t.line,
                    format!(
                        "expected a directive name in {what}, got {} \"{}\"{}",
                        t.kind.describe(),
                        t.text,
                        if top && t.kind.is_word() {
                            "; is a closing '}' missing above?"
                        } else {
                            ""
                        }
                    ),
                ))
            }
        }
        let loc = s.loc(t.line);
        let after = s.next_skip_eol()?;
        let value = match after.kind {
            TokenKind::Equals => {
                let first = s.next()?;
                if first.kind == TokenKind::BeginBlock {
                    let inner = format!("{} block", t.text);
                    RawValue::Block(parse_body(s, &inner, &loc, depth + 1)?)
                } else {
                    s.unget(first);
                    RawValue::Tokens(read_value(s)?)
                }
            }
            TokenKind::BeginBlock => {
                let inner = format!("{} block", t.text);
                RawValue::Block(parse_body(s, &inner, &loc, depth + 1)?)
            }
            _ => {
                return Err(s.error(
                    after.line,
                    format!(
                        "expected '=' after \"{}\", got {} \"{}\"",
                        t.text,
                        after.kind.describe(),
                        after.text
                    ),
                ))
            }
        };
        items.push(RawItem {
            key: t.text,
            loc,
            value,
        });
    }
}

/// The tokens of a value, up to the end of the line (consumed) or a `}` (left for the caller).
fn read_value(s: &mut Stream<'_>) -> Result<Vec<Token>, Abort> {
    let mut toks = Vec::new();
    loop {
        let t = s.next()?;
        match t.kind {
            TokenKind::Eol | TokenKind::Eof => {
                if t.kind == TokenKind::Eof {
                    s.unget(t);
                }
                return Ok(toks);
            }
            TokenKind::EndBlock => {
                s.unget(t);
                return Ok(toks);
            }
            TokenKind::BeginBlock => {
                return Err(s.error(t.line, "unexpected '{' in the middle of a value".into()));
            }
            _ => toks.push(t),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matching() {
        assert!(wildcard_match(b"*.conf", b"bareos-dir.conf"));
        assert!(!wildcard_match(b"*.conf", b"bareos-dir.conf.bak"));
        assert!(wildcard_match(b"a?c", b"abc"));
        assert!(wildcard_match(b"[a-c]x", b"bx"));
        assert!(!wildcard_match(b"[!a-c]x", b"bx"));
        assert!(wildcard_match(b"*", b""));
        assert!(wildcard_match(b"a*b*c", b"aXXbYYc"));
        assert!(!wildcard_match(b"a*b*c", b"aXXbYY"));
        assert!(wildcard_match(b"[x", b"[x"));
        // glob(3) without GLOB_NOESCAPE: a backslash quotes the next character.
        assert!(wildcard_match(b"a\\*.conf", b"a*.conf"));
        assert!(!wildcard_match(b"a\\*.conf", b"ab.conf"));
    }

    #[test]
    fn tree_shape() {
        let src = b"Director {\n  Name = bareos-dir\n  DirAddresses = { ip = { addr = 127.0.0.1; port = 39201 } }\n}\nFileSet { Name = x; Include { Options { Signature = SHA256 }\n File = /a } }\n";
        let mut d = Vec::new();
        let r = parse_str("t.conf", src, &mut d);
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].items.len(), 2);
        let RawValue::Block(addrs) = &r[0].items[1].value else {
            panic!()
        };
        assert_eq!(addrs[0].key, "ip");
        let RawValue::Block(ip) = &addrs[0].value else {
            panic!()
        };
        assert_eq!(ip.len(), 2);
        assert_eq!(r[1].items.len(), 2);
        assert_eq!(r[1].items[1].loc.line, 5);
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let src = "a {".repeat(200_000);
        let mut d = Vec::new();
        let r = parse_str("deep.conf", src.as_bytes(), &mut d);
        assert!(r.is_empty());
        assert!(
            d[0].message
                .starts_with("blocks nested deeper than 8 levels"),
            "{}",
            d[0]
        );
    }

    #[test]
    fn missing_brace() {
        let mut d = Vec::new();
        let r = parse_str("t.conf", b"Director {\n Name = x\n", &mut d);
        assert!(r.is_empty());
        assert_eq!(d.len(), 1);
        assert!(
            d[0].message
                .contains("missing closing '}' for Director resource opened at t.conf:1"),
            "{}",
            d[0]
        );
    }
}
