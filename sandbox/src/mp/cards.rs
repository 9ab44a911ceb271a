//! The wx.addCard stand-in (`POST /sandbox/card/add`): what the mini-program front end and
//! WeChat's server do when a user claims cards, so tests can run claim → decrypt → openCard.
//!
//! Facts (each check below names its source):
//! - wx.addCard's parameters and success result: https://developers.weixin.qq.com/miniprogram/dev/api/open-api/card/wx.addCard.html
//!   (document 03): `cardList[{cardId, cardExt}]`, cardExt a JSON *string*; the success callback
//!   gives `cardList[{code (encrypted), cardId, cardExt (as passed), isSuccess}]`; failures are
//!   `addCard:fail (detail message)`.
//! - 卡券签名 and cardExt (JS-SDK 附录4 "卡券扩展字段及签名生成算法", Official Account docs):
//!   SHA1 over the lexicographically sorted concatenation of the values of api_ticket,
//!   timestamp, card_id, code, openid, nonce_str (absent ones left out); fixed_begintimestamp
//!   and outer_str are not signed; timestamp "最终需要转换为字符串形式" (so the decimal text is
//!   what is signed, whether the JSON holds a string or a number); "不同添加请求的 nonce_str 须
//!   动态生成,若重复将会导致领取失败"; a code "只能被领一次".
//! - The api_ticket must be the one of the Official Account that created the card (guide
//!   "小程序内领取卡券", https://developers.weixin.qq.com/doc/service/en/guide/product/card/Coupons-Mini_Program_Start_Up.html:
//!   "The api_ticket in the signature involved in the wx.addcard interface must be …" obtained by
//!   the Official Account that created the card; the encrypted code is decoded with the decode
//!   API on that account).
//!
//! UNCONFIRMED (the sandbox's conservative choices): a refused item is reported per item with
//! `isSuccess: false` (and the call's `errMsg` is `addCard:fail …` when no item succeeded); the
//! timestamp window (at most 7200 s old — the ticket's life — and 300 s ahead, on the real
//! clock); the signature compared as lower-case hex; a used nonce_str is remembered per owner
//! account.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use super::crypto::sha1_hex;
use super::state::{CardAddVerdict, CardClaim, CardRegistration, Inner, MpState};

type St = State<Arc<MpState>>;

/// How old a cardExt timestamp may be (UNCONFIRMED: the api_ticket's lifetime).
pub const CARD_EXT_MAX_AGE_SECS: i64 = 7200;
/// How far ahead of the clock a cardExt timestamp may be (UNCONFIRMED).
pub const CARD_EXT_MAX_AHEAD_SECS: i64 = 300;

fn bad_request(msg: impl Into<String>) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "error": msg.into() })),
    )
        .into_response()
}

/// Why one item is refused.
struct Refusal {
    reason: &'static str,
    detail: String,
}

fn refuse(reason: &'static str, detail: impl Into<String>) -> Refusal {
    Refusal {
        reason,
        detail: detail.into(),
    }
}

/// The 卡券签名 over the values given (absent ones already left out).
pub fn card_signature(values: &[&str]) -> String {
    let mut sorted: Vec<&str> = values.to_vec();
    sorted.sort_unstable();
    sha1_hex(sorted.concat().as_bytes())
}

/// An optional string member of cardExt.
fn opt_str(ext: &Map<String, Value>, key: &str) -> Result<Option<String>, Refusal> {
    match ext.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(refuse(
            "bad_card_ext",
            format!("cardExt.{key} must be a string, got {other}"),
        )),
    }
}

/// One cardList item: the claim, or why it is refused.
fn claim_one(
    inner: &mut Inner,
    st: &MpState,
    card_id: &str,
    card_ext_text: &str,
    user_openid: Option<&str>,
    real_now: i64,
) -> Result<CardClaim, Refusal> {
    let Some(card) = inner.cards.get(card_id) else {
        return Err(refuse(
            "unknown_card",
            format!("no card {card_id:?} (register it with POST /sandbox/mp/cards)"),
        ));
    };
    let owner = card.owner_appid.clone();
    let (custom_code, bind_openid) = (card.custom_code, card.bind_openid);
    let ext: Map<String, Value> = match serde_json::from_str::<Value>(card_ext_text) {
        Ok(Value::Object(m)) => m,
        _ => {
            return Err(refuse(
                "bad_card_ext",
                "cardExt is not a JSON object serialized as a string",
            ))
        }
    };
    // timestamp: required; a JSON string of digits or a JSON integer: its decimal text is signed.
    let timestamp = match ext.get("timestamp") {
        Some(Value::String(s)) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.clone()
        }
        Some(Value::Number(n)) if n.as_i64().is_some() => n.to_string(),
        Some(other) => {
            return Err(refuse(
                "bad_card_ext",
                format!("cardExt.timestamp must be Unix seconds (string or integer), got {other}"),
            ))
        }
        None => return Err(refuse("bad_card_ext", "cardExt.timestamp is missing")),
    };
    let signature = match opt_str(&ext, "signature")? {
        Some(s) => s,
        None => return Err(refuse("bad_card_ext", "cardExt.signature is missing")),
    };
    let code = opt_str(&ext, "code")?;
    let openid = opt_str(&ext, "openid")?;
    let nonce_str = opt_str(&ext, "nonce_str")?;
    let outer_str = opt_str(&ext, "outer_str")?;
    let fixed_begintimestamp = match ext.get("fixed_begintimestamp") {
        None | Some(Value::Null) => None,
        Some(v @ Value::Number(_)) => Some(v.clone()),
        Some(Value::String(s)) if s.bytes().all(|b| b.is_ascii_digit()) && !s.is_empty() => {
            Some(Value::String(s.clone()))
        }
        Some(other) => {
            return Err(refuse(
                "bad_card_ext",
                format!("cardExt.fixed_begintimestamp must be Unix seconds, got {other}"),
            ))
        }
    };
    if nonce_str.as_ref().is_some_and(|n| n.chars().count() > 32) {
        return Err(refuse(
            "bad_card_ext",
            "cardExt.nonce_str is longer than 32",
        ));
    }
    let ts: i64 = timestamp.parse().unwrap_or(i64::MAX);
    if ts < real_now - CARD_EXT_MAX_AGE_SECS || ts > real_now + CARD_EXT_MAX_AHEAD_SECS {
        return Err(refuse(
            "timestamp",
            format!(
                "cardExt.timestamp {ts} is not within [-{CARD_EXT_MAX_AGE_SECS}s, +{CARD_EXT_MAX_AHEAD_SECS}s] of now ({real_now})"
            ),
        ));
    }

    // The signature: over the OWNER's wx_card ticket (current or an earlier one still valid).
    let mut values: Vec<&str> = vec![timestamp.as_str(), card_id];
    for v in [&code, &openid, &nonce_str].into_iter().flatten() {
        values.push(v.as_str());
    }
    let signed_with = |appid: &str| {
        inner
            .live_tickets(appid, "wx_card")
            .into_iter()
            .any(|ticket| {
                let mut all = values.clone();
                all.push(ticket.as_str());
                card_signature(&all) == signature
            })
    };
    if !signed_with(&owner) {
        let other = inner
            .accounts
            .keys()
            .find(|a| **a != owner && signed_with(a))
            .cloned();
        let detail = match other {
            Some(a) => format!(
                "cardExt is signed with the wx_card api_ticket of {a}, not of the card's owner \
                 {owner} (the Official Account that created the card)"
            ),
            None => format!(
                "signature {signature:?} is not SHA1 over the sorted values of the owner's \
                 ({owner}) current wx_card api_ticket, timestamp {timestamp:?}, card_id, code, \
                 openid, nonce_str"
            ),
        };
        return Err(refuse("signature", detail));
    }

    match (custom_code, &code) {
        (Some(true), None) => {
            return Err(refuse(
                "code",
                "the card uses custom codes: cardExt.code is required",
            ))
        }
        (Some(false), Some(_)) => {
            return Err(refuse(
                "code",
                "the card does not use custom codes: cardExt.code must be absent",
            ))
        }
        _ => {}
    }
    match (bind_openid, &openid) {
        (Some(true), None) => {
            return Err(refuse(
                "openid",
                "the card has bind_openid: cardExt.openid is required",
            ))
        }
        (Some(false), Some(_)) => {
            return Err(refuse(
                "openid",
                "the card has no bind_openid: cardExt.openid must be absent",
            ))
        }
        _ => {}
    }
    if let (Some(bound), Some(user)) = (&openid, user_openid) {
        if bound != user {
            return Err(refuse(
                "openid",
                format!("the card is bound to {bound}; {user} cannot claim it"),
            ));
        }
    }
    if let Some(n) = &nonce_str {
        if inner.used_nonces.contains(&(owner.clone(), n.clone())) {
            return Err(refuse(
                "nonce_reused",
                format!("nonce_str {n:?} was already used (若重复将会导致领取失败)"),
            ));
        }
    }
    let card = inner.cards.get(card_id).expect("checked above");
    if let Some(c) = &code {
        if card.claims.iter().any(|claim| claim.code == *c) {
            return Err(refuse(
                "code",
                format!("code {c:?} was already claimed (只能被领一次)"),
            ));
        }
    }

    if let Some(n) = &nonce_str {
        inner.used_nonces.insert((owner.clone(), n.clone()));
    }
    let code = code.unwrap_or_else(|| crate::keys::random_digits(12));
    let encrypt_code = st.cipher.encrypt(&code, &owner);
    let claim = CardClaim {
        code,
        encrypt_code,
        openid: openid.or(user_openid.map(str::to_owned)),
        outer_str,
        fixed_begintimestamp,
        timestamp,
        nonce_str,
        card_ext: card_ext_text.to_owned(),
        claimed_at: inner.unix_now(),
    };
    inner
        .cards
        .get_mut(card_id)
        .expect("checked above")
        .claims
        .push(claim.clone());
    Ok(claim)
}

/// `POST /sandbox/card/add {"cardList":[{"cardId","cardExt"}], "openid"?}`.
pub(crate) async fn card_add(State(st): St, body: Bytes) -> Response {
    let Ok(Value::Object(req)) = serde_json::from_slice::<Value>(&body) else {
        return bad_request("the body must be a JSON object {\"cardList\":[…], \"openid\"?}");
    };
    let Some(Value::Array(list)) = req.get("cardList") else {
        return bad_request("cardList must be an array of {cardId, cardExt}");
    };
    if list.is_empty() {
        return bad_request("cardList must not be empty");
    }
    let user_openid = match req.get("openid") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return bad_request("openid must be a string"),
    };
    let real_now = crate::util::unix_now();
    let mut inner = st.lock();
    let mut results = Vec::with_capacity(list.len());
    let mut failures = Vec::new();
    for item in list {
        let card_id = item
            .get("cardId")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        // cardExt must be a string ("需进行 JSON 序列化为字符串传入").
        let (card_ext, outcome) = match item.get("cardExt") {
            Some(Value::String(ext)) => (
                Value::String(ext.clone()),
                claim_one(
                    &mut inner,
                    &st,
                    &card_id,
                    ext,
                    user_openid.as_deref(),
                    real_now,
                ),
            ),
            other => (
                other.cloned().unwrap_or(Value::Null),
                Err(refuse(
                    "bad_card_ext",
                    "cardExt must be a string (the cardExt object serialized as JSON)",
                )),
            ),
        };
        let time = inner.unix_now();
        match outcome {
            Ok(claim) => {
                inner.counters.card_adds_accepted += 1;
                inner.card_adds.push(CardAddVerdict {
                    card_id: card_id.clone(),
                    accepted: true,
                    reason: "ok".into(),
                    detail: None,
                    time,
                });
                results.push(json!({
                    "cardId": card_id,
                    "cardExt": card_ext,
                    "code": claim.encrypt_code,
                    "isSuccess": true,
                }));
            }
            Err(refusal) => {
                *inner
                    .counters
                    .card_adds_rejected
                    .entry(refusal.reason.to_owned())
                    .or_default() += 1;
                inner.card_adds.push(CardAddVerdict {
                    card_id: card_id.clone(),
                    accepted: false,
                    reason: refusal.reason.into(),
                    detail: Some(refusal.detail.clone()),
                    time,
                });
                failures.push(refusal.detail.clone());
                results.push(json!({
                    "cardId": card_id,
                    "cardExt": card_ext,
                    "isSuccess": false,
                    // Sandbox diagnostics (not part of WeChat's answer).
                    "reason": refusal.reason,
                    "detail": refusal.detail,
                }));
            }
        }
    }
    let err_msg = if failures.len() == results.len() {
        format!("addCard:fail {}", failures.join("; "))
    } else {
        "addCard:ok".to_owned()
    };
    Json(json!({ "errMsg": err_msg, "cardList": results })).into_response()
}

/// `POST /sandbox/mp/cards {"card_id","owner_appid"?,"custom_code"?,"bind_openid"?}` → the card.
pub(crate) async fn add_card(State(st): St, body: Bytes) -> Response {
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        &body
    };
    let reg: CardRegistration = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(e) => return bad_request(format!("invalid body: {e}")),
    };
    match st.add_card(reg) {
        Ok(card) => Json(card).into_response(),
        Err(e) => bad_request(e),
    }
}

/// `GET /sandbox/mp/cards` → every card, its owner and claims.
pub(crate) async fn list_cards(State(st): St) -> Response {
    Json(st.cards()).into_response()
}

/// `GET /sandbox/mp/card_adds` → the verdict on every cardList item received.
pub(crate) async fn card_adds(State(st): St) -> Response {
    Json(st.card_adds()).into_response()
}
