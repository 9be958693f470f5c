//! Shared test harness: a barque-dir in-process on 127.0.0.1, configured from the capture
//! configurations (vectors/clear-bconsole, vectors/psk-console-dir) plus a restricted named
//! console.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use barque_common::conn::ConnOptions;
use director::model::Model;
use director::server::Director;
use director::ua::engine::JobEngine;
use tempfile::TempDir;
use tokio::net::TcpListener;

/// A capture file (`BARQUE_VECTORS` overrides where the vectors are).
pub fn vector(rel: &str) -> String {
    let p = vectors().join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

pub const CONSOLE_PW: &str = "ref-dir-console-password";
pub const ADMIN_PW: &str = "ref-admin-console-password";
pub const LIMITED_PW: &str = "limited-console-password";

/// A console that may only use a few commands and see one client.
pub fn limited(tls: bool) -> String {
    let t = if tls {
        ""
    } else {
        "  TLS Enable = no\n  TLS Require = no\n"
    };
    format!(
        "\nProfile {{\n  Name = status-only\n  CommandACL = status, version, .api, .clients, autodisplay, \"!run\"\n  ClientACL = bareos-fd\n  JobACL = *all*\n}}\n\
         Console {{\n  Name = limited\n  Password = \"{LIMITED_PW}\"\n  Profile = status-only\n{t}}}\n"
    )
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    Clear,
    Psk,
}

pub struct TestDir {
    pub dir: TempDir,
    pub port: u16,
    pub variant: Variant,
    pub director: Arc<Director>,
}

pub fn opts() -> ConnOptions {
    ConnOptions {
        connect_timeout: Duration::from_secs(5),
        handshake_timeout: Duration::from_secs(10),
        auth_failure_delay: Duration::ZERO,
        ..ConnOptions::default()
    }
}

pub fn dir_conf(variant: Variant) -> String {
    match variant {
        Variant::Clear => format!(
            "{}{}",
            vector("clear-bconsole/config/bareos-dir.conf"),
            limited(false)
        ),
        Variant::Psk => format!(
            "{}{}",
            vector("psk-console-dir/config/bareos-dir.conf"),
            limited(true)
        ),
    }
}

/// Start a Director on an ephemeral port.
pub async fn start(variant: Variant) -> TestDir {
    start_with(variant, &dir_conf(variant)).await
}

/// Start a Director with this configuration text.
pub async fn start_with(variant: Variant, text: &str) -> TestDir {
    start_full(variant, text, None).await
}

/// Start a Director with a job engine.
pub async fn start_engine(variant: Variant, engine: Arc<dyn JobEngine>) -> TestDir {
    start_full(variant, &dir_conf(variant), Some(engine)).await
}

async fn start_full(variant: Variant, text: &str, engine: Option<Arc<dyn JobEngine>>) -> TestDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = dir.path().join("bareos-dir.conf");
    std::fs::write(&conf, text).expect("write config");
    let model = Model::load(&conf).expect("load config");
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = l.local_addr().expect("addr").port();
    let director = Director::new(model, engine).with_options(opts());
    let d = director.clone();
    tokio::spawn(async move {
        let _ = d.serve(l).await;
    });
    TestDir {
        dir,
        port,
        variant,
        director,
    }
}

impl TestDir {
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("bareos-dir.conf")
    }

    /// Write a bconsole.conf for this Director; `console` = (name, password) for a named
    /// console, `password` overrides the Director password.
    pub fn bconsole(&self, file: &str, password: &str, console: Option<(&str, &str)>) -> PathBuf {
        let tls = match self.variant {
            Variant::Clear => "  TLS Enable = no\n  TLS Require = no\n",
            Variant::Psk => "",
        };
        self.bconsole_tls(file, password, console, tls)
    }

    /// Like [`TestDir::bconsole`] with explicit TLS directives for the Director resource.
    pub fn bconsole_tls(
        &self,
        file: &str,
        password: &str,
        console: Option<(&str, &str)>,
        tls: &str,
    ) -> PathBuf {
        let mut text = format!(
            "Director {{\n  Name = bareos-dir\n  Address = 127.0.0.1\n  Port = {}\n  Password = \"{password}\"\n{tls}}}\n",
            self.port
        );
        if let Some((n, p)) = console {
            text.push_str(&format!(
                "Console {{\n  Name = {n}\n  Password = \"{p}\"\n  Director = bareos-dir\n{tls}}}\n"
            ));
        }
        let path = self.dir.path().join(file);
        std::fs::write(&path, text).expect("write bconsole.conf");
        path
    }
}

/// `$BARQUE_VECTORS` or `../shared/vectors` (barque-testkit).
pub fn vectors() -> std::path::PathBuf {
    barque_testkit::vectors()
}
