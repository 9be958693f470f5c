//! # barque-common: code shared by the std Barque daemons
//!
//! `barque-fd` (Linux), `barque-sd`, `barque-dir` and `barque-console` run on a full operating
//! system and share what has nothing to do with the wire protocol itself (that lives in the
//! `no_std` `fd-core`):
//!
//! - [`config`]: the Bareos configuration language: lexer, parser, per-daemon schemas generated
//!   from the Bareos resource tables, typed values, `-c` loading (file or `<daemon>.d/`
//!   directory) and the `-t` check mode.
//!
//! Later: TLS setup from the configuration and socket glue.

#![forbid(unsafe_code)]

pub mod config;
