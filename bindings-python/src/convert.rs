//! Python ⇄ JSON (`serde_json::Value`) through pythonize, the arguments of a call by name
//! (`JsonArgs`), and [`Outcome`]: a core result that becomes a Python value or the matching
//! exception when it is converted (which is how async results reach asyncio).

use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyList, PyMapping, PySequence, PyString, PyTuple};
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

/// How deeply lists and dicts may nest in one argument (or in the configuration). The
/// conversion to JSON recurses once per level, so an unbounded nesting (a list nested a million
/// times, or a list that contains itself) would overflow the stack and kill the interpreter; no
/// WeChat request nests beyond a handful of levels. serde_json's own limit when parsing is 128.
pub const MAX_DEPTH: usize = 64;

/// Whether `value` nests lists, tuples, dicts (or other sequences and mappings) more than
/// [`MAX_DEPTH`] levels deep (the outermost container is level 1). Recurses at most
/// `MAX_DEPTH + 1` calls deep, and stops at the first container beyond the limit.
pub fn too_deep(value: &Bound<'_, PyAny>) -> PyResult<bool> {
    fn children<'py>(value: &Bound<'py, PyAny>) -> PyResult<Option<Vec<Bound<'py, PyAny>>>> {
        Ok(Some(if let Ok(d) = value.cast::<PyDict>() {
            d.values().iter().collect()
        } else if let Ok(l) = value.cast::<PyList>() {
            l.iter().collect()
        } else if let Ok(t) = value.cast::<PyTuple>() {
            t.iter().collect()
        } else if value.is_instance_of::<PyString>()
            || value.is_instance_of::<PyBytes>()
            || value.is_instance_of::<PyByteArray>()
        {
            return Ok(None);
        } else if let Ok(m) = value.cast::<PyMapping>() {
            m.values()?.iter().collect()
        } else if let Ok(s) = value.cast::<PySequence>() {
            s.try_iter()?.collect::<PyResult<_>>()?
        } else {
            return Ok(None);
        }))
    }
    fn walk(value: &Bound<'_, PyAny>, level: usize) -> PyResult<bool> {
        let Some(children) = children(value)? else {
            return Ok(false); // a scalar
        };
        if level > MAX_DEPTH {
            return Ok(true);
        }
        for child in &children {
            if walk(child, level + 1)? {
                return Ok(true);
            }
        }
        Ok(false)
    }
    walk(value, 1)
}

/// The rule a too deeply nested value breaks.
pub fn too_deep_rule() -> String {
    format!("nests lists/dicts more than {MAX_DEPTH} levels deep")
}

/// A Python value as JSON; what cannot be expressed in JSON (bytes nested in a dict, a
/// datetime, a set …) or nests more than [`MAX_DEPTH`] levels is a `ValidationError` naming
/// `field`.
pub fn json_from_python(
    py: Python<'_>,
    value: &Bound<'_, PyAny>,
    field: &str,
) -> PyResult<serde_json::Value> {
    if too_deep(value)? {
        return Err(validation(py, field, too_deep_rule()));
    }
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
