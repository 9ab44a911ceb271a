//! WeChat Pay error answers: HTTP status + `{"code","message","detail"}`, mapped to
//! [`Error::Api`] with the documented solution, and which of them are sent again.

use crate::error::{ApiError, Error};
use crate::http::{RawResponse, ResponseVerdict};
use crate::operation::{documented, Documented, ErrorDoc, ErrorKey, OperationSpec};

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
        op.error_docs()
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
    // The server's own `Retry-After` (429, 503) wins over the documents' general delay.
    let retry_after =
        crate::http::retry_after(&response.headers, std::time::SystemTime::now()).or(retry_after);
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
        sign_diagnosis: None,
    }
    .into()
}

/// 5xx (SYSTEM_ERROR, or a proxy's 502/503/504): retry, on the backup host when failover is
/// on. 429 FREQUENCY_LIMITED: retry the same host after a backoff. A 4xx that the operation's
/// error table marks retryable (SetCouponNotify's `400 SYSTEM_ERROR`: 请使用相同参数稍后重新调用)
/// is retried too. Everything else is final (it would fail the same way again).
pub(crate) fn pay_verdict(op: &OperationSpec, response: &RawResponse) -> ResponseVerdict {
    match response.status {
        s if retryable_status(s) && s >= 500 => ResponseVerdict::RetryElsewhere,
        s if retryable_status(s) => ResponseVerdict::Retry,
        400..=499 if documented_retryable(op, response) => ResponseVerdict::Retry,
        _ => ResponseVerdict::Final,
    }
}

fn documented_retryable(op: &OperationSpec, response: &RawResponse) -> bool {
    #[derive(serde::Deserialize)]
    struct Code {
        code: String,
    }
    let Ok(Code { code }) = serde_json::from_slice::<Code>(&response.body) else {
        return false;
    };
    op.error_docs().any(|doc| {
        doc.retry_now()
            && matches!(doc.key, ErrorKey::Pay { status, code: c } if status == response.status && c == code)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pay::specs::{MODIFY_STOCK_INFO, SET_COUPON_NOTIFY};

    fn answer(status: u16, body: &str) -> RawResponse {
        RawResponse {
            status,
            headers: http::HeaderMap::new(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn documented_retryable_4xx_is_retried_and_other_4xx_are_final() {
        // doc 02: 400 SYSTEM_ERROR 系统错误 → 请使用相同参数稍后重新调用
        let busy = answer(400, r#"{"code":"SYSTEM_ERROR","message":"系统错误"}"#);
        assert!(matches!(
            pay_verdict(&SET_COUPON_NOTIFY, &busy),
            ResponseVerdict::Retry
        ));
        // doc 04 does not list 400 SYSTEM_ERROR for ModifyStockInfo.
        assert!(matches!(
            pay_verdict(&MODIFY_STOCK_INFO, &busy),
            ResponseVerdict::Final
        ));
        let param = answer(400, r#"{"code":"PARAM_ERROR","message":"参数错误"}"#);
        assert!(matches!(
            pay_verdict(&SET_COUPON_NOTIFY, &param),
            ResponseVerdict::Final
        ));
        assert!(matches!(
            pay_verdict(&MODIFY_STOCK_INFO, &answer(503, "")),
            ResponseVerdict::RetryElsewhere
        ));
        assert!(matches!(
            pay_verdict(&MODIFY_STOCK_INFO, &answer(429, "")),
            ResponseVerdict::Retry
        ));
    }
}
