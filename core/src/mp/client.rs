//! The mini-program client: `api.weixin.qq.com` with an appid and its AppSecret, over the shared
//! HTTP layer ([`HttpClient`]: one connection pool per client, timeouts, bounded retries).
//!
//! # Access tokens
//! Every operation the spec marks `Auth::AccessToken` gets `access_token=<token>` appended to its
//! query. The token comes from a [`TokenProvider`]:
//! - by default a [`TokenManager`] over the client's [`TokenStore`] (in-memory, or Redis shared by
//!   every instance) that fetches with `getStableAccessToken` (`force_refresh: false`), or with
//!   the plain `/cgi-bin/token` when [`TokenEndpoint::Token`] is selected — through the
//!   generated operations and this client's own execute path, never a hand-built URL;
//! - or one supplied by the caller ([`MiniProgramClientBuilder::token_provider`]): a third-party
//!   platform's `authorizer_access_token`, a central token service, [`FixedToken`](super::FixedToken).
//!
//! # The rules every call follows
//! 1. HTTP 5xx, 429 and transport errors are retried by the [`HttpClient`] (bounded by the
//!    [`RetryPolicy`], default 3 attempts with exponential backoff and jitter).
//! 2. Mini-program errors arrive as HTTP 200 with `errcode` ≠ 0. `-1` (system busy) and the
//!    errcodes the operation's table marks retryable (85431 "system error", 85449 "locked, retry
//!    later") are retried the same way, within the same bound; rows with a documented delay
//!    (`retry_after_secs`: 45011 per-minute quota, 85437) are not retried at once.
//! 3. 40001 / 42001 / 40014 on an access-token operation: the token that failed is expired in the
//!    store only if it is still the stored one ([`TokenProvider::invalidate`], compare-and-expire:
//!    another instance may already have replaced it), a token is obtained again (one fetch at
//!    most, shared with every concurrent caller) and the call is sent once more — once, never
//!    more: a second rejection is returned as [`Error::MiniProgram`].
//! 4. The answer is decoded by the generated operation ([`crate::operation::decode_json`]):
//!    errcode ≠ 0 becomes [`Error::MiniProgram`] with the spec's solution text and advice. For
//!    85437 (notify_code does not exist) that says a WeChat Pay transaction id used as
//!    notify_code may need about a minute after payment before it can be verified
//!    ([`MiniProgramError::is_notify_code_not_ready`](crate::MiniProgramError::is_notify_code_not_ready), [`MiniProgramError::retry_after`](crate::MiniProgramError::retry_after)).
//!
//! The access token travels only in the query string. It is never logged, never put in error
//! text (the HTTP layer strips queries from its errors) and hidden from `Debug` output.

use std::fmt;
use std::sync::Arc;

use http::HeaderMap;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use tracing::Instrument;
use zeroize::Zeroize;

use crate::dispatch::{self, JsonArgs};
use crate::error::{Error, Result};
pub use crate::http::RetryPolicy;
use crate::http::{Body, HttpClient, Outgoing};
pub use crate::mp::builder::MiniProgramClientBuilder;
use crate::mp::card::CardExtBuilder;
use crate::mp::errors::{
    check_errcode, errcode_of, frontend_code_not_found, notify_type_of, verdict,
    FRONTEND_NOTIFY_TYPES,
};
pub use crate::mp::errors::{errcode, NOTIFY_CODE_RETRY_AFTER};
pub use crate::mp::ext_json::IntoExtJson;
use crate::mp::token::{TokenManager, TokenProvider, TokenStore};
use crate::mp::{
    specs, AddCardListItem, CardExtArgs, ClientCredentialGrantType, DecryptCardCodeRequest,
    GetStableAccessTokenRequest, GetStableAccessTokenResponse, GetTicketType, Operations as _,
    SetUserNotifyExtRequest, SetUserNotifyExtResponse,
};
use crate::operation::{
    decode_empty, decode_json, Auth, Execute, OperationSpec, PreparedRequest, RawResponse,
    RequestBody,
};
use crate::SecretString;

/// Which endpoint the client's own [`TokenManager`] fetches access tokens from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TokenEndpoint {
    /// `POST /cgi-bin/stable_token` (getStableAccessToken, `force_refresh: false`): the
    /// recommended one; repeated calls return the same token while it is valid, so instances
    /// that do not share a store do not invalidate each other.
    #[default]
    StableToken,
    /// `GET /cgi-bin/token` (getAccessToken): every call issues a new token and invalidates the
    /// previous one — share the store (Redis) between instances.
    Token,
}

/// getStableAccessToken with `force_refresh: true`: the spec marks the operation idempotent for
/// its normal mode (repeated calls return the same token), but the forced mode "会导致上次获取的
/// access_token 失效,并返回新的 access_token" (the operation's document): a forced refresh is
/// never sent again after a failure that may have come after WeChat received it.
static FORCED_STABLE_TOKEN: OperationSpec = OperationSpec {
    idempotent: false,
    ..specs::GET_STABLE_ACCESS_TOKEN
};

/// Characters escaped in the `access_token` query value (everything but unreserved).
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A mini-program API client. Cheap to clone (the clones share one connection pool, one token
/// store and the same single-flight refreshes); `Send + Sync`.
///
/// ```no_run
/// # async fn demo() -> weixin_kit::Result<()> {
/// use weixin_kit::mp::{MiniProgramClient, Operations as _};
/// let client = MiniProgramClient::builder()
///     .appid("wx1234567890abcdef")
///     .secret("…AppSecret…")
///     .token_store_url("redis://127.0.0.1:6379/0") // shared by every instance
///     .build()?;
/// client
///     .set_user_notify_ext(
///         "oUser",
///         1,
///         "4200001234202401011234567890",
///         serde_json::json!({"pay_info": {"amount": 100}}),
///     )
///     .await?;
/// let item = client.card_ext("pFS7Fjg8kV1IdDz01r4SQwMkuCKc", None, None).await?;
/// # let _ = item; Ok(()) }
/// ```
#[derive(Clone)]
pub struct MiniProgramClient {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    pub(super) appid: String,
    pub(super) secret: Option<SecretString>,
    pub(super) endpoint: TokenEndpoint,
    pub(super) http: HttpClient,
    /// What every access-token call asks.
    pub(super) token: Arc<dyn TokenProvider>,
    /// The client's own manager (None with an external provider): force refresh.
    pub(super) access: Option<Arc<TokenManager>>,
    /// The Official Account that created the cards, when configured: every `card` operation
    /// runs with its token.
    pub(super) card: Option<CardAccount>,
    /// The wx_card api_ticket of the card account, under `keys::ticket(card_appid, "wx_card")`
    /// in the same store.
    pub(super) ticket: TokenManager,
    pub(super) store: Arc<dyn TokenStore>,
    pub(super) store_kind: &'static str,
}

/// The spec tag whose operations belong to the card-owning Official Account
/// (`x-weixin-account: card_account` on the tag in spec/miniprogram.json).
pub const CARD_TAG: &str = "card";

/// The Official Account (公众号) that created the cards, as the client uses it.
pub(super) struct CardAccount {
    pub(super) appid: String,
    pub(super) secret: Option<SecretString>,
    /// Its access tokens: a manager over the same store, or an external provider.
    pub(super) token: Arc<dyn TokenProvider>,
}

impl fmt::Debug for MiniProgramClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        f.debug_struct("MiniProgramClient")
            .field("appid", &i.appid)
            .field("secret", &i.secret.as_ref().map(|_| "<redacted>"))
            .field("base_url", &i.http.main_base_url())
            .field(
                "token_source",
                &match (&i.access, i.endpoint) {
                    (None, _) => "external TokenProvider",
                    (Some(_), TokenEndpoint::StableToken) => "getStableAccessToken",
                    (Some(_), TokenEndpoint::Token) => "getAccessToken",
                },
            )
            .field("card_appid", &i.card.as_ref().map(|c| &c.appid))
            .field("token_store", &i.store_kind)
            .field("retry", i.http.retry_policy())
            .finish()
    }
}

impl MiniProgramClient {
    pub fn builder() -> MiniProgramClientBuilder {
        MiniProgramClientBuilder::default()
    }

    pub fn appid(&self) -> &str {
        &self.inner.appid
    }

    pub fn base_url(&self) -> &str {
        self.inner.http.main_base_url()
    }

    /// The store tokens and tickets are cached in.
    pub fn token_store(&self) -> &Arc<dyn TokenStore> {
        &self.inner.store
    }

    /// A valid access token: from the store, or fetched once for every concurrent caller (in
    /// this process and, through the store's lock, in every instance sharing the store).
    pub async fn access_token(&self) -> Result<SecretString> {
        self.inner.token.token().await
    }

    /// Compare-and-expire: drops `failed` from the store if it is still the stored token. The
    /// client does this itself on 40001/42001/40014; for tokens you used elsewhere.
    pub async fn invalidate_access_token(&self, failed: &SecretString) -> Result<bool> {
        self.inner.token.invalidate(failed).await
    }

    /// Replaces the stored access token now, for every instance sharing the store: with
    /// [`TokenEndpoint::StableToken`], `getStableAccessToken` with `force_refresh: true` (the
    /// previous token stops working at once; WeChat allows 20 a day, 30 s apart — use it when a
    /// token leaked, not on errors: the client never forces by itself); with
    /// [`TokenEndpoint::Token`], a new `/cgi-bin/token`. Not available with an external
    /// [`TokenProvider`].
    pub async fn force_refresh_access_token(&self) -> Result<SecretString> {
        let Some(manager) = &self.inner.access else {
            return Err(Error::Config {
                detail: "this client takes its tokens from an external TokenProvider: refresh \
                         them there"
                    .into(),
            });
        };
        manager.refresh_with(self.fetch_access_token(true)).await
    }

    /// An access token of the card-owning Official Account (cached like the mini-program's):
    /// for card APIs this client does not cover.
    pub async fn card_account_access_token(&self) -> Result<SecretString> {
        self.card_account()?.token.token().await
    }

    /// The card api_ticket (getTicket `type=wx_card`), cached in the token store like the
    /// access token (its own key, same safety margin, single flight).
    pub async fn card_api_ticket(&self) -> Result<SecretString> {
        self.inner.ticket.get_token().await
    }

    /// Compare-and-expire for the card api_ticket.
    pub async fn invalidate_card_api_ticket(&self, failed: &SecretString) -> Result<bool> {
        self.inner.ticket.invalidate_if_current(failed).await
    }

    /// setUserNotifyExt with `ext_json` given as a raw string (checked to be a JSON object), an
    /// [`ExtJson`](crate::mp::ExtJson), or a [`serde_json::Value`] whose object and array values are JSON-encoded
    /// into strings for you (the nesting the documents show: `"pay_info": "{\"…\"}"`).
    ///
    /// 85470 (ext_json not a JSON object) is caught here, before sending, as
    /// [`Error::Validation`]. 85471 (ext_json not UTF-8) cannot happen: Rust strings are UTF-8
    /// and serde_json refuses lone surrogate escapes. 85437 comes back as [`Error::MiniProgram`]
    /// with [`MiniProgramError::is_notify_code_not_ready`](crate::MiniProgramError::is_notify_code_not_ready) true: retry after a minute.
    pub async fn set_user_notify_ext(
        &self,
        openid: &str,
        notify_type: i32,
        notify_code: &str,
        ext_json: impl IntoExtJson,
    ) -> Result<SetUserNotifyExtResponse> {
        let ext_json = ext_json.into_ext_json()?;
        self.service_card()
            .set_user_notify_ext(&SetUserNotifyExtRequest {
                ext_json: ext_json.into_string(),
                notify_code: notify_code.to_owned(),
                notify_type,
                openid: openid.to_owned(),
            })
            .await
    }

    /// One `wx.addCard` `cardList` element for `card_id`, signed with the cached card
    /// api_ticket (fetched on first use), now and a fresh nonce; `openid` and `code` are signed
    /// and included when given.
    pub async fn card_ext(
        &self,
        card_id: &str,
        openid: Option<&str>,
        code: Option<&str>,
    ) -> Result<AddCardListItem> {
        let builder = CardExtBuilder::from(CardExtArgs {
            card_id: card_id.to_owned(),
            openid: openid.map(str::to_owned),
            code: code.map(str::to_owned),
            outer_str: None,
            fixed_begintimestamp: None,
        });
        self.card_ext_with(&builder).await
    }

    /// Like [`MiniProgramClient::card_ext`], for a builder with `fixed_begintimestamp`,
    /// `outer_str`, a chosen timestamp or nonce.
    pub async fn card_ext_with(&self, builder: &CardExtBuilder) -> Result<AddCardListItem> {
        let ticket = self.card_api_ticket().await?;
        builder.build(ticket.expose())
    }

    /// The real card code behind the `encrypt_code` that `wx.addCard` returns (what
    /// `wx.openCard` needs), via `/card/code/decrypt`.
    pub async fn decrypt_card_code(&self, encrypt_code: &str) -> Result<String> {
        let response = self
            .card()
            .decrypt_card_code(&DecryptCardCodeRequest {
                encrypt_code: encrypt_code.to_owned(),
            })
            .await?;
        response.code.ok_or_else(|| Error::UnexpectedResponse {
            status: 200,
            detail: "decryptCardCode answered errcode 0 without `code`".into(),
        })
    }

    /// Any operation of `spec/miniprogram.json` by its official name (`setUserNotifyExt`), and
    /// its local operations (`cardExt`), with wire-named JSON arguments: what the language
    /// bindings call. Tokens, retries and documented errors are the typed methods' own.
    pub async fn call(&self, operation: &str, args: JsonArgs) -> Result<serde_json::Value> {
        if operation == "cardExt" {
            let builder = CardExtBuilder::from(CardExtArgs::from_json(args)?);
            let item = self.card_ext_with(&builder).await?;
            return serde_json::to_value(item).map_err(|e| Error::Config {
                detail: format!("cardExt could not be encoded: {e}"),
            });
        }
        let op = dispatch::find(crate::mp::JSON_OPERATIONS, operation).ok_or_else(|| {
            dispatch::unknown_operation(
                "mini-program",
                operation,
                crate::mp::JSON_OPERATIONS
                    .iter()
                    .map(|o| o.spec.name)
                    .chain(crate::mp::LOCAL_OPERATIONS.iter().copied()),
            )
        })?;
        dispatch::call(self, op, args).await
    }

    /// `(access_token, expires_in)` from the configured endpoint, through the generated
    /// operations and this client's execute path.
    pub(super) async fn fetch_access_token(
        &self,
        force_refresh: bool,
    ) -> Result<(SecretString, i64)> {
        let inner = &*self.inner;
        let secret = inner.secret.clone().ok_or_else(|| Error::Config {
            detail: "fetching access tokens needs the AppSecret: set it with secret()".into(),
        })?;
        self.fetch_token_of(&inner.appid, secret, force_refresh)
            .await
    }

    /// The card account's access token, from the same endpoint as the mini-program's.
    pub(super) async fn fetch_card_account_token(&self) -> Result<(SecretString, i64)> {
        let card = self.card_account()?;
        let secret = card.secret.clone().ok_or_else(|| Error::Config {
            detail: "fetching the card account's tokens needs its AppSecret".into(),
        })?;
        self.fetch_token_of(&card.appid, secret, false).await
    }

    /// The card account, or the error that says how to configure it.
    fn card_account(&self) -> Result<&CardAccount> {
        self.inner.card.as_ref().ok_or_else(|| Error::Config {
            detail: "cards belong to the Official Account (公众号) that created them: its wx_card \
                     api_ticket signs cardExt and its token decrypts codes (WeChat's guide \
                     小程序内领取卡券). Configure that account with card_appid and card_secret \
                     (MiniProgramClientBuilder::card_account)"
                .into(),
        })
    }

    async fn fetch_token_of(
        &self,
        appid: &str,
        secret: SecretString,
        force_refresh: bool,
    ) -> Result<(SecretString, i64)> {
        let inner = &*self.inner;
        let (token, expires_in, op) = match inner.endpoint {
            TokenEndpoint::StableToken => {
                let request =
                    crate::mp::prepare_get_stable_access_token(&GetStableAccessTokenRequest {
                        appid: appid.to_owned(),
                        force_refresh,
                        grant_type: ClientCredentialGrantType::ClientCredential,
                        secret,
                    })?;
                let mut request = request;
                if force_refresh {
                    // Each forced call ends the previous token: never sent twice.
                    request.operation = &FORCED_STABLE_TOKEN;
                }
                let response = self.execute(request).await?;
                let r: GetStableAccessTokenResponse =
                    decode_json(&specs::GET_STABLE_ACCESS_TOKEN, &response)?;
                (r.access_token, r.expires_in, "getStableAccessToken")
            }
            TokenEndpoint::Token => {
                let r = self
                    .auth()
                    .get_access_token(
                        ClientCredentialGrantType::ClientCredential,
                        appid,
                        secret.expose(),
                    )
                    .await?;
                (r.access_token, r.expires_in, "getAccessToken")
            }
        };
        credential(token, expires_in, op, "access_token")
    }

    pub(super) async fn fetch_card_ticket(&self) -> Result<(SecretString, i64)> {
        let r = self.card().get_ticket(GetTicketType::WxCard).await?;
        credential(r.ticket, r.expires_in, "getTicket", "ticket")
    }

    /// An access-token operation (the card account's token for the `card` tag): on
    /// 40001/42001/40014 compare-and-expire, one new token, one more send — never more
    /// ([`send_refreshing_once`]).
    async fn execute_with_token(&self, request: &PreparedRequest) -> Result<RawResponse> {
        let provider = if request.operation.tag == CARD_TAG {
            &self.card_account()?.token
        } else {
            &self.inner.token
        };
        send_refreshing_once(
            &self.inner.http,
            request,
            "access_token",
            provider.as_ref(),
            errcode::is_token_rejected,
        )
        .await
    }

    /// One operation through the shared HTTP layer: 5xx/429/transport errors and the retryable
    /// errcodes retried there, within the retry policy's bound.
    async fn send(
        &self,
        request: &PreparedRequest,
        token: Option<&SecretString>,
    ) -> Result<RawResponse> {
        send_with_token(
            &self.inner.http,
            request,
            token.map(|t| ("access_token", t)),
        )
        .await
    }
}

/// An operation whose credential travels as the query parameter `param` (`access_token`,
/// `component_access_token`), from `provider`: send; when the answer's errcode says the token
/// was rejected (`rejected`), compare-and-expire it ([`TokenProvider::invalidate`]: another
/// instance may already have replaced it), obtain one again (one fetch at most, shared with
/// every concurrent caller) and send once more — once, never more. When the provider neither
/// dropped the token nor has another one ([`FixedToken`](super::FixedToken)), the first answer
/// stands; so does it when the store cannot expire the token (Redis down): the rejection is the
/// error worth reporting, with the store's failure noted in its solution. (A manager that did
/// expire it may get the same value back — a stable token still valid on the server — and sends
/// once more with it.)
pub(crate) async fn send_refreshing_once(
    http: &HttpClient,
    request: &PreparedRequest,
    param: &str,
    provider: &dyn TokenProvider,
    rejected: fn(i64) -> bool,
) -> Result<RawResponse> {
    let token = provider.token().await?;
    let response = send_with_token(http, request, Some((param, &token))).await?;
    let Some(code) = errcode_of(&response).filter(|&c| rejected(c)) else {
        return Ok(response);
    };
    tracing::info!(
        target: crate::http::trace::TARGET,
        errcode = code,
        credential = param,
        "access token rejected: expiring it and sending once more with a new one"
    );
    let invalidated = match provider.invalidate(&token).await {
        Ok(invalidated) => invalidated,
        Err(store_error) => return token_not_replaced(request.operation, response, &store_error),
    };
    let fresh = provider.token().await?;
    if !invalidated && fresh.expose() == token.expose() {
        // The same token would be rejected the same way.
        return Ok(response);
    }
    send_with_token(http, request, Some((param, &fresh))).await
}

/// One errcode-model operation (mini-program, component) through `http`, with `(name, token)`
/// appended to its query when given (`access_token`, `component_access_token`): 5xx/429/
/// transport errors and the retryable errcodes retried there, within the retry policy's bound.
/// Our copies of the token (and of a body that carried a secret) are wiped after.
pub(crate) async fn send_with_token(
    http: &HttpClient,
    request: &PreparedRequest,
    token: Option<(&str, &SecretString)>,
) -> Result<RawResponse> {
    let op = request.operation;
    if let RequestBody::MediaUpload { .. } = request.body {
        return Err(Error::Config {
            detail: format!(
                "operation {} is a media upload, which this client does not send",
                op.name
            ),
        });
    }
    let mut outgoing = Outgoing::from_prepared(request)?;
    let path_and_query = &mut outgoing.path_and_query;
    if let Some((name, token)) = token {
        path_and_query.push(if path_and_query.contains('?') {
            '&'
        } else {
            '?'
        });
        path_and_query.push_str(name);
        path_and_query.push('=');
        path_and_query.extend(utf8_percent_encode(token.expose(), QUERY_VALUE));
    }
    let result = http
        .send(
            &outgoing,
            |_attempt| std::future::ready(Ok(HeaderMap::new())),
            |response| verdict(op, response),
        )
        .await;
    // The token (or, for the token request, the AppSecret) was in the query or the body:
    // wipe our copies. The body's bytes are wiped when no one else holds them any more
    // (the HTTP stack has finished with them once the response was read).
    outgoing.path_and_query.zeroize();
    if let Body::Bytes(bytes) = std::mem::replace(&mut outgoing.body, Body::Empty) {
        if let Ok(mut bytes) = bytes.try_into_mut() {
            bytes.as_mut().zeroize();
        }
    }
    result
}

impl dispatch::CallByName for MiniProgramClient {
    async fn call_by_name(&self, operation: &str, args: JsonArgs) -> Result<serde_json::Value> {
        self.call(operation, args).await
    }
}

impl Execute for MiniProgramClient {
    async fn execute(&self, request: PreparedRequest) -> Result<RawResponse> {
        let span = crate::http::trace::call_span(request.operation);
        self.execute_traced(request).instrument(span).await
    }
}

impl MiniProgramClient {
    /// [`Execute::execute`] inside its `weixin_kit.call` span.
    async fn execute_traced(&self, request: PreparedRequest) -> Result<RawResponse> {
        let op = request.operation;
        let response = match op.auth {
            Auth::AccessToken => self.execute_with_token(&request).await?,
            Auth::None => self.send(&request, None).await?,
            Auth::WechatPay2 => {
                return Err(Error::Config {
                    detail: format!(
                        "operation {} is a WeChat Pay operation: send it with PayClient",
                        op.name
                    ),
                })
            }
            Auth::ComponentAccessToken => {
                return Err(Error::Config {
                    detail: format!(
                        "operation {} is a third-party platform (component) operation: send it \
                         with ComponentClient",
                        op.name
                    ),
                })
            }
        };
        // 85437's documented "retry in about a minute" is for WeChat Pay transaction ids; a
        // front-end notify_code would only run out its 5-minute window (mp::errors).
        if errcode_of(&response) == Some(errcode::NOTIFY_CODE_NOT_FOUND) {
            if let RequestBody::Json(body) = &request.body {
                if notify_type_of(body).is_some_and(|t| FRONTEND_NOTIFY_TYPES.contains(&t)) {
                    if let Err(Error::MiniProgram(e)) = check_errcode(op, &response) {
                        return Err(frontend_code_not_found(*e).into());
                    }
                }
            }
        }
        Ok(response)
    }
}

impl crate::mp::Operations for MiniProgramClient {}

/// The answer to a call whose rejected token could not be expired (the store failed): the
/// rejection stands, with the store's failure noted in its solution.
fn token_not_replaced(
    op: &'static OperationSpec,
    response: RawResponse,
    store_error: &Error,
) -> Result<RawResponse> {
    match decode_empty(op, &response) {
        Err(Error::MiniProgram(mut e)) => {
            let note = format!(
                "the rejected access token could not be expired, so it was not replaced and the \
                 request was not sent again ({store_error})"
            );
            e.solution = Some(match e.solution.take().filter(|s| !s.is_empty()) {
                Some(documented) => format!("{documented}; {note}"),
                None => note,
            });
            Err(Error::MiniProgram(e))
        }
        _ => Ok(response),
    }
}

fn credential(
    value: Option<SecretString>,
    expires_in: Option<i32>,
    op: &str,
    field: &str,
) -> Result<(SecretString, i64)> {
    match value.filter(|v| !v.expose().is_empty()) {
        Some(value) => Ok((value, i64::from(expires_in.unwrap_or(7200)))),
        None => Err(Error::UnexpectedResponse {
            status: 200,
            detail: format!("{op} answered errcode 0 without `{field}`"),
        }),
    }
}
