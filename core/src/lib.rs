//! weixin-kit: WeChat Pay APIv3 and mini-program server APIs.
//!
//! The per-operation surface (types, request building, validation, response decoding) is
//! generated from `spec/` into [`generated`] by `cargo xtask codegen`; the hand-written modules
//! here are the runtime it stands on.

pub mod bridge;
pub mod component;
pub mod crypto;
pub mod dispatch;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
#[rustfmt::skip]
pub mod generated;
pub mod http;
pub mod mp;
pub mod operation;
pub mod pay;
pub mod replay;
pub mod secret;
pub mod time;
pub mod validate;

pub use error::{ApiError, Error, MiniProgramError, Result};
pub use secret::{SecretJson, SecretString};

/// A boxed, `Send` future: what the object-safe callback traits return
/// ([`pay::Signer`], [`mp::TokenProvider`], [`mp::TokenStore`]).
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;
