//! The core's log records (`weixin_kit::bridge::logging`) to Python's `logging`: a sink that
//! hands each record to `weixin_kit._logging.emit` with the GIL, through the runtime's gate.
//! The most verbose level passed on is set from Python (the `weixin_kit` logger's effective
//! level), so nothing is built, and the GIL not taken, for a level the logger drops.

use std::sync::Arc;

use pyo3::prelude::*;
use weixin_kit::bridge::logging::{set_max_level, set_sink};
use weixin_kit::bridge::{LogLevel, LogRecord, LogSink};

use crate::runtime::attach_from_runtime;

struct PySink {
    emit: Py<PyAny>,
}

impl LogSink for PySink {
    fn log(&self, record: LogRecord) {
        // An event may come from a thread that already holds the GIL (a sync call polled on
        // the caller's thread): attaching again is fine. A failing handler is Python's
        // business (logging reports handler errors itself); nothing to do with it here.
        attach_from_runtime(|py| {
            let fields = pythonize::pythonize(py, &record.fields).ok()?;
            self.emit
                .call1(
                    py,
                    (record.level.as_str(), record.target, record.message, fields),
                )
                .ok()
        });
    }
}

fn level(name: Option<&str>) -> PyResult<Option<LogLevel>> {
    name.map(|n| {
        LogLevel::parse(n).ok_or_else(|| {
            pyo3::exceptions::PyValueError::new_err(format!(
                "unknown log level `{n}` (error, warn, info, debug, trace)"
            ))
        })
    })
    .transpose()
}

/// `_set_log_sink(emit, level)`: `emit(level, target, message, fields)` receives the records at
/// `level` (`"error"` … `"trace"`) and above; `None` removes it. False when another global
/// `tracing` subscriber was installed first (records then do not arrive).
#[pyfunction]
#[pyo3(signature = (emit, level))]
pub fn _set_log_sink(emit: Option<Py<PyAny>>, level: Option<&str>) -> PyResult<bool> {
    let max = self::level(level)?;
    let sink = match (emit, max) {
        (Some(emit), Some(_)) => Some(Arc::new(PySink { emit }) as Arc<dyn LogSink>),
        _ => None,
    };
    Ok(set_sink(sink, max.unwrap_or(LogLevel::Error)))
}

/// `_set_log_level(level)`: the most verbose level passed on (`None`: none).
#[pyfunction]
pub fn _set_log_level(level: Option<&str>) -> PyResult<()> {
    set_max_level(self::level(level)?);
    Ok(())
}
