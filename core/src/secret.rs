//! Credentials that must never reach Debug output, logs or error text.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// A string credential (app secret, access_token, api_ticket). `Debug` and `Display` print a
/// placeholder; the memory is wiped on drop. Serializes as the plain string: it is sent on the wire.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(Zeroizing<String>);

impl SecretString {
    pub fn new(value: impl Into<String>) -> Self {
        SecretString(Zeroizing::new(value.into()))
    }

    /// The secret itself, for putting on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// The inner `Zeroizing<String>` wipes it.
impl ZeroizeOnDrop for SecretString {}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString(<redacted>)")
    }
}

impl From<String> for SecretString {
    fn from(value: String) -> Self {
        SecretString::new(value)
    }
}

impl From<&str> for SecretString {
    fn from(value: &str) -> Self {
        SecretString::new(value)
    }
}

impl Serialize for SecretString {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.expose())
    }
}

impl<'de> Deserialize<'de> for SecretString {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(SecretString::new)
    }
}

/// A JSON document that holds credentials — a binding's client configuration as the host
/// language handed it over (`private_key`, `apiv3_key`, `secret` …), kept to build the client
/// again (after a fork): every string in it is wiped on drop. `Debug` shows nothing of it.
#[derive(Clone, Default)]
pub struct SecretJson(serde_json::Value);

impl SecretJson {
    pub fn new(value: serde_json::Value) -> Self {
        SecretJson(value)
    }

    /// The document itself (clone it to hand it over by value).
    pub fn expose(&self) -> &serde_json::Value {
        &self.0
    }
}

impl Zeroize for SecretJson {
    /// Wipes every string value in place, at any depth (object keys are names, not secrets):
    /// each becomes `""`. Iterative: a deeply nested document cannot overflow the stack here.
    fn zeroize(&mut self) {
        let mut pending = vec![&mut self.0];
        while let Some(value) = pending.pop() {
            match value {
                serde_json::Value::String(s) => s.zeroize(),
                serde_json::Value::Array(items) => pending.extend(items.iter_mut()),
                serde_json::Value::Object(map) => pending.extend(map.values_mut()),
                _ => {}
            }
        }
    }
}

impl Drop for SecretJson {
    fn drop(&mut self) {
        self.zeroize();
    }
}

impl ZeroizeOnDrop for SecretJson {}

impl fmt::Debug for SecretJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretJson(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wiped_on_drop<T: ZeroizeOnDrop>() {}

    #[test]
    fn secrets_are_wiped_on_drop() {
        wiped_on_drop::<SecretString>();
        wiped_on_drop::<SecretJson>();
    }

    #[test]
    fn secret_json_wipes_every_string() {
        let mut doc = SecretJson::new(serde_json::json!({
            "secret": "app-secret-123",
            "platform_certificates": ["pem-1", {"nested": ["pem-2"]}],
            "timeout": 3
        }));
        assert!(!format!("{doc:?}").contains("app-secret-123"));
        doc.zeroize();
        // Every string emptied in place (String::zeroize overwrote its buffer first), the rest
        // of the document untouched.
        assert_eq!(
            doc.expose(),
            &serde_json::json!({
                "secret": "",
                "platform_certificates": ["", {"nested": [""]}],
                "timeout": 3
            })
        );
    }
}
