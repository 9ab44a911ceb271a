//! The native addon behind the npm package `weixin-kit`: an adapter over the core's bridge
//! (`weixin_kit::bridge`), with nothing per operation or per client in it.
//!
//! - [`client`]: `ClientCore`, one bridge client (WeChat Pay, mini-program or third-party
//!   platform) whose `call(name, args, bytes)` returns a Promise (and, for a platform,
//!   `authorizer(appid)` another core); the JS classes and the generated per-operation methods
//!   (`generated/*.js`) all end there.
//! - [`callbacks`]: JS functions (token provider, signer) as the bridge's host functions.
//! - [`errors`]: core errors → the bridge's error description, which `lib/native.js` turns
//!   into the class its kind names (`generated/errors.js`).
//! - [`crypto`]: the four crypto functions, over `weixin_kit::bridge::crypto`.
//! - [`logging`]: the core's log records to the JS function `setLogger` registers.
//! - [`bench`]: the crypto floor the benchmark (`bench/`) compares client CPU with.
//! - [`sandbox`]: the in-process sandbox behind `weixin-kit/testing` (feature `sandbox`).
//!
//! Every call runs on napi-rs's tokio runtime, off the JS thread: signing, verification and
//! I/O never block the event loop.

// napi-derive registers the exported functions only outside `cfg(test)`.
#![cfg_attr(test, allow(dead_code))]

mod bench;
mod callbacks;
mod client;
mod crypto;
mod errors;
mod logging;
#[cfg(feature = "sandbox")]
mod sandbox;

use napi_derive::napi;

/// The error kinds the core reports (`ERROR_KINDS`): class name and fields, base first. The
/// package's tests check that `generated/errors.js` defines exactly these.
#[napi]
pub fn error_kinds() -> serde_json::Value {
    weixin_kit::bridge::ERROR_KINDS
        .iter()
        .map(|k| serde_json::json!({ "class_name": k.class_name, "fields": k.fields }))
        .collect()
}

/// Every name a client of `family` (`"pay"`, `"mp"`, `"component"`) answers to, with its snake_case method
/// name: operations, local operations and actions.
#[napi]
pub fn callable(family: String) -> napi::Result<serde_json::Value> {
    let family = weixin_kit::bridge::Family::parse(&family).map_err(errors::to_napi)?;
    Ok(weixin_kit::bridge::callable(family)
        .into_iter()
        .map(|(name, method)| serde_json::json!([name, method]))
        .collect())
}

/// Whether the addon was built with the sandbox (`weixin-kit/testing`).
#[napi]
pub fn has_sandbox() -> bool {
    cfg!(feature = "sandbox")
}
