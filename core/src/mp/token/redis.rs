//! [`RedisStore`]: a token store shared by every instance of a deployment (cargo feature
//! `redis`), and the lazily connected store `token_store_url("redis://…")` builds.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::{LockToken, StoredToken, TokenStore};
use crate::{BoxFuture, Error, Result, SecretString};

/// Stores the token as a hash `{value, expires_at}` with the key expiring at `expires_at`.
const SET_SCRIPT: &str = r"
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'value', ARGV[1], 'expires_at', ARGV[2])
redis.call('EXPIREAT', KEYS[1], ARGV[2])
return 1
";

/// Stores the token like [`SET_SCRIPT`], but only while the lock (`KEYS[2]`) still holds the
/// caller's lock token (`ARGV[1]`): the write is fenced by the lock, checked where it happens.
const SET_LOCKED_SCRIPT: &str = r"
if redis.call('GET', KEYS[2]) ~= ARGV[1] then
  return 0
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'value', ARGV[2], 'expires_at', ARGV[3])
redis.call('EXPIREAT', KEYS[1], ARGV[3])
return 1
";

/// Stores the token like [`SET_SCRIPT`], but only if the stored value is still `ARGV[1]`.
const COMPARE_AND_SET_SCRIPT: &str = r"
if redis.call('HGET', KEYS[1], 'value') ~= ARGV[1] then
  return 0
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'value', ARGV[2], 'expires_at', ARGV[3])
redis.call('EXPIREAT', KEYS[1], ARGV[3])
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

/// How long one Redis command may wait for its answer ([`RedisStore::connect`] and the
/// `token_store_url("redis://…")` store): past it the command fails with [`Error::Timeout`] and
/// the [`TokenManager`](super::TokenManager) serves its last good token, if still valid.
pub const REDIS_RESPONSE_TIMEOUT: Duration = Duration::from_secs(1);

/// How long one connection attempt to Redis may take.
pub const REDIS_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// The connection settings of the stores this module connects: every wait bounded, and one
/// reconnection attempt per failure (the manager retries on the next call, not the driver).
fn connection_config() -> redis::aio::ConnectionManagerConfig {
    redis::aio::ConnectionManagerConfig::new()
        .set_response_timeout(Some(REDIS_RESPONSE_TIMEOUT))
        .set_connection_timeout(Some(REDIS_CONNECT_TIMEOUT))
        .set_number_of_retries(1)
        .set_max_delay(Duration::from_millis(200))
}

/// A store in Redis, shared by every instance of a deployment (the `redis` crate, async over
/// tokio, through a [`redis::aio::ConnectionManager`] that reconnects by itself).
///
/// Token: a hash `{value, expires_at}` at the key, expiring in Redis at `expires_at`. Lock:
/// `SET {key} {random token} NX PX {lease}`, released by a Lua compare-and-delete.
#[derive(Clone)]
pub struct RedisStore {
    conn: redis::aio::ConnectionManager,
    set_script: Arc<redis::Script>,
    set_locked_script: Arc<redis::Script>,
    cas_script: Arc<redis::Script>,
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
            may_have_been_applied: false,
            detail: format!("token store (Redis): {e}"),
        }
    } else {
        Error::Transport {
            may_have_been_applied: false,
            detail: format!("token store (Redis): {e}"),
        }
    }
}

impl RedisStore {
    /// Connects to `url` (`redis://host:port/db`, `rediss://…`, `redis+unix://…`), every
    /// command bounded by [`REDIS_RESPONSE_TIMEOUT`].
    pub async fn connect(url: &str) -> Result<Self> {
        let client = redis::Client::open(url).map_err(|e| Error::Config {
            detail: format!("token store: invalid Redis URL ({:?})", e.kind()),
        })?;
        Self::connect_client(&client).await
    }

    async fn connect_client(client: &redis::Client) -> Result<Self> {
        let conn = client
            .get_connection_manager_with_config(connection_config())
            .await
            .map_err(redis_error)?;
        Ok(Self::new(conn))
    }

    /// Over a connection manager the application already has (its own timeouts apply).
    pub fn new(conn: redis::aio::ConnectionManager) -> Self {
        RedisStore {
            conn,
            set_script: Arc::new(redis::Script::new(SET_SCRIPT)),
            set_locked_script: Arc::new(redis::Script::new(SET_LOCKED_SCRIPT)),
            cas_script: Arc::new(redis::Script::new(COMPARE_AND_SET_SCRIPT)),
            cae_script: Arc::new(redis::Script::new(COMPARE_AND_EXPIRE_SCRIPT)),
            unlock_script: Arc::new(redis::Script::new(UNLOCK_SCRIPT)),
        }
    }
}

impl TokenStore for RedisStore {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<StoredToken>>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let reply: redis::RedisResult<(Option<String>, Option<String>)> = redis::cmd("HMGET")
                .arg(key)
                .arg("value")
                .arg("expires_at")
                .query_async(&mut conn)
                .await;
            let (value, expires_at) = match reply {
                Ok(fields) => fields,
                // Something else under our key (not a hash): corrupt, so absent; the next
                // fetch's write replaces it.
                Err(e) if e.code() == Some("WRONGTYPE") => return Ok(None),
                Err(e) => return Err(redis_error(e)),
            };
            Ok(parse_entry(value, expires_at))
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

    fn set_locked<'a>(
        &'a self,
        key: &'a str,
        token: &'a StoredToken,
        lock_key: &'a str,
        lock: &'a LockToken,
    ) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let written: i64 = self
                .set_locked_script
                .key(key)
                .key(lock_key)
                .arg(lock.as_str())
                .arg(token.value.expose())
                .arg(token.expires_at)
                .invoke_async(&mut conn)
                .await
                .map_err(redis_error)?;
            Ok(written == 1)
        })
    }

    fn compare_and_set<'a>(
        &'a self,
        key: &'a str,
        expected: &'a str,
        token: &'a StoredToken,
    ) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let written: i64 = self
                .cas_script
                .key(key)
                .arg(expected)
                .arg(token.value.expose())
                .arg(token.expires_at)
                .invoke_async(&mut conn)
                .await
                .map_err(redis_error)?;
            Ok(written == 1)
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

/// The entry read back, or `None` when it is incomplete or corrupt (an `expires_at` that is not
/// an integer, an empty value): a corrupt entry is absent, and the next fetch overwrites it.
/// How far ahead `expires_at` may be is the manager's check
/// ([`MAX_TOKEN_LIFETIME_SECS`](super::MAX_TOKEN_LIFETIME_SECS)).
fn parse_entry(value: Option<String>, expires_at: Option<String>) -> Option<StoredToken> {
    let value = value.filter(|v| !v.is_empty())?;
    let expires_at = expires_at?.trim().parse::<i64>().ok()?;
    Some(StoredToken {
        value: SecretString::new(value),
        expires_at,
    })
}

/// A [`RedisStore`] connected on first use (so that a client's `build` stays synchronous).
pub(crate) struct LazyRedisStore {
    client: redis::Client,
    store: tokio::sync::OnceCell<RedisStore>,
}

impl LazyRedisStore {
    /// Checks the URL now; connects later. Errors name the URL's problem, never the URL.
    pub(crate) fn open(url: &str) -> Result<Self> {
        let client = redis::Client::open(url).map_err(|e| Error::Config {
            detail: format!("token store: invalid Redis URL ({:?})", e.kind()),
        })?;
        Ok(LazyRedisStore {
            client,
            store: tokio::sync::OnceCell::new(),
        })
    }

    async fn store(&self) -> Result<&RedisStore> {
        self.store
            .get_or_try_init(|| async { RedisStore::connect_client(&self.client).await })
            .await
    }
}

impl TokenStore for LazyRedisStore {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<StoredToken>>> {
        Box::pin(async move { self.store().await?.get(key).await })
    }

    fn set<'a>(&'a self, key: &'a str, token: &'a StoredToken) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move { self.store().await?.set(key, token).await })
    }

    fn set_locked<'a>(
        &'a self,
        key: &'a str,
        token: &'a StoredToken,
        lock_key: &'a str,
        lock: &'a LockToken,
    ) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            self.store()
                .await?
                .set_locked(key, token, lock_key, lock)
                .await
        })
    }

    fn compare_and_set<'a>(
        &'a self,
        key: &'a str,
        expected: &'a str,
        token: &'a StoredToken,
    ) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            self.store()
                .await?
                .compare_and_set(key, expected, token)
                .await
        })
    }

    fn compare_and_expire<'a>(
        &'a self,
        key: &'a str,
        failed_value: &'a str,
    ) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            self.store()
                .await?
                .compare_and_expire(key, failed_value)
                .await
        })
    }

    fn lock<'a>(
        &'a self,
        key: &'a str,
        lease: Duration,
    ) -> BoxFuture<'a, Result<Option<LockToken>>> {
        Box::pin(async move { self.store().await?.lock(key, lease).await })
    }

    fn unlock<'a>(&'a self, key: &'a str, token: &'a LockToken) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move { self.store().await?.unlock(key, token).await })
    }
}
