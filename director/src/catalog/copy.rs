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
