//! The core's signing, verification and decryption as module functions (re-exported, typed and
//! documented, by `weixin_kit.crypto`). Each is a conversion of arguments around
//! `weixin_kit::bridge::crypto`, shared with the other bindings. The RSA operations run with the GIL released.

use pyo3::prelude::*;
use pyo3::types::PyString;
use weixin_kit::bridge::crypto;
use weixin_kit::SecretString;

use crate::convert::body_bytes;
use crate::errors::{validation, wx};

/// The `Authorization` header value (`WECHATPAY2-SHA256-RSA2048 mchid="…",…`) for a request:
/// `url` is the path and query as sent, `body` the exact bytes sent ("" for none).
#[pyfunction]
#[pyo3(signature = (mchid, serial_no, private_key, method, url, body, timestamp, nonce))]
#[allow(clippy::too_many_arguments)]
pub fn build_authorization(
    py: Python<'_>,
    mchid: String,
    serial_no: String,
    private_key: String,
    method: String,
    url: String,
    body: &Bound<'_, PyAny>,
    timestamp: i64,
    nonce: String,
) -> PyResult<String> {
    // Moved (not copied) into a SecretString: the key's buffer is wiped when the call ends.
    let private_key = SecretString::new(private_key);
    let body = body_bytes(py, body, "body")?;
    let result = py.detach(move || {
        crypto::build_authorization(
            &mchid,
            &serial_no,
            private_key.expose(),
            &method,
            &url,
            &body,
            timestamp,
            &nonce,
        )
    });
    wx(py, result)
}

/// True when `signature` (base64) is WeChat Pay's signature over `TIMESTAMP\nNONCE\nBODY\n`
/// with `public_key`: a WeChat Pay public key PEM or a platform certificate PEM. No clock check
/// (the clients reject timestamps more than 5 minutes off; here the caller decides).
#[pyfunction]
pub fn verify_signature(
    py: Python<'_>,
    public_key: String,
    timestamp: &Bound<'_, PyAny>,
    nonce: String,
    body: &Bound<'_, PyAny>,
    signature: String,
) -> PyResult<bool> {
    let timestamp = if let Ok(s) = timestamp.cast::<PyString>() {
        s.to_cow()?.into_owned()
    } else if let Ok(n) = timestamp.extract::<i64>() {
        n.to_string()
    } else {
        return Err(validation(
            py,
            "timestamp",
            "must be the Wechatpay-Timestamp value (str or int)",
        ));
    };
    let body = body_bytes(py, body, "body")?;
    let result = py.detach(move || {
        crypto::verify_signature(&public_key, &timestamp, &nonce, &body, &signature)
    });
    wx(py, result)
}

/// Decrypts a notification `resource` (or a downloaded certificate): AEAD_AES_256_GCM with the
/// 32-byte APIv3 key; `ciphertext` is base64 with the 16-byte tag at the end. A tag that does not
/// verify is a `SignatureError`.
#[pyfunction]
pub fn decrypt_resource(
    py: Python<'_>,
    apiv3_key: String,
    nonce: String,
    associated_data: String,
    ciphertext: String,
) -> PyResult<String> {
    // Moved into a SecretString: wiped when the call ends.
    let apiv3_key = SecretString::new(apiv3_key);
    wx(
        py,
        crypto::decrypt_resource(apiv3_key.expose(), &nonce, &associated_data, &ciphertext),
    )
}

/// 卡券签名: SHA1 hex of the sorted, concatenated values of api_ticket, card_id, timestamp,
/// nonce_str and, when given, code and openid.
#[pyfunction]
#[pyo3(signature = (api_ticket, card_id, timestamp, nonce_str, code = None, openid = None))]
pub fn sign_card_ext(
    api_ticket: String,
    card_id: String,
    timestamp: i64,
    nonce_str: String,
    code: Option<String>,
    openid: Option<String>,
) -> String {
    // Moved into a SecretString: wiped when the call ends.
    let api_ticket = SecretString::new(api_ticket);
    crypto::sign_card_ext(
        api_ticket.expose(),
        &card_id,
        timestamp,
        &nonce_str,
        code.as_deref(),
        openid.as_deref(),
    )
}
