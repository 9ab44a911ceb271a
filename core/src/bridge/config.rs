//! Client configuration as every binding passes it: one serde structure per client, read from
//! the host language's map/object with the wire-style keys (`mchid`, `serial_no`,
//! `private_key`, …) — the same keys in Python, Node and Kotlin (there in camelCase). A key the
//! structure does not have, a missing required key or a value of the wrong type is an
//! [`Error::Config`] that names the key and the rule.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

use crate::component::ComponentClient;
use crate::error::{Error, Result};
use crate::http::RetryPolicy;
use crate::mp::{MiniProgramClient, TokenEndpoint};
use crate::pay::PayClient;
use crate::secret::SecretString;

use super::callbacks::{Callbacks, HostSigner, HostTokenProvider};

/// How long a host-language callback may take before the call fails with
/// [`Error::Timeout`] (nothing is sent): the `callback_timeout` key.
pub const DEFAULT_CALLBACK_TIMEOUT: Duration = Duration::from_secs(10);

/// A WeChat Pay APIv3 client's configuration (`PayClient(...)` in every language).
#[derive(Deserialize, Default)]
pub struct PayConfig {
    /// The merchant id (商户号).
    pub mchid: String,
    /// Serial of the merchant API certificate (商户API证书序列号).
    pub serial_no: String,
    /// The merchant private key PEM (`apiclient_key.pem`, PKCS#8 or PKCS#1); not needed with a
    /// `signer` callback.
    pub private_key: Option<SecretString>,
    /// Public-key mode: the WeChat Pay public key id (`PUB_KEY_ID_…`), with
    /// `wechatpay_public_key`.
    pub wechatpay_public_key_id: Option<String>,
    /// Public-key mode: the WeChat Pay public key PEM (`pub_key.pem`).
    pub wechatpay_public_key: Option<String>,
    /// Certificate mode: platform certificate PEMs already at hand.
    pub platform_certificates: Option<Vec<String>>,
    /// The 32-byte APIv3 key: decrypts notifications and downloaded platform certificates.
    pub apiv3_key: Option<SecretString>,
    /// The main host (default `https://api.mch.weixin.qq.com`).
    pub base_url: Option<String>,
    /// The failover host (default `https://api2.mch.weixin.qq.com`; none when `base_url` is
    /// given).
    pub backup_base_url: Option<String>,
    /// Download platform certificates from `/v3/certificates` (default: when `apiv3_key` is
    /// given).
    pub download_certificates: Option<bool>,
    /// Replay protection of parsed notifications: `memory` (this process) or
    /// `redis://host:port/db` (every instance); a notification parsed again raises
    /// `ReplayError`. Default: off.
    pub replay_guard: Option<SecretString>,
    /// `timeout`, `connect_timeout`, `deadline`, `max_attempts`, `callback_timeout` (the signer's),
    /// `danger_allow_insecure_http`.
    #[serde(skip)]
    pub common: CommonConfig,
}

/// The keys every client has.
#[derive(Deserialize, Default)]
pub struct CommonConfig {
    /// Seconds for one attempt (default 30).
    pub timeout: Option<f64>,
    /// Seconds to connect (default 5).
    pub connect_timeout: Option<f64>,
    /// Seconds for one whole call: every attempt, backoff and Retry-After wait (default 60).
    pub deadline: Option<f64>,
    /// Requests sent in total, retries included (default 3; 1 = no retry).
    pub max_attempts: Option<u32>,
    /// Seconds a callback (signer, token provider) may take (default 10).
    pub callback_timeout: Option<f64>,
    /// **Dangerous**: `true` accepts `http://` base URLs on hosts other than loopback
    /// (127.0.0.0/8, ::1, localhost), so the AppSecret, tokens and personal data travel
    /// unencrypted (default false: such a URL is a configuration error).
    pub danger_allow_insecure_http: Option<bool>,
}

/// A client builder with the checked common keys applied (every builder has these setters).
macro_rules! with_common {
    ($builder:expr, $common:expr) => {{
        let (mut b, common) = ($builder, &$common);
        if let Some(t) = common.timeout {
            b = b.timeout(t);
        }
        if let Some(t) = common.connect_timeout {
            b = b.connect_timeout(t);
        }
        if let Some(t) = common.deadline {
            b = b.deadline(t);
        }
        if let Some(retry) = common.retry.clone() {
            b = b.retry(retry);
        }
        if common.danger_allow_insecure_http {
            b = b.danger_allow_insecure_http(true);
        }
        b
    }};
}

/// [`CommonConfig`] checked: durations and the retry policy.
struct Common {
    timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
    deadline: Option<Duration>,
    retry: Option<RetryPolicy>,
    callback_timeout: Duration,
    danger_allow_insecure_http: bool,
}

impl CommonConfig {
    const KEYS: [&'static str; 6] = [
        "timeout",
        "connect_timeout",
        "deadline",
        "max_attempts",
        "callback_timeout",
        "danger_allow_insecure_http",
    ];

    fn check(&self, what: &str) -> Result<Common> {
        Ok(Common {
            timeout: seconds(what, "timeout", self.timeout)?,
            connect_timeout: seconds(what, "connect_timeout", self.connect_timeout)?,
            deadline: seconds(what, "deadline", self.deadline)?,
            retry: self
                .max_attempts
                .map(|n| retry_policy(what, n))
                .transpose()?,
            callback_timeout: seconds(what, "callback_timeout", self.callback_timeout)?
                .unwrap_or(DEFAULT_CALLBACK_TIMEOUT),
            danger_allow_insecure_http: self.danger_allow_insecure_http.unwrap_or(false),
        })
    }
}

/// A mini-program client's configuration (`MiniProgramClient(...)` in every language).
#[derive(Deserialize, Default)]
pub struct MiniProgramConfig {
    /// The mini-program's AppID.
    pub appid: String,
    /// Its AppSecret (fetches access tokens); not needed with a `token_provider` callback.
    pub secret: Option<SecretString>,
    /// The Official Account (公众号) that created the cards: its AppID. The `card` operations
    /// (cardExt, decryptCardCode, getTicket) run with that account's token and wx_card ticket.
    pub card_appid: Option<String>,
    /// That account's AppSecret.
    pub card_secret: Option<SecretString>,
    /// Where tokens and tickets are cached: `memory://` (default) or `redis://host:port/db`.
    pub token_store: Option<SecretString>,
    /// The host (default `https://api.weixin.qq.com`).
    pub base_url: Option<String>,
    /// `stable_token` (getStableAccessToken, default) or `token` (getAccessToken).
    pub token_endpoint: Option<String>,
    /// `timeout`, `connect_timeout`, `deadline`, `max_attempts`, `callback_timeout` (the token provider's),
    /// `danger_allow_insecure_http`.
    #[serde(skip)]
    pub common: CommonConfig,
}

/// A third-party platform's (第三方平台) configuration (`ComponentClient(...)` in every
/// language).
#[derive(Deserialize)]
pub struct ComponentConfig {
    /// The third-party platform's AppID (component_appid).
    pub component_appid: String,
    /// Its AppSecret (component_appsecret).
    pub component_appsecret: SecretString,
    /// The message-check Token (消息校验Token) of the platform's settings: verifies pushes
    /// (with `encoding_aes_key`; both or neither).
    pub token: Option<SecretString>,
    /// The EncodingAESKey (消息加解密Key, 43 characters): decrypts pushes.
    pub encoding_aes_key: Option<SecretString>,
    /// Where tickets and tokens are kept: `memory://` (default) or `redis://host:port/db` —
    /// share it between every instance (refresh tokens live there).
    pub token_store: Option<SecretString>,
    /// The host (default `https://api.weixin.qq.com`); authorizer clients use it too.
    pub base_url: Option<String>,
    /// A failover host (default none).
    pub backup_base_url: Option<String>,
    /// `timeout`, `connect_timeout`, `deadline`, `max_attempts`, `callback_timeout`,
    /// `danger_allow_insecure_http`.
    #[serde(skip)]
    pub common: CommonConfig,
}

/// Reads `config` (a JSON object with the wire-style keys; `null` values count as absent).
fn read<T: DeserializeOwned>(
    what: &str,
    keys: &[&str],
    config: Value,
) -> Result<(T, CommonConfig)> {
    let Value::Object(mut map) = config else {
        return Err(Error::Config {
            detail: format!("{what}: the configuration must be a map of keys to values"),
        });
    };
    map.retain(|_, v| !v.is_null());
    if let Some(unknown) = map.keys().find(|k| !keys.contains(&k.as_str())) {
        return Err(Error::Config {
            detail: format!(
                "{what}: `{unknown}` is not a configuration key (keys: {})",
                keys.join(", ")
            ),
        });
    }
    // The common keys apart, so that an error names its key (serde's flatten would lose it).
    let (common, own): (serde_json::Map<_, _>, serde_json::Map<_, _>) = map
        .into_iter()
        .partition(|(k, _)| CommonConfig::KEYS.contains(&k.as_str()));
    Ok((typed(what, own)?, typed(what, common)?))
}

fn typed<T: DeserializeOwned>(what: &str, map: serde_json::Map<String, Value>) -> Result<T> {
    serde_path_to_error::deserialize(Value::Object(map)).map_err(|e| {
        let at = e.path().to_string();
        let inner = e.into_inner().to_string();
        let detail = match inner.strip_prefix("missing field ") {
            Some(name) => format!("{what}: {name} is required"),
            None => format!("{what}: `{at}` {}", crate::error::data_rule(&inner)),
        };
        Error::Config { detail }
    })
}

/// `key` in seconds as a positive duration.
fn seconds(what: &str, key: &str, value: Option<f64>) -> Result<Option<Duration>> {
    value
        .map(|v| {
            Duration::try_from_secs_f64(v)
                .ok()
                .filter(|d| !d.is_zero())
                .ok_or_else(|| Error::Config {
                    detail: format!("{what}: `{key}` must be a positive number of seconds"),
                })
        })
        .transpose()
}

fn retry_policy(what: &str, max_attempts: u32) -> Result<RetryPolicy> {
    if max_attempts == 0 {
        return Err(Error::Config {
            detail: format!("{what}: `max_attempts` must be at least 1 (requests sent in total)"),
        });
    }
    Ok(RetryPolicy {
        max_attempts,
        ..RetryPolicy::default()
    })
}

impl PayConfig {
    /// Every key, as the bindings document it.
    pub const KEYS: &'static [&'static str] = &[
        "mchid",
        "serial_no",
        "private_key",
        "wechatpay_public_key_id",
        "wechatpay_public_key",
        "platform_certificates",
        "apiv3_key",
        "base_url",
        "backup_base_url",
        "timeout",
        "connect_timeout",
        "deadline",
        "max_attempts",
        "download_certificates",
        "callback_timeout",
        "danger_allow_insecure_http",
        "replay_guard",
    ];

    /// Reads the configuration from a JSON object with [`Self::KEYS`].
    pub fn from_json(config: Value) -> Result<Self> {
        let (mut config, common): (Self, _) = read("PayConfig", Self::KEYS, config)?;
        config.common = common;
        Ok(config)
    }

    /// The client. Call it inside the tokio runtime that will drive the client (the
    /// certificate refresher is spawned there). `user_agent_suffix` names the binding
    /// (`python/0.1.0`).
    pub fn build(self, callbacks: &Callbacks, user_agent_suffix: &str) -> Result<PayClient> {
        const WHAT: &str = "PayConfig";
        let mut b = PayClient::builder()
            .mchid(self.mchid)
            .serial_no(self.serial_no)
            .user_agent_suffix(user_agent_suffix);
        let common = self.common.check(WHAT)?;
        match (&self.private_key, &callbacks.signer) {
            (Some(_), Some(_)) => {
                return Err(Error::Config {
                    detail: "PayConfig: give either `private_key` or a `signer` callback, not both"
                        .into(),
                })
            }
            (Some(pem), None) => b = b.private_key_pem(pem.expose())?,
            (None, Some(signer)) => {
                b = b.signer(std::sync::Arc::new(HostSigner::new(
                    signer.clone(),
                    common.callback_timeout,
                )))
            }
            (None, None) => {}
        }
        match (&self.wechatpay_public_key_id, &self.wechatpay_public_key) {
            (Some(id), Some(pem)) => b = b.wechatpay_public_key(id, pem)?,
            (None, None) => {}
            _ => {
                return Err(Error::Config {
                    detail: "PayConfig: public-key mode needs both `wechatpay_public_key_id` \
                             (PUB_KEY_ID_…) and `wechatpay_public_key` (the PEM)"
                        .into(),
                })
            }
        }
        if let Some(pems) = self.platform_certificates {
            b = b.platform_certificates(pems)?;
        }
        if let Some(key) = &self.apiv3_key {
            b = b.apiv3_key(key.expose())?;
        }
        if let Some(url) = self.base_url {
            b = b.base_url(url);
        }
        if let Some(url) = self.backup_base_url {
            b = b.backup_base_url(url);
        }
        b = with_common!(b, common);
        if let Some(on) = self.download_certificates {
            b = b.download_certificates(on);
        }
        if let Some(url) = &self.replay_guard {
            b = b.replay_guard_url(url.expose());
        }
        b.build()
    }
}

impl MiniProgramConfig {
    /// Every key, as the bindings document it.
    pub const KEYS: &'static [&'static str] = &[
        "appid",
        "secret",
        "card_appid",
        "card_secret",
        "token_store",
        "base_url",
        "timeout",
        "connect_timeout",
        "deadline",
        "max_attempts",
        "token_endpoint",
        "callback_timeout",
        "danger_allow_insecure_http",
    ];

    /// Reads the configuration from a JSON object with [`Self::KEYS`].
    pub fn from_json(config: Value) -> Result<Self> {
        let (mut config, common): (Self, _) = read("MiniProgramConfig", Self::KEYS, config)?;
        config.common = common;
        Ok(config)
    }

    /// The client. Call it inside the tokio runtime that will drive the client.
    pub fn build(
        self,
        callbacks: &Callbacks,
        user_agent_suffix: &str,
    ) -> Result<MiniProgramClient> {
        const WHAT: &str = "MiniProgramConfig";
        let mut b = MiniProgramClient::builder()
            .appid(self.appid)
            .user_agent_suffix(user_agent_suffix);
        let common = self.common.check(WHAT)?;
        if let Some(provider) = &callbacks.token_provider {
            if self.secret.is_some() {
                return Err(Error::Config {
                    detail: "MiniProgramConfig: give either `secret` or a `token_provider` \
                             callback, not both"
                        .into(),
                });
            }
            b = b.token_provider(std::sync::Arc::new(HostTokenProvider::new(
                provider.clone(),
                common.callback_timeout,
            )));
        }
        if let Some(secret) = self.secret {
            b = b.secret(secret);
        }
        match (
            self.card_appid,
            self.card_secret,
            &callbacks.card_token_provider,
        ) {
            (Some(appid), Some(secret), None) => b = b.card_account(appid, secret),
            (Some(appid), None, Some(provider)) => {
                b = b.card_token_provider(
                    appid,
                    std::sync::Arc::new(HostTokenProvider::for_card_account(
                        provider.clone(),
                        common.callback_timeout,
                    )),
                )
            }
            (None, None, None) => {}
            (_, Some(_), Some(_)) => {
                return Err(Error::Config {
                    detail: "MiniProgramConfig: give either `card_secret` or a \
                             `card_token_provider` callback, not both"
                        .into(),
                })
            }
            _ => {
                return Err(Error::Config {
                    detail: "MiniProgramConfig: the card account needs `card_appid` and either \
                             `card_secret` or a `card_token_provider` callback (the Official \
                             Account that created the cards)"
                        .into(),
                })
            }
        }
        if let Some(url) = self.token_store {
            b = b.token_store_url(url.expose().to_owned());
        }
        if let Some(url) = self.base_url {
            b = b.base_url(url);
        }
        b = with_common!(b, common);
        match self.token_endpoint.as_deref() {
            None | Some("stable_token") => b = b.token_endpoint(TokenEndpoint::StableToken),
            Some("token") => b = b.token_endpoint(TokenEndpoint::Token),
            Some(_) => {
                return Err(Error::Config {
                    detail: "MiniProgramConfig: `token_endpoint` must be \"stable_token\" \
                             (getStableAccessToken, the default) or \"token\" (getAccessToken)"
                        .into(),
                })
            }
        }
        b.build()
    }
}

impl ComponentConfig {
    /// Every key, as the bindings document it.
    pub const KEYS: &'static [&'static str] = &[
        "component_appid",
        "component_appsecret",
        "token",
        "encoding_aes_key",
        "token_store",
        "base_url",
        "backup_base_url",
        "timeout",
        "connect_timeout",
        "deadline",
        "max_attempts",
        "callback_timeout",
        "danger_allow_insecure_http",
    ];

    /// Reads the configuration from a JSON object with [`Self::KEYS`].
    pub fn from_json(config: Value) -> Result<Self> {
        let (mut config, common): (Self, _) = read("ComponentConfig", Self::KEYS, config)?;
        config.common = common;
        Ok(config)
    }

    /// The client. Call it inside the tokio runtime that will drive the client.
    pub fn build(self, user_agent_suffix: &str) -> Result<ComponentClient> {
        const WHAT: &str = "ComponentConfig";
        let common = self.common.check(WHAT)?;
        let mut b = ComponentClient::builder()
            .component_appid(self.component_appid)
            .component_appsecret(self.component_appsecret)
            .user_agent_suffix(user_agent_suffix);
        if let Some(token) = self.token {
            b = b.token(token);
        }
        if let Some(key) = self.encoding_aes_key {
            b = b.encoding_aes_key(key);
        }
        if let Some(url) = self.token_store {
            b = b.token_store_url(url.expose().to_owned());
        }
        if let Some(url) = self.base_url {
            b = b.base_url(url);
        }
        if let Some(url) = self.backup_base_url {
            b = b.backup_base_url(url);
        }
        b = with_common!(b, common);
        b.build()
    }
}
