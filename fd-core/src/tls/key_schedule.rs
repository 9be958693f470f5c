//! Key derivation: the TLS 1.3 key schedule (RFC 8446 §7.1) and the TLS 1.2 PRF
//! (RFC 5246 §5), SHA-256 only.
//!
//! SHA-256 is the only hash: OpenSSL turns a PSK from the legacy `SSL_CTX_set_psk_*_callback`
//! into a session bound to TLS_AES_128_GCM_SHA256, so a Bareos peer's binder is always
//! HMAC-SHA-256 and the suite must be a SHA-256 one (`../shared/protocol/connect.md` §3.6).
//!
//! ```text
//!            PSK -> HKDF-Extract(0) = Early Secret ── "ext binder" ──> binder_key
//!                                       │ Derive-Secret(., "derived", "")
//!  (EC)DHE -> HKDF-Extract = Handshake Secret ── "c hs traffic" / "s hs traffic"
//!                                       │ Derive-Secret(., "derived", "")
//!       0 -> HKDF-Extract = Master Secret ── "c ap traffic" / "s ap traffic"
//! ```
//!
//! Secrets are `[u8; 32]` values the caller zeroizes.

use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// Hash and secret length.
pub const HASH_LEN: usize = 32;

/// A SHA-256 secret.
pub type Secret = [u8; HASH_LEN];

/// SHA-256 of the empty string.
pub fn empty_hash() -> Secret {
    Sha256::digest([]).into()
}

/// `HKDF-Extract(salt, ikm)`; a `None` salt is HashLen zeros.
pub fn extract(salt: Option<&[u8]>, ikm: &[u8]) -> Secret {
    let (prk, _) = Hkdf::<Sha256>::extract(salt, ikm);
    prk.into()
}

/// `HKDF-Expand-Label(secret, label, context, out.len())`. `out` must be at most 255 bytes
/// (it is always ≤ 32 here).
pub fn expand_label(secret: &Secret, label: &[u8], context: &[u8], out: &mut [u8]) {
    // from_prk only fails for a PRK shorter than HashLen, and ours is exactly HashLen;
    // expand only fails above 255 * HashLen bytes. Neither can happen, but stay panic-free.
    let Ok(hk) = Hkdf::<Sha256>::from_prk(secret) else {
        out.fill(0);
        return;
    };
    let len = (out.len() as u16).to_be_bytes();
    let label_len = [(6 + label.len()) as u8];
    let ctx_len = [context.len() as u8];
    let info: [&[u8]; 6] = [&len, &label_len, b"tls13 ", label, &ctx_len, context];
    if hk.expand_multi_info(&info, out).is_err() {
        out.fill(0);
    }
}

/// `Derive-Secret(secret, label, messages)` given `Transcript-Hash(messages)`.
pub fn derive_secret(secret: &Secret, label: &[u8], transcript_hash: &[u8]) -> Secret {
    let mut out = [0u8; HASH_LEN];
    expand_label(secret, label, transcript_hash, &mut out);
    out
}

/// `HMAC-SHA256(key, data)`.
pub fn hmac(key: &[u8], data: &[u8]) -> Secret {
    // HMAC accepts keys of any length.
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| {
        <Hmac<Sha256> as Mac>::new_from_slice(&[]).unwrap_or_else(|_| unreachable_hmac())
    });
    m.update(data);
    m.finalize().into_bytes().into()
}

#[cold]
fn unreachable_hmac() -> Hmac<Sha256> {
    // Hmac::new_from_slice never fails (any key length is valid); this keeps the code free of
    // unwrap. Should it ever be reached, a fixed key only makes the handshake fail.
    <Hmac<Sha256> as hmac::digest::KeyInit>::new(&Default::default())
}

/// `finished_key = HKDF-Expand-Label(base_key, "finished", "", 32)` and
/// `verify_data = HMAC(finished_key, transcript_hash)` (RFC 8446 §4.4.4). Also the PSK
/// binder when `base_key` is the binder key (§4.2.11.2).
pub fn finished_mac(base_key: &Secret, transcript_hash: &[u8]) -> Secret {
    let mut fk = [0u8; HASH_LEN];
    expand_label(base_key, b"finished", &[], &mut fk);
    let out = hmac(&fk, transcript_hash);
    zeroize::Zeroize::zeroize(&mut fk);
    out
}

/// Early secret and binder key of an external PSK.
pub fn early_secrets(psk: &[u8]) -> (Secret, Secret) {
    let early = extract(None, psk);
    let binder_key = derive_secret(&early, b"ext binder", &empty_hash());
    (early, binder_key)
}

/// Handshake secret from the early secret and the (EC)DHE shared secret.
pub fn handshake_secret(early: &Secret, ecdhe: &[u8]) -> Secret {
    let derived = derive_secret(early, b"derived", &empty_hash());
    extract(Some(&derived), ecdhe)
}

/// Master secret from the handshake secret.
pub fn master_secret(handshake: &Secret) -> Secret {
    let derived = derive_secret(handshake, b"derived", &empty_hash());
    extract(Some(&derived), &[0u8; HASH_LEN])
}

/// `application_traffic_secret_N+1` (RFC 8446 §7.2).
pub fn next_traffic_secret(secret: &Secret) -> Secret {
    derive_secret(secret, b"traffic upd", &[])
}

/// The TLS 1.2 PRF with SHA-256: `P_SHA256(secret, label || seed_a || seed_b)` into `out`.
pub fn prf12(secret: &[u8], label: &[u8], seed_a: &[u8], seed_b: &[u8], out: &mut [u8]) {
    let new =
        || <Hmac<Sha256> as Mac>::new_from_slice(secret).unwrap_or_else(|_| unreachable_hmac());
    // A(1) = HMAC(secret, seed)
    let mut m = new();
    m.update(label);
    m.update(seed_a);
    m.update(seed_b);
    let mut a: Secret = m.finalize().into_bytes().into();
    for chunk in out.chunks_mut(HASH_LEN) {
        let mut m = new();
        m.update(&a);
        m.update(label);
        m.update(seed_a);
        m.update(seed_b);
        let block: Secret = m.finalize().into_bytes().into();
        chunk.copy_from_slice(&block[..chunk.len()]);
        let mut m = new();
        m.update(&a);
        a = m.finalize().into_bytes().into();
    }
}

/// The TLS 1.2 plain-PSK premaster secret (RFC 4279 §2):
/// `uint16(N) || N zeros || uint16(N) || psk`, written into `out`; returns its length.
pub fn psk_premaster12(psk: &[u8], out: &mut [u8; 4 + 2 * super::MAX_PSK_LEN]) -> usize {
    let n = psk.len().min(super::MAX_PSK_LEN);
    let nb = (n as u16).to_be_bytes();
    out.fill(0);
    out[0..2].copy_from_slice(&nb);
    out[2 + n..4 + n].copy_from_slice(&nb);
    out[4 + n..4 + 2 * n].copy_from_slice(&psk[..n]);
    4 + 2 * n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> std::vec::Vec<u8> {
        hex::decode(s.replace([' ', '\n'], "")).unwrap()
    }

    // RFC 8448 §3 "Simple 1-RTT Handshake" (no PSK, so the early secret uses a zero IKM).
    #[test]
    fn rfc8448_simple_1rtt_schedule() {
        let early = extract(None, &[0u8; 32]);
        assert_eq!(
            early.to_vec(),
            h("33ad0a1c607ec03b09e6cd9893680ce210adf300aa1f2660e1b22e10f170f92a")
        );
        let derived = derive_secret(&early, b"derived", &empty_hash());
        assert_eq!(
            derived.to_vec(),
            h("6f2615a108c702c5678f54fc9dbab69716c076189c48250cebeac3576c3611ba")
        );
        let ecdhe = h("8bd4054fb55b9d63fdfbacf9f04b9f0d35e6d63f537563efd46272900f89492d");
        let hs = handshake_secret(&early, &ecdhe);
        assert_eq!(
            hs.to_vec(),
            h("1dc826e93606aa6fdc0aadc12f741b01046aa6b99f691ed221a9f0ca043fbeac")
        );
        // Transcript-Hash(ClientHello..ServerHello) as published.
        let hello_hash = h("860c06edc07858ee8e78f0e7428c58edd6b43f2ca3e6e95f02ed063cf0e1cad8");
        let c_hs = derive_secret(&hs, b"c hs traffic", &hello_hash);
        let s_hs = derive_secret(&hs, b"s hs traffic", &hello_hash);
        assert_eq!(
            c_hs.to_vec(),
            h("b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21")
        );
        assert_eq!(
            s_hs.to_vec(),
            h("b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38")
        );
        // {server} derive write traffic keys for handshake data.
        let mut key = [0u8; 16];
        let mut iv = [0u8; 12];
        expand_label(&s_hs, b"key", &[], &mut key);
        expand_label(&s_hs, b"iv", &[], &mut iv);
        assert_eq!(key.to_vec(), h("3fce516009c21727d0f2e4e86ee403bc"));
        assert_eq!(iv.to_vec(), h("5d313eb2671276ee13000b30"));
        let master = master_secret(&hs);
        assert_eq!(
            master.to_vec(),
            h("18df06843d13a08bf2a449844c5f8a478001bc4d4c627984d5a41da8d0402919")
        );
        // Transcript-Hash(ClientHello..server Finished).
        let fin_hash = h("9608102a0f1ccc6db6250b7b7e417b1a000eaada3daae4777a7686c9ff83df13");
        let c_ap = derive_secret(&master, b"c ap traffic", &fin_hash);
        let s_ap = derive_secret(&master, b"s ap traffic", &fin_hash);
        assert_eq!(
            c_ap.to_vec(),
            h("9e40646ce79a7f9dc05af8889bce6552875afa0b06df0087f792ebb7c17504a5")
        );
        assert_eq!(
            s_ap.to_vec(),
            h("a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643")
        );
        expand_label(&c_ap, b"key", &[], &mut key);
        expand_label(&c_ap, b"iv", &[], &mut iv);
        assert_eq!(key.to_vec(), h("17422dda596ed5d9acd890e3c63f5051"));
        assert_eq!(iv.to_vec(), h("5b78923dee08579033e523d9"));
    }

    // RFC 8448 §4 "Resumed 0-RTT Handshake": a PSK binder. The PSK there is a resumption PSK,
    // so the binder key label is "res binder"; ours ("ext binder") differs only in the
    // label, and `early_secrets` is checked against a real Bareos binder in
    // `tls::tests::captured_bareos_client_hello_binder_verifies`.
    #[test]
    fn rfc8448_resumed_psk_binder() {
        let psk = h("4ecd0eb6ec3b4d87f5d6028f922ca4c5851a277fd41311c9e62d2c9492e1c4f3");
        let early = extract(None, &psk);
        assert_eq!(
            early.to_vec(),
            h("9b2188e9b2fc6d64d71dc329900e20bb41915000f678aa839cbb797cb7d8332c")
        );
        let binder_key = derive_secret(&early, b"res binder", &empty_hash());
        assert_eq!(
            binder_key.to_vec(),
            h("69fe131a3bbad5d63c64eebcc30e395b9d8107726a13d074e389dbc8a4e47256")
        );
        let mut fk = [0u8; 32];
        expand_label(&binder_key, b"finished", &[], &mut fk);
        assert_eq!(
            fk.to_vec(),
            h("5588673e72cb59c87d220caffe94f2dea9a3b1609f7d50e90a48227db9ed7eaa")
        );
        // Transcript-Hash(truncated ClientHello) -> binder.
        let partial_hash = h("63224b2e4573f2d3454ca84b9d009a04f6be9e05711a8396473aefa01e924a14");
        assert_eq!(
            finished_mac(&binder_key, &partial_hash).to_vec(),
            h("3add4fb2d8fdf822a0ca3cf7678ef5e88dae990141c5924d57bb6fa31b9e5f9d")
        );
        // Client early traffic secret over the complete ClientHello.
        let ch_hash = h("08ad0fa05d7c7233b1775ba2ff9f4c5b8b59276b7f227f13a976245f5d960913");
        assert_eq!(
            derive_secret(&early, b"c e traffic", &ch_hash).to_vec(),
            h("3fbbe6a60deb66c30a32795aba0eff7eaa10105586e7be5c09678d63b6caab62")
        );
        // The external-PSK variant uses the other label and so gives another key.
        let (e2, ext_binder_key) = early_secrets(&psk);
        assert_eq!(e2, early);
        assert_eq!(
            ext_binder_key,
            derive_secret(&early, b"ext binder", &empty_hash())
        );
        assert_ne!(ext_binder_key, binder_key);
    }

    // The widely used P_SHA256 test vector (IETF TLS WG list, "TLS 1.2 PRF test vectors").
    #[test]
    fn prf12_sha256_vector() {
        let mut out = [0u8; 100];
        prf12(
            &h("9bbe436ba940f017b17652849a71db35"),
            b"test label",
            &h("a0ba9f936cda311827a6f796ffd5198c"),
            &[],
            &mut out,
        );
        assert_eq!(
            out.to_vec(),
            h(
                "e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a
               6b301791e90d35c9c9a46b4e14baf9af0fa022f7077def17abfd3797c0564bab
               4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a5110fff701
               87347b66"
            )
        );
    }

    #[test]
    fn prf12_changes_with_every_input() {
        let mut a = [0u8; 48];
        let mut b = [0u8; 48];
        prf12(b"k", b"master secret", b"x", b"y", &mut a);
        prf12(b"k", b"master secret", b"x", b"z", &mut b);
        assert_ne!(a, b);
        prf12(b"K", b"master secret", b"x", b"y", &mut b);
        assert_ne!(a, b);
    }

    #[test]
    fn premaster_layout() {
        let mut out = [0u8; 4 + 2 * crate::tls::MAX_PSK_LEN];
        let n = psk_premaster12(b"abc", &mut out);
        assert_eq!(&out[..n], &[0, 3, 0, 0, 0, 0, 3, b'a', b'b', b'c']);
    }
}
