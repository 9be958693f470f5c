//! Catalog benchmark: file-attribute insert rate and restore-tree build time, on SQLite and on
//! a throw-away PostgreSQL server (the same one the tests start, `tests/common/pg.rs`).
//!
//! ```sh
//! cargo run --release -p director --example catalog_bench            # 1,000,000 files, both
//! cargo run --release -p director --example catalog_bench -- --files 100000 --backend sqlite
//! ```
//!
//! A Full of `--files` files (1,000 files per directory) is inserted in batches of
//! `--batch` (10,000) attributes, one transaction each, as the Director flushes them; then an
//! Incremental changing every tenth file. The restore tree is "restore the most recent
//! backup" over both jobs ([`Catalog::restore_current`]: newest version of every file) plus
//! its bootstrap ([`Catalog::build_bootstrap`]). Figures are printed, nothing is asserted.
//!
//! One run on the shared 2-core development machine (release build, 1,000,000 files):
//!
//! | backend | Full insert | Incremental insert | restore tree + bootstrap |
//! |---|---|---|---|
//! | SQLite (WAL, synchronous=NORMAL) | 1.57 s, 635,000 files/s | 746,000 files/s | 3.1 s |
//! | PostgreSQL 15 (test server: fsync=off) | 7.44 s, 134,000 files/s | 178,000 files/s | 4.7 s |
//!
//! The test server runs with `fsync=off`, `synchronous_commit=off`: a production server with
//! durable commits pays one WAL flush per 10,000-file batch on top of this.

#[path = "../tests/common/pg.rs"]
mod pg;

use std::time::Instant;

use director::catalog::{
    Catalog, CatalogConfig, FileAttr, JobEnd, JobLevel, JobStart, JobStatus, JobType, NewClient,
    NewJob, NewJobMedia, PoolSpec,
};

const LSTAT: &str = "P4A DwZD IGk B A A A G BAA I BrAw5j BpVzWl BrAw5j A A C";
const MD5: &str = "WJG1tSLV3whtD/CxEPvZ0hu0/HFjrzTQgoai6Eb2vgM";

struct Args {
    files: u32,
    batch: usize,
    backend: String,
}

fn args() -> Args {
    let mut a = Args {
        files: 1_000_000,
        batch: 10_000,
        backend: "both".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().unwrap_or_else(|| panic!("{k} needs a value"));
        match k.as_str() {
            "--files" => a.files = v.parse().expect("--files N"),
            "--batch" => a.batch = v.parse().expect("--batch N"),
            "--backend" => a.backend = v,
            other => panic!("unknown argument {other}"),
        }
    }
    a
}

fn run_job(cat: &mut Catalog, level: JobLevel, start: i64, ids: (i64, i64, i64)) -> i64 {
    let (client_id, pool_id, fileset_id) = ids;
    let job = cat
        .create_job(&NewJob {
            job: &format!("Bench.{start}"),
            name: "Bench",
            job_type: JobType::Backup,
            level,
            sched_time: start,
        })
        .unwrap();
    cat.update_job_start(&JobStart {
        job_id: job,
        status: JobStatus::Running,
        level,
        start_time: start,
        client_id,
        pool_id,
        fileset_id,
    })
    .unwrap();
    job
}

fn finish_job(cat: &mut Catalog, job: i64, level: JobLevel, files: u32, media_id: i64, sid: u32) {
    cat.create_job_media(&NewJobMedia {
        job_id: job,
        media_id,
        first_index: 1,
        last_index: files,
        start_file: 0,
        end_file: 0,
        start_block: 203,
        end_block: 1_000_000,
        vol_index: 2,
        job_bytes: 0,
    })
    .unwrap();
    cat.update_job_end(&JobEnd {
        job_id: job,
        status: JobStatus::Terminated,
        job_type: JobType::Backup,
        level,
        end_time: 0,
        real_end_time: 0,
        job_files: files,
        job_bytes: 0,
        read_bytes: 0,
        job_errors: 0,
        vol_session_id: sid,
        vol_session_time: 1_795_362_407,
        prior_job_id: 0,
    })
    .unwrap();
}

fn insert(cat: &mut Catalog, job: i64, names: &[(String, String)], batch: usize) -> f64 {
    let t0 = Instant::now();
    let mut fi = 0u32;
    for chunk in names.chunks(batch) {
        let attrs: Vec<FileAttr<'_>> = chunk
            .iter()
            .map(|(p, n)| {
                fi += 1;
                FileAttr {
                    file_index: fi,
                    path: p,
                    name: n,
                    lstat: LSTAT,
                    md5: MD5,
                    delta_seq: 0,
                }
            })
            .collect();
        cat.insert_file_attributes(job, &attrs).unwrap();
    }
    t0.elapsed().as_secs_f64()
}

fn bench(label: &str, mut cat: Catalog, a: &Args) {
    let client = cat
        .get_or_create_client(&NewClient {
            name: "bench-fd",
            uname: "",
            auto_prune: false,
            file_retention: 0,
            job_retention: 0,
        })
        .unwrap();
    let pool = cat
        .get_or_create_pool(&PoolSpec::backup("Bench", "Bench-"))
        .unwrap();
    let storage = cat.get_or_create_storage("File").unwrap();
    let fs = cat.get_or_create_fileset("BenchSet", "md5", "", 0).unwrap();
    let ids = (client.client_id, pool.pool_id, fs.fileset_id);

    let names: Vec<(String, String)> = (0..a.files)
        .map(|i| {
            (
                format!("/bench/tree/d{:05}/", i / 1000),
                format!("file{:04}.dat", i % 1000),
            )
        })
        .collect();

    let full = run_job(&mut cat, JobLevel::Full, 1000, ids);
    let m = cat.create_volume(pool.pool_id, "File", storage).unwrap();
    let secs = insert(&mut cat, full, &names, a.batch);
    finish_job(&mut cat, full, JobLevel::Full, a.files, m.media_id, 1);
    println!(
        "{label}: inserted {} file attributes in {secs:.2} s = {:.0} files/s (batches of {})",
        a.files,
        f64::from(a.files) / secs,
        a.batch
    );

    let changed: Vec<(String, String)> = names.iter().step_by(10).cloned().collect();
    let incr = run_job(&mut cat, JobLevel::Incremental, 2000, ids);
    let secs = insert(&mut cat, incr, &changed, a.batch);
    finish_job(
        &mut cat,
        incr,
        JobLevel::Incremental,
        changed.len() as u32,
        m.media_id,
        2,
    );
    println!(
        "{label}: inserted {} incremental attributes in {secs:.2} s = {:.0} files/s",
        changed.len(),
        changed.len() as f64 / secs
    );

    let t0 = Instant::now();
    let sel = cat
        .restore_current(client.client_id, fs.fileset_id, 10_000)
        .unwrap();
    let t_sel = t0.elapsed().as_secs_f64();
    let bsr = cat.build_bootstrap(&sel).unwrap();
    let lines = bsr.restore_lines(|_| Some("FileStorage".into())).unwrap();
    let t_all = t0.elapsed().as_secs_f64();
    println!(
        "{label}: restore tree of {} files (jobs {:?}) selected in {t_sel:.2} s, with a \
         bootstrap of {} entries / {} lines ({} files expected) in {t_all:.2} s",
        sel.files.len(),
        sel.job_ids,
        bsr.entries.len(),
        lines.len(),
        bsr.expected_files()
    );
}

fn main() {
    let a = args();
    if a.backend == "sqlite" || a.backend == "both" {
        let dir = tempfile::tempdir().unwrap();
        let cfg = CatalogConfig::Sqlite {
            path: dir.path().join("bench.db"),
        };
        bench("sqlite", Catalog::open(&cfg).unwrap(), &a);
    }
    if a.backend == "postgres" || a.backend == "both" {
        let server = pg::PgServer::start()
            .unwrap_or_else(|e| panic!("cannot start PostgreSQL for the benchmark: {e}"));
        server.create_db("bench").unwrap();
        let cfg = CatalogConfig::Postgres(server.params("bench"));
        bench("postgresql", Catalog::open(&cfg).unwrap(), &a);
    }
}
