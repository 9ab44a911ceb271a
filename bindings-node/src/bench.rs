//! Benchmark support (`bindings-node/bench/`): the crypto floor of one call, measured by the
//! core (`weixin_kit::bridge::bench`, shared with the other bindings). Not public API.

use napi_derive::napi;

use crate::errors::to_napi;

/// `[sign_us, verify_us]`: CPU µs of the calling thread per RSA-2048 PKCS#1 v1.5 SHA-256
/// signature with `private_key` and per verification with `public_key` (PEMs), each repeated
/// for about `seconds` of wall time. Synchronous: it blocks the JS thread meanwhile.
#[napi(js_name = "_cryptoFloor")]
pub fn crypto_floor(
    private_key: String,
    public_key: String,
    seconds: f64,
) -> napi::Result<Vec<f64>> {
    let (sign, verify) =
        weixin_kit::bridge::bench::crypto_floor(&private_key, &public_key, seconds)
            .map_err(to_napi)?;
    Ok(vec![sign, verify])
}
