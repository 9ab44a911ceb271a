//! The `/sandbox/mp/…` control routes (JSON, no auth). Each mirrors an [`MpState`] method.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use super::api::query_map;
use super::state::{MpState, NotifyCodeRegistration};

type St = State<Arc<MpState>>;

fn bad_request(msg: impl Into<String>) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "error": msg.into() })),
    )
        .into_response()
}

fn done() -> Response {
    Json(json!({ "ok": true })).into_response()
}

/// The body as `T`, or 400 `{"error"}` naming what is wrong (no Content-Type needed).
#[allow(clippy::result_large_err)] // axum answers are Responses
fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, Response> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| bad_request(format!("invalid body: {e}")))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserBody {
    openid: String,
}

pub(crate) async fn add_user(State(st): St, body: Bytes) -> Response {
    match parse::<UserBody>(&body) {
        Ok(b) if !b.openid.is_empty() => {
            st.add_user(b.openid);
            done()
        }
        Ok(_) => bad_request("openid must not be empty"),
        Err(r) => r,
    }
}

pub(crate) async fn add_notify_code(State(st): St, body: Bytes) -> Response {
    match parse::<NotifyCodeRegistration>(&body) {
        Ok(reg) => match st.add_notify_code(reg) {
            Ok(()) => done(),
            Err(e) => bad_request(e),
        },
        Err(r) => r,
    }
}

pub(crate) async fn notify_ext(State(st): St, uri: Uri) -> Response {
    let q = query_map(&uri);
    let (Some(openid), Some(code)) = (q.get("openid"), q.get("notify_code")) else {
        return bad_request("query parameters openid and notify_code are required");
    };
    match st.notify_ext(openid, code) {
        Some(v) => Json(v).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": "no such notify_code registered for this openid" })),
        )
            .into_response(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NotifyTypesBody {
    notify_types: Vec<i32>,
}

pub(crate) async fn set_notify_types(State(st): St, body: Bytes) -> Response {
    match parse::<NotifyTypesBody>(&body) {
        Ok(b) => {
            st.set_notify_types(b.notify_types);
            done()
        }
        Err(r) => r,
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LifetimeBody {
    /// Lifetime of access tokens issued from now on.
    seconds: Option<u64>,
    /// Overlap of the previous normal token after /cgi-bin/token issues a new one.
    overlap_seconds: Option<u64>,
    /// Lifetime of tickets issued from now on.
    ticket_seconds: Option<u64>,
    /// Minimum interval between effective stable_token force refreshes (default 30).
    force_refresh_interval_seconds: Option<u64>,
    /// Effective force refreshes allowed per account per day (default 20).
    force_refresh_daily_limit: Option<u32>,
    /// stable_token normal mode renews the token during its last N seconds (default 300;
    /// 0 = strict: the same token until it expires).
    stable_renew_seconds: Option<u64>,
    /// `"documented"` (the defaults above: overlap 300, renew 300, force refresh 30 s apart and
    /// 20 a day) or `"strict"` (overlap 0, renew 0, force refresh unthrottled): applied first,
    /// the other keys then override.
    mode: Option<String>,
}

pub(crate) async fn token_lifetime(State(st): St, body: Bytes) -> Response {
    let b = match parse::<LifetimeBody>(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    if b.seconds == Some(0) || b.ticket_seconds == Some(0) {
        return bad_request("lifetimes must be at least 1 second");
    }
    match b.mode.as_deref() {
        None => {}
        Some("documented") => {
            st.set_token_overlap(super::state::DEFAULT_TOKEN_OVERLAP);
            st.set_stable_renew_window(super::state::DEFAULT_STABLE_RENEW_WINDOW);
            st.set_force_refresh_interval(super::state::DEFAULT_FORCE_REFRESH_INTERVAL);
            st.set_force_refresh_daily_limit(super::state::DEFAULT_FORCE_REFRESH_DAILY_LIMIT);
        }
        Some("strict") => {
            st.set_token_overlap(Duration::ZERO);
            st.set_stable_renew_window(Duration::ZERO);
            st.set_force_refresh_interval(Duration::ZERO);
            st.set_force_refresh_daily_limit(u32::MAX);
        }
        Some(other) => {
            return bad_request(format!(
                "mode must be \"documented\" or \"strict\", got {other:?}"
            ))
        }
    }
    if let Some(n) = b.force_refresh_daily_limit {
        st.set_force_refresh_daily_limit(n);
    }
    if let Some(s) = b.stable_renew_seconds {
        st.set_stable_renew_window(Duration::from_secs(s));
    }
    if let Some(s) = b.seconds {
        st.set_token_lifetime(Duration::from_secs(s));
    }
    if let Some(s) = b.overlap_seconds {
        st.set_token_overlap(Duration::from_secs(s));
    }
    if let Some(s) = b.ticket_seconds {
        st.set_ticket_lifetime(Duration::from_secs(s));
    }
    if let Some(s) = b.force_refresh_interval_seconds {
        st.set_force_refresh_interval(Duration::from_secs(s));
    }
    done()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CardCodeBody {
    card_id: String,
    code: String,
}

pub(crate) async fn card_codes(State(st): St, body: Bytes) -> Response {
    match parse::<CardCodeBody>(&body) {
        Ok(b) if b.code.is_empty() => bad_request("code must not be empty"),
        Ok(b) => {
            if b.card_id.is_empty() {
                return bad_request("card_id must not be empty");
            }
            let encrypt_code = st.encrypt_card_code(&b.card_id, &b.code);
            if encrypt_code.len() > 128 {
                // DecryptCardCodeRequest.encrypt_code is documented as string(128).
                return bad_request("code too long: its encrypt_code would exceed 128 characters");
            }
            let owner = st
                .cards()
                .into_iter()
                .find(|c| c.card_id == b.card_id)
                .map(|c| c.owner_appid);
            Json(
                json!({ "card_id": b.card_id, "encrypt_code": encrypt_code, "owner_appid": owner }),
            )
            .into_response()
        }
        Err(r) => r,
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultBody {
    path: String,
    errcode: i32,
    count: Option<u64>,
    errmsg: Option<String>,
}

pub(crate) async fn add_fault(State(st): St, body: Bytes) -> Response {
    match parse::<FaultBody>(&body) {
        Ok(b) if b.path.is_empty() => bad_request("path must not be empty"),
        Ok(b) => {
            st.add_errcode_fault(b.path, b.errcode, b.count, b.errmsg);
            done()
        }
        Err(r) => r,
    }
}

pub(crate) async fn clear_faults(State(st): St) -> Response {
    st.clear_errcode_faults();
    done()
}

pub(crate) async fn counters(State(st): St) -> Json<Value> {
    Json(st.counters())
}

pub(crate) async fn expire_tokens(State(st): St) -> Response {
    st.expire_tokens();
    done()
}

pub(crate) async fn expire_tickets(State(st): St) -> Response {
    st.expire_tickets();
    done()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockBody {
    seconds: u64,
}

pub(crate) async fn advance_clock(State(st): St, body: Bytes) -> Response {
    match parse::<ClockBody>(&body) {
        Ok(b) => {
            st.advance_clock(Duration::from_secs(b.seconds));
            done()
        }
        Err(r) => r,
    }
}
