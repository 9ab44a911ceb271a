//! JS functions as the bridge's host functions ([`HostFunction`]): a token provider or signer
//! that the core calls from its runtime threads.
//!
//! `lib/clients.js` wraps the user's function (plain or async) so that it always returns a
//! Promise resolving to `{ value }` or `{ error: "TypeError: …" }` and never throws; here a
//! weak thread-safe function (it does not keep the process alive) calls that wrapper on the JS
//! thread with the arguments as one array, and the Promise is awaited on the runtime.

use std::sync::Arc;

use napi::bindgen_prelude::{Function, Promise};
use napi::threadsafe_function::ThreadsafeFunction;
use serde_json::Value;
use weixin_kit::bridge::HostFunction;
use weixin_kit::BoxFuture;

type Tsfn = ThreadsafeFunction<Value, Promise<Value>, Value, napi::Status, false, true>;

/// A JS function the core may call from any thread.
pub struct JsCallable {
    function: Arc<Tsfn>,
}

impl JsCallable {
    pub fn new(function: &Function<'_, Value, Promise<Value>>) -> napi::Result<Self> {
        let function = function
            .build_threadsafe_function::<Value>()
            .callee_handled::<false>()
            .weak::<true>()
            .build()?;
        Ok(JsCallable {
            function: Arc::new(function),
        })
    }
}

impl HostFunction for JsCallable {
    fn call(&self, args: Vec<Value>) -> BoxFuture<'static, Result<Value, String>> {
        let function = self.function.clone();
        Box::pin(async move {
            let promise = function
                .call_async_catch(Value::Array(args))
                .await
                .map_err(|e| format!("could not be called: {}", e.reason))?;
            let outcome = promise.await.map_err(|e| format!("failed: {}", e.reason))?;
            match outcome {
                Value::Object(mut map) => match map.remove("error") {
                    Some(Value::String(error)) => Err(error),
                    Some(other) => Err(other.to_string()),
                    None => Ok(map.remove("value").unwrap_or(Value::Null)),
                },
                other => Err(format!("answered {other} (the package's wrapper broke)")),
            }
        })
    }
}
