//! Third-party platforms (第三方平台, the WeChat open platform's "component"): the message
//! encryption of what the open platform pushes ([`msg_crypt`]) and the typed pushes themselves
//! ([`push`]: verify tickets and authorization changes).

pub mod msg_crypt;
pub mod push;
