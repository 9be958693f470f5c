//! The Director → FD command channel of a job (jobs.md §1), driven with fd-core's
//! [`DirCommand`] and [`FdReply`] codecs.
//!
//! Every command is answered by exactly one reply, possibly preceded by `Jmsg` job messages
//! (`core/src/dird/getmsg.cc` `BgetDirmsg()` dispatches any frame not starting with a digit);
//! [`FdChannel::reply`] forwards those to the job's messages and returns the first real reply.
//! A reply that is not the expected one is fatal for the job (`response()` compares the whole
//! message), and so is a closed connection.

use barque_common::config::typed::{DirClient, DirFileSet};
use barque_common::conn::AuthenticatedConnection;
use barque_common::error::ConnError;
use fd_core::wire::bnet::{Frame, Signal};
use fd_core::wire::dir_cmd::{DirCommand, FdReply, OkReply};
use fd_core::wire::fileset::{FilesetLine, OptionLetters, PatternTarget};

use super::{JobCtx, JobError};

/// Encode an fd-core message into a fresh vector.
macro_rules! encode {
    ($m:expr) => {{
        let m = $m;
        let mut b = vec![0u8; m.buffer_len()];
        match m.emit(&mut b) {
            Ok(n) => {
                b.truncate(n);
                Ok(b)
            }
            Err(e) => Err($crate::jobs::JobError::Wire(format!("{e:?}"))),
        }
    }};
}
pub(crate) use encode;

/// An authenticated connection to the FD for one job.
pub struct FdChannel {
    /// The connection.
    pub conn: AuthenticatedConnection,
    /// The client's name.
    pub client: String,
    /// Taken from the waiting client-initiated connections (no hello was exchanged).
    pub client_initiated: bool,
}

impl FdChannel {
    /// A channel on a client-initiated connection taken from the pool.
    pub fn client_initiated(conn: AuthenticatedConnection, client: &str) -> Self {
        Self {
            conn,
            client: client.to_owned(),
            client_initiated: true,
        }
    }

    /// Send one command.
    pub async fn send(&mut self, cmd: &DirCommand<'_>) -> Result<(), JobError> {
        let b = encode!(cmd)?;
        self.conn
            .send(&b)
            .await
            .map_err(|e| fd_err(&self.client, e))
    }

    /// Send raw bytes as one message.
    pub async fn send_raw(&mut self, b: &[u8]) -> Result<(), JobError> {
        self.conn.send(b).await.map_err(|e| fd_err(&self.client, e))
    }

    /// Send a signal.
    pub async fn signal(&mut self, s: Signal) -> Result<(), JobError> {
        self.conn
            .signal(s)
            .await
            .map_err(|e| fd_err(&self.client, e))
    }

    /// Send `fileset` (the command, its lines, EOD); the caller reads the `2000 OK include`.
    pub async fn send_fileset(&mut self, fileset: &DirFileSet) -> Result<(), JobError> {
        self.send(&DirCommand::Fileset {
            vss: fileset.enable_vss,
        })
        .await?;
        for l in fileset_lines(fileset)? {
            self.send_raw(&l).await?;
        }
        self.signal(Signal::Eod).await
    }

    /// The next data frame, skipping heartbeats and chunked frames; a signal is an error
    /// "during the «what»".
    pub async fn next_data(&mut self, what: &str) -> Result<Vec<u8>, JobError> {
        loop {
            match self
                .conn
                .recv()
                .await
                .map_err(|e| fd_err(&self.client, e))?
            {
                Frame::Data(d) => return Ok(d.to_vec()),
                Frame::Signal(Signal::Heartbeat) | Frame::Chunk(_) => continue,
                Frame::Signal(s) => {
                    return Err(JobError::Protocol(format!(
                        "Client \"{}\" sent {} during the {what}",
                        self.client,
                        s.name()
                    )))
                }
            }
        }
    }

    /// The next data frame (as [`Self::next_data`]) must be the `ok` reply; anything else is
    /// the Client's refusal.
    pub async fn expect_data_ok(&mut self, ok: OkReply, what: &str) -> Result<(), JobError> {
        let b = self.next_data(what).await?;
        match FdReply::parse(&b) {
            Ok(FdReply::Ok(k)) if k == ok => Ok(()),
            _ => Err(JobError::Refused(format!(
                "Client \"{}\": {}",
                self.client,
                String::from_utf8_lossy(&b).trim_end()
            ))),
        }
    }

    /// Receive the next non-Jmsg frame: `Ok(Some(bytes))` for data, `Ok(None)` for a signal
    /// (returned in `sig`). Jmsgs go to the job's messages.
    pub async fn next(&mut self, ctx: &JobCtx) -> Result<Result<Vec<u8>, Signal>, JobError> {
        loop {
            let frame = self
                .conn
                .recv()
                .await
                .map_err(|e| fd_err(&self.client, e))?;
            match frame {
                Frame::Data(d) => {
                    if let Ok(FdReply::Jmsg(j)) = FdReply::parse(d) {
                        let text = String::from_utf8_lossy(j.text).into_owned();
                        ctx.msg_raw(j.time, j.msg_type, text).await;
                        continue;
                    }
                    return Ok(Ok(d.to_vec()));
                }
                Frame::Signal(Signal::Heartbeat) => continue,
                Frame::Signal(s) => return Ok(Err(s)),
                Frame::Chunk(_) => {
                    return Err(JobError::Protocol(format!(
                        "client {}: unexpected chunked frame",
                        self.client
                    )))
                }
            }
        }
    }

    /// The next reply frame (Jmsgs forwarded), as bytes; a signal is an error.
    pub async fn reply(&mut self, ctx: &JobCtx, what: &str) -> Result<Vec<u8>, JobError> {
        match self.next(ctx).await? {
            Ok(b) => Ok(b),
            Err(s) => Err(JobError::Protocol(format!(
                "client {}: expected the reply to {what}, got signal {}",
                self.client,
                s.name()
            ))),
        }
    }

    /// Expect exactly `2000 OK «what»`.
    pub async fn expect_ok(
        &mut self,
        ctx: &JobCtx,
        ok: OkReply,
        what: &str,
    ) -> Result<(), JobError> {
        let b = self.reply(ctx, what).await?;
        match FdReply::parse(&b) {
            Ok(FdReply::Ok(k)) if k == ok => Ok(()),
            _ => Err(JobError::Refused(format!(
                "Client {} refused {what}: {}",
                self.client,
                String::from_utf8_lossy(&b).trim_end()
            ))),
        }
    }
}

pub(crate) fn fd_err(client: &str, e: ConnError) -> JobError {
    JobError::Connection(format!("Client \"{client}\": {e}"))
}

/// The fileset lines the Director sends after `fileset vss=1⏎`
/// (`core/src/dird/fd_sendfileset.cc`, jobs.md §1.5): per Include `I`, per Options block `O
/// «letters»` + patterns + `N`, the `F «path»` entries (no newline), `N`, plugin entries, `N`;
/// Excludes the same with `E`. vectors/clear-backup-full conn 3 msgs 14–19.
pub fn fileset_lines(fs: &DirFileSet) -> Result<Vec<Vec<u8>>, JobError> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    let mut push = |l: FilesetLine<'_>| -> Result<(), JobError> {
        out.push(encode!(l)?);
        Ok(())
    };
    for (blocks, head) in [
        (&fs.includes, FilesetLine::Include),
        (&fs.excludes, FilesetLine::Exclude),
    ] {
        for b in blocks.iter() {
            push(head)?;
            for o in &b.options {
                push(FilesetLine::Options(OptionLetters::new(
                    o.letters.as_bytes(),
                )))?;
                for (list, t, wild) in [
                    (&o.regex, PatternTarget::Any, false),
                    (&o.regex_dir, PatternTarget::Dir, false),
                    (&o.regex_file, PatternTarget::File, false),
                    (&o.wild, PatternTarget::Any, true),
                    (&o.wild_dir, PatternTarget::Dir, true),
                    (&o.wild_file, PatternTarget::File, true),
                ] {
                    for p in list {
                        push(if wild {
                            FilesetLine::Wild(t, p.as_bytes())
                        } else {
                            FilesetLine::Regex(t, p.as_bytes())
                        })?;
                    }
                }
                for f in &o.fs_type {
                    push(FilesetLine::FsType(f.as_bytes()))?;
                }
                for d in &o.drive_type {
                    push(FilesetLine::DriveType(d.as_bytes()))?;
                }
                if let Some(p) = &o.plugin {
                    push(FilesetLine::OptionsPlugin(p.as_bytes()))?;
                }
                push(FilesetLine::End)?;
            }
            for z in &b.exclude_dir_containing {
                push(FilesetLine::IgnoreDir(z.as_bytes()))?;
            }
            for f in &b.files {
                push(FilesetLine::File(f.as_bytes()))?;
            }
            push(FilesetLine::End)?;
            for p in &b.plugins {
                push(FilesetLine::Plugin(p.as_bytes()))?;
            }
            push(FilesetLine::End)?;
        }
    }
    Ok(out)
}

/// `Connected Client: … at …:…, encryption: …` and the two lines after it; on a
/// client-initiated connection `Using Client Initiated Connection (…).` instead of the first
/// (vectors/clear-client-initiated bconsole-output-backup.txt).
pub fn connected_lines(client: &DirClient, ch: &FdChannel) -> Vec<String> {
    let conn = &ch.conn;
    let enc = conn
        .tls()
        .map(|t| t.cipher.clone())
        .unwrap_or_else(|| "None".into());
    let hs = if conn.is_tls() {
        "Immediate TLS"
    } else {
        "Cleartext"
    };
    let first = if ch.client_initiated {
        format!("Using Client Initiated Connection ({}).", client.name)
    } else {
        format!(
            "Connected Client: {} at {}:{}, encryption: {enc}",
            client.name, client.address, client.port
        )
    };
    vec![
        first,
        format!("   Handshake: {hs} "),
        format!(" Encryption: {enc}"),
    ]
}
