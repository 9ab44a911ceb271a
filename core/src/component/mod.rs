//! Third-party platforms (第三方平台, the WeChat open platform's "component"): the generated
//! types and operations (getComponentAccessToken, queryAuth, getAuthorizerAccessToken and the
//! authorization-event push, from the `component` tag of `spec/miniprogram.json`), the message
//! encryption of what the open platform pushes ([`msg_crypt`]) and the typed pushes themselves
//! ([`push`]: verify tickets and authorization changes).

pub mod msg_crypt;
pub mod push;

pub use crate::generated::component::*;
