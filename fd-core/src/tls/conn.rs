//! The connection object: buffers, record I/O and dispatch. The TLS 1.3 handshake is in
//! `server13.rs`, TLS 1.2 in `server12.rs`.

use core::ops::Range;

use rand_core::{CryptoRng, RngCore};
use sha2::{Digest, Sha256};
use zeroize::Zeroize;

use super::crypto::Protection;
use super::handshake::{self, CipherSuite, HandshakeType, NamedGroup};
use super::key_schedule::Secret;
use super::record::{
    Alert, AlertDescription, AlertLevel, ContentType, RecordHeader, HEADER_LEN, MAX_CIPHERTEXT_12,
    MAX_CIPHERTEXT_13, MAX_PLAINTEXT,
};
use super::{Error, PskStore, ServerConfig, MAX_IDENTITY_LEN, MAX_PSK_LEN};
use crate::wire;

/// The three caller-owned buffers a connection works in.
///
/// - `rx`: received TLS bytes. It must hold one whole record: 16,645 bytes
///   ([`super::MAX_RECORD_LEN`] = 18,437 for TLS 1.2 peers that pad) unless every peer
///   negotiates `max_fragment_length` (a 4,096-byte fragment needs 4,096 + 22 + 5 bytes in
///   TLS 1.3). Decrypted application data is handed out of this buffer in place.
/// - `tx`: TLS bytes waiting for [`ServerConnection::write_tls`]. At least 512 bytes for the
///   handshake; records of application data are cut to fit, so any size ≥ 512 works, larger
///   is faster.
/// - `handshake`: reassembly of handshake messages. 1,024 bytes hold a Bareos ClientHello (580
///   bytes); 2,048 are safer (OpenSSL 3.5's post-quantum hybrid key share makes hellos of
///   about 1,800 bytes, whose shares we ignore).
pub struct Buffers<'b> {
    /// Received TLS bytes.
    pub rx: &'b mut [u8],
    /// TLS bytes to send.
    pub tx: &'b mut [u8],
    /// Handshake message reassembly.
    pub handshake: &'b mut [u8],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    ExpectClientHello,
    ExpectClientHello2,
    ExpectFinished13,
    Established13,
    ExpectClientKeyExchange12,
    ExpectCcs12,
    ExpectFinished12,
    Established12,
    Failed,
}

/// Outgoing TLS bytes and the write-side record protection.
pub(crate) struct Tx<'b> {
    buf: &'b mut [u8],
    start: usize,
    end: usize,
    pub(crate) prot: Option<Protection>,
    /// Largest plaintext per record (2^14, or the negotiated max_fragment_length).
    pub(crate) max_frag: usize,
}

impl Tx<'_> {
    /// Make room for `need` bytes at `end`; returns the offset.
    fn reserve(&mut self, need: usize) -> Result<usize, Error> {
        if self.buf.len() - self.end < need && self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.buf.len() - self.end < need {
            return Err(Error::BufferTooSmall);
        }
        Ok(self.end)
    }

    fn overhead(&self) -> usize {
        self.prot.as_ref().map_or(HEADER_LEN, |p| p.overhead())
    }

    /// Free space for plaintext in one more record (0 if none fits).
    fn room(&self) -> usize {
        let free = self.buf.len() - self.end + self.start;
        free.saturating_sub(self.overhead()).min(self.max_frag)
    }

    /// Write one record (`data.len() <= max_frag`), protected if keys are installed.
    fn record(&mut self, ct: ContentType, data: &[u8]) -> Result<(), Error> {
        let need = data.len() + self.overhead();
        let at = self.reserve(need)?;
        let slot = self
            .buf
            .get_mut(at..at + need)
            .ok_or(Error::BufferTooSmall)?;
        match self.prot.as_mut() {
            None => {
                let hdr = RecordHeader {
                    content_type: ct,
                    version: 0x0303,
                    length: data.len() as u16,
                };
                hdr.emit(slot).map_err(|_| Error::BufferTooSmall)?;
                slot[HEADER_LEN..].copy_from_slice(data);
            }
            Some(p) => {
                let off = p.payload_offset();
                slot[off..off + data.len()].copy_from_slice(data);
                p.seal(ct, data.len(), slot)
                    .ok_or(Error::AlertSent(AlertDescription::InternalError))?;
            }
        }
        self.end += need;
        Ok(())
    }

    /// Write `data` as one or more records.
    pub(crate) fn send(&mut self, ct: ContentType, data: &[u8]) -> Result<(), Error> {
        for chunk in data.chunks(self.max_frag.max(1)) {
            self.record(ct, chunk)?;
        }
        Ok(())
    }

    pub(crate) fn send_ccs(&mut self) -> Result<(), Error> {
        self.send(ContentType::ChangeCipherSpec, &[1])
    }
}

/// Everything but the buffers: negotiated parameters, secrets, transcript.
pub(crate) struct Core {
    pub(crate) state: State,
    pub(crate) error: Option<Error>,
    pub(crate) read: Option<Protection>,
    pub(crate) pending_read: Option<Protection>,
    pub(crate) pending_write: Option<Protection>,
    pub(crate) transcript: Sha256,
    pub(crate) suite: Option<CipherSuite>,
    pub(crate) group: Option<NamedGroup>,
    pub(crate) version: Option<u16>,
    pub(crate) identity: heapless::Vec<u8, MAX_IDENTITY_LEN>,
    pub(crate) session_id: heapless::Vec<u8, 32>,
    pub(crate) ccs_sent: bool,
    /// TLS 1.3: current client/server application traffic secrets (for KeyUpdate) and the
    /// expected client Finished; TLS 1.2: client and server randoms.
    pub(crate) client_secret: Secret,
    pub(crate) server_secret: Secret,
    pub(crate) expected_finished: Secret,
    pub(crate) client_random: [u8; 32],
    pub(crate) server_random: [u8; 32],
    pub(crate) master12: [u8; 48],
    pub(crate) ems: bool,
    pub(crate) peer_closed: bool,
    pub(crate) close_sent: bool,
    pub(crate) key_updates: u32,
}

impl Drop for Core {
    fn drop(&mut self) {
        self.client_secret.zeroize();
        self.server_secret.zeroize();
        self.expected_finished.zeroize();
        self.master12.zeroize();
    }
}

impl Core {
    pub(crate) fn hash(&self) -> Secret {
        self.transcript.clone().finalize().into()
    }

    pub(crate) fn add(&mut self, msg: &[u8]) {
        self.transcript.update(msg);
    }
}

/// The caller's policy objects, borrowed together by the handshake code.
pub(crate) struct Ctx<'a, P, R> {
    pub(crate) config: &'a ServerConfig,
    pub(crate) psk_store: &'a mut P,
    pub(crate) rng: &'a mut R,
}

/// Look up `identity`: on success copy it into `core.identity` and the key into `key`.
pub(crate) fn lookup_psk<P: PskStore>(
    store: &mut P,
    identity: &[u8],
    key: &mut [u8; MAX_PSK_LEN],
) -> Option<usize> {
    if identity.len() > MAX_IDENTITY_LEN {
        return None;
    }
    let n = store.lookup(identity, key)?;
    (n > 0 && n <= MAX_PSK_LEN).then_some(n)
}

/// Emit a handshake message into a stack buffer, add it to the transcript and send it.
pub(crate) fn send_handshake(
    core: &mut Core,
    tx: &mut Tx<'_>,
    emit: impl FnOnce(&mut [u8]) -> wire::Result<usize>,
) -> Result<(), Error> {
    let mut buf = [0u8; 256];
    let n = emit(&mut buf).map_err(|_| Error::AlertSent(AlertDescription::InternalError))?;
    let msg = buf
        .get(..n)
        .ok_or(Error::AlertSent(AlertDescription::InternalError))?;
    core.add(msg);
    tx.send(ContentType::Handshake, msg)
}

/// Shorthand for a fatal alert result.
pub(crate) fn alert<T>(d: AlertDescription) -> Result<T, Error> {
    Err(Error::AlertSent(d))
}

/// A sans-IO TLS-PSK server connection.
///
/// # Calling order
///
/// ```text
/// let mut conn = ServerConnection::new(config, psk_store, rng, buffers);
/// loop {
///     // 1. Feed what the socket delivered (repeat with the rest if not all was consumed).
///     let used = conn.read_tls(&socket_bytes);
///     // 2. Process it: handshake messages are answered, application data decrypted.
///     //    An error is fatal and sticky; flush the queued alert (step 4) and close.
///     conn.process_new_packets()?;
///     // 3. Once !conn.is_handshaking(): take plaintext out, put plaintext in.
///     let n = conn.recv_plaintext(&mut app_buf)?;   // 0: nothing (or peer_closed())
///     let sent = conn.send_plaintext(&reply)?;        // may accept less than all
///     // 4. Flush everything queued to the socket.
///     while conn.wants_write() { let n = conn.write_tls(&mut out); socket.write(&out[..n]); }
/// }
/// // To close: conn.send_close_notify(); then flush as in step 4.
/// ```
///
/// [`Self::handle_input`] is steps 1 and 2 together and [`Self::poll_transmit`] is one
/// iteration of step 4, for callers that prefer quinn-proto's naming.
///
/// Decrypted data is kept in the receive buffer; while some is pending, further records are
/// not processed, so call [`Self::recv_plaintext`] until it returns 0 before expecting more.
/// `recv_plaintext` processes the next records itself once the pending data is drained.
pub struct ServerConnection<'b, P: PskStore, R: RngCore + CryptoRng> {
    config: ServerConfig,
    psk_store: P,
    rng: R,
    rx: &'b mut [u8],
    rx_start: usize,
    rx_end: usize,
    plain: Range<usize>,
    hs: &'b mut [u8],
    hs_len: usize,
    tx: Tx<'b>,
    core: Core,
}

impl<'b, P: PskStore, R: RngCore + CryptoRng> ServerConnection<'b, P, R> {
    /// A connection waiting for a ClientHello.
    pub fn new(config: ServerConfig, psk_store: P, rng: R, buffers: Buffers<'b>) -> Self {
        ServerConnection {
            config,
            psk_store,
            rng,
            rx: buffers.rx,
            rx_start: 0,
            rx_end: 0,
            plain: 0..0,
            hs: buffers.handshake,
            hs_len: 0,
            tx: Tx {
                buf: buffers.tx,
                start: 0,
                end: 0,
                prot: None,
                max_frag: MAX_PLAINTEXT,
            },
            core: Core {
                state: State::ExpectClientHello,
                error: None,
                read: None,
                pending_read: None,
                pending_write: None,
                transcript: Sha256::new(),
                suite: None,
                group: None,
                version: None,
                identity: heapless::Vec::new(),
                session_id: heapless::Vec::new(),
                ccs_sent: false,
                client_secret: [0; 32],
                server_secret: [0; 32],
                expected_finished: [0; 32],
                client_random: [0; 32],
                server_random: [0; 32],
                master12: [0; 48],
                ems: false,
                peer_closed: false,
                close_sent: false,
                key_updates: 0,
            },
        }
    }

    /// Copy received TLS bytes into the receive buffer; returns how many were taken (fewer
    /// than `data.len()` when the buffer is full: process and drain plaintext, then retry).
    pub fn read_tls(&mut self, data: &[u8]) -> usize {
        let keep = if self.plain.is_empty() {
            self.rx_start
        } else {
            self.plain.start
        };
        if keep > 0 && self.rx.len() - self.rx_end < data.len() {
            self.rx.copy_within(keep..self.rx_end, 0);
            self.rx_end -= keep;
            self.rx_start -= keep;
            if !self.plain.is_empty() {
                self.plain = self.plain.start - keep..self.plain.end - keep;
            }
        }
        let n = data.len().min(self.rx.len() - self.rx_end);
        self.rx[self.rx_end..self.rx_end + n].copy_from_slice(&data[..n]);
        self.rx_end += n;
        n
    }

    /// [`Self::read_tls`] then [`Self::process_new_packets`]; returns the bytes consumed.
    pub fn handle_input(&mut self, data: &[u8]) -> Result<usize, Error> {
        let n = self.read_tls(data);
        self.process_new_packets()?;
        Ok(n)
    }

    /// Process every complete record in the receive buffer (stopping early while decrypted
    /// application data waits for [`Self::recv_plaintext`]).
    pub fn process_new_packets(&mut self) -> Result<(), Error> {
        if let Some(e) = self.core.error {
            return Err(e);
        }
        match self.process() {
            Ok(()) => Ok(()),
            Err(e) => {
                if let Error::AlertSent(d) = e {
                    warn!(
                        "tls: aborting handshake/connection with alert {}",
                        u8::from(d)
                    );
                    let a = Alert {
                        level: AlertLevel::Fatal,
                        description: d,
                    };
                    let mut b = [0u8; 2];
                    if a.emit(&mut b).is_ok() {
                        let _ = self.tx.record(ContentType::Alert, &b);
                    }
                }
                self.core.state = State::Failed;
                self.core.error = Some(e);
                self.plain = 0..0;
                Err(e)
            }
        }
    }

    fn process(&mut self) -> Result<(), Error> {
        loop {
            if !self.plain.is_empty() || self.core.peer_closed {
                return Ok(());
            }
            let avail = &self.rx[self.rx_start..self.rx_end];
            if avail.len() < HEADER_LEN {
                break;
            }
            let hdr = RecordHeader::parse(avail).map_err(|e| {
                Error::AlertSent(match e {
                    wire::Error::Unrecognized => AlertDescription::UnexpectedMessage,
                    wire::Error::FrameTooLong => AlertDescription::RecordOverflow,
                    _ => AlertDescription::DecodeError,
                })
            })?;
            let len = usize::from(hdr.length);
            let limit = match (&self.core.read, self.core.version) {
                (None, _) => MAX_PLAINTEXT,
                (Some(_), Some(handshake::TLS13)) => MAX_CIPHERTEXT_13,
                (Some(_), _) => MAX_CIPHERTEXT_12,
            };
            if len > limit {
                return alert(AlertDescription::RecordOverflow);
            }
            let total = HEADER_LEN + len;
            if avail.len() < total {
                if total > self.rx.len() {
                    return alert(AlertDescription::RecordOverflow);
                }
                break;
            }
            let rec = self.rx_start;
            self.rx_start += total;
            self.record(hdr, rec)?;
        }
        if self.rx_start == self.rx_end && self.plain.is_empty() {
            self.rx_start = 0;
            self.rx_end = 0;
        }
        Ok(())
    }

    /// Handle the record at `rx[rec..rec + 5 + hdr.length]`.
    fn record(&mut self, hdr: RecordHeader, rec: usize) -> Result<(), Error> {
        let tls13 = self.core.version == Some(handshake::TLS13);
        let frag = rec + HEADER_LEN..rec + HEADER_LEN + usize::from(hdr.length);
        if hdr.content_type == ContentType::ChangeCipherSpec {
            if self.rx.get(frag.clone()) != Some(&[1u8][..]) {
                return alert(AlertDescription::UnexpectedMessage);
            }
            return match self.core.state {
                // RFC 8446 §5: a TLS 1.3 peer may send one in the middle of the handshake.
                State::ExpectClientHello2 | State::ExpectFinished13 if tls13 => Ok(()),
                State::ExpectCcs12 if self.hs_len == 0 => {
                    self.core.read = self.core.pending_read.take();
                    self.core.state = State::ExpectFinished12;
                    Ok(())
                }
                _ => alert(AlertDescription::UnexpectedMessage),
            };
        }
        let (ct, range) = match self.core.read.as_mut() {
            None => {
                if hdr.length == 0 && hdr.content_type != ContentType::ApplicationData {
                    return alert(AlertDescription::UnexpectedMessage);
                }
                (hdr.content_type, frag)
            }
            Some(p) => {
                if tls13 && hdr.content_type != ContentType::ApplicationData {
                    return alert(AlertDescription::UnexpectedMessage);
                }
                let (head, rest) = self.rx.split_at_mut(rec + HEADER_LEN);
                let header = &head[rec..];
                let fragment = &mut rest[..usize::from(hdr.length)];
                let (ct, r) = p.open(header, fragment).map_err(|e| {
                    Error::AlertSent(match e {
                        super::crypto::OpenError::BadMac => AlertDescription::BadRecordMac,
                        super::crypto::OpenError::NoContentType => {
                            AlertDescription::UnexpectedMessage
                        }
                    })
                })?;
                if r.len() > MAX_PLAINTEXT {
                    return alert(AlertDescription::RecordOverflow);
                }
                (ct, frag.start + r.start..frag.start + r.end)
            }
        };
        match ct {
            ContentType::Alert => self.alert(range),
            ContentType::Handshake => {
                if range.is_empty() {
                    return alert(AlertDescription::UnexpectedMessage);
                }
                let data = &self.rx[range];
                let dst = self
                    .hs
                    .get_mut(self.hs_len..self.hs_len + data.len())
                    .ok_or(Error::AlertSent(AlertDescription::InternalError))?;
                dst.copy_from_slice(data);
                self.hs_len += data.len();
                self.handshake_messages()
            }
            ContentType::ApplicationData => match self.core.state {
                State::Established13 | State::Established12 => {
                    if self.hs_len != 0 {
                        return alert(AlertDescription::UnexpectedMessage);
                    }
                    self.plain = range;
                    Ok(())
                }
                _ => alert(AlertDescription::UnexpectedMessage),
            },
            _ => alert(AlertDescription::UnexpectedMessage),
        }
    }

    fn alert(&mut self, range: Range<usize>) -> Result<(), Error> {
        let a = Alert::parse(&self.rx[range])
            .map_err(|_| Error::AlertSent(AlertDescription::DecodeError))?;
        match a.description {
            AlertDescription::CloseNotify => {
                debug!("tls: peer sent close_notify");
                self.core.peer_closed = true;
                Ok(())
            }
            AlertDescription::UserCanceled => Ok(()),
            // TLS 1.2 warnings (e.g. no_renegotiation) are not fatal.
            d if a.level == AlertLevel::Warning && self.core.version != Some(handshake::TLS13) => {
                debug!("tls: peer warning alert {}", u8::from(d));
                Ok(())
            }
            d => {
                warn!("tls: peer sent fatal alert {}", u8::from(d));
                Err(Error::AlertReceived(d))
            }
        }
    }

    /// Process every complete handshake message in the reassembly buffer.
    fn handshake_messages(&mut self) -> Result<(), Error> {
        while let Some(n) = handshake::message_len(&self.hs[..self.hs_len]) {
            let msg = &self.hs[..n];
            let mut ctx = Ctx {
                config: &self.config,
                psk_store: &mut self.psk_store,
                rng: &mut self.rng,
            };
            let (t, _) = handshake::parse_header(msg)
                .map_err(|_| Error::AlertSent(AlertDescription::DecodeError))?;
            match (self.core.state, t) {
                (State::ExpectClientHello, HandshakeType::ClientHello) => {
                    super::server13::client_hello(
                        &mut self.core,
                        &mut self.tx,
                        &mut ctx,
                        msg,
                        false,
                    )?
                }
                (State::ExpectClientHello2, HandshakeType::ClientHello) => {
                    super::server13::client_hello(
                        &mut self.core,
                        &mut self.tx,
                        &mut ctx,
                        msg,
                        true,
                    )?
                }
                (State::ExpectFinished13, HandshakeType::Finished) => {
                    super::server13::client_finished(&mut self.core, msg)?
                }
                (State::Established13, HandshakeType::KeyUpdate) => {
                    super::server13::key_update(&mut self.core, &mut self.tx, msg)?
                }
                (State::ExpectClientKeyExchange12, HandshakeType::ClientKeyExchange) => {
                    super::server12::client_key_exchange(&mut self.core, &mut ctx, msg)?
                }
                (State::ExpectFinished12, HandshakeType::Finished) => {
                    super::server12::client_finished(&mut self.core, &mut self.tx, msg)?
                }
                _ => return alert(AlertDescription::UnexpectedMessage),
            }
            self.hs.copy_within(n..self.hs_len, 0);
            self.hs_len -= n;
            // Every client message this server accepts ends a flight or changes keys, and a
            // key change must fall on a record boundary (RFC 8446 §5.1), so nothing may
            // follow it in the same record.
            if self.hs_len != 0 {
                return alert(AlertDescription::UnexpectedMessage);
            }
        }
        if self.hs_len == self.hs.len() {
            // A message larger than the reassembly buffer.
            return alert(AlertDescription::InternalError);
        }
        Ok(())
    }

    /// Copy decrypted application data into `out`; returns the number of bytes (0 when none
    /// is pending: then check [`Self::peer_closed`]). Once the pending record is drained, the
    /// next buffered records are processed.
    pub fn recv_plaintext(&mut self, out: &mut [u8]) -> Result<usize, Error> {
        if let Some(e) = self.core.error {
            return Err(e);
        }
        if self.plain.is_empty() {
            self.process_new_packets()?;
        }
        let n = out.len().min(self.plain.len());
        out[..n].copy_from_slice(&self.rx[self.plain.start..self.plain.start + n]);
        self.plain.start += n;
        if self.plain.is_empty() {
            self.plain = 0..0;
            // Go on with the buffered records. An error here is sticky and reported by the
            // next call, so the bytes just copied are not lost.
            let _ = self.process_new_packets();
        }
        Ok(n)
    }

    /// Encrypt application data into the send buffer; returns how much was accepted (less
    /// than `data.len()` when the send buffer is full: flush with [`Self::write_tls`]).
    pub fn send_plaintext(&mut self, data: &[u8]) -> Result<usize, Error> {
        if let Some(e) = self.core.error {
            return Err(e);
        }
        if self.core.close_sent {
            return Err(Error::Closed);
        }
        if self.is_handshaking() {
            return Err(Error::HandshakeNotComplete);
        }
        let mut done = 0;
        while done < data.len() {
            let room = self.tx.room();
            if room == 0 {
                break;
            }
            let n = room.min(data.len() - done);
            self.tx
                .record(ContentType::ApplicationData, &data[done..done + n])?;
            done += n;
        }
        Ok(done)
    }

    /// Queue a close_notify alert; no data can be sent afterwards.
    pub fn send_close_notify(&mut self) {
        if self.core.close_sent || self.core.error.is_some() {
            return;
        }
        self.core.close_sent = true;
        let _ = self.tx.record(ContentType::Alert, &[1, 0]);
    }

    /// Move queued TLS bytes into `out`; returns the number written.
    pub fn write_tls(&mut self, out: &mut [u8]) -> usize {
        let n = out.len().min(self.tx.end - self.tx.start);
        out[..n].copy_from_slice(&self.tx.buf[self.tx.start..self.tx.start + n]);
        self.tx.start += n;
        if self.tx.start == self.tx.end {
            self.tx.start = 0;
            self.tx.end = 0;
        }
        n
    }

    /// [`Self::write_tls`] returning `None` when nothing is queued.
    pub fn poll_transmit(&mut self, out: &mut [u8]) -> Option<usize> {
        if self.wants_write() {
            Some(self.write_tls(out))
        } else {
            None
        }
    }

    /// Whether TLS bytes are queued.
    pub fn wants_write(&self) -> bool {
        self.tx.end > self.tx.start
    }

    /// Whether the handshake is still in progress (false once established, closed or failed).
    pub fn is_handshaking(&self) -> bool {
        !matches!(
            self.core.state,
            State::Established13 | State::Established12 | State::Failed
        )
    }

    /// Whether the peer sent close_notify.
    pub fn peer_closed(&self) -> bool {
        self.core.peer_closed
    }

    /// The PSK identity the client authenticated with (available once the handshake is done;
    /// `None` before).
    pub fn psk_identity(&self) -> Option<&[u8]> {
        (!self.is_handshaking() && self.core.error.is_none()).then_some(&self.core.identity[..])
    }

    /// The negotiated suite.
    pub fn cipher_suite(&self) -> Option<CipherSuite> {
        self.core.suite
    }

    /// The negotiated version: 0x0304 (TLS 1.3) or 0x0303 (TLS 1.2).
    pub fn protocol_version(&self) -> Option<u16> {
        self.core.version
    }

    /// The key exchange group (TLS 1.3).
    pub fn key_exchange_group(&self) -> Option<NamedGroup> {
        self.core.group
    }

    /// How many KeyUpdate messages the peer sent (TLS 1.3).
    pub fn key_updates_received(&self) -> u32 {
        self.core.key_updates
    }

    /// The sticky error, if the connection failed.
    pub fn error(&self) -> Option<Error> {
        self.core.error
    }

    /// Largest plaintext per record we send (lowered by `max_fragment_length`).
    pub fn max_fragment_len(&self) -> usize {
        self.tx.max_frag
    }

    /// Ask for a key update (TLS 1.3 only): sends KeyUpdate and switches the write keys.
    /// With `request_peer`, the peer is asked to update its keys too.
    pub fn send_key_update(&mut self, request_peer: bool) -> Result<(), Error> {
        if let Some(e) = self.core.error {
            return Err(e);
        }
        if self.core.state != State::Established13 {
            return Err(Error::HandshakeNotComplete);
        }
        super::server13::send_key_update(&mut self.core, &mut self.tx, request_peer)
    }
}
