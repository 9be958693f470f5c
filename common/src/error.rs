//! Connection errors that say **who**, **what** and **how to fix it**, and never carry a secret.
//!
//! Bareos' own messages on a failed connection are famously unhelpful ("Authorization key
//! rejected", or a bare TLS alert in the peer's log). Every error out of [`crate::conn`] and
//! [`crate::tls`] is a [`ConnError`] with three parts:
//!
//! - `who`: the peer as far as it is known at the point of failure: `connection from
//!   127.0.0.1:40222` before the hello, `client bareos-fd (127.0.0.1:40222)` after it;
//! - `kind`: a small machine-readable classification ([`ErrorKind`]) for callers and tests;
//! - `detail` and `hint`: what happened and which configuration to check, e.g. `PSK identity
//!   R_CLIENT␞bareos-fd unknown to this director; check Name and Password in
//!   bareos-fd.d/director/bareos-dir.conf`.
//!
//! Secrets: nothing in this crate formats a password, a key or a session key into a message.
//! [`crate::tls::Key`] has a redacting `Debug` and no `Display`, so the type system keeps keys
//! out of `format!`. PSK identities (type and resource name) are not secret and are shown,
//! with the RS byte (0x1E) rendered as `␞`.

use std::fmt;

/// What kind of failure a [`ConnError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Read or write failed, or the peer closed the connection.
    Io,
    /// The TCP connection could not be opened.
    Unreachable,
    /// A deadline passed: connect, the whole handshake, or one read.
    Timeout,
    /// The TLS handshake or TLS post-connection checks failed.
    Tls,
    /// The PSK identity or hello named a resource this side does not know.
    UnknownPeer,
    /// CRAM-MD5 failed: wrong password/key on one side.
    AuthFailed,
    /// The TLS policies forbid this connection (cleartext to a TLS-required side, or the
    /// `ssl=` negotiation said Deny).
    PolicyRefused,
    /// The bytes do not follow the protocol (garbage first bytes, bad hello, bad frame).
    Protocol,
    /// A frame header announced more than the frame limit.
    FrameTooLong,
    /// Local configuration cannot be used (unreadable certificate, bad cipher list ...).
    Config,
}

/// A connection failure; see the module docs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnError {
    /// The peer, as far as known.
    pub who: String,
    /// Classification.
    pub kind: ErrorKind,
    /// What happened.
    pub detail: String,
    /// How to fix it (may be empty).
    pub hint: String,
}

impl ConnError {
    /// An error without a hint.
    pub fn new(who: impl Into<String>, kind: ErrorKind, detail: impl Into<String>) -> Self {
        Self {
            who: who.into(),
            kind,
            detail: detail.into(),
            hint: String::new(),
        }
    }

    /// Add or replace the hint.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = hint.into();
        self
    }

    /// Replace `who` (used once the hello has told us the peer's name).
    pub fn who(mut self, who: impl Into<String>) -> Self {
        self.who = who.into();
        self
    }
}

impl fmt::Display for ConnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.who, self.detail)?;
        if !self.hint.is_empty() {
            write!(f, "; {}", self.hint)?;
        }
        Ok(())
    }
}

impl std::error::Error for ConnError {}

/// Render bytes that are mostly text for a log line: printable ASCII as is, RS as `␞`, SOH
/// (a bashed space) as a space, anything else as `\xNN`.
pub fn printable(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            0x1E => s.push('␞'),
            0x01 => s.push(' '),
            b'\n' => s.push_str("\\n"),
            0x20..=0x7E => s.push(char::from(b)),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_has_who_what_and_hint() {
        let e = ConnError::new(
            "client bareos-fd",
            ErrorKind::UnknownPeer,
            "PSK identity unknown",
        )
        .hint("check Name and Password");
        assert_eq!(
            e.to_string(),
            "client bareos-fd: PSK identity unknown; check Name and Password"
        );
        let e = ConnError::new("x", ErrorKind::Io, "closed");
        assert_eq!(e.to_string(), "x: closed");
    }

    #[test]
    fn printable_renders_rs_and_controls() {
        assert_eq!(printable(b"R_CLIENT\x1ebareos-fd"), "R_CLIENT␞bareos-fd");
        assert_eq!(printable(b"a\x01b\n\x00"), "a b\\n\\x00");
    }
}
