//! Errors as one serializable description — the kind plus its fields — so that every binding
//! maps kind → its exception/error class with one table, and every language's classes carry the
//! same names and the same fields.
//!
//! No field is called `message`: uniffi's generated Kotlin exceptions already have one (it would
//! clash), so the core's text is `text` here and the WeChat Pay `message` is `msg`.

use serde::Serialize;
use serde_json::Value;

use crate::error::Error;

/// The kind of an error: one exception/error class per kind in every language, named by
/// [`ErrorKind::class_name`] and all deriving from [`ErrorKind::Base`]'s class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum ErrorKind {
    /// `WeixinKitError`: the base class; raised itself only for failures of a binding
    /// (an operation that panicked, a call made where it cannot run).
    #[serde(rename = "WeixinKitError")]
    Base,
    #[serde(rename = "ApiError")]
    Api,
    #[serde(rename = "MiniProgramError")]
    MiniProgram,
    #[serde(rename = "SignatureError")]
    Signature,
    #[serde(rename = "ValidationError")]
    Validation,
    #[serde(rename = "TransportError")]
    Transport,
    #[serde(rename = "TimeoutError")]
    Timeout,
    #[serde(rename = "ConfigError")]
    Config,
    #[serde(rename = "UnexpectedResponseError")]
    UnexpectedResponse,
    #[serde(rename = "CallbackError")]
    Callback,
    #[serde(rename = "ReplayError")]
    Replay,
    #[serde(rename = "NotAuthorizedError")]
    NotAuthorized,
}

/// One row of [`ERROR_KINDS`]: a class every binding defines.
#[derive(Debug)]
pub struct KindInfo {
    pub kind: ErrorKind,
    /// The class name, the same in Python, Node and Kotlin.
    pub class_name: &'static str,
    /// The fields the class carries (besides the text), in this order; the same names in
    /// every language (Kotlin in camelCase).
    pub fields: &'static [&'static str],
    /// Whether the same request may be sent again when the error itself does not say.
    pub retryable_by_default: bool,
    pub summary: &'static str,
}

/// Every kind, the base first. Bindings build their class table from this (and a test in each
/// binding checks it defines every class with these fields).
pub static ERROR_KINDS: &[KindInfo] = &[
    KindInfo {
        kind: ErrorKind::Base,
        class_name: "WeixinKitError",
        fields: &["detail"],
        retryable_by_default: false,
        summary: "Base class of every weixin-kit error; raised itself only for a failure of the binding.",
    },
    KindInfo {
        kind: ErrorKind::Api,
        class_name: "ApiError",
        fields: &[
            "status",
            "code",
            "msg",
            "detail",
            "request_id",
            "solution",
            "advice",
            "retryable",
            "retry_after",
            "sign_diagnosis",
        ],
        retryable_by_default: false,
        summary: "WeChat Pay answered with an error status and a {code, message, detail} body; for 401 SIGN_ERROR, sign_diagnosis compares WeChat's signing string with the one signed.",
    },
    KindInfo {
        kind: ErrorKind::MiniProgram,
        class_name: "MiniProgramError",
        fields: &[
            "errcode",
            "errmsg",
            "solution",
            "advice",
            "retryable",
            "retry_after",
        ],
        retryable_by_default: false,
        summary: "A mini-program API answered {errcode, errmsg} with errcode ≠ 0.",
    },
    KindInfo {
        kind: ErrorKind::Signature,
        class_name: "SignatureError",
        fields: &["detail"],
        retryable_by_default: false,
        summary: "A response or notification failed verification (signature, key serial, timestamp, decryption).",
    },
    KindInfo {
        kind: ErrorKind::Validation,
        class_name: "ValidationError",
        fields: &["field", "rule"],
        retryable_by_default: false,
        summary: "Bad input, caught before anything was sent: the field's wire name and the rule it breaks.",
    },
    KindInfo {
        kind: ErrorKind::Transport,
        class_name: "TransportError",
        fields: &["detail", "retryable", "may_have_been_applied"],
        retryable_by_default: true,
        summary: "The request could not be delivered or the connection failed (after retries and failover); may_have_been_applied: it may have reached the server, so it was not sent again.",
    },
    KindInfo {
        kind: ErrorKind::Timeout,
        class_name: "TimeoutError",
        fields: &["detail", "retryable", "may_have_been_applied"],
        retryable_by_default: true,
        summary: "The request, the call's deadline or a callback ran out of time; may_have_been_applied: the request may have reached the server, so it was not sent again.",
    },
    KindInfo {
        kind: ErrorKind::Config,
        class_name: "ConfigError",
        fields: &["detail"],
        retryable_by_default: false,
        summary: "The client is misconfigured: the key named in the text, and the rule.",
    },
    KindInfo {
        kind: ErrorKind::UnexpectedResponse,
        class_name: "UnexpectedResponseError",
        fields: &["status", "detail"],
        retryable_by_default: false,
        summary: "The server answered, but not in the documented shape.",
    },
    KindInfo {
        kind: ErrorKind::Callback,
        class_name: "CallbackError",
        fields: &["callback", "detail"],
        retryable_by_default: false,
        summary: "A function you supplied (token provider, signer) failed or returned something unusable; nothing was sent.",
    },
    KindInfo {
        kind: ErrorKind::Replay,
        class_name: "ReplayError",
        fields: &["notification_id", "detail"],
        retryable_by_default: false,
        summary: "A notification already received was parsed again (replay guard): a replay, or WeChat Pay delivering it again; answer success if notification_id was processed.",
    },
    KindInfo {
        kind: ErrorKind::NotAuthorized,
        class_name: "NotAuthorizedError",
        fields: &["authorizer_appid", "detail"],
        retryable_by_default: false,
        summary: "A third-party platform may no longer act for authorizer_appid (authorization revoked, refresh token refused with 61023, or never authorized): its tokens were cleared and no refresh is attempted; the merchant must authorize again.",
    },
];

impl ErrorKind {
    /// The kind of a core error (its class in every binding).
    pub fn of(error: &Error) -> ErrorKind {
        match error {
            Error::Api(_) => ErrorKind::Api,
            Error::MiniProgram(_) => ErrorKind::MiniProgram,
            Error::Signature { .. } => ErrorKind::Signature,
            Error::Validation { .. } => ErrorKind::Validation,
            Error::Transport { .. } => ErrorKind::Transport,
            Error::Timeout { .. } => ErrorKind::Timeout,
            Error::Config { .. } => ErrorKind::Config,
            Error::UnexpectedResponse { .. } => ErrorKind::UnexpectedResponse,
            Error::Callback { .. } => ErrorKind::Callback,
            Error::Replayed { .. } => ErrorKind::Replay,
            Error::NotAuthorized { .. } => ErrorKind::NotAuthorized,
        }
    }

    /// The row of [`ERROR_KINDS`] for this kind.
    pub fn info(self) -> &'static KindInfo {
        ERROR_KINDS
            .iter()
            .find(|k| k.kind == self)
            .expect("ERROR_KINDS lists every kind")
    }

    /// The class name bindings use (`ApiError`).
    pub fn class_name(self) -> &'static str {
        self.info().class_name
    }
}

/// An error as every binding receives it: the kind, the core's text (free of secrets) and the
/// fields of that kind. Fields a kind does not have are `None` (and left out when serialized).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorDescription {
    pub kind: ErrorKind,
    /// `Display` of the core error: what `str(e)` / `e.message` shows.
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// WeChat Pay's `message` (named `msg`: see the module documentation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msg: Option<String>,
    /// A string for most kinds; WeChat Pay's JSON `detail` object for [`ErrorKind::Api`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub solution: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advice: Option<String>,
    pub retryable: bool,
    /// Seconds to wait before sending the same request again, when the documents name a delay.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errcode: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errmsg: Option<String>,
    /// Which callback failed (`token_provider`, `signer`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callback: Option<String>,
    /// The `id` of a replayed notification.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notification_id: Option<String>,
    /// The merchant's appid a third-party platform is no longer authorized for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorizer_appid: Option<String>,
    /// Transport errors and timeouts: the request may have reached the server and been applied
    /// (it was not sent again; check its outcome before resending).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub may_have_been_applied: Option<bool>,
    /// A 401 SIGN_ERROR's diagnosis ([`crate::pay::SignDiagnosis`] as JSON: `first_difference`,
    /// `ours_len`, `theirs_len`, `ours_body_len`, `theirs_body_len`, `ours_truncated`,
    /// `theirs_truncated`, `clock_skew_secs`, `cause`, `explanation`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sign_diagnosis: Option<Value>,
}

impl ErrorDescription {
    fn new(kind: ErrorKind, text: String) -> Self {
        ErrorDescription {
            retryable: kind.info().retryable_by_default,
            kind,
            text,
            status: None,
            code: None,
            msg: None,
            detail: None,
            request_id: None,
            solution: None,
            advice: None,
            retry_after: None,
            field: None,
            rule: None,
            errcode: None,
            errmsg: None,
            callback: None,
            notification_id: None,
            authorizer_appid: None,
            may_have_been_applied: None,
            sign_diagnosis: None,
        }
    }

    /// A failure of a binding itself (the base class).
    pub fn internal(text: impl Into<String>) -> Self {
        ErrorDescription::new(ErrorKind::Base, text.into())
    }

    /// The value of the field `name` (one of [`KindInfo::fields`]) as JSON: what a binding
    /// passes to its class's constructor. `Null` for a field this error does not carry.
    pub fn field(&self, name: &str) -> Value {
        fn opt<T: Serialize>(v: &Option<T>) -> Value {
            v.as_ref().map_or(Value::Null, |v| {
                serde_json::to_value(v).unwrap_or(Value::Null)
            })
        }
        match name {
            "status" => opt(&self.status),
            "code" => opt(&self.code),
            "msg" => opt(&self.msg),
            "detail" => self.detail.clone().unwrap_or(Value::Null),
            "request_id" => opt(&self.request_id),
            "solution" => opt(&self.solution),
            "advice" => opt(&self.advice),
            "retryable" => Value::Bool(self.retryable),
            "retry_after" => opt(&self.retry_after),
            "field" => opt(&self.field),
            "rule" => opt(&self.rule),
            "errcode" => opt(&self.errcode),
            "errmsg" => opt(&self.errmsg),
            "callback" => opt(&self.callback),
            "notification_id" => opt(&self.notification_id),
            "authorizer_appid" => opt(&self.authorizer_appid),
            "may_have_been_applied" => opt(&self.may_have_been_applied),
            "sign_diagnosis" => opt(&self.sign_diagnosis),
            _ => Value::Null,
        }
    }

    /// `(field name, value)` for every field of this error's kind, in [`KindInfo::fields`]
    /// order.
    pub fn fields(&self) -> impl Iterator<Item = (&'static str, Value)> + '_ {
        self.kind
            .info()
            .fields
            .iter()
            .map(move |name| (*name, self.field(name)))
    }
}

impl From<&Error> for ErrorDescription {
    fn from(error: &Error) -> Self {
        let text = error.to_string();
        let mut d;
        match error {
            Error::Api(e) => {
                d = ErrorDescription::new(ErrorKind::Api, text);
                d.status = Some(e.status);
                d.code = Some(e.code.clone());
                d.msg = Some(e.message.clone());
                d.detail = e.detail.clone();
                d.request_id = e.request_id.clone();
                d.solution = e.solution.clone();
                d.advice = e.advice.clone();
                d.retryable = e.retryable;
                d.retry_after = e.retry_after.map(|t| t.as_secs_f64());
                d.sign_diagnosis = e
                    .sign_diagnosis
                    .as_ref()
                    .and_then(|s| serde_json::to_value(s).ok());
            }
            Error::MiniProgram(e) => {
                d = ErrorDescription::new(ErrorKind::MiniProgram, text);
                d.errcode = Some(e.errcode);
                d.errmsg = Some(e.errmsg.clone());
                d.solution = e.solution.clone();
                d.advice = e.advice.clone();
                d.retryable = e.retryable;
                d.retry_after = e.retry_after.map(|t| t.as_secs_f64());
            }
            Error::Signature { detail } => {
                d = ErrorDescription::new(ErrorKind::Signature, text);
                d.detail = Some(Value::String(detail.clone()));
            }
            Error::Validation { field, rule } => {
                d = ErrorDescription::new(ErrorKind::Validation, text);
                d.field = Some(field.clone());
                d.rule = Some(rule.clone());
            }
            Error::Transport {
                detail,
                may_have_been_applied,
            } => {
                d = ErrorDescription::new(ErrorKind::Transport, text);
                d.detail = Some(Value::String(detail.clone()));
                d.may_have_been_applied = Some(*may_have_been_applied);
                d.retryable = !may_have_been_applied;
            }
            Error::Timeout {
                detail,
                may_have_been_applied,
            } => {
                d = ErrorDescription::new(ErrorKind::Timeout, text);
                d.detail = Some(Value::String(detail.clone()));
                d.may_have_been_applied = Some(*may_have_been_applied);
                d.retryable = !may_have_been_applied;
            }
            Error::Config { detail } => {
                d = ErrorDescription::new(ErrorKind::Config, text);
                d.detail = Some(Value::String(detail.clone()));
            }
            Error::UnexpectedResponse { status, detail } => {
                d = ErrorDescription::new(ErrorKind::UnexpectedResponse, text);
                d.status = Some(*status);
                d.detail = Some(Value::String(detail.clone()));
            }
            Error::Callback { callback, detail } => {
                d = ErrorDescription::new(ErrorKind::Callback, text);
                d.callback = Some(callback.clone());
                d.detail = Some(Value::String(detail.clone()));
            }
            Error::Replayed {
                notification_id,
                detail,
            } => {
                d = ErrorDescription::new(ErrorKind::Replay, text);
                d.notification_id = Some(notification_id.clone());
                d.detail = Some(Value::String(detail.clone()));
            }
            Error::NotAuthorized {
                authorizer_appid,
                detail,
            } => {
                d = ErrorDescription::new(ErrorKind::NotAuthorized, text);
                d.authorizer_appid = Some(authorizer_appid.clone());
                d.detail = Some(Value::String(detail.clone()));
            }
        }
        d
    }
}

impl From<Error> for ErrorDescription {
    fn from(error: Error) -> Self {
        ErrorDescription::from(&error)
    }
}
