//! One multi-thread tokio runtime for the whole process, shared by every client, the sandbox and
//! asyncio (pyo3-async-runtimes is initialised with it), and the two ways Python waits on it:
//!
//! - [`block_on`] (sync API): the future runs as a task on the runtime while the calling thread
//!   waits with the GIL released (`py.detach`), waking every [`SIGNAL_CHECK`] to let Ctrl-C
//!   interrupt the wait (the task is then aborted);
//! - [`into_awaitable`] (async API): `pyo3_async_runtimes::tokio::future_into_py` on the same
//!   runtime; the result is converted to Python (or to the exception) in pyo3-async-runtimes'
//!   blocking callback, never while holding the GIL on a runtime worker.

use std::future::Future;
use std::sync::{Once, OnceLock};
use std::time::Duration;

use pyo3::prelude::*;
use pyo3::IntoPyObject;

/// How often a blocked sync call wakes to check for KeyboardInterrupt (main thread only).
const SIGNAL_CHECK: Duration = Duration::from_millis(100);

static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
static HANDED_TO_ASYNCIO: Once = Once::new();

/// The shared runtime, created on first use (not at import: a process that forks after
/// importing weixin_kit but before its first call gets a working runtime in the child) and made
/// the one pyo3-async-runtimes uses at the same moment.
pub fn runtime() -> &'static tokio::runtime::Runtime {
    let rt = RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("weixin-kit")
            .build()
            .expect("cannot start the tokio runtime (out of threads or file descriptors?)")
    });
    HANDED_TO_ASYNCIO.call_once(|| {
        // Err only if pyo3-async-runtimes already has a runtime: nothing else in this module
        // asks it for one before this point.
        let _ = pyo3_async_runtimes::tokio::init_with_runtime(rt);
    });
    rt
}

/// Runs `fut` on the shared runtime and waits for it with the GIL released. Ctrl-C (a pending
/// signal handler that raises) aborts the task and propagates the exception.
pub fn block_on<F, T>(py: Python<'_>, fut: F) -> PyResult<T>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    if tokio::runtime::Handle::try_current().is_ok() {
        // Only reachable if Python code is re-entered from a runtime thread: block_on would
        // panic there ("cannot start a runtime from within a runtime").
        return Err(crate::errors::internal(
            py,
            "weixin_kit: a blocking call was made from inside the tokio runtime; use the async \
             client there",
        ));
    }
    let rt = runtime();
    let mut task = rt.spawn(fut);
    loop {
        // The timer is created inside block_on: it needs the runtime's context.
        let waited = py
            .detach(|| rt.block_on(async { tokio::time::timeout(SIGNAL_CHECK, &mut task).await }));
        match waited {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(join_error)) => {
                return Err(crate::errors::internal(
                    py,
                    if join_error.is_panic() {
                        "weixin_kit: internal error: the operation panicked"
                    } else {
                        "weixin_kit: the operation was cancelled"
                    },
                ))
            }
            Err(_elapsed) => {
                if let Err(interrupt) = py.check_signals() {
                    task.abort();
                    return Err(interrupt);
                }
            }
        }
    }
}

/// An asyncio awaitable for `fut`, driven by the shared runtime. `T` is converted to Python when
/// the future completes (its `IntoPyObject` may fail: that is how an error becomes the
/// awaitable's exception, built with the GIL held by pyo3-async-runtimes' callback).
pub fn into_awaitable<'py, F, T>(py: Python<'py>, fut: F) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = T> + Send + 'static,
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    runtime(); // hands the shared runtime to pyo3-async-runtimes on first use
    pyo3_async_runtimes::tokio::future_into_py(py, async move { Ok(fut.await) })
}

/// How a native method hands back a core call's result.
#[derive(Debug, Clone, Copy)]
pub enum Mode {
    /// Wait for it with the GIL released (the sync clients).
    Blocking,
    /// Return an asyncio awaitable (the async clients).
    Awaitable,
}

/// Runs a core call in `mode`: its value as plain Python (or the `weixin_kit.errors` exception)
/// now, or an awaitable of the same. Every sync/async pair of native methods goes through here.
pub fn complete<'py, F, T>(py: Python<'py>, mode: Mode, fut: F) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = weixin_kit::Result<T>> + Send + 'static,
    T: serde::Serialize + Send + 'static,
{
    match mode {
        Mode::Blocking => {
            let result = block_on(py, fut)?;
            crate::convert::Outcome(result).into_pyobject(py)
        }
        Mode::Awaitable => into_awaitable(py, async move { crate::convert::Outcome(fut.await) }),
    }
}

/// `call(name, args)` of any client: the arguments converted with the GIL held, the operation
/// run in `mode`.
pub fn call_by_name<'py, C: weixin_kit::dispatch::CallByName>(
    py: Python<'py>,
    mode: Mode,
    client: &C,
    name: String,
    args: Option<&Bound<'py, pyo3::types::PyDict>>,
) -> PyResult<Bound<'py, PyAny>> {
    let args = crate::convert::json_args(py, args)?;
    let client = client.clone();
    complete(
        py,
        mode,
        async move { client.call_by_name(&name, args).await },
    )
}
