//! The Director's catalog: what was backed up, where it is, and what a restore must read.
//!
//! # What it is for
//!
//! Bareos' Director keeps every job, volume and file it has seen in an SQL database (the
//! "catalog", `core/src/cats/`), and reads it back for three decisions that matter on the
//! wire: the **since time** of an Incremental or Differential (`since_utime=` in the `level`
//! command to the FD, `core/src/dird/job.cc` `GetLevelSinceTime()`, `cats/sql_find.cc`
//! `FindJobStartTime()`; `../shared/protocol/jobs.md` §9.1), the **volume** a backup writes to
//! (`cats/sql_find.cc` `FindNextVolume()`, `dird/newvol.cc` `newVolume()`), and the
//! **bootstrap** a restore sends to the SD (`dird/ua_restore.cc`, `dird/bsr.cc`; jobs.md §6.1–6.2,
//! §8.3). This module is Barque's catalog with the same tables and the same semantics.
//!
//! # Layers
//!
//! * [`sql`] — a tiny SQL layer ([`sql::Conn`]): positional `?` parameters, four value kinds,
//!   rows as vectors. Both backends implement it; every operation is written once against it.
//! * [`sqlite`] (default) and [`postgres`] — the backends. SQLite is one file in the Director's
//!   working directory, created on first start; PostgreSQL is used when the Catalog resource
//!   names a server ([`CatalogConfig`]).
//! * [`schema`] — the DDL as one description with per-dialect type tokens, and versioned,
//!   idempotent migrations recorded in the `Version` table.
//! * [`Catalog`] — the typed API the job engine and the console use (this file, `ops.rs`,
//!   `restore.rs`): no SQL leaves the module.
//!
//! # Blocking
//!
//! All methods block. The Director is a tokio daemon: it must call them from
//! `tokio::task::spawn_blocking` or a dedicated catalog thread (the `postgres` crate even
//! panics when used from inside a runtime worker; see [`postgres`]). A [`Catalog`] is `Send`,
//! not `Sync`: one connection, used by one thread at a time (wrap it in a `Mutex` to share).
//!
//! # Records and the captures
//!
//! The real rows of a real Bareos catalog are in `../shared/vectors/catalog-dump.txt` (Job,
//! JobMedia, Media of seven jobs, File rows of JobIds 1 and 2). The tests insert them through
//! this API and check that the restore selection and the bootstrap built from them equal, byte
//! for byte, what the real Director sent (`vectors/clear-restore` conn 2 msgs 19–37) and wrote
//! (`vectors/volume-full/CapBackup-1.bsr`). Facts the captures fixed:
//!
//! * `File.LStat` is the stat packet string exactly as on the wire (decoded with
//!   [`fd_core::wire::attr::Stat`] where sizes or times are needed, never by a second decoder);
//!   `File.MD5` holds the digest of the FileSet's `Signature` (SHA256 in the captures) in
//!   standard base64 without padding, or `0` when there is none (directories, symlinks);
//!   `File.Name` is `''` for a directory, whose path goes to `Path` with its trailing `/`.
//! * Bareos' `File` has no file-type column: a file deleted since the previous backup (an
//!   accurate backup's FT_DELETED record) is stored with `FileIndex = 0`, and restore
//!   selection drops a path whose newest version has `FileIndex = 0`.
//! * A JobMedia row gives the `VolAddr` of the bootstrap as
//!   `(StartFile << 32) | StartBlock` – `(EndFile << 32) | EndBlock` (203–1786 for JobId 1).
//! * Volume names from a Label Format without variables are the format plus
//!   `%04d` of (highest MediaId in the catalog + 1), skipping names that exist
//!   (`dird/newvol.cc` `CreateSimpleName()`): `Cap-0001`, `Cap-0002`, …
//!
//! # Times
//!
//! Times are Unix seconds (UTC) in the API, `TIMESTAMP` or `YYYY-MM-DD HH:MM:SS` in the
//! database ([`time`]). `Job.JobTDate` is the Unix StartTime, as in Bareos, and orders jobs.
//!
//! # Not (yet) here
//!
//! Pruning and recycling (retention periods are stored, not enforced), copy/migration jobs,
//! base jobs, the bvfs cache tables, `RestoreObject`, non-UTF-8 file names (the API takes
//! `&str`; Bareos stores raw bytes in an `SQL_ASCII` database).

mod copy;
mod ops;
pub mod postgres;
mod prune;
mod restore;
pub mod schema;
pub mod sql;
pub mod sqlite;
pub mod time;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

pub use fd_core::wire::codes::{JobLevel, JobStatus, JobType};

pub use self::copy::CopyDone;
pub use self::ops::{
    fileset_md5, status_after_limits, ClientRecord, FileAttr, FileSetRecord, JobEnd, JobListRow,
    JobMediaRecord, JobRecord, JobStart, MediaRecord, MediaUpdate, NewClient, NewJob, NewJobMedia,
    NewMedia, OrphanedJob, OwnedFileAttr, PoolRecord, PoolSpec, SinceTime,
};
pub use self::postgres::PgParams;
pub use self::prune::NextVolume;
pub use self::restore::{
    backup_bootstrap_comment, ranges, Bootstrap, BsrEntry, RestoreSelection, SelectedFile,
};
use self::sql::Conn;

/// A catalog failure.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The database refused or failed (message from the backend).
    Database(String),
    /// A row did not have the shape the schema promises.
    Schema(&'static str),
    /// The database was migrated by a newer build.
    SchemaTooNew {
        /// `Version.VersionId` found.
        found: i64,
        /// Newest version this build knows.
        known: i64,
    },
    /// A number does not fit its column or its Rust type.
    OutOfRange,
    /// A timestamp column holds something that is not `YYYY-MM-DD HH:MM:SS`.
    BadTimestamp,
    /// The named record does not exist.
    NotFound(&'static str),
    /// The caller passed something the catalog cannot store.
    InvalidInput(&'static str),
    /// A new volume could not be named or created (no Label Format, `Maximum Volumes`
    /// reached, or 100 names in a row already taken).
    NoVolume,
    /// An fd-core codec refused a value: a bootstrap line that cannot be written, a stored
    /// LStat that is not a stat packet, an attribute record field.
    Wire(fd_core::wire::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Database(m) => write!(f, "catalog database error: {m}"),
            Error::Schema(m) => write!(f, "catalog schema mismatch: {m}"),
            Error::SchemaTooNew { found, known } => write!(
                f,
                "catalog schema version {found} is newer than this build knows ({known})"
            ),
            Error::OutOfRange => f.write_str("catalog value out of range"),
            Error::BadTimestamp => f.write_str("malformed catalog timestamp"),
            Error::NotFound(what) => write!(f, "{what} not found in the catalog"),
            Error::InvalidInput(m) => write!(f, "invalid catalog input: {m}"),
            Error::NoVolume => f.write_str("no new volume can be created for this pool"),
            Error::Wire(e) => write!(f, "wire codec: {e:?}"),
        }
    }
}

impl std::error::Error for Error {}

/// Status of a volume (`Media.VolStatus`, the Bareos spellings).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum VolStatus {
    /// `Append`: can take more jobs.
    Append,
    /// `Archive`.
    Archive,
    /// `Busy`.
    Busy,
    /// `Cleaning`.
    Cleaning,
    /// `Disabled`.
    Disabled,
    /// `Error`: the SD hit a write error.
    Error,
    /// `Full`: end of medium or Maximum Volume Bytes/Files reached.
    Full,
    /// `Purged`.
    Purged,
    /// `Read-Only`.
    ReadOnly,
    /// `Recycle`.
    Recycle,
    /// `Scratch`.
    Scratch,
    /// `Unlabeled`.
    Unlabeled,
    /// `Used`: Maximum Volume Jobs or Volume Use Duration reached.
    Used,
    /// A spelling this build does not know, kept verbatim.
    Unknown(String),
}

impl VolStatus {
    /// The catalog spelling.
    pub fn as_str(&self) -> &str {
        match self {
            VolStatus::Append => "Append",
            VolStatus::Archive => "Archive",
            VolStatus::Busy => "Busy",
            VolStatus::Cleaning => "Cleaning",
            VolStatus::Disabled => "Disabled",
            VolStatus::Error => "Error",
            VolStatus::Full => "Full",
            VolStatus::Purged => "Purged",
            VolStatus::ReadOnly => "Read-Only",
            VolStatus::Recycle => "Recycle",
            VolStatus::Scratch => "Scratch",
            VolStatus::Unlabeled => "Unlabeled",
            VolStatus::Used => "Used",
            VolStatus::Unknown(s) => s,
        }
    }

    /// Decode a catalog spelling.
    pub fn parse(s: &str) -> Self {
        match s {
            "Append" => VolStatus::Append,
            "Archive" => VolStatus::Archive,
            "Busy" => VolStatus::Busy,
            "Cleaning" => VolStatus::Cleaning,
            "Disabled" => VolStatus::Disabled,
            "Error" => VolStatus::Error,
            "Full" => VolStatus::Full,
            "Purged" => VolStatus::Purged,
            "Read-Only" => VolStatus::ReadOnly,
            "Recycle" => VolStatus::Recycle,
            "Scratch" => VolStatus::Scratch,
            "Unlabeled" => VolStatus::Unlabeled,
            "Used" => VolStatus::Used,
            other => VolStatus::Unknown(other.to_owned()),
        }
    }
}

/// Type of a pool (`Pool.PoolType`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PoolType {
    /// `Archive`.
    Archive,
    /// `Backup` (the default).
    Backup,
    /// `Cloned`.
    Cloned,
    /// `Copy`.
    Copy,
    /// `Migration`.
    Migration,
    /// `Scratch`.
    Scratch,
    /// A spelling this build does not know, kept verbatim.
    Unknown(String),
}

impl PoolType {
    /// The catalog spelling.
    pub fn as_str(&self) -> &str {
        match self {
            PoolType::Archive => "Archive",
            PoolType::Backup => "Backup",
            PoolType::Cloned => "Cloned",
            PoolType::Copy => "Copy",
            PoolType::Migration => "Migration",
            PoolType::Scratch => "Scratch",
            PoolType::Unknown(s) => s,
        }
    }

    /// Decode a catalog spelling.
    pub fn parse(s: &str) -> Self {
        match s {
            "Archive" => PoolType::Archive,
            "Backup" => PoolType::Backup,
            "Cloned" => PoolType::Cloned,
            "Copy" => PoolType::Copy,
            "Migration" => PoolType::Migration,
            "Scratch" => PoolType::Scratch,
            other => PoolType::Unknown(other.to_owned()),
        }
    }
}

/// Where the catalog lives, from the Director's Catalog resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatalogConfig {
    /// An SQLite file (created on first start).
    Sqlite {
        /// The database file.
        path: PathBuf,
    },
    /// A PostgreSQL server.
    Postgres(PgParams),
}

impl CatalogConfig {
    /// The backend a Catalog resource asks for: PostgreSQL when it names a server
    /// (`DB Address`), otherwise SQLite in `working_dir/<DB Name>.db`.
    pub fn from_resource(
        working_dir: &Path,
        db_name: &str,
        db_address: Option<&str>,
        db_port: Option<u16>,
        db_user: &str,
        db_password: &str,
    ) -> Self {
        match db_address {
            Some(host) => CatalogConfig::Postgres(PgParams {
                host: host.to_owned(),
                port: db_port.unwrap_or(5432),
                dbname: db_name.to_owned(),
                user: db_user.to_owned(),
                password: db_password.to_owned(),
            }),
            None => CatalogConfig::Sqlite {
                path: working_dir.join(format!("{db_name}.db")),
            },
        }
    }
}

/// The catalog: one database connection and the typed operations on it.
pub struct Catalog {
    conn: Box<dyn Conn>,
    /// Path → PathId of paths this connection has seen committed (bounded, see `ops.rs`).
    path_cache: HashMap<String, i64>,
}

impl Catalog {
    /// Open the configured backend and bring its schema up to date.
    pub fn open(config: &CatalogConfig) -> Result<Self, Error> {
        let conn: Box<dyn Conn> = match config {
            CatalogConfig::Sqlite { path } => Box::new(sqlite::SqliteConn::open(path)?),
            CatalogConfig::Postgres(p) => Box::new(postgres::PgConn::connect(p)?),
        };
        Self::with_conn(conn)
    }

    /// A catalog in a private in-memory SQLite database (tests, tools).
    pub fn open_in_memory() -> Result<Self, Error> {
        Self::with_conn(Box::new(sqlite::SqliteConn::open_in_memory()?))
    }

    /// Wrap a connection and migrate it.
    pub fn with_conn(conn: Box<dyn Conn>) -> Result<Self, Error> {
        let mut c = Self {
            conn,
            path_cache: HashMap::new(),
        };
        c.migrate()?;
        Ok(c)
    }

    /// Apply pending migrations; returns the versions applied (empty when current).
    pub fn migrate(&mut self) -> Result<Vec<i64>, Error> {
        schema::migrate(self.conn.as_mut())
    }

    /// The schema version of the database.
    pub fn schema_version(&mut self) -> Result<i64, Error> {
        schema::current_version(self.conn.as_mut())
    }

    /// Which backend this is.
    pub fn dialect(&self) -> sql::Dialect {
        self.conn.dialect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_can_move_to_a_blocking_thread() {
        fn send<T: Send + 'static>() {}
        send::<Catalog>();
    }

    #[test]
    fn vol_status_spellings_round_trip() {
        for s in [
            "Unlabeled",
            "Full",
            "Archive",
            "Append",
            "Recycle",
            "Purged",
            "Read-Only",
            "Disabled",
            "Error",
            "Busy",
            "Used",
            "Cleaning",
            "Scratch",
        ] {
            let v = VolStatus::parse(s);
            assert!(!matches!(v, VolStatus::Unknown(_)), "{s}");
            assert_eq!(v.as_str(), s);
        }
        assert_eq!(VolStatus::parse("used"), VolStatus::Unknown("used".into()));
        assert_eq!(PoolType::parse("Backup"), PoolType::Backup);
        assert_eq!(PoolType::parse("x").as_str(), "x");
    }

    #[test]
    fn resource_chooses_backend() {
        let sqlite = CatalogConfig::from_resource(
            Path::new("/var/lib/barque"),
            "bareos",
            None,
            None,
            "",
            "",
        );
        assert_eq!(
            sqlite,
            CatalogConfig::Sqlite {
                path: PathBuf::from("/var/lib/barque/bareos.db")
            }
        );
        let pg = CatalogConfig::from_resource(
            Path::new("/x"),
            "bareos_capture",
            Some("127.0.0.1"),
            None,
            "bareos",
            "ref-db-password",
        );
        assert!(
            matches!(pg, CatalogConfig::Postgres(ref p) if p.port == 5432 && p.dbname == "bareos_capture")
        );
    }
}
