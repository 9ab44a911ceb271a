//! Every failure as one flat FFI error, `NativeError.Failure(description)`: the bridge's
//! [`ErrorDescription`] (kind, text, the kind's fields) as JSON. The Kotlin runtime catches it
//! and throws the class the kind names (`errorFromDescription`, generated), so callers never
//! see this internal form. No field is named `message`: uniffi's Kotlin exceptions have one.

use weixin_kit::bridge::ErrorDescription;
use weixin_kit::Error;

#[derive(Debug, uniffi::Error)]
pub enum NativeError {
    /// `description`: the JSON of an `ErrorDescription`.
    Failure { description: String },
}

impl std::fmt::Display for NativeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NativeError::Failure { description } => f.write_str(description),
        }
    }
}

impl std::error::Error for NativeError {}

impl NativeError {
    pub fn describe(description: &ErrorDescription) -> Self {
        let description = serde_json::to_string(description).unwrap_or_else(|_| {
            serde_json::json!({ "kind": "WeixinKitError", "text": description.text, "retryable": false })
                .to_string()
        });
        NativeError::Failure { description }
    }

    /// A `WeixinKitError` for a failure of the binding itself.
    pub fn internal(text: impl Into<String>) -> Self {
        NativeError::describe(&ErrorDescription::internal(text))
    }

    /// A `ValidationError` naming `field` and `rule`.
    pub fn validation(field: &str, rule: impl Into<String>) -> Self {
        Error::validation(field, rule).into()
    }

    /// A `ConfigError` with `detail`.
    pub fn config(detail: impl Into<String>) -> Self {
        Error::Config {
            detail: detail.into(),
        }
        .into()
    }
}

impl From<Error> for NativeError {
    fn from(error: Error) -> Self {
        NativeError::describe(&ErrorDescription::from(&error))
    }
}
