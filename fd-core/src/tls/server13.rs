//! The TLS 1.3 handshake with an external PSK and `psk_dhe_ke` (RFC 8446 §2.2, §4.2.11).
//!
//! ```text
//!  ClientHello (+key_share, +psk_key_exchange_modes, +pre_shared_key)  ──>
//!                          [HelloRetryRequest (+key_share group)  <──   only if no usable share]
//!                                                   ServerHello (+supported_versions,
//!                                                   +key_share, +pre_shared_key)
//!                                                   [ChangeCipherSpec]  (middlebox compat)
//!                                                   {EncryptedExtensions}
//!                                             <──   {Finished}
//!  [ChangeCipherSpec] {Finished}                    ──>
//!  [Application Data]                               <──>  [Application Data]
//! ```
//!
//! Choices, following OpenSSL's server (which Bareos runs) where the RFC leaves room:
//! - the suite is the first one in the *client's* list that we enable (OpenSSL picks
//!   TLS_CHACHA20_POLY1305_SHA256 against a Bareos ClientHello that lists AES-256 first;
//!   `vectors/psk-dir-fd` conn 1 msg 2);
//! - the identity is the first one in the client's list that the [`PskStore`] knows; its
//!   binder must verify (constant-time compare), otherwise `decrypt_error`; no known identity
//!   is `unknown_psk_identity` (RFC 8446 §6.2 allows it);
//! - the key share is the first client share in a group we enable; with none, the first
//!   enabled group of `supported_groups` is requested by HelloRetryRequest, once;
//! - ChangeCipherSpec is sent after the first server flight message when the client sent a
//!   non-empty `legacy_session_id` (RFC 8446 §D.4), and the client's is ignored.

use rand_core::{CryptoRng, RngCore};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroize;

use super::conn::{alert, lookup_psk, send_handshake, Core, Ctx, State, Tx};
use super::crypto::{self, key_len, Format, Protection};
use super::handshake::{
    ClientHello, EncryptedExtensions, Finished, HandshakeType, KeyShareEntry, KeyUpdate,
    NamedGroup, ServerHello, HRR_RANDOM, TLS12, TLS13,
};
use super::key_schedule::{self as ks, Secret};
use super::record::{AlertDescription as A, ContentType};
use super::{CipherSuite, Error, PskStore, ServerConfig, MAX_PSK_LEN};

fn suite_enabled(c: &ServerConfig, s: CipherSuite) -> bool {
    match s {
        CipherSuite::Tls13ChaCha20Poly1305Sha256 => c.chacha20_poly1305,
        CipherSuite::Tls13Aes128GcmSha256 => c.aes128_gcm,
        _ => false,
    }
}

fn group_enabled(c: &ServerConfig, g: NamedGroup) -> bool {
    match g {
        NamedGroup::X25519 => c.x25519,
        NamedGroup::Secp256r1 => c.secp256r1,
        NamedGroup::Unknown(_) => false,
    }
}

/// Record protection from a TLS 1.3 traffic secret (RFC 8446 §7.3).
pub(crate) fn traffic_protection(suite: CipherSuite, secret: &Secret) -> Result<Protection, Error> {
    let mut key = [0u8; 32];
    let klen = key_len(suite);
    let mut iv = [0u8; 12];
    ks::expand_label(secret, b"key", &[], &mut key[..klen]);
    ks::expand_label(secret, b"iv", &[], &mut iv);
    let p = Protection::new(suite, &key[..klen], &iv, Format::Tls13);
    key.zeroize();
    iv.zeroize();
    p.ok_or(Error::AlertSent(A::InternalError))
}

/// Handle a ClientHello (the first, or the second after a HelloRetryRequest).
pub(crate) fn client_hello<P: PskStore, R: RngCore + CryptoRng>(
    core: &mut Core,
    tx: &mut Tx<'_>,
    ctx: &mut Ctx<'_, P, R>,
    msg: &[u8],
    second: bool,
) -> Result<(), Error> {
    let ch = ClientHello::parse(msg).map_err(|_| Error::AlertSent(A::DecodeError))?;
    if !second {
        if !(ctx.config.tls13 && ch.offers_tls13()) {
            let v12 = ch.legacy_version >= TLS12 || ch.versions().any(|v| v == TLS12);
            if ctx.config.tls12 && v12 {
                return super::server12::client_hello(core, tx, ctx, msg, &ch);
            }
            return alert(A::ProtocolVersion);
        }
    } else if !ch.offers_tls13() {
        return alert(A::IllegalParameter);
    }
    if ch.compression_methods != [0] {
        return alert(A::IllegalParameter);
    }
    let suite = ch
        .cipher_suites()
        .find(|s| suite_enabled(ctx.config, *s))
        .ok_or(Error::AlertSent(A::HandshakeFailure))?;
    if second && Some(suite) != core.suite {
        return alert(A::IllegalParameter);
    }
    let Some(psk) = ch.pre_shared_key else {
        debug!("tls13: ClientHello without pre_shared_key");
        return alert(A::HandshakeFailure);
    };
    if ch.psk_modes.is_none() {
        return alert(A::MissingExtension);
    }
    if !ch.offers_psk_dhe_ke() {
        // psk_ke alone: OpenSSL refuses it too unless SSL_OP_ALLOW_NO_DHE_KEX.
        return alert(A::HandshakeFailure);
    }
    let share = ch.key_shares().find(|(g, _)| group_enabled(ctx.config, *g));
    let Some((group, peer_key)) = share else {
        if second {
            return alert(A::IllegalParameter);
        }
        let g = ch
            .groups()
            .find(|g| group_enabled(ctx.config, *g))
            .ok_or(Error::AlertSent(A::HandshakeFailure))?;
        return hello_retry(core, tx, &ch, msg, suite, g);
    };
    if second && Some(group) != core.group {
        return alert(A::IllegalParameter);
    }

    // The PSK: first identity the store knows, and its binder.
    let mut key = [0u8; MAX_PSK_LEN];
    let mut selected = None;
    for (i, (id, _age)) in psk.identities().enumerate() {
        if let Some(n) = lookup_psk(ctx.psk_store, id, &mut key) {
            selected = Some((i, id, n));
            break;
        }
    }
    let Some((index, identity, klen)) = selected else {
        debug!("tls13: no known PSK identity");
        return alert(A::UnknownPskIdentity);
    };
    let binder = psk
        .binders()
        .nth(index)
        .ok_or(Error::AlertSent(A::DecodeError))?;
    let (mut early, mut binder_key) = ks::early_secrets(key.get(..klen).unwrap_or(&[]));
    key.zeroize();
    let partial = msg
        .get(..psk.binders_offset)
        .ok_or(Error::AlertSent(A::DecodeError))?;
    let mut t = core.transcript.clone();
    t.update(partial);
    let expected = ks::finished_mac(&binder_key, &t.finalize());
    binder_key.zeroize();
    let ok: bool = binder.ct_eq(&expected[..]).into();
    if !ok {
        early.zeroize();
        warn!("tls13: PSK binder does not verify (wrong key?)");
        return alert(A::DecryptError);
    }
    core.identity.clear();
    core.identity
        .extend_from_slice(identity)
        .map_err(|_| Error::AlertSent(A::InternalError))?;
    core.add(msg);

    // Key exchange.
    let mut public = [0u8; crypto::MAX_PUBLIC_KEY];
    let (plen, mut shared) = crypto::key_exchange(group, peer_key, ctx.rng, &mut public)
        .ok_or(Error::AlertSent(A::IllegalParameter))?;
    if !second {
        core.session_id.clear();
        core.session_id
            .extend_from_slice(ch.session_id)
            .map_err(|_| Error::AlertSent(A::IllegalParameter))?;
    } else if ch.session_id != &core.session_id[..] {
        return alert(A::IllegalParameter);
    }
    let mut sid = [0u8; 32];
    let sid_len = core.session_id.len();
    sid[..sid_len].copy_from_slice(&core.session_id);
    let mut random = [0u8; 32];
    ctx.rng.fill_bytes(&mut random);
    let index = u16::try_from(index).map_err(|_| Error::AlertSent(A::IllegalParameter))?;
    let sh = ServerHello {
        legacy_version: TLS12,
        random,
        session_id: &sid[..sid_len],
        cipher_suite: suite,
        renegotiation_info: false,
        max_fragment_length: None,
        extended_master_secret: false,
        supported_version: Some(TLS13),
        key_share: Some(KeyShareEntry {
            group,
            key_exchange: &public[..plen],
        }),
        hrr_group: None,
        selected_identity: Some(index),
    };
    core.version = Some(TLS13);
    core.suite = Some(suite);
    core.group = Some(group);
    send_handshake(core, tx, |b| sh.emit(b))?;
    if sid_len > 0 && !core.ccs_sent {
        tx.send_ccs()?;
        core.ccs_sent = true;
    }

    // Handshake keys.
    let mut hs = ks::handshake_secret(&early, &shared);
    early.zeroize();
    shared.zeroize();
    let h = core.hash();
    let mut c_hs = ks::derive_secret(&hs, b"c hs traffic", &h);
    let mut s_hs = ks::derive_secret(&hs, b"s hs traffic", &h);
    core.read = Some(traffic_protection(suite, &c_hs)?);
    tx.prot = Some(traffic_protection(suite, &s_hs)?);

    let mfl = if ctx.config.max_fragment_length {
        ch.max_fragment_length
    } else {
        None
    };
    if let Some(c) = mfl {
        tx.max_frag = 1usize << (8 + u32::from(c));
        debug!("tls13: max_fragment_length {}", tx.max_frag);
    }
    let ee = EncryptedExtensions {
        max_fragment_length: mfl,
    };
    send_handshake(core, tx, |b| ee.emit(b))?;
    let fin = ks::finished_mac(&s_hs, &core.hash());
    send_handshake(core, tx, |b| Finished { verify_data: &fin }.emit(b))?;

    // Application keys: transcript through the server Finished.
    let h = core.hash();
    core.expected_finished = ks::finished_mac(&c_hs, &h);
    let mut ms = ks::master_secret(&hs);
    core.client_secret = ks::derive_secret(&ms, b"c ap traffic", &h);
    core.server_secret = ks::derive_secret(&ms, b"s ap traffic", &h);
    tx.prot = Some(traffic_protection(suite, &core.server_secret)?);
    hs.zeroize();
    c_hs.zeroize();
    s_hs.zeroize();
    ms.zeroize();
    core.state = State::ExpectFinished13;
    Ok(())
}

fn hello_retry(
    core: &mut Core,
    tx: &mut Tx<'_>,
    ch: &ClientHello<'_>,
    msg: &[u8],
    suite: CipherSuite,
    group: NamedGroup,
) -> Result<(), Error> {
    debug!("tls13: HelloRetryRequest for group {}", u16::from(group));
    core.session_id.clear();
    core.session_id
        .extend_from_slice(ch.session_id)
        .map_err(|_| Error::AlertSent(A::IllegalParameter))?;
    // RFC 8446 §4.4.1: ClientHello1 is replaced by message_hash(ClientHello1).
    let h1 = Sha256::digest(msg);
    core.transcript = Sha256::new();
    core.add(&[u8::from(HandshakeType::MessageHash), 0, 0, 32]);
    core.add(&h1);
    let hrr = ServerHello {
        legacy_version: TLS12,
        random: HRR_RANDOM,
        session_id: ch.session_id,
        cipher_suite: suite,
        renegotiation_info: false,
        max_fragment_length: None,
        extended_master_secret: false,
        supported_version: Some(TLS13),
        key_share: None,
        hrr_group: Some(group),
        selected_identity: None,
    };
    core.version = Some(TLS13);
    core.suite = Some(suite);
    core.group = Some(group);
    send_handshake(core, tx, |b| hrr.emit(b))?;
    if !ch.session_id.is_empty() {
        tx.send_ccs()?;
        core.ccs_sent = true;
    }
    core.state = State::ExpectClientHello2;
    Ok(())
}

/// Verify the client's Finished and switch to the application read keys.
pub(crate) fn client_finished(core: &mut Core, msg: &[u8]) -> Result<(), Error> {
    let fin = Finished::parse(msg).map_err(|_| Error::AlertSent(A::DecodeError))?;
    let ok: bool = fin.verify_data.ct_eq(&core.expected_finished[..]).into();
    if !ok {
        return alert(A::DecryptError);
    }
    core.add(msg);
    let suite = core.suite.ok_or(Error::AlertSent(A::InternalError))?;
    core.read = Some(traffic_protection(suite, &core.client_secret)?);
    core.state = State::Established13;
    debug!("tls13: handshake complete");
    Ok(())
}

/// The peer updated its keys; follow, and answer if it asked us to.
pub(crate) fn key_update(core: &mut Core, tx: &mut Tx<'_>, msg: &[u8]) -> Result<(), Error> {
    let ku = KeyUpdate::parse(msg).map_err(|e| {
        Error::AlertSent(if e == crate::wire::Error::BadNumber {
            A::IllegalParameter
        } else {
            A::DecodeError
        })
    })?;
    let suite = core.suite.ok_or(Error::AlertSent(A::InternalError))?;
    core.client_secret = ks::next_traffic_secret(&core.client_secret);
    core.read = Some(traffic_protection(suite, &core.client_secret)?);
    core.key_updates = core.key_updates.saturating_add(1);
    debug!(
        "tls13: peer KeyUpdate, update_requested={}",
        ku.update_requested
    );
    if ku.update_requested {
        send_key_update(core, tx, false)?;
    }
    Ok(())
}

/// Send KeyUpdate under the current keys, then switch the write keys.
pub(crate) fn send_key_update(
    core: &mut Core,
    tx: &mut Tx<'_>,
    request_peer: bool,
) -> Result<(), Error> {
    let suite = core.suite.ok_or(Error::AlertSent(A::InternalError))?;
    let mut b = [0u8; 5];
    KeyUpdate {
        update_requested: request_peer,
    }
    .emit(&mut b)
    .map_err(|_| Error::AlertSent(A::InternalError))?;
    tx.send(ContentType::Handshake, &b)?;
    core.server_secret = ks::next_traffic_secret(&core.server_secret);
    tx.prot = Some(traffic_protection(suite, &core.server_secret)?);
    Ok(())
}
