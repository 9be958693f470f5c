//! A throw-away PostgreSQL server for tests and the benchmark: `initdb` into a temporary
//! directory, `pg_ctl start` on a free 127.0.0.1 port, a fresh database per suite, `pg_ctl
//! stop` on drop. Nothing is mocked.
//!
//! The binaries come from Debian's `postgresql` package (`scripts/setup` installs it): found
//! on `PATH` or in the newest `/usr/lib/postgresql/*/bin`, or in `$BARQUE_PG_BIN`. PostgreSQL
//! refuses to run as root, so under root the cluster directory is handed to the `postgres`
//! user and the server commands run through `runuser -u postgres`. Any failure is an error
//! with the reason, never a skip.

#![allow(dead_code)]

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

pub const SUPERUSER: &str = "barque";
pub const PASSWORD: &str = "barque-test-password";

pub struct PgServer {
    dir: tempfile::TempDir,
    bin: PathBuf,
    as_user: Option<String>,
    pub port: u16,
}

fn find_bin() -> Result<PathBuf, String> {
    if let Ok(p) = std::env::var("BARQUE_PG_BIN") {
        return Ok(PathBuf::from(p));
    }
    if let Ok(path) = std::env::var("PATH") {
        for d in std::env::split_paths(&path) {
            if d.join("initdb").is_file() && d.join("pg_ctl").is_file() {
                return Ok(d);
            }
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|e| {
            format!(
                "PostgreSQL server binaries not found (no initdb on PATH, /usr/lib/postgresql: \
                 {e}); install Debian's `postgresql` package (scripts/setup does)"
            )
        })?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, b)| b)
        .ok_or_else(|| "no /usr/lib/postgresql/*/bin/initdb; install `postgresql`".to_owned())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

impl PgServer {
    fn cmd(&self, program: &str) -> Command {
        let exe = self.bin.join(program);
        match &self.as_user {
            Some(u) => {
                let mut c = Command::new("runuser");
                c.arg("-u").arg(u).arg("--").arg(exe);
                c
            }
            None => Command::new(exe),
        }
    }

    fn run(&self, mut c: Command, what: &str) -> Result<(), String> {
        let out = c.output().map_err(|e| format!("{what}: cannot run: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "{what} failed ({}):\n{}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(())
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Create, start and wait for a server. Errors carry the reason and the server log.
    pub fn start() -> Result<Self, String> {
        let bin = find_bin()?;
        let dir = tempfile::Builder::new()
            .prefix("barque-pg-")
            .tempdir()
            .map_err(|e| format!("tempdir: {e}"))?;
        let as_user = if is_root() {
            let st = Command::new("chown")
                .arg("-R")
                .arg("postgres:postgres")
                .arg(dir.path())
                .status()
                .map_err(|e| format!("chown: {e}"))?;
            if !st.success() {
                return Err(
                    "running as root and cannot hand the cluster directory to the \
                            `postgres` user (does it exist? the `postgresql` package creates it)"
                        .into(),
                );
            }
            Some("postgres".to_owned())
        } else {
            None
        };
        let mut server = Self {
            dir,
            bin,
            as_user,
            port: free_port()?,
        };
        let pwfile = server.dir.path().join("pw");
        std::fs::File::create(&pwfile)
            .and_then(|mut f| f.write_all(PASSWORD.as_bytes()))
            .map_err(|e| format!("pwfile: {e}"))?;
        if server.as_user.is_some() {
            let _ = Command::new("chown")
                .arg("postgres:postgres")
                .arg(&pwfile)
                .status();
        }
        let mut c = server.cmd("initdb");
        c.arg("-D")
            .arg(server.data_dir())
            .arg("-U")
            .arg(SUPERUSER)
            .arg("--pwfile")
            .arg(&pwfile)
            .arg("--auth-local=trust")
            .arg("--auth-host=scram-sha-256")
            .arg("-E")
            .arg("UTF8")
            .arg("--no-locale")
            .arg("--no-sync");
        server.run(c, "initdb")?;
        // Retry on a port race with another test process.
        let mut last = String::new();
        for _ in 0..3 {
            let mut c = server.cmd("pg_ctl");
            c.arg("-D")
                .arg(server.data_dir())
                .arg("-l")
                .arg(server.dir.path().join("server.log"))
                .arg("-w")
                .arg("-t")
                .arg("60")
                .arg("-o")
                .arg(format!(
                    "-c listen_addresses=127.0.0.1 -p {} -k {} -c fsync=off \
                     -c synchronous_commit=off -c full_page_writes=off",
                    server.port,
                    server.dir.path().display()
                ))
                .arg("start");
            match server.run(c, "pg_ctl start") {
                Ok(()) => return Ok(server),
                Err(e) => {
                    let log = std::fs::read_to_string(server.dir.path().join("server.log"))
                        .unwrap_or_default();
                    last = format!("{e}\nserver.log:\n{log}");
                    server.port = free_port()?;
                }
            }
        }
        Err(last)
    }

    pub fn params(&self, dbname: &str) -> director::catalog::PgParams {
        director::catalog::PgParams {
            host: "127.0.0.1".into(),
            port: self.port,
            dbname: dbname.into(),
            user: SUPERUSER.into(),
            password: PASSWORD.into(),
        }
    }

    /// Create a fresh database `name` (dropped first if it exists).
    pub fn create_db(&self, name: &str) -> Result<(), String> {
        let mut client = postgres::Config::new()
            .host("127.0.0.1")
            .port(self.port)
            .user(SUPERUSER)
            .password(PASSWORD)
            .dbname("postgres")
            .connect(postgres::NoTls)
            .map_err(|e| format!("connect to the test server: {e}"))?;
        // Two statements: CREATE DATABASE cannot run in the implicit transaction of a
        // multi-statement query.
        for sql in [
            format!("DROP DATABASE IF EXISTS {name}"),
            format!("CREATE DATABASE {name}"),
        ] {
            client
                .batch_execute(&sql)
                .map_err(|e| format!("{sql}: {e} {:?}", e.as_db_error().map(|d| d.message())))?;
        }
        Ok(())
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let mut c = self.cmd("pg_ctl");
        c.arg("-D")
            .arg(self.data_dir())
            .arg("-m")
            .arg("immediate")
            .arg("-w")
            .arg("stop");
        if let Err(e) = self.run(c, "pg_ctl stop") {
            eprintln!("{e}");
        }
    }
}
