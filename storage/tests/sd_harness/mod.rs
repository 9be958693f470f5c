//! Test Director and test FD for barque-sd, built from fd-core codecs and barque-common
//! connections, plus a reader for the captures' `transcript.jsonl`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use barque_common::conn::{
    self, AuthenticatedConnection, ConnOptions, HandshakeMode, Local, Outbound, Peer,
};
use barque_common::tls::{Key, TlsSettings};
use fd_core::wire::bnet::{Frame, Signal};
use fd_core::wire::psk::ResourceType;
use fd_core::wire::sd_ctl::{CatReq, DirToSd, MediaInfo, SdToDir};
use storage::sd::{SdConfig, Server};

/// `$BARQUE_VECTORS` or `../shared/vectors` (barque-testkit).
pub fn vectors() -> std::path::PathBuf {
    barque_testkit::vectors()
}

/// One message of a capture (`transcript.jsonl`).
#[derive(Debug, Clone)]
pub struct CapMsg {
    pub conn: u32,
    pub i: u32,
    pub dir: String,
    pub signal: Option<String>,
    pub data: Vec<u8>,
    /// The sha256 (hex) of the whole payload when the transcript cut it to 32 KiB.
    pub sha256: Option<String>,
}

/// All messages of connection `conn` in a capture (barque-testkit's transcript reader).
pub fn capture(name: &str, conn: u32) -> Vec<CapMsg> {
    barque_testkit::transcript::messages(name, conn)
        .into_iter()
        .map(|m| CapMsg {
            conn: m.conn,
            i: m.i,
            dir: m.dir,
            signal: m.signal,
            data: m.data,
            sha256: m.sha256,
        })
        .collect()
}

pub fn cap_msg(name: &str, conn: u32, i: u32) -> Vec<u8> {
    capture(name, conn)
        .into_iter()
        .find(|m| m.i == i)
        .unwrap()
        .data
}

/// A received frame, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Got {
    Data(Vec<u8>),
    Signal(Signal),
}

pub async fn recv(c: &mut AuthenticatedConnection) -> Got {
    let f = tokio::time::timeout(Duration::from_secs(20), c.recv())
        .await
        .expect("timed out waiting for the SD")
        .expect("connection failed");
    match f {
        Frame::Data(d) => Got::Data(d.to_vec()),
        Frame::Signal(s) => Got::Signal(s),
        Frame::Chunk(_) => panic!("chunk"),
    }
}

pub async fn recv_data(c: &mut AuthenticatedConnection) -> Vec<u8> {
    match recv(c).await {
        Got::Data(d) => d,
        Got::Signal(s) => panic!("expected data, got {s:?}"),
    }
}

pub fn show(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A running in-process barque-sd.
pub struct Sd {
    pub server: Server,
    pub port: u16,
    pub archive: PathBuf,
    pub dir: tempfile::TempDir,
}

pub const SD_PASSWORD: &str = "ref-sd-password";

/// The capture's SD configuration with the archive in a temporary directory; `tls` false =
/// the `clear` variant (TLS Enable = no everywhere), true = the `psk` variant (no TLS
/// directives: TLS-PSK required).
pub fn sd_config_text(archive: &Path, tls: bool) -> String {
    let tls_lines = if tls {
        ""
    } else {
        "  TLS Enable = no\n  TLS Require = no\n"
    };
    format!(
        "Storage {{\n  Name = bareos-sd\n  SdAddresses = {{ ip = {{ addr = 127.0.0.1; port = 39203 }} }}\n  Messages = Standard\n{tls_lines}}}\n\
         Director {{\n  Name = bareos-dir\n  Password = \"{SD_PASSWORD}\"\n{tls_lines}}}\n\
         Device {{\n  Name = FileStorage\n  Media Type = File\n  Device Type = File\n  Archive Device = \"{}\"\n  Label Media = yes\n  Random Access = yes\n  Automatic Mount = yes\n  Removable Media = no\n  Always Open = no\n}}\n\
         Messages {{\n  Name = Standard\n  Director = bareos-dir = all\n}}\n",
        archive.display()
    )
}

pub fn write_config(dir: &Path, archive: &Path, tls: bool) -> PathBuf {
    let p = dir.join("bareos-sd.conf");
    std::fs::write(&p, sd_config_text(archive, tls)).unwrap();
    p
}

pub async fn start_sd_in(dir: tempfile::TempDir, archive: PathBuf, tls: bool) -> Sd {
    let conf = write_config(dir.path(), &archive, tls);
    start_sd_conf(dir, archive, &conf).await
}

/// An SD whose cleartext configuration text is changed by `edit` first.
pub async fn start_sd_edited(edit: impl Fn(String) -> String) -> Sd {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("storage");
    std::fs::create_dir(&archive).unwrap();
    let conf = dir.path().join("bareos-sd.conf");
    std::fs::write(&conf, edit(sd_config_text(&archive, false))).unwrap();
    start_sd_conf(dir, archive, &conf).await
}

/// An SD whose device writes blocks of at most `block_size` bytes.
pub async fn start_sd_block(block_size: usize) -> Sd {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("storage");
    std::fs::create_dir(&archive).unwrap();
    let text = sd_config_text(&archive, false).replace(
        "  Always Open = no\n",
        &format!("  Always Open = no\n  Maximum Block Size = {block_size}\n"),
    );
    let conf = dir.path().join("bareos-sd.conf");
    std::fs::write(&conf, text).unwrap();
    start_sd_conf(dir, archive, &conf).await
}

async fn start_sd_conf(dir: tempfile::TempDir, archive: PathBuf, conf: &Path) -> Sd {
    let (cfg, _) = SdConfig::load(conf).unwrap();
    let mut cfg: SdConfig = cfg;
    cfg.client_connect_wait = Duration::from_secs(20);
    let opts = ConnOptions {
        auth_failure_delay: Duration::from_millis(50),
        handshake_timeout: Duration::from_secs(10),
        ..ConnOptions::default()
    };
    let server = Server::with_options(cfg, opts).unwrap();
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let s = server.clone();
    tokio::spawn(async move {
        let _ = s.serve(l).await;
    });
    Sd {
        server,
        port,
        archive,
        dir,
    }
}

pub async fn start_sd(tls: bool) -> Sd {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("storage");
    std::fs::create_dir(&archive).unwrap();
    start_sd_in(dir, archive, tls).await
}

fn tls_settings(tls: bool) -> TlsSettings {
    if tls {
        TlsSettings::default()
    } else {
        TlsSettings::disabled()
    }
}

fn mode(tls: bool) -> HandshakeMode {
    if tls {
        HandshakeMode::TlsFirst
    } else {
        HandshakeMode::Cleartext
    }
}

pub fn opts() -> ConnOptions {
    ConnOptions {
        auth_failure_delay: Duration::from_millis(50),
        handshake_timeout: Duration::from_secs(10),
        ..ConnOptions::default()
    }
}

/// Connect as the Director `bareos-dir` and read `3000 OK Hello`.
pub async fn connect_dir(port: u16, tls: bool) -> AuthenticatedConnection {
    connect_dir_as(port, "bareos-dir", SD_PASSWORD, tls).await
}

/// Connect as Director `name` with `password`.
pub async fn connect_dir_as(
    port: u16,
    name: &str,
    password: &str,
    tls: bool,
) -> AuthenticatedConnection {
    let local = Local::new(ResourceType::Director, name, tls_settings(tls));
    let peer = Peer {
        kind: ResourceType::Storage,
        name: "bareos-sd".into(),
        key: Key::from_password(password).unwrap(),
        address: "127.0.0.1".into(),
        port,
        tls: tls_settings(tls),
    };
    let mut c = conn::connect(&local, &peer, &Outbound::DirectorToSd, mode(tls), &opts())
        .await
        .expect("director connects");
    assert_eq!(recv_data(&mut c).await, b"3000 OK Hello\n");
    c
}

/// Connect as the FD for `job` with `key` (the session key).
pub async fn connect_fd(
    port: u16,
    job: &str,
    key: &str,
    tls: bool,
) -> Result<AuthenticatedConnection, barque_common::error::ConnError> {
    let local = Local::new(ResourceType::Client, "bareos-fd", tls_settings(tls));
    let peer = Peer {
        kind: ResourceType::Storage,
        name: "bareos-sd".into(),
        key: Key::raw(key.as_bytes().to_vec()),
        address: "127.0.0.1".into(),
        port,
        tls: tls_settings(tls),
    };
    conn::connect(
        &local,
        &peer,
        &Outbound::FdToSd { job: job.into() },
        mode(tls),
        &opts(),
    )
    .await
}

/// A Director's view of one volume in the catalog, answering the SD's catalog requests.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub name: String,
    pub jobs: u32,
    pub blocks: u32,
    pub bytes: u64,
    pub mounts: u32,
    pub writes: u32,
    pub status: String,
    pub max_vol_jobs: u32,
    pub media_id: u64,
    pub end_block: u32,
    /// Volumes GetVolInfo knows besides `name` (for restores of several volumes).
    pub known: Vec<String>,
    /// MaxVolBytes of the volume.
    pub max_vol_bytes: u64,
    /// The volume FindMedia proposes once the current one is in `unwanted_volumes`.
    pub next: Option<String>,
    /// Without `next`, create `Cap-«n+1»` then.
    pub auto_next: bool,
    /// The volumes this catalog moved on from, as they were then.
    pub full: Vec<Catalog>,
}

impl Catalog {
    pub fn new(name: &str) -> Self {
        Catalog {
            name: name.into(),
            jobs: 0,
            blocks: 0,
            bytes: 0,
            mounts: 0,
            writes: 0,
            status: "Unlabeled".into(),
            max_vol_jobs: 0,
            media_id: 1,
            end_block: 0,
            known: Vec::new(),
            max_vol_bytes: 0,
            next: None,
            auto_next: false,
            full: Vec::new(),
        }
    }

    pub fn media_reply(&self) -> Vec<u8> {
        let m = MediaInfo {
            vol_name: self.name.as_bytes(),
            vol_jobs: self.jobs,
            vol_files: 0,
            vol_blocks: self.blocks,
            vol_bytes: self.bytes,
            vol_mounts: self.mounts,
            vol_errors: 0,
            vol_writes: self.writes,
            max_vol_bytes: self.max_vol_bytes,
            vol_capacity_bytes: 0,
            vol_status: self.status.as_bytes(),
            slot: 0,
            max_vol_jobs: self.max_vol_jobs,
            max_vol_files: 0,
            in_changer: 0,
            vol_read_time: 0,
            vol_write_time: 0,
            end_file: 0,
            end_block: self.end_block,
            label_type: 0,
            media_id: self.media_id,
            encryption_key: b"",
            min_blocksize: 0,
            max_blocksize: 0,
        };
        let d = DirToSd::Media(m);
        let mut v = vec![0u8; d.buffer_len()];
        let n = d.emit(&mut v).unwrap();
        v.truncate(n);
        v
    }

    /// The reply to one SD message, if it needs one.
    pub fn answer(&mut self, msg: &[u8]) -> Option<Vec<u8>> {
        match SdToDir::parse(msg).ok()? {
            SdToDir::CatReq(CatReq::FindMedia(f)) => {
                let unwanted = show(f.unwanted_volumes);
                if unwanted.split(',').any(|u| u == self.name) {
                    let next = self.next.take().or_else(|| {
                        self.auto_next
                            .then(|| format!("Cap-{:04}", self.media_id + 1))
                    });
                    if let Some(next) = next {
                        // The full volume stays in the catalog (GetVolInfo of it still works).
                        let mut full = std::mem::take(&mut self.full);
                        full.push(self.clone());
                        *self = Catalog {
                            media_id: self.media_id + 1,
                            max_vol_bytes: self.max_vol_bytes,
                            auto_next: self.auto_next,
                            known: std::mem::take(&mut self.known),
                            full,
                            ..Catalog::new(&next)
                        };
                    } else {
                        return Some(b"1901 No Media.\n".to_vec());
                    }
                }
                Some(self.media_reply())
            }
            SdToDir::CatReq(CatReq::GetVolInfo(g)) => {
                if g.vol_name == self.name.as_bytes() {
                    Some(self.media_reply())
                } else if let Some(f) = self.full.iter().find(|f| f.name.as_bytes() == g.vol_name) {
                    Some(f.media_reply())
                } else if self.known.iter().any(|k| k.as_bytes() == g.vol_name) {
                    let mut other = self.clone();
                    other.name = show(g.vol_name);
                    Some(other.media_reply())
                } else {
                    Some(
                        format!("1997 Volume \"{}\" not in catalog.\n", show(g.vol_name))
                            .into_bytes(),
                    )
                }
            }
            SdToDir::CatReq(CatReq::UpdateMedia(u)) => {
                self.jobs = u.vol_jobs;
                self.blocks = u.vol_blocks;
                self.bytes = u.vol_bytes;
                self.mounts = u.vol_mounts;
                self.writes = u.vol_writes;
                self.status = show(u.vol_status);
                if self.max_vol_jobs > 0 && self.jobs >= self.max_vol_jobs {
                    self.status = "Used".into();
                }
                Some(self.media_reply())
            }
            SdToDir::CatReq(CatReq::CreateJobMedia(c)) => {
                if c.first_index > 0 {
                    self.end_block = c.end_block;
                }
                Some(b"1000 OK CreateJobMedia\n".to_vec())
            }
            SdToDir::CatReq(CatReq::DeleteNullJobmedia(_)) => {
                Some(b"1000 OK DeleteNullJobmediaRecords\n".to_vec())
            }
            _ => None,
        }
    }
}

/// Read SD messages until the first EOD, answering catalog requests; returns them all.
pub async fn serve_job(c: &mut AuthenticatedConnection, cat: &mut Catalog) -> Vec<Vec<u8>> {
    let mut all = Vec::new();
    loop {
        match recv(c).await {
            Got::Data(m) => {
                if let Some(r) = cat.answer(&m) {
                    c.send(&r).await.unwrap();
                }
                all.push(m);
            }
            Got::Signal(Signal::Eod) => return all,
            Got::Signal(s) => panic!("unexpected signal {s:?} before EOD"),
        }
    }
}

/// The job name and session key from `3000 OK Job …`.
pub fn job_reply(msg: &[u8]) -> (u32, u32, String) {
    match SdToDir::parse(msg).unwrap() {
        SdToDir::JobReply(r) => (r.sd_id, r.sd_time, show(r.authorization)),
        other => panic!("not a job reply: {other:?}"),
    }
}

/// Shape of an SD → Director message for comparison with a capture: names, times, ids and
/// sizes that legitimately differ are blanked.
pub fn shape(msg: &[u8]) -> String {
    match SdToDir::parse(msg) {
        Ok(SdToDir::Jmsg(j)) => {
            let text = show(j.text);
            let body = text.split_once(": ").map(|x| x.1).unwrap_or("");
            let mut words = body.split_whitespace();
            let first = words.next().unwrap_or("");
            let second = if first == "Using" {
                words.next().unwrap_or("")
            } else {
                ""
            };
            format!("Jmsg type={} {first} {second}", j.msg_type.to_u8())
        }
        Ok(SdToDir::JobReply(r)) => format!(
            "3000 OK Job SDid={} key={}",
            r.sd_id,
            fd_core::wire::psk::SessionKey::parse(r.authorization).is_ok()
        ),
        Ok(SdToDir::JobStatus(s)) => format!("Status {}", s.job_status.to_u8()),
        Ok(SdToDir::JobStart(_)) => "3010 start".into(),
        Ok(SdToDir::JobEnd(e)) => format!("3099 end JobStatus={}", e.job_status.to_u8()),
        Ok(SdToDir::UseDeviceOk(d)) => format!("3000 OK use device {}", show(d)),
        Ok(SdToDir::CatReq(c)) => match c {
            CatReq::FindMedia(f) => format!("CatReq FindMedia={}", f.index),
            CatReq::GetVolInfo(g) => format!("CatReq GetVolInfo write={}", g.write),
            CatReq::UpdateMedia(u) => format!(
                "CatReq UpdateMedia VolJobs={} VolMounts={} relabel={}",
                u.vol_jobs, u.vol_mounts, u.relabel
            ),
            CatReq::CreateJobMedia(c) => format!(
                "CatReq CreateJobMedia FirstIndex={} LastIndex={}",
                c.first_index, c.last_index
            ),
            CatReq::DeleteNullJobmedia(_) => "CatReq DeleteNullJobmediaRecords".into(),
        },
        Ok(SdToDir::UpdCat(u)) => format!(
            "UpdCat FI={} stream={} data={}",
            u.header.file_index,
            u.header.stream.0,
            show(u.data)
        ),
        Ok(other) => format!("{other:?}"),
        Err(e) => format!("unparsable {e}: {}", show(msg)),
    }
}

/// Shapes of the SD -> Director data messages of a capture's conn 2 after `3000 OK Hello`.
pub fn sd_to_dir_shapes(name: &str) -> Vec<String> {
    capture(name, 2)
        .into_iter()
        .filter(|m| m.dir == "sd>dir" && m.signal.is_none())
        .skip_while(|m| m.data != b"3000 OK Hello\n")
        .skip(1)
        .map(|m| shape(&m.data))
        .collect()
}

pub type Shared = Arc<storage::sd::Shared>;

/// Replay the FD side of a captured FD <-> SD connection from msg 8 (after
/// authentication): send every fd>sd message, check every sd>fd message byte for byte, with
/// the ticket of `open ticket = N` replaced by `ticket` (the SDid).
pub async fn replay_fd(name: &str, conn: u32, mut fd: AuthenticatedConnection, ticket: u32) {
    let cap = capture(name, conn);
    let cap_ticket = cap
        .iter()
        .find_map(|m| {
            show(&m.data)
                .strip_prefix("3000 OK open ticket = ")
                .map(|t| t.trim_end().to_string())
        })
        .unwrap();
    for m in cap.into_iter().filter(|m| m.i >= 8) {
        if m.dir.starts_with("fd>") {
            match m.signal.as_deref() {
                Some("EOD") => fd.signal(Signal::Eod).await.unwrap(),
                // The SD may already have closed after the first TERMINATE of a restore.
                Some("TERMINATE") => {
                    let _ = fd.signal(Signal::Terminate).await;
                }
                None => fd.send(&m.data).await.unwrap(),
                Some(s) => panic!("{s}"),
            }
        } else {
            let got = recv(&mut fd).await;
            if let Some(sum) = &m.sha256 {
                let Got::Data(g) = &got else {
                    panic!("{name} conn {conn} msg {}: got {got:?}", m.i)
                };
                assert_eq!(&sha256_hex(g), sum, "{name} conn {conn} msg {}", m.i);
                continue;
            }
            let want = match m.signal.as_deref() {
                Some("EOD") => Got::Signal(Signal::Eod),
                None if m.data.starts_with(b"3000 OK open ticket = ") => Got::Data(
                    show(&m.data)
                        .replace(
                            &format!("open ticket = {cap_ticket}"),
                            &format!("open ticket = {ticket}"),
                        )
                        .into_bytes(),
                ),
                None => Got::Data(m.data.clone()),
                Some(s) => panic!("{s}"),
            };
            assert_eq!(got, want, "{name} conn {conn} msg {}", m.i);
        }
    }
}

/// Read SD messages until EOD without answering anything but catalog requests, then the
/// remaining TERMINATE, EOD, TERMINATE.
pub async fn finish_job(c: &mut AuthenticatedConnection, cat: &mut Catalog) -> Vec<Vec<u8>> {
    let seen = serve_job(c, cat).await;
    assert_eq!(recv(c).await, Got::Signal(Signal::Terminate));
    assert_eq!(recv(c).await, Got::Signal(Signal::Eod));
    assert_eq!(recv(c).await, Got::Signal(Signal::Terminate));
    seen
}

/// `JobId=` (a captured line), `getSecureEraseCmd`, `use storage`/`use device`/EOD/EOD;
/// returns (SDid, SDtime, key, the use-device reply).
pub async fn define_job(
    d: &mut AuthenticatedConnection,
    job_line: &[u8],
    append: bool,
) -> (u32, u32, String, Vec<u8>) {
    d.send(job_line).await.unwrap();
    let (id, time, key) = job_reply(&recv_data(d).await);
    d.send(b"getSecureEraseCmd\n").await.unwrap();
    assert_eq!(recv_data(d).await, b"2000 OK SDSecureEraseCmd *None* \n");
    let use_line = format!(
        "use storage=File media_type=File pool_name=Cap pool_type=Backup append={} copy=0 stripe=0\n",
        u8::from(append)
    );
    d.send(use_line.as_bytes()).await.unwrap();
    d.send(b"use device=FileStorage\n").await.unwrap();
    d.signal(Signal::Eod).await.unwrap();
    d.signal(Signal::Eod).await.unwrap();
    let mut r = recv_data(d).await;
    if r.starts_with(b"Jmsg") {
        r = recv_data(d).await;
    }
    (id, time, key, r)
}

/// Drive one backup of clear-backup-full through barque-sd; returns the SD → Director
/// messages from `JobId=` on, the session (SDid, SDtime) and the catalog state.
pub async fn backup_job(
    sd: &Sd,
    tls: bool,
    cat: &mut Catalog,
    job_id: u32,
    job: &str,
) -> (Vec<Vec<u8>>, u32, u32) {
    backup_on(sd.port, tls, cat, job_id, job).await
}

/// [`backup_job`] against any SD port.
pub async fn backup_on(
    port: u16,
    tls: bool,
    cat: &mut Catalog,
    job_id: u32,
    job: &str,
) -> (Vec<Vec<u8>>, u32, u32) {
    let mut d = connect_dir(port, tls).await;
    let mut seen = Vec::new();
    // conn 2 msg 9: the captured JobId line, verbatim.
    let line = show(&cap_msg("clear-backup-full", 2, 9))
        .replace("JobId=1 ", &format!("JobId={job_id} "))
        .replace("CapBackup.2026-11-22_15.46.52_03", job);
    d.send(line.as_bytes()).await.unwrap();
    let reply = recv_data(&mut d).await;
    let (sd_id, sd_time, key) = job_reply(&reply);
    assert_eq!(key.len(), 39);
    seen.push(reply);
    d.send(b"getSecureEraseCmd\n").await.unwrap();
    let r = recv_data(&mut d).await;
    assert_eq!(r, b"2000 OK SDSecureEraseCmd *None* \n"); // conn 2 msg 12
    seen.push(r);
    d.send(&cap_msg("clear-backup-full", 2, 13)).await.unwrap();
    d.send(&cap_msg("clear-backup-full", 2, 14)).await.unwrap();
    d.signal(Signal::Eod).await.unwrap();
    d.signal(Signal::Eod).await.unwrap();
    let jit = recv_data(&mut d).await;
    assert!(
        show(&jit).ends_with(&format!(
            ": Using just in time reservation for job {job_id}\n"
        )),
        "{}",
        show(&jit)
    );
    seen.push(jit);
    let r = recv_data(&mut d).await;
    assert_eq!(r, b"3000 OK use device device=JustInTime\x01Device\n"); // msg 18
    seen.push(r);
    // The FD connects with the session key and replays conn 4.
    let fd = connect_fd(port, job, &key, tls)
        .await
        .expect("FD authenticates");
    let fd_task = tokio::spawn(replay_fd("clear-backup-full", 4, fd, sd_id));
    d.send(b"run").await.unwrap();
    seen.extend(serve_job(&mut d, cat).await);
    fd_task.await.unwrap();
    // EOD, TERMINATE, EOD, TERMINATE (conn 2 msgs 64-67).
    assert_eq!(recv(&mut d).await, Got::Signal(Signal::Terminate));
    assert_eq!(recv(&mut d).await, Got::Signal(Signal::Eod));
    assert_eq!(recv(&mut d).await, Got::Signal(Signal::Terminate));
    (seen, sd_id, sd_time)
}

pub fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

/// The final JobMedia of a job's messages: (FirstIndex, LastIndex, VolAddr start, VolAddr
/// end).
pub fn job_media(seen: &[Vec<u8>]) -> (u32, u32, u64, u64) {
    job_medias(seen)
        .into_iter()
        .next_back()
        .map(|(_, range)| range)
        .expect("no JobMedia")
}

/// Every JobMedia of a job's messages with records: (MediaId, (FirstIndex, LastIndex,
/// VolAddr start, VolAddr end)).
pub fn job_medias(seen: &[Vec<u8>]) -> Vec<(u64, (u32, u32, u64, u64))> {
    seen.iter()
        .filter_map(|m| match SdToDir::parse(m) {
            Ok(SdToDir::CatReq(CatReq::CreateJobMedia(c))) if c.first_index > 0 => Some((
                c.media_id,
                (
                    c.first_index,
                    c.last_index,
                    (u64::from(c.start_file) << 32) | u64::from(c.start_block),
                    (u64::from(c.end_file) << 32) | u64::from(c.end_block),
                ),
            )),
            _ => None,
        })
        .collect()
}
