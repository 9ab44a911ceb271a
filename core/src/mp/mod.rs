//! WeChat mini-program server APIs: the generated types and operations (tokens, 服务卡片, 卡券)
//! plus the hand-written pieces they need.
//!
//! - [`card`]: the 卡券签名 ([`card::sign_card_ext`], pure) and [`card::CardExtBuilder`], which
//!   returns `wx.addCard`'s `cardList` item ([`AddCardListItem`]) with a signed `cardExt`.
//! - [`ext_json`]: [`ext_json::ExtJson`], setUserNotifyExt's `ext_json` from a raw string or a
//!   structured value, with the nested JSON-in-JSON encoding the documents show.
//! - [`token`]: [`token::TokenManager`] over a [`token::TokenStore`] ([`token::MemoryStore`] by
//!   default, `token::RedisStore` for many instances with the `redis` cargo feature), and
//!   [`token::TokenProvider`] for tokens supplied from elsewhere.
//! - [`errors`]: the errcode answers — [`crate::Error::MiniProgram`] with the documented
//!   solution, the errcodes the client acts on, which answers are retried.
//! - [`client`]: [`MiniProgramClient`], which fits them together, built by
//!   [`MiniProgramClientBuilder`].
//!
//! # How the client fits them together
//! [`MiniProgramClient`] implements [`crate::operation::Execute`] over the shared HTTP layer
//! (`crate::http`), so the generated [`Operations`] (`client.service_card().set_user_notify_ext(..)`,
//! `client.card().decrypt_card_code(..)`) run on it. It holds:
//! - an `Arc<dyn TokenProvider>`: by default a [`token::TokenManager`] at
//!   [`token::keys::access_token`]`(appid)` whose fetch calls `getStableAccessToken`
//!   (or `getAccessToken` when [`TokenEndpoint::Token`] is selected) through the client's own
//!   execute path; or a provider the caller supplies;
//! - a second [`token::TokenManager`] over the same store at
//!   [`token::keys::ticket`]`(appid, "wx_card")` whose fetch calls `getTicket(wx_card)` with an
//!   access token from the first: the card api_ticket that [`card::CardExtBuilder::build`] signs
//!   with ([`MiniProgramClient::card_ext`]).
//!
//! Every access-token call adds `access_token` to the query; on errcode 40001/42001/40014 the
//! client calls [`token::TokenProvider::invalidate`] with the token it sent (compare-and-expire),
//! gets a token again and retries once — never more; a second failure is returned as a typed
//! [`crate::Error::MiniProgram`]. See [`client`] for the retry rules.

pub use crate::generated::mp::*;

mod builder;
pub mod card;
pub mod client;
pub mod errors;
pub mod ext_json;
pub mod token;

pub use builder::MiniProgramClientBuilder;
pub use card::{card_ext, sign_card_ext, CardExtBuilder};
pub use client::{
    IntoExtJson, MiniProgramClient, RetryPolicy, TokenEndpoint, NOTIFY_CODE_RETRY_AFTER,
};
pub use ext_json::ExtJson;
#[cfg(feature = "redis")]
pub use token::RedisStore;
pub use token::{
    Clock, FixedToken, LockToken, MemoryStore, StoredToken, TokenConfig, TokenManager,
    TokenProvider, TokenStore,
};
