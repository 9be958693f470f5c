//! # barque-dir and barque-console
//!
//! The Barque Director daemon, so far its skeleton and console side, and the console client:
//!
//! - [`model`]: the Director configuration as the console side uses it (consoles with keys,
//!   TLS and ACLs), loaded with barque-common;
//! - [`acl`]: Bareos' console ACLs and Profiles;
//! - [`ua`]: the command table (Bareos' order and prefix matching), the commands that need
//!   neither catalog nor jobs, and the argument parsing of those that do ([`ua::engine`]);
//! - [`json`]: ordered JSON printed as jansson prints it (API mode 2);
//! - [`server`]: accept, login banners, the command loop with Bareos' signal framing;
//! - [`client`]: the console side (`barque-console`): connect, read replies up to `EOD` or
//!   `MAIN_PROMPT`.
//!
//! It speaks the protocol through fd-core's codecs and barque-common's connections.
pub use fd_core;

pub mod acl;
pub mod cli;
pub mod client;
pub mod json;
pub mod model;
pub mod server;
pub mod time;
pub mod ua;
