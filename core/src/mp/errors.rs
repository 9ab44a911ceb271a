//! Mini-program error answers: `{"errcode","errmsg"}` with errcode ≠ 0 (usually under HTTP
//! 200), mapped to [`Error::MiniProgram`] with the documented solution; the errcodes the client
//! acts on; and which answers are sent again.

use std::time::Duration;

use crate::error::{json_error, Error, MiniProgramError, Result};
use crate::http::{RawResponse, ResponseVerdict};
use crate::operation::{documented, Documented, ErrorDoc, ErrorKey, OperationSpec};

pub(crate) fn check_errcode(op: &'static OperationSpec, response: &RawResponse) -> Result<()> {
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
        .error_docs()
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

/// Service-card notify types whose notify_code comes from the front end (a `liveActivity`
/// button; WeChat's guide 新版一次性订阅消息开发指南 1.1 and 1.4,
/// https://developers.weixin.qq.com/miniprogram/dev/framework/open-ability/subscribe-message-2.html).
/// Such a code must be activated within 5 minutes of being obtained and can be updated for 24 h;
/// codes of the other types (2001–2011) are WeChat Pay transaction ids, which may need about a
/// minute after payment before WeChat can verify them.
pub const FRONTEND_NOTIFY_TYPES: &[i64] = &[1001, 1003, 1004, 1005];

/// An 85437 for a front-end notify_code: the documents' "retry in about a minute" is about
/// transaction ids and would only burn the code's 5-minute window, so the error carries no
/// delay and says what helps instead.
pub(crate) fn frontend_code_not_found(mut error: MiniProgramError) -> MiniProgramError {
    error.retryable = false;
    error.retry_after = None;
    error.advice = Some(
        "This notify_type's notify_code comes from the front end: it must be activated within 5 \
         minutes of being obtained and can be updated for 24 h (新版一次性订阅消息开发指南 1.4). \
         Waiting does not help: check the code, openid and notify_type, or get a new code."
            .into(),
    );
    error
}

/// The `notify_type` a JSON request body carries, if any.
pub(crate) fn notify_type_of(body: &[u8]) -> Option<i64> {
    #[derive(serde::Deserialize)]
    struct Body {
        notify_type: Option<i64>,
    }
    serde_json::from_slice::<Body>(body).ok()?.notify_type
}

/// Mini-program errcodes the client acts on.
pub mod errcode {
    /// 系统繁忙: retried with backoff (bounded).
    pub const SYSTEM_BUSY: i64 = -1;
    /// access_token invalid or not the latest: compare-and-expire, refresh, retry once.
    pub const INVALID_CREDENTIAL: i64 = 40001;
    /// access_token malformed: handled like 40001.
    pub const INVALID_ACCESS_TOKEN: i64 = 40014;
    /// access_token expired: handled like 40001.
    pub const ACCESS_TOKEN_EXPIRED: i64 = 42001;
    /// Service cards' "system error": retried with backoff (bounded).
    pub const SERVICE_CARD_SYSTEM_ERROR: i64 = 85431;
    /// notify_code does not exist (yet): see [`super::NOTIFY_CODE_RETRY_AFTER`].
    pub const NOTIFY_CODE_NOT_FOUND: i64 = 85437;

    /// The errcodes that mean "this access token is no good".
    pub fn is_token_rejected(code: i64) -> bool {
        matches!(
            code,
            INVALID_CREDENTIAL | INVALID_ACCESS_TOKEN | ACCESS_TOKEN_EXPIRED
        )
    }
}

/// How long after payment a WeChat Pay transaction id used as notify_code may take before
/// WeChat can verify it: the documents advise retrying an 85437 after 1 minute.
pub const NOTIFY_CODE_RETRY_AFTER: Duration = Duration::from_secs(60);

impl MiniProgramError {
    /// 40001 / 42001 / 40014: the access token was rejected. The client has already expired it
    /// (compare-and-expire), refreshed once and retried once when you see this.
    pub fn is_access_token_rejected(&self) -> bool {
        errcode::is_token_rejected(self.errcode)
    }

    /// 85437 (notify_code 不存在): when the notify_code is a WeChat Pay transaction id, it may
    /// only become valid about a minute after payment — retry after
    /// [`NOTIFY_CODE_RETRY_AFTER`], not at once (`retry_after` says so; for a front-end code,
    /// [`FRONTEND_NOTIFY_TYPES`], it is `None`: waiting does not help there).
    pub fn is_notify_code_not_ready(&self) -> bool {
        self.errcode == errcode::NOTIFY_CODE_NOT_FOUND
    }

    /// How long the documents say to wait before sending the same request again, when they
    /// say so (the spec's `retry_after_secs`): 60 s for 85437 and 45011.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }
}

/// 5xx: retry (there is no backup host for the mini-program APIs). 429: retry after a backoff.
/// HTTP 200 with errcode -1 or one the operation's table marks retryable (85431, 85449), except
/// the per-minute quota 45011: retry. Everything else is final.
pub(crate) fn verdict(op: &OperationSpec, response: &RawResponse) -> ResponseVerdict {
    match response.status {
        500..=599 => ResponseVerdict::RetryElsewhere,
        429 => ResponseVerdict::Retry,
        200..=299 => match errcode_of(response) {
            Some(code) if retryable_errcode(op, code) => ResponseVerdict::Retry,
            _ => ResponseVerdict::Final,
        },
        _ => ResponseVerdict::Final,
    }
}

/// The operation's error table decides: retryable rows without a documented delay
/// (-1, 85431, 85449) are retried at once; 45011 ("retry next minute") and 85437 (~1 minute
/// after payment) carry `retry_after_secs` and are left to the caller.
fn retryable_errcode(op: &OperationSpec, code: i64) -> bool {
    op.error_docs()
        .any(|doc| doc.retry_now() && doc.key == ErrorKey::MiniProgram { errcode: code })
}

/// The errcode of a 2xx JSON body, when it has a non-zero one.
pub(crate) fn errcode_of(response: &RawResponse) -> Option<i64> {
    #[derive(serde::Deserialize)]
    struct Head {
        #[serde(default)]
        errcode: i64,
    }
    if !(200..300).contains(&response.status) {
        return None;
    }
    serde_json::from_slice::<Head>(&response.body)
        .ok()
        .map(|h| h.errcode)
        .filter(|&c| c != 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mp::specs;
    use crate::operation::decode_empty;
    use http::HeaderMap;

    fn answer(status: u16, body: &str) -> RawResponse {
        RawResponse {
            status,
            headers: HeaderMap::new(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn verdicts() {
        let op = &specs::SET_USER_NOTIFY_EXT;
        let v = |status, body| verdict(op, &answer(status, body));
        assert_eq!(v(200, r#"{"errcode":0}"#), ResponseVerdict::Final);
        assert_eq!(v(200, r#"{"errcode":85431}"#), ResponseVerdict::Retry);
        assert_eq!(v(200, r#"{"errcode":-1}"#), ResponseVerdict::Retry);
        assert_eq!(v(200, r#"{"errcode":40001}"#), ResponseVerdict::Final);
        assert_eq!(v(200, r#"{"errcode":85437}"#), ResponseVerdict::Final);
        assert_eq!(v(502, "bad gateway"), ResponseVerdict::RetryElsewhere);
        assert_eq!(v(429, ""), ResponseVerdict::Retry);
        assert_eq!(v(404, ""), ResponseVerdict::Final);
        // The minute quota is documented retryable ("retry next minute"), but not at once.
        assert_eq!(
            verdict(
                &specs::GET_STABLE_ACCESS_TOKEN,
                &answer(200, r#"{"errcode":45011}"#)
            ),
            ResponseVerdict::Final
        );
    }

    #[test]
    fn notify_code_error_explains_the_minute() {
        let e = decode_empty(
            &specs::SET_USER_NOTIFY_EXT,
            &answer(200, r#"{"errcode":85437,"errmsg":"invalid notify_code"}"#),
        )
        .unwrap_err();
        let Error::MiniProgram(e) = e else {
            panic!("{e:?}")
        };
        assert!(e.is_notify_code_not_ready());
        assert_eq!(e.retry_after(), Some(Duration::from_secs(60)));
        let advice = e.advice.unwrap();
        assert!(advice.contains("1 minute") && advice.contains("1分钟"));
    }
}
