//! Python callables as the bridge's [`HostFunction`]s (the token provider and the signer).
//!
//! A callback runs on a blocking thread of the runtime (it may block: a KMS call), with the GIL.
//! `weixin_kit._callbacks.run_callback` calls it and, when it returns an awaitable, awaits it on
//! the event loop of the async call that needed it (recorded in a task-local by the async
//! entry points) or, for sync clients, in a fresh loop on that thread. What it raises reaches
//! the caller as a `CallbackError` naming the exception; the core enforces the timeout.

use std::future::Future;
use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::PyTuple;
use serde_json::Value;
use weixin_kit::bridge::callbacks::BoxFuture;
use weixin_kit::bridge::HostFunction;

use crate::runtime::attach_from_runtime;

tokio::task_local! {
    /// The asyncio loop of the async call being run, when its client has callbacks.
    static EVENT_LOOP: Option<Arc<Py<PyAny>>>;
}

/// The running asyncio loop, if this thread has one.
pub fn running_loop(py: Python<'_>) -> Option<Arc<Py<PyAny>>> {
    py.import("asyncio")
        .and_then(|m| m.call_method0("get_running_loop"))
        .ok()
        .map(|l| Arc::new(l.unbind()))
}

/// `fut` with `event_loop` recorded for the callbacks it calls.
pub fn with_event_loop<F: Future>(
    event_loop: Option<Arc<Py<PyAny>>>,
    fut: F,
) -> impl Future<Output = F::Output> {
    EVENT_LOOP.scope(event_loop, fut)
}

/// A Python callable (plain or async).
pub struct PyCallable {
    function: Arc<Py<PyAny>>,
}

impl PyCallable {
    pub fn new(function: Py<PyAny>) -> Self {
        PyCallable {
            function: Arc::new(function),
        }
    }
}

impl HostFunction for PyCallable {
    fn call(&self, args: Vec<Value>) -> BoxFuture<'static, Result<Value, String>> {
        let function = self.function.clone();
        let event_loop = EVENT_LOOP.try_with(|l| l.clone()).ok().flatten();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                // Through the runtime's gate: no Python work once the interpreter exits.
                attach_from_runtime(|py| run(py, &function, &args, event_loop.as_deref()))
                    .unwrap_or_else(|| Err("not called: the Python interpreter is exiting".into()))
            })
            .await
            .map_err(|e| format!("the callback's thread failed: {e}"))?
        })
    }
}

fn run(
    py: Python<'_>,
    function: &Py<PyAny>,
    args: &[Value],
    event_loop: Option<&Py<PyAny>>,
) -> Result<Value, String> {
    let outcome = (|| -> PyResult<Value> {
        let runner = py
            .import("weixin_kit._callbacks")?
            .getattr("run_callback")?;
        let args = args
            .iter()
            .map(|a| pythonize::pythonize(py, a).map_err(PyErr::from))
            .collect::<PyResult<Vec<_>>>()?;
        let result = runner.call1((function.bind(py), PyTuple::new(py, args)?, event_loop))?;
        pythonize::depythonize::<Value>(&result).map_err(|e| {
            pyo3::exceptions::PyTypeError::new_err(format!(
                "returned a value that is not JSON: {e}"
            ))
        })
    })();
    outcome.map_err(|e| {
        let kind = e
            .get_type(py)
            .name()
            .map(|n| n.to_string())
            .unwrap_or_else(|_| "Exception".into());
        format!("raised {kind}: {}", e.value(py))
    })
}
