//! [`ComponentClientBuilder`]: a [`ComponentClient`]'s credentials, message-check settings,
//! token store, hosts and HTTP settings, checked by [`build`](ComponentClientBuilder::build).

use std::fmt;
use std::sync::{Arc, Weak};

use super::client::{ComponentClient, Inner, PushCrypt};
use super::tokens::ComponentTokens;
use crate::error::{Error, Result};
use crate::http::{HttpClient, HttpConfig, RetryPolicy};
use crate::mp::token::{store_from_url, MemoryStore, TokenConfig, TokenStore};
use crate::SecretString;

/// Builds a [`ComponentClient`]; [`build`](Self::build) checks that nothing required is
/// missing.
#[derive(Default)]
pub struct ComponentClientBuilder {
    component_appid: Option<String>,
    component_appsecret: Option<SecretString>,
    token: Option<SecretString>,
    encoding_aes_key: Option<SecretString>,
    base_url: Option<String>,
    backup_base_url: Option<String>,
    http: HttpConfig,
    retry: RetryPolicy,
    store: Option<Arc<dyn TokenStore>>,
    store_url: Option<String>,
    token_config: TokenConfig,
}

impl fmt::Debug for ComponentClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |s: &Option<SecretString>| s.as_ref().map(|_| "<redacted>");
        f.debug_struct("ComponentClientBuilder")
            .field("component_appid", &self.component_appid)
            .field("component_appsecret", &redacted(&self.component_appsecret))
            .field("token", &redacted(&self.token))
            .field("encoding_aes_key", &redacted(&self.encoding_aes_key))
            .field("base_url", &self.base_url)
            .field("backup_base_url", &self.backup_base_url)
            .finish_non_exhaustive()
    }
}

impl ComponentClientBuilder {
    /// The third-party platform's AppID (component_appid).
    pub fn component_appid(mut self, appid: impl Into<String>) -> Self {
        self.component_appid = Some(appid.into());
        self
    }

    /// The third-party platform's AppSecret (component_appsecret).
    pub fn component_appsecret(mut self, secret: impl Into<SecretString>) -> Self {
        self.component_appsecret = Some(secret.into());
        self
    }

    /// The message-check Token (消息校验Token) of the platform's settings: signs pushes.
    /// Needed by [`ComponentClient::parse_push`].
    pub fn token(mut self, token: impl Into<SecretString>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// The EncodingAESKey (消息加解密Key, 43 characters) of the platform's settings: decrypts
    /// pushes. Needed by [`ComponentClient::parse_push`].
    pub fn encoding_aes_key(mut self, key: impl Into<SecretString>) -> Self {
        self.encoding_aes_key = Some(key.into());
        self
    }

    /// The host (default [`MAIN_HOST`](crate::component::MAIN_HOST)); a sandbox URL in tests.
    /// Authorizer clients ([`ComponentClient::authorizer`]) use it too.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// A failover host (none by default: WeChat documents none for these APIs).
    pub fn backup_base_url(mut self, url: impl Into<String>) -> Self {
        self.backup_base_url = Some(url.into());
        self
    }

    crate::http::http_setters!();

    /// Retries of 5xx, 429, transport errors and the retryable errcodes (default: 3 attempts).
    /// The token refresh on 40001/42001 is separate and happens at most once.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The store of tickets and tokens (default: a [`MemoryStore`] of this client). Share one
    /// (Redis) between every instance: the component token, each authorizer's refresh and the
    /// refresh tokens themselves live there.
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

    /// Safety margin, lock lease and waits of the token caches (component and authorizers).
    pub fn token_config(mut self, config: TokenConfig) -> Self {
        self.token_config = config;
        self
    }

    pub fn build(self) -> Result<ComponentClient> {
        let mut missing = Vec::new();
        let appid = self.component_appid.unwrap_or_default();
        if appid.trim().is_empty() {
            missing.push("component_appid");
        }
        let secret = self.component_appsecret.filter(|s| !s.expose().is_empty());
        if secret.is_none() {
            missing.push("component_appsecret");
        }
        let Some(secret) = secret.filter(|_| missing.is_empty()) else {
            return Err(Error::Config {
                detail: format!("ComponentClient is missing {}", missing.join("; ")),
            });
        };
        let crypt = PushCrypt::new(self.token, self.encoding_aes_key, &appid)?;
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
                .unwrap_or_else(|| crate::component::MAIN_HOST.to_owned()),
            self.backup_base_url
                .or_else(|| crate::component::BACKUP_HOST.map(str::to_owned)),
            self.retry,
        )?;
        let config = self.token_config;
        let inner = Arc::new_cyclic(|weak: &Weak<Inner>| {
            let api = Arc::new(super::client::HttpApi(weak.clone()));
            let tokens = ComponentTokens::new(appid.clone(), store.clone(), api, config.clone());
            Inner {
                component_appid: appid,
                component_appsecret: secret,
                crypt,
                http,
                tokens,
                store,
                store_kind,
                token_config: config,
            }
        });
        Ok(ComponentClient { inner })
    }
}
