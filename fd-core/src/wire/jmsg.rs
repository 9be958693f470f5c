//! Job messages: `Jmsg Job=«Job» type=«M_type» level=«mtime» «text»`.
//!
//! Every message a File or Storage daemon wants to appear in the Director's job log travels
//! on the Director socket in this one shape (`core/src/lib/message.cc`, format
//! `"Jmsg Job=%s type=%d level=%lld %s"`; `../shared/protocol/jobs.md` §0.3). Despite its
//! name the `level` field is the message's unix time. The text is what `Jmsg()` formatted:
//! `«daemon-name» JobId «n»: ` plus an optional severity prefix (`Fatal error: `, `Error: `,
//! `Warning: `) plus the message, normally ending in `\n`:
//!
//! ```text
//! Jmsg Job=CapBackup.2026-11-22_15.46.52_03 type=6 level=1795362414 bareos-fd JobId 1: ACL support is enabled\n
//! ```
//!
//! (vectors/clear-backup-full, conn 3 msg 30.)
//!
//! # Demultiplexing on the Director side
//!
//! The Director reads job messages on the same socket as numbered replies: `BgetDirmsg()`
//! (`core/src/dird/getmsg.cc`) returns digit-led messages to the waiting code and dispatches
//! the others by their first byte (`J` job message, `C` catalog request, `U` attributes, `B`
//! blast, `S` status). [`Jmsg::parse`] checks the whole prefix the way the Director's
//! `bsscanf(msg, "Jmsg Job=%127s type=%d level=%lld", …)` does, then takes the text after
//! exactly one space, so that [`Jmsg::emit`] reproduces the frame byte for byte (the
//! Director itself skips one space, `core/src/dird/getmsg.cc`).
//!
//! A session whose JobId is 0 (an `estimate` or `status` session) gets no `Jmsg` wrapper:
//! its messages are sent as bare text, which this codec does not claim.

use super::codes::MessageType;
use super::text::{Scanner, Writer};
use super::{check_frame_len, Error, Result};

/// The longest job name Bareos scans (`%127s`).
pub const MAX_JOB_NAME_LEN: usize = 127;

/// One job message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Jmsg<'a> {
    /// The unique job name (`CapBackup.2026-11-22_15.46.52_03`).
    pub job: &'a [u8],
    /// The message type (`type=`), e.g. [`MessageType::Info`].
    pub msg_type: MessageType,
    /// The `level=` field, which is really the message time in unix seconds.
    pub time: i64,
    /// Everything after the single space that follows the time, newline included.
    pub text: &'a [u8],
}

/// The `«daemon» JobId «n»: ` prefix `Jmsg()` puts at the start of the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct JmsgOrigin<'a> {
    /// The sending daemon's resource name (`bareos-fd`).
    pub daemon: &'a [u8],
    /// The JobId the sender believes it is running.
    pub job_id: u32,
    /// The text after `: `.
    pub body: &'a [u8],
}

impl<'a> Jmsg<'a> {
    /// Parse a frame that starts with `Jmsg Job=`.
    pub fn parse(input: &'a [u8]) -> Result<Self> {
        check_frame_len(input)?;
        let mut s = Scanner::new(input);
        s.lit(b"Jmsg Job=")?;
        let job = s.nonempty_word()?;
        if job.len() > MAX_JOB_NAME_LEN {
            return Err(Error::FieldTooLong);
        }
        s.lit(b" type=")?;
        let t = s.i64()?;
        let msg_type = u8::try_from(t)
            .map(MessageType::from_u8)
            .map_err(|_| Error::BadNumber)?;
        s.lit(b" level=")?;
        let time = s.i64()?;
        let text = match s.rest().split_first() {
            Some((b' ', text)) => text,
            Some(_) => return Err(Error::Malformed),
            None => return Err(Error::Truncated),
        };
        let m = Jmsg {
            job,
            msg_type,
            time,
            text,
        };
        if m.buffer_len() != input.len() {
            // Leading zeros or a `+` sign: bsscanf takes them, Bareos never sends them, and
            // the frame could not be re-emitted byte for byte.
            return Err(Error::Malformed);
        }
        Ok(m)
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>) -> Result<()> {
        if self.job.is_empty() || self.job.iter().any(|&b| super::text::is_space(b)) {
            return Err(Error::Malformed);
        }
        w.bytes(b"Jmsg Job=");
        w.bytes(self.job);
        w.bytes(b" type=");
        w.u64(u64::from(self.msg_type.to_u8()));
        w.bytes(b" level=");
        w.i64(self.time);
        w.byte(b' ');
        w.bytes(self.text);
        Ok(())
    }

    /// Split the `«daemon» JobId «n»: ` prefix off the text, if it has one.
    pub fn origin(&self) -> Option<JmsgOrigin<'a>> {
        let mut s = Scanner::new(self.text);
        let daemon = s.nonempty_word().ok()?;
        s.lit(b" JobId ").ok()?;
        let job_id = s.u32().ok()?;
        s.lit(b":").ok()?;
        let rest = s.rest();
        let body = rest.strip_prefix(b" ").unwrap_or(rest);
        Some(JmsgOrigin {
            daemon,
            job_id,
            body,
        })
    }
}

codec_impl!(Jmsg<'_>);

#[cfg(test)]
mod tests {
    extern crate std;
    use std::vec;

    use super::*;

    // vectors/clear-backup-full, conn 3 msg 30 (fd>dir).
    static JMSG_ACL: &[u8] = b"Jmsg Job=CapBackup.2026-11-22_15.46.52_03 type=6 level=1795362414 bareos-fd JobId 1: ACL support is enabled\n";
    // vectors/clear-cancel, conn 3 msg 36 (fd>dir), an M_ERROR.
    static JMSG_ERR: &[u8] = b"Jmsg Job=CapSlowBackup.2026-11-22_16.46.10_11 type=4 level=1795365976 bareos-fd JobId 4: Error: lib/bsock_tcp.cc:532 Socket is terminated=1 on call to Storage daemon:127.0.0.1:39203\n";
    // vectors/clear-backup-full, conn 3 msg 25: two spaces after the colon.
    static JMSG_ENC: &[u8] = b"Jmsg Job=CapBackup.2026-11-22_15.46.52_03 type=6 level=1795362414 bareos-fd JobId 1:  Encryption: None\n";

    fn roundtrip(frame: &[u8]) -> Jmsg<'_> {
        let m = Jmsg::parse(frame).unwrap();
        let mut buf = vec![0u8; m.buffer_len()];
        assert_eq!(m.emit(&mut buf), Ok(frame.len()));
        assert_eq!(&buf[..], frame);
        m
    }

    #[test]
    fn test_parse() {
        let m = roundtrip(JMSG_ACL);
        assert_eq!(m.job, b"CapBackup.2026-11-22_15.46.52_03");
        assert_eq!(m.msg_type, MessageType::Info);
        assert_eq!(m.time, 1795362414);
        let o = m.origin().unwrap();
        assert_eq!(o.daemon, b"bareos-fd");
        assert_eq!(o.job_id, 1);
        assert_eq!(o.body, b"ACL support is enabled\n");

        let m = roundtrip(JMSG_ERR);
        assert_eq!(m.msg_type, MessageType::Error);
        assert_eq!(m.origin().unwrap().job_id, 4);

        let m = roundtrip(JMSG_ENC);
        assert_eq!(m.origin().unwrap().body, b" Encryption: None\n");
    }

    #[test]
    fn test_truncated() {
        for n in 0..JMSG_ACL.len() {
            // Every proper prefix that stops before the text must fail; prefixes inside the
            // text are valid (shorter) messages.
            let r = Jmsg::parse(&JMSG_ACL[..n]);
            if n <= 65 {
                assert!(r.is_err(), "prefix {n} parsed");
            }
        }
        assert_eq!(
            Jmsg::parse(b"Jmsg Job=x type=6 level=1"),
            Err(Error::Truncated)
        );
    }

    #[test]
    fn test_impossible() {
        assert_eq!(
            Jmsg::parse(b"Jmsg Job=x type=300 level=1 t\n"),
            Err(Error::BadNumber)
        );
        assert_eq!(
            Jmsg::parse(b"Jmsg Job=x type=-1 level=1 t\n"),
            Err(Error::BadNumber)
        );
        assert_eq!(
            Jmsg::parse(b"Jmsg Job=x type=6 level=1x t\n"),
            Err(Error::Malformed)
        );
        assert_eq!(Jmsg::parse(b"Jmsg Job= type=6"), Err(Error::Malformed));
        // Not canonical: Bareos prints `%d`/`%lld` without leading zeros or signs.
        assert_eq!(
            Jmsg::parse(b"Jmsg Job=x type=06 level=1 t\n"),
            Err(Error::Malformed)
        );
        assert_eq!(
            Jmsg::parse(b"Jmsg Job=x type=6 level=+1 t\n"),
            Err(Error::Malformed)
        );
        let long = [b'a'; 128];
        let mut f = vec![];
        f.extend_from_slice(b"Jmsg Job=");
        f.extend_from_slice(&long);
        f.extend_from_slice(b" type=6 level=1 x");
        assert_eq!(Jmsg::parse(&f), Err(Error::FieldTooLong));
        let mut small = [0u8; 10];
        let m = Jmsg::parse(JMSG_ACL).unwrap();
        assert_eq!(m.emit(&mut small), Err(Error::BufferTooSmall));
    }

    proptest::proptest! {
        #[test]
        fn prop_roundtrip(
            job in "[A-Za-z0-9._-]{1,127}",
            t in 0u8..=255,
            time: i64,
            text in proptest::collection::vec(proptest::num::u8::ANY, 0..200),
        ) {
            let m = Jmsg {
                job: job.as_bytes(),
                msg_type: MessageType::from_u8(t),
                time,
                text: &text,
            };
            let mut buf = vec![0u8; m.buffer_len()];
            let n = m.emit(&mut buf).unwrap();
            proptest::prop_assert_eq!(n, buf.len());
            proptest::prop_assert_eq!(Jmsg::parse(&buf).unwrap(), m);
        }
    }
}
