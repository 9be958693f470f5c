//! The `ssl=` TLS policy of a CRAM-MD5 challenge and the rule that combines two of them.
//!
//! Every CRAM-MD5 challenge ends in `ssl=<n>` (`../shared/protocol/connect.md` §2.3, §2.6):
//! the challenger's *configured* policy for the peer, computed by `TlsResource::GetPolicy()`
//! (`core/src/lib/tls_conf.cc`) from two directives that both default to `yes`:
//!
//! | TLS Enable | TLS Require | `ssl=` |
//! |---|---|---|
//! | no | (any) | 0, [`TlsPolicy::None`] |
//! | yes | no | 1, [`TlsPolicy::Enabled`] |
//! | yes | yes | 2, [`TlsPolicy::Required`] |
//!
//! The full enum (`core/src/lib/tls_conf.h` `enum TlsPolicy : uint32_t`) also has
//! 4 = `kBnetTlsAuto` (TLS-first, "negotiated by the TLS handshake"), which travels only in job
//! commands (`JobId=… ssl=4`, `storage … ssl=4`, connect.md §4), 0xFE = `kBnetTlsUnknown` (the
//! initial value, kept when a challenge has no `ssl=` at all) and 0xFF = `kBnetTlsDeny`, which
//! is never sent but is the outcome of [`TlsPolicy::select`] when one side requires TLS and
//! the other cannot do it. Bareos stores the value in a `uint32_t` enum, so any other number is
//! kept as [`TlsPolicy::Unrecognized`]; it behaves like "enabled" in [`TlsPolicy::select`],
//! exactly as Bareos' comparisons fall through to `kBnetTlsEnabled`.
//!
//! Naming note: the house style calls the catch-all arm `Unknown(v)`, but Bareos already has a
//! value *named* Unknown (0xFE), so the catch-all is `Unrecognized(u32)` here.
//!
//! # The combination rule
//!
//! After both CRAM-MD5 legs succeed, `TwoWayAuthenticate` calls `DoTlsHandshake`, which asks
//! `TlsResource::SelectTlsPolicy(remote)` (connect.md §2.6) and
//!
//! - on [`TlsPolicy::Deny`] fails the authentication;
//! - on [`TlsPolicy::None`] stays in cleartext;
//! - on anything else starts a (certificate) TLS handshake now, unless TLS is already up
//!   (TLS-first), in which case the whole step is skipped and `ssl=` has no effect.
//!
//! The remote value is the `ssl=` from the *peer's* challenge (this side's response leg
//! parses it), the local one this side's own `GetPolicy()`.

use core::fmt;

/// A Bareos TLS policy value (`enum TlsPolicy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum TlsPolicy {
    /// 0 `kBnetTlsNone`: no TLS configured.
    None,
    /// 1 `kBnetTlsEnabled`: TLS allowed but not required.
    Enabled,
    /// 2 `kBnetTlsRequired`: TLS required.
    Required,
    /// 4 `kBnetTlsAuto`: TLS-first, negotiated by the TLS handshake itself.
    Auto,
    /// 0xFE `kBnetTlsUnknown`: not (yet) known, e.g. a challenge without `ssl=`.
    Unknown,
    /// 0xFF `kBnetTlsDeny`: TLS required on one side but impossible on the other.
    Deny,
    /// Any other value.
    Unrecognized(u32),
}

impl TlsPolicy {
    /// The policy for a wire value.
    pub const fn from_code(v: u32) -> TlsPolicy {
        match v {
            0 => TlsPolicy::None,
            1 => TlsPolicy::Enabled,
            2 => TlsPolicy::Required,
            4 => TlsPolicy::Auto,
            0xFE => TlsPolicy::Unknown,
            0xFF => TlsPolicy::Deny,
            v => TlsPolicy::Unrecognized(v),
        }
    }

    /// The wire value.
    pub const fn code(self) -> u32 {
        match self {
            TlsPolicy::None => 0,
            TlsPolicy::Enabled => 1,
            TlsPolicy::Required => 2,
            TlsPolicy::Auto => 4,
            TlsPolicy::Unknown => 0xFE,
            TlsPolicy::Deny => 0xFF,
            TlsPolicy::Unrecognized(v) => v,
        }
    }

    /// `TlsResource::GetPolicy()`: the value a resource advertises in `ssl=`.
    pub const fn from_enable_require(enable: bool, require: bool) -> TlsPolicy {
        match (enable, require) {
            (false, _) => TlsPolicy::None,
            (true, false) => TlsPolicy::Enabled,
            (true, true) => TlsPolicy::Required,
        }
    }

    /// `TlsResource::SelectTlsPolicy(remote)` run with `local` as this side's `GetPolicy()`.
    pub fn select(local: TlsPolicy, remote: TlsPolicy) -> TlsPolicy {
        use TlsPolicy::{Auto, Deny, Enabled, None, Required};
        match (local, remote) {
            (_, Auto) => Auto,
            (None, None) | (Enabled, None) | (None, Enabled) => None,
            (Required, None) | (None, Required) => Deny,
            _ => Enabled,
        }
    }

    /// True if [`TlsPolicy::select`]'s result means "do a TLS handshake after CRAM-MD5"
    /// (when TLS is not already up).
    pub fn wants_tls(self) -> bool {
        !matches!(self, TlsPolicy::None | TlsPolicy::Deny)
    }
}

impl fmt::Display for TlsPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_codes() {
        for v in [0u32, 1, 2, 3, 4, 5, 0xFE, 0xFF, 0x100, u32::MAX] {
            assert_eq!(TlsPolicy::from_code(v).code(), v);
        }
        assert_eq!(TlsPolicy::from_code(3), TlsPolicy::Unrecognized(3));
        assert_eq!(TlsPolicy::from_code(0xFE), TlsPolicy::Unknown);
    }

    #[test]
    fn test_get_policy() {
        // Captured cleartext configs have TLS Enable = no: ssl=0 (vectors/clear-backup-full,
        // conn 3 msgs 2 and 5).
        assert_eq!(
            TlsPolicy::from_enable_require(false, false),
            TlsPolicy::None
        );
        assert_eq!(TlsPolicy::from_enable_require(false, true), TlsPolicy::None);
        assert_eq!(
            TlsPolicy::from_enable_require(true, false),
            TlsPolicy::Enabled
        );
        // The defaults.
        assert_eq!(
            TlsPolicy::from_enable_require(true, true),
            TlsPolicy::Required
        );
    }

    #[test]
    fn test_select_table() {
        use TlsPolicy::*;
        let all = [
            None,
            Enabled,
            Required,
            Auto,
            Unknown,
            Deny,
            Unrecognized(9),
        ];
        for l in [None, Enabled, Required] {
            assert_eq!(TlsPolicy::select(l, Auto), Auto);
            assert_eq!(TlsPolicy::select(l, Unknown), Enabled);
        }
        assert_eq!(TlsPolicy::select(None, None), None);
        assert_eq!(TlsPolicy::select(None, Enabled), None);
        assert_eq!(TlsPolicy::select(Enabled, None), None);
        assert_eq!(TlsPolicy::select(None, Required), Deny);
        assert_eq!(TlsPolicy::select(Required, None), Deny);
        for (l, r) in [
            (Enabled, Enabled),
            (Enabled, Required),
            (Required, Enabled),
            (Required, Required),
        ] {
            assert_eq!(TlsPolicy::select(l, r), Enabled);
        }
        // Symmetry of the rule for the three values ssl= carries.
        for l in [None, Enabled, Required] {
            for r in [None, Enabled, Required] {
                assert_eq!(TlsPolicy::select(l, r), TlsPolicy::select(r, l));
            }
        }
        for p in all {
            let _ = TlsPolicy::select(p, p).wants_tls();
        }
        assert!(!None.wants_tls() && !Deny.wants_tls() && Enabled.wants_tls());
    }
}
