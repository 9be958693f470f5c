//! fd-core's fixture test: the dissector's engine over every capture in `../shared/vectors`,
//! through both readers (the pcap with TCP reassembly and fd-core's bsock decoder, and the
//! JSON Lines transcript).
//!
//! It fails on any frame that does not decode, on any decoded message that holds an
//! `Unknown(..)` arm, on any re-emitted message whose bytes differ from the captured ones, and
//! when coverage drops: the counts below are the exact numbers of each message family in the
//! capture set, so a reader or an engine state that silently skips messages cannot pass. The
//! two readers must also agree on every count.
//!
//! The routing (which codec owns which frame) is the engine's (`src/decode.rs`); this file only
//! counts. The volume and catalog checks at the end read the captured volumes and catalog dump
//! directly.
//!
//! The vectors directory is `$BARQUE_VECTORS` or `../shared/vectors` next to the checkout; the
//! test fails if it is missing rather than pass without checking anything.

use std::collections::BTreeMap;
use std::path::PathBuf;

use barque_dissect::decode::{ConnKind, Phase, Reemit};
use barque_dissect::{dissect, load, Body};
use fd_core::wire::attr::{AttrRecord, Digest, FileType, Stat};
use fd_core::wire::stream::StreamType;

fn vectors() -> PathBuf {
    std::env::var_os("BARQUE_VECTORS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors")
        })
}

fn captures() -> Vec<(String, PathBuf)> {
    let dir = vectors();
    let mut out: Vec<(String, PathBuf)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| {
            panic!(
                "capture directory {}: {e} (set BARQUE_VECTORS)",
                dir.display()
            )
        })
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("transcript.jsonl").is_file())
        .map(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            (name, p)
        })
        .collect();
    out.sort();
    out
}

/// Counts of what the engine decoded, by family.
type Counts = BTreeMap<String, usize>;

fn bump(c: &mut Counts, key: impl Into<String>) {
    *c.entry(key.into()).or_default() += 1;
}

/// Run the engine over one capture file; check every message; count.
fn check_file(name: &str, path: &std::path::Path, counts: &mut Counts) {
    let src = path.display().to_string();
    let cap = load(path).unwrap_or_else(|e| panic!("{e}"));
    let conns = dissect(&cap, &src).unwrap_or_else(|e| panic!("{e}"));
    assert!(!conns.is_empty(), "{src}: no connections");
    for c in &conns {
        bump(counts, format!("conn {:?}", c.kind));
        assert_ne!(
            c.kind,
            ConnKind::Unidentified,
            "{src} conn {}: not identified",
            c.connection.number
        );
        if c.kind == ConnKind::Tls {
            assert!(
                c.psk_identity.is_some(),
                "{src} conn {}: no PSK identity found in the ClientHello",
                c.connection.number
            );
            bump(counts, "tls psk identities");
        }
        for dm in &c.messages {
            let d = &dm.decoded;
            let m = &dm.message;
            let ctx = format!(
                "{src} conn {} msg {} {} {}: {}",
                m.conn, m.index, dm.arrow, d.kind, d.fields
            );
            assert!(d.error.is_none(), "{ctx}: decode error {:?}", d.error);
            assert!(!d.unknown, "{ctx}: Unknown value");
            match &d.reemit {
                Reemit::Same | Reemit::NotApplicable => {}
                Reemit::Differs(b) => panic!(
                    "{ctx}: re-emitted bytes differ\n got  {:?}\n want {:?}",
                    String::from_utf8_lossy(b),
                    match &m.body {
                        Body::Data { payload, .. } => String::from_utf8_lossy(payload).into_owned(),
                        _ => String::new(),
                    }
                ),
                Reemit::Failed(e) => panic!("{ctx}: emit failed: {e}"),
            }
            if !matches!(m.body, Body::Data { .. }) {
                if let Body::Signal(_) = m.body {
                    bump(counts, "signals");
                }
                continue;
            }
            // Every data frame a codec owns is re-emitted (free text and TLS aside).
            let free_text = matches!(
                d.kind.as_str(),
                "ConsoleCommand" | "ConsoleText" | "ApiJson" | "AuthFailureText"
            );
            assert!(
                free_text || d.kind.starts_with("Tls::") || d.reemit == Reemit::Same,
                "{ctx}: not re-emitted"
            );
            bump(counts, "data frames");
            if d.reemit == Reemit::Same {
                bump(counts, "re-emitted");
            }
            let family = d.kind.split("::").next().unwrap_or("").to_string();
            match (c.kind, d.phase) {
                (ConnKind::DirectorToFd | ConnKind::ClientInitiated, Phase::Command) => {
                    bump(counts, "dir<->fd frames");
                    bump(counts, format!("dir<->fd frames {name}"));
                    bump(counts, format!("dirfd {}", kind2(&d.kind)));
                }
                (ConnKind::DirectorToSd, Phase::Command) => {
                    bump(counts, format!("dirsd {family}"));
                }
                (ConnKind::FdToSd | ConnKind::PassiveSdToFd, Phase::Command) => {
                    bump(counts, format!("data {family}"));
                }
                (ConnKind::Console, Phase::Command) => bump(counts, format!("console {family}")),
                (_, Phase::Hello | Phase::Auth | Phase::Greeting | Phase::AuthFailed) => {
                    bump(counts, format!("setup {family}"))
                }
                _ => {}
            }
            if let Some(r) = d.record {
                bump(counts, format!("record {r}"));
            }
            for k in ["SdToDir::UpdCat", "SdToDir::CatReq", "SdToDir::Jmsg"] {
                if d.kind.starts_with(k) {
                    bump(counts, k);
                }
            }
            if let Some(rest) = d.kind.strip_prefix("Record::") {
                // Attribute records of the data channel must have known file types.
                if rest == "Attributes" {
                    assert!(!d.fields.contains("Unknown"), "{ctx}");
                }
            }
        }
    }
}

/// The first two levels of a kind (`DirCommand::Level::Since` → `DirCommand::Level::Since`,
/// `FilesetLine::Include` → `FilesetLine`).
fn kind2(kind: &str) -> String {
    let mut parts = kind.split("::");
    let a = parts.next().unwrap_or("");
    match a {
        "DirCommand" | "FdReply" | "StatusFrame" | "LsLine" => {
            let b = parts.next().unwrap_or("");
            let c = parts.next();
            match (b, c) {
                ("Level", Some(c)) => format!("{a}::{b}::{c}"),
                _ => format!("{a}::{b}"),
            }
        }
        _ => a.to_string(),
    }
}

fn get(c: &Counts, k: &str) -> usize {
    c.get(k).copied().unwrap_or(0)
}

#[test]
fn every_message_of_every_capture_decodes_and_reemits() {
    let caps = captures();
    assert!(caps.len() >= 17, "found only {} captures", caps.len());
    let mut by_reader: Vec<Counts> = Vec::new();
    for reader in ["pcap", "jsonl"] {
        let mut counts = Counts::new();
        for (name, dir) in &caps {
            let path = match reader {
                "pcap" => dir.join(format!("{name}.pcap")),
                _ => dir.join("transcript.jsonl"),
            };
            assert!(path.is_file(), "{} missing", path.display());
            check_file(name, &path, &mut counts);
        }
        eprintln!("{reader}: {counts:#?}");
        by_reader.push(counts);
    }
    let (p, j) = (&by_reader[0], &by_reader[1]);
    assert_eq!(p, j, "the pcap and JSON Lines readers disagree");
    let c = j;

    // Connections: 10 FD<->SD data channels (one passive), 14 Director<->SD, the rest.
    assert_eq!(
        get(c, "conn FdToSd") + get(c, "conn PassiveSdToFd"),
        10,
        "{c:#?}"
    );
    assert_eq!(get(c, "conn PassiveSdToFd"), 1);
    assert_eq!(get(c, "conn DirectorToSd"), 14);
    assert_eq!(get(c, "conn Tls"), 6);
    assert_eq!(get(c, "tls psk identities"), 6);

    // Director <-> FD: every frame after the greeting, both directions (as the former
    // fd-core/tests/dir_fd_fixtures.rs counted them).
    assert_eq!(get(c, "dir<->fd frames"), 327, "{c:#?}");
    for capture in [
        "clear-backup-full",
        "clear-backup-incr",
        "clear-restore",
        "clear-estimate",
        "clear-status-client-storage",
        "clear-dot-status",
        "clear-cancel",
        "clear-diff-accurate",
        "clear-backup-multiblock",
        "clear-backup-passive",
        "clear-client-initiated",
    ] {
        assert!(
            get(c, &format!("dir<->fd frames {capture}")) > 5,
            "capture {capture} contributed too few Director<->FD frames"
        );
    }
    for kind in [
        "DirCommand::JobStart",
        "DirCommand::Level::Backup",
        "DirCommand::Level::Since",
        "DirCommand::Fileset",
        "FilesetLine",
        "DirCommand::GetSecureEraseCmd",
        "DirCommand::Storage",
        "DirCommand::Backup",
        "DirCommand::Restore",
        "DirCommand::EndRestore",
        "DirCommand::Estimate",
        "DirCommand::Status",
        "DirCommand::DotStatus",
        "DirCommand::Cancel",
        "DirCommand::SetBandwidth",
        "DirCommand::Accurate",
        "AccurateEntry",
        "DirCommand::Btime",
        "FdReply::Ok",
        "FdReply::JobOk",
        "FdReply::SecureErase",
        "FdReply::Estimate",
        "FdReply::Canceled",
        "FdReply::EndJob",
        "FdReply::Jmsg",
        "StatusFrame::Counted",
        "StatusFrame::Plain",
        "LsLine::Entry",
    ] {
        assert!(
            get(c, &format!("dirfd {kind}")) > 0,
            "no {kind} frame on a Director<->FD connection"
        );
    }

    // FD <-> SD data channel (the former fd-core/tests/data_channel_fixtures.rs counts).
    assert_eq!(
        (
            get(c, "data SdDataCommand"),
            get(c, "data SdDataReply"),
            get(c, "data DataHeader"),
            get(c, "data RecHdr"),
        ),
        (36, 43, 81, 46),
        "{c:#?}"
    );
    // Records, on the data channel and forwarded in UpdCat.
    assert_eq!(
        (
            get(c, "record Attributes"),
            get(c, "record Digest"),
            get(c, "record FileData"),
            get(c, "record Sparse"),
        ),
        (90, 54, 21, 37),
        "{c:#?}"
    );
    // Director <-> SD: 139 Director messages besides the 28 bootstrap lines, 38 status frames,
    // 327 SD messages + 14 `3000 OK Hello` greetings (341 in the former count).
    assert_eq!(
        (
            get(c, "dirsd DirToSd"),
            get(c, "dirsd BsrLine"),
            get(c, "dirsd StatusFrame"),
            get(c, "dirsd SdToDir"),
        ),
        (139, 28, 38, 327),
        "{c:#?}"
    );
    // Greetings: 14 SD, 15 FD (the 16th FD connection failed authentication), 2 Director
    // banners to client-initiated FDs.
    assert_eq!(get(c, "setup HelloReply"), 31, "{c:#?}");
    assert_eq!(get(c, "setup AuthFailureText"), 1, "{c:#?}");
    assert_eq!(
        (
            get(c, "SdToDir::UpdCat"),
            get(c, "SdToDir::CatReq"),
            get(c, "SdToDir::Jmsg"),
        ),
        (59, 83, 88),
        "{c:#?}"
    );
    // Consoles: the JSON results of `.api 2` sessions are valid JSON.
    assert!(get(c, "console ApiJson") >= 3, "{c:#?}");
    assert!(get(c, "console ApiCommand") >= 2, "{c:#?}");
}

/// Walk the BB02 blocks of a volume file; call `f(file_index, stream, payload)` for every
/// record that lies whole within one block.
fn volume_records(vol: &[u8], mut f: impl FnMut(i32, i32, &[u8])) -> usize {
    let be32 = |p: usize| -> u32 {
        vol.get(p..p + 4)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_be_bytes)
            .unwrap_or_else(|| panic!("volume truncated at {p}"))
    };
    let mut off = 0;
    let mut blocks = 0;
    while off + 24 <= vol.len() {
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
    // (jobid, fileindex, lstat, sha256) of the File rows of vectors/catalog-dump.txt.
    let text = std::fs::read_to_string(vectors().join("catalog-dump.txt")).expect("catalog dump");
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
                cols[0].parse().expect("jobid"),
                cols[1].parse().expect("fileindex"),
                cols[4].to_owned(),
                cols[5].to_owned(),
            ));
        }
    }
    rows
}

fn emit(len: usize, f: impl FnOnce(&mut [u8]) -> fd_core::wire::Result<usize>) -> Vec<u8> {
    let mut buf = vec![0u8; len];
    let n = f(&mut buf).expect("emit");
    buf.truncate(n);
    buf
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
    let s = Stat::parse(rows[0].2.as_bytes()).expect("lstat");
    assert_eq!((s.size, s.mode, s.nlink), (6, 0o100644, 1));
}

#[test]
fn volume_full_records_match_wire_and_catalog() {
    let vol = std::fs::read(vectors().join("volume-full/Cap-0001")).expect("volume");
    let rows = catalog_rows();
    let mut attrs = 0;
    let mut digests = 0;
    let mut last_attr_fi = 0;
    let blocks = volume_records(&vol, |fi, stream, data| {
        if fi <= 0 {
            return;
        }
        let kind = fd_core::wire::stream::Stream(stream).kind();
        let row = |fi: i32| {
            rows.iter()
                .find(|r| r.0 == 1 && i64::from(r.1) == i64::from(fi))
                .expect("catalog row")
        };
        match kind {
            StreamType::UnixAttributes => {
                let r = AttrRecord::parse(data).expect("attributes");
                assert_eq!(r.file_index, fi);
                assert_eq!(emit(r.buffer_len(), |b| r.emit(b)), data);
                // The LStat in the catalog is this record's stat packet.
                assert_eq!(
                    emit(r.stat.buffer_len(), |b| r.stat.emit(b)),
                    row(fi).2.as_bytes()
                );
                last_attr_fi = fi;
                attrs += 1;
            }
            StreamType::Sha256Digest => {
                assert_eq!(fi, last_attr_fi);
                let d = Digest::parse(kind, data).expect("digest");
                let mut out = [0u8; 86];
                let n = d.encode_catalog(&mut out).expect("encode");
                assert_eq!(&out[..n], row(fi).3.as_bytes());
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
    let vol = std::fs::read(vectors().join("volume-multiblock/Cap-0001")).expect("volume");
    let mut attrs = 0;
    let mut types = Vec::new();
    volume_records(&vol, |fi, stream, data| {
        if fi > 0 && stream == 1 {
            let r = AttrRecord::parse(data).expect("attributes");
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
