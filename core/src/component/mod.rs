//! WeChat Open Platform third-party platforms (第三方平台, the open platform's "component"):
//! calling the APIs of merchants' mini-programs on their behalf, with
//! `authorizer_access_token`s obtained through the platform's own credentials.
//!
//! - the generated types and operations (getComponentAccessToken, queryAuth,
//!   getAuthorizerAccessToken and the authorization-event push), from the `component` tag of
//!   `spec/miniprogram.json` (`x-weixin-client: "component"`);
//! - [`msg_crypt`]: the message encryption of what the open platform pushes (WXBizMsgCrypt);
//! - [`push`]: the typed pushes (verify tickets and authorization changes);
//! - [`tokens`]: the credential chain over the token store — verify ticket, component token,
//!   authorizer access and refresh tokens — with the HTTP calls behind [`tokens::ComponentApi`];
//! - [`client`]: [`ComponentClient`] (built by [`ComponentClientBuilder`]), which runs the
//!   component operations with the component_access_token, the chain over its HTTP layer,
//!   parses pushes, and hands out a [`crate::mp::MiniProgramClient`] per authorizer.

pub use crate::generated::component::*;

mod builder;
pub mod client;
pub mod msg_crypt;
pub mod push;
pub mod tokens;

pub use builder::ComponentClientBuilder;
pub use client::ComponentClient;
pub use push::{AuthorizationEvent, ComponentPush};
pub use tokens::{
    Authorization, ComponentApi, ComponentTokens, QueriedAuthorization, RefreshedAuthorizerToken,
};
