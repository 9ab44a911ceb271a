//! `MpCore`: the mini-program client (`weixin_kit::mp::MiniProgramClient`) behind
//! `weixin_kit.MiniProgramClient` / `AsyncMiniProgramClient`. Generic like `PayCore`: one
//! `call(name, args)` for the spec operations and the local `cardExt`.

use pyo3::prelude::*;
use pyo3::types::PyDict;
use weixin_kit::mp::{MiniProgramClient, TokenEndpoint};

use crate::errors::{config, wx};
use crate::pay::{py_opt, py_str, retry_policy, seconds, USER_AGENT_SUFFIX};
use crate::runtime::{call_by_name, complete, Mode, PerProcess};

/// A mini-program API client; cheap to share between threads and event loops.
#[pyclass(module = "weixin_kit._native", frozen)]
pub struct MpCore {
    client: PerProcess<MiniProgramClient>,
    appid: String,
    // What __repr__ shows: the store's scheme only (a Redis URL may carry a password).
    token_store_kind: String,
    base_url: Option<String>,
}

#[pymethods]
impl MpCore {
    #[new]
    #[pyo3(signature = (
        *,
        appid,
        secret = None,
        token_store = None,
        base_url = None,
        timeout = None,
        connect_timeout = None,
        max_attempts = None,
        token_endpoint = None,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        appid: String,
        secret: Option<String>,
        token_store: Option<String>,
        base_url: Option<String>,
        timeout: Option<f64>,
        connect_timeout: Option<f64>,
        max_attempts: Option<u32>,
        token_endpoint: Option<String>,
    ) -> PyResult<Self> {
        let token_store_kind = match &token_store {
            Some(url) => url.split("://").next().unwrap_or("").to_owned(),
            None => "memory".to_owned(),
        };
        let timeout = timeout.map(|t| seconds(py, "timeout", t)).transpose()?;
        let connect_timeout = connect_timeout
            .map(|t| seconds(py, "connect_timeout", t))
            .transpose()?;
        let retry = max_attempts.map(|n| retry_policy(py, n)).transpose()?;
        let endpoint =
            match token_endpoint.as_deref() {
                None | Some("stable_token") => TokenEndpoint::StableToken,
                Some("token") => TokenEndpoint::Token,
                Some(_) => return Err(config(
                    py,
                    "token_endpoint must be \"stable_token\" (getStableAccessToken, the default) \
                     or \"token\" (getAccessToken)",
                )),
            };
        let (url, id) = (base_url.clone(), appid.clone());
        // Kept to build the client again in a forked child (see runtime::PerProcess).
        let make = move || {
            let mut b = MiniProgramClient::builder()
                .appid(id.clone())
                .user_agent_suffix(USER_AGENT_SUFFIX);
            if let Some(secret) = &secret {
                b = b.secret(secret.clone());
            }
            if let Some(store) = &token_store {
                b = b.token_store_url(store.clone());
            }
            if let Some(url) = &url {
                b = b.base_url(url.clone());
            }
            if let Some(t) = timeout {
                b = b.timeout(t);
            }
            if let Some(t) = connect_timeout {
                b = b.connect_timeout(t);
            }
            if let Some(retry) = &retry {
                b = b.retry(retry.clone());
            }
            b.token_endpoint(endpoint).build()
        };
        let client = wx(py, PerProcess::new(make))?;
        Ok(MpCore {
            client,
            appid,
            token_store_kind,
            base_url,
        })
    }

    /// The mini-program's AppID.
    #[getter]
    fn appid(&self) -> &str {
        &self.appid
    }

    /// Calls the operation `name` (`setUserNotifyExt`, `cardExt` …) with `args` keyed by wire
    /// name; blocks with the GIL released.
    #[pyo3(signature = (name, args = None))]
    fn call<'py>(
        &self,
        py: Python<'py>,
        name: String,
        args: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        call_by_name(py, Mode::Blocking, &self.client(py)?, name, args)
    }

    /// `call` as an awaitable.
    #[pyo3(signature = (name, args = None))]
    fn call_async<'py>(
        &self,
        py: Python<'py>,
        name: String,
        args: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        call_by_name(py, Mode::Awaitable, &self.client(py)?, name, args)
    }

    /// A valid access token (cached; fetched once for every concurrent caller).
    fn access_token<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.access_token_in(py, Mode::Blocking)
    }

    /// `access_token` as an awaitable.
    fn access_token_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.access_token_in(py, Mode::Awaitable)
    }

    fn __repr__(&self) -> String {
        format!(
            "MpCore(appid={}, base_url={}, token_store={})",
            py_str(&self.appid),
            py_opt(&self.base_url),
            py_str(&self.token_store_kind),
        )
    }
}

/// The bodies of the sync/async method pairs.
impl MpCore {
    /// The core client of this process (built again after fork).
    fn client(&self, py: Python<'_>) -> PyResult<MiniProgramClient> {
        wx(py, self.client.get())
    }

    fn access_token_in<'py>(&self, py: Python<'py>, mode: Mode) -> PyResult<Bound<'py, PyAny>> {
        let client = self.client(py)?;
        complete(py, mode, async move {
            client.access_token().await.map(|t| t.expose().to_owned())
        })
    }
}
