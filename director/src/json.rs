//! A small ordered JSON value and the two printers the Director's API mode 2 needs.
//!
//! Bareos builds its console results with jansson and prints them with `JSON_INDENT(2)`
//! (`UA_JSON_FLAGS_NORMAL`) or `JSON_COMPACT` after `.api json compact=yes`
//! (`core/src/lib/output_formatter.h`). jansson keeps object keys in insertion order, which
//! is why the captured envelope reads `jsonrpc`, `id`, `result` in that order
//! (vectors/clear-bconsole conn 1 msg 38). A `BTreeMap`-based JSON library would sort the
//! keys, so this module keeps objects as vectors of pairs and prints them itself:
//!
//! - pretty: `{`, newline, two more spaces per level, `"key": value`, `,` + newline between
//!   members, the closing bracket on its own line; empty containers print as `{}` / `[]`;
//!   no trailing newline (msg 38 is 68 bytes and ends in `}`);
//! - compact: no whitespace at all (`{"a":1,"b":[]}`).
//!
//! Strings are escaped as jansson does: `"` `\\` and the control characters (`\n`, `\t`,
//! `\r`, `\b`, `\f`, others `\u00XX`); `/` and non-ASCII are written as they are.

use std::fmt::Write as _;

/// A JSON value with ordered objects.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    /// `null`
    Null,
    /// `true` / `false`
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A string.
    Str(String),
    /// An array.
    Array(Vec<Json>),
    /// An object, keys in insertion order.
    Object(Vec<(String, Json)>),
}

impl Json {
    /// An empty object.
    pub fn object() -> Json {
        Json::Object(Vec::new())
    }

    /// A string value.
    pub fn str(s: impl Into<String>) -> Json {
        Json::Str(s.into())
    }

    /// Add or replace `key` in an object (no effect on other values).
    pub fn set(&mut self, key: impl Into<String>, value: Json) {
        if let Json::Object(members) = self {
            let key = key.into();
            if let Some(m) = members.iter_mut().find(|(k, _)| *k == key) {
                m.1 = value;
            } else {
                members.push((key, value));
            }
        }
    }

    /// Builder form of [`Json::set`].
    pub fn with(mut self, key: impl Into<String>, value: Json) -> Json {
        self.set(key, value);
        self
    }

    /// The member `key` of an object.
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(m) => m.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// jansson `JSON_INDENT(2)`.
    pub fn pretty(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, Some(0));
        out
    }

    /// jansson `JSON_COMPACT`.
    pub fn compact(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, None);
        out
    }

    fn write(&self, out: &mut String, indent: Option<usize>) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Json::Str(s) => escape(out, s),
            Json::Array(items) => {
                if items.is_empty() {
                    out.push_str("[]");
                    return;
                }
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    newline(out, indent.map(|n| n + 1));
                    v.write(out, indent.map(|n| n + 1));
                }
                newline(out, indent);
                out.push(']');
            }
            Json::Object(members) => {
                if members.is_empty() {
                    out.push_str("{}");
                    return;
                }
                out.push('{');
                for (i, (k, v)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    newline(out, indent.map(|n| n + 1));
                    escape(out, k);
                    out.push(':');
                    if indent.is_some() {
                        out.push(' ');
                    }
                    v.write(out, indent.map(|n| n + 1));
                }
                newline(out, indent);
                out.push('}');
            }
        }
    }
}

fn newline(out: &mut String, indent: Option<usize>) {
    if let Some(n) = indent {
        out.push('\n');
        for _ in 0..n * 2 {
            out.push(' ');
        }
    }
}

fn escape(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The JSON-RPC envelope of a successful result (`JsonFinalizeResult`).
pub fn rpc_result(result: Json) -> Json {
    Json::object()
        .with("jsonrpc", Json::str("2.0"))
        .with("id", Json::Null)
        .with("result", result)
}

/// The JSON-RPC envelope of a failed command: `error.code` 1, `message` `failed`, and the
/// partial result plus the messages (by type: `error`, `info` ...) under `data`.
pub fn rpc_error(result: Json, messages: Json) -> Json {
    let data = Json::object()
        .with("result", result)
        .with("messages", messages);
    let error = Json::object()
        .with("code", Json::Int(1))
        .with("message", Json::str("failed"))
        .with("data", data);
    Json::object()
        .with("jsonrpc", Json::str("2.0"))
        .with("id", Json::Null)
        .with("error", error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_reply_is_byte_identical_to_capture() {
        // vectors/clear-bconsole, conn 1 msg 38 (68 bytes).
        let want =
            b"{\n  \"jsonrpc\": \"2.0\",\n  \"id\": null,\n  \"result\": {\n    \"api\": 2\n  }\n}";
        let got = rpc_result(Json::object().with("api", Json::Int(2))).pretty();
        assert_eq!(got.as_bytes(), want);
        assert_eq!(got.len(), 68);
    }

    #[test]
    fn empty_result_matches_capture() {
        // vectors/clear-dot-status, conn 1 msg 43 (52 bytes).
        let want = b"{\n  \"jsonrpc\": \"2.0\",\n  \"id\": null,\n  \"result\": {}\n}";
        assert_eq!(rpc_result(Json::object()).pretty().as_bytes(), want);
    }

    #[test]
    fn nested_arrays_match_capture_shape() {
        // The first object of vectors/clear-bconsole conn 1 msg 43, re-indented.
        let job = Json::object()
            .with("jobid", Json::str("1"))
            .with("name", Json::str("CapBackup"));
        let r = rpc_result(Json::object().with("jobs", Json::Array(vec![job])));
        assert_eq!(
            r.pretty(),
            "{\n  \"jsonrpc\": \"2.0\",\n  \"id\": null,\n  \"result\": {\n    \"jobs\": [\n      {\n        \"jobid\": \"1\",\n        \"name\": \"CapBackup\"\n      }\n    ]\n  }\n}"
        );
    }

    #[test]
    fn compact_and_escapes() {
        let v = Json::object()
            .with("a", Json::str("x\"y\\z\n\u{1}/é"))
            .with("b", Json::Array(vec![]))
            .with("c", Json::Bool(false));
        assert_eq!(
            v.compact(),
            "{\"a\":\"x\\\"y\\\\z\\n\\u0001/é\",\"b\":[],\"c\":false}"
        );
    }

    fn arb_json() -> impl proptest::strategy::Strategy<Value = Json> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Json::Null),
            any::<bool>().prop_map(Json::Bool),
            any::<i64>().prop_map(Json::Int),
            "[ -~\n\t\u{1}é]{0,8}".prop_map(Json::Str),
        ];
        leaf.prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Json::Array),
                proptest::collection::vec(("[a-z]{1,4}", inner), 0..4).prop_map(Json::Object),
            ]
        })
    }

    /// Remove the whitespace jansson's indenting adds (outside strings).
    fn squeeze(s: &str) -> String {
        let mut out = String::new();
        let mut in_str = false;
        let mut esc = false;
        for c in s.chars() {
            if in_str {
                out.push(c);
                if esc {
                    esc = false;
                } else if c == '\\' {
                    esc = true;
                } else if c == '"' {
                    in_str = false;
                }
            } else if c == '"' {
                in_str = true;
                out.push(c);
            } else if !c.is_whitespace() {
                out.push(c);
            }
        }
        out
    }

    proptest::proptest! {
        #[test]
        fn pretty_is_compact_plus_layout(v in arb_json()) {
            let pretty = v.pretty();
            proptest::prop_assert_eq!(squeeze(&pretty), v.compact());
            proptest::prop_assert!(!pretty.ends_with('\n'));
            // Every line of the pretty form is indented by an even number of blanks.
            for line in pretty.lines() {
                let n = line.len() - line.trim_start_matches(' ').len();
                proptest::prop_assert_eq!(n % 2, 0);
            }
        }
    }

    #[test]
    fn set_replaces_in_place() {
        let mut v = Json::object()
            .with("a", Json::Int(1))
            .with("b", Json::Int(2));
        v.set("a", Json::Int(3));
        assert_eq!(v.compact(), "{\"a\":3,\"b\":2}");
        assert_eq!(v.get("b"), Some(&Json::Int(2)));
    }
}
