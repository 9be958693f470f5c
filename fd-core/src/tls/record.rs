//! The TLS record layer: the 5-byte record header and the alert message (RFC 8446 §5, §6).
//!
//! A record is `type(1) legacy_version(2) length(2)` followed by `length` bytes. TLS 1.3 sends
//! every record with `legacy_version = 0x0303` (the very first ClientHello record may carry
//! 0x0301: the Bareos capture `vectors/psk-dir-fd` conn 1 msg 1 has `tls_version 0x0301`), and
//! protected records always have the outer type `application_data`. This module only
//! describes the bytes; the protection itself lives in `crypto.rs` and the state
//! machine in [`super::ServerConnection`].
//!
//! Limits: a TLSPlaintext fragment is at most 2^14 bytes; a TLS 1.3 TLSCiphertext at most
//! 2^14 + 256; a TLS 1.2 one at most 2^14 + 2048. A larger length is `record_overflow`.

use super::codec::{Reader, Writer};
use crate::wire::{Error, Result};

/// Size of the record header.
pub const HEADER_LEN: usize = 5;
/// Largest plaintext fragment (2^14).
pub const MAX_PLAINTEXT: usize = 16_384;
/// Largest TLS 1.3 ciphertext fragment (2^14 + 256).
pub const MAX_CIPHERTEXT_13: usize = MAX_PLAINTEXT + 256;
/// Largest TLS 1.2 ciphertext fragment (2^14 + 2048).
pub const MAX_CIPHERTEXT_12: usize = MAX_PLAINTEXT + 2048;
/// A receive buffer of this size holds any record a peer may send.
pub const MAX_RECORD_LEN: usize = HEADER_LEN + MAX_CIPHERTEXT_12;

macro_rules! enum_with_unknown {
    (
        $(#[$m:meta])* pub enum $name:ident($ty:ty) {
            $( $(#[$vm:meta])* $variant:ident = $value:expr ),+ $(,)?
        }
    ) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[cfg_attr(feature = "defmt", derive(defmt::Format))]
        pub enum $name {
            $( $(#[$vm])* $variant, )+
            /// A value this implementation does not know.
            Unknown($ty),
        }

        impl From<$ty> for $name {
            fn from(v: $ty) -> Self {
                match v {
                    $( $value => $name::$variant, )+
                    other => $name::Unknown(other),
                }
            }
        }

        impl From<$name> for $ty {
            fn from(v: $name) -> Self {
                match v {
                    $( $name::$variant => $value, )+
                    $name::Unknown(other) => other,
                }
            }
        }
    };
}
pub(crate) use enum_with_unknown;

enum_with_unknown! {
    /// `ContentType` (RFC 8446 §5.1).
    pub enum ContentType(u8) {
        /// 20
        ChangeCipherSpec = 20,
        /// 21
        Alert = 21,
        /// 22
        Handshake = 22,
        /// 23
        ApplicationData = 23,
    }
}

/// A record header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RecordHeader {
    /// Outer content type.
    pub content_type: ContentType,
    /// `legacy_record_version`.
    pub version: u16,
    /// Length of the fragment that follows.
    pub length: u16,
}

impl RecordHeader {
    /// Parse the first five bytes of `buf`. Extra bytes are ignored (they are the fragment).
    pub fn parse(buf: &[u8]) -> Result<Self> {
        let mut r = Reader::new(buf);
        let content_type = ContentType::from(r.u8()?);
        let version = r.u16()?;
        let length = r.u16()?;
        if let ContentType::Unknown(_) = content_type {
            return Err(Error::Unrecognized);
        }
        // Every TLS version this server speaks has major version 3.
        if version >> 8 != 3 {
            return Err(Error::Malformed);
        }
        if usize::from(length) > MAX_CIPHERTEXT_12 {
            return Err(Error::FrameTooLong);
        }
        Ok(RecordHeader {
            content_type,
            version,
            length,
        })
    }

    /// Write the header; returns [`HEADER_LEN`].
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let mut w = Writer::new(buf);
        w.u8(self.content_type.into());
        w.u16(self.version);
        w.u16(self.length);
        w.finish()
    }

    /// Always [`HEADER_LEN`].
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN
    }
}

enum_with_unknown! {
    /// `AlertLevel` (RFC 8446 §6).
    pub enum AlertLevel(u8) {
        /// 1
        Warning = 1,
        /// 2
        Fatal = 2,
    }
}

enum_with_unknown! {
    /// `AlertDescription` (RFC 8446 §6, RFC 4279 §2 for `unknown_psk_identity`).
    pub enum AlertDescription(u8) {
        /// 0
        CloseNotify = 0,
        /// 10
        UnexpectedMessage = 10,
        /// 20
        BadRecordMac = 20,
        /// 22
        RecordOverflow = 22,
        /// 40
        HandshakeFailure = 40,
        /// 47
        IllegalParameter = 47,
        /// 50
        DecodeError = 50,
        /// 51
        DecryptError = 51,
        /// 70
        ProtocolVersion = 70,
        /// 71
        InsufficientSecurity = 71,
        /// 80
        InternalError = 80,
        /// 86
        InappropriateFallback = 86,
        /// 90
        UserCanceled = 90,
        /// 109
        MissingExtension = 109,
        /// 110
        UnsupportedExtension = 110,
        /// 115
        UnknownPskIdentity = 115,
    }
}

/// An alert message: two bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Alert {
    /// Level (TLS 1.3 ignores it except for `close_notify` / `user_canceled`).
    pub level: AlertLevel,
    /// What happened.
    pub description: AlertDescription,
}

impl Alert {
    /// Parse exactly two bytes.
    pub fn parse(buf: &[u8]) -> Result<Self> {
        let mut r = Reader::new(buf);
        let level = AlertLevel::from(r.u8()?);
        let description = AlertDescription::from(r.u8()?);
        r.finish()?;
        Ok(Alert { level, description })
    }

    /// Write the two bytes.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let mut w = Writer::new(buf);
        w.u8(self.level.into());
        w.u8(self.description.into());
        w.finish()
    }

    /// Always 2.
    pub fn buffer_len(&self) -> usize {
        2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_from_capture() {
        // vectors/psk-dir-fd conn 1 msg 1: the ClientHello record, 0x0301, 580 bytes.
        let bytes = [0x16, 0x03, 0x01, 0x02, 0x44];
        let h = RecordHeader::parse(&bytes).unwrap();
        assert_eq!(h.content_type, ContentType::Handshake);
        assert_eq!(h.version, 0x0301);
        assert_eq!(h.length, 580);
        let mut out = [0u8; 5];
        assert_eq!(h.emit(&mut out).unwrap(), 5);
        assert_eq!(out, bytes);
        assert_eq!(h.buffer_len(), 5);
    }

    #[test]
    fn header_rejects() {
        assert_eq!(
            RecordHeader::parse(&[0x16, 0x03, 0x03, 0x00]),
            Err(Error::Truncated)
        );
        // Oversize: 2^14 + 2049.
        assert_eq!(
            RecordHeader::parse(&[0x17, 0x03, 0x03, 0x48, 0x01]),
            Err(Error::FrameTooLong)
        );
        // A Bareos cleartext frame (4-byte length) is not a record.
        assert_eq!(
            RecordHeader::parse(&[0x00, 0x00, 0x00, 0x22, 0x48]),
            Err(Error::Unrecognized)
        );
        // "GET /": unknown type.
        assert_eq!(RecordHeader::parse(b"GET /"), Err(Error::Unrecognized));
        // Wrong major version.
        assert_eq!(
            RecordHeader::parse(&[0x16, 0x02, 0x00, 0x00, 0x01]),
            Err(Error::Malformed)
        );
        let mut small = [0u8; 4];
        let h = RecordHeader {
            content_type: ContentType::Alert,
            version: 0x0303,
            length: 2,
        };
        assert_eq!(h.emit(&mut small), Err(Error::BufferTooSmall));
    }

    #[test]
    fn alert_round_trip() {
        let a = Alert::parse(&[2, 115]).unwrap();
        assert_eq!(a.level, AlertLevel::Fatal);
        assert_eq!(a.description, AlertDescription::UnknownPskIdentity);
        let mut out = [0u8; 2];
        a.emit(&mut out).unwrap();
        assert_eq!(out, [2, 115]);
        assert_eq!(Alert::parse(&[2]), Err(Error::Truncated));
        assert_eq!(Alert::parse(&[2, 0, 0]), Err(Error::Malformed));
        assert_eq!(
            Alert::parse(&[9, 200]).unwrap().description,
            AlertDescription::Unknown(200)
        );
    }

    proptest::proptest! {
        #[test]
        fn header_round_trip(t in 20u8..24, v in 0x0300u16..0x0305, len in 0u16..18_432) {
            let h = RecordHeader { content_type: ContentType::from(t), version: v, length: len };
            let mut out = [0u8; 5];
            h.emit(&mut out).unwrap();
            proptest::prop_assert_eq!(RecordHeader::parse(&out).unwrap(), h);
        }
    }
}
