//! `barque-dir --init DIR`: a complete, working set of configurations for one machine.
//!
//! A first-time user needs four configuration files that agree with each other (names,
//! passwords, ports, the Storage's Device and Media Type) before the first backup can run.
//! This module writes them, in the layout and with the resource set of a minimal Bareos
//! installation (`core/src/defaultconfigs/` in Bareos has the same resources spread over
//! `bareos-dir.d/`): the Director with its Catalog, a Client, a Storage, a Pool that labels
//! volumes itself (`Label Format`), a FileSet, a backup and a restore Job and Messages; the
//! Storage daemon with one disk Device; the File daemon with its Director; and a console
//! file for `barque-console`/bconsole.
//!
//! Passwords are random (32 bytes from `/dev/urandom`, hex). No TLS directives are written,
//! so every connection uses Bareos' default, TLS-PSK, unless [`InitOptions::cleartext`]
//! asks for `TLS Enable = no`/`TLS Require = no` everywhere (the captures' setup). The
//! catalog is SQLite in the Director's working directory unless PostgreSQL parameters are
//! given. Every generated file is loaded back with barque-common's configuration checker in
//! the tests below, for the daemon it belongs to.

use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

use crate::catalog::PgParams;

/// What to generate.
#[derive(Debug, Clone)]
pub struct InitOptions {
    /// The working directory: `etc/`, `state/{dir,sd,fd}`, `volumes/`, `log/` are made in it.
    pub dir: PathBuf,
    /// Director port; the File daemon gets `base_port + 1`, the Storage daemon `+ 2`.
    pub base_port: u16,
    /// The address every daemon listens on and is reached at.
    pub address: String,
    /// `TLS Enable = no` everywhere instead of the TLS-PSK default.
    pub cleartext: bool,
    /// The directories the FileSet backs up.
    pub files: Vec<PathBuf>,
    /// The restore Job's default `Where`.
    pub restore_where: PathBuf,
    /// A PostgreSQL catalog instead of SQLite.
    pub postgres: Option<PgParams>,
}

impl InitOptions {
    /// Defaults for a working directory: ports 9101–9103 on 127.0.0.1, TLS-PSK, SQLite,
    /// backing up `DIR/data`, restoring to `DIR/restore`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        let dir = dir.into();
        Self {
            files: vec![dir.join("data")],
            restore_where: dir.join("restore"),
            dir,
            base_port: 9101,
            address: "127.0.0.1".into(),
            cleartext: false,
            postgres: None,
        }
    }
}

/// Where the generated pieces are.
#[derive(Debug, Clone)]
pub struct InitLayout {
    /// `bareos-dir.conf` (for `barque-dir -c`).
    pub dir_conf: PathBuf,
    /// `bareos-sd.conf` (for `barque-sd -c`).
    pub sd_conf: PathBuf,
    /// `bareos-fd.conf` (for `barque-fd -c`).
    pub fd_conf: PathBuf,
    /// `bconsole.conf` (for `barque-console -c`).
    pub console_conf: PathBuf,
    /// The disk volumes' directory.
    pub volumes: PathBuf,
    /// The Director's working directory (the SQLite catalog is `barque.db` in it).
    pub dir_state: PathBuf,
    /// The log directory (`append` destinations).
    pub log: PathBuf,
}

/// The resource names the generated configuration uses.
pub mod names {
    /// Director.
    pub const DIRECTOR: &str = "barque-dir";
    /// Client (File daemon).
    pub const CLIENT: &str = "barque-fd";
    /// Storage daemon's own name.
    pub const SD: &str = "barque-sd";
    /// The Director's Storage resource.
    pub const STORAGE: &str = "File";
    /// Device.
    pub const DEVICE: &str = "FileStorage";
    /// Pool.
    pub const POOL: &str = "Full";
    /// FileSet.
    pub const FILESET: &str = "DemoSet";
    /// Backup job.
    pub const BACKUP_JOB: &str = "DemoBackup";
    /// Restore job.
    pub const RESTORE_JOB: &str = "DemoRestore";
    /// Catalog.
    pub const CATALOG: &str = "MyCatalog";
}

/// 32 random bytes as hex.
pub fn random_password() -> io::Result<String> {
    use std::io::Read;
    let mut b = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut b)?;
    let mut s = String::with_capacity(64);
    for x in b {
        let _ = write!(s, "{x:02x}");
    }
    Ok(s)
}

fn quote(p: &Path) -> io::Result<String> {
    let s = p.to_str().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{}: not UTF-8", p.display()),
        )
    })?;
    if s.contains('"') || s.contains('\n') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{s:?}: quotes and newlines are not allowed in paths"),
        ));
    }
    Ok(format!("\"{s}\""))
}

fn tls(cleartext: bool) -> &'static str {
    if cleartext {
        "  TLS Enable = no\n  TLS Require = no\n"
    } else {
        ""
    }
}

/// Passwords of one generated set.
#[derive(Debug, Clone)]
pub struct Passwords {
    /// Director ↔ console.
    pub console: String,
    /// Director ↔ File daemon.
    pub fd: String,
    /// Director ↔ Storage daemon.
    pub sd: String,
}

/// The four configuration texts: (dir, sd, fd, console).
pub fn render(o: &InitOptions, pw: &Passwords) -> io::Result<(String, String, String, String)> {
    use names::*;
    let t = tls(o.cleartext);
    let d = &o.dir;
    let (dp, fp, sp) = (
        o.base_port,
        o.base_port.saturating_add(1),
        o.base_port.saturating_add(2),
    );
    let addr = &o.address;
    let catalog = match &o.postgres {
        Some(p) => format!(
            "Catalog {{\n  Name = {CATALOG}\n  DB Name = \"{}\"\n  DB User = \"{}\"\n  DB Password = \"{}\"\n  DB Address = \"{}\"\n  DB Port = {}\n}}\n",
            p.dbname, p.user, p.password, p.host, p.port
        ),
        None => format!("Catalog {{\n  Name = {CATALOG}\n  DB Name = \"barque\"\n  DB User = \"barque\"\n  DB Password = \"\"\n}}\n"),
    };
    let mut files = String::new();
    for f in &o.files {
        let _ = writeln!(files, "    File = {}", quote(f)?);
    }
    let log = quote(&d.join("log/barque.log"))?;
    let dir = format!(
        "# Generated by barque-dir --init. Director on {addr}:{dp}, File daemon :{fp}, Storage \
         daemon :{sp}.\n\
         # {tlsnote}\n\n\
         Director {{\n  Name = {DIRECTOR}\n  DirAddresses = {{ ip = {{ addr = {addr}; port = {dp} }} }}\n  \
         WorkingDirectory = {wd}\n  Maximum Concurrent Jobs = 10\n  Password = \"{cpw}\"\n  \
         Messages = Daemon\n{t}}}\n\n\
         {catalog}\n\
         Client {{\n  Name = {CLIENT}\n  Address = {addr}\n  Port = {fp}\n  Password = \"{fpw}\"\n  \
         Catalog = {CATALOG}\n{t}}}\n\n\
         Storage {{\n  Name = {STORAGE}\n  Address = {addr}\n  Port = {sp}\n  Password = \"{spw}\"\n  \
         Device = {DEVICE}\n  Media Type = File\n  Maximum Concurrent Jobs = 10\n{t}}}\n\n\
         Pool {{\n  Name = {POOL}\n  Pool Type = Backup\n  Recycle = no\n  AutoPrune = no\n  \
         Volume Retention = 365 days\n  Maximum Volume Jobs = 1\n  Maximum Volumes = 1000\n  \
         Label Format = \"Vol-\"\n}}\n\n\
         Pool {{\n  Name = Scratch\n  Pool Type = Scratch\n}}\n\n\
         FileSet {{\n  Name = \"{FILESET}\"\n  Include {{\n    Options {{\n      Signature = SHA256\n    }}\n{files}  }}\n}}\n\n\
         Job {{\n  Name = \"{BACKUP_JOB}\"\n  Type = Backup\n  Level = Incremental\n  Client = {CLIENT}\n  \
         FileSet = \"{FILESET}\"\n  Storage = {STORAGE}\n  Pool = {POOL}\n  Messages = Standard\n  \
         Accurate = yes\n  Write Bootstrap = {bsr}\n}}\n\n\
         Job {{\n  Name = \"{RESTORE_JOB}\"\n  Type = Restore\n  Client = {CLIENT}\n  FileSet = \"{FILESET}\"\n  \
         Storage = {STORAGE}\n  Pool = {POOL}\n  Messages = Standard\n  Where = {rwhere}\n}}\n\n\
         Messages {{\n  Name = Standard\n  console = all, !skipped, !saved, !audit\n  \
         append = {log} = all, !skipped, !saved, !audit\n  catalog = all, !skipped, !saved, !audit\n}}\n\n\
         Messages {{\n  Name = Daemon\n  console = all, !skipped, !saved, !audit\n  \
         append = {log} = all, !skipped, !audit\n}}\n",
        tlsnote = if o.cleartext {
            "Cleartext: TLS Enable = no on every resource."
        } else {
            "No TLS directives: every connection uses TLS-PSK (Bareos' default)."
        },
        wd = quote(&d.join("state/dir"))?,
        cpw = pw.console,
        fpw = pw.fd,
        spw = pw.sd,
        bsr = quote(&d.join("state/dir/%n-%i.bsr"))?,
        rwhere = quote(&o.restore_where)?,
    );
    let sd = format!(
        "# Generated by barque-dir --init.\n\n\
         Storage {{\n  Name = {SD}\n  SdAddresses = {{ ip = {{ addr = {addr}; port = {sp} }} }}\n  \
         WorkingDirectory = {wd}\n  Messages = Standard\n{t}}}\n\n\
         Director {{\n  Name = {DIRECTOR}\n  Password = \"{spw}\"\n{t}}}\n\n\
         Device {{\n  Name = {DEVICE}\n  Media Type = File\n  Device Type = File\n  \
         Archive Device = {vol}\n  Label Media = yes\n  Random Access = yes\n  \
         Automatic Mount = yes\n  Removable Media = no\n  Always Open = no\n}}\n\n\
         Messages {{\n  Name = Standard\n  Director = {DIRECTOR} = all\n}}\n",
        wd = quote(&d.join("state/sd"))?,
        spw = pw.sd,
        vol = quote(&d.join("volumes"))?,
    );
    let fd = format!(
        "# Generated by barque-dir --init.\n\n\
         Client {{\n  Name = {CLIENT}\n  FdAddresses = {{ ip = {{ addr = {addr}; port = {fp} }} }}\n  \
         WorkingDirectory = {wd}\n  Messages = Standard\n{t}}}\n\n\
         Director {{\n  Name = {DIRECTOR}\n  Password = \"{fpw}\"\n{t}}}\n\n\
         Messages {{\n  Name = Standard\n  Director = {DIRECTOR} = all, !skipped, !restored\n}}\n",
        wd = quote(&d.join("state/fd"))?,
        fpw = pw.fd,
    );
    let console = format!(
        "# Generated by barque-dir --init.\n\n\
         Director {{\n  Name = {DIRECTOR}\n  Address = {addr}\n  Port = {dp}\n  Password = \"{cpw}\"\n{t}}}\n",
        cpw = pw.console,
    );
    Ok((dir, sd, fd, console))
}

/// Write the configurations and make the directories; existing files are overwritten.
pub fn generate(o: &InitOptions) -> io::Result<InitLayout> {
    let d = &o.dir;
    let etc = d.join("etc");
    for sub in ["etc", "state/dir", "state/sd", "state/fd", "volumes", "log"] {
        std::fs::create_dir_all(d.join(sub))?;
    }
    let pw = Passwords {
        console: random_password()?,
        fd: random_password()?,
        sd: random_password()?,
    };
    let (dir, sd, fd, console) = render(o, &pw)?;
    let layout = InitLayout {
        dir_conf: etc.join("bareos-dir.conf"),
        sd_conf: etc.join("bareos-sd.conf"),
        fd_conf: etc.join("bareos-fd.conf"),
        console_conf: etc.join("bconsole.conf"),
        volumes: d.join("volumes"),
        dir_state: d.join("state/dir"),
        log: d.join("log"),
    };
    for (p, text) in [
        (&layout.dir_conf, dir),
        (&layout.sd_conf, sd),
        (&layout.fd_conf, fd),
        (&layout.console_conf, console),
    ] {
        std::fs::write(p, text)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    Ok(layout)
}

#[cfg(test)]
mod tests {
    use super::*;
    use barque_common::config::{check_str, Daemon};

    fn pw() -> Passwords {
        Passwords {
            console: "c".repeat(64),
            fd: "f".repeat(64),
            sd: "s".repeat(64),
        }
    }

    fn check_all(o: &InitOptions) -> barque_common::config::Config {
        let (dir, sd, fd, con) = render(o, &pw()).unwrap();
        for (name, text, daemon) in [
            ("bareos-sd.conf", &sd, Daemon::Storage),
            ("bareos-fd.conf", &fd, Daemon::FileDaemon),
            ("bconsole.conf", &con, Daemon::Console),
        ] {
            let r = check_str(name, text.as_bytes(), daemon);
            assert!(r.is_ok(), "{name}:\n{r}\n{text}");
        }
        let r = check_str("bareos-dir.conf", dir.as_bytes(), Daemon::Director);
        assert!(r.is_ok(), "{r}\n{dir}");
        r.config
    }

    #[test]
    fn generated_configs_load_and_agree() {
        let o = InitOptions::new("/tmp/x y");
        let cfg = check_all(&o);
        let model = crate::model::Model::from_config(Path::new("/tmp/x y"), cfg.clone()).unwrap();
        assert_eq!(model.director.name, names::DIRECTOR);
        let c = &model.clients[0];
        assert_eq!((c.address.as_str(), c.port), ("127.0.0.1", 9102));
        let s = &model.storages[0];
        assert_eq!(s.port, 9103);
        // TLS-PSK default: no TLS directives at all.
        let (dir, ..) = render(&o, &pw()).unwrap();
        assert!(!dir.contains("TLS Enable") && !dir.contains("TLS Require"));
        let (name, cat) = crate::engine::catalog_config(&cfg).unwrap();
        assert_eq!(name, names::CATALOG);
        assert_eq!(
            cat,
            crate::catalog::CatalogConfig::Sqlite {
                path: PathBuf::from("/tmp/x y/state/dir/barque.db")
            }
        );
        crate::jobs::Plan::resolve(&cfg, names::BACKUP_JOB, &Default::default()).unwrap();
    }

    #[test]
    fn cleartext_and_postgres() {
        let mut o = InitOptions::new("/w");
        o.cleartext = true;
        o.base_port = 19101;
        o.postgres = Some(PgParams {
            host: "127.0.0.1".into(),
            port: 5433,
            dbname: "cat".into(),
            user: "u".into(),
            password: "p".into(),
        });
        let cfg = check_all(&o);
        let (dir, sd, fd, con) = render(&o, &pw()).unwrap();
        for t in [&dir, &sd, &fd, &con] {
            assert!(t.contains("TLS Enable = no"));
        }
        let (_, cat) = crate::engine::catalog_config(&cfg).unwrap();
        assert_eq!(
            cat,
            crate::catalog::CatalogConfig::Postgres(PgParams {
                host: "127.0.0.1".into(),
                port: 5433,
                dbname: "cat".into(),
                user: "u".into(),
                password: "p".into(),
            })
        );
        assert!(dir.contains("port = 19101"));
        assert!(fd.contains("port = 19102"));
        assert!(sd.contains("port = 19103"));
    }

    #[test]
    fn bad_paths_are_refused() {
        let o = InitOptions::new("/tmp/a\"b");
        assert!(render(&o, &pw()).is_err());
    }

    #[test]
    fn generate_writes_files_with_random_passwords() {
        let t = std::env::temp_dir().join(format!("barque-init-{}", std::process::id()));
        let l1 = generate(&InitOptions::new(&t)).unwrap();
        let a = std::fs::read_to_string(&l1.dir_conf).unwrap();
        let l2 = generate(&InitOptions::new(&t)).unwrap();
        let b = std::fs::read_to_string(&l2.dir_conf).unwrap();
        assert_ne!(a, b, "passwords must differ between runs");
        assert!(l1.volumes.is_dir() && l1.dir_state.is_dir());
        let _ = std::fs::remove_dir_all(&t);
    }
}
