//! 卡券签名 and the `cardList` items of `wx.addCard`.
//!
//! The signature is the SHA1 hex digest of the values of `api_ticket` (the card api_ticket, type
//! `wx_card`), `timestamp`, `card_id`, `code`, `openid` and `nonce_str`, sorted as strings in
//! lexicographic (byte) order and concatenated; absent values are left out. `cardExt` must carry
//! the same `timestamp` and `nonce_str` that were signed; `card_id` is signed but travels in
//! `cardList[].cardId`, not inside `cardExt`.

use crate::mp::{AddCardListItem, CardExt, CardExtArgs};
use crate::time::unix_now;
use crate::validate::Validate;
use crate::{Error, Result};

/// 卡券签名: SHA1 hex (lower case) of the sorted, concatenated values present.
///
/// A pure function for callers who hold their own api_ticket. `timestamp` is signed in its
/// decimal form (`1404896688`); an empty `nonce_str` contributes nothing, exactly as if absent.
pub fn sign_card_ext(
    api_ticket: &str,
    card_id: &str,
    timestamp: i64,
    nonce_str: &str,
    code: Option<&str>,
    openid: Option<&str>,
) -> String {
    let timestamp = timestamp.to_string();
    let mut values: Vec<&str> = vec![api_ticket, card_id, &timestamp, nonce_str];
    values.extend(code);
    values.extend(openid);
    values.sort_unstable();
    hex::encode(crate::crypto::sha1(values.concat().as_bytes()))
}

/// The rule for a `nonce_str` the caller chooses: 1 to 32 ASCII letters and digits. Document 03
/// (wx.addCard, cardExt table) says nonce_str is signed, 不长于 32 位, 推荐使用大小写字母和数字, and
/// that leaving it out allows the request to be replayed (若不填写可能被重放请求); an empty one
/// signs exactly like an absent one, so it is refused, as is anything but letters and digits.
pub fn check_nonce_str(nonce_str: &str) -> Result<()> {
    if nonce_str.is_empty()
        || nonce_str.len() > 32
        || !nonce_str.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return Err(Error::validation(
            "cardExt.nonce_str",
            "must be 1 to 32 ASCII letters and digits (an empty nonce_str signs like an absent \
             one, which can be replayed)",
        ));
    }
    Ok(())
}

/// Builds one element of `wx.addCard`'s `cardList`: `{cardId, cardExt}` with `cardExt` the JSON
/// string of a signed [`CardExt`].
///
/// The timestamp defaults to now and the nonce to 32 random alphanumerics (a new one for every
/// add request, as the documents require: a repeated nonce makes the claim fail).
#[derive(Clone, Debug, Default)]
pub struct CardExtBuilder {
    card_id: String,
    timestamp: Option<i64>,
    nonce_str: Option<String>,
    code: Option<String>,
    openid: Option<String>,
    fixed_begintimestamp: Option<i64>,
    outer_str: Option<String>,
}

impl CardExtBuilder {
    pub fn new(card_id: impl Into<String>) -> Self {
        CardExtBuilder {
            card_id: card_id.into(),
            ..Default::default()
        }
    }

    /// Unix seconds, positive; signed. Default: the current time.
    pub fn timestamp(mut self, timestamp: i64) -> Self {
        self.timestamp = Some(timestamp);
        self
    }

    /// 1–32 ASCII letters and digits ([`check_nonce_str`]); signed. Default: 32 random
    /// alphanumerics from the OS CSPRNG.
    pub fn nonce_str(mut self, nonce_str: impl Into<String>) -> Self {
        self.nonce_str = Some(nonce_str.into());
        self
    }

    /// The code to issue (custom-code cards only); signed.
    pub fn code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    /// The only user who may claim the card (cards with `bind_openid` true); signed.
    pub fn openid(mut self, openid: impl Into<String>) -> Self {
        self.openid = Some(openid.into());
        self
    }

    /// Actual claim time in the merchant system (DATE_TYPE_FIX_TERM cards); not signed.
    pub fn fixed_begintimestamp(mut self, fixed_begintimestamp: i64) -> Self {
        self.fixed_begintimestamp = Some(fixed_begintimestamp);
        self
    }

    /// Channel marker for this claim; not signed.
    pub fn outer_str(mut self, outer_str: impl Into<String>) -> Self {
        self.outer_str = Some(outer_str.into());
        self
    }

    /// The signed [`CardExt`] (validated), for callers who want the structure itself.
    pub fn build_card_ext(&self, api_ticket: &str) -> Result<CardExt> {
        if api_ticket.is_empty() {
            return Err(Error::validation(
                "api_ticket",
                "is required and must not be empty (the card api_ticket, type wx_card)",
            ));
        }
        crate::validate::not_empty("", "cardId", &self.card_id)?;
        if let Some(code) = &self.code {
            crate::validate::not_empty("cardExt", "code", code)?;
        }
        if let Some(openid) = &self.openid {
            crate::validate::not_empty("cardExt", "openid", openid)?;
        }
        let timestamp = self.timestamp.unwrap_or_else(unix_now);
        if timestamp <= 0 {
            return Err(Error::validation(
                "cardExt.timestamp",
                "must be a positive number of Unix seconds",
            ));
        }
        let nonce_str = match &self.nonce_str {
            Some(nonce) => {
                check_nonce_str(nonce)?;
                nonce.clone()
            }
            None => crate::crypto::nonce(),
        };
        let signature = sign_card_ext(
            api_ticket,
            &self.card_id,
            timestamp,
            &nonce_str,
            self.code.as_deref(),
            self.openid.as_deref(),
        );
        let ext = CardExt {
            code: self.code.clone(),
            fixed_begintimestamp: self.fixed_begintimestamp,
            nonce_str: Some(nonce_str),
            openid: self.openid.clone(),
            outer_str: self.outer_str.clone(),
            signature,
            // A string, as the JS-SDK appendix and wechatpy send it (the spec's CardExt).
            timestamp: timestamp.to_string(),
        };
        ext.validate_at("cardExt")?;
        Ok(ext)
    }

    /// The `cardList` element: `cardId` plus `cardExt` serialized to its JSON string.
    pub fn build(&self, api_ticket: &str) -> Result<AddCardListItem> {
        let ext = self.build_card_ext(api_ticket)?;
        let card_ext = serde_json::to_string(&ext).map_err(|e| Error::Config {
            detail: format!("cannot serialize cardExt: {e}"),
        })?;
        let item = AddCardListItem {
            card_id: self.card_id.clone(),
            card_ext,
        };
        item.validate()?;
        Ok(item)
    }
}

/// The simplest `cardList` element: `card_id` signed with `api_ticket`, now, and a fresh nonce.
/// Use [`CardExtBuilder`] for code, openid, fixed_begintimestamp or outer_str.
pub fn card_ext(api_ticket: &str, card_id: &str) -> Result<AddCardListItem> {
    CardExtBuilder::new(card_id).build(api_ticket)
}

/// The local operation's arguments (spec `cardExt`) as a builder. Destructured exhaustively: a
/// parameter added to the spec does not compile until it is handled here.
impl From<CardExtArgs> for CardExtBuilder {
    fn from(args: CardExtArgs) -> Self {
        let CardExtArgs {
            card_id,
            openid,
            code,
            outer_str,
            fixed_begintimestamp,
        } = args;
        let mut builder = CardExtBuilder::new(card_id);
        if let Some(openid) = openid {
            builder = builder.openid(openid);
        }
        if let Some(code) = code {
            builder = builder.code(code);
        }
        if let Some(outer_str) = outer_str {
            builder = builder.outer_str(outer_str);
        }
        if let Some(at) = fixed_begintimestamp {
            builder = builder.fixed_begintimestamp(at);
        }
        builder
    }
}
