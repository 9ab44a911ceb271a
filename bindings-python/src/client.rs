//! `ClientCore`: a bridge [`Client`] (WeChat Pay, mini-program or third-party platform) behind
//! every Python client class. Built from the configuration dict (the bridge's keys), with the optional callbacks;
//! every operation, local operation and client-level action is `call(name, args)` — blocking
//! with the GIL released, or as an awaitable. Nothing here is per operation.

use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::PyDict;
use weixin_kit::bridge::{Callbacks, Client, Family, HostFunction};
use weixin_kit::SecretJson;

use crate::callbacks::{running_loop, with_event_loop, PyCallable};
use crate::convert::{json_args, to_python};
use crate::errors::wx;
use crate::runtime::{complete, Mode, PerProcess};

/// Appended to the User-Agent of every client the binding builds.
const USER_AGENT_SUFFIX: &str = concat!("python/", env!("CARGO_PKG_VERSION"));

/// A WeChat Pay, mini-program or third-party platform client; cheap to share between threads
/// and event loops.
#[pyclass(module = "weixin_kit._native", frozen)]
pub struct ClientCore {
    /// Built again in a forked child (its runtime and connections are the parent's); shared
    /// with the authorizer clients made from it (`authorizer`), which are built from it.
    client: Arc<PerProcess<Client>>,
    /// What `info` shows (the same in every process).
    info: serde_json::Value,
    /// Whether a callback may need the caller's event loop (async calls then record it).
    has_callbacks: bool,
}

#[pymethods]
impl ClientCore {
    /// `family`: `"pay"`, `"mp"` or `"component"`; `config`: the configuration keys
    /// (`PayConfig` / `MiniProgramConfig` / `ComponentConfig`); `token_provider` /
    /// `card_token_provider` / `signer`: plain or async callables.
    #[new]
    #[pyo3(signature = (family, config, *, token_provider = None, signer = None, card_token_provider = None))]
    fn new(
        py: Python<'_>,
        family: &str,
        config: &Bound<'_, PyDict>,
        token_provider: Option<Py<PyAny>>,
        signer: Option<Py<PyAny>>,
        card_token_provider: Option<Py<PyAny>>,
    ) -> PyResult<Self> {
        let family = wx(py, Family::parse(family))?;
        if crate::convert::too_deep(config.as_any())? {
            return Err(crate::errors::config(
                py,
                format!("the configuration {}", crate::convert::too_deep_rule()),
            ));
        }
        // Wiped when the client is dropped: it holds the private key, APIv3 key, AppSecret.
        let config = SecretJson::new(pythonize::depythonize::<serde_json::Value>(config).map_err(
            |e| {
                crate::errors::config(
                    py,
                    format!(
                        "the configuration must hold str, int, float, bool, None or lists: {e}"
                    ),
                )
            },
        )?);
        let callback = |name: &'static str, f: Option<Py<PyAny>>| -> PyResult<_> {
            match f {
                Some(f) if !f.bind(py).is_callable() => Err(crate::errors::config(
                    py,
                    format!("`{name}` must be callable"),
                )),
                Some(f) => Ok(Some(Arc::new(PyCallable::new(f)) as Arc<dyn HostFunction>)),
                None => Ok(None),
            }
        };
        let callbacks = Callbacks {
            token_provider: callback("token_provider", token_provider)?,
            signer: callback("signer", signer)?,
            card_token_provider: callback("card_token_provider", card_token_provider)?,
        };
        let has_callbacks = callbacks.token_provider.is_some()
            || callbacks.signer.is_some()
            || callbacks.card_token_provider.is_some();
        // The configuration is kept to build the client again after fork (secrets included:
        // the core keeps its parsed keys for the client's life anyway); its strings are wiped
        // with it. The copy each build consumes moves its secrets into the core's SecretStrings.
        let client = wx(
            py,
            PerProcess::new(move || {
                Client::new(
                    family,
                    config.expose().clone(),
                    &callbacks,
                    USER_AGENT_SUFFIX,
                )
            }),
        )?;
        let info = wx(py, client.get())?.info().clone();
        Ok(ClientCore {
            client: Arc::new(client),
            info,
            has_callbacks,
        })
    }

    /// What may be shown of the client (mchid, appid, base_url …): nothing secret.
    #[getter]
    fn info<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &self.info)
    }

    /// Calls the operation or action `name` (`ModifyStockInfo`, `cardExt`,
    /// `parseNotification` …) with `args` keyed by wire name; blocks with the GIL released.
    /// Returns the decoded JSON (None for a 204).
    #[pyo3(signature = (name, args = None))]
    fn call<'py>(
        &self,
        py: Python<'py>,
        name: String,
        args: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.call_in(py, Mode::Blocking, name, args)
    }

    /// `call` as an awaitable.
    #[pyo3(signature = (name, args = None))]
    fn call_async<'py>(
        &self,
        py: Python<'py>,
        name: String,
        args: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.call_in(py, Mode::Awaitable, name, args)
    }

    /// A third-party platform's client (family `"component"`) → the mini-program client core
    /// (family `"mp"`) acting for `authorizer_appid` (`bridge::Client::authorizer`): its
    /// token is the authorizer's access token, refreshed through this client, with whom it
    /// shares the connection pool and token store. In a forked child it is made again from
    /// this client's child copy.
    fn authorizer(&self, py: Python<'_>, authorizer_appid: String) -> PyResult<ClientCore> {
        let platform = Arc::clone(&self.client);
        let client = wx(
            py,
            PerProcess::new(move || platform.get()?.authorizer(&authorizer_appid)),
        )?;
        let info = wx(py, client.get())?.info().clone();
        Ok(ClientCore {
            client: Arc::new(client),
            info,
            has_callbacks: false,
        })
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let info = to_python(py, &self.info)?;
        let shown = info.cast::<PyDict>()?;
        let mut parts = Vec::new();
        for (k, v) in shown.iter() {
            let k: String = k.extract()?;
            if k != "family" {
                parts.push(format!("{k}={}", v.repr()?));
            }
        }
        Ok(format!("ClientCore({})", parts.join(", ")))
    }
}

impl ClientCore {
    fn call_in<'py>(
        &self,
        py: Python<'py>,
        mode: Mode,
        name: String,
        args: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let args = json_args(py, args)?;
        let client = wx(py, self.client.get())?;
        let call = async move { client.call(&name, args).await };
        if self.has_callbacks && matches!(mode, Mode::Awaitable) {
            // An async callback is awaited on the caller's loop.
            complete(py, mode, with_event_loop(running_loop(py), call))
        } else {
            complete(py, mode, call)
        }
    }
}
