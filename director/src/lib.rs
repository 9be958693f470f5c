#![warn(missing_docs)]
//! # barque-dir and barque-console
//!
//! The Barque Director daemon, so far its catalog, skeleton and console side, and the console client:
//!
//! - [`catalog`]: the catalog on SQLite (default) or PostgreSQL, versioned schema, restore
//!   selection and bootstrap building;
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
//!
//! ## Usage
//!
//! ```text
//! barque-dir -c /etc/bareos -f [-d 100]        # bareos-dir.conf or bareos-dir.d/
//! barque-dir -t -c /etc/bareos                 # check the configuration, exit 1 on errors
//! barque-console -c bconsole.conf [-D dir]     # interactive (rustyline) on a terminal
//! printf 'status dir\n' | barque-console -c bconsole.conf
//! ```
//!
//! ## What was verified
//!
//! - against the captures: the console hello and both CRAM-MD5 directions replayed byte for
//!   byte from vectors/clear-bconsole and clear-backup-full conn 1 msgs 1–7 (the Director's
//!   answers to the captured challenges are the captured `Em/zbi/i5R9Hj8g5839PMA\0` and
//!   `97/nF71m+E+3P1N7a4FbQC\0`); the `1000`/`1002` login frames;
//!   the frame boundaries and fixed texts of `status dir` (msgs 13–17, 24–26) and `.status
//!   dir running` (clear-dot-status msgs 11–13); `.api 2` answered with `CMD_OK`, the 68-byte
//!   JSON and `MAIN_PROMPT` (msgs 37–39); `CMD_BEGIN`/`CMD_OK`/JSON/`MAIN_PROMPT` for a
//!   command in API 2 (msgs 41–44); TLS 1.3 with `TLS_CHACHA20_POLY1305_SHA256` for the
//!   psk-console-dir configuration; `You have messages.\n` before the `EOD`
//!   (clear-backup-full conn 1 msg 15);
//! - against python-bareos (`DirectorConsole`, `DirectorConsoleJson`, cleartext and TLS 1.2
//!   PSK with sslpsk3): login, `status dir`, `version`, `.clients`, API 2 JSON, named and
//!   restricted consoles, a wrong password;
//! - barque-console against barque-dir (library, binary on stdin, binary on a pty), with
//!   cleartext, TLS-PSK and certificate TLS.
//!
//! Not captured and taken from the Bareos sources (facts only): the command table order,
//! `help`/`.help` layout, the dot commands' JSON keys, `.levels`/`.types` tables, ACL
//! matching, the JSON-RPC error envelope, `Maximum Console Connections`, the
//! pending-messages rules.
//!
//! ## Not there yet
//!
//! - the job engine (the catalog exists but is not wired to the console yet): `list`, `llist`, `run`, `restore`, `estimate`,
//!   `cancel`, `wait`, `status client=`, `status storage=` and the other catalog commands
//!   parse and check their arguments, then answer that the engine (or catalog) is not
//!   available in this build ([`ua::engine::JobEngine`] is where it plugs in);
//! - client-initiated File daemons are refused (no peer for `Hello Client`);
//! - PAM consoles are refused at load;
//! - `help` uses Barque's own one-line descriptions and no argument synopses; `show` prints
//!   passwords as `[md5]` and its layout is Barque's;
//! - `status` without arguments shows the Director's status (Bareos asks with a prompt
//!   menu); commands that would prompt (`run` without `job=`) fail instead; `restore` is
//!   the one command with `SUB_PROMPT` dialogues (JobId menu, selection lists, file
//!   selection mode, `OK to run?`), in API mode 0 only;
//! - `version` and the status header describe Barque (`26.0.0~barque`, `Barque (Rust)`), not
//!   the host operating system.
pub use fd_core;

pub mod acl;
pub mod catalog;
pub mod cli;
pub mod client;
pub mod engine;
pub mod init;
pub mod jobs;
pub mod json;
pub mod model;
pub mod progress;
pub mod server;
pub mod time;
pub mod tz;
pub mod ua;
