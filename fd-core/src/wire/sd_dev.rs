//! Director → Storage Daemon device commands: `label`, `relabel`, `mount`, `unmount`,
//! `release`, and the SD's `3000 OK label.` reply.
//!
//! bconsole's `label`, `relabel`, `mount`, `unmount` and `release` make the Director open a
//! short connection to the SD (hello, CRAM-MD5, `3000 OK Hello⏎`) and send one of these
//! lines; the SD answers with one or more text lines and an EOD, which the Director passes to
//! the console as they are. Formats (Bareos `core/src/dird/ua_label.cc`
//! `native_send_label_request()`, `core/src/dird/sd_cmds.cc` `changervolopcmd`,
//! `changervolopslotcmd`; scanned by `core/src/stored/dir_cmd.cc` `labelcmd`, `relabelcmd`,
//! `mountcmd`, `mountslotcmd`, `unmountcmd`, `releasecmd`):
//!
//! ```text
//! label «dev» VolumeName=«vol» PoolName=«pool» MediaType=«mt» Slot=«n» drive=«n» MinBlocksize=«n» MaxBlocksize=«n»
//! relabel «dev» OldName=«old» NewName=«new» PoolName=«pool» MediaType=«mt» Slot=«n» drive=«n» MinBlocksize=«n» MaxBlocksize=«n»
//! mount «dev» drive=«n»[ slot=«n»]⏎      (ua_label.cc sends `mount «dev» drive=«n»` without ⏎)
//! unmount «dev» drive=«n»[ slot=«n»]⏎
//! release «dev» drive=«n»[ slot=«n»]⏎
//! SD: 3000 OK label. VolFiles=«n» VolBytes=«n» Volume="«vol»" Device=«print name»⏎
//! ```
//!
//! Names are bashed (spaces as 0x01) by the sender and handed out as bytes. None of this was
//! captured; the strings are from the Bareos source. Parsing is strict: a line is accepted
//! only if emitting the parsed value gives the same bytes back.

use super::text::{Scanner, Writer};
use super::{Error, Result};

/// Which of the three device operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DeviceOp {
    /// `mount`.
    Mount,
    /// `unmount`.
    Unmount,
    /// `release`.
    Release,
}

impl DeviceOp {
    /// The command word.
    pub const fn word(self) -> &'static [u8] {
        match self {
            DeviceOp::Mount => b"mount",
            DeviceOp::Unmount => b"unmount",
            DeviceOp::Release => b"release",
        }
    }
}

/// `label`/`relabel` fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct LabelCmd<'a> {
    /// Device name (bashed).
    pub device: &'a [u8],
    /// For `relabel`: the volume's current name.
    pub old_name: Option<&'a [u8]>,
    /// The new volume name.
    pub volume: &'a [u8],
    /// Pool name.
    pub pool: &'a [u8],
    /// Media type.
    pub media_type: &'a [u8],
    /// Autochanger slot (0 for none).
    pub slot: i32,
    /// Drive number.
    pub drive: i32,
    /// Pool's Minimum Block Size (0 = device default).
    pub min_blocksize: i32,
    /// Pool's Maximum Block Size (0 = device default).
    pub max_blocksize: i32,
}

/// A device command of the Director.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DeviceCmd<'a> {
    /// `label …` (`old_name` is `None`).
    Label(LabelCmd<'a>),
    /// `relabel …` (`old_name` is `Some`).
    Relabel(LabelCmd<'a>),
    /// `mount`/`unmount`/`release «dev» drive=«n»[ slot=«n»]`.
    Op {
        /// Which operation.
        op: DeviceOp,
        /// Device name (bashed).
        device: &'a [u8],
        /// Drive number.
        drive: i32,
        /// Slot, when given.
        slot: Option<i32>,
        /// Whether the line ends with ⏎ (sd_cmds.cc) or not (ua_label.cc's mount).
        newline: bool,
    },
}

fn word<'a>(s: &mut Scanner<'a>, key: &[u8]) -> Result<&'a [u8]> {
    s.lit(b" ")?;
    s.lit(key)?;
    s.nonempty_word()
}

fn num(s: &mut Scanner<'_>, key: &[u8]) -> Result<i32> {
    s.lit(b" ")?;
    s.lit(key)?;
    s.i32()
}

fn check_word(w: &[u8]) -> Result<()> {
    if w.is_empty() || w.iter().any(|b| b.is_ascii_whitespace()) {
        Err(Error::Malformed)
    } else {
        Ok(())
    }
}

fn put_num(w: &mut Writer<'_>, key: &[u8], v: i32) {
    w.byte(b' ');
    w.bytes(key);
    w.i64(i64::from(v));
}

fn put_word(w: &mut Writer<'_>, key: &[u8], v: &[u8]) -> Result<()> {
    check_word(v)?;
    w.byte(b' ');
    w.bytes(key);
    w.bytes(v);
    Ok(())
}

impl<'a> DeviceCmd<'a> {
    /// True if `buf` starts like one of these commands (`label `, `relabel `, `mount `,
    /// `unmount `, `release `).
    pub fn is_device_cmd(buf: &[u8]) -> bool {
        [
            &b"label "[..],
            b"relabel ",
            b"mount ",
            b"unmount ",
            b"release ",
        ]
        .iter()
        .any(|p| buf.starts_with(p))
    }

    /// Parse one Director line.
    pub fn parse(buf: &'a [u8]) -> Result<Self> {
        let v = Self::scan(buf)?;
        // Strict: only the exact bytes Bareos sends.
        let mut tmp = [0u8; 1024];
        let n = v.emit(&mut tmp).map_err(|_| Error::Malformed)?;
        if tmp.get(..n) == Some(buf) {
            Ok(v)
        } else {
            Err(Error::Malformed)
        }
    }

    fn scan(buf: &'a [u8]) -> Result<Self> {
        let mut s = Scanner::new(buf);
        if s.try_lit(b"label ") || s.try_lit(b"relabel ") {
            let relabel = buf.starts_with(b"relabel ");
            let device = s.nonempty_word()?;
            let (old_name, volume) = if relabel {
                let old = word(&mut s, b"OldName=")?;
                (Some(old), word(&mut s, b"NewName=")?)
            } else {
                (None, word(&mut s, b"VolumeName=")?)
            };
            let c = LabelCmd {
                device,
                old_name,
                volume,
                pool: word(&mut s, b"PoolName=")?,
                media_type: word(&mut s, b"MediaType=")?,
                slot: num(&mut s, b"Slot=")?,
                drive: num(&mut s, b"drive=")?,
                min_blocksize: num(&mut s, b"MinBlocksize=")?,
                max_blocksize: num(&mut s, b"MaxBlocksize=")?,
            };
            return Ok(if relabel {
                DeviceCmd::Relabel(c)
            } else {
                DeviceCmd::Label(c)
            });
        }
        let op = [DeviceOp::Mount, DeviceOp::Unmount, DeviceOp::Release]
            .into_iter()
            .find(|op| {
                buf.strip_prefix(op.word())
                    .is_some_and(|r| r.first() == Some(&b' '))
            })
            .ok_or(Error::Malformed)?;
        s.lit(op.word())?;
        s.lit(b" ")?;
        let device = s.nonempty_word()?;
        let drive = num(&mut s, b"drive=")?;
        let slot = if s.rest().starts_with(b" slot=") {
            Some(num(&mut s, b"slot=")?)
        } else {
            None
        };
        let newline = s.rest() == b"\n";
        Ok(DeviceCmd::Op {
            op,
            device,
            drive,
            slot,
            newline,
        })
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<()> {
        match self {
            DeviceCmd::Label(c) | DeviceCmd::Relabel(c) => {
                check_word(c.device)?;
                match (self, c.old_name) {
                    (DeviceCmd::Relabel(_), Some(old)) => {
                        w.bytes(b"relabel ");
                        w.bytes(c.device);
                        put_word(w, b"OldName=", old)?;
                        put_word(w, b"NewName=", c.volume)?;
                    }
                    (DeviceCmd::Label(_), None) => {
                        w.bytes(b"label ");
                        w.bytes(c.device);
                        put_word(w, b"VolumeName=", c.volume)?;
                    }
                    _ => return Err(Error::Malformed),
                }
                put_word(w, b"PoolName=", c.pool)?;
                put_word(w, b"MediaType=", c.media_type)?;
                put_num(w, b"Slot=", c.slot);
                put_num(w, b"drive=", c.drive);
                put_num(w, b"MinBlocksize=", c.min_blocksize);
                put_num(w, b"MaxBlocksize=", c.max_blocksize);
            }
            DeviceCmd::Op {
                op,
                device,
                drive,
                slot,
                newline,
            } => {
                check_word(device)?;
                w.bytes(op.word());
                w.byte(b' ');
                w.bytes(device);
                put_num(w, b"drive=", *drive);
                if let Some(slot) = slot {
                    put_num(w, b"slot=", *slot);
                }
                if *newline {
                    w.byte(b'\n');
                }
            }
        }
        Ok(())
    }
}

codec_impl!(DeviceCmd<'_>);

/// The SD's success reply to `label`/`relabel`:
/// `3000 OK label. VolFiles=«n» VolBytes=«n» Volume="«vol»" Device=«print name»⏎`, where the
/// print name is `"«device»" («archive»)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct LabelOk<'a> {
    /// VolFiles (0 on a File device).
    pub vol_files: u32,
    /// VolBytes after the label.
    pub vol_bytes: u64,
    /// The volume labelled.
    pub volume: &'a [u8],
    /// The device's print name.
    pub device: &'a [u8],
}

impl<'a> LabelOk<'a> {
    /// Parse the reply.
    pub fn parse(buf: &'a [u8]) -> Result<Self> {
        let mut s = Scanner::new(buf);
        s.lit(b"3000 OK label. VolFiles=")?;
        let vol_files = s.u32()?;
        s.lit(b" VolBytes=")?;
        let vol_bytes = s.u64()?;
        s.lit(b" Volume=\"")?;
        let volume = s.until(b'"')?;
        s.lit(b" Device=")?;
        let device = s.until(b'\n')?;
        if !s.is_at_end() {
            return Err(Error::Malformed);
        }
        Ok(LabelOk {
            vol_files,
            vol_bytes,
            volume,
            device,
        })
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<()> {
        if self.volume.contains(&b'"') || self.device.contains(&b'\n') {
            return Err(Error::Malformed);
        }
        w.bytes(b"3000 OK label. VolFiles=");
        w.u64(u64::from(self.vol_files));
        w.bytes(b" VolBytes=");
        w.u64(self.vol_bytes);
        w.bytes(b" Volume=\"");
        w.bytes(self.volume);
        w.bytes(b"\" Device=");
        w.bytes(self.device);
        w.byte(b'\n');
        Ok(())
    }
}

codec_impl!(LabelOk<'_>);

/// Director → reading SD: `replicate JobId=«id» Job=«job» address=«host» port=«n» ssl=«n»
/// Authorization=«key»⏎` (`core/src/dird/migrate.cc`, scanned by `core/src/stored/dir_cmd.cc`
/// `replicatecmd`): connect to the writing SD at «host»:«port» as job «job» (the writing
/// SD's job) with the session key «key» that SD handed out; `ssl=4` means TLS-PSK first.
/// The SD answers `3000 OK replicate⏎` once connected and authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Replicate<'a> {
    /// JobId of the writing job.
    pub job_id: u32,
    /// Full Job name of the writing SD's job.
    pub job: &'a [u8],
    /// Address of the writing SD.
    pub address: &'a [u8],
    /// Its port.
    pub port: u32,
    /// TLS policy (0 none, 4 TLS-PSK first).
    pub ssl: u32,
    /// The writing SD's session key.
    pub authorization: &'a [u8],
}

impl<'a> Replicate<'a> {
    /// Parse the command (strict).
    pub fn parse(buf: &'a [u8]) -> Result<Self> {
        let mut s = Scanner::new(buf);
        s.lit(b"replicate JobId=")?;
        let job_id = s.u32()?;
        let job = word(&mut s, b"Job=")?;
        let address = word(&mut s, b"address=")?;
        s.lit(b" port=")?;
        let port = s.u32()?;
        s.lit(b" ssl=")?;
        let ssl = s.u32()?;
        let authorization = word(&mut s, b"Authorization=")?;
        let v = Replicate {
            job_id,
            job,
            address,
            port,
            ssl,
            authorization,
        };
        let mut tmp = [0u8; 1024];
        let n = v.emit(&mut tmp).map_err(|_| Error::Malformed)?;
        if tmp.get(..n) == Some(buf) {
            Ok(v)
        } else {
            Err(Error::Malformed)
        }
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<()> {
        w.bytes(b"replicate JobId=");
        w.u64(u64::from(self.job_id));
        put_word(w, b"Job=", self.job)?;
        put_word(w, b"address=", self.address)?;
        w.bytes(b" port=");
        w.u64(u64::from(self.port));
        w.bytes(b" ssl=");
        w.u64(u64::from(self.ssl));
        put_word(w, b"Authorization=", self.authorization)?;
        w.byte(b'\n');
        Ok(())
    }
}

codec_impl!(Replicate<'_>);

/// The reading SD's answer to [`Replicate`] once connected: `3000 OK replicate⏎`.
pub const REPLICATE_OK: &[u8] = b"3000 OK replicate\n";
/// The SD → SD session (`core/src/stored/mac.cc` `DoMacRun()` on the reading SD,
/// `core/src/stored/sd_cmds.cc` on the writing SD). Between `replicate data` and the closing
/// EOD, EOD, the records go exactly as an FD's backup data (`«FileIndex» «Stream» 0` header,
/// data messages, EOD), and the writing SD answers as to an FD.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Replication {
    /// `start replicate⏎` → `3000 OK start replicate ticket = «VolSessionId»⏎`.
    Start,
    /// `replicate data «ticket»⏎` → `3000 OK data⏎` … `3000 OK replicate data⏎` (or
    /// `3903 Error replicate data⏎`).
    Data(u32),
    /// `end replicate⏎` → `3000 OK end replicate⏎`.
    End,
}

impl Replication {
    /// Parse a reading SD's command; `None` for anything else.
    pub fn parse(buf: &[u8]) -> Option<Self> {
        match buf {
            b"start replicate\n" => Some(Replication::Start),
            b"end replicate\n" => Some(Replication::End),
            _ => {
                let rest = buf.strip_prefix(b"replicate data ")?;
                let digits = rest.strip_suffix(b"\n")?;
                if digits.is_empty() || digits.len() > 10 || !digits.iter().all(u8::is_ascii_digit)
                {
                    return None;
                }
                let mut s = Scanner::new(digits);
                s.u32().ok().map(Replication::Data)
            }
        }
    }
}

/// `3000 OK start replicate ticket = «n»⏎`'s prefix.
pub const START_REPLICATE_OK: &[u8] = b"3000 OK start replicate ticket = ";
/// `3000 OK replicate data⏎`.
pub const REPLICATE_DATA_OK: &[u8] = b"3000 OK replicate data\n";
/// `3903 Error replicate data⏎`.
pub const REPLICATE_DATA_ERROR: &[u8] = b"3903 Error replicate data\n";
/// `3000 OK end replicate⏎`.
pub const END_REPLICATE_OK: &[u8] = b"3000 OK end replicate\n";

#[cfg(test)]
mod tests {
    use super::*;

    fn round(line: &[u8]) -> DeviceCmd<'_> {
        let c = DeviceCmd::parse(line).unwrap();
        let mut b = [0u8; 512];
        let n = c.emit(&mut b).unwrap();
        assert_eq!(&b[..n], line);
        assert_eq!(c.buffer_len(), n);
        c
    }

    #[test]
    fn test_label_relabel_mount_round_trip() {
        let c = round(b"label FileStorage VolumeName=Vol-0001 PoolName=Full MediaType=File Slot=0 drive=0 MinBlocksize=0 MaxBlocksize=0");
        let DeviceCmd::Label(l) = c else { panic!() };
        assert_eq!(
            (l.volume, l.pool, l.old_name),
            (&b"Vol-0001"[..], &b"Full"[..], None)
        );
        let c = round(b"relabel FileStorage OldName=A NewName=B PoolName=Full MediaType=File Slot=0 drive=0 MinBlocksize=0 MaxBlocksize=0");
        assert!(matches!(
            c,
            DeviceCmd::Relabel(LabelCmd {
                old_name: Some(b"A"),
                ..
            })
        ));
        let c = round(b"mount FileStorage drive=0\n");
        assert!(matches!(
            c,
            DeviceCmd::Op {
                op: DeviceOp::Mount,
                slot: None,
                newline: true,
                ..
            }
        ));
        round(b"mount FileStorage drive=0");
        round(b"unmount File\x01Storage drive=0 slot=3\n");
        round(b"release FileStorage drive=-1\n");
    }

    #[test]
    fn test_malformed_lines_are_errors() {
        for bad in [
            &b"label FileStorage VolumeName=V"[..],
            b"mount",
            b"mount  FileStorage drive=0\n",
            b"mount FileStorage drive=x\n",
            b"mount FileStorage drive=0 junk\n",
            b"label FileStorage VolumeName=V PoolName=P MediaType=F Slot=0 drive=0 MinBlocksize=0 MaxBlocksize=0\n",
            b"remount FileStorage drive=0\n",
        ] {
            assert!(DeviceCmd::parse(bad).is_err(), "{:?}", bad);
        }
    }

    #[test]
    fn test_replicate_and_session_commands() {
        let line = b"replicate JobId=7 Job=Copy.2026-11-22_20.00.00_09 address=127.0.0.1 port=9103 ssl=0 Authorization=ABCD-EFGH\n";
        let r = Replicate::parse(line).unwrap();
        assert_eq!((r.job_id, r.port, r.ssl), (7, 9103, 0));
        assert_eq!(r.authorization, b"ABCD-EFGH");
        let mut b = [0u8; 256];
        let n = r.emit(&mut b).unwrap();
        assert_eq!(&b[..n], line);
        assert!(Replicate::parse(b"replicate JobId=7 Job=X address=h port=1 ssl=0\n").is_err());
        assert_eq!(
            Replication::parse(b"start replicate\n"),
            Some(Replication::Start)
        );
        assert_eq!(
            Replication::parse(b"replicate data 12\n"),
            Some(Replication::Data(12))
        );
        assert_eq!(
            Replication::parse(b"end replicate\n"),
            Some(Replication::End)
        );
        assert_eq!(Replication::parse(b"replicate data x\n"), None);
        assert_eq!(Replication::parse(b"append open session\n"), None);
    }

    #[test]
    fn test_label_ok_round_trip() {
        let line = b"3000 OK label. VolFiles=0 VolBytes=203 Volume=\"Vol-0001\" Device=\"FileStorage\" (/var/lib/bareos/storage)\n";
        let l = LabelOk::parse(line).unwrap();
        assert_eq!((l.vol_bytes, l.volume), (203, &b"Vol-0001"[..]));
        let mut b = [0u8; 256];
        let n = l.emit(&mut b).unwrap();
        assert_eq!(&b[..n], line);
        assert!(LabelOk::parse(b"3000 OK label. VolFiles=0 VolBytes=x").is_err());
    }
}
