//! The third-party platform client (第三方平台): its own operations with the
//! `component_access_token`, the credential chain of [`ComponentTokens`], the authorization
//! pushes, and a [`MiniProgramClient`] per authorizer.
//!
//! # The rules every call follows
//! - `Auth::ComponentAccessToken` operations (queryAuth, getAuthorizerAccessToken) get
//!   `component_access_token=<token>` appended to their query. On errcode 40001 / 42001 the
//!   token that failed is expired only if it is still the stored one (compare-and-expire), a
//!   token is obtained again (one fetch at most, shared with every caller and instance) and the
//!   call is sent once more — once, never more.
//! - `Auth::None` operations (getComponentAccessToken: the credentials travel in the body) are
//!   sent as they are.
//! - 5xx, 429, transport errors and the retryable errcodes are retried by the shared HTTP layer,
//!   within the retry policy (as for mini-program calls).
//! - An authorizer's client ([`ComponentClient::authorizer`]) is a [`MiniProgramClient`] whose
//!   token provider is the authorizer's token manager: the mini-program rule (40001/42001/40014
//!   → compare-and-expire, one refresh with the refresh token, one resend) applies as it is.
//!
//! Tokens, the AppSecret, tickets, refresh tokens and the message key are never logged, never
//! in error text and hidden from `Debug`.

use std::fmt;
use std::sync::{Arc, Weak};

use tracing::Instrument;

use super::msg_crypt::MsgCrypt;
use super::push::{ComponentPush, PushQuery};
use super::tokens::{
    Authorization, ComponentApi, ComponentTokens, QueriedAuthorization, RefreshedAuthorizerToken,
};
use super::{
    GetAuthorizerAccessTokenRequest, GetComponentAccessTokenRequest, Operations as _,
    QueryAuthRequest,
};
pub use crate::component::builder::ComponentClientBuilder;
use crate::dispatch::{self, JsonArgs};
use crate::error::{Error, Result};
use crate::http::HttpClient;
use crate::mp::client::{send_refreshing_once, send_with_token};
use crate::mp::token::{TokenConfig, TokenProvider, TokenStore};
use crate::mp::MiniProgramClient;
use crate::operation::{Auth, Execute, PreparedRequest, RawResponse};
use crate::{BoxFuture, SecretString};

/// errcodes that mean the component_access_token sent is no good (40001 invalid or not the
/// latest, 42001 expired: the spec's error tables of queryAuth and getAuthorizerAccessToken).
const COMPONENT_TOKEN_REJECTED: [i64; 2] = [40001, 42001];

/// A third-party platform's client. Cheap to clone (the clones share one connection pool, one
/// token store and the same single-flight refreshes); `Send + Sync`.
///
/// ```no_run
/// # async fn demo() -> weixin_kit::Result<()> {
/// use weixin_kit::component::ComponentClient;
/// let component = ComponentClient::builder()
///     .component_appid("wx0123456789abcdef")
///     .component_appsecret("…")
///     .token("…message-check Token…")
///     .encoding_aes_key("…43 characters…")
///     .token_store_url("redis://127.0.0.1:6379/0") // shared by every instance
///     .build()?;
/// // In the authorization-event URL's handler: component.parse_push(query, body), answer "success".
/// let merchant = component.authorizer("wxfedcba9876543210")?;
/// merchant
///     .set_user_notify_ext("oUser", 1, "4200001234202401011234567890", serde_json::json!({}))
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ComponentClient {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    pub(super) component_appid: String,
    pub(super) component_appsecret: SecretString,
    pub(super) crypt: PushCrypt,
    pub(super) http: HttpClient,
    pub(super) tokens: Arc<ComponentTokens>,
    pub(super) store: Arc<dyn TokenStore>,
    pub(super) store_kind: &'static str,
    pub(super) token_config: TokenConfig,
}

/// The push decryption (WXBizMsgCrypt over the message-check Token and EncodingAESKey), when
/// both are configured.
pub(super) struct PushCrypt(Option<MsgCrypt>);

impl PushCrypt {
    pub(super) fn new(
        token: Option<SecretString>,
        encoding_aes_key: Option<SecretString>,
        component_appid: &str,
    ) -> Result<Self> {
        let token = token.filter(|t| !t.expose().is_empty());
        let encoding_aes_key = encoding_aes_key.filter(|k| !k.expose().is_empty());
        match (token, encoding_aes_key) {
            (Some(token), Some(key)) => Ok(PushCrypt(Some(MsgCrypt::new(
                token.expose(),
                key.expose(),
                component_appid,
            )?))),
            (None, None) => Ok(PushCrypt(None)),
            _ => Err(Error::Config {
                detail: "ComponentClient: pushes need both the message-check `token` and the \
                         `encoding_aes_key` of the platform's settings (or neither, when this \
                         instance does not receive pushes)"
                    .into(),
            }),
        }
    }

    fn configured(&self) -> bool {
        self.0.is_some()
    }
}

impl fmt::Debug for ComponentClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        f.debug_struct("ComponentClient")
            .field("component_appid", &i.component_appid)
            .field("component_appsecret", &"<redacted>")
            .field("push_crypt", &i.crypt.configured().then_some("<redacted>"))
            .field("base_url", &i.http.main_base_url())
            .field("token_store", &i.store_kind)
            .field("retry", i.http.retry_policy())
            .finish()
    }
}

impl ComponentClient {
    pub fn builder() -> ComponentClientBuilder {
        ComponentClientBuilder::default()
    }

    pub fn component_appid(&self) -> &str {
        &self.inner.component_appid
    }

    pub fn base_url(&self) -> &str {
        self.inner.http.main_base_url()
    }

    /// The store tickets and tokens are kept in.
    pub fn token_store(&self) -> &Arc<dyn TokenStore> {
        &self.inner.store
    }

    /// The credential chain (verify ticket, component token, authorizer tokens).
    pub fn tokens(&self) -> &Arc<ComponentTokens> {
        &self.inner.tokens
    }

    /// A valid component_access_token: from the store, or fetched once (for every caller and
    /// instance) with the last verify ticket pushed.
    pub async fn component_access_token(&self) -> Result<SecretString> {
        self.inner.tokens.component_access_token().await
    }

    /// Verifies, decrypts and types a push to the authorization-event URL (授权事件接收URL):
    /// `query` is the URL's query string as received (`timestamp`, `nonce`, `encrypt_type`,
    /// `msg_signature`), `body` the raw POST body. A `component_verify_ticket` is stored (a
    /// newer `CreateTime` wins; a replayed older push never overwrites it); an `unauthorized`
    /// push forgets the authorizer ([`ComponentClient::forget_authorizer`]); `authorized` /
    /// `updateauthorized` carry the code for [`ComponentClient::authorize`]. Answer WeChat with
    /// the plain text `success`.
    pub async fn parse_push(&self, query: &str, body: &[u8]) -> Result<ComponentPush> {
        self.parse_push_query(&PushQuery::parse(query)?, body).await
    }

    /// [`ComponentClient::parse_push`] with the query already split (a web framework's
    /// parameters: [`PushQuery::from_pairs`]).
    pub async fn parse_push_query(&self, query: &PushQuery, body: &[u8]) -> Result<ComponentPush> {
        let Some(crypt) = &self.inner.crypt.0 else {
            return Err(Error::Config {
                detail: "parse_push needs the message-check `token` and the `encoding_aes_key` \
                         of the platform's settings"
                    .into(),
            });
        };
        let push = super::push::parse_push(crypt, query, body)?;
        match &push {
            ComponentPush::VerifyTicket {
                ticket,
                create_time,
                ..
            } => {
                self.inner
                    .tokens
                    .store_verify_ticket(ticket.clone(), *create_time)
                    .await?;
            }
            ComponentPush::Unauthorized(event) => {
                self.inner.tokens.forget(&event.authorizer_appid).await?;
            }
            _ => {}
        }
        Ok(push)
    }

    /// Exchanges an authorization code (from an `authorized` / `updateauthorized` push, or the
    /// authorization page's redirect) for the authorizer's tokens (queryAuth, sent once): the
    /// refresh token is stored first, then the access token. Returns who authorized and the
    /// permission sets granted — no token.
    pub async fn authorize(&self, authorization_code: &str) -> Result<Authorization> {
        self.inner.tokens.authorize(authorization_code).await
    }

    /// A valid authorizer_access_token for `authorizer_appid` (cached, or refreshed once for
    /// every caller and instance with its stored refresh token). [`Error::NotAuthorized`] when
    /// the merchant must authorize again.
    pub async fn authorizer_access_token(&self, authorizer_appid: &str) -> Result<SecretString> {
        self.inner
            .tokens
            .authorizer_access_token(authorizer_appid)
            .await
    }

    /// Deletes `authorizer_appid`'s refresh and access tokens (its `unauthorized` push does this
    /// by itself): later calls for it are [`Error::NotAuthorized`] without a request.
    pub async fn forget_authorizer(&self, authorizer_appid: &str) -> Result<()> {
        self.inner.tokens.forget(authorizer_appid).await
    }

    /// A mini-program client acting for `authorizer_appid` (`component.authorizer("wx…")`): its
    /// token is the authorizer's access token, and it shares this client's connection pool and
    /// store. Every mini-program operation (setUserNotifyExt included) works as on a
    /// [`MiniProgramClient`] of that appid.
    pub fn authorizer(&self, authorizer_appid: &str) -> Result<MiniProgramClient> {
        let i = &self.inner;
        let manager = i.tokens.authorizer_manager(authorizer_appid)?;
        Ok(MiniProgramClient::for_authorizer(
            authorizer_appid,
            manager as Arc<dyn TokenProvider>,
            i.http.clone(),
            i.store.clone(),
            i.store_kind,
            i.token_config.clone(),
        ))
    }

    /// Any operation of the spec's `component` tag by its official name (`queryAuth`), with
    /// wire-named JSON arguments: what the language bindings call.
    pub async fn call(&self, operation: &str, args: JsonArgs) -> Result<serde_json::Value> {
        let op = dispatch::find(crate::component::JSON_OPERATIONS, operation).ok_or_else(|| {
            dispatch::unknown_operation(
                "component",
                operation,
                crate::component::JSON_OPERATIONS
                    .iter()
                    .map(|o| o.spec.name),
            )
        })?;
        dispatch::call(self, op, args).await
    }

    async fn execute_traced(&self, request: PreparedRequest) -> Result<RawResponse> {
        let op = request.operation;
        match op.auth {
            // 40001/42001: compare-and-expire, one new token, one more send — never more.
            Auth::ComponentAccessToken => {
                send_refreshing_once(
                    &self.inner.http,
                    &request,
                    "component_access_token",
                    self.inner.tokens.component_manager().as_ref(),
                    |c| COMPONENT_TOKEN_REJECTED.contains(&c),
                )
                .await
            }
            Auth::None => send_with_token(&self.inner.http, &request, None).await,
            Auth::AccessToken => Err(Error::Config {
                detail: format!(
                    "operation {} is a mini-program operation: send it with the authorizer's \
                     client (ComponentClient::authorizer(appid))",
                    op.name
                ),
            }),
            Auth::WechatPay2 => Err(Error::Config {
                detail: format!(
                    "operation {} is a WeChat Pay operation: send it with PayClient",
                    op.name
                ),
            }),
        }
    }
}

impl Execute for ComponentClient {
    async fn execute(&self, request: PreparedRequest) -> Result<RawResponse> {
        let span = crate::http::trace::call_span(request.operation);
        self.execute_traced(request).instrument(span).await
    }
}

impl crate::component::Operations for ComponentClient {}

impl dispatch::CallByName for ComponentClient {
    async fn call_by_name(&self, operation: &str, args: JsonArgs) -> Result<serde_json::Value> {
        self.call(operation, args).await
    }
}

/// The chain's HTTP calls, through the client's generated operations and execute path.
pub(super) struct HttpApi(pub(super) Weak<Inner>);

impl HttpApi {
    fn client(&self) -> Result<ComponentClient> {
        self.0
            .upgrade()
            .map(|inner| ComponentClient { inner })
            .ok_or_else(|| Error::Config {
                detail: "the ComponentClient was dropped".into(),
            })
    }
}

impl ComponentApi for HttpApi {
    fn component_access_token<'a>(
        &'a self,
        verify_ticket: &'a SecretString,
    ) -> BoxFuture<'a, Result<(SecretString, i64)>> {
        Box::pin(async move {
            let client = self.client()?;
            let i = &client.inner;
            let r = client
                .component()
                .get_component_access_token(&GetComponentAccessTokenRequest {
                    component_appid: i.component_appid.clone(),
                    component_appsecret: i.component_appsecret.clone(),
                    component_verify_ticket: verify_ticket.clone(),
                })
                .await?;
            let token = present(
                r.component_access_token,
                "getComponentAccessToken",
                "component_access_token",
            )?;
            Ok((token, i64::from(r.expires_in.unwrap_or(7200))))
        })
    }

    fn query_auth<'a>(
        &'a self,
        authorization_code: &'a str,
    ) -> BoxFuture<'a, Result<QueriedAuthorization>> {
        Box::pin(async move {
            let client = self.client()?;
            let r = client
                .component()
                .query_auth(&QueryAuthRequest {
                    authorization_code: authorization_code.into(),
                    component_appid: client.inner.component_appid.clone(),
                })
                .await?;
            let info = r
                .authorization_info
                .ok_or_else(|| Error::UnexpectedResponse {
                    status: 200,
                    detail: "queryAuth answered errcode 0 without `authorization_info`".into(),
                })?;
            let authorizer_appid =
                info.authorizer_appid
                    .filter(|a| !a.is_empty())
                    .ok_or_else(|| Error::UnexpectedResponse {
                        status: 200,
                        detail: "queryAuth answered without `authorization_info.authorizer_appid`"
                            .into(),
                    })?;
            Ok(QueriedAuthorization {
                authorizer_appid,
                authorizer_access_token: present(
                    info.authorizer_access_token,
                    "queryAuth",
                    "authorizer_access_token",
                )?,
                expires_in: i64::from(info.expires_in.unwrap_or(7200)),
                authorizer_refresh_token: present(
                    info.authorizer_refresh_token,
                    "queryAuth",
                    "authorizer_refresh_token",
                )?,
                func_info: info
                    .func_info
                    .iter()
                    .filter_map(|f| f.funcscope_category.as_ref()?.id.map(i64::from))
                    .collect(),
            })
        })
    }

    fn authorizer_token<'a>(
        &'a self,
        authorizer_appid: &'a str,
        refresh_token: &'a SecretString,
    ) -> BoxFuture<'a, Result<RefreshedAuthorizerToken>> {
        Box::pin(async move {
            let client = self.client()?;
            let r = client
                .component()
                .get_authorizer_access_token(&GetAuthorizerAccessTokenRequest {
                    authorizer_appid: authorizer_appid.to_owned(),
                    authorizer_refresh_token: refresh_token.clone(),
                    component_appid: client.inner.component_appid.clone(),
                })
                .await?;
            Ok(RefreshedAuthorizerToken {
                authorizer_access_token: present(
                    r.authorizer_access_token,
                    "getAuthorizerAccessToken",
                    "authorizer_access_token",
                )?,
                expires_in: i64::from(r.expires_in.unwrap_or(7200)),
                authorizer_refresh_token: r
                    .authorizer_refresh_token
                    .filter(|t| !t.expose().is_empty()),
            })
        })
    }
}

/// A credential the answer must carry.
fn present(value: Option<SecretString>, op: &str, field: &str) -> Result<SecretString> {
    value
        .filter(|v| !v.expose().is_empty())
        .ok_or_else(|| Error::UnexpectedResponse {
            status: 200,
            detail: format!("{op} answered errcode 0 without `{field}`"),
        })
}
