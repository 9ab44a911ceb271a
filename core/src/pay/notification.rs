//! WeChat Pay notifications (回调通知): verify the signature, decrypt `resource`, type the event.
//!
//! Which payload type a notification carries is decided by the envelope's `event_type`, as the
//! spec says (`webhooks.*.x-weixin-event-types` with `x-weixin-resource-schema`): `COUPON.SEND`
//! carries a [`BusifavorCouponEvent`](crate::pay::BusifavorCouponEvent). Any other event type is
//! returned decrypted but untyped, as [`NotificationEvent::Other`].

use crate::crypto::ApiV3Key;
use crate::error::json_error;
use crate::pay::signing::{self, Verifier};
use crate::pay::{BusifavorCouponEvent, NotificationAlgorithm, NotificationEnvelope};
use crate::Error;

/// Envelope `event_type`s whose resource is a [`BusifavorCouponEvent`] (spec webhook
/// `BusifavorCouponEvent`, `x-weixin-event-types`).
pub const BUSIFAVOR_COUPON_EVENT_TYPES: &[&str] = &["COUPON.SEND"];

/// The largest notification body accepted: 1 MiB. WeChat Pay's notifications are a few KB
/// (an envelope around one encrypted event); a larger body is refused before its signature is
/// checked or anything in it is parsed or decrypted.
pub const MAX_NOTIFICATION_BYTES: usize = 1024 * 1024;

/// A verified, decrypted notification.
///
/// `Debug` shows the envelope's `id`, `create_time`, `event_type` and `resource_type` only: the
/// decrypted resource carries personal data (openid, coupon codes …).
#[derive(Clone)]
pub struct Notification {
    /// Unique notification ID: de-duplicate by it (WeChat may deliver the same one again).
    pub id: String,
    /// RFC 3339.
    pub create_time: String,
    /// e.g. `COUPON.SEND`.
    pub event_type: String,
    /// `encrypt-resource`.
    pub resource_type: String,
    pub summary: String,
    /// The decrypted `resource`, typed.
    pub event: NotificationEvent,
    /// The decrypted `resource` as received: every field, including any the spec does not
    /// know yet.
    pub resource: serde_json::Value,
}

impl std::fmt::Debug for Notification {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notification")
            .field("id", &self.id)
            .field("create_time", &self.create_time)
            .field("event_type", &self.event_type)
            .field("resource_type", &self.resource_type)
            .field("resource", &format_args!("<redacted>"))
            .finish_non_exhaustive()
    }
}

impl Notification {
    /// The notification as JSON, for the language bindings: the envelope's `id`, `create_time`,
    /// `event_type`, `resource_type`, `summary`, and `resource` decrypted.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "create_time": self.create_time,
            "event_type": self.event_type,
            "resource_type": self.resource_type,
            "summary": self.summary,
            "resource": self.resource,
        })
    }
}

/// The decrypted `resource`, typed when the event type is known. `Debug` shows the variant
/// only (the payload carries personal data).
// Unboxed so callers can match on the event directly; a notification is parsed once.
#[allow(clippy::large_enum_variant)]
#[derive(Clone)]
pub enum NotificationEvent {
    /// `COUPON.SEND`: a user received a merchant coupon (商家券领券事件).
    BusifavorCoupon(BusifavorCouponEvent),
    /// Any other event type: the decrypted JSON.
    Other(serde_json::Value),
}

impl std::fmt::Debug for NotificationEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let variant = match self {
            NotificationEvent::BusifavorCoupon(_) => "BusifavorCoupon",
            NotificationEvent::Other(_) => "Other",
        };
        write!(f, "{variant}(<redacted>)")
    }
}

/// Refuses a body larger than [`MAX_NOTIFICATION_BYTES`]: the first check on a notification.
pub(crate) fn check_size(body: &[u8]) -> crate::Result<()> {
    if body.len() > MAX_NOTIFICATION_BYTES {
        return Err(invalid(
            "notification",
            format!(
                "the body is {} bytes, more than MAX_NOTIFICATION_BYTES ({MAX_NOTIFICATION_BYTES} \
                 bytes, 1 MiB): refused before verifying or decrypting it",
                body.len()
            ),
        ));
    }
    Ok(())
}

fn invalid(field: &str, rule: impl Into<String>) -> Error {
    Error::Validation {
        field: field.into(),
        rule: rule.into(),
    }
}

/// Refuse a body over [`MAX_NOTIFICATION_BYTES`], verify (same key selection and 5-minute rule as
/// responses), then decrypt `resource` with the
/// APIv3 key, then type it.
///
/// Errors: [`Error::Signature`] for a missing/bad/stale signature or unknown serial (see
/// [`signing::VerifyFailure`]) and for a ciphertext whose AEAD tag fails (a wrong APIv3 key or
/// tampering); [`Error::Validation`] for a body over [`MAX_NOTIFICATION_BYTES`], one that is not a notification envelope, an
/// algorithm other than AEAD_AES_256_GCM, or a decrypted payload that is not the documented JSON.
pub fn parse(
    verifier: &Verifier,
    apiv3_key: &ApiV3Key,
    headers: &http::HeaderMap,
    body: &[u8],
    now: i64,
) -> crate::Result<Notification> {
    check_size(body)?;
    signing::verify(verifier, headers, body, now)?;
    decrypt_verified(apiv3_key, body)
}

/// The part of [`parse`] after the size and signature checks: decrypt `resource`, then type it.
/// `body` must have been checked ([`check_size`]) and verified already.
pub(crate) fn decrypt_verified(apiv3_key: &ApiV3Key, body: &[u8]) -> crate::Result<Notification> {
    let envelope: NotificationEnvelope = {
        let de = &mut serde_json::Deserializer::from_slice(body);
        serde_path_to_error::deserialize(de).map_err(|e| {
            invalid(
                "notification",
                format!(
                    "the body is not a WeChat Pay notification envelope: {}",
                    json_error(&e.path().to_string(), e.inner())
                ),
            )
        })?
    };
    let resource = &envelope.resource;
    if resource.algorithm != NotificationAlgorithm::AeadAes256Gcm {
        return Err(invalid(
            "notification.resource.algorithm",
            format!(
                "must be AEAD_AES_256_GCM (the only algorithm WeChat Pay documents), got {:?}",
                resource_algorithm_text(&resource.algorithm)
            ),
        ));
    }
    let plaintext = apiv3_key
        .decrypt(
            &resource.nonce,
            resource.associated_data.as_deref().unwrap_or(""),
            &resource.ciphertext,
        )
        .map_err(|e| match e {
            Error::Signature { detail } => Error::Signature {
                detail: format!("notification {}: resource: {detail}", envelope.id),
            },
            other => other,
        })?;

    let resource: serde_json::Value = serde_json::from_slice(&plaintext).map_err(|e| {
        invalid(
            "notification.resource",
            format!("the decrypted payload is not JSON: {}", json_error("", &e)),
        )
    })?;
    let event = if BUSIFAVOR_COUPON_EVENT_TYPES.contains(&envelope.event_type.as_str()) {
        let de = &mut serde_json::Deserializer::from_slice(&plaintext);
        let typed: BusifavorCouponEvent = serde_path_to_error::deserialize(de).map_err(|e| {
            invalid(
                "notification.resource",
                format!(
                    "the decrypted {} payload is not a BusifavorCouponEvent: {}",
                    envelope.event_type,
                    json_error(&e.path().to_string(), e.inner())
                ),
            )
        })?;
        NotificationEvent::BusifavorCoupon(typed)
    } else {
        NotificationEvent::Other(resource.clone())
    };

    Ok(Notification {
        id: envelope.id,
        create_time: envelope.create_time,
        event_type: envelope.event_type,
        resource_type: envelope.resource_type,
        // Optional in published examples (absent → empty), see the spec's NotificationEnvelope.
        summary: envelope.summary.unwrap_or_default(),
        event,
        resource,
    })
}

fn resource_algorithm_text(a: &NotificationAlgorithm) -> String {
    match a {
        NotificationAlgorithm::AeadAes256Gcm => "AEAD_AES_256_GCM".into(),
        NotificationAlgorithm::Unknown(s) => s.clone(),
    }
}
