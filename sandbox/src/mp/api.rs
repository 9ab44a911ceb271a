//! The WeChat-facing routes: tokens, service cards, tickets, card code decryption.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::Uri;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value};
use weixin_kit::mp::{
    DecryptCardCodeRequest, GetStableAccessTokenRequest, GetUserNotifyRequest,
    SetUserNotifyExtRequest, SetUserNotifyRequest, UserNotifyCheckJson,
};
use weixin_kit::validate::Validate;

use super::errors::{self, ok, reply, reply_with};
use super::state::{unix_of, AccountKind, ExtRecord, Inner, MpState, NotifyCode, TokenCheck};

type St = State<Arc<MpState>>;

/// The operationId served at `path`, for counters and fault errmsgs.
pub(crate) fn operation_of(path: &str) -> &'static str {
    match path {
        "/cgi-bin/token" => errors::GET_ACCESS_TOKEN,
        "/cgi-bin/stable_token" => errors::GET_STABLE_ACCESS_TOKEN,
        "/wxa/set_user_notify" => errors::SET_USER_NOTIFY,
        "/wxa/set_user_notifyext" => errors::SET_USER_NOTIFY_EXT,
        "/wxa/get_user_notify" => errors::GET_USER_NOTIFY,
        "/cgi-bin/ticket/getticket" => errors::GET_TICKET,
        "/card/code/decrypt" => errors::DECRYPT_CARD_CODE,
        "/cgi-bin/component/api_component_token" => errors::GET_COMPONENT_ACCESS_TOKEN,
        "/cgi-bin/component/api_query_auth" => errors::QUERY_AUTH,
        "/cgi-bin/component/api_authorizer_token" => errors::GET_AUTHORIZER_ACCESS_TOKEN,
        _ => "unknown",
    }
}

/// Runs before every WeChat route: counts the call, then answers an injected errcode if a fault
/// matches the path.
pub(crate) async fn count_and_inject(State(st): St, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let op = operation_of(&path);
    let fault = {
        let mut inner = st.lock();
        *inner.counters.calls.entry(op.to_owned()).or_default() += 1;
        inner.take_fault(&path, op)
    };
    match fault {
        Some((code, Some(msg))) => reply_with(code, &msg),
        Some((code, None)) => reply(op, code),
        None => next.run(req).await,
    }
}

/// Query parameters, percent-decoded (`+` is a space); the last of repeated names wins.
pub(crate) fn query_map(uri: &Uri) -> HashMap<String, String> {
    uri.query()
        .unwrap_or("")
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'+', _) => out.push(b' '),
            (b'%', Some(b)) => {
                out.push(b);
                i += 2;
            }
            (b, _) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The access_token check every AccessToken route starts with: the token's account (appid).
#[allow(clippy::result_large_err)] // axum answers are Responses
fn check_token(st: &MpState, op: &str, uri: &Uri) -> Result<String, Response> {
    check_token_kind(st, op, uri).map(|(appid, _)| appid)
}

/// Like [`check_token`], with the account's kind.
#[allow(clippy::result_large_err)]
fn check_token_kind(st: &MpState, op: &str, uri: &Uri) -> Result<(String, AccountKind), Response> {
    let query = query_map(uri);
    match st
        .lock()
        .check_token(query.get("access_token").map(String::as_str))
    {
        TokenCheck::Ok(appid, kind) => Ok((appid, kind)),
        TokenCheck::Missing => Err(reply(op, 41001)),
        TokenCheck::Malformed => Err(reply(op, 40014)),
        TokenCheck::Unknown => Err(reply(op, 40001)),
        TokenCheck::Expired => Err(reply(op, 42001)),
    }
}

/// The service-card routes are the mini-program's: a token of the Official Account answers
/// 48001 "api unauthorized" (general code 48001 "api 功能未授权"; which code WeChat gives here
/// is UNCONFIRMED). An authorizer_access_token is accepted when its authorizer granted the
/// third-party platform permission set 18 (开发管理与数据分析权限, where 服务卡片 is listed
/// as "支持第三方平台代商家调用"); else the code of [`MpState::authorizer_denial`] (61007 by
/// default, see [`super::authorizer`]).
#[allow(clippy::result_large_err)]
fn check_mini_program_token(st: &MpState, op: &str, uri: &Uri) -> Result<(), Response> {
    match check_token_kind(st, op, uri)? {
        (_, AccountKind::MiniProgram) => Ok(()),
        (_, AccountKind::OfficialAccount) => Err(reply(op, 48001)),
        (appid, AccountKind::Authorizer) => match st.authorizer_denial(&appid) {
            None => Ok(()),
            Some(code) => Err(reply(op, code)),
        },
    }
}

/// Whether JSON text holds a `\\uXXXX` escape of an unpaired UTF-16 surrogate: such a string is
/// not UTF-8 once decoded, so WeChat's "illegal utf8 char" codes apply rather than a syntax error.
fn has_lone_surrogate_escape(text: &str) -> bool {
    let b = text.as_bytes();
    let mut i = 0;
    let mut high_pending = false;
    while i < b.len() {
        if b[i] == b'\\' && b.get(i + 1) == Some(&b'u') {
            let unit = b
                .get(i + 2..i + 6)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u16::from_str_radix(h, 16).ok());
            match unit {
                Some(0xD800..=0xDBFF) if high_pending => return true,
                Some(0xD800..=0xDBFF) => high_pending = true,
                Some(0xDC00..=0xDFFF) if !high_pending => return true,
                Some(0xDC00..=0xDFFF) => high_pending = false,
                _ if high_pending => return true,
                _ => {}
            }
            i += 6;
            continue;
        }
        if high_pending {
            return true;
        }
        i += if b[i] == b'\\' { 2 } else { 1 };
    }
    high_pending
}

/// The errcode for JSON text that failed to parse: `utf8_errcode` when the cause is a lone
/// surrogate escape, else `other`.
fn json_error_code(text: &[u8], utf8_errcode: i32, other: i32) -> i32 {
    match std::str::from_utf8(text) {
        Ok(t) if !has_lone_surrogate_escape(t) => other,
        _ => utf8_errcode,
    }
}

/// Parses a request body the way the sandbox reads every JSON API: invalid UTF-8 (raw bytes, or a
/// lone `\uD800`-style surrogate escape) → `utf8_errcode`; not a JSON object, or a field of the
/// wrong JSON type → 47001. Absent fields read as ""/0 (as WeChat's backends do), so each then
/// fails its own documented check (e.g. an absent openid → 40003).
fn parse_body<T: DeserializeOwned>(
    body: &[u8],
    string_fields: &[&str],
    int_fields: &[&str],
    utf8_errcode: i32,
) -> Result<T, i32> {
    if std::str::from_utf8(body).is_err() {
        return Err(utf8_errcode);
    }
    let value: Value =
        serde_json::from_slice(body).map_err(|_| json_error_code(body, utf8_errcode, 47001))?;
    let Value::Object(mut map) = value else {
        return Err(47001);
    };
    for f in string_fields {
        map.entry(*f)
            .or_insert_with(|| Value::String(String::new()));
    }
    for f in int_fields {
        map.entry(*f).or_insert_with(|| json!(0));
    }
    serde_json::from_value(Value::Object(map)).map_err(|_| 47001)
}

/// The registered code for a service-card request, or the errcode: unknown openid 40003,
/// unsupported notify_type 85434, no such code for openid + notify_type (or not yet valid) 85437,
/// banned 85436, and past its window (activation window before the first setUserNotify, update
/// window after it, see [`NotifyCode::deadline`]) `expired_errcode` (85438 where the
/// operation's table has it; setUserNotifyExt's table has no expiry code, so 85437 there —
/// UNCONFIRMED).
fn find_code<'a>(
    inner: &'a mut Inner,
    openid: &str,
    notify_type: i32,
    notify_code: &str,
    expired_errcode: i32,
) -> Result<&'a mut NotifyCode, i32> {
    if !inner.users.contains(openid) {
        return Err(40003);
    }
    if !inner.notify_types.contains(&notify_type) {
        return Err(85434);
    }
    let now = inner.now();
    let code = inner
        .notify_codes
        .get_mut(&(openid.to_owned(), notify_code.to_owned()))
        .filter(|c| c.notify_type == notify_type && now >= c.valid_from)
        .ok_or(85437)?;
    if code.banned {
        return Err(85436);
    }
    if now >= code.deadline() {
        return Err(expired_errcode);
    }
    Ok(code)
}

// ---------------------------------------------------------------------------------------------
// Tokens

/// `GET /cgi-bin/token?grant_type=client_credential&appid=…&secret=…`
pub(crate) async fn get_access_token(State(st): St, uri: Uri) -> Response {
    let op = errors::GET_ACCESS_TOKEN;
    let q = query_map(&uri);
    let mut inner = st.lock();
    if q.get("grant_type").map(String::as_str) != Some("client_credential") {
        return reply(op, 40002);
    }
    let Some(appid) = q.get("appid").filter(|a| !a.is_empty()) else {
        return reply(op, 41002);
    };
    if !inner.accounts.contains_key(appid.as_str()) {
        return reply(op, 40013);
    }
    let Some(secret) = q.get("secret").filter(|s| !s.is_empty()) else {
        return reply(op, 41004);
    };
    if let Err(code) = inner.check_credentials(appid, secret) {
        return reply(op, code);
    }
    let (token, expires_in) = inner.issue_normal_token(appid);
    Json(json!({ "access_token": token, "expires_in": expires_in })).into_response()
}

/// `POST /cgi-bin/stable_token {grant_type, appid, secret, force_refresh?}`
pub(crate) async fn get_stable_access_token(State(st): St, body: Bytes) -> Response {
    let op = errors::GET_STABLE_ACCESS_TOKEN;
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(&body) else {
        return reply(op, 47001);
    };
    let field = |name: &str| {
        map.get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let mut inner = st.lock();
    if field("grant_type") != Some("client_credential") {
        return reply(op, 40002);
    }
    let Some(appid) = field("appid") else {
        return reply(op, 41002);
    };
    if !inner.accounts.contains_key(appid) {
        return reply(op, 40013);
    }
    let Some(secret) = field("secret") else {
        return reply(op, 41004);
    };
    if let Err(code) = inner.check_credentials(appid, secret) {
        return reply(op, code);
    }
    // The credentials are right; the body must also be a well-typed request (force_refresh a
    // boolean when present).
    let Ok(req) = serde_json::from_value::<GetStableAccessTokenRequest>(Value::Object(map.clone()))
    else {
        return reply(op, 47001);
    };
    let (token, expires_in) = inner.stable_token(appid, req.force_refresh);
    Json(json!({ "access_token": token, "expires_in": expires_in })).into_response()
}

/// `GET /cgi-bin/stable_token`: "该接口仅支持 POST 形式的调用" → 43002.
pub(crate) async fn stable_token_wrong_method() -> Response {
    reply(errors::GET_STABLE_ACCESS_TOKEN, 43002)
}

// ---------------------------------------------------------------------------------------------
// Service cards

/// Checks ext_json as setUserNotifyExt does: a JSON object (else 85470) whose known keys hold
/// JSON-encoded strings (a non-string value → 85470; a string whose content does not parse, or
/// has the wrong shape → 85444 pay_info, 85445 store_info, 85446 shipping_list, 85447
/// product_list). A lone surrogate escape anywhere → 85471. Unknown keys pass as they are.
pub fn check_ext_json(ext_json: &str) -> Result<(), i32> {
    let value: Value = serde_json::from_str(ext_json)
        .map_err(|_| json_error_code(ext_json.as_bytes(), 85471, 85470))?;
    let Value::Object(obj) = value else {
        return Err(85470);
    };
    for (key, errcode) in [
        ("pay_info", 85444),
        ("store_info", 85445),
        ("shipping_list", 85446),
        ("product_list", 85447),
    ] {
        let Some(v) = obj.get(key) else { continue };
        let Value::String(encoded) = v else {
            return Err(85470);
        };
        let inner: Value = serde_json::from_str(encoded)
            .map_err(|_| json_error_code(encoded.as_bytes(), 85471, errcode))?;
        let shape_ok = match key {
            "pay_info" => inner.as_object().is_some_and(pay_info_ok),
            "store_info" => inner.as_object().is_some_and(store_info_ok),
            // The list templates are not in the documents at hand: accept a JSON array, or an
            // object (a wrapper around one), and refuse scalars.
            _ => inner.is_array() || inner.is_object(),
        };
        if !shape_ok {
            return Err(errcode);
        }
    }
    Ok(())
}

/// pay_info as in doc 01's example: transaction_id a string, pay_amount and pay_time
/// non-negative integers (each checked when present).
fn pay_info_ok(o: &Map<String, Value>) -> bool {
    o.get("transaction_id").is_none_or(Value::is_string)
        && o.get("pay_amount").is_none_or(|v| v.as_u64().is_some())
        && o.get("pay_time").is_none_or(|v| v.as_u64().is_some())
}

/// store_info as in doc 01's example: store_name/store_address strings, latitude/longitude numbers.
fn store_info_ok(o: &Map<String, Value>) -> bool {
    o.get("store_name").is_none_or(Value::is_string)
        && o.get("store_address").is_none_or(Value::is_string)
        && o.get("latitude").is_none_or(Value::is_number)
        && o.get("longitude").is_none_or(Value::is_number)
}

/// `POST /wxa/set_user_notifyext`
pub(crate) async fn set_user_notify_ext(State(st): St, uri: Uri, body: Bytes) -> Response {
    let op = errors::SET_USER_NOTIFY_EXT;
    if let Err(r) = check_mini_program_token(&st, op, &uri) {
        return r;
    }
    // Raw bytes first: a JSON parser would refuse invalid UTF-8 as a syntax error.
    let req: SetUserNotifyExtRequest = match parse_body(
        &body,
        &["openid", "notify_code", "ext_json"],
        &["notify_type"],
        85471,
    ) {
        Ok(r) => r,
        Err(code) => return reply(op, code),
    };
    let mut inner = st.lock();
    let received_at = inner.unix_now();
    let code = match find_code(
        &mut inner,
        &req.openid,
        req.notify_type,
        &req.notify_code,
        85437,
    ) {
        Ok(c) => c,
        Err(e) => return reply(op, e),
    };
    if let Err(e) = check_ext_json(&req.ext_json) {
        return reply(op, e);
    }
    code.ext_history.push(ExtRecord {
        notify_type: req.notify_type,
        ext_json: req.ext_json,
        received_at,
    });
    ok(json!({}))
}

/// `POST /wxa/set_user_notify`
pub(crate) async fn set_user_notify(State(st): St, uri: Uri, body: Bytes) -> Response {
    let op = errors::SET_USER_NOTIFY;
    if let Err(r) = check_mini_program_token(&st, op, &uri) {
        return r;
    }
    let req: SetUserNotifyRequest = match parse_body(
        &body,
        &["openid", "notify_code", "content_json"],
        &["notify_type"],
        85443,
    ) {
        Ok(r) => r,
        Err(code) => return reply(op, code),
    };
    let mut inner = st.lock();
    let now = inner.now();
    let code = match find_code(
        &mut inner,
        &req.openid,
        req.notify_type,
        &req.notify_code,
        85438,
    ) {
        Ok(c) => c,
        Err(e) => return reply(op, e),
    };
    match serde_json::from_str::<Value>(&req.content_json) {
        Ok(Value::Object(_)) => {}
        Err(_) if has_lone_surrogate_escape(&req.content_json) => return reply(op, 85443),
        _ => return reply(op, 85435),
    }
    match &req.check_json {
        Some(check) => {
            let parsed = serde_json::from_str::<UserNotifyCheckJson>(check)
                .ok()
                .filter(|c| c.validate().is_ok());
            if parsed.is_none() {
                return reply(op, 85433);
            }
        }
        None if code.requires_check_json && code.activated_at.is_none() => return reply(op, 85433),
        None => {}
    }
    if code.activated_at.is_none() {
        code.activated_at = Some(now);
    }
    code.content_history.push(req.content_json);
    if let Some(check) = req.check_json {
        code.check_json_history.push(check);
    }
    ok(json!({}))
}

/// `POST /wxa/get_user_notify`
pub(crate) async fn get_user_notify(State(st): St, uri: Uri, body: Bytes) -> Response {
    let op = errors::GET_USER_NOTIFY;
    if let Err(r) = check_mini_program_token(&st, op, &uri) {
        return r;
    }
    let req: GetUserNotifyRequest =
        match parse_body(&body, &["openid", "notify_code"], &["notify_type"], 47001) {
            Ok(r) => r,
            Err(code) => return reply(op, code),
        };
    let inner = st.lock();
    // A banned code is still queryable (code_state reports it); only its existence and expiry
    // are errors here, as getUserNotify's table has no 85436.
    let now = inner.now();
    if !inner.users.contains(&req.openid) {
        return reply(op, 40003);
    }
    if !inner.notify_types.contains(&req.notify_type) {
        return reply(op, 85434);
    }
    let Some(code) = inner
        .notify_codes
        .get(&(req.openid.clone(), req.notify_code.clone()))
        .filter(|c| c.notify_type == req.notify_type && now >= c.valid_from)
    else {
        return reply(op, 85437);
    };
    if now >= code.deadline() {
        return reply(op, 85438);
    }
    let notify_type = code.notify_type;
    let content_json = code.content_history.last().cloned().unwrap_or_default();
    let code_state = if code.banned { 2 } else { code.code_state };
    let deadline = code.deadline();
    ok(json!({
        "notify_info": {
            "notify_type": notify_type,
            "content_json": content_json,
            "code_state": code_state,
            // The end of the window the code is in (activation, then update).
            "code_expire_time": unix_of(&inner, deadline),
        }
    }))
}

// ---------------------------------------------------------------------------------------------
// Cards

/// `GET /cgi-bin/ticket/getticket?access_token=…&type=wx_card|jsapi`
pub(crate) async fn get_ticket(State(st): St, uri: Uri) -> Response {
    let op = errors::GET_TICKET;
    let appid = match check_token(&st, op, &uri) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let q = query_map(&uri);
    let ticket_type = match q.get("type").map(String::as_str) {
        Some(t @ ("jsapi" | "wx_card")) => t.to_owned(),
        _ => return reply(op, 40097),
    };
    // A ticket belongs to the token's account: the Official Account's wx_card ticket is the one
    // that signs cardExt for its cards.
    let (ticket, expires_in) = st.lock().ticket(&appid, &ticket_type);
    ok(json!({ "ticket": ticket, "expires_in": expires_in }))
}

/// `POST /card/code/decrypt {"encrypt_code"}`
pub(crate) async fn decrypt_card_code(State(st): St, uri: Uri, body: Bytes) -> Response {
    let op = errors::DECRYPT_CARD_CODE;
    let appid = match check_token(&st, op, &uri) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let req: DecryptCardCodeRequest = match parse_body(&body, &["encrypt_code"], &[], 47001) {
        Ok(r) => r,
        Err(code) => return reply(op, code),
    };
    // Only the card owner's token decodes ("Call the Decoding API…", the guide
    // Coupons-Mini_Program_Start_Up: the code belongs to the Official Account that created the
    // card). Another account's token: 40056 "invalid serial code" — the errcode WeChat gives for
    // a foreign account is UNCONFIRMED; 40056 (不合法的Code码, card error table
    // https://developers.weixin.qq.com/doc/offiaccount/Cards_and_Offer/Card_coupons_error_code.html)
    // is what an undecodable code gets.
    match st.decrypt_card_code_as(&appid, &req.encrypt_code) {
        Some(code) => ok(json!({ "code": code })),
        None => reply(op, 40056),
    }
}
