//! The `/sandbox/component/…` control routes (JSON, no auth). Each mirrors a method of
//! [`ComponentState`] or a `Sandbox` helper.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::json;

use super::state::{ComponentState, ComponentUpdate};
use crate::SandboxError;

type St = State<Arc<ComponentState>>;

fn error(e: SandboxError) -> Response {
    let status = match e {
        SandboxError::NotFound(_) => StatusCode::NOT_FOUND,
        _ => StatusCode::BAD_REQUEST,
    };
    (status, Json(json!({ "error": e.to_string() }))).into_response()
}

#[allow(clippy::result_large_err)]
fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, Response> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        body
    };
    serde_json::from_slice(body)
        .map_err(|e| error(SandboxError::BadRequest(format!("invalid body: {e}"))))
}

pub(crate) async fn get_config(State(st): St) -> Response {
    Json(st.settings()).into_response()
}

pub(crate) async fn set_config(State(st): St, body: Bytes) -> Response {
    match parse::<ComponentUpdate>(&body) {
        Ok(u) => match st.configure(u) {
            Ok(s) => Json(s).into_response(),
            Err(e) => error(e),
        },
        Err(r) => r,
    }
}

pub(crate) async fn push_ticket(State(st): St) -> Response {
    Json(super::push::push_ticket(&st).await).into_response()
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuthorizeBody {
    pub authorizer_appid: Option<String>,
    pub func_ids: Option<Vec<u32>>,
}

pub(crate) async fn authorize(State(st): St, body: Bytes) -> Response {
    match parse::<AuthorizeBody>(&body) {
        Ok(b) => match super::authorize(&st, b.authorizer_appid, b.func_ids, false).await {
            Ok(a) => Json(a).into_response(),
            Err(e) => error(e),
        },
        Err(r) => r,
    }
}

pub(crate) async fn update_authorization(State(st): St, body: Bytes) -> Response {
    match parse::<AuthorizeBody>(&body) {
        Ok(AuthorizeBody {
            authorizer_appid: Some(appid),
            func_ids,
        }) => match super::authorize(&st, Some(appid), func_ids, true).await {
            Ok(a) => Json(a).into_response(),
            Err(e) => error(e),
        },
        Ok(_) => error(SandboxError::BadRequest(
            "authorizer_appid is required".into(),
        )),
        Err(r) => r,
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AppidBody {
    authorizer_appid: String,
}

pub(crate) async fn revoke(State(st): St, body: Bytes) -> Response {
    match parse::<AppidBody>(&body) {
        Ok(b) => match super::revoke(&st, &b.authorizer_appid).await {
            Ok(push) => Json(push).into_response(),
            Err(e) => error(e),
        },
        Err(r) => r,
    }
}

pub(crate) async fn rotate(State(st): St, body: Bytes) -> Response {
    match parse::<AppidBody>(&body) {
        Ok(b) => match st.arm_rotation(&b.authorizer_appid) {
            Ok(()) => Json(json!({ "ok": true })).into_response(),
            Err(e) => error(e),
        },
        Err(r) => r,
    }
}

pub(crate) async fn expire_tokens(State(st): St) -> Response {
    st.expire_tokens();
    Json(json!({ "ok": true })).into_response()
}

pub(crate) async fn counters(State(st): St) -> Response {
    Json(st.counters()).into_response()
}

pub(crate) async fn pushes(State(st): St) -> Response {
    Json(st.pushes()).into_response()
}
