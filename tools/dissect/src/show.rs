//! Short human forms of decoded messages.
//!
//! fd-core's codecs derive `Debug`, which prints byte strings as lists of numbers
//! (`job: [67, 97, 112, …]`). [`fields`] rewrites every such list into a quoted string when
//! the bytes are text (`job: "CapBackup.2026-11-22_15.46.52_03"`, bashed spaces as `\x01`) or
//! into hex when they are binary, and shortens long ones, so that one line per message stays
//! readable for a Bareos developer.

use std::fmt::Debug;

/// Longest rendering of one byte string before it is cut.
const MAX_SHOWN: usize = 72;

/// A value's `Debug`, split into a name path and the short fields: `Level(Backup { level:
/// Full, .. })` becomes `("Level::Backup", "level: Full, ..")`. Tuple variants that wrap a
/// value are followed into the value; a struct's own name is dropped when it repeats the
/// variant's (`JobReply(JobReply { .. })`) or follows a tuple variant.
pub fn split<T: Debug>(v: &T) -> (String, String) {
    let mut d = fields(&format!("{v:?}"));
    let mut path: Vec<String> = Vec::new();
    loop {
        let end = d
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(d.len());
        // Type and variant names start with a capital letter; a number is a value.
        if end == 0 || !d.starts_with(|c: char| c.is_ascii_uppercase()) {
            break;
        }
        let (name, rest) = d.split_at(end);
        let rest = rest.trim_start();
        let (inner, tuple) =
            if let Some(r) = rest.strip_prefix('(').and_then(|r| r.strip_suffix(')')) {
                (r, true)
            } else if let Some(r) = rest.strip_prefix('{').and_then(|r| r.strip_suffix('}')) {
                (r, false)
            } else if rest.is_empty() {
                ("", false)
            } else {
                break;
            };
        // A struct inside a tuple variant is usually named after it (`Job(JobCmd { .. })`,
        // `Media(MediaInfo { .. })`): drop the repetition, keep real sub-variants
        // (`Level(Backup { .. })`).
        let repeats = path.last().is_some_and(|p| {
            name.starts_with(p.as_str())
                || p.starts_with(name)
                || (p.len() >= 4 && name.len() >= 4 && p[..4] == name[..4])
        });
        if !repeats {
            path.push(name.to_string());
        }
        d = inner.trim().to_string();
        if !tuple || !balanced(&d) {
            break;
        }
    }
    (path.join("::"), d)
}

/// True when the brackets of `s` close in order (so `A(x), B(y)` is not one wrapped value).
fn balanced(s: &str) -> bool {
    let mut depth = 0i32;
    let mut in_str = false;
    let mut esc = false;
    let first_ident_end = s
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    for (i, c) in s.char_indices() {
        if in_str {
            match (esc, c) {
                (true, _) => esc = false,
                (false, '\\') => esc = true,
                (false, '"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_str = true,
            '(' | '{' | '[' => depth += 1,
            ')' | '}' | ']' => {
                depth -= 1;
                if depth == 0 && i + c.len_utf8() != s.len() {
                    return false;
                }
            }
            ',' if depth == 0 => return false,
            ' ' if depth == 0 && i > first_ident_end => return false,
            _ => {}
        }
    }
    depth == 0
}

/// Rewrite the byte lists of a `Debug` string.
pub fn fields(debug: &str) -> String {
    let mut out = String::with_capacity(debug.len().min(4096));
    let mut rest = debug;
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find(']').and_then(|close| {
            let body = &after[..close];
            byte_list(body).map(|bytes| (close, bytes))
        }) {
            Some((close, bytes)) => {
                out.push_str(&bytes_str(&bytes));
                rest = &after[close + 1..];
            }
            None => {
                out.push('[');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    modes(&versions(&unwrap_some(&streams(&out))))
}

/// `mode: 33188` → `mode: 0o100644`: file modes read best in octal.
fn modes(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find("mode: ") {
        let (head, tail) = rest.split_at(at + "mode: ".len());
        out.push_str(head);
        let end = tail
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(tail.len());
        match tail[..end].parse::<u32>() {
            Ok(m) => out.push_str(&format!("0o{m:o}")),
            Err(_) => out.push_str(&tail[..end]),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// `Some(x)` → `x`: in one-line output an absent field shows as `None` anyway.
fn unwrap_some(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut closes: Vec<i32> = Vec::new(); // depth at which a `Some(` was removed
    let mut depth = 0i32;
    let mut in_str = false;
    let mut esc = false;
    let mut i = 0;
    let bytes = s.as_bytes();
    while i < s.len() {
        let c = s[i..].chars().next().unwrap_or(' ');
        if in_str {
            match (esc, c) {
                (true, _) => esc = false,
                (false, '\\') => esc = true,
                (false, '"') => in_str = false,
                _ => {}
            }
            out.push(c);
            i += c.len_utf8();
            continue;
        }
        let word_start = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
        if word_start && s[i..].starts_with("Some(") {
            depth += 1;
            closes.push(depth);
            i += "Some(".len();
            continue;
        }
        match c {
            '"' => in_str = true,
            '(' | '{' | '[' => depth += 1,
            ')' | '}' | ']' => {
                if c == ')' && closes.last() == Some(&depth) {
                    closes.pop();
                    depth -= 1;
                    i += 1;
                    continue;
                }
                depth -= 1;
            }
            _ => {}
        }
        out.push(c);
        i += c.len_utf8();
    }
    out
}

/// `Version { major: 26, minor: 0, patch: 0 }` → `26.0.0`.
fn versions(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find("Version { major: ") {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        let parsed = tail.find(" }").and_then(|end| {
            let body = &tail["Version { ".len()..end];
            let mut nums = body.split(", ").map(|kv| kv.split(": ").nth(1));
            let (a, b, c) = (nums.next()??, nums.next()??, nums.next()??);
            Some((format!("{a}.{b}.{c}"), end + 2))
        });
        match parsed {
            Some((v, used)) => {
                out.push_str(&v);
                rest = &tail[used..];
            }
            None => {
                out.push_str("Version");
                rest = &tail["Version".len()..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// `Stream(1)` → `Stream(1 UnixAttributes)`: name the stream type of a stream word.
fn streams(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find("Stream(") {
        let (head, tail) = rest.split_at(at + "Stream(".len());
        out.push_str(head);
        let num_end = tail
            .find(|c: char| !(c.is_ascii_digit() || c == '-'))
            .unwrap_or(tail.len());
        match (
            tail[..num_end].parse::<i32>(),
            tail[num_end..].starts_with(')'),
        ) {
            (Ok(n), true) => {
                let st = fd_core::wire::stream::Stream(n);
                out.push_str(&format!("{n} {:?}", st.kind()));
            }
            _ => out.push_str(&tail[..num_end]),
        }
        rest = &tail[num_end..];
    }
    out.push_str(rest);
    out
}

fn byte_list(body: &str) -> Option<Vec<u8>> {
    if body.trim().is_empty() {
        return Some(Vec::new());
    }
    body.split(", ")
        .map(|n| n.trim().parse::<u8>().ok())
        .collect()
}

/// A byte string as `"text"` (with escapes) or as hex, cut after about 72 characters.
pub fn bytes_str(b: &[u8]) -> String {
    let texty = b.iter().all(|&c| {
        c.is_ascii_graphic()
            || c == b' '
            || c == b'\n'
            || c == b'\t'
            || c == 0x01
            || c == 0x1e
            || c == 0
    });
    let mut s = String::new();
    if texty {
        s.push('"');
        for &c in b {
            if s.len() > MAX_SHOWN {
                break;
            }
            match c {
                b'\n' => s.push_str("\\n"),
                b'\t' => s.push_str("\\t"),
                b'"' => s.push_str("\\\""),
                b'\\' => s.push_str("\\\\"),
                0 => s.push_str("\\0"),
                c if c.is_ascii_graphic() || c == b' ' => s.push(char::from(c)),
                c => s.push_str(&format!("\\x{c:02x}")),
            }
        }
        s.push('"');
        if s.len() > MAX_SHOWN + 1 {
            s.push_str(&format!("…({} bytes)", b.len()));
        }
    } else {
        let shown = b.len().min(MAX_SHOWN / 2);
        s.push_str("0x");
        s.push_str(&hex::encode(&b[..shown]));
        if shown < b.len() {
            s.push_str(&format!("…({} bytes)", b.len()));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(dead_code)]
    fn rewrites_byte_lists() {
        assert_eq!(
            fields("A { job: [97, 98], n: 3 }"),
            "A { job: \"ab\", n: 3 }"
        );
        assert_eq!(fields("B([])"), "B(\"\")");
        assert_eq!(fields("C([1000, 2])"), "C([1000, 2])");
        assert_eq!(fields("D([200, 1])"), "D(0xc801)");
        assert_eq!(fields("h: Stream(17)"), "h: Stream(17 Sha256Digest)");
        assert_eq!(fields("mode: 33188, m: [45]"), "mode: 0o100644, m: \"-\"");
        assert_eq!(
            fields("a: Some([104]), b: Some(Some(3)), c: Some(\"Some(\")"),
            "a: \"h\", b: 3, c: \"Some(\""
        );
        assert_eq!(
            fields("v: Version { major: 26, minor: 0, patch: 1 }, n: 2"),
            "v: 26.0.1, n: 2"
        );
        #[derive(Debug)]
        struct S {
            a: u8,
        }
        #[derive(Debug)]
        enum E {
            V(S),
            W { b: u8 },
            X,
            Y(u8, u8),
        }
        let (n, f) = split(&E::V(S { a: 1 }));
        assert_eq!((n.as_str(), f.as_str()), ("V::S", "a: 1"));
        #[derive(Debug)]
        enum F {
            Sx(S),
        }
        let (n, f) = split(&F::Sx(S { a: 1 }));
        assert_eq!((n.as_str(), f.as_str()), ("Sx", "a: 1"));
        let (n, f) = split(&E::W { b: 2 });
        assert_eq!((n.as_str(), f.as_str()), ("W", "b: 2"));
        let (n, f) = split(&E::X);
        assert_eq!((n.as_str(), f.as_str()), ("X", ""));
        #[derive(Debug)]
        enum G {
            Count(u64),
        }
        let (n, f) = split(&G::Count(4));
        assert_eq!((n.as_str(), f.as_str()), ("Count", "4"));
        let (n, f) = split(&E::Y(1, 2));
        assert_eq!((n.as_str(), f.as_str()), ("Y", "1, 2"));
        let (n, f) = split(&S { a: 3 });
        assert_eq!((n.as_str(), f.as_str()), ("S", "a: 3"));
        let long = vec![b'a'; 200];
        assert!(bytes_str(&long).ends_with("…(200 bytes)"));
    }
}
