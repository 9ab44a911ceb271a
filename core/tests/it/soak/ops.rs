//! The soak's operations: every operation the two clients expose, what one call of each sends
//! (a value unique to the call, so that the sandbox's state tells how many times it was
//! applied), and the outcome of a call as a kind name.

use serde_json::{json, Value};
use weixin_kit::dispatch::JsonArgs;
use weixin_kit::mp::MiniProgramClient;
use weixin_kit::pay::PayClient;
use weixin_kit::Error;

/// Every operation of the soak, in the order calls cycle through them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Op {
    /// WeChat Pay: PATCH a stock, unique `out_request_no` and `comment`.
    ModifyStockInfo,
    /// WeChat Pay: register a notify_url unique to the call.
    SetCouponNotify,
    /// WeChat Pay: upload an image whose bytes are unique to the call.
    MarketingImageUpload,
    /// WeChat Pay: `GET /v3/certificates` (download and install).
    RefreshCertificates,
    /// WeChat Pay's escape hatch `request`: ModifyStockInfo's PATCH by path, unique
    /// `out_request_no`.
    Request,
    /// Mini-program: setUserNotifyExt on the worker's own notify_code, ext_json unique to the call.
    SetUserNotifyExt,
    /// Mini-program: getUserNotify on the worker's notify_code.
    GetUserNotify,
    /// Mini-program: getTicket (`type=wx_card`) by name: the ticket as WeChat has it now.
    GetTicket,
    /// Mini-program: cardExt (signs with the card api_ticket: getTicket when none is cached).
    CardExt,
    /// Mini-program: decryptCardCode of a code encrypted for the call.
    DecryptCardCode,
    /// Mini-program: force-refresh the access token (getStableAccessToken force_refresh).
    RefreshAccessToken,
}

pub const OPS: [Op; 11] = [
    Op::ModifyStockInfo,
    Op::SetCouponNotify,
    Op::MarketingImageUpload,
    Op::RefreshCertificates,
    Op::Request,
    Op::SetUserNotifyExt,
    Op::GetUserNotify,
    Op::GetTicket,
    Op::CardExt,
    Op::DecryptCardCode,
    Op::RefreshAccessToken,
];

impl Op {
    /// Whether calling it twice has the effect of calling it once (the spec's
    /// `x-weixin-idempotent`; the escape hatch by its method, PATCH: no; a force refresh mints a
    /// token each time: no). The client must not resend the others after a failure that may
    /// have come after the server applied them.
    pub fn idempotent(self) -> bool {
        !matches!(
            self,
            Op::MarketingImageUpload | Op::Request | Op::RefreshAccessToken
        )
    }

    pub fn name(self) -> &'static str {
        match self {
            Op::ModifyStockInfo => "ModifyStockInfo",
            Op::SetCouponNotify => "SetCouponNotify",
            Op::MarketingImageUpload => "MarketingImageUpload",
            Op::RefreshCertificates => "refreshCertificates",
            Op::Request => "request (PATCH stock)",
            Op::SetUserNotifyExt => "setUserNotifyExt",
            Op::GetUserNotify => "getUserNotify",
            Op::GetTicket => "getTicket",
            Op::CardExt => "cardExt",
            Op::DecryptCardCode => "decryptCardCode",
            Op::RefreshAccessToken => "forceRefreshAccessToken",
        }
    }
}

/// The notify type every worker's code is registered with (a payment code).
pub const NOTIFY_TYPE: i32 = 2001;
/// The card cardExt and decryptCardCode use (owned by the Official Account).
pub const CARD_ID: &str = "pSoakCard0000000000000000000";

/// What one worker owns: a user and a notify_code, so that its setUserNotifyExt calls on that
/// code are sequential and "the state equals the last value applied" can be checked.
#[derive(Debug, Clone)]
pub struct Worker {
    pub id: usize,
    pub openid: String,
    pub notify_code: String,
}

impl Worker {
    pub fn new(id: usize) -> Worker {
        Worker {
            id,
            openid: format!("oSoak-worker-{id}"),
            // 28 digits, like the WeChat Pay transaction ids payment codes are.
            notify_code: format!("42000018552023050900{id:08}"),
        }
    }
}

/// What one call sends that identifies it in the sandbox's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    None,
    OutRequestNo(String),
    NotifyUrl(String),
    ImageSha256(String),
    ExtJson(String),
    CardCode { encrypted: String, code: String },
}

/// The arguments of call `n` of `op`.
pub fn key(op: Op, run: &str, n: usize, encrypt: impl FnOnce(&str) -> String) -> Key {
    match op {
        Op::ModifyStockInfo | Op::Request => Key::OutRequestNo(format!("{run}{n:08}")),
        Op::SetCouponNotify => Key::NotifyUrl(format!("http://127.0.0.1:9/notify/{run}/{n}")),
        Op::MarketingImageUpload => {
            Key::ImageSha256(weixin_kit::operation::sha256_hex(&image(run, n)))
        }
        Op::SetUserNotifyExt => Key::ExtJson(ext_json(run, n)),
        Op::DecryptCardCode => {
            let code = format!("8{n:011}");
            Key::CardCode {
                encrypted: encrypt(&code),
                code,
            }
        }
        _ => Key::None,
    }
}

/// A PNG-named image whose bytes are unique to the call.
fn image(run: &str, n: usize) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.extend_from_slice(format!("soak {run} {n}").as_bytes());
    bytes
}

fn ext_json(run: &str, n: usize) -> String {
    json!({
        "pay_info": json!({"transaction_id": format!("{run}-{n}"), "pay_amount": n, "pay_time": 1683546394}).to_string(),
    })
    .to_string()
}

fn args(v: Value) -> JsonArgs {
    JsonArgs::new(v.as_object().expect("an object").clone())
}

/// One call. `Ok` carries what a caller would check in the answer (the decrypted code).
#[allow(clippy::too_many_arguments)]
pub async fn call(
    op: Op,
    key: &Key,
    pay: &PayClient,
    mp: &MiniProgramClient,
    stock_id: &str,
    worker: &Worker,
    run: &str,
    n: usize,
) -> Result<Value, Error> {
    match (op, key) {
        (Op::ModifyStockInfo, Key::OutRequestNo(no)) => {
            pay.call(
                "ModifyStockInfo",
                args(
                    json!({"stock_id": stock_id, "out_request_no": no, "comment": format!("c{n}")}),
                ),
            )
            .await
        }
        (Op::Request, Key::OutRequestNo(no)) => {
            pay.request(
                "PATCH",
                &format!("/v3/marketing/busifavor/stocks/{stock_id}"),
                Some(json!({"out_request_no": no, "comment": format!("r{n}")})),
                // The method's meaning: PATCH is not idempotent.
                None,
            )
            .await
        }
        (Op::SetCouponNotify, Key::NotifyUrl(url)) => {
            pay.call("SetCouponNotify", args(json!({"notify_url": url})))
                .await
        }
        (Op::MarketingImageUpload, Key::ImageSha256(_)) => {
            let mut a = args(json!({"filename": format!("soak-{n}.png")}));
            a.bytes.insert("file".into(), image(run, n));
            pay.call("MarketingImageUpload", a).await
        }
        (Op::RefreshCertificates, _) => pay.refresh_certificates().await.map(|s| json!(s)),
        (Op::SetUserNotifyExt, Key::ExtJson(ext)) => {
            mp.call(
                "setUserNotifyExt",
                args(json!({"openid": worker.openid, "notify_type": NOTIFY_TYPE,
                            "notify_code": worker.notify_code, "ext_json": ext})),
            )
            .await
        }
        (Op::GetUserNotify, _) => {
            mp.call(
                "getUserNotify",
                args(json!({"openid": worker.openid, "notify_type": NOTIFY_TYPE,
                            "notify_code": worker.notify_code})),
            )
            .await
        }
        (Op::GetTicket, _) => mp.call("getTicket", args(json!({"type": "wx_card"}))).await,
        (Op::CardExt, _) => mp.call("cardExt", args(json!({"card_id": CARD_ID}))).await,
        (Op::DecryptCardCode, Key::CardCode { encrypted, .. }) => {
            mp.call("decryptCardCode", args(json!({"encrypt_code": encrypted})))
                .await
        }
        (Op::RefreshAccessToken, _) => mp.force_refresh_access_token().await.map(|_| Value::Null),
        (op, key) => unreachable!("{op:?} has no key {key:?}"),
    }
}

/// The kind of an error: its variant, with the status and code (WeChat Pay) or the errcode
/// (mini-program) — the name a caller would branch on.
pub fn kind(e: &Error) -> String {
    match e {
        Error::Api(api) => format!("Api {} {}", api.status, api.code),
        Error::MiniProgram(m) => format!("MiniProgram {}", m.errcode),
        Error::UnexpectedResponse { status, .. } => format!("UnexpectedResponse {status}"),
        Error::Transport { .. } | Error::Timeout { .. } if e.may_have_been_applied() => {
            format!("{} (may have been applied)", variant(e))
        }
        // Variants added later (the enum is non_exhaustive) show under their own name.
        other => variant(other),
    }
}

fn variant(e: &Error) -> String {
    format!("{e:?}")
        .split([' ', '{', '('])
        .next()
        .unwrap_or("?")
        .to_owned()
}

/// True for an error that says the call was not applied: a failure before sending, or an
/// answer that refused it (for an operation that is never resent after it may have been
/// applied, the last answer speaks for the whole call). Transport and Timeout errors say it with `may_have_been_applied`;
/// a Signature error comes with an answer that cannot be trusted (the change may be applied).
pub fn says_not_applied(e: &Error) -> bool {
    match e {
        Error::Transport { .. } | Error::Timeout { .. } => !e.may_have_been_applied(),
        Error::Signature { .. } => false,
        Error::Api(_) | Error::MiniProgram(_) | Error::Validation { .. } | Error::Config { .. } => {
            true
        }
        _ => false,
    }
}
