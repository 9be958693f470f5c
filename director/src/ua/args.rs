//! Console command lines as Bareos splits them (`ParseArgs`, `core/src/lib/parse_conf`'s
//! `parse_args` in `core/src/lib/util.cc`): words separated by blanks, double quotes group
//! blanks into a word (and are removed), and each word is split at its first `=` into a
//! keyword and a value. The keyword is compared case-insensitively (`FindArg`,
//! `FindArgWithValue`).

/// One `key[=value]` word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arg {
    /// The keyword (text before `=`), quotes removed.
    pub key: String,
    /// The value after `=`, if there was one.
    pub value: Option<String>,
}

/// A parsed command line: `args[0]` is the command word.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Args {
    /// The words.
    pub args: Vec<Arg>,
}

/// Bareos limits a command line to `MAX_CMD_ARGS` (30) words.
pub const MAX_ARGS: usize = 30;

impl Args {
    /// Split a command line. More than [`MAX_ARGS`] words are an error (Bareos silently
    /// drops them; refusing is safer than acting on half a command).
    pub fn parse(line: &str) -> Result<Args, String> {
        let mut args = Vec::new();
        let mut chars = line.chars().peekable();
        loop {
            while chars.peek().is_some_and(|c| c.is_whitespace()) {
                chars.next();
            }
            if chars.peek().is_none() {
                break;
            }
            let mut word = String::new();
            let mut key: Option<String> = None;
            let mut quoted = false;
            while let Some(&c) = chars.peek() {
                if c == '"' {
                    quoted = !quoted;
                    chars.next();
                    continue;
                }
                if !quoted && c.is_whitespace() {
                    break;
                }
                if !quoted && c == '=' && key.is_none() {
                    key = Some(std::mem::take(&mut word));
                    chars.next();
                    continue;
                }
                word.push(c);
                chars.next();
            }
            if quoted {
                return Err("unbalanced quotes in command".into());
            }
            args.push(match key {
                Some(k) => Arg {
                    key: k,
                    value: Some(word),
                },
                None => Arg {
                    key: word,
                    value: None,
                },
            });
            if args.len() > MAX_ARGS {
                return Err(format!("too many arguments (at most {MAX_ARGS})"));
            }
        }
        Ok(Args { args })
    }

    /// The command word.
    pub fn command(&self) -> Option<&str> {
        self.args.first().map(|a| a.key.as_str())
    }

    /// The words after the command.
    pub fn rest(&self) -> &[Arg] {
        self.args.get(1..).unwrap_or(&[])
    }

    /// `FindArg`: a word (after the command) with this keyword.
    pub fn has(&self, key: &str) -> bool {
        self.rest().iter().any(|a| a.key.eq_ignore_ascii_case(key))
    }

    /// `FindArgWithValue`: the value of `key=value`.
    pub fn value(&self, key: &str) -> Option<&str> {
        self.rest()
            .iter()
            .find(|a| a.key.eq_ignore_ascii_case(key) && a.value.is_some())
            .and_then(|a| a.value.as_deref())
    }

    /// The n-th word's keyword (0 = the command).
    pub fn key(&self, n: usize) -> Option<&str> {
        self.args.get(n).map(|a| a.key.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_values_quotes() {
        let a = Args::parse(r#"run job=CapBackup where="/tmp/a b" yes"#).unwrap();
        assert_eq!(a.command(), Some("run"));
        assert_eq!(a.value("JOB"), Some("CapBackup"));
        assert_eq!(a.value("where"), Some("/tmp/a b"));
        assert!(a.has("yes"));
        assert!(!a.has("no"));
        assert_eq!(a.value("yes"), None);
    }

    #[test]
    fn value_keeps_later_equals_and_empty() {
        let a = Args::parse("x a=b=c d= ").unwrap();
        assert_eq!(a.value("a"), Some("b=c"));
        assert_eq!(a.value("d"), Some(""));
    }

    #[test]
    fn bad_lines() {
        assert!(Args::parse("run \"job").is_err());
        let many = "x ".repeat(40);
        assert!(Args::parse(&many).is_err());
        assert_eq!(Args::parse("   ").unwrap().command(), None);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in ".{0,200}") {
            let _ = Args::parse(&s);
        }

        /// Words joined with blanks (values quoted when they hold blanks) parse back.
        #[test]
        fn round_trip(words in proptest::collection::vec(
            ("[a-zA-Z.][a-zA-Z0-9_.]{0,8}", proptest::option::of("[a-zA-Z0-9/ =_.-]{0,12}")),
            1..10,
        )) {
            let line = words
                .iter()
                .map(|(k, v)| match v {
                    Some(v) => format!("{k}=\"{v}\""),
                    None => k.clone(),
                })
                .collect::<Vec<_>>()
                .join("  ");
            let a = Args::parse(&line).expect("parses");
            proptest::prop_assert_eq!(a.args.len(), words.len());
            for (arg, (k, v)) in a.args.iter().zip(&words) {
                proptest::prop_assert_eq!(&arg.key, k);
                proptest::prop_assert_eq!(&arg.value, v);
            }
        }
    }
}
