//! `ext_json` of setUserNotifyExt: a JSON object serialized to a string, whose values are often
//! themselves JSON serialized to strings (the document's example: `pay_info` and `store_info` are
//! JSON strings inside the JSON).
//!
//! [`ExtJson`] takes either the finished string ([`ExtJson::from_raw`], checked to be a JSON
//! object) or a structured value ([`ExtJson::from_value`], [`ExtJson::from_serialize`]) whose
//! top-level object and array values it encodes into strings for you. Rust strings are UTF-8 and
//! serde_json rejects lone surrogate escapes, so errcode 85471 ("ext_json has illegal utf8
//! char") cannot be produced from here.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::{Error, Result};

/// A checked `ext_json` string, ready for `SetUserNotifyExtRequest::ext_json`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtJson(String);

impl ExtJson {
    /// The finished string, sent as is: it must be a JSON object.
    pub fn from_raw(raw: impl Into<String>) -> Result<Self> {
        checked_raw("ext_json", raw.into()).map(ExtJson)
    }

    /// A JSON object whose object and array values are each JSON-encoded into a string (the
    /// nesting the documents show); strings, numbers, booleans and null stay as they are. Key
    /// order is kept.
    pub fn from_value(value: Value) -> Result<Self> {
        nested("ext_json", value).map(ExtJson)
    }

    /// A typed value (a struct with `pay_info`, `store_info` … fields) serialized, then nested as
    /// [`ExtJson::from_value`] does. Key order follows the struct's field order.
    pub fn from_serialize<T: Serialize + ?Sized>(value: &T) -> Result<Self> {
        let value = serde_json::to_value(value).map_err(|e| {
            Error::validation("ext_json", format!("cannot be serialized to JSON: {e}"))
        })?;
        Self::from_value(value)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }

    /// The reverse of [`ExtJson::from_value`]: the object with every string value that holds a
    /// JSON object or array decoded back into it.
    pub fn decode(&self) -> Result<Value> {
        decode_nested(&self.0)
    }
}

/// Decodes an `ext_json` string and, one level down, the string values that hold a JSON object
/// or array: what a server receiving `ext_json` sees.
pub fn decode_nested(ext_json: &str) -> Result<Value> {
    let outer: Value = serde_json::from_str(ext_json)
        .map_err(|e| Error::validation("ext_json", format!("is not JSON: {e}")))?;
    let Value::Object(map) = outer else {
        return Err(Error::validation("ext_json", "must be a JSON object"));
    };
    let decoded = map
        .into_iter()
        .map(|(key, value)| {
            let value = match value {
                Value::String(s) => match serde_json::from_str::<Value>(&s) {
                    Ok(nested @ (Value::Object(_) | Value::Array(_))) => nested,
                    _ => Value::String(s),
                },
                other => other,
            };
            (key, value)
        })
        .collect();
    Ok(Value::Object(decoded))
}

impl TryFrom<&str> for ExtJson {
    type Error = Error;
    fn try_from(raw: &str) -> Result<Self> {
        ExtJson::from_raw(raw)
    }
}

impl TryFrom<String> for ExtJson {
    type Error = Error;
    fn try_from(raw: String) -> Result<Self> {
        ExtJson::from_raw(raw)
    }
}

impl TryFrom<Value> for ExtJson {
    type Error = Error;
    fn try_from(value: Value) -> Result<Self> {
        ExtJson::from_value(value)
    }
}

impl From<ExtJson> for String {
    fn from(ext: ExtJson) -> String {
        ext.0
    }
}

impl AsRef<str> for ExtJson {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ExtJson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Any `x-weixin-json-encoded` field (`ext_json`, `content_json`, `check_json`) given as JSON:
/// a string must already hold a JSON object and is kept as is; an object is encoded the way
/// [`ExtJson::from_value`] does.
pub(crate) fn encode_field(field: &str, value: Value) -> Result<String> {
    match value {
        Value::String(raw) => checked_raw(field, raw),
        other => nested(field, other),
    }
}

fn checked_raw(field: &str, raw: String) -> Result<String> {
    match serde_json::from_str::<Value>(&raw) {
        Ok(Value::Object(_)) => Ok(raw),
        Ok(other) => Err(Error::validation(
            field,
            format!("must be a JSON object, got a JSON {}", kind(&other)),
        )),
        Err(e) => Err(Error::validation(
            field,
            format!("must be a JSON object ({e})"),
        )),
    }
}

fn nested(field: &str, value: Value) -> Result<String> {
    let Value::Object(map) = value else {
        return Err(Error::validation(
            field,
            format!("must be a JSON object, got a JSON {}", kind(&value)),
        ));
    };
    let mut out = Map::with_capacity(map.len());
    for (key, value) in map {
        let value = match value {
            nested @ (Value::Object(_) | Value::Array(_)) => {
                Value::String(to_json(field, &nested)?)
            }
            other => other,
        };
        out.insert(key, value);
    }
    to_json(field, &Value::Object(out))
}

fn to_json(field: &str, value: &Value) -> Result<String> {
    serde_json::to_string(value)
        .map_err(|e| Error::validation(field, format!("cannot be serialized to JSON: {e}")))
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// What [`MiniProgramClient::set_user_notify_ext`](crate::mp::MiniProgramClient::set_user_notify_ext)
/// takes as `ext_json`.
pub trait IntoExtJson {
    fn into_ext_json(self) -> Result<ExtJson>;
}

impl IntoExtJson for ExtJson {
    fn into_ext_json(self) -> Result<ExtJson> {
        Ok(self)
    }
}

impl IntoExtJson for &ExtJson {
    fn into_ext_json(self) -> Result<ExtJson> {
        Ok(self.clone())
    }
}

/// A raw string, sent as is once checked to be a JSON object.
impl IntoExtJson for &str {
    fn into_ext_json(self) -> Result<ExtJson> {
        ExtJson::from_raw(self)
    }
}

impl IntoExtJson for String {
    fn into_ext_json(self) -> Result<ExtJson> {
        ExtJson::from_raw(self)
    }
}

impl IntoExtJson for &String {
    fn into_ext_json(self) -> Result<ExtJson> {
        ExtJson::from_raw(self.as_str())
    }
}

/// A structured value: object and array values are JSON-encoded into strings.
impl IntoExtJson for serde_json::Value {
    fn into_ext_json(self) -> Result<ExtJson> {
        ExtJson::from_value(self)
    }
}
