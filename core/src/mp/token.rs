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

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

use crate::{Error, Result, SecretString};

pub use crate::BoxFuture;

/// Fetches a new credential: the token and its `expires_in` (seconds), as the token and ticket
/// endpoints answer. Called by at most one caller at a time per key and store.
pub type FetchFn = Arc<dyn Fn() -> BoxFuture<'static, Result<(SecretString, i64)>> + Send + Sync>;

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
}

pub use crate::time::unix_now;

/// A cached credential and when it stops being valid (Unix seconds). `Debug` hides the value.
///
/// A [`TokenManager`] uses a token until `expires_at` minus its safety margin. For a lifetime
/// shorter than twice the margin it stores `expires_at` later than the server said, by the part
/// of the margin it does not apply (the effective margin is half the lifetime), so that such a
/// token is still used for half its life instead of being fetched again on every call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredToken {
    pub value: SecretString,
    pub expires_at: i64,
}

/// Proof of holding a store lock: a random token only the holder knows. Releasing checks it, so
/// a holder whose lease ran out cannot release the lock someone else now holds.
#[derive(Clone, PartialEq, Eq)]
pub struct LockToken(String);

impl LockToken {
    /// 32 random alphanumerics from the OS CSPRNG.
    pub fn random() -> Self {
        LockToken(crate::crypto::nonce())
    }

    pub fn from_string(token: impl Into<String>) -> Self {
        LockToken(token.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for LockToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LockToken(<redacted>)")
    }
}

/// Where tokens are kept, shared by every [`TokenManager`] over it. Object safe: use it as
/// `Arc<dyn TokenStore>`.
pub trait TokenStore: Send + Sync {
    /// The stored token, expired or not (the manager applies the safety margin); `None` when
    /// there is none.
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<StoredToken>>>;

    /// Replaces the stored token.
    fn set<'a>(&'a self, key: &'a str, token: &'a StoredToken) -> BoxFuture<'a, Result<()>>;

    /// Expires the stored token only if its value is `failed_value`, atomically; true when it
    /// did. A token another instance stored meanwhile is left alone.
    fn compare_and_expire<'a>(
        &'a self,
        key: &'a str,
        failed_value: &'a str,
    ) -> BoxFuture<'a, Result<bool>>;

    /// Takes the lock `key` for `lease` unless someone holds it (Redis: `SET key token NX PX`).
    /// `Some(token)` when taken: pass it to [`TokenStore::unlock`].
    fn lock<'a>(
        &'a self,
        key: &'a str,
        lease: Duration,
    ) -> BoxFuture<'a, Result<Option<LockToken>>>;

    /// Releases the lock only if `token` still holds it (compare-and-delete); true when it did.
    fn unlock<'a>(&'a self, key: &'a str, token: &'a LockToken) -> BoxFuture<'a, Result<bool>>;
}

// ---------------------------------------------------------------------------------------------
// MemoryStore

/// The default store: this process only.
#[derive(Default)]
pub struct MemoryStore {
    tokens: StdMutex<HashMap<String, StoredToken>>,
    locks: StdMutex<HashMap<String, (LockToken, Instant)>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MemoryStore")
    }
}

fn lock_map<T>(m: &StdMutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl TokenStore for MemoryStore {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<StoredToken>>> {
        let token = lock_map(&self.tokens).get(key).cloned();
        Box::pin(async move { Ok(token) })
    }

    fn set<'a>(&'a self, key: &'a str, token: &'a StoredToken) -> BoxFuture<'a, Result<()>> {
        lock_map(&self.tokens).insert(key.to_owned(), token.clone());
        Box::pin(async { Ok(()) })
    }

    fn compare_and_expire<'a>(
        &'a self,
        key: &'a str,
        failed_value: &'a str,
    ) -> BoxFuture<'a, Result<bool>> {
        let mut tokens = lock_map(&self.tokens);
        let matches = tokens
            .get(key)
            .is_some_and(|t| t.value.expose() == failed_value);
        if matches {
            tokens.remove(key);
        }
        Box::pin(async move { Ok(matches) })
    }

    fn lock<'a>(
        &'a self,
        key: &'a str,
        lease: Duration,
    ) -> BoxFuture<'a, Result<Option<LockToken>>> {
        let now = Instant::now();
        let mut locks = lock_map(&self.locks);
        let taken = match locks.get(key) {
            Some((_, until)) if *until > now => None,
            _ => {
                let token = LockToken::random();
                locks.insert(key.to_owned(), (token.clone(), now + lease));
                Some(token)
            }
        };
        Box::pin(async move { Ok(taken) })
    }

    fn unlock<'a>(&'a self, key: &'a str, token: &'a LockToken) -> BoxFuture<'a, Result<bool>> {
        let mut locks = lock_map(&self.locks);
        let held = locks
            .get(key)
            .is_some_and(|(holder, until)| holder == token && *until > Instant::now());
        if held {
            locks.remove(key);
        }
        Box::pin(async move { Ok(held) })
    }
}

// ---------------------------------------------------------------------------------------------
// RedisStore

/// Stores the token as a hash `{value, expires_at}` with the key expiring at `expires_at`.
const SET_SCRIPT: &str = r"
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'value', ARGV[1], 'expires_at', ARGV[2])
redis.call('EXPIREAT', KEYS[1], ARGV[2])
return 1
";

/// Deletes the token only if its value is the one that failed.
const COMPARE_AND_EXPIRE_SCRIPT: &str = r"
if redis.call('HGET', KEYS[1], 'value') == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

/// Releases the lock only if the caller's token still holds it.
const UNLOCK_SCRIPT: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

/// A store in Redis, shared by every instance of a deployment (the `redis` crate, async over
/// tokio, through a [`redis::aio::ConnectionManager`] that reconnects by itself).
///
/// Token: a hash `{value, expires_at}` at the key, expiring in Redis at `expires_at`. Lock:
/// `SET {key} {random token} NX PX {lease}`, released by a Lua compare-and-delete.
#[derive(Clone)]
pub struct RedisStore {
    conn: redis::aio::ConnectionManager,
    set_script: Arc<redis::Script>,
    cae_script: Arc<redis::Script>,
    unlock_script: Arc<redis::Script>,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RedisStore")
    }
}

fn redis_error(e: redis::RedisError) -> Error {
    if e.is_timeout() {
        Error::Timeout {
            detail: format!("token store (Redis): {e}"),
        }
    } else {
        Error::Transport {
            detail: format!("token store (Redis): {e}"),
        }
    }
}

impl RedisStore {
    /// Connects to `url` (`redis://host:port/db`, `rediss://…`, `redis+unix://…`).
    pub async fn connect(url: &str) -> Result<Self> {
        let client = redis::Client::open(url).map_err(|e| Error::Config {
            detail: format!("token store: invalid Redis URL ({:?})", e.kind()),
        })?;
        let conn = client.get_connection_manager().await.map_err(redis_error)?;
        Ok(Self::new(conn))
    }

    /// Over a connection manager the application already has.
    pub fn new(conn: redis::aio::ConnectionManager) -> Self {
        RedisStore {
            conn,
            set_script: Arc::new(redis::Script::new(SET_SCRIPT)),
            cae_script: Arc::new(redis::Script::new(COMPARE_AND_EXPIRE_SCRIPT)),
            unlock_script: Arc::new(redis::Script::new(UNLOCK_SCRIPT)),
        }
    }
}

impl TokenStore for RedisStore {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<StoredToken>>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let (value, expires_at): (Option<String>, Option<i64>) = redis::cmd("HMGET")
                .arg(key)
                .arg("value")
                .arg("expires_at")
                .query_async(&mut conn)
                .await
                .map_err(redis_error)?;
            Ok(match (value, expires_at) {
                (Some(value), Some(expires_at)) => Some(StoredToken {
                    value: SecretString::new(value),
                    expires_at,
                }),
                _ => None,
            })
        })
    }

    fn set<'a>(&'a self, key: &'a str, token: &'a StoredToken) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let _: i64 = self
                .set_script
                .key(key)
                .arg(token.value.expose())
                .arg(token.expires_at)
                .invoke_async(&mut conn)
                .await
                .map_err(redis_error)?;
            Ok(())
        })
    }

    fn compare_and_expire<'a>(
        &'a self,
        key: &'a str,
        failed_value: &'a str,
    ) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let deleted: i64 = self
                .cae_script
                .key(key)
                .arg(failed_value)
                .invoke_async(&mut conn)
                .await
                .map_err(redis_error)?;
            Ok(deleted == 1)
        })
    }

    fn lock<'a>(
        &'a self,
        key: &'a str,
        lease: Duration,
    ) -> BoxFuture<'a, Result<Option<LockToken>>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let token = LockToken::random();
            let lease_ms = lease.as_millis().clamp(1, u64::MAX as u128) as u64;
            let ok: Option<String> = redis::cmd("SET")
                .arg(key)
                .arg(token.as_str())
                .arg("NX")
                .arg("PX")
                .arg(lease_ms)
                .query_async(&mut conn)
                .await
                .map_err(redis_error)?;
            Ok(ok.map(|_| token))
        })
    }

    fn unlock<'a>(&'a self, key: &'a str, token: &'a LockToken) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let deleted: i64 = self
                .unlock_script
                .key(key)
                .arg(token.as_str())
                .invoke_async(&mut conn)
                .await
                .map_err(redis_error)?;
            Ok(deleted == 1)
        })
    }
}

// ---------------------------------------------------------------------------------------------
// TokenProvider

/// What an API client asks for its token. [`TokenManager`] is one; implement it to supply tokens
/// from elsewhere (a third-party platform's `authorizer_access_token`, a central token service).
pub trait TokenProvider: Send + Sync {
    /// A token valid now.
    fn token(&self) -> BoxFuture<'_, Result<SecretString>>;

    /// The API answered 40001/42001/40014 to `failed`: drop it if it is still the current one
    /// (compare-and-expire), so the next [`TokenProvider::token`] gets a new one. True when it
    /// was dropped. The client then retries once, never more.
    fn invalidate<'a>(&'a self, failed: &'a SecretString) -> BoxFuture<'a, Result<bool>>;
}

/// A token the caller manages entirely: returned as is; invalidation does nothing.
#[derive(Clone, Debug)]
pub struct FixedToken(pub SecretString);

impl TokenProvider for FixedToken {
    fn token(&self) -> BoxFuture<'_, Result<SecretString>> {
        let token = self.0.clone();
        Box::pin(async move { Ok(token) })
    }

    fn invalidate<'a>(&'a self, _failed: &'a SecretString) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async { Ok(false) })
    }
}

// ---------------------------------------------------------------------------------------------
// TokenManager

/// How a [`TokenManager`] caches and waits.
#[derive(Clone, Debug)]
pub struct TokenConfig {
    /// Refresh this long before `expires_at` (default 5 minutes: stable_token hands out the next
    /// token during the last 5 minutes, and old and new both work meanwhile).
    pub safety_margin: Duration,
    /// Lease of the cross-process refresh lock (default 15 s). If the holder dies, another
    /// process takes over when the lease runs out. A fetch (with the store write) is given the
    /// lease minus a small margin and fails with [`Error::Timeout`] after that, so the lease
    /// never runs out while its holder is still fetching.
    pub lock_lease: Duration,
    /// How often a process waiting for another's refresh polls the store (default 50 ms, ±25%).
    pub poll_interval: Duration,
    /// How long to wait for another process's refresh before giving up with
    /// [`Error::Timeout`] (default 20 s: longer than the lease, so a dead holder is outlived and a
    /// live one has time to finish; keep it longer than `lock_lease` unless failing fast is what
    /// you want).
    pub wait_timeout: Duration,
}

impl Default for TokenConfig {
    fn default() -> Self {
        TokenConfig {
            safety_margin: Duration::from_secs(300),
            lock_lease: Duration::from_secs(15),
            poll_interval: Duration::from_millis(50),
            wait_timeout: Duration::from_secs(20),
        }
    }
}

/// One cached credential (under one store key) and how to fetch a new one.
///
/// Cheap to share: wrap it in an `Arc` (it is a [`TokenProvider`]).
pub struct TokenManager {
    key: String,
    lock_key: String,
    store: Arc<dyn TokenStore>,
    fetch: FetchFn,
    config: TokenConfig,
    /// In-process single flight: only the holder goes on to the store lock and the fetch.
    refresh: tokio::sync::Mutex<()>,
}

impl fmt::Debug for TokenManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenManager")
            .field("key", &self.key)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl TokenManager {
    /// `key` from [`keys`] (e.g. `keys::access_token(appid)`); `fetch` returns `(token,
    /// expires_in)`.
    pub fn new<F, Fut>(key: impl Into<String>, store: Arc<dyn TokenStore>, fetch: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(SecretString, i64)>> + Send + 'static,
    {
        let fetch: FetchFn = Arc::new(move || Box::pin(fetch()));
        Self::with_fetch_fn(key, store, fetch)
    }

    /// Like [`TokenManager::new`], with the fetch already boxed.
    pub fn with_fetch_fn(
        key: impl Into<String>,
        store: Arc<dyn TokenStore>,
        fetch: FetchFn,
    ) -> Self {
        let key = key.into();
        TokenManager {
            lock_key: keys::lock(&key),
            key,
            store,
            fetch,
            config: TokenConfig::default(),
            refresh: tokio::sync::Mutex::new(()),
        }
    }

    pub fn with_config(mut self, config: TokenConfig) -> Self {
        self.config = config;
        self
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    pub fn config(&self) -> &TokenConfig {
        &self.config
    }

    pub fn store(&self) -> &Arc<dyn TokenStore> {
        &self.store
    }

    /// A token valid for at least the safety margin: from the store, or fetched by exactly one
    /// caller while the others (in this process and, through the store's lock, in others) wait
    /// for it.
    pub async fn get_token(&self) -> Result<SecretString> {
        if let Some(token) = self.fresh().await? {
            return Ok(token);
        }
        let _flight = self.refresh.lock().await;
        // Whoever held the gate before us may have refreshed already.
        if let Some(token) = self.fresh().await? {
            return Ok(token);
        }
        self.refresh_across_processes().await
    }

    /// Compare-and-expire: expires the stored token only if it is `failed` (the one the API just
    /// rejected with 40001/42001/40014). True when it did; false when another caller already
    /// replaced it, in which case [`TokenManager::get_token`] returns the replacement without a
    /// fetch.
    pub async fn invalidate_if_current(&self, failed: &SecretString) -> Result<bool> {
        self.store
            .compare_and_expire(&self.key, failed.expose())
            .await
    }

    /// How long the holder of the store lock may take: the lease minus a margin (a tenth of
    /// it, at most 1 s) for the lock's own round trips.
    fn fetch_budget(&self) -> Duration {
        let lease = self.config.lock_lease;
        lease.saturating_sub((lease / 10).min(Duration::from_secs(1)))
    }

    /// Runs the work done under the store lock within [`Self::fetch_budget`].
    async fn within_lease<T>(&self, work: impl Future<Output = Result<T>>) -> Result<T> {
        let budget = self.fetch_budget();
        tokio::time::timeout(budget, work)
            .await
            .unwrap_or_else(|_| {
                Err(Error::Timeout {
                    detail: format!(
                        "refreshing `{}` took longer than {budget:?} (the {:?} lock lease minus a \
                         margin)",
                        self.key, self.config.lock_lease
                    ),
                })
            })
    }

    async fn fresh(&self) -> Result<Option<SecretString>> {
        let margin = self.config.safety_margin.as_secs() as i64;
        Ok(self
            .store
            .get(&self.key)
            .await?
            .filter(|t| t.expires_at - margin > unix_now())
            .map(|t| t.value))
    }

    async fn refresh_across_processes(&self) -> Result<SecretString> {
        let deadline = Instant::now() + self.config.wait_timeout;
        loop {
            if let Some(lock) = self
                .store
                .lock(&self.lock_key, self.config.lock_lease)
                .await?
            {
                let result = self.within_lease(self.fetch_and_store()).await;
                // Release even when the fetch failed, so that another caller can try at once;
                // a failed release (lease already over) is harmless.
                let _ = self.store.unlock(&self.lock_key, &lock).await;
                return result;
            }
            // Another process is refreshing: wait for its token to appear.
            if Instant::now() >= deadline {
                return Err(Error::Timeout {
                    detail: format!(
                        "waited {:?} for another instance to refresh `{}`",
                        self.config.wait_timeout, self.key
                    ),
                });
            }
            tokio::time::sleep(self.jittered_poll()).await;
            if let Some(token) = self.fresh().await? {
                return Ok(token);
            }
        }
    }

    /// Replaces the stored credential now with what `fetch` returns, even when the stored one is
    /// still fresh — e.g. `getStableAccessToken` with `force_refresh: true` after a leak. Runs
    /// under the same in-process gate and store lock as a normal refresh (waiting, bounded by
    /// [`TokenConfig::wait_timeout`], for a refresh already under way), so no other caller of
    /// this store fetches meanwhile; every instance sees the new value on its next
    /// [`TokenManager::get_token`].
    pub async fn refresh_with<Fut>(&self, fetch: Fut) -> Result<SecretString>
    where
        Fut: Future<Output = Result<(SecretString, i64)>> + Send,
    {
        let _flight = self.refresh.lock().await;
        let deadline = Instant::now() + self.config.wait_timeout;
        let lock = loop {
            if let Some(lock) = self
                .store
                .lock(&self.lock_key, self.config.lock_lease)
                .await?
            {
                break lock;
            }
            if Instant::now() >= deadline {
                return Err(Error::Timeout {
                    detail: format!(
                        "waited {:?} for another instance's refresh of `{}` to finish",
                        self.config.wait_timeout, self.key
                    ),
                });
            }
            tokio::time::sleep(self.jittered_poll()).await;
        };
        let result = self
            .within_lease(async {
                let (value, expires_in) = fetch.await?;
                self.store_fetched(value, expires_in).await
            })
            .await;
        let _ = self.store.unlock(&self.lock_key, &lock).await;
        result
    }

    async fn fetch_and_store(&self) -> Result<SecretString> {
        // Another process may have stored a token between our check and taking the lock.
        if let Some(token) = self.fresh().await? {
            return Ok(token);
        }
        let (value, expires_in) = (self.fetch)().await?;
        self.store_fetched(value, expires_in).await
    }

    async fn store_fetched(&self, value: SecretString, expires_in: i64) -> Result<SecretString> {
        if value.expose().is_empty() {
            return Err(Error::UnexpectedResponse {
                status: 200,
                detail: format!("the fetch for `{}` returned an empty token", self.key),
            });
        }
        // A lifetime shorter than twice the margin gets half of it as its margin (else every
        // call would fetch): the unused part of the margin is added to the stored expiry, which
        // `fresh` reduces by the whole margin.
        let lifetime = expires_in.max(0);
        let margin = self.config.safety_margin.as_secs() as i64;
        let unused_margin = margin - margin.min(lifetime / 2);
        let token = StoredToken {
            value,
            expires_at: unix_now()
                .saturating_add(lifetime)
                .saturating_add(unused_margin),
        };
        self.store.set(&self.key, &token).await?;
        Ok(token.value)
    }

    fn jittered_poll(&self) -> Duration {
        let base = self.config.poll_interval.as_millis().max(1) as u64;
        Duration::from_millis(base * 3 / 4 + fastrand::u64(0..=base / 2))
    }
}

impl TokenProvider for TokenManager {
    fn token(&self) -> BoxFuture<'_, Result<SecretString>> {
        Box::pin(self.get_token())
    }

    fn invalidate<'a>(&'a self, failed: &'a SecretString) -> BoxFuture<'a, Result<bool>> {
        Box::pin(self.invalidate_if_current(failed))
    }
}
