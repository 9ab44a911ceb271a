//! Outgoing notifications: the merchant coupon event (COUPON.SEND) POSTed to the URL registered
//! with SetCouponNotify, encrypted (AEAD_AES_256_GCM with the APIv3 key) inside the notification
//! envelope and signed like a response.
//!
//! The real WeChat Pay retries a failed notification (non-2xx answer or no answer within 5 s)
//! every 60 s, 11 times in total (spec: webhook `BusifavorCouponEvent`). The sandbox retries
//! on the same conditions but on a short, configurable schedule ([`RetryPolicy`]; default 3
//! attempts 200 ms apart).

use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use weixin_kit::pay::{
    BusifavorCouponAttachInfo, BusifavorCouponEvent, BusifavorCouponEventType,
    BusifavorSendChannel, NotificationAlgorithm, NotificationEnvelope, NotificationResource,
};

use crate::auth::{self, SignFaults};
use crate::{keys, util, SandboxError, Shared};

/// How notifications are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total (first one included).
    pub attempts: u32,
    /// Pause between attempts.
    pub interval: Duration,
    /// How long one attempt may take (WeChat: the merchant must answer within 5 s).
    pub timeout: Duration,
}

/// A COUPON.SEND notification to send. Only `stock_id` is required; the rest has defaults
/// (a random coupon_code, send_channel BUSICOUPON_SEND_CHANNEL_API, the sandbox merchant, now).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CouponNotification {
    pub stock_id: String,
    #[serde(default)]
    pub coupon_code: Option<String>,
    #[serde(default)]
    pub openid: Option<String>,
    #[serde(default)]
    pub unionid: Option<String>,
    /// A `BusifavorSendChannel` wire value.
    #[serde(default)]
    pub send_channel: Option<String>,
    #[serde(default)]
    pub send_merchant: Option<String>,
    #[serde(default)]
    pub send_time: Option<String>,
    #[serde(default)]
    pub attach_info: Option<BusifavorCouponAttachInfo>,
    /// The envelope's event_type (default COUPON.SEND).
    #[serde(default)]
    pub event_type: Option<String>,
    /// Send here instead of the registered URL.
    #[serde(default)]
    pub notify_url: Option<String>,
    /// Override the retry policy for this notification.
    #[serde(default)]
    pub max_attempts: Option<u32>,
    #[serde(default)]
    pub interval_ms: Option<u64>,
    /// Spoil the signature (tests of the merchant's verification).
    #[serde(default)]
    pub tamper_signature: bool,
    /// Sign with a timestamp 10 minutes old.
    #[serde(default)]
    pub stale_timestamp: bool,
    /// `"full"` (default: `summary`, `resource.original_type` "coupon", `associated_data`
    /// "coupon", as the official example) or `"minimal"`: the variant published examples show
    /// (TheNorthMemory's COUPON.SEND example; wechatpay-go requires none of these fields): no
    /// `summary`, no `resource.original_type`, `associated_data: ""` — still signed, and
    /// encrypted with the empty string as AAD.
    #[serde(default)]
    pub variant: Option<String>,
    /// Sign with this key (`public_key` or `certificate`) instead of the sandbox's signing mode
    /// (in `migration` mode notifications are signed with the certificate unless this says
    /// otherwise: WeChat moves callbacks to the public key gradually, "回调使用公钥比例").
    #[serde(default)]
    pub signing_mode: Option<crate::SigningMode>,
}

/// One HTTP attempt.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Attempt {
    pub attempt: u32,
    /// The receiver's HTTP status; absent when the connection failed or timed out.
    pub status: Option<u16>,
    pub error: Option<String>,
    pub elapsed_ms: u64,
}

/// What happened to a notification.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DeliveryReport {
    /// The envelope id.
    pub id: String,
    pub notify_url: String,
    /// A 2xx answer was received.
    pub delivered: bool,
    pub attempts: Vec<Attempt>,
    /// The envelope as sent (JSON).
    pub envelope: Value,
    /// The decrypted resource (`BusifavorCouponEvent`).
    pub payload: Value,
}

pub(crate) struct Notifier {
    pub policy: RetryPolicy,
    client: reqwest::Client,
}

impl Notifier {
    pub fn new(policy: RetryPolicy) -> Notifier {
        Notifier {
            policy,
            client: reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("a plain reqwest client builds"),
        }
    }
}

pub(crate) async fn send_coupon_notification(
    shared: &Shared,
    n: CouponNotification,
) -> Result<DeliveryReport, SandboxError> {
    if n.stock_id.is_empty() {
        return Err(SandboxError::BadRequest("stock_id is required".into()));
    }
    let url = match n.notify_url.clone().or_else(|| shared.pay.notify_url()) {
        Some(u) => u,
        None => {
            return Err(SandboxError::BadRequest(
                "no notify_url: register one with SetCouponNotify first (or pass notify_url)"
                    .into(),
            ))
        }
    };
    let identity = &shared.identity;
    let payload = BusifavorCouponEvent {
        event_type: BusifavorCouponEventType::EventTypeBusicouponSend,
        coupon_code: n
            .coupon_code
            .unwrap_or_else(|| format!("sandbox{}", keys::random_digits(12))),
        stock_id: n.stock_id,
        send_time: n.send_time.unwrap_or_else(util::now_rfc3339),
        openid: n.openid,
        unionid: n.unionid,
        send_channel: BusifavorSendChannel::from(
            n.send_channel
                .as_deref()
                .unwrap_or("BUSICOUPON_SEND_CHANNEL_API"),
        ),
        send_merchant: n.send_merchant.unwrap_or_else(|| identity.mchid.clone()),
        attach_info: n.attach_info,
    };
    let minimal = match n.variant.as_deref() {
        None | Some("full") => false,
        Some("minimal") => true,
        Some(other) => {
            return Err(SandboxError::BadRequest(format!(
                "variant must be \"full\" or \"minimal\", got {other:?}"
            )))
        }
    };
    let plaintext = serde_json::to_vec(&payload).expect("the payload serializes");
    let nonce = keys::random_alnum(12);
    let associated_data = if minimal { "" } else { "coupon" };
    let sealed = keys::aes_gcm_encrypt(
        identity.apiv3_key.expose().as_bytes(),
        nonce.as_bytes(),
        associated_data.as_bytes(),
        &plaintext,
    )?;
    let id = uuid_like();
    // The minimal variant is the published one: no summary, no original_type, an empty
    // associated_data (then the AAD above is empty too).
    let envelope = NotificationEnvelope {
        id: id.clone(),
        create_time: util::now_rfc3339(),
        event_type: n.event_type.unwrap_or_else(|| "COUPON.SEND".into()),
        resource_type: "encrypt-resource".into(),
        summary: (!minimal).then(|| "商家券领券通知".into()),
        resource: NotificationResource {
            algorithm: NotificationAlgorithm::AeadAes256Gcm,
            ciphertext: B64.encode(sealed),
            associated_data: Some(associated_data.into()),
            // The official example (spec webhook BusifavorCouponEvent) says "coupon".
            original_type: (!minimal).then(|| "coupon".into()),
            nonce,
        },
    };
    let envelope: Value = serde_json::to_value(&envelope).expect("the envelope serializes");
    let body = serde_json::to_vec(&envelope).expect("the envelope serializes");
    let policy = RetryPolicy {
        attempts: n
            .max_attempts
            .unwrap_or(shared.notifier.policy.attempts)
            .max(1),
        interval: n
            .interval_ms
            .map(Duration::from_millis)
            .unwrap_or(shared.notifier.policy.interval),
        timeout: shared.notifier.policy.timeout,
    };
    let faults = SignFaults {
        tamper: n.tamper_signature,
        stale_secs: n.stale_timestamp.then_some(600),
    };
    let mut attempts = Vec::new();
    let mut delivered = false;
    for attempt in 1..=policy.attempts {
        if attempt > 1 {
            tokio::time::sleep(policy.interval).await;
        }
        // Each attempt is signed afresh (new timestamp and nonce), as WeChat does.
        let headers = auth::signature_headers(
            identity,
            n.signing_mode.unwrap_or_else(|| shared.signing_mode()),
            &body,
            util::unix_now(),
            faults,
        );
        let mut request = shared
            .notifier
            .client
            .post(&url)
            .timeout(policy.timeout)
            .header("Content-Type", "application/json")
            .header("User-Agent", "Mozilla/4.0 (weixin-kit-sandbox)")
            .body(body.clone());
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let started = Instant::now();
        let result = request.send().await;
        let elapsed_ms = started.elapsed().as_millis() as u64;
        match result {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let _ = resp.bytes().await;
                attempts.push(Attempt {
                    attempt,
                    status: Some(status),
                    error: None,
                    elapsed_ms,
                });
                if (200..300).contains(&status) {
                    delivered = true;
                    break;
                }
            }
            Err(e) => attempts.push(Attempt {
                attempt,
                status: None,
                error: Some(error_chain(&e)),
                elapsed_ms,
            }),
        }
    }
    let report = DeliveryReport {
        id,
        notify_url: url,
        delivered,
        attempts,
        envelope,
        payload: serde_json::to_value(&payload).expect("JSON"),
    };
    shared.log.record_notification(&report);
    Ok(report)
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        source = inner.source();
    }
    s
}

/// A random UUID-shaped id (`8b33f79f-8869-5ae5-b41b-3c0b59f957d0`).
fn uuid_like() -> String {
    let h = keys::random_hex(32);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}
