//! `barque-dir -c PATH -f [-t] [-d N]`: the Barque Director (console side; see the crate
//! docs for what is not there yet).
//!
//! - `-c PATH`: `bareos-dir.conf` or a directory holding `bareos-dir.d/` (default
//!   `/etc/bareos`);
//! - `-f`: run in the foreground (barque-dir never daemonizes; without `-f` it says so and
//!   still runs in the foreground);
//! - `-t`: check the configuration, print every error and warning, exit 1 on errors;
//! - `-d N`: debug level (log verbosity).
//!
//! Listens on the Director resource's addresses (default port 9101). SIGHUP re-reads the
//! configuration like the `reload` command; SIGINT/SIGTERM stop the daemon.

use std::path::PathBuf;
use std::process::ExitCode;

use barque_common::config::{self, Daemon};
use director::catalog::{Catalog, CatalogConfig};
use director::cli::{init_logging, take_value};
use director::engine::{catalog_config, ConsoleEngine};
use director::init::InitOptions;
use director::jobs::messages::fail_orphaned_jobs;
use director::jobs::scheduler::run_scheduler;
use director::jobs::{EngineOptions, JobEngine, SystemClock};
use director::model::Model;
use director::server::Director;
use director::ua::engine::JobEngine as UaEngine;
use std::sync::Arc;

fn usage() -> &'static str {
    "usage: barque-dir [-c PATH] [-f] [-t] [-d N]\n\
     \x20      barque-dir --init DIR [--port N] [--cleartext] [--fileset PATH]... [--where PATH]\n\
     \x20 --init DIR  write working configurations of the Director, Storage and File daemons\n\
     \x20             and the console into DIR/etc (ports N..N+2, default 9101; TLS-PSK unless\n\
     \x20             --cleartext; SQLite catalog; volumes in DIR/volumes)\n\
     \x20 -c PATH  configuration file or directory (default /etc/bareos)\n\
     \x20 -f       run in the foreground\n\
     \x20 -t       test the configuration and exit\n\
     \x20 -d N     debug level\n"
}

fn main() -> ExitCode {
    let mut path = PathBuf::from("/etc/bareos");
    let mut test = false;
    let mut foreground = false;
    let mut debug = 0u32;
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--init") {
        return init(args.get(1..).unwrap_or_default());
    }
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        let r = if a.starts_with("-c") {
            take_value("-c", &a, &mut it).map(|v| path = PathBuf::from(v))
        } else if a.starts_with("-d") {
            take_value("-d", &a, &mut it).and_then(|v| {
                v.parse()
                    .map(|n| debug = n)
                    .map_err(|_| format!("-d needs a number, got {v:?}"))
            })
        } else if a == "-t" {
            test = true;
            Ok(())
        } else if a == "-f" {
            foreground = true;
            Ok(())
        } else if a == "-?" || a == "-h" || a == "--help" {
            print!("{}", usage());
            return ExitCode::SUCCESS;
        } else {
            Err(format!("unknown option {a:?}"))
        };
        if let Err(e) = r {
            eprint!("barque-dir: {e}\n{}", usage());
            return ExitCode::from(2);
        }
    }
    init_logging("barque-dir", debug, test);

    if test {
        let report = config::check(&path, Daemon::Director);
        let ok = report.is_ok();
        println!("{report}");
        if !ok {
            return ExitCode::FAILURE;
        }
        return match Model::from_config(&path, report.config) {
            Ok(_) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("barque-dir: {e}");
                ExitCode::FAILURE
            }
        };
    }

    let model = match Model::load(&path) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("barque-dir: configuration error:\n{e}");
            return ExitCode::FAILURE;
        }
    };
    for w in &model.config.warnings {
        log::warn!("{w}");
    }
    if !foreground {
        log::info!("barque-dir does not daemonize; running in the foreground");
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("barque-dir: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    // The catalog is opened outside the runtime: the PostgreSQL client is synchronous and
    // runs its own runtime (it may not start inside tokio's); job tasks later use it from
    // `spawn_blocking` threads.
    // Without its catalog the Director refuses to start, as Bareos does: serving consoles
    // and a scheduler that cannot record anything would only hide the problem.
    let engine = match start_engine(&model) {
        Ok(e) => Some(e),
        Err(e) => {
            eprintln!("barque-dir: {e}");
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(run(model, engine))
}

/// `--init DIR [--port N] [--cleartext] [--fileset PATH]... [--where PATH]`.
fn init(args: &[String]) -> ExitCode {
    let Some(dir) = args.first().filter(|a| !a.starts_with('-')) else {
        eprint!("barque-dir: --init needs a directory\n{}", usage());
        return ExitCode::from(2);
    };
    let abs = |p: &str| std::path::absolute(p).unwrap_or_else(|_| PathBuf::from(p));
    let dir = abs(dir);
    let mut o = InitOptions::new(&dir);
    let mut files = Vec::new();
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        let r = match a.as_str() {
            "--cleartext" => {
                o.cleartext = true;
                Ok(())
            }
            "--port" => match it.next().and_then(|v| v.parse::<u16>().ok()) {
                Some(p) if p <= u16::MAX - 2 => {
                    o.base_port = p;
                    Ok(())
                }
                _ => Err("--port needs a number".to_string()),
            },
            "--fileset" => match it.next() {
                Some(p) => {
                    files.push(abs(p));
                    Ok(())
                }
                None => Err("--fileset needs a path".into()),
            },
            "--where" => match it.next() {
                Some(p) => {
                    o.restore_where = abs(p);
                    Ok(())
                }
                None => Err("--where needs a path".into()),
            },
            other => Err(format!("unknown --init option {other:?}")),
        };
        if let Err(e) = r {
            eprint!("barque-dir: {e}\n{}", usage());
            return ExitCode::from(2);
        }
    }
    if !files.is_empty() {
        o.files = files;
    }
    match director::init::generate(&o) {
        Ok(l) => {
            println!("Director:         {}", l.dir_conf.display());
            println!("Storage daemon:   {}", l.sd_conf.display());
            println!("File daemon:      {}", l.fd_conf.display());
            println!("Console:          {}", l.console_conf.display());
            println!("Volumes:          {}", l.volumes.display());
            println!(
                "Catalog (SQLite): {}",
                l.dir_state.join("barque.db").display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("barque-dir: --init {}: {e}", dir.display());
            ExitCode::FAILURE
        }
    }
}

/// Open the catalog and start the job engine for a loaded configuration.
fn start_engine(model: &Model) -> Result<Arc<ConsoleEngine>, String> {
    let (name, cat_cfg) = catalog_config(&model.config).map_err(|e| {
        format!(
            "{e}; add a Catalog resource to {} and start barque-dir again",
            model.path.display()
        )
    })?;
    let catalog = Catalog::open(&cat_cfg).map_err(|e| {
        // No password in the message: the database, where it is, and what to check.
        let (what, fix) = match &cat_cfg {
            CatalogConfig::Sqlite { path } => (
                format!("the SQLite database {}", path.display()),
                "check that the Director's Working Directory exists and is writable, and                  that the file is an SQLite catalog",
            ),
            CatalogConfig::Postgres(p) => (
                format!(
                    "the PostgreSQL database \"{}\" at {}:{} as user \"{}\"",
                    p.dbname, p.host, p.port, p.user
                ),
                "start the database server or correct DB Address, DB Port, DB Name, DB User                  and DB Password",
            ),
        };
        format!(
            "cannot open Catalog \"{name}\" ({what}): {e}. The Director does not run without              its catalog: {fix} in the Catalog resource of {}, then start barque-dir again",
            model.path.display()
        )
    })?;
    let mut catalog = catalog;
    // Bareos' CheckCatalog: jobs the previous instance left created or running are over.
    let now = director::jobs::time::Clock::now(&SystemClock);
    match fail_orphaned_jobs(&mut catalog, &model.director.name, now) {
        Ok(jobs) => {
            for j in jobs {
                log::warn!(
                    "JobId {} ({}) was {:?} in Catalog \"{name}\" when this Director started: \
                     marked failed (f), the previous barque-dir ended without finishing it",
                    j.job_id,
                    j.job,
                    j.was
                );
            }
        }
        Err(e) => log::warn!(
            "Catalog \"{name}\": cannot mark the jobs left running by the previous barque-dir \
             as failed: {e}; `list jobs` may show them as running"
        ),
    }
    let jobs = JobEngine::new(
        Arc::new(model.config.clone()),
        catalog,
        Arc::new(SystemClock),
        EngineOptions::default(),
    )
    .map_err(|e| e.to_string())?;
    Ok(ConsoleEngine::new(jobs, name))
}

async fn run(model: Model, engine: Option<Arc<ConsoleEngine>>) -> ExitCode {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    if let Some(engine) = &engine {
        tokio::spawn(run_scheduler(
            engine.jobs().clone(),
            std::time::Duration::from_secs(10),
            stop_rx,
        ));
    }

    let mut listeners = Vec::new();
    for a in &model.director.addresses {
        let host = a.addr.clone().unwrap_or_else(|| "0.0.0.0".into());
        let port = a.port.clone().unwrap_or_else(|| "9101".into());
        let bind = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        match tokio::net::TcpListener::bind(&bind).await {
            Ok(l) => {
                log::info!("{} listening on {bind}", model.director.name);
                listeners.push(l);
            }
            Err(e) => {
                eprintln!("barque-dir: cannot listen on {bind}: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    let dir = Director::new(model, engine.map(|e| e as Arc<dyn UaEngine>));
    for l in listeners {
        let d = dir.clone();
        tokio::spawn(async move {
            if let Err(e) = d.serve(l).await {
                log::error!("listener stopped: {e}");
            }
        });
    }
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut hup), Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::hangup()),
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            eprintln!("barque-dir: cannot install signal handlers");
            return ExitCode::FAILURE;
        };
        loop {
            tokio::select! {
                _ = hup.recv() => {
                    if let Err(e) = dir.reload() {
                        log::error!("reload failed, keeping the old configuration: {e}");
                    }
                }
                _ = term.recv() => break,
                _ = int.recv() => break,
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    stop_tx.send_replace(true);
    log::info!("barque-dir stopping");
    ExitCode::SUCCESS
}
