//! The store trait and what goes through it: [`StoredToken`], [`LockToken`].

use std::fmt;
use std::time::Duration;

use crate::{BoxFuture, Result, SecretString};

#[allow(unused_imports)] // doc links
use super::TokenManager;

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

/// The longest lifetime a stored credential may claim, in seconds (7 days; WeChat's access
/// tokens and tickets live 7200 s). A fetch answering a longer `expires_in` is stored with this
/// one, and a stored `expires_at` further ahead than this (plus the safety margin) is corrupt:
/// a [`TokenManager`] treats it as absent and fetches, so a damaged entry is never "fresh
/// forever".
pub const MAX_TOKEN_LIFETIME_SECS: i64 = 7 * 24 * 3600;

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

    /// Replaces the stored token, unconditionally (seeding a store, tests). A
    /// [`TokenManager`] writes with [`TokenStore::set_locked`] instead.
    fn set<'a>(&'a self, key: &'a str, token: &'a StoredToken) -> BoxFuture<'a, Result<()>>;

    /// Replaces the stored token only while `lock` still holds the lock `lock_key`, atomically
    /// (Redis: a Lua script comparing the lock's value); true when it wrote. A holder whose
    /// lease ran out (stalled, paused, or its write delayed in transit) writes nothing, so it
    /// can never overwrite the newer token of the caller that took the lock after it.
    fn set_locked<'a>(
        &'a self,
        key: &'a str,
        token: &'a StoredToken,
        lock_key: &'a str,
        lock: &'a LockToken,
    ) -> BoxFuture<'a, Result<bool>>;

    /// Replaces the stored token only if its value is still `expected`, atomically (Redis: a
    /// Lua compare-then-write); true when it wrote. What a refresh whose lock ran out falls
    /// back to for a rotated credential it must not lose (a third-party platform's
    /// `authorizer_refresh_token`): written unless another one was stored (or it was cleared)
    /// meanwhile.
    fn compare_and_set<'a>(
        &'a self,
        key: &'a str,
        expected: &'a str,
        token: &'a StoredToken,
    ) -> BoxFuture<'a, Result<bool>>;

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
