//! Catalog operations of Copy and Migrate jobs (`core/src/dird/migrate.cc`: the selection
//! queries and `MigrationCleanup()`; read for the facts, the SQL is ours).
//!
//! A copy or migration has three Job rows: the control job (Type `c` or `g`) that the
//! console started, the source backup (the "previous job") and the new job the writing SD
//! filled (created as a Backup). When the data went through:
//!
//! * the control job's `PriorJobId` is the new job,
//! * the new job's `PriorJobId` is the source, and its `StartTime`, `EndTime` and `JobTDate`
//!   are the source's (so "restore the most recent backup" orders it as the source),
//! * **Copy**: the source's log lines are copied to the new job, which becomes Type `C`;
//! * **Migrate**: the source becomes Type `M`, its log lines move to the new job and its File
//!   rows are purged (`PurgedFiles = 1`); with `Purge Migration Job = yes` the source's Job
//!   row and JobMedia rows go too.

use super::sql::Value;
use super::{Catalog, Error, JobType};

/// What [`Catalog::finish_copy`] records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CopyDone {
    /// The control job (Type `c`/`g`).
    pub control: i64,
    /// The source backup.
    pub source: i64,
    /// The new job the writing SD filled.
    pub new: i64,
    /// Migrate (true) or Copy.
    pub migrate: bool,
    /// `Purge Migration Job = yes`: also delete the source's Job and JobMedia rows.
    pub purge_job: bool,
}

fn type_text(t: JobType) -> Value {
    Value::Text(char::from(t.to_u8()).to_string())
}

impl Catalog {
    /// The jobs `Selection Type = PoolUncopiedJobs` picks in `pool`: Backup jobs that ended
    /// `T`/`W` with data and that no successful Backup or Copy job names as `PriorJobId`,
    /// oldest first.
    pub fn pool_uncopied_jobs(&mut self, pool: &str) -> Result<Vec<i64>, Error> {
        let rows = self.conn().query(
            "SELECT Job.JobId FROM Job JOIN Pool ON Pool.PoolId = Job.PoolId \
             WHERE Pool.Name = ? AND Job.Type = 'B' AND Job.JobStatus IN ('T', 'W') \
             AND Job.JobBytes > 0 AND Job.JobId NOT IN (SELECT j.PriorJobId FROM Job j \
             WHERE j.Type IN ('B', 'C') AND j.JobStatus IN ('T', 'W') AND j.PriorJobId != 0) \
             ORDER BY Job.StartTime, Job.JobId",
            &[pool.into()],
        )?;
        rows.iter().map(|r| r.int(0)).collect()
    }

    /// Record a successful copy or migration (see the module docs).
    pub fn finish_copy(&mut self, d: &CopyDone) -> Result<(), Error> {
        let source = self.job(d.source)?.ok_or(Error::NotFound("job"))?;
        let c = self.conn();
        c.execute(
            "UPDATE Job SET PriorJobId = ? WHERE JobId = ?",
            &[d.new.into(), d.control.into()],
        )?;
        c.execute(
            "UPDATE Job SET PriorJobId = ?, StartTime = ?, EndTime = ?, JobTDate = ? \
             WHERE JobId = ?",
            &[
                d.source.into(),
                source.start_time.map_or(Value::Null, Value::Time),
                source.end_time.map_or(Value::Null, Value::Time),
                source.job_tdate.into(),
                d.new.into(),
            ],
        )?;
        if d.migrate {
            c.execute(
                "UPDATE Job SET Type = ?, PurgedFiles = 1 WHERE JobId = ?",
                &[type_text(JobType::MigratedJob), d.source.into()],
            )?;
            c.execute(
                "UPDATE Log SET JobId = ? WHERE JobId = ?",
                &[d.new.into(), d.source.into()],
            )?;
            c.execute("DELETE FROM File WHERE JobId = ?", &[d.source.into()])?;
            if d.purge_job {
                c.execute("DELETE FROM JobMedia WHERE JobId = ?", &[d.source.into()])?;
                c.execute("DELETE FROM Job WHERE JobId = ?", &[d.source.into()])?;
            }
        } else {
            c.execute(
                "INSERT INTO Log (JobId, Time, LogText) \
                 SELECT ?, Time, LogText FROM Log WHERE JobId = ?",
                &[d.new.into(), d.source.into()],
            )?;
            c.execute(
                "UPDATE Job SET Type = ? WHERE JobId = ?",
                &[type_text(JobType::JobCopy), d.new.into()],
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{FileAttr, JobEnd, JobLevel, JobStart, JobStatus, NewJob, PoolSpec};
    use super::*;

    fn job(c: &mut Catalog, name: &str, t: JobType, pool_id: i64, prior: i64, at: i64) -> i64 {
        let id = c
            .create_job(&NewJob {
                job: &format!("{name}.{at}"),
                name,
                job_type: t,
                level: JobLevel::Full,
                sched_time: at,
            })
            .unwrap();
        c.update_job_start(&JobStart {
            job_id: id,
            status: JobStatus::Running,
            level: JobLevel::Full,
            start_time: at,
            client_id: 0,
            pool_id,
            fileset_id: 0,
        })
        .unwrap();
        c.update_job_end(&JobEnd {
            job_id: id,
            status: JobStatus::Terminated,
            job_type: t,
            level: JobLevel::Full,
            end_time: at + 5,
            real_end_time: at + 5,
            job_files: 2,
            job_bytes: 100,
            read_bytes: 100,
            job_errors: 0,
            vol_session_id: 1,
            vol_session_time: 2,
            prior_job_id: prior,
        })
        .unwrap();
        id
    }

    fn setup() -> (Catalog, i64) {
        let mut c = Catalog::open_in_memory().unwrap();
        let pool = c
            .get_or_create_pool(&PoolSpec::backup("Full", "Vol-"))
            .unwrap();
        let src = job(&mut c, "B", JobType::Backup, pool.pool_id, 0, 1_000);
        c.insert_file_attributes(
            src,
            &[
                FileAttr::from_fname(1, "/t/", "A", "x"),
                FileAttr::from_fname(2, "/t/a", "A", "y"),
            ],
        )
        .unwrap();
        c.insert_log(src, 1_000, "source log line\n").unwrap();
        (c, src)
    }

    #[test]
    fn copy_marks_the_new_job_c_and_the_source_as_copied() {
        let (mut c, src) = setup();
        assert_eq!(c.pool_uncopied_jobs("Full").unwrap(), vec![src]);
        assert_eq!(c.pool_uncopied_jobs("Other").unwrap(), Vec::<i64>::new());
        let ctl = job(&mut c, "CopyJob", JobType::Copy, 0, 0, 2_000);
        let new = job(&mut c, "B", JobType::Backup, 0, src, 2_000);
        c.finish_copy(&CopyDone {
            control: ctl,
            source: src,
            new,
            migrate: false,
            purge_job: false,
        })
        .unwrap();
        let n = c.job(new).unwrap().unwrap();
        assert_eq!(n.job_type, JobType::JobCopy);
        assert_eq!((n.prior_job_id, n.job_tdate), (src, 1_000));
        assert_eq!(c.job(ctl).unwrap().unwrap().prior_job_id, new);
        assert_eq!(c.job(src).unwrap().unwrap().job_type, JobType::Backup);
        assert_eq!(c.list_files(src).unwrap().len(), 2);
        // Copied now: PoolUncopiedJobs no longer selects it.
        assert_eq!(c.pool_uncopied_jobs("Full").unwrap(), Vec::<i64>::new());
    }

    #[test]
    fn migrate_marks_the_source_m_and_purges_its_files() {
        let (mut c, src) = setup();
        let ctl = job(&mut c, "MigrateJob", JobType::Migrate, 0, 0, 2_000);
        let new = job(&mut c, "B", JobType::Backup, 0, src, 2_000);
        c.finish_copy(&CopyDone {
            control: ctl,
            source: src,
            new,
            migrate: true,
            purge_job: false,
        })
        .unwrap();
        let s = c.job(src).unwrap().unwrap();
        assert_eq!(s.job_type, JobType::MigratedJob);
        assert!(c.list_files(src).unwrap().is_empty());
        assert_eq!(c.job(new).unwrap().unwrap().job_type, JobType::Backup);

        // Purge Migration Job = yes: the source row goes too.
        let (mut c, src) = setup();
        let new = job(&mut c, "B", JobType::Backup, 0, src, 2_000);
        c.finish_copy(&CopyDone {
            control: new,
            source: src,
            new,
            migrate: true,
            purge_job: true,
        })
        .unwrap();
        assert!(c.job(src).unwrap().is_none());
    }
}
