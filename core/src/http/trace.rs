//! What a call tells `tracing` (issue 16 part 4). Every span and event of the HTTP layer is
//! built here, so that what leaves the process is decided in one place:
//!
//! - span `weixin_kit.call` (`operation`, `family`): opened by the pay and mini-program clients
//!   around one operation ([`call_span`]);
//! - span `weixin_kit.attempt` (`attempt`, 1-based, and `host`, `main` / `backup`) per attempt;
//! - events in it: `answered` (`status`, `request_id`, `latency_ms`), `no answer`
//!   (`failure`, `maybe_sent`, `latency_ms`), `retrying` (`retry_reason`, `next_host`,
//!   `delay_ms`) and `not retried` (`reason`).
//!
//! Never in a field: URLs, paths or query strings (the mini-program `access_token` travels in
//! the query; WeChat Pay paths carry order numbers), headers other than `Request-ID`
//! (Authorization), bodies (personal data, openids), error text (it names paths).

use std::time::Duration;

use tracing::Span;

use super::{Host, RawResponse};
use crate::operation::{ApiFamily, OperationSpec};

/// The tracing target of every event of the library's calls.
pub const TARGET: &str = "weixin_kit";

impl Host {
    /// `main` or `backup`: the `host` field of an attempt span.
    pub fn as_str(self) -> &'static str {
        match self {
            Host::Main => "main",
            Host::Backup => "backup",
        }
    }
}

/// `pay` or `mini_program`: the `family` field of a call span.
pub fn family_name(family: ApiFamily) -> &'static str {
    match family {
        ApiFamily::Pay => "pay",
        ApiFamily::MiniProgram => "mini_program",
    }
}

/// The span of one operation: `weixin_kit.call` with `operation` (the spec's name) and `family`.
pub fn call_span(op: &OperationSpec) -> Span {
    tracing::info_span!(
        target: TARGET,
        "weixin_kit.call",
        operation = op.name,
        family = family_name(op.family)
    )
}

/// The span of one attempt of a call.
pub(super) fn attempt_span(attempt: u32, host: Host) -> Span {
    tracing::info_span!(
        target: TARGET,
        "weixin_kit.attempt",
        attempt,
        host = host.as_str()
    )
}

/// WeChat Pay's `Request-ID` answer header (wechatpay-go `core/consts/const.go`:
/// `RequestID = "Request-Id" // 微信支付回包请求ID`; the APIv3 basic rules: "请求的唯一标识包含在
/// 应答的HTTP头Request-ID中"), when it is a plain token: at most 128 visible ASCII characters
/// (anything else is not WeChat's and is not copied into logs).
fn request_id(response: &RawResponse) -> Option<&str> {
    let id = response.headers.get("Request-ID")?.to_str().ok()?;
    (!id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_graphic())).then_some(id)
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// An attempt got an answer.
pub(super) fn answered(span: &Span, response: &RawResponse, latency: Duration) {
    let latency_ms = millis(latency);
    let status = response.status;
    match request_id(response) {
        Some(request_id) => tracing::info!(
            target: TARGET, parent: span, status, request_id, latency_ms, "answered"
        ),
        None => tracing::info!(target: TARGET, parent: span, status, latency_ms, "answered"),
    }
}

/// What failed, for logs: `connect` (nothing was sent), `timeout`, `connection` (closed or
/// reset after sending).
pub(super) fn failure_kind(failure: &super::NoResponse) -> &'static str {
    if !failure.maybe_sent {
        "connect"
    } else if failure.timeout {
        "timeout"
    } else {
        "connection"
    }
}

/// An attempt got no usable answer: `failure` is [`failure_kind`]'s, `deadline` (the call's
/// deadline cut it off) or `final` (not sendable, or an answer no WeChat server sends: a body
/// over the size limit).
pub(super) fn no_answer(span: &Span, failure: &'static str, maybe_sent: bool, latency: Duration) {
    let latency_ms = millis(latency);
    tracing::warn!(target: TARGET, parent: span, failure, maybe_sent, latency_ms, "no answer");
}

/// The call goes on with another attempt after `delay`, on `next_host`.
pub(super) fn retrying(reason: &str, next_host: Host, delay: Duration) {
    let delay_ms = millis(delay);
    tracing::info!(
        target: TARGET,
        retry_reason = reason,
        next_host = next_host.as_str(),
        delay_ms,
        "retrying"
    );
}

/// The last outcome stands although it was retryable.
pub(super) fn not_retried(reason: &'static str) {
    tracing::info!(target: TARGET, reason, "not retried");
}

/// An error's kind for an `error_kind` field: the bridge's class name (`SignatureError`, …),
/// never the error's text (it may quote an answer or name a path).
pub fn error_kind(e: &crate::Error) -> &'static str {
    crate::bridge::ErrorKind::of(e).class_name()
}
