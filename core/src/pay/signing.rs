//! WeChat Pay APIv3 request signing and response/notification signature verification.
//!
//! Requests: `METHOD\nURL\nTIMESTAMP\nNONCE\nBODY\n`, RSASSA-PKCS1-v1_5 SHA-256 with the merchant
//! key, sent as `Authorization: WECHATPAY2-SHA256-RSA2048 mchid="…",nonce_str="…",timestamp="…",
//! serial_no="…",signature="…"`.
//!
//! Responses and notifications: `TIMESTAMP\nNONCE\nBODY\n` from `Wechatpay-Timestamp`,
//! `Wechatpay-Nonce` and the raw body, checked against `Wechatpay-Signature` with the key named by
//! `Wechatpay-Serial`: the WeChat Pay public key when the serial is its `PUB_KEY_ID_…`, else the
//! platform certificate with that serial. Timestamps more than 5 minutes off are rejected.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, RwLock};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

use crate::crypto::x509::serial_key;
use crate::crypto::{Certificate, PrivateKey, PublicKey};

/// The only signature scheme of APIv3.
pub const SCHEME: &str = "WECHATPAY2-SHA256-RSA2048";
/// How far (seconds, either direction) a response or notification timestamp may be from now.
pub const MAX_CLOCK_SKEW_SECS: i64 = 300;

/// `Wechatpay-Serial`: the public key ID or the platform certificate serial that signed.
pub const HEADER_SERIAL: &str = "Wechatpay-Serial";
/// `Wechatpay-Signature`: base64 RSA signature.
pub const HEADER_SIGNATURE: &str = "Wechatpay-Signature";
/// `Wechatpay-Timestamp`: Unix seconds.
pub const HEADER_TIMESTAMP: &str = "Wechatpay-Timestamp";
/// `Wechatpay-Nonce`: the signer's random string.
pub const HEADER_NONCE: &str = "Wechatpay-Nonce";
/// `Wechatpay-Signature-Type`: absent or `WECHATPAY2-SHA256-RSA2048`, in public-key mode as in
/// certificate mode (WeChat Pay's 如何使用微信支付公钥验签 shows a `PUB_KEY_ID_…` answer with
/// `Wechatpay-Signature-Type: WECHATPAY2-SHA256-RSA2048`,
/// <https://pay.weixin.qq.com/docs/merchant/development/interface-rules/build-verify-sign-src.html>).
/// Any other value (e.g. a national-cryptography `WECHATPAY2-SM2-WITH-SM3`) is refused.
pub const HEADER_SIGNATURE_TYPE: &str = "Wechatpay-Signature-Type";

/// `METHOD\nURL\nTIMESTAMP\nNONCE\nBODY\n` (empty body → empty line). `url` is the path and
/// query exactly as sent (`/v3/…?a=b`); `body` is the exact bytes sent.
pub fn signing_string(
    method: &str,
    url: &str,
    timestamp: i64,
    nonce: &str,
    body: &[u8],
) -> Vec<u8> {
    let ts = timestamp.to_string();
    let mut s =
        Vec::with_capacity(method.len() + url.len() + ts.len() + nonce.len() + body.len() + 5);
    for part in [
        method.as_bytes(),
        url.as_bytes(),
        ts.as_bytes(),
        nonce.as_bytes(),
        body,
    ] {
        s.extend_from_slice(part);
        s.push(b'\n');
    }
    s
}

/// The full `Authorization` header value:
/// `WECHATPAY2-SHA256-RSA2048 mchid="…",nonce_str="…",timestamp="…",serial_no="…",signature="…"`.
#[allow(clippy::too_many_arguments)]
pub fn build_authorization(
    mchid: &str,
    serial_no: &str,
    key: &PrivateKey,
    method: &str,
    url: &str,
    body: &[u8],
    timestamp: i64,
    nonce: &str,
) -> crate::Result<String> {
    check_header_fields(mchid, serial_no, nonce)?;
    let message = signing_string(method, url, timestamp, nonce, body);
    let signature = BASE64.encode(key.sign_sha256(&message)?);
    Ok(authorization(
        mchid, serial_no, timestamp, nonce, &signature,
    ))
}

/// The values that go into the `Authorization` header between quotes must not break it out.
pub(crate) fn check_header_fields(mchid: &str, serial_no: &str, nonce: &str) -> crate::Result<()> {
    for (field, value) in [("mchid", mchid), ("serial_no", serial_no), ("nonce", nonce)] {
        if value.is_empty()
            || value
                .bytes()
                .any(|b| b == b'"' || b == b',' || !(0x21..0x7f).contains(&b))
        {
            return Err(crate::Error::validation(
                field,
                "must be non-empty printable ASCII without quotes, commas or spaces (it goes into the Authorization header)",
            ));
        }
    }
    Ok(())
}

/// The header value around an already computed base64 `signature` (fields checked by
/// [`check_header_fields`]).
pub(crate) fn authorization(
    mchid: &str,
    serial_no: &str,
    timestamp: i64,
    nonce: &str,
    signature: &str,
) -> String {
    format!(
        "{SCHEME} mchid=\"{mchid}\",nonce_str=\"{nonce}\",timestamp=\"{timestamp}\",serial_no=\"{serial_no}\",signature=\"{signature}\""
    )
}

/// The keys that may have signed a response or notification, chosen by `Wechatpay-Serial`:
/// a WeChat Pay public key (public-key mode, ID `PUB_KEY_ID_…`), platform certificates
/// (certificate mode, by serial), or both at once while migrating from one to the other.
///
/// Cheap to clone; clones share the certificate set, which [`Verifier::set_certificates`]
/// replaces at runtime.
#[derive(Clone, Default)]
pub struct Verifier {
    public_key: Option<Arc<(String, PublicKey)>>,
    /// Keyed by [`serial_key`] (upper case, leading zeros dropped).
    certificates: Arc<RwLock<HashMap<String, Certificate>>>,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("public_key_id", &self.public_key.as_ref().map(|k| &k.0))
            .field("certificate_serials", &self.certificate_serials())
            .finish()
    }
}

impl Verifier {
    pub fn new() -> Self {
        Self::default()
    }

    /// Public-key mode: responses signed with `Wechatpay-Serial: <public_key_id>` are checked
    /// with `key` (WeChat Pay public key, `pub_key.pem`).
    pub fn with_public_key(mut self, public_key_id: impl Into<String>, key: PublicKey) -> Self {
        self.public_key = Some(Arc::new((public_key_id.into(), key)));
        self
    }

    /// Replaces the platform certificate set (for every clone of this verifier).
    pub fn set_certificates(&self, certs: Vec<Certificate>) {
        let map = certs
            .into_iter()
            .map(|c| (serial_key(&c.serial_no), c))
            .collect();
        *self.certificates.write().unwrap_or_else(|e| e.into_inner()) = map;
    }

    /// The serials of the current platform certificates, sorted.
    pub fn certificate_serials(&self) -> Vec<String> {
        let certs = self.certificates.read().unwrap_or_else(|e| e.into_inner());
        let mut serials: Vec<String> = certs.values().map(|c| c.serial_no.clone()).collect();
        serials.sort();
        serials
    }

    /// The serial of the newest platform certificate valid at `now` (latest `not_after`), as
    /// wechatpay-go's `GetNewestSerial` picks it: what a certificate-mode client names in
    /// `Wechatpay-Serial`.
    pub fn newest_certificate_serial(&self, now: i64) -> Option<String> {
        let certs = self.certificates.read().unwrap_or_else(|e| e.into_inner());
        certs
            .values()
            .filter(|c| c.is_valid_at(now))
            .max_by_key(|c| c.not_after)
            .map(|c| c.serial_no.clone())
    }

    /// Whether a platform certificate with `serial` is loaded and has not expired at `now`
    /// (the test [`verify`] applies: an expired certificate counts as unknown).
    pub fn has_unexpired_certificate(&self, serial: &str, now: i64) -> bool {
        let certs = self.certificates.read().unwrap_or_else(|e| e.into_inner());
        certs
            .get(&serial_key(serial))
            .is_some_and(|c| now <= c.not_after)
    }

    pub fn has_public_key(&self) -> bool {
        self.public_key.is_some()
    }

    /// The configured public key ID (`PUB_KEY_ID_…`), if any.
    pub fn public_key_id(&self) -> Option<&str> {
        self.public_key.as_ref().map(|k| k.0.as_str())
    }

    /// The key for `serial`, if known: the public key, or a platform certificate that has not
    /// expired at `now` (an expired one is treated as unknown, which makes the client download
    /// the current set).
    ///
    /// `notBefore` is not checked: the risk is a retired key still being trusted, not one
    /// trusted early, and the shared test vectors sign at a fixed time that precedes their
    /// certificate's `notBefore`.
    fn key_for(&self, serial: &str, now: i64) -> Option<PublicKey> {
        if let Some(pk) = &self.public_key {
            if pk.0 == serial {
                return Some(pk.1.clone());
            }
        }
        let certs = self.certificates.read().unwrap_or_else(|e| e.into_inner());
        certs
            .get(&serial_key(serial))
            .filter(|c| now <= c.not_after)
            .map(|c| c.public_key.clone())
    }
}

/// How every WeChat Pay signature probe starts: WeChat Pay sends answers and notifications whose
/// `Wechatpay-Signature` is `WECHATPAY/SIGNTEST/…` to check that merchants verify. They must fail
/// like any bad signature (wechatpay-go has no special case: its validator passes the value to
/// `Verify`, which fails, core/auth/validators/wechat_pay_validator.go); they are recognised
/// only to say so, before the key is looked up (a probe never triggers a certificate download).
pub const SIGNATURE_PROBE_PREFIX: &str = "WECHATPAY/SIGNTEST/";

/// Why a signature check failed; `UnknownSerial` lets the client refresh certificates once.
#[derive(Debug, Clone, PartialEq)]
pub enum VerifyFailure {
    /// A required `Wechatpay-*` header is absent (its name).
    MissingHeader(&'static str),
    /// `Wechatpay-Serial` names neither the public key ID nor a loaded platform certificate that
    /// is still valid.
    UnknownSerial(String),
    /// `Wechatpay-Timestamp` is more than 300 s from `now`.
    Stale { timestamp: i64, now: i64 },
    /// The signature does not verify over `TIMESTAMP\nNONCE\nBODY\n` with the selected key.
    BadSignature,
    /// A header is present but unusable (what is wrong), or present more than once.
    Malformed(String),
    /// `Wechatpay-Signature` is a WeChat Pay signature probe ([`SIGNATURE_PROBE_PREFIX`]).
    Probe,
}

impl fmt::Display for VerifyFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyFailure::MissingHeader(h) => write!(f, "the {h} header is missing"),
            VerifyFailure::UnknownSerial(s) => write!(
                f,
                "unknown serial {s} in {HEADER_SERIAL}: it is neither the configured WeChat Pay public key ID nor the serial of a loaded, unexpired platform certificate"
            ),
            VerifyFailure::Stale { timestamp, now } => write!(
                f,
                "{HEADER_TIMESTAMP}: timestamp {timestamp} is more than 5 minutes from now ({now}; {} s apart, the timestamp {}): a replay, or a wrong clock",
                // Not `(now - timestamp).abs()`: that overflows for extreme timestamps.
                now.abs_diff(*timestamp),
                if timestamp > now { "ahead" } else { "behind" }
            ),
            VerifyFailure::Probe => write!(
                f,
                "{HEADER_SIGNATURE} is a WeChat Pay signature probe ({SIGNATURE_PROBE_PREFIX}…): it never verifies, and is refused like any bad signature"
            ),
            VerifyFailure::BadSignature => write!(
                f,
                "signature does not match: {HEADER_SIGNATURE} does not verify over TIMESTAMP\\nNONCE\\nBODY\\n with the key named by {HEADER_SERIAL}, a key this client knows: the body, timestamp or nonce was altered after WeChat Pay signed them (by a proxy, or by verifying a parsed and re-serialised body instead of the raw bytes received), or WeChat Pay did not sign them"
            ),
            VerifyFailure::Malformed(what) => f.write_str(what),
        }
    }
}

impl std::error::Error for VerifyFailure {}

impl From<VerifyFailure> for crate::Error {
    fn from(f: VerifyFailure) -> Self {
        crate::Error::Signature {
            detail: f.to_string(),
        }
    }
}

/// The one value of header `name`: absent, empty or repeated is a failure (a repeated
/// `Wechatpay-*` header leaves it open which value was signed).
fn header<'a>(headers: &'a http::HeaderMap, name: &'static str) -> Result<&'a str, VerifyFailure> {
    let mut values = headers.get_all(name).iter();
    let value = values.next().ok_or(VerifyFailure::MissingHeader(name))?;
    let more = values.count();
    if more > 0 {
        return Err(VerifyFailure::Malformed(format!(
            "the {name} header appears {} times; WeChat Pay sends it once",
            more + 1
        )));
    }
    let value = value
        .to_str()
        .map_err(|_| VerifyFailure::Malformed(format!("the {name} header is not visible ASCII")))?
        .trim();
    if value.is_empty() {
        return Err(VerifyFailure::MissingHeader(name));
    }
    Ok(value)
}

/// Verifies `TIMESTAMP\nNONCE\nBODY\n` from `Wechatpay-Timestamp`/`-Nonce`/`-Signature`/`-Serial`
/// and the raw body; rejects timestamps more than 300 s off `now` (either direction).
///
/// Checks in this order: headers present and not repeated, signature type, WeChat's signature
/// probes (`WECHATPAY/SIGNTEST/…`, [`VerifyFailure::Probe`]), timestamp, key by serial (a
/// platform certificate expired at `now` counts as unknown), signature.
pub fn verify(
    verifier: &Verifier,
    headers: &http::HeaderMap,
    body: &[u8],
    now: i64,
) -> Result<(), VerifyFailure> {
    let serial = header(headers, HEADER_SERIAL)?;
    let signature = header(headers, HEADER_SIGNATURE)?;
    let timestamp_text = header(headers, HEADER_TIMESTAMP)?;
    let nonce = header(headers, HEADER_NONCE)?;
    let mut kinds = headers.get_all(HEADER_SIGNATURE_TYPE).iter();
    if let Some(kind) = kinds.next() {
        if kinds.next().is_some() {
            return Err(VerifyFailure::Malformed(format!(
                "the {HEADER_SIGNATURE_TYPE} header appears more than once; WeChat Pay sends it once"
            )));
        }
        if kind.as_bytes() != SCHEME.as_bytes() {
            return Err(VerifyFailure::Malformed(format!(
                "{HEADER_SIGNATURE_TYPE} is {:?}; only {SCHEME} is supported",
                String::from_utf8_lossy(kind.as_bytes())
            )));
        }
    }
    if signature.starts_with(SIGNATURE_PROBE_PREFIX) {
        return Err(VerifyFailure::Probe);
    }
    let timestamp: i64 = timestamp_text.parse().map_err(|_| {
        VerifyFailure::Malformed(format!(
            "{HEADER_TIMESTAMP} {timestamp_text:?} is not a Unix timestamp in seconds"
        ))
    })?;
    if timestamp.abs_diff(now) > MAX_CLOCK_SKEW_SECS as u64 {
        return Err(VerifyFailure::Stale { timestamp, now });
    }
    let key = verifier
        .key_for(serial, now)
        .ok_or_else(|| VerifyFailure::UnknownSerial(serial.to_string()))?;
    let signature = BASE64
        .decode(signature)
        .map_err(|_| VerifyFailure::BadSignature)?;
    let mut message = Vec::with_capacity(timestamp_text.len() + nonce.len() + body.len() + 3);
    for part in [timestamp_text.as_bytes(), nonce.as_bytes(), body] {
        message.extend_from_slice(part);
        message.push(b'\n');
    }
    if key.verify_sha256(&message, &signature) {
        Ok(())
    } else {
        Err(VerifyFailure::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signing_string_layout() {
        assert_eq!(
            signing_string(
                "GET",
                "/v3/certificates",
                1554208460,
                "593BEC0C930BF1AFEB40B4A08C8FB242",
                b""
            ),
            b"GET\n/v3/certificates\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n\n"
        );
    }

    #[test]
    fn failure_texts() {
        let e: crate::Error = VerifyFailure::MissingHeader(HEADER_NONCE).into();
        assert!(
            e.to_string()
                .contains("the Wechatpay-Nonce header is missing"),
            "{e}"
        );
        let e: crate::Error = VerifyFailure::UnknownSerial("ABC".into()).into();
        assert!(e.to_string().contains("unknown serial ABC"), "{e}");
        let e: crate::Error = VerifyFailure::Stale {
            timestamp: 1,
            now: 1000,
        }
        .into();
        assert!(
            e.to_string()
                .contains("timestamp 1 is more than 5 minutes from now"),
            "{e}"
        );
        for (timestamp, now, apart) in [
            (i64::MIN, 1_700_000_000, "9223372038554775808 s apart"),
            (i64::MAX, -1, "9223372036854775808 s apart"),
            (i64::MIN, i64::MAX, "18446744073709551615 s apart"),
        ] {
            let e: crate::Error = VerifyFailure::Stale { timestamp, now }.into();
            assert!(e.to_string().contains(apart), "{e}");
        }
        let e: crate::Error = VerifyFailure::BadSignature.into();
        assert!(e.to_string().contains("signature does not match"), "{e}");
    }
}
