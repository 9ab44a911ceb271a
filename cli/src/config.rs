//! Where the CLI's client configuration comes from: command-line flags, then environment
//! variables (`WEIXIN_KIT_<KEY>`), then a TOML file's `[profile.NAME]` table — in that order of
//! precedence — under exactly the bridge's configuration keys (`weixin_kit::bridge::PayConfig::KEYS`,
//! `MiniProgramConfig::KEYS`).
//!
//! Secrets and PEMs are never taken from a flag's value (it would land in shell history and
//! `ps`): a flag names a file (`--private-key-file`), an environment variable holds the value or
//! names a file (`WEIXIN_KIT_PRIVATE_KEY` / `WEIXIN_KIT_PRIVATE_KEY_FILE`), the file holds either
//! (`private_key_file = "…"` or `private_key = "…"`). [`Sources::show`] prints them redacted.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use weixin_kit::bridge::{ComponentConfig, Family, MiniProgramConfig, PayConfig};
use weixin_kit::Error;

/// Keys whose value is secret: read from a file or the environment, printed redacted.
pub const SECRET_KEYS: &[&str] = &[
    "private_key",
    "apiv3_key",
    "secret",
    "card_secret",
    // May carry a Redis password.
    "token_store",
    "replay_guard",
    // Not a client key: the wx_card api_ticket `card-ext` signs with.
    "api_ticket",
];

/// Keys whose value is a file's content (PEM): a flag gives the path.
const PEM_KEYS: &[&str] = &["wechatpay_public_key", "platform_certificates"];

/// Keys that are numbers or booleans in the bridge configuration (strings in the environment).
const NUMBER_KEYS: &[&str] = &[
    "timeout",
    "connect_timeout",
    "deadline",
    "max_attempts",
    "callback_timeout",
];
const BOOL_KEYS: &[&str] = &["download_certificates", "danger_allow_insecure_http"];

/// The environment variable of `key`: `WEIXIN_KIT_` and the key in upper case.
pub fn env_name(key: &str) -> String {
    format!("WEIXIN_KIT_{}", key.to_ascii_uppercase())
}

/// Every key the CLI reads: both families' bridge keys and `api_ticket`.
pub fn all_keys() -> Vec<&'static str> {
    let mut keys: Vec<&'static str> = PayConfig::KEYS.to_vec();
    for k in MiniProgramConfig::KEYS.iter().chain(["api_ticket"].iter()) {
        if !keys.contains(k) {
            keys.push(k);
        }
    }
    keys
}

/// Where a value came from (what `--show-config` prints next to it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    Flag,
    Env,
    File,
}

impl Origin {
    fn name(self) -> &'static str {
        match self {
            Origin::Flag => "flag",
            Origin::Env => "env",
            Origin::File => "config file",
        }
    }
}

/// The merged configuration: every key found, with its value and origin.
#[derive(Default)]
pub struct Sources {
    values: BTreeMap<&'static str, (Value, Origin)>,
    /// The config file read, if any, and the profile.
    pub file: Option<PathBuf>,
    pub profile: String,
}

impl std::fmt::Debug for Sources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.show())
    }
}

/// The flags' values by key: plain values, and paths of files holding a secret or PEM.
#[derive(Default)]
pub struct Flags {
    pub values: Vec<(&'static str, Value)>,
    pub files: Vec<(&'static str, PathBuf)>,
}

fn config_error(detail: impl Into<String>) -> Error {
    Error::Config {
        detail: detail.into(),
    }
}

fn read_file(key: &str, path: &Path) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|e| {
        config_error(format!(
            "`{key}`: cannot read the file {}: {e}",
            path.display()
        ))
    })
}

/// A file's content as the value of `key` (a list for `platform_certificates`).
fn file_value(key: &str, path: &Path) -> Result<Value, Error> {
    let text = read_file(key, path)?;
    Ok(if key == "platform_certificates" {
        Value::Array(vec![Value::String(text)])
    } else if key == "apiv3_key" || key == "api_ticket" || key == "secret" || key == "card_secret" {
        // A key file usually ends with a newline the key does not have.
        Value::String(text.trim().to_owned())
    } else {
        Value::String(text)
    })
}

/// An environment variable's text as the value of `key`, typed like the bridge expects.
fn env_value(key: &str, text: String) -> Result<Value, Error> {
    if NUMBER_KEYS.contains(&key) {
        return text
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(|n| {
                if key == "max_attempts" {
                    (n.fract() == 0.0 && n >= 0.0).then(|| Value::from(n as u64))
                } else {
                    serde_json::Number::from_f64(n).map(Value::Number)
                }
            })
            .ok_or_else(|| config_error(format!("`{}` must be a number", env_name(key))));
    }
    if BOOL_KEYS.contains(&key) {
        return match text.trim() {
            "true" | "1" => Ok(Value::Bool(true)),
            "false" | "0" => Ok(Value::Bool(false)),
            _ => Err(config_error(format!(
                "`{}` must be true or false",
                env_name(key)
            ))),
        };
    }
    if key == "platform_certificates" {
        return Ok(Value::Array(vec![Value::String(text)]));
    }
    Ok(Value::String(text))
}

/// The default config file: `$XDG_CONFIG_HOME/weixin-kit/config.toml`, else
/// `~/.config/weixin-kit/config.toml`.
fn default_config_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("weixin-kit").join("config.toml"))
}

/// Reads the profile `profile` of the TOML file `path`: a map of keys (and `KEY_file` paths,
/// relative to the file's directory).
fn profile_table(
    path: &Path,
    profile: &str,
    explicit: bool,
) -> Result<Option<Map<String, Value>>, Error> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => return Ok(None),
        Err(e) => {
            return Err(config_error(format!(
                "cannot read the config file {}: {e}",
                path.display()
            )))
        }
    };
    let table: toml::Table = toml::from_str(&text).map_err(|e| {
        config_error(format!(
            "the config file {} is not valid TOML: {}",
            path.display(),
            e.message()
        ))
    })?;
    let json = serde_json::to_value(table).map_err(|e| config_error(e.to_string()))?;
    let profiles = json.get("profile").and_then(Value::as_object);
    match profiles.and_then(|p| p.get(profile)) {
        Some(Value::Object(map)) => Ok(Some(map.clone())),
        Some(_) => Err(config_error(format!(
            "{}: [profile.{profile}] must be a table",
            path.display()
        ))),
        None if profile == "default" && !explicit => Ok(None),
        None => Err(config_error(format!(
            "{}: there is no [profile.{profile}] (profiles: {})",
            path.display(),
            profiles.map_or_else(String::new, |p| p
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", "))
        ))),
    }
}

impl Sources {
    /// Merges flags, the environment (`env` lookup, so tests and the Python entry point see the
    /// process environment) and the config file.
    pub fn load(
        flags: Flags,
        config: Option<PathBuf>,
        profile: Option<String>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Sources, Error> {
        let explicit_profile = profile.is_some() || env("WEIXIN_KIT_PROFILE").is_some();
        let profile = profile
            .or_else(|| env("WEIXIN_KIT_PROFILE"))
            .unwrap_or_else(|| "default".into());
        let explicit_file = config.is_some() || env("WEIXIN_KIT_CONFIG").is_some();
        let path = config
            .or_else(|| env("WEIXIN_KIT_CONFIG").map(PathBuf::from))
            .or_else(default_config_path);
        let mut sources = Sources {
            profile: profile.clone(),
            ..Sources::default()
        };
        let keys = all_keys();
        // Lowest precedence first; later inserts replace.
        if let Some(path) = path {
            if let Some(table) = profile_table(&path, &profile, explicit_file || explicit_profile)?
            {
                let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
                for (name, value) in table {
                    let (key, is_file) = match name.strip_suffix("_file") {
                        Some(k) => (k, true),
                        None => (name.as_str(), false),
                    };
                    let Some(key) = keys.iter().find(|k| **k == key) else {
                        return Err(config_error(format!(
                            "{} [profile.{profile}]: `{name}` is not a configuration key (keys: {})",
                            path.display(),
                            keys.join(", ")
                        )));
                    };
                    let value = if is_file {
                        let Value::String(p) = value else {
                            return Err(config_error(format!(
                                "{} [profile.{profile}]: `{name}` must be a file path",
                                path.display()
                            )));
                        };
                        file_value(key, &dir.join(p))?
                    } else {
                        value
                    };
                    sources.values.insert(key, (value, Origin::File));
                }
                sources.file = Some(path);
            }
        }
        for key in &keys {
            if let Some(path) = env(&format!("{}_FILE", env_name(key))) {
                sources
                    .values
                    .insert(key, (file_value(key, Path::new(&path))?, Origin::Env));
            }
            if let Some(text) = env(&env_name(key)) {
                sources
                    .values
                    .insert(key, (env_value(key, text)?, Origin::Env));
            }
        }
        for (key, value) in flags.values {
            sources.values.insert(key, (value, Origin::Flag));
        }
        for (key, path) in flags.files {
            sources
                .values
                .insert(key, (file_value(key, &path)?, Origin::Flag));
        }
        Ok(sources)
    }

    /// The value of `key`, if configured.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.values.get(key).map(|(v, _)| v)
    }

    /// A string value of `key`, or a `ConfigError` naming where to set it.
    pub fn require_str(&self, key: &str, flag: &str) -> Result<String, Error> {
        match self.get(key) {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(_) => Err(config_error(format!("`{key}` must be a string"))),
            None => Err(config_error(format!(
                "`{key}` is required: give {flag}, set {} or put it in the config file",
                env_name(key)
            ))),
        }
    }

    /// The bridge configuration object of `family`: the keys that family has.
    pub fn client_config(&self, family: Family) -> Value {
        let keys = match family {
            Family::Pay => PayConfig::KEYS,
            Family::MiniProgram => MiniProgramConfig::KEYS,
            // The CLI does not read the third-party platform's keys yet (not in `all_keys`):
            // building one fails naming the missing component_appid.
            Family::Component => ComponentConfig::KEYS,
        };
        Value::Object(
            self.values
                .iter()
                .filter(|(k, _)| keys.contains(k))
                .map(|(k, (v, _))| ((*k).to_owned(), v.clone()))
                .collect(),
        )
    }

    /// The configuration as `--show-config` prints it: each key's origin and value, secrets as
    /// `<redacted: N bytes>`, PEMs as their first line.
    pub fn show(&self) -> Value {
        let mut keys = Map::new();
        for (key, (value, origin)) in &self.values {
            let shown = if SECRET_KEYS.contains(key) {
                let len = value.as_str().map_or(0, str::len);
                Value::String(format!("<redacted: {len} bytes>"))
            } else if PEM_KEYS.contains(key) {
                let first = |v: &Value| {
                    Value::String(format!(
                        "{} …",
                        v.as_str().unwrap_or("").lines().next().unwrap_or("")
                    ))
                };
                match value {
                    Value::Array(items) => Value::Array(items.iter().map(first).collect()),
                    v => first(v),
                }
            } else {
                value.clone()
            };
            keys.insert(
                (*key).to_owned(),
                serde_json::json!({ "value": shown, "from": origin.name() }),
            );
        }
        serde_json::json!({
            "config_file": self.file.as_ref().map(|p| p.display().to_string()),
            "profile": self.profile,
            "keys": keys,
        })
    }
}
