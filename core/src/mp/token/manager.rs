//! [`TokenManager`]: one cached credential over a store, refreshed by one caller at a time.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

use super::MAX_TOKEN_LIFETIME_SECS;
use super::{keys, unix_now, LockToken, StoredToken, TokenProvider, TokenStore};
use crate::{BoxFuture, Error, Result, SecretString};

/// Fetches a new credential: the token and its `expires_in` (seconds), as the token and ticket
/// endpoints answer. Called by at most one caller at a time per key and store.
pub type FetchFn = Arc<dyn Fn() -> BoxFuture<'static, Result<(SecretString, i64)>> + Send + Sync>;

/// Like [`FetchFn`], for a fetch that must also write a companion credential while it holds
/// the manager's store lock (a third-party platform's rotated `authorizer_refresh_token`,
/// persisted before the access token is used): it receives the [`Fence`] of the held lock.
pub type FencedFetchFn =
    Arc<dyn Fn(Fence) -> BoxFuture<'static, Result<(SecretString, i64)>> + Send + Sync>;

/// Proof of holding a [`TokenManager`]'s store lock, handed to a [`FencedFetchFn`] and to the
/// work of [`TokenManager::locked`]: writes through it land only while the lock is still held
/// ([`TokenStore::set_locked`]), so a holder whose lease ran out never overwrites what the next
/// holder wrote. Every store call through it is bounded by [`TokenConfig::store_timeout`].
#[derive(Clone)]
pub struct Fence {
    store: Arc<dyn TokenStore>,
    lock_key: String,
    lock: LockToken,
    store_timeout: Duration,
}

impl fmt::Debug for Fence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fence")
            .field("lock_key", &self.lock_key)
            .finish_non_exhaustive()
    }
}

impl Fence {
    /// Writes `token` at `key` only while the lock is still held; true when it wrote.
    pub async fn set(&self, key: &str, token: &StoredToken) -> Result<bool> {
        let bound = self.store_timeout;
        let write = self
            .store
            .set_locked(key, token, &self.lock_key, &self.lock);
        tokio::time::timeout(bound, write)
            .await
            .unwrap_or_else(|_| {
                Err(Error::Timeout {
                    may_have_been_applied: true,
                    detail: format!(
                        "token store: writing `{key}` took longer than {bound:?} (store_timeout)"
                    ),
                })
            })
    }

    /// The store the lock is in.
    pub fn store(&self) -> &Arc<dyn TokenStore> {
        &self.store
    }
}

/// Seconds since the Unix epoch as a [`TokenManager`] reads them to decide whether a cached
/// credential is still fresh. The system clock by default; a test (or a process whose clock is
/// known to be off) may supply its own.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> i64 + Send + Sync>);

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Clock(Arc::new(unix_now))
    }

    /// A clock reading `now()`.
    pub fn from_fn(now: impl Fn() -> i64 + Send + Sync + 'static) -> Self {
        Clock(Arc::new(now))
    }

    pub fn now(&self) -> i64 {
        (self.0)()
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::system()
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Clock")
    }
}

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
    /// What "now" is when deciding freshness and storing expiries (default: the system clock).
    pub clock: Clock,
    /// Bound on every wait for the store — one read, lock, write, release (default 2 s). When
    /// the store fails or takes longer, the manager serves the last token it saw or fetched
    /// while that is still valid (minus the safety margin), and fails with the store's error
    /// ([`Error::Timeout`] or [`Error::Transport`]) only when it has none.
    pub store_timeout: Duration,
}

impl Default for TokenConfig {
    fn default() -> Self {
        TokenConfig {
            safety_margin: Duration::from_secs(300),
            lock_lease: Duration::from_secs(15),
            poll_interval: Duration::from_millis(50),
            wait_timeout: Duration::from_secs(20),
            clock: Clock::system(),
            store_timeout: Duration::from_secs(2),
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
    fetch: FencedFetchFn,
    config: TokenConfig,
    /// In-process single flight: only the holder goes on to the store lock and the fetch.
    refresh: tokio::sync::Mutex<()>,
    /// The last token read fresh from the store or fetched and stored: served while the store
    /// is unreachable, until it is no longer fresh.
    last_good: StdMutex<Option<StoredToken>>,
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
        Self::with_fenced_fetch(key, store, Arc::new(move |_fence: Fence| fetch()))
    }

    /// Like [`TokenManager::with_fetch_fn`], for a fetch that writes a companion credential
    /// fenced by the lock it runs under ([`Fence::set`]).
    pub fn with_fenced_fetch(
        key: impl Into<String>,
        store: Arc<dyn TokenStore>,
        fetch: FencedFetchFn,
    ) -> Self {
        let key = key.into();
        TokenManager {
            lock_key: keys::lock(&key),
            key,
            store,
            fetch,
            config: TokenConfig::default(),
            refresh: tokio::sync::Mutex::new(()),
            last_good: StdMutex::new(None),
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
    ///
    /// When the store fails (Redis unreachable, or slower than [`TokenConfig::store_timeout`]),
    /// the last good token this manager saw is served while it is still fresh; the store's
    /// error is returned only when there is none.
    pub async fn get_token(&self) -> Result<SecretString> {
        match self.fresh().await {
            Ok(Some(token)) => return Ok(token),
            Ok(None) => {}
            Err(e) => return self.last_good_or(e),
        }
        let _flight = self.refresh.lock().await;
        // Whoever held the gate before us may have refreshed already.
        match self.fresh().await {
            Ok(Some(token)) => return Ok(token),
            Ok(None) => {}
            Err(e) => return self.last_good_or(e),
        }
        self.refresh_across_processes().await
    }

    /// Compare-and-expire: expires the stored token only if it is `failed` (the one the API just
    /// rejected with 40001/42001/40014). True when it did; false when another caller already
    /// replaced it, in which case [`TokenManager::get_token`] returns the replacement without a
    /// fetch.
    pub async fn invalidate_if_current(&self, failed: &SecretString) -> Result<bool> {
        {
            let mut last_good = lock(&self.last_good);
            if last_good
                .as_ref()
                .is_some_and(|t| t.value.expose() == failed.expose())
            {
                *last_good = None;
            }
        }
        self.bounded(
            "expiring",
            self.store.compare_and_expire(&self.key, failed.expose()),
        )
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
                    may_have_been_applied: false,
                    detail: format!(
                        "refreshing `{}` took longer than {budget:?} (the {:?} lock lease minus a \
                         margin)",
                        self.key, self.config.lock_lease
                    ),
                })
            })
    }

    /// The safety margin in seconds (saturating).
    fn margin_secs(&self) -> i64 {
        i64::try_from(self.config.safety_margin.as_secs()).unwrap_or(i64::MAX)
    }

    /// Usable at `now`: more than the safety margin before `expires_at`, and `expires_at` not
    /// further ahead than any credential lives ([`MAX_TOKEN_LIFETIME_SECS`]): an absurd
    /// (corrupt) expiry is treated as absent, never as fresh forever. Saturating arithmetic
    /// throughout, so no stored value can overflow it.
    fn is_fresh(&self, token: &StoredToken, now: i64) -> bool {
        let margin = self.margin_secs();
        let latest = now
            .saturating_add(MAX_TOKEN_LIFETIME_SECS)
            .saturating_add(margin);
        token.expires_at.saturating_sub(margin) > now
            && token.expires_at <= latest
            && !token.value.expose().is_empty()
    }

    fn remember(&self, token: &StoredToken) {
        *lock(&self.last_good) = Some(token.clone());
    }

    /// The last good token while it is still fresh, else `error` (the store's failure).
    fn last_good_or(&self, error: Error) -> Result<SecretString> {
        let now = self.config.clock.now();
        match &*lock(&self.last_good) {
            Some(t) if self.is_fresh(t, now) => Ok(t.value.clone()),
            _ => Err(error),
        }
    }

    /// `op` on the store, bounded by [`TokenConfig::store_timeout`].
    async fn bounded<T>(&self, what: &str, op: impl Future<Output = Result<T>>) -> Result<T> {
        let bound = self.config.store_timeout;
        tokio::time::timeout(bound, op).await.unwrap_or_else(|_| {
            Err(Error::Timeout {
                may_have_been_applied: false,
                detail: format!(
                    "token store: {what} `{}` took longer than {bound:?} (store_timeout)",
                    self.key
                ),
            })
        })
    }

    async fn fresh(&self) -> Result<Option<SecretString>> {
        let stored = self.bounded("reading", self.store.get(&self.key)).await?;
        let now = self.config.clock.now();
        Ok(stored.filter(|t| self.is_fresh(t, now)).map(|t| {
            self.remember(&t);
            t.value
        }))
    }

    /// Takes the store lock: `Some` when taken, `None` when another caller holds it.
    async fn take_lock(&self) -> Result<Option<HeldLock>> {
        let token = self
            .bounded(
                "locking",
                self.store.lock(&self.lock_key, self.config.lock_lease),
            )
            .await?;
        Ok(token.map(|token| HeldLock {
            store: self.store.clone(),
            key: self.lock_key.clone(),
            token,
            armed: true,
        }))
    }

    async fn refresh_across_processes(&self) -> Result<SecretString> {
        let deadline = Instant::now() + self.config.wait_timeout;
        loop {
            let taken = match self.take_lock().await {
                Ok(taken) => taken,
                Err(e) => return self.last_good_or(e),
            };
            if let Some(held) = taken {
                let result = self.within_lease(self.fetch_and_store(&held)).await;
                // Release even when the fetch failed, so that another caller can try at once;
                // a failed release (lease already over) is harmless. Were this future dropped
                // instead, the guard's Drop would release it.
                held.release(self.config.store_timeout).await;
                return result;
            }
            // Another process is refreshing: wait for its token to appear.
            if Instant::now() >= deadline {
                return Err(Error::Timeout {
                    may_have_been_applied: false,
                    detail: format!(
                        "waited {:?} for another instance to refresh `{}`",
                        self.config.wait_timeout, self.key
                    ),
                });
            }
            tokio::time::sleep(self.jittered_poll()).await;
            match self.fresh().await {
                Ok(Some(token)) => return Ok(token),
                Ok(None) => {}
                Err(e) => return self.last_good_or(e),
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
        self.refresh_with_fenced(|_fence| fetch).await
    }

    /// Like [`TokenManager::refresh_with`], with the [`Fence`] of the held lock passed to
    /// `fetch` (to persist a companion credential first).
    pub async fn refresh_with_fenced<F, Fut>(&self, fetch: F) -> Result<SecretString>
    where
        F: FnOnce(Fence) -> Fut,
        Fut: Future<Output = Result<(SecretString, i64)>> + Send,
    {
        self.locked(|fence| async move {
            let (value, expires_in) = fetch(fence.clone()).await?;
            self.store_fetched(value, expires_in, &fence.lock).await
        })
        .await
    }

    /// Runs `work` while holding this manager's in-process gate and store lock (waiting,
    /// bounded by [`TokenConfig::wait_timeout`], for a refresh under way), within the lease
    /// (else [`Error::Timeout`]); the lock is released after. For changes to the credential
    /// and its companions that no refresh may interleave with.
    pub async fn locked<T, F, Fut>(&self, work: F) -> Result<T>
    where
        F: FnOnce(Fence) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let _flight = self.refresh.lock().await;
        let deadline = Instant::now() + self.config.wait_timeout;
        let held = loop {
            if let Some(held) = self.take_lock().await? {
                break held;
            }
            if Instant::now() >= deadline {
                return Err(Error::Timeout {
                    may_have_been_applied: false,
                    detail: format!(
                        "waited {:?} for another instance's refresh of `{}` to finish",
                        self.config.wait_timeout, self.key
                    ),
                });
            }
            tokio::time::sleep(self.jittered_poll()).await;
        };
        let result = self.within_lease(work(self.fence(&held))).await;
        held.release(self.config.store_timeout).await;
        result
    }

    /// Expires the stored credential whatever its value (and forgets the last good one), so
    /// the next [`TokenManager::get_token`] fetches: for a credential known to be dead (an
    /// authorization revoked). True when the store had one to expire.
    pub async fn expire(&self) -> Result<bool> {
        *lock(&self.last_good) = None;
        match self.bounded("reading", self.store.get(&self.key)).await? {
            Some(stored) => {
                self.bounded(
                    "expiring",
                    self.store
                        .compare_and_expire(&self.key, stored.value.expose()),
                )
                .await
            }
            None => Ok(false),
        }
    }

    fn fence(&self, held: &HeldLock) -> Fence {
        Fence {
            store: self.store.clone(),
            lock_key: self.lock_key.clone(),
            lock: held.token.clone(),
            store_timeout: self.config.store_timeout,
        }
    }

    async fn fetch_and_store(&self, held: &HeldLock) -> Result<SecretString> {
        // Another process may have stored a token between our check and taking the lock.
        if let Some(token) = self.fresh().await? {
            return Ok(token);
        }
        let (value, expires_in) = (self.fetch)(self.fence(held)).await?;
        self.store_fetched(value, expires_in, &held.token).await
    }

    /// Stores what a fetch returned, fenced by the lock (written only while `held` still holds
    /// it), and returns it. The fetched token is valid whatever the store says: when the write
    /// fails (store unreachable) it is still returned and kept as the last good token; when the
    /// lease was lost meanwhile, the store's token (the newer holder's) is returned if fresh.
    async fn store_fetched(
        &self,
        value: SecretString,
        expires_in: i64,
        held: &LockToken,
    ) -> Result<SecretString> {
        if value.expose().is_empty() {
            return Err(Error::UnexpectedResponse {
                status: 200,
                detail: format!("the fetch for `{}` returned an empty token", self.key),
            });
        }
        // The key names the credential (its kind and appid), never its value.
        tracing::info!(
            target: crate::http::trace::TARGET,
            key = %self.key,
            expires_in,
            "token refreshed"
        );
        // A lifetime shorter than twice the margin gets half of it as its margin (else every
        // call would fetch): the unused part of the margin is added to the stored expiry, which
        // `fresh` reduces by the whole margin.
        let lifetime = expires_in.clamp(0, MAX_TOKEN_LIFETIME_SECS);
        let margin = self.margin_secs();
        let unused_margin = margin - margin.min(lifetime / 2);
        let token = StoredToken {
            value,
            expires_at: self
                .config
                .clock
                .now()
                .saturating_add(lifetime)
                .saturating_add(unused_margin),
        };
        let written = self
            .bounded(
                "writing",
                self.store
                    .set_locked(&self.key, &token, &self.lock_key, held),
            )
            .await;
        match written {
            Ok(true) | Err(_) => {
                self.remember(&token);
                Ok(token.value)
            }
            Ok(false) => match self.fresh().await {
                Ok(Some(newer)) => Ok(newer),
                _ => Ok(token.value),
            },
        }
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

fn lock<T>(m: &StdMutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The store lock while held: released by [`HeldLock::release`], or — when the future holding
/// it is dropped (a cancelled or timed-out caller) — by its `Drop`, which spawns the release on
/// the current tokio runtime, so that the lock is free at once instead of at the end of the
/// lease.
struct HeldLock {
    store: Arc<dyn TokenStore>,
    key: String,
    token: LockToken,
    armed: bool,
}

impl HeldLock {
    async fn release(mut self, bound: Duration) {
        self.armed = false;
        let _ = tokio::time::timeout(bound, self.store.unlock(&self.key, &self.token)).await;
    }
}

impl Drop for HeldLock {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        // Outside a runtime nothing can be spawned: the lease ends the lock.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let store = self.store.clone();
        let key = std::mem::take(&mut self.key);
        let token = self.token.clone();
        runtime.spawn(async move {
            let _ = tokio::time::timeout(RELEASE_ON_DROP_BOUND, store.unlock(&key, &token)).await;
        });
    }
}

/// Bound on the release a dropped [`HeldLock`] spawns.
const RELEASE_ON_DROP_BOUND: Duration = Duration::from_secs(2);
