//! `SandboxCore`: the in-process WeChat sandbox (`weixin_kit_sandbox::Sandbox`) on napi-rs's
//! runtime, behind `weixin-kit/testing`: start, one generic `control(method, path, body)` over
//! its control API (sandbox/README.md), close. The JS class builds its whole API on those three,
//! as the Python helper does.

use std::sync::{Arc, Mutex};

use napi::bindgen_prelude::PromiseRaw;
use napi::Env;
use napi_derive::napi;
use serde_json::Value;
use weixin_kit_sandbox::{Sandbox, SandboxConfig};

use crate::errors::{config, to_napi};

/// A running sandbox: two loopback listeners (main, backup) serving WeChat Pay and
/// mini-program routes with the same state.
#[napi]
pub struct SandboxCore {
    inner: Arc<Mutex<Option<Arc<Sandbox>>>>,
    base_url: String,
    backup_base_url: String,
}

/// Starts a sandbox with a fresh identity on two free loopback ports.
#[napi(ts_return_type = "Promise<SandboxCore>")]
pub async fn start_sandbox() -> napi::Result<SandboxCore> {
    let sandbox = Sandbox::start(SandboxConfig::default())
        .await
        .map_err(|e| to_napi(e.into()))?;
    Ok(SandboxCore {
        base_url: sandbox.base_url(),
        backup_base_url: sandbox.backup_base_url(),
        inner: Arc::new(Mutex::new(Some(Arc::new(sandbox)))),
    })
}

impl SandboxCore {
    fn get(&self) -> napi::Result<Arc<Sandbox>> {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or_else(|| config("the sandbox is stopped"))
    }
}

#[napi]
impl SandboxCore {
    /// The main listener (stands for api.mch.weixin.qq.com and api.weixin.qq.com).
    #[napi(getter)]
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// The backup listener (stands for api2.mch.weixin.qq.com): same routes, same state.
    #[napi(getter)]
    pub fn backup_base_url(&self) -> String {
        self.backup_base_url.clone()
    }

    /// One control-API call (`GET /sandbox/counters`, `POST /sandbox/stocks` {…}), off the JS
    /// thread (a notification may be delivered to a server in this process).
    #[napi(ts_return_type = "Promise<unknown>")]
    pub fn control<'env>(
        &self,
        env: &'env Env,
        method: String,
        path: String,
        body: Option<Value>,
    ) -> napi::Result<PromiseRaw<'env, Value>> {
        let sandbox = self.get()?;
        let body = body.filter(|b| !b.is_null());
        env.spawn_future(async move {
            sandbox
                .control(&method, &path, body)
                .await
                .map_err(|e| to_napi(e.into()))
        })
    }

    /// Stops both listeners; idempotent.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn stop<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, ()>> {
        let taken = self.inner.lock().unwrap_or_else(|e| e.into_inner()).take();
        env.spawn_future(async move {
            if let Some(sandbox) = taken {
                match Arc::try_unwrap(sandbox) {
                    Ok(sandbox) => sandbox.shutdown().await,
                    // A call still holds it: its Drop aborts the listeners.
                    Err(shared) => drop(shared),
                }
            }
            Ok(())
        })
    }

    /// True once `stop()` was called.
    #[napi(getter)]
    pub fn stopped(&self) -> bool {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_none()
    }
}
