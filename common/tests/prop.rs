//! Property tests: any resource names (with spaces, which travel bashed in hellos and
//! challenges but unbashed in PSK identities) and any passwords authenticate between our
//! connect and our accept, in cleartext and over TLS-PSK, and the accepting side reports the
//! configured name back; a different password never authenticates.

mod support;

use barque_common::conn::{HandshakeMode, Local, Outbound};
use barque_common::error::ErrorKind;
use barque_common::tls::{Key, TlsSettings};
use fd_core::wire::psk::ResourceType;
use proptest::prelude::*;
use support::*;

fn name() -> impl Strategy<Value = String> {
    // Bareos resource names: letters, digits, space, `.`, `-`, `_`, `:`; no leading or
    // trailing space (the config parser strips them). Kept short so the qualified name stays
    // under the 63 bytes C++ peers tolerate.
    "[A-Za-z0-9][A-Za-z0-9 ._:-]{0,30}[A-Za-z0-9]"
}

fn handshake(dir: &str, fd: &str, pw: &str, other_pw: &str, tls: bool) -> (bool, bool) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let settings = if tls {
            TlsSettings::default()
        } else {
            TlsSettings::disabled()
        };
        let fd_local = Local::new(ResourceType::Client, fd, TlsSettings::default());
        let dirp = peer(
            ResourceType::Director,
            dir,
            Key::from_password(pw).expect("pw"),
            settings.clone(),
        );
        let (port, h) = spawn_accept(fd_local, lookup(vec![dirp]), opts()).await;
        let dir_local = Local::new(ResourceType::Director, dir, TlsSettings::default());
        let p = peer(
            ResourceType::Client,
            fd,
            Key::from_password(other_pw).expect("pw"),
            settings,
        );
        let mode = if tls {
            HandshakeMode::TlsFirst
        } else {
            HandshakeMode::Cleartext
        };
        let c = dial(&dir_local, p, port, &Outbound::DirectorToFd, mode).await;
        let a = h.await.expect("join");
        if let Ok((ident, _)) = &a {
            assert_eq!(
                ident.name, dir,
                "accept reports the configured (unbashed) name"
            );
            assert_eq!(ident.tls.is_some(), tls);
        }
        if let Err(e) = &a {
            assert!(
                matches!(e.kind, ErrorKind::AuthFailed | ErrorKind::Tls),
                "{e}"
            );
            assert!(!e.to_string().contains(pw) || pw.len() < 4, "secret in {e}");
        }
        (c.is_ok(), a.is_ok())
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn same_password_authenticates(dir in name(), fd in name(), pw in "[ -~]{1,40}", tls: bool) {
        prop_assume!(dir != fd && !pw.starts_with("[md5]"));
        prop_assert_eq!(handshake(&dir, &fd, &pw, &pw, tls), (true, true));
    }

    #[test]
    fn different_password_never_authenticates(
        dir in name(), fd in name(), pw in "[ -~]{1,40}", other in "[ -~]{1,40}", tls: bool
    ) {
        prop_assume!(dir != fd && pw != other && !pw.starts_with("[md5]") && !other.starts_with("[md5]"));
        prop_assert_eq!(handshake(&dir, &fd, &pw, &other, tls), (false, false));
    }
}
