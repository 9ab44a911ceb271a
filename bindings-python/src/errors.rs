//! `weixin_kit::Error` → the exception class for its kind, from the Python module
//! `weixin_kit.errors` (hand-written there, documented, with `ValueError` / `ConnectionError` /
//! `TimeoutError` as second bases where they fit). The message is the core's Display text (free
//! of secrets); the fields become keyword arguments, hence attributes.

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use weixin_kit::Error;

use crate::convert::to_python;

const ERRORS_MODULE: &str = "weixin_kit.errors";

/// The exception for `error`, an instance of a `weixin_kit.errors` class.
pub fn to_pyerr(py: Python<'_>, error: Error) -> PyErr {
    let message = error.to_string();
    build(py, &error, &message).unwrap_or_else(|why| {
        // Only if weixin_kit.errors cannot be imported or a class refuses its arguments, which
        // the package's own tests rule out; keep the message and say what went wrong.
        let fallback = PyRuntimeError::new_err(format!(
            "{message} (weixin_kit.errors could not build the exception: {why})"
        ));
        fallback.set_cause(py, Some(why));
        fallback
    })
}

/// A `WeixinKitError` (the base class) for failures of the binding itself — a sync call from
/// inside the runtime, an operation that panicked — so callers catching `WeixinKitError` see
/// them too.
pub fn internal(py: Python<'_>, message: &str) -> PyErr {
    py.import(ERRORS_MODULE)
        .and_then(|m| m.getattr("WeixinKitError"))
        .and_then(|class| class.call1((message,)))
        .map(PyErr::from_value)
        .unwrap_or_else(|why| {
            let fallback = PyRuntimeError::new_err(message.to_owned());
            fallback.set_cause(py, Some(why));
            fallback
        })
}

/// `Err(to_pyerr(..))` for a core result.
pub fn wx<T>(py: Python<'_>, result: weixin_kit::Result<T>) -> PyResult<T> {
    result.map_err(|e| to_pyerr(py, e))
}

/// A `ValidationError` naming `field` and `rule`, raised before anything is sent.
pub fn validation(py: Python<'_>, field: &str, rule: impl Into<String>) -> PyErr {
    to_pyerr(py, Error::validation(field, rule))
}

/// A `ConfigError` with `detail`.
pub fn config(py: Python<'_>, detail: impl Into<String>) -> PyErr {
    to_pyerr(
        py,
        Error::Config {
            detail: detail.into(),
        },
    )
}

fn build(py: Python<'_>, error: &Error, message: &str) -> PyResult<PyErr> {
    let kw = PyDict::new(py);
    let class = match error {
        Error::Api(e) => {
            kw.set_item("status", e.status)?;
            kw.set_item("code", &e.code)?;
            kw.set_item("msg", &e.message)?;
            match &e.detail {
                Some(detail) => kw.set_item("detail", to_python(py, detail)?)?,
                None => kw.set_item("detail", py.None())?,
            }
            kw.set_item("request_id", &e.request_id)?;
            kw.set_item("solution", &e.solution)?;
            kw.set_item("advice", &e.advice)?;
            kw.set_item("retryable", e.retryable)?;
            kw.set_item("retry_after", e.retry_after.map(|d| d.as_secs_f64()))?;
            "ApiError"
        }
        Error::MiniProgram(e) => {
            kw.set_item("errcode", e.errcode)?;
            kw.set_item("errmsg", &e.errmsg)?;
            kw.set_item("solution", &e.solution)?;
            kw.set_item("advice", &e.advice)?;
            kw.set_item("retryable", e.retryable)?;
            kw.set_item("retry_after", e.retry_after.map(|d| d.as_secs_f64()))?;
            "MiniProgramError"
        }
        Error::Signature { detail } => {
            kw.set_item("detail", detail)?;
            "SignatureError"
        }
        Error::Validation { field, rule } => {
            kw.set_item("field", field)?;
            kw.set_item("rule", rule)?;
            "ValidationError"
        }
        Error::Transport { detail } => {
            kw.set_item("detail", detail)?;
            "TransportError"
        }
        Error::Timeout { detail } => {
            kw.set_item("detail", detail)?;
            "TimeoutError"
        }
        Error::Config { detail } => {
            kw.set_item("detail", detail)?;
            "ConfigError"
        }
        Error::UnexpectedResponse { status, detail } => {
            kw.set_item("status", status)?;
            kw.set_item("detail", detail)?;
            "UnexpectedResponseError"
        }
        // A kind added to the core later: the base class until the binding learns it.
        _ => "WeixinKitError",
    };
    let class = py.import(ERRORS_MODULE)?.getattr(class)?;
    let instance = class.call((message,), Some(&kw))?;
    Ok(PyErr::from_value(instance))
}
