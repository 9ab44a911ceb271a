//! The uniffi library behind the Maven artifact `dev.weixinkit:weixin-kit`: an adapter over the
//! core's bridge (`weixin_kit::bridge`), with nothing per operation or per client in it. Its
//! Kotlin glue (package `dev.weixinkit.internal`) is generated at build time by uniffi-bindgen
//! from this library; the hand-written runtime (`src/main/kotlin`) and the generated typed
//! surface (`generated/`) are all that users see.
//!
//! - [`client`]: `ClientCore`, one bridge client (WeChat Pay or mini-program) whose
//!   `call(name, args_json, bytes)` is a Kotlin `suspend fun`.
//! - [`callbacks`]: the foreign trait `HostFunction` (a Kotlin token provider or signer) as the
//!   bridge's host function.
//! - [`errors`]: every failure as one FFI error carrying the bridge's `ErrorDescription` as JSON.
//! - [`crypto`]: the four crypto functions over `weixin_kit::bridge::crypto`.
//! - [`logging`]: the foreign trait `LogSink` (`WeixinKit.setLogger`) for the core's log records.
//! - [`runtime`]: the process-wide tokio runtime every call runs on.
//! - [`bench`]: the crypto floor for `bindings-kotlin/bench/` (not public API).
//!
//! JSON strings cross the FFI (as serde values cross napi-rs in the Node adapter): the Kotlin
//! side encodes and decodes them with kotlinx.serialization.

uniffi::setup_scaffolding!("weixin_kit");

mod bench;
mod callbacks;
mod client;
mod crypto;
mod errors;
mod logging;
mod runtime;

pub use callbacks::{CallbackFailure, HostFunction};
pub use client::ClientCore;
pub use errors::NativeError;
pub use logging::LogSink;

/// The error kinds the core reports (`ERROR_KINDS`) as a JSON array of
/// `{class_name, fields}`, base first: the Kotlin tests check the generated hierarchy against it.
#[uniffi::export]
pub fn error_kinds_json() -> String {
    let kinds: Vec<serde_json::Value> = weixin_kit::bridge::ERROR_KINDS
        .iter()
        .map(|k| serde_json::json!({ "class_name": k.class_name, "fields": k.fields }))
        .collect();
    serde_json::Value::Array(kinds).to_string()
}

/// Every name a client of `family` (`"pay"`, `"mp"`) answers to, as a JSON array of
/// `[name, snake_case_method]`.
#[uniffi::export]
pub fn callable_json(family: String) -> Result<String, NativeError> {
    let family = weixin_kit::bridge::Family::parse(&family)?;
    let names: Vec<serde_json::Value> = weixin_kit::bridge::callable(family)
        .into_iter()
        .map(|(name, method)| serde_json::json!([name, method]))
        .collect();
    Ok(serde_json::Value::Array(names).to_string())
}
