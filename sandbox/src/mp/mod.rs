//! The mini-program side of the sandbox: a local `api.weixin.qq.com` for tokens, service cards
//! (服务卡片) and cards (卡券), answering with the errcodes and errmsgs of `spec/miniprogram.json`.
//! Errors are HTTP 200 with `{"errcode","errmsg"}`, as WeChat answers them — quota errors too
//! (45009 daily, 45011 per minute), never HTTP 429.
//!
//! # Two accounts
//! The sandbox serves the **mini-program** (`appid`/`secret` in the credentials) and the
//! **Official Account (公众号) that created the cards** (`card_appid`/`card_app_secret`; in
//! `/sandbox/client/*` `card_appid`/`card_secret`). WeChat's guide 小程序内领取卡券
//! (https://developers.weixin.qq.com/doc/service/en/guide/product/card/Coupons-Mini_Program_Start_Up.html):
//! cards are created by an Official Account with card rights, bound with the mini-program under
//! one Open Platform account; the api_ticket in wx.addCard's signature must be the one of the
//! Official Account that created the card, and the code wx.addCard returns is decoded with the
//! decode API on that account. So: tokens (both endpoints), tickets and card codes are per
//! appid; either account's appid+secret gets tokens; a ticket belongs to the token's account;
//! every card has an owner appid (default: the Official Account).
//!
//! # WeChat routes ([`router`])
//! | route | behaviour |
//! |---|---|
//! | `GET /cgi-bin/token?grant_type=client_credential&appid=&secret=` | either account. A NEW token each call; the account's previous normal token stays valid for the overlap window, default **300 s** ("公众平台后台会保证在5分钟内,新老access_token都可用", https://developers.weixin.qq.com/doc/oplatform/developers/dev/AccessToken.html). Errors: grant_type 40002, appid missing 41002 / unknown 40013, secret missing 41004 / wrong 40125. |
//! | `POST /cgi-bin/stable_token {grant_type,appid,secret,force_refresh?}` | either account. **Normal mode**: the current stable token while more than 300 s are left (`expires_in` = seconds left, so never below 300); during its last 300 s a NEW token (`expires_in` 7200) while the old one stays valid until it expires; a new one when there is none or it expired. For lifetimes under 600 s (tests) the window is half the lifetime. **force_refresh: true**: a new token, every other stable token of the account invalid at once (40001) — unless the last effective force refresh was less than **30 s** ago or **20** were made this (Beijing) day: then no refresh happens ("否则不会刷新") and the normal-mode answer comes back (counted as `stable_force_refresh_ignored`; beyond 20 a day UNCONFIRMED). Source: https://developers.weixin.qq.com/miniprogram/dev/OpenApiDoc/mp-access-token/getStableAccessToken.html. Same credential errors; body not a JSON object or mistyped 47001; `GET` 43002. Stable and normal tokens are separate, and both are valid access tokens. |
//! | `POST /wxa/set_user_notifyext` | setUserNotifyExt. Checks, in order: token (a mini-program token; the Official Account's answers 48001, UNCONFIRMED); raw body UTF-8 (85471); body a JSON object with well-typed fields (47001); openid known (40003); notify_type supported (85434); notify_code registered for openid + notify_type and past its `valid_after_secs` (85437); not banned (85436); within its window (else 85437: this table has no expiry code, UNCONFIRMED); ext_json a JSON object (85470) whose `pay_info`/`store_info`/`shipping_list`/`product_list` are JSON-encoded strings (not a string 85470; content not parsing or mis-shaped 85444/85445/85446/85447). The accepted ext_json is recorded. |
//! | `POST /wxa/set_user_notify` | setUserNotify: token (mini-program; else 48001); UTF-8 85443; 47001; 40003; 85434; 85437; 85436; past its window 85438; content_json not a JSON object 85435; check_json not a valid `UserNotifyCheckJson` 85433 (also when missing on the activating call of a code that requires it). The first accepted call activates the code; content_json is stored. |
//! | `POST /wxa/get_user_notify` | getUserNotify: token (mini-program; else 48001); 47001; 40003; 85434; 85437; past its window 85438; else `notify_info {notify_type, content_json ("" before any), code_state, code_expire_time}` — `code_expire_time` is the end of the window the code is in (activation, then update). |
//! | `GET /cgi-bin/ticket/getticket?type=wx_card\|jsapi` | the ticket of that type **of the token's account**: the current one while valid (`expires_in` = seconds left, 7200 on issue; "7200s内重复请求保持不变"), else a new one. Bad `type` 40097. |
//! | `POST /card/code/decrypt {"encrypt_code"}` | `{"code"}` when the token's account owns the card the code was made for (from `/sandbox/card/add` or `/sandbox/mp/card_codes`); another account's token, an unknown or altered code: 40056 "invalid serial code" (for a foreign account UNCONFIRMED; 40056 is the card error table's 不合法的Code码). |
//!
//! Every AccessToken route first checks `access_token`: missing 41001, malformed (not 16–512
//! characters of `[A-Za-z0-9_-]`) 40014, unknown or replaced 40001, expired 42001.
//!
//! Errcodes the spec's tables do not give are listed, with the reason for each, in
//! [`errors::UNDOCUMENTED`]: 41001, 47001, 40056, 40097, 48001 (and 41002 on `/cgi-bin/token`).
//!
//! # Service cards: notify types and code windows
//! Supported notify types (guide 新版一次性订阅消息开发指南 1.1,
//! https://developers.weixin.qq.com/miniprogram/dev/framework/open-ability/subscribe-message-2.html):
//! **2001–2011** (code = a WeChat Pay transaction id: source `payment`) and **1001, 1003, 1004,
//! 1005** (code from the front end's `liveActivity` button: source `frontend`); any other 85434.
//! - `payment` codes: activate (first setUserNotify, with check_json) within **24 h** of the payment
//!   (guide 1.3.2), then update for **30 days** after activation (1.3.3).
//! - `frontend` codes: activate within **5 minutes** of obtaining the code (1.4.2), then update for
//!   **24 h** after activation (1.4.3).
//!
//! Past the window: setUserNotify/getUserNotify 85438 "notify_code expired", setUserNotifyExt
//! 85437 (its table has no 85438; UNCONFIRMED). A payment code may also "not exist yet" (85437)
//! for `valid_after_secs`: WeChat advises retrying in about a minute ("微信支付订单号从生成到可被
//! 校验存在一定的时延可能…建议在1分钟后重试", doc 01) — advice that only helps payment codes; a
//! front-end code's 5-minute window makes it risky there.
//!
//! # Front-end stand-in: `POST /sandbox/card/add` (what wx.addCard + WeChat's server do)
//! Body `{"cardList":[{"cardId","cardExt"}], "openid"?}` (`openid`: the user who claims). For each
//! item (see [`cards`] for sources):
//! 1. the card must exist (`POST /sandbox/mp/cards`, or auto-registered by `/sandbox/mp/card_codes`)
//!    — else `unknown_card`;
//! 2. `cardExt` must be a JSON **string** holding an object — else `bad_card_ext`; members:
//!    `timestamp` (required; a JSON string of digits or a JSON integer: the decimal text is what is
//!    signed), `signature` (required), `nonce_str` (≤ 32), `code`, `openid` (signed when present),
//!    `outer_str`, `fixed_begintimestamp` (NOT signed; recorded);
//! 3. `timestamp` within 7200 s in the past / 300 s in the future of the real clock (UNCONFIRMED) —
//!    else `timestamp`;
//! 4. `signature` = lower-case hex SHA1 of the sorted concatenation of the values of api_ticket,
//!    timestamp, card_id, code, openid, nonce_str (absent ones left out), where api_ticket is a
//!    still-valid wx_card ticket **of the card's owner** (the current one or an earlier one not yet
//!    expired) — else `signature` (the detail says when the ticket of another account was used);
//! 5. the card's `custom_code` / `bind_openid` flags (when registered): `code` / `openid` required
//!    or forbidden — else `code` / `openid`; a cardExt `openid` other than the claiming user's —
//!    `openid`;
//! 6. a `nonce_str` already used for that owner ("若重复将会导致领取失败") — `nonce_reused`; a
//!    custom `code` already claimed ("只能被领一次") — `code`.
//!
//! Answer (HTTP 200): `{"errMsg":"addCard:ok","cardList":[{"cardId","cardExt" (as passed),"code"
//! (encrypted, decryptable by `/card/code/decrypt` with the owner's token),"isSuccess":true}]}`; a
//! refused item is `{"cardId","cardExt","isSuccess":false,"reason","detail"}` (`reason`/`detail`
//! are sandbox diagnostics), and when no item succeeded `errMsg` is `addCard:fail <details>`
//! (UNCONFIRMED: WeChat's per-item failure shape is not documented). The code is the cardExt
//! `code`, or 12 random digits. A body that is not `{"cardList":[…]}` answers 400 `{"error"}`.
//! Verdicts: `GET /sandbox/mp/card_adds`, counters `card_adds`, and (over HTTP) the request log
//! (`GET /sandbox/requests`: operation `addCard`, `signature` = `ok` or `item N: reason; …`).
//!
//! # Control routes ([`control_router`]; JSON bodies, no auth, no Content-Type needed)
//! | route | effect | Rust |
//! |---|---|---|
//! | `POST /sandbox/mp/users {"openid"}` | registers a user | [`MpState::add_user`] |
//! | `POST /sandbox/mp/notify_codes {"openid","notify_type","notify_code","source"?,"valid_after_secs"?,"banned"?,"expire_after_secs"?,"activate_within_secs"?,"update_within_secs"?,"code_state"?,"requires_check_json"?}` | registers a notify_code obtained now (and its user); replaces one with the same openid + code. `source`: `payment` \| `frontend`, default by notify type (≥ 2000 payment, else frontend); the windows default to the source's (24 h / 30 d, 5 min / 24 h) and can be overridden; `requires_check_json` defaults to true for payment codes ("当将微信支付订单号作为 notify_code 时,在激活时需要传入"), false for frontend ones; `expire_after_secs` is a hard end whatever the windows say | [`MpState::add_notify_code`] |
//! | `GET /sandbox/mp/notify_ext?openid=&notify_code=` | what was received: `{"ext_json" (last, exactly as sent), "ext" (decoded), "ext_history", "count", "content_json", "content_history", "source", "activated", "registered_at", "deadline", …}`; 404 for an unknown code | [`MpState::notify_ext`] |
//! | `POST /sandbox/mp/notify_types {"notify_types":[…]}` | the supported notify_type list | [`MpState::set_notify_types`] |
//! | `POST /sandbox/mp/token_lifetime {"seconds"?,"overlap_seconds"?,"ticket_seconds"?,"stable_renew_seconds"?,"force_refresh_interval_seconds"?,"force_refresh_daily_limit"?,"mode"?}` | token/ticket lifetimes for tokens/tickets issued from now on (default 7200); `overlap_seconds` of the previous normal token (default 300); `stable_renew_seconds`: stable_token renews in the last N s (default 300, 0 = the same token down to `expires_in: 1`, then 42001); force refresh `interval` (default 30) and `daily_limit` (default 20). `mode`: `"documented"` (those defaults) or `"strict"` (overlap 0, renew 0, force refresh unthrottled), applied before the other keys | [`MpState::set_token_lifetime`], [`MpState::set_token_overlap`], [`MpState::set_stable_renew_window`], [`MpState::set_force_refresh_interval`], [`MpState::set_force_refresh_daily_limit`] |
//! | `POST /sandbox/mp/cards {"card_id","owner_appid"?,"custom_code"?,"bind_openid"?}` → the card | registers a card (owner default: the Official Account; an appid that is no account of the sandbox 400) | [`MpState::add_card`] |
//! | `GET /sandbox/mp/cards` | every card: `{card_id, owner_appid, custom_code, bind_openid, auto_registered, claims:[{code, encrypt_code, openid, outer_str, fixed_begintimestamp, timestamp, nonce_str, card_ext, claimed_at}]}` | [`MpState::cards`] |
//! | `GET /sandbox/mp/card_adds` | the verdict on every cardList item `/sandbox/card/add` received: `[{card_id, accepted, reason, detail, time}]` | [`MpState::card_adds`] |
//! | `POST /sandbox/card/add {"cardList":[…],"openid"?}` | the wx.addCard stand-in above | |
//! | `POST /sandbox/mp/card_codes {"card_id","code"}` → `{"card_id","encrypt_code","owner_appid"}` | encrypts a card code as wx.addCard would return it, for the card's owner. A card_id the sandbox does not know is **auto-registered as owned by the Official Account** (`auto_registered: true`), so tests that encrypt codes for arbitrary card ids keep working — but only the Official Account's token decrypts them | [`MpState::encrypt_card_code`] |
//! | `POST /sandbox/mp/errcode_faults {"path","errcode","count"?,"errmsg"?}` | `path` — a WeChat route (`/wxa/set_user_notify`), an operationId (`getStableAccessToken`) or `*` — answers HTTP 200 `errcode` for the next `count` calls (absent: until cleared), before any other check; errmsg defaults to the documented one (e.g. 45009 "reach max api daily quota limit", 45011 "api minute-quota reach limit, must slower, retry next minute"). Works on every route above. | [`MpState::add_errcode_fault`] |
//! | `DELETE /sandbox/mp/errcode_faults` | clears the faults | [`MpState::clear_errcode_faults`] |
//! | `GET /sandbox/mp/counters` | `{"tokens_issued","stable_tokens_issued","stable_tokens_forced","stable_force_refresh_ignored","tickets_issued","tickets_issued_by_type","by_appid":{appid:{tokens_issued,stable_tokens_issued,tickets_issued}},"calls":{operationId:n},"faults_injected","card_codes_issued","card_adds":{"accepted","rejected","rejected_by_reason"}}` | [`MpState::counters`] |
//! | `POST /sandbox/mp/expire_tokens` | every access token (both accounts) expires now (42001) | [`MpState::expire_tokens`] |
//! | `POST /sandbox/mp/expire_tickets` | every ticket expires now: getticket issues new ones, cardExt signed with the old ones fail | [`MpState::expire_tickets`] |
//! | `POST /sandbox/mp/advance_clock {"seconds"}` | moves the sandbox clock forward (token, ticket and notify_code expiry and windows, valid_after, the force-refresh day) | [`MpState::advance_clock`] |
//!
//! The sandbox-wide faults (`POST /sandbox/faults`, crate README) also apply here: on a
//! mini-program route `frequency_limited` answers HTTP 200 `{"errcode":45011,…}` and
//! `daily_quota` HTTP 200 `{"errcode":45009,…}` (WeChat Pay routes: HTTP 429 FREQUENCY_LIMITED for
//! both).
//!
//! Control routes answer `{"ok":true}` (or their data), and 400 `{"error"}` for a bad body.

mod api;
pub(crate) mod authorizer;
pub mod cards;
mod control;
pub(crate) mod crypto;
pub mod errors;
pub mod inspect;
mod state;

use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;

pub use api::check_ext_json;
pub(crate) use api::{count_and_inject, operation_of, query_map};
pub use authorizer::SERVICE_CARD_PERMISSION_SET;
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
