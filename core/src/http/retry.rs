//! How requests are retried: [`RetryPolicy`] (bounded attempts, exponential backoff with
//! jitter, failover) and the caller's [`ResponseVerdict`] on each answer.

use std::time::Duration;

/// How a failed request is retried. The same request (same body, same `out_request_no`) is sent
/// again; only the signature's timestamp and nonce change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Requests sent in total, the first one and any failover included (at least 1).
    pub max_attempts: u32,
    /// Delay before the first retry; doubled for each further retry.
    pub base_delay: Duration,
    /// Upper bound of one delay (before jitter).
    pub max_delay: Duration,
    /// Move to the backup host on connection errors and 5xx answers.
    pub failover: bool,
}

impl Default for RetryPolicy {
    /// 3 attempts, 100 ms then 200 ms (±50 % jitter, at most 2 s), failover on.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
            failover: true,
        }
    }
}

impl RetryPolicy {
    /// One attempt, no failover.
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            failover: false,
            ..RetryPolicy::default()
        }
    }

    /// The pause before retry number `retry` (1 = the first retry): exponential, capped, with
    /// "equal jitter" (half fixed, half random) so that many clients do not retry in lockstep.
    pub fn delay(&self, retry: u32) -> Duration {
        let exp = self.base_delay.saturating_mul(
            1u32.checked_shl(retry.saturating_sub(1))
                .unwrap_or(u32::MAX),
        );
        let capped = exp.min(self.max_delay);
        let half = capped / 2;
        half + half.mul_f64(fastrand::f64())
    }
}

/// What the caller makes of a response the server sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseVerdict {
    /// Hand it back (success, or an error that must not be retried).
    Final,
    /// Send again to the same host after a backoff (e.g. 429).
    Retry,
    /// Send again, to the backup host when failover is on (e.g. 5xx).
    RetryElsewhere,
}

/// The longest `Retry-After` the client waits for within a call; a longer one ends the call at
/// once with the answer that carried it (the caller decides whether to come back that late).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// The wait a `Retry-After` header asks for (RFC 9110 §10.2.3: `delay-seconds` or an
/// HTTP-date), measured from `now`; `None` without the header or when it does not parse. A date
/// in the past means no wait.
pub fn retry_after(headers: &http::HeaderMap, now: std::time::SystemTime) -> Option<Duration> {
    let value = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Absurdly long values saturate; they exceed MAX_RETRY_AFTER either way.
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}
