//! `ClientCore`: a bridge [`Client`] (WeChat Pay, mini-program or third-party platform) behind
//! the Kotlin client classes. Built from the configuration JSON (the bridge's wire keys) and the optional
//! callbacks; every operation, local operation and client-level action is `call(name,
//! args_json, bytes)`, a Kotlin `suspend fun` run on the crate's runtime. Nothing here is per
//! operation.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;
use weixin_kit::bridge::{Callbacks, Client, Family};
use weixin_kit::dispatch::JsonArgs;

use crate::callbacks::{adapt, HostFunction};
use crate::errors::NativeError;
use crate::runtime;

/// Appended to the User-Agent of every client the library builds.
const USER_AGENT_SUFFIX: &str = concat!("kotlin/", env!("CARGO_PKG_VERSION"));

/// A WeChat Pay, mini-program or third-party platform client: its connection pool, keys, token
/// cache and retries.
#[derive(uniffi::Object)]
pub struct ClientCore {
    client: Client,
}

#[uniffi::export]
impl ClientCore {
    /// `family`: `"pay"`, `"mp"` or `"component"`; `config_json`: the configuration object with
    /// the wire keys (`PayConfig` / `MiniProgramConfig` / `ComponentConfig`), validated by the core (a `ConfigError` names the
    /// key). The callbacks are each optional; the core rejects one the family does not take.
    #[uniffi::constructor]
    pub fn new(
        family: String,
        config_json: String,
        token_provider: Option<Arc<dyn HostFunction>>,
        signer: Option<Arc<dyn HostFunction>>,
        card_token_provider: Option<Arc<dyn HostFunction>>,
    ) -> Result<Arc<Self>, NativeError> {
        let family = Family::parse(&family)?;
        let config: Value = serde_json::from_str(&config_json).map_err(|e| {
            NativeError::config(format!("the configuration is not a JSON object ({e})"))
        })?;
        if !config.is_object() {
            return Err(NativeError::config(
                "the configuration must be an object of settings",
            ));
        }
        let callbacks = Callbacks {
            token_provider: adapt(token_provider),
            signer: adapt(signer),
            card_token_provider: adapt(card_token_provider),
        };
        // The client's connection pool and timers belong to the runtime that drives its calls.
        let client = runtime::enter(|| Client::new(family, config, &callbacks, USER_AGENT_SUFFIX))?;
        Ok(Arc::new(ClientCore { client }))
    }

    /// A mini-program client (family `mp`) calling as `authorizer_appid` for this third-party
    /// platform client (`bridge::Client::authorizer`): its token is the authorizer's
    /// authorizer_access_token, refreshed through the component's token chain; it shares this
    /// client's connection pool and token store. A `ConfigError` on a client of another family
    /// or for an appid that is not one.
    pub fn authorizer(&self, authorizer_appid: String) -> Result<Arc<Self>, NativeError> {
        let client = runtime::enter(|| self.client.authorizer(&authorizer_appid))?;
        Ok(Arc::new(ClientCore { client }))
    }

    /// What may be shown of the client (`family`, `mchid`, `appid`, `base_url` …) as JSON:
    /// nothing secret.
    pub fn info_json(&self) -> String {
        self.client.info().to_string()
    }

    /// Calls the operation or action `name` (`ModifyStockInfo`, `cardExt`,
    /// `parseNotification` …) with `args_json` (a JSON object keyed by wire name; null =
    /// absent) and `bytes` (file contents, a notification body) by wire name. Answers the
    /// decoded JSON as text (`"null"` for a 204).
    pub async fn call(
        &self,
        name: String,
        args_json: String,
        bytes: HashMap<String, Vec<u8>>,
    ) -> Result<String, NativeError> {
        let args = json_args(&args_json, bytes)?;
        let client = self.client.clone();
        runtime::spawn(async move {
            let value = client.call(&name, args).await?;
            Ok(value.to_string())
        })
        .await
    }
}

/// The arguments of one call: JSON values (null = absent) and bytes, by wire name.
fn json_args(args_json: &str, bytes: HashMap<String, Vec<u8>>) -> Result<JsonArgs, NativeError> {
    let mut out = JsonArgs::default();
    let args: Value = serde_json::from_str(args_json).map_err(|e| {
        NativeError::validation("args", format!("must be a JSON object of arguments ({e})"))
    })?;
    match args {
        Value::Null => {}
        Value::Object(map) => {
            for (name, value) in map {
                if !value.is_null() {
                    out.values.insert(name, value);
                }
            }
        }
        _ => {
            return Err(NativeError::validation(
                "args",
                "must be an object of arguments keyed by wire name",
            ))
        }
    }
    out.bytes.extend(bytes);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_drop_nulls_and_keep_bytes() {
        let bytes = HashMap::from([("file".to_owned(), vec![1, 2, 3])]);
        let args = json_args(r#"{"a": 1, "b": null}"#, bytes).unwrap();
        assert_eq!(args.values.len(), 1);
        assert_eq!(args.bytes["file"], vec![1, 2, 3]);
        assert!(json_args("[1]", HashMap::new()).is_err());
    }
}
