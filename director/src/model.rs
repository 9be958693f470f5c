//! The Director's view of its configuration: what the console side needs, built once per
//! load (and again on `reload`) from barque-common's typed views.
//!
//! Consoles are resolved here: each named `Console` gets its key (the password's MD5 hex,
//! the CRAM-MD5 key and TLS-PSK), its TLS directives and its [`UserAcl`] (own lists, then its
//! `Profile`s in the order written). The default console `*UserAgent*` uses the Director
//! resource's password and TLS directives (`core/src/dird/authenticate_console.cc`, connect.md
//! §7.2).

use std::path::{Path, PathBuf};

use barque_common::config::typed::{DirClient, DirDirector, DirJob, DirStorage};
use barque_common::config::value::Value;
use barque_common::config::{self, Config, Daemon, Resource};
use barque_common::conn::Peer;
use barque_common::tls::{Key, TlsSettings};
use fd_core::wire::psk::ResourceType;

use crate::acl::{AclKind, AclLists, UserAcl};

/// The name of the default console in hellos and PSK identities.
pub const DEFAULT_CONSOLE: &str = "*UserAgent*";

/// A console the Director accepts.
#[derive(Debug, Clone)]
pub struct ConsoleDef {
    /// `*UserAgent*` or the Console resource's name.
    pub name: String,
    /// CRAM-MD5 key and PSK.
    pub key: Key,
    /// TLS directives of the resource that describes this console.
    pub tls: TlsSettings,
    /// What it may do.
    pub acl: UserAcl,
}

/// The loaded Director configuration.
#[derive(Debug, Clone)]
pub struct Model {
    /// Where it was loaded from (`-c`).
    pub path: PathBuf,
    /// The whole tree (for `show` and the dot commands).
    pub config: Config,
    /// The Director resource.
    pub director: DirDirector,
    /// The default console first, then the named ones.
    pub consoles: Vec<ConsoleDef>,
    /// Clients.
    pub clients: Vec<DirClient>,
    /// Storages.
    pub storages: Vec<DirStorage>,
    /// Jobs with JobDefs applied.
    pub jobs: Vec<DirJob>,
}

fn acl_lists(r: &Resource) -> AclLists {
    let mut l = AclLists::default();
    for kind in AclKind::ALL {
        if let Some(Value::List(v)) = r.get(kind.directive()) {
            l.set(kind, v.clone());
        }
    }
    l
}

impl Model {
    /// `-c PATH`: load and build; the error text lists every configuration error.
    pub fn load(path: &Path) -> Result<Model, String> {
        let config = config::load(path, Daemon::Director).map_err(|e| e.to_string())?;
        Model::from_config(path, config)
    }

    /// Build from an already loaded configuration.
    pub fn from_config(path: &Path, config: Config) -> Result<Model, String> {
        let director = config.dir_director().ok_or_else(|| {
            format!(
                "{}: no Director resource (with a Password) found",
                path.display()
            )
        })?;
        let mut consoles = vec![ConsoleDef {
            name: DEFAULT_CONSOLE.into(),
            key: Key::raw(director.password.md5_hex().into_bytes()),
            tls: director.tls.clone(),
            acl: UserAcl::root(),
        }];
        for c in config.dir_consoles() {
            let pam = config
                .resource("Console", &c.name)
                .and_then(|r| r.get("UsePamAuthentication"))
                .and_then(Value::as_bool)
                .unwrap_or(false);
            if pam {
                return Err(format!(
                    "{}: Console {:?} has Use Pam Authentication = yes; PAM logins are not \
                     supported by barque-dir",
                    path.display(),
                    c.name
                ));
            }
            let own = config
                .resource("Console", &c.name)
                .map(acl_lists)
                .unwrap_or_default();
            let mut profiles = Vec::new();
            for p in &c.profiles {
                match config.resource("Profile", p) {
                    Some(r) => profiles.push(acl_lists(r)),
                    None => {
                        return Err(format!(
                            "{}: Console {:?} names Profile {p:?}, which is not defined",
                            path.display(),
                            c.name
                        ))
                    }
                }
            }
            consoles.push(ConsoleDef {
                name: c.name.clone(),
                key: Key::raw(c.password.md5_hex().into_bytes()),
                tls: c.tls.clone(),
                acl: UserAcl::named(own, profiles),
            });
        }
        Ok(Model {
            path: path.to_path_buf(),
            clients: config.dir_clients(),
            storages: config.dir_storages(),
            jobs: config.dir_jobs(),
            director,
            consoles,
            config,
        })
    }

    /// A console by name.
    pub fn console(&self, name: &str) -> Option<&ConsoleDef> {
        self.consoles.iter().find(|c| c.name == name)
    }

    /// The console the accept path authenticates (client-initiated File daemons are looked
    /// up by the server, which knows whether they can be parked).
    pub fn peer(&self, kind: ResourceType, name: &str) -> Option<Peer> {
        match kind {
            ResourceType::Console => self.console(name).map(|c| Peer {
                kind,
                name: c.name.clone(),
                key: c.key.clone(),
                address: String::new(),
                port: 0,
                tls: c.tls.clone(),
            }),
            _ => None,
        }
    }

    /// Names of all resources of one type, in file order.
    pub fn names(&self, kind: &str) -> Vec<String> {
        self.config
            .resources(kind)
            .map(|r| r.name.clone())
            .collect()
    }

    /// A resource's single string directive (`Pool`, `Messages` ...), through JobDefs for
    /// Jobs.
    pub fn string_of(&self, r: &Resource, directive: &str) -> Option<String> {
        let v = if r.kind == "Job" {
            self.config.job_value(r, directive)
        } else {
            r.get_or_default(directive)
        };
        match v {
            Some(Value::Str(s)) => Some(s),
            Some(Value::List(l)) => l.into_iter().next(),
            Some(Value::Int(i)) => Some(i.to_string()),
            Some(Value::Bool(b)) => Some(if b { "1" } else { "0" }.into()),
            Some(Value::Duration(d)) => Some(d.0.to_string()),
            Some(Value::Size(s)) | Some(Value::Speed(s)) => Some(s.to_string()),
            _ => None,
        }
    }
}
