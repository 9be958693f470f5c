//! Typed views of the resources the daemons act on.
//!
//! The generic tree ([`Resource::get`]) answers "what was written"; these structs answer "what
//! does the daemon do", with Bareos' documented defaults filled in (`DefaultValue` in the
//! resource tables, e.g. TLS Enable/Require default to yes, which is why the TLS-PSK captures
//! need no TLS directives at all). Each view is built from a loaded [`Config`], which has already
//! been validated, so the accessors cannot fail: a value of the wrong shape cannot be present.
//!
//! Field names follow the Bareos directive names; the Bareos source of each default is the
//! resource table named in the struct's doc.

use std::path::PathBuf;

use super::value::{Family, ListenAddress, MessageDestination, Password, Seconds, Value};
use super::{Config, Resource};
use crate::tls::TlsSettings;

/// Bareos' default ports (`config.h.in`: `DIR_DEFAULT_PORT`, `FD_DEFAULT_PORT`,
/// `SD_DEFAULT_PORT`).
pub const DIR_DEFAULT_PORT: u16 = 9101;
pub const FD_DEFAULT_PORT: u16 = 9102;
pub const SD_DEFAULT_PORT: u16 = 9103;

fn s(r: &Resource, name: &str) -> Option<String> {
    match r.get(name) {
        Some(Value::Str(v)) => Some(v.clone()),
        Some(Value::List(l)) => l.first().cloned(),
        _ => None,
    }
}

fn b(r: &Resource, name: &str) -> bool {
    r.get_or_default(name)
        .and_then(|v| v.as_bool())
        .unwrap_or(false)
}

fn list(r: &Resource, name: &str) -> Vec<String> {
    match r.get(name) {
        Some(Value::List(l)) => l.clone(),
        _ => Vec::new(),
    }
}

fn secs(r: &Resource, name: &str) -> Seconds {
    r.get_or_default(name)
        .and_then(|v| v.as_duration())
        .unwrap_or_default()
}

fn int(r: &Resource, name: &str) -> Option<i64> {
    r.get_or_default(name).and_then(|v| v.as_int())
}

fn port(r: &Resource, name: &str, default: u16) -> u16 {
    int(r, name)
        .and_then(|p| u16::try_from(p).ok())
        .unwrap_or(default)
}

fn password(r: &Resource) -> Option<Password> {
    r.get("Password").and_then(Value::as_password).cloned()
}

fn speed(r: &Resource, name: &str) -> Option<u64> {
    r.get(name).and_then(Value::as_size).filter(|&v| v > 0)
}

/// The TLS directives of a resource (`TLS_COMMON_CONFIG`/`TLS_CERT_CONFIG`,
/// `core/src/lib/tls_resource_items.h`) as the connection layer's [`TlsSettings`], with
/// Bareos' defaults where a directive is not written. `TLS Authenticate` (deprecated) is read
/// and kept so a daemon can refuse or warn about it.
pub fn tls_of(r: &Resource) -> TlsSettings {
    TlsSettings {
        enable: b(r, "TlsEnable"),
        require: b(r, "TlsRequire"),
        authenticate: b(r, "TlsAuthenticate"),
        verify_peer: b(r, "TlsVerifyPeer"),
        ca_file: s(r, "TlsCaCertificateFile").map(PathBuf::from),
        ca_dir: s(r, "TlsCaCertificateDir").map(PathBuf::from),
        crl: s(r, "TlsCertificateRevocationList").map(PathBuf::from),
        certificate: s(r, "TlsCertificate").map(PathBuf::from),
        key: s(r, "TlsKey").map(PathBuf::from),
        dh_file: s(r, "TlsDhFile").map(PathBuf::from),
        cipher_list: s(r, "TlsCipherList"),
        cipher_suites: s(r, "TlsCipherSuites"),
        protocol: s(r, "TlsProtocol"),
        allowed_cn: list(r, "TlsAllowedCn"),
    }
}

/// Where a daemon listens: `Addresses` blocks, or `Address`/`Port`, or all addresses on the
/// default port (`StoreAddresses*` in `core/src/lib/res.cc`).
fn listen(r: &Resource, default_port: u16) -> Vec<ListenAddress> {
    let dp = default_port.to_string();
    let mut out: Vec<ListenAddress> = match r.get("Addresses") {
        Some(Value::Addresses(a)) => a
            .iter()
            .map(|a| ListenAddress {
                family: a.family,
                addr: a.addr.clone(),
                port: Some(a.port.clone().unwrap_or_else(|| dp.clone())),
            })
            .collect(),
        _ => Vec::new(),
    };
    let addr = s(r, "Address");
    let port = s(r, "Port");
    if addr.is_some() || port.is_some() || out.is_empty() {
        out.push(ListenAddress {
            family: Family::Any,
            addr,
            port: Some(port.unwrap_or(dp)),
        });
    }
    out
}

/// The File daemon's own `Client` (alias `FileDaemon`) resource
/// (`cli_items` in `core/src/filed/filed_conf.cc`).
#[derive(Debug, Clone, PartialEq)]
pub struct FdClient {
    pub name: String,
    pub description: Option<String>,
    /// Where to listen for Directors (and Storage daemons of passive jobs).
    pub addresses: Vec<ListenAddress>,
    /// `Source Address` for outgoing connections.
    pub source_address: Option<String>,
    pub working_directory: Option<String>,
    pub messages: Option<String>,
    /// `Heartbeat Interval` (0: off).
    pub heartbeat_interval: Seconds,
    /// `SD Connect Timeout` (default 30 min).
    pub sd_connect_timeout: Seconds,
    /// `Maximum Concurrent Jobs` (default 1000).
    pub maximum_concurrent_jobs: u32,
    pub maximum_network_buffer_size: Option<u32>,
    /// `Maximum Bandwidth Per Job` in bytes/s.
    pub maximum_bandwidth_per_job: Option<u64>,
    pub allow_bandwidth_bursting: bool,
    pub allowed_script_dirs: Vec<String>,
    pub allowed_job_commands: Vec<String>,
    /// `Absolute Job Timeout` in seconds (0: none).
    pub absolute_job_timeout: u32,
    pub tls: TlsSettings,
}

/// A Director allowed to use a File daemon (`dir_items` in `core/src/filed/filed_conf.cc`).
#[derive(Debug, Clone, PartialEq)]
pub struct FdDirector {
    pub name: String,
    pub description: Option<String>,
    pub password: Password,
    /// Where to dial the Director when `connection_from_client_to_director` is set.
    pub address: Option<String>,
    /// Director port for client-initiated connections (default 9101).
    pub port: u16,
    /// `Connection From Director To Client` (default yes).
    pub connection_from_director_to_client: bool,
    /// `Connection From Client To Director` (default no).
    pub connection_from_client_to_director: bool,
    /// `Monitor`: status only (default no).
    pub monitor: bool,
    pub maximum_bandwidth_per_job: Option<u64>,
    pub allowed_script_dirs: Vec<String>,
    pub allowed_job_commands: Vec<String>,
    pub tls: TlsSettings,
}

/// The Storage daemon's own `Storage` resource (`store_items` in
/// `core/src/stored/stored_conf.cc`).
#[derive(Debug, Clone, PartialEq)]
pub struct SdStorage {
    pub name: String,
    pub addresses: Vec<ListenAddress>,
    pub working_directory: Option<String>,
    pub backend_directories: Vec<String>,
    pub messages: Option<String>,
    pub heartbeat_interval: Seconds,
    pub sd_connect_timeout: Seconds,
    pub fd_connect_timeout: Seconds,
    pub client_connect_wait: Seconds,
    pub maximum_concurrent_jobs: u32,
    pub maximum_network_buffer_size: Option<u32>,
    pub maximum_bandwidth_per_job: Option<u64>,
    pub tls: TlsSettings,
}

/// A Director allowed to use a Storage daemon (`dir_items` in `core/src/stored/stored_conf.cc`).
#[derive(Debug, Clone, PartialEq)]
pub struct SdDirector {
    pub name: String,
    pub password: Password,
    pub monitor: bool,
    pub maximum_bandwidth_per_job: Option<u64>,
    pub tls: TlsSettings,
}

/// A Storage daemon `Device` (`dev_items` in `core/src/stored/stored_conf.cc`).
#[derive(Debug, Clone, PartialEq)]
pub struct SdDevice {
    pub name: String,
    pub media_type: String,
    /// `Device Type` as written (`File`, `Tape`, `Fifo`, a backend name); empty: guess.
    pub device_type: String,
    pub archive_device: String,
    pub label_media: bool,
    pub random_access: bool,
    pub automatic_mount: bool,
    pub removable_media: bool,
    pub always_open: bool,
    /// `Maximum Block Size` (default 1 MiB).
    pub maximum_block_size: u64,
    pub minimum_block_size: Option<i64>,
    /// `Maximum File Size` (default 1,000,000,000).
    pub maximum_file_size: u64,
    pub maximum_concurrent_jobs: u32,
    pub auto_select: bool,
    pub count: u32,
}

/// The Director a console talks to (`dir_items` in `core/src/console/console_conf.cc`).
#[derive(Debug, Clone, PartialEq)]
pub struct ConsoleDirector {
    pub name: String,
    pub address: String,
    pub port: u16,
    /// Optional here (a named `Console` resource may carry the password instead).
    pub password: Option<Password>,
    pub heartbeat_interval: Seconds,
    pub tls: TlsSettings,
}

/// A named console identity in `bconsole.conf` (`cons_items` in
/// `core/src/console/console_conf.cc`).
#[derive(Debug, Clone, PartialEq)]
pub struct ConsoleConsole {
    pub name: String,
    pub password: Password,
    /// The Director this console identity is for (`Director = name`).
    pub director: Option<String>,
    pub heartbeat_interval: Seconds,
    pub tls: TlsSettings,
}

/// The Director's own resource (`dir_items` in `core/src/dird/dird_conf.cc`).
#[derive(Debug, Clone, PartialEq)]
pub struct DirDirector {
    pub name: String,
    pub addresses: Vec<ListenAddress>,
    /// The password of the default (root) console.
    pub password: Password,
    pub messages: Option<String>,
    pub working_directory: Option<String>,
    pub query_file: Option<String>,
    pub maximum_concurrent_jobs: u32,
    pub maximum_console_connections: u32,
    pub fd_connect_timeout: Seconds,
    pub sd_connect_timeout: Seconds,
    pub heartbeat_interval: Seconds,
    pub auditing: bool,
    pub tls: TlsSettings,
}

/// A `Client` as the Director sees it (`client_items` in `core/src/dird/dird_conf.cc`).
#[derive(Debug, Clone, PartialEq)]
pub struct DirClient {
    pub name: String,
    pub address: String,
    pub port: u16,
    pub password: Password,
    pub catalog: Option<String>,
    /// `Passive`: the Storage daemon dials the File daemon.
    pub passive: bool,
    pub connection_from_director_to_client: bool,
    pub connection_from_client_to_director: bool,
    pub enabled: bool,
    pub heartbeat_interval: Seconds,
    pub maximum_concurrent_jobs: u32,
    pub maximum_bandwidth_per_job: Option<u64>,
    pub tls: TlsSettings,
}

/// A `Storage` as the Director sees it (`store_items` in `core/src/dird/dird_conf.cc`).
#[derive(Debug, Clone, PartialEq)]
pub struct DirStorage {
    pub name: String,
    pub address: String,
    pub port: u16,
    pub password: Password,
    pub devices: Vec<String>,
    pub media_type: String,
    pub enabled: bool,
    pub heartbeat_interval: Seconds,
    pub maximum_concurrent_jobs: u32,
    pub maximum_bandwidth_per_job: Option<u64>,
    pub tls: TlsSettings,
}

/// A `Console` the Director accepts (`con_items` in `core/src/dird/dird_conf.cc`).
#[derive(Debug, Clone, PartialEq)]
pub struct DirConsole {
    pub name: String,
    pub password: Password,
    pub profiles: Vec<String>,
    pub tls: TlsSettings,
}

/// A `Messages` resource.
#[derive(Debug, Clone, PartialEq)]
pub struct Messages {
    pub name: String,
    /// Each destination directive (`Director`, `Append`, `Console`, ...) with its entries.
    pub destinations: Vec<(&'static str, MessageDestination)>,
    pub mail_command: Option<String>,
    pub operator_command: Option<String>,
    pub timestamp_format: Option<String>,
}

/// One `Options { }` block of a FileSet Include.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSetOptions {
    /// The option letters sent on the `O` line (see [`super::fileset`]).
    pub letters: String,
    pub wild: Vec<String>,
    pub wild_dir: Vec<String>,
    pub wild_file: Vec<String>,
    pub regex: Vec<String>,
    pub regex_dir: Vec<String>,
    pub regex_file: Vec<String>,
    pub fs_type: Vec<String>,
    pub drive_type: Vec<String>,
    pub meta: Vec<String>,
    pub plugin: Option<String>,
}

/// One `Include { }` (or `Exclude { }`) block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSetBlock {
    /// `File = ...` entries in order (`<file` and `\|command` forms kept as written).
    pub files: Vec<String>,
    pub plugins: Vec<String>,
    pub exclude_dir_containing: Vec<String>,
    /// Options blocks; for an Include without any, one block holding Bareos' defaults.
    pub options: Vec<FileSetOptions>,
}

/// A Director `FileSet` (`fs_items` in `core/src/dird/dird_conf.cc`, blocks in
/// `core/src/dird/inc_conf.cc`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirFileSet {
    pub name: String,
    pub includes: Vec<FileSetBlock>,
    pub excludes: Vec<FileSetBlock>,
    pub ignore_fileset_changes: bool,
    pub enable_vss: bool,
}

fn block_list(block: &[super::Directive], name: &str) -> Vec<String> {
    block
        .iter()
        .filter(|d| d.name == name)
        .filter_map(|d| d.value.as_list())
        .flatten()
        .cloned()
        .collect()
}

fn fileset_block(block: &[super::Directive], include: bool) -> FileSetBlock {
    let mut options = Vec::new();
    let option_blocks = block
        .iter()
        .filter(|d| d.name == "Options")
        .filter_map(|d| match &d.value {
            Value::Blocks(b) => Some(b),
            _ => None,
        })
        .flatten();
    for o in option_blocks {
        options.push(FileSetOptions {
            // Validated while loading, so this cannot fail; an empty string is the fallback.
            letters: super::fileset::options_string(o).unwrap_or_default(),
            wild: block_list(o, "Wild"),
            wild_dir: block_list(o, "WildDir"),
            wild_file: block_list(o, "WildFile"),
            regex: block_list(o, "Regex"),
            regex_dir: block_list(o, "RegexDir"),
            regex_file: block_list(o, "RegexFile"),
            fs_type: block_list(o, "FsType"),
            drive_type: block_list(o, "DriveType"),
            meta: block_list(o, "Meta"),
            plugin: o
                .iter()
                .find(|d| d.name == "Plugin")
                .and_then(|d| d.value.as_str())
                .map(str::to_string),
        });
    }
    if include && options.is_empty() {
        options.push(FileSetOptions {
            letters: super::fileset::options_string(&[]).unwrap_or_default(),
            wild: Vec::new(),
            wild_dir: Vec::new(),
            wild_file: Vec::new(),
            regex: Vec::new(),
            regex_dir: Vec::new(),
            regex_file: Vec::new(),
            fs_type: Vec::new(),
            drive_type: Vec::new(),
            meta: Vec::new(),
            plugin: None,
        });
    }
    FileSetBlock {
        files: block_list(block, "File"),
        plugins: block_list(block, "Plugin"),
        exclude_dir_containing: block_list(block, "ExcludeDirContaining"),
        options,
    }
}

/// A Director `Job` with its `JobDefs` chain applied (`PopulateDefs` in
/// `core/src/dird/reload.cc`: a Job takes every directive it does not set from its JobDefs).
#[derive(Debug, Clone, PartialEq)]
pub struct DirJob {
    pub name: String,
    /// `Type` (Backup, Restore, ...), canonical spelling.
    pub job_type: String,
    /// `Level`, canonical spelling.
    pub level: Option<String>,
    pub client: Option<String>,
    pub fileset: Option<String>,
    pub storage: Vec<String>,
    pub pool: Option<String>,
    pub messages: Option<String>,
    pub schedule: Option<String>,
    pub where_: Option<String>,
    pub replace: Option<String>,
    pub write_bootstrap: Option<String>,
    pub priority: u32,
    pub maximum_bandwidth: Option<u64>,
    pub accurate: bool,
    pub enabled: bool,
}

impl Config {
    /// A directive of a Job, looked up through its JobDefs chain.
    pub fn job_value(&self, job: &Resource, name: &str) -> Option<Value> {
        let mut cur = Some(job);
        for _ in 0..8 {
            let r = cur?;
            if let Some(v) = r.get(name) {
                return Some(v.clone());
            }
            cur = match r.get("JobDefs") {
                Some(Value::Str(d)) => self.resource("JobDefs", d),
                _ => None,
            };
        }
        None
    }
}

fn u32_of(r: &Resource, name: &str) -> u32 {
    int(r, name)
        .and_then(|v| u32::try_from(v).ok())
        .unwrap_or(0)
}

impl Config {
    fn res<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Resource> + 'a {
        self.resources.iter().filter(move |r| r.kind == kind)
    }

    /// The File daemon's own Client resource.
    pub fn fd_client(&self) -> Option<FdClient> {
        let r = self.res("Client").next()?;
        Some(FdClient {
            name: r.name.clone(),
            description: s(r, "Description"),
            addresses: listen(r, FD_DEFAULT_PORT),
            source_address: s(r, "SourceAddress"),
            working_directory: s(r, "WorkingDirectory"),
            messages: s(r, "Messages"),
            heartbeat_interval: secs(r, "HeartbeatInterval"),
            sd_connect_timeout: secs(r, "SdConnectTimeout"),
            maximum_concurrent_jobs: u32_of(r, "MaximumConcurrentJobs"),
            maximum_network_buffer_size: int(r, "MaximumNetworkBufferSize")
                .and_then(|v| u32::try_from(v).ok()),
            maximum_bandwidth_per_job: speed(r, "MaximumBandwidthPerJob"),
            allow_bandwidth_bursting: b(r, "AllowBandwidthBursting"),
            allowed_script_dirs: list(r, "AllowedScriptDir"),
            allowed_job_commands: list(r, "AllowedJobCommand"),
            absolute_job_timeout: u32_of(r, "AbsoluteJobTimeout"),
            tls: tls_of(r),
        })
    }

    /// The Directors a File daemon serves.
    pub fn fd_directors(&self) -> Vec<FdDirector> {
        self.res("Director")
            .filter_map(|r| {
                Some(FdDirector {
                    name: r.name.clone(),
                    description: s(r, "Description"),
                    password: password(r)?,
                    address: s(r, "Address"),
                    port: port(r, "Port", DIR_DEFAULT_PORT),
                    connection_from_director_to_client: b(r, "ConnectionFromDirectorToClient"),
                    connection_from_client_to_director: b(r, "ConnectionFromClientToDirector"),
                    monitor: b(r, "Monitor"),
                    maximum_bandwidth_per_job: speed(r, "MaximumBandwidthPerJob"),
                    allowed_script_dirs: list(r, "AllowedScriptDir"),
                    allowed_job_commands: list(r, "AllowedJobCommand"),
                    tls: tls_of(r),
                })
            })
            .collect()
    }

    /// The Storage daemon's own Storage resource.
    pub fn sd_storage(&self) -> Option<SdStorage> {
        let r = self.res("Storage").next()?;
        Some(SdStorage {
            name: r.name.clone(),
            addresses: listen(r, SD_DEFAULT_PORT),
            working_directory: s(r, "WorkingDirectory"),
            backend_directories: list(r, "BackendDirectory"),
            messages: s(r, "Messages"),
            heartbeat_interval: secs(r, "HeartbeatInterval"),
            sd_connect_timeout: secs(r, "SdConnectTimeout"),
            fd_connect_timeout: secs(r, "FdConnectTimeout"),
            client_connect_wait: secs(r, "ClientConnectWait"),
            maximum_concurrent_jobs: u32_of(r, "MaximumConcurrentJobs"),
            maximum_network_buffer_size: int(r, "MaximumNetworkBufferSize")
                .and_then(|v| u32::try_from(v).ok()),
            maximum_bandwidth_per_job: speed(r, "MaximumBandwidthPerJob"),
            tls: tls_of(r),
        })
    }

    /// The Directors a Storage daemon serves.
    pub fn sd_directors(&self) -> Vec<SdDirector> {
        self.res("Director")
            .filter_map(|r| {
                Some(SdDirector {
                    name: r.name.clone(),
                    password: password(r)?,
                    monitor: b(r, "Monitor"),
                    maximum_bandwidth_per_job: speed(r, "MaximumBandwidthPerJob"),
                    tls: tls_of(r),
                })
            })
            .collect()
    }

    /// The Storage daemon's devices.
    pub fn sd_devices(&self) -> Vec<SdDevice> {
        self.res("Device")
            .map(|r| SdDevice {
                name: r.name.clone(),
                media_type: s(r, "MediaType").unwrap_or_default(),
                device_type: s(r, "DeviceType").unwrap_or_default(),
                archive_device: s(r, "ArchiveDevice").unwrap_or_default(),
                label_media: b(r, "LabelMedia"),
                random_access: b(r, "RandomAccess"),
                automatic_mount: b(r, "AutomaticMount"),
                removable_media: b(r, "RemovableMedia"),
                always_open: b(r, "AlwaysOpen"),
                maximum_block_size: r
                    .get_or_default("MaximumBlockSize")
                    .and_then(|v| v.as_size())
                    .unwrap_or(0),
                minimum_block_size: int(r, "MinimumBlockSize"),
                maximum_file_size: r
                    .get_or_default("MaximumFileSize")
                    .and_then(|v| v.as_size())
                    .unwrap_or(0),
                maximum_concurrent_jobs: u32_of(r, "MaximumConcurrentJobs"),
                auto_select: b(r, "AutoSelect"),
                count: u32_of(r, "Count"),
            })
            .collect()
    }

    /// The Directors a console can talk to.
    pub fn console_directors(&self) -> Vec<ConsoleDirector> {
        self.res("Director")
            .map(|r| ConsoleDirector {
                name: r.name.clone(),
                address: s(r, "Address").unwrap_or_default(),
                port: port(r, "Port", DIR_DEFAULT_PORT),
                password: password(r),
                heartbeat_interval: secs(r, "HeartbeatInterval"),
                tls: tls_of(r),
            })
            .collect()
    }

    /// Named console identities of a console configuration.
    pub fn console_consoles(&self) -> Vec<ConsoleConsole> {
        self.res("Console")
            .filter_map(|r| {
                Some(ConsoleConsole {
                    name: r.name.clone(),
                    password: password(r)?,
                    director: s(r, "Director"),
                    heartbeat_interval: secs(r, "HeartbeatInterval"),
                    tls: tls_of(r),
                })
            })
            .collect()
    }

    /// The Director's own resource.
    pub fn dir_director(&self) -> Option<DirDirector> {
        let r = self.res("Director").next()?;
        Some(DirDirector {
            name: r.name.clone(),
            addresses: listen(r, DIR_DEFAULT_PORT),
            password: password(r)?,
            messages: s(r, "Messages"),
            working_directory: s(r, "WorkingDirectory"),
            query_file: s(r, "QueryFile"),
            maximum_concurrent_jobs: u32_of(r, "MaximumConcurrentJobs"),
            maximum_console_connections: u32_of(r, "MaximumConsoleConnections"),
            fd_connect_timeout: secs(r, "FdConnectTimeout"),
            sd_connect_timeout: secs(r, "SdConnectTimeout"),
            heartbeat_interval: secs(r, "HeartbeatInterval"),
            auditing: b(r, "Auditing"),
            tls: tls_of(r),
        })
    }

    /// The Clients a Director knows.
    pub fn dir_clients(&self) -> Vec<DirClient> {
        self.res("Client")
            .filter_map(|r| {
                Some(DirClient {
                    name: r.name.clone(),
                    address: s(r, "Address").unwrap_or_default(),
                    port: port(r, "Port", FD_DEFAULT_PORT),
                    password: password(r)?,
                    catalog: s(r, "Catalog"),
                    passive: b(r, "Passive"),
                    connection_from_director_to_client: b(r, "ConnectionFromDirectorToClient"),
                    connection_from_client_to_director: b(r, "ConnectionFromClientToDirector"),
                    enabled: b(r, "Enabled"),
                    heartbeat_interval: secs(r, "HeartbeatInterval"),
                    maximum_concurrent_jobs: u32_of(r, "MaximumConcurrentJobs"),
                    maximum_bandwidth_per_job: speed(r, "MaximumBandwidthPerJob"),
                    tls: tls_of(r),
                })
            })
            .collect()
    }

    /// The Storages a Director knows.
    pub fn dir_storages(&self) -> Vec<DirStorage> {
        self.res("Storage")
            .filter_map(|r| {
                Some(DirStorage {
                    name: r.name.clone(),
                    address: s(r, "Address").unwrap_or_default(),
                    port: port(r, "Port", SD_DEFAULT_PORT),
                    password: password(r)?,
                    devices: list(r, "Device"),
                    media_type: s(r, "MediaType").unwrap_or_default(),
                    enabled: b(r, "Enabled"),
                    heartbeat_interval: secs(r, "HeartbeatInterval"),
                    maximum_concurrent_jobs: u32_of(r, "MaximumConcurrentJobs"),
                    maximum_bandwidth_per_job: speed(r, "MaximumBandwidthPerJob"),
                    tls: tls_of(r),
                })
            })
            .collect()
    }

    /// The named Consoles a Director accepts.
    pub fn dir_consoles(&self) -> Vec<DirConsole> {
        self.res("Console")
            .filter_map(|r| {
                Some(DirConsole {
                    name: r.name.clone(),
                    password: password(r)?,
                    profiles: list(r, "Profile"),
                    tls: tls_of(r),
                })
            })
            .collect()
    }

    /// The Director's FileSets.
    pub fn dir_filesets(&self) -> Vec<DirFileSet> {
        self.res("FileSet")
            .map(|r| {
                let blocks = |n: &str| match r.get(n) {
                    Some(Value::Blocks(b)) => b.clone(),
                    _ => Vec::new(),
                };
                DirFileSet {
                    name: r.name.clone(),
                    includes: blocks("Include")
                        .iter()
                        .map(|b| fileset_block(b, true))
                        .collect(),
                    excludes: blocks("Exclude")
                        .iter()
                        .map(|b| fileset_block(b, false))
                        .collect(),
                    ignore_fileset_changes: b(r, "IgnoreFileSetChanges"),
                    enable_vss: b(r, "EnableVss"),
                }
            })
            .collect()
    }

    /// The Director's Jobs, JobDefs applied and Bareos defaults filled in.
    pub fn dir_jobs(&self) -> Vec<DirJob> {
        self.res("Job")
            .map(|r| {
                let v = |n: &str| {
                    self.job_value(r, n).or_else(|| {
                        let def = r.schema()?.directive(n)?;
                        super::default_value(def)
                    })
                };
                let st = |n: &str| match v(n) {
                    Some(Value::Str(x)) => Some(x),
                    Some(Value::List(l)) => l.into_iter().next(),
                    _ => None,
                };
                DirJob {
                    name: r.name.clone(),
                    job_type: st("Type").unwrap_or_default(),
                    level: st("Level"),
                    client: st("Client"),
                    fileset: st("FileSet"),
                    storage: v("Storage")
                        .and_then(|x| x.as_list().map(<[String]>::to_vec))
                        .unwrap_or_default(),
                    pool: st("Pool"),
                    messages: st("Messages"),
                    schedule: st("Schedule"),
                    where_: st("Where"),
                    replace: st("Replace"),
                    write_bootstrap: st("WriteBootstrap"),
                    priority: v("Priority")
                        .and_then(|x| x.as_int())
                        .and_then(|p| u32::try_from(p).ok())
                        .unwrap_or(10),
                    maximum_bandwidth: v("MaximumBandwidth")
                        .and_then(|x| x.as_size())
                        .filter(|&b| b > 0),
                    accurate: v("Accurate").and_then(|x| x.as_bool()).unwrap_or(false),
                    enabled: v("Enabled").and_then(|x| x.as_bool()).unwrap_or(true),
                }
            })
            .collect()
    }

    /// All Messages resources.
    pub fn messages(&self) -> Vec<Messages> {
        self.res("Messages")
            .map(|r| Messages {
                name: r.name.clone(),
                destinations: r
                    .directives
                    .iter()
                    .filter_map(|d| match &d.value {
                        Value::Messages(m) => Some(m.iter().map(move |m| (d.name, m.clone()))),
                        _ => None,
                    })
                    .flatten()
                    .collect(),
                mail_command: s(r, "MailCommand"),
                operator_command: s(r, "OperatorCommand"),
                timestamp_format: s(r, "TimestampFormat"),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{check_str, Daemon};

    #[test]
    fn fd_views_with_defaults() {
        let src = br#"
FileDaemon {
  Name = fd
  FD Port = 9999
  Maximum Bandwidth Per Job = 1 mb/s
}
Director {
  Name = d1
  Password = "[md5]900150983cd24fb0d6963f7d28e17f72"
  TLS Certificate = /etc/cert.pem
  TLS Allowed CN = a.example
  TLS Allowed CN = b.example
  Allowed Job Command = backup, restore
}
Director {
  Name = mon
  Password = pw
  Monitor = yes
  Connection From Client To Director = yes
  Address = dir.example
}
Messages { Name = Standard; Director = d1 = all, !skipped }
"#;
        let r = check_str("fd.conf", src, Daemon::FileDaemon);
        assert!(r.is_ok(), "{r}");
        let c = r.config.fd_client().unwrap();
        assert_eq!(c.name, "fd");
        assert_eq!(
            c.addresses,
            [ListenAddress {
                family: Family::Any,
                addr: None,
                port: Some("9999".into())
            }]
        );
        assert_eq!(
            c.maximum_bandwidth_per_job,
            Some(1_000_000),
            "mb/s is decimal"
        );
        assert_eq!(c.sd_connect_timeout, Seconds(1800));
        assert_eq!(c.maximum_concurrent_jobs, 1000);
        assert!(c.tls.enable && c.tls.require);
        let d = r.config.fd_directors();
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].password.md5_hex(), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(d[0].tls.allowed_cn, ["a.example", "b.example"]);
        assert!(d[0].tls.has_certificate());
        assert_eq!(d[0].allowed_job_commands, ["backup", "restore"]);
        assert!(
            d[0].connection_from_director_to_client && !d[0].connection_from_client_to_director
        );
        assert_eq!(d[0].port, DIR_DEFAULT_PORT);
        assert!(d[1].monitor && d[1].connection_from_client_to_director);
        assert_eq!(d[1].address.as_deref(), Some("dir.example"));
        let m = r.config.messages();
        assert_eq!(m[0].destinations[0].0, "Director");
        assert_eq!(m[0].destinations[0].1.target, ["d1"]);
        // The alias warning names the canonical resource type.
        assert!(r.warnings().any(|w| w.message.contains("write \"Client\"")));
    }

    #[test]
    fn jobs_inherit_from_jobdefs_and_filesets_have_letters() {
        let src = br#"
Director { Name = dir; Password = p }
Messages { Name = Standard; Console = all }
Pool { Name = Full }
Client { Name = fd; Address = localhost; Password = x }
FileSet {
  Name = fs
  Include {
    Options { Signature = MD5; Compression = GZIP9; Wild = "*.tmp"; Exclude = yes }
    Options { Signature = SHA1 }
    File = /etc
    File = "/home/my files"
  }
  Include { File = /srv }
  Exclude { File = /proc }
}
JobDefs {
  Name = defs
  Type = Backup
  Level = Incremental
  Messages = Standard
  Pool = Full
  FileSet = fs
  Priority = 20
}
Job { Name = j; JobDefs = defs; Client = fd; Level = Full }
"#;
        let r = check_str("dir.conf", src, Daemon::Director);
        assert!(r.is_ok(), "{r}");
        let jobs = r.config.dir_jobs();
        assert_eq!(jobs.len(), 1);
        let j = &jobs[0];
        assert_eq!(j.job_type, "Backup");
        assert_eq!(j.level.as_deref(), Some("Full"), "the Job's own value wins");
        assert_eq!(j.fileset.as_deref(), Some("fs"));
        assert_eq!(j.priority, 20);
        assert!(j.enabled && !j.accurate);
        let fs = &r.config.dir_filesets()[0];
        assert_eq!(fs.includes.len(), 2);
        assert_eq!(fs.includes[0].files, ["/etc", "/home/my files"]);
        assert_eq!(fs.includes[0].options[0].letters, "MZ9eHAX");
        assert_eq!(fs.includes[0].options[0].wild, ["*.tmp"]);
        assert_eq!(fs.includes[0].options[1].letters, "SHAX");
        assert_eq!(
            fs.includes[1].options[0].letters, "HAX",
            "defaults without an Options block"
        );
        assert_eq!(fs.excludes[0].files, ["/proc"]);
        assert!(fs.excludes[0].options.is_empty());
        assert!(fs.enable_vss, "EnableVSS defaults to yes");
    }

    #[test]
    fn default_listen_address() {
        let r = check_str(
            "sd.conf",
            b"Storage { Name = sd }\nDirector { Name = d; Password = p }\nDevice { Name = dev; Media Type = File; Archive Device = /x }\nMessages { Name = m }\n",
            Daemon::Storage,
        );
        assert!(r.is_ok(), "{r}");
        let s = r.config.sd_storage().unwrap();
        assert_eq!(
            s.addresses,
            [ListenAddress {
                family: Family::Any,
                addr: None,
                port: Some("9103".into())
            }]
        );
        let dev = &r.config.sd_devices()[0];
        assert_eq!(dev.maximum_block_size, 1_048_576);
        assert_eq!(dev.maximum_file_size, 1_000_000_000);
        assert!(!dev.label_media && dev.always_open && dev.removable_media && dev.auto_select);
    }
}
