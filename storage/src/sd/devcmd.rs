//! The Director's device commands on the SD: `label`, `relabel`, `mount`, `unmount`,
//! `release` (bconsole's commands of the same names; [`fd_core::wire::sd_dev`]).
//!
//! The replies are Bareos' (`core/src/stored/dir_cmd.cc` `DoLabel()`, `LabelVolumeIfOk()`,
//! `MountCmd()`, `UnmountCmd()`, `ReleaseCmd()`, `SendDirBusyMessage()`) for File devices,
//! each followed by an EOD; the connection stays in the command loop. A File device is
//! opened only while a job uses it, so:
//!
//! * `label`/`relabel` write the volume label (block 0, session 0/0, as bareos-sd labels from
//!   the console) when no job uses the device, and answer `3000 OK label. …`, which the
//!   Director scans to create the media record; an existing volume file is never
//!   overwritten by `label` (`3920`), and `relabel` needs the old volume's label to match;
//! * `mount` answers `3906 File device … is always mounted.` on an idle device and
//!   `3001 Device … is mounted with Volume "…"` while a job writes;
//! * `unmount` of an idle device is `3901 … is already unmounted.`, `release` of an idle
//!   device `3921 … already released.`; while a job uses the device both answer
//!   `3937 Device … is busy with writers=N reserved=M.` (or `3936 … busy reading.`): N jobs
//!   write, M more hold a place but are still mounting their volume (Bareos' `num_writers`
//!   and `NumReserved()`).
//!
//! Bareos prints the device as `"Name" (archive)` and some formats quote that again
//! (`Device ""FileStorage" (/dir)" already released.`); barque-sd keeps those bytes.

use std::fs::OpenOptions;
use std::io::BufReader;
use std::sync::Arc;

use barque_common::conn::AuthenticatedConnection;
use fd_core::wire::bnet::Signal;
use fd_core::wire::sd_dev::{DeviceCmd, DeviceOp, LabelCmd, LabelOk};
use fd_core::wire::stream::Label;

use super::dir::printable;
use super::{lock, now_micros, DeviceRes, Shared, LABEL_PROG};
use crate::volume::label::{VolumeLabel, BAREOS_TAPE_VERSION};
use crate::volume::{RecordReader, VolumeWriter};

fn unbash(b: &[u8]) -> String {
    String::from_utf8_lossy(b).replace('\u{1}', " ")
}

fn print_name(dev: &DeviceRes) -> String {
    format!("\"{}\" ({})", dev.name, dev.archive.display())
}

/// Why the device cannot be used now, in Bareos' words, or `None` when it is idle.
fn busy(sh: &Shared, dev: &DeviceRes) -> Option<String> {
    let (writers, reserved) = sh
        .device_state(&dev.name)
        .map(|s| (s.writers(), s.reserved()))
        .unwrap_or((0, 0));
    if writers > 0 || reserved > 0 {
        return Some(format!(
            "3937 Device \"{}\" is busy with writers={writers} reserved={reserved}.\n",
            print_name(dev)
        ));
    }
    let reading = lock(&sh.jobs)
        .values()
        .any(|s| lock(&s.info).reading && lock(&s.info).device == dev.name);
    reading.then(|| format!("3936 Device \"{}\" is busy reading.\n", print_name(dev)))
}

/// Answer one device command; `msg` starts like one ([`DeviceCmd::is_device_cmd`]).
pub(crate) async fn command(sh: &Arc<Shared>, d: &mut AuthenticatedConnection, msg: &[u8]) {
    let reply = match DeviceCmd::parse(msg) {
        Ok(cmd) => answer(sh, &cmd),
        Err(e) => {
            let shown = printable(msg);
            let shown = shown.trim_end_matches("\\n");
            log::warn!("malformed device command {shown}: {e}");
            if msg.starts_with(b"label") || msg.starts_with(b"relabel") {
                format!("3903 Error scanning label command: {shown}\n")
            } else if msg.starts_with(b"mount") {
                format!("3909 Error scanning mount command: {shown}\n")
            } else if msg.starts_with(b"unmount") {
                format!("3907 Error scanning unmount command: {shown}\n")
            } else {
                format!("3927 Error scanning release command: {shown}\n")
            }
        }
    };
    log::info!("device command {}: {}", printable(msg), reply.trim_end());
    let _ = d.send(reply.as_bytes()).await;
    let _ = d.signal(Signal::Eod).await;
}

fn answer(sh: &Shared, cmd: &DeviceCmd<'_>) -> String {
    let name = match cmd {
        DeviceCmd::Label(c) | DeviceCmd::Relabel(c) => unbash(c.device),
        DeviceCmd::Op { device, .. } => unbash(device),
    };
    let Some(dev) = sh.cfg.devices.iter().find(|d| d.name == name) else {
        return match cmd {
            DeviceCmd::Op {
                op: DeviceOp::Mount,
                ..
            } => format!("3999 Device {name} not found or could not be opened.\n"),
            _ => format!("3999 Device \"{name}\" not found or could not be opened.\n"),
        };
    };
    match cmd {
        DeviceCmd::Label(c) | DeviceCmd::Relabel(c) => {
            if let Some(b) = busy(sh, dev) {
                return b;
            }
            label(dev, c)
        }
        DeviceCmd::Op {
            op: DeviceOp::Mount,
            ..
        } => match sh.device_state(&dev.name).and_then(|s| s.mounted_volume()) {
            Some(v) => format!(
                "3001 Device {} is mounted with Volume \"{v}\"\n",
                print_name(dev)
            ),
            None => format!("3906 File device {} is always mounted.\n", print_name(dev)),
        },
        DeviceCmd::Op {
            op: DeviceOp::Unmount,
            ..
        } => busy(sh, dev).unwrap_or_else(|| {
            format!(
                "3901 Device \"{}\" is already unmounted.\n",
                print_name(dev)
            )
        }),
        DeviceCmd::Op {
            op: DeviceOp::Release,
            ..
        } => busy(sh, dev)
            .unwrap_or_else(|| format!("3921 Device \"{}\" already released.\n", print_name(dev))),
    }
}

fn valid_volume_name(n: &str) -> bool {
    !n.is_empty() && n.len() <= 127 && !n.contains('/') && !n.starts_with('.')
}

/// The name in the volume label of `path`, if it starts with one.
fn label_name(path: &std::path::Path) -> Option<String> {
    let f = std::fs::File::open(path).ok()?;
    let rec = RecordReader::new(BufReader::new(f)).next_record().ok()??;
    if rec.label() != Some(Label::VolLabel) {
        return None;
    }
    VolumeLabel::parse(Label::VolLabel, &rec.data)
        .ok()
        .map(|l| String::from_utf8_lossy(l.volume_name).into_owned())
}

fn label(dev: &DeviceRes, c: &LabelCmd<'_>) -> String {
    let new = unbash(c.volume);
    let pool = unbash(c.pool);
    if !valid_volume_name(&new) {
        return format!(
            "3912 Failed to label Volume: ERR=\"{new}\" cannot be a file name in {} (no '/', no leading '.', at most 127 bytes)\n",
            dev.archive.display()
        );
    }
    let path = dev.archive.join(&new);
    if let Some(old) = c.old_name {
        let old = unbash(old);
        let old_path = dev.archive.join(&old);
        if !valid_volume_name(&old) || !old_path.is_file() {
            return format!(
                "3910 Unable to open device {}: ERR=volume file {} not found\n",
                print_name(dev),
                old_path.display()
            );
        }
        match label_name(&old_path) {
            Some(n) if n == old => {}
            _ => return "3921 Wrong volume mounted.\n".into(),
        }
        if old != new && path.exists() {
            return format!(
                "3920 Cannot label Volume because it is already labeled: \"{}\"\n",
                label_name(&path).unwrap_or(new)
            );
        }
        if let Err(e) = std::fs::remove_file(&old_path) {
            return format!(
                "3912 Failed to label Volume: ERR=cannot remove {}: {e}\n",
                old_path.display()
            );
        }
    } else if path.exists() {
        return match label_name(&path) {
            Some(n) => format!("3920 Cannot label Volume because it is already labeled: \"{n}\"\n"),
            None => format!(
                "3912 Failed to label Volume: ERR=file {} exists and is not a Bareos volume; remove it or choose another name\n",
                path.display()
            ),
        };
    }
    match write_label(dev, &path, &new, &pool) {
        Ok(len) => {
            let print = print_name(dev);
            let ok = LabelOk {
                vol_files: 0,
                vol_bytes: len,
                volume: new.as_bytes(),
                device: print.as_bytes(),
            };
            let mut v = vec![0u8; ok.buffer_len()];
            match ok.emit(&mut v) {
                Ok(n) => {
                    v.truncate(n);
                    String::from_utf8_lossy(&v).into_owned()
                }
                Err(e) => format!("3912 Failed to label Volume: ERR={e}\n"),
            }
        }
        Err(e) => {
            let _ = std::fs::remove_file(&path);
            format!(
                "3912 Failed to label Volume: ERR=cannot write {}: {e}\n",
                path.display()
            )
        }
    }
}

/// Write the `VOL_LABEL` of a new volume `name` into `file` (just created) and sync it;
/// returns the volume's length. `sd_id`/`sd_time` are the session of the job labelling it
/// (0/0 for the console's `label`).
pub(super) fn write_label_to(
    file: std::fs::File,
    dev: &DeviceRes,
    name: &str,
    pool: &str,
    pool_type: &str,
    sd_id: u32,
    sd_time: u32,
) -> std::io::Result<u64> {
    let host = hostname();
    let now = now_micros();
    let version = format!("Ver. {} barque", super::VERSION);
    let label = VolumeLabel {
        label_type: Label::VolLabel,
        ver_num: BAREOS_TAPE_VERSION,
        label_btime: now,
        write_btime: now,
        write_date: 0,
        write_time: 0,
        volume_name: name.as_bytes(),
        prev_volume_name: b"",
        pool_name: pool.as_bytes(),
        pool_type: pool_type.as_bytes(),
        media_type: dev.media_type.as_bytes(),
        host_name: host.as_bytes(),
        label_prog: LABEL_PROG.as_bytes(),
        prog_version: version.as_bytes(),
        prog_date: b"Build barque",
    };
    let mut w = VolumeWriter::new(file, dev.block_size, 0)?;
    w.write_volume_label(&label, 0, sd_id, sd_time)?;
    let len = w.offset();
    w.into_inner().sync_all()?;
    Ok(len)
}

/// This host's name as written into volume labels (`localhost` when unknown).
pub(super) fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

fn write_label(
    dev: &DeviceRes,
    path: &std::path::Path,
    name: &str,
    pool: &str,
) -> std::io::Result<u64> {
    let file = OpenOptions::new().create_new(true).write(true).open(path)?;
    write_label_to(file, dev, name, pool, "Backup", 0, 0)
}
