//! The core's log records (`weixin_kit::bridge::logging`) to a Kotlin logger: the Kotlin
//! runtime (`WeixinKit.setLogger`) implements the foreign trait [`LogSink`] around the user's
//! function and registers it with [`set_log_sink`]; each record crosses as one JSON object
//! `{level, target, message, fields}`. Records below the level given are not built.

use std::sync::Arc;

use weixin_kit::bridge::{LogLevel, LogRecord};

use crate::errors::NativeError;

/// A logger of the Kotlin side. Called on the runtime thread that emitted the record: it must
/// return quickly (the Kotlin runtime hands the record to the user's function and catches what
/// it throws).
#[uniffi::export(with_foreign)]
pub trait LogSink: Send + Sync {
    fn log(&self, record_json: String);
}

struct Foreign(Arc<dyn LogSink>);

impl weixin_kit::bridge::LogSink for Foreign {
    fn log(&self, record: LogRecord) {
        if let Ok(json) = serde_json::to_string(&record) {
            self.0.log(json);
        }
    }
}

/// Registers `sink` for the records at `level` (`error`, `warn`, `info`, `debug`, `trace`) and
/// above, or removes it (`None`). False when another global `tracing` subscriber was installed
/// first (then no record arrives).
#[uniffi::export]
pub fn set_log_sink(sink: Option<Arc<dyn LogSink>>, level: String) -> Result<bool, NativeError> {
    let max = LogLevel::parse(&level).ok_or_else(|| {
        NativeError::from(weixin_kit::Error::validation(
            "level",
            "must be one of error, warn, info, debug, trace",
        ))
    })?;
    let sink = sink.map(|s| Arc::new(Foreign(s)) as Arc<dyn weixin_kit::bridge::LogSink>);
    Ok(weixin_kit::bridge::logging::set_sink(sink, max))
}
