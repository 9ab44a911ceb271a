//! The offline commands — `sign`, `verify`, `decrypt`, `card-ext` — as conversions of their
//! arguments to the bridge's crypto functions (`weixin_kit::bridge::crypto`); the signing string
//! is the core's (`weixin_kit::pay::signing::signing_string`). Nothing is sent anywhere.

use std::path::PathBuf;

use clap::Args;
use serde_json::{json, Map, Value};
use weixin_kit::bridge::{crypto as bridge, ErrorDescription};
use weixin_kit::crypto::Certificate;
use weixin_kit::pay::signing;
use weixin_kit::Error;

use crate::config::Sources;
use crate::{read_input, Outcome};

/// `weixin-kit sign`
#[derive(Args, Debug)]
pub struct SignArgs {
    /// HTTP method (GET, POST, …).
    #[arg(long)]
    pub method: String,
    /// Path and query exactly as sent (`/v3/marketing/favor/stocks?offset=0`).
    #[arg(long)]
    pub url: String,
    /// File holding the exact body bytes sent (default: no body).
    #[arg(long, value_name = "FILE", conflicts_with = "body")]
    pub body_file: Option<PathBuf>,
    /// The body as text (default: no body).
    #[arg(long)]
    pub body: Option<String>,
    /// Unix seconds (default: now).
    #[arg(long)]
    pub timestamp: Option<i64>,
    /// The nonce (default: 32 random letters and digits).
    #[arg(long)]
    pub nonce: Option<String>,
}

/// `weixin-kit sign`: `{signing_string, authorization}` (credentials: mchid, serial_no,
/// private_key).
pub fn sign(sources: &Sources, args: SignArgs) -> Outcome {
    let mchid = sources.require_str("mchid", "--mchid")?;
    let serial_no = sources.require_str("serial_no", "--serial-no")?;
    let key = sources.require_str("private_key", "--private-key-file")?;
    let body = match (&args.body_file, args.body) {
        (Some(path), _) => read_input("--body-file", path)?,
        (None, Some(text)) => text.into_bytes(),
        (None, None) => Vec::new(),
    };
    let timestamp = args.timestamp.unwrap_or_else(weixin_kit::time::unix_now);
    let nonce = args.nonce.unwrap_or_else(weixin_kit::crypto::nonce);
    let authorization = bridge::build_authorization(
        &mchid,
        &serial_no,
        &key,
        &args.method,
        &args.url,
        &body,
        timestamp,
        &nonce,
    )?;
    let signing_string =
        weixin_kit::pay::signing::signing_string(&args.method, &args.url, timestamp, &nonce, &body);
    Ok(json!({
        "signing_string": String::from_utf8_lossy(&signing_string),
        "authorization": authorization,
    }))
}

/// `weixin-kit verify`
#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// The response's or notification's headers: a JSON object (name → value) or
    /// `Name: value` lines (what `curl -D` writes).
    #[arg(long, value_name = "FILE")]
    pub headers: PathBuf,
    /// The body exactly as received.
    #[arg(long, value_name = "FILE")]
    pub body_file: PathBuf,
    /// The body is a notification: also decrypt its `resource` with the APIv3 key.
    #[arg(long)]
    pub notification: bool,
    /// Do not apply the 5-minute rule to Wechatpay-Timestamp (for a response or notification
    /// saved earlier); `skew_seconds` still shows the difference.
    #[arg(long)]
    pub ignore_clock: bool,
}

/// Headers from a file: a JSON object or `Name: value` lines; names lower-cased.
fn read_headers(path: &std::path::Path) -> Result<Map<String, Value>, ErrorDescription> {
    let bytes = read_input("--headers", path)?;
    let text = String::from_utf8_lossy(&bytes);
    let mut out = Map::new();
    if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(&text) {
        for (name, value) in map {
            out.insert(name.to_ascii_lowercase(), value);
        }
        return Ok(out);
    }
    for line in text.lines() {
        // The status line (`HTTP/1.1 200 OK`) and blank lines have no header.
        if let Some((name, value)) = line.split_once(':') {
            if !name.contains(' ') {
                out.insert(
                    name.trim().to_ascii_lowercase(),
                    Value::String(value.trim().to_owned()),
                );
            }
        }
    }
    Ok(out)
}

fn header(headers: &Map<String, Value>, name: &str) -> Result<String, ErrorDescription> {
    match headers.get(&name.to_ascii_lowercase()) {
        Some(Value::String(s)) => Ok(s.clone()),
        _ => Err(Error::Signature {
            detail: format!("the {name} header is missing"),
        }
        .into()),
    }
}

/// The verification key for `serial`: the WeChat Pay public key when `serial` is its id, else
/// the configured platform certificate with that serial.
fn key_for(sources: &Sources, serial: &str) -> Result<(String, &'static str), ErrorDescription> {
    if sources
        .get("wechatpay_public_key_id")
        .and_then(Value::as_str)
        == Some(serial)
    {
        let pem = sources.require_str("wechatpay_public_key", "--wechatpay-public-key-file")?;
        return Ok((pem, "wechatpay_public_key"));
    }
    if let Some(Value::Array(pems)) = sources.get("platform_certificates") {
        for pem in pems.iter().filter_map(Value::as_str) {
            if Certificate::from_pem(pem)?.serial_no == serial {
                return Ok((pem.to_owned(), "platform_certificate"));
            }
        }
    }
    Err(Error::Signature {
        detail: format!(
            "Wechatpay-Serial {serial} is neither the configured wechatpay_public_key_id nor \
             the serial of a configured platform certificate"
        ),
    }
    .into())
}

/// `weixin-kit verify`: `{valid, serial, key, timestamp, skew_seconds}` (and the decrypted
/// `resource` of a notification); a signature that does not verify, or a timestamp more than 5
/// minutes off (unless `--ignore-clock`), is a `SignatureError`.
pub fn verify(sources: &Sources, args: VerifyArgs) -> Outcome {
    let headers = read_headers(&args.headers)?;
    let body = read_input("--body-file", &args.body_file)?;
    let serial = header(&headers, signing::HEADER_SERIAL)?;
    let timestamp = header(&headers, signing::HEADER_TIMESTAMP)?;
    let nonce = header(&headers, signing::HEADER_NONCE)?;
    let signature = header(&headers, signing::HEADER_SIGNATURE)?;
    let (pem, key) = key_for(sources, &serial)?;
    if !bridge::verify_signature(&pem, &timestamp, &nonce, &body, &signature)? {
        return Err(Error::Signature {
            detail: format!(
                "Wechatpay-Signature does not verify with the {key} of serial {serial} over \
                 TIMESTAMP\\nNONCE\\nBODY\\n ({} body bytes): the body, timestamp or nonce \
                 differs from what WeChat Pay signed, or the key is not the one for that serial",
                body.len()
            ),
        }
        .into());
    }
    let skew = timestamp
        .parse::<i64>()
        .ok()
        .and_then(|t| weixin_kit::time::unix_now().checked_sub(t));
    if !args.ignore_clock {
        match skew {
            // The clients' rule (the core's constant): more than 5 minutes off is refused.
            Some(s) if s.abs() <= signing::MAX_CLOCK_SKEW_SECS => {}
            _ => {
                return Err(Error::Signature {
                    detail: format!(
                        "Wechatpay-Timestamp {timestamp} is {} seconds from now: more than 5 \
                         minutes (give --ignore-clock for a response saved earlier)",
                        skew.map_or_else(|| "not a number of".into(), |s| s.to_string())
                    ),
                }
                .into())
            }
        }
    }
    let mut out = json!({
        "valid": true,
        "serial": serial,
        "key": key,
        "timestamp": timestamp,
        "skew_seconds": skew,
    });
    if args.notification {
        let notification: Value = serde_json::from_slice(&body).map_err(|_| {
            ErrorDescription::from(Error::validation(
                "--body-file",
                "a notification body must be a JSON object",
            ))
        })?;
        out["resource"] = decrypt_object(sources, &notification)?;
    }
    Ok(out)
}

/// `weixin-kit decrypt`
#[derive(Args, Debug)]
pub struct DecryptArgs {
    /// A JSON file: the `resource` object ({algorithm, ciphertext, nonce, associated_data}) or a
    /// whole notification body holding one.
    #[arg(long, value_name = "FILE", required_unless_present = "ciphertext")]
    pub resource: Option<PathBuf>,
    /// The resource's `ciphertext` (base64), with --nonce and --associated-data.
    #[arg(long, requires = "nonce", conflicts_with = "resource")]
    pub ciphertext: Option<String>,
    /// The resource's `nonce`.
    #[arg(long)]
    pub nonce: Option<String>,
    /// The resource's `associated_data` (default: empty).
    #[arg(long, default_value = "")]
    pub associated_data: String,
}

fn decrypt_object(sources: &Sources, object: &Value) -> Outcome {
    let resource = object.get("resource").unwrap_or(object);
    let field = |name: &str| -> Result<String, ErrorDescription> {
        match resource.get(name) {
            Some(Value::String(s)) => Ok(s.clone()),
            None | Some(Value::Null) if name == "associated_data" => Ok(String::new()),
            _ => Err(Error::validation(
                format!("resource.{name}"),
                "is required and must be a string",
            )
            .into()),
        }
    };
    if let Some(algorithm) = resource.get("algorithm").and_then(Value::as_str) {
        if algorithm != "AEAD_AES_256_GCM" {
            return Err(Error::validation(
                "resource.algorithm",
                format!("{algorithm} is not supported (AEAD_AES_256_GCM)"),
            )
            .into());
        }
    }
    let (nonce, ad, ciphertext) = (
        field("nonce")?,
        field("associated_data")?,
        field("ciphertext")?,
    );
    decrypt_parts(sources, &nonce, &ad, &ciphertext)
}

fn decrypt_parts(sources: &Sources, nonce: &str, ad: &str, ciphertext: &str) -> Outcome {
    let key = sources.require_str("apiv3_key", "--apiv3-key-file")?;
    let plaintext = bridge::decrypt_resource(&key, nonce, ad, ciphertext)?;
    // JSON plaintext (a notification's resource) as JSON, anything else (a PEM) as text.
    Ok(serde_json::from_str(&plaintext).unwrap_or(Value::String(plaintext)))
}

/// `weixin-kit decrypt`: the plaintext (JSON when it is JSON, else a string).
pub fn decrypt(sources: &Sources, args: DecryptArgs) -> Outcome {
    match (&args.resource, &args.ciphertext, &args.nonce) {
        (Some(path), _, _) => {
            let bytes = read_input("--resource", path)?;
            let object: Value = serde_json::from_slice(&bytes).map_err(|_| {
                ErrorDescription::from(Error::validation("--resource", "must be a JSON object"))
            })?;
            decrypt_object(sources, &object)
        }
        (None, Some(ciphertext), Some(nonce)) => {
            decrypt_parts(sources, nonce, &args.associated_data, ciphertext)
        }
        _ => Err(Error::validation("--ciphertext", "needs --nonce").into()),
    }
}

/// `weixin-kit card-ext`
#[derive(Args, Debug)]
pub struct CardExtArgs {
    /// The card (card_id).
    #[arg(long)]
    pub card_id: String,
    /// File with the wx_card api_ticket (or env WEIXIN_KIT_API_TICKET / _FILE, or
    /// `api_ticket_file` in the config file).
    #[arg(long, value_name = "FILE")]
    pub api_ticket_file: Option<PathBuf>,
    /// The code, for cards with custom codes.
    #[arg(long)]
    pub code: Option<String>,
    /// The openid the card is for.
    #[arg(long)]
    pub openid: Option<String>,
    /// Unix seconds (default: now).
    #[arg(long)]
    pub timestamp: Option<i64>,
    /// 1 to 32 letters and digits (default: 32 random ones).
    #[arg(long)]
    pub nonce_str: Option<String>,
}

/// `weixin-kit card-ext`: the cardExt object `{code, openid, timestamp, nonce_str, signature}`.
pub fn card_ext(sources: &Sources, args: CardExtArgs) -> Outcome {
    let ticket = match &args.api_ticket_file {
        Some(path) => String::from_utf8_lossy(&read_input("--api-ticket-file", path)?)
            .trim()
            .to_owned(),
        None => sources.require_str("api_ticket", "--api-ticket-file")?,
    };
    // The core's builder: its checks (ticket, card_id, code, openid, timestamp, nonce_str, the
    // cardExt table) and its signature.
    let mut builder = weixin_kit::mp::card::CardExtBuilder::new(args.card_id);
    if let Some(timestamp) = args.timestamp {
        builder = builder.timestamp(timestamp);
    }
    if let Some(nonce_str) = args.nonce_str {
        builder = builder.nonce_str(nonce_str);
    }
    if let Some(code) = args.code {
        builder = builder.code(code);
    }
    if let Some(openid) = args.openid {
        builder = builder.openid(openid);
    }
    let ext = builder.build_card_ext(&ticket)?;
    serde_json::to_value(&ext).map_err(|e| {
        weixin_kit::Error::Config {
            detail: format!("cardExt could not be written as JSON: {e}"),
        }
        .into()
    })
}
