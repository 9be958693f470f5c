//! Pruning, purging and recycling (`core/src/dird/ua_prune.cc`, `ua_purge.cc`,
//! `autoprune.cc`, `recycle.cc`, `next_vol.cc`; facts only).
//!
//! - **Prune files** of a client: the File rows of its jobs older than the File Retention
//!   are deleted and the jobs get `PurgedFiles = 1` (they can no longer be restored file by
//!   file).
//! - **Prune jobs** of a client: its jobs older than the Job Retention are deleted with
//!   their File, JobMedia and Log rows.
//! - **Prune a volume**: when a `Full` or `Used` volume was last written more than its
//!   Volume Retention ago, every job with data on it is deleted; a volume without JobMedia
//!   rows left becomes `Purged`.
//! - **Purge** does the same without looking at retentions.
//! - **Recycle** a `Purged` volume whose `Recycle` flag is set: `VolStatus = Recycle`, its
//!   counters cleared (`VolBytes = 1` as Bareos does), `RecycleCount` incremented. The SD
//!   relabels a volume it is given with status `Recycle` under the same name.
//!
//! [`Catalog::next_volume_for_append`] is `FindNextVolumeForAppend()`'s order: an `Append`
//! volume (after the volume limits are applied with the current time), an `Unlabeled` one,
//! one already in `Recycle`, the oldest `Purged` one recycled, then (with the pool's
//! AutoPrune) the pool's volumes pruned and the oldest purged one recycled, and last a new
//! volume from the Label Format.

use super::sql::Value;
use super::{Catalog, Error, MediaRecord, VolStatus};

/// Which volume [`Catalog::next_volume_for_append`] chose and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NextVolume {
    /// An existing volume to append to (or to label).
    Existing(MediaRecord),
    /// A purged volume, now `Recycle`.
    Recycled(MediaRecord),
    /// A new volume from the Label Format.
    Created(MediaRecord),
}

impl NextVolume {
    /// The volume.
    pub fn media(&self) -> &MediaRecord {
        match self {
            NextVolume::Existing(m) | NextVolume::Recycled(m) | NextVolume::Created(m) => m,
        }
    }
}

impl Catalog {
    fn ids(&mut self, sql: &str, params: &[Value]) -> Result<Vec<i64>, Error> {
        self.conn()
            .query(sql, params)?
            .iter()
            .map(|r| r.int(0))
            .collect()
    }

    /// The jobs with data on a volume.
    pub fn job_ids_on_volume(&mut self, media_id: i64) -> Result<Vec<i64>, Error> {
        self.ids(
            "SELECT DISTINCT JobId FROM JobMedia WHERE MediaId = ? ORDER BY JobId",
            &[media_id.into()],
        )
    }

    /// The finished jobs of a client.
    pub fn client_job_ids(&mut self, client_id: i64) -> Result<Vec<i64>, Error> {
        self.ids(
            "SELECT JobId FROM Job WHERE ClientId = ? AND JobStatus NOT IN ('R', 'C') \
             ORDER BY JobId",
            &[client_id.into()],
        )
    }

    /// Delete jobs and everything that hangs on them (File, JobMedia, Log); the volumes
    /// they were on become `Purged` when nothing else is on them. Returns the number of
    /// jobs deleted.
    pub fn purge_jobs(&mut self, job_ids: &[i64]) -> Result<u64, Error> {
        if job_ids.is_empty() {
            return Ok(0);
        }
        self.in_tx(|c| {
            let mut media = Vec::new();
            for id in job_ids {
                for m in c.ids(
                    "SELECT DISTINCT MediaId FROM JobMedia WHERE JobId = ?",
                    &[(*id).into()],
                )? {
                    if !media.contains(&m) {
                        media.push(m);
                    }
                }
                for t in ["File", "JobMedia", "Log", "Job"] {
                    c.conn()
                        .execute(&format!("DELETE FROM {t} WHERE JobId = ?"), &[(*id).into()])?;
                }
            }
            for m in media {
                c.mark_purged_if_empty(m)?;
            }
            Ok(job_ids.len() as u64)
        })
    }

    /// A `Full`/`Used`/`Error` volume with no JobMedia rows left becomes `Purged`
    /// (`IsVolumePurged()`); returns whether it did.
    fn mark_purged_if_empty(&mut self, media_id: i64) -> Result<bool, Error> {
        let Some(m) = self.media_by_id(media_id)? else {
            return Ok(false);
        };
        if !matches!(
            m.vol_status,
            VolStatus::Full | VolStatus::Used | VolStatus::Error
        ) {
            return Ok(false);
        }
        let left = self.ids(
            "SELECT COUNT(*) FROM JobMedia WHERE MediaId = ?",
            &[media_id.into()],
        )?;
        if left.first().copied().unwrap_or(0) > 0 {
            return Ok(false);
        }
        self.set_media_status(media_id, &VolStatus::Purged)?;
        log::info!(
            "catalog: volume \"{}\" has no jobs left: marked Purged",
            m.volume_name
        );
        Ok(true)
    }

    /// `prune files client=…`: delete the File rows of the client's jobs whose JobTDate is
    /// older than `retention` seconds before `now`; the jobs get `PurgedFiles = 1`. Returns
    /// the number of jobs pruned.
    pub fn prune_files(&mut self, client_id: i64, retention: i64, now: i64) -> Result<u64, Error> {
        let cutoff = now.saturating_sub(retention);
        self.in_tx(|c| {
            let jobs = c.ids(
                "SELECT JobId FROM Job WHERE ClientId = ? AND JobTDate < ? AND PurgedFiles = 0 \
                 AND JobStatus NOT IN ('R', 'C')",
                &[client_id.into(), cutoff.into()],
            )?;
            for id in &jobs {
                c.conn()
                    .execute("DELETE FROM File WHERE JobId = ?", &[(*id).into()])?;
                c.conn().execute(
                    "UPDATE Job SET PurgedFiles = 1 WHERE JobId = ?",
                    &[(*id).into()],
                )?;
            }
            Ok(jobs.len() as u64)
        })
    }

    /// `prune jobs client=…`: delete the client's jobs older than `retention` seconds
    /// before `now` ([`Catalog::purge_jobs`]). Returns the number of jobs pruned.
    pub fn prune_jobs(&mut self, client_id: i64, retention: i64, now: i64) -> Result<u64, Error> {
        let cutoff = now.saturating_sub(retention);
        let jobs = self.ids(
            "SELECT JobId FROM Job WHERE ClientId = ? AND JobTDate < ? \
             AND JobStatus NOT IN ('R', 'C')",
            &[client_id.into(), cutoff.into()],
        )?;
        self.purge_jobs(&jobs)
    }

    /// `prune volume=…`: when the volume is `Full` or `Used` and was last written more than
    /// its Volume Retention before `now`, delete its jobs and mark it `Purged`. Returns
    /// whether the volume is now `Purged`.
    pub fn prune_volume(&mut self, media_id: i64, now: i64) -> Result<bool, Error> {
        let m = self
            .media_by_id(media_id)?
            .ok_or(Error::NotFound("media"))?;
        if !matches!(m.vol_status, VolStatus::Full | VolStatus::Used) {
            return Ok(m.vol_status == VolStatus::Purged);
        }
        let last = m.last_written.or(m.first_written).unwrap_or(0);
        if last.saturating_add(m.vol_retention) > now {
            return Ok(false);
        }
        let jobs = self.ids(
            "SELECT DISTINCT JobId FROM JobMedia WHERE MediaId = ?",
            &[media_id.into()],
        )?;
        self.purge_jobs(&jobs)?;
        self.mark_purged_if_empty(media_id)?;
        Ok(self
            .media_by_id(media_id)?
            .is_some_and(|m| m.vol_status == VolStatus::Purged))
    }

    /// `purge volume=…`: delete every job on the volume and mark it `Purged`, whatever the
    /// retention. Returns the number of jobs deleted.
    pub fn purge_volume(&mut self, media_id: i64) -> Result<u64, Error> {
        let jobs = self.ids(
            "SELECT DISTINCT JobId FROM JobMedia WHERE MediaId = ?",
            &[media_id.into()],
        )?;
        let n = self.purge_jobs(&jobs)?;
        if let Some(m) = self.media_by_id(media_id)? {
            if matches!(m.vol_status, VolStatus::Append) && m.vol_jobs > 0 {
                // An Append volume can be purged too (ua_purge.cc accepts Append, Full,
                // Used, Error).
                self.set_media_status(media_id, &VolStatus::Used)?;
            }
        }
        self.mark_purged_if_empty(media_id)?;
        Ok(n)
    }

    /// Recycle a `Purged` volume (`RecycleVolume()`): status `Recycle`, counters cleared.
    pub fn recycle_volume(&mut self, media_id: i64) -> Result<MediaRecord, Error> {
        let n = self.conn().execute(
            "UPDATE Media SET VolStatus = 'Recycle', VolJobs = 0, VolFiles = 0, VolBlocks = 0, \
             VolBytes = 1, VolErrors = 0, VolWrites = 0, VolMounts = 0, FirstWritten = NULL, \
             LastWritten = NULL, RecycleCount = RecycleCount + 1 WHERE MediaId = ?",
            &[media_id.into()],
        )?;
        if n == 0 {
            return Err(Error::NotFound("media"));
        }
        let m = self
            .media_by_id(media_id)?
            .ok_or(Error::NotFound("media"))?;
        log::info!("catalog: recycled volume \"{}\"", m.volume_name);
        Ok(m)
    }

    fn pool_media(
        &mut self,
        pool_id: i64,
        media_type: &str,
        status: &str,
    ) -> Result<Vec<i64>, Error> {
        self.ids(
            "SELECT MediaId FROM Media WHERE PoolId = ? AND MediaType = ? AND Enabled = 1 \
             AND VolStatus = ? ORDER BY LastWritten IS NULL, LastWritten, MediaId",
            &[pool_id.into(), media_type.into(), status.into()],
        )
    }

    /// `RecycleOldestPurgedVolume()`: the least recently written `Purged` volume of the
    /// pool with `Recycle = yes`, recycled.
    fn recycle_oldest_purged(
        &mut self,
        pool_id: i64,
        media_type: &str,
    ) -> Result<Option<MediaRecord>, Error> {
        for id in self.pool_media(pool_id, media_type, "Purged")? {
            if self.media_by_id(id)?.is_some_and(|m| m.recycle) {
                return self.recycle_volume(id).map(Some);
            }
        }
        Ok(None)
    }

    /// `PruneVolumes()` for a pool: prune its `Full` and `Used` volumes. Returns how many
    /// became `Purged`.
    pub fn prune_pool_volumes(
        &mut self,
        pool_id: i64,
        media_type: &str,
        now: i64,
    ) -> Result<u64, Error> {
        let mut n = 0;
        for status in ["Full", "Used"] {
            for id in self.pool_media(pool_id, media_type, status)? {
                if self.prune_volume(id, now)? {
                    n += 1;
                }
            }
        }
        Ok(n)
    }

    /// The volume a backup to this pool should write (`FindNextVolumeForAppend()`); see
    /// the module documentation for the order. `now` is Unix seconds.
    pub fn next_volume_for_append(
        &mut self,
        pool_id: i64,
        media_type: &str,
        storage_id: i64,
        now: i64,
    ) -> Result<NextVolume, Error> {
        // Append volumes that reached a limit (Volume Use Duration, …) become Used/Full
        // first (HasVolumeExpired).
        for id in self.pool_media(pool_id, media_type, "Append")? {
            if let Some(m) = self.media_by_id(id)? {
                let st = super::ops::status_after_limits(&m, now);
                if st != m.vol_status {
                    log::info!(
                        "catalog: volume \"{}\" reached a limit: marked {}",
                        m.volume_name,
                        st.as_str()
                    );
                    self.set_media_status(id, &st)?;
                }
            }
        }
        if let Some(m) = self.find_appendable_media(pool_id, media_type)? {
            return Ok(NextVolume::Existing(m));
        }
        if let Some(id) = self.pool_media(pool_id, media_type, "Recycle")?.first() {
            if let Some(m) = self.media_by_id(*id)? {
                return Ok(NextVolume::Existing(m));
            }
        }
        let pool = self.pool_by_id(pool_id)?.ok_or(Error::NotFound("pool"))?;
        if pool.spec.recycle {
            if let Some(m) = self.recycle_oldest_purged(pool_id, media_type)? {
                return Ok(NextVolume::Recycled(m));
            }
            if pool.spec.auto_prune {
                self.prune_pool_volumes(pool_id, media_type, now)?;
                if let Some(m) = self.recycle_oldest_purged(pool_id, media_type)? {
                    return Ok(NextVolume::Recycled(m));
                }
            }
        }
        self.create_volume(pool_id, media_type, storage_id)
            .map(NextVolume::Created)
    }
}
