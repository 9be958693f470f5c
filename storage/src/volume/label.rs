//! Volume and session labels: the payloads of records with FileIndex -1/-2 and -4/-5.
//!
//! # Volume label (`core/src/stored/label.cc` `CreateVolumeLabelRecord()`, `UnserVolumeLabel()`)
//!
//! The first record of a volume, alone in its block, FileIndex -2 (VOL_LABEL; -1 PRE_LABEL for
//! a volume labelled but never written). Serialized with `core/src/lib/serial.h`: integers
//! big-endian, strings NUL-terminated with no fixed width:
//!
//! ```text
//! Id "Bareos 2.0 immortal\n"\0, u32 VerNum (20), u64 label_btime, u64 write_btime (µs since
//! the epoch), f64 write_date, f64 write_time (both 0.0 since VerNum 11), VolumeName,
//! PrevVolumeName, PoolName, PoolType, MediaType, HostName, LabelProg, ProgVersion, ProgDate
//! ```
//!
//! `vectors/volume-full` offset 36: 167 bytes = 57 fixed + the strings `Cap-0001`, ``, `Cap`,
//! `Backup`, `File`, `vm`, `bareos-sd`, `Ver. 26.0.0~pre1298.eda204c31 21 August 2026`,
//! `Build 2026-08-21 04:54:06` with their NULs. The reader (`ReadDevVolumeLabel()`) insists on
//! the exact Id and VerNum 20; [`VolumeLabel::parse`] requires the Id and VerNum ≥ 11 (the
//! layout of older versions differs) and leaves the VerNum policy to the caller.
//!
//! # Session labels (`CreateSessionLabel()`, `UnserSessionLabel()`)
//!
//! SOS (FileIndex -4) starts and EOS (-5) ends a job's records; the record's stream is the
//! JobId. Payload:
//!
//! ```text
//! Id\0, u32 VerNum, u32 JobId, u64 write_btime, f64 0.0, PoolName, PoolType, JobName,
//! ClientName, Job, FileSetName, u32 JobType, u32 JobLevel, FileSetMD5
//! EOS adds: u32 JobFiles, u64 JobBytes, u32 StartBlock, u32 EndBlock, u32 StartFile,
//!           u32 EndFile, u32 JobErrors, u32 JobStatus
//! ```
//!
//! JobType/JobLevel/JobStatus are the one-letter codes (`B`, `F`, `T`) as u32. The EOS
//! Start/EndBlock are whatever the device position was when the label was built (0/202 and
//! 203/3,145,930 in the two captured volumes), not the job's JobMedia addresses; readers must
//! not rely on them.
//!
//! Strings are borrowed byte slices: Bareos copies them into fixed 128-byte arrays, but a
//! reader has no reason to reject a longer name, and a writer here refuses nothing but NULs.

use fd_core::wire::codes::{JobLevel, JobStatus, JobType};
use fd_core::wire::stream::Label;
use fd_core::wire::text::Writer;
use fd_core::wire::{Error, Result};

/// The label Id every Bareos volume and session label starts with (`BareosId`), without its NUL.
pub const BAREOS_ID: &[u8] = b"Bareos 2.0 immortal\n";
/// The label version Bareos writes and requires (`BareosTapeVersion`).
pub const BAREOS_TAPE_VERSION: u32 = 20;
/// Length of the fixed fields of a volume label (Id with NUL, VerNum, 2 btimes, 2 doubles).
pub const VOLUME_LABEL_FIXED_LEN: usize = 21 + 4 + 8 + 8 + 8 + 8;

/// A cursor over a serialized label.
struct Unser<'a> {
    rest: &'a [u8],
}

impl<'a> Unser<'a> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N]> {
        let (h, rest) = self.rest.split_first_chunk::<N>().ok_or(Error::Truncated)?;
        self.rest = rest;
        Ok(*h)
    }

    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_be_bytes(self.take::<4>()?))
    }

    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_be_bytes(self.take::<8>()?))
    }

    fn string(&mut self) -> Result<&'a [u8]> {
        let n = self
            .rest
            .iter()
            .position(|&b| b == 0)
            .ok_or(Error::Truncated)?;
        let s = self.rest.get(..n).ok_or(Error::Truncated)?;
        self.rest = self.rest.get(n + 1..).unwrap_or(&[]);
        Ok(s)
    }

    fn end(&self) -> Result<()> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(Error::Malformed)
        }
    }
}

fn ser_string(w: &mut Writer<'_>, s: &[u8]) -> Result<()> {
    if s.contains(&0) {
        return Err(Error::Malformed);
    }
    w.bytes(s);
    w.byte(0);
    Ok(())
}

/// The volume label record payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VolumeLabel<'a> {
    /// VOL_LABEL (-2) or PRE_LABEL (-1): the FileIndex of the record (not in the payload).
    pub label_type: Label,
    /// Label version, 20.
    pub ver_num: u32,
    /// When the volume was labelled, µs since the epoch.
    pub label_btime: u64,
    /// When the label record was written, µs since the epoch.
    pub write_btime: u64,
    /// Bits of the obsolete f64 write_date (0).
    pub write_date: u64,
    /// Bits of the obsolete f64 write_time (0).
    pub write_time: u64,
    /// Volume name.
    pub volume_name: &'a [u8],
    /// Previous volume name (empty).
    pub prev_volume_name: &'a [u8],
    /// Pool name.
    pub pool_name: &'a [u8],
    /// Pool type (`Backup`).
    pub pool_type: &'a [u8],
    /// Media type of the device.
    pub media_type: &'a [u8],
    /// Host name of the SD.
    pub host_name: &'a [u8],
    /// Program that wrote the label (`bareos-sd`).
    pub label_prog: &'a [u8],
    /// `Ver. «version» «date»`.
    pub prog_version: &'a [u8],
    /// `Build «date time»`.
    pub prog_date: &'a [u8],
}

impl<'a> VolumeLabel<'a> {
    /// Parse the payload of a record whose FileIndex gave `label_type`. Only VOL_LABEL and
    /// PRE_LABEL are volume labels ([`Error::Unrecognized`] otherwise, and for a wrong Id);
    /// a VerNum below 11 (Bacula 1.x layout) is [`Error::Unrecognized`].
    pub fn parse(label_type: Label, buf: &'a [u8]) -> Result<Self> {
        if !matches!(label_type, Label::VolLabel | Label::PreLabel) {
            return Err(Error::Unrecognized);
        }
        let mut u = Unser { rest: buf };
        if u.string()? != BAREOS_ID {
            return Err(Error::Unrecognized);
        }
        let ver_num = u.u32()?;
        if ver_num < 11 {
            return Err(Error::Unrecognized);
        }
        let r = Self {
            label_type,
            ver_num,
            label_btime: u.u64()?,
            write_btime: u.u64()?,
            write_date: u.u64()?,
            write_time: u.u64()?,
            volume_name: u.string()?,
            prev_volume_name: u.string()?,
            pool_name: u.string()?,
            pool_type: u.string()?,
            media_type: u.string()?,
            host_name: u.string()?,
            label_prog: u.string()?,
            prog_version: u.string()?,
            prog_date: u.string()?,
        };
        u.end()?;
        Ok(r)
    }

    /// Write the payload; returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let mut w = Writer::new(buf);
        self.write(&mut w)?;
        w.finish()
    }

    /// Bytes [`VolumeLabel::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        let mut w = Writer::counting();
        let _ = self.write(&mut w);
        w.len()
    }

    /// The payload as a new vector.
    pub fn to_vec(&self) -> Result<Vec<u8>> {
        let mut v = vec![0u8; self.buffer_len()];
        let n = self.emit(&mut v)?;
        v.truncate(n);
        Ok(v)
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<()> {
        ser_string(w, BAREOS_ID)?;
        w.bytes(&self.ver_num.to_be_bytes());
        w.bytes(&self.label_btime.to_be_bytes());
        w.bytes(&self.write_btime.to_be_bytes());
        w.bytes(&self.write_date.to_be_bytes());
        w.bytes(&self.write_time.to_be_bytes());
        for s in [
            self.volume_name,
            self.prev_volume_name,
            self.pool_name,
            self.pool_type,
            self.media_type,
            self.host_name,
            self.label_prog,
            self.prog_version,
            self.prog_date,
        ] {
            ser_string(w, s)?;
        }
        Ok(())
    }
}

/// The trailer only an EOS label has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct EosTrailer {
    /// Files written.
    pub job_files: u32,
    /// Bytes of file records written (labels excluded).
    pub job_bytes: u64,
    /// Device block position when the label was built.
    pub start_block: u32,
    /// Device block position when the label was built.
    pub end_block: u32,
    /// Device file position.
    pub start_file: u32,
    /// Device file position.
    pub end_file: u32,
    /// Errors.
    pub job_errors: u32,
    /// Job status letter as u32 (`T` = 84).
    pub job_status: u32,
}

/// An SOS or EOS label payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionLabel<'a> {
    /// Label version, 20.
    pub ver_num: u32,
    /// JobId (also the record's stream).
    pub job_id: u32,
    /// When the label was written, µs since the epoch.
    pub write_btime: u64,
    /// Bits of the obsolete f64 write_time (0).
    pub write_time: u64,
    /// Pool name.
    pub pool_name: &'a [u8],
    /// Pool type.
    pub pool_type: &'a [u8],
    /// Job resource name.
    pub job_name: &'a [u8],
    /// Client name.
    pub client_name: &'a [u8],
    /// Unique job name.
    pub job: &'a [u8],
    /// FileSet name.
    pub fileset_name: &'a [u8],
    /// Job type letter as u32 (`B` = 66).
    pub job_type: u32,
    /// Job level letter as u32 (`F` = 70).
    pub job_level: u32,
    /// FileSet MD5 (Bareos base64).
    pub fileset_md5: &'a [u8],
    /// `Some` for an EOS label.
    pub eos: Option<EosTrailer>,
}

impl<'a> SessionLabel<'a> {
    /// Parse an SOS (`label` = [`Label::SosLabel`]) or EOS payload. Other labels are
    /// [`Error::Unrecognized`]; a VerNum below 11 too (older layouts).
    pub fn parse(label: Label, buf: &'a [u8]) -> Result<Self> {
        let is_eos = match label {
            Label::SosLabel => false,
            Label::EosLabel => true,
            _ => return Err(Error::Unrecognized),
        };
        let mut u = Unser { rest: buf };
        // Bareos does not check the Id of a session label; keep the same tolerance for the
        // text but require the NUL.
        let _id = u.string()?;
        let ver_num = u.u32()?;
        if ver_num < 11 {
            return Err(Error::Unrecognized);
        }
        let job_id = u.u32()?;
        let write_btime = u.u64()?;
        let write_time = u.u64()?;
        let pool_name = u.string()?;
        let pool_type = u.string()?;
        let job_name = u.string()?;
        let client_name = u.string()?;
        let job = u.string()?;
        let fileset_name = u.string()?;
        let job_type = u.u32()?;
        let job_level = u.u32()?;
        let fileset_md5 = u.string()?;
        let eos = if is_eos {
            Some(EosTrailer {
                job_files: u.u32()?,
                job_bytes: u.u64()?,
                start_block: u.u32()?,
                end_block: u.u32()?,
                start_file: u.u32()?,
                end_file: u.u32()?,
                job_errors: u.u32()?,
                job_status: u.u32()?,
            })
        } else {
            None
        };
        u.end()?;
        Ok(Self {
            ver_num,
            job_id,
            write_btime,
            write_time,
            pool_name,
            pool_type,
            job_name,
            client_name,
            job,
            fileset_name,
            job_type,
            job_level,
            fileset_md5,
            eos,
        })
    }

    /// SOS or EOS, from whether the trailer is present.
    pub const fn label(&self) -> Label {
        if self.eos.is_some() {
            Label::EosLabel
        } else {
            Label::SosLabel
        }
    }

    /// The job type code, if it is one letter.
    pub fn job_type_code(&self) -> Option<JobType> {
        u8::try_from(self.job_type).ok().map(JobType::from_u8)
    }

    /// The job level code, if it is one letter.
    pub fn job_level_code(&self) -> Option<JobLevel> {
        u8::try_from(self.job_level).ok().map(JobLevel::from_u8)
    }

    /// The EOS job status code.
    pub fn job_status_code(&self) -> Option<JobStatus> {
        self.eos
            .and_then(|e| u8::try_from(e.job_status).ok())
            .map(JobStatus::from_u8)
    }

    /// Write the payload; returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let mut w = Writer::new(buf);
        self.write(&mut w)?;
        w.finish()
    }

    /// Bytes [`SessionLabel::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        let mut w = Writer::counting();
        let _ = self.write(&mut w);
        w.len()
    }

    /// The payload as a new vector.
    pub fn to_vec(&self) -> Result<Vec<u8>> {
        let mut v = vec![0u8; self.buffer_len()];
        let n = self.emit(&mut v)?;
        v.truncate(n);
        Ok(v)
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<()> {
        ser_string(w, BAREOS_ID)?;
        w.bytes(&self.ver_num.to_be_bytes());
        w.bytes(&self.job_id.to_be_bytes());
        w.bytes(&self.write_btime.to_be_bytes());
        w.bytes(&self.write_time.to_be_bytes());
        for s in [
            self.pool_name,
            self.pool_type,
            self.job_name,
            self.client_name,
            self.job,
            self.fileset_name,
        ] {
            ser_string(w, s)?;
        }
        w.bytes(&self.job_type.to_be_bytes());
        w.bytes(&self.job_level.to_be_bytes());
        ser_string(w, self.fileset_md5)?;
        if let Some(e) = &self.eos {
            w.bytes(&e.job_files.to_be_bytes());
            w.bytes(&e.job_bytes.to_be_bytes());
            for v in [
                e.start_block,
                e.end_block,
                e.start_file,
                e.end_file,
                e.job_errors,
                e.job_status,
            ] {
                w.bytes(&v.to_be_bytes());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::volume::testdata;

    fn vol_payload(v: &[u8]) -> &[u8] {
        // vectors/volume-full Cap-0001 offsets 36..203: the VOL_LABEL payload (167 bytes).
        &v[36..203]
    }

    #[test]
    fn test_parse_volume_label() {
        let v = testdata::volume_full();
        let l = VolumeLabel::parse(Label::VolLabel, vol_payload(&v)).unwrap();
        assert_eq!(l.ver_num, 20);
        assert_eq!(l.label_btime, 1_795_362_414_723_468);
        assert!(l.write_btime >= l.label_btime);
        assert_eq!((l.write_date, l.write_time), (0, 0));
        assert_eq!(l.volume_name, b"Cap-0001");
        assert_eq!(l.prev_volume_name, b"");
        assert_eq!(l.pool_name, b"Cap");
        assert_eq!(l.pool_type, b"Backup");
        assert_eq!(l.media_type, b"File");
        assert_eq!(l.host_name, b"vm");
        assert_eq!(l.label_prog, b"bareos-sd");
        assert_eq!(
            l.prog_version,
            b"Ver. 26.0.0~pre1298.eda204c31 21 August 2026"
        );
        assert_eq!(l.prog_date, b"Build 2026-08-21 04:54:06");
        assert_eq!(l.buffer_len(), 167);
        assert_eq!(l.to_vec().unwrap(), vol_payload(&v));
    }

    #[test]
    fn test_parse_session_labels() {
        let v = testdata::volume_full();
        // SOS at offset 227 (header) → payload 239..386; EOS header at 1592 → payload 1604..1787.
        let sos = SessionLabel::parse(Label::SosLabel, &v[239..386]).unwrap();
        assert_eq!(sos.job_id, 1);
        assert_eq!(sos.ver_num, 20);
        assert_eq!(sos.pool_name, b"Cap");
        assert_eq!(sos.pool_type, b"Backup");
        assert_eq!(sos.job_name, b"CapBackup");
        assert_eq!(sos.client_name, b"bareos-fd");
        assert_eq!(sos.job, b"CapBackup.2026-11-22_15.46.52_03");
        assert_eq!(sos.fileset_name, b"CapSet");
        assert_eq!((sos.job_type, sos.job_level), (66, 70));
        assert_eq!(sos.job_type_code(), Some(JobType::Backup));
        assert_eq!(sos.fileset_md5, b"y1xbU8+FNRFC/6/HUl9MRB");
        assert_eq!(sos.eos, None);
        assert_eq!(sos.label(), Label::SosLabel);
        assert_eq!(sos.to_vec().unwrap(), &v[239..386]);

        let eos = SessionLabel::parse(Label::EosLabel, &v[1604..1787]).unwrap();
        assert_eq!(
            eos.eos,
            Some(EosTrailer {
                job_files: 6,
                job_bytes: 1062,
                start_block: 0,
                end_block: 202,
                start_file: 0,
                end_file: 0,
                job_errors: 0,
                job_status: 84,
            })
        );
        assert_eq!(eos.job_status_code(), Some(JobStatus::Terminated));
        assert_eq!(eos.buffer_len(), 183);
        assert_eq!(eos.to_vec().unwrap(), &v[1604..1787]);
    }

    #[test]
    fn test_truncated() {
        let v = testdata::volume_full();
        let p = vol_payload(&v);
        for n in 0..p.len() {
            assert!(VolumeLabel::parse(Label::VolLabel, &p[..n]).is_err(), "{n}");
        }
        let s = &v[1604..1787];
        for n in 0..s.len() {
            assert!(
                SessionLabel::parse(Label::EosLabel, &s[..n]).is_err(),
                "{n}"
            );
        }
        // An SOS payload read as EOS lacks the trailer.
        assert_eq!(
            SessionLabel::parse(Label::EosLabel, &v[239..386]),
            Err(Error::Truncated)
        );
    }

    #[test]
    fn test_impossible_values() {
        let v = testdata::volume_full();
        let mut p = vol_payload(&v).to_vec();
        p[7] = b'I'; // "Bareos 2.0 Immortal": the DeveloperGuide's spelling is wrong.
        assert_eq!(
            VolumeLabel::parse(Label::VolLabel, &p),
            Err(Error::Unrecognized)
        );
        let mut p = vol_payload(&v).to_vec();
        p[21..25].copy_from_slice(&10u32.to_be_bytes());
        assert_eq!(
            VolumeLabel::parse(Label::VolLabel, &p),
            Err(Error::Unrecognized)
        );
        assert_eq!(
            VolumeLabel::parse(Label::SosLabel, vol_payload(&v)),
            Err(Error::Unrecognized)
        );
        let mut p = vol_payload(&v).to_vec();
        p.push(0);
        assert_eq!(
            VolumeLabel::parse(Label::VolLabel, &p),
            Err(Error::Malformed)
        );
        let mut l = VolumeLabel::parse(Label::VolLabel, vol_payload(&v)).unwrap();
        l.host_name = b"a\0b";
        assert_eq!(l.to_vec(), Err(Error::Malformed));
        let mut small = [0u8; 10];
        let l = VolumeLabel::parse(Label::VolLabel, vol_payload(&v)).unwrap();
        assert_eq!(l.emit(&mut small), Err(Error::BufferTooSmall));
    }

    fn name() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        proptest::collection::vec(1u8..=255, 0..40)
    }

    proptest::proptest! {
        #[test]
        fn prop_volume_label_roundtrip(
            btimes: (u64, u64),
            names in proptest::collection::vec(name(), 9),
        ) {
            let l = VolumeLabel {
                label_type: Label::VolLabel,
                ver_num: 20,
                label_btime: btimes.0,
                write_btime: btimes.1,
                write_date: 0,
                write_time: 0,
                volume_name: &names[0],
                prev_volume_name: &names[1],
                pool_name: &names[2],
                pool_type: &names[3],
                media_type: &names[4],
                host_name: &names[5],
                label_prog: &names[6],
                prog_version: &names[7],
                prog_date: &names[8],
            };
            let bytes = l.to_vec().unwrap();
            proptest::prop_assert_eq!(bytes.len(), 57 + names.iter().map(|n| n.len() + 1).sum::<usize>());
            proptest::prop_assert_eq!(VolumeLabel::parse(Label::VolLabel, &bytes), Ok(l));
        }

        #[test]
        fn prop_session_label_roundtrip(
            job_id: u32,
            btime: u64,
            names in proptest::collection::vec(name(), 7),
            eos: Option<(u32, u64, u32, u32, u32)>,
        ) {
            let l = SessionLabel {
                ver_num: 20,
                job_id,
                write_btime: btime,
                write_time: 0,
                pool_name: &names[0],
                pool_type: &names[1],
                job_name: &names[2],
                client_name: &names[3],
                job: &names[4],
                fileset_name: &names[5],
                job_type: 66,
                job_level: 70,
                fileset_md5: &names[6],
                eos: eos.map(|(f, b, s, e, st)| EosTrailer {
                    job_files: f, job_bytes: b, start_block: s, end_block: e,
                    start_file: 0, end_file: 0, job_errors: 0, job_status: st,
                }),
            };
            let bytes = l.to_vec().unwrap();
            proptest::prop_assert_eq!(SessionLabel::parse(l.label(), &bytes), Ok(l));
        }

        #[test]
        fn prop_labels_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let _ = VolumeLabel::parse(Label::VolLabel, &bytes);
            let _ = SessionLabel::parse(Label::EosLabel, &bytes);
        }
    }
}
