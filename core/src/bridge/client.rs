//! One client type for every binding: a WeChat Pay or mini-program client built from its
//! configuration, with every spec operation *and* every client-level action callable by name
//! with wire-named JSON arguments. A binding's native layer is then one class with `call(name,
//! args)` (sync and async); nothing per operation or per action is written in a binding.

use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{json, Value};

use crate::component::push::PushQuery;
use crate::component::ComponentClient;
use crate::dispatch::{CallByName, JsonArgs};
use crate::error::{Error, Result};
use crate::mp::MiniProgramClient;
use crate::pay::PayClient;

use super::callbacks::Callbacks;
use super::config::{ComponentConfig, MiniProgramConfig, PayConfig};

/// Which API family a client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// WeChat Pay APIv3 (`PayClient`).
    Pay,
    /// Mini-program server APIs (`MiniProgramClient`).
    MiniProgram,
    /// A third-party platform (第三方平台, `ComponentClient`).
    Component,
}

impl Family {
    /// `"pay"` / `"mp"` / `"component"`, as bindings name the family.
    pub fn parse(name: &str) -> Result<Family> {
        match name {
            "pay" => Ok(Family::Pay),
            "mp" | "mini_program" => Ok(Family::MiniProgram),
            "component" => Ok(Family::Component),
            other => Err(Error::Config {
                detail: format!("`{other}` is not a client family (pay, mp, component)"),
            }),
        }
    }

    /// The name [`Family::parse`] takes.
    pub fn name(self) -> &'static str {
        match self {
            Family::Pay => "pay",
            Family::MiniProgram => "mp",
            Family::Component => "component",
        }
    }
}

/// A client-level action: not an API operation of the spec, but callable by name in the same
/// table (see [`Client::call`]).
#[derive(Debug)]
pub struct Action {
    pub family: Family,
    /// The name passed to `call` (`parseNotification`).
    pub name: &'static str,
    /// The method name in snake_case (`parse_notification`); each binding converts it to its
    /// own convention.
    pub method: &'static str,
    /// Its arguments, by wire name.
    pub arguments: &'static [Argument],
    pub summary: &'static str,
}

/// One argument of an [`Action`].
#[derive(Debug)]
pub struct Argument {
    pub name: &'static str,
    pub required: bool,
    pub kind: ArgumentKind,
}

/// What an [`Argument`] takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgumentKind {
    /// Any JSON value (typed by the action).
    Json,
    /// Raw bytes; text is taken as its UTF-8 bytes (a body exactly as received).
    Bytes,
}

const fn json(name: &'static str, required: bool) -> Argument {
    Argument {
        name,
        required,
        kind: ArgumentKind::Json,
    }
}

const fn bytes(name: &'static str) -> Argument {
    Argument {
        name,
        required: true,
        kind: ArgumentKind::Bytes,
    }
}

/// Every client-level action.
pub static ACTIONS: &[Action] = &[
    Action {
        family: Family::Pay,
        name: "request",
        method: "request",
        arguments: &[
            json("method", true),
            json("path", true),
            json("body", false),
            json("idempotent", false),
        ],
        summary: "A signed, verified request to an endpoint the spec does not cover yet (`path` \
                  starts with /v3/ and is sent as given; `body` is JSON). Returns the JSON \
                  answer (null for 204). `idempotent` (default: by method, GET/HEAD/OPTIONS/PUT/\
                  DELETE yes, POST/PATCH no): whether it may be sent again after a failure that \
                  may have come after WeChat Pay received it.",
    },
    Action {
        family: Family::Pay,
        name: "parseNotification",
        method: "parse_notification",
        arguments: &[json("headers", true), bytes("body")],
        summary: "Verifies a notification (signature, 5-minute rule) and decrypts its resource: \
                  `headers` as received (name → value), `body` the raw bytes or text. Returns \
                  {id, create_time, event_type, resource_type, summary, resource}.",
    },
    Action {
        family: Family::Pay,
        name: "platformCertificateSerials",
        method: "platform_certificate_serials",
        arguments: &[],
        summary: "Serials of the platform certificates currently trusted.",
    },
    Action {
        family: Family::Pay,
        name: "refreshCertificates",
        method: "refresh_certificates",
        arguments: &[],
        summary: "Downloads the platform certificates now; returns the serials trusted after.",
    },
    Action {
        family: Family::MiniProgram,
        name: "accessToken",
        method: "access_token",
        arguments: &[],
        summary: "A valid access token (from the store, or fetched once for every concurrent \
                  caller and instance).",
    },
    Action {
        family: Family::MiniProgram,
        name: "refreshAccessToken",
        method: "refresh_access_token",
        arguments: &[],
        summary: "Replaces the stored access token now (stable_token with force_refresh: WeChat \
                  allows 20 a day, 30 s apart).",
    },
    Action {
        family: Family::Component,
        name: "parsePush",
        method: "parse_push",
        arguments: &[json("query", true), bytes("body")],
        summary: "Verifies (msg_signature), decrypts and types an authorization-event push: \
                  `query` the URL's query string or its parameters (name → value), `body` the \
                  raw bytes or text. A verify ticket is stored (a newer one wins) and an \
                  unauthorized authorizer forgotten. Returns {info_type, app_id, create_time, \
                  …the event's fields} — never the ticket. Answer the plain text `success`.",
    },
    Action {
        family: Family::Component,
        name: "componentAccessToken",
        method: "component_access_token",
        arguments: &[],
        summary: "A valid component_access_token (from the store, or fetched once for every \
                  caller and instance with the last verify ticket pushed).",
    },
    Action {
        family: Family::Component,
        name: "authorize",
        method: "authorize",
        arguments: &[json("authorization_code", true)],
        summary: "Exchanges an authorization code (authorized/updateauthorized push, or the \
                  authorization page's redirect) for the authorizer's tokens, stored (refresh \
                  token first). Returns {authorizer_appid, func_info: [permission set ids], \
                  expires_in} — no token.",
    },
    Action {
        family: Family::Component,
        name: "authorizerAccessToken",
        method: "authorizer_access_token",
        arguments: &[json("authorizer_appid", true)],
        summary: "A valid authorizer_access_token for authorizer_appid (from the store, or \
                  refreshed once for every caller and instance); NotAuthorizedError when the \
                  merchant must authorize again.",
    },
    Action {
        family: Family::Component,
        name: "forgetAuthorizer",
        method: "forget_authorizer",
        arguments: &[json("authorizer_appid", true)],
        summary: "Deletes authorizer_appid's refresh and access tokens (an unauthorized push \
                  does this by itself): later calls for it raise NotAuthorizedError without a \
                  request.",
    },
];

/// A client of either family, as the bindings hold it. Cheap to clone.
#[derive(Clone)]
pub struct Client {
    api: Api,
    info: Value,
}

#[derive(Clone)]
enum Api {
    Pay(PayClient),
    MiniProgram(MiniProgramClient),
    Component(ComponentClient),
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Client({})", self.info)
    }
}

impl Client {
    /// Builds a client of `family` from its configuration object ([`PayConfig`] /
    /// [`MiniProgramConfig`] keys). Call inside the tokio runtime that will drive it.
    pub fn new(
        family: Family,
        config: Value,
        callbacks: &Callbacks,
        user_agent_suffix: &str,
    ) -> Result<Client> {
        match family {
            Family::Pay => {
                if callbacks.token_provider.is_some() || callbacks.card_token_provider.is_some() {
                    return Err(Error::Config {
                        detail: "PayConfig: token providers are for mini-program clients".into(),
                    });
                }
                let config = PayConfig::from_json(config)?;
                let info = json!({
                    "family": "pay",
                    "mchid": config.mchid,
                    "serial_no": config.serial_no,
                    "wechatpay_public_key_id": config.wechatpay_public_key_id,
                    "base_url": config.base_url,
                });
                Ok(Client {
                    api: Api::Pay(config.build(callbacks, user_agent_suffix)?),
                    info,
                })
            }
            Family::MiniProgram => {
                if callbacks.signer.is_some() {
                    return Err(Error::Config {
                        detail: "MiniProgramConfig: a signer is for WeChat Pay clients".into(),
                    });
                }
                let config = MiniProgramConfig::from_json(config)?;
                let store = store_scheme(config.token_store.as_ref());
                let info = json!({
                    "family": "mp",
                    "appid": config.appid,
                    "card_appid": config.card_appid,
                    "base_url": config.base_url,
                    "token_store": store,
                });
                Ok(Client {
                    api: Api::MiniProgram(config.build(callbacks, user_agent_suffix)?),
                    info,
                })
            }
            Family::Component => {
                if callbacks.signer.is_some()
                    || callbacks.token_provider.is_some()
                    || callbacks.card_token_provider.is_some()
                {
                    return Err(Error::Config {
                        detail: "ComponentConfig: a third-party platform client takes no \
                                 callbacks (its tokens come from its verify ticket and the \
                                 authorizers' refresh tokens)"
                            .into(),
                    });
                }
                let config = ComponentConfig::from_json(config)?;
                let store = store_scheme(config.token_store.as_ref());
                let info = json!({
                    "family": "component",
                    "component_appid": config.component_appid,
                    "base_url": config.base_url,
                    "token_store": store,
                });
                Ok(Client {
                    api: Api::Component(config.build(user_agent_suffix)?),
                    info,
                })
            }
        }
    }

    /// A mini-program client (family mp) acting for `authorizer_appid`, from a third-party
    /// platform client: its token is the authorizer's access token, and it shares the
    /// platform client's connection pool and store. Each binding exposes it as
    /// `authorizer(appid)`, returning its MiniProgramClient class.
    pub fn authorizer(&self, authorizer_appid: &str) -> Result<Client> {
        let Api::Component(c) = &self.api else {
            return Err(Error::Config {
                detail: "authorizer(appid) is a third-party platform (ComponentClient) method"
                    .into(),
            });
        };
        let mp = c.authorizer(authorizer_appid)?;
        let info = json!({
            "family": "mp",
            "appid": authorizer_appid,
            "component_appid": c.component_appid(),
            "base_url": self.info["base_url"],
            "token_store": self.info["token_store"],
        });
        Ok(Client {
            api: Api::MiniProgram(mp),
            info,
        })
    }

    pub fn family(&self) -> Family {
        match self.api {
            Api::Pay(_) => Family::Pay,
            Api::MiniProgram(_) => Family::MiniProgram,
            Api::Component(_) => Family::Component,
        }
    }

    /// What may be shown of the client (repr, properties): `family`, and `mchid`, `serial_no`,
    /// `wechatpay_public_key_id`, `base_url` (pay) or `appid`, `base_url`, `token_store` (the
    /// scheme only) (mp). Nothing secret.
    pub fn info(&self) -> &Value {
        &self.info
    }

    /// The WeChat Pay client, for Rust code next to a binding.
    pub fn as_pay(&self) -> Option<&PayClient> {
        match &self.api {
            Api::Pay(c) => Some(c),
            _ => None,
        }
    }

    /// The mini-program client, for Rust code next to a binding.
    pub fn as_mini_program(&self) -> Option<&MiniProgramClient> {
        match &self.api {
            Api::MiniProgram(c) => Some(c),
            _ => None,
        }
    }

    /// The third-party platform client, for Rust code next to a binding.
    pub fn as_component(&self) -> Option<&ComponentClient> {
        match &self.api {
            Api::Component(c) => Some(c),
            _ => None,
        }
    }

    /// Calls the spec operation, local operation or client-level action `name` with `args`
    /// under their wire names. Actions are looked up first ([`ACTIONS`]), then the family's
    /// operations.
    pub async fn call(&self, name: &str, args: JsonArgs) -> Result<Value> {
        let family = self.family();
        if let Some(action) = ACTIONS
            .iter()
            .find(|a| a.family == family && a.name == name)
        {
            return self.act(action, args).await;
        }
        match &self.api {
            Api::Pay(c) => c.call_by_name(name, args).await,
            Api::MiniProgram(c) => c.call_by_name(name, args).await,
            Api::Component(c) => c.call_by_name(name, args).await,
        }
    }

    async fn act(&self, action: &Action, mut args: JsonArgs) -> Result<Value> {
        let of_kind = |kind| -> Vec<&str> {
            action
                .arguments
                .iter()
                .filter(|a| a.kind == kind)
                .map(|a| a.name)
                .collect()
        };
        let (values, bytes) = (of_kind(ArgumentKind::Json), of_kind(ArgumentKind::Bytes));
        // A bytes argument may be given as text (a body exactly as received, decoded).
        for name in &bytes {
            if let Some(Value::String(text)) = args.values.remove(*name) {
                args.bytes.insert((*name).into(), text.into_bytes());
            }
        }
        args.expect_only(action.name, &values, &bytes)?;
        match (&self.api, action.name) {
            (Api::Pay(c), "request") => {
                let method: String = args.required("method")?;
                let path: String = args.required("path")?;
                let body: Option<Value> = args.optional("body")?;
                let idempotent: Option<bool> = args.optional("idempotent")?;
                c.request(&method, &path, body, idempotent).await
            }
            (Api::Pay(c), "parseNotification") => {
                let headers = header_map(args.required("headers")?)?;
                let body = args.required_bytes("body")?;
                c.parse_notification(&headers, &body)
                    .await
                    .map(|n| n.to_json())
            }
            (Api::Pay(c), "platformCertificateSerials") => {
                Ok(json!(c.platform_certificate_serials()))
            }
            (Api::Pay(c), "refreshCertificates") => {
                c.refresh_certificates().await.map(|serials| json!(serials))
            }
            (Api::MiniProgram(c), "accessToken") => c
                .access_token()
                .await
                .map(|t| Value::String(t.expose().to_owned())),
            (Api::MiniProgram(c), "refreshAccessToken") => c
                .force_refresh_access_token()
                .await
                .map(|t| Value::String(t.expose().to_owned())),
            (Api::Component(c), "parsePush") => {
                let query = push_query(args.required("query")?)?;
                let body = args.required_bytes("body")?;
                c.parse_push_query(&query, &body).await.map(|p| p.to_json())
            }
            (Api::Component(c), "componentAccessToken") => c
                .component_access_token()
                .await
                .map(|t| Value::String(t.expose().to_owned())),
            (Api::Component(c), "authorize") => {
                let code: String = args.required("authorization_code")?;
                let a = c.authorize(&code).await?;
                serde_json::to_value(a).map_err(|e| Error::Config {
                    detail: format!("authorize: the answer could not be encoded: {e}"),
                })
            }
            (Api::Component(c), "authorizerAccessToken") => {
                let appid: String = args.required("authorizer_appid")?;
                c.authorizer_access_token(&appid)
                    .await
                    .map(|t| Value::String(t.expose().to_owned()))
            }
            (Api::Component(c), "forgetAuthorizer") => {
                let appid: String = args.required("authorizer_appid")?;
                c.forget_authorizer(&appid).await.map(|()| Value::Null)
            }
            _ => unreachable!("ACTIONS and Client::act list the same actions"),
        }
    }
}

/// Every name a client of `family` answers to: its spec operations, its local operations
/// (cardExt) and its actions, each with its snake_case method name.
pub fn callable(family: Family) -> Vec<(&'static str, String)> {
    let (table, local) = match family {
        Family::Pay => (crate::pay::JSON_OPERATIONS, crate::pay::LOCAL_OPERATIONS),
        Family::MiniProgram => (crate::mp::JSON_OPERATIONS, crate::mp::LOCAL_OPERATIONS),
        Family::Component => (
            crate::component::JSON_OPERATIONS,
            crate::component::LOCAL_OPERATIONS,
        ),
    };
    table
        .iter()
        .map(|op| (op.spec.name, op.method.to_owned()))
        .chain(local.iter().map(|name| (*name, snake(name))))
        .chain(
            ACTIONS
                .iter()
                .filter(|a| a.family == family)
                .map(|a| (a.name, a.method.to_owned())),
        )
        .collect()
}

/// The store's scheme only, for `info`: a Redis URL may carry a password.
fn store_scheme(url: Option<&crate::SecretString>) -> &str {
    url.map_or("memory", |url| {
        url.expose().split("://").next().unwrap_or("")
    })
}

/// A push's query: the query string as received (`timestamp=…&nonce=…`, a leading `?`
/// allowed), or its parameters as a mapping of name to value.
fn push_query(query: Value) -> Result<PushQuery> {
    match query {
        Value::String(s) => PushQuery::parse(&s),
        Value::Object(map) => {
            let mut pairs = Vec::with_capacity(map.len());
            for (name, value) in map {
                match value {
                    Value::Null => {}
                    Value::String(s) => pairs.push((name, s)),
                    Value::Number(n) => pairs.push((name, n.to_string())),
                    _ => return Err(Error::validation("query", "values must be strings")),
                }
            }
            PushQuery::from_pairs(pairs)
        }
        _ => Err(Error::validation(
            "query",
            "must be the query string or a mapping of parameter name to value",
        )),
    }
}

fn snake(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 4);
    for (i, ch) in camel.chars().enumerate() {
        if ch.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(ch.to_ascii_lowercase());
        } else {
            out.push(ch);
        }
    }
    out
}

/// Headers as a JSON object (`name → value`, or `name → [values]`, null for absent); names
/// case-insensitive.
fn header_map(headers: Value) -> Result<HeaderMap> {
    let Value::Object(map) = headers else {
        return Err(Error::validation(
            "headers",
            "must be a mapping of header name to value",
        ));
    };
    let mut out = HeaderMap::with_capacity(map.len());
    for (name, value) in map {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| Error::validation("headers", "contains an invalid header name"))?;
        let values = match value {
            // A header given as null/undefined is absent (Node's IncomingHttpHeaders).
            Value::Null => continue,
            Value::String(s) => vec![s],
            Value::Array(items) => items
                .into_iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s),
                    _ => Err(Error::validation("headers", "values must be strings")),
                })
                .collect::<Result<_>>()?,
            _ => return Err(Error::validation("headers", "values must be strings")),
        };
        for v in values {
            let v = HeaderValue::from_str(&v)
                .map_err(|_| Error::validation("headers", "contains an invalid header value"))?;
            out.append(name.clone(), v);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_is_unique_per_family() {
        for a in ACTIONS {
            assert_eq!(
                ACTIONS
                    .iter()
                    .filter(|b| b.family == a.family && b.name == a.name)
                    .count(),
                1,
                "{}",
                a.name
            );
        }
    }

    #[test]
    fn snake_case_method_names() {
        assert_eq!(snake("cardExt"), "card_ext");
        assert_eq!(snake("setUserNotifyExt"), "set_user_notify_ext");
    }
}
