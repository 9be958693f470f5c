//! Job status, job type, job level and message type codes.
//!
//! Bareos keeps these as single ASCII characters in its job control record
//! (`core/src/include/job_status.h`, `job_types.h`, `job_level.h`) and puts them on the wire in
//! two ways:
//!
//! - as the *decimal value of the character*: `2800 End Job TermCode=84` (84 = `'T'`), the SD's
//!   `Status Job=… JobStatus=70` (70 = `'F'`) and `3000 OK close Status = 84`, and `type=66
//!   level=70` in the Director's job command to the SD (`../shared/protocol/jobs.md` §0.4);
//! - as the *character itself*: `.status current` answers `JobStatus=T`, the catalog stores
//!   `Level` as `F`, `I`, `D`.
//!
//! Each code is therefore an enum with `from_u8`/`to_u8` (the character) and an
//! `Unknown(u8)` arm, so that a letter this build does not know (a future Bareos, a corrupt
//! peer) is carried along instead of being rejected: the caller decides what to do with it
//! (house style point 5). Message types (`type=` in a `Jmsg`) are small integers instead
//! (`core/src/lib/message_severity.h`) and get the same treatment in [`MessageType`].
//!
//! Status priority follows `core/src/lib/jcr.cc` `GetStatusPriority()`: once a job is
//! canceled or failed, a later "terminated OK" must not overwrite it; [`JobStatus::priority`]
//! and [`JobStatus::should_replace`] encode that rule for the FD's job state machine.

macro_rules! char_code {
    (
        $(#[$attr:meta])*
        pub enum $name:ident {
            $( $(#[$vattr:meta])* $variant:ident = $value:expr ),+ $(,)?
        }
    ) => {
        $(#[$attr])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[cfg_attr(feature = "defmt", derive(defmt::Format))]
        pub enum $name {
            $( $(#[$vattr])* $variant, )+
            /// A code this build does not know; the raw byte is kept.
            Unknown(u8),
        }

        impl $name {
            /// Decode a raw code; unknown values land in `Unknown`.
            pub const fn from_u8(v: u8) -> Self {
                match v {
                    $( $value => $name::$variant, )+
                    other => $name::Unknown(other),
                }
            }

            /// The raw code as sent on the wire.
            pub const fn to_u8(self) -> u8 {
                match self {
                    $( $name::$variant => $value, )+
                    $name::Unknown(v) => v,
                }
            }
        }

        impl From<u8> for $name {
            fn from(v: u8) -> Self {
                Self::from_u8(v)
            }
        }

        impl From<$name> for u8 {
            fn from(v: $name) -> u8 {
                v.to_u8()
            }
        }
    };
}

char_code! {
    /// Job status letter (`core/src/include/job_status.h`). `TermCode=`/`JobStatus=` carry
    /// the character's decimal value, `.status` the character itself.
    pub enum JobStatus {
        /// `A` (65): canceled by the user.
        Canceled = b'A',
        /// `B` (66): blocked.
        Blocked = b'B',
        /// `C` (67): created, not yet running.
        Created = b'C',
        /// `D` (68): verify found differences.
        Differences = b'D',
        /// `E` (69): terminated in error.
        ErrorTerminated = b'E',
        /// `F` (70): waiting on the File daemon.
        WaitFd = b'F',
        /// `I` (73): incomplete.
        Incomplete = b'I',
        /// `L` (76): committing data (last despool).
        DataCommitting = b'L',
        /// `M` (77): waiting for a mount.
        WaitMount = b'M',
        /// `R` (82): running.
        Running = b'R',
        /// `S` (83): waiting on the Storage daemon.
        WaitSd = b'S',
        /// `T` (84): terminated normally.
        Terminated = b'T',
        /// `W` (87): terminated normally with warnings.
        Warnings = b'W',
        /// `a` (97): SD despooling attributes.
        AttrDespooling = b'a',
        /// `c` (99): waiting for a Client resource.
        WaitClientRes = b'c',
        /// `d` (100): waiting for maximum jobs.
        WaitMaxJobs = b'd',
        /// `e` (101): non-fatal error.
        Error = b'e',
        /// `f` (102): fatal error.
        FatalError = b'f',
        /// `i` (105): batch-inserting file records.
        AttrInserting = b'i',
        /// `j` (106): waiting for a Job resource.
        WaitJobRes = b'j',
        /// `l` (108): data despooling.
        DataDespooling = b'l',
        /// `m` (109): waiting for new media.
        WaitMedia = b'm',
        /// `p` (112): waiting for higher-priority jobs.
        WaitPriority = b'p',
        /// `q` (113): queued waiting for a device.
        WaitDevice = b'q',
        /// `s` (115): waiting for a Storage resource.
        WaitStoreRes = b's',
        /// `t` (116): waiting for the start time.
        WaitStartTime = b't',
    }
}

impl JobStatus {
    /// The priority of `core/src/lib/jcr.cc` `GetStatusPriority()`: `I` 10; `E`, `f`, `A` 9;
    /// `e` 8; `D` 7; everything else 0.
    pub const fn priority(self) -> u8 {
        match self {
            JobStatus::Incomplete => 10,
            JobStatus::ErrorTerminated | JobStatus::FatalError | JobStatus::Canceled => 9,
            JobStatus::Error => 8,
            JobStatus::Differences => 7,
            _ => 0,
        }
    }

    /// Whether setting `new` on a job whose status is `self` takes effect
    /// (`setJobStatusWithPriorityCheck()`): only a higher priority wins, or both are 0.
    pub const fn should_replace(self, new: JobStatus) -> bool {
        let old = self.priority();
        let new = new.priority();
        new > old || (old == 0 && new == 0)
    }

    /// True while a job waits to start (`C`, `j`, `c`, `s`, `p`, `d`, `t`): the statuses whose
    /// cancel only takes the job off the queue, no daemon is told
    /// (`core/src/dird/job.cc` `CancelJob()`).
    pub const fn is_queued(self) -> bool {
        matches!(
            self,
            JobStatus::Created
                | JobStatus::WaitJobRes
                | JobStatus::WaitClientRes
                | JobStatus::WaitStoreRes
                | JobStatus::WaitPriority
                | JobStatus::WaitMaxJobs
                | JobStatus::WaitStartTime
        )
    }

    /// True for the statuses a finished job can end with (`T`, `W`, `E`, `e`, `f`, `A`, `D`,
    /// `I`).
    pub const fn is_final(self) -> bool {
        matches!(
            self,
            JobStatus::Terminated
                | JobStatus::Warnings
                | JobStatus::ErrorTerminated
                | JobStatus::Error
                | JobStatus::FatalError
                | JobStatus::Canceled
                | JobStatus::Differences
                | JobStatus::Incomplete
        )
    }

    /// Parse the decimal form used by `TermCode=` and `JobStatus=` (`84` for `T`). Values
    /// above 255 are [`super::Error::BadNumber`].
    pub fn from_decimal(v: u64) -> super::Result<Self> {
        u8::try_from(v)
            .map(Self::from_u8)
            .map_err(|_| super::Error::BadNumber)
    }
}

char_code! {
    /// Job type letter (`core/src/include/job_types.h`).
    pub enum JobType {
        /// `B`: backup.
        Backup = b'B',
        /// `M`: a previous backup job that was migrated.
        MigratedJob = b'M',
        /// `V`: verify.
        Verify = b'V',
        /// `R`: restore.
        Restore = b'R',
        /// `U`: console.
        Console = b'U',
        /// `I`: internal system job.
        System = b'I',
        /// `D`: admin.
        Admin = b'D',
        /// `A`: archive.
        Archive = b'A',
        /// `C`: copy of a job.
        JobCopy = b'C',
        /// `c`: copy job.
        Copy = b'c',
        /// `g`: migration job.
        Migrate = b'g',
        /// `S`: scan.
        Scan = b'S',
        /// `O`: always-incremental consolidate.
        Consolidate = b'O',
    }
}

char_code! {
    /// Job level letter (`core/src/include/job_level.h`).
    pub enum JobLevel {
        /// `F`: full.
        Full = b'F',
        /// `I`: incremental (since the last backup).
        Incremental = b'I',
        /// `D`: differential (since the last full).
        Differential = b'D',
        /// `S`: since.
        Since = b'S',
        /// `C`: verify from catalog.
        VerifyCatalog = b'C',
        /// `V`: verify init (save to the catalog).
        VerifyInit = b'V',
        /// `O`: verify volume to catalog.
        VerifyVolumeToCatalog = b'O',
        /// `d`: verify disk attributes to catalog.
        VerifyDiskToCatalog = b'd',
        /// `A`: verify data on volume.
        VerifyData = b'A',
        /// `B`: base.
        Base = b'B',
        /// `' '` (32): none, for restore and admin jobs.
        None = b' ',
        /// `f`: virtual full.
        VirtualFull = b'f',
    }
}

char_code! {
    /// Message type of a job message (`type=` in `Jmsg`, `core/src/lib/message_severity.h`).
    /// Sent as a decimal number.
    pub enum MessageType {
        /// 1: abort.
        Abort = 1,
        /// 2: debug.
        Debug = 2,
        /// 3: fatal error; sets job status `f`.
        Fatal = 3,
        /// 4: error; increments JobErrors.
        Error = 4,
        /// 5: warning; increments JobWarnings.
        Warning = 5,
        /// 6: information.
        Info = 6,
        /// 7: file saved.
        Saved = 7,
        /// 8: file not saved.
        NotSaved = 8,
        /// 9: file skipped.
        Skipped = 9,
        /// 10: mount request.
        Mount = 10,
        /// 11: error, job terminated.
        ErrorTerm = 11,
        /// 12: terminating job report.
        Term = 12,
        /// 13: file restored.
        Restored = 13,
        /// 14: security violation.
        Security = 14,
        /// 15: alert.
        Alert = 15,
        /// 16: volume management.
        VolMgmt = 16,
        /// 17: audit.
        Audit = 17,
        /// 18: configuration error.
        ConfigError = 18,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Error;

    #[test]
    fn test_status_wire_values() {
        // vectors/clear-backup-full conn 3 msg 33: TermCode=84; vectors/clear-cancel conn 3
        // msg 35: TermCode=65; SD Status JobStatus=70/82/83 in clear-backup-full conn 2.
        assert_eq!(JobStatus::from_decimal(84), Ok(JobStatus::Terminated));
        assert_eq!(JobStatus::from_decimal(65), Ok(JobStatus::Canceled));
        assert_eq!(JobStatus::from_decimal(70), Ok(JobStatus::WaitFd));
        assert_eq!(JobStatus::from_decimal(82), Ok(JobStatus::Running));
        assert_eq!(JobStatus::from_decimal(83), Ok(JobStatus::WaitSd));
        assert_eq!(JobStatus::from_decimal(256), Err(Error::BadNumber));
        assert_eq!(JobStatus::from_u8(b'Z'), JobStatus::Unknown(b'Z'));
        assert_eq!(JobStatus::Unknown(b'Z').to_u8(), b'Z');
    }

    #[test]
    fn test_types_and_levels() {
        // clear-backup-full conn 2 msg 9: type=66 level=70; clear-restore: type=82 level=32.
        assert_eq!(JobType::from_u8(66), JobType::Backup);
        assert_eq!(JobType::from_u8(82), JobType::Restore);
        assert_eq!(JobLevel::from_u8(70), JobLevel::Full);
        assert_eq!(JobLevel::from_u8(32), JobLevel::None);
        assert_eq!(JobLevel::from_u8(73), JobLevel::Incremental);
        assert_eq!(MessageType::from_u8(6), MessageType::Info);
        assert_eq!(MessageType::from_u8(4), MessageType::Error);
        assert_eq!(MessageType::from_u8(99), MessageType::Unknown(99));
    }

    #[test]
    fn test_priority() {
        assert!(!JobStatus::Canceled.should_replace(JobStatus::Terminated));
        assert!(JobStatus::Running.should_replace(JobStatus::Terminated));
        assert!(JobStatus::Running.should_replace(JobStatus::Canceled));
        assert!(JobStatus::Error.should_replace(JobStatus::FatalError));
        assert!(!JobStatus::FatalError.should_replace(JobStatus::Error));
        assert!(JobStatus::Canceled.should_replace(JobStatus::Incomplete));
        assert!(JobStatus::Terminated.is_final());
        assert!(!JobStatus::Running.is_final());
    }

    proptest::proptest! {
        #[test]
        fn prop_roundtrip(b: u8) {
            proptest::prop_assert_eq!(JobStatus::from_u8(b).to_u8(), b);
            proptest::prop_assert_eq!(JobType::from_u8(b).to_u8(), b);
            proptest::prop_assert_eq!(JobLevel::from_u8(b).to_u8(), b);
            proptest::prop_assert_eq!(MessageType::from_u8(b).to_u8(), b);
        }
    }
}
