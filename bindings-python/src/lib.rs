//! `weixin_kit._native`: the Python binding's native layer. Thin by design — generic entry
//! points (`call(name, args)`) over the Rust core; the per-operation Python surface is generated
//! (`weixin_kit/_generated/`) and the exceptions are Python classes (`weixin_kit/errors.py`).

mod bench;
mod convert;
mod crypto;
mod errors;
mod mp;
mod pay;
mod runtime;
mod sandbox;

use pyo3::prelude::*;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    // atexit and fork hooks: no Python work on runtime threads once the interpreter exits.
    runtime::install(m)?;
    m.add_class::<pay::PayCore>()?;
    m.add_class::<mp::MpCore>()?;
    m.add_class::<sandbox::SandboxCore>()?;
    m.add_function(wrap_pyfunction!(crypto::build_authorization, m)?)?;
    m.add_function(wrap_pyfunction!(crypto::verify_signature, m)?)?;
    m.add_function(wrap_pyfunction!(crypto::decrypt_resource, m)?)?;
    m.add_function(wrap_pyfunction!(crypto::sign_card_ext, m)?)?;
    m.add_function(wrap_pyfunction!(bench::_crypto_floor, m)?)?;
    Ok(())
}
