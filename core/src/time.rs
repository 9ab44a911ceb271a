//! The clock the signatures, token expiries and certificate validity are checked against.

use std::time::{SystemTime, UNIX_EPOCH};

/// Current Unix time in seconds (0 if the system clock is before 1970).
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
