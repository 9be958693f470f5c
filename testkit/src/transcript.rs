//! Reader for the captures' `transcript.jsonl` (format in `shared/vectors/README.md`,
//! "JSON Lines format"): one flat JSON object a line, written by the capture tool with
//! `", "` and `": "` separators, so a field is found by its `"key": ` prefix without a JSON
//! library.

use std::path::PathBuf;

/// The value of `key` in one jsonl line: the text between the quotes for a string, else the
/// raw token up to the next `,` or `}` (numbers, `null`, `true`).
pub fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let pat = format!("\"{key}\": ");
    let start = line.find(&pat)? + pat.len();
    let rest = line.get(start..)?;
    if let Some(s) = rest.strip_prefix('"') {
        let end = s.find('"')?;
        s.get(..end)
    } else {
        let end = rest.find([',', '}']).unwrap_or(rest.len());
        rest.get(..end).map(str::trim)
    }
}

/// Lower-case or upper-case hex to bytes; panics on an odd length or a non-hex digit.
pub fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len() % 2 == 0, "odd hex length {}", s.len());
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex"))
        .collect()
}

/// One `"kind": "msg"` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Msg {
    pub conn: u32,
    /// Message number within the connection (from 1).
    pub i: u32,
    /// `<sender role>><receiver role>`, e.g. `dir>fd`.
    pub dir: String,
    /// The wire length field: negative for a signal (then `data` is empty).
    pub len: i32,
    /// The signal's name (`EOD`, ...) for signals.
    pub signal: Option<String>,
    /// The payload (its first 32 KiB when `sha256` is set).
    pub data: Vec<u8>,
    /// For payloads the transcript cut to 32 KiB: the hex SHA-256 of the whole payload.
    pub sha256: Option<String>,
}

impl Msg {
    /// The sender's role (`dir`, `fd`, `sd`, `con`).
    pub fn from(&self) -> &str {
        self.dir.split('>').next().unwrap_or("")
    }

    /// The signal code (the negative length) for a signal, else `None`.
    pub fn signal_code(&self) -> Option<i32> {
        (self.len < 0).then_some(self.len)
    }

    /// True if the transcript holds only the first 32 KiB of the payload.
    pub fn truncated(&self) -> bool {
        self.sha256.is_some()
    }
}

/// One `"kind": "conn"` line (the fields the tests use).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conn {
    pub conn: u32,
    /// Role of the connecting side (`dir`, `fd`, `sd`, `con`).
    pub client_role: String,
    pub server_role: String,
}

/// The path of `<capture>/transcript.jsonl` under [`crate::vectors`].
pub fn path(capture: &str) -> PathBuf {
    crate::vectors().join(capture).join("transcript.jsonl")
}

/// The text of `<capture>/transcript.jsonl`; panics naming the file if it cannot be read.
pub fn read(capture: &str) -> String {
    let p = path(capture);
    std::fs::read_to_string(&p).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (../shared/vectors must be next to the checkout, or set BARQUE_VECTORS)",
            p.display()
        )
    })
}

fn parse_msg(line: &str) -> Msg {
    let num = |k: &str| -> i64 {
        field(line, k)
            .unwrap_or_else(|| panic!("no {k:?} in {line}"))
            .parse()
            .unwrap_or_else(|e| panic!("{k:?} in {line}: {e}"))
    };
    let truncated = field(line, "truncated") == Some("true");
    Msg {
        conn: num("conn") as u32,
        i: num("i") as u32,
        dir: field(line, "dir").expect("dir").to_owned(),
        len: num("len") as i32,
        signal: field(line, "signal")
            .filter(|s| *s != "null")
            .map(str::to_owned),
        data: unhex(field(line, "hex").unwrap_or("")),
        sha256: truncated.then(|| field(line, "sha256").unwrap_or("").to_owned()),
    }
}

/// Every message of every connection of `capture`, in transcript order.
pub fn all_messages(capture: &str) -> Vec<Msg> {
    read(capture)
        .lines()
        .filter(|l| field(l, "kind") == Some("msg"))
        .map(parse_msg)
        .collect()
}

/// Every message of connection `conn` of `capture`, in transcript order.
pub fn messages(capture: &str, conn: u32) -> Vec<Msg> {
    let c = conn.to_string();
    read(capture)
        .lines()
        .filter(|l| field(l, "kind") == Some("msg") && field(l, "conn") == Some(&c))
        .map(parse_msg)
        .collect()
}

/// The `conn` record of connection `conn` of `capture`; panics if there is none.
pub fn conn(capture: &str, conn: u32) -> Conn {
    let c = conn.to_string();
    let text = read(capture);
    let line = text
        .lines()
        .find(|l| field(l, "kind") == Some("conn") && field(l, "conn") == Some(&c))
        .unwrap_or_else(|| panic!("{capture}: no conn {conn}"));
    Conn {
        conn,
        client_role: field(line, "client_role").expect("client_role").to_owned(),
        server_role: field(line, "server_role").expect("server_role").to_owned(),
    }
}

/// The payload of message `i` of connection `conn`; panics if there is no such message.
pub fn message(capture: &str, conn: u32, i: u32) -> Vec<u8> {
    messages(capture, conn)
        .into_iter()
        .find(|m| m.i == i)
        .unwrap_or_else(|| panic!("{capture} conn {conn} msg {i} not found"))
        .data
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields() {
        let l = r#"{"kind": "msg", "conn": 1, "i": 3, "dir": "con>dir", "len": -1, "signal": "EOD", "hex": ""}"#;
        assert_eq!(field(l, "kind"), Some("msg"));
        assert_eq!(field(l, "len"), Some("-1"));
        assert_eq!(field(l, "hex"), Some(""));
        assert_eq!(field(l, "truncated"), None);
        let m = parse_msg(l);
        assert_eq!(m.signal_code(), Some(-1));
        assert_eq!(m.from(), "con");
        assert_eq!(m.signal.as_deref(), Some("EOD"));
        assert_eq!(unhex("4f4B0a"), b"OK\n");
    }

    /// clear-backup-full conn 1 (bconsole → Director): msg 1 is the console's Hello, msg 4
    /// the Director's `1000 OK auth`.
    #[test]
    fn reads_a_capture() {
        let c = conn("clear-backup-full", 1);
        assert_eq!(
            (c.client_role.as_str(), c.server_role.as_str()),
            ("con", "dir")
        );
        let msgs = messages("clear-backup-full", 1);
        assert_eq!(msgs[0].i, 1);
        assert_eq!(msgs[0].from(), "con");
        assert!(msgs[0]
            .data
            .starts_with(b"Hello *UserAgent* calling version 26.0.0"));
        assert_eq!(msgs[0].data.len() as i32, msgs[0].len);
        assert_eq!(message("clear-backup-full", 1, 4), b"1000 OK auth\n");
        assert!(msgs.iter().all(|m| m.conn == 1));
        let all = all_messages("clear-backup-full");
        assert!(all.len() > msgs.len());
        assert_eq!(all.iter().filter(|m| m.conn == 1).count(), msgs.len());
    }
}
