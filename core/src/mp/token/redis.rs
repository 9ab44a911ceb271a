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
            .get_or_try_init(|| async {
                let conn = self
                    .client
                    .get_connection_manager()
                    .await
                    .map_err(redis_error)?;
                Ok(RedisStore::new(conn))
            })
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
