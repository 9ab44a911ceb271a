//! The runtime the generated operations stand on: a static description of each operation (from
//! the spec), the request it prepares, and the decoding of what comes back.
//!
//! Generated code builds a [`PreparedRequest`] (path, query and body, validated), hands it to an
//! [`Execute`] implementation (the pay or mini-program client: host, auth, retries, signature
//! checks) and decodes the [`RawResponse`] with [`decode_json`] / [`decode_empty`], which map
//! documented error codes to [`Error`] with the spec's solution text.

use std::future::Future;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{json_error, ApiError, Error, MiniProgramError, Result};
use crate::validate::{self, Validate};

/// Which API family an operation belongs to; selects the error model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiFamily {
    /// WeChat Pay APIv3: HTTP status + `{"code","message"}` errors.
    Pay,
    /// Mini-program APIs: `{"errcode","errmsg"}`, errcode 0 is success.
    MiniProgram,
}

/// How a request is authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// `Authorization: WECHATPAY2-SHA256-RSA2048 …` over the exact bytes sent.
    WechatPay2,
    /// `access_token` query parameter, injected by the client.
    AccessToken,
    /// Credentials travel as ordinary parameters (the token endpoints).
    None,
}

/// The key a documented error is looked up by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKey {
    Pay { status: u16, code: &'static str },
    MiniProgram { errcode: i64 },
}

/// One row of a document's error table.
#[derive(Debug, Clone, Copy)]
pub struct ErrorDoc {
    pub key: ErrorKey,
    pub description: &'static str,
    pub solution: &'static str,
    /// The same request may be sent again.
    pub retryable: bool,
    /// …but not before this many seconds (85437: "建议在1分钟后重试").
    pub retry_after_secs: Option<u64>,
    /// Documented guidance from outside the error table, appended to the solution.
    pub advice: Option<&'static str>,
}

impl ErrorDoc {
    /// Worth sending again at once (with backoff): retryable, and no documented delay.
    pub fn retry_now(&self) -> bool {
        self.retryable && self.retry_after_secs.is_none()
    }
}

/// Everything the spec says about an operation that the runtime needs.
#[derive(Debug)]
pub struct OperationSpec {
    /// The official operation name (`ModifyStockInfo`, `setUserNotifyExt`).
    pub name: &'static str,
    /// The tag that groups it (`busifavor`, `service_card`).
    pub tag: &'static str,
    pub family: ApiFamily,
    pub method: &'static str,
    /// The path template, e.g. `/v3/marketing/busifavor/stocks/{stock_id}`.
    pub path: &'static str,
    pub auth: Auth,
    /// The documented success status (204 for ModifyStockInfo).
    pub success_status: u16,
    pub errors: &'static [ErrorDoc],
}

/// A request ready to be authenticated and sent: nothing in it changes after this point, so the
/// bytes signed are the bytes sent, and a retry resends exactly the same request.
///
/// `Debug` shows the path without its query (`/cgi-bin/token` carries the AppSecret there).
#[derive(Clone)]
pub struct PreparedRequest {
    pub operation: &'static OperationSpec,
    /// Path and query as sent (percent-encoded), without the `access_token` the client adds.
    pub path_and_query: String,
    pub body: RequestBody,
}

impl std::fmt::Debug for PreparedRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedRequest")
            .field("operation", &self.operation.name)
            .field("path_and_query", &RedactedPath(&self.path_and_query))
            .field("body", &self.body)
            .finish()
    }
}

/// Shows a path and query as the path alone, plus `?<redacted>` when there is a query: queries
/// carry credentials (`secret=`, `access_token=`).
pub(crate) struct RedactedPath<'a>(pub &'a str);

impl std::fmt::Debug for RedactedPath<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.split_once('?') {
            Some((path, _)) => write!(f, "\"{path}?<redacted>\""),
            None => write!(f, "{:?}", self.0),
        }
    }
}

#[derive(Clone, PartialEq)]
pub enum RequestBody {
    Empty,
    Json(Vec<u8>),
    /// WeChat's media upload: multipart `meta` (JSON, the signed body) + `file`.
    MediaUpload {
        meta: Vec<u8>,
        filename: String,
        file: Vec<u8>,
    },
}

impl std::fmt::Debug for RequestBody {
    // Bodies may carry personal data and credentials; Debug shows sizes only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RequestBody::Empty => f.write_str("Empty"),
            RequestBody::Json(b) => write!(f, "Json({} bytes)", b.len()),
            RequestBody::MediaUpload { meta, file, .. } => {
                write!(
                    f,
                    "MediaUpload(meta {} bytes, file {} bytes)",
                    meta.len(),
                    file.len()
                )
            }
        }
    }
}

impl RequestBody {
    /// The bytes that take part in the request signature.
    pub fn signed_bytes(&self) -> &[u8] {
        match self {
            RequestBody::Empty => b"",
            RequestBody::Json(b) => b,
            RequestBody::MediaUpload { meta, .. } => meta,
        }
    }
}

/// What the server answered, status and body untouched.
///
/// `Debug` shows the status, the header names and the body's length only: token and ticket
/// responses carry credentials, others personal data.
#[derive(Clone)]
pub struct RawResponse {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Vec<u8>,
}

impl std::fmt::Debug for RawResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.headers.keys().map(http::HeaderName::as_str).collect();
        f.debug_struct("RawResponse")
            .field("status", &self.status)
            .field("header_names", &names)
            .field("body", &format_args!("{} bytes", self.body.len()))
            .finish()
    }
}

/// Sends prepared requests: implemented by the pay and mini-program clients.
pub trait Execute: Sync {
    fn execute(&self, request: PreparedRequest)
        -> impl Future<Output = Result<RawResponse>> + Send;
}

/// Characters escaped in a path segment (everything but unreserved), as Go's `url.PathEscape`.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Builds `path_and_query` from a path template and its parameters.
#[derive(Debug)]
pub struct PathBuilder {
    out: String,
    has_query: bool,
}

impl PathBuilder {
    /// Fills `{name}` placeholders; every path parameter is required and non-empty.
    pub fn new(template: &str, params: &[(&str, &str)]) -> Result<Self> {
        let mut out = template.to_owned();
        for (name, value) in params {
            validate::not_empty("", name, value)?;
            // `.` and `..` are unreserved, so they would go out unescaped and the URL parser
            // would remove them: the request sent would not be the request signed.
            if *value == "." || *value == ".." {
                return Err(Error::validation(
                    *name,
                    "must not be `.` or `..` (a path segment the URL would drop)",
                ));
            }
            let encoded = utf8_percent_encode(value, PATH_SEGMENT).to_string();
            out = out.replace(&format!("{{{name}}}"), &encoded);
        }
        debug_assert!(!out.contains('{'), "unfilled path parameter in {template}");
        Ok(PathBuilder {
            out,
            has_query: false,
        })
    }

    pub fn query(mut self, name: &str, value: &str) -> Self {
        self.out.push(if self.has_query { '&' } else { '?' });
        self.out
            .push_str(&utf8_percent_encode(name, PATH_SEGMENT).to_string());
        self.out.push('=');
        self.out
            .push_str(&utf8_percent_encode(value, PATH_SEGMENT).to_string());
        self.has_query = true;
        self
    }

    pub fn finish(self) -> String {
        self.out
    }
}

/// Lower-case hex SHA-256, as the media upload `meta.sha256` wants it.
pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}

/// Validates and serializes a JSON request body, once: these bytes are signed and sent.
pub fn json_body<T: Serialize + Validate>(body: &T) -> Result<RequestBody> {
    body.validate()?;
    serde_json::to_vec(body)
        .map(RequestBody::Json)
        .map_err(|_| Error::validation("body", "cannot be serialized as JSON"))
}

/// Reads a request value from JSON (what the language bindings hand over), reporting a missing or
/// mistyped field as a validation error that names it, then runs the spec's checks.
pub fn request_from_json<T: DeserializeOwned + Validate>(value: serde_json::Value) -> Result<T> {
    let request: T = serde_path_to_error::deserialize(value).map_err(|e| {
        let at = e.path().to_string();
        let at = if at == "." { String::new() } else { at };
        // The rule without the offending value (it may be an openid or a credential).
        let rule = crate::error::data_rule(&e.into_inner().to_string());
        // serde reports a missing field at its parent: name the field itself.
        match rule
            .strip_prefix("missing field `")
            .and_then(|r| r.split('`').next())
        {
            Some(field) => Error::validation(validate::path(&at, field), "is required"),
            None => Error::validation(if at.is_empty() { "body".into() } else { at }, rule),
        }
    })?;
    request.validate()?;
    Ok(request)
}

/// Decodes a successful JSON response into `T`, or the documented error.
pub fn decode_json<T: DeserializeOwned>(
    op: &'static OperationSpec,
    response: &RawResponse,
) -> Result<T> {
    check_status(op, response)?;
    if op.family == ApiFamily::MiniProgram {
        check_errcode(op, response)?;
    }
    let mut de = serde_json::Deserializer::from_slice(&response.body);
    serde_path_to_error::deserialize(&mut de).map_err(|e| Error::UnexpectedResponse {
        status: response.status,
        detail: format!(
            "{} response does not match the spec: {}",
            op.name,
            json_error(&e.path().to_string(), e.inner())
        ),
    })
}

/// Checks a response that carries no body (WeChat Pay's 204).
pub fn decode_empty(op: &'static OperationSpec, response: &RawResponse) -> Result<()> {
    check_status(op, response)?;
    if op.family == ApiFamily::MiniProgram {
        check_errcode(op, response)?;
    }
    Ok(())
}

fn check_status(op: &'static OperationSpec, response: &RawResponse) -> Result<()> {
    if (200..300).contains(&response.status) {
        return Ok(());
    }
    match op.family {
        ApiFamily::Pay => Err(pay_error(op, response)),
        ApiFamily::MiniProgram => Err(Error::UnexpectedResponse {
            status: response.status,
            detail: format!("{} answered HTTP {}", op.name, response.status),
        }),
    }
}

/// WeChat Pay statuses that may be sent again whatever the operation: 429 (after a backoff) and
/// 5xx. The client retries them, and errors carrying them say `retryable`.
pub fn retryable_status(status: u16) -> bool {
    status == 429 || (500..=599).contains(&status)
}

/// The error a non-2xx WeChat Pay response stands for, with the documented solution.
pub fn pay_error(op: &'static OperationSpec, response: &RawResponse) -> Error {
    #[derive(serde::Deserialize)]
    struct Body {
        code: String,
        #[serde(default)]
        message: String,
        #[serde(default)]
        detail: Option<serde_json::Value>,
    }
    let request_id = response
        .headers
        .get("Request-ID")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let Ok(body) = serde_json::from_slice::<Body>(&response.body) else {
        return Error::UnexpectedResponse {
            status: response.status,
            detail: format!(
                "{} answered HTTP {} without a WeChat Pay error body{}",
                op.name,
                response.status,
                request_id
                    .map(|id| format!(" [Request-ID {id}]"))
                    .unwrap_or_default()
            ),
        };
    };
    let same_code = |status: Option<u16>| -> Vec<&'static ErrorDoc> {
        op.errors
            .iter()
            .filter(|doc| match doc.key {
                ErrorKey::Pay { status: s, code } => {
                    code == body.code && status.is_none_or(|st| st == s)
                }
                ErrorKey::MiniProgram { .. } => false,
            })
            .collect()
    };
    // Prefer rows with the same status; a code the table lists under another status still helps.
    let rows = match same_code(Some(response.status)) {
        rows if rows.is_empty() => same_code(None),
        rows => rows,
    };
    let Documented {
        solution,
        advice,
        retryable,
        retry_after,
    } = documented(&rows, &body.message);
    // The protocol's rule holds even where an operation's table has no row for the status.
    let retryable = retryable || retryable_status(response.status);
    ApiError {
        status: response.status,
        code: body.code.clone(),
        message: body.message.clone(),
        detail: body.detail,
        request_id,
        solution,
        advice,
        retryable,
        retry_after,
    }
    .into()
}

fn check_errcode(op: &'static OperationSpec, response: &RawResponse) -> Result<()> {
    #[derive(serde::Deserialize)]
    struct Head {
        #[serde(default)]
        errcode: i64,
        #[serde(default)]
        errmsg: String,
    }
    let head: Head =
        serde_json::from_slice(&response.body).map_err(|e| Error::UnexpectedResponse {
            status: response.status,
            detail: format!(
                "{} answered a body that is not a JSON object: {}",
                op.name,
                json_error("", &e)
            ),
        })?;
    if head.errcode == 0 {
        return Ok(());
    }
    let rows: Vec<&ErrorDoc> = op
        .errors
        .iter()
        .filter(|doc| {
            doc.key
                == ErrorKey::MiniProgram {
                    errcode: head.errcode,
                }
        })
        .collect();
    let Documented {
        solution,
        advice,
        retryable,
        retry_after,
    } = documented(&rows, &head.errmsg);
    Err(MiniProgramError {
        errcode: head.errcode,
        errmsg: head.errmsg,
        solution,
        advice,
        retryable,
        retry_after,
    }
    .into())
}

/// What the error table says about an error response.
struct Documented {
    solution: Option<String>,
    advice: Option<String>,
    retryable: bool,
    retry_after: Option<std::time::Duration>,
}

/// The solution text for the matching rows: the row whose description is the server's message,
/// else every row's "description: solution" (one code can stand for several documented causes).
fn documented(rows: &[&ErrorDoc], message: &str) -> Documented {
    let one = |doc: &ErrorDoc| Documented {
        solution: Some(doc.solution.to_owned()),
        advice: doc.advice.map(str::to_owned),
        retryable: doc.retryable,
        retry_after: doc.retry_after_secs.map(std::time::Duration::from_secs),
    };
    if let Some(exact) = rows.iter().find(|doc| doc.description == message) {
        return one(exact);
    }
    match rows {
        [] => Documented {
            solution: None,
            advice: None,
            retryable: false,
            retry_after: None,
        },
        [single] => one(single),
        many => Documented {
            solution: Some(
                many.iter()
                    .map(|doc| format!("{}: {}", doc.description, doc.solution))
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            advice: None,
            retryable: many.iter().any(|doc| doc.retryable),
            retry_after: many
                .iter()
                .filter_map(|doc| doc.retry_after_secs)
                .max()
                .map(std::time::Duration::from_secs),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static OP: OperationSpec = OperationSpec {
        name: "Example",
        tag: "t",
        family: ApiFamily::Pay,
        method: "PATCH",
        path: "/v3/x/{id}",
        auth: Auth::WechatPay2,
        success_status: 204,
        errors: &[
            ErrorDoc {
                key: ErrorKey::Pay {
                    status: 400,
                    code: "INVALID_REQUEST",
                },
                description: "原因一",
                solution: "方案一",
                retryable: false,
                retry_after_secs: None,
                advice: None,
            },
            ErrorDoc {
                key: ErrorKey::Pay {
                    status: 400,
                    code: "INVALID_REQUEST",
                },
                description: "原因二",
                solution: "方案二",
                retryable: false,
                retry_after_secs: None,
                advice: None,
            },
            ErrorDoc {
                key: ErrorKey::Pay {
                    status: 500,
                    code: "SYSTEM_ERROR",
                },
                description: "系统异常",
                solution: "请稍后重试",
                retryable: true,
                retry_after_secs: None,
                advice: None,
            },
        ],
    };

    fn response(status: u16, body: &str) -> RawResponse {
        let mut headers = http::HeaderMap::new();
        headers.insert("Request-ID", "req-1".parse().unwrap());
        RawResponse {
            status,
            headers,
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn path_parameters_are_escaped_and_required() {
        let p = PathBuilder::new("/v3/x/{id}", &[("id", "a/b c")])
            .unwrap()
            .query("k", "v&w")
            .finish();
        assert_eq!(p, "/v3/x/a%2Fb%20c?k=v%26w");
        assert!(matches!(
            PathBuilder::new("/v3/x/{id}", &[("id", "")]),
            Err(Error::Validation { .. })
        ));
        for dots in [".", ".."] {
            assert!(matches!(
                PathBuilder::new("/v3/x/{id}", &[("id", dots)]),
                Err(Error::Validation { field, .. }) if field == "id"
            ));
        }
        // Dots inside a segment are ordinary characters.
        let p = PathBuilder::new("/v3/x/{id}", &[("id", "a..b")])
            .unwrap()
            .finish();
        assert_eq!(p, "/v3/x/a..b");
    }

    #[test]
    fn exact_description_selects_one_solution() {
        let err = decode_empty(
            &OP,
            &response(400, r#"{"code":"INVALID_REQUEST","message":"原因二"}"#),
        )
        .unwrap_err();
        let Error::Api(api) = err else {
            panic!("{err:?}")
        };
        assert_eq!(api.solution.as_deref(), Some("方案二"));
        assert_eq!(api.request_id.as_deref(), Some("req-1"));
        assert!(!api.retryable);
    }

    #[test]
    fn ambiguous_code_lists_every_documented_cause() {
        let err = decode_empty(
            &OP,
            &response(400, r#"{"code":"INVALID_REQUEST","message":"其他"}"#),
        )
        .unwrap_err();
        let Error::Api(api) = err else {
            panic!("{err:?}")
        };
        assert_eq!(
            api.solution.as_deref(),
            Some("原因一: 方案一; 原因二: 方案二")
        );
    }

    #[test]
    fn retryable_comes_from_the_table() {
        let err = decode_empty(
            &OP,
            &response(500, r#"{"code":"SYSTEM_ERROR","message":"x"}"#),
        )
        .unwrap_err();
        assert!(err.is_retryable());
    }

    #[test]
    fn debug_of_a_prepared_token_request_hides_the_secret() {
        let request = crate::mp::prepare_get_access_token(
            crate::mp::ClientCredentialGrantType::ClientCredential,
            "wx1234567890abcdef",
            "APPSECRET0123456789",
        )
        .unwrap();
        assert!(request.path_and_query.contains("APPSECRET0123456789"));
        let debug = format!("{request:?} {request:#?}");
        assert!(!debug.contains("APPSECRET0123456789"), "{debug}");
        assert!(!debug.contains("wx1234567890abcdef"), "{debug}");
        assert!(debug.contains("/cgi-bin/token?<redacted>"), "{debug}");
        // Without a query, the path is shown as is.
        let plain = PreparedRequest {
            operation: &OP,
            path_and_query: "/v3/x/1".into(),
            body: RequestBody::Empty,
        };
        assert!(format!("{plain:?}").contains("\"/v3/x/1\""));
    }

    #[test]
    fn debug_of_a_raw_response_hides_the_body_and_header_values() {
        let mut r = response(
            200,
            r#"{"access_token":"ACCESSTOKEN123","expires_in":7200}"#,
        );
        r.headers
            .insert("Set-Cookie", "session=COOKIEVALUE".parse().unwrap());
        let debug = format!("{r:?} {r:#?}");
        assert!(!debug.contains("ACCESSTOKEN123"), "{debug}");
        assert!(!debug.contains("COOKIEVALUE"), "{debug}");
        assert!(!debug.contains("req-1"), "{debug}");
        assert!(
            debug.contains("set-cookie") && debug.contains("200"),
            "{debug}"
        );
        assert!(
            debug.contains(&format!("{} bytes", r.body.len())),
            "{debug}"
        );
    }

    #[test]
    fn decoding_errors_do_not_quote_response_values() {
        static MP: OperationSpec = OperationSpec {
            name: "Mp",
            tag: "t",
            family: ApiFamily::MiniProgram,
            method: "GET",
            path: "/x",
            auth: Auth::None,
            success_status: 200,
            errors: &[],
        };
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Out {
            count: u32,
        }
        let err = decode_json::<Out>(&MP, &response(200, r#"{"errcode":0,"count":"oOPENID42"}"#))
            .unwrap_err();
        let text = err.to_string();
        assert!(!text.contains("oOPENID42"), "{text}");
        assert!(
            text.contains("count") && text.contains("expected u32"),
            "{text}"
        );

        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct In {
            openid: u32,
        }
        impl Validate for In {
            fn validate_at(&self, _prefix: &str) -> Result<()> {
                Ok(())
            }
        }
        let err = request_from_json::<In>(serde_json::json!({"openid": "oOPENID42"})).unwrap_err();
        let Error::Validation { field, rule } = &err else {
            panic!("{err:?}")
        };
        assert_eq!(field, "openid");
        assert_eq!(rule, "has the wrong type: expected u32");
    }

    #[test]
    fn non_json_error_body_is_unexpected_response() {
        let err = decode_empty(&OP, &response(502, "<html>bad gateway</html>")).unwrap_err();
        assert!(
            matches!(err, Error::UnexpectedResponse { status: 502, .. }),
            "{err:?}"
        );
    }
}
