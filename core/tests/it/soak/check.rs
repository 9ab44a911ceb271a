//! What the soak checks after the calls, from the sandbox's own state and request log, and the
//! summary it prints.
//!
//! Invariants, per operation:
//! - every call: `Ok` or an `Error` (a typed kind), never a panic, never unbounded;
//! - ModifyStockInfo and the escape hatch (`out_request_no`): no out_request_no applied twice
//!   (duplicates: 0); an `Ok` call was applied exactly once; an error may leave it applied once
//!   (counted: "applied despite an error");
//! - SetCouponNotify, MarketingImageUpload, setUserNotifyExt (a value unique to the call): an
//!   `Ok` call was applied at least once; applications of the same value again (a retry after
//!   the change was applied) are counted as re-applications — harmless for these idempotent
//!   "set" operations only while they keep their order;
//! - setUserNotifyExt: each worker's calls on its notify_code are sequential, so the values the
//!   sandbox applied must follow the call order (no older value applied after a newer one), and
//!   the state is the last value applied;
//! - decryptCardCode: an `Ok` answer is the code that was encrypted;
//! - token refresh: tokens minted by force refresh ≥ refresh calls that succeeded (the
//!   difference: tokens minted whose answer was lost), and ≤ the calls whose error does not say
//!   "not applied" (a force refresh mints a token each time: never resent);
//! - operations that are not idempotent (MarketingImageUpload, the escape hatch's PATCH, the
//!   force refresh): never applied twice for one call, and never applied when the call's error
//!   says it was not.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use serde_json::Value;
use weixin_kit_sandbox::{LogEntry, Sandbox};

use super::ops::{Key, Op, Worker, OPS};

/// How a call ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    Ok(Value),
    /// An `Error`, by [`super::ops::kind`]; `not_applied`: the error says the call was not
    /// applied ([`super::ops::says_not_applied`]).
    Err {
        kind: String,
        not_applied: bool,
    },
    Panic(String),
    /// Not finished within the bound.
    Hang,
}

#[derive(Debug, Clone)]
pub struct Record {
    pub op: Op,
    pub worker: usize,
    pub n: usize,
    pub key: Key,
    pub outcome: Outcome,
}

/// Faults that answer instead of the route: with one of these (or `main_down`) in a log entry,
/// nothing was applied.
const REPLACING: [&str; 5] = [
    "system_error",
    "frequency_limited",
    "daily_quota",
    "connection_reset",
    "main_down",
];

fn route_ran(e: &LogEntry) -> bool {
    !e.faults.iter().any(|f| REPLACING.contains(&f.as_str()))
        && e.signature.as_deref().is_none_or(|s| s == "ok")
}

#[derive(Debug, Default)]
pub struct Report {
    pub text: String,
    pub violations: Vec<String>,
    pub duplicates: usize,
    pub calls: usize,
    pub faults_by_kind: BTreeMap<String, usize>,
}

pub fn check(sb: &Sandbox, records: &[Record], workers: &[Worker]) -> Report {
    let mut r = Report {
        calls: records.len(),
        ..Report::default()
    };
    let log = sb.requests();
    let mut out = String::new();

    // Calls and outcomes per operation.
    writeln!(out, "calls per operation, and their outcomes:").unwrap();
    for op in OPS {
        let mine: Vec<&Record> = records.iter().filter(|c| c.op == op).collect();
        let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
        for c in &mine {
            let k = match &c.outcome {
                Outcome::Ok(_) => "ok".to_owned(),
                Outcome::Err { kind, .. } => kind.clone(),
                Outcome::Panic(_) => "PANIC".to_owned(),
                Outcome::Hang => "HANG".to_owned(),
            };
            *outcomes.entry(k).or_default() += 1;
        }
        let list: Vec<String> = outcomes.iter().map(|(k, n)| format!("{k} {n}")).collect();
        writeln!(
            out,
            "  {:<24} {:>6}  {}",
            op.name(),
            mine.len(),
            list.join(", ")
        )
        .unwrap();
    }
    let mut errors: BTreeMap<&str, usize> = BTreeMap::new();
    for c in records {
        match &c.outcome {
            Outcome::Ok(_) => *errors.entry("ok").or_default() += 1,
            Outcome::Err { kind, .. } => {
                let variant = kind.split(' ').next().unwrap_or("?");
                *errors.entry(variant).or_default() += 1
            }
            Outcome::Panic(msg) => {
                r.violations
                    .push(format!("call {} ({}) panicked: {msg}", c.n, c.op.name()))
            }
            Outcome::Hang => r.violations.push(format!(
                "call {} ({}) did not finish within the bound",
                c.n,
                c.op.name()
            )),
        }
    }
    let list: Vec<String> = errors.iter().map(|(k, n)| format!("{k} {n}")).collect();
    writeln!(out, "outcomes by kind: {}", list.join(", ")).unwrap();

    // Faults injected, from the sandbox's counters.
    let faulted = log.iter().filter(|e| !e.faults.is_empty()).count();
    if let Some(kinds) = sb.counters()["faults_by_kind"].as_object() {
        for (kind, n) in kinds {
            r.faults_by_kind
                .insert(kind.clone(), n.as_u64().unwrap_or(0) as usize);
        }
    }
    let list: Vec<String> = r
        .faults_by_kind
        .iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    writeln!(
        out,
        "faults injected: {} ({}); requests logged {}, of them faulted {faulted} ({:.1} %)",
        r.faults_by_kind.values().sum::<usize>(),
        list.join(", "),
        log.len(),
        100.0 * faulted as f64 / log.len().max(1) as f64,
    )
    .unwrap();

    writeln!(out, "applications:").unwrap();
    out_request_nos(sb, records, &mut r, &mut out);
    by_value(
        "SetCouponNotify",
        Op::SetCouponNotify,
        records,
        &applied_values(&log, "SetCouponNotify", |body| {
            serde_json::from_str::<Value>(body).ok()?["notify_url"]
                .as_str()
                .map(str::to_owned)
        }),
        |k| match k {
            Key::NotifyUrl(u) => Some(u.clone()),
            _ => None,
        },
        &mut r,
        &mut out,
    );
    let mut media: HashMap<String, usize> = HashMap::new();
    for m in sb.media() {
        *media.entry(m.sha256).or_default() += 1;
    }
    by_value(
        "MarketingImageUpload",
        Op::MarketingImageUpload,
        records,
        &media,
        |k| match k {
            Key::ImageSha256(s) => Some(s.clone()),
            _ => None,
        },
        &mut r,
        &mut out,
    );
    let mut ext: HashMap<String, usize> = HashMap::new();
    for w in workers {
        for v in sb.mp().received_ext_json(&w.openid, &w.notify_code) {
            *ext.entry(v).or_default() += 1;
        }
    }
    by_value(
        "setUserNotifyExt",
        Op::SetUserNotifyExt,
        records,
        &ext,
        |k| match k {
            Key::ExtJson(s) => Some(s.clone()),
            _ => None,
        },
        &mut r,
        &mut out,
    );
    ext_order(sb, records, workers, &mut r, &mut out);
    decrypted(records, &mut r);
    tokens(sb, records, &mut r, &mut out);

    if r.violations.is_empty() {
        writeln!(out, "invariant violations: none").unwrap();
    } else {
        writeln!(out, "invariant violations: {}", r.violations.len()).unwrap();
        for v in r.violations.iter().take(20) {
            writeln!(out, "  {v}").unwrap();
        }
    }
    r.text = out;
    r
}

fn out_request_nos(sb: &Sandbox, records: &[Record], r: &mut Report, out: &mut String) {
    let counts = sb.out_request_counts();
    r.duplicates = counts.values().filter(|c| c.applied > 1).count();
    for (no, c) in counts.iter().filter(|(_, c)| c.applied > 1) {
        r.violations
            .push(format!("out_request_no {no} applied {} times", c.applied));
    }
    for op in [Op::ModifyStockInfo, Op::Request] {
        let (mut sent, mut applied, mut replayed, mut despite) = (0, 0, 0, 0);
        for c in records.iter().filter(|c| c.op == op) {
            let Key::OutRequestNo(no) = &c.key else {
                continue;
            };
            sent += 1;
            let count = counts.get(no).copied().unwrap_or_default();
            applied += usize::from(count.applied > 0);
            replayed += count.replayed as usize;
            match &c.outcome {
                Outcome::Ok(_) if count.applied != 1 => r.violations.push(format!(
                    "{} call {} (out_request_no {no}) succeeded but was applied {} times",
                    op.name(),
                    c.n,
                    count.applied
                )),
                Outcome::Err { kind, not_applied } if count.applied > 0 => {
                    despite += 1;
                    if *not_applied && !op.idempotent() {
                        r.violations.push(format!(
                            "{} call {} (out_request_no {no}) failed with {kind}, which says \
                             it was not applied, but it was",
                            op.name(),
                            c.n
                        ));
                    }
                }
                _ => {}
            }
            if count.replayed > 0 && !op.idempotent() {
                r.violations.push(format!(
                    "{} call {} (out_request_no {no}) was sent again after it had been applied \
                     ({} times): not idempotent, it must not be resent",
                    op.name(),
                    c.n,
                    count.replayed
                ));
            }
        }
        writeln!(
            out,
            "  {:<24} out_request_no sent {sent}, applied {applied}, answered again without \
             applying {replayed}, applied despite an error {despite}",
            op.name()
        )
        .unwrap();
    }
    writeln!(
        out,
        "  duplicates (an out_request_no applied twice): {}",
        r.duplicates
    )
    .unwrap();
}

/// value → how many times the route applied a request carrying it (from the log).
fn applied_values(
    log: &[LogEntry],
    operation: &str,
    value: impl Fn(&str) -> Option<String>,
) -> HashMap<String, usize> {
    let mut m = HashMap::new();
    for e in log {
        if e.operation.as_deref() == Some(operation)
            && route_ran(e)
            && e.status.is_some_and(|s| (200..300).contains(&s))
        {
            if let Some(v) = value(&e.body) {
                *m.entry(v).or_default() += 1;
            }
        }
    }
    m
}

fn by_value(
    name: &str,
    op: Op,
    records: &[Record],
    applied: &HashMap<String, usize>,
    value: impl Fn(&Key) -> Option<String>,
    r: &mut Report,
    out: &mut String,
) {
    let (mut sent, mut once, mut more, mut despite) = (0, 0, 0, 0);
    for c in records.iter().filter(|c| c.op == op) {
        let Some(v) = value(&c.key) else { continue };
        sent += 1;
        let n = applied.get(&v).copied().unwrap_or(0);
        once += usize::from(n > 0);
        more += n.saturating_sub(1);
        match &c.outcome {
            Outcome::Ok(_) if n == 0 => r.violations.push(format!(
                "{name} call {} succeeded but was never applied",
                c.n
            )),
            Outcome::Err { kind, not_applied } if n > 0 => {
                despite += 1;
                if *not_applied && !op.idempotent() {
                    r.violations.push(format!(
                        "{name} call {} failed with {kind}, which says it was not applied, but \
                         it was",
                        c.n
                    ));
                }
            }
            _ => {}
        }
        if n > 1 && !op.idempotent() {
            r.violations.push(format!(
                "{name} call {} was applied {n} times: not idempotent, it must not be resent \
                 after it may have been applied",
                c.n
            ));
        }
    }
    writeln!(
        out,
        "  {name:<24} values sent {sent}, applied {once}, re-applied (same value again) {more}, \
         applied despite an error {despite}"
    )
    .unwrap();
}

/// The values applied to each worker's notify_code follow the order of its calls.
fn ext_order(
    sb: &Sandbox,
    records: &[Record],
    workers: &[Worker],
    r: &mut Report,
    out: &mut String,
) {
    let mut reordered = 0;
    for w in workers {
        let order: HashMap<String, usize> = records
            .iter()
            .filter(|c| c.worker == w.id && c.op == Op::SetUserNotifyExt)
            .filter_map(|c| match &c.key {
                Key::ExtJson(v) => Some((v.clone(), c.n)),
                _ => None,
            })
            .collect();
        let history = sb.mp().received_ext_json(&w.openid, &w.notify_code);
        let mut last = 0;
        for v in &history {
            let n = order.get(v).copied().unwrap_or(usize::MAX);
            if n < last {
                reordered += 1;
                r.violations.push(format!(
                    "setUserNotifyExt on worker {}'s code: call {n}'s value applied after call \
                     {last}'s (the state went back to an older value)",
                    w.id
                ));
            }
            last = last.max(n);
        }
    }
    writeln!(
        out,
        "  {:<24} values applied out of call order {reordered}",
        "setUserNotifyExt"
    )
    .unwrap();
}

fn decrypted(records: &[Record], r: &mut Report) {
    for c in records {
        if let (Key::CardCode { code, .. }, Outcome::Ok(v)) = (&c.key, &c.outcome) {
            if v["code"].as_str() != Some(code.as_str()) {
                r.violations.push(format!(
                    "decryptCardCode call {} answered {v}, not {code}",
                    c.n
                ));
            }
        }
    }
}

fn tokens(sb: &Sandbox, records: &[Record], r: &mut Report, out: &mut String) {
    let mine = records.iter().filter(|c| c.op == Op::RefreshAccessToken);
    let calls = mine.clone().count();
    let ok = mine
        .clone()
        .filter(|c| matches!(c.outcome, Outcome::Ok(_)))
        .count();
    let refused = mine
        .filter(|c| {
            matches!(
                c.outcome,
                Outcome::Err {
                    not_applied: true,
                    ..
                }
            )
        })
        .count();
    let mp = sb.counters()["mp"].clone();
    let forced = mp["stable_tokens_forced"].as_u64().unwrap_or(0) as usize;
    let issued = mp["stable_tokens_issued"].as_u64().unwrap_or(0) as usize;
    if forced < ok {
        r.violations.push(format!(
            "token: {ok} force refreshes succeeded but only {forced} tokens were minted by force"
        ));
    }
    // A force refresh is not idempotent: at most one token per call, none for a call whose
    // error says it was not applied.
    if forced > calls - refused {
        r.violations.push(format!(
            "token: {forced} tokens minted by force for {calls} refresh calls, {refused} of \
             which failed without applying: {} minted by a resent refresh",
            forced - (calls - refused)
        ));
    }
    writeln!(
        out,
        "  token refresh: calls {calls} (ok {ok}, failed without applying {refused}), tokens \
         minted by force refresh {forced} ({} for a call that did not succeed: its answer was \
         lost or late), stable tokens minted in all {issued}",
        forced.saturating_sub(ok)
    )
    .unwrap();
}
