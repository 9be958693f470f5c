//! The [`Clock`] on tokio time: wall clock from `SystemTime`, monotonic instants from
//! `tokio::time::Instant` (so tests with a paused tokio clock stay consistent).

use std::time::{SystemTime, UNIX_EPOCH};

use fd_core::fd::platform::Clock;
use fd_core::time::Instant;

/// Wall and monotonic time on tokio.
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    base: tokio::time::Instant,
}

impl TokioClock {
    /// A clock whose monotonic zero is now.
    pub fn new() -> Self {
        Self {
            base: tokio::time::Instant::now(),
        }
    }
}

impl Default for TokioClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for TokioClock {
    fn unix_time(&self) -> i64 {
        self.unix_micros() / 1_000_000
    }
    fn unix_micros(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    }
    fn now(&self) -> Instant {
        let d = tokio::time::Instant::now().saturating_duration_since(self.base);
        Instant::from_micros(i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
    }
    async fn sleep_until(&self, deadline: Instant) {
        let now = self.now();
        let wait = deadline.total_micros().saturating_sub(now.total_micros());
        if wait > 0 {
            tokio::time::sleep(std::time::Duration::from_micros(wait as u64)).await;
        }
    }
}
