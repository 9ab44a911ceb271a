//! The one error type every language maps to its own exception/error classes.
//!
//! Error text never carries secrets: validation errors name the field and the rule, not the value.

use std::fmt;
use std::time::Duration;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error a caller can act on; each variant is one kind.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// WeChat Pay answered with a non-2xx status and an error body.
    #[error(transparent)]
    Api(Box<ApiError>),
    /// A mini-program API answered with `errcode` ≠ 0.
    #[error(transparent)]
    MiniProgram(Box<MiniProgramError>),
    /// A response or notification signature did not verify (or its timestamp was stale).
    #[error("signature verification failed: {detail}")]
    Signature { detail: String },
    /// Bad input caught before anything was sent.
    #[error("invalid `{field}`: {rule}")]
    Validation { field: String, rule: String },
    /// The request could not be delivered or the connection failed.
    #[error("transport error: {detail}{}", applied_note(*.may_have_been_applied))]
    Transport {
        detail: String,
        /// The request is not idempotent and may have reached the server and been applied (the
        /// connection failed after it may have been sent, before the answer), so it was not
        /// sent again. Check the outcome (e.g. query by `out_request_no`) before resending.
        /// False when nothing was sent, or when the request is idempotent (it was resent per
        /// the retry policy and may be sent again).
        may_have_been_applied: bool,
    },
    /// The request (or the call's deadline) did not complete in time.
    #[error("timed out: {detail}{}", applied_note(*.may_have_been_applied))]
    Timeout {
        detail: String,
        /// As for [`Error::Transport`]: the request may have reached the server.
        may_have_been_applied: bool,
    },
    /// The client is misconfigured (key format, key length, missing credential …).
    #[error("configuration error: {detail}")]
    Config { detail: String },
    /// The server answered, but not in the documented shape.
    #[error("unexpected response (HTTP {status}): {detail}")]
    UnexpectedResponse { status: u16, detail: String },
    /// A notification was parsed again (WeChat Pay notifications with a replay guard set): the
    /// same `id`, or the same signed `Wechatpay-Serial`/`-Nonce`/`-Timestamp`, was already
    /// parsed by this process or by any instance sharing the guard. Either a replay or WeChat
    /// Pay delivering it again (answer success if `notification_id` was processed). Carries
    /// the id only, never the decrypted content.
    #[error("notification replayed: `{notification_id}` was already received ({detail})")]
    Replayed {
        notification_id: String,
        detail: String,
    },
    /// A function supplied by the caller (a token provider, a signer) failed or returned
    /// something unusable; nothing was sent with its result.
    #[error("the {callback} callback failed: {detail}")]
    Callback { callback: String, detail: String },
    /// A third-party platform (第三方平台) can no longer act for the merchant's account
    /// `authorizer_appid`: the authorization was revoked (an `unauthorized` push) or its
    /// refresh token was refused (errcode 61023), or none was ever stored. Its tokens were
    /// cleared and no refresh is attempted any more: the merchant must authorize the platform
    /// again (a new authorization code, then `authorize`).
    #[error(
        "not authorized by `{authorizer_appid}`: {detail}; the merchant must authorize the \
         platform again (authorization page or link), then call authorize with the new \
         authorization code"
    )]
    NotAuthorized {
        authorizer_appid: String,
        detail: String,
    },
}

impl Error {
    pub fn validation(field: impl Into<String>, rule: impl Into<String>) -> Self {
        Error::Validation {
            field: field.into(),
            rule: rule.into(),
        }
    }

    /// True when the documents say the same request may be sent again. A transport failure or
    /// timeout is, unless the request may have been applied (then check its outcome first).
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Api(e) => e.retryable,
            Error::MiniProgram(e) => e.retryable,
            Error::Transport {
                may_have_been_applied,
                ..
            }
            | Error::Timeout {
                may_have_been_applied,
                ..
            } => !may_have_been_applied,
            _ => false,
        }
    }

    /// True when a request failed after it may have reached the server (see
    /// [`Error::Transport`]), so it may have been applied although no answer came.
    pub fn may_have_been_applied(&self) -> bool {
        matches!(
            self,
            Error::Transport {
                may_have_been_applied: true,
                ..
            } | Error::Timeout {
                may_have_been_applied: true,
                ..
            }
        )
    }

    /// The same error with `note` appended to its detail (transport and timeout errors; others
    /// unchanged).
    pub(crate) fn with_note(mut self, note: &str) -> Self {
        if let Error::Transport { detail, .. } | Error::Timeout { detail, .. } = &mut self {
            detail.push_str(" (");
            detail.push_str(note);
            detail.push(')');
        }
        self
    }
}

/// What a transport error or timeout adds when the request may have been applied.
fn applied_note(may_have_been_applied: bool) -> &'static str {
    if may_have_been_applied {
        "; the request may have been applied (it may have reached the server before the \
         connection failed) and was not sent again: check its outcome before resending"
    } else {
        ""
    }
}

/// A WeChat Pay APIv3 error response (`{"code", "message", "detail"}`), with what the spec's
/// error table says about it.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: u16,
    pub code: String,
    pub message: String,
    pub detail: Option<serde_json::Value>,
    /// The `Request-ID` response header: quote it to WeChat Pay support.
    pub request_id: Option<String>,
    /// The documented solution (解决方案) for this status and code, when the spec has one.
    pub solution: Option<String>,
    /// Documented guidance from outside the error table (e.g. a parameter's description).
    pub advice: Option<String>,
    pub retryable: bool,
    /// When the documents name a delay before sending the same request again.
    pub retry_after: Option<Duration>,
    /// A `401 SIGN_ERROR` compared with what the client signed: which part differs, the
    /// lengths side by side, the likely cause ([`crate::pay::diagnosis`]).
    pub sign_diagnosis: Option<Box<crate::pay::SignDiagnosis>>,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "WeChat Pay API error: HTTP {} {}: {}",
            self.status, self.code, self.message
        )?;
        write_guidance(f, &self.solution, &self.advice, self.retry_after)?;
        if let Some(id) = &self.request_id {
            write!(f, " [Request-ID {id}]")?;
        }
        if let Some(d) = &self.sign_diagnosis {
            write!(f, "; {d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

/// A mini-program API error (`{"errcode", "errmsg"}` with errcode ≠ 0).
#[derive(Debug, Clone, PartialEq)]
pub struct MiniProgramError {
    pub errcode: i64,
    pub errmsg: String,
    /// The documented solution (解决方案) for this errcode, when the spec has one.
    pub solution: Option<String>,
    /// Documented guidance from outside the error table (e.g. a parameter's description).
    pub advice: Option<String>,
    pub retryable: bool,
    /// When the documents name a delay before sending the same request again (85437: 60 s).
    pub retry_after: Option<Duration>,
}

impl fmt::Display for MiniProgramError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "mini-program API error {}: {}",
            self.errcode, self.errmsg
        )?;
        write_guidance(f, &self.solution, &self.advice, self.retry_after)
    }
}

impl std::error::Error for MiniProgramError {}

/// What the documents say to do: the solution, further advice, and the wait before a retry.
fn write_guidance(
    f: &mut fmt::Formatter<'_>,
    solution: &Option<String>,
    advice: &Option<String>,
    retry_after: Option<Duration>,
) -> fmt::Result {
    if let Some(solution) = solution {
        write!(f, " (solution: {solution})")?;
    }
    if let Some(advice) = advice {
        write!(f, " {advice}")?;
    }
    if let Some(wait) = retry_after {
        write!(f, " [retry after {} s]", wait.as_secs())?;
    }
    Ok(())
}

impl From<ApiError> for Error {
    fn from(e: ApiError) -> Self {
        Error::Api(Box::new(e))
    }
}

impl From<MiniProgramError> for Error {
    fn from(e: MiniProgramError) -> Self {
        Error::MiniProgram(Box::new(e))
    }
}

/// What is wrong with a JSON document, without echoing any of its values (a body or payload may
/// carry user identifiers or credentials): the category, serde's rule with the offending value
/// cut out, the path when known, and the position.
pub(crate) fn json_error(path: &str, e: &serde_json::Error) -> String {
    let what = match e.classify() {
        serde_json::error::Category::Io => "I/O error",
        serde_json::error::Category::Syntax => "JSON syntax error",
        serde_json::error::Category::Data => "wrong shape",
        serde_json::error::Category::Eof => "truncated JSON",
    };
    let rule = match e.classify() {
        serde_json::error::Category::Data => format!(" ({})", data_rule(&e.to_string())),
        _ => String::new(),
    };
    let at = if path.is_empty() || path == "." {
        String::new()
    } else {
        format!(" at `{path}`")
    };
    let position = if e.line() > 0 {
        format!(" (line {}, column {})", e.line(), e.column())
    } else {
        String::new()
    };
    format!("{what}{rule}{at}{position}")
}

/// serde's data error message reduced to what names the schema, never the value: `missing
/// field `x``, `has the wrong type: expected a string`, … Anything not recognised (a custom
/// message may quote the input) becomes a fixed text.
pub(crate) fn data_rule(message: &str) -> String {
    // serde_json appends " at line L column C" to messages read from bytes.
    let message = match message.rfind(" at line ") {
        Some(i) => &message[..i],
        None => message,
    };
    let expected = |sep: &str| {
        message
            .rfind(sep)
            .map(|i| message[i + sep.len()..].to_owned())
            .unwrap_or_else(|| "?".into())
    };
    if message.starts_with("missing field `") || message.starts_with("duplicate field `") {
        message.to_owned()
    } else if message.starts_with("invalid type: ") {
        format!("has the wrong type: expected {}", expected(", expected "))
    } else if message.starts_with("invalid value: ") {
        format!("has an invalid value: expected {}", expected(", expected "))
    } else if message.starts_with("invalid length ") {
        format!("has the wrong length: expected {}", expected(", expected "))
    } else if message.starts_with("unknown variant ") {
        format!(
            "is not an allowed value: expected {}",
            expected("`, expected ")
        )
    } else if message.starts_with("unknown field ") {
        format!(
            "has an unknown field: expected {}",
            expected("`, expected ")
        )
    } else {
        "does not match the expected shape".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_errors_never_quote_values() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct T {
            openid: u32,
            kind: Kind,
        }
        #[derive(Debug, serde::Deserialize)]
        enum Kind {
            A,
        }
        let e = serde_json::from_str::<T>(r#"{"openid":"oSECRET123","kind":"A"}"#).unwrap_err();
        let text = json_error("openid", &e);
        assert!(!text.contains("oSECRET123"), "{text}");
        assert!(text.contains("has the wrong type: expected u32"), "{text}");
        assert!(text.contains("at `openid`"), "{text}");
        let e = serde_json::from_str::<T>(r#"{"openid":1,"kind":"oSECRET123"}"#).unwrap_err();
        let text = json_error("kind", &e);
        assert!(!text.contains("oSECRET123"), "{text}");
        assert!(
            text.contains("is not an allowed value: expected `A`"),
            "{text}"
        );
        let e = serde_json::from_str::<T>(r#"{"openid":1}"#).unwrap_err();
        assert!(json_error("", &e).contains("missing field `kind`"));
        let e = serde_json::from_str::<T>(r#"{"openid":1,"#).unwrap_err();
        assert!(json_error("", &e).starts_with("truncated JSON"));
    }
}
