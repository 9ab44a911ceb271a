//! `buildAuthorization`, `verifySignature`, `decryptResource`, `signCardExt`: conversions of
//! arguments around `weixin_kit::bridge::crypto` (shared with the other bindings). The two RSA
//! operations are `suspend` functions run on the runtime's blocking pool, so no coroutine
//! thread waits on them.

use weixin_kit::bridge::crypto;

use crate::errors::NativeError;
use crate::runtime;

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> weixin_kit::Result<T> + Send + 'static,
) -> Result<T, NativeError> {
    runtime::spawn(async move {
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| NativeError::internal(format!("a crypto task failed: {e}")))?
            .map_err(NativeError::from)
    })
    .await
}

/// The `Authorization` header (`WECHATPAY2-SHA256-RSA2048 mchid="…",…`) for a request: `url`
/// is the path and query as sent, `body` the exact bytes sent (empty for none).
#[uniffi::export]
#[allow(clippy::too_many_arguments)]
pub async fn build_authorization(
    mchid: String,
    serial_no: String,
    private_key: String,
    method: String,
    url: String,
    body: Vec<u8>,
    timestamp: i64,
    nonce: String,
) -> Result<String, NativeError> {
    blocking(move || {
        crypto::build_authorization(
            &mchid,
            &serial_no,
            &private_key,
            &method,
            &url,
            &body,
            timestamp,
            &nonce,
        )
    })
    .await
}

/// Whether `signature` (base64) is WeChat Pay's signature over `TIMESTAMP\nNONCE\nBODY\n` with
/// `public_key` (a WeChat Pay public key PEM or a platform certificate PEM).
#[uniffi::export]
pub async fn verify_signature(
    public_key: String,
    timestamp: String,
    nonce: String,
    body: Vec<u8>,
    signature: String,
) -> Result<bool, NativeError> {
    blocking(move || crypto::verify_signature(&public_key, &timestamp, &nonce, &body, &signature))
        .await
}

/// Decrypts a notification resource with the APIv3 key (AEAD_AES_256_GCM).
#[uniffi::export]
pub fn decrypt_resource(
    apiv3_key: String,
    nonce: String,
    associated_data: String,
    ciphertext: String,
) -> Result<String, NativeError> {
    Ok(crypto::decrypt_resource(
        &apiv3_key,
        &nonce,
        &associated_data,
        &ciphertext,
    )?)
}

/// 卡券签名: SHA1 hex of the sorted, concatenated values.
#[uniffi::export]
pub fn sign_card_ext(
    api_ticket: String,
    card_id: String,
    timestamp: i64,
    nonce_str: String,
    code: Option<String>,
    openid: Option<String>,
) -> String {
    crypto::sign_card_ext(
        &api_ticket,
        &card_id,
        timestamp,
        &nonce_str,
        code.as_deref(),
        openid.as_deref(),
    )
}
