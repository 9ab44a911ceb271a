//! The errcodes and errmsgs the mini-program sandbox answers with.
//!
//! Every `(operation, errcode, errmsg)` in [`DOCUMENTED`] is copied from the operation's
//! `x-weixin-errors` table in `spec/miniprogram.json` (tests/it/mp.rs checks that they still are).
//! [`UNDOCUMENTED`] holds the few general WeChat codes the sandbox needs where the spec's tables
//! are silent; each says why it was picked.

use axum::response::{IntoResponse, Response};
use axum::Json;

/// Operation ids (the spec's operationId), also the keys of `counters().calls`.
pub const GET_ACCESS_TOKEN: &str = "getAccessToken";
pub const GET_STABLE_ACCESS_TOKEN: &str = "getStableAccessToken";
pub const SET_USER_NOTIFY: &str = "setUserNotify";
pub const SET_USER_NOTIFY_EXT: &str = "setUserNotifyExt";
pub const GET_USER_NOTIFY: &str = "getUserNotify";
pub const GET_TICKET: &str = "getTicket";
pub const DECRYPT_CARD_CODE: &str = "decryptCardCode";
/// The third-party platform routes ([`crate::component`]).
pub const GET_COMPONENT_ACCESS_TOKEN: &str = "getComponentAccessToken";
pub const QUERY_AUTH: &str = "queryAuth";
pub const GET_AUTHORIZER_ACCESS_TOKEN: &str = "getAuthorizerAccessToken";

const INVALID_CREDENTIAL: &str = "invalid credential, access_token is invalid or not latest";

/// `(operationId, errcode, errmsg)` exactly as `spec/miniprogram.json` lists them.
pub const DOCUMENTED: &[(&str, i32, &str)] = &[
    (GET_ACCESS_TOKEN, -1, "system error"),
    (GET_ACCESS_TOKEN, 40001, INVALID_CREDENTIAL),
    (GET_ACCESS_TOKEN, 40002, "invalid grant_type"),
    (GET_ACCESS_TOKEN, 40013, "invalid appid"),
    (GET_ACCESS_TOKEN, 40125, "不合法的 secret"),
    (GET_ACCESS_TOKEN, 41004, "appsecret missing"),
    (GET_STABLE_ACCESS_TOKEN, -1, "system error"),
    (GET_STABLE_ACCESS_TOKEN, 40002, "invalid grant_type"),
    (GET_STABLE_ACCESS_TOKEN, 40013, "invalid appid"),
    (GET_STABLE_ACCESS_TOKEN, 40125, "invalid appsecret"),
    (GET_STABLE_ACCESS_TOKEN, 41002, "appid missing"),
    (GET_STABLE_ACCESS_TOKEN, 41004, "appsecret missing"),
    (GET_STABLE_ACCESS_TOKEN, 43002, "require POST method"),
    (
        GET_STABLE_ACCESS_TOKEN,
        45011,
        "api minute-quota reach limit, must slower, retry next minute",
    ),
    (SET_USER_NOTIFY, 40003, "invalid openid"),
    (SET_USER_NOTIFY, 85431, "system error"),
    (SET_USER_NOTIFY, 85433, "invalid check_json"),
    (SET_USER_NOTIFY, 85434, "invalid notify_type"),
    (SET_USER_NOTIFY, 85435, "invalid content_json"),
    (SET_USER_NOTIFY, 85436, "notify_code abnormal"),
    (SET_USER_NOTIFY, 85437, "invalid notify_code"),
    (SET_USER_NOTIFY, 85438, "notify_code expired"),
    (SET_USER_NOTIFY, 85443, "content_json has illegal utf8 char"),
    (
        SET_USER_NOTIFY,
        85449,
        "notify_code is dealing and locked, retry later",
    ),
    (SET_USER_NOTIFY, -1, "system error"),
    (SET_USER_NOTIFY, 40001, INVALID_CREDENTIAL),
    (SET_USER_NOTIFY, 40014, "invalid access_token"),
    (SET_USER_NOTIFY, 42001, "access_token expired"),
    (SET_USER_NOTIFY, 45009, "reach max api daily quota limit"),
    (SET_USER_NOTIFY_EXT, 40003, "invalid openid"),
    (SET_USER_NOTIFY_EXT, 85431, "system error"),
    (SET_USER_NOTIFY_EXT, 85434, "invalid notify_type"),
    (SET_USER_NOTIFY_EXT, 85436, "notify_code abnormal"),
    (SET_USER_NOTIFY_EXT, 85437, "invalid notify_code"),
    (SET_USER_NOTIFY_EXT, 85444, "pay_info check fail"),
    (SET_USER_NOTIFY_EXT, 85445, "store_info check fail"),
    (SET_USER_NOTIFY_EXT, 85446, "shipping_list check fail"),
    (SET_USER_NOTIFY_EXT, 85447, "product_list check fail"),
    (SET_USER_NOTIFY_EXT, 85461, "notify_type access deny"),
    (SET_USER_NOTIFY_EXT, 85462, "app aceess deny"),
    (SET_USER_NOTIFY_EXT, 85470, "invalid ext_json"),
    (SET_USER_NOTIFY_EXT, 85471, "ext_json has illegal utf8 char"),
    (SET_USER_NOTIFY_EXT, -1, "system error"),
    (SET_USER_NOTIFY_EXT, 40001, INVALID_CREDENTIAL),
    (SET_USER_NOTIFY_EXT, 40014, "invalid access_token"),
    (SET_USER_NOTIFY_EXT, 42001, "access_token expired"),
    (
        SET_USER_NOTIFY_EXT,
        45009,
        "reach max api daily quota limit",
    ),
    (GET_USER_NOTIFY, 40003, "invalid openid"),
    (GET_USER_NOTIFY, 85431, "system error"),
    (GET_USER_NOTIFY, 85434, "invalid notify_type"),
    (GET_USER_NOTIFY, 85437, "invalid notify_code"),
    (GET_USER_NOTIFY, 85438, "notify_code expired"),
    (GET_USER_NOTIFY, -1, "system error"),
    (GET_USER_NOTIFY, 40001, INVALID_CREDENTIAL),
    (GET_USER_NOTIFY, 40014, "invalid access_token"),
    (GET_USER_NOTIFY, 42001, "access_token expired"),
    (GET_USER_NOTIFY, 45009, "reach max api daily quota limit"),
    (GET_TICKET, -1, "system error"),
    (GET_TICKET, 40001, INVALID_CREDENTIAL),
    (GET_TICKET, 40014, "invalid access_token"),
    (GET_TICKET, 42001, "access_token expired"),
    (GET_TICKET, 45009, "reach max api daily quota limit"),
    (DECRYPT_CARD_CODE, -1, "system error"),
    (DECRYPT_CARD_CODE, 40001, INVALID_CREDENTIAL),
    (DECRYPT_CARD_CODE, 40014, "invalid access_token"),
    (DECRYPT_CARD_CODE, 42001, "access_token expired"),
    (DECRYPT_CARD_CODE, 45009, "reach max api daily quota limit"),
];

/// General WeChat errcodes the spec's per-operation tables do not list, used where they are silent.
/// `(errcode, errmsg)`; they apply to every operation.
pub const UNDOCUMENTED: &[(i32, &str)] = &[
    // access_token query parameter absent (general code 41001 "缺少 access_token 参数").
    (41001, "access_token missing"),
    // Body is not JSON, not an object, or a field has the wrong JSON type (general code 47001
    // "解析 JSON/XML 内容错误"; the real server appends " rid: …", the sandbox does not).
    (47001, "data format error"),
    // decryptCardCode: unknown or tampered encrypt_code. The spec lists no API-specific code;
    // 40056 "invalid serial code" is the general 卡券 code for a bad code.
    (40056, "invalid serial code"),
    // getTicket: `type` absent or not jsapi/wx_card (general code 40097 "参数错误").
    (40097, "invalid args"),
    // appid absent on /cgi-bin/token (the token table omits it; the stable_token table has it).
    (41002, "appid missing"),
    // A service-card route called with the Official Account's token (general code 48001
    // "api 功能未授权"; the code WeChat answers there is UNCONFIRMED).
    (48001, "api unauthorized"),
    // An authorizer_access_token whose authorizer did not grant the third-party platform the
    // permission set the API belongs to: "出现61007错误的原因主要是:公众号/服务号/小程序…尚未将
    // 对应的权限集授权给第三方平台" (权限集常见排错指南,
    // https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/troubleshooting/third_party_authority_instructions_troubleshooting.html).
    (61007, "api is unauthorized to component"),
];

/// The errmsg for `errcode` answered by `operation`: the operation's own table first, then the
/// general codes above, then any other operation's row with that code.
pub fn errmsg(operation: &str, errcode: i32) -> &'static str {
    DOCUMENTED
        .iter()
        .find(|(op, code, _)| *op == operation && *code == errcode)
        .map(|(_, _, msg)| *msg)
        .or_else(|| {
            UNDOCUMENTED
                .iter()
                .find(|(code, _)| *code == errcode)
                .map(|(_, m)| *m)
        })
        .or_else(|| {
            DOCUMENTED
                .iter()
                .find(|(_, code, _)| *code == errcode)
                .map(|(_, _, m)| *m)
        })
        // The third-party platform's codes (61005, 61023, …), for faults injected there.
        .or_else(|| crate::component::errmsg(errcode))
        .unwrap_or("system error")
}

/// A WeChat error answer: HTTP 200 with `{"errcode","errmsg"}`.
pub fn reply(operation: &str, errcode: i32) -> Response {
    reply_with(errcode, errmsg(operation, errcode))
}

pub fn reply_with(errcode: i32, errmsg: &str) -> Response {
    Json(serde_json::json!({ "errcode": errcode, "errmsg": errmsg })).into_response()
}

/// `{"errcode":0,"errmsg":"ok"}` plus `extra`'s fields.
pub fn ok(extra: serde_json::Value) -> Response {
    let mut body = serde_json::json!({ "errcode": 0, "errmsg": "ok" });
    if let (Some(map), serde_json::Value::Object(more)) = (body.as_object_mut(), extra) {
        map.extend(more);
    }
    Json(body).into_response()
}
