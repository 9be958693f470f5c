//! The tokenizer of the Bareos configuration language.
//!
//! Bareos tokenizes its configuration files with a hand-written state machine
//! (`LexGetToken` in `core/src/lib/lex.cc`). Its rules are unusual enough that a "reasonable"
//! tokenizer would reject or misread real configurations, so this one reproduces them:
//!
//! - **Identifiers swallow spaces.** A token that starts with a letter continues over letters
//!   *and blanks*, and the blanks are dropped: `Maximum Concurrent Jobs` is the single token
//!   `MaximumConcurrentJobs`, which is why directive names may be written with or without
//!   spaces. If a character that is neither a letter nor a blank shows up (`bareos-dir`,
//!   `GZIP9`), the token turns into an *unquoted string*, which ends at the first blank.
//! - **Numbers** are runs of digits ended by a blank, end of line, `,` or `;`; anything else
//!   (`127.0.0.1`, `10k`) turns them into unquoted strings.
//! - **Unquoted strings** end at a blank, end of line, `=`, `{`, `}`, `;`, `,`, `#` or `"`.
//! - **Quoted strings** take `\x` as a literal `x` (there are no escape sequences beyond
//!   "take the next byte as is"), may span lines (the newline becomes part of the value), and a
//!   closing quote followed by only blanks and then another quote, on the same or on the next
//!   line, continues the string: `"abc" "def"` is `abcdef`.
//! - `#` starts a comment up to the end of the line. There are no `//` or `/* */` comments:
//!   `//` is just the start of an unquoted string.
//! - `;` is an end of line.
//! - `@path` and `@"path"` include another file; the lexer reports them as an
//!   [`TokenKind::Include`] token and the parser opens the file (see `parser.rs`).
//! - A UTF-8 byte order mark at the start of a file is skipped; UTF-16 ones are refused.
//!
//! Every token carries the line it starts on and the raw source text it came from: a few
//! directives (Schedule `Run`, FileSet `File`, `Plugin Names`) are read by Bareos with a lexer
//! option that disables identifiers, and the validator recovers those words from the raw text
//! instead of needing a second lexing mode.

use std::fmt;

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// Letters (blanks inside dropped): directive names, resource types, keywords.
    Identifier,
    /// Digits only.
    Number,
    /// Any other run of non-separator characters.
    UnquotedString,
    /// `"..."`, escapes resolved, continuations joined.
    QuotedString,
    /// `{`
    BeginBlock,
    /// `}`
    EndBlock,
    /// `=`
    Equals,
    /// `,`
    Comma,
    /// End of line or `;`.
    Eol,
    /// `@path`: the text is the path.
    Include,
    /// End of input.
    Eof,
}

impl TokenKind {
    /// Whether the token can stand for a word value (name, string, keyword, number).
    pub fn is_word(self) -> bool {
        matches!(
            self,
            TokenKind::Identifier
                | TokenKind::Number
                | TokenKind::UnquotedString
                | TokenKind::QuotedString
        )
    }

    /// How error messages name this kind of token.
    pub fn describe(self) -> &'static str {
        match self {
            TokenKind::Identifier => "identifier",
            TokenKind::Number => "number",
            TokenKind::UnquotedString => "string",
            TokenKind::QuotedString => "quoted string",
            TokenKind::BeginBlock => "'{'",
            TokenKind::EndBlock => "'}'",
            TokenKind::Equals => "'='",
            TokenKind::Comma => "','",
            TokenKind::Eol => "end of line",
            TokenKind::Include => "@include",
            TokenKind::Eof => "end of file",
        }
    }
}

/// One token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub kind: TokenKind,
    /// The token's value: identifier without its blanks, string without quotes and escapes.
    pub text: String,
    /// The source text the token was read from (for quoted strings: including the quotes).
    pub raw: String,
    /// 1-based line the token starts on.
    pub line: u32,
}

/// A tokenizer error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LexErrorKind {
    /// A `"` without its closing `"` before the end of the file.
    UnterminatedString,
    /// `@"...` without the closing `"`.
    UnterminatedInclude,
    /// The file starts with a UTF-16 byte order mark.
    Utf16,
}

/// A tokenizer error and where it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LexError {
    pub kind: LexErrorKind,
    /// Line where the offending token started.
    pub line: u32,
}

impl fmt::Display for LexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            LexErrorKind::UnterminatedString => write!(
                f,
                "unterminated quoted string starting on line {}; add the closing '\"'",
                self.line
            ),
            LexErrorKind::UnterminatedInclude => {
                write!(f, "unterminated quoted @include path; add the closing '\"'")
            }
            LexErrorKind::Utf16 => {
                write!(
                    f,
                    "this file is UTF-16 encoded; Bareos configurations must be UTF-8"
                )
            }
        }
    }
}

impl std::error::Error for LexError {}

/// Blank as Bareos' `B_ISSPACE` sees it inside a line (the newline is handled separately).
fn is_blank(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | 0x0b | 0x0c)
}

/// Ends an unquoted string.
fn ends_string(c: u8) -> bool {
    is_blank(c) || matches!(c, b'\n' | b'=' | b'{' | b'}' | b';' | b',' | b'#' | b'"')
}

/// Ends an `@path` include without quotes.
fn ends_include(c: u8) -> bool {
    is_blank(c) || matches!(c, b'\n' | b'{' | b'}' | b';' | b',' | b'#' | b'"')
}

/// Tokenizer over one file's bytes.
#[derive(Debug, Clone)]
pub struct Lexer {
    src: Vec<u8>,
    pos: usize,
    line: u32,
    started: bool,
    finished: bool,
}

impl Lexer {
    /// A lexer over `src` (the whole file).
    pub fn new(src: impl Into<Vec<u8>>) -> Self {
        Lexer {
            src: src.into(),
            pos: 0,
            line: 1,
            started: false,
            finished: false,
        }
    }

    /// Line of the next unread character.
    pub fn line(&self) -> u32 {
        self.line
    }

    fn peek(&self) -> Option<u8> {
        self.src.get(self.pos).copied()
    }

    fn peek_at(&self, off: usize) -> Option<u8> {
        self.src.get(self.pos + off).copied()
    }

    fn raw(&self, start: usize) -> String {
        String::from_utf8_lossy(self.src.get(start..self.pos).unwrap_or_default()).into_owned()
    }

    fn token(&self, kind: TokenKind, text: Vec<u8>, start: usize, line: u32) -> Token {
        Token {
            kind,
            text: String::from_utf8_lossy(&text).into_owned(),
            raw: self.raw(start),
            line,
        }
    }

    /// Read all tokens up to and including [`TokenKind::Eof`] (for tests and tools).
    pub fn tokenize(src: impl Into<Vec<u8>>) -> Result<Vec<Token>, LexError> {
        let mut lx = Lexer::new(src);
        let mut out = Vec::new();
        loop {
            let t = lx.next_token()?;
            let eof = t.kind == TokenKind::Eof;
            out.push(t);
            if eof {
                return Ok(out);
            }
        }
    }

    /// The next token. After [`TokenKind::Eof`] keeps returning `Eof`.
    pub fn next_token(&mut self) -> Result<Token, LexError> {
        if !self.started {
            self.started = true;
            match (self.peek(), self.peek_at(1), self.peek_at(2)) {
                (Some(0xef), Some(0xbb), Some(0xbf)) => self.pos = 3,
                (Some(0xff), Some(0xfe), _) | (Some(0xfe), Some(0xff), _) => {
                    self.finished = true;
                    return Err(LexError {
                        kind: LexErrorKind::Utf16,
                        line: 1,
                    });
                }
                _ => {}
            }
        }
        loop {
            let start = self.pos;
            let line = self.line;
            let Some(c) = self.peek() else {
                if !self.finished {
                    // A last line without a newline still ends with an end of line.
                    self.finished = true;
                    return Ok(self.token(TokenKind::Eol, Vec::new(), start, line));
                }
                return Ok(self.token(TokenKind::Eof, Vec::new(), start, line));
            };
            match c {
                b'\n' => {
                    self.pos += 1;
                    self.line += 1;
                    return Ok(self.token(TokenKind::Eol, Vec::new(), start, line));
                }
                c if is_blank(c) => self.pos += 1,
                b'#' => {
                    while let Some(c) = self.peek() {
                        if c == b'\n' {
                            break;
                        }
                        self.pos += 1;
                    }
                }
                b'{' | b'}' | b'=' | b',' | b';' => {
                    self.pos += 1;
                    let kind = match c {
                        b'{' => TokenKind::BeginBlock,
                        b'}' => TokenKind::EndBlock,
                        b'=' => TokenKind::Equals,
                        b',' => TokenKind::Comma,
                        _ => TokenKind::Eol,
                    };
                    return Ok(self.token(kind, vec![c], start, line));
                }
                b'"' => return self.quoted(start, line),
                b'@' => return self.include(start, line),
                c if c.is_ascii_alphabetic() => return Ok(self.identifier(start, line)),
                c if c.is_ascii_digit() => return Ok(self.number(start, line)),
                _ => {
                    let mut text = Vec::new();
                    return Ok(self.unquoted(&mut text, start, line));
                }
            }
        }
    }

    fn unquoted(&mut self, text: &mut Vec<u8>, start: usize, line: u32) -> Token {
        while let Some(c) = self.peek() {
            if ends_string(c) {
                break;
            }
            text.push(c);
            self.pos += 1;
        }
        self.token(TokenKind::UnquotedString, std::mem::take(text), start, line)
    }

    fn identifier(&mut self, start: usize, line: u32) -> Token {
        let mut text = Vec::new();
        // Blanks seen since the last letter: dropped if the identifier ends, but they end the
        // token if it turns into a string (the string state stops at a blank).
        let mut blanks_from: Option<usize> = None;
        while let Some(c) = self.peek() {
            if c.is_ascii_alphabetic() {
                if blanks_from.is_some() {
                    blanks_from = None;
                }
                text.push(c);
                self.pos += 1;
            } else if is_blank(c) {
                blanks_from.get_or_insert(self.pos);
                self.pos += 1;
            } else if matches!(c, b'\n' | b'=' | b'{' | b'}' | b';' | b',' | b'"' | b'#') {
                break;
            } else {
                // Some other character: from here on this is an unquoted string.
                return self.unquoted(&mut text, start, line);
            }
        }
        // Give the trailing blanks back to the source so `raw` is exactly the token.
        let mut tok = self.token(TokenKind::Identifier, text, start, line);
        if let Some(b) = blanks_from {
            tok.raw =
                String::from_utf8_lossy(self.src.get(start..b).unwrap_or_default()).into_owned();
        }
        tok
    }

    fn number(&mut self, start: usize, line: u32) -> Token {
        let mut text = Vec::new();
        while let Some(c) = self.peek() {
            if c.is_ascii_digit() {
                text.push(c);
                self.pos += 1;
            } else if is_blank(c) || matches!(c, b'\n' | b',' | b';') {
                break;
            } else {
                return self.unquoted(&mut text, start, line);
            }
        }
        self.token(TokenKind::Number, text, start, line)
    }

    /// After a closing quote: if only blanks and then a quote follow on this line, or this line
    /// is otherwise blank and the next one starts (after blanks) with a quote, return the
    /// position of that quote.
    fn continuation(&self) -> Option<usize> {
        let mut i = self.pos;
        while let Some(&c) = self.src.get(i) {
            if c == b'"' {
                return Some(i);
            }
            if c == b'\n' {
                i += 1;
                while let Some(&c) = self.src.get(i) {
                    if c == b'"' {
                        return Some(i);
                    }
                    if c != b' ' && c != b'\t' {
                        return None;
                    }
                    i += 1;
                }
                return None;
            }
            if !is_blank(c) {
                return None;
            }
            i += 1;
        }
        None
    }

    fn quoted(&mut self, start: usize, line: u32) -> Result<Token, LexError> {
        self.pos += 1; // opening quote
        let mut text = Vec::new();
        loop {
            let Some(c) = self.peek() else {
                self.finished = true;
                return Err(LexError {
                    kind: LexErrorKind::UnterminatedString,
                    line,
                });
            };
            self.pos += 1;
            match c {
                b'\n' => {
                    self.line += 1;
                    text.push(b'\n');
                }
                b'\\' => match self.peek() {
                    Some(b'\n') => {
                        // An escaped end of line is kept as a newline, as Bareos does.
                        self.pos += 1;
                        self.line += 1;
                        text.push(b'\n');
                    }
                    Some(n) => {
                        self.pos += 1;
                        text.push(n);
                    }
                    None => {}
                },
                b'"' => {
                    if let Some(q) = self.continuation() {
                        let skipped = self.src.get(self.pos..q).unwrap_or_default();
                        self.line += skipped.iter().filter(|&&b| b == b'\n').count() as u32;
                        self.pos = q + 1;
                        continue;
                    }
                    return Ok(self.token(TokenKind::QuotedString, text, start, line));
                }
                c => text.push(c),
            }
        }
    }

    fn include(&mut self, start: usize, line: u32) -> Result<Token, LexError> {
        self.pos += 1; // '@'
        let mut text = Vec::new();
        if self.peek() == Some(b'"') {
            self.pos += 1;
            loop {
                let Some(c) = self.peek() else {
                    self.finished = true;
                    return Err(LexError {
                        kind: LexErrorKind::UnterminatedInclude,
                        line,
                    });
                };
                self.pos += 1;
                match c {
                    b'\\' => {
                        if let Some(n) = self.peek() {
                            self.pos += 1;
                            if n == b'\n' {
                                self.line += 1;
                            }
                            text.push(n);
                        }
                    }
                    b'"' => break,
                    b'\n' => {
                        self.line += 1;
                        text.push(c);
                    }
                    c => text.push(c),
                }
            }
        } else {
            while let Some(c) = self.peek() {
                if ends_include(c) {
                    break;
                }
                text.push(c);
                self.pos += 1;
            }
        }
        Ok(self.token(TokenKind::Include, text, start, line))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn kinds_texts(src: &str) -> Vec<(TokenKind, String)> {
        Lexer::tokenize(src)
            .unwrap()
            .into_iter()
            .map(|t| (t.kind, t.text))
            .collect()
    }

    use TokenKind::*;

    #[test]
    fn identifiers_swallow_spaces() {
        let t = kinds_texts("  TLS Enable = yes\n");
        assert_eq!(
            t,
            [
                (Identifier, "TLSEnable".into()),
                (Equals, "=".into()),
                (Identifier, "yes".into()),
                (Eol, "".into()),
                (Eol, "".into()),
                (Eof, "".into())
            ]
        );
    }

    #[test]
    fn identifier_turns_into_string() {
        // From clear-backup-full/config/bareos-fd.conf line 12: `Name = bareos-dir`.
        let t = kinds_texts("Name = bareos-dir");
        assert_eq!(t[2], (UnquotedString, "bareos-dir".into()));
        // The blank before a non-letter is dropped like inside an identifier.
        let t = kinds_texts("Run = Full 1st sun");
        assert_eq!(t[2], (UnquotedString, "Full1st".into()));
        assert_eq!(t[2].1, "Full1st");
        assert_eq!(
            Lexer::tokenize("Run = Full 1st sun").unwrap()[2].raw,
            "Full 1st"
        );
        assert_eq!(t[3], (Identifier, "sun".into()));
    }

    #[test]
    fn numbers_and_addresses() {
        let t = kinds_texts("Port = 39202; addr = 127.0.0.1, 10k");
        assert_eq!(t[2], (Number, "39202".into()));
        assert_eq!(t[3].0, Eol);
        assert_eq!(t[6], (UnquotedString, "127.0.0.1".into()));
        assert_eq!(t[7].0, Comma);
        assert_eq!(t[8], (UnquotedString, "10k".into()));
    }

    #[test]
    fn comments_only_with_hash() {
        let t = kinds_texts("a = b # c = d\n// e");
        assert_eq!(t[2], (Identifier, "b".into()));
        assert_eq!(t[3].0, Eol);
        assert_eq!(t[4], (UnquotedString, "//".into()));
        assert_eq!(t[5], (Identifier, "e".into()));
    }

    #[test]
    fn quoted_strings() {
        let t = kinds_texts(r#"a = "x \"y\" \\ z""#);
        assert_eq!(t[2], (QuotedString, r#"x "y" \ z"#.into()));
        let t = kinds_texts("a = \"one\"\n    \"two\"  \"three\"\nb");
        assert_eq!(t[2], (QuotedString, "onetwothree".into()));
        let toks = Lexer::tokenize("a = \"one\"\n    \"two\"\nb").unwrap();
        assert_eq!(
            toks[4].line, 3,
            "line counting continues after a continuation"
        );
        let t = kinds_texts("a = \"multi\nline\"");
        assert_eq!(t[2], (QuotedString, "multi\nline".into()));
        let err = Lexer::tokenize("a = \"open\nb = c\n").unwrap_err();
        assert_eq!(
            err,
            LexError {
                kind: LexErrorKind::UnterminatedString,
                line: 1
            }
        );
    }

    #[test]
    fn includes() {
        let t = kinds_texts("@/etc/bareos/x.conf\n@\"/with space/*.conf\" ");
        assert_eq!(t[0], (Include, "/etc/bareos/x.conf".into()));
        assert_eq!(t[2], (Include, "/with space/*.conf".into()));
    }

    #[test]
    fn byte_order_marks() {
        let t = kinds_texts("\u{feff}Director {");
        assert_eq!(t[0], (Identifier, "Director".into()));
        assert_eq!(
            Lexer::tokenize(b"\xff\xfeD\0".to_vec()).unwrap_err().kind,
            LexErrorKind::Utf16
        );
    }

    #[test]
    fn line_numbers() {
        let toks = Lexer::tokenize("a\n\n  b = c\n").unwrap();
        let b = toks.iter().find(|t| t.text == "b").unwrap();
        assert_eq!(b.line, 3);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = Lexer::tokenize(bytes);
        }

        #[test]
        fn never_panics_on_config_like_text(s in "[a-zA-Z0-9 \t\n{}=;,#\"@\\\\./*-]{0,300}") {
            if let Ok(toks) = Lexer::tokenize(s.as_bytes().to_vec()) {
                prop_assert_eq!(toks.last().map(|t| t.kind), Some(TokenKind::Eof));
                // Lines never go backwards.
                for w in toks.windows(2) {
                    prop_assert!(w[0].line <= w[1].line);
                }
            }
        }
    }
}
