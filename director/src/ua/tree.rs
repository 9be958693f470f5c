//! The restore file-selection tree (`restore` without `done`: "file selection mode").
//!
//! Facts from `core/src/dird/ua_tree.cc` and `core/src/lib/tree.cc`: the selected backups'
//! file versions are inserted into a tree of path components (children kept sorted by
//! name); directories that only appear as parents of saved files are "new" directories,
//! which are not counted and not restored by themselves. Commands are matched by prefix
//! in Bareos' table order (so `d` is `delete`, `l` is `ls`); each prints what bconsole
//! shows:
//!
//! - `cd DIR` answers `cwd is: /path/`, or `Invalid path given.` then the cwd;
//! - `ls [pattern]` lists the children, `*` marked, `+` something below is marked, `/`
//!   after a name that has children;
//! - `dir [pattern]` the long form (mode, links, owner, group, size, time, tag, path);
//! - `mark`/`add PATTERN…` and `unmark`/`delete PATTERN…` work recursively with `fnmatch`
//!   patterns per path component (absolute from `/`, `**` for any depth) and answer `N
//!   files newly marked.` / `No files newly marked.` / `1 file newly marked.`;
//! - `lsmark` lists the marked entries below the cwd, indented two blanks per level;
//! - `count`, `estimate`, `find PATTERN…`, `pwd`, `help`, `done`/`exit`, `quit`/`abort`.
//!
//! The tree is plain data: [`Tree::command`] takes one input line and returns the text to
//! send and whether the selection continues, so the console server can drive it one
//! `SUB_PROMPT` at a time and the unit tests can drive it without a network.

use std::collections::BTreeMap;

use fd_core::fd::estimate::mode_string;
use fd_core::fd::pattern::wild_match;

use crate::catalog::SelectedFile;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Root,
    /// A directory saved in the backup.
    Dir,
    /// A directory that only exists as a parent in the tree.
    NewDir,
    File,
}

#[derive(Debug, Clone)]
struct Node {
    name: String,
    parent: Option<usize>,
    children: BTreeMap<String, usize>,
    kind: Kind,
    extract: bool,
    extract_descendant: bool,
    /// The catalog full name (`Path.Path` + `File.Name`) for saved entries.
    fname: Option<String>,
    lstat: String,
}

/// What one command line did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Keep prompting.
    Continue,
    /// `done`/`exit`: restore what is marked.
    Done,
    /// `quit`/`abort`: no restore.
    Quit,
}

/// The file-selection tree of one restore.
#[derive(Debug, Clone)]
pub struct Tree {
    nodes: Vec<Node>,
    cwd: usize,
    /// Entries inserted (saved files and directories).
    pub inserted: u64,
}

const COMMANDS: &[(&str, &str)] = &[
    ("abort", "abort and do not do restore"),
    (
        "add",
        "add dir/file to be restored recursively, wildcards allowed",
    ),
    ("cd", "change current directory"),
    ("count", "count marked files in and below the cd"),
    (
        "delete",
        "delete dir/file to be restored recursively in dir",
    ),
    ("dir", "long list current directory, wildcards allowed"),
    ("done", "leave file selection mode"),
    ("estimate", "estimate restore size"),
    ("exit", "same as done command"),
    ("find", "find files, wildcards allowed"),
    ("help", "print help"),
    ("ls", "list current directory, wildcards allowed"),
    ("lsmark", "list the marked files in and below the cd"),
    (
        "mark",
        "mark dir/file to be restored recursively, wildcards allowed",
    ),
    ("markdir", "mark directory name to be restored (no files)"),
    ("pwd", "print current working directory"),
    (
        "unmark",
        "unmark dir/file to be restored recursively in dir",
    ),
    ("unmarkdir", "unmark directory name only no recursion"),
    ("quit", "quit and do not do restore"),
    ("?", "print help"),
];

fn fnmatch(pat: &str, name: &str) -> bool {
    wild_match(pat.as_bytes(), name.as_bytes())
}

fn commas(n: u64) -> String {
    crate::jobs::report::with_commas(n)
}

impl Tree {
    /// Build the tree from the selected file versions; `all` marks everything (the `all`
    /// keyword of `restore`).
    pub fn build(files: &[SelectedFile], all: bool) -> Tree {
        let mut t = Tree {
            nodes: vec![Node {
                name: String::new(),
                parent: None,
                children: BTreeMap::new(),
                kind: Kind::Root,
                extract: false,
                extract_descendant: false,
                fname: None,
                lstat: String::new(),
            }],
            cwd: 0,
            inserted: 0,
        };
        for f in files {
            let mut parts: Vec<&str> = f.path.split('/').filter(|p| !p.is_empty()).collect();
            let is_dir = f.name.is_empty();
            if !is_dir {
                parts.push(f.name.as_str());
            }
            if parts.is_empty() {
                continue;
            }
            let mut at = 0usize;
            let last = parts.len() - 1;
            for (i, p) in parts.iter().enumerate() {
                let found = t.nodes.get(at).and_then(|n| n.children.get(*p).copied());
                at = match found {
                    Some(c) => c,
                    None => {
                        let id = t.nodes.len();
                        t.nodes.push(Node {
                            name: (*p).to_string(),
                            parent: Some(at),
                            children: BTreeMap::new(),
                            kind: Kind::NewDir,
                            extract: false,
                            extract_descendant: false,
                            fname: None,
                            lstat: String::new(),
                        });
                        if let Some(n) = t.nodes.get_mut(at) {
                            n.children.insert((*p).to_string(), id);
                        }
                        id
                    }
                };
                if i == last {
                    if let Some(n) = t.nodes.get_mut(at) {
                        n.kind = if is_dir { Kind::Dir } else { Kind::File };
                        n.fname = Some(f.fname());
                        n.lstat = f.lstat.clone();
                        n.extract = all;
                    }
                    t.inserted += 1;
                }
            }
        }
        if all {
            for i in 0..t.nodes.len() {
                if t.nodes.get(i).is_some_and(|n| n.extract) {
                    t.mark_parents(i, true);
                }
            }
        }
        t
    }

    fn node(&self, i: usize) -> &Node {
        // Indices come from the tree itself; index 0 (the root) always exists.
        self.nodes.get(i).unwrap_or(&self.nodes[0])
    }

    /// The full path of a node as Bareos' `tree_getpath` shows it (`/` for the root, a
    /// trailing `/` after directories).
    fn path(&self, i: usize) -> String {
        let mut parts = Vec::new();
        let mut at = Some(i);
        while let Some(n) = at {
            let node = self.node(n);
            if node.kind == Kind::Root {
                break;
            }
            parts.push(node.name.as_str());
            at = node.parent;
        }
        parts.reverse();
        let mut s = format!("/{}", parts.join("/"));
        if self.node(i).kind != Kind::File && s != "/" {
            s.push('/');
        }
        s
    }

    /// The current directory.
    pub fn cwd(&self) -> String {
        self.path(self.cwd)
    }

    fn tag(&self, i: usize) -> &'static str {
        let n = self.node(i);
        if n.extract {
            "*"
        } else if n.extract_descendant {
            "+"
        } else {
            ""
        }
    }

    fn children(&self, i: usize) -> Vec<usize> {
        self.node(i).children.values().copied().collect()
    }

    fn has_children(&self, i: usize) -> bool {
        !self.node(i).children.is_empty()
    }

    /// Depth-first order, the root excluded.
    fn all_nodes(&self) -> Vec<usize> {
        let mut out = Vec::new();
        let mut stack: Vec<usize> = self.children(0).into_iter().rev().collect();
        while let Some(i) = stack.pop() {
            out.push(i);
            stack.extend(self.children(i).into_iter().rev());
        }
        out
    }

    fn mark_parents(&mut self, i: usize, extract: bool) {
        let mut at = self.node(i).parent;
        while let Some(p) = at {
            let want = if extract {
                true
            } else {
                self.children(p).into_iter().any(|c| {
                    let n = self.node(c);
                    n.extract || n.extract_descendant
                })
            };
            let Some(n) = self.nodes.get_mut(p) else {
                break;
            };
            if n.extract_descendant == want {
                break;
            }
            n.extract_descendant = want;
            at = n.parent;
        }
    }

    /// `SetExtract`: mark or unmark a node and everything below; the count of nodes that
    /// changed (new directories and the root not counted).
    fn set_extract(&mut self, i: usize, extract: bool, recursive: bool) -> u64 {
        let mut count = 0;
        let mut stack = vec![i];
        while let Some(n) = stack.pop() {
            if let Some(node) = self.nodes.get_mut(n) {
                if node.extract != extract && !matches!(node.kind, Kind::NewDir | Kind::Root) {
                    count += 1;
                }
                node.extract = extract;
                if node.kind != Kind::File && recursive {
                    stack.extend(node.children.values().copied());
                }
            }
        }
        self.mark_parents(i, extract);
        count
    }

    /// Resolve a `cd` argument against the cwd (`..`, `.`, absolute or relative).
    fn resolve(&self, arg: &str) -> Option<usize> {
        let mut at = if arg.starts_with('/') { 0 } else { self.cwd };
        for p in arg.split('/').filter(|p| !p.is_empty()) {
            at = match p {
                "." => at,
                ".." => self.node(at).parent.unwrap_or(0),
                _ => *self.node(at).children.get(p)?,
            };
        }
        Some(at)
    }

    /// `MarkElements`: apply (un)marking to every node matching a path pattern.
    fn mark_pattern(&mut self, arg: &str, extract: bool) -> u64 {
        let arg = arg.strip_suffix('/').unwrap_or(arg);
        let mut parts: Vec<String> = arg.split('/').map(str::to_string).collect();
        match parts.last_mut() {
            Some(l) if l.is_empty() || l == "**" => *l = "*".into(),
            _ => {}
        }
        let mut stack = if parts.first().is_some_and(|p| p.is_empty()) {
            if parts.len() == 1 {
                parts.push("*".into());
            }
            vec![(0usize, 1usize)]
        } else {
            vec![(self.cwd, 0usize)]
        };
        let mut count = 0;
        while let Some((node, pi)) = stack.pop() {
            let Some(part) = parts.get(pi).cloned() else {
                continue;
            };
            if part == "**" {
                stack.push((node, pi + 1));
                for c in self.children(node) {
                    if self.node(c).kind != Kind::File {
                        stack.push((c, pi));
                    }
                }
                continue;
            }
            for c in self.children(node) {
                if fnmatch(&part, &self.node(c).name) {
                    if pi + 1 == parts.len() {
                        count += self.set_extract(c, extract, true);
                    } else if self.node(c).kind != Kind::File {
                        stack.push((c, pi + 1));
                    }
                }
            }
        }
        count
    }

    /// The catalog names of every marked entry (what the restore job restores).
    pub fn marked(&self) -> Vec<String> {
        self.all_nodes()
            .into_iter()
            .filter_map(|i| {
                let n = self.node(i);
                (n.extract && n.kind != Kind::NewDir)
                    .then(|| n.fname.clone())
                    .flatten()
            })
            .collect()
    }

    fn dir_line(&self, i: usize) -> String {
        let n = self.node(i);
        let st = fd_core::wire::attr::Stat::parse(n.lstat.as_bytes()).ok();
        let (mode, nlink, uid, gid, size, time) = match &st {
            Some(s) => (s.mode, s.nlink, s.uid, s.gid, s.size, s.mtime.max(s.ctime)),
            None => (0, 0, 0, 0, 0, 0),
        };
        let tag = match self.tag(i) {
            "" => ' ',
            t => t.chars().next().unwrap_or(' '),
        };
        format!(
            "{}  {:>2} {} ({:.8}) {} ({:.8})  {:>12.12}  {} {} {}",
            String::from_utf8_lossy(&mode_string(mode)),
            nlink,
            uid,
            uid,
            gid,
            gid,
            size,
            crate::jobs::time::sql_time(time),
            tag,
            self.path(i)
        )
    }

    /// Run one line of file-selection mode.
    pub fn command(&mut self, line: &str) -> (String, Outcome) {
        let words: Vec<String> = match crate::ua::Args::parse(line) {
            Ok(a) => a
                .args
                .iter()
                .map(|w| match &w.value {
                    Some(v) => format!("{}={v}", w.key),
                    None => w.key.clone(),
                })
                .collect(),
            Err(e) => return (format!("{e}\n"), Outcome::Continue),
        };
        let Some(first) = words.first() else {
            return (
                format!("Invalid command \"{line}\". Enter \"done\" to exit.\n"),
                Outcome::Continue,
            );
        };
        let lower = first.to_ascii_lowercase();
        let Some((cmd, _)) = COMMANDS.iter().find(|(k, _)| k.starts_with(&lower)) else {
            if first.starts_with('.') {
                return (String::new(), Outcome::Continue);
            }
            return (
                format!("Invalid command \"{line}\". Enter \"done\" to exit.\n"),
                Outcome::Continue,
            );
        };
        let args = words.get(1..).unwrap_or(&[]);
        let mut out = String::new();
        match *cmd {
            "abort" | "quit" => return (out, Outcome::Quit),
            "done" | "exit" => return (out, Outcome::Done),
            "cd" => {
                if args.len() != 1 {
                    out.push_str("Too few or too many arguments. Try using double quotes.\n");
                    return (out, Outcome::Continue);
                }
                match args.first().and_then(|a| self.resolve(a)) {
                    Some(n) if self.node(n).kind != Kind::File || self.has_children(n) => {
                        self.cwd = n
                    }
                    _ => out.push_str("Invalid path given.\n"),
                }
                out.push_str(&format!("cwd is: {}\n", self.cwd()));
            }
            "pwd" => out.push_str(&format!("cwd is: {}\n", self.cwd())),
            "ls" => {
                for c in self.children(self.cwd) {
                    let n = self.node(c);
                    if args.first().is_none_or(|p| fnmatch(p, &n.name)) {
                        out.push_str(&format!(
                            "{}{}{}\n",
                            self.tag(c),
                            n.name,
                            if self.has_children(c) { "/" } else { "" }
                        ));
                    }
                }
            }
            "dir" => {
                if !self.has_children(self.cwd) {
                    out.push_str(&format!(
                        "Node {} has no children.\n",
                        self.node(self.cwd).name
                    ));
                }
                for c in self.children(self.cwd) {
                    if args.first().is_none_or(|p| fnmatch(p, &self.node(c).name)) {
                        out.push_str(&self.dir_line(c));
                        out.push('\n');
                    }
                }
            }
            "lsmark" => self.lsmark(self.cwd, 0, args.first().map(String::as_str), &mut out),
            "add" | "mark" | "delete" | "unmark" => {
                let extract = matches!(*cmd, "add" | "mark");
                let word = if extract { "marked" } else { "unmarked" };
                if args.is_empty() || !self.has_children(self.cwd) {
                    out.push_str(if extract {
                        "No files marked.\n"
                    } else {
                        "No files unmarked.\n"
                    });
                    return (out, Outcome::Continue);
                }
                let count: u64 = args.iter().map(|a| self.mark_pattern(a, extract)).sum();
                out.push_str(&match count {
                    0 => format!("No files newly {word}.\n"),
                    1 => format!("1 file newly {word}.\n"),
                    n => format!("{} files newly {word}.\n", commas(n)),
                });
            }
            "markdir" | "unmarkdir" => {
                let extract = *cmd == "markdir";
                let word = if extract { "marked" } else { "unmarked" };
                let mut count = 0u64;
                for a in args {
                    for c in self.children(self.cwd) {
                        let n = self.node(c);
                        if n.kind != Kind::File && fnmatch(a, &n.name) {
                            count += self.set_extract(c, extract, false);
                        }
                    }
                }
                out.push_str(&match count {
                    0 => format!("No directories newly {word}.\n"),
                    1 => format!("1 directory newly {word}.\n"),
                    n => format!("{} directories newly {word}.\n", commas(n)),
                });
            }
            "count" => {
                let all = self.all_nodes();
                let total = all
                    .iter()
                    .filter(|&&i| self.node(i).kind != Kind::NewDir)
                    .count() as u64;
                let marked = all
                    .iter()
                    .filter(|&&i| self.node(i).kind != Kind::NewDir && self.node(i).extract)
                    .count() as u64;
                out.push_str(&format!(
                    "{} total files/dirs. {} marked to be restored.\n",
                    commas(total),
                    commas(marked)
                ));
            }
            "estimate" => {
                let (mut total, mut marked, mut bytes) = (0u64, 0u64, 0u64);
                for i in self.all_nodes() {
                    let n = self.node(i);
                    if n.kind == Kind::NewDir {
                        continue;
                    }
                    total += 1;
                    if n.extract && n.kind == Kind::File {
                        marked += 1;
                        if let Ok(st) = fd_core::wire::attr::Stat::parse(n.lstat.as_bytes()) {
                            if st.mode & 0o170000 == 0o100000 && st.size > 0 {
                                bytes += st.size as u64;
                            }
                        }
                    } else if n.extract || n.extract_descendant {
                        marked += 1;
                    }
                }
                out.push_str(&format!(
                    "{total} total files; {marked} marked to be restored; {} bytes.\n",
                    commas(bytes)
                ));
            }
            "find" => {
                if args.is_empty() {
                    out.push_str("No file specification given.\n");
                }
                for a in args {
                    for i in self.all_nodes() {
                        if fnmatch(a, &self.node(i).name) {
                            out.push_str(&format!("{}{}\n", self.tag(i), self.path(i)));
                        }
                    }
                }
            }
            _ => {
                out.push_str("  Command    Description\n  =======    ===========\n");
                for (k, h) in COMMANDS {
                    out.push_str(&format!("  {k:<10} {h}\n"));
                }
                out.push('\n');
            }
        }
        (out, Outcome::Continue)
    }

    fn lsmark(&self, at: usize, level: usize, pat: Option<&str>, out: &mut String) {
        let indent = "  ".repeat(level.min(100));
        for c in self.children(at) {
            let n = self.node(c);
            if pat.is_none_or(|p| fnmatch(p, &n.name)) && (n.extract || n.extract_descendant) {
                out.push_str(&format!(
                    "{indent}{}{}{}\n",
                    self.tag(c),
                    n.name,
                    if self.has_children(c) { "/" } else { "" }
                ));
                if self.has_children(c) {
                    self.lsmark(c, level + 1, pat, out);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(path: &str, name: &str) -> SelectedFile {
        SelectedFile {
            job_id: 1,
            file_index: 1,
            path: path.into(),
            name: name.into(),
            lstat: String::new(),
            md5: String::new(),
        }
    }

    fn sample() -> Tree {
        Tree::build(
            &[
                f("/srv/data/", ""),
                f("/srv/data/", "a.txt"),
                f("/srv/data/", "b.txt"),
                f("/srv/data/sub/", ""),
                f("/srv/data/sub/", "c.txt"),
            ],
            false,
        )
    }

    #[test]
    fn cd_ls_mark_done() {
        let mut t = sample();
        assert_eq!(t.cwd(), "/");
        assert_eq!(t.command("cd /srv/data").0, "cwd is: /srv/data/\n");
        assert_eq!(t.command("ls").0, "a.txt\nb.txt\nsub/\n");
        assert_eq!(t.command("mark a.txt").0, "1 file newly marked.\n");
        assert_eq!(t.command("mark a.txt").0, "No files newly marked.\n");
        assert_eq!(t.command("mark sub").0, "2 files newly marked.\n");
        assert_eq!(t.command("ls").0, "*a.txt\nb.txt\n*sub/\n");
        assert_eq!(t.command("unmark sub/*").0, "1 file newly unmarked.\n");
        assert_eq!(t.command("cd ..").0, "cwd is: /srv/\n");
        assert_eq!(t.command("ls").0, "+data/\n");
        assert_eq!(t.command("lsmark").0, "+data/\n  *a.txt\n  *sub/\n");
        assert_eq!(
            t.command("count").0,
            "5 total files/dirs. 2 marked to be restored.\n"
        );
        assert_eq!(t.command("find c*").0, "/srv/data/sub/c.txt\n");
        assert_eq!(
            t.command("cd nowhere").0,
            "Invalid path given.\ncwd is: /srv/\n"
        );
        assert_eq!(
            t.command("frobnicate").0,
            "Invalid command \"frobnicate\". Enter \"done\" to exit.\n"
        );
        assert_eq!(t.command("done").1, Outcome::Done);
        assert_eq!(t.marked(), vec!["/srv/data/a.txt", "/srv/data/sub/"]);
    }

    #[test]
    fn absolute_patterns_and_all() {
        let mut t = sample();
        assert_eq!(
            t.command("mark /srv/data/*.txt").0,
            "2 files newly marked.\n"
        );
        assert_eq!(t.marked(), vec!["/srv/data/a.txt", "/srv/data/b.txt"]);
        let t = Tree::build(&[f("/srv/", "x"), f("/srv/", "y")], true);
        assert_eq!(t.marked().len(), 2);
        let mut t = sample();
        assert_eq!(t.command("quit").1, Outcome::Quit);
    }
}
