//! The uniffi library behind `dev.weixinkit:weixin-kit-testing`: the in-process WeChat sandbox
//! (`weixin_kit_sandbox::Sandbox`) with start, one generic `control(method, path, body)` over
//! its control API (sandbox/README.md) and stop. `dev.weixinkit.testing.Sandbox` builds its
//! whole API on those, as the Python and Node helpers do. A separate library, so that the
//! production artifact has no sandbox in it. Its Kotlin glue is in
//! `dev.weixinkit.testing.internal`.
//!
//! The sandbox serves from background tasks, so it lives on a runtime of this library's own
//! (multi-thread, process-wide); every exported future awaits a `JoinHandle` of a task spawned
//! there and is executor-agnostic (see the main library's `runtime` module).

uniffi::setup_scaffolding!("weixin_kit_sandbox");

use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};

use tokio::runtime::Runtime;
use weixin_kit::bridge::ErrorDescription;
use weixin_kit_sandbox::{Sandbox, SandboxConfig, SandboxError};

/// A failure: the bridge's `ErrorDescription` as JSON (like the main library's).
#[derive(Debug, uniffi::Error)]
pub enum NativeError {
    Failure { description: String },
}

impl std::fmt::Display for NativeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NativeError::Failure { description } => f.write_str(description),
        }
    }
}

impl std::error::Error for NativeError {}

impl NativeError {
    fn describe(description: &ErrorDescription) -> Self {
        NativeError::Failure {
            description: serde_json::to_string(description).unwrap_or_else(|_| {
                format!(
                    "{{\"kind\":\"WeixinKitError\",\"text\":{:?},\"retryable\":false}}",
                    description.text
                )
            }),
        }
    }
}

impl From<weixin_kit::Error> for NativeError {
    fn from(e: weixin_kit::Error) -> Self {
        NativeError::describe(&ErrorDescription::from(&e))
    }
}

impl From<SandboxError> for NativeError {
    fn from(e: SandboxError) -> Self {
        weixin_kit::Error::from(e).into()
    }
}

fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .thread_name("weixin-kit-sandbox")
            .enable_all()
            .build()
            .expect("weixin-kit sandbox: could not start the tokio runtime")
    })
}

async fn spawn<T: Send + 'static>(
    future: impl Future<Output = Result<T, NativeError>> + Send + 'static,
) -> Result<T, NativeError> {
    runtime().spawn(future).await.map_err(|e| {
        NativeError::describe(&ErrorDescription::internal(format!(
            "a sandbox task failed: {e}"
        )))
    })?
}

/// A running sandbox: two loopback listeners (main, backup) serving WeChat Pay and
/// mini-program routes with the same state.
#[derive(uniffi::Object)]
pub struct SandboxCore {
    inner: Mutex<Option<Arc<Sandbox>>>,
    base_url: String,
    backup_base_url: String,
}

impl SandboxCore {
    fn get(&self) -> Result<Arc<Sandbox>, NativeError> {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or_else(|| {
                weixin_kit::Error::Config {
                    detail: "the sandbox is stopped".into(),
                }
                .into()
            })
    }
}

#[uniffi::export]
impl SandboxCore {
    /// Starts a sandbox with a fresh identity on two free loopback ports.
    #[uniffi::constructor]
    pub async fn start() -> Result<Arc<Self>, NativeError> {
        let sandbox = spawn(async {
            Sandbox::start(SandboxConfig::default())
                .await
                .map_err(NativeError::from)
        })
        .await?;
        Ok(Arc::new(SandboxCore {
            base_url: sandbox.base_url(),
            backup_base_url: sandbox.backup_base_url(),
            inner: Mutex::new(Some(Arc::new(sandbox))),
        }))
    }

    /// The main listener (stands for api.mch.weixin.qq.com and api.weixin.qq.com).
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// The backup listener (stands for api2.mch.weixin.qq.com): same routes, same state.
    pub fn backup_base_url(&self) -> String {
        self.backup_base_url.clone()
    }

    /// One control-API call (`GET /sandbox/counters`, `POST /sandbox/stocks` {…}); `body_json`
    /// is the JSON body (none for GET/DELETE). Answers the route's JSON as text (`"null"` for
    /// an empty answer).
    pub async fn control(
        &self,
        method: String,
        path: String,
        body_json: Option<String>,
    ) -> Result<String, NativeError> {
        let sandbox = self.get()?;
        let body = match body_json {
            None => None,
            Some(text) => {
                let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
                    NativeError::from(weixin_kit::Error::validation(
                        "body",
                        format!("is not JSON ({e})"),
                    ))
                })?;
                Some(value).filter(|v| !v.is_null())
            }
        };
        spawn(async move {
            let answer = sandbox.control(&method, &path, body).await?;
            Ok(answer.to_string())
        })
        .await
    }

    /// Stops both listeners; idempotent.
    pub async fn stop(&self) {
        let taken = self.inner.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(sandbox) = taken {
            let _ = runtime()
                .spawn(async move {
                    match Arc::try_unwrap(sandbox) {
                        Ok(sandbox) => sandbox.shutdown().await,
                        // A call still holds it: its Drop aborts the listeners.
                        Err(shared) => drop(shared),
                    }
                })
                .await;
        }
    }

    /// True once `stop()` was called.
    pub fn stopped(&self) -> bool {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_none()
    }
}
