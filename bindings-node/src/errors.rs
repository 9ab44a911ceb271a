//! Core errors → a JS rejection the package turns into its error classes.
//!
//! A native failure is an `Error` whose message is [`PREFIX`] followed by the bridge's
//! [`ErrorDescription`] as JSON (kind, text and the kind's fields). `lib/native.js` catches every
//! native call and throws the class the kind names (`generated/errors.js`), so callers never see
//! this internal form; a native error without the prefix (an argument napi-rs could not
//! convert) becomes the base class with its text.

use weixin_kit::bridge::ErrorDescription;
use weixin_kit::Error;

/// How the message of a native error carrying a description starts (`lib/native.js` has the
/// same constant).
pub const PREFIX: &str = "weixin-kit-error:";

/// The napi error for a core error.
pub fn to_napi(error: Error) -> napi::Error {
    describe(&ErrorDescription::from(&error))
}

/// The napi error for a description.
pub fn describe(description: &ErrorDescription) -> napi::Error {
    let json = serde_json::to_string(description).unwrap_or_else(|_| {
        serde_json::json!({ "kind": "WeixinKitError", "text": description.text }).to_string()
    });
    napi::Error::new(napi::Status::GenericFailure, format!("{PREFIX}{json}"))
}

/// A `WeixinKitError` for a failure of the binding itself.
pub fn internal(text: impl Into<String>) -> napi::Error {
    describe(&ErrorDescription::internal(text))
}

/// A `ValidationError` naming `field` and `rule`.
pub fn validation(field: &str, rule: impl Into<String>) -> napi::Error {
    to_napi(Error::validation(field, rule))
}

/// A `ConfigError` with `detail`.
pub fn config(detail: impl Into<String>) -> napi::Error {
    to_napi(Error::Config {
        detail: detail.into(),
    })
}
