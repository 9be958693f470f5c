//! The catalog schema as one description for both backends, and the migration runner.
//!
//! # Tables
//!
//! Table and column names, and what the columns mean, are Bareos' (PostgreSQL DDL
//! `core/src/cats/ddl/creates/postgresql.sql`, schema 2250; `../shared/protocol/jobs.md` §8.1),
//! so that a Bareos administrator finds `Job`, `JobMedia`, `Media`, `Pool`, `Client`,
//! `FileSet`, `Path`, `File`, `Storage`, `Log` and `Version` where they expect them and can run
//! their usual ad-hoc queries. The DDL below is Barque's own and a subset: only the columns the
//! Director maintains (no `JobHisto`, `Location`, `MediaType`, `Device`, `PathHierarchy`,
//! `PathVisibility`, `RestoreObject`, NDMP or statistics tables). `File.Fhinfo`/`Fhnode` are
//! `BIGINT` where Bareos has `NUMERIC(20)` (they are 0 for native backups, and `NUMERIC` would
//! need a decimal type on the Rust side).
//!
//! The schema is written once with three tokens that expand per [`Dialect`]:
//!
//! | token | SQLite | PostgreSQL |
//! |---|---|---|
//! | `{serial}` | `INTEGER PRIMARY KEY AUTOINCREMENT` | `SERIAL PRIMARY KEY` |
//! | `{bigserial}` | `INTEGER PRIMARY KEY AUTOINCREMENT` | `BIGSERIAL PRIMARY KEY` |
//! | `{timestamp}` | `DATETIME` (text `YYYY-MM-DD HH:MM:SS`, as Bareos' SQLite schema) | `TIMESTAMP WITHOUT TIME ZONE` |
//!
//! `AUTOINCREMENT` keeps SQLite from reusing the ids of deleted rows, as a PostgreSQL sequence
//! never does; a JobId must never come back.
//!
//! # Migrations
//!
//! [`MIGRATIONS`] is an ordered list; the `Version` table holds one row, `VersionId`, the
//! number of the last migration applied. [`migrate`] creates `Version` if it is missing, reads
//! it, and applies every later migration, each in its own transaction together with the update
//! of `VersionId` (both SQLite and PostgreSQL have transactional DDL), so a crash leaves the
//! database at a migration boundary. Running it again is a no-op. A database whose
//! `VersionId` is *newer* than this build knows is refused ([`Error::SchemaTooNew`]) rather
//! than written with an older idea of the tables. Barque's numbers are its own (1, 2, …), not
//! Bareos' 2250: the tables are a subset, and claiming 2250 would invite Bareos' own tools to
//! run their upgrade scripts against a schema they did not create.

use super::sql::{Conn, Dialect, Value};
use super::Error;

/// One schema migration.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// `Version.VersionId` after this migration.
    pub version: i64,
    /// What it does, for the log.
    pub name: &'static str,
    /// Statements with the `{serial}`/`{bigserial}`/`{timestamp}` tokens.
    pub statements: &'static [&'static str],
}

/// Every migration, in order. Never edit a released entry: append a new one.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "base tables",
        statements: &[
            "CREATE TABLE Path (
                PathId {serial},
                Path TEXT NOT NULL)",
            "CREATE UNIQUE INDEX path_name_idx ON Path (Path)",
            "CREATE TABLE File (
                FileId {bigserial},
                FileIndex INTEGER NOT NULL DEFAULT 0,
                JobId INTEGER NOT NULL,
                PathId INTEGER NOT NULL,
                DeltaSeq SMALLINT NOT NULL DEFAULT 0,
                MarkId INTEGER NOT NULL DEFAULT 0,
                Fhinfo BIGINT NOT NULL DEFAULT 0,
                Fhnode BIGINT NOT NULL DEFAULT 0,
                LStat TEXT NOT NULL,
                Md5 TEXT NOT NULL,
                Name TEXT NOT NULL)",
            "CREATE TABLE Job (
                JobId {serial},
                Job TEXT NOT NULL,
                Name TEXT NOT NULL,
                Type CHAR(1) NOT NULL,
                Level CHAR(1) NOT NULL,
                ClientId INTEGER DEFAULT 0,
                JobStatus CHAR(1) NOT NULL,
                SchedTime {timestamp},
                StartTime {timestamp},
                EndTime {timestamp},
                RealEndTime {timestamp},
                JobTDate BIGINT DEFAULT 0,
                VolSessionId INTEGER DEFAULT 0,
                VolSessionTime BIGINT DEFAULT 0,
                JobFiles INTEGER DEFAULT 0,
                JobBytes BIGINT DEFAULT 0,
                ReadBytes BIGINT DEFAULT 0,
                JobErrors INTEGER DEFAULT 0,
                JobMissingFiles INTEGER DEFAULT 0,
                PoolId INTEGER DEFAULT 0,
                FileSetId INTEGER DEFAULT 0,
                PriorJobId INTEGER DEFAULT 0,
                PurgedFiles SMALLINT DEFAULT 0,
                HasBase SMALLINT DEFAULT 0,
                HasCache SMALLINT DEFAULT 0,
                Reviewed SMALLINT DEFAULT 0,
                Comment TEXT)",
            "CREATE UNIQUE INDEX job_job_idx ON Job (Job)",
            "CREATE TABLE FileSet (
                FileSetId {serial},
                FileSet TEXT NOT NULL,
                FileSetText TEXT DEFAULT '',
                MD5 TEXT NOT NULL,
                CreateTime {timestamp} NOT NULL)",
            "CREATE TABLE JobMedia (
                JobMediaId {serial},
                JobId INTEGER NOT NULL,
                MediaId INTEGER NOT NULL,
                FirstIndex INTEGER DEFAULT 0,
                LastIndex INTEGER DEFAULT 0,
                StartFile INTEGER DEFAULT 0,
                EndFile INTEGER DEFAULT 0,
                StartBlock BIGINT DEFAULT 0,
                EndBlock BIGINT DEFAULT 0,
                JobBytes BIGINT DEFAULT 0,
                VolIndex INTEGER DEFAULT 0)",
            "CREATE TABLE Media (
                MediaId {serial},
                VolumeName TEXT NOT NULL,
                Slot BIGINT DEFAULT 0,
                PoolId INTEGER DEFAULT 0,
                MediaType TEXT NOT NULL,
                LabelType INTEGER DEFAULT 0,
                FirstWritten {timestamp},
                LastWritten {timestamp},
                LabelDate {timestamp},
                VolJobs BIGINT DEFAULT 0,
                VolFiles BIGINT DEFAULT 0,
                VolBlocks BIGINT DEFAULT 0,
                VolMounts BIGINT DEFAULT 0,
                VolBytes BIGINT DEFAULT 0,
                VolErrors BIGINT DEFAULT 0,
                VolWrites BIGINT DEFAULT 0,
                VolCapacityBytes BIGINT DEFAULT 0,
                VolStatus TEXT NOT NULL CHECK (VolStatus IN ('Unlabeled', 'Full', 'Archive',
                    'Append', 'Recycle', 'Purged', 'Read-Only', 'Disabled', 'Error', 'Busy',
                    'Used', 'Cleaning', 'Scratch')),
                Enabled SMALLINT DEFAULT 1,
                Recycle SMALLINT DEFAULT 0,
                VolRetention BIGINT DEFAULT 0,
                VolUseDuration BIGINT DEFAULT 0,
                MaxVolJobs BIGINT DEFAULT 0,
                MaxVolFiles BIGINT DEFAULT 0,
                MaxVolBytes BIGINT DEFAULT 0,
                InChanger SMALLINT DEFAULT 0,
                StorageId INTEGER DEFAULT 0,
                EndFile BIGINT DEFAULT 0,
                EndBlock BIGINT DEFAULT 0,
                RecycleCount BIGINT DEFAULT 0,
                MinBlockSize BIGINT DEFAULT 0,
                MaxBlockSize BIGINT DEFAULT 0,
                ScratchPoolId INTEGER DEFAULT 0,
                RecyclePoolId INTEGER DEFAULT 0,
                EncryptionKey TEXT,
                Comment TEXT)",
            "CREATE UNIQUE INDEX media_volumename_id ON Media (VolumeName)",
            "CREATE TABLE Storage (
                StorageId {serial},
                Name TEXT NOT NULL,
                AutoChanger INTEGER DEFAULT 0)",
            "CREATE UNIQUE INDEX storage_name_idx ON Storage (Name)",
            "CREATE TABLE Pool (
                PoolId {serial},
                Name TEXT NOT NULL,
                NumVols INTEGER DEFAULT 0,
                MaxVols INTEGER DEFAULT 0,
                UseOnce SMALLINT DEFAULT 0,
                UseCatalog SMALLINT DEFAULT 0,
                AcceptAnyVolume SMALLINT DEFAULT 0,
                VolRetention BIGINT DEFAULT 0,
                VolUseDuration BIGINT DEFAULT 0,
                MaxVolJobs INTEGER DEFAULT 0,
                MaxVolFiles INTEGER DEFAULT 0,
                MaxVolBytes BIGINT DEFAULT 0,
                AutoPrune SMALLINT DEFAULT 0,
                Recycle SMALLINT DEFAULT 0,
                PoolType TEXT CHECK (PoolType IN ('Backup', 'Copy', 'Cloned', 'Archive',
                    'Migration', 'Scratch')),
                LabelType INTEGER DEFAULT 0,
                LabelFormat TEXT NOT NULL,
                Enabled SMALLINT DEFAULT 1,
                ScratchPoolId INTEGER DEFAULT 0,
                RecyclePoolId INTEGER DEFAULT 0,
                NextPoolId INTEGER DEFAULT 0,
                MinBlockSize INTEGER DEFAULT 0,
                MaxBlockSize INTEGER DEFAULT 0)",
            "CREATE UNIQUE INDEX pool_name_idx ON Pool (Name)",
            "CREATE TABLE Client (
                ClientId {serial},
                Name TEXT NOT NULL,
                UName TEXT NOT NULL,
                AutoPrune SMALLINT DEFAULT 0,
                FileRetention BIGINT DEFAULT 0,
                JobRetention BIGINT DEFAULT 0)",
            "CREATE UNIQUE INDEX client_name_idx ON Client (Name)",
            "CREATE TABLE Log (
                LogId {serial},
                JobId INTEGER NOT NULL,
                Time {timestamp},
                LogText TEXT NOT NULL)",
            "CREATE TABLE Status (
                JobStatus CHAR(1) NOT NULL PRIMARY KEY,
                JobStatusLong TEXT,
                Severity INTEGER)",
            "INSERT INTO Status (JobStatus, JobStatusLong, Severity) VALUES
                ('C', 'Created, not yet running', 15),
                ('R', 'Running', 15),
                ('B', 'Blocked', 15),
                ('T', 'Completed successfully', 10),
                ('E', 'Terminated with errors', 25),
                ('e', 'Non-fatal error', 20),
                ('f', 'Fatal error', 100),
                ('D', 'Verify found differences', 15),
                ('A', 'Canceled by user', 90),
                ('I', 'Incomplete job', 15),
                ('L', 'Committing data', 15),
                ('W', 'Terminated with warnings', 20),
                ('l', 'Doing data despooling', 15),
                ('q', 'Queued waiting for device', 15),
                ('F', 'Waiting for Client', 15),
                ('S', 'Waiting for Storage daemon', 15),
                ('m', 'Waiting for new media', 15),
                ('M', 'Waiting for media mount', 15),
                ('s', 'Waiting for storage resource', 15),
                ('j', 'Waiting for job resource', 15),
                ('c', 'Waiting for client resource', 15),
                ('d', 'Waiting on maximum jobs', 15),
                ('t', 'Waiting on start time', 15),
                ('p', 'Waiting on higher priority jobs', 15),
                ('a', 'SD despooling attributes', 15),
                ('i', 'Doing batch insert file records', 15)",
        ],
    },
    Migration {
        version: 2,
        name: "lookup indexes for restore, since-time and volume selection",
        statements: &[
            "CREATE INDEX file_jpfid_idx ON File (JobId, PathId, Name)",
            "CREATE INDEX job_name_idx ON Job (Name, ClientId, FileSetId)",
            "CREATE INDEX fileset_name_idx ON FileSet (FileSet)",
            "CREATE INDEX job_media_job_id_media_id_idx ON JobMedia (JobId, MediaId)",
            "CREATE INDEX media_poolid_idx ON Media (PoolId)",
            "CREATE INDEX log_name_idx ON Log (JobId)",
        ],
    },
];

/// Expand the type tokens for `dialect`.
pub fn render(statement: &str, dialect: Dialect) -> String {
    let (serial, bigserial, timestamp) = match dialect {
        Dialect::Sqlite => (
            "INTEGER PRIMARY KEY AUTOINCREMENT",
            "INTEGER PRIMARY KEY AUTOINCREMENT",
            "DATETIME",
        ),
        Dialect::Postgres => (
            "SERIAL PRIMARY KEY",
            "BIGSERIAL PRIMARY KEY",
            "TIMESTAMP WITHOUT TIME ZONE",
        ),
    };
    statement
        .replace("{serial}", serial)
        .replace("{bigserial}", bigserial)
        .replace("{timestamp}", timestamp)
}

/// The newest schema version this build knows.
pub fn latest_version() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// The schema version of the database (0 when `Version` is empty).
pub fn current_version(conn: &mut dyn Conn) -> Result<i64, Error> {
    let rows = conn.query("SELECT MAX(VersionId) FROM Version", &[])?;
    match rows.first() {
        Some(r) => r.int_or_zero(0),
        None => Ok(0),
    }
}

/// Bring the database up to [`latest_version`]; returns the versions applied (empty when it
/// was already current).
pub fn migrate(conn: &mut dyn Conn) -> Result<Vec<i64>, Error> {
    conn.batch("CREATE TABLE IF NOT EXISTS Version (VersionId INTEGER NOT NULL)")?;
    let mut applied = Vec::new();
    let current = current_version(conn)?;
    if current > latest_version() {
        return Err(Error::SchemaTooNew {
            found: current,
            known: latest_version(),
        });
    }
    let dialect = conn.dialect();
    for m in MIGRATIONS.iter().filter(|m| m.version > current) {
        log::info!("catalog: applying migration {} ({})", m.version, m.name);
        conn.batch("BEGIN")?;
        let result = (|| {
            for s in m.statements {
                conn.batch(&render(s, dialect))?;
            }
            conn.execute("DELETE FROM Version", &[])?;
            conn.execute(
                "INSERT INTO Version (VersionId) VALUES (?)",
                &[Value::Int(m.version)],
            )?;
            Ok::<(), Error>(())
        })();
        match result {
            Ok(()) => conn.batch("COMMIT")?,
            Err(e) => {
                let _ = conn.batch("ROLLBACK");
                return Err(e);
            }
        }
        applied.push(m.version);
    }
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_strictly_increasing() {
        let mut last = 0;
        for m in MIGRATIONS {
            assert!(m.version > last, "migration {} out of order", m.version);
            last = m.version;
        }
        assert_eq!(latest_version(), last);
    }

    #[test]
    fn tokens_expand_per_dialect() {
        let s = "CREATE TABLE t (a {serial}, b {timestamp})";
        assert_eq!(
            render(s, Dialect::Postgres),
            "CREATE TABLE t (a SERIAL PRIMARY KEY, b TIMESTAMP WITHOUT TIME ZONE)"
        );
        assert_eq!(
            render(s, Dialect::Sqlite),
            "CREATE TABLE t (a INTEGER PRIMARY KEY AUTOINCREMENT, b DATETIME)"
        );
        for m in MIGRATIONS {
            for st in m.statements {
                for d in [Dialect::Sqlite, Dialect::Postgres] {
                    assert!(!render(st, d).contains('{'), "unexpanded token in {st}");
                }
            }
        }
    }
}
