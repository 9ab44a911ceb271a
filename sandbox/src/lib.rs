//! weixin-kit-sandbox: a local WeChat server that speaks the real protocol (WeChat Pay APIv3
//! signatures, mini-program tokens), for every language's integration tests and the demo.
//!
//! The server itself is built in the sandbox issue; this crate holds its place in the workspace.
