//! Functions of the host language the core calls back, designed once here and adapted per
//! language: a binding implements [`HostFunction`] for its callables (plain or async) and
//! passes them in [`Callbacks`]; the adapters below turn them into the core's
//! [`TokenProvider`](crate::mp::TokenProvider) and [`Signer`](crate::pay::Signer).
//!
//! - **token provider** — `() -> access_token`: a third-party platform's
//!   `authorizer_access_token`, or a central token service (document 01: setUserNotifyExt takes
//!   either). Called for every request; the host caches. When WeChat rejects the token
//!   (40001/42001/40014) it is called once more, and the request is retried once only if it
//!   returns a different token.
//! - **card token provider** — the same for the Official Account that owns the cards.
//! - **signer** — `(signing string) -> base64 signature`: the merchant private key kept in a
//!   KMS/HSM (wechatpay-go's `Signer` is the model). Called for every attempt (each attempt has
//!   a fresh timestamp and nonce).
//!
//! A callback that fails, returns the wrong type or does not answer within the configured
//! `callback_timeout` is an [`Error::Callback`] / [`Error::Timeout`], and nothing is sent.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::mp::TokenProvider;
use crate::pay::Signer;
use crate::secret::SecretString;

pub use crate::BoxFuture;

/// A function of the host language. `args` are the positional arguments as JSON; the result is
/// the function's return value as JSON (an async function's awaited value), or `Err` with a
/// description of what it raised/threw (its type and message: it is shown to the caller, so
/// bindings must not add anything secret).
pub trait HostFunction: Send + Sync {
    fn call(&self, args: Vec<Value>) -> BoxFuture<'static, std::result::Result<Value, String>>;
}

/// The callbacks a client is built with (both optional).
#[derive(Clone, Default)]
pub struct Callbacks {
    /// `MiniProgramClient`: supplies access tokens (instead of `secret`).
    pub token_provider: Option<Arc<dyn HostFunction>>,
    /// `PayClient`: signs requests (instead of `private_key`).
    pub signer: Option<Arc<dyn HostFunction>>,
    /// `MiniProgramClient`: supplies the card-owning Official Account's access tokens (instead
    /// of `card_secret`; `card_appid` still names the account).
    pub card_token_provider: Option<Arc<dyn HostFunction>>,
}

impl std::fmt::Debug for Callbacks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Callbacks")
            .field("token_provider", &self.token_provider.is_some())
            .field("signer", &self.signer.is_some())
            .field("card_token_provider", &self.card_token_provider.is_some())
            .finish()
    }
}

/// Calls `function` with a deadline; its result must be a string.
async fn call_for_string(
    name: &'static str,
    function: &Arc<dyn HostFunction>,
    args: Vec<Value>,
    timeout: Duration,
) -> Result<String> {
    let answer = tokio::time::timeout(timeout, function.call(args))
        .await
        .map_err(|_| Error::Timeout {
may_have_been_applied: false,
            detail: format!(
                "the {name} callback did not answer within {:.1} s (callback_timeout); nothing was sent",
                timeout.as_secs_f64()
            ),
        })?;
    match answer {
        Ok(Value::String(s)) if !s.is_empty() => Ok(s),
        Ok(Value::String(_)) => Err(Error::Callback {
            callback: name.into(),
            detail: "returned an empty string".into(),
        }),
        Ok(other) => Err(Error::Callback {
            callback: name.into(),
            detail: format!("must return a string, returned {}", json_type(&other)),
        }),
        Err(raised) => Err(Error::Callback {
            callback: name.into(),
            detail: raised,
        }),
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing (null/None)",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// A host function as the mini-program client's [`TokenProvider`].
pub struct HostTokenProvider {
    /// The callback's name in errors (`token_provider`, `card_token_provider`).
    name: &'static str,
    function: Arc<dyn HostFunction>,
    timeout: Duration,
}

impl HostTokenProvider {
    /// The mini-program's own tokens (`token_provider`).
    pub fn new(function: Arc<dyn HostFunction>, timeout: Duration) -> Self {
        HostTokenProvider {
            name: "token_provider",
            function,
            timeout,
        }
    }

    /// The card-owning Official Account's tokens (`card_token_provider`).
    pub fn for_card_account(function: Arc<dyn HostFunction>, timeout: Duration) -> Self {
        HostTokenProvider {
            name: "card_token_provider",
            function,
            timeout,
        }
    }
}

impl TokenProvider for HostTokenProvider {
    fn token(&self) -> BoxFuture<'_, Result<SecretString>> {
        Box::pin(async move {
            call_for_string(self.name, &self.function, Vec::new(), self.timeout)
                .await
                .map(SecretString::new)
        })
    }

    /// Nothing to drop on this side (the host caches): the client asks again and retries only
    /// if the answer differs from the token that failed.
    fn invalidate<'a>(&'a self, _failed: &'a SecretString) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async { Ok(false) })
    }
}

/// A host function as the WeChat Pay client's [`Signer`].
pub struct HostSigner {
    function: Arc<dyn HostFunction>,
    timeout: Duration,
}

impl HostSigner {
    pub fn new(function: Arc<dyn HostFunction>, timeout: Duration) -> Self {
        HostSigner { function, timeout }
    }
}

impl Signer for HostSigner {
    fn sign<'a>(&'a self, message: &'a [u8]) -> BoxFuture<'a, Result<String>> {
        Box::pin(async move {
            // The signing string is text: method, path, timestamp, nonce and a JSON body.
            let text = std::str::from_utf8(message).map_err(|_| Error::Callback {
                callback: "signer".into(),
                detail: "the signing string is not UTF-8 text, so it cannot be handed to a \
                         signer callback"
                    .into(),
            })?;
            call_for_string(
                "signer",
                &self.function,
                vec![Value::String(text.to_owned())],
                self.timeout,
            )
            .await
        })
    }
}
