//! `ClientCore`: a bridge [`Client`] (WeChat Pay, mini-program or third-party platform) behind
//! the JS client classes.
//! Built from the configuration object (the bridge's keys) and the optional callbacks; every
//! operation, local operation and client-level action is `call(name, args, bytes)`, which
//! returns a Promise settled from napi-rs's tokio runtime. Nothing here is per operation.

use std::collections::HashMap;
use std::sync::Arc;

use napi::bindgen_prelude::{Buffer, Function, Promise, PromiseRaw};
use napi::Env;
use napi_derive::napi;
use serde_json::Value;
use weixin_kit::bridge::{Callbacks, Client, Family, HostFunction};
use weixin_kit::dispatch::JsonArgs;

use crate::callbacks::JsCallable;
use crate::errors::{to_napi, validation};

/// Appended to the User-Agent of every client the addon builds.
const USER_AGENT_SUFFIX: &str = concat!("node/", env!("CARGO_PKG_VERSION"));

/// The callbacks a client may be built with (each already wrapped by `lib/clients.js`).
#[napi(object)]
pub struct ClientCallbacks<'a> {
    #[napi(js_name = "token_provider")]
    pub token_provider: Option<Function<'a, Value, Promise<Value>>>,
    pub signer: Option<Function<'a, Value, Promise<Value>>>,
    #[napi(js_name = "card_token_provider")]
    pub card_token_provider: Option<Function<'a, Value, Promise<Value>>>,
}

/// A WeChat Pay, mini-program or third-party platform client: its connection pool, keys, token cache and retries.
#[napi]
pub struct ClientCore {
    client: Client,
}

#[napi]
impl ClientCore {
    /// `family`: `"pay"`, `"mp"` or `"component"`; `config`: the configuration keys
    /// (`PayConfig` / `MiniProgramConfig` / `ComponentConfig`), validated by the core (a `ConfigError` names the key).
    #[napi(constructor)]
    pub fn new(
        family: String,
        config: Value,
        callbacks: Option<ClientCallbacks>,
    ) -> napi::Result<Self> {
        let family = Family::parse(&family).map_err(to_napi)?;
        if !config.is_object() {
            return Err(crate::errors::config(
                "the configuration must be an object of settings",
            ));
        }
        let wrap = |f: Option<Function<'_, Value, Promise<Value>>>| -> napi::Result<_> {
            f.map(|f| JsCallable::new(&f).map(|c| Arc::new(c) as Arc<dyn HostFunction>))
                .transpose()
        };
        let callbacks = match callbacks {
            Some(c) => Callbacks {
                token_provider: wrap(c.token_provider)?,
                signer: wrap(c.signer)?,
                card_token_provider: wrap(c.card_token_provider)?,
            },
            None => Callbacks::default(),
        };
        // The client's connection pool and timers belong to the runtime that drives its calls.
        let client = napi::bindgen_prelude::within_runtime_if_available(|| {
            Client::new(family, config, &callbacks, USER_AGENT_SUFFIX)
        })
        .map_err(to_napi)?;
        Ok(ClientCore { client })
    }

    /// What may be shown of the client (`mchid`, `appid`, `base_url` …): nothing secret.
    #[napi(getter)]
    pub fn info(&self) -> Value {
        self.client.info().clone()
    }

    /// A third-party platform's (family `"component"`) client for `authorizer_appid`: a
    /// mini-program core (family `"mp"`) calling with the authorizer_access_token, refreshed
    /// through the component's refresh token (`bridge::Client::authorizer`). A `ConfigError`
    /// on any other family; the authorization itself is only checked by a call
    /// (`NotAuthorizedError`).
    #[napi]
    pub fn authorizer(&self, authorizer_appid: String) -> napi::Result<ClientCore> {
        // Its token manager's timers belong to the runtime that drives its calls.
        let client = napi::bindgen_prelude::within_runtime_if_available(|| {
            self.client.authorizer(&authorizer_appid)
        })
        .map_err(to_napi)?;
        Ok(ClientCore { client })
    }

    /// Calls the operation or action `name` (`ModifyStockInfo`, `cardExt`,
    /// `parseNotification` …) with `args` keyed by wire name (null/undefined = absent) and
    /// `bytes` (file contents, a notification body) by wire name. Resolves to the decoded JSON
    /// (null for a 204).
    #[napi(ts_return_type = "Promise<unknown>")]
    pub fn call<'env>(
        &self,
        env: &'env Env,
        name: String,
        args: Option<Value>,
        bytes: Option<HashMap<String, Buffer>>,
    ) -> napi::Result<PromiseRaw<'env, Value>> {
        let args = json_args(args, bytes)?;
        let client = self.client.clone();
        env.spawn_future(async move { client.call(&name, args).await.map_err(to_napi) })
    }
}

/// The arguments of one call: JSON values (null = absent) and bytes, by wire name.
fn json_args(
    args: Option<Value>,
    bytes: Option<HashMap<String, Buffer>>,
) -> napi::Result<JsonArgs> {
    let mut out = JsonArgs::default();
    match args {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            for (name, value) in map {
                if !value.is_null() {
                    out.values.insert(name, value);
                }
            }
        }
        Some(_) => {
            return Err(validation(
                "args",
                "must be an object of arguments keyed by wire name",
            ))
        }
    }
    for (name, buffer) in bytes.unwrap_or_default() {
        out.bytes.insert(name, buffer.to_vec());
    }
    Ok(out)
}
