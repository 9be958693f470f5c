//! Record protection (AEAD) and the ephemeral key exchange.
//!
//! - AEADs: AES-128-GCM (`aes-gcm` 0.10) and ChaCha20-Poly1305 (`chacha20poly1305` 0.10),
//!   the same generations embedded-tls 0.19 links, so firmware carries one copy.
//! - TLS 1.3 (RFC 8446 §5.2–5.3): the per-record nonce is `iv XOR seq` (seq left-padded to
//!   12 bytes), the additional data is the 5-byte record header, and the plaintext is
//!   `content || type || zeros`.
//! - TLS 1.2 AES-GCM (RFC 5288): the nonce is a 4-byte implicit salt and an 8-byte explicit
//!   part sent in front of the ciphertext (we send the sequence number); ChaCha20 (RFC 7905)
//!   uses `iv XOR seq` with no explicit part. The additional data is
//!   `seq(8) || type(1) || version(2) || plaintext_length(2)`.
//! - Key exchange: x25519 (`x25519-dalek` 2) and secp256r1 (`p256` 0.13, uncompressed
//!   65-byte points). Low-order x25519 points (all-zero shared secret) are refused.

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::Aes128Gcm;
use chacha20poly1305::ChaCha20Poly1305;
use rand_core::{CryptoRng, RngCore};

use super::handshake::{CipherSuite, NamedGroup};
use super::record::{ContentType, HEADER_LEN};

/// AEAD tag length for both suites.
pub const TAG_LEN: usize = 16;

/// An AEAD instance. Not boxed: fd-core has no allocator, and a connection holds at most
/// three of these (read, write, pending).
#[allow(clippy::large_enum_variant)]
pub(crate) enum Aead {
    Aes128Gcm(Aes128Gcm),
    ChaCha20Poly1305(ChaCha20Poly1305),
}

impl Aead {
    pub(crate) fn new(suite: CipherSuite, key: &[u8]) -> Option<Self> {
        match suite {
            CipherSuite::Tls13Aes128GcmSha256 | CipherSuite::TlsPskWithAes128GcmSha256 => {
                Aes128Gcm::new_from_slice(key).ok().map(Aead::Aes128Gcm)
            }
            CipherSuite::Tls13ChaCha20Poly1305Sha256
            | CipherSuite::TlsPskWithChaCha20Poly1305Sha256 => {
                ChaCha20Poly1305::new_from_slice(key)
                    .ok()
                    .map(Aead::ChaCha20Poly1305)
            }
            _ => None,
        }
    }

    fn seal(&self, nonce: &[u8; 12], aad: &[u8], buf: &mut [u8]) -> Option<[u8; TAG_LEN]> {
        let n = aes_gcm::Nonce::from_slice(nonce);
        let tag = match self {
            Aead::Aes128Gcm(a) => a.encrypt_in_place_detached(n, aad, buf).ok()?,
            Aead::ChaCha20Poly1305(a) => a.encrypt_in_place_detached(n, aad, buf).ok()?,
        };
        tag.as_slice().try_into().ok()
    }

    fn open(&self, nonce: &[u8; 12], aad: &[u8], buf: &mut [u8], tag: &[u8]) -> Option<()> {
        let n = aes_gcm::Nonce::from_slice(nonce);
        if tag.len() != TAG_LEN {
            return None;
        }
        let t = aes_gcm::Tag::from_slice(tag);
        match self {
            Aead::Aes128Gcm(a) => a.decrypt_in_place_detached(n, aad, buf, t).ok(),
            Aead::ChaCha20Poly1305(a) => a.decrypt_in_place_detached(n, aad, buf, t).ok(),
        }
    }
}

/// Key length of a suite's AEAD.
pub(crate) fn key_len(suite: CipherSuite) -> usize {
    match suite {
        CipherSuite::Tls13ChaCha20Poly1305Sha256
        | CipherSuite::TlsPskWithChaCha20Poly1305Sha256 => 32,
        _ => 16,
    }
}

/// Which record format a [`Protection`] produces.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Format {
    Tls13,
    /// TLS 1.2 with an 8-byte explicit nonce (AES-GCM).
    Tls12Explicit,
    /// TLS 1.2 without explicit nonce (ChaCha20-Poly1305).
    Tls12Implicit,
}

/// One direction of record protection: AEAD, IV and sequence number.
pub(crate) struct Protection {
    aead: Aead,
    iv: [u8; 12],
    seq: u64,
    format: Format,
}

impl Drop for Protection {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.iv);
    }
}

impl Protection {
    /// TLS 1.3 protection from a traffic key and IV.
    pub(crate) fn new(suite: CipherSuite, key: &[u8], iv: &[u8], format: Format) -> Option<Self> {
        let aead = Aead::new(suite, key)?;
        let mut full = [0u8; 12];
        match format {
            // TLS 1.2 GCM: the 4-byte salt is in front; the rest is the explicit nonce.
            Format::Tls12Explicit => full.get_mut(..4)?.copy_from_slice(iv.get(..4)?),
            _ => full.copy_from_slice(iv.get(..12)?),
        }
        Some(Protection {
            aead,
            iv: full,
            seq: 0,
            format,
        })
    }

    fn nonce(&self) -> [u8; 12] {
        let mut n = self.iv;
        let s = self.seq.to_be_bytes();
        match self.format {
            Format::Tls12Explicit => n[4..].copy_from_slice(&s),
            _ => {
                for (d, b) in n[4..].iter_mut().zip(s) {
                    *d ^= b;
                }
            }
        }
        n
    }

    /// Where the plaintext starts within a record this protection writes.
    pub(crate) fn payload_offset(&self) -> usize {
        match self.format {
            Format::Tls12Explicit => HEADER_LEN + 8,
            _ => HEADER_LEN,
        }
    }

    /// Bytes a record adds on top of its plaintext, header included.
    pub(crate) fn overhead(&self) -> usize {
        match self.format {
            Format::Tls13 => HEADER_LEN + 1 + TAG_LEN,
            Format::Tls12Explicit => HEADER_LEN + 8 + TAG_LEN,
            Format::Tls12Implicit => HEADER_LEN + TAG_LEN,
        }
    }

    /// Protect a record in place. `record[payload_offset()..][..len]` holds the plaintext;
    /// the header is written here. Returns the record's total length, or `None` if `record`
    /// is too short or the sequence number is exhausted.
    pub(crate) fn seal(&mut self, ct: ContentType, len: usize, record: &mut [u8]) -> Option<usize> {
        let total = len.checked_add(self.overhead())?;
        let record = record.get_mut(..total)?;
        let nonce = self.nonce();
        let seq = self.seq;
        self.seq = self.seq.checked_add(1)?;
        let frag_len = u16::try_from(total - HEADER_LEN).ok()?;
        match self.format {
            Format::Tls13 => {
                *record.get_mut(HEADER_LEN + len)? = ct.into();
                record[..HEADER_LEN].copy_from_slice(&[
                    23,
                    3,
                    3,
                    (frag_len >> 8) as u8,
                    frag_len as u8,
                ]);
                let (hdr, rest) = record.split_at_mut(HEADER_LEN);
                let (body, tag) = rest.split_at_mut(len + 1);
                let t = self.aead.seal(&nonce, hdr, body)?;
                tag.copy_from_slice(&t);
            }
            Format::Tls12Explicit | Format::Tls12Implicit => {
                let ctb: u8 = ct.into();
                record[..HEADER_LEN].copy_from_slice(&[
                    ctb,
                    3,
                    3,
                    (frag_len >> 8) as u8,
                    frag_len as u8,
                ]);
                let aad = aad12(seq, ctb, len);
                let off = self.payload_offset();
                if self.format == Format::Tls12Explicit {
                    record[HEADER_LEN..off].copy_from_slice(&seq.to_be_bytes());
                }
                let (body, tag) = record[off..].split_at_mut(len);
                let t = self.aead.seal(&nonce, &aad, body)?;
                tag.copy_from_slice(&t);
            }
        }
        Some(total)
    }

    /// Unprotect a record in place. `header` is the 5-byte header as received, `fragment` the
    /// bytes after it. Returns the inner content type and the plaintext range within
    /// `fragment`, or `None` for `bad_record_mac` (the range is `None` for a TLS 1.3 record
    /// with no non-zero type byte, which is `unexpected_message`).
    pub(crate) fn open(
        &mut self,
        header: &[u8],
        fragment: &mut [u8],
    ) -> Result<(ContentType, core::ops::Range<usize>), OpenError> {
        let seq = self.seq;
        match self.format {
            Format::Tls13 => {
                let n = fragment
                    .len()
                    .checked_sub(TAG_LEN)
                    .ok_or(OpenError::BadMac)?;
                let nonce = self.nonce();
                let (body, tag) = fragment.split_at_mut(n);
                self.aead
                    .open(&nonce, header, body, tag)
                    .ok_or(OpenError::BadMac)?;
                self.seq = self.seq.checked_add(1).ok_or(OpenError::BadMac)?;
                // Strip zero padding; the last non-zero byte is the real type.
                let pos = body
                    .iter()
                    .rposition(|b| *b != 0)
                    .ok_or(OpenError::NoContentType)?;
                Ok((ContentType::from(body[pos]), 0..pos))
            }
            Format::Tls12Explicit | Format::Tls12Implicit => {
                let explicit = if self.format == Format::Tls12Explicit {
                    8
                } else {
                    0
                };
                let n = fragment
                    .len()
                    .checked_sub(TAG_LEN + explicit)
                    .ok_or(OpenError::BadMac)?;
                let mut nonce = self.nonce();
                if explicit == 8 {
                    nonce[4..].copy_from_slice(fragment.get(..8).ok_or(OpenError::BadMac)?);
                }
                let ctb = *header.first().ok_or(OpenError::BadMac)?;
                let aad = aad12(seq, ctb, n);
                let (body, tag) = fragment[explicit..].split_at_mut(n);
                self.aead
                    .open(&nonce, &aad, body, tag)
                    .ok_or(OpenError::BadMac)?;
                self.seq = self.seq.checked_add(1).ok_or(OpenError::BadMac)?;
                Ok((ContentType::from(ctb), explicit..explicit + n))
            }
        }
    }
}

/// Why [`Protection::open`] failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpenError {
    BadMac,
    NoContentType,
}

fn aad12(seq: u64, ct: u8, len: usize) -> [u8; 13] {
    let mut a = [0u8; 13];
    a[..8].copy_from_slice(&seq.to_be_bytes());
    a[8] = ct;
    a[9] = 3;
    a[10] = 3;
    a[11..].copy_from_slice(&(len as u16).to_be_bytes());
    a
}

/// Largest public key we send (an uncompressed P-256 point).
pub const MAX_PUBLIC_KEY: usize = 65;

/// Do an ephemeral key exchange against the client's share. Writes our public value into
/// `public_out` and returns its length and the shared secret, or `None` if the client's share
/// is invalid (`illegal_parameter`).
pub(crate) fn key_exchange<R: RngCore + CryptoRng>(
    group: NamedGroup,
    peer: &[u8],
    rng: &mut R,
    public_out: &mut [u8; MAX_PUBLIC_KEY],
) -> Option<(usize, [u8; 32])> {
    match group {
        NamedGroup::X25519 => {
            let peer: [u8; 32] = peer.try_into().ok()?;
            let secret = x25519_dalek::EphemeralSecret::random_from_rng(&mut *rng);
            let public = x25519_dalek::PublicKey::from(&secret);
            let shared = secret.diffie_hellman(&x25519_dalek::PublicKey::from(peer));
            if !shared.was_contributory() {
                return None;
            }
            public_out[..32].copy_from_slice(public.as_bytes());
            Some((32, *shared.as_bytes()))
        }
        NamedGroup::Secp256r1 => {
            // TLS 1.3 allows only the uncompressed form (RFC 8446 §4.2.8.2).
            if peer.len() != 65 || peer.first() != Some(&4) {
                return None;
            }
            let peer = p256::PublicKey::from_sec1_bytes(peer).ok()?;
            let secret = p256::ecdh::EphemeralSecret::random(&mut *rng);
            let point = p256::EncodedPoint::from(secret.public_key());
            let bytes = point.as_bytes();
            public_out.get_mut(..bytes.len())?.copy_from_slice(bytes);
            let shared = secret.diffie_hellman(&peer);
            let mut out = [0u8; 32];
            out.copy_from_slice(shared.raw_secret_bytes().as_slice());
            Some((bytes.len(), out))
        }
        NamedGroup::Unknown(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(suite: CipherSuite, format: Format) -> (Protection, Protection) {
        let key = [7u8; 32];
        let iv = [9u8; 12];
        let klen = key_len(suite);
        (
            Protection::new(suite, &key[..klen], &iv, format).unwrap(),
            Protection::new(suite, &key[..klen], &iv, format).unwrap(),
        )
    }

    #[test]
    fn seal_open_all_formats() {
        for (suite, format) in [
            (CipherSuite::Tls13Aes128GcmSha256, Format::Tls13),
            (CipherSuite::Tls13ChaCha20Poly1305Sha256, Format::Tls13),
            (
                CipherSuite::TlsPskWithAes128GcmSha256,
                Format::Tls12Explicit,
            ),
            (
                CipherSuite::TlsPskWithChaCha20Poly1305Sha256,
                Format::Tls12Implicit,
            ),
        ] {
            let (mut tx, mut rx) = pair(suite, format);
            for round in 0..3u8 {
                let mut rec = [0u8; 64];
                let off = tx.payload_offset();
                rec[off..off + 5].copy_from_slice(b"hello");
                rec[off] = round;
                let n = tx.seal(ContentType::ApplicationData, 5, &mut rec).unwrap();
                assert_eq!(n, 5 + tx.overhead());
                let (hdr, frag) = rec[..n].split_at_mut(HEADER_LEN);
                let (ct, range) = rx.open(hdr, frag).unwrap();
                assert_eq!(ct, ContentType::ApplicationData);
                assert_eq!(&frag[range.clone()][1..], b"ello");
                assert_eq!(frag[range][0], round);
            }
            // Tampering is detected.
            let mut rec = [0u8; 64];
            let n = tx.seal(ContentType::ApplicationData, 5, &mut rec).unwrap();
            rec[n - 1] ^= 1;
            let (hdr, frag) = rec[..n].split_at_mut(HEADER_LEN);
            assert_eq!(rx.open(hdr, frag), Err(OpenError::BadMac));
            // Too short.
            let mut short = [0u8; 10];
            let (hdr, frag) = short.split_at_mut(HEADER_LEN);
            assert_eq!(rx.open(hdr, frag), Err(OpenError::BadMac));
        }
    }

    #[test]
    fn key_exchange_both_groups() {
        let mut rng = rand_core::OsRng;
        // x25519 against a client secret.
        let client = x25519_dalek::EphemeralSecret::random_from_rng(rand_core::OsRng);
        let cpub = x25519_dalek::PublicKey::from(&client);
        let mut out = [0u8; MAX_PUBLIC_KEY];
        let (n, shared) =
            key_exchange(NamedGroup::X25519, cpub.as_bytes(), &mut rng, &mut out).unwrap();
        assert_eq!(n, 32);
        let spub: [u8; 32] = out[..32].try_into().unwrap();
        let c_shared = client.diffie_hellman(&x25519_dalek::PublicKey::from(spub));
        assert_eq!(c_shared.as_bytes(), &shared);
        // Low-order point refused.
        assert!(key_exchange(NamedGroup::X25519, &[0u8; 32], &mut rng, &mut out).is_none());
        assert!(key_exchange(NamedGroup::X25519, &[1u8; 31], &mut rng, &mut out).is_none());
        // P-256.
        let client = p256::ecdh::EphemeralSecret::random(&mut rng);
        let cpub = p256::EncodedPoint::from(client.public_key());
        let (n, shared) =
            key_exchange(NamedGroup::Secp256r1, cpub.as_bytes(), &mut rng, &mut out).unwrap();
        assert_eq!(n, 65);
        let spub = p256::PublicKey::from_sec1_bytes(&out[..65]).unwrap();
        assert_eq!(
            client.diffie_hellman(&spub).raw_secret_bytes().as_slice(),
            &shared
        );
        let mut bad = [0u8; 65];
        bad[0] = 4;
        assert!(key_exchange(NamedGroup::Secp256r1, &bad, &mut rng, &mut out).is_none());
        assert!(key_exchange(NamedGroup::Unknown(30), &bad, &mut rng, &mut out).is_none());
    }
}
