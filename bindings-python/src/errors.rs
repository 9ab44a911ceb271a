//! Core errors → `weixin_kit.errors` exceptions, with one table: the bridge's
//! [`ErrorDescription`] names the class (`kind`) and carries the fields of that kind
//! ([`weixin_kit::bridge::ERROR_KINDS`]), which become the constructor's keyword arguments and
//! so the exception's attributes. The text is the core's (free of secrets).

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use weixin_kit::bridge::ErrorDescription;
use weixin_kit::Error;

const ERRORS_MODULE: &str = "weixin_kit.errors";

/// The exception for a core error.
pub fn to_pyerr(py: Python<'_>, error: Error) -> PyErr {
    describe_to_pyerr(py, &ErrorDescription::from(&error))
}

/// The exception for an error description: an instance of the `weixin_kit.errors` class its
/// kind names.
pub fn describe_to_pyerr(py: Python<'_>, description: &ErrorDescription) -> PyErr {
    build(py, description).unwrap_or_else(|why| {
        // Only if weixin_kit.errors cannot be imported or a class refuses its arguments, which
        // the package's own tests rule out; keep the text and say what went wrong.
        let fallback = PyRuntimeError::new_err(format!(
            "{} (weixin_kit.errors could not build the exception: {why})",
            description.text
        ));
        fallback.set_cause(py, Some(why));
        fallback
    })
}

/// A `WeixinKitError` (the base class) for failures of the binding itself — a sync call from
/// inside the runtime, an operation that panicked — so callers catching `WeixinKitError` see
/// them too.
pub fn internal(py: Python<'_>, message: &str) -> PyErr {
    describe_to_pyerr(py, &ErrorDescription::internal(message))
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

fn build(py: Python<'_>, description: &ErrorDescription) -> PyResult<PyErr> {
    let kw = PyDict::new(py);
    for (name, value) in description.fields() {
        kw.set_item(name, pythonize::pythonize(py, &value)?)?;
    }
    let class = py
        .import(ERRORS_MODULE)?
        .getattr(description.kind.class_name())?;
    let instance = class.call((description.text.as_str(),), Some(&kw))?;
    Ok(PyErr::from_value(instance))
}
