//! `buildAuthorization`, `verifySignature`, `decryptResource`, `signCardExt`: conversions of
//! arguments around `weixin_kit::bridge::crypto` (shared with the other bindings). The RSA
//! operations run on the runtime's blocking pool and return Promises, so the event loop never
//! waits on them.

use napi::bindgen_prelude::{Buffer, Either};
use napi_derive::napi;
use weixin_kit::bridge::crypto;

use crate::errors::to_napi;

/// A body given as a Buffer/Uint8Array or text (its UTF-8 bytes).
pub type Body = Either<Buffer, String>;

pub fn body_bytes(body: Body) -> Vec<u8> {
    match body {
        Either::A(buffer) => buffer.to_vec(),
        Either::B(text) => text.into_bytes(),
    }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> weixin_kit::Result<T> + Send + 'static,
) -> napi::Result<T> {
    napi::bindgen_prelude::spawn_blocking(work)
        .await
        .map_err(|e| crate::errors::internal(format!("a crypto task failed: {e}")))?
        .map_err(to_napi)
}

/// The `Authorization` header for a request (see `index.d.ts`).
#[napi]
#[allow(clippy::too_many_arguments)]
pub async fn build_authorization(
    mchid: String,
    serial_no: String,
    private_key: String,
    method: String,
    url: String,
    body: Body,
    timestamp: i64,
    nonce: String,
) -> napi::Result<String> {
    let body = body_bytes(body);
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

/// Whether `signature` is WeChat Pay's signature over `TIMESTAMP\nNONCE\nBODY\n`.
#[napi]
pub async fn verify_signature(
    public_key: String,
    timestamp: Either<String, i64>,
    nonce: String,
    body: Body,
    signature: String,
) -> napi::Result<bool> {
    let timestamp = match timestamp {
        Either::A(text) => text,
        Either::B(number) => number.to_string(),
    };
    let body = body_bytes(body);
    blocking(move || crypto::verify_signature(&public_key, &timestamp, &nonce, &body, &signature))
        .await
}

/// Decrypts a notification resource with the APIv3 key (AEAD_AES_256_GCM).
#[napi]
pub fn decrypt_resource(
    apiv3_key: String,
    nonce: String,
    associated_data: String,
    ciphertext: String,
) -> napi::Result<String> {
    crypto::decrypt_resource(&apiv3_key, &nonce, &associated_data, &ciphertext).map_err(to_napi)
}

/// 卡券签名 (SHA1 of the sorted values).
#[napi]
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
