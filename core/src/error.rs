//! The one error type every language maps to its own exception/error classes.
//!
//! Error text never carries secrets: validation errors name the field and the rule, not the value.

use std::fmt;

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
    #[error("transport error: {detail}")]
    Transport { detail: String },
    /// The request did not complete in time.
    #[error("timed out: {detail}")]
    Timeout { detail: String },
    /// The client is misconfigured (key format, key length, missing credential …).
    #[error("configuration error: {detail}")]
    Config { detail: String },
    /// The server answered, but not in the documented shape.
    #[error("unexpected response (HTTP {status}): {detail}")]
    UnexpectedResponse { status: u16, detail: String },
}

impl Error {
    pub fn validation(field: impl Into<String>, rule: impl Into<String>) -> Self {
        Error::Validation {
            field: field.into(),
            rule: rule.into(),
        }
    }

    /// True when the documents say the same request may be sent again.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Api(e) => e.retryable,
            Error::MiniProgram(e) => e.retryable,
            Error::Transport { .. } | Error::Timeout { .. } => true,
            _ => false,
        }
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
    pub retryable: bool,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "WeChat Pay API error: HTTP {} {}: {}",
            self.status, self.code, self.message
        )?;
        if let Some(solution) = &self.solution {
            write!(f, " (solution: {solution})")?;
        }
        if let Some(id) = &self.request_id {
            write!(f, " [Request-ID {id}]")?;
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
    pub retryable: bool,
}

impl fmt::Display for MiniProgramError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "mini-program API error {}: {}",
            self.errcode, self.errmsg
        )?;
        if let Some(solution) = &self.solution {
            write!(f, " (solution: {solution})")?;
        }
        Ok(())
    }
}

impl std::error::Error for MiniProgramError {}

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
