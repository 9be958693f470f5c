//! The scheduler: Schedule `Run =` lines → jobs started at their times.
//!
//! A Run line is parsed by barque-common (`config::schedule::parse_run`) into the bit masks
//! Bareos keeps (`core/src/dird/run_conf.cc` `RunResource`): hours, minute, days of month,
//! weekdays, months, weeks of month, weeks of year, and the `last` flag. The Director's
//! scheduler (`core/src/dird/scheduler.cc`) starts a job in a minute when every mask admits
//! that minute: `hour ∈ hours ∧ minute = minute ∧ mday ∈ mdays ∧ wday ∈ wdays ∧ month ∈
//! months ∧ (wom ∈ woms ∨ (last ∧ day in the month's last 7 days)) ∧ woy ∈ woys`, with the
//! week of the month `(mday − 1) / 7` and Bareos' week of the year (`TmWoy()`, counted from
//! the week that holds January 4th).
//!
//! [`Scheduler::due`] is pure: it returns every (minute, job) that became due since the
//! previous call, so it can be driven by a virtual clock in tests; [`run_scheduler`] is the
//! task that polls the engine's clock and starts the jobs (`Job triggered by: Scheduler`).
//! Run times are in the Director's local time zone (see [`super::time::local`]).

use std::time::Duration;

use barque_common::config::schedule::RunSpec;
use barque_common::config::value::Value;
use barque_common::config::Config;
use fd_core::wire::codes::JobLevel;
use tokio::sync::watch;

use super::time::{civil, local, unix};
use super::{level_from_name, JobEngine, RunOverrides};

/// One scheduled start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledRun {
    /// The minute it is due (unix seconds, a multiple of 60).
    pub time: i64,
    /// Job resource name.
    pub job: String,
    /// The Run line's level override.
    pub level: Option<JobLevel>,
    /// The Run line (for its pool/storage/messages overrides).
    pub spec: RunSpec,
}

/// Bareos' week of the year (`TmWoy()`): weeks counted from the one holding January 4th.
pub fn week_of_year(t: i64) -> u32 {
    let c = local(t);
    let jan4 = civil(unix(c.year, 1, 4, 0, 0, 0));
    let mut fty = 1 - i64::from(jan4.wday);
    if fty <= 0 {
        fty += 7;
    }
    let woy = i64::from(c.yday) - fty + 4;
    if woy < 0 {
        0
    } else {
        u32::try_from(1 + woy / 7).unwrap_or(0)
    }
}

fn days_in_month(year: i64, month: u32) -> u32 {
    let (ny, nm) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    let first_next = unix(ny, nm, 1, 0, 0, 0);
    civil(first_next - 86_400).day
}

/// Whether a Run line fires in the minute containing `t`.
pub fn fires_at(spec: &RunSpec, t: i64) -> bool {
    let c = local(t);
    let bit32 = |mask: u32, b: u32| b < 32 && mask & (1 << b) != 0;
    let wom = (c.day - 1) / 7;
    let last7 = c.day + 7 > days_in_month(c.year, c.month);
    let woy = week_of_year(t);
    bit32(spec.hours, c.hour)
        && u32::from(spec.minute) == c.minute
        && bit32(spec.mdays, c.day - 1)
        && spec.wdays & (1 << c.wday) != 0
        && spec.months & (1 << (c.month - 1)) != 0
        && (spec.woms & (1 << wom) != 0 || (spec.last_7days_of_month && last7))
        && woy < 64
        && spec.woys & (1u64 << woy) != 0
}

/// The schedule of a configuration.
#[derive(Debug, Clone, Default)]
pub struct Scheduler {
    entries: Vec<(String, RunSpec)>,
    /// The last minute examined.
    last: Option<i64>,
}

impl Scheduler {
    /// Every enabled Job with a Schedule, with each Run line of that (enabled) Schedule.
    pub fn from_config(cfg: &Config) -> Self {
        let mut entries = Vec::new();
        for job in cfg.dir_jobs() {
            if !job.enabled {
                continue;
            }
            let Some(sname) = &job.schedule else { continue };
            let Some(sched) = cfg.resource("Schedule", sname) else {
                continue;
            };
            let enabled = sched
                .get_or_default("Enabled")
                .and_then(|v| v.as_bool())
                .unwrap_or(true);
            if !enabled {
                continue;
            }
            if let Some(Value::Runs(runs)) = sched.get("Run") {
                for (_, spec) in runs {
                    entries.push((job.name.clone(), spec.clone()));
                }
            }
        }
        Self {
            entries,
            last: None,
        }
    }

    /// Number of (job, Run line) pairs.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True if nothing is scheduled.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The runs due in the minutes after the previous call up to and including the minute of
    /// `now`. The first call only looks at the current minute. At most one day of missed
    /// minutes is caught up (a clock jump further than that skips the older runs).
    pub fn due(&mut self, now: i64) -> Vec<ScheduledRun> {
        let this = now - now.rem_euclid(60);
        let from = match self.last {
            Some(l) if l >= this => return Vec::new(),
            Some(l) => (l + 60).max(this - 86_400),
            None => this,
        };
        self.last = Some(this);
        self.between(from, this)
    }

    /// Every run from minute `from` to minute `to` inclusive (for `status dir`'s list of
    /// scheduled jobs, and [`Scheduler::due`]).
    pub fn between(&self, from: i64, to: i64) -> Vec<ScheduledRun> {
        let mut out = Vec::new();
        let mut t = from - from.rem_euclid(60);
        while t <= to {
            for (job, spec) in &self.entries {
                if fires_at(spec, t) {
                    out.push(ScheduledRun {
                        time: t,
                        job: job.clone(),
                        level: spec.level.as_deref().and_then(level_from_name),
                        spec: spec.clone(),
                    });
                }
            }
            t += 60;
        }
        out
    }
}

impl Scheduler {
    /// The first run of each (job, Run line) from minute `from` to `to` inclusive, by time
    /// (`status dir`'s `Scheduled Jobs:`; Bareos' `NextScheduleTime()`).
    pub fn next_runs(&self, from: i64, to: i64) -> Vec<ScheduledRun> {
        let mut out = Vec::new();
        for (job, spec) in &self.entries {
            let mut t = from - from.rem_euclid(60);
            while t <= to {
                if fires_at(spec, t) {
                    out.push(ScheduledRun {
                        time: t,
                        job: job.clone(),
                        level: spec.level.as_deref().and_then(level_from_name),
                        spec: spec.clone(),
                    });
                    break;
                }
                t += 60;
            }
        }
        out.sort_by(|a, b| a.time.cmp(&b.time).then_with(|| a.job.cmp(&b.job)));
        out
    }
}

/// The scheduler task: every `tick` (real time) read the engine's clock and start the jobs
/// that became due, until `stop` turns true. A configuration reload is picked up at the next
/// tick.
pub async fn run_scheduler(engine: JobEngine, tick: Duration, mut stop: watch::Receiver<bool>) {
    let mut cfg = engine.config();
    let mut sched = Scheduler::from_config(&cfg);
    loop {
        let now_cfg = engine.config();
        if !std::sync::Arc::ptr_eq(&now_cfg, &cfg) {
            let last = sched.last;
            cfg = now_cfg;
            sched = Scheduler::from_config(&cfg);
            sched.last = last;
        }
        for run in sched.due(engine.clock().now()) {
            let o = RunOverrides {
                pool: run.spec.pool.clone(),
                storage: run.spec.storage.clone(),
                triggered_by: Some("Scheduler".into()),
                accurate: run.spec.accurate,
                ..Default::default()
            };
            match engine.run(&run.job, run.level, o).await {
                Ok(id) => log::info!("scheduler: started {} as JobId {id}", run.job),
                Err(e) => log::warn!("scheduler: cannot start {}: {e}", run.job),
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(tick) => {}
            r = stop.changed() => {
                if r.is_err() || *stop.borrow() {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use barque_common::config::{check_str, Daemon};

    fn cfg(runs: &str) -> Config {
        let text = format!(
            "Director {{ Name = d; Password = p }}\n\
             Client {{ Name = c; Address = a; Password = p }}\n\
             Storage {{ Name = s; Address = a; Password = p; Device = d; Media Type = f }}\n\
             Pool {{ Name = p; Pool Type = Backup }}\n\
             FileSet {{ Name = fs; Include {{ File = /x }} }}\n\
             Messages {{ Name = m; console = all }}\n\
             Catalog {{ Name = cat; DbName = x; DbUser = u }}\n\
             Schedule {{ Name = S\n{runs}\n}}\n\
             Job {{ Name = J; Type = Backup; Client = c; FileSet = fs; Storage = s; Pool = p; \
             Messages = m; Schedule = S }}\n\
             Job {{ Name = Off; Type = Backup; Client = c; FileSet = fs; Storage = s; Pool = p; \
             Messages = m; Schedule = S; Enabled = no }}\n"
        );
        let r = check_str("t.conf", text.as_bytes(), Daemon::Director);
        assert!(r.is_ok(), "{r}");
        r.config
    }

    #[test]
    fn week_of_year_follows_bareos() {
        // 2026-01-04 is a Sunday (wday 0): fty = 1 - 0 = 1, so Jan 1 (yday 0) is in week
        // (0 - 1 + 4) / 7 + 1 = 1.
        assert_eq!(week_of_year(unix(2026, 1, 1, 0, 0, 0)), 1);
        assert_eq!(week_of_year(unix(2026, 11, 22, 15, 46, 52)), 47);
        assert_eq!(days_in_month(2024, 2), 29);
        assert_eq!(days_in_month(2026, 12), 31);
    }

    #[test]
    fn daily_and_weekly_lines() {
        let c = cfg("Run = Level=Full daily at 02:30\nRun = Incremental mon-fri at 23:05");
        let mut s = Scheduler::from_config(&c);
        assert_eq!(s.len(), 2, "disabled jobs are not scheduled");
        // Sunday 2026-11-22 00:00 .. Tuesday 2026-11-24 23:59, minute by minute.
        let start = unix(2026, 11, 22, 0, 0, 0);
        assert!(s.due(start).is_empty());
        let mut got = Vec::new();
        let mut t = start;
        while t < start + 3 * 86_400 {
            t += 60;
            got.extend(s.due(t));
        }
        let times: Vec<_> = got
            .iter()
            .map(|r| (super::super::time::sql_time(r.time), r.level))
            .collect();
        assert_eq!(
            times,
            vec![
                ("2026-11-22 02:30:00".into(), Some(JobLevel::Full)),
                ("2026-11-23 02:30:00".into(), Some(JobLevel::Full)),
                ("2026-11-23 23:05:00".into(), Some(JobLevel::Incremental)),
                ("2026-11-24 02:30:00".into(), Some(JobLevel::Full)),
                ("2026-11-24 23:05:00".into(), Some(JobLevel::Incremental)),
            ]
        );
        assert!(got.iter().all(|r| r.job == "J"));
        // A jump of the clock catches up the missed minutes once.
        let mut s = Scheduler::from_config(&c);
        s.due(unix(2026, 11, 25, 0, 0, 0));
        let caught = s.due(unix(2026, 11, 25, 23, 10, 0));
        assert_eq!(caught.len(), 2);
        assert!(s.due(unix(2026, 11, 25, 23, 10, 30)).is_empty());
    }

    proptest::proptest! {
        /// Polling `due` at arbitrary steps yields exactly the runs `between` lists for the
        /// whole span, each once.
        #[test]
        fn due_is_between_in_pieces(steps in proptest::collection::vec(1i64..20_000, 1..40)) {
            let c = cfg("Run = Full daily at 02:30\nRun = Incremental hourly at 0:15\nRun = Full 1st sat at 21:00");
            let start = unix(2026, 11, 1, 0, 0, 30);
            let mut s = Scheduler::from_config(&c);
            let mut got = s.due(start);
            let mut t = start;
            for st in &steps {
                t += st;
                got.extend(s.due(t));
            }
            let all = s.between(start, t);
            proptest::prop_assert_eq!(got, all);
        }
    }

    #[test]
    fn first_saturday_and_last_sunday() {
        let c = cfg("Run = Full 1st sat at 21:00\nRun = Differential last sun at 01:00");
        let s = Scheduler::from_config(&c);
        let runs = s.between(unix(2026, 11, 1, 0, 0, 0), unix(2026, 11, 30, 23, 59, 0));
        let when: Vec<_> = runs
            .iter()
            .map(|r| super::super::time::sql_time(r.time))
            .collect();
        // November 2026: Saturdays 7, 14, 21, 28; Sundays 1, 8, 15, 22, 29.
        assert_eq!(when, vec!["2026-11-07 21:00:00", "2026-11-29 01:00:00"]);
    }
}
