//! The Director's console port: accept, log in, run the command loop.
//!
//! # Accepting (`core/src/dird/socket_server.cc`, `authenticate_console.cc`)
//!
//! Every connection on the Director port goes through barque-common's [`accept`]: the
//! 10-byte peek decides between TLS-first (TLS-PSK, identity `R_CONSOLE` RS name, key = the
//! console's password MD5) and a cleartext hello; the hello names the console; two-way
//! CRAM-MD5 runs with the console's key. The [`PeerLookup`] answers **consoles only**: the
//! default console `*UserAgent*` (Director password and TLS directives) and each named
//! `Console`, and File daemons that dial in (`Hello Client ...`, connect.md §5.2): a Client
//! resource of that name with `Connection From Client To Director = yes` (key = its password,
//! TLS directives = its own). A client-initiated FD gets `1000 OK: «dir» Version: «full»
//! («date»)⏎` after CRAM-MD5 (fd-core's `BannerForm::ClientInitiated`) and its connection is
//! parked in the job engine's waiting list ([`crate::jobs::pool`]) with TCP keep-alive set
//! to the Client's `Heartbeat Interval`; without the job engine (no catalog) or without that
//! directive the lookup has no peer, accept sends `BNET_TERMINATE` and closes, and the log
//! says why. A wrong password gets Bareos' failure frames from fd-core's authenticator
//! (`1999 You are not authorized.` for a client) and the connection ends.
//! `Maximum Console Connections` (default 20) counts the open console sessions: over it a
//! named console is refused before CRAM-MD5 (Bareos closes; here accept's `BNET_TERMINATE`
//! precedes the close), the default console is only logged, as in Bareos.
//!
//! # Login replies (connect.md §7.2)
//!
//! A console whose hello version is 18.2 or later (the version word of the hello; python-bareos
//! says `18.2.5`) gets response messages without newlines: `1000` RS `OK: <dir> Version:
//! <full> (<date>)`, then `1002` RS `<services message>\nYou are connected using the default
//! console` or `…\nYou are logged in as: <name>` (vectors/clear-bconsole conn 1 msgs 8–9).
//! An older console gets the single line `1000 OK: <dir> Version: <full> (<date>) --
//! <cipher>\n`. PAM (`1001`) is not offered: `Use Pam Authentication` is refused at load.
//!
//! # The command loop (`HandleUserAgentClientRequest`, connect.md §7.3)
//!
//! One command per frame. In API mode 0 the reply's text pieces go out as frames and end with
//! `BNET_EOD`. In API modes 1 and 2 `BNET_MAIN_PROMPT` is sent before each read; a command run
//! while the mode is non-zero is preceded by `BNET_CMD_BEGIN`, and when the mode after the
//! command is non-zero it is followed by `BNET_CMD_OK`/`BNET_CMD_FAILED`; in mode 2 the
//! result is then one JSON-RPC frame (pretty, or compact after `.api json compact=yes`).
//! So `.api 2` issued in mode 0 gets `CMD_OK`, JSON, `MAIN_PROMPT` and no `CMD_BEGIN` (msgs
//! 37–39), and `list jobs` in mode 2 gets `CMD_BEGIN`, `CMD_OK`, JSON, `MAIN_PROMPT` (msgs
//! 41–44). An invalid or refused command is not a command: no `CMD_BEGIN`/`CMD_OK`; its error
//! text (mode 0/1) or JSON error envelope (mode 2) follows. A signal from the console other
//! than `BNET_TERMINATE` is answered with `BNET_POLL`; `BNET_TERMINATE` or a closed socket
//! ends the session, and so does `quit` (without an `EOD`).
//!
//! Messages queued for consoles ([`Director::post_console_message`]) are announced after a
//! command, before its `EOD`, with `You have messages.\n` (vectors/clear-backup-full conn 1
//! msg 15) or `BNET_MSGS_PENDING` in API modes, once until `messages` reads them; with
//! `autodisplay on` they are sent right away.

use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use barque_common::conn::{
    accept, AuthenticatedConnection, ConnOptions, Local, Peer, PeerIdentity, PeerLookup, ProbeCache,
};
use barque_common::error::ConnError;
use fd_core::wire::bnet::{Frame, Signal};
use fd_core::wire::console::{emit_response, ApiMode, Banner, BannerForm, ResponseId};
use fd_core::wire::hello::{Hello, VERSION_18_2};
use fd_core::wire::psk::ResourceType;
use tokio::net::{TcpListener, TcpStream};

use crate::jobs::pool::{ClientPool, WaitingClient};
use crate::json::{rpc_error, rpc_result};
use crate::model::{Model, DEFAULT_CONSOLE};
use crate::ua::engine::JobEngine;
use crate::ua::{self, Ctx, Session};

/// The running Director.
pub struct Director {
    model: RwLock<Arc<Model>>,
    /// Per-client handshake-mode memory for Director → FD connections (connect.md §4);
    /// cleared by `reload`.
    pub probe: ProbeCache,
    started: SystemTime,
    sessions: Mutex<Vec<(u64, SystemTime)>>,
    queued: Mutex<Vec<String>>,
    next_id: Mutex<u64>,
    engine: Option<Arc<dyn JobEngine>>,
    opts: ConnOptions,
}

struct Lookup {
    model: Arc<Model>,
    /// Console sessions open when this connection arrived.
    active: usize,
    /// Client-initiated connections can be parked (the job engine runs).
    pool: bool,
}

impl PeerLookup for Lookup {
    fn find(&self, kind: ResourceType, name: &str) -> Option<Peer> {
        if kind == ResourceType::Client {
            let c = self.model.clients.iter().find(|c| c.name == name)?;
            if !c.connection_from_client_to_director {
                log::warn!(
                    "client {name:?} dialled the Director, but its Client resource does not \
                     allow it; refusing. Set Connection From Client To Director = yes in the \
                     Director's Client \"{name}\" to accept client-initiated connections"
                );
                return None;
            }
            if !self.pool {
                log::warn!(
                    "client {name:?} dialled the Director, but the job engine is not running \
                     (no catalog), so there is nothing to wait for; refusing"
                );
                return None;
            }
            return Some(Peer {
                kind,
                name: c.name.clone(),
                key: barque_common::tls::Key::raw(c.password.md5_hex().into_bytes()),
                address: String::new(),
                port: 0,
                tls: c.tls.clone(),
            });
        }
        if kind == ResourceType::Console {
            // authenticate_console.cc: the count includes this connection; over the limit a
            // named console is refused before CRAM-MD5, the default console only logged.
            let max = usize::try_from(self.model.director.maximum_console_connections)
                .unwrap_or(usize::MAX);
            let n = self.active + 1;
            if n > max {
                if name == DEFAULT_CONSOLE {
                    log::info!(
                        "Number of console connections exceeded\nMaximum: {max}, Current: {n}"
                    );
                } else {
                    log::error!(
                        "Number of console connections exceeded Maximum :{max}, Current: {n}; \
                         refusing console {name:?}"
                    );
                    return None;
                }
            }
        }
        self.model.peer(kind, name)
    }
}

impl Director {
    /// A Director for a loaded configuration.
    pub fn new(model: Model, engine: Option<Arc<dyn JobEngine>>) -> Arc<Director> {
        Arc::new(Director {
            model: RwLock::new(Arc::new(model)),
            probe: ProbeCache::new(),
            started: SystemTime::now(),
            sessions: Mutex::new(Vec::new()),
            queued: Mutex::new(Vec::new()),
            next_id: Mutex::new(0),
            engine,
            opts: ConnOptions::default(),
        })
    }

    /// Change the handshake options (tests shorten the failure delay).
    pub fn with_options(self: Arc<Self>, opts: ConnOptions) -> Arc<Self> {
        match Arc::try_unwrap(self) {
            Ok(mut d) => {
                d.opts = opts;
                Arc::new(d)
            }
            Err(a) => a,
        }
    }

    /// Queue a message for the consoles (job reports, as Bareos' `Console` message
    /// destination does); the next console to run `messages` reads it.
    pub fn post_console_message(&self, text: impl Into<String>) {
        self.queued
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(text.into());
    }

    fn messages_pending(&self) -> bool {
        !self
            .queued
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_empty()
            || self.engine.as_ref().is_some_and(|e| e.has_messages())
    }

    /// The Director's queued messages, then the job engine's.
    fn take_messages(&self) -> Vec<String> {
        let mut v = std::mem::take(&mut *self.queued.lock().unwrap_or_else(|p| p.into_inner()));
        if let Some(e) = &self.engine {
            v.extend(e.take_messages());
        }
        v
    }

    /// The current configuration.
    pub fn model(&self) -> Arc<Model> {
        match self.model.read() {
            Ok(m) => m.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Re-read the configuration from its path; on success replace it and forget the
    /// probing results. On failure the old configuration stays.
    pub fn reload(&self) -> Result<(), String> {
        let path = self.model().path.clone();
        let m = Model::load(&path)?;
        if let Some(e) = &self.engine {
            e.reload(&m.config);
        }
        match self.model.write() {
            Ok(mut g) => *g = Arc::new(m),
            Err(p) => *p.into_inner() = Arc::new(m),
        }
        self.probe.reset();
        log::info!("configuration reloaded from {}", path.display());
        Ok(())
    }

    fn local(model: &Model) -> Local {
        let mut l = Local::new(
            ResourceType::Director,
            model.director.name.clone(),
            model.director.tls.clone(),
        );
        l.full_version = ua::VERSION.into();
        l
    }

    /// Accept connections for ever, one task each.
    pub async fn serve(self: Arc<Self>, listener: TcpListener) -> std::io::Result<()> {
        loop {
            let (tcp, addr) = listener.accept().await?;
            let me = self.clone();
            tokio::spawn(async move {
                if let Err(e) = me.handle(tcp).await {
                    log::info!("connection from {addr}: {e}");
                }
            });
        }
    }

    /// Authenticate one connection and run its console session.
    pub async fn handle(self: Arc<Self>, tcp: TcpStream) -> Result<(), ConnError> {
        let model = self.model();
        let local = Director::local(&model);
        let active = self
            .sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len();
        let pool = self.engine.as_ref().and_then(|e| e.client_pool());
        let lookup: Arc<dyn PeerLookup> = Arc::new(Lookup {
            model: model.clone(),
            active,
            pool: pool.is_some(),
        });
        let (ident, mut c) = accept(tcp, &local, lookup, &self.opts).await?;
        if ident.kind == ResourceType::Client {
            return match pool {
                Some(pool) => Self::park_client(&model, &pool, ident, c).await,
                None => {
                    let _ = c.signal(Signal::Terminate).await;
                    Ok(())
                }
            };
        }
        let Some(console) = model.console(&ident.name).cloned() else {
            let _ = c.signal(Signal::Terminate).await;
            return Ok(());
        };
        let version = ident
            .hello()
            .and_then(|h| h.console_version_number())
            .unwrap_or(1);
        if version >= VERSION_18_2 {
            let banner = Banner {
                form: BannerForm::Response,
                name: model.director.name.as_bytes(),
                full_version: ua::VERSION.as_bytes(),
                date: ua::BUILD_DATE.as_bytes(),
            };
            let mut buf = vec![0u8; banner.buffer_len()];
            let n = banner.emit(&mut buf).unwrap_or(0);
            c.send(buf.get(..n).unwrap_or(&[])).await?;
            let who = if console.name == DEFAULT_CONSOLE {
                "You are connected using the default console".to_string()
            } else {
                format!("You are logged in as: {}", console.name)
            };
            let text = format!("{}\n{who}", ua::SERVICES_MESSAGE);
            let mut buf = vec![0u8; text.len() + 16];
            let n =
                emit_response(ResponseId::InfoMessage, &[text.as_bytes()], &mut buf).unwrap_or(0);
            c.send(buf.get(..n).unwrap_or(&[])).await?;
        } else {
            let cipher = match c.tls() {
                Some(t) => format!(" Encryption: {} {}", t.cipher, t.version),
                None => " Encryption: None".to_string(),
            };
            let banner = Banner {
                form: BannerForm::Legacy {
                    cipher: cipher.as_bytes(),
                },
                name: model.director.name.as_bytes(),
                full_version: ua::VERSION.as_bytes(),
                date: ua::BUILD_DATE.as_bytes(),
            };
            let mut buf = vec![0u8; banner.buffer_len()];
            let n = banner.emit(&mut buf).unwrap_or(0);
            c.send(buf.get(..n).unwrap_or(&[])).await?;
        }
        log::info!("console {} logged in from {}", console.name, ident.addr);

        let id = {
            let mut g = self.next_id.lock().unwrap_or_else(|p| p.into_inner());
            *g += 1;
            *g
        };
        let mut session = Session::new(&console);
        self.sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((id, session.connected_at));
        let r = self.command_loop(&mut c, &mut session).await;
        self.sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(i, _)| *i != id);
        let _ = c.shutdown().await;
        r
    }

    /// A client-initiated File daemon authenticated: greet it (`1000 OK: …⏎`,
    /// vectors/clear-client-initiated conn 1 msg 8) and park it until a job takes it.
    async fn park_client(
        model: &Model,
        pool: &Arc<ClientPool>,
        ident: PeerIdentity,
        mut c: AuthenticatedConnection,
    ) -> Result<(), ConnError> {
        let banner = Banner {
            form: BannerForm::ClientInitiated,
            name: model.director.name.as_bytes(),
            full_version: ua::VERSION.as_bytes(),
            date: ua::BUILD_DATE.as_bytes(),
        };
        let mut buf = vec![0u8; banner.buffer_len()];
        let n = banner.emit(&mut buf).unwrap_or(0);
        c.send(buf.get(..n).unwrap_or(&[])).await?;
        let protocol = match ident.hello() {
            Some(Hello::Client { fd_protocol, .. }) => fd_protocol.unwrap_or(0),
            _ => 0,
        };
        // The Client's Heartbeat Interval, else the Director's (Bareos'
        // `get_heartbeat_interval`, dird/fd_cmds.cc).
        let heartbeat = model
            .clients
            .iter()
            .find(|x| x.name == ident.name)
            .map(|x| x.heartbeat_interval.as_duration())
            .filter(|h| !h.is_zero())
            .or(Some(model.director.heartbeat_interval.as_duration()));
        if let Err(e) = c.set_keepalive(heartbeat) {
            log::warn!(
                "client {} ({}): cannot set TCP keep-alive: {e}",
                ident.name,
                ident.addr
            );
        }
        let connected_at = SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        pool.park(
            WaitingClient {
                name: ident.name,
                protocol,
                connected_at,
                addr: ident.addr,
            },
            c,
        );
        Ok(())
    }

    async fn command_loop(
        &self,
        c: &mut barque_common::conn::AuthenticatedConnection,
        session: &mut Session,
    ) -> Result<(), ConnError> {
        loop {
            if session.api != ApiMode::Off && session.dialog.is_none() {
                c.signal(Signal::MainPrompt).await?;
            }
            let line = match c.recv().await {
                Ok(Frame::Data(d)) => {
                    let d = d.strip_suffix(b"\0").unwrap_or(d);
                    let s = String::from_utf8_lossy(d);
                    s.trim_end_matches(['\n', '\r']).to_string()
                }
                Ok(Frame::Signal(Signal::Terminate)) => return Ok(()),
                Ok(_) => {
                    c.signal(Signal::Poll).await?;
                    continue;
                }
                Err(e) if e.kind == barque_common::error::ErrorKind::Io => return Ok(()),
                Err(e) => return Err(e),
            };
            log::debug!("console {}: {line:?}", session.console);
            let model = self.model();
            let consoles: Vec<SystemTime> = self
                .sessions
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
                .map(|(_, t)| *t)
                .collect();
            let reload = || self.reload();
            let take = || self.take_messages();
            let ctx = Ctx {
                model: &model,
                started: self.started,
                consoles,
                reload: &reload,
                engine: self.engine.as_deref(),
                take_messages: &take,
            };
            let api_before = session.api;
            let mut ex = match (session.dialog.take(), self.engine.as_ref()) {
                // The answer to a question (GetCmd): not a command of its own.
                (Some(d), Some(engine)) => ua::Executed {
                    command: Some(""),
                    reply: engine.answer(session, d, line.clone()).await,
                },
                _ => ua::execute(&ctx, session, &line),
            };
            if let (Some(req), Some(engine)) = (ex.reply.deferred.take(), self.engine.as_ref()) {
                ex.reply = engine.execute(session, *req).await;
            }
            if let Some(d) = ex.reply.dialog.take() {
                // GetCmd (core/src/dird/ua_input.cc): the prompt text, then SUB_PROMPT; the
                // console's next line is the answer.
                if session.api != ApiMode::Json {
                    for piece in &ex.reply.text {
                        c.send(piece.as_bytes()).await?;
                    }
                }
                c.signal(Signal::SubPrompt).await?;
                session.dialog = Some(d);
                continue;
            }
            let is_command = ex.command.is_some_and(|k| !k.is_empty());
            if api_before != ApiMode::Off && is_command {
                c.signal(Signal::CmdBegin).await?;
            }
            let json_mode = session.api == ApiMode::Json;
            if !json_mode {
                for piece in &ex.reply.text {
                    c.send(piece.as_bytes()).await?;
                }
            }
            if session.api != ApiMode::Off && is_command {
                c.signal(if ex.reply.ok {
                    Signal::CmdOk
                } else {
                    Signal::CmdFailed
                })
                .await?;
            }
            if json_mode && !(ex.command == Some("") && ex.reply.text.is_empty()) {
                let env = if ex.reply.ok {
                    rpc_result(ex.reply.result.clone())
                } else {
                    rpc_error(ex.reply.result.clone(), ex.reply.messages_json())
                };
                let text = if session.compact {
                    env.compact()
                } else {
                    env.pretty()
                };
                c.send(text.as_bytes()).await?;
            }
            if session.quit {
                // No EOD after quit: the Director just closes.
                return Ok(());
            }
            // Pending messages (HandleUserAgentClientRequest): shown at once with
            // autodisplay, else announced once until read.
            if self.messages_pending()
                && session.acl.allows(crate::acl::AclKind::Command, "messages")
            {
                if session.autodisplay {
                    let r = ua::messages(&ctx, session, &ua::Args::default());
                    if session.api != ApiMode::Json {
                        for piece in &r.text {
                            c.send(piece.as_bytes()).await?;
                        }
                    }
                } else if !session.notified {
                    if session.api == ApiMode::Off {
                        c.send(b"You have messages.\n").await?;
                    } else {
                        c.signal(Signal::MsgsPending).await?;
                    }
                    session.notified = true;
                }
            }
            if session.api == ApiMode::Off {
                c.signal(Signal::Eod).await?;
            }
        }
    }
}
