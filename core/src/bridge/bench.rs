//! Benchmark support for every binding's `bench/`: the crypto floor of one WeChat Pay call (one
//! RSA-2048 signature and one verification), measured in the benchmark's own process by the
//! core's own key types with keys parsed once, as the clients use them. Not part of the API.

use std::time::Duration;

use crate::crypto::{PrivateKey, PublicKey};
use crate::error::Result;

/// `(sign_us, verify_us)`: CPU µs of the calling thread per RSA-2048 PKCS#1 v1.5 SHA-256
/// signature with `private_key_pem` and per verification with `public_key_pem`, each repeated
/// for about `seconds` of wall time (clamped to 0.01–60). Blocks the calling thread.
pub fn crypto_floor(
    private_key_pem: &str,
    public_key_pem: &str,
    seconds: f64,
) -> Result<(f64, f64)> {
    let key = PrivateKey::from_pem(private_key_pem)?;
    let public = PublicKey::from_pem(public_key_pem)?;
    let budget = Duration::from_secs_f64(seconds.clamp(0.01, 60.0));
    let message = b"PATCH\n/v3/marketing/busifavor/stocks/1\n1700000000\nNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNN\n{\"comment\":\"c\"}\n";
    let signature = key.sign_sha256(message)?;
    let sign = per_call(budget, || {
        let _ = key.sign_sha256(message);
    });
    let verify = per_call(budget / 2, || {
        let _ = public.verify_sha256(message, &signature);
    });
    Ok((sign, verify))
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

#[cfg(test)]
mod tests {
    #[test]
    fn measures_something_for_real_keys_and_rejects_bad_ones() {
        let keys: serde_json::Value =
            serde_json::from_str(include_str!("../../../spec/vectors/keys.json")).unwrap();
        let find = |wanted: &str| -> String {
            fn walk(v: &serde_json::Value, wanted: &str) -> Option<String> {
                match v {
                    serde_json::Value::String(s) if s.contains(wanted) => Some(s.clone()),
                    serde_json::Value::Object(m) => m.values().find_map(|v| walk(v, wanted)),
                    serde_json::Value::Array(a) => a.iter().find_map(|v| walk(v, wanted)),
                    _ => None,
                }
            }
            walk(&keys, wanted).expect("a key of that kind in spec/vectors/keys.json")
        };
        let private = find("-----BEGIN PRIVATE KEY-----");
        let public = find("-----BEGIN PUBLIC KEY-----");
        let (sign, verify) = super::crypto_floor(&private, &public, 0.01).unwrap();
        assert!(sign > 0.0 && verify > 0.0, "{sign} {verify}");
        assert!(super::crypto_floor("not a key", &public, 0.01).is_err());
    }
}
