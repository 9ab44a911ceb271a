//! The control API over HTTP (`/sandbox/…`, JSON in and out, no auth), so that tests in any
//! language can drive a stand-alone sandbox. Every route mirrors a method of [`crate::Sandbox`].

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use crate::faults::Fault;
use crate::notify::CouponNotification;
use crate::pay::NewStock;
use crate::{notify, SandboxError, Shared, SigningMode};

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/sandbox/credentials", get(credentials))
        .route("/sandbox/client/credentials", get(client_credentials))
        .route("/sandbox/client/pay_config", get(pay_config))
        .route("/sandbox/client/mp_config", get(mp_config))
        .route("/sandbox/client/component_config", get(component_config))
        .route("/sandbox/stocks", post(create_stock).get(list_stocks))
        .route("/sandbox/stocks/{stock_id}", get(get_stock))
        .route("/sandbox/out_request_nos", get(out_request_nos))
        .route("/sandbox/media", get(media))
        .route("/sandbox/notify_url", get(notify_url))
        .route(
            "/sandbox/signing_mode",
            post(set_signing_mode).get(get_signing_mode),
        )
        .route(
            "/sandbox/faults",
            post(inject_fault).get(list_faults).delete(clear_faults),
        )
        .route("/sandbox/main/down", post(main_down))
        .route("/sandbox/main/up", post(main_up))
        .route("/sandbox/main", get(main_state))
        .route("/sandbox/notifications/coupon", post(send_coupon))
        .route("/sandbox/notifications", get(notifications))
        .route("/sandbox/requests", get(requests).delete(reset_log))
        .route("/sandbox/counters", get(counters_route))
        .merge(crate::ui::routes())
}

/// Every control route (WeChat Pay and mini-program sides) with `shared` applied, and a
/// fallback that says a path is no control route: what [`crate::Sandbox::control`] serves
/// in-process.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    routes()
        .with_state(shared.clone())
        .merge(crate::mp::control_router(shared.mp.clone()))
        .merge(crate::component::control_router(shared.component.clone()))
        .fallback(|req: axum::extract::Request| async move {
            (
                StatusCode::NOT_FOUND,
                Json(json!({
                    "error": format!("{} {} is not a sandbox control route", req.method(), req.uri().path()),
                    "no_route": true,
                })),
            )
                .into_response()
        })
}

/// The counters document (see [`crate::Sandbox::counters`]).
pub(crate) fn counters(shared: &Shared) -> Value {
    json!({
        "requests": shared.log.per_operation(),
        "applied_out_request_nos": shared.pay.applied(),
        "out_request_nos": shared.pay.out_request_counts(),
        "notifications": shared.log.notifications(),
        "faults_by_kind": shared.faults.injected(),
        "mp": shared.mp.counters(),
        "component": shared.component.counters(),
    })
}

fn bad(msg: impl Into<String>) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"error": msg.into()}))).into_response()
}

fn sandbox_error(e: SandboxError) -> Response {
    let status = match e {
        SandboxError::NotFound(_) => StatusCode::NOT_FOUND,
        SandboxError::BadRequest(_) => StatusCode::BAD_REQUEST,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    (status, Json(json!({"error": e.to_string()}))).into_response()
}

/// JSON body (an empty body reads as `{}`); no Content-Type needed.
fn parse<T: DeserializeOwned>(body: &Bytes) -> Result<T, Response> {
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| bad(format!("bad JSON body: {e}")))
}

fn ok() -> Response {
    Json(json!({"ok": true})).into_response()
}

async fn credentials(State(s): State<Arc<Shared>>) -> Response {
    Json(&s.credentials).into_response()
}

/// The credentials under the SDK's configuration keys (what every binding's
/// `Sandbox.credentials` shows): `mchid`, `serial_no`, `merchant_private_key`,
/// `wechatpay_public_key_id`, `wechatpay_public_key`, `apiv3_key`, `appid`, `secret`,
/// `platform_serial_no`, `platform_certificate`, `card_appid`, `card_secret` (the bindings'
/// tests pin this set; the third-party platform's are at `/sandbox/client/component_config`).
async fn client_credentials(State(s): State<Arc<Shared>>) -> Response {
    let c = &s.credentials;
    Json(json!({
        "mchid": c.mchid,
        "serial_no": c.merchant_serial_no,
        "merchant_private_key": c.merchant_private_key_pem.expose(),
        "wechatpay_public_key_id": c.wechatpay_public_key_id,
        "wechatpay_public_key": c.wechatpay_public_key_pem,
        "apiv3_key": c.apiv3_key.expose(),
        "appid": c.appid,
        "secret": c.app_secret.expose(),
        "platform_serial_no": c.platform_serial_no,
        "platform_certificate": c.platform_certificate_pem,
        "card_appid": c.card_appid,
        "card_secret": c.card_app_secret.expose(),
    }))
    .into_response()
}

/// A `PayConfig` for this sandbox: public-key mode, the APIv3 key, main and backup URLs.
async fn pay_config(State(s): State<Arc<Shared>>) -> Response {
    let c = &s.credentials;
    Json(json!({
        "mchid": c.mchid,
        "serial_no": c.merchant_serial_no,
        "private_key": c.merchant_private_key_pem.expose(),
        "wechatpay_public_key_id": c.wechatpay_public_key_id,
        "wechatpay_public_key": c.wechatpay_public_key_pem,
        "apiv3_key": c.apiv3_key.expose(),
        "base_url": s.base_url,
        "backup_base_url": s.backup_base_url,
    }))
    .into_response()
}

/// A `MiniProgramConfig` for this sandbox: its appid and secret, the card-owning Official
/// Account's appid and secret (`card_appid`, `card_secret`), the main URL.
async fn mp_config(State(s): State<Arc<Shared>>) -> Response {
    let c = &s.credentials;
    Json(json!({
        "appid": c.appid,
        "secret": c.app_secret.expose(),
        "card_appid": c.card_appid,
        "card_secret": c.card_app_secret.expose(),
        "base_url": s.base_url,
    }))
    .into_response()
}

/// A `ComponentConfig` for this sandbox (its current settings): `component_appid`,
/// `component_appsecret`, `token`, `encoding_aes_key`, `base_url`, `backup_base_url`.
async fn component_config(State(s): State<Arc<Shared>>) -> Response {
    let c = s.component.settings();
    Json(json!({
        "component_appid": c.component_appid,
        "component_appsecret": c.component_appsecret.expose(),
        "token": c.token.expose(),
        "encoding_aes_key": c.encoding_aes_key.expose(),
        "base_url": s.base_url,
        "backup_base_url": s.backup_base_url,
    }))
    .into_response()
}

async fn create_stock(State(s): State<Arc<Shared>>, body: Bytes) -> Response {
    let new: NewStock = match parse(&body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    match s.pay.create_stock(new, &s.identity.mchid) {
        Ok(stock) => (StatusCode::CREATED, Json(stock)).into_response(),
        Err(e) => sandbox_error(e),
    }
}

async fn list_stocks(State(s): State<Arc<Shared>>) -> Response {
    Json(s.pay.stocks()).into_response()
}

async fn get_stock(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    match s.pay.stock(&id) {
        Some(stock) => Json(stock).into_response(),
        None => sandbox_error(SandboxError::NotFound(format!("no stock {id}"))),
    }
}

async fn out_request_nos(State(s): State<Arc<Shared>>) -> Response {
    Json(s.pay.out_request_counts()).into_response()
}

async fn media(State(s): State<Arc<Shared>>) -> Response {
    Json(s.pay.media()).into_response()
}

async fn notify_url(State(s): State<Arc<Shared>>) -> Response {
    Json(json!({"notify_url": s.pay.notify_url()})).into_response()
}

async fn set_signing_mode(State(s): State<Arc<Shared>>, body: Bytes) -> Response {
    #[derive(serde::Deserialize)]
    struct Body {
        mode: SigningMode,
    }
    match parse::<Body>(&body) {
        Ok(b) => {
            *s.signing_mode.lock().expect("lock") = b.mode;
            Json(json!({"mode": b.mode})).into_response()
        }
        Err(r) => r,
    }
}

async fn get_signing_mode(State(s): State<Arc<Shared>>) -> Response {
    Json(json!({"mode": s.signing_mode()})).into_response()
}

async fn inject_fault(State(s): State<Arc<Shared>>, body: Bytes) -> Response {
    let fault: Fault = match parse(&body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    match s.faults.add(fault) {
        Ok(id) => Json(json!({"id": id})).into_response(),
        Err(e) => sandbox_error(e),
    }
}

async fn list_faults(State(s): State<Arc<Shared>>) -> Response {
    Json(s.faults.list()).into_response()
}

async fn clear_faults(State(s): State<Arc<Shared>>) -> Response {
    s.faults.clear();
    ok()
}

async fn main_down(State(s): State<Arc<Shared>>) -> Response {
    s.main_down.store(true, Ordering::SeqCst);
    Json(json!({"main_down": true})).into_response()
}

async fn main_up(State(s): State<Arc<Shared>>) -> Response {
    s.main_down.store(false, Ordering::SeqCst);
    Json(json!({"main_down": false})).into_response()
}

async fn main_state(State(s): State<Arc<Shared>>) -> Response {
    Json(json!({"main_down": s.main_down.load(Ordering::SeqCst)})).into_response()
}

async fn send_coupon(State(s): State<Arc<Shared>>, body: Bytes) -> Response {
    let n: CouponNotification = match parse(&body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    match notify::send_coupon_notification(&s, n).await {
        Ok(report) => Json(report).into_response(),
        Err(e) => sandbox_error(e),
    }
}

async fn notifications(State(s): State<Arc<Shared>>) -> Response {
    Json(s.log.notification_reports()).into_response()
}

async fn requests(State(s): State<Arc<Shared>>) -> Response {
    Json(s.log.entries()).into_response()
}

async fn reset_log(State(s): State<Arc<Shared>>) -> Response {
    s.log.reset();
    ok()
}

async fn counters_route(State(s): State<Arc<Shared>>) -> Response {
    Json(counters(&s)).into_response()
}
