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

/// `Variant(fields)` of a value's `Debug`, split into the variant name and the short fields.
pub fn split<T: Debug>(v: &T) -> (String, String) {
    let d = fields(&format!("{v:?}"));
    let end = d
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(d.len());
    let (name, rest) = d.split_at(end);
    let rest = rest.trim();
    let inner = rest
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .or_else(|| rest.strip_prefix('{').and_then(|r| r.strip_suffix('}')))
        .unwrap_or(rest)
        .trim();
    (name.to_string(), inner.to_string())
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

/// A byte string as `"text"` (with escapes) or as hex, cut after [`MAX_SHOWN`] characters.
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
    fn rewrites_byte_lists() {
        assert_eq!(
            fields("A { job: [97, 98], n: 3 }"),
            "A { job: \"ab\", n: 3 }"
        );
        assert_eq!(fields("B([])"), "B(\"\")");
        assert_eq!(fields("C([1000, 2])"), "C([1000, 2])");
        assert_eq!(fields("D([200, 1])"), "D(0xc801)");
        let (n, f) = split(&Some(&b"x\n"[..]));
        assert_eq!((n.as_str(), f.as_str()), ("Some", "\"x\\n\""));
        let long = vec![b'a'; 200];
        assert!(bytes_str(&long).ends_with("…(200 bytes)"));
    }
}
