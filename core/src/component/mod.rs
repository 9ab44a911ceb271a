//! WeChat Open Platform third-party platforms (第三方平台): the generated types and operations
//! (getComponentAccessToken, queryAuth, getAuthorizerAccessToken and the authorization-event
//! push), from the `component` tag of `spec/miniprogram.json` (`x-weixin-client: "component"`).

pub use crate::generated::component::*;
