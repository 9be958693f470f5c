//! Certificate TLS with every Bareos directive, against a test CA the test creates with the
//! `openssl` CLI: verify-peer accept and reject, TLS Allowed CN accept and reject, a revoked
//! certificate refused through the CRL, the CA looked up in a hashed CA dir, DH file, and the
//! TLS Protocol directive. Plus connect.md §3.7: verify-peer on a client makes a pure-PSK
//! session fail (it has no certificate).

mod support;

use std::path::{Path, PathBuf};

use barque_common::conn::{HandshakeMode, Local, Outbound};
use barque_common::error::ErrorKind;
use barque_common::tls::TlsSettings;
use barque_testkit::certs::openssl as run;
use fd_core::wire::psk::ResourceType;
use support::*;

struct Pki {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
}

impl Pki {
    fn p(&self, f: &str) -> PathBuf {
        self.dir.join(f)
    }

    /// Issue `name.pem`/`name.key` with CN `cn` (and optional SAN) from the CA in `ca_dir`.
    fn issue(&self, name: &str, cn: &str, san: Option<&str>) {
        let d = &self.dir;
        barque_testkit::certs::request(d, name, cn);
        let ext = format!("{name}.ext");
        let mut text = String::from("basicConstraints=CA:FALSE\n");
        if let Some(s) = san {
            text.push_str(&format!("subjectAltName={s}\n"));
        }
        std::fs::write(d.join(&ext), text).expect("ext");
        run(
            d,
            &[
                "ca",
                "-batch",
                "-config",
                "ca.cnf",
                "-in",
                &format!("{name}.csr"),
                "-out",
                &format!("{name}.pem"),
                "-extfile",
                &ext,
            ],
        );
    }
}

fn make_ca(dir: &Path, prefix: &str) {
    std::fs::create_dir_all(dir.join("newcerts")).expect("mkdir");
    std::fs::write(dir.join("index.txt"), "").expect("index");
    std::fs::write(dir.join("serial"), "1000\n").expect("serial");
    std::fs::write(dir.join("crlnumber"), "1000\n").expect("crlnumber");
    std::fs::write(
        dir.join("ca.cnf"),
        format!(
            "[ ca ]\ndefault_ca = CA_default\n[ CA_default ]\ndir = {d}\n\
             database = $dir/index.txt\nnew_certs_dir = $dir/newcerts\n\
             certificate = $dir/ca.pem\nprivate_key = $dir/ca.key\nserial = $dir/serial\n\
             crlnumber = $dir/crlnumber\ndefault_md = sha256\ndefault_days = 2\n\
             default_crl_days = 2\npolicy = policy_any\nunique_subject = no\n\
             copy_extensions = none\n[ policy_any ]\ncommonName = supplied\n",
            d = dir.display()
        ),
    )
    .expect("cnf");
    barque_testkit::certs::self_signed_ca(dir, "ca", &format!("{prefix} Test CA"));
}

fn pki() -> Pki {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().to_path_buf();
    make_ca(&dir, "Barque");
    let pki = Pki { _tmp: tmp, dir };
    pki.issue("fd", "bareos-fd", Some("DNS:127.0.0.1,DNS:localhost"));
    pki.issue("dir", "bareos-dir", None);
    pki.issue("revoked", "revoked-dir", None);
    run(
        &pki.dir,
        &["ca", "-config", "ca.cnf", "-revoke", "revoked.pem"],
    );
    run(
        &pki.dir,
        &["ca", "-config", "ca.cnf", "-gencrl", "-out", "crl.pem"],
    );
    run(
        &pki.dir,
        &[
            "genpkey",
            "-genparam",
            "-algorithm",
            "DH",
            "-pkeyopt",
            "dh_param:ffdhe2048",
            "-out",
            "dh.pem",
        ],
    );
    // A hashed CA dir.
    std::fs::create_dir_all(pki.p("cadir")).expect("mkdir");
    std::fs::copy(pki.p("ca.pem"), pki.p("cadir/ca.pem")).expect("copy");
    run(&pki.dir, &["rehash", "cadir"]);
    // A second, untrusted CA with its own Director certificate.
    let other = pki.p("other");
    make_ca(&other, "Other");
    let o = Pki {
        _tmp: tempfile::tempdir().expect("tmp"),
        dir: other,
    };
    o.issue("dir", "bareos-dir", None);
    pki
}

fn server_tls(pki: &Pki) -> TlsSettings {
    TlsSettings {
        certificate: Some(pki.p("fd.pem")),
        key: Some(pki.p("fd.key")),
        ca_file: Some(pki.p("ca.pem")),
        verify_peer: true,
        allowed_cn: vec!["bareos-dir".into()],
        dh_file: Some(pki.p("dh.pem")),
        crl: Some(pki.p("crl.pem")),
        ..TlsSettings::default()
    }
}

fn client_tls(pki: &Pki, cert: &str) -> TlsSettings {
    TlsSettings {
        certificate: Some(pki.p(&format!("{cert}.pem"))),
        key: Some(pki.p(&format!("{cert}.key"))),
        ca_file: Some(pki.p("ca.pem")),
        verify_peer: true,
        ..TlsSettings::default()
    }
}

async fn attempt(
    server: TlsSettings,
    client: TlsSettings,
) -> (
    Result<barque_common::conn::AuthenticatedConnection, barque_common::error::ConnError>,
    Accepted,
) {
    let fd = Local::new(ResourceType::Client, "bareos-fd", server);
    let dirp = peer(
        ResourceType::Director,
        "bareos-dir",
        key(FD_PW),
        TlsSettings::default(),
    );
    let (port, h) = spawn_accept(fd, lookup(vec![dirp]), opts()).await;
    let dir = Local::new(ResourceType::Director, "bareos-dir", TlsSettings::default());
    let p = peer(ResourceType::Client, "bareos-fd", key(FD_PW), client);
    let c = dial(
        &dir,
        p,
        port,
        &Outbound::DirectorToFd,
        HandshakeMode::TlsFirst,
    )
    .await;
    let a = h.await.expect("join");
    (c, a)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_tls_with_every_directive() {
    let pki = pki();

    // Verify peer both ways, Allowed CN, CRL, DH file: accepted, and it is certificate TLS.
    let (c, a) = attempt(server_tls(&pki), client_tls(&pki, "dir")).await;
    let c = c.expect("connect");
    let (ident, _) = a.expect("accept");
    let st = ident.tls.expect("tls");
    assert_eq!(st.peer_cn.as_deref(), Some("bareos-dir"));
    assert_eq!(
        c.tls().and_then(|t| t.peer_cn.as_deref()),
        Some("bareos-fd")
    );
    assert_eq!(
        st.cipher, "TLS_AES_256_GCM_SHA384",
        "certificate TLS, not PSK"
    );
    assert_eq!(
        st.psk_identity, None,
        "no PSK identity is reported for certificate TLS"
    );
    assert_eq!(c.tls().and_then(|t| t.psk_identity.clone()), None);

    // Allowed CN reject on the server.
    let mut s = server_tls(&pki);
    s.allowed_cn = vec!["someone-else".into()];
    let (c, a) = attempt(s, client_tls(&pki, "dir")).await;
    let ae = a.expect_err("allowed cn");
    assert_eq!(ae.kind, ErrorKind::Tls, "{ae}");
    assert!(ae.to_string().contains("not in TLS Allowed CN"), "{ae}");
    assert!(c.is_err());

    // Allowed CN on the client (the FD's certificate CN).
    let mut cl = client_tls(&pki, "dir");
    cl.allowed_cn = vec!["bareos-fd".into()];
    let (c, a) = attempt(server_tls(&pki), cl.clone()).await;
    c.expect("client allowed cn accept");
    a.expect("accept");
    cl.allowed_cn = vec!["not-the-fd".into()];
    let (c, _) = attempt(server_tls(&pki), cl).await;
    let e = c.expect_err("client allowed cn reject");
    assert!(e.to_string().contains("not in TLS Allowed CN"), "{e}");

    // Revoked client certificate: refused by the CRL.
    let (c, a) = attempt(server_tls(&pki), client_tls(&pki, "revoked")).await;
    let ae = a.expect_err("revoked");
    assert_eq!(ae.kind, ErrorKind::Tls, "{ae}");
    assert!(c.is_err());
    // Same certificate without the CRL (and without Allowed CN): accepted, proving the CRL
    // was what refused it.
    let mut s = server_tls(&pki);
    s.crl = None;
    s.allowed_cn.clear();
    let (c, a) = attempt(s, client_tls(&pki, "revoked")).await;
    c.expect("no crl");
    a.expect("no crl accept");

    // A client certificate from an untrusted CA: verify-peer rejects it.
    let mut cl = client_tls(&pki, "dir");
    cl.certificate = Some(pki.p("other/dir.pem"));
    cl.key = Some(pki.p("other/dir.key"));
    let (c, a) = attempt(server_tls(&pki), cl).await;
    assert!(a.is_err() && c.is_err());

    // CA dir with hashed names instead of the CA file.
    let mut s = server_tls(&pki);
    s.ca_file = None;
    s.ca_dir = Some(pki.p("cadir"));
    let mut cl = client_tls(&pki, "dir");
    cl.ca_file = None;
    cl.ca_dir = Some(pki.p("cadir"));
    let (c, a) = attempt(s.clone(), cl.clone()).await;
    c.expect("ca dir");
    a.expect("ca dir accept");
    // An empty CA dir trusts nothing.
    std::fs::create_dir_all(pki.p("emptydir")).expect("mkdir");
    cl.ca_dir = Some(pki.p("emptydir"));
    let (c, _) = attempt(s, cl).await;
    assert_eq!(c.expect_err("empty ca dir").kind, ErrorKind::Tls);

    // Client verify-peer without Allowed CN: the address must match a DNS SAN or the CN.
    let mut cl = client_tls(&pki, "dir");
    cl.allowed_cn.clear();
    let (c, _) = attempt(server_tls(&pki), cl).await;
    c.expect("SAN DNS:127.0.0.1 matches the dialled address");
}

#[tokio::test]
async fn verify_peer_makes_pure_psk_fail() {
    // connect.md §3.7: no certificate anywhere, the client has TLS Verify Peer.
    let client = TlsSettings {
        verify_peer: true,
        ..TlsSettings::default()
    };
    let (c, _) = attempt(TlsSettings::default(), client).await;
    let e = c.expect_err("no certificate");
    assert_eq!(e.kind, ErrorKind::Tls, "{e}");
    assert!(e.to_string().contains("presented no certificate"), "{e}");
    // Server with verify-peer and Allowed CN, client pure PSK.
    let server = TlsSettings {
        verify_peer: true,
        allowed_cn: vec!["bareos-dir".into()],
        ..TlsSettings::default()
    };
    // OpenSSL itself refuses here: a verify-peer server resuming the PSK "session" without a
    // session id context fails in ssl_get_prev_session (Bareos sets none either).
    let (c, a) = attempt(server, TlsSettings::default()).await;
    let ae = a.expect_err("no certificate");
    assert_eq!(ae.kind, ErrorKind::Tls, "{ae}");
    assert!(
        ae.to_string()
            .contains("TLS Verify Peer is set on this side"),
        "{ae}"
    );
    assert!(c.is_err());
}

#[tokio::test]
async fn tls_protocol_directive_limits_versions() {
    // The FD's own resource says -TLSv1.3: the PSK session falls back to TLS 1.2.
    let server = TlsSettings {
        protocol: Some("-TLSv1.3".into()),
        ..TlsSettings::default()
    };
    let (c, a) = attempt(server, TlsSettings::default()).await;
    let c = c.expect("connect");
    a.expect("accept");
    let t = c.tls().expect("tls");
    assert_eq!(t.version, "TLSv1.2");
    assert!(t.cipher.contains("PSK"), "{}", t.cipher);
    // Disjoint protocol sets fail.
    let server = TlsSettings {
        protocol: Some("-TLSv1.3".into()),
        ..TlsSettings::default()
    };
    let client = TlsSettings {
        protocol: Some("-TLSv1,-TLSv1.1,-TLSv1.2".into()),
        ..TlsSettings::default()
    };
    let (c, _) = attempt(server, client).await;
    assert_eq!(c.expect_err("no common version").kind, ErrorKind::Tls);
}
