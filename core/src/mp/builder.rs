//! [`MiniProgramClientBuilder`]: a [`MiniProgramClient`]'s appid and AppSecret (or token
//! provider), token store, hosts and HTTP settings, checked by
//! [`build`](MiniProgramClientBuilder::build).

use std::fmt;
use std::sync::{Arc, Weak};

use super::client::{CardAccount, Inner, MiniProgramClient, RetryPolicy, TokenEndpoint};
use crate::error::{Error, Result};
use crate::http::{HttpClient, HttpConfig};
use crate::mp::token::{
    keys, store_from_url, MemoryStore, TokenConfig, TokenManager, TokenProvider, TokenStore,
};
use crate::SecretString;

/// The card-owning Official Account as configured: its appid, and its AppSecret or a provider.
struct CardAccountSetting {
    appid: String,
    secret: Option<SecretString>,
    provider: Option<Arc<dyn TokenProvider>>,
}

/// Builds a [`MiniProgramClient`]; [`build`](Self::build) checks that nothing required is
/// missing.
#[derive(Default)]
pub struct MiniProgramClientBuilder {
    appid: Option<String>,
    secret: Option<SecretString>,
    base_url: Option<String>,
    http: HttpConfig,
    retry: RetryPolicy,
    endpoint: TokenEndpoint,
    provider: Option<Arc<dyn TokenProvider>>,
    card: Option<CardAccountSetting>,
    store: Option<Arc<dyn TokenStore>>,
    store_url: Option<String>,
    token_config: TokenConfig,
}

impl fmt::Debug for MiniProgramClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MiniProgramClientBuilder")
            .field("appid", &self.appid)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("base_url", &self.base_url)
            .field("endpoint", &self.endpoint)
            .field("external_provider", &self.provider.is_some())
            .field("card_appid", &self.card.as_ref().map(|c| &c.appid))
            .finish_non_exhaustive()
    }
}

impl MiniProgramClientBuilder {
    /// The mini-program's AppID.
    pub fn appid(mut self, appid: impl Into<String>) -> Self {
        self.appid = Some(appid.into());
        self
    }

    /// The AppSecret (needed unless a [`token_provider`](Self::token_provider) is given).
    pub fn secret(mut self, secret: impl Into<SecretString>) -> Self {
        self.secret = Some(secret.into());
        self
    }

    /// The Official Account (公众号) that created the cards: its AppID and AppSecret. Cards
    /// belong to that account (WeChat's guide 小程序内领取卡券): the wx_card api_ticket that signs
    /// cardExt and the code decrypt are that account's, so every `card` operation (getTicket,
    /// decryptCardCode, cardExt) uses its access token — fetched, cached and shared like the
    /// mini-program's own, in the same token store. Without it those operations are an
    /// [`Error::Config`].
    pub fn card_account(
        mut self,
        appid: impl Into<String>,
        secret: impl Into<SecretString>,
    ) -> Self {
        self.card = Some(CardAccountSetting {
            appid: appid.into(),
            secret: Some(secret.into()),
            provider: None,
        });
        self
    }

    /// Like [`card_account`](Self::card_account), with the Official Account's tokens from
    /// elsewhere (a third-party platform, a central token service).
    pub fn card_token_provider(
        mut self,
        appid: impl Into<String>,
        provider: Arc<dyn TokenProvider>,
    ) -> Self {
        self.card = Some(CardAccountSetting {
            appid: appid.into(),
            secret: None,
            provider: Some(provider),
        });
        self
    }

    /// The host (default [`MAIN_HOST`](crate::mp::MAIN_HOST)); a sandbox URL in tests.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    crate::http::http_setters!();

    /// Retries of 5xx, 429, transport errors and the retryable errcodes (default: 3 attempts,
    /// 100 ms then 200 ms with jitter). The token refresh on 40001/42001/40014 is separate
    /// and happens at most once.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Where the client's own token manager fetches tokens (default
    /// [`TokenEndpoint::StableToken`]).
    pub fn token_endpoint(mut self, endpoint: TokenEndpoint) -> Self {
        self.endpoint = endpoint;
        self
    }

    /// Tokens from elsewhere (a third-party platform's `authorizer_access_token`, a central
    /// token service): the client neither fetches nor stores access tokens; on
    /// 40001/42001/40014 it calls the provider's `invalidate` with the failed token, asks again
    /// and retries once. The wx_card ticket is still cached in the token store.
    pub fn token_provider(mut self, provider: Arc<dyn TokenProvider>) -> Self {
        self.provider = Some(provider);
        self
    }

    /// The store tokens and tickets are cached in (default: a [`MemoryStore`] of this client).
    pub fn token_store(mut self, store: Arc<dyn TokenStore>) -> Self {
        self.store = Some(store);
        self.store_url = None;
        self
    }

    /// The store by URL: `memory://` or `redis://host:port/db` (also `rediss://`,
    /// `redis+unix://`); Redis is connected on first use. Checked by [`build`](Self::build).
    pub fn token_store_url(mut self, url: impl Into<String>) -> Self {
        self.store_url = Some(url.into());
        self.store = None;
        self
    }

    /// Safety margin, lock lease and waits of the token and ticket caches.
    pub fn token_config(mut self, config: TokenConfig) -> Self {
        self.token_config = config;
        self
    }

    pub fn build(self) -> Result<MiniProgramClient> {
        let mut missing = Vec::new();
        let appid = self.appid.unwrap_or_default();
        if appid.trim().is_empty() {
            missing.push("appid");
        }
        let secret = self.secret.filter(|s| !s.expose().is_empty());
        if secret.is_none() && self.provider.is_none() {
            missing.push("secret (the AppSecret), or an external token_provider");
        }
        if let Some(card) = &self.card {
            if card.appid.trim().is_empty() {
                missing.push("the card account's appid");
            }
            if card.provider.is_none() && card.secret.as_ref().is_none_or(|s| s.expose().is_empty())
            {
                missing.push("the card account's secret");
            }
        }
        if !missing.is_empty() {
            return Err(Error::Config {
                detail: format!("MiniProgramClient is missing {}", missing.join("; ")),
            });
        }
        let (store, store_kind) = match (self.store, self.store_url) {
            (Some(store), _) => (store, "custom"),
            (None, Some(url)) => store_from_url(&url)?,
            (None, None) => (
                Arc::new(MemoryStore::new()) as Arc<dyn TokenStore>,
                "memory",
            ),
        };
        let http = HttpClient::new(
            &self.http,
            self.base_url
                .unwrap_or_else(|| crate::mp::MAIN_HOST.to_owned()),
            crate::mp::BACKUP_HOST.map(str::to_owned),
            self.retry,
        )?;
        let config = self.token_config;
        let endpoint = self.endpoint;
        let provider = self.provider;
        let card_setting = self.card;
        let inner = Arc::new_cyclic(|weak: &Weak<Inner>| {
            let access = provider.is_none().then(|| {
                let w = weak.clone();
                Arc::new(
                    TokenManager::new(keys::access_token(&appid), store.clone(), move || {
                        let w = w.clone();
                        async move { upgrade(&w)?.fetch_access_token(false).await }
                    })
                    .with_config(config.clone()),
                )
            });
            let card = card_setting.map(|c| {
                let token: Arc<dyn TokenProvider> = match c.provider {
                    Some(p) => p,
                    None => {
                        let w = weak.clone();
                        Arc::new(
                            TokenManager::new(
                                keys::access_token(&c.appid),
                                store.clone(),
                                move || {
                                    let w = w.clone();
                                    async move { upgrade(&w)?.fetch_card_account_token().await }
                                },
                            )
                            .with_config(config.clone()),
                        )
                    }
                };
                CardAccount {
                    appid: c.appid,
                    secret: c.secret,
                    token,
                }
            });
            // The wx_card ticket is the card account's (its own key in the store).
            let ticket_owner = card.as_ref().map_or(&appid, |c| &c.appid);
            let w = weak.clone();
            let ticket = TokenManager::new(
                keys::ticket(ticket_owner, "wx_card"),
                store.clone(),
                move || {
                    let w = w.clone();
                    async move { upgrade(&w)?.fetch_card_ticket().await }
                },
            )
            .with_config(config.clone());
            let token: Arc<dyn TokenProvider> = match (&provider, &access) {
                (Some(p), _) => p.clone(),
                (None, Some(m)) => m.clone(),
                (None, None) => unreachable!("a manager is built when no provider is given"),
            };
            Inner {
                appid: appid.clone(),
                secret,
                endpoint,
                http,
                token,
                access,
                card,
                ticket,
                store: store.clone(),
                store_kind,
            }
        });
        Ok(MiniProgramClient { inner })
    }
}

impl MiniProgramClient {
    /// A client for a third-party platform's authorizer (授权方): `appid` is the merchant's
    /// mini-program, `token` the authorizer's token manager (refreshed with its refresh token),
    /// and the HTTP client (one connection pool) and store are the component client's. The
    /// mini-program rules then apply as they are: on 40001/42001/40014 the authorizer token is
    /// compare-and-expired, refreshed once and the call sent once more.
    pub(crate) fn for_authorizer(
        appid: &str,
        token: Arc<dyn TokenProvider>,
        http: HttpClient,
        store: Arc<dyn TokenStore>,
        store_kind: &'static str,
        config: TokenConfig,
    ) -> MiniProgramClient {
        let inner = Arc::new_cyclic(|weak: &Weak<Inner>| {
            let w = weak.clone();
            let ticket =
                TokenManager::new(keys::ticket(appid, "wx_card"), store.clone(), move || {
                    let w = w.clone();
                    async move { upgrade(&w)?.fetch_card_ticket().await }
                })
                .with_config(config);
            Inner {
                appid: appid.to_owned(),
                secret: None,
                endpoint: TokenEndpoint::default(),
                http,
                token,
                access: None,
                card: None,
                ticket,
                store,
                store_kind,
            }
        });
        MiniProgramClient { inner }
    }
}

fn upgrade(weak: &Weak<Inner>) -> Result<MiniProgramClient> {
    weak.upgrade()
        .map(|inner| MiniProgramClient { inner })
        .ok_or_else(|| Error::Config {
            detail: "the MiniProgramClient was dropped".into(),
        })
}
