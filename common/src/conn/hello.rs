//! The hello lines, by connection type (`shared/protocol/connect.md` §2.1, §3.2).
//!
//! **Interim shim.** The hello codec belongs in `fd_core::wire::hello`, which another branch
//! (`conn`) is writing; when this branch was written that module was still empty. This file
//! is the smallest std-only stand-in the connection layer needs, built on fd-core's `bsscanf`
//! [`Scanner`]; it should be replaced by `fd_core::wire::hello` once that lands (and its
//! tests kept as cross-checks).
//!
//! The outbound side always sends the first Bareos frame, the hello. The accepting side
//! classifies it by prefix in the order of `GetNameAndResourceTypeAndVersionFromHello`
//! (`core/src/lib/util.cc`): `Hello Storage calling Start Job`, `Hello Start Storage Job`,
//! `Hello Start Job`, `Hello Director`, `Hello Storage`, `Hello Client`, then plain `Hello`
//! (a console). Names are bashed (space → 0x01) except in `Hello Client`.

use fd_core::wire::psk::ResourceType;
use fd_core::wire::text::Scanner;

/// Shortest and longest hello payload accepted (the console's `MIN_MSG_LEN` 15; the FD's 500).
pub const MIN_LEN: usize = 15;
/// See [`MIN_LEN`].
pub const MAX_LEN: usize = 500;

/// The kind of hello, i.e. the connection type seen from the accepting side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HelloKind {
    /// `Hello <name> calling version <full> Version="a.b.c"`: console (or tray monitor) → Director.
    Console,
    /// `Hello Director <name> calling Version="a.b.c"`: Director (or monitor) → FD or SD.
    Director,
    /// `Hello Client <name> FdProtocolVersion=<n> calling Version="a.b.c"`: client-initiated FD → Director.
    Client,
    /// `Hello Storage <name> ...`: classified as R_STORAGE by Bareos; no current sender.
    Storage,
    /// `Hello Start Job <job> Version="a.b.c"`: FD → SD data channel.
    StartJob,
    /// `Hello Storage calling Start Job <job> Version="a.b.c"`: SD → passive FD.
    StorageCallingStartJob,
    /// `Hello Start Storage Job <job> Version="a.b.c"`: SD → SD replication.
    StartStorageJob,
}

impl HelloKind {
    /// The resource type a PSK identity for this hello must carry.
    pub fn resource_type(self) -> ResourceType {
        match self {
            HelloKind::Console => ResourceType::Console,
            HelloKind::Director => ResourceType::Director,
            HelloKind::Client => ResourceType::Client,
            HelloKind::Storage => ResourceType::Storage,
            HelloKind::StartJob
            | HelloKind::StorageCallingStartJob
            | HelloKind::StartStorageJob => ResourceType::Job,
        }
    }
}

/// A parsed or to-be-sent hello.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    /// Which hello.
    pub kind: HelloKind,
    /// The name (unbashed): console, Director, Client or Storage name, or the full Job name.
    pub name: String,
    /// `Version="a.b.c"`, if present.
    pub version: Option<(u32, u32, u32)>,
    /// The console's full version word (`calling version <full>`), if present.
    pub full_version: Option<String>,
    /// `FdProtocolVersion=<n>` of a client-initiated hello.
    pub fd_protocol_version: Option<u32>,
}

fn bash(name: &str) -> Vec<u8> {
    name.bytes()
        .map(|b| if b == b' ' { 0x01 } else { b })
        .collect()
}

fn unbash(name: &[u8]) -> Option<String> {
    let v: Vec<u8> = name
        .iter()
        .map(|&b| if b == 0x01 { b' ' } else { b })
        .collect();
    String::from_utf8(v).ok()
}

impl Hello {
    /// The payload bytes, as the C++ daemon of that connection type sends them.
    pub fn emit(&self) -> Vec<u8> {
        let (a, b, c) = self.version.unwrap_or((0, 0, 0));
        let ver = format!("Version=\"{a}.{b}.{c}\"\n");
        let mut out = Vec::with_capacity(96);
        match self.kind {
            HelloKind::Console => {
                out.extend_from_slice(b"Hello ");
                out.extend_from_slice(&bash(&self.name));
                out.extend_from_slice(b" calling version ");
                out.extend_from_slice(self.full_version.as_deref().unwrap_or("").as_bytes());
                out.push(b' ');
            }
            HelloKind::Director => {
                out.extend_from_slice(b"Hello Director ");
                out.extend_from_slice(&bash(&self.name));
                out.extend_from_slice(b" calling ");
            }
            HelloKind::Storage => {
                out.extend_from_slice(b"Hello Storage ");
                out.extend_from_slice(&bash(&self.name));
                out.extend_from_slice(b" calling ");
            }
            HelloKind::Client => {
                // dir_cmd.cc connect_to_director: my_name, not bashed.
                out.extend_from_slice(b"Hello Client ");
                out.extend_from_slice(self.name.as_bytes());
                out.extend_from_slice(
                    format!(
                        " FdProtocolVersion={} calling ",
                        self.fd_protocol_version.unwrap_or(0)
                    )
                    .as_bytes(),
                );
            }
            HelloKind::StartJob => {
                out.extend_from_slice(b"Hello Start Job ");
                out.extend_from_slice(self.name.as_bytes());
                out.push(b' ');
            }
            HelloKind::StorageCallingStartJob => {
                out.extend_from_slice(b"Hello Storage calling Start Job ");
                out.extend_from_slice(self.name.as_bytes());
                out.push(b' ');
            }
            HelloKind::StartStorageJob => {
                out.extend_from_slice(b"Hello Start Storage Job ");
                out.extend_from_slice(self.name.as_bytes());
                out.push(b' ');
            }
        }
        out.extend_from_slice(ver.as_bytes());
        out
    }

    /// Parse a hello payload (the accepting side). Returns a short reason on failure.
    pub fn parse(payload: &[u8]) -> Result<Hello, &'static str> {
        if payload.len() < MIN_LEN {
            return Err("hello too short");
        }
        if payload.len() > MAX_LEN {
            return Err("hello too long");
        }
        let prefixes: [(&[u8], HelloKind); 7] = [
            (
                b"Hello Storage calling Start Job ",
                HelloKind::StorageCallingStartJob,
            ),
            (b"Hello Start Storage Job ", HelloKind::StartStorageJob),
            (b"Hello Start Job ", HelloKind::StartJob),
            (b"Hello Director ", HelloKind::Director),
            (b"Hello Storage ", HelloKind::Storage),
            (b"Hello Client ", HelloKind::Client),
            (b"Hello ", HelloKind::Console),
        ];
        let Some(&(prefix, kind)) = prefixes.iter().find(|(p, _)| payload.starts_with(p)) else {
            return Err("not a hello");
        };
        let mut s = Scanner::new(payload.get(prefix.len()..).unwrap_or(&[]));
        let name_raw = s.nonempty_word().map_err(|_| "hello without a name")?;
        let name = unbash(name_raw).ok_or("hello name is not UTF-8")?;
        let mut hello = Hello {
            kind,
            name,
            version: None,
            full_version: None,
            fd_protocol_version: None,
        };
        match kind {
            HelloKind::Console => {
                s.lit(b" calling")
                    .map_err(|_| "console hello without `calling`")?;
                if s.try_lit(b" version ") {
                    let full = s.word();
                    hello.full_version = std::str::from_utf8(full).ok().map(str::to_string);
                }
            }
            HelloKind::Director | HelloKind::Storage => {
                s.lit(b" calling").map_err(|_| "hello without `calling`")?;
            }
            HelloKind::Client => {
                if s.try_lit(b" FdProtocolVersion=") {
                    hello.fd_protocol_version = Some(s.u32().map_err(|_| "bad FdProtocolVersion")?);
                } else {
                    hello.fd_protocol_version = Some(0);
                }
                s.lit(b" calling")
                    .map_err(|_| "client hello without `calling`")?;
            }
            HelloKind::StartJob
            | HelloKind::StorageCallingStartJob
            | HelloKind::StartStorageJob => {}
        }
        let mut v = s.clone();
        if v.lit(b" Version=\"").is_ok() {
            if let (Ok(a), Ok(_), Ok(b), Ok(_), Ok(c)) =
                (v.u32(), v.lit(b"."), v.u32(), v.lit(b"."), v.u32())
            {
                if v.lit(b"\"").is_ok() {
                    hello.version = Some((a, b, c));
                }
            }
        }
        Ok(hello)
    }

    /// The console version as Bareos computes it for the 18.2 gate: `major*100 + minor` of
    /// the `calling version` word (connect.md §3.2, §7.2); 1 (`kUndefined`) without one.
    pub fn console_version(&self) -> u32 {
        let Some(full) = &self.full_version else {
            return 1;
        };
        let mut parts = full.split('.');
        let major = parts.next().and_then(leading_number);
        let minor = parts.next().and_then(leading_number);
        match (major, minor) {
            (Some(a), Some(b)) => a.saturating_mul(100).saturating_add(b),
            _ => 1,
        }
    }
}

fn leading_number(s: &str) -> Option<u32> {
    let digits: String = s.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(bytes: &[u8], kind: HelloKind, name: &str) -> Hello {
        let h = Hello::parse(bytes).expect("parse");
        assert_eq!(h.kind, kind);
        assert_eq!(h.name, name);
        assert_eq!(h.emit(), bytes, "re-emit must be byte-identical");
        h
    }

    #[test]
    fn captured_hellos_roundtrip() {
        // vectors/clear-bconsole, conn 1 msg 1.
        let h = roundtrip(
            b"Hello *UserAgent* calling version 26.0.0~pre1298.eda204c31 Version=\"26.0.0\"\n",
            HelloKind::Console,
            "*UserAgent*",
        );
        assert_eq!(h.console_version(), 2600);
        // vectors/clear-backup-full, conn 3 msg 1 (and conn 2 msg 1, Director -> SD).
        let h = roundtrip(
            b"Hello Director bareos-dir calling Version=\"26.0.0\"\n",
            HelloKind::Director,
            "bareos-dir",
        );
        assert_eq!(h.version, Some((26, 0, 0)));
        // vectors/clear-client-initiated, conn 1 msg 1.
        let h = roundtrip(
            b"Hello Client bareos-fd FdProtocolVersion=54 calling Version=\"26.0.0\"\n",
            HelloKind::Client,
            "bareos-fd",
        );
        assert_eq!(h.fd_protocol_version, Some(54));
        // vectors/clear-backup-full, conn 4 msg 1.
        roundtrip(
            b"Hello Start Job CapBackup.2026-11-22_15.46.52_03 Version=\"26.0.0\"\n",
            HelloKind::StartJob,
            "CapBackup.2026-11-22_15.46.52_03",
        );
        // vectors/clear-backup-passive, conn 4 msg 1.
        roundtrip(
            b"Hello Storage calling Start Job CapBackup.2026-11-22_15.48.07_03 Version=\"26.0.0\"\n",
            HelloKind::StorageCallingStartJob,
            "CapBackup.2026-11-22_15.48.07_03",
        );
    }

    #[test]
    fn python_bareos_and_old_forms() {
        // python-bareos (connect.md §7.4): no Version=.
        let h = Hello::parse(b"Hello Director bareos-dir calling\n").expect("parse");
        assert_eq!((h.kind, h.version), (HelloKind::Director, None));
        let h = Hello::parse(b"Hello admin calling version 18.2.5\n").expect("parse");
        assert_eq!(h.console_version(), 1802);
        let h = Hello::parse(b"Hello admin calling\n").expect("parse");
        assert_eq!(h.console_version(), 1);
        let h = Hello::parse(b"Hello Client bareos-fd calling\n").expect("parse");
        assert_eq!(h.fd_protocol_version, Some(0));
        // A bashed name comes back with its space.
        let h = Hello::parse(b"Hello Director my\x01dir calling Version=\"1.2.3\"\n").expect("p");
        assert_eq!(h.name, "my dir");
        assert_eq!(
            h.emit(),
            b"Hello Director my\x01dir calling Version=\"1.2.3\"\n"
        );
    }

    #[test]
    fn refuses_bad_hellos() {
        assert!(Hello::parse(b"Hello").is_err());
        assert!(Hello::parse(b"Goodbye Director x calling\n").is_err());
        assert!(Hello::parse(b"Hello Director bareos-dir\n").is_err());
        assert!(Hello::parse(b"Hello Client fd FdProtocolVersion=x calling\n").is_err());
        assert!(Hello::parse(&[b'A'; 600]).is_err());
        assert!(Hello::parse(b"Hello Director \xff\xfe calling\n").is_err());
    }
}
