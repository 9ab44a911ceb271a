//! The one tokio runtime of the process (multi-thread, built on first use, never shut down).
//!
//! Why not uniffi's `async_runtime = "tokio"`: that wraps each exported future in
//! `async_compat::Compat`, which enters a runtime of async-compat's own (one thread) while the
//! future is polled from the foreign executor's polling thread. The core's clients, however,
//! spawn background tasks (the certificate refresher) and keep connection pools that must stay
//! on the runtime they were built in, and the signing/verification work should run on worker
//! threads, not on the thread that polls. So this crate owns its runtime: `Client::new` runs
//! inside it ([`enter`]), every call is [`spawn`]ed onto it, and the future uniffi hands to
//! Kotlin only awaits the `JoinHandle` — which needs no runtime to be polled, so the foreign
//! future is executor-agnostic (any coroutine dispatcher may poll it; nothing blocks it).

use std::future::Future;
use std::sync::OnceLock;

use tokio::runtime::Runtime;

use crate::errors::NativeError;

static RUNTIME: OnceLock<Runtime> = OnceLock::new();

/// The process-wide runtime.
pub fn runtime() -> &'static Runtime {
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .thread_name("weixin-kit")
            .enable_all()
            .build()
            .expect("weixin-kit: could not start the tokio runtime")
    })
}

/// Runs `f` with the runtime entered (what `Client::new` needs).
pub fn enter<T>(f: impl FnOnce() -> T) -> T {
    let _guard = runtime().enter();
    f()
}

/// Runs `future` on the runtime and awaits its result from any executor.
pub async fn spawn<T: Send + 'static>(
    future: impl Future<Output = Result<T, NativeError>> + Send + 'static,
) -> Result<T, NativeError> {
    runtime()
        .spawn(future)
        .await
        .map_err(|e| NativeError::internal(format!("a weixin-kit task failed: {e}")))?
}
