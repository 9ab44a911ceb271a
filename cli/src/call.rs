//! `call` and `certificates`: a bridge client (`weixin_kit::bridge::Client`) built from the
//! merged configuration, and one `Client::call` by official operation name — signed, verified
//! and validated by the core exactly as in every binding.

use std::path::PathBuf;

use clap::Args;
use serde_json::{json, Map, Value};
use weixin_kit::bridge::{callable, Callbacks, Client, ErrorDescription, Family};
use weixin_kit::dispatch::JsonArgs;
use weixin_kit::Error;

use crate::config::Sources;
use crate::Outcome;

/// What the client says it is (`User-Agent` suffix).
const USER_AGENT: &str = concat!("cli/", env!("CARGO_PKG_VERSION"));

/// `weixin-kit call`
#[derive(Args, Debug)]
pub struct CallArgs {
    /// The operation's official name (ModifyStockInfo, QueryStock, setUserNotifyExt, cardExt,
    /// request, …; `weixin-kit operations` lists them).
    pub operation: String,
    /// Arguments by wire name: `key=value` (a string, unless the value is a JSON object, array,
    /// true, false or null), `key:=json` (any JSON: numbers, e.g. `max_amount:=100`),
    /// `key==text` (always a string).
    #[arg(value_name = "KEY=VALUE")]
    pub args: Vec<String>,
    /// The API family when a name exists in both: `pay` or `mp`.
    #[arg(long)]
    pub family: Option<String>,
}

/// Answer fields that hold a secret: the ones the spec marks `x-weixin-secret` (generated).
fn is_secret(field: &str) -> bool {
    weixin_kit::mp::SECRET_FIELDS.contains(&field)
        || weixin_kit::pay::SECRET_FIELDS.contains(&field)
        || weixin_kit::component::SECRET_FIELDS.contains(&field)
}

/// `value` with every secret field (at any depth, see [`is_secret`]) replaced by its length.
fn redact(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let v = match (&v, is_secret(&k)) {
                        (Value::String(s), true) => {
                            Value::String(format!("<redacted: {} bytes>", s.len()))
                        }
                        _ => redact(v),
                    };
                    (k, v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(redact).collect()),
        v => v,
    }
}

/// `key=value`, `key:=json`, `key==text` → the arguments object.
pub fn parse_arguments(items: &[String]) -> Result<Map<String, Value>, ErrorDescription> {
    let mut out = Map::new();
    for item in items {
        let bad = |rule: &str| -> ErrorDescription {
            Error::validation(item.split(['=', ':']).next().unwrap_or(item), rule).into()
        };
        let Some(eq) = item.find('=') else {
            return Err(bad("must be KEY=VALUE, KEY:=JSON or KEY==TEXT"));
        };
        let (key, value) = if item[..eq].ends_with(':') {
            let json = &item[eq + 1..];
            let value = serde_json::from_str(json)
                .map_err(|e| bad(&format!("the value after := is not JSON: {e}")))?;
            (&item[..eq - 1], value)
        } else if let Some(text) = item[eq + 1..].strip_prefix('=') {
            (&item[..eq], Value::String(text.to_owned()))
        } else {
            let text = &item[eq + 1..];
            // WeChat's ids (stock_id, mchid, out_request_no) are strings of digits: a bare
            // number stays a string; numbers need `:=`.
            let value = match serde_json::from_str(text) {
                Ok(v @ (Value::Object(_) | Value::Array(_) | Value::Bool(_) | Value::Null)) => v,
                _ => Value::String(text.to_owned()),
            };
            (&item[..eq], value)
        };
        if key.is_empty() {
            return Err(bad("the key before = is empty"));
        }
        if out.insert(key.to_owned(), value).is_some() {
            return Err(Error::validation(key, "is given twice").into());
        }
    }
    Ok(out)
}

fn family_of(name: &str, given: Option<&str>) -> Result<Family, ErrorDescription> {
    if let Some(family) = given {
        return Ok(Family::parse(family)?);
    }
    let has = |family| callable(family).iter().any(|(n, _)| *n == name);
    match (has(Family::Pay), has(Family::MiniProgram)) {
        (true, false) => Ok(Family::Pay),
        (false, true) => Ok(Family::MiniProgram),
        (true, true) => Err(Error::validation(
            "operation",
            format!("`{name}` exists in both families: give --family pay or --family mp"),
        )
        .into()),
        (false, false) => Err(Error::validation(
            "operation",
            format!("`{name}` is not an operation (`weixin-kit operations` lists them)"),
        )
        .into()),
    }
}

fn client(sources: &Sources, family: Family) -> Result<Client, ErrorDescription> {
    Ok(Client::new(
        family,
        sources.client_config(family),
        &Callbacks::default(),
        USER_AGENT,
    )?)
}

/// `weixin-kit call`: the operation's JSON answer (`null` for none).
pub fn call(sources: &Sources, args: CallArgs) -> Outcome {
    let family = family_of(&args.operation, args.family.as_deref())?;
    let arguments = parse_arguments(&args.args)?;
    let runtime = crate::runtime()?;
    runtime.block_on(async {
        let client = client(sources, family)?;
        let answer = client
            .call(&args.operation, JsonArgs::new(arguments))
            .await?;
        // The accessToken/refreshAccessToken actions answer the bare token.
        let answer = match (answer, args.operation.as_str()) {
            (Value::String(token), "accessToken" | "refreshAccessToken") => {
                json!({ "access_token": token })
            }
            (answer, _) => answer,
        };
        // `null` (204) is printed as {}: the call succeeded with nothing to show.
        Ok(if answer.is_null() {
            json!({})
        } else {
            redact(answer)
        })
    })
}

/// `weixin-kit certificates`
#[derive(Args, Debug)]
pub struct CertificatesArgs {
    /// Also write each certificate to DIR/<serial_no>.pem.
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
}

/// `weixin-kit certificates`: `[{serial_no, effective_time, expire_time, certificate_pem}]`,
/// downloaded and verified by the client (`refreshCertificates`), then listed again through the
/// verified `request` action and decrypted with the APIv3 key.
pub fn certificates(sources: &Sources, args: CertificatesArgs) -> Outcome {
    let apiv3_key = sources.require_str("apiv3_key", "--apiv3-key-file")?;
    let runtime = crate::runtime()?;
    let listing = runtime.block_on(async {
        let client = client(sources, Family::Pay)?;
        client
            .call("refreshCertificates", JsonArgs::new(Map::new()))
            .await?;
        let mut request = Map::new();
        request.insert("method".into(), json!("GET"));
        request.insert("path".into(), json!("/v3/certificates"));
        client
            .call("request", JsonArgs::new(request))
            .await
            .map_err(ErrorDescription::from)
    })?;
    let unexpected = |what: &str| -> ErrorDescription {
        Error::UnexpectedResponse {
            status: 200,
            detail: format!("/v3/certificates: {what}"),
        }
        .into()
    };
    let items = listing
        .get("data")
        .and_then(Value::as_array)
        .ok_or_else(|| unexpected("no `data` list"))?;
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let text = |v: &Value, name: &str| -> Result<String, ErrorDescription> {
            v.get(name)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| unexpected(&format!("an item has no `{name}`")))
        };
        let encrypted = item
            .get("encrypt_certificate")
            .ok_or_else(|| unexpected("an item has no `encrypt_certificate`"))?;
        let pem = weixin_kit::bridge::crypto::decrypt_resource(
            &apiv3_key,
            &text(encrypted, "nonce")?,
            &text(encrypted, "associated_data").unwrap_or_default(),
            &text(encrypted, "ciphertext")?,
        )?;
        let serial_no = text(item, "serial_no")?;
        if let Some(dir) = &args.out_dir {
            let path = dir.join(format!("{serial_no}.pem"));
            std::fs::write(&path, &pem).map_err(|e| {
                ErrorDescription::from(Error::validation(
                    "--out-dir",
                    format!("cannot write {}: {e}", path.display()),
                ))
            })?;
        }
        out.push(json!({
            "serial_no": serial_no,
            "effective_time": item.get("effective_time"),
            "expire_time": item.get("expire_time"),
            "certificate_pem": pem,
        }));
    }
    Ok(Value::Array(out))
}

/// `weixin-kit operations`: `{pay: [...], mp: [...]}` names `call` accepts.
pub fn operations() -> Value {
    let names = |family| -> Vec<&'static str> {
        let mut v: Vec<_> = callable(family).into_iter().map(|(n, _)| n).collect();
        v.sort_unstable();
        v
    };
    json!({ "pay": names(Family::Pay), "mp": names(Family::MiniProgram) })
}
