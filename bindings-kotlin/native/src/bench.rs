//! Benchmark support (`bindings-kotlin/bench/`): the crypto floor of one call by the core's own
//! key types (aws-lc, what the client signs and verifies with), keys parsed once. The benchmark
//! measures the calling thread's CPU time around [`bench_sign_verify`] (it runs on that thread),
//! as Node's `_cryptoFloor` and Python's `_crypto_floor` do. Not public API.

use weixin_kit::crypto::{PrivateKey, PublicKey};

use crate::errors::NativeError;

/// Parses the two PEMs, then does `signs` RSA-2048 PKCS#1 v1.5 SHA-256 signatures with
/// `private_key` (when `verifies` is 0) or `verifies` verifications with `public_key` of one
/// such signature, on the calling thread. Returns how many operations were done.
#[uniffi::export]
pub fn bench_sign_verify(
    private_key: String,
    public_key: String,
    signs: u32,
    verifies: u32,
) -> Result<u32, NativeError> {
    let key = PrivateKey::from_pem(&private_key)?;
    let public = PublicKey::from_pem(&public_key)?;
    let message = b"PATCH\n/v3/marketing/busifavor/stocks/1212121212\n1700000000\nNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNN\n{\"out_request_no\":\"bench-1\",\"comment\":\"c\"}\n";
    let signature = key.sign_sha256(message)?;
    for _ in 0..signs {
        std::hint::black_box(key.sign_sha256(std::hint::black_box(message))?);
    }
    for _ in 0..verifies {
        std::hint::black_box(public.verify_sha256(std::hint::black_box(message), &signature));
    }
    Ok(signs + verifies)
}
