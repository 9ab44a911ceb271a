//! The pushes to the platform's 授权事件接收 URL, made as WeChat makes them: the event XML
//! (验证票据 / 授权变更通知, fields below) encrypted with WXBizMsgCrypt ([`super::crypto`]),
//! inside the envelope `<xml><AppId><![CDATA[…]]></AppId><Encrypt><![CDATA[…]]></Encrypt></xml>`,
//! POSTed with the query `timestamp`, `nonce`, `encrypt_type=aes`, `msg_signature` (over token,
//! timestamp, nonce, Encrypt) and `signature` (over token, timestamp, nonce). The platform
//! answers the plain text `success` ("接收 POST 请求后,只需直接返回字符串 success").
//!
//! Event fields (decrypted), from WeChat's pages:
//! - component_verify_ticket: `AppId`, `CreateTime`, `InfoType`, `ComponentVerifyTicket`
//!   (验证票据, https://developers.weixin.qq.com/doc/oplatform/en/Third-party_Platforms/2.0/api/Before_Develop/component_verify_ticket.html);
//! - authorized / updateauthorized: `AppId`, `CreateTime`, `InfoType`, `AuthorizerAppid`,
//!   `AuthorizationCode`, `AuthorizationCodeExpiredTime`, `PreAuthCode`; unauthorized: `AppId`,
//!   `CreateTime`, `InfoType`, `AuthorizerAppid` (授权变更通知推送,
//!   https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/Before_Develop/authorize_event.html).
//!   AuthorizationCodeExpiredTime is sent as Unix seconds (the page says "授权码过期时间 单位秒"
//!   without saying absolute or relative: UNCONFIRMED).

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::crypto::{signature, MsgCipher};
use super::state::ComponentState;
use crate::keys;

/// One push and what the receiver answered. Serializes in full (the control API's answer);
/// `Debug` leaves out the plaintext and the envelope (they hold a verify ticket or an
/// authorization code).
#[derive(Clone, Serialize, Deserialize, PartialEq)]
pub struct PushDelivery {
    /// `component_verify_ticket`, `authorized`, `updateauthorized`, `unauthorized`.
    pub info_type: String,
    /// The URL POSTed to, query included ("" when no push URL is configured).
    pub url: String,
    pub create_time: i64,
    pub timestamp: String,
    pub nonce: String,
    pub msg_signature: String,
    pub signature: String,
    /// The request body as sent.
    pub envelope: String,
    /// The event XML before encryption (holds the ticket or the code: a sandbox diagnostic).
    pub plaintext: String,
    /// The receiver's HTTP status (absent: no answer).
    pub status: Option<u16>,
    /// The receiver's body, at most 256 bytes.
    pub response: Option<String>,
    /// HTTP 2xx and the body `success`.
    pub delivered: bool,
    pub error: Option<String>,
    pub elapsed_ms: u64,
}

impl std::fmt::Debug for PushDelivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushDelivery")
            .field("info_type", &self.info_type)
            .field("url", &self.url)
            .field("create_time", &self.create_time)
            .field(
                "plaintext",
                &format_args!("<{} bytes>", self.plaintext.len()),
            )
            .field("status", &self.status)
            .field("response", &self.response)
            .field("delivered", &self.delivered)
            .field("error", &self.error)
            .field("elapsed_ms", &self.elapsed_ms)
            .finish_non_exhaustive()
    }
}

fn cdata(name: &str, value: &str) -> String {
    // "]]>" cannot occur in what the sandbox puts here (appids, codes, tickets, info types).
    format!("<{name}><![CDATA[{value}]]></{name}>")
}

/// The event XML: `<xml><AppId>…</AppId><CreateTime>…</CreateTime><InfoType>…</InfoType>…</xml>`.
pub(crate) fn event_xml(
    component_appid: &str,
    create_time: i64,
    info_type: &str,
    fields: &[(&str, String)],
) -> String {
    let mut xml = String::from("<xml>");
    xml.push_str(&cdata("AppId", component_appid));
    xml.push_str(&format!("<CreateTime>{create_time}</CreateTime>"));
    xml.push_str(&cdata("InfoType", info_type));
    for (name, value) in fields {
        if value.chars().all(|c| c.is_ascii_digit()) && !value.is_empty() {
            xml.push_str(&format!("<{name}>{value}</{name}>"));
        } else {
            xml.push_str(&cdata(name, value));
        }
    }
    xml.push_str("</xml>");
    xml
}

/// Encrypts and POSTs one event, records the delivery and returns it. Never fails: a missing
/// push URL or an unreachable receiver is a recorded, undelivered push.
pub(crate) async fn push(
    state: &ComponentState,
    info_type: &str,
    create_time: i64,
    fields: &[(&str, String)],
) -> PushDelivery {
    let s = state.settings();
    let plaintext = event_xml(&s.component_appid, create_time, info_type, fields);
    let cipher = MsgCipher::new(s.encoding_aes_key.expose())
        .expect("configure() only accepts valid EncodingAESKeys");
    let encrypt = cipher.encrypt(plaintext.as_bytes(), &s.component_appid);
    let envelope = format!(
        "<xml>{}{}</xml>",
        cdata("AppId", &s.component_appid),
        cdata("Encrypt", &encrypt)
    );
    let timestamp = crate::util::unix_now().to_string();
    // WeChat's nonces are decimal digits.
    let nonce = keys::random_digits(10);
    let token = s.token.expose();
    let msg_signature = signature(&[token, &timestamp, &nonce, &encrypt]);
    let url_signature = signature(&[token, &timestamp, &nonce]);
    let mut delivery = PushDelivery {
        info_type: info_type.to_owned(),
        url: String::new(),
        create_time,
        timestamp: timestamp.clone(),
        nonce: nonce.clone(),
        msg_signature: msg_signature.clone(),
        signature: url_signature.clone(),
        envelope: envelope.clone(),
        plaintext,
        status: None,
        response: None,
        delivered: false,
        error: None,
        elapsed_ms: 0,
    };
    match &s.push_url {
        None => {
            delivery.error = Some(
                "no push URL configured (POST /sandbox/component/config {\"push_url\"})".into(),
            )
        }
        Some(base) => {
            let sep = if base.contains('?') { '&' } else { '?' };
            let url = format!(
                "{base}{sep}signature={url_signature}&timestamp={timestamp}&nonce={nonce}&encrypt_type=aes&msg_signature={msg_signature}"
            );
            delivery.url = url.clone();
            let started = Instant::now();
            let result = state
                .client
                .post(&url)
                .timeout(Duration::from_secs(5))
                .header("Content-Type", "text/xml")
                .header("User-Agent", "Mozilla/4.0 (weixin-kit-sandbox)")
                .body(envelope)
                .send()
                .await;
            match result {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let body = resp.bytes().await.unwrap_or_default();
                    let text = String::from_utf8_lossy(&body[..body.len().min(256)]).into_owned();
                    delivery.delivered = (200..300).contains(&status) && text.trim() == "success";
                    delivery.status = Some(status);
                    delivery.response = Some(text);
                }
                Err(e) => delivery.error = Some(e.to_string()),
            }
            delivery.elapsed_ms = started.elapsed().as_millis() as u64;
        }
    }
    state.record_push(&delivery);
    delivery
}

/// Mints a ticket and pushes it.
pub async fn push_ticket(state: &ComponentState) -> PushDelivery {
    let (ticket, create_time) = state.new_ticket();
    push(
        state,
        "component_verify_ticket",
        create_time,
        &[("ComponentVerifyTicket", ticket)],
    )
    .await
}

/// The background ticket pusher: every `ticket_interval_secs` (re-read each round) while a push
/// URL is configured.
pub(crate) async fn ticket_loop(state: std::sync::Arc<ComponentState>) {
    loop {
        let s = state.settings();
        match (s.ticket_interval_secs, s.push_url) {
            (Some(secs), Some(_)) => {
                tokio::time::sleep(Duration::from_secs(secs)).await;
                let s = state.settings();
                if s.ticket_interval_secs.is_some() && s.push_url.is_some() {
                    push_ticket(&state).await;
                }
            }
            _ => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}
