//! What calls tell `tracing` (issue 16 part 4): the `weixin_kit.call` and `weixin_kit.attempt`
//! spans and their events, captured by a real subscriber (a `tracing_subscriber` registry with
//! a layer that records every span and event), for calls against the sandbox — a success, a
//! retried 500 with failover, a connect failure, a signature failure, a token refresh — and that
//! no captured text holds a secret, an openid or a body.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use ::tracing::field::{Field, Visit};
use ::tracing::span::{Attributes, Id};
use ::tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt as _};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;
use weixin_kit::pay::{ModifyStockInfoRequest, Operations as _};
use weixin_kit_sandbox::{Fault, FaultKind, NewStock, Sandbox};

use crate::common::notify::coupon_notification;
use crate::common::peer::closed_port_url;
use crate::common::{
    mp_client, pay_builder_with_public_key, pay_client, sandbox, CODE, NOTIFY_TYPE, OPENID,
};

/// One captured event: its message and fields, and the spans it happened in (innermost first),
/// each as its name and fields.
#[derive(Debug, Clone)]
struct Captured {
    target: String,
    fields: BTreeMap<String, String>,
    spans: Vec<(String, BTreeMap<String, String>)>,
}

impl Captured {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }

    /// A field of the innermost span called `span`.
    fn span_field(&self, span: &str, name: &str) -> Option<&str> {
        self.spans
            .iter()
            .find(|(n, _)| n == span)
            .and_then(|(_, f)| f.get(name))
            .map(String::as_str)
    }
}

#[derive(Default)]
struct Fields(BTreeMap<String, String>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().into(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
}

/// Records every event (of any target) with its spans, and every span's fields as text.
#[derive(Clone, Default)]
struct Capture {
    events: Arc<Mutex<Vec<Captured>>>,
    /// Everything any span or event carried, for the secret search.
    text: Arc<Mutex<String>>,
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        self.text.lock().unwrap().push_str(&format!(
            "{} {:?}\n",
            attrs.metadata().name(),
            fields.0
        ));
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(fields.0);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let spans = ctx
            .event_scope(event)
            .map(|scope| {
                scope
                    .map(|s| {
                        let f = s
                            .extensions()
                            .get::<BTreeMap<String, String>>()
                            .cloned()
                            .unwrap_or_default();
                        (s.name().to_owned(), f)
                    })
                    .collect()
            })
            .unwrap_or_default();
        self.text.lock().unwrap().push_str(&format!(
            "{} {:?}\n",
            event.metadata().target(),
            fields.0
        ));
        self.events.lock().unwrap().push(Captured {
            target: event.metadata().target().to_owned(),
            fields: fields.0,
            spans,
        });
    }
}

impl Capture {
    /// The library's events (target `weixin_kit`) whose message is `message`.
    fn events(&self, message: &str) -> Vec<Captured> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e.target == "weixin_kit" && e.field("message") == Some(message))
            .cloned()
            .collect()
    }

    fn text(&self) -> String {
        self.text.lock().unwrap().clone()
    }
}

/// A subscriber that wants nothing but keeps every callsite's cached interest at
/// "sometimes", registered once for the whole test binary.
///
/// tracing-core caches each callsite's interest when the callsite is first hit. While exactly
/// one dispatcher is registered (one capture alive), it asks only the *hitting thread's*
/// default — so a test on another thread (no capture, `NoSubscriber`) that hits, say, the
/// `answered` callsite first caches "never" for every thread, and the capture misses the
/// event (seen in CI: `retrying` or `answered` captured 0 times). With this dispatcher always
/// registered there are never fewer than two, every callsite is asked of all live ones, and
/// the combined interest is never "never" while a capture is alive.
struct KeepInterestOpen;

impl Subscriber for KeepInterestOpen {
    fn register_callsite(
        &self,
        _: &'static ::tracing::Metadata<'static>,
    ) -> ::tracing::subscriber::Interest {
        ::tracing::subscriber::Interest::sometimes()
    }
    fn max_level_hint(&self) -> Option<::tracing::level_filters::LevelFilter> {
        Some(::tracing::level_filters::LevelFilter::TRACE)
    }
    fn enabled(&self, _: &::tracing::Metadata<'_>) -> bool {
        false
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &::tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, _: &Event<'_>) {}
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

/// A capture installed as this thread's default subscriber (the tests run on tokio's
/// current-thread runtime: the client, the sandbox and reqwest's tasks all run here).
fn capture() -> (Capture, ::tracing::subscriber::DefaultGuard) {
    static KEEPER: std::sync::OnceLock<::tracing::Dispatch> = std::sync::OnceLock::new();
    // `Dispatch::new` registers it (and it lives as long as the binary).
    KEEPER.get_or_init(|| ::tracing::Dispatch::new(KeepInterestOpen));
    let capture = Capture::default();
    let subscriber = tracing_subscriber::registry().with(capture.clone());
    (capture, ::tracing::subscriber::set_default(subscriber))
}

fn modify(out_request_no: &str) -> ModifyStockInfoRequest {
    ModifyStockInfoRequest {
        out_request_no: out_request_no.into(),
        comment: Some("traced-comment-body".into()),
        ..Default::default()
    }
}

fn new_stock(sb: &Sandbox) -> String {
    sb.create_stock(NewStock::named("trace")).unwrap().stock_id
}

/// No secret of the sandbox's identity, no body content, no path or query in `text`.
fn assert_no_secrets(sb: &Sandbox, text: &str, extra: &[&str]) {
    let c = sb.credentials();
    let key_pem = c.merchant_private_key_pem.expose();
    // A line from the middle of the PEM: any part of the key.
    let key_line = key_pem.lines().nth(5).unwrap();
    let mut secrets = vec![
        key_line,
        c.apiv3_key.expose(),
        c.app_secret.expose(),
        c.card_app_secret.expose(),
        OPENID,
        "access_token=",
        "/v3/",
        "traced-comment-body",
    ];
    secrets.extend_from_slice(extra);
    for secret in secrets {
        assert!(!secret.is_empty());
        assert!(!text.contains(secret), "`{secret}` in the traces:\n{text}");
    }
}

#[tokio::test]
async fn a_successful_call_has_its_spans_status_request_id_and_verdict() {
    let sb = sandbox().await;
    let client = pay_client(&sb);
    let stock = new_stock(&sb);
    let (cap, _guard) = capture();
    client
        .busifavor()
        .modify_stock_info(&stock, &modify("trace-ok-1"))
        .await
        .unwrap();

    let answered = cap.events("answered");
    assert_eq!(answered.len(), 1, "{answered:#?}");
    let a = &answered[0];
    assert_eq!(a.field("status"), Some("204"));
    let logged = sb.requests();
    let logged = logged
        .iter()
        .find(|r| r.operation.as_deref() == Some("ModifyStockInfo"))
        .unwrap();
    // The Request-ID the sandbox sent (its own request log), not one we made up.
    assert_eq!(a.field("request_id"), logged.request_id.as_deref());
    assert!(a.field("latency_ms").unwrap().parse::<u64>().is_ok());
    assert_eq!(a.span_field("weixin_kit.attempt", "attempt"), Some("1"));
    assert_eq!(a.span_field("weixin_kit.attempt", "host"), Some("main"));
    assert_eq!(
        a.span_field("weixin_kit.call", "operation"),
        Some("ModifyStockInfo")
    );
    assert_eq!(a.span_field("weixin_kit.call", "family"), Some("pay"));

    let verified = cap.events("response verified");
    assert_eq!(verified.len(), 1);
    assert_eq!(verified[0].field("verification"), Some("ok"));
    assert_eq!(
        verified[0].span_field("weixin_kit.call", "operation"),
        Some("ModifyStockInfo")
    );
    assert!(cap.events("retrying").is_empty());
    assert_no_secrets(&sb, &cap.text(), &[&stock, "trace-ok-1"]);
}

#[tokio::test]
async fn a_retried_500_fails_over_and_says_why() {
    let sb = sandbox().await;
    let client = pay_client(&sb);
    let stock = new_stock(&sb);
    sb.inject_fault(Fault::operation(
        "ModifyStockInfo",
        FaultKind::SystemError,
        2,
    ))
    .unwrap();
    let (cap, _guard) = capture();
    client
        .busifavor()
        .modify_stock_info(&stock, &modify("trace-retry-1"))
        .await
        .unwrap();

    let answered = cap.events("answered");
    let seen: Vec<_> = answered
        .iter()
        .map(|e| {
            (
                e.span_field("weixin_kit.attempt", "attempt").unwrap(),
                e.span_field("weixin_kit.attempt", "host").unwrap(),
                e.field("status").unwrap(),
            )
        })
        .collect();
    // 500 on the main host → the backup at once; 500 there → backoff, the backup again.
    assert_eq!(
        seen,
        vec![
            ("1", "main", "500"),
            ("2", "backup", "500"),
            ("3", "backup", "204")
        ]
    );
    let retrying = cap.events("retrying");
    assert_eq!(retrying.len(), 2, "{retrying:#?}");
    assert_eq!(retrying[0].field("retry_reason"), Some("server error"));
    assert_eq!(retrying[0].field("next_host"), Some("backup"));
    assert_eq!(retrying[0].field("delay_ms"), Some("0"));
    assert_eq!(retrying[1].field("retry_reason"), Some("server error"));
    assert!(
        retrying[1]
            .field("delay_ms")
            .unwrap()
            .parse::<u64>()
            .unwrap()
            > 0
    );
    assert!(retrying
        .iter()
        .all(|e| e.span_field("weixin_kit.call", "operation") == Some("ModifyStockInfo")));
    assert_no_secrets(&sb, &cap.text(), &[&stock, "trace-retry-1"]);
}

#[tokio::test]
async fn a_connect_failure_is_a_failover_to_the_backup() {
    let sb = sandbox().await;
    let client = pay_builder_with_public_key(&sb)
        .base_url(closed_port_url().await)
        .backup_base_url(sb.base_url())
        .build()
        .unwrap();
    let stock = new_stock(&sb);
    let (cap, _guard) = capture();
    client
        .busifavor()
        .modify_stock_info(&stock, &modify("trace-failover-1"))
        .await
        .unwrap();

    let failed = cap.events("no answer");
    assert_eq!(failed.len(), 1, "{failed:#?}");
    assert_eq!(failed[0].field("failure"), Some("connect"));
    assert_eq!(failed[0].field("maybe_sent"), Some("false"));
    assert_eq!(
        failed[0].span_field("weixin_kit.attempt", "host"),
        Some("main")
    );
    let retrying = cap.events("retrying");
    assert_eq!(retrying.len(), 1);
    assert_eq!(retrying[0].field("retry_reason"), Some("connect"));
    assert_eq!(retrying[0].field("next_host"), Some("backup"));
    let answered = cap.events("answered");
    assert_eq!(answered.len(), 1);
    assert_eq!(
        answered[0].span_field("weixin_kit.attempt", "host"),
        Some("backup")
    );
    assert_eq!(
        answered[0].span_field("weixin_kit.attempt", "attempt"),
        Some("2")
    );
    assert_eq!(answered[0].field("status"), Some("204"));
    assert_no_secrets(&sb, &cap.text(), &[&stock]);
}

#[tokio::test]
async fn a_signature_failure_is_a_failed_verdict() {
    let sb = sandbox().await;
    let client = pay_client(&sb);
    let stock = new_stock(&sb);
    sb.inject_fault(Fault::operation(
        "ModifyStockInfo",
        FaultKind::TamperSignature,
        1,
    ))
    .unwrap();
    let (cap, _guard) = capture();
    let e = client
        .busifavor()
        .modify_stock_info(&stock, &modify("trace-sig-1"))
        .await
        .unwrap_err();
    assert!(matches!(e, weixin_kit::Error::Signature { .. }), "{e:?}");
    let failed = cap.events("response verification failed");
    assert_eq!(failed.len(), 1, "{:#?}", cap.events.lock().unwrap());
    assert_eq!(failed[0].field("verification"), Some("failed"));
    assert_eq!(failed[0].field("error_kind"), Some("SignatureError"));
    assert_eq!(
        failed[0].span_field("weixin_kit.call", "operation"),
        Some("ModifyStockInfo")
    );
    assert!(cap.events("response verified").is_empty());
    assert_no_secrets(&sb, &cap.text(), &[&stock]);
}

#[tokio::test]
async fn a_rejected_token_is_refreshed_and_no_token_or_openid_is_logged() {
    let sb = sandbox().await;
    let client = mp_client(&sb);
    let pay_info = serde_json::json!({
        "pay_info": {"transaction_id": CODE, "pay_amount": 2001, "pay_time": 1683546394},
    });
    let (cap, _guard) = capture();
    let first = client.access_token().await.unwrap();
    sb.mp().expire_tokens();
    client
        .set_user_notify_ext(OPENID, NOTIFY_TYPE, CODE, pay_info)
        .await
        .unwrap();
    let second = client.access_token().await.unwrap();
    assert_ne!(first.expose(), second.expose());

    let refreshed = cap.events("token refreshed");
    assert_eq!(refreshed.len(), 2, "{refreshed:#?}");
    assert!(refreshed
        .iter()
        .all(|e| e.field("key").is_some_and(|k| k.ends_with(":access_token"))));
    let rejected =
        cap.events("access token rejected: expiring it and sending once more with a new one");
    assert_eq!(rejected.len(), 1);
    assert_eq!(
        rejected[0].span_field("weixin_kit.call", "operation"),
        Some("setUserNotifyExt")
    );
    assert_eq!(
        rejected[0].span_field("weixin_kit.call", "family"),
        Some("mini_program")
    );
    let statuses: Vec<_> = cap
        .events("answered")
        .iter()
        .map(|e| {
            e.span_field("weixin_kit.call", "operation")
                .unwrap()
                .to_owned()
        })
        .collect();
    assert!(
        statuses.iter().any(|o| o == "getStableAccessToken"),
        "{statuses:?}"
    );
    assert_no_secrets(&sb, &cap.text(), &[first.expose(), second.expose(), CODE]);
}

/// A bridge sink keeping the records emitted on the test's thread (other tests of this binary
/// run on other threads and reach the same global subscriber).
struct ThreadSink {
    thread: std::thread::ThreadId,
    records: Mutex<Vec<weixin_kit::bridge::LogRecord>>,
}

impl weixin_kit::bridge::LogSink for ThreadSink {
    fn log(&self, record: weixin_kit::bridge::LogRecord) {
        if std::thread::current().id() == self.thread {
            self.records.lock().unwrap().push(record);
        }
    }
}

/// The only test of this binary that sets the process's bridge sink (it is global).
#[tokio::test]
async fn the_bridge_sink_gets_records_with_span_fields_at_its_level() {
    use weixin_kit::bridge::logging::{set_max_level, set_sink};
    use weixin_kit::bridge::LogLevel;

    let sb = sandbox().await;
    let client = pay_client(&sb);
    let stock = new_stock(&sb);
    let sink = Arc::new(ThreadSink {
        thread: std::thread::current().id(),
        records: Mutex::default(),
    });
    assert!(set_sink(Some(sink.clone()), LogLevel::Debug), "installed");
    client
        .busifavor()
        .modify_stock_info(&stock, &modify("trace-sink-1"))
        .await
        .unwrap();
    let records = std::mem::take(&mut *sink.records.lock().unwrap());
    let answered = records
        .iter()
        .find(|r| r.message == "answered")
        .unwrap_or_else(|| panic!("{records:#?}"));
    assert_eq!(answered.level, LogLevel::Info);
    assert_eq!(answered.target, "weixin_kit");
    let logged = sb.requests();
    let request_id = logged
        .iter()
        .find(|r| r.operation.as_deref() == Some("ModifyStockInfo"))
        .and_then(|r| r.request_id.clone())
        .unwrap();
    assert_eq!(
        serde_json::Value::Object(answered.fields.clone()),
        serde_json::json!({
            "operation": "ModifyStockInfo", "family": "pay", "attempt": 1, "host": "main",
            "status": 204, "request_id": request_id,
            "latency_ms": answered.fields["latency_ms"].as_u64().unwrap(),
        })
    );
    let verified = records
        .iter()
        .find(|r| r.message == "response verified")
        .unwrap();
    assert_eq!(verified.level, LogLevel::Debug);
    assert!(
        records.iter().all(|r| r.target == "weixin_kit"),
        "no other crate's events: {records:#?}"
    );
    let text = serde_json::to_string(&records).unwrap();
    assert_no_secrets(&sb, &text, &[&stock, "trace-sink-1"]);

    // At `warn`, a successful call says nothing; a signature failure is one warning.
    set_max_level(Some(LogLevel::Warn));
    client
        .busifavor()
        .modify_stock_info(&stock, &modify("trace-sink-2"))
        .await
        .unwrap();
    sb.inject_fault(Fault::operation(
        "ModifyStockInfo",
        FaultKind::TamperSignature,
        1,
    ))
    .unwrap();
    client
        .busifavor()
        .modify_stock_info(&stock, &modify("trace-sink-3"))
        .await
        .unwrap_err();
    let records = std::mem::take(&mut *sink.records.lock().unwrap());
    let seen: Vec<_> = records
        .iter()
        .map(|r| (r.level, r.message.as_str()))
        .collect();
    assert_eq!(seen, vec![(LogLevel::Warn, "response verification failed")]);
    assert_eq!(records[0].fields["operation"], "ModifyStockInfo");
    assert_eq!(records[0].fields["error_kind"], "SignatureError");

    // Without a sink, nothing.
    set_sink(None, LogLevel::Trace);
    client
        .busifavor()
        .modify_stock_info(&stock, &modify("trace-sink-4"))
        .await
        .unwrap();
    assert!(sink.records.lock().unwrap().is_empty());
}

#[tokio::test]
async fn notification_verdicts_are_events_without_the_notification() {
    let sb = sandbox().await;
    let client = pay_client(&sb);
    let (headers, body, id) = coupon_notification(&sb, OPENID).await;
    let (cap, _guard) = capture();
    let notification = client.parse_notification(&headers, &body).await.unwrap();
    let mut forged = body.clone();
    forged.push(b' ');
    let e = client
        .parse_notification(&headers, &forged)
        .await
        .unwrap_err();
    assert!(matches!(e, weixin_kit::Error::Signature { .. }), "{e:?}");

    let ok = cap.events("notification verified");
    assert_eq!(ok.len(), 1);
    assert_eq!(ok[0].field("verification"), Some("ok"));
    let failed = cap.events("notification verification failed");
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].field("error_kind"), Some("SignatureError"));
    let body_text = String::from_utf8(body).unwrap();
    let ciphertext = body_text.split("\"ciphertext\":\"").nth(1).unwrap();
    // Every text value of the decrypted resource (coupon code, stock id, openid, …).
    let mut extra = vec![id.as_str(), &ciphertext[..40]];
    let values = notification.resource.as_object().unwrap();
    extra.extend(
        values
            .values()
            .filter_map(|v| v.as_str())
            .filter(|v| v.len() >= 6),
    );
    assert!(extra.len() > 3, "{values:?}");
    assert_no_secrets(&sb, &cap.text(), &extra);
}
