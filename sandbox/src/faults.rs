//! Fault injection: per operation (`ModifyStockInfo`, `setUserNotifyExt`) or path prefix, for
//! the next N matching requests or until cleared.

use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::SandboxError;

/// A fault rule. With neither `operation` nor `path_prefix` it matches every request (control
/// routes under `/sandbox/` are never faulted).
///
/// JSON: `{"operation":"ModifyStockInfo","kind":"latency","ms":300,"count":2}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fault {
    /// Operation name as in the spec (`ModifyStockInfo`, `SetCouponNotify`,
    /// `MarketingImageUpload`, `Certificates`, or a mini-program operationId).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// Path prefix, e.g. `/v3/marketing/` or `/cgi-bin/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_prefix: Option<String>,
    #[serde(flatten)]
    pub kind: FaultKind,
    /// How many matching requests it applies to; absent: until cleared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
}

impl Fault {
    /// A fault for the next `count` requests of `operation`.
    pub fn operation(operation: &str, kind: FaultKind, count: u32) -> Fault {
        Fault {
            operation: Some(operation.to_owned()),
            path_prefix: None,
            kind,
            count: Some(count),
        }
    }

    /// A fault for the next `count` requests whose path starts with `prefix`.
    pub fn path_prefix(prefix: &str, kind: FaultKind, count: u32) -> Fault {
        Fault {
            operation: None,
            path_prefix: Some(prefix.to_owned()),
            kind,
            count: Some(count),
        }
    }
}

fn default_stale() -> i64 {
    600
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FaultKind {
    /// HTTP 500 SYSTEM_ERROR (mini-program routes: HTTP 500 errcode -1).
    SystemError,
    /// WeChat Pay routes: HTTP 429 FREQUENCY_LIMITED. Mini-program routes: HTTP 200
    /// `{"errcode":45011,"errmsg":"api minute-quota reach limit…"}` (per-minute frequency; the
    /// mini-program APIs answer every error with HTTP 200 and an errcode, never 429).
    FrequencyLimited,
    /// Mini-program routes: HTTP 200 `{"errcode":45009,"errmsg":"reach max api daily quota
    /// limit"}` (daily quota). WeChat Pay has no daily-quota answer: HTTP 429 FREQUENCY_LIMITED
    /// there, as `frequency_limited`.
    DailyQuota,
    /// The connection is closed (RST) without any HTTP response.
    ConnectionReset,
    /// The response is delayed by `ms` milliseconds.
    Latency { ms: u64 },
    /// The response signature does not verify (WeChat Pay routes).
    TamperSignature,
    /// The response is signed with a timestamp `seconds` old (default 600).
    StaleTimestamp {
        #[serde(default = "default_stale")]
        seconds: i64,
    },
}

impl FaultKind {
    pub fn name(&self) -> &'static str {
        match self {
            FaultKind::SystemError => "system_error",
            FaultKind::FrequencyLimited => "frequency_limited",
            FaultKind::DailyQuota => "daily_quota",
            FaultKind::ConnectionReset => "connection_reset",
            FaultKind::Latency { .. } => "latency",
            FaultKind::TamperSignature => "tamper_signature",
            FaultKind::StaleTimestamp { .. } => "stale_timestamp",
        }
    }
}

/// A rule in force, with what is left of its count.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActiveFault {
    pub id: u64,
    #[serde(flatten)]
    pub fault: Fault,
    /// Requests it still applies to (absent: until cleared).
    pub remaining: Option<u32>,
}

/// What the matching rules do to one request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    pub latency_ms: u64,
    /// The one fault that replaces the response: reset, then 500, then quota (429 / 45011 /
    /// 45009).
    pub terminal: Option<FaultKind>,
    pub tamper_signature: bool,
    pub stale_secs: Option<i64>,
    /// Names of every fault applied, for the log.
    pub names: Vec<&'static str>,
}

#[derive(Default)]
pub struct Faults {
    inner: Mutex<(u64, Vec<ActiveFault>)>,
}

impl Faults {
    pub fn add(&self, fault: Fault) -> Result<u64, SandboxError> {
        if fault.count == Some(0) {
            return Err(SandboxError::BadRequest(
                "count must be at least 1 (omit it for until-cleared)".into(),
            ));
        }
        let mut inner = self.inner.lock().expect("lock");
        inner.0 += 1;
        let id = inner.0;
        let remaining = fault.count;
        inner.1.push(ActiveFault {
            id,
            fault,
            remaining,
        });
        Ok(id)
    }

    pub fn list(&self) -> Vec<ActiveFault> {
        self.inner.lock().expect("lock").1.clone()
    }

    pub fn clear(&self) {
        self.inner.lock().expect("lock").1.clear();
    }

    /// Consumes one use of every rule matching this request.
    pub fn take(&self, operation: Option<&str>, path: &str) -> Applied {
        let mut inner = self.inner.lock().expect("lock");
        let mut applied = Applied::default();
        for rule in inner.1.iter_mut() {
            let f = &rule.fault;
            let op_ok = f.operation.as_deref().is_none_or(|o| Some(o) == operation);
            let path_ok = f.path_prefix.as_deref().is_none_or(|p| path.starts_with(p));
            if !(op_ok && path_ok) {
                continue;
            }
            if let Some(n) = rule.remaining.as_mut() {
                *n -= 1;
            }
            applied.names.push(f.kind.name());
            match &f.kind {
                FaultKind::Latency { ms } => applied.latency_ms += ms,
                FaultKind::TamperSignature => applied.tamper_signature = true,
                FaultKind::StaleTimestamp { seconds } => applied.stale_secs = Some(*seconds),
                terminal => {
                    let rank = |k: &FaultKind| match k {
                        FaultKind::ConnectionReset => 0,
                        FaultKind::SystemError => 1,
                        _ => 2,
                    };
                    if applied
                        .terminal
                        .as_ref()
                        .is_none_or(|t| rank(terminal) < rank(t))
                    {
                        applied.terminal = Some(terminal.clone());
                    }
                }
            }
        }
        inner.1.retain(|r| r.remaining != Some(0));
        applied
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_down_and_matches() {
        let faults = Faults::default();
        faults
            .add(Fault::operation(
                "ModifyStockInfo",
                FaultKind::SystemError,
                2,
            ))
            .unwrap();
        faults
            .add(Fault::path_prefix(
                "/cgi-bin/",
                FaultKind::Latency { ms: 5 },
                1,
            ))
            .unwrap();
        assert_eq!(faults.take(Some("SetCouponNotify"), "/v3/x").terminal, None);
        assert_eq!(
            faults.take(Some("ModifyStockInfo"), "/v3/x").terminal,
            Some(FaultKind::SystemError)
        );
        assert_eq!(faults.take(None, "/cgi-bin/token").latency_ms, 5);
        assert_eq!(faults.take(None, "/cgi-bin/token").latency_ms, 0);
        assert!(faults
            .take(Some("ModifyStockInfo"), "/v3/x")
            .terminal
            .is_some());
        assert!(faults.list().is_empty());
    }

    #[test]
    fn json_shape() {
        let f: Fault =
            serde_json::from_str(r#"{"operation":"ModifyStockInfo","kind":"latency","ms":300}"#)
                .unwrap();
        assert_eq!(f.kind, FaultKind::Latency { ms: 300 });
        assert_eq!(f.count, None);
        let f: Fault = serde_json::from_str(r#"{"kind":"stale_timestamp","count":1}"#).unwrap();
        assert_eq!(f.kind, FaultKind::StaleTimestamp { seconds: 600 });
    }
}
