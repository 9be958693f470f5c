//! # barque-common: the std pieces shared by the Barque daemons
//!
//! - [`tls`]: TLS exactly as Bareos sets up OpenSSL (TLS-PSK with the legacy callbacks,
//!   certificate TLS with every Bareos directive);
//! - [`conn`]: authenticated connections (`connect` / `accept`) over tokio, built on fd-core's
//!   codecs: TLS-first or cleartext, the hello, two-way CRAM-MD5, Director-side probing;
//! - [`error`]: errors that say who, what and how to fix, never a secret.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod conn;
pub mod error;
pub mod tls;
