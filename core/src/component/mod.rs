//! WeChat Open Platform third-party platforms (第三方平台): calling the APIs of merchants'
//! mini-programs on their behalf, with `authorizer_access_token`s obtained through the
//! platform's own credentials.
//!
//! - the generated types and operations (getComponentAccessToken, queryAuth,
//!   getAuthorizerAccessToken and the authorization-event push), from the `component` tag of
//!   `spec/miniprogram.json` (`x-weixin-client: "component"`);
//! - [`tokens`]: the credential chain over the token store — verify ticket, component token,
//!   authorizer access and refresh tokens — with the HTTP calls behind [`tokens::ComponentApi`].

pub use crate::generated::component::*;

pub mod tokens;

pub use tokens::{
    Authorization, ComponentApi, ComponentTokens, QueriedAuthorization, RefreshedAuthorizerToken,
};
