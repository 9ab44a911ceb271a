//! The crypto functions every binding exports (`build_authorization`, `verify_signature`,
//! `decrypt_resource`, `sign_card_ext`), with plain arguments, so that a binding's function is a
//! conversion of its arguments and nothing else. No cryptography here: keys are parsed and used
//! by [`crate::crypto`], the Authorization header by [`crate::pay::signing`], the card signature
//! by [`crate::mp::card`].

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

use crate::crypto::{ApiV3Key, Certificate, PrivateKey, PublicKey};
use crate::error::{Error, Result};
use crate::pay::signing;

/// The `Authorization` header value (`WECHATPAY2-SHA256-RSA2048 mchid="…",…`) for a request:
/// `url` is the path and query as sent, `body` the exact bytes sent (empty for none).
#[allow(clippy::too_many_arguments)]
pub fn build_authorization(
    mchid: &str,
    serial_no: &str,
    private_key_pem: &str,
    method: &str,
    url: &str,
    body: &[u8],
    timestamp: i64,
    nonce: &str,
) -> Result<String> {
    let key = PrivateKey::from_pem(private_key_pem)?;
    signing::build_authorization(mchid, serial_no, &key, method, url, body, timestamp, nonce)
}

/// Whether `signature` (base64) is WeChat Pay's signature over `TIMESTAMP\nNONCE\nBODY\n` with
/// `public_key_pem`: a WeChat Pay public key PEM or a platform certificate PEM. A signature that
/// is not base64 is `false`; a key that does not parse is an error. No clock check (the clients
/// reject timestamps more than 5 minutes off; here the caller decides).
pub fn verify_signature(
    public_key_pem: &str,
    timestamp: &str,
    nonce: &str,
    body: &[u8],
    signature: &str,
) -> Result<bool> {
    let key = if public_key_pem.contains("-----BEGIN CERTIFICATE-----") {
        Certificate::from_pem(public_key_pem)?.public_key
    } else {
        PublicKey::from_pem(public_key_pem)?
    };
    let Ok(signature) = BASE64.decode(signature.trim()) else {
        return Ok(false);
    };
    let mut message = Vec::with_capacity(timestamp.len() + nonce.len() + body.len() + 3);
    for part in [timestamp.as_bytes(), nonce.as_bytes(), body] {
        message.extend_from_slice(part);
        message.push(b'\n');
    }
    Ok(key.verify_sha256(&message, &signature))
}

/// Decrypts a notification `resource` (or a downloaded certificate): AEAD_AES_256_GCM with the
/// 32-byte APIv3 key; `ciphertext` is base64 with the 16-byte tag at the end. A tag that does not
/// verify is a `SignatureError`; a plaintext that is not UTF-8 a `ValidationError`.
pub fn decrypt_resource(
    apiv3_key: &str,
    nonce: &str,
    associated_data: &str,
    ciphertext: &str,
) -> Result<String> {
    let key = ApiV3Key::new(apiv3_key)?;
    let plaintext = key.decrypt(nonce, associated_data, ciphertext)?;
    String::from_utf8(plaintext)
        .map_err(|_| Error::validation("ciphertext", "decrypts to bytes that are not UTF-8 text"))
}

/// 卡券签名: SHA1 hex of the sorted, concatenated values of api_ticket, card_id, timestamp,
/// nonce_str and, when given, code and openid.
pub use crate::mp::sign_card_ext;
