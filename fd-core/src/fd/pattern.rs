//! Shell wildcard matching for the fileset's `W`, `WD`, `WF` and `WB` lines and the names of
//! Exclude blocks (`fnmatch(3)` as `core/src/findlib/find.cc` `AcceptFile()` calls it): `*`
//! matches any run of bytes (including `/` unless [`WildFlags::pathname`]), `?` one byte,
//! `[abc]`, `[a-z]` and `[!x]` a byte class, `\x` a literal. The option `i` (ignore case) is
//! `FNM_CASEFOLD` (ASCII), the option `W` (enhanced wild) is `FNM_PATHNAME`.
//!
//! The matcher is iterative with one backtrack point, so its work is bounded by
//! `pattern.len() * name.len()` and it needs no allocation. Regular expressions (`R` lines)
//! are the platform's ([`super::platform::FileSource::regex_match`]).

/// `fnmatch()` flags.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WildFlags {
    /// `FNM_CASEFOLD`: ASCII letters match either case.
    pub casefold: bool,
    /// `FNM_PATHNAME`: `*`, `?` and classes never match `/`.
    pub pathname: bool,
}

/// True if `name` matches the shell pattern `pat` (no flags).
pub fn wild_match(pat: &[u8], name: &[u8]) -> bool {
    wild_match_with(pat, name, WildFlags::default())
}

/// True if `name` matches the shell pattern `pat` under `flags`.
pub fn wild_match_with(pat: &[u8], name: &[u8], flags: WildFlags) -> bool {
    let fold = |b: u8| {
        if flags.casefold {
            b.to_ascii_lowercase()
        } else {
            b
        }
    };
    let (mut p, mut n) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        match pat.get(p) {
            Some(b'*') => {
                star = Some((p, n));
                p += 1;
                continue;
            }
            Some(&c) => {
                let b = name.get(n).copied().unwrap_or(0);
                let (ok, plen) = if flags.pathname && b == b'/' && c != b'/' {
                    // Only a literal '/' matches a '/' (a '\\/' escape included).
                    (c == b'\\' && pat.get(p + 1) == Some(&b'/'), 2)
                } else {
                    match_one(pat, p, fold(c), fold(b), flags.casefold)
                };
                if ok {
                    p += plen;
                    n += 1;
                    continue;
                }
            }
            None => {}
        }
        match star {
            // With FNM_PATHNAME a '*' cannot swallow a '/'.
            Some((_, sn)) if flags.pathname && name.get(sn) == Some(&b'/') => return false,
            Some((sp, sn)) => {
                p = sp + 1;
                n = sn + 1;
                star = Some((sp, sn + 1));
            }
            None => return false,
        }
    }
    pat.get(p..).unwrap_or(&[]).iter().all(|&c| c == b'*')
}

/// Match one pattern element starting at `p` (byte `c`) against `b`; returns whether it
/// matched and the element's length.
fn match_one(pat: &[u8], p: usize, c: u8, b: u8, fold: bool) -> (bool, usize) {
    let f = |x: u8| if fold { x.to_ascii_lowercase() } else { x };
    match c {
        b'?' => (true, 1),
        b'\\' => match pat.get(p + 1) {
            Some(&l) => (f(l) == b, 2),
            None => (b == b'\\', 1),
        },
        b'[' => {
            let mut i = p + 1;
            let negate = matches!(pat.get(i), Some(b'!') | Some(b'^'));
            if negate {
                i += 1;
            }
            let mut matched = false;
            let mut first = true;
            loop {
                let Some(&x) = pat.get(i) else {
                    // No closing bracket: '[' is a literal.
                    return (b == b'[', 1);
                };
                if x == b']' && !first {
                    break;
                }
                first = false;
                if pat.get(i + 1) == Some(&b'-') && pat.get(i + 2).is_some_and(|&e| e != b']') {
                    let hi = pat.get(i + 2).copied().unwrap_or(x);
                    let hit = |v: u8| x <= v && v <= hi;
                    if hit(b)
                        || (fold && (hit(b.to_ascii_uppercase()) || hit(b.to_ascii_lowercase())))
                    {
                        matched = true;
                    }
                    i += 3;
                } else {
                    if f(x) == b {
                        matched = true;
                    }
                    i += 1;
                }
            }
            (matched != negate, i + 1 - p)
        }
        _ => (c == b, 1),
    }
}

/// The last path component of `path` (after the last `/`).
pub fn basename(path: &[u8]) -> &[u8] {
    match path.iter().rposition(|&b| b == b'/') {
        Some(i) => path.get(i + 1..).unwrap_or(&[]),
        None => path,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn wildcards() {
        assert!(wild_match(b"*.tmp", b"/srv/a/b.tmp"));
        assert!(!wild_match(b"*.tmp", b"/srv/a/b.tmpx"));
        assert!(wild_match(b"/srv/*/cache", b"/srv/x/y/cache"));
        assert!(wild_match(b"file?.[ch]", b"file1.c"));
        assert!(!wild_match(b"file?.[!ch]", b"file1.c"));
        assert!(wild_match(b"[a-c]x", b"bx"));
        assert!(wild_match(b"\\*", b"*"));
        assert!(!wild_match(b"\\*", b"a"));
        assert!(wild_match(b"", b""));
        assert!(!wild_match(b"", b"a"));
        assert!(wild_match(b"***", b""));
        assert!(wild_match(b"[", b"["));
        assert_eq!(basename(b"/a/b/c"), b"c");
        assert_eq!(basename(b"c"), b"c");
    }

    #[test]
    fn fnmatch_flags() {
        let fold = WildFlags {
            casefold: true,
            pathname: false,
        };
        assert!(wild_match_with(b"*.JPG", b"/a/b.jpg", fold));
        assert!(!wild_match(b"*.JPG", b"/a/b.jpg"));
        assert!(wild_match_with(b"[A-C]x", b"bX", fold));
        let path = WildFlags {
            casefold: false,
            pathname: true,
        };
        assert!(wild_match_with(b"/srv/*/cache", b"/srv/x/cache", path));
        assert!(!wild_match_with(b"/srv/*/cache", b"/srv/x/y/cache", path));
        assert!(!wild_match_with(b"/srv/?", b"/srv//", path));
        assert!(wild_match_with(b"/srv/*", b"/srv/abc", path));
        assert!(!wild_match_with(b"/srv/*", b"/srv/a/b", path));
    }

    proptest! {
        #[test]
        fn literal_patterns_match_only_themselves(a in "[a-z/.]{0,12}", b in "[a-z/.]{0,12}") {
            prop_assert_eq!(wild_match(a.as_bytes(), b.as_bytes()), a == b);
            let star = std::format!("{a}*");
            prop_assert_eq!(wild_match(star.as_bytes(), b.as_bytes()), b.starts_with(a.as_str()));
        }
    }
}
