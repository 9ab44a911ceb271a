//! The WeChat routes of the third-party platform: getComponentAccessToken, queryAuth,
//! getAuthorizerAccessToken. Errors are HTTP 200 `{"errcode","errmsg"}`; successes carry no
//! errcode, as the documented examples show.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use super::state::{ComponentState, TokenCheck};
use crate::mp::errors::reply_with;

type St = State<Arc<ComponentState>>;

/// errmsg per errcode. getComponentAccessToken's table (令牌, returns 61004, 61005 "component
/// ticket is expired", 41004 "appsecret missing", 40125 "invalid appsecret", 61006 "component
/// ticket is invalid", 61011 "invalid component", 45009, 47001 "data format error", 40001,
/// 48001: https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/ThirdParty/token/component_access_token.html);
/// 61023 "refresh_token is invalid", 61009 "code is invalid", 61010 "code is expired" as WeChat
/// answers them (errmsgs quoted in WeChat's forum threads and in 权限集常见排错指南 for 61009);
/// 41001/41002/42001/40013 are the general codes.
pub const ERRMSGS: &[(i32, &str)] = &[
    (
        40001,
        "invalid credential, access_token is invalid or not latest",
    ),
    (40013, "invalid appid"),
    (40125, "invalid appsecret"),
    (41001, "access_token missing"),
    (41002, "appid missing"),
    (41004, "appsecret missing"),
    (42001, "access_token expired"),
    (47001, "data format error"),
    (61005, "component ticket is expired"),
    (61006, "component ticket is invalid"),
    (61009, "code is invalid"),
    (61010, "code is expired"),
    (61011, "invalid component"),
    (61023, "refresh_token is invalid"),
];

/// The errmsg the platform routes answer `errcode` with (None: not one of theirs).
pub(crate) fn errmsg(errcode: i32) -> Option<&'static str> {
    ERRMSGS.iter().find(|(c, _)| *c == errcode).map(|(_, m)| *m)
}

fn reply(errcode: i32) -> Response {
    reply_with(errcode, errmsg(errcode).unwrap_or("system error"))
}

/// The JSON object body, or 47001; absent string members read as "".
fn body(bytes: &[u8]) -> Result<Map<String, Value>, Response> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(reply(47001)),
    }
}

fn field<'a>(m: &'a Map<String, Value>, name: &str) -> Result<&'a str, Response> {
    match m.get(name) {
        None | Some(Value::Null) => Ok(""),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(reply(47001)),
    }
}

/// The component_access_token of the query. WeChat's older pages name the parameter
/// `component_access_token`, the newer OpenApiDoc pages `access_token` ("第三方平台接口调用凭证
/// component_access_token,该参数为 URL 参数"): both are accepted.
#[allow(clippy::result_large_err)]
fn check_token(st: &ComponentState, uri: &Uri) -> Result<(), Response> {
    let q = crate::mp::query_map(uri);
    let token = q
        .get("component_access_token")
        .or_else(|| q.get("access_token"))
        .map(String::as_str);
    match st.check_token(token) {
        TokenCheck::Ok => Ok(()),
        TokenCheck::Err(code) => Err(reply(code)),
    }
}

/// `POST /cgi-bin/component/api_component_token {component_appid, component_appsecret,
/// component_verify_ticket}` → `{component_access_token, expires_in}`.
pub(crate) async fn component_token(State(st): St, bytes: Bytes) -> Response {
    let run = || -> Result<Response, Response> {
        let m = body(&bytes)?;
        let (appid, secret, ticket) = (
            field(&m, "component_appid")?,
            field(&m, "component_appsecret")?,
            field(&m, "component_verify_ticket")?,
        );
        let (token, expires_in) = st.component_token(appid, secret, ticket).map_err(reply)?;
        Ok(
            Json(json!({"component_access_token": token, "expires_in": expires_in}))
                .into_response(),
        )
    };
    run().unwrap_or_else(|r| r)
}

/// `POST /cgi-bin/component/api_query_auth?component_access_token= {component_appid,
/// authorization_code}` → `{authorization_info: {…}}`.
pub(crate) async fn query_auth(State(st): St, uri: Uri, bytes: Bytes) -> Response {
    let run = || -> Result<Response, Response> {
        check_token(&st, &uri)?;
        let m = body(&bytes)?;
        let info = st
            .query_auth(
                field(&m, "component_appid")?,
                field(&m, "authorization_code")?,
            )
            .map_err(reply)?;
        Ok(Json(info).into_response())
    };
    run().unwrap_or_else(|r| r)
}

/// `POST /cgi-bin/component/api_authorizer_token?component_access_token= {component_appid,
/// authorizer_appid, authorizer_refresh_token}` → `{authorizer_access_token, expires_in,
/// authorizer_refresh_token}`.
pub(crate) async fn authorizer_token(State(st): St, uri: Uri, bytes: Bytes) -> Response {
    let run = || -> Result<Response, Response> {
        check_token(&st, &uri)?;
        let m = body(&bytes)?;
        let answer = st
            .authorizer_token(
                field(&m, "component_appid")?,
                field(&m, "authorizer_appid")?,
                field(&m, "authorizer_refresh_token")?,
            )
            .map_err(reply)?;
        Ok(Json(answer).into_response())
    };
    run().unwrap_or_else(|r| r)
}
