//! The core's log records (`weixin_kit::bridge::logging`) to a JS function: `lib/logging.js`
//! registers one (the user's `setLogger` callback behind a wrapper that never throws) and each
//! record is queued to the JS thread without waiting (a weak thread-safe function: it does not
//! keep the process alive). Records below the level given are not built.

use std::sync::Arc;

use napi::bindgen_prelude::Function;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use serde_json::Value;
use weixin_kit::bridge::logging::set_sink;
use weixin_kit::bridge::{LogLevel, LogRecord, LogSink};

type Tsfn = ThreadsafeFunction<Value, (), Value, napi::Status, false, true>;

struct JsSink {
    function: Tsfn,
}

impl LogSink for JsSink {
    fn log(&self, record: LogRecord) {
        if let Ok(record) = serde_json::to_value(&record) {
            // Non-blocking: a full queue drops the record rather than stalling a call.
            let _ = self
                .function
                .call(record, ThreadsafeFunctionCallMode::NonBlocking);
        }
    }
}

/// `setLogSink(fn, level)`: `fn({level, target, message, fields})` gets the records at `level`
/// (`"error"` … `"trace"`) and above; `null` removes it. False when another global `tracing`
/// subscriber was installed first (then no record arrives).
#[napi]
pub fn set_log_sink(
    function: Option<Function<'_, Value, ()>>,
    level: String,
) -> napi::Result<bool> {
    let max = LogLevel::parse(&level).ok_or_else(|| {
        napi::Error::from_reason(format!(
            "unknown log level `{level}` (error, warn, info, debug, trace)"
        ))
    })?;
    let sink = match function {
        Some(f) => {
            let function = f
                .build_threadsafe_function::<Value>()
                .callee_handled::<false>()
                .weak::<true>()
                .build()?;
            Some(Arc::new(JsSink { function }) as Arc<dyn LogSink>)
        }
        None => None,
    };
    Ok(set_sink(sink, max))
}
