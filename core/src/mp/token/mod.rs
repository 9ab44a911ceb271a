//! Access tokens and tickets: cached in a pluggable store, refreshed by one caller at a time.
//!
//! - [`TokenStore`]: where a token and its expiry live, plus a lease lock. [`MemoryStore`] (the
//!   default, one process) and [`RedisStore`] (shared by every instance of a deployment).
//! - [`TokenManager`]: one cached credential (the access_token, or the wx_card api_ticket under
//!   another key) over a store and a fetch closure. Cached until a safety margin before expiry;
//!   single-flight in the process (a tokio mutex: 100 concurrent callers → one fetch) and across
//!   processes (the store's lock: the holder fetches and stores, the others poll the store, bounded).
//!   [`TokenManager::invalidate_if_current`] is compare-and-expire: after errcode
//!   40001/42001/40014 the token is expired only if the stored one is the one that failed, since
//!   another instance may already have replaced it.
//! - [`TokenProvider`]: what an API client asks for a token. [`TokenManager`] is one; users who
//!   get tokens elsewhere (a third-party platform's `authorizer_access_token`, a central token
//!   service) implement it themselves or use [`FixedToken`].
//!
//! The store is the cache: every [`TokenManager::get_token`] reads it (one Redis `HGETALL` with
//! [`RedisStore`]), so a token another instance stored or expired is seen at once.
//!
//! Modules: [`TokenStore`] and its types (`store`), [`MemoryStore`] (`memory`), [`RedisStore`]
//! (`redis`, with the `redis` cargo feature), [`TokenProvider`] and [`FixedToken`] (`provider`),
//! [`TokenManager`] (`manager`).

use std::sync::Arc;

use crate::{Error, Result};

pub use crate::time::unix_now;
pub use crate::BoxFuture;

mod manager;
mod memory;
mod provider;
#[cfg(feature = "redis")]
mod redis;
mod store;

pub use manager::{Clock, Fence, FencedFetchFn, FetchFn, TokenConfig, TokenManager};
pub use memory::MemoryStore;
pub use provider::{FixedToken, TokenProvider};
#[cfg(feature = "redis")]
pub use redis::{RedisStore, REDIS_CONNECT_TIMEOUT, REDIS_RESPONSE_TIMEOUT};
pub use store::{LockToken, StoredToken, TokenStore, MAX_TOKEN_LIFETIME_SECS};

/// Store keys, namespaced by appid: `weixin-kit:{appid}:access_token`,
/// `weixin-kit:{appid}:ticket:{type}`; the lock of a key is `{key}:lock`.
pub mod keys {
    pub const PREFIX: &str = "weixin-kit";

    pub fn access_token(appid: &str) -> String {
        format!("{PREFIX}:{appid}:access_token")
    }

    /// `ticket_type` as the getticket API names it: `wx_card` for the card api_ticket.
    pub fn ticket(appid: &str, ticket_type: &str) -> String {
        format!("{PREFIX}:{appid}:ticket:{ticket_type}")
    }

    pub fn lock(key: &str) -> String {
        format!("{key}:lock")
    }

    /// A third-party platform's (第三方平台) keys are all under its component appid:
    /// `weixin-kit:component:{component_appid}`.
    pub fn component(component_appid: &str) -> String {
        format!("{PREFIX}:component:{component_appid}")
    }

    /// The last `component_verify_ticket` pushed (expiring 12 h after the push's CreateTime).
    pub fn component_verify_ticket(component_appid: &str) -> String {
        format!("{}:verify_ticket", component(component_appid))
    }

    /// The `component_access_token`.
    pub fn component_access_token(component_appid: &str) -> String {
        format!("{}:access_token", component(component_appid))
    }

    /// An authorizer's (授权方) `authorizer_access_token`.
    pub fn authorizer_access_token(component_appid: &str, authorizer_appid: &str) -> String {
        format!(
            "{}:authorizer:{authorizer_appid}:access_token",
            component(component_appid)
        )
    }

    /// An authorizer's `authorizer_refresh_token` (kept for years: it must never be lost).
    pub fn authorizer_refresh_token(component_appid: &str, authorizer_appid: &str) -> String {
        format!(
            "{}:authorizer:{authorizer_appid}:refresh_token",
            component(component_appid)
        )
    }
}

/// The store named by a URL: `memory://` (a new [`MemoryStore`]) or `redis://…` (a Redis store
/// connected on first use, every command bounded by [`REDIS_RESPONSE_TIMEOUT`]) — what
/// `MiniProgramClientBuilder::token_store_url` opens. Errors never quote the URL.
pub fn open_store(url: &str) -> Result<Arc<dyn TokenStore>> {
    store_from_url(url).map(|(store, _)| store)
}

/// The store named by a URL (`memory://`, `redis://…`), and its kind for `Debug` output. Redis
/// is connected on first use, so that building a client stays synchronous; without the `redis`
/// cargo feature a Redis URL is an [`Error::Config`] saying so. Errors never quote the URL (it
/// may carry a password).
pub(crate) fn store_from_url(url: &str) -> Result<(Arc<dyn TokenStore>, &'static str)> {
    let scheme = url.split_once("://").map(|(s, _)| s).unwrap_or("");
    match scheme {
        "memory" => Ok((Arc::new(MemoryStore::new()), "memory")),
        "redis" | "rediss" | "redis+unix" | "unix" => redis_store_from_url(url),
        _ => Err(Error::Config {
            detail: "token store URL must start with memory:// or redis:// (rediss://, \
                     redis+unix://)"
                .into(),
        }),
    }
}

#[cfg(feature = "redis")]
fn redis_store_from_url(url: &str) -> Result<(Arc<dyn TokenStore>, &'static str)> {
    Ok((Arc::new(redis::LazyRedisStore::open(url)?), "redis"))
}

#[cfg(not(feature = "redis"))]
fn redis_store_from_url(_url: &str) -> Result<(Arc<dyn TokenStore>, &'static str)> {
    Err(Error::Config {
        detail: "token store: this build of weixin-kit lacks the `redis` cargo feature, so a \
                 redis:// token store cannot be used (rebuild with the `redis` feature, or use \
                 memory:// or a TokenStore of your own)"
            .into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_urls() {
        assert_eq!(store_from_url("memory://").unwrap().1, "memory");
        let e = store_from_url("postgres://user:pw@host/db")
            .err()
            .unwrap()
            .to_string();
        assert!(!e.contains("pw"), "{e}");
    }

    #[cfg(feature = "redis")]
    #[test]
    fn redis_urls_open_lazily() {
        assert_eq!(
            store_from_url("redis://:pw@127.0.0.1:6379/0").unwrap().1,
            "redis"
        );
    }

    #[cfg(not(feature = "redis"))]
    #[test]
    fn redis_urls_need_the_feature() {
        let e = store_from_url("redis://:pw@127.0.0.1:6379/0")
            .err()
            .unwrap();
        let Error::Config { detail } = &e else {
            panic!("{e:?}")
        };
        assert!(detail.contains("`redis` cargo feature"), "{detail}");
        assert!(!detail.contains("pw"), "{detail}");
    }
}
