//! The console side (`barque-console`, like bconsole `core/src/console/console.cc`).
//!
//! Configuration: bconsole.conf syntax loaded with barque-common (`Daemon::Console`): one
//! or more `Director` resources (address, port, password, TLS) and optional `Console`
//! resources. As bconsole does, a Console resource naming the chosen Director (or naming no
//! Director) makes this a **named console**: its name and password are used for the hello,
//! the PSK identity (`R_CONSOLE` RS name) and CRAM-MD5, while TLS-first and `ssl=` still come
//! from the Director resource (connect.md §7.1).
//!
//! After [`Console::connect`] authenticated the connection, it reads the Director's
//! greeting: `1000` RS `OK: …` then `1002` RS info (18.2+), or the legacy one-line `1000 OK:
//! … -- <cipher>\n`. `1999 …` means the Director refused us. [`Console::command`] sends one
//! command frame and collects the reply up to `BNET_EOD` (API mode 0) or `BNET_MAIN_PROMPT`
//! (API modes 1 and 2); the other signals are kept in the [`Response`] so a caller can
//! check the framing.

use std::path::Path;
use std::time::Duration;

use barque_common::config::typed::{ConsoleConsole, ConsoleDirector};
use barque_common::config::{self, Daemon};
use barque_common::conn::{
    connect, AuthenticatedConnection, ConnOptions, HandshakeMode, Local, Outbound, Peer,
};
use barque_common::tls::Key;
use fd_core::wire::bnet::{Frame, Signal};
use fd_core::wire::console::{Banner, BannerForm, ResponseId, ResponseMessage};
use fd_core::wire::psk::ResourceType;

use crate::model::DEFAULT_CONSOLE;

/// Which Director and which console identity to use.
#[derive(Debug, Clone)]
pub struct Target {
    /// The Director resource of bconsole.conf.
    pub director: ConsoleDirector,
    /// The named Console resource, if any.
    pub console: Option<ConsoleConsole>,
}

/// Load bconsole.conf and choose the Director (`-D name`, else the first one) and the
/// Console resource that goes with it.
pub fn load_target(path: &Path, director: Option<&str>) -> Result<Target, String> {
    let cfg = config::load(path, Daemon::Console).map_err(|e| e.to_string())?;
    let dirs = cfg.console_directors();
    let dir = match director {
        Some(n) => dirs
            .into_iter()
            .find(|d| d.name == n)
            .ok_or_else(|| format!("{}: no Director resource named {n:?}", path.display()))?,
        None => dirs
            .into_iter()
            .next()
            .ok_or_else(|| format!("{}: no Director resource", path.display()))?,
    };
    let console = cfg
        .console_consoles()
        .into_iter()
        .find(|c| c.director.as_deref().is_none_or(|d| d == dir.name));
    if console.is_none() && dir.password.is_none() {
        return Err(format!(
            "{}: Director {:?} has no Password and no Console resource names it",
            path.display(),
            dir.name
        ));
    }
    Ok(Target {
        director: dir,
        console,
    })
}

/// One received piece of a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// A data frame.
    Data(Vec<u8>),
    /// A signal frame.
    Signal(Signal),
}

/// A command's reply, frame by frame.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Response {
    /// Every frame up to and including the terminating signal.
    pub pieces: Vec<Piece>,
}

impl Response {
    /// The data frames joined.
    pub fn text(&self) -> String {
        let mut out = Vec::new();
        for p in &self.pieces {
            if let Piece::Data(d) = p {
                out.extend_from_slice(d);
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    /// The signals in order.
    pub fn signals(&self) -> Vec<Signal> {
        self.pieces
            .iter()
            .filter_map(|p| match p {
                Piece::Signal(s) => Some(*s),
                Piece::Data(_) => None,
            })
            .collect()
    }
}

/// An authenticated console connection.
pub struct Console {
    conn: AuthenticatedConnection,
    /// The `OK: …` text of the greeting (without the id).
    pub banner: String,
    /// The `1002` info text (empty for a legacy Director).
    pub info: String,
    /// ` Encryption: …` as bconsole prints it.
    pub encryption: String,
}

impl Console {
    /// Connect and log in.
    pub async fn connect(t: &Target, opts: &ConnOptions) -> Result<Console, String> {
        let (name, password) = match &t.console {
            Some(c) => (c.name.clone(), c.password.clone()),
            None => (
                DEFAULT_CONSOLE.to_string(),
                t.director
                    .password
                    .clone()
                    .ok_or("the Director resource has no Password")?,
            ),
        };
        let mut local = Local::new(ResourceType::Console, name, t.director.tls.clone());
        local.full_version = crate::ua::VERSION.into();
        let peer = Peer {
            kind: ResourceType::Director,
            name: t.director.name.clone(),
            key: Key::raw(password.md5_hex().into_bytes()),
            address: t.director.address.clone(),
            port: t.director.port,
            tls: t.director.tls.clone(),
        };
        let mode = HandshakeMode::for_peer(&peer);
        let mut conn = connect(&local, &peer, &Outbound::ConsoleToDirector, mode, opts)
            .await
            .map_err(|e| e.to_string())?;
        let encryption = match conn.tls() {
            Some(i) => format!(" Encryption: {} {}", i.cipher, i.version),
            None => " Encryption: None".to_string(),
        };
        conn.set_io_timeout(Some(Duration::from_secs(30)));
        let first = match conn.recv().await.map_err(|e| e.to_string())? {
            Frame::Data(d) => d.to_vec(),
            Frame::Signal(s) => {
                return Err(format!(
                    "the Director sent signal {} instead of its greeting",
                    s.name()
                ))
            }
            Frame::Chunk(_) => return Err("unexpected chunk".into()),
        };
        let banner = Banner::parse(&first).map_err(|_| {
            format!(
                "the Director refused the login: {}",
                String::from_utf8_lossy(&first).trim_end()
            )
        })?;
        let ok_text = String::from_utf8_lossy(
            first
                .get(5..)
                .unwrap_or(&[])
                .strip_suffix(b"\n")
                .unwrap_or(first.get(5..).unwrap_or(&[])),
        )
        .into_owned();
        let mut info = String::new();
        if banner.form == BannerForm::Response {
            let d = match conn.recv().await.map_err(|e| e.to_string())? {
                Frame::Data(d) => d.to_vec(),
                _ => return Err("the Director sent no 1002 info message".into()),
            };
            let m = ResponseMessage::parse(&d)
                .map_err(|_| "malformed 1002 info message from the Director".to_string())?;
            if m.id != ResponseId::InfoMessage {
                return Err(format!(
                    "expected the 1002 info message, got id {}",
                    m.id.code()
                ));
            }
            info = String::from_utf8_lossy(m.text).into_owned();
        }
        conn.set_io_timeout(None);
        Ok(Console {
            conn,
            banner: ok_text,
            info,
            encryption,
        })
    }

    /// Send one command and collect its reply up to `EOD` / `MAIN_PROMPT`.
    pub async fn command(&mut self, cmd: &str) -> Result<Response, String> {
        self.conn
            .send(cmd.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        self.read_reply().await
    }

    /// Read frames up to a terminating signal.
    pub async fn read_reply(&mut self) -> Result<Response, String> {
        let mut r = Response::default();
        loop {
            match self.conn.recv().await.map_err(|e| e.to_string())? {
                Frame::Data(d) => r.pieces.push(Piece::Data(d.to_vec())),
                Frame::Signal(s) => {
                    r.pieces.push(Piece::Signal(s));
                    if matches!(
                        s,
                        Signal::Eod | Signal::MainPrompt | Signal::SubPrompt | Signal::Terminate
                    ) {
                        return Ok(r);
                    }
                }
                Frame::Chunk(_) => return Err("unexpected chunk".into()),
            }
        }
    }

    /// Send `BNET_TERMINATE` and close, as bconsole does on exit.
    pub async fn close(mut self) {
        let _ = self.conn.signal(Signal::Terminate).await;
        let _ = self.conn.shutdown().await;
    }
}
