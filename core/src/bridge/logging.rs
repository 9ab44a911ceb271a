//! The library's `tracing` events as plain records for a binding's logger (issue 16 part 4):
//! Python's `logging` (logger `weixin_kit`), a Node or Kotlin callback.
//!
//! A binding registers one [`LogSink`] per process with [`set_sink`] (which also installs
//! [`BridgeLayer`] as the process's global subscriber the first time; a process that already
//! has one — a Rust program with its own subscriber — keeps it, and can add [`BridgeLayer`] to
//! its own stack instead). Each event of target `weixin_kit` becomes one [`LogRecord`]: its
//! level, target, message, and its fields merged with those of the spans it happened in
//! (`operation`, `family` of `weixin_kit.call`; `attempt`, `host` of `weixin_kit.attempt`).
//! Events of other crates (hyper, reqwest: they may print URLs, whose query holds the
//! mini-program `access_token`) are never passed on.
//!
//! Cost without a logger: nothing is installed until a binding sets a sink; with a sink, an
//! event below the level set with [`set_max_level`] is not built (the check is one atomic load).

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

use serde::Serialize;
use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt as _};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// A record's level, by name: `error`, `warn`, `info`, `debug`, `trace`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Error = 1,
    Warn = 2,
    Info = 3,
    Debug = 4,
    Trace = 5,
}

impl LogLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
        }
    }

    /// `error`, `warn`, `info`, `debug`, `trace` (any case); `None` for anything else.
    pub fn parse(name: &str) -> Option<LogLevel> {
        Some(match name.to_ascii_lowercase().as_str() {
            "error" => LogLevel::Error,
            "warn" | "warning" => LogLevel::Warn,
            "info" => LogLevel::Info,
            "debug" => LogLevel::Debug,
            "trace" => LogLevel::Trace,
            _ => return None,
        })
    }

    fn of(level: &tracing::Level) -> LogLevel {
        match *level {
            tracing::Level::ERROR => LogLevel::Error,
            tracing::Level::WARN => LogLevel::Warn,
            tracing::Level::INFO => LogLevel::Info,
            tracing::Level::DEBUG => LogLevel::Debug,
            _ => LogLevel::Trace,
        }
    }
}

/// One event for a binding's logger. `fields` never hold a secret, a body, a URL or an openid
/// (the instrumentation in `http::trace` decides what is recorded).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogRecord {
    pub level: LogLevel,
    /// `weixin_kit`.
    pub target: String,
    pub message: String,
    /// The event's fields and those of its spans (the event's win on a clash).
    pub fields: Map<String, Value>,
}

/// Where records go: a binding's adapter to its logger. Called on the thread that emitted the
/// event (a runtime worker): it must not block for long.
pub trait LogSink: Send + Sync {
    fn log(&self, record: LogRecord);
}

static SINK: RwLock<Option<Arc<dyn LogSink>>> = RwLock::new(None);
/// The most verbose level passed on (a [`LogLevel`] as u8); 0 = none.
static MAX_LEVEL: AtomicU8 = AtomicU8::new(0);
/// Whether [`BridgeLayer`] is the global subscriber (set once per process).
static INSTALLED: OnceLock<bool> = OnceLock::new();

/// Registers `sink` (replacing any earlier one) with the most verbose level it receives, or
/// removes it (`None`). The first call installs [`BridgeLayer`] as the global subscriber;
/// returns false when another global subscriber was there first (then records reach the sink
/// only if that subscriber includes [`BridgeLayer`]).
pub fn set_sink(sink: Option<Arc<dyn LogSink>>, max_level: LogLevel) -> bool {
    let present = sink.is_some();
    *SINK.write().unwrap_or_else(|e| e.into_inner()) = sink;
    set_max_level(present.then_some(max_level));
    *INSTALLED.get_or_init(|| {
        tracing::subscriber::set_global_default(tracing_subscriber::registry().with(BridgeLayer))
            .is_ok()
    })
}

/// Changes the most verbose level passed to the sink (`None`: nothing), e.g. when the host
/// logger's level changed.
pub fn set_max_level(level: Option<LogLevel>) {
    MAX_LEVEL.store(level.map_or(0, |l| l as u8), Ordering::Relaxed);
}

/// Whether a callsite is built: the library's events at or above the sink's level, and its
/// spans whenever a sink is set (their fields are an event's context whatever its level).
fn passes(metadata: &Metadata<'_>) -> bool {
    let max = MAX_LEVEL.load(Ordering::Relaxed);
    is_ours(metadata.target())
        && max > 0
        && (metadata.is_span() || LogLevel::of(metadata.level()) as u8 <= max)
}

/// The library's own target; not the sandbox's (`weixin_kit_sandbox`) nor other crates'.
fn is_ours(target: &str) -> bool {
    target == "weixin_kit" || target.starts_with("weixin_kit::")
}

/// The layer that turns the library's events into [`LogRecord`]s for the registered sink.
#[derive(Debug, Clone, Copy, Default)]
pub struct BridgeLayer;

/// A span's recorded fields, kept in its extensions.
struct SpanFields(Map<String, Value>);

struct JsonFields<'a> {
    fields: &'a mut Map<String, Value>,
    message: Option<&'a mut String>,
}

impl Visit for JsonFields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.put(field, Value::String(format!("{value:?}")));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Value::String(value.to_owned()));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, value.into());
    }
}

impl JsonFields<'_> {
    fn put(&mut self, field: &Field, value: Value) {
        if field.name() == "message" {
            if let Some(message) = self.message.as_deref_mut() {
                *message = match value {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                return;
            }
        }
        self.fields.insert(field.name().to_owned(), value);
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for BridgeLayer {
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        if is_ours(metadata.target()) {
            // The sink and its level change at run time.
            Interest::sometimes()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, metadata: &Metadata<'_>, _: Context<'_, S>) -> bool {
        passes(metadata)
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Map::new();
        attrs.record(&mut JsonFields {
            fields: &mut fields,
            message: None,
        });
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(SpanFields(fields));
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            let mut ext = span.extensions_mut();
            if let Some(SpanFields(fields)) = ext.get_mut::<SpanFields>() {
                values.record(&mut JsonFields {
                    fields,
                    message: None,
                });
            }
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let Some(sink) = SINK.read().unwrap_or_else(|e| e.into_inner()).clone() else {
            return;
        };
        let mut fields = Map::new();
        // Outermost span first, so inner spans and the event override on a clash.
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(SpanFields(f)) = span.extensions().get::<SpanFields>() {
                    fields.extend(f.iter().map(|(k, v)| (k.clone(), v.clone())));
                }
            }
        }
        let mut message = String::new();
        event.record(&mut JsonFields {
            fields: &mut fields,
            message: Some(&mut message),
        });
        let metadata = event.metadata();
        sink.log(LogRecord {
            level: LogLevel::of(metadata.level()),
            target: metadata.target().to_owned(),
            message,
            fields,
        });
    }
}
