//! Benchmark support (`bindings-node/bench/`): the crypto floor of one call, measured in the
//! benchmark's own process by the core's own key types (aws-lc, as the client signs and
//! verifies), keys parsed once. The same measurement as Python's `_crypto_floor`. Not public API.

use std::time::Duration;

use napi_derive::napi;
use weixin_kit::crypto::{PrivateKey, PublicKey};

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
    let key = PrivateKey::from_pem(&private_key).map_err(to_napi)?;
    let public = PublicKey::from_pem(&public_key).map_err(to_napi)?;
    let budget = Duration::from_secs_f64(seconds.clamp(0.01, 60.0));
    let message = b"PATCH\n/v3/marketing/busifavor/stocks/1\n1700000000\nNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNN\n{\"comment\":\"c\"}\n";
    let signature = key.sign_sha256(message).map_err(to_napi)?;
    let sign = per_call(budget, || {
        let _ = key.sign_sha256(message);
    });
    let verify = per_call(budget / 2, || {
        let _ = public.verify_sha256(message, &signature);
    });
    Ok(vec![sign, verify])
}

/// CPU µs of this thread per `f()`, repeated until `budget` of wall time has passed.
fn per_call(budget: Duration, mut f: impl FnMut()) -> f64 {
    f(); // warm (lazy Montgomery contexts and the like)
    let (wall, cpu) = (std::time::Instant::now(), thread_cpu());
    let mut calls = 0u64;
    while wall.elapsed() < budget {
        f();
        calls += 1;
    }
    (thread_cpu() - cpu).as_secs_f64() * 1e6 / calls.max(1) as f64
}

#[cfg(unix)]
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid out-pointer; CLOCK_THREAD_CPUTIME_ID always exists on Linux/macOS.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

#[cfg(not(unix))]
fn thread_cpu() -> Duration {
    // Wall time elsewhere: the thread runs alone in the benchmark.
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START.get_or_init(std::time::Instant::now).elapsed()
}
