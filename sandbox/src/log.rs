//! The request log and counters.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// Which listener a request reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Listener {
    Main,
    Backup,
}

/// Bodies longer than this are cut in the log (an image upload can be 2 MiB).
pub const MAX_LOGGED_BODY: usize = 64 * 1024;

/// One request as the sandbox saw it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LogEntry {
    pub seq: u64,
    /// RFC 3339, Beijing time.
    pub time: String,
    pub listener: Listener,
    pub method: String,
    /// Path and query as received.
    pub path: String,
    /// The operation name (`ModifyStockInfo`, `setUserNotifyExt`, …) when the route is one.
    pub operation: Option<String>,
    /// The body as text (lossy UTF-8, cut at 64 KiB).
    pub body: String,
    /// WeChat Pay routes: `ok` or the reason the signature was rejected. Absent elsewhere.
    pub signature: Option<String>,
    /// The status answered; absent when the connection was dropped without a response.
    pub status: Option<u16>,
    /// Faults applied (`system_error`, `connection_reset`, `main_down`, …).
    pub faults: Vec<String>,
    pub request_id: Option<String>,
    /// The request's `Wechatpay-Serial` header (the key it asks WeChat Pay to answer with).
    #[serde(default)]
    pub wechatpay_serial: Option<String>,
    /// WeChat Pay routes, a rejected signature: what the inspector page shows side by side.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign_failure: Option<SignFailureLog>,
}

/// A rejected request signature as the log keeps it (no key, no signature value: the signing
/// strings are built from the method, path, timestamp, nonce and body the request carried).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SignFailureLog {
    /// Which part was wrong: authorization, mchid, serial_no, timestamp, nonce_str, signature.
    pub field: String,
    /// The signing string the sandbox built from the request as received.
    pub expected_signing_string: String,
    /// What the client says it signed: the [`SIGNED_STRING_HEADER`] request header (base64 of
    /// the signing string's bytes), when the client sent one. Absent otherwise: an RSA
    /// signature does not reveal the string it signs.
    #[serde(default)]
    pub received_signing_string: Option<String>,
    /// The signature verifies over `received_signing_string` with the merchant's public key:
    /// the client really signed that string (false: the header does not match the signature).
    #[serde(default)]
    pub received_verified: bool,
}

/// An optional request header a client (or a test) may send with the base64 of the exact
/// signing string it signed, so that the inspector page can show it next to the expected one.
/// Sandbox-only: WeChat ignores unknown headers; nothing secret is in a signing string.
pub const SIGNED_STRING_HEADER: &str = "x-sandbox-signed-string";

/// Notification delivery counters.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct NotificationCounters {
    /// Notifications sent (one per control call).
    pub sent: u64,
    /// Of those, delivered (a 2xx answer).
    pub delivered: u64,
    /// HTTP attempts in total, retries included.
    pub attempts: u64,
}

#[derive(Default)]
struct Inner {
    seq: u64,
    entries: Vec<LogEntry>,
    per_operation: BTreeMap<String, u64>,
    notifications: NotificationCounters,
    reports: Vec<crate::notify::DeliveryReport>,
}

#[derive(Default)]
pub struct RequestLog {
    inner: Mutex<Inner>,
}

impl RequestLog {
    pub fn push(&self, mut entry: LogEntry) {
        let mut inner = self.inner.lock().expect("lock");
        inner.seq += 1;
        entry.seq = inner.seq;
        let key = entry
            .operation
            .clone()
            .unwrap_or_else(|| format!("{} {}", entry.method, path_only(&entry.path)));
        *inner.per_operation.entry(key).or_default() += 1;
        inner.entries.push(entry);
    }

    pub fn entries(&self) -> Vec<LogEntry> {
        self.inner.lock().expect("lock").entries.clone()
    }

    /// Requests per operation (or `METHOD /path` for routes that are no operation).
    pub fn per_operation(&self) -> BTreeMap<String, u64> {
        self.inner.lock().expect("lock").per_operation.clone()
    }

    pub fn notifications(&self) -> NotificationCounters {
        self.inner.lock().expect("lock").notifications.clone()
    }

    pub fn record_notification(&self, report: &crate::notify::DeliveryReport) {
        let mut inner = self.inner.lock().expect("lock");
        inner.notifications.sent += 1;
        inner.notifications.attempts += report.attempts.len() as u64;
        if report.delivered {
            inner.notifications.delivered += 1;
        }
        inner.reports.push(report.clone());
    }

    /// Delivery reports of the notifications sent, oldest first.
    pub fn notification_reports(&self) -> Vec<crate::notify::DeliveryReport> {
        self.inner.lock().expect("lock").reports.clone()
    }

    pub fn reset(&self) {
        let mut inner = self.inner.lock().expect("lock");
        inner.entries.clear();
        inner.per_operation.clear();
        inner.notifications = NotificationCounters::default();
        inner.reports.clear();
    }
}

fn path_only(path: &str) -> &str {
    path.split('?').next().unwrap_or(path)
}

/// The body as it goes in the log.
pub fn body_text(body: &[u8]) -> String {
    if body.len() > MAX_LOGGED_BODY {
        format!(
            "{}… ({} bytes in total)",
            String::from_utf8_lossy(&body[..MAX_LOGGED_BODY]),
            body.len()
        )
    } else {
        String::from_utf8_lossy(body).into_owned()
    }
}

impl SignFailureLog {
    /// What the log keeps of `failure`: the expected string, and the received one when the
    /// request carries [`SIGNED_STRING_HEADER`] (checked against the request's signature).
    pub fn new(
        identity: &crate::Identity,
        headers: &axum::http::HeaderMap,
        failure: &crate::auth::SignFailure,
    ) -> SignFailureLog {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        let received = headers
            .get(SIGNED_STRING_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| b64.decode(v.trim()).ok());
        let signature = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| crate::auth::parse_authorization(v).ok())
            .and_then(|h| b64.decode(h.signature).ok());
        let received_verified = match (&received, &signature) {
            (Some(text), Some(sig)) => {
                crate::keys::verify(&identity.merchant_key.public_der(), text, sig)
            }
            _ => false,
        };
        SignFailureLog {
            field: failure.field.to_owned(),
            expected_signing_string: failure.expected_signing_string.clone(),
            received_signing_string: received.map(|b| String::from_utf8_lossy(&b).into_owned()),
            received_verified,
        }
    }
}
