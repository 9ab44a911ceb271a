//! Sticky failover: a circuit breaker on the main host, shared by every clone of an
//! [`HttpClient`](super::HttpClient).
//!
//! Without it every call pays the connect timeout to a dead main host before failing over. After
//! the main host fails with a connect-level error (nothing was sent: refused, unreachable, DNS,
//! TLS handshake, connect timeout) the breaker *opens*: calls go straight to the backup host for
//! [`FAILOVER_COOLDOWN`]. When the cool-down has passed, the next call probes the main host again:
//! a success (any answer) closes the breaker, another connect failure opens it for a further
//! cool-down. Calls made while a probe is in flight also try the main host (no half-open
//! bookkeeping: the cost is at most one connect timeout per concurrent caller per cool-down).

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long calls go straight to the backup host after the main host failed to connect.
pub const FAILOVER_COOLDOWN: Duration = Duration::from_secs(30);

/// The main host's state: `None` when closed (calls go to the main host), else the instant
/// until which calls go to the backup host.
#[derive(Debug)]
pub(crate) struct Breaker {
    cooldown: Duration,
    open_until: Mutex<Option<Instant>>,
}

impl Breaker {
    pub(crate) fn new(cooldown: Duration) -> Self {
        Breaker {
            cooldown,
            open_until: Mutex::new(None),
        }
    }

    /// Whether calls should skip the main host at `now`.
    pub(crate) fn is_open(&self, now: Instant) -> bool {
        self.lock().is_some_and(|until| now < until)
    }

    /// The main host failed to connect at `now`: skip it until `now + cooldown`.
    pub(crate) fn trip(&self, now: Instant) {
        *self.lock() = Some(now + self.cooldown);
    }

    /// The main host answered: calls go to it again.
    pub(crate) fn close(&self) {
        *self.lock() = None;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        // The guarded value is a plain Instant: a panic elsewhere cannot leave it half-written.
        self.open_until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_for_the_cooldown_then_lets_the_main_host_be_probed() {
        let b = Breaker::new(Duration::from_secs(30));
        let t0 = Instant::now();
        assert!(!b.is_open(t0), "a new breaker sends to the main host");
        b.trip(t0);
        assert!(b.is_open(t0));
        assert!(b.is_open(t0 + Duration::from_secs(29)));
        assert!(
            !b.is_open(t0 + Duration::from_secs(30)),
            "after the cool-down the main host is probed"
        );
        // The probe failed: another cool-down from then.
        b.trip(t0 + Duration::from_secs(31));
        assert!(b.is_open(t0 + Duration::from_secs(60)));
        b.close();
        assert!(!b.is_open(t0 + Duration::from_secs(60)));
    }
}
