//! The catalog test suite, run over both backends: every suite function gets a way to open
//! fresh connections to one empty database, and runs once on SQLite (a file in a temporary
//! directory) and once on a real PostgreSQL server started by the test (`common/pg.rs`).
//!
//! The records are the real rows of a real Bareos catalog (`../shared/vectors/catalog-dump.txt`),
//! entered through the same calls the job engine makes in the order the captured Director made
//! them (`vectors/clear-backup-full` conn 2), and the bootstraps built from them are compared
//! byte for byte with what the real Director sent and wrote.

mod common;

use director::catalog::schema::{self, latest_version};
use director::catalog::sql::Conn;
use director::catalog::sqlite::SqliteConn;
use director::catalog::{
    backup_bootstrap_comment, Catalog, Error, FileAttr, JobEnd, JobLevel, JobStart, JobStatus,
    JobType, MediaUpdate, NewClient, NewJob, NewJobMedia, NewMedia, PoolSpec, SinceTime, VolStatus,
};

use common::vectors::{self, Table};

type Opener<'a> = &'a dyn Fn() -> Box<dyn Conn>;

fn open(o: Opener<'_>) -> Catalog {
    Catalog::with_conn(o()).expect("open and migrate the catalog")
}

fn t(s: &str) -> i64 {
    director::catalog::time::parse_sql(s).expect("capture timestamp")
}

fn num(row: &std::collections::HashMap<String, String>, col: &str) -> i64 {
    row.get(col)
        .unwrap_or_else(|| panic!("column {col}"))
        .parse()
        .unwrap_or_else(|e| panic!("column {col}: {e}"))
}

fn col<'a>(row: &'a std::collections::HashMap<String, String>, c: &str) -> &'a str {
    row.get(c).unwrap_or_else(|| panic!("column {c}"))
}

// ---- suite -------------------------------------------------------------------------------

/// Migrations from an empty database apply every version in order; running them again (on
/// the same connection and on a new one) applies nothing; a newer schema is refused.
fn migrations(o: Opener<'_>) {
    let mut conn = o();
    let applied = schema::migrate(conn.as_mut()).expect("migrate from empty");
    let all: Vec<i64> = schema::MIGRATIONS.iter().map(|m| m.version).collect();
    assert_eq!(applied, all);
    assert_eq!(
        schema::current_version(conn.as_mut()).unwrap(),
        latest_version()
    );
    assert_eq!(schema::migrate(conn.as_mut()).unwrap(), Vec::<i64>::new());
    drop(conn);

    let mut cat = open(o);
    assert_eq!(cat.migrate().unwrap(), Vec::<i64>::new());
    assert_eq!(cat.schema_version().unwrap(), latest_version());
    // One Version row, as Bareos keeps it.
    let mut conn = o();
    let rows = conn.query("SELECT VersionId FROM Version", &[]).unwrap();
    assert_eq!(rows.len(), 1);
    // The tables exist and work after the re-run.
    let c = cat
        .get_or_create_client(&NewClient {
            name: "bareos-fd",
            uname: "",
            auto_prune: true,
            file_retention: 1,
            job_retention: 2,
        })
        .unwrap();
    assert_eq!(cat.client("bareos-fd").unwrap(), Some(c));

    // A database left at version 1 (before the lookup indexes) gets exactly migration 2.
    for idx in [
        "file_jpfid_idx",
        "job_name_idx",
        "fileset_name_idx",
        "job_media_job_id_media_id_idx",
        "media_poolid_idx",
        "log_name_idx",
    ] {
        conn.batch(&format!("DROP INDEX {idx}")).unwrap();
    }
    conn.execute("UPDATE Version SET VersionId = ?", &[1i64.into()])
        .unwrap();
    assert_eq!(schema::migrate(conn.as_mut()).unwrap(), vec![2]);
    assert_eq!(schema::current_version(conn.as_mut()).unwrap(), 2);
    // The indexes are back: dropping one again succeeds.
    conn.batch("DROP INDEX file_jpfid_idx").unwrap();
    assert!(conn.batch("DROP INDEX file_jpfid_idx").is_err());

    conn.execute("UPDATE Version SET VersionId = ?", &[999i64.into()])
        .unwrap();
    assert_eq!(
        schema::migrate(conn.as_mut()),
        Err(Error::SchemaTooNew {
            found: 999,
            known: latest_version()
        })
    );
}

struct Fixture {
    client_id: i64,
    fileset_id: i64,
    pool_id: i64,
    storage_id: i64,
}

/// The resources of the captured configuration (README of vectors: Client `bareos-fd`,
/// FileSet `CapSet` with the FileSetMD5 of `vectors/clear-backup-full` conn 2 msg 9, Pool
/// `Cap` with `Label Format = "Cap-"` and `Maximum Volume Jobs = 1`, Storage `File`).
fn fixture(cat: &mut Catalog) -> Fixture {
    let storage_id = cat.get_or_create_storage("File").unwrap();
    assert_eq!(cat.get_or_create_storage("File").unwrap(), storage_id);
    let mut spec = PoolSpec::backup("Cap", "Cap-");
    spec.max_vol_jobs = 1;
    let pool = cat.get_or_create_pool(&spec).unwrap();
    assert_eq!(cat.get_or_create_pool(&spec).unwrap().pool_id, pool.pool_id);
    let client = cat
        .get_or_create_client(&NewClient {
            name: "bareos-fd",
            uname: "26.0.0~pre1298.eda204c31 (21Aug26) Debian GNU/Linux 12 (bookworm)",
            auto_prune: true,
            file_retention: 60 * 86_400,
            job_retention: 180 * 86_400,
        })
        .unwrap();
    let md5 = director::catalog::fileset_md5(["/srv/bareos-capture/testdata/tree"]);
    assert_eq!(md5, "y1xbU8+FNRFC/6/HUl9MRB");
    let fs = cat
        .get_or_create_fileset(
            "CapSet",
            &md5,
            "File = /srv/bareos-capture/testdata/tree",
            t("2026-11-22 15:46:52"),
        )
        .unwrap();
    Fixture {
        client_id: client.client_id,
        fileset_id: fs.fileset_id,
        pool_id: pool.pool_id,
        storage_id,
    }
}

fn update(media_id: i64, start: i64) -> MediaUpdate {
    MediaUpdate {
        media_id,
        vol_jobs: 0,
        vol_files: 0,
        vol_blocks: 1,
        vol_bytes: 203,
        vol_mounts: 0,
        vol_errors: 0,
        vol_writes: 1,
        vol_status: VolStatus::Append,
        end_time: start,
        relabel: true,
        first_written: 0,
        job_start_time: start,
    }
}

/// Replay one captured backup job (`job` row of the dump) through the catalog API in the order
/// of `vectors/clear-backup-full` conn 2: create, start, FindMedia (creates the volume),
/// the SD's UpdateMedia after labelling / mount / job count, placeholder JobMedia, file
/// attributes, real JobMedia, final UpdateMedia, DeleteNullJobmediaRecords, end.
fn replay_backup(cat: &mut Catalog, fx: &Fixture, job: &std::collections::HashMap<String, String>) {
    let dump = vectors::catalog_dump();
    let table = |p: &str| -> Table {
        dump.iter()
            .find(|(tt, _)| tt.starts_with(p))
            .map(|(_, r)| r.clone())
            .unwrap()
    };
    let job_id = num(job, "jobid");
    let start = t(col(job, "starttime"));
    let end = t(col(job, "endtime"));
    let level = JobLevel::from_u8(col(job, "level").as_bytes()[0]);

    let id = cat
        .create_job(&NewJob {
            job: col(job, "job"),
            name: col(job, "name"),
            job_type: JobType::Backup,
            level,
            sched_time: start - 2,
        })
        .unwrap();
    assert_eq!(id, job_id, "JobIds are assigned in order");
    assert_eq!(cat.job(id).unwrap().unwrap().status, JobStatus::Created);
    cat.update_job_start(&JobStart {
        job_id: id,
        status: JobStatus::Running,
        level,
        start_time: start,
        client_id: fx.client_id,
        pool_id: fx.pool_id,
        fileset_id: fx.fileset_id,
    })
    .unwrap();

    // CatReq FindMedia=1 -> a new volume, VolStatus=Unlabeled (conn 2 msg 27).
    let m = cat
        .find_or_create_media(fx.pool_id, "File", fx.storage_id)
        .unwrap();
    let media_row = table("media")
        .into_iter()
        .find(|r| col(r, "volumename") == m.volume_name)
        .unwrap_or_else(|| panic!("created {} which the dump does not have", m.volume_name));
    assert_eq!(m.vol_status, VolStatus::Unlabeled);
    assert_eq!(m.max_vol_jobs, 1, "pool limits copied into the volume");
    assert_eq!(m.media_id, num(&media_row, "mediaid"));

    // msgs 31, 38, 40: labelled, mounted, job counted -> Used (msg 41 replies VolStatus=Used).
    let r = cat.update_media(&update(m.media_id, start)).unwrap();
    assert_eq!(r.vol_status, VolStatus::Append);
    let r = cat
        .update_media(&MediaUpdate {
            vol_mounts: 1,
            relabel: false,
            ..update(m.media_id, start)
        })
        .unwrap();
    assert_eq!(r.vol_status, VolStatus::Append);
    let r = cat
        .update_media(&MediaUpdate {
            vol_mounts: 1,
            vol_jobs: 1,
            relabel: false,
            ..update(m.media_id, start)
        })
        .unwrap();
    assert_eq!(r.vol_status, VolStatus::Used);

    // msg 43: placeholder JobMedia.
    cat.create_job_media(&NewJobMedia {
        job_id: id,
        media_id: m.media_id,
        first_index: 0,
        last_index: 0,
        start_file: 0,
        end_file: 0,
        start_block: 0,
        end_block: 0,
        vol_index: 1,
        job_bytes: 0,
    })
    .unwrap();

    // msgs 45-53: the attributes (rows from the dump).
    let files: Table = table("files")
        .into_iter()
        .filter(|r| num(r, "jobid") == job_id)
        .collect();
    let attrs: Vec<FileAttr<'_>> = files
        .iter()
        .map(|r| FileAttr {
            file_index: num(r, "fileindex") as u32,
            path: col(r, "path"),
            name: col(r, "name"),
            lstat: col(r, "lstat"),
            md5: col(r, "md5"),
            delta_seq: num(r, "deltaseq") as u16,
        })
        .collect();
    cat.insert_file_attributes(id, &attrs).unwrap();

    // msg 55: the real JobMedia.
    let jm = table("jobmedia")
        .into_iter()
        .find(|r| num(r, "jobid") == job_id)
        .unwrap();
    let jm_id = cat
        .create_job_media(&NewJobMedia {
            job_id: id,
            media_id: m.media_id,
            first_index: num(&jm, "firstindex") as u32,
            last_index: num(&jm, "lastindex") as u32,
            start_file: num(&jm, "startfile") as u32,
            end_file: num(&jm, "endfile") as u32,
            start_block: num(&jm, "startblock") as u32,
            end_block: num(&jm, "endblock") as u32,
            vol_index: num(&jm, "volindex") as u32,
            job_bytes: num(&jm, "jobbytes") as u64,
        })
        .unwrap();
    assert_eq!(jm_id, num(&jm, "jobmediaid"), "JobMediaId as in the dump");

    // msg 57: final UpdateMedia; msg 59: DeleteNullJobmediaRecords.
    cat.update_media(&MediaUpdate {
        vol_jobs: 1,
        vol_blocks: num(&media_row, "volblocks"),
        vol_bytes: num(&media_row, "volbytes"),
        vol_mounts: 1,
        vol_writes: num(&media_row, "volwrites"),
        vol_status: VolStatus::Used,
        end_time: end,
        relabel: false,
        ..update(m.media_id, start)
    })
    .unwrap();
    assert_eq!(cat.delete_null_job_media(id).unwrap(), 1);

    cat.update_job_end(&JobEnd {
        job_id: id,
        status: JobStatus::Terminated,
        job_type: JobType::Backup,
        level,
        end_time: end,
        real_end_time: end,
        job_files: num(job, "jobfiles") as u32,
        job_bytes: num(job, "jobbytes") as u64,
        read_bytes: num(job, "readbytes") as u64,
        job_errors: 0,
        vol_session_id: num(job, "volsessionid") as u32,
        vol_session_time: num(job, "volsessiontime") as u32,
        prior_job_id: 0,
    })
    .unwrap();

    // The stored rows equal the dump's, column for column.
    let j = cat.job(id).unwrap().unwrap();
    assert_eq!(j.job, col(job, "job"));
    assert_eq!(j.name, col(job, "name"));
    assert_eq!(j.job_type, JobType::Backup);
    assert_eq!(char::from(j.level.to_u8()).to_string(), col(job, "level"));
    assert_eq!(
        char::from(j.status.to_u8()).to_string(),
        col(job, "jobstatus")
    );
    assert_eq!(i64::from(j.job_files), num(job, "jobfiles"));
    assert_eq!(j.job_bytes, num(job, "jobbytes"));
    assert_eq!(j.read_bytes, num(job, "readbytes"));
    assert_eq!(i64::from(j.vol_session_id), num(job, "volsessionid"));
    assert_eq!(i64::from(j.vol_session_time), num(job, "volsessiontime"));
    assert_eq!(j.start_time, Some(start));
    assert_eq!(j.end_time, Some(end));
    assert_eq!(j.job_tdate, start);

    let m = cat.media_by_id(m.media_id).unwrap().unwrap();
    assert_eq!(m.vol_status.as_str(), col(&media_row, "volstatus"));
    for (got, c) in [
        (m.vol_jobs, "voljobs"),
        (m.vol_files, "volfiles"),
        (m.vol_blocks, "volblocks"),
        (m.vol_bytes, "volbytes"),
        (m.vol_mounts, "volmounts"),
        (m.vol_writes, "volwrites"),
        (m.max_vol_jobs, "maxvoljobs"),
        (m.label_type, "labeltype"),
    ] {
        assert_eq!(got, num(&media_row, c), "Media.{c}");
    }
    assert_eq!(m.first_written, Some(t(col(&media_row, "firstwritten"))));
    assert_eq!(m.last_written, Some(t(col(&media_row, "lastwritten"))));
    assert_eq!(m.label_date, Some(t(col(&media_row, "labeldate"))));
    assert_eq!(m.end_block, num(&jm, "endblock"));

    let jms = cat.job_media(id).unwrap();
    assert_eq!(jms.len(), 1, "placeholder deleted");
    assert_eq!(jms[0].job_media_id, num(&jm, "jobmediaid"));
    assert_eq!(jms[0].row.first_index as i64, num(&jm, "firstindex"));
    assert_eq!(jms[0].row.last_index as i64, num(&jm, "lastindex"));
    assert_eq!(jms[0].row.start_block as i64, num(&jm, "startblock"));
    assert_eq!(jms[0].row.end_block as i64, num(&jm, "endblock"));
    assert_eq!(jms[0].row.vol_index as i64, num(&jm, "volindex"));
}

fn dump_job(job_id: i64) -> std::collections::HashMap<String, String> {
    vectors::dump_table("select jobid")
        .into_iter()
        .find(|r| num(r, "jobid") == job_id)
        .unwrap()
}

/// The captured Full (JobId 1) and Incremental (JobId 2): rows equal the dump; the
/// Incremental's since time is the Full's StartTime (`since_utime=1795362414`,
/// `vectors/clear-backup-incr` conn 3 msg 12); the restore of "the most recent backup"
/// selects the 7 files the real Director restored and its bootstrap is byte-identical to
/// `vectors/clear-restore` conn 2 msgs 19–37; JobId 1's `Write Bootstrap` file is
/// byte-identical to `vectors/volume-full/CapBackup-1.bsr`.
fn capture_backup_and_restore(o: Opener<'_>) {
    let mut cat = open(o);
    let fx = fixture(&mut cat);
    assert_eq!(
        cat.since_time(
            "CapBackup",
            fx.client_id,
            fx.fileset_id,
            JobLevel::Incremental
        )
        .unwrap(),
        SinceTime::UpgradeToFull
    );
    replay_backup(&mut cat, &fx, &dump_job(1));

    // The bootstrap the Director wrote after JobId 1.
    let bsr = cat.backup_bootstrap(1).unwrap();
    let comment = backup_bootstrap_comment(
        t("2026-11-22 15:46:55"),
        "CapBackup.2026-11-22_15.46.52_03",
        "Full",
    );
    assert_eq!(
        String::from_utf8(bsr.backup_text(&comment).unwrap()).unwrap(),
        vectors::read("volume-full/CapBackup-1.bsr")
    );

    let since = cat
        .since_time(
            "CapBackup",
            fx.client_id,
            fx.fileset_id,
            JobLevel::Incremental,
        )
        .unwrap();
    assert_eq!(
        since,
        SinceTime::Since {
            start_time: 1_795_362_414,
            job_id: 1,
            job: "CapBackup.2026-11-22_15.46.52_03".into()
        }
    );
    replay_backup(&mut cat, &fx, &dump_job(2));

    // Restore "most recent backup" as of the restore job's start (JobId 3 in the dump).
    let until = t("2026-11-22 15:47:33");
    assert_eq!(
        cat.restore_jobids(fx.client_id, fx.fileset_id, until)
            .unwrap(),
        vec![1, 2]
    );
    // The accurate list of the next backup: an Incremental is taken against the Full and the
    // Incremental, a Differential against the Full alone (`AccurateGetJobids()`).
    let accurate = |cat: &mut Catalog, level| {
        cat.accurate_jobids(fx.client_id, fx.fileset_id, until, level)
            .unwrap()
    };
    assert_eq!(accurate(&mut cat, JobLevel::Incremental), vec![1, 2]);
    assert_eq!(accurate(&mut cat, JobLevel::Differential), vec![1]);
    assert_eq!(accurate(&mut cat, JobLevel::Full), Vec::<i64>::new());
    let sel = cat
        .restore_current(fx.client_id, fx.fileset_id, until)
        .unwrap();
    let picked: Vec<(i64, u32)> = sel.files.iter().map(|f| (f.job_id, f.file_index)).collect();
    assert_eq!(
        picked,
        vec![(1, 2), (1, 3), (1, 5), (1, 6), (2, 1), (2, 2), (2, 3)]
    );
    // hello.txt comes from the Incremental: 19 bytes there, 6 ("hello\n") in the Full.
    let hello = sel.files.iter().find(|f| f.name == "hello.txt").unwrap();
    assert_eq!(hello.job_id, 2);
    assert_eq!(hello.stat().unwrap().size, 19);
    assert_eq!(hello.md5, "93g7cTDWFf5e2rkRieiAntnGoMhl6BNWBovU5s9/ET0");

    let bsr = cat.build_bootstrap(&sel).unwrap();
    assert_eq!(
        bsr.expected_files(),
        7,
        "Files Expected: 7 (clear-restore conn 1)"
    );
    let lines = bsr
        .restore_lines(|storage| (storage == "File").then(|| "FileStorage".to_owned()))
        .unwrap();
    let captured: Vec<Vec<u8>> = (19..=37)
        .map(|i| vectors::message("clear-restore", 2, i))
        .collect();
    assert_eq!(
        lines
            .iter()
            .map(|l| String::from_utf8_lossy(l).into_owned())
            .collect::<Vec<_>>(),
        captured
            .iter()
            .map(|l| String::from_utf8_lossy(l).into_owned())
            .collect::<Vec<_>>()
    );
    assert_eq!(lines, captured);

    // "the files of given jobids": JobId 1 alone is the whole Full.
    let only1 = cat.select_files(&[1]).unwrap();
    assert_eq!(only1.files.len(), 6);
    let b1 = cat.build_bootstrap(&only1).unwrap();
    assert_eq!(b1.entries.len(), 1);
    assert_eq!(b1.entries[0].file_indexes, vec![(1, 6)]);
    assert_eq!(b1.entries[0].start_addr, 203);
    assert_eq!(b1.entries[0].end_addr, 1786);
}

/// Since-time rules: Diff is since the newest Full, Incr since the newest F/D/I; failed jobs,
/// other FileSets (a changed MD5) and other Job names do not count.
fn since_time_rules(o: Opener<'_>) {
    let mut cat = open(o);
    let fx = fixture(&mut cat);
    let mut n = 0;
    let mut job = |cat: &mut Catalog,
                   name: &str,
                   level: JobLevel,
                   status: JobStatus,
                   start: i64,
                   fileset: i64| {
        n += 1;
        let unique = format!("{name}.{n}");
        let id = cat
            .create_job(&NewJob {
                job: &unique,
                name,
                job_type: JobType::Backup,
                level,
                sched_time: start,
            })
            .unwrap();
        cat.update_job_start(&JobStart {
            job_id: id,
            status: JobStatus::Running,
            level,
            start_time: start,
            client_id: fx.client_id,
            pool_id: fx.pool_id,
            fileset_id: fileset,
        })
        .unwrap();
        cat.update_job_end(&JobEnd {
            job_id: id,
            status,
            job_type: JobType::Backup,
            level,
            end_time: start + 10,
            real_end_time: start + 10,
            job_files: 1,
            job_bytes: 1,
            read_bytes: 1,
            job_errors: 0,
            vol_session_id: 1,
            vol_session_time: 1,
            prior_job_id: 0,
        })
        .unwrap();
        id
    };
    let fs = fx.fileset_id;
    let since = |cat: &mut Catalog, level| cat.since_time("B", fx.client_id, fs, level).unwrap();
    let at = |s: &SinceTime| match s {
        SinceTime::Since { job_id, .. } => *job_id,
        other => panic!("{other:?}"),
    };

    assert_eq!(
        since(&mut cat, JobLevel::Differential),
        SinceTime::UpgradeToFull
    );
    assert_eq!(since(&mut cat, JobLevel::Full), SinceTime::Full);
    // A failed Full does not count.
    job(
        &mut cat,
        "B",
        JobLevel::Full,
        JobStatus::ErrorTerminated,
        1000,
        fs,
    );
    assert_eq!(
        since(&mut cat, JobLevel::Incremental),
        SinceTime::UpgradeToFull
    );
    let full = job(
        &mut cat,
        "B",
        JobLevel::Full,
        JobStatus::Terminated,
        2000,
        fs,
    );
    let incr = job(
        &mut cat,
        "B",
        JobLevel::Incremental,
        JobStatus::Warnings,
        3000,
        fs,
    );
    assert_eq!(at(&since(&mut cat, JobLevel::Incremental)), incr);
    assert_eq!(at(&since(&mut cat, JobLevel::Differential)), full);
    let diff = job(
        &mut cat,
        "B",
        JobLevel::Differential,
        JobStatus::Terminated,
        4000,
        fs,
    );
    assert_eq!(at(&since(&mut cat, JobLevel::Incremental)), diff);
    assert_eq!(at(&since(&mut cat, JobLevel::Differential)), full);
    // Canceled, other job name, other fileset: ignored.
    job(
        &mut cat,
        "B",
        JobLevel::Incremental,
        JobStatus::Canceled,
        5000,
        fs,
    );
    job(
        &mut cat,
        "Other",
        JobLevel::Full,
        JobStatus::Terminated,
        6000,
        fs,
    );
    let changed = cat
        .get_or_create_fileset("CapSet", "changedMD5changedMD5xx", "", 6500)
        .unwrap();
    assert_ne!(changed.fileset_id, fs, "a changed MD5 is a new FileSet row");
    job(
        &mut cat,
        "B",
        JobLevel::Full,
        JobStatus::Terminated,
        7000,
        changed.fileset_id,
    );
    match since(&mut cat, JobLevel::Incremental) {
        SinceTime::Since {
            job_id, start_time, ..
        } => {
            assert_eq!(job_id, diff);
            assert_eq!(start_time, 4000);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        cat.since_time("B", fx.client_id, changed.fileset_id, JobLevel::Incremental)
            .unwrap(),
        SinceTime::Since {
            start_time: 7000,
            job_id: 7,
            job: "B.7".into()
        }
    );
}

fn attr<'a>(fi: u32, fname: &'a str, lstat: &'a str) -> FileAttr<'a> {
    FileAttr::from_fname(fi, fname, lstat, "0")
}

/// "Restore current" across Full + Incrementals: the newest version of each file wins, a
/// file whose newest version is a deletion marker (FileIndex 0) is not restored, and a point
/// in time before the Incremental restores the Full's versions.
fn restore_current_newest_and_deleted(o: Opener<'_>) {
    let mut cat = open(o);
    let fx = fixture(&mut cat);
    let lstat = "P4A DwZD IGk B A A A G BAA I BrAw5j BpVzWl BrAw5j A A C";
    let run = |cat: &mut Catalog, level: JobLevel, start: i64, files: &[FileAttr<'_>], sid: u32| {
        let id = cat
            .create_job(&NewJob {
                job: &format!("R.{start}"),
                name: "R",
                job_type: JobType::Backup,
                level,
                sched_time: start,
            })
            .unwrap();
        cat.update_job_start(&JobStart {
            job_id: id,
            status: JobStatus::Running,
            level,
            start_time: start,
            client_id: fx.client_id,
            pool_id: fx.pool_id,
            fileset_id: fx.fileset_id,
        })
        .unwrap();
        let m = cat
            .find_or_create_media(fx.pool_id, "File", fx.storage_id)
            .unwrap();
        cat.insert_file_attributes(id, files).unwrap();
        let last = files.iter().map(|f| f.file_index).max().unwrap_or(0);
        cat.create_job_media(&NewJobMedia {
            job_id: id,
            media_id: m.media_id,
            first_index: 1,
            last_index: last,
            start_file: 0,
            end_file: 0,
            start_block: 203,
            end_block: 1000,
            vol_index: 2,
            job_bytes: 0,
        })
        .unwrap();
        cat.update_media(&MediaUpdate {
            vol_jobs: 1,
            ..update(m.media_id, start)
        })
        .unwrap();
        cat.update_job_end(&JobEnd {
            job_id: id,
            status: JobStatus::Terminated,
            job_type: JobType::Backup,
            level,
            end_time: start + 1,
            real_end_time: start + 1,
            job_files: files.len() as u32,
            job_bytes: 0,
            read_bytes: 0,
            job_errors: 0,
            vol_session_id: sid,
            vol_session_time: 1_795_000_000,
            prior_job_id: 0,
        })
        .unwrap();
        id
    };
    let full = run(
        &mut cat,
        JobLevel::Full,
        1000,
        &[
            attr(1, "/d/", lstat),
            attr(2, "/d/a", lstat),
            attr(3, "/d/b", lstat),
            attr(4, "/d/c", lstat),
            attr(5, "/d/e/", lstat),
            attr(6, "/d/e/f", lstat),
        ],
        1,
    );
    // Incremental 1: a changed, b deleted (accurate FT_DELETED -> FileIndex 0), g added.
    let i1 = run(
        &mut cat,
        JobLevel::Incremental,
        2000,
        &[
            attr(1, "/d/", lstat),
            attr(2, "/d/a", lstat),
            attr(0, "/d/b", lstat),
            attr(3, "/d/g", lstat),
        ],
        2,
    );
    // Incremental 2: f changed, g deleted again, b comes back.
    let i2 = run(
        &mut cat,
        JobLevel::Incremental,
        3000,
        &[
            attr(1, "/d/e/f", lstat),
            attr(0, "/d/g", lstat),
            attr(2, "/d/b", lstat),
        ],
        3,
    );

    let names = |sel: &director::catalog::RestoreSelection| -> Vec<(String, i64, u32)> {
        let mut v: Vec<_> = sel
            .files
            .iter()
            .map(|f| (f.fname(), f.job_id, f.file_index))
            .collect();
        v.sort();
        v
    };
    let sel = cat
        .restore_current(fx.client_id, fx.fileset_id, 10_000)
        .unwrap();
    assert_eq!(sel.job_ids, vec![full, i1, i2]);
    assert_eq!(
        names(&sel),
        vec![
            ("/d/".into(), i1, 1),
            ("/d/a".into(), i1, 2),
            ("/d/b".into(), i2, 2),
            ("/d/c".into(), full, 4),
            ("/d/e/".into(), full, 5),
            ("/d/e/f".into(), i2, 1),
        ]
    );
    let bsr = cat.build_bootstrap(&sel).unwrap();
    assert_eq!(bsr.expected_files(), 6);
    let per_job: Vec<(i64, Vec<(u32, u32)>)> = bsr
        .entries
        .iter()
        .map(|e| (e.job_id, e.file_indexes.clone()))
        .collect();
    assert_eq!(
        per_job,
        vec![(full, vec![(4, 5)]), (i1, vec![(1, 2)]), (i2, vec![(1, 2)])]
    );

    // As of just after Incremental 1: b is deleted, g exists.
    let sel = cat
        .restore_current(fx.client_id, fx.fileset_id, 2500)
        .unwrap();
    assert_eq!(sel.job_ids, vec![full, i1]);
    assert_eq!(
        names(&sel),
        vec![
            ("/d/".into(), i1, 1),
            ("/d/a".into(), i1, 2),
            ("/d/c".into(), full, 4),
            ("/d/e/".into(), full, 5),
            ("/d/e/f".into(), full, 6),
            ("/d/g".into(), i1, 3),
        ]
    );
    // Before the Full: nothing.
    assert!(cat
        .restore_current(fx.client_id, fx.fileset_id, 999)
        .unwrap()
        .files
        .is_empty());
    // A Differential replaces the Incrementals before it.
    let diff = run(
        &mut cat,
        JobLevel::Differential,
        4000,
        &[attr(1, "/d/c", lstat)],
        4,
    );
    let i3 = run(
        &mut cat,
        JobLevel::Incremental,
        5000,
        &[attr(1, "/d/a", lstat)],
        5,
    );
    assert_eq!(
        cat.restore_jobids(fx.client_id, fx.fileset_id, 10_000)
            .unwrap(),
        vec![full, diff, i3]
    );
}

/// Volume naming from the Label Format (Cap-0001, Cap-0002, … skipping taken names),
/// MaxVols, and FindMedia ordering.
fn media_selection_and_naming(o: Opener<'_>) {
    let mut cat = open(o);
    let fx = fixture(&mut cat);
    let v1 = cat
        .create_volume(fx.pool_id, "File", fx.storage_id)
        .unwrap();
    let v2 = cat
        .create_volume(fx.pool_id, "File", fx.storage_id)
        .unwrap();
    assert_eq!(
        (v1.volume_name.as_str(), v2.volume_name.as_str()),
        ("Cap-0001", "Cap-0002")
    );
    assert_eq!(cat.pool("Cap").unwrap().unwrap().num_vols, 2);

    // A hand-labelled volume that takes the next generated name: the generator skips it.
    let other = cat
        .get_or_create_pool(&PoolSpec::backup("Other", ""))
        .unwrap();
    let taken = cat
        .create_media(&NewMedia {
            volume_name: "Cap-0004",
            pool_id: other.pool_id,
            media_type: "File",
            storage_id: fx.storage_id,
            vol_status: VolStatus::Append,
            label_date: Some(100),
        })
        .unwrap();
    assert_eq!(taken.media_id, 3);
    let v4 = cat
        .create_volume(fx.pool_id, "File", fx.storage_id)
        .unwrap();
    assert_eq!(v4.volume_name, "Cap-0005", "MAX(MediaId)+1 = 4 is taken");
    // A pool without Label Format cannot create volumes.
    assert_eq!(
        cat.create_volume(other.pool_id, "File", 0).map(|_| ()),
        Err(Error::NoVolume)
    );
    // MaxVols reached.
    let mut limited = PoolSpec::backup("Limited", "L-");
    limited.max_vols = 1;
    let lp = cat.get_or_create_pool(&limited).unwrap();
    cat.create_volume(lp.pool_id, "File", 0).unwrap();
    assert_eq!(
        cat.create_volume(lp.pool_id, "File", 0).map(|_| ()),
        Err(Error::NoVolume)
    );

    // FindMedia: Unlabeled volumes are used when nothing is Append, lowest MediaId first.
    let f = cat
        .find_appendable_media(fx.pool_id, "File")
        .unwrap()
        .unwrap();
    assert_eq!(f.volume_name, "Cap-0001");
    assert_eq!(f.vol_status, VolStatus::Unlabeled);
    // Once labelled/written: Append volumes first, most recently written first.
    cat.update_media(&update(v1.media_id, 1000)).unwrap();
    cat.update_media(&update(v2.media_id, 2000)).unwrap();
    assert_eq!(
        cat.find_appendable_media(fx.pool_id, "File")
            .unwrap()
            .unwrap()
            .volume_name,
        "Cap-0002"
    );
    // Full, disabled-by-status and other media types are skipped.
    cat.set_media_status(v2.media_id, &VolStatus::Full).unwrap();
    assert_eq!(
        cat.find_appendable_media(fx.pool_id, "File")
            .unwrap()
            .unwrap()
            .volume_name,
        "Cap-0001"
    );
    assert_eq!(
        cat.find_appendable_media(fx.pool_id, "LTO-8").unwrap(),
        None
    );
    cat.set_media_status(v1.media_id, &VolStatus::Used).unwrap();
    cat.set_media_status(v4.media_id, &VolStatus::Error)
        .unwrap();
    assert_eq!(cat.find_appendable_media(fx.pool_id, "File").unwrap(), None);
    // ... so find_or_create labels a new one.
    let v6 = cat
        .find_or_create_media(fx.pool_id, "File", fx.storage_id)
        .unwrap();
    assert_eq!(v6.volume_name, "Cap-0006", "after L-0005 of pool Limited");
    assert_eq!(v6.vol_status, VolStatus::Unlabeled);
    // Volume names are unique across pools.
    assert!(matches!(
        cat.create_media(&NewMedia {
            volume_name: "Cap-0001",
            pool_id: fx.pool_id,
            media_type: "File",
            storage_id: 0,
            vol_status: VolStatus::Append,
            label_date: None,
        }),
        Err(Error::Database(_))
    ));
    assert_eq!(
        cat.set_media_status(999, &VolStatus::Full),
        Err(Error::NotFound("media"))
    );
}

/// Pruning and recycling with explicit times (the "fake clock"): a pool with two volumes,
/// `Maximum Volume Jobs = 1`, `Maximum Volumes = 2` and a 100 s Volume Retention. Two jobs
/// fill both volumes; a third finds none appendable, cannot create one, prunes the expired
/// oldest volume (its job and files are deleted, it becomes Purged) and recycles it. File
/// and Job Retention prune a client's records; purge and volstatus updates.
fn pruning_and_recycling(o: Opener<'_>) {
    use director::catalog::NextVolume;
    let mut cat = open(o);
    let fx = fixture(&mut cat);
    let mut spec = PoolSpec::backup("Small", "S-");
    spec.max_vol_jobs = 1;
    spec.max_vols = 2;
    spec.vol_retention = 100;
    let pool = cat.get_or_create_pool(&spec).unwrap();
    let lstat = "P4A DwZD IGk B A A A G BAA I BrAw5j BpVzWl BrAw5j A A C";
    let job = |cat: &mut Catalog, start: i64| -> (i64, NextVolume) {
        let id = cat
            .create_job(&NewJob {
                job: &format!("P.{start}"),
                name: "P",
                job_type: JobType::Backup,
                level: JobLevel::Full,
                sched_time: start,
            })
            .unwrap();
        cat.update_job_start(&JobStart {
            job_id: id,
            status: JobStatus::Running,
            level: JobLevel::Full,
            start_time: start,
            client_id: fx.client_id,
            pool_id: pool.pool_id,
            fileset_id: fx.fileset_id,
        })
        .unwrap();
        let next = cat
            .next_volume_for_append(pool.pool_id, "File", fx.storage_id, start)
            .unwrap();
        let m = next.media().clone();
        cat.insert_file_attributes(id, &[attr(1, "/p/", lstat), attr(2, "/p/f", lstat)])
            .unwrap();
        cat.create_job_media(&NewJobMedia {
            job_id: id,
            media_id: m.media_id,
            first_index: 1,
            last_index: 2,
            start_file: 0,
            end_file: 0,
            start_block: 203,
            end_block: 1000,
            vol_index: 1,
            job_bytes: 0,
        })
        .unwrap();
        let after = cat
            .update_media(&MediaUpdate {
                vol_jobs: 1,
                ..update(m.media_id, start)
            })
            .unwrap();
        assert_eq!(after.vol_status, VolStatus::Used, "Maximum Volume Jobs = 1");
        cat.update_job_end(&JobEnd {
            job_id: id,
            status: JobStatus::Terminated,
            job_type: JobType::Backup,
            level: JobLevel::Full,
            end_time: start + 1,
            real_end_time: start + 1,
            job_files: 2,
            job_bytes: 0,
            read_bytes: 0,
            job_errors: 0,
            vol_session_id: 1,
            vol_session_time: 1,
            prior_job_id: 0,
        })
        .unwrap();
        (id, next)
    };
    let (j1, n1) = job(&mut cat, 1000);
    assert!(
        matches!(&n1, NextVolume::Created(m) if m.volume_name == "S-0001"),
        "{n1:?}"
    );
    let (j2, n2) = job(&mut cat, 1050);
    assert!(
        matches!(&n2, NextVolume::Created(m) if m.volume_name == "S-0002"),
        "{n2:?}"
    );
    // At 1080 nothing has expired: no volume (MaxVols reached, nothing to recycle).
    assert_eq!(
        cat.next_volume_for_append(pool.pool_id, "File", fx.storage_id, 1080)
            .map(|_| ()),
        Err(Error::NoVolume)
    );
    assert_eq!(cat.list_jobs(Some(j1)).unwrap().len(), 1, "job 1 kept");
    // At 1101 S-0001 (last written 1000, retention 100) is pruned and recycled.
    let (j3, n3) = job(&mut cat, 1101);
    match &n3 {
        NextVolume::Recycled(m) => {
            assert_eq!(m.volume_name, "S-0001");
            assert_eq!(m.vol_status, VolStatus::Recycle);
            assert_eq!((m.vol_jobs, m.vol_bytes), (0, 1));
        }
        other => panic!("expected S-0001 recycled, got {other:?}"),
    }
    assert!(cat.list_jobs(Some(j1)).unwrap().is_empty(), "job 1 pruned");
    assert!(
        cat.select_files(&[j1]).unwrap().files.is_empty(),
        "its files too"
    );
    assert_eq!(cat.list_jobs(Some(j2)).unwrap().len(), 1, "job 2 kept");
    assert_eq!(
        cat.job_ids_on_volume(n3.media().media_id).unwrap(),
        vec![j3]
    );
    assert_eq!(cat.pool("Small").unwrap().unwrap().num_vols, 2);

    // prune volume: not before its retention, then Purged.
    let v2 = cat.media("S-0002").unwrap().unwrap();
    assert!(!cat.prune_volume(v2.media_id, 1100).unwrap());
    assert!(cat.prune_volume(v2.media_id, 1151).unwrap());
    assert_eq!(
        cat.media("S-0002").unwrap().unwrap().vol_status,
        VolStatus::Purged
    );
    assert!(cat.list_jobs(Some(j2)).unwrap().is_empty());

    // File retention: files go, the job stays (PurgedFiles); job retention: the job goes.
    assert_eq!(cat.prune_files(fx.client_id, 10, 1105).unwrap(), 0);
    assert_eq!(cat.prune_files(fx.client_id, 10, 1200).unwrap(), 1);
    assert!(cat.select_files(&[j3]).unwrap().files.is_empty());
    assert_eq!(cat.list_jobs(Some(j3)).unwrap().len(), 1);
    assert_eq!(cat.prune_jobs(fx.client_id, 1000, 1200).unwrap(), 0);
    assert_eq!(cat.prune_jobs(fx.client_id, 10, 1200).unwrap(), 1);
    assert!(cat.list_jobs(Some(j3)).unwrap().is_empty());

    // purge volume ignores retention; a recycled volume is handed out before pruning.
    let (j4, n4) = job(&mut cat, 1300);
    assert!(
        matches!(&n4, NextVolume::Recycled(m) if m.volume_name == "S-0002"),
        "{n4:?}"
    );
    assert_eq!(cat.purge_volume(n4.media().media_id).unwrap(), 1);
    assert!(cat.list_jobs(Some(j4)).unwrap().is_empty());
    assert_eq!(
        cat.media("S-0002").unwrap().unwrap().vol_status,
        VolStatus::Purged
    );
    // Recycle = no keeps a purged volume out.
    let mut keep = PoolSpec::backup("Keep", "K-");
    keep.max_vols = 1;
    keep.recycle = false;
    let kp = cat.get_or_create_pool(&keep).unwrap();
    let k = cat.create_volume(kp.pool_id, "File", 0).unwrap();
    cat.set_media_status(k.media_id, &VolStatus::Purged)
        .unwrap();
    assert_eq!(
        cat.next_volume_for_append(kp.pool_id, "File", 0, 5000)
            .map(|_| ()),
        Err(Error::NoVolume)
    );
    // Volume Use Duration turns an Append volume Used when a job looks for one.
    let mut dur = PoolSpec::backup("Dur", "D-");
    dur.vol_use_duration = 60;
    let dp = cat.get_or_create_pool(&dur).unwrap();
    let d1 = cat.create_volume(dp.pool_id, "File", 0).unwrap();
    cat.update_media(&MediaUpdate {
        vol_jobs: 1,
        ..update(d1.media_id, 2000)
    })
    .unwrap();
    let again = cat
        .next_volume_for_append(dp.pool_id, "File", 0, 2030)
        .unwrap();
    assert_eq!(again.media().volume_name, d1.volume_name);
    let fresh = cat
        .next_volume_for_append(dp.pool_id, "File", 0, 2061)
        .unwrap();
    assert!(
        matches!(&fresh, NextVolume::Created(m) if m.volume_name != d1.volume_name),
        "{fresh:?}"
    );
    assert_eq!(
        cat.media(&d1.volume_name).unwrap().unwrap().vol_status,
        VolStatus::Used
    );
}

/// `list jobs`, `list jobid=`, `list files jobid=`, `list volumes`, `list pools`,
/// `list clients` over the captured Full and Incremental; the job rows match the captured
/// `list jobs` output (`vectors/clear-bconsole/bconsole-output.txt`).
fn list_queries(o: Opener<'_>) {
    let mut cat = open(o);
    let fx = fixture(&mut cat);
    replay_backup(&mut cat, &fx, &dump_job(1));
    replay_backup(&mut cat, &fx, &dump_job(2));

    let jobs = cat.list_jobs(None).unwrap();
    let shown: Vec<String> = jobs
        .iter()
        .map(|j| {
            format!(
                "{} {} {} {} 00:00:{:02} {} {} {} {} {}",
                j.job_id,
                j.name,
                j.client,
                director::catalog::time::format_sql(j.start_time.unwrap()),
                j.duration(),
                char::from(j.job_type.to_u8()),
                char::from(j.level.to_u8()),
                j.job_files,
                j.job_bytes,
                char::from(j.status.to_u8())
            )
        })
        .collect();
    // The first two rows of the captured `list jobs` table, cells joined by one space.
    let out = vectors::read("clear-bconsole/bconsole-output.txt");
    let captured: Vec<String> = out
        .lines()
        .filter(|l| l.starts_with("|     1 |") || l.starts_with("|     2 |"))
        .take(2)
        .map(|l| {
            l.split('|')
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    assert_eq!(shown, captured);
    assert_eq!(cat.list_jobs(Some(2)).unwrap(), vec![jobs[1].clone()]);
    assert_eq!(cat.list_jobs(Some(99)).unwrap(), vec![]);

    // `list joblog`: a job's messages in the order stored, only that job's.
    cat.insert_log(
        2,
        1_795_362_442,
        "bareos-dir JobId 2: Start Backup JobId 2\n",
    )
    .unwrap();
    cat.insert_log(1, 1_795_362_415, "bareos-dir JobId 1: other job\n")
        .unwrap();
    cat.insert_log(
        2,
        1_795_362_441,
        "bareos-dir JobId 2: second, earlier time\n",
    )
    .unwrap();
    let log = cat.list_joblog(2).unwrap();
    assert_eq!(
        log,
        vec![
            (
                Some(1_795_362_442),
                "bareos-dir JobId 2: Start Backup JobId 2\n".to_string()
            ),
            (
                Some(1_795_362_441),
                "bareos-dir JobId 2: second, earlier time\n".to_string()
            ),
        ]
    );
    assert_eq!(cat.list_joblog(99).unwrap(), vec![]);
    let unique = dump_job(2)["job"].clone();
    assert_eq!(cat.job_id_of(&unique).unwrap(), Some(2));
    assert_eq!(
        cat.job_id_of("NoSuchJob.2026-11-22_00.00.00_00").unwrap(),
        None
    );

    assert_eq!(
        cat.list_files(2).unwrap(),
        vec![
            "/srv/bareos-capture/testdata/tree/hello.txt",
            "/srv/bareos-capture/testdata/tree/sub/added.txt",
            "/srv/bareos-capture/testdata/tree/sub/",
        ]
    );
    assert_eq!(cat.list_files(1).unwrap().len(), 6);
    assert_eq!(cat.count_files(1).unwrap(), 6);

    let vols = cat.list_volumes(None).unwrap();
    let v: Vec<(&str, &str, &str, i64)> = vols
        .iter()
        .map(|(p, m)| {
            (
                p.as_str(),
                m.volume_name.as_str(),
                m.vol_status.as_str(),
                m.vol_bytes,
            )
        })
        .collect();
    assert_eq!(
        v,
        vec![
            ("Cap", "Cap-0001", "Used", 1787),
            ("Cap", "Cap-0002", "Used", 1106)
        ]
    );
    assert_eq!(cat.list_volumes(Some("Scratch")).unwrap(), vec![]);
    let pools = cat.list_pools().unwrap();
    assert_eq!(pools.len(), 1);
    assert_eq!((pools[0].spec.name.as_str(), pools[0].num_vols), ("Cap", 2));
    assert_eq!(pools[0].spec.label_format, "Cap-");
    let clients = cat.list_clients().unwrap();
    assert_eq!(clients.len(), 1);
    assert_eq!(clients[0].name, "bareos-fd");
    assert!(clients[0].uname.starts_with("26.0.0~pre1298"));
}

/// Impossible or invalid input is refused with an error and leaves nothing behind.
fn invalid_input(o: Opener<'_>) {
    let mut cat = open(o);
    let fx = fixture(&mut cat);
    let id = cat
        .create_job(&NewJob {
            job: "X.1",
            name: "X",
            job_type: JobType::Backup,
            level: JobLevel::Full,
            sched_time: 1,
        })
        .unwrap();
    // A batch with one bad row inserts nothing (one transaction), paths included.
    let bad = [
        attr(1, "/new/path/a", "P4A"),
        FileAttr {
            lstat: "",
            ..attr(2, "/new/path/b", "P4A")
        },
    ];
    assert!(matches!(
        cat.insert_file_attributes(id, &bad),
        Err(Error::InvalidInput(_))
    ));
    assert_eq!(cat.count_files(id).unwrap(), 0);
    assert!(cat.insert_file_attributes(id, &[]).is_ok());
    // Duplicate unique job name.
    assert!(matches!(
        cat.create_job(&NewJob {
            job: "X.1",
            name: "X",
            job_type: JobType::Backup,
            level: JobLevel::Full,
            sched_time: 1,
        }),
        Err(Error::Database(_))
    ));
    // LastIndex < FirstIndex.
    assert!(matches!(
        cat.create_job_media(&NewJobMedia {
            job_id: id,
            media_id: 1,
            first_index: 5,
            last_index: 4,
            start_file: 0,
            end_file: 0,
            start_block: 0,
            end_block: 0,
            vol_index: 1,
            job_bytes: 0,
        }),
        Err(Error::InvalidInput(_))
    ));
    // JobBytes beyond i64.
    let end = JobEnd {
        job_id: id,
        status: JobStatus::Terminated,
        job_type: JobType::Backup,
        level: JobLevel::Full,
        end_time: 2,
        real_end_time: 2,
        job_files: 0,
        job_bytes: u64::MAX,
        read_bytes: 0,
        job_errors: 0,
        vol_session_id: 0,
        vol_session_time: 0,
        prior_job_id: 0,
    };
    assert_eq!(cat.update_job_end(&end), Err(Error::OutOfRange));
    assert_eq!(
        cat.update_job_end(&JobEnd {
            job_id: 999,
            job_bytes: 0,
            ..end.clone()
        }),
        Err(Error::NotFound("job"))
    );
    assert!(matches!(
        cat.update_media(&update(999, 1)),
        Err(Error::NotFound("media"))
    ));
    assert!(matches!(
        cat.create_media(&NewMedia {
            volume_name: "",
            pool_id: fx.pool_id,
            media_type: "File",
            storage_id: 0,
            vol_status: VolStatus::Append,
            label_date: None,
        }),
        Err(Error::InvalidInput(_))
    ));
    // Unknown letters are carried, not rejected.
    let j = cat.job(id).unwrap().unwrap();
    assert_eq!(j.status, JobStatus::Created);
    assert_eq!(cat.job(12345).unwrap(), None);
    // A selection of unknown jobs is empty, and so is its bootstrap.
    let sel = cat.select_files(&[4242]).unwrap();
    assert!(sel.files.is_empty());
    assert!(cat.build_bootstrap(&sel).unwrap().entries.is_empty());
}

/// A Director killed mid-job leaves `C`/`R` rows; at start they become `f` as in Bareos'
/// `CheckCatalog` (created: Start = End = SchedTime; running: End = Start), each with a job
/// log line saying why; finished jobs are untouched and a second pass finds nothing.
fn orphaned_jobs_fail_at_start(o: Opener<'_>) {
    let mut cat = open(o);
    let new = |cat: &mut Catalog, name: &str, sched: i64| {
        cat.create_job(&NewJob {
            job: name,
            name: "DemoBackup",
            job_type: JobType::Backup,
            level: JobLevel::Full,
            sched_time: sched,
        })
        .unwrap()
    };
    let start = |cat: &mut Catalog, id: i64, at: i64| {
        cat.update_job_start(&JobStart {
            job_id: id,
            status: JobStatus::Running,
            level: JobLevel::Full,
            start_time: at,
            client_id: 0,
            pool_id: 0,
            fileset_id: 0,
        })
        .unwrap()
    };
    let done = new(&mut cat, "done.1", 1_000);
    start(&mut cat, done, 1_010);
    cat.update_job_end(&JobEnd {
        job_id: done,
        status: JobStatus::Terminated,
        job_type: JobType::Backup,
        level: JobLevel::Full,
        end_time: 1_020,
        real_end_time: 1_020,
        job_files: 1,
        job_bytes: 1,
        read_bytes: 1,
        job_errors: 0,
        vol_session_id: 1,
        vol_session_time: 1,
        prior_job_id: 0,
    })
    .unwrap();
    let running = new(&mut cat, "running.2", 2_000);
    start(&mut cat, running, 2_010);
    let created = new(&mut cat, "created.3", 3_000);

    let now = 4_000;
    let got = director::jobs::messages::fail_orphaned_jobs(&mut cat, "barque-dir", now).unwrap();
    let ids: Vec<(i64, JobStatus)> = got.iter().map(|j| (j.job_id, j.was)).collect();
    assert_eq!(
        ids,
        vec![(running, JobStatus::Running), (created, JobStatus::Created)]
    );
    let r = cat.job(running).unwrap().unwrap();
    assert_eq!(r.status, JobStatus::FatalError);
    assert_eq!((r.start_time, r.end_time), (Some(2_010), Some(2_010)));
    let c = cat.job(created).unwrap().unwrap();
    assert_eq!(c.status, JobStatus::FatalError);
    assert_eq!((c.start_time, c.end_time), (Some(3_000), Some(3_000)));
    assert_eq!(
        cat.job(done).unwrap().unwrap().status,
        JobStatus::Terminated
    );
    // `list jobs` shows no running job any more.
    assert!(cat
        .list_jobs(None)
        .unwrap()
        .iter()
        .all(|j| j.job_id == done || j.status == JobStatus::FatalError));
    // The job log says why.
    let mut conn = o();
    let rows = conn
        .query("SELECT JobId, LogText FROM Log ORDER BY JobId", &[])
        .unwrap();
    let logs: Vec<(i64, String)> = rows
        .iter()
        .map(|r| (r.int(0).unwrap(), r.text(1).unwrap()))
        .collect();
    assert_eq!(logs.len(), 2, "{logs:?}");
    assert_eq!(logs[0].0, running);
    assert!(
        logs[0].1.contains(&format!("barque-dir JobId {running}: Fatal error: Job running.2 was running when the Director stopped")),
        "{logs:?}"
    );
    assert!(logs[1].1.contains("was waiting to start"), "{logs:?}");
    // Nothing left for a second start.
    assert!(cat.fail_orphaned_jobs().unwrap().is_empty());
}

type SuiteFn = fn(Opener<'_>);

const SUITE: &[(&str, SuiteFn)] = &[
    ("migrations", migrations),
    ("capture_backup_and_restore", capture_backup_and_restore),
    ("since_time_rules", since_time_rules),
    (
        "restore_current_newest_and_deleted",
        restore_current_newest_and_deleted,
    ),
    ("media_selection_and_naming", media_selection_and_naming),
    ("list_queries", list_queries),
    ("invalid_input", invalid_input),
    ("pruning_and_recycling", pruning_and_recycling),
    ("orphaned_jobs_fail_at_start", orphaned_jobs_fail_at_start),
];

// ---- SQLite: one test per suite function ---------------------------------------------------

fn on_sqlite(name: &str) {
    let (_, f) = SUITE.iter().find(|(n, _)| *n == name).expect("suite entry");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bareos.db");
    let opener =
        move || -> Box<dyn Conn> { Box::new(SqliteConn::open(&path).expect("open sqlite")) };
    f(&opener);
}

macro_rules! sqlite_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $name() { super::on_sqlite(stringify!($name)); } )*
        }
    };
}

sqlite_tests!(
    migrations,
    capture_backup_and_restore,
    since_time_rules,
    restore_current_newest_and_deleted,
    media_selection_and_naming,
    list_queries,
    invalid_input,
    pruning_and_recycling,
    orphaned_jobs_fail_at_start,
);

#[test]
fn sqlite_file_is_created_in_the_working_directory() {
    let dir = tempfile::tempdir().unwrap();
    let cfg =
        director::catalog::CatalogConfig::from_resource(dir.path(), "bareos", None, None, "", "");
    let mut cat = Catalog::open(&cfg).unwrap();
    assert!(dir.path().join("bareos.db").is_file());
    assert_eq!(cat.schema_version().unwrap(), latest_version());
    drop(cat);
    // Reopen: the schema is kept, nothing is re-applied.
    let mut cat = Catalog::open(&cfg).unwrap();
    assert_eq!(cat.migrate().unwrap(), Vec::<i64>::new());
}

// ---- PostgreSQL: one server, one database per suite function -------------------------------

#[test]
fn postgres_suite() {
    let server = common::pg::PgServer::start().unwrap_or_else(|e| {
        panic!("cannot start the PostgreSQL test server (scripts/setup installs `postgresql`): {e}")
    });
    for (name, f) in SUITE {
        server.create_db(name).unwrap();
        let params = server.params(name);
        eprintln!("postgres: {name}");
        let opener = move || -> Box<dyn Conn> {
            Box::new(director::catalog::postgres::PgConn::connect(&params).expect("connect"))
        };
        f(&opener);
    }
    // The Catalog resource path: DB Address selects PostgreSQL.
    server.create_db("via_resource").unwrap();
    let cfg = director::catalog::CatalogConfig::from_resource(
        server.dir(),
        "via_resource",
        Some("127.0.0.1"),
        Some(server.port),
        common::pg::SUPERUSER,
        common::pg::PASSWORD,
    );
    let mut cat = Catalog::open(&cfg).unwrap();
    assert_eq!(cat.dialect(), director::catalog::sql::Dialect::Postgres);
    assert_eq!(cat.schema_version().unwrap(), latest_version());
    // A wrong password is an error, not a panic.
    let bad = director::catalog::CatalogConfig::from_resource(
        server.dir(),
        "via_resource",
        Some("127.0.0.1"),
        Some(server.port),
        common::pg::SUPERUSER,
        "wrong",
    );
    assert!(matches!(Catalog::open(&bad), Err(Error::Database(_))));
}
