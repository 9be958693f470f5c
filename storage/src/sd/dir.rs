//! The Director's command loop on the SD (`core/src/stored/dir_cmd.cc`), jobs.md §2.
//!
//! One authenticated Director connection: `3000 OK Hello⏎`, then commands until `run` (the
//! job then owns the connection until its EOD, TERMINATE, EOD, TERMINATE), a TERMINATE, or a
//! command the SD refuses. Messages are parsed with fd-core's [`DirToSd`] and every reply is
//! emitted with fd-core's [`SdToDir`] so the bytes are the captured ones
//! (`vectors/clear-backup-full` conn 2, `vectors/clear-restore` conn 2,
//! `vectors/clear-backup-passive` conn 2, `vectors/clear-cancel` conns 7–8,
//! `vectors/clear-status-client-storage` conn 3, `vectors/clear-dot-status` conn 4).
//!
//! As in Bareos an unknown or malformed command gets an error line naming it (`3900 Invalid
//! command: …`, `3915 Bad Job command …`) and ends this session; the daemon keeps serving
//! other connections.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use barque_common::conn::{self, AuthenticatedConnection, HandshakeMode, Outbound, Peer};
use barque_common::tls::{Key, TlsSettings};
use fd_core::wire::bnet::{Frame, Signal};
use fd_core::wire::bsr;
use fd_core::wire::codes::MessageType;
use fd_core::wire::psk::{ResourceType, SessionKey};
use fd_core::wire::sd_ctl::{Canceled, DirToSd, JobCmd, JobReply, SdToDir, UseStorage};
use tokio::sync::{oneshot, watch};

use super::job::{self, JobCtx};
use super::{lock, os_random16, status, JobSlot, RunningInfo, Shared};

/// Emit an fd-core message into a fresh vector.
pub(crate) fn emit(m: &SdToDir<'_>) -> Vec<u8> {
    let mut v = vec![0u8; m.buffer_len()];
    match m.emit(&mut v) {
        Ok(n) => {
            v.truncate(n);
            v
        }
        Err(e) => {
            log::warn!("cannot form a reply ({e}); sending nothing");
            Vec::new()
        }
    }
}

/// Printable form of wire bytes for messages and logs.
pub fn printable(b: &[u8]) -> String {
    let mut s = String::new();
    for &c in b.iter().take(200) {
        match c {
            b'\n' => s.push_str("\\n"),
            0x20..=0x7e => s.push(c as char),
            _ => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    if b.len() > 200 {
        s.push_str("...");
    }
    s
}

enum Flow {
    Continue,
    End,
}

/// Serve one authenticated Director connection.
pub async fn session(sh: Arc<Shared>, mut d: AuthenticatedConnection) {
    if d.send(&emit(&SdToDir::Hello)).await.is_err() {
        return;
    }
    let mut job: Option<JobCtx> = None;
    let monitor = d
        .peer()
        .and_then(|p| sh.cfg.directors.iter().find(|r| r.name == p.name))
        .is_some_and(|r| r.monitor);
    loop {
        let msg = match d.recv().await {
            Ok(Frame::Data(m)) => m.to_vec(),
            Ok(Frame::Signal(Signal::Terminate)) => break,
            Ok(Frame::Signal(_)) => continue,
            Ok(Frame::Chunk(_)) => break,
            Err(e) => {
                log::debug!("director connection ended: {e}");
                break;
            }
        };
        // A `Monitor = yes` Director may only ask for status (`core/src/stored/dir_cmd.cc`).
        if monitor && !(msg.starts_with(b"status") || msg.starts_with(b".status")) {
            let _ = d
                .send(b"3997 Invalid command for a Director with Monitor directive enabled.\n")
                .await;
            let _ = d.signal(Signal::Eod).await;
            continue;
        }
        match command(&sh, &mut d, &mut job, &msg).await {
            Flow::Continue => {}
            Flow::End => break,
        }
    }
    if let Some(j) = job {
        lock(&sh.jobs).remove(&j.job);
    }
}

async fn refuse(d: &mut AuthenticatedConnection, line: String) -> Flow {
    log::warn!("director command refused: {}", line.trim_end());
    let _ = d.send(line.as_bytes()).await;
    // Bareos ends the command loop with a TERMINATE (`HandleConnectionRequest()`).
    let _ = d.signal(Signal::Terminate).await;
    Flow::End
}

async fn command(
    sh: &Arc<Shared>,
    d: &mut AuthenticatedConnection,
    job: &mut Option<JobCtx>,
    msg: &[u8],
) -> Flow {
    let parsed = match DirToSd::parse(msg) {
        Ok(p) => p,
        Err(e) => {
            let what = if msg.starts_with(b"JobId=") {
                format!(
                    "3915 Bad Job command. stat={e} CMD: {}\n",
                    printable(msg).trim_end_matches("\\n")
                )
            } else {
                format!(
                    "3900 Invalid command: {} ({e})\n",
                    printable(msg).trim_end_matches("\\n")
                )
            };
            return refuse(d, what).await;
        }
    };
    match parsed {
        DirToSd::Job(cmd) => {
            if job.is_some() {
                return refuse(
                    d,
                    "3915 Bad Job command: a job is already defined on this connection\n".into(),
                )
                .await;
            }
            match new_job(sh, &cmd) {
                Ok(ctx) => {
                    let reply = SdToDir::JobReply(JobReply {
                        sd_id: ctx.sd_id,
                        sd_time: sh.sd_time,
                        authorization: ctx.session_key.as_bytes(),
                    });
                    let bytes = emit(&reply);
                    *job = Some(ctx);
                    if d.send(&bytes).await.is_err() {
                        return Flow::End;
                    }
                    Flow::Continue
                }
                Err(m) => refuse(d, m).await,
            }
        }
        DirToSd::GetSecureEraseCmd => {
            let _ = d.send(&emit(&SdToDir::SecureEraseCmd(b"*None*"))).await;
            Flow::Continue
        }
        DirToSd::UseStorage(u) => use_storage(sh, d, job, &u).await,
        DirToSd::Bootstrap => bootstrap(d, job).await,
        DirToSd::PassiveClient(p) => {
            let Some(ctx) = job.as_mut() else {
                return refuse(
                    d,
                    "3900 Invalid command: passive client before JobId\n".into(),
                )
                .await;
            };
            let address = String::from_utf8_lossy(p.address).into_owned();
            let port = u16::try_from(p.port).unwrap_or(0);
            let mode = if p.ssl == 4 {
                HandshakeMode::TlsFirst
            } else {
                HandshakeMode::Cleartext
            };
            // TLS from this SD's own Storage resource, the job's PSK beside, as bareos-sd
            // does (`core/src/stored/dir_cmd.cc` `PassiveCmd()` hands `me` to
            // `DoTlsHandshake`): a certificate to present, the CA, `TLS Verify Peer`.
            let tls = if mode == HandshakeMode::TlsFirst {
                sh.cfg.tls.clone()
            } else {
                TlsSettings::disabled()
            };
            let peer = Peer {
                kind: ResourceType::Client,
                name: ctx.job.clone(),
                key: Key::raw(ctx.session_key.as_bytes().to_vec()),
                address: address.clone(),
                port,
                tls,
            };
            let mut opts = sh.opts.clone();
            opts.connect_timeout = sh.cfg.fd_connect_timeout;
            let kind = Outbound::SdToFd {
                job: ctx.job.clone(),
            };
            match conn::connect(&sh.local, &peer, &kind, mode, &opts).await {
                Ok(c) => {
                    // Sent after `run` with the time of the connect (clear-backup-passive
                    // conn 2 msg 25).
                    let enc = c
                        .tls()
                        .map(|t| t.cipher.clone())
                        .unwrap_or_else(|| "None".into());
                    ctx.queued.push((
                        MessageType::Info,
                        format!("Connected File Daemon at {address}:{port}, encryption: {enc}\n"),
                        super::now_unix(),
                    ));
                    ctx.fd = Some(c);
                    let _ = d.send(&emit(&SdToDir::PassiveClientOk)).await;
                    Flow::Continue
                }
                Err(e) => {
                    let m =
                        format!("3902 Failed to connect to passive client {address}:{port}: {e}\n");
                    job::jmsg(
                        sh,
                        d,
                        ctx,
                        MessageType::Fatal,
                        &format!("Failed to connect to passive client {address}:{port}: {e}\n"),
                    )
                    .await;
                    refuse(d, m).await
                }
            }
        }
        DirToSd::Run => {
            let Some(ctx) = job.take() else {
                return refuse(d, "3900 Invalid command: run before JobId\n".into()).await;
            };
            let name = ctx.job.clone();
            job::run(sh, d, ctx).await;
            lock(&sh.jobs).remove(&name);
            Flow::End
        }
        DirToSd::Status(dev) => {
            status::send_status(sh, d, dev).await;
            Flow::Continue
        }
        DirToSd::DotStatus(what) => {
            status::send_dot_status(sh, d, what).await;
            Flow::Continue
        }
        DirToSd::Cancel(which) => {
            let name = String::from_utf8_lossy(which).into_owned();
            let found = {
                let jobs = lock(&sh.jobs);
                jobs.iter()
                    .find(|(k, s)| **k == name || s.job_id.to_string() == name)
                    .map(|(k, s)| {
                        let _ = s.cancel.send(true);
                        (s.job_id, k.clone())
                    })
            };
            let reply = match &found {
                Some((id, k)) => emit(&SdToDir::Canceled(Canceled {
                    job_id: *id,
                    job: k.as_bytes(),
                })),
                None => emit(&SdToDir::JobNotFound(which)),
            };
            let _ = d.send(&reply).await;
            let _ = d.signal(Signal::Eod).await;
            Flow::Continue
        }
        // Accepted and ignored: barque-sd has no plugins and does not throttle (jobs.md
        // §2.1, §2.4: `pluginoptions …` → `2000 OK plugin options⏎`, `setbandwidth=…` →
        // `2000 OK Bandwidth⏎`).
        DirToSd::Unknown(m) if m.starts_with(b"pluginoptions") => {
            let _ = d.send(b"2000 OK plugin options\n").await;
            Flow::Continue
        }
        DirToSd::Listen => {
            // Copy/migrate, writing side: run the job with the data from another SD.
            let Some(mut ctx) = job.take() else {
                return refuse(d, "3900 Invalid command: listen before JobId\n".into()).await;
            };
            ctx.listen = true;
            let name = ctx.job.clone();
            job::run(sh, d, ctx).await;
            lock(&sh.jobs).remove(&name);
            Flow::End
        }
        DirToSd::Unknown(m) if m.starts_with(b"replicate ") => replicate(sh, d, job, m).await,
        DirToSd::Unknown(m) if fd_core::wire::sd_dev::DeviceCmd::is_device_cmd(m) => {
            super::devcmd::command(sh, d, m).await;
            Flow::Continue
        }
        DirToSd::Unknown(m) if m.starts_with(b"setbandwidth=") => {
            log::info!("ignoring {}", printable(m));
            let _ = d.send(b"2000 OK Bandwidth\n").await;
            Flow::Continue
        }
        DirToSd::Unknown(m) => {
            refuse(
                d,
                format!(
                    "3900 Invalid command: {}\n",
                    printable(m).trim_end_matches("\\n")
                ),
            )
            .await
        }
        // Catalog replies (`1000 OK …`) outside a catalog request.
        _ => {
            refuse(
                d,
                format!(
                    "3900 Invalid command: {} (not expected outside a catalog request)\n",
                    printable(msg).trim_end_matches("\\n")
                ),
            )
            .await
        }
    }
}

/// `replicate …` (copy/migrate, reading side): connect to the writing SD as its job and
/// authenticate with its session key (`core/src/stored/dir_cmd.cc` `ReplicateCmd()`); the
/// data goes there after `run`.
async fn replicate(
    sh: &Arc<Shared>,
    d: &mut AuthenticatedConnection,
    job: &mut Option<JobCtx>,
    msg: &[u8],
) -> Flow {
    use fd_core::wire::sd_dev::{Replicate, REPLICATE_OK};
    let bad = |why: String| {
        format!(
            "3900 Bad replicate command: {} ({why})\n",
            printable(msg).trim_end_matches("\\n")
        )
    };
    let r = match Replicate::parse(msg) {
        Ok(r) => r,
        Err(e) => return refuse(d, bad(e.to_string())).await,
    };
    let Some(ctx) = job.as_mut() else {
        return refuse(d, bad("no job defined (JobId= first)".into())).await;
    };
    let address = word(r.address);
    let port = u16::try_from(r.port).unwrap_or(0);
    let mode = if r.ssl == 4 {
        HandshakeMode::TlsFirst
    } else {
        HandshakeMode::Cleartext
    };
    // TLS from this SD's own Storage resource (`ReplicateCmd()` hands `me` to
    // `DoTlsHandshake`), the writing SD's session key as PSK beside.
    let tls = if mode == HandshakeMode::TlsFirst {
        sh.cfg.tls.clone()
    } else {
        TlsSettings::disabled()
    };
    let writing_job = word(r.job);
    let peer = Peer {
        kind: ResourceType::Storage,
        name: writing_job.clone(),
        key: Key::raw(r.authorization.to_vec()),
        address: address.clone(),
        port,
        tls,
    };
    let kind = Outbound::SdToSd {
        job: writing_job.clone(),
    };
    match conn::connect(&sh.local, &peer, &kind, mode, &sh.opts).await {
        Ok(c) => {
            log::info!(
                "job {}: connected to the writing Storage daemon at {address}:{port} for job {writing_job}",
                ctx.job
            );
            ctx.replicate = Some(c);
            let _ = d.send(REPLICATE_OK).await;
            Flow::Continue
        }
        Err(e) => {
            let text = format!("Failed to connect to Storage daemon: {address}:{port} ({e})\n");
            job::jmsg(sh, d, ctx, MessageType::Fatal, &text).await;
            refuse(d, bad(format!("cannot connect to {address}:{port}: {e}"))).await
        }
    }
}

fn word(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn new_job(sh: &Arc<Shared>, cmd: &JobCmd<'_>) -> Result<JobCtx, String> {
    if cmd.job.is_empty() || cmd.job.len() > 127 {
        return Err("3915 Bad Job command: job name must be 1 to 127 bytes\n".into());
    }
    let job = word(cmd.job);
    if lock(&sh.jobs).contains_key(&job) {
        return Err(format!(
            "3915 Bad Job command: job {job} is already running\n"
        ));
    }
    let random = os_random16()
        .map_err(|e| format!("3915 Bad Job command: no random bytes for the session key: {e}\n"))?;
    let key = SessionKey::from_random(random);
    let session_key = String::from_utf8_lossy(key.as_bytes()).into_owned();
    let sd_id = sh.next_session.fetch_add(1, Ordering::SeqCst);
    sh.jobs_run.fetch_add(1, Ordering::SeqCst);
    let (fd_tx, fd_rx) = oneshot::channel();
    let (cancel_tx, cancel_rx) = watch::channel(false);
    let info = Arc::new(Mutex::new(RunningInfo {
        job_id: cmd.job_id,
        job: job.clone(),
        job_type: cmd.job_type.to_u8(),
        level: cmd.level.to_u8(),
        ..RunningInfo::default()
    }));
    lock(&sh.jobs).insert(
        job.clone(),
        JobSlot {
            job_id: cmd.job_id,
            session_key: session_key.clone(),
            fd_tx: Some(fd_tx),
            cancel: cancel_tx,
            info: info.clone(),
        },
    );
    log::info!("job {job} (JobId {}) defined, SDid={sd_id}", cmd.job_id);
    Ok(JobCtx {
        job_id: cmd.job_id,
        job,
        job_name: word(cmd.job_name),
        client: word(cmd.client_name),
        fileset: word(cmd.file_set),
        fileset_md5: word(cmd.file_set_md5),
        job_type: cmd.job_type.to_u8(),
        level: cmd.level.to_u8(),
        rerunning: cmd.rerunning != 0,
        sd_id,
        sd_time: sh.sd_time,
        session_key,
        pool: String::new(),
        pool_type: String::new(),
        media_type: String::new(),
        append: false,
        devices: Vec::new(),
        read_device: None,
        bootstrap: None,
        fd: None,
        fd_rx: Some(fd_rx),
        cancel: cancel_rx,
        info,
        errors: 0,
        queued: Vec::new(),
        replicate: None,
        listen: false,
        adopted: None,
    })
}

/// Receive the next data message of a multi-message command; `None` at EOD.
async fn next_line(d: &mut AuthenticatedConnection) -> Result<Option<Vec<u8>>, String> {
    loop {
        match d.recv().await {
            Ok(Frame::Data(m)) => return Ok(Some(m.to_vec())),
            Ok(Frame::Signal(Signal::Eod)) => return Ok(None),
            Ok(Frame::Signal(Signal::Heartbeat)) => continue,
            Ok(Frame::Signal(s)) => return Err(format!("unexpected signal {}", s.name())),
            Ok(Frame::Chunk(_)) => return Err("unexpected chunk".into()),
            Err(e) => return Err(e.to_string()),
        }
    }
}

async fn use_storage(
    sh: &Arc<Shared>,
    d: &mut AuthenticatedConnection,
    job: &mut Option<JobCtx>,
    first: &UseStorage<'_>,
) -> Flow {
    let Some(ctx) = job.as_mut() else {
        return refuse(
            d,
            "3913 Bad use command: no job defined (JobId= first)\n".into(),
        )
        .await;
    };
    // One exchange: `use storage=` lines of one direction (read or write), each followed
    // by its `use device=` lines and an EOD, then a final EOD. A copy, migrate or Virtual
    // Full within this SD sends two exchanges, read then write (`core/src/dird/msgchan.cc`
    // `ReserveReadAndWriteDevices()`); the job then has a read device and write devices.
    let append = first.append != 0;
    let (pool, pool_type, media_type) = (
        word(first.pool_name),
        word(first.pool_type),
        word(first.media_type),
    );
    let mut offered: Vec<String> = Vec::new();
    let mut mixed = false;
    loop {
        loop {
            match next_line(d).await {
                Ok(Some(line)) => match DirToSd::parse(&line) {
                    Ok(DirToSd::UseDevice(dev)) => offered.push(word(dev)),
                    _ => {
                        return refuse(d, format!("3913 Bad use command: {}\n", printable(&line)))
                            .await
                    }
                },
                Ok(None) => break,
                Err(e) => return refuse(d, format!("3913 Bad use command: {e}\n")).await,
            }
        }
        match next_line(d).await {
            Ok(None) => break,
            Ok(Some(line)) => match DirToSd::parse(&line) {
                Ok(DirToSd::UseStorage(u)) => {
                    mixed |= (u.append != 0) != append;
                    continue;
                }
                _ => {
                    return refuse(d, format!("3913 Bad use command: {}\n", printable(&line))).await
                }
            },
            Err(e) => return refuse(d, format!("3913 Bad use command: {e}\n")).await,
        }
    }
    let again = if append {
        ctx.append
    } else {
        ctx.read_device.is_some()
    };
    if mixed || again {
        let text = if mixed {
            "one exchange names storages to read and to write; send the read storages, EOD, EOD, then the write storages"
        } else if append {
            "the job already has its devices to write"
        } else {
            "the job already has its device to read"
        };
        return refuse(d, format!("3913 Bad use command: {text}\n")).await;
    }
    let usable = offered.iter().find(|n| {
        sh.cfg
            .device(n.as_bytes())
            .is_some_and(|dev| dev.media_type == media_type)
    });
    let Some(dev) = usable.cloned() else {
        let name = offered.first().cloned().unwrap_or_default();
        return refuse(
            d,
            format!(
                "3924 Device \"{name}\" not in SD Device resources or no matching Media Type.\n"
            ),
        )
        .await;
    };
    // The job's pool and Media Type are the writing side's when it has one.
    if append || !ctx.append {
        ctx.pool = pool;
        ctx.pool_type = pool_type;
        ctx.media_type = media_type;
    }
    if append {
        ctx.append = true;
        ctx.devices = offered;
        let text = format!("Using just in time reservation for job {}\n", ctx.job_id);
        job::jmsg(sh, d, ctx, MessageType::Info, &text).await;
        let _ = d
            .send(&emit(&SdToDir::UseDeviceOk(b"JustInTime\x01Device")))
            .await;
    } else {
        let bashed: Vec<u8> = dev.bytes().map(|b| if b == b' ' { 1 } else { b }).collect();
        ctx.read_device = Some(dev);
        let _ = d.send(&emit(&SdToDir::UseDeviceOk(&bashed))).await;
    }
    Flow::Continue
}

async fn bootstrap(d: &mut AuthenticatedConnection, job: &mut Option<JobCtx>) -> Flow {
    let mut text = Vec::new();
    loop {
        match next_line(d).await {
            Ok(Some(line)) => {
                if text.len() + line.len() > 1_000_000 {
                    return refuse(d, "3904 Error bootstrap\n".into()).await;
                }
                text.extend_from_slice(&line);
                if !line.ends_with(b"\n") {
                    text.push(b'\n');
                }
            }
            Ok(None) => break,
            Err(e) => {
                log::warn!("bootstrap: {e}");
                return refuse(d, "3904 Error bootstrap\n".into()).await;
            }
        }
    }
    let mut volumes = 0;
    for e in bsr::entries(&text) {
        match e {
            Ok(e) if e.volume.is_some() => volumes += 1,
            Ok(_) => {}
            Err(err) => {
                log::warn!("bootstrap refused: {err}");
                let _ = d.send(&emit(&SdToDir::BootstrapError)).await;
                return Flow::Continue;
            }
        }
    }
    match job.as_mut() {
        Some(ctx) if volumes > 0 => {
            ctx.bootstrap = Some(text);
            let _ = d.send(&emit(&SdToDir::BootstrapOk)).await;
        }
        _ => {
            log::warn!("bootstrap refused: no job or no Volume= line");
            let _ = d.send(&emit(&SdToDir::BootstrapError)).await;
        }
    }
    Flow::Continue
}
