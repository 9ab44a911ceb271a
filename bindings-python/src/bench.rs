//! Benchmark support (`bindings-python/bench/`): the crypto floor of one call, measured by the
//! core (`weixin_kit::bridge::bench`, shared with the other bindings). Not public API.

use pyo3::prelude::*;

use crate::errors::wx;

/// `(sign_us, verify_us)`: CPU µs of this thread per RSA-2048 PKCS#1 v1.5 SHA-256 signature
/// with `private_key` and per verification with `public_key` (PEMs), each repeated for about
/// `seconds`. The GIL is released meanwhile.
#[pyfunction]
pub fn _crypto_floor(
    py: Python<'_>,
    private_key: String,
    public_key: String,
    seconds: f64,
) -> PyResult<(f64, f64)> {
    let result = py.detach(move || {
        weixin_kit::bridge::bench::crypto_floor(&private_key, &public_key, seconds)
    });
    wx(py, result)
}
