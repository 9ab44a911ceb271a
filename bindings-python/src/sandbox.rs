//! `SandboxCore`: the in-process WeChat sandbox (`weixin_kit_sandbox::Sandbox`) on the shared
//! runtime, behind `weixin_kit.testing.Sandbox`: start, one generic `control(method, path,
//! body)` over its control API (sandbox/README.md), close. The Python class builds its whole
//! API on those three, as the Node and Kotlin helpers do.

use std::sync::{Arc, Mutex};

use pyo3::prelude::*;
use weixin_kit_sandbox::{Sandbox, SandboxConfig};

use crate::convert::json_from_python;
use crate::errors::{config, to_pyerr};
use crate::runtime::{block_on, complete, Mode};

/// A running sandbox: two loopback listeners (main, backup) serving WeChat Pay and
/// mini-program routes with the same state.
#[pyclass(module = "weixin_kit._native", frozen)]
pub struct SandboxCore {
    inner: Mutex<Option<Arc<Sandbox>>>,
    base_url: String,
    backup_base_url: String,
}

impl SandboxCore {
    fn get(&self, py: Python<'_>) -> PyResult<Arc<Sandbox>> {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or_else(|| config(py, "the sandbox is closed"))
    }
}

#[pymethods]
impl SandboxCore {
    /// Starts a sandbox with a fresh identity on two free loopback ports.
    #[new]
    fn new(py: Python<'_>) -> PyResult<Self> {
        let sandbox = block_on(py, Sandbox::start(SandboxConfig::default()))?
            .map_err(|e| to_pyerr(py, e.into()))?;
        Ok(SandboxCore {
            base_url: sandbox.base_url(),
            backup_base_url: sandbox.backup_base_url(),
            inner: Mutex::new(Some(Arc::new(sandbox))),
        })
    }

    /// The main listener (stands for api.mch.weixin.qq.com and api.weixin.qq.com).
    #[getter]
    fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The backup listener (stands for api2.mch.weixin.qq.com): same routes, same state.
    #[getter]
    fn backup_base_url(&self) -> &str {
        &self.backup_base_url
    }

    /// One control-API call (`GET /sandbox/counters`, `POST /sandbox/stocks` {…}); blocks with
    /// the GIL released (a notification may be delivered to a server in this process).
    #[pyo3(signature = (method, path, body = None))]
    fn control<'py>(
        &self,
        py: Python<'py>,
        method: String,
        path: String,
        body: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let sandbox = self.get(py)?;
        let body = match body {
            Some(b) if !b.is_none() => Some(json_from_python(py, b, "body")?),
            _ => None,
        };
        complete(py, Mode::Blocking, async move {
            sandbox
                .control(&method, &path, body)
                .await
                .map_err(weixin_kit::Error::from)
        })
    }

    /// Stops both listeners; idempotent.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let taken = self.inner.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(sandbox) = taken {
            match Arc::try_unwrap(sandbox) {
                Ok(sandbox) => block_on(py, sandbox.shutdown())?,
                // A call still holds it (another thread): its Drop aborts the listeners.
                Err(shared) => drop(shared),
            }
        }
        Ok(())
    }

    /// True once `close()` was called.
    #[getter]
    fn closed(&self) -> bool {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_none()
    }

    fn __repr__(&self) -> String {
        format!(
            "SandboxCore(base_url='{}', backup_base_url='{}'{})",
            self.base_url,
            self.backup_base_url,
            if self.closed() { ", closed" } else { "" }
        )
    }
}
