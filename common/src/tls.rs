//! TLS exactly as Bareos sets up OpenSSL: TLS-PSK through the legacy callbacks, and
//! certificate TLS with every Bareos directive.
//!
//! # Why OpenSSL, and why the legacy callbacks
//!
//! Bareos uses OpenSSL's `SSL_CTX_set_psk_client_callback` / `SSL_CTX_set_psk_server_callback`
//! (`core/src/lib/tls/openssl/impl.cc`, `psk_client_cb` / `psk_server_cb`), never
//! `psk_use_session`. With OpenSSL 1.1.1+ these callbacks work for TLS 1.3 too: the PSK is
//! turned into a session bound to a SHA-256 suite, so two OpenSSL peers end up with
//! TLSv1.3 `TLS_CHACHA20_POLY1305_SHA256` over X25519 (every handshake in
//! `shared/vectors/psk-*` selects 0x1303), while a TLS 1.2-only peer such as python-bareos with
//! `sslpsk3` gets a TLS 1.2 PSK suite (`shared/protocol/connect.md` §3.6,
//! `shared/design/ecosystem.md` §4). rustls has no external PSK, so the std daemons use the
//! system OpenSSL through rust-openssl, configured the same way:
//!
//! - a new `SSL_CTX` per connection from `TLS_method()` ([`SslMethod::tls`]);
//! - options `SSL_OP_ALL | SSL_OP_NO_SSLv2 | SSL_OP_NO_SSLv3`, read-ahead on, partial writes;
//! - cipher list `TLS Cipher List` or [`BAREOS_CIPHER_LIST`]; TLS 1.3 suites `TLS Cipher
//!   Suites` or OpenSSL's defaults;
//! - `TLS Protocol` applied with the `openssl.cnf` `Protocol` syntax (see [`apply_protocol`]);
//! - no SNI, no ALPN.
//!
//! # PSK identity and key (connect.md §3.4)
//!
//! The identity is `R_<TYPE>` 0x1E `<name>` (fd-core's [`PskIdentity`]); the key is the
//! ASCII text of the stored password (32 lowercase hex digits of the MD5 of the cleartext,
//! fd-core's `PasswordKey`) or, for `R_JOB` connections, the raw 39-character session key.
//! The server callback looks the identity up and **records it in a per-connection
//! [`PskSlot`]**: after a TLS 1.3 handshake OpenSSL no longer reports the identity
//! (`SSL_get_psk_identity` returns NULL; ecosystem.md §4 "Gotcha"), but Bareos needs it to
//! check that the hello inside the tunnel names the same resource.
//!
//! # Certificates (connect.md §3.5, §3.7)
//!
//! Every directive is applied only if configured: CA file and CA dir (hashed names, as
//! `openssl rehash` writes them) through the context's certificate store, the CRL with
//! `CRL_CHECK | CRL_CHECK_ALL`, certificate chain, private key, DH parameters; `TLS Verify
//! Peer` gives `SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT`. PSK callbacks and a
//! certificate live on the same context and OpenSSL chooses: with a certificate on the server
//! an OpenSSL client negotiates certificate TLS and the PSK is unused (§3.7). After the
//! handshake [`verify_after_handshake`] runs Bareos' post-connection checks
//! (`TlsPostconnectVerifyCn` / `TlsPostconnectVerifyHost`): a client with verify-peer needs a
//! certificate whose CN is in `TLS Allowed CN`, or, with an empty list, whose DNS SAN or CN
//! matches the address it dialled; a server checks the Allowed CN list only with verify-peer
//! and a non-empty list. So verify-peer on a client, or verify-peer plus Allowed CN on a
//! server, makes a pure-PSK connection fail, as in Bareos.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use fd_core::wire::psk::{PskIdentity, ResourceType};
use fd_core::wire::tls_policy::TlsPolicy;
use openssl::dh::Dh;
use openssl::nid::Nid;
use openssl::ssl::{
    SslContext, SslContextBuilder, SslFiletype, SslMethod, SslMode, SslOptions, SslRef,
    SslVerifyMode,
};
use openssl::x509::store::X509Lookup;
use openssl::x509::verify::X509VerifyFlags;
use openssl::x509::X509Ref;

use crate::error::{printable, ConnError, ErrorKind};

/// Bareos' default `TLS Cipher List` (`tls_default_ciphers_`).
pub const BAREOS_CIPHER_LIST: &str = "ALL:!ADH:!LOW:!EXP:!MD5:@STRENGTH";

/// Key material: a stored password (32 hex digits) or a job session key (39 letters).
/// Its `Debug` is redacted and it has no `Display`, so it cannot end up in a message.
#[derive(Clone, PartialEq, Eq)]
pub struct Key(Vec<u8>);

impl Key {
    /// A `Password = "..."` value as Bareos stores it: `[md5]<32 hex>` verbatim, anything
    /// else MD5-hashed to 32 lowercase hex digits (fd-core `PasswordKey::from_config`).
    pub fn from_password(value: &str) -> Result<Key, fd_core::wire::Error> {
        let k = fd_core::wire::psk::PasswordKey::from_config(value.as_bytes())?;
        Ok(Key(k.as_bytes().to_vec()))
    }

    /// Raw key bytes used verbatim (a job session key, or an already stored password).
    pub fn raw(bytes: impl Into<Vec<u8>>) -> Key {
        Key(bytes.into())
    }

    /// The key bytes: the HMAC key of CRAM-MD5 and the TLS PSK.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key(<redacted>)")
    }
}

/// The TLS directives of one Bareos resource (`core/src/lib/tls_resource_items.h`). The
/// daemons fill it from their parsed configuration; the defaults are Bareos' defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// `TLS Enable` (default yes).
    pub enable: bool,
    /// `TLS Require` (default yes).
    pub require: bool,
    /// `TLS Authenticate` (deprecated since Bareos 26.0; default no): drop to cleartext after
    /// the handshake. Not implemented: a daemon refuses a resource that sets it.
    pub authenticate: bool,
    /// `TLS Certificate`: PEM certificate chain.
    pub certificate: Option<PathBuf>,
    /// `TLS Key`: PEM private key.
    pub key: Option<PathBuf>,
    /// `TLS CA Certificate File`.
    pub ca_file: Option<PathBuf>,
    /// `TLS CA Certificate Dir` (hashed names).
    pub ca_dir: Option<PathBuf>,
    /// `TLS Certificate Revocation List`: a PEM CRL file.
    pub crl: Option<PathBuf>,
    /// `TLS Verify Peer` (default no).
    pub verify_peer: bool,
    /// `TLS Allowed CN`, repeatable.
    pub allowed_cn: Vec<String>,
    /// `TLS DH File`: PEM DH parameters.
    pub dh_file: Option<PathBuf>,
    /// `TLS Cipher List` (TLS ≤ 1.2); default [`BAREOS_CIPHER_LIST`].
    pub cipher_list: Option<String>,
    /// `TLS Cipher Suites` (TLS 1.3); default OpenSSL's.
    pub cipher_suites: Option<String>,
    /// `TLS Protocol`, `openssl.cnf` `Protocol` syntax, e.g. `-TLSv1.3,TLSv1.2`.
    pub protocol: Option<String>,
}

impl Default for TlsSettings {
    fn default() -> Self {
        Self {
            enable: true,
            require: true,
            authenticate: false,
            certificate: None,
            key: None,
            ca_file: None,
            ca_dir: None,
            crl: None,
            verify_peer: false,
            allowed_cn: Vec::new(),
            dh_file: None,
            cipher_list: None,
            cipher_suites: None,
            protocol: None,
        }
    }
}

impl TlsSettings {
    /// TLS off (`TLS Enable = no`), as every cleartext capture is configured.
    pub fn disabled() -> Self {
        Self {
            enable: false,
            require: false,
            ..Self::default()
        }
    }

    /// `TLS Enable = yes`, `TLS Require = no`.
    pub fn optional() -> Self {
        Self {
            enable: true,
            require: false,
            ..Self::default()
        }
    }

    /// `TlsResource::GetPolicy()`: the `ssl=` value this resource advertises.
    pub fn policy(&self) -> TlsPolicy {
        TlsPolicy::from_enable_require(self.enable, self.require)
    }

    /// True if a certificate is configured (that side may serve certificate TLS).
    pub fn has_certificate(&self) -> bool {
        self.certificate.is_some()
    }
}

/// What the PSK server callback saw; see the module docs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum PskOutcome {
    /// The callback did not run (certificate TLS, or no handshake yet).
    #[default]
    NotUsed,
    /// The identity was known and its key returned.
    Found(Vec<u8>),
    /// The identity parsed but named no known resource or job.
    Unknown(Vec<u8>),
    /// The identity is not `R_<TYPE>` RS `<name>`.
    Malformed(Vec<u8>),
}

/// A per-connection slot the server callback writes the identity into.
pub type PskSlot = Arc<Mutex<PskOutcome>>;

/// Looks up the PSK for an identity on the accepting side.
pub type PskLookup = Arc<dyn Fn(ResourceType, &str) -> Option<Key> + Send + Sync>;

fn cfg_err(what: &str, path: Option<&Path>, e: impl fmt::Display) -> ConnError {
    let detail = match path {
        Some(p) => format!("cannot use {what} {}: {e}", p.display()),
        None => format!("cannot use {what}: {e}"),
    };
    ConnError::new("local TLS configuration", ErrorKind::Config, detail)
        .hint("check the TLS directives of this resource")
}

/// Apply a `TLS Protocol` value the way `SSL_CONF_cmd(ctx, "Protocol", value)` does:
/// a comma-separated list; `-name` disables a version, `+name` or `name` enables it; `ALL`
/// stands for every version. Names: `SSLv3`, `TLSv1`, `TLSv1.1`, `TLSv1.2`, `TLSv1.3`.
pub fn apply_protocol(b: &mut SslContextBuilder, value: &str) -> Result<(), ConnError> {
    let all = SslOptions::NO_SSLV3
        | SslOptions::NO_TLSV1
        | SslOptions::NO_TLSV1_1
        | SslOptions::NO_TLSV1_2
        | SslOptions::NO_TLSV1_3;
    for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (on, name) = match item.as_bytes().first() {
            Some(b'-') => (false, item.get(1..).unwrap_or("")),
            Some(b'+') => (true, item.get(1..).unwrap_or("")),
            _ => (true, item),
        };
        let flag = match name {
            "ALL" => all,
            "SSLv3" => SslOptions::NO_SSLV3,
            "TLSv1" => SslOptions::NO_TLSV1,
            "TLSv1.1" => SslOptions::NO_TLSV1_1,
            "TLSv1.2" => SslOptions::NO_TLSV1_2,
            "TLSv1.3" => SslOptions::NO_TLSV1_3,
            other => {
                return Err(cfg_err(
                    "TLS Protocol",
                    None,
                    format!("unknown protocol name {other:?}"),
                ))
            }
        };
        if on {
            b.clear_options(flag);
        } else {
            b.set_options(flag);
        }
    }
    Ok(())
}

fn base_builder(s: &TlsSettings) -> Result<SslContextBuilder, ConnError> {
    let mut b = SslContextBuilder::new(SslMethod::tls())
        .map_err(|e| cfg_err("OpenSSL context", None, e))?;
    b.set_options(SslOptions::ALL | SslOptions::NO_SSLV2 | SslOptions::NO_SSLV3);
    b.set_read_ahead(true);
    b.set_mode(SslMode::ENABLE_PARTIAL_WRITE | SslMode::ACCEPT_MOVING_WRITE_BUFFER);
    let list = s.cipher_list.as_deref().unwrap_or(BAREOS_CIPHER_LIST);
    b.set_cipher_list(list)
        .map_err(|e| cfg_err("TLS Cipher List", None, e))?;
    if let Some(suites) = &s.cipher_suites {
        b.set_ciphersuites(suites)
            .map_err(|e| cfg_err("TLS Cipher Suites", None, e))?;
    }
    if let Some(p) = &s.protocol {
        apply_protocol(&mut b, p)?;
    }
    if let Some(ca) = &s.ca_file {
        b.set_ca_file(ca)
            .map_err(|e| cfg_err("TLS CA Certificate File", Some(ca), e))?;
    }
    if let Some(dir) = &s.ca_dir {
        let d = dir
            .to_str()
            .ok_or_else(|| cfg_err("TLS CA Certificate Dir", Some(dir), "not UTF-8"))?;
        b.cert_store_mut()
            .add_lookup(X509Lookup::hash_dir())
            .and_then(|l| l.add_dir(d, SslFiletype::PEM))
            .map_err(|e| cfg_err("TLS CA Certificate Dir", Some(dir), e))?;
    }
    if let Some(crl) = &s.crl {
        let store = b.cert_store_mut();
        store
            .add_lookup(X509Lookup::file())
            .and_then(|l| l.load_crl_file(crl, SslFiletype::PEM).map(|_| ()))
            .map_err(|e| cfg_err("TLS Certificate Revocation List", Some(crl), e))?;
        store
            .set_flags(X509VerifyFlags::CRL_CHECK | X509VerifyFlags::CRL_CHECK_ALL)
            .map_err(|e| cfg_err("TLS Certificate Revocation List", Some(crl), e))?;
    }
    if let Some(cert) = &s.certificate {
        b.set_certificate_chain_file(cert)
            .map_err(|e| cfg_err("TLS Certificate", Some(cert), e))?;
        let key = s.key.as_deref().unwrap_or(cert);
        b.set_private_key_file(key, SslFiletype::PEM)
            .map_err(|e| cfg_err("TLS Key", Some(key), e))?;
        b.check_private_key()
            .map_err(|e| cfg_err("TLS Key (does not match TLS Certificate)", Some(key), e))?;
    }
    if let Some(dh) = &s.dh_file {
        let pem = std::fs::read(dh).map_err(|e| cfg_err("TLS DH File", Some(dh), e))?;
        let params = Dh::params_from_pem(&pem).map_err(|e| cfg_err("TLS DH File", Some(dh), e))?;
        b.set_tmp_dh(&params)
            .map_err(|e| cfg_err("TLS DH File", Some(dh), e))?;
        b.set_options(SslOptions::SINGLE_DH_USE);
    }
    b.set_verify(if s.verify_peer {
        SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT
    } else {
        SslVerifyMode::NONE
    });
    Ok(b)
}

/// A TLS client context for an outbound connection: `settings` describe the peer (the
/// Client resource for Director → FD ...); `psk` is the identity and key to offer, `None` for
/// certificate-only TLS.
pub fn client_context(
    settings: &TlsSettings,
    psk: Option<(Vec<u8>, Key)>,
) -> Result<SslContext, ConnError> {
    let mut b = base_builder(settings)?;
    if let Some((identity, key)) = psk {
        // psk_client_cb: ignore the hint, write the identity as a C string, copy the key.
        b.set_psk_client_callback(move |_ssl, _hint, id_out, psk_out| {
            let (Some(id_dst), Some(key_dst)) = (
                id_out.get_mut(..identity.len() + 1),
                psk_out.get_mut(..key.as_bytes().len()),
            ) else {
                log::warn!("TLS-PSK identity or key longer than OpenSSL's buffers");
                return Ok(0);
            };
            let (id_text, nul) = id_dst.split_at_mut(identity.len());
            id_text.copy_from_slice(&identity);
            nul.fill(0);
            key_dst.copy_from_slice(key.as_bytes());
            Ok(key.as_bytes().len())
        });
    }
    Ok(b.build())
}

/// Why [`client_handshake`] failed.
#[derive(Debug)]
pub enum ClientHandshakeError {
    /// The TLS directives could not be applied (a certificate or key file, a cipher list).
    Config(ConnError),
    /// OpenSSL could not set up the session.
    Setup(openssl::error::ErrorStack),
    /// The handshake failed (the peer refused the PSK or the certificate, or speaks no TLS).
    Handshake(openssl::ssl::Error),
    /// The handshake succeeded but `TLS Verify Peer` refuses the peer's certificate.
    Verify(String),
}

impl fmt::Display for ClientHandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientHandshakeError::Config(e) => write!(f, "{e}"),
            ClientHandshakeError::Setup(e) => write!(f, "TLS setup: {e}"),
            ClientHandshakeError::Handshake(e) => write!(f, "TLS handshake: {e}"),
            ClientHandshakeError::Verify(m) => write!(f, "TLS Verify Peer: {m}"),
        }
    }
}

/// The TLS of an outbound connection, as Bareos' `BnetTlsClient` does it: a client context
/// from `settings` offering `psk` ([`client_context`]), the handshake over `io`, then the
/// post-connection checks against the `address` dialled ([`verify_after_handshake`]).
pub async fn client_handshake<S>(
    io: S,
    settings: &TlsSettings,
    psk: Option<(Vec<u8>, Key)>,
    address: &str,
) -> Result<tokio_openssl::SslStream<S>, ClientHandshakeError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let ctx = client_context(settings, psk).map_err(ClientHandshakeError::Config)?;
    let ssl = openssl::ssl::Ssl::new(&ctx).map_err(ClientHandshakeError::Setup)?;
    let mut s = tokio_openssl::SslStream::new(ssl, io).map_err(ClientHandshakeError::Setup)?;
    std::pin::Pin::new(&mut s)
        .connect()
        .await
        .map_err(ClientHandshakeError::Handshake)?;
    verify_after_handshake(s.ssl(), settings, Role::Client, address)
        .map_err(ClientHandshakeError::Verify)?;
    Ok(s)
}

/// A TLS server context for an accepted connection: `settings` are the daemon's **own**
/// resource (connect.md §3.2); `lookup` returns the key for an identity; the outcome is
/// written into `slot`.
pub fn server_context(
    settings: &TlsSettings,
    lookup: PskLookup,
    slot: PskSlot,
) -> Result<SslContext, ConnError> {
    let mut b = base_builder(settings)?;
    b.set_psk_server_callback(move |_ssl, identity, psk_out| {
        let identity = identity.unwrap_or(&[]);
        let outcome;
        let mut len = 0;
        match PskIdentity::parse(identity) {
            Ok(id) => match std::str::from_utf8(id.name)
                .ok()
                .and_then(|name| lookup(id.kind, name))
            {
                Some(key) => match psk_out.get_mut(..key.as_bytes().len()) {
                    Some(dst) => {
                        dst.copy_from_slice(key.as_bytes());
                        len = key.as_bytes().len();
                        outcome = PskOutcome::Found(identity.to_vec());
                    }
                    None => outcome = PskOutcome::Unknown(identity.to_vec()),
                },
                None => outcome = PskOutcome::Unknown(identity.to_vec()),
            },
            Err(_) => outcome = PskOutcome::Malformed(identity.to_vec()),
        }
        if let Ok(mut s) = slot.lock() {
            *s = outcome;
        }
        Ok(len)
    });
    Ok(b.build())
}

/// Facts about an established TLS session, for logs and `status` output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsInfo {
    /// `TLSv1.3`, `TLSv1.2` ...
    pub version: String,
    /// The OpenSSL cipher name, e.g. `TLS_CHACHA20_POLY1305_SHA256`.
    pub cipher: String,
    /// The PSK identity used, if the session is PSK-keyed (recorded by the server callback
    /// on the accepting side, the offered identity on the connecting side).
    pub psk_identity: Option<Vec<u8>>,
    /// The peer certificate's CN, if the peer presented one.
    pub peer_cn: Option<String>,
}

impl TlsInfo {
    /// Collect the facts from an established session.
    /// `psk_identity` is reported only if the session really is PSK-keyed ([`psk_in_use`]).
    pub fn from_ssl(ssl: &SslRef, psk_identity: Option<Vec<u8>>) -> TlsInfo {
        let psk_identity = psk_identity.filter(|_| psk_in_use(ssl));
        TlsInfo {
            version: ssl.version_str().to_string(),
            cipher: ssl
                .current_cipher()
                .map(|c| c.name().to_string())
                .unwrap_or_default(),
            psk_identity,
            peer_cn: ssl.peer_certificate().as_deref().and_then(common_name),
        }
    }

    /// Bareos' ` Encryption: <cipher> <version>` text (connect.md §4).
    pub fn encryption_text(&self) -> String {
        format!("{} {}", self.cipher, self.version)
    }

    /// The identity with RS shown as `␞`.
    pub fn identity_text(&self) -> Option<String> {
        self.psk_identity.as_deref().map(printable)
    }
}

/// True if the established session is keyed by the PSK. With TLS 1.3 OpenSSL treats an
/// external PSK as a resumption (`SSL_session_reused`); with TLS ≤ 1.2 the suite is a PSK
/// suite. A certificate session can have had the PSK callbacks called without using them
/// (connect.md §3.7), so this, not the callback, decides.
pub fn psk_in_use(ssl: &SslRef) -> bool {
    if ssl.version_str() == "TLSv1.3" {
        ssl.session_reused()
    } else {
        ssl.current_cipher()
            .is_some_and(|c| c.name().contains("PSK"))
    }
}

fn common_name(cert: &X509Ref) -> Option<String> {
    cert.subject_name()
        .entries_by_nid(Nid::COMMONNAME)
        .next()
        .and_then(|e| e.data().to_string().ok())
}

/// Which end of the TLS session we are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// We connected (`BnetTlsClient`).
    Client,
    /// We accepted (`BnetTlsServer`).
    Server,
}

/// Bareos' post-connection checks (`BnetTlsClient`, `BnetTlsServer`; see the module docs).
/// `address` is the host the client dialled. Returns a reason on failure.
pub fn verify_after_handshake(
    ssl: &SslRef,
    settings: &TlsSettings,
    role: Role,
    address: &str,
) -> Result<(), String> {
    if !settings.verify_peer {
        return Ok(());
    }
    if role == Role::Server && settings.allowed_cn.is_empty() {
        return Ok(());
    }
    let Some(cert) = ssl.peer_certificate() else {
        return Err(
            "TLS Verify Peer is set but the peer presented no certificate \
             (a pure TLS-PSK session has none)"
                .into(),
        );
    };
    let cn = common_name(&cert);
    if !settings.allowed_cn.is_empty() {
        return match &cn {
            Some(cn) if settings.allowed_cn.iter().any(|a| a == cn) => Ok(()),
            Some(cn) => Err(format!(
                "peer certificate CN {cn:?} is not in TLS Allowed CN {:?}",
                settings.allowed_cn
            )),
            None => Err("peer certificate has no CN (TLS Allowed CN is set)".into()),
        };
    }
    // Client without Allowed CN: a DNS subjectAltName or the CN must match the address.
    let san_match = cert.subject_alt_names().is_some_and(|names| {
        names
            .iter()
            .filter_map(|n| n.dnsname())
            .any(|d| d.eq_ignore_ascii_case(address))
    });
    if san_match
        || cn
            .as_deref()
            .is_some_and(|c| c.eq_ignore_ascii_case(address))
    {
        Ok(())
    } else {
        Err(format!(
            "peer certificate (CN {:?}) does not match the address {address:?}",
            cn.unwrap_or_default()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_debug_is_redacted() {
        let k = Key::from_password("secret").expect("key");
        assert_eq!(k.as_bytes(), b"5ebe2294ecd0e0f08eab7690d2a6ee69");
        assert_eq!(format!("{k:?}"), "Key(<redacted>)");
        let k = Key::from_password("[md5]5EBE2294ECD0E0F08EAB7690D2A6EE69").expect("key");
        assert_eq!(k.as_bytes(), b"5EBE2294ECD0E0F08EAB7690D2A6EE69");
        assert!(Key::from_password("[md5]zz").is_err());
    }

    #[test]
    fn policy_follows_enable_require() {
        assert_eq!(TlsSettings::default().policy(), TlsPolicy::Required);
        assert_eq!(TlsSettings::optional().policy(), TlsPolicy::Enabled);
        assert_eq!(TlsSettings::disabled().policy(), TlsPolicy::None);
    }

    #[test]
    fn protocol_syntax() {
        let mut b = SslContextBuilder::new(SslMethod::tls()).expect("ctx");
        apply_protocol(&mut b, "-TLSv1,-TLSv1.1, -TLSv1.3,TLSv1.2").expect("ok");
        let o = b.options();
        assert!(o.contains(SslOptions::NO_TLSV1_3));
        assert!(o.contains(SslOptions::NO_TLSV1));
        assert!(!o.contains(SslOptions::NO_TLSV1_2));
        apply_protocol(&mut b, "+TLSv1.3").expect("ok");
        assert!(!b.options().contains(SslOptions::NO_TLSV1_3));
        let e = apply_protocol(&mut b, "TLSv9").expect_err("bad name");
        assert_eq!(e.kind, ErrorKind::Config);
        assert!(e.to_string().contains("TLSv9"));
    }

    #[test]
    fn bad_cipher_list_is_a_config_error() {
        let s = TlsSettings {
            cipher_list: Some("NOT-A-CIPHER".into()),
            ..TlsSettings::default()
        };
        let e = client_context(&s, None).expect_err("bad list");
        assert_eq!(e.kind, ErrorKind::Config);
        assert!(e.to_string().contains("TLS Cipher List"));
    }

    #[test]
    fn missing_certificate_file_names_the_directive_and_path() {
        let s = TlsSettings {
            certificate: Some("/nonexistent/cert.pem".into()),
            ..TlsSettings::default()
        };
        let e = client_context(&s, None).expect_err("missing");
        assert!(e
            .to_string()
            .contains("TLS Certificate /nonexistent/cert.pem"));
    }
}
