//! barque-sd's view of a `bareos-sd.d` configuration.
//!
//! The configuration language, the schema and the typed views are barque-common's
//! ([`barque_common::config`]); this module picks what the daemon uses and checks what Bareos
//! checks at start-up (`core/src/stored/stored.cc` `CheckResources()`): exactly one `Storage`
//! resource, at least one `Director`, at least one `Device`, and every device usable. `-t`
//! prints these problems and exits non-zero; a problem found later (an archive directory
//! removed while running) is reported per job.
//!
//! Only File devices exist in Barque: `Device Type` must be `File` (or unset), `Archive
//! Device` an existing directory. `Maximum Block Size` bounds the blocks written (default
//! 1 MiB as in Bareos); there is no `Maximum Volume Size` directive in current Bareos, the
//! limit comes from the Director's media record (`MaxVolBytes`).

use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use barque_common::config::{self, typed::Messages, Config, Daemon};
use barque_common::tls::{Key, TlsSettings};

use crate::volume::block::{DEFAULT_BLOCK_SIZE, MAX_BLOCK_LEN};

/// Default SD port.
pub const DEFAULT_PORT: u16 = 9103;

/// A Director this SD serves.
#[derive(Debug, Clone)]
pub struct DirectorRes {
    /// Its name (`Hello Director «name»`).
    pub name: String,
    /// CRAM-MD5 / PSK key (MD5 hex of the password).
    pub key: Key,
    /// `Monitor = yes`: status only.
    pub monitor: bool,
    /// TLS directives of the resource.
    pub tls: TlsSettings,
}

/// A File device.
#[derive(Debug, Clone)]
pub struct DeviceRes {
    /// `Name`.
    pub name: String,
    /// `Media Type`.
    pub media_type: String,
    /// `Archive Device`: the directory holding one file per volume.
    pub archive: PathBuf,
    /// `Label Media`: label blank volumes.
    pub label_media: bool,
    /// `Random Access`.
    pub random_access: bool,
    /// `Automatic Mount`.
    pub automatic_mount: bool,
    /// `Removable Media`.
    pub removable_media: bool,
    /// `Always Open`.
    pub always_open: bool,
    /// `Auto Select`.
    pub auto_select: bool,
    /// `Maximum Concurrent Jobs` (0 = unlimited).
    pub maximum_concurrent_jobs: u32,
    /// `Maximum Block Size` in bytes.
    pub block_size: usize,
}

/// Everything the daemon needs from its configuration.
#[derive(Debug, Clone)]
pub struct SdConfig {
    /// The Storage resource name (`bareos-sd`).
    pub name: String,
    /// Where to listen.
    pub listen: Vec<SocketAddr>,
    /// `Working Directory`.
    pub working_directory: Option<PathBuf>,
    /// TLS directives of the Storage resource (used to serve TLS).
    pub tls: TlsSettings,
    /// `Maximum Concurrent Jobs` of the Storage resource.
    pub maximum_concurrent_jobs: u32,
    /// `Client Connect Wait`: how long `run` waits for the FD.
    pub client_connect_wait: Duration,
    /// `FD Connect Timeout`: passive client connect.
    pub fd_connect_timeout: Duration,
    /// Directors.
    pub directors: Vec<DirectorRes>,
    /// Devices.
    pub devices: Vec<DeviceRes>,
    /// Messages resources.
    pub messages: Vec<Messages>,
    /// The Storage resource's `Messages` resource, applied to job messages.
    pub job_messages: Option<Messages>,
}

fn resolve(addr: Option<&str>, port: &str) -> Result<Vec<SocketAddr>, String> {
    let port: u16 = port
        .parse()
        .map_err(|_| format!("port {port:?} is not a number from 1 to 65535"))?;
    match addr {
        None => Ok(vec![SocketAddr::new(
            IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            port,
        )]),
        Some(a) => (a, port)
            .to_socket_addrs()
            .map(|i| i.collect())
            .map_err(|e| format!("cannot resolve address {a:?}: {e}")),
    }
}

impl SdConfig {
    /// Load `-c PATH` (a file or a `bareos-sd.d` directory) and check it. The error holds
    /// one problem per line, each naming the file, line and directive where possible.
    pub fn load(path: &Path) -> Result<(SdConfig, Vec<String>), String> {
        // `-c /etc/bareos/bareos-sd.d` names the resource directory itself; the loader wants
        // the directory holding it (or a bareos-sd.conf).
        let path = if path.is_dir()
            && path.file_name().is_some_and(|n| n == "bareos-sd.d")
            && !path.join("bareos-sd.conf").exists()
        {
            path.parent().unwrap_or(path)
        } else {
            path
        };
        let cfg = config::load(path, Daemon::Storage).map_err(|e| e.to_string())?;
        let warnings = cfg.warnings.iter().map(|w| w.to_string()).collect();
        SdConfig::from_config(&cfg)
            .map(|c| (c, warnings))
            .map_err(|e| e.join("\n"))
    }

    /// Build from a loaded configuration; every problem is listed.
    pub fn from_config(cfg: &Config) -> Result<SdConfig, Vec<String>> {
        let mut errors = Vec::new();
        let storages: Vec<_> = cfg.resources("Storage").collect();
        if storages.len() > 1 {
            errors.push(format!(
                "only one Storage resource is allowed, found {} ({})",
                storages.len(),
                storages
                    .iter()
                    .map(|r| r.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        let Some(st) = cfg.sd_storage() else {
            errors.push("no Storage resource: barque-sd needs one (Name = ...)".into());
            return Err(errors);
        };
        let mut listen = Vec::new();
        for a in &st.addresses {
            let port = a.port.clone().unwrap_or_else(|| DEFAULT_PORT.to_string());
            match resolve(a.addr.as_deref(), &port) {
                Ok(v) => listen.extend(v),
                Err(e) => errors.push(format!("Storage {}: {e}", st.name)),
            }
        }
        let mut directors = Vec::new();
        for d in cfg.sd_directors() {
            match Key::from_password(d.password.md5_hex().as_str()) {
                Ok(_) => {}
                Err(e) => errors.push(format!("Director {}: bad password: {e}", d.name)),
            }
            directors.push(DirectorRes {
                name: d.name.clone(),
                // The MD5 hex is the key itself (Bareos stores it and uses it verbatim).
                key: Key::raw(d.password.md5_hex().into_bytes()),
                monitor: d.monitor,
                tls: d.tls.clone(),
            });
        }
        if directors.is_empty() {
            errors.push(
                "no Director resource: barque-sd would refuse every Director (add Director { Name = ...; Password = ... })"
                    .into(),
            );
        }
        let mut devices = Vec::new();
        for d in cfg.sd_devices() {
            let where_ = format!("Device {}", d.name);
            if !d.device_type.is_empty() && !d.device_type.eq_ignore_ascii_case("file") {
                errors.push(format!(
                    "{where_}: Device Type {:?} is not supported (barque-sd writes File devices only)",
                    d.device_type
                ));
            }
            if d.archive_device.is_empty() {
                errors.push(format!("{where_}: Archive Device is missing"));
            } else if !Path::new(&d.archive_device).is_dir() {
                errors.push(format!(
                    "{where_}: Archive Device {:?} is not an existing directory",
                    d.archive_device
                ));
            }
            if d.media_type.is_empty() {
                errors.push(format!("{where_}: Media Type is missing"));
            }
            let block_size = if d.maximum_block_size == 0 {
                DEFAULT_BLOCK_SIZE
            } else {
                d.maximum_block_size as usize
            };
            if block_size < 1024 || block_size as u64 > u64::from(MAX_BLOCK_LEN) {
                errors.push(format!(
                    "{where_}: Maximum Block Size {block_size} is out of range (1024 to {MAX_BLOCK_LEN})"
                ));
            }
            devices.push(DeviceRes {
                name: d.name.clone(),
                media_type: d.media_type.clone(),
                archive: PathBuf::from(&d.archive_device),
                label_media: d.label_media,
                random_access: d.random_access,
                automatic_mount: d.automatic_mount,
                removable_media: d.removable_media,
                always_open: d.always_open,
                auto_select: d.auto_select,
                maximum_concurrent_jobs: d.maximum_concurrent_jobs,
                block_size,
            });
        }
        if devices.is_empty() {
            errors.push("no Device resource: barque-sd has nothing to write to".into());
        }
        if let Some(m) = &st.messages {
            if !cfg.messages().iter().any(|r| &r.name == m) {
                errors.push(format!(
                    "Storage {}: Messages {m:?} is not defined by any Messages resource",
                    st.name
                ));
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(SdConfig {
            name: st.name.clone(),
            listen,
            working_directory: st.working_directory.as_ref().map(PathBuf::from),
            tls: st.tls.clone(),
            maximum_concurrent_jobs: st.maximum_concurrent_jobs,
            client_connect_wait: Duration::from_secs(st.client_connect_wait.0.max(1)),
            fd_connect_timeout: Duration::from_secs(st.fd_connect_timeout.0.max(1)),
            directors,
            devices,
            job_messages: st
                .messages
                .as_ref()
                .and_then(|m| cfg.messages().into_iter().find(|r| &r.name == m)),
            messages: cfg.messages(),
        })
    }

    /// The device named `name`.
    pub fn device(&self, name: &[u8]) -> Option<&DeviceRes> {
        self.devices.iter().find(|d| d.name.as_bytes() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use barque_common::config::check_str;

    fn conf(archive: &str) -> String {
        format!(
            r#"
Storage {{
  Name = bareos-sd
  SdAddresses = {{ ip = {{ addr = 127.0.0.1; port = 39203 }} }}
  Messages = Standard
  TLS Enable = no
  TLS Require = no
}}
Director {{
  Name = bareos-dir
  Password = "ref-sd-password"
}}
Device {{
  Name = FileStorage
  Media Type = File
  Device Type = File
  Archive Device = "{archive}"
  Label Media = yes
  Random Access = yes
  Automatic Mount = yes
}}
Messages {{
  Name = Standard
  Director = bareos-dir = all
}}
"#
        )
    }

    #[test]
    fn test_capture_config_loads() {
        let dir = tempfile::tempdir().unwrap();
        let text = conf(dir.path().to_str().unwrap());
        let r = check_str("bareos-sd.conf", text.as_bytes(), Daemon::Storage);
        assert!(r.is_ok(), "{r}");
        let c = SdConfig::from_config(&r.config).unwrap();
        assert_eq!(c.name, "bareos-sd");
        assert_eq!(c.listen, vec!["127.0.0.1:39203".parse().unwrap()]);
        assert_eq!(c.directors.len(), 1);
        // MD5 hex of "ref-sd-password" is the CRAM key.
        assert_eq!(c.directors[0].key.as_bytes().len(), 32);
        assert_eq!(c.devices[0].block_size, DEFAULT_BLOCK_SIZE);
        assert!(c.devices[0].label_media);
        assert!(!c.tls.enable);
    }

    #[test]
    fn test_missing_archive_and_director_reported() {
        let text = conf("/nonexistent/barque/archive").replace(
            "Director {\n  Name = bareos-dir\n  Password = \"ref-sd-password\"\n}",
            "",
        );
        let r = check_str("bareos-sd.conf", text.as_bytes(), Daemon::Storage);
        let e = SdConfig::from_config(&r.config).unwrap_err();
        assert!(
            e.iter().any(|m| m.contains("not an existing directory")),
            "{e:?}"
        );
        assert!(e.iter().any(|m| m.contains("no Director")), "{e:?}");
    }
}
