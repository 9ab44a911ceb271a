//! `weixin_kit._native`: the Python binding's native layer, an adapter over the core's bridge
//! (`weixin_kit::bridge`): one client class whose `call(name, args)` reaches every operation
//! and action, errors mapped by kind with one table, Python callables as callbacks, and the
//! sandbox as start / control / close. The per-operation Python surface is generated
//! (`weixin_kit/_generated/`) and the exceptions are Python classes (`weixin_kit/errors.py`).

mod asyncio;
mod bench;
mod callbacks;
mod cli;
mod client;
mod convert;
mod crypto;
mod errors;
mod logging;
mod runtime;
#[cfg(feature = "sandbox")]
mod sandbox;

use pyo3::prelude::*;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    // atexit and fork hooks: no Python work on runtime threads once the interpreter exits.
    runtime::install(m)?;
    m.add_class::<client::ClientCore>()?;
    #[cfg(feature = "sandbox")]
    m.add_class::<sandbox::SandboxCore>()?;
    m.add_function(wrap_pyfunction!(crypto::build_authorization, m)?)?;
    m.add_function(wrap_pyfunction!(crypto::verify_signature, m)?)?;
    m.add_function(wrap_pyfunction!(crypto::decrypt_resource, m)?)?;
    m.add_function(wrap_pyfunction!(crypto::sign_card_ext, m)?)?;
    m.add_function(wrap_pyfunction!(error_kinds, m)?)?;
    m.add_function(wrap_pyfunction!(cli::cli_main, m)?)?;
    m.add_function(wrap_pyfunction!(bench::_crypto_floor, m)?)?;
    m.add_function(wrap_pyfunction!(logging::_set_log_sink, m)?)?;
    m.add_function(wrap_pyfunction!(logging::_set_log_level, m)?)?;
    Ok(())
}

/// `[(class_name, [field, …]), …]`: the error kinds of the core's bridge, which
/// `weixin_kit.errors` defines one class each for (its tests check the two agree).
#[pyfunction]
fn error_kinds() -> Vec<(&'static str, Vec<&'static str>)> {
    weixin_kit::bridge::ERROR_KINDS
        .iter()
        .map(|k| (k.class_name, k.fields.to_vec()))
        .collect()
}
