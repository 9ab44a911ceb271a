//! The `weixin-kit` binary run as a user runs it: a real process, real files, the real sandbox
//! (started by `weixin-kit sandbox`), vectors from spec/vectors/ (made with Python cryptography
//! and openssl, not by this code) and the openssl CLI.

mod offline;
mod sandbox;
mod support;
