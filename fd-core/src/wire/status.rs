//! Status answers: the frames a File or Storage daemon sends back for `status` and `.status`.
//!
//! Both daemons build their status output with the same `StatusPacket` class
//! (`core/src/lib/status_packet.cc`) and so frame it the same way (connect.md §8, jobs.md
//! §1.13):
//!
//! - `status` starts with one frame holding just `⏎`, sent with `fsend` (no NUL);
//! - every line of the report is then one frame that **ends in a NUL counted in the length**
//!   (`StatusPacket::send` sends `len + 1` bytes). A frame may hold several lines or none
//!   (the SD's `Attached Jobs: ␀`);
//! - the FD's `.status current|last` answers with plain `fsend` frames instead
//!   (`2000 OK .status⏎`, `JobId=%u JobStatus=%c JobErrors=%u⏎`, `core/src/filed/status.cc`);
//! - an EOD signal ends the answer.
//!
//! The FD side is captured in `vectors/clear-status-client-storage` conn 2 and
//! `vectors/clear-dot-status` conn 3, the SD side in `vectors/clear-status-client-storage`
//! conn 3. One type, [`StatusFrame`], describes both: the frame's last byte says which kind
//! it is. The text is a C string on the sender's side, so a NUL anywhere but at the end is
//! malformed.

use super::codes::JobStatus;
use super::text::{Scanner, Writer};
use super::{check_frame_len, Error, Result};

/// One frame of a `status`/`.status` answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum StatusFrame<'a> {
    /// Text followed by a counted NUL; the NUL is not part of the slice.
    Counted(&'a [u8]),
    /// Text without a trailing NUL (the leading `⏎` and `fsend` lines).
    Plain(&'a [u8]),
}

impl<'a> StatusFrame<'a> {
    /// The 1-byte `⏎` frame that opens a `status` (not `.status`) answer.
    pub const LEAD: StatusFrame<'static> = StatusFrame::Plain(b"\n");

    /// Classify one frame by its last byte.
    pub fn parse(input: &'a [u8]) -> Result<Self> {
        check_frame_len(input)?;
        let (f, text) = match input.split_last() {
            None => return Err(Error::Truncated),
            Some((0, text)) => (StatusFrame::Counted(text), text),
            Some(_) => (StatusFrame::Plain(input), input),
        };
        if text.contains(&0) {
            return Err(Error::Malformed);
        }
        Ok(f)
    }

    /// The text without the counted NUL.
    pub const fn text(&self) -> &'a [u8] {
        match self {
            StatusFrame::Counted(t) | StatusFrame::Plain(t) => t,
        }
    }

    /// True for the `⏎` frame that opens a `status` answer.
    pub fn is_lead(&self) -> bool {
        *self == Self::LEAD
    }

    /// For `.status current|last` lines: `JobId=%u JobStatus=%c JobErrors=%u⏎`.
    pub fn dot_status_job(&self) -> Option<(u32, JobStatus, u32)> {
        let mut s = Scanner::new(self.text());
        s.lit(b"JobId=").ok()?;
        let id = s.u32().ok()?;
        s.lit(b" JobStatus=").ok()?;
        let (&c, _) = s.rest().split_first()?;
        s.lit(&[c]).ok()?;
        s.lit(b" JobErrors=").ok()?;
        let errors = s.u32().ok()?;
        s.end(true).ok()?;
        Some((id, JobStatus::from_u8(c), errors))
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<()> {
        match *self {
            StatusFrame::Counted(t) => {
                if t.contains(&0) {
                    return Err(Error::Malformed);
                }
                w.bytes(t);
                w.byte(0);
            }
            StatusFrame::Plain(t) => {
                if t.contains(&0) || t.is_empty() {
                    return Err(Error::Malformed);
                }
                w.bytes(t);
            }
        }
        Ok(())
    }
}

codec_impl!(StatusFrame<'_>);

#[cfg(test)]
mod tests {
    extern crate std;
    use std::vec;

    use super::*;

    fn rt(frame: &[u8]) -> StatusFrame<'_> {
        let s = StatusFrame::parse(frame).unwrap();
        let mut buf = vec![0u8; s.buffer_len()];
        assert_eq!(s.emit(&mut buf), Ok(frame.len()));
        assert_eq!(&buf[..], frame);
        s
    }

    #[test]
    fn test_fd_frames() {
        // vectors/clear-status-client-storage, conn 2 msgs 10, 11, 19 (fd>dir).
        assert_eq!(rt(b"\n"), StatusFrame::Plain(b"\n"));
        assert!(StatusFrame::parse(b"\n").unwrap().is_lead());
        let f = b"bareos-fd Version: 26.0.0~pre1298.eda204c31 (21 August 2026) Debian GNU/Linux 12 (bookworm)\n\x00";
        let s = rt(f);
        assert_eq!(s.text().len(), f.len() - 1);
        assert!(s.text().ends_with(b"(bookworm)\n"));
        // vectors/clear-dot-status, conn 3 msg 10.
        assert_eq!(
            rt(b"DirectorConnected=2026-11-22 16:47:27\n\x00"),
            StatusFrame::Counted(b"DirectorConnected=2026-11-22 16:47:27\n")
        );
        // `.status current` line (core/src/filed/status.cc DotStatusJob).
        let s = rt(b"JobId=4 JobStatus=R JobErrors=0\n");
        assert_eq!(s.dot_status_job(), Some((4, JobStatus::Running, 0)));
        assert_eq!(rt(b"\x00"), StatusFrame::Counted(b""));
    }

    #[test]
    fn test_sd_frames() {
        // vectors/clear-status-client-storage conn 3 msgs 10, 33, 36 (sd>dir).
        assert_eq!(rt(b"\n"), StatusFrame::LEAD);
        rt(b"Attached Jobs: \x00");
        rt(b"  Archive name: /srv/bareos-capture/storage\nDevice name: FileStorage\nDevice Type: file\n\x00");
        assert!(!rt(b"\n\x00").is_lead());
    }

    #[test]
    fn test_impossible() {
        assert_eq!(StatusFrame::parse(b""), Err(Error::Truncated));
        assert_eq!(StatusFrame::parse(b"a\0b\0"), Err(Error::Malformed));
        assert_eq!(StatusFrame::parse(b"a\0b\n"), Err(Error::Malformed));
        let huge = vec![b'a'; super::super::bnet::MAX_PACKET_SIZE + 1];
        assert_eq!(StatusFrame::parse(&huge), Err(Error::FrameTooLong));
        let mut b = [0u8; 1];
        assert_eq!(
            StatusFrame::Counted(b"x").emit(&mut b),
            Err(Error::BufferTooSmall)
        );
        assert_eq!(
            StatusFrame::Plain(b"").emit(&mut [0u8; 4]),
            Err(Error::Malformed)
        );
        assert_eq!(
            StatusFrame::Counted(b"a\0").emit(&mut [0u8; 4]),
            Err(Error::Malformed)
        );
    }

    proptest::proptest! {
        #[test]
        fn prop_roundtrip(text in proptest::collection::vec(1u8..=255, 0..200), counted: bool) {
            let f = if counted || text.is_empty() {
                StatusFrame::Counted(&text)
            } else {
                StatusFrame::Plain(&text)
            };
            let mut buf = vec![0u8; f.buffer_len()];
            let n = f.emit(&mut buf).unwrap();
            proptest::prop_assert_eq!(n, buf.len());
            proptest::prop_assert_eq!(StatusFrame::parse(&buf).unwrap(), f);
        }
    }
}
