//! `regexwhere`: the restore's list of sed-like name substitutions.
//!
//! The Director sends `restore replace=… prelinks=… regexwhere=«list»` when a restore job has
//! `RegexWhere =` (or `strip_prefix`/`add_prefix`/`add_suffix`, which it turns into such a
//! list). The format, as `core/src/lib/breg.cc` parses it (facts only):
//!
//! - each expression is `«sep»from«sep»to«sep»[options]`, where `«sep»` is the first byte and
//!   one of `! : ; | , & % = ~ / #`; `\«sep»` and `\\` inside `from`/`to` stand for the
//!   separator and a backslash;
//! - the options are `i` (ignore case) and `g` (accepted, no effect: only the first match
//!   is replaced); further separator bytes are skipped; the first other byte (normally `,`)
//!   ends the expression and is consumed, the next expression starts after it;
//! - `from` is a POSIX extended regular expression with `REG_NEWLINE`; `to` is literal
//!   except `$N` / `\N` (one digit) for a group;
//! - the expressions apply in order, each to the previous result; one that does not match
//!   leaves the name unchanged.
//!
//! The result replaces `where` + name: the file daemon restores to the rewritten name (and,
//! for hard links, the rewritten first name).

use regex::bytes::{Regex, RegexBuilder};

/// One `from`→`to` substitution.
#[derive(Debug, Clone)]
pub struct Subst {
    re: Regex,
    to: Vec<u8>,
}

/// Why a `regexwhere` list was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BregexpError {
    /// No expression at all, or an expression without its three separators.
    Malformed,
    /// The `from` part does not compile.
    BadRegex(String),
}

impl core::fmt::Display for BregexpError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            BregexpError::Malformed => f.write_str(
                "expected /from/to/ with one of !:;|,&%=~/# as separator, several separated by ','",
            ),
            BregexpError::BadRegex(e) => write!(f, "bad regular expression: {e}"),
        }
    }
}

const SEPARATORS: &[u8] = b"!:;|,&%=~/#";

/// Parse one expression at the start of `s`; returns it and the rest after it.
fn parse_one(s: &[u8]) -> Result<Option<(Subst, &[u8])>, BregexpError> {
    let Some((&sep, mut rest)) = s.split_first() else {
        return Ok(None);
    };
    if !SEPARATORS.contains(&sep) {
        return Ok(None);
    }
    let mut parts: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
    let mut part = 0usize;
    loop {
        match rest {
            [b'\\', c, tail @ ..] if *c == sep || *c == b'\\' => {
                if let Some(p) = parts.get_mut(part) {
                    p.push(*c);
                }
                rest = tail;
            }
            [c, tail @ ..] if *c == sep => {
                rest = tail;
                part += 1;
                if part == 2 {
                    break;
                }
            }
            [c, tail @ ..] => {
                if let Some(p) = parts.get_mut(part) {
                    p.push(*c);
                }
                rest = tail;
            }
            [] => return Err(BregexpError::Malformed),
        }
    }
    let mut icase = false;
    // Options; the first byte that is none of them ends the expression and is consumed.
    while let Some((&c, tail)) = rest.split_first() {
        rest = tail;
        match c {
            b'i' => icase = true,
            b'g' => {}
            c if c == sep => {}
            _ => break,
        }
    }
    let [from, to] = parts;
    let from =
        String::from_utf8(from).map_err(|_| BregexpError::BadRegex("not UTF-8".to_string()))?;
    let re = RegexBuilder::new(&from)
        .unicode(false)
        .case_insensitive(icase)
        .multi_line(true)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| BregexpError::BadRegex(e.to_string()))?;
    Ok(Some((Subst { re, to }, rest)))
}

/// Parse a whole `regexwhere` list (already unbashed).
pub fn parse(spec: &[u8]) -> Result<Vec<Subst>, BregexpError> {
    let mut out = Vec::new();
    let mut rest = spec;
    while let Some((s, r)) = parse_one(rest)? {
        out.push(s);
        rest = r;
        if out.len() > 64 {
            return Err(BregexpError::Malformed);
        }
    }
    if out.is_empty() {
        return Err(BregexpError::Malformed);
    }
    Ok(out)
}

/// Apply the list to `name`.
pub fn apply(list: &[Subst], name: &[u8]) -> Vec<u8> {
    let mut cur = name.to_vec();
    for s in list {
        let Some(caps) = s.re.captures(&cur) else {
            continue;
        };
        let Some(m0) = caps.get(0) else { continue };
        let mut next = Vec::with_capacity(cur.len() + s.to.len());
        next.extend_from_slice(cur.get(..m0.start()).unwrap_or(&[]));
        let mut i = 0usize;
        while let Some(&c) = s.to.get(i) {
            match (c, s.to.get(i + 1)) {
                (b'$' | b'\\', Some(&d)) if d.is_ascii_digit() => {
                    if let Some(g) = caps.get(usize::from(d - b'0')) {
                        next.extend_from_slice(g.as_bytes());
                    }
                    i += 2;
                }
                _ => {
                    next.push(c);
                    i += 1;
                }
            }
        }
        next.extend_from_slice(cur.get(m0.end()..).unwrap_or(&[]));
        cur = next;
    }
    cur
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(spec: &str, name: &str) -> String {
        let l = parse(spec.as_bytes()).expect(spec);
        String::from_utf8(apply(&l, name.as_bytes())).unwrap()
    }

    #[test]
    fn substitutions_as_bareos_applies_them() {
        assert_eq!(run("!/srv!/tmp/r!", "/srv/a/b"), "/tmp/r/a/b");
        // The Director's forms: strip_prefix, add_prefix, add_suffix.
        assert_eq!(run("!/srv/data!!i", "/SRV/data/x"), "/x");
        assert_eq!(run("!^!/restore!", "/etc/passwd"), "/restore/etc/passwd");
        assert_eq!(run("!([^/])$!$1.old!", "/etc/passwd"), "/etc/passwd.old");
        // Several, applied in order.
        assert_eq!(run("!/srv!/a!,!^!/b!,!([^/])$!$1.x!", "/srv/f"), "/b/a/f.x");
        // Other separators, escapes, backreferences with \N, only the first match.
        assert_eq!(run("#o#0#", "/foo/boo"), "/f0o/boo");
        assert_eq!(run("|(a+)(b)|\\2\\1|", "/xaab"), "/xbaa");
        assert_eq!(run("!a\\!b!c!", "/a!b"), "/c");
        // No match: unchanged.
        assert_eq!(run("!nomatch!x!", "/srv/a"), "/srv/a");
    }

    #[test]
    fn malformed_lists_are_refused() {
        assert_eq!(parse(b"").unwrap_err(), BregexpError::Malformed);
        assert_eq!(parse(b"x/a/b/").unwrap_err(), BregexpError::Malformed);
        assert_eq!(parse(b"!a!b").unwrap_err(), BregexpError::Malformed);
        assert!(matches!(parse(b"!(!b!"), Err(BregexpError::BadRegex(_))));
    }
}
