//! The mini-program side of the sandbox: a local `api.weixin.qq.com` for tokens, service cards
//! (服务卡片) and cards (卡券), answering with the errcodes and errmsgs of `spec/miniprogram.json`.
//! Errors are HTTP 200 with `{"errcode","errmsg"}`, as WeChat answers them.
//!
//! # WeChat routes ([`router`])
//! | route | behaviour |
//! |---|---|
//! | `GET /cgi-bin/token?grant_type=client_credential&appid=&secret=` | a NEW token each call; the previous normal token becomes invalid (40001) after the overlap window, default 0 s. Errors: grant_type 40002, appid missing 41002 / wrong 40013, secret missing 41004 / wrong 40125. |
//! | `POST /cgi-bin/stable_token {grant_type,appid,secret,force_refresh?}` | the current stable token while valid (`expires_in` = seconds left); a new one when expired or on `force_refresh: true` (the previous one is then invalid at once). Same credential errors; body not a JSON object or mistyped 47001; `GET` 43002. Stable and normal tokens are separate, and both are valid access tokens. |
//! | `POST /wxa/set_user_notifyext` | setUserNotifyExt. Checks, in order: token; raw body UTF-8 (85471); body a JSON object with well-typed fields (47001); openid known (40003); notify_type supported (85434); notify_code registered for openid + notify_type and past its `valid_after_secs` (85437); not banned (85436); ext_json a JSON object (85470) whose `pay_info`/`store_info`/`shipping_list`/`product_list` are JSON-encoded strings (not a string 85470; content not parsing or mis-shaped 85444/85445/85446/85447). The accepted ext_json is recorded. |
//! | `POST /wxa/set_user_notify` | setUserNotify: token; UTF-8 85443; 47001; 40003; 85434; 85437; 85436; expired code 85438; content_json not a JSON object 85435; check_json not a valid `UserNotifyCheckJson` 85433 (also when missing on the first call for a code registered with `requires_check_json`). content_json is stored. |
//! | `POST /wxa/get_user_notify` | getUserNotify: 47001; 40003; 85434; 85437; 85438; else `notify_info {notify_type, content_json ("" before any), code_state, code_expire_time}`. |
//! | `GET /cgi-bin/ticket/getticket?type=wx_card\|jsapi` | the cached ticket of that type while valid (`expires_in` = seconds left, 7200 on issue), else a new one. Bad `type` 40097. |
//! | `POST /card/code/decrypt {"encrypt_code"}` | `{"code"}` for an encrypt_code from `/sandbox/mp/card_codes`; unknown or altered 40056 "invalid serial code". |
//!
//! Every AccessToken route first checks `access_token`: missing 41001, malformed (not 16–512
//! characters of `[A-Za-z0-9_-]`) 40014, unknown or replaced 40001, expired 42001.
//!
//! Errcodes the spec's tables do not give are listed, with the reason for each, in
//! [`errors::UNDOCUMENTED`]: 41001, 47001, 40056, 40097 (and 41002 on `/cgi-bin/token`).
//!
//! # Control routes ([`control_router`]; JSON bodies, no auth, no Content-Type needed)
//! | route | effect | Rust |
//! |---|---|---|
//! | `POST /sandbox/mp/users {"openid"}` | registers a user | [`MpState::add_user`] |
//! | `POST /sandbox/mp/notify_codes {"openid","notify_type","notify_code","valid_after_secs"?,"banned"?,"expire_after_secs"?,"code_state"?,"requires_check_json"?}` | registers a notify_code (and its user); replaces one with the same openid + code | [`MpState::add_notify_code`] |
//! | `GET /sandbox/mp/notify_ext?openid=&notify_code=` | what was received: `{"ext_json" (last, exactly as sent), "ext" (decoded), "ext_history", "count", "content_json", "content_history", …}`; 404 for an unknown code | [`MpState::notify_ext`] |
//! | `POST /sandbox/mp/notify_types {"notify_types":[…]}` | the supported notify_type list | [`MpState::set_notify_types`] |
//! | `POST /sandbox/mp/token_lifetime {"seconds"?,"overlap_seconds"?,"ticket_seconds"?,"force_refresh_interval_seconds"?}` | lifetimes for tokens/tickets issued from now on, the normal-token overlap, the stable force-refresh throttle | [`MpState::set_token_lifetime`] and siblings |
//! | `POST /sandbox/mp/card_codes {"card_id","code"}` → `{"encrypt_code"}` | encrypts a card code as wx.addCard would return it | [`MpState::encrypt_card_code`] |
//! | `POST /sandbox/mp/errcode_faults {"path","errcode","count"?,"errmsg"?}` | `path` (or `*`) answers `errcode` for the next `count` calls (absent: until cleared), before any other check | [`MpState::add_errcode_fault`] |
//! | `DELETE /sandbox/mp/errcode_faults` | clears the faults | [`MpState::clear_errcode_faults`] |
//! | `GET /sandbox/mp/counters` | `{"tokens_issued","stable_tokens_issued","stable_tokens_forced","tickets_issued","tickets_issued_by_type","calls":{operationId:n},"faults_injected","card_codes_issued"}` | [`MpState::counters`] |
//! | `POST /sandbox/mp/expire_tokens` | every access token expires now (42001) | [`MpState::expire_tokens`] |
//! | `POST /sandbox/mp/expire_tickets` | cached tickets are dropped | [`MpState::expire_tickets`] |
//! | `POST /sandbox/mp/advance_clock {"seconds"}` | moves the sandbox clock forward (expiry, valid_after) | [`MpState::advance_clock`] |
//!
//! Control routes answer `{"ok":true}` (or their data), and 400 `{"error"}` for a bad body.

mod api;
mod cards;
mod control;
mod crypto;
pub mod errors;
mod state;

use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;

pub use api::check_ext_json;
pub use cards::{card_signature, CARD_EXT_MAX_AGE_SECS, CARD_EXT_MAX_AHEAD_SECS};
pub use state::{
    AccountKind, Card, CardAddVerdict, CardClaim, CardRegistration, CodeSource, MpState,
    NotifyCodeRegistration, DEFAULT_FORCE_REFRESH_DAILY_LIMIT, DEFAULT_FORCE_REFRESH_INTERVAL,
    DEFAULT_LIFETIME, DEFAULT_NOTIFY_CODE_LIFETIME, DEFAULT_NOTIFY_TYPES,
    DEFAULT_STABLE_RENEW_WINDOW, DEFAULT_TOKEN_OVERLAP, FRONTEND_ACTIVATION_WINDOW,
    FRONTEND_UPDATE_WINDOW, PAYMENT_ACTIVATION_WINDOW, PAYMENT_UPDATE_WINDOW,
};

/// The WeChat routes, with `state` applied. Every call is counted and may be answered by an
/// injected errcode fault before its handler runs.
pub fn router(state: Arc<MpState>) -> Router {
    Router::new()
        .route("/cgi-bin/token", get(api::get_access_token))
        .route(
            "/cgi-bin/stable_token",
            post(api::get_stable_access_token).get(api::stable_token_wrong_method),
        )
        .route("/wxa/set_user_notifyext", post(api::set_user_notify_ext))
        .route("/wxa/set_user_notify", post(api::set_user_notify))
        .route("/wxa/get_user_notify", post(api::get_user_notify))
        .route("/cgi-bin/ticket/getticket", get(api::get_ticket))
        .route("/card/code/decrypt", post(api::decrypt_card_code))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            api::count_and_inject,
        ))
        .with_state(state)
}

/// The `/sandbox/mp/…` control routes, with `state` applied.
pub fn control_router(state: Arc<MpState>) -> Router {
    Router::new()
        .route("/sandbox/mp/users", post(control::add_user))
        .route("/sandbox/mp/notify_codes", post(control::add_notify_code))
        .route("/sandbox/mp/notify_ext", get(control::notify_ext))
        .route("/sandbox/mp/notify_types", post(control::set_notify_types))
        .route("/sandbox/mp/token_lifetime", post(control::token_lifetime))
        .route("/sandbox/mp/card_codes", post(control::card_codes))
        .route(
            "/sandbox/mp/cards",
            post(cards::add_card).get(cards::list_cards),
        )
        .route("/sandbox/mp/card_adds", get(cards::card_adds))
        .route("/sandbox/card/add", post(cards::card_add))
        .route(
            "/sandbox/mp/errcode_faults",
            post(control::add_fault).delete(control::clear_faults),
        )
        .route("/sandbox/mp/counters", get(control::counters))
        .route("/sandbox/mp/expire_tokens", post(control::expire_tokens))
        .route("/sandbox/mp/expire_tickets", post(control::expire_tickets))
        .route("/sandbox/mp/advance_clock", post(control::advance_clock))
        .with_state(state)
}
