//! What the spec says about an operation ([`OperationSpec`]) and its documented error table
//! ([`ErrorDoc`]), and the lookup of the rows an error answer matches ([`documented`]).

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
    /// `component_access_token` query parameter: the third-party platform's (第三方平台) own
    /// token, injected by the component client (`crate::component`).
    ComponentAccessToken,
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
    /// The spec's `x-weixin-idempotent`: sending the same request twice has the effect of
    /// sending it once, so it may be sent again after a failure that came after the server may
    /// have received it (see [`crate::http::Outgoing::idempotent`]).
    pub idempotent: bool,
    /// The documented success status (204 for ModifyStockInfo).
    pub success_status: u16,
    /// The family's shared rows (the generated `COMMON_ERRORS`) when the operation's documented
    /// table includes them, else empty. Looked up before [`errors`](Self::errors).
    pub common_errors: &'static [ErrorDoc],
    /// The operation's own rows (its whole table when `common_errors` is empty).
    pub errors: &'static [ErrorDoc],
}

impl OperationSpec {
    /// The whole documented error table: the shared rows, then the operation's own.
    pub fn error_docs(&self) -> impl Iterator<Item = &'static ErrorDoc> {
        self.common_errors.iter().chain(self.errors.iter())
    }
}

/// What the error table says about an error response.
pub(crate) struct Documented {
    pub solution: Option<String>,
    pub advice: Option<String>,
    pub retryable: bool,
    pub retry_after: Option<std::time::Duration>,
}

/// The solution text for the matching rows: the row whose description is the server's message,
/// else every row's "description: solution" (one code can stand for several documented causes).
pub(crate) fn documented(rows: &[&ErrorDoc], message: &str) -> Documented {
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
