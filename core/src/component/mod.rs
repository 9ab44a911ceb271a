//! Third-party platforms (第三方平台): calling the APIs of merchants' mini-programs on their
//! behalf, with `authorizer_access_token`s obtained through the platform's own credentials.
//!
//! - [`tokens`]: the credential chain over the token store — verify ticket, component token,
//!   authorizer access and refresh tokens — with the HTTP calls behind [`tokens::ComponentApi`].

pub mod tokens;

pub use tokens::{
    Authorization, ComponentApi, ComponentTokens, QueriedAuthorization, RefreshedAuthorizerToken,
};
