//! Kotlin functions as the bridge's host functions ([`weixin_kit::bridge::HostFunction`]): a
//! token provider or signer the core calls from its runtime threads.
//!
//! The Kotlin runtime implements the foreign trait [`HostFunction`] for each user callback
//! (`Signer`, `TokenProvider`): `call` gets the positional arguments as a JSON array and
//! answers the return value as JSON, or fails with [`CallbackFailure`] carrying
//! `"ExceptionClass: message"` (shown to the caller: nothing secret). uniffi runs the Kotlin
//! `suspend fun` as a coroutine and completes the Rust future when it returns.

use std::sync::Arc;

use serde_json::Value;
use weixin_kit::BoxFuture;

/// What a Kotlin callback raised: its description (exception class and message).
#[derive(Debug, uniffi::Error)]
pub enum CallbackFailure {
    Raised { description: String },
}

impl std::fmt::Display for CallbackFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallbackFailure::Raised { description } => f.write_str(description),
        }
    }
}

impl std::error::Error for CallbackFailure {}

/// uniffi needs this to report a failure of the FFI machinery itself (an exception the Kotlin
/// implementation did not declare).
impl From<uniffi::UnexpectedUniFFICallbackError> for CallbackFailure {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        CallbackFailure::Raised {
            description: format!("the callback failed unexpectedly: {}", e.reason),
        }
    }
}

/// A function of the Kotlin side (implemented by the runtime around the user's callback).
#[uniffi::export(with_foreign)]
#[async_trait::async_trait]
pub trait HostFunction: Send + Sync {
    /// `args_json`: the positional arguments as a JSON array; answers the result as JSON.
    async fn call(&self, args_json: String) -> Result<String, CallbackFailure>;
}

/// A [`HostFunction`] as the bridge takes it.
pub struct Foreign(pub Arc<dyn HostFunction>);

impl weixin_kit::bridge::HostFunction for Foreign {
    fn call(&self, args: Vec<Value>) -> BoxFuture<'static, Result<Value, String>> {
        let function = self.0.clone();
        Box::pin(async move {
            let answer = function
                .call(Value::Array(args).to_string())
                .await
                .map_err(|e| e.to_string())?;
            serde_json::from_str(&answer).map_err(|e| {
                format!("answered text that is not JSON ({e}; the package's wrapper broke)")
            })
        })
    }
}

/// The optional callback as the bridge's.
pub fn adapt(
    function: Option<Arc<dyn HostFunction>>,
) -> Option<Arc<dyn weixin_kit::bridge::HostFunction>> {
    function.map(|f| Arc::new(Foreign(f)) as Arc<dyn weixin_kit::bridge::HostFunction>)
}
