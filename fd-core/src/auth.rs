//! Sans-IO two-way CRAM-MD5 authentication, as `TwoWayAuthenticate` runs it.
//!
//! > **Heads up.** This is a small state machine with a lot of protocol folklore in it: who
//! > challenges first, which base64 variant is accepted when, and exactly which
//! > `1999 Authorization failed.` frames go out, with which 5-second pauses, when something
//! > goes wrong. Every branch cites `core/src/lib/cram_md5.cc` or `core/src/lib/bsock.cc`;
//! > change nothing without checking both and `../shared/protocol/connect.md` §2.3.
//!
//! # What it does
//!
//! After the hello (`crate::wire::hello`), both sides of every Bareos connection run
//! `TwoWayAuthenticate` (`core/src/lib/bsock.cc`), which runs `CramMd5Handshake::DoHandshake`
//! (`core/src/lib/cram_md5.cc`):
//!
//! ```text
//!   inbound (accepted the TCP connection)        outbound (connected)
//!   ───────────────────────────────────          ─────────────────────
//!   auth cram-md5 <R.T@own> ssl=N\n  ─────────▶
//!                                    ◀───────── <22 base64>\0
//!   1000 OK auth\n                   ─────────▶
//!                                    ◀───────── auth cram-md5 <R.T@own> ssl=N\n
//!   <22 base64>\0                    ─────────▶
//!                                    ◀───────── 1000 OK auth\n
//! ```
//!
//! (confirmed in every cleartext capture, e.g. vectors/clear-backup-full conn 3 msgs 2–7, and
//! for a client-initiated FD, where the Director is the inbound side,
//! vectors/clear-client-initiated conn 1 msgs 2–7). [`Authenticator`] plays either role. It produces
//! exactly the captured frames when given the captured challenge numbers; the tests replay
//! every cleartext connection of the captures from both ends.
//!
//! # Inputs the caller provides
//!
//! - the role ([`Role`]), the key (the ASCII key string: [`crate::wire::psk::PasswordKey`] or
//!   the raw [`crate::wire::psk::SessionKey`]), the own qualified name (`R_CLIENT::bareos-fd`;
//!   bashed on the wire by this module), and the local `ssl=` policy;
//! - the challenge randomness: a `u32` (Bareos uses `random()`, 0..2^31) and the current unix
//!   time in seconds. fd-core has no entropy or clock of its own;
//! - `now` on every call, for the timers.
//!
//! # Calling convention (quinn-proto vocabulary)
//!
//! 1. [`Authenticator::new`]; the inbound side immediately has its challenge queued.
//! 2. Loop: drain [`Authenticator::poll_transmit`] into the socket (each call writes one
//!    complete bsock frame, header included, so it can go out in one write); feed every
//!    received frame to [`Authenticator::handle_frame`]; when [`Authenticator::poll_timeout`]
//!    passes, call [`Authenticator::handle_timeout`]; check [`Authenticator::poll_event`].
//! 3. [`Authenticator::poll_event`] yields exactly one [`Event`], and only once every queued
//!    frame has been taken, so the final `1000 OK auth` is on its way before the caller moves
//!    on (to the TLS handshake if [`Event::Authenticated`] says so, then to the daemon's
//!    `2000 OK Hello 54` or equivalent).
//!
//! Frames that arrive after the outcome is decided are ignored; Bareos is not reading then.
//!
//! # Failure behaviour (what goes on the wire)
//!
//! Bareos pauses `sleep_time_after_authentication_error` (5 s, [`Config::failure_delay`])
//! inside the CRAM-MD5 step, and `TwoWayAuthenticate` then sends `1999 Authorization
//! failed.\n` once more and pauses again. The exact sequences, per [`AuthError`]:
//!
//! | cause | frames and pauses |
//! |---|---|
//! | [`AuthError::WrongResponse`] (we challenged, their answer is wrong) | 1999, pause, 1999, pause |
//! | [`AuthError::BadChallenge`] (their challenge line does not parse) | 1999, pause, 1999, pause |
//! | [`AuthError::Rejected`] (our answer was not acknowledged with `1000 OK auth`) | pause, 1999, pause |
//! | [`AuthError::NetworkError`] (a signal or empty frame instead of a message), [`AuthError::TimedOut`] (180 s without a reply) | pause, 1999, pause |
//! | [`AuthError::BadToken`], [`AuthError::ReplayAttack`] | 1999, pause |
//! | [`AuthError::Terminated`] (the peer sent `BNET_TERMINATE`) | nothing: the socket is dead |
//! | [`AuthError::SessionTimeout`] (the 600 s `AUTH_TIMEOUT` timer) | nothing |
//! | [`AuthError::TlsDenied`] (both legs passed, `ssl=` says Deny) | nothing |
//!
//! vectors/clear-auth-fail shows the first and third rows from the two ends of one connection:
//! the FD (challenger) sends `1999` at once and again after 5 s, the Director sends its single
//! `1999` 5 s after being rejected and resets the connection 5 s later. (The FD's extra
//! `Authorization key rejected by …` line in between is a job message of the daemon, not part
//! of this exchange.) The daemon-level refusal that may follow (`2999 Authentication failed.`,
//! `3999 No go`, `1999 You are not authorized.`) is the caller's, see
//! [`crate::wire::hello::HelloReply`].
//!
//! Bareos treats any signal during the handshake as a receive error, including a heartbeat;
//! so does this module (connect.md §5.4 recommends tolerating heartbeats elsewhere, but
//! Bareos' own handshake does not, and no peer sends one there).
//!
//! # TLS after CRAM-MD5
//!
//! On success `TwoWayAuthenticate` calls `DoTlsHandshake`, which combines the local policy with
//! the `ssl=` of the peer's challenge ([`TlsPolicy::select`]): Deny fails the authentication,
//! None continues in cleartext, anything else starts a TLS handshake (inbound side = server).
//! If TLS is already up (TLS-PSK first, [`Config::tls_active`]) the step is skipped entirely.
//! [`Event::Authenticated`] reports the remote and selected policies; the handshake itself
//! belongs to the caller's TLS session.

use heapless::Deque;

use crate::time::{Duration, Instant};
use crate::wire::base64::Variant;
use crate::wire::bnet::{self, Frame, Signal};
use crate::wire::cram_md5::{
    self, AuthReply, ChallengeRepr, Keyword, Response, Token, MAX_NAME_LEN, MAX_TOKEN_LEN,
};
use crate::wire::text::Writer;
use crate::wire::tls_policy::TlsPolicy;
use crate::wire::{Error, Result};

/// Which end of the TCP connection this side is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Role {
    /// Accepted the connection and received the hello: challenges first.
    Inbound,
    /// Opened the connection and sent the hello: responds first.
    Outbound,
}

/// `sleep_time_after_authentication_error`.
pub const FAILURE_DELAY: Duration = Duration::from_secs(5);
/// `WaitData(180)` for a response or an acknowledgement.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(180);
/// `AUTH_TIMEOUT`, the bsock timer around the whole authentication.
pub const AUTH_TIMEOUT: Duration = Duration::from_secs(600);

/// Longest frame this module sends: a challenge with the longest token, plus the header.
pub const MAX_TRANSMIT_LEN: usize = bnet::HEADER_LEN + 15 + MAX_TOKEN_LEN + 16;

/// Everything [`Authenticator::new`] needs. Its `Debug` output leaves the key out.
#[derive(Clone, Copy)]
pub struct Config<'a> {
    /// Inbound (challenge first) or outbound.
    pub role: Role,
    /// The ASCII key string (32 hex digits, or a 39-character session key).
    pub key: &'a [u8],
    /// This side's qualified name, unbashed (`R_CLIENT::bareos-fd`, or `File daemon` for a
    /// passive SD), at most [`MAX_NAME_LEN`] bytes; keep it under 63 for C++ peers.
    pub own_name: &'a [u8],
    /// This side's `ssl=` (`TlsResource::GetPolicy()`).
    pub local_policy: TlsPolicy,
    /// The challenge's random number.
    pub challenge_random: u32,
    /// The challenge's timestamp (unix seconds).
    pub challenge_time: u32,
    /// Whether TLS is already established (TLS-PSK first): then `ssl=` is not acted upon.
    pub tls_active: bool,
    /// The pause after a failure; [`FAILURE_DELAY`] in Bareos.
    pub failure_delay: Duration,
    /// How long to wait for a response or acknowledgement; [`REPLY_TIMEOUT`].
    pub reply_timeout: Duration,
    /// Limit for the whole exchange; [`AUTH_TIMEOUT`].
    pub auth_timeout: Duration,
}

impl<'a> Config<'a> {
    /// A configuration with Bareos' timers.
    pub const fn new(
        role: Role,
        key: &'a [u8],
        own_name: &'a [u8],
        local_policy: TlsPolicy,
        challenge_random: u32,
        challenge_time: u32,
    ) -> Self {
        Self {
            role,
            key,
            own_name,
            local_policy,
            challenge_random,
            challenge_time,
            tls_active: false,
            failure_delay: FAILURE_DELAY,
            reply_timeout: REPLY_TIMEOUT,
            auth_timeout: AUTH_TIMEOUT,
        }
    }
}

impl core::fmt::Debug for Config<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Config")
            .field("role", &self.role)
            .field("key", &"..")
            .field("own_name", &self.own_name)
            .field("local_policy", &self.local_policy)
            .field("challenge_random", &self.challenge_random)
            .field("challenge_time", &self.challenge_time)
            .field("tls_active", &self.tls_active)
            .field("failure_delay", &self.failure_delay)
            .field("reply_timeout", &self.reply_timeout)
            .field("auth_timeout", &self.auth_timeout)
            .finish()
    }
}

/// Why authentication failed.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum AuthError {
    /// The peer's response to our challenge is wrong (`WRONG_HASH`, challenger side): wrong
    /// password, most likely.
    WrongResponse,
    /// The peer did not acknowledge our response with `1000 OK auth` (`WRONG_HASH`,
    /// responder side): the peer thinks our password is wrong.
    Rejected,
    /// The peer's challenge line does not parse (`FORMAT_MISMATCH`).
    BadChallenge,
    /// The challenge token is not `<%u.%u@%s` (`FORMAT_MISMATCH`).
    BadToken,
    /// The peer sent our own challenge name back (`REPLAY_ATTACK`).
    ReplayAttack,
    /// A signal or an empty frame where a message was expected (`NETWORK_ERROR`).
    NetworkError,
    /// No reply within [`Config::reply_timeout`] (`NETWORK_ERROR`).
    TimedOut,
    /// The peer sent `BNET_TERMINATE`.
    Terminated,
    /// The whole exchange exceeded [`Config::auth_timeout`].
    SessionTimeout,
    /// Both legs passed but the `ssl=` combination is Deny (one side requires TLS, the other
    /// has it disabled).
    TlsDenied,
}

impl core::fmt::Display for AuthError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            AuthError::WrongResponse => "peer's CRAM-MD5 response is wrong",
            AuthError::Rejected => "peer rejected our CRAM-MD5 response",
            AuthError::BadChallenge => "malformed CRAM-MD5 challenge",
            AuthError::BadToken => "malformed CRAM-MD5 challenge token",
            AuthError::ReplayAttack => "peer replayed our own challenge",
            AuthError::NetworkError => "unexpected signal or empty frame during authentication",
            AuthError::TimedOut => "no reply during authentication",
            AuthError::Terminated => "peer terminated the connection",
            AuthError::SessionTimeout => "authentication took too long",
            AuthError::TlsDenied => "TLS required by one side but disabled on the other",
        })
    }
}

impl core::error::Error for AuthError {}

/// The outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Event {
    /// Both legs passed.
    Authenticated {
        /// The `ssl=` of the peer's challenge ([`TlsPolicy::Unknown`] if it had none).
        remote_policy: TlsPolicy,
        /// [`TlsPolicy::select`] of local and remote: [`TlsPolicy::wants_tls`] means "start
        /// the TLS handshake now" unless TLS is already active.
        selected: TlsPolicy,
    },
    /// Authentication failed; the failure frames have been queued and sent.
    Failed(AuthError),
}

/// A frame waiting to be sent.
#[derive(Debug, Clone, Copy)]
enum Out {
    Challenge,
    Response(Response),
    Reply(AuthReply),
}

/// One step of a failure script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Send1999,
    Pause,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Waiting for the response to our challenge.
    AwaitResponse { deadline: Instant },
    /// Waiting for the peer's challenge.
    AwaitChallenge,
    /// Waiting for the acknowledgement of our response.
    AwaitAck { deadline: Instant },
    /// Running a failure script.
    Failing {
        reason: AuthError,
        steps: [Option<Step>; 4],
        next: usize,
        pause_until: Option<Instant>,
    },
    /// Decided; the event may be pending.
    Done,
}

/// The two-way CRAM-MD5 state machine; see the module docs for the calling convention.
#[derive(Debug)]
pub struct Authenticator<'a> {
    config: Config<'a>,
    state: State,
    /// `compatible_` of `CramMd5Handshake`: starts true, set by the challenge we answer.
    compatible: bool,
    remote_policy: TlsPolicy,
    /// Our own challenge token.
    token: [u8; MAX_TOKEN_LEN],
    token_len: usize,
    out: Deque<Out, 4>,
    event: Option<Event>,
    session_deadline: Instant,
}

impl<'a> Authenticator<'a> {
    /// Start authenticating at `now`. Fails with [`Error::FieldTooLong`] or
    /// [`Error::Malformed`] for an own name that is too long or empty.
    pub fn new(config: Config<'a>, now: Instant) -> Result<Self> {
        if config.own_name.len() > MAX_NAME_LEN {
            return Err(Error::FieldTooLong);
        }
        let mut token = [0u8; MAX_TOKEN_LEN];
        let token_len = cram_md5::write_token(
            config.challenge_random,
            config.challenge_time,
            config.own_name,
            &mut token,
        )?;
        let mut me = Self {
            config,
            state: State::AwaitChallenge,
            compatible: true,
            remote_policy: TlsPolicy::Unknown,
            token,
            token_len,
            out: Deque::new(),
            event: None,
            session_deadline: now + config.auth_timeout,
        };
        if config.role == Role::Inbound {
            me.send_challenge(now);
        }
        Ok(me)
    }

    /// The role.
    pub fn role(&self) -> Role {
        self.config.role
    }

    /// The `ssl=` of the peer's challenge so far ([`TlsPolicy::Unknown`] before it arrives).
    pub fn remote_policy(&self) -> TlsPolicy {
        self.remote_policy
    }

    /// True once the outcome is decided and every frame has been taken.
    pub fn is_finished(&self) -> bool {
        self.state == State::Done && self.out.is_empty() && self.event.is_none()
    }

    fn own_token(&self) -> &[u8] {
        self.token.get(..self.token_len).unwrap_or(&[])
    }

    fn queue(&mut self, o: Out) {
        // At most three frames are ever pending (two failure notices, or an OK and a
        // challenge); the deque holds four.
        let _ = self.out.push_back(o);
    }

    fn send_challenge(&mut self, now: Instant) {
        self.queue(Out::Challenge);
        self.state = State::AwaitResponse {
            deadline: now + self.config.reply_timeout,
        };
    }

    fn succeed(&mut self) {
        let selected = TlsPolicy::select(self.config.local_policy, self.remote_policy);
        self.state = State::Done;
        if selected == TlsPolicy::Deny && !self.config.tls_active {
            warn!("authentication: ssl= policies deny the connection");
            self.event = Some(Event::Failed(AuthError::TlsDenied));
        } else {
            debug!("authentication succeeded");
            self.event = Some(Event::Authenticated {
                remote_policy: self.remote_policy,
                selected,
            });
        }
    }

    /// Start the failure script for `reason` (see the table in the module docs).
    fn fail(&mut self, now: Instant, reason: AuthError) {
        use Step::{Pause, Send1999};
        warn!("authentication failed: {}", reason);
        let steps = match reason {
            AuthError::WrongResponse | AuthError::BadChallenge => {
                [Some(Send1999), Some(Pause), Some(Send1999), Some(Pause)]
            }
            AuthError::Rejected | AuthError::NetworkError | AuthError::TimedOut => {
                [Some(Pause), Some(Send1999), Some(Pause), None]
            }
            AuthError::BadToken | AuthError::ReplayAttack => {
                [Some(Send1999), Some(Pause), None, None]
            }
            AuthError::Terminated | AuthError::SessionTimeout | AuthError::TlsDenied => [None; 4],
        };
        self.state = State::Failing {
            reason,
            steps,
            next: 0,
            pause_until: None,
        };
        self.run_script(now);
    }

    fn run_script(&mut self, now: Instant) {
        while let State::Failing {
            reason,
            steps,
            next,
            pause_until,
        } = self.state
        {
            match steps.get(next).copied().flatten() {
                None => {
                    self.state = State::Done;
                    self.event = Some(Event::Failed(reason));
                }
                Some(Step::Send1999) => {
                    self.queue(Out::Reply(AuthReply::Failed));
                    self.state = State::Failing {
                        reason,
                        steps,
                        next: next + 1,
                        pause_until,
                    };
                }
                Some(Step::Pause) => match pause_until {
                    None => {
                        self.state = State::Failing {
                            reason,
                            steps,
                            next,
                            pause_until: Some(now + self.config.failure_delay),
                        };
                    }
                    Some(t) if now >= t => {
                        self.state = State::Failing {
                            reason,
                            steps,
                            next: next + 1,
                            pause_until: None,
                        };
                    }
                    Some(_) => return,
                },
            }
        }
    }

    /// Feed one received frame.
    pub fn handle_frame(&mut self, now: Instant, frame: Frame<'_>) {
        if matches!(self.state, State::Done | State::Failing { .. }) {
            return;
        }
        let payload = match frame {
            Frame::Signal(Signal::Terminate) => return self.fail(now, AuthError::Terminated),
            Frame::Signal(_) | Frame::Data(&[]) => return self.fail(now, AuthError::NetworkError),
            // A handshake message never exceeds a decoder buffer of a few hundred bytes.
            Frame::Chunk(_) => return self.fail(now, AuthError::NetworkError),
            Frame::Data(d) => d,
        };
        match self.state {
            State::AwaitResponse { .. } => {
                let first = if self.compatible {
                    Variant::Standard
                } else {
                    Variant::Bacula
                };
                if cram_md5::verify(payload, self.config.key, self.own_token(), first) {
                    self.queue(Out::Reply(AuthReply::Ok));
                    match self.config.role {
                        Role::Inbound => self.state = State::AwaitChallenge,
                        Role::Outbound => self.succeed(),
                    }
                } else {
                    self.fail(now, AuthError::WrongResponse);
                }
            }
            State::AwaitChallenge => {
                self.compatible = false;
                let Ok(ch) = ChallengeRepr::parse(payload) else {
                    return self.fail(now, AuthError::BadChallenge);
                };
                self.compatible = ch.keyword == Keyword::CramMd5c;
                if let Some(p) = ch.ssl {
                    self.remote_policy = p;
                }
                let Ok(token) = Token::parse(ch.token) else {
                    return self.fail(now, AuthError::BadToken);
                };
                let mut own = [0u8; MAX_NAME_LEN];
                let mut w = Writer::new(&mut own);
                crate::wire::hello::write_bashed(&mut w, self.config.own_name);
                let own_len = w.finish().unwrap_or(0);
                if token.is_replay_of(own.get(..own_len).unwrap_or(&[])) {
                    return self.fail(now, AuthError::ReplayAttack);
                }
                let resp = Response::compute(self.config.key, ch.token, ch.keyword.variant());
                self.queue(Out::Response(resp));
                self.state = State::AwaitAck {
                    deadline: now + self.config.reply_timeout,
                };
            }
            State::AwaitAck { .. } => match AuthReply::parse(payload) {
                Ok(AuthReply::Ok) => match self.config.role {
                    Role::Inbound => self.succeed(),
                    Role::Outbound => self.send_challenge(now),
                },
                _ => self.fail(now, AuthError::Rejected),
            },
            State::Failing { .. } | State::Done => {}
        }
    }

    /// Advance timers: reply and session timeouts, and the pauses of a failure script.
    pub fn handle_timeout(&mut self, now: Instant) {
        if matches!(self.state, State::Done) {
            return;
        }
        if let State::Failing { .. } = self.state {
            return self.run_script(now);
        }
        if now >= self.session_deadline {
            return self.fail(now, AuthError::SessionTimeout);
        }
        match self.state {
            State::AwaitResponse { deadline } | State::AwaitAck { deadline } if now >= deadline => {
                self.fail(now, AuthError::TimedOut)
            }
            _ => {}
        }
    }

    /// When [`Authenticator::handle_timeout`] must be called next, if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::Done => None,
            State::Failing { pause_until, .. } => pause_until,
            State::AwaitResponse { deadline } | State::AwaitAck { deadline } => {
                Some(deadline.min(self.session_deadline))
            }
            State::AwaitChallenge => Some(self.session_deadline),
        }
    }

    /// Write the next frame to send (header and payload) into `buf`; `Ok(None)` if nothing
    /// is queued. [`Error::BufferTooSmall`] leaves the frame queued; [`MAX_TRANSMIT_LEN`]
    /// always suffices.
    pub fn poll_transmit(&mut self, buf: &mut [u8]) -> Result<Option<usize>> {
        let Some(&o) = self.out.front() else {
            return Ok(None);
        };
        let mut payload = [0u8; MAX_TRANSMIT_LEN];
        let n = match o {
            Out::Challenge => ChallengeRepr {
                keyword: Keyword::CramMd5,
                token: self.own_token(),
                ssl: Some(self.config.local_policy),
                qualified_name: None,
            }
            .emit(&mut payload)?,
            Out::Response(r) => r.emit(&mut payload)?,
            Out::Reply(r) => r.emit(&mut payload)?,
        };
        let len = bnet::emit_frame(payload.get(..n).unwrap_or(&[]), buf)?;
        self.out.pop_front();
        Ok(Some(len))
    }

    /// The outcome, once, after every queued frame has been taken.
    pub fn poll_event(&mut self) -> Option<Event> {
        if self.out.is_empty() {
            self.event.take()
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use std::vec::Vec;

    use super::*;
    use crate::wire::bnet::{Decoder, Oversize};
    use crate::wire::cram_md5::tests::{load, Msg, CLEARTEXT_CAPTURES};
    use crate::wire::psk::{PasswordKey, SessionKey};

    fn drain(a: &mut Authenticator<'_>) -> Vec<Vec<u8>> {
        let mut v = Vec::new();
        let mut buf = [0u8; MAX_TRANSMIT_LEN];
        while let Some(n) = a.poll_transmit(&mut buf).unwrap() {
            v.push(buf[..n].to_vec());
        }
        v
    }

    /// Deliver wire bytes (possibly several frames) to an authenticator.
    fn deliver(a: &mut Authenticator<'_>, now: Instant, wire: &[u8]) {
        let mut dec = Decoder::new([0u8; 512], Oversize::Reject);
        let mut input = wire;
        loop {
            let (n, f) = dec.decode(input).unwrap();
            input = &input[n..];
            match f {
                Some(f) => a.handle_frame(now, f),
                None => break,
            }
        }
        assert!(dec.is_idle());
    }

    fn frame(payload: &[u8]) -> Vec<u8> {
        let mut b = std::vec![0u8; payload.len() + 4];
        bnet::emit_frame(payload, &mut b).unwrap();
        b
    }

    /// Run two authenticators (created at `Instant::ZERO`) against each other until both are
    /// decided. The virtual clock only advances when no frame is in flight.
    fn run_pair(a: &mut Authenticator<'_>, b: &mut Authenticator<'_>) -> (Event, Event) {
        let mut now = Instant::ZERO;
        let (mut ea, mut eb) = (None, None);
        for _ in 0..100 {
            let mut moved = false;
            for f in drain(a) {
                deliver(b, now, &f);
                moved = true;
            }
            for f in drain(b) {
                deliver(a, now, &f);
                moved = true;
            }
            ea = ea.or_else(|| a.poll_event());
            eb = eb.or_else(|| b.poll_event());
            if let (Some(x), Some(y)) = (ea, eb) {
                return (x, y);
            }
            if moved {
                continue;
            }
            let next = [a.poll_timeout(), b.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            if let Some(t) = next {
                now = now.max(t);
                a.handle_timeout(now);
                b.handle_timeout(now);
            }
        }
        panic!("livelock");
    }

    fn fd_key() -> PasswordKey {
        PasswordKey::from_cleartext(b"ref-fd-password")
    }

    #[test]
    fn test_two_roles_succeed() {
        let k = fd_key();
        let now = Instant::ZERO;
        let mut fd = Authenticator::new(
            Config::new(
                Role::Inbound,
                k.as_bytes(),
                b"R_CLIENT::bareos-fd",
                TlsPolicy::None,
                7,
                1,
            ),
            now,
        )
        .unwrap();
        let mut dir = Authenticator::new(
            Config::new(
                Role::Outbound,
                k.as_bytes(),
                b"R_DIRECTOR::bareos-dir",
                TlsPolicy::None,
                8,
                2,
            ),
            now,
        )
        .unwrap();
        let (a, b) = run_pair(&mut fd, &mut dir);
        let ok = Event::Authenticated {
            remote_policy: TlsPolicy::None,
            selected: TlsPolicy::None,
        };
        assert_eq!((a, b), (ok, ok));
        assert!(fd.is_finished() && dir.is_finished());
    }

    #[test]
    fn test_tls_policies() {
        let k = fd_key();
        let now = Instant::ZERO;
        let mk = |role, name: &'static [u8], p| {
            Authenticator::new(Config::new(role, k.as_bytes(), name, p, 1, 2), now).unwrap()
        };
        let mut a = mk(Role::Inbound, b"R_CLIENT::f", TlsPolicy::Required);
        let mut b = mk(Role::Outbound, b"R_DIRECTOR::d", TlsPolicy::None);
        assert_eq!(
            run_pair(&mut a, &mut b),
            (
                Event::Failed(AuthError::TlsDenied),
                Event::Failed(AuthError::TlsDenied)
            )
        );
        let mut a = mk(Role::Inbound, b"R_CLIENT::f", TlsPolicy::Required);
        let mut b = mk(Role::Outbound, b"R_DIRECTOR::d", TlsPolicy::Enabled);
        let (x, y) = run_pair(&mut a, &mut b);
        assert_eq!(
            x,
            Event::Authenticated {
                remote_policy: TlsPolicy::Enabled,
                selected: TlsPolicy::Enabled
            }
        );
        assert_eq!(
            y,
            Event::Authenticated {
                remote_policy: TlsPolicy::Required,
                selected: TlsPolicy::Enabled
            }
        );
        // Inside TLS-PSK the policies do not matter.
        let mut cfg = Config::new(
            Role::Inbound,
            k.as_bytes(),
            b"R_CLIENT::f",
            TlsPolicy::Required,
            1,
            2,
        );
        cfg.tls_active = true;
        let mut a = Authenticator::new(cfg, now).unwrap();
        let mut cfg = Config::new(
            Role::Outbound,
            k.as_bytes(),
            b"R_DIRECTOR::d",
            TlsPolicy::None,
            1,
            2,
        );
        cfg.tls_active = true;
        let mut b = Authenticator::new(cfg, now).unwrap();
        let (x, y) = run_pair(&mut a, &mut b);
        assert!(matches!(x, Event::Authenticated { .. }));
        assert!(matches!(y, Event::Authenticated { .. }));
    }

    #[test]
    fn test_wrong_password_sequences_and_timing() {
        // vectors/clear-auth-fail conn 2: the FD (inbound) rejects the Director's response at
        // t0 with 1999, and again after 5 s; the Director (outbound) sends one 1999 5 s after
        // being rejected and gives up 5 s later.
        let good = fd_key();
        let bad = PasswordKey::from_cleartext(b"wrong-fd-password");
        let t0 = Instant::from_secs(100);
        let mut fd = Authenticator::new(
            Config::new(
                Role::Inbound,
                good.as_bytes(),
                b"R_CLIENT::bareos-fd",
                TlsPolicy::None,
                51852616,
                1795365938,
            ),
            t0,
        )
        .unwrap();
        let mut dir = Authenticator::new(
            Config::new(
                Role::Outbound,
                bad.as_bytes(),
                b"R_DIRECTOR::bareos-dir",
                TlsPolicy::None,
                1,
                1,
            ),
            t0,
        )
        .unwrap();
        let chal = drain(&mut fd);
        assert_eq!(
            chal,
            std::vec![frame(
                b"auth cram-md5 <51852616.1795365938@R_CLIENT::bareos-fd> ssl=0\n"
            )]
        );
        deliver(&mut dir, t0, &chal[0]);
        let resp = drain(&mut dir);
        // vectors/clear-auth-fail conn 2 msg 3.
        assert_eq!(resp, std::vec![frame(b"hTlyhkkeuTcGjm/cx50GYA\x00")]);
        deliver(&mut fd, t0, &resp[0]);
        let failed = frame(b"1999 Authorization failed.\n");
        assert_eq!(drain(&mut fd), std::vec![failed.clone()]);
        assert_eq!(fd.poll_timeout(), Some(t0 + FAILURE_DELAY));
        deliver(&mut dir, t0, &failed);
        assert_eq!(drain(&mut dir), Vec::<Vec<u8>>::new());
        assert_eq!(dir.poll_timeout(), Some(t0 + FAILURE_DELAY));
        assert_eq!(dir.poll_event(), None);

        let t5 = t0 + FAILURE_DELAY;
        fd.handle_timeout(t5);
        dir.handle_timeout(t5);
        assert_eq!(drain(&mut fd), std::vec![failed.clone()]);
        assert_eq!(drain(&mut dir), std::vec![failed.clone()]);
        assert_eq!(fd.poll_event(), None);
        let t10 = t5 + FAILURE_DELAY;
        assert_eq!(fd.poll_timeout(), Some(t10));
        assert_eq!(dir.poll_timeout(), Some(t10));
        fd.handle_timeout(t10);
        dir.handle_timeout(t10);
        assert_eq!(
            fd.poll_event(),
            Some(Event::Failed(AuthError::WrongResponse))
        );
        assert_eq!(dir.poll_event(), Some(Event::Failed(AuthError::Rejected)));
        assert_eq!(fd.poll_event(), None);
        assert!(fd.is_finished() && dir.is_finished());
        assert_eq!(fd.poll_timeout(), None);
    }

    #[test]
    fn test_standard_variant_acceptance() {
        let k = fd_key();
        let now = Instant::ZERO;
        // Inbound challenger accepts a standard-variant answer (compatible_ starts true).
        let mut fd = Authenticator::new(
            Config::new(
                Role::Inbound,
                k.as_bytes(),
                b"R_CLIENT::x",
                TlsPolicy::None,
                1,
                2,
            ),
            now,
        )
        .unwrap();
        let r = Response::compute(k.as_bytes(), b"<1.2@R_CLIENT::x>", Variant::Standard);
        let mut p = [0u8; 23];
        r.emit(&mut p).unwrap();
        drain(&mut fd);
        deliver(&mut fd, now, &frame(&p));
        assert_eq!(drain(&mut fd), std::vec![frame(b"1000 OK auth\n")]);

        // Outbound challenger after a plain cram-md5 accepts only Bacula.
        let mut dir = Authenticator::new(
            Config::new(
                Role::Outbound,
                k.as_bytes(),
                b"R_DIRECTOR::d",
                TlsPolicy::None,
                3,
                4,
            ),
            now,
        )
        .unwrap();
        deliver(
            &mut dir,
            now,
            &frame(b"auth cram-md5 <9.9@R_CLIENT::x> ssl=0\n"),
        );
        drain(&mut dir);
        deliver(&mut dir, now, &frame(b"1000 OK auth\n"));
        drain(&mut dir);
        let r = Response::compute(k.as_bytes(), b"<3.4@R_DIRECTOR::d>", Variant::Standard);
        r.emit(&mut p).unwrap();
        deliver(&mut dir, now, &frame(&p));
        assert_eq!(
            drain(&mut dir),
            std::vec![frame(b"1999 Authorization failed.\n")]
        );

        // ... but after a cram-md5c challenge it tries Standard first, answers in Standard.
        let mut dir = Authenticator::new(
            Config::new(
                Role::Outbound,
                k.as_bytes(),
                b"R_DIRECTOR::d",
                TlsPolicy::None,
                3,
                4,
            ),
            now,
        )
        .unwrap();
        deliver(
            &mut dir,
            now,
            &frame(b"auth cram-md5c <9.9@R_CLIENT::x> ssl=0\n"),
        );
        let sent = drain(&mut dir);
        let expect = Response::compute(k.as_bytes(), b"<9.9@R_CLIENT::x>", Variant::Standard);
        assert_eq!(&sent[0][4..26], expect.as_bytes());
        deliver(&mut dir, now, &frame(b"1000 OK auth\n"));
        drain(&mut dir);
        deliver(&mut dir, now, &frame(&p));
        assert_eq!(drain(&mut dir), std::vec![frame(b"1000 OK auth\n")]);
        assert!(matches!(
            dir.poll_event(),
            Some(Event::Authenticated { .. })
        ));
    }

    #[test]
    fn test_failure_paths() {
        let k = fd_key();
        let now = Instant::ZERO;
        let failed = frame(b"1999 Authorization failed.\n");
        let mut cfg = Config::new(
            Role::Outbound,
            k.as_bytes(),
            b"R_DIRECTOR::d",
            TlsPolicy::None,
            3,
            4,
        );
        cfg.failure_delay = Duration::ZERO;
        let run = |input: &[u8]| {
            let mut a = Authenticator::new(cfg, now).unwrap();
            deliver(&mut a, now, input);
            a.handle_timeout(now);
            (drain(&mut a), a.poll_event())
        };
        // Garbage challenge: 1999, pause, 1999, pause.
        assert_eq!(
            run(&frame(b"auth plain x\n")),
            (
                std::vec![failed.clone(), failed.clone()],
                Some(Event::Failed(AuthError::BadChallenge))
            )
        );
        // Bad token: 1999 once (from TwoWayAuthenticate).
        assert_eq!(
            run(&frame(b"auth cram-md5 <x.y@z> ssl=0\n")),
            (
                std::vec![failed.clone()],
                Some(Event::Failed(AuthError::BadToken))
            )
        );
        // Our own name: replay.
        assert_eq!(
            run(&frame(b"auth cram-md5 <1.2@R_DIRECTOR::d> ssl=0\n")),
            (
                std::vec![failed.clone()],
                Some(Event::Failed(AuthError::ReplayAttack))
            )
        );
        // R_STORAGE names may repeat (SD-SD copies).
        let mut sd = cfg;
        sd.own_name = b"R_STORAGE::s";
        let mut a = Authenticator::new(sd, now).unwrap();
        deliver(
            &mut a,
            now,
            &frame(b"auth cram-md5 <1.2@R_STORAGE::s> ssl=0\n"),
        );
        assert_eq!(drain(&mut a).len(), 1);
        assert_eq!(a.poll_event(), None);
        // TERMINATE: nothing more is sent.
        assert_eq!(
            run(&[0xff, 0xff, 0xff, 0xfc]),
            (Vec::new(), Some(Event::Failed(AuthError::Terminated)))
        );
        // A heartbeat or an empty frame is a receive error.
        assert_eq!(
            run(&[0xff, 0xff, 0xff, 0xfa]),
            (
                std::vec![failed.clone()],
                Some(Event::Failed(AuthError::NetworkError))
            )
        );
        assert_eq!(
            run(&[0, 0, 0, 0]),
            (
                std::vec![failed.clone()],
                Some(Event::Failed(AuthError::NetworkError))
            )
        );
    }

    #[test]
    fn test_timeouts() {
        let k = fd_key();
        let t0 = Instant::from_secs(10);
        let mut a = Authenticator::new(
            Config::new(
                Role::Inbound,
                k.as_bytes(),
                b"R_CLIENT::f",
                TlsPolicy::None,
                1,
                2,
            ),
            t0,
        )
        .unwrap();
        drain(&mut a);
        assert_eq!(a.poll_timeout(), Some(t0 + REPLY_TIMEOUT));
        a.handle_timeout(t0 + Duration::from_secs(179));
        assert_eq!(a.poll_event(), None);
        let t = t0 + REPLY_TIMEOUT;
        a.handle_timeout(t);
        assert_eq!(a.poll_timeout(), Some(t + FAILURE_DELAY));
        a.handle_timeout(t + FAILURE_DELAY);
        assert_eq!(
            drain(&mut a),
            std::vec![frame(b"1999 Authorization failed.\n")]
        );
        a.handle_timeout(t + FAILURE_DELAY + FAILURE_DELAY);
        assert_eq!(a.poll_event(), Some(Event::Failed(AuthError::TimedOut)));

        // Waiting for a challenge is bounded by the session timer only.
        let mut b = Authenticator::new(
            Config::new(
                Role::Outbound,
                k.as_bytes(),
                b"R_DIRECTOR::d",
                TlsPolicy::None,
                1,
                2,
            ),
            t0,
        )
        .unwrap();
        assert_eq!(b.poll_timeout(), Some(t0 + AUTH_TIMEOUT));
        b.handle_timeout(t0 + AUTH_TIMEOUT);
        assert_eq!(
            b.poll_event(),
            Some(Event::Failed(AuthError::SessionTimeout))
        );
        assert!(drain(&mut b).is_empty());
    }

    #[test]
    fn test_debug_hides_key() {
        let k = fd_key();
        let cfg = Config::new(
            Role::Inbound,
            k.as_bytes(),
            b"R_CLIENT::f",
            TlsPolicy::None,
            1,
            2,
        );
        let a = Authenticator::new(cfg, Instant::ZERO).unwrap();
        let text = std::format!("{a:?}");
        let key_str = core::str::from_utf8(k.as_bytes()).unwrap();
        let key_list = std::format!("{:?}", k.as_bytes());
        assert!(!text.contains(key_str) && !text.contains(&key_list[1..20]));
        assert!(text.contains("Inbound"));
    }

    #[test]
    fn test_config_errors_and_small_buffer() {
        let k = fd_key();
        let long = [b'a'; MAX_NAME_LEN + 1];
        assert_eq!(
            Authenticator::new(
                Config::new(Role::Inbound, k.as_bytes(), &long, TlsPolicy::None, 1, 2),
                Instant::ZERO
            )
            .map(|_| ()),
            Err(Error::FieldTooLong)
        );
        assert_eq!(
            Authenticator::new(
                Config::new(Role::Inbound, k.as_bytes(), b"", TlsPolicy::None, 1, 2),
                Instant::ZERO
            )
            .map(|_| ()),
            Err(Error::Malformed)
        );
        let mut a = Authenticator::new(
            Config::new(
                Role::Inbound,
                k.as_bytes(),
                &[b'a'; MAX_NAME_LEN],
                TlsPolicy::Unrecognized(u32::MAX),
                u32::MAX,
                u32::MAX,
            ),
            Instant::ZERO,
        )
        .unwrap();
        assert_eq!(a.poll_transmit(&mut [0u8; 8]), Err(Error::BufferTooSmall));
        let mut buf = [0u8; MAX_TRANSMIT_LEN];
        assert!(a.poll_transmit(&mut buf).unwrap().is_some());
    }

    // ---- replay of every captured cleartext handshake, from both ends ----------------------

    fn key_for(
        capture: &str,
        dir: &str,
        sessions: &[SessionKey],
        token: &[u8],
        resp: &[u8],
    ) -> Vec<u8> {
        let mut pair: Vec<&str> = dir.split('>').collect();
        pair.sort();
        let candidates: Vec<Vec<u8>> = match (pair[0], pair[1]) {
            ("con", "dir") => std::vec![PasswordKey::from_cleartext(b"ref-dir-console-password")
                .as_bytes()
                .to_vec()],
            ("dir", "fd") if capture == "clear-auth-fail" => {
                std::vec![PasswordKey::from_cleartext(b"wrong-fd-password")
                    .as_bytes()
                    .to_vec()]
            }
            ("dir", "fd") => std::vec![fd_key().as_bytes().to_vec()],
            ("dir", "sd") => std::vec![PasswordKey::from_cleartext(b"ref-sd-password")
                .as_bytes()
                .to_vec()],
            _ => sessions.iter().map(|k| k.as_bytes().to_vec()).collect(),
        };
        // Session keys: the one this connection used (the CRAM test proves uniqueness).
        candidates
            .into_iter()
            .find(|k| Response::compute(k, token, Variant::Bacula).as_bytes() == &resp[..22])
            .expect("key")
    }

    fn session_keys(msgs: &[Msg]) -> Vec<SessionKey> {
        let mut keys: Vec<SessionKey> = Vec::new();
        for m in msgs {
            for i in 0..m.payload.len() {
                if m.payload[i..].starts_with(b"Authorization=") {
                    if let Some(k) = m.payload.get(i + 14..i + 14 + 39) {
                        if let Ok(k) = SessionKey::parse(k) {
                            if !keys.contains(&k) {
                                keys.push(k);
                            }
                        }
                    }
                }
            }
        }
        keys
    }

    fn own_name_of(challenge: &[u8]) -> (Vec<u8>, u32, u32) {
        let c = ChallengeRepr::parse(challenge).unwrap();
        let t = Token::parse(c.token).unwrap();
        let name: Vec<u8> = t
            .name()
            .iter()
            .map(|&b| if b == 1 { b' ' } else { b })
            .collect();
        (name, t.random().unwrap() as u32, t.time().unwrap() as u32)
    }

    #[test]
    fn test_replay_every_captured_handshake() {
        let mut replayed = 0;
        for capture in CLEARTEXT_CAPTURES {
            let msgs = load(capture);
            let sessions = session_keys(&msgs);
            let mut conns: Vec<u32> = msgs.iter().map(|m| m.conn).collect();
            conns.sort_unstable();
            conns.dedup();
            for conn in conns {
                let c: Vec<&Msg> = msgs.iter().filter(|m| m.conn == conn).collect();
                if c.len() < 7 || !c[0].payload.starts_with(b"Hello ") {
                    continue;
                }
                let failed = *capture == "clear-auth-fail" && c[0].dir == "dir>fd";
                let (in_name, in_r, in_t) = own_name_of(&c[1].payload);
                let key = key_for(
                    capture,
                    &c[1].dir,
                    &sessions,
                    ChallengeRepr::parse(&c[1].payload).unwrap().token,
                    &c[2].payload,
                );
                let now = Instant::from_secs(1);

                // The inbound side (the server) with the capture's numbers.
                let in_key = if failed {
                    fd_key().as_bytes().to_vec()
                } else {
                    key.clone()
                };
                let mut inbound = Authenticator::new(
                    Config::new(
                        Role::Inbound,
                        &in_key,
                        &in_name,
                        TlsPolicy::None,
                        in_r,
                        in_t,
                    ),
                    now,
                )
                .unwrap();
                assert_eq!(
                    drain(&mut inbound),
                    std::vec![frame(&c[1].payload)],
                    "{capture} {conn}"
                );
                deliver(&mut inbound, now, &frame(&c[2].payload));
                assert_eq!(
                    drain(&mut inbound),
                    std::vec![frame(&c[3].payload)],
                    "{capture} {conn}"
                );

                // The outbound side (the client).
                let (out_name, out_r, out_t) = if failed {
                    (b"R_DIRECTOR::bareos-dir".to_vec(), 0, 0)
                } else {
                    own_name_of(&c[4].payload)
                };
                let mut outbound = Authenticator::new(
                    Config::new(
                        Role::Outbound,
                        &key,
                        &out_name,
                        TlsPolicy::None,
                        out_r,
                        out_t,
                    ),
                    now,
                )
                .unwrap();
                deliver(&mut outbound, now, &frame(&c[1].payload));
                assert_eq!(drain(&mut outbound), std::vec![frame(&c[2].payload)]);
                deliver(&mut outbound, now, &frame(&c[3].payload));
                if failed {
                    // Both sides then pause and send one more 1999 each (msgs 5 and 7).
                    assert!(drain(&mut outbound).is_empty());
                    let later = now + FAILURE_DELAY;
                    outbound.handle_timeout(later);
                    inbound.handle_timeout(later);
                    assert_eq!(drain(&mut outbound), std::vec![frame(&c[4].payload)]);
                    assert_eq!(drain(&mut inbound), std::vec![frame(&c[6].payload)]);
                    replayed += 1;
                    continue;
                }
                assert_eq!(drain(&mut outbound), std::vec![frame(&c[4].payload)]);
                deliver(&mut inbound, now, &frame(&c[4].payload));
                assert_eq!(drain(&mut inbound), std::vec![frame(&c[5].payload)]);
                deliver(&mut outbound, now, &frame(&c[5].payload));
                assert_eq!(drain(&mut outbound), std::vec![frame(&c[6].payload)]);
                deliver(&mut inbound, now, &frame(&c[6].payload));
                let ok = Event::Authenticated {
                    remote_policy: TlsPolicy::None,
                    selected: TlsPolicy::None,
                };
                assert_eq!(inbound.poll_event(), Some(ok));
                assert_eq!(outbound.poll_event(), Some(ok));
                replayed += 1;
            }
        }
        // 60 cleartext connections carry a hello; every one of them is replayed.
        assert_eq!(replayed, 60);
    }

    proptest::proptest! {
        #[test]
        fn prop_pair_always_agrees(
            r1 in proptest::num::u32::ANY, r2 in proptest::num::u32::ANY,
            same_key in proptest::bool::ANY,
            p1 in 0u32..3, p2 in 0u32..3,
        ) {
            let k1 = PasswordKey::from_cleartext(b"a");
            let k2 = if same_key { k1 } else { PasswordKey::from_cleartext(b"b") };
            let now = Instant::ZERO;
            let mut a = Authenticator::new(Config::new(Role::Inbound, k1.as_bytes(), b"R_CLIENT::f", TlsPolicy::from_code(p1), r1, 5), now).unwrap();
            let mut b = Authenticator::new(Config::new(Role::Outbound, k2.as_bytes(), b"R_DIRECTOR::d", TlsPolicy::from_code(p2), r2, 6), now).unwrap();
            let (x, y) = run_pair(&mut a, &mut b);
            let sel = TlsPolicy::select(TlsPolicy::from_code(p1), TlsPolicy::from_code(p2));
            if same_key && sel != TlsPolicy::Deny {
                let is_ok = |e: Event| matches!(e, Event::Authenticated { selected, .. } if selected == sel);
                proptest::prop_assert!(is_ok(x));
                proptest::prop_assert!(is_ok(y));
            } else {
                proptest::prop_assert!(matches!(x, Event::Failed(_)));
                proptest::prop_assert!(matches!(y, Event::Failed(_)));
            }
        }

        #[test]
        fn prop_garbage_never_panics(frames in proptest::collection::vec(
            proptest::collection::vec(proptest::num::u8::ANY, 0..80), 0..6)) {
            let k = PasswordKey::from_cleartext(b"a");
            for role in [Role::Inbound, Role::Outbound] {
                let mut a = Authenticator::new(Config::new(role, k.as_bytes(), b"R_CLIENT::f", TlsPolicy::None, 1, 2), Instant::ZERO).unwrap();
                for f in &frames {
                    a.handle_frame(Instant::ZERO, Frame::Data(f));
                    let _ = drain(&mut a);
                    a.handle_timeout(Instant::from_secs(10_000));
                }
            }
        }
    }
}
