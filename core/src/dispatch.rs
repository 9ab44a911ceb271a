//! Operations called by name with wire-named JSON arguments: what every language binding stands
//! on, so a binding never holds per-operation code.
//!
//! The generated `JSON_OPERATIONS` table of each family maps an operation name to a function
//! that reads its arguments (path, query and top-level body fields side by side, as the bindings'
//! keyword arguments are) into the same typed, validated [`PreparedRequest`] the Rust methods
//! build, and a function that decodes the answer back to JSON. Names and rules in errors are the
//! wire names, so a Python `ValidationError` points at the keyword the caller wrote.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::operation::{Execute, OperationSpec, PreparedRequest, RawResponse};
use crate::validate::Validate;

/// Arguments of an operation called by name: JSON values under their wire names, plus raw
/// bytes (the media upload's `file`). A `null` value is treated as absent.
#[derive(Debug, Default, Clone)]
pub struct JsonArgs {
    pub values: Map<String, Value>,
    pub bytes: BTreeMap<String, Vec<u8>>,
}

impl JsonArgs {
    pub fn new(values: Map<String, Value>) -> Self {
        JsonArgs {
            values,
            bytes: BTreeMap::new(),
        }
    }

    /// Rejects arguments the operation does not have (a typo must not be dropped silently) and
    /// bytes where JSON is expected or the reverse.
    pub fn expect_only(&mut self, operation: &str, values: &[&str], bytes: &[&str]) -> Result<()> {
        self.values.retain(|_, v| !v.is_null());
        for name in self.values.keys() {
            if !values.contains(&name.as_str()) {
                return Err(unknown_argument(operation, name, values, bytes));
            }
        }
        for name in self.bytes.keys() {
            if !bytes.contains(&name.as_str()) {
                return Err(unknown_argument(operation, name, values, bytes));
            }
        }
        Ok(())
    }

    /// A required argument, typed.
    pub fn required<T: DeserializeOwned>(&mut self, name: &str) -> Result<T> {
        match self.values.remove(name) {
            Some(value) => from_value(name, value),
            None => Err(Error::validation(name, "is required")),
        }
    }

    /// An optional argument, typed.
    pub fn optional<T: DeserializeOwned>(&mut self, name: &str) -> Result<Option<T>> {
        self.values
            .remove(name)
            .map(|value| from_value(name, value))
            .transpose()
    }

    /// A required bytes argument.
    pub fn required_bytes(&mut self, name: &str) -> Result<Vec<u8>> {
        self.bytes
            .remove(name)
            .ok_or_else(|| Error::validation(name, "is required (bytes)"))
    }

    /// The remaining values as the operation's JSON body, validated by the spec's rules. Fields
    /// marked `x-weixin-json-encoded` may be given as the JSON object itself.
    pub fn body<T: DeserializeOwned + serde::Serialize + Validate>(
        &mut self,
        json_encoded: &[&str],
    ) -> Result<T> {
        let mut values = std::mem::take(&mut self.values);
        for field in json_encoded {
            if let Some(value) = values.remove(*field) {
                let encoded = crate::mp::ext_json::encode_field(field, value)?;
                values.insert((*field).to_owned(), Value::String(encoded));
            }
        }
        let given = Value::Object(values);
        let body: T = crate::operation::request_from_json(given.clone())?;
        // The generated types ignore fields they do not know; a misspelt nested field must not
        // vanish silently, so compare what was given with what the typed body holds.
        let kept = serde_json::to_value(&body)
            .map_err(|_| Error::validation("body", "cannot be serialized as JSON"))?;
        if let Some(field) = first_dropped(&given, &kept, "") {
            return Err(Error::validation(field, "is not a field of this request"));
        }
        Ok(body)
    }
}

/// The first field of `given` (an object, at any depth) that `kept` lacks; `null`s count as
/// absent.
fn first_dropped(given: &Value, kept: &Value, at: &str) -> Option<String> {
    match (given, kept) {
        (Value::Object(g), Value::Object(k)) => g.iter().find_map(|(name, value)| {
            let here = crate::validate::path(at, name);
            match k.get(name) {
                _ if value.is_null() => None,
                None => Some(here),
                Some(kept) => first_dropped(value, kept, &here),
            }
        }),
        (Value::Array(g), Value::Array(k)) => g
            .iter()
            .zip(k)
            .enumerate()
            .find_map(|(i, (g, k))| first_dropped(g, k, &format!("{at}[{i}]"))),
        _ => None,
    }
}

fn unknown_argument(operation: &str, name: &str, values: &[&str], bytes: &[&str]) -> Error {
    let mut known: Vec<&str> = values.iter().chain(bytes).copied().collect();
    known.sort_unstable();
    let rule = if values.contains(&name) {
        "must be a JSON value, not bytes".to_owned()
    } else if bytes.contains(&name) {
        "must be bytes".to_owned()
    } else if known.is_empty() {
        format!("is not an argument of {operation} (it takes none)")
    } else {
        format!(
            "is not an argument of {operation} (arguments: {})",
            known.join(", ")
        )
    };
    Error::validation(name, rule)
}

fn from_value<T: DeserializeOwned>(name: &str, value: Value) -> Result<T> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let at = e.path().to_string();
        let field = if at == "." {
            name.to_owned()
        } else {
            crate::validate::path(name, &at)
        };
        Error::validation(field, crate::error::data_rule(&e.into_inner().to_string()))
    })
}

/// One operation as the bindings call it.
#[derive(Debug)]
pub struct JsonOperation {
    pub spec: &'static OperationSpec,
    /// The method name bindings show (`modify_stock_info`).
    pub method: &'static str,
    /// Reads the arguments into the validated request.
    pub prepare: fn(JsonArgs) -> Result<PreparedRequest>,
    /// Decodes the answer: the documented JSON, or `Value::Null` for an empty success (204).
    pub decode: fn(&RawResponse) -> Result<Value>,
}

/// Finds `name` in a family's table.
pub fn find(table: &'static [JsonOperation], name: &str) -> Option<&'static JsonOperation> {
    table.iter().find(|op| op.spec.name == name)
}

/// The error for a name no table knows.
pub fn unknown_operation(
    family: &str,
    name: &str,
    known: impl Iterator<Item = &'static str>,
) -> Error {
    let mut known: Vec<&str> = known.collect();
    known.sort_unstable();
    Error::validation(
        "operation",
        format!(
            "`{name}` is not a {family} operation (known: {})",
            known.join(", ")
        ),
    )
}

/// A client whose operations can be called by name (`PayClient`, `MiniProgramClient`): what a
/// binding's generic `call(name, args)` is written against, once for every client.
pub trait CallByName: Clone + Send + Sync + 'static {
    fn call_by_name(
        &self,
        operation: &str,
        args: JsonArgs,
    ) -> impl std::future::Future<Output = Result<Value>> + Send;
}

/// Prepare, send through `client`, decode: the whole call of one operation from JSON.
pub async fn call<E: Execute>(client: &E, op: &JsonOperation, args: JsonArgs) -> Result<Value> {
    let request = (op.prepare)(args)?;
    let response = client.execute(request).await?;
    (op.decode)(&response)
}

/// Checks the answer against the spec's response type exactly as the Rust method does (documented
/// errors, shape, types), then returns it as received: fields the server added after the spec
/// was written stay visible.
pub fn decode_checked<T: DeserializeOwned>(
    op: &'static OperationSpec,
    response: &RawResponse,
) -> Result<Value> {
    let _typed: T = crate::operation::decode_json(op, response)?;
    // Status, errcode and shape are checked above: only the untyped view is left to read.
    serde_json::from_slice(&response.body).map_err(|e| Error::UnexpectedResponse {
        status: response.status,
        detail: format!("{} answered a body that is not JSON: {e}", op.name),
    })
}

/// [`crate::operation::decode_empty`], as JSON `null`.
pub fn decode_nothing(op: &'static OperationSpec, response: &RawResponse) -> Result<Value> {
    crate::operation::decode_empty(op, response).map(|()| Value::Null)
}
