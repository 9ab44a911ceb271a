//! What the open platform pushes to a third-party platform's "authorization event URL"
//! (授权事件接收URL): the verify ticket every 10 minutes (验证票据) and authorization changes
//! (授权变更通知推送), each an XML envelope `<xml><AppId/><Encrypt/></xml>` encrypted with
//! [`MsgCrypt`], answered with the plain text `success`.
//!
//! Field names and InfoType values, as WeChat's open-platform documentation ("验证票据",
//! "授权变更通知推送", developers.weixin.qq.com/doc/oplatform/…) and the SDKs read them: wechatpy
//! `wechatpy/messages.py` (`ComponentVerifyTicketMessage` `ComponentVerifyTicket`;
//! `ComponentAuthorizedMessage` / `ComponentUpdateAuthorizedMessage` `AuthorizerAppid`,
//! `AuthorizationCode`, `AuthorizationCodeExpiredTime`, `PreAuthCode`;
//! `ComponentUnauthorizedMessage` `AuthorizerAppid`; common `AppId`, `CreateTime`, `InfoType`),
//! used by `wechatpy/component.py` `parse_message`; WxJava `WxOpenXmlMessage` (the same
//! `@XStreamAlias` names); chanxuehong/wechat `mp/component/component_notification.go`.
//! InfoType: `component_verify_ticket`, `authorized`, `updateauthorized`, `unauthorized`; any
//! other (e.g. `notify_third_fasteregister`) is [`ComponentPush::Other`].

use std::collections::BTreeMap;

use quick_xml::events::Event;
use quick_xml::Reader;
use serde_json::{json, Value};

use super::msg_crypt::MsgCrypt;
use crate::{Error, Result, SecretString};

/// Bodies larger than this are refused before parsing (a push is well under 2 KiB).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// An authorization change: `authorized` (授权成功), `updateauthorized` (授权更新) or
/// `unauthorized` (取消授权, without a code). `Debug` redacts the authorization code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorizationEvent {
    /// The third-party platform's component appid (`AppId`).
    pub app_id: String,
    /// `CreateTime`, Unix seconds.
    pub create_time: i64,
    /// The mini program or official account that (un)authorized (`AuthorizerAppid`).
    pub authorizer_appid: String,
    /// `AuthorizationCode`: exchanged for the authorizer's tokens with `api_query_auth`.
    pub authorization_code: Option<SecretString>,
    /// `AuthorizationCodeExpiredTime`, Unix seconds.
    pub authorization_code_expired_time: Option<i64>,
    /// `PreAuthCode`: the pre-authorization code the authorization went through.
    pub pre_auth_code: Option<String>,
}

/// A decrypted, typed push.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ComponentPush {
    /// `component_verify_ticket`: the ticket for `api_component_token`.
    VerifyTicket {
        app_id: String,
        create_time: i64,
        ticket: SecretString,
    },
    Authorized(AuthorizationEvent),
    UpdateAuthorized(AuthorizationEvent),
    Unauthorized(AuthorizationEvent),
    /// Any other InfoType (the fields beyond these are not kept).
    Other {
        info_type: String,
        app_id: String,
        create_time: i64,
    },
}

impl ComponentPush {
    /// The push's `InfoType`.
    pub fn info_type(&self) -> &str {
        match self {
            ComponentPush::VerifyTicket { .. } => "component_verify_ticket",
            ComponentPush::Authorized(_) => "authorized",
            ComponentPush::UpdateAuthorized(_) => "updateauthorized",
            ComponentPush::Unauthorized(_) => "unauthorized",
            ComponentPush::Other { info_type, .. } => info_type,
        }
    }

    /// The event for the bindings: `info_type`, `app_id`, `create_time` and the event's fields.
    /// Never the verify ticket (`ticket_received: true` instead); the authorization code is
    /// included (the app exchanges it).
    pub fn to_json(&self) -> Value {
        match self {
            ComponentPush::VerifyTicket {
                app_id,
                create_time,
                ..
            } => json!({
                "info_type": self.info_type(),
                "app_id": app_id,
                "create_time": create_time,
                "ticket_received": true,
            }),
            ComponentPush::Authorized(e)
            | ComponentPush::UpdateAuthorized(e)
            | ComponentPush::Unauthorized(e) => json!({
                "info_type": self.info_type(),
                "app_id": e.app_id,
                "create_time": e.create_time,
                "authorizer_appid": e.authorizer_appid,
                "authorization_code": e.authorization_code.as_ref().map(SecretString::expose),
                "authorization_code_expired_time": e.authorization_code_expired_time,
                "pre_auth_code": e.pre_auth_code,
            }),
            ComponentPush::Other {
                info_type,
                app_id,
                create_time,
            } => json!({
                "info_type": info_type,
                "app_id": app_id,
                "create_time": create_time,
            }),
        }
    }
}

/// The push URL's query: `timestamp`, `nonce`, `msg_signature` and `encrypt_type` (which must
/// be `aes`). The plain `signature` WeChat also sends is not used (`msg_signature` covers
/// `Encrypt`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushQuery {
    pub timestamp: String,
    pub nonce: String,
    pub msg_signature: String,
}

impl PushQuery {
    /// From the raw query string (`a=b&c=d`, percent-encoded, with or without a leading `?`).
    pub fn parse(query: &str) -> Result<Self> {
        let query = query.strip_prefix('?').unwrap_or(query);
        let pairs = query.split('&').filter(|p| !p.is_empty()).map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode_component(name), decode_component(value))
        });
        Self::from_pairs(pairs)
    }

    /// From name → value pairs, as a web framework hands them over. A repeated name keeps the
    /// first value.
    pub fn from_pairs<K: AsRef<str>, V: AsRef<str>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self> {
        let mut found: BTreeMap<&'static str, String> = BTreeMap::new();
        for (name, value) in pairs {
            let wanted = ["timestamp", "nonce", "msg_signature", "encrypt_type"];
            if let Some(n) = wanted.iter().find(|w| **w == name.as_ref()) {
                found.entry(n).or_insert_with(|| value.as_ref().to_owned());
            }
        }
        let mut take = |name: &'static str| {
            found
                .remove(name)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| validation(name, "missing from the push URL's query"))
        };
        let timestamp = take("timestamp")?;
        let nonce = take("nonce")?;
        let msg_signature = take("msg_signature")?;
        let encrypt_type = take("encrypt_type")?;
        if encrypt_type != "aes" {
            return Err(validation(
                "encrypt_type",
                format!(
                    "must be \"aes\" (safe mode, 安全模式: the only mode of open-platform pushes); got {:?}",
                    truncated(&encrypt_type)
                ),
            ));
        }
        Ok(PushQuery {
            timestamp,
            nonce,
            msg_signature,
        })
    }
}

fn decode_component(text: &str) -> String {
    let text = text.replace('+', " ");
    percent_encoding::percent_decode_str(&text)
        .decode_utf8_lossy()
        .into_owned()
}

fn truncated(text: &str) -> String {
    text.chars().take(32).collect()
}

fn validation(field: &str, rule: impl Into<String>) -> Error {
    Error::Validation {
        field: field.into(),
        rule: rule.into(),
    }
}

/// Verifies, decrypts and types a push: `body` is the raw POST body (the XML envelope), at most
/// [`MAX_BODY_BYTES`]. Errors: [`Error::Validation`] for a malformed query, envelope or event
/// (naming the field), [`Error::Signature`] when the signature, padding or appid fails or the
/// event's `AppId` is not ours.
pub fn parse_push(crypt: &MsgCrypt, query: &PushQuery, body: &[u8]) -> Result<ComponentPush> {
    if body.len() > MAX_BODY_BYTES {
        return Err(validation(
            "body",
            format!(
                "a push is at most {MAX_BODY_BYTES} bytes; got {} (refused before parsing)",
                body.len()
            ),
        ));
    }
    let text = std::str::from_utf8(body).map_err(|_| validation("body", "must be UTF-8 XML"))?;
    let envelope = xml_fields(text, "body")?;
    let encrypt = envelope
        .get("Encrypt")
        .ok_or_else(|| validation("Encrypt", "the push envelope has no <Encrypt> element"))?;
    let plain = crypt
        .decrypt(
            &query.msg_signature,
            &query.timestamp,
            &query.nonce,
            encrypt,
        )
        .map_err(|e| match (e, envelope.get("AppId")) {
            (Error::Signature { detail }, Some(app)) if app != crypt.appid() => Error::Signature {
                detail: format!(
                    "{detail} (the envelope's AppId is {:?}, not ours, {})",
                    truncated(app),
                    crypt.appid()
                ),
            },
            (e, _) => e,
        })?;
    let plain = zeroize::Zeroizing::new(plain);
    let mut fields = xml_fields(&plain, "decrypted push")?;
    let app_id = required(&mut fields, "AppId")?;
    if app_id != crypt.appid() {
        return Err(Error::Signature {
            detail: format!(
                "the push's AppId {:?} is not ours ({}): it was meant for another third-party platform",
                truncated(&app_id),
                crypt.appid()
            ),
        });
    }
    let create_time = integer(&mut fields, "CreateTime")?.ok_or_else(|| missing("CreateTime"))?;
    let info_type = required(&mut fields, "InfoType")?;
    Ok(match info_type.as_str() {
        "component_verify_ticket" => ComponentPush::VerifyTicket {
            app_id,
            create_time,
            ticket: SecretString::new(required(&mut fields, "ComponentVerifyTicket")?),
        },
        "authorized" | "updateauthorized" | "unauthorized" => {
            let event = AuthorizationEvent {
                app_id,
                create_time,
                authorizer_appid: required(&mut fields, "AuthorizerAppid")?,
                authorization_code: fields
                    .remove("AuthorizationCode")
                    .filter(|c| !c.is_empty())
                    .map(SecretString::new),
                authorization_code_expired_time: integer(
                    &mut fields,
                    "AuthorizationCodeExpiredTime",
                )?,
                pre_auth_code: fields.remove("PreAuthCode").filter(|c| !c.is_empty()),
            };
            match info_type.as_str() {
                "authorized" => ComponentPush::Authorized(event),
                "updateauthorized" => ComponentPush::UpdateAuthorized(event),
                _ => ComponentPush::Unauthorized(event),
            }
        }
        _ => ComponentPush::Other {
            info_type,
            app_id,
            create_time,
        },
    })
}

fn missing(field: &str) -> Error {
    validation(field, "missing from the decrypted push")
}

fn required(fields: &mut BTreeMap<String, String>, name: &str) -> Result<String> {
    fields
        .remove(name)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| missing(name))
}

fn integer(fields: &mut BTreeMap<String, String>, name: &str) -> Result<Option<i64>> {
    match fields.remove(name) {
        None => Ok(None),
        Some(v) => v.trim().parse().map(Some).map_err(|_| {
            validation(
                name,
                format!("must be an integer (Unix seconds); got {:?}", truncated(&v)),
            )
        }),
    }
}

/// The text of each direct child of the root element `<xml>` (CDATA and text, entity and
/// character references resolved, concatenated). Deeper elements are skipped; a child named
/// twice, another root, a DOCTYPE or malformed XML is an [`Error::Validation`] of `what`.
fn xml_fields(text: &str, what: &str) -> Result<BTreeMap<String, String>> {
    let malformed = |why: String| validation(what, format!("must be an <xml> document: {why}"));
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut fields = BTreeMap::new();
    // Depth 0: outside the root; 1: in <xml>; 2: in a field; deeper: skipped.
    let mut depth = 0usize;
    let mut root_seen = false;
    let mut current: Option<(String, String)> = None;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| malformed(format!("{e} at byte {}", reader.error_position())))?;
        match event {
            Event::Start(start) => {
                let name = String::from_utf8_lossy(start.name().as_ref()).into_owned();
                match depth {
                    0 if root_seen => return Err(malformed("a second root element".into())),
                    0 if name != "xml" => {
                        return Err(malformed(format!(
                            "the root element is <{}>",
                            truncated(&name)
                        )))
                    }
                    0 => root_seen = true,
                    1 => current = Some((name, String::new())),
                    _ => {}
                }
                depth += 1;
            }
            Event::Empty(start) => {
                let name = String::from_utf8_lossy(start.name().as_ref()).into_owned();
                match depth {
                    0 => return Err(malformed("the root element is empty".into())),
                    1 => insert(&mut fields, name, String::new(), what)?,
                    _ => {}
                }
            }
            Event::End(_) => {
                depth -= 1;
                if depth == 1 {
                    if let Some((name, value)) = current.take() {
                        insert(&mut fields, name, value, what)?;
                    }
                }
            }
            Event::Text(t) if depth == 2 => {
                let s = t.decode().map_err(|e| malformed(e.to_string()))?;
                push_text(&mut current, &s);
            }
            Event::CData(t) if depth == 2 => {
                let s = t.decode().map_err(|e| malformed(e.to_string()))?;
                push_text(&mut current, &s);
            }
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref().map_err(|e| malformed(e.to_string()))? {
                    Some(c) => c,
                    None => match r.decode().map_err(|e| malformed(e.to_string()))?.as_ref() {
                        "lt" => '<',
                        "gt" => '>',
                        "amp" => '&',
                        "apos" => '\'',
                        "quot" => '"',
                        other => {
                            return Err(malformed(format!("unknown entity &{};", truncated(other))))
                        }
                    },
                };
                if depth == 2 {
                    push_text(&mut current, resolved.encode_utf8(&mut [0; 4]));
                }
            }
            Event::Text(t) if depth < 2 => {
                let s = t.decode().map_err(|e| malformed(e.to_string()))?;
                if !s.trim().is_empty() {
                    return Err(malformed("text outside the fields".into()));
                }
            }
            Event::CData(_) if depth < 2 => {
                return Err(malformed("text outside the fields".into()));
            }
            Event::DocType(_) => return Err(malformed("a DOCTYPE is not allowed".into())),
            Event::Eof => break,
            // Comments, processing instructions, the declaration; text deeper than a field.
            _ => {}
        }
    }
    if !root_seen || depth != 0 {
        return Err(malformed("no complete <xml> root element".into()));
    }
    Ok(fields)
}

fn push_text(current: &mut Option<(String, String)>, text: &str) {
    if let Some((_, value)) = current {
        value.push_str(text);
    }
}

fn insert(
    fields: &mut BTreeMap<String, String>,
    name: String,
    value: String,
    what: &str,
) -> Result<()> {
    if fields.contains_key(&name) {
        return Err(validation(
            &name,
            format!("appears twice in the {what}: ambiguous"),
        ));
    }
    fields.insert(name, value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_fields_reads_cdata_text_and_references() {
        let f = xml_fields(
            "<?xml version=\"1.0\"?><xml><A><![CDATA[x<y]]></A><B> a&amp;b&#x41; </B><C/><D><E>skip</E>t</D></xml>",
            "body",
        )
        .unwrap();
        assert_eq!(f["A"], "x<y");
        assert_eq!(f["B"], " a&bA ");
        assert_eq!(f["C"], "");
        assert_eq!(f["D"], "t");
    }

    #[test]
    fn xml_fields_refuses_what_is_not_one_xml_root() {
        for bad in [
            "",
            "<root><A>1</A></root>",
            "<xml><A>1</A></xml><xml/>",
            "<xml><A>1</B></xml>",
            "<xml><A>1</A>",
            "<!DOCTYPE x [<!ENTITY e \"boom\">]><xml><A>&e;</A></xml>",
            "<xml><A>&e;</A></xml>",
            "text<xml/>",
        ] {
            match xml_fields(bad, "body") {
                Err(Error::Validation { field, .. }) => assert_eq!(field, "body", "{bad}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
        match xml_fields("<xml><A>1</A><A>2</A></xml>", "body") {
            Err(Error::Validation { field, .. }) => assert_eq!(field, "A"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn query_parsing_decodes_and_names_what_is_missing() {
        let q = PushQuery::parse(
            "?signature=s&timestamp=1&nonce=a%2Bb+c&encrypt_type=aes&msg_signature=m",
        )
        .unwrap();
        assert_eq!(q.nonce, "a+b c");
        assert_eq!(q.msg_signature, "m");
        match PushQuery::parse("timestamp=1&nonce=2&encrypt_type=aes") {
            Err(Error::Validation { field, .. }) => assert_eq!(field, "msg_signature"),
            other => panic!("{other:?}"),
        }
        match PushQuery::from_pairs([
            ("timestamp", "1"),
            ("nonce", "2"),
            ("msg_signature", "m"),
            ("encrypt_type", "raw"),
        ]) {
            Err(Error::Validation { field, rule }) => {
                assert_eq!(field, "encrypt_type");
                assert!(rule.contains("aes"), "{rule}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_body_over_the_cap_is_refused_before_parsing() {
        let crypt =
            MsgCrypt::new("t", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "wx1").unwrap();
        let q = PushQuery::parse("timestamp=1&nonce=2&encrypt_type=aes&msg_signature=m").unwrap();
        let body = vec![b'<'; MAX_BODY_BYTES + 1];
        match parse_push(&crypt, &q, &body) {
            Err(Error::Validation { field, rule }) => {
                assert_eq!(field, "body");
                assert!(rule.contains("65536"), "{rule}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn debug_of_an_event_redacts_the_code_and_the_ticket() {
        let event = AuthorizationEvent {
            app_id: "wx1".into(),
            create_time: 1,
            authorizer_appid: "wx2".into(),
            authorization_code: Some(SecretString::new("code-secret")),
            authorization_code_expired_time: Some(2),
            pre_auth_code: None,
        };
        assert!(!format!("{event:?}").contains("code-secret"));
        let ticket = ComponentPush::VerifyTicket {
            app_id: "wx1".into(),
            create_time: 1,
            ticket: SecretString::new("ticket-secret"),
        };
        assert!(!format!("{ticket:?}").contains("ticket-secret"));
        assert!(!ticket.to_json().to_string().contains("ticket-secret"));
        assert_eq!(ticket.to_json()["ticket_received"], true);
    }
}
