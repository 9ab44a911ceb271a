//! [`MemoryStore`]: the default token store, one process.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex as StdMutex;
use std::time::{Duration, Instant};

use super::{LockToken, StoredToken, TokenStore};
use crate::{BoxFuture, Result};

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

    fn set_locked<'a>(
        &'a self,
        key: &'a str,
        token: &'a StoredToken,
        lock_key: &'a str,
        lock: &'a LockToken,
    ) -> BoxFuture<'a, Result<bool>> {
        // The lock map stays locked while the token is written, so the lease cannot change
        // hands between the check and the write.
        let locks = lock_map(&self.locks);
        let held = locks
            .get(lock_key)
            .is_some_and(|(holder, until)| holder == lock && *until > Instant::now());
        if held {
            lock_map(&self.tokens).insert(key.to_owned(), token.clone());
        }
        drop(locks);
        Box::pin(async move { Ok(held) })
    }

    fn compare_and_set<'a>(
        &'a self,
        key: &'a str,
        expected: &'a str,
        token: &'a StoredToken,
    ) -> BoxFuture<'a, Result<bool>> {
        let mut tokens = lock_map(&self.tokens);
        let matches = tokens
            .get(key)
            .is_some_and(|t| t.value.expose() == expected);
        if matches {
            tokens.insert(key.to_owned(), token.clone());
        }
        Box::pin(async move { Ok(matches) })
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
