//! The credential chain of a third-party platform (第三方平台), over the same [`TokenStore`] and
//! [`TokenManager`] as mini-program tokens (so it is single-flight across processes the same
//! way):
//!
//! 1. `component_verify_ticket` — pushed by WeChat every 10 minutes to the authorization event
//!    URL, valid 12 hours; the last one is kept (a push with a newer `CreateTime` replaces it, an
//!    older replayed one never does) under [`keys::component_verify_ticket`].
//! 2. `component_access_token` — a [`TokenManager`] at [`keys::component_access_token`] whose
//!    fetch is `api_component_token` with the stored ticket.
//! 3. per authorizer (授权方, the merchant's mini-program): a [`TokenManager`] at
//!    [`keys::authorizer_access_token`] whose fetch is `api_authorizer_token` with the
//!    `authorizer_refresh_token` stored at [`keys::authorizer_refresh_token`]. When the answer
//!    carries a different refresh token, it is persisted first — fenced by the manager's lock
//!    ([`Fence::set`]) — and only then is the access token handed to the manager to store.
//!    61023 (refresh token invalid: the authorization was revoked) clears both and is
//!    [`Error::NotAuthorized`]; so is a missing refresh token, without any request.
//!
//! Sources: WeChat's Open Platform documents — component_verify_ticket ("每隔 10 分钟" pushed,
//! "有效期为 12 小时"), component_access_token (2 h), api_query_auth, api_authorizer_token
//! (developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/Before_Develop/…),
//! and the error code 61023 "refresh_token is invalid" in their return-code table; wechatpy's
//! `wechatpy/component.py` keeps the same chain (ticket → component token → authorizer token
//! refreshed with the stored refresh token, which it saves from every answer).
//!
//! The HTTP calls are behind [`ComponentApi`], so the chain is written once and tested with a
//! [`MemoryStore`](crate::mp::token::MemoryStore) and a fake API.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex as StdMutex, Weak};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::mp::token::{
    keys, Fence, FencedFetchFn, StoredToken, TokenConfig, TokenManager, TokenStore,
};
use crate::{BoxFuture, Error, Result, SecretString};

/// How long a `component_verify_ticket` is valid after its push's `CreateTime` (12 h, per
/// WeChat's component_verify_ticket document).
pub const VERIFY_TICKET_LIFETIME_SECS: i64 = 12 * 3600;

/// The `expires_at` a refresh token is stored with: far ahead (refresh tokens do not expire
/// while the authorization stands, and must never be lost), i.e. about 20 years.
pub const REFRESH_TOKEN_LIFETIME_SECS: i64 = 20 * 365 * 24 * 3600;

/// errcode 61023: "refresh_token is invalid" — the authorization was revoked (or the token was
/// replaced); the merchant must authorize again.
pub const REFRESH_TOKEN_INVALID: i64 = 61023;

/// How many authorizers' managers are kept in memory; past it, those no call is using are
/// dropped (a dropped manager costs one store read on next use, never a fetch).
const MAX_CACHED_AUTHORIZERS: usize = 4096;

/// What `api_query_auth` answers (`authorization_info`).
#[derive(Clone, Debug)]
pub struct QueriedAuthorization {
    pub authorizer_appid: String,
    pub authorizer_access_token: SecretString,
    pub expires_in: i64,
    pub authorizer_refresh_token: SecretString,
    /// The permission sets granted (`func_info[].funcscope_category.id`).
    pub func_info: Vec<i64>,
}

/// What `api_authorizer_token` answers.
#[derive(Clone, Debug)]
pub struct RefreshedAuthorizerToken {
    pub authorizer_access_token: SecretString,
    pub expires_in: i64,
    /// Present when WeChat sent one (it may be a new one: persist it).
    pub authorizer_refresh_token: Option<SecretString>,
}

/// What [`ComponentTokens::authorize`] returns: who authorized and what — never a token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Authorization {
    pub authorizer_appid: String,
    /// The permission sets granted (set 18 covers setUserNotifyExt and the service cards).
    pub func_info: Vec<i64>,
    /// Lifetime of the authorizer access token just stored, in seconds.
    pub expires_in: i64,
}

/// The three HTTP calls of the chain (the component client implements it over its HTTP layer;
/// tests use a fake). The component appid and secret are the implementation's own; errcodes
/// come back as [`Error::MiniProgram`].
pub trait ComponentApi: Send + Sync {
    /// `api_component_token` with `verify_ticket`: `(component_access_token, expires_in)`.
    fn component_access_token<'a>(
        &'a self,
        verify_ticket: &'a SecretString,
    ) -> BoxFuture<'a, Result<(SecretString, i64)>>;

    /// `api_query_auth` (sent once: an authorization code is single use).
    fn query_auth<'a>(
        &'a self,
        authorization_code: &'a str,
    ) -> BoxFuture<'a, Result<QueriedAuthorization>>;

    /// `api_authorizer_token` for `authorizer_appid` with its refresh token.
    fn authorizer_token<'a>(
        &'a self,
        authorizer_appid: &'a str,
        refresh_token: &'a SecretString,
    ) -> BoxFuture<'a, Result<RefreshedAuthorizerToken>>;
}

/// The chain of one third-party platform over one store. Cheap to share (`Arc`).
pub struct ComponentTokens {
    component_appid: String,
    store: Arc<dyn TokenStore>,
    config: TokenConfig,
    api: Arc<dyn ComponentApi>,
    component: Arc<TokenManager>,
    authorizers: StdMutex<HashMap<String, Arc<TokenManager>>>,
    me: Weak<ComponentTokens>,
}

impl fmt::Debug for ComponentTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ComponentTokens")
            .field("component_appid", &self.component_appid)
            .field("authorizers_cached", &lock(&self.authorizers).len())
            .finish_non_exhaustive()
    }
}

impl ComponentTokens {
    pub fn new(
        component_appid: impl Into<String>,
        store: Arc<dyn TokenStore>,
        api: Arc<dyn ComponentApi>,
        config: TokenConfig,
    ) -> Arc<Self> {
        let component_appid = component_appid.into();
        Arc::new_cyclic(|me: &Weak<ComponentTokens>| {
            let w = me.clone();
            let component = Arc::new(
                TokenManager::new(
                    keys::component_access_token(&component_appid),
                    store.clone(),
                    move || {
                        let w = w.clone();
                        async move { upgrade(&w)?.fetch_component_token().await }
                    },
                )
                .with_config(config.clone()),
            );
            ComponentTokens {
                component_appid,
                store,
                config,
                api,
                component,
                authorizers: StdMutex::new(HashMap::new()),
                me: me.clone(),
            }
        })
    }

    pub fn component_appid(&self) -> &str {
        &self.component_appid
    }

    pub fn store(&self) -> &Arc<dyn TokenStore> {
        &self.store
    }

    /// The component_access_token's manager (a [`crate::mp::token::TokenProvider`]): what
    /// component operations use, compare-and-expired on 40001/42001.
    pub fn component_manager(&self) -> &Arc<TokenManager> {
        &self.component
    }

    /// A valid component_access_token (cached; fetched once for every caller and instance).
    pub async fn component_access_token(&self) -> Result<SecretString> {
        self.component.get_token().await
    }

    /// Stores a pushed ticket unless the stored one is from a push at least as recent: true when
    /// it was stored. Serialized through the store lock of the ticket key, so two pushes handled
    /// at once by two instances cannot let the older one win.
    pub async fn store_verify_ticket(
        &self,
        ticket: SecretString,
        create_time: i64,
    ) -> Result<bool> {
        if ticket.expose().is_empty() {
            return Err(Error::validation(
                "ComponentVerifyTicket",
                "must not be empty",
            ));
        }
        let key = keys::component_verify_ticket(&self.component_appid);
        let lock_key = keys::lock(&key);
        let token = StoredToken {
            value: ticket,
            expires_at: create_time.saturating_add(VERIFY_TICKET_LIFETIME_SECS),
        };
        let deadline = Instant::now() + self.config.wait_timeout;
        let held = loop {
            if let Some(held) = self
                .bounded(
                    "locking",
                    &key,
                    self.store.lock(&lock_key, self.config.lock_lease),
                )
                .await?
            {
                break held;
            }
            if Instant::now() >= deadline {
                return Err(Error::Timeout {
                    may_have_been_applied: false,
                    detail: format!(
                        "waited {:?} for the lock of `{key}`",
                        self.config.wait_timeout
                    ),
                });
            }
            tokio::time::sleep(self.config.poll_interval).await;
        };
        let result = async {
            let current = self.bounded("reading", &key, self.store.get(&key)).await?;
            if current.is_some_and(|c| c.expires_at >= token.expires_at) {
                return Ok(false);
            }
            self.bounded(
                "writing",
                &key,
                self.store.set_locked(&key, &token, &lock_key, &held),
            )
            .await
        }
        .await;
        let _ = self
            .bounded("unlocking", &key, self.store.unlock(&lock_key, &held))
            .await;
        result
    }

    /// The manager of `authorizer_appid`'s access token (created on first use, kept while in
    /// use): a [`crate::mp::token::TokenProvider`] for that authorizer's mini-program client.
    pub fn authorizer_manager(&self, authorizer_appid: &str) -> Result<Arc<TokenManager>> {
        check_appid(authorizer_appid)?;
        let mut map = lock(&self.authorizers);
        if let Some(m) = map.get(authorizer_appid) {
            return Ok(m.clone());
        }
        if map.len() >= MAX_CACHED_AUTHORIZERS {
            map.retain(|_, m| Arc::strong_count(m) > 1);
        }
        let w = self.me.clone();
        let appid = authorizer_appid.to_owned();
        let fetch: FencedFetchFn = Arc::new(move |fence: Fence| {
            let w = w.clone();
            let appid = appid.clone();
            Box::pin(async move { upgrade(&w)?.refresh_authorizer(&appid, fence).await })
        });
        let manager = Arc::new(
            TokenManager::with_fenced_fetch(
                keys::authorizer_access_token(&self.component_appid, authorizer_appid),
                self.store.clone(),
                fetch,
            )
            .with_config(self.config.clone()),
        );
        map.insert(authorizer_appid.to_owned(), manager.clone());
        Ok(manager)
    }

    /// A valid authorizer_access_token for `authorizer_appid`: cached, or refreshed once (for
    /// every caller and instance) with its stored refresh token.
    pub async fn authorizer_access_token(&self, authorizer_appid: &str) -> Result<SecretString> {
        self.authorizer_manager(authorizer_appid)?.get_token().await
    }

    /// Exchanges an authorization code (from the `authorized` / `updateauthorized` push or the
    /// authorization page's redirect) for the authorizer's tokens: the refresh token is stored
    /// first, then the access token, under the authorizer's lock.
    pub async fn authorize(&self, authorization_code: &str) -> Result<Authorization> {
        if authorization_code.trim().is_empty() {
            return Err(Error::validation("authorization_code", "must not be empty"));
        }
        let q = self.api.query_auth(authorization_code).await?;
        if q.authorizer_refresh_token.expose().is_empty() {
            return Err(Error::UnexpectedResponse {
                status: 200,
                detail: "queryAuth answered without authorizer_refresh_token".into(),
            });
        }
        let manager = self.authorizer_manager(&q.authorizer_appid)?;
        let refresh_key =
            keys::authorizer_refresh_token(&self.component_appid, &q.authorizer_appid);
        let (access, expires_in, refresh) = (
            q.authorizer_access_token,
            q.expires_in,
            q.authorizer_refresh_token,
        );
        let now = self.config.clock.now();
        manager
            .refresh_with_fenced(|fence| async move {
                persist_refresh_token(&fence, &refresh_key, refresh, now, None).await?;
                Ok((access, expires_in))
            })
            .await?;
        Ok(Authorization {
            authorizer_appid: q.authorizer_appid,
            func_info: q.func_info,
            expires_in,
        })
    }

    /// Forgets `authorizer_appid` (its `unauthorized` push): its refresh and access tokens are
    /// deleted under its lock (after any refresh under way), so every later call is
    /// [`Error::NotAuthorized`] without a request.
    pub async fn forget(&self, authorizer_appid: &str) -> Result<()> {
        let manager = self.authorizer_manager(authorizer_appid)?;
        manager
            .locked(|_fence| self.clear_authorizer(authorizer_appid, None))
            .await?;
        lock(&self.authorizers).remove(authorizer_appid);
        Ok(())
    }

    async fn fetch_component_token(&self) -> Result<(SecretString, i64)> {
        let key = keys::component_verify_ticket(&self.component_appid);
        let ticket = self.bounded("reading", &key, self.store.get(&key)).await?;
        let now = self.config.clock.now();
        let ticket = match ticket {
            Some(t) if t.expires_at > now && !t.value.expose().is_empty() => t.value,
            Some(_) => {
                return Err(Error::Config {
                    detail: "the last component_verify_ticket received is more than 12 hours old: \
                             WeChat pushes one every 10 minutes to the authorization event URL — \
                             check that the URL reaches this service and that each push is \
                             passed to parse_push"
                        .into(),
                })
            }
            None => {
                return Err(Error::Config {
                    detail: "no component_verify_ticket has been received yet: WeChat pushes one \
                             every 10 minutes to the authorization event URL once the platform \
                             is set up — check that URL and that each push is passed to \
                             parse_push"
                        .into(),
                })
            }
        };
        self.api.component_access_token(&ticket).await
    }

    /// The authorizer manager's fetch, run while it holds the lock (`fence`).
    async fn refresh_authorizer(&self, appid: &str, fence: Fence) -> Result<(SecretString, i64)> {
        let refresh_key = keys::authorizer_refresh_token(&self.component_appid, appid);
        let stored = self
            .bounded("reading", &refresh_key, self.store.get(&refresh_key))
            .await?
            .filter(|t| !t.value.expose().is_empty());
        let Some(stored) = stored else {
            return Err(not_authorized(
                appid,
                "no authorizer_refresh_token is stored for it (never authorized through this \
                 platform, or the authorization was revoked: an unauthorized push or errcode \
                 61023), so no refresh was attempted",
            ));
        };
        match self.api.authorizer_token(appid, &stored.value).await {
            Ok(r) => {
                if let Some(new) = r
                    .authorizer_refresh_token
                    .filter(|n| !n.expose().is_empty() && n.expose() != stored.value.expose())
                {
                    let now = self.config.clock.now();
                    let previous = (self.store.as_ref(), &stored.value);
                    persist_refresh_token(&fence, &refresh_key, new, now, Some(previous)).await?;
                }
                Ok((r.authorizer_access_token, r.expires_in))
            }
            Err(Error::MiniProgram(e)) if e.errcode == REFRESH_TOKEN_INVALID => {
                tracing::warn!(
                    target: crate::http::trace::TARGET,
                    key = %refresh_key,
                    "authorizer refresh token refused (61023): clearing the authorizer's tokens"
                );
                self.clear_authorizer(appid, Some(&stored.value)).await?;
                Err(not_authorized(
                    appid,
                    &format!(
                        "api_authorizer_token answered errcode 61023 ({}): the refresh token is no \
                         longer valid, so the authorizer's tokens were cleared and no refresh \
                         will be attempted",
                        e.errmsg
                    ),
                ))
            }
            Err(e) => Err(e),
        }
    }

    /// Deletes the authorizer's refresh token (only `failed` when given: a newer one stored
    /// meanwhile stays) and its access token.
    async fn clear_authorizer(&self, appid: &str, failed: Option<&SecretString>) -> Result<()> {
        let refresh_key = keys::authorizer_refresh_token(&self.component_appid, appid);
        let value = match failed {
            Some(v) => Some(v.clone()),
            None => self
                .bounded("reading", &refresh_key, self.store.get(&refresh_key))
                .await?
                .map(|t| t.value),
        };
        if let Some(value) = value {
            self.bounded(
                "expiring",
                &refresh_key,
                self.store.compare_and_expire(&refresh_key, value.expose()),
            )
            .await?;
        }
        // Both callers hold the authorizer's manager (forget creates it, a refresh is its fetch).
        self.authorizer_manager(appid)?.expire().await?;
        Ok(())
    }

    /// `op` on the store, bounded by [`TokenConfig::store_timeout`].
    async fn bounded<T>(
        &self,
        what: &str,
        key: &str,
        op: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        let bound: Duration = self.config.store_timeout;
        tokio::time::timeout(bound, op).await.unwrap_or_else(|_| {
            Err(Error::Timeout {
                may_have_been_applied: false,
                detail: format!(
                    "token store: {what} `{key}` took longer than {bound:?} (store_timeout)"
                ),
            })
        })
    }
}

/// Writes a refresh token through the fence. If the lock ran out meanwhile and the token
/// replaces `previous` (a rotation: WeChat has just made `previous` invalid, so losing the new
/// one would cost the authorization), it is still written where `previous` is still the stored
/// one ([`TokenStore::compare_and_set`]): nobody stored another or cleared it since. Failing
/// that (or the store failing) is an error, so the access token that came with it is not used
/// before its refresh token is safe.
async fn persist_refresh_token(
    fence: &Fence,
    key: &str,
    value: SecretString,
    now: i64,
    previous: Option<(&dyn TokenStore, &SecretString)>,
) -> Result<()> {
    let token = StoredToken {
        value,
        expires_at: now.saturating_add(REFRESH_TOKEN_LIFETIME_SECS),
    };
    if fence.set(key, &token).await? {
        return Ok(());
    }
    if let Some((store, previous)) = previous {
        if store
            .compare_and_set(key, previous.expose(), &token)
            .await?
        {
            tracing::warn!(
                target: crate::http::trace::TARGET,
                key = %key,
                "the refresh lock ran out: the rotated authorizer refresh token was stored in \
                 place of the one it replaces"
            );
            return Ok(());
        }
    }
    tracing::warn!(
        target: crate::http::trace::TARGET,
        key = %key,
        "the lock was lost before the authorizer refresh token could be stored"
    );
    Err(Error::Timeout {
        may_have_been_applied: true,
        detail: format!(
            "the store lock of `{key}`'s authorizer ran out before its new refresh token could be \
             stored, and another was stored meanwhile; the access token that came with it was \
             not used"
        ),
    })
}

fn not_authorized(appid: &str, detail: &str) -> Error {
    Error::NotAuthorized {
        authorizer_appid: appid.to_owned(),
        detail: detail.to_owned(),
    }
}

/// An appid goes into store keys: letters, digits, `_` and `-`, 1 to 64 of them (WeChat's are
/// `wx` + 16 hex digits).
fn check_appid(appid: &str) -> Result<()> {
    let ok = !appid.is_empty()
        && appid.len() <= 64
        && appid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(Error::validation(
            "authorizer_appid",
            "must be 1 to 64 letters, digits, `_` or `-` (an appid such as wx0123456789abcdef)",
        ))
    }
}

fn upgrade(w: &Weak<ComponentTokens>) -> Result<Arc<ComponentTokens>> {
    w.upgrade().ok_or_else(|| Error::Config {
        detail: "the component client was dropped".into(),
    })
}

fn lock<T>(m: &StdMutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
#[path = "tokens_tests.rs"]
mod tests;
