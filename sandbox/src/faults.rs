//! Fault injection: per operation (`ModifyStockInfo`, `setUserNotifyExt`) or path prefix, for
//! the next N matching requests or until cleared, on every matching request or on a seeded
//! random share of them (`probability`).
//!
//! Most faults replace or spoil the answer *instead of* handling the request. Two act *after*
//! the route has applied the change (and the log has recorded it): `reset_after_apply` drops the
//! connection without an answer, `latency_after_apply` delays the answer — what a client sees
//! when WeChat did the work but the answer was lost or late.

use std::collections::BTreeMap;
use std::sync::Mutex;

use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use serde::{Deserialize, Serialize};

use crate::SandboxError;

/// A fault rule. With neither `operation` nor `path_prefix` it matches every request (control
/// routes under `/sandbox/` are never faulted).
///
/// JSON: `{"operation":"ModifyStockInfo","kind":"latency","ms":300,"count":2}`;
/// `{"kind":"reset_after_apply","probability":0.01,"seed":7}` (1 % of every request, drawn from
/// a random generator seeded with 7: the same seed draws the same sequence).
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
    /// The share of matching requests it applies to (0 < p ≤ 1), each drawn at random; absent:
    /// every matching request. A request it spares does not use up `count`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
    /// Seeds the draws of `probability` (absent: a random seed), so that a run can be repeated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

impl Fault {
    /// A fault for the next `count` requests of `operation`.
    pub fn operation(operation: &str, kind: FaultKind, count: u32) -> Fault {
        Fault {
            operation: Some(operation.to_owned()),
            path_prefix: None,
            kind,
            count: Some(count),
            probability: None,
            seed: None,
        }
    }

    /// A fault for the next `count` requests whose path starts with `prefix`.
    pub fn path_prefix(prefix: &str, kind: FaultKind, count: u32) -> Fault {
        Fault {
            operation: None,
            path_prefix: Some(prefix.to_owned()),
            kind,
            count: Some(count),
            probability: None,
            seed: None,
        }
    }

    /// A fault for a random share `probability` of every request (until cleared), drawn from a
    /// generator seeded with `seed`.
    pub fn random(kind: FaultKind, probability: f64, seed: u64) -> Fault {
        Fault {
            operation: None,
            path_prefix: None,
            kind,
            count: None,
            probability: Some(probability),
            seed: Some(seed),
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
    /// The route handles the request (a change is applied and logged), then the connection is
    /// closed (RST) without the answer.
    ResetAfterApply,
    /// The route handles the request (a change is applied and logged), then the answer is
    /// delayed by `ms` milliseconds.
    LatencyAfterApply { ms: u64 },
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
            FaultKind::ResetAfterApply => "reset_after_apply",
            FaultKind::LatencyAfterApply { .. } => "latency_after_apply",
        }
    }

    /// Every kind, with `ms` / `seconds` where the kind has them: what a soak draws from.
    pub fn every(latency_ms: u64, stale_secs: i64) -> Vec<FaultKind> {
        vec![
            FaultKind::SystemError,
            FaultKind::FrequencyLimited,
            FaultKind::DailyQuota,
            FaultKind::ConnectionReset,
            FaultKind::Latency { ms: latency_ms },
            FaultKind::TamperSignature,
            FaultKind::StaleTimestamp {
                seconds: stale_secs,
            },
            FaultKind::ResetAfterApply,
            FaultKind::LatencyAfterApply { ms: latency_ms },
        ]
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

/// A rule and the generator its `probability` draws from.
struct Rule {
    active: ActiveFault,
    rng: Option<StdRng>,
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
    /// After the route has handled the request: drop the connection without the answer.
    pub reset_after_apply: bool,
    /// After the route has handled the request: delay the answer by this much.
    pub latency_after_apply_ms: u64,
    /// Names of every fault applied, for the log.
    pub names: Vec<&'static str>,
}

#[derive(Default)]
pub struct Faults {
    inner: Mutex<(u64, Vec<Rule>)>,
    /// Faults applied so far, by kind name.
    injected: Mutex<BTreeMap<&'static str, u64>>,
}

impl Faults {
    pub fn add(&self, fault: Fault) -> Result<u64, SandboxError> {
        if fault.count == Some(0) {
            return Err(SandboxError::BadRequest(
                "count must be at least 1 (omit it for until-cleared)".into(),
            ));
        }
        let rng = match fault.probability {
            None => None,
            Some(p) if p > 0.0 && p <= 1.0 => Some(match fault.seed {
                Some(seed) => StdRng::seed_from_u64(seed),
                None => StdRng::from_os_rng(),
            }),
            Some(_) => {
                return Err(SandboxError::BadRequest(
                    "probability must be greater than 0 and at most 1 (omit it for every \
                     matching request)"
                        .into(),
                ))
            }
        };
        let mut inner = self.inner.lock().expect("lock");
        inner.0 += 1;
        let id = inner.0;
        let remaining = fault.count;
        inner.1.push(Rule {
            active: ActiveFault {
                id,
                fault,
                remaining,
            },
            rng,
        });
        Ok(id)
    }

    pub fn list(&self) -> Vec<ActiveFault> {
        self.inner
            .lock()
            .expect("lock")
            .1
            .iter()
            .map(|r| r.active.clone())
            .collect()
    }

    pub fn clear(&self) {
        self.inner.lock().expect("lock").1.clear();
    }

    /// Consumes one use of every rule matching this request.
    pub fn take(&self, operation: Option<&str>, path: &str) -> Applied {
        let mut inner = self.inner.lock().expect("lock");
        let mut applied = Applied::default();
        for Rule { active: rule, rng } in inner.1.iter_mut() {
            let f = &rule.fault;
            let op_ok = f.operation.as_deref().is_none_or(|o| Some(o) == operation);
            let path_ok = f.path_prefix.as_deref().is_none_or(|p| path.starts_with(p));
            if !(op_ok && path_ok) {
                continue;
            }
            if let (Some(rng), Some(p)) = (rng.as_mut(), f.probability) {
                if !rng.random_bool(p) {
                    continue;
                }
            }
            if let Some(n) = rule.remaining.as_mut() {
                *n -= 1;
            }
            applied.names.push(f.kind.name());
            match &f.kind {
                FaultKind::Latency { ms } => applied.latency_ms += ms,
                FaultKind::LatencyAfterApply { ms } => applied.latency_after_apply_ms += ms,
                FaultKind::ResetAfterApply => applied.reset_after_apply = true,
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
        inner.1.retain(|r| r.active.remaining != Some(0));
        drop(inner);
        let mut injected = self.injected.lock().expect("lock");
        for name in &applied.names {
            *injected.entry(name).or_default() += 1;
        }
        applied
    }

    /// How many times each kind of fault was applied since the sandbox started.
    pub fn injected(&self) -> BTreeMap<&'static str, u64> {
        self.injected.lock().expect("lock").clone()
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

    #[test]
    fn after_apply_kinds() {
        let f: Fault =
            serde_json::from_str(r#"{"operation":"ModifyStockInfo","kind":"reset_after_apply"}"#)
                .unwrap();
        assert_eq!(f.kind, FaultKind::ResetAfterApply);
        let f: Fault =
            serde_json::from_str(r#"{"kind":"latency_after_apply","ms":40,"count":1}"#).unwrap();
        assert_eq!(f.kind, FaultKind::LatencyAfterApply { ms: 40 });
        let faults = Faults::default();
        faults.add(f).unwrap();
        faults
            .add(Fault::operation(
                "ModifyStockInfo",
                FaultKind::ResetAfterApply,
                1,
            ))
            .unwrap();
        let applied = faults.take(Some("ModifyStockInfo"), "/v3/x");
        // Neither replaces the answer: the route runs first.
        assert_eq!(applied.terminal, None);
        assert_eq!(applied.latency_ms, 0);
        assert!(applied.reset_after_apply);
        assert_eq!(applied.latency_after_apply_ms, 40);
        assert_eq!(applied.names, ["latency_after_apply", "reset_after_apply"]);
        assert!(faults.list().is_empty());
        assert_eq!(
            faults.injected(),
            BTreeMap::from([("latency_after_apply", 1), ("reset_after_apply", 1)])
        );
    }

    /// Hits of a `probability` rule over `n` requests.
    fn hits(seed: u64, n: usize) -> Vec<usize> {
        let faults = Faults::default();
        faults
            .add(Fault::random(FaultKind::SystemError, 0.1, seed))
            .unwrap();
        (0..n)
            .filter(|_| faults.take(None, "/v3/x").terminal.is_some())
            .collect()
    }

    #[test]
    fn probability_is_seeded() {
        let a = hits(7, 2000);
        // About 10 % (binomial, n = 2000: ±5 σ is ±67).
        assert!((133..=267).contains(&a.len()), "{} hits", a.len());
        assert_eq!(a, hits(7, 2000), "the same seed draws the same requests");
        assert_ne!(a, hits(8, 2000));
    }

    #[test]
    fn probability_spares_do_not_use_up_count() {
        let faults = Faults::default();
        let mut f = Fault::random(FaultKind::SystemError, 0.5, 1);
        f.count = Some(3);
        faults.add(f).unwrap();
        let n = (0..200)
            .filter(|_| faults.take(None, "/v3/x").terminal.is_some())
            .count();
        assert_eq!(n, 3);
        assert!(faults.list().is_empty());
    }

    #[test]
    fn probability_out_of_range_is_refused() {
        for p in [0.0, -0.5, 1.5, f64::NAN] {
            let mut f = Fault::random(FaultKind::SystemError, 0.1, 1);
            f.probability = Some(p);
            let e = Faults::default().add(f).unwrap_err().to_string();
            assert!(e.contains("probability"), "{p}: {e}");
        }
    }
}
