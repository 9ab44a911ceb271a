//! [`TokenProvider`]: what an API client asks for its token; [`FixedToken`].

use crate::{BoxFuture, Result, SecretString};

#[allow(unused_imports)] // doc links
use super::TokenManager;

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
