//! The third-party platform (第三方平台 / component) side of the sandbox: a protocol peer for
//! weixin-kit's component client. It implements WeChat's side on its own — its WXBizMsgCrypt
//! ([`crypto`]) is written from WeChat's documents and wechatpy, not taken from weixin-kit's
//! core — so a wrong belief in the core fails against it.
//!
//! # WeChat routes ([`router`]; errors HTTP 200 `{"errcode","errmsg"}`)
//! | route | behaviour |
//! |---|---|
//! | `POST /cgi-bin/component/api_component_token {component_appid, component_appsecret, component_verify_ticket}` | → `{component_access_token, expires_in: 7200}`, a new token each call. Checks in order: body a JSON object with string members (47001); appid absent 41002 / not the platform's 61011 "invalid component"; secret absent 41004 / wrong 40125; ticket not one the sandbox pushed for the platform 61006 "component ticket is invalid", pushed but past its 12 h 61005 "component ticket is expired". |
//! | `POST /cgi-bin/component/api_query_auth?component_access_token= {component_appid, authorization_code}` | → `{authorization_info: {authorizer_appid, authorizer_access_token, expires_in: 7200, authorizer_refresh_token, func_info: [{funcscope_category: {id}}]}}`. A code is single use (reuse 61009, UNCONFIRMED), unknown 61009 "code is invalid", past its 600 s 61010 "code is expired". |
//! | `POST /cgi-bin/component/api_authorizer_token?component_access_token= {component_appid, authorizer_appid, authorizer_refresh_token}` | → `{authorizer_access_token, expires_in: 7200, authorizer_refresh_token}`: the same refresh token, or a new one when a rotation is armed (the old one then answers 61023). Unknown, replaced or revoked refresh token, or another authorizer's: 61023 "refresh_token is invalid". |
//!
//! The component_access_token (query `component_access_token`, or `access_token` as WeChat's
//! newer pages name it): absent 41001, unknown 40001, expired 42001. A body `component_appid`
//! other than the platform's: 40013 (UNCONFIRMED). The mini-program side's errcode faults
//! (`/sandbox/mp/errcode_faults`, by path or operationId `getComponentAccessToken`,
//! `queryAuth`, `getAuthorizerAccessToken`) and its call counters apply to these routes too.
//!
//! Authorizer access tokens are accepted by the mini-program routes as the authorizer's
//! `access_token` ([`crate::mp::authorizer`]): without permission set 18 the service-card routes
//! answer 61007 "api is unauthorized to component" (configurable: `missing_permission_errcode`).
//! Revoking an authorization makes its access tokens answer 40001.
//!
//! # Pushes ([`push`])
//! Encrypted and signed as WeChat does, POSTed to the configured push URL; each delivery is
//! recorded (`GET /sandbox/component/pushes`). `delivered` = HTTP 2xx with the body `success`.
//!
//! # Control routes ([`control_router`]; JSON, no auth)
//! | route | effect | Rust |
//! |---|---|---|
//! | `GET /sandbox/component/config` | the settings: `component_appid`, `component_appsecret`, `token`, `encoding_aes_key` (secrets in clear), `push_url`, `ticket_interval_secs`, `missing_permission_errcode`, `code_lifetime_secs`, `ticket_lifetime_secs`, `token_lifetime_secs` | [`ComponentState::settings`] |
//! | `POST /sandbox/component/config {…any of those}` | changes them (`push_url: ""` / `ticket_interval_secs: 0` clear); a bad EncodingAESKey 400 | [`crate::Sandbox::configure_component`] |
//! | `POST /sandbox/component/push_ticket` → delivery | a new component_verify_ticket (valid 12 h), pushed | [`crate::Sandbox::push_component_verify_ticket`] |
//! | `POST /sandbox/component/authorize {authorizer_appid?, func_ids?}` → `{authorizer_appid, authorization_code, expired_time, func_ids, push}` | the account authorizes the platform (default appid: a new one; default sets 17, 18, 19): a new refresh token (the previous one dies), a code, an `authorized` push | [`crate::Sandbox::authorize_component`] |
//! | `POST /sandbox/component/update_authorization {authorizer_appid, func_ids?}` → same | the grant changes; a new code; an `updateauthorized` push (the refresh token stays) | [`crate::Sandbox::update_component_authorization`] |
//! | `POST /sandbox/component/revoke {authorizer_appid}` → delivery | refresh token → 61023, access tokens → 40001; an `unauthorized` push | [`crate::Sandbox::revoke_component_authorization`] |
//! | `POST /sandbox/component/rotate_refresh_token {authorizer_appid}` | the next successful refresh answers a new refresh token | [`crate::Sandbox::arm_refresh_token_rotation`] |
//! | `POST /sandbox/component/expire_tokens` | every component_access_token expires (42001) | [`ComponentState::expire_tokens`] |
//! | `GET /sandbox/component/counters` | see [`ComponentState::counters`] | [`crate::Sandbox::component_counters`] |
//! | `GET /sandbox/component/pushes` | every [`PushDelivery`] | [`crate::Sandbox::component_pushes`] |
//!
//! Unknown authorizer on update/revoke/rotate: 404 `{"error"}`; a bad body 400.

pub mod api;
mod control;
pub mod crypto;
pub mod push;
mod state;

use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;

pub(crate) use api::errmsg;
pub use push::PushDelivery;
pub use state::{
    Authorization, ComponentSettings, ComponentState, ComponentUpdate, CODE_LIFETIME,
    COMPONENT_TOKEN_LIFETIME, DEFAULT_FUNC_IDS, DOCUMENTED_TICKET_INTERVAL, TICKET_LIFETIME,
};

use crate::SandboxError;

/// Fresh settings: a random component appid, appsecret, Token and EncodingAESKey, no push URL.
pub fn generate_settings() -> ComponentSettings {
    use weixin_kit::SecretString;
    ComponentSettings {
        component_appid: format!("wx{}", crate::keys::random_hex(16)),
        component_appsecret: SecretString::new(crate::keys::random_hex(32)),
        token: SecretString::new(crate::keys::random_alnum(32)),
        encoding_aes_key: SecretString::new(crypto::random_encoding_aes_key()),
        push_url: None,
        ticket_interval_secs: None,
        missing_permission_errcode: 61007,
        code_lifetime_secs: CODE_LIFETIME.as_secs(),
        ticket_lifetime_secs: TICKET_LIFETIME.as_secs(),
        token_lifetime_secs: COMPONENT_TOKEN_LIFETIME.as_secs(),
    }
}

/// The WeChat routes, counted and fault-injected like the mini-program ones.
pub fn router(state: Arc<ComponentState>) -> Router {
    let mp = state.mp.clone();
    Router::new()
        .route(
            "/cgi-bin/component/api_component_token",
            post(api::component_token),
        )
        .route("/cgi-bin/component/api_query_auth", post(api::query_auth))
        .route(
            "/cgi-bin/component/api_authorizer_token",
            post(api::authorizer_token),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            mp,
            crate::mp::count_and_inject,
        ))
        .with_state(state)
}

/// The `/sandbox/component/…` control routes.
pub fn control_router(state: Arc<ComponentState>) -> Router {
    Router::new()
        .route(
            "/sandbox/component/config",
            get(control::get_config).post(control::set_config),
        )
        .route("/sandbox/component/push_ticket", post(control::push_ticket))
        .route("/sandbox/component/authorize", post(control::authorize))
        .route(
            "/sandbox/component/update_authorization",
            post(control::update_authorization),
        )
        .route("/sandbox/component/revoke", post(control::revoke))
        .route(
            "/sandbox/component/rotate_refresh_token",
            post(control::rotate),
        )
        .route(
            "/sandbox/component/expire_tokens",
            post(control::expire_tokens),
        )
        .route("/sandbox/component/counters", get(control::counters))
        .route("/sandbox/component/pushes", get(control::pushes))
        .with_state(state)
}

/// Authorizes (or, `update`, changes the grant of) an account and pushes `authorized` /
/// `updateauthorized` with the new code.
pub async fn authorize(
    state: &ComponentState,
    authorizer_appid: Option<String>,
    func_ids: Option<Vec<u32>>,
    update: bool,
) -> Result<Authorization, SandboxError> {
    let (appid, code, expired_time, func_ids, create_time) =
        state.authorize(authorizer_appid, func_ids, update)?;
    let info_type = if update {
        "updateauthorized"
    } else {
        "authorized"
    };
    let push = push::push(
        state,
        info_type,
        create_time,
        &[
            ("AuthorizerAppid", appid.clone()),
            ("AuthorizationCode", code.clone()),
            ("AuthorizationCodeExpiredTime", expired_time.to_string()),
            (
                "PreAuthCode",
                format!("preauthcode@@@{}", crate::keys::random_alnum(43)),
            ),
        ],
    )
    .await;
    Ok(Authorization {
        authorizer_appid: appid,
        authorization_code: code,
        expired_time,
        func_ids,
        push,
    })
}

/// Ends an authorization and pushes `unauthorized`.
pub async fn revoke(
    state: &ComponentState,
    authorizer_appid: &str,
) -> Result<PushDelivery, SandboxError> {
    let create_time = state.revoke(authorizer_appid)?;
    Ok(push::push(
        state,
        "unauthorized",
        create_time,
        &[("AuthorizerAppid", authorizer_appid.to_owned())],
    )
    .await)
}
