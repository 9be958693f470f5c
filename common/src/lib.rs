//! # barque-common: the std pieces shared by the Barque daemons
//!
//! `barque-fd` (Linux), `barque-sd`, `barque-dir` and `barque-console` run on a full operating
//! system and share what is not the wire protocol itself (that lives, once, in the `no_std`
//! `fd-core`):
//!
//! - [`config`]: the Bareos configuration language: lexer, parser, per-daemon schemas generated
//!   from the Bareos resource tables, typed values, `-c` loading (file or `<daemon>.d/`
//!   directory) and the `-t` check mode;
//! - [`tls`]: TLS exactly as Bareos sets up OpenSSL (TLS-PSK with the legacy callbacks,
//!   certificate TLS with every Bareos directive);
//! - [`conn`]: authenticated connections (`connect` / `accept`) over tokio, built on fd-core's
//!   codecs: TLS-first or cleartext, the hello, two-way CRAM-MD5, Director-side probing;
//! - [`error`]: errors that say who, what and how to fix, never a secret.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

// The configuration module mirrors Bareos' directive tables (generated schema, one field per
// directive); its items are documented at the type level, not field by field.
#[allow(missing_docs)]
pub mod config;
pub mod conn;
pub mod error;
pub mod messages;
pub mod tls;
