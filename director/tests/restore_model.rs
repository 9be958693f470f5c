//! Model-based property test of restore selection and bootstrap building (SQLite in memory):
//! random sequences of Full/Differential/Incremental jobs over a small file universe, with
//! changed and deleted files, against a straightforward model of Bareos' rules (newest Full,
//! newest Differential after it, Incrementals after those; newest version of each file;
//! deleted files dropped). The bootstrap text is parsed back with fd-core's bsr reader and
//! must select exactly the chosen (session, FileIndex) pairs.

use std::collections::{BTreeMap, BTreeSet};

use director::catalog::{
    Catalog, FileAttr, JobEnd, JobLevel, JobStart, JobStatus, JobType, NewClient, NewJob,
    NewJobMedia, PoolSpec,
};
use proptest::prelude::*;

const UNIVERSE: &[&str] = &[
    "/r/", "/r/a", "/r/b", "/r/c", "/r/s/", "/r/s/d", "/r/s/e", "/r/t/", "/r/t/f", "/r/t/g",
];
const LSTAT: &str = "P4A DwZD IGk B A A A G BAA I BrAw5j BpVzWl BrAw5j A A C";
const VST: u32 = 1_795_362_407;

#[derive(Debug, Clone)]
struct Job {
    level: JobLevel,
    /// (universe index, deleted?) in backup order.
    entries: Vec<(usize, bool)>,
}

fn job_strategy(first: bool) -> impl Strategy<Value = Job> {
    let level = if first {
        Just(JobLevel::Full).boxed()
    } else {
        prop_oneof![
            1 => Just(JobLevel::Full),
            2 => Just(JobLevel::Differential),
            4 => Just(JobLevel::Incremental),
        ]
        .boxed()
    };
    (
        level,
        proptest::collection::btree_map(0..UNIVERSE.len(), any::<bool>(), 0..UNIVERSE.len()),
    )
        .prop_map(|(level, m)| Job {
            level,
            entries: m
                .into_iter()
                .map(|(i, del)| (i, del && level != JobLevel::Full))
                .collect(),
        })
}

fn jobs_strategy() -> impl Strategy<Value = Vec<Job>> {
    (
        job_strategy(true),
        proptest::collection::vec(job_strategy(false), 0..6),
    )
        .prop_map(|(f, mut rest)| {
            rest.insert(0, f);
            rest
        })
}

/// (fname, job index, FileIndex) the model restores.
fn model(jobs: &[Job]) -> (Vec<usize>, BTreeSet<(String, usize, u32)>) {
    let full = jobs
        .iter()
        .rposition(|j| j.level == JobLevel::Full)
        .unwrap();
    let mut chosen = vec![full];
    let diff = (full + 1..jobs.len())
        .rev()
        .find(|&i| jobs[i].level == JobLevel::Differential);
    if let Some(d) = diff {
        chosen.push(d);
    }
    let base = diff.unwrap_or(full);
    chosen.extend((base + 1..jobs.len()).filter(|&i| jobs[i].level == JobLevel::Incremental));
    let mut newest: BTreeMap<usize, (usize, u32)> = BTreeMap::new();
    for &ji in &chosen {
        let mut fi = 0u32;
        for &(u, del) in &jobs[ji].entries {
            let idx = if del {
                0
            } else {
                fi += 1;
                fi
            };
            newest.insert(u, (ji, idx));
        }
    }
    let files = newest
        .into_iter()
        .filter(|(_, (_, fi))| *fi > 0)
        .map(|(u, (ji, fi))| (UNIVERSE[u].to_owned(), ji, fi))
        .collect();
    (chosen, files)
}

fn run(jobs: &[Job]) -> Result<(), TestCaseError> {
    let mut cat = Catalog::open_in_memory().unwrap();
    let client = cat
        .get_or_create_client(&NewClient {
            name: "c",
            uname: "",
            auto_prune: false,
            file_retention: 0,
            job_retention: 0,
        })
        .unwrap();
    let pool = cat
        .get_or_create_pool(&PoolSpec::backup("P", "P-"))
        .unwrap();
    let fs = cat.get_or_create_fileset("S", "m", "", 0).unwrap();
    let mut ids = Vec::new();
    for (n, j) in jobs.iter().enumerate() {
        let start = 1000 * (n as i64 + 1);
        let id = cat
            .create_job(&NewJob {
                job: &format!("J.{n}"),
                name: "J",
                job_type: JobType::Backup,
                level: j.level,
                sched_time: start,
            })
            .unwrap();
        cat.update_job_start(&JobStart {
            job_id: id,
            status: JobStatus::Running,
            level: j.level,
            start_time: start,
            client_id: client.client_id,
            pool_id: pool.pool_id,
            fileset_id: fs.fileset_id,
        })
        .unwrap();
        let mut fi = 0u32;
        let attrs: Vec<FileAttr<'_>> = j
            .entries
            .iter()
            .map(|&(u, del)| {
                let idx = if del {
                    0
                } else {
                    fi += 1;
                    fi
                };
                FileAttr::from_fname(idx, UNIVERSE[u], LSTAT, "0")
            })
            .collect();
        cat.insert_file_attributes(id, &attrs).unwrap();
        let m = cat.create_volume(pool.pool_id, "File", 0).unwrap();
        if fi > 0 {
            cat.create_job_media(&NewJobMedia {
                job_id: id,
                media_id: m.media_id,
                first_index: 1,
                last_index: fi,
                start_file: 0,
                end_file: 0,
                start_block: 203,
                end_block: 203 + 100 * fi,
                vol_index: 2,
                job_bytes: 0,
            })
            .unwrap();
        }
        cat.update_job_end(&JobEnd {
            job_id: id,
            status: JobStatus::Terminated,
            job_type: JobType::Backup,
            level: j.level,
            end_time: start + 1,
            real_end_time: start + 1,
            job_files: fi,
            job_bytes: 0,
            read_bytes: 0,
            job_errors: 0,
            vol_session_id: n as u32 + 1,
            vol_session_time: VST,
            prior_job_id: 0,
        })
        .unwrap();
        ids.push(id);
    }

    let (chosen, expected) = model(jobs);
    let sel = cat
        .restore_current(client.client_id, fs.fileset_id, 1_000_000)
        .unwrap();
    let chosen_ids: Vec<i64> = chosen.iter().map(|&i| ids[i]).collect();
    prop_assert_eq!(&sel.job_ids, &chosen_ids);
    let got: BTreeSet<(String, usize, u32)> = sel
        .files
        .iter()
        .map(|f| {
            let ji = ids.iter().position(|&i| i == f.job_id).unwrap();
            (f.fname(), ji, f.file_index)
        })
        .collect();
    prop_assert_eq!(&got, &expected);

    let bsr = cat.build_bootstrap(&sel).unwrap();
    prop_assert_eq!(bsr.expected_files(), expected.len() as u64);
    let text = bsr.restore_text(|_| None).unwrap();
    let entries: Vec<_> = fd_core::wire::bsr::entries(&text)
        .collect::<Result<_, _>>()
        .unwrap();
    let counted: u64 = entries.iter().map(|e| e.count.unwrap_or(0)).sum();
    prop_assert_eq!(counted, expected.len() as u64);
    for (ji, _) in jobs.iter().enumerate() {
        for fi in 0..=UNIVERSE.len() as u64 + 1 {
            let want = expected
                .iter()
                .any(|(_, j, f)| *j == ji && u64::from(*f) == fi);
            let sid = ji as u32 + 1;
            let has = entries.iter().any(|e| e.selects(sid, VST, fi));
            prop_assert_eq!(has, want, "job {} FileIndex {}", ji, fi);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn restore_selection_matches_model(jobs in jobs_strategy()) {
        run(&jobs)?;
    }
}
