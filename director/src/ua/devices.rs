//! The console's device commands: `label`, `mount`, `unmount` (`umount`), `release`
//! (`core/src/dird/ua_label.cc` `LabelCmd()`, `core/src/dird/ua_cmds.cc` `DoMountCmd()`).
//!
//! Each opens a control connection to the Storage daemon of `storage=` (or the only Storage
//! resource), sends one [`fd_core::wire::sd_dev::DeviceCmd`] for the Storage resource's first
//! Device, and passes every line of the SD's reply to the console as Bareos does.
//!
//! `label storage= volume= pool= [slot=] [drive=]`: refuses a volume whose media record
//! already has bytes (`Media record for new Volume "…" already exists.`), sends
//! `label «dev» VolumeName=… PoolName=… MediaType=… Slot=… drive=… MinBlocksize=0
//! MaxBlocksize=0`, and on the SD's `3000 OK label. …` creates the media record (`Append`,
//! LabelDate now, VolBytes as the SD reported, the pool's limits) or updates an `Unlabeled`
//! one, then asks the SD to mount the device (Bareos' automount). Without `pool=`, the only
//! Pool of the configuration is used; Barque has no prompts, so missing arguments are errors
//! naming the keyword. Not done: `relabel` (the SD side exists), barcodes, encryption keys.

use std::sync::{Arc, Mutex};

use fd_core::wire::bnet::{Frame, Signal};
use fd_core::wire::sd_dev::{DeviceCmd, DeviceOp, LabelCmd, LabelOk};

use crate::acl::AclKind;
use crate::catalog::{Catalog, MediaUpdate, NewMedia, VolStatus};
use crate::jobs::JobEngine as Jobs;
use crate::ua::{Reply, Session};

/// The commands handled here.
pub const COMMANDS: &[&str] = &["label", "mount", "unmount", "umount", "release"];

fn value<'a>(args: &'a [(String, Option<String>)], key: &str) -> Option<&'a str> {
    args.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .and_then(|(_, v)| v.as_deref())
}

fn bash(s: &str) -> String {
    s.replace(' ', "\u{1}")
}

/// Bareos' `IsVolumeNameLegal()`: letters, digits and `-_.:`, at most 127 bytes.
fn legal_volume_name(n: &str) -> Result<(), String> {
    if n.is_empty() || n.len() > 127 {
        return Err(format!(
            "Volume name \"{n}\" must be 1 to 127 characters long.\n"
        ));
    }
    if let Some(c) = n
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "-_.:".contains(*c)))
    {
        return Err(format!("Illegal character \"{c}\" in a volume name.\n"));
    }
    Ok(())
}

/// Run one of [`COMMANDS`].
pub async fn execute(
    jobs: &Jobs,
    session: &Session,
    command: &str,
    args: &[(String, Option<String>)],
) -> Reply {
    let cfg = jobs.config();
    let storages = cfg.dir_storages();
    let st = match value(args, "storage") {
        Some(n) => storages.iter().find(|s| s.name.eq_ignore_ascii_case(n)),
        None if storages.len() == 1 => storages.first(),
        None => {
            return Reply::failed(format!(
                "{command}: say which Storage with storage=NAME (configured: {}).\n",
                storages
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        }
    };
    let Some(st) = st.cloned() else {
        return Reply::failed(format!(
            "Storage resource \"{}\" not found.\n",
            value(args, "storage").unwrap_or_default()
        ));
    };
    if !session.acl.allows(AclKind::Storage, &st.name) {
        return Reply::failed(format!("No authorization. Storage \"{}\".\n", st.name));
    }
    let Some(dev) = st.devices.first().map(|d| d.to_string()) else {
        return Reply::failed(format!(
            "Storage \"{}\" has no Device directive.\n",
            st.name
        ));
    };
    let drive: i32 = value(args, "drive")
        .and_then(|d| d.parse().ok())
        .unwrap_or(0);
    let slot: Option<i32> = value(args, "slot").and_then(|d| d.parse().ok());
    match command {
        "label" => label(jobs, session, args, &st, &dev, drive, slot.unwrap_or(0)).await,
        _ => {
            let op = match command {
                "mount" => DeviceOp::Mount,
                "release" => DeviceOp::Release,
                _ => DeviceOp::Unmount,
            };
            let mut r = Reply::default();
            let dev_b = bash(&dev);
            let cmd = DeviceCmd::Op {
                op,
                device: dev_b.as_bytes(),
                drive,
                slot: slot.filter(|&s| s > 0),
                newline: true,
            };
            sd_exchange(jobs, &st, &[cmd], None, &mut r).await;
            r
        }
    }
}

/// Connect, send each command and copy each reply (up to its EOD) to the console; returns
/// the reply lines of every command, or `None` when the SD could not be reached.
async fn sd_exchange(
    jobs: &Jobs,
    st: &barque_common::config::typed::DirStorage,
    cmds: &[DeviceCmd<'_>],
    announce: Option<String>,
    r: &mut Reply,
) -> Option<Vec<Vec<String>>> {
    r.msg(format!(
        "Connecting to Storage daemon {} at {}:{} ...\n",
        st.name, st.address, st.port
    ));
    let mut ch = match jobs.connect_sd(st).await {
        Ok(c) => c,
        Err(e) => {
            r.error(format!(
                "\nFailed to connect to Storage daemon {}.\n====\n{e}\n",
                st.name
            ));
            return None;
        }
    };
    if let Some(a) = announce {
        r.msg(a);
    }
    let mut all = Vec::new();
    for cmd in cmds {
        let mut v = vec![0u8; cmd.buffer_len()];
        let n = match cmd.emit(&mut v) {
            Ok(n) => n,
            Err(e) => {
                r.error(format!("cannot form the command for the SD: {e}\n"));
                return None;
            }
        };
        v.truncate(n);
        if let Err(e) = ch.conn.send(&v).await {
            r.error(format!("Storage daemon {}: {e}\n", st.name));
            return None;
        }
        let mut lines = Vec::new();
        let mut total = 0usize;
        loop {
            match ch.conn.recv().await {
                Ok(Frame::Data(d)) => {
                    total += d.len();
                    let line = String::from_utf8_lossy(d).into_owned();
                    if total <= 1_000_000 {
                        r.text(line.clone());
                    }
                    lines.push(line);
                }
                Ok(Frame::Signal(Signal::Eod)) => break,
                Ok(Frame::Signal(Signal::Heartbeat)) => continue,
                Ok(_) => break,
                Err(e) => {
                    r.error(format!("Storage daemon {}: {e}\n", st.name));
                    all.push(lines);
                    return Some(all);
                }
            }
        }
        all.push(lines);
    }
    let _ = ch.conn.signal(Signal::Terminate).await;
    Some(all)
}

async fn cat<T: Send + 'static>(
    catalog: Arc<Mutex<Catalog>>,
    f: impl FnOnce(&mut Catalog) -> Result<T, crate::catalog::Error> + Send + 'static,
) -> Result<T, String> {
    tokio::task::spawn_blocking(move || {
        let mut c = catalog
            .lock()
            .map_err(|_| "the catalog lock is poisoned".to_string())?;
        f(&mut c).map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| format!("catalog task failed: {e}"))?
}

#[allow(clippy::too_many_arguments)]
async fn label(
    jobs: &Jobs,
    session: &Session,
    args: &[(String, Option<String>)],
    st: &barque_common::config::typed::DirStorage,
    dev: &str,
    drive: i32,
    slot: i32,
) -> Reply {
    let cfg = jobs.config();
    let Some(volume) = value(args, "volume").map(str::to_string) else {
        return Reply::failed("label: give the new volume's name with volume=NAME.\n");
    };
    if let Err(e) = legal_volume_name(&volume) {
        return Reply::failed(e);
    }
    let pools: Vec<String> = cfg.resources("Pool").map(|r| r.name.clone()).collect();
    let pool = match value(args, "pool") {
        Some(p) => match pools.iter().find(|n| n.eq_ignore_ascii_case(p)) {
            Some(n) => n.clone(),
            None => return Reply::failed(format!("Pool \"{p}\" not found.\n")),
        },
        None if pools.len() == 1 => pools[0].clone(),
        None => {
            return Reply::failed(format!(
                "label: say which Pool with pool=NAME (configured: {}).\n",
                pools.join(", ")
            ))
        }
    };
    if !session.acl.allows(AclKind::Pool, &pool) {
        return Reply::failed(format!("No authorization. Pool \"{pool}\".\n"));
    }
    let Some(spec) = crate::jobs::pool_spec(&cfg, &pool) else {
        return Reply::failed(format!("Pool \"{pool}\" not found.\n"));
    };
    let catalog = jobs.catalog();
    let (vname, sname) = (volume.clone(), st.name.clone());
    let existing = match cat(catalog.clone(), move |c| {
        let p = c.get_or_create_pool(&spec)?;
        let sid = c.get_or_create_storage(&sname)?;
        Ok((c.media(&vname)?, p.pool_id, sid))
    })
    .await
    {
        Ok(x) => x,
        Err(e) => return Reply::failed(format!("catalog: {e}\n")),
    };
    let (media, pool_id, storage_id) = existing;
    if let Some(m) = &media {
        if m.vol_bytes != 0 {
            return Reply::failed(format!(
                "Media record for new Volume \"{volume}\" already exists.\n"
            ));
        }
    }
    let mut r = Reply::default();
    let (dev_b, vol_b, pool_b, mt_b) =
        (bash(dev), bash(&volume), bash(&pool), bash(&st.media_type));
    let label_cmd = DeviceCmd::Label(LabelCmd {
        device: dev_b.as_bytes(),
        old_name: None,
        volume: vol_b.as_bytes(),
        pool: pool_b.as_bytes(),
        media_type: mt_b.as_bytes(),
        slot,
        drive,
        min_blocksize: 0,
        max_blocksize: 0,
    });
    let mount_cmd = DeviceCmd::Op {
        op: DeviceOp::Mount,
        device: dev_b.as_bytes(),
        drive,
        slot: None,
        newline: false,
    };
    // The label first; the mount only after the catalog record exists.
    let announce = format!("Sending label command for Volume \"{volume}\" Slot {slot} ...\n");
    let Some(replies) = sd_exchange(jobs, st, &[label_cmd], Some(announce), &mut r).await else {
        return r;
    };
    let ok = replies.first().and_then(|l| {
        l.iter()
            .find_map(|x| LabelOk::parse(x.as_bytes()).ok().map(|o| o.vol_bytes))
    });
    let Some(vol_bytes) = ok else {
        r.error(format!("Label command failed for Volume {volume}.\n"));
        return r;
    };
    let (vname, mt) = (volume.clone(), st.media_type.clone());
    let now = jobs.clock().now();
    let created = cat(catalog, move |c| {
        let m = match media {
            Some(m) => m,
            None => c.create_media(&NewMedia {
                volume_name: &vname,
                pool_id,
                media_type: &mt,
                storage_id,
                vol_status: VolStatus::Append,
                label_date: Some(now),
            })?,
        };
        c.update_media(&MediaUpdate {
            media_id: m.media_id,
            vol_jobs: 0,
            vol_files: 0,
            vol_blocks: 1,
            vol_bytes: i64::try_from(vol_bytes).unwrap_or(i64::MAX),
            vol_mounts: 0,
            vol_errors: 0,
            vol_writes: 1,
            vol_status: VolStatus::Append,
            end_time: 0,
            relabel: true,
            first_written: 0,
            job_start_time: now,
        })
    })
    .await;
    match created {
        Ok(_) => r.msg(format!(
            "Catalog record for Volume \"{volume}\", Slot {slot} successfully created.\n"
        )),
        Err(e) => {
            r.error(format!("catalog: {e}\n"));
            return r;
        }
    }
    r.msg(format!("Requesting to mount {dev} ...\n"));
    let mut m = Reply::default();
    let mounted = sd_exchange(jobs, st, &[mount_cmd], None, &mut m).await;
    // Only the SD's lines (the second connection's greeting is not shown).
    r.text.extend(m.text.into_iter().skip(1));
    r.ok &= m.ok;
    let reminded = mounted.and_then(|v| v.into_iter().next()).is_some_and(|l| {
        l.iter()
            .any(|x| x.starts_with("3001 ") || x.starts_with("3002 ") || x.starts_with("3906 "))
    });
    if !reminded {
        r.msg("Do not forget to mount the drive!!!\n");
    }
    r
}
