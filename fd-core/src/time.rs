//! Time without a clock: the caller passes `now` into every `handle_*`/`poll_*` call.
//!
//! [`Instant`] counts microseconds from an arbitrary epoch chosen by the platform (boot time on
//! a board, `UNIX_EPOCH` on Linux). fd-core never reads a clock, which keeps every state
//! machine deterministic and testable with a virtual clock (smoltcp's `time.rs`, quinn-proto).

use core::ops::{Add, Sub};

/// A point in time, in microseconds since a platform-defined epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Instant {
    micros: i64,
}

impl Instant {
    /// The epoch itself.
    pub const ZERO: Instant = Instant { micros: 0 };

    /// An instant `micros` microseconds after the epoch.
    pub const fn from_micros(micros: i64) -> Self {
        Self { micros }
    }

    /// An instant `millis` milliseconds after the epoch.
    pub const fn from_millis(millis: i64) -> Self {
        Self {
            micros: millis.saturating_mul(1000),
        }
    }

    /// An instant `secs` seconds after the epoch.
    pub const fn from_secs(secs: i64) -> Self {
        Self {
            micros: secs.saturating_mul(1_000_000),
        }
    }

    /// Microseconds since the epoch.
    pub const fn total_micros(&self) -> i64 {
        self.micros
    }

    /// Whole seconds since the epoch (floor toward zero).
    pub const fn secs(&self) -> i64 {
        self.micros / 1_000_000
    }
}

/// A span of time in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Duration {
    micros: u64,
}

impl Duration {
    /// No time at all.
    pub const ZERO: Duration = Duration { micros: 0 };

    /// A duration of `micros` microseconds.
    pub const fn from_micros(micros: u64) -> Self {
        Self { micros }
    }

    /// A duration of `millis` milliseconds.
    pub const fn from_millis(millis: u64) -> Self {
        Self {
            micros: millis.saturating_mul(1000),
        }
    }

    /// A duration of `secs` seconds.
    pub const fn from_secs(secs: u64) -> Self {
        Self {
            micros: secs.saturating_mul(1_000_000),
        }
    }

    /// The duration in microseconds.
    pub const fn total_micros(&self) -> u64 {
        self.micros
    }

    /// The duration in whole seconds.
    pub const fn secs(&self) -> u64 {
        self.micros / 1_000_000
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, rhs: Duration) -> Instant {
        let d = i64::try_from(rhs.micros).unwrap_or(i64::MAX);
        Instant {
            micros: self.micros.saturating_add(d),
        }
    }
}

impl Sub<Duration> for Instant {
    type Output = Instant;
    fn sub(self, rhs: Duration) -> Instant {
        let d = i64::try_from(rhs.micros).unwrap_or(i64::MAX);
        Instant {
            micros: self.micros.saturating_sub(d),
        }
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    /// The time from `rhs` to `self`, zero if `rhs` is later.
    fn sub(self, rhs: Instant) -> Duration {
        let d = self.micros.saturating_sub(rhs.micros);
        Duration {
            micros: u64::try_from(d).unwrap_or(0),
        }
    }
}

impl Add for Duration {
    type Output = Duration;
    fn add(self, rhs: Duration) -> Duration {
        Duration {
            micros: self.micros.saturating_add(rhs.micros),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates() {
        let t = Instant::from_secs(5);
        assert_eq!((t + Duration::from_millis(1500)).total_micros(), 6_500_000);
        assert_eq!(
            Instant::from_secs(1) - Instant::from_secs(2),
            Duration::ZERO
        );
        assert_eq!(
            Instant::from_micros(i64::MAX) + Duration::from_secs(1),
            Instant::from_micros(i64::MAX)
        );
    }
}
