//! Python ⇄ JSON (`serde_json::Value`) through pythonize, the arguments of a call by name
//! (`JsonArgs`), and [`Outcome`]: a core result that becomes a Python value or the matching
//! exception when it is converted (which is how async results reach asyncio).

use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyString};
use serde::Serialize;
use weixin_kit::dispatch::JsonArgs;

use crate::errors::{to_pyerr, validation};

/// A Rust value (JSON, a sandbox report …) as plain Python: dict, list, str, int, float, bool,
/// None.
pub fn to_python<'py, T: Serialize + ?Sized>(
    py: Python<'py>,
    value: &T,
) -> PyResult<Bound<'py, PyAny>> {
    pythonize::pythonize(py, value).map_err(PyErr::from)
}

/// A Python value as JSON; what cannot be expressed in JSON (bytes nested in a dict, a
/// datetime, a set …) is a `ValidationError` naming `field`.
pub fn json_from_python(
    py: Python<'_>,
    value: &Bound<'_, PyAny>,
    field: &str,
) -> PyResult<serde_json::Value> {
    pythonize::depythonize::<serde_json::Value>(value).map_err(|e| {
        validation(
            py,
            field,
            format!(
                "cannot be converted to JSON ({e}): use str, int, float, bool, None, list or dict"
            ),
        )
    })
}

/// The arguments of one call, keyed by wire name (path, query and body fields side by side):
/// `None` values are dropped (absent), `bytes` / `bytearray` go to `JsonArgs::bytes` (file
/// contents, a notification body), everything else must be JSON.
pub fn json_args(py: Python<'_>, args: Option<&Bound<'_, PyDict>>) -> PyResult<JsonArgs> {
    let mut out = JsonArgs::default();
    let Some(args) = args else {
        return Ok(out);
    };
    for (key, value) in args.iter() {
        let Ok(name) = key.extract::<String>() else {
            return Err(validation(
                py,
                "args",
                "argument names must be str (the wire names of the operation's fields)",
            ));
        };
        if value.is_none() {
            continue;
        }
        if let Ok(bytes) = value.cast::<PyBytes>() {
            out.bytes.insert(name, bytes.as_bytes().to_vec());
        } else if let Ok(bytes) = value.cast::<PyByteArray>() {
            out.bytes.insert(name, bytes.to_vec());
        } else {
            let json = json_from_python(py, &value, &name)?;
            out.values.insert(name, json);
        }
    }
    Ok(out)
}

/// A core result, converted when Python takes it: the value through pythonize, an error as the
/// `weixin_kit.errors` exception for its kind.
pub struct Outcome<T>(pub weixin_kit::Result<T>);

impl<'py, T: Serialize> IntoPyObject<'py> for Outcome<T> {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match self.0 {
            Ok(value) => to_python(py, &value),
            Err(error) => Err(to_pyerr(py, error)),
        }
    }
}

/// `bytes`, `bytearray` or `str` (encoded as UTF-8) as bytes.
pub fn body_bytes(py: Python<'_>, value: &Bound<'_, PyAny>, field: &str) -> PyResult<Vec<u8>> {
    if let Ok(b) = value.cast::<PyBytes>() {
        Ok(b.as_bytes().to_vec())
    } else if let Ok(s) = value.cast::<PyString>() {
        Ok(s.to_cow()?.as_bytes().to_vec())
    } else if let Ok(b) = value.cast::<PyByteArray>() {
        Ok(b.to_vec())
    } else {
        Err(validation(py, field, "must be bytes or str"))
    }
}
