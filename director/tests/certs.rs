//! Certificate TLS on the console port (connect.md §3.7): with a certificate on the
//! Director's own resource, an OpenSSL console negotiates certificate TLS instead of PSK;
//! with `TLS Verify Peer` and a CA the console checks the Director's certificate (its
//! subjectAltName must match the address), and a certificate from another CA is refused.
//! The test CA is made with the `openssl` CLI.

mod support;

use barque_testkit::certs;
use director::client::{load_target, Console};
use std::path::Path;
use support::*;

fn ca(dir: &Path, name: &str) {
    certs::self_signed_ca(dir, name, name);
}

fn issue(dir: &Path, ca: &str, name: &str, cn: &str, san: &str) {
    certs::issue(dir, ca, name, cn, &format!("subjectAltName={san}\n"));
}

#[tokio::test]
async fn certificate_tls_console() {
    let pki = tempfile::tempdir().expect("tmp");
    let p = pki.path();
    ca(p, "ca");
    ca(p, "otherca");
    issue(p, "ca", "dir", "bareos-dir", "DNS:127.0.0.1,DNS:localhost");
    let conf = vector("psk-console-dir/config/bareos-dir.conf").replacen(
        "  Auditing = yes\n",
        &format!(
            "  Auditing = yes\n  TLS Certificate = \"{}\"\n  TLS Key = \"{}\"\n",
            p.join("dir.pem").display(),
            p.join("dir.key").display()
        ),
        1,
    );
    assert!(conf.contains("TLS Certificate"));
    let d = start_with(Variant::Psk, &format!("{conf}{}", limited(true))).await;

    // Without verification: certificate TLS is negotiated, the PSK is not used.
    let t = load_target(&d.bconsole("plain.conf", CONSOLE_PW, None), None).expect("conf");
    let mut c = Console::connect(&t, &opts()).await.expect("login");
    assert_eq!(c.encryption, " Encryption: TLS_AES_256_GCM_SHA384 TLSv1.3");
    assert!(c
        .command("version")
        .await
        .expect("version")
        .text()
        .starts_with("bareos-dir"));
    c.close().await;

    // Verify Peer with the right CA: accepted (SAN DNS:127.0.0.1 matches the address).
    let tls = format!(
        "  TLS Verify Peer = yes\n  TLS CA Certificate File = \"{}\"\n",
        p.join("ca.pem").display()
    );
    let t = load_target(&d.bconsole_tls("v.conf", CONSOLE_PW, None, &tls), None).expect("conf");
    let mut c = Console::connect(&t, &opts()).await.expect("verified login");
    assert!(c.command("version").await.is_ok());
    c.close().await;

    // Verify Peer with another CA: refused.
    let tls = format!(
        "  TLS Verify Peer = yes\n  TLS CA Certificate File = \"{}\"\n",
        p.join("otherca.pem").display()
    );
    let t = load_target(&d.bconsole_tls("x.conf", CONSOLE_PW, None, &tls), None).expect("conf");
    assert!(Console::connect(&t, &opts()).await.is_err());

    // The Director still serves.
    let t = load_target(&d.bconsole("again.conf", CONSOLE_PW, None), None).expect("conf");
    let c = Console::connect(&t, &opts()).await.expect("login");
    c.close().await;
}
