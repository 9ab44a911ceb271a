//! The inspector page: `GET /sandbox/ui` serves one static HTML file (inline CSS and JS, no
//! external asset, nothing to build) that polls `GET /sandbox/ui/state.json` every second and
//! renders the request log with each signature verdict (for a rejected one, the expected and
//! received signing strings side by side, the first difference highlighted), stocks and their
//! applied `out_request_no`s, notifications with each delivery attempt, the mini-program's
//! tokens, tickets and notify codes (fingerprints only, never a value), and buttons that inject
//! faults through the control API (`POST /sandbox/faults`).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::Shared;

/// The page, embedded at build time.
pub const INDEX_HTML: &str = include_str!("index.html");

/// The page shows at most this many requests (the newest).
pub const MAX_REQUESTS: usize = 200;

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/sandbox/ui", get(index))
        .route("/sandbox/ui/", get(index))
        .route("/sandbox/ui/state.json", get(state_route))
}

async fn index() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        INDEX_HTML,
    )
        .into_response()
}

async fn state_route(State(s): State<Arc<Shared>>) -> Response {
    Json(state(&s)).into_response()
}

/// Everything the page renders, in one document:
/// `{"requests":[LogEntry…],"stocks":[{stock_id,stock_name,applied_out_request_nos}],
/// "out_request_nos":{no:{applied,replayed,refused}},"notifications":[{id,event_type,
/// notify_url,delivered,attempts}],"faults":[ActiveFault…],"main_down","signing_mode",
/// "mp":{tokens,tickets,notify_codes}}`. Notifications leave out the decrypted payload (it
/// can hold an openid); mini-program secrets appear as fingerprints
/// ([`crate::mp::inspect::fingerprint`]).
pub(crate) fn state(s: &Shared) -> Value {
    let mut requests = s.log.entries();
    let skip = requests.len().saturating_sub(MAX_REQUESTS);
    requests.drain(..skip);
    for r in &mut requests {
        r.path = redact_query(&r.path);
        r.body = redact_body(&r.body);
    }
    let stocks: Vec<Value> = s
        .pay
        .stocks()
        .into_iter()
        .map(|st| {
            json!({
                "stock_id": st.stock_id,
                "stock_name": st.stock_name(),
                "applied_out_request_nos": st.applied_out_request_nos,
            })
        })
        .collect();
    let notifications: Vec<Value> = s
        .log
        .notification_reports()
        .into_iter()
        .map(|n| {
            json!({
                "id": n.id,
                "event_type": n.envelope.get("event_type"),
                "notify_url": n.notify_url,
                "delivered": n.delivered,
                "attempts": n.attempts,
            })
        })
        .collect();
    json!({
        "requests": requests,
        "stocks": stocks,
        "out_request_nos": s.pay.out_request_counts(),
        "notifications": notifications,
        "faults": s.faults.list(),
        "main_down": s.main_down.load(Ordering::SeqCst),
        "signing_mode": s.signing_mode(),
        "mp": s.mp.inspect(),
        "component": s.component.inspect(),
    })
}

/// Query parameters and JSON body members that hold a secret (the AppSecret of
/// `/cgi-bin/token` and `/cgi-bin/stable_token`, the access_token of every mini-program call).
/// The third-party platform's too: component_appsecret, component_verify_ticket,
/// component_access_token, authorization_code, authorizer_refresh_token.
const SECRET_NAMES: [&str; 8] = [
    "secret",
    "access_token",
    "appsecret",
    "component_appsecret",
    "component_verify_ticket",
    "component_access_token",
    "authorization_code",
    "authorizer_refresh_token",
];

/// `/cgi-bin/token?appid=wx1&secret=abc` → `/cgi-bin/token?appid=wx1&secret=***`.
pub fn redact_query(path: &str) -> String {
    let Some((path, query)) = path.split_once('?') else {
        return path.to_owned();
    };
    let query: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, _)) if SECRET_NAMES.contains(&k.to_ascii_lowercase().as_str()) => {
                format!("{k}=***")
            }
            _ => pair.to_owned(),
        })
        .collect();
    format!("{path}?{}", query.join("&"))
}

/// A JSON object body with its secret members' values replaced by `***` (anything else as is).
pub fn redact_body(body: &str) -> String {
    let Ok(Value::Object(mut map)) = serde_json::from_str::<Value>(body) else {
        return body.to_owned();
    };
    let mut changed = false;
    for (k, v) in map.iter_mut() {
        if SECRET_NAMES.contains(&k.to_ascii_lowercase().as_str()) {
            *v = Value::String("***".into());
            changed = true;
        }
    }
    if changed {
        Value::Object(map).to_string()
    } else {
        body.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_in_paths_and_bodies_are_masked() {
        assert_eq!(
            redact_query("/cgi-bin/token?grant_type=client_credential&appid=wx1&secret=s3cr3t"),
            "/cgi-bin/token?grant_type=client_credential&appid=wx1&secret=***"
        );
        assert_eq!(
            redact_query("/wxa/set_user_notify?access_token=T0K"),
            "/wxa/set_user_notify?access_token=***"
        );
        assert_eq!(redact_query("/v3/certificates"), "/v3/certificates");
        let body = redact_body(r#"{"appid":"wx1","secret":"s3cr3t"}"#);
        assert!(!body.contains("s3cr3t") && body.contains("wx1"), "{body}");
        assert_eq!(redact_body("not json secret"), "not json secret");
    }
}
