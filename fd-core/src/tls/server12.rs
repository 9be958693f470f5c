//! TLS 1.2 plain PSK (RFC 4279 §2) with AEAD suites (RFC 5487 AES-GCM, RFC 7905 ChaCha20).
//!
//! ```text
//!  ClientHello                ──>
//!                             <──  ServerHello (+renegotiation_info, +extended_master_secret,
//!                                  +max_fragment_length), ServerHelloDone
//!  ClientKeyExchange(identity),
//!  ChangeCipherSpec, Finished ──>
//!                             <──  ChangeCipherSpec, Finished
//! ```
//!
//! No ServerKeyExchange: a PSK identity hint is optional and Bareos' client callback ignores
//! it (connect.md §3.5). The premaster secret is `uint16(N) 0^N uint16(N) psk`; the master
//! secret uses RFC 7627's extended master secret when the client offers it (OpenSSL does),
//! and the empty `renegotiation_info` is always answered (RFC 5746: OpenSSL 3 clients refuse
//! servers without it). No session id is issued: Bareos opens a new `SSL_CTX` per connection
//! and never resumes.
//!
//! When TLS 1.3 is also enabled, the last 8 bytes of the server random are `DOWNGRD\x01`
//! (RFC 8446 §4.1.3) so a 1.3-capable client detects a forced downgrade.

use rand_core::{CryptoRng, RngCore};
use subtle::ConstantTimeEq;
use zeroize::Zeroize;

use super::conn::{alert, lookup_psk, send_handshake, Core, Ctx, State, Tx};
use super::crypto::{key_len, Format, Protection};
use super::handshake::{
    ClientHello, ClientKeyExchangePsk, Finished, ServerHello, ServerHelloDone, DOWNGRADE_TLS12,
    TLS12,
};
use super::key_schedule as ks;
use super::record::AlertDescription as A;
use super::{CipherSuite, Error, PskStore, ServerConfig, MAX_PSK_LEN};

fn suite_enabled(c: &ServerConfig, s: CipherSuite) -> bool {
    match s {
        CipherSuite::TlsPskWithChaCha20Poly1305Sha256 => c.chacha20_poly1305,
        CipherSuite::TlsPskWithAes128GcmSha256 => c.aes128_gcm,
        _ => false,
    }
}

pub(crate) fn client_hello<P: PskStore, R: RngCore + CryptoRng>(
    core: &mut Core,
    tx: &mut Tx<'_>,
    ctx: &mut Ctx<'_, P, R>,
    msg: &[u8],
    ch: &ClientHello<'_>,
) -> Result<(), Error> {
    let suite = ch
        .cipher_suites()
        .find(|s| suite_enabled(ctx.config, *s))
        .ok_or(Error::AlertSent(A::HandshakeFailure))?;
    if !ch.compression_methods.contains(&0) {
        return alert(A::HandshakeFailure);
    }
    if ch.renegotiation_info.is_some_and(|ri| !ri.is_empty()) {
        return alert(A::HandshakeFailure);
    }
    core.client_random = *ch.random;
    ctx.rng.fill_bytes(&mut core.server_random);
    if ctx.config.tls13 {
        core.server_random[24..].copy_from_slice(&DOWNGRADE_TLS12);
    }
    core.ems = ch.extended_master_secret;
    let mfl = if ctx.config.max_fragment_length {
        ch.max_fragment_length
    } else {
        None
    };
    core.add(msg);
    let sh = ServerHello {
        legacy_version: TLS12,
        random: core.server_random,
        session_id: &[],
        cipher_suite: suite,
        renegotiation_info: true,
        max_fragment_length: mfl,
        extended_master_secret: core.ems,
        supported_version: None,
        key_share: None,
        hrr_group: None,
        selected_identity: None,
    };
    core.version = Some(TLS12);
    core.suite = Some(suite);
    send_handshake(core, tx, |b| sh.emit(b))?;
    send_handshake(core, tx, |b| ServerHelloDone.emit(b))?;
    if let Some(c) = mfl {
        tx.max_frag = 1usize << (8 + u32::from(c));
    }
    core.state = State::ExpectClientKeyExchange12;
    debug!("tls12: ServerHello sent, suite {}", u16::from(suite));
    Ok(())
}

pub(crate) fn client_key_exchange<P: PskStore, R: RngCore + CryptoRng>(
    core: &mut Core,
    ctx: &mut Ctx<'_, P, R>,
    msg: &[u8],
) -> Result<(), Error> {
    let cke = ClientKeyExchangePsk::parse(msg).map_err(|_| Error::AlertSent(A::DecodeError))?;
    let mut key = [0u8; MAX_PSK_LEN];
    let Some(klen) = lookup_psk(ctx.psk_store, cke.identity, &mut key) else {
        debug!("tls12: unknown PSK identity");
        return alert(A::UnknownPskIdentity);
    };
    core.identity.clear();
    core.identity
        .extend_from_slice(cke.identity)
        .map_err(|_| Error::AlertSent(A::InternalError))?;
    core.add(msg);
    let mut pms = [0u8; 4 + 2 * MAX_PSK_LEN];
    let n = ks::psk_premaster12(key.get(..klen).unwrap_or(&[]), &mut pms);
    key.zeroize();
    let pms_s = pms.get(..n).unwrap_or(&[]);
    if core.ems {
        let h = core.hash();
        ks::prf12(
            pms_s,
            b"extended master secret",
            &h,
            &[],
            &mut core.master12,
        );
    } else {
        ks::prf12(
            pms_s,
            b"master secret",
            &core.client_random,
            &core.server_random,
            &mut core.master12,
        );
    }
    pms.zeroize();
    let suite = core.suite.ok_or(Error::AlertSent(A::InternalError))?;
    let (klen, ivlen, format) = match suite {
        CipherSuite::TlsPskWithAes128GcmSha256 => (key_len(suite), 4, Format::Tls12Explicit),
        _ => (key_len(suite), 12, Format::Tls12Implicit),
    };
    let mut kb = [0u8; 2 * 32 + 2 * 12];
    let total = 2 * klen + 2 * ivlen;
    let kb_s = kb
        .get_mut(..total)
        .ok_or(Error::AlertSent(A::InternalError))?;
    ks::prf12(
        &core.master12,
        b"key expansion",
        &core.server_random,
        &core.client_random,
        kb_s,
    );
    let (ck, rest) = kb_s.split_at(klen);
    let (sk, rest) = rest.split_at(klen);
    let (civ, siv) = rest.split_at(ivlen);
    core.pending_read = Protection::new(suite, ck, civ, format);
    core.pending_write = Protection::new(suite, sk, siv, format);
    kb.zeroize();
    if core.pending_read.is_none() || core.pending_write.is_none() {
        return alert(A::InternalError);
    }
    core.state = State::ExpectCcs12;
    Ok(())
}

pub(crate) fn client_finished(core: &mut Core, tx: &mut Tx<'_>, msg: &[u8]) -> Result<(), Error> {
    let fin = Finished::parse(msg).map_err(|_| Error::AlertSent(A::DecodeError))?;
    let mut expected = [0u8; 12];
    ks::prf12(
        &core.master12,
        b"client finished",
        &core.hash(),
        &[],
        &mut expected,
    );
    let ok: bool = fin.verify_data.ct_eq(&expected[..]).into();
    if !ok {
        return alert(A::DecryptError);
    }
    core.add(msg);
    tx.send_ccs()?;
    tx.prot = core.pending_write.take();
    let mut verify = [0u8; 12];
    ks::prf12(
        &core.master12,
        b"server finished",
        &core.hash(),
        &[],
        &mut verify,
    );
    send_handshake(core, tx, |b| {
        Finished {
            verify_data: &verify,
        }
        .emit(b)
    })?;
    core.state = State::Established12;
    debug!("tls12: handshake complete");
    Ok(())
}
