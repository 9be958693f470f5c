//! Every FD ↔ SD and Director ↔ SD message of every cleartext capture in
//! `../shared/vectors/*/transcript.jsonl`, parsed with the data-channel and SD-control codecs
//! and re-emitted byte for byte; plus the records of the two captured volumes and the LStat
//! column of `vectors/catalog-dump.txt`.
//!
//! Hello and CRAM-MD5 frames at the start of each connection belong to other codecs and are
//! skipped by shape. Everything after them must parse to a known (non-`Unknown`) message.
//! Context decides the codec, as it does for a daemon: after `append data` the FD sends record
//! headers and data up to an EOD in header position; after `3000 OK data` of a read session
//! the SD sends `rechdr` + record pairs up to EOD; after `bootstrap⏎` the Director sends bsr
//! lines up to EOD; after `status`/`.status` the SD sends status frames up to EOD.

use std::collections::HashMap;
use std::path::PathBuf;

use fd_core::wire::attr::{AttrRecord, Digest, DigestKind, FileType, Record, Stat};
use fd_core::wire::bsr::{self, BsrLine};
use fd_core::wire::sd_cmd::{SdDataCommand, SdDataReply};
use fd_core::wire::sd_ctl::{CatReq, DirToSd, SdToDir};
use fd_core::wire::status::StatusFrame;
use fd_core::wire::stream::{AppendEvent, AppendTracker, RestoreEvent, RestoreTracker, StreamType};

fn vectors() -> PathBuf {
    std::env::var_os("BARQUE_VECTORS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/vectors"))
        })
}

/// Minimal extraction of one top-level field from a flat JSON object line as written by the
/// capture tooling (`"key": value`, no nested objects except a list we never read).
fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let pat = format!("\"{key}\": ");
    let start = line.find(&pat)? + pat.len();
    let rest = &line[start..];
    if let Some(s) = rest.strip_prefix('"') {
        let end = s.find('"')?;
        Some(&s[..end])
    } else {
        let end = rest.find([',', '}']).unwrap_or(rest.len());
        Some(rest[..end].trim())
    }
}

#[derive(Debug)]
struct Msg {
    conn: u32,
    i: u32,
    dir: String,
    len: i64,
    signal: Option<String>,
    data: Vec<u8>,
    truncated: bool,
}

#[derive(Debug)]
struct Conn {
    roles: (String, String),
    mode: String,
}

fn load(path: &std::path::Path) -> (HashMap<u32, Conn>, Vec<Msg>) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut conns = HashMap::new();
    let mut msgs = Vec::new();
    for line in text.lines() {
        match field(line, "kind") {
            Some("conn") => {
                let n: u32 = field(line, "conn").unwrap().parse().unwrap();
                conns.insert(
                    n,
                    Conn {
                        roles: (
                            field(line, "client_role").unwrap().to_owned(),
                            field(line, "server_role").unwrap().to_owned(),
                        ),
                        mode: field(line, "mode").unwrap().to_owned(),
                    },
                );
            }
            Some("msg") => {
                let signal = match field(line, "signal").unwrap() {
                    "null" => None,
                    s => Some(s.to_owned()),
                };
                msgs.push(Msg {
                    conn: field(line, "conn").unwrap().parse().unwrap(),
                    i: field(line, "i").unwrap().parse().unwrap(),
                    dir: field(line, "dir").unwrap().to_owned(),
                    len: field(line, "len").unwrap().parse().unwrap(),
                    signal,
                    data: hex::decode(field(line, "hex").unwrap_or("")).unwrap(),
                    truncated: field(line, "truncated") == Some("true"),
                });
            }
            _ => {}
        }
    }
    (conns, msgs)
}

/// Hello / CRAM-MD5 frames, recognised crudely by shape.
fn is_auth(m: &Msg) -> bool {
    let d = &m.data;
    d.starts_with(b"Hello ")
        || d.starts_with(b"auth cram-md5")
        || d == b"1000 OK auth\n"
        || (d.len() == 23
            && d[22] == 0
            && d[..22]
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/'))
}

#[derive(Default, Debug)]
struct Stats {
    commands: usize,
    replies: usize,
    headers: usize,
    attrs: usize,
    digests: usize,
    file_data: usize,
    sparse: usize,
    rechdrs: usize,
    dir_to_sd: usize,
    sd_to_dir: usize,
    bsr_lines: usize,
    bsr_entries: usize,
    status_frames: usize,
    updcat: usize,
    catreq: usize,
    jmsg: usize,
    signals: usize,
}

/// Check one record payload of `stream` with [`Record`], the per-stream dispatcher.
fn check_record(stream: StreamType, m: &Msg, st: &mut Stats, ctx: &str) {
    let d = &m.data;
    let rec = Record::parse(stream, d).unwrap_or_else(|e| panic!("{ctx}: {stream:?} {e:?}"));
    assert_eq!(emit(rec.buffer_len(), |b| rec.emit(b)), *d, "{ctx}");
    match rec {
        Record::Attributes(r) => {
            assert!(!m.truncated, "{ctx}");
            assert!(!matches!(r.file_type, FileType::Unknown(_)), "{ctx}");
            st.attrs += 1;
        }
        Record::Digest(g) => {
            assert_eq!(
                g.kind,
                DigestKind::Sha256,
                "{ctx}: CapSet uses Signature = SHA256"
            );
            st.digests += 1;
        }
        Record::Sparse(c) => {
            if m.truncated {
                assert_eq!(c.buffer_len(), 32_768, "{ctx}");
            } else {
                assert_eq!(c.buffer_len() as i64, m.len, "{ctx}");
            }
            st.sparse += 1;
        }
        Record::Data {
            kind: StreamType::FileData,
            ..
        } => st.file_data += 1,
        other => panic!("{ctx}: {other:?} not expected in the captures"),
    }
}

fn emit(len: usize, f: impl FnOnce(&mut [u8]) -> fd_core::wire::Result<usize>) -> Vec<u8> {
    let mut buf = vec![0u8; len];
    let n = f(&mut buf).unwrap();
    buf.truncate(n);
    buf
}

/// The FD's side: commands, or the data phase of an append session.
enum FdState {
    Cmd,
    Append(AppendTracker),
}

/// The SD's side: replies, or the record stream of a read session.
enum SdState {
    Reply,
    Records(RestoreTracker),
}

fn check_fd_sd(name: &str, msgs: &[&Msg], st: &mut Stats) {
    let mut fd = FdState::Cmd;
    let mut sd = SdState::Reply;
    let mut reading = false;
    let mut authed = false;
    for m in msgs {
        let ctx = format!("{name} conn {} msg {}", m.conn, m.i);
        if !authed {
            if m.signal.is_none() && is_auth(m) {
                continue;
            }
            authed = true;
        }
        let from_fd = m.dir == "fd>sd";
        assert!(from_fd || m.dir == "sd>fd", "{ctx}");
        if let Some(sig) = &m.signal {
            st.signals += 1;
            match (from_fd, sig.as_str(), &mut fd, &mut sd) {
                (true, "EOD", FdState::Append(t), _) => {
                    if t.on_eod().unwrap_or_else(|e| panic!("{ctx}: {e:?}"))
                        == AppendEvent::EndOfData
                    {
                        fd = FdState::Cmd;
                    }
                }
                (true, "TERMINATE", FdState::Cmd, _) => {}
                (false, "EOD", _, SdState::Records(t)) => {
                    assert_eq!(t.on_eod(), Ok(RestoreEvent::End), "{ctx}");
                    sd = SdState::Reply;
                }
                (false, "EOD", _, SdState::Reply) => {}
                other => panic!("{ctx}: unexpected signal {:?}", (other.0, other.1)),
            }
            continue;
        }
        if from_fd {
            match &mut fd {
                FdState::Cmd => {
                    let c =
                        SdDataCommand::parse(&m.data).unwrap_or_else(|e| panic!("{ctx}: {e:?}"));
                    assert!(!matches!(c, SdDataCommand::Unknown(_)), "{ctx}: {c:?}");
                    assert_eq!(emit(c.buffer_len(), |b| c.emit(b)), m.data, "{ctx}");
                    match c {
                        SdDataCommand::AppendData { .. } => {
                            fd = FdState::Append(AppendTracker::new(false))
                        }
                        SdDataCommand::ReadData { .. } => reading = true,
                        _ => {}
                    }
                    st.commands += 1;
                }
                FdState::Append(t) => match t.on_message(&m.data) {
                    Ok(AppendEvent::Header(h)) => {
                        assert_eq!(emit(h.buffer_len(), |b| h.emit(b)), m.data, "{ctx}");
                        assert_eq!(h.info, 0, "{ctx}");
                        st.headers += 1;
                    }
                    Ok(AppendEvent::Data { header, .. }) => {
                        check_record(header.stream.kind(), m, st, &ctx)
                    }
                    other => panic!("{ctx}: {other:?}"),
                },
            }
        } else {
            match &mut sd {
                SdState::Reply => {
                    let r = SdDataReply::parse(&m.data).unwrap_or_else(|e| panic!("{ctx}: {e:?}"));
                    assert!(!matches!(r, SdDataReply::Unknown(_)), "{ctx}: {r:?}");
                    assert_eq!(emit(r.buffer_len(), |b| r.emit(b)), m.data, "{ctx}");
                    if r == SdDataReply::Data && reading {
                        sd = SdState::Records(RestoreTracker::new());
                    }
                    st.replies += 1;
                }
                SdState::Records(t) => {
                    // A truncated payload in the capture still has its full length in `len`.
                    let full;
                    let payload: &[u8] = if m.truncated {
                        full = vec![0u8; usize::try_from(m.len).unwrap()];
                        &full
                    } else {
                        &m.data
                    };
                    match t.on_message(payload) {
                        Ok(RestoreEvent::Header(h)) => {
                            assert_eq!(emit(h.buffer_len(), |b| h.emit(b)), m.data, "{ctx}");
                            assert!(h.file_index > 0, "{ctx}");
                            st.rechdrs += 1;
                        }
                        Ok(RestoreEvent::Record { header, .. }) => {
                            check_record(header.stream.kind(), m, st, &ctx)
                        }
                        other => panic!("{ctx}: {other:?}"),
                    }
                }
            }
        }
    }
}

/// A whole bootstrap as received: group it into entries and check each one is complete and
/// that `Count` is the number of FileIndex values its ranges select.
fn check_bootstrap(text: &[u8], st: &mut Stats, ctx: &str) {
    for e in bsr::entries(text) {
        let e = e.unwrap_or_else(|err| panic!("{ctx}: {err:?}"));
        assert!(e.volume.is_some() && e.media_type.is_some(), "{ctx}: {e:?}");
        assert!(
            e.vol_session_id.is_some() && e.vol_session_time.is_some(),
            "{ctx}"
        );
        let addr = e.vol_addr.unwrap_or_else(|| panic!("{ctx}: no VolAddr"));
        assert!(addr.start <= addr.last(), "{ctx}");
        let selected: u64 = e.file_indexes().map(|r| r.last() - r.start + 1).sum();
        assert_eq!(Some(selected), e.count, "{ctx}");
        st.bsr_entries += 1;
    }
}

fn check_dir_sd(name: &str, msgs: &[&Msg], st: &mut Stats) {
    let mut bsr_text = Vec::new();
    let mut bootstrap = false;
    let mut status = false;
    let mut authed = false;
    for m in msgs {
        let ctx = format!("{name} conn {} msg {}", m.conn, m.i);
        if !authed {
            if m.signal.is_none() && is_auth(m) {
                continue;
            }
            authed = true;
        }
        let from_dir = m.dir == "dir>sd";
        assert!(from_dir || m.dir == "sd>dir", "{ctx}");
        assert!(!m.truncated, "{ctx}");
        if let Some(sig) = &m.signal {
            st.signals += 1;
            assert!(sig == "EOD" || sig == "TERMINATE", "{ctx}: {sig}");
            if sig == "EOD" {
                if from_dir {
                    if bootstrap {
                        check_bootstrap(&bsr_text, st, &ctx);
                        bsr_text.clear();
                    }
                    bootstrap = false;
                } else {
                    status = false;
                }
            }
            continue;
        }
        if from_dir {
            if bootstrap {
                let l = BsrLine::parse(&m.data).unwrap_or_else(|e| panic!("{ctx}: {e:?}"));
                assert!(
                    !matches!(
                        l,
                        BsrLine::Unknown(_) | BsrLine::Blank | BsrLine::Comment(_)
                    ),
                    "{ctx}: {l:?}"
                );
                assert_eq!(emit(l.buffer_len(), |b| l.emit(b)), m.data, "{ctx}");
                bsr_text.extend_from_slice(&m.data);
                st.bsr_lines += 1;
                continue;
            }
            let c = DirToSd::parse(&m.data).unwrap_or_else(|e| panic!("{ctx}: {e:?}"));
            assert!(!matches!(c, DirToSd::Unknown(_)), "{ctx}: {c:?}");
            assert_eq!(emit(c.buffer_len(), |b| c.emit(b)), m.data, "{ctx}");
            match c {
                DirToSd::Bootstrap => bootstrap = true,
                DirToSd::Status(_) | DirToSd::DotStatus(_) => status = true,
                _ => {}
            }
            st.dir_to_sd += 1;
        } else {
            if status {
                let f = StatusFrame::parse(&m.data).unwrap_or_else(|e| panic!("{ctx}: {e:?}"));
                assert_eq!(emit(f.buffer_len(), |b| f.emit(b)), m.data, "{ctx}");
                st.status_frames += 1;
                continue;
            }
            let r = SdToDir::parse(&m.data).unwrap_or_else(|e| panic!("{ctx}: {e:?}"));
            assert!(!matches!(r, SdToDir::Unknown(_)), "{ctx}: {r:?}");
            assert_eq!(emit(r.buffer_len(), |b| r.emit(b)), m.data, "{ctx}");
            match r {
                SdToDir::UpdCat(u) => {
                    let kind = u.header.stream.kind();
                    assert!(kind.is_catalogued(), "{ctx}");
                    let inner = Msg {
                        conn: m.conn,
                        i: m.i,
                        dir: m.dir.clone(),
                        len: u.data.len() as i64,
                        signal: None,
                        data: u.data.to_vec(),
                        truncated: false,
                    };
                    check_record(kind, &inner, st, &ctx);
                    if let Ok(a) = AttrRecord::parse(u.data) {
                        assert_eq!(
                            i64::from(a.file_index),
                            i64::from(u.header.file_index),
                            "{ctx}"
                        );
                    }
                    st.updcat += 1;
                }
                SdToDir::CatReq(CatReq::CreateJobMedia(c)) => {
                    assert!(c.first_index <= c.last_index, "{ctx}");
                    st.catreq += 1;
                }
                SdToDir::CatReq(_) => st.catreq += 1,
                SdToDir::Jmsg(_) => st.jmsg += 1,
                _ => {}
            }
            st.sd_to_dir += 1;
        }
    }
}

#[test]
fn every_sd_connection_of_every_capture() {
    let dir = vectors();
    let mut captures: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.join("transcript.jsonl").exists())
        .collect();
    captures.sort();
    assert!(
        captures.len() >= 15,
        "found only {} captures",
        captures.len()
    );
    let mut st = Stats::default();
    let mut fd_sd_conns = 0;
    let mut dir_sd_conns = 0;
    for cap in &captures {
        let name = cap.file_name().unwrap().to_string_lossy().into_owned();
        let (conns, msgs) = load(&cap.join("transcript.jsonl"));
        let mut ids: Vec<_> = conns.keys().copied().collect();
        ids.sort();
        for id in ids {
            let c = &conns[&id];
            if c.mode != "bsock" {
                continue;
            }
            let mut roles = [c.roles.0.as_str(), c.roles.1.as_str()];
            roles.sort();
            let these: Vec<&Msg> = msgs.iter().filter(|m| m.conn == id).collect();
            match roles {
                ["fd", "sd"] => {
                    check_fd_sd(&name, &these, &mut st);
                    fd_sd_conns += 1;
                }
                ["dir", "sd"] => {
                    check_dir_sd(&name, &these, &mut st);
                    dir_sd_conns += 1;
                }
                _ => {}
            }
        }
    }
    eprintln!("{fd_sd_conns} FD<->SD and {dir_sd_conns} Dir<->SD connections: {st:#?}");
    // Guard against a vacuous pass: these are the exact counts of the capture set (a loader
    // that silently skips messages changes them).
    assert_eq!((fd_sd_conns, dir_sd_conns), (10, 14));
    assert_eq!(
        (st.commands, st.replies, st.headers),
        (36, 43, 81),
        "{st:?}"
    );
    assert_eq!(
        (st.attrs, st.digests, st.file_data, st.sparse),
        (90, 54, 21, 37),
        "{st:?}"
    );
    assert_eq!(
        (st.rechdrs, st.bsr_lines, st.status_frames),
        (46, 28, 38),
        "{st:?}"
    );
    assert_eq!((st.dir_to_sd, st.sd_to_dir), (139, 341), "{st:?}");
    assert_eq!((st.updcat, st.catreq, st.jmsg), (59, 83, 88), "{st:?}");
}

/// Walk the BB02 blocks of a volume file; call `f(file_index, stream, payload)` for every
/// record that lies whole within one block.
fn volume_records(vol: &[u8], mut f: impl FnMut(i32, i32, &[u8])) -> usize {
    let mut off = 0;
    let mut blocks = 0;
    while off + 24 <= vol.len() {
        let be32 = |p: usize| u32::from_be_bytes(vol[p..p + 4].try_into().unwrap());
        let block_len = be32(off + 4) as usize;
        assert_eq!(&vol[off + 12..off + 16], b"BB02");
        let end = off + block_len;
        let mut p = off + 24;
        while p + 12 <= end {
            let fi = be32(p) as i32;
            let stream = be32(p + 4) as i32;
            let len = be32(p + 8) as usize;
            let data_end = (p + 12 + len).min(end);
            if p + 12 + len <= end {
                f(fi, stream, &vol[p + 12..data_end]);
            }
            p = data_end;
        }
        off = end;
        blocks += 1;
    }
    blocks
}

fn catalog_rows() -> Vec<(u32, u32, String, String)> {
    // (jobid, fileindex, lstat, md5) of the File rows of vectors/catalog-dump.txt.
    let text = std::fs::read_to_string(vectors().join("catalog-dump.txt")).unwrap();
    let mut rows = Vec::new();
    let mut in_files = false;
    for line in text.lines() {
        if line.starts_with("-- files of jobs") {
            in_files = true;
            continue;
        }
        if !in_files || !line.contains('|') || line.contains("fileindex") {
            continue;
        }
        let cols: Vec<&str> = line.split('|').map(str::trim).collect();
        if cols.len() == 7 {
            rows.push((
                cols[0].parse().unwrap(),
                cols[1].parse().unwrap(),
                cols[4].to_owned(),
                cols[5].to_owned(),
            ));
        }
    }
    rows
}

#[test]
fn catalog_lstat_decodes_and_reencodes() {
    let rows = catalog_rows();
    assert_eq!(rows.len(), 9);
    for (job, fi, lstat, _) in &rows {
        let s = Stat::parse(lstat.as_bytes()).unwrap_or_else(|e| panic!("{job}/{fi}: {e:?}"));
        assert_eq!(s.fields, 16);
        assert_eq!(s.data_stream, 2);
        assert_eq!(emit(s.buffer_len(), |b| s.emit(b)), lstat.as_bytes());
    }
    // JobId 1 FileIndex 1 is hello.txt: 6 bytes, mode 0100644 (notes.md of clear-backup-full).
    let s = Stat::parse(rows[0].2.as_bytes()).unwrap();
    assert_eq!((s.size, s.mode, s.nlink), (6, 0o100644, 1));
}

#[test]
fn volume_full_records_match_wire_and_catalog() {
    let vol = std::fs::read(vectors().join("volume-full/Cap-0001")).unwrap();
    let rows = catalog_rows();
    let mut attrs = 0;
    let mut digests = 0;
    let mut last_attr_fi = 0;
    let blocks = volume_records(&vol, |fi, stream, data| {
        if fi <= 0 {
            return;
        }
        let kind = fd_core::wire::stream::Stream(stream).kind();
        match kind {
            StreamType::UnixAttributes => {
                let r = AttrRecord::parse(data).unwrap();
                assert_eq!(r.file_index, fi);
                assert_eq!(emit(r.buffer_len(), |b| r.emit(b)), data);
                // The LStat in the catalog is this record's stat packet.
                let row = rows.iter().find(|r| r.0 == 1 && r.1 == fi as u32).unwrap();
                assert_eq!(
                    emit(r.stat.buffer_len(), |b| r.stat.emit(b)),
                    row.2.as_bytes()
                );
                last_attr_fi = fi;
                attrs += 1;
            }
            StreamType::Sha256Digest => {
                assert_eq!(fi, last_attr_fi);
                let d = Digest::parse(kind, data).unwrap();
                let mut out = [0u8; 86];
                let n = d.encode_catalog(&mut out).unwrap();
                let row = rows.iter().find(|r| r.0 == 1 && r.1 == fi as u32).unwrap();
                assert_eq!(&out[..n], row.3.as_bytes());
                digests += 1;
            }
            StreamType::FileData => {}
            other => panic!("unexpected stream {other:?}"),
        }
    });
    assert_eq!(blocks, 2);
    assert_eq!((attrs, digests), (6, 3));
}

#[test]
fn volume_multiblock_attribute_records() {
    let vol = std::fs::read(vectors().join("volume-multiblock/Cap-0001")).unwrap();
    let mut attrs = 0;
    let mut types = Vec::new();
    volume_records(&vol, |fi, stream, data| {
        if fi > 0 && stream == 1 {
            let r = AttrRecord::parse(data).unwrap();
            assert_eq!(r.file_index, fi);
            assert_eq!(emit(r.buffer_len(), |b| r.emit(b)), data);
            types.push(r.file_type);
            attrs += 1;
        }
    });
    assert_eq!(attrs, 8);
    // The second name of the hard-linked pair is FT_LNKSAVED with LinkFI set.
    assert!(types.contains(&FileType::LnkSaved), "{types:?}");
}
